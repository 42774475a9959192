/* SPDX-License-Identifier: MIT */
/*
 * GNU sparse members in every spelling (old GNU 'S' with extension blocks,
 * pax 0.0, 0.1, 1.0), through the whole index: built, read back at every
 * kind of offset (holes read as zeros without touching the blob), saved
 * and loaded; hostile maps refused by the parser, hostile extent tables
 * refused by the loader.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>

#include "common/log.h"
#include "index/layer_int.h"
#include "tap.h"
#include "test_index_tree_util.h"

struct ext {
	uint64_t off, len;
};

/* A file of @real bytes whose data is @x (the rest zeros); a pattern per byte. */
static uint8_t *content(const struct ext *x, size_t n, uint64_t real, struct tw *packed)
{
	uint8_t *c = calloc(1, real + 1);

	for (size_t i = 0; i < n; i++) {
		for (uint64_t k = 0; k < x[i].len; k++)
			c[x[i].off + k] = (uint8_t)(1 + (x[i].off + k) * 7 % 251);
		tw_put(packed, c + x[i].off, x[i].len);
	}
	return c;
}

/* Re-checksum a header block written by tw_header() and patched after. */
static void resum(uint8_t *b)
{
	uint64_t sum = 0;

	memset(b + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += b[i];
	snprintf((char *)b + 148, 8, "%06llo", (unsigned long long)sum);
	b[155] = ' ';
}

static void gnu_pair(uint8_t *f, const struct ext *x)
{
	tw_octal(f, 12, x->off);
	tw_octal(f + 12, 12, x->len);
}

/* Old GNU: 4 pairs in the header, 21 per extension block. */
static void add_gnu(struct tw *w, const char *name, const struct ext *x, size_t n, uint64_t real,
		    const struct tw *data)
{
	struct tw_hdr h = { .name = name, .type = 'S', .fmt = TW_GNU, .size = (int64_t)data->len };
	size_t at = w->len, i;

	tw_header(w, &h, data->len);
	for (i = 0; i < n && i < 4; i++)
		gnu_pair(w->buf + at + 386 + 24 * i, &x[i]);
	w->buf[at + 482] = n > 4;
	tw_octal(w->buf + at + 483, 12, real);
	resum(w->buf + at);
	while (i < n) {
		uint8_t b[512] = { 0 };

		for (size_t k = 0; k < 21 && i < n; k++, i++)
			gnu_pair(b + 24 * k, &x[i]);
		b[504] = i < n;
		tw_put(w, b, 512);
	}
	tw_put(w, data->buf, data->len);
	tw_pad(w);
}

enum pax_ver { V00, V01, V10 };

static void add_pax(struct tw *w, enum pax_ver v, const char *name, const struct ext *x, size_t n,
		    uint64_t real, const struct tw *data)
{
	struct tw rec = { 0 }, map = { 0 };
	struct tw_hdr h = { .name = "GNUSparseFile.7/ignored", .size = -1 };
	char num[64];

	snprintf(num, sizeof(num), "%" PRIu64, real);
	if (v == V10) {
		tw_pax_str(&rec, "GNU.sparse.major", "1");
		tw_pax_str(&rec, "GNU.sparse.minor", "0");
		tw_pax_str(&rec, "GNU.sparse.realsize", num);
		snprintf(num, sizeof(num), "%zu\n", n);
		tw_put(&map, num, strlen(num));
	} else {
		tw_pax_str(&rec, "GNU.sparse.size", num);
		snprintf(num, sizeof(num), "%zu", n);
		tw_pax_str(&rec, "GNU.sparse.numblocks", num);
	}
	tw_pax_str(&rec, "GNU.sparse.name", name);
	tw_pax_str(&rec, "path", "a pax path loses to GNU.sparse.name");
	for (size_t i = 0; i < n; i++) {
		if (v == V00) {
			snprintf(num, sizeof(num), "%" PRIu64, x[i].off);
			tw_pax_str(&rec, "GNU.sparse.offset", num);
			snprintf(num, sizeof(num), "%" PRIu64, x[i].len);
			tw_pax_str(&rec, "GNU.sparse.numbytes", num);
			continue;
		}
		if (v == V10)
			snprintf(num, sizeof(num), "%" PRIu64 "\n%" PRIu64 "\n", x[i].off, x[i].len);
		else
			snprintf(num, sizeof(num), "%s%" PRIu64 ",%" PRIu64, i ? "," : "", x[i].off,
				 x[i].len);
		tw_put(&map, num, strlen(num));
	}
	if (v == V01) {
		tw_put(&map, "", 1);
		tw_pax_str(&rec, "GNU.sparse.map", (const char *)map.buf);
		tw_free(&map);
	}
	tw_pax(w, 'x', &rec);
	if (v == V10)
		tw_zeros(&map, (512 - map.len % 512) % 512);
	tw_header(w, &h, map.len + data->len);
	tw_put(w, map.buf, map.len);
	tw_put(w, data->buf, data->len);
	tw_pad(w);
	tw_free(&map);
}

struct counting {
	const uint8_t *p;
	size_t len;
	unsigned reads;
};

static ssize_t count_read(void *ctx, void *buf, size_t n, uint64_t off)
{
	struct counting *c = ctx;

	c->reads++;
	if (off >= c->len)
		return 0;
	n = n < c->len - off ? n : c->len - off;
	memcpy(buf, c->p + off, n);
	return (ssize_t)n;
}

/* Read @e back at many offsets and lengths; all must equal @want. */
static bool reads_match(const struct idx_layer *l, uint32_t id, const uint8_t *want, uint64_t real,
			struct counting *c)
{
	struct idx_reader rd = { c, count_read };
	uint8_t *buf = malloc(real + 1);
	bool same = true;

	for (unsigned i = 0; i < 200 && same; i++) {
		uint64_t off = i == 0 ? 0 : (uint64_t)rand() % (real + 1);
		size_t n = i == 0 ? real : (size_t)rand() % 9000;
		ssize_t got = idx_file_read(l, id, &rd, buf, n, off);
		uint64_t exp = off >= real ? 0 : (n < real - off ? n : real - off);

		same = got == (ssize_t)exp && memcmp(buf, want + off, exp) == 0;
		if (!same)
			printf("# read %zu at %" PRIu64 ": got %zd\n", n, off, got);
	}
	free(buf);
	return same;
}

static const struct ext map_a[] = { { 0, 3 }, { 4096, 100 }, { 8192, 4096 }, { 20000, 1 },
				    { 30000, 600 }, { 40000, 0 } };

/* idx_build_opts.on_file: the content digest of "dir/sparse", holes as zeros. */
struct file_sum {
	uint8_t sha[DIGEST_SHA256_LEN];
	uint64_t size;
	unsigned calls;
};

static int on_file(void *ctx, const char *path, uint64_t size, const uint8_t sha[DIGEST_SHA256_LEN])
{
	struct file_sum *f = ctx;

	if (strcmp(path, "dir/sparse") == 0) {
		memcpy(f->sha, sha, DIGEST_SHA256_LEN);
		f->size = size;
		f->calls++;
	}
	return 0;
}

static ssize_t mem_stream(void *ctx, void *buf, size_t n)
{
	struct counting *c = ctx;

	/* Odd-sized chunks: a file's data must hash right across chunk ends. */
	n = n < 777 ? n : 777;
	n = n < c->len - c->reads ? n : c->len - c->reads;
	memcpy(buf, c->p + c->reads, n);
	c->reads += (unsigned)n;
	return (ssize_t)n;
}

static void check_sum(const struct tw *copy, const char *what, const uint8_t *want, uint64_t real)
{
	struct file_sum f = { 0 };
	struct idx_build_opts o = { .comp = IDX_COMP_NONE, .on_file = on_file, .on_file_ctx = &f };
	struct counting c = { copy->buf, copy->len, 0 };
	uint8_t sha[DIGEST_SHA256_LEN];
	struct idx_layer *l = NULL;

	digest_sha256(want, real, sha);
	ok(idx_build(&o, mem_stream, &c, &l, NULL) == 0 && f.calls == 1 && f.size == real &&
		   memcmp(f.sha, sha, sizeof(sha)) == 0,
	   "%s: the per-file digest is the sha256 of the content with its holes", what);
	idx_layer_free(l);
}

static void check_layer(struct tw *w, const char *what, const uint8_t *want, uint64_t real,
			uint32_t want_ext, uint64_t hole_at, size_t hole_len)
{
	struct tw copy = { 0 };
	struct idx_layer *l, *l2 = NULL;
	const struct idx_entry *e;
	struct counting c;
	uint64_t tar_off;
	uint32_t id = 0;
	void *buf = NULL;
	size_t len = 0;

	tw_put(&copy, w->buf, w->len);
	tw_eof(&copy);
	check_sum(&copy, what, want, real);
	l = tt_layer(w);
	ok(l && idx_entry_find(l, "dir/sparse", &id) == 0, "%s: indexed, found by its real name", what);
	if (!l)
		return;
	e = idx_entry_get(l, id);
	ok(e->sparse && e->size == real && e->n_extents == want_ext,
	   "%s: sparse, apparent size, %u extents (got %u)", what, want_ext, e->n_extents);
	c = (struct counting){ copy.buf, copy.len, 0 };
	ok(reads_match(l, id, want, real, &c), "%s: reads at random offsets equal the file", what);
	c.reads = 0;
	ok(idx_entry_map(e, 5000, 100, &tar_off) == 100 && tar_off == UINT64_MAX, "%s: a hole maps to nothing",
	   what);
	{
		uint8_t hole[3000];
		struct idx_reader rd = { &c, count_read };

		memset(hole, 0xee, sizeof(hole));
		ok(idx_file_read(l, id, &rd, hole, hole_len, hole_at) == (ssize_t)hole_len &&
		   hole[0] == 0 && hole[hole_len - 1] == 0 && c.reads == 0,
		   "%s: a read inside a hole is zeros and reads nothing", what);
	}
	ok(idx_save(l, &buf, &len) == 0 && idx_load(buf, len, &l2) == 0 &&
	   idx_entry_get(l2, id)->n_extents == want_ext, "%s: saved and loaded back", what);
	c.reads = 0;
	ok(l2 && reads_match(l2, id, want, real, &c), "%s: the loaded index reads the same", what);
	free(buf);
	idx_layer_free(l2);
	idx_layer_free(l);
	tw_free(&copy);
}

static void test_spellings(void)
{
	struct tw packed = { 0 };
	uint8_t *want = content(map_a, 6, 50000, &packed);
	struct ext many[40];
	uint8_t *want_many;
	struct tw packed_many = { 0 }, w = { 0 };

	tw_dir(&w, "dir/");
	add_gnu(&w, "dir/sparse", map_a, 6, 50000, &packed);
	check_layer(&w, "old GNU 'S', one extension block", want, 50000, 5, 4196, 3000);
	for (int v = V00; v <= V10; v++) {
		static const char *names[] = { "pax 0.0", "pax 0.1", "pax 1.0" };

		tw_dir(&w, "dir/");
		add_pax(&w, v, "dir/sparse", map_a, 6, 50000, &packed);
		check_layer(&w, names[v], want, 50000, 5, 4196, 3000);
	}
	/* 40 extents: two old GNU extension blocks, a pax 1.0 map over one block */
	for (int i = 0; i < 40; i++)
		many[i] = (struct ext){ (uint64_t)i * 1000 + 100 * (i % 3), 1 + (uint64_t)i * 7 };
	want_many = content(many, 40, 41000, &packed_many);
	add_gnu(&w, "dir/sparse", many, 40, 41000, &packed_many);
	check_layer(&w, "old GNU 'S', two extension blocks", want_many, 41000, 40, 39500, 1000);
	add_pax(&w, V10, "dir/sparse", many, 40, 41000, &packed_many);
	check_layer(&w, "pax 1.0, a map over 512 bytes", want_many, 41000, 40, 39500, 1000);
	free(want);
	free(want_many);
	tw_free(&packed);
	tw_free(&packed_many);
}

static void test_normal_forms(void)
{
	static const struct ext whole[] = { { 0, 10 }, { 10, 20 } }, none[] = { { 500, 0 } };
	struct tw packed = { 0 }, w = { 0 };
	uint8_t *want = content(whole, 2, 30, &packed);
	struct idx_layer *l;
	const struct idx_entry *e;
	uint32_t id;

	add_pax(&w, V01, "f", whole, 2, 30, &packed);
	l = tt_layer(&w);
	e = l && idx_entry_find(l, "f", &id) == 0 ? idx_entry_get(l, id) : NULL;
	ok(e && !e->sparse && e->size == 30, "a map without a hole is a plain file");
	idx_layer_free(l);
	tw_free(&packed);
	free(want);
	add_pax(&w, V10, "f", none, 1, 500, &packed);
	l = tt_layer(&w);
	e = l && idx_entry_find(l, "f", &id) == 0 ? idx_entry_get(l, id) : NULL;
	ok(e && e->sparse && e->size == 500 && e->n_extents == 0 && idx_entry_stored(e) == 0,
	   "all hole: sparse, no extents, nothing stored");
	idx_layer_free(l);
}

static void test_hostile_maps(void)
{
	static const struct ext overlap[] = { { 0, 10 }, { 5, 10 } }, past[] = { { 0, 10 } },
				unsorted[] = { { 100, 1 }, { 0, 1 } };
	struct tw packed = { 0 }, w = { 0 }, rec = { 0 };
	uint8_t *c;

	c = content(overlap, 2, 100, &packed);
	add_pax(&w, V01, "f", overlap, 2, 100, &packed);
	ok(tt_layer(&w) == NULL, "overlapping map refused");
	free(c);
	tw_free(&packed);
	c = content(unsorted, 2, 200, &packed);
	add_gnu(&w, "f", unsorted, 2, 200, &packed);
	ok(tt_layer(&w) == NULL, "unsorted map refused");
	free(c);
	tw_free(&packed);
	c = content(past, 1, 10, &packed);
	add_pax(&w, V10, "f", past, 1, 5, &packed);
	ok(tt_layer(&w) == NULL, "map past the apparent size refused");
	tw_put(&packed, "x", 1);
	add_pax(&w, V00, "f", past, 1, 100, &packed);
	ok(tt_layer(&w) == NULL, "map holding less than the member refused");
	free(c);
	tw_free(&packed);
	tw_pax_str(&rec, "GNU.sparse.numbytes", "5");
	tw_pax_str(&rec, "GNU.sparse.size", "5");
	tw_pax(&w, 'x', &rec);
	tw_file(&w, "f", "12345");
	ok(tt_layer(&w) == NULL, "0.0 numbytes before offset refused");
	tw_pax_str(&rec, "GNU.sparse.map", "0,5");
	tw_pax_str(&rec, "GNU.sparse.size", "10");
	tw_pax(&w, 'x', &rec);
	tw_file(&w, "f", "12345");
	ok(tt_layer(&w) == NULL, "0.1 without GNU.sparse.numblocks refused");
	tw_pax_str(&rec, "GNU.sparse.map", "0,5");
	tw_pax_str(&rec, "GNU.sparse.numblocks", "2");
	tw_pax_str(&rec, "GNU.sparse.size", "10");
	tw_pax(&w, 'x', &rec);
	tw_file(&w, "f", "12345");
	ok(tt_layer(&w) == NULL, "0.1 with a wrong GNU.sparse.numblocks refused");
	tw_pax_str(&rec, "GNU.sparse.major", "1");
	tw_pax_str(&rec, "GNU.sparse.minor", "0");
	tw_pax_str(&rec, "GNU.sparse.realsize", "5");
	tw_pax(&w, 'x', &rec);
	{
		struct tw_hdr h = { .name = "f", .size = 512 };
		char blk[512];

		memset(blk, 0, sizeof(blk));
		memcpy(blk, "999999999\n", 10);
		tw_add(&w, &h, blk, 512);
	}
	ok(tt_layer(&w) == NULL, "1.0 map with a huge count refused");
}

/* Flip bytes of the extent table of a saved index: the loader must refuse. */
static void test_hostile_index(void)
{
	struct tw packed = { 0 }, w = { 0 };
	uint8_t *want = content(map_a, 6, 50000, &packed);
	struct idx_layer *l, *l2 = NULL;
	static const struct { size_t rec, at; uint8_t x; const char *what; } rows[] = {
		{ 0, 0, 1, "extent of the wrong entry" }, { 0, 4, 1, "reserved field" },
		{ 1, 9, 0x10, "extents out of order" },   { 1, 16, 0x64, "zero length" },
		{ 4, 18, 0x01, "past the file size" },    { 4, 17, 0x40, "data past the tar" },
	};

	add_pax(&w, V10, "f", map_a, 6, 50000, &packed);
	l = tt_layer(&w);
	for (size_t i = 0; l && i < sizeof(rows) / sizeof(rows[0]); i++) {
		uint8_t *p = malloc(l->payload_len);
		size_t at = l->payload_len - (size_t)(5 - rows[i].rec) * IDX_EXTENT_SIZE + rows[i].at;
		void *f = NULL;
		size_t flen;

		memcpy(p, l->payload, l->payload_len);
		if (rows[i].at == 16 && rows[i].x == 0x64)
			memset(p + at, 0, 8);
		else
			p[at] ^= rows[i].x;
		idx_envelope_write(p, l->payload_len, IDX_VERSION_MAJOR, &f, &flen);
		is_int(idx_load(f, flen, &l2), -EBADMSG, "index: %s", rows[i].what);
		free(f);
		free(p);
	}
	if (l) {
		void *f = NULL;
		size_t flen;

		idx_envelope_write(l->payload, l->payload_len, 1, &f, &flen);
		is_int(idx_load(f, flen, &l2), -EBADMSG, "a version 1 index cannot hold sparse files");
		free(f);
	}
	idx_layer_free(l);
	tw_file(&w, "plain", "abc");
	l = tt_layer(&w);
	if (l) {
		void *f = NULL, *f2 = NULL;
		size_t flen, flen2;

		idx_envelope_write(l->payload, l->payload_len, 1, &f, &flen);
		ok(idx_load(f, flen, &l2) == 0 && idx_save(l2, &f2, &flen2) == 0 && flen == flen2 &&
		   memcmp(f, f2, flen) == 0, "a version 1 index loads and saves back unchanged");
		free(f);
		free(f2);
		idx_layer_free(l2);
	}
	idx_layer_free(l);
	tw_free(&packed);
	free(want);
}

int main(void)
{
	srand(7);
	log_set_level(LOG_LVL_ERR + (getenv("TEST_VERBOSE") ? 3 : 0));
	test_spellings();
	test_normal_forms();
	test_hostile_maps();
	test_hostile_index();
	return tap_done();
}
