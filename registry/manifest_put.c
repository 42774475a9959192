/* SPDX-License-Identifier: MIT */
/*
 * Manifest PUT (OCI distribution spec, "Pushing Manifests") and the
 * stratafs index artifact with its referrers fallback tag (the same
 * spec's "Referrers Tag Schema"; index/FORMAT.md). The artifact is an OCI image manifest
 * whose subject is the image manifest: a registry with the referrers API
 * answers OCI-Subject and lists it; one without (distribution 2.8.2) does
 * not, and then the client keeps the tag "sha256-<hex>" of the subject
 * pointing at an OCI index of its referrers, which reg_referrers() reads.
 * The tag update is read-modify-write without a lock: two pushers racing on
 * the same subject can lose an entry (the spec offers nothing better than
 * an optional ETag), which only costs a later index build.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "registry/upload_int.h"

/* read-add-write rounds of the referrers fallback tag */
#define FALLBACK_ROUNDS 4
#define EMPTY_DIGEST "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

struct put_job {
	struct reg_pusher *p;
	const char *url, *media_type;
	const void *raw;
	size_t len;
	struct reg_http_resp resp; /* the last attempt's answer */
};

/* A PUT of the same bytes is idempotent: each attempt sends it as it is. */
static int put_attempt(void *ctx, struct reg_attempt *a)
{
	struct put_job *j = ctx;
	struct reg_blob_src src = { .fd = -1, .buf = j->raw, .size = j->len };
	struct reg_http_req req = { .method = "PUT", .url = j->url, .content_type = j->media_type,
				    .src = &src };

	if (a->n > 0)
		reg_http_resp_release(&j->resp);
	return reg_up_call(j->p, &req, "push a manifest", &j->resp, a);
}

int reg_manifest_put(struct reg_pusher *p, const char *reference, const char *media_type,
		     const void *raw, size_t len, char digest[DIGEST_STR_LEN], bool *subject_ok)
{
	struct put_job j = { .p = p, .media_type = media_type, .raw = raw, .len = len };
	struct reg_retry_policy pol = { .what = "a manifest push" };
	uint8_t sha[DIGEST_SHA256_LEN];
	char want[DIGEST_STR_LEN];
	char *url = NULL;
	int r;

	if (!p || !reference || !media_type || !raw || len > REG_MAX_MANIFEST_SIZE)
		return -EINVAL;
	digest_sha256(raw, len, sha);
	digest_format(sha, want);
	r = reg_client_url(p->c, "manifests", reference, &url);
	if (r < 0)
		return r;
	j.url = url;
	pol.retries = p->retries;
	pol.n_retries = &p->c->n_retries;
	r = reg_retry_run(&pol, put_attempt, &j);
	if (r == 0 && j.resp.docker_digest && strcmp(j.resp.docker_digest, want) != 0) {
		log_err("registry stored manifest '%s' as '%s'", want, j.resp.docker_digest);
		r = -EBADMSG;
	}
	if (r == 0 && subject_ok)
		*subject_ok = j.resp.oci_subject != NULL;
	if (r == 0 && digest)
		memcpy(digest, want, DIGEST_STR_LEN);
	reg_http_resp_release(&j.resp);
	free(url);
	return r;
}

static json_t *descriptor(const char *mt, const char *digest, uint64_t size)
{
	return json_pack("{s:s, s:s, s:I}", "mediaType", mt, "digest", digest, "size",
			 (json_int_t)size);
}

static json_t *artifact_json(const struct reg_descriptor *subject,
			     const struct reg_index_blob *blobs, size_t n)
{
	json_t *m, *layers, *d;

	m = json_pack("{s:i, s:s, s:s, s:{s:s, s:s, s:i, s:s}}", "schemaVersion", 2, "mediaType",
		      REG_MT_OCI_MANIFEST, "artifactType", REG_MT_STRATAFS_INDEX_ARTIFACT, "config",
		      "mediaType", REG_MT_OCI_EMPTY, "digest", EMPTY_DIGEST, "size", 2, "data", "e30=");
	layers = json_array();
	if (!m || !layers)
		goto out_free;
	for (size_t i = 0; i < n; i++) {
		const char *mt = blobs[i].media_type;

		d = descriptor(mt ? mt : REG_MT_STRATAFS_INDEX_BLOB, blobs[i].digest, blobs[i].size);
		if (!d || (!mt && json_object_set_new(d, "annotations",
						      json_pack("{s:s}", REG_ANNOT_STRATAFS_LAYER,
								blobs[i].layer)) < 0) ||
		    json_array_append_new(layers, d) < 0)
			goto out_free;
	}
	if (json_object_set_new(m, "layers", layers) < 0) {
		layers = NULL;
		goto out_free;
	}
	layers = NULL;
	d = descriptor(subject->media_type, subject->digest, subject->size);
	if (!d || json_object_set_new(m, "subject", d) < 0)
		goto out_free;
	return m;
out_free:
	json_decref(layers);
	json_decref(m);
	return NULL;
}

