/* SPDX-License-Identifier: MIT */
/*
 * The eStargz reader (index/estargz*.c) on blobs written in memory as
 * stargz-snapshotter 0.12 writes them (test_index_estargz_util.h). The
 * oracle is idx_build() over the same bytes (an eStargz blob is a valid
 * tar.gz): same entries, same file contents. Then what must be refused,
 * and what must never be served (a chunk that does not match its digest).
 */
#include <string.h>
#include <errno.h>

#include "index/estargz.h"
#include "index/estargz_int.h"
#include "tap.h"
#include "test_index_estargz_util.h"
#include "test_index_span_util.h"
#include "common/clock.h"

/* The shared RFC 3339 parser (common/clock.h) on a C string. */
static int rfc3339_str(const char *x, int64_t *s, uint32_t *ns)
{
	return rfc3339_parse(x, strlen(x), s, ns);
}

static uint8_t big[300000];

static struct idx_foreign_opts opts_of(const struct ew *w, char digest[DIGEST_STR_LEN])
{
	ew_sha(w->blob.buf, w->blob.len, digest);
	return (struct idx_foreign_opts){ .blob_digest = digest, .blob_size = w->blob.len };
}

static int load(const struct ew *w, const char *pin, struct idx_layer **out)
{
	char d[DIGEST_STR_LEN];
	struct idx_foreign_opts o = opts_of(w, d);
	struct idx_toc_loc loc;
	int r;

	*out = NULL;
	r = idx_estargz_footer(w->blob.buf + w->blob.len - 51, 51, w->blob.len, &loc);
	if (r < 0)
		return r;
	return idx_estargz_load_pinned(w->blob.buf + loc.off, (size_t)loc.len, &o, pin, out);
}

static void base_layer(struct ew *w, unsigned big_flags)
{
	memset(w, 0, sizeof(*w));
	ew_dir(w, "./", 0755);
	ew_dir(w, "d/", 0700);
	ew_file(w, "d/small.txt", (const uint8_t *)"hello\n", 6, 0, 0);
	ew_file(w, "d/empty", NULL, 0, 0, 0);
	ew_file(w, "big.bin", big, sizeof(big), 65536, big_flags);
	ew_link(w, '2', "d/sym", "small.txt");
	ew_link(w, '1', "d/hard", "d/small.txt");
	ew_file(w, "d/.wh.gone", NULL, 0, 0, 0);
	ew_file(w, "tail.txt", (const uint8_t *)"the end\n", 8, 0, 0);
}

static ssize_t read_all(const struct idx_layer *l, const struct ew *w, const char *path,
			uint8_t *buf, size_t cap)
{
	struct su_mem m = { w->blob.buf, w->blob.len };
	struct idx_reader rd = { &m, su_mem_read_at };
	uint32_t id;

	if (idx_entry_find(l, path, &id) < 0)
		return -ENOENT;
	return idx_file_read(l, id, &rd, buf, cap, 0);
}

/* Every entry of @got equals the one of @want at the same path, contents too. */
static int same_layer(const struct idx_layer *got, const struct idx_layer *want, const struct ew *w)
{
	static uint8_t a[sizeof(big)], b[sizeof(big)];
	struct su_mem m = { w->blob.buf, w->blob.len };
	struct idx_reader rd = { &m, su_mem_read_at };
	int bad = 0;

	if (idx_entry_count(got) != idx_entry_count(want)) {
		printf("# %u entries, the tar has %u\n", idx_entry_count(got), idx_entry_count(want));
		return 0;
	}
	for (uint32_t i = 0; i < idx_entry_count(want); i++) {
		const struct idx_entry *e = idx_entry_get(want, i), *g;
		uint32_t gid;

		if (idx_entry_find(got, e->path, &gid) < 0 || !(g = idx_entry_get(got, gid))) {
			printf("# '%s' missing\n", e->path);
			bad++;
			continue;
		}
		if (g->type != e->type || g->mode != e->mode || g->uid != e->uid || g->gid != e->gid ||
		    g->mtime_sec != e->mtime_sec || g->size != e->size ||
		    (e->link && (!g->link || strcmp(e->link, g->link) != 0))) {
			printf("# '%s' differs\n", e->path);
			bad++;
		}
		if (e->type == IDX_T_REG && e->size &&
		    (idx_file_read(got, gid, &rd, a, sizeof(a), 0) != (ssize_t)e->size ||
		     idx_file_read(want, i, &rd, b, sizeof(b), 0) != (ssize_t)e->size ||
		     memcmp(a, b, (size_t)e->size) != 0)) {
			printf("# content of '%s' differs\n", e->path);
			bad++;
		}
	}
	return bad == 0;
}

/* idx_file_sha_fn over the blob of the struct ew in @ctx */
static int file_sha(void *ctx, const struct idx_layer *l, uint32_t id, uint8_t sha[DIGEST_SHA256_LEN])
{
	static uint8_t buf[sizeof(big)];
	const struct ew *w = ctx;
	struct su_mem m = { w->blob.buf, w->blob.len };
	struct idx_reader rd = { &m, su_mem_read_at };
	ssize_t n = idx_file_read(l, id, &rd, buf, sizeof(buf), 0);

	if (n < 0)
		return (int)n;
	digest_sha256(buf, (size_t)n, sha);
	return 0;
}

