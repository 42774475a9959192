/* SPDX-License-Identifier: MIT */
/*
 * AWS Signature Version 4, header form (AWS's SigV4 documentation). Pure functions
 * over the request's parts: no I/O, no clock (the caller passes the
 * X-Amz-Date it sends), so the aws-c-auth vectors test it byte for byte.
 *
 * The path is taken as given (decoded) and URI-encoded once, which is what
 * the vectors expect; a caller holding an already percent-encoded path of a
 * non-S3 service gets the documented double encoding for free. The query is
 * decoded and re-encoded, so raw and percent-encoded forms sign alike.
 */
#include <ctype.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dbuf.h"
#include "common/digest.h"
#include "common/secret.h"
#include "registry/aws/aws_int.h"

#define CANON_MAX (64u << 10)
#define QUERY_MAX_PARAMS 64

static bool is_unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

static int uri_encode(struct dbuf *b, const char *s, size_t n, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	char esc[3] = { '%', 0, 0 };
	size_t i;
	int r = 0;

	for (i = 0; i < n && r == 0; i++) {
		unsigned char c = (unsigned char)s[i];

		if (is_unreserved(c) || (keep_slash && c == '/')) {
			r = dbuf_add(b, &s[i], 1);
			continue;
		}
		esc[1] = hex[c >> 4];
		esc[2] = hex[c & 15];
		r = dbuf_add(b, esc, 3);
	}
	return r;
}

static bool ends_with(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);

	return n >= m && strcmp(s + n - m, suf) == 0;
}

/* Remove "." / ".." / empty segments; keep a trailing '/'. */
static int normalize_path(const char *p, struct dbuf *out)
{
	const char *seg[256];
	size_t len[256], n = 0, l, i;
	bool trailing = ends_with(p, "/") || ends_with(p, "/.") || ends_with(p, "/..");
	int r = 0;

	while (*p) {
		l = strcspn(p, "/");
		if (l == 2 && p[0] == '.' && p[1] == '.') {
			if (n)
				n--;
		} else if (l && !(l == 1 && p[0] == '.')) {
			if (n == sizeof(seg) / sizeof(seg[0]))
				return -EFBIG;
			seg[n] = p;
			len[n++] = l;
		}
		p += l;
		while (*p == '/')
			p++;
	}
	for (i = 0; i < n && r == 0; i++) {
		r = dbuf_add(out, "/", 1);
		if (r == 0)
			r = dbuf_add(out, seg[i], len[i]);
	}
	if (r == 0 && (n == 0 || trailing))
		r = dbuf_add(out, "/", 1);
	return r;
}

static int canon_path(const struct reg_sigv4_req *req, struct dbuf *b)
{
	const char *p = req->path && *req->path ? req->path : "/";
	struct dbuf norm;
	int r;

	if (!req->normalize_path)
		return uri_encode(b, p, strlen(p), true);
	dbuf_init(&norm, CANON_MAX);
	r = normalize_path(p, &norm);
	if (r == 0)
		r = uri_encode(b, norm.data, norm.len, true);
	dbuf_release(&norm);
	return r;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode s[0..n) then encode it into @b (unreserved kept). */
static int recode(struct dbuf *b, const char *s, size_t n)
{
	char tmp[1024];
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (o == sizeof(tmp))
			return -EFBIG;
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			tmp[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else {
			tmp[o++] = s[i];
		}
	}
	return uri_encode(b, tmp, o, false);
}

struct qparam {
	char *enc; /* "name=value", encoded */
	size_t name_len;
};

static int qcmp(const void *a, const void *b)
{
	const struct qparam *x = a, *y = b;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->enc, y->enc, n);

	if (c)
		return c;
	if (x->name_len != y->name_len)
		return x->name_len < y->name_len ? -1 : 1;
	return strcmp(x->enc + x->name_len, y->enc + y->name_len);
}

static int encode_param(const char *s, size_t n, struct qparam *out)
{
	const char *eq = memchr(s, '=', n);
	size_t nl = eq ? (size_t)(eq - s) : n;
	struct dbuf b;
	int r;

	dbuf_init(&b, CANON_MAX);
	r = recode(&b, s, nl);
	out->name_len = b.len;
	if (r == 0)
		r = dbuf_add(&b, "=", 1);
	if (r == 0 && eq)
		r = recode(&b, eq + 1, n - nl - 1);
	if (r < 0) {
		dbuf_release(&b);
		return r;
	}
	out->enc = dbuf_take(&b, NULL);
	return 0;
}

