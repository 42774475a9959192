/* SPDX-License-Identifier: MIT */
/*
 * The seekable-layer writer (strata push / commit). Tar bytes come from
 * writer_tar.c; every span_size bytes of tar the current gzip member (or
 * zstd frame) is ended and a new one started, so each span boundary is a
 * member boundary: a checkpoint that needs no window.
 *
 * The index is built by the same machinery idx_build() uses, fed from the
 * inside: the tar bytes go through the span builder (diff_id, one sha256
 * per span, the tar parser that yields the entries with their data
 * offsets) and each member end is reported as the cut a decompressor would
 * report there. So the writer's index is the one idx_build() computes over
 * the blob, checked by the unit tests, and the entries are what a reader
 * parses back from our own bytes, not what we meant to write.
 *
 * zstd with workers (ZSTD_c_nbWorkers) gives the same bytes for any number
 * of workers >= 1, but not the same as single-threaded: a libzstd without
 * thread support writes other (equally valid) bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "common/log.h"
#include "common/xmath.h"
#include "index/build_ent.h"
#include "index/build_int.h"
#include "index/tar_int.h"
#include "index/writer_int.h"

#define OUT_CHUNK (256u << 10)
#define DUP_WARN_MAX 10

struct idx_writer {
	enum idx_comp comp;
	int level;
	unsigned threads;
	uint64_t span;
	idx_sink_fn sink;
	void *ctx;
	struct spanb sb;
	struct tar_parser *tar;
	struct build_entries be;
	struct digest_ctx *blob_sha;
	uint64_t c_pos;     /* compressed bytes handed to the sink */
	uint64_t mem_u;     /* tar bytes in the open member */
	bool mem_open;
	struct gz_pool *gz;  /* gzip: members compressed in parallel */
	ZSTD_CCtx *zc;
	uint8_t *obuf;
	uint64_t data_left; /* content of the current regular file still due */
	uint32_t pad;       /* zeros after it */
	int err;            /* sticky: a failed writer stays failed */
	struct dbuf name, pax, hdr;
};

static int on_entry(void *ctx, const struct tar_entry *e)
{
	return idx_build_entries_add(ctx, e);
}

static int out(struct idx_writer *w, const void *p, size_t n)
{
	int r;

	if (n == 0)
		return 0;
	r = digest_ctx_update(w->blob_sha, p, n);
	if (r == 0)
		r = w->sink(w->ctx, p, n);
	if (r == 0)
		w->c_pos += n;
	return r > 0 ? 0 : r;
}

static int zs_run(struct idx_writer *w, const void *p, size_t n, ZSTD_EndDirective end)
{
	ZSTD_inBuffer in = { p, n, 0 };
	size_t left;
	int r;

	do {
		ZSTD_outBuffer ob = { w->obuf, OUT_CHUNK, 0 };

		left = ZSTD_compressStream2(w->zc, &ob, &in, end);
		if (ZSTD_isError(left)) {
			log_err("cannot compress a zstd frame: %s", ZSTD_getErrorName(left));
			return -EIO;
		}
		r = out(w, w->obuf, ob.pos);
		if (r < 0)
			return r;
	} while (end == ZSTD_e_end ? left != 0 : in.pos < in.size);
	return 0;
}

static int open_member(struct idx_writer *w)
{
	w->mem_open = true;
	w->mem_u = 0;
	return 0;
}

/*
 * A gzip member comes back from the pool, in order: its tar bytes go to the
 * span builder, its compressed bytes to the sink, then the cut at its end
 * (lazy: it lands only if more bytes follow).
 */
static int gz_retire(void *ctx, const uint8_t *in, size_t in_len, const uint8_t *cbuf,
		     size_t clen)
{
	struct idx_writer *w = ctx;
	int r = idx_spanb_data(&w->sb, in, in_len);

	if (r == 0)
		r = out(w, cbuf, clen);
	if (r == 0)
		r = idx_spanb_cut(&w->sb, IDX_CK_GZ_MEMBER, w->c_pos, 0, NULL, 0, w->c_pos, 0);
	return r;
}

/* End the member or frame; the next byte starts a new one (a cut, as gzidx/zstdidx see it). */
static int close_member(struct idx_writer *w, bool last)
{
	static const int kinds[] = { [IDX_COMP_NONE] = IDX_CK_RAW, [IDX_COMP_GZIP] = IDX_CK_GZ_MEMBER,
				     [IDX_COMP_ZSTD] = IDX_CK_ZSTD_FRAME };
	uint32_t flags = w->comp == IDX_COMP_ZSTD ? IDX_SF_WHOLE_FRAMES : 0;
	int r = 0;

	if (w->comp == IDX_COMP_GZIP) {
		/* the pool does the cuts; at the end, whatever is in flight comes back first */
		if (w->mem_open)
			r = idx_gz_pool_submit(w->gz, gz_retire, w);
		if (r == 0 && last)
			r = idx_gz_pool_drain(w->gz, gz_retire, w);
		w->mem_open = false;
		return r < 0 || !last ? r : idx_spanb_finish(&w->sb, w->c_pos, flags);
	}
	if (!w->mem_open) /* the end-of-archive blocks completed a span: nothing is open */
		return last ? idx_spanb_finish(&w->sb, w->c_pos, flags) : 0;
	if (w->comp == IDX_COMP_ZSTD)
		r = zs_run(w, NULL, 0, ZSTD_e_end);
	if (r < 0)
		return r;
	w->mem_open = false;
	if (last)
		return idx_spanb_finish(&w->sb, w->c_pos, flags);
	return idx_spanb_cut(&w->sb, kinds[w->comp], w->c_pos, 0, NULL, 0, w->c_pos, flags);
}

