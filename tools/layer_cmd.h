/* SPDX-License-Identifier: MIT */
/*
 * The driver shared by `strata push DIR REF` and `strata commit UPPERDIR
 * REF`: options, the layer (built, squashed past --max-layers), the upload
 * and the result. The commands differ only in how the directory is read
 * (an overlayfs upper dir has whiteouts to translate) and their help.
 */
#ifndef TOOLS_LAYER_CMD_H
#define TOOLS_LAYER_CMD_H

#include <stdbool.h>
#include <stdio.h>

struct layer_cmd {
	const char *name;        /* "push", "commit" */
	const char *created_by;  /* the image history entry */
	bool overlay_upper;      /* the directory is an overlayfs upper dir */
	void (*usage)(FILE *f);  /* the command's own lines; the shared ones follow */
};

/* Run the command; the process exit code (CLI_OK, CLI_FAIL, CLI_USAGE). */
int layer_cmd_run(const struct layer_cmd *cmd, int argc, char **argv);

#endif
