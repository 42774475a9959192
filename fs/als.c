/* SPDX-License-Identifier: MIT */
/*
 * The Additional Layer Store: images resolved on demand, one directory per
 * layer in the form containers/storage's overlay driver mounts directly.
 *
 * Inode numbers. overlayfs shows every store layer under one device, so an
 * inode number must be unique across the whole store, not per layer. Each
 * resolved image and each of its layers takes a slot s (1, 2, ...; never
 * reused); its inodes are s << 32 | local: a layer's diff/ tree keeps the
 * tree's own numbers 1..count as local part (diff/ is the tree root), and
 * the layer dir, info and blob take the top local numbers. The slot table
 * maps s back to its image or layer.
 *
 * diff/ is the layer alone (a one-layer tree with whiteouts kept), shown
 * as overlayfs stores it: ".wh.NAME" is a 0/0 character device NAME, an
 * opaque dir has no ".wh..wh..opq" and carries trusted.overlay.opaque=y. A
 * directory the layer does not carry (there only for its children) shows
 * the attributes the layers below give it, as `umoci unpack` would: the
 * merged tree of those layers is built the first time one is asked for.
 *
 * Nothing is freed before the daemon stops: a layer the runtime used stays
 * available (and its inodes valid) for as long as the daemon runs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/base64.h"
#include "common/log.h"
#include "common/xarray.h"
#include "fs/als_impl.h"

/* The registry host of reference @ref, as a client names it ("docker.io" -> its API host). */
static char *ref_host(const char *ref)
{
	struct reg_ref rr;
	char *host;

	if (reg_ref_parse(ref, &rr) < 0)
		return NULL;
	host = strdup(rr.host);
	reg_ref_release(&rr);
	return host;
}

int fs_als_new(const struct fs_image_opts *o, bool push_index, const char *registry,
	       struct fs_als **out)
{
	struct fs_als *a = calloc(1, sizeof(*a));
	char probe[300];

	if (!a)
		return -ENOMEM;
	if (registry) {
		snprintf(probe, sizeof(probe), "%s/x", registry);
		a->registry = ref_host(probe);
		/*
		 * A name without a dot, a port or "localhost" is a repository
		 * on Docker Hub in a reference ("myreg/x"): the credentials
		 * would go there. Only Docker Hub's own names may be rewritten.
		 */
		if (!a->registry || (strcasecmp(a->registry, registry) != 0 &&
				     strcasecmp(registry, "docker.io") != 0 &&
				     strcasecmp(registry, "index.docker.io") != 0)) {
			log_err("-o registry='%s' is not a registry host (HOST[:PORT], e.g. "
				"registry.example.com, localhost:5000, 127.0.0.1:5000)", registry);
			free(a->registry);
			free(a);
			return -EINVAL;
		}
	}
	a->o = *o;
	a->push_index = push_index;
	a->o.ref = NULL;
	a->started = time(NULL);
	a->n_slots = 1;
	pthread_mutex_init(&a->open_lock, NULL);
	pthread_mutex_init(&a->lock, NULL);
	*out = a;
	return 0;
}

static void image_free(struct als_image *im)
{
	if (!im)
		return;
	if (im->pushing)
		pthread_join(im->push_th, NULL);
	reg_pusher_free(im->pusher);
	free(im->built);
	for (size_t i = 0; im->layers && i < im->n_layers; i++) {
		idx_tree_free(im->layers[i].tree);
		idx_tree_free(im->layers[i].below);
		free(im->layers[i].chunk);
		pthread_mutex_destroy(&im->layers[i].lock);
	}
	free(im->layers);
	free(im->idx);
	free(im->nos);
	fs_image_free(im->fimg);
	free(im->name);
	free(im);
}

void fs_als_free(struct fs_als *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n_images; i++)
		image_free(a->images[i]);
	free(a->images);
	free(a->slots);
	pthread_mutex_destroy(&a->open_lock);
	pthread_mutex_destroy(&a->lock);
	free(a->registry);
	free(a);
}

