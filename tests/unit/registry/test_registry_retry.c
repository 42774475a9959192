/* SPDX-License-Identifier: MIT */
/*
 * Retry policy: backoff bounds, Retry-After, retryable statuses; presigned
 * URL lifetimes, the redirect cache, and URL origins (what decides whether
 * credentials may be sent).
 */
#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "registry/registry_int.h"
#include "tap.h"

static void backoff(void)
{
	bool in_bounds = true, varies = false;
	unsigned first = reg_backoff_ms(3, 100, 5000, 0);

	for (unsigned a = 0; a < 40; a++) {
		uint64_t d = 100;

		for (unsigned i = 0; i < a && d < 5000; i++)
			d *= 2;
		if (d > 5000)
			d = 5000;
		for (uint32_t rnd = 0; rnd < 2000; rnd += 7) {
			unsigned v = reg_backoff_ms(a, 100, 5000, rnd * 2654435761u);

			if (v < d / 2 || v > d)
				in_bounds = false;
		}
	}
	ok(in_bounds, "every delay within [d/2, d] of the capped exponential");
	for (uint32_t rnd = 1; rnd < 100; rnd++)
		if (reg_backoff_ms(3, 100, 5000, rnd) != first)
			varies = true;
	ok(varies, "jitter varies with the random input");
	is_int(reg_backoff_ms(0, 100, 5000, 0), 50, "first retry, low end: 50 ms");
	is_int(reg_backoff_ms(0, 100, 5000, 50), 100, "first retry, high end: 100 ms");
	ok(reg_backoff_ms(1000, 100, 5000, UINT32_MAX) <= 5000, "huge attempt stays capped");
	is_int(reg_backoff_ms(5, 0, 5000, 99), 0, "zero base: no delay");
}

static void retry_after(void)
{
	time_t now = 1764300000; /* 2025-11-28T03:20:00Z */
	uint64_t ms = 1;

	ok(reg_retry_after_ms("120", now, &ms) == 0 && ms == 120000, "delta seconds");
	ok(reg_retry_after_ms(" 0", now, &ms) == 0 && ms == 0, "zero seconds");
	ok(reg_retry_after_ms("Fri, 28 Nov 2025 03:20:30 GMT", now, &ms) == 0 && ms == 30000,
	   "IMF-fixdate 30 s ahead");
	ok(reg_retry_after_ms("Friday, 28-Nov-25 03:21:00 GMT", now, &ms) == 0 && ms == 60000,
	   "RFC 850 date");
	ok(reg_retry_after_ms("Fri Nov 28 03:20:10 2025", now, &ms) == 0 && ms == 10000,
	   "asctime date");
	ok(reg_retry_after_ms("Fri, 28 Nov 2025 03:19:00 GMT", now, &ms) == 0 && ms == 0,
	   "a date in the past means now");
	is_int(reg_retry_after_ms("soon", now, &ms), -EINVAL, "junk rejected");
	is_int(reg_retry_after_ms("-5", now, &ms), -EINVAL, "negative rejected");
	is_int(reg_retry_after_ms("12abc", now, &ms), -EINVAL, "trailing junk rejected");
	is_int(reg_retry_after_ms("99999999999999999999", now, &ms), -EINVAL, "overflow rejected");
	is_int(reg_retry_after_ms("", now, &ms), -EINVAL, "empty rejected");
	is_int(reg_retry_after_ms(NULL, now, &ms), -EINVAL, "absent");
}

