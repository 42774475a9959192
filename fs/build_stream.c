/* SPDX-License-Identifier: MIT */
/*
 * Indexes outside a mount's open path, shared by the daemon (-o push_index)
 * and `strata index REF`: build one by streaming a registry layer once
 * (the same pull stream as the store's own builds, fs/pull.c), ask which
 * layers of a manifest the registry already lists an (unpinned) index for,
 * and push a set of built indexes as one stratafs index artifact.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dbuf.h"
#include "common/log.h"
#include "fs/store_int.h"

struct counted_pull {
	struct fs_pull *p;
	uint64_t done, total;
	reg_progress_fn progress;
	void *ctx;
	struct dbuf *keep; /* the blob's bytes as they pass, or NULL */
};

static ssize_t counted_read(void *ctx, void *buf, size_t n)
{
	struct counted_pull *cp = ctx;
	ssize_t k = fs_pull_read(cp->p, buf, n);

	if (k > 0 && cp->keep && dbuf_add(cp->keep, buf, (size_t)k) < 0)
		return -EFBIG; /* longer than its descriptor says: the build would refuse it */
	if (k > 0 && cp->progress) {
		cp->done += (uint64_t)k;
		cp->progress(cp->ctx, cp->done, cp->total);
	}
	return k;
}

static int build(struct reg_client *c, const struct reg_descriptor *desc, const char *diff_id,
		 uint64_t span_size, struct idx_layer **out, struct idx_build_stats *st,
		 uint64_t *fetched, struct counted_pull *cp)
{
	struct idx_build_opts bo = {
		.span_size = span_size,
		.comp = idx_comp_from_media_type(desc->media_type),
		.blob_digest = desc->digest,
		.diff_id = diff_id ? diff_id :
			   desc->uncompressed && digest_is_valid(desc->uncompressed) ?
			   desc->uncompressed : NULL,
	};
	struct idx_build_stats dummy = { 0 };
	uint64_t n;
	int r;

	if (!digest_is_valid(desc->digest))
		return -EINVAL;
	r = fs_pull_open(c, desc->digest, desc->size, &cp->p);
	if (r < 0)
		return r;
	r = idx_build(&bo, counted_read, cp, out, st ? st : &dummy);
	n = fs_pull_close(cp->p);
	if (fetched)
		*fetched = n;
	if (r < 0)
		log_err("cannot index layer '%s': %s", desc->digest, strerror(-r));
	return r;
}

int fs_index_build_stream(struct reg_client *c, const struct reg_descriptor *desc,
			  const char *diff_id, uint64_t span_size, struct idx_layer **out,
			  struct idx_build_stats *st, uint64_t *fetched)
{
	struct counted_pull cp = { 0 };

	return build(c, desc, diff_id, span_size, out, st, fetched, &cp);
}

int fs_index_build_keep(struct reg_client *c, const struct reg_descriptor *desc,
			const char *diff_id, uint64_t span_size, struct idx_layer **out,
			uint64_t *fetched, void **blob)
{
	struct dbuf keep;
	struct counted_pull cp = { .keep = &keep };
	int r;

	*blob = NULL;
	if (desc->size > FS_KEEP_BLOB_MAX)
		return -EFBIG;
	dbuf_init(&keep, (size_t)desc->size);
	r = build(c, desc, diff_id, span_size, out, NULL, fetched, &cp);
	if (r == 0 && keep.len == desc->size)
		*blob = dbuf_take(&keep, &(size_t){ 0 });
	dbuf_release(&keep);
	return r;
}

int fs_index_build_progress(struct reg_client *c, const struct reg_descriptor *desc,
			    const char *diff_id, uint64_t span_size, struct idx_layer **out,
			    reg_progress_fn progress, void *ctx)
{
	struct counted_pull cp = { .total = desc->size, .progress = progress, .ctx = ctx };

	return build(c, desc, diff_id, span_size, out, NULL, NULL, &cp);
}

/* Mark in @has the layers that artifact @adigest (referring to @mdigest) indexes. */
static void mark_artifact(struct reg_client *c, const char *mdigest, const char *adigest,
			  const struct reg_descriptor *const *layers, size_t n, bool *has)
{
	struct reg_manifest *am = NULL;

	if (reg_manifest_get(c, adigest, &am) < 0)
		return;
	if (am->kind != REG_MANIFEST_IMAGE ||
	    (am->has_subject && strcmp(am->subject.digest, mdigest) != 0))
		goto out_free;
	for (size_t i = 0; i < am->n_layers; i++) {
		const struct reg_descriptor *d = &am->layers[i];

		if (!d->stratafs_layer || strcmp(d->media_type, REG_MT_STRATAFS_INDEX_BLOB) != 0)
			continue;
		for (size_t j = 0; j < n; j++)
			if (strcmp(layers[j]->digest, d->stratafs_layer) == 0)
				has[j] = true;
	}
out_free:
	reg_manifest_free(am);
}

