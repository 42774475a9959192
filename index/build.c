/* SPDX-License-Identifier: MIT */
/*
 * idx_build(): one streaming pass over a layer blob. The blob is hashed as
 * it is read (blob digest), decompressed by the driver of its compression,
 * and the uncompressed bytes go to the span builder, which hashes them
 * (diff_id and one sha256 per span) and feeds the tar parser; the parser's
 * entries are collected here. At the end, duplicate paths are resolved the
 * way tar extraction resolves them (the last one wins), and everything is
 * serialized into the payload, which is parsed back by the same validating
 * code idx_load() uses: a built layer and a loaded one are the same thing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmath.h"
#include "index/build_ent.h"
#include "index/build_int.h"
#include "index/tar_int.h"

#define DUP_WARN_MAX 10

ssize_t idx_bsrc_fill(struct bsrc *s)
{
	ssize_t n;
	int r;

	s->buf_off += s->len;
	s->len = 0;
	do {
		n = s->read(s->ctx, s->buf, BSRC_CHUNK);
	} while (n == -EINTR);
	if (n < 0)
		return n;
	if ((size_t)n > BSRC_CHUNK)
		return -EIO;
	r = digest_ctx_update(s->sha, s->buf, (size_t)n);
	if (r < 0)
		return r;
	s->len = (size_t)n;
	s->total += (uint64_t)n;
	return n;
}

/* Read until @want bytes are buffered or EOF, to sniff the magic. */
static int bsrc_prime(struct bsrc *s, size_t want)
{
	ssize_t n;
	int r;

	while (s->len < want) {
		n = s->read(s->ctx, s->buf + s->len, BSRC_CHUNK - s->len);
		if (n == -EINTR)
			continue;
		if (n < 0)
			return (int)n;
		if (n == 0 || (size_t)n > BSRC_CHUNK - s->len)
			return n == 0 ? 0 : -EIO;
		r = digest_ctx_update(s->sha, s->buf + s->len, (size_t)n);
		if (r < 0)
			return r;
		s->len += (size_t)n;
		s->total += (uint64_t)n;
	}
	return 0;
}

static enum idx_comp sniff(const uint8_t *p, size_t n)
{
	uint32_t m;

	if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return IDX_COMP_GZIP;
	if (n < 4)
		return IDX_COMP_NONE;
	m = le32_get(p);
	if (m == 0xFD2FB528u || (m & 0xFFFFFFF0u) == 0x184D2A50u)
		return IDX_COMP_ZSTD;
	return IDX_COMP_NONE;
}

struct entry_sink {
	struct build_entries *be;
	struct fsum *fsum; /* or NULL */
};

static int on_entry(void *ctx, const struct tar_entry *e)
{
	struct entry_sink *k = ctx;
	int r = idx_build_entries_add(k->be, e);

	if (r == 0 && k->fsum)
		r = idx_fsum_entry(k->fsum, e);
	return r;
}

static int check_digest(const char *want, const uint8_t got[DIGEST_SHA256_LEN], const char *what)
{
	char s[DIGEST_STR_LEN];

	if (!want)
		return 0;
	digest_format(got, s);
	if (strcmp(s, want) == 0)
		return 0;
	log_err("%s mismatch: expected '%s', got '%s'", what, want, s);
	return -EBADMSG;
}

static int run_driver(struct bctx *b, enum idx_comp comp)
{
	switch (comp) {
	case IDX_COMP_GZIP:
		return idx_gzidx_build(b);
	case IDX_COMP_ZSTD:
		return idx_zstdidx_build(b);
	case IDX_COMP_NONE:
		return idx_rawidx_build(b);
	default:
		return -EINVAL;
	}
}

static uint64_t hard_max_of(enum idx_comp comp, uint64_t span)
{
	/* gzip checkpoints cost a window: let spans run past span_size to a block end. */
	return comp == IDX_COMP_GZIP ? 2 * span : span;
}

static bool is_sequential(const struct spanb *sb)
{
	return sb->n_spans > 1 && sb->n_ckpts == 1;
}

/* Everything after the pass: digests, duplicates, payload, parse. */
static int finish(const struct idx_build_opts *o, struct bctx *b, struct build_entries *be,
		  enum idx_comp comp, struct idx_layer **out)
{
	struct idx_info info = { .comp = comp, .span_size = b->sb.span_size };
	uint8_t blob[DIGEST_SHA256_LEN], diff[DIGEST_SHA256_LEN];
	uint8_t *payload = NULL;
	size_t plen = 0;
	int r;

