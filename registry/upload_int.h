/* SPDX-License-Identifier: MIT */
/*
 * registry/ internal: the write side (strata push). Requests with a body
 * (POST, PUT, PATCH, DELETE) go through http_upload.c, the only file of
 * the upload path that includes <curl/curl.h>; upload.c runs the blob
 * upload protocol, manifest_put.c manifests, the index artifact and the
 * referrers fallback tag. Only included from registry/ and its unit tests.
 */
#ifndef REGISTRY_UPLOAD_INT_H
#define REGISTRY_UPLOAD_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "registry/registry_int.h"

/* Below this a blob goes in one monolithic PUT; above, one streamed PATCH + PUT. */
#define REG_MONOLITHIC_MAX (32u << 20)

struct reg_pusher {
	struct reg_client *c;  /* its scope is "repository:<repo>:pull,push" */
	char *ca_file;
	bool insecure;
	unsigned connect_timeout_ms;
	unsigned io_timeout_ms;
	unsigned retries;
};

struct reg_up_req {
	const char *method;        /* "POST", "PUT", "PATCH", "DELETE" */
	const char *url;
	const char *authorization; /* never logged */
	const char *content_type;  /* NULL: none */
	const struct reg_blob_src *src; /* body, or NULL for an empty one */
	reg_progress_fn progress;
	void *progress_ctx;
};

struct reg_up_resp {
	struct reg_http_resp base; /* status, location, docker_digest, challenges, errbody */
	char *oci_subject;
	char *range;
};

void reg_up_resp_release(struct reg_up_resp *r);

/* One exchange with a body, no redirects. 0 when a response arrived, else -errno. */
int reg_up_http(const struct reg_pusher *p, const struct reg_up_req *req, struct reg_up_resp *resp);

/*
 * One exchange with auth: the current Authorization when @url is on the
 * registry's origin, a 401 answered once with a fresh token. Then the
 * status is mapped: 2xx -> 0, else -errno (logged with @what, once).
 */
int reg_up_call(struct reg_pusher *p, const struct reg_up_req *req, const char *what,
		struct reg_up_resp *resp);

/*
 * The value of header line @line (@n bytes, no NUL needed, CRLF allowed) if
 * its name is @name (any case), trimmed; NULL when it is another header or
 * the value is over REG_MAX_HEADER_VALUE. Caller frees. (http_upload.c)
 */
char *reg_up_header_value(const char *line, size_t n, const char *name);

/*
 * The next URL of an upload session: @loc (a Location, absolute or
 * relative) resolved against @base, with "digest=<@digest>" added to its
 * query when @digest is set. -EINVAL for an empty or over-long Location.
 */
int reg_upload_url(const char *base, const char *loc, const char *digest, char **out);

/*
 * A Range header of an upload session ("0-<end>" or "bytes=0-<end>") -> the
 * offset of the next byte (end + 1). -EINVAL when malformed or not from 0.
 */
int reg_upload_range_parse(const char *s, uint64_t *next);

#endif
