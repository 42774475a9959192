/* SPDX-License-Identifier: MIT */
/*
 * Squash: the base's layers and a new top layer merged (whiteouts and
 * opaque dirs applied, by index/tree.c) and written as ONE layer holding
 * the whole tree. Every byte copied is read through the layers' indexes
 * from verified local copies of the blobs, so the squashed layer is
 * exactly what a mount of the unsquashed image shows.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "tools/dir_layer.h"
#include "tools/image_push.h"

#define COPY_CHUNK (1u << 20)

struct squash {
	const struct idx_tree *t;
	const struct idx_layer **layers;
	int *fds;
	struct idx_writer *w;
	char **first;   /* by inode: the path a multiply-linked file was written at */
	uint8_t *buf;
	char path[IDX_MAX_PATH + 1];
};

static ssize_t fd_read_at(void *ctx, void *buf, size_t n, uint64_t off)
{
	ssize_t k = pread(*(int *)ctx, buf, n, (off_t)off);

	return k < 0 ? -errno : k;
}

static int copy_file(struct squash *sq, const struct idx_node *node)
{
	struct idx_reader rd = { .ctx = &sq->fds[node->layer], .read_at = fd_read_at };
	const struct idx_layer *l = sq->layers[node->layer];
	uint64_t off = 0;
	ssize_t k;
	int r = 0;

	while (r == 0 && off < node->size) {
		k = idx_file_read(l, node->entry, &rd, sq->buf, COPY_CHUNK, off);
		if (k <= 0) {
			r = k < 0 ? (int)k : -EBADMSG;
			break;
		}
		r = idx_writer_data(sq->w, sq->buf, (size_t)k);
		off += (uint64_t)k;
	}
	if (r < 0)
		log_err("cannot copy '%s' into the squashed layer: %s", sq->path, strerror(-r));
	return r;
}

/* @node (at sq->path, @len bytes long) and everything under it, parents first. */
static int emit(struct squash *sq, const struct idx_node *node, size_t len)
{
	const struct idx_entry *src = idx_tree_entry(sq->t, node);
	const struct idx_node *child;
	struct idx_entry e = { .type = node->type, .mode = src->mode, .uid = src->uid,
			       .gid = src->gid, .mtime_sec = src->mtime_sec,
			       .mtime_nsec = src->mtime_nsec, .dev_major = src->dev_major,
			       .dev_minor = src->dev_minor, .path = sq->path,
			       .n_xattrs = src->n_xattrs, .xattrs = src->xattrs };
	size_t clen;
	int r;

	if (node->type == IDX_T_REG)
		e.size = node->size;
	else if (node->type == IDX_T_SYMLINK)
		e.link = src->link;
	if (node->type != IDX_T_DIR && node->nlink > 1) {
		if (sq->first[node->ino]) {
			e = (struct idx_entry){ .type = IDX_T_HARDLINK, .path = sq->path,
						.link = sq->first[node->ino], .mode = src->mode,
						.uid = src->uid, .gid = src->gid,
						.mtime_sec = src->mtime_sec,
						.mtime_nsec = src->mtime_nsec };
		} else if (!(sq->first[node->ino] = strdup(sq->path))) {
			return -ENOMEM;
		}
	}
	r = idx_writer_add(sq->w, &e);
	if (r == 0 && e.type == IDX_T_REG && e.size)
		r = copy_file(sq, node);
	for (uint32_t pos = 0; r == 0 && node->type == IDX_T_DIR; pos++) {
		r = idx_tree_child(sq->t, node->ino, pos, &child);
		if (r == -ENOENT)
			return 0;
		clen = len + (len ? 1 : 0) + strlen(child->name);
		if (r == 0 && clen > IDX_MAX_PATH)
			r = -ENAMETOOLONG;
		if (r < 0)
			break;
		snprintf(sq->path + len, sizeof(sq->path) - len, "%s%s", len ? "/" : "", child->name);
		r = emit(sq, child, clen);
		sq->path[len] = '\0';
	}
	return r;
}

static int write_tree(struct squash *sq, const struct idx_writer_opts *wo, int *fd,
		      struct idx_layer **out)
{
	uint64_t n = idx_tree_count(sq->t);
	int r;

	sq->first = calloc(n + 1, sizeof(*sq->first));
	sq->buf = malloc(COPY_CHUNK);
	*fd = tmp_file();
	if (!sq->first || !sq->buf || *fd < 0)
		r = *fd < 0 ? *fd : -ENOMEM;
	else
		r = idx_writer_new(wo, sink_fd, fd, &sq->w);
	if (r == 0)
		r = emit(sq, idx_tree_node(sq->t, IDX_ROOT_INO), 0);
	if (r == 0)
		r = idx_writer_finish(sq->w, out);
	idx_writer_free(sq->w);
	for (uint64_t i = 0; sq->first && i <= n; i++)
		free(sq->first[i]);
	free(sq->first);
	free(sq->buf);
	return r;
}

int image_squash(struct image_push *ip, const struct idx_writer_opts *wo, int top_fd,
		 const struct idx_layer *top, int *fd, struct idx_layer **out)
{
	size_t nb = ip->bm ? ip->bm->n_layers : 0, n = nb + 1;
	struct squash sq = { 0 };
	struct idx_tree *t = NULL;
	struct idx_layer **owned = calloc(n, sizeof(*owned));
	int r = 0;

	sq.layers = calloc(n, sizeof(*sq.layers));
	sq.fds = malloc(n * sizeof(*sq.fds));
	*fd = -1;
	for (size_t i = 0; sq.fds && i < n; i++)
		sq.fds[i] = -1;
	if (!owned || !sq.layers || !sq.fds) {
		r = -ENOMEM;
		goto out_free;
	}
	sq.fds[nb] = top_fd;
	log_info("squashing %zu layer(s) into one", n);
	for (size_t i = 0; r == 0 && i < nb; i++) {
		r = image_base_layer_local(ip, i, &sq.fds[i], &owned[i]);
		sq.layers[i] = owned[i];
	}
	sq.layers[nb] = top;
	if (r == 0)
		r = idx_tree_build(sq.layers, n, 0, &t);
	sq.t = t;
	if (r == 0)
		r = write_tree(&sq, wo, fd, out);
	if (r < 0 && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	if (r < 0)
		log_err("cannot squash the layers: %s", strerror(-r));
out_free:
	for (size_t i = 0; owned && sq.fds && i < nb; i++) {
		idx_layer_free(owned[i]);
		if (sq.fds[i] >= 0)
			close(sq.fds[i]);
	}
	idx_tree_free(t);
	free(owned);
	free(sq.layers);
	free(sq.fds);
	return r;
}
