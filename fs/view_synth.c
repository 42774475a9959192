/* SPDX-License-Identifier: MIT */
/*
 * The synthetic part of a view: directories and in-memory files numbered
 * 1..S (1 is the root), and the attachment of a tree's root under a
 * synthetic directory (layers/NN-<digest>/, chains/NN/, merged/). See
 * view.c for the inode numbering.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/view_impl.h"

static struct synth *synth_dir(struct fs_view *v, uint64_t ino)
{
	if (v->single || ino == 0 || ino > v->n_syn || !v->syn[ino - 1].is_dir)
		return NULL;
	return &v->syn[ino - 1];
}

static int dir_add_child(struct fs_view *v, uint64_t dir, uint64_t child, bool is_dir)
{
	struct synth *d = synth_dir(v, dir);
	int r;

	if (!d)
		return -ENOTDIR;
	r = fs_view_grow((void **)&d->children, &d->cap_children, d->n_children + 1,
		 sizeof(*d->children));
	if (r < 0)
		return r;
	d->children[d->n_children++] = child;
	if (is_dir)
		d->n_subdirs++;
	return 0;
}

static int add_synth(struct fs_view *v, uint64_t parent, const char *name, bool is_dir,
		     uint64_t *ino)
{
	struct synth *s;
	int r;

	if (!synth_dir(v, parent))
		return -ENOTDIR;
	if (v->n_syn >= MAX_SYNTH)
		return -EFBIG;
	r = fs_view_grow((void **)&v->syn, &v->cap_syn, v->n_syn + 1, sizeof(*v->syn));
	if (r < 0)
		return r;
	s = &v->syn[v->n_syn];
	memset(s, 0, sizeof(*s));
	s->name = strdup(name);
	if (!s->name)
		return -ENOMEM;
	s->parent = parent;
	s->is_dir = is_dir;
	r = dir_add_child(v, parent, v->n_syn + 1, is_dir);
	if (r < 0) {
		free(s->name);
		return r;
	}
	*ino = ++v->n_syn;
	return 0;
}

int fs_view_add_dir(struct fs_view *v, uint64_t parent, const char *name, uint64_t *ino)
{
	return add_synth(v, parent, name, true, ino);
}

int fs_view_add_file(struct fs_view *v, uint64_t parent, const char *name, const void *data,
		     size_t len)
{
	void *copy = malloc(len ? len : 1);
	uint64_t ino;
	int r;

	if (!copy)
		return -ENOMEM;
	if (len)
		memcpy(copy, data, len);
	r = add_synth(v, parent, name, false, &ino);
	if (r < 0) {
		free(copy);
		return r;
	}
	v->syn[ino - 1].data = copy;
	v->syn[ino - 1].len = len;
	return 0;
}

int fs_view_attach_tree(struct fs_view *v, uint64_t parent, const char *name, unsigned tree_id)
{
	struct vtree *vt;
	int r;

	if (tree_id >= v->n_trees)
		return -EINVAL;
	vt = &v->trees[tree_id];
	if (vt->name)
		return -EEXIST;
	vt->name = strdup(name);
	if (!vt->name)
		return -ENOMEM;
	r = dir_add_child(v, parent, ((uint64_t)tree_id + 1) << TREE_SHIFT | IDX_ROOT_INO, true);
	if (r < 0) {
		free(vt->name);
		vt->name = NULL;
		return r;
	}
	vt->parent = parent;
	return 0;
}
