/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the .c files of registry/aws/ only: the AWS side of
 * the room's transport (http_aws.c), URL pieces, the environment and
 * config conventions (aws_env.c), small helpers.
 */
#ifndef REGISTRY_AWS_AWS_INT_H
#define REGISTRY_AWS_AWS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/dbuf.h"
#include "registry/aws/aws.h"

#define REG_AWS_DEFAULT_TIMEOUT_MS 10000
#define REG_AWS_DEFAULT_RETRIES 4
#define REG_AWS_BACKOFF_BASE_MS 200 /* retry policy of the AWS calls (retry_int.h) */
#define REG_AWS_BACKOFF_CAP_MS 5000
#define REG_AWS_MAX_URL 2048

/* ---- HTTP (http_aws.c) ---------------------------------------------------- */

struct reg_aws_http_req {
	const char *method;           /* "GET", "PUT", "POST" */
	const char *url;              /* absolute http(s) URL; redirects are not followed */
	const char *const *headers;   /* "Name: value" lines; never logged */
	size_t n_headers;
	const void *body;             /* request body or NULL */
	size_t body_len;
	const char *ca_file;          /* extra CA bundle or NULL */
	unsigned timeout_ms;          /* whole exchange */
	unsigned connect_timeout_ms;  /* 0: min(timeout, 5000) */
	size_t max_body;              /* response body ceiling */
};

struct reg_aws_http_resp {
	long status;
	struct dbuf body;
	char error_type[128];  /* x-amzn-ErrorType, "" if absent */
	char date[64];         /* Date header, for clock skew messages */
	char retry_after[64];  /* Retry-After, "" if absent */
	char error[256];       /* transport error text, "" if none */
};

void reg_aws_http_resp_init(struct reg_aws_http_resp *r, size_t max_body);
struct reg_attempt;
/* Note @r's status and Retry-After for the retry driver (retry_int.h). */
void reg_aws_attempt_saw(struct reg_attempt *a, const struct reg_aws_http_resp *r);
void reg_aws_http_resp_release(struct reg_aws_http_resp *r);

/*
 * One exchange with TLS verification on. 0 when a response arrived (read
 * resp->status; the body of a 2xx, or of an error for its message), else
 * the transport's -errno (http_int.h): -ETIMEDOUT, -EHOSTUNREACH,
 * -ECONNRESET, -EFBIG (body over max_body), -EINVAL (not http/https),
 * -EIO. Logs the URL and status at debug level, never a header or body.
 */
int reg_aws_http_do(const struct reg_aws_http_req *req, struct reg_aws_http_resp *resp);

/* ---- ECR tokens with credentials in hand (ecr_token.c, token_cache.c) ------- */

/*
 * One GetAuthorizationToken call with @cr (no cache): SigV4 (service
 * "ecr"), under the retry driver on throttling and 5xx. *basic_token = the
 * base64 "AWS:<password>" string (caller frees, wipes), *expires_at its
 * expiry. -EACCES (AccessDenied, bad signature, expired credentials),
 * -EAGAIN (still throttled), -EBADMSG, ...
 */
int reg_ecr_token_with_creds(const struct reg_aws_opts *o, const struct reg_ecr_host *h,
			     const struct reg_aws_creds *cr, char **basic_token, time_t *expires_at);
/*
 * The same through the token cache in o->cache_dir (when set): a cached
 * token is used until half its lifetime; if the API then fails, a cached
 * token that is still valid for a minute is used anyway (with a warning).
 * *@from_api (may be NULL): whether the API handed it out just now.
 */
int reg_ecr_token_cached_with_creds(const struct reg_aws_opts *o, const struct reg_ecr_host *h,
				    const struct reg_aws_creds *cr, char **basic_token,
				    time_t *expires_at, bool *from_api);
/* Remove the cache file of (@h, @akid), if any. */
void reg_ecr_cache_drop(const char *dir, const struct reg_ecr_host *h, const char *akid);

/* ---- parsers of what the providers read (exposed for the fuzzers) ---------- */

/* What one profile section of a shared credentials/config file says. */
struct reg_aws_profile {
	bool found;
	char key_id[REG_AWS_MAX_KEY];
	char secret[REG_AWS_MAX_KEY];
	char token[REG_AWS_MAX_SESSION_TOKEN];
	char process[1024];
	bool role; /* role_arn / sso_* present */
};

