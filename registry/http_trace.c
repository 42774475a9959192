/* SPDX-License-Identifier: MIT */
/*
 * At log level debug, curl's own trace goes to the logger with
 * Authorization headers and presigned queries redacted; bodies are never
 * traced. Extra request headers (AWS signing) are not traced either.
 */
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "common/log.h"
#include "registry/http_pool_int.h"

/* Offset of @needle (lowercase) in @s[0..n) ignoring case, or SIZE_MAX. */
static size_t find_ci(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = 0; i + k <= n; i++)
		if (strncasecmp(s + i, needle, k) == 0)
			return i;
	return SIZE_MAX;
}

static int on_debug(CURL *e, curl_infotype type, char *data, size_t size, void *u)
{
	bool quiet_out = u != NULL;

	(void)e;
	if (type != CURLINFO_TEXT && type != CURLINFO_HEADER_IN && type != CURLINFO_HEADER_OUT)
		return 0;
	if (type == CURLINFO_HEADER_OUT && quiet_out) {
		log_debug("curl > <request headers not shown>");
		return 0;
	}
	while (size > 0) {
		const char *nl = memchr(data, '\n', size);
		size_t line = nl ? (size_t)(nl - data) + 1 : size;
		size_t show = line;

		while (show > 0 && (data[show - 1] == '\n' || data[show - 1] == '\r'))
			show--;
		const char *q = memchr(data, '?', show);
		char dir = type == CURLINFO_HEADER_OUT ? '>' : type == CURLINFO_HEADER_IN ? '<' : '*';

		size_t at = find_ci(data, show, "authorization");

		if (at != SIZE_MAX)
			/* "Authorization: ...", and HTTP/2's "h2h3 [authorization: ...]" */
			log_debug("curl %c %.*sauthorization: <redacted>", dir, (int)at, data);
		else if (q)
			/* presigned URLs carry their signature and session token in the query */
			log_debug("curl %c %.*s?<redacted>", dir, (int)(q - data), data);
		else if (show)
			log_debug("curl %c %.*s", dir, (int)show, data);
		data += line;
		size -= line;
	}
	return 0;
}

void reg_http_trace(void *easy, bool quiet_request_headers)
{
	CURL *e = easy;

	if (!log_enabled(LOG_LVL_DEBUG))
		return;
	/* tracing is optional: a refusal only costs the trace */
	if (curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, on_debug) == CURLE_OK &&
	    curl_easy_setopt(e, CURLOPT_DEBUGDATA, quiet_request_headers ? (void *)e : NULL) ==
		    CURLE_OK)
		curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
}
