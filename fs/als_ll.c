/* SPDX-License-Identifier: MIT */
/*
 * FUSE low-level operations of the Additional Layer Store (stratafs
 * --store): lookups resolve images on demand (fs/als.c), everything else
 * is read-only. The store is mounted read-write, because the kernel
 * answers every write to a read-only mount with EROFS itself, and the
 * runtime's two signals must reach us: creating "use" in a layer dir and
 * rmdir of a layer dir. Both get ENOENT (as stargz-store answers them), so
 * the runtime sees a store that counts references; every other write is
 * EROFS. Layers stay while the daemon runs, so nothing is released.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>

#include <fuse_lowlevel.h>

#include "fs/als_ll.h"
#include "fs/ll_buf.h"
#include "fs/stats_xattr.h"


static struct fs_als_daemon *daemon_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void fill_entry(struct fs_als_daemon *d, const struct fs_als_node *n,
		       struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = n->ino;
	e->generation = 1;
	e->attr_timeout = d->timeout;
	e->entry_timeout = d->timeout;
	fs_als_stat(d->als, n, &e->attr);
}

static void als_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_als_daemon *d = daemon_of(req);
	struct fuse_entry_param e;
	struct fs_als_node dir, n;
	int r;

	r = fs_als_get(d->als, parent, &dir);
	if (r == 0 && strcmp(name, ".") == 0)
		n = dir;
	else if (r == 0 && strcmp(name, "..") == 0)
		r = fs_als_parent(d->als, &dir, &n);
	else if (r == 0)
		r = fs_als_lookup(d->als, &dir, name, &n);
	if (r == 0)
		fill_entry(d, &n, &e);
	if (r < 0)
		fuse_reply_err(req, -r); /* ENOENT not cached: an image may appear later */
	else
		fuse_reply_entry(req, &e);
}

static void als_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fuse_reply_none(req);
}

static void als_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	fuse_reply_none(req);
}

static void als_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_als_daemon *d = daemon_of(req);
	struct fs_als_node n;
	struct stat st;
	int r;

	r = fs_als_get(d->als, ino, &n);
	if (r == 0)
		fs_als_stat(d->als, &n, &st);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, d->timeout);
}

static void als_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_als_daemon *d = daemon_of(req);
	struct fs_als_node n;
	int r;

	r = fs_als_get(d->als, ino, &n);
	if (r == 0 && (n.kind != FS_ALS_TREE || n.node->type != IDX_T_SYMLINK))
		r = -EINVAL;
	if (r == 0 && (!n.entry || !n.entry->link))
		r = -EIO;
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_readlink(req, n.entry->link);
}

static void als_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_namemax = 255;
	sv.f_flag = ST_NOSUID | ST_NODEV;
	fuse_reply_statfs(req, &sv);
}

/* ---- the runtime's signals, and every other write --------------------- */

static bool is_layer_dir(struct fs_als_daemon *d, fuse_ino_t ino)
{
	struct fs_als_node n;

	return fs_als_get(d->als, ino, &n) == 0 && n.kind == FS_ALS_LAYER;
}

static void als_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		       struct fuse_file_info *fi)
{
	struct fs_als_daemon *d = daemon_of(req);

	/* "use": the runtime starts using the layer */
	fuse_reply_err(req, is_layer_dir(d, parent) && strcmp(name, "use") == 0 ? ENOENT : EROFS);
}

static void als_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		      dev_t rdev)
{
	struct fs_als_daemon *d = daemon_of(req);

	fuse_reply_err(req, is_layer_dir(d, parent) && strcmp(name, "use") == 0 ? ENOENT : EROFS);
}

static void als_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_als_daemon *d = daemon_of(req);
	struct fs_als_node dir, n;
	bool release;

	/* rmdir of a layer dir (MNT/<ref>/<D>, or MNT/<D> without :ref): the runtime releases it; it stays */
	release = fs_als_get(d->als, parent, &dir) == 0 &&
		  (dir.kind == FS_ALS_IMAGE || dir.kind == FS_ALS_ROOT) &&
		  fs_als_lookup(d->als, &dir, name, &n) == 0 && n.kind == FS_ALS_LAYER;
	fuse_reply_err(req, release ? ENOENT : EROFS);
}

static void als_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	fuse_reply_err(req, EROFS);
}

static void als_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EROFS);
}

static void als_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EROFS);
}

static void als_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, EROFS);
}

static void als_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		       const char *newname, unsigned int flags)
{
	fuse_reply_err(req, EROFS);
}

static void als_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			struct fuse_file_info *fi)
{
	fuse_reply_err(req, EROFS);
}

static void als_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			 size_t size, int flags)
{
	fuse_reply_err(req, EROFS);
}

static void als_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fuse_reply_err(req, EROFS);
}

/* ---- files ------------------------------------------------------------ */

static void als_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_als_daemon *d = daemon_of(req);
	struct fs_als_node n;
	int r;

	r = fs_als_get(d->als, ino, &n);
	if (r == 0 && ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)))
		r = -EROFS;
	if (r == 0 && (n.kind < FS_ALS_INFO || (n.kind == FS_ALS_TREE && n.node->type == IDX_T_DIR)))
		r = -EISDIR;
	fi->keep_cache = 1;
	fi->noflush = 1;
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_open(req, fi);
}

