/* SPDX-License-Identifier: MIT */
/*
 * A fixed log-scale histogram: values 0..7 have a bucket each, then every
 * power of two is split in 4 (bucket = 4 * msb + the next two bits), so a
 * quantile is known within 1/8 of its value with 256 counters and no
 * allocation. Not locked: the owner's lock protects it.
 */
#include "fs/store_int.h"

static unsigned bucket_of(uint64_t v)
{
	unsigned msb;

	if (v < 8)
		return (unsigned)v;
	msb = 63u - (unsigned)__builtin_clzll(v);
	return 4 * msb + (unsigned)((v >> (msb - 2)) & 3);
}

/* [lo, hi) of bucket @b. */
static void bucket_range(unsigned b, uint64_t *lo, uint64_t *hi)
{
	unsigned msb = b / 4, sub = b % 4;

	if (b < 8) {
		*lo = b;
		*hi = b + 1;
		return;
	}
	*lo = (uint64_t)(4 + sub) << (msb - 2);
	*hi = msb == 63 && sub == 3 ? UINT64_MAX : (uint64_t)(5 + sub) << (msb - 2);
}

void fs_hist_add(struct fs_hist *h, uint64_t v)
{
	h->b[bucket_of(v)]++;
	h->count++;
	if (v > h->max)
		h->max = v;
}

uint64_t fs_hist_quantile(const struct fs_hist *h, double q)
{
	uint64_t rank, seen = 0, lo, hi, mid;

	if (h->count == 0)
		return 0;
	if (q <= 0)
		q = 0;
	rank = (uint64_t)(q * (double)h->count + 0.999999);
	if (rank == 0)
		rank = 1;
	if (rank >= h->count)
		return h->max;
	for (unsigned b = 0; b < FS_HIST_BUCKETS; b++) {
		seen += h->b[b];
		if (seen < rank)
			continue;
		bucket_range(b, &lo, &hi);
		mid = lo + (hi - lo) / 2;
		return mid > h->max ? h->max : mid;
	}
	return h->max;
}
