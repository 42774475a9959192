/* SPDX-License-Identifier: MIT */
/*
 * SigV4 against the aws-c-auth v4 vectors in tests/data/sigv4/<case>/ and
 * the ECR worked example: canonical request, string to sign and signature,
 * byte for byte. argv[1] = the data directory.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/digest.h"
#include "registry/aws/aws.h"
#include "tap.h"

static const char *const cases[] = {
	"get-header-key-duplicate", "get-header-value-multiline", "get-header-value-order",
	"get-header-value-trim", "get-relative-normalized", "get-relative-relative-normalized",
	"get-relative-relative-unnormalized", "get-relative-unnormalized",
	"get-slash-dot-slash-normalized", "get-slash-dot-slash-unnormalized",
	"get-slash-normalized", "get-slash-pointless-dot-normalized",
	"get-slash-pointless-dot-unnormalized", "get-slash-unnormalized",
	"get-slashes-normalized", "get-slashes-unnormalized", "get-space-normalized",
	"get-space-unnormalized", "get-unreserved", "get-utf8", "get-vanilla-empty-query-key",
	"get-vanilla-query-order-encoded", "get-vanilla-query-order-key-case",
	"get-vanilla-query-unreserved", "get-vanilla-query", "get-vanilla-utf8-query",
	"get-vanilla-with-session-token", "get-vanilla", "post-header-key-case",
	"post-header-key-sort", "post-header-value-case", "post-sts-header-after",
	"post-sts-header-before", "post-vanilla-empty-query-value", "post-vanilla-query",
	"post-vanilla", "post-x-www-form-urlencoded-parameters", "post-x-www-form-urlencoded",
	"ecr-get-authorization-token",
};

static char *slurp(const char *dir, const char *c, const char *f)
{
	char path[1024], *buf;
	FILE *fp;
	long n;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, c, f);
	fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = calloc(1, (size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(fp);
	return buf;
}

#define MAXH 16

struct parsed {
	char method[16];
	char path[512];
	char *query;
	char *names[MAXH];
	char *values[MAXH];
	size_t n;
	char *body;
};

/* request.txt: "METHOD PATH HTTP/1.1", headers (continuation lines folded), "", body. */
static int parse_request(char *txt, struct parsed *p)
{
	char *line = txt, *next, *sp, *proto, *q;

	memset(p, 0, sizeof(*p));
	next = strchr(line, '\n');
	if (!next)
		return -1;
	*next++ = '\0';
	sp = strchr(line, ' ');
	proto = strrchr(line, ' ');
	if (!sp || sp == proto)
		return -1;
	*sp = '\0';
	*proto = '\0';
	snprintf(p->method, sizeof(p->method), "%s", line);
	q = strchr(sp + 1, '?');
	if (q) {
		*q = '\0';
		p->query = q + 1;
	}
	snprintf(p->path, sizeof(p->path), "%s", sp + 1);
	for (line = next; line && *line && *line != '\n'; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if ((*line == ' ' || *line == '\t') && p->n) {
			size_t l = strlen(p->values[p->n - 1]) + strlen(line) + 2;
			char *v = malloc(l);

			snprintf(v, l, "%s\n%s", p->values[p->n - 1], line);
			free(p->values[p->n - 1]);
			p->values[p->n - 1] = v;
			continue;
		}
		sp = strchr(line, ':');
		if (!sp || p->n == MAXH - 3)
			return -1;
		*sp = '\0';
		p->names[p->n] = strdup(line);
		p->values[p->n++] = strdup(sp + 1);
	}
	p->body = line && *line == '\n' ? line + 1 : (char *)"";
	return 0;
}

static void add_header(struct parsed *p, const char *n, const char *v)
{
	p->names[p->n] = strdup(n);
	p->values[p->n++] = strdup(v);
}

