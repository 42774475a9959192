/* SPDX-License-Identifier: MIT */
/*
 * strata cat LAYERFILE PATH [--index FILE]
 *
 * Prints one file of a local layer blob through its index, reading only
 * the spans it needs (idx_file_read over pread). A symlink as the last
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
#include "tools/local_layer.h"

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

static int cat_node(const struct cli_local *c, const struct idx_node *n, const char *path)
{
	const struct idx_layer *l = cli_local_layer(c);
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
		ssize_t got = idx_file_read(l, n->entry, cli_local_reader(c), buf, CAT_BUF, off);

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
	fprintf(f, "usage: strata cat LAYERFILE PATH [--index FILE]\n"
		   "  LAYERFILE   a local layer blob: .tar, .tar.gz or .tar.zst\n"
		   "  --index FILE  use a saved index instead of indexing LAYERFILE\n");
	return f == stdout ? CLI_OK : CLI_USAGE;
}

int cmd_cat(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "index", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *index_file = NULL;
	const struct idx_node *n;
	struct cli_local *c = NULL;
	int opt, r;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i': index_file = optarg; break;
		case 'h': return usage(stdout);
		default: return usage(stderr);
		}
	}
	if (argc - optind != 2)
		return usage(stderr);
	if (cli_local_open(argv[optind], index_file, &c) < 0)
		return CLI_FAIL;
	r = resolve(cli_local_tree(c), argv[optind + 1], &n);
	if (r < 0)
		log_err("cannot access '%s': %s", argv[optind + 1], strerror(-r));
	else
		r = cat_node(c, n, argv[optind + 1]);
	cli_local_close(c);
	if (r == 0 && fflush(stdout) != 0) {
		log_err("cannot write: %s", strerror(errno));
		r = -EIO;
	}
	return r < 0 ? CLI_FAIL : CLI_OK;
}
