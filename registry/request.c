/* SPDX-License-Identifier: MIT */
/*
 * Requests to the registry: one attempt (auth, a 401 answered with a fresh
 * token, manual redirects), run by the retry driver (retry.c).
 *
 * Credentials go only to the registry's own origin (scheme, host and port
 * all equal). A redirect elsewhere (ECR -> S3 presigned URL) is followed
 * without Authorization, with the Range kept. A blob's redirect target is
 * cached (redirect.c) and tried first on the next read of that blob; a
 * 400/403/404 from it sends us back to the registry for a fresh one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/secret.h"
#include "registry/registry_int.h"

int reg_client_url(const struct reg_client *c, const char *kind, const char *ref, char **out)
{
	struct dbuf b;
	int r;

	dbuf_init(&b, 8192);
	r = dbuf_printf(&b, "%s/v2/%s/%s/%s", c->base_url, c->repo, kind, ref);
	if (r < 0) {
		dbuf_release(&b);
		return r;
	}
	*out = dbuf_take(&b, NULL);
	return *out ? 0 : -ENOMEM;
}

bool reg_url_is_ours(const struct reg_client *c, const char *url)
{
	char *o = NULL;
	bool same;

	if (reg_url_origin(url, &o) < 0)
		return false;
	same = strcmp(o, c->origin) == 0;
	free(o);
	return same;
}

static bool is_redirect(long st)
{
	return st == 301 || st == 302 || st == 303 || st == 307 || st == 308;
}

/* @sent_auth (may be NULL) receives the Authorization value sent, or NULL; free with secret_free_str(). */
static int send_one(struct reg_client *c, const struct reg_call *call, const char *url,
		    uint64_t deadline_ns, struct reg_http_resp *resp, char **sent_auth)
{
	struct reg_http_req req = {
		.method = call->method, .url = url, .accept = call->accept,
		.has_range = call->has_range, .range_start = call->range_start,
		.range_len = call->range_len, .body = call->body, .sink = call->sink,
		.sink_ctx = call->sink_ctx,
	};
	char *authz = NULL;
	int r;

	if (reg_url_is_ours(c, url)) {
		r = reg_auth_header(c, &authz);
		if (r < 0)
			return r;
	}
	req.authorization = authz;
	if (call->bounded && deadline_ns) {
		uint64_t left = deadline_left_ns(deadline_ns) / NS_PER_MS;

		req.timeout_ms = left > UINT32_MAX ? UINT32_MAX : left ? (unsigned)left : 1;
	}
	if (call->body)
		dbuf_reset(call->body);
	atomic_fetch_add(&c->n_requests, 1);
	r = reg_http_perform(c->http, &req, resp);
	atomic_fetch_add(&c->n_bytes_in, resp->delivered);
	if (sent_auth)
		*sent_auth = authz;
	else
		secret_free_str(authz);
	return r;
}

/* The cached presigned URL of a blob, if any: 1 when it answered for good. */
static int try_cached(struct reg_client *c, const struct reg_call *call, uint64_t deadline_ns,
		      struct reg_http_resp *resp)
{
	char *url = NULL;
	int r;

	if (!call->blob || reg_redirect_get(c, call->blob, &url) < 0)
		return 0;
	r = send_one(c, call, url, deadline_ns, resp, NULL);
	free(url);
	if (r < 0)
		return r;
	if (resp->status == 400 || resp->status == 401 || resp->status == 403 ||
	    resp->status == 404 || resp->status == 410) {
		log_info("redirect target of blob '%s' answered HTTP %ld: resolving it again",
			 call->blob, resp->status);
		reg_redirect_drop(c, call->blob);
		reg_http_resp_release(resp);
		return 0;
	}
	return 1;
}

/* One attempt at @call (see reg_request); returns like reg_http_perform. */
static int request_once(struct reg_client *c, const struct reg_call *call, uint64_t deadline_ns,
			struct reg_http_resp *resp)
{
	char *url = NULL, *sent_auth = NULL;
	bool auth_retried = false;
	int hops = 0, r;

