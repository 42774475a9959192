/* SPDX-License-Identifier: MIT */
/*
 * When an S3 presigned URL (the target of ECR's blob redirects) stops
 * working: X-Amz-Date + X-Amz-Expires, both in its query string. The client
 * reuses a redirect target for many range requests until shortly before
 * that moment (PROTOCOLS.md §4.6).
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "registry/aws/aws_int.h"

/* The value of query parameter @name in @url (not decoded) into @out. */
static bool query_param(const char *url, const char *name, char *out, size_t n)
{
	const char *q = strchr(url, '?'), *p, *end;
	size_t nl = strlen(name), vl;

	if (!q)
		return false;
	for (p = q + 1; *p; p = *end ? end + 1 : end) {
		end = p + strcspn(p, "&#");
		if ((size_t)(end - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == '=') {
			vl = (size_t)(end - p) - nl - 1;
			if (vl >= n)
				return false;
			memcpy(out, p + nl + 1, vl);
			out[vl] = '\0';
			return true;
		}
		if (*end == '#')
			break;
	}
	return false;
}

static bool parse_amz_date(const char *s, time_t *out)
{
	struct tm tm = { 0 };
	char *end;

	if (strlen(s) != 16)
		return false;
	end = strptime(s, "%Y%m%dT%H%M%SZ", &tm);
	if (!end || *end)
		return false;
	*out = timegm(&tm);
	return *out != (time_t)-1;
}

bool reg_presigned_expired(const char *url, time_t now, int margin_s)
{
	char date[32], exp[32];
	bool has_date, has_exp;
	time_t t0;
	long secs;
	char *end;

	has_date = query_param(url, "X-Amz-Date", date, sizeof(date));
	has_exp = query_param(url, "X-Amz-Expires", exp, sizeof(exp));
	if (!has_date && !has_exp)
		return false;
	if (!has_date || !has_exp || !parse_amz_date(date, &t0))
		return true;
	secs = strtol(exp, &end, 10);
	if (*end || end == exp || secs < 0 || secs > 7 * 24 * 3600)
		return true;
	return now + margin_s >= t0 + secs;
}
