/* SPDX-License-Identifier: MIT */
/* Human sizes on the command line: "4096", "64K", "13M", "10G", "1T", "2MiB". */
#ifndef COMMON_SIZE_H
#define COMMON_SIZE_H

#include <stdint.h>

/*
 * A decimal count of bytes with an optional binary suffix K, M, G or T
 * (either case, optionally followed by "i" and/or "B"). -EINVAL for
 * anything else, a sign, or a value past UINT64_MAX.
 */
int size_parse(const char *s, uint64_t *out);

/* A plain decimal count (seconds, retries) of at most @max: -EINVAL otherwise. */
int count_parse(const char *s, uint64_t max, uint64_t *out);

#endif
