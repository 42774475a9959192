/* SPDX-License-Identifier: MIT */
/*
 * The source of `strata ls`, `cat` and `extract`. A LAYERFILE (an
 * existing file, as `strata index` decides) is one layer's tree, its
 * whiteouts shown as the ".wh.*" files they are (local_layer.c). Anything
 * else is a reference, opened as the daemon mounts it (fs/image.h): the
 * same indexes under the same trust policy (--unpinned, as -o unpinned),
 * the same span cache (--cache, default as the daemon's), the merged tree
 * with whiteouts applied; a read fetches only the spans it needs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/log.h"
#include "fs/image.h"
#include "tools/local_layer.h"
#include "tools/tree_src.h"

struct cli_src {
	struct cli_local *local;   /* a LAYERFILE, or */
	struct fs_image *img;      /* a reference */
	struct idx_tree *tree;     /* the reference's tree */
	unsigned *nos;             /* tree layer k -> store layer number */
};

void cli_src_opts_init(struct cli_src_opts *o)
{
	memset(o, 0, sizeof(*o));
	cli_opts_init(&o->cli);
	o->pick.layer = -1;
	o->pick.chain = -1;
}

void cli_src_opts_release(struct cli_src_opts *o)
{
	cli_opts_release(&o->cli);
}

void cli_src_longopts(struct option *out, const struct option *extra, size_t n_extra)
{
	struct option own[CLI_SRC_NLONG + 16] = {
		{ "index", required_argument, NULL, CLI_SRC_OPT_INDEX },
		{ "unpinned", required_argument, NULL, CLI_SRC_OPT_UNPINNED },
		{ "layer", required_argument, NULL, CLI_SRC_OPT_LAYER },
		{ "chain", required_argument, NULL, CLI_SRC_OPT_CHAIN },
	};

	if (n_extra > 16)
		n_extra = 16;
	if (n_extra)
		memcpy(own + CLI_SRC_NLONG, extra, n_extra * sizeof(*extra));
	cli_opts_longopts(out, own, CLI_SRC_NLONG + n_extra);
}

static int parse_no(const char *what, const char *arg, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < 0 || v > 100000) {
		log_err("invalid %s '%s'", what, arg);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int cli_src_handle(struct cli_src_opts *o, int opt, const char *arg)
{
	switch (opt) {
	case CLI_SRC_OPT_INDEX:
		o->index_file = arg;
		return 0;
	case CLI_SRC_OPT_UNPINNED:
		if (fs_unpinned_parse(arg, &o->unpinned) == 0)
			return 0;
		log_err("invalid unpinned mode '%s' (tag, never or always)", arg);
		return -EINVAL;
	case CLI_SRC_OPT_LAYER:
		return parse_no("layer", arg, &o->pick.layer);
	case CLI_SRC_OPT_CHAIN:
		return parse_no("chain", arg, &o->pick.chain);
	default:
		return cli_opts_handle(&o->cli, opt, arg);
	}
}

void cli_src_usage(FILE *f)
{
	fprintf(f, "source options:\n"
		   "  --index FILE          LAYERFILE: use a saved index instead of indexing it\n"
		   "  --unpinned tag|never|always  REF: use indexes no digest pins (as stratafs\n"
		   "                        -o unpinned; default tag: for references by tag only)\n"
		   "  --layer N             REF: layer N alone (whiteouts shown as files; wins\n"
		   "                        over --chain)\n"
		   "  --chain N             BuildKit cache: chain N, layer N merged over its\n"
		   "                        parents (default: the last layer's chain)\n"
		   "  (with a REF, --cache DIR is also where its indexes and spans are kept)\n");
	cli_opts_usage(f);
}

static int open_ref(const char *ref, struct cli_src_opts *o, struct cli_src *s)
{
	struct fs_image_opts io = {
		.ref = ref,
		.platform = o->cli.platform_arg,
		.reg = o->cli.reg,
		.unpinned = o->unpinned,
	};
	int r;

	fs_store_opts_init(&io.store);
	io.store.cache_dir = o->cli.cache_dir;
	io.store.readahead_spans = 4;
	if (o->cli.reg.io_timeout_ms)
		io.store.io_timeout_ms = o->cli.reg.io_timeout_ms;
	if (o->fetch_threads)
		io.store.fetch_threads = o->fetch_threads;
	io.store.mem_max = o->mem_max;
	r = fs_image_open(&io, &s->img);
	if (r == 0)
		r = fs_image_tree(s->img, &o->pick, &s->tree, &s->nos);
	return r;
}

int cli_src_open(const char *arg, struct cli_src_opts *o, struct cli_src **out)
{
	struct cli_src *s = calloc(1, sizeof(*s));
	struct stat st;
	int r;

	if (!s)
		return -ENOMEM;
	/* a reference never starts with '/' or '.': name the missing file, not a bad REF */
	if ((stat(arg, &st) == 0 && S_ISREG(st.st_mode)) || arg[0] == '/' || arg[0] == '.') {
		if (o->pick.layer >= 0 || o->pick.chain >= 0)
			log_warn("--layer and --chain are for a reference; '%s' is a file", arg);
		r = cli_local_open(arg, o->index_file, &s->local);
	} else if (o->index_file) {
		log_err("--index is for a LAYERFILE; '%s' is not a file", arg);
		r = -EINVAL;
	} else {
		r = open_ref(arg, o, s);
	}
	if (r < 0) {
		cli_src_close(s);
		return r;
	}
	*out = s;
	return 0;
}

void cli_src_close(struct cli_src *s)
{
	if (!s)
		return;
	cli_local_close(s->local);
	idx_tree_free(s->tree);
	free(s->nos);
	fs_image_free(s->img); /* after the tree, which borrows its layers */
	free(s);
}

const struct idx_tree *cli_src_tree(const struct cli_src *s)
{
	return s->local ? cli_local_tree(s->local) : s->tree;
}

ssize_t cli_src_read(struct cli_src *s, const struct idx_node *node, void *buf, size_t n,
		     uint64_t off)
{
	if (node->type != IDX_T_REG)
		return -EINVAL;
	if (s->local)
		return idx_file_read(cli_local_layer(s->local), node->entry,
				     cli_local_reader(s->local), buf, n, off);
	return fs_store_read(s->img->store, s->nos[node->layer], node->entry, buf, n, off);
}

int cli_src_want(struct cli_src *s, const struct idx_node *node)
{
	if (s->local || node->type != IDX_T_REG || node->size == 0)
		return 0;
	return fs_store_want(s->img->store, s->nos[node->layer], node->entry);
}

void cli_src_prefetch(struct cli_src *s)
{
	if (s->img)
		fs_store_prefetch_wanted(s->img->store);
}
