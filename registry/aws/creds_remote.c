/* SPDX-License-Identifier: MIT */
/*
 * The network credential providers: the container endpoint (CodeBuild, ECS
 * task roles, EKS Pod Identity) and EC2 instance metadata (IMDSv2). Both
 * speak plain HTTP to link-local addresses by design, so the hosts they may
 * reach are checked before anything is sent: credentials are only ever
 * fetched from the addresses the AWS SDKs allow.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/fdio.h"
#include "common/log.h"
#include "common/secret.h"
#include "registry/aws/aws_int.h"
#include "registry/retry_int.h"

#define CONTAINER_DEFAULT_BASE "http://169.254.170.2"
#define IMDS_DEFAULT_BASE "http://169.254.169.254"
#define IMDS_TIMEOUT_MS 2000
#define MAX_AUTH_TOKEN 4096

static unsigned timeout_of(const struct reg_aws_opts *o)
{
	return o->timeout_ms ? o->timeout_ms : REG_AWS_DEFAULT_TIMEOUT_MS;
}

/* The SDKs' rule for AWS_CONTAINER_CREDENTIALS_FULL_URI. */
static bool container_host_allowed(const struct reg_aws_url *u)
{
	if (strcmp(u->scheme, "https") == 0)
		return true;
	return reg_aws_host_is_loopback(u->host) || strcmp(u->host, "169.254.170.2") == 0 ||
	       strcmp(u->host, "169.254.170.23") == 0 || strcasecmp(u->host, "fd00:ec2::23") == 0;
}

/* "Authorization: <token>" from _TOKEN_FILE (re-read each time) or _TOKEN; "" if none. */
static int container_auth(char *hdr, size_t n)
{
	const char *file = reg_aws_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	const char *tok = reg_aws_env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
	struct dbuf b;
	int r = 0, w;

	hdr[0] = '\0';
	dbuf_init(&b, MAX_AUTH_TOKEN);
	if (file) {
		r = file_read_dbuf(file, &b);
		if (r < 0) {
			log_err("cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE '%s': %s", file,
				strerror(-r));
			secret_dbuf_release(&b);
			return r;
		}
		while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
			b.data[--b.len] = '\0';
		tok = b.data ? b.data : "";
	}
	if (tok && strpbrk(tok, "\r\n")) {
		r = -EBADMSG; /* header injection */
	} else if (tok) {
		w = snprintf(hdr, n, "Authorization: %s", tok);
		r = w < 0 || (size_t)w >= n ? -EFBIG : 0;
	}
	secret_dbuf_release(&b);
	return r;
}

static int container_url(char *url, size_t n)
{
	const char *rel = reg_aws_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
	const char *full = reg_aws_env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
	const char *base = reg_aws_env("STRATAFS_AWS_CONTAINER_HOST");
	struct reg_aws_url u;
	int w;

	if (rel) {
		w = snprintf(url, n, "%s%s%s", base ? base : CONTAINER_DEFAULT_BASE,
			     rel[0] == '/' ? "" : "/", rel);
		if (w < 0 || (size_t)w >= n)
			return -ENAMETOOLONG;
	} else if (full) {
		if (reg_aws_strlcpy(url, full, n) < 0)
			return -ENAMETOOLONG;
	} else {
		return -ENOENT;
	}
	if (reg_aws_url_split(url, &u) < 0 || !container_host_allowed(&u)) {
		log_err("refusing to fetch AWS credentials from '%s': only https, loopback, "
			"169.254.170.2, 169.254.170.23 and fd00:ec2::23 are allowed", url);
		return -EACCES;
	}
	return 0;
}

struct container_job {
	const struct reg_aws_opts *o;
	const char *url;
	struct reg_aws_creds *out;
};

static int container_once(void *ctx, struct reg_attempt *a)
{
	struct container_job *j = ctx;
	char auth[MAX_AUTH_TOKEN + 32];
	const char *hdrs[1] = { auth };
	struct reg_aws_http_req req = {
		.method = "GET", .url = j->url, .headers = hdrs, .ca_file = j->o->ca_file,
		.timeout_ms = timeout_of(j->o), .max_body = REG_AWS_MAX_RESPONSE,
	};
	struct reg_aws_http_resp resp;
	int r;

	r = container_auth(auth, sizeof(auth)); /* re-read each time: the file may rotate */
	if (r < 0)
		return r;
	req.n_headers = *auth ? 1 : 0;
	reg_aws_http_resp_init(&resp, REG_AWS_MAX_RESPONSE);
	r = reg_aws_http_do(&req, &resp);
	explicit_bzero(auth, sizeof(auth));
	if (r < 0) {
		log_err("cannot reach the AWS container credentials endpoint '%s': %s", j->url,
			resp.error);
		goto out_release;
	}
	if (resp.status != 200) {
		log_err("AWS container credentials endpoint '%s': HTTP %ld", j->url, resp.status);
		reg_aws_attempt_saw(a, &resp);
		r = resp.status == 401 || resp.status == 403 ? -EACCES
		    : resp.status >= 500 || resp.status == 429 ? -EAGAIN : -EIO;
		goto out_release;
	}
	r = reg_aws_creds_parse_json(resp.body.data ? resp.body.data : "", resp.body.len,
				     "container", j->out);
out_release:
	reg_aws_http_resp_release(&resp);
	return r;
}

