/* SPDX-License-Identifier: MIT */
/*
 * The HTTP exchanges of registry/aws/: GetAuthorizationToken, the container
 * credentials endpoint, IMDSv2. They happen a few times a day per host, so
 * each gets a fresh easy handle: no pooling, no shared state. TLS is always
 * verified, redirects are never followed (a redirect from a credentials
 * endpoint is an error), only http and https are allowed, and the response
 * body has a ceiling. Nothing here logs a header or a body.
 */
#include <curl/curl.h>
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "registry/aws/aws_int.h"

struct xfer {
	struct reg_aws_http_resp *resp;
	bool too_big;
};

void reg_aws_http_resp_init(struct reg_aws_http_resp *r, size_t max_body)
{
	memset(r, 0, sizeof(*r));
	dbuf_init(&r->body, max_body);
}

void reg_aws_http_resp_release(struct reg_aws_http_resp *r)
{
	if (r->body.data)
		explicit_bzero(r->body.data, r->body.len);
	dbuf_release(&r->body);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;

	if (dbuf_add(&x->resp->body, p, len) < 0) {
		x->too_big = true;
		return 0;
	}
	return len;
}

/* Copy a header's value (trimmed) when its name matches. */
static void take_header(const char *line, size_t len, const char *name, char *dst, size_t n)
{
	size_t nl = strlen(name), vl;
	const char *v;

	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	v = line + nl + 1;
	vl = len - nl - 1;
	while (vl && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
		vl--;
	if (vl >= n)
		vl = n - 1;
	memcpy(dst, v, vl);
	dst[vl] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;

	take_header(p, len, "x-amzn-ErrorType", x->resp->error_type, sizeof(x->resp->error_type));
	take_header(p, len, "Date", x->resp->date, sizeof(x->resp->date));
	return len;
}

static int map_curl(CURLcode rc, bool too_big)
{
	if (too_big)
		return -EFBIG;
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/*
 * The options whose failure would weaken security (URL, protocols, TLS
 * verification, no redirects, timeouts) are checked; the rest cannot fail
 * for valid arguments.
 */
static int set_opts(CURL *e, const struct reg_aws_http_req *req, struct xfer *x,
		    struct curl_slist *hdrs)
{
	unsigned cto = req->connect_timeout_ms;

	if (!cto)
		cto = req->timeout_ms < 5000 ? req->timeout_ms : 5000;
	if (curl_easy_setopt(e, CURLOPT_URL, req->url) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)cto) != CURLE_OK ||
	    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK)
		return -EIO;
	if (req->ca_file && curl_easy_setopt(e, CURLOPT_CAINFO, req->ca_file) != CURLE_OK)
		return -EIO;
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "stratafs/0.1");
	if (req->body || strcmp(req->method, "GET") != 0) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	}
	return 0;
}

static int build_headers(const struct reg_aws_http_req *req, struct curl_slist **out)
{
	struct curl_slist *l = NULL, *t;
	size_t i;

	/* No "Expect: 100-continue" round trip, no default Content-Type. */
	t = curl_slist_append(l, "Expect:");
	if (!t)
		goto out_free_list;
	l = t;
	if (strcmp(req->method, "GET") != 0) {
		t = curl_slist_append(l, "Content-Type:");
		if (!t)
			goto out_free_list;
		l = t;
	}
	for (i = 0; i < req->n_headers; i++) {
		t = curl_slist_append(l, req->headers[i]);
		if (!t)
			goto out_free_list;
		l = t;
	}
	*out = l;
	return 0;

out_free_list:
	curl_slist_free_all(l);
	return -ENOMEM;
}

int reg_aws_http_do(const struct reg_aws_http_req *req, struct reg_aws_http_resp *resp)
{
	struct xfer x = { .resp = resp };
	struct curl_slist *hdrs = NULL;
	CURLcode rc;
	CURL *e;
	int r;

	if (strncmp(req->url, "http://", 7) != 0 && strncmp(req->url, "https://", 8) != 0)
		return -EINVAL;
	e = curl_easy_init();
	if (!e)
		return -ENOMEM;
	r = build_headers(req, &hdrs);
	if (r < 0)
		goto out_cleanup_easy;
	r = set_opts(e, req, &x, hdrs);
	if (r < 0)
		goto out_free_headers;
	rc = curl_easy_perform(e);
	if (rc != CURLE_OK) {
		r = map_curl(rc, x.too_big);
		reg_aws_strlcpy(resp->error, curl_easy_strerror(rc), sizeof(resp->error));
		log_debug("aws: %s '%s' failed: %s", req->method, req->url, resp->error);
		goto out_free_headers;
	}
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->status);
	log_debug("aws: %s '%s': HTTP %ld", req->method, req->url, resp->status);
	r = 0;

out_free_headers:
	curl_slist_free_all(hdrs);
out_cleanup_easy:
	curl_easy_cleanup(e);
	return r;
}
