/* SPDX-License-Identifier: MIT */
/*
 * The lazy merged tree (IDX_TREE_LAZY) beyond what the merge tests compare
 * with the whole tree (they all run both, test_index_tree_util.h): only the
 * directories that are read get merged (idx_tree_merged_dirs), a deep
 * lookup through whiteouts and opaque dirs of three layers, a listing,
 * hardlinks across dirs share one inode whichever name is read first,
 * inode numbers are stable, the fallback to the whole merge, and readers
 * on several threads at once (100k entries: test_index_tree_merge.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "index/index.h"
#include "tap.h"
#include "test_index_tree_util.h"

static struct idx_tree *lazy(struct idx_layer **l, size_t n, unsigned flags)
{
	struct idx_tree *t = NULL;

	for (size_t i = 0; i < n; i++) {
		if (!l[i])
			return NULL;
	}
	if (idx_tree_build((const struct idx_layer *const *)l, n, flags | IDX_TREE_LAZY, &t) < 0)
		return NULL;
	return t;
}

static const struct idx_node *at(const struct idx_tree *t, const char *path)
{
	uint64_t ino;

	return idx_tree_resolve(t, path, &ino) == 0 ? idx_tree_node(t, ino) : NULL;
}

/* Three layers; the deep file is looked up, and only its path is merged. */
static void test_deep_lookup(void)
{
	struct tw w[3] = { 0 };
	struct idx_layer *l[3];
	const struct idx_node *n, *kid;
	struct idx_tree *t;
	char *names = NULL;
	size_t nlen = 0;
	FILE *f;

	tw_dir(&w[0], "usr/");
	tw_dir(&w[0], "usr/lib/");
	tw_dir(&w[0], "usr/lib/deep/");
	tw_file(&w[0], "usr/lib/deep/gone", "1");
	tw_file(&w[0], "usr/lib/deep/kept", "22");
	tw_dir(&w[0], "usr/lib/deep/opq/");
	tw_file(&w[0], "usr/lib/deep/opq/hidden", "3");
	tw_dir(&w[0], "usr/share/");
	tw_file(&w[0], "usr/share/untouched", "4");
	tw_dir(&w[0], "etc/");
	tw_file(&w[0], "etc/conf", "5");
	tw_file(&w[1], "usr/lib/deep/.wh.gone", "");
	tw_file(&w[1], "usr/lib/deep/opq/.wh..wh..opq", "");
	tw_file(&w[1], "usr/lib/deep/opq/new", "666");
	tw_file(&w[1], "usr/lib/deep/file", "old");
	tw_file(&w[2], "usr/lib/deep/file", "newest");
	tw_file(&w[2], "usr/lib/deep/x/y/z", "synth parents");
	for (int i = 0; i < 3; i++)
		l[i] = tt_layer(&w[i]);
	t = lazy(l, 3, 0);
	ok(t != NULL, "lazy tree of 3 layers");
	if (!t)
		goto out;
	is_int((int)idx_tree_merged_dirs(t), 0, "nothing merged at open");
	is_int((int)idx_tree_count(t), 1, "only the root has an inode");
	n = at(t, "usr/lib/deep/file");
	ok(n && n->type == IDX_T_REG && n->size == 6 && n->layer == 2, "the top layer's file");
	is_int((int)idx_tree_merged_dirs(t), 4, "root, usr, usr/lib, usr/lib/deep merged, no more");
	ok(at(t, "usr/lib/deep/gone") == NULL, "whited-out file absent");
	n = at(t, "usr/lib/deep/kept");
	ok(n && n->size == 2 && n->layer == 0, "lower file kept");
	n = at(t, "usr/lib/deep/opq");
	ok(n && n->n_children == 1 && n->nlink == 2, "opaque dir: its lower child hidden");
	ok(at(t, "usr/lib/deep/opq/new") && !at(t, "usr/lib/deep/opq/hidden"), "only the new one");
	n = at(t, "usr/lib/deep/x/y");
	ok(n && n->entry == IDX_TREE_NO_ENTRY && n->n_children == 1, "synthesised parents");
	/* the listing of deep: names in order */
	n = at(t, "usr/lib/deep");
	f = open_memstream(&names, &nlen);
	for (uint32_t i = 0; n && idx_tree_child(t, n->ino, i, &kid) == 0; i++)
		fprintf(f, "%s,", kid->name);
	fclose(f);
	is_str(names, "file,kept,opq,x,", "readdir of a 3-layer dir");
	ok(n && n->nlink == 4, "its link count: 2 + 2 subdirs");
	is_int((int)idx_tree_merged_dirs(t), 7, "opq, x, x/y merged when read; etc, usr/share not");
	ok(at(t, "usr/share") && idx_tree_merged_dirs(t) == 8, "usr/share merged once read");
	n = at(t, "usr/lib/deep/kept");
	ok(n && n->ino == at(t, "usr/lib/deep/kept")->ino, "the same inode read twice");
	ok(n && idx_tree_node(t, n->ino) == n, "and the same node by number");
	ok(n && idx_tree_node(t, n->parent) == at(t, "usr/lib/deep"), "its parent by number");
	free(names);
	idx_tree_free(t);
out:
	tt_free_layers(l, 3);
}

