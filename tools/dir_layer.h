/* SPDX-License-Identifier: MIT */
/*
 * A directory tree written as one seekable layer (strata push, commit).
 *
 * The walk is deterministic: every path under the directory sorted by its
 * bytes (parents come first as prefixes), lstat only, symlinks stored and
 * never followed, hardlinks found by (st_dev, st_ino), sockets skipped.
 * Files that change while they are read fail the build (-EAGAIN): a layer
 * never holds a torn file.
 *
 * With .overlay_upper the directory is an overlayfs upper dir: 0/0
 * character devices (and, on kernels that make them, xattr whiteouts)
 * become OCI whiteouts, directories marked opaque get an opaque marker,
 * and overlayfs's own xattrs are dropped. Upper dirs that only overlayfs
 * can read correctly (redirect_dir, metacopy) are refused.
 */
#ifndef TOOLS_DIR_LAYER_H
#define TOOLS_DIR_LAYER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "index/index.h"

struct dir_layer_opts {
	const char *dir;
	struct idx_writer_opts wo;
	bool overlay_upper;
	bool userxattr;      /* the overlay was mounted with userxattr (user.overlay.*) */
};

/*
 * Write the layer of o->dir into a new unlinked temporary file: *fd (the
 * caller closes it) and its index *out. Errors are reported on stderr.
 */
int dir_layer_build(const struct dir_layer_opts *o, int *fd, struct idx_layer **out);

/* An unlinked read-write temporary file in $TMPDIR (or /tmp), or -errno. */
int tmp_file(void);
/* write(2) all of @buf to the fd *@ctx: an idx_sink_fn. */
int sink_fd(void *ctx, const void *buf, size_t n);
/* "a/b" ("" joins to nothing); NULL on ENOMEM. */
char *path_join(const char *a, const char *b);

/* ---- dir_walk.c: the sorted list of paths under a directory ---- */

struct dir_item {
	char *path;      /* relative to the root, byte-exact; "" is the root itself */
	struct stat st;
};

struct dir_walk {
	const char *root;
	struct dir_item *v;
	size_t n, cap;
};

int dir_walk(struct dir_walk *w, const char *root);
void dir_walk_release(struct dir_walk *w);

#endif
