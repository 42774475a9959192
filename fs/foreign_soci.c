/* SPDX-License-Identifier: MIT */
/*
 * SOCI layers (docs/formats.md, "SOCI"): a layer read through its zTOC.
 *
 * v2, pinned: the image manifest names its SOCI index manifest
 * (REG_ANNOT_SOCI_INDEX, reg_manifest.soci_index, inside the manifest and
 * so vouched for by its digest); that manifest, fetched by digest, lists
 * the zTOC of each layer (REG_ANNOT_SOCI_LAYER), fetched by digest too;
 * the zTOC's span digests then pin every compressed byte read. A chain of
 * digests from the reference down: trust "pinned".
 *
 * v1, unpinned: a SOCI index manifest whose subject is the image manifest,
 * found through the referrers API (or its fallback tag). Anyone who can
 * push to the repository can add one, so it is used only when the mount
 * trusts unpinned indexes (-o unpinned), like unpinned stratafs referrers.
 *
 * The SOCI index manifest and the zTOC are kept in the local TOC cache by
 * their digests (fs_foreign_toc_get(): re-hashed on every read).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fs/foreign.h"
#include "fs/store_int.h"

#define SOCI_PREFETCH_MT "application/vnd.amazon.soci.prefetch.v1+json"

struct fetch_ctx {
	struct fs_store *s;
	const char *digest;
};

/* A manifest's exact bytes, checked against its digest by reg_manifest_get(). */
static int fetch_manifest(void *ctx, void **buf, size_t *len)
{
	struct fetch_ctx *f = ctx;
	struct reg_manifest *m = NULL;
	int r = reg_manifest_get(f->s->client, f->digest, &m);

	if (r < 0)
		return r;
	*buf = malloc(m->raw_len ? m->raw_len : 1);
	if (*buf) {
		memcpy(*buf, m->raw, m->raw_len);
		*len = m->raw_len;
	}
	reg_manifest_free(m);
	return *buf ? 0 : -ENOMEM;
}

static int fetch_blob(void *ctx, void **buf, size_t *len)
{
	struct fetch_ctx *f = ctx;

	return reg_blob_get(f->s->client, f->digest, IDX_MAX_TOC_SIZE, (char **)buf, len);
}

/*
 * SOCI index manifest @digest of version @artifact_type (its config's
 * media type): from the TOC cache or the registry, parsed.
 */
static int soci_index_get(struct fs_store *s, const char *digest, const char *artifact_type,
			  struct reg_manifest **out)
{
	struct fetch_ctx f = { s, digest };
	void *buf = NULL;
	size_t len = 0;
	int r = fs_foreign_toc_get(s, digest, fetch_manifest, &f, &buf, &len);

	if (r == 0)
		r = reg_manifest_parse(buf, len, NULL, out);
	free(buf);
	if (r < 0)
		return r;
	if ((*out)->kind != REG_MANIFEST_IMAGE || !(*out)->config.media_type ||
	    strcmp((*out)->config.media_type, artifact_type) != 0) {
		log_warn("'%s' is not a SOCI index (%s)", digest, artifact_type);
		reg_manifest_free(*out);
		*out = NULL;
		return -EBADMSG;
	}
	return 0;
}

/* The zTOC that SOCI index @m lists for @l, fetched, checked and converted. */
static int ztoc_open(struct fs_store *s, struct fs_layer *l, const struct reg_manifest *m,
		     struct idx_layer **out)
{
	const struct reg_descriptor *z = NULL;
	struct idx_foreign_opts o;
	struct fetch_ctx f = { s, NULL };
	void *buf = NULL;
	size_t len = 0;
	int r;

