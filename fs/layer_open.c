/* SPDX-License-Identifier: MIT */
/*
 * fs_store_open_layer(): find a layer's index. Only an index something
 * trusted vouches for is used (index/FORMAT.md, "Trust"), cheapest first:
 *   1. pinned by the manifest (the layer descriptor's
 *      REG_ANNOT_STRATAFS_INDEX), from the local cache by its own digest
 *   2. built on this host from the layer's verified bytes (local cache,
 *      by layer digest)
 *   3. pinned by the manifest, fetched by digest from the registry
 *   4. pinned by the pinning index the reference named
 *      (origin->pinned_artifact): that artifact manifest, fetched by
 *      digest, names the index blob
 *   (when 1 to 4 found one and the manifest also pins a foreign TOC, the
 *   cheaper to read through is kept: fs/foreign.h)
 *   5. a foreign TOC the manifest pins (zstd:chunked, eStargz, SOCI v2)
 *   6. unpinned, only when the mount's policy trusts them for this
 *      reference: referrers of the manifest with artifactType
 *      REG_MT_STRATAFS_INDEX_ARTIFACT (or the "sha256-<hex>" fallback tag,
 *      inside reg_referrers), newest first; then an unpinned foreign TOC
 *      (legacy stargz, SOCI v1)
 *   7. built here, streaming the layer once (blob digest and diff_id
 *      checked), and cached by layer digest
 * Whatever the source, idx_load_for()/idx_build() validate the index, and
 * a loaded one must name the descriptor's blob digest and size (checked on
 * its header, before its payload is decompressed). An index from a
 * registry is cached by its own digest only, so it is found again only
 * through a document that names that digest: never by another image that
 * merely shares the layer. The span states start ABSENT, or UNKNOWN for the spans the cache
 * dir already holds a file for (checked against this index before use).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fs/foreign.h"
#include "fs/store_int.h"

void fs_layer_free(struct fs_layer *l)
{
	if (!l)
		return;
	idx_layer_free(l->idx);
	free(l->spans);
	free(l);
}

/*
 * Load @buf as the index of @l: -EBADMSG if it is not this layer's (digest
 * and size, checked before the payload is decompressed), -EFBIG if it
 * declares more than the layer can hold.
 */
static int load_index(struct fs_layer *l, const void *buf, size_t len, const char *what)
{
	struct idx_layer *idx = NULL;
	int r;

	r = idx_load_for(buf, len, l->digest, l->blob_size, &idx);
	if (r < 0) {
		log_warn("ignoring the %s index of layer '%s': %s", what, l->digest, strerror(-r));
		return r;
	}
	l->idx = idx;
	return 0;
}

/*
 * An index from the local cache: kind BLOB by its own digest @digest
 * (vouched for by @trust), or kind BUILT by the layer's digest. A copy that
 * does not load for this layer is removed.
 */
static int from_cache(struct fs_store *s, struct fs_layer *l, enum fs_cache_index_kind k,
		      const char *digest, const char *trust)
{
	void *buf = NULL;
	size_t len = 0;
	int r;

	r = fs_cache_index_get(s->cache, k, digest, &buf, &len);
	if (r < 0)
		return r;
	r = load_index(l, buf, len, trust);
	free(buf);
	if (r < 0) {
		fs_cache_index_remove(s->cache, k, digest);
		return r;
	}
	l->source = "cache";
	l->trust = trust;
	if (k == FS_CACHE_INDEX_BLOB)
		snprintf(l->index_digest, sizeof(l->index_digest), "%s", digest);
	return 0;
}

/* The index blob @idigest, from the local cache or else the registry (verified), then cached. */
static int blob_get(struct fs_store *s, struct fs_layer *l, const char *idigest,
		    const char *trust)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	if (from_cache(s, l, FS_CACHE_INDEX_BLOB, idigest, trust) == 0)
		return 0;
	r = reg_blob_get(s->client, idigest, IDX_MAX_FILE_SIZE, &buf, &len);
	if (r == 0)
		r = load_index(l, buf, len, trust);
	if (r == 0) {
		l->source = "registry";
		l->trust = trust;
		snprintf(l->index_digest, sizeof(l->index_digest), "%s", idigest);
		fs_cache_index_put(s->cache, FS_CACHE_INDEX_BLOB, idigest, buf, len); /* best effort */
	}
	free(buf);
	return r;
}

