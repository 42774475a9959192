/* SPDX-License-Identifier: MIT */
/*
 * Options every registry-facing strata command shares, parsed with
 * getopt_long: --platform, --insecure, --ca-file, --username,
 * --password-stdin, --config, -v/--verbose (repeatable), -q/--quiet,
 * --timeout SECONDS, --retries N, --cache DIR.
 *
 * A command builds its option table with cli_opts_longopts() (the shared
 * entries followed by its own), its short string from CLI_OPTS_SHORT, and
 * hands every option it does not know to cli_opts_handle(). Its own
 * long-only options use values from CLI_OPT_CMD_BASE up.
 *
 *	struct cli_opts o;
 *	cli_opts_init(&o);
 *	while ((c = getopt_long(argc, argv, CLI_OPTS_SHORT "o:", lo, NULL)) != -1) {
 *		switch (c) { case 'o': ...; break;
 *		default: if (cli_opts_handle(&o, c, optarg) < 0) return CLI_USAGE; }
 *	}
 *	if (cli_opts_finish(&o) < 0) return CLI_USAGE;
 *	... cli_client_open(&o, ref_string, &ref, &client) ...
 *	cli_opts_release(&o);
 */
#ifndef TOOLS_CLI_OPTS_H
#define TOOLS_CLI_OPTS_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "registry/registry.h"

#define CLI_OPTS_SHORT "vqh"

enum {
	CLI_OPT_PLATFORM = 0x100,
	CLI_OPT_INSECURE,
	CLI_OPT_CA_FILE,
	CLI_OPT_USERNAME,
	CLI_OPT_PASSWORD_STDIN,
	CLI_OPT_CONFIG,
	CLI_OPT_TIMEOUT,
	CLI_OPT_RETRIES,
	CLI_OPT_CACHE,
	CLI_OPT_CMD_BASE = 0x200, /* first value free for a command's own options */
};

/* Number of shared entries in the long option table (without the terminator). */
#define CLI_OPTS_NLONG 12

struct cli_opts {
	struct reg_opts reg;       /* ready for reg_client_new() after cli_opts_finish() */
	const char *platform_arg;  /* --platform as given; NULL: host */
	struct reg_platform platform; /* parsed by cli_opts_finish() */
	bool password_stdin;
	char *password;            /* read by cli_opts_finish(); wiped on release */
	int verbose;
	bool quiet;
	bool help;                 /* -h/--help seen: print usage, exit 0 */
	const char *cache_dir;     /* --cache; NULL: the daemon's default */
	char token_dir[4096];      /* ECR token cache: <cache dir>/tokens, as the daemon's */
};

void cli_opts_init(struct cli_opts *o);
void cli_opts_release(struct cli_opts *o);

/*
 * Fill @out (room for CLI_OPTS_NLONG + n_extra + 1 entries) with the shared
 * options, then @extra (n_extra entries), then the zero terminator.
 */
void cli_opts_longopts(struct option *out, const struct option *extra, size_t n_extra);

/*
 * One option from getopt_long. 0 when handled; -EINVAL (already reported
 * on stderr) for a bad value or an option that is not a shared one
 * (getopt's '?').
 */
int cli_opts_handle(struct cli_opts *o, int opt, const char *arg);

/*
 * After the option loop: set the log level, read the password from stdin
 * (--password-stdin), parse the platform. -EINVAL (reported) on misuse.
 */
int cli_opts_finish(struct cli_opts *o);

/* The shared options' help text, for a command's --help. */
void cli_opts_usage(FILE *f);

/*
 * Parse @ref_str and make a client for it: -errno (reported on stderr).
 * On success *ref must be released with reg_ref_release() and *client freed.
 */
int cli_client_open(struct cli_opts *o, const char *ref_str, struct reg_ref *ref,
		    struct reg_client **client);

#endif
