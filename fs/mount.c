/* SPDX-License-Identifier: MIT */
/*
 * Mounting: reference -> manifest -> layer indexes -> trees -> view.
 *
 * Opening a layer may mean a registry round trip (the index artifact) or a
 * whole-layer stream (no index anywhere yet), so layers are opened by a
 * small pool of threads; a 40-layer image then costs about the slowest
 * layer, not the sum. Nothing here fetches file data: the mount is ready
 * when the trees are built.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/dbuf.h"
#include "common/log.h"
#include "common/xmath.h"
#include "fs/mount_int.h"

#define MAX_OPEN_THREADS 16
#define STATS_MAX (4u << 20)

const char *fs_view_kind_name(enum fs_view_kind k)
{
	switch (k) {
	case FS_VIEW_IMAGE:
		return "image";
	case FS_VIEW_LAYERS:
		return "layers";
	case FS_VIEW_BUILDKIT:
		return "buildkit-cache";
	}
	return "?";
}

void fs_mount_layer_name(char *buf, size_t size, size_t no, const char *digest)
{
	const char *hex = strchr(digest, ':');

	hex = hex ? hex + 1 : digest;
	snprintf(buf, size, "%02u-%.12s", (unsigned)no, hex);
}

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

/* Does the policy trust unpinned indexes for this mount's reference? */
static bool trusts_unpinned(const struct fs_mount *m, const struct fs_mount_opts *o)
{
	return o->unpinned == FS_UNPINNED_ALWAYS ||
	       (o->unpinned == FS_UNPINNED_TAG && !m->ref.digest);
}

