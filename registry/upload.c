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
 * upload starts over in a new one, with backoff, when the failure is worth
 * another try (transport errors, 408/429/5xx): a half-sent body is never
 * continued, so no offset bookkeeping can go wrong.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "registry/upload_int.h"

int reg_pusher_new(const struct reg_opts *opts, const struct reg_ref *ref, struct reg_pusher **out)
{
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
	p->ca_file = opts->ca_file ? strdup(opts->ca_file) : NULL;
	if (!p->c->scope || (opts->ca_file && !p->ca_file)) {
		r = -ENOMEM;
		goto out_free;
	}
	snprintf(p->c->scope, n, "repository:%s:pull,push", ref->repo);
	p->insecure = opts->insecure;
	p->connect_timeout_ms = opts->connect_timeout_ms ? opts->connect_timeout_ms : 10000;
	p->io_timeout_ms = opts->io_timeout_ms ? opts->io_timeout_ms : 30000;
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
	free(p->ca_file);
	free(p);
}

struct reg_client *reg_pusher_client(struct reg_pusher *p)
{
	return p->c;
}

int reg_up_call(struct reg_pusher *p, const struct reg_up_req *req, const char *what,
		struct reg_up_resp *resp)
{
	struct reg_up_req q = *req;
	bool ours = reg_url_is_ours(p->c, req->url);
	char *auth = NULL;
	int r;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (ours) {
			r = reg_auth_header(p->c, &auth);
			if (r < 0)
				return r;
		}
		q.authorization = auth;
		r = reg_up_http(p, &q, resp);
		p->c->n_requests++;
		if (r == 0 && ours && attempt == 0 &&
		    (resp->base.status == 401 || (resp->base.status == 403 && auth)) &&
		    reg_auth_handle(p->c, &resp->base, auth != NULL) == 0) {
			reg_up_resp_release(resp);
			free(auth);
			auth = NULL;
			continue;
		}
		break;
	}
	free(auth);
	if (r < 0) {
		log_err("cannot %s: %s", what, resp->base.error[0] ? resp->base.error : strerror(-r));
		return r;
	}
	if (resp->base.status >= 200 && resp->base.status < 300)
		return 0;
	reg_log_http_error(what, &resp->base);
	return reg_status_to_errno(resp->base.status);
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
static int start_session(struct reg_pusher *p, const char *digest, const char *from, char **sess)
{
	struct reg_up_req req = { .method = "POST" };
	struct reg_up_resp resp;
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
	r = reg_up_call(p, &req, "start a blob upload", &resp);
	if (r == 0 && from && resp.base.status == 201) {
		log_info("mounted '%s' from '%s'", digest, from);
		goto out_resp;
	}
	if (r == 0 && resp.base.status != 202 && resp.base.status != 201) {
		log_err("cannot start a blob upload: HTTP %ld", resp.base.status);
		r = -EIO;
	}
	if (r == 0)
		r = reg_upload_url(u.data, resp.base.location, NULL, sess);
	if (r == -EINVAL)
		log_err("cannot start a blob upload: no usable Location");
out_resp:
	reg_up_resp_release(&resp);
out_release:
	dbuf_release(&u);
	return r;
}

static void cancel_session(struct reg_pusher *p, const char *sess)
{
	struct reg_up_req req = { .method = "DELETE", .url = sess };
	struct reg_up_resp resp;
	bool ours = reg_url_is_ours(p->c, sess);
	char *auth = NULL;

	if (ours && reg_auth_header(p->c, &auth) < 0)
		return;
	req.authorization = auth;
	reg_up_http(p, &req, &resp); /* best effort: registries expire sessions anyway */
	reg_up_resp_release(&resp);
	free(auth);
}

static int check_digest(const struct reg_up_resp *resp, const char *digest)
{
	const char *got = resp->base.docker_digest;

	if (resp->base.status != 201 && resp->base.status != 204 && resp->base.status != 200)
		return -EIO;
	if (got && strcmp(got, digest) != 0) {
		log_err("registry stored blob '%s' as '%s'", digest, got);
		return -EBADMSG;
	}
	return 0;
}

