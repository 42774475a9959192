/* SPDX-License-Identifier: MIT */
/*
 * fs_store_open_layer(): find a layer's index, cheapest source first.
 *   1. the local cache (v1/index/<hex>.idx)
 *   2. the registry: referrers of the manifest with artifactType
 *      REG_MT_STRATAFS_INDEX_ARTIFACT (or the "sha256-<hex>" fallback tag,
 *      inside reg_referrers), each artifact's blob annotated with this
 *      layer's digest
 *   3. build it, streaming the layer once with sequential Range reads
 * Whatever the source, idx_load()/idx_build() validate the index and its
 * blob digest must equal the layer's; a built or downloaded index is then
 * saved to the local cache. The span states start ABSENT, or UNKNOWN for
 * the spans the cache dir already holds a file for.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fs/store_int.h"

void fs_layer_free(struct fs_layer *l)
{
	if (!l)
		return;
	idx_layer_free(l->idx);
	free(l->spans);
	free(l);
}

/* Load @buf as the index of @l; -EBADMSG if it is not this layer's. */
static int load_index(struct fs_layer *l, const void *buf, size_t len, const char *what)
{
	struct idx_layer *idx = NULL;
	struct idx_info info;
	int r;

	r = idx_load(buf, len, &idx);
	if (r < 0) {
		log_warn("ignoring the %s index of layer '%s': %s", what, l->digest, strerror(-r));
		return r;
	}
	idx_layer_info(idx, &info);
	if (strcmp(info.blob_digest, l->digest) != 0) {
		log_warn("ignoring the %s index of layer '%s': it indexes '%s'", what, l->digest,
			 info.blob_digest);
		idx_layer_free(idx);
		return -EBADMSG;
	}
	l->idx = idx;
	return 0;
}

static int from_cache(struct fs_store *s, struct fs_layer *l)
{
	void *buf = NULL;
	size_t len = 0;
	int r;

	r = fs_cache_index_get(s->cache, l->digest, &buf, &len);
	if (r < 0)
		return r;
	r = load_index(l, buf, len, "cached");
	free(buf);
	if (r < 0)
		fs_cache_index_remove(s->cache, l->digest);
	else
		l->source = "cache";
	return r;
}

/* The index blob for @l in artifact manifest @ref_digest, if it has one. */
static int from_artifact(struct fs_store *s, struct fs_layer *l, const char *mdigest,
			 const char *ref_digest)
{
	struct reg_manifest *am = NULL;
	char *buf = NULL;
	size_t len = 0;
	int r;

	r = reg_manifest_get(s->client, ref_digest, &am);
	if (r < 0)
		return r;
	r = -ENOENT;
	if (am->kind != REG_MANIFEST_IMAGE ||
	    (am->has_subject && strcmp(am->subject.digest, mdigest) != 0))
		goto out_free;
	for (size_t i = 0; i < am->n_layers && r < 0; i++) {
		const struct reg_descriptor *d = &am->layers[i];

		if (!d->stratafs_layer || strcmp(d->stratafs_layer, l->digest) != 0 ||
		    strcmp(d->media_type, REG_MT_STRATAFS_INDEX_BLOB) != 0 ||
		    d->size > IDX_MAX_FILE_SIZE)
			continue;
		r = reg_blob_get(s->client, d->digest, IDX_MAX_FILE_SIZE, &buf, &len);
		if (r == 0)
			r = load_index(l, buf, len, "registry");
		free(buf);
		buf = NULL;
	}
out_free:
	reg_manifest_free(am);
	return r;
}

static bool is_index_artifact(const struct reg_descriptor *d)
{
	return !d->artifact_type || strcmp(d->artifact_type, REG_MT_STRATAFS_INDEX_ARTIFACT) == 0;
}

static int from_registry(struct fs_store *s, struct fs_layer *l, const char *mdigest)
{
	struct reg_manifest *refs = NULL;
	int r;

	if (!mdigest || !digest_is_valid(mdigest))
		return -ENOENT;
	r = reg_referrers(s->client, mdigest, REG_MT_STRATAFS_INDEX_ARTIFACT, &refs);
	if (r < 0) {
		log_debug("no referrers for '%s': %s", mdigest, strerror(-r));
		return r;
	}
	r = -ENOENT;
	for (size_t i = 0; i < refs->n_manifests && r < 0; i++)
		if (is_index_artifact(&refs->manifests[i]))
			r = from_artifact(s, l, mdigest, refs->manifests[i].digest);
	reg_manifest_free(refs);
	if (r == 0)
		l->source = "registry";
	return r;
}

static int build(struct fs_store *s, struct fs_layer *l, const struct reg_descriptor *desc)
{
	uint64_t fetched = 0;
	int r;

	log_info("indexing layer '%s' (%llu bytes)", l->digest, (unsigned long long)desc->size);
	r = fs_index_build_stream(s->client, desc, s->o.span_size, &l->idx, NULL, &fetched);
	pthread_mutex_lock(&s->lock);
	s->build_bytes += fetched;
	pthread_mutex_unlock(&s->lock);
	if (r < 0)
		return r;
	l->source = "built";
	return 0;
}

