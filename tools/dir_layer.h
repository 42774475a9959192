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

struct dir_lower;

struct dir_layer_opts {
	const char *dir;
	struct idx_writer_opts wo;
	bool overlay_upper;
	bool userxattr;      /* the overlay was mounted with userxattr (user.overlay.*) */
	/* the overlay's lower dir (a --base mount): copy-ups equal to it are left out; may be NULL */
	struct dir_lower *lower;
};

/*
 * Write the layer of o->dir into a new unlinked temporary file: *fd (the
 * caller closes it) and its index *out. Errors are reported on stderr.
 */
int dir_layer_build(const struct dir_layer_opts *o, int *fd, struct idx_layer **out);

/* Does an image keep this xattr (user.*, trusted.*, security.capability)? */
bool dir_keep_xattr(const char *name);

/* ---- dir_same.c: copy-ups that changed nothing ---- */

struct dir_item;

struct dir_lower {
	int fd;                /* O_PATH of the lower root */
	char **opaque;         /* opaque dirs of the upper dir seen so far */
	size_t n_opaque;
	bool too_many_opaque;  /* compare nothing */
	uint64_t files, bytes; /* left out */
};

int dir_lower_open(const char *path, struct dir_lower *lw);
void dir_lower_close(struct dir_lower *lw);
/* The upper dir's @path is opaque: nothing under it is compared with the lower tree. */
void dir_lower_opaque(struct dir_lower *lw, const char *path);
/*
 * Is the upper regular file @it (at @full, its kept xattrs @x) a copy-up
 * of the lower file at its path with nothing changed but its timestamps?
 * Counted in lw->files and lw->bytes when it is. Any doubt says no.
 */
bool dir_lower_same(struct dir_lower *lw, const struct dir_item *it, const char *full,
		    const struct idx_xattr *x, uint32_t n_xattrs);

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
