/* SPDX-License-Identifier: MIT */
/*
 * strata index REF [--push [--tag TAG]] [--force] [--span-size N] [--json]
 *
 * REF: an image (through an index for --platform) or a BuildKit registry
 * cache of either form. Each layer is streamed once through the daemon's
 * own builder (fs_index_build_stream(): the blob digest and the config's
 * diff_id are verified), unless the manifest itself pins an index for it,
 * or (without --tag) the registry already lists an unpinned one: pushing
 * another would add nothing. --force builds every layer. With --tag an
 * index found only through referrers is no reason to skip a layer: the
 * pinning index must name only indexes built from verified bytes.
 *
 * --push uploads the built indexes as one stratafs index artifact whose
 * subject is the resolved manifest (for an index: the --platform one).
 * Nothing pins that artifact, so mounts use it only where their policy
 * trusts unpinned indexes (-o unpinned). --tag TAG also pushes a pinning
 * index (reg_pinning_index_push()): an OCI image index naming the manifest
 * and the artifact, whose digest vouches for both, so the image mounted
 * as REPO@<that digest> is lazy from its first read and trusted. --force
 * with --push makes the new artifact the only one the referrers fallback
 * tag lists: the repair of a damaged or forged unpinned index.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fs/store.h"
#include "index/index.h"
#include "tools/cli.h"
#include "tools/cmd_index.h"
#include "tools/progress.h"

struct ref_layer {
	const struct reg_descriptor *d;
	bool in_registry;          /* a referrer of the manifest lists an index for it */
	struct idx_layer *idx;     /* built here, or NULL (skipped) */
	struct idx_info info;
	size_t index_size;
	double secs;
};

struct ref_job {
	struct reg_ref ref;
	struct reg_client *client; /* without --push */
	struct reg_pusher *pusher; /* with --push; its client is used for everything */
	struct reg_client *c;
	struct reg_manifest *m, *top;
	struct ref_layer *layers;
	size_t n;
	char **diff_ids;           /* an image's, from its config; else NULL */
	size_t n_diff_ids;
	json_t *config;            /* an image's config, for its platform; else NULL */
	char artifact[DIGEST_STR_LEN]; /* "" unless pushed */
	uint64_t artifact_size;
	char pinning[DIGEST_STR_LEN];  /* the pinning index pushed with --tag, or "" */
};

static int job_open(struct index_opts *o, const char *ref_str, struct ref_job *j)
{
	int r;

	r = reg_ref_parse(ref_str, &j->ref);
	if (r < 0)
		return r;
	if (o->push)
		r = reg_pusher_new(&o->cli.reg, &j->ref, &j->pusher);
	else
		r = reg_client_new(&o->cli.reg, &j->ref, &j->client);
	if (r < 0) {
		log_err("cannot open registry '%s': %s", j->ref.host, strerror(-r));
		return r;
	}
	j->c = o->push ? reg_pusher_client(j->pusher) : j->client;
	r = reg_resolve(j->c, &j->ref, &o->cli.platform, &j->m, &j->top);
	if (r < 0)
		log_err("cannot resolve '%s': %s", ref_str, strerror(-r));
	return r;
}

static void job_release(struct ref_job *j)
{
	for (size_t i = 0; j->layers && i < j->n; i++)
		idx_layer_free(j->layers[i].idx);
	free(j->layers);
	reg_strv_free(j->diff_ids, j->n_diff_ids);
	json_decref(j->config);
	reg_manifest_free(j->m);
	reg_manifest_free(j->top);
	reg_pusher_free(j->pusher);
	reg_client_free(j->client);
	reg_ref_release(&j->ref);
}

/* The layer list of an image or a BuildKit cache, and which have an unpinned index. */
static int job_layers(struct ref_job *j)
{
	const struct reg_descriptor *cfg = NULL, *descs = NULL;
	const struct reg_descriptor **dp = NULL;
	bool *has = NULL;
	int r = 0;

	if (reg_manifest_is_buildkit_cache(j->m))
		r = reg_buildkit_parts(j->m, &cfg, &descs, &j->n);
	else if (j->m->kind == REG_MANIFEST_IMAGE)
		descs = j->m->layers, j->n = j->m->n_layers;
	else
		r = -ENOENT; /* an index with no image for this platform */
	if (r < 0)
		return r;
	j->layers = calloc(j->n + 1, sizeof(*j->layers));
	dp = calloc(j->n + 1, sizeof(*dp));
	has = calloc(j->n + 1, sizeof(*has));
	r = j->layers && dp && has ? 0 : -ENOMEM;
	for (size_t i = 0; r == 0 && i < j->n; i++)
		dp[i] = j->layers[i].d = &descs[i];
	if (r == 0 && fs_index_registry_has(j->c, j->m->digest, dp, j->n, has) < 0)
		log_warn("cannot list the index artifacts of '%s'", j->m->digest);
	for (size_t i = 0; r == 0 && i < j->n; i++)
		j->layers[i].in_registry = has[i];
	free(has);
	free(dp);
	return r;
}

