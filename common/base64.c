/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <stdint.h>

#include "common/base64.h"

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
