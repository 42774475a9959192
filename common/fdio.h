/* SPDX-License-Identifier: MIT */
/* Whole reads and writes on a file descriptor. */
#ifndef COMMON_FDIO_H
#define COMMON_FDIO_H

#include <stddef.h>

/* write(2) all @n bytes of @buf to @fd, retrying on EINTR and short writes; 0 or -errno. */
int fd_write_all(int fd, const void *buf, size_t n);
/* read(2) exactly @n bytes into @buf, retrying on EINTR; 0, -EIO at end of file, or -errno. */
int fd_read_all(int fd, void *buf, size_t n);

#endif