static void save_index(struct fs_store *s, struct fs_layer *l)
{
	void *buf = NULL;
	size_t len = 0;

	if (idx_save(l->idx, &buf, &len) == 0)
		fs_cache_index_put(s->cache, l->digest, buf, len); /* best effort */
	free(buf);
}

static int mark_cached(void *ctx, uint64_t u_start, uint64_t len)
{
	struct fs_layer *l = ctx;
	struct idx_span sp;
	uint32_t id;

	if (idx_span_find(l->idx, u_start, &id) == 0 && idx_span_get(l->idx, id, &sp) == 0 &&
	    sp.u_start == u_start && sp.u_len == len)
		l->spans[id].state = FS_SP_UNKNOWN;
	return 0;
}

static int init_spans(struct fs_store *s, struct fs_layer *l)
{
	idx_layer_info(l->idx, &l->info);
	l->spans = calloc(l->info.n_spans ? l->info.n_spans : 1, sizeof(*l->spans));
	if (!l->spans)
		return -ENOMEM;
	for (uint32_t i = 0; i < l->info.n_spans; i++)
		l->spans[i].state = FS_SP_ABSENT;
	return fs_cache_span_foreach(s->cache, l->digest, mark_cached, l);
}

/* Add @l unless a thread opened the same layer meanwhile; s->lock held. */
static int publish(struct fs_store *s, struct fs_layer **lp)
{
	for (unsigned i = 0; i < s->n_layers; i++) {
		if (strcmp(s->layers[i]->digest, (*lp)->digest) == 0) {
			fs_layer_free(*lp);
			*lp = s->layers[i];
			return 0;
		}
	}
	if (s->n_layers == FS_MAX_LAYERS)
		return -EMFILE;
	(*lp)->no = s->n_layers;
	s->layers[s->n_layers++] = *lp;
	pthread_cond_broadcast(&s->work); /* prefetch_all walks it too */
	return 0;
}

static int opening_index(struct fs_store *s, const char *digest)
{
	for (unsigned i = 0; i < s->n_opening; i++)
		if (strcmp(s->opening[i], digest) == 0)
			return (int)i;
	return -1;
}

/*
 * The open layer @digest, or NULL after registering @digest as being opened
 * by the caller (who must call open_done()). Another thread opening the same
 * digest (a layer listed twice, two mounts) waits for the first one.
 */
static struct fs_layer *find_open(struct fs_store *s, const char *digest)
{
	struct fs_layer *l = NULL;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		for (unsigned i = 0; i < s->n_layers && !l; i++)
			if (strcmp(s->layers[i]->digest, digest) == 0)
				l = s->layers[i];
		if (l || opening_index(s, digest) < 0)
			break;
		pthread_cond_wait(&s->done, &s->lock);
	}
	if (!l && s->n_opening < FS_MAX_LAYERS)
		s->opening[s->n_opening++] = digest;
	pthread_mutex_unlock(&s->lock);
	return l;
}

/* Publish @l (NULL after a failure) and end the single-flight of @digest. */
static int open_done(struct fs_store *s, const char *digest, struct fs_layer **lp)
{
	int i, r = 0;

	pthread_mutex_lock(&s->lock);
	if (*lp)
		r = publish(s, lp);
	i = opening_index(s, digest);
	if (i >= 0)
		s->opening[i] = s->opening[--s->n_opening];
	pthread_cond_broadcast(&s->done);
	pthread_mutex_unlock(&s->lock);
	return r;
}

int fs_store_open_layer(struct fs_store *s, const char *manifest_digest,
			const struct reg_descriptor *desc, unsigned *layer_no,
			const struct idx_layer **idx)
{
	struct fs_layer *l;
	int r;

	if (!digest_is_valid(desc->digest))
		return -EINVAL;
	l = find_open(s, desc->digest);
	if (l)
		goto out_found;
	l = calloc(1, sizeof(*l));
	r = l ? 0 : -ENOMEM;
	if (l) {
		memcpy(l->digest, desc->digest, sizeof(l->digest));
		r = from_cache(s, l);
		if (r < 0)
			r = from_registry(s, l, manifest_digest);
		if (r < 0)
			r = build(s, l, desc);
	}
	if (r == 0 && strcmp(l->source, "cache") != 0)
		save_index(s, l);
	if (r == 0)
		r = init_spans(s, l);
	if (r < 0) {
		fs_layer_free(l);
		l = NULL;
	} else {
		log_info("layer '%s': index from %s, %u entries, %u spans", l->digest, l->source,
			 l->info.n_entries, l->info.n_spans);
	}
	r = open_done(s, desc->digest, &l) < 0 ? -EMFILE : r;
	if (r < 0) {
		fs_layer_free(l);
		return r;
	}
out_found:
	*layer_no = l->no;
	*idx = l->idx;
	return 0;
}
