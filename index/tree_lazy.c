/* SPDX-License-Identifier: MIT */
/*
 * The lazy merged tree (IDX_TREE_LAZY): a directory's children are merged
 * across the layers the first time the directory is read (its node asked
 * for, looked into or listed), from the layers' sorted lookup tables
 * (tree_lazy_scan.c) with tree.c's rules (tree_lazy_rule.c). Opening the
 * tree costs one pass of checks over the entries, the hardlinks' groups,
 * and the root; a mount that looks up one deep file merges the directories
 * on its path and nothing else.
 *
 * Nodes and the inode table live in chunks that never move (chunk c holds
 * LZ_CHUNK_BASE << c slots), so a node handed out stays valid while others
 * are added. Merges run under t->lock; a directory's child list is
 * published with a release store once its children are complete, and
 * readers that find it load it with acquire and take no lock. Inode numbers
 * follow the order in which names are merged: stable for the tree's life,
 * not across trees. The names of a hardlinked inode share the number of the
 * first one merged.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "index/layer_int.h"
#include "index/tree_lazy_int.h"

#define MAX_NODES (UINT32_MAX - LZ_CHUNK_BASE)

/* Slot @i's chunk; *off its place there. */
static unsigned chunk_of(uint32_t i, uint32_t *off)
{
	uint64_t q = (uint64_t)i / LZ_CHUNK_BASE + 1;
	unsigned c = 63u - (unsigned)__builtin_clzll(q);

	*off = i - LZ_CHUNK_BASE * ((1u << c) - 1);
	return c;
}

static struct lz_node *node_at(const struct lz_tree *t, uint32_t i)
{
	uint32_t off;
	unsigned c = chunk_of(i, &off);

	return &t->nodes[c][off];
}

static uint32_t *ino_slot(const struct lz_tree *t, uint64_t ino)
{
	uint32_t off;
	unsigned c = chunk_of((uint32_t)ino, &off);

	return &t->by_ino[c][off];
}

/* Make sure slot @i of the chunked array @chunks (elements of @elem bytes) exists. */
static int ensure(void **chunks, uint32_t i, size_t elem)
{
	uint32_t off;
	unsigned c = chunk_of(i, &off);

	if (!chunks[c])
		chunks[c] = malloc(((size_t)LZ_CHUNK_BASE << c) * elem);
	return chunks[c] ? 0 : -ENOMEM;
}

static int new_node(struct lz_tree *t, uint32_t *out)
{
	int r;

	if (t->n_nodes >= MAX_NODES)
		return -EFBIG;
	r = ensure((void **)t->nodes, t->n_nodes, sizeof(struct lz_node));
	if (r < 0)
		return r;
	*out = t->n_nodes++;
	memset(node_at(t, *out), 0, sizeof(struct lz_node));
	return 0;
}

/* A fresh inode number for node @i (published by the caller's store of n_ino). */
static int new_ino(struct lz_tree *t, uint64_t *next, uint32_t i, uint64_t *ino)
{
	int r;

	if (*next + 1 >= MAX_NODES)
		return -EFBIG;
	r = ensure((void **)t->by_ino, (uint32_t)(*next + 1), sizeof(uint32_t));
	if (r < 0)
		return r;
	*ino = ++*next;
	*ino_slot(t, *ino) = i;
	return 0;
}

/* The path of dir node @i into @buf (IDX_MAX_PATH + 1 bytes); its length, -ENAMETOOLONG. */
static int node_path(const struct lz_tree *t, uint32_t i, char *buf)
{
	size_t len = 0;
	char tmp[IDX_MAX_PATH + 1];

	for (uint32_t cur = i; cur != 0; cur = node_at(t, cur)->parent) {
		const char *name = node_at(t, cur)->pub.name;
		size_t n = strlen(name);

		if (len + n + 1 > IDX_MAX_PATH + 1)
			return -ENAMETOOLONG;
		/* built backwards: "/name" segments from the leaf up */
		for (size_t k = 0; k < n; k++)
			tmp[len + k] = name[n - 1 - k];
		len += n;
		tmp[len++] = '/';
	}
	len = len ? len - 1 : 0;
	for (size_t k = 0; k < len; k++)
		buf[k] = tmp[len - 1 - k];
	buf[len] = '\0';
	return (int)len;
}

