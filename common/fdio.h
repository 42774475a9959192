/* SPDX-License-Identifier: MIT */
/* Whole reads and writes on a file descriptor. */
#ifndef COMMON_FDIO_H
#define COMMON_FDIO_H

#include <stdbool.h>
#include <stddef.h>

struct dbuf;

/* write(2) all @n bytes of @buf to @fd, retrying on EINTR and short writes; 0 or -errno. */
int fd_write_all(int fd, const void *buf, size_t n);
/* read(2) exactly @n bytes into @buf, retrying on EINTR; 0, -EIO at end of file, or -errno. */
int fd_read_all(int fd, void *buf, size_t n);

/*
 * Append everything @fd reads until end of file to @b, retrying on EINTR;
 * -EFBIG past @b's ceiling (the size limit), -ENOMEM, or read(2)'s -errno.
 * On error @b holds what was read so far: wipe it if it may be a secret.
 */
int fd_read_dbuf(int fd, struct dbuf *b);

/* The same for the file at @path (opened O_CLOEXEC, following symlinks). */
int file_read_dbuf(const char *path, struct dbuf *b);

/*
 * Open the directory @name of @dirfd with @oflags (O_DIRECTORY|O_NOFOLLOW
 * are added), creating it with mode 0700 first when it is missing and
 * @create is set. The fd or -errno (-ELOOP or -ENOTDIR: not a directory).
 */
int dir_open_at(int dirfd, const char *name, int oflags, bool create);

#endif
