/* SPDX-License-Identifier: MIT */
/*
 * The pieces of the SOCI zTOC reader that a whole zTOC (soci_index.sh,
 * fuzz_ztoc) exercises only in passing: Go's RFC 3339 times, the zinfo
 * blob's two versions and its order rules, the trailing checkpoints SOCI
 * makes past the tar, and the FlatBuffers reader on hand-made hostile
 * buffers (offsets out of the buffer, a string without its NUL, a vector
 * longer than the buffer, shared data past the budget).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "index/soci_fb.h"
#include "index/soci_int.h"
#include "tap.h"

static void times(void)
{
	static const struct {
		const char *s;
		int r;
		int64_t sec;
		uint32_t nsec;
	} t[] = {
		{ "1970-01-01T00:00:00Z", 0, 0, 0 },
		{ "2020-02-03T04:05:06.123456789Z", 0, 1580702706, 123456789 },
		{ "2020-02-03T04:05:06.5Z", 0, 1580702706, 500000000 },
		{ "2020-02-03T06:05:06+02:00", 0, 1580702706, 0 },
		{ "2020-02-03T01:35:06-02:30", 0, 1580702706, 0 },
		{ "0001-01-01T00:00:00Z", 0, -62135596800, 0 }, /* Go's zero time */
		{ "2020-02-03T04:05:06", -EBADMSG, 0, 0 },
		{ "2020-02-03T04:05:06.Z", -EBADMSG, 0, 0 },
		{ "2020-13-03T04:05:06Z", -EBADMSG, 0, 0 },
		{ "2020-02-03 04:05:06Z", -EBADMSG, 0, 0 },
		{ "2020-02-03T04:05:06+0200", -EBADMSG, 0, 0 },
		{ "2020-02-03T04:05:06Zjunk", -EBADMSG, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int64_t sec = -1;
		uint32_t nsec = 1;
		int r = rfc3339_parse(t[i].s, strlen(t[i].s), &sec, &nsec);

		is_int(r, t[i].r, "time '%s'", t[i].s);
		if (r == 0 && t[i].r == 0)
			ok(sec == t[i].sec && nsec == t[i].nsec, "'%s' = %lld.%09u", t[i].s,
			   (long long)sec, nsec);
	}
}

/* A zinfo blob of @n checkpoints (in, out, bits), v2 or (first omitted) v1. */
static uint8_t *zinfo(const uint64_t (*ck)[3], uint32_t n, bool v1, size_t *len)
{
	uint32_t first = v1 ? 1 : 0;
	uint8_t *b, *p;

	*len = SOCI_ZINFO_HDR + (size_t)(n - first) * SOCI_ZINFO_CKPT;
	b = calloc(1, *len);
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(n >> (8 * i));
	b[4] = 0x00, b[5] = 0x00, b[6] = 0x01; /* span size 65536 */
	p = b + SOCI_ZINFO_HDR;
	for (uint32_t i = first; i < n; i++, p += SOCI_ZINFO_CKPT) {
		for (int k = 0; k < 8; k++) {
			p[k] = (uint8_t)(ck[i][0] >> (8 * k));
			p[8 + k] = (uint8_t)(ck[i][1] >> (8 * k));
		}
		p[16] = (uint8_t)ck[i][2];
	}
	return b;
}

static int zparse(const uint64_t (*ck)[3], uint32_t n, bool v1, uint64_t c, uint64_t u,
		  struct soci_zinfo *z)
{
	size_t len;
	uint8_t *b = zinfo(ck, n, v1, &len);
	int r = idx_soci_zinfo_parse(b, len, c, u, 1000, z);

	free(b);
	return r;
}

