/* SPDX-License-Identifier: MIT */
/*
 * The tar reader on valid archives it used to refuse or misread: zero-padded
 * pax numbers, several 'x' headers before one member, the Solaris 'X'
 * header, the message for a pax header with no member after it, and
 * names cleaned the way containerd cleans them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/dbuf.h"
#include "common/log.h"
#include "index/tar_int.h"
#include "tap.h"
#include "test_index_tar_util.h"

static int on_entry(void *ctx, const struct tar_entry *e)
{
	struct dbuf *d = ctx;

	dbuf_printf(d, "'%s' t%d %u:%u %" PRId64 ".%09u size=%" PRIu64, e->path, e->type, e->uid,
		    e->gid, e->mtime_sec, e->mtime_nsec, e->size);
	for (uint32_t i = 0; i < e->n_xattrs; i++)
		dbuf_printf(d, " x:%s", e->xattrs[i].name);
	dbuf_add_str(d, "\n");
	return 0;
}

/*
 * Parse @w whole and byte by byte (results must agree); the entries in
 * *text, what was logged in *log (both the caller's to free).
 */
static int parse(const struct tw *w, char **text, char **log)
{
	struct tar_callbacks cb = { .on_entry = on_entry };
	int rs[2], saved = dup(2);
	char *texts[2];
	FILE *f = tmpfile();
	long n;

	dup2(fileno(f), 2);
	for (int k = 0; k < 2; k++) {
		struct tar_parser *p = NULL;
		struct dbuf d;

		dbuf_init(&d, 1 << 20);
		dbuf_add_str(&d, "");
		rs[k] = idx_tar_parser_new(&cb, &d, &p);
		for (size_t pos = 0; rs[k] == 0 && pos < w->len; pos += k ? 1 : w->len)
			rs[k] = idx_tar_parser_feed(p, w->buf + pos, k ? 1 : w->len);
		if (rs[k] == 0)
			rs[k] = idx_tar_parser_finish(p);
		idx_tar_parser_free(p);
		texts[k] = dbuf_take(&d, NULL);
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = ftell(f);
	*log = calloc(1, (size_t)n + 1);
	rewind(f);
	if (fread(*log, 1, (size_t)n, f) != (size_t)n)
		abort();
	fclose(f);
	ok(rs[0] == rs[1] && strcmp(texts[0], texts[1]) == 0, "same result whole and byte by byte");
	*text = texts[0];
	free(texts[1]);
	return rs[0];
}

static void check(const struct tw *w, int want_r, const char *want_text, const char *what)
{
	char *text, *log;
	int r = parse(w, &text, &log);

	is_int(r, want_r, "%s: result", what);
	if (want_text)
		is_str(text, want_text, "%s: entries", what);
	if (r != want_r)
		printf("# log: %s", log);
	free(text);
	free(log);
}

static void test_zero_padded_numbers(void)
{
	struct tw w = { 0 }, rec = { 0 };
	struct tw_hdr h = { .name = "padded", .size = 0 };
	char data[999];

	memset(data, 'z', sizeof(data));
	tw_pax_str(&rec, "size", "000000000000000000000999");
	tw_pax_str(&rec, "uid", "00000000000000000000000001000");
	tw_pax_str(&rec, "gid", "0");
	tw_pax_str(&rec, "mtime", "0000000000000000000001700000000.5");
	tw_pax(&w, 'x', &rec);
	tw_header(&w, &h, 0);
	tw_put(&w, data, sizeof(data));
	tw_pad(&w);
	tw_eof(&w);
	check(&w, 0, "'padded' t0 1000:0 1700000000.500000000 size=999\n",
	      "zero-padded pax size, uid, gid, mtime");
	tw_free(&w);

	tw_pax_str(&rec, "uid", "0000000000000000000004294967296");
	tw_pax(&w, 'x', &rec);
	tw_file(&w, "f", "");
	tw_eof(&w);
	check(&w, -EBADMSG, NULL, "zero-padded pax uid still bounded");
	tw_free(&w);
}

static void test_several_x(void)
{
	struct tw w = { 0 }, rec = { 0 };

	tw_pax_str(&rec, "path", "first");
	tw_pax_str(&rec, "mtime", "1");
	tw_pax_str(&rec, "uid", "5");
	tw_pax_str(&rec, "SCHILY.xattr.user.a", "1");
	tw_pax(&w, 'x', &rec);
	tw_pax_str(&rec, "mtime", "2");
	tw_pax(&w, 'x', &rec);
	tw_file(&w, "member", "abc");
	tw_file(&w, "next", "");
	tw_eof(&w);
	check(&w, 0, "'member' t0 0:0 2.000000000 size=3\n'next' t0 0:0 1700000000.000000000 size=0\n",
	      "of two 'x' headers only the last applies");
	tw_free(&w);
}

static void test_solaris_x(void)
{
	struct tw w = { 0 }, rec = { 0 };
	struct tw_hdr h = { .name = "X/header", .type = 'X', .size = -1 };

	tw_pax_str(&rec, "mtime", "123.25");
	tw_pax_str(&rec, "SCHILY.xattr.user.s", "v");
	tw_add(&w, &h, rec.buf, rec.len);
	tw_free(&rec);
	tw_file(&w, "m", "data");
	tw_eof(&w);
	check(&w, 0, "'m' t0 0:0 123.250000000 size=4 x:user.s\n",
	      "'X' is a pax extended header, not a file");
	tw_free(&w);
}

static void test_pax_then_nothing(void)
{
	struct tw w = { 0 }, rec = { 0 };
	char *text, *log;

	tw_pax_str(&rec, "path", "lonely");
	tw_pax(&w, 'x', &rec);
	is_int(parse(&w, &text, &log), -EBADMSG, "pax header then end of stream: -EBADMSG");
	ok(strstr(log, "ends after the pax extended header at offset 0, with no member") != NULL,
	   "message says what it is: '%.*s'", (int)strcspn(log, "\n"), log);
	free(text);
	free(log);
	tw_eof(&w);
	is_int(parse(&w, &text, &log), -EBADMSG, "pax header then end-of-archive blocks: -EBADMSG");
	ok(strstr(log, "end of archive right after the pax extended header at offset 0") != NULL,
	   "message: '%.*s'", (int)strcspn(log, "\n"), log);
	free(text);
	free(log);
	tw_free(&w);
}

static void test_clean_names(void)
{
	struct tw w = { 0 };

	tw_file(&w, "a/../b", "b");
	tw_file(&w, "../../up", "u");
	tw_file(&w, "x/..", "lands on the root");
	tw_dir(&w, "../");
	tw_file(&w, "next", "");
	tw_eof(&w);
	check(&w, 0,
	      "'b' t0 0:0 1700000000.000000000 size=1\n'up' t0 0:0 1700000000.000000000 size=1\n"
	      "'' t1 0:0 1700000000.000000000 size=0\n'next' t0 0:0 1700000000.000000000 size=0\n",
	      "names cleaned as containerd does; a file on the root is ignored");
	tw_free(&w);
}

int main(void)
{
	log_set_level(LOG_LVL_ERR);
	test_zero_padded_numbers();
	test_several_x();
	test_solaris_x();
	test_pax_then_nothing();
	test_clean_names();
	return tap_done();
}
