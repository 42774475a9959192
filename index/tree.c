/* SPDX-License-Identifier: MIT */
/*
 * The merge of N layer indexes into one tree, with OCI semantics
 * (the OCI image spec's layer.md: whiteouts, opaque dirs), built through the public per-layer API only.
 *
 * Layers are applied bottom-up. Each layer is applied in two passes so the
 * result never depends on the order of entries inside a layer:
 *   1. its whiteouts and opaque markers remove names from the state left
 *      by the layers below (so they can never hide same-layer entries);
 *   2. its other entries are added in tar order: a dir over a dir updates
 *      the attributes and keeps the children; anything else replaces what
 *      was at the path (a dir becomes a file, a file a dir, a deleted file
 *      comes back); missing parents are synthesised (0755, root, mtime 0);
 *      a hardlink adds a name to its target's inode (the target must
 *      exist by then: earlier in this layer or below; else it is dropped).
 * A symlinked directory on a member's path is followed inside the root,
 * as containerd does (tree_path.c), in the merge and in a single layer's
 * view alike.
 *
 * Build time is a graph of inodes (struct tree_ino) and names (struct
 * tree_dent) with a hash on (parent, name), then tree_fin.c freezes it:
 * BFS over children sorted by bytes, inode numbers in that order from
 * IDX_ROOT_INO, so the numbering is deterministic for the same layers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xarray.h"
#include "index/layer_int.h"
#include "index/tree_lazy_int.h"


char *idx_treeb_arena_dup(struct tree_chunk **arena, const char *a, size_t alen, const char *s,
			  size_t len)
{
	struct tree_chunk *c = *arena;
	size_t need = alen + len + 1;
	char *p;

	if (!c || c->cap - c->used < need) {
		size_t cap = need > 65536 ? need : 65536;

		c = malloc(sizeof(*c) + cap);
		if (!c)
			return NULL;
		c->next = *arena;
		c->used = 0;
		c->cap = cap;
		*arena = c;
	}
	p = c->data + c->used;
	memcpy(p, a, alen);
	memcpy(p + alen, s, len);
	p[alen + len] = '\0';
	c->used += need;
	return p;
}

static uint32_t hash_name(uint32_t parent, const char *s, size_t len)
{
	uint32_t h = 2166136261u ^ parent;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return (h ^ (h >> 15)) * 2246822519u;
}

static bool same_key(const struct tree_dent *d, uint32_t parent, const char *s, size_t len)
{
	return d->parent == parent && d->len == len && memcmp(d->name, s, len) == 0;
}

/* The slot of (parent, name): its live or dead holder, or the empty slot to use. */
static uint32_t *hash_slot(struct tree_builder *b, uint32_t parent, const char *s, size_t len)
{
	uint32_t i = hash_name(parent, s, len) & b->hash_mask;

	while (b->hash[i] && !same_key(&b->d[b->hash[i] - 1], parent, s, len))
		i = (i + 1) & b->hash_mask;
	return &b->hash[i];
}

static int hash_grow(struct tree_builder *b)
{
	uint32_t old_size = b->hash ? b->hash_mask + 1 : 0, size = old_size ? old_size * 2 : 1024;
	uint32_t *old = b->hash;

	if (size > (1u << 31))
		return -EFBIG;
	b->hash = calloc(size, sizeof(*b->hash));
	if (!b->hash) {
		b->hash = old;
		return -ENOMEM;
	}
	b->hash_mask = size - 1;
	for (uint32_t i = 0; i < old_size; i++) {
		const struct tree_dent *d;

		if (!old[i])
			continue;
		d = &b->d[old[i] - 1];
		*hash_slot(b, d->parent, d->name, d->len) = old[i];
	}
	free(old);
	return 0;
}

uint32_t idx_treeb_lookup(struct tree_builder *b, uint32_t dir, const char *s, size_t len)
{
	uint32_t v = *hash_slot(b, dir, s, len);

	return v && !b->d[v - 1].dead ? v - 1 : TREE_NONE;
}

#define lookup idx_treeb_lookup

static bool is_dir(const struct tree_builder *b, uint32_t dent)
{
	return b->ino[b->d[dent].inode].type == IDX_T_DIR;
}

