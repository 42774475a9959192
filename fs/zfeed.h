/* SPDX-License-Identifier: MIT */
/*
 * fs/ internal: the compressed bytes of a forward pass (fs/zfeed.c),
 * one long ranged GET of a layer blob from an offset, one chunk at a time,
 * never past a limit the pass raises. Counted in the layer's
 * bytes_fetched and fetches (one per GET).
 */
#ifndef FS_ZFEED_H
#define FS_ZFEED_H

#include "fs/store_int.h"

#define FS_ZFEED_SLOTS 4 /* chunk buffers between the GET and the decoder */

struct fs_zfeed;

/* Start reading @l's blob at @off, in Range reads of up to @chunk bytes (FS_ZFEED_SLOTS buffers). */
int fs_zfeed_open(struct fs_store *s, struct fs_layer *l, uint64_t off, size_t chunk,
		  struct fs_zfeed **out);
/* Allow reading up to @c_end (exclusive; clamped to the blob size). */
void fs_zfeed_limit(struct fs_zfeed *f, uint64_t c_end);
/*
 * An idx_zfeed_fn: the next chunk (valid until the next call), len 0 at the
 * end of the blob; -EBADMSG when asked for bytes past the limit (the
 * index's c_end was short), the fetch's -errno when it failed.
 */
int fs_zfeed_next(void *ctx, const uint8_t **buf, size_t *len);
void fs_zfeed_close(struct fs_zfeed *f);

#endif
