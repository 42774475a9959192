/* SPDX-License-Identifier: MIT */
/*
 * Retry policy: which failures deserve another attempt and how long to
 * wait. Exponential backoff with "equal jitter" (half fixed, half random:
 * bounded below so a herd of clients never hammers a recovering registry
 * at once, bounded above by the cap); a server's Retry-After wins when it
 * asks for longer. The loop that applies it is in request.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "registry/registry_int.h"

uint64_t reg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

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
