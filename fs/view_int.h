/* SPDX-License-Identifier: MIT */
/*
 * fs/ internal: a view composes one inode space out of several merged trees
 * (struct idx_tree) and a few synthetic directories and files, e.g. the
 * layers/NN-<digest>/, chains/NN/ and cache-config.json of a BuildKit cache.
 * FUSE-free, so it can be tested without a mount.
 *
 * Thread-safety: built by one thread, then read from any number of FUSE
 * workers; the only later change, merging a lazy tree on first use, is
 * done under the view's lock and published atomically.
 */
#ifndef FS_VIEW_INT_H
#define FS_VIEW_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "index/index.h"

#define FS_VIEW_ROOT_INO 1

enum fs_vkind {
	FS_VK_TREE,  /* a node of a merged tree */
	FS_VK_SDIR,  /* a synthetic directory */
	FS_VK_SFILE, /* a synthetic read-only file held in memory */
};

/* A resolved inode; everything in it is borrowed from the view. */
struct fs_vnode {
	enum fs_vkind kind;
	uint64_t ino;                   /* the inode number the kernel sees */
	uint64_t parent;                /* the ino of its directory */
	const char *name;               /* last component; "" for the root */
	/* FS_VK_TREE */
	const struct idx_tree *tree;
	const struct idx_node *node;
	const struct idx_entry *entry;  /* NULL for directories the merge synthesised */
	unsigned layer_no;              /* store layer number holding the data */
	/* FS_VK_SDIR: number of children; FS_VK_SFILE: the bytes */
	uint32_t n_children;
	const void *data;
	size_t len;
};

struct fs_view;

/* @mtime: the time synthetic nodes show (the mount time). */
int fs_view_new(int64_t mtime, struct fs_view **out);
void fs_view_free(struct fs_view *v);

/*
 * Add a tree; takes ownership of @t (freed with the view, also on error).
 * @layer_nos[k] is the store layer number of the tree's layer k (copied).
 * Returns the tree id (0, 1, ...) or -errno.
 */
int fs_view_add_tree(struct fs_view *v, struct idx_tree *t, const unsigned *layer_nos,
		     size_t n_layers);

/*
 * Add a tree merged from @layers on first use (see view.c). @layers (the
 * array is copied, the layers must outlive the view) and @layer_nos as for
 * fs_view_add_tree(). Its inodes resolve to -EIO if the merge fails.
 */
int fs_view_add_lazy_tree(struct fs_view *v, const struct idx_layer *const *layers,
			  const unsigned *layer_nos, size_t n_layers, unsigned flags);

/*
 * Make tree @tree_id the whole mount: its root is the mount root and its
 * inode numbers are the tree's own. Only for a view with one tree and no
 * synthetic nodes.
 */
int fs_view_set_root_tree(struct fs_view *v, unsigned tree_id);

/* A synthetic directory @name in synthetic directory @parent; its ino in *ino. */
int fs_view_add_dir(struct fs_view *v, uint64_t parent, const char *name, uint64_t *ino);
/* A synthetic read-only file holding a copy of @data. */
int fs_view_add_file(struct fs_view *v, uint64_t parent, const char *name, const void *data,
		     size_t len);
/* The root of tree @tree_id appears as directory @name in synthetic dir @parent. */
int fs_view_attach_tree(struct fs_view *v, uint64_t parent, const char *name, unsigned tree_id);

/* Resolve @ino: -ENOENT if no such inode. O(1). */
int fs_view_get(const struct fs_view *v, uint64_t ino, struct fs_vnode *out);
/* Look @name up in directory @dir: -ENOENT if absent, -ENOTDIR if @dir is not one. */
int fs_view_lookup(const struct fs_view *v, uint64_t dir, const char *name, struct fs_vnode *out);
/* Number of children of directory @dir (without "." and ".."). */
uint32_t fs_view_dir_size(const struct fs_view *v, const struct fs_vnode *dir);
/* The @pos-th child of @dir in a stable order; -ENOENT past the end. */
int fs_view_child(const struct fs_view *v, const struct fs_vnode *dir, uint32_t pos,
		  struct fs_vnode *out);
/*
 * The @pos-th child of synthetic dir @dir without resolving it (so without
 * merging a lazy tree): its ino and name. -ENOENT past the end.
 */
int fs_view_sdir_child(const struct fs_view *v, const struct fs_vnode *dir, uint32_t pos,
		       uint64_t *ino, const char **name);
/* True when @ino is the root of a lazy tree not merged yet. */
bool fs_view_is_lazy(const struct fs_view *v, uint64_t ino);
/* The attributes a tree node shows: type, mode, links, size, owner, mtime
 * and device of @node and its entry @e (NULL: a synthesised dir, 0755). */
void fs_tree_stat(const struct idx_node *node, const struct idx_entry *e, struct stat *st);
/* Attributes of @n as the kernel should see them. */
void fs_view_stat(const struct fs_view *v, const struct fs_vnode *n, struct stat *st);
/* Total inodes (for statfs). */
uint64_t fs_view_inode_count(const struct fs_view *v);

#endif
