/* SPDX-License-Identifier: MIT */
/* strata inspect: placeholder until its issue lands. */
#include "common/log.h"
#include "tools/cli.h"

int cmd_inspect(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	log_err("'inspect' is not built yet");
	return CLI_FAIL;
}
