/* SPDX-License-Identifier: MIT */
/*
 * A SOCI zTOC (soci-snapshotter's ztoc.fbs, a FlatBuffers table) as an
 * ordinary layer index: its entries keep their real tar offsets, each of
 * its zran checkpoints becomes an IDX_CK_GZ_BLOCK checkpoint (bits + the
 * 32 KiB window) and each SOCI span one of our spans, flagged IDX_SF_CSHA:
 * SOCI's span digest is the sha256 of the compressed bytes
 * [in - (bits ? 1 : 0), next in) (the last span ends at the blob's end),
 * and idx_span_decode() checks it before inflating. Checkpoint 0 lies
 * right after the first gzip header, which no span digest covers: decoding
 * never reads it.
 *
 * Ztoc field ids: version 0, build_tool_identifier 1,
 * compressed_archive_size 2, uncompressed_archive_size 3, toc 4,
 * compression_info 5. CompressionInfo: compression_algorithm 0 (byte,
 * default Gzip = 1; Uncompressed = 2), max_span_id 1, span_digests 2,
 * checkpoints 3 (the zinfo blob, index/soci_zinfo.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "index/soci_fb.h"
#include "index/soci_int.h"
#include "index/toc_int.h"

#define BAD(...)                                        \
	do {                                            \
		log_err("zTOC: " __VA_ARGS__);          \
		return -EBADMSG;                        \
	} while (0)

enum { Z_VERSION, Z_TOOL, Z_CSIZE, Z_USIZE, Z_TOC, Z_CINFO };
enum { CI_ALGO, CI_MAX_SPAN, CI_DIGESTS, CI_CKPTS };
#define SOCI_ALGO_GZIP 1
#define SOCI_ALGO_UNCOMPRESSED 2

struct ztoc {
	uint64_t c_size, u_size;
	struct idx_sfb_table toc, cinfo;
	struct soci_zinfo z;
	struct sfb_vec digests;
};

/* The top-level table: version, sizes against the blob's, the two sub-tables. */
static int read_top(struct sfb *fb, const struct idx_foreign_opts *o, struct ztoc *zt)
{
	struct idx_sfb_table root;
	const char *ver;
	uint32_t vlen;
	int64_t cs, us;
	bool has_toc, has_ci;
	int r;

	r = idx_sfb_root(fb, &root);
	if (r == 0)
		r = idx_sfb_str(&root, Z_VERSION, &ver, &vlen);
	if (r == 0)
		r = idx_sfb_i64(&root, Z_CSIZE, 0, &cs);
	if (r == 0)
		r = idx_sfb_i64(&root, Z_USIZE, 0, &us);
	if (r == 0)
		r = idx_sfb_table(&root, Z_TOC, &zt->toc, &has_toc);
	if (r == 0)
		r = idx_sfb_table(&root, Z_CINFO, &zt->cinfo, &has_ci);
	if (r < 0)
		return r;
	if (!ver || strcmp(ver, "0.9") != 0) {
		log_err("zTOC: version '%s' is not read (only 0.9)", ver ? ver : "(none)");
		return -ENOTSUP;
	}
	if (!has_toc || !has_ci)
		BAD("no %s table", has_toc ? "compression_info" : "toc");
	if (cs <= 0 || us <= 0)
		BAD("archive sizes %lld/%lld", (long long)cs, (long long)us);
	if (o->blob_size && (uint64_t)cs != o->blob_size)
		BAD("compressed_archive_size %lld, but the layer has %llu bytes", (long long)cs,
		    (unsigned long long)o->blob_size);
	zt->c_size = (uint64_t)cs;
	zt->u_size = (uint64_t)us;
	return 0;
}

