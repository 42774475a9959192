/* SPDX-License-Identifier: MIT */
/*
 * A forward pass over a zstd layer's spans (index/zpass.h): one
 * ZSTD_DCtx in streaming mode, fed chunk by chunk, producing exactly one
 * span's bytes per call. Output the caller has not asked for yet stays in
 * the decoder (zstd keeps its window in its own buffer when the output
 * buffer moves between calls), so spans come out back to back whatever
 * the frame layout; frames, skippable frames and frame ends inside a span
 * are all handled by ZSTD_decompressStream() itself.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "common/log.h"
#include "index/layer_int.h"
#include "index/zpass.h"

struct idx_zpass {
	const struct idx_layer *l;
	ZSTD_DCtx *d;
	idx_zfeed_fn feed;
	void *ctx;
	ZSTD_inBuffer in;
	uint32_t next; /* the span the next call produces */
	bool eof;      /* the feed said end of blob */
};

bool idx_zpass_wanted(const struct idx_layer *l)
{
	if (!l || l->comp != IDX_COMP_ZSTD)
		return false;
	for (uint32_t i = 0; i < l->n_spans; i++)
		if (l->ckpts[l->spans[i].ckpt].u_off < l->spans[i].u_start)
			return true;
	return false;
}

int idx_zpass_new(const struct idx_layer *l, idx_zfeed_fn feed, void *ctx,
		  struct idx_zpass **out)
{
	struct idx_zpass *z;

	if (!l || !feed || l->comp != IDX_COMP_ZSTD)
		return -EINVAL;
	z = calloc(1, sizeof(*z));
	if (!z)
		return -ENOMEM;
	z->d = ZSTD_createDCtx();
	/* the windows the index builder accepts (index/zstdidx.c) */
	if (!z->d || ZSTD_isError(ZSTD_DCtx_setParameter(z->d, ZSTD_d_windowLogMax, 31))) {
		ZSTD_freeDCtx(z->d);
		free(z);
		return -ENOMEM;
	}
	z->l = l;
	z->feed = feed;
	z->ctx = ctx;
	z->next = UINT32_MAX;
	*out = z;
	return 0;
}

void idx_zpass_free(struct idx_zpass *z)
{
	if (!z)
		return;
	ZSTD_freeDCtx(z->d);
	free(z);
}

int idx_zpass_origin(const struct idx_layer *l, uint32_t id, uint32_t *first, uint64_t *c_off)
{
	const struct idx_ckpt *ck;
	uint32_t f;

	if (!l || id >= l->n_spans)
		return -ERANGE;
	ck = &l->ckpts[l->spans[id].ckpt];
	/* a zstd checkpoint is a frame start, and a frame start begins a span */
	if (idx_span_find(l, ck->u_off, &f) < 0 || f > id || l->spans[f].u_start != ck->u_off)
		return -EBADMSG;
	*first = f;
	*c_off = ck->c_off;
	return 0;
}

int idx_zpass_seek(struct idx_zpass *z, uint32_t id, uint32_t *first, uint64_t *c_off)
{
	int r = idx_zpass_origin(z->l, id, first, c_off);

	if (r < 0)
		return r;
	ZSTD_DCtx_reset(z->d, ZSTD_reset_session_only);
	z->in = (ZSTD_inBuffer){ NULL, 0, 0 };
	z->eof = false;
	z->next = *first;
	return 0;
}

static int decode_err(size_t ret)
{
	if (ZSTD_getErrorCode(ret) == ZSTD_error_memory_allocation)
		return -ENOMEM;
	log_err("corrupt zstd stream in a pass: %s", ZSTD_getErrorName(ret));
	return -EBADMSG;
}

int idx_zpass_next(struct idx_zpass *z, void *out, size_t out_len, uint32_t *id)
{
	const struct idx_span_rec *s;
	ZSTD_outBuffer o;
	const uint8_t *buf;
	size_t ret, len;
	int r;

	if (z->next >= z->l->n_spans)
		return -ERANGE;
	s = &z->l->spans[z->next];
	if (out_len < s->u_len)
		return -EINVAL;
	o = (ZSTD_outBuffer){ out, (size_t)s->u_len, 0 };
	while (o.pos < o.size) {
		size_t before = o.pos, used = z->in.pos;

		/* what the decoder holds may finish the span: input only when it stalls */
		ret = ZSTD_decompressStream(z->d, &o, &z->in);
		if (ZSTD_isError(ret))
			return decode_err(ret);
		if (o.pos != before || z->in.pos != used)
			continue;
		if (z->eof || z->in.pos < z->in.size) {
			log_err("zstd stream ends inside span %u", z->next);
			return -EBADMSG;
		}
		r = z->feed(z->ctx, &buf, &len);
		if (r < 0)
			return r;
		z->eof = len == 0;
		z->in = (ZSTD_inBuffer){ buf, len, 0 };
	}
	*id = z->next++;
	return 0;
}

size_t idx_zpass_mem(const struct idx_zpass *z)
{
	return z ? ZSTD_sizeof_DCtx(z->d) : 0;
}

int idx_span_verify(const struct idx_layer *l, uint32_t id, const void *buf, size_t len)
{
	uint8_t sha[DIGEST_SHA256_LEN];

	if (!l || id >= l->n_spans || len < l->spans[id].u_len)
		return -EINVAL;
	digest_sha256(buf, (size_t)l->spans[id].u_len, sha);
	if (memcmp(sha, l->spans[id].sha, DIGEST_SHA256_LEN) != 0) {
		log_err("span %u of layer does not decode to its digest", id);
		return -EBADMSG;
	}
	return 0;
}
