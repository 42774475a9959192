/* SPDX-License-Identifier: MIT */
/*
 * One HTTP exchange (http_int.h): headers out, the request body from a
 * re-readable source, the response into the one header parser and the
 * body into a dbuf or a sink, and libcurl's outcome through the one
 * CURLcode table. No redirect is followed here: request.c does it so that
 * credentials never leave the registry's origin.
 *
 * Range handling lives here, at the byte level: a 206 must start at the
 * offset asked for; a 200 to a range request means the server ignored the
 * range, so the prefix is skipped and the transfer stops once the asked
 * length is delivered.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/xmath.h"
#include "common/secret.h"
#include "registry/http_pool_int.h"

struct xfer {
	const struct reg_http_req *req;
	struct reg_http_resp *resp;
	uint64_t skip;      /* bytes still to drop (a 200 that ignored the range) */
	uint64_t remaining; /* bytes still wanted when range_len != 0 */
	uint64_t pos;       /* request body bytes handed to curl */
	bool started;       /* first body byte seen for this status */
	bool done;          /* stopped on purpose: everything wanted arrived */
	int err;            /* why a callback stopped the transfer */
	unsigned stall_ms;  /* abort when no byte moved for this long */
	uint64_t last_ms;   /* when the byte count last moved */
	curl_off_t last_now;
};

/* A new response (after a 100 Continue, say): forget the last one's headers. */
static void headers_reset(struct reg_http_resp *r)
{
	struct dbuf eb = r->errbody;
	char *eff = r->effective_url;

	r->errbody = (struct dbuf){ 0 };
	r->effective_url = NULL;
	reg_http_resp_release(r);
	r->errbody = eb;
	dbuf_reset(&r->errbody);
	r->effective_url = eff;
}

static size_t on_header(char *buf, size_t size, size_t n, void *u)
{
	struct xfer *x = u;
	size_t len = size * n;

	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		const char *sp = memchr(buf, ' ', len);
		char num[4] = { 0 };

		headers_reset(x->resp);
		/* the status is the three digits after the first space */
		if (sp && (size_t)(buf + len - sp) > 3)
			memcpy(num, sp + 1, 3);
		x->resp->status = strtol(num, NULL, 10);
		x->started = false;
		return len;
	}
	reg_http_header_line(x->resp, buf, len);
	return len;
}

/* A 206 must be the range we asked for. */
static int check_partial(struct xfer *x)
{
	const struct reg_http_req *req = x->req;
	const char *cr = x->resp->content_range;
	unsigned long long a;

	if (x->resp->status == 200) {
		x->skip = req->range_start;
		return 0;
	}
	if (!cr || sscanf(cr, "bytes %llu-", &a) != 1 || a != req->range_start) {
		log_err("bad Content-Range '%s' for a range from %" PRIu64, cr ? cr : "(none)",
			req->range_start);
		return -EBADMSG;
	}
	return 0;
}

static int deliver(struct xfer *x, const char *p, size_t len)
{
	const struct reg_http_req *req = x->req;

	if (req->body)
		return dbuf_add(req->body, p, len);
	if (req->sink)
		return req->sink(req->sink_ctx, p, len);
	return 0;
}

static size_t on_body(char *p, size_t size, size_t n, void *u)
{
	struct xfer *x = u;
	size_t len = size * n, all = len;
	long st = x->resp->status;
	int r;

	if (st < 200 || st > 299) {
		dbuf_add(&x->resp->errbody, p, XMIN(len, x->resp->errbody.max - x->resp->errbody.len));
		return all;
	}
	if (!x->started) {
		x->started = true;
		x->skip = 0;
		x->remaining = x->req->range_len;
		if (x->req->has_range) {
			x->err = check_partial(x);
			if (x->err)
				return 0;
		}
	}
	if (x->skip) {
		size_t k = (size_t)XMIN((uint64_t)len, x->skip);

		x->skip -= k;
		p += k;
		len -= k;
	}
	if (x->req->range_len && len > x->remaining)
		len = (size_t)x->remaining;
	if (len) {
		r = deliver(x, p, len);
		if (r < 0) {
			x->err = r;
			return 0;
		}
		x->resp->delivered += len;
	}
	if (x->req->range_len) {
		x->remaining -= len;
		if (x->remaining == 0 && x->resp->delivered) {
			x->done = true;
			return all == len && st == 206 ? all : 0;
		}
	}
	return all;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *u)
{
	struct xfer *x = u;
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
		if (got <= 0) {
			/* the file shrank or failed: never send a short body */
			x->err = -EIO;
			snprintf(x->resp->error, sizeof(x->resp->error), "cannot read the body to send");
			return CURL_READFUNC_ABORT;
		}
	}
	x->pos += (uint64_t)got;
	return (size_t)got;
}

