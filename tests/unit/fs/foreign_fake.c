/* SPDX-License-Identifier: MIT */
/*
 * foreign_fake: the fs/ side of foreign TOCs end to end against a real
 * registry, with the fake format of foreign_fake.h (test code, never
 * shipped; the real formats have their own tests).
 *
 *   foreign_fake push REF [--lie|--bad-pin]
 *       make a one-layer image laid out as zstd:chunked lays one out (one
 *       zstd frame per file chunk, the text TOC in a skippable frame at
 *       the end, pinned by layer annotations) and push it; --lie: the TOC
 *       gives etc/hostname mode 0600 (the tar 0644); --bad-pin: the pin
 *       names other bytes than the TOC. Prints "layer DIGEST SIZE".
 *   foreign_fake read REF --cache DIR [--prefetch-all] [--stats FILE] [--only PATH]
 *       open it through fs/image.h with the fake format registered, read
 *       every file (or PATH only) and compare it with what was pushed; with
 *       --prefetch-all wait for the whole-layer check and read once more.
 *       Prints "mode etc/hostname 0NNN", "check STATE", "after-check read
 *       ok|EIO". Exit 0 when every first read matched.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "common/digest.h"
#include "common/log.h"
#include "fs/image.h"
#include "index/test_index_tar_util.h"
#include "foreign_fake.h"

#define CHUNK (1u << 20)
#define N_SMALL 24

struct member {
	char path[64];
	char type;          /* 'd', 'r', 'l', 'h' */
	uint32_t mode;
	size_t size;
	const char *link;
};

static struct member members[8 + N_SMALL];
static size_t n_members;
static const char *only; /* read: this file alone (--only) */

static void add(const char *path, char type, uint32_t mode, size_t size, const char *link)
{
	struct member *m = &members[n_members++];

	snprintf(m->path, sizeof(m->path), "%s", path);
	m->type = type;
	m->mode = mode;
	m->size = size;
	m->link = link;
}

static void layout(void)
{
	char p[64];

	add("etc", 'd', 0755, 0, NULL);
	add("etc/hostname", 'r', 0644, 13, NULL);
	add("big", 'd', 0755, 0, NULL);
	add("big/data.bin", 'r', 0644, 3 * CHUNK + 12345, NULL);
	add("big/hard", 'h', 0644, 0, "big/data.bin");
	add("link", 'l', 0777, 0, "etc/hostname");
	add("small", 'd', 0755, 0, NULL);
	for (int i = 1; i <= N_SMALL; i++) {
		snprintf(p, sizeof(p), "small/f%02d", i);
		add(p, 'r', 0644, (size_t)i * 700, NULL);
	}
}

/* The content of @m: reproducible from its path. */
static uint8_t *content(const struct member *m)
{
	uint8_t *b = malloc(m->size + 1);
	uint64_t s = 1469598103934665603ull;

	for (const char *c = m->path; *c; c++)
		s = (s ^ (uint8_t)*c) * 1099511628211ull;
	for (size_t i = 0; b && i < m->size; i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		b[i] = (i / 97) % 3 ? (uint8_t)(s >> 56) : (uint8_t)"abcdefgh"[i % 8];
	}
	return b;
}

/* ---- push ---- */

struct blob {
	uint8_t *p;
	size_t len, cap;
};

