/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: what the AWS credential providers read from outside. The
 * credentials JSON of the container endpoint, IMDS and credential_process
 * (with its ISO 8601 Expiration), a bare ISO 8601 time, and the IMDS role
 * listing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "registry/aws/aws_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_creds(const struct reg_aws_creds *c)
{
	if (!*c->access_key_id || !*c->secret_access_key ||
	    strnlen(c->access_key_id, sizeof(c->access_key_id)) == sizeof(c->access_key_id) ||
	    strnlen(c->secret_access_key, sizeof(c->secret_access_key)) ==
		    sizeof(c->secret_access_key) ||
	    strnlen(c->session_token, sizeof(c->session_token)) == sizeof(c->session_token) ||
	    strcmp(c->source, "process") != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reg_aws_creds c;
	char role[256], *s;
	time_t t;

	log_set_level(LOG_LVL_ERR);
	memset(&c, 0, sizeof(c));
	if (reg_aws_creds_parse_json((const char *)data, size, "process", &c) == 0)
		check_creds(&c);
	reg_aws_creds_wipe(&c);
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	(void)reg_aws_parse_iso8601(s, &t);
	if (reg_aws_imds_role_parse(s, role, sizeof(role)) == 0 &&
	    (!*role || strchr(role, '/') || strpbrk(role, "\r\n")))
		abort();
	free(s);
	return 0;
}
