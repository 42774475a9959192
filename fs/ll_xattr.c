/* SPDX-License-Identifier: MIT */
/*
 * Extended attributes, from the layer entry (the tar's PAX SCHILY.xattr
 * records). getxattr/listxattr follow the size-probing protocol: size 0
 * asks for the length, a non-zero size smaller than the value is ERANGE.
 *
 * The mount root also answers FS_STATS_XATTR with the stats JSON, which is
 * how `strata stats` reads a mount (fs/stats_xattr.h has the protocol).
 * FS_PROFILE_XATTR, the access profile recorded so far (fs/profile.h), is
 * served the same way (its chunks are FS_STATS_XATTR.N.K, N its snapshot).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fuse_lowlevel.h>

#include "fs/ll_int.h"
#include "fs/profile.h"

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

static char *profile_text(struct fs_mount *m, size_t *len)
{
	return fs_store_profile_text(m->img->store, len);
}

enum { SNAP_STATS, SNAP_PROFILE };

/*
 * Snapshots held at once, in bytes: a profile can be 8 MiB, and 16 of them
 * would be memory outside mem_max that any reader of an allow_other mount
 * could make the daemon hold.
 */
#define SNAP_BYTES_MAX (16u << 20)

/* Drop the oldest snapshots but @keep until they hold at most SNAP_BYTES_MAX (stats_lock held). */
static void snaps_trim(struct fs_daemon *d, uint64_t keep)
{
	for (;;) {
		struct fs_stats_snap *old = NULL;
		size_t total = 0;

		for (size_t i = 0; i < 2 * FS_STATS_SNAPSHOTS; i++) {
			struct fs_stats_snap *s = &d->snaps[i];

			total += s->len;
			if (s->id && s->id != keep && (!old || s->id < old->id))
				old = s;
		}
		if (total <= SNAP_BYTES_MAX || !old)
			return;
		free(old->buf);
		memset(old, 0, sizeof(*old));
	}
}

/*
 * The head: the whole value when it fits, else its snapshot's chunk count
 * and id. A value equal to the newest snapshot of its kind is that
 * snapshot (the profile of an idle mount, read again and again); else a
 * new one pushes out the oldest of its kind.
 */
static int stats_head(struct fs_daemon *d, int kind, char *(*make)(struct fs_mount *, size_t *),
		      char **out, size_t *len)
{
	struct fs_stats_snap *slot, *ring = &d->snaps[kind * FS_STATS_SNAPSHOTS];
	size_t slen = 0;
	char *snap = make(d->mount, &slen);
	uint64_t id;

	if (!snap)
		return -ENOMEM;
	if (slen <= d->stats_chunk) {
		*out = snap;
		*len = slen;
		return 0;
	}
	pthread_mutex_lock(&d->stats_lock);
	slot = d->snap_made[kind] ? &ring[(d->snap_made[kind] - 1) % FS_STATS_SNAPSHOTS] : NULL;
	if (slot && slot->len == slen && memcmp(slot->buf, snap, slen) == 0) {
		id = slot->id;
		free(snap);
	} else {
		id = ++d->snap_last;
		slot = &ring[d->snap_made[kind]++ % FS_STATS_SNAPSHOTS];
		free(slot->buf);
		slot->id = id;
		slot->buf = snap;
		slot->len = slen;
		snaps_trim(d, id);
	}
	pthread_mutex_unlock(&d->stats_lock);
	*out = fs_stats_head(slen, d->stats_chunk, id, len);
	return *out ? 0 : -ENOMEM;
}

/* Chunk @no of snapshot @id; -ENODATA past its end or when it is gone. */
static int stats_chunk(struct fs_daemon *d, uint64_t id, size_t no, char **out, size_t *len)
{
	const struct fs_stats_snap *s = NULL;
	int r = 0;
	size_t off;

	pthread_mutex_lock(&d->stats_lock);
	if (id == 0)
		id = d->snap_last; /* a strata before snapshots: the newest */
	for (size_t i = 0; !s && id && i < 2 * FS_STATS_SNAPSHOTS; i++)
		if (d->snaps[i].id == id)
			s = &d->snaps[i];
	if (!s || no > s->len / d->stats_chunk ||
	    no * d->stats_chunk >= s->len) {
		r = -ENODATA;
		goto out_unlock;
	}
	off = no * d->stats_chunk;
	*len = s->len - off < d->stats_chunk ? s->len - off : d->stats_chunk;
	*out = malloc(*len);
	if (!*out)
		r = -ENOMEM;
	else
		memcpy(*out, s->buf + off, *len);
out_unlock:
	pthread_mutex_unlock(&d->stats_lock);
	return r;
}

/* The stats attribute @name of the root into *out (caller frees); -ENODATA if not one. */
static int stats_value(struct fs_daemon *d, const char *name, char **out, size_t *len)
{
	uint64_t snap = 0;
	size_t no = 0;
	bool head;
	int r;

	if (strcmp(name, FS_PROFILE_XATTR) == 0)
		return stats_head(d, SNAP_PROFILE, profile_text, out, len);
	r = fs_stats_name_parse(name, &head, &snap, &no);
	if (r < 0)
		return r;
	return head ? stats_head(d, SNAP_STATS, fs_mount_stats_json, out, len)
		    : stats_chunk(d, snap, no, out, len);
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
	if (r == 0)
		r = ino == FS_VIEW_ROOT_INO ? stats_value(d, name, &stats, &len) : -ENODATA;
	if (r == -ENODATA && !stats) {
		x = n.kind == FS_VK_TREE ? find_xattr(n.entry, name) : NULL;
		r = x ? 0 : -ENODATA;
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
