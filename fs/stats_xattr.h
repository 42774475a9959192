/* SPDX-License-Identifier: MIT */
/*
 * How a mount publishes its stats (fs/ll_xattr.c, fs/als_ll.c) and how
 * `strata stats` reads them (tools/mount_stats.c): as the extended
 * attribute FS_STATS_XATTR of the mount root, never listed (so `cp -a`,
 * `tar --xattrs` and rsync -X never copy it) and never a file.
 *
 * An xattr value is at most 64 KiB. Stats bigger than one chunk (many
 * layers) are published in pieces: FS_STATS_XATTR then holds the head
 * {"stratafs_stats_chunks":K,"size":S,"snapshot":N} and FS_STATS_XATTR
 * ".N.0" .. ".N.K-1" hold the K pieces, S bytes in all, of snapshot N,
 * taken when that head was read. A read of a head takes a new snapshot
 * unless the value equals the newest of its kind; the daemon keeps the last
 * FS_STATS_SNAPSHOTS of the stats and of the profile apart, so readers at
 * once (two `strata stats`, a commit reading the profile) never mix each
 * other's pieces; a reader whose snapshot is gone gets ENODATA and starts
 * again. Snapshot 0 is a peer from before snapshots: its head has no
 * "snapshot" and its chunks are FS_STATS_XATTR ".K", of the newest
 * snapshot, so a strata and a running daemon of different versions still
 * read each other.
 */
#ifndef FS_STATS_XATTR_H
#define FS_STATS_XATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FS_STATS_XATTR "user.stratafs.stats"
/*
 * The access profile the mount recorded so far (fs/profile.h), published
 * the same way: its head, then chunks named as the stats' chunks.
 */
#define FS_PROFILE_XATTR "user.stratafs.profile"
#define FS_STATS_CHUNK_MAX 65536
#define FS_STATS_SNAPSHOTS 8
/* Room for the name of any chunk attribute, NUL included. */
#define FS_STATS_NAME_MAX (sizeof(FS_STATS_XATTR) + 42)

/* The head of snapshot @snap, @size bytes in chunks of @chunk bytes: a new
 * string of *len bytes (caller frees), NULL on ENOMEM. */
char *fs_stats_head(size_t size, size_t chunk, uint64_t snap, size_t *len);

/* 0 with the chunk count, total size and snapshot when @value is a head;
 * -ENOENT when it is not (it is the stats JSON itself). */
int fs_stats_head_parse(const char *value, size_t *chunks, size_t *size, uint64_t *snap);

/* The attribute name of chunk @no of snapshot @snap (0: the names before snapshots). */
void fs_stats_chunk_name(char out[FS_STATS_NAME_MAX], uint64_t snap, size_t no);

/* Which stats attribute @name is: 0 with *head set, or *head clear and
 * *snap, *no the chunk's; -ENODATA when @name is no stats attribute. */
int fs_stats_name_parse(const char *name, bool *head, uint64_t *snap, size_t *no);

#endif
