/* SPDX-License-Identifier: MIT */
/*
 * The strata CLI: one file per command (cmd_<verb>.c), dispatched from
 * strata.c. Each cmd_<verb>() gets argv with argv[0] = "<verb>" and returns
 * the process exit code: 0 ok, 1 failure, 2 usage.
 */
#ifndef TOOLS_CLI_H
#define TOOLS_CLI_H

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

int cmd_inspect(int argc, char **argv);
int cmd_blob(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_extract(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_commit(int argc, char **argv);
int cmd_cache(int argc, char **argv);

#endif
