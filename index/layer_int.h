/* SPDX-License-Identifier: MIT */
/*
 * index/ internal: the in-memory form of a layer index (struct idx_layer),
 * its checkpoints and spans, and the serialized payload both idx_build()
 * and idx_load() go through (index/FORMAT.md). Only used inside index/.
 */
#ifndef INDEX_LAYER_INT_H
#define INDEX_LAYER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/le.h"
#include "index/index.h"

/* Envelope: "STRATIDX", major, minor (FORMAT.md). */
#define IDX_MAGIC "STRATIDX"
#define IDX_MAGIC_LEN 8
#define IDX_VERSION_MAJOR 2
#define IDX_VERSION_MINOR 0
/* 1.0 is 2.0 without sparse files: still loaded (and saved back as 1.0). */
#define IDX_VERSION_MAJOR_OLD 1
#define IDX_ENVELOPE_SIZE 64
/* zstd level of the payload and of each gzip window: deterministic per libzstd. */
#define IDX_ZSTD_LEVEL 9

/* Fixed record sizes of the payload tables (FORMAT.md). */
#define IDX_HDR_SIZE 144
#define IDX_ENTRY_SIZE 68
#define IDX_XATTR_SIZE 16
#define IDX_CKPT_SIZE 32
#define IDX_SPAN_SIZE 64
#define IDX_EXTENT_SIZE 24
#define IDX_NO_STRING UINT32_MAX

/* Deflate history needed to resume mid-stream. */
#define IDX_WINDOW_SIZE 32768u
#define IDX_MAX_CKPTS (16u << 20)
#define IDX_MAX_XATTRS_TOTAL (16u << 20)

/* Header flags. */
#define IDX_HF_SEQUENTIAL 0x01u
#define IDX_HF_VIRTUAL 0x02u /* foreign only: offsets are virtual (index/foreign.h) */

/* Entry flags (byte 1 of an entry). */
#define IDX_EF_SPARSE 0x01u

/* Span flags. */
#define IDX_SF_WHOLE_FRAMES 0x01u /* zstd: starts and ends on frame boundaries */
/*
 * sha is of the compressed bytes [c_start, c_end), checked before decoding
 * (SOCI's span digests); the decoded bytes are vouched for by that check
 * and by the checkpoint, both pinned by the index.
 */
#define IDX_SF_CSHA 0x02u

/* Where decoding may start. */
enum idx_ckpt_kind {
	IDX_CK_RAW = 0,      /* uncompressed tar: c_off == u_off */
	IDX_CK_GZ_MEMBER = 1, /* first byte of a gzip member header: no window */
	IDX_CK_GZ_BLOCK = 2, /* deflate block boundary inside a member: bits + window */
	IDX_CK_ZSTD_FRAME = 3, /* first byte of a zstd (or skippable) frame */
};

struct idx_ckpt {
	uint64_t c_off;       /* compressed offset of the first whole byte */
	uint64_t u_off;       /* uncompressed offset */
	uint8_t kind;         /* enum idx_ckpt_kind */
	uint8_t bits;         /* GZ_BLOCK: bits of byte c_off-1 still to decode (0-7) */
	uint32_t win_len;     /* GZ_BLOCK: uncompressed window bytes (<= 32 KiB) */
	uint32_t win_clen;    /* its zstd-compressed length in the window section */
	const uint8_t *win;   /* borrowed from the payload */
};

struct idx_span_rec {
	uint64_t u_start, u_len;
	uint64_t c_end;
	uint32_t ckpt;        /* decode starts there, skipping u_start - ckpt.u_off bytes */
	uint32_t flags;       /* IDX_SF_* */
	uint8_t sha[DIGEST_SHA256_LEN];
};

