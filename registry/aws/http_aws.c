/* SPDX-License-Identifier: MIT */
/*
 * The HTTP exchanges of registry/aws/ (GetAuthorizationToken, the container
 * credentials endpoint, IMDSv2) over the room's one transport (http_int.h),
 * with the AWS rules: TLS always verified (against AWS_CA_BUNDLE or the
 * caller's bundle when set), plain http allowed only because the callers
 * check the endpoint first (loopback stand-ins, the link-local metadata
 * services), a fresh handle per call (a few calls a day: no pool), and a
 * ceiling on the answer. The request headers (signatures, session tokens)
 * are never logged, nor is a body.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/secret.h"
#include "registry/aws/aws_int.h"
#include "registry/http_int.h"
#include "registry/retry_int.h"

void reg_aws_http_resp_init(struct reg_aws_http_resp *r, size_t max_body)
{
	memset(r, 0, sizeof(*r));
	dbuf_init(&r->body, max_body);
}

void reg_aws_http_resp_release(struct reg_aws_http_resp *r)
{
	secret_dbuf_release(&r->body);
}

void reg_aws_attempt_saw(struct reg_attempt *a, const struct reg_aws_http_resp *r)
{
	uint64_t ms;

	a->status = r->status;
	a->has_retry_after = r->retry_after[0] &&
			     reg_retry_after_ms(r->retry_after, time(NULL), &ms) == 0;
	a->retry_after_ms = a->has_retry_after ? ms : 0;
}

static void copy_header(char *dst, size_t n, const char *v)
{
	snprintf(dst, n, "%s", v ? v : "");
}

/* What the AWS callers read of an answer; an error's body is its message. */
static int take_answer(struct reg_aws_http_resp *resp, const struct reg_http_resp *hr)
{
	resp->status = hr->status;
	copy_header(resp->error_type, sizeof(resp->error_type), hr->amz_error_type);
	copy_header(resp->date, sizeof(resp->date), hr->date);
	copy_header(resp->retry_after, sizeof(resp->retry_after), hr->retry_after);
	if ((hr->status < 200 || hr->status > 299) && hr->errbody.len)
		return dbuf_add(&resp->body, hr->errbody.data,
				hr->errbody.len < resp->body.max ? hr->errbody.len : resp->body.max);
	return 0;
}

int reg_aws_http_do(const struct reg_aws_http_req *req, struct reg_aws_http_resp *resp)
{
	unsigned cto = req->connect_timeout_ms;
	struct reg_blob_src src = { .fd = -1, .buf = req->body, .size = req->body_len };
	struct reg_http_req hq = {
		.method = req->method, .url = req->url, .headers = req->headers,
		.n_headers = req->n_headers, .timeout_ms = req->timeout_ms, .body = &resp->body,
	};
	struct reg_http_opts ho = { .ca_file = req->ca_file, .allow_http = true,
				    .fresh_handles = true, .stall_timeout_ms = req->timeout_ms };
	char ca[1024];
	struct reg_http_resp hr;
	struct reg_http *h = NULL;
	int r;

	if (strncmp(req->url, "http://", 7) != 0 && strncmp(req->url, "https://", 8) != 0)
		return -EINVAL;
	if (!cto)
		cto = req->timeout_ms < 5000 ? req->timeout_ms : 5000;
	ho.connect_timeout_ms = cto;
	if (!ho.ca_file && reg_aws_ca_bundle(NULL, ca, sizeof(ca)) == 0)
		ho.ca_file = ca; /* AWS_CA_BUNDLE or the profile's ca_bundle */
	if (req->body)
		hq.src = &src;
	r = reg_http_new(&ho, &h);
	if (r < 0)
		return r;
	r = reg_http_perform(h, &hq, &hr);
	if (r < 0) {
		copy_header(resp->error, sizeof(resp->error), hr.error);
		log_debug("aws: %s '%s' failed: %s", req->method, req->url, resp->error);
	} else {
		r = take_answer(resp, &hr);
		log_debug("aws: %s '%s': HTTP %ld", req->method, req->url, resp->status);
	}
	reg_http_resp_release(&hr);
	reg_http_free(h);
	return r;
}
