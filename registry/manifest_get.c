/* SPDX-License-Identifier: MIT */
/*
 * Fetching manifests: GET/HEAD /v2/<repo>/manifests/<ref> with every type we
 * handle in Accept (so ECR never converts a by-tag pull), the body bounded
 * by REG_MAX_MANIFEST_SIZE and verified: against the digest asked for, else
 * against Docker-Content-Digest when the registry sends a sha256 one.
 * Resolution follows an index to the platform's image manifest.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "registry/registry_int.h"

static int verify(const char *reference, const struct reg_http_resp *resp,
		  const struct reg_manifest *m)
{
	const char *want = NULL;

	if (digest_is_valid(reference))
		want = reference;
	else if (resp->docker_digest && strncmp(resp->docker_digest, "sha256:", 7) == 0)
		want = resp->docker_digest;
	if (want && strcmp(want, m->digest) != 0) {
		log_err("manifest '%s' does not match its digest: got '%s', want '%s'", reference,
			m->digest, want);
		return -EBADMSG;
	}
	return 0;
}

int reg_manifest_fetch(struct reg_client *c, const char *reference, bool quiet_404,
		       struct reg_manifest **out)
{
	struct reg_http_resp resp = { 0 };
	struct reg_call call = { .method = "GET", .accept = REG_ACCEPT_MANIFESTS, .bounded = true };
	struct reg_manifest *m = NULL;
	char what[400];
	struct dbuf body;
	char *url = NULL;
	int r;

	r = reg_client_url(c, "manifests", reference, &url);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "manifest '%s'", reference);
	dbuf_init(&body, REG_MAX_MANIFEST_SIZE);
	call.url = url;
	call.what = what;
	call.body = &body;
	call.quiet_404 = quiet_404;
	r = reg_request(c, &call, &resp);
	if (r == -EFBIG)
		log_err("manifest '%s' is larger than %u bytes", reference, REG_MAX_MANIFEST_SIZE);
	if (r < 0)
		goto out_release;
	r = reg_manifest_parse(body.data, body.len, resp.content_type, &m);
	if (r < 0) {
		atomic_fetch_add(&c->n_errors, 1);
		log_err("cannot parse manifest '%s' (%s)", reference,
			resp.content_type ? resp.content_type : "no content type");
		goto out_release;
	}
	r = verify(reference, &resp, m);
	if (r < 0) {
		atomic_fetch_add(&c->n_errors, 1);
		reg_manifest_free(m);
		goto out_release;
	}
	*out = m;
out_release:
	reg_http_resp_release(&resp);
	dbuf_release(&body);
	free(url);
	return r;
}

int reg_manifest_get(struct reg_client *c, const char *reference, struct reg_manifest **out)
{
	return reg_manifest_fetch(c, reference, false, out);
}

static bool is_image_type(const char *mt)
{
	return strcmp(mt, REG_MT_OCI_MANIFEST) == 0 || strcmp(mt, REG_MT_DOCKER_MANIFEST) == 0;
}

bool reg_is_pinning_index(const struct reg_manifest *top)
{
	if (top->kind != REG_MANIFEST_INDEX)
		return false;
	for (size_t i = 0; i < top->n_manifests; i++)
		if (top->manifests[i].stratafs_indexes)
			return true;
	return false;
}

int reg_pinning_select(const struct reg_manifest *top, const struct reg_platform *platform,
		       const struct reg_descriptor **out)
{
	const struct reg_descriptor *only = NULL;
	size_t subjects = 0;
	int r;

	for (size_t i = 0; i < top->n_manifests; i++) {
		const struct reg_descriptor *d = &top->manifests[i];

		if (d->artifact_type && strcmp(d->artifact_type, REG_MT_STRATAFS_INDEX_ARTIFACT) == 0)
			continue;
		subjects++;
		only = d;
	}
	if (subjects == 1 && !only->has_platform) {
		*out = only;
		return 0;
	}
	r = reg_index_select(top, platform, out);
	if (r == 0 && (*out)->artifact_type &&
	    strcmp((*out)->artifact_type, REG_MT_STRATAFS_INDEX_ARTIFACT) == 0)
		r = -ENOENT; /* an artifact given a platform: never the image */
	return r;
}

/* Fetch entry @d of index @top: an image manifest, or a wrapped BuildKit legacy cache. */
static int follow(struct reg_client *c, const struct reg_descriptor *d,
		  struct reg_manifest **out)
{
	struct reg_manifest *m = NULL;
	bool wrapped_cache = d->stratafs_indexes && strcmp(d->media_type, REG_MT_OCI_INDEX) == 0;
	int r;

	if (!is_image_type(d->media_type) && !wrapped_cache) {
		log_err("index entry '%s' for the platform is a '%s', not an image manifest",
			d->digest, d->media_type);
		return -EBADMSG;
	}
	r = reg_manifest_get(c, d->digest, &m);
	if (r < 0)
		return r;
	if (m->kind != REG_MANIFEST_IMAGE && !(wrapped_cache && reg_manifest_is_buildkit_cache(m))) {
		log_err("manifest '%s' is not an image manifest", d->digest);
		reg_manifest_free(m);
		return -EBADMSG;
	}
	/* the pinning index was fetched as the user's reference: it vouches for its pins */
	if (d->stratafs_indexes)
		snprintf(m->pinned_artifact, sizeof(m->pinned_artifact), "%s", d->stratafs_indexes);
	*out = m;
	return 0;
}

int reg_resolve(struct reg_client *c, const struct reg_ref *ref, const struct reg_platform *platform,
		struct reg_manifest **out, struct reg_manifest **top_out)
{
	struct reg_manifest *top = NULL, *m = NULL;
	const struct reg_descriptor *d;
	int r;

	r = reg_manifest_get(c, reg_ref_reference(ref), &top);
	if (r < 0)
		return r;
	if (top->kind == REG_MANIFEST_IMAGE || reg_manifest_is_buildkit_cache(top)) {
		*out = top;
		if (top_out)
			*top_out = NULL;
		return 0;
	}
	if (reg_is_pinning_index(top))
		r = reg_pinning_select(top, platform, &d);
	else
		r = reg_index_select(top, platform, &d);
	if (r == 0)
		r = follow(c, d, &m);
	if (r < 0)
		goto out_free;
	*out = m;
	if (top_out)
		*top_out = top;
	else
		reg_manifest_free(top);
	return 0;
out_free:
	reg_manifest_free(top);
	return r;
}
