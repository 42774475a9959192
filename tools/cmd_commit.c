/* SPDX-License-Identifier: MIT */
/* strata commit: placeholder until its issue lands. */
#include "common/log.h"
#include "tools/cli.h"

int cmd_commit(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	log_err("'commit' is not built yet");
	return CLI_FAIL;
}
