/* SPDX-License-Identifier: MIT */
/*
 * strata blob REF DIGEST [--range A-B] [-o FILE]: write a blob, or the
 * inclusive byte range A-B (A- : to the end), to stdout or FILE. A whole
 * blob is streamed and sha256-verified; on a mismatch the exit status is 1,
 * and with -o nothing is left behind (the bytes go to a temporary file in
 * FILE's directory, renamed into place only once verified). Ranges are not
 * verifiable (no digest covers them) and are written as received.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fdio.h"
#include "common/dbuf.h"
#include "common/log.h"
#include "tools/cli.h"
#include "tools/cli_opts.h"

enum { OPT_RANGE = CLI_OPT_CMD_BASE };

#define RANGE_CHUNK (4u << 20)

struct out {
	const char *path; /* NULL: stdout */
	char *tmp;
	int fd;
};

static int write_all(void *ctx, const void *buf, size_t n)
{
	struct out *o = ctx;
	int r = fd_write_all(o->fd, buf, n);

	if (r < 0)
		log_err("cannot write '%s': %s", o->path ? o->path : "stdout", strerror(-r));
	return r;
}

static int out_open(struct out *o)
{
	struct dbuf b;

	o->fd = STDOUT_FILENO;
	if (!o->path)
		return 0;
	dbuf_init(&b, 8192);
	if (dbuf_printf(&b, "%s.tmp.XXXXXX", o->path) < 0) {
		dbuf_release(&b);
		return -ENAMETOOLONG;
	}
	o->tmp = dbuf_take(&b, NULL);
	if (!o->tmp)
		return -ENOMEM;
	o->fd = mkostemp(o->tmp, O_CLOEXEC);
	if (o->fd < 0) {
		int e = errno;

		log_err("cannot create '%s': %s", o->tmp, strerror(e));
		free(o->tmp);
		o->tmp = NULL;
		return -e;
	}
	return 0;
}

/* Rename into place when @ok, else remove the temporary file. */
static int out_close(struct out *o, bool ok)
{
	int r = 0;

	if (!o->path)
		return 0;
	if (o->fd >= 0 && close(o->fd) < 0 && ok) {
		log_err("cannot write '%s': %s", o->path, strerror(errno));
		ok = false;
	}
	o->fd = -1;
	if (ok && rename(o->tmp, o->path) < 0) {
		log_err("cannot rename '%s' to '%s': %s", o->tmp, o->path, strerror(errno));
		ok = false;
	}
	if (!ok) {
		unlink(o->tmp);
		r = -EIO;
	}
	free(o->tmp);
	o->tmp = NULL;
	return r;
}

static int parse_range(const char *s, uint64_t *a, uint64_t *b, bool *open_end)
{
	char *end = NULL;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end != '-')
		return -EINVAL;
	*a = v;
	*open_end = end[1] == '\0';
	if (*open_end)
		return 0;
	if (end[1] < '0' || end[1] > '9')
		return -EINVAL;
	v = strtoull(end + 1, &end, 10);
	if (errno || *end || v < *a)
		return -EINVAL;
	*b = v;
	return 0;
}

/*
 * A read at @off answered with no byte: the blob's end (a 200 for the whole
 * blob, nothing left past the skip) or an empty 206, which is no answer.
 * The blob's size tells; without it (a registry refusing HEAD) it is the end.
 */
static int empty_answer(struct reg_client *c, const char *digest, uint64_t off)
{
	uint64_t size;

	if (reg_blob_head(c, digest, &size) == 0 && size > off) {
		log_err("the registry sent no byte at offset %" PRIu64 " of blob '%s' (%" PRIu64
			" bytes)", off, digest, size);
		return -EIO;
	}
	return 0;
}