/* ---- resolving an image ----------------------------------------------- */

/* A reference as the additional layer store is asked for it: padded base64
 * of printable bytes, into a NUL-terminated @out. */
static int ref_decode(const char *s, char *out, size_t cap)
{
	ssize_t n = cap ? b64_decode(s, strlen(s), out, cap - 1, B64_PADDED) : -EINVAL;

	if (n <= 0)
		return -EINVAL;
	out[n] = '\0';
	for (ssize_t i = 0; i < n; i++)
		if ((unsigned char)out[i] <= ' ' || (unsigned char)out[i] >= 127)
			return -EINVAL;
	return 0;
}

/* Takes a slot for @p; its number or -errno. Called with a->lock held. */
static int64_t slot_add(struct fs_als *a, bool is_image, void *p)
{
	int r = xarray_grow_size((void **)&a->slots, &a->cap_slots, a->n_slots, sizeof(*a->slots), 64,
				 MAX_SLOTS);

	if (r < 0)
		return r == -EFBIG ? -ENOSPC : r;
	a->slots[a->n_slots] = (struct als_slot){ .is_image = is_image, .p = p };
	return (int64_t)a->n_slots++;
}

/* The digest of config's diff_id for each layer, and the "info" JSON. */
static int make_infos(struct als_image *im)
{
	char *buf = NULL, **ids = NULL;
	size_t len = 0, n = 0;
	int r;

	r = reg_blob_get(im->fimg->client, im->fimg->manifest->config.digest, REG_MAX_CONFIG_SIZE,
			 &buf, &len);
	if (r == 0)
		r = reg_image_config_diff_ids(buf, len, &ids, &n);
	if (r == 0 && n != im->n_layers)
		r = -EBADMSG;
	for (size_t i = 0; r == 0 && i < n; i++) {
		struct als_layer *l = &im->layers[i];
		enum idx_comp c = idx_comp_from_media_type(l->desc->media_type);
		struct idx_info info;
		int w;

		idx_layer_info(im->idx[i], &info);
		if (c == IDX_COMP_AUTO)
			c = info.comp;
		/* containers/storage: 0 uncompressed, 2 gzip, 4 zstd */
		w = snprintf(l->info, sizeof(l->info),
			     "{\"compressed-diff-digest\":\"%s\",\"compressed-size\":%llu,"
			     "\"diff-digest\":\"%s\",\"diff-size\":%llu,\"compression\":%d}\n",
			     l->desc->digest, (unsigned long long)l->desc->size, ids[i],
			     (unsigned long long)info.tar_size,
			     c == IDX_COMP_GZIP ? 2 : c == IDX_COMP_ZSTD ? 4 : 0);
		if (w < 0 || (size_t)w >= sizeof(l->info))
			r = -EFBIG;
		else
			l->info_len = (size_t)w;
	}
	if (r < 0)
		log_err("cannot read the diff_ids of '%s': %s", im->fimg->ref_str, strerror(-r));
	reg_strv_free(ids, n);
	free(buf);
	return r;
}

void fs_als_reg_opts(const struct fs_als *a, const char *ref, struct reg_opts *out)
{
	char *host = a->registry ? ref_host(ref) : NULL;

	*out = a->o.reg;
	if (!host || strcasecmp(host, a->registry) != 0) {
		/*
		 * The runtime names any registry: what -o gave is for one host
		 * only (a CA file replaces the system's bundle: other registries
		 * keep theirs).
		 */
		out->username = out->password = NULL;
		out->insecure = false;
		out->ca_file = NULL;
	}
	free(host);
}

