/* SPDX-License-Identifier: MIT */
/*
 * The buffer a FUSE thread reads file data into before its reply. Each
 * thread keeps its own: a fresh malloc of a read's size (128 KiB to 1 MiB,
 * past glibc's mmap threshold) was mapped, faulted in page by page and
 * unmapped again on every read, which cost about as much CPU as the copy
 * itself on a large sequential read (perf). Freed when the thread ends.
 */
#ifndef FS_LL_BUF_H
#define FS_LL_BUF_H

#include <stddef.h>

/* At least @size bytes, valid until this thread's next call; NULL: out of memory. */
char *fs_ll_read_buf(size_t size);

#endif