/* curl rewinds the body to send it again (after a 401 on a reused connection, say). */
static int on_seek(void *u, curl_off_t off, int origin)
{
	struct xfer *x = u;

	if (origin != SEEK_SET || off < 0)
		return CURL_SEEKFUNC_CANTSEEK;
	x->pos = (uint64_t)off;
	return CURL_SEEKFUNC_OK;
}

/*
 * Stall detection, exact: curl's LOW_SPEED_* averages over a window, so a
 * burst followed by silence is noticed seconds late; this counts from the
 * last byte either way (or from the start). Also the upload progress.
 */
static int on_progress(void *u, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct xfer *x = u;
	uint64_t now = monotonic_ms();

	(void)dltotal;
	(void)ultotal;
	if (x->req->progress && x->req->src)
		x->req->progress(x->req->progress_ctx, (uint64_t)ulnow, x->req->src->size);
	if (dlnow + ulnow != x->last_now) {
		x->last_now = dlnow + ulnow;
		x->last_ms = now;
		return 0;
	}
	if (now - x->last_ms < x->stall_ms)
		return 0;
	x->err = -ETIMEDOUT;
	snprintf(x->resp->error, sizeof(x->resp->error), "no data for %u ms", x->stall_ms);
	return 1;
}

int reg_http_curl_errno(int curlcode)
{
	switch ((CURLcode)curlcode) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return -EHOSTUNREACH;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM: /* a stream reset (RST_STREAM), mid-upload or mid-read */
		return -ECONNRESET;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/*
 * The outcome of curl_easy_perform: a callback's own reason first. Once
 * every byte asked for has arrived (done), what happens to the rest of the
 * answer (a 206 longer than asked, cut; a chunked body that never ends)
 * does not matter: a resume from there would ask for "the rest of the blob".
 */
static int outcome(CURLcode rc, const struct xfer *x)
{
	if (x->done && !x->err)
		return 0;
	if (rc == CURLE_WRITE_ERROR)
		return x->err ? x->err : -EIO;
	if (rc == CURLE_ABORTED_BY_CALLBACK || rc == CURLE_READ_ERROR)
		return x->err ? x->err : -EIO;
	return reg_http_curl_errno((int)rc);
}

static int add_header(struct curl_slist **l, const char *name, const char *value)
{
	struct curl_slist *t;
	struct dbuf b;
	int r;

	dbuf_init(&b, REG_MAX_TOKEN_SIZE + 256);
	r = value ? dbuf_printf(&b, "%s: %s", name, value) : dbuf_printf(&b, "%s:", name);
	t = r == 0 ? curl_slist_append(*l, b.data) : NULL;
	secret_dbuf_release(&b); /* it may hold a credential */
	if (!t)
		return -ENOMEM;
	*l = t;
	return 0;
}

static struct curl_slist *build_headers(const struct reg_http_req *req)
{
	struct curl_slist *l = NULL, *t;
	bool get = strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0;

	/* no "Expect: 100-continue" round trip: registries answer at once anyway */
	if (add_header(&l, "Expect", NULL) < 0)
		return NULL;
	/* a body without a type goes without one (never curl's form default) */
	if ((req->content_type || !get) && add_header(&l, "Content-Type", req->content_type) < 0)
		goto out_free;
	if (req->accept && add_header(&l, "Accept", req->accept) < 0)
		goto out_free;
	if (req->authorization && add_header(&l, "Authorization", req->authorization) < 0)
		goto out_free;
	for (size_t i = 0; i < req->n_headers; i++) {
		t = curl_slist_append(l, req->headers[i]);
		if (!t)
			goto out_free;
		l = t;
	}
	return l;
out_free:
	curl_slist_free_all(l);
	return NULL;
}

#define SET(opt, val)                                                                            \
	do {                                                                                     \
		if (curl_easy_setopt(e, opt, val) != CURLE_OK)                                   \
			return -EIO;                                                             \
	} while (0)

/* The method, and the request body when there is one. */
static int set_method(CURL *e, const struct reg_http_req *req, struct xfer *x)
{
	const char *m = req->method;
	const struct reg_blob_src *s = req->src;

	if (strcmp(m, "HEAD") == 0) {
		SET(CURLOPT_NOBODY, 1L);
		return 0;
	}
	if (strcmp(m, "GET") == 0) {
		SET(CURLOPT_HTTPGET, 1L);
		return 0;
	}
	if (strcmp(m, "DELETE") == 0) {
		SET(CURLOPT_CUSTOMREQUEST, "DELETE");
		return 0;
	}
	if (strcmp(m, "POST") == 0 && (!s || s->fd < 0)) {
		/* a small body in memory (a token form, an AWS JSON call, an empty session POST) */
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(s ? s->size : 0));
		SET(CURLOPT_POSTFIELDS, s && s->buf ? (const char *)s->buf : "");
		return 0;
	}
	SET(CURLOPT_UPLOAD, 1L);
	SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)(s ? s->size : 0));
	SET(CURLOPT_READFUNCTION, on_read);
	SET(CURLOPT_READDATA, x);
	SET(CURLOPT_SEEKFUNCTION, on_seek);
	SET(CURLOPT_SEEKDATA, x);
	if (strcmp(m, "PUT") != 0)
		SET(CURLOPT_CUSTOMREQUEST, m);
	return 0;
}

