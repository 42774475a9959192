/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target of the GNU sparse map readers (index/tar_sparse.c and the
 * 0.0 records of tar_pax.c) and of the sparse read path. The input is
 *
 *   byte 0     spelling: 0 pax 0.1, 1 pax 0.0, 2 pax 1.0, 3 old GNU 'S'
 *   bytes 1-2  apparent size (little-endian)
 *   byte 3     n: the map is the next n bytes (n = 255: the next 1024)
 *   the rest   the member's stored data (at most 64 KiB)
 *
 * wrapped into a valid one-member tar: for 0.1 the map is GNU.sparse.map,
 * GNU.sparse.numblocks counting its pairs,
 * for 0.0 it is split at ',' into alternating offset/numbytes records, for
 * 1.0 it is the text at the start of the data, for 'S' it is the raw bytes
 * from offset 386 of the header on (pairs, "is extended" byte) and then
 * extension blocks. When the layer is accepted, the member is read back
 * whole and at offsets taken from the data, and every byte must be what
 * the extents say (stored bytes in them, zeros elsewhere); the index must
 * save, load and read the same.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/types.h>

#include "index/index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_DATA (64u << 10)

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 4096;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void pad(struct buf *b)
{
	static const uint8_t z[512];

	put(b, z, (512 - b->len % 512) % 512);
}

static void octal(uint8_t *f, size_t len, uint64_t v)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "%0*llo", (int)(len - 1), (unsigned long long)v);
	memcpy(f, tmp, len - 1);
}

static void checksum(uint8_t *h)
{
	unsigned sum = 0;

	memset(h + 148, ' ', 8);
	for (int i = 0; i < 512; i++)
		sum += h[i];
	snprintf((char *)h + 148, 8, "%06o", sum);
}

static void header(uint8_t *h, const char *name, char type, uint64_t size, bool gnu)
{
	memset(h, 0, 512);
	memcpy(h, name, strlen(name));
	octal(h + 100, 8, 0644);
	octal(h + 108, 8, 0);
	octal(h + 116, 8, 0);
	octal(h + 124, 12, size);
	octal(h + 136, 12, 0);
	h[156] = (uint8_t)type;
	memcpy(h + 257, gnu ? "ustar  \0" : "ustar\0" "00", 8);
}

static void record(struct buf *b, const char *key, const uint8_t *val, size_t vlen)
{
	size_t base = strlen(key) + vlen + 3, len = base, digits;
	char num[32];

	for (;;) {
		digits = (size_t)snprintf(num, sizeof(num), "%zu", len);
		if (base + digits == len)
			break;
		len = base + digits;
	}
	put(b, num, digits);
	put(b, " ", 1);
	put(b, key, strlen(key));
	put(b, "=", 1);
	put(b, val, vlen);
	put(b, "\n", 1);
}

static void pax(struct buf *tar, struct buf *rec)
{
	uint8_t h[512];

	header(h, "PaxHeaders/s", 'x', rec->len, false);
	checksum(h);
	put(tar, h, 512);
	put(tar, rec->p, rec->len);
	pad(tar);
	free(rec->p);
	*rec = (struct buf){ 0 };
}

/* The one-member tar the input describes. */
static void make_tar(const uint8_t *map, size_t mlen, unsigned sel, unsigned real,
		     const uint8_t *d, size_t dlen, struct buf *tar)
{
	struct buf rec = { 0 };
	uint8_t h[512];
	char num[24];

	snprintf(num, sizeof(num), "%u", real);
	if (sel == 0 || sel == 1) {
		size_t items = mlen ? 1 : 0;

		for (size_t i = 0; i < mlen; i++)
			items += map[i] == ',';
		record(&rec, "GNU.sparse.size", (const uint8_t *)num, strlen(num));
		snprintf(num, sizeof(num), "%zu", items / 2);
		record(&rec, "GNU.sparse.numblocks", (const uint8_t *)num, strlen(num));
		if (sel == 0)
			record(&rec, "GNU.sparse.map", map, mlen);
		for (size_t i = 0, k = 0; sel == 1 && i <= mlen; k++) {
			const uint8_t *c = memchr(map + i, ',', mlen - i);
			size_t n = c ? (size_t)(c - (map + i)) : mlen - i;

			record(&rec, k % 2 ? "GNU.sparse.numbytes" : "GNU.sparse.offset", map + i, n);
			i += n + 1;
		}
		pax(tar, &rec);
	} else if (sel == 2) {
		record(&rec, "GNU.sparse.major", (const uint8_t *)"1", 1);
		record(&rec, "GNU.sparse.minor", (const uint8_t *)"0", 1);
		record(&rec, "GNU.sparse.realsize", (const uint8_t *)num, strlen(num));
		pax(tar, &rec);
	}
	header(h, "s", sel == 3 ? 'S' : '0', sel == 2 ? (mlen + 511) / 512 * 512 + dlen : dlen,
	       sel == 3);
	if (sel == 3) {
		memcpy(h + 386, map, mlen < 97 ? mlen : 97);
		octal(h + 483, 12, real);
	}
	checksum(h);
	put(tar, h, 512);
	if (sel == 3 && mlen > 97) {
		put(tar, map + 97, mlen - 97);
		pad(tar);
	}
	if (sel == 2) {
		put(tar, map, mlen);
		pad(tar);
	}
	put(tar, d, dlen);
	pad(tar);
	memset(h, 0, 512);
	put(tar, h, 512);
	put(tar, h, 512);
}

