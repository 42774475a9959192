/* SPDX-License-Identifier: MIT */
/* Small helpers of registry/aws/: URL pieces, environment. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "registry/aws/aws_int.h"

int reg_aws_strlcpy(char *dst, const char *s, size_t n)
{
	size_t l = strlen(s);

	if (l >= n) {
		if (n)
			dst[0] = '\0';
		return -EFBIG;
	}
	memcpy(dst, s, l + 1);
	return 0;
}

const char *reg_aws_env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static int copy_span(char *dst, size_t n, const char *s, size_t len)
{
	if (len >= n)
		return -ENAMETOOLONG;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

static int split_authority(const char *a, size_t alen, struct reg_aws_url *out)
{
	const char *colon = NULL, *h = a;
	size_t hlen = alen;
	char *end;
	long port;

	if (!alen || memchr(a, '@', alen))
		return -EINVAL; /* no userinfo in AWS endpoints */
	if (a[0] == '[') {
		const char *rb = memchr(a, ']', alen);

		if (!rb)
			return -EINVAL;
		h = a + 1;
		hlen = (size_t)(rb - a) - 1;
		if (rb + 1 < a + alen) {
			if (rb[1] != ':')
				return -EINVAL;
			colon = rb + 1;
		}
	} else {
		colon = memchr(a, ':', alen);
		if (colon)
			hlen = (size_t)(colon - a);
	}
	if (!hlen || copy_span(out->host, sizeof(out->host), h, hlen) < 0)
		return -EINVAL;
	if (copy_span(out->authority, sizeof(out->authority), a, alen) < 0)
		return -ENAMETOOLONG;
	if (!colon)
		return 0;
	port = strtol(colon + 1, &end, 10);
	if (end != a + alen || port <= 0 || port > 65535)
		return -EINVAL;
	out->port = (int)port;
	return 0;
}

int reg_aws_url_split(const char *url, struct reg_aws_url *out)
{
	const char *p, *slash, *q;
	size_t alen;
	int r;

	memset(out, 0, sizeof(*out));
	if (strncasecmp(url, "https://", 8) == 0) {
		memcpy(out->scheme, "https", 6);
		out->port = 443;
		p = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		memcpy(out->scheme, "http", 5);
		out->port = 80;
		p = url + 7;
	} else {
		return -EINVAL;
	}
	alen = strcspn(p, "/?#");
	r = split_authority(p, alen, out);
	if (r < 0)
		return r;
	slash = p + alen;
	q = strchr(slash, '?');
	if (strchr(slash, '#'))
		return -EINVAL;
	if (q) {
		r = copy_span(out->query, sizeof(out->query), q + 1, strlen(q + 1));
		if (r < 0)
			return r;
	} else {
		q = slash + strlen(slash);
	}
	if (q == slash)
		return copy_span(out->path, sizeof(out->path), "/", 1);
	return copy_span(out->path, sizeof(out->path), slash, (size_t)(q - slash));
}

bool reg_aws_host_is_loopback(const char *host)
{
	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
		return true;
	return strncmp(host, "127.", 4) == 0 && strspn(host, "0123456789.") == strlen(host);
}
