/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/size.h"
#include "tools/cli.h"
#include "tools/cli_opts.h"
#include "tools/dir_layer.h"
#include "tools/image_push.h"
#include "tools/layer_cmd.h"

enum { OPT_JSON = CLI_OPT_CMD_BASE, OPT_COMP, OPT_LEVEL, OPT_SPAN, OPT_THREADS, OPT_BASE,
       OPT_MAX_LAYERS, OPT_USERXATTR, OPT_PROFILE, OPT_KEEP_UNCHANGED,
       OPT_INDEX_ALL, OPT_END };

#define N_OWN (OPT_END - OPT_JSON)
#define MAX_LAYERS_LIMIT 1000

struct run {
	struct cli_opts o;
	struct image_push ip;
	struct idx_writer_opts wo;
	const char *base;
	const char *profile; /* --profile FILE|none; NULL: the --base mount's */
	unsigned max_layers; /* 0: no limit */
	bool json, userxattr, keep_unchanged, index_all;
};

static void usage(const struct layer_cmd *cmd, FILE *f)
{
	cmd->usage(f);
	fprintf(f, "  --compression gzip|zstd|none  layer compression (default gzip)\n"
		   "  --level N                     compression level (default gzip 6, zstd 3)\n"
		   "  --span-size N[K|M]            bytes of tar per gzip member / zstd frame (default\n"
		   "                                1M; 256K when most files are under 64K)\n"
		   "  --threads N                   compression threads (default: the online CPUs)\n"
		   "  --base REF|MOUNTPOINT         put the layer on top of this image's layers; a\n"
		   "                                stratafs mountpoint names exactly what it serves\n"
		   "  --max-layers N                past N layers, squash them all into one\n"
		   "  --json                        print the result as JSON\n");
	if (cmd->overlay_upper)
		fprintf(f, "  --userxattr                   the overlay was mounted with userxattr: its\n"
			   "                                markers are user.overlay.* xattrs\n"
			   "  --keep-unchanged              also store copy-ups whose bytes and metadata\n"
			   "                                equal the --base mount's (only their times\n"
			   "                                changed; left out by default)\n"
			   "  --index-all                   also index a layer of at most 64 KiB (by\n"
			   "                                default the mount fetches it whole and\n"
			   "                                indexes it: an index would cost as much)\n"
			   "  --profile FILE|none           the access profile pinned with the layer\n"
			   "                                (default: what the --base mount recorded)\n");
	cli_opts_usage(f);
}

static int parse_own(const struct layer_cmd *cmd, struct run *rn, int c, const char *arg)
{
	char *end = NULL;
	unsigned long long v;

	switch (c) {
	case OPT_JSON:
		rn->json = true;
		return 0;
	case OPT_BASE:
		rn->base = arg;
		return 0;
	case OPT_USERXATTR:
	case OPT_PROFILE:
	case OPT_KEEP_UNCHANGED:
	case OPT_INDEX_ALL:
		if (!cmd->overlay_upper) {
			fprintf(stderr, "strata %s: --userxattr, --profile, --keep-unchanged and "
				"--index-all are for overlay upper dirs (commit)\n", cmd->name);
			return -EINVAL;
		}
		rn->userxattr |= c == OPT_USERXATTR;
		rn->keep_unchanged |= c == OPT_KEEP_UNCHANGED;
		rn->index_all |= c == OPT_INDEX_ALL;
		if (c == OPT_PROFILE)
			rn->profile = arg;
		return 0;
	case OPT_COMP:
		rn->wo.comp = strcmp(arg, "gzip") == 0 ? IDX_COMP_GZIP :
			      strcmp(arg, "zstd") == 0 ? IDX_COMP_ZSTD :
			      strcmp(arg, "none") == 0 ? IDX_COMP_NONE : IDX_COMP_AUTO;
		if (rn->wo.comp != IDX_COMP_AUTO)
			return 0;
		fprintf(stderr, "strata %s: unknown compression '%s'\n", cmd->name, arg);
		return -EINVAL;
	case OPT_SPAN:
		/* a size like strata index's --span-size: 256K, 4M or bytes */
		if (size_parse(arg, &rn->wo.span_size) < 0 || rn->wo.span_size < IDX_MIN_SPAN_SIZE ||
		    rn->wo.span_size > IDX_MAX_SPAN_SIZE) {
			fprintf(stderr, "strata %s: bad span size '%s': want %uK to %uM\n", cmd->name,
				arg, IDX_MIN_SPAN_SIZE >> 10, IDX_MAX_SPAN_SIZE >> 20);
			return -EINVAL;
		}
		return 0;
	default:
		break;
	}
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || (c == OPT_LEVEL && v > 22) ||
	    (c == OPT_THREADS && (v < 1 || v > 256)) ||
	    (c == OPT_MAX_LAYERS && (v < 1 || v > MAX_LAYERS_LIMIT))) {
		fprintf(stderr, "strata %s: bad value '%s'\n", cmd->name, arg);
		return -EINVAL;
	}
	if (c == OPT_LEVEL)
		rn->wo.level = (int)v;
	else if (c == OPT_THREADS)
		rn->wo.threads = (unsigned)v;
	else
		rn->max_layers = (unsigned)v;
	return 0;
}

