/* SPDX-License-Identifier: MIT */
/*
 * Freezing the merged tree, and its queries. Frozen, every name is one
 * struct idx_node in an array in BFS order from the root, where the
 * children of a dir are contiguous and sorted by bytes (strcmp), so
 * idx_tree_child() is an index and idx_tree_lookup() a binary search.
 * Inode numbers follow that order from IDX_ROOT_INO; the extra names of a
 * hardlinked inode keep the number of its first name.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "index/tree_lazy_int.h"

#define DIR_SIZE 4096 /* what ext4 and most fs show for a small dir */

struct kid {
	const char *name;
	uint32_t dent;
};

static int cmp_kid(const void *a, const void *b)
{
	return strcmp(((const struct kid *)a)->name, ((const struct kid *)b)->name);
}

void idx_treeb_arena_free(struct tree_chunk *c)
{
	while (c) {
		struct tree_chunk *next = c->next;

		free(c);
		c = next;
	}
}

/* BFS over sorted children: @order gets the dentries, t->first and n_children set. */
static uint32_t bfs(const struct tree_builder *b, struct idx_tree *t, uint32_t *order,
		    struct kid *kids)
{
	uint32_t count = 1;

	order[0] = 0;
	for (uint32_t head = 0; head < count; head++) {
		uint32_t k = 0;

		for (uint32_t c = b->d[order[head]].first; c != TREE_NONE; c = b->d[c].next)
			kids[k++] = (struct kid){ .name = b->d[c].name, .dent = c };
		qsort(kids, k, sizeof(*kids), cmp_kid);
		t->first[head] = count;
		t->nodes[head].n_children = k;
		for (uint32_t i = 0; i < k; i++)
			order[count++] = kids[i].dent;
	}
	return count;
}

uint64_t idx_treeb_size(const struct idx_entry *e, uint8_t type)
{
	if (type == IDX_T_DIR)
		return DIR_SIZE;
	if (!e)
		return 0;
	if (type == IDX_T_SYMLINK)
		return e->link ? strlen(e->link) : 0;
	return type == IDX_T_REG && e->type == IDX_T_REG ? e->size : 0;
}

static uint64_t node_size(const struct idx_tree *t, const struct idx_node *n)
{
	return idx_treeb_size(n->type == IDX_T_DIR ? NULL : idx_tree_entry(t, n), n->type);
}

/* Inode numbers, links, attributes of every node; @pos and @links are scratch. */
static void fill(struct tree_builder *b, struct idx_tree *t, const uint32_t *order,
		 uint32_t *pos, uint32_t *links)
{
	memset(links, 0, b->n_ino * sizeof(*links));
	for (uint32_t i = 0; i < t->n_nodes; i++) {
		const struct tree_dent *d = &b->d[order[i]];
		struct tree_ino *ino = &b->ino[d->inode];
		struct idx_node *n = &t->nodes[i];

		pos[order[i]] = i;
		if (!ino->final) {
			ino->final = ++t->n_ino;
			t->by_ino[ino->final] = i;
		}
		links[d->inode]++;
		n->ino = ino->final;
		n->parent = t->nodes[pos[d->parent]].ino;
		n->name = d->name;
		n->layer = ino->layer;
		n->entry = ino->entry;
		n->type = ino->type;
		n->size = node_size(t, n);
		if (n->type == IDX_T_DIR && i > 0)
			t->nodes[pos[d->parent]].nlink++;
		if (n->type == IDX_T_DIR)
			n->nlink += 2;
	}
	for (uint32_t i = 0; i < t->n_nodes; i++) {
		if (t->nodes[i].type != IDX_T_DIR)
			t->nodes[i].nlink = links[b->d[order[i]].inode];
	}
}

int idx_treeb_freeze(struct tree_builder *b, struct idx_tree *t)
{
	uint32_t *order = NULL, *pos = NULL, *links = NULL;
	struct kid *kids = NULL;
	int r = -ENOMEM;

	order = malloc(b->n_d * sizeof(*order));
	pos = malloc(b->n_d * sizeof(*pos));
	links = malloc(b->n_ino * sizeof(*links));
	kids = malloc(b->n_d * sizeof(*kids));
	t->nodes = calloc(b->n_d, sizeof(*t->nodes));
	t->first = calloc(b->n_d, sizeof(*t->first));
	t->by_ino = calloc((size_t)b->n_d + 1, sizeof(*t->by_ino));
	if (!order || !pos || !links || !kids || !t->nodes || !t->first || !t->by_ino)
		goto out_free_scratch;
	t->synth = (struct idx_entry){ .type = IDX_T_DIR, .mode = 0755, .path = "" };
	t->n_nodes = bfs(b, t, order, kids);
	fill(b, t, order, pos, links);
	t->arena = b->arena;
	b->arena = NULL;
	r = 0;
out_free_scratch:
	free(kids);
	free(links);
	free(pos);
	free(order);
	return r;
}

