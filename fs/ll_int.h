/* SPDX-License-Identifier: MIT */
/*
 * fs/ internal: the FUSE low-level handlers, split by concept (ll.c: init,
 * lookup, attributes, statfs; ll_dir.c: directories; ll_file.c: open and
 * read; ll_xattr.c: extended attributes and the stats attribute). This
 * header names FUSE types only by forward declaration, so it carries no
 * FUSE include; each ll*.c includes <fuse_lowlevel.h> itself.
 *
 * Every handler replies exactly once, at the end of its single exit path.
 * The daemon state is fuse_req_userdata(): a struct fs_daemon, immutable
 * while the session runs except for the stats snapshot (its own lock).
 */
#ifndef FS_LL_INT_H
#define FS_LL_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fs/mount_int.h"
#include "fs/stats_xattr.h"

struct fuse_req;
struct fuse_file_info;
struct fuse_lowlevel_ops;
struct fuse_entry_param;

/*
 * After a read of an inode failed slowly (>= FS_FAIL_SLOW_MS: a timeout),
 * further reads of it fail at once for FS_FAIL_MEMO_MS: the kernel retries
 * a failed readahead with a synchronous read, which would otherwise wait
 * out io_timeout a second time in one read(2).
 */
#define FS_FAIL_MEMO_MS 500
#define FS_FAIL_SLOW_MS 1000
#define FS_FAIL_SLOTS 64

struct fs_fail_slot {
	uint64_t ino;
	int64_t until_ms;
};

struct fs_daemon {
	struct fs_mount *mount;
	double timeout;        /* entry and attribute timeout, seconds: the tree never changes */
	size_t stats_chunk;    /* <= FS_STATS_CHUNK_MAX */
	pthread_mutex_t stats_lock;
	/*
	 * The last snapshots of chunked stats (the first FS_STATS_SNAPSHOTS)
	 * and of profiles (the others) (fs/stats_xattr.h), by stats_lock:
	 * apart, so that readers of the one never push out a snapshot a reader
	 * of the other is reading.
	 */
	struct fs_stats_snap {
		uint64_t id; /* 0: none */
		char *buf;
		size_t len;
	} snaps[2 * FS_STATS_SNAPSHOTS];
	uint64_t snap_last;    /* the last id given, by stats_lock */
	uint64_t snap_made[2]; /* snapshots made of each kind, by stats_lock */
	_Atomic int64_t fail_until_ms; /* no slot is live after this (fast path) */
	pthread_mutex_t fail_lock;
	struct fs_fail_slot fail[FS_FAIL_SLOTS]; /* protected by fail_lock */
	/*
	 * The kernel opens files / directories without asking us (set once at
	 * init, read-only afterwards): open() and opendir() answer ENOSYS.
	 */
	bool no_open, no_opendir;
};

/* The operations table handed to fuse_session_new(). */
const struct fuse_lowlevel_ops *fs_ll_ops(void);

/* Fill @e for @n (entry timeouts, attributes). */
void fs_ll_fill_entry(const struct fs_daemon *d, const struct fs_vnode *n,
		      struct fuse_entry_param *e);

void fs_ll_opendir(struct fuse_req *req, uint64_t ino, struct fuse_file_info *fi);
void fs_ll_readdir(struct fuse_req *req, uint64_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi);
void fs_ll_readdirplus(struct fuse_req *req, uint64_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi);
void fs_ll_releasedir(struct fuse_req *req, uint64_t ino, struct fuse_file_info *fi);

void fs_ll_open(struct fuse_req *req, uint64_t ino, struct fuse_file_info *fi);
void fs_ll_read(struct fuse_req *req, uint64_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void fs_ll_release(struct fuse_req *req, uint64_t ino, struct fuse_file_info *fi);

void fs_ll_getxattr(struct fuse_req *req, uint64_t ino, const char *name, size_t size);
void fs_ll_listxattr(struct fuse_req *req, uint64_t ino, size_t size);

#endif
