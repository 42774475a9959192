/* SPDX-License-Identifier: MIT */
/*
 * strata stats MOUNTPOINT [--json] [--profile OUT]: what a stratafs
 * mount has fetched, or the access profile it recorded (fs/profile.h).
 * The daemon publishes both as extended attributes of the mount root
 * (tools/mount_stats.c reads them).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "common/log.h"
#include "tools/cli.h"
#include "tools/mount_stats.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: strata stats MOUNTPOINT [--json] [--profile OUT]\n"
		   "  show what a stratafs mount has fetched: bytes per layer, cache hits,\n"
		   "  latency; --json prints the daemon's JSON as is; --profile OUT writes\n"
		   "  the access profile the mount recorded so far to OUT ('-': stdout), for\n"
		   "  stratafs -o prefetch=OUT or strata commit --profile OUT\n");
}

/* The first of @keys present in @o, as a number (0 if none). */
static double num(json_t *o, const char *const *keys)
{
	for (; *keys; keys++) {
		json_t *v = json_object_get(o, *keys);

		if (json_is_number(v))
			return json_number_value(v);
	}
	return 0;
}

static const char *str(json_t *o, const char *const *keys)
{
	for (; *keys; keys++) {
		json_t *v = json_object_get(o, *keys);

		if (json_is_string(v))
			return json_string_value(v);
	}
	return "-";
}

static const char *const K_DIGEST[] = { "digest", "blob", NULL };
static const char *const K_SOURCE[] = { "index_source", "index", "source", NULL };
static const char *const K_TRUST[] = { "index_trust", NULL };
static const char *const K_CHECK[] = { "check", NULL };
static const char *const K_FORMAT[] = { "index_format", NULL };
static const char *const K_CHOICE[] = { "index_choice", NULL };
static const char *const K_BYTES[] = { "bytes_fetched", "fetched_bytes", NULL };
static const char *const K_FRAC[] = { "fraction_fetched", "fetched_fraction", NULL };
static const char *const K_HITS[] = { "cache_hits", "hits", NULL };
static const char *const K_MISSES[] = { "cache_misses", "misses", NULL };
static const char *const K_ERRORS[] = { "errors", "fetch_errors", NULL };
static const char *const K_MODE[] = { "mode", NULL };

static void print_layer(json_t *l)
{
	const char *d = str(l, K_DIGEST), *hex = strchr(d, ':');

	hex = hex ? hex + 1 : d;
	printf("  %-12.12s  %-8s  %-8s  %-12s  %12.0f  %6.1f%%  %8.0f  %8.0f  %-8s  %s\n", hex,
	       str(l, K_TRUST), str(l, K_SOURCE), str(l, K_FORMAT), num(l, K_BYTES),
	       100.0 * num(l, K_FRAC), num(l, K_HITS), num(l, K_MISSES), str(l, K_CHECK),
	       str(l, K_MODE));
}

/* Why a layer's index was chosen over another one (a stratafs index vs a foreign TOC). */
static void print_choice(json_t *l)
{
	const char *d = str(l, K_DIGEST), *hex = strchr(d, ':'), *why = str(l, K_CHOICE);

	if (strcmp(why, "-") != 0 && *why)
		printf("  %-12.12s  chosen: %s\n", hex ? hex + 1 : d, why);
}

/* The replay of an access profile (fs/profile.c), when there is one. */
static void print_profile(json_t *p)
{
	const char *const k_src[] = { "source", NULL }, *const k_spans[] = { "spans", NULL };
	const char *const k_pf[] = { "prefetched", NULL }, *const k_hits[] = { "hits", NULL };
	const char *const k_waits[] = { "waits", NULL }, *const k_late[] = { "late", NULL };
	const char *const k_stale[] = { "stale", NULL }, *const k_rec[] = { "recorded", NULL };

	if (!json_is_object(p))
		return;
	printf("access profile: %s, %.0f spans (%.0f stale), %.0f prefetched: %.0f read after "
	       "their fetch, %.0f while in flight, %.0f before it; %.0f spans recorded\n",
	       str(p, k_src), num(p, k_spans), num(p, k_stale), num(p, k_pf), num(p, k_hits),
	       num(p, k_waits), num(p, k_late), num(p, k_rec));
}

