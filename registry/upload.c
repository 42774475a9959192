/* SPDX-License-Identifier: MIT */
/*
 * Blob uploads (OCI distribution spec, "Pushing Blobs"; docs/ecr.md for
 * ECR's S3 side). HEAD first: a blob the registry
 * has is never sent again. Then a session (POST, or a cross-repository
 * mount that may finish the job at once), and the body in one request:
 * a monolithic PUT ?digest= below REG_MONOLITHIC_MAX, else one streamed
 * PATCH (no Content-Range: ECR refuses parts under 5 MiB and mis-tracks
 * multi-PATCH offsets) and a PUT ?digest= with no body. Each next URL is
 * the Location of the last answer, resolved against the request URL, with
 * the digest added to its query (distribution's Location carries _state).
 *
 * A session that fails is cancelled (DELETE, errors ignored) and the whole
 * upload starts over in a new one under the retry driver (retry_int.h:
 * transport errors, HTTP/2 stream resets included, and 408/429/5xx, after
 * the server's Retry-After when it gives one): a half-sent body is never
 * continued, so no offset bookkeeping can go wrong.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/secret.h"
#include "registry/upload_int.h"

int reg_pusher_new(const struct reg_opts *opts, const struct reg_ref *ref, struct reg_pusher **out)
{
	struct reg_http_opts ho = { .fresh_handles = true, .stall_timeout_ms = REG_UPLOAD_STALL_MS };
	struct reg_pusher *p;
	size_t n;
	int r;

	if (!opts || !ref || !out)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	r = reg_client_new(opts, ref, &p->c);
	if (r < 0)
		goto out_free;
	/* the client asks tokens for c->scope: widen it before any request is made */
	n = strlen(ref->repo) + sizeof("repository::pull,push");
	free(p->c->scope);
	p->c->scope = malloc(n);
	if (!p->c->scope) {
		r = -ENOMEM;
		goto out_free;
	}
	snprintf(p->c->scope, n, "repository:%s:pull,push", ref->repo);
	ho.ca_file = opts->ca_file;
	ho.insecure = opts->insecure;
	ho.user_agent = opts->user_agent;
	ho.connect_timeout_ms = opts->connect_timeout_ms;
	r = reg_http_new(&ho, &p->http);
	if (r < 0)
		goto out_free;
	p->retries = opts->retries;
	*out = p;
	return 0;
out_free:
	reg_pusher_free(p);
	return r;
}

void reg_pusher_free(struct reg_pusher *p)
{
	if (!p)
		return;
	reg_client_free(p->c);
	reg_http_free(p->http);
	free(p);
}

struct reg_client *reg_pusher_client(struct reg_pusher *p)
{
	return p->c;
}

int reg_up_call(struct reg_pusher *p, const struct reg_http_req *req, const char *what,
		struct reg_http_resp *resp, struct reg_attempt *a)
{
	struct reg_http_req q = *req;
	bool ours = reg_url_is_ours(p->c, req->url);
	char *auth = NULL;
	int r;

	memset(resp, 0, sizeof(*resp)); /* released by the caller whatever happens */
	/* the second pass only after a 401 gave us a fresh token (not a retry) */
	for (int pass = 0; pass < 2; pass++) {
		if (ours) {
			r = reg_auth_header(p->c, &auth);
			if (r < 0)
				return r;
		}
		q.authorization = auth;
		atomic_fetch_add(&p->c->n_requests, 1);
		r = reg_http_perform(p->http, &q, resp);
		if (r == 0 && ours && pass == 0 &&
		    (resp->status == 401 || (resp->status == 403 && auth)) &&
		    reg_auth_handle(p->c, resp, auth) == 0) {
			reg_http_resp_release(resp);
			secret_free_str(auth);
			auth = NULL;
			continue;
		}
		break;
	}
	secret_free_str(auth);
	if (r < 0) {
		log_err("cannot %s: %s", what, resp->error[0] ? resp->error : strerror(-r));
		return r;
	}
	if (resp->status >= 200 && resp->status < 300)
		return 0;
	if (a)
		reg_attempt_saw(a, resp);
	reg_log_http_error(what, resp);
	return reg_status_to_errno(resp->status);
}

