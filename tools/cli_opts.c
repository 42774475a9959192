/* SPDX-License-Identifier: MIT */
/* The registry options every strata command shares (see cli_opts.h). */
#include "tools/cli_opts.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/dbuf.h"
#include "common/fdio.h"
#include "common/log.h"
#include "common/secret.h"
#include "common/size.h"
#include "fs/cache.h"

#define PASSWORD_MAX 4096

static const struct option shared[CLI_OPTS_NLONG] = {
	{ "platform", required_argument, NULL, CLI_OPT_PLATFORM },
	{ "insecure", no_argument, NULL, CLI_OPT_INSECURE },
	{ "ca-file", required_argument, NULL, CLI_OPT_CA_FILE },
	{ "username", required_argument, NULL, CLI_OPT_USERNAME },
	{ "password-stdin", no_argument, NULL, CLI_OPT_PASSWORD_STDIN },
	{ "config", required_argument, NULL, CLI_OPT_CONFIG },
	{ "timeout", required_argument, NULL, CLI_OPT_TIMEOUT },
	{ "retries", required_argument, NULL, CLI_OPT_RETRIES },
	{ "cache", required_argument, NULL, CLI_OPT_CACHE },
	{ "verbose", no_argument, NULL, 'v' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
};

void cli_opts_init(struct cli_opts *o)
{
	memset(o, 0, sizeof(*o));
	reg_opts_init(&o->reg);
}

void cli_opts_release(struct cli_opts *o)
{
	secret_free_str(o->password);
	reg_platform_release(&o->platform);
	memset(o, 0, sizeof(*o));
}

void cli_opts_longopts(struct option *out, const struct option *extra, size_t n_extra)
{
	memcpy(out, shared, sizeof(shared));
	if (n_extra)
		memcpy(out + CLI_OPTS_NLONG, extra, n_extra * sizeof(*extra));
	memset(&out[CLI_OPTS_NLONG + n_extra], 0, sizeof(*out));
}

static int parse_uint(const char *what, const char *arg, uint64_t max, uint64_t *out)
{
	if (count_parse(arg, max, out) < 0) {
		log_err("invalid %s '%s'", what, arg);
		return -EINVAL;
	}
	return 0;
}

int cli_opts_handle(struct cli_opts *o, int opt, const char *arg)
{
	uint64_t v;

	switch (opt) {
	case CLI_OPT_PLATFORM:
		o->platform_arg = arg;
		return 0;
	case CLI_OPT_INSECURE:
		o->reg.insecure = true;
		return 0;
	case CLI_OPT_CACHE:
		o->cache_dir = arg;
		return 0;
	case CLI_OPT_CA_FILE:
		if (access(arg, R_OK) != 0) {
			log_err("cannot read CA file '%s'", arg);
			return -EINVAL;
		}
		o->reg.ca_file = arg;
		return 0;
	case CLI_OPT_USERNAME:
		o->reg.username = arg;
		return 0;
	case CLI_OPT_PASSWORD_STDIN:
		o->password_stdin = true;
		return 0;
	case CLI_OPT_CONFIG:
		o->reg.docker_config = arg;
		return 0;
	case CLI_OPT_TIMEOUT:
		if (parse_uint("timeout", arg, 86400, &v) < 0 || v == 0)
			return -EINVAL;
		o->reg.io_timeout_ms = (unsigned)v * 1000u;
		return 0;
	case CLI_OPT_RETRIES:
		if (parse_uint("retry count", arg, 100, &v) < 0)
			return -EINVAL;
		o->reg.retries = (unsigned)v;
		return 0;
	case 'v':
		o->verbose++;
		return 0;
	case 'q':
		o->quiet = true;
		return 0;
	case 'h':
		o->help = true;
		return 0;
	default:
		return -EINVAL; /* getopt already said what was wrong */
	}
}

static int read_password(struct cli_opts *o)
{
	struct dbuf b;

	dbuf_init(&b, PASSWORD_MAX);
	if (fd_read_dbuf(STDIN_FILENO, &b) < 0) {
		log_err("cannot read the password from stdin");
		secret_dbuf_release(&b);
		return -EINVAL;
	}
	while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
		b.data[--b.len] = '\0';
	o->password = dbuf_take(&b, NULL);
	if (!o->password)
		return -ENOMEM;
	o->reg.password = o->password;
	return 0;
}

/* ECR tokens go where the daemon keeps them (fs_cache_token_dir), so one token serves both. */
static int set_token_cache(struct cli_opts *o)
{
	int r = fs_cache_token_dir(o->cache_dir, o->token_dir, sizeof(o->token_dir));

	if (r < 0) /* -ENOENT: no cache dir (no HOME), tokens are not cached */
		return r == -ENOENT ? 0 : r;
	o->reg.token_cache_dir = o->token_dir;
	return 0;
}

int cli_opts_finish(struct cli_opts *o)
{
	if (o->quiet && o->verbose) {
		log_err("--quiet and --verbose do not go together");
		return -EINVAL;
	}
	if (o->quiet)
		log_set_level(LOG_LVL_ERR);
	else if (o->verbose == 1)
		log_set_level(LOG_LVL_INFO);
	else if (o->verbose >= 2)
		log_set_level(LOG_LVL_DEBUG);
	if (o->help)
		return 0;
	if (o->password_stdin && !o->reg.username) {
		log_err("--password-stdin needs --username");
		return -EINVAL;
	}
	if (o->password_stdin && read_password(o) < 0)
		return -EINVAL;
	if (o->reg.username && !o->password_stdin)
		o->reg.password = "";
	if (set_token_cache(o) < 0)
		return -EINVAL;
	return reg_platform_parse(o->platform_arg, &o->platform) < 0 ? -EINVAL : 0;
}

void cli_opts_usage(FILE *f)
{
	fprintf(f, "registry options:\n"
		   "  --platform OS/ARCH[/VARIANT]  platform to pick from an index (default: this host)\n"
		   "  --insecure            allow plain http and unverified TLS for this registry\n"
		   "  --ca-file FILE        trust the CA certificates in FILE (PEM)\n"
		   "  --username USER       log in as USER (password with --password-stdin)\n"
		   "  --password-stdin      read the password from stdin\n"
		   "  --config PATH         docker config.json to take credentials from\n"
		   "  --timeout SECONDS     give up an operation after this long, retries included (30)\n"
		   "  --retries N           retries of a failed request (4)\n"
		   "  --cache DIR           the cache dir whose tokens/ keeps ECR tokens, as stratafs\n"
		   "                        -o cache=DIR (default /var/cache/stratafs for root)\n"
		   "  -v, --verbose         more messages (twice: debug)\n"
		   "  -q, --quiet           errors only\n"
		   "  -h, --help            this help\n");
}

int cli_client_open(struct cli_opts *o, const char *ref_str, struct reg_ref *ref,
		    struct reg_client **client)
{
	int r = reg_ref_parse(ref_str, ref);

	if (r < 0)
		return r;
	r = reg_client_new(&o->reg, ref, client);
	if (r < 0) {
		log_err("cannot open registry '%s': %s", ref->host, strerror(-r));
		reg_ref_release(ref);
	}
	return r;
}
