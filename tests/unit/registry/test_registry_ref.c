/* SPDX-License-Identifier: MIT */
/* Image references: the docker grammar, normalisation and clear rejections. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry.h"
#include "tap.h"

#define D "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct ok_case {
	const char *in, *host, *repo, *tag, *digest, *formatted;
};

static const struct ok_case good[] = {
	{ "alpine", "registry-1.docker.io", "library/alpine", "latest", NULL,
	  "registry-1.docker.io/library/alpine:latest" },
	{ "alpine:3.19", "registry-1.docker.io", "library/alpine", "3.19", NULL, NULL },
	{ "docker.io/alpine", "registry-1.docker.io", "library/alpine", "latest", NULL, NULL },
	{ "index.docker.io/library/alpine:edge", "registry-1.docker.io", "library/alpine", "edge",
	  NULL, NULL },
	{ "docker.io/bitnami/redis", "registry-1.docker.io", "bitnami/redis", "latest", NULL, NULL },
	{ "user/app", "registry-1.docker.io", "user/app", "latest", NULL, NULL },
	{ "localhost/app", "localhost", "app", "latest", NULL, NULL },
	{ "localhost:5000/app:v1", "localhost:5000", "app", "v1", NULL,
	  "localhost:5000/app:v1" },
	{ "127.0.0.1:5000/a/b/c:t", "127.0.0.1:5000", "a/b/c", "t", NULL, NULL },
	{ "[::1]:5000/app:t", "[::1]:5000", "app", "t", NULL, NULL },
	{ "[::1]/app", "[::1]", "app", "latest", NULL, NULL },
	{ "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:build-cache",
	  "123456789012.dkr.ecr.us-east-1.amazonaws.com", "app", "build-cache", NULL, NULL },
	{ "ghcr.io/o/r@" D, "ghcr.io", "o/r", NULL, D, "ghcr.io/o/r@" D },
	{ "ghcr.io/o/r:v1@" D, "ghcr.io", "o/r", "v1", D, "ghcr.io/o/r:v1@" D },
	{ "Registry.Example.com/a", "Registry.Example.com", "a", "latest", NULL, NULL },
	{ "r.io/a.b_c__d-e---f/g", "r.io", "a.b_c__d-e---f/g", "latest", NULL, NULL },
	{ "r.io/a:_T.1-x", "r.io", "a", "_T.1-x", NULL, NULL },
	{ "my-host:1/a", "my-host:1", "a", "latest", NULL, NULL },
};

static const char *const bad[] = {
	"",
	"Alpine",                 /* uppercase repository */
	"r.io/App",               /* uppercase repository */
	"r.io/",                  /* empty name */
	"r.io/a/",                /* empty component */
	"r.io//a",
	"r.io/a:",                /* empty tag */
	"r.io/a:-x",              /* tag starting with '-' */
	"r.io/a:t@sha256:1234",   /* short digest */
	"r.io/a@md5:0123456789abcdef0123456789abcdef", /* other algorithm */
	"r.io/a@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
	"r.io/a_",                /* trailing separator */
	"r.io/_a",
	"r.io/a___b",             /* three underscores */
	"r.io/a..b",
	"r.io:99999/a",           /* port out of range */
	"r.io:/a",
	"r.io:p/a",
	"-r.io/a",
	"r-.io/a",
	"r..io/a",
	"[::1/a",
	"[zz]/a",
	"a b",
	"a/b c",
	"r.io/a:t:u",
	"r.io/a@",
	("@" D),
	":tag",
};

static void long_names(void)
{
	char name[400];
	struct reg_ref ref;

	/* 255 characters of name is the limit */
	memset(name, 'a', sizeof(name));
	memcpy(name, "r.io/", 5);
	name[255] = '\0';
	ok(reg_ref_parse(name, &ref) == 0, "255-char name accepted");
	reg_ref_release(&ref);
	name[255] = 'a';
	name[256] = '\0';
	ok(reg_ref_parse(name, &ref) == -EINVAL, "256-char name rejected");
	memset(name, 'a', sizeof(name));
	memcpy(name, "r.io/a:", 7);
	name[7 + 128] = '\0';
	ok(reg_ref_parse(name, &ref) == 0, "128-char tag accepted");
	reg_ref_release(&ref);
	name[7 + 128] = 'a';
	name[7 + 129] = '\0';
	ok(reg_ref_parse(name, &ref) == -EINVAL, "129-char tag rejected");
	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	ok(reg_ref_parse(name, &ref) == -EINVAL, "399-char reference rejected");
}

int main(void)
{
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const struct ok_case *c = &good[i];
		struct reg_ref ref = { 0 };
		char *f;

		if (!ok(reg_ref_parse(c->in, &ref) == 0, "'%s' parses", c->in))
			continue;
		is_str(ref.host, c->host, "'%s' host", c->in);
		is_str(ref.repo, c->repo, "'%s' repo", c->in);
		is_str(ref.tag, c->tag, "'%s' tag", c->in);
		is_str(ref.digest, c->digest, "'%s' digest", c->in);
		is_str(reg_ref_reference(&ref), c->digest ? c->digest : c->tag, "'%s' reference",
		       c->in);
		if (c->formatted) {
			f = reg_ref_format(&ref);
			is_str(f, c->formatted, "'%s' formats", c->in);
			free(f);
		}
		reg_ref_release(&ref);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct reg_ref ref = { 0 };

		is_int(reg_ref_parse(bad[i], &ref), -EINVAL, "'%s' is rejected", bad[i]);
		ok(!ref.host && !ref.repo && !ref.tag, "'%s' leaves the output untouched", bad[i]);
	}
	long_names();
	reg_ref_release(NULL);
	return tap_done();
}