/* 0 to go on, else the exit code. */
static int parse(const struct layer_cmd *cmd, struct run *rn, int argc, char **argv)
{
	static const struct option own[N_OWN] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "compression", required_argument, NULL, OPT_COMP },
		{ "level", required_argument, NULL, OPT_LEVEL },
		{ "span-size", required_argument, NULL, OPT_SPAN },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "base", required_argument, NULL, OPT_BASE },
		{ "max-layers", required_argument, NULL, OPT_MAX_LAYERS },
		{ "userxattr", no_argument, NULL, OPT_USERXATTR },
		{ "profile", required_argument, NULL, OPT_PROFILE },
		{ "keep-unchanged", no_argument, NULL, OPT_KEEP_UNCHANGED },
		{ "index-all", no_argument, NULL, OPT_INDEX_ALL },
	};
	struct option lo[CLI_OPTS_NLONG + N_OWN + 1];
	int c;

	cli_opts_longopts(lo, own, N_OWN);
	optind = 1;
	while ((c = getopt_long(argc, argv, CLI_OPTS_SHORT, lo, NULL)) != -1) {
		if (c >= OPT_JSON && c < OPT_END ? parse_own(cmd, rn, c, optarg) < 0 :
						    cli_opts_handle(&rn->o, c, optarg) < 0)
			goto out_usage;
	}
	if (cli_opts_finish(&rn->o) < 0)
		goto out_usage;
	if (rn->o.help) {
		usage(cmd, stdout);
		return CLI_OK;
	}
	if (argc - optind != 2 || (rn->wo.comp == IDX_COMP_GZIP && rn->wo.level > 9))
		goto out_usage;
	if (reg_ref_parse(argv[optind + 1], &rn->ip.ref) < 0)
		goto out_usage;
	rn->ip.span_size = rn->wo.span_size;
	return 0;
out_usage:
	usage(cmd, stderr);
	return CLI_USAGE;
}

/*
 * The layer: the directory's own, or (past --max-layers) the base's
 * layers and it squashed into one. The directory's layer is then only an
 * intermediate, written uncompressed.
 */
static int make_layer(const struct layer_cmd *cmd, struct run *rn, const char *dir)
{
	size_t n_base = rn->ip.bm ? rn->ip.bm->n_layers : 0;
	struct dir_layer_opts dl = { .dir = dir, .wo = rn->wo, .overlay_upper = cmd->overlay_upper,
				     .userxattr = rn->userxattr };
	struct dir_lower lower = { .fd = -1 };
	struct idx_layer *top = NULL;
	int top_fd = -1, r;

	/* over a --base mount, copy-ups that changed nothing are left out (tools/dir_same.c) */
	if (cmd->overlay_upper && !rn->keep_unchanged && rn->ip.mount_base) {
		r = dir_lower_open(rn->base, &lower);
		if (r < 0)
			return r;
		dl.lower = &lower;
	}
	rn->ip.squashed = rn->max_layers && n_base && n_base + 1 > rn->max_layers;
	if (!rn->ip.squashed) {
		r = dir_layer_build(&dl, &rn->ip.layer_fd, &rn->ip.layer);
		goto out_lower;
	}
	dl.wo.comp = IDX_COMP_NONE;
	r = dir_layer_build(&dl, &top_fd, &top);
	if (r == 0)
		r = image_squash(&rn->ip, &rn->wo, top_fd, top, &rn->ip.layer_fd, &rn->ip.layer);
	idx_layer_free(top);
	if (top_fd >= 0)
		close(top_fd);
out_lower:
	rn->ip.unchanged_files = lower.files;
	rn->ip.unchanged_bytes = lower.bytes;
	if (lower.files)
		log_info("%llu copied-up files (%llu bytes) equal the base's: left out of the layer",
			 (unsigned long long)lower.files, (unsigned long long)lower.bytes);
	dir_lower_close(&lower);
	return r;
}

int layer_cmd_run(const struct layer_cmd *cmd, int argc, char **argv)
{
	struct run rn = { .wo = { .comp = IDX_COMP_GZIP } };
	const char *dir;
	int ret;

	cli_opts_init(&rn.o);
	image_push_init(&rn.ip, &rn.o, cmd->created_by);
	ret = parse(cmd, &rn, argc, argv);
	if (ret != 0 || rn.o.help)
		goto out_release;
	dir = argv[optind];
	ret = CLI_FAIL;
	rn.ip.skip_small_index = cmd->overlay_upper && !rn.index_all;
	if (rn.base && image_open_base(&rn.ip, rn.base) < 0)
		goto out_release;
	if (cmd->overlay_upper && image_profile_load(&rn.ip, rn.profile, rn.base) < 0)
		goto out_release;
	if (make_layer(cmd, &rn, dir) < 0)
		goto out_fail;
	idx_layer_info(rn.ip.layer, &rn.ip.info);
	if (image_upload(&rn.ip) < 0) {
out_fail:
		log_err("%s of '%s' failed", cmd->name, dir);
		goto out_release;
	}
	image_print_result(&rn.ip, stdout, rn.json);
	ret = fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
out_release:
	image_push_release(&rn.ip);
	cli_opts_release(&rn.o);
	return ret;
}
