/* SPDX-License-Identifier: MIT */
/*
 * strata ls LAYERFILE [PATH] [-l] [-R|--recursive] [--index FILE]
 *
 * Lists a local layer blob (.tar, .tar.gz, .tar.zst; the compression is
 * sniffed) through its index: built in memory by streaming the file once,
 * or loaded from --index. The tree is that one layer's view, whiteouts
 * shown as the ".wh.*" files they are in the tar.
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
#include "tools/local_layer.h"

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
	fprintf(f, "usage: strata ls LAYERFILE [PATH] [-l] [-R|--recursive] [--index FILE]\n"
		   "  LAYERFILE   a local layer blob: .tar, .tar.gz or .tar.zst\n"
		   "  -l          long format: mode, links, uid, gid, size, mtime (UTC)\n"
		   "  -R, --recursive  list subdirectories too, with paths\n"
		   "  --index FILE     use a saved index instead of indexing LAYERFILE\n");
	return f == stdout ? CLI_OK : CLI_USAGE;
}

int cmd_ls(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "recursive", no_argument, NULL, 'R' }, { "index", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },      { NULL, 0, NULL, 0 },
	};
	struct ls_opts o = { 0 };
	const char *index_file = NULL, *path;
	struct cli_local *c = NULL;
	const struct idx_node *n;
	struct dbuf prefix;
	uint64_t ino;
	int opt, r;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "lRh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'l': o.longfmt = true; break;
		case 'R': o.recursive = true; break;
		case 'i': index_file = optarg; break;
		case 'h': return usage(stdout);
		default: return usage(stderr);
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		return usage(stderr);
	path = argc - optind == 2 ? argv[optind + 1] : "";
	if (cli_local_open(argv[optind], index_file, &c) < 0)
		return CLI_FAIL;
	r = idx_tree_resolve(cli_local_tree(c), path, &ino);
	if (r < 0) {
		log_err("cannot access '%s': %s", path, strerror(-r));
		cli_local_close(c);
		return CLI_FAIL;
	}
	n = idx_tree_node(cli_local_tree(c), ino);
	dbuf_init(&prefix, 1 << 20);
	r = o.recursive ? start_path(path, &prefix) : 0;
	if (r == 0 && n->type == IDX_T_DIR)
		r = list_dir(cli_local_tree(c), ino, &prefix, &o);
	else if (r == 0)
		print_node(cli_local_tree(c), n, path, &o);
	if (r < 0)
		log_err("cannot list '%s': %s", path, strerror(-r));
	dbuf_release(&prefix);
	cli_local_close(c);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_err("cannot write the listing: %s", strerror(errno));
		return CLI_FAIL;
	}
	return r < 0 ? CLI_FAIL : CLI_OK;
}