	r = try_cached(c, call, deadline_ns, resp);
	if (r != 0)
		return r < 0 ? r : 0;
	url = strdup(call->url);
	if (!url)
		return -ENOMEM;
	for (;;) {
		bool ours = reg_url_is_ours(c, url);
		long st;
		char *next = NULL;

		secret_free_str(sent_auth);
		sent_auth = NULL;
		r = send_one(c, call, url, deadline_ns, resp, &sent_auth);
		if (r < 0)
			break;
		st = resp->status;
		if (ours && !auth_retried &&
		    (st == 401 || (st == 403 && sent_auth && resp->n_challenges == 0))) {
			auth_retried = true;
			if (reg_auth_handle(c, resp, sent_auth) == 0) {
				reg_http_resp_release(resp);
				continue;
			}
			break;
		}
		if (!is_redirect(st) || !resp->location)
			break;
		if (++hops > REG_MAX_REDIRECTS) {
			log_err("cannot fetch %s: too many redirects", call->what);
			r = -EIO;
			break;
		}
		r = reg_url_resolve(url, resp->location, &next);
		if (r < 0) {
			log_err("cannot fetch %s: bad redirect location", call->what);
			r = -EBADMSG;
			break;
		}
		log_debug("%s redirected to another %s", call->what,
			  reg_url_is_ours(c, next) ? "path" : "origin (credentials dropped)");
		free(url);
		url = next;
		if (call->blob && !reg_url_is_ours(c, url))
			reg_redirect_put(c, call->blob, url);
		reg_http_resp_release(resp);
	}
	secret_free_str(sent_auth);
	free(url);
	return r;
}

/* Warning: 299 - "text" (distribution-spec: show it, never act on it). */
static void show_warning(const struct reg_call *call, const struct reg_http_resp *resp)
{
	const char *w = resp->warning, *q;

	if (!w || strncmp(w, "299 ", 4) != 0)
		return;
	q = strchr(w, '"');
	if (q)
		log_warn("registry warning for %s: %.*s", call->what, (int)strcspn(q + 1, "\""),
			 q + 1);
}

static int finish(struct reg_client *c, const struct reg_call *call, int r,
		  struct reg_http_resp *resp)
{
	long st = resp->status;

	if (r == 0)
		show_warning(call, resp);

	if (r < 0) {
		log_err("cannot fetch %s: %s", call->what, resp->error[0] ? resp->error : strerror(-r));
		atomic_fetch_add(&c->n_errors, 1);
		return r == -ECONNRESET ? -EIO : r;
	}
	if (st >= 200 && st <= 299)
		return 0;
	if (st == 416) {
		/* the caller knows what a range beyond the end means: it decides */
		log_debug("%s: HTTP 416 (range not satisfiable)", call->what);
		return -ERANGE;
	}
	if (st == 404 && call->quiet_404) {
		log_debug("%s: HTTP 404", call->what);
		return -ENOENT;
	}
	reg_log_http_error(call->what, resp);
	atomic_fetch_add(&c->n_errors, 1);
	return reg_status_to_errno(st);
}

struct read_job {
	struct reg_client *c;
	struct reg_call *call;
	struct reg_http_resp *resp;
};

static int read_attempt(void *ctx, struct reg_attempt *a)
{
	struct read_job *j = ctx;
	struct reg_call *call = j->call;
	int r;

	if (a->n > 0)
		reg_http_resp_release(j->resp);
	r = request_once(j->c, call, a->deadline_ns, j->resp);
	if (r == 0)
		reg_attempt_saw(a, j->resp);
	a->why = j->resp->error;
	if (call->range_len && j->resp->delivered >= call->range_len)
		return 0; /* all asked for arrived; a range_len of 0 would mean "to the end" */
	if (call->resume && j->resp->delivered > 0) {
		/* a next attempt continues where this one stopped */
		a->progressed = true;
		call->has_range = true;
		call->range_start += j->resp->delivered;
		if (call->range_len)
			call->range_len -= j->resp->delivered;
	}
	return r;
}

int reg_request(struct reg_client *c, struct reg_call *call, struct reg_http_resp *resp)
{
	struct read_job j = { .c = c, .call = call, .resp = resp };
	struct reg_retry_policy pol = {
		.what = call->what, .retries = c->retries, .budget_ms = c->io_timeout_ms,
		/* a stream that moves is not timed out: only stalls are */
		.progress_renews = !call->bounded, .n_retries = &c->n_retries,
	};
	int r;

	r = reg_retry_run(&pol, read_attempt, &j);
	return finish(c, call, r, resp);
}
