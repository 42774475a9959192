/* SPDX-License-Identifier: MIT */
/*
 * strata extract REF|LAYERFILE DEST [PATH...] [source options]
 *
 * Writes the merged tree of a reference (as stratafs mounts it, whiteouts
 * applied), or only the subtrees PATH..., under DEST, as `umoci unpack`
 * writes its rootfs: modes, mtimes, symlinks, hardlinks, fifos, user.*
 * xattrs; as root also owners, devices and every xattr (as non-root like
 * `umoci unpack --rootless`). Nothing is ever written through a symlink
 * (extract_write.c).
 *
 * Only the spans of the files written are fetched. They are marked up
 * front and fetched by the store's workers in the background, each span
 * decoded on its own (gzip checkpoints, zstd frames), so decoding runs on
 * every core while this thread writes the files in tree order; a gzip
 * stream (skopeo + umoci) decodes on one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/dbuf.h"
#include "common/log.h"
#include "tools/cli.h"
#include "tools/extract_write.h"
#include "tools/tree_src.h"

#define COPY_BUF (1u << 20)
#define PATH_MAX_LEN (1u << 16)
#define MAX_PATHS 4096
#define EXTRACT_MEM (96u << 20)

struct ex {
	struct cli_src *src;
	const struct idx_tree *t;
	struct xw w;
	char **first;       /* by ino: where the first name of a hardlinked inode went */
	struct dbuf path;   /* the current path under DEST */
	char *buf;
	uint64_t files, bytes;
	bool logged;        /* the first failure was reported */
};

/* ---- the want pass: mark every span the write pass will read ---------- */

static int want_tree(struct ex *x, const struct idx_node *n)
{
	const struct idx_node *c;
	int r = 0;

	if (n->type == IDX_T_REG)
		return cli_src_want(x->src, n);
	if (n->type != IDX_T_DIR)
		return 0;
	for (uint32_t i = 0; r == 0 && idx_tree_child(x->t, n->ino, i, &c) == 0; i++)
		r = want_tree(x, c);
	return r;
}

/* ---- the write pass --------------------------------------------------- */

static int copy_data(struct ex *x, const struct idx_node *n, int fd)
{
	uint64_t off = 0;

	while (off < n->size) {
		ssize_t got = cli_src_read(x->src, n, x->buf, COPY_BUF, off);

		if (got <= 0) {
			x->logged = true;
			log_err("cannot read '%s' at offset %llu: %s", x->path.data,
				(unsigned long long)off, got < 0 ? strerror((int)-got) : "unexpected end");
			return got < 0 ? (int)got : -EBADMSG;
		}
		for (ssize_t done = 0; done < got;) {
			ssize_t w = write(fd, x->buf + done, (size_t)(got - done));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				x->logged = true;
				log_err("cannot write '%s': %s", x->path.data, strerror(errno));
				return -errno;
			}
			done += w;
		}
		off += (uint64_t)got;
	}
	x->bytes += n->size;
	return 0;
}

static int write_node(struct ex *x, int dir, const struct idx_node *n);

static int write_dir(struct ex *x, int dir, const struct idx_node *n)
{
	const struct idx_node *c;
	int fd = -1, r;

	r = xw_dir(dir, n->name, &fd);
	for (uint32_t i = 0; r == 0 && idx_tree_child(x->t, n->ino, i, &c) == 0; i++)
		r = write_node(x, fd, c);
	if (r == 0)
		r = xw_finish_fd(&x->w, fd, idx_tree_entry(x->t, n));
	if (fd >= 0)
		close(fd);
	return r;
}

static int write_file(struct ex *x, int dir, const struct idx_node *n)
{
	int fd = -1, r;

	r = xw_file(dir, n->name, &fd);
	if (r == 0)
		r = copy_data(x, n, fd);
	if (r == 0)
		r = xw_finish_fd(&x->w, fd, idx_tree_entry(x->t, n));
	if (fd >= 0 && close(fd) < 0 && r == 0)
		r = -errno;
	x->files++;
	return r;
}

