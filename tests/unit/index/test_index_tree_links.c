/* SPDX-License-Identifier: MIT */
/*
 * Members whose path goes through a symlinked directory, and names with
 * "..": the merged tree must place them where containerd's apply does
 * (archive/tar.go: filepath.Clean on the name, then fs.RootPath on its
 * parent, which follows symlinks inside the root and clamps ".." there),
 * in the merge and in one layer's own view alike.
 */
#include <errno.h>
#include <stdlib.h>

#include "common/log.h"
#include "tap.h"
#include "test_index_tree_util.h"

static bool has(const char *text, const char *line)
{
	bool found = strstr(text, line) != NULL;

	if (!found)
		printf("# missing '%s' in:\n%s", line, text);
	return found;
}

static bool lacks(const char *text, const char *what)
{
	bool absent = strstr(text, what) == NULL;

	if (!absent)
		printf("# unexpected '%s' in:\n%s", what, text);
	return absent;
}

static void test_same_layer(void)
{
	struct tw w = { 0 };
	struct idx_layer *l;
	char *t;

	tw_dir(&w, "etc/");
	tw_link(&w, '2', "etc-link", "/etc");
	tw_file(&w, "etc-link/x", "abs\n");
	tw_dir(&w, "usr/lib/");
	tw_link(&w, '2', "lib", "usr/lib");
	tw_file(&w, "lib/y", "rel\n");
	tw_link(&w, '2', "esc", "../../..");
	tw_file(&w, "esc/z", "clamped\n");
	tw_link(&w, '2', "abs-up", "/../../tmp");
	tw_file(&w, "abs-up/q", "q\n");
	tw_link(&w, '2', "dang", "nowhere/deep");
	tw_file(&w, "dang/f", "f\n");
	tw_link(&w, '2', "chain", "lib");
	tw_file(&w, "chain/c", "c\n");
	tw_file(&w, "a/../b", "b\n");
	l = tt_layer(&w);
	t = tt_dump(&l, 1, 0);
	ok(has(t, "etc/x reg") && has(t, "etc-link sym 0777 0:0 n=1 s=4 L0 -> /etc\n") &&
	   lacks(t, "etc-link/"), "absolute symlink parent: the member lands in its target");
	ok(has(t, "usr/lib/y reg") && has(t, "lib sym") && lacks(t, "\nlib/y"),
	   "relative symlink parent: resolved from the link's directory");
	ok(has(t, "\nz reg") && has(t, "esc sym"), "'..' in a link target stops at the root");
	ok(has(t, "tmp dir 0755 0:0 n=2 s=4096 L0 synth\ntmp/q reg"),
	   "absolute target with '..' stays in the root; missing dirs made there");
	ok(has(t, "nowhere/deep/f reg") && has(t, "dang sym"),
	   "dangling link: its target's path is created");
	ok(has(t, "usr/lib/c reg"), "a link to a link is followed");
	ok(has(t, "\nb reg") && lacks(t, "\na dir"), "'a/../b' is 'b', as filepath.Clean makes it");
	free(t);
	idx_layer_free(l);
}

static void test_across_layers(void)
{
	struct tw w = { 0 };
	struct idx_layer *l[3];
	char *t;

	tw_dir(&w, "usr/bin/");
	tw_link(&w, '2', "bin", "usr/bin");
	tw_dir(&w, "d/");
	tw_file(&w, "d/f", "f\n");
	tw_file(&w, "d/g", "g\n");
	tw_link(&w, '2', "dl", "d");
	tw_dir(&w, "o/");
	tw_file(&w, "o/old", "old\n");
	tw_link(&w, '2', "ol", "/o");
	tw_link(&w, '2', "bin2", "usr/bin");
	l[0] = tt_layer(&w);
	tw_file(&w, "bin/sh", "sh\n");
	tw_file(&w, "dl/.wh.f", "");
	tw_file(&w, "ol/.wh..wh..opq", "");
	tw_link(&w, '1', "hard", "dl/g");
	tw_dir(&w, "bin2/");
	tw_file(&w, "bin2/own", "own\n");
	l[1] = tt_layer(&w);
	t = tt_dump(l, 2, 0);
	ok(has(t, "usr/bin/sh reg 0644 0:0 n=1 s=3 L1") && has(t, "bin sym 0777 0:0 n=1 s=7 L0"),
	   "a later layer's file under a lower layer's symlink lands in its target");
	ok(lacks(t, "d/f ") && has(t, "d/g reg"), "a whiteout through a symlinked dir hides the target's file");
	ok(lacks(t, "o/old") && has(t, "\no dir"), "an opaque marker through a symlinked dir clears the target");
	ok(has(t, "d/g reg 0644 0:0 n=2") && has(t, "hard reg 0644 0:0 n=2"),
	   "a hardlink through a symlinked dir shares the target's inode");
	ok(has(t, "bin2 dir 0755 0:0") && has(t, "bin2/own reg") && lacks(t, "usr/bin/own"),
	   "a directory entry over a symlink replaces it (containerd removes what is not a dir)");
	free(t);
	/* The upper layer alone: no symlink below, so the names are plain dirs. */
	t = tt_dump(&l[1], 1, IDX_TREE_KEEP_WHITEOUTS);
	ok(has(t, "bin/sh reg") && has(t, "dl/.wh.f reg") && has(t, "ol/.wh..wh..opq reg"),
	   "one layer's own view: the same rules, with nothing below to follow");
	free(t);
	tt_free_layers(l, 2);
}

