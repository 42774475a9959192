/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the read path's small header parsers. Each input line is
 * tried as a Retry-After value (delta seconds or an HTTP-date), a
 * redirect URL whose X-Amz-/X-Goog- query says how long it stays valid,
 * a Content-Type to clean and a URL to reduce to its origin.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "registry/registry_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_value(const char *v)
{
	const time_t now = 1700000000; /* fixed: the same input always takes the same path */
	uint64_t ms = 0;
	char *s;

	if (reg_retry_after_ms(v, now, &ms) == 0 && ms > 400000000000000ull)
		abort(); /* at most 9 digits of seconds, or a 4-digit year */
	(void)reg_presigned_ttl_ms(v, now);
	s = reg_media_type_clean(v);
	if (s && strchr(s, ';'))
		abort();
	free(s);
	if (reg_url_origin(v, &s) == 0)
		free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *line, *next;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (line = buf; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		check_value(line);
	}
	free(buf);
	return 0;
}
