/* SPDX-License-Identifier: MIT */
/*
 * The BuildKit registry cache view (both forms: image-manifest=true OCI
 * manifest and the legacy index, as BuildKit's registry cache exporter
 * writes them; README, "What the root of the mount shows"):
 *
 *   layers/NN-<12 hex>/   config layer NN alone, whiteouts shown as files
 *   chains/NN/            config layer NN merged over its parents (lazily)
 *   cache-config.json     the exact bytes of the cache config blob
 *
 * NN is the layer's index in the cache config; the cache's layers are
 * opened by fs/image_bk.c, shared with the CLI.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fs/mount_int.h"

static int add_views(struct fs_mount *m, const struct fs_bk_cache *bk)
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
		len = fs_bk_chain(bk, i, cidx, cnos);
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

int fs_mount_build_buildkit(struct fs_mount *m)
{
	struct fs_bk_cache bk;
	int r;

	r = fs_bk_open(m->img, &bk);
	if (r < 0)
		return r;
	r = add_views(m, &bk);
	if (r == 0)
		r = fs_view_add_file(m->view, FS_VIEW_ROOT_INO, "cache-config.json", bk.raw,
				     bk.raw_len);
	fs_bk_release(&bk);
	return r;
}
