/* SPDX-License-Identifier: MIT */
/*
 * Test helper: eStargz blobs written in memory the way stargz-snapshotter
 * 0.12 writes them (checked against ctr-remote's output, see
 * docs/formats.md): each tar header and each file chunk is a gzip member
 * of its own (a chunk's last member carries the tar padding), then one
 * member with the TOC tar (header, JSON, end blocks), then the footer.
 * The blob is also a valid tar.gz, so idx_build() can read the same bytes
 * as the oracle. Flags break what a test needs broken. Aborts on ENOMEM.
 */
#ifndef TESTS_UNIT_INDEX_ESTARGZ_UTIL_H
#define TESTS_UNIT_INDEX_ESTARGZ_UTIL_H

#include <stdarg.h>
#include <zlib.h>

#include "common/digest.h"
#include "test_index_tar_util.h"

#define EW_MTIME 1700000000
#define EW_MTIME_S "2023-11-14T22:13:20Z"

enum {
	EW_NO_CHUNK_DIGEST = 1,  /* no chunkDigest (nor digest) on any chunk */
	EW_BAD_CHUNK_DIGEST = 2, /* the last chunk's chunkDigest is of other bytes */
	EW_LAST_SIZE_0 = 4,      /* the last chunk says chunkSize 0 ("to the end") */
	EW_INNER_OFFSET = 8,     /* the first chunk claims innerOffset 1 */
	EW_SHORT = 16,           /* the chunks stop one chunk short of the size */
};

struct ew {
	struct tw blob;
	struct tw json; /* the entries, comma-separated */
	uint64_t toc_off;
	char toc_digest[DIGEST_STR_LEN];
};

/* One gzip member of @n bytes. */
static inline void ew_gz(struct ew *w, const void *p, size_t n)
{
	size_t cap = compressBound((uLong)n) + 64;
	uint8_t *out = malloc(cap);
	z_stream zs = { 0 };

	if (!out || deflateInit2(&zs, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	zs.next_in = (uint8_t *)p;
	zs.avail_in = (uInt)n;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END)
		abort();
	tw_put(&w->blob, out, cap - zs.avail_out);
	deflateEnd(&zs);
	free(out);
}

__attribute__((format(printf, 2, 3))) static inline void ew_entry(struct ew *w, const char *fmt, ...)
{
	char buf[8192];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf))
		abort();
	if (w->json.len)
		tw_put(&w->json, ",", 1);
	tw_put(&w->json, buf, (size_t)n);
}

static inline void ew_hdr(struct ew *w, const struct tw_hdr *h, size_t len)
{
	struct tw t = { 0 };

	tw_header(&t, h, len);
	ew_gz(w, t.buf, t.len);
	tw_free(&t);
}

static inline void ew_sha(const void *p, size_t n, char out[DIGEST_STR_LEN])
{
	uint8_t raw[DIGEST_SHA256_LEN];

	digest_sha256(p, n, raw);
	digest_format(raw, out);
}

/* A regular file in chunks of @chunk bytes (0: one chunk). */
static inline void ew_file(struct ew *w, const char *name, const uint8_t *data, size_t len,
			   size_t chunk, unsigned flags)
{
	struct tw_hdr h = { .name = name, .type = '0', .mode = 0644, .mtime = EW_MTIME, .size = -1 };
	char fd[DIGEST_STR_LEN], cd[DIGEST_STR_LEN];
	size_t end = flags & EW_SHORT && chunk && len > chunk ? len - chunk : len;

	ew_hdr(w, &h, len);
	ew_sha(data, len, fd);
	if (len == 0) {
		ew_entry(w, "{\"name\":\"%s\",\"type\":\"reg\",\"modtime\":\"" EW_MTIME_S
			    "\",\"mode\":420,\"digest\":\"%s\"}", name, fd);
		return;
	}
	if (!chunk)
		chunk = len;
	for (size_t at = 0; at < len; at += chunk) {
		size_t n = len - at < chunk ? len - at : chunk;
		uint64_t off = w->blob.len;
		struct tw t = { 0 };
		bool last = at + n == len;
		char extra[200] = "";
		size_t csize = last && flags & EW_LAST_SIZE_0 ? 0 : n;

		tw_put(&t, data + at, n);
		if (last)
			tw_pad(&t);
		ew_gz(w, t.buf, t.len);
		tw_free(&t);
		ew_sha(data + at, n, cd);
		if (last && flags & EW_BAD_CHUNK_DIGEST)
			ew_sha(data + at, n - 1, cd);
		snprintf(extra, sizeof(extra), "%s%s%s%s",
			 flags & EW_NO_CHUNK_DIGEST ? "" : ",\"chunkDigest\":\"",
			 flags & EW_NO_CHUNK_DIGEST ? "" : cd, flags & EW_NO_CHUNK_DIGEST ? "" : "\"",
			 at == 0 && flags & EW_INNER_OFFSET ? ",\"innerOffset\":1" : "");
		if (at >= end)
			continue;
		if (at == 0)
			ew_entry(w, "{\"name\":\"%s\",\"type\":\"reg\",\"size\":%zu,\"modtime\":\"" EW_MTIME_S
				    "\",\"mode\":420,\"offset\":%llu%s%s%s,\"chunkSize\":%zu%s}",
				 name, len, (unsigned long long)off, flags & EW_NO_CHUNK_DIGEST ? "" : ",\"digest\":\"",
				 flags & EW_NO_CHUNK_DIGEST ? "" : fd, flags & EW_NO_CHUNK_DIGEST ? "" : "\"",
				 csize, extra);
		else
			ew_entry(w, "{\"name\":\"%s\",\"type\":\"chunk\",\"offset\":%llu,\"chunkOffset\":%zu,"
				    "\"chunkSize\":%zu%s}", name, (unsigned long long)off, at, csize, extra);
	}
}

