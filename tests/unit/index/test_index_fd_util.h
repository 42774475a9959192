/* SPDX-License-Identifier: MIT */
/*
 * A layer file as index/ reads it, for the test tools that work on files
 * (test_index_tar_dump, test_index_zchunked_check): the fd behind @p
 * (an int *) as an idx_stream_fn and as an idx_reader's read_at.
 */
#ifndef TEST_INDEX_FD_UTIL_H
#define TEST_INDEX_FD_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <sys/types.h>
#include <unistd.h>

static inline ssize_t fd_stream_read(void *p, void *buf, size_t n)
{
	ssize_t r = read(*(int *)p, buf, n);

	return r < 0 ? -errno : r;
}

static inline ssize_t fd_read_at(void *p, void *buf, size_t n, uint64_t off)
{
	ssize_t r = pread(*(int *)p, buf, n, (off_t)off);

	return r < 0 ? -errno : r;
}

#endif
