/* SPDX-License-Identifier: MIT */
/*
 * strata cache [du] [--cache DIR] [--json]
 * strata cache prune SIZE [--cache DIR]
 * The local cache stratafs mounts share (indexes, verified spans): what it
 * holds, and least-recently-used eviction down to SIZE (0 empties it). The
 * cache stays consistent while mounts use it: a mount re-fetches a span
 * file that was removed, and keeps the indexes it loaded in memory.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/size.h"
#include "fs/cache.h"
#include "tools/cli.h"

enum { OPT_CACHE = 0x100, OPT_JSON };

static void usage(FILE *f)
{
	fprintf(f, "usage: strata cache [du] [--cache DIR] [--json]\n"
		   "       strata cache prune SIZE [--cache DIR]\n"
		   "  du     what the cache holds: indexes, span files, bytes\n"
		   "  prune  remove least recently used files until at most SIZE bytes remain\n"
		   "         (K, M, G, T suffixes; 0 empties the cache)\n"
		   "  --cache DIR  the cache (default: stratafs's, /var/cache/stratafs for root)\n");
}

static void print_du(const char *dir, const struct fs_cache_usage *u, bool json)
{
	if (json) {
		json_t *j = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "cache", dir, "bytes",
				      (json_int_t)u->bytes, "index_files", (json_int_t)u->index_files,
				      "index_bytes", (json_int_t)u->index_bytes, "span_files",
				      (json_int_t)u->span_files, "span_bytes",
				      (json_int_t)u->span_bytes, "tmp_files",
				      (json_int_t)u->tmp_files);

		json_dumpf(j, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(j);
		return;
	}
	printf("cache:   %s\ntotal:   %llu bytes\nindexes: %llu files, %llu bytes\n"
	       "spans:   %llu files, %llu bytes\n",
	       dir, (unsigned long long)u->bytes, (unsigned long long)u->index_files,
	       (unsigned long long)u->index_bytes, (unsigned long long)u->span_files,
	       (unsigned long long)u->span_bytes);
}

int cmd_cache(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "cache", required_argument, NULL, OPT_CACHE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *dir = NULL, *verb = "du";
	struct fs_cache_usage u = { 0 };
	struct fs_cache *c = NULL;
	uint64_t target = 0, freed = 0;
	bool json = false;
	int opt, r;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		if (opt == OPT_CACHE) {
			dir = optarg;
		} else if (opt == OPT_JSON) {
			json = true;
		} else if (opt == 'h') {
			usage(stdout);
			return CLI_OK;
		} else {
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (optind < argc)
		verb = argv[optind++];
	if (strcmp(verb, "prune") == 0 && (optind + 1 != argc || size_parse(argv[optind], &target) < 0)) {
		fprintf(stderr, "strata cache prune: give the size to keep, like 5G or 0\n");
		return CLI_USAGE;
	}
	if ((strcmp(verb, "du") != 0 && strcmp(verb, "prune") != 0) ||
	    (strcmp(verb, "du") == 0 && optind != argc)) {
		usage(stderr);
		return CLI_USAGE;
	}
	r = fs_cache_open(dir, 0, &c);
	if (r < 0) {
		log_err("cannot open the cache '%s': %s", dir ? dir : "(default)", strerror(-r));
		return CLI_FAIL;
	}
	if (strcmp(verb, "prune") == 0) {
		r = fs_cache_prune(c, target, &freed);
		if (r == 0)
			printf("freed %llu bytes\n", (unsigned long long)freed);
	}
	if (r == 0)
		r = fs_cache_du(c, &u);
	if (r == 0)
		print_du(fs_cache_dir(c), &u, json);
	else
		log_err("cannot %s the cache '%s': %s", verb, fs_cache_dir(c), strerror(-r));
	fs_cache_close(c);
	return r == 0 ? CLI_OK : CLI_FAIL;
}
