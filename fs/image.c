/* SPDX-License-Identifier: MIT */
/*
 * Opening a reference without FUSE: client, store, manifest, layer
 * indexes under the trust policy, merged trees. The daemon's mount and
 * the CLI's ls / cat / extract go through here, so both see one tree.
 *
 * Opening a layer may mean a registry round trip (the index artifact) or a
 * whole-layer stream (no index anywhere yet), so layers are opened by a
 * small pool of threads; a 40-layer image then costs about the slowest
 * layer, not the sum. Nothing here fetches file data.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fs/foreign.h"
#include "fs/image.h"

#define MAX_OPEN_THREADS 16

int fs_unpinned_parse(const char *s, enum fs_unpinned *out)
{
	static const char *const names[] = { "tag", "never", "always" };

	for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum fs_unpinned)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Does the policy trust unpinned indexes for this reference? */
static bool trusts_unpinned(const struct fs_image *img)
{
	return img->unpinned == FS_UNPINNED_ALWAYS ||
	       (img->unpinned == FS_UNPINNED_TAG && !img->ref.digest);
}

struct opener {
	struct fs_image *img;
	const struct reg_descriptor *const *descs;
	int (*diff_id)(void *ctx, size_t layer, const char **out);
	void *diff_id_ctx;
	size_t n;
	unsigned *nos;
	const struct idx_layer **idx;
	pthread_mutex_t lock;
	size_t next; /* protected by lock */
	int err;     /* protected by lock: the first error */
};

static void *opener_main(void *arg)
{
	struct opener *op = arg;

	for (;;) {
		size_t i;
		int r;

		pthread_mutex_lock(&op->lock);
		i = op->next++;
		if (op->err < 0)
			i = op->n;
		pthread_mutex_unlock(&op->lock);
		if (i >= op->n)
			break;
		struct fs_layer_origin origin = {
			.manifest_digest = op->img->manifest->digest,
			.pinned_artifact = op->img->manifest->pinned_artifact,
			.soci_index = op->img->manifest->soci_index,
			.trust_unpinned = trusts_unpinned(op->img),
			.diff_id = op->diff_id,
			.diff_id_ctx = op->diff_id_ctx,
			.layer = i,
			.index_entry = fs_foreign_index_entry(op->img->top, op->img->manifest->digest),
		};

		r = fs_store_open_layer(op->img->store, &origin, op->descs[i], &op->nos[i],
					&op->idx[i]);
		if (r < 0) {
			log_err("cannot open layer '%s': %s", op->descs[i]->digest, strerror(-r));
			pthread_mutex_lock(&op->lock);
			if (op->err == 0)
				op->err = r;
			pthread_mutex_unlock(&op->lock);
		}
	}
	return NULL;
}

int fs_image_open_layers(struct fs_image *img, const struct reg_descriptor *const *descs,
			 size_t n, int (*diff_id)(void *ctx, size_t layer, const char **out),
			 void *diff_id_ctx, unsigned *nos, const struct idx_layer **idx)
{
	pthread_t th[MAX_OPEN_THREADS];
	struct opener op = { .img = img, .descs = descs, .diff_id = diff_id,
			     .diff_id_ctx = diff_id_ctx, .n = n, .nos = nos, .idx = idx };
	size_t nth = img->open_threads ? img->open_threads : 8, started = 0;

	if (nth > MAX_OPEN_THREADS)
		nth = MAX_OPEN_THREADS;
	if (nth > n)
		nth = n;
	pthread_mutex_init(&op.lock, NULL);
	for (size_t i = 1; i < nth; i++) {
		if (pthread_create(&th[started], NULL, opener_main, &op) != 0)
			break;
		started++;
	}
	opener_main(&op); /* this thread works too */
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&op.lock);
	if (op.err < 0)
		return op.err;
	img->n_layers += n;
	for (size_t i = 0; i < n; i++) {
		struct idx_info info;

		idx_layer_info(idx[i], &info);
		img->total_size += info.tar_size;
	}
	return 0;
}

/*
 * The config's diff_ids, one per layer: what a layer streamed to build its
 * index is checked against (the config is pinned by the manifest). Read
 * once, the first time a layer has to be streamed: an image whose indexes
 * are all at hand costs no config request.
 */
struct config_ids {
	struct fs_image *img;
	pthread_mutex_t lock;
	bool done;
	int err;
	char **ids;
	size_t n;
};