static void test_loop(void)
{
	struct tw w = { 0 };
	struct idx_layer *l;
	char *t;

	tw_link(&w, '2', "l1", "l2");
	tw_link(&w, '2', "l2", "/l1");
	tw_file(&w, "l1/x", "x\n");
	l = tt_layer(&w);
	t = tt_dump(&l, 1, 0);
	is_str(t, "(tree failed: -40)", "a symlink loop on a member's path fails like containerd's 'too many links'");
	free(t);
	idx_layer_free(l);
}

/* A hardlink to a symlink is the symlink's second name, as link(2) and containerd make it. */
static void test_hardlink_to_symlink(void)
{
	struct tw w = { 0 };
	struct idx_layer *l;
	char *t;

	tw_file(&w, "f", "file\n");
	tw_link(&w, '2', "s", "f");
	tw_link(&w, '1', "h", "s");
	tw_dir(&w, "d/");
	tw_link(&w, '2', "ds", "d");
	tw_link(&w, '1', "dh", "ds");
	tw_link(&w, '2', "dang", "nowhere");
	tw_link(&w, '1', "dangh", "dang");
	tw_dir(&w, "sub/");
	tw_link(&w, '2', "sub/rel", "../f");
	tw_link(&w, '2', "sl", "sub");
	tw_link(&w, '1', "relh", "sl/rel");
	l = tt_layer(&w);
	t = tt_dump(&l, 1, 0);
	ok(has(t, "\nf reg 0644 0:0 n=1 ") && has(t, "\ns sym 0777 0:0 n=2 s=1 L0 -> f\n") &&
	   has(t, "\nh sym 0777 0:0 n=2 s=1 L0 -> f\n"),
	   "a hardlink to a symlink to a file: the symlink's second name, not the file's");
	ok(has(t, "\nds sym 0777 0:0 n=2") && has(t, "\ndh sym 0777 0:0 n=2"),
	   "... to a symlink to a dir: kept, as the symlink");
	ok(has(t, "\ndang sym 0777 0:0 n=2") && has(t, "\ndangh sym 0777 0:0 n=2"),
	   "... to a dangling symlink: kept");
	ok(has(t, "\nrelh sym 0777 0:0 n=2 s=4 L0 -> ../f\n") && has(t, "\nsub/rel sym 0777 0:0 n=2"),
	   "... through a symlinked parent: the parent followed, the last component not");
	free(t);
	idx_layer_free(l);
}

/*
 * A path named twice, with a hardlink to its first entry in between:
 * extraction links first, then replaces the path, so the hardlink keeps
 * the first entry's bytes (GNU tar, containerd).
 */
static void test_hardlink_to_replaced(void)
{
	struct tw w = { 0 };
	struct idx_layer *l;
	char *t;

	tw_file(&w, "f", "first\n");
	tw_link(&w, '1', "h", "f");
	tw_link(&w, '1', "h2", "f");
	tw_file(&w, "f", "second!!\n");
	tw_link(&w, '1', "after", "f");
	tw_file(&w, "g", "g1\n");
	tw_link(&w, '1', "gh", "g");
	tw_dir(&w, "g/");
	l = tt_layer(&w);
	t = tt_dump(&l, 1, 0);
	ok(has(t, "\nh reg 0644 0:0 n=2 s=6 ") && has(t, "\nh2 reg 0644 0:0 n=2 s=6 "),
	   "hardlinks to a replaced entry keep its bytes, one inode between them");
	ok(has(t, "\nf reg 0644 0:0 n=2 s=9 ") && has(t, "after reg 0644 0:0 n=2 s=9 L0\n"),
	   "... the path and a hardlink after it have the new bytes");
	ok(has(t, "\ngh reg 0644 0:0 n=1 s=3 ") && has(t, "\ng dir "),
	   "... a file replaced by a dir: its hardlink keeps the file");
	free(t);
	idx_layer_free(l);

	/* a later hardlink is pointed at the copy only if the tar paid for that link string */
	char longname[160];

	memset(longname, 'l', sizeof(longname) - 1); /* the test writer keeps 100 */
	longname[sizeof(longname) - 1] = '\0';
	tw_file(&w, "f", "first\n");
	tw_link(&w, '1', longname, "f");
	tw_link(&w, '1', "b", "f");
	tw_file(&w, "f", "second!!\n");
	l = tt_layer(&w);
	t = tt_dump(&l, 1, 0);
	ok(has(t, "f reg 0644 0:0 n=1 s=9 ") && has(t, "\nlll") && lacks(t, "\nb "),
	   "... a link string longer than its member's linkname field is not made up: that link is dropped");
	free(t);
	idx_layer_free(l);
}

int main(void)
{
	log_set_level(LOG_LVL_ERR + (getenv("TEST_VERBOSE") ? 3 : 0));
	test_same_layer();
	test_across_layers();
	test_loop();
	test_hardlink_to_symlink();
	test_hardlink_to_replaced();
	return tap_done();
}
