/* SPDX-License-Identifier: MIT */
/*
 * strata commit UPPERDIR REF: what a build wrote over a mounted image or
 * cache (the overlayfs upper dir) becomes one new layer on top of the
 * base's layers. Overlay whiteouts and opaque dirs turn into OCI ones
 * (tools/dir_layer.c); only new blobs are uploaded and the tag moves last
 * (tools/image_push.c); past --max-layers everything is squashed into one
 * layer (tools/squash.c).
 */
#include "tools/cli.h"
#include "tools/layer_cmd.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: strata commit UPPERDIR REF [--base REF|MOUNTPOINT] [options]\n"
		   "  UPPERDIR (the upper dir of an overlay over a stratafs mount) becomes one\n"
		   "  layer on top of the base's layers. Give the lower stratafs mountpoint as\n"
		   "  --base to build on exactly what the build saw. Unmount the overlay first.\n");
}

int cmd_commit(int argc, char **argv)
{
	static const struct layer_cmd commit = {
		.name = "commit", .created_by = "strata commit", .overlay_upper = true,
		.usage = usage,
	};

	return layer_cmd_run(&commit, argc, argv);
}
