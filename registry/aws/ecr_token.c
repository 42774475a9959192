/* SPDX-License-Identifier: MIT */
/*
 * ECR GetAuthorizationToken (the ECR API reference; docs/ecr.md): an AWS JSON 1.1 POST,
 * SigV4-signed for service "ecr", retried with backoff + jitter while
 * throttled. The answer is a base64 "AWS:<password>" good for 12 hours.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/base64.h"
#include "common/log.h"
#include "common/secret.h"
#include "registry/aws/aws_int.h"
#include "registry/retry_int.h"

#define ECR_TARGET "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken"
#define ECR_MAX_TOKEN (64u << 10)
/* One header line: the session token (up to REG_AWS_MAX_SESSION_TOKEN) is the longest. */
#define LINE_MAX_LEN (REG_AWS_MAX_SESSION_TOKEN + 64)
#define N_LINES 5

struct lines {
	char l[N_LINES][LINE_MAX_LEN];
};

static bool type_is(const char *t, const char *const *list)
{
	for (; *list; list++)
		if (strncasecmp(t, *list, strlen(*list)) == 0)
			return true;
	return false;
}

/* The short error type: header "Type:uri" or body __type "prefix#Type". */
static void error_type(const char *hdr, const char *body, size_t len, char *out, size_t n)
{
	json_t *root = NULL, *t;
	const char *s = NULL, *h;

	out[0] = '\0';
	if (hdr && *hdr) {
		s = hdr;
	} else if (body && len) {
		root = json_loadb(body, len, 0, NULL);
		t = root ? json_object_get(root, "__type") : NULL;
		if (!t && root)
			t = json_object_get(root, "code");
		s = json_is_string(t) ? json_string_value(t) : NULL;
	}
	if (s) {
		h = strrchr(s, '#');
		if (h)
			s = h + 1;
		snprintf(out, n, "%.*s", (int)strcspn(s, ":"), s);
	}
	json_decref(root);
}

int reg_aws_error_map(long status, const char *hdr_type, const char *body, size_t len,
		      char *type_out, size_t type_n)
{
	static const char *const denied[] = {
		"AccessDenied", "UnrecognizedClient", "InvalidSignature", "SignatureDoesNotMatch",
		"ExpiredToken", "InvalidClientTokenId", "MissingAuthenticationToken",
		"IncompleteSignature", "NotAuthorized", NULL,
	};
	static const char *const throttled[] = {
		"Throttling", "TooManyRequests", "RequestLimitExceeded", "ProvisionedThroughput",
		"RequestThrottled", "SlowDown", "ServiceUnavailable", "ServerException",
		"InternalFailure", NULL,
	};
	char t[128];

	error_type(hdr_type, body, len, t, sizeof(t));
	if (type_out)
		snprintf(type_out, type_n, "%s", t);
	if (*t && type_is(t, denied))
		return -EACCES;
	if ((*t && type_is(t, throttled)) || status == 429 || status >= 500)
		return -EAGAIN;
	if (status == 401 || status == 403)
		return -EACCES;
	return status == 400 ? -EINVAL : -EIO;
}

int reg_ecr_token_parse(const char *json, size_t len, char **basic_token, time_t *expires_at)
{
	json_t *root, *d, *tok, *exp;
	char *user = NULL, *pw = NULL;
	double e;
	int r = -EBADMSG;

	root = json_loadb(json, len, 0, NULL);
	d = json_array_get(json_object_get(root, "authorizationData"), 0);
	tok = json_object_get(d, "authorizationToken");
	exp = json_object_get(d, "expiresAt");
	if (!json_is_string(tok) || !json_is_number(exp))
		goto out_decref;
	e = json_number_value(exp);
	if (!isfinite(e) || e < 1e9 || e > 1e11 || json_string_length(tok) > ECR_MAX_TOKEN)
		goto out_decref;
	r = reg_ecr_token_decode(json_string_value(tok), &user, &pw);
	if (r < 0)
		goto out_decref;
	*basic_token = strdup(json_string_value(tok));
	r = *basic_token ? 0 : -ENOMEM;
	*expires_at = (time_t)e;
out_decref:
	free(user);
	secret_free_str(pw);
	json_decref(root);
	return r;
}

