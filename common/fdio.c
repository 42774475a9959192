/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/dbuf.h"
#include "common/fdio.h"

int fd_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int fd_read_all(int fd, void *buf, size_t n)
{
	char *p = buf;

	while (n > 0) {
		ssize_t r = read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EIO;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int fd_read_dbuf(int fd, struct dbuf *b)
{
	char chunk[4096];
	int r = 0;

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			r = -errno;
		if (n <= 0)
			break;
		r = dbuf_add(b, chunk, (size_t)n);
		if (r < 0)
			break;
	}
	explicit_bzero(chunk, sizeof(chunk)); /* it may have held a password */
	return r;
}

int file_read_dbuf(const char *path, struct dbuf *b)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = fd_read_dbuf(fd, b);
	close(fd);
	return r;
}

int dir_open_at(int dirfd, const char *name, int oflags, bool create)
{
	int fd;

	oflags |= O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	fd = openat(dirfd, name, oflags);
	if (fd < 0 && errno == ENOENT && create) {
		if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
			return -errno;
		fd = openat(dirfd, name, oflags);
	}
	return fd < 0 ? -errno : fd;
}
