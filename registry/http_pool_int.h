/* SPDX-License-Identifier: MIT */
/*
 * Between the transport's own files (http_pool.c, http_perform.c,
 * http_trace.c): easy handles from the pool, the connection options, the
 * debug trace. The CURL * handles
 * are void * here so that no header includes <curl/curl.h>.
 */
#ifndef REGISTRY_HTTP_POOL_INT_H
#define REGISTRY_HTTP_POOL_INT_H

#include <stdbool.h>

#include "registry/http_int.h"

/* A handle from the pool (waiting while max_parallel are in use), or a
 * fresh one; NULL when libcurl cannot make one. */
void *reg_http_handle_get(struct reg_http *h);
/* Back to the pool (reset, its connections kept), or cleaned up. */
void reg_http_handle_put(struct reg_http *h, void *easy);
/* The stall timeout the transport was made with. */
unsigned reg_http_stall_ms(const struct reg_http *h);
/*
 * URL, @headers (a struct curl_slist *), the share, allowed protocols, TLS
 * verification, CA bundle, user agent, timeouts (@timeout_ms for the whole
 * exchange, 0: none): every option checked; -EIO (logged) if libcurl
 * refuses one, and the request must then not be sent.
 */
int reg_http_connection_opts(struct reg_http *h, void *easy, const char *url, void *headers,
			     unsigned timeout_ms);

/* At log level debug, route @easy's trace to the logger, redacted;
 * @quiet_request_headers: do not show the request's headers at all (AWS
 * requests carry the session token in X-Amz-Security-Token). */
void reg_http_trace(void *easy, bool quiet_request_headers);

#endif
