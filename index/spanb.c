/* SPDX-License-Identifier: MIT */
/*
 * Span builder: cuts the uncompressed stream into spans while a
 * decompressor reports where decoding could restart (checkpoints).
 *
 * Cuts are lazy: a decompressor reports an opportunity (block boundary,
 * member or frame start) or a due hard cut, and the cut only lands when
 * the next uncompressed byte arrives. So the last span is never empty, and
 * a frame or member ending the stream does not leave a dangling checkpoint.
 * A hard cut (no restart point in reach) keeps the current checkpoint: the
 * next span decodes from there and skips what came before it, which keeps
 * every span bounded whatever the encoder did (one 1 GiB deflate block,
 * one zstd frame for the whole layer).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common/log.h"
#include "common/xarray.h"
#include "common/xmath.h"
#include "index/build_int.h"
#include "index/tar_int.h"

int idx_spanb_init(struct spanb *sb, uint64_t span_size, uint64_t hard_max, struct tar_parser *tar)
{
	int r;

	memset(sb, 0, sizeof(*sb));
	sb->span_size = span_size;
	sb->hard_max = hard_max;
	sb->tar = tar;
	dbuf_init(&sb->windows, IDX_MAX_FILE_SIZE);
	r = digest_ctx_new(&sb->diff_sha);
	if (r < 0)
		return r;
	r = digest_ctx_new(&sb->span_sha);
	if (r < 0)
		return r;
	sb->pwin_cap = ZSTD_compressBound(IDX_WINDOW_SIZE);
	sb->pwin = malloc(sb->pwin_cap);
	sb->cctx = ZSTD_createCCtx();
	if (!sb->pwin || !sb->cctx)
		return -ENOMEM;
	return 0;
}

void idx_spanb_release(struct spanb *sb)
{
	digest_ctx_free(sb->diff_sha);
	digest_ctx_free(sb->span_sha);
	free(sb->pwin);
	ZSTD_freeCCtx(sb->cctx);
	free(sb->ckpts);
	free(sb->spans);
	dbuf_release(&sb->windows);
	memset(sb, 0, sizeof(*sb));
}

static int add_ckpt(struct spanb *sb, const struct ckpt_b *ck)
{
	int r = xarray_grow((void **)&sb->ckpts, &sb->cap_ckpts, sb->n_ckpts, sizeof(*ck), 64,
			IDX_MAX_CKPTS);

	if (r < 0)
		return r;
	sb->ckpts[sb->n_ckpts++] = *ck;
	return 0;
}

int idx_spanb_start(struct spanb *sb, uint8_t kind)
{
	struct ckpt_b ck = { .kind = kind };

	return add_ckpt(sb, &ck);
}

static int close_span(struct spanb *sb, uint64_t c_end, uint32_t flags)
{
	const struct ckpt_b *ck = &sb->ckpts[sb->cur.ckpt];
	int r;

	sb->cur.u_len = sb->u_pos - sb->cur.u_start;
	sb->cur.c_end = c_end;
	/* One-shot frame decoding needs the span to start on its frame. */
	sb->cur.flags = ck->u_off == sb->cur.u_start ? flags : 0;
	r = digest_ctx_final(sb->span_sha, sb->cur.sha);
	if (r < 0)
		return r;
	r = xarray_grow((void **)&sb->spans, &sb->cap_spans, sb->n_spans, sizeof(sb->cur), 64,
			IDX_MAX_CKPTS);
	if (r < 0)
		return r;
	sb->spans[sb->n_spans++] = sb->cur;
	sb->open = false;
	return 0;
}

static int open_span(struct spanb *sb)
{
	int r = digest_ctx_reset(sb->span_sha);

	if (r < 0)
		return r;
	memset(&sb->cur, 0, sizeof(sb->cur));
	sb->cur.u_start = sb->u_pos;
	sb->cur.ckpt = sb->n_ckpts - 1;
	sb->open = true;
	return 0;
}

/* The pending cut lands: close the open span, register the checkpoint. */
static int land_cut(struct spanb *sb)
{
	int r = close_span(sb, sb->pending_c_end, sb->pending_flags);

	if (r < 0)
		return r;
	if (sb->pending_ck) {
		sb->pck.win_pos = sb->windows.len;
		r = dbuf_add(&sb->windows, sb->pwin, sb->pck.win_clen);
		if (r < 0)
			return r;
		r = add_ckpt(sb, &sb->pck);
		if (r < 0)
			return r;
	}
	sb->pending = false;
	return open_span(sb);
}

int idx_spanb_data(struct spanb *sb, const void *p, size_t n)
{
	int r;

	if (n == 0)
		return 0;
	if (sb->pending) {
		r = land_cut(sb);
		if (r < 0)
			return r;
	} else if (!sb->open) {
		r = open_span(sb);
		if (r < 0)
			return r;
	}
	r = digest_ctx_update(sb->diff_sha, p, n);
	if (r < 0)
		return r;
	r = digest_ctx_update(sb->span_sha, p, n);
	if (r < 0)
		return r;
	if (sb->fsum)
		idx_fsum_chunk(sb->fsum, p, n, sb->u_pos);
	r = idx_tar_parser_feed(sb->tar, p, n);
	if (r == 0 && sb->fsum)
		r = idx_fsum_chunk_end(sb->fsum);
	if (r < 0)
		return r;
	sb->u_pos += n;
	return 0;
}

uint64_t idx_spanb_cur(const struct spanb *sb)
{
	if (sb->pending || !sb->open)
		return 0;
	return sb->u_pos - sb->cur.u_start;
}

uint64_t idx_spanb_room(const struct spanb *sb)
{
	return sb->hard_max - idx_spanb_cur(sb);
}

static int pack_window(struct spanb *sb, const uint8_t *win, uint32_t win_len)
{
	size_t z;

	sb->pck.win_len = win_len;
	sb->pck.win_clen = 0;
	if (win_len == 0)
		return 0;
	z = ZSTD_compressCCtx(sb->cctx, sb->pwin, sb->pwin_cap, win, win_len, IDX_ZSTD_LEVEL);
	if (ZSTD_isError(z)) {
		log_err("cannot compress a window: %s", ZSTD_getErrorName(z));
		return -ENOMEM;
	}
	sb->pck.win_clen = (uint32_t)z;
	return 0;
}

int idx_spanb_cut(struct spanb *sb, int kind, uint64_t c_off, uint8_t bits, const uint8_t *win,
	      uint32_t win_len, uint64_t c_end, uint32_t flags)
{
	if (!sb->open)
		return 0;
	/* A real checkpoint beats a pending hard cut at the same place; else the first wins. */
	if (sb->pending && (sb->pending_ck || kind < 0))
		return 0;
	if (!sb->pending) {
		sb->pending_c_end = c_end;
		sb->pending_flags = flags;
	}
	sb->pending = true;
	sb->pending_ck = kind >= 0;
	if (kind < 0)
		return 0;
	sb->pck = (struct ckpt_b){ .c_off = c_off, .u_off = sb->u_pos, .kind = (uint8_t)kind, .bits = bits };
	return pack_window(sb, win, win_len);
}

int idx_spanb_finish(struct spanb *sb, uint64_t c_end, uint32_t flags)
{
	sb->pending = false;
	if (!sb->open)
		return 0;
	return close_span(sb, c_end, flags);
}