int reg_upload_url(const char *base, const char *loc, const char *digest, char **out)
{
	struct dbuf b;
	char *abs = NULL;
	int r;

	if (!loc || !*loc || strlen(loc) > REG_MAX_HEADER_VALUE || strpbrk(loc, " \r\n"))
		return -EINVAL;
	r = reg_url_resolve(base, loc, &abs);
	if (r < 0 || !digest) {
		if (r == 0)
			*out = abs;
		return r;
	}
	dbuf_init(&b, 2 * REG_MAX_HEADER_VALUE);
	/* add to the existing query; a fragment cannot come back from a server */
	r = dbuf_add(&b, abs, strcspn(abs, "#"));
	if (r == 0)
		r = dbuf_add_str(&b, strchr(b.data, '?') ? "&digest=" : "?digest=");
	if (r == 0)
		r = reg_url_escape(&b, digest);
	free(abs);
	if (r == 0) {
		*out = dbuf_take(&b, NULL);
		r = *out ? 0 : -ENOMEM;
	}
	dbuf_release(&b);
	return r;
}

int reg_upload_range_parse(const char *s, uint64_t *next)
{
	uint64_t end = 0;
	size_t digits = 0;

	if (!s)
		return -EINVAL;
	if (strncmp(s, "bytes=", 6) == 0)
		s += 6;
	if (s[0] != '0' || s[1] != '-')
		return -EINVAL;
	for (s += 2; *s >= '0' && *s <= '9'; s++, digits++) {
		if (digits >= 19)
			return -EINVAL; /* past 2^63: nobody uploaded that */
		end = end * 10 + (uint64_t)(*s - '0');
	}
	if (digits == 0 || *s)
		return -EINVAL;
	*next = end + 1;
	return 0;
}

/* POST a session (with a mount first when asked). *sess: the session URL, NULL when mounted. */
static int start_session(struct reg_pusher *p, const char *digest, const char *from, char **sess,
			 struct reg_attempt *a)
{
	struct reg_http_req req = { .method = "POST" };
	struct reg_http_resp resp;
	struct dbuf u;
	int r;

	*sess = NULL;
	dbuf_init(&u, 4096);
	r = dbuf_printf(&u, "%s/v2/%s/blobs/uploads/", p->c->base_url, p->c->repo);
	if (r == 0 && from && (r = dbuf_add_str(&u, "?mount=")) == 0 &&
	    (r = reg_url_escape(&u, digest)) == 0 && (r = dbuf_add_str(&u, "&from=")) == 0)
		r = reg_url_escape(&u, from);
	if (r < 0)
		goto out_release;
	req.url = u.data;
	r = reg_up_call(p, &req, "start a blob upload", &resp, a);
	if (r == 0 && from && resp.status == 201) {
		log_info("mounted '%s' from '%s'", digest, from);
		goto out_resp;
	}
	if (r == 0 && resp.status != 202 && resp.status != 201) {
		log_err("cannot start a blob upload: HTTP %ld", resp.status);
		r = -EIO;
	}
	if (r == 0)
		r = reg_upload_url(u.data, resp.location, NULL, sess);
	if (r == -EINVAL)
		log_err("cannot start a blob upload: no usable Location");
out_resp:
	reg_http_resp_release(&resp);
out_release:
	dbuf_release(&u);
	return r;
}

static void cancel_session(struct reg_pusher *p, const char *sess)
{
	struct reg_http_req req = { .method = "DELETE", .url = sess };
	struct reg_http_resp resp;
	bool ours = reg_url_is_ours(p->c, sess);
	char *auth = NULL;

	if (ours && reg_auth_header(p->c, &auth) < 0)
		return;
	req.authorization = auth;
	reg_http_perform(p->http, &req, &resp); /* best effort: registries expire sessions anyway */
	reg_http_resp_release(&resp);
	secret_free_str(auth);
}

static int check_digest(const struct reg_http_resp *resp, const char *digest)
{
	const char *got = resp->docker_digest;

	if (resp->status != 201 && resp->status != 204 && resp->status != 200)
		return -EIO;
	if (got && strcmp(got, digest) != 0) {
		log_err("registry stored blob '%s' as '%s'", digest, got);
		return -EBADMSG;
	}
	return 0;
}

/* PATCH the whole body; the next URL comes back in *next. */
static int patch_body(struct reg_pusher *p, const char *sess, const struct reg_blob_src *src,
		      const struct reg_upload_opts *o, char **next, struct reg_attempt *a)
{
	struct reg_http_req req = { .method = "PATCH", .url = sess, .src = src,
				  .content_type = "application/octet-stream" };
	struct reg_http_resp resp;
	uint64_t have = 0;
	int r;

	if (o) {
		req.progress = o->progress;
		req.progress_ctx = o->progress_ctx;
	}
	r = reg_up_call(p, &req, "upload a blob", &resp, a);
	/* ECR answers 201 where distribution answers 202: any 2xx will do */
	if (r == 0 && resp.range && (reg_upload_range_parse(resp.range, &have) < 0 ||
				     have != src->size)) {
		log_err("registry received %s of %llu bytes", resp.range,
			(unsigned long long)src->size);
		r = -EIO;
	}
	if (r == 0)
		r = reg_upload_url(sess, resp.location ? resp.location : sess, NULL, next);
	reg_http_resp_release(&resp);
	return r;
}

