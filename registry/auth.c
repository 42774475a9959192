/* SPDX-License-Identifier: MIT */
/*
 * Registry auth. A client starts anonymous; the first 401 names the scheme:
 *   Basic  -> the user's credentials on every request to the registry origin
 *             (ECR: the GetAuthorizationToken pair);
 *   Bearer -> a token from the challenge's realm (GET ?service=&scope=, with
 *             Basic credentials if we have any, or POST grant_type=
 *             refresh_token for an identity token), cached per scope until
 *             expires_in (default 60 s) minus a margin, and fetched again on
 *             expiry, on a 401, or on a 403 without a challenge (ECR's
 *             answer to an expired token).
 * Tokens are never logged. Credentials are only sent to the realm over
 * https (or when the user said insecure).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "common/base64.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/secret.h"
#include "registry/registry_int.h"

#define TOKEN_MARGIN_MS 5000

void reg_auth_init(struct reg_auth *a)
{
	explicit_bzero(a, sizeof(*a));
	pthread_mutex_init(&a->lock, NULL);
}

static void token_clear(struct reg_token *t)
{
	secret_free_str(t->value);
	explicit_bzero(t, sizeof(*t));
}

void reg_auth_release(struct reg_auth *a)
{
	for (size_t i = 0; i < REG_TOKEN_SLOTS; i++)
		token_clear(&a->tokens[i]);
	reg_challenge_release(&a->bearer);
	reg_cred_release(&a->cred);
	reg_auth_ecr_release(a);
	pthread_mutex_destroy(&a->lock);
}

int reg_token_parse(const char *json, size_t len, char **token, unsigned *expires_in)
{
	json_t *root = json_loadb(json, len, 0, NULL);
	const char *t;
	json_t *exp;
	int r = -EBADMSG;

	if (!json_is_object(root))
		goto out_decref;
	t = json_string_value(json_object_get(root, "access_token"));
	if (!t || !*t)
		t = json_string_value(json_object_get(root, "token"));
	if (!t || !*t || strlen(t) > REG_MAX_TOKEN_SIZE)
		goto out_decref;
	exp = json_object_get(root, "expires_in");
	*expires_in = REG_TOKEN_DEFAULT_TTL;
	if (json_is_integer(exp) && json_integer_value(exp) > 0 &&
	    json_integer_value(exp) < 10 * 365 * 86400)
		*expires_in = (unsigned)json_integer_value(exp);
	*token = strdup(t);
	r = *token ? 0 : -ENOMEM;
out_decref:
	json_decref(root);
	return r;
}

static int basic_value(const struct reg_cred *cr, char **out)
{
	struct dbuf plain, b;
	int r;

	dbuf_init(&plain, 8192);
	dbuf_init(&b, 16384);
	r = dbuf_printf(&plain, "%s:%s", cr->username, cr->password ? cr->password : "");
	if (r == 0)
		r = dbuf_add_str(&b, "Basic ");
	if (r == 0)
		r = b64_encode_dbuf(&b, plain.data, plain.len);
	secret_dbuf_release(&plain);
	if (r < 0) {
		secret_dbuf_release(&b);
		return r;
	}
	*out = dbuf_take(&b, NULL);
	return *out ? 0 : -ENOMEM;
}

static struct reg_token *token_slot(struct reg_auth *a, const char *scope, bool create)
{
	struct reg_token *oldest = &a->tokens[0];

	for (size_t i = 0; i < REG_TOKEN_SLOTS; i++) {
		if (a->tokens[i].value && strcmp(a->tokens[i].scope, scope) == 0)
			return &a->tokens[i];
		if (a->tokens[i].expires_ms < oldest->expires_ms)
			oldest = &a->tokens[i];
	}
	if (!create || strlen(scope) >= sizeof(oldest->scope))
		return NULL;
	token_clear(oldest);
	memcpy(oldest->scope, scope, strlen(scope) + 1);
	return oldest;
}

/* The token request: GET realm?service=&scope= or the OAuth2 refresh POST. */
static int token_request(struct reg_client *c, const struct reg_challenge *ch, struct dbuf *url,
			 struct dbuf *form)
{
	const struct reg_cred *cr = &c->auth.cred;
	int r;

