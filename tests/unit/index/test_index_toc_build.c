/* SPDX-License-Identifier: MIT */
/*
 * The TOC builder (index/toc_int.h) on layers made here, the way the
 * foreign formats lay them out: one zstd frame per file chunk (as
 * zstd:chunked) or one gzip member per chunk (as eStargz), with junk
 * frames/members between them standing for the tar headers, and virtual
 * offsets (the chunks end to end). Every file is read back through
 * idx_file_read() with span verification; a wrong chunk digest gives
 * -EBADMSG; names are normalised and whiteouts mapped as the tar reader
 * does; the builder refuses chunks that do not tile the space, chunks too
 * big to decode at once, and more entries than the TOC's bytes; a foreign
 * layer is never saved nor loaded from a file.
 */
#include "common/digest.h"
#include "index/toc_int.h"
#include "tap.h"
#include "test_index_span_util.h"

#define BLOB_DIGEST "sha256:1111111111111111111111111111111111111111111111111111111111111111"

struct chunk {
	const uint8_t *data;
	size_t len;
	uint64_t c_off, c_end;
};

/* The blob: a junk frame/member, then each chunk compressed alone, junk between. */
struct fblob {
	struct su_buf b;
	size_t cap;
	enum idx_comp comp;
};

static void fb_put(struct fblob *f, const uint8_t *p, size_t n)
{
	struct su_buf z = f->comp == IDX_COMP_ZSTD ? su_zstd(p, n, 1) : su_gzip(p, n, 1, 0);

	if (f->b.len + z.len > f->cap) {
		f->cap = 2 * (f->b.len + z.len);
		f->b.p = realloc(f->b.p, f->cap);
		if (!f->b.p)
			abort();
	}
	memcpy(f->b.p + f->b.len, z.p, z.len);
	f->b.len += z.len;
	free(z.p);
}

static void fb_chunk(struct fblob *f, struct chunk *c)
{
	static const uint8_t junk[512] = "ustar header stand-in";

	fb_put(f, junk, sizeof(junk));
	c->c_off = f->b.len;
	fb_put(f, c->data, c->len);
	c->c_end = f->b.len;
}

/* Chunk @i as a checkpoint + span at virtual offset *u. */
static int add_chunk(struct tocb *b, const struct chunk *c, uint64_t *u, bool bad_sha)
{
	uint8_t sha[DIGEST_SHA256_LEN];
	uint32_t ck;
	int r;

	digest_sha256(c->data, c->len, sha);
	if (bad_sha)
		sha[7] ^= 1;
	r = idx_tocb_ckpt(b, IDX_CK_ZSTD_FRAME, c->c_off, *u, 0, NULL, 0, &ck);
	if (r == 0)
		r = idx_tocb_span(b, ck, *u, c->len, c->c_end, IDX_SF_WHOLE_FRAMES, sha);
	*u += c->len;
	return r;
}

static int add_gz_chunk(struct tocb *b, const struct chunk *c, uint64_t *u)
{
	uint8_t sha[DIGEST_SHA256_LEN];
	uint32_t ck;
	int r;

	digest_sha256(c->data, c->len, sha);
	r = idx_tocb_ckpt(b, IDX_CK_GZ_MEMBER, c->c_off, *u, 0, NULL, 0, &ck);
	if (r == 0)
		r = idx_tocb_span(b, ck, *u, c->len, c->c_end, 0, sha);
	*u += c->len;
	return r;
}

static struct idx_entry ent(uint8_t type, const char *path, uint32_t mode)
{
	return (struct idx_entry){ .type = type, .path = path, .mode = mode, .uid = 1000,
				   .gid = 1000, .mtime_sec = 1700000000 };
}

/* The contents: one.txt and two.bin in two chunks each, sparse.img with a hole. */
static uint8_t one[100000], two[70000], sp1[50000], sp2[20000];
static struct chunk ch[6] = {
	{ one, 70000 }, { one + 70000, 30000 }, { two, 40000 }, { two + 40000, 30000 },
	{ sp1, sizeof(sp1) }, { sp2, sizeof(sp2) },
};
#define SPARSE_SIZE 300000u
#define SPARSE_HOLE_END 250000u

static struct fblob make_blob(enum idx_comp comp)
{
	struct fblob f = { .comp = comp };

	for (int i = 0; i < 6; i++)
		fb_chunk(&f, &ch[i]);
	return f;
}

