/* SPDX-License-Identifier: MIT */
/*
 * The one response header parser of the transport (fuzzed by
 * tests/fuzz/registry/fuzz_resp_headers.c): what a registry, an upload
 * session or an AWS endpoint answers, each value bounded by
 * REG_MAX_HEADER_VALUE.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "registry/http_int.h"
#include "registry/registry_int.h"

void reg_http_resp_release(struct reg_http_resp *r)
{
	if (!r)
		return;
	free(r->content_type);
	free(r->docker_digest);
	free(r->location);
	free(r->retry_after);
	free(r->content_range);
	free(r->range);
	free(r->oci_subject);
	free(r->filters_applied);
	free(r->link);
	free(r->warning);
	free(r->amz_error_type);
	free(r->date);
	for (size_t i = 0; i < r->n_challenges; i++)
		free(r->challenges[i]);
	dbuf_release(&r->errbody);
	free(r->effective_url);
	memset(r, 0, sizeof(*r));
}

static void set_str(char **dst, const char *v, size_t n)
{
	char *s = strndup(v, n);

	if (!s)
		return;
	free(*dst);
	*dst = s;
}

/*
 * The first bytes of @p[@n] as a string in @tmp, for strtoull(): curl does
 * not promise a NUL after a header line, and that would read on past it
 * (over "\r\n" into the next bytes when the value is empty).
 * fuzz_resp_headers checks it (the byte after each line differs).
 */
static const char *bounded(char tmp[32], const char *p, size_t n)
{
	snprintf(tmp, 32, "%.*s", (int)(n < 32 ? n : 31), p);
	return tmp;
}

static void content_length(struct reg_http_resp *r, const char *v, size_t vlen)
{
	char num[32];
	/* digits only: "-1" or "12abc" is no length (strtoull takes both) */
	const char *digits = bounded(num, v, vlen);
	char *end = NULL;

	errno = 0;
	r->content_length = strtoull(digits, &end, 10);
	r->has_length = vlen < sizeof(num) && digits[0] >= '0' && digits[0] <= '9' && end &&
			*end == '\0' && errno == 0;
	if (!r->has_length)
		r->content_length = 0;
}

static void header_value(struct reg_http_resp *r, const char *name, size_t nlen, const char *v,
			 size_t vlen)
{
#define IS(h) (nlen == sizeof(h) - 1 && strncasecmp(name, h, nlen) == 0)
	if (IS("content-type")) {
		char *raw = strndup(v, vlen);

		free(r->content_type);
		r->content_type = raw ? reg_media_type_clean(raw) : NULL;
		free(raw);
	} else if (IS("docker-content-digest")) {
		set_str(&r->docker_digest, v, vlen);
	} else if (IS("location")) {
		set_str(&r->location, v, vlen);
	} else if (IS("retry-after")) {
		set_str(&r->retry_after, v, vlen);
	} else if (IS("content-range")) {
		set_str(&r->content_range, v, vlen);
	} else if (IS("range")) {
		set_str(&r->range, v, vlen);
	} else if (IS("oci-subject")) {
		set_str(&r->oci_subject, v, vlen);
	} else if (IS("oci-filters-applied")) {
		set_str(&r->filters_applied, v, vlen);
	} else if (IS("link")) {
		set_str(&r->link, v, vlen);
	} else if (IS("warning") && !r->warning) {
		set_str(&r->warning, v, vlen);
	} else if (IS("x-amzn-errortype")) {
		set_str(&r->amz_error_type, v, vlen);
	} else if (IS("date")) {
		set_str(&r->date, v, vlen);
	} else if (IS("content-length")) {
		content_length(r, v, vlen);
	} else if (IS("www-authenticate") && r->n_challenges < REG_MAX_CHALLENGES) {
		r->challenges[r->n_challenges] = strndup(v, vlen);
		if (r->challenges[r->n_challenges])
			r->n_challenges++;
	}
#undef IS
}

void reg_http_header_line(struct reg_http_resp *r, const char *buf, size_t len)
{
	const char *colon, *v, *end = buf + len;

	colon = memchr(buf, ':', len);
	if (!colon)
		return;
	v = colon + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if ((size_t)(end - v) > REG_MAX_HEADER_VALUE)
		return; /* ignored: no header we use is that long */
	header_value(r, buf, (size_t)(colon - buf), v, (size_t)(end - v));
}
