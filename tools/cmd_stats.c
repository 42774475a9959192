/* SPDX-License-Identifier: MIT */
/*
 * strata stats MOUNTPOINT [--json]: what a stratafs mount has fetched.
 * The daemon publishes its stats as the extended attribute
 * "user.stratafs.stats" of the mount root (never listed, never a file), so
 * this reads it with plain getxattr(2): no FUSE, no socket.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>

#include "common/log.h"
#include "tools/cli.h"

#define STATS_XATTR "user.stratafs.stats"
#define STATS_MAX (1u << 20)

static void usage(FILE *f)
{
	fprintf(f, "usage: strata stats MOUNTPOINT [--json]\n"
		   "  show what a stratafs mount has fetched: bytes per layer, cache hits,\n"
		   "  latency; --json prints the daemon's JSON as is\n");
}

/* The value of attribute @name, NUL-terminated; caller frees. */
static int read_attr(const char *mnt, const char *name, char **out, size_t *out_len)
{
	char *buf = NULL;
	ssize_t n;

	for (int tries = 0; tries < 4; tries++) {
		n = getxattr(mnt, name, NULL, 0);
		if (n < 0)
			break;
		if ((size_t)n > STATS_MAX)
			return -EFBIG;
		free(buf);
		buf = malloc((size_t)n + 1);
		if (!buf)
			return -ENOMEM;
		n = getxattr(mnt, name, buf, (size_t)n);
		if (n >= 0) {
			buf[n] = '\0';
			*out = buf;
			*out_len = (size_t)n;
			return 0;
		}
		if (errno != ERANGE)
			break; /* ERANGE: it grew between the two calls */
	}
	free(buf);
	return -errno;
}

/*
 * The stats JSON; caller frees. Stats larger than an xattr come in chunks:
 * the head is {"stratafs_stats_chunks":K,"size":S} and the pieces are
 * STATS_XATTR.0 .. .K-1 of the snapshot the head read took.
 */
static int read_stats(const char *mnt, char **out)
{
	unsigned long chunks, size;
	char name[64], *head = NULL, *all = NULL, *part = NULL;
	size_t len, used = 0;
	int r;

	r = read_attr(mnt, STATS_XATTR, &head, &len);
	if (r < 0)
		return r;
	if (sscanf(head, "{\"stratafs_stats_chunks\":%lu,\"size\":%lu}", &chunks, &size) != 2) {
		*out = head;
		return 0;
	}
	free(head);
	if (size > STATS_MAX * 16)
		return -EFBIG;
	all = malloc(size + 1);
	if (!all)
		return -ENOMEM;
	for (unsigned long i = 0; i < chunks; i++) {
		snprintf(name, sizeof(name), "%s.%lu", STATS_XATTR, i);
		r = read_attr(mnt, name, &part, &len);
		if (r == 0 && len > size - used)
			r = -EBADMSG;
		if (r < 0) {
			free(all);
			return r;
		}
		memcpy(all + used, part, len);
		used += len;
		free(part);
	}
	all[used] = '\0';
	if (used != size) {
		free(all);
		return -EBADMSG;
	}
	*out = all;
	return 0;
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
static const char *const K_BYTES[] = { "bytes_fetched", "fetched_bytes", NULL };
static const char *const K_FRAC[] = { "fraction_fetched", "fetched_fraction", NULL };
static const char *const K_HITS[] = { "cache_hits", "hits", NULL };
static const char *const K_MISSES[] = { "cache_misses", "misses", NULL };
static const char *const K_ERRORS[] = { "errors", "fetch_errors", NULL };

static void print_layer(json_t *l)
{
	const char *d = str(l, K_DIGEST), *hex = strchr(d, ':');

	hex = hex ? hex + 1 : d;
	printf("  %-12.12s  %-8s  %12.0f  %6.1f%%  %8.0f  %8.0f\n", hex, str(l, K_SOURCE),
	       num(l, K_BYTES), 100.0 * num(l, K_FRAC), num(l, K_HITS), num(l, K_MISSES));
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
	size_t i;
	json_t *l;

	printf("ref:       %s\nmanifest:  %s\nview:      %s\nuptime:    %.0f s\n\n",
	       str(m, k_ref), str(m, k_man), str(m, k_view), num(m, k_up));
	printf("  %-12s  %-8s  %12s  %7s  %8s  %8s\n", "layer", "index", "fetched", "%", "hits",
	       "misses");
	json_array_foreach(layers, i, l)
		print_layer(l);
	if (!json_is_object(tot))
		tot = root;
	printf("  %-12s  %-8s  %12.0f  %6.1f%%  %8.0f  %8.0f\n", "total", "", num(tot, K_BYTES),
	       100.0 * num(tot, K_FRAC), num(tot, K_HITS), num(tot, K_MISSES));
	printf("\nerrors: %.0f   timeouts: %.0f   registry requests: %.0f\n", num(tot, K_ERRORS),
	       num(tot, k_tmo), num(tot, k_req));
	if (json_is_object(lat))
		printf("fetch latency: p50 %.1f ms  p90 %.1f ms  p99 %.1f ms\n", num(lat, k_p50),
		       num(lat, k_p90), num(lat, k_p99));
}

int cmd_stats(int argc, char **argv)
{
	const char *mnt = NULL;
	json_error_t jerr;
	json_t *root;
	bool as_json = false;
	char *raw = NULL;
	int r;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			as_json = true;
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
	r = read_stats(mnt, &raw);
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
	print_human(root);
	json_decref(root);
	return CLI_OK;
}
