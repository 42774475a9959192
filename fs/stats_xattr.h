/* SPDX-License-Identifier: MIT */
/*
 * How a mount publishes its stats (fs/ll_xattr.c, fs/als_ll.c) and how
 * `strata stats` reads them (tools/mount_stats.c): as the extended
 * attribute FS_STATS_XATTR of the mount root, never listed (so `cp -a`,
 * `tar --xattrs` and rsync -X never copy it) and never a file.
 *
 * An xattr value is at most 64 KiB. Stats bigger than one chunk (many
 * layers) are published in pieces: FS_STATS_XATTR then holds the head
 * {"stratafs_stats_chunks":K,"size":S} and FS_STATS_XATTR ".0" .. ".K-1"
 * hold the K pieces, S bytes in all, of the snapshot taken when the head
 * was read.
 */
#ifndef FS_STATS_XATTR_H
#define FS_STATS_XATTR_H

#include <stdbool.h>
#include <stddef.h>

#define FS_STATS_XATTR "user.stratafs.stats"
/*
 * The access profile the mount recorded so far (fs/profile.h), published
 * the same way: its head, then chunks named as the stats' chunks.
 */
#define FS_PROFILE_XATTR "user.stratafs.profile"
#define FS_STATS_CHUNK_MAX 65536
/* Room for the name of any chunk attribute, NUL included. */
#define FS_STATS_NAME_MAX (sizeof(FS_STATS_XATTR) + 21)

/* The head of @size bytes of stats in chunks of @chunk bytes: a new string
 * of *len bytes (caller frees), NULL on ENOMEM. */
char *fs_stats_head(size_t size, size_t chunk, size_t *len);

/* 0 with the chunk count and total size when @value is a head; -ENOENT
 * when it is not (it is the stats JSON itself). */
int fs_stats_head_parse(const char *value, size_t *chunks, size_t *size);

/* The attribute name of chunk @no. */
void fs_stats_chunk_name(char out[FS_STATS_NAME_MAX], size_t no);

/* Which stats attribute @name is: 0 with *head set, or *head clear and
 * *no the chunk number; -ENODATA when @name is no stats attribute. */
int fs_stats_name_parse(const char *name, bool *head, size_t *no);

#endif
