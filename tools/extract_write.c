/* SPDX-License-Identifier: MIT */
/*
 * The file system side of `strata extract`: create names relative to
 * directory fds, never following a symlink (see extract_write.h), then set
 * what the tar says, in the order that keeps it: owner (a chown clears
 * set-id bits and security.capability), xattrs, mode, times last. As non-root, like
 * `umoci unpack --rootless` and GNU tar, files are owned by the caller,
 * devices are not made and only user.* xattrs can be set; and, like GNU
 * tar, set-id bits are dropped: an image's setuid file would otherwise run
 * as the caller for whoever can reach DEST.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/log.h"
#include "tools/extract_write.h"

#define DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

bool xw_name_ok(const char *name)
{
	return name[0] && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 && !strchr(name, '/');
}

/* Remove whatever is at @name in @dir (not following it); an empty dir too. */
static int clear(int dir, const char *name)
{
	struct stat st;

	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (unlinkat(dir, name, S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0) < 0)
		return -errno;
	return 0;
}

int xw_dir(int dir, const char *name, int *fd)
{
	int r;

	if (!xw_name_ok(name))
		return -EINVAL;
	if (mkdirat(dir, name, 0700) < 0 && errno != EEXIST)
		return -errno;
	r = openat(dir, name, DIR_FLAGS);
	if (r < 0 && (errno == ELOOP || errno == ENOTDIR)) {
		/* a symlink or a file is there: replace it by a real directory */
		r = clear(dir, name);
		if (r < 0)
			return r;
		if (mkdirat(dir, name, 0700) < 0)
			return -errno;
		r = openat(dir, name, DIR_FLAGS);
	}
	if (r < 0)
		return -errno;
	/*
	 * A directory already in DEST may belong to someone who could swap
	 * its entries while we write (a name made a symlink between our
	 * create and our chmod): as root, make it ours and private until its
	 * own attributes are set at the end (xw_finish_fd()).
	 */
	if (geteuid() == 0 && (fchown(r, 0, 0) < 0 || fchmod(r, 0700) < 0)) {
		int e = -errno;

		close(r);
		return e;
	}
	*fd = r;
	return 0;
}

int xw_file(int dir, const char *name, int *fd)
{
	int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, r;

	if (!xw_name_ok(name))
		return -EINVAL;
	r = openat(dir, name, flags, 0600);
	if (r < 0 && errno == EEXIST) {
		r = clear(dir, name);
		if (r < 0)
			return r;
		r = openat(dir, name, flags, 0600);
	}
	if (r < 0)
		return -errno;
	*fd = r;
	return 0;
}

static int make_special(struct xw *w, int dir, const char *name, uint8_t type,
			const struct idx_entry *e)
{
	switch (type) {
	case IDX_T_SYMLINK:
		return symlinkat(e->link ? e->link : "", dir, name) < 0 ? -errno : 0;
	case IDX_T_FIFO:
		return mknodat(dir, name, S_IFIFO | 0600, 0) < 0 ? -errno : 0;
	case IDX_T_CHR:
	case IDX_T_BLK:
		if (!w->as_root) {
			w->skipped_devs++;
			return 1;
		}
		return mknodat(dir, name, (type == IDX_T_CHR ? S_IFCHR : S_IFBLK) | 0600,
			       makedev(e->dev_major, e->dev_minor)) < 0 ? -errno : 0;
	default:
		return -EINVAL;
	}
}

int xw_special(struct xw *w, int dir, const char *name, uint8_t type, const struct idx_entry *e)
{
	int r;

	if (!xw_name_ok(name))
		return -EINVAL;
	r = clear(dir, name);
	return r < 0 ? r : make_special(w, dir, name, type, e);
}

/* Open the directory holding the last component of @path (relative to the root). */
static int open_parent(int root, const char *path, const char **base)
{
	const char *p = path, *slash;
	int fd = dup(root), next, r;
	char comp[256];

	if (fd < 0)
		return -errno;
	while ((slash = strchr(p, '/'))) {
		size_t len = (size_t)(slash - p);

		if (len == 0 || len >= sizeof(comp)) {
			close(fd);
			return -EINVAL;
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		next = xw_name_ok(comp) ? openat(fd, comp, DIR_FLAGS) : -1;
		r = next < 0 && xw_name_ok(comp) ? -errno : -EINVAL;
		close(fd);
		if (next < 0)
			return r;
		fd = next;
		p = slash + 1;
	}
	*base = p;
	return fd;
}

int xw_hardlink(struct xw *w, const char *target, int dir, const char *name)
{
	const char *base;
	int from, r;

	if (!xw_name_ok(name))
		return -EINVAL;
	from = open_parent(w->root_fd, target, &base);
	if (from < 0)
		return from;
	r = clear(dir, name);
	if (r == 0 && linkat(from, base, dir, name, 0) < 0)
		r = -errno;
	close(from);
	return r;
}

static bool xattr_allowed(const struct xw *w, const char *name)
{
	return w->as_root || strncmp(name, "user.", 5) == 0;
}

static void set_xattrs(struct xw *w, int fd, const struct idx_entry *e)
{
	for (uint32_t i = 0; i < e->n_xattrs; i++) {
		const struct idx_xattr *x = &e->xattrs[i];

		if (!xattr_allowed(w, x->name) ||
		    fsetxattr(fd, x->name, x->value, x->len, 0) < 0) {
			w->skipped_xattrs++;
			log_debug("xattr '%s' of '%s' not set", x->name, e->path);
		}
	}
}

static void times_of(const struct idx_entry *e, struct timespec ts[2])
{
	ts[0].tv_sec = (time_t)e->mtime_sec;
	ts[0].tv_nsec = e->mtime_nsec;
	ts[1] = ts[0];
}

/* The mode to set: the tar's, without set-id bits unless we are root. */
static mode_t mode_of(const struct xw *w, const struct idx_entry *e)
{
	mode_t m = e->mode & 07777;

	return w->as_root ? m : m & ~(mode_t)(S_ISUID | S_ISGID);
}

int xw_finish_fd(struct xw *w, int fd, const struct idx_entry *e)
{
	struct timespec ts[2];

	/* owner first: a chown clears security.capability (and set-id bits) */
	if (w->as_root && fchown(fd, e->uid, e->gid) < 0)
		return -errno;
	set_xattrs(w, fd, e);
	if (fchmod(fd, mode_of(w, e)) < 0)
		return -errno;
	times_of(e, ts);
	return futimens(fd, ts) < 0 ? -errno : 0;
}

int xw_finish_at(struct xw *w, int dir, const char *name, uint8_t type, const struct idx_entry *e)
{
	struct timespec ts[2];

	if (w->as_root && fchownat(dir, name, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	/* a symlink's mode means nothing on Linux; never follow one swapped in for our name */
	if (type != IDX_T_SYMLINK && fchmodat(dir, name, mode_of(w, e), AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	times_of(e, ts);
	return utimensat(dir, name, ts, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}
