/* SPDX-License-Identifier: MIT */
/*
 * fs/ internal: what the daemon mounts. fs_mount_open() opens the
 * reference (fs/image.h), chooses the view (merged image, per-layer view, BuildKit
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

#include "fs/store.h"
#include "fs/image.h"
#include "fs/view_int.h"
#include "registry/registry.h"

struct fs_mount_opts {
	const char *ref;
	const char *platform;        /* NULL: the host's */
	struct reg_opts reg;
	struct fs_store_opts store;
	bool layers;                 /* -o layers: layers/NN-<digest>/ + merged/ */
	enum fs_unpinned unpinned;   /* -o unpinned: the policy for unpinned indexes */
	unsigned open_threads;       /* layers opened at once; 0: 8 */
	/* -o prefetch: NULL, "profile", "all": the pinned access profile; "none"; else a file */
	const char *profile;
};

enum fs_view_kind { FS_VIEW_IMAGE, FS_VIEW_LAYERS, FS_VIEW_BUILDKIT };


struct fs_mount {
	struct fs_image *img;          /* reference, client, store, manifest, layers */
	enum fs_view_kind kind;
	struct fs_view *view;
	uint64_t n_entries; /* of the layers of every tree, counted once per tree */
	time_t started;                /* wall clock, for synthetic nodes */
	uint64_t mono_started_ns; /* monotonic_ns() when the mount began */
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
int fs_mount_build_buildkit(struct fs_mount *m);

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
