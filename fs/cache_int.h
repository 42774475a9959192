/* SPDX-License-Identifier: MIT */
/* fs/ internal: what cache.c shares with cache_prune.c. */
#ifndef FS_CACHE_INT_H
#define FS_CACHE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "fs/cache.h"

#define FS_CACHE_PATH_MAX 4096
#define FS_CACHE_MAX_FILES (4u << 20) /* ceiling of one directory scan */
#define FS_CACHE_BUILT_DIR "built"     /* FS_CACHE_INDEX_BUILT files */
#define FS_CACHE_IBLOB_DIR "iblob"     /* FS_CACHE_INDEX_BLOB files */
#define FS_CACHE_TOC_DIR "toc"         /* FS_CACHE_INDEX_TOC files */
#define FS_CACHE_LEGACY_INDEX_DIR "index" /* no longer read: counted and pruned */

/* "sha256:<hex>" -> "<hex>" (borrowed); -EINVAL for anything else. */
int fs_cache_blob_hex(const char *blob_digest, const char **hex);
/* snprintf into a FS_CACHE_PATH_MAX buffer; -ENAMETOOLONG when it does not fit. */
int fs_cache_path_fmt(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The subdirs of v1/ a handle holds open, checked (see fs/cache.h). */
enum fs_cache_sub {
	FS_CACHE_SUB_BUILT,
	FS_CACHE_SUB_IBLOB,
	FS_CACHE_SUB_SPANS,
	FS_CACHE_SUB_TMP,
	FS_CACHE_SUB_TOC,
	FS_CACHE_SUB_LEGACY, /* -1 when there is none */
	FS_CACHE_SUB_N,
};
/* The fd of v1/<@sub>; valid until fs_cache_close(). Never follow a symlink from it. */
int fs_cache_fd(const struct fs_cache *c, enum fs_cache_sub sub);
/*
 * Is a file or dir of the cache ours: our euid's, writable by nobody else?
 * What another user could have written is never used (fs/cache.h, "Trust").
 */
bool fs_cache_st_ours(const struct stat *st);
/*
 * Open the directory @name of @dirfd (O_PATH, for *at() calls; O_NOFOLLOW:
 * a symlink is refused), creating it 0700 if @create: an fd or -errno;
 * -EPERM if it is not ours (fs_cache_st_ours()).
 */
int fs_cache_subdir_open(int dirfd, const char *name, bool create);
/* unlinkat @rel ("name" or "sub/name") of @dirfd without following a symlinked sub. */
int fs_cache_unlinkat(int dirfd, const char *rel);
/*
 * The write transaction: a new tmp file in v1/tmp (O_EXCL) -> write @body
 * (its aligned head directly when @direct and @body is aligned,
 * fs/cache_dio.h) then
 * @tail -> rename to @name in @dirfd, or in its subdir @sub (NULL: none;
 * created 0700, and again if a concurrent prune removed it); then account
 * the bytes and maybe evict.
 */
int fs_cache_write_tx(struct fs_cache *c, int dirfd, const char *sub, const char *name,
		      const void *body, size_t len, const void *tail, size_t tail_len, bool direct);
/* Log the first write failure of this handle (ENOSPC ...), quietly count the rest. */
void fs_cache_note_write_error(struct fs_cache *c, const char *what, int r);
/* Replace the size estimate after a full scan. */
void fs_cache_set_used(struct fs_cache *c, uint64_t used);

#endif
