/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the headers an upload session reads (through the transport's
 * one header parser, http_headers.c) and what upload.c makes of them. Each input line is a header line; the Location
 * values are resolved against a session URL, with and without the digest
 * added to the query, and the Range values parsed as "[bytes=]0-<end>".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "registry/upload_int.h"

#define DIGEST "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_location(const char *loc)
{
	static const char *const bases[] = {
		"https://registry.example.com/v2/repo/blobs/uploads/",
		"http://127.0.0.1:5000/v2/a/b/blobs/uploads/abc?_state=x&y=1",
	};
	char *url = NULL, *origin = NULL;

	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
		if (reg_upload_url(bases[i], loc, NULL, &url) == 0) {
			if (reg_url_origin(url, &origin) == 0)
				free(origin);
			free(url);
		}
		if (reg_upload_url(bases[i], loc, DIGEST, &url) == 0) {
			if (!strstr(url, "digest=sha256%3A") && !strstr(url, "digest=sha256:"))
				abort();
			free(url);
		}
	}
}

static void check_line(const char *line, size_t n)
{
	struct reg_http_resp resp = { 0 };
	uint64_t next = 0;

	reg_http_header_line(&resp, line, n);
	if (resp.location)
		check_location(resp.location);
	if (resp.range && reg_upload_range_parse(resp.range, &next) == 0 && next == 0)
		abort(); /* "0-<end>" always means at least one byte */
	reg_http_resp_release(&resp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	uint64_t next;
	char *s;

	log_set_level(LOG_LVL_ERR);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

		check_line(p, n);
		p += n;
	}
	/* the whole input as a bare Range value */
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)reg_upload_range_parse(s, &next);
	free(s);
	return 0;
}