/* The index blob for @l in artifact manifest @adigest (of manifest @mdigest, if given). */
static int from_artifact(struct fs_store *s, struct fs_layer *l, const char *mdigest,
			 const char *adigest, const char *trust)
{
	struct reg_manifest *am = NULL;
	int r;

	r = reg_manifest_get(s->client, adigest, &am);
	if (r < 0)
		return r;
	r = -ENOENT;
	if (am->kind != REG_MANIFEST_IMAGE ||
	    (mdigest && am->has_subject && strcmp(am->subject.digest, mdigest) != 0))
		goto out_free;
	for (size_t i = 0; i < am->n_layers && r < 0; i++) {
		const struct reg_descriptor *d = &am->layers[i];

		if (!d->stratafs_layer || strcmp(d->stratafs_layer, l->digest) != 0 ||
		    strcmp(d->media_type, REG_MT_STRATAFS_INDEX_BLOB) != 0 ||
		    d->size > IDX_MAX_FILE_SIZE)
			continue;
		r = blob_get(s, l, d->digest, trust);
	}
out_free:
	reg_manifest_free(am);
	return r;
}

static bool is_index_artifact(const struct reg_descriptor *d)
{
	return !d->artifact_type || strcmp(d->artifact_type, REG_MT_STRATAFS_INDEX_ARTIFACT) == 0;
}

/* Unpinned: whatever the registry lists as referrers of @mdigest, the newest (last) first. */
static int from_referrers(struct fs_store *s, struct fs_layer *l, const char *mdigest)
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
	for (size_t i = refs->n_manifests; i-- > 0 && r < 0;)
		if (is_index_artifact(&refs->manifests[i]))
			r = from_artifact(s, l, mdigest, refs->manifests[i].digest, "unpinned");
	reg_manifest_free(refs);
	return r;
}

/*
 * The spans of a small layer just built from @blob (its verified bytes),
 * into the span cache, so that reading it costs no second fetch: a small
 * commit's layer has no index (tools/image_push.h), and one fetch of the
 * blob must do for both. Each span is checked against the new index's
 * digest on decode; one that does not decode alone (inside a single zstd
 * frame) is left to be fetched. Best effort.
 */
static void cache_small_blob(struct fs_store *s, struct fs_layer *l, const unsigned char *blob,
			     size_t len)
{
	struct idx_span sp;
	void *u;

	idx_layer_info(l->idx, &l->info); /* as init_spans() will: the span files' key */
	fs_foreign_span_key(l);
	for (uint32_t id = 0; id < l->info.n_spans; id++) {
		if (idx_span_get(l->idx, id, &sp) < 0 || sp.c_end > len || sp.c_start > sp.c_end ||
		    sp.sha_compressed)
			continue;
		u = malloc(sp.u_len ? sp.u_len : 1);
		/* fetched by this mount, as a run would have: counted as such (stats) */
		if (u && idx_span_decode(l->idx, id, blob + sp.c_start, sp.c_end - sp.c_start, u,
					 sp.u_len) == 0 &&
		    fs_cache_span_put_sha(s->cache, l->span_key, sp.u_start, u, sp.u_len,
					  sp.sha256, false) == 0)
			l->spans_fetched++;
		free(u);
	}
}

static int build(struct fs_store *s, struct fs_layer *l, const struct reg_descriptor *desc,
		 const struct fs_layer_origin *o)
{
	const char *diff_id = NULL;
	uint64_t fetched = 0;
	void *blob = NULL;
	void *buf = NULL;
	size_t len = 0;
	int r;

	r = o->diff_id ? o->diff_id(o->diff_id_ctx, o->layer, &diff_id) : 0;
	if (r < 0)
		return r;
	log_info("indexing layer '%s' (%llu bytes)", l->digest, (unsigned long long)desc->size);
	if (desc->size <= FS_KEEP_BLOB_MAX)
		r = fs_index_build_keep(s->client, desc, diff_id, s->o.span_size, &l->idx, &fetched,
					&blob);
	else
		r = fs_index_build_stream(s->client, desc, diff_id, s->o.span_size, &l->idx, NULL,
					  &fetched);
	pthread_mutex_lock(&s->lock);
	s->build_bytes += fetched;
	pthread_mutex_unlock(&s->lock);
	if (r < 0)
		return r;
	l->source = "built";
	l->trust = "built";
	if (idx_save(l->idx, &buf, &len) == 0)
		fs_cache_index_put(s->cache, FS_CACHE_INDEX_BUILT, l->digest, buf, len); /* best effort */
	free(buf);
	if (blob)
		cache_small_blob(s, l, blob, (size_t)desc->size);
	free(blob);
	return 0;
}

/* Where @l's index is kept in the local cache; NULL: nowhere (a foreign layer without TOC). */
static const char *index_file(const struct fs_layer *l, enum fs_cache_index_kind *k)
{
	if (l->foreign) {
		*k = FS_CACHE_INDEX_TOC;
		return l->index_digest[0] ? l->index_digest : NULL;
	}
	*k = l->index_digest[0] ? FS_CACHE_INDEX_BLOB : FS_CACHE_INDEX_BUILT;
	return l->index_digest[0] ? l->index_digest : l->digest;
}

void fs_layer_uncache_index(struct fs_store *s, const struct fs_layer *l)
{
	enum fs_cache_index_kind k;
	const char *key = index_file(l, &k);

	if (key)
		fs_cache_index_remove(s->cache, k, key);
}