static void test_equals_tar(bool legacy)
{
	struct idx_layer *l, *t = NULL;
	struct idx_info info;
	struct ew w;
	char pin[DIGEST_STR_LEN];
	int r;

	base_layer(&w, 0);
	ew_finish(&w, legacy);
	snprintf(pin, sizeof(pin), "%s", w.toc_digest);
	if (legacy) {
		struct idx_toc_loc loc;
		char d[DIGEST_STR_LEN];
		struct idx_foreign_opts o = opts_of(&w, d);

		is_int(idx_estargz_footer(w.blob.buf, w.blob.len, w.blob.len, &loc), 0,
		       "legacy: 47-byte footer read");
		is_int(loc.type, IDX_ESTARGZ_LEGACY, "legacy: its type");
		r = idx_estargz_load(w.blob.buf + loc.off, (size_t)loc.len, &o, &l);
	} else {
		r = load(&w, pin, &l);
	}
	is_int(r, 0, "%s: loads (pinned: %s)", legacy ? "legacy" : "eStargz", legacy ? "no" : "yes");
	is_int(su_build(w.blob.buf, w.blob.len, 64 << 10, &t, NULL), 0, "the same blob builds as tar.gz");
	if (r == 0 && t) {
		unsigned n_diff = 1;

		ok(same_layer(l, t, &w), "%s: entries and contents equal the tar's", legacy ? "legacy" : "eStargz");
		ok(idx_layer_compare(l, t, file_sha, &w, &n_diff) == 0 && n_diff == 0,
		   "... and so says the whole-layer check (idx_layer_compare)");
		idx_layer_info(l, &info);
		is_int(info.foreign, IDX_FOREIGN_ESTARGZ, "foreign: estargz");
		ok(info.virtual_offsets, "virtual offsets");
		is_int(info.n_spans, 1 + 5 + 1 + 1, "one span per chunk, one for the TOC file");
	}
	idx_layer_free(l);
	idx_layer_free(t);
	ew_free(&w);
}

static void test_pin(void)
{
	struct idx_layer *l;
	struct ew w;
	char pin[DIGEST_STR_LEN];

	base_layer(&w, 0);
	ew_finish(&w, false);
	snprintf(pin, sizeof(pin), "%s", w.toc_digest);
	pin[10] = pin[10] == 'a' ? 'b' : 'a';
	is_int(load(&w, pin, &l), -EBADMSG, "a TOC its pin does not match is refused");
	ok(l == NULL, "and nothing is returned");
	is_int(load(&w, "sha256:nothex", &l), -EBADMSG, "a malformed pin is refused");
	ew_free(&w);
}

static void test_bad_chunk(void)
{
	struct idx_layer *l;
	static uint8_t buf[sizeof(big)];
	struct ew w;

	base_layer(&w, EW_BAD_CHUNK_DIGEST);
	ew_finish(&w, false);
	is_int(load(&w, w.toc_digest, &l), 0, "a pinned TOC with a wrong chunkDigest loads");
	if (l) {
		is_int(read_all(l, &w, "big.bin", buf, sizeof(buf)), -EBADMSG,
		       "the file of the wrong chunk reads -EBADMSG, never wrong bytes");
		is_int(read_all(l, &w, "d/small.txt", buf, sizeof(buf)), 6, "the other files read");
		ok(memcmp(buf, "hello\n", 6) == 0, "with their bytes");
	}
	idx_layer_free(l);
	ew_free(&w);
}

static void test_chunk_forms(void)
{
	struct idx_layer *l;
	static uint8_t buf[sizeof(big)];
	struct ew w;

	base_layer(&w, EW_LAST_SIZE_0);
	ew_finish(&w, false);
	is_int(load(&w, w.toc_digest, &l), 0, "chunkSize 0 = to the end of the file");
	if (l)
		ok(read_all(l, &w, "big.bin", buf, sizeof(buf)) == sizeof(big) &&
		   memcmp(buf, big, sizeof(big)) == 0, "and the file reads whole");
	idx_layer_free(l);
	ew_free(&w);

	base_layer(&w, EW_NO_CHUNK_DIGEST);
	ew_finish(&w, false);
	is_int(load(&w, w.toc_digest, &l), -EBADMSG, "chunks with no digest are refused");
	ew_free(&w);

	base_layer(&w, EW_INNER_OFFSET);
	ew_finish(&w, false);
	is_int(load(&w, w.toc_digest, &l), -ENOTSUP, "innerOffset is not read (-ENOTSUP)");
	ew_free(&w);

	base_layer(&w, EW_SHORT);
	ew_finish(&w, false);
	is_int(load(&w, w.toc_digest, &l), -EBADMSG, "chunks that do not cover the file are refused");
	ew_free(&w);
}

