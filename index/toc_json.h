/* SPDX-License-Identifier: MIT */
/*
 * index/ internal: reading members of the JSON tables of contents
 * (eStargz, zstd:chunked) parsed with jansson. Go writes them with
 * omitempty, so an absent member is the zero value.
 */
#ifndef INDEX_TOC_JSON_H
#define INDEX_TOC_JSON_H

#include <stdint.h>

struct json_t;

/* Member @key of object @o: a non-negative integer <= @max, absent = 0; else -EBADMSG. */
int idx_json_u64(struct json_t *o, const char *key, uint64_t max, uint64_t *out);

/*
 * Member @key of @o: a string with no NUL inside (names), absent = NULL;
 * else -EBADMSG. Borrowed from @o.
 */
int idx_json_str(struct json_t *o, const char *key, const char **out);

#endif
