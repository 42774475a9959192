/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the read path's header parsers. Each input line goes to
 * the transport's header parser (http_headers.c) as one header line, twice: followed by a NUL and
 * followed by "7" (curl does not promise a NUL after a line, so what is
 * kept must not depend on the byte after it). Then it is tried as a
 * Retry-After value (delta seconds or an HTTP-date), a redirect URL whose
 * X-Amz-/X-Goog- query says how long it stays valid, a Content-Type to
 * clean and a URL to reduce to its origin.
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

static void header_lines(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct reg_http_resp a = { 0 }, b = { 0 };

	while (p < end) {
		const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
		char *line = malloc(n + 1);

		if (!line)
			break;
		memcpy(line, p, n);
		line[n] = '\0';
		reg_http_header_line(&a, line, n);
		line[n] = '7';
		reg_http_header_line(&b, line, n);
		free(line);
		if (a.has_length != b.has_length || a.content_length != b.content_length)
			abort();
		p += n;
	}
	if (a.n_challenges > REG_MAX_CHALLENGES)
		abort();
	reg_http_resp_release(&a);
	reg_http_resp_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size + 1), *line, *next;

	if (!buf)
		return 0;
	header_lines(data, size);
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