static int image_open(struct fs_als *a, const char *name, struct als_image **out)
{
	char ref[REF_MAX];
	struct fs_image_opts o = a->o;
	struct als_image *im;
	int r;

	r = ref_decode(name, ref, sizeof(ref));
	if (r < 0)
		return -ENOENT;
	fs_als_reg_opts(a, ref, &o.reg);
	im = calloc(1, sizeof(*im));
	if (!im)
		return -ENOMEM;
	im->name = strdup(name);
	o.ref = ref;
	r = im->name ? fs_image_open(&o, &im->fimg) : -ENOMEM;
	if (r == 0 && fs_image_is_buildkit(im->fimg))
		r = -ENOENT;
	if (r == 0)
		r = fs_image_open_all(im->fimg, &im->idx, &im->nos);
	if (r == 0) {
		im->n_layers = im->fimg->manifest->n_layers;
		im->layers = calloc(im->n_layers + 1, sizeof(*im->layers));
		r = im->layers ? 0 : -ENOMEM;
	}
	for (size_t i = 0; r == 0 && i < im->n_layers; i++) {
		im->layers[i].img = im;
		im->layers[i].pos = i;
		im->layers[i].desc = &im->fimg->manifest->layers[i];
		pthread_mutex_init(&im->layers[i].lock, NULL);
	}
	if (r == 0)
		r = make_infos(im);
	if (r < 0) {
		log_warn("store: cannot serve '%s': %s", ref, strerror(-r));
		image_free(im);
		return r;
	}
	if (a->o.store.prefetch_all)
		fs_store_prefetch_start(im->fimg->store);
	if (a->push_index)
		fs_als_push_built(a, im);
	log_info("store: resolved '%s' (%s, %zu layers)", im->fimg->ref_str,
		 im->fimg->manifest->digest, im->n_layers);
	*out = im;
	return 0;
}

/* Publish @im: slots for it and its layers, then the image list. */
static int image_publish(struct fs_als *a, struct als_image *im)
{
	size_t first;
	int64_t s;
	int r = -ENOMEM;

	pthread_mutex_lock(&a->lock);
	if (xarray_grow_size((void **)&a->images, &a->cap_images, a->n_images, sizeof(*a->images), 16,
			     SIZE_MAX) < 0)
		goto out_unlock;
	first = a->n_slots;
	s = slot_add(a, true, im);
	if (s > 0)
		im->slot = (uint64_t)s;
	for (size_t i = 0; s > 0 && i < im->n_layers; i++) {
		s = slot_add(a, false, &im->layers[i]);
		im->layers[i].slot = s > 0 ? (uint64_t)s : 0;
	}
	if (s < 0) {
		/* the slots taken stay unused, pointing to nothing: @im is freed */
		for (size_t i = first; i < a->n_slots; i++)
			a->slots[i].p = NULL;
		r = (int)s;
		goto out_unlock;
	}
	a->images[a->n_images++] = im;
	r = 0;
out_unlock:
	pthread_mutex_unlock(&a->lock);
	return r;
}

static struct als_image *image_find(struct fs_als *a, const char *name)
{
	struct als_image *im = NULL;

	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < a->n_images && !im; i++)
		if (strcmp(a->images[i]->name, name) == 0)
			im = a->images[i];
	pthread_mutex_unlock(&a->lock);
	return im;
}

static int image_get(struct fs_als *a, const char *name, struct als_image **out)
{
	struct als_image *im;
	int r = 0;

	im = image_find(a, name);
	if (im)
		goto out;
	pthread_mutex_lock(&a->open_lock);
	im = image_find(a, name);
	if (!im) {
		r = image_open(a, name, &im);
		if (r == 0) {
			r = image_publish(a, im);
			if (r < 0)
				image_free(im);
		}
	}
	pthread_mutex_unlock(&a->open_lock);
out:
	if (r == 0)
		*out = im;
	return r;
}

static bool is_opaque_marker(const struct fs_als_node *n)
{
	return (n->entry && n->entry->type == IDX_T_OPAQUE) || strcmp(n->node->name, IDX_WH_OPAQUE) == 0;
}

/* ---- inodes ----------------------------------------------------------- */

