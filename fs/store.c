/* SPDX-License-Identifier: MIT */
/*
 * The store's life cycle and its fetch workers.
 *
 * Every network fetch runs on a worker thread, never on the reader's: a
 * reader claims spans, queues the run and waits on s->done with its own
 * deadline. So a read returns -EIO at io_timeout even when the registry
 * hangs longer, and the fetch still completes (or fails) in the background,
 * returning its spans to PRESENT or ABSENT; nothing stays claimed.
 *
 * fetch_threads workers take on-demand runs first (FIFO); only when none is
 * queued, and at most bg_limit() of them at once, do they take background
 * work (readahead hints, the access profile's replay, then the
 * prefetch_all cursor), one run at a time, so a reader waits for at most
 * one background run per worker. Either kind
 * starts only when its memory fits in the budget (fs_mem_admit()); an
 * on-demand run that does not fit yet holds back background work too.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "fs/store_int.h"

uint64_t fs_now_us(void)
{
	return monotonic_ns() / 1000u;
}

void fs_store_opts_init(struct fs_store_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->cache_max = FS_CACHE_DEFAULT_MAX;
	o->io_timeout_ms = 30000;
	o->fetch_threads = 8;
	o->readahead_spans = 2;
}

/*
 * Workers background work may hold: half of them, but all except one
 * while an access profile is replayed. The replay fetches what the build
 * is about to read, in its order, so it is worth nearly what a read is:
 * with half the workers, behind 20-40 ms of latency, the build caught up
 * with it and waited. One worker stays free for on-demand reads.
 */
static unsigned bg_limit(const struct fs_store *s)
{
	if (s->n_workers > 1 && fs_profile_pending(s))
		return s->n_workers - 1 > s->bg_max ? s->n_workers - 1 : s->bg_max;
	return s->bg_max;
}

static void *worker_main(void *arg)
{
	struct fs_store *s = arg;
	struct fs_job *j;
	bool bg;

	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		j = s->jobs;
		if (j && fs_mem_admit(s, j->cbytes, j->umax, true)) {
			s->jobs = j->next;
			if (!s->jobs)
				s->jobs_tail = NULL;
		} else if (j) {
			j = NULL; /* no room yet: wait for a job to end */
		} else if (s->bg_active < bg_limit(s)) {
			j = fs_bg_next(s);
			/*
			 * Asked for a single-frame zstd span, fs_bg_next() queues
			 * a forward pass instead of returning a job; its signal
			 * woke nobody if every other worker is busy (or there is
			 * none): take it, do not sleep beside it.
			 */
			if (!j && s->jobs)
				continue;
		}
		if (!j) {
			pthread_cond_wait(&s->work, &s->lock);
			continue;
		}
		bg = j->background;
		if (bg)
			s->bg_active++;
		pthread_mutex_unlock(&s->lock);
		fs_job_run(s, j); /* releases its memory, frees j */
		pthread_mutex_lock(&s->lock);
		if (bg)
			s->bg_active--;
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static int start_workers(struct fs_store *s)
{
	unsigned i;

	s->workers = calloc(s->o.fetch_threads, sizeof(*s->workers));
	if (!s->workers)
		return -ENOMEM;
	for (i = 0; i < s->o.fetch_threads; i++) {
		if (pthread_create(&s->workers[i], NULL, worker_main, s) != 0)
			break;
		s->n_workers++;
	}
	return s->n_workers ? 0 : -EAGAIN;
}

static int init_sync(struct fs_store *s)
{
	pthread_condattr_t ca;

	if (pthread_condattr_init(&ca) != 0)
		return -ENOMEM;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->done, &ca);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->room, NULL);
	pthread_condattr_destroy(&ca);
	return 0;
}

int fs_store_new(const struct fs_store_opts *o, struct reg_client *client, struct fs_store **out)
{
	struct fs_store *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->o = *o;
	if (!s->o.cache_max)
		s->o.cache_max = FS_CACHE_DEFAULT_MAX;
	if (!s->o.io_timeout_ms)
		s->o.io_timeout_ms = 30000;
	if (!s->o.fetch_threads)
		s->o.fetch_threads = 8;
	if (s->o.fetch_threads > 64)
		s->o.fetch_threads = 64;
	if (s->o.readahead_spans > FS_RA_MAX_SPANS)
		s->o.readahead_spans = FS_RA_MAX_SPANS;
	s->bg_max = s->o.fetch_threads > 1 ? s->o.fetch_threads / 2 : 1;
	s->mem_max = s->o.mem_max ? s->o.mem_max : FS_STORE_MEM_DEFAULT;
	s->client = client;
	s->o.cache_dir = NULL; /* borrowed string: keep our copy only */
	r = init_sync(s);
	if (r < 0) {
		free(s);
		return r;
	}
	r = fs_cache_open(o->cache_dir, s->o.cache_max, &s->cache);
	if (r < 0)
		goto out_free;
	s->cache_dir = strdup(fs_cache_dir(s->cache));
	if (!s->cache_dir) {
		r = -ENOMEM;
		goto out_free;
	}
	s->o.cache_dir = s->cache_dir;
	s->pf_active = s->o.prefetch_all; /* fs_store_prefetch_start() may start it later too */
	r = start_workers(s);
	if (r < 0)
		goto out_free;
	*out = s;
	return 0;
out_free:
	fs_store_free(s);
	return r;
}

void fs_store_free(struct fs_store *s)
{
	struct fs_job *j;
	unsigned i;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_broadcast(&s->work);
	pthread_cond_broadcast(&s->room);
	pthread_mutex_unlock(&s->lock);
	for (i = 0; i < s->n_workers; i++)
		pthread_join(s->workers[i], NULL);
	free(s->workers);
	while ((j = s->jobs)) {
		s->jobs = j->next;
		/* a forward pass's span not verified yet (fs/zstream.c) */
		if (j->hot)
			free(j->hot->data);
		free(j->hot);
		free(j);
	}
	while (s->hot_lru)
		fs_hot_drop(s, s->hot_lru);
	fs_mem_pool_free(s);
	fs_profile_free(s);
	for (i = 0; i < s->n_layers; i++)
		fs_layer_free(s->layers[i]);
	fs_cache_close(s->cache);
	free(s->cache_dir);
	pthread_cond_destroy(&s->room);
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->done);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

void fs_store_prefetch_start(struct fs_store *s)
{
	pthread_mutex_lock(&s->lock);
	s->pf_active = true;
	pthread_cond_broadcast(&s->work);
	pthread_mutex_unlock(&s->lock);
}

const char *fs_store_cache_dir(const struct fs_store *s)
{
	return s->cache_dir;
}
