/* SPDX-License-Identifier: MIT */
/*
 * The AWS configuration conventions users know from the AWS CLI and SDKs
 * (docs/ecr.md says where each rule comes from): the profile, the region,
 * configured endpoints (AWS_ENDPOINT_URL_ECR, AWS_ENDPOINT_URL, and
 * `services` / `endpoint_url` in the shared config file), the CA bundle.
 * The config file is read, never written; a missing file is no setting.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/fdio.h"
#include "common/log.h"
#include "registry/aws/aws_int.h"

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* @p[0..@n) without surrounding blanks, as a span. */
static void trim_span(const char **p, size_t *n)
{
	while (*n && is_blank(**p)) {
		(*p)++;
		(*n)--;
	}
	while (*n && is_blank((*p)[*n - 1]))
		(*n)--;
}

static bool span_is(const char *p, size_t n, const char *s)
{
	return n == strlen(s) && strncmp(p, s, n) == 0;
}

static void span_copy(char *dst, size_t size, const char *p, size_t n)
{
	if (n >= size) {
		dst[0] = '\0'; /* too long for its field: no setting rather than a cut one */
		return;
	}
	memcpy(dst, p, n);
	dst[n] = '\0';
}

/* "[profile NAME]" / "[default]" (@kind "profile") or "[services NAME]". */
static bool header_is(const char *h, size_t n, const char *kind, const char *name)
{
	size_t k = strlen(kind);

	if (strcmp(kind, "profile") == 0 && strcmp(name, "default") == 0 &&
	    span_is(h, n, "default"))
		return true;
	if (n <= k || strncmp(h, kind, k) != 0 || !is_blank(h[k]))
		return false;
	h += k;
	n -= k;
	trim_span(&h, &n);
	return span_is(h, n, name);
}

struct scan {
	const char *profile;
	struct reg_aws_settings *s;
	bool in_profile, in_services, in_ecr;
};

static void profile_key(struct reg_aws_settings *s, const char *k, size_t kn, const char *v,
			size_t vn)
{
	if (span_is(k, kn, "region"))
		span_copy(s->region, sizeof(s->region), v, vn);
	else if (span_is(k, kn, "endpoint_url"))
		span_copy(s->endpoint_url, sizeof(s->endpoint_url), v, vn);
	else if (span_is(k, kn, "services"))
		span_copy(s->services, sizeof(s->services), v, vn);
	else if (span_is(k, kn, "ca_bundle"))
		span_copy(s->ca_bundle, sizeof(s->ca_bundle), v, vn);
	else if (span_is(k, kn, "ignore_configured_endpoint_urls"))
		s->ignore_endpoints = vn == 4 && strncasecmp(v, "true", 4) == 0;
}

/* One line; the services pass (@services) only looks at [services NAME]. */
static void scan_line(struct scan *sc, const char *l, size_t n, bool services)
{
	bool indented = n && is_blank(l[0]);
	const char *eq, *k, *v;
	size_t kn, vn;

	trim_span(&l, &n);
	if (!n || l[0] == '#' || l[0] == ';')
		return;
	if (l[0] == '[') {
		const char *rb = memchr(l, ']', n);
		const char *h = l + 1;
		size_t hn = rb ? (size_t)(rb - h) : 0;

		trim_span(&h, &hn);
		sc->in_profile = rb && !services && header_is(h, hn, "profile", sc->profile);
		sc->in_services = rb && services && sc->s->services[0] &&
				  header_is(h, hn, "services", sc->s->services);
		sc->in_ecr = false;
		return;
	}
	eq = memchr(l, '=', n);
	if (!eq)
		return;
	k = l;
	kn = (size_t)(eq - l);
	v = eq + 1;
	vn = n - kn - 1;
	trim_span(&k, &kn);
	trim_span(&v, &vn);
	if (sc->in_profile && !indented)
		profile_key(sc->s, k, kn, v, vn);
	if (!sc->in_services)
		return;
	if (!indented) /* "ecr =" opens the service's nested settings */
		sc->in_ecr = span_is(k, kn, "ecr") && vn == 0;
	else if (sc->in_ecr && span_is(k, kn, "endpoint_url"))
		span_copy(sc->s->ecr_endpoint_url, sizeof(sc->s->ecr_endpoint_url), v, vn);
}

