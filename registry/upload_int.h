/* SPDX-License-Identifier: MIT */
/*
 * registry/ internal: the write side (strata push). Requests with a body
 * (POST, PUT, PATCH, DELETE) go through the one transport (http_int.h) on
 * fresh easy handles (uploads are few and long; the pooled connections of
 * the client are for many small reads); upload.c runs the blob upload
 * protocol, manifest_put.c manifests, the index artifact and the referrers
 * fallback tag. Only included from registry/ and its unit tests.
 */
#ifndef REGISTRY_UPLOAD_INT_H
#define REGISTRY_UPLOAD_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "registry/registry_int.h"

/* Below this a blob goes in one monolithic PUT; above, one streamed PATCH + PUT. */
#define REG_MONOLITHIC_MAX (32u << 20)
/* An upload is aborted when no byte moves for this long. */
#define REG_UPLOAD_STALL_MS 60000

struct reg_pusher {
	struct reg_client *c;  /* its scope is "repository:<repo>:pull,push" */
	struct reg_http *http; /* fresh handles, the client's TLS settings */
	unsigned retries;
};

/*
 * One exchange with auth: the current Authorization when @req->url is on
 * the registry's origin, a 401 answered once with a fresh token. Then the
 * status is mapped: 2xx -> 0, else -errno (logged with @what, once), the
 * status and its Retry-After noted in @a (may be NULL) for the retry driver.
 */
int reg_up_call(struct reg_pusher *p, const struct reg_http_req *req, const char *what,
		struct reg_http_resp *resp, struct reg_attempt *a);

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
