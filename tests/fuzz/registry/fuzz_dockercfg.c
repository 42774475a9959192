/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: docker config.json (auths with base64 "auth", credHelpers,
 * credsStore) looked up for a few hosts, and a credential helper's stdout.
 * No helper is run: the stub below answers "not found" for helper
 * "missing", fails for "broken", and otherwise parses the input itself as
 * the helper's output, so one JSON document can exercise both parsers.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "registry/registry_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t *in_data;
static size_t in_size;

static int stub_helper(const char *helper, const char *server, struct reg_cred *out)
{
	if (!*server)
		abort();
	if (strcmp(helper, "missing") == 0)
		return -ENOENT;
	if (strcmp(helper, "broken") == 0)
		return -EACCES;
	return reg_cred_helper_parse((const char *)in_data, in_size, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const hosts[] = {
		"docker.io", "registry.example.com", "localhost:5000",
		"123456789012.dkr.ecr.us-east-1.amazonaws.com",
	};
	struct reg_cred cr;

	log_set_level(LOG_LVL_ERR);
	in_data = data;
	in_size = size;
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		/* a password without a user name is possible: auth.c then stays anonymous */
		(void)reg_cred_parse((const char *)data, size, "fuzz", hosts[i], stub_helper, &cr);
		reg_cred_release(&cr);
	}
	memset(&cr, 0, sizeof(cr));
	(void)reg_cred_helper_parse((const char *)data, size, &cr);
	reg_cred_release(&cr);
	return 0;
}
