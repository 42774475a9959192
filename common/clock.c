/* SPDX-License-Identifier: MIT */
#include <errno.h>

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
