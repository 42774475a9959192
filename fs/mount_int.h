/* SPDX-License-Identifier: MIT */
/*
 * fs/ internal: what the daemon mounts. fs_mount_open() resolves the
 * reference, chooses the view (merged image, per-layer view, BuildKit
 * cache), opens every layer index (in parallel) and builds the trees; no
 * layer data is fetched. FUSE-free.
 *
 * Thread-safety: after fs_mount_open() returns, a struct fs_mount is
 * immutable (the store inside it is thread-safe) and is read by every FUSE
 * worker without locks.
 */
#ifndef FS_MOUNT_INT_H
#define FS_MOUNT_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "fs/fetch.h"
#include "fs/view_int.h"
#include "registry/registry.h"

/* The name of the extended attribute on the mount root that holds the stats. */
#define FS_STATS_XATTR "user.stratafs.stats"

/*
 * -o unpinned: may an index that nothing trusted pins (a referrer, the
 * fallback tag) be used? TAG, the default, for references by tag only:
 * whoever can write those indexes can move the tag itself, so they add no
 * new trust; a reference by digest promises bytes that cannot change, and
 * a repository with immutable tags makes a tag the same promise (use
 * NEVER there).
 */
enum fs_unpinned { FS_UNPINNED_TAG = 0, FS_UNPINNED_NEVER, FS_UNPINNED_ALWAYS };
/* "tag", "never", "always" -> the mode; -EINVAL otherwise. */
int fs_unpinned_parse(const char *s, enum fs_unpinned *out);

struct fs_mount_opts {
	const char *ref;
	const char *platform;        /* NULL: the host's */
	struct reg_opts reg;
	struct fs_store_opts store;
	bool layers;                 /* -o layers: layers/NN-<digest>/ + merged/ */
	enum fs_unpinned unpinned;   /* -o unpinned: the policy for unpinned indexes */
	unsigned open_threads;       /* layers opened at once; 0: 8 */
};

enum fs_view_kind { FS_VIEW_IMAGE, FS_VIEW_LAYERS, FS_VIEW_BUILDKIT };


struct fs_mount {
	struct reg_ref ref;
	char *ref_str;
	struct reg_client *client;
	struct fs_store *store;
	struct reg_manifest *manifest; /* the image manifest or the BuildKit cache */
	struct reg_manifest *top;      /* the index it was chosen from, or NULL */
	enum fs_view_kind kind;
	struct fs_view *view;
	size_t n_layers;               /* layers opened */
	uint64_t n_inodes;
	uint64_t total_size;           /* sum of regular file sizes (statfs) */
	time_t started;                /* wall clock, for synthetic nodes */
	struct timespec mono_started;
	double open_ms;                /* time fs_mount_open() took */
};

int fs_mount_open(const struct fs_mount_opts *o, struct fs_mount **out);
void fs_mount_free(struct fs_mount *m);

/* "image", "layers", "buildkit-cache" */
const char *fs_view_kind_name(enum fs_view_kind k);

/*
 * The stats xattr value: {"mount": {ref, manifest, view, uptime_s, ...},
 * plus the members of fs_store_stats_json()}. Caller frees; NULL on ENOMEM.
 */
char *fs_mount_stats_json(struct fs_mount *m, size_t *len);

/* Build the BuildKit cache view of @m (mount_bk.c). */
int fs_mount_build_buildkit(struct fs_mount *m, const struct fs_mount_opts *o);

/*
 * Open the layers @descs[0..n) of m->manifest in parallel: store layer
 * numbers in @nos, indexes in @idx. @diff_id (may be NULL) gives layer
 * i's diff_id, checked if the layer has to be streamed (see struct
 * fs_layer_origin). The first error is returned.
 */
int fs_mount_open_layers(struct fs_mount *m, const struct fs_mount_opts *o,
			 const struct reg_descriptor *const *descs, size_t n,
			 int (*diff_id)(void *ctx, size_t layer, const char **out), void *diff_id_ctx,
			 unsigned *nos, const struct idx_layer **idx);

/* Build a tree of @n layers and add it to m->view; the tree id or -errno. */
int fs_mount_add_tree(struct fs_mount *m, const struct idx_layer *const *idx, const unsigned *nos,
		      size_t n, unsigned flags);

/* "NN-<first 12 hex of digest>" into @buf. */
void fs_mount_layer_name(char *buf, size_t size, size_t no, const char *digest);

/*
 * -o push_index (mount_push.c). fs_mount_push_new(), after fs_mount_open()
 * and before the password in @reg is wiped: *out is NULL when no index was
 * built; fs_mount_push_start() once the kernel mount is up pushes the built
 * indexes in the background (logged, never fatal); fs_mount_push_free()
 * waits for it, before fs_mount_free().
 */
struct fs_mount_push;
int fs_mount_push_new(struct fs_mount *m, const struct reg_opts *reg, struct fs_mount_push **out);
void fs_mount_push_start(struct fs_mount_push *p);
void fs_mount_push_free(struct fs_mount_push *p);

#endif
