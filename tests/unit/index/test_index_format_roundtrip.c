/* SPDX-License-Identifier: MIT */
/*
 * The index bytes: deterministic (two builds, same bytes), save -> load ->
 * save identical, a loaded index reads like the built one, and a hostile
 * file (truncated, bit-flipped, unknown major, re-wrapped payload with
 * broken fields) is rejected without a crash.
 */
#include "index/layer_int.h"
#include "tap.h"
#include "test_index_span_util.h"

static void *save(const struct idx_layer *l, size_t *len)
{
	void *buf = NULL;

	if (idx_save(l, &buf, len) < 0)
		abort();
	return buf;
}

static void deterministic(const struct su_buf *blob, const struct tw *t)
{
	struct idx_layer *a = NULL, *b = NULL, *c = NULL;
	size_t la, lb, lc;
	uint8_t *sa, *sb, *sc;

	if (su_build(blob->p, blob->len, 64 << 10, &a, NULL) < 0 ||
	    su_build(blob->p, blob->len, 64 << 10, &b, NULL) < 0)
		abort();
	sa = save(a, &la);
	sb = save(b, &lb);
	ok(la == lb && memcmp(sa, sb, la) == 0, "two builds give identical index bytes (%zu)", la);
	is_int(idx_load(sa, la, &c), 0, "load");
	sc = save(c, &lc);
	ok(lc == la && memcmp(sa, sc, la) == 0, "save -> load -> save is identical");
	is_int(su_check_ranges(c, blob->p, t->buf, t->len, 300, 5), 0, "loaded index reads right");
	for (uint32_t i = 0; i < idx_entry_count(a); i++) {
		const struct idx_entry *x = idx_entry_get(a, i), *y = idx_entry_get(c, i);

		if (strcmp(x->path, y->path) || x->data_off != y->data_off || x->size != y->size ||
		    x->mode != y->mode || x->mtime_sec != y->mtime_sec) {
			ok(0, "entry %u differs after load", i);
			break;
		}
	}
	idx_layer_free(a);
	idx_layer_free(b);
	idx_layer_free(c);
	free(sa);
	free(sb);
	free(sc);
}

static void hostile_file(const uint8_t *f, size_t len)
{
	struct idx_layer *l = NULL;
	uint8_t *m = malloc(len);
	unsigned accepted = 0, wrong_err = 0;
	uint64_t seed = 11;

	for (size_t n = 0; n < len; n += 1 + n / 7) {
		int r = idx_load(f, n, &l);

		accepted += r == 0;
		wrong_err += r != -EBADMSG;
	}
	is_int(accepted, 0, "every truncation is rejected");
	is_int(wrong_err, 0, "... with -EBADMSG");
	accepted = 0;
	for (int i = 0; i < 3000; i++) {
		size_t at = su_rand(&seed) % len;

		memcpy(m, f, len);
		m[at] ^= (uint8_t)(1u << (su_rand(&seed) % 8));
		if (idx_load(m, len, &l) == 0) {
			/*
			 * Only a flip that changes nothing may pass (the minor
			 * version, a zstd header bit that decodes the same):
			 * the payload, hence the re-saved file, is the original.
			 */
			size_t sl;
			uint8_t *s2 = save(l, &sl);

			accepted += sl != len || memcmp(s2, f, len) != 0;
			free(s2);
			idx_layer_free(l);
		}
	}
	is_int(accepted, 0, "3000 bit flips rejected or harmless (the payload digest)");
	memcpy(m, f, len);
	le16_put(m + 8, IDX_VERSION_MAJOR + 1);
	is_int(idx_load(m, len, &l), -EPROTONOSUPPORT, "unknown major -> -EPROTONOSUPPORT");
	memcpy(m, f, len);
	le16_put(m + 10, IDX_VERSION_MINOR + 3);
	is_int(idx_load(m, len, &l), 0, "a newer minor loads");
	idx_layer_free(l);
	free(m);
}

