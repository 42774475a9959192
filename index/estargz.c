/* SPDX-License-Identifier: MIT */
/*
 * eStargz / legacy stargz: the footer, and the TOC member it points at.
 *
 * The footer is an empty gzip member whose extra field carries the TOC's
 * blob offset as "%016xSTARGZ" (eStargz: inside a subfield "SG", 51 bytes
 * in all; legacy stargz: the bare 22 bytes, 47 in all). It is read with
 * zlib as any gzip member (header, empty deflate data, CRC and size
 * checked), then its extra field is matched exactly.
 *
 * From the TOC offset to the footer lie the TOC members: gunzipped, they
 * are a tar of one member "stargz.index.json" (the JSON) and its end
 * blocks, read with the layer tar reader (index/tar.c) so the TOC file
 * gets the same attributes the tar shows. Its sha256 is what the manifest
 * pins (containerd.io/snapshot/stargz/toc.digest): compared before the
 * JSON is parsed.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <zlib.h>

#include "common/clock.h"
#include "common/dbuf.h"
#include "common/digest.h"
#include "common/log.h"
#include "index/estargz.h"
#include "index/estargz_int.h"
#include "index/tar_int.h"

#define TOC_NAME "stargz.index.json"
/* The TOC tar: the JSON plus its header(s), padding and end blocks. */
#define TOC_TAR_MAX ((size_t)IDX_MAX_TOC_SIZE + (64u << 10))

