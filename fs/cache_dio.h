/* SPDX-License-Identifier: MIT */
/*
 * fs/ internal: span payloads written to the cache around the page cache
 * (O_DIRECT), while the disk keeps up.
 *
 * Which: the spans nobody is about to read from their file, the ones a
 * single-frame zstd pass only goes through on its way to what a reader
 * wants (fs_cache_span_put_sha()'s @unread). A span fetched ahead of its
 * reader (readahead, prefetch, bulk) is not kept in memory: its reader
 * preads the file soon, and finds it in the page cache only if it was
 * written through it (direct, every such read went to the disk).
 *
 * Why: a passed-through span may never be read, and a pass can go through
 * gigabytes; a buffered write costs a CPU copy into the page cache (on a
 * single-frame zstd read, with two cores busy, about a tenth of the CPU of
 * the whole read, perf) and fills it with bytes nobody asked for. A direct
 * write hands the span buffer to the disk instead.
 *
 * When not: a direct write waits for the disk, and the span's memory is
 * held until it is written, so a disk slower than the network would pace
 * the data path; buffered writes let the page cache absorb the burst. So
 * a handle measures its direct writes, FS_CACHE_DIO_WINDOW bytes at a time
 * (write time summed over its threads: concurrent writes count as slower,
 * never faster), and turns them off for good once a window ran under
 * FS_CACHE_DIO_MIN_MBPS. A filesystem that refuses O_DIRECT (EINVAL)
 * turns them off too. Either way the bytes are written, buffered.
 *
 * Only the block-aligned head of a buffer that starts on a block boundary
 * goes direct (FS_CACHE_DIO_ALIGN, which covers devices of 512-byte and
 * 4 KiB sectors); the rest follows through the page cache.
 */
#ifndef FS_CACHE_DIO_H
#define FS_CACHE_DIO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FS_CACHE_DIO_WINDOW (32u << 20) /* bytes per speed verdict */
#define FS_CACHE_DIO_MIN_MBPS 400u     /* slower: buffered writes from then on */

struct fs_cache_dio {
	atomic_bool off;              /* unsupported here, or the disk was too slow */
	_Atomic uint64_t win_bytes;   /* direct bytes written in the current window */
	_Atomic uint64_t win_ns;      /* their write time, summed over threads */
};

/*
 * Write the aligned head of @buf (@len bytes) to @fd, a new file at offset
 * 0, with O_DIRECT; the caller writes the rest, buffered, at the file's
 * offset. Returns how many bytes were written that way (0: none, direct
 * writes off or @buf unaligned); *err is 0 or the -errno of a failed
 * write (ENOSPC ...), which the caller reports as its own.
 */
size_t fs_cache_dio_write(struct fs_cache_dio *d, int fd, const void *buf, size_t len, int *err);
/*
 * Count @bytes written directly in @ns; true when that closed a window
 * slower than FS_CACHE_DIO_MIN_MBPS and turned direct writes off.
 */
bool fs_cache_dio_note(struct fs_cache_dio *d, uint64_t bytes, uint64_t ns);

#endif
