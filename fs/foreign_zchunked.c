/* SPDX-License-Identifier: MIT */
/*
 * zstd:chunked layers (containers/storage, written by skopeo and podman
 * with --compression-format zstd:chunked) read through their own TOC.
 *
 * Pinned: the layer descriptor of the manifest carries the TOC's digest
 * (manifest-checksum) and place (manifest-position), in the 1.43 spelling
 * "io.containers.zstd-chunked.*" or the newer "io.github.containers.*";
 * both annotations of one spelling, or the layer is not pinned. The TOC
 * is then read with one Range request at the annotated place (the footer
 * is not needed: the position says everything it would), its sha256
 * checked against the pin BEFORE a byte of it is parsed; a mismatch is an
 * error (the caller falls back to building a stratafs index by streaming
 * the layer, whose digest and diff_id are checked: the lying TOC is never
 * used). A verified TOC is cached by its digest (v1/toc/), re-hashed on
 * every read. Each chunk is then verified against its own chunkDigest as
 * it is fetched (index/zchunked_toc.c), so no byte is served on the TOC's
 * word alone.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fs/foreign_fmts.h"
#include "fs/store_int.h"
#include "index/zchunked.h"

/* The pin of @d: the checksum and position annotations of one spelling, newer first. */
static bool zc_annotations(const struct reg_descriptor *d, const char **sum, const char **pos)
{
	*sum = reg_descriptor_annotation(d, IDX_ZC_ANN_CHECKSUM);
	*pos = reg_descriptor_annotation(d, IDX_ZC_ANN_POSITION);
	if (*sum && *pos)
		return true;
	*sum = reg_descriptor_annotation(d, IDX_ZC_ANN_CHECKSUM_OLD);
	*pos = reg_descriptor_annotation(d, IDX_ZC_ANN_POSITION_OLD);
	return *sum && *pos;
}

static bool zc_pinned(const struct reg_descriptor *d, const struct fs_layer_origin *o,
		      char digest[DIGEST_STR_LEN])
{
	const char *sum, *pos;

	(void)o;
	if (!d->media_type || idx_comp_from_media_type(d->media_type) != IDX_COMP_ZSTD ||
	    !zc_annotations(d, &sum, &pos))
		return false;
	if (!digest_is_valid(sum) || strncmp(sum, "sha256:", 7) != 0) {
		log_warn("layer '%s': zstd:chunked checksum '%.80s' is not a sha256 digest: ignored",
			 d->digest, sum);
		return false;
	}
	snprintf(digest, DIGEST_STR_LEN, "%s", sum);
	return true;
}

struct zc_fetch {
	struct fs_store *s;
	const struct fs_layer *l;
	const struct idx_toc_loc *loc;
};

/* The TOC's bytes at the annotated place, one Range request (checked by fs_foreign_toc_get). */
static int zc_fetch(void *ctx, void **buf, size_t *len)
{
	const struct zc_fetch *f = ctx;
	int r;

	*buf = malloc(f->loc->len);
	if (!*buf)
		return -ENOMEM;
	r = fs_foreign_blob_range(f->s, f->l, f->loc->off, f->loc->len, *buf);
	if (r < 0) {
		log_warn("layer '%s': cannot read its zstd:chunked TOC: %s", f->l->digest,
			 strerror(-r));
		return r;
	}
	*len = f->loc->len;
	return 0;
}

static int zc_open(struct fs_store *s, struct fs_layer *l, const struct reg_descriptor *d,
		   const char *toc_digest, struct idx_layer **out)
{
	struct idx_foreign_opts fo;
	struct idx_toc_loc loc;
	struct zc_fetch f = { s, l, &loc };
	const char *sum, *pos;
	void *buf = NULL;
	size_t len = 0;
	int r;

	if (!zc_annotations(d, &sum, &pos))
		return -ENOENT;
	r = idx_zchunked_position(pos, l->blob_size, &loc);
	if (r < 0)
		return r;
	/* the pin vouches for these bytes only if they hash to it: checked before parsing */
	r = fs_foreign_toc_get(s, toc_digest, zc_fetch, &f, &buf, &len);
	if (r < 0)
		return r;
	fs_foreign_opts(l, &fo);
	r = idx_zchunked_load_at(buf, len, &loc, &fo, out);
	if (r < 0)
		fs_cache_index_remove(s->cache, FS_CACHE_INDEX_TOC, toc_digest);
	free(buf);
	return r;
}

const struct fs_foreign_fmt fs_foreign_zchunked = {
	.kind = IDX_FOREIGN_ZSTD_CHUNKED,
	.name = "zstd:chunked",
	.pinned = zc_pinned,
	.open = zc_open,
};
