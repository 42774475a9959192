/* SPDX-License-Identifier: MIT */
/*
 * registry/ internals shared by the room's .c files. Never included from
 * another room. Only http.c includes <curl/curl.h>; everything else talks
 * HTTP through struct reg_http_req / reg_http_resp below.
 */
#ifndef REGISTRY_REGISTRY_INT_H
#define REGISTRY_REGISTRY_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/dbuf.h"
#include "registry/registry.h"

/* Ceilings of what we keep from one response besides its body. */
#define REG_MAX_HEADER_VALUE 8192  /* one header value (Location, WWW-Authenticate) */
#define REG_MAX_ERROR_BODY (64u << 10) /* body of a non-2xx response, for its message */
#define REG_MAX_CHALLENGES 4       /* WWW-Authenticate headers kept per response */
#define REG_MAX_REDIRECTS 5
#define REG_MAX_REFERRER_PAGES 16
#define REG_MAX_HELPER_OUTPUT (64u << 10)
#define REG_MAX_DOCKER_CONFIG (1u << 20)
#define REG_TOKEN_DEFAULT_TTL 60   /* expires_in when the token server omits it */
#define REG_REDIRECT_DEFAULT_TTL 60 /* presigned URL lifetime when it does not say */
#define REG_REDIRECT_SLOTS 64
#define REG_TOKEN_SLOTS 8

/* ---- time ------------------------------------------------------------ */

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t reg_now_ms(void);

/* ---- HTTP (http.c) ----------------------------------------------------- */

struct reg_http; /* curl share + pool of easy handles; thread-safe */

struct reg_http_opts {
	const char *ca_file;
	bool insecure;
	unsigned connect_timeout_ms;
	unsigned stall_timeout_ms; /* abort when no byte arrives for this long */
	unsigned max_parallel;     /* easy handles in flight at once */
	const char *user_agent;    /* NULL: "stratafs/0.1" */
};

int reg_http_new(const struct reg_http_opts *o, struct reg_http **out);
void reg_http_free(struct reg_http *h);

struct reg_http_req {
	const char *method;       /* "GET", "HEAD" or "POST" */
	const char *post_body;    /* POST: form body and its type */
	size_t post_len;
	const char *post_type;
	const char *url;          /* absolute */
	const char *accept;       /* value of Accept or NULL */
	const char *authorization; /* full value ("Bearer x") or NULL; never logged */
	bool has_range;
	uint64_t range_start;
	uint64_t range_len;       /* 0: to the end */
	unsigned timeout_ms;      /* whole exchange; 0: none (stall timeout still applies) */
	struct dbuf *body;        /* 2xx body goes here ... */
	reg_sink_fn sink;         /* ... or here (one of the two, or neither) */
	void *sink_ctx;
};

struct reg_http_resp {
	long status;
	char *content_type;   /* parameters stripped */
	char *docker_digest;  /* Docker-Content-Digest */
	char *location;       /* Location, raw */
	char *retry_after;
	char *content_range;
	char *filters_applied; /* OCI-Filters-Applied */
	char *link;            /* Link */
	char *warning;         /* first Warning header (RFC 7234), shown to the user */
	char *challenges[REG_MAX_CHALLENGES];
	size_t n_challenges;
	bool has_length;
	uint64_t content_length;
	uint64_t delivered;   /* bytes handed to the body/sink (after range trimming) */
	struct dbuf errbody;  /* body of a non-2xx response, truncated */
	char *effective_url;  /* the URL this response came from */
	char error[256];      /* transport error text (curl), "" if none */
};

void reg_http_resp_release(struct reg_http_resp *r);
/* Keep what @r needs from one response header line (@len bytes, CRLF included). */
void reg_http_header_line(struct reg_http_resp *r, const char *line, size_t len);

