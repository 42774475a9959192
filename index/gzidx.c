/* SPDX-License-Identifier: MIT */
/*
 * Build side of random access into gzip (the zran technique of zlib's
 * examples/zran.c; RFC 1951 block boundaries): one inflate(Z_BLOCK) pass that stops at every deflate block
 * boundary; where a span is long enough, the boundary becomes a checkpoint
 * holding the compressed offset, the bits left in the previous byte and the
 * last 32 KiB of output of the current member (the history a decoder
 * needs). A member start is a checkpoint that needs no window at all, so
 * layers written with a member per span cost ~32 bytes per span.
 *
 * The output buffer keeps the last 32 KiB in front of the write position
 * (moved down when the buffer fills), so the window is always contiguous.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/log.h"
#include "common/xmath.h"
#include "index/build_int.h"

#define OUT_CHUNK (256u << 10)

struct gzb {
	struct bctx *b;
	z_stream zs;
	uint8_t *obuf;       /* IDX_WINDOW_SIZE of history + OUT_CHUNK */
	size_t opos;
	uint64_t member_u;   /* uncompressed offset where the current member started */
	uint64_t last_out_c; /* compressed position after the last call that produced output */
};

static uint64_t cpos(const struct gzb *g)
{
	return g->b->src.buf_off + (uint64_t)(g->zs.next_in - g->b->src.buf);
}

static int map_zerr(int ret, const z_stream *zs)
{
	if (ret == Z_MEM_ERROR)
		return -ENOMEM;
	log_err("corrupt gzip stream: %s", zs->msg ? zs->msg : "inflate error");
	return -EBADMSG;
}

static int refill(struct gzb *g)
{
	ssize_t n = idx_bsrc_fill(&g->b->src);

	if (n < 0)
		return (int)n;
	g->zs.next_in = g->b->src.buf;
	g->zs.avail_in = (uInt)n;
	return n > 0;
}

/*
 * After a member's trailer: another member, trailing zeros (gzip(1)
 * accepts them), end of blob, or garbage. Returns 1 for a new member.
 */
static int next_member(struct gzb *g)
{
	int r;

	for (;;) {
		if (g->zs.avail_in == 0) {
			r = refill(g);
			if (r <= 0)
				return r;
		}
		if (g->zs.next_in[0] == 0x1f)
			return 1;
		while (g->zs.avail_in && g->zs.next_in[0] == 0) {
			g->zs.next_in++;
			g->zs.avail_in--;
		}
		if (g->zs.avail_in) {
			log_err("trailing garbage after gzip member at offset %llu",
				(unsigned long long)cpos(g));
			return -EBADMSG;
		}
		log_warn("trailing zero bytes after the last gzip member ignored");
	}
}

static int block_boundary(struct gzb *g)
{
	struct spanb *sb = &g->b->sb;
	uint64_t hist = sb->u_pos - g->member_u;
	uint32_t wl = (uint32_t)XMIN(hist, (uint64_t)IDX_WINDOW_SIZE);

	/* Right after a header (no history) the member start did the job. */
	if (wl == 0 || idx_spanb_cur(sb) < sb->span_size)
		return 0;
	return idx_spanb_cut(sb, IDX_CK_GZ_BLOCK, cpos(g), (uint8_t)(g->zs.data_type & 7),
			 g->obuf + g->opos - wl, wl, cpos(g), 0);
}

static int member_end(struct gzb *g, bool *done)
{
	struct spanb *sb = &g->b->sb;
	int r = next_member(g);

	if (r < 0)
		return r;
	if (r == 0) {
		*done = true;
		return 0;
	}
	if (idx_spanb_cur(sb) >= sb->span_size / 2) {
		r = idx_spanb_cut(sb, IDX_CK_GZ_MEMBER, cpos(g), 0, NULL, 0, cpos(g), 0);
		if (r < 0)
			return r;
	}
	g->member_u = sb->u_pos;
	return inflateReset(&g->zs) == Z_OK ? 0 : -EIO;
}

/* One inflate call and what follows from it. */
static int step(struct gzb *g, bool *done)
{
	struct spanb *sb = &g->b->sb;
	size_t avail = XMIN((uint64_t)(IDX_WINDOW_SIZE + OUT_CHUNK - g->opos), idx_spanb_room(sb));
	int ret, r;

	g->zs.next_out = g->obuf + g->opos;
	g->zs.avail_out = (uInt)avail;
	ret = inflate(&g->zs, Z_BLOCK);
	if (ret != Z_OK && ret != Z_STREAM_END && ret != Z_BUF_ERROR)
		return map_zerr(ret, &g->zs);
	avail -= g->zs.avail_out;
	if (avail) {
		r = idx_spanb_data(sb, g->obuf + g->opos, avail);
		if (r < 0)
			return r;
		g->opos += avail;
		g->last_out_c = cpos(g);
	}
	if (ret == Z_STREAM_END)
		return member_end(g, done);
	if ((g->zs.data_type & 0xc0) == 0x80) {
		r = block_boundary(g);
		if (r < 0)
			return r;
	}
	if (idx_spanb_room(sb) == 0) {
		r = idx_spanb_cut(sb, -1, 0, 0, NULL, 0, g->last_out_c, 0);
		if (r < 0)
			return r;
	}
	if (g->opos == IDX_WINDOW_SIZE + OUT_CHUNK) {
		memmove(g->obuf, g->obuf + OUT_CHUNK, IDX_WINDOW_SIZE);
		g->opos = IDX_WINDOW_SIZE;
	}
	if (g->zs.avail_in == 0) {
		r = refill(g);
		if (r < 0)
			return r;
		if (r == 0) {
			log_err("truncated gzip stream at offset %llu", (unsigned long long)cpos(g));
			return -EBADMSG;
		}
	}
	return 0;
}

int idx_gzidx_build(struct bctx *b)
{
	struct gzb g = { .b = b, .opos = IDX_WINDOW_SIZE };
	bool done = false;
	int r;

	g.obuf = malloc(IDX_WINDOW_SIZE + OUT_CHUNK);
	if (!g.obuf)
		return -ENOMEM;
	if (inflateInit2(&g.zs, 31) != Z_OK) {
		r = -ENOMEM;
		goto out_free_buf;
	}
	g.zs.next_in = b->src.buf;
	g.zs.avail_in = (uInt)b->src.len;
	r = idx_spanb_start(&b->sb, IDX_CK_GZ_MEMBER);
	while (r == 0 && !done)
		r = step(&g, &done);
	if (r == 0)
		r = idx_spanb_finish(&b->sb, g.last_out_c, 0);
	inflateEnd(&g.zs);
out_free_buf:
	free(g.obuf);
	return r;
}
