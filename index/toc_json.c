/* SPDX-License-Identifier: MIT */
/* Members of the JSON tables of contents (index/toc_json.h). */
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "index/toc_json.h"

int idx_json_u64(json_t *o, const char *key, uint64_t max, uint64_t *out)
{
	json_t *v = json_object_get(o, key);

	*out = 0;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) > max)
		return -EBADMSG;
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

int idx_json_str(json_t *o, const char *key, const char **out)
{
	json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v)
		return 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return -EBADMSG; /* no NUL bytes inside names */
	*out = json_string_value(v);
	return 0;
}
