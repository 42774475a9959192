/* SPDX-License-Identifier: MIT */
/*
 * Index bombs: indexes that declare far more than their layer can hold (a
 * million directories for a 10 KiB layer, huge strings, a million xattrs,
 * checkpoints, spans, windows, a payload bigger than its header accounts
 * for) are refused with -EFBIG (or -EBADMSG) in well under 100 ms and a few
 * MB, before the payload is decompressed. The bombs are generated straight
 * into a zstd stream, so crafting one never holds its payload in memory.
 *
 *   test_index_bounds              the TAP test
 *   test_index_bounds --seeds DIR  writes small bombs as fuzz corpus seeds
 *                                  (tests/fuzz/index/corpus/index_load/)
 *   test_index_bounds --bomb FILE  writes the million-directory bomb
 */
#include <time.h>

#include "common/digest.h"
#include "common/xmath.h"
#include "index/layer_int.h"
#include "tap.h"
#include "test_index_span_util.h"

/* ---- a payload generated as it is written ---------------------------- */

struct gen {
	ZSTD_CCtx *z;
	struct digest_ctx *sha;
	struct su_buf out;     /* envelope + compressed payload */
	size_t cap;
	uint64_t plen;         /* declared (pledged) payload size */
	uint64_t fed;
	struct su_buf raw;     /* the payload itself, when kept (seeds) */
	size_t raw_cap;
	bool keep_raw;
};

static void gen_grow(struct su_buf *b, size_t *cap, size_t need)
{
	if (b->len + need <= *cap)
		return;
	while (*cap < b->len + need)
		*cap = *cap ? 2 * *cap : 1 << 16;
	b->p = realloc(b->p, *cap);
	if (!b->p)
		abort();
}

static void gen_init(struct gen *g, uint64_t plen, bool keep_raw)
{
	memset(g, 0, sizeof(*g));
	g->z = ZSTD_createCCtx();
	if (!g->z || digest_ctx_new(&g->sha) < 0)
		abort();
	ZSTD_CCtx_setParameter(g->z, ZSTD_c_compressionLevel, 1);
	ZSTD_CCtx_setPledgedSrcSize(g->z, plen);
	g->plen = plen;
	g->keep_raw = keep_raw;
	gen_grow(&g->out, &g->cap, IDX_ENVELOPE_SIZE);
	g->out.len = IDX_ENVELOPE_SIZE;
}

static void gen_run(struct gen *g, const void *p, size_t n, ZSTD_EndDirective end)
{
	ZSTD_inBuffer in = { p, n, 0 };
	size_t left;

	do {
		ZSTD_outBuffer o;

		gen_grow(&g->out, &g->cap, 1 << 16);
		o = (ZSTD_outBuffer){ g->out.p + g->out.len, g->cap - g->out.len, 0 };
		left = ZSTD_compressStream2(g->z, &o, &in, end);
		if (ZSTD_isError(left))
			abort();
		g->out.len += o.pos;
	} while (in.pos < in.size || (end == ZSTD_e_end && left));
}

static void gen_put(struct gen *g, const void *p, size_t n)
{
	if (g->keep_raw) {
		gen_grow(&g->raw, &g->raw_cap, n);
		memcpy(g->raw.p + g->raw.len, p, n);
		g->raw.len += n;
	}
	digest_ctx_update(g->sha, p, n);
	gen_run(g, p, n, ZSTD_e_continue);
	g->fed += n;
}

static void gen_zeros(struct gen *g, uint64_t n)
{
	static const uint8_t z[1 << 16];

	for (; n; n -= XMIN(n, sizeof(z)))
		gen_put(g, z, (size_t)XMIN(n, sizeof(z)));
}

/* Close the frame and write the envelope; the caller owns the returned file. */
static struct su_buf gen_finish(struct gen *g)
{
	uint8_t *e;

