/* SPDX-License-Identifier: MIT */
/*
 * index/ internal: SOCI's gzip "zinfo" (the checkpoints blob of a zTOC)
 * and the rest of the zTOC conversion (index/soci.c). Formats:
 * docs/formats.md, "SOCI".
 */
#ifndef INDEX_SOCI_INT_H
#define INDEX_SOCI_INT_H

#include <stddef.h>
#include <stdint.h>

/* One zran access point as SOCI serializes it: in, out, bits, 32 KiB window. */
#define SOCI_ZINFO_WINDOW 32768u
#define SOCI_ZINFO_HDR 12u                          /* i32 count, i64 span size */
#define SOCI_ZINFO_CKPT (8u + 8u + 1u + SOCI_ZINFO_WINDOW)
/* zinfo v1 omits checkpoint 0 and means "after a 10-byte gzip header". */
#define SOCI_ZINFO_V1_FIRST_IN 10u

struct soci_ckpt {
	uint64_t in;   /* first whole compressed byte */
	uint64_t out;  /* uncompressed offset */
	uint8_t bits;  /* bits of byte in-1 still to decode (0-7) */
	const uint8_t *window; /* SOCI_ZINFO_WINDOW bytes in the blob; NULL: zeros (v1's first) */
};

struct soci_zinfo {
	uint32_t n;            /* checkpoints = SOCI spans */
	uint32_t n_used;       /* those that start inside the archive (out < u_size): our spans */
	uint64_t span_size;
	struct soci_ckpt *ck;  /* malloc'd; windows borrowed from the blob */
};

/*
 * Parse a zinfo blob (v1 or v2, told apart by its size as SOCI does) and
 * check its checkpoints against the archive sizes: strictly increasing in
 * and out, inside the archives, bits 0-7, none before the first. At most
 * @max_n checkpoints. -EBADMSG, -EFBIG, -ENOMEM.
 */
int idx_soci_zinfo_parse(const uint8_t *blob, size_t len, uint64_t c_size, uint64_t u_size,
		     uint32_t max_n, struct soci_zinfo *out);
void idx_soci_zinfo_free(struct soci_zinfo *z);

/* SOCI's compressed range of span @i: [in - (bits ? 1 : 0), next in or c_size). */
uint64_t idx_soci_span_c_start(const struct soci_zinfo *z, uint32_t i);
uint64_t idx_soci_span_c_end(const struct soci_zinfo *z, uint32_t i, uint64_t c_size);

struct tocb;
struct idx_sfb_table;
/*
 * The entries of zTOC table TOC @toc (index/soci_entry.c) into @b: in tar
 * order, each inside the @u_size bytes of the archive.
 */
int idx_soci_entries(struct tocb *b, const struct idx_sfb_table *toc, uint64_t u_size);

#endif