static int new_inode(struct tree_builder *b, uint8_t type, uint16_t layer, uint32_t entry,
		     uint32_t *out)
{
	int r = xarray_grow((void **)&b->ino, &b->cap_ino, b->n_ino, sizeof(*b->ino), 1024,
			    UINT32_MAX / 2);

	if (r < 0)
		return r;
	b->ino[b->n_ino] = (struct tree_ino){ .entry = entry, .layer = layer, .type = type };
	*out = b->n_ino++;
	return 0;
}

/* A new name @s (NUL-terminated at @len, kept by the caller) for @inode in @dir. */
static int new_dent(struct tree_builder *b, uint32_t dir, const char *s, size_t len,
		    uint32_t inode, uint32_t *out)
{
	struct tree_dent *d;
	uint32_t *slot;
	int r;

	r = xarray_grow((void **)&b->d, &b->cap_d, b->n_d, sizeof(*b->d), 1024, UINT32_MAX / 2);
	if (r < 0)
		return r;
	if ((b->hash_used + 1) * 2 > b->hash_mask + 1) {
		r = hash_grow(b);
		if (r < 0)
			return r;
	}
	slot = hash_slot(b, dir, s, len);
	if (!*slot)
		b->hash_used++;
	*slot = b->n_d + 1;
	d = &b->d[b->n_d];
	*d = (struct tree_dent){ .name = s, .len = (uint32_t)len, .parent = dir, .inode = inode,
				 .first = TREE_NONE, .next = b->d[dir].first, .prev = TREE_NONE };
	if (d->next != TREE_NONE)
		b->d[d->next].prev = b->n_d;
	b->d[dir].first = b->n_d;
	*out = b->n_d++;
	return 0;
}

static void remove_dent(struct tree_builder *b, uint32_t dent)
{
	struct tree_dent *d = &b->d[dent];

	if (d->prev != TREE_NONE)
		b->d[d->prev].next = d->next;
	else
		b->d[d->parent].first = d->next;
	if (d->next != TREE_NONE)
		b->d[d->next].prev = d->prev;
	d->dead = true;
}

/* Hide every name below @dir (an opaque dir over the layers below). */
static void clear_dir(struct tree_builder *b, uint32_t dir)
{
	for (uint32_t c = b->d[dir].first; c != TREE_NONE; c = b->d[c].next)
		b->d[c].dead = true;
	b->d[dir].first = TREE_NONE;
}

/*
 * The dentry of @path (@len bytes, normalised). With @layer >= 0, missing
 * or non-dir components are (re)made synthesised dirs and the result is a
 * dir; otherwise TREE_NONE in *out when absent.
 */
int idx_treeb_walk(struct tree_builder *b, const char *path, size_t len, int layer, uint32_t *out)
{
	uint32_t cur = 0, next, inode;
	size_t i = 0;
	int r;

	while (i < len) {
		const char *c = path + i;
		const char *slash = memchr(c, '/', len - i);
		size_t clen = slash ? (size_t)(slash - c) : len - i;

		i += clen + 1;
		next = lookup(b, cur, c, clen);
		if (next != TREE_NONE && is_dir(b, next)) {
			cur = next;
			continue;
		}
		if (layer < 0) {
			*out = TREE_NONE;
			return 0;
		}
		if (next != TREE_NONE)
			remove_dent(b, next);
		r = new_inode(b, IDX_T_DIR, (uint16_t)layer, TREE_NONE, &inode);
		if (r == 0)
			c = idx_treeb_arena_dup(&b->arena, "", 0, c, clen);
		if (r == 0 && !c)
			r = -ENOMEM;
		if (r == 0)
			r = new_dent(b, cur, c, clen, inode, &cur);
		if (r < 0)
			return r;
	}
	*out = cur;
	return 0;
}

static void split(const char *path, size_t *dir_len, const char **base)
{
	const char *slash = strrchr(path, '/');

	*dir_len = slash ? (size_t)(slash - path) : 0;
	*base = slash ? slash + 1 : path;
}