static int copy_range(struct reg_client *c, const char *digest, uint64_t a, uint64_t b,
		      bool open_end, struct out *o)
{
	char *buf = malloc(RANGE_CHUNK);
	uint64_t off = a;
	int r = 0;

	if (!buf)
		return -ENOMEM;
	while (open_end || off <= b) {
		size_t want = RANGE_CHUNK;
		ssize_t got;

		if (!open_end && b - off + 1 < want)
			want = (size_t)(b - off + 1);
		got = reg_blob_read(c, digest, buf, want, off);
		if (got == -ERANGE && off > a)
			break; /* the previous chunk ended exactly at the end */
		if (got < 0) {
			r = (int)got;
			if (r == -ERANGE)
				log_err("range %" PRIu64 "- is beyond the end of blob '%s'", off, digest);
			break;
		}
		r = write_all(o, buf, (size_t)got);
		if (r < 0)
			break;
		off += (uint64_t)got;
		/* a short answer is the blob's end or a short 206: the next read tells (416 at the end) */
		if (got == 0) {
			r = empty_answer(c, digest, off);
			break;
		}
	}
	free(buf);
	return r;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: strata blob REF DIGEST [--range A-B] [-o FILE] [registry options]\n\n"
		   "Write blob DIGEST of REF's repository to stdout or FILE. A whole blob is\n"
		   "verified against DIGEST; a range (inclusive, A- to the end) is not.\n\n"
		   "  --range A-B           only bytes A to B\n"
		   "  -o, --output FILE     write to FILE (not left behind on failure)\n");
	cli_opts_usage(f);
}

static int run(struct cli_opts *opts, const char *ref_str, const char *digest, const char *range,
	       const char *path)
{
	struct out o = { .path = path, .fd = -1 };
	struct reg_client *c = NULL;
	struct reg_ref ref = { 0 };
	uint64_t a = 0, b = 0;
	bool open_end = false;
	int r;

	if (range && parse_range(range, &a, &b, &open_end) < 0) {
		log_err("invalid range '%s': want A-B or A-", range);
		return CLI_USAGE;
	}
	if (!digest_is_valid(digest)) {
		log_err("invalid digest '%s'", digest);
		return CLI_USAGE;
	}
	r = cli_client_open(opts, ref_str, &ref, &c);
	if (r < 0)
		return r == -EINVAL ? CLI_USAGE : CLI_FAIL;
	r = out_open(&o);
	if (r == 0 && range)
		r = copy_range(c, digest, a, b, open_end, &o);
	else if (r == 0)
		r = reg_blob_stream(c, digest, write_all, &o);
	if (r == -EBADMSG && !range)
		log_err("blob '%s' failed verification%s", digest, path ? ": output removed" : "");
	if (out_close(&o, r == 0) < 0)
		r = r ? r : -EIO;
	reg_client_free(c);
	reg_ref_release(&ref);
	return r == 0 ? CLI_OK : CLI_FAIL;
}

int cmd_blob(int argc, char **argv)
{
	static const struct option own[] = {
		{ "range", required_argument, NULL, OPT_RANGE },
		{ "output", required_argument, NULL, 'o' },
	};
	struct option lo[CLI_OPTS_NLONG + 3];
	const char *range = NULL, *path = NULL;
	struct cli_opts o;
	int c, ret;

	cli_opts_init(&o);
	cli_opts_longopts(lo, own, 2);
	optind = 1;
	while ((c = getopt_long(argc, argv, CLI_OPTS_SHORT "o:", lo, NULL)) != -1) {
		if (c == OPT_RANGE)
			range = optarg;
		else if (c == 'o')
			path = optarg;
		else if (cli_opts_handle(&o, c, optarg) < 0)
			goto out_usage;
	}
	if (cli_opts_finish(&o) < 0)
		goto out_usage;
	if (o.help) {
		usage(stdout);
		cli_opts_release(&o);
		return CLI_OK;
	}
	if (argc - optind != 2)
		goto out_usage;
	ret = run(&o, argv[optind], argv[optind + 1], range, path);
	if (ret == CLI_USAGE)
		usage(stderr);
	cli_opts_release(&o);
	return ret;
out_usage:
	usage(stderr);
	cli_opts_release(&o);
	return CLI_USAGE;
}
