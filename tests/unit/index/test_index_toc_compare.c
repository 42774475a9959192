/* SPDX-License-Identifier: MIT */
/*
 * idx_layer_compare(): a layer read from a TOC against the index built
 * from the tar it claims to describe (the whole-layer check of a foreign
 * layer). The tar is made here; the TOC layer goes through the TOC
 * builder over a blob of one zstd frame per file, as zstd:chunked lays it
 * out. An honest TOC agrees; TOCs that lie about a size, a name, a mode,
 * an xattr, a link target, leave a file out or swap two files' contents (same sizes, chunk
 * digests right for the swapped bytes) are caught. File contents are
 * compared through digests: the tar side's from idx_build()'s on_file,
 * the TOC side's read back through the TOC layer, verified.
 */
#include "common/digest.h"
#include "index/toc_int.h"
#include "tap.h"
#include "test_index_span_util.h"

#define BLOB_DIGEST "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define FSIZE 3000

static uint8_t data_a[FSIZE], data_b[FSIZE];

/* ---- the tar and its index, with per-file digests ---- */

struct sums {
	char path[8][64];
	uint8_t sha[8][DIGEST_SHA256_LEN];
	unsigned n;
};

static int on_file(void *ctx, const char *path, uint64_t size, const uint8_t sha[DIGEST_SHA256_LEN])
{
	struct sums *s = ctx;

	if (s->n == 8)
		return -EFBIG;
	snprintf(s->path[s->n], sizeof(s->path[0]), "%s", path);
	memcpy(s->sha[s->n++], sha, DIGEST_SHA256_LEN);
	return 0;
}

static struct idx_layer *tar_layer(struct sums *s)
{
	struct tw w = { 0 }, rec = { 0 };
	struct tw_hdr h = { .name = "d/a", .type = '0', .mode = 0640, .uid = 7, .gid = 8,
			    .mtime = 1700000001, .size = -1 };
	struct idx_build_opts o = { .comp = IDX_COMP_NONE, .on_file = on_file, .on_file_ctx = s };
	struct su_stream st;
	struct idx_layer *l = NULL;

	tw_dir(&w, "d/");
	tw_pax_str(&rec, "SCHILY.xattr.user.k", "v1");
	tw_pax(&w, 'x', &rec);
	tw_add(&w, &h, data_a, FSIZE);
	h.name = "d/b";
	tw_add(&w, &h, data_b, FSIZE);
	tw_link(&w, '2', "d/s", "a");
	tw_link(&w, '1', "d/h", "d/a");
	tw_file(&w, "d/.wh.gone", "");
	tw_eof(&w);
	st = (struct su_stream){ w.buf, w.len, 0, 3 };
	if (idx_build(&o, su_stream_read, &st, &l, NULL) < 0)
		l = NULL;
	tw_free(&w);
	return l;
}

/* ---- the TOC layer, with lies ---- */

enum lie { HONEST, SIZE, RENAME, SWAP, MODE, XATTR, LINK, MISSING };

struct toc {
	struct su_buf blob;
	struct idx_layer *l;
};

static int add_file(struct tocb *b, struct su_buf *blob, const char *path, const uint8_t *data,
		    size_t len, uint64_t *u, const char *xval, uint32_t mode)
{
	struct idx_xattr x = { "user.k", (const uint8_t *)xval, xval ? (uint32_t)strlen(xval) : 0 };
	struct idx_entry e = { .type = IDX_T_REG, .path = path, .mode = mode, .uid = 7, .gid = 8,
			       .mtime_sec = 1700000001, .size = len, .data_off = *u,
			       .n_xattrs = xval ? 1 : 0, .xattrs = &x };
	struct su_buf z = su_zstd(data, len, 1);
	uint8_t sha[DIGEST_SHA256_LEN];
	uint32_t ck;
	int r;

	blob->p = realloc(blob->p, blob->len + z.len + 16);
	if (!blob->p)
		abort();
	memcpy(blob->p + blob->len + 16, z.p, z.len); /* 16 bytes stand for the tar header */
	digest_sha256(data, len, sha);
	r = idx_tocb_entry(b, &e);
	if (r == 0)
		r = idx_tocb_ckpt(b, IDX_CK_ZSTD_FRAME, blob->len + 16, *u, 0, NULL, 0, &ck);
	if (r == 0)
		r = idx_tocb_span(b, ck, *u, len, blob->len + 16 + z.len, IDX_SF_WHOLE_FRAMES, sha);
	blob->len += 16 + z.len;
	*u += len;
	free(z.p);
	return r;
}

