/* SPDX-License-Identifier: MIT */
/*
 * Decoding one span from its compressed bytes, and reading file ranges
 * through spans. Each call owns its decoder state (a z_stream or a
 * ZSTD_DCtx made for the call), so any number of threads may decode spans
 * of the same layer at once.
 *
 * gzip from a block checkpoint: the byte before c_off still holds @bits
 * bits of the next block, so the span's bytes start one byte early; those
 * bits are primed, the stored window becomes the dictionary of a raw
 * inflate. When the member ends inside the span, its 8-byte trailer is
 * skipped and the next member is read as gzip (header parsed, CRC checked).
 * A span that starts after its checkpoint (a hard cut) first decodes and
 * drops the bytes in between, into the output buffer itself.
 *
 * A span flagged IDX_SF_CSHA (SOCI) carries the digest of its compressed
 * bytes instead of its decoded ones: it is checked on the input, before
 * inflate sees a byte.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

#include "common/log.h"
#include "common/xmath.h"
#include "index/layer_int.h"

/* Where the decoder writes: skip bytes go to the front of out, then the span. */
struct sink {
	uint8_t *out;
	size_t out_len;
	uint64_t skip; /* still to drop */
	size_t done;   /* span bytes produced */
	size_t want;   /* u_len */
};

static size_t sink_room(const struct sink *k, uint8_t **at)
{
	if (k->skip) {
		*at = k->out;
		return (size_t)XMIN((uint64_t)k->out_len, k->skip);
	}
	*at = k->out + k->done;
	return k->want - k->done;
}

static void sink_took(struct sink *k, size_t n)
{
	if (k->skip)
		k->skip -= n;
	else
		k->done += n;
}

static int gz_window(const struct idx_ckpt *ck, z_stream *zs)
{
	uint8_t *w = malloc(IDX_WINDOW_SIZE);
	size_t n;
	int r = 0;

	if (!w)
		return -ENOMEM;
	n = ZSTD_decompress(w, IDX_WINDOW_SIZE, ck->win, ck->win_clen);
	if (ZSTD_isError(n) || n != ck->win_len)
		r = -EBADMSG;
	else if (inflateSetDictionary(zs, w, (uInt)n) != Z_OK)
		r = -EBADMSG;
	free(w);
	return r;
}

/* A member ended inside the span: go on with the next one, as gzip. */
static int gz_next_member(z_stream *zs, bool *raw)
{
	if (*raw) {
		if (zs->avail_in < 8)
			return -EBADMSG;
		zs->next_in += 8;
		zs->avail_in -= 8;
		*raw = false;
	}
	return inflateReset2(zs, 31) == Z_OK ? 0 : -EBADMSG;
}

static int gz_run(z_stream *zs, struct sink *k, bool raw)
{
	uint8_t *at;
	int ret, r;

	while (k->done < k->want) {
		zs->avail_out = (uInt)XMIN(sink_room(k, &at), (size_t)UINT32_MAX);
		zs->next_out = at;
		ret = inflate(zs, Z_NO_FLUSH);
		sink_took(k, (size_t)(zs->next_out - at));
		if (ret == Z_STREAM_END) {
			if (k->done == k->want)
				break;
			r = gz_next_member(zs, &raw);
			if (r < 0)
				return r;
			continue;
		}
		if (ret == Z_MEM_ERROR)
			return -ENOMEM;
		if (ret != Z_OK)
			return -EBADMSG;
	}
	return 0;
}

static int gz_decode(const struct idx_layer *l, const struct idx_span_rec *s, const uint8_t *cbuf,
		     size_t clen, struct sink *k)
{
	const struct idx_ckpt *ck = &l->ckpts[s->ckpt];
	bool raw = ck->kind == IDX_CK_GZ_BLOCK;
	z_stream zs = { 0 };
	int r;

	if (inflateInit2(&zs, raw ? -15 : 31) != Z_OK)
		return -ENOMEM;
	zs.next_in = (uint8_t *)cbuf;
	zs.avail_in = (uInt)clen;
	r = 0;
	if (raw && ck->bits) {
		if (clen < 1 || inflatePrime(&zs, ck->bits, cbuf[0] >> (8 - ck->bits)) != Z_OK)
			r = -EBADMSG;
		zs.next_in++;
		zs.avail_in--;
	}
	if (r == 0 && raw)
		r = gz_window(ck, &zs);
	if (r == 0)
		r = gz_run(&zs, k, raw);
	inflateEnd(&zs);
	return r;
}

static int zstd_stream(ZSTD_DCtx *d, const uint8_t *cbuf, size_t clen, struct sink *k)
{
	ZSTD_inBuffer in = { cbuf, clen, 0 };
	size_t ret;
	uint8_t *at;

	while (k->done < k->want) {
		ZSTD_outBuffer out = { NULL, 0, 0 };

		out.size = sink_room(k, &at);
		out.dst = at;
		ret = ZSTD_decompressStream(d, &out, &in);
		if (ZSTD_isError(ret))
			return ZSTD_getErrorCode(ret) == ZSTD_error_memory_allocation ? -ENOMEM : -EBADMSG;
		sink_took(k, out.pos);
		if (out.pos == 0 && in.pos == in.size)
			return -EBADMSG; /* input exhausted before the span was complete */
	}
	return 0;
}

static int zstd_decode(const struct idx_span_rec *s, const uint8_t *cbuf, size_t clen,
		       struct sink *k)
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	size_t n;
	int r;

	if (!d)
		return -ENOMEM;
	if (ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 31))) {
		r = -EIO;
	} else if ((s->flags & IDX_SF_WHOLE_FRAMES) && k->skip == 0) {
		/* Whole frames: one-shot, straight into the caller's buffer. */
		n = ZSTD_decompressDCtx(d, k->out, k->want, cbuf, clen);
		r = ZSTD_isError(n) || n != k->want ? -EBADMSG : 0;
		k->done = k->want;
	} else {
		r = zstd_stream(d, cbuf, clen, k);
	}
	ZSTD_freeDCtx(d);
	return r;
}