int reg_ecr_token_decode(const char *basic_token, char **user, char **password)
{
	size_t n = strlen(basic_token), cap = b64_decoded_max(n) + 1;
	char *raw, *colon, *u, *p;
	ssize_t len;

	if (n == 0 || n > ECR_MAX_TOKEN)
		return -EBADMSG;
	raw = malloc(cap);
	if (!raw)
		return -ENOMEM;
	len = b64_decode(basic_token, n, raw, cap - 1, B64_PADDED);
	if (len >= 0)
		raw[len] = '\0';
	colon = len > 0 ? memchr(raw, ':', (size_t)len) : NULL;
	if (!colon || colon == raw || strlen(raw) != (size_t)len) {
		secret_free(raw, cap);
		return -EBADMSG;
	}
	*colon = '\0';
	u = strdup(raw);
	p = strdup(colon + 1);
	secret_free(raw, cap);
	if (!u || !p) {
		free(u);
		free(p);
		return -ENOMEM;
	}
	*user = u;
	*password = p;
	return 0;
}

struct call {
	const struct reg_aws_opts *o;
	const struct reg_ecr_host *h;
	const struct reg_aws_creds *cr;
	struct reg_aws_url u;
	const char *url;
	char body[64];
	time_t skew;      /* server clock - ours, once a refusal showed it matters */
	bool skew_tried;
};

#define MAX_SKEW_S 240 /* AWS refuses signatures more than 5 min off */

/* The server's clock from its Date header (RFC 9110 IMF-fixdate). */
static bool server_time(const char *date, time_t *out)
{
	struct tm tm = { 0 };
	const char *end;

	if (!*date)
		return false;
	end = strptime(date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end || *end)
		return false;
	*out = timegm(&tm);
	return *out != (time_t)-1;
}

/*
 * After a refused signature: if the server's clock is more than MAX_SKEW_S
 * away from ours, sign with its time from now on and say so (-ESTALE:
 * "retry at once"), once per call.
 */
static int check_skew(struct call *c, const struct reg_aws_http_resp *resp)
{
	time_t now = time(NULL), srv;

	if (c->skew_tried || !server_time(resp->date, &srv))
		return -EACCES;
	if (srv - now <= MAX_SKEW_S && now - srv <= MAX_SKEW_S)
		return -EACCES;
	c->skew_tried = true;
	c->skew = srv - now;
	log_warn("this machine's clock is %lld s off the ECR API's; signing with the API's time",
		 (long long)c->skew);
	return -ESTALE;
}

/* Header lines for curl plus the same headers for the signer. */
static int build_headers(struct call *c, const char *amz_date, struct lines *lines,
			 size_t *n_lines)
{
	struct reg_sigv4_header sh[5] = {
		{ "Content-Type", "application/x-amz-json-1.1" },
		{ "Host", c->u.authority },
		{ "X-Amz-Date", amz_date },
		{ "X-Amz-Target", ECR_TARGET },
		{ "X-Amz-Security-Token", c->cr->session_token },
	};
	size_t n = *c->cr->session_token ? 5 : 4, i;
	struct reg_sigv4_req req = {
		.method = "POST", .path = c->u.path, .query = c->u.query, .headers = sh,
		.n_headers = n, .payload = c->body, .payload_len = strlen(c->body),
		.normalize_path = true,
	};
	struct reg_sigv4_out out;
	int r;

	r = reg_sigv4_sign(c->cr, c->h->region, "ecr", amz_date, &req, &out);
	if (r < 0)
		return r;
	for (i = 0; i < n && r == 0; i++) {
		int w;

		if (i == 1) /* curl sends Host itself, the same value; Authorization goes here */
			w = snprintf(lines->l[i], LINE_MAX_LEN, "Authorization: %s", out.authorization);
		else
			w = snprintf(lines->l[i], LINE_MAX_LEN, "%s: %s", sh[i].name, sh[i].value);
		if (w < 0 || w >= LINE_MAX_LEN)
			r = -EFBIG;
	}
	reg_sigv4_out_release(&out);
	*n_lines = n;
	return r;
}

static int parse_answer(struct call *c, const struct reg_aws_http_resp *resp, char **token,
			time_t *exp, struct reg_attempt *a)
{
	const char *url = c->url;
	char type[128];
	int r;

	if (resp->status == 200) {
		r = reg_ecr_token_parse(resp->body.data ? resp->body.data : "", resp->body.len,
					token, exp);
		if (r < 0)
			log_err("malformed GetAuthorizationToken answer from '%s'", url);
		return r;
	}
	reg_aws_attempt_saw(a, resp);
	r = reg_aws_error_map(resp->status, resp->error_type, resp->body.data, resp->body.len,
			      type, sizeof(type));
	log_warn("ecr GetAuthorizationToken at '%s': HTTP %ld %s", url, resp->status, type);
	if (r == -EACCES && check_skew(c, resp) == -ESTALE)
		return -ESTALE;
	if (r == -EACCES)
		log_warn("check the IAM policy (ecr:GetAuthorizationToken) and the clock "
			 "(server time '%s')", resp->date);
	return r;
}

