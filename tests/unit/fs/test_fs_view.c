/* SPDX-License-Identifier: MIT */
/*
 * The view (fs/view.c, fs/view_synth.c) without a mount: synthetic
 * directories and files, merged trees attached under them with their
 * store layer numbers, lazy trees merged on first use, inode numbering
 * and attributes, and the single-tree view of a plain image mount.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs/view_int.h"
#include "index/test_index_tree_util.h"
#include "tap.h"

#define MTIME 1700000000

static void make_layers(struct idx_layer *l[2])
{
	struct tw w[2] = { 0 };

	tw_dir(&w[0], "a/");
	tw_file(&w[0], "a/x", "x");
	tw_file(&w[0], "a/y", "yy");
	tw_file(&w[1], "a/.wh.x", "");
	tw_file(&w[1], "b", "bbb");
	l[0] = tt_layer(&w[0]);
	l[1] = tt_layer(&w[1]);
}

static void test_synthetic(const struct idx_layer *const *layers)
{
	const unsigned nos[2] = { 7, 9 };
	struct fs_view *v = NULL;
	struct idx_tree *t = NULL;
	uint64_t chains = 0, lazy_ino = 0;
	struct fs_vnode n, d, f;
	struct stat st;
	int lazy;

	ok(fs_view_new(MTIME, &v) == 0, "a view");
	ok(idx_tree_build(layers, 2, 0, &t) == 0, "the merged tree");
	is_int(fs_view_add_tree(v, t, nos, 2), 0, "tree 0 added");
	is_int(fs_view_add_dir(v, FS_VIEW_ROOT_INO, "chains", &chains), 0, "a synthetic dir");
	is_int(fs_view_attach_tree(v, chains, "01", 0), 0, "tree 0 attached as chains/01");
	lazy = fs_view_add_lazy_tree(v, layers, nos, 1, 0);
	is_int(lazy, 1, "a lazy tree of the lower layer is tree 1");
	is_int(fs_view_attach_tree(v, chains, "00", (unsigned)lazy), 0, "attached as chains/00");
	is_int(fs_view_add_file(v, FS_VIEW_ROOT_INO, "cache-config.json", "{}", 2), 0, "a file");

	ok(fs_view_lookup(v, FS_VIEW_ROOT_INO, "cache-config.json", &f) == 0 &&
	   f.kind == FS_VK_SFILE && f.len == 2 && memcmp(f.data, "{}", 2) == 0,
	   "the file holds its bytes");
	fs_view_stat(v, &f, &st);
	ok(S_ISREG(st.st_mode) && st.st_size == 2 && st.st_mtime == MTIME,
	   "a synthetic file: regular, its size, the view's mtime");
	is_int(fs_view_lookup(v, FS_VIEW_ROOT_INO, "nope", &n), -ENOENT, "absent name");
	is_int(fs_view_lookup(v, f.ino, "x", &n), -ENOTDIR, "lookup in a file");
	ok(fs_view_lookup(v, FS_VIEW_ROOT_INO, "chains", &d) == 0 && d.kind == FS_VK_SDIR,
	   "chains/ is a synthetic dir");
	is_int(fs_view_dir_size(v, &d), 2, "with two children");

	/* the eager tree: whiteouts applied, store layer numbers mapped */
	ok(fs_view_lookup(v, chains, "01", &n) == 0 && n.kind == FS_VK_TREE, "chains/01 is a tree");
	ok(fs_view_lookup(v, n.ino, "a", &d) == 0 && d.kind == FS_VK_TREE, "01/a");
	is_int(d.ino >> 32, 1, "tree 0's inodes are in range 1 << 32");
	is_int(fs_view_lookup(v, d.ino, "x", &n), -ENOENT, "01/a/x is whited out by layer 1");
	ok(fs_view_lookup(v, d.ino, "y", &n) == 0 && n.layer_no == 7 && n.parent == d.ino,
	   "01/a/y: store layer 7, parent a");
	fs_view_stat(v, &n, &st);
	ok(S_ISREG(st.st_mode) && st.st_size == 2 && st.st_ino == (ino_t)n.ino, "its attributes");
	ok(fs_view_get(v, n.ino, &f) == 0 && strcmp(f.name, "y") == 0, "resolved again by inode");
	ok(fs_view_lookup(v, chains, "01", &n) == 0 && fs_view_lookup(v, n.ino, "b", &f) == 0 &&
	   f.layer_no == 9, "01/b comes from store layer 9");

	/* the lazy tree: named without merging, merged on first use */
	for (uint32_t i = 0; fs_view_lookup(v, FS_VIEW_ROOT_INO, "chains", &d) == 0; i++) {
		uint64_t ino;
		const char *name;

		if (fs_view_sdir_child(v, &d, i, &ino, &name) < 0)
			break;
		if (strcmp(name, "00") == 0)
			lazy_ino = ino;
	}
	ok(lazy_ino && fs_view_is_lazy(v, lazy_ino), "chains/00 is not merged by listing chains/");
	ok(fs_view_get(v, lazy_ino, &n) == 0 && !fs_view_is_lazy(v, lazy_ino), "merged on use");
	is_int(lazy_ino >> 32, 2, "tree 1's inodes are in range 2 << 32");
	ok(fs_view_lookup(v, n.ino, "a", &d) == 0 && fs_view_lookup(v, d.ino, "x", &n) == 0 &&
	   n.layer_no == 7, "00/a/x is there: only the lower layer");
	is_int(fs_view_get(v, (uint64_t)5 << 32, &n), -ENOENT, "an inode of no tree");
	ok(fs_view_inode_count(v) > 5, "inodes counted");
	fs_view_free(v);
}

static void test_single_tree(const struct idx_layer *const *layers)
{
	const unsigned nos[2] = { 0, 1 };
	struct fs_view *v = NULL;
	struct idx_tree *t = NULL;
	struct fs_vnode root, n;
	struct stat st;

	ok(fs_view_new(MTIME, &v) == 0 && idx_tree_build(layers, 2, 0, &t) == 0, "a plain view");
	is_int(fs_view_add_tree(v, t, nos, 2), 0, "its one tree");
	is_int(fs_view_set_root_tree(v, 0), 0, "is the whole mount");
	ok(fs_view_get(v, FS_VIEW_ROOT_INO, &root) == 0 && root.kind == FS_VK_TREE,
	   "the root is the tree's root");
	fs_view_stat(v, &root, &st);
	ok(S_ISDIR(st.st_mode), "a directory");
	ok(fs_view_lookup(v, FS_VIEW_ROOT_INO, "b", &n) == 0 && n.ino < ((uint64_t)1 << 32),
	   "inode numbers are the tree's own");
	is_int(fs_view_dir_size(v, &root), 2, "the root holds a and b");
	fs_view_free(v);
}

int main(void)
{
	struct idx_layer *l[2];

	make_layers(l);
	if (!ok(l[0] && l[1], "two layers built"))
		return tap_done();
	test_synthetic((const struct idx_layer *const *)l);
	test_single_tree((const struct idx_layer *const *)l);
	tt_free_layers(l, 2);
	return tap_done();
}