struct src {
	const uint8_t *p;
	size_t len, pos;
};

static ssize_t src_read(void *ctx, void *buf, size_t n)
{
	struct src *s = ctx;

	if (n > s->len - s->pos)
		n = s->len - s->pos;
	memcpy(buf, s->p + s->pos, n);
	s->pos += n;
	return (ssize_t)n;
}

static ssize_t src_read_at(void *ctx, void *buf, size_t n, uint64_t off)
{
	const struct src *s = ctx;

	if (off >= s->len)
		return 0;
	if (n > s->len - off)
		n = s->len - (size_t)off;
	memcpy(buf, s->p + off, n);
	return (ssize_t)n;
}

/* What byte @x of @e must read as. */
static uint8_t model(const struct idx_entry *e, const uint8_t *tar, uint64_t x)
{
	for (uint32_t i = 0; i < e->n_extents; i++) {
		const struct idx_extent *t = &e->extents[i];

		if (x >= t->off && x < t->off + t->len)
			return tar[t->tar_off + (x - t->off)];
	}
	return e->sparse ? 0 : tar[e->data_off + x];
}

static void check_reads(const struct idx_layer *l, const struct buf *tar, const uint8_t *d,
			size_t dlen)
{
	struct src s = { tar->p, tar->len, 0 };
	struct idx_reader rd = { &s, src_read_at };
	const struct idx_entry *e;
	uint8_t *out;
	uint32_t id;

	if (idx_entry_find(l, "s", &id) < 0)
		return;
	e = idx_entry_get(l, id);
	if (e->type != IDX_T_REG)
		return;
	out = malloc(e->size + 1);
	if (!out)
		abort();
	if (idx_file_read(l, id, &rd, out, e->size, 0) != (ssize_t)e->size)
		abort();
	for (uint64_t x = 0; x < e->size; x++) {
		if (out[x] != model(e, tar->p, x))
			abort();
	}
	for (size_t i = 0; i + 4 <= dlen && i < 64; i += 4) {
		uint64_t off = (d[i] | d[i + 1] << 8) % (e->size + 1);
		size_t n = (size_t)(d[i + 2] | d[i + 3] << 8);
		ssize_t got = idx_file_read(l, id, &rd, out, n, off);
		uint64_t want = off >= e->size ? 0 : (n < e->size - off ? n : e->size - off);

		if (got != (ssize_t)want)
			abort();
		for (uint64_t k = 0; k < want; k++) {
			if (out[k] != model(e, tar->p, off + k))
				abort();
		}
	}
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct idx_build_opts o = { .comp = IDX_COMP_NONE };
	struct idx_layer *l = NULL, *l2 = NULL;
	struct buf tar = { 0 };
	struct src s;
	size_t mlen, dlen;
	void *saved = NULL;
	size_t slen;

	if (size < 4)
		return 0;
	mlen = data[3] == 255 ? 1024 : data[3];
	if (mlen > size - 4)
		mlen = size - 4;
	dlen = size - 4 - mlen;
	if (dlen > MAX_DATA)
		dlen = MAX_DATA;
	make_tar(data + 4, mlen, data[0] % 4, (unsigned)(data[1] | data[2] << 8), data + 4 + mlen,
		 dlen, &tar);
	s = (struct src){ tar.p, tar.len, 0 };
	if (idx_build(&o, src_read, &s, &l, NULL) == 0) {
		check_reads(l, &tar, data + 4 + mlen, dlen);
		if (idx_save(l, &saved, &slen) != 0 || idx_load(saved, slen, &l2) != 0)
			abort(); /* what we build, we must load */
		check_reads(l2, &tar, data + 4 + mlen, dlen);
	}
	idx_layer_free(l);
	idx_layer_free(l2);
	free(saved);
	free(tar.p);
	return 0;
}
