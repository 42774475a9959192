/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target of the tar push parser. Each input is parsed twice, in one
 * piece and in chunks whose sizes come from the input itself; both runs
 * must agree on the result and on every entry (a chunking-dependent bug is
 * a crash here). Every reported entry is checked against the invariants
 * tar_int.h promises: normalised path, bounded strings, types in range.
 * When the parse succeeds, the input is also indexed (idx_build, no
 * compression) and merged alone and over itself, and every inode of the
 * tree is checked: sorted children that lookup finds, parents, nlink.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sys/types.h>

#include "index/index.h"
#include "index/tar_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	uint64_t hash;
	uint64_t n;
};

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

static void check_path(const char *p)
{
	size_t len = strlen(p);

	if (len > IDX_MAX_PATH || p[0] == '/' || (len && p[len - 1] == '/') || strstr(p, "//"))
		abort();
	for (const char *c = p; *c;) {
		size_t clen = strcspn(c, "/");

		if ((clen == 1 && c[0] == '.') || (clen == 2 && c[0] == '.' && c[1] == '.'))
			abort();
		c += clen + (c[clen] == '/');
	}
}

/* A sparse map as tar_int.h promises it: sorted, not touching, packed, with a hole. */
static void check_sparse(const struct tar_entry *e)
{
	uint64_t end = 0, tar = e->data_off;

	if (!e->sparse) {
		if (e->n_extents || e->extents)
			abort();
		return;
	}
	if (e->type != IDX_T_REG || e->size == 0 || e->n_extents > TAR_MAX_EXTENTS)
		abort();
	for (uint32_t i = 0; i < e->n_extents; i++) {
		const struct idx_extent *x = &e->extents[i];

		if (x->len == 0 || (i && x->off <= end) || x->off + x->len > e->size ||
		    x->tar_off != tar)
			abort();
		end = x->off + x->len;
		tar += x->len;
	}
	if (e->n_extents == 1 && e->extents[0].off == 0 && end == e->size)
		abort();
}

static int on_entry(void *ctx, const struct tar_entry *e)
{
	struct seen *s = ctx;

	if ((unsigned)e->type > IDX_T_OPAQUE || e->mode > 07777 || e->mtime_nsec >= 1000000000u ||
	    e->size >= TAR_MAX_SIZE || e->data_off < e->header_off + 512 || e->data_off % 512)
		abort();
	if (e->type != IDX_T_REG && e->size != 0)
		abort();
	check_path(e->path);
	if (e->type == IDX_T_HARDLINK) {
		if (!e->link || !e->link[0])
			abort();
		check_path(e->link);
	}
	if ((e->type == IDX_T_SYMLINK || e->type == IDX_T_HARDLINK) != (e->link != NULL))
		abort();
	if (e->n_xattrs > TAR_MAX_XATTRS)
		abort();
	check_sparse(e);
	for (uint32_t i = 0; i < e->n_extents; i++)
		s->hash = mix(s->hash, &e->extents[i], sizeof(e->extents[i]));
	s->hash = mix(s->hash, e, offsetof(struct tar_entry, path));
	s->hash = mix(s->hash, e->path, strlen(e->path) + 1);
	if (e->link)
		s->hash = mix(s->hash, e->link, strlen(e->link) + 1);
	for (uint32_t i = 0; i < e->n_xattrs; i++) {
		if (e->xattrs[i].len > IDX_MAX_XATTR_VALUE || !e->xattrs[i].name[0])
			abort();
		s->hash = mix(s->hash, e->xattrs[i].name, strlen(e->xattrs[i].name) + 1);
		s->hash = mix(s->hash, e->xattrs[i].value, e->xattrs[i].len);
	}
	s->n++;
	return 0;
}

/* @step 0: one piece; else chunk sizes cycling through the input's bytes. */
static int run(const uint8_t *data, size_t size, unsigned step, struct seen *s)
{
	struct tar_callbacks cb = { .on_entry = on_entry };
	struct tar_parser *p = NULL;
	size_t pos = 0, k = 0;
	int r;

	*s = (struct seen){ .hash = 14695981039346656037ull };
	r = idx_tar_parser_new(&cb, s, &p);
	if (r < 0)
		return r;
	while (r == 0 && pos < size) {
		size_t n = step ? (size_t)(data[k++ % size] % step) + 1 : size;

		if (n > size - pos)
			n = size - pos;
		r = idx_tar_parser_feed(p, data + pos, n);
		pos += n;
	}
	if (r == 0)
		r = idx_tar_parser_finish(p);
	if (idx_tar_parser_offset(p) > size || idx_tar_parser_count(p) != s->n)
		abort();
	idx_tar_parser_free(p);
	return r;
}

