/* SPDX-License-Identifier: MIT */
/* Fuzz target: WWW-Authenticate parsing and the token response parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reg_challenge ch;
	char *s, *tok = NULL;
	unsigned ttl;

	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (reg_www_auth_parse(s, &ch) == 0) {
		if (!ch.scheme[0] || strlen(ch.scheme) >= sizeof(ch.scheme))
			abort();
		reg_challenge_release(&ch);
	}
	if (reg_token_parse((const char *)data, size, &tok, &ttl) == 0)
		free(tok);
	free(s);
	return 0;
}