static int cmp_seen(const void *a, const void *b)
{
	const struct lz_seen *x = a, *y = b;
	int c = memcmp(x->name, y->name, x->len < y->len ? x->len : y->len);

	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return (int)x->layer - (int)y->layer;
}

/* One child to be: its name (maybe not NUL-terminated) and what it is. */
struct cand {
	const char *name;
	uint32_t len;
	bool own;          /* name is NUL-terminated where it lies */
	struct lz_pick p;
};

static int cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	int c = memcmp(x->name, y->name, x->len < y->len ? x->len : y->len);

	return c ? c : (int)x->len - (int)y->len;
}

static bool same_name(const struct lz_seen *a, const struct lz_seen *b)
{
	return a->len == b->len && memcmp(a->name, b->name, a->len) == 0;
}

/* The names seen under the dir, folded per name into what each is (and KEEP markers). */
static int fold(struct lz_tree *t, uint32_t n_seen, uint16_t lo, struct cand *out, uint32_t *n_out)
{
	bool keep = t->flags & IDX_TREE_KEEP_WHITEOUTS;
	uint32_t n = 0;

	for (uint32_t s = 0; s < n_seen;) {
		uint32_t end = s;
		struct lz_pick p;

		for (int k = lo; k < t->n_layers; k++)
			t->info[k] = (struct lz_info){ .real = LZ_NONE };
		for (; end < n_seen && same_name(&t->seen[s], &t->seen[end]); end++) {
			const struct lz_seen *v = &t->seen[end];
			struct lz_info *in = &t->info[v->layer];

			if (v->cls == 0)
				in->real = v->entry, in->type = v->type;
			else if (v->cls == 1)
				in->wh = true;
			else
				in->desc = true;
			if (keep && v->cls == 1) { /* the marker itself, ".wh.<name>" */
				const char *m = idx_treeb_arena_dup(&t->arena, IDX_WH_PREFIX,
								    strlen(IDX_WH_PREFIX), v->name, v->len);

				if (!m)
					return -ENOMEM;
				out[n++] = (struct cand){ .name = m, .len = (uint32_t)strlen(m), .own = true,
					.p = { .kind = LZ_NONDIR, .layer = v->layer, .entry = v->entry,
					       .type = IDX_T_WHITEOUT } };
			}
		}
		p = lz_decide(t->info, lo, t->n_layers - 1);
		if (p.kind == LZ_NONDIR && p.type == IDX_T_HARDLINK && !lz_group_of(t, p.layer, p.entry))
			p.kind = LZ_ABSENT;
		if (p.kind != LZ_ABSENT)
			out[n++] = (struct cand){ .name = t->seen[s].name, .len = t->seen[s].len,
						  .own = t->seen[s].name[t->seen[s].len] == '\0', .p = p };
		s = end;
	}
	*n_out = n;
	return 0;
}

/* A child node for @c under dir node @dir; its node index in *@out. */
static int add_child(struct lz_tree *t, uint32_t dir, const struct cand *c, uint64_t *next,
		     uint32_t *out)
{
	struct lz_pick p = c->p;
	struct lz_group *g = NULL;
	const char *name = c->name;
	struct lz_node *n;
	uint64_t ino = 0;
	int r;

	if (p.type == IDX_T_WHITEOUT || p.type == IDX_T_OPAQUE)
		p.type = IDX_T_REG; /* KEEP: a marker, shown as an empty file */
	if (!c->own)
		name = idx_treeb_arena_dup(&t->arena, "", 0, c->name, c->len);
	if (!name)
		return -ENOMEM;
	if (p.kind == LZ_NONDIR)
		g = lz_group_of(t, p.layer, p.entry);
	if (g) { /* a hardlinked inode: the canonical entry's attributes */
		p.layer = (uint16_t)(g->key >> 32);
		p.entry = (uint32_t)g->key;
		p.type = idx_raw_type(t->layers[p.layer], p.entry);
		ino = g->ino;
	}
	r = new_node(t, out);
	if (r == 0 && !ino)
		r = new_ino(t, next, *out, &ino);
	if (r < 0)
		return r;
	if (g)
		g->ino = ino;
	n = node_at(t, *out);
	n->parent = dir;
	n->lo = p.lo;
	n->pub = (struct idx_node){ .ino = ino, .parent = node_at(t, dir)->pub.ino, .name = name,
				    .layer = p.layer, .entry = p.entry, .type = p.type,
				    .nlink = g ? g->nlink : 1 };
	n->pub.size = idx_treeb_size(p.entry == LZ_NONE ? NULL : idx_entry_get(t->layers[p.layer], p.entry),
				     p.type);
	return 0;
}