/* The body (PUT, or PATCH + PUT) into session @sess. */
static int send_blob(struct reg_pusher *p, const char *sess, const char *digest,
		     const struct reg_blob_src *src, const struct reg_upload_opts *o,
		     struct reg_attempt *a)
{
	struct reg_http_req req = { .method = "PUT", .content_type = "application/octet-stream" };
	struct reg_http_resp resp;
	char *next = NULL, *put = NULL;
	int r = 0;

	if (src->size >= REG_MONOLITHIC_MAX) {
		r = patch_body(p, sess, src, o, &next, a);
	} else {
		req.src = src;
		if (o) {
			req.progress = o->progress;
			req.progress_ctx = o->progress_ctx;
		}
	}
	if (r == 0)
		r = reg_upload_url(sess, next ? next : sess, digest, &put);
	if (r < 0)
		goto out_free;
	req.url = put;
	r = reg_up_call(p, &req, "finish a blob upload", &resp, a);
	if (r == 0)
		r = check_digest(&resp, digest);
	reg_http_resp_release(&resp);
out_free:
	free(next);
	free(put);
	return r;
}

struct blob_job {
	struct reg_pusher *p;
	const char *digest;
	const struct reg_blob_src *src;
	const struct reg_upload_opts *o;
	const char *from;      /* mount source; dropped after the first attempt */
	bool mount_only;
	enum reg_upload_how how;
};

/* One attempt: a session (or a mount), the body, the digest check. */
static int blob_attempt(void *ctx, struct reg_attempt *a)
{
	struct blob_job *j = ctx;
	struct reg_pusher *p = j->p;
	char *sess = NULL;
	int r;

	if (a->n > 0) {
		log_warn("upload of '%s' failed: starting over", j->digest);
		j->from = NULL;
	}
	r = start_session(p, j->digest, j->from, &sess, a);
	if (j->mount_only && (r < 0 || sess)) {
		if (sess)
			cancel_session(p, sess);
		free(sess);
		a->final = true; /* nothing to send: never retried */
		return r < 0 ? r : -ENOENT;
	}
	if (j->from && (r == -EACCES || r == -ENOENT)) {
		log_info("cannot mount '%s' from '%s': uploading it", j->digest, j->from);
		j->from = NULL;
		*a = (struct reg_attempt){ .n = a->n, .deadline_ns = a->deadline_ns };
		r = start_session(p, j->digest, NULL, &sess, a);
	}
	if (r == 0 && !sess) {
		j->how = REG_UPLOAD_MOUNTED;
		return 0;
	}
	if (r == 0)
		r = send_blob(p, sess, j->digest, j->src, j->o, a);
	if (r < 0 && sess)
		cancel_session(p, sess);
	free(sess);
	return r;
}

int reg_blob_upload(struct reg_pusher *p, const char *digest, const struct reg_blob_src *src,
		    const struct reg_upload_opts *o, enum reg_upload_how *how)
{
	struct blob_job j = { .p = p, .digest = digest, .src = src, .o = o,
			      .how = REG_UPLOAD_SENT };
	struct reg_retry_policy pol;
	uint64_t size;
	char what[DIGEST_STR_LEN + 16];
	int r;

	if (!p || !digest || !digest_is_valid(digest) || !src)
		return -EINVAL;
	j.from = o ? o->mount_from : NULL;
	j.mount_only = src->fd < 0 && !src->buf;
	if (j.mount_only && !j.from)
		return -EINVAL;
	if (reg_blob_head(p->c, digest, &size) == 0 && size == src->size) {
		if (how)
			*how = REG_UPLOAD_EXISTED;
		return 0;
	}
	snprintf(what, sizeof(what), "blob '%s'", digest);
	pol = (struct reg_retry_policy){ .what = what, .retries = p->retries,
					 .n_retries = &p->c->n_retries };
	r = reg_retry_run(&pol, blob_attempt, &j);
	if (r == 0 && how)
		*how = j.how;
	return r;
}
