/* SPDX-License-Identifier: MIT */
/* Fuzz target: BuildKit cache config; every index in the result must be valid. */
#include <stdint.h>
#include <stdlib.h>

#include "common/log.h"
#include "registry/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct reg_cache_config *c)
{
	for (size_t i = 0; i < c->n_layers; i++) {
		int at = c->layers[i].parent;
		size_t steps = 0;

		while (at != -1) {
			if (at < 0 || (size_t)at >= c->n_layers || ++steps > c->n_layers)
				abort();
			at = c->layers[at].parent;
		}
	}
	for (size_t i = 0; i < c->n_records; i++) {
		const struct reg_cache_record *r = &c->records[i];

		for (size_t j = 0; j < r->n_results; j++)
			if (r->results[j].layer < 0 || (size_t)r->results[j].layer >= c->n_layers)
				abort();
		for (size_t j = 0; j < r->n_inputs; j++)
			for (size_t k = 0; k < r->input_lens[j]; k++)
				if (r->inputs[j][k].link < 0 ||
				    (size_t)r->inputs[j][k].link >= c->n_records)
					abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reg_cache_config *c = NULL;

	log_set_level(LOG_LVL_ERR);
	if (reg_cache_config_parse((const char *)data, size, &c) == 0) {
		check(c);
		reg_cache_config_free(c);
	}
	return 0;
}
