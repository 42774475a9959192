/* SPDX-License-Identifier: MIT */
/*
 * Views: one inode space over several merged trees plus synthetic nodes.
 *
 * Inode numbering. A view that is a single tree (the plain image mount)
 * uses the tree's own inode numbers: the mount root is the tree root
 * (IDX_ROOT_INO == FS_VIEW_ROOT_INO == FUSE_ROOT_ID). Any other view
 * numbers its synthetic nodes 1..S (1 is the root, a synthetic directory)
 * and gives tree k the range ((k + 1) << 32) | tree_ino. A tree holds far
 * fewer than 2^32 nodes (IDX_MAX_ENTRIES per layer), so mapping an inode
 * back to (tree, node) is a shift and a mask: O(1), no table, no lock.
 *
 * A name in a tree, once merged, never changes (every tree merges a
 * directory when it is first read, index/tree_lazy.c) and every inode lives
 * as long as the mount, so the daemon keeps no lookup counts (forget is a
 * no-op).
 *
 * Lazy trees. A BuildKit cache of N layers has N chains, and chain k
 * repeats the entries of all its parents: built eagerly that is O(N^2)
 * nodes at mount time. A lazy tree keeps only its layer list; it is merged
 * the first time one of its inodes is resolved (under v->build_lock, then
 * published with a release store), so a mount pays only for the chains a
 * build actually looks into. Its inode range is fixed by its id, so
 * building late changes no inode number, and its name in the parent dir
 * is known without building it.
 *
 * The synthetic directories and files live in view_synth.c.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "common/log.h"
#include "common/xarray.h"
#include "common/xmath.h"
#include "fs/view_impl.h"

int fs_view_grow(void **p, uint32_t *cap, uint32_t need, size_t elem)
{
	int r = need ? xarray_grow(p, cap, need - 1, elem, 8, UINT32_MAX) : 0;

	return r == -EFBIG ? -ENOMEM : r;
}

int fs_view_new(int64_t mtime, struct fs_view **out)
{
	struct fs_view *v = calloc(1, sizeof(*v));
	int r;

	if (!v)
		return -ENOMEM;
	v->mtime = mtime;
	pthread_mutex_init(&v->build_lock, NULL);
	r = fs_view_grow((void **)&v->syn, &v->cap_syn, 1, sizeof(*v->syn));
	if (r < 0) {
		free(v);
		return r;
	}
	/* the root: a synthetic directory until fs_view_set_root_tree() */
	memset(&v->syn[0], 0, sizeof(v->syn[0]));
	v->syn[0].name = strdup("");
	v->syn[0].parent = FS_VIEW_ROOT_INO;
	v->syn[0].is_dir = true;
	if (!v->syn[0].name) {
		free(v->syn);
		free(v);
		return -ENOMEM;
	}
	v->n_syn = 1;
	*out = v;
	return 0;
}

void fs_view_free(struct fs_view *v)
{
	if (!v)
		return;
	for (uint32_t i = 0; i < v->n_syn; i++) {
		free(v->syn[i].name);
		free(v->syn[i].children);
		free(v->syn[i].data);
	}
	for (uint32_t i = 0; i < v->n_trees; i++) {
		idx_tree_free(v->trees[i].t);
		free(v->trees[i].lazy);
		free(v->trees[i].layer_nos);
		free(v->trees[i].name);
	}
	free(v->syn);
	free(v->trees);
	pthread_mutex_destroy(&v->build_lock);
	free(v);
}

int fs_view_add_tree(struct fs_view *v, struct idx_tree *t, const unsigned *layer_nos,
		     size_t n_layers)
{
	struct vtree *vt;
	int r;

	if (v->n_trees >= MAX_TREES || idx_tree_count(t) >= TREE_MASK) {
		idx_tree_free(t);
		return -EFBIG;
	}
	r = fs_view_grow((void **)&v->trees, &v->cap_trees, v->n_trees + 1, sizeof(*v->trees));
	if (r < 0) {
		idx_tree_free(t);
		return r;
	}
	vt = &v->trees[v->n_trees];
	memset(vt, 0, sizeof(*vt));
	vt->layer_nos = calloc(n_layers ? n_layers : 1, sizeof(*vt->layer_nos));
	if (!vt->layer_nos) {
		idx_tree_free(t);
		return -ENOMEM;
	}
	if (n_layers)
		memcpy(vt->layer_nos, layer_nos, n_layers * sizeof(*layer_nos));
	vt->n_layers = n_layers;
	vt->t = t;
	return (int)v->n_trees++;
}