/* The whole TOC of the zstd layer; @bad: chunk whose digest lies, or -1. */
static int build_zstd(const struct fblob *f, int bad, uint64_t toc_len, struct idx_layer **out)
{
	struct idx_foreign_opts o = { .blob_digest = BLOB_DIGEST, .blob_size = f->b.len };
	struct idx_extent ext[2] = { { 0, sizeof(sp1), 170000 },
				     { SPARSE_HOLE_END, sizeof(sp2), 170000 + sizeof(sp1) } };
	struct idx_entry e;
	struct tocb *b;
	uint64_t u = 0;
	int r;

	r = idx_tocb_new(IDX_COMP_ZSTD, IDX_FOREIGN_ZSTD_CHUNKED, &o, toc_len, &b);
	if (r < 0)
		return r;
	e = ent(IDX_T_DIR, "./a/", 0755);
	r = idx_tocb_entry(b, &e);
	e = ent(IDX_T_REG, "a/one.txt", 0100644); /* type bits in the mode, as some TOCs have */
	e.size = sizeof(one);
	e.data_off = 0;
	if (r == 0)
		r = idx_tocb_entry(b, &e);
	e = ent(IDX_T_REG, "/b//two.bin", 0600);
	e.size = sizeof(two);
	e.data_off = 100000;
	if (r == 0)
		r = idx_tocb_entry(b, &e);
	e = ent(IDX_T_REG, "s/sparse.img", 0644);
	e.size = SPARSE_SIZE;
	e.data_off = 170000;
	e.sparse = true;
	e.n_extents = 2;
	e.extents = ext;
	if (r == 0)
		r = idx_tocb_entry(b, &e);
	e = ent(IDX_T_REG, "x/.wh.gone", 0);
	if (r == 0)
		r = idx_tocb_entry(b, &e);
	e = ent(IDX_T_REG, "a/.wh..wh..opq", 0);
	if (r == 0)
		r = idx_tocb_entry(b, &e);
	e = ent(IDX_T_HARDLINK, "a/link", 0644);
	e.link = "./a/one.txt";
	if (r == 0)
		r = idx_tocb_entry(b, &e);
	e = ent(IDX_T_SYMLINK, "a/sym", 0777);
	e.link = "../b/two.bin";
	if (r == 0)
		r = idx_tocb_entry(b, &e);
	for (int i = 0; r == 0 && i < 6; i++)
		r = add_chunk(b, &ch[i], &u, i == bad);
	if (r == 0)
		r = idx_tocb_finish(b, u, true, out);
	idx_tocb_free(b);
	return r;
}

static void check_file(const struct idx_layer *l, const struct fblob *f, const char *path,
		       const uint8_t *want, size_t len)
{
	struct su_mem m = { f->b.p, f->b.len };
	struct idx_reader rd = { &m, su_mem_read_at };
	uint8_t *got = malloc(len + 1);
	uint32_t id;
	ssize_t n = -1;

	if (!got)
		abort();
	if (idx_entry_find(l, path, &id) == 0)
		n = idx_file_read(l, id, &rd, got, len + 1, 0);
	ok(n == (ssize_t)len && memcmp(got, want, len) == 0, "%s reads back (%zd of %zu bytes)",
	   path, n, len);
	/* A read across the chunk boundary of a two-chunk file. */
	if (len > 70001 && n == (ssize_t)len) {
		n = idx_file_read(l, id, &rd, got, 1000, 69500);
		ok(n == 1000 && memcmp(got, want + 69500, 1000) == 0, "%s across chunks", path);
	}
	free(got);
}

static void check_sparse(const struct idx_layer *l, const struct fblob *f)
{
	struct su_mem m = { f->b.p, f->b.len };
	struct idx_reader rd = { &m, su_mem_read_at };
	uint8_t *got = malloc(SPARSE_SIZE), *want = calloc(1, SPARSE_SIZE);
	uint32_t id;
	ssize_t n = -1;

	if (!got || !want)
		abort();
	memcpy(want, sp1, sizeof(sp1));
	memcpy(want + SPARSE_HOLE_END, sp2, sizeof(sp2));
	if (idx_entry_find(l, "s/sparse.img", &id) == 0)
		n = idx_file_read(l, id, &rd, got, SPARSE_SIZE, 0);
	ok(n == SPARSE_SIZE && memcmp(got, want, SPARSE_SIZE) == 0,
	   "sparse file: data, hole of zeros, data (%zd bytes)", n);
	free(got);
	free(want);
}

