/* SPDX-License-Identifier: MIT */
/* fs/ internal: what cache.c shares with cache_prune.c. */
#ifndef FS_CACHE_INT_H
#define FS_CACHE_INT_H

#include <stdint.h>

#include "fs/cache.h"

#define FS_CACHE_PATH_MAX 4096
#define FS_CACHE_MAX_FILES (4u << 20) /* ceiling of one directory scan */

/* <dir>/v1; valid until fs_cache_close(). */
const char *fs_cache_v1(const struct fs_cache *c);
/* Replace the size estimate after a full scan. */
void fs_cache_set_used(struct fs_cache *c, uint64_t used);
/* Prune to the low watermark unless another thread of this handle is at it. */
void fs_cache_evict(struct fs_cache *c);

#endif