int reg_aws_creds_from_container(const struct reg_aws_opts *o, struct reg_aws_creds *out)
{
	char url[REG_AWS_MAX_URL];
	struct container_job j = { .o = o, .url = url, .out = out };
	struct reg_retry_policy pol = { .what = "the AWS container credentials endpoint",
					.retries = 2, .base_ms = REG_AWS_BACKOFF_BASE_MS,
					.cap_ms = REG_AWS_BACKOFF_CAP_MS };
	int r;

	r = container_url(url, sizeof(url));
	if (r < 0)
		return r;
	return reg_retry_run(&pol, container_once, &j);
}

/* ---- IMDSv2 ---------------------------------------------------------------- */

static int imds_call(const char *method, const char *url, const char *hdr, const char *ca,
		     struct reg_aws_http_resp *resp)
{
	const char *hdrs[1] = { hdr };
	struct reg_aws_http_req req = {
		.method = method, .url = url, .headers = hdrs, .n_headers = 1, .ca_file = ca,
		.timeout_ms = IMDS_TIMEOUT_MS, .connect_timeout_ms = 1000,
		.max_body = REG_AWS_MAX_RESPONSE,
	};
	int r;

	reg_aws_http_resp_init(resp, REG_AWS_MAX_RESPONSE);
	r = reg_aws_http_do(&req, resp);
	if (r < 0)
		return r;
	if (resp->status == 404)
		return -ENOENT;
	return resp->status == 200 && resp->body.data ? 0 : -EIO;
}

static int imds_base(char *base, size_t n)
{
	const char *v = reg_aws_env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	size_t l;

	if (reg_aws_strlcpy(base, v ? v : IMDS_DEFAULT_BASE, n) < 0)
		return -ENAMETOOLONG;
	l = strlen(base);
	while (l && base[l - 1] == '/')
		base[--l] = '\0';
	return 0;
}

/* The IMDS session token header, "X-aws-ec2-metadata-token: <t>". */
static int imds_token(const char *base, const struct reg_aws_opts *o, char *hdr, size_t n)
{
	struct reg_aws_http_resp resp;
	char url[REG_AWS_MAX_URL];
	int r, w;

	snprintf(url, sizeof(url), "%s/latest/api/token", base);
	r = imds_call("PUT", url, "X-aws-ec2-metadata-token-ttl-seconds: 21600", o->ca_file,
		      &resp);
	if (r == 0 && strpbrk(resp.body.data, "\r\n"))
		r = -EBADMSG;
	if (r == 0) {
		w = snprintf(hdr, n, "X-aws-ec2-metadata-token: %s", resp.body.data);
		r = w < 0 || (size_t)w >= n ? -EFBIG : 0;
	}
	reg_aws_http_resp_release(&resp);
	return r;
}

int reg_aws_imds_role_parse(char *body, char *role, size_t n)
{
	body[strcspn(body, "\r\n")] = '\0';
	if (!*body || strchr(body, '/') || reg_aws_strlcpy(role, body, n) < 0)
		return -EBADMSG;
	return 0;
}

static int imds_role(const char *base, const char *tok, const struct reg_aws_opts *o,
		     char *role, size_t n)
{
	struct reg_aws_http_resp resp;
	char url[REG_AWS_MAX_URL];
	int r;

	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/", base);
	r = imds_call("GET", url, tok, o->ca_file, &resp);
	if (r == 0)
		r = reg_aws_imds_role_parse(resp.body.data, role, n);
	reg_aws_http_resp_release(&resp);
	return r;
}

int reg_aws_creds_from_imds(const struct reg_aws_opts *o, struct reg_aws_creds *out)
{
	char base[REG_AWS_MAX_URL / 2], tok[512], role[256], url[REG_AWS_MAX_URL];
	struct reg_aws_http_resp resp;
	int r;

	r = imds_base(base, sizeof(base));
	if (r < 0)
		return r;
	r = imds_token(base, o, tok, sizeof(tok));
	if (r == 0)
		r = imds_role(base, tok, o, role, sizeof(role));
	if (r < 0) {
		log_debug("aws: no instance metadata credentials at '%s' (%s)", base, strerror(-r));
		explicit_bzero(tok, sizeof(tok));
		return -ENOENT;
	}
	snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/%s", base, role);
	r = imds_call("GET", url, tok, o->ca_file, &resp);
	explicit_bzero(tok, sizeof(tok));
	if (r == 0)
		r = reg_aws_creds_parse_json(resp.body.data, resp.body.len, "imds", out);
	else
		log_err("cannot read instance role '%s' credentials from '%s': %s", role, base,
			strerror(-r));
	reg_aws_http_resp_release(&resp);
	return r;
}