/* Whether layer @l needs an index built here (see the top of this file). */
static bool needs_build(const struct index_opts *o, const struct ref_layer *l)
{
	if (o->force)
		return true;
	if (l->d->stratafs_index)
		return false;
	return o->tag || !l->in_registry;
}

/* An image's config: its diff_ids verify each built layer's tar; its platform goes in --tag's index. */
static int job_config(struct ref_job *j)
{
	const struct reg_descriptor *cfg = &j->m->config;
	char *buf = NULL;
	size_t len = 0;
	int r;

	if (j->m->kind != REG_MANIFEST_IMAGE || !cfg->media_type ||
	    (strcmp(cfg->media_type, REG_MT_OCI_CONFIG) != 0 &&
	     strcmp(cfg->media_type, REG_MT_DOCKER_CONFIG) != 0))
		return 0; /* a BuildKit cache: blob digests only */
	r = reg_blob_get(j->c, cfg->digest, REG_MAX_CONFIG_SIZE, &buf, &len);
	if (r == 0)
		r = reg_image_config_diff_ids(buf, len, &j->diff_ids, &j->n_diff_ids);
	if (r == 0)
		j->config = json_loadb(buf, len, 0, NULL);
	free(buf);
	if (r < 0) {
		log_err("cannot read the diff_ids of config '%s': %s", cfg->digest, strerror(-r));
		return r;
	}
	if (j->n_diff_ids != j->n) {
		log_err("config '%s' names %zu diff_ids for %zu layers", cfg->digest,
			j->n_diff_ids, j->n);
		return -EBADMSG;
	}
	return 0;
}

static int build_layer(const struct index_opts *o, struct ref_job *j, size_t i)
{
	struct ref_layer *l = &j->layers[i];
	struct progress prog;
	void *buf = NULL;
	double t0 = index_now();
	int r;

	log_info("indexing layer '%s' (%llu bytes)", l->d->digest, (unsigned long long)l->d->size);
	progress_start(&prog, "indexing a layer", o->cli.quiet);
	r = fs_index_build_progress(j->c, l->d, j->diff_ids ? j->diff_ids[i] : NULL,
				    o->span_size, &l->idx, prog.on ? progress_update : NULL, &prog);
	progress_end(&prog);
	if (r < 0)
		return r;
	l->secs = index_now() - t0;
	idx_layer_info(l->idx, &l->info);
	r = idx_save(l->idx, &buf, &l->index_size);
	free(buf);
	return r;
}

/*
 * The descriptor of the manifest for the pinning index: with the platform
 * of the index entry it was chosen from, else of its config, so that OCI
 * clients pulling the pinning index by platform find it.
 */
static void subject_of(const struct ref_job *j, struct reg_descriptor *d)
{
	memset(d, 0, sizeof(*d));
	d->media_type = j->m->media_type;
	memcpy(d->digest, j->m->digest, sizeof(d->digest));
	d->size = j->m->raw_len;
	for (size_t i = 0; j->top && i < j->top->n_manifests; i++) {
		const struct reg_descriptor *e = &j->top->manifests[i];

		if (strcmp(e->digest, j->m->digest) == 0 && e->has_platform) {
			d->has_platform = true;
			d->platform = e->platform; /* shallow: borrowed */
			return;
		}
	}
	if (json_is_string(json_object_get(j->config, "os")) &&
	    json_is_string(json_object_get(j->config, "architecture"))) {
		d->has_platform = true;
		d->platform.os = (char *)json_string_value(json_object_get(j->config, "os"));
		d->platform.arch =
			(char *)json_string_value(json_object_get(j->config, "architecture"));
		if (json_is_string(json_object_get(j->config, "variant")))
			d->platform.variant =
				(char *)json_string_value(json_object_get(j->config, "variant"));
	}
}

