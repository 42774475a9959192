/* SPDX-License-Identifier: MIT */
/*
 * Random access through spans: for each way a layer can be compressed
 * (gzip one member, gzip many members, gzip with full flushes, zstd many
 * frames, zstd one frame, plain tar), thousands of random ranges decoded
 * from spans equal the same ranges of the tar; file reads equal the file
 * bytes; a flipped byte in a span's compressed bytes is caught.
 */
#include "tap.h"
#include "test_index_span_util.h"

#define SPAN (64u << 10)
#define RANGES 1500

struct variant {
	const char *name;
	int kind; /* 0 tar, 1 gzip, 2 zstd */
	unsigned parts;
	int flush;
};

static const struct variant variants[] = {
	{ "gzip, one member", 1, 1, 0 },
	{ "gzip, 7 members", 1, 7, 0 },
	{ "gzip, 40 small members", 1, 40, 0 },
	{ "gzip, full flush every 100 KiB (pigz -i style)", 1, 1, 100 << 10 },
	{ "zstd, 9 frames", 2, 9, 0 },
	{ "zstd, 200 small frames", 2, 200, 0 },
	{ "zstd, one frame", 2, 1, 0 },
	{ "plain tar", 0, 1, 0 },
};

static struct su_buf make_blob(const struct variant *v, const struct tw *t)
{
	struct su_buf b;

	if (v->kind == 1)
		return su_gzip(t->buf, t->len, v->parts, v->flush);
	if (v->kind == 2)
		return su_zstd(t->buf, t->len, v->parts);
	b.p = malloc(t->len);
	if (!b.p)
		abort();
	memcpy(b.p, t->buf, t->len);
	b.len = t->len;
	return b;
}

/* Every regular file read through idx_file_read() at a random offset. */
static unsigned check_files(const struct idx_layer *l, const struct su_buf *blob, const struct tw *t)
{
	struct su_mem m = { blob->p, blob->len };
	struct idx_reader rd = { &m, su_mem_read_at };
	uint64_t seed = 7;
	unsigned bad = 0;

	for (uint32_t i = 0; i < idx_entry_count(l); i++) {
		const struct idx_entry *e = idx_entry_get(l, i);
		uint64_t off, n;
		uint8_t *buf;
		ssize_t got;

		if (e->type != IDX_T_REG || e->size == 0)
			continue;
		off = su_rand(&seed) % e->size;
		n = 1 + su_rand(&seed) % (e->size + 100);
		buf = malloc(n);
		got = idx_file_read(l, i, &rd, buf, n, off);
		if (got != (ssize_t)(n < e->size - off ? n : e->size - off) ||
		    memcmp(buf, t->buf + e->data_off + off, (size_t)got) != 0)
			bad++;
		free(buf);
	}
	return bad;
}

/*
 * Flip bytes in some spans' compressed bytes. Decoding must fail with
 * -EBADMSG or, when the byte did not matter to this span (it fed only bytes
 * that are skipped, or a header field), give exactly the right bytes: never
 * wrong bytes. Returns the count of wrong results; *caught the detections.
 */
static unsigned check_corrupt(const struct idx_layer *l, const struct su_buf *blob,
			      const struct tw *t, unsigned *caught)
{
	uint32_t n = idx_span_count(l);
	unsigned wrong = 0;
	uint64_t seed = 3;

	*caught = 0;
	struct idx_span prev = { 0 };

	for (uint32_t id = 0; id < n; id++) {
		struct idx_span sp;
		uint8_t *c, *out;
		size_t clen, lo;
		int r;

		idx_span_get(l, id, &sp);
		clen = sp.c_end - sp.c_start;
		c = malloc(clen);
		out = malloc(sp.u_len);
		memcpy(c, blob->p + sp.c_start, clen);
		/* Aim past the bytes the previous span needed too: those are mostly skipped here. */
		lo = 0;
		if (id > 0 && prev.c_end > sp.c_start && prev.c_end < sp.c_end)
			lo = prev.c_end - sp.c_start;
		c[lo + su_rand(&seed) % (clen - lo)] ^= (uint8_t)(1 + su_rand(&seed) % 255);
		prev = sp;
		r = idx_span_decode(l, id, c, clen, out, sp.u_len);
		if (r == -EBADMSG)
			(*caught)++;
		else if (r != 0 || memcmp(out, t->buf + sp.u_start, sp.u_len) != 0)
			wrong++;
		free(c);
		free(out);
	}
	return wrong;
}

