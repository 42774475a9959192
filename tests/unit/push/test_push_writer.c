/* SPDX-License-Identifier: MIT */
/*
 * The seekable-layer writer: deterministic bytes, pax cases read back
 * through our own index, spans on member/frame boundaries, the blob
 * accepted by gzip(1), GNU tar and zstd(1), and the writer's index equal to
 * what idx_build() computes over the blob it wrote.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "index/index.h"
#include "tap.h"

#define SPAN (64u << 10)

struct mem {
	uint8_t *p;
	size_t len, cap;
	size_t rpos;
};

static int mem_sink(void *ctx, const void *buf, size_t n)
{
	struct mem *m = ctx;

	if (m->len + n > m->cap) {
		size_t nc = (m->len + n) * 2;
		uint8_t *q = realloc(m->p, nc);

		if (!q)
			return -ENOMEM;
		m->p = q;
		m->cap = nc;
	}
	memcpy(m->p + m->len, buf, n);
	m->len += n;
	return 0;
}

static ssize_t mem_stream(void *ctx, void *buf, size_t n)
{
	struct mem *m = ctx;
	size_t k = m->len - m->rpos < n ? m->len - m->rpos : n;

	memcpy(buf, m->p + m->rpos, k);
	m->rpos += k;
	return (ssize_t)k;
}

static ssize_t mem_read_at(void *ctx, void *buf, size_t n, uint64_t off)
{
	struct mem *m = ctx;

	if (off >= m->len)
		return 0;
	if (n > m->len - off)
		n = m->len - off;
	memcpy(buf, m->p + off, n);
	return (ssize_t)n;
}

static uint8_t *big_data(size_t n)
{
	uint8_t *d = malloc(n);
	uint32_t x = 12345;

	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245u + 12345u;
		/* half compressible: random bytes in runs */
		d[i] = (i / 64) % 2 ? (uint8_t)(x >> 24) : (uint8_t)(i / 4096);
	}
	return d;
}

#define BIG (300u * 1024 + 17)
static const uint8_t xval[] = { 0, 1, 2, 0xff, '\n', 'v' };
static const struct idx_xattr xattrs[] = {
	{ "user.bin", xval, sizeof(xval) },
	{ "security.capability", (const uint8_t *)"\x01\x00\x00\x02", 4 },
};
static char long_path[300], long_link[200];

static void make_entries(struct idx_entry *es, size_t *n)
{
	size_t i = 0;

	/* 5 x 50-byte components + a name: 271 bytes, more than ustar's 256 */
	memset(long_path, 'd', 250);
	for (size_t k = 1; k <= 5; k++)
		long_path[k * 50 - 1] = '/';
	memcpy(long_path + 250, "file-with-a-long-name", sizeof("file-with-a-long-name"));
	memset(long_link, 'L', 150);
	es[i++] = (struct idx_entry){ .type = IDX_T_DIR, .mode = 0755, .path = "" };
	es[i++] = (struct idx_entry){ .type = IDX_T_DIR, .mode = 0750, .uid = 1, .gid = 2,
				      .mtime_sec = 1700000000, .path = "etc" };
	es[i++] = (struct idx_entry){ .type = IDX_T_REG, .mode = 04755, .size = 5,
				      .mtime_sec = 1700000001, .mtime_nsec = 123456789,
				      .path = "etc/suid", .n_xattrs = 2, .xattrs = xattrs };
	es[i++] = (struct idx_entry){ .type = IDX_T_REG, .mode = 0644, .size = BIG,
				      .uid = 3000000, .gid = 4000000, .mtime_sec = -5,
				      .mtime_nsec = 250000000, .path = "big.bin" };
	es[i++] = (struct idx_entry){ .type = IDX_T_SYMLINK, .mode = 0777, .path = "lnk",
				      .link = long_link };
	es[i++] = (struct idx_entry){ .type = IDX_T_HARDLINK, .mode = 0644, .path = "etc/hard",
				      .link = "etc/suid" };
	es[i++] = (struct idx_entry){ .type = IDX_T_REG, .mode = 0600, .path = long_path };
	es[i++] = (struct idx_entry){ .type = IDX_T_REG, .mode = 0600, .path = "new\nline\xff\xfe" };
	es[i++] = (struct idx_entry){ .type = IDX_T_CHR, .mode = 0666, .dev_major = 1,
				      .dev_minor = 3, .path = "null" };
	es[i++] = (struct idx_entry){ .type = IDX_T_FIFO, .mode = 0644, .path = "fifo" };
	es[i++] = (struct idx_entry){ .type = IDX_T_WHITEOUT, .path = "etc/gone" };
	es[i++] = (struct idx_entry){ .type = IDX_T_OPAQUE, .path = "etc" };
	es[i++] = (struct idx_entry){ .type = IDX_T_REG, .mode = 0644, .size = 70000,
				      .mtime_sec = 0x300000000ll, .path = "z-after-2242" };
	*n = i;
}

