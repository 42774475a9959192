/* SPDX-License-Identifier: MIT */
/* index/ internal: the tar header half of the seekable-layer writer (writer_tar.c). */
#ifndef INDEX_WRITER_INT_H
#define INDEX_WRITER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/dbuf.h"
#include "index/index.h"

#define WTAR_BLOCK 512
/* Ceiling of one member's headers (pax records incl.): the xattr ceilings bound it. */
#define WTAR_MAX_HEADERS (8u << 20)

/*
 * The header blocks of @e (a pax 'x' header with its records when needed,
 * then the ustar header) into @out; @name and @pax are scratch. -EINVAL for
 * an entry that cannot be written, -EFBIG over the ceilings.
 */
int idx_wtar_headers(const struct idx_entry *e, struct dbuf *name, struct dbuf *pax, struct dbuf *out);

/* ---- parallel gzip members (writer_gz.c) ---- */

struct gz_pool; /* owned by the writer's thread; its workers are internal */

/* Receives finished members in order: the tar bytes and their gzip member. */
typedef int (*gz_retire_fn)(void *ctx, const uint8_t *in, size_t in_len, const uint8_t *out,
			    size_t out_len);

/* @threads <= 1: compress in the caller's thread. Members hold up to @span bytes. */
int idx_gz_pool_new(int level, size_t span, unsigned threads, struct gz_pool **out);
void idx_gz_pool_free(struct gz_pool *p);
/* The buffer being filled (span bytes) and its fill count. */
uint8_t *idx_gz_pool_buf(struct gz_pool *p, size_t **len);
/* Compress the filled buffer as one member; may retire older ones through @retire. */
int idx_gz_pool_submit(struct gz_pool *p, gz_retire_fn retire, void *ctx);
/* Retire every member still in flight. */
int idx_gz_pool_drain(struct gz_pool *p, gz_retire_fn retire, void *ctx);

#endif
