/* SPDX-License-Identifier: MIT */
/*
 * test_index_tar_dump LAYERFILE...: index local layer blobs with idx_build;
 * one layer is merged alone with whiteouts kept (like `strata ls`), several
 * are merged bottom-up (the first is the lowest) with OCI whiteouts applied.
 * Prints one line per name, depth first, for the oracle tests to compare
 * with what GNU tar or umoci extracts:
 *   path|type|mode|uid|gid|mtime.nsec|size|nlink|link|xattrs|sha256
 * type is one of f d l c b p; size is "-" for dirs (fs-dependent), the
 * device as "maj,min" for c/b; xattrs as name=hex joined by ',' sorted;
 * sha256 of the content read back through idx_file_read, "-" otherwise.
 * With --save OUT (one layer), the index is also written to OUT (idx_save),
 * for `strata ls --index`. With --ztoc ZTOC (one layer: a gzip blob), the
 * layer is read through that SOCI zTOC (idx_soci_ztoc_load) instead of
 * being indexed: the same dump from another table of contents. Exit 1
 * with the error on stderr if anything fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/dbuf.h"
#include "common/digest.h"
#include "common/log.h"
#include "index/foreign.h"
#include "index/index.h"

#define MAX_LAYERS 16

struct ctx {
	int fd[MAX_LAYERS];
	struct idx_layer *l[MAX_LAYERS];
	struct idx_reader rd[MAX_LAYERS];
	size_t n;
	const struct idx_tree *t;
	struct dbuf out;
};

static ssize_t rd_stream(void *p, void *buf, size_t n)
{
	ssize_t r = read(*(int *)p, buf, n);

	return r < 0 ? -errno : r;
}

static ssize_t rd_at(void *p, void *buf, size_t n, uint64_t off)
{
	ssize_t r = pread(*(int *)p, buf, n, (off_t)off);

	return r < 0 ? -errno : r;
}

static int cmp_xattr(const void *a, const void *b)
{
	return strcmp(((const struct idx_xattr *)a)->name, ((const struct idx_xattr *)b)->name);
}

static int content_sha(struct ctx *c, const struct idx_node *n, char hex[DIGEST_STR_LEN])
{
	static uint8_t buf[1 << 20];
	struct digest_ctx *d = NULL;
	uint8_t raw[DIGEST_SHA256_LEN];
	uint64_t off = 0;
	int r = digest_ctx_new(&d);

	while (r == 0 && off < n->size) {
		ssize_t got = idx_file_read(c->l[n->layer], n->entry, &c->rd[n->layer], buf,
					    sizeof(buf), off);

		if (got <= 0) {
			r = got < 0 ? (int)got : -EBADMSG;
			break;
		}
		r = digest_ctx_update(d, buf, (size_t)got);
		off += (uint64_t)got;
	}
	if (r == 0)
		r = digest_ctx_final(d, raw);
	if (r == 0)
		hex_encode(raw, sizeof(raw), hex);
	digest_ctx_free(d);
	return r;
}

static int line(struct ctx *c, const struct idx_node *n, const char *path)
{
	static const char types[] = { [IDX_T_REG] = 'f', [IDX_T_DIR] = 'd', [IDX_T_SYMLINK] = 'l',
				      [IDX_T_CHR] = 'c', [IDX_T_BLK] = 'b', [IDX_T_FIFO] = 'p' };
	const struct idx_entry *e = idx_tree_entry(c->t, n);
	struct idx_xattr xs[256];
	char sha[DIGEST_STR_LEN] = "-";
	uint32_t nx = e->n_xattrs < 256 ? e->n_xattrs : 256;
	int r = 0;

	dbuf_printf(&c->out, "%s|%c|%04o|%u|%u|%" PRId64 ".%09u|", path, types[n->type],
		    e->mode & 07777, e->uid, e->gid, e->mtime_sec, e->mtime_nsec);
	if (n->type == IDX_T_DIR)
		dbuf_add_str(&c->out, "-");
	else if (n->type == IDX_T_CHR || n->type == IDX_T_BLK)
		dbuf_printf(&c->out, "%u,%u", e->dev_major, e->dev_minor);
	else
		dbuf_printf(&c->out, "%" PRIu64, n->size);
	dbuf_printf(&c->out, "|%u|%s|", n->nlink, n->type == IDX_T_SYMLINK ? e->link : "");
	if (nx) {
		memcpy(xs, e->xattrs, nx * sizeof(*xs));
		qsort(xs, nx, sizeof(*xs), cmp_xattr);
	}
	for (uint32_t i = 0; i < nx; i++) {
		char hex[2 * IDX_MAX_XATTR_VALUE + 1];

		hex_encode(xs[i].value, xs[i].len, hex);
		dbuf_printf(&c->out, "%s%s=%s", i ? "," : "", xs[i].name, hex);
	}
	if (n->type == IDX_T_REG)
		r = content_sha(c, n, sha);
	dbuf_printf(&c->out, "|%s\n", sha);
	if (r < 0)
		fprintf(stderr, "cannot read '%s': %s\n", path, strerror(-r));
	return r;
}

static int walk(struct ctx *c, uint64_t dir, const char *prefix)
{
	const struct idx_node *n;
	int r = 0;

	for (uint32_t i = 0; r == 0 && idx_tree_child(c->t, dir, i, &n) == 0; i++) {
		char *path = NULL;

		if (asprintf(&path, "%s%s%s", prefix, *prefix ? "/" : "", n->name) < 0)
			return -ENOMEM;
		r = line(c, n, path);
		if (r == 0 && n->type == IDX_T_DIR)
			r = walk(c, n->ino, path);
		free(path);
	}
	return r;
}

static int save_index(const struct idx_layer *l, const char *path)
{
	void *buf = NULL;
	size_t len = 0;
	FILE *f;
	int r = idx_save(l, &buf, &len);

	if (r < 0)
		return r;
	f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len)
		r = -EIO;
	if (f && fclose(f) != 0)
		r = -EIO;
	free(buf);
	return r;
}

/* All of @fd into @b. */
static int slurp(int fd, struct dbuf *b)
{
	char buf[1 << 16];
	ssize_t n;
	int r = 0;

	while (r == 0 && (n = read(fd, buf, sizeof(buf))) != 0)
		r = n < 0 ? -errno : dbuf_add(b, buf, (size_t)n);
	return r;
}