/* Write the test layer; the data of big files goes in odd-sized pieces. */
static int write_layer(enum idx_comp comp, unsigned threads, struct mem *m, struct idx_layer **out)
{
	struct idx_writer_opts o = { .comp = comp, .span_size = SPAN, .threads = threads };
	struct idx_entry es[16];
	struct idx_writer *w = NULL;
	uint8_t *big = big_data(BIG);
	size_t n;
	int r;

	make_entries(es, &n);
	memset(m, 0, sizeof(*m));
	r = idx_writer_new(&o, mem_sink, m, &w);
	for (size_t i = 0; r == 0 && i < n; i++) {
		r = idx_writer_add(w, &es[i]);
		for (uint64_t off = 0; r == 0 && off < es[i].size; off += 9999) {
			size_t k = es[i].size - off < 9999 ? (size_t)(es[i].size - off) : 9999;

			r = idx_writer_data(w, big + off, k);
		}
	}
	if (r == 0)
		r = idx_writer_finish(w, out);
	idx_writer_free(w);
	free(big);
	return r;
}

static int save_file(const struct mem *m, const char *path)
{
	FILE *f = fopen(path, "wb");
	int ok_ = f && fwrite(m->p, 1, m->len, f) == m->len;

	if (f)
		ok_ = fclose(f) == 0 && ok_;
	return ok_ ? 0 : -EIO;
}

static void check_same_index(const struct idx_layer *wl, struct mem *m, const char *what)
{
	struct idx_build_opts bo = { .span_size = SPAN, .comp = IDX_COMP_AUTO };
	struct idx_layer *bl = NULL;
	void *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	int r;

	m->rpos = 0;
	r = idx_build(&bo, mem_stream, m, &bl, NULL);
	is_int(r, 0, "%s: idx_build over the written blob", what);
	if (r < 0)
		return;
	idx_save(wl, &a, &alen);
	idx_save(bl, &b, &blen);
	if (strncmp(what, "gzip", 4) != 0) {
		ok(alen == blen && memcmp(a, b, alen) == 0,
		   "%s: idx_save(writer) == idx_save(idx_build)", what);
	} else {
		/*
		 * One difference is right: gzidx ends the last span where inflate
		 * produced its last byte, before the last member's 8-byte trailer
		 * (CRC32, ISIZE); the writer knows the member's exact end.
		 */
		struct idx_info wi, bi;
		uint32_t n = idx_span_count(wl), diffs = 0;

		idx_layer_info(wl, &wi);
		idx_layer_info(bl, &bi);
		ok(memcmp(&wi, &bi, sizeof(wi)) == 0, "gzip: same info (digests, sizes, counts)");
		for (uint32_t i = 0; i < n; i++) {
			struct idx_span x = { 0 }, y = { 0 };

			idx_span_get(wl, i, &x);
			idx_span_get(bl, i, &y);
			if (i + 1 == n && x.c_end == m->len && y.c_end + 8 == m->len)
				y.c_end = x.c_end;
			diffs += memcmp(&x, &y, sizeof(x)) != 0;
		}
		is_int(diffs, 0, "gzip: same spans but the last one's trailer (%u spans)", n);
		diffs = 0;
		for (uint32_t i = 0; i < idx_entry_count(wl); i++) {
			const struct idx_entry *x = idx_entry_get(wl, i), *y = idx_entry_get(bl, i);

			diffs += !y || strcmp(x->path, y->path) != 0 || x->data_off != y->data_off ||
				 x->size != y->size || x->mode != y->mode;
		}
		is_int(diffs, 0, "gzip: same entries");
	}
	free(a);
	free(b);
	idx_layer_free(bl);
}

static void check_spans(const struct idx_layer *l, const struct mem *m, enum idx_comp comp,
			const char *what)
{
	uint32_t n = idx_span_count(l), bad = 0, bad_dec = 0;
	struct idx_span s;

	ok(n >= 6, "%s: several spans (%u)", what, n);
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *buf;

		idx_span_get(l, i, &s);
		if (i + 1 < n && s.u_len != SPAN)
			bad++;
		if (comp == IDX_COMP_GZIP && (m->p[s.c_start] != 0x1f || m->p[s.c_start + 1] != 0x8b))
			bad++;
		if (comp == IDX_COMP_ZSTD && memcmp(m->p + s.c_start, "\x28\xb5\x2f\xfd", 4) != 0)
			bad++;
		if (i + 1 < n && idx_span_get(l, i + 1, &(struct idx_span){ 0 }) == 0) {
			struct idx_span t;

			idx_span_get(l, i + 1, &t);
			if (t.c_start != s.c_end)
				bad++;
		} else if (s.c_end != m->len) {
			bad++;
		}
		buf = malloc(s.u_len);
		if (idx_span_decode(l, i, m->p + s.c_start, s.c_end - s.c_start, buf, s.u_len) != 0)
			bad_dec++;
		free(buf);
	}
	is_int(bad, 0, "%s: spans are span_size long and start on member/frame starts", what);
	is_int(bad_dec, 0, "%s: every span decodes alone from its exact bounds", what);
}