	if (g->fed != g->plen)
		abort();
	gen_run(g, NULL, 0, ZSTD_e_end);
	e = g->out.p;
	memcpy(e, IDX_MAGIC, IDX_MAGIC_LEN);
	le16_put(e + 8, IDX_VERSION_MAJOR);
	le16_put(e + 10, IDX_VERSION_MINOR);
	le32_put(e + 12, 0);
	le64_put(e + 16, g->plen);
	le64_put(e + 24, g->out.len - IDX_ENVELOPE_SIZE);
	digest_ctx_final(g->sha, e + 32);
	ZSTD_freeCCtx(g->z);
	digest_ctx_free(g->sha);
	return g->out;
}

/* ---- bombs --------------------------------------------------------------- */

/*
 * A payload on the header, checkpoints, spans and windows of a real layer
 * (@base), with synthetic entries ("d0000000"... directories, sorted),
 * xattrs (all on the first entry, one shared name) and padding.
 */
struct bomb {
	const char *name;
	uint64_t tar_size;       /* 0: the base's */
	uint32_t n_entries;
	uint32_t n_xattrs;
	uint64_t str_pad;        /* NULs after the names */
	uint32_t n_ckpts;        /* 0: the base's table; else zeros */
	uint32_t n_spans;        /* 0: the base's table; else zeros */
	uint64_t win_pad;        /* after the base's windows */
	uint64_t plen_extra;     /* zeros beyond what the header accounts for */
	int want;
};

#define PATH_LEN 8 /* "d%07u" */
#define XNAME "user.x"

static void put_entry(struct gen *g, uint32_t i, uint32_t n_xattrs)
{
	uint8_t e[IDX_ENTRY_SIZE] = { 0 };

	e[0] = IDX_T_DIR;
	le32_put(e + 4, 0755);
	le32_put(e + 36, i == 0 ? n_xattrs : 0);
	le32_put(e + 56, i * (PATH_LEN + 1));
	le32_put(e + 60, IDX_NO_STRING);
	le32_put(e + 64, i == 0 ? 0 : n_xattrs);
	gen_put(g, e, sizeof(e));
}

static struct su_buf make_bomb(const struct idx_layer *base, const struct bomb *b, bool keep_raw,
			       struct su_buf *raw)
{
	const uint8_t *bh = base->payload;
	uint64_t bstr = le64_get(bh + 112), bval = le64_get(bh + 120), bwin = le64_get(bh + 128);
	const uint8_t *bckp = bh + base->payload_len - bwin - bval - bstr -
			      (uint64_t)base->n_prefetch * 4 - (uint64_t)base->n_spans * IDX_SPAN_SIZE -
			      (uint64_t)base->n_ckpts * IDX_CKPT_SIZE;
	const uint8_t *bspn = bckp + (size_t)base->n_ckpts * IDX_CKPT_SIZE;
	const uint8_t *bwins = bh + base->payload_len - bwin;
	uint32_t n_ckpts = b->n_ckpts ? b->n_ckpts : base->n_ckpts;
	uint32_t n_spans = b->n_spans ? b->n_spans : base->n_spans;
	uint64_t names = (uint64_t)b->n_entries * (PATH_LEN + 1);
	uint64_t str = names + (b->n_xattrs ? sizeof(XNAME) : 0) + b->str_pad;
	uint64_t win = bwin + b->win_pad, plen;
	uint8_t h[IDX_HDR_SIZE];
	struct su_buf f;
	struct gen g;

