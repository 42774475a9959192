/* SPDX-License-Identifier: MIT */
/*
 * fs/ internal to the view (view.c, view_synth.c): the structures behind
 * struct fs_view (fs/view_int.h). Nobody else includes this.
 */
#ifndef FS_VIEW_IMPL_H
#define FS_VIEW_IMPL_H

#include <pthread.h>

#include "fs/view_int.h"

#define TREE_SHIFT 32
#define TREE_MASK ((UINT64_C(1) << TREE_SHIFT) - 1)
#define MAX_SYNTH (1u << 20)
#define MAX_TREES (1u << 16)

struct synth {
	char *name;
	uint64_t parent;
	bool is_dir;
	uint64_t *children; /* dir: inodes in insertion order */
	uint32_t n_children, cap_children;
	uint32_t n_subdirs;
	void *data;         /* file */
	size_t len;
};

struct vtree {
	_Atomic(struct idx_tree *) t; /* lazy trees: NULL until built (build_lock) */
	const struct idx_layer **lazy; /* lazy trees: the layers to merge */
	unsigned flags;
	int build_err;        /* protected by build_lock: a failed build is not retried */
	unsigned *layer_nos;
	size_t n_layers;
	uint64_t parent;    /* where its root is attached (0: nowhere) */
	char *name;
};

struct fs_view {
	int64_t mtime;
	bool single;        /* one tree, its own inode numbers */
	struct synth *syn;  /* syn[i] is inode i + 1 */
	uint32_t n_syn, cap_syn;
	struct vtree *trees;
	uint32_t n_trees, cap_trees;
	pthread_mutex_t build_lock;
};

/* Grow the array *@p (capacity *@cap elements of @elem bytes) to hold @need. */
int fs_view_grow(void **p, uint32_t *cap, uint32_t need, size_t elem);

#endif
