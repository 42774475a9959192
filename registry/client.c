/* SPDX-License-Identifier: MIT */
/*
 * The client: one registry host and repository, shared by any number of
 * threads. Scheme: https, always verified, unless the user names the
 * registry insecure; then TLS is not verified, and when https does not
 * even handshake (a plain-HTTP registry, typical on loopback) we fall back
 * to http, as docker does for its insecure registries. Credentials: the
 * explicit pair in reg_opts, else docker's config.json and helpers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "registry/registry_int.h"

void reg_opts_init(struct reg_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->connect_timeout_ms = 10000;
	o->io_timeout_ms = 30000;
	o->retries = 4;
	o->max_parallel = 8;
}

static int set_base(struct reg_client *c, const char *scheme)
{
	struct dbuf b;
	int r;

	free(c->base_url);
	free(c->origin);
	c->base_url = c->origin = NULL;
	dbuf_init(&b, 1024);
	r = dbuf_printf(&b, "%s://%s", scheme, c->host);
	if (r < 0) {
		dbuf_release(&b);
		return r;
	}
	c->base_url = dbuf_take(&b, NULL);
	if (!c->base_url)
		return -ENOMEM;
	r = reg_url_origin(c->base_url, &c->origin);
	if (r < 0)
		log_err("invalid registry host '%s'", c->host);
	return r;
}

/* No byte for this long aborts an exchange (then retried): io timeout in [1 s, 60 s]. */
static unsigned stall_ms(unsigned io_timeout_ms)
{
	if (io_timeout_ms < 1000)
		return 1000;
	return io_timeout_ms > 60000 ? 60000 : io_timeout_ms;
}

/* Insecure registries: https if it handshakes at all, else plain http. */
static int pick_scheme(struct reg_client *c, const struct reg_opts *o)
{
	struct reg_http_req req = { .method = "GET" };
	struct reg_http_resp resp;
	char *url = NULL;
	size_t n;
	int r;

	r = set_base(c, "https");
	if (r < 0 || !o->insecure)
		return r;
	n = strlen(c->base_url) + sizeof("/v2/");
	url = malloc(n);
	if (!url)
		return -ENOMEM;
	snprintf(url, n, "%s/v2/", c->base_url);
	req.url = url;
	req.timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 10000;
	atomic_fetch_add(&c->n_requests, 1);
	r = reg_http_perform(c->http, &req, &resp);
	reg_http_resp_release(&resp);
	free(url);
	if (r == 0 || r == -EHOSTUNREACH || r == -ETIMEDOUT)
		return 0;
	log_info("registry '%s' does not speak TLS: using plain http (insecure)", c->host);
	return set_base(c, "http");
}

static int load_creds(struct reg_client *c, const struct reg_opts *o)
{
	struct reg_cred *cr = &c->auth.cred;
	int r;

	if (o->username) {
		cr->username = strdup(o->username);
		cr->password = strdup(o->password ? o->password : "");
		return cr->username && cr->password ? 0 : -ENOMEM;
	}
	r = reg_cred_lookup(o->docker_config, c->host, cr);
	if (r < 0)
		return r;
	return reg_auth_ecr_setup(c, o);
}

int reg_client_new(const struct reg_opts *opts, const struct reg_ref *ref, struct reg_client **out)
{
	struct reg_http_opts ho = { 0 };
	struct reg_opts defaults;
	struct reg_client *c;
	size_t n;
	int r;

	if (!ref || !ref->host || !ref->repo)
		return -EINVAL;
	reg_opts_init(&defaults);
	if (!opts)
		opts = &defaults;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	reg_auth_init(&c->auth);
	pthread_mutex_init(&c->redir_lock, NULL);
	c->insecure = opts->insecure;
	c->io_timeout_ms = opts->io_timeout_ms ? opts->io_timeout_ms : 30000;
	c->retries = opts->retries;
	c->host = strdup(ref->host);
	c->repo = strdup(ref->repo);
	n = strlen(ref->repo) + sizeof("repository::pull");
	c->scope = malloc(n);
	if (!c->host || !c->repo || !c->scope) {
		r = -ENOMEM;
		goto out_free;
	}
	snprintf(c->scope, n, "repository:%s:pull", ref->repo);
	ho.ca_file = opts->ca_file;
	ho.insecure = opts->insecure;
	ho.user_agent = opts->user_agent;
	ho.connect_timeout_ms = opts->connect_timeout_ms ? opts->connect_timeout_ms : 10000;
	ho.stall_timeout_ms = stall_ms(c->io_timeout_ms);
	ho.max_parallel = opts->max_parallel ? opts->max_parallel : 8;
	r = reg_http_new(&ho, &c->http);
	if (r < 0)
		goto out_free;
	r = load_creds(c, opts);
	if (r < 0)
		goto out_free;
	r = pick_scheme(c, opts);
	if (r < 0)
		goto out_free;
	*out = c;
	return 0;
out_free:
	reg_client_free(c);
	return r;
}

void reg_client_free(struct reg_client *c)
{
	if (!c)
		return;
	reg_http_free(c->http);
	reg_auth_release(&c->auth);
	reg_redirects_release(c);
	pthread_mutex_destroy(&c->redir_lock);
	free(c->host);
	free(c->repo);
	free(c->scope);
	free(c->base_url);
	free(c->origin);
	free(c);
}

void reg_client_get_stats(struct reg_client *c, struct reg_stats *out)
{
	out->requests = atomic_load(&c->n_requests);
	out->retries = atomic_load(&c->n_retries);
	out->bytes_in = atomic_load(&c->n_bytes_in);
	out->errors = atomic_load(&c->n_errors);
}