static int compress_bytes(struct idx_writer *w, const void *p, size_t n)
{
	size_t *len;
	uint8_t *buf;

	switch (w->comp) {
	case IDX_COMP_GZIP:
		buf = idx_gz_pool_buf(w->gz, &len);
		memcpy(buf + *len, p, n);
		*len += n;
		return 0;
	case IDX_COMP_ZSTD:
		return zs_run(w, p, n, ZSTD_e_continue);
	default:
		return out(w, p, n);
	}
}

/* Tar bytes, cut into members of exactly span_size. */
static int emit(struct idx_writer *w, const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t take;
	int r;

	while (n) {
		if (!w->mem_open) {
			r = open_member(w);
			if (r < 0)
				return r;
		}
		take = (size_t)XMIN((uint64_t)n, w->span - w->mem_u);
		r = compress_bytes(w, b, take);
		/* gzip: the pool feeds the span builder when the member comes back */
		if (r == 0 && w->comp != IDX_COMP_GZIP)
			r = idx_spanb_data(&w->sb, b, take);
		if (r < 0)
			return r;
		w->mem_u += take;
		b += take;
		n -= take;
		if (w->mem_u == w->span) {
			r = close_member(w, false);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int emit_zeros(struct idx_writer *w, size_t n)
{
	static const uint8_t zeros[WTAR_BLOCK * 2];

	return emit(w, zeros, n);
}

static unsigned threads_of(unsigned t)
{
	long cpus;

	if (t)
		return t;
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus > 0 ? (unsigned)XMIN(cpus, 64L) : 1;
}

static int setup_zstd(struct idx_writer *w)
{
	ZSTD_bounds wb = ZSTD_cParam_getBounds(ZSTD_c_nbWorkers);
	unsigned t = threads_of(w->threads);

	w->zc = ZSTD_createCCtx();
	if (!w->zc)
		return -ENOMEM;
	if (ZSTD_isError(ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel, w->level)))
		return -EINVAL;
	/* a libzstd built without threads has upperBound 0: compress in this thread */
	if (ZSTD_isError(wb.error) || wb.upperBound <= 0)
		t = 0;
	else if ((int)t > wb.upperBound)
		t = (unsigned)wb.upperBound;
	if (t && ZSTD_isError(ZSTD_CCtx_setParameter(w->zc, ZSTD_c_nbWorkers, (int)t)))
		log_warn("zstd: cannot use %u workers, compressing in one thread", t);
	return 0;
}

static int setup(struct idx_writer *w)
{
	static const struct tar_callbacks cbs = { .on_entry = on_entry };
	uint64_t hard = w->comp == IDX_COMP_GZIP ? 2 * w->span : w->span;
	int r;

	dbuf_init(&w->name, IDX_MAX_PATH + 64);
	dbuf_init(&w->pax, WTAR_MAX_HEADERS);
	dbuf_init(&w->hdr, WTAR_MAX_HEADERS + 2 * WTAR_BLOCK);
	idx_build_entries_init(&w->be);
	w->obuf = malloc(OUT_CHUNK);
	if (!w->obuf)
		return -ENOMEM;
	r = digest_ctx_new(&w->blob_sha);
	if (r == 0)
		r = idx_tar_parser_new(&cbs, &w->be, &w->tar);
	if (r == 0)
		r = idx_spanb_init(&w->sb, w->span, hard, w->tar);
	if (r < 0)
		return r;
	if (w->comp == IDX_COMP_GZIP) {
		r = idx_gz_pool_new(w->level, w->span, threads_of(w->threads), &w->gz);
		if (r < 0)
			return r;
	} else if (w->comp == IDX_COMP_ZSTD) {
		r = setup_zstd(w);
		if (r < 0)
			return r;
	}
	static const uint8_t kinds[] = { [IDX_COMP_NONE] = IDX_CK_RAW,
					 [IDX_COMP_GZIP] = IDX_CK_GZ_MEMBER,
					 [IDX_COMP_ZSTD] = IDX_CK_ZSTD_FRAME };
	return idx_spanb_start(&w->sb, kinds[w->comp]);
}

int idx_writer_new(const struct idx_writer_opts *o, idx_sink_fn sink, void *ctx,
		   struct idx_writer **out_w)
{
	struct idx_writer *w;
	int r;

	if (!o || !sink || !out_w)
		return -EINVAL;
	if (o->comp != IDX_COMP_GZIP && o->comp != IDX_COMP_ZSTD && o->comp != IDX_COMP_NONE)
		return -EINVAL;
	if (o->span_size && (o->span_size < IDX_MIN_SPAN_SIZE || o->span_size > IDX_MAX_SPAN_SIZE))
		return -EINVAL;
	if (o->level < 0 || (o->comp == IDX_COMP_GZIP && o->level > 9) ||
	    (o->comp == IDX_COMP_ZSTD && o->level > ZSTD_maxCLevel()))
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->comp = o->comp;
	w->level = o->level ? o->level : o->comp == IDX_COMP_ZSTD ? 3 : 6;
	w->threads = o->threads;
	w->span = o->span_size ? o->span_size : IDX_WRITER_SPAN_SIZE;
	w->sink = sink;
	w->ctx = ctx;
	r = setup(w);
	if (r < 0) {
		idx_writer_free(w);
		return r;
	}
	*out_w = w;
	return 0;
}

static int fail(struct idx_writer *w, int r)
{
	if (r < 0 && !w->err)
		w->err = r;
	return r;
}

int idx_writer_add(struct idx_writer *w, const struct idx_entry *e)
{
	int r;

	if (w->err)
		return w->err;
	if (!e || w->data_left)
		return -EINVAL;
	r = idx_wtar_headers(e, &w->name, &w->pax, &w->hdr);
	if (r < 0)
		return r; /* nothing written: the writer is still usable */
	r = emit(w, w->hdr.data, w->hdr.len);
	if (r < 0)
		return fail(w, r);
	if (e->type == IDX_T_REG && e->size) {
		w->data_left = e->size;
		w->pad = (uint32_t)((WTAR_BLOCK - e->size % WTAR_BLOCK) % WTAR_BLOCK);
	}
	return 0;
}

int idx_writer_data(struct idx_writer *w, const void *buf, size_t n)
{
	int r;

	if (w->err)
		return w->err;
	if (n > w->data_left)
		return fail(w, -EINVAL);
	r = emit(w, buf, n);
	if (r < 0)
		return fail(w, r);
	w->data_left -= n;
	if (w->data_left == 0 && w->pad) {
		r = emit_zeros(w, w->pad);
		w->pad = 0;
	}
	return fail(w, r);
}

/* What idx_build() does after its pass (build.c), on the writer's pieces. */
static int finish_index(struct idx_writer *w, struct idx_layer **out_l)
{
	struct idx_info info = { .comp = w->comp, .span_size = w->span };
	uint8_t blob[DIGEST_SHA256_LEN], diff[DIGEST_SHA256_LEN];
	uint8_t *payload = NULL;
	size_t plen = 0;
	int r;

	r = digest_ctx_final(w->blob_sha, blob);
	if (r == 0)
		r = digest_ctx_final(w->sb.diff_sha, diff);
	if (r < 0)
		return r;
	digest_format(blob, info.blob_digest);
	digest_format(diff, info.diff_id);
	info.blob_size = w->c_pos;
	info.tar_size = w->sb.u_pos;
	/* every span starts on its own member: never sequential-only */
	info.random_access = !(w->sb.n_spans > 1 && w->sb.n_ckpts == 1);
	r = idx_build_entries_resolve(&w->be, DUP_WARN_MAX);
	if (r == 0)
		r = idx_payload_write(&w->be, &w->sb, &info, &payload, &plen);
	if (r < 0)
		return r;
	return idx_payload_parse(payload, plen, out_l);
}

int idx_writer_finish(struct idx_writer *w, struct idx_layer **out_l)
{
	int r;

	if (w->err)
		return w->err;
	if (w->data_left || !out_l)
		return fail(w, -EINVAL);
	/* end of archive: two zero blocks, no padding to a record size */
	r = emit_zeros(w, 2 * WTAR_BLOCK);
	if (r == 0)
		r = close_member(w, true);
	if (r == 0)
		r = idx_tar_parser_finish(w->tar);
	if (r == 0)
		r = finish_index(w, out_l);
	w->err = r < 0 ? r : -EALREADY;
	return r;
}

void idx_writer_free(struct idx_writer *w)
{
	if (!w)
		return;
	idx_gz_pool_free(w->gz);
	ZSTD_freeCCtx(w->zc);
	idx_spanb_release(&w->sb);
	idx_tar_parser_free(w->tar);
	digest_ctx_free(w->blob_sha);
	idx_build_entries_release(&w->be);
	dbuf_release(&w->name);
	dbuf_release(&w->pax);
	dbuf_release(&w->hdr);
	free(w->obuf);
	free(w);
}