int fs_index_registry_has(struct reg_client *c, const char *mdigest,
			  const struct reg_descriptor *const *layers, size_t n, bool *has)
{
	struct reg_manifest *refs = NULL;
	int r;

	memset(has, 0, n * sizeof(*has));
	r = reg_referrers(c, mdigest, REG_MT_STRATAFS_INDEX_ARTIFACT, &refs);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	for (size_t i = 0; i < refs->n_manifests; i++) {
		const struct reg_descriptor *d = &refs->manifests[i];

		if (d->artifact_type && strcmp(d->artifact_type, REG_MT_STRATAFS_INDEX_ARTIFACT) != 0)
			continue;
		mark_artifact(c, mdigest, d->digest, layers, n, has);
	}
	reg_manifest_free(refs);
	return 0;
}

int fs_index_upload(struct reg_pusher *p, const struct idx_layer *idx, struct reg_index_blob *b)
{
	struct reg_blob_src src = { .fd = -1 };
	uint8_t sha[DIGEST_SHA256_LEN];
	struct idx_info info;
	void *buf = NULL;
	size_t len = 0;
	int r;

	idx_layer_info(idx, &info);
	r = idx_save(idx, &buf, &len);
	if (r < 0) {
		log_err("cannot serialize the index of layer '%s': %s", info.blob_digest, strerror(-r));
		return r;
	}
	digest_sha256(buf, len, sha);
	digest_format(sha, b->digest);
	b->size = len;
	memcpy(b->layer, info.blob_digest, sizeof(b->layer));
	b->media_type = NULL; /* an index blob */
	src.buf = buf;
	src.size = len;
	r = reg_blob_upload(p, b->digest, &src, NULL, NULL);
	if (r < 0)
		log_err("cannot upload the index of layer '%s': %s", b->layer, strerror(-r));
	free(buf);
	return r;
}

/*
 * The access profile @subject pins (strata commit), as a blob of the
 * artifact, so that this artifact keeps it from garbage collection as the
 * commit's did (index/FORMAT.md): a --force push drops the commit's
 * artifact from the referrers fallback tag. 1 if added to @b.
 */
static size_t keep_profile(struct reg_pusher *p, const struct reg_manifest *subject,
			   struct reg_index_blob *b)
{
	for (size_t i = 0; i < subject->n_layers; i++) {
		const char *pin = subject->layers[i].stratafs_profile;

		if (!pin)
			continue;
		if (reg_blob_head(reg_pusher_client(p), pin, &b->size) < 0) {
			log_warn("the profile '%s' the manifest pins is not in the repository", pin);
			return 0;
		}
		snprintf(b->digest, sizeof(b->digest), "%s", pin);
		b->media_type = REG_MT_STRATAFS_PROFILE;
		return 1;
	}
	return 0;
}

int fs_index_push(struct reg_pusher *p, const struct reg_manifest *subject,
		  const struct idx_layer *const *idx, size_t n, bool replace,
		  char digest[DIGEST_STR_LEN], uint64_t *size)
{
	struct reg_descriptor sd = { 0 };
	struct reg_index_blob *blobs;
	int r = 0;

	if (!n)
		return -EINVAL;
	blobs = calloc(n + 1, sizeof(*blobs));
	if (!blobs)
		return -ENOMEM;
	for (size_t i = 0; i < n && r == 0; i++)
		r = fs_index_upload(p, idx[i], &blobs[i]);
	if (r < 0)
		goto out_free_blobs;
	n += keep_profile(p, subject, &blobs[n]);
	sd.media_type = subject->media_type;
	memcpy(sd.digest, subject->digest, sizeof(sd.digest));
	sd.size = subject->raw_len;
	r = reg_index_artifact_push(p, &sd, blobs, n, replace, digest, size);
	if (r < 0)
		log_err("cannot push the index artifact of '%s': %s", subject->digest,
			strerror(-r));
out_free_blobs:
	free(blobs);
	return r;
}

int fs_store_layer_get(struct fs_store *s, unsigned layer_no, const char **source,
		       const char **trust, const struct idx_layer **idx)
{
	int r = -ENOENT;

	pthread_mutex_lock(&s->lock);
	if (layer_no < s->n_layers) {
		*source = s->layers[layer_no]->source;
		*trust = s->layers[layer_no]->trust;
		*idx = s->layers[layer_no]->idx;
		r = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}
