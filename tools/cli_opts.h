/* SPDX-License-Identifier: MIT */
/* Options every registry-facing strata command shares (placeholder). */
#ifndef TOOLS_CLI_OPTS_H
#define TOOLS_CLI_OPTS_H
#endif
