/* SPDX-License-Identifier: MIT */
/*
 * strata index LAYERFILE [--span-size N] [-o OUT] [--json]
 * strata index REF [--push] [--force] [--span-size N] [--json] [registry options]
 *
 * LAYERFILE (an existing file): builds the stratafs index of a local layer
 * blob (.tar, .tar.gz, .tar.zst; the compression is sniffed) in one
 * streaming pass, optionally saves it, and reports what a mount would get:
 * entries, spans, random access or not, the index size against the layer,
 * the build throughput, the blob digest and diff_id.
 *
 * REF (anything else): an image (through an index for --platform) or a
 * BuildKit registry cache of either form. Each layer is streamed once
 * through the daemon's own builder (fs_index_build_stream(): the blob
 * digest and diff_id are verified), unless the registry already holds an
 * index for it (--force builds it anyway). --push uploads the built
 * indexes as one stratafs index artifact whose subject is the resolved
 * manifest (for an index: the --platform one), where a mount finds them.
 * The REF half (below "REF:") is meant to move to cmd_index_ref.c; it
 * stays here until tools/meson.build can take the new file.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include "common/log.h"
#include "common/size.h"
#include "fs/cache.h"
#include "fs/fetch.h"
#include "index/index.h"
#include "tools/cli.h"
#include "tools/cli_opts.h"
#include "tools/progress.h"

enum { OPT_SPAN = CLI_OPT_CMD_BASE, OPT_JSON, OPT_PUSH, OPT_FORCE };

struct index_opts {
	struct cli_opts cli;
	uint64_t span_size;
	const char *out;
	bool json, push, force;
};

struct index_result {
	struct idx_info info;
	struct idx_build_stats st;
	size_t index_size;
	double secs;
};

struct file_src {
	int fd;
	uint64_t done, size;
	struct progress prog;
};

static ssize_t fd_read(void *ctx, void *buf, size_t n)
{
	struct file_src *f = ctx;
	ssize_t r = read(f->fd, buf, n);

	if (r > 0) {
		f->done += (uint64_t)r;
		progress_update(&f->prog, f->done, f->size);
	}
	return r < 0 ? -errno : r;
}

static int write_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	int r = 0;

	if (!f) {
		log_err("cannot create '%s': %s", path, strerror(errno));
		return -errno;
	}
	if (fwrite(buf, 1, len, f) != len)
		r = -EIO;
	if (fclose(f) != 0 && r == 0)
		r = -EIO;
	if (r < 0)
		log_err("cannot write '%s'", path);
	return r;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Build (and save) the index of whatever @fn streams. */
static int index_stream(const struct index_opts *o, idx_stream_fn fn, void *ctx,
			struct index_result *res)
{
	struct idx_build_opts bo = { .span_size = o->span_size, .comp = IDX_COMP_AUTO };
	struct idx_layer *l = NULL;
	void *buf = NULL;
	double t0 = now();
	int r;

	r = idx_build(&bo, fn, ctx, &l, &res->st);
	if (r < 0)
		return r;
	res->secs = now() - t0;
	idx_layer_info(l, &res->info);
	r = idx_save(l, &buf, &res->index_size);
	if (r == 0 && o->out)
		r = write_file(o->out, buf, res->index_size);
	free(buf);
	idx_layer_free(l);
	return r;
}

static double mbps(uint64_t bytes, double secs)
{
	return secs > 0 ? (double)bytes / 1e6 / secs : 0.0;
}

static void print_text(const struct index_result *r)
{
	const struct idx_info *i = &r->info;

	printf("compression:   %s\n", idx_comp_name(i->comp));
	printf("blob digest:   %s\n", i->blob_digest);
	printf("diff_id:       %s\n", i->diff_id);
	printf("blob size:     %llu\n", (unsigned long long)i->blob_size);
	printf("tar size:      %llu\n", (unsigned long long)i->tar_size);
	printf("entries:       %u (%u duplicate paths resolved)\n", i->n_entries, r->st.n_duplicates);
	printf("spans:         %u of %llu bytes\n", i->n_spans, (unsigned long long)i->span_size);
	printf("random access: %s\n", i->random_access ? "yes" : "no (sequential only)");
	printf("index size:    %zu bytes (%.3f%% of the tar, %.3f%% of the blob)\n", r->index_size,
	       i->tar_size ? 100.0 * (double)r->index_size / (double)i->tar_size : 0.0,
	       i->blob_size ? 100.0 * (double)r->index_size / (double)i->blob_size : 0.0);
	printf("build:         %.3f s, %.1f MB/s compressed, %.1f MB/s uncompressed\n", r->secs,
	       mbps(i->blob_size, r->secs), mbps(i->tar_size, r->secs));
}

