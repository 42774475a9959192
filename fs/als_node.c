/* SPDX-License-Identifier: MIT */
/*
 * The Additional Layer Store's nodes: a layer's trees (its own, and the
 * merged tree of the layers below it for directories it does not carry),
 * attributes in overlayfs's form, data, extended attributes and the stats.
 * fs/als.c explains the design.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "common/dbuf.h"
#include "common/log.h"
#include "fs/als_impl.h"
#include "fs/stats_json.h"
#include "fs/view_int.h"

static const char opaque_xattr[] = "trusted.overlay.opaque";

/* ---- a layer's trees -------------------------------------------------- */

struct idx_tree *fs_als_layer_tree(struct als_layer *l, bool below)
{
	_Atomic(struct idx_tree *) *slot = below ? &l->below : &l->tree;
	struct idx_tree *t = atomic_load_explicit(slot, memory_order_acquire);
	const struct idx_layer *const *idx = l->img->idx;
	int r;

	if (t)
		return t;
	pthread_mutex_lock(&l->lock);
	t = atomic_load_explicit(slot, memory_order_relaxed);
	if (!t && l->err == 0) {
		if (below)
			r = idx_tree_build(idx, l->pos, IDX_TREE_LAZY, &t);
		else
			r = idx_tree_build(idx + l->pos, 1, IDX_TREE_KEEP_WHITEOUTS | IDX_TREE_LAZY,
					   &t);
		if (r < 0) {
			log_err("cannot build the tree of layer '%s': %s", l->desc->digest,
				strerror(-r));
			l->err = r;
			t = NULL;
		}
		atomic_store_explicit(slot, t, memory_order_release);
	}
	pthread_mutex_unlock(&l->lock);
	return t;
}

int fs_als_tree_node(struct als_layer *l, struct idx_tree *t, const struct idx_node *node,
		     struct fs_als_node *out)
{
	memset(out, 0, sizeof(*out));
	if (!node)
		return -EIO;
	out->kind = FS_ALS_TREE;
	out->ino = als_ino(l->slot, node->ino);
	out->img = l->img;
	out->layer = l;
	out->node = node;
	out->entry = node->entry == IDX_TREE_NO_ENTRY ? NULL : idx_tree_entry(t, node);
	return 0;
}

bool fs_als_is_whiteout(const struct fs_als_node *n)
{
	return n->entry && n->entry->type == IDX_T_WHITEOUT;
}

/* ---- attributes ------------------------------------------------------- */

/* The path of @node in @t into @buf ("" for the root); false if too long. */
static bool node_path(struct idx_tree *t, const struct idx_node *node, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	while (node->ino != IDX_ROOT_INO) {
		size_t nl = strlen(node->name);

		if (len + nl + 2 > cap)
			return false;
		memmove(buf + nl + 1, buf, len + 1);
		buf[0] = '/';
		memcpy(buf + 1, node->name, nl);
		len += nl + 1;
		node = idx_tree_node(t, node->parent);
		if (!node)
			return false;
	}
	return true;
}

/* A directory this layer does not carry: the entry the layers below give it. */
static const struct idx_entry *below_entry(struct als_layer *l, const struct idx_node *node)
{
	struct idx_tree *t = fs_als_layer_tree(l, false), *b;
	char path[4096];
	uint64_t ino;
	const struct idx_node *bn;

	if (l->pos == 0 || !t || !node_path(t, node, path, sizeof(path)))
		return NULL;
	b = fs_als_layer_tree(l, true);
	if (!b || idx_tree_resolve(b, path, &ino) < 0)
		return NULL;
	bn = idx_tree_node(b, ino);
	if (!bn || bn->type != IDX_T_DIR || bn->entry == IDX_TREE_NO_ENTRY)
		return NULL;
	return idx_tree_entry(b, bn);
}

static void stat_tree(const struct fs_als_node *n, struct stat *st)
{
	const struct idx_entry *e = n->entry;

	if (fs_als_is_whiteout(n)) {
		st->st_mode = S_IFCHR;
		st->st_nlink = 1;
		st->st_rdev = makedev(0, 0);
		st->st_mtim.tv_sec = e->mtime_sec;
		st->st_mtim.tv_nsec = e->mtime_nsec;
		return;
	}
	if (!e && n->node->type == IDX_T_DIR)
		e = below_entry(n->layer, n->node);
	fs_tree_stat(n->node, e, st);
}

void fs_als_stat(struct fs_als *a, const struct fs_als_node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_blksize = 128 * 1024;
	st->st_mtim.tv_sec = a->started;
	switch (n->kind) {
	case FS_ALS_ROOT:
	case FS_ALS_IMAGE:
	case FS_ALS_LAYER:
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = n->kind == FS_ALS_IMAGE ? 2 + n->img->n_layers : 3;
		st->st_size = 4096;
		break;
	case FS_ALS_INFO:
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = (off_t)n->layer->info_len;
		break;
	case FS_ALS_BLOB:
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = (off_t)n->layer->desc->size;
		break;
	case FS_ALS_TREE:
		stat_tree(n, st);
		break;
	}
	st->st_ino = n->ino;
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
	st->st_blocks = (st->st_size + 511) / 512;
}

/* ---- data ------------------------------------------------------------- */

