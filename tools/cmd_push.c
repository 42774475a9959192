/* SPDX-License-Identifier: MIT */
/*
 * strata push DIR REF: DIR as one new seekable layer (on --base's layers),
 * its image config and manifest, and the stratafs index artifact. The
 * layer is deterministic (tools/dir_layer.h): the same DIR gives the same
 * digest. The work is in tools/layer_cmd.c.
 */
#include "tools/cli.h"
#include "tools/layer_cmd.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: strata push DIR REF [options]\n"
		   "  DIR becomes one layer (on top of --base's layers), pushed with its image\n"
		   "  config, manifest and stratafs index; the tag moves last\n");
}

int cmd_push(int argc, char **argv)
{
	static const struct layer_cmd push = {
		.name = "push", .created_by = "strata push", .usage = usage,
	};

	return layer_cmd_run(&push, argc, argv);
}