	if (base->n_prefetch || bval)
		abort();
	plen = IDX_HDR_SIZE + (uint64_t)b->n_entries * (IDX_ENTRY_SIZE + 4) +
	       (uint64_t)b->n_xattrs * IDX_XATTR_SIZE + (uint64_t)n_ckpts * IDX_CKPT_SIZE +
	       (uint64_t)n_spans * IDX_SPAN_SIZE + str + win;
	gen_init(&g, plen + b->plen_extra, keep_raw);
	memcpy(h, bh, IDX_HDR_SIZE);
	if (b->tar_size)
		le64_put(h + 80, b->tar_size);
	le32_put(h + 88, b->n_entries);
	le32_put(h + 92, b->n_xattrs);
	le32_put(h + 96, n_ckpts);
	le32_put(h + 100, n_spans);
	le64_put(h + 112, str);
	le64_put(h + 128, win);
	gen_put(&g, h, sizeof(h));
	for (uint32_t i = 0; i < b->n_entries; i++)
		put_entry(&g, i, b->n_xattrs);
	for (uint32_t i = 0; i < b->n_entries; i++) {
		uint8_t id[4];

		le32_put(id, i);
		gen_put(&g, id, 4);
	}
	for (uint32_t i = 0; i < b->n_xattrs; i++) {
		uint8_t x[IDX_XATTR_SIZE] = { 0 };

		le32_put(x, (uint32_t)names);
		gen_put(&g, x, sizeof(x));
	}
	if (b->n_ckpts)
		gen_zeros(&g, (uint64_t)n_ckpts * IDX_CKPT_SIZE);
	else
		gen_put(&g, bckp, (size_t)n_ckpts * IDX_CKPT_SIZE);
	if (b->n_spans)
		gen_zeros(&g, (uint64_t)n_spans * IDX_SPAN_SIZE);
	else
		gen_put(&g, bspn, (size_t)n_spans * IDX_SPAN_SIZE);
	for (uint32_t i = 0; i < b->n_entries; i++) {
		char p[16];

		snprintf(p, sizeof(p), "d%07u", i % 10000000);
		gen_put(&g, p, PATH_LEN + 1);
	}
	if (b->n_xattrs)
		gen_put(&g, XNAME, sizeof(XNAME));
	gen_zeros(&g, b->str_pad);
	gen_put(&g, bwins, (size_t)bwin);
	gen_zeros(&g, b->win_pad + b->plen_extra);
	f = gen_finish(&g);
	if (raw)
		*raw = g.raw;
	else
		free(g.raw.p);
	return f;
}

/* ---- measuring --------------------------------------------------------- */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Resident set high-water mark in KiB (VmHWM), reset by hwm_reset() where Linux allows. */
static long hwm_kb(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, strlen(field)) == 0)
			kb = strtol(line + strlen(field), NULL, 10);
	fclose(f);
	return kb;
}

static long hwm_reset(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");

	if (f) {
		fputs("5", f);
		fclose(f);
	}
	return hwm_kb("VmRSS:");
}

/* ---- the cases --------------------------------------------------------- */

static void refused(const struct idx_layer *base, const struct bomb *b)
{
	struct su_buf f = make_bomb(base, b, false, NULL);
	struct idx_layer *l = NULL;
	long rss0 = hwm_reset(), grown;
	double t0 = now_ms(), ms;
	int r;

	r = idx_load(f.p, f.len, &l);
	ms = now_ms() - t0;
	grown = hwm_kb("VmHWM:") - rss0;
	is_int(r, b->want, "%s (%zu-byte index): refused", b->name, f.len);
	ok(ms < 100, "... in %.2f ms", ms);
	ok(grown < 8 * 1024, "... with %ld KiB more resident at the peak", grown);
	idx_layer_free(l);
	free(f.p);
}

/* A tar of a few small files: a 10 KiB layer. */
static void small_tar(struct tw *t)
{
	char name[32], data[1000];

	memset(data, 'x', sizeof(data));
	for (int i = 0; i < 8; i++) {
		struct tw_hdr h = { .name = name, .type = '0', .mode = 0644, .size = -1 };

		snprintf(name, sizeof(name), "f%d", i);
		tw_add(t, &h, data, sizeof(data) - 24 * (size_t)i);
	}
	tw_eof(t);
}

static struct idx_layer *build(const uint8_t *blob, size_t len)
{
	struct idx_layer *l = NULL;

	if (su_build(blob, len, 64 << 10, &l, NULL) < 0)
		abort();
	return l;
}