/* KEEP: the dir's own opaque marker, shown as a file in it. */
static void keep_opaque(struct lz_tree *t, const char *path, size_t len, struct cand *out,
			uint32_t *n)
{
	uint32_t id = lz_find(t->layers[0], path, len, 2);

	if (id != LZ_NONE)
		out[(*n)++] = (struct cand){ .name = IDX_WH_OPAQUE, .len = strlen(IDX_WH_OPAQUE),
					     .own = true, .p = { .kind = LZ_NONDIR, .entry = id,
								 .type = IDX_T_OPAQUE } };
}

/* Merge the children of dir node @i (t->lock held, not merged yet). */
static int merge_dir(struct lz_tree *t, uint32_t i)
{
	struct lz_node *d = node_at(t, i);
	char path[IDX_MAX_PATH + 1];
	uint32_t n_seen = 0, n_cand = 0, *kids;
	uint64_t next = atomic_load_explicit(&t->n_ino, memory_order_relaxed);
	bool keep = t->flags & IDX_TREE_KEEP_WHITEOUTS;
	uint32_t subdirs = 0;
	struct cand *cand;
	int len = node_path(t, i, path), r = 0;
	uint16_t lo;

	if (len < 0)
		return len;
	lo = lz_children_lo(t, path, (size_t)len, d->lo);
	for (int k = lo; k < t->n_layers && r == 0; k++)
		r = lz_scan_dir(t->layers[k], (uint16_t)k, path, (size_t)len, keep, &t->seen, &n_seen,
				&t->cap_seen);
	if (r < 0)
		return r;
	if (n_seen) /* an empty dir: no table yet */
		qsort(t->seen, n_seen, sizeof(*t->seen), cmp_seen);
	cand = malloc((n_seen + 2) * sizeof(*cand));
	kids = malloc((n_seen + 2) * sizeof(*kids));
	if (!cand || !kids) {
		r = -ENOMEM;
		goto out;
	}
	r = fold(t, n_seen, lo, cand, &n_cand);
	if (r < 0)
		goto out;
	if (keep)
		keep_opaque(t, path, (size_t)len, cand, &n_cand);
	qsort(cand, n_cand, sizeof(*cand), cmp_cand);
	for (uint32_t c = 0; c < n_cand && r == 0; c++) {
		r = add_child(t, i, &cand[c], &next, &kids[c]);
		subdirs += r == 0 && node_at(t, kids[c])->pub.type == IDX_T_DIR;
	}
	if (r < 0)
		goto out;
	d = node_at(t, i);
	d->pub.n_children = n_cand;
	d->pub.nlink = 2 + subdirs;
	atomic_store_explicit(&t->n_ino, next, memory_order_release);
	atomic_fetch_add_explicit(&t->merged, 1, memory_order_relaxed);
	atomic_store_explicit(&d->kids, kids, memory_order_release);
	kids = NULL;
out:
	free(kids);
	free(cand);
	return r;
}

/* Node @i with its children merged when it is a dir; NULL when that fails. */
static struct lz_node *ready(struct lz_tree *t, uint32_t i)
{
	struct lz_node *n = node_at(t, i);
	int r = 0;

