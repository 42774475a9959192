/* SPDX-License-Identifier: MIT */
/*
 * The merged tree: OCI whiteouts and opaque dirs against lower layers
 * only, replacements both ways, hardlinks across layers, synthesised
 * parents, the per-layer view with whiteouts kept, and the queries.
 * Layers come from idx_build() over tars written in memory.
 */
#include <errno.h>
#include <time.h>
#include <zstd.h>

#include "common/digest.h"

#include "common/log.h"
#include "index/index.h"
#include "tap.h"
#include "test_index_tree_util.h"

#define MAXL 4

/* Build the layers given as tar writers, dump their merge, compare. */
static void check(const char *what, struct tw *tws, size_t n, unsigned flags, const char *want)
{
	struct idx_layer *l[MAXL] = { 0 };
	char *got;

	for (size_t i = 0; i < n; i++)
		l[i] = tt_layer(&tws[i]);
	got = tt_dump(l, n, flags);
	is_str(got, want, "%s", what);
	free(got);
	tt_free_layers(l, n);
}

static void test_whiteouts(void)
{
	struct tw w[MAXL] = { 0 };

	tw_dir(&w[0], "a/");
	tw_file(&w[0], "a/x", "x");
	tw_file(&w[0], "a/y", "yy");
	tw_dir(&w[0], "d/");
	tw_dir(&w[0], "d/sub/");
	tw_file(&w[0], "d/sub/f", "f");
	tw_file(&w[1], "a/.wh.x", "");
	tw_file(&w[1], ".wh.d", "");
	tw_file(&w[1], ".wh.nothing", "");
	check("whiteouts hide a lower file and a lower dir tree", w, 2, 0,
	      "a dir 0755 0:0 n=2 s=4096 L0\n"
	      "a/y reg 0644 0:0 n=1 s=2 L0\n");

	tw_file(&w[0], "f", "old");
	tw_file(&w[1], ".wh.f", "");
	tw_file(&w[2], "f", "new!");
	check("deleted, then re-created in a higher layer", w, 3, 0,
	      "f reg 0644 0:0 n=1 s=4 L2\n");

	tw_file(&w[0], "f", "old");
	tw_file(&w[1], "f", "same layer");
	tw_file(&w[1], ".wh.f", "");
	check("a whiteout never hides its own layer's entry (whatever the order)", w, 2, 0,
	      "f reg 0644 0:0 n=1 s=10 L1\n");
}

static void test_opaque(void)
{
	struct tw w[MAXL] = { 0 };

	tw_dir(&w[0], "o/");
	tw_file(&w[0], "o/old", "1");
	tw_dir(&w[0], "o/olddir/");
	tw_file(&w[0], "keep", "k");
	tw_file(&w[1], "o/new", "22");
	tw_dir(&w[1], "o/");
	tw_file(&w[1], "o/.wh..wh..opq", "");
	tw_file(&w[1], "o/new2", "333");
	check("opaque dir: lower children hidden, same-layer children kept", w, 2, 0,
	      "keep reg 0644 0:0 n=1 s=1 L0\n"
	      "o dir 0755 0:0 n=2 s=4096 L1\n"
	      "o/new reg 0644 0:0 n=1 s=2 L1\n"
	      "o/new2 reg 0644 0:0 n=1 s=3 L1\n");

	tw_file(&w[0], "r", "1");
	tw_file(&w[1], ".wh..wh..opq", "");
	tw_file(&w[1], "s", "2");
	check("opaque root", w, 2, 0, "s reg 0644 0:0 n=1 s=1 L1\n");
}