/*
 * A response poured into a sink that may run long (a layer's bytes from
 * some offset on, a whole blob) is received REG_HTTP_STREAM_RECV at a
 * time rather than libcurl's 16 KiB: a thirtieth of the recv calls (the
 * write callback still gets at most 16 KiB at a time). Reading a
 * single-frame zstd layer, the daemon spent about a tenth less CPU. A
 * handle back in the pool is curl_easy_reset() (http_pool.c), so its next
 * request does not inherit the size.
 */
#define REG_HTTP_STREAM_RECV (512L << 10) /* libcurl's ceiling */
#define REG_HTTP_STREAM_MIN (4u << 20)    /* a known length under this: the default */
static bool streams_long(const struct reg_http_req *req)
{
	return req->sink && (!req->has_range || !req->range_len ||
			     req->range_len >= REG_HTTP_STREAM_MIN);
}

static int set_exchange(CURL *e, const struct reg_http_req *req, struct xfer *x, char *range,
			size_t range_sz)
{
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_ERRORBUFFER, x->resp->error);
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, on_progress);
	SET(CURLOPT_XFERINFODATA, x);
	if (req->has_range) {
		if (req->range_len)
			snprintf(range, range_sz, "%" PRIu64 "-%" PRIu64, req->range_start,
				 req->range_start + req->range_len - 1);
		else
			snprintf(range, range_sz, "%" PRIu64 "-", req->range_start);
		SET(CURLOPT_RANGE, range);
	}
	if (streams_long(req))
		SET(CURLOPT_BUFFERSIZE, REG_HTTP_STREAM_RECV);
	return set_method(e, req, x);
}

static int resp_init(const struct reg_http_req *req, struct reg_http_resp *resp)
{
	memset(resp, 0, sizeof(*resp));
	dbuf_init(&resp->errbody, REG_MAX_ERROR_BODY);
	resp->effective_url = strdup(req->url);
	return resp->effective_url ? 0 : -ENOMEM;
}

int reg_http_perform(struct reg_http *h, const struct reg_http_req *req, struct reg_http_resp *resp)
{
	struct xfer x = { .req = req, .resp = resp };
	struct curl_slist *hdrs = NULL;
	char range[64];
	CURLcode rc;
	CURL *e;
	int r;

	r = resp_init(req, resp);
	if (r < 0)
		return r;
	hdrs = build_headers(req);
	if (!hdrs)
		return -ENOMEM;
	e = reg_http_handle_get(h);
	if (!e) {
		r = -ENOMEM;
		goto out_free_headers;
	}
	x.stall_ms = reg_http_stall_ms(h);
	x.last_ms = monotonic_ms();
	r = reg_http_connection_opts(h, e, req->url, hdrs, req->timeout_ms);
	if (r == 0 && set_exchange(e, req, &x, range, sizeof(range)) < 0) {
		log_err("libcurl refused an option of %s '%.*s'", req->method,
			(int)strcspn(req->url, "?"), req->url);
		r = -EIO;
	}
	if (r < 0) {
		snprintf(resp->error, sizeof(resp->error), "libcurl refused an option");
		goto out_put;
	}
	reg_http_trace(e, req->n_headers > 0);
	rc = curl_easy_perform(e);
	r = outcome(rc, &x);
	if (r == -ECONNRESET && resp->status >= 300) {
		/* the status is the answer; a truncated error body does not matter
		 * (distribution's 416 announces a Content-Length it never sends) */
		r = 0;
	}
	if (rc == CURLE_WRITE_ERROR && x.err && !resp->error[0])
		snprintf(resp->error, sizeof(resp->error), "%s", strerror(-x.err));
	if (r < 0 && !resp->error[0])
		snprintf(resp->error, sizeof(resp->error), "%s", curl_easy_strerror(rc));
	if (r < 0)
		log_debug("%s '%.*s': %s", req->method, (int)strcspn(req->url, "?"), req->url,
			  resp->error);
out_put:
	reg_http_handle_put(h, e);
out_free_headers:
	curl_slist_free_all(hdrs);
	return r;
}