static int canon_query(const char *q, struct dbuf *b)
{
	struct qparam ps[QUERY_MAX_PARAMS];
	size_t n = 0, i, l;
	int r = 0;

	while (q && *q && r == 0) {
		l = strcspn(q, "&");
		if (l && n == QUERY_MAX_PARAMS)
			r = -EFBIG;
		else if (l)
			r = encode_param(q, l, &ps[n]);
		if (l && r == 0)
			n++;
		q += l + (q[l] == '&');
	}
	if (r == 0)
		qsort(ps, n, sizeof(ps[0]), qcmp);
	for (i = 0; i < n; i++) {
		if (r == 0 && i)
			r = dbuf_add(b, "&", 1);
		if (r == 0)
			r = dbuf_add_str(b, ps[i].enc);
		free(ps[i].enc);
	}
	return r;
}

struct chdr {
	char name[64];
	const char *value;
	size_t order;
};

static int hcmp(const void *a, const void *b)
{
	const struct chdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Trimmed value with every run of whitespace collapsed to one space. */
static int add_value(struct dbuf *b, const char *v)
{
	bool space = false, any = false;
	int r = 0;

	for (; *v && r == 0; v++) {
		if (isspace((unsigned char)*v)) {
			space = any;
			continue;
		}
		if (space)
			r = dbuf_add(b, " ", 1);
		if (r == 0)
			r = dbuf_add(b, v, 1);
		space = false;
		any = true;
	}
	return r;
}

static int sort_headers(const struct reg_sigv4_req *req, struct chdr *h, bool *has_host)
{
	size_t i, j;

	if (req->n_headers > REG_AWS_MAX_HEADERS)
		return -EFBIG;
	for (i = 0; i < req->n_headers; i++) {
		const char *nm = req->headers[i].name;

		if (strlen(nm) >= sizeof(h[i].name))
			return -EFBIG;
		for (j = 0; nm[j]; j++)
			h[i].name[j] = (char)tolower((unsigned char)nm[j]);
		h[i].name[j] = '\0';
		h[i].value = req->headers[i].value ? req->headers[i].value : "";
		h[i].order = i;
		if (strcmp(h[i].name, "host") == 0)
			*has_host = true;
	}
	qsort(h, req->n_headers, sizeof(h[0]), hcmp);
	return 0;
}

/* Canonical headers + "\n" + signed headers into @b, the list alone into @signed_list. */
static int canon_headers(const struct reg_sigv4_req *req, struct dbuf *b, struct dbuf *signed_list)
{
	struct chdr h[REG_AWS_MAX_HEADERS];
	bool has_host = false;
	size_t i;
	int r;

	r = sort_headers(req, h, &has_host);
	if (r < 0)
		return r;
	if (!has_host)
		return -EINVAL;
	for (i = 0; i < req->n_headers && r == 0; i++) {
		bool same = i && strcmp(h[i].name, h[i - 1].name) == 0;

		if (same) {
			r = dbuf_add(b, ",", 1);
		} else {
			if (i)
				r = dbuf_add(b, "\n", 1);
			if (r == 0 && signed_list->len)
				r = dbuf_add(signed_list, ";", 1);
			if (r == 0)
				r = dbuf_add_str(signed_list, h[i].name);
			if (r == 0)
				r = dbuf_printf(b, "%s:", h[i].name);
		}
		if (r == 0)
			r = add_value(b, h[i].value);
	}
	if (r == 0)
		r = dbuf_printf(b, "\n\n%s", signed_list->data ? signed_list->data : "");
	return r;
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
	uint8_t raw[DIGEST_SHA256_LEN];

	digest_sha256(p, n, raw);
	hex_encode(raw, sizeof(raw), out);
}

static int canonical_request(const struct reg_sigv4_req *req, struct dbuf *b, struct dbuf *sl)
{
	char ph[65];
	int r;

	r = dbuf_printf(b, "%s\n", req->method);
	if (r == 0)
		r = canon_path(req, b);
	if (r == 0)
		r = dbuf_add(b, "\n", 1);
	if (r == 0)
		r = canon_query(req->query, b);
	if (r == 0)
		r = dbuf_add(b, "\n", 1);
	if (r == 0)
		r = canon_headers(req, b, sl);
	sha256_hex(req->payload ? req->payload : "", req->payload ? req->payload_len : 0, ph);
	if (r == 0)
		r = dbuf_printf(b, "\n%s", ph);
	return r;
}

static int hmac(const void *key, size_t klen, const char *msg, uint8_t out[32])
{
	unsigned int olen = 32;

	if (!HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, strlen(msg), out,
		  &olen))
		return -EIO;
	return 0;
}

