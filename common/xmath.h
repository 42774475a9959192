/* SPDX-License-Identifier: MIT */
/* Overflow-checked size arithmetic for lengths that come from the network or disk. */
#ifndef COMMON_XMATH_H
#define COMMON_XMATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Each returns true on overflow and leaves *out unspecified then. */
static inline bool xadd_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	return __builtin_add_overflow(a, b, out);
}

static inline bool xmul_u64(uint64_t a, uint64_t b, uint64_t *out)
{
	return __builtin_mul_overflow(a, b, out);
}

static inline bool xadd_size(size_t a, size_t b, size_t *out)
{
	return __builtin_add_overflow(a, b, out);
}

static inline bool xmul_size(size_t a, size_t b, size_t *out)
{
	return __builtin_mul_overflow(a, b, out);
}

/* Round @v up to a multiple of @align (a power of two); true on overflow. */
static inline bool xalign_u64(uint64_t v, uint64_t align, uint64_t *out)
{
	if (xadd_u64(v, align - 1, out))
		return true;
	*out &= ~(align - 1);
	return false;
}

#define XMIN(a, b) ((a) < (b) ? (a) : (b))
#define XMAX(a, b) ((a) > (b) ? (a) : (b))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