/* A hand-written TOC after a base layer's data. */
static int load_json(const char *json)
{
	struct idx_layer *l;
	struct ew w;
	int r;

	base_layer(&w, 0);
	ew_finish_json(&w, json, false);
	r = load(&w, w.toc_digest, &l);
	idx_layer_free(l);
	ew_free(&w);
	return r;
}

static void test_refused(void)
{
	struct idx_layer *l;
	struct ew w;
	char d[DIGEST_STR_LEN];
	struct idx_toc_loc loc;

	is_int(load_json("{\"version\":1,\"entries\":[]}"), 0, "an empty TOC loads (the TOC file alone)");
	is_int(load_json("{\"version\":2,\"entries\":[]}"), -ENOTSUP, "version 2: -ENOTSUP");
	is_int(load_json("[1,2]"), -EBADMSG, "not an object");
	is_int(load_json("{\"version\":1}"), -EBADMSG, "no entries");
	is_int(load_json("{\"version\":1,\"entries\":[{\"name\":\"a\",\"type\":\"socket\"}]}"),
	       -EBADMSG, "unknown type");
	is_int(load_json("{\"version\":1,\"entries\":[{\"name\":\"a\",\"type\":\"chunk\",\"offset\":5}]}"),
	       -EBADMSG, "a chunk with no file");
	is_int(load_json("{\"version\":1,\"entries\":[{\"name\":\"a\",\"type\":\"reg\",\"size\":1,"
			 "\"offset\":99999999,\"digest\":\"sha256:" "0000000000000000000000000000000000000000000000000000000000000000\"}]}"),
	       -EBADMSG, "a chunk past the TOC");
	is_int(load_json("{\"version\":1,\"entries\":[{\"name\":\"a\",\"type\":\"reg\",\"mode\":-1}]}"),
	       -EBADMSG, "a negative mode");
	is_int(load_json("{\"version\":1,\"entries\":[{\"name\":\"a\",\"type\":\"symlink\"}]}"),
	       -EBADMSG, "a symlink with no target");
	is_int(load_json("{\"version\":1,\"entries\":[{\"name\":\"a\",\"type\":\"dir\",\"modtime\":\"yesterday\"}]}"),
	       -EBADMSG, "a bad modtime");
	is_int(load_json("{\"version\":1,\"entries\":[{\"name\":\"a\",\"type\":\"dir\",\"xattrs\":{\"user.x\":\"!!\"}}]}"),
	       -EBADMSG, "an xattr that is not base64");
	is_int(load_json("{\"version\":1,\"version\":1,\"entries\":[]}"), -EBADMSG, "duplicate keys");

	base_layer(&w, 0);
	ew_finish(&w, false);
	is_int(idx_estargz_footer(w.blob.buf, w.blob.len - 1, w.blob.len - 1, &loc), -EBADMSG,
	       "a cut footer is no footer");
	w.blob.buf[w.blob.len - 51 + 20] ^= 1;
	is_int(idx_estargz_footer(w.blob.buf, w.blob.len, w.blob.len, &loc), -EBADMSG,
	       "a footer with a bad offset digit");
	w.blob.buf[w.blob.len - 51 + 20] ^= 1;
	w.blob.buf[w.toc_off + 40] ^= 0x55; /* inside the TOC member's deflate data */
	{
		struct idx_foreign_opts o = opts_of(&w, d);

		is_int(idx_estargz_load(w.blob.buf + w.toc_off, w.blob.len - w.toc_off, &o, &l),
		       -EBADMSG, "a corrupt TOC member");
		is_int(idx_estargz_load(w.blob.buf + w.toc_off + 1, w.blob.len - w.toc_off - 1, &o, &l),
		       -EBADMSG, "TOC bytes that do not start at the footer's offset");
	}
	ew_free(&w);
}

static void test_time(void)
{
	int64_t s;
	uint32_t ns;

	ok(rfc3339_str("2023-11-14T22:13:20Z", &s, &ns) == 0 && s == 1700000000 && ns == 0, "RFC 3339 UTC");
	ok(rfc3339_str("2023-11-15T07:13:20+09:00", &s, &ns) == 0 && s == 1700000000, "with an offset");
	ok(rfc3339_str("1969-12-31T23:59:59.5Z", &s, &ns) == 0 && s == -1 && ns == 500000000,
	   "before 1970, with a fraction");
	ok(rfc3339_str("2023-11-14T22:13:20", &s, &ns) < 0, "no zone: refused");
	ok(rfc3339_str("2023-13-14T22:13:20Z", &s, &ns) < 0, "month 13: refused");
	ok(rfc3339_str("2023-11-14T22:13:20+09", &s, &ns) < 0, "half an offset: refused");
}

int main(void)
{
	uint64_t seed = 7;

	su_fill(big, sizeof(big), &seed);
	test_equals_tar(false);
	test_equals_tar(true);
	test_pin();
	test_bad_chunk();
	test_chunk_forms();
	test_refused();
	test_time();
	printf("1..%d\n", tap_n);
	return tap_failed != 0;
}
