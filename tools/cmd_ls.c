/* SPDX-License-Identifier: MIT */
/* strata ls: placeholder until its issue lands. */
#include "common/log.h"
#include "tools/cli.h"

int cmd_ls(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	log_err("'ls' is not built yet");
	return CLI_FAIL;
}