static int both(const uint8_t *data, size_t size)
{
	struct seen a, b;
	int ra, rb;

	ra = run(data, size, 0, &a);
	rb = run(data, size, 700, &b);
	if (ra != rb || a.hash != b.hash || a.n != b.n)
		abort();
	return ra;
}

/*
 * Mutations almost never keep a header checksum right, which would stop
 * the fuzzer at idx_tar_hdr_check(). So the input is also parsed with a valid
 * checksum written into every non-zero aligned block (headers are always
 * aligned; data blocks just change).
 */
static void fix_checksums(uint8_t *d, size_t size)
{
	for (size_t off = 0; off + 512 <= size; off += 512) {
		uint8_t *b = d + off;
		unsigned sum = 0;
		bool zero = true;

		for (size_t i = 0; i < 512 && zero; i++)
			zero = b[i] == 0;
		if (zero)
			continue;
		memset(b + 148, ' ', 8);
		for (size_t i = 0; i < 512; i++)
			sum += b[i];
		for (int i = 5; i >= 0; i--) {
			b[148 + i] = (uint8_t)('0' + (sum & 7));
			sum >>= 3;
		}
		b[154] = '\0';
	}
}

struct mem {
	const uint8_t *p;
	size_t len, pos;
};

static ssize_t mem_read(void *ctx, void *buf, size_t n)
{
	struct mem *m = ctx;

	if (n > m->len - m->pos)
		n = m->len - m->pos;
	memcpy(buf, m->p + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

static void check_dir(const struct idx_tree *t, const struct idx_node *d)
{
	const struct idx_node *c, *prev = NULL;
	uint32_t subdirs = 0;
	uint64_t ino;

	for (uint32_t i = 0; i < d->n_children; i++) {
		if (idx_tree_child(t, d->ino, i, &c) < 0 || c->parent != d->ino)
			abort();
		if (prev && strcmp(prev->name, c->name) >= 0)
			abort();
		if (idx_tree_lookup(t, d->ino, c->name, &ino) < 0 || ino != c->ino)
			abort();
		subdirs += c->type == IDX_T_DIR;
		prev = c;
	}
	if (idx_tree_child(t, d->ino, d->n_children, &c) != -ENOENT || d->nlink != 2 + subdirs)
		abort();
}

static void check_tree(const struct idx_layer *l, size_t n, unsigned flags)
{
	const struct idx_layer *layers[2] = { l, l };
	struct idx_tree *t = NULL;

	if (idx_tree_build(layers, n, flags, &t) < 0)
		return;
	for (uint64_t ino = 1; ino <= idx_tree_count(t); ino++) {
		const struct idx_node *nd = idx_tree_node(t, ino);

		if (!nd || nd->ino != ino || !idx_tree_entry(t, nd) || nd->nlink == 0)
			abort();
		if (nd->type == IDX_T_HARDLINK || nd->type > IDX_T_FIFO)
			abort();
		if (nd->type == IDX_T_DIR)
			check_dir(t, nd);
	}
	idx_tree_free(t);
}

static void index_and_merge(const uint8_t *data, size_t size)
{
	struct idx_build_opts o = { .comp = IDX_COMP_NONE, .span_size = IDX_MIN_SPAN_SIZE };
	struct mem m = { .p = data, .len = size };
	struct idx_layer *l = NULL;

	if (idx_build(&o, mem_read, &m, &l, NULL) < 0)
		return;
	check_tree(l, 1, 0);
	check_tree(l, 1, IDX_TREE_KEEP_WHITEOUTS);
	check_tree(l, 2, 0);
	idx_layer_free(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;

	both(data, size);
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	fix_checksums(copy, size);
	if (both(copy, size) == 0)
		index_and_merge(copy, size);
	free(copy);
	return 0;
}
