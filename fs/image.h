/* SPDX-License-Identifier: MIT */
/*
 * An image or cache opened without FUSE: reference -> manifest -> layer
 * indexes (the trust policy applied) -> merged trees. The daemon's mount
 * (fs/mount.c) and the strata CLI's ls, cat and extract share it, so a
 * reference shows the same tree, from the same indexes, whether mounted
 * or not. No layer data is fetched here; reads go through the store.
 *
 * Thread-safety: fs_image_open() and the fs_image_*_open functions are
 * called by one thread; after them a struct fs_image is immutable and its
 * store is thread-safe.
 */
#ifndef FS_IMAGE_H
#define FS_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fs/store.h"
#include "index/index.h"
#include "registry/registry.h"

/*
 * The policy for unpinned indexes (-o unpinned, --unpinned): may an index
 * that nothing trusted pins (a referrer, the fallback tag) be used? TAG,
 * the default, for references by tag only: whoever can write those
 * indexes can move the tag itself, so they add no new trust; a reference
 * by digest promises bytes that cannot change, and a repository with
 * immutable tags makes a tag the same promise (use NEVER there).
 */
enum fs_unpinned { FS_UNPINNED_TAG = 0, FS_UNPINNED_NEVER, FS_UNPINNED_ALWAYS };
/* "tag", "never", "always" -> the mode; -EINVAL otherwise. */
int fs_unpinned_parse(const char *s, enum fs_unpinned *out);

struct fs_image_opts {
	const char *ref;
	const char *platform;        /* NULL: the host's */
	struct reg_opts reg;
	struct fs_store_opts store;
	enum fs_unpinned unpinned;
	unsigned open_threads;       /* layers opened at once; 0: 8 */
};

struct fs_image {
	struct reg_ref ref;
	char *ref_str;
	struct reg_client *client;
	struct fs_store *store;
	struct reg_manifest *manifest; /* the image manifest or the BuildKit cache */
	struct reg_manifest *top;      /* the index it was chosen from, or NULL */
	enum fs_unpinned unpinned;
	unsigned open_threads;
	size_t n_layers;               /* layers opened */
	uint64_t total_size;           /* their tar sizes */
};

/*
 * Parse @o->ref, make the client and the store, resolve the manifest for
 * the platform. Failures are logged; -errno. Free with fs_image_free().
 */
int fs_image_open(const struct fs_image_opts *o, struct fs_image **out);
/* Waits for the store's fetches; NULL is a no-op. */
void fs_image_free(struct fs_image *img);

/* Is the manifest a BuildKit registry cache (no single merged tree)? */
bool fs_image_is_buildkit(const struct fs_image *img);

/*
 * Open the layers @descs[0..n) of img->manifest in parallel under the
 * image's trust policy: store layer numbers in @nos, indexes in @idx.
 * @diff_id (may be NULL) gives layer i's diff_id, checked if the layer
 * has to be streamed (see struct fs_layer_origin). The first error.
 */
int fs_image_open_layers(struct fs_image *img, const struct reg_descriptor *const *descs,
			 size_t n, int (*diff_id)(void *ctx, size_t layer, const char **out),
			 void *diff_id_ctx, unsigned *nos, const struct idx_layer **idx);

/*
 * The layers of an image manifest, lowest first, opened with the config's
 * diff_ids (read only if a layer must be streamed). *idx and *nos have
 * img->manifest->n_layers entries and are the caller's (free()); the
 * indexes are the store's.
 */
int fs_image_open_all(struct fs_image *img, const struct idx_layer ***idx, unsigned **nos);

/*
 * A BuildKit cache's layers (fs/image_bk.c). cfg->layers[i] is backed by
 * descs[i] (NULL: its blob is not in the manifest, skipped with a
 * warning), opened as idx[i] / nos[i]; raw is the config blob.
 */
struct fs_bk_cache {
	struct reg_cache_config *cfg;
	char *raw;
	size_t raw_len;
	const struct reg_descriptor **descs;
	const struct idx_layer **idx;
	unsigned *nos;
};

/* Fetch and parse the cache config, open every distinct layer once. -errno, logged. */
int fs_bk_open(struct fs_image *img, struct fs_bk_cache *bk);
void fs_bk_release(struct fs_bk_cache *bk);
/*
 * Chain @no: its layers from the root of the chain up to @no into
 * @idx/@nos (room for cfg->n_layers); the length, 0 if a link is missing.
 */
size_t fs_bk_chain(const struct fs_bk_cache *bk, size_t no, const struct idx_layer **idx,
		   unsigned *nos);

/*
 * What the CLI shows of a reference, without FUSE: an image's merged
 * rootfs; with @layer >= 0 that layer alone (whiteouts kept as files);
 * for a BuildKit cache, chain @chain (layer N merged over its parents;
 * -1: the last config layer's chain) or layer @layer alone. *t is the
 * caller's (idx_tree_free()); *nos (caller frees) maps the tree's layer
 * k to its store layer number. -ENOENT for a layer or chain that does
 * not exist (logged).
 */
struct fs_image_pick {
	long layer; /* -1: none */
	long chain; /* -1: the default */
};
int fs_image_tree(struct fs_image *img, const struct fs_image_pick *pick, struct idx_tree **t,
		  unsigned **nos);

#endif
