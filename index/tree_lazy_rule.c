/* SPDX-License-Identifier: MIT */
/*
 * What one name is in the lazy merge, decided from what each layer holds
 * at that name, and the hardlink groups of a lazy tree.
 *
 * tree.c applies layers bottom-up: per layer, whiteouts and opaque markers
 * first (against the layers below), then the other entries (a dir over a
 * dir keeps the children and takes the newer attributes, anything else
 * replaces, a missing parent is synthesised). Read top-down for one name
 * of a directory whose entries count from layer lo on, that is:
 *   - the highest layer with a real entry or entries below the name
 *     decides: a non-dir is the answer; a dir (real or synthesised) goes
 *     on down its lineage, which ends at a lower non-dir (replaced) or at
 *     a whiteout of the name (which also hides it when nothing above
 *     decided: then the name is absent);
 *   - a dir's attributes are the highest real dir entry of the lineage; a
 *     lineage of synthesised parents only belongs to its lowest layer;
 *   - the dir's own entries count from the lineage's lowest layer, or from
 *     the highest opaque marker of it above that (lz_children_lo).
 *
 * Hardlinks: a name added by a hardlink shares the inode its target's name
 * had when the hardlink's layer was applied (the layers below and the
 * earlier members of its own layer). Each hardlink is resolved that way
 * once, when the tree is opened, by walking its target's path through the
 * same rule restricted to those layers; the names that survive in the
 * final tree then give each inode its link count.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "index/layer_int.h"
#include "index/tree_lazy_int.h"

struct lz_pick lz_decide(const struct lz_info *info, int lo, int top)
{
	struct lz_pick p = { .kind = LZ_ABSENT };
	bool synth = false;

	for (int k = top; k >= lo; k--) {
		const struct lz_info *in = &info[k];
		bool real = in->real != LZ_NONE, dir = real && in->type == IDX_T_DIR;

		if (p.kind == LZ_ABSENT && real && !dir)
			return (struct lz_pick){ .kind = LZ_NONDIR, .layer = (uint16_t)k,
						 .entry = in->real, .type = in->type };
		if (p.kind == LZ_DIR && real && !dir) {
			p.lo = (uint16_t)(k + 1);
			return p;
		}
		if (p.kind == LZ_ABSENT && (dir || in->desc)) {
			p = (struct lz_pick){ .kind = LZ_DIR, .layer = (uint16_t)k, .type = IDX_T_DIR,
					      .entry = dir ? in->real : LZ_NONE };
			synth = !dir;
		} else if (p.kind == LZ_DIR && synth && (dir || in->desc)) {
			p.layer = (uint16_t)k;
			p.entry = dir ? in->real : LZ_NONE;
			synth = !dir;
		}
		if (in->wh) {
			p.lo = (uint16_t)k;
			return p;
		}
	}
	p.lo = (uint16_t)lo;
	return p;
}

/* lz_children_lo() seen from layer @top down. */
static uint16_t children_lo_at(const struct lz_tree *t, const char *path, size_t len, uint16_t lo,
			       int top)
{
	if (t->flags & IDX_TREE_KEEP_WHITEOUTS)
		return lo; /* one layer, its markers shown, nothing below to hide */
	for (int k = top; k > (int)lo; k--) {
		if (lz_find(t->layers[k], path, len, 2) != LZ_NONE)
			return (uint16_t)k;
	}
	return lo;
}

uint16_t lz_children_lo(const struct lz_tree *t, const char *path, size_t len, uint16_t lo)
{
	return children_lo_at(t, path, len, lo, t->n_layers - 1);
}