/* Pass 1: one whiteout or opaque marker against the layers below. */
static int apply_whiteout(struct tree_builder *b, const struct idx_entry *e)
{
	const char *base;
	size_t dlen;
	uint32_t dir, victim;
	int r;

	if (e->type == IDX_T_OPAQUE) {
		r = idx_treeb_walk_resolved(b, e->path, strlen(e->path), -1, &dir);
		if (r == 0 && dir != TREE_NONE && is_dir(b, dir))
			clear_dir(b, dir);
		return r;
	}
	split(e->path, &dlen, &base);
	r = idx_treeb_walk_resolved(b, e->path, dlen, -1, &dir);
	if (r < 0 || dir == TREE_NONE || !is_dir(b, dir))
		return r;
	victim = lookup(b, dir, base, strlen(base));
	if (victim != TREE_NONE)
		remove_dent(b, victim);
	return 0;
}

static int add_hardlink(struct tree_builder *b, uint32_t dir, const char *base,
			const struct idx_entry *e)
{
	char parent[IDX_MAX_PATH + 1];
	uint32_t pdir, target = TREE_NONE, dent;
	const char *lbase;
	size_t dlen, plen;
	int r;

	/*
	 * containerd (hardlinkRootPath) resolves the target's parent through
	 * fs.RootPath, every symlink on it followed, but never the last
	 * component, as link(2) does not: a hardlink to a symlink is one more
	 * name of the symlink.
	 */
	split(e->link, &dlen, &lbase);
	r = idx_treeb_resolve(b, e->link, dlen, parent, &plen);
	if (r < 0)
		return r;
	r = idx_treeb_walk(b, parent, plen, -1, &pdir);
	if (r < 0)
		return r;
	if (pdir != TREE_NONE && is_dir(b, pdir))
		target = lookup(b, pdir, lbase, strlen(lbase));
	if (target == TREE_NONE || is_dir(b, target)) {
		log_warn("dropping hardlink '%s': its target '%s' is %s", e->path, e->link,
			 target == TREE_NONE ? "missing" : "a directory");
		return 0;
	}
	return new_dent(b, dir, base, strlen(base), b->d[target].inode, &dent);
}

/* KEEP_WHITEOUTS: the marker itself, as an empty regular file. */
static int add_marker(struct tree_builder *b, uint16_t layer, uint32_t id, const struct idx_entry *e)
{
	const char *base, *name;
	size_t dlen;
	uint32_t dir, inode, dent;
	int r;

	if (e->type == IDX_T_OPAQUE) {
		dlen = strlen(e->path);
		name = IDX_WH_OPAQUE;
	} else {
		split(e->path, &dlen, &base);
		name = idx_treeb_arena_dup(&b->arena, IDX_WH_PREFIX, strlen(IDX_WH_PREFIX), base, strlen(base));
		if (!name)
			return -ENOMEM;
	}
	r = idx_treeb_walk_resolved(b, e->path, dlen, layer, &dir);
	if (r < 0)
		return r;
	dent = lookup(b, dir, name, strlen(name));
	if (dent != TREE_NONE)
		remove_dent(b, dent);
	r = new_inode(b, IDX_T_REG, layer, id, &inode);
	if (r < 0)
		return r;
	return new_dent(b, dir, name, strlen(name), inode, &dent);
}

/* Pass 2: one entry that is not a whiteout. */
static int add_entry(struct tree_builder *b, uint16_t layer, uint32_t id, const struct idx_entry *e)
{
	uint32_t dir, old, inode, dent;
	const char *base;
	size_t dlen;
	int r;

	if (e->path[0] == '\0') {
		if (e->type == IDX_T_DIR)
			b->ino[b->d[0].inode] = (struct tree_ino){ .entry = id, .layer = layer,
								   .type = IDX_T_DIR };
		return 0;
	}
	split(e->path, &dlen, &base);
	r = idx_treeb_walk_resolved(b, e->path, dlen, layer, &dir);
	if (r < 0)
		return r;
	old = lookup(b, dir, base, strlen(base));
	if (old != TREE_NONE && e->type == IDX_T_DIR && is_dir(b, old)) {
		b->ino[b->d[old].inode].entry = id;
		b->ino[b->d[old].inode].layer = layer;
		return 0;
	}
	if (old != TREE_NONE)
		remove_dent(b, old);
	if (e->type == IDX_T_HARDLINK)
		return add_hardlink(b, dir, base, e);
	r = new_inode(b, e->type, layer, id, &inode);
	if (r < 0)
		return r;
	return new_dent(b, dir, base, strlen(base), inode, &dent);
}

/* A path as the tar reader normalises it: a loaded index may hold anything. */
static bool path_ok(const char *p, bool root_ok)
{
	if (!p)
		return false;
	if (!*p)
		return root_ok;
	for (;;) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!p[n])
			return true;
		p += n + 1;
	}
}

