/* SPDX-License-Identifier: MIT */
/* strata push: placeholder until its issue lands. */
#include "common/log.h"
#include "tools/cli.h"

int cmd_push(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	log_err("'push' is not built yet");
	return CLI_FAIL;
}
