/* SPDX-License-Identifier: MIT */
/*
 * Test helper: layers built through the public idx_build() from tars
 * written in memory (uncompressed), and a text dump of a merged tree.
 */
#ifndef TESTS_UNIT_INDEX_TREE_UTIL_H
#define TESTS_UNIT_INDEX_TREE_UTIL_H

#include <inttypes.h>
#include <sys/types.h>
#include <time.h>

#include "common/dbuf.h"
#include "index/index.h"
#include "test_index_tar_util.h"

struct tt_mem {
	const uint8_t *p;
	size_t len, pos;
};

static inline ssize_t tt_read(void *ctx, void *buf, size_t n)
{
	struct tt_mem *m = ctx;

	if (n > m->len - m->pos)
		n = m->len - m->pos;
	memcpy(buf, m->p + m->pos, n);
	m->pos += n;
	return (ssize_t)n;
}

/* Close @w with EOF blocks, build its index, free @w. NULL on failure. */
static inline struct idx_layer *tt_layer(struct tw *w)
{
	struct idx_build_opts o = { .comp = IDX_COMP_NONE };
	struct idx_layer *l = NULL;
	struct tt_mem m;
	int r;

	tw_eof(w);
	m = (struct tt_mem){ .p = w->buf, .len = w->len };
	r = idx_build(&o, tt_read, &m, &l, NULL);
	if (r < 0)
		printf("# idx_build: %d\n", r);
	tw_free(w);
	return r < 0 ? NULL : l;
}

static inline const char *tt_type(uint8_t t)
{
	static const char *names[] = { "reg", "dir", "sym", "hard", "chr", "blk", "fifo", "wh",
				       "opq" };

	return t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

static inline void tt_dump_dir(const struct idx_tree *t, uint64_t dir, const char *prefix,
			       struct dbuf *out)
{
	const struct idx_node *n;

	for (uint32_t i = 0; idx_tree_child(t, dir, i, &n) == 0; i++) {
		const struct idx_entry *e = idx_tree_entry(t, n);
		char path[4200];

		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "/" : "", n->name);
		dbuf_printf(out, "%s %s %04o %u:%u n=%u s=%" PRIu64 " L%u", path, tt_type(n->type),
			    e ? e->mode : 07777, e ? e->uid : 0, e ? e->gid : 0, n->nlink, n->size,
			    n->layer);
		if (n->type == IDX_T_SYMLINK && e && e->link)
			dbuf_printf(out, " -> %s", e->link);
		if (n->entry == IDX_TREE_NO_ENTRY)
			dbuf_add_str(out, " synth");
		dbuf_add_str(out, "\n");
		if (n->type == IDX_T_DIR)
			tt_dump_dir(t, n->ino, path, out);
	}
}

static inline char *tt_dump_one(struct idx_layer **layers, size_t n, unsigned flags)
{
	struct idx_tree *t = NULL;
	struct dbuf out;
	int r;

	for (size_t i = 0; i < n; i++) {
		if (!layers[i])
			return strdup("(layer failed)");
	}
	r = idx_tree_build((const struct idx_layer *const *)layers, n, flags, &t);
	if (r < 0) {
		char s[64];

		snprintf(s, sizeof(s), "(tree failed: %d)", r);
		return strdup(s);
	}
	dbuf_init(&out, 1 << 26);
	tt_dump_dir(t, IDX_ROOT_INO, "", &out);
	idx_tree_free(t);
	return out.data ? dbuf_take(&out, NULL) : strdup("");
}

/*
 * Merge @n layers and dump every name as a line, depth first; caller frees.
 * Merged whole and lazily (IDX_TREE_LAZY): the two must dump the same, so
 * every test of the merge checks the lazy tree against the whole one.
 */
static inline char *tt_dump(struct idx_layer **layers, size_t n, unsigned flags)
{
	char *whole = tt_dump_one(layers, n, flags & ~(unsigned)IDX_TREE_LAZY);
	char *lazy = tt_dump_one(layers, n, flags | IDX_TREE_LAZY);

	if (whole && lazy && strcmp(whole, lazy) != 0) {
		printf("# the lazy tree differs; whole:\n%s# lazy:\n%s", whole, lazy);
		free(whole);
		whole = strdup("(the lazy tree differs)");
	}
	free(lazy);
	return whole;
}

/* CPU time of this process, in ms. */
static inline double tt_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* 100 dirs "dirNNN/" of 1000 empty files "fileNNNN" each, the files out of order. */
static inline struct idx_layer *tt_big_layer(void)
{
	struct tw w = { 0 };
	char name[64];

	for (int d = 0; d < 100; d++) {
		snprintf(name, sizeof(name), "dir%03d/", d);
		tw_dir(&w, name);
		for (int f = 0; f < 1000; f++) {
			snprintf(name, sizeof(name), "dir%03d/file%04d", d, (f * 7919) % 1000);
			tw_file(&w, name, "");
		}
	}
	return tt_layer(&w);
}

static inline void tt_free_layers(struct idx_layer **layers, size_t n)
{
	for (size_t i = 0; i < n; i++)
		idx_layer_free(layers[i]);
}

#endif
