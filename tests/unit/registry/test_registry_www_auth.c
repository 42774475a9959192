/* SPDX-License-Identifier: MIT */
/* WWW-Authenticate parsing, the token response, and Basic's base64. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry_int.h"
#include "tap.h"

struct auth_case {
	const char *in;
	int ret;
	const char *scheme, *realm, *service, *scope, *error;
};

static const struct auth_case cases[] = {
	{ "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
	  "scope=\"repository:samalba/my-app:pull,push\"",
	  0, "bearer", "https://auth.docker.io/token", "registry.docker.io",
	  "repository:samalba/my-app:pull,push", NULL },
	{ "Basic realm=\"https://123456789012.dkr.ecr.us-east-1.amazonaws.com/\",service=\"ecr.amazonaws.com\"",
	  0, "basic", "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/", "ecr.amazonaws.com",
	  NULL, NULL },
	/* case-insensitive scheme and keys, spaces around '=' and ',' */
	{ "BEARER  Realm = \"https://a/t\" , SERVICE=svc", 0, "bearer", "https://a/t", "svc", NULL,
	  NULL },
	/* quoted strings with escapes */
	{ "Bearer realm=\"https://a/t\",scope=\"repo:a\\\"b\\\\c:pull\"", 0, "bearer", "https://a/t",
	  NULL, "repo:a\"b\\c:pull", NULL },
	/* a comma inside a quoted value */
	{ "Bearer realm=\"https://a/t\",scope=\"repository:x:pull,push\",error=\"invalid_token\"", 0,
	  "bearer", "https://a/t", NULL, "repository:x:pull,push", "invalid_token" },
	/* several challenges: Bearer preferred over Basic whatever the order */
	{ "Basic realm=\"b\", Bearer realm=\"https://t\",service=\"s\"", 0, "bearer", "https://t",
	  "s", NULL, NULL },
	{ "Bearer realm=\"https://t\", Basic realm=\"b\"", 0, "bearer", "https://t", NULL, NULL,
	  NULL },
	{ "Negotiate abc==, Basic realm=\"r\"", 0, "basic", "r", NULL, NULL, NULL },
	{ "Digest realm=\"x\", nonce=\"y\", Basic realm=\"r\"", 0, "basic", "r", NULL, NULL, NULL },
	{ "Basic", 0, "basic", NULL, NULL, NULL, NULL },
	{ "Digest realm=\"x\"", 0, "digest", "x", NULL, NULL, NULL },
	/* the first of a repeated key wins */
	{ "Bearer realm=\"https://one\",realm=\"https://two\"", 0, "bearer", "https://one", NULL,
	  NULL, NULL },
	/* unterminated quote: the params are dropped, the scheme kept */
	{ "Bearer realm=\"https://x", 0, "bearer", NULL, NULL, NULL, NULL },
	{ "Bearer realm=\"x\\", 0, "bearer", NULL, NULL, NULL, NULL },
	/* junk */
	{ "", -EINVAL, NULL, NULL, NULL, NULL, NULL },
	{ "   ,,, ", -EINVAL, NULL, NULL, NULL, NULL, NULL },
	{ "=\"x\"", -EINVAL, NULL, NULL, NULL, NULL, NULL },
	{ "\"quoted\" \x01\x02", -EINVAL, NULL, NULL, NULL, NULL, NULL },
	{ "AVeryLongSchemeNameIndeed realm=\"x\"", -EINVAL, NULL, NULL, NULL, NULL, NULL },
	{ "AVeryLongSchemeNameIndeed realm=\"x\", Basic", 0, "basic", NULL, NULL, NULL, NULL },
};

static void tokens(void)
{
	char *tok = NULL;
	unsigned ttl = 0;
	const char *j1 = "{\"token\":\"abc\",\"expires_in\":300}";
	const char *j2 = "{\"token\":\"t1\",\"access_token\":\"t2\"}";
	const char *j3 = "{\"expires_in\":10}";
	const char *j4 = "{\"token\":\"x\",\"expires_in\":-5}";

	ok(reg_token_parse(j1, strlen(j1), &tok, &ttl) == 0, "token response parses");
	is_str(tok, "abc", "token");
	is_int(ttl, 300, "expires_in");
	free(tok);
	ok(reg_token_parse(j2, strlen(j2), &tok, &ttl) == 0, "token and access_token");
	is_str(tok, "t2", "access_token preferred");
	is_int(ttl, 60, "expires_in defaults to 60");
	free(tok);
	is_int(reg_token_parse(j3, strlen(j3), &tok, &ttl), -EBADMSG, "no token: rejected");
	is_int(reg_token_parse("[]", 2, &tok, &ttl), -EBADMSG, "not an object: rejected");
	is_int(reg_token_parse("{", 1, &tok, &ttl), -EBADMSG, "bad JSON: rejected");
	ok(reg_token_parse(j4, strlen(j4), &tok, &ttl) == 0 && ttl == 60,
	   "negative expires_in: default");
	free(tok);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct auth_case *c = &cases[i];
		struct reg_challenge ch = { 0 };
		int r = reg_www_auth_parse(c->in, &ch);

		is_int(r, c->ret, "case %zu: '%s'", i, c->in);
		if (r < 0)
			continue;
		is_str(ch.scheme, c->scheme, "case %zu: scheme", i);
		is_str(ch.realm, c->realm, "case %zu: realm", i);
		is_str(ch.service, c->service, "case %zu: service", i);
		is_str(ch.scope, c->scope, "case %zu: scope", i);
		is_str(ch.error, c->error, "case %zu: error", i);
		reg_challenge_release(&ch);
	}
	tokens();
	return tap_done();
}
