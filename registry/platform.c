/* SPDX-License-Identifier: MIT */
/*
 * Platforms ("os/arch[/variant]", OCI names) and picking an index entry.
 * The host platform comes from uname(2), mapped to GOARCH names. Matching
 * follows containerd's rules where it matters: arm64 without a variant is
 * arm64/v8; a request without a variant prefers an entry without one.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "common/log.h"
#include "registry/registry_int.h"

#define PLATFORM_PART_MAX 64

void reg_platform_release(struct reg_platform *p)
{
	if (!p)
		return;
	free(p->os);
	free(p->arch);
	free(p->variant);
	p->os = p->arch = p->variant = NULL;
}

static const char *norm_arch(const char *a, const char **variant)
{
	static const struct { const char *from, *to, *variant; } map[] = {
		{ "x86_64", "amd64", NULL }, { "x86-64", "amd64", NULL },
		{ "aarch64", "arm64", NULL }, { "armhf", "arm", "v7" },
		{ "armel", "arm", "v6" },     { "armv7l", "arm", "v7" },
		{ "armv6l", "arm", "v6" },    { "armv5tel", "arm", "v5" },
		{ "i386", "386", NULL },      { "i486", "386", NULL },
		{ "i586", "386", NULL },      { "i686", "386", NULL },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(a, map[i].from) == 0) {
			if (map[i].variant && !*variant)
				*variant = map[i].variant;
			return map[i].to;
		}
	}
	return a;
}

static int fill(struct reg_platform *out, const char *os, const char *arch, const char *variant)
{
	arch = norm_arch(arch, &variant);
	out->os = strdup(os);
	out->arch = strdup(arch);
	out->variant = variant ? strdup(variant) : NULL;
	if (!out->os || !out->arch || (variant && !out->variant)) {
		reg_platform_release(out);
		return -ENOMEM;
	}
	return 0;
}

/* Host platform from uname(2). */
static int reg_platform_host(struct reg_platform *out)
{
	struct utsname u;
	char os[sizeof(u.sysname)];

	memset(out, 0, sizeof(*out));
	if (uname(&u) < 0)
		return -errno;
	for (size_t i = 0; i < sizeof(os); i++)
		os[i] = (char)tolower((unsigned char)u.sysname[i]);
	os[sizeof(os) - 1] = '\0';
	return fill(out, os, u.machine, NULL);
}

static bool part_ok(const char *s, size_t n)
{
	if (n == 0 || n > PLATFORM_PART_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
			return false;
	return true;
}

int reg_platform_parse(const char *s, struct reg_platform *out)
{
	char parts[3][PLATFORM_PART_MAX + 1] = { { 0 } };
	const char *p = s;
	size_t k = 0;

	if (!s || !*s)
		return reg_platform_host(out);
	memset(out, 0, sizeof(*out));
	for (;;) {
		size_t n = strcspn(p, "/");

		if (k == 3 || !part_ok(p, n)) {
			log_err("invalid platform '%s': want os/arch[/variant]", s);
			return -EINVAL;
		}
		memcpy(parts[k++], p, n);
		for (char *q = parts[k - 1]; *q; q++)
			*q = (char)tolower((unsigned char)*q);
		if (!p[n])
			break;
		p += n + 1;
	}
	if (k < 2) {
		log_err("invalid platform '%s': want os/arch[/variant]", s);
		return -EINVAL;
	}
	return fill(out, parts[0], parts[1], k == 3 ? parts[2] : NULL);
}

static const char *eff_variant(const char *arch, const char *variant)
{
	if (!variant && strcmp(arch, "arm64") == 0)
		return "v8";
	return variant;
}

/* 2: exact, 1: acceptable, 0: no. */
static int score(const struct reg_descriptor *d, const struct reg_platform *p)
{
	const char *want, *have;

	/* An artifact (a SOCI v2 index, say) may carry the image's platform: never the image. */
	if (d->artifact_type || !d->has_platform || strcmp(d->platform.os, p->os) != 0 ||
	    strcmp(d->platform.arch, p->arch) != 0)
		return 0;
	if (!p->variant)
		return d->platform.variant ? 1 : 2;
	want = eff_variant(p->arch, p->variant);
	have = eff_variant(d->platform.arch, d->platform.variant);
	if (have && strcmp(want, have) == 0)
		return 2;
	return 0;
}

int reg_index_select(const struct reg_manifest *index, const struct reg_platform *platform,
		     const struct reg_descriptor **out)
{
	struct reg_platform host = { 0 };
	const struct reg_descriptor *best = NULL;
	int best_score = 0, r;

	if (index->kind != REG_MANIFEST_INDEX)
		return -EINVAL;
	if (!platform) {
		r = reg_platform_host(&host);
		if (r < 0)
			return r;
		platform = &host;
	}
	for (size_t i = 0; i < index->n_manifests; i++) {
		int s = score(&index->manifests[i], platform);

		if (s > best_score) {
			best_score = s;
			best = &index->manifests[i];
		}
	}
	if (!best)
		log_err("no manifest for platform '%s/%s%s%s' in the index", platform->os,
			platform->arch, platform->variant ? "/" : "", platform->variant ? platform->variant : "");
	reg_platform_release(&host);
	if (!best)
		return -ENOENT;
	*out = best;
	return 0;
}
