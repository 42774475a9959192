/* SPDX-License-Identifier: MIT */
/*
 * The zstd:chunked reader (index/zchunked*.c) on blobs laid out here the
 * way containers/storage writes them: a frame of "tar headers", one frame
 * per chunk, the TOC (zstd-compressed JSON) in a skippable frame, the
 * footer in another. Both footer sizes, the position annotation, RFC 3339
 * times; files of one and several chunks and a "zeros" hole read back
 * verified; and the refusals, each on a TOC that differs from the good one
 * in one respect. (Real blobs by skopeo: tests/integration/formats/.)
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "index/zchunked.h"
#include "index/zchunked_int.h"
#include "tap.h"
#include "test_index_span_util.h"
#include "common/clock.h"

/* The shared RFC 3339 parser (common/clock.h) on a C string. */
static int rfc3339_str(const char *x, int64_t *s, uint32_t *ns)
{
	return rfc3339_parse(x, strlen(x), s, ns);
}

#define BLOB_DIGEST "sha256:2222222222222222222222222222222222222222222222222222222222222222"

static uint8_t fa[3000], fc1[1024], fc3[1024];
static const char fb[] = "hello\n";

struct blob {
	uint8_t p[1 << 16];
	size_t len;
	uint64_t off[6], end[6]; /* frames: a1 a2 b c1 c2(zeros) c3 */
};