int fs_view_add_lazy_tree(struct fs_view *v, const struct idx_layer *const *layers,
			  const unsigned *layer_nos, size_t n_layers, unsigned flags)
{
	const struct idx_layer **copy = calloc(n_layers ? n_layers : 1, sizeof(*copy));
	struct vtree *vt;
	int r;

	if (!copy)
		return -ENOMEM;
	memcpy(copy, layers, n_layers * sizeof(*layers));
	r = fs_view_grow((void **)&v->trees, &v->cap_trees, v->n_trees + 1, sizeof(*v->trees));
	if (r < 0 || v->n_trees >= MAX_TREES) {
		free(copy);
		return r < 0 ? r : -EFBIG;
	}
	vt = &v->trees[v->n_trees];
	memset(vt, 0, sizeof(*vt));
	vt->layer_nos = calloc(n_layers ? n_layers : 1, sizeof(*vt->layer_nos));
	if (!vt->layer_nos) {
		free(copy);
		return -ENOMEM;
	}
	memcpy(vt->layer_nos, layer_nos, n_layers * sizeof(*layer_nos));
	vt->n_layers = n_layers;
	vt->lazy = copy;
	vt->flags = flags;
	return (int)v->n_trees++;
}

/* The tree of @vt, merging it now if it is lazy and not built yet; NULL on failure. */
static const struct idx_tree *tree_of(struct fs_view *v, struct vtree *vt)
{
	struct idx_tree *t = atomic_load_explicit(&vt->t, memory_order_acquire);
	int r;

	if (t || !vt->lazy)
		return t;
	pthread_mutex_lock(&v->build_lock);
	t = atomic_load_explicit(&vt->t, memory_order_relaxed);
	if (!t && vt->build_err == 0) {
		r = idx_tree_build(vt->lazy, vt->n_layers, vt->flags | IDX_TREE_LAZY, &t);
		if (r == 0 && idx_tree_count(t) >= TREE_MASK) {
			idx_tree_free(t);
			r = -EFBIG;
		}
		if (r < 0) {
			log_err("cannot merge %zu layers for '%s': %s", vt->n_layers,
				vt->name ? vt->name : "?", strerror(-r));
			vt->build_err = r;
			t = NULL;
		} else {
			atomic_store_explicit(&vt->t, t, memory_order_release);
		}
	}
	pthread_mutex_unlock(&v->build_lock);
	return t;
}

int fs_view_set_root_tree(struct fs_view *v, unsigned tree_id)
{
	if (tree_id != 0 || v->n_trees != 1 || v->n_syn != 1)
		return -EINVAL;
	v->single = true;
	return 0;
}

static uint64_t tree_to_ino(const struct fs_view *v, uint32_t tree_id, uint64_t tino)
{
	if (v->single)
		return tino;
	return ((uint64_t)tree_id + 1) << TREE_SHIFT | tino;
}

static int get_tree(const struct fs_view *cv, uint32_t tree_id, uint64_t tino, struct fs_vnode *out)
{
	/* the one mutation after mount: building a lazy tree, see the top */
	struct fs_view *v = (struct fs_view *)cv;
	struct vtree *vt = &v->trees[tree_id];
	const struct idx_tree *t = tree_of(v, vt);
	const struct idx_node *n;

	if (!t)
		return -EIO;
	n = idx_tree_node(t, tino);
	if (!n)
		return -ENOENT;
	memset(out, 0, sizeof(*out));
	out->kind = FS_VK_TREE;
	out->ino = tree_to_ino(v, tree_id, tino);
	out->tree = t;
	out->node = n;
	out->entry = idx_tree_entry(t, n);
	/* dirs the merge synthesised (the root of an image with no layers) name no layer */
	out->layer_no = n->layer < vt->n_layers ? vt->layer_nos[n->layer] : 0;
	out->n_children = n->n_children;
	if (tino == IDX_ROOT_INO && !v->single) {
		out->parent = vt->parent ? vt->parent : FS_VIEW_ROOT_INO;
		out->name = vt->name ? vt->name : "";
	} else {
		out->parent = tree_to_ino(v, tree_id, n->parent);
		out->name = n->name;
	}
	return 0;
}

int fs_view_get(const struct fs_view *v, uint64_t ino, struct fs_vnode *out)
{
	uint64_t tree_id = ino >> TREE_SHIFT;
	const struct synth *s;

	if (v->single)
		return tree_id ? -ENOENT : get_tree(v, 0, ino, out);
	if (tree_id)
		return tree_id > v->n_trees ? -ENOENT
					    : get_tree(v, (uint32_t)tree_id - 1, ino & TREE_MASK, out);
	if (ino == 0 || ino > v->n_syn)
		return -ENOENT;
	s = &v->syn[ino - 1];
	memset(out, 0, sizeof(*out));
	out->kind = s->is_dir ? FS_VK_SDIR : FS_VK_SFILE;
	out->ino = ino;
	out->parent = s->parent;
	out->name = s->name;
	out->n_children = s->n_children;
	out->data = s->data;
	out->len = s->len;
	return 0;
}

/* The name of @child of a synthetic dir, without building a lazy tree. */
static const char *child_name(const struct fs_view *v, uint64_t child)
{
	uint64_t tree_id = child >> TREE_SHIFT;

	if (tree_id)
		return v->trees[tree_id - 1].name ? v->trees[tree_id - 1].name : "";
	return v->syn[child - 1].name;
}

static bool is_dir(const struct fs_vnode *n)
{
	return n->kind == FS_VK_SDIR || (n->kind == FS_VK_TREE && n->node->type == IDX_T_DIR);
}

