/* SPDX-License-Identifier: MIT */
/*
 * The monotonic clock, deadlines on it, one way to sleep, and calendar days.
 * Deadlines are
 * absolute CLOCK_MONOTONIC nanoseconds; 0 means "no deadline", so a zeroed
 * struct field is the unlimited case without a flag beside it.
 */
#ifndef COMMON_CLOCK_H
#define COMMON_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define NS_PER_MS 1000000ull
#define NS_PER_SEC 1000000000ull

/* CLOCK_MONOTONIC now, in nanoseconds. */
uint64_t monotonic_ns(void);

static inline uint64_t monotonic_ms(void)
{
	return monotonic_ns() / NS_PER_MS;
}

/* The deadline @ms milliseconds from now; 0 (no deadline) when @ms is 0. */
uint64_t deadline_in_ms(uint64_t ms);

/* True once @deadline is reached; never for 0. */
bool deadline_passed(uint64_t deadline);

/* Nanoseconds left before @deadline (0 once passed); UINT64_MAX for 0. */
uint64_t deadline_left_ns(uint64_t deadline);

/* @deadline as a timespec for pthread_cond_timedwait on a condition
 * variable whose clock is CLOCK_MONOTONIC. */
void deadline_timespec(uint64_t deadline, struct timespec *ts);

/* Sleep @ns nanoseconds; a signal does not cut it short. */
void sleep_ns(uint64_t ns);

/*
 * Days from 1970-01-01 to @y-@m-@d of the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil), negative before: the wall-clock
 * timestamps of TOCs and zTOCs, with no timegm() and no time zone.
 */
int64_t days_from_civil(int64_t y, int64_t m, int64_t d);

/*
 * An RFC 3339 date-time of @n bytes (no NUL needed): YYYY-MM-DDTHH:MM:SS,
 * an optional fraction (1+ digits; past 9 they are cut), then Z or
 * +hh:mm/-hh:mm ("T" and "Z" in either case), into seconds since the
 * epoch and nanoseconds. Months and days are checked against the calendar
 * month (Feb 29 always allowed), seconds up to 60. -EBADMSG otherwise.
 * What the TOCs of zstd:chunked and eStargz and SOCI's zTOCs carry.
 */
int rfc3339_parse(const char *s, size_t n, int64_t *sec, uint32_t *nsec);

#endif
