/* SPDX-License-Identifier: MIT */
/*
 * registry/aws/: what the registry client needs to talk to Amazon ECR.
 * ECR host recognition, the AWS credential chain, SigV4 request signing,
 * GetAuthorizationToken with a 0600 on-disk token cache. Internal to the
 * registry room (never included from another room); built as its own
 * static library, linked into registry.
 *
 * The client's one entry point is struct reg_ecr_auth (bottom of this file):
 * made once per client when reg_ecr_host_detect() says the host is ECR, it
 * yields the "Basic <token>" header value, refreshing it at half-life.
 *
 * Errors are -errno: -ENOENT no credentials / no such profile, -EACCES
 * access denied or bad signature, -EAGAIN throttled after retries,
 * -ETIMEDOUT, -EHOSTUNREACH, -EBADMSG malformed answer or file, -EFBIG over
 * a ceiling, -EINVAL bad argument, -EIO anything else. Secrets (secret keys,
 * session tokens, ECR tokens, Authorization values) are never logged.
 */
#ifndef REGISTRY_AWS_AWS_H
#define REGISTRY_AWS_AWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Ceilings. */
#define REG_AWS_MAX_KEY 256           /* access key id, secret key */
#define REG_AWS_MAX_SESSION_TOKEN 8192
#define REG_AWS_MAX_RESPONSE (64u << 10) /* STS/ECR/IMDS/container answers */
#define REG_AWS_MAX_CONFIG_FILE (1u << 20)
#define REG_AWS_MAX_HEADERS 16         /* headers signed per request */
#define REG_AWS_REFRESH_MARGIN_S 300   /* refresh temporary credentials this early */

/* ---- ECR hosts ---------------------------------------------------------- */

struct reg_ecr_host {
	char account[13];     /* 12 digits */
	char region[64];      /* "us-east-1" */
	char suffix[48];      /* DNS suffix: "amazonaws.com", "amazonaws.com.cn", "on.aws", ... */
	bool fips;            /* dkr.ecr-fips. */
	bool dualstack;       /* dkr-ecr.<region>.on.aws */
	bool alias;           /* matched STRATAFS_ECR_HOST_ALIAS (tests) */
};

/*
 * Recognise a private ECR registry host (the pattern of the official
 * credential helper: <12 digits>.dkr[.-]ecr[-fips].<region>.<partition
 * suffix>), with an optional leading "https://" and trailing "/". No port.
 * False for anything else, ECR Public included.
 */
bool reg_ecr_host_parse(const char *host, struct reg_ecr_host *out);

/*
 * reg_ecr_host_parse(), then the test alias: STRATAFS_ECR_HOST_ALIAS =
 * "HOST[:PORT][=ACCOUNT/REGION]" makes exactly that host[:port] count as ECR
 * (default account 000000000000; region: AWS_REGION, AWS_DEFAULT_REGION,
 * the profile's region, else us-east-1). For tests only.
 */
bool reg_ecr_host_detect(const char *host, struct reg_ecr_host *out);

/*
 * The GetAuthorizationToken endpoint for @h into @out: a configured one
 * (o->ecr_endpoint, AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL, the shared
 * config file's services section, its endpoint_url: the AWS SDKs' order,
 * docs/ecr.md), else https://api.ecr.<region>.<suffix> (FIPS:
 * https://ecr-fips.<region>.<suffix>; dual-stack: https://ecr.<region>.api.aws).
 * @o may be NULL. -ENAMETOOLONG if it does not fit.
 */
struct reg_aws_opts;
int reg_ecr_endpoint(const struct reg_aws_opts *o, const struct reg_ecr_host *h, char *out,
		     size_t n);

/* ---- credentials -------------------------------------------------------- */

struct reg_aws_creds {
	char access_key_id[REG_AWS_MAX_KEY];
	char secret_access_key[REG_AWS_MAX_KEY];
	char session_token[REG_AWS_MAX_SESSION_TOKEN]; /* "" for long-term keys */
	time_t expiration;  /* 0: does not expire */
	char source[32];    /* "env", "profile:<name>", "process", "container", "imds" */
};

/* Overwrite the secrets with zeroes (explicit_bzero). */
void reg_aws_creds_wipe(struct reg_aws_creds *c);
/* True when @c expires within @margin_s of @now (never for expiration 0). */
bool reg_aws_creds_expiring(const struct reg_aws_creds *c, time_t now, int margin_s);

