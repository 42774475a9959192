/* SPDX-License-Identifier: MIT */
/*
 * zstd:chunked: the footer, the manifest-position annotation, and the TOC
 * decompressed within its declared size, then handed to the JSON reader
 * (index/zchunked_toc.c). Nothing here trusts a number before checking it
 * against the blob: the TOC must lie inside the blob, before the footer,
 * and no chunk may reach into it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common/clock.h"
#include "common/le.h"
#include "common/log.h"
#include "common/xarray.h"
#include "index/zchunked.h"
#include "index/zchunked_int.h"

#define ZC_MAGIC "GnUlInUx"
#define ZC_SKIPPABLE 0x184D2A50u /* zstd skippable frame magic, the one every writer uses */
#define ZC_TYPE_CRFS 1u          /* the only TOC type there is */

#define BADZ(...)                                                \
	do {                                                     \
		log_err("zstd:chunked: " __VA_ARGS__);           \
		return -EBADMSG;                                 \
	} while (0)

typedef unsigned long long ull;

/* The TOC's place, whoever said it: inside the blob, after a skippable frame header, sizes bounded. */
static int loc_check(const struct idx_toc_loc *l, uint64_t end, const char *who)
{
	if (l->type != ZC_TYPE_CRFS)
		BADZ("%s: TOC type %u (only 1 is defined)", who, l->type);
	if (l->len == 0 || l->ulen == 0 || l->ulen > IDX_MAX_TOC_SIZE || l->len > IDX_MAX_TOC_SIZE)
		BADZ("%s: TOC of %llu bytes (%llu uncompressed; at most %u)", who, (ull)l->len,
		     (ull)l->ulen, IDX_MAX_TOC_SIZE);
	if (l->off < 8 || l->off > end || l->len > end - l->off)
		BADZ("%s: TOC at %llu+%llu is not inside the blob's first %llu bytes", who,
		     (ull)l->off, (ull)l->len, (ull)end);
	return 0;
}

int idx_zchunked_footer(const void *tail, size_t n, uint64_t blob_size, struct idx_toc_loc *out)
{
	const uint8_t *t = tail;
	const uint8_t *f;
	uint32_t fsize;

	if (!tail || !out)
		return -EINVAL;
	if (n < 8 + IDX_ZC_FOOTER_OLD || n > blob_size)
		BADZ("a blob of %llu bytes has no footer", (ull)blob_size);
	if (memcmp(t + n - 8, ZC_MAGIC, 8) != 0)
		BADZ("no footer magic at the end of the blob");
	/* Which footer: the skippable frame header right before it says how long it is. */
	fsize = 0;
	if (n >= 8 + IDX_ZC_FOOTER_NEW && le32_get(t + n - 8 - IDX_ZC_FOOTER_NEW) == ZC_SKIPPABLE &&
	    le32_get(t + n - 4 - IDX_ZC_FOOTER_NEW) == IDX_ZC_FOOTER_NEW)
		fsize = IDX_ZC_FOOTER_NEW;
	else if (le32_get(t + n - 8 - IDX_ZC_FOOTER_OLD) == ZC_SKIPPABLE &&
		 le32_get(t + n - 4 - IDX_ZC_FOOTER_OLD) == IDX_ZC_FOOTER_OLD)
		fsize = IDX_ZC_FOOTER_OLD;
	else
		BADZ("the footer is not a skippable frame of 40 or 64 bytes");
	f = t + n - fsize;
	out->off = le64_get(f);
	out->len = le64_get(f + 8);
	out->ulen = le64_get(f + 16);
	out->type = le64_get(f + 24) > 0xffff ? 0xffff : (unsigned)le64_get(f + 24);
	if (fsize == IDX_ZC_FOOTER_NEW) {
		/* tar-split data: not read, but it must lie before the TOC like any frame */
		uint64_t ts_off = le64_get(f + 32), ts_len = le64_get(f + 40);

		if (ts_len && (ts_off < 8 || ts_off > out->off || ts_len > out->off - ts_off))
			BADZ("footer: tar-split at %llu+%llu is not before the TOC", (ull)ts_off,
			     (ull)ts_len);
	}
	return loc_check(out, blob_size - 8 - fsize, "footer");
}

/* One decimal field of the position annotation, up to @sep (or the end when @sep is 0). */
static const char *dec_field(const char *s, char sep, uint64_t *v)
{
	uint64_t x = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return NULL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (x > (UINT64_MAX - 9) / 10 || p - s > 19)
			return NULL;
		x = x * 10 + (uint64_t)(*p - '0');
	}
	if (*p != sep)
		return NULL;
	*v = x;
	return sep ? p + 1 : p;
}

