/* SPDX-License-Identifier: MIT */
/*
 * Test helper: write tar archives in memory, byte by byte, including the
 * odd and hostile ones (base-256 numbers, signed checksums, lying pax
 * records). Used by the tar and tree unit tests. Aborts on ENOMEM (test
 * code only).
 */
#ifndef TESTS_UNIT_INDEX_TAR_UTIL_H
#define TESTS_UNIT_INDEX_TAR_UTIL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tw {
	uint8_t *buf;
	size_t len, cap;
};

enum tw_fmt { TW_USTAR = 0, TW_GNU, TW_V7 };

struct tw_hdr {
	const char *name;
	char type;            /* typeflag; 0 means '0' unless raw_type */
	bool raw_type;        /* write type as given, even '\0' */
	uint32_t mode;
	int64_t uid, gid;
	int64_t size;         /* -1: the data length; other values written as given */
	int64_t mtime;
	const char *link;
	const char *prefix;
	enum tw_fmt fmt;
	uint32_t devmajor, devminor;
	bool b256_size, b256_uid, b256_mtime;
	bool signed_sum;      /* old Sun tar: sum of signed chars */
	bool bad_sum;
};

static inline void tw_put(struct tw *w, const void *p, size_t n)
{
	if (n == 0)
		return; /* memcpy's source may not be NULL, even for 0 bytes */
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 4096;

		while (cap < w->len + n)
			cap *= 2;
		w->buf = realloc(w->buf, cap);
		if (!w->buf)
			abort();
		w->cap = cap;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static inline void tw_zeros(struct tw *w, size_t n)
{
	static const uint8_t z[512];

	while (n > 0) {
		size_t k = n < sizeof(z) ? n : sizeof(z);

		tw_put(w, z, k);
		n -= k;
	}
}

static inline void tw_pad(struct tw *w)
{
	tw_zeros(w, (512 - w->len % 512) % 512);
}

static inline void tw_octal(uint8_t *f, size_t len, uint64_t v)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "%0*llo", (int)(len - 1), (unsigned long long)v);
	memcpy(f, tmp, len - 1);
	f[len - 1] = '\0';
}

static inline void tw_b256(uint8_t *f, size_t len, int64_t v)
{
	uint64_t u = (uint64_t)v;

	for (size_t i = len; i-- > 0;) {
		f[i] = (uint8_t)(u & 0xff);
		u = v < 0 ? (u >> 8) | 0xff00000000000000ull : u >> 8;
	}
	f[0] |= 0x80;
	if (v < 0)
		f[0] |= 0x40;
}

static inline void tw_num(uint8_t *f, size_t len, int64_t v, bool b256)
{
	if (b256 || v < 0 || (uint64_t)v >= (1ull << (3 * (len - 1))))
		tw_b256(f, len, v);
	else
		tw_octal(f, len, (uint64_t)v);
}

/* Copy at most @max bytes of @s into a NUL-padded header field. */
static inline void tw_field(uint8_t *f, const char *s, size_t max)
{
	size_t n = strlen(s);

	memcpy(f, s, n < max ? n : max);
}

