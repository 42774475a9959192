/* SPDX-License-Identifier: MIT */
/*
 * The one way to forget a secret (a password, a token, an Authorization
 * header): explicit_bzero(3), which the compiler may not drop the way it
 * may drop a memset() of memory about to be freed.
 */
#ifndef COMMON_SECRET_H
#define COMMON_SECRET_H

#include <stdlib.h>
#include <string.h>

#include "common/dbuf.h"

/* Wipe @n bytes at @p, then free it; NULL is fine. */
static inline void secret_free(void *p, size_t n)
{
	if (p) {
		explicit_bzero(p, n);
		free(p);
	}
}

/* Wipe a NUL-terminated secret up to its NUL, then free it; NULL is fine. */
static inline void secret_free_str(char *s)
{
	if (s)
		secret_free(s, strlen(s));
}

/* Wipe every byte @b allocated (earlier contents too), then release it. */
static inline void secret_dbuf_release(struct dbuf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->cap);
	dbuf_release(b);
}

#endif
