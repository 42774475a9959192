/* SPDX-License-Identifier: MIT */
/*
 * Mounting: reference -> manifest -> layer indexes (fs/image.c, shared
 * with the CLI) -> trees -> view. Nothing here fetches file data: the
 * mount is ready when the trees are built.
 */
#include <errno.h>
#include <jansson.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/dbuf.h"
#include "common/log.h"
#include "common/xmath.h"
#include "fs/mount_int.h"
#include "fs/profile.h"
#include "fs/stats_json.h"

#define STATS_MAX (4u << 20)

const char *fs_view_kind_name(enum fs_view_kind k)
{
	switch (k) {
	case FS_VIEW_IMAGE:
		return "image";
	case FS_VIEW_LAYERS:
		return "layers";
	case FS_VIEW_BUILDKIT:
		return "buildkit-cache";
	}
	return "?";
}

void fs_mount_layer_name(char *buf, size_t size, size_t no, const char *digest)
{
	const char *hex = strchr(digest, ':');

	hex = hex ? hex + 1 : digest;
	snprintf(buf, size, "%02u-%.12s", (unsigned)no, hex);
}

int fs_mount_add_tree(struct fs_mount *m, const struct idx_layer *const *idx, const unsigned *nos,
		      size_t n, unsigned flags)
{
	struct idx_tree *t = NULL;
	int r;

	/* lazy: a directory is merged when it is first read, not all of them now */
	r = idx_tree_build(idx, n, flags | IDX_TREE_LAZY, &t);
	if (r < 0) {
		log_err("cannot merge %zu layer(s) of '%s': %s", n, m->img->ref_str, strerror(-r));
		return r;
	}
	for (size_t i = 0; i < n; i++)
		m->n_entries += idx_entry_count(idx[i]);
	return fs_view_add_tree(m->view, t, nos, n);
}

/* The image view, with -o layers the per-layer view. */
static int build_image(struct fs_mount *m, const struct fs_mount_opts *o)
{
	size_t n = m->img->manifest->n_layers;
	const struct idx_layer **idx = NULL;
	unsigned *nos = NULL;
	uint64_t dir;
	char name[32];
	int r, tree;

	r = fs_image_open_all(m->img, &idx, &nos);
	if (r < 0)
		return r;
	tree = fs_mount_add_tree(m, idx, nos, n, 0);
	r = tree;
	if (r < 0)
		goto out_free;
	if (!o->layers) {
		m->kind = FS_VIEW_IMAGE;
		r = fs_view_set_root_tree(m->view, (unsigned)tree);
		goto out_free;
	}
	m->kind = FS_VIEW_LAYERS;
	r = fs_view_attach_tree(m->view, FS_VIEW_ROOT_INO, "merged", (unsigned)tree);
	if (r == 0)
		r = fs_view_add_dir(m->view, FS_VIEW_ROOT_INO, "layers", &dir);
	for (size_t i = 0; r == 0 && i < n; i++) {
		tree = fs_mount_add_tree(m, &idx[i], &nos[i], 1, IDX_TREE_KEEP_WHITEOUTS);
		r = tree < 0 ? tree : 0;
		fs_mount_layer_name(name, sizeof(name), i, m->img->manifest->layers[i].digest);
		if (r == 0)
			r = fs_view_attach_tree(m->view, dir, name, (unsigned)tree);
	}
out_free:
	free(idx);
	free(nos);
	return r < 0 ? r : 0;
}

static int open_image(const struct fs_mount_opts *o, struct fs_image **out)
{
	struct fs_image_opts io = {
		.ref = o->ref,
		.platform = o->platform,
		.reg = o->reg,
		.store = o->store,
		.unpinned = o->unpinned,
		.open_threads = o->open_threads,
	};

	return fs_image_open(&io, out);
}

/*
 * Record what this mount's readers read, and replay what the build that
 * made the image read (the profile its manifest pins) or the profile file
 * the user named: both only steer background fetches, a failure is logged
 * and the mount goes on.
 */
static void start_profile(struct fs_mount *m, const struct fs_mount_opts *o)
{
	const char *mode = o->profile ? o->profile : "profile";
	bool pinned = strcmp(mode, "profile") == 0 || strcmp(mode, "all") == 0;
	char *text = NULL;
	size_t len = 0;
	int r;

	if (fs_store_record_start(m->img->store) < 0)
		log_warn("cannot record the access profile (out of memory)");
	if (strcmp(mode, "none") == 0)
		return;
	r = pinned ? fs_image_profile_pinned(m->img, &text, &len) :
		     fs_profile_read_file(mode, &text, &len);
	if (r < 0 && !pinned)
		log_warn("cannot read the access profile '%s': %s; no profile prefetch", mode,
			 strerror(-r));
	if (r == 0)
		fs_store_profile_replay(m->img->store, text, len, pinned ? "pinned" : "file");
	free(text);
}

int fs_mount_open(const struct fs_mount_opts *o, struct fs_mount **out)
{
	struct fs_mount *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return -ENOMEM;
	m->started = time(NULL);
	m->mono_started_ns = monotonic_ns();
	r = open_image(o, &m->img);
	if (r < 0)
		goto out_free_mount;
	r = fs_view_new(m->started, &m->view);
	if (r < 0)
		goto out_free_mount;
	if (fs_image_is_buildkit(m->img)) {
		m->kind = FS_VIEW_BUILDKIT;
		r = fs_mount_build_buildkit(m);
	} else {
		r = build_image(m, o);
	}
	if (r < 0)
		goto out_free_mount;
	start_profile(m, o);
	if (o->store.prefetch_all)
		fs_store_prefetch_start(m->img->store);
	m->open_ms = (double)(monotonic_ns() - m->mono_started_ns) / 1e6;
	*out = m;
	return 0;

out_free_mount:
	fs_mount_free(m);
	return r;
}

void fs_mount_free(struct fs_mount *m)
{
	if (!m)
		return;
	fs_view_free(m->view);
	fs_image_free(m->img);
	free(m);
}
char *fs_mount_stats_json(struct fs_mount *m, size_t *len)
{
	json_t *j = fs_image_stats_json(m->img, fs_view_kind_name(m->kind));
	json_t *mount = json_object_get(j, "mount");
	double up = (double)(monotonic_ns() - m->mono_started_ns) / 1e9;
	const char *cache = fs_store_cache_dir(m->img->store);

	if (json_object_update_new(mount, json_pack("{s:I, s:I, s:f, s:f}", "layers",
						    (json_int_t)m->img->n_layers, "inodes",
						    (json_int_t)fs_view_inode_count(m->view), "mount_ms",
						    fs_stats_round(m->open_ms, 1), "uptime_s",
						    fs_stats_round(up, 1))) < 0) {
		json_decref(j);
		return NULL;
	}
	/* where its indexes are, so `strata commit --base MNT` finds them */
	if (cache && json_object_set_new(mount, "cache", json_string(cache)) < 0) {
		json_decref(j);
		return NULL;
	}
	return fs_stats_json_dump(j, STATS_MAX, len);
}
