/* SPDX-License-Identifier: MIT */
/*
 * The buffer a FUSE thread reads file data into before its reply. Each
 * thread keeps its own: a fresh malloc of a read's size (128 KiB to 1 MiB)
 * went back to the kernel at free() (the heap trimmed past 128 KiB, or
 * unmapped at fs/main.c's 1 MiB mmap threshold) and was faulted in page
 * by page on the next read, which cost about as much CPU as the copy
 * itself on a large sequential read (perf). Freed when the thread ends.
 */
#ifndef FS_LL_BUF_H
#define FS_LL_BUF_H

#include <stddef.h>

/* At least @size bytes, valid until this thread's next call; NULL: out of memory. */
char *fs_ll_read_buf(size_t size);

#endif