static int signing_key(const char *secret, const char *date, const char *region,
		       const char *service, uint8_t k[32])
{
	char k0[REG_AWS_MAX_KEY + 8];
	int r;

	if (snprintf(k0, sizeof(k0), "AWS4%s", secret) >= (int)sizeof(k0))
		return -EINVAL;
	r = hmac(k0, strlen(k0), date, k);
	explicit_bzero(k0, sizeof(k0));
	if (r == 0)
		r = hmac(k, 32, region, k);
	if (r == 0)
		r = hmac(k, 32, service, k);
	if (r == 0)
		r = hmac(k, 32, "aws4_request", k);
	return r;
}

static bool is_amz_date(const char *d)
{
	size_t i;

	if (strlen(d) != 16 || d[8] != 'T' || d[15] != 'Z')
		return false;
	for (i = 0; i < 15; i++)
		if (i != 8 && !isdigit((unsigned char)d[i]))
			return false;
	return true;
}

static int finish(const struct reg_aws_creds *cr, const char *scope, const char *date,
		  const char *region, const char *service, const char *signed_list,
		  struct reg_sigv4_out *out)
{
	uint8_t k[32], sig[32];
	int r, n;

	r = signing_key(cr->secret_access_key, date, region, service, k);
	if (r == 0)
		r = hmac(k, sizeof(k), out->string_to_sign, sig);
	explicit_bzero(k, sizeof(k));
	if (r < 0)
		return r;
	hex_encode(sig, sizeof(sig), out->signature);
	n = snprintf(out->authorization, sizeof(out->authorization),
		     "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
		     cr->access_key_id, scope, signed_list, out->signature);
	return n < 0 || (size_t)n >= sizeof(out->authorization) ? -EFBIG : 0;
}

int reg_sigv4_sign(const struct reg_aws_creds *cr, const char *region, const char *service,
		   const char *amz_date, const struct reg_sigv4_req *req, struct reg_sigv4_out *out)
{
	struct dbuf creq, sl, sts;
	char date[9], scope[160], ch[65];
	int r;

	memset(out, 0, sizeof(*out));
	if (!is_amz_date(amz_date) || !*region || !*service || !*cr->access_key_id)
		return -EINVAL;
	memcpy(date, amz_date, 8);
	date[8] = '\0';
	if (snprintf(scope, sizeof(scope), "%s/%s/%s/aws4_request", date, region, service) >=
	    (int)sizeof(scope))
		return -EINVAL;
	dbuf_init(&creq, CANON_MAX);
	dbuf_init(&sl, 4096);
	dbuf_init(&sts, 1024);
	r = canonical_request(req, &creq, &sl);
	if (r < 0)
		goto out_release;
	sha256_hex(creq.data, creq.len, ch);
	r = dbuf_printf(&sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, ch);
	if (r < 0)
		goto out_release;
	out->canonical_request = dbuf_take(&creq, NULL);
	out->string_to_sign = dbuf_take(&sts, NULL);
	r = finish(cr, scope, date, region, service, sl.data, out);
	if (r < 0)
		reg_sigv4_out_release(out);
out_release:
	dbuf_release(&creq);
	dbuf_release(&sl);
	dbuf_release(&sts);
	return r;
}

void reg_sigv4_out_release(struct reg_sigv4_out *o)
{
	secret_free_str(o->canonical_request);
	free(o->string_to_sign);
	o->canonical_request = NULL;
	o->string_to_sign = NULL;
}

void reg_sigv4_amz_date(time_t t, char out[17])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}
