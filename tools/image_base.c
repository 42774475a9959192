/* SPDX-License-Identifier: MIT */
/*
 * The base of a push or commit: resolving it (a reference, or the manifest
 * a stratafs mount serves), bringing its layers and their indexes into the
 * target repository, and fetching them locally for a squash.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/dbuf.h"
#include "common/log.h"
#include "fs/cache.h"
#include "tools/dir_layer.h"
#include "tools/image_int.h"
#include "tools/mount_stats.h"

/* "host/repo@digest" of what the stratafs mount at @dir serves. */
static int base_of_mount(const char *dir, char **out, char **cache)
{
	char *ref_str = NULL, *manifest = NULL;
	struct reg_ref ref = { 0 };
	struct dbuf d;
	int r;

	r = mount_stats_origin(dir, &ref_str, &manifest, cache);
	if (r == -ENODATA || r == -ENOTSUP) {
		log_err("'%s' is a directory but not the root of a stratafs mount: give --base "
			"a reference or a mountpoint", dir);
		return r;
	}
	if (r == -EMEDIUMTYPE)
		log_err("the stratafs mount at '%s' is not an image view (-o layers or a BuildKit "
			"cache): an overlay on it is not a diff of the image", dir);
	if (r == 0)
		r = reg_ref_parse(ref_str, &ref);
	dbuf_init(&d, 4096);
	if (r == 0)
		r = dbuf_printf(&d, "%s/%s@%s", ref.host, ref.repo, manifest);
	if (r == 0) {
		*out = dbuf_take(&d, NULL);
		log_info("base: '%s', as mounted at '%s'", *out, dir);
	} else {
		dbuf_release(&d);
		if (r != -EMEDIUMTYPE)
			log_err("cannot tell what '%s' mounts: %s", dir, strerror(-r));
	}
	reg_ref_release(&ref);
	free(ref_str);
	free(manifest);
	return r;
}

/*
 * A base named by a pinning index: the index artifact it pins, fetched by
 * digest. Unpinned artifacts (referrers) are never used: the new manifest
 * would pin what nothing vouched for.
 */
static void find_base_pins(struct image_push *ip)
{
	if (ip->bm->pinned_artifact[0] &&
	    reg_manifest_get(ip->bc, ip->bm->pinned_artifact, &ip->bpin) < 0)
		log_warn("the base's pinned index artifact '%s' is unavailable: building indexes",
			 ip->bm->pinned_artifact);
}

int image_open_base(struct image_push *ip, const char *base)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0;
	int r = 0;

	ip->mount_base = stat(base, &st) == 0 && S_ISDIR(st.st_mode);
	if (ip->mount_base)
		r = base_of_mount(base, &ip->base_ref, &ip->mount_cache);
	else if (!(ip->base_ref = strdup(base)))
		r = -ENOMEM;
	if (r < 0)
		return r;
	r = reg_ref_parse(ip->base_ref, &ip->bref);
	if (r == 0)
		r = reg_client_new(&ip->o->reg, &ip->bref, &ip->bc);
	if (r == 0)
		r = reg_resolve(ip->bc, &ip->bref, &ip->o->platform, &ip->bm, NULL);
	if (r == 0 && (ip->bm->kind != REG_MANIFEST_IMAGE || reg_manifest_is_buildkit_cache(ip->bm))) {
		log_err("base '%s' is not an image (a BuildKit cache or an index with no image for "
			"this platform): new layers go on images and stratafs caches only", base);
		return -EINVAL;
	}
	if (r == 0)
		r = reg_blob_get(ip->bc, ip->bm->config.digest, REG_MAX_CONFIG_SIZE, &buf, &len);
	if (r == 0) {
		ip->bconfig = json_loadb(buf, len, 0, NULL);
		r = json_is_object(ip->bconfig) ? 0 : -EBADMSG;
	}
	free(buf);
	if (r < 0) {
		log_err("cannot use base '%s': %s", base, strerror(-r));
		return r;
	}
	find_base_pins(ip);
	return 0;
}

