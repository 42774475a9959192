/* SPDX-License-Identifier: MIT */
/*
 * The one tree the CLI shows of a reference (fs_image_tree()): an image's
 * merged rootfs or one of its layers; for a BuildKit cache, which has no
 * single merged tree, one chain (by default the last config layer's,
 * what the last cached step produced) or one layer. The daemon shows all
 * of them at once instead (fs/mount.c, fs/mount_bk.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fs/image.h"

/* Merge idx[0..n) (or only idx[pick] when @one) into *t, with *nos mapped. */
static int build(const struct idx_layer **idx, const unsigned *nos, size_t n, long one,
		 struct idx_tree **t, unsigned **nos_out)
{
	size_t first = one >= 0 ? (size_t)one : 0, len = one >= 0 ? 1 : n;
	unsigned *out = calloc(len + 1, sizeof(*out));
	int r;

	if (!out)
		return -ENOMEM;
	memcpy(out, nos + first, len * sizeof(*out));
	r = idx_tree_build(idx + first, len, one >= 0 ? IDX_TREE_KEEP_WHITEOUTS : 0, t);
	if (r < 0) {
		log_err("cannot merge %zu layer(s): %s", len, strerror(-r));
		free(out);
		return r;
	}
	*nos_out = out;
	return 0;
}

static int image_tree(struct fs_image *img, const struct fs_image_pick *pick,
		      struct idx_tree **t, unsigned **nos_out)
{
	const struct idx_layer **idx = NULL;
	unsigned *nos = NULL;
	size_t n = img->manifest->n_layers;
	int r;

	if (pick->chain >= 0 || pick->layer >= (long)n) {
		log_err("'%s' has %zu layers and no chains: no such %s", img->ref_str, n,
			pick->chain >= 0 ? "chain" : "layer");
		return -ENOENT;
	}
	r = fs_image_open_all(img, &idx, &nos);
	if (r == 0)
		r = build(idx, nos, n, pick->layer, t, nos_out);
	free(idx);
	free(nos);
	return r;
}

static int bk_tree(struct fs_image *img, const struct fs_image_pick *pick, struct idx_tree **t,
		   unsigned **nos_out)
{
	struct fs_bk_cache bk;
	const struct idx_layer **idx = NULL;
	unsigned *nos = NULL;
	size_t n, len = 0;
	long no;
	int r;

	r = fs_bk_open(img, &bk);
	if (r < 0)
		return r;
	n = bk.cfg->n_layers;
	no = pick->layer >= 0 ? pick->layer : pick->chain >= 0 ? pick->chain : (long)n - 1;
	r = -ENOMEM;
	idx = calloc(n + 1, sizeof(*idx));
	nos = calloc(n + 1, sizeof(*nos));
	if (!idx || !nos)
		goto out_free;
	r = -ENOENT;
	if (no >= 0 && (size_t)no < n && bk.descs[no])
		len = pick->layer >= 0 ? 1 : fs_bk_chain(&bk, (size_t)no, idx, nos);
	if (len == 0) {
		log_err("'%s': no %s %ld in the cache (%zu layers)", img->ref_str,
			pick->layer >= 0 ? "layer" : "chain", no, n);
		goto out_free;
	}
	if (pick->layer >= 0) {
		idx[0] = bk.idx[no];
		nos[0] = bk.nos[no];
	}
	r = build(idx, nos, len, pick->layer >= 0 ? 0 : -1, t, nos_out);
out_free:
	free(idx);
	free(nos);
	fs_bk_release(&bk);
	return r;
}

int fs_image_tree(struct fs_image *img, const struct fs_image_pick *pick, struct idx_tree **t,
		  unsigned **nos)
{
	if (fs_image_is_buildkit(img))
		return bk_tree(img, pick, t, nos);
	return image_tree(img, pick, t, nos);
}