static void test_hardlinks(void)
{
	struct tw w[3] = { 0 };
	struct idx_layer *l[3];
	const struct idx_node *a, *b, *c;
	struct idx_tree *t;

	tw_dir(&w[0], "bin/");
	tw_file(&w[0], "bin/tool", "binary");
	tw_link(&w[0], '1', "bin/alias", "bin/tool");
	tw_file(&w[0], "bin/single", "s");
	tw_link(&w[1], '1', "lib/exec/tool", "bin/tool");
	tw_link(&w[1], '1', "lib/exec/other", "bin/single");
	tw_file(&w[2], "bin/.wh.single", "");
	for (int i = 0; i < 3; i++)
		l[i] = tt_layer(&w[i]);
	t = lazy(l, 3, 0);
	ok(t != NULL, "lazy tree with hardlinks");
	if (!t)
		goto out;
	c = at(t, "lib/exec/tool"); /* the name in the higher layer first */
	a = at(t, "bin/tool");
	b = at(t, "bin/alias");
	ok(a && b && c && a->ino == b->ino && a->ino == c->ino, "three names, one inode");
	ok(a && b && c && a->nlink == 3 && b->nlink == 3 && c->nlink == 3, "nlink 3 on each");
	ok(c && c->layer == 0 && c->size == 6, "the target's attributes");
	ok(a == c && b == c, "each name's number leads to the first name read");
	a = at(t, "lib/exec/other");
	ok(a && a->nlink == 1 && !at(t, "bin/single"), "a whited-out target: the link lives on");
	idx_tree_free(t);
out:
	tt_free_layers(l, 3);
}

static void test_fallback(void)
{
	struct tw w[2] = { 0 };
	struct idx_layer *l[2];
	struct idx_tree *t;

	tw_dir(&w[0], "real/");
	tw_link(&w[0], '2', "link", "real");
	tw_file(&w[1], "link/f", "through the symlink");
	for (int i = 0; i < 2; i++)
		l[i] = tt_layer(&w[i]);
	t = lazy(l, 2, 0);
	ok(t && idx_tree_merged_dirs(t) == UINT64_MAX, "a member under a symlink: merged whole");
	ok(t && at(t, "real/f") && !at(t, "link/f"), "and placed through the symlink");
	idx_tree_free(t);
	tt_free_layers(l, 2);
}