/* The index blob the base pins for @d (its own annotation, else the pinned artifact), or NULL. */
static const char *base_pin_of(const struct image_push *ip, const struct reg_descriptor *d,
			       uint64_t *size)
{
	*size = 0;
	if (d->stratafs_index)
		return d->stratafs_index;
	for (size_t j = 0; ip->bpin && j < ip->bpin->n_layers; j++) {
		const struct reg_descriptor *x = &ip->bpin->layers[j];

		if (x->stratafs_layer && strcmp(x->stratafs_layer, d->digest) == 0 &&
		    strcmp(x->media_type, REG_MT_STRATAFS_INDEX_BLOB) == 0) {
			*size = x->size;
			return x->digest;
		}
	}
	return NULL;
}

struct download {
	int fd;
	uint64_t done, total;
	struct progress *prog;
};

static int download_sink(void *ctx, const void *buf, size_t n)
{
	struct download *dl = ctx;

	dl->done += n;
	progress_update(dl->prog, dl->done, dl->total);
	return sink_fd(&dl->fd, buf, n);
}

/* Blob @digest of the base, verified, into a new unlinked file *fd. */
static int download(struct image_push *ip, const char *digest, uint64_t size, int *fd)
{
	struct download dl = { .total = size, .prog = &ip->prog };
	int r;

	*fd = -1;
	dl.fd = tmp_file();
	if (dl.fd < 0)
		return dl.fd;
	progress_start(&ip->prog, "fetching a base layer", ip->o->quiet);
	r = reg_blob_stream(ip->bc, digest, download_sink, &dl);
	progress_end(&ip->prog);
	if (r < 0) {
		log_err("cannot fetch base blob '%s': %s", digest, strerror(-r));
		close(dl.fd);
		return r;
	}
	*fd = dl.fd;
	return 0;
}

/* Blob @digest of the base into the target: already there, mounted, or copied. */
static int copy_blob(struct image_push *ip, const char *digest, uint64_t size)
{
	struct reg_blob_src none = { .fd = -1, .size = size };
	struct reg_upload_opts u = { .mount_from = ip->bref.repo };
	struct reg_blob_src src;
	int fd, r;

	if (strcmp(ip->bref.host, ip->ref.host) == 0) {
		r = reg_blob_upload(ip->p, digest, &none, &u, NULL);
		if (r != -ENOENT && r != -EACCES && r != -EINVAL)
			return r;
	} else if (reg_blob_head(reg_pusher_client(ip->p), digest, &(uint64_t){ 0 }) == 0) {
		return 0;
	}
	r = download(ip, digest, size, &fd);
	if (r < 0)
		return r;
	src = (struct reg_blob_src){ .fd = fd, .size = size };
	u = image_upload_opts(ip, "copying a base blob", NULL);
	r = reg_blob_upload(ip->p, digest, &src, &u, NULL);
	close(fd);
	return r;
}

static ssize_t fd_stream(void *ctx, void *buf, size_t n)
{
	struct { int fd; uint64_t off; } *s = ctx;
	ssize_t k = pread(s->fd, buf, n, (off_t)s->off);

	if (k > 0)
		s->off += (uint64_t)k;
	return k < 0 ? -errno : k;
}

/* The index the base pins for layer @d, checked to be that layer's; its blob's digest and size. */
static int load_base_pin(struct image_push *ip, const struct reg_descriptor *d,
			 char digest[DIGEST_STR_LEN], uint64_t *size)
{
	const char *pin = base_pin_of(ip, d, size);
	struct idx_layer *l = NULL;
	char *buf = NULL;
	size_t len = 0;
	int r;

	if (!pin)
		return -ENOENT;
	r = reg_blob_get(ip->bc, pin, IDX_MAX_FILE_SIZE, &buf, &len);
	if (r == 0)
		r = idx_load_for(buf, len, d->digest, d->size, &l);
	free(buf);
	idx_layer_free(l);
	if (r < 0) {
		log_warn("the base's pinned index of '%s' is unusable (%s): building one", d->digest,
			 strerror(-r));
		return r;
	}
	snprintf(digest, DIGEST_STR_LEN, "%s", pin);
	*size = len;
	return 0;
}

