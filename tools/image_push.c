/* SPDX-License-Identifier: MIT */
/* The new layer, its index, config, index artifact and manifest, in that order. */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/xarray.h"
#include "fs/store.h"
#include "tools/image_int.h"

void image_push_init(struct image_push *ip, struct cli_opts *o, const char *created_by)
{
	*ip = (struct image_push){ .o = o, .created_by = created_by, .layer_fd = -1 };
}

void image_push_release(struct image_push *ip)
{
	if (ip->layer_fd >= 0)
		close(ip->layer_fd);
	idx_layer_free(ip->layer);
	reg_pusher_free(ip->p);
	reg_manifest_free(ip->bm);
	reg_manifest_free(ip->bpin);
	reg_client_free(ip->bc);
	json_decref(ip->bconfig);
	reg_ref_release(&ip->bref);
	reg_ref_release(&ip->ref);
	free(ip->base_ref);
	free(ip->mount_cache);
	free(ip->iblobs);
	free(ip->profile);
	memset(ip, 0, sizeof(*ip));
	ip->layer_fd = -1;
}

struct reg_upload_opts image_upload_opts(struct image_push *ip, const char *what,
					 const char *mount_from)
{
	struct reg_upload_opts u = { .mount_from = mount_from };

	progress_start(&ip->prog, what, ip->o->quiet);
	if (ip->prog.on) {
		u.progress = progress_update;
		u.progress_ctx = &ip->prog;
	}
	return u;
}

int image_add_iblob(struct image_push *ip, const char *digest, uint64_t size, const char *layer)
{
	struct reg_index_blob *v;

	if (xarray_grow_size((void **)&ip->iblobs, &ip->cap_iblobs, ip->n_iblobs, sizeof(*v), 8,
			     SIZE_MAX) < 0)
		return -ENOMEM;
	v = &ip->iblobs[ip->n_iblobs++];
	snprintf(v->digest, sizeof(v->digest), "%s", digest);
	snprintf(v->layer, sizeof(v->layer), "%s", layer);
	v->size = size;
	v->media_type = NULL; /* an index blob */
	return 0;
}

bool image_small_unindexed(const struct image_push *ip, uint64_t size)
{
	return ip->skip_small_index && size <= IMAGE_UNINDEXED_MAX;
}

int image_push_index(struct image_push *ip, const struct idx_layer *l, const char *layer)
{
	struct reg_index_blob b;
	int r = fs_index_upload(ip->p, l, &b);

	return r < 0 ? r : image_add_iblob(ip, b.digest, b.size, layer);
}

/* ---- config and manifest ----------------------------------------------- */

static void created_at(char out[32])
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	time_t t = sde && *sde ? (time_t)strtoll(sde, NULL, 10) : 0;
	struct tm tm;

	if (!gmtime_r(&t, &tm) || tm.tm_year > 9999 - 1900 || tm.tm_year < 0) {
		log_warn("ignoring SOURCE_DATE_EPOCH '%s': out of range", sde);
		t = 0;
		gmtime_r(&t, &tm);
	}
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/*
 * The base's config (or a new one) with the layer's diff_id and a history
 * entry added; after a squash the layer list starts over, and so does the
 * history (its non-empty entries must match the layers one for one).
 */
static json_t *config_json(struct image_push *ip)
{
	json_t *c = ip->bconfig ? json_deep_copy(ip->bconfig) : json_object();
	json_t *rootfs, *ids, *hist;
	char when[32];

	if (!c)
		return NULL;
	created_at(when);
	if (!ip->bconfig || ip->o->platform_arg) {
		json_object_set_new(c, "architecture", json_string(ip->o->platform.arch));
		json_object_set_new(c, "os", json_string(ip->o->platform.os));
		if (ip->o->platform.variant)
			json_object_set_new(c, "variant", json_string(ip->o->platform.variant));
	}
	json_object_set_new(c, "created", json_string(when));
	if (!json_is_object(json_object_get(c, "config")))
		json_object_set_new(c, "config", json_object());
	rootfs = json_object_get(c, "rootfs");
	if (!json_is_object(rootfs) || ip->squashed) {
		rootfs = json_pack("{s:s, s:[]}", "type", "layers", "diff_ids");
		json_object_set_new(c, "rootfs", rootfs);
	}
	ids = json_object_get(rootfs, "diff_ids");
	if (!json_is_array(ids)) { /* Go writes a nil slice as null */
		ids = json_array();
		json_object_set_new(rootfs, "diff_ids", ids);
	}
	hist = json_object_get(c, "history");
	if (!json_is_array(hist) || ip->squashed) {
		hist = json_array();
		json_object_set_new(c, "history", hist);
	}
	if (!json_is_array(ids) || json_array_append_new(ids, json_string(ip->info.diff_id)) < 0 ||
	    json_array_append_new(hist, json_pack("{s:s, s:s}", "created", when, "created_by",
						  ip->created_by)) < 0) {
		json_decref(c);
		return NULL;
	}
	return c;
}

