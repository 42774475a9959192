/* SPDX-License-Identifier: MIT */
/*
 * The tar push parser on archives written here byte by byte: every header
 * flavour layers contain, fed in several chunkings that must all give the
 * same entries, and hostile archives that must fail with the right code.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "common/dbuf.h"
#include "common/log.h"
#include "index/tar_int.h"
#include "tap.h"
#include "test_index_tar_util.h"

struct got {
	struct dbuf text; /* one line per entry */
	int abort_at;     /* return -ECANCELED at this entry (1-based), 0: never */
	int n;
};

static const char *type_name(enum idx_type t)
{
	static const char *names[] = { "reg", "dir", "sym", "hard", "chr", "blk", "fifo", "wh",
				       "opq" };

	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

static int on_entry(void *ctx, const struct tar_entry *e)
{
	struct got *g = ctx;

	if (++g->n == g->abort_at)
		return -ECANCELED;
	dbuf_printf(&g->text, "%s '%s' %04o %u:%u %" PRId64 ".%09u size=%" PRIu64 " dev=%u,%u off=%" PRIu64 " hdr=%" PRIu64,
		    type_name(e->type), e->path, e->mode, e->uid, e->gid, e->mtime_sec,
		    e->mtime_nsec, e->size, e->dev_major, e->dev_minor, e->data_off, e->header_off);
	if (e->link)
		dbuf_printf(&g->text, " -> '%s'", e->link);
	for (uint32_t i = 0; i < e->n_xattrs; i++) {
		dbuf_printf(&g->text, " x:%s=", e->xattrs[i].name);
		for (uint32_t k = 0; k < e->xattrs[i].len; k++)
			dbuf_printf(&g->text, "%02x", e->xattrs[i].value[k]);
	}
	dbuf_add_str(&g->text, "\n");
	return 0;
}

/* Parse @w with chunk size @chunk (0: random sizes); returns the first error. */
static int parse(const struct tw *w, size_t len, size_t chunk, struct got *g)
{
	struct tar_callbacks cb = { .on_entry = on_entry };
	struct tar_parser *p = NULL;
	size_t pos = 0;
	int r;

	dbuf_init(&g->text, 1 << 24);
	g->n = 0;
	r = idx_tar_parser_new(&cb, g, &p);
	if (r < 0)
		return r;
	while (pos < len && r == 0) {
		size_t k = chunk ? chunk : (size_t)(rand() % 1500) + 1;

		if (k > len - pos)
			k = len - pos;
		r = idx_tar_parser_feed(p, w->buf + pos, k);
		pos += k;
	}
	if (r == 0)
		r = idx_tar_parser_finish(p);
	idx_tar_parser_free(p);
	return r;
}

/* Parse in 5 chunkings; they must agree. Returns the result, text in *out. */
static int parse_all(const struct tw *w, size_t len, char **out)
{
	static const size_t chunks[] = { 1 << 30, 1, 7, 512, 0, 0 };
	struct got g0 = { 0 };
	int r0 = parse(w, len, chunks[0], &g0);
	bool same = true;

	for (size_t i = 1; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		struct got g = { 0 };
		int r = parse(w, len, chunks[i], &g);

		if (r != r0 || strcmp(g.text.data ? g.text.data : "", g0.text.data ? g0.text.data : ""))
			same = false;
		dbuf_release(&g.text);
	}
	ok(same, "same result in chunks of all sizes");
	*out = dbuf_take(&g0.text, NULL);
	if (!*out)
		*out = strdup("");
	return r0;
}

static bool has_line(const char *text, const char *needle)
{
	bool found = strstr(text, needle) != NULL;

	if (!found)
		printf("# missing '%s' in:\n%s", needle, text);
	return found;
}

static void test_ustar_basic(void)
{
	struct tw w = { 0 };
	struct tw_hdr dev = { .name = "dev/null", .type = '3', .mode = 0666, .devmajor = 1,
			      .devminor = 3, .size = -1 };
	struct tw_hdr blk = { .name = "dev/sda", .type = '4', .mode = 0660, .devmajor = 8,
			      .devminor = 0, .gid = 6, .size = -1 };
	struct tw_hdr fifo = { .name = "run/fifo", .type = '6', .mode = 0600, .size = -1 };
	struct tw_hdr pre = { .name = "file.txt", .prefix = "deep/prefix/dir", .size = -1,
			      .mode = 04755, .uid = 1000, .gid = 1001, .mtime = 1234567890 };
	char *t;
	int r;

	tw_dir(&w, "./");
	tw_dir(&w, "./etc/");
	tw_file(&w, "./etc/passwd", "root:x:0:0\n");
	tw_file(&w, "/abs//x/./y", "abs");
	tw_link(&w, '2', "etc/sym", "../target/../x");
	tw_link(&w, '1', "etc/hard", "./etc//passwd");
	tw_add(&w, &dev, NULL, 0);
	tw_add(&w, &blk, NULL, 0);
	tw_add(&w, &fifo, NULL, 0);
	tw_add(&w, &pre, "12345", 5);
	tw_eof(&w);
	r = parse_all(&w, w.len, &t);
	is_int(r, 0, "ustar archive parses");
	ok(has_line(t, "dir '' 0755 0:0 1700000000.000000000 size=0 dev=0,0 off=512 hdr=0\n"),
	   "'./' is the root");
	ok(has_line(t, "dir 'etc' 0755"), "'./etc/' is 'etc'");
	ok(has_line(t, "reg 'etc/passwd' 0644 0:0 1700000000.000000000 size=11 dev=0,0 off=1536 hdr=1024\n"),
	   "regular file with its data offset");
	ok(w.len > 1536 + 11 && memcmp(w.buf + 1536, "root:x:0:0\n", 11) == 0, "data_off points at the content");
	ok(has_line(t, "reg 'abs/x/y'"), "absolute path stripped, // and /./ collapsed");
	ok(has_line(t, "sym 'etc/sym' 0777") && has_line(t, "-> '../target/../x'"),
	   "symlink target kept verbatim");
	ok(has_line(t, "hard 'etc/hard'") && has_line(t, "-> 'etc/passwd'"),
	   "hardlink target normalised");
	ok(has_line(t, "chr 'dev/null' 0666 0:0 0.000000000 size=0 dev=1,3"), "char device");
	ok(has_line(t, "blk 'dev/sda' 0660 0:6 0.000000000 size=0 dev=8,0"), "block device");
	ok(has_line(t, "fifo 'run/fifo' 0600"), "fifo");
	ok(has_line(t, "reg 'deep/prefix/dir/file.txt' 4755 1000:1001 1234567890.000000000 size=5"),
	   "ustar prefix joined, suid kept");
	free(t);
	tw_free(&w);
}

static void test_gnu(void)
{
	struct tw w = { 0 };
	struct tw_hdr big = { .name = "big", .fmt = TW_GNU, .size = 0, .b256_size = true,
			      .uid = 3000000000ll, .gid = 077777777ll + 1, .b256_uid = true,
			      .mtime = -86400, .b256_mtime = true };
	struct tw_hdr v7dir = { .name = "olddir/", .type = '\0', .raw_type = true, .fmt = TW_V7,
				.size = -1 };
	struct tw_hdr cont = { .name = "contig", .type = '7', .size = -1 };
	struct tw_hdr sun = { .name = "caf\xc3\xa9\xff\xfe", .signed_sum = true, .size = -1 };
	char longp[301], longl[260], *t, want[700];
	int r;

	memset(longp, 'p', 300);
	longp[300] = '\0';
	longp[100] = longp[200] = '/';
	memset(longl, 'l', 259);
	longl[259] = '\0';
	tw_gnu_long(&w, 'L', longp);
	tw_gnu_long(&w, 'K', longl);
	tw_link(&w, '2', "trunc-name", "trunc-link");
	tw_add(&w, &big, NULL, 0);
	tw_add(&w, &v7dir, NULL, 0);
	tw_add(&w, &cont, "c", 1);
	tw_add(&w, &sun, "s", 1);
	tw_eof(&w);
	tw_zeros(&w, 10240 - w.len % 10240); /* GNU tar record padding */
	r = parse_all(&w, w.len, &t);
	is_int(r, 0, "gnu archive parses");
	snprintf(want, sizeof(want), "sym '%s' 0777 0:0 1700000000.000000000 size=0 dev=0,0 off=2560 hdr=0 -> '%s'\n",
		 longp, longl);
	ok(has_line(t, want), "GNU long name and long link, header_off at the first L");
	ok(has_line(t, "reg 'big' 0644 3000000000:16777216 -86400.000000000 size=0"),
	   "base-256 uid/gid and negative base-256 mtime");
	ok(has_line(t, "dir 'olddir'"), "v7 regular entry with a trailing slash is a dir");
	ok(has_line(t, "reg 'contig' 0644 0:0 0.000000000 size=1"), "contiguous '7' is regular");
	ok(has_line(t, "reg 'caf\xc3\xa9\xff\xfe'"), "signed-sum checksum (old Sun tar) accepted");
	free(t);
	tw_free(&w);
}

static void test_base256_size(void)
{
	struct tw w = { 0 };
	struct tw_hdr h = { .name = "f", .size = 3, .b256_size = true };
	struct tw_hdr neg = { .name = "n", .size = -5, .b256_size = true };
	char *t;

	tw_add(&w, &h, "abc", 3);
	tw_eof(&w);
	is_int(parse_all(&w, w.len, &t), 0, "base-256 size parses");
	ok(has_line(t, "reg 'f' 0644 0:0 0.000000000 size=3"), "base-256 size value");
	free(t);
	tw_free(&w);

	tw_header(&w, &neg, 0);
	tw_eof(&w);
	is_int(parse_all(&w, w.len, &t), -EBADMSG, "negative size is -EBADMSG");
	free(t);
	tw_free(&w);
}

static void test_pax(void)
{
	struct tw w = { 0 }, rec = { 0 };
	struct tw_hdr h = { .name = "trunc", .size = -1 };
	static const uint8_t cap[] = { 0x01, 0x00, 0x00, 0x02, 0x00, 0x10, 0x00, 0x00, '\n', '=' };
	char longp[4001], *t, want[4200];
	int r;

	memset(longp, 'q', 4000);
	longp[4000] = '\0';
	for (int i = 100; i < 4000; i += 100)
		longp[i] = '/';
	tw_pax_str(&rec, "SCHILY.xattr.user.global", "g1");
	tw_pax_str(&rec, "SCHILY.xattr.user.gone", "g2");
	tw_pax_str(&rec, "uid", "77");
	tw_pax(&w, 'g', &rec);
	tw_pax_str(&rec, "path", longp);
	tw_pax_str(&rec, "mtime", "1700000000.123456789123");
	tw_pax_str(&rec, "uid", "4294967295");
	tw_pax_str(&rec, "gname", "ignored");
	tw_pax_rec(&rec, "SCHILY.xattr.security.capability", cap, sizeof(cap));
	tw_pax_str(&rec, "LIBARCHIVE.xattr.user.caf%C3%A9%3D", "aGk=");
	tw_pax_str(&rec, "atime", "garbage is ignored");
	tw_pax(&w, 'x', &rec);
	tw_add(&w, &h, "hello", 5);
	tw_pax_str(&rec, "SCHILY.xattr.user.gone", "");
	tw_pax(&w, 'g', &rec);
	tw_pax_str(&rec, "mtime", "-1.25");
	tw_pax_str(&rec, "size", "2");
	tw_pax_str(&rec, "path", "");
	tw_pax_str(&rec, "linkpath", "pax/target");
	tw_pax(&w, 'x', &rec);
	h.name = "neg";
	h.type = '1';
	h.link = "ignored";
	tw_add(&w, &h, NULL, 0);
	h.type = '0';
	h.link = NULL;
	h.size = 99;
	tw_pax_str(&rec, "size", "2");
	tw_pax(&w, 'x', &rec);
	tw_add(&w, &h, "ab", 2);
	tw_eof(&w);
	r = parse_all(&w, w.len, &t);
	is_int(r, 0, "pax archive parses");
	snprintf(want, sizeof(want), "reg '%s' 0644 4294967295:0 1700000000.123456789 size=5", longp);
	ok(has_line(t, want), "pax path, uid and fractional mtime (truncated to ns)");
	ok(has_line(t, " hdr=1024 x:security.capability=01000002001000000a3d x:user.caf\xc3\xa9==6869\n"),
	   "binary SCHILY xattrs, libarchive xattr decoded; a global header's xattrs not applied");
	ok(has_line(t, "hard 'neg' 0644 0:0 -2.750000000 size=0") &&
	   has_line(t, "-> 'pax/target'\n"),
	   "negative fractional mtime, linkpath; a global header's uid and xattrs not applied");
	ok(has_line(t, "reg 'neg' 0644 0:0 0.000000000 size=2"), "pax size overrides the header size");
	free(t);
	tw_free(&w);
}

static void test_whiteouts(void)
{
	struct tw w = { 0 };
	char *t;

	tw_file(&w, "a/.wh.b", "");
	tw_file(&w, "a/b/.wh..wh..opq", "");
	tw_file(&w, ".wh..wh..opq", "");
	tw_file(&w, ".wh..wh.plnk/x", "");
	tw_file(&w, ".wh..wh.aufs", "");
	tw_file(&w, ".wh.top", "x");
	tw_eof(&w);
	is_int(parse_all(&w, w.len, &t), 0, "whiteouts parse");
	ok(has_line(t, "wh 'a/b' 0644"), "whiteout names the hidden path");
	ok(has_line(t, "opq 'a/b' 0644"), "opaque names its dir");
	ok(has_line(t, "opq '' 0644"), "root opaque is ''");
	ok(has_line(t, "wh 'top' 0644 0:0 1700000000.000000000 size=0"), "top-level whiteout, size 0");
	ok(strstr(t, "aufs") == NULL, "aufs metadata skipped");
	ok(has_line(t, "reg '.wh..wh.plnk/x'"), "only the base name counts as metadata");
	free(t);
	tw_free(&w);
}

static void test_endings(void)
{
	struct tw w = { 0 };
	struct got g = { 0 };
	char *t;

	/* umoci 0.4.7: no padding after the last member, no EOF blocks */
	tw_file(&w, "a", "1");
	tw_file(&w, "b", "xyz");
	is_int(parse_all(&w, w.len - 509, &t), 0, "tar ending right after the last member's data");
	ok(has_line(t, "reg 'b'"), "its last member is reported");
	free(t);
	is_int(parse_all(&w, w.len, &t), 0, "tar ending after the padding, no EOF blocks");
	free(t);
	is_int(parse_all(&w, w.len - 510, &t), -EBADMSG, "truncated mid-data");
	free(t);
	is_int(parse_all(&w, 1024 + 100, &t), -EBADMSG, "truncated mid-header");
	free(t);
	is_int(parse_all(&w, 512, &t), -EBADMSG, "truncated before the data");
	free(t);
	tw_zeros(&w, 512);
	tw_put(&w, "garbage", 7);
	is_int(parse_all(&w, w.len, &t), 0, "trailing garbage after an EOF block is a warning");
	free(t);
	tw_free(&w);
	is_int(parse_all(&w, 0, &t), 0, "an empty stream is an empty archive");
	free(t);

	tw_file(&w, "a", "1");
	tw_file(&w, "b", "2");
	g.abort_at = 2;
	is_int(parse(&w, w.len, 3, &g), -ECANCELED, "callback error aborts the parse");
	dbuf_release(&g.text);
	tw_free(&w);
}

/* One hostile archive per row: how to build it, and the expected code. */
static void hostile_build(struct tw *w, int c)
{
	struct tw rec = { 0 };
	struct tw_hdr h = { .name = "f", .size = -1 };
	char *big;

	switch (c) {
	case 0: tw_file(w, "a/.wh..", "x"); break;
	case 1: tw_pax_rec(&rec, "path", "a\0b", 3); tw_pax(w, 'x', &rec); tw_file(w, "f", ""); break;
	case 2: tw_put(&rec, "99 path=x\n", 10); tw_pax(w, 'x', &rec); tw_file(w, "f", ""); break;
	case 3: tw_put(&rec, "5 path=x\n", 9); tw_pax(w, 'x', &rec); tw_file(w, "f", ""); break;
	case 4:
		big = calloc(1, (1 << 20) + 1);
		memset(big, 'a', 1 << 20);
		tw_pax_str(&rec, "comment", big);
		free(big);
		tw_pax(w, 'x', &rec);
		tw_file(w, "f", "");
		break;
	case 5: h.size = INT64_C(1) << 62; h.b256_size = true; tw_header(w, &h, 0); break;
	case 6: h.bad_sum = true; tw_add(w, &h, NULL, 0); break;
	case 7: tw_link(w, '1', "h", "a/.."); break;
	case 8: tw_link(w, '1', "h", "./"); break;
	case 9: h.type = 'S'; tw_add(w, &h, NULL, 0); break;
	case 10: tw_pax_str(&rec, "GNU.sparse.major", "1"); tw_pax_str(&rec, "GNU.sparse.name", "sp");
		tw_pax(w, 'x', &rec); tw_file(w, "GNUSparseFile.0/sp", ""); break;
	case 11: tw_pax_str(&rec, "mtime", "12x"); tw_pax(w, 'x', &rec); tw_file(w, "f", ""); break;
	case 12: tw_pax_str(&rec, "uid", "4294967296"); tw_pax(w, 'x', &rec); tw_file(w, "f", ""); break;
	case 13: tw_pax_str(&rec, "path", "x"); tw_pax(w, 'x', &rec); tw_eof(w); break;
	case 14: h.uid = -1; tw_add(w, &h, NULL, 0); break;
	case 15: tw_put(&rec, "0 path=x\n", 9); tw_pax(w, 'x', &rec); tw_file(w, "f", ""); break;
	case 16: tw_pax_str(&rec, "pathnoequals", ""); rec.buf[rec.len - 2] = 'x'; tw_pax(w, 'x', &rec); tw_file(w, "f", ""); break;
	case 17: big = calloc(1, 70000); memset(big, 'v', 69999);
		tw_pax_str(&rec, "SCHILY.xattr.user.big", big); free(big);
		tw_pax(w, 'x', &rec); tw_file(w, "f", ""); break;
	case 18: tw_file(w, ".", "not a dir"); break;
	case 19: h.type = 'M'; tw_add(w, &h, NULL, 0); break;
	case 20: tw_gnu_long(w, 'L', "x/../../.wh..."); tw_file(w, "f", ""); break;
	case 22:
		big = calloc(1, 400001);
		memset(big, 'g', 400000);
		for (int i = 0; i < 3; i++) {
			char key[32];

			snprintf(key, sizeof(key), "comment%d", i);
			tw_pax_str(&rec, key, big);
			tw_pax(w, 'g', &rec);
		}
		free(big);
		tw_file(w, "f", "");
		break;
	case 21: big = calloc(1, 5001); memset(big, 'p', 5000);
		tw_pax_str(&rec, "path", big); free(big);
		tw_pax(w, 'x', &rec); tw_file(w, "f", ""); break;
	}
	tw_eof(w);
}

static void test_hostile(void)
{
	static const struct { int code; const char *what; } rows[] = {
		{ -EBADMSG, "whiteout of '.' (containerd: invalid whiteout name)" },
		{ -EBADMSG, "NUL in a pax path" },
		{ -EBADMSG, "pax record length longer than the payload" },
		{ -EBADMSG, "pax record length shorter than the record" },
		{ -EFBIG, "pax payload over 1 MiB" },
		{ -EFBIG, "size of 2^62" },
		{ -EBADMSG, "bad checksum" },
		{ -EBADMSG, "hardlink target 'a/..' cleans to nothing" },
		{ -EBADMSG, "hardlink with an empty target" },
		{ 0, "old GNU sparse with an empty map: an empty file" },
		{ -ENOTSUP, "pax sparse of an unknown version (1.-)" },
		{ -EBADMSG, "bad pax mtime" },
		{ -EBADMSG, "pax uid over 32 bits" },
		{ -EBADMSG, "pax header then end of archive" },
		{ -EBADMSG, "negative uid" },
		{ -EBADMSG, "pax record length 0" },
		{ -EBADMSG, "pax record without '='" },
		{ -EFBIG, "xattr value over IDX_MAX_XATTR_VALUE" },
		{ 0, "a regular file at the root path is ignored (containerd)" },
		{ -ENOTSUP, "multi-volume continuation" },
		{ -EBADMSG, "GNU long name of a whiteout of '..'" },
		{ -EFBIG, "path longer than IDX_MAX_PATH" },
		{ 0, "global pax records adding up to over 1 MiB: not kept (containerd ignores them)" },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct tw w = { 0 };
		char *t;

		hostile_build(&w, (int)i);
		is_int(parse_all(&w, w.len, &t), rows[i].code, "hostile: %s", rows[i].what);
		free(t);
		tw_free(&w);
	}
}

static void test_normalise(void)
{
	static const struct { const char *in; int r; const char *out; } rows[] = {
		{ "./a/b/", 3, "a/b" }, { "/", 0, "" }, { ".", 0, "" }, { "//a//b//", 3, "a/b" },
		{ "a/./b/.", 3, "a/b" }, { "..", 0, "" }, { "a/..b", 5, "a/..b" },
		{ "a/../b", 1, "b" }, { "...", 3, "..." }, { "../../etc/x", 5, "etc/x" },
		{ "/a/b/../../../c/./d/..", 1, "c" }, { "a/b/..", 1, "a" },
	};
	char out[64];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int r = idx_tar_path_normalise(rows[i].in, strlen(rows[i].in), out, sizeof(out));

		is_int(r, rows[i].r, "normalise '%s'", rows[i].in);
		if (r >= 0)
			is_str(out, rows[i].out, "normalise '%s' value", rows[i].in);
	}
	is_int(idx_tar_path_normalise("abcdef", 6, out, 4), -EFBIG, "normalise: too long");
}

int main(void)
{
	srand(42);
	log_set_level(LOG_LVL_ERR);
	test_ustar_basic();
	test_gnu();
	test_base256_size();
	test_pax();
	test_whiteouts();
	test_endings();
	test_hostile();
	test_normalise();
	return tap_done();
}
