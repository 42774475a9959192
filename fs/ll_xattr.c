/* SPDX-License-Identifier: MIT */
/*
 * Extended attributes, from the layer entry (the tar's PAX SCHILY.xattr
 * records). getxattr/listxattr follow the size-probing protocol: size 0
 * asks for the length, a non-zero size smaller than the value is ERANGE.
 *
 * The mount root also answers FS_STATS_XATTR with the stats JSON, which is
 * how `strata stats` reads a mount. It is deliberately NOT listed by
 * listxattr, so `cp -a`, `tar --xattrs` or rsync -X never copy it, and no
 * file in the tree pollutes a build context.
 */
#define FUSE_USE_VERSION 312

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <fuse_lowlevel.h>

#include "fs/ll_int.h"

static void reply_value(fuse_req_t req, const void *value, size_t len, size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, value, len);
}

static const struct idx_xattr *find_xattr(const struct idx_entry *e, const char *name)
{
	for (uint32_t i = 0; e && i < e->n_xattrs; i++) {
		if (strcmp(e->xattrs[i].name, name) == 0)
			return &e->xattrs[i];
	}
	return NULL;
}

void fs_ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	const struct idx_xattr *x = NULL;
	struct fs_vnode n;
	char *stats = NULL;
	size_t len = 0;
	int r;

	r = fs_view_get(d->mount->view, ino, &n);
	if (r == 0 && ino == FS_VIEW_ROOT_INO && strcmp(name, FS_STATS_XATTR) == 0) {
		stats = fs_mount_stats_json(d->mount, &len);
		if (!stats)
			r = -ENOMEM;
		else if (len > 65536)
			r = -E2BIG;
	} else if (r == 0) {
		x = n.kind == FS_VK_TREE ? find_xattr(n.entry, name) : NULL;
		if (!x)
			r = -ENODATA;
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else if (stats)
		reply_value(req, stats, len, size);
	else
		reply_value(req, x->value, x->len, size);
	free(stats);
}

void fs_ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct fs_daemon *d = fuse_req_userdata(req);
	const struct idx_entry *e = NULL;
	struct fs_vnode n;
	char *list = NULL;
	size_t len = 0, pos = 0;
	int r;

	r = fs_view_get(d->mount->view, ino, &n);
	if (r == 0 && n.kind == FS_VK_TREE)
		e = n.entry;
	for (uint32_t i = 0; e && i < e->n_xattrs; i++)
		len += strlen(e->xattrs[i].name) + 1;
	if (r == 0 && len) {
		list = malloc(len);
		if (!list)
			r = -ENOMEM;
	}
	for (uint32_t i = 0; list && i < e->n_xattrs; i++) {
		size_t nl = strlen(e->xattrs[i].name) + 1;

		memcpy(list + pos, e->xattrs[i].name, nl);
		pos += nl;
	}
	if (r < 0)
		fuse_reply_err(req, -r);
	else
		reply_value(req, list ? list : "", len, size);
	free(list);
}
