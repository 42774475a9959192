/* SPDX-License-Identifier: MIT */
/*
 * strata inspect REF [--json]: what a reference resolves to (through an
 * index for the chosen platform), its config and layers with compression
 * and diffID, whether each layer has a stratafs index in the registry and
 * what vouches for it, which foreign TOC (zstd:chunked, eStargz, SOCI) the
 * manifest pins for it (read from the annotations, by the formats of
 * fs/foreign.c: nothing is fetched), and for a BuildKit cache its cache
 * config. The --json shape is a contract (tests compare it): built with
 * jansson, keys in a fixed order.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "fs/store.h"
#include "index/index.h"
#include "tools/cli.h"
#include "tools/cli_opts.h"
#include "tools/image_push.h"

enum { OPT_JSON = CLI_OPT_CMD_BASE };

struct layer_info {
	const struct reg_descriptor *d;
	const char *diff_id;
	bool has_index;
	const char *index_trust; /* "pinned", "unpinned" (referrers only), "none" */
	const char *foreign;     /* the format of a foreign TOC, or NULL */
	const char *foreign_trust; /* "pinned", or "unpinned" (a SOCI v1 referrer) */
	char toc[DIGEST_STR_LEN];
};

struct inspect {
	struct reg_ref ref;
	struct reg_client *c;
	struct reg_manifest *m, *top;
	const struct reg_descriptor *config;
	const struct reg_descriptor *layers;
	size_t n_layers;
	struct layer_info *info;
	char **diff_ids;
	size_t n_diff_ids;
	struct reg_cache_config *cache;
};

/* A string, or null for a missing one (jansson has no NULL string). */
static json_t *jstr(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* {"digest","mediaType","size"}: the start of every descriptor's object. */
static json_t *json_desc(const struct reg_descriptor *d)
{
	return json_pack("{s:o, s:o, s:I}", "digest", jstr(d->digest), "mediaType",
			 jstr(d->media_type), "size", (json_int_t)d->size);
}

static json_t *json_index(const struct reg_manifest *top)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < top->n_manifests; i++) {
		const struct reg_descriptor *d = &top->manifests[i];
		json_t *e = json_desc(d);

		if (e && d->has_platform) {
			json_t *p = json_pack("{s:o, s:o}", "os", jstr(d->platform.os),
					      "architecture", jstr(d->platform.arch));

			if (p && d->platform.variant)
				json_object_set_new(p, "variant", jstr(d->platform.variant));
			json_object_set_new(e, "platform", p);
		}
		json_array_append_new(list, e);
	}
	return json_pack("{s:o, s:o, s:I, s:o}", "digest", jstr(top->digest), "mediaType",
			 jstr(top->media_type), "size", (json_int_t)top->raw_len, "manifests",
			 list);
}

/* "gzip", "zstd", "tar" (uncompressed) or "unknown", by index/'s reading of media types. */
static const char *compression(const char *mt)
{
	enum idx_comp c = idx_comp_from_media_type(mt);

	return c == IDX_COMP_AUTO ? "unknown" : idx_comp_name(c);
}

/*
 * What a mount would read the layer through, and what vouches for it:
 * "stratafs pinned", "zstd:chunked pinned", ..., "stratafs unpinned", "none".
 * A pinned stratafs index and a pinned TOC both: the mount keeps the
 * cheaper (fs/foreign.h), so both are named.
 */
static const char *index_kind(const struct layer_info *l, char buf[96])
{
	bool pinned = l->has_index && strcmp(l->index_trust, "pinned") == 0;

	if (l->foreign && pinned)
		snprintf(buf, 96, "stratafs pinned, %s %s", l->foreign, l->foreign_trust);
	else if (l->foreign && strcmp(l->foreign_trust, "pinned") == 0)
		snprintf(buf, 96, "%s pinned", l->foreign);
	else if (l->foreign && l->has_index)
		snprintf(buf, 96, "stratafs %s, %s unpinned", l->index_trust, l->foreign);
	else if (l->foreign)
		snprintf(buf, 96, "%s unpinned", l->foreign);
	else if (l->has_index)
		snprintf(buf, 96, "stratafs %s", l->index_trust);
	else
		snprintf(buf, 96, "none");
	return buf;
}

/*
 * Why a layer has no index when it is small: strata commit leaves such a
 * layer to the mount (tools/image_push.h, IMAGE_UNINDEXED_MAX), which
 * fetches it whole in one request and indexes it; NULL otherwise.
 */
static const char *why_no_index(const struct layer_info *l)
{
	if (l->has_index || l->foreign || l->d->size > IMAGE_UNINDEXED_MAX)
		return NULL;
	return "small layer: a mount fetches it whole and indexes it";
}

