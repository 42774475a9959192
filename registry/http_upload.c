/* SPDX-License-Identifier: MIT */
/*
 * Requests with a body for the upload path: POST, PUT, PATCH, DELETE.
 * http.c (the read side) only knows GET/HEAD/POST-form; rather than widen
 * its request struct under its owner, the write side has its own small
 * exchange here, on a fresh easy handle per request (uploads are few and
 * long; the pooled connections of http.c are for many small reads).
 * The body comes from a re-readable source (pread on an fd, or memory), so
 * a request can be sent again after a 401. Same rules as http.c: no
 * redirects followed, TLS verified unless insecure, Authorization never
 * logged, every kept header value bounded.
 */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/log.h"
#include "registry/upload_int.h"

#define UP_STALL_S 60 /* abort when no byte moves for this long */

struct up_xfer {
	const struct reg_up_req *req;
	struct reg_up_resp *resp;
	uint64_t pos; /* body bytes handed to curl */
};

void reg_up_resp_release(struct reg_up_resp *r)
{
	if (!r)
		return;
	reg_http_resp_release(&r->base);
	free(r->oci_subject);
	free(r->range);
	r->oci_subject = NULL;
	r->range = NULL;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *ud)
{
	struct up_xfer *x = ud;
	const struct reg_blob_src *s = x->req->src;
	size_t n = size * nmemb;
	ssize_t got;

	if (!s || x->pos >= s->size)
		return 0;
	if (n > s->size - x->pos)
		n = (size_t)(s->size - x->pos);
	if (s->fd < 0) {
		memcpy(buf, (const char *)s->buf + x->pos, n);
		got = (ssize_t)n;
	} else {
		do {
			got = pread(s->fd, buf, n, (off_t)x->pos);
		} while (got < 0 && errno == EINTR);
		if (got <= 0)
			return CURL_READFUNC_ABORT; /* the file shrank or failed: never send short */
	}
	x->pos += (uint64_t)got;
	return (size_t)got;
}

static int seek_body(void *ud, curl_off_t off, int origin)
{
	struct up_xfer *x = ud;

	if (origin != SEEK_SET || off < 0)
		return CURL_SEEKFUNC_CANTSEEK;
	x->pos = (uint64_t)off;
	return CURL_SEEKFUNC_OK;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct up_xfer *x = ud;
	size_t n = size * nmemb;

	/* the body of an upload answer is only read for its error message: keep a prefix */
	if (x->resp->base.errbody.len + n <= REG_MAX_ERROR_BODY)
		dbuf_add(&x->resp->base.errbody, p, n);
	return n;
}

char *reg_up_header_value(const char *line, size_t n, const char *name)
{
	size_t nl = strlen(name), vl;
	const char *v;

	if (n <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
		return NULL;
	v = line + nl + 1;
	vl = n - nl - 1;
	while (vl && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl && isspace((unsigned char)v[vl - 1]))
		vl--;
	if (vl > REG_MAX_HEADER_VALUE) {
		log_warn("ignoring a %s header of %zu bytes", name, vl);
		return NULL;
	}
	return strndup(v, vl);
}

static void keep(char **slot, char *v)
{
	if (!v)
		return;
	free(*slot);
	*slot = v;
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	struct up_xfer *x = ud;
	struct reg_http_resp *b = &x->resp->base;
	size_t n = size * nmemb;
	char *v;

	if (n >= 5 && strncmp(p, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue): forget the previous one's challenges */
		for (size_t i = 0; i < b->n_challenges; i++) {
			free(b->challenges[i]);
			b->challenges[i] = NULL;
		}
		b->n_challenges = 0;
		return n;
	}
	keep(&b->location, reg_up_header_value(p, n, "Location"));
	keep(&b->docker_digest, reg_up_header_value(p, n, "Docker-Content-Digest"));
	keep(&b->content_type, reg_up_header_value(p, n, "Content-Type"));
	keep(&b->retry_after, reg_up_header_value(p, n, "Retry-After"));
	keep(&x->resp->oci_subject, reg_up_header_value(p, n, "OCI-Subject"));
	keep(&x->resp->range, reg_up_header_value(p, n, "Range"));
	v = reg_up_header_value(p, n, "WWW-Authenticate");
	if (v && b->n_challenges < REG_MAX_CHALLENGES)
		b->challenges[b->n_challenges++] = v;
	else
		free(v);
	return n;
}

static int on_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct up_xfer *x = ud;

	(void)dt;
	(void)dn;
	(void)ut;
	if (x->req->progress && x->req->src)
		x->req->progress(x->req->progress_ctx, (uint64_t)un, x->req->src->size);
	return 0;
}

