/* SPDX-License-Identifier: MIT */
/*
 * Internals shared by the .c files of registry/aws/ only: the small HTTP
 * helper (http_aws.c, the one file here that includes <curl/curl.h>), URL
 * pieces, and environment helpers.
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
#define REG_AWS_BACKOFF_BASE_MS 200
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
	char error[256];       /* transport error text, "" if none */
};

void reg_aws_http_resp_init(struct reg_aws_http_resp *r, size_t max_body);
void reg_aws_http_resp_release(struct reg_aws_http_resp *r);

/*
 * One exchange with TLS verification on. 0 when a response arrived (read
 * resp->status), else -ETIMEDOUT, -EHOSTUNREACH, -EFBIG (body over
 * max_body), -EINVAL (not http/https), -EIO. Logs the URL and status at
 * debug level, never a header or body.
 */
int reg_aws_http_do(const struct reg_aws_http_req *req, struct reg_aws_http_resp *resp);

/* ---- ECR tokens with credentials in hand (ecr_token.c, token_cache.c) ------- */

/* GetAuthorizationToken with @cr (no cache). */
int reg_ecr_token_with_creds(const struct reg_aws_opts *o, const struct reg_ecr_host *h,
			     const struct reg_aws_creds *cr, char **basic_token, time_t *expires_at);
/* Through o->cache_dir when set (see reg_ecr_get_token_cached). */
int reg_ecr_token_cached_with_creds(const struct reg_aws_opts *o, const struct reg_ecr_host *h,
				    const struct reg_aws_creds *cr, char **basic_token,
				    time_t *expires_at);
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

/* Equal-jitter exponential backoff for retry @attempt (0-based). */
unsigned reg_aws_backoff_ms(unsigned attempt, uint32_t *rnd_state);

/* Sleep @ms milliseconds (nanosleep, restarted on EINTR). */
void reg_aws_sleep_ms(unsigned ms);

/* Copy @s into @dst[@n]; -EFBIG if it does not fit (dst then ""). */
int reg_aws_strlcpy(char *dst, const char *s, size_t n);

/* base64 decode (RFC 4648, padded) into a new NUL-terminated buffer. -EBADMSG. */
int reg_aws_base64_decode(const char *s, char **out, size_t *out_len);

/* Read a whole small file (at most @max bytes) NUL-terminated. -EFBIG, -errno. */
int reg_aws_read_file(const char *path, size_t max, char **out, size_t *len);

#endif