/* Non-dirs with more names than one: the first written, the others linked to it. */
static int write_linked(struct ex *x, int dir, const struct idx_node *n, bool *done)
{
	char **first = &x->first[n->ino];

	*done = false;
	if (n->type == IDX_T_DIR || n->nlink < 2)
		return 0;
	if (*first && strcmp(*first, x->path.data) != 0) {
		*done = true;
		return xw_hardlink(&x->w, *first, dir, n->name);
	}
	free(*first);
	*first = strdup(x->path.data);
	return *first ? 0 : -ENOMEM;
}

static int write_special(struct ex *x, int dir, const struct idx_node *n)
{
	const struct idx_entry *e = idx_tree_entry(x->t, n);
	int r = xw_special(&x->w, dir, n->name, n->type, e);

	return r == 0 ? xw_finish_at(&x->w, dir, n->name, n->type, e) : r;
}

static int write_node(struct ex *x, int dir, const struct idx_node *n)
{
	size_t base = x->path.len;
	bool done;
	int r;

	r = dbuf_printf(&x->path, "%s%s", base ? "/" : "", n->name);
	if (r == 0)
		r = write_linked(x, dir, n, &done);
	if (r == 0 && !done) {
		if (n->type == IDX_T_DIR)
			r = write_dir(x, dir, n);
		else if (n->type == IDX_T_REG)
			r = write_file(x, dir, n);
		else
			r = write_special(x, dir, n);
	}
	if (r > 0 && n->nlink > 1) {
		/* not made (a device as non-root): no later name can link to it */
		free(x->first[n->ino]);
		x->first[n->ino] = NULL;
	}
	if (r < 0 && !x->logged && x->path.data)
		log_err("cannot extract '%s': %s", x->path.data, strerror(-r));
	x->logged = x->logged || r < 0;
	x->path.len = base;
	if (x->path.data)
		x->path.data[base] = '\0';
	return r > 0 ? 0 : r; /* 1: skipped (a device as non-root) */
}

/* ---- PATH arguments ---------------------------------------------------- */

/*
 * The node of @name in @dir whose inode is @ino: the extra names of a
 * hardlinked inode share its number, which resolves to the first name.
 */
static const struct idx_node *named(const struct idx_tree *t, uint64_t dir, const char *name,
				    uint64_t ino)
{
	const struct idx_node *n = idx_tree_node(t, ino);

	for (uint32_t i = 0; strcmp(n->name, name) != 0 || n->parent != dir; i++) {
		if (idx_tree_child(t, dir, i, &n) < 0)
			return NULL;
	}
	return n;
}

/*
 * Resolve @path in the tree without following the image's symlinks: the
 * nodes from the root's child down to the target into @chain, their
 * count, or -errno (-ENOENT outside the image, -ENOTDIR through a file).
 */
static int resolve(const struct idx_tree *t, const char *path, const struct idx_node **chain,
		   size_t max)
{
	uint64_t ino = IDX_ROOT_INO, dir;
	size_t len = 0;
	char comp[256];

	while (*path) {
		size_t n = strcspn(path, "/");
		int r;

		if (n >= sizeof(comp))
			return -ENAMETOOLONG;
		memcpy(comp, path, n);
		comp[n] = '\0';
		path += n + (path[n] == '/');
		if (n == 0 || strcmp(comp, ".") == 0)
			continue;
		if (idx_tree_node(t, ino)->type != IDX_T_DIR)
			return -ENOTDIR;
		dir = ino;
		r = idx_tree_lookup(t, dir, comp, &ino);
		if (r < 0)
			return r;
		if (len == max)
			return -ENAMETOOLONG;
		chain[len] = named(t, dir, comp, ino);
		if (!chain[len++])
			return -ENOENT;
	}
	return (int)len;
}

/*
 * Write subtree @path: its parent directories (with their attributes,
 * set once the subtree is written), then the subtree itself. The node
 * list is @chain[0..len); len 0 is the whole tree, written into DEST.
 */