bool idx_treeb_entry_ok(const struct idx_entry *e)
{
	return e->type <= IDX_T_OPAQUE &&
	       path_ok(e->path, e->type == IDX_T_DIR || e->type == IDX_T_OPAQUE) &&
	       (e->type != IDX_T_HARDLINK || path_ok(e->link, false));
}

static bool is_marker(const struct idx_entry *e)
{
	return e->type == IDX_T_WHITEOUT || e->type == IDX_T_OPAQUE;
}

static int apply_layer(struct tree_builder *b, uint16_t layer)
{
	const struct idx_layer *l = b->layers[layer];
	uint32_t n = idx_entry_count(l);
	int r = 0;

	for (uint32_t i = 0; i < n && r == 0; i++) {
		const struct idx_entry *e = idx_entry_get(l, i);

		if (!e || idx_treeb_entry_ok(e))
			continue;
		log_warn("ignoring entry '%s' of layer %u: not a normalised path or a known type",
			 e->path ? e->path : "(null)", layer);
	}
	for (uint32_t i = 0; i < n && r == 0; i++) {
		const struct idx_entry *e = idx_entry_get(l, i);

		if (e && is_marker(e) && idx_treeb_entry_ok(e))
			r = apply_whiteout(b, e);
	}
	for (uint32_t i = 0; i < n && r == 0; i++) {
		const struct idx_entry *e = idx_entry_get(l, i);

		if (!e || !idx_treeb_entry_ok(e))
			continue;
		if (!is_marker(e))
			r = add_entry(b, layer, i, e);
		else if (b->flags & IDX_TREE_KEEP_WHITEOUTS)
			r = add_marker(b, layer, i, e);
	}
	return r;
}

static void builder_release(struct tree_builder *b)
{
	free(b->ino);
	free(b->d);
	free(b->hash);
	idx_treeb_arena_free(b->arena);
}

static int builder_init(struct tree_builder *b)
{
	uint32_t root_ino;
	int r;

	r = hash_grow(b);
	if (r == 0)
		r = new_inode(b, IDX_T_DIR, 0, TREE_NONE, &root_ino);
	if (r < 0)
		return r;
	/* Made by hand: the root is its own parent and nobody's child. */
	b->d = calloc(1024, sizeof(*b->d));
	if (!b->d)
		return -ENOMEM;
	b->cap_d = 1024;
	b->n_d = 1;
	b->d[0] = (struct tree_dent){ .name = "", .parent = 0, .inode = root_ino,
				      .first = TREE_NONE, .next = TREE_NONE, .prev = TREE_NONE };
	return 0;
}

int idx_tree_build(const struct idx_layer *const *layers, size_t n, unsigned flags,
		   struct idx_tree **out)
{
	struct tree_builder b = { .layers = layers, .n_layers = n, .flags = flags };
	struct idx_tree *t;
	int r;

	if (n > UINT16_MAX)
		return -EFBIG;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->layers = malloc((n ? n : 1) * sizeof(*t->layers));
	if (!t->layers) {
		r = -ENOMEM;
		goto out_free_tree;
	}
	if (n)
		memcpy(t->layers, layers, n * sizeof(*layers));
	t->n_layers = n;
	t->synth = (struct idx_entry){ .type = IDX_T_DIR, .mode = 0755, .path = "" };
	if (flags & IDX_TREE_LAZY) {
		r = lz_tree_new(t->layers, n, flags & ~(unsigned)IDX_TREE_LAZY, &t->lazy);
		if (r == 0) {
			*out = t;
			return 0;
		}
		if (r != -ENOTSUP)
			goto out_free_tree;
		/* the layers need what only the whole merge does (logged): merged whole */
	}
	for (size_t i = 0; i < n; i++)
		idx_entry_fill_all(layers[i]); /* all of them are read: one lock, not one each */
	r = builder_init(&b);
	for (size_t i = 0; i < n && r == 0; i++)
		r = apply_layer(&b, (uint16_t)i);
	if (r == 0)
		r = idx_treeb_freeze(&b, t);
	builder_release(&b);
	if (r < 0)
		goto out_free_tree;
	*out = t;
	return 0;
out_free_tree:
	idx_tree_free(t);
	return r;
}