static inline void ew_dir(struct ew *w, const char *name, uint32_t mode)
{
	struct tw_hdr h = { .name = name, .type = '5', .mode = mode, .mtime = EW_MTIME, .size = -1 };

	ew_hdr(w, &h, 0);
	ew_entry(w, "{\"name\":\"%s\",\"type\":\"dir\",\"modtime\":\"" EW_MTIME_S "\",\"mode\":%u}",
		 name, mode);
}

/* type '2' symlink or '1' hardlink */
static inline void ew_link(struct ew *w, char type, const char *name, const char *target)
{
	struct tw_hdr h = { .name = name, .type = type, .mode = 0777, .mtime = EW_MTIME, .size = -1,
			    .link = target };

	ew_hdr(w, &h, 0);
	ew_entry(w, "{\"name\":\"%s\",\"type\":\"%s\",\"modtime\":\"" EW_MTIME_S
		    "\",\"linkName\":\"%s\",\"mode\":511}", name, type == '2' ? "symlink" : "hardlink",
		 target);
}

/* The footer: an empty gzip member whose extra field holds the TOC offset. */
static inline void ew_footer(struct ew *w, uint64_t toc_off, bool legacy)
{
	uint8_t f[51] = { 0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff };
	char x[23];
	size_t at = 10;

	snprintf(x, sizeof(x), "%016llxSTARGZ", (unsigned long long)toc_off);
	f[at++] = legacy ? 22 : 26;
	f[at++] = 0;
	if (!legacy) {
		memcpy(f + at, "SG\x16\x00", 4);
		at += 4;
	}
	memcpy(f + at, x, 22);
	at += 22;
	memcpy(f + at, "\x01\x00\x00\xff\xff", 5);
	at += 5 + 8; /* CRC and size of nothing: zeros */
	tw_put(&w->blob, f, at);
}

/* The TOC member (with @json as the whole JSON when not NULL) and the footer. */
static inline void ew_finish_json(struct ew *w, const char *json, bool legacy)
{
	struct tw_hdr h = { .name = "stargz.index.json", .type = '0', .size = -1 };
	struct tw toc = { 0 }, t = { 0 };

	if (!json) {
		tw_put(&toc, "{\"version\":1,\"entries\":[", 24);
		tw_put(&toc, w->json.buf, w->json.len);
		tw_put(&toc, "]}", 2);
	} else {
		tw_put(&toc, json, strlen(json));
	}
	h.mode = 0;
	tw_add(&t, &h, toc.buf, toc.len);
	tw_eof(&t);
	w->toc_off = w->blob.len;
	ew_gz(w, t.buf, t.len);
	ew_footer(w, w->toc_off, legacy);
	ew_sha(toc.buf, toc.len, w->toc_digest);
	tw_free(&t);
	tw_free(&toc);
}

static inline void ew_finish(struct ew *w, bool legacy)
{
	ew_finish_json(w, NULL, legacy);
}

static inline void ew_free(struct ew *w)
{
	tw_free(&w->blob);
	tw_free(&w->json);
}

#endif
