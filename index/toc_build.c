/* SPDX-License-Identifier: MIT */
/*
 * The TOC builder (index/toc_int.h): checkpoints and spans as a foreign
 * TOC gives them, then the payload of idx_build() written and parsed back,
 * so a foreign layer meets every rule a loaded index meets. The checks
 * here only make the messages say "TOC" and name the broken rule early;
 * idx_payload_parse() is what vouches for the result.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common/log.h"
#include "common/xarray.h"
#include "common/xmath.h"
#include "index/toc_build.h"

#define DUP_WARN_MAX 10

#define BADT(...)                                          \
	do {                                               \
		log_err("cannot read TOC: " __VA_ARGS__);  \
		return -EBADMSG;                           \
	} while (0)

typedef unsigned long long ull;

const char *idx_foreign_name(enum idx_foreign f)
{
	switch (f) {
	case IDX_FOREIGN_NONE:
		return "stratafs";
	case IDX_FOREIGN_ZSTD_CHUNKED:
		return "zstd:chunked";
	case IDX_FOREIGN_ESTARGZ:
		return "estargz";
	case IDX_FOREIGN_SOCI:
		return "soci";
	default:
		return "?";
	}
}

int idx_tocb_new(enum idx_comp comp, enum idx_foreign f, const struct idx_foreign_opts *o,
	     uint64_t toc_len, struct tocb **out)
{
	uint8_t raw[DIGEST_SHA256_LEN];
	struct tocb *b;
	int r;

	if (!o || !out || (comp != IDX_COMP_GZIP && comp != IDX_COMP_ZSTD) ||
	    f == IDX_FOREIGN_NONE || f > IDX_FOREIGN_MAX || !o->blob_digest ||
	    digest_parse(o->blob_digest, raw) < 0 || (o->diff_id && digest_parse(o->diff_id, raw) < 0))
		return -EINVAL;
	if (toc_len == 0 || toc_len > IDX_MAX_TOC_SIZE) {
		log_err("cannot read TOC: %llu bytes (at most %u)", (ull)toc_len, IDX_MAX_TOC_SIZE);
		return -EFBIG;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->comp = comp;
	b->foreign = f;
	b->blob_size = o->blob_size;
	b->toc_len = toc_len;
	snprintf(b->blob_digest, sizeof(b->blob_digest), "%s", o->blob_digest);
	snprintf(b->diff_id, sizeof(b->diff_id), "%s", o->diff_id ? o->diff_id : "");
	idx_build_entries_init(&b->be);
	r = idx_spanb_init(&b->sb, IDX_MIN_SPAN_SIZE, 0, NULL);
	if (r < 0) {
		idx_tocb_free(b);
		return r;
	}
	*out = b;
	return 0;
}

void idx_tocb_free(struct tocb *b)
{
	if (!b)
		return;
	idx_build_entries_release(&b->be);
	idx_spanb_release(&b->sb);
	free(b);
}

static bool kind_suits(enum idx_comp comp, uint8_t kind)
{
	if (comp == IDX_COMP_GZIP)
		return kind == IDX_CK_GZ_MEMBER || kind == IDX_CK_GZ_BLOCK;
	return kind == IDX_CK_ZSTD_FRAME;
}

/* A GZ_BLOCK window, zstd-compressed into the window section as idx_build() stores it. */
static int add_window(struct spanb *sb, struct ckpt_b *ck, const uint8_t *win, uint32_t win_len)
{
	size_t z = ZSTD_compressCCtx(sb->cctx, sb->pwin, sb->pwin_cap, win, win_len,
				     IDX_ZSTD_LEVEL);

	if (ZSTD_isError(z)) {
		log_err("cannot compress a window: %s", ZSTD_getErrorName(z));
		return -ENOMEM;
	}
	ck->win_len = win_len;
	ck->win_clen = (uint32_t)z;
	ck->win_pos = sb->windows.len;
	return dbuf_add(&sb->windows, sb->pwin, z);
}

int idx_tocb_ckpt(struct tocb *b, uint8_t kind, uint64_t c_off, uint64_t u_off, uint8_t bits,
	      const uint8_t *win, uint32_t win_len, uint32_t *id)
{
	struct spanb *sb = &b->sb;
	struct ckpt_b ck = { .c_off = c_off, .u_off = u_off, .kind = kind, .bits = bits };
	bool block = kind == IDX_CK_GZ_BLOCK;
	int r;

	if (!kind_suits(b->comp, kind) || bits > 7 || (!block && (bits || win_len)) ||
	    (block && (!win || win_len == 0 || win_len > IDX_WINDOW_SIZE)))
		BADT("checkpoint %u: kind %u, %u bits, window of %u bytes", sb->n_ckpts, kind,
		     bits, win_len);
	if (sb->n_ckpts ? c_off <= sb->ckpts[sb->n_ckpts - 1].c_off ||
				  u_off <= sb->ckpts[sb->n_ckpts - 1].u_off
			: u_off != 0)
		BADT("checkpoint %u at (%llu, %llu) is not after the previous one", sb->n_ckpts,
		     (ull)c_off, (ull)u_off);
	if (c_off >= b->blob_size)
		BADT("checkpoint at %llu, past the blob's %llu bytes", (ull)c_off,
		     (ull)b->blob_size);
	if (block) {
		r = add_window(sb, &ck, win, win_len);
		if (r < 0)
			return r;
	}
	r = xarray_grow((void **)&sb->ckpts, &sb->cap_ckpts, sb->n_ckpts, sizeof(ck), 64,
			IDX_MAX_CKPTS);
	if (r < 0)
		return r;
	if (id)
		*id = sb->n_ckpts;
	sb->ckpts[sb->n_ckpts++] = ck;
	return 0;
}