static void print_json(const struct index_result *r)
{
	const struct idx_info *i = &r->info;

	printf("{\"compression\":\"%s\",\"blob_digest\":\"%s\",\"diff_id\":\"%s\","
	       "\"blob_size\":%llu,\"tar_size\":%llu,\"entries\":%u,\"duplicates\":%u,"
	       "\"spans\":%u,\"span_size\":%llu,\"random_access\":%s,\"index_size\":%zu,"
	       "\"build_seconds\":%.6f,\"build_mbps_compressed\":%.1f,"
	       "\"build_mbps_uncompressed\":%.1f}\n",
	       idx_comp_name(i->comp), i->blob_digest, i->diff_id, (unsigned long long)i->blob_size,
	       (unsigned long long)i->tar_size, i->n_entries, r->st.n_duplicates, i->n_spans,
	       (unsigned long long)i->span_size, i->random_access ? "true" : "false", r->index_size,
	       r->secs, mbps(i->blob_size, r->secs), mbps(i->tar_size, r->secs));
}

static void usage(FILE *f)
{
	fprintf(f, "usage: strata index LAYERFILE [--span-size N[K|M]] [-o OUT] [--json]\n"
		   "       strata index REF [--push] [--force] [--span-size N[K|M]] [--json] "
		   "[registry options]\n"
		   "  --push    store the built indexes in the registry (an index artifact of REF)\n"
		   "  --force   index layers the registry already has an index for\n");
	cli_opts_usage(f);
}

static int own_opt(struct index_opts *o, int c, const char *arg)
{
	switch (c) {
	case OPT_SPAN:
		if (size_parse(arg, &o->span_size) < 0 || o->span_size < IDX_MIN_SPAN_SIZE ||
		    o->span_size > IDX_MAX_SPAN_SIZE) {
			log_err("bad span size '%s': want %uK to %uM", arg, IDX_MIN_SPAN_SIZE >> 10,
				IDX_MAX_SPAN_SIZE >> 20);
			return -EINVAL;
		}
		return 0;
	case 'o':
		o->out = arg;
		return 0;
	case OPT_JSON:
		o->json = true;
		return 0;
	case OPT_PUSH:
		o->push = true;
		return 0;
	case OPT_FORCE:
		o->force = true;
		return 0;
	default:
		return cli_opts_handle(&o->cli, c, arg);
	}
}

/* -1 to go on, else the exit code (--help, usage errors). */
static int parse_args(int argc, char **argv, struct index_opts *o)
{
	static const struct option own[] = {
		{ "span-size", required_argument, NULL, OPT_SPAN },
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "push", no_argument, NULL, OPT_PUSH },
		{ "force", no_argument, NULL, OPT_FORCE },
	};
	struct option lo[CLI_OPTS_NLONG + 5 + 1];
	int c;

	cli_opts_longopts(lo, own, 5);
	optind = 1;
	while ((c = getopt_long(argc, argv, CLI_OPTS_SHORT "o:", lo, NULL)) != -1) {
		if (own_opt(o, c, optarg) < 0) {
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (o->cli.help) {
		usage(stdout);
		return CLI_OK;
	}
	if (optind + 1 != argc || cli_opts_finish(&o->cli) < 0) {
		usage(stderr);
		return CLI_USAGE;
	}
	return -1;
}

static int index_file(const struct index_opts *o, const char *path)
{
	struct index_result res = { 0 };
	struct file_src f = { 0 };
	struct stat st;
	int r;

	f.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (f.fd < 0) {
		log_err("cannot open '%s': %s", path, strerror(errno));
		return CLI_FAIL;
	}
	if (fstat(f.fd, &st) == 0 && S_ISREG(st.st_mode))
		f.size = (uint64_t)st.st_size;
	progress_start(&f.prog, "indexing", o->cli.quiet);
	r = index_stream(o, fd_read, &f, &res);
	progress_end(&f.prog);
	close(f.fd);
	if (r < 0) {
		log_err("cannot index '%s': %s", path, strerror(-r));
		return CLI_FAIL;
	}
	if (o->json)
		print_json(&res);
	else
		print_text(&res);
	return CLI_OK;
}

/* ---- REF: every layer of an image or BuildKit cache ------------------- */

struct ref_layer {
	const struct reg_descriptor *d;
	bool in_registry;          /* an index exists there already */
	struct idx_layer *idx;     /* built here, or NULL */
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
	char artifact[DIGEST_STR_LEN]; /* "" unless pushed */
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
	reg_manifest_free(j->m);
	reg_manifest_free(j->top);
	reg_pusher_free(j->pusher);
	reg_client_free(j->client);
	reg_ref_release(&j->ref);
}

/* The layer list of an image or a BuildKit cache, and which have an index. */
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
		log_warn("cannot list the index artifacts of '%s': indexing every layer",
			 j->m->digest);
	for (size_t i = 0; r == 0 && i < j->n; i++)
		j->layers[i].in_registry = has[i];
	free(has);
	free(dp);
	return r;
}