static void run(const struct variant *v, const struct tw *t)
{
	struct su_buf blob = make_blob(v, t);
	struct idx_build_stats st = { 0 };
	struct idx_layer *l = NULL;
	struct idx_info info;
	unsigned caught, ranges;
	int r = su_build(blob.p, blob.len, SPAN, &l, &st);

	is_int(r, 0, "%s: build", v->name);
	if (r < 0) {
		free(blob.p);
		return;
	}
	idx_layer_info(l, &info);
	is_int(info.comp, v->kind, "%s: compression sniffed as %s", v->name, idx_comp_name(info.comp));
	is_int(st.tar_size, t->len, "%s: tar size", v->name);
	is_int(st.blob_size, blob.len, "%s: blob size", v->name);
	ok(idx_span_count(l) > 10, "%s: %u spans", v->name, idx_span_count(l));
	is_int(st.sequential_only, v->kind == 2 && v->parts == 1, "%s: sequential_only", v->name);
	is_int(info.random_access, !st.sequential_only, "%s: info agrees", v->name);
	/* A single-frame layer decodes every span from its start: fewer ranges keep it quick. */
	ranges = st.sequential_only ? RANGES / 5 : RANGES;
	is_int(su_check_ranges(l, blob.p, t->buf, t->len, ranges, 99), 0, "%s: %u random ranges",
	       v->name, ranges);
	is_int(check_files(l, &blob, t), 0, "%s: file reads", v->name);
	is_int(check_corrupt(l, &blob, t, &caught), 0, "%s: a flipped byte never gives wrong bytes",
	       v->name);
	/*
	 * Spans cut inside a big zstd frame decode from the frame start: most
	 * of their compressed bytes only feed skipped output, so a random flip
	 * often does not touch them (and the result is still right).
	 */
	ok(caught > (v->kind == 2 && v->parts < 100 ? 0 : idx_span_count(l) / 2),
	   "%s: %u of %u flipped bytes caught", v->name, caught, idx_span_count(l));
	idx_layer_free(l);
	free(blob.p);
}

/* A span decoded from a checkpoint in the middle of a member, with bits != 0. */
static void mid_member_bits(const struct tw *t)
{
	struct su_buf blob = su_gzip(t->buf, t->len, 1, 0);
	struct idx_layer *l = NULL;
	unsigned with_bits = 0, good = 0;

	if (su_build(blob.p, blob.len, SPAN, &l, NULL) < 0)
		abort();
	for (uint32_t id = 1; id < idx_span_count(l); id++) {
		struct idx_span sp, prev;
		uint8_t *out;
		int r;

		idx_span_get(l, id, &sp);
		idx_span_get(l, id - 1, &prev);
		/* c_start one byte before the previous span's end: a shared byte, bits != 0 */
		if (sp.c_start + 1 != prev.c_end)
			continue;
		with_bits++;
		out = su_decode(l, id, blob.p, &r);
		good += r == 0 && memcmp(out, t->buf + sp.u_start, sp.u_len) == 0;
		free(out);
	}
	ok(with_bits > 0, "gzip: %u checkpoints inside the member start mid-byte", with_bits);
	is_int(good, with_bits, "gzip: every one of them decodes exactly");
	idx_layer_free(l);
	free(blob.p);
}

int main(void)
{
	struct tw t = { 0 };

	su_make_tar(&t, 120, 40000, 1);
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++)
		run(&variants[i], &t);
	mid_member_bits(&t);
	tw_free(&t);
	return tap_done();
}
