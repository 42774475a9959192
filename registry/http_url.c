/* SPDX-License-Identifier: MIT */
/* URLs for the transport's users: resolving a Location, an origin, query escaping. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "registry/http_int.h"

int reg_url_resolve(const char *base, const char *loc, char **out)
{
	CURLU *u = curl_url();
	char *s = NULL;
	int r = -EINVAL;

	if (!u)
		return -ENOMEM;
	if (curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK)
		goto out_free_url;
	if (curl_url_set(u, CURLUPART_URL, loc, 0) != CURLUE_OK)
		goto out_free_url;
	if (curl_url_get(u, CURLUPART_URL, &s, 0) != CURLUE_OK)
		goto out_free_url;
	*out = strdup(s);
	r = *out ? 0 : -ENOMEM;
	curl_free(s);
out_free_url:
	curl_url_cleanup(u);
	return r;
}

int reg_url_origin(const char *url, char **out)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	struct dbuf b;
	int r = -EINVAL;

	if (!u)
		return -ENOMEM;
	dbuf_init(&b, 1024);
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK)
		goto out_free;
	for (char *p = host; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	r = dbuf_printf(&b, "%s://%s:%s", scheme, host, port);
	if (r == 0) {
		*out = dbuf_take(&b, NULL);
		r = *out ? 0 : -ENOMEM;
	}
out_free:
	dbuf_release(&b);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return r;
}

int reg_url_escape(struct dbuf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[3] = { '%', hex[ch >> 4], hex[ch & 15] };
		int r;

		if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~')
			r = dbuf_add(b, s, 1);
		else
			r = dbuf_add(b, esc, 3);
		if (r < 0)
			return r;
	}
	return 0;
}