/* Mostly hardlinks: resolving each one at open would cost more than merging whole. */
static void test_many_links(void)
{
	struct tw w = { 0 };
	struct idx_layer *l;
	struct idx_tree *t;
	char name[32], target[32];

	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "f/%03d", i);
		tw_file(&w, name, "x");
		snprintf(target, sizeof(target), "%s", name);
		snprintf(name, sizeof(name), "h/%03d", i);
		tw_link(&w, '1', name, target);
	}
	l = tt_layer(&w);
	t = lazy(&l, 1, 0);
	ok(t && idx_tree_merged_dirs(t) == UINT64_MAX, "300 hardlinks in 602 entries: merged whole");
	ok(t && at(t, "h/299") && at(t, "h/299")->nlink == 2, "and linked");
	idx_tree_free(t);
	idx_layer_free(l);
}

struct reader {
	const struct idx_tree *t;
	int seed;
	uint64_t sum;
	int bad;
};

static void *read_many(void *p)
{
	struct reader *r = p;
	char path[64];

	for (int i = 0; i < 2000; i++) {
		int k = (i + r->seed * 500) % 2000, d = k / 40, f = k % 40;
		const struct idx_node *n;

		snprintf(path, sizeof(path), "d%02d/s%d/f%02d", d, f % 4, f);
		n = at(r->t, path);
		if (!n || n->size != (uint64_t)(f % 7)) {
			r->bad++;
			continue;
		}
		r->sum += n->ino;
	}
	return NULL;
}

