/* SPDX-License-Identifier: MIT */
/* Fuzz target: manifest parsing, BuildKit parts, platform selection, image config. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/digest.h"
#include "common/log.h"
#include "registry/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const struct reg_manifest *m)
{
	const struct reg_descriptor *cfg, *layers, *d;
	struct reg_platform p = { 0 };
	size_t n;

	if (reg_buildkit_parts(m, &cfg, &layers, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			if (!layers[i].media_type || strlen(layers[i].digest) != 71)
				abort();
		if (strcmp(cfg->media_type, REG_MT_BUILDKIT_CACHE) != 0)
			abort();
	}
	/* pins are digests, and a pinning index never resolves to an index artifact */
	for (size_t i = 0; i < m->n_layers; i++)
		if (m->layers[i].stratafs_index && !digest_is_valid(m->layers[i].stratafs_index))
			abort();
	if (reg_is_pinning_index(m) && reg_platform_parse("linux/amd64", &p) == 0) {
		if (reg_pinning_select(m, &p, &d) == 0 &&
		    (!d->media_type || (d->artifact_type &&
					strcmp(d->artifact_type, REG_MT_STRATAFS_INDEX_ARTIFACT) == 0)))
			abort();
		reg_platform_release(&p);
	}
	if (m->kind == REG_MANIFEST_INDEX && reg_platform_parse("linux/arm64", &p) == 0) {
		if (reg_index_select(m, &p, &d) == 0 && !d->has_platform)
			abort();
		reg_platform_release(&p);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reg_manifest *m = NULL;
	char **ids = NULL;
	size_t n = 0;

	log_set_level(LOG_LVL_ERR);
	if (reg_manifest_parse((const char *)data, size, NULL, &m) == 0) {
		walk(m);
		reg_manifest_free(m);
	}
	if (reg_manifest_parse((const char *)data, size, REG_MT_OCI_INDEX, &m) == 0)
		reg_manifest_free(m);
	if (reg_image_config_diff_ids((const char *)data, size, &ids, &n) == 0)
		reg_strv_free(ids, n);
	return 0;
}
