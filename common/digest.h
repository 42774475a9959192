/* SPDX-License-Identifier: MIT */
/*
 * sha256 digests (OpenSSL EVP) and their OCI string form
 * "sha256:<64 lowercase hex>". A struct digest_ctx is owned by one thread.
 */
#ifndef COMMON_DIGEST_H
#define COMMON_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DIGEST_SHA256_LEN 32
/* "sha256:" + 64 hex + NUL */
#define DIGEST_STR_LEN 72

struct digest_ctx; /* opaque */

int digest_ctx_new(struct digest_ctx **out);
void digest_ctx_free(struct digest_ctx *ctx);
/* Start over, e.g. after a retried download. */
int digest_ctx_reset(struct digest_ctx *ctx);
int digest_ctx_update(struct digest_ctx *ctx, const void *p, size_t n);
/* Write the raw hash; the context must be reset before reuse. */
int digest_ctx_final(struct digest_ctx *ctx, uint8_t out[DIGEST_SHA256_LEN]);

/* One-shot sha256 of a buffer. */
void digest_sha256(const void *p, size_t n, uint8_t out[DIGEST_SHA256_LEN]);

/* Whether the @n bytes at @p hash to @digest ("sha256:<hex>"). */
bool digest_sha256_is(const void *p, size_t n, const char *digest);

/* Raw hash -> "sha256:<hex>". */
void digest_format(const uint8_t raw[DIGEST_SHA256_LEN], char out[DIGEST_STR_LEN]);

/*
 * Parse "sha256:<64 lowercase hex>" into @raw (may be NULL to only check).
 * -EINVAL for any other algorithm or a malformed encoding.
 */
int digest_parse(const char *s, uint8_t raw[DIGEST_SHA256_LEN]);

/* True when @s is a well-formed sha256 digest string. */
bool digest_is_valid(const char *s);

/* The value of one hex digit (either case), or -1. */
int hex_digit(char c);

/* Lowercase hex of @n bytes into @out (2n+1 bytes). */
void hex_encode(const uint8_t *in, size_t n, char *out);

#endif
