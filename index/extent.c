/* SPDX-License-Identifier: MIT */
/*
 * Sparse files in a loaded index: the extent table (FORMAT.md, section 10)
 * validated against the entries it belongs to, and the map from a file
 * offset to the tar bytes that hold it, or to a hole. The table is in
 * entry order, so loading is one pass and assigns each sparse entry its
 * run of extents; the tar offsets are not stored (the extents are packed
 * from the entry's data offset on) and are computed here.
 */
#include <errno.h>
#include <stdlib.h>

#include "common/log.h"
#include "common/xmath.h"
#include "index/layer_int.h"

#define BAD(...)                                   \
	do {                                       \
		log_err("invalid index: " __VA_ARGS__); \
		return -EBADMSG;                   \
	} while (0)

/* The extents of sparse entry @id, from record *k on. */
static int entry_extents(struct idx_layer *l, const uint8_t *ext, uint32_t id, uint32_t *k)
{
	struct idx_entry *e = idx_entry_fill(l, id);
	uint64_t tar = e->data_off, end = 0;
	uint32_t first = *k;

	for (; *k < l->n_extents && le32_get(ext + (size_t)*k * IDX_EXTENT_SIZE) == id; (*k)++) {
		const uint8_t *p = ext + (size_t)*k * IDX_EXTENT_SIZE;
		struct idx_extent *x = &l->extents[*k];

		x->off = le64_get(p + 8);
		x->len = le64_get(p + 16);
		x->tar_off = tar;
		/* Sorted, not touching (touching ones are one extent), inside the file. */
		if (le32_get(p + 4) || x->len == 0 || (*k > first && x->off <= end) ||
		    xadd_u64(x->off, x->len, &end) || end > e->size)
			BAD("extent %u of entry %u", *k, id);
		if (xadd_u64(tar, x->len, &tar) || tar > l->tar_size)
			BAD("extent %u of entry %u: data past the tar", *k, id);
	}
	e->n_extents = *k - first;
	e->extents = l->extents + first;
	/* One spelling per file: no size-0 sparse file, no sparse file without a hole. */
	if (e->size == 0 || (e->n_extents == 1 && e->extents[0].off == 0 && end == e->size))
		BAD("sparse entry %u has no hole", id);
	return 0;
}

int idx_extents_parse(struct idx_layer *l, const uint8_t *ext)
{
	uint32_t k = 0;
	int r;

	l->extents = calloc((size_t)l->n_extents + 1, sizeof(*l->extents));
	if (!l->extents)
		return -ENOMEM;
	for (uint32_t i = 0; i < l->n_entries; i++) {
		if (!(idx_raw(l, i)[1] & IDX_EF_SPARSE))
			continue;
		r = entry_extents(l, ext, i, &k);
		if (r < 0)
			return r;
	}
	if (k != l->n_extents)
		BAD("extent %u belongs to no sparse entry, or is out of order", k);
	return 0;
}

uint64_t idx_entry_map(const struct idx_entry *e, uint64_t off, uint64_t n, uint64_t *tar_off)
{
	const struct idx_extent *x;
	uint32_t lo = 0, hi;

	if (off >= e->size || n == 0)
		return 0;
	n = XMIN(n, e->size - off);
	if (!e->sparse) {
		*tar_off = e->data_off + off;
		return n;
	}
	/* The first extent ending after @off. */
	hi = e->n_extents;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (e->extents[mid].off + e->extents[mid].len <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	*tar_off = UINT64_MAX;
	if (lo == e->n_extents)
		return n; /* a hole to the end of the file */
	x = &e->extents[lo];
	if (off < x->off)
		return XMIN(n, x->off - off);
	*tar_off = x->tar_off + (off - x->off);
	return XMIN(n, x->off + x->len - off);
}

uint64_t idx_entry_stored(const struct idx_entry *e)
{
	const struct idx_extent *last;

	if (!e->sparse)
		return e->size;
	if (e->n_extents == 0)
		return 0;
	last = &e->extents[e->n_extents - 1];
	return last->tar_off + last->len - e->data_off;
}