static void test_replace(void)
{
	struct tw w[MAXL] = { 0 };

	tw_dir(&w[0], "d/");
	tw_file(&w[0], "d/x", "x");
	tw_file(&w[1], "d", "now a file");
	tw_file(&w[1], "d/.wh.x", ""); /* umoci writes these after the file */
	check("dir replaced by a file", w, 2, 0, "d reg 0644 0:0 n=1 s=10 L1\n");

	tw_file(&w[0], "f", "file");
	tw_dir(&w[1], "f/");
	tw_file(&w[1], "f/y", "y");
	check("file replaced by a dir", w, 2, 0,
	      "f dir 0755 0:0 n=2 s=4096 L1\n"
	      "f/y reg 0644 0:0 n=1 s=1 L1\n");

	tw_dir(&w[0], "d/");
	tw_file(&w[0], "d/x", "x");
	{
		struct tw_hdr h = { .name = "d/", .type = '5', .mode = 0700, .uid = 5, .size = -1 };

		tw_add(&w[1], &h, NULL, 0);
	}
	tw_file(&w[1], "d/y", "y");
	check("dir over dir: attributes from above, children merged", w, 2, 0,
	      "d dir 0700 5:0 n=2 s=4096 L1\n"
	      "d/x reg 0644 0:0 n=1 s=1 L0\n"
	      "d/y reg 0644 0:0 n=1 s=1 L1\n");

	tw_file(&w[0], "f", "file");
	tw_file(&w[1], "f/g", "g");
	check("a file under a lower file's path turns it into a synthesised dir", w, 2, 0,
	      "f dir 0755 0:0 n=2 s=4096 L1 synth\n"
	      "f/g reg 0644 0:0 n=1 s=1 L1\n");
}

static void test_parents_and_sizes(void)
{
	struct tw w[MAXL] = { 0 };
	struct tw_hdr root = { .name = "./", .type = '5', .mode = 0700, .uid = 7, .size = -1 };

	tw_file(&w[0], "p/q/r", "rrr");
	tw_link(&w[0], '2', "p/sym", "q/r");
	tw_dir(&w[0], "p/q/s/");
	check("missing parents synthesised, nlink 2 + subdirs, symlink size", w, 1, 0,
	      "p dir 0755 0:0 n=3 s=4096 L0 synth\n"
	      "p/q dir 0755 0:0 n=3 s=4096 L0 synth\n"
	      "p/q/r reg 0644 0:0 n=1 s=3 L0\n"
	      "p/q/s dir 0755 0:0 n=2 s=4096 L0\n"
	      "p/sym sym 0777 0:0 n=1 s=3 L0 -> q/r\n");

	tw_file(&w[0], "b", "");
	tw_file(&w[0], "B", "");
	tw_file(&w[0], "_", "");
	tw_file(&w[0], "caf\xc3\xa9", "");
	tw_file(&w[0], "a", "");
	tw_add(&w[1], &root, NULL, 0);
	check("children sorted by bytes", w, 2, 0,
	      "B reg 0644 0:0 n=1 s=0 L0\n"
	      "_ reg 0644 0:0 n=1 s=0 L0\n"
	      "a reg 0644 0:0 n=1 s=0 L0\n"
	      "b reg 0644 0:0 n=1 s=0 L0\n"
	      "caf\xc3\xa9 reg 0644 0:0 n=1 s=0 L0\n");
}

static void test_hardlinks(void)
{
	struct tw w[MAXL] = { 0 };

	tw_file(&w[0], "f", "data");
	tw_link(&w[1], '1', "h", "f");
	tw_link(&w[1], '1', "dir/h2", "h");
	tw_link(&w[1], '1', "bad", "missing");
	tw_link(&w[1], '1', "loop", "loop");
	tw_link(&w[1], '1', "la", "lb");
	tw_link(&w[1], '1', "lb", "la");
	tw_dir(&w[1], "dd/");
	tw_link(&w[1], '1', "todir", "dd");
	check("hardlinks across layers share an inode; missing, looping, dir targets dropped",
	      w, 2, 0,
	      "dd dir 0755 0:0 n=2 s=4096 L1\n"
	      "dir dir 0755 0:0 n=2 s=4096 L1 synth\n"
	      "dir/h2 reg 0644 0:0 n=3 s=4 L0\n"
	      "f reg 0644 0:0 n=3 s=4 L0\n"
	      "h reg 0644 0:0 n=3 s=4 L0\n");

	tw_file(&w[0], "f", "data");
	tw_link(&w[0], '1', "h", "f");
	tw_file(&w[1], ".wh.f", "");
	tw_file(&w[2], "f", "xy");
	check("a whiteout removes one name of a hardlinked inode", w, 3, 0,
	      "f reg 0644 0:0 n=1 s=2 L2\n"
	      "h reg 0644 0:0 n=1 s=4 L0\n");
}

