/* SPDX-License-Identifier: MIT */
/*
 * HTTP over libcurl: the only file that includes <curl/curl.h>.
 *
 * Connection reuse: a pool of easy handles per client. A handle keeps its
 * live connections across curl_easy_reset(), so a thread that takes a handle
 * back from the pool reuses a warm connection. DNS and TLS sessions are
 * shared between all handles through a CURLSH with mutex callbacks. The
 * connection cache itself is NOT put in the share: libcurl documents
 * CURL_LOCK_DATA_CONNECT as unsupported between concurrent threads. The pool
 * size is max_parallel, which also bounds requests in flight.
 *
 * One exchange per call, no redirect following (request.c follows redirects
 * itself so that credentials never leave the registry's origin).
 *
 * Range handling lives here, at the byte level: a 206 must start at the
 * offset asked for; a 200 to a range request means the server ignored the
 * range, so the prefix is skipped and the transfer stops once the asked
 * length is delivered.
 *
 * At log level debug, curl's own trace is routed to the logger with
 * Authorization headers redacted; bodies are never traced.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "common/log.h"
#include "common/xmath.h"
#include "registry/registry_int.h"

struct reg_http {
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t pool_lock;
	pthread_cond_t pool_cond;
	CURL **idle;     /* protected by pool_lock */
	size_t n_idle;   /* protected by pool_lock */
	unsigned in_use; /* protected by pool_lock */
	unsigned max;
	char *ca_file;
	char *user_agent;
	bool insecure;
	unsigned connect_timeout_ms;
	unsigned stall_timeout_ms;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *e, curl_lock_data d, curl_lock_access a, void *u)
{
	struct reg_http *h = u;

	(void)e;
	(void)a;
	if ((int)d >= 0 && d < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&h->share_locks[d]);
}

static void share_unlock(CURL *e, curl_lock_data d, void *u)
{
	struct reg_http *h = u;

	(void)e;
	if ((int)d >= 0 && d < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&h->share_locks[d]);
}

int reg_http_new(const struct reg_http_opts *o, struct reg_http **out)
{
	struct reg_http *h;

	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return -EIO;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&h->share_locks[i], NULL);
	pthread_mutex_init(&h->pool_lock, NULL);
	pthread_cond_init(&h->pool_cond, NULL);
	h->max = o->max_parallel ? o->max_parallel : 8;
	h->insecure = o->insecure;
	h->connect_timeout_ms = o->connect_timeout_ms;
	h->stall_timeout_ms = o->stall_timeout_ms;
	h->idle = calloc(h->max, sizeof(*h->idle));
	h->ca_file = o->ca_file ? strdup(o->ca_file) : NULL;
	h->user_agent = o->user_agent ? strdup(o->user_agent) : NULL;
	h->share = curl_share_init();
	if (!h->idle || !h->share || (o->ca_file && !h->ca_file) ||
	    (o->user_agent && !h->user_agent))
		goto out_free;
	curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(h->share, CURLSHOPT_USERDATA, h);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	*out = h;
	return 0;
out_free:
	reg_http_free(h);
	return -ENOMEM;
}

void reg_http_free(struct reg_http *h)
{
	if (!h)
		return;
	for (size_t i = 0; i < h->n_idle; i++)
		curl_easy_cleanup(h->idle[i]);
	if (h->share)
		curl_share_cleanup(h->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&h->share_locks[i]);
	pthread_mutex_destroy(&h->pool_lock);
	pthread_cond_destroy(&h->pool_cond);
	free(h->idle);
	free(h->ca_file);
	free(h->user_agent);
	free(h);
}

static CURL *handle_get(struct reg_http *h)
{
	CURL *e = NULL;

	pthread_mutex_lock(&h->pool_lock);
	while (h->in_use >= h->max)
		pthread_cond_wait(&h->pool_cond, &h->pool_lock);
	if (h->n_idle)
		e = h->idle[--h->n_idle];
	h->in_use++;
	pthread_mutex_unlock(&h->pool_lock);
	if (!e)
		e = curl_easy_init();
	if (!e)
		goto out_release_slot;
	return e;
out_release_slot:
	pthread_mutex_lock(&h->pool_lock);
	h->in_use--;
	pthread_cond_signal(&h->pool_cond);
	pthread_mutex_unlock(&h->pool_lock);
	return NULL;
}

static void handle_put(struct reg_http *h, CURL *e)
{
	curl_easy_reset(e);
	pthread_mutex_lock(&h->pool_lock);
	if (h->n_idle < h->max)
		h->idle[h->n_idle++] = e;
	else
		curl_easy_cleanup(e);
	h->in_use--;
	pthread_cond_signal(&h->pool_cond);
	pthread_mutex_unlock(&h->pool_lock);
}