struct reg_aws_opts {
	const char *profile;      /* NULL: $AWS_PROFILE, else "default" */
	const char *ecr_endpoint; /* NULL: configured as the AWS tools do (reg_ecr_endpoint) */
	const char *cache_dir;    /* token cache directory (created 0700); NULL: no cache */
	const char *ca_file;      /* CA bundle for the AWS endpoints; NULL: $AWS_CA_BUNDLE,
				   * the profile's ca_bundle, else the system's */
	unsigned timeout_ms;      /* one HTTP exchange; 0: 10000 */
	unsigned retries;         /* attempts after the first on throttling/5xx; 0: 4 */
};

/*
 * The default credential chain, first hit wins:
 *  1. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY [+ AWS_SESSION_TOKEN];
 *  2. shared files for the profile: AWS_SHARED_CREDENTIALS_FILE (default
 *     ~/.aws/credentials, section [name]) over AWS_CONFIG_FILE (default
 *     ~/.aws/config, [profile name] or [default]); a credential_process
 *     there is run (sh -c) and its JSON read;
 *  3. container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (on
 *     http://169.254.170.2, or $STRATAFS_AWS_CONTAINER_HOST for tests), else
 *     AWS_CONTAINER_CREDENTIALS_FULL_URI (https, loopback, 169.254.170.2,
 *     169.254.170.23 or fd00:ec2::23 only) with Authorization from
 *     AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (re-read) or _TOKEN;
 *  4. EC2 IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT, default
 *     http://169.254.169.254), unless AWS_EC2_METADATA_DISABLED=true.
 * An explicitly named profile (opts or AWS_PROFILE) that is in neither file
 * is -ENOENT at once (reg_aws_creds_from_profile says -ESRCH for it).
 * -ENOENT when no provider has credentials. Not thread-safe only in that it
 * reads the environment; call it under a lock if others setenv().
 */
int reg_aws_creds_get(const struct reg_aws_opts *o, struct reg_aws_creds *out);

/* The individual providers (tests, and the chain). -ENOENT: not configured. */
int reg_aws_creds_from_env(struct reg_aws_creds *out);
int reg_aws_creds_from_profile(const char *profile, bool explicit_profile,
			       const struct reg_aws_opts *o, struct reg_aws_creds *out);
int reg_aws_creds_from_container(const struct reg_aws_opts *o, struct reg_aws_creds *out);
int reg_aws_creds_from_imds(const struct reg_aws_opts *o, struct reg_aws_creds *out);

/*
 * Fill @out from a credentials JSON document (container endpoint, IMDS,
 * credential_process): AccessKeyId, SecretAccessKey, Token|SessionToken,
 * Expiration (ISO 8601). -EBADMSG when a key is missing or too long.
 */
int reg_aws_creds_parse_json(const char *json, size_t len, const char *source,
			     struct reg_aws_creds *out);

/* "2017-12-24T03:14:03Z" (fraction and offsets accepted) -> time_t. -EINVAL. */
int reg_aws_parse_iso8601(const char *s, time_t *out);

/* ---- SigV4 -------------------------------------------------------------- */

struct reg_sigv4_header {
	const char *name;  /* any case */
	const char *value; /* untrimmed; runs of whitespace are collapsed */
};

struct reg_sigv4_req {
	const char *method;      /* "POST" */
	const char *path;        /* path as given (decoded), "/" when empty */
	const char *query;       /* raw query without '?', or NULL */
	const struct reg_sigv4_header *headers; /* every header to sign, Host,
						 * X-Amz-Date and the session
						 * token included */
	size_t n_headers;
	const void *payload;
	size_t payload_len;
	bool normalize_path;     /* remove dot segments and empty segments (not S3) */
};

struct reg_sigv4_out {
	char authorization[1024]; /* "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=..." */
	char signature[65];
	char *canonical_request;  /* caller frees (for tests; never log it: it holds the token) */
	char *string_to_sign;     /* caller frees */
};

void reg_sigv4_out_release(struct reg_sigv4_out *o);

/*
 * Sign @req for @region/@service at @amz_date ("YYYYMMDD'T'HHMMSS'Z'",
 * which must equal the X-Amz-Date header the caller sends). Canonical
 * request as the AWS SigV4 documentation ("Create a canonical request")
 * defines it. -EINVAL for a bad date or missing Host,
 * -EFBIG past REG_AWS_MAX_HEADERS or the output size.
 */
