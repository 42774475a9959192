/* SPDX-License-Identifier: MIT */
/*
 * The lazy merge's view of one layer: its lookup table (entry ids sorted by
 * path bytes, then class; FORMAT.md) read as a sorted list of paths, so
 * that the names directly under a directory are found by binary search
 * (everything below a name shares its prefix: one jump skips a subtree),
 * and the checks, made once when a lazy tree is opened, that the layers
 * need nothing the lazy merge leaves out (tree_lazy.c: then tree.c builds
 * the whole tree as before).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xarray.h"
#include "index/layer_int.h"
#include "index/tree_lazy_int.h"

static const char *slot_path(const struct idx_layer *l, uint32_t slot)
{
	return idx_raw_path(l, l->order[slot]);
}

/* strcmp of @p against the @len bytes at @s. */
static int key_cmp(const char *p, const char *s, size_t len)
{
	int c = strncmp(p, s, len);

	return c ? c : p[len] != '\0';
}

static bool has_prefix(const char *p, const char *s, size_t len)
{
	return strncmp(p, s, len) == 0;
}

uint32_t lz_lower_bound(const struct idx_layer *l, const char *s, size_t len)
{
	uint32_t lo = 0, hi = l->n_entries;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (key_cmp(slot_path(l, mid), s, len) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

uint32_t lz_find(const struct idx_layer *l, const char *path, size_t len, unsigned cls)
{
	for (uint32_t i = lz_lower_bound(l, path, len); i < l->n_entries; i++) {
		uint32_t id = l->order[i];

		if (key_cmp(idx_raw_path(l, id), path, len) != 0)
			break;
		if (idx_entry_class(idx_raw_type(l, id)) == cls)
			return l->order[i];
	}
	return LZ_NONE;
}

/* @path + "/" + @tail into @buf (IDX_MAX_PATH + 3 bytes); its length, 0 if too long. */
static size_t key_under(char *buf, const char *path, size_t len, const char *tail, size_t tlen)
{
	if (len + 1 + tlen > IDX_MAX_PATH + 2)
		return 0;
	memcpy(buf, path, len);
	buf[len] = '/';
	memcpy(buf + len + 1, tail, tlen);
	return len + 1 + tlen;
}

/* Whether the entries from slot @i on that lie below the @klen-byte prefix @key hold a creating one. */
static bool creating_from(const struct idx_layer *l, uint32_t i, const char *key, size_t klen,
			  bool keep)
{
	for (; i < l->n_entries; i++) {
		uint32_t id = l->order[i];

		if (!has_prefix(idx_raw_path(l, id), key, klen))
			return false;
		if (keep || idx_entry_class(idx_raw_type(l, id)) == 0)
			return true;
	}
	return false;
}

bool lz_has_desc(const struct idx_layer *l, const char *path, size_t len, bool keep)
{
	char key[IDX_MAX_PATH + 3];
	size_t klen = key_under(key, path, len, "", 0);

	return klen && creating_from(l, lz_lower_bound(l, key, klen), key, klen, keep);
}

int lz_has_desc_before(const struct idx_layer *l, const char *path, size_t len, bool keep,
		       uint32_t max_id)
{
	char key[IDX_MAX_PATH + 3];
	size_t klen = key_under(key, path, len, "", 0);
	uint32_t i = klen ? lz_lower_bound(l, key, klen) : l->n_entries;

	for (unsigned steps = 0; i < l->n_entries; i++, steps++) {
		uint32_t id = l->order[i];

		if (!has_prefix(idx_raw_path(l, id), key, klen))
			return 0;
		if (id <= max_id && (keep || idx_entry_class(idx_raw_type(l, id)) == 0))
			return 1;
		if (steps == 4096)
			return -1; /* a subtree mostly written after the hardlink: not worth it */
	}
	return 0;
}

static int push_seen(struct lz_seen **v, uint32_t *n, uint32_t *cap, struct lz_seen s)
{
	int r = xarray_grow((void **)v, cap, *n, sizeof(**v), 64, UINT32_MAX / 2);

	if (r < 0)
		return r;
	(*v)[(*n)++] = s;
	return 0;
}

int lz_scan_dir(const struct idx_layer *l, uint16_t layer, const char *dir, size_t len, bool keep,
		struct lz_seen **v, uint32_t *n, uint32_t *cap)
{
	char pre[IDX_MAX_PATH + 3], key[IDX_MAX_PATH + 3];
	size_t plen = len ? key_under(pre, dir, len, "", 0) : 0;
	uint32_t i = lz_lower_bound(l, pre, plen);
	int r = 0;

	while (i < l->n_entries && r == 0) {
		uint32_t id = l->order[i];
		const char *path = idx_raw_path(l, id), *rest = path + plen, *slash;
		uint8_t type = idx_raw_type(l, id);
		unsigned cls = idx_entry_class(type);
		size_t klen;

		if (!has_prefix(path, pre, plen))
			break;
		slash = strchr(rest, '/');
		if (!*rest || (!slash && cls == 2 && !keep)) {
			i++; /* the root's own entry; a child's opaque marker is the child's business */
			continue;
		}
		if (!slash) {
			r = push_seen(v, n, cap, (struct lz_seen){ .name = rest, .len = (uint32_t)strlen(rest),
							     .layer = layer, .cls = (uint8_t)(cls == 2 ? 3 : cls),
							     .type = type, .entry = id });
			i++;
			continue;
		}
		klen = plen + (size_t)(slash - rest) + 1;
		memcpy(key, path, klen); /* "<dir>/<name>/" */
		if (creating_from(l, i, key, klen, keep))
			r = push_seen(v, n, cap, (struct lz_seen){ .name = rest,
							     .len = (uint32_t)(slash - rest),
							     .layer = layer, .cls = 3, .entry = LZ_NONE });
		/* skip the subtree: every path below sorts before "<name>0" ('0' follows '/') */
		key[klen - 1] = '0';
		i = lz_lower_bound(l, key, klen);
	}
	return r;
}

/*
 * Whether any layer has an entry of any class below @path/, or an opaque
 * marker at @path (the dir it names is walked to in full): a symlink at
 * @path is then walked through.
 */
static bool walked_through(const struct idx_layer *const *layers, size_t n, const char *path)
{
	char key[IDX_MAX_PATH + 3];
	size_t len = strlen(path), klen = key_under(key, path, len, "", 0);

	for (size_t j = 0; klen && j < n; j++) {
		uint32_t i = lz_lower_bound(layers[j], key, klen);

		if (i < layers[j]->n_entries && has_prefix(slot_path(layers[j], i), key, klen))
			return true;
		if (lz_find(layers[j], path, len, 2) != LZ_NONE)
			return true;
	}
	return false;
}

/* Whether a symlink of any layer lies on @link, its last component included. */
static bool link_through_symlink(const struct idx_layer *const *layers, size_t n, const char *link)
{
	size_t len = strlen(link);

	for (size_t end = 0; end <= len; end++) {
		if (link[end] != '/' && link[end] != '\0')
			continue;
		for (size_t j = 0; j < n; j++) {
			uint32_t id = lz_find(layers[j], link, end, 0);

			if (id != LZ_NONE && idx_raw_type(layers[j], id) == IDX_T_SYMLINK)
				return true;
		}
	}
	return false;
}

/*
 * Whether the non-dir at sorted slot @s has, in its own layer, entries below
 * it that would make it a dir: then the order of the tar decides (tree.c).
 * Its siblings that sort between it and "<it>/" ("<it>.txt") are usually few.
 */
static bool nondir_with_desc(const struct idx_layer *l, uint32_t s, bool keep)
{
	const char *p = slot_path(l, s);
	size_t len = strlen(p);

	/* KEEP: its own opaque marker makes it a dir too */
	if (keep && lz_find(l, p, len, 2) != LZ_NONE)
		return true;
	for (uint32_t i = s + 1, steps = 0; i < l->n_entries && steps < 8; i++, steps++) {
		const char *q = slot_path(l, i);

		if (!has_prefix(q, p, len) || (unsigned char)q[len] > '/')
			return false;
		if (q[len] == '/')
			return lz_has_desc(l, p, len, keep);
	}
	return lz_has_desc(l, p, len, keep);
}

/* Why the lazy merge cannot serve layer @k, or NULL. */
static const char *layer_blocker(const struct idx_layer *const *layers, size_t n, size_t k,
				 bool keep)
{
	const struct idx_layer *l = layers[k];

	for (uint32_t s = 0; s < l->n_entries; s++) {
		uint32_t id = l->order[s];
		const struct idx_entry ent = { .type = idx_raw_type(l, id), .path = idx_raw_path(l, id),
					       .link = idx_raw_link(l, id) }, *e = &ent;

		if (!idx_treeb_entry_ok(e))
			return "an entry that is not normalised";
		if (e->type == IDX_T_SYMLINK && walked_through(layers, n, e->path))
			return "a path through a symlink";
		if (e->type == IDX_T_HARDLINK && link_through_symlink(layers, n, e->link))
			return "a hardlink through a symlink";
		if (e->type == IDX_T_HARDLINK && keep && strstr(e->link, IDX_WH_PREFIX))
			return "a hardlink to a whiteout name";
		if (idx_entry_class(e->type) == 0 && e->type != IDX_T_DIR && e->path[0] &&
		    nondir_with_desc(l, s, keep))
			return "a non-directory with entries below it in the same layer";
	}
	return NULL;
}

uint64_t lz_count_links(const struct idx_layer *const *layers, size_t n, uint64_t *n_entries)
{
	uint64_t links = 0, all = 0;

	for (size_t k = 0; k < n; k++) {
		all += layers[k]->n_entries;
		for (uint32_t i = 0; i < layers[k]->n_entries; i++)
			links += idx_raw_type(layers[k], i) == IDX_T_HARDLINK;
	}
	if (n_entries)
		*n_entries = all;
	return links;
}

int lz_check_layers(const struct idx_layer *const *layers, size_t n, unsigned flags)
{
	bool keep = flags & IDX_TREE_KEEP_WHITEOUTS;
	const char *why = keep && n > 1 ? "whiteouts shown over several layers" : NULL;
	uint64_t n_entries, n_links = lz_count_links(layers, n, &n_entries);
	size_t k = 0;

	/*
	 * Each hardlink costs a few path walks over every layer when the tree
	 * is opened (≈ 5 µs a layer), the whole merge ≈ 0.5 µs an entry: past
	 * that ratio the whole merge is cheaper.
	 */
	if (n_links > 256 && n_links * n * 8 > n_entries) {
		log_debug("merging %zu layer(s) whole, not lazily: %llu hardlinks in %llu entries", n,
			  (unsigned long long)n_links, (unsigned long long)n_entries);
		return -ENOTSUP;
	}
	for (; !why && k < n; k++)
		why = layer_blocker(layers, n, k, keep);
	if (!why)
		return 0;
	log_debug("merging %zu layer(s) whole, not lazily: layer %zu has %s", n, k ? k - 1 : 0, why);
	return -ENOTSUP;
}
