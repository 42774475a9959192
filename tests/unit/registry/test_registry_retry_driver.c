/* SPDX-License-Identifier: MIT */
/*
 * The retry driver (registry/retry.c) under scripted attempts: which
 * outcomes are retried (transport errors, HTTP statuses, the -errno of an
 * upload or an AWS call), the attempt count, Retry-After honoured (and a
 * wait longer than allowed refused), the deadline respected, progress
 * renewing the budget; the CURLcode table's verdict on an HTTP/2 stream
 * reset; jitter from several threads.
 */
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "common/clock.h"
#include "registry/registry_int.h"
#include "tap.h"

#define MAX_STEPS 16

/* What each attempt answers, in order (the last one repeats). */
struct step {
	int r;
	long status;
	const char *retry_after; /* header value, or NULL */
	bool progressed;
};

struct script {
	const struct step *steps;
	unsigned n_steps, calls;
	unsigned n_deadline0; /* attempts that saw no deadline */
};

static unsigned slept[MAX_STEPS], n_slept;

static void record_sleep(unsigned ms)
{
	if (n_slept < MAX_STEPS)
		slept[n_slept] = ms;
	n_slept++;
}

static void real_sleep(unsigned ms)
{
	record_sleep(ms);
	sleep_ns((uint64_t)ms * NS_PER_MS);
}

static int scripted(void *ctx, struct reg_attempt *a)
{
	struct script *s = ctx;
	const struct step *st = &s->steps[s->calls < s->n_steps ? s->calls : s->n_steps - 1];
	struct reg_http_resp resp = { .status = st->status, .retry_after = (char *)st->retry_after };

	s->calls++;
	if (!a->deadline_ns)
		s->n_deadline0++;
	if (st->status)
		reg_attempt_saw(a, &resp); /* as the read and upload attempts do */
	a->progressed = st->progressed;
	return st->r;
}

static int run(const struct reg_retry_policy *p, struct script *s)
{
	n_slept = 0;
	s->calls = 0;
	s->n_deadline0 = 0;
	return reg_retry_run(p, scripted, s);
}

#define SCRIPT(...)                                                                              \
	(struct script){ .steps = (const struct step[]){ __VA_ARGS__ },                          \
			 .n_steps = sizeof((const struct step[]){ __VA_ARGS__ }) /               \
				    sizeof(struct step) }

static void which_retry(void)
{
	static const int yes[] = { -ETIMEDOUT, -EHOSTUNREACH, -ECONNRESET, -ECONNREFUSED, -EAGAIN };
	static const int no[] = { 0, -EACCES, -ENOENT, -EBADMSG, -EFBIG, -EIO, -EINVAL, -ERANGE };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		ok(reg_retry_wanted(yes[i], 0), "%s is retried", strerror(-yes[i]));
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		ok(!reg_retry_wanted(no[i], 0), "%s is final", no[i] ? strerror(-no[i]) : "success");
	ok(reg_retry_wanted(0, 503) && reg_retry_wanted(0, 429) && reg_retry_wanted(0, 408),
	   "a read answered 503, 429 or 408 is retried");
	ok(!reg_retry_wanted(0, 404) && !reg_retry_wanted(0, 200) && !reg_retry_wanted(0, 501),
	   "a read answered 404, 200 or 501 is not");
	ok(reg_retry_wanted(-EAGAIN, 503), "an upload's 503 (-EAGAIN) is retried");
	ok(reg_retry_wanted(-EAGAIN, 400), "ECR throttling (400, -EAGAIN) is retried");
	ok(!reg_retry_wanted(-EACCES, 403), "an upload's 403 is not");
	is_int(reg_http_curl_errno(CURLE_HTTP2_STREAM), -ECONNRESET,
	       "an HTTP/2 stream reset is a dropped connection");
	ok(reg_retry_wanted(reg_http_curl_errno(CURLE_HTTP2_STREAM), 0),
	   "... so an upload reset mid-stream is retried");
	ok(reg_retry_wanted(reg_http_curl_errno(CURLE_HTTP2), 0) &&
		   reg_retry_wanted(reg_http_curl_errno(CURLE_SEND_ERROR), 0) &&
		   reg_retry_wanted(reg_http_curl_errno(CURLE_COULDNT_CONNECT), 0),
	   "HTTP/2 framing, send errors and refused connections are retried");
	ok(!reg_retry_wanted(reg_http_curl_errno(CURLE_PEER_FAILED_VERIFICATION), 0) &&
		   !reg_retry_wanted(reg_http_curl_errno(CURLE_SSL_CACERT_BADFILE), 0) &&
		   !reg_retry_wanted(reg_http_curl_errno(CURLE_UNSUPPORTED_PROTOCOL), 0),
	   "TLS failures and refused schemes are not");
}

