/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "common/base64.h"
#include "common/dbuf.h"

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

ssize_t b64_decode(const char *in, size_t len, void *out, size_t cap, enum b64_strictness mode)
{
	uint8_t *o = out;
	uint32_t acc = 0;
	size_t n = 0, pad = 0;
	int bits = 0;

	if (mode == B64_PADDED && len % 4)
		return -EBADMSG;
	while (len > 0 && in[len - 1] == '=' && pad < 2) {
		len--;
		pad++;
	}
	/* one character left over after whole groups carries no whole byte */
	if (len % 4 == 1)
		return -EBADMSG;
	for (size_t i = 0; i < len; i++) {
		int v = b64_val((unsigned char)in[i]);

		if (v < 0)
			return -EBADMSG;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n >= cap)
				return -EFBIG;
			o[n++] = (uint8_t)(acc >> bits);
		}
	}
	if (n > SSIZE_MAX)
		return -EFBIG;
	return (ssize_t)n;
}

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_encode_dbuf(struct dbuf *b, const void *in, size_t n)
{
	const uint8_t *p = in;
	size_t start = b->len, groups = (n + 2) / 3;
	char out[4];
	int r = 0;

	if (groups > SIZE_MAX / 4)
		return -EFBIG;
	for (size_t g = 0; g < groups && r == 0; g++) {
		size_t i = g * 3, left = n - i;
		uint32_t v = (uint32_t)p[i] << 16;

		if (left > 1)
			v |= (uint32_t)p[i + 1] << 8;
		if (left > 2)
			v |= p[i + 2];
		out[0] = b64_alphabet[v >> 18 & 63];
		out[1] = b64_alphabet[v >> 12 & 63];
		out[2] = left > 1 ? b64_alphabet[v >> 6 & 63] : '=';
		out[3] = left > 2 ? b64_alphabet[v & 63] : '=';
		r = dbuf_add(b, out, sizeof(out));
	}
	explicit_bzero(out, sizeof(out));
	if (r < 0 && b->data) { /* the buffer is unchanged on error, as dbuf_add promises */
		explicit_bzero(b->data + start, b->len - start);
		b->len = start;
		b->data[start] = '\0';
	}
	return r;
}