/* Serve [off, off + size) from the layer's chunk, if it holds it all: the count, or -1. */
static ssize_t from_chunk(struct als_layer *l, void *buf, size_t size, uint64_t off)
{
	ssize_t r = -1;

	pthread_mutex_lock(&l->lock);
	if (l->chunk && off >= l->chunk_off && off + size <= l->chunk_off + l->chunk_len) {
		memcpy(buf, l->chunk + (off - l->chunk_off), size);
		r = (ssize_t)size;
		if (off + size == l->desc->size) { /* read to the end: done with it */
			free(l->chunk);
			l->chunk = NULL;
		}
	}
	pthread_mutex_unlock(&l->lock);
	return r;
}

/* The compressed blob, @size bytes (within the blob) at @off, fetched ALS_BLOB_CHUNK at a time. */
static ssize_t read_blob(struct als_layer *l, void *buf, size_t size, uint64_t off)
{
	size_t want = size > ALS_BLOB_CHUNK ? size : ALS_BLOB_CHUNK;
	char *chunk;
	bool keep;
	ssize_t r;

	r = from_chunk(l, buf, size, off);
	if (r >= 0)
		return r;
	if (want > l->desc->size - off)
		want = (size_t)(l->desc->size - off);
	chunk = malloc(want);
	if (!chunk)
		return -ENOMEM;
	r = reg_blob_read(l->img->fimg->client, l->desc->digest, chunk, want, off);
	if (r < 0) {
		log_warn("store: cannot read the blob of layer '%s' of '%s' at %llu: %s",
			 l->desc->digest, l->img->fimg->ref_str, (unsigned long long)off,
			 strerror((int)-r));
		free(chunk);
		return -EIO;
	}
	size = (size_t)r < size ? (size_t)r : size;
	memcpy(buf, chunk, size);
	keep = size < (size_t)r; /* the chunk holds more than this read */
	pthread_mutex_lock(&l->lock);
	free(l->chunk);
	l->chunk = keep ? chunk : NULL;
	l->chunk_off = off;
	l->chunk_len = (size_t)r;
	pthread_mutex_unlock(&l->lock);
	if (!keep)
		free(chunk);
	return (ssize_t)size;
}

ssize_t fs_als_read(struct fs_als *a, const struct fs_als_node *n, void *buf, size_t size,
		    uint64_t off, struct fs_rvec *v)
{
	struct als_layer *l = n->layer;
	uint64_t fsize;
	ssize_t r;

	switch (n->kind) {
	case FS_ALS_INFO:
		if (off >= l->info_len)
			return 0;
		size = size < l->info_len - off ? size : (size_t)(l->info_len - off);
		memcpy(buf, l->info + off, size);
		return (ssize_t)size;
	case FS_ALS_BLOB:
		fsize = l->desc->size;
		if (off >= fsize)
			return 0;
		if (size > fsize - off)
			size = (size_t)(fsize - off);
		return read_blob(l, buf, size, off);
	case FS_ALS_TREE:
		if (n->node->type != IDX_T_REG || fs_als_is_whiteout(n))
			return n->node->type == IDX_T_DIR ? -EISDIR : 0;
		fsize = n->node->size;
		if (off >= fsize)
			return 0;
		if (size > fsize - off)
			size = (size_t)(fsize - off);
		r = fs_store_read_vec(l->img->fimg->store, l->img->nos[l->pos], n->node->entry,
				      buf, size, off, v);
		if (r < 0)
			log_warn("store: cannot read '%s' of layer '%s' of '%s' at %llu: %s",
				 n->entry ? n->entry->path : n->node->name, l->desc->digest,
				 l->img->fimg->ref_str, (unsigned long long)off, strerror((int)-r));
		return r < 0 && r != -ENOMEM ? -EIO : r;
	default:
		return -EISDIR;
	}
}

static bool is_opaque_dir(const struct fs_als_node *n)
{
	struct idx_tree *t;
	uint64_t ino;

	if (n->kind != FS_ALS_TREE || n->node->type != IDX_T_DIR)
		return false;
	t = fs_als_layer_tree(n->layer, false);
	return t && idx_tree_lookup(t, n->node->ino, IDX_WH_OPAQUE, &ino) == 0;
}

int fs_als_xattr(struct fs_als *a, const struct fs_als_node *n, uint32_t i, const char **name,
		 const void **value, size_t *len)
{
	uint32_t ne = n->kind == FS_ALS_TREE && n->entry && !fs_als_is_whiteout(n) ? n->entry->n_xattrs : 0;

	if (i < ne) {
		*name = n->entry->xattrs[i].name;
		*value = n->entry->xattrs[i].value;
		*len = n->entry->xattrs[i].len;
		return 0;
	}
	if (i == ne && is_opaque_dir(n)) {
		*name = opaque_xattr;
		*value = "y";
		*len = 1;
		return 0;
	}
	return -ENOENT;
}

/* {"store":{"images":[<each image as `strata stats` shows a mount>]}} */
char *fs_als_stats_json(struct fs_als *a, size_t *len)
{
	json_t *images = json_array();
	int r = images ? 0 : -ENOMEM;

	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < a->n_images && r == 0; i++)
		r = json_array_append_new(images, fs_image_stats_json(a->images[i]->fimg, "store"));
	pthread_mutex_unlock(&a->lock);
	if (r < 0) {
		json_decref(images);
		return NULL;
	}
	return fs_stats_json_dump(json_pack("{s:{s:o}}", "store", "images", images), ALS_STATS_MAX,
				  len);
}
