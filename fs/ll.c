/* SPDX-License-Identifier: MIT */
/*
 * FUSE low-level operations: the table, init, lookup, forget, getattr,
 * readlink, statfs. Metadata comes from the in-memory view and never from
 * the network. The tree is immutable, so entries and attributes get long
 * timeouts, negative lookups are cached too, and inodes live as long as
 * the mount (forget has nothing to release).
 */
#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>

#include <fuse_lowlevel.h>

#include "common/log.h"
#include "fs/ll_int.h"

static struct fs_daemon *daemon_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

void fs_ll_fill_entry(const struct fs_daemon *d, const struct fs_vnode *n,
		      struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = n->ino;
	e->generation = 1;
	e->attr_timeout = d->timeout;
	e->entry_timeout = d->timeout;
	fs_view_stat(d->mount->view, n, &e->attr);
}

static void ll_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs_daemon *d = userdata;

	/* content is immutable: let the kernel read ahead and cache freely */
	if (conn->capable & FUSE_CAP_ASYNC_READ)
		conn->want |= FUSE_CAP_ASYNC_READ;
	if (conn->capable & FUSE_CAP_EXPORT_SUPPORT)
		conn->want |= FUSE_CAP_EXPORT_SUPPORT;
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	/*
	 * Always readdirplus (not _AUTO): attributes cost nothing here, and
	 * `find`/`ls -l` then need no LOOKUP per entry.
	 */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	/*
	 * Zero-message opens: a warm `cat` of a small file otherwise costs an
	 * OPEN and a RELEASE round trip for bytes the page cache already
	 * holds. Nothing is lost: the mount is read-only, so the kernel refuses
	 * writing opens itself; the tree never changes, so its default for such
	 * opens (keep_cache, and cache_dir for directories) is what open()
	 * would answer; and a file handle carries no state here (fh = 0).
	 */
	if (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT) {
		conn->want |= FUSE_CAP_NO_OPEN_SUPPORT;
		d->no_open = true;
	}
	if (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) {
		conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
		d->no_opendir = true;
	}
	conn->time_gran = 1;
	log_debug("fuse init: protocol %u.%u, max_readahead %u, max_read %u, no_open %d",
		  conn->proto_major, conn->proto_minor, conn->max_readahead, conn->max_read,
		  d->no_open);
}

static void ll_destroy(void *userdata)
{
	log_info("unmounted");
}

static void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs_daemon *d = daemon_of(req);
	struct fuse_entry_param e;
	struct fs_vnode n;
	int r;

	if (strcmp(name, ".") == 0) {
		r = fs_view_get(d->mount->view, parent, &n);
	} else if (strcmp(name, "..") == 0) {
		r = fs_view_get(d->mount->view, parent, &n);
		if (r == 0)
			r = fs_view_get(d->mount->view, n.parent, &n);
	} else {
		r = fs_view_lookup(d->mount->view, parent, name, &n);
	}
	if (r == 0) {
		fs_ll_fill_entry(d, &n, &e);
	} else if (r == -ENOENT) {
		/* a negative entry: the kernel caches the absence */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = d->timeout;
		r = 0;
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_entry(req, &e);
}

static void ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fuse_reply_none(req);
}

static void ll_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	fuse_reply_none(req);
}

static void ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_daemon *d = daemon_of(req);
	struct fs_vnode n;
	struct stat st;
	int r;

	r = fs_view_get(d->mount->view, ino, &n);
	if (r == 0)
		fs_view_stat(d->mount->view, &n, &st);
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_attr(req, &st, d->timeout);
}

static void ll_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_daemon *d = daemon_of(req);
	struct fs_vnode n;
	int r;

	r = fs_view_get(d->mount->view, ino, &n);
	if (r == 0 && (n.kind != FS_VK_TREE || n.node->type != IDX_T_SYMLINK))
		r = -EINVAL;
	if (r == 0 && (!n.entry || !n.entry->link))
		r = -EIO;
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_readlink(req, n.entry->link);
}

static void ll_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs_daemon *d = daemon_of(req);
	struct statvfs sv;

	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_blocks = (d->mount->img->total_size + 4095) / 4096;
	sv.f_files = fs_view_inode_count(d->mount->view);
	sv.f_namemax = 255;
	sv.f_flag = ST_RDONLY | ST_NOSUID | ST_NODEV;
	fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops ops = {
	.init = ll_init,
	.destroy = ll_destroy,
	.lookup = ll_lookup,
	.forget = ll_forget,
	.forget_multi = ll_forget_multi,
	.getattr = ll_getattr,
	.readlink = ll_readlink,
	.statfs = ll_statfs,
	.opendir = fs_ll_opendir,
	.readdir = fs_ll_readdir,
	.readdirplus = fs_ll_readdirplus,
	.releasedir = fs_ll_releasedir,
	.open = fs_ll_open,
	.read = fs_ll_read,
	.release = fs_ll_release,
	.getxattr = fs_ll_getxattr,
	.listxattr = fs_ll_listxattr,
};

const struct fuse_lowlevel_ops *fs_ll_ops(void)
{
	return &ops;
}
