/* SPDX-License-Identifier: MIT */
/*
 * struct reg_ecr_auth: what a registry client holds for an ECR host. It
 * keeps the AWS credentials (re-resolved REG_AWS_REFRESH_MARGIN_S before
 * they expire) and the ECR token in memory until half its life, under one
 * mutex: a token refresh is rare (every ~6 h) and every other caller wants
 * its result anyway, so they simply wait for it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "registry/aws/aws_int.h"

struct reg_ecr_auth {
	pthread_mutex_t lock;
	struct reg_aws_opts opts; /* strings below are owned copies */
	char *profile, *endpoint, *cache_dir, *ca_file;
	struct reg_ecr_host host;
	/* protected by lock: */
	bool have_creds;
	struct reg_aws_creds creds;
	struct reg_ecr_cached token;
	time_t from_api_at;       /* when the API handed out the token held; 0: from the disk cache */
};

/*
 * A token the API handed out this recently is not refused for being old:
 * a refusal then is about a permission the role lacks (every request 403):
 * fetching again would only cost an API call per request.
 */
#define ECR_FRESH_SEC 60

static int dup_opt(const char *s, char **owned, const char **field)
{
	*field = NULL;
	if (!s)
		return 0;
	*owned = strdup(s);
	if (!*owned)
		return -ENOMEM;
	*field = *owned;
	return 0;
}

int reg_ecr_auth_new(const struct reg_aws_opts *o, const struct reg_ecr_host *h,
		     struct reg_ecr_auth **out)
{
	struct reg_ecr_auth *a;
	int r;

	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->opts = *o;
	a->host = *h;
	r = dup_opt(o->profile, &a->profile, &a->opts.profile);
	if (r == 0)
		r = dup_opt(o->ecr_endpoint, &a->endpoint, &a->opts.ecr_endpoint);
	if (r == 0)
		r = dup_opt(o->cache_dir, &a->cache_dir, &a->opts.cache_dir);
	if (r == 0)
		r = dup_opt(o->ca_file, &a->ca_file, &a->opts.ca_file);
	if (r == 0 && pthread_mutex_init(&a->lock, NULL) != 0)
		r = -ENOMEM;
	if (r < 0) {
		free(a->profile);
		free(a->endpoint);
		free(a->cache_dir);
		free(a->ca_file);
		free(a);
		return r;
	}
	*out = a;
	return 0;
}

void reg_ecr_auth_free(struct reg_ecr_auth *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->lock);
	reg_aws_creds_wipe(&a->creds);
	reg_ecr_cached_release(&a->token);
	free(a->profile);
	free(a->endpoint);
	free(a->cache_dir);
	free(a->ca_file);
	free(a);
}

/* Called with a->lock held. */
static int ensure_creds(struct reg_ecr_auth *a, time_t now)
{
	int r;

	if (a->have_creds && !reg_aws_creds_expiring(&a->creds, now, REG_AWS_REFRESH_MARGIN_S))
		return 0;
	a->have_creds = false;
	reg_aws_creds_wipe(&a->creds);
	r = reg_aws_creds_get(&a->opts, &a->creds);
	if (r == 0)
		a->have_creds = true;
	return r;
}

/* Called with a->lock held. */
static int ensure_token(struct reg_ecr_auth *a, time_t now)
{
	struct reg_ecr_cached t = { .requested_at = now };
	bool from_api = false;
	int r;

	if (a->token.token && reg_ecr_cached_is_fresh(&a->token, now))
		return 0;
	r = ensure_creds(a, now);
	if (r < 0)
		return r;
	r = reg_ecr_token_cached_with_creds(&a->opts, &a->host, &a->creds, &t.token,
					    &t.expires_at, &from_api);
	if (r < 0)
		return r;
	a->from_api_at = from_api ? now : 0;
	/* requested_at = now: in memory the token is kept for half of what is left
	 * of its life, which for a token fresh from the API is half of 12 h. */
	reg_ecr_cached_release(&a->token);
	a->token = t;
	return 0;
}

int reg_ecr_auth_header(struct reg_ecr_auth *a, char **out)
{
	size_t n;
	char *v;
	int r;

	pthread_mutex_lock(&a->lock);
	r = ensure_token(a, time(NULL));
	if (r == 0) {
		n = strlen(a->token.token) + sizeof("Basic ");
		v = malloc(n);
		if (v) {
			snprintf(v, n, "Basic %s", a->token.token);
			*out = v;
		} else {
			r = -ENOMEM;
		}
	}
	pthread_mutex_unlock(&a->lock);
	/* No AWS credentials anywhere is, for the registry, an auth failure. */
	return r == -ENOENT ? -EACCES : r;
}

/* Is "Basic <@token>" the value @header? */
static bool header_is(const char *header, const char *token)
{
	return token && strncmp(header, "Basic ", 6) == 0 && strcmp(header + 6, token) == 0;
}

void reg_ecr_auth_invalidate(struct reg_ecr_auth *a, const char *refused)
{
	pthread_mutex_lock(&a->lock);
	if (refused && !header_is(refused, a->token.token)) {
		log_debug("aws: a refused ECR token for '%s' was replaced already", a->host.account);
		pthread_mutex_unlock(&a->lock);
		return;
	}
	if (refused && a->from_api_at && time(NULL) - a->from_api_at < ECR_FRESH_SEC) {
		log_debug("aws: ECR refused a token for '%s' the API handed out %lld s ago: kept "
			  "(a permission, not the token)", a->host.account,
			  (long long)(time(NULL) - a->from_api_at));
		pthread_mutex_unlock(&a->lock);
		return;
	}
	reg_ecr_cached_release(&a->token);
	if (a->have_creds)
		reg_ecr_cache_drop(a->opts.cache_dir, &a->host, a->creds.access_key_id);
	log_debug("aws: dropped the ECR token for '%s'", a->host.account);
	pthread_mutex_unlock(&a->lock);
}