	r = dbuf_add_str(url, ch->realm);
	if (r == 0 && !cr->identity_token) {
		r = dbuf_add_str(url, strchr(ch->realm, '?') ? "&" : "?");
		if (r == 0 && ch->service && (r = dbuf_add_str(url, "service=")) == 0)
			r = reg_url_escape(url, ch->service);
		if (r == 0)
			r = dbuf_add_str(url, ch->service ? "&scope=" : "scope=");
		if (r == 0)
			r = reg_url_escape(url, c->scope);
		if (r == 0 && ch->scope && strcmp(ch->scope, c->scope) != 0 &&
		    (r = dbuf_add_str(url, "&scope=")) == 0)
			r = reg_url_escape(url, ch->scope);
		return r;
	}
	if (r == 0)
		r = dbuf_add_str(form, "grant_type=refresh_token&client_id=stratafs&service=");
	if (r == 0)
		r = reg_url_escape(form, ch->service ? ch->service : "");
	if (r == 0 && (r = dbuf_add_str(form, "&scope=")) == 0)
		r = reg_url_escape(form, c->scope);
	if (r == 0 && (r = dbuf_add_str(form, "&refresh_token=")) == 0)
		r = reg_url_escape(form, cr->identity_token);
	return r;
}

static bool realm_ok(const struct reg_client *c, const char *realm)
{
	if (strncasecmp(realm, "https://", 8) == 0)
		return true;
	return c->insecure && strncasecmp(realm, "http://", 7) == 0;
}

/* Fetch a bearer token for c->scope; called with a->lock held. */
static int fetch_token(struct reg_client *c, const struct reg_challenge *ch)
{
	struct reg_http_req req = { .method = "GET", .accept = "application/json" };
	struct reg_blob_src form_src = { .fd = -1 };
	struct reg_http_resp resp;
	struct dbuf url, form, body;
	struct reg_token *slot;
	char *authz = NULL, *tok = NULL;
	unsigned ttl = 0;
	int r;

	if (!ch->realm || !realm_ok(c, ch->realm)) {
		log_err("cannot authenticate to '%s': token realm '%s' is not https", c->host,
			ch->realm ? ch->realm : "");
		return -EACCES;
	}
	dbuf_init(&url, 16384);
	dbuf_init(&form, 16384);
	dbuf_init(&body, REG_MAX_TOKEN_SIZE);
	r = token_request(c, ch, &url, &form);
	if (r < 0)
		goto out_release;
	if (c->auth.cred.username && !c->auth.cred.identity_token) {
		r = basic_value(&c->auth.cred, &authz);
		if (r < 0)
			goto out_release;
	}
	req.url = url.data;
	req.authorization = authz;
	req.body = &body;
	req.timeout_ms = c->io_timeout_ms;
	if (form.len) {
		req.method = "POST";
		form_src.buf = form.data;
		form_src.size = form.len;
		req.src = &form_src;
		req.content_type = "application/x-www-form-urlencoded";
	}
	atomic_fetch_add(&c->n_requests, 1);
	r = reg_http_perform(c->http, &req, &resp);
	if (r == 0 && resp.status != 200) {
		reg_log_http_error("a token", &resp);
		r = reg_status_is_retryable(resp.status) ? -EAGAIN : -EACCES;
	} else if (r < 0) {
		log_err("cannot fetch a token from '%s': %s", ch->realm, resp.error);
	}
	if (r == 0)
		r = reg_token_parse(body.data, body.len, &tok, &ttl);
	if (r == -EBADMSG)
		log_err("cannot fetch a token from '%s': bad token response", ch->realm);
	reg_http_resp_release(&resp);
	if (r < 0)
		goto out_release;
	slot = token_slot(&c->auth, c->scope, true);
	if (!slot) {
		secret_free_str(tok);
		r = -ENOMEM;
		goto out_release;
	}
	slot->value = tok;
	slot->expires_ms = monotonic_ms() + (uint64_t)ttl * 1000u;
	/* 64-bit: ttl may be up to ten years, whose ms do not fit in unsigned */
	if ((uint64_t)ttl * 1000u > 2 * TOKEN_MARGIN_MS)
		slot->expires_ms -= TOKEN_MARGIN_MS;
	log_debug("got a bearer token for '%s' valid %u s", c->scope, ttl);
out_release:
	dbuf_release(&url);
	secret_dbuf_release(&form);
	secret_dbuf_release(&body);
	secret_free_str(authz);
	return r;
}