void fs_layer_touch_index(struct fs_store *s, const struct fs_layer *l)
{
	enum fs_cache_index_kind k;
	const char *key = index_file(l, &k);

	if (key)
		fs_cache_index_touch(s->cache, k, key);
}

/* Drop @l's index and the local copy it came from. */
static void drop_index(struct fs_store *s, struct fs_layer *l)
{
	fs_layer_uncache_index(s, l);
	idx_layer_free(l->idx);
	l->idx = NULL;
	l->index_digest[0] = '\0';
	l->foreign = 0;
	l->format = NULL;
	l->choice[0] = '\0';
}

/*
 * What the layer's tar must hash to (the whole-layer check): the config's
 * diff_id. It costs the config request, so it is asked for only when
 * prefetch=all will read the layer in full; else the index's own diff_id
 * stands in. An index that names another diff_id than the config's is
 * not this layer's: it is dropped and the layer built from its bytes. A
 * foreign TOC names no diff_id (its layer carries the config's, or zeros):
 * the whole-layer check holds it against the tar instead.
 */
static int expect_diff_id(struct fs_store *s, struct fs_layer *l,
			  const struct fs_layer_origin *o, const struct reg_descriptor *desc)
{
	const char *want = NULL;
	int r;

	if (s->o.prefetch_all && o->diff_id) {
		r = o->diff_id(o->diff_id_ctx, o->layer, &want);
		if (r < 0)
			return r;
	}
	if (want && !l->foreign && strcmp(want, l->info.diff_id) != 0 &&
	    strcmp(l->trust, "built") != 0) {
		log_warn("the %s index of layer '%s' names diff_id %s, the config %s: building one",
			 l->trust, l->digest, l->info.diff_id, want);
		drop_index(s, l);
		r = build(s, l, desc, o);
		if (r < 0)
			return r;
		idx_layer_info(l->idx, &l->info);
	}
	snprintf(l->diff_id, sizeof(l->diff_id), "%s", want ? want : l->info.diff_id);
	l->diff_id_known = want != NULL;
	return 0;
}

/* Steps 1 to 4 of the comment at the top: a stratafs index something trusted vouches for. */
static int find_trusted(struct fs_store *s, struct fs_layer *l, const struct fs_layer_origin *o,
			const struct reg_descriptor *desc)
{
	const char *pin = desc->stratafs_index;

	if (pin && from_cache(s, l, FS_CACHE_INDEX_BLOB, pin, "pinned") == 0)
		return 0;
	if (from_cache(s, l, FS_CACHE_INDEX_BUILT, l->digest, "built") == 0)
		return 0;
	if (pin) {
		if (blob_get(s, l, pin, "pinned") == 0)
			return 0;
		log_warn("the index '%s' the manifest pins for layer '%s' is unusable", pin,
			 l->digest);
	}
	if (!pin && o->pinned_artifact && *o->pinned_artifact &&
	    from_artifact(s, l, NULL, o->pinned_artifact, "pinned") == 0)
		return 0;
	return -ENOENT;
}

/* Steps 1 to 7 of the comment at the top. */
static int find_index(struct fs_store *s, struct fs_layer *l, const struct fs_layer_origin *o,
		      const struct reg_descriptor *desc)
{
	if (find_trusted(s, l, o, desc) == 0) {
		fs_foreign_compete(s, l, o, desc);
		return 0;
	}
	if (fs_foreign_open_pinned(s, l, o, desc) == 0)
		return 0;
	if (!desc->stratafs_index && o->trust_unpinned &&
	    from_referrers(s, l, o->manifest_digest) == 0)
		return 0;
	if (o->trust_unpinned && fs_foreign_open_unpinned(s, l, o, desc) == 0)
		return 0;
	return build(s, l, desc, o);
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
	fs_foreign_span_key(l);
	l->spans = calloc(l->info.n_spans ? l->info.n_spans : 1, sizeof(*l->spans));
	if (!l->spans)
		return -ENOMEM;
	for (uint32_t i = 0; i < l->info.n_spans; i++)
		l->spans[i].state = FS_SP_ABSENT;
	return fs_cache_span_foreach(s->cache, l->span_key, mark_cached, l);
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

int fs_store_open_layer(struct fs_store *s, const struct fs_layer_origin *origin,
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
		l->blob_size = desc->size;
		r = find_index(s, l, origin, desc);
	}
	if (r == 0) {
		idx_layer_info(l->idx, &l->info);
		r = expect_diff_id(s, l, origin, desc);
	}
	if (r == 0)
		r = init_spans(s, l);
	if (r < 0) {
		fs_layer_free(l);
		l = NULL;
	} else {
		log_info("layer '%s': %s %s index from %s, %u entries, %u spans", l->digest,
			 l->trust, fs_foreign_label(l), l->source, l->info.n_entries,
			 l->info.n_spans);
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