static json_t *json_layer(const struct layer_info *l)
{
	json_t *e = json_desc(l->d);
	char kind[96];

	if (!e)
		return NULL;
	json_object_set_new(e, "compression", json_string(compression(l->d->media_type)));
	json_object_set_new(e, "diffID", jstr(l->diff_id));
	json_object_set_new(e, "stratafsIndex", json_boolean(l->has_index));
	json_object_set_new(e, "stratafsIndexTrust",
			    json_string(l->index_trust ? l->index_trust : "none"));
	json_object_set_new(e, "foreignIndex",
			    l->foreign ? json_pack("{s:s, s:s, s:s}", "format", l->foreign, "toc",
						   l->toc, "trust", l->foreign_trust)
				       : json_null());
	json_object_set_new(e, "index", json_string(index_kind(l, kind)));
	if (why_no_index(l))
		json_object_set_new(e, "indexNone", json_string(why_no_index(l)));
	return e;
}

static json_t *json_cache(const struct reg_cache_config *cache)
{
	json_t *layers = json_array();

	for (size_t i = 0; layers && i < cache->n_layers; i++)
		json_array_append_new(layers, json_pack("{s:o, s:i}", "blob",
							jstr(cache->layers[i].blob), "parent",
							cache->layers[i].parent));
	return json_pack("{s:o, s:I}", "layers", layers, "records", (json_int_t)cache->n_records);
}

/* Keys in the order the contract gives them (jansson keeps insertion order). */
static int print_json(const struct inspect *in, FILE *f)
{
	char *name = reg_ref_format(&in->ref);
	json_t *j = json_pack("{s:o, s:o, s:o, s:I}", "reference", jstr(name), "digest",
			      jstr(in->m->digest), "mediaType", jstr(in->m->media_type), "size",
			      (json_int_t)in->m->raw_len);
	json_t *layers = json_array();
	int r = -ENOMEM;

	free(name);
	if (!j || !layers)
		goto out_decref;
	if (in->top)
		json_object_set_new(j, "index", json_index(in->top));
	json_object_set_new(j, "config", json_desc(in->config));
	for (size_t i = 0; i < in->n_layers; i++)
		json_array_append_new(layers, json_layer(&in->info[i]));
	json_object_set(j, "layers", layers);
	if (in->cache)
		json_object_set_new(j, "buildkitCache", json_cache(in->cache));
	if (json_dumpf(j, f, JSON_COMPACT) == 0 && fputc('\n', f) != EOF)
		r = 0;
out_decref:
	json_decref(layers);
	json_decref(j);
	return r;
}

static void print_human(const struct inspect *in, FILE *f)
{
	char *name = reg_ref_format(&in->ref);

	fprintf(f, "reference:  %s\n", name ? name : "?");
	free(name);
	fprintf(f, "digest:     %s\nmedia type: %s\nsize:       %zu\n", in->m->digest,
		in->m->media_type, in->m->raw_len);
	if (in->top) {
		fprintf(f, "index:      %s (%s, %zu bytes)\n", in->top->digest, in->top->media_type,
			in->top->raw_len);
		for (size_t i = 0; i < in->top->n_manifests; i++) {
			const struct reg_descriptor *d = &in->top->manifests[i];

			fprintf(f, "  %s/%s%s%-8s %s\n", d->has_platform ? d->platform.os : "?",
				d->has_platform ? d->platform.arch : "?",
				d->has_platform && d->platform.variant ? "/" : "",
				d->has_platform && d->platform.variant ? d->platform.variant : "",
				d->digest);
		}
	}
	fprintf(f, "config:     %s (%s, %" PRIu64 " bytes)\nlayers:     %zu\n", in->config->digest,
		in->config->media_type, in->config->size, in->n_layers);
	for (size_t i = 0; i < in->n_layers; i++) {
		const struct layer_info *l = &in->info[i];

		fprintf(f, "  %2zu  %s  %-7s %12" PRIu64 " bytes  diffID %s  stratafs index: %s", i,
			l->d->digest, compression(l->d->media_type), l->d->size,
			l->diff_id ? l->diff_id : "-",
			!l->has_index && why_no_index(l) ? "no (small: a mount fetches it whole)" :
			!l->has_index ? "no" :
			strcmp(l->index_trust, "pinned") == 0 ? "pinned" :
			"unpinned (trusted by tag only)");
		if (l->foreign)
			fprintf(f, "  %s TOC: %s (%s)", l->foreign, l->foreign_trust, l->toc);
		fputc('\n', f);
	}
	if (!in->cache)
		return;
	fprintf(f, "buildkit cache: %zu layers, %zu records\n", in->cache->n_layers,
		in->cache->n_records);
	for (size_t i = 0; i < in->cache->n_layers; i++)
		fprintf(f, "  layer %zu: %s parent %d\n", i, in->cache->layers[i].blob,
			in->cache->layers[i].parent);
}