void reg_aws_config_scan(const char *buf, size_t len, const char *profile,
			 struct reg_aws_settings *s)
{
	struct scan sc = { .profile = profile, .s = s };

	memset(s, 0, sizeof(*s));
	/* the profile names its services section, which may come before it */
	for (int pass = 0; pass < 2; pass++) {
		const char *p = buf, *end = buf + len;

		sc.in_profile = sc.in_services = sc.in_ecr = false;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

			scan_line(&sc, p, n, pass == 1);
			p += n + 1;
		}
	}
}

/* o->profile, else $AWS_PROFILE, else "default". */
static const char *profile_name(const struct reg_aws_opts *o)
{
	const char *p = o && o->profile ? o->profile : reg_aws_env("AWS_PROFILE");

	return p ? p : "default";
}

int reg_aws_settings_load(const struct reg_aws_opts *o, struct reg_aws_settings *s)
{
	struct dbuf b;
	char path[1024];
	int r;

	memset(s, 0, sizeof(*s));
	if (reg_aws_file_path("AWS_CONFIG_FILE", "config", path, sizeof(path)) < 0)
		return 0;
	dbuf_init(&b, REG_AWS_MAX_CONFIG_FILE);
	r = file_read_dbuf(path, &b);
	if (r < 0 && r != -ENOENT)
		log_warn("cannot read AWS config file '%s': %s", path, strerror(-r));
	if (r == 0)
		reg_aws_config_scan(b.data ? b.data : "", b.len, profile_name(o), s);
	dbuf_release(&b);
	return r == -ENOENT ? 0 : r;
}

static int pick(char *out, size_t n, const char *v, const char *source, const char **from)
{
	if (reg_aws_strlcpy(out, v, n) < 0)
		return -ENAMETOOLONG;
	if (from)
		*from = source;
	return 0;
}

int reg_aws_ecr_endpoint_configured(const struct reg_aws_opts *o, char *out, size_t n,
				    const char **from)
{
	struct reg_aws_settings s;
	const char *v, *ignore = reg_aws_env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");

	if (o && o->ecr_endpoint && *o->ecr_endpoint)
		return pick(out, n, o->ecr_endpoint, "the caller", from);
	if (ignore && strcasecmp(ignore, "true") == 0)
		return -ENOENT;
	v = reg_aws_env("AWS_ENDPOINT_URL_ECR");
	if (v)
		return pick(out, n, v, "AWS_ENDPOINT_URL_ECR", from);
	v = reg_aws_env("AWS_ENDPOINT_URL");
	if (v)
		return pick(out, n, v, "AWS_ENDPOINT_URL", from);
	if (reg_aws_settings_load(o, &s) < 0 || s.ignore_endpoints)
		return -ENOENT;
	if (s.ecr_endpoint_url[0])
		return pick(out, n, s.ecr_endpoint_url, "the config file's services section", from);
	if (s.endpoint_url[0])
		return pick(out, n, s.endpoint_url, "the config file's endpoint_url", from);
	return -ENOENT;
}

int reg_aws_region(const struct reg_aws_opts *o, char *out, size_t n)
{
	struct reg_aws_settings s;
	const char *v = reg_aws_env("AWS_REGION");

	if (!v)
		v = reg_aws_env("AWS_DEFAULT_REGION");
	if (v)
		return reg_aws_strlcpy(out, v, n) < 0 ? -ENAMETOOLONG : 0;
	if (reg_aws_settings_load(o, &s) < 0 || !s.region[0])
		return -ENOENT;
	return reg_aws_strlcpy(out, s.region, n) < 0 ? -ENAMETOOLONG : 0;
}

int reg_aws_ca_bundle(const struct reg_aws_opts *o, char *out, size_t n)
{
	struct reg_aws_settings s;
	const char *v = o && o->ca_file ? o->ca_file : reg_aws_env("AWS_CA_BUNDLE");

	if (v)
		return reg_aws_strlcpy(out, v, n) < 0 ? -ENAMETOOLONG : 0;
	if (reg_aws_settings_load(o, &s) < 0 || !s.ca_bundle[0])
		return -ENOENT;
	return reg_aws_strlcpy(out, s.ca_bundle, n) < 0 ? -ENAMETOOLONG : 0;
}