int reg_sigv4_sign(const struct reg_aws_creds *cr, const char *region, const char *service,
		   const char *amz_date, const struct reg_sigv4_req *req, struct reg_sigv4_out *out);

/* @t as "YYYYMMDD'T'HHMMSS'Z'" (UTC). */
void reg_sigv4_amz_date(time_t t, char out[17]);

/* ---- ECR GetAuthorizationToken ------------------------------------------ */

/*
 * Parse a GetAuthorizationToken 200 body: authorizationData[0]
 * .authorizationToken (decodes to "<user>:<password>") and .expiresAt
 * (epoch seconds as a JSON number, fraction/exponent allowed). -EBADMSG.
 */
int reg_ecr_token_parse(const char *json, size_t len, char **basic_token, time_t *expires_at);

/*
 * Map an AWS JSON error (HTTP @status, x-amzn-ErrorType header @error_type
 * or NULL, @body) to -errno: AccessDenied*, UnrecognizedClient,
 * InvalidSignature, ExpiredToken, SignatureDoesNotMatch... -> -EACCES;
 * Throttling*, TooManyRequests, RequestLimitExceeded, 429, 5xx -> -EAGAIN;
 * 400 other -> -EINVAL; else -EIO. @type_out (may be NULL) gets the short
 * type ("ThrottlingException").
 */
int reg_aws_error_map(long status, const char *error_type, const char *body, size_t len,
		      char *type_out, size_t type_n);

/* base64 "user:password" -> its two halves (each caller-freed). -EBADMSG. */
int reg_ecr_token_decode(const char *basic_token, char **user, char **password);

/* ---- token cache (token_cache.c) ---------------------------------------- */

struct reg_ecr_cached {
	char *token;         /* caller frees */
	time_t requested_at;
	time_t expires_at;
};

/*
 * Cache file "<dir>/ecr-<account>-<region>-<sha256(akid)[:16]>.json", mode
 * 0600 in a 0700 directory, written tmp (O_EXCL) + rename. A file that is
 * readable by group or others, not ours, or a symlink, is ignored (and
 * replaced). -ENOENT when absent. @dir must be ours as common/safedir.h
 * says (owner, mode, no symlink on its path): if it is not, load answers
 * -ENOENT and store fails (-EPERM, -ELOOP ...), each with a warning, so
 * tokens are simply not cached.
 */
int reg_ecr_cache_load(const char *dir, const struct reg_ecr_host *h, const char *akid,
		       struct reg_ecr_cached *out);
int reg_ecr_cache_store(const char *dir, const struct reg_ecr_host *h, const char *akid,
			const struct reg_ecr_cached *in);
/* Fresh: now < requested_at + (expires_at - requested_at) / 2. */
bool reg_ecr_cached_is_fresh(const struct reg_ecr_cached *c, time_t now);
void reg_ecr_cached_release(struct reg_ecr_cached *c);

/*
 * Presigned redirect URLs (X-Amz-Date + X-Amz-Expires): not here. The
 * client already has reg_presigned_ttl_ms() in registry/redirect.c.
 */

/* ---- the client's handle -------------------------------------------------- */

struct reg_ecr_auth; /* opaque; all functions are thread-safe */

/* Copies @o's strings and @h. */
int reg_ecr_auth_new(const struct reg_aws_opts *o, const struct reg_ecr_host *h,
		     struct reg_ecr_auth **out);
void reg_ecr_auth_free(struct reg_ecr_auth *a);

/*
 * "Basic <token>" for the registry (caller frees and should wipe). Uses the
 * in-memory token until half its life, then the cache file, then the API.
 * -EACCES when there are no AWS credentials or the API refuses them,
 * -EAGAIN still throttled, -ETIMEDOUT/-EHOSTUNREACH API unreachable.
 * Blocks other callers while it refreshes (a few times a day).
 */
int reg_ecr_auth_header(struct reg_ecr_auth *a, char **out);

/*
 * The registry refused the token (401, or 403 without a challenge): drop
 * it from memory and from the cache so the next header call asks the API.
 * @refused: the Authorization value the refused request carried; when a
 * newer token is already held (another thread's refusal fetched it) it is
 * kept: parallel reads refused together, or a role that lacks a
 * permission (every request 403), would each fetch a token and drop the
 * one just fetched. NULL: drop whatever is held.
 */
void reg_ecr_auth_invalidate(struct reg_ecr_auth *a, const char *refused);

#endif
