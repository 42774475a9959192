/* SPDX-License-Identifier: MIT */
/*
 * The table of foreign TOC formats and what layer_open.c asks of it
 * (fs/foreign.h): a pinned TOC, the cheaper of a stratafs index and a
 * pinned TOC, an unpinned TOC under the unpinned policy; and the helpers
 * every format uses (blob ranges, the TOC cache checked against the pin).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fs/foreign.h"
#include "fs/store_int.h"

/*
 * The formats, one line each under its comment (declared in
 * fs/foreign_fmts.h); a blank line apart, so that the branches adding them
 * merge cleanly. The first format that finds a pin for a layer is asked.
 */
#include "fs/foreign_fmts.h"

static const struct fs_foreign_fmt *const builtin[] = {
	/* zstd:chunked */

	/* eStargz */
	&fs_foreign_estargz,

	/* SOCI */
	&fs_foreign_soci_v2,
	&fs_foreign_soci_v1,

	NULL,
};

const struct fs_foreign_fmt *const *fs_foreign_formats = builtin;

const char *fs_foreign_pinned_name(const struct reg_descriptor *d, const struct fs_layer_origin *o,
				   char digest[DIGEST_STR_LEN])
{
	for (size_t i = 0; fs_foreign_formats[i]; i++)
		if (fs_foreign_formats[i]->pinned(d, o, digest))
			return fs_foreign_formats[i]->name;
	return NULL;
}

const struct reg_descriptor *fs_foreign_index_entry(const struct reg_manifest *top,
						    const char *digest)
{
	for (size_t i = 0; top && top->kind == REG_MANIFEST_INDEX && i < top->n_manifests; i++)
		if (strcmp(top->manifests[i].digest, digest) == 0)
			return &top->manifests[i];
	return NULL;
}

const char *fs_foreign_label(const struct fs_layer *l)
{
	return l->format ? l->format : "stratafs";
}

void fs_foreign_opts(const struct fs_layer *l, struct idx_foreign_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->blob_digest = l->digest;
	o->blob_size = l->blob_size;
}

int fs_foreign_blob_range(struct fs_store *s, const struct fs_layer *l, uint64_t off, size_t len,
			  void *buf)
{
	ssize_t n;

	if (off > l->blob_size || len > l->blob_size - off)
		return -ERANGE;
	n = reg_blob_read(s->client, l->digest, buf, len, off);
	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 0 : -EIO;
}

int fs_foreign_toc_get(struct fs_store *s, const char *digest,
		       int (*fetch)(void *ctx, void **buf, size_t *len), void *ctx, void **buf,
		       size_t *len)
{
	int r;

	if (!digest_is_valid(digest))
		return -EINVAL;
	if (fs_cache_index_get(s->cache, FS_CACHE_INDEX_TOC, digest, buf, len) == 0)
		return 0;
	*buf = NULL;
	r = fetch(ctx, buf, len);
	if (r == 0 && *len > IDX_MAX_TOC_SIZE)
		r = -EFBIG;
	if (r == 0 && !digest_sha256_is(*buf, *len, digest)) {
		log_err("the TOC of %zu bytes does not hash to its pin %s: not used", *len, digest);
		r = -EBADMSG;
	}
	if (r < 0) {
		free(*buf);
		*buf = NULL;
		return r;
	}
	fs_cache_index_put(s->cache, FS_CACHE_INDEX_TOC, digest, *buf, *len); /* best effort */
	return 0;
}

double fs_foreign_cost(const struct idx_layer *idx)
{
	uint32_t n = idx_span_count(idx);
	double sum = 0;
	struct idx_span sp;

	for (uint32_t i = 0; i < n; i++)
		if (idx_span_get(idx, i, &sp) == 0)
			sum += (double)(sp.c_end - sp.c_start);
	return n ? sum / n : 0;
}