struct idx_layer {
	uint8_t *payload;     /* owned: the uncompressed payload; strings point into it */
	size_t payload_len;
	enum idx_comp comp;
	uint32_t hflags;
	uint64_t span_size;
	uint64_t blob_size, tar_size;
	uint8_t blob_digest[DIGEST_SHA256_LEN];
	uint8_t diff_id[DIGEST_SHA256_LEN];
	uint32_t n_entries, n_xattrs, n_ckpts, n_spans, n_prefetch;
	/*
	 * Entries are validated at load but decoded into entries[] the first
	 * time each is asked for (idx_entry_get(), under ent_lock, published by
	 * ready[id]): a mount reads few of them, and the untouched part of
	 * entries[] (calloc'd) is never paged in.
	 */
	struct idx_entry *entries;
	_Atomic uint8_t *ready;
	pthread_mutex_t ent_lock;
	const uint8_t *ent_raw;   /* the entry table in the payload */
	const char *str;          /* the string table */
	struct idx_xattr *xattrs;
	uint32_t *order;      /* entry ids sorted by (path, class) for idx_entry_find */
	struct idx_ckpt *ckpts;
	struct idx_span_rec *spans;
	uint16_t major;       /* of the envelope it was loaded from; saved back the same */
	uint32_t n_extents;
	struct idx_extent *extents; /* of sparse entries, tar_off computed at load */
	uint8_t foreign;      /* enum idx_foreign; 0: a stratafs index */
	uint64_t toc_len;     /* foreign: bytes of the TOC, what bounds its counts */
	bool has_toc_sha;     /* SOCI: toc_sha is the zTOC's (idx_info.toc_digest) */
	uint8_t toc_sha[DIGEST_SHA256_LEN];
};

/* Entry classes: a path may be a real entry, a whiteout and an opaque marker at once. */
static inline unsigned idx_entry_class(uint8_t type)
{
	return type == IDX_T_WHITEOUT ? 1 : type == IDX_T_OPAQUE ? 2 : 0;
}

/* Entry @id's record, type, path and link straight from the payload (validated at load). */
static inline const uint8_t *idx_raw(const struct idx_layer *l, uint32_t id)
{
	return l->ent_raw + (size_t)id * IDX_ENTRY_SIZE;
}

static inline uint8_t idx_raw_type(const struct idx_layer *l, uint32_t id)
{
	return idx_raw(l, id)[0];
}

static inline const char *idx_raw_path(const struct idx_layer *l, uint32_t id)
{
	return l->str + le32_get(idx_raw(l, id) + 56);
}

static inline const char *idx_raw_link(const struct idx_layer *l, uint32_t id)
{
	uint32_t off = le32_get(idx_raw(l, id) + 60);

	return off == IDX_NO_STRING ? NULL : l->str + off;
}

/* Decode entry @id of a validated payload into @e (load.c). */
void idx_entry_decode(const struct idx_layer *l, uint32_t id, struct idx_entry *e);
/* Entry @id decoded (done once, thread-safe): idx_entry_get() without the range check. */
struct idx_entry *idx_entry_fill(const struct idx_layer *l, uint32_t id);
/* Every entry decoded, under one lock: for who reads them all (the whole merge). */
void idx_entry_fill_all(const struct idx_layer *l);

/*
 * Validate a payload and build the in-memory layer on it. Takes ownership of
 * @payload (malloc'd) in every case. -EBADMSG, -EFBIG, -ENOMEM.
 */
int idx_payload_parse(uint8_t *payload, size_t len, struct idx_layer **out);

/*
 * The counts and section sizes of a payload header against what its layer
 * can hold (index/bounds.c, FORMAT.md "Bounds"): -EFBIG with one log line
 * when over, -EBADMSG when inconsistent. Needs only the header fields of
 * @l, already checked against the fixed ceilings (span size in range,
 * section sizes <= IDX_MAX_FILE_SIZE).
 */
int idx_check_bounds(const struct idx_layer *l, uint64_t str_size, uint64_t val_size,
		     uint64_t win_size);

/*
 * The first IDX_HDR_SIZE bytes of the zstd frame @z (@zlen bytes) into
 * @hdr, in memory bounded by one zstd block whatever the frame declares
 * (index/bounds.c). -EBADMSG if they do not decompress, -ENOMEM.
 */
int idx_payload_peek(const uint8_t *z, size_t zlen, uint8_t hdr[IDX_HDR_SIZE]);

/* Validate and load the checkpoint and span tables (index/layer.c). */
int idx_spans_parse(struct idx_layer *l, const uint8_t *ckp, const uint8_t *spn,
		    const uint8_t *win, uint64_t win_size);

/*
 * Validate and load the extent table of sparse entries (index/sparse.c):
 * @ext holds l->n_extents records; entries are parsed already.
 */
int idx_extents_parse(struct idx_layer *l, const uint8_t *ext);

/* Wrap a payload in the envelope, zstd-compressed (index/format.c). */
int idx_envelope_write(const uint8_t *payload, size_t len, uint16_t major, void **buf,
		       size_t *out_len);

/* The compressed byte where decoding of span @s starts. */
static inline uint64_t idx_span_c_start(const struct idx_layer *l, const struct idx_span_rec *s)
{
	const struct idx_ckpt *ck = &l->ckpts[s->ckpt];

	return ck->c_off - (ck->bits ? 1 : 0);
}

#endif
