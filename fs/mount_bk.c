/* SPDX-License-Identifier: MIT */
/*
 * The BuildKit registry cache view (both forms: image-manifest=true OCI
 * manifest and the legacy index; PROTOCOLS.md §1):
 *
 *   layers/NN-<12 hex>/   config layer NN alone, whiteouts shown as files
 *   chains/NN/            config layer NN merged over its parents (lazily)
 *   cache-config.json     the exact bytes of the cache config blob
 *
 * NN is the layer's index in the cache config. A config layer whose blob is
 * not in the manifest is skipped with a warning (BuildKit drops such
 * results silently), and so is every chain that passes through it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fs/mount_int.h"

struct bk {
	struct reg_cache_config *cfg;
	const struct reg_descriptor **descs; /* per config layer; NULL: missing */
	const struct idx_layer **idx;        /* per config layer */
	unsigned *nos;                       /* per config layer */
};

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
static int open_all(struct fs_mount *m, const struct fs_mount_opts *o, struct bk *bk)
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
	r = fs_mount_open_layers(m, o, uniq, nu, cache_diff_id, uids, unos, uidx);
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

/* chains/NN: the layers from the root of NN's chain up to NN; 0 if a link is missing. */
static size_t chain_of(const struct bk *bk, size_t no, const struct idx_layer **idx, unsigned *nos)
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

static int add_views(struct fs_mount *m, struct bk *bk)
{
	size_t n = bk->cfg->n_layers;
	const struct idx_layer **cidx = calloc(n + 1, sizeof(*cidx));
	unsigned *cnos = calloc(n + 1, sizeof(*cnos));
	uint64_t ldir, cdir;
	char name[32];
	int r = -ENOMEM, tree;

	if (!cidx || !cnos)
		goto out_free;
	r = fs_view_add_dir(m->view, FS_VIEW_ROOT_INO, "layers", &ldir);
	if (r == 0)
		r = fs_view_add_dir(m->view, FS_VIEW_ROOT_INO, "chains", &cdir);
	for (size_t i = 0; r == 0 && i < n; i++) {
		size_t len;

		if (!bk->descs[i])
			continue;
		tree = fs_mount_add_tree(m, &bk->idx[i], &bk->nos[i], 1, IDX_TREE_KEEP_WHITEOUTS);
		fs_mount_layer_name(name, sizeof(name), i, bk->descs[i]->digest);
		r = tree < 0 ? tree : fs_view_attach_tree(m->view, ldir, name, (unsigned)tree);
		len = chain_of(bk, i, cidx, cnos);
		if (r < 0 || len == 0)
			continue;
		/* merged on first use: chains repeat their parents' entries (O(N^2)) */
		tree = fs_view_add_lazy_tree(m->view, cidx, cnos, len, 0);
		snprintf(name, sizeof(name), "%02u", (unsigned)i);
		r = tree < 0 ? tree : fs_view_attach_tree(m->view, cdir, name, (unsigned)tree);
	}
out_free:
	free(cidx);
	free(cnos);
	return r;
}

int fs_mount_build_buildkit(struct fs_mount *m, const struct fs_mount_opts *o)
{
	const struct reg_descriptor *cdesc, *layers;
	struct bk bk = { 0 };
	char *raw = NULL;
	size_t n_layers, len = 0, n;
	int r;

	r = reg_buildkit_parts(m->manifest, &cdesc, &layers, &n_layers);
	if (r < 0)
		return r;
	r = reg_blob_get(m->client, cdesc->digest, REG_MAX_CONFIG_SIZE, &raw, &len);
	if (r < 0) {
		log_err("cannot fetch the cache config '%s': %s", cdesc->digest, strerror(-r));
		return r;
	}
	r = reg_cache_config_parse(raw, len, &bk.cfg);
	if (r < 0) {
		log_err("invalid BuildKit cache config '%s'", cdesc->digest);
		goto out_free_raw;
	}
	n = bk.cfg->n_layers;
	r = -ENOMEM;
	bk.descs = calloc(n + 1, sizeof(*bk.descs));
	bk.idx = calloc(n + 1, sizeof(*bk.idx));
	bk.nos = calloc(n + 1, sizeof(*bk.nos));
	if (!bk.descs || !bk.idx || !bk.nos)
		goto out_free_bk;
	for (size_t i = 0; i < n; i++) {
		bk.descs[i] = find_desc(layers, n_layers, bk.cfg->layers[i].blob);
		if (!bk.descs[i])
			log_warn("cache layer %zu '%s' is not in the manifest: skipped", i,
				 bk.cfg->layers[i].blob);
	}
	r = open_all(m, o, &bk);
	if (r == 0)
		r = add_views(m, &bk);
	if (r == 0)
		r = fs_view_add_file(m->view, FS_VIEW_ROOT_INO, "cache-config.json", raw, len);
out_free_bk:
	free(bk.descs);
	free(bk.idx);
	free(bk.nos);
	reg_cache_config_free(bk.cfg);
out_free_raw:
	free(raw);
	return r;
}
