/* SPDX-License-Identifier: MIT */
/*
 * gzip members for the writer, compressed in parallel. Members are
 * independent by construction (one per span), so each is deflated in one
 * call from its whole input, by whichever worker is free; the writer takes
 * them back in order. One-shot deflate of the same bytes gives the same
 * member whatever the number of threads (none included): the blob does not
 * depend on the machine's CPU count.
 *
 * Slots form a ring: the writer fills slot `cur`, submits it, and before
 * reusing a slot retires it (waits for it, hands it to the caller's retire
 * callback). Memory: n_slots x (span + deflateBound(span)).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "index/writer_int.h"

enum { SLOT_FREE, SLOT_QUEUED, SLOT_RUNNING, SLOT_DONE };

struct gz_slot {
	uint8_t *in, *out;
	size_t in_len, out_len, out_cap;
	uint64_t seq;
	int state; /* protected by pool->lock */
	int err;
};

struct gz_pool {
	int level;
	size_t span;
	unsigned n_threads;
	pthread_t *threads;
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	bool stop; /* protected by lock */
	struct gz_slot *slots;
	unsigned n_slots, cur, oldest;
	uint64_t seq;
	z_stream zs; /* for n_threads == 0 */
	bool zs_ready;
};

static int deflate_member(z_stream *zs, struct gz_slot *s)
{
	gz_header h = { .os = 255 }; /* no name, mtime 0: the same bytes on every host */

	if (deflateReset(zs) != Z_OK || deflateSetHeader(zs, &h) != Z_OK)
		return -EIO;
	zs->next_in = s->in;
	zs->avail_in = (uInt)s->in_len;
	zs->next_out = s->out;
	zs->avail_out = (uInt)s->out_cap;
	if (deflate(zs, Z_FINISH) != Z_STREAM_END)
		return -EIO;
	s->out_len = s->out_cap - zs->avail_out;
	return 0;
}

static struct gz_slot *next_queued(struct gz_pool *p)
{
	struct gz_slot *best = NULL;

	for (unsigned i = 0; i < p->n_slots; i++)
		if (p->slots[i].state == SLOT_QUEUED && (!best || p->slots[i].seq < best->seq))
			best = &p->slots[i];
	return best;
}

static void *worker(void *arg)
{
	struct gz_pool *p = arg;
	struct gz_slot *s = NULL;
	z_stream zs = { 0 };
	int ok = deflateInit2(&zs, p->level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) == Z_OK;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->stop && !(s = next_queued(p)))
			pthread_cond_wait(&p->work, &p->lock);
		if (p->stop)
			break;
		s->state = SLOT_RUNNING;
		pthread_mutex_unlock(&p->lock);
		s->err = ok ? deflate_member(&zs, s) : -ENOMEM;
		pthread_mutex_lock(&p->lock);
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	if (ok)
		deflateEnd(&zs);
	return NULL;
}

int idx_gz_pool_new(int level, size_t span, unsigned threads, struct gz_pool **out)
{
	struct gz_pool *p = calloc(1, sizeof(*p));
	size_t bound;

	if (!p)
		return -ENOMEM;
	p->level = level;
	p->span = span;
	/* two slots per worker keep them busy while the writer retires; memory bounded */
	p->n_slots = threads > 1 ? 2 * threads : 1;
	while (p->n_slots > 2 && (uint64_t)p->n_slots * span > (256u << 20))
		p->n_slots--;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	p->slots = calloc(p->n_slots, sizeof(*p->slots));
	if (!p->slots)
		goto out_free;
	bound = compressBound((uLong)span) + 64; /* + gzip header and trailer */
	for (unsigned i = 0; i < p->n_slots; i++) {
		p->slots[i].in = malloc(span);
		p->slots[i].out = malloc(bound);
		p->slots[i].out_cap = bound;
		if (!p->slots[i].in || !p->slots[i].out)
			goto out_free;
	}
	if (threads <= 1) {
		if (deflateInit2(&p->zs, level, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
			goto out_free;
		p->zs_ready = true;
	} else {
		p->threads = calloc(threads, sizeof(*p->threads));
		if (!p->threads)
			goto out_free;
		for (; p->n_threads < threads; p->n_threads++)
			if (pthread_create(&p->threads[p->n_threads], NULL, worker, p) != 0)
				break;
		if (p->n_threads == 0)
			goto out_free;
	}
	*out = p;
	return 0;
out_free:
	idx_gz_pool_free(p);
	return -ENOMEM;
}

void idx_gz_pool_free(struct gz_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->n_threads; i++)
		pthread_join(p->threads[i], NULL);
	if (p->zs_ready)
		deflateEnd(&p->zs);
	for (unsigned i = 0; p->slots && i < p->n_slots; i++) {
		free(p->slots[i].in);
		free(p->slots[i].out);
	}
	free(p->slots);
	free(p->threads);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

/* The slot being filled: its buffer and what it holds. */
uint8_t *idx_gz_pool_buf(struct gz_pool *p, size_t **len)
{
	*len = &p->slots[p->cur].in_len;
	return p->slots[p->cur].in;
}

static bool slot_free(struct gz_pool *p, unsigned i)
{
	bool f;

	pthread_mutex_lock(&p->lock);
	f = p->slots[i].state == SLOT_FREE;
	pthread_mutex_unlock(&p->lock);
	return f;
}

/* Wait for the oldest submitted member and hand it over. */
static int retire_one(struct gz_pool *p, gz_retire_fn retire, void *ctx)
{
	struct gz_slot *s = &p->slots[p->oldest];
	int r;

	pthread_mutex_lock(&p->lock);
	while (s->state != SLOT_DONE)
		pthread_cond_wait(&p->done, &p->lock);
	pthread_mutex_unlock(&p->lock);
	r = s->err ? s->err : retire(ctx, s->in, s->in_len, s->out, s->out_len);
	s->in_len = 0;
	pthread_mutex_lock(&p->lock);
	s->state = SLOT_FREE;
	pthread_mutex_unlock(&p->lock);
	p->oldest = (p->oldest + 1) % p->n_slots;
	return r;
}

int idx_gz_pool_submit(struct gz_pool *p, gz_retire_fn retire, void *ctx)
{
	struct gz_slot *s = &p->slots[p->cur];

	s->seq = p->seq++;
	if (p->n_threads == 0) {
		s->err = deflate_member(&p->zs, s);
		pthread_mutex_lock(&p->lock);
		s->state = SLOT_DONE;
		pthread_mutex_unlock(&p->lock);
	} else {
		pthread_mutex_lock(&p->lock);
		s->state = SLOT_QUEUED;
		pthread_cond_signal(&p->work);
		pthread_mutex_unlock(&p->lock);
	}
	p->cur = (p->cur + 1) % p->n_slots;
	/* the next slot to fill must be free: retire what still holds it */
	if (!slot_free(p, p->cur))
		return retire_one(p, retire, ctx);
	return 0;
}

int idx_gz_pool_drain(struct gz_pool *p, gz_retire_fn retire, void *ctx)
{
	int r = 0;

	while (r == 0 && !slot_free(p, p->oldest))
		r = retire_one(p, retire, ctx);
	return r;
}
