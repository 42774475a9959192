/* SPDX-License-Identifier: MIT */
/* sha256 over OpenSSL EVP, and the OCI digest string form. */
#include "common/digest.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

struct digest_ctx {
	EVP_MD_CTX *md;
};

int digest_ctx_new(struct digest_ctx **out)
{
	struct digest_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx)
		return -ENOMEM;
	ctx->md = EVP_MD_CTX_new();
	if (!ctx->md || EVP_DigestInit_ex(ctx->md, EVP_sha256(), NULL) != 1) {
		digest_ctx_free(ctx);
		return -ENOMEM;
	}
	*out = ctx;
	return 0;
}

void digest_ctx_free(struct digest_ctx *ctx)
{
	if (!ctx)
		return;
	EVP_MD_CTX_free(ctx->md);
	free(ctx);
}

int digest_ctx_reset(struct digest_ctx *ctx)
{
	return EVP_DigestInit_ex(ctx->md, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
}

int digest_ctx_update(struct digest_ctx *ctx, const void *p, size_t n)
{
	return EVP_DigestUpdate(ctx->md, p, n) == 1 ? 0 : -EIO;
}

int digest_ctx_final(struct digest_ctx *ctx, uint8_t out[DIGEST_SHA256_LEN])
{
	unsigned int len = 0;

	if (EVP_DigestFinal_ex(ctx->md, out, &len) != 1 || len != DIGEST_SHA256_LEN)
		return -EIO;
	return 0;
}

void digest_sha256(const void *p, size_t n, uint8_t out[DIGEST_SHA256_LEN])
{
	unsigned int len = 0;

	EVP_Digest(p, n, out, &len, EVP_sha256(), NULL);
}

void hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode exactly @n bytes from 2n hex chars; -EINVAL on a bad char. */
static int hex_decode(const char *in, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hex_digit(in[2 * i]);
		int lo = hi < 0 ? -1 : hex_digit(in[2 * i + 1]);

		if (lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

void digest_format(const uint8_t raw[DIGEST_SHA256_LEN], char out[DIGEST_STR_LEN])
{
	memcpy(out, "sha256:", 7);
	hex_encode(raw, DIGEST_SHA256_LEN, out + 7);
}

int digest_parse(const char *s, uint8_t raw[DIGEST_SHA256_LEN])
{
	uint8_t tmp[DIGEST_SHA256_LEN];

	if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 2 * DIGEST_SHA256_LEN)
		return -EINVAL;
	for (const char *p = s + 7; *p; p++) {
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return -EINVAL;
	}
	if (hex_decode(s + 7, tmp, DIGEST_SHA256_LEN) < 0)
		return -EINVAL;
	if (raw)
		memcpy(raw, tmp, DIGEST_SHA256_LEN);
	return 0;
}

bool digest_is_valid(const char *s)
{
	return digest_parse(s, NULL) == 0;
}

bool digest_sha256_is(const void *p, size_t n, const char *digest)
{
	uint8_t sha[DIGEST_SHA256_LEN];
	char have[DIGEST_STR_LEN];

	digest_sha256(p, n, sha);
	digest_format(sha, have);
	return strcmp(have, digest) == 0;
}