/* Re-wrap a payload with field @at changed: the digest passes, validation must not. */
static int rewrap_load(const uint8_t *payload, size_t plen, size_t at, uint8_t x)
{
	uint8_t *p = malloc(plen);
	struct idx_layer *l = NULL;
	void *f = NULL;
	size_t flen;
	int r;

	memcpy(p, payload, plen);
	p[at] ^= x;
	if (idx_envelope_write(p, plen, 2, &f, &flen) < 0)
		abort();
	r = idx_load(f, flen, &l);
	idx_layer_free(l);
	free(f);
	free(p);
	return r;
}

static void hostile_payload(const struct idx_layer *l)
{
	const uint8_t *p = l->payload;
	size_t ent = IDX_HDR_SIZE, ord = ent + (size_t)l->n_entries * IDX_ENTRY_SIZE;
	size_t xat = ord + (size_t)l->n_entries * 4, ckp = xat + (size_t)l->n_xattrs * IDX_XATTR_SIZE;
	size_t spn = ckp + (size_t)l->n_ckpts * IDX_CKPT_SIZE;
	static const struct {
		const char *what;
		size_t off;
		uint8_t x;
	} cases[] = {
		{ "compression kind", 0, 0x07 },   { "reserved header byte", 2, 1 },
		{ "span size", 7, 0x80 },          { "tar size", 80, 1 },
		{ "entry count", 88, 1 },          { "xattr count", 92, 1 },
		{ "checkpoint count", 96, 1 },     { "span count", 100, 1 },
		{ "prefetch count", 104, 1 },      { "string table size", 112, 1 },
		{ "window section size", 128, 1 },
	};
	uint64_t seed = 5;
	unsigned crashed_or_ok = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_int(rewrap_load(p, l->payload_len, cases[i].off, cases[i].x), -EBADMSG,
		       "payload with a bad %s", cases[i].what);
	is_int(rewrap_load(p, l->payload_len, ent + 0, 0x10), -EBADMSG, "entry type");
	is_int(rewrap_load(p, l->payload_len, ent + 68 + 56, 0x40), -EBADMSG, "entry path offset");
	is_int(rewrap_load(p, l->payload_len, ent + 68 + 48 + 7, 0x40), -EBADMSG, "entry data offset");
	is_int(rewrap_load(p, l->payload_len, ord, 1), -EBADMSG, "lookup table order");
	is_int(rewrap_load(p, l->payload_len, ckp + IDX_CKPT_SIZE + 8, 0x80), -EBADMSG,
	       "checkpoint offset");
	is_int(rewrap_load(p, l->payload_len, spn + IDX_SPAN_SIZE + 8, 0x01), -EBADMSG, "span length");
	is_int(rewrap_load(p, l->payload_len, spn + 16 + 6, 0x01), -EBADMSG, "span compressed end");
	/* Random flips anywhere: any result but a crash; the sanitizers watch. */
	for (int i = 0; i < 800; i++) {
		int r = rewrap_load(p, l->payload_len, su_rand(&seed) % l->payload_len,
				    (uint8_t)(1 + su_rand(&seed) % 255));

		crashed_or_ok += r == 0 || r == -EBADMSG || r == -EFBIG;
	}
	is_int(crashed_or_ok, 800, "800 re-wrapped random payload flips: accepted, -EBADMSG or -EFBIG (over the bounds)");
}

int main(void)
{
	struct tw t = { 0 };
	struct su_buf gz;
	struct idx_layer *l = NULL;
	uint8_t *f;
	size_t flen;

	su_make_tar(&t, 60, 30000, 2);
	gz = su_gzip(t.buf, t.len, 1, 0);
	deterministic(&gz, &t);
	if (su_build(gz.p, gz.len, 64 << 10, &l, NULL) < 0)
		abort();
	f = save(l, &flen);
	hostile_file(f, flen);
	hostile_payload(l);
	idx_layer_free(l);
	free(f);
	free(gz.p);
	tw_free(&t);
	return tap_done();
}