/* An image's diff_ids (its config), so each built layer's tar is verified too. */
static int job_diff_ids(struct ref_job *j)
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
	struct reg_descriptor d = *l->d; /* shallow: only .uncompressed is set here */
	struct progress prog;
	void *buf = NULL;
	double t0 = now();
	int r;

	if (!d.uncompressed && j->diff_ids)
		d.uncompressed = j->diff_ids[i];
	log_info("indexing layer '%s' (%llu bytes)", l->d->digest, (unsigned long long)l->d->size);
	progress_start(&prog, "indexing a layer", o->cli.quiet);
	r = fs_index_build_progress(j->c, &d, o->span_size, &l->idx,
				    prog.on ? progress_update : NULL, &prog);
	progress_end(&prog);
	if (r < 0)
		return r;
	l->secs = now() - t0;
	idx_layer_info(l->idx, &l->info);
	r = idx_save(l->idx, &buf, &l->index_size);
	free(buf);
	return r;
}

static int job_push(struct ref_job *j)
{
	const struct idx_layer **v = calloc(j->n + 1, sizeof(*v));
	size_t nb = 0;
	int r;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < j->n; i++)
		if (j->layers[i].idx)
			v[nb++] = j->layers[i].idx;
	r = nb ? fs_index_push(j->pusher, j->m, v, nb, j->artifact) : 0;
	free(v);
	return r;
}

static void print_ref_text(const struct ref_job *j)
{
	printf("manifest %s (%s)\n", j->m->digest, j->m->media_type);
	for (size_t i = 0; i < j->n; i++) {
		const struct ref_layer *l = &j->layers[i];
		const struct idx_info *in = &l->info;

		if (!l->idx) {
			printf("layer %zu %s: index already in the registry (skipped)\n", i,
			       l->d->digest);
			continue;
		}
		printf("layer %zu %s: %s, %u entries, %u spans of %llu, blob %llu, tar %llu, "
		       "index %zu bytes, %.1f MB/s\n",
		       i, l->d->digest, idx_comp_name(in->comp), in->n_entries, in->n_spans,
		       (unsigned long long)in->span_size, (unsigned long long)in->blob_size,
		       (unsigned long long)in->tar_size, l->index_size, mbps(in->blob_size, l->secs));
	}
	if (j->artifact[0])
		printf("pushed index artifact %s\n", j->artifact);
}

static void print_ref_json(const struct ref_job *j)
{
	printf("{\"manifest\":\"%s\",\"layers\":[", j->m->digest);
	for (size_t i = 0; i < j->n; i++) {
		const struct ref_layer *l = &j->layers[i];
		const struct idx_info *in = &l->info;

		printf("%s{\"digest\":\"%s\",\"size\":%llu,\"status\":\"%s\"", i ? "," : "",
		       l->d->digest, (unsigned long long)l->d->size, l->idx ? "built" : "skipped");
		if (l->idx)
			printf(",\"compression\":\"%s\",\"diff_id\":\"%s\",\"tar_size\":%llu,"
			       "\"entries\":%u,\"spans\":%u,\"span_size\":%llu,\"random_access\":%s,"
			       "\"index_size\":%zu,\"build_seconds\":%.6f",
			       idx_comp_name(in->comp), in->diff_id, (unsigned long long)in->tar_size,
			       in->n_entries, in->n_spans, (unsigned long long)in->span_size,
			       in->random_access ? "true" : "false", l->index_size, l->secs);
		printf("}");
	}
	if (j->artifact[0])
		printf("],\"pushed\":\"%s\"}\n", j->artifact);
	else
		printf("],\"pushed\":null}\n");
}

static int index_ref(struct index_opts *o, const char *ref_str)
{
	struct ref_job j = { 0 };
	int r;

	r = job_open(o, ref_str, &j);
	if (r == 0)
		r = job_layers(&j);
	if (r == 0)
		r = job_diff_ids(&j);
	for (size_t i = 0; r == 0 && i < j.n; i++)
		if (!j.layers[i].in_registry || o->force)
			r = build_layer(o, &j, i);
	if (r == 0 && o->push)
		r = job_push(&j);
	if (r == 0 && o->json)
		print_ref_json(&j);
	else if (r == 0)
		print_ref_text(&j);
	if (r < 0)
		log_err("cannot index '%s': %s", ref_str, strerror(-r));
	job_release(&j);
	return r < 0 ? CLI_FAIL : CLI_OK;
}

int cmd_index(int argc, char **argv)
{
	struct index_opts o = { 0 };
	struct stat st;
	int r;

	cli_opts_init(&o.cli);
	r = parse_args(argc, argv, &o);
	if (r >= 0)
		goto out_release;
	if (stat(argv[optind], &st) == 0 && S_ISREG(st.st_mode)) {
		r = index_file(&o, argv[optind]);
	} else if (o.out) {
		log_err("-o OUT is for a LAYERFILE; '%s' is not a file", argv[optind]);
		r = CLI_USAGE;
	} else {
		r = index_ref(&o, argv[optind]);
	}
out_release:
	cli_opts_release(&o.cli);
	return r;
}
