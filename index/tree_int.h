/* SPDX-License-Identifier: MIT */
/*
 * index/ internal: the merged tree. tree.c builds a mutable graph of
 * inodes and directory entries layer by layer; tree_fin.c freezes it into
 * the compact, sorted struct idx_tree that the queries read.
 * Only tree*.c include this.
 */
#ifndef INDEX_TREE_INT_H
#define INDEX_TREE_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "index/index.h"

struct lz_tree;

#define TREE_NONE IDX_TREE_NO_ENTRY /* also "no entry" in struct tree_ino */

/* Names the layers do not hold (synthesised parents, ".wh." names). */
struct tree_chunk {
	struct tree_chunk *next;
	size_t used, cap;
	char data[];
};

/* Build time: one per inode. Hardlinked names share one. */
struct tree_ino {
	uint32_t entry;  /* TREE_NONE: a synthesised directory */
	uint16_t layer;
	uint8_t type;    /* REG, DIR, SYMLINK, CHR, BLK or FIFO */
	uint64_t final;  /* inode number once frozen; 0 before */
};

/* Build time: one per name. Children of a dir form a doubly linked list. */
struct tree_dent {
	const char *name; /* NUL-terminated, owned by a layer or the arena */
	uint32_t len;
	uint32_t parent;  /* dentry of the parent dir; the root's is itself */
	uint32_t inode;
	uint32_t first, next, prev;
	bool dead;        /* removed; its hash slot may be reused */
};

struct tree_builder {
	const struct idx_layer *const *layers;
	size_t n_layers;
	unsigned flags;
	struct tree_ino *ino;
	uint32_t n_ino, cap_ino;
	struct tree_dent *d;
	uint32_t n_d, cap_d;
	uint32_t *hash;   /* dentry + 1 per slot; 0 = empty */
	uint32_t hash_mask, hash_used;
	struct tree_chunk *arena;
};

struct idx_tree {
	const struct idx_layer **layers;
	size_t n_layers;
	struct idx_node *nodes; /* every name, BFS order; a dir's children contiguous, sorted */
	uint32_t *first;        /* per node: index of its first child (dirs) */
	uint32_t *by_ino;       /* ino -> index of its first name; [0] unused */
	uint64_t n_ino;
	uint32_t n_nodes;
	struct tree_chunk *arena;
	struct idx_entry synth; /* attributes of synthesised dirs */
	struct lz_tree *lazy;   /* IDX_TREE_LAZY: the nodes are there, not in nodes[] */
};

/* The live dentry of @s (@len bytes) in dir @dir, or TREE_NONE (tree.c). */
uint32_t idx_treeb_lookup(struct tree_builder *b, uint32_t dir, const char *s, size_t len);
/*
 * The dentry of @path (@len bytes, normalised), symlinks not followed.
 * With @layer >= 0, missing or non-dir components are (re)made synthesised
 * dirs and the result is a dir; otherwise TREE_NONE in *out when absent.
 */
int idx_treeb_walk(struct tree_builder *b, const char *path, size_t len, int layer, uint32_t *out);
/*
 * @path with the symlinks on it followed inside the root, containerd's way
 * (tree_path.c): the normalised result in @out (IDX_MAX_PATH + 1 bytes).
 * -ELOOP (over 255 links), -ENAMETOOLONG, -ENOMEM; logged.
 */
int idx_treeb_resolve(struct tree_builder *b, const char *path, size_t len, char *out, size_t *out_len);
/* idx_treeb_walk() of the directory @path once resolved. */
int idx_treeb_walk_resolved(struct tree_builder *b, const char *path, size_t len, int layer,
		       uint32_t *out);

/* @a + @s (@alen, @len bytes), NUL-terminated, in the arena *@arena; NULL: -ENOMEM. */
char *idx_treeb_arena_dup(struct tree_chunk **arena, const char *a, size_t alen, const char *s,
			  size_t len);

/* Child @i (in name order) of the dir a idx_treeb_find() searches. */
typedef const struct idx_node *(*idx_treeb_kid_fn)(const void *ctx, uint32_t i);
/* @name ("." and ".." too) among the children of dir @d: its inode in *ino, or -ENOENT. */
int idx_treeb_find(const struct idx_node *d, idx_treeb_kid_fn kid, const void *ctx,
		   const char *name, uint64_t *ino);

/* The st_size of a node of @type whose attributes are @e (tree_fin.c). */
uint64_t idx_treeb_size(const struct idx_entry *e, uint8_t type);

/* A known type and a normalised path (and link): tree.c ignores other entries. */
bool idx_treeb_entry_ok(const struct idx_entry *e);

/* Freeze @b into @t (layers and flags already set); consumes b->arena. */
int idx_treeb_freeze(struct tree_builder *b, struct idx_tree *t);
void idx_treeb_arena_free(struct tree_chunk *c);

#endif
