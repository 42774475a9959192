/* SPDX-License-Identifier: MIT */
/*
 * Build side of random access into zstd and plain tar.
 *
 * zstd frames are independent, so every frame start is a checkpoint that
 * needs nothing but its offset. ZSTD_decompressStream() returns 0 exactly
 * when a frame is decoded and flushed, with the input consumed up to the
 * frame's end (it reads block by block, never past), which is where the
 * next frame (or skippable frame) starts. Small frames are grouped into
 * spans of at least span_size/2, and a frame bigger than span_size is cut
 * into span_size pieces that decode from the frame start: a layer made of a
 * single frame is thus sequential only, but still verified span by span.
 * Windows up to 2 GiB (zstd --long=31) are accepted.
 *
 * Plain tar: spans are span_size slices, each its own checkpoint.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "common/log.h"
#include "common/xmath.h"
#include "index/build_int.h"

#define OUT_CHUNK (256u << 10)

struct zsb {
	struct bctx *b;
	ZSTD_DCtx *d;
	ZSTD_inBuffer in;
	uint8_t *obuf;
	size_t ret;           /* last ZSTD_decompressStream() result: 0 = between frames */
	bool out_full;        /* the last call filled the output: more may be buffered */
	uint64_t u_frame_end; /* u_pos at the last frame end */
	uint64_t c_data_end;  /* end of the last frame that produced output */
};

static uint64_t zpos(const struct zsb *z)
{
	return z->b->src.buf_off + z->in.pos;
}

static int zerr(size_t ret)
{
	if (ZSTD_getErrorCode(ret) == ZSTD_error_memory_allocation)
		return -ENOMEM;
	log_err("corrupt zstd stream: %s", ZSTD_getErrorName(ret));
	return -EBADMSG;
}

static int frame_end(struct zsb *z)
{
	struct spanb *sb = &z->b->sb;

	if (sb->u_pos > z->u_frame_end)
		z->c_data_end = zpos(z);
	z->u_frame_end = sb->u_pos;
	if (idx_spanb_cur(sb) < sb->span_size / 2)
		return 0;
	return idx_spanb_cut(sb, IDX_CK_ZSTD_FRAME, zpos(z), 0, NULL, 0, zpos(z), IDX_SF_WHOLE_FRAMES);
}

static int zstep(struct zsb *z)
{
	struct spanb *sb = &z->b->sb;
	ZSTD_outBuffer out = { z->obuf, XMIN((uint64_t)OUT_CHUNK, idx_spanb_room(sb)), 0 };
	int r;

	z->ret = ZSTD_decompressStream(z->d, &out, &z->in);
	if (ZSTD_isError(z->ret))
		return zerr(z->ret);
	/* A finished frame has flushed everything: only mid-frame can output be held back. */
	z->out_full = z->ret != 0 && out.pos == out.size;
	r = idx_spanb_data(sb, z->obuf, out.pos);
	if (r < 0)
		return r;
	if (z->ret == 0)
		return frame_end(z);
	/*
	 * Mid-frame, zstd may hold back the frame's last input byte until its
	 * output is flushed: one more byte keeps c_end sufficient (clamped to
	 * the blob size at the end).
	 */
	if (idx_spanb_room(sb) == 0)
		return idx_spanb_cut(sb, -1, 0, 0, NULL, 0, zpos(z) + 1, 0);
	return 0;
}

int idx_zstdidx_build(struct bctx *b)
{
	struct zsb z = { .b = b, .ret = 1 };
	ssize_t n;
	int r = -ENOMEM;

	z.d = ZSTD_createDCtx();
	z.obuf = malloc(OUT_CHUNK);
	if (!z.d || !z.obuf)
		goto out_free;
	if (ZSTD_isError(ZSTD_DCtx_setParameter(z.d, ZSTD_d_windowLogMax, 31))) {
		r = -EIO;
		goto out_free;
	}
	z.in = (ZSTD_inBuffer){ b->src.buf, b->src.len, 0 };
	r = idx_spanb_start(&b->sb, IDX_CK_ZSTD_FRAME);
	while (r == 0) {
		if (z.in.pos == z.in.size && !z.out_full) {
			n = idx_bsrc_fill(&b->src);
			if (n <= 0) {
				r = (int)n;
				break;
			}
			z.in = (ZSTD_inBuffer){ b->src.buf, (size_t)n, 0 };
		}
		r = zstep(&z);
	}
	if (r == 0 && z.ret != 0) {
		log_err("truncated zstd stream at offset %llu", (unsigned long long)zpos(&z));
		r = -EBADMSG;
	}
	if (r == 0)
		r = idx_spanb_finish(&b->sb, z.c_data_end, IDX_SF_WHOLE_FRAMES);
out_free:
	free(z.obuf);
	ZSTD_freeDCtx(z.d);
	return r;
}

int idx_rawidx_build(struct bctx *b)
{
	struct spanb *sb = &b->sb;
	size_t pos = 0, take;
	ssize_t n = (ssize_t)b->src.len;
	int r = idx_spanb_start(sb, IDX_CK_RAW);

	while (r == 0 && n > 0) {
		take = (size_t)XMIN((uint64_t)(b->src.len - pos), idx_spanb_room(sb));
		r = idx_spanb_data(sb, b->src.buf + pos, take);
		pos += take;
		if (r == 0 && idx_spanb_room(sb) == 0)
			r = idx_spanb_cut(sb, IDX_CK_RAW, sb->u_pos, 0, NULL, 0, sb->u_pos, 0);
		if (r == 0 && pos == b->src.len) {
			n = idx_bsrc_fill(&b->src);
			pos = 0;
			if (n < 0)
				r = (int)n;
		}
	}
	if (r == 0)
		r = idx_spanb_finish(sb, sb->u_pos, 0);
	return r;
}