static uint32_t hl_slot(const struct lz_tree *t, uint64_t key)
{
	uint32_t i = (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & t->hl_mask;

	while (t->hl_keys[i] && t->hl_keys[i] != key + 1)
		i = (i + 1) & t->hl_mask;
	return i;
}

struct lz_group *lz_group_of(const struct lz_tree *t, uint16_t layer, uint32_t entry)
{
	uint32_t i;

	if (!t->hl_keys)
		return NULL;
	i = hl_slot(t, (uint64_t)layer << 32 | entry);
	return t->hl_keys[i] ? &t->groups[t->hl_vals[i]] : NULL;
}

static void hl_put(struct lz_tree *t, uint16_t layer, uint32_t entry, uint32_t group)
{
	uint64_t key = (uint64_t)layer << 32 | entry;
	uint32_t i = hl_slot(t, key);

	t->hl_keys[i] = key + 1;
	t->hl_vals[i] = group;
}

/* What @path is once layers 0..@top are applied, @top's members before @max_id only. */
static struct lz_pick lookup_at(const struct lz_tree *t, struct lz_info *info, const char *path,
				int top, uint32_t max_id)
{
	struct lz_pick p = { .kind = LZ_DIR };
	size_t len = strlen(path), end = 0;
	uint16_t lo = children_lo_at(t, "", 0, 0, top);
	bool keep = t->flags & IDX_TREE_KEEP_WHITEOUTS;

	while (end < len) {
		const char *slash = strchr(path + end, '/');

		end = slash ? (size_t)(slash - path) : len;
		for (int k = lo; k <= top; k++) {
			const struct idx_layer *l = t->layers[k];
			uint32_t real = lz_find(l, path, end, 0);

			if (k == top && real != LZ_NONE && real >= max_id)
				real = LZ_NONE;
			int desc = k == top && max_id != UINT32_MAX
					   ? lz_has_desc_before(l, path, end, keep, max_id)
					   : lz_has_desc(l, path, end, keep);

			/* members of its own layer after the hardlink may turn a file into a dir later */
			if (desc < 0)
				((struct lz_tree *)t)->link_unsure = true;
			info[k] = (struct lz_info){ .real = real, .wh = lz_find(l, path, end, 1) != LZ_NONE,
						    .type = real != LZ_NONE ? idx_raw_type(l, real) : 0,
						    .desc = desc > 0 };
		}
		p = lz_decide(info, lo, top);
		if (p.kind == LZ_NONDIR && p.type == IDX_T_HARDLINK && !lz_group_of(t, p.layer, p.entry))
			p.kind = LZ_ABSENT; /* a hardlink dropped, as tree.c drops it */
		if (end == len || p.kind != LZ_DIR)
			return end == len ? p : (struct lz_pick){ .kind = LZ_ABSENT };
		lo = children_lo_at(t, path, end, p.lo, top);
		end++;
	}
	return p;
}

static bool survives(const struct lz_tree *t, struct lz_info *info, uint16_t layer, uint32_t entry)
{
	struct lz_pick p = lookup_at(t, info, idx_raw_path(t->layers[layer], entry),
				     t->n_layers - 1, UINT32_MAX);

	return p.kind == LZ_NONDIR && p.layer == layer && p.entry == entry;
}

/* The group of hardlink @id of layer @k, made when its target is a plain entry; -ENOENT: dropped. */
static int link_one(struct lz_tree *t, struct lz_info *info, uint16_t k, uint32_t id)
{
	const struct idx_entry *e = idx_entry_get(t->layers[k], id);
	size_t plen = strlen(e->path);
	struct lz_pick p = lookup_at(t, info, e->link, k, id);
	struct lz_group *g;

	/* tree.c removes what is at the hardlink's own path before it looks for the target */
	if (strncmp(e->link, e->path, plen) == 0 && (!e->link[plen] || e->link[plen] == '/'))
		p.kind = LZ_ABSENT;
	if (p.kind != LZ_NONDIR) {
		log_warn("dropping hardlink '%s': its target '%s' is %s", e->path, e->link,
			 p.kind == LZ_ABSENT ? "missing" : "a directory");
		return -ENOENT;
	}
	g = lz_group_of(t, p.layer, p.entry);
	if (!g) {
		g = &t->groups[t->n_groups];
		*g = (struct lz_group){ .key = (uint64_t)p.layer << 32 | p.entry };
		hl_put(t, p.layer, p.entry, t->n_groups++);
	}
	hl_put(t, k, id, (uint32_t)(g - t->groups));
	return 0;
}

static int alloc_map(struct lz_tree *t, uint32_t n_links)
{
	uint32_t size = 16;

	while (size < 4ull * n_links)
		size *= 2;
	t->hl_keys = calloc(size, sizeof(*t->hl_keys));
	t->hl_vals = calloc(size, sizeof(*t->hl_vals));
	t->groups = calloc(n_links, sizeof(*t->groups));
	t->hl_mask = size - 1;
	return t->hl_keys && t->hl_vals && t->groups ? 0 : -ENOMEM;
}

int lz_link_groups(struct lz_tree *t)
{
	struct lz_info *info;
	uint64_t n_links = lz_count_links(t->layers, t->n_layers, NULL);
	int r;

	if (!n_links)
		return 0;
	info = calloc(t->n_layers, sizeof(*info));
	r = info ? alloc_map(t, (uint32_t)n_links) : -ENOMEM;
	for (uint16_t k = 0; r == 0 && k < t->n_layers; k++) {
		for (uint32_t i = 0; i < t->layers[k]->n_entries; i++) {
			if (idx_raw_type(t->layers[k], i) == IDX_T_HARDLINK)
				link_one(t, info, k, i);
		}
	}
	/* Link counts: the names, hardlinks and targets alike, that the final tree keeps. */
	for (uint32_t s = 0; r == 0 && s <= t->hl_mask; s++) {
		uint64_t key = t->hl_keys[s];

		if (key && survives(t, info, (uint16_t)((key - 1) >> 32), (uint32_t)(key - 1)))
			t->groups[t->hl_vals[s]].nlink++;
	}
	free(info);
	if (r == 0 && t->link_unsure) {
		log_debug("merging %u layer(s) whole, not lazily: a hardlink's target is below "
			  "thousands of later members of its layer", t->n_layers);
		r = -ENOTSUP;
	}
	return r;
}
