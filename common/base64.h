/* SPDX-License-Identifier: MIT */
/* base64 (RFC 4648, standard alphabet): the Basic scheme, config.json, ECR tokens, paths. */
#ifndef COMMON_BASE64_H
#define COMMON_BASE64_H

#include <stddef.h>
#include <sys/types.h>

struct dbuf;

enum b64_strictness {
	/* Padding required: the length is a multiple of 4 and '=' only ends it
	 * (references in the additional layer store's paths). */
	B64_PADDED,
	/* Padding optional (libarchive's xattr values are written either way). */
	B64_PAD_OPTIONAL,
};

/*
 * Decode @len characters of @in into @out (@cap bytes). The number of bytes
 * written, or -EBADMSG (a character outside the alphabet, misplaced or
 * missing padding), -EFBIG (more than @cap bytes). @out is not terminated.
 */
ssize_t b64_decode(const char *in, size_t len, void *out, size_t cap, enum b64_strictness mode);

/* The most bytes @len characters can decode to. */
static inline size_t b64_decoded_max(size_t len)
{
	return (len + 3) / 4 * 3;
}

/*
 * Append the padded encoding of @n bytes of @in to @b: 0, -EFBIG past
 * @b's ceiling or -ENOMEM (@b unchanged then). No copy of the input is
 * left behind but in @b: credentials pass through here.
 */
int b64_encode_dbuf(struct dbuf *b, const void *in, size_t n);

#endif