static json_t *descriptor(const char *mt, const char *digest, uint64_t size)
{
	return json_pack("{s:s, s:s, s:I}", "mediaType", mt, "digest", digest, "size",
			 (json_int_t)size);
}

/*
 * {mediaType, digest, size, annotations: {REG_ANNOT_STRATAFS_INDEX}}: the
 * manifest pins the index of every layer it lists.
 */
static json_t *layer_descriptor(const struct image_push *ip, const char *mt, const char *digest,
				uint64_t size)
{
	json_t *d = descriptor(mt, digest, size);

	for (size_t i = 0; d && i < ip->n_iblobs; i++) {
		if (strcmp(ip->iblobs[i].layer, digest) != 0)
			continue;
		if (json_object_set_new(d, "annotations",
					json_pack("{s:s}", REG_ANNOT_STRATAFS_INDEX,
						  ip->iblobs[i].digest)) < 0) {
			json_decref(d);
			return NULL;
		}
		return d;
	}
	if (!image_small_unindexed(ip, size))
		log_warn("no index for layer '%s': the manifest does not pin one", digest);
	return d;
}

/* The new layer's descriptor, pinning the access profile too when one was pushed. */
static json_t *new_layer_descriptor(const struct image_push *ip)
{
	json_t *d = layer_descriptor(ip, idx_comp_media_type(ip->info.comp), ip->info.blob_digest,
				     ip->info.blob_size);
	json_t *a;

	if (!d || !ip->profile_digest[0])
		return d;
	a = json_object_get(d, "annotations");
	if (!a && json_object_set_new(d, "annotations", a = json_object()) < 0)
		a = NULL;
	if (!a || json_object_set_new(a, REG_ANNOT_STRATAFS_PROFILE,
				      json_string(ip->profile_digest)) < 0) {
		json_decref(d);
		return NULL;
	}
	return d;
}

static char *manifest_json(struct image_push *ip, size_t config_len)
{
	size_t n_base = ip->bm && !ip->squashed ? ip->bm->n_layers : 0;
	json_t *m, *layers;
	char *raw = NULL;

	m = json_pack("{s:i, s:s, s:o, s:[]}", "schemaVersion", 2, "mediaType", REG_MT_OCI_MANIFEST,
		      "config", descriptor(REG_MT_OCI_CONFIG, ip->config_digest, config_len),
		      "layers");
	layers = json_object_get(m, "layers");
	for (size_t i = 0; layers && i < n_base; i++) {
		const struct reg_descriptor *d = &ip->bm->layers[i];

		json_array_append_new(layers, layer_descriptor(ip, idx_oci_layer_media_type(d->media_type),
							       d->digest, d->size));
	}
	if (layers && json_array_append_new(layers, new_layer_descriptor(ip)) == 0)
		raw = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	return raw;
}

/*
 * The index artifact of the manifest @subject: the layers' index blobs and
 * the access profile the manifest pins. A registry's garbage collector
 * deletes blobs no manifest references; the image manifest only names the
 * profile in an annotation, so the artifact references it too (the pin
 * stays the manifest's).
 */
static int push_artifact(struct image_push *ip, const struct reg_descriptor *subject)
{
	struct reg_index_blob *all = calloc(ip->n_iblobs + 1, sizeof(*all));
	size_t n = ip->n_iblobs;
	int r;

	if (!all)
		return -ENOMEM;
	if (n)
		memcpy(all, ip->iblobs, n * sizeof(*all));
	if (ip->profile_digest[0]) {
		memcpy(all[n].digest, ip->profile_digest, DIGEST_STR_LEN);
		all[n].size = ip->profile_len;
		all[n].media_type = REG_MT_STRATAFS_PROFILE;
		n++;
	}
	r = reg_index_artifact_push(ip->p, subject, all, n, false, ip->artifact_digest, NULL);
	free(all);
	return r;
}

/*
 * Config, index artifact (none when it would list nothing: no layer has an
 * index and no profile was pushed), then the image manifest: the tag moves
 * last.
 */