static void test_keep_whiteouts(void)
{
	struct tw w[MAXL] = { 0 };

	tw_dir(&w[0], "a/");
	tw_file(&w[0], "a/.wh.x", "");
	tw_file(&w[0], "a/.wh..wh..opq", "");
	tw_file(&w[0], "z/.wh.y", "");
	check("KEEP_WHITEOUTS shows the markers as empty files", w, 1, IDX_TREE_KEEP_WHITEOUTS,
	      "a dir 0755 0:0 n=2 s=4096 L0\n"
	      "a/.wh..wh..opq reg 0644 0:0 n=1 s=0 L0\n"
	      "a/.wh.x reg 0644 0:0 n=1 s=0 L0\n"
	      "z dir 0755 0:0 n=2 s=4096 L0 synth\n"
	      "z/.wh.y reg 0644 0:0 n=1 s=0 L0\n");
}

static void test_queries(void)
{
	struct tw w = { 0 };
	struct idx_layer *l;
	struct idx_tree *t = NULL;
	const struct idx_node *n;
	uint64_t ino = 0, h1 = 0, h2 = 0;

	tw_dir(&w, "etc/");
	tw_file(&w, "etc/passwd", "root");
	tw_link(&w, '1', "etc/hl", "etc/passwd");
	tw_file(&w, "bin", "b");
	l = tt_layer(&w);
	ok(l != NULL, "layer built");
	if (!l)
		return;
	is_int(idx_tree_build((const struct idx_layer *const *)&l, 1, 0, &t), 0, "tree built");
	if (!t)
		return;
	is_int(idx_tree_count(t), 4, "4 inodes: root, bin, etc, passwd");
	n = idx_tree_node(t, IDX_ROOT_INO);
	ok(n && n->ino == 1 && n->parent == 1 && strcmp(n->name, "") == 0 && n->n_children == 2,
	   "root node");
	ok(n && n->entry == IDX_TREE_NO_ENTRY && idx_tree_entry(t, n)->mode == 0755,
	   "root without an entry is synthesised");
	is_int(idx_tree_resolve(t, "/etc//passwd", &ino), 0, "resolve a path");
	n = idx_tree_node(t, ino);
	/* idx_tree_node() gives an inode's first name in tree order: "hl" < "passwd" */
	ok(n && strcmp(n->name, "hl") == 0 && n->nlink == 2 && n->size == 4, "resolved node");
	ok(idx_tree_resolve(t, "etc/hl", &h2) == 0 && ino == h2, "hardlink has the same ino");
	is_int(idx_tree_resolve(t, "etc/nope", &h1), -ENOENT, "resolve missing");
	is_int(idx_tree_resolve(t, "bin/x", &h1), -ENOTDIR, "resolve through a file");
	is_int(idx_tree_resolve(t, "", &h1), 0, "resolve ''");
	is_int(h1, IDX_ROOT_INO, "'' is the root");
	is_int(idx_tree_lookup(t, IDX_ROOT_INO, "bin", &h1), 0, "lookup");
	is_int(h1, 2, "inodes in BFS order: bin is 2");
	is_int(idx_tree_lookup(t, IDX_ROOT_INO, "etc", &h1), 0, "lookup etc");
	is_int(h1, 3, "etc is 3");
	is_int(idx_tree_child(t, h1, 2, &n), -ENOENT, "child past the end");
	is_int(idx_tree_child(t, 2, 0, &n), -ENOTDIR, "child of a file");
	ok(idx_tree_node(t, 0) == NULL && idx_tree_node(t, 5) == NULL, "node out of range");
	is_int(idx_tree_lookup(t, h1, "..", &h2), 0, "lookup ..");
	is_int(h2, IDX_ROOT_INO, ".. of etc is the root");
	idx_tree_free(t);
	idx_layer_free(l);
}