	r = digest_ctx_final(b->src.sha, blob);
	if (r == 0)
		r = digest_ctx_final(b->sb.diff_sha, diff);
	if (r < 0)
		return r;
	r = check_digest(o ? o->blob_digest : NULL, blob, "blob digest");
	if (r == 0)
		r = check_digest(o ? o->diff_id : NULL, diff, "diff_id");
	if (r < 0)
		return r;
	digest_format(blob, info.blob_digest);
	digest_format(diff, info.diff_id);
	info.blob_size = b->src.total;
	info.tar_size = b->sb.u_pos;
	info.random_access = !is_sequential(&b->sb);
	r = idx_build_entries_resolve(be, DUP_WARN_MAX);
	if (r < 0)
		return r;
	r = idx_payload_write(be, &b->sb, &info, &payload, &plen);
	if (r < 0)
		return r;
	return idx_payload_parse(payload, plen, out);
}

static int check_opts(const struct idx_build_opts *o, uint64_t *span)
{
	*span = o && o->span_size ? o->span_size : IDX_DEFAULT_SPAN_SIZE;
	if (*span < IDX_MIN_SPAN_SIZE || *span > IDX_MAX_SPAN_SIZE) {
		log_err("span size %llu out of range [%u, %u]", (unsigned long long)*span,
			IDX_MIN_SPAN_SIZE, IDX_MAX_SPAN_SIZE);
		return -EINVAL;
	}
	if (o && o->comp != IDX_COMP_AUTO && o->comp != IDX_COMP_NONE && o->comp != IDX_COMP_GZIP &&
	    o->comp != IDX_COMP_ZSTD)
		return -EINVAL;
	return 0;
}

int idx_build(const struct idx_build_opts *o, idx_stream_fn read, void *ctx,
	      struct idx_layer **out, struct idx_build_stats *stats)
{
	static const struct tar_callbacks cbs = { .on_entry = on_entry };
	struct bctx b = { .src = { .read = read, .ctx = ctx } };
	struct build_entries be;
	struct fsum fsum = { 0 };
	struct entry_sink sink = { .be = &be };
	struct tar_parser *tar = NULL;
	enum idx_comp comp;
	uint64_t span;
	int r;

	r = check_opts(o, &span);
	if (r < 0 || !read || !out)
		return r < 0 ? r : -EINVAL;
	idx_build_entries_init(&be);
	b.src.buf = malloc(BSRC_CHUNK);
	if (!b.src.buf) {
		r = -ENOMEM;
		goto out_release;
	}
	r = digest_ctx_new(&b.src.sha);
	if (r == 0 && o && o->on_file) {
		r = idx_fsum_init(&fsum, o->on_file, o->on_file_ctx);
		sink.fsum = &fsum;
	}
	if (r == 0)
		r = idx_tar_parser_new(&cbs, &sink, &tar);
	if (r == 0)
		r = bsrc_prime(&b.src, 4);
	if (r < 0)
		goto out_release;
	comp = o && o->comp != IDX_COMP_AUTO ? o->comp : sniff(b.src.buf, b.src.len);
	r = idx_spanb_init(&b.sb, span, hard_max_of(comp, span), tar);
	b.sb.fsum = sink.fsum;
	if (r == 0)
		r = run_driver(&b, comp);
	for (uint32_t i = 0; r == 0 && i < b.sb.n_spans; i++)
		b.sb.spans[i].c_end = XMIN(b.sb.spans[i].c_end, b.src.total);
	if (r == 0)
		r = idx_tar_parser_finish(tar);
	/* A last member with no data after its header ends without a chunk end. */
	if (r == 0 && fsum.open)
		r = -EBADMSG;
	if (r == 0)
		r = finish(o, &b, &be, comp, out);
	if (r == 0 && stats) {
		stats->blob_size = b.src.total;
		stats->tar_size = b.sb.u_pos;
		stats->n_duplicates = be.n_dups;
		stats->sequential_only = is_sequential(&b.sb);
	}
out_release:
	idx_spanb_release(&b.sb);
	idx_tar_parser_free(tar);
	digest_ctx_free(b.src.sha);
	free(b.src.buf);
	idx_build_entries_release(&be);
	idx_fsum_release(&fsum);
	return r;
}
