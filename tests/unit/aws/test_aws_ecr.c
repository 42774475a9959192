/* SPDX-License-Identifier: MIT */
/*
 * ECR host recognition (table), the API endpoint of each partition, the
 * test alias, GetAuthorizationToken answers (expiresAt forms), AWS JSON
 * error mapping.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "registry/aws/aws.h"
#include "tap.h"

struct host_case {
	const char *host;
	bool ok;
	const char *account, *region, *suffix;
	bool fips, dualstack;
	const char *endpoint;
};

static const struct host_case hosts[] = {
	{ "123456789012.dkr.ecr.us-east-1.amazonaws.com", true, "123456789012", "us-east-1",
	  "amazonaws.com", false, false, "https://api.ecr.us-east-1.amazonaws.com" },
	{ "https://123456789012.dkr.ecr.eu-west-3.amazonaws.com/", true, "123456789012",
	  "eu-west-3", "amazonaws.com", false, false, "https://api.ecr.eu-west-3.amazonaws.com" },
	{ "123456789012.DKR.ECR.US-WEST-2.AMAZONAWS.COM", true, "123456789012", "us-west-2",
	  "amazonaws.com", false, false, "https://api.ecr.us-west-2.amazonaws.com" },
	{ "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", true, "123456789012",
	  "us-gov-west-1", "amazonaws.com", true, false,
	  "https://ecr-fips.us-gov-west-1.amazonaws.com" },
	{ "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", true, "123456789012", "cn-north-1",
	  "amazonaws.com.cn", false, false, "https://api.ecr.cn-north-1.amazonaws.com.cn" },
	{ "123456789012.dkr-ecr.us-east-1.on.aws", true, "123456789012", "us-east-1", "on.aws",
	  false, true, "https://ecr.us-east-1.api.aws" },
	{ "123456789012.dkr-ecr.cn-northwest-1.on.amazonwebservices.com.cn", true,
	  "123456789012", "cn-northwest-1", "on.amazonwebservices.com.cn", false, true,
	  "https://ecr.cn-northwest-1.api.amazonwebservices.com.cn" },
	{ "123456789012.dkr.ecr.eusc-de-east-1.amazonaws.eu", true, "123456789012",
	  "eusc-de-east-1", "amazonaws.eu", false, false,
	  "https://api.ecr.eusc-de-east-1.amazonaws.eu" },
	{ "123456789012.dkr.ecr.us-iso-east-1.c2s.ic.gov", true, "123456789012", "us-iso-east-1",
	  "c2s.ic.gov", false, false, "https://api.ecr.us-iso-east-1.c2s.ic.gov" },
	{ "12345678901.dkr.ecr.us-east-1.amazonaws.com", false },      /* 11 digits */
	{ "1234567890123.dkr.ecr.us-east-1.amazonaws.com", false },    /* 13 digits */
	{ "123456789012.dkr.ecr.us-east-1.amazonaws.com:443", false }, /* port */
	{ "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.com", false },
	{ "123456789012.dkr.ecr..amazonaws.com", false },
	{ "123456789012.dkr.ecr.-us.amazonaws.com", false },
	{ "123456789012.ecr.us-east-1.amazonaws.com", false },
	{ "public.ecr.aws", false },
	{ "registry-1.docker.io", false },
	{ "127.0.0.1:5000", false },
	{ "", false },
};

static void host_table(void)
{
	struct reg_ecr_host h;
	char ep[256];
	size_t i;

	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		const struct host_case *c = &hosts[i];

		memset(&h, 0x5a, sizeof(h));
		if (!c->ok) {
			ok(!reg_ecr_host_parse(c->host, &h), "'%s' is not ECR", c->host);
			continue;
		}
		if (!ok(reg_ecr_host_parse(c->host, &h), "'%s' is ECR", c->host))
			continue;
		is_str(h.account, c->account, "'%s' account", c->host);
		is_str(h.region, c->region, "'%s' region", c->host);
		is_str(h.suffix, c->suffix, "'%s' partition suffix", c->host);
		ok(h.fips == c->fips && h.dualstack == c->dualstack && !h.alias,
		   "'%s' fips/dual-stack flags", c->host);
		is_int(reg_ecr_endpoint(NULL, &h, ep, sizeof(ep)), 0, "'%s' endpoint", c->host);
		is_str(ep, c->endpoint, "'%s' API endpoint", c->host);
	}
	ok(!reg_ecr_host_parse(NULL, &h), "NULL is not ECR");
}

static void alias(void)
{
	struct reg_ecr_host h;
	char ep[256];

	unsetenv("STRATAFS_ECR_HOST_ALIAS");
	ok(!reg_ecr_host_detect("127.0.0.1:5000", &h), "no alias: loopback is not ECR");
	setenv("STRATAFS_ECR_HOST_ALIAS", "127.0.0.1:5000=210987654321/eu-central-1", 1);
	ok(reg_ecr_host_detect("127.0.0.1:5000", &h) && h.alias, "alias host is ECR");
	is_str(h.account, "210987654321", "alias account");
	is_str(h.region, "eu-central-1", "alias region");
	ok(!reg_ecr_host_detect("127.0.0.1:5001", &h), "another port is not the alias");
	ok(reg_ecr_host_detect("123456789012.dkr.ecr.us-east-1.amazonaws.com", &h) && !h.alias,
	   "real ECR hosts still detected with an alias set");
	setenv("STRATAFS_ECR_HOST_ALIAS", "localhost:1234", 1);
	ok(reg_ecr_host_detect("localhost:1234", &h), "alias without target");
	is_str(h.account, "000000000000", "alias default account");
	is_str(h.region, "us-east-1", "alias default region");
	setenv("STRATAFS_ECR_HOST_ALIAS", "localhost:1234=12/x", 1);
	ok(!reg_ecr_host_detect("localhost:1234", &h), "malformed alias target is refused");
	unsetenv("STRATAFS_ECR_HOST_ALIAS");
	setenv("AWS_ENDPOINT_URL_ECR", "http://127.0.0.1:9/", 1);
	reg_ecr_host_parse("123456789012.dkr.ecr.us-east-1.amazonaws.com", &h);
	reg_ecr_endpoint(NULL, &h, ep, sizeof(ep));
	is_str(ep, "http://127.0.0.1:9/", "AWS_ENDPOINT_URL_ECR overrides the endpoint");
	{
		struct reg_aws_opts o = { .ecr_endpoint = "https://x.example" };

		reg_ecr_endpoint(&o, &h, ep, sizeof(ep));
	}
	is_str(ep, "https://x.example", "the option overrides the environment");
	unsetenv("AWS_ENDPOINT_URL_ECR");
}

