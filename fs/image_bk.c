/* SPDX-License-Identifier: MIT */
/*
 * The layers of a BuildKit registry cache (both forms: image-manifest=true
 * OCI manifest and the legacy index, as BuildKit's cache exporter writes
 * them; see the README's "What the root of the mount shows"), FUSE-free: the
 * cache config, each distinct blob opened once, and the chains (a config
 * layer merged over its parents). A config layer whose blob is not in
 * the manifest is skipped with a warning (BuildKit drops such results
 * silently), and so is every chain that passes through it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fs/image.h"

static const struct reg_descriptor *find_desc(const struct reg_descriptor *layers, size_t n,
					      const char *digest)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(layers[i].digest, digest) == 0)
			return &layers[i];
	}
	return NULL;
}

/* The diff_id the cache config gives layer @layer (may be NULL). */
static int cache_diff_id(void *ctx, size_t layer, const char **out)
{
	const char **ids = ctx;

	*out = ids[layer] && digest_is_valid(ids[layer]) ? ids[layer] : NULL;
	return 0;
}

/* Open each distinct blob once, then copy the results to every config layer using it. */
static int open_all(struct fs_image *img, struct fs_bk_cache *bk)
{
	size_t n = bk->cfg->n_layers, nu = 0;
	const struct reg_descriptor **uniq = calloc(n + 1, sizeof(*uniq));
	const char **uids = calloc(n + 1, sizeof(*uids)); /* the cache config's diff_ids */
	const struct idx_layer **uidx = calloc(n + 1, sizeof(*uidx));
	unsigned *unos = calloc(n + 1, sizeof(*unos));
	int r = -ENOMEM;

	if (!uniq || !uids || !uidx || !unos)
		goto out_free;
	for (size_t i = 0; i < n; i++) {
		size_t j;

		if (!bk->descs[i])
			continue;
		for (j = 0; j < nu && uniq[j] != bk->descs[i]; j++)
			;
		if (j == nu) {
			uids[nu] = bk->cfg->layers[i].diff_id;
			uniq[nu++] = bk->descs[i];
		}
	}
	r = fs_image_open_layers(img, uniq, nu, cache_diff_id, uids, unos, uidx);
	if (r < 0)
		goto out_free;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < nu; j++) {
			if (uniq[j] == bk->descs[i]) {
				bk->idx[i] = uidx[j];
				bk->nos[i] = unos[j];
			}
		}
	}
out_free:
	free(uniq);
	free(uids);
	free(uidx);
	free(unos);
	return r;
}

size_t fs_bk_chain(const struct fs_bk_cache *bk, size_t no, const struct idx_layer **idx,
		   unsigned *nos)
{
	size_t len = 0, n = bk->cfg->n_layers;
	long cur = (long)no;

	while (cur >= 0 && len < n) {
		if (!bk->descs[cur])
			return 0;
		len++;
		cur = bk->cfg->layers[cur].parent;
	}
	if (cur >= 0)
		return 0; /* a loop: the parser rejects these, be safe anyway */
	cur = (long)no;
	for (size_t k = len; k-- > 0;) {
		idx[k] = bk->idx[cur];
		nos[k] = bk->nos[cur];
		cur = bk->cfg->layers[cur].parent;
	}
	return len;
}

int fs_bk_open(struct fs_image *img, struct fs_bk_cache *bk)
{
	const struct reg_descriptor *cdesc, *layers;
	size_t n_layers, n;
	int r;

	memset(bk, 0, sizeof(*bk));
	r = reg_buildkit_parts(img->manifest, &cdesc, &layers, &n_layers);
	if (r < 0)
		return r;
	r = reg_blob_get(img->client, cdesc->digest, REG_MAX_CONFIG_SIZE, &bk->raw, &bk->raw_len);
	if (r < 0) {
		log_err("cannot fetch the cache config '%s': %s", cdesc->digest, strerror(-r));
		return r;
	}
	r = reg_cache_config_parse(bk->raw, bk->raw_len, &bk->cfg);
	if (r < 0) {
		log_err("invalid BuildKit cache config '%s'", cdesc->digest);
		goto out_release;
	}
	n = bk->cfg->n_layers;
	r = -ENOMEM;
	bk->descs = calloc(n + 1, sizeof(*bk->descs));
	bk->idx = calloc(n + 1, sizeof(*bk->idx));
	bk->nos = calloc(n + 1, sizeof(*bk->nos));
	if (!bk->descs || !bk->idx || !bk->nos)
		goto out_release;
	for (size_t i = 0; i < n; i++) {
		bk->descs[i] = find_desc(layers, n_layers, bk->cfg->layers[i].blob);
		if (!bk->descs[i])
			log_warn("cache layer %zu '%s' is not in the manifest: skipped", i,
				 bk->cfg->layers[i].blob);
	}
	r = open_all(img, bk);
	if (r == 0)
		return 0;
out_release:
	fs_bk_release(bk);
	return r;
}

void fs_bk_release(struct fs_bk_cache *bk)
{
	free(bk->descs);
	free(bk->idx);
	free(bk->nos);
	reg_cache_config_free(bk->cfg);
	free(bk->raw);
	memset(bk, 0, sizeof(*bk));
}