static void check_entries(const struct idx_layer *l)
{
	const struct idx_entry *e;
	struct idx_info info;
	uint32_t id;

	idx_layer_info(l, &info);
	ok(info.foreign == IDX_FOREIGN_ZSTD_CHUNKED && info.virtual_offsets && info.toc_len == 4096,
	   "info: zstd:chunked, virtual offsets, TOC size");
	is_int(info.n_spans, 6, "one span per chunk");
	is_int(info.tar_size, 170000 + sizeof(sp1) + sizeof(sp2), "offset space = the chunks");
	is_str(idx_foreign_name(info.foreign), "zstd:chunked", "format name");
	ok(idx_entry_find(l, "b/two.bin", &id) == 0, "'/b//two.bin' normalised");
	ok(idx_entry_find(l, "x/gone", &id) == 0 && idx_entry_get(l, id)->type == IDX_T_WHITEOUT,
	   "'.wh.gone' is a whiteout of x/gone");
	ok(idx_entry_find(l, "a", &id) == 0 && idx_entry_get(l, id)->type == IDX_T_DIR,
	   "a is a directory");
	e = idx_entry_get(l, id + 0);
	ok(e && e->mode == 0755, "dir mode kept");
	ok(idx_entry_find(l, "a/one.txt", &id) == 0 && idx_entry_get(l, id)->mode == 0644,
	   "mode masked to 07777");
	ok(idx_entry_find(l, "a/link", &id) == 0 && (e = idx_entry_get(l, id)) &&
		   e->type == IDX_T_HARDLINK && strcmp(e->link, "a/one.txt") == 0,
	   "hardlink target normalised");
	ok(idx_entry_find(l, "a/sym", &id) == 0 && (e = idx_entry_get(l, id)) &&
		   strcmp(e->link, "../b/two.bin") == 0,
	   "symlink target kept as written");
}

static void check_opaque_and_tree(const struct idx_layer *l)
{
	const struct idx_layer *ls[1] = { l };
	const struct idx_node *n;
	struct idx_tree *t = NULL;
	uint64_t ino;
	bool opq = false;

	for (uint32_t i = 0; i < idx_entry_count(l); i++)
		opq |= idx_entry_get(l, i)->type == IDX_T_OPAQUE &&
		       strcmp(idx_entry_get(l, i)->path, "a") == 0;
	ok(opq, "'a/.wh..wh..opq' is the opaque marker of a");
	ok(idx_tree_build(ls, 1, 0, &t) == 0, "the layer merges into a tree");
	ok(t && idx_tree_resolve(t, "a/link", &ino) == 0 && (n = idx_tree_node(t, ino)) &&
		   n->nlink == 2 && n->size == sizeof(one),
	   "hardlink shares the inode of a/one.txt");
	idx_tree_free(t);
}

static void test_zstd(void)
{
	struct fblob f = make_blob(IDX_COMP_ZSTD);
	struct su_mem m = { f.b.p, f.b.len };
	struct idx_reader rd = { &m, su_mem_read_at };
	struct idx_layer *l = NULL, *bad = NULL;
	void *buf = NULL;
	size_t blen = 0;
	uint8_t tmp[16];
	uint32_t id;
	int r;

	r = build_zstd(&f, -1, 4096, &l);
	is_int(r, 0, "virtual-offset zstd layer builds");
	if (r < 0)
		return;
	check_entries(l);
	check_opaque_and_tree(l);
	check_file(l, &f, "a/one.txt", one, sizeof(one));
	check_file(l, &f, "b/two.bin", two, sizeof(two));
	check_sparse(l, &f);
	is_int(idx_save(l, &buf, &blen), -EOPNOTSUPP, "a foreign layer is never saved");
	r = idx_envelope_write(l->payload, l->payload_len, IDX_VERSION_MAJOR, &buf, &blen);
	ok(r == 0 && idx_load(buf, blen, &bad) == -EBADMSG, "a foreign payload is never loaded");
	free(buf);
	r = build_zstd(&f, 3, 4096, &bad);
	is_int(r, 0, "a lying chunk digest builds (it is checked on read)");
	if (r == 0 && idx_entry_find(bad, "b/two.bin", &id) == 0) {
		is_int(idx_file_read(bad, id, &rd, tmp, sizeof(tmp), 0), sizeof(tmp),
		       "the chunk with the right digest reads");
		is_int(idx_file_read(bad, id, &rd, tmp, sizeof(tmp), 50000), -EBADMSG,
		       "the chunk with a wrong digest: -EBADMSG");
	}
	idx_layer_free(bad);
	bad = NULL;
	is_int(build_zstd(&f, -1, 7, &bad), -EFBIG, "8 entries from a TOC of 7 bytes: refused");
	idx_layer_free(l);
	free(f.b.p);
}

