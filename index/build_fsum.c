/* SPDX-License-Identifier: MIT */
/*
 * Per-file content digests while idx_build() streams a layer
 * (idx_build_opts.on_file): the sha256 of what a reader of each regular
 * file sees, sparse holes as zeros. The whole-layer check of a foreign TOC
 * holds them against the files the TOC serves.
 *
 * The tar parser reports a member (on_entry) from inside a feed call,
 * before its data, and the data may start in that same chunk; the span
 * builder brackets each feed with idx_fsum_chunk() / idx_fsum_chunk_end(), so a
 * file is hashed from the chunk it lies in whichever call comes first,
 * and never twice (hashed_to).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmath.h"
#include "index/build_int.h"
#include "index/tar_int.h"

#define ZEROS_LEN (64u << 10)

static const uint8_t zeros[ZEROS_LEN];

int idx_fsum_init(struct fsum *f, idx_file_sum_fn fn, void *ctx)
{
	memset(f, 0, sizeof(*f));
	f->fn = fn;
	f->ctx = ctx;
	return digest_ctx_new(&f->sha);
}

void idx_fsum_release(struct fsum *f)
{
	digest_ctx_free(f->sha);
	free(f->path);
	free(f->ext);
	memset(f, 0, sizeof(*f));
}

/* Zeros up to apparent offset @to (a hole). */
static int zeros_to(struct fsum *f, uint64_t to)
{
	int r = 0;

	while (r == 0 && f->apparent < to) {
		size_t n = (size_t)XMIN((uint64_t)ZEROS_LEN, to - f->apparent);

		r = digest_ctx_update(f->sha, zeros, n);
		f->apparent += n;
	}
	return r;
}

/* @n stored bytes at @p, the next ones of the open file. */
static int stored(struct fsum *f, const uint8_t *p, size_t n)
{
	int r = 0;

	while (r == 0 && n) {
		uint64_t take = n;

		if (f->n_ext) {
			/* Skip extents already done; then the hole before this one. */
			while (f->ei < f->n_ext && f->in_ext == f->ext[f->ei].len) {
				f->ei++;
				f->in_ext = 0;
			}
			if (f->ei == f->n_ext)
				return -EBADMSG;
			r = zeros_to(f, f->ext[f->ei].off + f->in_ext);
			take = XMIN(take, f->ext[f->ei].len - f->in_ext);
			f->in_ext += take;
		}
		if (r == 0)
			r = digest_ctx_update(f->sha, p, (size_t)take);
		f->apparent += take;
		p += take;
		n -= (size_t)take;
	}
	return r;
}

static int finish_file(struct fsum *f)
{
	uint8_t sha[DIGEST_SHA256_LEN];
	int r = zeros_to(f, f->size);

	f->open = false;
	if (r == 0)
		r = digest_ctx_final(f->sha, sha);
	if (r == 0)
		r = f->fn(f->ctx, f->path, f->size, sha);
	return r;
}

/* The part of the open file in the current chunk, up to its end. */
static int hash_chunk(struct fsum *f)
{
	uint64_t c0 = f->chunk_off, c1 = f->chunk_off + f->chunk_len;
	uint64_t from = XMAX(f->hashed_to, c0), to = XMIN(f->end, c1);
	int r = 0;

	if (!f->open)
		return 0;
	if (from < to) {
		r = stored(f, f->chunk + (from - c0), (size_t)(to - from));
		f->hashed_to = to;
	}
	if (r == 0 && f->hashed_to == f->end)
		r = finish_file(f);
	return r;
}

void idx_fsum_chunk(struct fsum *f, const void *p, size_t n, uint64_t u_off)
{
	f->chunk = p;
	f->chunk_len = n;
	f->chunk_off = u_off;
}

int idx_fsum_chunk_end(struct fsum *f)
{
	int r = hash_chunk(f);

	f->chunk = NULL;
	f->chunk_len = 0;
	return r;
}

int idx_fsum_entry(struct fsum *f, const struct tar_entry *e)
{
	uint64_t len = e->size;
	int r = hash_chunk(f);

	/* The previous member's data ends before this header: it must be done. */
	if (r == 0 && f->open)
		r = -EBADMSG;
	if (r < 0 || e->type != IDX_T_REG)
		return r;
	free(f->path);
	free(f->ext);
	f->ext = NULL;
	f->n_ext = 0;
	f->path = strdup(e->path);
	if (!f->path)
		return -ENOMEM;
	if (e->sparse) {
		len = 0;
		f->ext = malloc(((size_t)e->n_extents + 1) * sizeof(*f->ext));
		if (!f->ext)
			return -ENOMEM;
		if (e->n_extents) /* an all-hole file may have no extent table */
			memcpy(f->ext, e->extents, (size_t)e->n_extents * sizeof(*f->ext));
		f->n_ext = e->n_extents;
		for (uint32_t i = 0; i < e->n_extents; i++)
			len += e->extents[i].len;
	}
	r = digest_ctx_reset(f->sha);
	if (r < 0)
		return r;
	f->open = true;
	f->size = e->size;
	f->apparent = 0;
	f->ei = 0;
	f->in_ext = 0;
	f->hashed_to = e->data_off;
	f->end = e->data_off + len;
	return f->end == f->hashed_to ? finish_file(f) : hash_chunk(f);
}
