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
#include <sys/sysmacros.h>
#include <time.h>

#include "common/log.h"
#include "fs/als_int.h"

#define SLOT_SHIFT 32
#define LOCAL_MASK ((UINT64_C(1) << SLOT_SHIFT) - 1)
#define LOCAL_IMAGE 0xFFFFFFF0u
#define LOCAL_LAYER 0xFFFFFFF1u
#define LOCAL_INFO 0xFFFFFFF2u
#define LOCAL_BLOB 0xFFFFFFF3u
#define MAX_SLOTS (1u << 24)
#define REF_MAX 1024
#define INFO_MAX 1024
#define OPQ_NAME ".wh..wh..opq"
#define WH_PREFIX ".wh."

static const char opaque_xattr[] = "trusted.overlay.opaque";

struct als_layer {
	struct als_image *img;
	size_t pos;
	uint64_t slot;
	const struct reg_descriptor *desc;
	char info[INFO_MAX];
	size_t info_len;
	pthread_mutex_t lock;
	struct idx_tree *tree;  /* atomic; built under lock */
	struct idx_tree *below; /* atomic; built under lock: layers 0..pos-1 merged */
	int err;                /* protected by lock: a failed build is not retried */
};

struct als_image {
	char *name;             /* the base64 name it was asked by */
	struct fs_image *fimg;
	uint64_t slot;
	const struct idx_layer **idx;
	unsigned *nos;
	struct als_layer *layers;
	size_t n_layers;
};

struct slot {
	bool is_image;
	void *p;
};

struct fs_als {
	struct fs_image_opts o;
	time_t started;
	pthread_mutex_t open_lock;  /* one image is resolved at a time */
	pthread_mutex_t lock;
	struct als_image **images;  /* protected by lock */
	size_t n_images, cap_images; /* protected by lock */
	struct slot *slots;          /* protected by lock; slots[0] unused */
	size_t n_slots, cap_slots;   /* protected by lock */
};

