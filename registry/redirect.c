/* SPDX-License-Identifier: MIT */
/*
 * Redirect targets per blob. ECR answers every blob GET with a 307 to a
 * presigned S3 URL; going back to ECR for each range would double the
 * latency, so the target is reused until shortly before it expires (its
 * X-Amz-Date + X-Amz-Expires when present, else a short default) and
 * dropped early when the storage host refuses it (request.c).
 * A small table, replaced round-robin; protected by c->redir_lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/clock.h"
#include "registry/registry_int.h"

#define SAFETY_MARGIN_S 30

/* The value of query parameter @name (case-insensitive) in @url, or NULL. */
static const char *query_param(const char *url, const char *name, size_t *len)
{
	const char *q = strchr(url, '?');
	size_t n = strlen(name);

	while (q) {
		q++;
		if (strncasecmp(q, name, n) == 0 && q[n] == '=') {
			*len = strcspn(q + n + 1, "&#");
			return q + n + 1;
		}
		q = strchr(q, '&');
	}
	return NULL;
}

/* "20250304T101502Z" -> time_t */
static int amz_date(const char *v, size_t len, time_t *out)
{
	char buf[17];
	struct tm tm = { 0 };
	const char *end;

	if (len != 16)
		return -EINVAL;
	memcpy(buf, v, len);
	buf[len] = '\0';
	end = strptime(buf, "%Y%m%dT%H%M%SZ", &tm);
	if (!end || *end)
		return -EINVAL;
	*out = timegm(&tm);
	return *out == (time_t)-1 ? -EINVAL : 0;
}

static bool signed_expiry(const char *url, const char *date_key, const char *exp_key, time_t *out)
{
	size_t dl = 0, el = 0;
	const char *d = query_param(url, date_key, &dl);
	const char *e = query_param(url, exp_key, &el);
	char num[16];
	time_t t;

	if (!d || !e || el == 0 || el >= sizeof(num) || amz_date(d, dl, &t) < 0)
		return false;
	memcpy(num, e, el);
	num[el] = '\0';
	for (size_t i = 0; i < el; i++)
		if (num[i] < '0' || num[i] > '9')
			return false;
	*out = t + (time_t)strtol(num, NULL, 10);
	return true;
}

uint64_t reg_presigned_ttl_ms(const char *url, time_t now)
{
	time_t exp;

	if (!signed_expiry(url, "X-Amz-Date", "X-Amz-Expires", &exp) &&
	    !signed_expiry(url, "X-Goog-Date", "X-Goog-Expires", &exp))
		return (uint64_t)REG_REDIRECT_DEFAULT_TTL * 1000u;
	if (exp - SAFETY_MARGIN_S <= now)
		return 0;
	return (uint64_t)(exp - SAFETY_MARGIN_S - now) * 1000u;
}

static struct reg_redirect *find(struct reg_client *c, const char *digest)
{
	for (size_t i = 0; i < REG_REDIRECT_SLOTS; i++)
		if (c->redirects[i].url && strcmp(c->redirects[i].digest, digest) == 0)
			return &c->redirects[i];
	return NULL;
}

int reg_redirect_get(struct reg_client *c, const char *digest, char **url)
{
	struct reg_redirect *e;
	int r = -ENOENT;

	pthread_mutex_lock(&c->redir_lock);
	e = find(c, digest);
	if (e && e->expires_ms > monotonic_ms()) {
		*url = strdup(e->url);
		r = *url ? 0 : -ENOMEM;
	}
	pthread_mutex_unlock(&c->redir_lock);
	return r;
}

void reg_redirect_put(struct reg_client *c, const char *digest, const char *url)
{
	uint64_t ttl = reg_presigned_ttl_ms(url, time(NULL));
	struct reg_redirect *e, *oldest;
	char *copy;

	if (ttl == 0 || strlen(digest) >= DIGEST_STR_LEN)
		return;
	copy = strdup(url);
	if (!copy)
		return;
	pthread_mutex_lock(&c->redir_lock);
	e = find(c, digest);
	if (!e) {
		oldest = &c->redirects[0];
		for (size_t i = 0; i < REG_REDIRECT_SLOTS; i++) {
			if (!c->redirects[i].url) {
				oldest = &c->redirects[i];
				break;
			}
			if (c->redirects[i].expires_ms < oldest->expires_ms)
				oldest = &c->redirects[i];
		}
		e = oldest;
	}
	free(e->url);
	e->url = copy;
	memcpy(e->digest, digest, strlen(digest) + 1);
	e->expires_ms = monotonic_ms() + ttl;
	pthread_mutex_unlock(&c->redir_lock);
}

void reg_redirect_drop(struct reg_client *c, const char *digest)
{
	struct reg_redirect *e;

	pthread_mutex_lock(&c->redir_lock);
	e = find(c, digest);
	if (e) {
		free(e->url);
		e->url = NULL;
	}
	pthread_mutex_unlock(&c->redir_lock);
}

void reg_redirects_release(struct reg_client *c)
{
	for (size_t i = 0; i < REG_REDIRECT_SLOTS; i++) {
		free(c->redirects[i].url);
		c->redirects[i].url = NULL;
	}
}
