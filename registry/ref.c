/* SPDX-License-Identifier: MIT */
/*
 * Image references, the docker grammar (distribution/reference):
 *
 *   reference  := name [ ":" tag ] [ "@" digest ]
 *   name       := [ domain "/" ] path            (at most 255 chars)
 *   domain     := host [ ":" port ]              host: dns name, IPv4, "[" IPv6 "]"
 *   path       := component ( "/" component )*   component: [a-z0-9]+ (sep [a-z0-9]+)*
 *   sep        := "." | "_" | "__" | "-"+
 *   tag        := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 *
 * The first path element is a domain when it contains "." or ":", is
 * "localhost", or has an uppercase letter (docker's rule); otherwise the
 * reference is on Docker Hub: host "registry-1.docker.io" and "library/"
 * before a one-component name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/digest.h"
#include "common/log.h"
#include "registry/registry_int.h"

#define NAME_MAX_LEN 255
#define TAG_MAX_LEN 128
#define DOCKER_HUB_HOST "registry-1.docker.io"

static bool is_lower_alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
}

static bool is_alnum(char ch)
{
	return is_lower_alnum(ch) || (ch >= 'A' && ch <= 'Z');
}

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* One path component [s, e): alnum runs joined by separators. */
static bool component_ok(const char *s, const char *e)
{
	const char *p = s;

	if (p == e || !is_lower_alnum(*p))
		return false;
	while (p < e) {
		const char *sep = p;

		while (p < e && is_lower_alnum(*p))
			p++;
		if (p == e)
			return true;
		sep = p;
		if (*p == '.' || (*p == '_' && (p + 1 == e || p[1] != '_')))
			p++;
		else if (*p == '_')
			p += 2;
		else
			while (p < e && *p == '-')
				p++;
		if (p == sep || p == e || !is_lower_alnum(*p))
			return false;
	}
	return true;
}

static bool path_ok(const char *path, const char **why)
{
	const char *s = path;

	for (;;) {
		const char *e = strchr(s, '/');

		if (!e)
			e = s + strlen(s);
		if (!component_ok(s, e)) {
			for (const char *q = s; q < e; q++) {
				if (*q >= 'A' && *q <= 'Z') {
					*why = "repository name must be lowercase";
					return false;
				}
			}
			*why = "invalid repository name";
			return false;
		}
		if (!*e)
			return true;
		s = e + 1;
	}
}

static bool dns_ok(const char *s, const char *e)
{
	const char *label = s;

	if (s == e)
		return false;
	for (const char *p = s; p <= e; p++) {
		if (p == e || *p == '.') {
			if (p == label || label[0] == '-' || p[-1] == '-')
				return false;
			label = p + 1;
			continue;
		}
		if (!is_alnum(*p) && *p != '-')
			return false;
	}
	return true;
}

static bool port_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!is_digit(s[i]))
			return false;
	return strtoul(s, NULL, 10) >= 1 && strtoul(s, NULL, 10) <= 65535;
}

static bool domain_ok(const char *d)
{
	const char *colon;

	if (d[0] == '[') {
		const char *close = strchr(d, ']');

		if (!close || close == d + 1)
			return false;
		for (const char *p = d + 1; p < close; p++)
			if (!(is_digit(*p) || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F') ||
			      *p == ':' || *p == '.'))
				return false;
		if (!close[1])
			return true;
		return close[1] == ':' && port_ok(close + 2);
	}
	colon = strchr(d, ':');
	if (!colon)
		return dns_ok(d, d + strlen(d));
	return dns_ok(d, colon) && port_ok(colon + 1);
}

static bool tag_ok(const char *t)
{
	size_t n = strlen(t);

	if (n == 0 || n > TAG_MAX_LEN)
		return false;
	if (!is_alnum(t[0]) && t[0] != '_')
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_alnum(t[i]) && t[i] != '_' && t[i] != '.' && t[i] != '-')
			return false;
	return true;
}