static int hex16(const uint8_t *s, uint64_t *out)
{
	uint64_t v = 0;

	for (int i = 0; i < 16; i++) {
		uint8_t c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (d < 0)
			return -EBADMSG;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return 0;
}

/*
 * One footer of @len bytes at @p: a complete gzip member with no data and
 * the extra field @want_xlen long. The TOC offset in *off.
 */
static int footer_at(const uint8_t *p, size_t len, bool legacy, uint64_t *off)
{
	uint8_t extra[32], out[1];
	gz_header h = { 0 };
	z_stream zs = { 0 };
	const uint8_t *x = extra;
	unsigned want_xlen = legacy ? 22 : 26;
	int ret;

	/* A quick look first: most blobs end in no footer at all. */
	if (p[0] != 0x1f || p[1] != 0x8b || p[2] != 8 || p[3] != 4 || p[10] != want_xlen ||
	    p[11] != 0)
		return -EBADMSG;
	h.extra = extra;
	h.extra_max = sizeof(extra);
	if (inflateInit2(&zs, 31) != Z_OK)
		return -ENOMEM;
	zs.next_in = (uint8_t *)p;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = sizeof(out);
	ret = inflateGetHeader(&zs, &h) == Z_OK ? inflate(&zs, Z_FINISH) : Z_DATA_ERROR;
	/* The member must end exactly at the blob's end, with no data. */
	if (ret != Z_STREAM_END || zs.avail_in != 0 || zs.total_out != 0 || h.extra_len != want_xlen)
		ret = -EBADMSG;
	else
		ret = 0;
	inflateEnd(&zs);
	if (ret < 0)
		return ret;
	if (!legacy) {
		/* one subfield: SI1 'S', SI2 'G', LEN 22 */
		if (x[0] != 'S' || x[1] != 'G' || x[2] != 22 || x[3] != 0)
			return -EBADMSG;
		x += 4;
	}
	if (memcmp(x + 16, "STARGZ", 6) != 0)
		return -EBADMSG;
	return hex16(x, off);
}

int idx_estargz_footer(const void *tail, size_t n, uint64_t blob_size, struct idx_toc_loc *out)
{
	const uint8_t *t = tail;
	uint64_t off;
	size_t fs;

	if (!tail || !out || n > blob_size)
		return -EINVAL;
	fs = IDX_ESTARGZ_FOOTER_SIZE;
	if (n >= fs && footer_at(t + n - fs, fs, false, &off) == 0) {
		out->type = IDX_ESTARGZ_NEW;
	} else {
		fs = IDX_STARGZ_FOOTER_SIZE;
		if (n < fs || footer_at(t + n - fs, fs, true, &off) < 0)
			return -EBADMSG; /* not stargz: no log, the caller tries other formats */
		out->type = IDX_ESTARGZ_LEGACY;
	}
	/* The TOC holds at least a gzip header, a tar header and a JSON object. */
	if (off >= blob_size - fs) {
		log_err("eStargz footer: TOC offset %llu is not before the footer (blob of %llu bytes)",
			(unsigned long long)off, (unsigned long long)blob_size);
		return -EBADMSG;
	}
	out->off = off;
	out->len = blob_size - off;
	out->ulen = 0;
	return 0;
}

/* Gunzip the TOC members [0, @n) into @raw: whole members, nothing after them. */
static int gunzip_toc(const uint8_t *p, size_t n, struct dbuf *raw)
{
	uint8_t buf[16384];
	z_stream zs = { 0 };
	int ret = Z_OK, r = 0;

	if (inflateInit2(&zs, 31) != Z_OK)
		return -ENOMEM;
	zs.next_in = (uint8_t *)p;
	zs.avail_in = (uInt)n;
	while (r == 0) {
		zs.next_out = buf;
		zs.avail_out = sizeof(buf);
		ret = inflate(&zs, Z_NO_FLUSH);
		if (ret != Z_OK && ret != Z_STREAM_END) {
			r = ret == Z_MEM_ERROR ? -ENOMEM : -EBADMSG;
			break;
		}
		r = dbuf_add(raw, buf, sizeof(buf) - zs.avail_out);
		if (ret == Z_STREAM_END) {
			if (zs.avail_in == 0)
				break;
			if (inflateReset(&zs) != Z_OK)
				r = -EBADMSG;
		} else if (zs.avail_in == 0 && zs.avail_out != 0) {
			r = -EBADMSG; /* the TOC ends inside a member */
		}
	}
	inflateEnd(&zs);
	if (r == -EFBIG)
		log_err("eStargz TOC: over %zu bytes uncompressed", TOC_TAR_MAX);
	else if (r < 0)
		log_err("eStargz TOC: not a complete gzip stream before the footer");
	return r;
}

struct toc_tar {
	struct esgz_toc *t;
	char path[sizeof(TOC_NAME)];
	unsigned n;
};

static int on_toc_member(void *ctx, const struct tar_entry *e)
{
	struct toc_tar *tt = ctx;

	if (tt->n++ > 0) {
		log_err("eStargz TOC: a second tar member '%s' after " TOC_NAME, e->path);
		return -EBADMSG;
	}
	if (e->type != IDX_T_REG || e->sparse || e->n_xattrs || strcmp(e->path, TOC_NAME) != 0) {
		log_err("eStargz TOC: the tar member is '%s', not a plain file " TOC_NAME, e->path);
		return -EBADMSG;
	}
	tt->t->hdr_len = e->data_off;
	tt->t->json_len = e->size;
	tt->t->mode = e->mode;
	tt->t->uid = e->uid;
	tt->t->gid = e->gid;
	tt->t->mtime_sec = e->mtime_sec;
	tt->t->mtime_nsec = e->mtime_nsec;
	memcpy(tt->path, TOC_NAME, sizeof(TOC_NAME));
	tt->t->path = tt->path;
	return 0;
}

/* The tar in @raw: exactly one member, the JSON, complete. */
static int read_toc_tar(const struct dbuf *raw, struct toc_tar *tt)
{
	static const struct tar_callbacks cb = { .on_entry = on_toc_member };
	struct tar_parser *p;
	int r;

	r = idx_tar_parser_new(&cb, tt, &p);
	if (r < 0)
		return r;
	r = idx_tar_parser_feed(p, raw->data, raw->len);
	if (r == 0)
		r = idx_tar_parser_finish(p);
	idx_tar_parser_free(p);
	if (r == 0 && tt->n == 0) {
		log_err("eStargz TOC: the tar holds no " TOC_NAME);
		r = -EBADMSG;
	}
	if (r == 0 && (tt->t->json_len > IDX_MAX_TOC_SIZE ||
		       tt->t->hdr_len + tt->t->json_len > raw->len)) {
		log_err("eStargz TOC: " TOC_NAME " of %llu bytes does not fit",
			(unsigned long long)tt->t->json_len);
		r = -EFBIG;
	}
	return r;
}

static int check_pin(const struct esgz_toc *t, const char *toc_digest)
{
	uint8_t want[DIGEST_SHA256_LEN], got[DIGEST_SHA256_LEN];
	char got_s[DIGEST_STR_LEN];

	if (digest_parse(toc_digest, want) < 0) {
		log_err("eStargz: the pinned TOC digest '%.80s' is malformed", toc_digest);
		return -EBADMSG;
	}
	digest_sha256(t->raw + t->hdr_len, (size_t)t->json_len, got);
	if (memcmp(want, got, sizeof(want)) != 0) {
		digest_format(got, got_s);
		log_err("eStargz: the TOC is %s, the manifest pins %s: not used", got_s, toc_digest);
		return -EBADMSG;
	}
	return 0;
}

int idx_estargz_load_pinned(const void *toc, size_t n, const struct idx_foreign_opts *o,
			    const char *toc_digest, struct idx_layer **out)
{
	struct esgz_toc t = { 0 };
	struct toc_tar tt = { .t = &t };
	struct idx_toc_loc loc;
	struct dbuf raw;
	uint64_t fs;
	int r;

	if (!toc || !o || !out || n > o->blob_size)
		return -EINVAL;
	*out = NULL;
	r = idx_estargz_footer(toc, n, o->blob_size, &loc);
	if (r < 0) {
		log_err("eStargz: the blob ends in no stargz footer");
		return r;
	}
	if (loc.len != n) {
		log_err("eStargz: the TOC given starts at %llu, the footer says %llu",
			(unsigned long long)(o->blob_size - n), (unsigned long long)loc.off);
		return -EBADMSG;
	}
	fs = loc.type == IDX_ESTARGZ_NEW ? IDX_ESTARGZ_FOOTER_SIZE : IDX_STARGZ_FOOTER_SIZE;
	if (n - fs > IDX_MAX_TOC_SIZE) {
		log_err("eStargz TOC: %llu compressed bytes, over the ceiling",
			(unsigned long long)(n - fs));
		return -EFBIG;
	}
	t.c_off = loc.off;
	t.c_end = o->blob_size - fs;
	dbuf_init(&raw, TOC_TAR_MAX);
	r = gunzip_toc(toc, (size_t)(n - fs), &raw);
	if (r == 0)
		r = read_toc_tar(&raw, &tt);
	t.raw = (const uint8_t *)raw.data;
	if (r == 0 && toc_digest)
		r = check_pin(&t, toc_digest);
	if (r == 0)
		r = idx_esgz_toc_layer(&t, o, out);
	dbuf_release(&raw);
	return r;
}

int idx_estargz_load(const void *toc, size_t n, const struct idx_foreign_opts *o,
		     struct idx_layer **out)
{
	return idx_estargz_load_pinned(toc, n, o, NULL, out);
}
