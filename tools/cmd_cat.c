/* SPDX-License-Identifier: MIT */
/* strata cat: placeholder until its issue lands. */
#include "common/log.h"
#include "tools/cli.h"

int cmd_cat(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	log_err("'cat' is not built yet");
	return CLI_FAIL;
}