/* CompressionInfo: gzip only, spans = checkpoints = digests. */
static int read_cinfo(struct ztoc *zt)
{
	const struct idx_sfb_table *ci = &zt->cinfo;
	struct sfb_vec ck;
	int8_t algo;
	int32_t max_span;
	int r;

	r = idx_sfb_i8(ci, CI_ALGO, SOCI_ALGO_GZIP, &algo);
	if (r == 0)
		r = idx_sfb_i32(ci, CI_MAX_SPAN, 0, &max_span);
	if (r == 0)
		r = idx_sfb_vector(ci, CI_DIGESTS, 4, &zt->digests);
	if (r == 0)
		r = idx_sfb_vector(ci, CI_CKPTS, 1, &ck);
	if (r < 0)
		return r;
	if (algo != SOCI_ALGO_GZIP) {
		log_err("zTOC: compression %d is not read (gzip layers only)", algo);
		return -ENOTSUP;
	}
	r = idx_soci_zinfo_parse(ck.b->buf + ck.pos, ck.n, zt->c_size, zt->u_size, IDX_MAX_CKPTS,
			     &zt->z);
	if (r < 0)
		return r;
	if (max_span < 0 || (uint32_t)max_span + 1 != zt->z.n || zt->digests.n != zt->z.n)
		BAD("max_span_id %d, %u checkpoints, %u span digests", max_span, zt->z.n,
		    zt->digests.n);
	return 0;
}

/* A span digest: "sha256:<64 lowercase hex>", nothing else. */
static int span_digest(const struct ztoc *zt, uint32_t i, uint8_t sha[DIGEST_SHA256_LEN])
{
	const char *s;
	uint32_t n;
	int r = idx_sfb_vec_str(&zt->digests, i, &s, &n);

	if (r < 0)
		return r;
	if (digest_parse(s, sha) < 0)
		BAD("span digest %u '%.80s' is not a sha256 digest", i, s);
	return 0;
}

/*
 * One checkpoint and one span per SOCI span that starts inside the
 * archive; the last one ends at the archive's end, its compressed bytes
 * still at the next checkpoint, as SOCI hashed them.
 */
static int spans(struct tocb *b, const struct ztoc *zt)
{
	uint8_t *zeros = calloc(1, SOCI_ZINFO_WINDOW), sha[DIGEST_SHA256_LEN];
	int r = zeros ? 0 : -ENOMEM;

	for (uint32_t i = 0; r == 0 && i < zt->z.n_used; i++) {
		const struct soci_ckpt *c = &zt->z.ck[i];
		uint64_t u_end = i + 1 < zt->z.n_used ? zt->z.ck[i + 1].out : zt->u_size;
		uint32_t id;

		r = span_digest(zt, i, sha);
		if (r == 0)
			r = idx_tocb_ckpt(b, IDX_CK_GZ_BLOCK, c->in, c->out, c->bits,
				      c->window ? c->window : zeros, SOCI_ZINFO_WINDOW, &id);
		if (r == 0)
			r = idx_tocb_span(b, id, c->out, u_end - c->out,
				      idx_soci_span_c_end(&zt->z, i, zt->c_size), IDX_SF_CSHA, sha);
	}
	free(zeros);
	return r;
}

int idx_soci_ztoc_load(const void *buf, size_t n, const struct idx_foreign_opts *o,
		       struct idx_layer **out)
{
	struct ztoc zt = { 0 };
	struct tocb *b = NULL;
	struct sfb fb;
	int r;

	if (!buf || !o || !out)
		return -EINVAL;
	if (n > IDX_MAX_TOC_SIZE) {
		log_err("zTOC of %zu bytes: over the ceiling", n);
		return -EFBIG;
	}
	idx_sfb_init(&fb, buf, n);
	r = read_top(&fb, o, &zt);
	if (r == 0)
		r = read_cinfo(&zt);
	if (r == 0)
		r = idx_tocb_new(IDX_COMP_GZIP, IDX_FOREIGN_SOCI, o, n, &b);
	if (r == 0)
		r = idx_soci_entries(b, &zt.toc, zt.u_size);
	if (r == 0)
		r = spans(b, &zt);
	if (r == 0)
		r = idx_tocb_finish(b, zt.u_size, false, out);
	if (r == 0) {
		digest_sha256(buf, n, (*out)->toc_sha);
		(*out)->has_toc_sha = true;
	}
	idx_tocb_free(b);
	idx_soci_zinfo_free(&zt.z);
	return r;
}