/* diff_ids from the image config, or the cache config for a BuildKit cache. */
static int load_config(struct inspect *in)
{
	const char *mt = in->config->media_type;
	char *buf = NULL;
	size_t len = 0;
	int r;

	if (strcmp(mt, REG_MT_BUILDKIT_CACHE) != 0 && strcmp(mt, REG_MT_OCI_CONFIG) != 0 &&
	    strcmp(mt, REG_MT_DOCKER_CONFIG) != 0)
		return 0; /* an artifact: no diff_ids to show */
	r = reg_blob_get(in->c, in->config->digest, REG_MAX_CONFIG_SIZE, &buf, &len);
	if (r < 0)
		return r;
	if (strcmp(mt, REG_MT_BUILDKIT_CACHE) == 0)
		r = reg_cache_config_parse(buf, len, &in->cache);
	else
		r = reg_image_config_diff_ids(buf, len, &in->diff_ids, &in->n_diff_ids);
	if (r < 0)
		log_err("cannot parse config '%s'", in->config->digest);
	free(buf);
	return r;
}

/* Mark the layers that index artifact @adigest holds an index for as @trust. */
static void mark_artifact(struct inspect *in, const char *adigest, const char *trust)
{
	struct reg_manifest *art = NULL;

	if (reg_manifest_get(in->c, adigest, &art) < 0)
		return;
	for (size_t j = 0; art->kind == REG_MANIFEST_IMAGE && j < art->n_layers; j++) {
		const char *target = art->layers[j].stratafs_layer;

		for (size_t k = 0; target && k < in->n_layers; k++) {
			if (strcmp(in->info[k].d->digest, target) != 0 ||
			    strcmp(in->info[k].index_trust, "pinned") == 0)
				continue;
			in->info[k].has_index = true;
			in->info[k].index_trust = trust;
		}
	}
	reg_manifest_free(art);
}

/*
 * Which layers have a stratafs index, and what vouches for it: pinned by
 * the manifest or by the pinning index REF named (trusted), else listed by
 * a referrer of the manifest (unpinned: used only where -o unpinned allows).
 */
static void find_indexes(struct inspect *in)
{
	struct reg_manifest *refs = NULL;

	for (size_t k = 0; k < in->n_layers; k++) {
		in->info[k].has_index = in->info[k].d->stratafs_index != NULL;
		in->info[k].index_trust = in->info[k].has_index ? "pinned" : "none";
	}
	if (in->m->pinned_artifact[0])
		mark_artifact(in, in->m->pinned_artifact, "pinned");
	if (reg_referrers(in->c, in->m->digest, REG_MT_STRATAFS_INDEX_ARTIFACT, &refs) < 0) {
		log_warn("cannot list the referrers of '%s': stratafs indexes not shown", in->m->digest);
		return;
	}
	for (size_t i = 0; i < refs->n_manifests; i++)
		mark_artifact(in, refs->manifests[i].digest, "unpinned");
	reg_manifest_free(refs);
}

/*
 * SOCI v1 indexes are referrers of the manifest (nothing pins them): their
 * zTOCs, each naming its image layer (REG_ANNOT_SOCI_LAYER), are what a
 * mount uses where -o unpinned allows, for layers with no pinned TOC.
 */
static void find_soci_v1(struct inspect *in)
{
	struct reg_manifest *refs = NULL, *si = NULL;

	if (reg_referrers(in->c, in->m->digest, REG_MT_SOCI_INDEX_V1, &refs) < 0)
		return; /* find_indexes() warned already when the registry cannot list them */
	for (size_t i = 0; i < refs->n_manifests; i++) {
		if (reg_manifest_get(in->c, refs->manifests[i].digest, &si) < 0)
			continue;
		for (size_t j = 0; si->kind == REG_MANIFEST_IMAGE && j < si->n_layers; j++) {
			const char *target = reg_descriptor_annotation(&si->layers[j],
								       REG_ANNOT_SOCI_LAYER);

			for (size_t k = 0; target && k < in->n_layers; k++) {
				struct layer_info *l = &in->info[k];

				if (l->foreign || strcmp(l->d->digest, target) != 0)
					continue;
				l->foreign = "SOCI v1";
				l->foreign_trust = "unpinned";
				snprintf(l->toc, sizeof(l->toc), "%s", si->layers[j].digest);
			}
		}
		reg_manifest_free(si);
		si = NULL;
	}
	reg_manifest_free(refs);
}

