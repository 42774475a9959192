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

#include "tools/mount_stats.h"

#define STATS_XATTR "user.stratafs.stats"
#define PROFILE_XATTR "user.stratafs.profile" /* FS_PROFILE_XATTR */
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
 * The stats JSON (or the profile); caller frees. Values larger than an xattr come in chunks:
 * the head is {"stratafs_stats_chunks":K,"size":S} and the pieces are
 * STATS_XATTR.0 .. .K-1 of the snapshot the head read took.
 */
static int read_chunked(const char *mnt, const char *head_name, char **out, size_t *out_len)
{
	unsigned long chunks, size;
	char name[64], *head = NULL, *all = NULL, *part = NULL;
	size_t len, used = 0;
	int r;

	r = read_attr(mnt, head_name, &head, &len);
	if (r < 0)
		return r;
	if (sscanf(head, "{\"stratafs_stats_chunks\":%lu,\"size\":%lu}", &chunks, &size) != 2) {
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
	for (unsigned long i = 0; i < chunks; i++) {
		snprintf(name, sizeof(name), "%s.%lu", STATS_XATTR, i);
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

int mount_stats_read(const char *mnt, char **out)
{
	size_t len;

	return read_chunked(mnt, STATS_XATTR, out, &len);
}

int mount_profile_read(const char *mnt, char **out, size_t *len)
{
	return read_chunked(mnt, PROFILE_XATTR, out, len);
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
