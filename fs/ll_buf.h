/* SPDX-License-Identifier: MIT */
/*
 * The buffers FUSE threads read file data into before their replies. A
 * fresh malloc of a read's size (128 KiB to 1 MiB) went back to the kernel
 * at free() (the heap trimmed past 128 KiB, or unmapped at fs/main.c's
 * 1 MiB mmap threshold) and was faulted in page by page on the next read,
 * which cost about as much CPU as the copy itself on a large sequential
 * read (perf). So one is kept for the next read, process-wide, not one
 * per thread: libfuse keeps up to ten idle threads, and each would hold a
 * buffer of up to 1 MiB for nothing.
 */
#ifndef FS_LL_BUF_H
#define FS_LL_BUF_H

#include <stddef.h>
#include <sys/types.h>

struct fuse_req;
struct fs_rvec;

/* At least @size bytes until fs_ll_buf_put(); NULL: out of memory. */
char *fs_ll_buf_get(size_t size);
/* Give back what fs_ll_buf_get() returned (NULL: nothing). */
void fs_ll_buf_put(char *buf);
/*
 * Answer a READ that read @r bytes (or -errno) into @buf or, where @v has
 * pieces, in place (fs_store_read_vec()); then release @v and give @buf back.
 */
void fs_ll_reply_read(struct fuse_req *req, ssize_t r, char *buf, struct fs_rvec *v);

#endif
