/* SPDX-License-Identifier: MIT */
/*
 * index/ internal: the lazy merged tree (IDX_TREE_LAZY). tree_lazy.c keeps
 * the nodes and answers the queries, merging a directory's children the
 * first time it is read; tree_lazy_rule.c decides what one name is in the
 * merge (the rules of tree.c, read top-down) and groups hardlinks;
 * tree_lazy_scan.c reads one layer's sorted lookup table by path and checks
 * up front that the layers need nothing the lazy merge cannot do.
 * Only tree*.c include this.
 */
#ifndef INDEX_TREE_LAZY_INT_H
#define INDEX_TREE_LAZY_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "index/tree_int.h"

#define LZ_NONE UINT32_MAX
#define LZ_CHUNK_BASE 1024u /* chunk c holds LZ_CHUNK_BASE << c slots */
#define LZ_MAX_CHUNKS 22    /* up to ~2^32 slots */

/* What one layer holds at one name of a directory. */
struct lz_info {
	uint32_t real;  /* entry id of the real entry, or LZ_NONE */
	uint8_t type;   /* its type */
	bool wh;        /* a whiteout of the name */
	bool desc;      /* entries below the name that create it as a directory */
};

/* The name in the merge: absent, a non-directory, or a directory. */
struct lz_pick {
	enum { LZ_ABSENT, LZ_NONDIR, LZ_DIR } kind;
	uint16_t layer;   /* attributes: real entry's layer; synthesised: the creating layer */
	uint32_t entry;   /* entry id, LZ_NONE for a synthesised dir */
	uint8_t type;
	uint16_t lo;      /* LZ_DIR: the lowest layer of its lineage */
};

/* A node: the public one first (callers get &pub), then the merge state. */
struct lz_node {
	struct idx_node pub;
	uint32_t parent;             /* node index of the parent dir */
	uint16_t lo;                 /* dir: lowest layer of its lineage */
	_Atomic(uint32_t *) kids;    /* dir: node indexes in name order, once merged */
};

/* A hardlinked inode: its canonical (layer, entry) and how many names it keeps. */
struct lz_group {
	uint64_t key;     /* layer << 32 | entry of the regular entry */
	uint64_t ino;     /* 0 until one of its names is merged */
	uint32_t nlink;
};

struct lz_tree {
	const struct idx_layer *const *layers;
	uint16_t n_layers;
	unsigned flags;
	pthread_mutex_t lock;            /* merges, slot allocation */
	struct lz_node *nodes[LZ_MAX_CHUNKS];
	uint32_t *by_ino[LZ_MAX_CHUNKS]; /* ino -> node index */
	uint32_t n_nodes;
	_Atomic uint64_t n_ino;
	_Atomic uint64_t merged;         /* directories merged so far (tests) */
	int err;                         /* a merge failed half-way: every later one fails */
	struct tree_chunk *arena;        /* names no layer holds */
	/* scratch of a merge (under lock) */
	struct lz_seen *seen;
	uint32_t cap_seen;
	struct lz_info *info;            /* one per layer */
	/* hardlinks: open addressing on (layer << 32 | entry) of every name -> group + 1 */
	uint64_t *hl_keys;
	uint32_t *hl_vals, hl_mask;
	struct lz_group *groups;
	uint32_t n_groups;
	bool link_unsure;  /* a hardlink's target could not be placed cheaply: merge whole */
};

/* ---- tree_lazy_scan.c: one layer, by path ---- */

/* First slot of the lookup table whose path is >= @s (@len bytes, compared as a prefix key). */
uint32_t lz_lower_bound(const struct idx_layer *l, const char *s, size_t len);
/* Entry id of class @cls (0 real, 1 whiteout, 2 opaque) at exactly @path, or LZ_NONE. */
uint32_t lz_find(const struct idx_layer *l, const char *path, size_t len, unsigned cls);
/* Whether an entry below @path/ creates it as a dir (real entries; any with @keep). */
bool lz_has_desc(const struct idx_layer *l, const char *path, size_t len, bool keep);

/* lz_has_desc() for members up to entry @max_id only (tar order); -1: gave up (too many). */
int lz_has_desc_before(const struct idx_layer *l, const char *path, size_t len, bool keep,
		       uint32_t max_id);

/* One name seen under a dir in one layer (lz_scan_dir). */
struct lz_seen {
	const char *name;
	uint32_t len;
	uint16_t layer;
	uint8_t cls;      /* 0 real, 1 whiteout, 2 opaque (never: the dir's own), 3 below */
	uint8_t type;
	uint32_t entry;
};
/*
 * Every name directly under @dir (@len bytes, "" for the root) in layer
 * @layer, appended to *@v (grown; *@n used, *@cap allocated).
 */
int lz_scan_dir(const struct idx_layer *l, uint16_t layer, const char *dir, size_t len, bool keep,
		struct lz_seen **v, uint32_t *n, uint32_t *cap);
/* Hardlinks in @layers; *@n_entries (if not NULL) all their entries. */
uint64_t lz_count_links(const struct idx_layer *const *layers, size_t n, uint64_t *n_entries);
/* 0 when the lazy merge gives what tree.c gives for these layers; else why not (logged at debug). */
int lz_check_layers(const struct idx_layer *const *layers, size_t n, unsigned flags);

/* ---- tree_lazy_rule.c ---- */

/* The merge of one name from the per-layer facts @info[lo..top] (tree.c's rules, top-down). */
struct lz_pick lz_decide(const struct lz_info *info, int lo, int top);
/* The lowest layer whose entries still show under dir @path (its lineage from @lo; opaque markers). */
uint16_t lz_children_lo(const struct lz_tree *t, const char *path, size_t len, uint16_t lo);
/* Hardlink groups (t->groups, t->hl_*), once at creation. -ENOMEM. */
int lz_link_groups(struct lz_tree *t);
/* The group of the name (layer, entry), or NULL when it is not hardlinked. */
struct lz_group *lz_group_of(const struct lz_tree *t, uint16_t layer, uint32_t entry);

/* ---- tree_lazy.c ---- */
int lz_tree_new(const struct idx_layer *const *layers, size_t n, unsigned flags,
		struct lz_tree **out);
void lz_tree_free(struct lz_tree *t);
uint64_t lz_count(const struct lz_tree *t);
const struct idx_node *lz_node(struct lz_tree *t, uint64_t ino);
int lz_lookup(struct lz_tree *t, uint64_t dir, const char *name, uint64_t *ino);
int lz_child(struct lz_tree *t, uint64_t dir, uint32_t pos, const struct idx_node **out);
uint64_t lz_merged(const struct lz_tree *t);

#endif
