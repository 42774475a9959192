/* SPDX-License-Identifier: MIT */
/*
 * strata index LAYERFILE [--span-size N] [-o OUT] [--json]
 *
 * Builds the stratafs index of a local layer blob (.tar, .tar.gz, .tar.zst;
 * the compression is sniffed) in one streaming pass, optionally saves it,
 * and reports what a mount would get: entries, spans, random access or
 * not, the index size against the layer, the build throughput, the blob
 * digest and diff_id. The build takes any idx_stream_fn (index_stream()),
 * so a registry blob stream can be plugged in for the REF form later.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "index/index.h"
#include "tools/cli.h"

struct index_opts {
	uint64_t span_size;
	const char *out;
	bool json;
};

struct index_result {
	struct idx_info info;
	struct idx_build_stats st;
	size_t index_size;
	double secs;
};

static ssize_t fd_read(void *ctx, void *buf, size_t n)
{
	ssize_t r = read(*(int *)ctx, buf, n);

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

/* "4M", "512K", "65536": -EINVAL when malformed. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	if (*end)
		return -EINVAL;
	*out = v;
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: strata index LAYERFILE [--span-size N[K|M]] [-o OUT] [--json]\n");
}

/* -1 to go on, else the exit code (--help, usage errors). */
static int parse_args(int argc, char **argv, struct index_opts *o)
{
	static const struct option longopts[] = {
		{ "span-size", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
		if (c == 's' && (parse_size(optarg, &o->span_size) < 0 ||
				 o->span_size < IDX_MIN_SPAN_SIZE || o->span_size > IDX_MAX_SPAN_SIZE)) {
			log_err("bad span size '%s': want %uK to %uM", optarg, IDX_MIN_SPAN_SIZE >> 10,
				IDX_MAX_SPAN_SIZE >> 20);
			return CLI_USAGE;
		} else if (c == 'o') {
			o->out = optarg;
		} else if (c == 'j') {
			o->json = true;
		} else if (c == 'h') {
			usage(stdout);
			return CLI_OK;
		} else if (c != 's') {
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		return CLI_USAGE;
	}
	return -1;
}

int cmd_index(int argc, char **argv)
{
	struct index_opts o = { 0 };
	struct index_result res = { 0 };
	int fd, r;

	r = parse_args(argc, argv, &o);
	if (r >= 0)
		return r;
	fd = open(argv[optind], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_err("cannot open '%s': %s", argv[optind], strerror(errno));
		return CLI_FAIL;
	}
	r = index_stream(&o, fd_read, &fd, &res);
	close(fd);
	if (r < 0) {
		log_err("cannot index '%s': %s", argv[optind], strerror(-r));
		return CLI_FAIL;
	}
	if (o.json)
		print_json(&res);
	else
		print_text(&res);
	return CLI_OK;
}
