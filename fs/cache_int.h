/* SPDX-License-Identifier: MIT */
/* fs/ internal: what cache.c shares with cache_prune.c. */
#ifndef FS_CACHE_INT_H
#define FS_CACHE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "fs/cache.h"

#define FS_CACHE_PATH_MAX 4096
#define FS_CACHE_MAX_FILES (4u << 20) /* ceiling of one directory scan */
#define FS_CACHE_BUILT_DIR "built"     /* FS_CACHE_INDEX_BUILT files */
#define FS_CACHE_IBLOB_DIR "iblob"     /* FS_CACHE_INDEX_BLOB files */
#define FS_CACHE_LEGACY_INDEX_DIR "index" /* no longer read: counted and pruned */

/* "sha256:<hex>" -> "<hex>" (borrowed); -EINVAL for anything else. */
int fs_cache_blob_hex(const char *blob_digest, const char **hex);
/* snprintf into a FS_CACHE_PATH_MAX buffer; -ENAMETOOLONG when it does not fit. */
int fs_cache_path_fmt(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * The write transaction: tmp file in v1/tmp -> write @hdr then @body ->
 * rename to @final (recreating @final_dir, when given, if a concurrent
 * prune removed it); then account the bytes and maybe evict.
 */
int fs_cache_write_tx(struct fs_cache *c, const char *final, const char *final_dir,
		      const void *hdr, size_t hdr_len, const void *body, size_t len);
/* Log the first write failure of this handle (ENOSPC ...), quietly count the rest. */
void fs_cache_note_write_error(struct fs_cache *c, const char *what, int r);
/* <dir>/v1; valid until fs_cache_close(). */
const char *fs_cache_v1(const struct fs_cache *c);
/* Replace the size estimate after a full scan. */
void fs_cache_set_used(struct fs_cache *c, uint64_t used);
/* Prune to the low watermark unless another thread of this handle is at it. */
void fs_cache_evict(struct fs_cache *c);

#endif
