/* SPDX-License-Identifier: MIT */
/* strata index: placeholder until its issue lands. */
#include "common/log.h"
#include "tools/cli.h"

int cmd_index(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	log_err("'index' is not built yet");
	return CLI_FAIL;
}
