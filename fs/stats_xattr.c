/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/stats_xattr.h"

#define HEAD_CHUNKS "stratafs_stats_chunks"

char *fs_stats_head(size_t size, size_t chunk, size_t *len)
{
	json_t *j = json_pack("{s:I, s:I}", HEAD_CHUNKS, (json_int_t)((size + chunk - 1) / chunk),
			      "size", (json_int_t)size);
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	json_decref(j);
	if (s)
		*len = strlen(s);
	return s;
}

int fs_stats_head_parse(const char *value, size_t *chunks, size_t *size)
{
	json_t *j = json_loads(value, 0, NULL);
	json_t *k = json_object_get(j, HEAD_CHUNKS), *s = json_object_get(j, "size");
	int r = -ENOENT;

	if (json_is_integer(k) && json_is_integer(s) && json_integer_value(k) >= 0 &&
	    json_integer_value(s) >= 0 && (uint64_t)json_integer_value(s) <= SIZE_MAX) {
		*chunks = (size_t)json_integer_value(k);
		*size = (size_t)json_integer_value(s);
		r = 0;
	}
	json_decref(j);
	return r;
}

void fs_stats_chunk_name(char out[FS_STATS_NAME_MAX], size_t no)
{
	snprintf(out, FS_STATS_NAME_MAX, "%s.%zu", FS_STATS_XATTR, no);
}

int fs_stats_name_parse(const char *name, bool *head, size_t *no)
{
	size_t plen = strlen(FS_STATS_XATTR);
	unsigned long long v;
	char *end;

	if (strncmp(name, FS_STATS_XATTR, plen) != 0)
		return -ENODATA;
	*head = name[plen] == '\0';
	if (*head)
		return 0;
	if (name[plen] != '.' || name[plen + 1] < '0' || name[plen + 1] > '9')
		return -ENODATA;
	errno = 0;
	v = strtoull(name + plen + 1, &end, 10);
	if (*end || errno || v > SIZE_MAX)
		return -ENODATA;
	*no = (size_t)v;
	return 0;
}
