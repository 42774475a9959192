/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: AWS shared credentials / config files (INI with [name],
 * [profile name] and [default] sections), scanned for a few profile names
 * in both flavours. Every field that comes back fits and is terminated.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/aws/aws_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct reg_aws_profile *p)
{
	if (strnlen(p->key_id, sizeof(p->key_id)) == sizeof(p->key_id) ||
	    strnlen(p->secret, sizeof(p->secret)) == sizeof(p->secret) ||
	    strnlen(p->token, sizeof(p->token)) == sizeof(p->token) ||
	    strnlen(p->process, sizeof(p->process)) == sizeof(p->process))
		abort();
	if (!p->found && (*p->key_id || *p->secret || *p->token || *p->process || p->role))
		abort(); /* keys are only taken inside the profile's section */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "default", "dev", "profile", "" };
	struct reg_aws_profile *p;
	char *buf;

	if (size > REG_AWS_MAX_CONFIG_FILE)
		return 0;
	buf = malloc(size + 1);
	p = malloc(sizeof(*p));
	if (!buf || !p)
		goto out_free;
	for (size_t i = 0; i < 2 * sizeof(names) / sizeof(names[0]); i++) {
		memcpy(buf, data, size);
		buf[size] = '\0';
		memset(p, 0, sizeof(*p));
		reg_aws_ini_scan(buf, names[i / 2], i % 2, p);
		check(p);
	}
out_free:
	free(p);
	free(buf);
	return 0;
}