/*
 * A loaded index is not made by our tar reader: patch a saved one so an
 * entry's path is "d/.." (envelope digest recomputed) and check that the
 * loader refuses it or the tree leaves it out.
 */
static void test_hostile_index(void)
{
	struct tw w = { 0 };
	struct idx_layer *l, *bad = NULL;
	struct idx_tree *t = NULL;
	uint8_t *buf = NULL, *payload = NULL, *out = NULL;
	size_t len = 0, plen, clen;
	uint64_t ino;
	char *hit;
	int r;

	tw_dir(&w, "d/");
	tw_file(&w, "d/xx", "1");
	tw_file(&w, "e", "2");
	l = tt_layer(&w);
	if (!ok(l && idx_save(l, (void **)&buf, &len) == 0 && len > 64, "index saved"))
		return;
	memcpy(&plen, buf + 16, 8); /* little-endian hosts only, as the tests run */
	payload = malloc(plen);
	out = malloc(ZSTD_compressBound(plen) + 64);
	ok(ZSTD_decompress(payload, plen, buf + 64, len - 64) == plen, "payload decompressed");
	hit = memmem(payload, plen, "d/xx", 5);
	ok(hit != NULL, "path found in the payload");
	if (hit)
		memcpy(hit, "d/..", 5);
	clen = ZSTD_compress(out + 64, ZSTD_compressBound(plen), payload, plen, 3);
	memcpy(out, buf, 64);
	memcpy(out + 24, &clen, 8);
	digest_sha256(payload, plen, out + 32);
	r = idx_load(out, clen + 64, &bad);
	if (r == 0) {
		is_int(idx_tree_build((const struct idx_layer *const *)&bad, 1, 0, &t), 0,
		       "tree of the patched index built");
		ok(t && idx_tree_resolve(t, "d", &ino) == 0 && idx_tree_node(t, ino)->n_children == 0,
		   "the '..' entry is left out of the tree");
		ok(t && idx_tree_resolve(t, "e", &ino) == 0, "the other entries stay");
	} else {
		ok(r == -EBADMSG, "the loader refuses a '..' path (%d)", r);
	}
	idx_tree_free(t);
	idx_layer_free(bad);
	idx_layer_free(l);
	free(buf);
	free(payload);
	free(out);
}

static void test_big(void)
{
	struct idx_layer *l;
	struct idx_tree *t = NULL;
	double ms = tt_cpu_ms();
	uint64_t ino;

	l = tt_big_layer();
	ok(l != NULL, "100k-entry layer built");
	if (!l)
		return;
	ms = tt_cpu_ms();
	is_int(idx_tree_build((const struct idx_layer *const *)&l, 1, 0, &t), 0, "100k tree built");
	ms = tt_cpu_ms() - ms;
	printf("# 100100 entries merged in %.1f ms of CPU\n", ms);
	ok(ms < 1000, "100k-entry tree builds in under a second");
	ok(t && idx_tree_count(t) == 100101, "all inodes present");
	idx_tree_free(t);
	/* lazily: one lookup merges its path, not the image */
	t = NULL;
	ms = tt_cpu_ms();
	is_int(idx_tree_build((const struct idx_layer *const *)&l, 1, IDX_TREE_LAZY, &t), 0,
	       "100k lazy tree opened");
	ok(t && idx_tree_resolve(t, "dir099/file0999", &ino) == 0, "and the last file looked up");
	ms = tt_cpu_ms() - ms;
	printf("# 100100 entries: lazy open + one lookup in %.1f ms of CPU\n", ms);
	ok(t && idx_tree_merged_dirs(t) == 2, "two dirs merged");
	ok(t && idx_tree_count(t) == 1 + 100 + 1000, "inodes for the root's and dir099's children");
	idx_tree_free(t);
	idx_layer_free(l);
}

int main(void)
{
	log_set_level(LOG_LVL_ERR);
	test_whiteouts();
	test_opaque();
	test_replace();
	test_parents_and_sizes();
	test_hardlinks();
	test_keep_whiteouts();
	test_queries();
	test_hostile_index();
	test_big();
	return tap_done();
}