int idx_tocb_span(struct tocb *b, uint32_t ckpt, uint64_t u_start, uint64_t u_len, uint64_t c_end,
	      uint32_t flags, const uint8_t sha[DIGEST_SHA256_LEN])
{
	struct spanb *sb = &b->sb;
	uint32_t prev = sb->n_spans ? sb->spans[sb->n_spans - 1].ckpt : 0;
	struct span_b s = { .u_start = u_start, .u_len = u_len, .c_end = c_end, .ckpt = ckpt,
			    .flags = flags };
	int r;

	if (!sha)
		return -EINVAL;
	if (u_start != b->u_end || u_len == 0)
		BADT("chunk %u at %llu (%llu bytes): the previous one ended at %llu", sb->n_spans,
		     (ull)u_start, (ull)u_len, (ull)b->u_end);
	if (ckpt >= sb->n_ckpts || ckpt < prev || c_end > b->blob_size ||
	    c_end <= sb->ckpts[ckpt].c_off)
		BADT("chunk %u: checkpoint %u, compressed end %llu", sb->n_spans, ckpt,
		     (ull)c_end);
	memcpy(s.sha, sha, DIGEST_SHA256_LEN);
	r = xarray_grow((void **)&sb->spans, &sb->cap_spans, sb->n_spans, sizeof(s), 64,
			IDX_MAX_CKPTS);
	if (r < 0)
		return r;
	sb->spans[sb->n_spans++] = s;
	b->u_end += u_len;
	b->max_span = XMAX(b->max_span, u_len);
	return 0;
}

/* The largest chunk, rounded up to 64 KiB: spans may hold up to twice the span size. */
static int span_size_of(const struct tocb *b, uint64_t *out)
{
	uint64_t s = (b->max_span + IDX_MIN_SPAN_SIZE - 1) / IDX_MIN_SPAN_SIZE * IDX_MIN_SPAN_SIZE;

	if (b->max_span > 2ull * IDX_MAX_SPAN_SIZE) {
		log_err("cannot read TOC: a chunk of %llu bytes (at most %llu decode in one piece)",
			(ull)b->max_span, 2ull * IDX_MAX_SPAN_SIZE);
		return -EFBIG;
	}
	*out = XMIN(XMAX(s, (uint64_t)IDX_MIN_SPAN_SIZE), (uint64_t)IDX_MAX_SPAN_SIZE);
	return 0;
}

int idx_tocb_finish(struct tocb *b, uint64_t u_size, bool virtual_offsets, struct idx_layer **out)
{
	struct idx_info info = { .comp = b->comp, .blob_size = b->blob_size, .tar_size = u_size,
				 .foreign = (uint8_t)b->foreign, .virtual_offsets = virtual_offsets,
				 .toc_len = b->toc_len };
	uint8_t *payload = NULL;
	size_t plen = 0;
	int r;

	if (!out)
		return -EINVAL;
	if (b->u_end != u_size)
		BADT("chunks cover %llu bytes of %llu", (ull)b->u_end, (ull)u_size);
	/* A layer with no file data still has its first checkpoint (FORMAT.md). */
	if (b->sb.n_ckpts == 0) {
		r = idx_tocb_ckpt(b, b->comp == IDX_COMP_GZIP ? IDX_CK_GZ_MEMBER : IDX_CK_ZSTD_FRAME,
			      0, 0, 0, NULL, 0, NULL);
		if (r < 0)
			return r;
	}
	r = span_size_of(b, &info.span_size);
	if (r < 0)
		return r;
	snprintf(info.blob_digest, sizeof(info.blob_digest), "%s", b->blob_digest);
	/* Unknown diff_id: all zeros (the payload holds the raw bytes). */
	snprintf(info.diff_id, sizeof(info.diff_id), "%s",
		 b->diff_id[0] ? b->diff_id
			       : "sha256:0000000000000000000000000000000000000000000000000000000000000000");
	info.random_access = !(b->sb.n_spans > 1 && b->sb.n_ckpts == 1);
	r = idx_build_entries_resolve(&b->be, DUP_WARN_MAX);
	if (r == 0)
		r = idx_payload_write(&b->be, &b->sb, &info, &payload, &plen);
	if (r < 0)
		return r;
	return idx_payload_parse(payload, plen, out);
}
