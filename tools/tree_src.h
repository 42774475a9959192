/* SPDX-License-Identifier: MIT */
/*
 * What `strata ls`, `cat` and `extract` read: a local layer file (one
 * layer's tree, read with pread) or a reference (the merged tree of an
 * image, as the daemon mounts it, read lazily through the span cache; see
 * tree_src.c). Argument parsing of the options they share is here too.
 *
 * Thread-safety: cli_src_read() may be called from several threads at
 * once on a reference; on a local file too (pread).
 */
#ifndef TOOLS_TREE_SRC_H
#define TOOLS_TREE_SRC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fs/image.h"
#include "index/index.h"
#include "tools/cli_opts.h"

/* Long options of the source, from CLI_OPT_CMD_BASE + 0x40 up. */
enum {
	CLI_SRC_OPT_INDEX = CLI_OPT_CMD_BASE + 0x40,
	CLI_SRC_OPT_UNPINNED,
	CLI_SRC_OPT_LAYER,
	CLI_SRC_OPT_CHAIN,
};
#define CLI_SRC_NLONG 4

struct cli_src_opts {
	struct cli_opts cli;         /* registry options (REF only) */
	const char *index_file;      /* LAYERFILE only: a saved index */
	enum fs_unpinned unpinned;   /* --unpinned */
	struct fs_image_pick pick;   /* --layer N, --chain N */
	unsigned fetch_threads;      /* 0: the store's default */
	uint64_t mem_max;            /* 0: the store's default */
};

void cli_src_opts_init(struct cli_src_opts *o);
void cli_src_opts_release(struct cli_src_opts *o);
/* The shared and source options (CLI_OPTS_NLONG + CLI_SRC_NLONG) then @extra, into @out. */
void cli_src_longopts(struct option *out, const struct option *extra, size_t n_extra);
/* One option: 0 handled, -EINVAL (reported) otherwise. */
int cli_src_handle(struct cli_src_opts *o, int opt, const char *arg);
void cli_src_usage(FILE *f);

struct cli_src;

/*
 * @arg is a LAYERFILE if it names an existing file (as `strata index`
 * decides) or starts with '/' or '.' (no reference does), else a
 * reference. -errno, logged.
 */
int cli_src_open(const char *arg, struct cli_src_opts *o, struct cli_src **out);
void cli_src_close(struct cli_src *s);
/* Borrowed, valid until cli_src_close(). */
const struct idx_tree *cli_src_tree(const struct cli_src *s);
/* Read @n bytes at @off of regular file @node: the count (short at EOF) or -errno. */
ssize_t cli_src_read(struct cli_src *s, const struct idx_node *node, void *buf, size_t n,
		     uint64_t off);
/* Reference only: mark @node's spans to prefetch (no-op for a file). */
int cli_src_want(struct cli_src *s, const struct idx_node *node);
/* Reference only: start fetching what cli_src_want() marked. */
void cli_src_prefetch(struct cli_src *s);

#endif