static const struct idx_entry *find(const struct idx_layer *l, const char *p)
{
	uint32_t id;

	return idx_entry_find(l, p, &id) == 0 ? idx_entry_get(l, id) : NULL;
}

static void check_entries(const struct idx_layer *l, struct mem *m)
{
	const struct idx_entry *e;
	struct idx_reader rd = { m, mem_read_at };
	uint8_t *big = big_data(BIG), *got = malloc(BIG);
	uint32_t id;

	e = find(l, "etc/suid");
	ok(e && e->mode == 04755 && e->mtime_sec == 1700000001 && e->mtime_nsec == 123456789,
	   "setuid mode and ns mtime");
	ok(e && e->n_xattrs == 2 && strcmp(e->xattrs[0].name, "user.bin") == 0 &&
		   e->xattrs[0].len == sizeof(xval) && memcmp(e->xattrs[0].value, xval, 6) == 0,
	   "binary xattr value survives pax");
	e = find(l, "big.bin");
	ok(e && e->uid == 3000000 && e->gid == 4000000, "uid/gid over 2^21 via pax");
	ok(e && e->mtime_sec == -5 && e->mtime_nsec == 250000000, "negative mtime with fraction");
	ok(idx_entry_find(l, "big.bin", &id) == 0 &&
		   idx_file_read(l, id, &rd, got, BIG, 0) == BIG && memcmp(got, big, BIG) == 0,
	   "big file content reads back through spans");
	e = find(l, "lnk");
	ok(e && e->type == IDX_T_SYMLINK && strlen(e->link) == 150, "long symlink target");
	e = find(l, long_path);
	ok(e && e->type == IDX_T_REG && strlen(long_path) == 271, "path over 256 bytes");
	e = find(l, "new\nline\xff\xfe");
	ok(e != NULL, "newline and non-UTF-8 bytes in a name kept");
	e = find(l, "etc/hard");
	ok(e && e->type == IDX_T_HARDLINK && strcmp(e->link, "etc/suid") == 0, "hardlink");
	e = find(l, "null");
	ok(e && e->type == IDX_T_CHR && e->dev_major == 1 && e->dev_minor == 3, "char device");
	e = find(l, "z-after-2242");
	ok(e && e->mtime_sec == 0x300000000ll, "mtime past the octal field via pax");
	ok(idx_entry_count(l) == 13, "all members indexed (%u)", idx_entry_count(l));
	free(big);
	free(got);
}

static int sh(const char *cmd)
{
	int r = system(cmd);

	return r == 0 ? 0 : -1;
}

static void run(enum idx_comp comp, const char *what)
{
	struct mem m1, m2;
	struct idx_layer *l1 = NULL, *l2 = NULL;
	char path[] = "/tmp/push-writer-XXXXXX", cmd[512];
	int fd, r;

	r = write_layer(comp, 3, &m1, &l1);
	is_int(r, 0, "%s: write the layer", what);
	/* gzip members are one-shot deflates: any thread count gives the same bytes */
	r = write_layer(comp, comp == IDX_COMP_GZIP ? 1 : 3, &m2, &l2);
	ok(r == 0 && m1.len == m2.len && memcmp(m1.p, m2.p, m1.len) == 0,
	   "%s: the same members give the same bytes%s", what,
	   comp == IDX_COMP_GZIP ? " (3 threads and 1)" : "");
	if (!l1)
		return;
	check_same_index(l1, &m1, what);
	check_spans(l1, &m1, comp, what);
	if (comp == IDX_COMP_GZIP)
		check_entries(l1, &m1);
	fd = mkstemp(path);
	close(fd);
	save_file(&m1, path);
	if (comp == IDX_COMP_GZIP) {
		snprintf(cmd, sizeof(cmd), "gzip -t < %s", path);
		ok(sh(cmd) == 0, "gzip -t accepts the blob");
		snprintf(cmd, sizeof(cmd),
			 "gzip -dc < %s | tar -t 2>/dev/null | grep -qx 'z-after-2242'", path);
		ok(sh(cmd) == 0, "gzip -dc | tar -t lists it");
		snprintf(cmd, sizeof(cmd),
			 "test \"$(gzip -dc < %s | tar -t 2>&1 | wc -l)\" -eq 13", path);
		ok(sh(cmd) == 0, "GNU tar lists every member without complaint");
	} else if (comp == IDX_COMP_ZSTD) {
		snprintf(cmd, sizeof(cmd), "zstd -q -t < %s", path);
		ok(sh(cmd) == 0, "zstd -t accepts the blob");
		snprintf(cmd, sizeof(cmd), "zstd -q -dc < %s | tar -t | grep -qx 'big.bin'", path);
		ok(sh(cmd) == 0, "zstd -dc | tar -t lists it");
	}
	unlink(path);
	idx_layer_free(l1);
	idx_layer_free(l2);
	free(m1.p);
	free(m2.p);
}

