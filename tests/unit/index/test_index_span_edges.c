/* SPDX-License-Identifier: MIT */
/*
 * Span edge cases: gzip blocks far longer than a span (hard cuts: spans
 * that decode from an earlier checkpoint and drop what precedes them),
 * many threads decoding spans of one layer at once, span lookups at the
 * edges, and argument checks of idx_span_decode().
 */
#include <pthread.h>

#include "tap.h"
#include "test_index_span_util.h"

#define SPAN (64u << 10)

struct job {
	const struct idx_layer *l;
	const uint8_t *blob, *ref;
	unsigned bad;
	unsigned first;
};

static void *decode_all(void *arg)
{
	struct job *j = arg;
	uint32_t n = idx_span_count(j->l);

	for (uint32_t k = 0; k < n; k++) {
		uint32_t id = (j->first + k * 7) % n;
		struct idx_span sp;
		uint8_t *out;
		int r;

		idx_span_get(j->l, id, &sp);
		out = su_decode(j->l, id, j->blob, &r);
		j->bad += r != 0 || memcmp(out, j->ref + sp.u_start, sp.u_len) != 0;
		free(out);
	}
	return NULL;
}

static void threads(const struct idx_layer *l, const uint8_t *blob, const struct tw *t)
{
	pthread_t th[4];
	struct job jobs[4];
	unsigned bad = 0;

	for (int i = 0; i < 4; i++) {
		jobs[i] = (struct job){ l, blob, t->buf, 0, (unsigned)i * 5 };
		pthread_create(&th[i], NULL, decode_all, &jobs[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		bad += jobs[i].bad;
	}
	is_int(bad, 0, "4 threads decoding the same layer's spans at once agree with the tar");
}

static void long_blocks(void)
{
	struct tw t = { 0 };
	struct tw_hdr h = { .name = "zeros", .type = '0', .mode = 0644, .size = -1 };
	uint8_t *zeros = calloc(1, 3u << 20);
	struct su_buf gz;
	struct idx_layer *l = NULL;
	unsigned shared = 0;
	struct idx_span a, b;

	tw_add(&t, &h, zeros, 3u << 20);
	tw_file(&t, "after", "tail");
	tw_eof(&t);
	gz = su_gzip(t.buf, t.len, 1, 0);
	is_int(su_build(gz.p, gz.len, SPAN, &l, NULL), 0, "3 MiB of zeros in gzip: build");
	for (uint32_t i = 1; i < idx_span_count(l); i++) {
		idx_span_get(l, i - 1, &a);
		idx_span_get(l, i, &b);
		shared += a.c_start == b.c_start;
		if (b.u_len > 2 * SPAN)
			ok(0, "span %u longer than 2 x span size", i);
	}
	ok(shared > 0, "%u spans cut inside a deflate block decode from an earlier checkpoint", shared);
	is_int(su_check_ranges(l, gz.p, t.buf, t.len, 100, 4), 0, "100 random ranges");
	threads(l, gz.p, &t);
	idx_layer_free(l);
	free(gz.p);
	free(zeros);
	tw_free(&t);
}

static void lookups_and_args(void)
{
	struct tw t = { 0 };
	struct su_buf gz;
	struct idx_layer *l = NULL;
	struct idx_span sp;
	uint32_t id, last;
	uint8_t *out;

	su_make_tar(&t, 30, 20000, 9);
	gz = su_gzip(t.buf, t.len, 3, 0);
	if (su_build(gz.p, gz.len, SPAN, &l, NULL) < 0)
		abort();
	last = idx_span_count(l) - 1;
	is_int(idx_span_find(l, 0, &id), 0, "offset 0 has a span");
	is_int(id, 0, "... the first");
	is_int(idx_span_find(l, t.len - 1, &id), 0, "the last byte has a span");
	is_int(id, last, "... the last");
	is_int(idx_span_find(l, t.len, &id), -ERANGE, "past the end -> -ERANGE");
	is_int(idx_span_get(l, last + 1, &sp), -ERANGE, "span id past the end -> -ERANGE");
	idx_span_get(l, 1, &sp);
	idx_span_find(l, sp.u_start - 1, &id);
	is_int(id, 0, "the byte before span 1 is in span 0");
	out = malloc(sp.u_len);
	is_int(idx_span_decode(l, 1, gz.p + sp.c_start, sp.c_end - sp.c_start - 1, out, sp.u_len),
	       -EINVAL, "short compressed buffer -> -EINVAL");
	is_int(idx_span_decode(l, 1, gz.p + sp.c_start, sp.c_end - sp.c_start, out, sp.u_len - 1),
	       -EINVAL, "short output buffer -> -EINVAL");
	is_int(idx_span_decode(l, last + 1, gz.p, 1, out, sp.u_len), -EINVAL, "bad span id -> -EINVAL");
	is_int(idx_span_decode(l, 1, gz.p + sp.c_start, sp.c_end - sp.c_start + 100, out, sp.u_len), 0,
	       "a longer compressed buffer is fine");
	free(out);
	idx_layer_free(l);
	free(gz.p);
	tw_free(&t);
}

int main(void)
{
	long_blocks();
	lookups_and_args();
	return tap_done();
}