/* Layer @i through the zTOC in file @ztoc, for the blob open on c->fd[i]. */
static int load_ztoc(struct ctx *c, size_t i, const char *ztoc)
{
	struct dbuf blob, toc;
	uint8_t raw[DIGEST_SHA256_LEN];
	char digest[DIGEST_STR_LEN];
	struct idx_foreign_opts o = { .blob_digest = digest };
	int fd = open(ztoc, O_RDONLY), r;

	dbuf_init(&blob, (size_t)1 << 30);
	dbuf_init(&toc, (size_t)1 << 30);
	r = fd < 0 ? -errno : slurp(fd, &toc);
	if (r == 0)
		r = slurp(c->fd[i], &blob);
	if (r == 0) {
		digest_sha256(blob.data, blob.len, raw);
		digest_format(raw, digest);
		o.blob_size = blob.len;
		r = idx_soci_ztoc_load(toc.data, toc.len, &o, &c->l[i]);
	}
	if (r < 0)
		fprintf(stderr, "cannot read through zTOC '%s': %s\n", ztoc, strerror(-r));
	if (fd >= 0)
		close(fd);
	dbuf_release(&blob);
	dbuf_release(&toc);
	return r;
}

static int open_layers(struct ctx *c, char **files, const char *ztoc)
{
	struct idx_build_opts o = { .comp = IDX_COMP_AUTO };
	int r;

	for (size_t i = 0; i < c->n; i++) {
		c->fd[i] = open(files[i], O_RDONLY);
		if (c->fd[i] < 0) {
			fprintf(stderr, "cannot open '%s': %s\n", files[i], strerror(errno));
			return -errno;
		}
		c->rd[i] = (struct idx_reader){ .ctx = &c->fd[i], .read_at = rd_at };
		if (ztoc)
			return load_ztoc(c, i, ztoc);
		r = idx_build(&o, rd_stream, &c->fd[i], &c->l[i], NULL);
		if (r < 0) {
			fprintf(stderr, "cannot index '%s': %s\n", files[i], strerror(-r));
			return r;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct idx_tree *t = NULL;
	struct ctx c = { 0 };
	const char *save = NULL, *ztoc = NULL;
	int r;

	if (argc >= 4 && strcmp(argv[1], "--save") == 0) {
		save = argv[2];
		argv += 2;
		argc -= 2;
	} else if (argc >= 4 && strcmp(argv[1], "--ztoc") == 0) {
		ztoc = argv[2];
		argv += 2;
		argc -= 2;
	}
	if (argc < 2 || argc - 1 > MAX_LAYERS || ((save || ztoc) && argc != 2)) {
		fprintf(stderr, "usage: %s [--save OUT | --ztoc ZTOC] LAYERFILE...\n", argv[0]);
		return 2;
	}
	c.n = (size_t)argc - 1;
	r = open_layers(&c, argv + 1, ztoc);
	if (r == 0) {
		r = idx_tree_build((const struct idx_layer *const *)c.l, c.n,
				   c.n == 1 ? IDX_TREE_KEEP_WHITEOUTS : 0, &t);
		if (r < 0)
			fprintf(stderr, "cannot merge: %s\n", strerror(-r));
	}
	if (r == 0 && save) {
		r = save_index(c.l[0], save);
		if (r < 0)
			fprintf(stderr, "cannot save the index: %s\n", strerror(-r));
	}
	if (r == 0) {
		c.t = t;
		dbuf_init(&c.out, (size_t)1 << 30);
		r = walk(&c, IDX_ROOT_INO, "");
		if (c.out.len)
			fwrite(c.out.data, 1, c.out.len, stdout);
		dbuf_release(&c.out);
	}
	idx_tree_free(t);
	for (size_t i = 0; i < c.n; i++) {
		idx_layer_free(c.l[i]);
		if (c.fd[i] > 0)
			close(c.fd[i]);
	}
	return r < 0 ? 1 : 0;
}