static int job_push(const struct index_opts *o, struct ref_job *j)
{
	const struct idx_layer **v = calloc(j->n + 1, sizeof(*v));
	struct reg_descriptor subject;
	size_t nb = 0;
	int r;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < j->n; i++)
		if (j->layers[i].idx)
			v[nb++] = j->layers[i].idx;
	r = nb ? fs_index_push(j->pusher, j->m, v, nb, o->force, j->artifact, &j->artifact_size)
	       : 0;
	free(v);
	if (r < 0 || !o->tag)
		return r;
	if (!nb) {
		log_info("the manifest pins an index for every layer: no pinning index needed");
		return 0;
	}
	subject_of(j, &subject);
	r = reg_pinning_index_push(j->pusher, o->tag, &subject, j->artifact, j->artifact_size,
				   j->pinning);
	if (r < 0)
		log_err("cannot push the pinning index '%s': %s", o->tag, strerror(-r));
	return r;
}

static void print_ref_text(const struct ref_job *j)
{
	printf("manifest %s (%s)\n", j->m->digest, j->m->media_type);
	for (size_t i = 0; i < j->n; i++) {
		const struct ref_layer *l = &j->layers[i];
		const struct idx_info *in = &l->info;

		if (!l->idx && l->d->stratafs_index) {
			printf("layer %zu %s: the manifest pins index %s (skipped)\n", i,
			       l->d->digest, l->d->stratafs_index);
			continue;
		}
		if (!l->idx) {
			printf("layer %zu %s: an unpinned index is in the registry (skipped)\n", i,
			       l->d->digest);
			continue;
		}
		printf("layer %zu %s: %s, %u entries, %u spans of %llu, blob %llu, tar %llu, "
		       "index %zu bytes, %.1f MB/s\n",
		       i, l->d->digest, idx_comp_name(in->comp), in->n_entries, in->n_spans,
		       (unsigned long long)in->span_size, (unsigned long long)in->blob_size,
		       (unsigned long long)in->tar_size, l->index_size,
		       index_mbps(in->blob_size, l->secs));
	}
	if (j->artifact[0])
		printf("pushed index artifact %s\n", j->artifact);
	if (j->pinning[0])
		printf("pinned %s/%s@%s\n", j->ref.host, j->ref.repo, j->pinning);
}

static void print_ref_json(const struct ref_job *j)
{
	json_t *layers = json_array(), *out;
	char pinned[1024];

	for (size_t i = 0; i < j->n; i++) {
		const struct ref_layer *l = &j->layers[i];
		const struct idx_info *in = &l->info;
		json_t *o = json_pack("{s:s, s:I, s:s}", "digest", l->d->digest, "size",
				      (json_int_t)l->d->size, "status",
				      l->idx ? "built" : l->d->stratafs_index ? "pinned" : "skipped");

		if (o && l->idx)
			json_object_update_new(o, json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:b, s:I, s:f}",
				"compression", idx_comp_name(in->comp), "diff_id", in->diff_id,
				"tar_size", (json_int_t)in->tar_size, "entries", (json_int_t)in->n_entries,
				"spans", (json_int_t)in->n_spans, "span_size", (json_int_t)in->span_size,
				"random_access", in->random_access, "index_size",
				(json_int_t)l->index_size, "build_seconds", l->secs));
		json_array_append_new(layers, o);
	}
	snprintf(pinned, sizeof(pinned), "%s/%s@%s", j->ref.host, j->ref.repo, j->pinning);
	out = json_pack("{s:s, s:o, s:s?, s:s?}", "manifest", j->m->digest, "layers", layers,
			"pushed", j->artifact[0] ? j->artifact : NULL, "pinned",
			j->pinning[0] ? pinned : NULL);
	index_print_json(out);
}

int index_ref(struct index_opts *o, const char *ref_str)
{
	struct ref_job j = { 0 };
	int r;

	r = job_open(o, ref_str, &j);
	if (r == 0)
		r = job_layers(&j);
	if (r == 0)
		r = job_config(&j);
	for (size_t i = 0; r == 0 && i < j.n; i++)
		if (needs_build(o, &j.layers[i]))
			r = build_layer(o, &j, i);
	if (r == 0 && o->push)
		r = job_push(o, &j);
	if (r == 0 && o->json)
		print_ref_json(&j);
	else if (r == 0)
		print_ref_text(&j);
	if (r < 0)
		log_err("cannot index '%s': %s", ref_str, strerror(-r));
	job_release(&j);
	return r < 0 ? CLI_FAIL : CLI_OK;
}