static void check_misuse(void)
{
	struct idx_writer_opts o = { .comp = IDX_COMP_GZIP, .span_size = SPAN };
	struct idx_entry f = { .type = IDX_T_REG, .mode = 0644, .size = 10, .path = "f" };
	struct idx_entry bad = { .type = IDX_T_SYMLINK, .path = "s" };
	struct idx_writer *w = NULL;
	struct idx_layer *l = NULL;
	struct mem m = { 0 };

	static uint8_t big[60000];
	char names[20][16];
	struct idx_xattr xs[20];
	struct idx_entry fat = { .type = IDX_T_REG, .mode = 0644, .path = "fat", .xattrs = xs,
				 .n_xattrs = 20 };
	struct idx_xattr eqx = { .name = "user.a=b", .value = big, .len = 1 };
	struct idx_entry eq = { .type = IDX_T_REG, .mode = 0644, .path = "eq", .xattrs = &eqx,
				.n_xattrs = 1 };

	for (int i = 0; i < 20; i++) {
		snprintf(names[i], sizeof(names[i]), "user.x%02d", i);
		xs[i] = (struct idx_xattr){ names[i], big, sizeof(big) };
	}
	ok(idx_writer_new(&o, mem_sink, &m, &w) == 0, "writer for misuse checks");
	is_int(idx_writer_add(w, &fat), -EFBIG,
	       "20 xattrs of 60 KB: a pax header over what tar readers take (1 MiB) is refused");
	is_int(idx_writer_add(w, &eq), -EINVAL, "an xattr name holding '=' is refused");
	is_int(idx_writer_add(w, &bad), -EINVAL, "a symlink without a target is refused");
	is_int(idx_writer_add(w, &f), 0, "add a 10-byte file");
	is_int(idx_writer_add(w, &f), -EINVAL, "another member before its data: -EINVAL");
	is_int(idx_writer_finish(w, &l), -EINVAL, "finish before its data: -EINVAL");
	idx_writer_free(w);
	free(m.p);
	o.span_size = 100;
	is_int(idx_writer_new(&o, mem_sink, &m, &w), -EINVAL, "span size out of range");
}

/* The end-of-archive blocks complete the last span exactly: no empty member after it. */
static void check_exact_end(enum idx_comp comp, const char *what)
{
	struct idx_writer_opts o = { .comp = comp, .span_size = SPAN, .threads = 2 };
	struct idx_entry f = { .type = IDX_T_REG, .mode = 0644, .size = 64000 + SPAN, .path = "f" };
	struct idx_writer *w = NULL;
	struct idx_layer *l = NULL;
	struct mem m = { 0 };
	uint8_t *data = big_data((size_t)f.size);
	struct idx_span sp;
	int r;

	r = idx_writer_new(&o, mem_sink, &m, &w);
	if (r == 0)
		r = idx_writer_add(w, &f);
	if (r == 0)
		r = idx_writer_data(w, data, (size_t)f.size);
	if (r == 0)
		r = idx_writer_finish(w, &l);
	is_int(r, 0, "%s: a tar of exactly 2 spans", what);
	ok(l && idx_span_count(l) == 2 && idx_span_get(l, 1, &sp) == 0 && sp.u_len == SPAN &&
		   sp.c_end == m.len,
	   "%s: two full spans, the last ending at the blob's end", what);
	/*
	 * Also a regression case for idx_zstdidx_build(): a last frame that ends with
	 * the decoder's output buffer exactly full was once taken for a
	 * truncated stream.
	 */
	if (l)
		check_same_index(l, &m, what);
	idx_writer_free(w);
	idx_layer_free(l);
	free(data);
	free(m.p);
}

int main(void)
{
	check_exact_end(IDX_COMP_GZIP, "gzip exact");
	check_exact_end(IDX_COMP_ZSTD, "zstd exact");
	run(IDX_COMP_GZIP, "gzip");
	run(IDX_COMP_ZSTD, "zstd");
	run(IDX_COMP_NONE, "tar");
	check_misuse();
	return tap_done();
}
