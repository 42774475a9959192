/* SPDX-License-Identifier: MIT */
/*
 * A forward pass over the spans of a zstd layer: one streaming decoder
 * that produces span after span, each compressed byte decoded once.
 *
 * zstd restarts only at frame starts (its checkpoints). In a layer written
 * as one frame (the zstd CLI, BuildKit and most writers do that) a span
 * past the first one decodes from the frame start, so reading spans one by
 * one on their own costs the whole prefix each time (quadratic). A pass
 * keeps the decoder where the last span ended instead; the daemon
 * (fs/zstream.c) keeps one per layer.
 *
 * The compressed bytes come from @feed, in order from the offset
 * idx_zpass_seek() returned, in chunks of any size: each call hands the
 * next chunk, which stays valid until the following call.
 *
 * Not thread-safe: one pass, one thread at a time.
 */
#ifndef INDEX_ZPASS_H
#define INDEX_ZPASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "index/index.h"

/* The next compressed bytes: 0 with *buf and *len set (len 0: end of blob), or -errno. */
typedef int (*idx_zfeed_fn)(void *ctx, const uint8_t **buf, size_t *len);

struct idx_zpass;

/*
 * Does @l need passes: zstd with at least one span that decodes from a
 * checkpoint before its start (a frame bigger than a span)?
 */
bool idx_zpass_wanted(const struct idx_layer *l);

int idx_zpass_new(const struct idx_layer *l, idx_zfeed_fn feed, void *ctx,
		  struct idx_zpass **out);
void idx_zpass_free(struct idx_zpass *z);

/*
 * The checkpoint span @id decodes from: the first span it starts (*first,
 * <= @id) and its compressed offset (*c_off), where a pass that is to
 * produce @id must start (idx_zpass_seek()).
 */
int idx_zpass_origin(const struct idx_layer *l, uint32_t id, uint32_t *first, uint64_t *c_off);
/* Restart the decoder there: the next span produced is *first. */
int idx_zpass_seek(struct idx_zpass *z, uint32_t id, uint32_t *first, uint64_t *c_off);

/*
 * Decode the next span into @out (its u_len bytes, @out_len at least);
 * *id says which. Not verified: see idx_span_verify(). -EBADMSG on corrupt
 * or short input, -ERANGE past the last span.
 */
int idx_zpass_next(struct idx_zpass *z, void *out, size_t out_len, uint32_t *id);

/*
 * The decoder's own memory (window and buffers) once the frame header has
 * been read, 0 before; a window over the format's limit fails the pass.
 */
size_t idx_zpass_mem(const struct idx_zpass *z);

/* Does @buf (span @id's u_len bytes) hash to the span's sha256? 0 or -EBADMSG. */
int idx_span_verify(const struct idx_layer *l, uint32_t id, const void *buf, size_t len);

#endif