/*
 * One HTTP exchange, no redirect following. 0 when a response arrived (any
 * status, read resp->status), else -ETIMEDOUT, -EHOSTUNREACH, -ECONNRESET
 * (dropped mid-body), -EFBIG (body over the dbuf ceiling), -EBADMSG (a 206
 * whose Content-Range does not start at the asked offset), the sink's
 * code, or -EIO.
 */
int reg_http_perform(struct reg_http *h, const struct reg_http_req *req, struct reg_http_resp *resp);

/* Absolute URL of @loc relative to @base (curl's URL API); caller frees. */
int reg_url_resolve(const char *base, const char *loc, char **out);
/* "scheme://host:port" of @url with the default port made explicit; caller frees. */
int reg_url_origin(const char *url, char **out);
/* True when @url has the registry's own scheme, host and port: only then
 * may credentials go with a request (request.c). */
bool reg_url_is_ours(const struct reg_client *c, const char *url);
/*
 * The transport every libcurl request shares (http.c): URL, headers (a
 * struct curl_slist *), no redirects followed, https only unless @insecure,
 * TLS verification on unless @insecure, @ca_file, connect timeout, and an
 * abort after @stall_s seconds without a byte. @easy is a CURL *; the
 * types stay void here so that no header includes <curl/curl.h>.
 */
void reg_http_transport(void *easy, const char *url, void *headers, bool insecure,
			const char *ca_file, unsigned connect_timeout_ms, long stall_s);
/* Percent-encode @s for a query value into @b. */
int reg_url_escape(struct dbuf *b, const char *s);

/* ---- retry policy (retry.c) -------------------------------------------- */

#define REG_BACKOFF_BASE_MS 100
#define REG_BACKOFF_CAP_MS 5000

/*
 * Delay before retry number @attempt (0 = first retry): exponential from
 * @base_ms, capped at @cap_ms, "equal jitter": a value in [d/2, d] where d
 * is the capped exponential, picked with @rnd.
 */
unsigned reg_backoff_ms(unsigned attempt, unsigned base_ms, unsigned cap_ms, uint32_t rnd);
/*
 * Retry-After (delta seconds or an HTTP-date, RFC 9110 §10.2.3) in
 * milliseconds from @now. -EINVAL when unparsable. A date in the past is 0.
 */
int reg_retry_after_ms(const char *value, time_t now, uint64_t *ms);
/* 408, 429, 500, 502, 503, 504 (and other 5xx except 501/505). */
bool reg_status_is_retryable(long status);
/* Transport errors worth another attempt. */
bool reg_err_is_retryable(int err);

/* ---- auth (auth.c, www_auth.c, dockercfg.c) ----------------------------- */

#define REG_MAX_AUTH_PARAMS 16

struct reg_challenge {
	char scheme[16];  /* lowercased: "bearer", "basic", ... */
	char *realm, *service, *scope, *error;
};

void reg_challenge_release(struct reg_challenge *ch);
/*
 * Parse one WWW-Authenticate header value (it may hold several challenges)
 * and keep the preferred one: Bearer over Basic over others. -EINVAL when
 * nothing parses.
 */
int reg_www_auth_parse(const char *value, struct reg_challenge *out);

struct reg_cred {
	char *username;
	char *password;
	char *identity_token; /* OAuth refresh token */
	char *registry_token; /* bearer token sent as is */
};

void reg_cred_release(struct reg_cred *cr);
/*
 * Credentials for @host from docker config @path (NULL: $DOCKER_CONFIG or
 * ~/.docker/config.json): credHelpers, credsStore, then auths. 0 and an
 * empty @out when there are none (anonymous); -EBADMSG for a broken file.
 */
