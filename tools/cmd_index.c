/* SPDX-License-Identifier: MIT */
/*
 * strata index LAYERFILE [--span-size N] [-o OUT] [--json]
 * strata index REF [--push [--tag TAG]] [--force] [--span-size N] [--json] [registry options]
 *
 * LAYERFILE (an existing file): builds the stratafs index of a local layer
 * blob (.tar, .tar.gz, .tar.zst; the compression is sniffed) in one
 * streaming pass, optionally saves it, and reports what a mount would get:
 * entries, spans, random access or not, the index size against the layer,
 * the build throughput, the blob digest and diff_id.
 *
 * REF (anything else): cmd_index_ref.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/size.h"
#include "fs/cache.h"
#include "fs/store.h"
#include "index/index.h"
#include "tools/cli.h"
#include "tools/cli_opts.h"
#include "tools/cmd_index.h"
#include "tools/progress.h"

enum { OPT_SPAN = CLI_OPT_CMD_BASE, OPT_JSON, OPT_PUSH, OPT_FORCE, OPT_TAG };

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

double index_now(void)
{
	return (double)monotonic_ns() / 1e9;
}

/* Build (and save) the index of whatever @fn streams. */
static int index_stream(const struct index_opts *o, idx_stream_fn fn, void *ctx,
			struct index_result *res)
{
	struct idx_build_opts bo = { .span_size = o->span_size, .comp = IDX_COMP_AUTO };
	struct idx_layer *l = NULL;
	void *buf = NULL;
	double t0 = index_now();
	int r;

	r = idx_build(&bo, fn, ctx, &l, &res->st);
	if (r < 0)
		return r;
	res->secs = index_now() - t0;
	idx_layer_info(l, &res->info);
	r = idx_save(l, &buf, &res->index_size);
	if (r == 0 && o->out)
		r = write_file(o->out, buf, res->index_size);
	free(buf);
	idx_layer_free(l);
	return r;
}

double index_mbps(uint64_t bytes, double secs)
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
	       index_mbps(i->blob_size, r->secs), index_mbps(i->tar_size, r->secs));
}

void index_print_json(json_t *j)
{
	if (!j)
		return;
	json_dumpf(j, stdout, JSON_COMPACT | JSON_REAL_PRECISION(10));
	putchar('\n');
	json_decref(j);
}

static void print_json(const struct index_result *r)
{
	const struct idx_info *i = &r->info;

	json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:I, s:f, s:f, s:f}",
			      "compression", idx_comp_name(i->comp), "blob_digest", i->blob_digest,
			      "diff_id", i->diff_id, "blob_size", (json_int_t)i->blob_size,
			      "tar_size", (json_int_t)i->tar_size, "entries", (json_int_t)i->n_entries,
			      "duplicates", (json_int_t)r->st.n_duplicates, "spans",
			      (json_int_t)i->n_spans, "span_size", (json_int_t)i->span_size,
			      "random_access", i->random_access, "index_size",
			      (json_int_t)r->index_size, "build_seconds", r->secs,
			      "build_mbps_compressed", index_mbps(i->blob_size, r->secs),
			      "build_mbps_uncompressed", index_mbps(i->tar_size, r->secs));

	index_print_json(j);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: strata index LAYERFILE [--span-size N[K|M]] [-o OUT] [--json]\n"
		   "       strata index REF [--push [--tag TAG]] [--force] [--span-size N[K|M]] "
		   "[--json] [registry options]\n"
		   "  --push     store the built indexes in the registry (an index artifact of REF:\n"
		   "             unpinned, used by mounts of REF by tag under -o unpinned=tag)\n"
		   "  --tag TAG  also push, as TAG in REF's repository, a pinning index that names\n"
		   "             REF's manifest and these indexes: mount REPO@<its digest> to have\n"
		   "             them trusted by digest\n"
		   "  --force    rebuild layers that have a pinned index too, and make the pushed\n"
		   "             artifact the only one the referrers fallback tag lists (repair)\n");
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
	case OPT_TAG:
		o->tag = arg;
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
		{ "tag", required_argument, NULL, OPT_TAG },
	};
	struct option lo[CLI_OPTS_NLONG + 6 + 1];
	int c;

	cli_opts_longopts(lo, own, 6);
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
	if (o->tag && !o->push) {
		log_err("--tag goes with --push");
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
