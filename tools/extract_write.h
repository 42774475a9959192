/* SPDX-License-Identifier: MIT */
/*
 * Writing a tree under a destination directory without ever following a
 * symlink (tools/extract_write.c): every name is created relative to the
 * fd of its parent directory, which was itself opened with O_NOFOLLOW, so
 * a symlink planted by the image ("a -> /etc", then "a/x") can never
 * route a write outside the destination, as umoci and containerd ensure.
 *
 * One struct xw per extraction; its functions are thread-safe except for
 * the counters, which one thread updates.
 */
#ifndef TOOLS_EXTRACT_WRITE_H
#define TOOLS_EXTRACT_WRITE_H

#include <stdbool.h>
#include <stdint.h>

#include "index/index.h"

struct xw {
	int root_fd;         /* DEST, opened O_DIRECTORY */
	bool as_root;        /* euid 0: owners, devices, trusted.* and security.* xattrs */
	uint64_t skipped_devs;    /* devices not made (not root) */
	uint64_t skipped_xattrs;  /* xattrs refused (not root, or the fs) */
};

/* A valid single path component: not "", ".", ".." and without '/'. */
bool xw_name_ok(const char *name);

/*
 * Directory @name in @dir: created (0700 until xw_finish_fd() sets its
 * mode), or reused if a real directory is there; anything else there is
 * removed first. *fd is the directory, O_NOFOLLOW. -errno.
 */
int xw_dir(int dir, const char *name, int *fd);
/* A new regular file @name in @dir (what was there removed), open for writing. */
int xw_file(int dir, const char *name, int *fd);
/* Symlink, fifo or device @name in @dir with @e's target or type (what was there removed). */
int xw_special(struct xw *w, int dir, const char *name, uint8_t type, const struct idx_entry *e);
/*
 * Hardlink @name in @dir to @target, a path relative to the root whose
 * components are walked without following symlinks. -errno.
 */
int xw_hardlink(struct xw *w, const char *target, int dir, const char *name);
/* Owner (root only), xattrs, mode, then times of the open file or dir @fd. */
int xw_finish_fd(struct xw *w, int fd, const struct idx_entry *e);
/* The same for a non-dir @name in @dir that is not open (symlink, fifo, device). */
int xw_finish_at(struct xw *w, int dir, const char *name, uint8_t type, const struct idx_entry *e);

#endif