void reg_http_resp_release(struct reg_http_resp *r)
{
	if (!r)
		return;
	free(r->content_type);
	free(r->docker_digest);
	free(r->location);
	free(r->retry_after);
	free(r->content_range);
	free(r->filters_applied);
	free(r->link);
	free(r->warning);
	for (size_t i = 0; i < r->n_challenges; i++)
		free(r->challenges[i]);
	dbuf_release(&r->errbody);
	free(r->effective_url);
	memset(r, 0, sizeof(*r));
}

/* ---- one exchange ------------------------------------------------------ */

struct xfer {
	const struct reg_http_req *req;
	struct reg_http_resp *resp;
	uint64_t skip;      /* bytes still to drop (a 200 that ignored the range) */
	uint64_t remaining; /* bytes still wanted when range_len != 0 */
	bool started;       /* first body byte seen for this status */
	bool done;          /* stopped on purpose: everything wanted arrived */
	int err;            /* why the write callback stopped */
	unsigned stall_ms;  /* abort when no byte arrived for this long */
	uint64_t last_ms;   /* when the byte count last moved */
	curl_off_t last_now;
};

static void headers_reset(struct reg_http_resp *r)
{
	long status = r->status;
	struct dbuf eb = r->errbody;
	char *eff = r->effective_url;

	r->errbody = (struct dbuf){ 0 };
	r->effective_url = NULL;
	reg_http_resp_release(r);
	r->status = status;
	r->errbody = eb;
	dbuf_reset(&r->errbody);
	r->effective_url = eff;
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
 * The first bytes of @p[@n] as a string in @tmp, for strtol()/strtoull():
 * curl does not promise a NUL after a header line, and those would read on
 * past it (over "\r\n" into the next bytes when the value is empty).
 * fuzz_resp_headers checks it (the byte after each line differs).
 */
static const char *bounded(char tmp[32], const char *p, size_t n)
{
	snprintf(tmp, 32, "%.*s", (int)(n < 32 ? n : 31), p);
	return tmp;
}

static void header_value(struct reg_http_resp *r, const char *name, size_t nlen, const char *v,
			 size_t vlen)
{
	char num[32];

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
	} else if (IS("oci-filters-applied")) {
		set_str(&r->filters_applied, v, vlen);
	} else if (IS("link")) {
		set_str(&r->link, v, vlen);
	} else if (IS("warning") && !r->warning) {
		set_str(&r->warning, v, vlen);
	} else if (IS("content-length")) {
		/* digits only: "-1" or "12abc" is no length (strtoull takes both) */
		const char *digits = bounded(num, v, vlen);
		char *end = NULL;

		errno = 0;
		r->content_length = strtoull(digits, &end, 10);
		r->has_length = vlen < sizeof(num) && digits[0] >= '0' && digits[0] <= '9' &&
				end && *end == '\0' && errno == 0;
		if (!r->has_length)
			r->content_length = 0;
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
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	if ((size_t)(end - v) > REG_MAX_HEADER_VALUE)
		return; /* ignored: no header we use is that long */
	header_value(r, buf, (size_t)(colon - buf), v, (size_t)(end - v));
}

static size_t on_header(char *buf, size_t size, size_t n, void *u)
{
	struct xfer *x = u;
	size_t len = size * n;

	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		const char *sp = memchr(buf, ' ', len);
		char num[32];

		headers_reset(x->resp);
		x->resp->status = sp ? strtol(bounded(num, sp + 1, len - (size_t)(sp + 1 - buf)),
					      NULL, 10) : 0;
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

/* Offset of @needle (lowercase) in @s[0..n) ignoring case, or SIZE_MAX. */
static size_t find_ci(const char *s, size_t n, const char *needle)
{
	size_t k = strlen(needle);

	for (size_t i = 0; i + k <= n; i++)
		if (strncasecmp(s + i, needle, k) == 0)
			return i;
	return SIZE_MAX;
}

/*
 * Stall detection, exact: curl's LOW_SPEED_* averages over a window, so a
 * burst followed by silence is noticed seconds late; this counts from the
 * last byte (or from the start).
 */
static int on_progress(void *u, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct xfer *x = u;
	uint64_t now = reg_now_ms();

	(void)dltotal;
	(void)ultotal;
	if (dlnow + ulnow != x->last_now) {
		x->last_now = dlnow + ulnow;
		x->last_ms = now;
		return 0;
	}
	if (now - x->last_ms < x->stall_ms)
		return 0;
	x->err = -ETIMEDOUT;
	return 1;
}

static int on_debug(CURL *e, curl_infotype type, char *data, size_t size, void *u)
{
	(void)e;
	(void)u;
	if (type != CURLINFO_TEXT && type != CURLINFO_HEADER_IN && type != CURLINFO_HEADER_OUT)
		return 0;
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

static int map_curl(CURLcode rc, const struct xfer *x)
{
	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_WRITE_ERROR:
		return x->done ? 0 : x->err ? x->err : -EIO;
	case CURLE_ABORTED_BY_CALLBACK:
		return x->err ? x->err : -EIO;
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
	case CURLE_HTTP2_STREAM:
		return -ECONNRESET;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

static struct curl_slist *build_headers(const struct reg_http_req *req)
{
	struct curl_slist *l = NULL, *t;
	char line[REG_MAX_HEADER_VALUE + 64];

	t = curl_slist_append(l, "Expect:");
	if (!t)
		return NULL;
	l = t;
	if (req->post_type) {
		snprintf(line, sizeof(line), "Content-Type: %s", req->post_type);
		t = curl_slist_append(l, line);
		if (!t)
			goto out_free;
		l = t;
	}
	if (req->accept) {
		snprintf(line, sizeof(line), "Accept: %s", req->accept);
		t = curl_slist_append(l, line);
		if (!t)
			goto out_free;
		l = t;
	}
	if (req->authorization) {
		struct dbuf b;

		dbuf_init(&b, REG_MAX_TOKEN_SIZE + 64);
		if (dbuf_printf(&b, "Authorization: %s", req->authorization) < 0) {
			dbuf_release(&b);
			goto out_free;
		}
		t = curl_slist_append(l, b.data);
		dbuf_release(&b);
		if (!t)
			goto out_free;
		l = t;
	}
	return l;
out_free:
	curl_slist_free_all(l);
	return NULL;
}

void reg_http_transport(void *easy, const char *url, void *headers, bool insecure,
			const char *ca_file, unsigned connect_timeout_ms, long stall_s)
{
	CURL *e = easy;

	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, (struct curl_slist *)headers);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "stratafs/0.1");
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, insecure ? "http,https" : "https");
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, insecure ? 0L : 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, insecure ? 0L : 2L);
	if (ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, ca_file);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, stall_s > 0 ? stall_s : 1L);
}

