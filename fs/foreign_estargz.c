/* SPDX-License-Identifier: MIT */
/*
 * eStargz layers in fs/foreign.c's table: the TOC a layer carries, read
 * with range requests and used as its index (index/estargz.h,
 * docs/formats.md "eStargz").
 *
 * pinned(): the descriptor's containerd.io/snapshot/stargz/toc.digest
 * annotation, the sha256 of the TOC JSON. Legacy stargz (47-byte footer)
 * has none, nor has an eStargz layer whose descriptor lost it: their TOC
 * is unpinned (open_unpinned(), only where the mount trusts unpinned
 * indexes).
 *
 * open(): one Range request for the blob's last TAIL_READ bytes (the
 * footer and, for a layer of a few hundred files, the whole TOC), a
 * second one for the rest of a bigger TOC; idx_estargz_load_pinned()
 * hashes the TOC JSON and compares it with the pin before it parses a
 * byte of it. The TOC is not put in the TOC cache (fs_foreign_toc_get()):
 * the pin covers the JSON alone, but the layer also needs the TOC
 * member's offset and tar header, which only the blob's tail gives, so a
 * cached JSON would save no request.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmath.h"
#include "fs/foreign.h"
#include "fs/store_int.h"
#include "index/estargz.h"

/* One request fetches the footer and the TOC of a layer of a few hundred files. */
#define TAIL_READ (64u << 10)

static bool esgz_pinned(const struct reg_descriptor *d, const struct fs_layer_origin *o,
			char digest[DIGEST_STR_LEN])
{
	const char *v = reg_descriptor_annotation(d, IDX_ESTARGZ_TOC_DIGEST_ANN);
	enum idx_comp c = idx_comp_from_media_type(d->media_type);

	(void)o;
	/*
	 * ctr-remote --zstdchunked sets the same annotation on tar+zstd
	 * layers (with zstd:chunked's own): not gzip stargz, not ours.
	 */
	if (!v || !digest_is_valid(v) || (c != IDX_COMP_GZIP && c != IDX_COMP_AUTO))
		return false;
	snprintf(digest, DIGEST_STR_LEN, "%s", v);
	return true;
}

/*
 * The blob's bytes from its TOC offset to its end, in *toc (*buf: the
 * allocation to free), the first request for the last @first bytes:
 * -ENOENT when the blob ends in no stargz footer.
 */
static int fetch_toc(struct fs_store *s, const struct fs_layer *l, uint64_t first, uint8_t **buf,
		     const uint8_t **toc, struct idx_toc_loc *loc)
{
	uint64_t n = XMIN(l->blob_size, first), start = l->blob_size - n;
	uint8_t *b, *nb;
	int r;

	*buf = NULL;
	if (l->blob_size < IDX_STARGZ_FOOTER_SIZE)
		return -ENOENT;
	b = malloc((size_t)n);
	if (!b)
		return -ENOMEM;
	r = fs_foreign_blob_range(s, l, start, (size_t)n, b);
	if (r == 0 && idx_estargz_footer(b, (size_t)n, l->blob_size, loc) < 0)
		r = -ENOENT;
	if (r == 0 && loc->len > (uint64_t)IDX_MAX_TOC_SIZE + IDX_ESTARGZ_FOOTER_SIZE) {
		log_warn("layer '%s': an eStargz TOC of %llu bytes, over the ceiling", l->digest,
			 (unsigned long long)loc->len);
		r = -EFBIG;
	}
	if (r == 0 && loc->off < start) {
		/* a TOC bigger than the first read: fetch what lies before */
		nb = realloc(b, (size_t)loc->len);
		r = nb ? 0 : -ENOMEM;
		if (nb) {
			b = nb;
			memmove(b + (start - loc->off), b, (size_t)n);
			r = fs_foreign_blob_range(s, l, loc->off, (size_t)(start - loc->off), b);
			start = loc->off;
		}
	}
	*buf = b;
	*toc = b + (loc->off - start);
	return r;
}

static int esgz_open(struct fs_store *s, struct fs_layer *l, const struct reg_descriptor *d,
		     const char *toc_digest, struct idx_layer **out)
{
	struct idx_foreign_opts o;
	struct idx_toc_loc loc;
	const uint8_t *toc = NULL;
	uint8_t *buf;
	int r;

	(void)d;
	fs_foreign_opts(l, &o);
	r = fetch_toc(s, l, TAIL_READ, &buf, &toc, &loc);
	if (r == -ENOENT)
		log_warn("layer '%s' has a toc.digest annotation but no stargz footer", l->digest);
	if (r == 0)
		r = idx_estargz_load_pinned(toc, (size_t)loc.len, &o, toc_digest, out);
	free(buf);
	return r;
}

static int esgz_open_unpinned(struct fs_store *s, struct fs_layer *l,
			      const struct reg_descriptor *d, const struct fs_layer_origin *ori,
			      struct idx_layer **out)
{
	struct idx_foreign_opts o;
	struct idx_toc_loc loc;
	enum idx_comp c = idx_comp_from_media_type(d->media_type);
	const uint8_t *toc = NULL;
	uint8_t *buf;
	int r;

	(void)ori;
	/* Only gzip layers can be stargz: no request for the others. */
	if (c != IDX_COMP_GZIP && c != IDX_COMP_AUTO)
		return -ENOENT;
	fs_foreign_opts(l, &o);
	/* Most gzip layers are not stargz: ask for the footer alone first. */
	r = fetch_toc(s, l, IDX_ESTARGZ_FOOTER_SIZE, &buf, &toc, &loc);
	if (r == 0)
		r = idx_estargz_load(toc, (size_t)loc.len, &o, out);
	free(buf);
	return r;
}

const struct fs_foreign_fmt fs_foreign_estargz = {
	.kind = IDX_FOREIGN_ESTARGZ,
	.name = "eStargz",
	.pinned = esgz_pinned,
	.open = esgz_open,
	.open_unpinned = esgz_open_unpinned,
};