static int push_image(struct image_push *ip)
{
	struct reg_descriptor subject = { .media_type = REG_MT_OCI_MANIFEST };
	json_t *cfg = config_json(ip);
	char *craw = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL, *mraw = NULL;
	uint8_t sha[DIGEST_SHA256_LEN];
	int r = craw ? 0 : -ENOMEM;

	if (!craw)
		log_err("cannot write the image config (out of memory)");

	if (r == 0) {
		struct reg_blob_src src = { .fd = -1, .buf = craw, .size = strlen(craw) };

		digest_sha256(craw, strlen(craw), sha);
		digest_format(sha, ip->config_digest);
		r = reg_blob_upload(ip->p, ip->config_digest, &src, NULL, NULL);
	}
	mraw = r == 0 ? manifest_json(ip, strlen(craw)) : NULL;
	if (r == 0 && !mraw)
		r = -ENOMEM;
	if (r == 0) {
		digest_sha256(mraw, strlen(mraw), sha);
		digest_format(sha, ip->manifest_digest);
		memcpy(subject.digest, ip->manifest_digest, DIGEST_STR_LEN);
		subject.size = strlen(mraw);
	}
	if (r == 0 && (ip->n_iblobs || ip->profile_digest[0]))
		r = push_artifact(ip, &subject);
	if (r == 0)
		r = reg_manifest_put(ip->p, reg_ref_reference(&ip->ref), REG_MT_OCI_MANIFEST, mraw,
				     strlen(mraw), NULL, NULL);
	if (r == 0 && ip->ref.digest && strcmp(ip->ref.digest, ip->manifest_digest) != 0) {
		log_err("the pushed manifest is '%s', not '%s'", ip->manifest_digest, ip->ref.digest);
		r = -EBADMSG;
	}
	free(craw);
	free(mraw);
	json_decref(cfg);
	return r;
}

int image_upload(struct image_push *ip)
{
	struct reg_blob_src src = { .fd = ip->layer_fd, .size = ip->info.blob_size };
	struct reg_upload_opts u;
	int r;

	r = reg_pusher_new(&ip->o->reg, &ip->ref, &ip->p);
	if (r == 0 && ip->bm && !ip->squashed)
		r = image_push_base_layers(ip);
	if (r == 0) {
		u = image_upload_opts(ip, "uploading the layer", NULL);
		r = reg_blob_upload(ip->p, ip->info.blob_digest, &src, &u, &ip->layer_how);
		progress_end(&ip->prog);
	}
	if (r == 0 && image_small_unindexed(ip, ip->info.blob_size))
		log_info("layer of %llu bytes: no index (a mount fetches it whole and indexes it)",
			 (unsigned long long)ip->info.blob_size);
	else if (r == 0)
		r = image_push_index(ip, ip->layer, ip->info.blob_digest);
	if (r == 0 && image_profile_upload(ip) < 0)
		log_warn("the new manifest pins no access profile"); /* a hint only: go on */
	if (r == 0)
		r = push_image(ip);
	return r;
}

void image_print_result(const struct image_push *ip, FILE *f, bool json)
{
	size_t n_layers = 1 + (ip->bm && !ip->squashed ? ip->bm->n_layers : 0);
	char *ref = reg_ref_format(&ip->ref);

	if (json) {
		json_t *j = json_pack("{s:s?, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s?, s:I, s:b, "
				      "s:I, s:b, s:s?, s:s?, s:I, s:I}",
				      "reference", ref, "manifest", ip->manifest_digest, "config",
				      ip->config_digest, "layer", ip->info.blob_digest, "diff_id",
				      ip->info.diff_id, "compression", idx_comp_name(ip->info.comp),
				      "layer_size", (json_int_t)ip->info.blob_size, "tar_size",
				      (json_int_t)ip->info.tar_size, "index_artifact",
				      ip->artifact_digest[0] ? ip->artifact_digest : NULL, "spans",
				      (json_int_t)ip->info.n_spans,
				      "layer_existed", ip->layer_how == REG_UPLOAD_EXISTED, "layers",
				      (json_int_t)n_layers, "squashed", ip->squashed, "base",
				      ip->base_ref, "profile",
				      ip->profile_digest[0] ? ip->profile_digest : NULL,
				      "unchanged_files", (json_int_t)ip->unchanged_files,
				      "unchanged_bytes", (json_int_t)ip->unchanged_bytes);

		json_dumpf(j, f, JSON_INDENT(2));
		fputc('\n', f);
		json_decref(j);
	} else {
		fprintf(f, "pushed %s\nmanifest %s\nlayer %s (%llu bytes %s, %llu bytes tar, %u spans)\n"
			   "index %s\nlayers %zu%s\n",
			ref ? ref : "", ip->manifest_digest, ip->info.blob_digest,
			(unsigned long long)ip->info.blob_size, idx_comp_name(ip->info.comp),
			(unsigned long long)ip->info.tar_size, ip->info.n_spans,
			ip->artifact_digest[0] ? ip->artifact_digest : "none (no layer has an index)",
			n_layers, ip->squashed ? " (squashed)" : "");
	}
	free(ref);
}
