/* SPDX-License-Identifier: MIT */
/*
 * What the upload path parses from the registry: the Location of each
 * answer (resolved, digest added to the existing query, bounded) and the
 * Range of a PATCH answer (both forms, from 0, bounded).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/upload_int.h"
#include "tap.h"

#define D "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
#define DE "sha256%3A44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

/* @s with control characters shown as '?', so a TAP line stays one line. */
static const char *printable(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < len; i++)
		buf[i] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

static void url_case(const char *base, const char *loc, const char *digest, int want_r,
		     const char *want)
{
	char *got = NULL, shown[256];
	int r = reg_upload_url(base, loc, digest, &got);

	is_int(r, want_r, "reg_upload_url('%s') -> %d",
	       loc ? printable(loc, shown, sizeof(shown)) : "(null)", want_r);
	if (want)
		is_str(got, want, "  gives '%s'", want);
	free(got);
}

static void range_case(const char *s, int want_r, uint64_t want_next)
{
	uint64_t next = 0;
	int r = reg_upload_range_parse(s, &next);

	is_int(r, want_r, "range '%s' -> %d", s ? s : "(null)", want_r);
	if (want_r == 0)
		is_int(next, want_next, "  next byte %llu", (unsigned long long)want_next);
}

int main(void)
{
	const char *b = "http://127.0.0.1:5000/v2/x/blobs/uploads/";
	char *huge = malloc(REG_MAX_HEADER_VALUE + 10);

	url_case(b, "/v2/x/blobs/uploads/abc?_state=s%2Bt&x=1", D, 0,
		 "http://127.0.0.1:5000/v2/x/blobs/uploads/abc?_state=s%2Bt&x=1&digest=" DE);
	url_case(b, "/v2/x/blobs/uploads/abc", D, 0,
		 "http://127.0.0.1:5000/v2/x/blobs/uploads/abc?digest=" DE);
	url_case(b, "abc?q=1", NULL, 0, "http://127.0.0.1:5000/v2/x/blobs/uploads/abc?q=1");
	url_case(b, "https://s3.example/up/1?X-Amz=1", D, 0,
		 "https://s3.example/up/1?X-Amz=1&digest=" DE);
	url_case(b, "", D, -EINVAL, NULL);
	url_case(b, NULL, D, -EINVAL, NULL);
	url_case(b, "/a b", D, -EINVAL, NULL);
	url_case(b, "/a\r\nX-Injected: 1", D, -EINVAL, NULL);
	memset(huge, 'a', REG_MAX_HEADER_VALUE + 9);
	huge[0] = '/';
	huge[REG_MAX_HEADER_VALUE + 9] = 0;
	url_case(b, huge, D, -EINVAL, NULL);
	free(huge);

	range_case("0-0", 0, 1);
	range_case("0-1048575", 0, 1048576);
	range_case("bytes=0-99", 0, 100);
	range_case("1-99", -EINVAL, 0);
	range_case("0-", -EINVAL, 0);
	range_case("0-12x", -EINVAL, 0);
	range_case("0-99999999999999999999999", -EINVAL, 0);
	range_case("", -EINVAL, 0);
	range_case(NULL, -EINVAL, 0);
	return tap_done();
}