/* Whether fallback entry @e is a stratafs index artifact other than @dg. */
static bool other_index_artifact(json_t *e, const char *dg)
{
	const char *at = json_string_value(json_object_get(e, "artifactType"));
	const char *x = json_string_value(json_object_get(e, "digest"));

	return at && strcmp(at, REG_MT_STRATAFS_INDEX_ARTIFACT) == 0 && (!x || strcmp(x, dg) != 0);
}

/*
 * The fallback tag's index: what is there (404 -> empty) plus @art unless
 * present; with @replace, other stratafs index artifacts are dropped, so
 * readers find only @art (a repair must win over what it repairs).
 */
static int fallback_add(struct reg_pusher *p, const char *tag, json_t *art_desc, bool replace,
			char **out)
{
	struct reg_manifest *cur = NULL;
	json_t *idx = NULL, *arr;
	const char *dg = json_string_value(json_object_get(art_desc, "digest"));
	bool present = false;
	size_t dropped = 0;
	int r;

	r = reg_manifest_fetch(p->c, tag, true, &cur);
	if (r == 0 && cur->kind == REG_MANIFEST_INDEX)
		idx = json_loadb(cur->raw, cur->raw_len, 0, NULL);
	else if (r < 0 && r != -ENOENT)
		return r;
	reg_manifest_free(cur);
	if (!idx || !json_is_array(json_object_get(idx, "manifests"))) {
		json_decref(idx);
		idx = json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType",
				REG_MT_OCI_INDEX, "manifests");
		if (!idx)
			return -ENOMEM;
	}
	arr = json_object_get(idx, "manifests");
	for (size_t i = json_array_size(arr); replace && i-- > 0;)
		if (other_index_artifact(json_array_get(arr, i), dg))
			dropped += json_array_remove(arr, i) == 0;
	for (size_t i = 0; i < json_array_size(arr) && !present; i++) {
		const char *x = json_string_value(json_object_get(json_array_get(arr, i), "digest"));

		present = x && strcmp(x, dg) == 0;
	}
	if (present && !dropped) {
		json_decref(idx);
		return 1; /* already there */
	}
	r = !present && json_array_append(arr, art_desc) < 0 ? -ENOMEM : 0;
	if (r == 0) {
		*out = json_dumps(idx, JSON_COMPACT);
		r = *out ? 0 : -ENOMEM;
	}
	json_decref(idx);
	return r;
}

static int update_fallback(struct reg_pusher *p, const char *subject, const char *art_digest,
			   size_t art_len, bool replace)
{
	char tag[DIGEST_STR_LEN];
	char *raw = NULL;
	json_t *d;
	int r;

	/* "sha256:<hex>" -> "sha256-<hex>" */
	memcpy(tag, subject, DIGEST_STR_LEN);
	tag[6] = '-';
	/* shaped like a referrers answer: artifactType, no annotations (the manifest has none) */
	d = descriptor(REG_MT_OCI_MANIFEST, art_digest, art_len);
	if (!d || json_object_set_new(d, "artifactType",
				      json_string(REG_MT_STRATAFS_INDEX_ARTIFACT)) < 0) {
		json_decref(d);
		return -ENOMEM;
	}
	/*
	 * Read, add, write, then read again: two pushers updating the tag at
	 * once can each overwrite the other's entry (the registry has no
	 * conditional PUT), so an entry missing after our write is added again.
	 */
	for (int pass = 0; pass < FALLBACK_ROUNDS; pass++) {
		r = fallback_add(p, tag, d, replace && pass == 0, &raw);
		if (r == 0)
			r = reg_manifest_put(p, tag, REG_MT_OCI_INDEX, raw, strlen(raw), NULL, NULL);
		free(raw);
		raw = NULL;
		if (r != 0)
			break;
		if (pass > 0)
			log_info("referrers tag '%s' lost our entry to another writer: added again", tag);
		/* let a concurrent writer finish before checking (10 to 49 ms, jittered
		 * so that two racing pushers do not keep colliding) */
		sleep_ns((10 + reg_jitter32() % 40) * NS_PER_MS);
	}
	json_decref(d);
	if (r == 0)
		log_warn("referrers tag '%s' keeps changing: the index artifact may be missing from it",
			 tag);
	return r == 1 ? 0 : r;
}