static int attempt(struct call *c, char **token, time_t *exp, struct reg_attempt *a)
{
	struct lines *lines;
	char amz_date[17];
	const char *ptrs[N_LINES];
	struct reg_aws_http_req req = {
		.method = "POST", .url = c->url, .headers = ptrs,
		.body = c->body, .body_len = strlen(c->body), .ca_file = c->o->ca_file,
		.timeout_ms = c->o->timeout_ms ? c->o->timeout_ms : REG_AWS_DEFAULT_TIMEOUT_MS,
		.max_body = REG_AWS_MAX_RESPONSE,
	};
	struct reg_aws_http_resp resp;
	size_t i;
	int r;

	lines = calloc(1, sizeof(*lines));
	if (!lines)
		return -ENOMEM;
	reg_sigv4_amz_date(time(NULL) + c->skew, amz_date);
	r = build_headers(c, amz_date, lines, &req.n_headers);
	if (r < 0)
		goto out_free_lines;
	for (i = 0; i < req.n_headers; i++)
		ptrs[i] = lines->l[i];
	reg_aws_http_resp_init(&resp, REG_AWS_MAX_RESPONSE);
	r = reg_aws_http_do(&req, &resp);
	if (r < 0)
		log_warn("cannot reach the ECR API at '%s': %s", c->url, resp.error);
	else
		r = parse_answer(c, &resp, token, exp, a);
	reg_aws_http_resp_release(&resp);
out_free_lines:
	explicit_bzero(lines, sizeof(*lines));
	free(lines);
	return r;
}

static int check_endpoint(struct call *c)
{
	if (reg_aws_url_split(c->url, &c->u) < 0) {
		log_err("invalid ECR API endpoint '%s'", c->url);
		return -EINVAL;
	}
	if (strcmp(c->u.scheme, "https") != 0 && !reg_aws_host_is_loopback(c->u.host)) {
		log_err("refusing plain HTTP to the ECR API at '%s' (https, or loopback for tests)",
			c->url);
		return -EACCES;
	}
	return 0;
}

struct token_job {
	struct call *c;
	char **token;
	time_t *exp;
};

static int token_attempt(void *ctx, struct reg_attempt *a)
{
	struct token_job *j = ctx;
	int r = attempt(j->c, j->token, j->exp, a);

	if (r == -ESTALE) {
		*a = (struct reg_attempt){ .n = a->n, .deadline_ns = a->deadline_ns };
		r = attempt(j->c, j->token, j->exp, a); /* once more, on the API's clock */
		if (r == -ESTALE)
			r = -EACCES;
	}
	return r;
}

static int with_retries(struct call *c, char **token, time_t *exp)
{
	struct token_job j = { .c = c, .token = token, .exp = exp };
	struct reg_retry_policy pol = {
		.what = "ecr GetAuthorizationToken",
		.retries = c->o->retries ? c->o->retries : REG_AWS_DEFAULT_RETRIES,
		.base_ms = REG_AWS_BACKOFF_BASE_MS, .cap_ms = REG_AWS_BACKOFF_CAP_MS,
	};
	int r;

	r = reg_retry_run(&pol, token_attempt, &j);
	if (r < 0)
		log_err("cannot get an ECR token for '%s' in '%s': %s", c->h->account,
			c->h->region, strerror(-r));
	return r;
}

int reg_ecr_token_with_creds(const struct reg_aws_opts *o, const struct reg_ecr_host *h,
			     const struct reg_aws_creds *cr, char **basic_token, time_t *expires_at)
{
	struct call c = { .o = o, .h = h, .cr = cr };
	char url[REG_AWS_MAX_URL];
	json_t *body;
	size_t n;
	int r;

	r = reg_ecr_endpoint(o, h, url, sizeof(url));
	if (r < 0)
		return r;
	c.url = url;
	r = check_endpoint(&c);
	if (r < 0)
		return r;
	body = json_pack("{s:[s]}", "registryIds", h->account);
	n = body ? json_dumpb(body, c.body, sizeof(c.body) - 1, JSON_COMPACT) : 0;
	json_decref(body);
	if (n == 0 || n >= sizeof(c.body))
		return -ENOMEM; /* the account is 12 digits: it fits */
	c.body[n] = '\0';
	return with_retries(&c, basic_token, expires_at);
}
