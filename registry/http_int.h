/* SPDX-License-Identifier: MIT */
/*
 * The registry room's one HTTP transport (http_*.c, the only files that
 * include <curl/curl.h>). Reads, uploads and the AWS endpoints all go
 * through reg_http_perform(): one set of libcurl options (each checked),
 * one header parser, one CURLcode -> -errno table. Retries are not here:
 * retry_int.h drives them. Included by registry/ and registry/aws/ only.
 */
#ifndef REGISTRY_HTTP_INT_H
#define REGISTRY_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/dbuf.h"
#include "registry/registry.h"

#define REG_MAX_HEADER_VALUE 8192  /* one header value (Location, WWW-Authenticate) */
#define REG_MAX_ERROR_BODY (64u << 10) /* body of a non-2xx response, for its message */
#define REG_MAX_CHALLENGES 4       /* WWW-Authenticate headers kept per response */

struct reg_http; /* transport settings, curl share and pool of easy handles; thread-safe */

struct reg_http_opts {
	const char *ca_file;       /* CA bundle instead of the system's, or NULL */
	bool insecure;             /* plain http allowed and TLS not verified */
	bool allow_http;           /* plain http allowed, TLS still verified (AWS loopback stand-ins) */
	bool fresh_handles;        /* no pool: a new easy handle per request (uploads, AWS calls) */
	unsigned connect_timeout_ms; /* 0: 10000 */
	unsigned stall_timeout_ms; /* abort when no byte moves for this long; 0: 60000 */
	unsigned max_parallel;     /* pooled: requests in flight at once; 0: 8 */
	const char *user_agent;    /* NULL: STRATAFS_USER_AGENT (common/version.h) */
};

int reg_http_new(const struct reg_http_opts *o, struct reg_http **out);
void reg_http_free(struct reg_http *h);

struct reg_http_req {
	const char *method;        /* GET HEAD POST PUT PATCH DELETE */
	const char *url;           /* absolute; redirects are never followed */
	const char *accept;        /* value of Accept or NULL */
	const char *authorization; /* full value ("Bearer x") or NULL; never logged */
	const char *content_type;  /* of the request body, or NULL */
	const char *const *headers; /* more "Name: value" lines (AWS signing); never logged */
	size_t n_headers;
	const struct reg_blob_src *src; /* request body, re-readable (sent again after a
					 * rewind); NULL: none */
	bool has_range;
	uint64_t range_start;
	uint64_t range_len;        /* 0: to the end */
	unsigned timeout_ms;       /* whole exchange; 0: none (the stall timeout still applies) */
	struct dbuf *body;         /* 2xx body goes here ... */
	reg_sink_fn sink;          /* ... or here (one of the two, or neither: dropped) */
	void *sink_ctx;
	reg_progress_fn progress;  /* request body bytes sent, or NULL */
	void *progress_ctx;
};

struct reg_http_resp {
	long status;
	char *content_type;    /* parameters stripped */
	char *docker_digest;   /* Docker-Content-Digest */
	char *location;        /* Location, raw */
	char *retry_after;
	char *content_range;
	char *range;           /* Range (an upload session's progress) */
	char *oci_subject;     /* OCI-Subject (a manifest PUT with a subject) */
	char *filters_applied; /* OCI-Filters-Applied */
	char *link;            /* Link */
	char *warning;         /* first Warning header (RFC 7234), shown to the user */
	char *amz_error_type;  /* x-amzn-ErrorType (AWS JSON APIs) */
	char *date;            /* Date, for clock-skew messages */
	char *challenges[REG_MAX_CHALLENGES];
	size_t n_challenges;
	bool has_length;
	uint64_t content_length;
	uint64_t delivered;    /* bytes handed to the body/sink (after range trimming) */
	struct dbuf errbody;   /* body of a non-2xx response, truncated */
	char *effective_url;   /* the URL this response came from */
	char error[256];       /* transport error text (curl), "" if none */
};

void reg_http_resp_release(struct reg_http_resp *r);
/* Keep what @r needs from one response header line (@len bytes, CRLF
 * included, no NUL needed after it). The one header parser (http_headers.c). */
void reg_http_header_line(struct reg_http_resp *r, const char *line, size_t len);

/*
 * One HTTP exchange, no redirect following. 0 when a response arrived (any
 * status, read resp->status), else -ETIMEDOUT, -EHOSTUNREACH, -ECONNRESET
 * (dropped mid-exchange, HTTP/2 stream resets included), -EFBIG (body over
 * the dbuf ceiling), -EBADMSG (a 206 whose Content-Range does not start at
 * the asked offset), the sink's code, or -EIO (the request body could not
 * be read, TLS failures, a URL of a refused scheme, the rest).
 */
int reg_http_perform(struct reg_http *h, const struct reg_http_req *req, struct reg_http_resp *resp);

/* The transport's -errno for a libcurl CURLcode (the one table; tests). */
int reg_http_curl_errno(int curlcode);

/* Absolute URL of @loc relative to @base (curl's URL API); caller frees. */
int reg_url_resolve(const char *base, const char *loc, char **out);
/* "scheme://host:port" of @url with the default port made explicit; caller frees. */
int reg_url_origin(const char *url, char **out);
/* Percent-encode @s for a query value into @b. */
int reg_url_escape(struct dbuf *b, const char *s);

#endif
