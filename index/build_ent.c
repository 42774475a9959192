/* SPDX-License-Identifier: MIT */
/*
 * Entries collected during idx_build(), and duplicate resolution.
 *
 * A tar may name a path twice; extraction then overwrites, so the last
 * entry wins (a directory given twice keeps its children either way). A
 * whiteout or an opaque marker is not the same thing as a real entry of
 * the same path ("a" and "a/.wh..wh..opq" both name "a"), so duplicates
 * are counted per (path, class). The surviving entries keep tar order.
 *
 * A hardlink between a path's earlier entry and the one that replaces it
 * names the earlier one's inode: extraction links it first, then replaces
 * the path (containerd removes what is there and creates it anew), so the
 * hardlink keeps the old bytes. The first such hardlink becomes a copy of
 * the dead entry, and the later ones in that window link to it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xarray.h"
#include "common/xmath.h"
#include "index/build_ent.h"
#include "index/layer_int.h"
#include "index/tar_int.h"

void idx_build_entries_init(struct build_entries *be)
{
	memset(be, 0, sizeof(*be));
	dbuf_init(&be->strings, IDX_MAX_FILE_SIZE);
	dbuf_init(&be->values, IDX_MAX_FILE_SIZE);
}

void idx_build_entries_release(struct build_entries *be)
{
	free(be->e);
	free(be->x);
	free(be->ext);
	free(be->sorted);
	dbuf_release(&be->strings);
	dbuf_release(&be->values);
	memset(be, 0, sizeof(*be));
}

/* Append a NUL-terminated string; its offset in *off. */
static int add_str(struct dbuf *d, const char *s, size_t len, uint32_t *off)
{
	int r;

	*off = (uint32_t)d->len;
	r = dbuf_add(d, s, len);
	if (r == 0)
		r = dbuf_add(d, "", 1);
	return r;
}

static int add_xattrs(struct build_entries *be, const struct tar_entry *e, struct bent *b)
{
	int r;

	b->x_first = be->nx;
	b->n_x = e->n_xattrs;
	for (uint32_t i = 0; i < e->n_xattrs; i++) {
		const struct idx_xattr *xa = &e->xattrs[i];
		struct bxattr *bx;

		r = xarray_grow((void **)&be->x, &be->capx, be->nx, sizeof(*be->x), 256,
			IDX_MAX_XATTRS_TOTAL);
		if (r < 0)
			return r;
		bx = &be->x[be->nx];
		r = add_str(&be->strings, xa->name, strlen(xa->name), &bx->name_off);
		if (r < 0)
			return r;
		bx->val_off = (uint32_t)be->values.len;
		bx->len = xa->len;
		r = dbuf_add(&be->values, xa->value, xa->len);
		if (r < 0)
			return r;
		be->nx++;
	}
	return 0;
}

static int add_extents(struct build_entries *be, const struct tar_entry *e, struct bent *b)
{
	int r;

	b->sparse = e->sparse;
	b->e_first = be->next;
	b->n_e = e->n_extents;
	for (uint32_t i = 0; i < e->n_extents; i++) {
		r = xarray_grow((void **)&be->ext, &be->capext, be->next, sizeof(*be->ext), 64,
				IDX_MAX_EXTENTS);
		if (r == -EFBIG)
			log_err("layer has more than %u sparse file extents", IDX_MAX_EXTENTS);
		if (r < 0)
			return r;
		be->ext[be->next++] = e->extents[i];
	}
	return 0;
}

int idx_build_entries_add(struct build_entries *be, const struct tar_entry *e)
{
	struct bent *b;
	int r;

	r = xarray_grow((void **)&be->e, &be->cap, be->n, sizeof(*be->e), 256,
			IDX_MAX_ENTRIES);
	if (r < 0) {
		if (r == -EFBIG)
			log_err("layer has more than %u entries", IDX_MAX_ENTRIES);
		return r;
	}
	b = &be->e[be->n];
	memset(b, 0, sizeof(*b));
	b->type = (uint8_t)e->type;
	b->mode = e->mode & 07777;
	b->uid = e->uid;
	b->gid = e->gid;
	b->mtime_sec = e->mtime_sec;
	b->mtime_nsec = e->mtime_nsec;
	b->dev_major = e->dev_major;
	b->dev_minor = e->dev_minor;
	b->size = e->type == IDX_T_REG ? e->size : 0;
	b->data_off = e->data_off;
	b->link_off = IDX_NO_STRING;
	r = add_str(&be->strings, e->path, strlen(e->path), &b->path_off);
	if (r == 0 && e->link)
		r = add_str(&be->strings, e->link, strlen(e->link), &b->link_off);
	if (r == 0)
		r = add_xattrs(be, e, b);
	if (r == 0 && e->type == IDX_T_REG && e->sparse)
		r = add_extents(be, e, b);
	if (r < 0)
		return r;
	be->n++;
	return 0;
}