void idx_tree_free(struct idx_tree *t)
{
	if (!t)
		return;
	lz_tree_free(t->lazy);
	idx_treeb_arena_free(t->arena);
	free(t->nodes);
	free(t->first);
	free(t->by_ino);
	free(t->layers);
	free(t);
}

uint64_t idx_tree_count(const struct idx_tree *t)
{
	if (t->lazy)
		return lz_count(t->lazy);
	return t->n_ino;
}

uint64_t idx_tree_merged_dirs(const struct idx_tree *t)
{
	return t->lazy ? lz_merged(t->lazy) : UINT64_MAX;
}

const struct idx_node *idx_tree_node(const struct idx_tree *t, uint64_t ino)
{
	if (t->lazy)
		return lz_node(t->lazy, ino);
	if (ino < IDX_ROOT_INO || ino > t->n_ino)
		return NULL;
	return &t->nodes[t->by_ino[ino]];
}

const struct idx_entry *idx_tree_entry(const struct idx_tree *t, const struct idx_node *n)
{
	if (n->entry == IDX_TREE_NO_ENTRY)
		return &t->synth;
	if (n->layer >= t->n_layers)
		return NULL;
	return idx_entry_get(t->layers[n->layer], n->entry);
}

int idx_treeb_find(const struct idx_node *d, idx_treeb_kid_fn kid, const void *ctx,
		   const char *name, uint64_t *ino)
{
	uint32_t lo = 0, hi = d->n_children;

	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
		*ino = name[1] ? d->parent : d->ino;
		return 0;
	}
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct idx_node *k = kid(ctx, mid);
		int c = strcmp(k->name, name);

		if (c == 0) {
			*ino = k->ino;
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -ENOENT;
}

struct frozen_dir {
	const struct idx_tree *t;
	uint32_t first;
};

static const struct idx_node *frozen_kid(const void *ctx, uint32_t i)
{
	const struct frozen_dir *f = ctx;

	return &f->t->nodes[f->first + i];
}

int idx_tree_lookup(const struct idx_tree *t, uint64_t dir, const char *name, uint64_t *ino)
{
	const struct idx_node *d;
	struct frozen_dir f = { .t = t };

	if (t->lazy)
		return lz_lookup(t->lazy, dir, name, ino);
	d = idx_tree_node(t, dir);
	if (!d)
		return -ENOENT;
	if (d->type != IDX_T_DIR)
		return -ENOTDIR;
	f.first = t->first[d - t->nodes];
	return idx_treeb_find(d, frozen_kid, &f, name, ino);
}

int idx_tree_child(const struct idx_tree *t, uint64_t dir, uint32_t pos,
		   const struct idx_node **out)
{
	const struct idx_node *d;

	if (t->lazy)
		return lz_child(t->lazy, dir, pos, out);
	d = idx_tree_node(t, dir);
	if (!d)
		return -ENOENT;
	if (d->type != IDX_T_DIR)
		return -ENOTDIR;
	if (pos >= d->n_children)
		return -ENOENT;
	*out = &t->nodes[t->first[d - t->nodes] + pos];
	return 0;
}

int idx_tree_resolve(const struct idx_tree *t, const char *path, uint64_t *ino)
{
	uint64_t cur = IDX_ROOT_INO;
	char name[IDX_MAX_PATH + 1];

	while (*path) {
		size_t len = strcspn(path, "/");
		int r;

		if (len > IDX_MAX_PATH)
			return -ENAMETOOLONG;
		if (len > 0) {
			memcpy(name, path, len);
			name[len] = '\0';
			r = idx_tree_lookup(t, cur, name, &cur);
			if (r < 0)
				return r;
		}
		path += len + (path[len] == '/');
	}
	*ino = cur;
	return 0;
}
