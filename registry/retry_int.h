/* SPDX-License-Identifier: MIT */
/*
 * The one retry driver of the registry room (retry.c). Every request that
 * may be tried again (registry reads, blob and manifest uploads, the ECR
 * API, the container credentials endpoint) runs under reg_retry_run() with
 * a small policy: how many attempts, the backoff's base and cap, and a
 * deadline. Which failures are worth another attempt is one set for all
 * (reg_retry_wanted). A server's Retry-After is honoured: the next attempt
 * never comes earlier than it asks, and when it asks for longer than the
 * deadline (or REG_RETRY_AFTER_MAX_MS) the driver gives up instead.
 */
#ifndef REGISTRY_RETRY_INT_H
#define REGISTRY_RETRY_INT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define REG_BACKOFF_BASE_MS 100
#define REG_BACKOFF_CAP_MS 5000
#define REG_RETRY_AFTER_MAX_MS 60000 /* longest wait a server may ask for */

struct reg_retry_policy {
	const char *what;          /* "manifest 'x'", for the log line */
	unsigned retries;          /* attempts after the first */
	unsigned base_ms, cap_ms;  /* backoff; 0, 0: REG_BACKOFF_BASE_MS, REG_BACKOFF_CAP_MS */
	unsigned budget_ms;        /* attempts and waits end this long after the start; 0: none */
	bool progress_renews;      /* an attempt that moved data restarts count and budget */
	_Atomic uint64_t *n_retries; /* bumped per retry, or NULL */
	void (*sleep_ms)(unsigned ms); /* NULL: sleep_ns() (common/clock.h); tests record */
};

/* What the driver tells an attempt, and what the attempt reports back. */
struct reg_attempt {
	unsigned n;                /* 0 for the first attempt */
	uint64_t deadline_ns;      /* monotonic (common/clock.h); 0: none */
	/* set by the attempt: */
	long status;               /* the HTTP status that decided the outcome, 0: none */
	bool has_retry_after;
	uint64_t retry_after_ms;   /* its Retry-After, from now */
	bool progressed;           /* data moved (see progress_renews) */
	bool final;                /* no other attempt can help, whatever the error */
	const char *why;           /* transport error text for the log, or NULL */
};

/* One attempt: 0 done, or -errno (an HTTP status in a->status when one decided). */
typedef int (*reg_attempt_fn)(void *ctx, struct reg_attempt *a);

/*
 * Run @fn until it succeeds, fails for good, runs out of attempts or of
 * budget. Returns the last attempt's result.
 */
int reg_retry_run(const struct reg_retry_policy *p, reg_attempt_fn fn, void *ctx);

struct reg_http_resp;
/* Note @resp's status and Retry-After in @a (the attempt's decisive answer). */
void reg_attempt_saw(struct reg_attempt *a, const struct reg_http_resp *resp);

/*
 * Whether an attempt that returned @r, with @status (0: none), deserves
 * another: transport errors that pass (-ETIMEDOUT, -EHOSTUNREACH,
 * -ECONNRESET, -ECONNREFUSED, -EAGAIN) or a status that says "later" (408,
 * 429, 5xx but 501 and 505).
 */
bool reg_retry_wanted(int r, long status);
bool reg_status_is_retryable(long status);
bool reg_err_is_retryable(int err);

/*
 * Delay before retry number @attempt (0 = first retry): exponential from
 * @base_ms, capped at @cap_ms, "equal jitter": a value in [d/2, d] where d
 * is the capped exponential, picked with @rnd.
 */
unsigned reg_backoff_ms(unsigned attempt, unsigned base_ms, unsigned cap_ms, uint32_t rnd);
/* A random 32-bit value for jitter: thread-safe, not for secrets. */
uint32_t reg_jitter32(void);
/*
 * Retry-After (delta seconds or an HTTP-date, RFC 9110 §10.2.3) in
 * milliseconds from @now. -EINVAL when unparsable. A date in the past is 0.
 */
int reg_retry_after_ms(const char *value, time_t now, uint64_t *ms);

#endif
