/* SPDX-License-Identifier: MIT */
/* Bounded growth of a plain C array, for tables built from untrusted input. */
#ifndef COMMON_XARRAY_H
#define COMMON_XARRAY_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

/*
 * Make room in *@arr (capacity *@cap elements of @elem bytes) for index @n:
 * doubles the capacity (from @first) up to @max elements. -EFBIG when @n
 * reaches @max, -ENOMEM; the array is unchanged on error.
 */
static inline int xarray_grow_size(void **arr, size_t *cap, size_t n, size_t elem, size_t first,
				   size_t max)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return 0;
	if (n >= max)
		return -EFBIG;
	ncap = *cap ? (*cap > max / 2 ? max : *cap * 2) : first;
	if (ncap > max)
		ncap = max;
	if (ncap <= n)
		ncap = n + 1;
	if (elem && ncap > SIZE_MAX / elem)
		return -ENOMEM;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* The same for tables counted in uint32_t. */
static inline int xarray_grow(void **arr, uint32_t *cap, uint32_t n, size_t elem, uint32_t first,
			      uint32_t max)
{
	size_t c = *cap;
	int r = xarray_grow_size(arr, &c, n, elem, first, max);

	*cap = (uint32_t)c;
	return r;
}

#endif
