/* SPDX-License-Identifier: MIT */
/* Push parser of a layer's uncompressed tar stream (stub: the contract in tar_int.h lands first). */
#include <errno.h>
#include <stdlib.h>

#include "index/tar_int.h"

struct tar_parser {
	int dummy;
};

int tar_parser_new(const struct tar_callbacks *cb, void *ctx, struct tar_parser **out)
{
	(void)cb;
	(void)ctx;
	(void)out;
	return -ENOSYS;
}

int tar_parser_feed(struct tar_parser *p, const void *buf, size_t n)
{
	(void)p;
	(void)buf;
	(void)n;
	return -ENOSYS;
}

int tar_parser_finish(struct tar_parser *p)
{
	(void)p;
	return -ENOSYS;
}

uint64_t tar_parser_offset(const struct tar_parser *p)
{
	(void)p;
	return 0;
}

uint64_t tar_parser_count(const struct tar_parser *p)
{
	(void)p;
	return 0;
}

void tar_parser_free(struct tar_parser *p)
{
	free(p);
}

int tar_path_normalise(const char *in, size_t len, char *out, size_t out_size)
{
	(void)in;
	(void)len;
	(void)out;
	(void)out_size;
	return -ENOSYS;
}