static int read_config_ids(struct config_ids *c)
{
	struct fs_image *img = c->img;
	char *buf = NULL;
	size_t len = 0;
	int r;

	r = reg_blob_get(img->client, img->manifest->config.digest, REG_MAX_CONFIG_SIZE, &buf,
			 &len);
	if (r == 0)
		r = reg_image_config_diff_ids(buf, len, &c->ids, &c->n);
	free(buf);
	if (r == 0 && c->n != img->manifest->n_layers) {
		log_err("the config of '%s' has %zu diff_ids for %zu layers", img->ref_str, c->n,
			img->manifest->n_layers);
		r = -EBADMSG;
	}
	if (r < 0)
		log_err("cannot read the image config of '%s': %s", img->ref_str, strerror(-r));
	return r;
}

static int config_diff_id(void *ctx, size_t layer, const char **out)
{
	struct config_ids *c = ctx;
	int r;

	pthread_mutex_lock(&c->lock);
	if (!c->done) {
		c->err = read_config_ids(c);
		c->done = true;
	}
	r = c->err;
	*out = r == 0 && layer < c->n ? c->ids[layer] : NULL;
	pthread_mutex_unlock(&c->lock);
	return r;
}

int fs_image_open_all(struct fs_image *img, const struct idx_layer ***idx_out, unsigned **nos_out)
{
	size_t n = img->manifest->n_layers;
	const struct reg_descriptor **descs = calloc(n + 1, sizeof(*descs));
	const struct idx_layer **idx = calloc(n + 1, sizeof(*idx));
	unsigned *nos = calloc(n + 1, sizeof(*nos));
	struct config_ids ids = { .img = img, .lock = PTHREAD_MUTEX_INITIALIZER };
	int r = -ENOMEM;

	if (!descs || !idx || !nos)
		goto out_free;
	for (size_t i = 0; i < n; i++)
		descs[i] = &img->manifest->layers[i];
	r = fs_image_open_layers(img, descs, n, config_diff_id, &ids, nos, idx);
	if (r == 0) {
		*idx_out = idx;
		*nos_out = nos;
		idx = NULL;
		nos = NULL;
	}
out_free:
	reg_strv_free(ids.ids, ids.n);
	pthread_mutex_destroy(&ids.lock);
	free(descs);
	free(idx);
	free(nos);
	return r;
}

static int open_client(struct fs_image *img, const struct fs_image_opts *o)
{
	int r;

	r = reg_ref_parse(o->ref, &img->ref);
	if (r < 0)
		return r;
	img->ref_str = reg_ref_format(&img->ref);
	if (!img->ref_str)
		return -ENOMEM;
	r = reg_client_new(&o->reg, &img->ref, &img->client);
	if (r < 0) {
		log_err("cannot create a registry client for '%s': %s", img->ref_str,
			strerror(-r));
		return r;
	}
	return fs_store_new(&o->store, img->client, &img->store);
}

static int resolve(struct fs_image *img, const struct fs_image_opts *o)
{
	struct reg_platform plat = { 0 };
	int r;

	r = reg_platform_parse(o->platform, &plat);
	if (r < 0) {
		log_err("invalid platform '%s'", o->platform ? o->platform : "");
		return r;
	}
	r = reg_resolve(img->client, &img->ref, &plat, &img->manifest, &img->top);
	reg_platform_release(&plat);
	if (r < 0) {
		log_err("cannot resolve '%s': %s", img->ref_str, strerror(-r));
		return r;
	}
	if (!fs_image_is_buildkit(img) && img->manifest->kind != REG_MANIFEST_IMAGE) {
		log_err("'%s' is an index with no image for this platform", img->ref_str);
		return -ENOENT;
	}
	return 0;
}

int fs_image_open(const struct fs_image_opts *o, struct fs_image **out)
{
	struct fs_image *img = calloc(1, sizeof(*img));
	int r;

	if (!img)
		return -ENOMEM;
	img->unpinned = o->unpinned;
	img->open_threads = o->open_threads;
	r = open_client(img, o);
	if (r == 0)
		r = resolve(img, o);
	if (r < 0) {
		fs_image_free(img);
		return r;
	}
	*out = img;
	return 0;
}

void fs_image_free(struct fs_image *img)
{
	if (!img)
		return;
	fs_store_free(img->store);
	reg_manifest_free(img->manifest);
	reg_manifest_free(img->top);
	reg_client_free(img->client);
	free(img->ref_str);
	reg_ref_release(&img->ref);
	free(img);
}

bool fs_image_is_buildkit(const struct fs_image *img)
{
	return reg_manifest_is_buildkit_cache(img->manifest);
}
