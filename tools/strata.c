/* SPDX-License-Identifier: MIT */
/* strata: the companion CLI of stratafs. Dispatches to cmd_<verb>(). */
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/version.h"
#include "tools/cli.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{ "inspect", cmd_inspect, "show a reference: digests, media types, platforms, layers, indexes" },
	{ "blob", cmd_blob, "write a blob (or a byte range of it) to stdout, verified" },
	{ "index", cmd_index, "build the stratafs index of a layer" },
	{ "ls", cmd_ls, "list the files of an image, a cache or a layer file, without FUSE" },
	{ "cat", cmd_cat, "print a file of an image, a cache or a layer file, without FUSE" },
	{ "extract", cmd_extract, "write an image's tree (or subtrees) to a directory, lazily" },
	{ "push", cmd_push, "push a directory as a new seekable layer (image + index)" },
	{ "commit", cmd_commit, "push an overlay upper dir as a diff layer over a base" },
	{ "stats", cmd_stats, "show what a stratafs mount has fetched" },
	{ "cache", cmd_cache, "show or prune the local cache stratafs mounts share" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: strata COMMAND [ARGS...]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'strata COMMAND --help' shows a command's options.\n");
}

int main(int argc, char **argv)
{
	log_set_prog("strata");
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return CLI_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("strata %s\n", STRATAFS_VERSION);
		return CLI_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	}
	log_err("unknown command '%s'", argv[1]);
	usage(stderr);
	return CLI_USAGE;
}