int fs_als_get(struct fs_als *a, uint64_t ino, struct fs_als_node *out)
{
	uint64_t s = ino >> SLOT_SHIFT, local = ino & LOCAL_MASK;
	struct als_slot sl = { 0 };
	struct als_layer *l;
	struct idx_tree *t;

	memset(out, 0, sizeof(*out));
	out->ino = ino;
	if (ino == FS_ALS_ROOT_INO) {
		out->kind = FS_ALS_ROOT;
		return 0;
	}
	pthread_mutex_lock(&a->lock);
	if (s > 0 && s < a->n_slots)
		sl = a->slots[s];
	pthread_mutex_unlock(&a->lock);
	if (!sl.p)
		return -ENOENT;
	if (sl.is_image) {
		if (local != LOCAL_IMAGE)
			return -ENOENT;
		out->kind = FS_ALS_IMAGE;
		out->img = sl.p;
		return 0;
	}
	l = sl.p;
	out->img = l->img;
	out->layer = l;
	switch (local) {
	case LOCAL_LAYER:
		out->kind = FS_ALS_LAYER;
		return 0;
	case LOCAL_INFO:
		out->kind = FS_ALS_INFO;
		return 0;
	case LOCAL_BLOB:
		out->kind = FS_ALS_BLOB;
		return 0;
	}
	t = fs_als_layer_tree(l, false);
	if (!t || local == 0 || local > idx_tree_count(t))
		return -ENOENT;
	return fs_als_tree_node(l, t, idx_tree_node(t, local), out);
}

static int lookup_layer(struct als_image *im, const char *name, struct fs_als_node *out)
{
	for (size_t i = 0; i < im->n_layers; i++) {
		struct als_layer *l = &im->layers[i];

		if (strcmp(l->desc->digest, name) == 0) {
			memset(out, 0, sizeof(*out));
			out->kind = FS_ALS_LAYER;
			out->ino = als_ino(l->slot, LOCAL_LAYER);
			out->img = im;
			out->layer = l;
			return 0;
		}
	}
	return -ENOENT;
}

static int lookup_tree(struct als_layer *l, uint64_t dir, const char *name, struct fs_als_node *out)
{
	struct idx_tree *t = fs_als_layer_tree(l, false);
	char wh[300];
	uint64_t ino;
	int r;

	if (!t)
		return -EIO;
	if (strncmp(name, IDX_WH_PREFIX, strlen(IDX_WH_PREFIX)) == 0)
		return -ENOENT; /* overlayfs's form has no whiteout files */
	r = idx_tree_lookup(t, dir, name, &ino);
	if (r == -ENOENT && snprintf(wh, sizeof(wh), IDX_WH_PREFIX "%s", name) < (int)sizeof(wh)) {
		r = idx_tree_lookup(t, dir, wh, &ino);
		if (r == 0) {
			r = fs_als_tree_node(l, t, idx_tree_node(t, ino), out);
			return r < 0 ? r : fs_als_is_whiteout(out) ? 0 : -ENOENT;
		}
	}
	if (r < 0)
		return r;
	return fs_als_tree_node(l, t, idx_tree_node(t, ino), out);
}

/*
 * MNT/<layer digest>/, asked by a store configured without ":ref": with no
 * reference there is no registry or credentials to resolve anything with,
 * so only a layer of an image already resolved by reference is served, and
 * only when its index was built here from bytes that hashed to that
 * digest. A pinned index is vouched for by its own image's manifest only:
 * any image can list digest D and pin a forged index for it, with its
 * registry serving other bytes for D; served under D alone, that would be
 * what every runtime asking for D gets.
 */
static int lookup_known_layer(struct fs_als *a, const char *digest, struct fs_als_node *out)
{
	int r = -ENOENT;

	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; r < 0 && i < a->n_images; i++) {
		struct als_image *im = a->images[i];

		for (size_t k = 0; r < 0 && k < im->n_layers; k++) {
			const struct idx_layer *idx;
			const char *src, *trust;

			if (strcmp(im->layers[k].desc->digest, digest) == 0 &&
			    fs_store_layer_get(im->fimg->store, im->nos[k], &src, &trust, &idx) == 0 &&
			    strcmp(trust, "built") == 0)
				r = lookup_layer(im, digest, out);
		}
	}
	pthread_mutex_unlock(&a->lock);
	return r;
}