int idx_span_decode(const struct idx_layer *l, uint32_t id, const void *cbuf, size_t clen,
		    void *out, size_t out_len)
{
	const struct idx_span_rec *s;
	struct sink k;
	uint8_t sha[DIGEST_SHA256_LEN];
	int r;

	if (!l || id >= l->n_spans || (!cbuf && clen))
		return -EINVAL;
	s = &l->spans[id];
	if (!out || out_len < s->u_len || clen < s->c_end - idx_span_c_start(l, s))
		return -EINVAL;
	clen = (size_t)(s->c_end - idx_span_c_start(l, s));
	k = (struct sink){ .out = out, .out_len = (size_t)s->u_len, .want = (size_t)s->u_len,
			   .skip = s->u_start - l->ckpts[s->ckpt].u_off };
	if (s->flags & IDX_SF_CSHA) {
		/* SOCI: the digest pins the compressed bytes; decode only those. */
		digest_sha256(cbuf, clen, sha);
		if (memcmp(sha, s->sha, DIGEST_SHA256_LEN) != 0) {
			log_err("span %u of layer: its compressed bytes do not match its digest", id);
			return -EBADMSG;
		}
	}
	switch (l->comp) {
	case IDX_COMP_GZIP:
		r = gz_decode(l, s, cbuf, clen, &k);
		break;
	case IDX_COMP_ZSTD:
		r = zstd_decode(s, cbuf, clen, &k);
		break;
	default:
		memcpy(out, cbuf, (size_t)s->u_len);
		r = 0;
		break;
	}
	if (r == 0 && !(s->flags & IDX_SF_CSHA)) {
		digest_sha256(out, (size_t)s->u_len, sha);
		if (memcmp(sha, s->sha, DIGEST_SHA256_LEN) != 0)
			r = -EBADMSG;
	}
	if (r == -EBADMSG)
		log_err("span %u of layer does not decode to its digest", id);
	return r;
}

static int read_full(const struct idx_reader *rd, uint8_t *buf, size_t n, uint64_t off)
{
	while (n) {
		ssize_t got = rd->read_at(rd->ctx, buf, n, off);

		if (got == -EINTR)
			continue;
		if (got < 0)
			return (int)got;
		if (got == 0 || (size_t)got > n) {
			log_err("blob ends at %llu, inside a span", (unsigned long long)off);
			return -EBADMSG;
		}
		buf += got;
		n -= (size_t)got;
		off += (uint64_t)got;
	}
	return 0;
}

/* Fetch and decode span @id into @dst (u_len bytes). */
static int fetch_span(const struct idx_layer *l, uint32_t id, const struct idx_reader *rd,
		      uint8_t *dst)
{
	const struct idx_span_rec *s = &l->spans[id];
	uint64_t c0 = idx_span_c_start(l, s);
	uint8_t *cbuf = malloc((size_t)(s->c_end - c0));
	int r;

	if (!cbuf)
		return -ENOMEM;
	r = read_full(rd, cbuf, (size_t)(s->c_end - c0), c0);
	if (r == 0)
		r = idx_span_decode(l, id, cbuf, (size_t)(s->c_end - c0), dst, (size_t)s->u_len);
	free(cbuf);
	return r;
}

/* Read tar bytes [@pos, @pos + @n) through the spans that hold them. */
static int read_tar(const struct idx_layer *l, const struct idx_reader *blob, uint8_t *dst,
		    uint64_t pos, uint64_t n)
{
	uint64_t end = pos + n;
	uint8_t *tmp = NULL;
	uint32_t sid;
	int r = 0;

	while (pos < end && r == 0) {
		const struct idx_span_rec *s;
		uint64_t from, take;

		r = idx_span_find(l, pos, &sid);
		if (r < 0)
			break;
		s = &l->spans[sid];
		from = pos - s->u_start;
		take = XMIN(s->u_len - from, end - pos);
		if (from == 0 && take == s->u_len) {
			r = fetch_span(l, sid, blob, dst); /* the whole span: no copy */
		} else {
			free(tmp);
			tmp = malloc((size_t)s->u_len);
			r = tmp ? fetch_span(l, sid, blob, tmp) : -ENOMEM;
			if (r == 0)
				memcpy(dst, tmp + from, (size_t)take);
		}
		dst += take;
		pos += take;
	}
	free(tmp);
	return r;
}

ssize_t idx_file_read(const struct idx_layer *l, uint32_t id, const struct idx_reader *blob,
		      void *buf, size_t n, uint64_t off)
{
	const struct idx_entry *e = idx_entry_get(l, id);
	uint8_t *dst = buf;
	uint64_t done = 0;
	int r = 0;

	if (!e || !blob || !blob->read_at || (!buf && n))
		return -EINVAL;
	if (e->type != IDX_T_REG)
		return e->type == IDX_T_DIR ? -EISDIR : -EINVAL; /* hardlinks: read the target entry */
	if (off >= e->size || n == 0)
		return 0;
	n = (size_t)XMIN((uint64_t)n, e->size - off);
	/* Piece by piece: a sparse file's holes are zeros and fetch nothing. */
	while (done < n && r == 0) {
		uint64_t tar_off, k = idx_entry_map(e, off + done, n - done, &tar_off);

		if (tar_off == UINT64_MAX)
			memset(dst + done, 0, (size_t)k);
		else
			r = read_tar(l, blob, dst + done, tar_off, k);
		done += k;
	}
	return r < 0 ? r : (ssize_t)n;
}
