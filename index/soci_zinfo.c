/* SPDX-License-Identifier: MIT */
/*
 * SOCI's gzip zinfo: the zran access points of a gzip layer, serialized by
 * soci-snapshotter as a 12-byte header (i32 checkpoint count, i64 span
 * size, little-endian) then, per checkpoint, i64 in, i64 out, u8 bits and
 * the 32 KiB window that precedes it, uncompressed. The first version left
 * checkpoint 0 out (it assumed "right after a 10-byte gzip header, empty
 * window"); the two are told apart by the blob's size, as SOCI does.
 *
 * Also the RFC 3339 times of the zTOC's entries.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "index/soci_int.h"

#define BAD(...)                                        \
	do {                                            \
		log_err("zTOC: " __VA_ARGS__);          \
		return -EBADMSG;                        \
	} while (0)

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

void idx_soci_zinfo_free(struct soci_zinfo *z)
{
	free(z->ck);
	z->ck = NULL;
	z->n = 0;
}

uint64_t idx_soci_span_c_start(const struct soci_zinfo *z, uint32_t i)
{
	return z->ck[i].in - (z->ck[i].bits ? 1 : 0);
}

uint64_t idx_soci_span_c_end(const struct soci_zinfo *z, uint32_t i, uint64_t c_size)
{
	return i + 1 < z->n ? z->ck[i + 1].in : c_size;
}

static int check_order(const struct soci_zinfo *z, uint64_t c_size, uint64_t u_size)
{
	for (uint32_t i = 0; i < z->n; i++) {
		const struct soci_ckpt *c = &z->ck[i];

		if (c->bits > 7)
			BAD("checkpoint %u: %u bits", i, c->bits);
		if (i == 0 && (c->out != 0 || c->bits))
			BAD("checkpoint 0 is not at the start of the archive");
		if (i > 0 && (c->in <= z->ck[i - 1].in || c->out <= z->ck[i - 1].out))
			BAD("checkpoint %u out of order", i);
		/*
		 * SOCI cuts where the gzip stream has a block end, also where the
		 * tar is over (a writer's empty last block, GNU tar's record
		 * padding): those checkpoints start no span and are ignored.
		 */
		if (c->in >= c_size || (i == 0 && c->out >= u_size) || (c->bits && c->in == 0))
			BAD("checkpoint %u past the archive", i);
	}
	/* A span's compressed range must not be empty (a mid-byte start takes one byte back). */
	for (uint32_t i = 0; i < z->n; i++)
		if (idx_soci_span_c_start(z, i) >= idx_soci_span_c_end(z, i, c_size))
			BAD("span %u has no compressed bytes", i);
	return 0;
}

int idx_soci_zinfo_parse(const uint8_t *blob, size_t len, uint64_t c_size, uint64_t u_size,
		     uint32_t max_n, struct soci_zinfo *out)
{
	int32_t count;
	uint32_t first;
	const uint8_t *p;
	uint64_t need;

	memset(out, 0, sizeof(*out));
	if (len < SOCI_ZINFO_HDR)
		BAD("checkpoints blob of %zu bytes", len);
	count = (int32_t)((uint32_t)blob[0] | (uint32_t)blob[1] << 8 | (uint32_t)blob[2] << 16 |
			  (uint32_t)blob[3] << 24);
	if (count <= 0)
		BAD("%d checkpoints", count);
	if ((uint32_t)count > max_n) {
		log_err("zTOC: %d checkpoints, more than %u", count, max_n);
		return -EFBIG;
	}
	need = SOCI_ZINFO_HDR + (uint64_t)count * SOCI_ZINFO_CKPT;
	if (need == len)
		first = 0; /* v2: every checkpoint */
	else if (need - SOCI_ZINFO_CKPT == len)
		first = 1; /* v1: checkpoint 0 implied */
	else
		BAD("checkpoints blob of %zu bytes for %d checkpoints", len, count);
	out->span_size = get64(blob + 4);
	out->n = (uint32_t)count;
	out->ck = calloc(out->n, sizeof(*out->ck));
	if (!out->ck)
		return -ENOMEM;
	if (first)
		out->ck[0] = (struct soci_ckpt){ .in = SOCI_ZINFO_V1_FIRST_IN };
	p = blob + SOCI_ZINFO_HDR;
	for (uint32_t i = first; i < out->n; i++, p += SOCI_ZINFO_CKPT)
		out->ck[i] = (struct soci_ckpt){ .in = get64(p), .out = get64(p + 8), .bits = p[16],
						 .window = p + 17 };
	if (check_order(out, c_size, u_size) < 0) {
		idx_soci_zinfo_free(out);
		return -EBADMSG;
	}
	while (out->n_used < out->n && out->ck[out->n_used].out < u_size)
		out->n_used++;
	return 0;
}
