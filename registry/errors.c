/* SPDX-License-Identifier: MIT */
/*
 * The room's edge for HTTP failures: status -> -errno (the one table), and
 * the log line carrying what errno cannot: the status and the registry's
 * {"errors":[{"code","message"}]} (bodies may also be plain text, as ECR's
 * "Not Authorized", or HTML from a proxy: shown only when short and printable).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "registry/registry_int.h"

int reg_status_to_errno(long status)
{
	switch (status) {
	case 404:
		return -ENOENT;
	case 401:
	case 403:
		return -EACCES;
	case 416:
		return -ERANGE;
	case 408:
		return -ETIMEDOUT;
	case 413:
		return -EFBIG;
	case 429:
	case 502:
	case 503:
	case 504:
		return -EAGAIN;
	default:
		if (status >= 500 && status <= 599 && status != 501 && status != 505)
			return -EAGAIN;
		return -EIO;
	}
}

/* "CODE: message" of the first registry error, into @b; false when none. */
static bool registry_error(const struct dbuf *body, struct dbuf *b)
{
	json_t *root, *errs, *e0;
	const char *code, *msg;
	bool found = false;

	if (!body->len)
		return false;
	root = json_loadb(body->data, body->len, 0, NULL);
	if (!root)
		return false;
	errs = json_object_get(root, "errors");
	e0 = json_is_array(errs) ? json_array_get(errs, 0) : NULL;
	if (json_is_object(e0)) {
		code = json_string_value(json_object_get(e0, "code"));
		msg = json_string_value(json_object_get(e0, "message"));
		if (code || msg) {
			dbuf_printf(b, "%s%s%s", code ? code : "", code && msg ? ": " : "",
				    msg ? msg : "");
			found = true;
		}
	}
	json_decref(root);
	return found;
}

static bool printable_short(const struct dbuf *body)
{
	if (!body->len || body->len > 200)
		return false;
	for (size_t i = 0; i < body->len; i++) {
		unsigned char ch = (unsigned char)body->data[i];

		if (ch != '\n' && ch != '\r' && ch != '\t' && !isprint(ch))
			return false;
	}
	return body->data[0] != '<';
}

void reg_log_http_error(const char *what, const struct reg_http_resp *resp)
{
	struct dbuf detail;

	dbuf_init(&detail, 1024);
	if (!registry_error(&resp->errbody, &detail) && printable_short(&resp->errbody)) {
		dbuf_add(&detail, resp->errbody.data, resp->errbody.len);
		while (detail.len && isspace((unsigned char)detail.data[detail.len - 1]))
			detail.data[--detail.len] = '\0';
	}
	if (detail.len)
		log_err("cannot fetch %s: HTTP %ld %s", what, resp->status, detail.data);
	else
		log_err("cannot fetch %s: HTTP %ld", what, resp->status);
	dbuf_release(&detail);
}

char *reg_media_type_clean(const char *ct)
{
	size_t n = strcspn(ct, ";");
	char *s;

	while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	while (n && (*ct == ' ' || *ct == '\t')) {
		ct++;
		n--;
	}
	s = strndup(ct, n);
	if (!s)
		return NULL;
	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}