static bool looks_like_domain(const char *first, size_t n)
{
	if (n == 9 && strncmp(first, "localhost", 9) == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (first[i] == '.' || first[i] == ':' || first[i] == '[' ||
		    (first[i] >= 'A' && first[i] <= 'Z'))
			return true;
	return false;
}

/* Split @name into host and repository with Docker Hub normalisation. */
static int split_name(char *name, struct reg_ref *out, const char **why)
{
	char *slash = strchr(name, '/');
	const char *host = DOCKER_HUB_HOST;
	char *path = name;
	bool hub = true;

	if (slash && looks_like_domain(name, (size_t)(slash - name))) {
		*slash = '\0';
		if (!domain_ok(name)) {
			*why = "invalid registry host";
			return -EINVAL;
		}
		host = name;
		path = slash + 1;
		hub = strcmp(host, "docker.io") == 0 || strcmp(host, "index.docker.io") == 0;
		if (hub)
			host = DOCKER_HUB_HOST;
	}
	if (!*path || !path_ok(path, why)) {
		if (!*path)
			*why = "empty repository name";
		return -EINVAL;
	}
	out->host = strdup(host);
	if (hub && !strchr(path, '/')) {
		size_t n = strlen(path) + sizeof("library/");

		out->repo = malloc(n);
		if (out->repo)
			snprintf(out->repo, n, "library/%s", path);
	} else {
		out->repo = strdup(path);
	}
	return out->host && out->repo ? 0 : -ENOMEM;
}

static int parse(char *s, struct reg_ref *out, const char **why)
{
	char *at = strchr(s, '@');
	char *colon, *slash;

	if (at) {
		*at = '\0';
		if (!digest_is_valid(at + 1)) {
			*why = strncmp(at + 1, "sha256:", 7) == 0 || !strchr(at + 1, ':') ?
				       "invalid digest" : "unsupported digest algorithm";
			return -EINVAL;
		}
		out->digest = strdup(at + 1);
		if (!out->digest)
			return -ENOMEM;
	}
	colon = strrchr(s, ':');
	slash = strrchr(s, '/');
	if (colon && (!slash || colon > slash) && !(colon > s && colon[-1] == ']')) {
		*colon = '\0';
		if (!tag_ok(colon + 1)) {
			*why = "invalid tag";
			return -EINVAL;
		}
		out->tag = strdup(colon + 1);
		if (!out->tag)
			return -ENOMEM;
	}
	if (strlen(s) > NAME_MAX_LEN) {
		*why = "repository name too long";
		return -EINVAL;
	}
	if (!*s) {
		*why = "empty repository name";
		return -EINVAL;
	}
	return split_name(s, out, why);
}

int reg_ref_parse(const char *s, struct reg_ref *out)
{
	struct reg_ref ref = { 0 };
	const char *why = "invalid reference";
	char *copy;
	int r;

	if (!s || !*s) {
		log_err("invalid reference '': empty");
		return -EINVAL;
	}
	if (strlen(s) > 2 * NAME_MAX_LEN + TAG_MAX_LEN + DIGEST_STR_LEN) {
		log_err("invalid reference: too long (%zu bytes)", strlen(s));
		return -EINVAL;
	}
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	r = parse(copy, &ref, &why);
	free(copy);
	if (r == 0 && !ref.tag && !ref.digest) {
		ref.tag = strdup("latest");
		if (!ref.tag)
			r = -ENOMEM;
	}
	if (r < 0) {
		if (r == -EINVAL) {
			/* "user:password@host/..." is not a reference: never echo its userinfo */
			const char *slash = strchr(s, '/'), *at = strchr(s, '@');
			bool userinfo = slash && at && at < slash;

			log_err("invalid reference '%s%s': %s", userinfo ? "***@" : "",
				userinfo ? at + 1 : s, why);
		}
		reg_ref_release(&ref);
		return r;
	}
	*out = ref;
	return 0;
}

void reg_ref_release(struct reg_ref *ref)
{
	if (!ref)
		return;
	free(ref->host);
	free(ref->repo);
	free(ref->tag);
	free(ref->digest);
	ref->host = ref->repo = ref->tag = ref->digest = NULL;
}

char *reg_ref_format(const struct reg_ref *ref)
{
	struct dbuf b;

	dbuf_init(&b, 4096);
	if (dbuf_printf(&b, "%s/%s", ref->host, ref->repo) < 0)
		goto out_release;
	if (ref->tag && dbuf_printf(&b, ":%s", ref->tag) < 0)
		goto out_release;
	if (ref->digest && dbuf_printf(&b, "@%s", ref->digest) < 0)
		goto out_release;
	return dbuf_take(&b, NULL);
out_release:
	dbuf_release(&b);
	return NULL;
}

const char *reg_ref_reference(const struct reg_ref *ref)
{
	return ref->digest ? ref->digest : ref->tag;
}