/* 2000 files in 200 dirs; readers on 4 threads merge the dirs as they go. */
static void test_threads(void)
{
	struct tw w = { 0 };
	struct idx_layer *l;
	struct idx_tree *t;
	struct reader rd[4];
	pthread_t th[4];
	char name[64], data[8] = "xxxxxxx";
	int bad = 0;

	for (int d = 0; d < 50; d++) {
		for (int f = 0; f < 40; f++) {
			snprintf(name, sizeof(name), "d%02d/s%d/f%02d", d, f % 4, f);
			data[f % 7] = '\0';
			tw_file(&w, name, data);
			data[f % 7] = 'x';
		}
	}
	l = tt_layer(&w);
	t = lazy(&l, 1, 0);
	ok(t != NULL, "lazy tree for threads");
	if (!t)
		goto out;
	for (int i = 0; i < 4; i++) {
		rd[i] = (struct reader){ .t = t, .seed = i };
		pthread_create(&th[i], NULL, read_many, &rd[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		bad += rd[i].bad;
	}
	is_int(bad, 0, "every lookup on every thread found its file");
	is_int((int)idx_tree_count(t), 1 + 50 + 200 + 2000, "every inode given out once");
	is_int((int)idx_tree_merged_dirs(t), 1 + 50 + 200, "every dir merged once");
	idx_tree_free(t);
out:
	idx_layer_free(l);
}

/* A random path of 1-3 components over a small alphabet, so that layers collide. */
static void rand_path(unsigned *seed, char *out, size_t cap)
{
	static const char *names[] = { "a", "b", "c", "a.x" };
	int depth = 1 + rand_r(seed) % 4;
	size_t len = 0;

	out[0] = '\0';
	for (int i = 0; i < depth && len + 8 < cap; i++)
		len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? "/" : "", names[rand_r(seed) % 4]);
}

/* What a layer's members claim: a path that must stay a dir, or must not. */
struct claims {
	char path[64][64];
	bool nondir[64];
	int n;
};

/* Whether @p as a non-dir (or with a dir above it) clashes with what the layer has. */
static bool clashes(const struct claims *c, const char *p, bool nondir)
{
	size_t len = strlen(p);

	for (int i = 0; i < c->n; i++) {
		size_t l2 = strlen(c->path[i]);

		if (nondir && l2 > len && strncmp(c->path[i], p, len) == 0 && c->path[i][len] == '/')
			return true; /* something below the new non-dir */
		if (c->nondir[i] && len > l2 && strncmp(p, c->path[i], l2) == 0 && p[l2] == '/')
			return true; /* the new one below a non-dir */
	}
	return false;
}

/*
 * One random member: file, dir, whiteout, opaque marker, hardlink or
 * (rarely) symlink. With @tidy, none that puts a non-dir and members below
 * it in one layer (where tar order decides, merged whole).
 */
static void rand_member(unsigned *seed, struct tw *w, bool symlinks, bool tidy, struct claims *c)
{
	char p[64], q[64], m[80];
	char *slash;
	int kind = rand_r(seed) % 12;
	bool nondir = kind < 4 || kind >= 10;

	rand_path(seed, p, sizeof(p));
	if (tidy && (c->n == 64 || clashes(c, p, nondir)))
		return;
	if (c->n < 64) {
		snprintf(c->path[c->n], sizeof(c->path[0]), "%s", p);
		c->nondir[c->n++] = nondir;
	}
	slash = strrchr(p, '/');
	if (kind < 4) {
		tw_file(w, p, kind & 1 ? "x" : "yy");
	} else if (kind < 7) {
		snprintf(m, sizeof(m), "%s/", p);
		tw_dir(w, m);
	} else if (kind < 9) { /* ".wh.<name>" in the same dir */
		snprintf(m, sizeof(m), "%.*s%s.wh.%s", slash ? (int)(slash - p) : 0, p, slash ? "/" : "",
			 slash ? slash + 1 : p);
		tw_file(w, m, "");
	} else if (kind < 10) {
		snprintf(m, sizeof(m), "%s/.wh..wh..opq", p);
		tw_file(w, m, "");
	} else if (kind < 11 || !symlinks) {
		rand_path(seed, q, sizeof(q));
		tw_link(w, '1', p, q);
	} else {
		static const char *targets[] = { "a", "../b", "/c/a", "b/c", "." };

		tw_link(w, '2', p, targets[rand_r(seed) % 5]);
	}
}

/* Random 1-4 layer images: the lazy tree dumps what the whole one does (tt_dump compares). */
static void test_random(void)
{
	int bad = 0, lazy_used = 0;
	int runs = getenv("LZ_RUNS") ? (int)strtol(getenv("LZ_RUNS"), NULL, 10) : 400;

	for (unsigned run = 0; run < (unsigned)runs; run++) {
		unsigned seed = run * 2654435761u + 1;
		size_t n = 1 + run % 4;
		struct idx_layer *l[4] = { 0 };
		unsigned flags = n == 1 && run % 8 == 0 ? IDX_TREE_KEEP_WHITEOUTS : 0;
		struct idx_tree *t = NULL;
		char *got;

		for (size_t i = 0; i < n; i++) {
			struct tw w = { 0 };
			struct claims c = { .n = 0 };
			int members = 1 + rand_r(&seed) % 12;

			for (int k = 0; k < members; k++)
				rand_member(&seed, &w, run % 5 == 0, run % 3 != 0, &c);
			l[i] = tt_layer(&w);
		}
		got = tt_dump(l, n, flags);
		if (!got || strcmp(got, "(the lazy tree differs)") == 0) {
			bad++;
			printf("# run %u (%zu layers, flags %u) differs\n", run, n, flags);
			for (size_t i = 0; i < n; i++) {
				for (uint32_t k = 0; k < idx_entry_count(l[i]); k++) {
					const struct idx_entry *e = idx_entry_get(l[i], k);

					printf("#   L%zu %s '%s'%s%s\n", i, tt_type(e->type), e->path,
					       e->link ? " -> " : "", e->link ? e->link : "");
				}
			}
		}
		free(got);
		if (idx_tree_build((const struct idx_layer *const *)l, n, flags | IDX_TREE_LAZY, &t) == 0)
			lazy_used += idx_tree_merged_dirs(t) != UINT64_MAX;
		idx_tree_free(t);
		tt_free_layers(l, n);
	}
	is_int(bad, 0, "%d random images: the lazy tree is the whole tree", runs);
	printf("# %d of them merged lazily, the rest whole\n", lazy_used);
	ok(lazy_used > runs / 2, "most of them lazily");
}

int main(void)
{
	log_set_level(getenv("LZ_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_ERR);
	test_deep_lookup();
	test_hardlinks();
	test_fallback();
	test_many_links();
	test_threads();
	test_random();
	return tap_done();
}