static struct curl_slist *headers(const struct reg_up_req *req)
{
	struct curl_slist *l = NULL, *t;
	struct dbuf b;

	dbuf_init(&b, REG_MAX_TOKEN_SIZE + 256);
	/* no "Expect: 100-continue" round trip: distribution answers at once anyway */
	l = curl_slist_append(NULL, "Expect:");
	if (l && req->content_type && dbuf_printf(&b, "Content-Type: %s", req->content_type) == 0) {
		t = curl_slist_append(l, b.data);
		l = t ? t : l;
	}
	dbuf_reset(&b);
	if (l && req->authorization && dbuf_printf(&b, "Authorization: %s", req->authorization) == 0) {
		t = curl_slist_append(l, b.data);
		if (!t) {
			curl_slist_free_all(l);
			l = NULL;
		} else {
			l = t;
		}
	}
	dbuf_release(&b);
	return l;
}

static void set_body(CURL *e, const struct reg_up_req *req, struct up_xfer *x)
{
	curl_off_t size = req->src ? (curl_off_t)req->src->size : 0;

	if (strcmp(req->method, "DELETE") == 0) {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
		return;
	}
	if (strcmp(req->method, "POST") == 0 && !req->src) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
		return;
	}
	curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, size);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(e, CURLOPT_READDATA, x);
	curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, seek_body);
	curl_easy_setopt(e, CURLOPT_SEEKDATA, x);
	if (strcmp(req->method, "PUT") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
}

static void set_options(const struct reg_pusher *p, CURL *e, const struct reg_up_req *req,
			struct up_xfer *x, struct curl_slist *hdrs)
{
	reg_http_transport(e, req->url, hdrs, p->insecure, p->ca_file, p->connect_timeout_ms,
			   (long)UP_STALL_S);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->resp->base.error);
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);
	set_body(e, req, x);
}

static int map_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return -ECONNRESET;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

int reg_up_http(const struct reg_pusher *p, const struct reg_up_req *req, struct reg_up_resp *resp)
{
	struct up_xfer x = { .req = req, .resp = resp };
	struct curl_slist *hdrs;
	CURLcode rc;
	CURL *e;
	int r;

	memset(resp, 0, sizeof(*resp));
	dbuf_init(&resp->base.errbody, REG_MAX_ERROR_BODY);
	resp->base.effective_url = strdup(req->url);
	if (!resp->base.effective_url)
		return -ENOMEM;
	hdrs = headers(req);
	e = curl_easy_init();
	if (!hdrs || !e) {
		r = -ENOMEM;
		goto out_free;
	}
	set_options(p, e, req, &x, hdrs);
	rc = curl_easy_perform(e);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &resp->base.status);
	r = map_curl(rc);
	if (rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_READ_ERROR) {
		snprintf(resp->base.error, sizeof(resp->base.error), "cannot read the blob to send");
		r = -EIO;
	}
	if (r < 0)
		log_debug("%s '%.*s': %s", req->method, (int)strcspn(req->url, "?"), req->url,
			  resp->base.error[0] ? resp->base.error : curl_easy_strerror(rc));
	if (r < 0 && !resp->base.error[0])
		snprintf(resp->base.error, sizeof(resp->base.error), "%s", curl_easy_strerror(rc));
out_free:
	curl_easy_cleanup(e);
	curl_slist_free_all(hdrs);
	return r;
}
