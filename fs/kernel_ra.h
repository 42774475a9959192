/* SPDX-License-Identifier: MIT */
/*
 * The kernel's readahead on a mount (its backing device's read_ahead_kb).
 *
 * Every FUSE mount starts at 128 KiB, and FUSE's INIT can only lower it,
 * so a sequential reader of a large file reaches the daemon as 128 KiB
 * READ requests, each a round trip through it (lookup of the span, a
 * cache read, a reply). The requests may be as large as max_pages (256
 * pages, 1 MiB, with libfuse 3.14) once the readahead allows it, which
 * only sysfs can: /sys/class/bdi/MAJ:MIN/read_ahead_kb, root only. It
 * changes how far ahead the kernel asks, not what a reader sees: the
 * kernel's window grows from a few times the read size only while the
 * reads stay sequential, so random small reads ask for no more than
 * before. The default, 512 KiB, cuts a large file's READs by four; 1 MiB
 * cut them by seven but kept more of the daemon's read buffers in flight
 * (its peak RSS on a single-frame zstd read grew by up to 7 MiB more, with
 * mem_max 13 MiB; fs_zstd_stream bounds it).
 */
#ifndef FS_KERNEL_RA_H
#define FS_KERNEL_RA_H

#include <stdint.h>
#include <stdio.h>

#define FS_KERNEL_RA_DEFAULT (512u << 10)
#define FS_KERNEL_RA_MAX (64u << 20)

/*
 * The device ("MAJ:MIN") of the newest FUSE mount on @mountpoint in
 * @mountinfo (/proc/self/mountinfo's format; mount points octal-escaped
 * there, given plain here), into @dev (@len bytes): 0, or -ENOENT when no
 * line names one, or its device is not MAJ:MIN or does not fit.
 */
int fs_kernel_ra_dev(FILE *mountinfo, const char *mountpoint, char *dev, size_t len);

/*
 * Set the readahead of the FUSE mount on @mountpoint (a canonical path, as
 * /proc/self/mountinfo shows it; its newest mount there) to @bytes. 0 or
 * -errno (-ENOENT: no such FUSE mount; -EACCES: not root). The kernel
 * lowers the value again when it takes the reply to FUSE's INIT: call it
 * after that (fs/main.c does, before it reports the mount ready).
 */
int fs_kernel_ra_set(const char *mountpoint, uint64_t bytes);

#endif
