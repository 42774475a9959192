/* SPDX-License-Identifier: MIT */
/*
 * index/ internal: the pieces of idx_build(). A compressed source (bsrc)
 * that hashes what it reads, a span builder (spanb) that takes the
 * uncompressed stream and the checkpoint opportunities a decompressor
 * reports, and one driver per compression (gzidx.c, zstdidx.c, build.c).
 * One builder per thread.
 */
#ifndef INDEX_BUILD_INT_H
#define INDEX_BUILD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/dbuf.h"
#include "common/digest.h"
#include "index/index.h"
#include "index/layer_int.h"

#define BSRC_CHUNK (256u << 10)

/* The compressed blob, read sequentially and hashed on the way. */
struct bsrc {
	idx_stream_fn read;
	void *ctx;
	struct digest_ctx *sha;
	uint8_t *buf;     /* BSRC_CHUNK bytes */
	size_t len;       /* valid bytes in buf */
	uint64_t buf_off; /* blob offset of buf[0] */
	uint64_t total;   /* bytes read so far */
};

/*
 * Replace buf with the next chunk: the count, 0 at EOF, or -errno. The
 * bytes of the previous chunk are gone.
 */
ssize_t idx_bsrc_fill(struct bsrc *s);

/* Checkpoint being recorded (window held compressed until the cut lands). */
struct ckpt_b {
	uint64_t c_off, u_off;
	uint8_t kind, bits;
	uint32_t win_len;
	uint64_t win_pos;  /* offset in spanb.windows */
	uint32_t win_clen;
};

struct span_b {
	uint64_t u_start, u_len, c_end;
	uint32_t ckpt, flags;
	uint8_t sha[DIGEST_SHA256_LEN];
};

struct tar_parser;
struct tar_entry;

/* Per-file content digests (build_fsum.c, idx_build_opts.on_file). */
struct fsum {
	idx_file_sum_fn fn;
	void *ctx;
	struct digest_ctx *sha;
	bool open;               /* a file's data is being hashed */
	char *path;
	uint64_t size;           /* apparent size */
	uint64_t hashed_to, end; /* stream offsets: hashed so far, end of its stored data */
	uint64_t apparent;       /* apparent offset reached (holes included) */
	struct idx_extent *ext;  /* sparse: its extents */
	uint32_t n_ext, ei;
	uint64_t in_ext;         /* bytes of extent ei done */
	const uint8_t *chunk;    /* the chunk being fed to the tar parser */
	size_t chunk_len;
	uint64_t chunk_off;
};

int idx_fsum_init(struct fsum *f, idx_file_sum_fn fn, void *ctx);
void idx_fsum_release(struct fsum *f);
/* Around each idx_tar_parser_feed(): the chunk @p of @n bytes at stream offset @u_off. */
void idx_fsum_chunk(struct fsum *f, const void *p, size_t n, uint64_t u_off);
int idx_fsum_chunk_end(struct fsum *f);
/* A member was reported (from inside the feed). */
int idx_fsum_entry(struct fsum *f, const struct tar_entry *e);

struct spanb {
	uint64_t span_size;
	uint64_t hard_max;       /* cut without a checkpoint past this span length */
	uint64_t u_pos;          /* uncompressed bytes so far */
	struct digest_ctx *diff_sha, *span_sha;
	struct tar_parser *tar;  /* borrowed */
	struct fsum *fsum;       /* borrowed, or NULL */
	bool open;               /* a span is being filled */
	struct span_b cur;
	bool pending;            /* a cut waits for the next byte */
	bool pending_ck;         /* ... with a new checkpoint (else the current one) */
	struct ckpt_b pck;
	uint64_t pending_c_end;
	uint32_t pending_flags;
	uint8_t *pwin;           /* compressed window of the pending checkpoint */
	size_t pwin_cap;
	void *cctx;              /* ZSTD_CCtx for windows */
	struct ckpt_b *ckpts;
	uint32_t n_ckpts, cap_ckpts;
	struct span_b *spans;
	uint32_t n_spans, cap_spans;
	struct dbuf windows;
};

int idx_spanb_init(struct spanb *sb, uint64_t span_size, uint64_t hard_max, struct tar_parser *tar);
void idx_spanb_release(struct spanb *sb);
/* The first checkpoint (offset 0). */
int idx_spanb_start(struct spanb *sb, uint8_t kind);
/* Uncompressed bytes, in order: hashes, tar parser, span accounting. */
int idx_spanb_data(struct spanb *sb, const void *p, size_t n);
/* Bytes that may still be produced before a cut is due. */
uint64_t idx_spanb_room(const struct spanb *sb);
/* Length of the open span (0 when a cut is pending or none is open). */
uint64_t idx_spanb_cur(const struct spanb *sb);
/*
 * Record a cut before the next byte: with a new checkpoint @kind at
 * (@c_off, bits, window) or, with kind < 0, a hard cut that keeps the
 * current checkpoint. @c_end ends the current span. Nothing happens if no
 * more data arrives.
 */
int idx_spanb_cut(struct spanb *sb, int kind, uint64_t c_off, uint8_t bits, const uint8_t *win,
	      uint32_t win_len, uint64_t c_end, uint32_t flags);
/* The stream is over; the open span ends at @c_end. */
int idx_spanb_finish(struct spanb *sb, uint64_t c_end, uint32_t flags);

struct bctx {
	struct bsrc src;
	struct spanb sb;
};

/* Drivers: src has its first chunk loaded; feed sb until EOF. */
int idx_gzidx_build(struct bctx *b);
int idx_zstdidx_build(struct bctx *b);
int idx_rawidx_build(struct bctx *b);

/* Turn the collected pieces into a payload (format.c). */
struct build_entries;
int idx_payload_write(const struct build_entries *be, const struct spanb *sb,
		      const struct idx_info *info, uint8_t **out, size_t *len);

#endif
