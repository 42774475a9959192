/* SPDX-License-Identifier: MIT */
/*
 * The fetching side of the store's reads (fs/fetch.c has the reader's):
 * claiming runs of ABSENT spans, queueing them for the workers, and a
 * worker's run: ONE reg_blob_read (one Range request) for the run, each
 * span decoded and verified (idx_span_decode) into the buffer that then
 * stays hot, written to the cache and ended (fs_span_end): PRESENT, or
 * ABSENT with err set when it failed (its waiters return -EIO; the next
 * reader tries again: no poisoned state).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "fs/store_int.h"

/* ---- claiming and queueing (s->lock held) ----------------------------- */

/*
 * A run is one span at least; more while its compressed bytes stay under
 * FS_RUN_MAX_C and its need (compressed bytes + one decoded span) under
 * half the budget, so that two jobs run at once: on 4 MiB spans decoding
 * is what bounds a cold read, and two decoders keep both cores of a small
 * builder busy.
 */
uint32_t fs_claim_run(struct fs_store *s, struct fs_layer *l, uint32_t first, uint32_t last)
{
	uint64_t cap = s->cache_failing ? 0 : FS_RUN_MAX_C, c0 = 0, c1 = 0, u = 0;
	struct idx_span sp;
	uint32_t id, count = 0;

	if (fs_zs_layer(l)) {
		/* one forward pass produces them (fs/zstream.c), nothing to claim here */
		if (first < l->info.n_spans && l->spans[first].state == FS_SP_ABSENT)
			fs_zs_want(s, l, first, last);
		return 0;
	}
	for (id = first; id <= last && id < l->info.n_spans; id++) {
		struct fs_span_st *st = &l->spans[id];

		if (st->state != FS_SP_ABSENT || st->hot || idx_span_get(l->idx, id, &sp) < 0)
			break;
		if (count == 0)
			c0 = sp.c_start;
		c1 = sp.c_end > c1 ? sp.c_end : c1;
		u = sp.u_len > u ? sp.u_len : u;
		if (count && (c1 - c0 > cap || c1 - c0 + u > s->mem_max / 2))
			break;
		st->state = FS_SP_BUSY;
		count++;
	}
	return count;
}

static void unclaim(struct fs_layer *l, uint32_t first, uint32_t count)
{
	for (uint32_t id = first; id < first + count; id++) {
		l->spans[id].state = FS_SP_ABSENT;
		l->spans[id].gen++;
	}
}

/* Queue a run claimed by a reader and wake a worker; locked. */
int fs_job_push(struct fs_store *s, struct fs_layer *l, uint32_t first, uint32_t count)
{
	struct fs_job *j = calloc(1, sizeof(*j));

	if (!j) {
		unclaim(l, first, count);
		pthread_cond_broadcast(&s->done);
		return -ENOMEM;
	}
	j->l = l;
	j->first = first;
	j->count = count;
	fs_run_size(l, first, count, &j->cbytes, &j->umax);
	if (s->jobs_tail)
		s->jobs_tail->next = j;
	else
		s->jobs = j;
	s->jobs_tail = j;
	pthread_cond_signal(&s->work);
	if (s->running >= s->n_workers)
		pthread_cond_broadcast(&s->room); /* a parked pass gives its worker up */
	return 0;
}

/* ---- the worker side -------------------------------------------------- */

void fs_span_end(struct fs_store *s, struct fs_layer *l, uint32_t id, int r, struct fs_hot *h,
		 bool cached, bool bg, uint64_t u)
{
	struct fs_span_st *st = &l->spans[id];
	bool touch_index = false;

	pthread_mutex_lock(&s->lock);
	if (u)
		fs_mem_buf_put(s, u); /* before the insert: not counted twice */
	st->gen++;
	if (r == 0) {
		st->state = cached ? FS_SP_PRESENT : FS_SP_ABSENT;
		st->err = 0;
		st->touched = (uint32_t)(fs_now_us() / 1000000u);
		touch_index = cached;
		l->spans_fetched++;
		s->cache_failing = !cached;
		if (!cached || !bg) {
			fs_hot_insert(s, l, id, h, st->waiters);
			h = NULL;
		}
	} else {
		st->state = FS_SP_ABSENT;
		st->err = -EIO;
		l->errors++;
	}
	fs_mem_buf_recycle(s, h);
	pthread_cond_broadcast(&s->done);
	pthread_mutex_unlock(&s->lock);
	if (touch_index)
		fs_layer_touch_index(s, l); /* as new as the newest span it serves */
}

void fs_span_publish(struct fs_store *s, struct fs_layer *l, uint32_t id, struct fs_hot *h)
{
	struct fs_span_st *st = &l->spans[id];

	pthread_mutex_lock(&s->lock);
	st->gen++; /* wait_span()'s waiters look again: at the hot copy */
	st->err = 0;
	l->spans_fetched++;
	fs_hot_insert(s, l, id, h, st->waiters);
	h->refs++; /* ours until settled: evicted meanwhile, it is freed by our unref */
	pthread_cond_broadcast(&s->done);
	pthread_mutex_unlock(&s->lock);
}

void fs_span_settle(struct fs_store *s, struct fs_layer *l, uint32_t id, struct fs_hot *h,
		    uint64_t u, bool cached)
{
	struct fs_span_st *st = &l->spans[id];

	pthread_mutex_lock(&s->lock);
	fs_mem_buf_put(s, u);
	st->gen++;
	st->state = cached ? FS_SP_PRESENT : FS_SP_ABSENT;
	st->touched = (uint32_t)(fs_now_us() / 1000000u);
	s->cache_failing = !cached;
	fs_hot_unuse(h);
	pthread_cond_broadcast(&s->done);
	pthread_mutex_unlock(&s->lock);
	if (cached)
		fs_layer_touch_index(s, l);
}