static void put(struct blob *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = 2 * (b->len + n);
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void frame(struct blob *b, const uint8_t *p, size_t n)
{
	size_t cap = ZSTD_compressBound(n), z;
	uint8_t *tmp = malloc(cap);

	z = tmp ? ZSTD_compress(tmp, cap, p, n, 3) : 0;
	if (!tmp || ZSTD_isError(z))
		abort();
	put(b, tmp, z);
	free(tmp);
}

static void hex_of(const uint8_t *p, size_t n, char *hex)
{
	uint8_t sha[DIGEST_SHA256_LEN];
	char d[DIGEST_STR_LEN];

	digest_sha256(p, n, sha);
	digest_format(sha, d);
	snprintf(hex, DIGEST_STR_LEN, "%s", d + 7);
}

/* The tar, cut into frames: one per file chunk, one for what lies between. */
static void make_layer(bool lie, struct blob *blob, struct blob *toc, char diff_id[DIGEST_STR_LEN])
{
	struct tw w = { 0 };
	uint64_t pos = 0;
	char line[512], hex[DIGEST_STR_LEN];
	uint8_t sha[DIGEST_SHA256_LEN];
	size_t *data_off = calloc(n_members, sizeof(size_t));

	for (size_t i = 0; i < n_members; i++) {
		const struct member *m = &members[i];
		char name[80];
		struct tw_hdr h = { .name = name, .mode = m->mode, .mtime = 1700000000, .size = -1,
				    .link = m->link };
		uint8_t *c = content(m);

		snprintf(name, sizeof(name), "%.63s%s", m->path, m->type == 'd' ? "/" : "");
		h.type = m->type == 'd' ? '5' : m->type == 'l' ? '2' : m->type == 'h' ? '1' : '0';
		tw_header(&w, &h, m->size);
		data_off[i] = w.len;
		tw_put(&w, c, m->size);
		tw_pad(&w);
		free(c);
	}
	tw_eof(&w);
	digest_sha256(w.buf, w.len, sha);
	digest_format(sha, diff_id);
	for (size_t i = 0; i < n_members; i++) {
		const struct member *m = &members[i];

		snprintf(line, sizeof(line), "E %c %o 0 0 1700000000 %zu %.63s %.63s\n", m->type,
			 lie && strcmp(m->path, "etc/hostname") == 0 ? 0600 : m->mode, m->size,
			 m->path, m->link ? m->link : "");
		put(toc, line, strlen(line));
		for (size_t k = 0; k < m->size; k += CHUNK) {
			size_t len = m->size - k < CHUNK ? m->size - k : CHUNK;
			uint64_t c_off;

			if (data_off[i] + k > pos)
				frame(blob, w.buf + pos, data_off[i] + k - pos);
			c_off = blob->len;
			frame(blob, w.buf + data_off[i] + k, len);
			hex_of(w.buf + data_off[i] + k, len, hex);
			snprintf(line, sizeof(line), "C %" PRIu64 " %zu %zu %s\n", c_off, blob->len, len,
				 hex);
			put(toc, line, strlen(line));
			pos = data_off[i] + k + len;
		}
	}
	frame(blob, w.buf + pos, w.len - pos);
	free(data_off);
	tw_free(&w);
}

static int upload(struct reg_pusher *p, const void *buf, size_t len, char digest[DIGEST_STR_LEN])
{
	struct reg_blob_src src = { .fd = -1, .buf = buf, .size = len };
	uint8_t sha[DIGEST_SHA256_LEN];

	digest_sha256(buf, len, sha);
	digest_format(sha, digest);
	return reg_blob_upload(p, digest, &src, NULL, NULL);
}

static int push(const char *refs, bool lie, bool bad_pin)
{
	struct blob blob = { 0 }, toc = { 0 };
	char diff[DIGEST_STR_LEN], ld[DIGEST_STR_LEN], cd[DIGEST_STR_LEN], pin[DIGEST_STR_LEN];
	char cfg[512], man[2048], hex[DIGEST_STR_LEN];
	uint8_t skip[8] = { 0x50, 0x2a, 0x4d, 0x18 };
	struct reg_pusher *p = NULL;
	struct reg_opts ro;
	struct reg_ref ref;
	uint64_t toc_off;
	int r;

	make_layer(lie, &blob, &toc, diff);
	skip[4] = (uint8_t)toc.len;
	skip[5] = (uint8_t)(toc.len >> 8);
	skip[6] = (uint8_t)(toc.len >> 16);
	put(&blob, skip, sizeof(skip));
	toc_off = blob.len;
	put(&blob, toc.p, toc.len);
	if (bad_pin)
		put(&toc, "x", 1);
	hex_of(toc.p, toc.len, hex);
	snprintf(pin, sizeof(pin), "sha256:%.64s", hex);
	reg_opts_init(&ro);
	ro.insecure = true;
	r = reg_ref_parse(refs, &ref);
	if (r == 0)
		r = reg_pusher_new(&ro, &ref, &p);
	if (r == 0)
		r = upload(p, blob.p, blob.len, ld);
	snprintf(cfg, sizeof(cfg), "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":"
		 "{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}", diff);
	if (r == 0)
		r = upload(p, cfg, strlen(cfg), cd);
	snprintf(man, sizeof(man), "{\"schemaVersion\":2,\"mediaType\":"
		 "\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":"
		 "\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\",\"size\":%zu},"
		 "\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\","
		 "\"digest\":\"%s\",\"size\":%zu,\"annotations\":{\"%s\":\"%s\",\"%s\":\"%" PRIu64
		 ":%zu\"}}]}", cd, strlen(cfg), ld, blob.len, FAKE_ANNOT_DIGEST, pin, FAKE_ANNOT_POS,
		 toc_off, toc.len - bad_pin);
	if (r == 0)
		r = reg_manifest_put(p, reg_ref_reference(&ref), "application/vnd.oci.image.manifest.v1+json",
				     man, strlen(man), NULL, NULL);
	if (r == 0)
		printf("layer %s %zu\n", ld, blob.len);
	reg_pusher_free(p);
	reg_ref_release(&ref);
	free(blob.p);
	free(toc.p);
	return r;
}

/* ---- read ---- */

/* Read all of @path through the store: 1 when it equals @want, 0 when not, -errno. */
static int read_file(struct fs_image *img, const struct idx_tree *t, const unsigned *nos,
		     const char *path, const uint8_t *want, size_t size)
{
	uint8_t *buf = malloc(size + 1);
	const struct idx_node *n;
	uint64_t ino;
	size_t done = 0;
	ssize_t k = 0;

	if (!buf || idx_tree_resolve(t, path, &ino) < 0 || !(n = idx_tree_node(t, ino))) {
		free(buf);
		return -ENOENT;
	}
	while (done < size) {
		k = fs_store_read(img->store, nos[n->layer], n->entry, buf + done, size - done + 1,
				  done);
		if (k <= 0)
			break;
		done += (size_t)k;
	}
	k = k < 0 ? k : (done == size && memcmp(buf, want, size) == 0);
	free(buf);
	return (int)k;
}

static const char *wait_check(struct fs_image *img)
{
	for (int i = 0; i < 1200; i++) {
		char *js = fs_store_stats_json(img->store);
		const char *st = !js ? NULL : strstr(js, "\"check\":\"passed\"") ? "passed" :
					   strstr(js, "\"check\":\"failed\"") ? "failed" : NULL;

		free(js);
		if (st)
			return st;
		usleep(100000);
	}
	return "none";
}

static int read_all(struct fs_image *img, const struct idx_tree *t, const unsigned *nos)
{
	int bad = 0;

	for (size_t i = 0; i < n_members; i++) {
		const struct member *m = &members[i];
		uint8_t *c;
		int r;

		if ((m->type != 'r' && m->type != 'h') || (only && strcmp(m->path, only) != 0))
			continue;
		c = content(m->type == 'h' ? &members[3] : m);
		r = read_file(img, t, nos, m->path, c, m->type == 'h' ? members[3].size : m->size);
		printf("%s %s\n", r == 1 ? "ok" : "FAIL", m->path);
		bad += r != 1;
		free(c);
	}
	return bad;
}

static int read_ref(const char *ref, const char *cache, bool pf, const char *stats)
{
	static const struct fs_foreign_fmt *const fmts[] = { &fake_foreign_fmt, NULL };
	struct fs_image_opts io = { .ref = ref };
	const struct idx_layer **idx = NULL;
	struct fs_image *img = NULL;
	struct idx_tree *t = NULL;
	unsigned *nos = NULL;
	uint64_t ino;
	int bad = 1, r;

	fs_foreign_formats = fmts;
	reg_opts_init(&io.reg);
	io.reg.insecure = true;
	fs_store_opts_init(&io.store);
	io.store.cache_dir = cache;
	io.store.prefetch_all = pf;
	r = fs_image_open(&io, &img);
	if (r == 0)
		r = fs_image_open_all(img, &idx, &nos);
	if (r == 0)
		r = idx_tree_build(idx, img->manifest->n_layers, 0, &t);
	if (r == 0) {
		bad = read_all(img, t, nos);
		if (idx_tree_resolve(t, "etc/hostname", &ino) == 0)
			printf("mode etc/hostname 0%o\n",
			       idx_tree_entry(t, idx_tree_node(t, ino))->mode);
	}
	if (r == 0 && pf) {
		uint8_t *c = content(&members[1]);

		fs_store_prefetch_start(img->store);
		printf("check %s\n", wait_check(img));
		r = read_file(img, t, nos, "etc/hostname", c, members[1].size);
		printf("after-check read %s\n", r == 1 ? "ok" : r == -EIO ? "EIO" : "other");
		free(c);
		r = 0;
	}
	if (img && stats) {
		char *js = fs_store_stats_json(img->store);
		FILE *f = fopen(stats, "w");

		if (f && js)
			fputs(js, f);
		if (f)
			fclose(f);
		free(js);
	}
	idx_tree_free(t);
	free(idx);
	free(nos);
	fs_image_free(img);
	return r < 0 ? 1 : bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *cache = NULL, *stats = NULL;
	bool lie = false, bad_pin = false, pf = false;

	log_set_prog("foreign_fake");
	layout();
	for (int i = 3; i < argc; i++) {
		if (strcmp(argv[i], "--lie") == 0)
			lie = true;
		else if (strcmp(argv[i], "--bad-pin") == 0)
			bad_pin = true;
		else if (strcmp(argv[i], "--prefetch-all") == 0)
			pf = true;
		else if (strcmp(argv[i], "--cache") == 0 && i + 1 < argc)
			cache = argv[++i];
		else if (strcmp(argv[i], "--stats") == 0 && i + 1 < argc)
			stats = argv[++i];
		else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
			only = argv[++i];
		else
			return 2;
	}
	if (argc >= 3 && strcmp(argv[1], "push") == 0)
		return push(argv[2], lie, bad_pin) < 0 ? 1 : 0;
	if (argc >= 3 && strcmp(argv[1], "read") == 0 && cache)
		return read_ref(argv[2], cache, pf, stats);
	fprintf(stderr, "usage: foreign_fake push REF [--lie|--bad-pin] | read REF --cache DIR "
			"[--prefetch-all] [--stats FILE]\n");
	return 2;
}
