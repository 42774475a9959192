/* SPDX-License-Identifier: MIT */
/*
 * Test helpers of the span half: layers made in memory (a tar of files with
 * mixed compressible and random content, compressed as one or more gzip
 * members or zstd frames), memory streams and readers, and the random range
 * check that compares spans with the uncompressed stream. Aborts on ENOMEM
 * (test code only).
 */
#ifndef TESTS_UNIT_INDEX_SPAN_UTIL_H
#define TESTS_UNIT_INDEX_SPAN_UTIL_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <zlib.h>
#include <zstd.h>

#include "index/index.h"
#include "test_index_tar_util.h"

static inline uint64_t su_rand(uint64_t *s)
{
	/* splitmix64: reproducible from the seed */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Text-like runs (compress well) mixed with random runs (do not). */
static inline void su_fill(uint8_t *p, size_t n, uint64_t *seed)
{
	static const char words[] = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do ";

	for (size_t i = 0; i < n;) {
		size_t run = 64 + su_rand(seed) % 4096;
		int rnd = su_rand(seed) % 3 == 0;

		for (size_t k = 0; k < run && i < n; k++, i++)
			p[i] = rnd ? (uint8_t)su_rand(seed) : (uint8_t)words[(i + k / 7) % (sizeof(words) - 1)];
	}
}

/* A tar of @n_files regular files of up to @max_size bytes, plus some dirs and links. */
static inline void su_make_tar(struct tw *w, unsigned n_files, size_t max_size, uint64_t seed)
{
	uint8_t *data = malloc(max_size + 1);
	char name[64];

	if (!data)
		abort();
	tw_dir(w, "d/");
	for (unsigned i = 0; i < n_files; i++) {
		size_t sz = (size_t)(su_rand(&seed) % (max_size + 1));
		struct tw_hdr h = { .name = name, .type = '0', .mode = 0644, .mtime = 1700000000 + i,
				    .size = -1 };

		snprintf(name, sizeof(name), "d/f%04u.bin", i);
		su_fill(data, sz, &seed);
		tw_add(w, &h, data, sz);
		if (i % 16 == 0) {
			char target[64];

			snprintf(target, sizeof(target), "d/s%04u", i);
			tw_link(w, '2', target, name);
		}
	}
	tw_eof(w);
	free(data);
}

struct su_buf {
	uint8_t *p;
	size_t len;
};

/* gzip of @len bytes as @members independent members (each a complete gzip file). */
static inline struct su_buf su_gzip(const uint8_t *in, size_t len, unsigned members, int full_flush_every)
{
	struct su_buf out = { malloc(len + len / 2 + 4096 * (members + 1)), 0 };
	size_t per = members ? (len + members - 1) / members : len;

	if (!out.p)
		abort();
	for (size_t off = 0; off < len || (off == 0 && len == 0);) {
		size_t n = len - off < per ? len - off : per;
		z_stream zs = { 0 };

		if (deflateInit2(&zs, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			abort();
		zs.next_out = out.p + out.len;
		zs.avail_out = (uInt)(len + len / 2 + 4096 * (members + 1) - out.len);
		for (size_t k = 0; k < n;) {
			size_t step = full_flush_every ? (size_t)full_flush_every : n;

			if (step > n - k)
				step = n - k;
			zs.next_in = (uint8_t *)in + off + k;
			zs.avail_in = (uInt)step;
			k += step;
			if (deflate(&zs, k < n && full_flush_every ? Z_FULL_FLUSH : Z_NO_FLUSH) != Z_OK)
				abort();
		}
		if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
			abort();
		out.len = (size_t)(zs.next_out - out.p);
		deflateEnd(&zs);
		off += n;
		if (len == 0)
			break;
	}
	return out;
}

/* zstd of @len bytes as @frames frames. */
static inline struct su_buf su_zstd(const uint8_t *in, size_t len, unsigned frames)
{
	size_t per = (len + frames - 1) / frames;
	struct su_buf out = { malloc(ZSTD_compressBound(len) + 64 * frames), 0 };
	size_t cap = ZSTD_compressBound(len) + 64 * frames;

	if (!out.p)
		abort();
	for (size_t off = 0; off < len;) {
		size_t n = len - off < per ? len - off : per;
		size_t z = ZSTD_compress(out.p + out.len, cap - out.len, in + off, n, 3);

		if (ZSTD_isError(z))
			abort();
		out.len += z;
		off += n;
	}
	return out;
}

/* A stream over memory that hands out odd-sized chunks. */
struct su_stream {
	const uint8_t *p;
	size_t len, pos;
	uint64_t seed;
};

static inline ssize_t su_stream_read(void *ctx, void *buf, size_t n)
{
	struct su_stream *s = ctx;
	size_t k = 1 + su_rand(&s->seed) % (200u << 10);

	if (k > n)
		k = n;
	if (k > s->len - s->pos)
		k = s->len - s->pos;
	memcpy(buf, s->p + s->pos, k);
	s->pos += k;
	return (ssize_t)k;
}

struct su_mem {
	const uint8_t *p;
	size_t len;
};

static inline ssize_t su_mem_read_at(void *ctx, void *buf, size_t n, uint64_t off)
{
	struct su_mem *m = ctx;

	if (off >= m->len)
		return 0;
	if (n > m->len - off)
		n = m->len - off;
	memcpy(buf, m->p + off, n);
	return (ssize_t)n;
}

static inline int su_build(const uint8_t *blob, size_t len, uint64_t span, struct idx_layer **out,
			   struct idx_build_stats *st)
{
	struct idx_build_opts o = { .span_size = span, .comp = IDX_COMP_AUTO };
	struct su_stream s = { blob, len, 0, 42 };

	return idx_build(&o, su_stream_read, &s, out, st);
}

/* Decode span @id from @blob into a new buffer; the idx_span_decode() result in *r. */
static inline uint8_t *su_decode(const struct idx_layer *l, uint32_t id, const uint8_t *blob, int *r)
{
	struct idx_span sp;
	uint8_t *out;

	*r = idx_span_get(l, id, &sp);
	if (*r < 0)
		return NULL;
	out = malloc(sp.u_len ? sp.u_len : 1);
	if (!out)
		abort();
	*r = idx_span_decode(l, id, blob + sp.c_start, sp.c_end - sp.c_start, out, sp.u_len);
	return out;
}

/*
 * @n random ranges of the uncompressed stream, each read by decoding the
 * spans that cover it, compared with @ref. Returns the number of mismatches
 * (or decode errors).
 */
static inline unsigned su_check_ranges(const struct idx_layer *l, const uint8_t *blob,
				       const uint8_t *ref, size_t ref_len, unsigned n, uint64_t seed)
{
	unsigned bad = 0;

	for (unsigned i = 0; i < n && ref_len; i++) {
		uint64_t off = su_rand(&seed) % ref_len;
		uint64_t len = 1 + su_rand(&seed) % (3 * 65536);
		uint32_t id;

		if (len > ref_len - off)
			len = ref_len - off;
		while (len) {
			struct idx_span sp;
			uint8_t *out;
			uint64_t from, take;
			int r;

			if (idx_span_find(l, off, &id) < 0 || idx_span_get(l, id, &sp) < 0) {
				bad++;
				break;
			}
			out = su_decode(l, id, blob, &r);
			from = off - sp.u_start;
			take = sp.u_len - from < len ? sp.u_len - from : len;
			if (r < 0 || memcmp(out + from, ref + off, take) != 0)
				bad++;
			free(out);
			off += take;
			len -= take;
		}
	}
	return bad;
}

#endif