static int toc_layer(enum lie lie, struct toc *t)
{
	struct idx_foreign_opts o = { .blob_digest = BLOB_DIGEST, .blob_size = 1u << 20 };
	struct idx_entry e = { .type = IDX_T_DIR, .path = "d", .mode = 0755,
			       .mtime_sec = 1700000000 };
	struct tocb *b;
	uint64_t u = 0;
	int r;

	memset(t, 0, sizeof(*t));
	r = idx_tocb_new(IDX_COMP_ZSTD, IDX_FOREIGN_ZSTD_CHUNKED, &o, 4096, &b);
	if (r < 0)
		return r;
	r = idx_tocb_entry(b, &e);
	if (r == 0)
		r = add_file(b, &t->blob, "d/a", lie == SWAP ? data_b : data_a,
			     lie == SIZE ? FSIZE - 1 : FSIZE, &u, lie == XATTR ? "v2" : "v1",
			     lie == MODE ? 0644 : 0640);
	if (r == 0 && lie != MISSING)
		r = add_file(b, &t->blob, lie == RENAME ? "d/c" : "d/b",
			     lie == SWAP ? data_a : data_b, FSIZE, &u, NULL, 0640);
	e = (struct idx_entry){ .type = IDX_T_SYMLINK, .path = "d/s", .mode = 0777,
				.mtime_sec = 1700000000, .link = lie == LINK ? "b" : "a" };
	if (r == 0)
		r = idx_tocb_entry(b, &e);
	e = (struct idx_entry){ .type = IDX_T_HARDLINK, .path = "d/h", .mode = 0777,
				.mtime_sec = 1700000000, .link = "d/a" };
	if (r == 0)
		r = idx_tocb_entry(b, &e);
	e = (struct idx_entry){ .type = IDX_T_REG, .path = "d/.wh.gone", .mode = 0600 };
	if (r == 0)
		r = idx_tocb_entry(b, &e);
	if (r == 0)
		r = idx_tocb_finish(b, u, true, &t->l);
	idx_tocb_free(b);
	return r;
}

/* ---- the digests the comparison asks for ---- */

struct ctx {
	const struct idx_layer *tar;
	const struct sums *sums;
	const struct su_buf *blob;
};

static int sha_of(void *arg, const struct idx_layer *l, uint32_t id, uint8_t sha[DIGEST_SHA256_LEN])
{
	struct ctx *c = arg;
	const struct idx_entry *e = idx_entry_get(l, id);
	struct su_mem m = { c->blob->p, c->blob->len };
	struct idx_reader rd = { &m, su_mem_read_at };
	uint8_t buf[FSIZE];
	ssize_t n;

	if (l == c->tar) {
		for (unsigned i = c->sums->n; i-- > 0;)
			if (strcmp(c->sums->path[i], e->path) == 0) {
				memcpy(sha, c->sums->sha[i], DIGEST_SHA256_LEN);
				return 0;
			}
		return -ENOENT;
	}
	n = idx_file_read(l, id, &rd, buf, sizeof(buf), 0);
	if (n < 0)
		return (int)n;
	digest_sha256(buf, (size_t)n, sha);
	return 0;
}

static void expect(const struct idx_layer *tar, const struct sums *s, enum lie lie, unsigned want,
		   const char *what)
{
	struct toc t;
	struct ctx c = { tar, s, &t.blob };
	unsigned n = 99;
	int r = toc_layer(lie, &t);

	if (r == 0)
		r = idx_layer_compare(t.l, tar, sha_of, &c, &n);
	ok(r == 0 && n == want, "%s: %u difference(s) (got %u, r %d)", what, want, n, r);
	idx_layer_free(t.l);
	free(t.blob.p);
}

int main(void)
{
	struct sums s = { 0 };
	struct idx_layer *tar;
	uint64_t seed = 11;

	su_fill(data_a, FSIZE, &seed);
	su_fill(data_b, FSIZE, &seed);
	tar = tar_layer(&s);
	ok(tar != NULL && s.n == 2, "the tar indexes, with a digest per regular file (%u)", s.n);
	if (!tar)
		return tap_done();
	expect(tar, &s, HONEST, 0, "an honest TOC");
	expect(tar, &s, SIZE, 1, "a TOC that shortens a file");
	expect(tar, &s, RENAME, 2, "a TOC that renames a file (only in one, only in the other)");
	expect(tar, &s, SWAP, 2, "a TOC that swaps two files' contents");
	expect(tar, &s, MODE, 1, "a TOC that changes a mode");
	expect(tar, &s, XATTR, 1, "a TOC that changes an xattr value");
	expect(tar, &s, LINK, 1, "a TOC that retargets a symlink");
	expect(tar, &s, MISSING, 1, "a TOC that leaves a file out");
	idx_layer_free(tar);
	return tap_done();
}
