/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/stats_xattr.h"

#define HEAD_CHUNKS "stratafs_stats_chunks"

char *fs_stats_head(size_t size, size_t chunk, uint64_t snap, size_t *len)
{
	json_t *j = json_pack("{s:I, s:I, s:I}", HEAD_CHUNKS,
			      (json_int_t)((size + chunk - 1) / chunk), "size", (json_int_t)size,
			      "snapshot", (json_int_t)(snap & INT64_MAX));
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (s)
		*len = strlen(s);
	return s;
}

int fs_stats_head_parse(const char *value, size_t *chunks, size_t *size, uint64_t *snap)
{
	json_t *j = json_loads(value, 0, NULL);
	json_t *k = json_object_get(j, HEAD_CHUNKS), *s = json_object_get(j, "size");
	json_t *n = json_object_get(j, "snapshot");
	int r = -ENOENT;

	if (json_is_integer(k) && json_is_integer(s) && (!n || json_is_integer(n)) &&
	    json_integer_value(k) >= 0 && json_integer_value(s) >= 0 &&
	    (!n || json_integer_value(n) > 0) && (uint64_t)json_integer_value(s) <= SIZE_MAX) {
		*chunks = (size_t)json_integer_value(k);
		*size = (size_t)json_integer_value(s);
		*snap = n ? (uint64_t)json_integer_value(n) : 0; /* 0: a daemon before snapshots */
		r = 0;
	}
	json_decref(j);
	return r;
}

void fs_stats_chunk_name(char out[FS_STATS_NAME_MAX], uint64_t snap, size_t no)
{
	if (snap == 0) /* the names of a daemon before snapshots */
		snprintf(out, FS_STATS_NAME_MAX, "%s.%zu", FS_STATS_XATTR, no);
	else
		snprintf(out, FS_STATS_NAME_MAX, "%s.%llu.%zu", FS_STATS_XATTR,
			 (unsigned long long)snap, no);
}

/* A decimal number at *@p, then @stop: 0 and *@p past @stop, or -ENODATA. */
static int number(const char **p, char stop, unsigned long long *v)
{
	char *end;

	if (**p < '0' || **p > '9')
		return -ENODATA;
	errno = 0;
	*v = strtoull(*p, &end, 10);
	if (*end != stop || errno)
		return -ENODATA;
	*p = end + 1;
	return 0;
}

int fs_stats_name_parse(const char *name, bool *head, uint64_t *snap, size_t *no)
{
	size_t plen = strlen(FS_STATS_XATTR);
	unsigned long long s, n;
	const char *p;

	if (strncmp(name, FS_STATS_XATTR, plen) != 0)
		return -ENODATA;
	*head = name[plen] == '\0';
	if (*head)
		return 0;
	if (name[plen] != '.')
		return -ENODATA;
	p = name + plen + 1;
	if (number(&p, '\0', &n) == 0) /* ".K": a strata before snapshots, 0: the newest */
		s = 0;
	else if (number(&p, '.', &s) < 0 || s == 0 || number(&p, '\0', &n) < 0)
		return -ENODATA;
	if (n > SIZE_MAX)
		return -ENODATA;
	*snap = s;
	*no = (size_t)n;
	return 0;
}
