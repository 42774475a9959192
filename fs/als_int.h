/* SPDX-License-Identifier: MIT */
/*
 * fs/ internal: the Additional Layer Store (stratafs --store), FUSE-free.
 * containers/storage asks for MOUNTPOINT/<base64(REF)>/<blob digest>/ and
 * reads diff/ (the layer alone, in overlayfs's on-disk form), info (JSON)
 * and blob (the compressed blob). Images are resolved on first lookup
 * (fs/image.h: same credentials, platform and trust rules as a mount) and
 * kept while the daemon runs. fs/als.c says how inodes are numbered.
 *
 * Thread-safety: every function may be called from any FUSE worker; a
 * struct fs_als_node stays valid while the store lives (nothing is freed
 * before fs_als_free()).
 */
#ifndef FS_ALS_INT_H
#define FS_ALS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "fs/image.h"

#define FS_ALS_ROOT_INO 1

enum fs_als_kind { FS_ALS_ROOT, FS_ALS_IMAGE, FS_ALS_LAYER, FS_ALS_INFO, FS_ALS_BLOB, FS_ALS_TREE };

struct als_image;
struct als_layer;

/* A resolved inode; everything in it is borrowed from the store. */
struct fs_als_node {
	enum fs_als_kind kind;
	uint64_t ino;
	struct als_image *img;          /* IMAGE and below */
	struct als_layer *layer;        /* LAYER and below */
	const struct idx_node *node;    /* TREE */
	const struct idx_entry *entry;  /* TREE; NULL for a directory the layer does not carry */
};

struct fs_als;

/*
 * @o->ref is ignored; the rest is copied (strings borrowed: must outlive the
 * store). @registry (NULL: none): the host @o's username, password,
 * insecure and ca_file are for; images of any other host are resolved
 * without them (fs_als_reg_opts()).
 */
int fs_als_new(const struct fs_image_opts *o, bool push_index, const char *registry,
	       struct fs_als **out);
void fs_als_free(struct fs_als *a);

/* -ENOENT: no such inode. */
int fs_als_get(struct fs_als *a, uint64_t ino, struct fs_als_node *out);
/*
 * Look @name up in @dir. In the root, @name is a base64 reference,
 * resolved now (the first time): -ENOENT if it cannot be (logged). In an
 * image dir, a layer blob digest of that image.
 */
int fs_als_lookup(struct fs_als *a, const struct fs_als_node *dir, const char *name,
		  struct fs_als_node *out);
/* The directory holding @n (the root's is the root). */
int fs_als_parent(struct fs_als *a, const struct fs_als_node *n, struct fs_als_node *out);
/*
 * The @pos-th child of @dir and its name (borrowed); -ENOENT past the
 * end, 1 for a position that shows nothing (an opaque marker).
 */
int fs_als_child(struct fs_als *a, const struct fs_als_node *dir, uint32_t pos,
		 struct fs_als_node *out, const char **name);
void fs_als_stat(struct fs_als *a, const struct fs_als_node *n, struct stat *st);
/*
 * Read a regular file (info, blob, a file of diff/) into @buf, or in place
 * as @v says (fs_store_read_vec()): the count or -errno (-EIO for fetch errors).
 */
ssize_t fs_als_read(struct fs_als *a, const struct fs_als_node *n, void *buf, size_t size,
		    uint64_t off, struct fs_rvec *v);
/*
 * Extended attribute @i of @n (the entry's, then trusted.overlay.opaque on
 * an opaque dir): its name and value; -ENOENT past the last.
 */
int fs_als_xattr(struct fs_als *a, const struct fs_als_node *n, uint32_t i, const char **name,
		 const void **value, size_t *len);
/* Stats JSON of every image resolved so far (caller frees); NULL on ENOMEM. */
char *fs_als_stats_json(struct fs_als *a, size_t *len);

#endif