static const struct bomb million_dirs = { "a million directories for a 10 KiB tar",
					  .n_entries = 1000000, .want = -EFBIG };

static void bombs(const struct idx_layer *tar, const struct idx_layer *gz)
{
	const struct bomb cases[] = {
		million_dirs,
		{ "entries one over tar_size / 512", .n_entries = (uint32_t)(tar->tar_size / 512) + 1,
		  .want = -EFBIG },
		{ "16 MiB of names", .n_entries = 4, .str_pad = 16u << 20, .want = -EFBIG },
		{ "a million xattrs", .n_entries = 1, .n_xattrs = 1000000, .want = -EFBIG },
		{ "100k checkpoints for 1 span", .n_ckpts = 100000, .want = -EFBIG },
		{ "200k spans for a 10 KiB tar", .n_ckpts = 1, .n_spans = 200000, .want = -EFBIG },
		{ "64 MiB of payload past the header's sections", .n_entries = 4,
		  .plen_extra = 64u << 20, .want = -EBADMSG },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		refused(tar, &cases[i]);
	refused(gz, &(struct bomb){ "8 MiB of windows for one gzip checkpoint", .win_pad = 8u << 20,
				    .want = -EFBIG });
	refused(gz, &(struct bomb){ "100k dirs, the tar size past gzip's 1032:1",
				    .n_entries = 100000, .tar_size = 1032 * gz->blob_size + 1,
				    .want = -EFBIG });
	refused(tar, &(struct bomb){ "100k dirs, a plain tar bigger than its blob",
				     .n_entries = 100000, .tar_size = 100000 * 512ull,
				     .want = -EFBIG });
}

/* Right at the bounds: accepted; idx_load_for() checks the descriptor first. */
static void at_the_bounds(const struct idx_layer *tar)
{
	struct bomb b = { "entries = tar_size / 512", .n_entries = (uint32_t)(tar->tar_size / 512) };
	struct su_buf f = make_bomb(tar, &b, false, NULL);
	struct idx_info info;
	struct idx_layer *l = NULL;
	char other[DIGEST_STR_LEN];

	is_int(idx_load(f.p, f.len, &l), 0, "%u entries in a tar of %llu bytes: loads", b.n_entries,
	       (unsigned long long)tar->tar_size);
	idx_layer_free(l);
	l = NULL;
	idx_layer_info(tar, &info);
	is_int(idx_load_for(f.p, f.len, info.blob_digest, info.blob_size, &l), 0,
	       "idx_load_for() with the layer's digest and size");
	idx_layer_free(l);
	l = NULL;
	is_int(idx_load_for(f.p, f.len, info.blob_digest, info.blob_size + 1, &l), -EBADMSG,
	       "idx_load_for() with another size: -EBADMSG");
	memcpy(other, info.blob_digest, sizeof(other));
	other[10] = other[10] == '0' ? '1' : '0';
	is_int(idx_load_for(f.p, f.len, other, info.blob_size, &l), -EBADMSG,
	       "idx_load_for() with another digest: -EBADMSG");
	is_int(idx_load_for(f.p, f.len, "sha256:zz", info.blob_size, &l), -EINVAL,
	       "idx_load_for() with a malformed digest: -EINVAL");
	ok(l == NULL, "no layer out of a refusal");
	free(f.p);
}

/*
 * pax global records would repeat their xattrs on every later member, the
 * one way a tar could carry more than its own bytes; they are not applied
 * (as containerd does not), so such a tar indexes within the bounds and
 * no member carries the global xattr.
 */
static void builder_parity(void)
{
	struct tw t = { 0 }, rec = { 0 };
	struct idx_layer *l = NULL;
	static uint8_t big[60000];
	char name[32];

	memset(big, 'v', sizeof(big));
	tw_pax_rec(&rec, "SCHILY.xattr.user.big", big, sizeof(big));
	tw_pax(&t, 'g', &rec);
	for (int i = 0; i < 64; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		tw_file(&t, name, "");
	}
	tw_eof(&t);
	is_int(su_build(t.buf, t.len, 64 << 10, &l, NULL), 0,
	       "a global 60 KB xattr over 64 members (%zu-byte tar): indexed", t.len);
	if (l) {
		uint32_t with = 0;

		for (uint32_t i = 0; i < idx_entry_count(l); i++)
			with += idx_entry_get(l, i)->n_xattrs > 0;
		is_int((int)with, 0, "... no member carries the global xattr");
	}
	idx_layer_free(l);
	tw_free(&t);
}

/* Small bombs, one per check, as fuzz seeds: 0x00 + index file, 0x01 + payload. */
static int write_seeds(const char *dir, const struct idx_layer *tar, const struct idx_layer *gz)
{
	const struct {
		const struct idx_layer *base;
		struct bomb b;
	} seeds[] = {
		{ tar, { "bounds_entries", .n_entries = (uint32_t)(tar->tar_size / 512) + 1 } },
		{ tar, { "bounds_strings", .n_entries = 2, .str_pad = tar->tar_size } },
		{ tar, { "bounds_xattrs", .n_entries = 1, .n_xattrs = (uint32_t)(tar->tar_size / 19) + 1 } },
		{ tar, { "bounds_ckpts", .n_entries = 1, .n_ckpts = tar->n_spans + 2 } },
		{ tar, { "bounds_spans", .n_entries = 1, .n_ckpts = 1, .n_spans = 2 } },
		{ tar, { "bounds_plain_tar", .n_entries = 1, .tar_size = tar->blob_size + 1 } },
		{ gz, { "bounds_windows", .n_entries = 1, .win_pad = ZSTD_COMPRESSBOUND(32768) + 1 } },
		{ gz, { "bounds_gzip_ratio", .n_entries = 1, .tar_size = 1032 * gz->blob_size + 1 } },
		{ tar, { "bounds_plen", .n_entries = 1, .plen_extra = 4096 } },
		{ tar, { "bounds_at_limit", .n_entries = (uint32_t)(tar->tar_size / 512) } },
	};

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		struct su_buf raw = { 0 }, f = make_bomb(seeds[i].base, &seeds[i].b, true, &raw);
		const struct su_buf *v[] = { &f, &raw };

		for (int door = 0; door < 2; door++) {
			char path[4096];
			uint8_t d = (uint8_t)door;
			FILE *o;

			snprintf(path, sizeof(path), "%s/%s.%s", dir, seeds[i].b.name,
				 door ? "payload" : "idx");
			o = fopen(path, "wb");
			if (!o || fwrite(&d, 1, 1, o) != 1 ||
			    fwrite(v[door]->p, 1, v[door]->len, o) != v[door]->len || fclose(o))
				return 1;
		}
		free(f.p);
		free(raw.p);
	}
	return 0;
}

static int write_bomb(const char *path, const struct idx_layer *tar)
{
	struct su_buf f = make_bomb(tar, &million_dirs, false, NULL);
	FILE *o = fopen(path, "wb");
	int bad = !o || fwrite(f.p, 1, f.len, o) != f.len || fclose(o);

	free(f.p);
	return bad;
}

int main(int argc, char **argv)
{
	struct tw t = { 0 };
	struct su_buf gzb;
	struct idx_layer *tar, *gz;
	int r;

	small_tar(&t);
	gzb = su_gzip(t.buf, t.len, 1, 0);
	tar = build(t.buf, t.len);
	gz = build(gzb.p, gzb.len);
	if (argc == 3 && strcmp(argv[1], "--seeds") == 0) {
		r = write_seeds(argv[2], tar, gz);
	} else if (argc == 3 && strcmp(argv[1], "--bomb") == 0) {
		r = write_bomb(argv[2], tar);
	} else {
		bombs(tar, gz);
		at_the_bounds(tar);
		builder_parity();
		r = tap_done();
	}
	idx_layer_free(tar);
	idx_layer_free(gz);
	free(gzb.p);
	tw_free(&t);
	return r;
}
