/* SPDX-License-Identifier: MIT */
/*
 * Files: open and read. Content is immutable, so the kernel may keep its
 * page cache across opens (keep_cache) and close needs no flush. A read is
 * served by the store (span cache, else one ranged fetch, verified); any
 * failure there is EIO to the reader, bounded by -o io_timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <fuse_lowlevel.h>

#include "common/clock.h"
#include "common/log.h"
#include "fs/ll_buf.h"
#include "fs/ll_int.h"

void fs_ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	struct fs_vnode n;
	int r;

	if (d->no_open) {
		/* the kernel opens on its own from now on (fs/ll.c ll_init) */
		fuse_reply_err(req, ENOSYS);
		return;
	}
	r = fs_view_get(d->mount->view, ino, &n);
	if (r == 0 && (fi->flags & O_ACCMODE) != O_RDONLY)
		r = -EROFS;
	if (r == 0 && (fi->flags & O_TRUNC))
		r = -EROFS;
	if (r == 0 && n.kind == FS_VK_SDIR)
		r = -EISDIR;
	if (r == 0 && n.kind == FS_VK_TREE && n.node->type == IDX_T_DIR)
		r = -EISDIR;
	fi->fh = 0;
	fi->keep_cache = 1;
	fi->noflush = 1;
	fi->direct_io = 0;
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		fuse_reply_open(req, fi);
}

/* True while a recent read of @ino failed (see FS_FAIL_MEMO_MS). */
static bool failed_recently(struct fs_daemon *d, uint64_t ino)
{
	int64_t now = (int64_t)monotonic_ms();
	struct fs_fail_slot *slot = &d->fail[ino % FS_FAIL_SLOTS];
	bool hit;

	if (atomic_load_explicit(&d->fail_until_ms, memory_order_relaxed) < now)
		return false;
	pthread_mutex_lock(&d->fail_lock);
	hit = slot->ino == ino && slot->until_ms >= now;
	pthread_mutex_unlock(&d->fail_lock);
	return hit;
}

static void note_failure(struct fs_daemon *d, uint64_t ino)
{
	int64_t until = (int64_t)monotonic_ms() + FS_FAIL_MEMO_MS;
	struct fs_fail_slot *slot = &d->fail[ino % FS_FAIL_SLOTS];

	pthread_mutex_lock(&d->fail_lock);
	slot->ino = ino;
	slot->until_ms = until;
	if (atomic_load_explicit(&d->fail_until_ms, memory_order_relaxed) < until)
		atomic_store_explicit(&d->fail_until_ms, until, memory_order_relaxed);
	pthread_mutex_unlock(&d->fail_lock);
}

/* Read into @buf, or in place as @v says (fs_store_read_vec()); the count or -errno. */
static ssize_t read_node(struct fs_daemon *d, const struct fs_vnode *n, char *buf, size_t size,
			 uint64_t off, struct fs_rvec *v)
{
	uint64_t fsize;
	int64_t t0;
	ssize_t r;

	if (n->kind == FS_VK_SFILE) {
		if (off >= n->len)
			return 0;
		size = size < n->len - off ? size : (size_t)(n->len - off);
		memcpy(buf, (const char *)n->data + off, size);
		return (ssize_t)size;
	}
	if (n->kind != FS_VK_TREE || n->node->type == IDX_T_DIR)
		return -EISDIR;
	fsize = n->node->size;
	if (n->node->type != IDX_T_REG || off >= fsize)
		return 0;
	if (size > fsize - off)
		size = (size_t)(fsize - off);
	if (failed_recently(d, n->ino))
		return -EIO;
	t0 = (int64_t)monotonic_ms();
	r = fs_store_read_vec(d->mount->img->store, n->layer_no, n->node->entry, buf, size, off,
			      v);
	if (r < 0) {
		/* only slow failures: a fast one (registry refusing) costs the retry nothing */
		if (r != -ENOMEM && (int64_t)monotonic_ms() - t0 >= FS_FAIL_SLOW_MS)
			note_failure(d, n->ino);
		log_warn("read of '%s' (inode %llu) at %llu failed: %s", n->name,
			 (unsigned long long)n->ino, (unsigned long long)off, strerror((int)-r));
		return r == -ENOMEM ? r : -EIO;
	}
	return r;
}

void fs_ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	struct fs_rvec v = { .n = 0 };
	struct fs_vnode n;
	char *buf = NULL;
	ssize_t r;

	r = fs_view_get(d->mount->view, ino, &n);
	if (r == 0 && off < 0)
		r = -EINVAL;
	if (r == 0) {
		buf = fs_ll_buf_get(size ? size : 1);
		r = buf ? read_node(d, &n, buf, size, (uint64_t)off, &v) : -ENOMEM;
	}
	fs_ll_reply_read(req, r, buf, &v);
}

void fs_ll_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}