struct opener {
	struct fs_mount *m;
	const struct fs_mount_opts *o;
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
			.manifest_digest = op->m->manifest->digest,
			.pinned_artifact = op->m->manifest->pinned_artifact,
			.trust_unpinned = trusts_unpinned(op->m, op->o),
			.diff_id = op->diff_id,
			.diff_id_ctx = op->diff_id_ctx,
			.layer = i,
		};

		r = fs_store_open_layer(op->m->store, &origin, op->descs[i], &op->nos[i],
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

int fs_mount_open_layers(struct fs_mount *m, const struct fs_mount_opts *o,
			 const struct reg_descriptor *const *descs, size_t n,
			 int (*diff_id)(void *ctx, size_t layer, const char **out), void *diff_id_ctx,
			 unsigned *nos, const struct idx_layer **idx)
{
	pthread_t th[MAX_OPEN_THREADS];
	struct opener op = { .m = m, .o = o, .descs = descs, .diff_id = diff_id,
			     .diff_id_ctx = diff_id_ctx, .n = n, .nos = nos, .idx = idx };
	size_t nth = o->open_threads ? o->open_threads : 8, started = 0;

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
	m->n_layers += n;
	for (size_t i = 0; i < n; i++) {
		struct idx_info info;

		idx_layer_info(idx[i], &info);
		m->total_size += info.tar_size;
	}
	return 0;
}

int fs_mount_add_tree(struct fs_mount *m, const struct idx_layer *const *idx, const unsigned *nos,
		      size_t n, unsigned flags)
{
	struct idx_tree *t = NULL;
	int r;

	r = idx_tree_build(idx, n, flags, &t);
	if (r < 0) {
		log_err("cannot merge %zu layer(s) of '%s': %s", n, m->ref_str, strerror(-r));
		return r;
	}
	m->n_inodes += idx_tree_count(t);
	return fs_view_add_tree(m->view, t, nos, n);
}

/*
 * The config's diff_ids, one per layer: what a layer streamed to build its
 * index is checked against (the config is pinned by the manifest). Read
 * once, the first time a layer has to be streamed: a mount whose indexes
 * are all at hand costs no config request.
 */
struct config_ids {
	struct fs_mount *m;
	pthread_mutex_t lock;
	bool done;
	int err;
	char **ids;
	size_t n;
};

static int read_config_ids(struct config_ids *c)
{
	struct fs_mount *m = c->m;
	char *buf = NULL;
	size_t len = 0;
	int r;

	r = reg_blob_get(m->client, m->manifest->config.digest, REG_MAX_CONFIG_SIZE, &buf, &len);
	if (r == 0)
		r = reg_image_config_diff_ids(buf, len, &c->ids, &c->n);
	free(buf);
	if (r == 0 && c->n != m->manifest->n_layers) {
		log_err("the config of '%s' has %zu diff_ids for %zu layers", m->ref_str, c->n,
			m->manifest->n_layers);
		r = -EBADMSG;
	}
	if (r < 0)
		log_err("cannot read the image config of '%s': %s", m->ref_str, strerror(-r));
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

/* The image view, with -o layers the per-layer view. */
static int build_image(struct fs_mount *m, const struct fs_mount_opts *o)
{
	size_t n = m->manifest->n_layers;
	const struct reg_descriptor **descs = calloc(n + 1, sizeof(*descs));
	const struct idx_layer **idx = calloc(n + 1, sizeof(*idx));
	unsigned *nos = calloc(n + 1, sizeof(*nos));
	struct config_ids ids = { .m = m, .lock = PTHREAD_MUTEX_INITIALIZER };
	uint64_t dir;
	char name[32];
	int r = -ENOMEM, tree;

	if (!descs || !idx || !nos)
		goto out_free;
	for (size_t i = 0; i < n; i++)
		descs[i] = &m->manifest->layers[i];
	r = fs_mount_open_layers(m, o, descs, n, config_diff_id, &ids, nos, idx);
	if (r < 0)
		goto out_free;
	tree = fs_mount_add_tree(m, idx, nos, n, 0);
	r = tree;
	if (r < 0)
		goto out_free;
	if (!o->layers) {
		m->kind = FS_VIEW_IMAGE;
		r = fs_view_set_root_tree(m->view, (unsigned)tree);
		goto out_free;
	}
	m->kind = FS_VIEW_LAYERS;
	r = fs_view_attach_tree(m->view, FS_VIEW_ROOT_INO, "merged", (unsigned)tree);
	if (r == 0)
		r = fs_view_add_dir(m->view, FS_VIEW_ROOT_INO, "layers", &dir);
	for (size_t i = 0; r == 0 && i < n; i++) {
		tree = fs_mount_add_tree(m, &idx[i], &nos[i], 1, IDX_TREE_KEEP_WHITEOUTS);
		r = tree < 0 ? tree : 0;
		fs_mount_layer_name(name, sizeof(name), i, descs[i]->digest);
		if (r == 0)
			r = fs_view_attach_tree(m->view, dir, name, (unsigned)tree);
	}
out_free:
	reg_strv_free(ids.ids, ids.n);
	pthread_mutex_destroy(&ids.lock);
	free(descs);
	free(idx);
	free(nos);
	return r < 0 ? r : 0;
}

static int open_client(struct fs_mount *m, const struct fs_mount_opts *o)
{
	int r;

	r = reg_ref_parse(o->ref, &m->ref);
	if (r < 0)
		return r;
	m->ref_str = reg_ref_format(&m->ref);
	if (!m->ref_str)
		return -ENOMEM;
	r = reg_client_new(&o->reg, &m->ref, &m->client);
	if (r < 0) {
		log_err("cannot create a registry client for '%s': %s", m->ref_str, strerror(-r));
		return r;
	}
	return fs_store_new(&o->store, m->client, &m->store);
}

static int resolve(struct fs_mount *m, const struct fs_mount_opts *o)
{
	struct reg_platform plat = { 0 };
	int r;

	r = reg_platform_parse(o->platform, &plat);
	if (r < 0) {
		log_err("invalid platform '%s'", o->platform ? o->platform : "");
		return r;
	}
	r = reg_resolve(m->client, &m->ref, &plat, &m->manifest, &m->top);
	reg_platform_release(&plat);
	if (r < 0)
		log_err("cannot resolve '%s': %s", m->ref_str, strerror(-r));
	return r;
}

int fs_mount_open(const struct fs_mount_opts *o, struct fs_mount **out)
{
	struct fs_mount *m = calloc(1, sizeof(*m));
	struct timespec end;
	int r;

	if (!m)
		return -ENOMEM;
	m->started = time(NULL);
	clock_gettime(CLOCK_MONOTONIC, &m->mono_started);
	r = open_client(m, o);
	if (r < 0)
		goto out_free_mount;
	r = resolve(m, o);
	if (r < 0)
		goto out_free_mount;
	r = fs_view_new(m->started, &m->view);
	if (r < 0)
		goto out_free_mount;
	if (reg_manifest_is_buildkit_cache(m->manifest)) {
		m->kind = FS_VIEW_BUILDKIT;
		r = fs_mount_build_buildkit(m, o);
	} else if (m->manifest->kind == REG_MANIFEST_IMAGE) {
		r = build_image(m, o);
	} else {
		log_err("'%s' is an index with no image for this platform", m->ref_str);
		r = -ENOENT;
	}
	if (r < 0)
		goto out_free_mount;
	if (o->store.prefetch_all)
		fs_store_prefetch_start(m->store);
	clock_gettime(CLOCK_MONOTONIC, &end);
	m->open_ms = (double)(end.tv_sec - m->mono_started.tv_sec) * 1e3 +
		     (double)(end.tv_nsec - m->mono_started.tv_nsec) / 1e6;
	*out = m;
	return 0;

out_free_mount:
	fs_mount_free(m);
	return r;
}

void fs_mount_free(struct fs_mount *m)
{
	if (!m)
		return;
	fs_view_free(m->view);
	fs_store_free(m->store);
	reg_manifest_free(m->manifest);
	reg_manifest_free(m->top);
	reg_client_free(m->client);
	free(m->ref_str);
	reg_ref_release(&m->ref);
	free(m);
}

/* @s as a JSON string literal (the reference is the only free text). */
static int add_json_str(struct dbuf *b, const char *s)
{
	int r = dbuf_add_str(b, "\"");

	for (; r == 0 && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			r = dbuf_printf(b, "\\%c", c);
		else if (c < 0x20)
			r = dbuf_printf(b, "\\u%04x", c);
		else
			r = dbuf_add(b, s, 1);
	}
	return r ? r : dbuf_add_str(b, "\"");
}

char *fs_mount_stats_json(struct fs_mount *m, size_t *len)
{
	struct dbuf b;
	struct timespec now;
	char *store = fs_store_stats_json(m->store);
	double up;
	int r;

	dbuf_init(&b, STATS_MAX);
	clock_gettime(CLOCK_MONOTONIC, &now);
	up = (double)(now.tv_sec - m->mono_started.tv_sec) +
	     (double)(now.tv_nsec - m->mono_started.tv_nsec) / 1e9;
	r = dbuf_add_str(&b, "{\"mount\":{\"ref\":");
	if (r == 0)
		r = add_json_str(&b, m->ref_str);
	if (r == 0)
		r = dbuf_printf(&b, ",\"manifest\":\"%s\",\"view\":\"%s\",\"layers\":%zu,"
			       "\"inodes\":%" PRIu64 ",\"mount_ms\":%.1f,\"uptime_s\":%.1f",
			       m->manifest->digest, fs_view_kind_name(m->kind), m->n_layers,
			       m->n_inodes, m->open_ms, up);
	/* where its indexes are, so `strata commit --base MNT` finds them */
	if (r == 0 && fs_store_cache_dir(m->store)) {
		r = dbuf_add_str(&b, ",\"cache\":");
		if (r == 0)
			r = add_json_str(&b, fs_store_cache_dir(m->store));
	}
	if (r == 0)
		r = dbuf_add_str(&b, "}");
	/* splice the store's members in: {"mount":{..}, <store members>} */
	if (r == 0 && store && store[0] == '{' && strcmp(store, "{}") != 0)
		r = dbuf_printf(&b, ",%s", store + 1);
	else if (r == 0)
		r = dbuf_add_str(&b, "}");
	free(store);
	if (r < 0) {
		dbuf_release(&b);
		return NULL;
	}
	return dbuf_take(&b, len);
}