/* The base config's diff_id of layer @i, or NULL. */
static const char *base_diff_id(const struct image_push *ip, size_t i)
{
	json_t *ids = json_object_get(json_object_get(ip->bconfig, "rootfs"), "diff_ids");
	const char *id = json_string_value(json_array_get(ids, i));

	return json_array_size(ids) == ip->bm->n_layers && id && digest_is_valid(id) ? id : NULL;
}

int image_base_layer_local(struct image_push *ip, size_t i, int *fd, struct idx_layer **l)
{
	const struct reg_descriptor *d = &ip->bm->layers[i];
	struct idx_build_opts bo = { .span_size = ip->span_size, .comp = IDX_COMP_AUTO,
				     .blob_digest = d->digest, .diff_id = base_diff_id(ip, i) };
	struct { int fd; uint64_t off; } s = { -1, 0 };
	int r;

	*l = NULL;
	r = download(ip, d->digest, d->size, fd);
	if (r < 0)
		return r;
	log_info("indexing base layer '%s'", d->digest);
	s.fd = *fd;
	r = idx_build(&bo, fd_stream, &s, l, NULL);
	if (r < 0) {
		log_err("cannot index base layer '%s': %s", d->digest, strerror(-r));
		close(*fd);
		*fd = -1;
	}
	return r;
}

/*
 * The index a stratafs mount of the base built and kept in its local cache
 * (--cache, else the cache of the --base mount, else the default): no need
 * to stream the layer again. Checked
 * like any index: it must load and name this layer's blob.
 */
static int local_cached_index(struct image_push *ip, const struct reg_descriptor *d,
			      struct idx_layer **l)
{
	char dir[4096];
	struct fs_cache *c = NULL;
	struct stat st;
	void *buf = NULL;
	size_t len = 0;
	int r;

	if (ip->o->cache_dir || ip->mount_cache)
		snprintf(dir, sizeof(dir), "%s", ip->o->cache_dir ? ip->o->cache_dir : ip->mount_cache);
	else if (fs_cache_default_dir(dir, sizeof(dir)) < 0)
		return -ENOENT;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) /* never create one here */
		return -ENOENT;
	r = fs_cache_open(dir, 0, &c);
	if (r == 0) /* only an index this host built: the cache's registry copies are not by layer */
		r = fs_cache_index_get(c, FS_CACHE_INDEX_BUILT, d->digest, &buf, &len);
	if (r == 0)
		r = idx_load_for(buf, len, d->digest, d->size, l);
	free(buf);
	fs_cache_close(c);
	if (r == 0)
		log_info("index of base layer '%s' from the local cache '%s'", d->digest, dir);
	return r;
}

int image_push_base_layers(struct image_push *ip)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < ip->bm->n_layers; i++) {
		const struct reg_descriptor *d = &ip->bm->layers[i];
		char pin[DIGEST_STR_LEN];
		struct idx_layer *l = NULL;
		uint64_t psize = 0;
		int fd = -1;

		r = copy_blob(ip, d->digest, d->size);
		/* an index the base pins, once checked to be this layer's, is copied as it is */
		if (r == 0 && load_base_pin(ip, d, pin, &psize) == 0 &&
		    copy_blob(ip, pin, psize) == 0 && image_add_iblob(ip, pin, psize, d->digest) == 0)
			continue;
		/* none: a small layer goes without (IMAGE_UNINDEXED_MAX), as it came */
		if (r == 0 && image_small_unindexed(ip, d->size))
			continue;
		/* else one this host built (a mount's), else build one from the layer */
		if (r == 0 && local_cached_index(ip, d, &l) < 0)
			r = image_base_layer_local(ip, i, &fd, &l);
		if (r == 0)
			r = image_push_index(ip, l, d->digest);
		idx_layer_free(l);
		if (fd >= 0)
			close(fd);
	}
	return r;
}
