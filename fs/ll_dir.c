/* SPDX-License-Identifier: MIT */
/*
 * Directories. Offsets are positions and therefore stable across calls and
 * across opens: entry p (0 ".", 1 "..", 2 + i the i-th child in the tree's
 * name order) carries the offset p + 1 of the entry after it. Nothing is
 * allocated per open; the kernel may cache the listing (cache_readdir),
 * since it never changes.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <fuse_lowlevel.h>

#include "fs/ll_int.h"

void fs_ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	struct fs_vnode n;
	struct stat st;
	int r;

	if (d->no_opendir) {
		/* the kernel opens directories on its own (fs/ll.c ll_init) */
		fuse_reply_err(req, ENOSYS);
		return;
	}
	r = fs_view_get(d->mount->view, ino, &n);
	if (r == 0) {
		fs_view_stat(d->mount->view, &n, &st);
		if (!S_ISDIR(st.st_mode))
			r = -ENOTDIR;
	}
	fi->fh = 0;
	fi->keep_cache = 1;
	fi->cache_readdir = 1;
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_open(req, fi);
}

/*
 * The entry at position @pos of @dir: ".", "..", then the children.
 * -ENOENT past the end. A child that is a lazy tree not merged yet is not
 * resolved (that would merge it): *lazy_ino is set instead, 0 otherwise.
 */
static int entry_at(const struct fs_view *v, const struct fs_vnode *dir, uint64_t pos,
		    struct fs_vnode *out, const char **name, uint64_t *lazy_ino)
{
	uint64_t ino;
	int r;

	*lazy_ino = 0;
	if (pos >= 2 && dir->kind == FS_VK_SDIR) {
		r = fs_view_sdir_child(v, dir, (uint32_t)(pos - 2), &ino, name);
		if (r == 0 && fs_view_is_lazy(v, ino)) {
			*lazy_ino = ino;
			return 0;
		}
		return r < 0 ? r : fs_view_get(v, ino, out);
	}

	if (pos == 0) {
		*out = *dir;
		*name = ".";
		return 0;
	}
	if (pos == 1) {
		r = fs_view_get(v, dir->parent, out);
		*name = "..";
		return r;
	}
	if (pos - 2 >= fs_view_dir_size(v, dir))
		return -ENOENT;
	r = fs_view_child(v, dir, (uint32_t)(pos - 2), out);
	*name = out->name;
	return r;
}

/* Fill @buf (@size bytes) from offset @off; the byte count or -errno. */
static ssize_t fill(fuse_req_t req, uint64_t ino, char *buf, size_t size, off_t off, bool plus)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	struct fs_vnode dir, n;
	struct fuse_entry_param e;
	const char *name;
	size_t used = 0, len;
	uint64_t lazy;
	int r;

	r = fs_view_get(d->mount->view, ino, &dir);
	if (r < 0)
		return r;
	for (uint64_t pos = off < 0 ? 0 : (uint64_t)off;; pos++) {
		r = entry_at(d->mount->view, &dir, pos, &n, &name, &lazy);
		if (r == -ENOENT)
			break;
		if (r < 0)
			return r;
		if (lazy) {
			/* name and type only; nodeid 0: the kernel looks it up when used */
			memset(&e, 0, sizeof(e));
			e.attr.st_ino = lazy;
			e.attr.st_mode = S_IFDIR;
		} else {
			fs_ll_fill_entry(d, &n, &e);
		}
		if (plus)
			len = fuse_add_direntry_plus(req, buf + used, size - used, name, &e,
						     (off_t)(pos + 1));
		else
			len = fuse_add_direntry(req, buf + used, size - used, name, &e.attr,
						(off_t)(pos + 1));
		if (len > size - used)
			break;
		used += len;
	}
	return (ssize_t)used;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	char *buf = malloc(size ? size : 1);
	ssize_t r = -ENOMEM;

	if (buf)
		r = fill(req, ino, buf, size, off, plus);
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else
		fuse_reply_buf(req, buf, (size_t)r);
	free(buf);
}

void fs_ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, false);
}

void fs_ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, true);
}

void fs_ll_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}