static void put(struct blob *b, const void *p, size_t n)
{
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void put_frame(struct blob *b, const uint8_t *p, size_t n)
{
	struct su_buf z = su_zstd(p, n, 1);

	put(b, z.p, z.len);
	free(z.p);
}

static void le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void hexsha(const void *p, size_t n, char out[DIGEST_STR_LEN])
{
	uint8_t sha[DIGEST_SHA256_LEN];

	digest_sha256(p, n, sha);
	digest_format(sha, out);
}

/* The data frames; the TOC is appended by finish(). */
static void data_frames(struct blob *b)
{
	static const uint8_t hdr[512] = "tar header stand-in";
	static const uint8_t zeros[2048];
	const uint8_t *parts[6] = { fa, fa + 1000, (const uint8_t *)fb, fc1, zeros, fc3 };
	const size_t lens[6] = { 1000, 2000, sizeof(fb) - 1, 1024, 2048, 1024 };

	b->len = 0;
	for (int i = 0; i < 6; i++) {
		if (i == 0 || i == 2 || i == 3)
			put_frame(b, hdr, sizeof(hdr));
		b->off[i] = b->len;
		put_frame(b, parts[i], lens[i]);
		b->end[i] = b->len;
	}
}

/* The good TOC; @mutate edits the text before it is compressed ("" = none). */
static size_t toc_json(const struct blob *b, char *out, size_t cap)
{
	char da[DIGEST_STR_LEN], a1[DIGEST_STR_LEN], a2[DIGEST_STR_LEN], db[DIGEST_STR_LEN],
		c1[DIGEST_STR_LEN], c3[DIGEST_STR_LEN], dc[DIGEST_STR_LEN];
	static uint8_t c[4096];

	memcpy(c, fc1, 1024);
	memset(c + 1024, 0, 2048);
	memcpy(c + 3072, fc3, 1024);
	hexsha(fa, 3000, da);
	hexsha(fa, 1000, a1);
	hexsha(fa + 1000, 2000, a2);
	hexsha(fb, sizeof(fb) - 1, db);
	hexsha(fc1, 1024, c1);
	hexsha(fc3, 1024, c3);
	hexsha(c, sizeof(c), dc);
	return (size_t)snprintf(out, cap,
		"{\"version\":1,\"entries\":["
		"{\"type\":\"dir\",\"name\":\"./\",\"mode\":493,\"modtime\":\"2023-11-14T22:13:20Z\"},"
		"{\"type\":\"dir\",\"name\":\"d/\",\"mode\":448,\"uid\":7,\"gid\":8,\"xattrs\":{\"user.x\":\"AP9/\"}},"
		"{\"type\":\"reg\",\"name\":\"d/a\",\"mode\":420,\"size\":3000,\"digest\":\"%s\","
		"\"offset\":%llu,\"endOffset\":%llu,\"chunkSize\":1000,\"chunkDigest\":\"%s\"},"
		"{\"type\":\"chunk\",\"name\":\"d/a\",\"offset\":%llu,\"chunkSize\":2000,\"chunkOffset\":1000,"
		"\"chunkDigest\":\"%s\"},"
		"{\"type\":\"reg\",\"name\":\"./b\",\"size\":6,\"digest\":\"%s\",\"offset\":%llu,\"endOffset\":%llu,"
		"\"modtime\":\"2023-11-14T23:13:20.5+01:00\"},"
		"{\"type\":\"reg\",\"name\":\"c.img\",\"size\":4096,\"digest\":\"%s\",\"offset\":%llu,"
		"\"endOffset\":%llu,\"chunkSize\":1024,\"chunkDigest\":\"%s\"},"
		"{\"type\":\"chunk\",\"name\":\"c.img\",\"offset\":%llu,\"chunkSize\":2048,\"chunkOffset\":1024,"
		"\"chunkType\":\"zeros\"},"
		"{\"type\":\"chunk\",\"name\":\"c.img\",\"offset\":%llu,\"chunkSize\":1024,\"chunkOffset\":3072,"
		"\"chunkDigest\":\"%s\"},"
		"{\"type\":\"reg\",\"name\":\"empty\"},"
		"{\"type\":\"hardlink\",\"name\":\"h\",\"linkName\":\"./b\"},"
		"{\"type\":\"symlink\",\"name\":\"s\",\"linkName\":\"../b\"},"
		"{\"type\":\"char\",\"name\":\"null\",\"devMajor\":1,\"devMinor\":3},"
		"{\"type\":\"reg\",\"name\":\"d/.wh.gone\"}"
		"]}",
		da, (unsigned long long)b->off[0], (unsigned long long)b->end[1], a1,
		(unsigned long long)b->off[1], a2, db, (unsigned long long)b->off[2],
		(unsigned long long)b->end[2], dc, (unsigned long long)b->off[3],
		(unsigned long long)b->end[5], c1, (unsigned long long)b->off[4],
		(unsigned long long)b->off[5], c3);
}

/* TOC @json in a skippable frame, then the footer (40 or 64 bytes); *loc where the TOC is. */
static void finish(struct blob *b, const char *json, unsigned footer, struct idx_toc_loc *loc)
{
	struct su_buf z = su_zstd((const uint8_t *)json, strlen(json), 1);
	uint8_t h[8], f[64] = { 0 };

	le32(h, 0x184D2A50u);
	le32(h + 4, (uint32_t)z.len);
	put(b, h, 8);
	*loc = (struct idx_toc_loc){ b->len, z.len, strlen(json), 1 };
	put(b, z.p, z.len);
	free(z.p);
	le32(h + 4, footer);
	put(b, h, 8);
	le64(f, loc->off);
	le64(f + 8, loc->len);
	le64(f + 16, loc->ulen);
	le64(f + 24, 1);
	memcpy(f + footer - 8, "GnUlInUx", 8);
	put(b, f, footer);
}

/* Load @json as the TOC of the data frames: the idx_zchunked_load_at() result. */
static int load(const char *json, struct blob *b, struct idx_layer **l)
{
	struct idx_foreign_opts o = { .blob_digest = BLOB_DIGEST };
	struct idx_toc_loc loc;

	data_frames(b);
	finish(b, json, 40, &loc);
	o.blob_size = b->len;
	*l = NULL;
	return idx_zchunked_load_at(b->p + loc.off, loc.len, &loc, &o, l);
}

static bool reads(const struct idx_layer *l, struct blob *b, const char *path, const void *want,
		  size_t n)
{
	struct su_mem m = { b->p, b->len };
	struct idx_reader rd = { &m, su_mem_read_at };
	static uint8_t buf[8192];
	uint32_t id;

	return idx_entry_find(l, path, &id) == 0 &&
	       idx_file_read(l, id, &rd, buf, sizeof(buf), 0) == (ssize_t)n && memcmp(buf, want, n) == 0;
}

static void test_good(void)
{
	static char json[8192];
	static struct blob b;
	static uint8_t c[4096];
	const struct idx_entry *e;
	struct idx_layer *l;
	struct idx_info info;
	uint32_t id;

	data_frames(&b);
	toc_json(&b, json, sizeof(json));
	is_int(load(json, &b, &l), 0, "a TOC as containers/storage writes it loads");
	if (!l)
		return;
	idx_layer_info(l, &info);
	ok(info.virtual_offsets && info.foreign == IDX_FOREIGN_ZSTD_CHUNKED, "virtual offsets, zstd:chunked");
	is_int(idx_span_count(l), 5, "one span per data chunk (the zeros chunk has none)");
	ok(reads(l, &b, "d/a", fa, 3000), "a file of two chunks reads back");
	ok(reads(l, &b, "b", fb, 6), "a file of one chunk reads back");
	memcpy(c, fc1, 1024);
	memcpy(c + 3072, fc3, 1024);
	ok(reads(l, &b, "c.img", c, 4096), "a file with a zeros chunk reads back, the hole as zeros");
	ok(idx_entry_find(l, "c.img", &id) == 0 && idx_entry_get(l, id)->sparse, "and is sparse");
	ok(idx_entry_find(l, "d", &id) == 0 && (e = idx_entry_get(l, id)) && e->mode == 0700 &&
		   e->uid == 7 && e->gid == 8 && e->n_xattrs == 1 && e->xattrs[0].len == 3 &&
		   memcmp(e->xattrs[0].value, "\x00\xff\x7f", 3) == 0,
	   "mode, owner and a base64 xattr");
	ok(idx_entry_find(l, "b", &id) == 0 && idx_entry_get(l, id)->mtime_sec == 1700000000 &&
		   idx_entry_get(l, id)->mtime_nsec == 500000000u,
	   "an RFC 3339 modtime with an offset and a fraction");
	ok(idx_entry_find(l, "h", &id) == 0 && idx_entry_get(l, id)->type == IDX_T_HARDLINK &&
		   strcmp(idx_entry_get(l, id)->link, "b") == 0, "a hardlink, its target normalised");
	ok(idx_entry_find(l, "null", &id) == 0 && idx_entry_get(l, id)->dev_minor == 3, "a char device");
	ok(idx_entry_find(l, "d/gone", &id) == 0 && idx_entry_get(l, id)->type == IDX_T_WHITEOUT,
	   "a .wh. file is a whiteout");
	idx_layer_free(l);
}

/* The good TOC with @from replaced by @to: must be refused. */
static void refused(const char *from, const char *to, const char *what)
{
	static char json[8192], bad[8192];
	static struct blob b;
	struct idx_layer *l;
	char *at;
	size_t n;

	data_frames(&b);
	toc_json(&b, json, sizeof(json));
	at = strstr(json, from);
	if (!at) {
		ok(0, "%s (no '%s' in the TOC)", what, from);
		return;
	}
	n = (size_t)(at - json);
	snprintf(bad, sizeof(bad), "%.*s%s%s", (int)n, json, to, at + strlen(from));
	is_int(load(bad, &b, &l), -EBADMSG, "refused: %s", what);
	idx_layer_free(l);
}

static void test_refusals(void)
{
	refused("\"version\":1", "\"version\":2", "version 2");
	refused("\"chunkOffset\":1000", "\"chunkOffset\":999", "a chunk that does not start where the last ended");
	refused("\"chunkSize\":2000", "\"chunkSize\":1999", "chunk sizes that do not add up to the size");
	refused("\"chunkType\":\"zeros\"", "\"chunkType\":\"ones\"", "an unknown chunkType");
	refused("{\"type\":\"chunk\",\"name\":\"d/a\"", "{\"type\":\"chunk\",\"name\":\"d/x\"",
		"a chunk that does not follow its file");
	refused("\"name\":\"./b\",\"size\":6,\"digest\"", "\"name\":\"./b\",\"size\":6,\"digestX\"",
		"a one-chunk file without a digest");
	refused("\"name\":\"d/a\",\"mode\":420", "\"name\":\"d/../../a\",\"mode\":420", "a name with '..'");
	refused("\"linkName\":\"./b\"", "\"linkName\":\"../b\"", "a hardlink target with '..'");
	refused("\"type\":\"dir\",\"name\":\"./\"", "\"type\":\"sock\",\"name\":\"./\"", "an unknown type");
	refused("\"modtime\":\"2023-11-14T22:13:20Z\"", "\"modtime\":\"2023-13-14T22:13:20Z\"", "a bad modtime");
	refused("\"AP9/\"", "\"A*9/\"", "an xattr that is not base64");
	refused("\"uid\":7", "\"uid\":-7", "a negative uid");
	refused("\"mode\":448,", "\"mode\":448,\"mode\":448,", "duplicate keys");
	refused("\"entries\":[", "\"entries\":{\"a\":[", "entries that are not an array");
}

/* Offsets that point outside the data frames, set in the good TOC's numbers. */
static void test_offsets(void)
{
	static char json[8192], bad[8192], num[32];
	static struct blob b;
	struct idx_layer *l;
	char *at;

	data_frames(&b);
	toc_json(&b, json, sizeof(json));
	/* the second chunk of d/a moved before the first one's start: overlap */
	snprintf(num, sizeof(num), "\"offset\":%llu,\"chunkSize\":2000", (unsigned long long)b.off[1]);
	at = strstr(json, num);
	snprintf(bad, sizeof(bad), "%.*s\"offset\":%llu,\"chunkSize\":2000%s", (int)(at - json), json,
		 (unsigned long long)b.off[0], at + strlen(num));
	is_int(load(bad, &b, &l), -EBADMSG, "refused: chunks that overlap");
	idx_layer_free(l);
	/* b's frame ending in the TOC */
	snprintf(num, sizeof(num), "\"endOffset\":%llu,\"modtime\"", (unsigned long long)b.end[2]);
	at = strstr(json, num);
	snprintf(bad, sizeof(bad), "%.*s\"endOffset\":%llu,\"modtime\"%s", (int)(at - json), json,
		 (unsigned long long)b.len + 10, at + strlen(num));
	is_int(load(bad, &b, &l), -EBADMSG, "refused: a frame that reaches into the TOC");
	idx_layer_free(l);
}

static void test_footer(void)
{
	static char json[8192];
	static struct blob b;
	struct idx_toc_loc loc, got;

	data_frames(&b);
	toc_json(&b, json, sizeof(json));
	finish(&b, json, 40, &loc);
	ok(idx_zchunked_footer(b.p + b.len - 72, 72, b.len, &got) == 0 && got.off == loc.off &&
		   got.len == loc.len && got.ulen == loc.ulen && got.type == 1,
	   "the 40-byte footer (containers/storage 1.43)");
	data_frames(&b);
	finish(&b, json, 64, &loc);
	ok(idx_zchunked_footer(b.p + b.len - 72, 72, b.len, &got) == 0 && got.off == loc.off &&
		   got.len == loc.len && got.ulen == loc.ulen, "the 64-byte footer (with tar-split fields)");
	b.p[b.len - 1] ^= 1;
	is_int(idx_zchunked_footer(b.p + b.len - 72, 72, b.len, &got), -EBADMSG, "a wrong magic");
	b.p[b.len - 1] ^= 1;
	le64(b.p + b.len - 64 + 8, loc.len + 100);
	is_int(idx_zchunked_footer(b.p + b.len - 72, 72, b.len, &got), -EBADMSG,
	       "a TOC that runs into the footer");
	le64(b.p + b.len - 64 + 8, loc.len);
	le32(b.p + b.len - 68, 56);
	is_int(idx_zchunked_footer(b.p + b.len - 72, 72, b.len, &got), -EBADMSG,
	       "a footer frame of another size");
	is_int(idx_zchunked_position("100:50:200:1", 1000, &got), 0, "a position annotation");
	ok(got.off == 100 && got.len == 50 && got.ulen == 200, "its numbers");
	is_int(idx_zchunked_position("100:50:200", 1000, &got), -EBADMSG, "three fields");
	is_int(idx_zchunked_position("100:50:200:2", 1000, &got), -EBADMSG, "type 2");
	is_int(idx_zchunked_position("990:50:200:1", 1000, &got), -EBADMSG, "past the blob");
	is_int(idx_zchunked_position("100:50:200:1 ", 1000, &got), -EBADMSG, "trailing junk");
	is_int(idx_zchunked_position("99999999999999999999:1:1:1", 1000, &got), -EBADMSG, "overflow");
}

static void test_time(void)
{
	int64_t s;
	uint32_t ns;

	ok(rfc3339_str("1970-01-01T00:00:00Z", &s, &ns) == 0 && s == 0 && ns == 0, "the epoch");
	ok(rfc3339_str("2023-11-14T22:13:20.123456789Z", &s, &ns) == 0 && s == 1700000000 &&
		   ns == 123456789, "nanoseconds");
	ok(rfc3339_str("1969-12-31T23:59:59-00:30", &s, &ns) == 0 && s == 1799, "before 1970, an offset");
	ok(rfc3339_str("2024-02-29T00:00:00Z", &s, &ns) == 0 && s == 1709164800, "a leap day");
	is_int(rfc3339_str("2023-11-14 22:13:20Z", &s, &ns), -EBADMSG, "no T");
	is_int(rfc3339_str("2023-11-14T22:13:20", &s, &ns), -EBADMSG, "no zone");
	is_int(rfc3339_str("2023-11-14T22:13:20.Z", &s, &ns), -EBADMSG, "an empty fraction");
	is_int(rfc3339_str("2023-11-31T22:13:20Z", &s, &ns), -EBADMSG, "November 31st");
}

static void test_size(void)
{
	static char json[8192];
	static struct blob b;
	struct idx_foreign_opts o = { .blob_digest = BLOB_DIGEST };
	struct idx_toc_loc loc;
	struct idx_layer *l = NULL;

	data_frames(&b);
	toc_json(&b, json, sizeof(json));
	finish(&b, json, 40, &loc);
	o.blob_size = b.len;
	loc.ulen--;
	is_int(idx_zchunked_load_at(b.p + loc.off, loc.len, &loc, &o, &l), -EBADMSG,
	       "a TOC longer than announced");
	loc.ulen += 2;
	is_int(idx_zchunked_load_at(b.p + loc.off, loc.len, &loc, &o, &l), -EBADMSG,
	       "a TOC shorter than announced");
	loc.ulen--;
	is_int(idx_zchunked_load_at(b.p + loc.off, loc.len - 1, &loc, &o, &l), -EBADMSG,
	       "a truncated TOC");
	is_int(idx_zchunked_load(b.p + loc.off, loc.len, &o, &l), 0, "the same TOC without a place");
	idx_layer_free(l);
}

int main(void)
{
	uint64_t seed = 7;

	su_fill(fa, sizeof(fa), &seed);
	su_fill(fc1, sizeof(fc1), &seed);
	su_fill(fc3, sizeof(fc3), &seed);
	test_good();
	test_refusals();
	test_offsets();
	test_footer();
	test_time();
	test_size();
	return tap_done();
}