static void set_options(struct reg_http *h, CURL *e, const struct reg_http_req *req,
			struct xfer *x, struct curl_slist *hdrs, char *range, size_t range_sz)
{
	long stall_s = (long)((h->stall_timeout_ms + 999) / 1000);

	curl_easy_setopt(e, CURLOPT_SHARE, h->share);
	reg_http_transport(e, req->url, hdrs, h->insecure, h->ca_file, h->connect_timeout_ms, stall_s);
	if (h->user_agent)
		curl_easy_setopt(e, CURLOPT_USERAGENT, h->user_agent);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)req->timeout_ms);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->resp->error);
	x->stall_ms = h->stall_timeout_ms;
	x->last_ms = reg_now_ms();
	curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);
	if (strcmp(req->method, "HEAD") == 0) {
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	} else if (strcmp(req->method, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)req->post_len);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->post_body);
	}
	else
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	if (req->has_range) {
		if (req->range_len)
			snprintf(range, range_sz, "%" PRIu64 "-%" PRIu64, req->range_start,
				 req->range_start + req->range_len - 1);
		else
			snprintf(range, range_sz, "%" PRIu64 "-", req->range_start);
		curl_easy_setopt(e, CURLOPT_RANGE, range);
	}
	if (log_enabled(LOG_LVL_DEBUG)) {
		curl_easy_setopt(e, CURLOPT_VERBOSE, 1L);
		curl_easy_setopt(e, CURLOPT_DEBUGFUNCTION, on_debug);
	}
}

int reg_http_perform(struct reg_http *h, const struct reg_http_req *req, struct reg_http_resp *resp)
{
	struct xfer x = { .req = req, .resp = resp };
	struct curl_slist *hdrs = NULL;
	char range[64];
	CURLcode rc;
	CURL *e;
	int r;

	memset(resp, 0, sizeof(*resp));
	dbuf_init(&resp->errbody, REG_MAX_ERROR_BODY);
	resp->effective_url = strdup(req->url);
	if (!resp->effective_url)
		return -ENOMEM;
	hdrs = build_headers(req);
	if (!hdrs)
		return -ENOMEM;
	e = handle_get(h);
	if (!e) {
		r = -ENOMEM;
		goto out_free_headers;
	}
	set_options(h, e, req, &x, hdrs, range, sizeof(range));
	rc = curl_easy_perform(e);
	r = map_curl(rc, &x);
	if (r == -ECONNRESET && resp->status >= 300) {
		/* the status is the answer; a truncated error body does not matter
		 * (distribution's 416 announces a Content-Length it never sends) */
		r = 0;
	}
	if (rc == CURLE_WRITE_ERROR && x.err)
		snprintf(resp->error, sizeof(resp->error), "%s", strerror(-x.err));
	if (rc == CURLE_ABORTED_BY_CALLBACK && x.err == -ETIMEDOUT)
		snprintf(resp->error, sizeof(resp->error), "no data for %u ms", x.stall_ms);
	if (r < 0 && !resp->error[0])
		snprintf(resp->error, sizeof(resp->error), "%s", curl_easy_strerror(rc));
	if (r < 0)
		log_debug("%s '%.*s': %s", req->method, (int)strcspn(req->url, "?"), req->url,
			  resp->error);
	handle_put(h, e);
out_free_headers:
	curl_slist_free_all(hdrs);
	return r;
}

/* ---- URLs -------------------------------------------------------------- */

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
