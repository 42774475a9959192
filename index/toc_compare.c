/* SPDX-License-Identifier: MIT */
/*
 * A foreign TOC against the tar it describes (idx_layer_compare()): the
 * whole-layer check of a layer read through a TOC builds the layer's own
 * index from its verified bytes and holds the two against each other,
 * entry by entry in (path, class) order, on everything the mount serves
 * from an entry: type, mode, owner, mtime seconds, size, link target,
 * device numbers, xattrs, and each regular file's content (the caller's
 * digests). A TOC that shows another tree than `docker pull` would is
 * caught here whatever its chunk digests say.
 *
 * Whiteouts and opaque markers serve nothing but their type; a hardlink
 * serves its target's attributes, so only its target is compared. A root
 * directory entry one side has and the other has not is only logged:
 * writers differ in whether they record "./", and the tree then shows its
 * default root.
 */
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "index/foreign.h"
#include "index/layer_int.h"

#define DIFF_LOG_MAX 10

struct cmp {
	const struct idx_layer *toc, *tar;
	idx_file_sha_fn sha;
	void *ctx;
	unsigned n;
};

static void differ(struct cmp *c, const char *path, const char *what)
{
	if (c->n++ < DIFF_LOG_MAX)
		log_err("the TOC and the layer's tar disagree on '%s': %s", path, what);
}

static const struct idx_xattr *xattr_find(const struct idx_entry *e, const char *name)
{
	for (uint32_t i = 0; i < e->n_xattrs; i++)
		if (strcmp(e->xattrs[i].name, name) == 0)
			return &e->xattrs[i];
	return NULL;
}

/* Same names with the same values, in any order (names are unique per entry). */
static bool xattrs_equal(const struct idx_entry *a, const struct idx_entry *b)
{
	if (a->n_xattrs != b->n_xattrs)
		return false;
	for (uint32_t i = 0; i < a->n_xattrs; i++) {
		const struct idx_xattr *x = xattr_find(b, a->xattrs[i].name);

		if (!x || x->len != a->xattrs[i].len ||
		    (x->len && memcmp(x->value, a->xattrs[i].value, x->len) != 0))
			return false;
	}
	return true;
}

static int content(struct cmp *c, uint32_t ia, uint32_t ib, const char *path)
{
	uint8_t sa[DIGEST_SHA256_LEN], sb[DIGEST_SHA256_LEN];
	int r = c->sha(c->ctx, c->toc, ia, sa);

	if (r == 0)
		r = c->sha(c->ctx, c->tar, ib, sb);
	if (r == 0 && memcmp(sa, sb, sizeof(sa)) != 0)
		differ(c, path, "content");
	return r;
}

static int entry(struct cmp *c, uint32_t ia, uint32_t ib)
{
	const struct idx_entry *a = idx_entry_get(c->toc, ia), *b = idx_entry_get(c->tar, ib);

	if (a->type != b->type) {
		differ(c, a->path, "type");
		return 0;
	}
	if (a->type == IDX_T_WHITEOUT || a->type == IDX_T_OPAQUE)
		return 0;
	if (a->type == IDX_T_SYMLINK || a->type == IDX_T_HARDLINK) {
		if (strcmp(a->link, b->link) != 0)
			differ(c, a->path, "link target");
		if (a->type == IDX_T_HARDLINK)
			return 0;
	}
	if (a->mode != b->mode)
		differ(c, a->path, "mode");
	else if (a->uid != b->uid || a->gid != b->gid)
		differ(c, a->path, "owner");
	else if (a->mtime_sec != b->mtime_sec)
		differ(c, a->path, "mtime");
	else if (a->size != b->size)
		differ(c, a->path, "size");
	else if (a->dev_major != b->dev_major || a->dev_minor != b->dev_minor)
		differ(c, a->path, "device numbers");
	else if (!xattrs_equal(a, b))
		differ(c, a->path, "xattrs");
	else if (a->type == IDX_T_REG)
		return content(c, ia, ib, a->path);
	return 0;
}

static int key_cmp(const struct idx_entry *a, const struct idx_entry *b)
{
	int r = strcmp(a->path, b->path);
	unsigned ca = idx_entry_class(a->type), cb = idx_entry_class(b->type);

	return r ? r : ca < cb ? -1 : ca > cb;
}

/* An entry only one side has. */
static void lone(struct cmp *c, const struct idx_entry *e, const char *side)
{
	if (e->path[0] == '\0' && e->type == IDX_T_DIR) {
		log_warn("the root directory entry is only in the %s", side);
		return;
	}
	differ(c, e->path, side[0] == 'T' ? "only in the TOC" : "only in the tar");
}

int idx_layer_compare(const struct idx_layer *toc, const struct idx_layer *tar,
		      idx_file_sha_fn sha, void *ctx, unsigned *n_diff)
{
	struct cmp c = { .toc = toc, .tar = tar, .sha = sha, .ctx = ctx };
	uint32_t i = 0, j = 0;
	int r = 0;

	if (!toc || !tar || !sha || !n_diff)
		return -EINVAL;
	while (r == 0 && (i < toc->n_entries || j < tar->n_entries)) {
		const struct idx_entry *a = i < toc->n_entries ? idx_entry_get(toc, toc->order[i]) : NULL;
		const struct idx_entry *b = j < tar->n_entries ? idx_entry_get(tar, tar->order[j]) : NULL;
		int k = !a ? 1 : !b ? -1 : key_cmp(a, b);

		if (k < 0) {
			lone(&c, a, "TOC");
			i++;
		} else if (k > 0) {
			lone(&c, b, "tar");
			j++;
		} else {
			r = entry(&c, toc->order[i++], tar->order[j++]);
		}
	}
	if (c.n > DIFF_LOG_MAX)
		log_err("the TOC and the layer's tar disagree on %u entries in all", c.n);
	*n_diff = c.n;
	return r;
}