/* PATCH the whole body; the next URL comes back in *next. */
static int patch_body(struct reg_pusher *p, const char *sess, const struct reg_blob_src *src,
		      const struct reg_upload_opts *o, char **next)
{
	struct reg_up_req req = { .method = "PATCH", .url = sess, .src = src,
				  .content_type = "application/octet-stream" };
	struct reg_up_resp resp;
	uint64_t have = 0;
	int r;

	if (o) {
		req.progress = o->progress;
		req.progress_ctx = o->progress_ctx;
	}
	r = reg_up_call(p, &req, "upload a blob", &resp);
	/* ECR answers 201 where distribution answers 202: any 2xx will do */
	if (r == 0 && resp.range && (reg_upload_range_parse(resp.range, &have) < 0 ||
				     have != src->size)) {
		log_err("registry received %s of %llu bytes", resp.range,
			(unsigned long long)src->size);
		r = -EIO;
	}
	if (r == 0)
		r = reg_upload_url(sess, resp.base.location ? resp.base.location : sess, NULL, next);
	reg_up_resp_release(&resp);
	return r;
}

/* The body (PUT, or PATCH + PUT) into session @sess. */
static int send_blob(struct reg_pusher *p, const char *sess, const char *digest,
		     const struct reg_blob_src *src, const struct reg_upload_opts *o)
{
	struct reg_up_req req = { .method = "PUT", .content_type = "application/octet-stream" };
	struct reg_up_resp resp;
	char *next = NULL, *put = NULL;
	int r = 0;

	if (src->size >= REG_MONOLITHIC_MAX) {
		r = patch_body(p, sess, src, o, &next);
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
	r = reg_up_call(p, &req, "finish a blob upload", &resp);
	if (r == 0)
		r = check_digest(&resp, digest);
	reg_up_resp_release(&resp);
out_free:
	free(next);
	free(put);
	return r;
}

static bool worth_retry(int r)
{
	return r == -EAGAIN || r == -ECONNRESET || r == -ETIMEDOUT || r == -EHOSTUNREACH;
}

static void backoff(struct reg_pusher *p, unsigned attempt)
{
	unsigned ms = reg_backoff_ms(attempt, REG_BACKOFF_BASE_MS, REG_BACKOFF_CAP_MS,
				     (uint32_t)rand());
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	p->c->n_retries++;
	nanosleep(&ts, NULL);
}

int reg_blob_upload(struct reg_pusher *p, const char *digest, const struct reg_blob_src *src,
		    const struct reg_upload_opts *o, enum reg_upload_how *how)
{
	const char *from = o ? o->mount_from : NULL;
	bool mount_only = src && src->fd < 0 && !src->buf;
	char *sess = NULL;
	uint64_t size;
	int r;

	if (!p || !digest || !digest_is_valid(digest) || !src || (mount_only && !from))
		return -EINVAL;
	if (reg_blob_head(p->c, digest, &size) == 0 && size == src->size) {
		if (how)
			*how = REG_UPLOAD_EXISTED;
		return 0;
	}
	for (unsigned attempt = 0;; attempt++) {
		r = start_session(p, digest, from, &sess);
		if (mount_only && (r < 0 || sess)) {
			if (sess)
				cancel_session(p, sess);
			free(sess);
			return r < 0 ? r : -ENOENT;
		}
		if (from && (r == -EACCES || r == -ENOENT)) {
			log_info("cannot mount '%s' from '%s': uploading it", digest, from);
			from = NULL;
			r = start_session(p, digest, NULL, &sess);
		}
		if (r == 0 && !sess) {
			if (how)
				*how = REG_UPLOAD_MOUNTED;
			return 0;
		}
		if (r == 0)
			r = send_blob(p, sess, digest, src, o);
		if (r < 0 && sess)
			cancel_session(p, sess);
		free(sess);
		sess = NULL;
		if (r == 0 || !worth_retry(r) || attempt >= p->retries)
			break;
		log_warn("upload of '%s' failed (%s): starting over", digest, strerror(-r));
		backoff(p, attempt);
		from = NULL;
	}
	if (r == 0 && how)
		*how = REG_UPLOAD_SENT;
	return r;
}