/* The foreign TOC each layer's descriptor (or the index entry) pins, as a mount sees it. */
static void find_foreign(struct inspect *in)
{
	struct fs_layer_origin o = {
		.manifest_digest = in->m->digest,
		.pinned_artifact = in->m->pinned_artifact,
		.soci_index = in->m->soci_index,
		.index_entry = fs_foreign_index_entry(in->top, in->m->digest),
	};

	for (size_t k = 0; k < in->n_layers; k++) {
		in->info[k].foreign = fs_foreign_pinned_name(in->info[k].d, &o, in->info[k].toc);
		in->info[k].foreign_trust = "pinned";
	}
	find_soci_v1(in);
}

static int collect(struct inspect *in, const struct cli_opts *o)
{
	int r;

	r = reg_resolve(in->c, &in->ref, &o->platform, &in->m, &in->top);
	if (r < 0)
		return r;
	if (reg_manifest_is_buildkit_cache(in->m)) {
		r = reg_buildkit_parts(in->m, &in->config, &in->layers, &in->n_layers);
		if (r < 0)
			return r;
	} else if (in->m->kind == REG_MANIFEST_IMAGE) {
		in->config = &in->m->config;
		in->layers = in->m->layers;
		in->n_layers = in->m->n_layers;
	} else {
		log_err("'%s' resolved to an index without an image manifest", in->m->digest);
		return -EBADMSG;
	}
	r = load_config(in);
	if (r < 0)
		return r;
	in->info = calloc(in->n_layers ? in->n_layers : 1, sizeof(*in->info));
	if (!in->info)
		return -ENOMEM;
	if (in->diff_ids && in->n_diff_ids != in->n_layers)
		log_warn("the config has %zu diff_ids for %zu layers: not shown", in->n_diff_ids,
			 in->n_layers);
	for (size_t i = 0; i < in->n_layers; i++) {
		in->info[i].d = &in->layers[i];
		if (in->diff_ids && in->n_diff_ids == in->n_layers)
			in->info[i].diff_id = in->diff_ids[i];
		else if (in->cache)
			in->info[i].diff_id = in->layers[i].uncompressed;
	}
	find_indexes(in);
	find_foreign(in);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: strata inspect REF [--json] [registry options]\n\n"
		   "Show what REF resolves to: digests, media types, the platforms of an index,\n"
		   "config, layers (compression, diffID, stratafs index) and BuildKit cache records.\n\n"
		   "  --json                machine-readable output\n");
	cli_opts_usage(f);
}

static void inspect_release(struct inspect *in)
{
	free(in->info);
	reg_strv_free(in->diff_ids, in->n_diff_ids);
	reg_cache_config_free(in->cache);
	reg_manifest_free(in->m);
	reg_manifest_free(in->top);
	reg_client_free(in->c);
	reg_ref_release(&in->ref);
}

int cmd_inspect(int argc, char **argv)
{
	static const struct option own[] = { { "json", no_argument, NULL, OPT_JSON } };
	struct option lo[CLI_OPTS_NLONG + 2];
	struct inspect in = { 0 };
	struct cli_opts o;
	bool json = false;
	int c, ret = CLI_FAIL;

	cli_opts_init(&o);
	cli_opts_longopts(lo, own, 1);
	optind = 1;
	while ((c = getopt_long(argc, argv, CLI_OPTS_SHORT, lo, NULL)) != -1) {
		if (c == OPT_JSON)
			json = true;
		else if (cli_opts_handle(&o, c, optarg) < 0)
			goto out_usage;
	}
	if (cli_opts_finish(&o) < 0)
		goto out_usage;
	if (o.help) {
		usage(stdout);
		ret = CLI_OK;
		goto out_release;
	}
	if (argc - optind != 1)
		goto out_usage;
	c = cli_client_open(&o, argv[optind], &in.ref, &in.c);
	if (c < 0) {
		ret = c == -EINVAL ? CLI_USAGE : CLI_FAIL;
		goto out_release;
	}
	if (collect(&in, &o) == 0) {
		c = 0;
		if (json)
			c = print_json(&in, stdout);
		else
			print_human(&in, stdout);
		ret = c == 0 && fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
	}
	inspect_release(&in);
	goto out_release;
out_usage:
	usage(stderr);
	ret = CLI_USAGE;
out_release:
	cli_opts_release(&o);
	return ret;
}
