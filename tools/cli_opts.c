/* SPDX-License-Identifier: MIT */
/* Shared registry options of the strata commands (placeholder). */
#include "tools/cli_opts.h"
int cli_opts_placeholder(void);
int cli_opts_placeholder(void)
{
	return 0;
}
