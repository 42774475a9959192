/* SPDX-License-Identifier: MIT */
/* strata blob: placeholder until its issue lands. */
#include "common/log.h"
#include "tools/cli.h"

int cmd_blob(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	log_err("'blob' is not built yet");
	return CLI_FAIL;
}