int reg_cred_lookup(const char *path, const char *host, struct reg_cred *out);
/* Run docker-credential-@helper get for @server (PATH lookup). -ENOENT: none. */
int reg_cred_helper_get(const char *helper, const char *server, struct reg_cred *out);
/* A credential helper's stdout ({"Username","Secret"}) into @out. -EBADMSG, -ENOMEM. */
int reg_cred_helper_parse(const char *json, size_t len, struct reg_cred *out);
/* How reg_cred_parse() runs a helper: reg_cred_helper_get(), or a stub in tests. */
typedef int (*reg_cred_helper_fn)(const char *helper, const char *server, struct reg_cred *out);
/*
 * reg_cred_lookup() on config text already in memory (@name only for
 * messages; @json need not be NUL-terminated), with @run for credHelpers
 * and credsStore. The file variant reads the file and calls this.
 */
int reg_cred_parse(const char *json, size_t len, const char *name, const char *host,
		   reg_cred_helper_fn run, struct reg_cred *out);
/* base64 (RFC 4648, padded) of @n bytes into @b / decoding; -EINVAL on junk. */
int reg_base64_encode(struct dbuf *b, const void *p, size_t n);
int reg_base64_decode(const char *s, struct dbuf *b);

struct reg_token {
	char scope[256];
	char *value;
	uint64_t expires_ms; /* reg_now_ms() clock */
};

struct reg_ecr_auth; /* registry/aws/aws.h */

struct reg_auth {
	pthread_mutex_t lock;
	struct reg_cred cred;           /* immutable after reg_client_new */
	struct reg_ecr_auth *ecr;       /* ECR host, no other credentials; immutable */
	/* protected by lock: */
	int mode;                       /* REG_AUTH_NONE / BASIC / BEARER */
	struct reg_challenge bearer;    /* last Bearer challenge */
	struct reg_token tokens[REG_TOKEN_SLOTS];
};

enum { REG_AUTH_NONE = 0, REG_AUTH_BASIC, REG_AUTH_BEARER, REG_AUTH_ECR };

/*
 * ecr.c: when @c's host is ECR (registry/aws) and no credentials were
 * found, get the Basic token from GetAuthorizationToken (AWS credential
 * chain). 0 also when the host is not ECR.
 */
int reg_auth_ecr_setup(struct reg_client *c, const struct reg_opts *o);
/* The ECR "Basic <token>" value; -EACCES (logged) when there is none. */
int reg_auth_ecr_header(struct reg_client *c, char **out);
/* The registry refused the token: forget it. */
void reg_auth_ecr_invalidate(struct reg_client *c);
void reg_auth_ecr_release(struct reg_auth *a);

/* ---- the client --------------------------------------------------------- */

struct reg_redirect {
	char digest[DIGEST_STR_LEN];
	char *url;
	uint64_t expires_ms;
};

struct reg_client {
	char *host;
	char *repo;
	char *base_url;   /* "https://host" */
	char *origin;     /* reg_url_origin(base_url) */
	char *scope;      /* "repository:<repo>:pull" */
	bool insecure;
	unsigned io_timeout_ms;
	unsigned retries;
	struct reg_http *http;
	struct reg_auth auth;
	pthread_mutex_t redir_lock;
	struct reg_redirect redirects[REG_REDIRECT_SLOTS]; /* protected by redir_lock */
	_Atomic uint64_t n_requests, n_retries, n_bytes_in, n_errors;
	_Atomic uint32_t rnd;
};

/*
 * The Authorization value for a request to the registry origin under the
 * current auth mode (NULL when anonymous). Caller frees.
 */
int reg_auth_header(struct reg_client *c, char **out);
/*
 * React to a 401 (challenges in @resp) or to a 403 without a challenge after
 * a bearer token was sent: pick the scheme, fetch a bearer token. 0 when a
 * retry may succeed, -EACCES when it cannot.
 */
int reg_auth_handle(struct reg_client *c, const struct reg_http_resp *resp, bool sent_auth);
void reg_auth_init(struct reg_auth *a);
void reg_auth_release(struct reg_auth *a);
/* Parse a token server response: token/access_token, expires_in (default 60). */
int reg_token_parse(const char *json, size_t len, char **token, unsigned *expires_in);

