/* SPDX-License-Identifier: MIT */
/*
 * What a stratafs mount says about itself. The daemon publishes its stats
 * as the extended attribute "user.stratafs.stats" of the mount root (never
 * listed, never a file), so this reads it with plain getxattr(2): no FUSE,
 * no socket.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "fs/stats_xattr.h"
#include "tools/mount_stats.h"

#define STATS_MAX (1u << 20)

/* The value of attribute @name, NUL-terminated; caller frees. */
static int read_attr(const char *mnt, const char *name, char **out, size_t *out_len)
{
	char *buf = NULL;
	ssize_t n;

	for (int tries = 0; tries < 4; tries++) {
		n = getxattr(mnt, name, NULL, 0);
		if (n < 0)
			break;
		if ((size_t)n > STATS_MAX)
			return -EFBIG;
		free(buf);
		buf = malloc((size_t)n + 1);
		if (!buf)
			return -ENOMEM;
		n = getxattr(mnt, name, buf, (size_t)n);
		if (n >= 0) {
			buf[n] = '\0';
			*out = buf;
			*out_len = (size_t)n;
			return 0;
		}
		if (errno != ERANGE)
			break; /* ERANGE: it grew between the two calls */
	}
	free(buf);
	return -errno;
}

/*
 * The value of head attribute @head_name (the stats JSON or the profile);
 * caller frees. Larger values come in chunks (fs/stats_xattr.h); -ENODATA
 * when their snapshot went (other readers took FS_STATS_SNAPSHOTS newer).
 */
static int read_snapshot(const char *mnt, const char *head_name, char **out, size_t *out_len)
{
	size_t chunks, size;
	char name[FS_STATS_NAME_MAX], *head = NULL, *all = NULL, *part = NULL;
	size_t len, used = 0;
	uint64_t snap;
	int r;

	r = read_attr(mnt, head_name, &head, &len);
	if (r < 0)
		return r;
	if (fs_stats_head_parse(head, &chunks, &size, &snap) < 0) {
		*out = head;
		*out_len = len;
		return 0;
	}
	free(head);
	if (size > STATS_MAX * 16)
		return -EFBIG;
	all = malloc(size + 1);
	if (!all)
		return -ENOMEM;
	for (size_t i = 0; i < chunks; i++) {
		fs_stats_chunk_name(name, snap, i);
		r = read_attr(mnt, name, &part, &len);
		if (r == 0 && len > size - used)
			r = -EBADMSG;
		if (r < 0) {
			free(part);
			free(all);
			return r;
		}
		memcpy(all + used, part, len);
		used += len;
		free(part);
		part = NULL;
	}
	all[used] = '\0';
	if (used != size) {
		free(all);
		return -EBADMSG;
	}
	*out = all;
	*out_len = used;
	return 0;
}

static int read_chunked(const char *mnt, const char *head_name, char **out, size_t *out_len)
{
	int r = -ENODATA;

	for (int tries = 0; r == -ENODATA && tries < 8; tries++)
		r = read_snapshot(mnt, head_name, out, out_len);
	return r;
}

int mount_stats_read(const char *mnt, char **out)
{
	size_t len;

	return read_chunked(mnt, FS_STATS_XATTR, out, &len);
}

int mount_profile_read(const char *mnt, char **out, size_t *len)
{
	return read_chunked(mnt, FS_PROFILE_XATTR, out, len);
}

int mount_stats_origin(const char *mnt, char **ref, char **manifest, char **cache)
{
	json_t *root, *m;
	const char *r, *d, *v, *cd;
	char *raw = NULL;
	int ret;

	*ref = *manifest = *cache = NULL;
	ret = mount_stats_read(mnt, &raw);
	if (ret < 0)
		return ret;
	root = json_loads(raw, 0, NULL);
	free(raw);
	m = json_object_get(root, "mount");
	r = json_string_value(json_object_get(m, "ref"));
	d = json_string_value(json_object_get(m, "manifest"));
	v = json_string_value(json_object_get(m, "view"));
	cd = json_string_value(json_object_get(m, "cache"));
	ret = r && d ? 0 : -EBADMSG;
	/* only the image view shows the image's own tree; others are views of it */
	if (ret == 0 && v && strcmp(v, "image") != 0)
		ret = -EMEDIUMTYPE;
	if (ret == 0) {
		*ref = strdup(r);
		*manifest = strdup(d);
		*cache = cd ? strdup(cd) : NULL;
		if (!*ref || !*manifest || (cd && !*cache)) {
			free(*ref);
			free(*manifest);
			free(*cache);
			*ref = *manifest = *cache = NULL;
			ret = -ENOMEM;
		}
	}
	json_decref(root);
	return ret;
}