int reg_index_artifact_push(struct reg_pusher *p, const struct reg_descriptor *subject,
			    const struct reg_index_blob *blobs, size_t n, bool replace,
			    char digest[DIGEST_STR_LEN], uint64_t *size)
{
	struct reg_blob_src empty = { .fd = -1, .buf = "{}", .size = 2 };
	char adigest[DIGEST_STR_LEN];
	bool subject_ok = false;
	json_t *m = NULL;
	char *raw = NULL;
	int r;

	if (!p || !subject || !subject->media_type || (n && !blobs))
		return -EINVAL;
	r = reg_blob_upload(p, EMPTY_DIGEST, &empty, NULL, NULL);
	if (r < 0)
		return r;
	m = artifact_json(subject, blobs, n);
	raw = m ? json_dumps(m, JSON_COMPACT) : NULL;
	if (!raw) {
		r = -ENOMEM;
		goto out_free;
	}
	{
		uint8_t sha[DIGEST_SHA256_LEN];

		digest_sha256(raw, strlen(raw), sha);
		digest_format(sha, adigest);
	}
	r = reg_manifest_put(p, adigest, REG_MT_OCI_MANIFEST, raw, strlen(raw), NULL, &subject_ok);
	if (r == 0 && !subject_ok)
		r = update_fallback(p, subject->digest, adigest, strlen(raw), replace);
	else if (r == 0 && replace)
		log_warn("the registry lists referrers itself: older index artifacts of '%s' stay "
			 "listed (mounts prefer the newest)", subject->digest);
	if (r == 0 && digest)
		memcpy(digest, adigest, DIGEST_STR_LEN);
	if (r == 0 && size)
		*size = strlen(raw);
out_free:
	free(raw);
	json_decref(m);
	return r;
}

/* {"mediaType", "digest", "size"[, "platform"]} of @d. */
static json_t *entry_json(const struct reg_descriptor *d)
{
	json_t *e = descriptor(d->media_type, d->digest, d->size), *pl;

	if (!e || !d->has_platform)
		return e;
	pl = json_pack("{s:s, s:s}", "os", d->platform.os, "architecture", d->platform.arch);
	if (pl && d->platform.variant &&
	    json_object_set_new(pl, "variant", json_string(d->platform.variant)) < 0) {
		json_decref(pl);
		pl = NULL;
	}
	if (!pl || json_object_set_new(e, "platform", pl) < 0) {
		json_decref(e);
		return NULL;
	}
	return e;
}

int reg_pinning_index_push(struct reg_pusher *p, const char *tag,
			   const struct reg_descriptor *subject, const char *artifact,
			   uint64_t artifact_size, char digest[DIGEST_STR_LEN])
{
	json_t *m, *e, *a;
	char *raw = NULL;
	int r = -ENOMEM;

	if (!p || !tag || !subject || !subject->media_type || !digest_is_valid(artifact))
		return -EINVAL;
	e = entry_json(subject);
	a = descriptor(REG_MT_OCI_MANIFEST, artifact, artifact_size);
	if (e && json_object_set_new(e, "annotations",
				     json_pack("{s:s}", REG_ANNOT_STRATAFS_INDEXES, artifact)) < 0) {
		json_decref(e);
		e = NULL;
	}
	if (a && json_object_set_new(a, "artifactType",
				     json_string(REG_MT_STRATAFS_INDEX_ARTIFACT)) < 0) {
		json_decref(a);
		a = NULL;
	}
	m = e && a ? json_pack("{s:i, s:s, s:[o, o]}", "schemaVersion", 2, "mediaType",
			       REG_MT_OCI_INDEX, "manifests", e, a) : NULL;
	if (!m) {
		json_decref(e);
		json_decref(a);
	}
	raw = m ? json_dumps(m, JSON_COMPACT) : NULL;
	if (raw)
		r = reg_manifest_put(p, tag, REG_MT_OCI_INDEX, raw, strlen(raw), digest, NULL);
	free(raw);
	json_decref(m);
	return r;
}