void fs_span_end_unverified(struct fs_store *s, struct fs_layer *l, uint32_t id,
			    struct fs_hot *h, uint64_t u)
{
	struct fs_span_st *st = &l->spans[id];

	pthread_mutex_lock(&s->lock);
	fs_mem_buf_put(s, u);
	st->gen++;
	st->state = FS_SP_UNKNOWN;
	st->err = 0;
	st->touched = (uint32_t)(fs_now_us() / 1000000u);
	l->spans_fetched++;
	s->cache_failing = false;
	fs_mem_buf_recycle(s, h);
	pthread_cond_broadcast(&s->done);
	pthread_mutex_unlock(&s->lock);
	fs_layer_touch_index(s, l);
}

/* A fetched run being decoded by fs_job_run(). */
struct run {
	struct fs_job *j;
	unsigned char *cbuf; /* NULL once freed */
	uint64_t c0;         /* blob offset of cbuf[0] */
	int r;               /* the fetch's result */
	bool c_held;         /* j->cbytes still counted in the budget */
};

/* After the run's last decode: give the compressed bytes back early. */
static void run_cbuf_free(struct fs_store *s, struct run *rn)
{
	free(rn->cbuf);
	rn->cbuf = NULL;
	if (!rn->c_held)
		return;
	rn->c_held = false;
	pthread_mutex_lock(&s->lock);
	fs_mem_cbuf_put(s, rn->j->cbytes);
	pthread_mutex_unlock(&s->lock);
}

/* Decode, verify and cache span @id of a fetched run. */
static void run_span(struct fs_store *s, struct run *rn, uint32_t id)
{
	struct fs_layer *l = rn->j->l;
	struct fs_hot *h = NULL;
	struct idx_span sp;
	bool cached = false;
	uint64_t u = 0;
	int r = rn->r;

	if (r == 0)
		r = idx_span_get(l->idx, id, &sp);
	if (r == 0) {
		u = sp.u_len;
		pthread_mutex_lock(&s->lock);
		h = fs_mem_buf_get(s, u);
		pthread_mutex_unlock(&s->lock);
		if (!h)
			h = fs_hot_new(sp.u_len);
		r = h ? 0 : -ENOMEM;
	}
	if (r == 0) {
		r = idx_span_decode(l->idx, id, rn->cbuf + (sp.c_start - rn->c0),
				    sp.c_end - sp.c_start, h->data, sp.u_len);
		if (r < 0)
			log_err("span %u of layer '%s' (compressed bytes %llu-%llu) fails "
				"verification: %s; not cached", id, l->digest,
				(unsigned long long)sp.c_start, (unsigned long long)sp.c_end,
				strerror(-r));
	}
	if (id == rn->j->first + rn->j->count - 1)
		run_cbuf_free(s, rn);
	if (r == 0)
		/* idx_span_decode() verified it against sp.sha256, unless that names its compressed bytes */
		cached = (sp.sha_compressed ?
			  fs_cache_span_put(s->cache, l->span_key, sp.u_start, h->data, sp.u_len) :
			  fs_cache_span_put_sha(s->cache, l->span_key, sp.u_start, h->data, sp.u_len,
						sp.sha256, false)) == 0;
	fs_span_end(s, l, id, r, h, cached, rn->j->background, u);
}

void fs_job_run(struct fs_store *s, struct fs_job *j)
{
	struct fs_layer *l = j->l;
	struct run rn = { .j = j, .c0 = UINT64_MAX, .c_held = true };
	uint64_t c1 = 0, t0, us;
	struct idx_span sp;
	ssize_t n = -EIO;

	if (j->check) {
		fs_layer_check(s, l);
		free(j);
		return;
	}
	if (j->zpass || j->zfin) {
		(j->zpass ? fs_zs_run : fs_zs_finish)(s, j);
		return;
	}
	for (uint32_t id = j->first; id < j->first + j->count && rn.r == 0; id++) {
		rn.r = idx_span_get(l->idx, id, &sp);
		rn.c0 = XMIN_U64(rn.c0, sp.c_start);
		c1 = sp.c_end > c1 ? sp.c_end : c1;
	}
	if (rn.r == 0 && (c1 <= rn.c0 || !(rn.cbuf = malloc(c1 - rn.c0))))
		rn.r = -ENOMEM;
	t0 = fs_now_us();
	if (rn.r == 0) {
		n = reg_blob_read(s->client, l->digest, rn.cbuf, c1 - rn.c0, rn.c0);
		rn.r = n < 0 ? (int)n : (uint64_t)n != c1 - rn.c0 ? -EIO : 0;
		if (rn.r < 0)
			log_warn("cannot fetch spans %u-%u of layer '%s': %s", j->first,
				 j->first + j->count - 1, l->digest, strerror(-rn.r));
	}
	us = fs_now_us() - t0;
	pthread_mutex_lock(&s->lock);
	l->fetches++;
	if (n > 0)
		l->bytes_fetched += (uint64_t)n;
	if (rn.r == 0)
		fs_hist_add(&s->lat, us);
	pthread_mutex_unlock(&s->lock);
	for (uint32_t id = j->first; id < j->first + j->count; id++)
		run_span(s, &rn, id);
	run_cbuf_free(s, &rn); /* when the last span did not */
	pthread_mutex_lock(&s->lock);
	fs_mem_job_end(s, !j->background);
	pthread_mutex_unlock(&s->lock);
	free(j);
}