	for (size_t i = 0; i < m->n_layers && !z; i++) {
		const char *layer = reg_descriptor_annotation(&m->layers[i], REG_ANNOT_SOCI_LAYER);

		if (layer && strcmp(layer, l->digest) == 0 &&
		    strcmp(m->layers[i].media_type, SOCI_PREFETCH_MT) != 0)
			z = &m->layers[i];
	}
	if (!z)
		return -ENOENT; /* SOCI skips small layers */
	if (z->size > IDX_MAX_TOC_SIZE) {
		log_warn("zTOC '%s' of layer '%s': %llu bytes, over the ceiling", z->digest,
			 l->digest, (unsigned long long)z->size);
		return -EFBIG;
	}
	f.digest = z->digest;
	r = fs_foreign_toc_get(s, z->digest, fetch_blob, &f, &buf, &len);
	if (r == 0 && len != z->size) {
		log_warn("zTOC '%s' has %zu bytes, its descriptor says %llu", z->digest, len,
			 (unsigned long long)z->size);
		r = -EBADMSG;
	}
	if (r == 0) {
		fs_foreign_opts(l, &o);
		r = idx_soci_ztoc_load(buf, len, &o, out);
	}
	if (r < 0)
		log_warn("cannot read layer '%s' through zTOC '%s': %s", l->digest, z->digest,
			 strerror(-r));
	free(buf);
	return r;
}

static bool soci_pinned(const struct reg_descriptor *d, const struct fs_layer_origin *o,
			char digest[DIGEST_STR_LEN])
{
	(void)d;
	if (!o->soci_index || !*o->soci_index)
		return false;
	snprintf(digest, DIGEST_STR_LEN, "%s", o->soci_index);
	return true;
}

static int soci_open(struct fs_store *s, struct fs_layer *l, const struct reg_descriptor *d,
		     const char *toc_digest, struct idx_layer **out)
{
	struct reg_manifest *m = NULL;
	int r;

	(void)d;
	r = soci_index_get(s, toc_digest, REG_MT_SOCI_INDEX_V2, &m);
	if (r == 0)
		r = ztoc_open(s, l, m, out);
	reg_manifest_free(m);
	return r;
}

/* v1: the newest SOCI index among the referrers of the manifest that has this layer. */
static int soci_open_unpinned(struct fs_store *s, struct fs_layer *l,
			      const struct reg_descriptor *d, const struct fs_layer_origin *o,
			      struct idx_layer **out)
{
	struct reg_manifest *refs = NULL;
	int r;

	(void)d;
	if (!o->manifest_digest || !digest_is_valid(o->manifest_digest))
		return -ENOENT;
	r = reg_referrers(s->client, o->manifest_digest, REG_MT_SOCI_INDEX_V1, &refs);
	if (r < 0)
		return r;
	r = -ENOENT;
	for (size_t i = refs->n_manifests; i-- > 0 && r < 0;) {
		struct reg_manifest *m = NULL;

		if (soci_index_get(s, refs->manifests[i].digest, REG_MT_SOCI_INDEX_V1, &m) < 0)
			continue;
		/* a referrer of another manifest listed here is not ours */
		if (m->has_subject && strcmp(m->subject.digest, o->manifest_digest) == 0)
			r = ztoc_open(s, l, m, out);
		reg_manifest_free(m);
	}
	reg_manifest_free(refs);
	return r;
}

/* v1 is never pinned: it only answers open_unpinned. */
static bool never_pinned(const struct reg_descriptor *d, const struct fs_layer_origin *o,
			 char digest[DIGEST_STR_LEN])
{
	(void)d;
	(void)o;
	(void)digest;
	return false;
}

/* Two entries so that inspect and stats say which one a layer was read through. */
const struct fs_foreign_fmt fs_foreign_soci_v2 = {
	.kind = IDX_FOREIGN_SOCI,
	.name = "SOCI v2",
	.pinned = soci_pinned,
	.open = soci_open,
};

const struct fs_foreign_fmt fs_foreign_soci_v1 = {
	.kind = IDX_FOREIGN_SOCI,
	.name = "SOCI v1",
	.pinned = never_pinned,
	.open = soci_open,
	.open_unpinned = soci_open_unpinned,
};
