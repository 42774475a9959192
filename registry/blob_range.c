/* SPDX-License-Identifier: MIT */
/*
 * A long ranged read: bytes [off, off + len) of a blob as one streaming
 * GET, delivered to a sink as they arrive (fs/zfeed.c feeds a decoder
 * with it). Like reg_blob_stream(), only stalls time out and a dropped
 * connection resumes with Range from the byte reached; like
 * reg_blob_read(), nothing is verified here (a range has no digest).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/log.h"
#include "registry/registry_int.h"

int reg_blob_read_stream(struct reg_client *c, const char *digest, uint64_t off, uint64_t len,
			 reg_sink_fn sink, void *ctx)
{
	struct reg_call call = { .method = "GET", .blob = digest, .resume = true,
				 .has_range = true, .range_start = off, .range_len = len,
				 .sink = sink, .sink_ctx = ctx };
	struct reg_http_resp resp = { 0 };
	char what[160];
	char *url = NULL;
	int r;

	if (len == 0)
		return 0;
	if (off > UINT64_MAX - len)
		return -EINVAL;
	if (!digest_is_valid(digest)) {
		log_err("invalid blob digest '%s'", digest);
		return -EINVAL;
	}
	r = reg_client_url(c, "blobs", digest, &url);
	if (r < 0)
		return r;
	snprintf(what, sizeof(what), "blob '%s' from %" PRIu64, digest, off);
	call.url = url;
	call.what = what;
	r = reg_request(c, &call, &resp);
	reg_http_resp_release(&resp);
	free(url);
	return r;
}
