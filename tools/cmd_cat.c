/* SPDX-License-Identifier: MIT */
/*
 * strata cat LAYERFILE|REF PATH [source options]
 *
 * Prints one file of a local layer blob or of a reference (merged as the
 * daemon mounts it, tools/tree_src.c) through its index, reading only
 * the spans it needs (a pread of the file, a Range request or the span
 * cache for a reference). A symlink as the last
 * component is followed inside the layer (40 hops at most, like the
 * kernel's limit); symlinks in the middle of PATH are not.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "index/index.h"
#include "tools/cli.h"
#include "tools/cli_opts.h"
#include "tools/tree_src.h"

#define CAT_BUF (1u << 20)
#define MAX_HOPS 40


/* Resolve @path, following a final symlink; *out is the file's node. */
static int resolve(const struct idx_tree *t, const char *path, const struct idx_node **out)
{
	char cur[IDX_MAX_PATH * 2 + 2], next[IDX_MAX_PATH * 2 + 2];
	const struct idx_node *n;
	uint64_t ino;
	int r;

	snprintf(cur, sizeof(cur), "%s", path);
	for (int hop = 0; hop <= MAX_HOPS; hop++) {
		const struct idx_entry *e;
		const char *slash;

		r = idx_tree_resolve(t, cur, &ino);
		if (r < 0)
			return r;
		n = idx_tree_node(t, ino);
		e = idx_tree_entry(t, n);
		if (n->type != IDX_T_SYMLINK || !e || !e->link) {
			*out = n;
			return 0;
		}
		slash = strrchr(cur, '/');
		if (e->link[0] == '/' || !slash)
			snprintf(next, sizeof(next), "%s", e->link);
		else
			snprintf(next, sizeof(next), "%.*s/%s", (int)(slash - cur), cur, e->link);
		memcpy(cur, next, sizeof(cur));
	}
	return -ELOOP;
}

static int cat_node(struct cli_src *c, const struct idx_node *n, const char *path)
{
	uint64_t off = 0;
	char *buf;
	int r = 0;

	if (n->type != IDX_T_REG) {
		r = n->type == IDX_T_DIR ? -EISDIR : -EINVAL;
		log_err("cannot read '%s': %s", path,
			r == -EISDIR ? "is a directory" : "not a regular file");
		return r;
	}
	buf = malloc(CAT_BUF);
	if (!buf)
		return -ENOMEM;
	while (off < n->size) {
		ssize_t got = cli_src_read(c, n, buf, CAT_BUF, off);

		if (got <= 0) {
			r = got < 0 ? (int)got : -EBADMSG;
			log_err("cannot read '%s' at offset %llu: %s", path,
				(unsigned long long)off, got < 0 ? strerror(-r) : "unexpected end");
			break;
		}
		if (fwrite(buf, 1, (size_t)got, stdout) != (size_t)got) {
			r = -errno;
			log_err("cannot write '%s': %s", path, strerror(errno));
			break;
		}
		off += (uint64_t)got;
	}
	free(buf);
	return r;
}

static int usage(FILE *f)
{
	fprintf(f, "usage: strata cat LAYERFILE|REF PATH [options]\n"
		   "  LAYERFILE   a local layer blob: .tar, .tar.gz or .tar.zst\n"
		   "  REF         anything else: an image or cache in a registry, merged as\n"
		   "              stratafs mounts it (only the spans of PATH are fetched)\n");
	cli_src_usage(f);
	return f == stdout ? CLI_OK : CLI_USAGE;
}

static int parse_args(int argc, char **argv, struct cli_src_opts *so)
{
	struct option longopts[CLI_OPTS_NLONG + CLI_SRC_NLONG + 1];
	int opt;

	cli_src_longopts(longopts, NULL, 0);
	optind = 1;
	while ((opt = getopt_long(argc, argv, CLI_OPTS_SHORT, longopts, NULL)) != -1) {
		if (cli_src_handle(so, opt, optarg) < 0)
			return usage(stderr);
	}
	if (cli_opts_finish(&so->cli) < 0)
		return CLI_USAGE;
	if (so->cli.help)
		return usage(stdout);
	if (argc - optind != 2)
		return usage(stderr);
	return -1;
}

int cmd_cat(int argc, char **argv)
{
	struct cli_src_opts so;
	const struct idx_node *n;
	struct cli_src *c = NULL;
	int r;

	cli_src_opts_init(&so);
	r = parse_args(argc, argv, &so);
	if (r >= 0)
		goto out_release;
	r = cli_src_open(argv[optind], &so, &c);
	if (r < 0)
		goto out_release;
	r = resolve(cli_src_tree(c), argv[optind + 1], &n);
	if (r < 0)
		log_err("cannot access '%s': %s", argv[optind + 1], strerror(-r));
	else
		r = cat_node(c, n, argv[optind + 1]);
	cli_src_close(c);
	if (r == 0 && fflush(stdout) != 0) {
		log_err("cannot write: %s", strerror(errno));
		r = -EIO;
	}
out_release:
	cli_src_opts_release(&so);
	return r < 0 ? CLI_FAIL : r;
}