	if (n->pub.type != IDX_T_DIR || atomic_load_explicit(&n->kids, memory_order_acquire))
		return n;
	pthread_mutex_lock(&t->lock);
	if (!atomic_load_explicit(&n->kids, memory_order_relaxed)) {
		r = t->err ? t->err : merge_dir(t, i);
		if (r < 0 && !t->err) {
			/* nodes and numbers may be half given out: no later merge is trusted */
			log_err("cannot merge directory '%s' of %u layer(s): %s", n->pub.name,
				t->n_layers, strerror(-r));
			t->err = r;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return r < 0 ? NULL : n;
}

uint64_t lz_count(const struct lz_tree *t)
{
	return atomic_load_explicit(&t->n_ino, memory_order_acquire);
}

const struct idx_node *lz_node(struct lz_tree *t, uint64_t ino)
{
	struct lz_node *n;

	if (ino < IDX_ROOT_INO || ino > lz_count(t))
		return NULL;
	n = ready(t, *ino_slot(t, ino));
	return n ? &n->pub : NULL;
}

/* Dir @dir, merged; its node in *out. */
static int dir_node(struct lz_tree *t, uint64_t dir, struct lz_node **out)
{
	const struct idx_node *d;

	if (dir < IDX_ROOT_INO || dir > lz_count(t))
		return -ENOENT;
	d = lz_node(t, dir);
	if (!d)
		return t->err ? t->err : -ENOENT;
	if (d->type != IDX_T_DIR)
		return -ENOTDIR;
	*out = (struct lz_node *)d;
	return 0;
}

struct lazy_dir {
	const struct lz_tree *t;
	const uint32_t *kids;
};

static const struct idx_node *lazy_kid(const void *ctx, uint32_t i)
{
	const struct lazy_dir *l = ctx;

	return &node_at(l->t, l->kids[i])->pub;
}

int lz_lookup(struct lz_tree *t, uint64_t dir, const char *name, uint64_t *ino)
{
	struct lz_node *d = NULL;
	struct lazy_dir l = { .t = t };
	int r = dir_node(t, dir, &d);

	if (r < 0)
		return r;
	l.kids = atomic_load_explicit(&d->kids, memory_order_acquire);
	return idx_treeb_find(&d->pub, lazy_kid, &l, name, ino);
}

int lz_child(struct lz_tree *t, uint64_t dir, uint32_t pos, const struct idx_node **out)
{
	struct lz_node *d = NULL, *k;
	int r = dir_node(t, dir, &d);

	if (r < 0)
		return r;
	if (pos >= d->pub.n_children)
		return -ENOENT;
	k = ready(t, atomic_load_explicit(&d->kids, memory_order_acquire)[pos]);
	if (!k)
		return t->err ? t->err : -ENOMEM;
	*out = &k->pub;
	return 0;
}

/* The root: the highest real root entry gives its attributes (tree.c's add_entry). */
static int add_root(struct lz_tree *t)
{
	struct lz_node *n;
	uint64_t next = 0, ino;
	uint32_t i, id = LZ_NONE;
	int k = t->n_layers - 1;
	int r;

	for (; k >= 0; k--) {
		id = lz_find(t->layers[k], "", 0, 0);
		if (id != LZ_NONE && idx_raw_type(t->layers[k], id) == IDX_T_DIR)
			break;
		id = LZ_NONE;
	}
	r = new_node(t, &i);
	if (r == 0)
		r = new_ino(t, &next, i, &ino);
	if (r < 0)
		return r;
	n = node_at(t, i);
	n->parent = 0;
	n->lo = 0;
	n->pub = (struct idx_node){ .ino = ino, .parent = ino, .name = "", .type = IDX_T_DIR,
				    .layer = (uint16_t)(id == LZ_NONE ? 0 : k), .entry = id,
				    .size = idx_treeb_size(NULL, IDX_T_DIR) };
	atomic_store_explicit(&t->n_ino, next, memory_order_release);
	return 0;
}

void lz_tree_free(struct lz_tree *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i < t->n_nodes; i++)
		free(atomic_load_explicit(&node_at(t, i)->kids, memory_order_relaxed));
	for (unsigned c = 0; c < LZ_MAX_CHUNKS; c++) {
		free(t->nodes[c]);
		free(t->by_ino[c]);
	}
	idx_treeb_arena_free(t->arena);
	free(t->seen);
	free(t->info);
	free(t->hl_keys);
	free(t->hl_vals);
	free(t->groups);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

int lz_tree_new(const struct idx_layer *const *layers, size_t n, unsigned flags,
		struct lz_tree **out)
{
	struct lz_tree *t;
	int r = lz_check_layers(layers, n, flags);

	if (r < 0)
		return r;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->lock, NULL);
	t->layers = layers;
	t->n_layers = (uint16_t)n;
	t->flags = flags;
	t->info = calloc(n ? n : 1, sizeof(*t->info));
	r = t->info ? lz_link_groups(t) : -ENOMEM;
	if (r == 0)
		r = add_root(t);
	if (r < 0) {
		lz_tree_free(t);
		return r;
	}
	*out = t;
	return 0;
}

uint64_t lz_merged(const struct lz_tree *t)
{
	return atomic_load_explicit(&t->merged, memory_order_relaxed);
}