int fs_als_new(const struct fs_image_opts *o, struct fs_als **out)
{
	struct fs_als *a = calloc(1, sizeof(*a));

	if (!a)
		return -ENOMEM;
	a->o = *o;
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
	for (size_t i = 0; im->layers && i < im->n_layers; i++) {
		idx_tree_free(im->layers[i].tree);
		idx_tree_free(im->layers[i].below);
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
	free(a);
}

/* ---- resolving an image ----------------------------------------------- */

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Standard base64 with padding -> a NUL-terminated string of printable bytes. */
static int b64_decode(const char *s, char *out, size_t cap)
{
	size_t len = strlen(s), n = 0;

	if (len == 0 || len % 4 || len / 4 * 3 >= cap)
		return -EINVAL;
	for (size_t i = 0; i < len; i += 4) {
		int v[4];

		for (int k = 0; k < 4; k++) {
			v[k] = b64val(s[i + k]);
			if (v[k] < 0 && !(s[i + k] == '=' && i + 4 == len && k >= 2))
				return -EINVAL;
		}
		if (v[2] < 0 && v[3] >= 0)
			return -EINVAL;
		out[n++] = (char)(v[0] << 2 | v[1] >> 4);
		if (v[2] >= 0)
			out[n++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
		if (v[3] >= 0)
			out[n++] = (char)((v[2] & 3) << 6 | v[3]);
	}
	out[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)out[i] <= ' ' || (unsigned char)out[i] >= 127)
			return -EINVAL;
	return 0;
}

/* Takes a slot for @p; its number or -errno. Called with a->lock held. */
static int64_t slot_add(struct fs_als *a, bool is_image, void *p)
{
	if (a->n_slots >= a->cap_slots) {
		size_t cap = a->cap_slots ? a->cap_slots * 2 : 64;
		struct slot *s;

		if (cap > MAX_SLOTS)
			return -ENOSPC;
		s = realloc(a->slots, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		a->slots = s;
		a->cap_slots = cap;
	}
	a->slots[a->n_slots] = (struct slot){ .is_image = is_image, .p = p };
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

static int image_open(struct fs_als *a, const char *name, struct als_image **out)
{
	char ref[REF_MAX];
	struct fs_image_opts o = a->o;
	struct als_image *im;
	int r;

	r = b64_decode(name, ref, sizeof(ref));
	if (r < 0)
		return -ENOENT;
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
	log_info("store: resolved '%s' (%s, %zu layers)", im->fimg->ref_str,
		 im->fimg->manifest->digest, im->n_layers);
	*out = im;
	return 0;
}

/* Publish @im: slots for it and its layers, then the image list. */
static int image_publish(struct fs_als *a, struct als_image *im)
{
	int64_t s;
	int r = -ENOMEM;

	pthread_mutex_lock(&a->lock);
	if (a->n_images == a->cap_images) {
		size_t cap = a->cap_images ? a->cap_images * 2 : 16;
		struct als_image **v = realloc(a->images, cap * sizeof(*v));

		if (!v)
			goto out_unlock;
		a->images = v;
		a->cap_images = cap;
	}
	s = slot_add(a, true, im);
	if (s > 0)
		im->slot = (uint64_t)s;
	for (size_t i = 0; s > 0 && i < im->n_layers; i++) {
		im->layers[i].slot = (uint64_t)slot_add(a, false, &im->layers[i]);
		if ((int64_t)im->layers[i].slot < 0)
			s = (int64_t)im->layers[i].slot;
	}
	if (s < 0) {
		r = (int)s; /* the slots taken stay unused: they point to nothing found */
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

/* ---- a layer's trees -------------------------------------------------- */

static struct idx_tree *layer_tree(struct als_layer *l, bool below)
{
	struct idx_tree **slot = below ? &l->below : &l->tree;
	struct idx_tree *t = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	const struct idx_layer *const *idx = l->img->idx;
	int r;

	if (t)
		return t;
	pthread_mutex_lock(&l->lock);
	t = *slot;
	if (!t && l->err == 0) {
		if (below)
			r = idx_tree_build(idx, l->pos, 0, &t);
		else
			r = idx_tree_build(idx + l->pos, 1, IDX_TREE_KEEP_WHITEOUTS, &t);
		if (r < 0) {
			log_err("cannot build the tree of layer '%s': %s", l->desc->digest,
				strerror(-r));
			l->err = r;
			t = NULL;
		}
		__atomic_store_n(slot, t, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&l->lock);
	return t;
}

static uint64_t ino_of(uint64_t slot, uint64_t local)
{
	return slot << SLOT_SHIFT | local;
}

static void tree_node(struct als_layer *l, struct idx_tree *t, const struct idx_node *node,
		      struct fs_als_node *out)
{
	memset(out, 0, sizeof(*out));
	out->kind = FS_ALS_TREE;
	out->ino = ino_of(l->slot, node->ino);
	out->img = l->img;
	out->layer = l;
	out->node = node;
	out->entry = node->entry == IDX_TREE_NO_ENTRY ? NULL : idx_tree_entry(t, node);
}

static bool is_whiteout(const struct fs_als_node *n)
{
	return n->entry && n->entry->type == IDX_T_WHITEOUT;
}

static bool is_opaque_marker(const struct fs_als_node *n)
{
	return (n->entry && n->entry->type == IDX_T_OPAQUE) || strcmp(n->node->name, OPQ_NAME) == 0;
}

/* ---- inodes ----------------------------------------------------------- */

int fs_als_get(struct fs_als *a, uint64_t ino, struct fs_als_node *out)
{
	uint64_t s = ino >> SLOT_SHIFT, local = ino & LOCAL_MASK;
	struct slot sl = { 0 };
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
	t = layer_tree(l, false);
	if (!t || local == 0 || local > idx_tree_count(t))
		return -ENOENT;
	tree_node(l, t, idx_tree_node(t, local), out);
	return 0;
}

static int lookup_layer(struct als_image *im, const char *name, struct fs_als_node *out)
{
	for (size_t i = 0; i < im->n_layers; i++) {
		struct als_layer *l = &im->layers[i];

		if (strcmp(l->desc->digest, name) == 0) {
			memset(out, 0, sizeof(*out));
			out->kind = FS_ALS_LAYER;
			out->ino = ino_of(l->slot, LOCAL_LAYER);
			out->img = im;
			out->layer = l;
			return 0;
		}
	}
	return -ENOENT;
}

static int lookup_tree(struct als_layer *l, uint64_t dir, const char *name, struct fs_als_node *out)
{
	struct idx_tree *t = layer_tree(l, false);
	char wh[300];
	uint64_t ino;
	int r;

	if (!t)
		return -EIO;
	if (strncmp(name, WH_PREFIX, strlen(WH_PREFIX)) == 0)
		return -ENOENT; /* overlayfs's form has no whiteout files */
	r = idx_tree_lookup(t, dir, name, &ino);
	if (r == -ENOENT && snprintf(wh, sizeof(wh), WH_PREFIX "%s", name) < (int)sizeof(wh)) {
		r = idx_tree_lookup(t, dir, wh, &ino);
		if (r == 0) {
			tree_node(l, t, idx_tree_node(t, ino), out);
			return is_whiteout(out) ? 0 : -ENOENT;
		}
	}
	if (r < 0)
		return r;
	tree_node(l, t, idx_tree_node(t, ino), out);
	return 0;
}

int fs_als_lookup(struct fs_als *a, const struct fs_als_node *dir, const char *name,
		  struct fs_als_node *out)
{
	struct als_image *im = NULL;
	struct idx_tree *t;
	int r;

	switch (dir->kind) {
	case FS_ALS_ROOT:
		r = image_get(a, name, &im);
		if (r < 0)
			return -ENOENT;
		memset(out, 0, sizeof(*out));
		out->kind = FS_ALS_IMAGE;
		out->ino = ino_of(im->slot, LOCAL_IMAGE);
		out->img = im;
		return 0;
	case FS_ALS_IMAGE:
		return lookup_layer(dir->img, name, out);
	case FS_ALS_LAYER:
		if (strcmp(name, "info") == 0)
			return fs_als_get(a, ino_of(dir->layer->slot, LOCAL_INFO), out);
		if (strcmp(name, "blob") == 0)
			return fs_als_get(a, ino_of(dir->layer->slot, LOCAL_BLOB), out);
		if (strcmp(name, "diff") != 0)
			return -ENOENT;
		t = layer_tree(dir->layer, false);
		if (!t)
			return -EIO;
		tree_node(dir->layer, t, idx_tree_node(t, IDX_ROOT_INO), out);
		return 0;
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
		return fs_als_get(a, ino_of(n->img->slot, LOCAL_IMAGE), out);
	case FS_ALS_INFO:
	case FS_ALS_BLOB:
		return fs_als_get(a, ino_of(n->layer->slot, LOCAL_LAYER), out);
	case FS_ALS_TREE:
		if (n->node->ino == IDX_ROOT_INO)
			return fs_als_get(a, ino_of(n->layer->slot, LOCAL_LAYER), out);
		return fs_als_get(a, ino_of(n->layer->slot, n->node->parent), out);
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
		t = layer_tree(dir->layer, false);
		if (!t)
			return -EIO;
		r = idx_tree_child(t, dir->node->ino, pos, &node);
		if (r < 0)
			return r;
		tree_node(dir->layer, t, node, out);
		*name = node->name;
		if (is_opaque_marker(out))
			return 1; /* not shown */
		if (is_whiteout(out) && strncmp(*name, WH_PREFIX, strlen(WH_PREFIX)) == 0)
			*name += strlen(WH_PREFIX);
		return 0;
	default:
		return -ENOENT;
	}
}

/* ---- attributes ------------------------------------------------------- */

/* The path of @node in @t into @buf ("" for the root); false if too long. */
static bool node_path(struct idx_tree *t, const struct idx_node *node, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	while (node->ino != IDX_ROOT_INO) {
		size_t nl = strlen(node->name);

		if (len + nl + 2 > cap)
			return false;
		memmove(buf + nl + 1, buf, len + 1);
		buf[0] = '/';
		memcpy(buf + 1, node->name, nl);
		len += nl + 1;
		node = idx_tree_node(t, node->parent);
	}
	return true;
}

/* A directory this layer does not carry: the entry the layers below give it. */
static const struct idx_entry *below_entry(struct als_layer *l, const struct idx_node *node)
{
	struct idx_tree *t = layer_tree(l, false), *b;
	char path[4096];
	uint64_t ino;
	const struct idx_node *bn;

	if (l->pos == 0 || !t || !node_path(t, node, path, sizeof(path)))
		return NULL;
	b = layer_tree(l, true);
	if (!b || idx_tree_resolve(b, path, &ino) < 0)
		return NULL;
	bn = idx_tree_node(b, ino);
	if (bn->type != IDX_T_DIR || bn->entry == IDX_TREE_NO_ENTRY)
		return NULL;
	return idx_tree_entry(b, bn);
}

static mode_t type_bits(uint8_t type)
{
	switch (type) {
	case IDX_T_DIR:
		return S_IFDIR;
	case IDX_T_SYMLINK:
		return S_IFLNK;
	case IDX_T_CHR:
		return S_IFCHR;
	case IDX_T_BLK:
		return S_IFBLK;
	case IDX_T_FIFO:
		return S_IFIFO;
	default:
		return S_IFREG;
	}
}

static void stat_tree(const struct fs_als_node *n, struct stat *st)
{
	const struct idx_entry *e = n->entry;

	if (is_whiteout(n)) {
		st->st_mode = S_IFCHR;
		st->st_nlink = 1;
		st->st_rdev = makedev(0, 0);
		st->st_mtim.tv_sec = e->mtime_sec;
		st->st_mtim.tv_nsec = e->mtime_nsec;
		return;
	}
	if (!e && n->node->type == IDX_T_DIR)
		e = below_entry(n->layer, n->node);
	st->st_mode = type_bits(n->node->type) | (e ? (e->mode & 07777) : 0755);
	st->st_nlink = n->node->nlink ? n->node->nlink : 1;
	st->st_size = (off_t)n->node->size;
	if (!e)
		return;
	st->st_uid = e->uid;
	st->st_gid = e->gid;
	st->st_mtim.tv_sec = e->mtime_sec;
	st->st_mtim.tv_nsec = e->mtime_nsec;
	if (n->node->type == IDX_T_CHR || n->node->type == IDX_T_BLK)
		st->st_rdev = makedev(e->dev_major, e->dev_minor);
}

void fs_als_stat(struct fs_als *a, const struct fs_als_node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_blksize = 128 * 1024;
	st->st_mtim.tv_sec = a->started;
	switch (n->kind) {
	case FS_ALS_ROOT:
	case FS_ALS_IMAGE:
	case FS_ALS_LAYER:
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = n->kind == FS_ALS_IMAGE ? 2 + n->img->n_layers : 3;
		st->st_size = 4096;
		break;
	case FS_ALS_INFO:
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = (off_t)n->layer->info_len;
		break;
	case FS_ALS_BLOB:
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = (off_t)n->layer->desc->size;
		break;
	case FS_ALS_TREE:
		stat_tree(n, st);
		break;
	}
	st->st_ino = n->ino;
	st->st_ctim = st->st_mtim;
	st->st_atim = st->st_mtim;
	st->st_blocks = (st->st_size + 511) / 512;
}

/* ---- data ------------------------------------------------------------- */

ssize_t fs_als_read(struct fs_als *a, const struct fs_als_node *n, void *buf, size_t size,
		    uint64_t off)
{
	struct als_layer *l = n->layer;
	uint64_t fsize;
	ssize_t r;

	switch (n->kind) {
	case FS_ALS_INFO:
		if (off >= l->info_len)
			return 0;
		size = size < l->info_len - off ? size : (size_t)(l->info_len - off);
		memcpy(buf, l->info + off, size);
		return (ssize_t)size;
	case FS_ALS_BLOB:
		fsize = l->desc->size;
		if (off >= fsize)
			return 0;
		if (size > fsize - off)
			size = (size_t)(fsize - off);
		r = reg_blob_read(l->img->fimg->client, l->desc->digest, buf, size, off);
		return r < 0 ? -EIO : r;
	case FS_ALS_TREE:
		if (n->node->type != IDX_T_REG || is_whiteout(n))
			return n->node->type == IDX_T_DIR ? -EISDIR : 0;
		fsize = n->node->size;
		if (off >= fsize)
			return 0;
		if (size > fsize - off)
			size = (size_t)(fsize - off);
		r = fs_store_read(l->img->fimg->store, l->img->nos[l->pos], n->node->entry, buf,
				  size, off);
		return r < 0 && r != -ENOMEM ? -EIO : r;
	default:
		return -EISDIR;
	}
}

static bool is_opaque_dir(const struct fs_als_node *n)
{
	struct idx_tree *t;
	uint64_t ino;

	if (n->kind != FS_ALS_TREE || n->node->type != IDX_T_DIR)
		return false;
	t = layer_tree(n->layer, false);
	return t && idx_tree_lookup(t, n->node->ino, OPQ_NAME, &ino) == 0;
}

int fs_als_xattr(struct fs_als *a, const struct fs_als_node *n, uint32_t i, const char **name,
		 const void **value, size_t *len)
{
	uint32_t ne = n->kind == FS_ALS_TREE && n->entry && !is_whiteout(n) ? n->entry->n_xattrs : 0;

	if (i < ne) {
		*name = n->entry->xattrs[i].name;
		*value = n->entry->xattrs[i].value;
		*len = n->entry->xattrs[i].len;
		return 0;
	}
	if (i == ne && is_opaque_dir(n)) {
		*name = opaque_xattr;
		*value = "y";
		*len = 1;
		return 0;
	}
	return -ENOENT;
}

char *fs_als_stats_json(struct fs_als *a, size_t *len)
{
	size_t cap = 64, n = 0;
	char *out = malloc(cap), *s;

	if (!out)
		return NULL;
	n = (size_t)snprintf(out, cap, "{\"store\":{\"images\":[");
	pthread_mutex_lock(&a->lock);
	for (size_t i = 0; i < a->n_images; i++) {
		struct fs_image *fi = a->images[i]->fimg;
		char *st = fs_store_stats_json(fi->store);
		size_t need = n + (st ? strlen(st) : 4) + strlen(fi->ref_str) +
			      strlen(fi->manifest->digest) + 64;

		if (need > cap) {
			s = realloc(out, need);
			if (!s) {
				free(st);
				free(out);
				out = NULL;
				break;
			}
			out = s;
			cap = need;
		}
		n += (size_t)snprintf(out + n, cap - n, "%s{\"ref\":\"%s\",\"manifest\":\"%s\",\"data\":%s}",
				      i ? "," : "", fi->ref_str, fi->manifest->digest, st ? st : "null");
		free(st);
	}
	pthread_mutex_unlock(&a->lock);
	if (!out)
		return NULL;
	s = realloc(out, n + 4);
	if (!s) {
		free(out);
		return NULL;
	}
	memcpy(s + n, "]}}", 4);
	*len = n + 3;
	return s;
}
