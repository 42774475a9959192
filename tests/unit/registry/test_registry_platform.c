/* SPDX-License-Identifier: MIT */
/* Platforms: parsing, the host default, picking an index entry. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "registry/registry.h"
#include "tap.h"

#define D(c) "sha256:" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
	c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c

static const char idx[] =
	"{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\",\"manifests\":["
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D("1") "\",\"size\":1,"
	"\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D("2") "\",\"size\":1,"
	"\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v6\"}},"
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D("3") "\",\"size\":1,"
	"\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}},"
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D("4") "\",\"size\":1,"
	"\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D("5") "\",\"size\":1,"
	"\"platform\":{\"os\":\"windows\",\"architecture\":\"amd64\"}},"
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D("6") "\",\"size\":1,"
	"\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}},"
	"{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" D("7") "\",\"size\":1}]}";

static void pick(const struct reg_manifest *m, const char *plat, const char *want)
{
	struct reg_platform p = { 0 };
	const struct reg_descriptor *d = NULL;
	int r;

	if (!ok(reg_platform_parse(plat, &p) == 0, "'%s' parses", plat))
		return;
	r = reg_index_select(m, &p, &d);
	if (want)
		ok(r == 0 && d && strcmp(d->digest, want) == 0, "'%s' picks %.10s", plat, want);
	else
		is_int(r, -ENOENT, "'%s' has no match", plat);
	reg_platform_release(&p);
}

static void parsing(void)
{
	static const char *const bad[] = { "linux", "linux/", "/amd64", "linux/amd64/v1/x",
					   "linux//v8", "lin ux/amd64", "linux/amd64/" };
	struct reg_platform p = { 0 };

	ok(reg_platform_parse("linux/arm64/v8", &p) == 0, "os/arch/variant");
	is_str(p.os, "linux", "os");
	is_str(p.arch, "arm64", "arch");
	is_str(p.variant, "v8", "variant");
	reg_platform_release(&p);
	ok(reg_platform_parse("Linux/x86_64", &p) == 0, "uname-style names");
	is_str(p.os, "linux", "lowercased os");
	is_str(p.arch, "amd64", "x86_64 -> amd64");
	ok(p.variant == NULL, "no variant");
	reg_platform_release(&p);
	ok(reg_platform_parse("linux/aarch64", &p) == 0 && strcmp(p.arch, "arm64") == 0,
	   "aarch64 -> arm64");
	reg_platform_release(&p);
	ok(reg_platform_parse("linux/armv7l", &p) == 0 && strcmp(p.arch, "arm") == 0 &&
		   p.variant && strcmp(p.variant, "v7") == 0,
	   "armv7l -> arm/v7");
	reg_platform_release(&p);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		is_int(reg_platform_parse(bad[i], &p), -EINVAL, "'%s' rejected", bad[i]);
		reg_platform_release(&p);
	}
}

static void host(const struct reg_manifest *m)
{
	struct reg_platform p = { 0 };
	const struct reg_descriptor *d = NULL;
	struct utsname u;

	ok(reg_platform_parse(NULL, &p) == 0 && strcmp(p.os, "linux") == 0, "host platform");
	uname(&u);
	if (strcmp(u.machine, "x86_64") == 0) {
		is_str(p.arch, "amd64", "host arch from uname");
		ok(reg_index_select(m, NULL, &d) == 0 && strcmp(d->digest, D("1")) == 0,
		   "NULL platform picks the host's entry");
	} else {
		ok(1, "host arch %s (not checked)", p.arch);
		ok(1, "host pick not checked");
	}
	reg_platform_release(&p);
	ok(reg_platform_parse("", &p) == 0 && p.os, "empty string: host platform");
	reg_platform_release(&p);
}

int main(void)
{
	struct reg_manifest *m = NULL;

	parsing();
	if (!ok(reg_manifest_parse(idx, strlen(idx), NULL, &m) == 0, "index parses"))
		return tap_done();
	pick(m, "linux/amd64", D("1"));
	pick(m, "linux/arm/v7", D("3"));
	pick(m, "linux/arm/v6", D("2"));
	pick(m, "linux/arm/v5", NULL);
	pick(m, "linux/arm64", D("4"));
	pick(m, "linux/arm64/v8", D("4"));
	pick(m, "windows/amd64", D("5"));
	pick(m, "linux/s390x", NULL);
	pick(m, "darwin/amd64", NULL);
	host(m);
	reg_manifest_free(m);
	return tap_done();
}
