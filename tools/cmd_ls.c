/* SPDX-License-Identifier: MIT */
/*
 * strata ls LAYERFILE|REF [PATH] [-l] [-R|--recursive] [source options]
 *
 * Lists a local layer blob (.tar, .tar.gz, .tar.zst; the compression is
 * sniffed) through its index: built in memory by streaming the file once,
 * or loaded from --index; the tree is that one layer's view, whiteouts
 * shown as the ".wh.*" files they are in the tar. Or a reference, merged
 * as the daemon mounts it (tools/tree_src.c): only indexes are read.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/dbuf.h"
#include "common/log.h"
#include "index/index.h"
#include "tools/cli.h"
#include "tools/tree_src.h"

/* ---- strata ls ---- */

struct ls_opts {
	bool longfmt, recursive;
};

static void mode_string(const struct idx_node *n, uint32_t mode, char s[11])
{
	static const char types[] = { [IDX_T_REG] = '-', [IDX_T_DIR] = 'd', [IDX_T_SYMLINK] = 'l',
				      [IDX_T_CHR] = 'c', [IDX_T_BLK] = 'b', [IDX_T_FIFO] = 'p' };
	static const char rwx[] = "rwxrwxrwx";

	s[0] = n->type < sizeof(types) && types[n->type] ? types[n->type] : '?';
	for (int i = 0; i < 9; i++)
		s[1 + i] = (mode & (0400u >> i)) ? rwx[i] : '-';
	if (mode & 04000)
		s[3] = (mode & 0100) ? 's' : 'S';
	if (mode & 02000)
		s[6] = (mode & 0010) ? 's' : 'S';
	if (mode & 01000)
		s[9] = (mode & 0001) ? 't' : 'T';
	s[10] = '\0';
}

static void print_node(const struct idx_tree *t, const struct idx_node *n, const char *name,
		       const struct ls_opts *o)
{
	const struct idx_entry *e = idx_tree_entry(t, n);
	char mode[11], when[32] = "?";
	time_t sec;
	struct tm tm;

	if (!o->longfmt || !e) {
		printf("%s\n", name);
		return;
	}
	mode_string(n, e->mode, mode);
	sec = (time_t)e->mtime_sec;
	if (gmtime_r(&sec, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	printf("%s %3u %5u %5u ", mode, n->nlink, e->uid, e->gid);
	if (n->type == IDX_T_CHR || n->type == IDX_T_BLK)
		printf("%4u, %4u ", e->dev_major, e->dev_minor);
	else
		printf("%10" PRIu64 " ", n->size);
	printf("%s %s", when, name);
	if (n->type == IDX_T_SYMLINK && e->link)
		printf(" -> %s", e->link);
	printf("\n");
}

/* Recursive listings print paths: @path holds the current dir's, grown and cut back. */
static int list_dir(const struct idx_tree *t, uint64_t dir, struct dbuf *path,
		    const struct ls_opts *o)
{
	const struct idx_node *n;
	size_t base = path->len;
	int r = 0;

	for (uint32_t i = 0; r == 0 && idx_tree_child(t, dir, i, &n) == 0; i++) {
		if (!o->recursive) {
			print_node(t, n, n->name, o);
			continue;
		}
		if (base)
			r = dbuf_add_str(path, "/");
		if (r == 0)
			r = dbuf_add_str(path, n->name);
		if (r < 0)
			break;
		print_node(t, n, path->data, o);
		if (n->type == IDX_T_DIR)
			r = list_dir(t, n->ino, path, o);
		path->len = base;
		path->data[base] = '\0';
	}
	return r;
}

/* "/a//b/" -> "a/b": the prefix of recursive listings. */
static int start_path(const char *arg, struct dbuf *path)
{
	int r = 0;

	while (r == 0 && *arg) {
		size_t len = strcspn(arg, "/");

		if (len && path->len)
			r = dbuf_add_str(path, "/");
		if (len && r == 0)
			r = dbuf_add(path, arg, len);
		arg += len + (arg[len] == '/');
	}
	return r;
}

static int usage(FILE *f)
{
	fprintf(f, "usage: strata ls LAYERFILE|REF [PATH] [-l] [-R|--recursive] [options]\n"
		   "  LAYERFILE   a local layer blob: .tar, .tar.gz or .tar.zst\n"
		   "  REF         anything else: an image or cache in a registry, merged as\n"
		   "              stratafs mounts it (only its indexes are fetched)\n"
		   "  -l          long format: mode, links, uid, gid, size, mtime (UTC)\n"
		   "  -R, --recursive  list subdirectories too, with paths\n");
	cli_src_usage(f);
	return f == stdout ? CLI_OK : CLI_USAGE;
}

static int parse_args(int argc, char **argv, struct cli_src_opts *so, struct ls_opts *o)
{
	static const struct option own[] = { { "recursive", no_argument, NULL, 'R' } };
	struct option longopts[CLI_OPTS_NLONG + CLI_SRC_NLONG + 2];
	int opt;

	cli_src_longopts(longopts, own, 1);
	optind = 1;
	while ((opt = getopt_long(argc, argv, CLI_OPTS_SHORT "lR", longopts, NULL)) != -1) {
		switch (opt) {
		case 'l': o->longfmt = true; break;
		case 'R': o->recursive = true; break;
		default:
			if (cli_src_handle(so, opt, optarg) < 0)
				return usage(stderr);
		}
	}
	if (cli_opts_finish(&so->cli) < 0)
		return CLI_USAGE;
	if (so->cli.help)
		return usage(stdout);
	if (argc - optind < 1 || argc - optind > 2)
		return usage(stderr);
	return -1;
}

static int list(struct cli_src *c, const char *path, const struct ls_opts *o)
{
	const struct idx_tree *t = cli_src_tree(c);
	const struct idx_node *n;
	struct dbuf prefix;
	uint64_t ino;
	int r;

	r = idx_tree_resolve(t, path, &ino);
	if (r < 0) {
		log_err("cannot access '%s': %s", path, strerror(-r));
		return r;
	}
	n = idx_tree_node(t, ino);
	dbuf_init(&prefix, 1 << 20);
	r = o->recursive ? start_path(path, &prefix) : 0;
	if (r == 0 && n->type == IDX_T_DIR)
		r = list_dir(t, ino, &prefix, o);
	else if (r == 0)
		print_node(t, n, path, o);
	if (r < 0)
		log_err("cannot list '%s': %s", path, strerror(-r));
	dbuf_release(&prefix);
	return r;
}

int cmd_ls(int argc, char **argv)
{
	struct cli_src_opts so;
	struct ls_opts o = { 0 };
	struct cli_src *c = NULL;
	int r;

	cli_src_opts_init(&so);
	r = parse_args(argc, argv, &so, &o);
	if (r >= 0)
		goto out_release;
	r = CLI_FAIL;
	if (cli_src_open(argv[optind], &so, &c) < 0)
		goto out_release;
	r = list(c, argc - optind == 2 ? argv[optind + 1] : "", &o) < 0 ? CLI_FAIL : CLI_OK;
	cli_src_close(c);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_err("cannot write the listing: %s", strerror(errno));
		r = CLI_FAIL;
	}
out_release:
	cli_src_opts_release(&so);
	return r;
}
