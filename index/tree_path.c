/* SPDX-License-Identifier: MIT */
/*
 * Where a layer's member lands when a directory on its path is a symlink,
 * decided the way containerd applies a layer (archive/tar.go: the parent of
 * each member goes through continuity's fs.RootPath before the member is
 * created there):
 *
 *   - every component of the parent path is looked up in the tree as built
 *     so far (the layers below and the earlier members of this layer); a
 *     symlink is followed, its target read *inside the root*: an absolute
 *     target starts again from the root, a relative one from the link's
 *     directory, and ".." never climbs above the root;
 *   - a component that does not exist (a dangling link's target included)
 *     is taken as a plain name: the directories are then created there;
 *   - more than 255 links on one path fail the layer (-ELOOP), as
 *     containerd's "too many links" fails the apply;
 *   - the member's own name is never followed: a member replaces whatever
 *     is at its path (a dir entry over a symlink replaces the symlink).
 *
 * Whiteouts, opaque markers and hardlink targets are resolved the same way
 * (a hardlink's target too, but for its last component, which is never
 * followed: containerd's hardlinkRootPath, and link(2), link a symlink
 * itself).
 * Member names themselves were cleaned lexically by the tar reader
 * (idx_tar_path_normalise: "a/../b" is "b", ".." at the root stays at the
 * root), as containerd's filepath.Clean does before this.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "index/tree_int.h"

#define MAX_LINKS 255
/* Ceiling of the path still to resolve (links expand it). */
#define MAX_TODO (64u << 10)

struct res {
	char out[IDX_MAX_PATH + 1]; /* resolved so far, normalised */
	size_t len;
	uint32_t cur;               /* dentry of out when it is an existing dir, else TREE_NONE */
	char *todo;                 /* what is left, from pos */
	size_t pos, todo_len;
	unsigned links;
};

static const char *link_target(const struct tree_builder *b, uint32_t dent)
{
	const struct tree_ino *ino = &b->ino[b->d[dent].inode];
	const struct idx_entry *e = idx_entry_get(b->layers[ino->layer], ino->entry);

	return e && e->link ? e->link : "";
}

/* Replace the path left with "@target/<rest>". */
static int expand(struct res *r, const char *target)
{
	size_t tlen = strlen(target), rest = r->todo_len - r->pos;
	char *t;

	if (tlen + 1 + rest > MAX_TODO)
		return -ENAMETOOLONG;
	t = malloc(tlen + rest + 2);
	if (!t)
		return -ENOMEM;
	memcpy(t, target, tlen);
	t[tlen] = '/';
	memcpy(t + tlen + 1, r->todo + r->pos, rest);
	t[tlen + 1 + rest] = '\0';
	free(r->todo);
	r->todo = t;
	r->pos = 0;
	r->todo_len = tlen + 1 + rest;
	return 0;
}

static void up(struct tree_builder *b, struct res *r)
{
	char *slash;

	slash = memrchr(r->out, '/', r->len);
	r->len = slash ? (size_t)(slash - r->out) : 0;
	r->out[r->len] = '\0';
	if (idx_treeb_walk(b, r->out, r->len, -1, &r->cur) < 0)
		r->cur = TREE_NONE;
}

/* One component @c (@clen bytes) of the path left. */
static int step(struct tree_builder *b, struct res *r, const char *c, size_t clen)
{
	uint32_t d;

	if (clen == 0 || (clen == 1 && c[0] == '.'))
		return 0;
	if (clen == 2 && c[0] == '.' && c[1] == '.') {
		up(b, r);
		return 0;
	}
	d = r->cur != TREE_NONE ? idx_treeb_lookup(b, r->cur, c, clen) : TREE_NONE;
	if (d != TREE_NONE && b->ino[b->d[d].inode].type == IDX_T_SYMLINK) {
		const char *target = link_target(b, d);

		if (++r->links > MAX_LINKS)
			return -ELOOP;
		if (target[0] == '/') {
			r->len = 0;
			r->out[0] = '\0';
			r->cur = 0;
		}
		return expand(r, target);
	}
	if (r->len + (r->len > 0) + clen > IDX_MAX_PATH)
		return -ENAMETOOLONG;
	if (r->len)
		r->out[r->len++] = '/';
	memcpy(r->out + r->len, c, clen);
	r->len += clen;
	r->out[r->len] = '\0';
	r->cur = d != TREE_NONE && b->ino[b->d[d].inode].type == IDX_T_DIR ? d : TREE_NONE;
	return 0;
}

int idx_treeb_resolve(struct tree_builder *b, const char *path, size_t len, char *out, size_t *out_len)
{
	struct res *r = calloc(1, sizeof(*r));
	int err = 0;

	if (!r)
		return -ENOMEM;
	r->todo = strndup(path, len);
	r->todo_len = len;
	if (!r->todo) {
		free(r);
		return -ENOMEM;
	}
	while (r->pos < r->todo_len && err == 0) {
		const char *c = r->todo + r->pos;
		const char *slash = memchr(c, '/', r->todo_len - r->pos);
		size_t clen = slash ? (size_t)(slash - c) : r->todo_len - r->pos;

		r->pos += clen + (slash != NULL);
		err = step(b, r, c, clen);
	}
	if (err == -ELOOP)
		log_err("cannot place '%.*s': more than %d symlinks on its path", (int)len, path,
			MAX_LINKS);
	else if (err == -ENAMETOOLONG)
		log_err("cannot place '%.*s': its path through symlinks is too long", (int)len, path);
	if (err == 0) {
		memcpy(out, r->out, r->len + 1);
		*out_len = r->len;
	}
	free(r->todo);
	free(r);
	return err;
}

int idx_treeb_walk_resolved(struct tree_builder *b, const char *path, size_t len, int layer,
		       uint32_t *out)
{
	char res[IDX_MAX_PATH + 1];
	size_t rlen;
	int r;

	/* No symlink in the way: the common case costs one walk. */
	if (idx_treeb_walk(b, path, len, -1, out) == 0 && *out != TREE_NONE)
		return 0;
	r = idx_treeb_resolve(b, path, len, res, &rlen);
	if (r < 0)
		return r;
	return idx_treeb_walk(b, res, rlen, layer, out);
}