int fs_als_lookup(struct fs_als *a, const struct fs_als_node *dir, const char *name,
		  struct fs_als_node *out)
{
	struct als_image *im = NULL;
	struct idx_tree *t;
	int r;

	switch (dir->kind) {
	case FS_ALS_ROOT:
		if (digest_is_valid(name))
			return lookup_known_layer(a, name, out);
		r = image_get(a, name, &im);
		if (r < 0)
			return -ENOENT;
		memset(out, 0, sizeof(*out));
		out->kind = FS_ALS_IMAGE;
		out->ino = als_ino(im->slot, LOCAL_IMAGE);
		out->img = im;
		return 0;
	case FS_ALS_IMAGE:
		return lookup_layer(dir->img, name, out);
	case FS_ALS_LAYER:
		if (strcmp(name, "info") == 0)
			return fs_als_get(a, als_ino(dir->layer->slot, LOCAL_INFO), out);
		if (strcmp(name, "blob") == 0)
			return fs_als_get(a, als_ino(dir->layer->slot, LOCAL_BLOB), out);
		if (strcmp(name, "diff") != 0)
			return -ENOENT;
		t = fs_als_layer_tree(dir->layer, false);
		if (!t)
			return -EIO;
		return fs_als_tree_node(dir->layer, t, idx_tree_node(t, IDX_ROOT_INO), out);
	case FS_ALS_TREE:
		if (dir->node->type != IDX_T_DIR)
			return -ENOTDIR;
		return lookup_tree(dir->layer, dir->node->ino, name, out);
	default:
		return -ENOTDIR;
	}
}

int fs_als_parent(struct fs_als *a, const struct fs_als_node *n, struct fs_als_node *out)
{
	switch (n->kind) {
	case FS_ALS_IMAGE:
		return fs_als_get(a, FS_ALS_ROOT_INO, out);
	case FS_ALS_LAYER:
		return fs_als_get(a, als_ino(n->img->slot, LOCAL_IMAGE), out);
	case FS_ALS_INFO:
	case FS_ALS_BLOB:
		return fs_als_get(a, als_ino(n->layer->slot, LOCAL_LAYER), out);
	case FS_ALS_TREE:
		if (n->node->ino == IDX_ROOT_INO)
			return fs_als_get(a, als_ino(n->layer->slot, LOCAL_LAYER), out);
		return fs_als_get(a, als_ino(n->layer->slot, n->node->parent), out);
	default:
		return fs_als_get(a, FS_ALS_ROOT_INO, out);
	}
}

int fs_als_child(struct fs_als *a, const struct fs_als_node *dir, uint32_t pos,
		 struct fs_als_node *out, const char **name)
{
	static const char *const layer_names[] = { "diff", "info", "blob" };
	const struct idx_node *node;
	struct idx_tree *t;
	int r;

	switch (dir->kind) {
	case FS_ALS_IMAGE:
		if (pos >= dir->img->n_layers)
			return -ENOENT;
		*name = dir->img->layers[pos].desc->digest;
		return lookup_layer(dir->img, *name, out);
	case FS_ALS_LAYER:
		if (pos >= 3)
			return -ENOENT;
		*name = layer_names[pos];
		return fs_als_lookup(a, dir, *name, out);
	case FS_ALS_TREE:
		t = fs_als_layer_tree(dir->layer, false);
		if (!t)
			return -EIO;
		r = idx_tree_child(t, dir->node->ino, pos, &node);
		if (r < 0)
			return r;
		r = fs_als_tree_node(dir->layer, t, node, out);
		if (r < 0)
			return r;
		*name = node->name;
		if (is_opaque_marker(out))
			return 1; /* not shown */
		if (fs_als_is_whiteout(out) && strncmp(*name, IDX_WH_PREFIX, strlen(IDX_WH_PREFIX)) == 0)
			*name += strlen(IDX_WH_PREFIX);
		return 0;
	default:
		return -ENOENT;
	}
}
