/* SPDX-License-Identifier: MIT */
/*
 * WWW-Authenticate (RFC 9110 §11.6.1, RFC 6750 §3): one header value may
 * hold several challenges, "Scheme k=v, k="quoted \"v\"", Other k=v".
 * A token followed by "=" is a parameter of the current challenge; any
 * other token starts a new challenge. Keys are case-insensitive, values
 * are tokens or quoted strings with backslash escapes. We keep the best
 * challenge: Bearer over Basic over anything else (containerd's order).
 * Input is untrusted: every read is bounded by the string's NUL.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/dbuf.h"
#include "registry/registry_int.h"

static bool is_tchar(char ch)
{
	return isalnum((unsigned char)ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

static int rank(const char *scheme)
{
	if (strcmp(scheme, "bearer") == 0)
		return 2;
	if (strcmp(scheme, "basic") == 0)
		return 1;
	return 0;
}

void reg_challenge_release(struct reg_challenge *ch)
{
	free(ch->realm);
	free(ch->service);
	free(ch->scope);
	free(ch->error);
	memset(ch, 0, sizeof(*ch));
}

/* A value at @p (token or quoted string) into @b; the end, or NULL if malformed. */
static const char *read_value(const char *p, struct dbuf *b)
{
	if (*p != '"') {
		const char *s = p;

		while (*p && *p != ',' && *p != ' ' && *p != '\t')
			p++;
		return dbuf_add(b, s, (size_t)(p - s)) < 0 ? NULL : p;
	}
	for (p++; *p != '"'; p++) {
		if (!*p)
			return NULL;
		if (*p == '\\') {
			p++;
			if (!*p)
				return NULL;
		}
		if (dbuf_add(b, p, 1) < 0)
			return NULL;
	}
	return p + 1;
}

static void keep_param(struct reg_challenge *ch, const char *name, size_t nlen, struct dbuf *v)
{
	char **slot = NULL;

	if (nlen == 5 && strncasecmp(name, "realm", 5) == 0)
		slot = &ch->realm;
	else if (nlen == 7 && strncasecmp(name, "service", 7) == 0)
		slot = &ch->service;
	else if (nlen == 5 && strncasecmp(name, "scope", 5) == 0)
		slot = &ch->scope;
	else if (nlen == 5 && strncasecmp(name, "error", 5) == 0)
		slot = &ch->error;
	if (!slot || *slot)
		return; /* unknown, or a repeated key: the first one wins */
	*slot = dbuf_take(v, NULL);
}

/* Keep @cur in @best when it ranks higher; release the loser. */
static void settle(struct reg_challenge *best, struct reg_challenge *cur, bool *have)
{
	if (!cur->scheme[0])
		return;
	if (!*have || rank(cur->scheme) > rank(best->scheme)) {
		reg_challenge_release(best);
		*best = *cur;
		*have = true;
	} else {
		reg_challenge_release(cur);
	}
	memset(cur, 0, sizeof(*cur));
}

static void start_challenge(const char *tok, size_t n, struct reg_challenge *cur)
{
	cur->scheme[0] = '\0';
	if (n >= sizeof(cur->scheme))
		return; /* no scheme we know is that long: parse its params, keep nothing */
	for (size_t i = 0; i < n; i++)
		cur->scheme[i] = (char)tolower((unsigned char)tok[i]);
	cur->scheme[n] = '\0';
}

int reg_www_auth_parse(const char *value, struct reg_challenge *out)
{
	struct reg_challenge best = { 0 }, cur = { 0 };
	const char *p = value;
	bool have = false, in_challenge = false;
	struct dbuf v;

	dbuf_init(&v, REG_MAX_HEADER_VALUE);
	while (p && *p) {
		const char *tok, *q;
		size_t n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		tok = p;
		while (is_tchar(*p))
			p++;
		n = (size_t)(p - tok);
		if (n == 0) {
			/* junk: drop this element up to the next comma */
			p += strcspn(p, ",");
			in_challenge = false;
			continue;
		}
		q = skip_ws(p);
		if (*q == '=' && in_challenge && q[1] != '=') {
			dbuf_reset(&v);
			p = read_value(skip_ws(q + 1), &v);
			if (p && cur.scheme[0])
				keep_param(&cur, tok, n, &v);
			continue;
		}
		if (*q == '=') {
			/* token68 ("abc==") or a parameter without a scheme: skip it */
			while (*q == '=')
				q++;
			p = q;
			continue;
		}
		settle(&best, &cur, &have);
		start_challenge(tok, n, &cur);
		in_challenge = true;
		p = q;
	}
	settle(&best, &cur, &have);
	reg_challenge_release(&cur);
	dbuf_release(&v);
	if (!have)
		return -EINVAL;
	*out = best;
	return 0;
}