/* base64("AWS:secret-pw") */
#define TOK "QVdTOnNlY3JldC1wdw=="

static void token_parse(void)
{
	static const struct {
		const char *json;
		int r;
		long long exp;
	} t[] = {
		{ "{\"authorizationData\":[{\"authorizationToken\":\"" TOK "\",\"expiresAt\":"
		  "1.741126502241E9,\"proxyEndpoint\":\"https://x\"}]}", 0, 1741126502 },
		{ "{\"authorizationData\":[{\"authorizationToken\":\"" TOK "\",\"expiresAt\":"
		  "1448875853.241}]}", 0, 1448875853 },
		{ "{\"authorizationData\":[{\"authorizationToken\":\"" TOK "\",\"expiresAt\":"
		  "1741126502}]}", 0, 1741126502 },
		{ "{\"authorizationData\":[{\"authorizationToken\":\"" TOK "\",\"expiresAt\":"
		  "1.741126502241e+09}]}", 0, 1741126502 },
		{ "{\"authorizationData\":[{\"authorizationToken\":\"" TOK "\",\"expiresAt\":"
		  "\"1741126502\"}]}", -EBADMSG, 0 },
		{ "{\"authorizationData\":[{\"authorizationToken\":\"" TOK "\",\"expiresAt\":"
		  "-5}]}", -EBADMSG, 0 },
		{ "{\"authorizationData\":[{\"authorizationToken\":\"bm9jb2xvbg==\","
		  "\"expiresAt\":1741126502}]}", -EBADMSG, 0 }, /* "nocolon" */
		{ "{\"authorizationData\":[{\"authorizationToken\":\"!!!!\","
		  "\"expiresAt\":1741126502}]}", -EBADMSG, 0 },
		{ "{\"authorizationData\":[]}", -EBADMSG, 0 },
		{ "not json", -EBADMSG, 0 },
	};
	char *tok = NULL, *u = NULL, *p = NULL;
	time_t exp = 0;
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		tok = NULL;
		exp = 0;
		is_int(reg_ecr_token_parse(t[i].json, strlen(t[i].json), &tok, &exp), t[i].r,
		       "token answer %zu parses as expected", i);
		if (t[i].r == 0) {
			is_int(exp, t[i].exp, "expiresAt of answer %zu", i);
			is_str(tok, TOK, "token of answer %zu", i);
		}
		free(tok);
	}
	is_int(reg_ecr_token_decode(TOK, &u, &p), 0, "token decodes");
	is_str(u, "AWS", "user");
	is_str(p, "secret-pw", "password");
	free(u);
	free(p);
}

static void errors(void)
{
	const char *thr = "{\"__type\":\"com.amazonaws.ecr#ThrottlingException\","
			  "\"message\":\"Rate exceeded\"}";
	char t[64];

	is_int(reg_aws_error_map(400, NULL, thr, strlen(thr), t, sizeof(t)),
	       -EAGAIN, "ThrottlingException in __type -> EAGAIN");
	is_str(t, "ThrottlingException", "type after '#'");
	is_int(reg_aws_error_map(400, "AccessDeniedException:http://internal.amazon.com/", "", 0,
				 t, sizeof(t)),
	       -EACCES, "x-amzn-ErrorType AccessDenied -> EACCES");
	is_str(t, "AccessDeniedException", "header type before ':'");
	is_int(reg_aws_error_map(400, NULL, "{\"__type\":\"AccessDeniedException\"}", 34, NULL, 0),
	       -EACCES, "plain __type AccessDenied");
	is_int(reg_aws_error_map(403, NULL, "{\"__type\":\"InvalidSignatureException\"}", 38, NULL,
				 0),
	       -EACCES, "bad signature -> EACCES");
	is_int(reg_aws_error_map(400, NULL, "{\"__type\":\"ExpiredTokenException\"}", 34, NULL, 0),
	       -EACCES, "expired session token -> EACCES");
	is_int(reg_aws_error_map(503, NULL, "<html>", 6, NULL, 0), -EAGAIN, "503 -> EAGAIN");
	is_int(reg_aws_error_map(429, NULL, NULL, 0, NULL, 0), -EAGAIN, "429 -> EAGAIN");
	is_int(reg_aws_error_map(400, NULL, "{\"__type\":\"InvalidParameterException\"}", 38, NULL,
				 0),
	       -EINVAL, "other 400 -> EINVAL");
	is_int(reg_aws_error_map(404, NULL, "", 0, NULL, 0), -EIO, "404 -> EIO");
}

int main(void)
{
	host_table();
	alias();
	token_parse();
	errors();
	return tap_done();
}
