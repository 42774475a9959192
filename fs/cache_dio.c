/* SPDX-License-Identifier: MIT */
/* Span payloads written around the page cache (cache_dio.h). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "fs/cache.h"
#include "fs/cache_dio.h"

bool fs_cache_dio_note(struct fs_cache_dio *d, uint64_t bytes, uint64_t ns)
{
	uint64_t b = atomic_fetch_add(&d->win_bytes, bytes) + bytes;
	uint64_t t = atomic_fetch_add(&d->win_ns, ns) + ns;

	if (b < FS_CACHE_DIO_WINDOW)
		return false;
	/* the thread that closes the window judges it; the others start the next */
	atomic_store(&d->win_bytes, 0);
	atomic_store(&d->win_ns, 0);
	if (t == 0 || b * 1000u / t >= FS_CACHE_DIO_MIN_MBPS)
		return false;
	return !atomic_exchange(&d->off, true);
}

/* Direct writes off for good on this handle; say why once. */
static void turn_off(struct fs_cache_dio *d, const char *why)
{
	if (!atomic_exchange(&d->off, true))
		log_info("span cache: writing through the page cache (%s)", why);
}

size_t fs_cache_dio_write(struct fs_cache_dio *d, int fd, const void *buf, size_t len, int *err)
{
	size_t head = len & ~(size_t)(FS_CACHE_DIO_ALIGN - 1), done = 0;
	const char *p = buf;
	uint64_t t0;
	int fl;

	*err = 0;
	if (atomic_load(&d->off) || head == 0 || ((uintptr_t)buf & (FS_CACHE_DIO_ALIGN - 1)))
		return 0;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_DIRECT) < 0) {
		turn_off(d, "the cache's filesystem refuses O_DIRECT");
		return 0;
	}
	t0 = monotonic_ns();
	while (done < head) {
		ssize_t w = write(fd, p + done, head - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EINVAL || errno == EOPNOTSUPP)) {
			turn_off(d, "the cache's filesystem refuses these direct writes");
			break;
		}
		if (w < 0) {
			*err = -errno;
			break;
		}
		if (w == 0) {
			*err = -EIO;
			break;
		}
		done += (size_t)w;
		if (done & (FS_CACHE_DIO_ALIGN - 1))
			break; /* a short write off a block boundary: the rest goes buffered */
	}
	if (done && fs_cache_dio_note(d, done, monotonic_ns() - t0))
		log_info("span cache: writing through the page cache (the disk wrote direct "
			 "writes at under %u MB/s)", FS_CACHE_DIO_MIN_MBPS);
	if (fcntl(fd, F_SETFL, fl) < 0 && *err == 0)
		*err = -errno;
	return done;
}
