/* SPDX-License-Identifier: MIT */
/*
 * The retry driver and its policy (retry_int.h). Exponential backoff with
 * "equal jitter" (half fixed, half random: bounded below so a herd of
 * clients never hammers a recovering registry at once, bounded above by
 * the cap); a server's Retry-After wins when it asks for longer.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "registry/http_int.h"
#include "registry/retry_int.h"

unsigned reg_backoff_ms(unsigned attempt, unsigned base_ms, unsigned cap_ms, uint32_t rnd)
{
	uint64_t d = base_ms;
	uint64_t half;

	for (unsigned i = 0; i < attempt && d < cap_ms; i++)
		d *= 2;
	if (d > cap_ms)
		d = cap_ms;
	half = d / 2;
	return (unsigned)(d - half + (half ? rnd % (half + 1) : 0));
}

uint32_t reg_jitter32(void)
{
	/* splitmix64 over an atomic counter: every caller gets its own step, no
	 * lock; the counter starts from the clock so that processes differ */
	static _Atomic uint64_t state;
	uint64_t z = atomic_load(&state), seed;

	if (z == 0) {
		seed = monotonic_ns() | 1;
		atomic_compare_exchange_strong(&state, &z, seed);
	}
	z = atomic_fetch_add(&state, 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (uint32_t)((z ^ (z >> 31)) >> 16);
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* IMF-fixdate, then the obsolete RFC 850 and asctime forms (RFC 9110 §5.6.7). */
static int parse_http_date(const char *v, time_t *out)
{
	static const char *const fmts[] = {
		"%a, %d %b %Y %H:%M:%S GMT",
		"%A, %d-%b-%y %H:%M:%S GMT",
		"%a %b %e %H:%M:%S %Y",
	};

	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		struct tm tm = { 0 };
		const char *end = strptime(v, fmts[i], &tm);

		if (end && *end == '\0') {
			time_t t = timegm(&tm);

			if (t == (time_t)-1)
				return -EINVAL;
			*out = t;
			return 0;
		}
	}
	return -EINVAL;
}

int reg_retry_after_ms(const char *value, time_t now, uint64_t *ms)
{
	time_t when;

	if (!value)
		return -EINVAL;
	while (*value == ' ' || *value == '\t')
		value++;
	if (all_digits(value)) {
		unsigned long long s;

		if (strlen(value) > 9)
			return -EINVAL;
		s = strtoull(value, NULL, 10);
		*ms = s * 1000u;
		return 0;
	}
	if (parse_http_date(value, &when) < 0)
		return -EINVAL;
	*ms = when > now ? (uint64_t)(when - now) * 1000u : 0;
	return 0;
}

bool reg_status_is_retryable(long status)
{
	if (status == 408 || status == 429)
		return true;
	return status >= 500 && status <= 599 && status != 501 && status != 505;
}

bool reg_err_is_retryable(int err)
{
	switch (err) {
	case -ETIMEDOUT:
	case -EHOSTUNREACH:
	case -ECONNRESET:
	case -ECONNREFUSED:
	case -EAGAIN:
		return true;
	default:
		return false;
	}
}

bool reg_retry_wanted(int r, long status)
{
	/* a -errno that says "later" (ECR's throttling is a 400 with -EAGAIN), or the status */
	return reg_err_is_retryable(r) || (status && reg_status_is_retryable(status));
}

void reg_attempt_saw(struct reg_attempt *a, const struct reg_http_resp *resp)
{
	uint64_t ms;

	a->status = resp->status;
	a->has_retry_after = resp->retry_after &&
			     reg_retry_after_ms(resp->retry_after, time(NULL), &ms) == 0;
	a->retry_after_ms = a->has_retry_after ? ms : 0;
}

/* The wait before the next attempt, or false when there is to be none. */
static bool next_wait(const struct reg_retry_policy *p, int r, const struct reg_attempt *a,
		      unsigned attempt, uint64_t deadline, unsigned *delay)
{
	unsigned base = p->base_ms ? p->base_ms : REG_BACKOFF_BASE_MS;
	unsigned cap = p->cap_ms ? p->cap_ms : REG_BACKOFF_CAP_MS;

	if (a->final || !reg_retry_wanted(r, a->status) || attempt >= p->retries)
		return false;
	*delay = reg_backoff_ms(attempt, base, cap, reg_jitter32());
	if (a->has_retry_after && a->retry_after_ms > *delay) {
		if (a->retry_after_ms > REG_RETRY_AFTER_MAX_MS) {
			log_info("%s: the server asks to come back in %llu s: giving up", p->what,
				 (unsigned long long)(a->retry_after_ms / 1000));
			return false;
		}
		*delay = (unsigned)a->retry_after_ms;
	}
	return deadline == 0 || deadline_left_ns(deadline) > (uint64_t)*delay * NS_PER_MS;
}

static void log_retry(const struct reg_retry_policy *p, int r, const struct reg_attempt *a,
		      unsigned delay)
{
	if (a->status && (r == 0 || !a->why))
		log_info("retrying %s in %u ms (HTTP %ld)", p->what, delay, a->status);
	else
		log_info("retrying %s in %u ms (%s)", p->what, delay,
			 a->why && *a->why ? a->why : strerror(-r));
}

int reg_retry_run(const struct reg_retry_policy *p, reg_attempt_fn fn, void *ctx)
{
	uint64_t deadline = deadline_in_ms(p->budget_ms);
	unsigned attempt = 0, delay = 0;
	int r;

	for (unsigned n = 0;; n++) {
		struct reg_attempt a = { .n = n, .deadline_ns = deadline };

		r = fn(ctx, &a);
		if (a.progressed && p->progress_renews) {
			/* a stream that moves is not timed out: only stalls are */
			deadline = deadline_in_ms(p->budget_ms);
			attempt = 0;
		}
		if (!next_wait(p, r, &a, attempt, deadline, &delay))
			return r;
		log_retry(p, r, &a, delay);
		if (p->n_retries)
			atomic_fetch_add(p->n_retries, 1);
		if (p->sleep_ms)
			p->sleep_ms(delay);
		else
			sleep_ns((uint64_t)delay * NS_PER_MS);
		attempt++;
	}
}