static void statuses(void)
{
	static const long yes[] = { 408, 429, 500, 502, 503, 504, 599 };
	static const long no[] = { 200, 206, 301, 400, 401, 403, 404, 416, 501, 505 };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		ok(reg_status_is_retryable(yes[i]), "HTTP %ld is retried", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		ok(!reg_status_is_retryable(no[i]), "HTTP %ld is final", no[i]);
	ok(reg_err_is_retryable(-ETIMEDOUT) && reg_err_is_retryable(-ECONNRESET) &&
		   reg_err_is_retryable(-EHOSTUNREACH),
	   "network errors are retried");
	ok(!reg_err_is_retryable(-EBADMSG) && !reg_err_is_retryable(-EFBIG) &&
		   !reg_err_is_retryable(-EIO) && !reg_err_is_retryable(-EACCES),
	   "verification, size, TLS and auth failures are not");
	is_int(reg_status_to_errno(404), -ENOENT, "404 -> ENOENT");
	is_int(reg_status_to_errno(401), -EACCES, "401 -> EACCES");
	is_int(reg_status_to_errno(403), -EACCES, "403 -> EACCES");
	is_int(reg_status_to_errno(416), -ERANGE, "416 -> ERANGE");
	is_int(reg_status_to_errno(429), -EAGAIN, "429 -> EAGAIN");
	is_int(reg_status_to_errno(503), -EAGAIN, "503 -> EAGAIN");
	is_int(reg_status_to_errno(400), -EIO, "400 -> EIO");
}

static void presigned(void)
{
	time_t now = 1741083302; /* 2025-03-04T10:15:02Z */
	const char *u1 = "https://b.s3.amazonaws.com/x?X-Amz-Algorithm=AWS4-HMAC-SHA256"
			 "&X-Amz-Date=20250304T101502Z&X-Amz-Expires=3600&X-Amz-Signature=ab";
	const char *u2 = "https://b.s3.amazonaws.com/x?X-Amz-Date=20250304T091502Z&X-Amz-Expires=3600";
	const char *u3 = "https://storage.example.com/blob";
	const char *u4 = "https://g.example.com/o?X-Goog-Date=20250304T101502Z&X-Goog-Expires=600";
	const char *u5 = "https://b/x?X-Amz-Date=garbage&X-Amz-Expires=3600";

	is_int(reg_presigned_ttl_ms(u1, now), (3600 - 30) * 1000, "X-Amz-Date + X-Amz-Expires - margin");
	is_int(reg_presigned_ttl_ms(u2, now), 0, "expired URL: not cached");
	is_int(reg_presigned_ttl_ms(u3, now), REG_REDIRECT_DEFAULT_TTL * 1000, "unsigned: default");
	is_int(reg_presigned_ttl_ms(u4, now), (600 - 30) * 1000, "X-Goog-Date + X-Goog-Expires");
	is_int(reg_presigned_ttl_ms(u5, now), REG_REDIRECT_DEFAULT_TTL * 1000, "bad date: default");
}

static void origin_is(const char *url, const char *want)
{
	char *o = NULL;

	ok(reg_url_origin(url, &o) == 0, "origin of '%s'", url);
	is_str(o, want, "origin of '%s'", url);
	free(o);
}

static void resolve_is(const char *base, const char *loc, const char *want)
{
	char *u = NULL;

	ok(reg_url_resolve(base, loc, &u) == 0, "resolve '%s'", loc);
	is_str(u, want, "resolve '%s' against '%s'", loc, base);
	free(u);
}

static void urls(void)
{
	const char *base = "https://r.io:5000/v2/x/blobs/sha256:ab";
	char *o = NULL;

	origin_is("https://R.io/v2/", "https://r.io:443");
	origin_is("https://r.io:443/v2/", "https://r.io:443");
	origin_is("http://r.io/v2/", "http://r.io:80");
	origin_is("https://127.0.0.1:5000/v2/x", "https://127.0.0.1:5000");
	origin_is("https://[::1]:5000/v2/x", "https://[::1]:5000");
	origin_is("https://b.s3.amazonaws.com/x?X-Amz-Date=1", "https://b.s3.amazonaws.com:443");
	ok(reg_url_origin("not a url", &o) < 0, "junk has no origin");
	resolve_is(base, "/storage/a?sig=1", "https://r.io:5000/storage/a?sig=1");
	resolve_is(base, "//other.io/a", "https://other.io/a");
	resolve_is(base, "http://s3.io/b?X-Amz-Signature=x%2Fy",
		   "http://s3.io/b?X-Amz-Signature=x%2Fy");
	resolve_is(base, "c", "https://r.io:5000/v2/x/blobs/c");
}

static void redirect_cache(void)
{
	struct reg_opts o;
	struct reg_ref ref = { 0 };
	struct reg_client *c = NULL;
	char *url = NULL;
	const char *d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111";

	reg_opts_init(&o);
	o.docker_config = "/nonexistent/config.json";
	if (!ok(reg_ref_parse("r.example.com/x:t", &ref) == 0 && reg_client_new(&o, &ref, &c) == 0,
		"client without network"))
		return;
	is_int(reg_redirect_get(c, d1, &url), -ENOENT, "empty cache");
	reg_redirect_put(c, d1, "https://s3/x?X-Amz-Date=20200101T000000Z&X-Amz-Expires=60");
	is_int(reg_redirect_get(c, d1, &url), -ENOENT, "an expired presigned URL is not cached");
	reg_redirect_put(c, d1, "https://s3/plain");
	ok(reg_redirect_get(c, d1, &url) == 0, "cached");
	is_str(url, "https://s3/plain", "the target");
	free(url);
	url = NULL;
	reg_redirect_put(c, d1, "https://s3/newer");
	ok(reg_redirect_get(c, d1, &url) == 0 && strcmp(url, "https://s3/newer") == 0,
	   "replaced, not duplicated");
	free(url);
	for (int i = 0; i < 2 * REG_REDIRECT_SLOTS; i++) {
		char d[DIGEST_STR_LEN];

		snprintf(d, sizeof(d), "sha256:%064d", i);
		reg_redirect_put(c, d, "https://s3/many");
	}
	ok(1, "more blobs than slots: bounded, no crash");
	reg_redirect_drop(c, d1);
	reg_redirect_drop(c, d1);
	is_int(reg_redirect_get(c, d1, &url), -ENOENT, "dropped");
	reg_client_free(c);
	reg_ref_release(&ref);
}

int main(void)
{
	urls();
	redirect_cache();
	backoff();
	retry_after();
	statuses();
	presigned();
	return tap_done();
}
