/* SPDX-License-Identifier: MIT */
/* The fixed log-scale latency histogram: quantiles within its 1/8 error. */
#include <stdint.h>

#include "fs/store_int.h"
#include "tap.h"

static int near(uint64_t got, uint64_t want)
{
	uint64_t d = got > want ? got - want : want - got;

	return d * 8 <= want + 1;
}

int main(void)
{
	struct fs_hist h = { 0 };

	is_int(fs_hist_quantile(&h, 0.5), 0, "empty histogram: 0");
	fs_hist_add(&h, 5);
	is_int(fs_hist_quantile(&h, 0.5), 5, "one small value is exact");
	is_int(fs_hist_quantile(&h, 0.99), 5, "p99 of one value");

	h = (struct fs_hist){ 0 };
	for (uint64_t v = 1; v <= 1000; v++)
		fs_hist_add(&h, v * 1000); /* 1 ms .. 1 s in us */
	ok(near(fs_hist_quantile(&h, 0.5), 500000), "p50 of 1..1000 ms ~ 500 ms (%llu)",
	   (unsigned long long)fs_hist_quantile(&h, 0.5));
	ok(near(fs_hist_quantile(&h, 0.9), 900000), "p90 ~ 900 ms (%llu)",
	   (unsigned long long)fs_hist_quantile(&h, 0.9));
	ok(near(fs_hist_quantile(&h, 0.99), 990000), "p99 ~ 990 ms (%llu)",
	   (unsigned long long)fs_hist_quantile(&h, 0.99));
	is_int(h.max, 1000000, "max is exact");
	ok(fs_hist_quantile(&h, 1.0) <= h.max, "p100 never above max");

	h = (struct fs_hist){ 0 };
	for (int i = 0; i < 99; i++)
		fs_hist_add(&h, 5000);
	fs_hist_add(&h, 3000000);
	ok(near(fs_hist_quantile(&h, 0.5), 5000), "p50 ignores one outlier");
	ok(near(fs_hist_quantile(&h, 0.99), 5000), "p99 = 99th of 100 values");
	ok(fs_hist_quantile(&h, 0.999) == 3000000 || near(fs_hist_quantile(&h, 0.999), 3000000),
	   "p99.9 is the outlier");
	fs_hist_add(&h, UINT64_MAX);
	is_int(fs_hist_quantile(&h, 1.0) == UINT64_MAX, 1, "huge values land in the last bucket");
	return tap_done();
}
