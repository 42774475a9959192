/* SPDX-License-Identifier: MIT */
/*
 * Which registry hosts are Amazon ECR, and where their GetAuthorizationToken
 * endpoint is (docs/ecr.md). The pattern is the one of awslabs'
 * amazon-ecr-credential-helper, matched by hand rather than with a regex engine:
 *
 *   ^(\d{12})\.dkr[\.\-]ecr(\-fips)?\.([a-zA-Z0-9][a-zA-Z0-9-_]*)\.
 *    (amazonaws\.(com(\.cn)?|eu)|on\.(aws|amazonwebservices\.com\.cn)|
 *     sc2s\.sgov\.gov|c2s\.ic\.gov|cloud\.adc-e\.uk|csp\.hci\.ic\.gov)$
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "registry/aws/aws_int.h"

static const char *const suffixes[] = {
	"amazonaws.com", "amazonaws.com.cn", "amazonaws.eu", "on.aws",
	"on.amazonwebservices.com.cn", "sc2s.sgov.gov", "c2s.ic.gov", "cloud.adc-e.uk",
	"csp.hci.ic.gov",
};

static bool is_suffix(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (strcmp(s, suffixes[i]) == 0)
			return true;
	return false;
}

/* [a-zA-Z0-9][a-zA-Z0-9-_]* of length @n. */
static bool is_region(const char *s, size_t n)
{
	size_t i;

	if (!n || !isalnum((unsigned char)s[0]))
		return false;
	for (i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

/* @s (lowercased, no scheme) after the 12 digits and the '.'. */
static bool parse_rest(const char *s, struct reg_ecr_host *out)
{
	const char *dot;
	size_t n;

	if (strncmp(s, "dkr", 3) != 0 || (s[3] != '.' && s[3] != '-') || strncmp(s + 4, "ecr", 3))
		return false;
	out->dualstack = s[3] == '-';
	s += 7;
	if (strncmp(s, "-fips", 5) == 0) {
		out->fips = true;
		s += 5;
	}
	if (*s++ != '.')
		return false;
	dot = strchr(s, '.');
	if (!dot)
		return false;
	n = (size_t)(dot - s);
	if (!is_region(s, n) || n >= sizeof(out->region))
		return false;
	memcpy(out->region, s, n);
	out->region[n] = '\0';
	if (!is_suffix(dot + 1))
		return false;
	if (strncmp(dot + 1, "on.", 3) == 0)
		out->dualstack = true;
	return reg_aws_strlcpy(out->suffix, dot + 1, sizeof(out->suffix)) == 0;
}

bool reg_ecr_host_parse(const char *host, struct reg_ecr_host *in_out)
{
	struct reg_ecr_host h = { 0 };
	char buf[256];
	size_t n, i;

	if (!host)
		return false;
	if (strncasecmp(host, "https://", 8) == 0)
		host += 8;
	n = strlen(host);
	if (n && host[n - 1] == '/')
		n--;
	if (n < 14 || n >= sizeof(buf))
		return false;
	for (i = 0; i < n; i++)
		buf[i] = (char)tolower((unsigned char)host[i]);
	buf[n] = '\0';
	for (i = 0; i < 12; i++)
		if (!isdigit((unsigned char)buf[i]))
			return false;
	if (buf[12] != '.')
		return false;
	memcpy(h.account, buf, 12);
	if (!parse_rest(buf + 13, &h))
		return false;
	*in_out = h;
	return true;
}

/* "ACCOUNT/REGION" of an alias into @out. */
static bool parse_alias_target(const char *t, struct reg_ecr_host *out)
{
	const char *slash = strchr(t, '/');
	size_t i;

	if (!slash || slash - t != 12)
		return false;
	for (i = 0; i < 12; i++)
		if (!isdigit((unsigned char)t[i]))
			return false;
	memcpy(out->account, t, 12);
	out->account[12] = '\0';
	if (!is_region(slash + 1, strlen(slash + 1)))
		return false;
	return reg_aws_strlcpy(out->region, slash + 1, sizeof(out->region)) == 0;
}

bool reg_ecr_host_detect(const char *host, struct reg_ecr_host *out)
{
	struct reg_ecr_host h = { 0 };
	const char *alias, *eq;
	size_t n;

	if (reg_ecr_host_parse(host, out))
		return true;
	alias = reg_aws_env("STRATAFS_ECR_HOST_ALIAS");
	if (!alias || !host)
		return false;
	eq = strchr(alias, '=');
	n = eq ? (size_t)(eq - alias) : strlen(alias);
	if (strlen(host) != n || strncasecmp(host, alias, n) != 0)
		return false;
	memcpy(h.account, "000000000000", 13);
	/* no region in the alias: the one the AWS tools would use, else us-east-1 */
	if (reg_aws_region(NULL, h.region, sizeof(h.region)) < 0)
		memcpy(h.region, "us-east-1", 10);
	if (eq && !parse_alias_target(eq + 1, &h))
		return false;
	memcpy(h.suffix, "amazonaws.com", 14);
	h.alias = true;
	*out = h;
	return true;
}

int reg_ecr_endpoint(const struct reg_aws_opts *o, const struct reg_ecr_host *h, char *out,
		     size_t n)
{
	const char *from = NULL;
	int len, r;

	r = reg_aws_ecr_endpoint_configured(o, out, n, &from);
	if (r == 0)
		log_info("ECR API endpoint '%s' (from %s)", out, from);
	if (r != -ENOENT)
		return r;
	if (h->dualstack && strcmp(h->suffix, "on.aws") == 0)
		len = snprintf(out, n, "https://ecr%s.%s.api.aws", h->fips ? "-fips" : "",
			       h->region);
	else if (h->dualstack)
		len = snprintf(out, n, "https://ecr%s.%s.api.amazonwebservices.com.cn",
			       h->fips ? "-fips" : "", h->region);
	else if (h->fips)
		len = snprintf(out, n, "https://ecr-fips.%s.%s", h->region, h->suffix);
	else
		len = snprintf(out, n, "https://api.ecr.%s.%s", h->region, h->suffix);
	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}