static inline void tw_header(struct tw *w, const struct tw_hdr *h, size_t data_len)
{
	uint8_t b[512] = { 0 };
	uint64_t sum = 0;
	int64_t ssum = 0;

	tw_field(b, h->name, 100);
	tw_num(b + 100, 8, h->mode ? h->mode : 0644, false);
	tw_num(b + 108, 8, h->uid, h->b256_uid);
	tw_num(b + 116, 8, h->gid, h->b256_uid);
	tw_num(b + 124, 12, h->size != -1 ? h->size : (int64_t)data_len, h->b256_size);
	tw_num(b + 136, 12, h->mtime, h->b256_mtime);
	b[156] = (uint8_t)(h->type || h->raw_type ? h->type : '0');
	if (h->link)
		tw_field(b + 157, h->link, 100);
	if (h->fmt == TW_USTAR) {
		memcpy(b + 257, "ustar\0" "00", 8);
		if (h->prefix)
			tw_field(b + 345, h->prefix, 155);
	} else if (h->fmt == TW_GNU) {
		memcpy(b + 257, "ustar  \0", 8);
	}
	if (h->fmt != TW_V7) {
		tw_field(b + 265, "root", 32);
		tw_field(b + 297, "root", 32);
		tw_octal(b + 329, 8, h->devmajor);
		tw_octal(b + 337, 8, h->devminor);
	}
	memset(b + 148, ' ', 8);
	for (int i = 0; i < 512; i++) {
		sum += b[i];
		ssum += (int8_t)b[i];
	}
	if (h->signed_sum)
		sum = (uint64_t)ssum & 0777777; /* only valid for negative-free tests */
	if (h->bad_sum)
		sum++;
	snprintf((char *)b + 148, 8, "%06llo", (unsigned long long)sum);
	b[155] = ' ';
	tw_put(w, b, 512);
}

/* A member with its data (@data may be NULL when @len is 0). */
static inline void tw_add(struct tw *w, const struct tw_hdr *h, const void *data, size_t len)
{
	tw_header(w, h, len);
	if (len)
		tw_put(w, data, len);
	tw_pad(w);
}

static inline void tw_file(struct tw *w, const char *name, const char *content)
{
	struct tw_hdr h = { .name = name, .type = '0', .mode = 0644, .mtime = 1700000000, .size = -1 };

	tw_add(w, &h, content, strlen(content));
}

static inline void tw_dir(struct tw *w, const char *name)
{
	struct tw_hdr h = { .name = name, .type = '5', .mode = 0755, .mtime = 1700000000, .size = -1 };

	tw_add(w, &h, NULL, 0);
}

static inline void tw_link(struct tw *w, char type, const char *name, const char *target)
{
	struct tw_hdr h = { .name = name, .type = type, .mode = 0777, .mtime = 1700000000,
			    .size = -1, .link = target };

	tw_add(w, &h, NULL, 0);
}

/* Append one pax record "<len> key=value\n" to @rec (a growing buffer). */
static inline void tw_pax_rec(struct tw *rec, const char *key, const void *val, size_t vlen)
{
	size_t base = strlen(key) + vlen + 3, len = base, digits;
	char num[32];

	/* the length counts its own digits */
	for (;;) {
		digits = (size_t)snprintf(num, sizeof(num), "%zu", len);
		if (base + digits == len)
			break;
		len = base + digits;
	}
	tw_put(rec, num, digits);
	tw_put(rec, " ", 1);
	tw_put(rec, key, strlen(key));
	tw_put(rec, "=", 1);
	tw_put(rec, val, vlen);
	tw_put(rec, "\n", 1);
}

static inline void tw_pax_str(struct tw *rec, const char *key, const char *val)
{
	tw_pax_rec(rec, key, val, strlen(val));
}

/* A pax 'x' or 'g' header carrying @rec; frees @rec. */
static inline void tw_pax(struct tw *w, char type, struct tw *rec)
{
	struct tw_hdr h = { .name = "PaxHeaders/x", .type = type, .size = -1 };

	tw_add(w, &h, rec->buf, rec->len);
	free(rec->buf);
	memset(rec, 0, sizeof(*rec));
}

/* A GNU 'L' or 'K' member holding @s (NUL included in the size). */
static inline void tw_gnu_long(struct tw *w, char type, const char *s)
{
	struct tw_hdr h = { .name = "././@LongLink", .type = type, .fmt = TW_GNU, .size = -1 };

	tw_add(w, &h, s, strlen(s) + 1);
}

static inline void tw_eof(struct tw *w)
{
	tw_zeros(w, 1024);
}

static inline void tw_free(struct tw *w)
{
	free(w->buf);
	memset(w, 0, sizeof(*w));
}

#endif
