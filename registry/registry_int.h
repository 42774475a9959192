/* SPDX-License-Identifier: MIT */
/*
 * registry/ internals shared by the room's .c files. Never included from
 * another room. Only the transport's http_*.c include <curl/curl.h>;
 * everything else talks HTTP through http_int.h and retries through
 * retry_int.h.
 */
#ifndef REGISTRY_REGISTRY_INT_H
#define REGISTRY_REGISTRY_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "common/dbuf.h"
#include "registry/http_int.h"
#include "registry/registry.h"
#include "registry/retry_int.h"

/* Ceilings of what we keep from one response besides its body: http_int.h. */
#define REG_MAX_REDIRECTS 5
#define REG_MAX_REFERRER_PAGES 16
#define REG_MAX_HELPER_OUTPUT (64u << 10)
#define REG_MAX_DOCKER_CONFIG (1u << 20)
#define REG_TOKEN_DEFAULT_TTL 60   /* expires_in when the token server omits it */
#define REG_REDIRECT_DEFAULT_TTL 60 /* presigned URL lifetime when it does not say */
#define REG_REDIRECT_SLOTS 64
#define REG_TOKEN_SLOTS 8

/* ---- URLs (request.c) ----------------------------------------------------- */

/* True when @url has the registry's own scheme, host and port: only then
 * may credentials go with a request. */
bool reg_url_is_ours(const struct reg_client *c, const char *url);

/* ---- auth (auth.c, www_auth.c, dockercfg.c) ----------------------------- */

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

struct reg_token {
	char scope[256];
	char *value;
	uint64_t expires_ms; /* monotonic_ms() clock (common/clock.h) */
};

struct reg_ecr_auth; /* registry/aws/aws.h */

/* How requests to the registry's origin are authenticated. */
enum reg_auth_mode {
	REG_AUTH_NONE = 0, /* anonymous, until a 401 says otherwise */
	REG_AUTH_BASIC,    /* the user's credentials on every request (a Basic challenge) */
	REG_AUTH_BEARER,   /* tokens from the Bearer challenge's realm, per scope */
	REG_AUTH_ECR,      /* Amazon ECR: "Basic <token>" from GetAuthorizationToken (ecr.c),
			    * sent from the first request; never changes to another mode */
};

struct reg_auth {
	pthread_mutex_t lock;
	struct reg_cred cred;           /* immutable after reg_client_new */
	struct reg_ecr_auth *ecr;       /* ECR host, no other credentials; immutable */
	/* protected by lock: */
	enum reg_auth_mode mode;
	struct reg_challenge bearer;    /* last Bearer challenge */
	struct reg_token tokens[REG_TOKEN_SLOTS];
};

/*
 * ecr.c: when @c's host is ECR (registry/aws) and no credentials were
 * found, get the Basic token from GetAuthorizationToken (AWS credential
 * chain). 0 also when the host is not ECR.
 */
int reg_auth_ecr_setup(struct reg_client *c, const struct reg_opts *o);
/* The ECR "Basic <token>" value; -EACCES (logged) when there is none. */
int reg_auth_ecr_header(struct reg_client *c, char **out);
/* The registry refused the token @refused (the Authorization value sent): forget it. */
void reg_auth_ecr_invalidate(struct reg_client *c, const char *refused);
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
};

/*
 * The Authorization value for a request to the registry origin under the
 * current auth mode (NULL when anonymous). Caller frees.
 */
int reg_auth_header(struct reg_client *c, char **out);
/*
 * React to a 401 (challenges in @resp) or to a 403 without a challenge after
 * a bearer token was sent: pick the scheme, fetch a bearer token. 0 when a
 * retry may succeed, -EACCES when it cannot. @sent_auth: the Authorization
 * value the request carried, NULL for none.
 */
int reg_auth_handle(struct reg_client *c, const struct reg_http_resp *resp, const char *sent_auth);
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
 * @call under the retry driver (retry_int.h) until the client's io timeout:
 * one attempt is the auth header, a 401 answered once (new token), and
 * redirects followed manually with credentials dropped off-origin;
 * resp->effective_url names where the answer came from. Then maps the final status: 2xx -> 0 (resp kept for
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

/* reg_manifest_get(), with a 404 logged only at debug level when @quiet_404. */
int reg_manifest_fetch(struct reg_client *c, const char *reference, bool quiet_404,
		       struct reg_manifest **out);
/* An empty OCI index (kind INDEX, no entries). */
int reg_manifest_new_empty_index(struct reg_manifest **out);

/* Strip a Content-Type's parameters and lowercase it; caller frees. */
char *reg_media_type_clean(const char *ct);

#endif