/* jansson's json_t, without its header here (third-party headers stay in .c files). */
struct json_t;
/* An optional string member @key of object @o, copied: absent -> 0 and *out
 * untouched, present but not a string -> -EBADMSG, -ENOMEM. (manifest.c) */
int reg_json_opt_str(struct json_t *o, const char *key, char **out);

/* ---- requests (request.c) ----------------------------------------------- */

struct reg_call {
	const char *method;
	const char *url;       /* absolute; auth only when its origin is the registry's */
	const char *accept;
	const char *what;      /* "manifest 'x'", for messages */
	bool has_range;
	uint64_t range_start;
	uint64_t range_len;
	bool bounded;          /* apply the remaining deadline as a total timeout */
	struct dbuf *body;
	reg_sink_fn sink;
	void *sink_ctx;
	bool quiet_404;        /* 404 is an expected answer: log at debug */
	bool resume;           /* after a drop, continue with Range from the bytes delivered */
	const char *blob;      /* digest: use and fill the redirect cache for this blob */
};

/*
 * One attempt at @call: auth header, a 401 answered once (new token), and
 * redirects followed manually with credentials dropped off-origin.
 * resp->effective_url names where the answer came from. Returns like
 * reg_http_perform.
 */
int reg_request_once(struct reg_client *c, const struct reg_call *call, uint64_t deadline_ms,
		     struct reg_http_resp *resp);
/*
 * @call with retries (network errors, 408/429/5xx) and backoff until the
 * client's io timeout. Then maps the final status: 2xx -> 0 (resp kept for
 * the caller), else -errno, logged once with the registry's error message.
 */
int reg_request(struct reg_client *c, struct reg_call *call, struct reg_http_resp *resp);

/* ---- redirect cache (redirect.c) ---------------------------------------- */

/* The cached redirect target of @digest if still fresh; caller frees. -ENOENT. */
int reg_redirect_get(struct reg_client *c, const char *digest, char **url);
void reg_redirect_put(struct reg_client *c, const char *digest, const char *url);
void reg_redirect_drop(struct reg_client *c, const char *digest);
/*
 * How long a presigned URL stays usable, in ms from @now (wall clock):
 * X-Amz-Date + X-Amz-Expires (or X-Goog-Date + X-Goog-Expires) minus a
 * safety margin, else REG_REDIRECT_DEFAULT_TTL.
 */
uint64_t reg_presigned_ttl_ms(const char *url, time_t now);
void reg_redirects_release(struct reg_client *c);

/* HTTP status -> -errno (registry.h table). */
int reg_status_to_errno(long status);
/* Log "cannot fetch <what>: HTTP 404 MANIFEST_UNKNOWN: manifest unknown". */
void reg_log_http_error(const char *what, const struct reg_http_resp *resp);
/* "<base>/v2/<repo>/<kind>/<ref>" into a new string. */
int reg_client_url(const struct reg_client *c, const char *kind, const char *ref, char **out);

/* ---- manifests ---------------------------------------------------------- */

#define REG_ACCEPT_MANIFESTS                                                                      \
	REG_MT_OCI_MANIFEST ", " REG_MT_OCI_INDEX ", " REG_MT_DOCKER_MANIFEST ", " REG_MT_DOCKER_LIST

void reg_descriptor_release(struct reg_descriptor *d);
/* reg_manifest_get(), with a 404 logged only at debug level when @quiet_404. */
int reg_manifest_fetch(struct reg_client *c, const char *reference, bool quiet_404,
		       struct reg_manifest **out);
/* An empty OCI index (kind INDEX, no entries). */
int reg_manifest_new_empty_index(struct reg_manifest **out);

/* Host platform from uname(2). */
int reg_platform_host(struct reg_platform *out);

/* Strip a Content-Type's parameters and lowercase it; caller frees. */
char *reg_media_type_clean(const char *ct);

#endif
