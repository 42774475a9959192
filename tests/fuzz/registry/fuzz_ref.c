/* SPDX-License-Identifier: MIT */
/* Fuzz target: image reference parsing and formatting round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "registry/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reg_ref ref, again;
	char *s, *f;

	log_set_level(LOG_LVL_ERR);
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (reg_ref_parse(s, &ref) == 0) {
		f = reg_ref_format(&ref);
		/* a formatted reference parses to the same thing */
		if (f && reg_ref_parse(f, &again) == 0) {
			if (strcmp(again.host, ref.host) != 0 || strcmp(again.repo, ref.repo) != 0)
				abort();
			reg_ref_release(&again);
		}
		(void)reg_ref_reference(&ref);
		free(f);
		reg_ref_release(&ref);
	}
	free(s);
	return 0;
}