/*
 * Walk INI text @buf (NUL-terminated, modified in place) and fill @p from
 * profile @name's section: "[name]" in the credentials file, "[profile
 * name]" or "[default]" in the config file (@config). Values too long for
 * their field are left empty. (creds_file.c)
 */
void reg_aws_ini_scan(char *buf, const char *name, bool config, struct reg_aws_profile *p);

/*
 * The role name from an IMDS security-credentials listing @body
 * (NUL-terminated, cut at its first line in place) into @role[@n].
 * -EBADMSG when empty, holding '/', or too long. (creds_remote.c)
 */
int reg_aws_imds_role_parse(char *body, char *role, size_t n);

/* A token cache file's JSON ({token, requestedAt, expiresAt}). -EBADMSG. (token_cache.c) */
int reg_ecr_cache_parse(const char *buf, size_t len, struct reg_ecr_cached *out);

/* ---- configuration conventions (aws_env.c) --------------------------------- */

/* What the shared config file's profile (and the services section it names) sets. */
struct reg_aws_settings {
	char region[64];
	char endpoint_url[REG_AWS_MAX_URL];     /* the profile's global endpoint_url */
	char services[128];                     /* the profile's services = NAME */
	char ecr_endpoint_url[REG_AWS_MAX_URL]; /* [services NAME] ecr = / endpoint_url = */
	char ca_bundle[1024];
	bool ignore_endpoints;                  /* ignore_configured_endpoint_urls = true */
};

/* Scan config file text @buf[@len] (not modified, no NUL needed) for
 * profile @profile ("[profile NAME]", or "[default]"). */
void reg_aws_config_scan(const char *buf, size_t len, const char *profile,
			 struct reg_aws_settings *s);
/* The profile's settings from $AWS_CONFIG_FILE (default ~/.aws/config);
 * all empty when there is no file. */
int reg_aws_settings_load(const struct reg_aws_opts *o, struct reg_aws_settings *s);
/*
 * A configured ECR API endpoint, in the precedence of the AWS SDKs: the
 * caller's (o->ecr_endpoint), AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL, the
 * profile's services section (ecr / endpoint_url), the profile's
 * endpoint_url; none of the last four when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
 * or ignore_configured_endpoint_urls is true. *@from names the source.
 * -ENOENT: none (use the region's endpoint).
 */
int reg_aws_ecr_endpoint_configured(const struct reg_aws_opts *o, char *out, size_t n,
				    const char **from);
/* AWS_REGION, else AWS_DEFAULT_REGION, else the profile's region. -ENOENT. */
int reg_aws_region(const struct reg_aws_opts *o, char *out, size_t n);
/* The CA bundle of AWS endpoints: o->ca_file, else AWS_CA_BUNDLE, else the
 * profile's ca_bundle. -ENOENT: the system's. */
int reg_aws_ca_bundle(const struct reg_aws_opts *o, char *out, size_t n);

/* ---- helpers (aws_util.c) ------------------------------------------------- */

struct reg_aws_url {
	char scheme[8];      /* "http" / "https" */
	char host[256];      /* without port; IPv6 without brackets */
	char authority[300]; /* host[:port] as it goes in the Host header */
	int port;            /* explicit port or the scheme's default */
	char path[1024];     /* "/" when empty */
	char query[1024];    /* without '?' */
};

/* Split an absolute http(s) URL. -EINVAL when malformed, -ENAMETOOLONG. */
int reg_aws_url_split(const char *url, struct reg_aws_url *out);

/* 127.0.0.0/8, ::1, localhost. */
bool reg_aws_host_is_loopback(const char *host);

/* getenv() that treats "" as unset. */
const char *reg_aws_env(const char *name);

/* Copy @s into @dst[@n]; -EFBIG if it does not fit (dst then ""). */
int reg_aws_strlcpy(char *dst, const char *s, size_t n);

/* $@env, else ~/.aws/@leaf, into @out[@n]. -ENOENT without HOME. (creds_file.c) */
int reg_aws_file_path(const char *env, const char *leaf, char *out, size_t n);

#endif