static void run_case(const char *dir, const char *c)
{
	char *ctx_s = slurp(dir, c, "context.json"), *req_s = slurp(dir, c, "request.txt");
	char *creq = slurp(dir, c, "header-canonical-request.txt");
	char *sts = slurp(dir, c, "header-string-to-sign.txt");
	char *sig = slurp(dir, c, "header-signature.txt");
	struct reg_aws_creds cr = { 0 };
	struct reg_sigv4_header h[MAXH];
	struct reg_sigv4_out out;
	struct parsed p;
	json_t *ctx, *cc;
	const char *tok;
	size_t i;
	int r;

	if (!ok(ctx_s && req_s && creq && sts && sig, "%s: vector files present", c))
		return;
	ctx = json_loads(ctx_s, 0, NULL);
	cc = json_object_get(ctx, "credentials");
	snprintf(cr.access_key_id, sizeof(cr.access_key_id), "%s",
		 json_string_value(json_object_get(cc, "access_key_id")));
	snprintf(cr.secret_access_key, sizeof(cr.secret_access_key), "%s",
		 json_string_value(json_object_get(cc, "secret_access_key")));
	tok = json_string_value(json_object_get(cc, "token"));
	parse_request(req_s, &p);
	add_header(&p, "X-Amz-Date", "20150830T123600Z");
	if (tok && !json_is_true(json_object_get(ctx, "omit_session_token")))
		add_header(&p, "X-Amz-Security-Token", tok);
	if (json_is_true(json_object_get(ctx, "sign_body"))) {
		uint8_t raw[32];
		char hex[65];

		digest_sha256(p.body, strlen(p.body), raw);
		hex_encode(raw, 32, hex);
		add_header(&p, "x-amz-content-sha256", hex);
	}
	for (i = 0; i < p.n; i++) {
		h[i].name = p.names[i];
		h[i].value = p.values[i];
	}
	struct reg_sigv4_req req = {
		.method = p.method, .path = p.path, .query = p.query, .headers = h,
		.n_headers = p.n, .payload = p.body, .payload_len = strlen(p.body),
		.normalize_path = json_is_true(json_object_get(ctx, "normalize")),
	};
	r = reg_sigv4_sign(&cr, json_string_value(json_object_get(ctx, "region")),
			   json_string_value(json_object_get(ctx, "service")), "20150830T123600Z",
			   &req, &out);
	is_int(r, 0, "%s: signs", c);
	if (r == 0) {
		is_str(out.canonical_request, creq, "%s: canonical request", c);
		is_str(out.string_to_sign, sts, "%s: string to sign", c);
		is_str(out.signature, sig, "%s: signature", c);
		ok(strstr(out.authorization, sig) != NULL &&
			   strncmp(out.authorization, "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/", 40) == 0,
		   "%s: Authorization value", c);
		reg_sigv4_out_release(&out);
	}
	for (i = 0; i < p.n; i++) {
		free(p.names[i]);
		free(p.values[i]);
	}
	json_decref(ctx);
	free(ctx_s);
	free(req_s);
	free(creq);
	free(sts);
	free(sig);
}

static void misc(void)
{
	struct reg_aws_creds cr = { .access_key_id = "AKID", .secret_access_key = "s" };
	struct reg_sigv4_header h[1] = { { "X-Amz-Date", "20150830T123600Z" } };
	struct reg_sigv4_req req = { .method = "GET", .path = "/", .headers = h, .n_headers = 1 };
	struct reg_sigv4_out out;
	char d[17];

	is_int(reg_sigv4_sign(&cr, "us-east-1", "ecr", "20150830T123600Z", &req, &out), -EINVAL,
	       "a request without Host is refused");
	is_int(reg_sigv4_sign(&cr, "us-east-1", "ecr", "2015-08-30", &req, &out), -EINVAL,
	       "a malformed X-Amz-Date is refused");
	reg_sigv4_amz_date(1440938160, d);
	is_str(d, "20150830T123600Z", "amz date of 2015-08-30 12:36:00 UTC");
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DATADIR\n", argv[0]);
		return 2;
	}
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(argv[1], cases[i]);
	misc();
	return tap_done();
}