static int write_path(struct ex *x, const struct idx_node *const *chain, size_t len)
{
	int fds[256], dir = x->w.root_fd, r = 0;
	const struct idx_node *root = idx_tree_node(x->t, IDX_ROOT_INO), *c;
	size_t k = 0;

	if (len == 0) {
		for (uint32_t i = 0; r == 0 && idx_tree_child(x->t, root->ino, i, &c) == 0; i++)
			r = write_node(x, dir, c);
		return r;
	}
	for (; r == 0 && k + 1 < len && k < sizeof(fds) / sizeof(fds[0]); k++) {
		const struct idx_node *n = chain[k];

		r = dbuf_printf(&x->path, "%s%s", k ? "/" : "", n->name);
		if (r == 0)
			r = xw_dir(dir, n->name, &fds[k]);
		if (r < 0)
			break;
		dir = fds[k];
	}
	if (r == 0 && k + 1 < len)
		r = -ENAMETOOLONG;
	if (r == 0)
		r = write_node(x, dir, chain[len - 1]);
	while (k-- > 0) {
		if (r == 0)
			r = xw_finish_fd(&x->w, fds[k], idx_tree_entry(x->t, chain[k]));
		close(fds[k]);
	}
	if (r < 0 && !x->logged)
		log_err("cannot extract '%s': %s", x->path.data ? x->path.data : "", strerror(-r));
	x->logged = x->logged || r < 0;
	x->path.len = 0;
	if (x->path.data)
		x->path.data[0] = '\0';
	return r;
}

/* ---- the command ------------------------------------------------------- */

struct target {
	const struct idx_node **chain;
	int len;
};

static int usage(FILE *f)
{
	fprintf(f, "usage: strata extract REF|LAYERFILE DEST [PATH...] [options]\n"
		   "  REF         an image or cache in a registry, merged as stratafs mounts it\n"
		   "  LAYERFILE   a local layer blob (.tar, .tar.gz, .tar.zst): that layer alone\n"
		   "  DEST        the directory to write to (created if missing; what is there\n"
		   "              at a name the image writes is replaced)\n"
		   "  PATH...     only these subtrees (default: everything); only the spans\n"
		   "              they need are fetched\n"
		   "  --threads N fetch and decode with N workers (default: 2 per CPU, >= 8)\n");
	cli_src_usage(f);
	return f == stdout ? CLI_OK : CLI_USAGE;
}

enum { OPT_THREADS = CLI_OPT_CMD_BASE };

static int parse_args(int argc, char **argv, struct cli_src_opts *so)
{
	static const struct option own[] = { { "threads", required_argument, NULL, OPT_THREADS } };
	struct option longopts[CLI_OPTS_NLONG + CLI_SRC_NLONG + 2];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	char *end;
	int opt;

	so->fetch_threads = cpus > 4 ? (unsigned)(2 * cpus) : 8;
	so->mem_max = EXTRACT_MEM;
	cli_src_longopts(longopts, own, 1);
	optind = 1;
	while ((opt = getopt_long(argc, argv, CLI_OPTS_SHORT, longopts, NULL)) != -1) {
		if (opt == OPT_THREADS) {
			so->fetch_threads = (unsigned)strtoul(optarg, &end, 10);
			if (*end || so->fetch_threads == 0 || so->fetch_threads > 64) {
				log_err("invalid thread count '%s'", optarg);
				return CLI_USAGE;
			}
		} else if (cli_src_handle(so, opt, optarg) < 0) {
			return usage(stderr);
		}
	}
	if (cli_opts_finish(&so->cli) < 0)
		return CLI_USAGE;
	if (so->cli.help)
		return usage(stdout);
	if (argc - optind < 2 || argc - optind - 2 > MAX_PATHS)
		return usage(stderr);
	return -1;
}

static int open_dest(const char *dest)
{
	int fd;

	if (mkdir(dest, 0755) < 0 && errno != EEXIST) {
		log_err("cannot create '%s': %s", dest, strerror(errno));
		return -errno;
	}
	fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		log_err("cannot open '%s': %s", dest, strerror(errno));
	return fd < 0 ? -errno : fd;
}

