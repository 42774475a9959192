/* SPDX-License-Identifier: MIT */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/store.h"
#include "fs/stats_json.h"

json_t *fs_image_stats_json(struct fs_image *img, const char *view)
{
	json_t *members = fs_store_stats(img->store);
	json_t *j = json_pack("{s:{s:s, s:s, s:s}}", "mount", "ref", img->ref_str, "manifest",
			      img->manifest->digest, "view", view);

	if (j && json_is_object(members))
		json_object_update(j, members);
	json_decref(members);
	return j;
}

char *fs_stats_json_dump(json_t *j, size_t max, size_t *len)
{
	/* 15 significant digits print the rounded numbers as they were rounded */
	char *s = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
	size_t n = s ? strlen(s) : 0;

	json_decref(j);
	if (n > max) {
		free(s);
		return NULL;
	}
	if (s && len)
		*len = n;
	return s;
}

double fs_stats_round(double v, int decimals)
{
	char b[64];

	snprintf(b, sizeof(b), "%.*f", decimals, v);
	return strtod(b, NULL);
}