/* (path, class, tar position): equal keys are adjacent, the last one last. */
static int cmp_ent(const void *a, const void *b, void *arg)
{
	const struct build_entries *be = arg;
	const struct bent *x = &be->e[*(const uint32_t *)a];
	const struct bent *y = &be->e[*(const uint32_t *)b];
	int c = strcmp(bent_str(be, x->path_off), bent_str(be, y->path_off));
	unsigned cx = idx_entry_class(x->type), cy = idx_entry_class(y->type);

	if (c)
		return c;
	if (cx != cy)
		return cx < cy ? -1 : 1;
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

static bool same_key(const struct build_entries *be, uint32_t i, uint32_t j)
{
	const struct bent *x = &be->e[i], *y = &be->e[j];

	return idx_entry_class(x->type) == idx_entry_class(y->type) &&
	       strcmp(bent_str(be, x->path_off), bent_str(be, y->path_off)) == 0;
}

/* First slot of @be->sorted (all entries, by path) whose path is @path, or n. */
static uint32_t sorted_find(const struct build_entries *be, const char *path)
{
	uint32_t lo = 0, hi = be->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (strcmp(bent_str(be, be->e[be->sorted[mid]].path_off), path) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < be->n && strcmp(bent_str(be, be->e[be->sorted[lo]].path_off), path) == 0 ? lo
											     : be->n;
}

/*
 * The entry hardlink @h names: the last real entry of its target path before
 * @h, or -1. be->sorted is ordered by (path, class, id) and real entries
 * are class 0, so those of the path with an id below @h are a run of slots
 * that a binary search finds the end of: O(log n) per hardlink, whatever
 * a hostile layer repeats.
 */
static int64_t link_target_at(const struct build_entries *be, uint32_t h)
{
	const char *path = bent_str(be, be->e[h].link_off);
	uint32_t first = sorted_find(be, path), lo = first, hi = be->n;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2, id = be->sorted[mid];

		if (id < h && idx_entry_class(be->e[id].type) == 0 &&
		    strcmp(bent_str(be, be->e[id].path_off), path) == 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return first < be->n && lo > first ? (int64_t)be->sorted[lo - 1] : -1;
}

/* Hardlinks to an entry a later one replaced: see the top of this file. */
static int keep_replaced_targets(struct build_entries *be)
{
	uint32_t *copy = NULL; /* dead entry -> 1 + the hardlink that became its copy */

	for (uint32_t h = 0; h < be->n; h++) {
		struct bent *e = &be->e[h];
		uint32_t path_off = e->path_off;
		int64_t t;

		if (e->type != IDX_T_HARDLINK || e->dead || e->link_off == IDX_NO_STRING)
			continue;
		t = link_target_at(be, h);
		if (t < 0 || !be->e[t].dead || be->e[t].type == IDX_T_DIR ||
		    be->e[t].type == IDX_T_HARDLINK)
			continue;
		if (!copy && !(copy = calloc(be->n, sizeof(*copy))))
			return -ENOMEM;
		if (copy[t]) {
			uint32_t cp = be->e[copy[t] - 1].path_off;

			/*
			 * Only a link string the member paid for in the tar (its
			 * 100-byte linkname field, or its longer link's record:
			 * the bounds of index/FORMAT.md); else the link is left
			 * to the tree, which drops it (target gone).
			 */
			if (strlen(bent_str(be, cp)) <= XMAX(strlen(bent_str(be, e->link_off)), 99u))
				e->link_off = cp;
			continue;
		}
		*e = be->e[t];
		e->path_off = path_off;
		e->dead = false;
		copy[t] = h + 1;
	}
	free(copy);
	return 0;
}

int idx_build_entries_resolve(struct build_entries *be, unsigned warn_max)
{
	uint32_t n = 0;

	be->sorted = malloc(((size_t)be->n + 1) * sizeof(uint32_t));
	if (!be->sorted)
		return -ENOMEM;
	for (uint32_t i = 0; i < be->n; i++)
		be->sorted[i] = i;
	qsort_r(be->sorted, be->n, sizeof(uint32_t), cmp_ent, be);
	for (uint32_t i = 0; i + 1 < be->n; i++) {
		uint32_t id = be->sorted[i];

		if (same_key(be, id, be->sorted[i + 1])) {
			be->e[id].dead = true;
			if (be->n_dups++ < warn_max)
				log_warn("duplicate path '%s' in layer: the last entry wins",
					 bent_str(be, be->e[id].path_off));
		}
	}
	if (be->n_dups) {
		int r = keep_replaced_targets(be);

		if (r < 0)
			return r;
	}
	for (uint32_t i = 0; i < be->n; i++)
		if (!be->e[be->sorted[i]].dead)
			be->sorted[n++] = be->sorted[i];
	if (be->n_dups > warn_max)
		log_warn("%u duplicate paths in layer in all", be->n_dups);
	be->n_live = n;
	return 0;
}