void fs_foreign_span_key(struct fs_layer *l)
{
	char key[2 * DIGEST_STR_LEN + 32];
	uint8_t sha[DIGEST_SHA256_LEN];

	/*
	 * SOCI spans name only their compressed bytes: what they decode to is
	 * fixed by the zTOC, so their files are keyed by it too
	 * (fs/cache_span.c).
	 */
	if (l->info.toc_digest[0]) {
		snprintf(key, sizeof(key), "%s+%s", l->digest, idx_foreign_name(l->foreign));
		snprintf(key + strlen(key), sizeof(key) - strlen(key), "+%s", l->info.toc_digest);
	} else if (!l->info.virtual_offsets) {
		snprintf(l->span_key, sizeof(l->span_key), "%s", l->digest);
		return;
	} else {
		snprintf(key, sizeof(key), "%s+%s", l->digest, idx_foreign_name(l->foreign));
	}
	digest_sha256(key, strlen(key), sha);
	digest_format(sha, l->span_key);
}

/* Take @idx (from @f, pinned by @toc or unpinned) as @l's index. */
static void adopt(struct fs_layer *l, const struct fs_foreign_fmt *f, struct idx_layer *idx,
		  const char *toc, const char *trust)
{
	l->idx = idx;
	l->foreign = (uint8_t)f->kind;
	l->format = f->name;
	l->source = f->name;
	l->trust = trust;
	snprintf(l->index_digest, sizeof(l->index_digest), "%s", toc ? toc : "");
}

/* The first format whose pinned TOC of @d opens: 0 with *idx, *fmt, @toc set. */
static int open_first_pinned(struct fs_store *s, struct fs_layer *l,
			     const struct fs_layer_origin *o, const struct reg_descriptor *d,
			     const struct fs_foreign_fmt **fmt, struct idx_layer **idx,
			     char toc[DIGEST_STR_LEN])
{
	int r = -ENOENT;

	for (size_t i = 0; fs_foreign_formats[i] && r < 0; i++) {
		if (!fs_foreign_formats[i]->pinned(d, o, toc))
			continue;
		r = fs_foreign_formats[i]->open(s, l, d, toc, idx);
		if (r < 0) {
			log_warn("layer '%s': its pinned %s TOC %s is unusable: %s", l->digest,
				 fs_foreign_formats[i]->name, toc, strerror(-r));
			continue;
		}
		*fmt = fs_foreign_formats[i];
	}
	return r;
}

int fs_foreign_open_pinned(struct fs_store *s, struct fs_layer *l,
			   const struct fs_layer_origin *o, const struct reg_descriptor *d)
{
	const struct fs_foreign_fmt *f = NULL;
	struct idx_layer *idx = NULL;
	char toc[DIGEST_STR_LEN];
	int r = open_first_pinned(s, l, o, d, &f, &idx, toc);

	if (r == 0)
		adopt(l, f, idx, toc, "pinned");
	return r;
}

void fs_foreign_compete(struct fs_store *s, struct fs_layer *l, const struct fs_layer_origin *o,
			const struct reg_descriptor *d)
{
	const struct fs_foreign_fmt *f = NULL;
	struct idx_layer *idx = NULL;
	char toc[DIGEST_STR_LEN];
	double mine, theirs;

	if (open_first_pinned(s, l, o, d, &f, &idx, toc) < 0)
		return;
	mine = fs_foreign_cost(l->idx);
	theirs = fs_foreign_cost(idx);
	snprintf(l->choice, sizeof(l->choice),
		 "%s: %.0f compressed bytes per span, %s: %.0f",
		 theirs < mine ? f->name : "stratafs", theirs < mine ? theirs : mine,
		 theirs < mine ? "stratafs" : f->name, theirs < mine ? mine : theirs);
	log_info("layer '%s': a stratafs index and a %s TOC: %s", l->digest, f->name, l->choice);
	if (theirs >= mine) {
		idx_layer_free(idx);
		return;
	}
	idx_layer_free(l->idx);
	adopt(l, f, idx, toc, "pinned");
}

int fs_foreign_open_unpinned(struct fs_store *s, struct fs_layer *l,
			     const struct fs_layer_origin *o, const struct reg_descriptor *d)
{
	struct idx_layer *idx = NULL;

	for (size_t i = 0; fs_foreign_formats[i]; i++) {
		if (!fs_foreign_formats[i]->open_unpinned ||
		    fs_foreign_formats[i]->open_unpinned(s, l, d, o, &idx) < 0)
			continue;
		adopt(l, fs_foreign_formats[i], idx, NULL, "unpinned");
		return 0;
	}
	return -ENOENT;
}
