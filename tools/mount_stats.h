/* SPDX-License-Identifier: MIT */
/* Reading what a stratafs mount publishes about itself (tools/mount_stats.c). */
#ifndef TOOLS_MOUNT_STATS_H
#define TOOLS_MOUNT_STATS_H

#include <stddef.h>

/*
 * The stats JSON of the mount rooted at @mnt; the caller frees *out.
 * -ENODATA / -ENOTSUP when @mnt is not the root of a stratafs mount.
 */
int mount_stats_read(const char *mnt, char **out);

/* The access profile the mount at @mnt recorded so far (fs/profile.h, text); caller frees. */
int mount_profile_read(const char *mnt, char **out, size_t *len);

/*
 * The reference the mount was made from, the manifest digest it serves
 * and its local cache dir (*cache NULL if it does not say);
 * -EMEDIUMTYPE when the mount shows another view than the image's tree
 * (-o layers, a BuildKit cache).
 */
int mount_stats_origin(const char *mnt, char **ref, char **manifest, char **cache);

#endif
