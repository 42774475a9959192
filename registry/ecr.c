/* SPDX-License-Identifier: MIT */
/*
 * Amazon ECR auth glue: an ECR registry (or a host named by
 * STRATAFS_ECR_HOST_ALIAS) without credentials from the user or docker's
 * config gets its Basic credential from registry/aws: GetAuthorizationToken
 * over the AWS credential chain, cached until half-life. The client then
 * sends it from the first request (ECR always wants it), and a 401, or a
 * 403 without a challenge (ECR's expired token), drops it for a fresh one.
 */
#include <errno.h>
#include <string.h>

#include "common/log.h"
#include "registry/aws/aws.h"
#include "registry/registry_int.h"

int reg_auth_ecr_setup(struct reg_client *c, const struct reg_opts *o)
{
	struct reg_aws_opts ao = { 0 };
	struct reg_ecr_host h;
	int r;

	if (c->auth.cred.username || c->auth.cred.identity_token)
		return 0;
	if (!reg_ecr_host_detect(c->host, &h))
		return 0;
	ao.cache_dir = o->token_cache_dir;
	/*
	 * Not o->ca_file: the user's bundle is for the registry, and CURLOPT_CAINFO
	 * replaces the system bundle, so the real api.ecr endpoint would fail TLS.
	 * The AWS endpoints have their own: AWS_CA_BUNDLE (registry/aws/http_aws.c).
	 */
	ao.ca_file = NULL;
	ao.timeout_ms = o->connect_timeout_ms;
	ao.retries = o->retries;
	r = reg_ecr_auth_new(&ao, &h, &c->auth.ecr);
	if (r < 0) {
		log_err("cannot set up ECR auth for '%s': %s", c->host, strerror(-r));
		return r;
	}
	c->auth.mode = REG_AUTH_ECR;
	log_info("'%s' is ECR (account %s, region %s): authenticating with AWS credentials",
		 c->host, h.account, h.region);
	return 0;
}

int reg_auth_ecr_header(struct reg_client *c, char **out)
{
	int r = reg_ecr_auth_header(c->auth.ecr, out);

	if (r < 0) {
		log_err("cannot get an ECR token for '%s': %s", c->host,
			r == -ENOENT ? "no AWS credentials found" : strerror(-r));
		return r == -EAGAIN || r == -ETIMEDOUT || r == -EHOSTUNREACH ? r : -EACCES;
	}
	return 0;
}

void reg_auth_ecr_invalidate(struct reg_client *c, const char *refused)
{
	log_info("ECR refused the token for '%s': fetching a new one", c->host);
	reg_ecr_auth_invalidate(c->auth.ecr, refused);
}

void reg_auth_ecr_release(struct reg_auth *a)
{
	reg_ecr_auth_free(a->ecr);
	a->ecr = NULL;
}