int idx_zchunked_position(const char *s, uint64_t blob_size, struct idx_toc_loc *out)
{
	uint64_t type = 0;

	if (!s || !out)
		return -EINVAL;
	if (!(s = dec_field(s, ':', &out->off)) || !(s = dec_field(s, ':', &out->len)) ||
	    !(s = dec_field(s, ':', &out->ulen)) || !dec_field(s, 0, &type))
		BADZ("manifest-position annotation is not offset:length:ulen:type");
	out->type = type > 0xffff ? 0xffff : (unsigned)type;
	/* The footer follows the TOC: at least its smaller skippable frame. */
	if (blob_size < 8 + IDX_ZC_FOOTER_OLD)
		BADZ("a blob of %llu bytes cannot hold a TOC", (ull)blob_size);
	return loc_check(out, blob_size - 8 - IDX_ZC_FOOTER_OLD, "manifest-position");
}

/* Decompress the TOC: at most @max bytes (the declared length, else the ceiling). */
static int inflate_toc(const void *toc, size_t n, uint64_t max, char **json, size_t *jlen)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	ZSTD_inBuffer in = { toc, n, 0 };
	ZSTD_outBuffer ob = { 0 };
	size_t cap = 0, alloc = 0, r = 1; /* zstd may write @cap bytes; one more for the NUL */
	char *buf = NULL;
	int g;

	if (!d)
		return -ENOMEM;
	/* Like every zstd in stratafs: no window over 2^27 for a few MiB of JSON. */
	ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 27);
	while (in.pos < in.size || r != 0) {
		if (ob.pos == cap) {
			/* up to one byte past the limit, which proves it is over, and the NUL */
			g = xarray_grow_size((void **)&buf, &alloc, alloc, 1, (64u << 10) + 1, max + 2);
			if (g == -EFBIG) {
				log_err("zstd:chunked: the TOC decodes to more than %llu bytes", (ull)max);
				goto bad;
			}
			if (g < 0) {
				free(buf);
				ZSTD_freeDCtx(d);
				return -ENOMEM;
			}
			cap = alloc - 1;
			ob = (ZSTD_outBuffer){ buf, cap, ob.pos };
		}
		r = ZSTD_decompressStream(d, &ob, &in);
		if (ZSTD_isError(r)) {
			log_err("zstd:chunked: the TOC does not decompress: %s", ZSTD_getErrorName(r));
			goto bad;
		}
		if (in.pos == in.size && r != 0 && ob.pos < cap) {
			log_err("zstd:chunked: the TOC's zstd data is truncated");
			goto bad;
		}
	}
	if (ob.pos > max) {
		log_err("zstd:chunked: the TOC decodes to more than %llu bytes", (ull)max);
		goto bad;
	}
	ZSTD_freeDCtx(d);
	buf[ob.pos] = '\0';
	*json = buf;
	*jlen = ob.pos;
	return 0;
bad:
	free(buf);
	ZSTD_freeDCtx(d);
	return -EBADMSG;
}

int idx_zchunked_load_at(const void *toc, size_t n, const struct idx_toc_loc *loc,
			 const struct idx_foreign_opts *o, struct idx_layer **out)
{
	uint64_t limit, max = loc ? loc->ulen : IDX_MAX_TOC_SIZE;
	size_t jlen = 0;
	char *json = NULL;
	int r;

	if (!toc || !o || !out)
		return -EINVAL;
	if (n == 0 || n > IDX_MAX_TOC_SIZE)
		BADZ("a TOC of %zu bytes", n);
	if (loc && (loc->len != n || loc->off < 8 || loc->ulen > IDX_MAX_TOC_SIZE))
		BADZ("a TOC of %zu bytes where %llu were announced", n, (ull)loc->len);
	/* Chunks end before the TOC's skippable frame header (or the blob). */
	limit = loc ? loc->off - 8 : o->blob_size;
	r = inflate_toc(toc, n, max, &json, &jlen);
	if (r < 0)
		return r;
	if (loc && jlen != loc->ulen) {
		free(json);
		BADZ("the TOC decodes to %zu bytes, %llu were announced", jlen, (ull)loc->ulen);
	}
	r = idx_zc_toc_parse(json, jlen, limit, o, out);
	free(json);
	return r;
}

int idx_zchunked_load(const void *toc, size_t n, const struct idx_foreign_opts *o,
		      struct idx_layer **out)
{
	return idx_zchunked_load_at(toc, n, NULL, o, out);
}
