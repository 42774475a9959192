/* SPDX-License-Identifier: MIT */
/*
 * Tables of contents other tools already put in a layer or beside it
 * (zstd:chunked, eStargz, SOCI zTOC), read as they are: each parser turns
 * its TOC into an ordinary in-memory struct idx_layer through the TOC
 * builder (index/toc_int.h), so the tree merge, FUSE, span fetch, decode,
 * verify and cache work on it unchanged. docs/formats.md describes what
 * is read, checked and refused for each format.
 *
 * Offset spaces: a SOCI zTOC gives real tar offsets (idx_info
 * .virtual_offsets false). zstd:chunked and eStargz give the compressed
 * offsets of file chunks but not their tar offsets: their layers use
 * virtual offsets, the chunks laid end to end in TOC order, which are not
 * tar offsets and must never be mixed with a stratafs index of the same
 * blob (span cache keys differ).
 *
 * A foreign layer is never serialized: idx_save() refuses it
 * (-EOPNOTSUPP) and idx_load() refuses a payload that says foreign
 * (index/FORMAT.md); the TOC itself is what gets cached.
 *
 * Errors: -EBADMSG for a malformed or lying TOC (logged once with the
 * reason), -EFBIG over a ceiling, -ENOTSUP for a version not read, -ENOMEM.
 */
#ifndef INDEX_FOREIGN_H
#define INDEX_FOREIGN_H

#include <stddef.h>
#include <stdint.h>

#include "index/index.h"

enum idx_foreign {
	IDX_FOREIGN_NONE = 0, /* a stratafs index (built or loaded) */
	IDX_FOREIGN_ZSTD_CHUNKED,
	IDX_FOREIGN_ESTARGZ,
	IDX_FOREIGN_SOCI,
};
#define IDX_FOREIGN_MAX IDX_FOREIGN_SOCI

/* "stratafs", "zstd:chunked", "estargz", "soci"; "?" out of range. */
const char *idx_foreign_name(enum idx_foreign f);

/* Ceiling of the (uncompressed) TOC bytes a parser accepts. */
#define IDX_MAX_TOC_SIZE (256u << 20)

/* Where the TOC lies in the blob, as a footer says. */
struct idx_toc_loc {
	uint64_t off, len, ulen; /* compressed offset and length, uncompressed length */
	unsigned type;           /* the format's own TOC type field (zstd:chunked) */
};

/* What the caller knows of the layer the TOC describes. */
struct idx_foreign_opts {
	const char *blob_digest; /* "sha256:<hex>" of the layer blob */
	uint64_t blob_size;
	const char *diff_id;     /* the config's, or NULL */
};

/*
 * The sha256 of regular-file entry @id of @l as a reader sees it (holes
 * as zeros): 0 or -errno (the comparison stops with it).
 */
typedef int (*idx_file_sha_fn)(void *ctx, const struct idx_layer *l, uint32_t id,
			       uint8_t sha[DIGEST_SHA256_LEN]);

/*
 * The whole-layer check of a foreign layer: hold @toc (read from a TOC)
 * against @tar (built from the layer's verified bytes) entry by entry:
 * path, type, mode, uid, gid, mtime seconds, size, link target, device
 * numbers, xattrs, and each regular file's content through @sha. The
 * differences are counted in *n_diff (the first ones logged). Returns 0
 * or the first error of @sha (then nothing is proven either way).
 */
int idx_layer_compare(const struct idx_layer *toc, const struct idx_layer *tar,
		      idx_file_sha_fn sha, void *ctx, unsigned *n_diff);

/* zstd:chunked (index/zchunked*.c) */
int idx_zchunked_footer(const void *tail, size_t n, uint64_t blob_size, struct idx_toc_loc *out);
int idx_zchunked_load(const void *toc, size_t n, const struct idx_foreign_opts *o,
		      struct idx_layer **out);
/* eStargz (index/estargz*.c) */
int idx_estargz_footer(const void *tail, size_t n, uint64_t blob_size, struct idx_toc_loc *out);
int idx_estargz_load(const void *toc, size_t n, const struct idx_foreign_opts *o,
		     struct idx_layer **out);
/* SOCI zTOC (index/soci*.c) */
int idx_soci_ztoc_load(const void *ztoc, size_t n, const struct idx_foreign_opts *o,
		       struct idx_layer **out);

#endif
