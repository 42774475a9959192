/* SPDX-License-Identifier: MIT */
/*
 * The whole-layer check of a layer read through a foreign TOC
 * (fs/layer_check.c runs it once prefetch has read all of the layer). A
 * TOC's chunks are verified one by one, but nothing ties the TOC to the
 * tar it sits in: it could show another tree than `docker pull` unpacks
 * (containers/storage refuses TOC-only pulls for that reason). So the
 * blob is streamed once through idx_build(), which checks the blob digest
 * and the config's diff_id and hands every regular file's content digest
 * (holes as zeros) on the way, and the index it builds is held against
 * the TOC's entry by entry (idx_layer_compare()); the TOC side's contents
 * are read back through the span cache the prefetch filled, so the bytes
 * compared are the bytes the mount serves.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xarray.h"
#include "fs/store_int.h"
#include "index/foreign.h"

#define READ_CHUNK (1u << 20)

struct file_sum {
	char *path;
	uint64_t seq;   /* tar order: of two members of one path the later is live */
	uint8_t sha[DIGEST_SHA256_LEN];
};

struct fcheck {
	struct fs_store *s;
	struct fs_layer *l;
	struct fs_pull *pull;
	struct idx_layer *tar;
	struct file_sum *sums;
	size_t n, cap;
};

static int on_file(void *ctx, const char *path, uint64_t size, const uint8_t sha[DIGEST_SHA256_LEN])
{
	struct fcheck *c = ctx;

	if (xarray_grow_size((void **)&c->sums, &c->cap, c->n, sizeof(*c->sums), 256, SIZE_MAX) < 0)
		return -ENOMEM;
	c->sums[c->n].path = strdup(path);
	if (!c->sums[c->n].path)
		return -ENOMEM;
	c->sums[c->n].seq = c->n;
	memcpy(c->sums[c->n++].sha, sha, DIGEST_SHA256_LEN);
	return 0;
}

/* The pull stream, stopped by an unmount (a whole layer must not hold it up). */
static ssize_t stream(void *ctx, void *buf, size_t n)
{
	struct fcheck *c = ctx;
	bool stop;

	pthread_mutex_lock(&c->s->lock);
	stop = c->s->stop;
	pthread_mutex_unlock(&c->s->lock);
	return stop ? -ECANCELED : fs_pull_read(c->pull, buf, n);
}

static int by_path(const void *a, const void *b)
{
	const struct file_sum *x = a, *y = b;
	int r = strcmp(x->path, y->path);

	return r ? r : x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* The tar side: the last member of that path (sorted by path, then tar order). */
static int tar_sha(const struct fcheck *c, const char *path, uint8_t sha[DIGEST_SHA256_LEN])
{
	size_t lo = 0, hi = c->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(c->sums[mid].path, path) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || strcmp(c->sums[lo - 1].path, path) != 0)
		return -ENOENT;
	memcpy(sha, c->sums[lo - 1].sha, DIGEST_SHA256_LEN);
	return 0;
}

/* The TOC side: what the mount serves for entry @e, through the span cache. */
static int served_sha(struct fcheck *c, const struct idx_entry *e, uint8_t sha[DIGEST_SHA256_LEN])
{
	static const uint8_t zeros[4096];
	struct digest_ctx *dc = NULL;
	uint8_t *buf = malloc(READ_CHUNK);
	uint64_t off = 0;
	int r = buf ? digest_ctx_new(&dc) : -ENOMEM;

	while (r == 0 && off < e->size) {
		uint64_t tar_off, k = idx_entry_map(e, off, READ_CHUNK, &tar_off);
		ssize_t n;

		if (tar_off == UINT64_MAX) {
			k = k < sizeof(zeros) ? k : sizeof(zeros);
			r = digest_ctx_update(dc, zeros, (size_t)k);
		} else {
			n = fs_store_read_tar(c->s, c->l, buf, (size_t)k, tar_off);
			r = n <= 0 ? (n < 0 ? (int)n : -EIO) : digest_ctx_update(dc, buf, (size_t)n);
			k = n > 0 ? (uint64_t)n : k;
		}
		off += k;
	}
	if (r == 0)
		r = digest_ctx_final(dc, sha);
	digest_ctx_free(dc);
	free(buf);
	return r;
}

static int file_sha(void *ctx, const struct idx_layer *l, uint32_t id, uint8_t sha[DIGEST_SHA256_LEN])
{
	struct fcheck *c = ctx;
	const struct idx_entry *e = idx_entry_get(l, id);

	if (!e)
		return -EINVAL;
	return l == c->tar ? tar_sha(c, e->path, sha) : served_sha(c, e, sha);
}

static void release(struct fcheck *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->sums[i].path);
	free(c->sums);
	idx_layer_free(c->tar);
}

int fs_layer_check_foreign(struct fs_store *s, struct fs_layer *l, char *why, size_t why_len)
{
	struct fcheck c = { .s = s, .l = l };
	struct idx_build_opts o = {
		.comp = l->info.comp,
		.blob_digest = l->digest,
		.diff_id = l->diff_id_known ? l->diff_id : NULL,
		.on_file = on_file,
		.on_file_ctx = &c,
	};
	unsigned n_diff = 0;
	uint64_t fetched;
	int r;

	r = fs_pull_open(s->client, l->digest, l->blob_size, &c.pull);
	if (r < 0)
		return r;
	r = idx_build(&o, stream, &c, &c.tar, NULL);
	fetched = fs_pull_close(c.pull);
	pthread_mutex_lock(&s->lock);
	s->build_bytes += fetched;
	pthread_mutex_unlock(&s->lock);
	if (r == -EBADMSG) {
		/* The blob or its tar is not what the manifest and config say. */
		snprintf(why, why_len, "its blob does not stream to a tar with its digests");
		release(&c);
		return 1;
	}
	if (r == 0) {
		if (c.n) /* a layer with no regular file has no table (qsort wants one) */
			qsort(c.sums, c.n, sizeof(*c.sums), by_path);
		r = idx_layer_compare(l->idx, c.tar, file_sha, &c, &n_diff);
	}
	release(&c);
	if (r < 0)
		return r;
	if (n_diff)
		snprintf(why, why_len, "its %s TOC disagrees with its tar on %u entries",
			 l->format ? l->format : "foreign", n_diff);
	return n_diff ? 1 : 0;
}
