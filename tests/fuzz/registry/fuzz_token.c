/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the bearer token endpoint's answer (token / access_token,
 * expires_in; issued_at and refresh_token are ignored). An accepted answer
 * has a non-empty token within the ceiling and a lifetime in range.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *tok = NULL;
	unsigned ttl = 0;

	if (reg_token_parse((const char *)data, size, &tok, &ttl) == 0) {
		size_t n = strlen(tok);

		if (n == 0 || n > REG_MAX_TOKEN_SIZE || ttl == 0 || ttl >= 10 * 365 * 86400)
			abort();
		free(tok);
	}
	return 0;
}
