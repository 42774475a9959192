/* SPDX-License-Identifier: MIT */
/*
 * The AWS default credential chain (env -> shared files -> container ->
 * IMDS), and what its providers share: the credentials JSON document and
 * ISO 8601 times. The network providers live in creds_remote.c, the
 * shared-file one in creds_file.c.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/log.h"
#include "registry/aws/aws_int.h"

void reg_aws_creds_wipe(struct reg_aws_creds *c)
{
	explicit_bzero(c, sizeof(*c));
}

bool reg_aws_creds_expiring(const struct reg_aws_creds *c, time_t now, int margin_s)
{
	return c->expiration != 0 && c->expiration - margin_s <= now;
}

int reg_aws_parse_iso8601(const char *s, time_t *out)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, sec, n = 0, oh = 0, om = 0, sign = 0;
	time_t t;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || !n)
		return -EINVAL;
	s += n;
	if (*s == '.')
		for (s++; *s >= '0' && *s <= '9'; s++)
			;
	if (*s == '+' || *s == '-') {
		sign = *s == '+' ? 1 : -1;
		if (sscanf(s + 1, "%2d:%2d%n", &oh, &om, &n) != 2)
			return -EINVAL;
		s += 1 + n;
	} else if (*s == 'Z' || *s == 'z') {
		s++;
	} else {
		return -EINVAL;
	}
	if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	/* %d takes a sign: "T-1:-1:-1" or "+-9:-9" passed (seen writing the fuzz corpus) */
	if (y < 0 || h < 0 || mi < 0 || sec < 0 || oh < 0 || oh > 23 || om < 0 || om > 59)
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*out = t - sign * (oh * 3600 + om * 60);
	return 0;
}

static int take_str(json_t *o, const char *key, char *dst, size_t n, bool required)
{
	json_t *v = json_object_get(o, key);

	if (!v || json_is_null(v))
		return required ? -EBADMSG : -ENOENT;
	if (!json_is_string(v) || reg_aws_strlcpy(dst, json_string_value(v), n) < 0)
		return -EBADMSG;
	return 0;
}

static int fill_from_json(json_t *o, struct reg_aws_creds *out)
{
	char exp[64] = "";
	int r;

	if (!json_is_object(o))
		return -EBADMSG;
	r = take_str(o, "AccessKeyId", out->access_key_id, sizeof(out->access_key_id), true);
	if (r == 0)
		r = take_str(o, "SecretAccessKey", out->secret_access_key,
			     sizeof(out->secret_access_key), true);
	if (r < 0)
		return r;
	r = take_str(o, "Token", out->session_token, sizeof(out->session_token), false);
	if (r == -ENOENT)
		r = take_str(o, "SessionToken", out->session_token, sizeof(out->session_token),
			     false);
	if (r == -EBADMSG)
		return r;
	r = take_str(o, "Expiration", exp, sizeof(exp), false);
	if (r == -EBADMSG)
		return r;
	if (r == 0 && reg_aws_parse_iso8601(exp, &out->expiration) < 0)
		return -EBADMSG;
	return *out->access_key_id && *out->secret_access_key ? 0 : -EBADMSG;
}

int reg_aws_creds_parse_json(const char *json, size_t len, const char *source,
			     struct reg_aws_creds *out)
{
	struct reg_aws_creds c = { 0 };
	json_error_t jerr;
	json_t *root;
	int r;

	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		/* not jerr.text: jansson quotes the token it stopped at, maybe a secret's start */
		log_warn("cannot parse AWS credentials from %s: not JSON (line %d, column %d)", source,
			 jerr.line, jerr.column);
		return -EBADMSG;
	}
	r = fill_from_json(root, &c);
	json_decref(root);
	if (r < 0) {
		log_warn("AWS credentials from %s lack AccessKeyId/SecretAccessKey or are malformed",
			 source);
		reg_aws_creds_wipe(&c);
		return r;
	}
	reg_aws_strlcpy(c.source, source, sizeof(c.source));
	*out = c;
	reg_aws_creds_wipe(&c);
	return 0;
}

int reg_aws_creds_from_env(struct reg_aws_creds *out)
{
	const char *id = reg_aws_env("AWS_ACCESS_KEY_ID");
	const char *secret = reg_aws_env("AWS_SECRET_ACCESS_KEY");
	const char *token = reg_aws_env("AWS_SESSION_TOKEN");
	struct reg_aws_creds c = { 0 };

	if (!id && !secret)
		return -ENOENT;
	if (!id || !secret) {
		log_warn("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must both be set; ignoring them");
		return -ENOENT;
	}
	if (reg_aws_strlcpy(c.access_key_id, id, sizeof(c.access_key_id)) < 0 ||
	    reg_aws_strlcpy(c.secret_access_key, secret, sizeof(c.secret_access_key)) < 0 ||
	    (token && reg_aws_strlcpy(c.session_token, token, sizeof(c.session_token)) < 0)) {
		reg_aws_creds_wipe(&c);
		return -EFBIG;
	}
	memcpy(c.source, "env", 4);
	*out = c;
	reg_aws_creds_wipe(&c);
	return 0;
}

static bool imds_disabled(void)
{
	const char *v = reg_aws_env("AWS_EC2_METADATA_DISABLED");

	return v && strcasecmp(v, "true") == 0;
}

int reg_aws_creds_get(const struct reg_aws_opts *o, struct reg_aws_creds *out)
{
	const char *profile = o->profile ? o->profile : reg_aws_env("AWS_PROFILE");
	bool explicit_profile = profile != NULL;
	int r;

	r = reg_aws_creds_from_env(out);
	if (r != -ENOENT)
		goto out_report;
	r = reg_aws_creds_from_profile(explicit_profile ? profile : "default", explicit_profile,
				       o, out);
	if (r == -ESRCH) {
		log_err("AWS profile '%s' is in neither the credentials nor the config file",
			profile);
		return -ENOENT;
	}
	if (r != -ENOENT)
		goto out_report;
	r = reg_aws_creds_from_container(o, out);
	if (r != -ENOENT)
		goto out_report;
	if (imds_disabled()) {
		r = -ENOENT;
		goto out_report;
	}
	r = reg_aws_creds_from_imds(o, out);
out_report:
	if (r == 0)
		log_debug("aws: credentials from %s", out->source);
	else if (r == -ENOENT)
		log_err("no AWS credentials found (environment, shared files, container endpoint%s)",
			imds_disabled() ? "" : ", instance metadata");
	return r;
}
