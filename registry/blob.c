/* SPDX-License-Identifier: MIT */
/*
 * Blobs: HEAD, small whole blobs (verified), single-range reads and long
 * ranged streams (not verified: a range has no digest), and whole streams
 * hashed on the fly; all resumed with Range after a dropped connection
 * (request.c moves the range start forward; http_perform.c skips the
 * prefix if the server ignores it).
 * Every GET names its blob so that the redirect target is cached.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "registry/registry_int.h"

static int blob_url(struct reg_client *c, const char *digest, char **url)
{
	if (!digest_is_valid(digest)) {
		log_err("invalid blob digest '%s'", digest);
		return -EINVAL;
	}
	return reg_client_url(c, "blobs", digest, url);
}

/* Size from "bytes 0-0/<total>" of a one-byte GET: the HEAD fallback. */
static int size_by_range(struct reg_client *c, const char *url, const char *what, uint64_t *size)
{
	struct reg_call call = { .method = "GET", .url = url, .what = what, .bounded = true,
				 .has_range = true, .range_start = 0, .range_len = 1 };
	struct reg_http_resp resp = { 0 };
	struct dbuf one;
	const char *slash;
	int r;

	dbuf_init(&one, 1);
	call.body = &one;
	r = reg_request(c, &call, &resp);
	if (r == 0) {
		slash = resp.content_range ? strrchr(resp.content_range, '/') : NULL;
		if (resp.status == 200 && resp.has_length)
			*size = resp.content_length;
		else if (slash && slash[1] >= '0' && slash[1] <= '9')
			*size = strtoull(slash + 1, NULL, 10);
		else
			r = -EBADMSG;
	}
	reg_http_resp_release(&resp);
	dbuf_release(&one);
	return r;
}

int reg_blob_head(struct reg_client *c, const char *digest, uint64_t *size)
{
	struct reg_call call = { .method = "HEAD", .bounded = true, .quiet_404 = true };
	struct reg_http_resp resp = { 0 };
	char what[128];
	char *url = NULL;
	int r;

	r = blob_url(c, digest, &url);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "blob '%s'", digest);
	call.url = url;
	call.what = what;
	r = reg_request(c, &call, &resp);
	if (r == 0 && !resp.has_length)
		r = -EBADMSG;
	if (r == 0)
		*size = resp.content_length;
	reg_http_resp_release(&resp);
	if (r == -EACCES || r == -EIO || r == -EBADMSG) {
		log_info("blob HEAD refused: trying a one-byte GET for '%s'", digest);
		r = size_by_range(c, url, what, size);
	}
	free(url);
	return r;
}

int reg_blob_get(struct reg_client *c, const char *digest, size_t max, char **buf, size_t *len)
{
	struct reg_call call = { .method = "GET", .bounded = true, .blob = digest };
	struct reg_http_resp resp = { 0 };
	uint8_t h[DIGEST_SHA256_LEN];
	char got[DIGEST_STR_LEN];
	char what[128];
	char *url = NULL;
	struct dbuf body;
	int r;

	r = blob_url(c, digest, &url);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "blob '%s'", digest);
	dbuf_init(&body, max);
	call.url = url;
	call.what = what;
	call.body = &body;
	r = reg_request(c, &call, &resp);
	if (r < 0)
		goto out_release;
	digest_sha256(body.data ? body.data : "", body.len, h);
	digest_format(h, got);
	if (strcmp(got, digest) != 0) {
		log_err("blob '%s' does not match its digest (got '%s')", digest, got);
		atomic_fetch_add(&c->n_errors, 1);
		r = -EBADMSG;
		goto out_release;
	}
	*buf = dbuf_take(&body, len);
	r = *buf ? 0 : -ENOMEM;
out_release:
	reg_http_resp_release(&resp);
	dbuf_release(&body);
	free(url);
	return r;
}

struct read_ctx {
	char *buf;
	size_t cap;
	size_t got;
};

static int read_sink(void *u, const void *p, size_t n)
{
	struct read_ctx *rc = u;

	if (n > rc->cap - rc->got)
		return -EBADMSG; /* more than asked: http_perform.c trims, so never */
	memcpy(rc->buf + rc->got, p, n);
	rc->got += n;
	return 0;
}

/*
 * One GET of [@off, @off + @len) into @sink; @bounded: the whole request
 * within io_timeout (a read), else only stalls time out (a stream).
 */
static int range_get(struct reg_client *c, const char *digest, uint64_t off, uint64_t len,
		     bool bounded, reg_sink_fn sink, void *ctx)
{
	struct reg_call call = { .method = "GET", .bounded = bounded, .blob = digest,
				 .has_range = true, .range_start = off, .range_len = len,
				 .sink = sink, .sink_ctx = ctx };
	struct reg_http_resp resp = { 0 };
	char what[160];
	char *url = NULL;
	int r;

	if (off > UINT64_MAX - len)
		return -EINVAL;
	r = blob_url(c, digest, &url);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "blob '%s' at %" PRIu64, digest, off);
	call.url = url;
	call.what = what;
	call.resume = true; /* a retry asks only for the bytes still missing */
	r = reg_request(c, &call, &resp);
	reg_http_resp_release(&resp);
	free(url);
	return r;
}

ssize_t reg_blob_read(struct reg_client *c, const char *digest, void *buf, size_t len, uint64_t off)
{
	struct read_ctx rc = { .buf = buf, .cap = len };
	int r;

	if (len == 0)
		return 0;
	if (len > SSIZE_MAX)
		return -EINVAL;
	r = range_get(c, digest, off, len, true, read_sink, &rc);
	return r < 0 ? r : (ssize_t)rc.got;
}

int reg_blob_read_stream(struct reg_client *c, const char *digest, uint64_t off, uint64_t len,
			 reg_sink_fn sink, void *ctx)
{
	return len ? range_get(c, digest, off, len, false, sink, ctx) : 0;
}

struct stream_ctx {
	struct digest_ctx *dc;
	reg_sink_fn sink;
	void *ctx;
};

static int stream_sink(void *u, const void *p, size_t n)
{
	struct stream_ctx *sc = u;
	int r = digest_ctx_update(sc->dc, p, n);

	return r < 0 ? r : sc->sink(sc->ctx, p, n);
}

int reg_blob_stream(struct reg_client *c, const char *digest, reg_sink_fn sink, void *ctx)
{
	struct stream_ctx sc = { .sink = sink, .ctx = ctx };
	struct reg_call call = { .method = "GET", .blob = digest, .resume = true,
				 .sink = stream_sink, .sink_ctx = &sc };
	struct reg_http_resp resp = { 0 };
	uint8_t h[DIGEST_SHA256_LEN];
	char got[DIGEST_STR_LEN];
	char what[128];
	char *url = NULL;
	int r;

	r = blob_url(c, digest, &url);
	if (r < 0)
		return r;
	r = digest_ctx_new(&sc.dc);
	if (r < 0)
		goto out_free_url;
	snprintf(what, sizeof(what), "blob '%s'", digest);
	call.url = url;
	call.what = what;
	r = reg_request(c, &call, &resp);
	reg_http_resp_release(&resp);
	if (r < 0)
		goto out_free_ctx;
	r = digest_ctx_final(sc.dc, h);
	if (r < 0)
		goto out_free_ctx;
	digest_format(h, got);
	if (strcmp(got, digest) != 0) {
		log_err("blob '%s' does not match its digest (got '%s')", digest, got);
		atomic_fetch_add(&c->n_errors, 1);
		r = -EBADMSG;
	}
out_free_ctx:
	digest_ctx_free(sc.dc);
out_free_url:
	free(url);
	return r;
}