static void als_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct fs_als_daemon *d = daemon_of(req);
	struct fs_rvec v = { .n = 0 };
	struct fs_als_node n;
	char *buf = NULL;
	ssize_t r;

	r = fs_als_get(d->als, ino, &n);
	if (r == 0 && off < 0)
		r = -EINVAL;
	if (r == 0) {
		buf = fs_ll_buf_get(size ? size : 1);
		r = buf ? fs_als_read(d->als, &n, buf, size, (uint64_t)off, &v) : -ENOMEM;
	}
	fs_ll_reply_read(req, r, buf, &v);
}

static void als_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

/* ---- directories ------------------------------------------------------ */

static void als_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_als_daemon *d = daemon_of(req);
	struct fs_als_node n;
	int r;

	r = fs_als_get(d->als, ino, &n);
	if (r == 0 && (n.kind == FS_ALS_INFO || n.kind == FS_ALS_BLOB ||
		       (n.kind == FS_ALS_TREE && n.node->type != IDX_T_DIR)))
		r = -ENOTDIR;
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_open(req, fi);
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct fs_als_daemon *d = daemon_of(req);
	struct fs_als_node dir, n;
	struct fuse_entry_param e;
	char *buf = NULL;
	size_t used = 0;
	int r;

	r = fs_als_get(d->als, ino, &dir);
	buf = r == 0 ? malloc(size) : NULL;
	if (r == 0 && !buf)
		r = -ENOMEM;
	for (uint32_t pos = (uint32_t)(off < 0 ? 0 : off); r == 0; pos++) {
		const char *name;
		size_t len;
		int c = fs_als_child(d->als, &dir, pos, &n, &name);

		if (c == 1)
			continue;
		if (c < 0)
			break; /* -ENOENT: the end; other errors end the listing here */
		fill_entry(d, &n, &e);
		if (plus)
			len = fuse_add_direntry_plus(req, buf + used, size - used, name, &e,
						     (off_t)pos + 1);
		else
			len = fuse_add_direntry(req, buf + used, size - used, name, &e.attr,
						(off_t)pos + 1);
		if (len > size - used)
			break;
		used += len;
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_buf(req, buf, used);
	free(buf);
}

static void als_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, false);
}

static void als_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			    struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, true);
}

static void als_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

/* ---- extended attributes ---------------------------------------------- */

static int stats_value(struct fs_als_daemon *d, char **out, size_t *len)
{
	*out = fs_als_stats_json(d->als, len);
	return *out ? 0 : -ENOMEM;
}

static void reply_value(fuse_req_t req, const void *v, size_t len, size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, v, len);
}

static void als_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct fs_als_daemon *d = daemon_of(req);
	struct fs_als_node n;
	const char *xn;
	const void *v = NULL;
	char *stats = NULL;
	size_t len = 0;
	int r;

	r = fs_als_get(d->als, ino, &n);
	if (r == 0 && n.kind == FS_ALS_ROOT && strcmp(name, FS_STATS_XATTR) == 0) {
		r = stats_value(d, &stats, &len);
		v = stats;
	} else if (r == 0) {
		r = -ENODATA;
		for (uint32_t i = 0; fs_als_xattr(d->als, &n, i, &xn, &v, &len) == 0; i++) {
			if (strcmp(xn, name) == 0) {
				r = 0;
				break;
			}
		}
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_value(req, v, len, size);
	free(stats);
}

static void als_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fs_als_daemon *d = daemon_of(req);
	struct fs_als_node n;
	const char *xn;
	const void *v;
	char *buf = NULL;
	size_t len, total = 0;
	int r;

	r = fs_als_get(d->als, ino, &n);
	for (uint32_t i = 0; r == 0 && fs_als_xattr(d->als, &n, i, &xn, &v, &len) == 0; i++)
		total += strlen(xn) + 1;
	buf = r == 0 ? malloc(total + 1) : NULL;
	if (r == 0 && !buf)
		r = -ENOMEM;
	total = 0;
	for (uint32_t i = 0; r == 0 && fs_als_xattr(d->als, &n, i, &xn, &v, &len) == 0; i++) {
		memcpy(buf + total, xn, strlen(xn) + 1);
		total += strlen(xn) + 1;
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_value(req, buf, total, size);
	free(buf);
}

static void als_init(void *userdata, struct fuse_conn_info *conn)
{
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	conn->time_gran = 1;
}

static const struct fuse_lowlevel_ops als_ops = {
	.init = als_init,
	.lookup = als_lookup,
	.forget = als_forget,
	.forget_multi = als_forget_multi,
	.getattr = als_getattr,
	.setattr = als_setattr,
	.readlink = als_readlink,
	.mknod = als_mknod,
	.mkdir = als_mkdir,
	.unlink = als_unlink,
	.rmdir = als_rmdir,
	.symlink = als_symlink,
	.rename = als_rename,
	.link = als_link,
	.open = als_open,
	.read = als_read,
	.release = als_release,
	.opendir = als_opendir,
	.readdir = als_readdir,
	.readdirplus = als_readdirplus,
	.releasedir = als_releasedir,
	.statfs = als_statfs,
	.setxattr = als_setxattr,
	.getxattr = als_getxattr,
	.listxattr = als_listxattr,
	.removexattr = als_removexattr,
	.create = als_create,
};

const struct fuse_lowlevel_ops *fs_als_ll_ops(void)
{
	return &als_ops;
}
