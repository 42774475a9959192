/* SPDX-License-Identifier: MIT */
/*
 * Bounded dynamic buffer (curl dynbuf style): the ceiling is fixed at
 * creation and growing past it is an error (-EFBIG), so no network or disk
 * input can make us allocate without bound. Not thread-safe.
 * The contents are always NUL-terminated (the NUL is not counted in len).
 */
#ifndef COMMON_DBUF_H
#define COMMON_DBUF_H

#include <stddef.h>

struct dbuf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

/* A zeroed struct dbuf with max set is valid too; dbuf_init() sets max. */
void dbuf_init(struct dbuf *b, size_t max);
void dbuf_release(struct dbuf *b);
/* Forget the contents, keep the allocation and the ceiling. */
void dbuf_reset(struct dbuf *b);

/* Append; -EFBIG past the ceiling, -ENOMEM; the buffer is unchanged on error. */
int dbuf_add(struct dbuf *b, const void *p, size_t n);
int dbuf_add_str(struct dbuf *b, const char *s);
int dbuf_printf(struct dbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Hand the bytes to the caller (free() them); the buffer becomes empty. */
char *dbuf_take(struct dbuf *b, size_t *len);

#endif
