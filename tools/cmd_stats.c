/* SPDX-License-Identifier: MIT */
/* strata stats: placeholder until its issue lands. */
#include "common/log.h"
#include "tools/cli.h"

int cmd_stats(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	log_err("'stats' is not built yet");
	return CLI_FAIL;
}