static void zinfos(void)
{
	static const uint64_t good[][3] = { { 10, 0, 0 }, { 5000, 70000, 3 }, { 9000, 140000, 0 } };
	static const uint64_t disorder[][3] = { { 10, 0, 0 }, { 9000, 70000, 0 }, { 5000, 140000, 0 } };
	static const uint64_t bits9[][3] = { { 10, 0, 0 }, { 5000, 70000, 9 } };
	static const uint64_t late0[][3] = { { 10, 5, 0 } };
	static const uint64_t tail[][3] = { { 10, 0, 0 }, { 5000, 70000, 0 }, { 9000, 100000, 0 } };
	struct soci_zinfo z;

	if (ok(zparse(good, 3, false, 10000, 200000, &z) == 0, "v2 zinfo parses")) {
		ok(z.n == 3 && z.n_used == 3 && z.span_size == 65536 && z.ck[1].bits == 3 &&
			   z.ck[1].window != NULL,
		   "its checkpoints");
		is_int(idx_soci_span_c_start(&z, 1), 4999, "a span with bits starts a byte early");
		is_int(idx_soci_span_c_end(&z, 1, 10000), 9000, "and ends at the next checkpoint");
		is_int(idx_soci_span_c_end(&z, 2, 10000), 10000, "the last at the blob's end");
		idx_soci_zinfo_free(&z);
	}
	if (ok(zparse(good, 3, true, 10000, 200000, &z) == 0, "v1 zinfo (checkpoint 0 left out) parses")) {
		ok(z.n == 3 && z.ck[0].in == 10 && z.ck[0].out == 0 && !z.ck[0].window,
		   "checkpoint 0 is implied: after a 10-byte header, zero window");
		idx_soci_zinfo_free(&z);
	}
	is_int(zparse(disorder, 3, false, 10000, 200000, &z), -EBADMSG, "checkpoints out of order");
	is_int(zparse(bits9, 2, false, 10000, 200000, &z), -EBADMSG, "9 bits");
	is_int(zparse(late0, 1, false, 10000, 200000, &z), -EBADMSG, "checkpoint 0 not at the start");
	is_int(zparse(good, 3, false, 8000, 200000, &z), -EBADMSG, "a checkpoint past the blob");
	if (ok(zparse(tail, 3, false, 10000, 100000, &z) == 0,
	       "a checkpoint at the tar's end (SOCI cuts there too) parses")) {
		is_int(z.n_used, 2, "but starts no span");
		idx_soci_zinfo_free(&z);
	}
	{
		size_t len;
		uint8_t *b = zinfo(good, 3, false, &len);

		is_int(idx_soci_zinfo_parse(b, len - 1, 10000, 200000, 1000, &z), -EBADMSG,
		       "a blob of neither version's size");
		is_int(idx_soci_zinfo_parse(b, len, 10000, 200000, 2, &z), -EFBIG,
		       "more checkpoints than allowed");
		free(b);
	}
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/*
 * A root table with one string field (id 0) at @str and, at 40, a vector
 * field (id 1): root uoffset at 0 -> table at 16, vtable at 8.
 */
static void fb_base(uint8_t *b, uint32_t str_rel, uint32_t vec_rel)
{
	memset(b, 0, 96);
	put32(b, 16);             /* root table at 16 */
	b[8] = 8, b[10] = 12;     /* vtable: 8 bytes, table 12 bytes */
	b[12] = 4, b[14] = 8;     /* field 0 at +4, field 1 at +8 */
	put32(b + 16, 8);         /* soffset: vtable at 16 - 8 */
	put32(b + 20, str_rel);   /* string at 20 + rel */
	put32(b + 24, vec_rel);   /* vector at 24 + rel */
}

static void flatbuffers(void)
{
	uint8_t b[96];
	struct sfb fb;
	struct idx_sfb_table t;
	struct sfb_vec v;
	const char *s;
	uint32_t n;

	fb_base(b, 20, 36); /* string at 40, vector at 60 */
	put32(b + 40, 3);
	memcpy(b + 44, "abc", 4);
	put32(b + 60, 2); /* 2 offsets: both to the string */
	put32(b + 64, 40 - 64);
	idx_sfb_init(&fb, b, sizeof(b));
	if (ok(idx_sfb_root(&fb, &t) == 0, "a hand-made buffer: root table")) {
		ok(idx_sfb_str(&t, 0, &s, &n) == 0 && n == 3 && strcmp(s, "abc") == 0, "its string");
		ok(idx_sfb_str(&t, 7, &s, &n) == 0 && s == NULL, "an id past the vtable: absent");
		is_int(idx_sfb_vector(&t, 1, 4, &v), 0, "its vector");
		is_int(idx_sfb_vec_str(&v, 0, &s, &n), -EBADMSG, "an element pointing backwards");
	}
	fb_base(b, 200, 36);
	idx_sfb_init(&fb, b, sizeof(b));
	ok(idx_sfb_root(&fb, &t) == 0 && idx_sfb_str(&t, 0, &s, &n) == -EBADMSG,
	   "a string offset out of the buffer");
	fb_base(b, 20, 36);
	put32(b + 40, 52); /* as long as the rest of the buffer: no room for its NUL */
	memset(b + 44, 'x', 52);
	idx_sfb_init(&fb, b, sizeof(b));
	ok(idx_sfb_root(&fb, &t) == 0 && idx_sfb_str(&t, 0, &s, &n) == -EBADMSG, "a string without its NUL");
	fb_base(b, 20, 36);
	put32(b + 40, 3);
	memcpy(b + 44, "a\0c", 4);
	idx_sfb_init(&fb, b, sizeof(b));
	ok(idx_sfb_root(&fb, &t) == 0 && idx_sfb_str(&t, 0, &s, &n) == -EBADMSG &&
		   idx_sfb_str_bin(&t, 0, &s, &n) == 0 && n == 3,
	   "a NUL inside: refused as a name, kept as a PAX value");
	fb_base(b, 20, 36);
	put32(b + 60, 1000);
	idx_sfb_init(&fb, b, sizeof(b));
	ok(idx_sfb_root(&fb, &t) == 0 && idx_sfb_vector(&t, 1, 4, &v) == -EBADMSG,
	   "a vector longer than the buffer");
	fb_base(b, 20, 36);
	put32(b + 40, 3);
	memcpy(b + 44, "abc", 4);
	idx_sfb_init(&fb, b, sizeof(b));
	fb.budget = 5;
	ok(idx_sfb_root(&fb, &t) == 0 && idx_sfb_str(&t, 0, &s, &n) == 0 &&
		   idx_sfb_str(&t, 0, &s, &n) == -EFBIG,
	   "the same bytes read past the budget (shared data)");
	memset(b, 0, sizeof(b));
	put32(b, 90); /* root table at 90: its soffset runs past the end */
	idx_sfb_init(&fb, b, sizeof(b));
	is_int(idx_sfb_root(&fb, &t), -EBADMSG, "a root table out of the buffer");
	put32(b, 16);
	put32(b + 16, (uint32_t)-80); /* vtable at 96: outside */
	is_int(idx_sfb_root(&fb, &t), -EBADMSG, "a vtable out of the buffer");
}

int main(void)
{
	times();
	zinfos();
	flatbuffers();
	return tap_done();
}
