/* SPDX-License-Identifier: MIT */
/*
 * The local layer opener that `strata ls` and `strata cat` share: a layer
 * blob on disk (.tar, .tar.gz, .tar.zst, sniffed), its index built in
 * memory by streaming the file once or loaded from a saved index, and the
 * tree of that one layer (whiteouts shown as the ".wh.*" files they are).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/dbuf.h"
#include "common/log.h"
#include "index/index.h"
#include "tools/local_layer.h"

struct cli_local {
	int fd;
	struct idx_layer *layer;
	struct idx_tree *tree;
	struct idx_reader reader;
};

static ssize_t fd_read(void *ctx, void *buf, size_t n)
{
	const int *fd = ctx;
	ssize_t r;

	do {
		r = read(*fd, buf, n);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static ssize_t fd_read_at(void *ctx, void *buf, size_t n, uint64_t off)
{
	const struct cli_local *c = ctx;
	ssize_t r;

	do {
		r = pread(c->fd, buf, n, (off_t)off);
	} while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

static int load_index(const char *path, struct idx_layer **out)
{
	struct dbuf b;
	char chunk[65536];
	int fd, r = 0;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		log_err("cannot open index '%s': %s", path, strerror(errno));
		return -errno;
	}
	dbuf_init(&b, IDX_MAX_FILE_SIZE);
	while (r == 0 && (n = fd_read(&fd, chunk, sizeof(chunk))) > 0)
		r = dbuf_add(&b, chunk, (size_t)n);
	if (r == 0 && n < 0)
		r = (int)n;
	if (r < 0) {
		log_err("cannot read index '%s': %s", path, strerror(-r));
	} else {
		/* -EFBIG here is an index declaring more than its layer holds: name the file */
		r = idx_load(b.data ? b.data : "", b.len, out);
		if (r < 0 && r != -ENOMEM && b.len)
			log_err("cannot load index '%s': %s", path, strerror(-r));
	}
	dbuf_release(&b);
	close(fd);
	return r;
}

int cli_local_open(const char *file, const char *index_file, struct cli_local **out)
{
	struct idx_build_opts o = { .comp = IDX_COMP_AUTO };
	struct cli_local *c;
	int r;

	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->fd = open(file, O_RDONLY | O_CLOEXEC);
	if (c->fd < 0) {
		r = -errno;
		log_err("cannot open '%s': %s", file, strerror(errno));
		goto out_free;
	}
	if (index_file)
		r = load_index(index_file, &c->layer);
	else
		r = idx_build(&o, fd_read, &c->fd, &c->layer, NULL);
	if (r < 0) {
		if (!index_file)
			log_err("cannot index '%s': %s", file, strerror(-r));
		goto out_close;
	}
	r = idx_tree_build((const struct idx_layer *const *)&c->layer, 1, IDX_TREE_KEEP_WHITEOUTS,
			   &c->tree);
	if (r < 0) {
		log_err("cannot build the tree of '%s': %s", file, strerror(-r));
		goto out_free_layer;
	}
	c->reader = (struct idx_reader){ .ctx = c, .read_at = fd_read_at };
	*out = c;
	return 0;
out_free_layer:
	idx_layer_free(c->layer);
out_close:
	close(c->fd);
out_free:
	free(c);
	return r;
}

void cli_local_close(struct cli_local *c)
{
	if (!c)
		return;
	idx_tree_free(c->tree);
	idx_layer_free(c->layer);
	close(c->fd);
	free(c);
}

const struct idx_tree *cli_local_tree(const struct cli_local *c)
{
	return c->tree;
}

const struct idx_layer *cli_local_layer(const struct cli_local *c)
{
	return c->layer;
}

const struct idx_reader *cli_local_reader(const struct cli_local *c)
{
	return &c->reader;
}
