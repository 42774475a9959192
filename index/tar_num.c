/* SPDX-License-Identifier: MIT */
/*
 * Strict scalar parsers of the tar reader: header numbers (octal or GNU
 * base-256), pax decimals and times, base64 / URL decoding of libarchive
 * xattrs, and path normalisation. Every function rejects what it does not
 * fully understand: a tar member is untrusted input.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "common/base64.h"
#include "common/digest.h"
#include "common/log.h"
#include "index/tar_int.h"

static int parse_base256(const uint8_t *f, size_t len, int64_t *out)
{
	uint8_t inv = (f[0] & 0x40) ? 0xff : 0x00;
	uint64_t x = 0;

	/*
	 * Two's complement over the whole field, with the top bit of the
	 * first byte as the marker: invert a negative number so the
	 * magnitude accumulates as an unsigned value, then invert back.
	 */
	for (size_t i = 0; i < len; i++) {
		uint8_t c = f[i] ^ inv;

		if (i == 0)
			c &= 0x7f;
		if (x >> 56)
			return -EBADMSG;
		x = (x << 8) | c;
	}
	if (x >> 63)
		return -EBADMSG;
	*out = inv ? ~(int64_t)x : (int64_t)x;
	return 0;
}

int idx_tar_num_field(const uint8_t *f, size_t len, int64_t *out)
{
	size_t a = 0, b = len;
	uint64_t x = 0;

	if (len == 0)
		return -EBADMSG;
	if (f[0] & 0x80)
		return parse_base256(f, len, out);
	/* Octal, padded or terminated with NULs or spaces on either side. */
	while (a < b && (f[a] == ' ' || f[a] == '\0'))
		a++;
	while (b > a && (f[b - 1] == ' ' || f[b - 1] == '\0'))
		b--;
	for (size_t i = a; i < b; i++) {
		if (f[i] < '0' || f[i] > '7')
			return -EBADMSG;
		if (x >> 60)
			return -EBADMSG;
		x = (x << 3) | (uint64_t)(f[i] - '0');
	}
	if (x >> 63)
		return -EBADMSG;
	*out = (int64_t)x;
	return 0;
}

int idx_tar_dec_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;

	if (len == 0)
		return -EBADMSG;
	/* Leading zeros are valid ("000999", as some writers pad): drop them first. */
	while (len > 1 && s[0] == '0') {
		s++;
		len--;
	}
	if (len > 20)
		return -EBADMSG;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EBADMSG;
		if (x > (UINT64_MAX - 9) / 10)
			return -EBADMSG;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	if (x > max)
		return -EBADMSG;
	*out = x;
	return 0;
}

int idx_tar_dec_time(const char *s, size_t len, int64_t *sec, uint32_t *nsec)
{
	const char *dot = memchr(s, '.', len);
	size_t ilen = dot ? (size_t)(dot - s) : len;
	bool neg = ilen > 0 && s[0] == '-';
	uint64_t whole;
	uint32_t frac = 0;
	int r;

	r = idx_tar_dec_u64(s + neg, ilen - neg, INT64_MAX - 1, &whole);
	if (r < 0)
		return r;
	if (dot) {
		size_t flen = len - ilen - 1;
		uint32_t scale = 100000000;

		if (flen == 0)
			return -EBADMSG;
		/* Digits past nanoseconds are checked, then truncated. */
		for (size_t i = 0; i < flen; i++) {
			char c = dot[1 + i];

			if (c < '0' || c > '9')
				return -EBADMSG;
			frac += (uint32_t)(c - '0') * scale;
			scale /= 10;
		}
	}
	if (!neg) {
		*sec = (int64_t)whole;
		*nsec = frac;
	} else if (frac == 0) {
		*sec = -(int64_t)whole;
		*nsec = 0;
	} else {
		/* -1.25 s is 2 s before the epoch plus 0.75 s */
		*sec = -(int64_t)whole - 1;
		*nsec = 1000000000u - frac;
	}
	return 0;
}

int idx_tar_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
	ssize_t n = b64_decode(in, len, out, cap, B64_PAD_OPTIONAL);

	return n > INT32_MAX ? -EFBIG : (int)n;
}

int idx_tar_url_decode(const char *in, size_t len, char *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (c == '%') {
			int hi = i + 2 < len ? hex_digit(in[i + 1]) : -1;
			int lo = hi >= 0 ? hex_digit(in[i + 2]) : -1;

			if (lo < 0)
				return -EBADMSG;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (c == '\0')
			return -EBADMSG;
		if (n + 1 >= cap)
			return -EFBIG;
		out[n++] = c;
	}
	out[n] = '\0';
	return (int)n;
}

int idx_tar_path_normalise(const char *in, size_t len, char *out, size_t out_size)
{
	size_t max = out_size - 1, n = 0, i = 0;

	if (out_size == 0)
		return -EFBIG;
	if (max > IDX_MAX_PATH)
		max = IDX_MAX_PATH;
	if (memchr(in, '\0', len))
		return -EBADMSG;
	while (i < len) {
		const char *c = in + i;
		const char *slash = memchr(c, '/', len - i);
		size_t clen = slash ? (size_t)(slash - c) : len - i;

		i += clen + 1;
		if (clen == 0 || (clen == 1 && c[0] == '.'))
			continue;
		if (clen == 2 && c[0] == '.' && c[1] == '.') {
			/* Lexically, as Go's filepath.Clean, and never above the root. */
			char *up = memrchr(out, '/', n);

			n = up ? (size_t)(up - out) : 0;
			continue;
		}
		if (n + (n > 0) + clen > max)
			return -EFBIG;
		if (n > 0)
			out[n++] = '/';
		memcpy(out + n, c, clen);
		n += clen;
	}
	out[n] = '\0';
	return (int)n;
}

int idx_tar_whiteout_map(char *path, enum idx_type *type)
{
	char *slash = strrchr(path, '/');
	char *base = slash ? slash + 1 : path;
	char *hidden = base + strlen(IDX_WH_PREFIX);

	if (strncmp(base, IDX_WH_PREFIX, strlen(IDX_WH_PREFIX)) != 0)
		return 0;
	if (strcmp(base, IDX_WH_OPAQUE) == 0) {
		*type = IDX_T_OPAQUE;
		*(slash ? slash : path) = '\0';
		return 0;
	}
	if (strncmp(base, IDX_WH_META_PREFIX, strlen(IDX_WH_META_PREFIX)) == 0) {
		log_debug("skipping aufs metadata '%s'", path);
		return 1;
	}
	/* containerd fails the layer on these ("invalid whiteout name"): so do we. */
	if (!*hidden || strcmp(hidden, ".") == 0 || strcmp(hidden, "..") == 0) {
		log_err("cannot read tar: invalid whiteout '%s'", path);
		return -EBADMSG;
	}
	*type = IDX_T_WHITEOUT;
	memmove(base, hidden, strlen(hidden) + 1);
	return 0;
}