static int bearer_value(const char *tok, char **out)
{
	size_t n = strlen(tok) + sizeof("Bearer ");

	*out = malloc(n);
	if (!*out)
		return -ENOMEM;
	snprintf(*out, n, "Bearer %s", tok);
	return 0;
}

int reg_auth_header(struct reg_client *c, char **out)
{
	struct reg_auth *a = &c->auth;
	struct reg_token *t;
	int r = 0;

	*out = NULL;
	if (a->ecr)
		return reg_auth_ecr_header(c, out); /* thread-safe on its own */
	pthread_mutex_lock(&a->lock);
	if (a->mode == REG_AUTH_BASIC) {
		r = basic_value(&a->cred, out);
	} else if (a->mode == REG_AUTH_BEARER) {
		t = token_slot(a, c->scope, false);
		if (!t || t->expires_ms <= monotonic_ms()) {
			if (t)
				token_clear(t);
			r = fetch_token(c, &a->bearer);
			t = r == 0 ? token_slot(a, c->scope, false) : NULL;
		}
		if (t)
			r = bearer_value(t->value, out);
	} else if (a->cred.registry_token) {
		/* config.json "registrytoken": a bearer token sent as is */
		r = bearer_value(a->cred.registry_token, out);
	}
	pthread_mutex_unlock(&a->lock);
	return r;
}

static int best_challenge(const struct reg_http_resp *resp, struct reg_challenge *best)
{
	bool have = false;

	for (size_t i = 0; i < resp->n_challenges; i++) {
		struct reg_challenge ch;

		if (reg_www_auth_parse(resp->challenges[i], &ch) < 0)
			continue;
		if (!have || (strcmp(ch.scheme, "bearer") == 0 && strcmp(best->scheme, "bearer") != 0) ||
		    (strcmp(ch.scheme, "basic") == 0 && strcmp(best->scheme, "bearer") != 0 &&
		     strcmp(best->scheme, "basic") != 0)) {
			if (have)
				reg_challenge_release(best);
			*best = ch;
			have = true;
		} else {
			reg_challenge_release(&ch);
		}
	}
	return have ? 0 : -ENOENT;
}

static int use_challenge(struct reg_client *c, struct reg_challenge *ch, bool sent_auth)
{
	struct reg_auth *a = &c->auth;
	struct reg_token *t;

	if (strcmp(ch->scheme, "basic") == 0) {
		if (!a->cred.username) {
			log_err("registry '%s' requires credentials (--username, docker config)",
				c->host);
			return -EACCES;
		}
		if (a->mode == REG_AUTH_BASIC && sent_auth)
			return -EACCES; /* the credentials themselves were refused */
		a->mode = REG_AUTH_BASIC;
		return 0;
	}
	if (strcmp(ch->scheme, "bearer") != 0) {
		log_err("registry '%s' asks for unsupported auth scheme '%s'", c->host, ch->scheme);
		return -EACCES;
	}
	t = token_slot(a, c->scope, false);
	if (t)
		token_clear(t);
	reg_challenge_release(&a->bearer);
	a->bearer = *ch;
	explicit_bzero(ch, sizeof(*ch));
	a->mode = REG_AUTH_BEARER;
	return fetch_token(c, &a->bearer);
}

int reg_auth_handle(struct reg_client *c, const struct reg_http_resp *resp, const char *sent_auth)
{
	struct reg_auth *a = &c->auth;
	struct reg_challenge ch = { 0 };
	struct reg_token *t;
	int r;

	if (a->ecr) {
		/* ECR: the token was refused (401, or 403 when it expired) */
		if (!sent_auth)
			return -EACCES;
		reg_auth_ecr_invalidate(c, sent_auth);
		return 0;
	}
	pthread_mutex_lock(&a->lock);
	if (best_challenge(resp, &ch) < 0) {
		r = -EACCES;
		if (resp->status == 403 && a->mode == REG_AUTH_BEARER) {
			/* ECR-style expiry: a plain 403; fetch a new token */
			t = token_slot(a, c->scope, false);
			if (t)
				token_clear(t);
			r = fetch_token(c, &a->bearer);
		}
		pthread_mutex_unlock(&a->lock);
		return r;
	}
	r = use_challenge(c, &ch, sent_auth);
	reg_challenge_release(&ch);
	pthread_mutex_unlock(&a->lock);
	return r;
}