int fs_view_lookup(const struct fs_view *v, uint64_t dir, const char *name, struct fs_vnode *out)
{
	struct fs_vnode d;
	uint64_t tino;
	int r;

	r = fs_view_get(v, dir, &d);
	if (r < 0)
		return r;
	if (!is_dir(&d))
		return -ENOTDIR;
	if (d.kind == FS_VK_TREE) {
		r = idx_tree_lookup(d.tree, d.node->ino, name, &tino);
		if (r < 0)
			return r;
		return fs_view_get(v, (d.ino & ~TREE_MASK) | tino, out);
	}
	for (uint32_t i = 0; i < d.n_children; i++) {
		uint64_t child = v->syn[dir - 1].children[i];

		if (strcmp(child_name(v, child), name) == 0)
			return fs_view_get(v, child, out);
	}
	return -ENOENT;
}

uint32_t fs_view_dir_size(const struct fs_view *v, const struct fs_vnode *dir)
{
	return is_dir(dir) ? dir->n_children : 0;
}

int fs_view_child(const struct fs_view *v, const struct fs_vnode *dir, uint32_t pos,
		  struct fs_vnode *out)
{
	const struct idx_node *n;
	int r;

	if (!is_dir(dir))
		return -ENOTDIR;
	if (pos >= dir->n_children)
		return -ENOENT;
	if (dir->kind == FS_VK_SDIR)
		return fs_view_get(v, v->syn[dir->ino - 1].children[pos], out);
	r = idx_tree_child(dir->tree, dir->node->ino, pos, &n);
	if (r < 0)
		return r;
	/* a hardlink's extra names share the inode of its first name: keep this name */
	r = fs_view_get(v, (dir->ino & ~TREE_MASK) | n->ino, out);
	if (r == 0)
		out->name = n->name;
	return r;
}

int fs_view_sdir_child(const struct fs_view *v, const struct fs_vnode *dir, uint32_t pos,
		       uint64_t *ino, const char **name)
{
	if (dir->kind != FS_VK_SDIR)
		return -ENOTDIR;
	if (pos >= dir->n_children)
		return -ENOENT;
	*ino = v->syn[dir->ino - 1].children[pos];
	*name = child_name(v, *ino);
	return 0;
}

bool fs_view_is_lazy(const struct fs_view *v, uint64_t ino)
{
	uint64_t tree_id = ino >> TREE_SHIFT;
	struct vtree *vt;

	if (v->single || tree_id == 0 || tree_id > v->n_trees)
		return false;
	vt = &v->trees[tree_id - 1];
	return vt->lazy && !atomic_load_explicit(&vt->t, memory_order_acquire);
}

static mode_t type_bits(uint8_t type)
{
	switch (type) {
	case IDX_T_DIR:
		return S_IFDIR;
	case IDX_T_SYMLINK:
		return S_IFLNK;
	case IDX_T_CHR:
		return S_IFCHR;
	case IDX_T_BLK:
		return S_IFBLK;
	case IDX_T_FIFO:
		return S_IFIFO;
	default:
		return S_IFREG;
	}
}

void fs_tree_stat(const struct idx_node *node, const struct idx_entry *e, struct stat *st)
{
	st->st_mode = type_bits(node->type) | (e ? (e->mode & 07777) : 0755);
	st->st_nlink = node->nlink ? node->nlink : 1;
	st->st_size = (off_t)node->size;
	if (!e)
		return;
	st->st_uid = e->uid;
	st->st_gid = e->gid;
	st->st_mtim.tv_sec = e->mtime_sec;
	st->st_mtim.tv_nsec = e->mtime_nsec;
	if (node->type == IDX_T_CHR || node->type == IDX_T_BLK)
		st->st_rdev = makedev(e->dev_major, e->dev_minor);
}

static void stat_tree(const struct fs_vnode *n, struct stat *st)
{
	fs_tree_stat(n->node, n->entry, st);
	if (n->entry) {
		st->st_ctim = st->st_mtim;
		st->st_atim = st->st_mtim;
	}
}

void fs_view_stat(const struct fs_view *v, const struct fs_vnode *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_blksize = 128 * 1024;
	st->st_mtim.tv_sec = v->mtime;
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
	switch (n->kind) {
	case FS_VK_TREE:
		stat_tree(n, st);
		break;
	case FS_VK_SDIR:
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2 + v->syn[n->ino - 1].n_subdirs;
		st->st_size = 4096;
		break;
	case FS_VK_SFILE:
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = (off_t)n->len;
		break;
	}
	st->st_blocks = (st->st_size + 511) / 512;
}

uint64_t fs_view_inode_count(const struct fs_view *v)
{
	uint64_t total = v->single ? 0 : v->n_syn;

	for (uint32_t i = 0; i < v->n_trees; i++) {
		const struct idx_tree *t = atomic_load_explicit(&v->trees[i].t, memory_order_acquire);

		total += t ? idx_tree_count(t) : 0;
	}
	return total;
}
