/* SPDX-License-Identifier: MIT */
/*
 * Pushing one new layer as an image (strata push, strata commit): the
 * layer on top of a base's layers (or alone), its image config with
 * diff_ids and history, the OCI image manifest, and the stratafs index
 * artifact holding an index for every layer but the small ones a commit
 * leaves to the mount (IMAGE_UNINDEXED_MAX). The manifest pins each
 * layer's index (REG_ANNOT_STRATAFS_INDEX on the layer descriptor): a base
 * layer's only when the base pinned it too or this host built it.
 *
 * Objects go up in dependency order and the image manifest LAST, so a
 * failed push never leaves the tag naming missing blobs. Blobs the target
 * repository already has are not uploaded (HEAD), blobs of another
 * repository of the same registry are mounted, anything else is copied.
 */
#ifndef TOOLS_IMAGE_PUSH_H
#define TOOLS_IMAGE_PUSH_H

#include <stdbool.h>
#include <stdio.h>

#include "fs/store.h"
#include "index/index.h"
#include "registry/registry.h"
#include "tools/cli_opts.h"
#include "tools/progress.h"

struct json_t; /* jansson's, kept out of headers */

/*
 * strata commit gives a layer blob of at most this many bytes no index
 * (unless --index-all): a mount fetches such a blob whole in one request,
 * indexes it from those verified bytes and caches its spans from them
 * (fs/layer_open.c, "built here"; fs_index_build_keep()): one fetch of the
 * blob, where an index would cost its own fetch and then the blob's. The
 * index (KBs for a few hundred small files) was a third of what a small
 * commit uploaded.
 */
#define IMAGE_UNINDEXED_MAX FS_KEEP_BLOB_MAX

struct image_push {
	struct cli_opts *o;          /* borrowed: registry options, platform, -q */
	const char *created_by;      /* the history entry: "strata push", ... */
	uint64_t span_size;          /* of indexes built here for base layers */
	struct reg_ref ref;          /* the target */
	struct reg_pusher *p;
	/* the base, if any */
	char *base_ref;              /* as resolved: a mount's base is pinned by digest */
	char *mount_cache;           /* the --base mount's cache dir, or NULL */
	bool mount_base;             /* the base is a stratafs mount (its tree is the lower dir) */
	struct reg_ref bref;
	struct reg_client *bc;
	struct reg_manifest *bm;
	struct reg_manifest *bpin;   /* the index artifact a pinning index pins for the base, or NULL */
	struct json_t *bconfig;
	bool squashed;               /* the new layer replaces the base's layers */
	bool skip_small_index;       /* commit: no index for layers <= IMAGE_UNINDEXED_MAX */
	/* the new layer: set by the caller before image_upload() */
	int layer_fd;
	struct idx_layer *layer;
	struct idx_info info;
	char *profile;               /* the access profile to pin on the new layer, or NULL */
	size_t profile_len;
	/* results */
	char config_digest[DIGEST_STR_LEN], manifest_digest[DIGEST_STR_LEN];
	char artifact_digest[DIGEST_STR_LEN];
	char profile_digest[DIGEST_STR_LEN]; /* "" when no profile was pushed */
	uint64_t unchanged_files, unchanged_bytes; /* copy-ups left out (strata commit) */
	enum reg_upload_how layer_how;
	struct reg_index_blob *iblobs;
	size_t n_iblobs, cap_iblobs;
	struct progress prog;
};

void image_push_init(struct image_push *ip, struct cli_opts *o, const char *created_by);
void image_push_release(struct image_push *ip);

/*
 * The base: a reference, or a directory where a stratafs mount serves one
 * (then exactly the manifest it serves, pinned by digest, even if the tag
 * moved since). Resolved for o->platform; its config and index artifact
 * are read. Errors are reported.
 */
int image_open_base(struct image_push *ip, const char *base);

/* Whether layer blob of @size bytes goes without an index (ip->skip_small_index). */
bool image_small_unindexed(const struct image_push *ip, uint64_t size);

/* Upload everything for the layer in ip->layer_fd / ip->layer; the tag moves last. */
int image_upload(struct image_push *ip);

/* The result for people, or as JSON. */
void image_print_result(const struct image_push *ip, FILE *f, bool json);

/*
 * Base layer @i as a local file: *fd (unlinked, the caller closes it) holds
 * the verified blob, *l its index, built from the file (blob digest and the
 * base config's diff_id checked: a squash reads every byte through it).
 */
int image_base_layer_local(struct image_push *ip, size_t i, int *fd, struct idx_layer **l);

/*
 * commit_profile.c: the access profile to push with the layer: @spec
 * ("none", or a file), else the one the --base mount @base recorded (a
 * mount that cannot give one: logged, none). Validated; -errno only for a
 * bad file the user named.
 */
int image_profile_load(struct image_push *ip, const char *spec, const char *base);

/* squash.c: the merged tree of the base's layers with @top over them, as one layer. */
int image_squash(struct image_push *ip, const struct idx_writer_opts *wo, int top_fd,
		 const struct idx_layer *top, int *fd, struct idx_layer **out);

#endif
