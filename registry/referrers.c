/* SPDX-License-Identifier: MIT */
/*
 * Referrers (distribution-spec 1.1): GET /v2/<repo>/referrers/<digest>
 * [?artifactType=], pages followed through Link rel="next". A registry
 * without the API (distribution 2.8.2) answers 404: then the fallback tag
 * "sha256-<hex>" holds an index of the same shape (an absent or invalid
 * one means no referrers). The artifactType filter is applied here when
 * the registry did not say OCI-Filters-Applied: artifactType.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/xarray.h"
#include "registry/registry_int.h"

/* Over all pages: a bound for what a registry may make us hold. */
#define MAX_REFERRERS 100000

/* Move the entries of @src matching @type (NULL: all) to the end of @dst. */
static int take_entries(struct reg_manifest *dst, struct reg_manifest *src, const char *type)
{
	/* what @dst holds is allocated at least; realloc knows the rest */
	size_t cap = dst->n_manifests, n = dst->n_manifests + src->n_manifests;
	int r;

	if (!src->n_manifests)
		return 0;
	r = xarray_grow_size((void **)&dst->manifests, &cap, n - 1, sizeof(*dst->manifests), n,
			     MAX_REFERRERS);
	if (r < 0)
		return r;
	for (size_t i = 0; i < src->n_manifests; i++) {
		struct reg_descriptor *d = &src->manifests[i];

		if (type && (!d->artifact_type || strcmp(d->artifact_type, type) != 0))
			continue;
		dst->manifests[dst->n_manifests++] = *d;
		memset(d, 0, sizeof(*d));
	}
	return 0;
}

static bool filter_applied(const struct reg_http_resp *resp)
{
	return resp->filters_applied && strcasestr(resp->filters_applied, "artifactType");
}

/* The next page's URL from Link: <url>; rel="next", resolved; NULL if none. */
static char *next_page(const struct reg_http_resp *resp)
{
	const char *lt, *gt;
	char *rel = NULL, *out = NULL;

	if (!resp->link || !strstr(resp->link, "rel=\"next\""))
		return NULL;
	lt = strchr(resp->link, '<');
	gt = lt ? strchr(lt, '>') : NULL;
	if (!gt)
		return NULL;
	rel = strndup(lt + 1, (size_t)(gt - lt - 1));
	if (rel && reg_url_resolve(resp->effective_url, rel, &out) < 0)
		out = NULL;
	free(rel);
	return out;
}

static int api_url(struct reg_client *c, const char *digest, const char *type, char **out)
{
	struct dbuf b;
	int r;

	dbuf_init(&b, 16384);
	r = dbuf_printf(&b, "%s/v2/%s/referrers/%s", c->base_url, c->repo, digest);
	if (r == 0 && type && (r = dbuf_add_str(&b, "?artifactType=")) == 0)
		r = reg_url_escape(&b, type);
	if (r < 0) {
		dbuf_release(&b);
		return r;
	}
	*out = dbuf_take(&b, NULL);
	return *out ? 0 : -ENOMEM;
}

/* One page into @all; *next gets the next page's URL or NULL. */
static int fetch_page(struct reg_client *c, const char *url, const char *type,
		      struct reg_manifest *all, char **next)
{
	struct reg_call call = { .method = "GET", .url = url, .accept = REG_MT_OCI_INDEX,
				 .bounded = true, .quiet_404 = true };
	struct reg_http_resp resp = { 0 };
	struct reg_manifest *page = NULL;
	struct dbuf body;
	char what[300];
	int r;

	snprintf(what, sizeof(what), "referrers '%s'", url);
	dbuf_init(&body, REG_MAX_MANIFEST_SIZE);
	call.what = what;
	call.body = &body;
	*next = NULL;
	r = reg_request(c, &call, &resp);
	if (r == 0)
		r = reg_manifest_parse(body.data, body.len, REG_MT_OCI_INDEX, &page);
	if (r == 0 && page->kind != REG_MANIFEST_INDEX)
		r = -EBADMSG;
	if (r == -EBADMSG)
		log_err("bad referrers response from '%s'", url);
	if (r == 0)
		r = take_entries(all, page, filter_applied(&resp) ? NULL : type);
	if (r == 0)
		*next = next_page(&resp);
	reg_manifest_free(page);
	reg_http_resp_release(&resp);
	dbuf_release(&body);
	return r;
}

static int from_fallback_tag(struct reg_client *c, const char *digest, const char *type,
			     struct reg_manifest *all)
{
	struct reg_manifest *idx = NULL;
	char tag[DIGEST_STR_LEN];
	int r;

	snprintf(tag, sizeof(tag), "sha256-%s", digest + 7);
	r = reg_manifest_fetch(c, tag, true, &idx);
	if (r == -ENOENT || r == -EBADMSG) {
		log_debug("no referrers fallback tag '%s'", tag);
		return 0;
	}
	if (r < 0)
		return r;
	if (idx->kind == REG_MANIFEST_INDEX)
		r = take_entries(all, idx, type);
	reg_manifest_free(idx);
	return r;
}

int reg_referrers(struct reg_client *c, const char *digest, const char *artifact_type,
		  struct reg_manifest **out)
{
	struct reg_manifest *all = NULL;
	char *url = NULL, *next = NULL;
	int r, pages = 0;

	if (!digest_is_valid(digest))
		return -EINVAL;
	r = reg_manifest_new_empty_index(&all);
	if (r < 0)
		return r;
	r = api_url(c, digest, artifact_type, &url);
	while (r == 0 && url) {
		r = fetch_page(c, url, artifact_type, all, &next);
		free(url);
		url = next;
		if (r == 0 && ++pages >= REG_MAX_REFERRER_PAGES && url) {
			log_warn("referrers of '%s': more than %d pages, ignoring the rest", digest,
				 REG_MAX_REFERRER_PAGES);
			break;
		}
	}
	free(url);
	if (r == -ENOENT && pages == 0) {
		log_debug("no referrers API: reading the fallback tag");
		r = from_fallback_tag(c, digest, artifact_type, all);
	}
	if (r < 0) {
		reg_manifest_free(all);
		return r;
	}
	*out = all;
	return 0;
}