static void attempts(void)
{
	struct reg_retry_policy p = { .what = "t", .retries = 3, .base_ms = 1, .cap_ms = 4,
				      .sleep_ms = record_sleep };
	_Atomic uint64_t counter = 0;
	struct script s;

	s = SCRIPT({ .r = -ECONNRESET }, { .r = 0, .status = 200 });
	is_int(run(&p, &s), 0, "a reset then success: success");
	ok(s.calls == 2 && n_slept == 1, "two attempts, one wait");
	s = SCRIPT({ .r = -EACCES, .status = 403 });
	is_int(run(&p, &s), -EACCES, "a refusal is final");
	ok(s.calls == 1 && n_slept == 0, "one attempt, no wait");
	s = SCRIPT({ .r = -EAGAIN });
	p.n_retries = &counter;
	is_int(run(&p, &s), -EAGAIN, "always throttled: the last error");
	ok(s.calls == 4 && n_slept == 3, "retries = 3: four attempts");
	ok(atomic_load(&counter) == 3, "each retry counted");
	p.n_retries = NULL;
	for (unsigned i = 0; i < 3 && i < n_slept; i++)
		ok(slept[i] >= (1u << i) / 2 && slept[i] <= (1u << i), "wait %u within [d/2, d]", i);
	s = SCRIPT({ .r = 0, .status = 502 }, { .r = 0, .status = 206 });
	is_int(run(&p, &s), 0, "a read answered 502 is tried again");
	ok(s.calls == 2, "until it is answered 206");
	ok(s.n_deadline0 == 2, "no budget: no deadline given to the attempts");
	p.retries = 0;
	s = SCRIPT({ .r = -ETIMEDOUT });
	is_int(run(&p, &s), -ETIMEDOUT, "retries = 0: one attempt");
	ok(s.calls == 1 && n_slept == 0, "and no wait");
}

static void retry_after(void)
{
	struct reg_retry_policy p = { .what = "t", .retries = 2, .base_ms = 1, .cap_ms = 2,
				      .sleep_ms = record_sleep };
	struct script s;

	s = SCRIPT({ .r = 0, .status = 503, .retry_after = "3" }, { .r = 0, .status = 200 });
	is_int(run(&p, &s), 0, "read: 503 with Retry-After: 3, then 200");
	ok(n_slept == 1 && slept[0] == 3000, "waited the 3 s asked for (%u ms)", slept[0]);
	s = SCRIPT({ .r = -EAGAIN, .status = 429, .retry_after = "2" }, { .r = 0 });
	is_int(run(&p, &s), 0, "upload: 429 (-EAGAIN) with Retry-After: 2, then done");
	ok(n_slept == 1 && slept[0] == 2000, "waited the 2 s asked for (%u ms)", slept[0]);
	s = SCRIPT({ .r = -EAGAIN, .status = 503, .retry_after = "0" }, { .r = 0 });
	run(&p, &s);
	ok(n_slept == 1 && slept[0] <= 2, "Retry-After: 0 leaves the backoff as it is");
	s = SCRIPT({ .r = -EAGAIN, .status = 503, .retry_after = "3600" }, { .r = 0 });
	is_int(run(&p, &s), -EAGAIN, "Retry-After: 3600 is longer than we wait");
	ok(s.calls == 1 && n_slept == 0, "given up at once, not retried early");
	s = SCRIPT({ .r = -EAGAIN, .status = 503, .retry_after = "soon" }, { .r = 0 });
	is_int(run(&p, &s), 0, "an unparsable Retry-After: the backoff applies");
	ok(n_slept == 1 && slept[0] <= 2, "a backoff-sized wait");
}

static void deadline(void)
{
	struct reg_retry_policy p = { .what = "t", .retries = 100, .base_ms = 20, .cap_ms = 20,
				      .budget_ms = 100, .sleep_ms = real_sleep };
	struct script s;
	uint64_t t0;

	s = SCRIPT({ .r = -ETIMEDOUT });
	t0 = monotonic_ns();
	is_int(run(&p, &s), -ETIMEDOUT, "always timing out: the error");
	ok(monotonic_ns() - t0 < 150 * NS_PER_MS, "within the 100 ms budget (+ slack)");
	ok(s.calls >= 3 && s.calls < 100, "several attempts, far fewer than the retries (%u)",
	   s.calls);
	ok(s.n_deadline0 == 0, "each attempt was given the deadline");
	p.sleep_ms = record_sleep;
	s = SCRIPT({ .r = 0, .status = 503, .retry_after = "1" }, { .r = 0, .status = 200 });
	is_int(run(&p, &s), 0, "a 503 asking for 1 s with 100 ms of budget");
	ok(s.calls == 1 && n_slept == 0, "is not waited for: the deadline comes first");
	p.budget_ms = 60;
	p.progress_renews = true;
	p.retries = 1;
	p.sleep_ms = real_sleep;
	s = SCRIPT({ .r = -ECONNRESET, .progressed = true }, { .r = -ECONNRESET, .progressed = true },
		   { .r = -ECONNRESET, .progressed = true }, { .r = -ECONNRESET, .progressed = true },
		   { .r = 0, .status = 206 });
	is_int(run(&p, &s), 0, "a stream that keeps moving");
	ok(s.calls == 5, "is resumed past the retry count and the budget (%u attempts)", s.calls);
}

static void *jitter_thread(void *arg)
{
	uint32_t *out = arg;

	for (int i = 0; i < 1000; i++)
		out[i] = reg_jitter32();
	return NULL;
}

static void jitter(void)
{
	static uint32_t vals[4][1000];
	pthread_t t[4];
	size_t same = 0;

	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, jitter_thread, vals[i]);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	for (int i = 1; i < 4; i++)
		for (int k = 0; k < 1000; k++)
			same += vals[i][k] == vals[0][k];
	ok(same < 10, "four threads draw different jitter (%zu equal)", same);
}

int main(void)
{
	which_retry();
	attempts();
	retry_after();
	deadline();
	jitter();
	return tap_done();
}