/* Resolve every PATH (all before writing anything); the whole tree if none. */
static int resolve_all(struct ex *x, char **paths, size_t n, struct target *tg)
{
	const size_t max = IDX_MAX_PATH / 2 + 1;

	for (size_t i = 0; i < n; i++) {
		tg[i].chain = calloc(max, sizeof(*tg[i].chain));
		if (!tg[i].chain)
			return -ENOMEM;
		tg[i].len = resolve(x->t, paths[i], tg[i].chain, max);
		if (tg[i].len < 0) {
			log_err("cannot access '%s' in the image: %s", paths[i],
				strerror(-tg[i].len));
			return tg[i].len;
		}
	}
	return 0;
}

static int run(struct ex *x, char **paths, size_t n)
{
	struct target *tg = calloc(n + 1, sizeof(*tg));
	size_t nt = n ? n : 1; /* no PATH: one target, the whole tree */
	int r = -ENOMEM;

	if (!tg)
		return r;
	r = resolve_all(x, paths, n, tg);
	for (size_t i = 0; r == 0 && i < nt; i++) {
		r = want_tree(x, tg[i].len ? tg[i].chain[tg[i].len - 1]
					   : idx_tree_node(x->t, IDX_ROOT_INO));
		if (r < 0) {
			log_err("cannot plan what to fetch for '%s': %s", n ? paths[i] : "/",
				strerror(-r));
			x->logged = true;
		}
	}
	if (r == 0)
		cli_src_prefetch(x->src);
	for (size_t i = 0; r == 0 && i < nt; i++)
		r = write_path(x, (const struct idx_node *const *)tg[i].chain,
			       tg[i].len > 0 ? (size_t)tg[i].len : 0);
	for (size_t i = 0; i < nt; i++)
		free(tg[i].chain);
	free(tg);
	return r;
}

static int extract(struct cli_src_opts *so, const char *src, const char *dest, char **paths,
		   size_t n)
{
	struct ex x = { .w = { .root_fd = -1, .as_root = geteuid() == 0 } };
	int r;

	dbuf_init(&x.path, PATH_MAX_LEN);
	x.buf = malloc(COPY_BUF);
	r = x.buf ? open_dest(dest) : -ENOMEM;
	if (r < 0)
		goto out_free;
	x.w.root_fd = r;
	r = cli_src_open(src, so, &x.src);
	if (r < 0)
		goto out_free;
	x.t = cli_src_tree(x.src);
	x.first = calloc(idx_tree_count(x.t) + 1, sizeof(*x.first));
	r = x.first ? run(&x, paths, n) : -ENOMEM;
	if (r == 0 && (x.w.skipped_devs || x.w.skipped_xattrs))
		log_info("not root: %llu device(s) and %llu xattr(s) not made",
			 (unsigned long long)x.w.skipped_devs,
			 (unsigned long long)x.w.skipped_xattrs);
	if (r == 0)
		log_info("%llu files, %llu bytes written to '%s'", (unsigned long long)x.files,
			 (unsigned long long)x.bytes, dest);
	for (uint64_t i = 0; x.first && i <= idx_tree_count(x.t); i++)
		free(x.first[i]);
	free(x.first);
	cli_src_close(x.src);
out_free:
	if (x.w.root_fd >= 0)
		close(x.w.root_fd);
	free(x.buf);
	dbuf_release(&x.path);
	return r;
}

int cmd_extract(int argc, char **argv)
{
	struct cli_src_opts so;
	int r;

	cli_src_opts_init(&so);
	r = parse_args(argc, argv, &so);
	if (r < 0)
		r = extract(&so, argv[optind], argv[optind + 1], argv + optind + 2,
			    (size_t)(argc - optind - 2)) < 0 ? CLI_FAIL : CLI_OK;
	cli_src_opts_release(&so);
	return r;
}
