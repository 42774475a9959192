/* SPDX-License-Identifier: MIT */
/*
 * Forward passes (index/zpass.c): a single-frame zstd layer decoded span
 * after span by one decoder, fed in odd-sized chunks, equals the tar; a
 * seek back restarts at the frame start; in a multi-frame layer a seek
 * lands on the frame that holds the span; a short blob and a damaged span
 * are errors, never wrong bytes.
 */
#include "tap.h"
#include "test_index_span_util.h"
#include "index/zpass.h"

#define SPAN (64u << 10)

struct feed {
	const uint8_t *blob;
	size_t len;   /* what the feed serves: the blob, or less of it */
	size_t pos;
	size_t chunk;
};

static int feed_next(void *ctx, const uint8_t **buf, size_t *len)
{
	struct feed *f = ctx;
	size_t n = f->len - f->pos < f->chunk ? f->len - f->pos : f->chunk;

	*buf = f->blob + f->pos;
	*len = n;
	f->pos += n;
	return 0;
}

/* Seek to @id and produce spans up to @last, comparing each with the tar: mismatches. */
static unsigned run(struct idx_zpass *z, struct feed *f, const struct idx_layer *l,
		    const struct tw *t, uint32_t id, uint32_t last, uint32_t *first)
{
	uint64_t c_off;
	unsigned bad = 0;
	uint8_t *out = malloc(2 * SPAN + 1);

	if (idx_zpass_seek(z, id, first, &c_off) < 0)
		return 1000;
	f->pos = (size_t)c_off;
	for (uint32_t k = *first; k <= last && !bad; k++) {
		struct idx_span sp;
		uint32_t got;

		idx_span_get(l, k, &sp);
		bad += idx_zpass_next(z, out, 2 * SPAN + 1, &got) != 0 || got != k ||
		       memcmp(out, t->buf + sp.u_start, sp.u_len) != 0 ||
		       idx_span_verify(l, k, out, sp.u_len) != 0;
	}
	free(out);
	return bad;
}

static void single_frame(void)
{
	struct tw t = { 0 };
	struct idx_layer *l = NULL;
	struct idx_zpass *z = NULL;
	struct su_buf zs;
	struct feed f;
	uint32_t n, first;
	uint8_t *out;
	struct idx_span sp;

	su_make_tar(&t, 40, 40000, 7);
	zs = su_zstd(t.buf, t.len, 1);
	is_int(su_build(zs.p, zs.len, SPAN, &l, NULL), 0, "single-frame zstd layer: build");
	n = idx_span_count(l);
	ok(n > 4, "%u spans", n);
	ok(idx_zpass_wanted(l), "a single frame wants passes");
	f = (struct feed){ zs.p, zs.len, 0, 7777 };
	is_int(idx_zpass_new(l, feed_next, &f, &z), 0, "a pass");
	is_int(run(z, &f, l, &t, 0, n - 1, &first), 0, "one pass over every span equals the tar");
	is_int(idx_zpass_next(z, t.buf, t.len, &first), -ERANGE, "past the last span: ERANGE");
	is_int(run(z, &f, l, &t, n / 2, n / 2 + 1, &first), 0, "a seek back, then spans again");
	is_int(first, 0, "a seek in a single frame restarts at its start");
	ok(idx_zpass_mem(z) > 0, "the decoder's memory is known: %zu bytes", idx_zpass_mem(z));

	out = malloc(2 * SPAN);
	idx_span_get(l, 1, &sp);
	memcpy(out, t.buf + sp.u_start, sp.u_len);
	out[100] ^= 1;
	is_int(idx_span_verify(l, 1, out, sp.u_len), -EBADMSG, "a changed byte fails verification");

	f.len = zs.len / 2; /* the blob ends early */
	is_int(run(z, &f, l, &t, 0, n - 1, &first) > 0, 1, "a short blob is an error");
	free(out);
	idx_zpass_free(z);
	idx_layer_free(l);
	free(zs.p);
	free(t.buf);
}

static void multi_frame(void)
{
	struct tw t = { 0 };
	struct idx_layer *l = NULL;
	struct idx_zpass *z = NULL;
	struct su_buf zs;
	struct feed f;
	uint32_t n, first = 0, last_first = 0;

	su_make_tar(&t, 60, 40000, 11);
	zs = su_zstd(t.buf, t.len, 3); /* frames of several spans each */
	is_int(su_build(zs.p, zs.len, SPAN, &l, NULL), 0, "three-frame zstd layer: build");
	n = idx_span_count(l);
	ok(idx_zpass_wanted(l), "frames bigger than a span want passes");
	f = (struct feed){ zs.p, zs.len, 0, 100000 };
	is_int(idx_zpass_new(l, feed_next, &f, &z), 0, "a pass");
	is_int(run(z, &f, l, &t, 0, n - 1, &first), 0, "one pass across frame ends equals the tar");
	is_int(run(z, &f, l, &t, n - 1, n - 1, &last_first), 0, "a seek to the last span");
	ok(last_first > 0 && last_first < n, "lands on its frame's first span (%u), not at 0",
	   last_first);
	idx_zpass_free(z);
	idx_layer_free(l);
	free(zs.p);
	free(t.buf);
}

int main(void)
{
	single_frame();
	multi_frame();
	return tap_done();
}