/* eStargz-like: one gzip member per chunk, no entries but the files. */
static void test_gzip(void)
{
	struct fblob f = make_blob(IDX_COMP_GZIP);
	struct idx_foreign_opts o = { .blob_digest = BLOB_DIGEST, .blob_size = f.b.len };
	struct idx_entry e = ent(IDX_T_REG, "one", 0644);
	struct idx_layer *l = NULL;
	struct tocb *b;
	uint64_t u = 0;
	int r;

	e.size = sizeof(one);
	r = idx_tocb_new(IDX_COMP_GZIP, IDX_FOREIGN_ESTARGZ, &o, 1000, &b);
	if (r == 0)
		r = idx_tocb_entry(b, &e);
	for (int i = 0; r == 0 && i < 2; i++)
		r = add_gz_chunk(b, &ch[i], &u);
	if (r == 0)
		r = idx_tocb_finish(b, u, true, &l);
	idx_tocb_free(b);
	is_int(r, 0, "gzip-member layer builds");
	if (r == 0)
		check_file(l, &f, "one", one, sizeof(one));
	idx_layer_free(l);
	free(f.b.p);
}

static void test_refusals(void)
{
	struct idx_foreign_opts o = { .blob_digest = BLOB_DIGEST, .blob_size = 1ull << 40 };
	uint8_t sha[DIGEST_SHA256_LEN] = { 0 };
	struct idx_entry e = ent(IDX_T_DIR, "d", 0755);
	struct idx_layer *l = NULL;
	struct tocb *b;
	uint32_t ck;

	ok(idx_tocb_new(IDX_COMP_ZSTD, IDX_FOREIGN_NONE, &o, 10, &b) == -EINVAL,
	   "a builder for no format: -EINVAL");
	ok(idx_tocb_new(IDX_COMP_ZSTD, IDX_FOREIGN_SOCI, &o, 0, &b) == -EFBIG,
	   "an empty TOC: refused");
	if (idx_tocb_new(IDX_COMP_ZSTD, IDX_FOREIGN_ZSTD_CHUNKED, &o, 100, &b) < 0)
		abort();
	ok(idx_tocb_ckpt(b, IDX_CK_ZSTD_FRAME, 100, 0, 0, NULL, 0, &ck) == 0 &&
		   idx_tocb_span(b, ck, 10, 5, 200, 0, sha) == -EBADMSG,
	   "a chunk that leaves a gap: -EBADMSG");
	ok(idx_tocb_span(b, ck, 0, 300u << 20, 200, 0, sha) == 0 && idx_tocb_entry(b, &e) == 0 &&
		   idx_tocb_finish(b, 300u << 20, true, &l) == -EFBIG,
	   "a chunk of 300 MiB: -EFBIG");
	ok(idx_tocb_ckpt(b, IDX_CK_ZSTD_FRAME, 50, 1, 0, NULL, 0, &ck) == -EBADMSG,
	   "a checkpoint before the previous one: -EBADMSG");
	ok(idx_tocb_ckpt(b, IDX_CK_GZ_MEMBER, 500, 1u << 30, 0, NULL, 0, &ck) == -EBADMSG,
	   "a gzip checkpoint in a zstd layer: -EBADMSG");
	idx_tocb_free(b);
	if (idx_tocb_new(IDX_COMP_ZSTD, IDX_FOREIGN_ZSTD_CHUNKED, &o, 100, &b) < 0)
		abort();
	ok(idx_tocb_entry(b, &e) == 0 && idx_tocb_finish(b, 0, true, &l) == 0 && idx_entry_count(l) == 1,
	   "a layer of one directory and no file data builds");
	idx_layer_free(l);
	idx_tocb_free(b);
}

int main(void)
{
	uint64_t seed = 7;

	su_fill(one, sizeof(one), &seed);
	su_fill(two, sizeof(two), &seed);
	su_fill(sp1, sizeof(sp1), &seed);
	su_fill(sp2, sizeof(sp2), &seed);
	test_zstd();
	test_gzip();
	test_refusals();
	return tap_done();
}