/* --profile OUT: the recorded profile as the daemon gives it. */
static int write_profile(const char *mnt, const char *out)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int r = mount_profile_read(mnt, &text, &len);

	if (r < 0) {
		log_err("cannot read the access profile of '%s': %s", mnt, strerror(-r));
		return CLI_FAIL;
	}
	f = strcmp(out, "-") == 0 ? stdout : fopen(out, "w");
	r = f && fwrite(text, 1, len, f) == len ? 0 : -1;
	if (f && f != stdout && fclose(f) != 0)
		r = -1;
	if (r < 0)
		log_err("cannot write the access profile to '%s': %s", out, strerror(errno));
	free(text);
	return r < 0 ? CLI_FAIL : CLI_OK;
}

static void print_human(json_t *root)
{
	json_t *m = json_object_get(root, "mount"), *layers = json_object_get(root, "layers");
	json_t *tot = json_object_get(root, "totals"), *lat = json_object_get(root, "fetch_latency_ms");
	const char *const k_ref[] = { "ref", NULL }, *const k_man[] = { "manifest", NULL };
	const char *const k_view[] = { "view", NULL }, *const k_up[] = { "uptime_s", NULL };
	const char *const k_p50[] = { "p50", NULL }, *const k_p90[] = { "p90", NULL };
	const char *const k_p99[] = { "p99", NULL }, *const k_tmo[] = { "timeouts", NULL };
	const char *const k_req[] = { "requests", NULL };
	const char *const k_chk[] = { "check_failures", NULL };
	size_t i;
	json_t *l;

	printf("ref:       %s\nmanifest:  %s\nview:      %s\nuptime:    %.0f s\n\n",
	       str(m, k_ref), str(m, k_man), str(m, k_view), num(m, k_up));
	printf("  %-12s  %-8s  %-8s  %-12s  %12s  %7s  %8s  %8s  %-8s  %s\n", "layer", "trust",
	       "index", "format", "fetched", "%", "hits", "misses", "check", "mode");
	json_array_foreach(layers, i, l)
		print_layer(l);
	if (!json_is_object(tot))
		tot = root;
	printf("  %-12s  %-8s  %-8s  %-12s  %12.0f  %6.1f%%  %8.0f  %8.0f\n", "total", "", "", "",
	       num(tot, K_BYTES), 100.0 * num(tot, K_FRAC), num(tot, K_HITS), num(tot, K_MISSES));
	json_array_foreach(layers, i, l)
		print_choice(l);
	printf("\nerrors: %.0f   timeouts: %.0f   whole-layer check failures: %.0f   "
	       "registry requests: %.0f\n", num(tot, K_ERRORS), num(tot, k_tmo), num(tot, k_chk),
	       num(tot, k_req));
	if (json_is_object(lat))
		printf("fetch latency: p50 %.1f ms  p90 %.1f ms  p99 %.1f ms\n", num(lat, k_p50),
		       num(lat, k_p90), num(lat, k_p99));
	print_profile(json_object_get(root, "profile"));
}

/* A mount's stats, or a store's (stratafs --store): one block per image resolved. */
static void print_root(json_t *root)
{
	json_t *store = json_object_get(root, "store"), *im;
	size_t i;

	if (!json_is_object(store)) {
		print_human(root);
		return;
	}
	printf("additional layer store: %zu images\n", json_array_size(json_object_get(store, "images")));
	json_array_foreach(json_object_get(store, "images"), i, im) {
		printf("\n");
		print_human(im);
	}
}

int cmd_stats(int argc, char **argv)
{
	const char *mnt = NULL, *profile_out = NULL;
	json_error_t jerr;
	json_t *root;
	bool as_json = false;
	char *raw = NULL;
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			as_json = true;
		} else if (strcmp(argv[i], "--profile") == 0 && i + 1 < argc) {
			profile_out = argv[++i];
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return CLI_OK;
		} else if (argv[i][0] != '-' && !mnt) {
			mnt = argv[i];
		} else {
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (!mnt) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (profile_out)
		return write_profile(mnt, profile_out);
	r = mount_stats_read(mnt, &raw);
	if (r == -ENODATA || r == -ENOTSUP) {
		log_err("'%s' is not the root of a stratafs mount", mnt);
		return CLI_FAIL;
	}
	if (r < 0) {
		log_err("cannot read the stats of '%s': %s", mnt, strerror(-r));
		return CLI_FAIL;
	}
	if (as_json) {
		printf("%s\n", raw);
		free(raw);
		return CLI_OK;
	}
	root = json_loads(raw, 0, &jerr);
	free(raw);
	if (!root) {
		log_err("invalid stats from '%s': %s", mnt, jerr.text);
		return CLI_FAIL;
	}
	print_root(root);
	json_decref(root);
	return CLI_OK;
}
