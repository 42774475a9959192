/* SPDX-License-Identifier: MIT */
#include <stdint.h>

#include "common/clock.h"
#include "tap.h"

int main(void)
{
	uint64_t a = monotonic_ns(), b, d;

	ok(a > 0, "the monotonic clock reads");
	is_int(deadline_in_ms(0) == 0, 1, "0 ms is no deadline");
	ok(!deadline_passed(0), "no deadline never passes");
	ok(deadline_left_ns(0) == UINT64_MAX, "no deadline leaves all the time");
	d = deadline_in_ms(20);
	ok(d > a && !deadline_passed(d), "a deadline 20 ms out is ahead");
	ok(deadline_left_ns(d) <= 20 * NS_PER_MS, "at most 20 ms remain");
	sleep_ns(25 * NS_PER_MS);
	b = monotonic_ns();
	ok(b - a >= 25 * NS_PER_MS, "sleep_ns slept at least as asked");
	ok(deadline_passed(d) && deadline_left_ns(d) == 0, "the deadline passed");
	ok(deadline_in_ms(UINT64_MAX) == UINT64_MAX, "a huge delay saturates");
	is_int(days_from_civil(1970, 1, 1), 0, "the epoch is day 0");
	is_int(days_from_civil(2000, 3, 1), 11017, "2000-03-01 (after a leap day of a 400-year)");
	is_int(days_from_civil(1969, 12, 31), -1, "the day before the epoch is -1");
	is_int(days_from_civil(2024, 2, 29) * 86400, 1709164800, "2024-02-29 as Unix seconds");
	return tap_done();
}
