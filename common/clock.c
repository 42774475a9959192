/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdbool.h>

#include "common/clock.h"

uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

uint64_t deadline_in_ms(uint64_t ms)
{
	uint64_t now, d;

	if (ms == 0)
		return 0;
	now = monotonic_ns();
	if (ms > (UINT64_MAX - now) / NS_PER_MS)
		return UINT64_MAX;
	d = now + ms * NS_PER_MS;
	return d ? d : 1;
}

bool deadline_passed(uint64_t deadline)
{
	return deadline != 0 && monotonic_ns() >= deadline;
}

uint64_t deadline_left_ns(uint64_t deadline)
{
	uint64_t now;

	if (deadline == 0)
		return UINT64_MAX;
	now = monotonic_ns();
	return deadline > now ? deadline - now : 0;
}

void deadline_timespec(uint64_t deadline, struct timespec *ts)
{
	ts->tv_sec = (time_t)(deadline / NS_PER_SEC);
	ts->tv_nsec = (long)(deadline % NS_PER_SEC);
}

void sleep_ns(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ns / NS_PER_SEC),
		.tv_nsec = (long)(ns % NS_PER_SEC),
	};

	/* nanosleep leaves the remainder in ts when a signal interrupts it. */
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* @w decimal digits at s[*i] (all within @n) into *v. */
static bool take_digits(const char *s, size_t n, size_t *i, unsigned w, int64_t *v)
{
	*v = 0;
	if (n - *i < w)
		return false;
	for (unsigned k = 0; k < w; k++, (*i)++) {
		if (s[*i] < '0' || s[*i] > '9')
			return false;
		*v = *v * 10 + (s[*i] - '0');
	}
	return true;
}

static bool take_char(const char *s, size_t n, size_t *i, char a, char b)
{
	if (*i >= n || (s[*i] != a && s[*i] != b))
		return false;
	(*i)++;
	return true;
}

int rfc3339_parse(const char *s, size_t n, int64_t *sec, uint32_t *nsec)
{
	static const int64_t mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int64_t y, mo, d, h, mi, se, oh, om, off = 0;
	uint32_t ns = 0;
	size_t i = 0;

	if (!take_digits(s, n, &i, 4, &y) || !take_char(s, n, &i, '-', '-') ||
	    !take_digits(s, n, &i, 2, &mo) || !take_char(s, n, &i, '-', '-') ||
	    !take_digits(s, n, &i, 2, &d) || !take_char(s, n, &i, 'T', 't') ||
	    !take_digits(s, n, &i, 2, &h) || !take_char(s, n, &i, ':', ':') ||
	    !take_digits(s, n, &i, 2, &mi) || !take_char(s, n, &i, ':', ':') ||
	    !take_digits(s, n, &i, 2, &se))
		return -EBADMSG;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || se > 60)
		return -EBADMSG;
	if (i < n && s[i] == '.') {
		unsigned fd = 0;

		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++, fd++)
			if (fd < 9)
				ns = ns * 10 + (uint32_t)(s[i] - '0');
		if (fd == 0)
			return -EBADMSG;
		for (; fd < 9; fd++)
			ns *= 10;
	}
	if (take_char(s, n, &i, 'Z', 'z')) {
		/* UTC */
	} else if (i < n && (s[i] == '+' || s[i] == '-')) {
		int sign = s[i++] == '-' ? -1 : 1;

		if (!take_digits(s, n, &i, 2, &oh) || !take_char(s, n, &i, ':', ':') ||
		    !take_digits(s, n, &i, 2, &om) || oh > 23 || om > 59)
			return -EBADMSG;
		off = sign * (oh * 3600 + om * 60);
	} else {
		return -EBADMSG;
	}
	if (i != n)
		return -EBADMSG;
	*sec = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off;
	*nsec = ns;
	return 0;
}
