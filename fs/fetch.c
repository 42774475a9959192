/* SPDX-License-Identifier: MIT */
/*
 * Reads: file range -> spans -> bytes, with single-flight fetches.
 *
 * A span is UNKNOWN (a file for it exists in the cache dir), ABSENT, BUSY
 * (one thread fetches or checks it) or PRESENT (on disk, checked by this
 * process), and may also have a decoded copy in memory (hot). A reader:
 *   hot copy          -> memcpy
 *   PRESENT           -> pread the span file (gone or damaged: ABSENT)
 *   UNKNOWN           -> claim it, verify the file's hash (the per-process
 *                        'verified' bit is the PRESENT state), keep it hot
 *   BUSY              -> wait on s->done until its generation moves
 *   ABSENT            -> claim it and the ABSENT spans after it that this
 *                        read will need (to the end of the file for a read
 *                        at 0 or a sequential one), capped at FS_RUN_MAX_C
 *                        compressed bytes, queue the run for a worker, wait
 * A worker fetches a run with ONE reg_blob_read (one Range request),
 * decodes and verifies each span (idx_span_decode), writes it to the cache
 * and ends it: PRESENT, or ABSENT with err set when it failed (its waiters
 * return -EIO; the next reader tries again: no poisoned state).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "fs/store_int.h"

/* ---- hot spans (s->lock held) ---------------------------------------- */

static void hot_unlink(struct fs_store *s, struct fs_hot *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		s->hot_lru = h->next;
	if (h->next)
		h->next->prev = h->prev;
	else
		s->hot_tail = h->prev;
	h->prev = h->next = NULL;
}

static void hot_link_head(struct fs_store *s, struct fs_hot *h)
{
	h->next = s->hot_lru;
	h->prev = NULL;
	if (s->hot_lru)
		s->hot_lru->prev = h;
	else
		s->hot_tail = h;
	s->hot_lru = h;
}

void fs_hot_drop(struct fs_store *s, struct fs_hot *h)
{
	hot_unlink(s, h);
	s->hot_bytes -= h->len;
	h->layer->spans[h->span].hot = NULL;
	if (h->refs)
		h->detached = true;
	else
		free(h);
}

static void hot_unref(struct fs_hot *h)
{
	if (--h->refs == 0 && h->detached)
		free(h);
}

static void hot_insert(struct fs_store *s, struct fs_layer *l, uint32_t id, struct fs_hot *h)
{
	h->layer = l;
	h->span = id;
	l->spans[id].hot = h;
	hot_link_head(s, h);
	s->hot_bytes += h->len;
	while (s->hot_bytes > s->hot_max && s->hot_tail != h)
		fs_hot_drop(s, s->hot_tail);
}

static struct fs_hot *hot_new(size_t len)
{
	struct fs_hot *h = malloc(sizeof(*h) + len);

	if (h) {
		memset(h, 0, sizeof(*h));
		h->len = len;
	}
	return h;
}

/* ---- claiming and queueing (s->lock held) ----------------------------- */

uint32_t fs_claim_run(struct fs_store *s, struct fs_layer *l, uint32_t first, uint32_t last)
{
	uint64_t cap = s->cache_failing ? 0 : FS_RUN_MAX_C, c0 = 0;
	struct idx_span sp;
	uint32_t id, count = 0;

	/* Memory: runs shrink (to one span at least) when workers hold a lot already. */
	if (s->inflight >= FS_INFLIGHT_MAX)
		cap = 0;
	else if (cap > FS_INFLIGHT_MAX - s->inflight)
		cap = FS_INFLIGHT_MAX - s->inflight;

	for (id = first; id <= last && id < l->info.n_spans; id++) {
		struct fs_span_st *st = &l->spans[id];

		if (st->state != FS_SP_ABSENT || st->hot || idx_span_get(l->idx, id, &sp) < 0)
			break;
		if (count == 0)
			c0 = sp.c_start;
		else if (sp.c_end - c0 > cap)
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
	if (s->jobs_tail)
		s->jobs_tail->next = j;
	else
		s->jobs = j;
	s->jobs_tail = j;
	pthread_cond_signal(&s->work);
	return 0;
}

/* ---- the worker side -------------------------------------------------- */

/* End the fetch of span @id: @r is 0 (then @h holds it) or -errno. */
static void span_end(struct fs_store *s, struct fs_layer *l, uint32_t id, int r,
		     struct fs_hot *h, bool cached, bool bg)
{
	struct fs_span_st *st = &l->spans[id];

	pthread_mutex_lock(&s->lock);
	st->gen++;
	if (r == 0) {
		st->state = cached ? FS_SP_PRESENT : FS_SP_ABSENT;
		st->err = 0;
		st->touched = (uint32_t)(fs_now_us() / 1000000u);
		l->spans_fetched++;
		s->cache_failing = !cached;
		if (!cached || !bg) {
			hot_insert(s, l, id, h);
			h = NULL;
		}
	} else {
		st->state = FS_SP_ABSENT;
		st->err = -EIO;
		l->errors++;
	}
	pthread_cond_broadcast(&s->done);
	pthread_mutex_unlock(&s->lock);
	free(h);
}

/* Decode, verify and cache span @id of a fetched run starting at @c0. */
static void run_span(struct fs_store *s, struct fs_job *j, uint32_t id, const unsigned char *cbuf,
		     uint64_t c0, int r)
{
	struct fs_layer *l = j->l;
	struct fs_hot *h = NULL;
	struct idx_span sp;
	bool cached = false;

	if (r == 0)
		r = idx_span_get(l->idx, id, &sp);
	if (r == 0 && !(h = hot_new(sp.u_len)))
		r = -ENOMEM;
	if (r == 0) {
		r = idx_span_decode(l->idx, id, cbuf + (sp.c_start - c0), sp.c_end - sp.c_start,
				    h->data, sp.u_len);
		if (r < 0)
			log_err("span %u of layer '%s' (compressed bytes %llu-%llu) fails "
				"verification: %s; not cached", id, l->digest,
				(unsigned long long)sp.c_start, (unsigned long long)sp.c_end,
				strerror(-r));
	}
	if (r == 0)
		cached = fs_cache_span_put(s->cache, l->digest, sp.u_start, h->data, sp.u_len) == 0;
	span_end(s, l, id, r, r == 0 ? h : NULL, cached, j->background);
	if (r < 0)
		free(h);
}

void fs_job_run(struct fs_store *s, struct fs_job *j)
{
	struct fs_layer *l = j->l;
	uint64_t c0 = UINT64_MAX, c1 = 0, t0, us;
	unsigned char *cbuf = NULL;
	struct idx_span sp;
	ssize_t n = -EIO;
	int r = 0;

	for (uint32_t id = j->first; id < j->first + j->count && r == 0; id++) {
		r = idx_span_get(l->idx, id, &sp);
		c0 = XMIN_U64(c0, sp.c_start);
		c1 = sp.c_end > c1 ? sp.c_end : c1;
	}
	if (r == 0 && (c1 <= c0 || !(cbuf = malloc(c1 - c0))))
		r = -ENOMEM;
	pthread_mutex_lock(&s->lock);
	s->inflight += cbuf ? c1 - c0 : 0;
	pthread_mutex_unlock(&s->lock);
	t0 = fs_now_us();
	if (r == 0) {
		n = reg_blob_read(s->client, l->digest, cbuf, c1 - c0, c0);
		r = n < 0 ? (int)n : (uint64_t)n != c1 - c0 ? -EIO : 0;
		if (r < 0)
			log_warn("cannot fetch spans %u-%u of layer '%s': %s", j->first,
				 j->first + j->count - 1, l->digest, strerror(-r));
	}
	us = fs_now_us() - t0;
	pthread_mutex_lock(&s->lock);
	l->fetches++;
	if (n > 0)
		l->bytes_fetched += (uint64_t)n;
	if (r == 0)
		fs_hist_add(&s->lat, us);
	pthread_mutex_unlock(&s->lock);
	for (uint32_t id = j->first; id < j->first + j->count; id++)
		run_span(s, j, id, cbuf, c0, r);
	if (cbuf) {
		free(cbuf);
		pthread_mutex_lock(&s->lock);
		s->inflight -= c1 - c0;
		pthread_mutex_unlock(&s->lock);
	}
	free(j);
}

/* ---- the reader side -------------------------------------------------- */

/* Check an UNKNOWN span's file (claimed BUSY by us); returns with s->lock held. */
static void check_file(struct fs_store *s, struct fs_layer *l, uint32_t id,
		       const struct idx_span *sp)
{
	struct fs_hot *h = hot_new(sp->u_len);
	int r = h ? fs_cache_span_read_verified(s->cache, l->digest, sp->u_start, h->data,
						sp->u_len) : -ENOMEM;

	if (r == -EBADMSG) {
		log_warn("discarding damaged cached span %u of layer '%s'", id, l->digest);
		fs_cache_span_remove(s->cache, l->digest, sp->u_start, sp->u_len);
	} else if (r == 0) {
		fs_cache_span_touch(s->cache, l->digest, sp->u_start, sp->u_len);
	}
	pthread_mutex_lock(&s->lock);
	l->spans[id].gen++;
	l->spans[id].err = 0;
	l->spans[id].state = r == 0 ? FS_SP_PRESENT : FS_SP_ABSENT;
	l->spans[id].touched = (uint32_t)(fs_now_us() / 1000000u);
	if (r == 0)
		hot_insert(s, l, id, h);
	else
		free(h);
	pthread_cond_broadcast(&s->done);
}

struct rd {
	struct fs_layer *l;
	uint32_t id, last;     /* span, last span this read may claim */
	struct idx_span sp;
	unsigned char *dst;
	uint64_t soff;         /* offset in the span */
	size_t k;
	struct timespec deadline;
	bool waited;
};

/* Wait for span @st to leave BUSY; s->lock held. 0, or -EIO (timeout, failed fetch). */
static int wait_span(struct fs_store *s, struct rd *d, struct fs_span_st *st)
{
	uint32_t gen0 = st->gen;

	d->waited = true;
	while (st->state == FS_SP_BUSY && st->gen == gen0) {
		if (pthread_cond_timedwait(&s->done, &s->lock, &d->deadline) == ETIMEDOUT) {
			s->timeouts++;
			d->l->errors++;
			log_warn("read of span %u of layer '%s' timed out after %u ms", d->id,
				 d->l->digest, s->o.io_timeout_ms);
			return -EIO;
		}
	}
	if (st->gen != gen0 && st->err && !st->hot && st->state != FS_SP_PRESENT)
		return -EIO;
	return 0;
}

/*
 * pread a PRESENT span's file, unlocked; refresh its mtime now and then so
 * that the LRU of every process sharing the cache sees it in use.
 */
static ssize_t read_present(struct fs_store *s, struct rd *d, struct fs_span_st *st)
{
	uint32_t now = (uint32_t)(fs_now_us() / 1000000u);
	bool touch = now - st->touched >= FS_TOUCH_SEC;
	ssize_t n;

	if (touch)
		st->touched = now;
	pthread_mutex_unlock(&s->lock);
	n = fs_cache_span_pread(s->cache, d->l->digest, d->sp.u_start, d->sp.u_len, d->dst, d->k,
				d->soff);
	if (touch && n >= 0)
		fs_cache_span_touch(s->cache, d->l->digest, d->sp.u_start, d->sp.u_len);
	pthread_mutex_lock(&s->lock);
	return n;
}

/* Copy out of one span; s->lock held on entry and exit. */
static int read_span(struct fs_store *s, struct rd *d)
{
	struct fs_span_st *st = &d->l->spans[d->id];
	ssize_t n;
	int r;

	for (;;) {
		if (st->hot) {
			struct fs_hot *h = st->hot;

			h->refs++;
			hot_unlink(s, h);
			hot_link_head(s, h);
			pthread_mutex_unlock(&s->lock);
			memcpy(d->dst, h->data + d->soff, d->k);
			pthread_mutex_lock(&s->lock);
			hot_unref(h);
			break;
		}
		switch (st->state) {
		case FS_SP_PRESENT:
			n = read_present(s, d, st);
			if (n == (ssize_t)d->k)
				goto out_hit;
			if (n != -ENOENT && n != -EBADMSG) {
				log_warn("cannot read cached span %u of layer '%s': %s", d->id,
					 d->l->digest, strerror((int)-n));
				d->l->errors++;
				return -EIO;
			}
			if (st->state == FS_SP_PRESENT)
				st->state = FS_SP_ABSENT; /* evicted or damaged: fetch again */
			continue;
		case FS_SP_UNKNOWN:
			st->state = FS_SP_BUSY;
			pthread_mutex_unlock(&s->lock);
			check_file(s, d->l, d->id, &d->sp);
			continue;
		case FS_SP_BUSY:
			r = wait_span(s, d, st);
			if (r < 0)
				return r;
			continue;
		default:
			d->waited = true;
			r = fs_job_push(s, d->l, d->id, fs_claim_run(s, d->l, d->id, d->last));
			if (r < 0)
				return r;
			continue;
		}
	}
out_hit:
	if (d->waited)
		d->l->misses++;
	else
		d->l->hits++;
	return 0;
}

static struct fs_layer *layer_get(struct fs_store *s, unsigned no)
{
	struct fs_layer *l = NULL;

	pthread_mutex_lock(&s->lock);
	if (no < s->n_layers)
		l = s->layers[no];
	pthread_mutex_unlock(&s->lock);
	return l;
}

/* Is this read the continuation of the last one of its file? s->lock held. */
static bool seq_note(struct fs_store *s, struct fs_layer *l, uint32_t entry, uint64_t off,
		     size_t n)
{
	struct fs_seq *q = &l->seq[0];
	bool seq = false;

	for (unsigned i = 0; i < FS_SEQ_SLOTS; i++) {
		if (l->seq[i].entry == entry && l->seq[i].stamp) {
			q = &l->seq[i];
			seq = q->next_off == off;
			break;
		}
		if (l->seq[i].stamp < q->stamp)
			q = &l->seq[i];
	}
	q->entry = entry;
	q->next_off = off + n;
	q->stamp = ++s->seq_clock;
	return seq;
}

static void deadline_in(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

ssize_t fs_store_read(struct fs_store *s, unsigned layer_no, uint32_t entry, void *buf,
		      size_t n, uint64_t off)
{
	struct rd d = { .l = layer_get(s, layer_no), .dst = buf };
	const struct idx_entry *e = d.l ? idx_entry_get(d.l->idx, entry) : NULL;
	uint64_t u, end;
	uint32_t last_read, last_file;
	size_t done = 0;
	bool seq;
	int r = 0;

	if (!e || e->type != IDX_T_REG)
		return -EINVAL;
	if (off >= e->size || n == 0)
		return 0;
	n = (size_t)XMIN_U64(n, e->size - off);
	u = e->data_off + off;
	end = u + n;
	if (idx_span_find(d.l->idx, end - 1, &last_read) < 0 ||
	    idx_span_find(d.l->idx, e->data_off + e->size - 1, &last_file) < 0)
		return -EIO;
	deadline_in(&d.deadline, s->o.io_timeout_ms);
	pthread_mutex_lock(&s->lock);
	seq = seq_note(s, d.l, entry, off, n);
	d.last = off == 0 || seq ? last_file : last_read;
	while (done < n && r == 0) {
		r = idx_span_find(d.l->idx, u + done, &d.id) < 0 ? -EIO : 0;
		if (r == 0)
			r = idx_span_get(d.l->idx, d.id, &d.sp) < 0 ? -EIO : 0;
		if (r < 0)
			break;
		d.soff = u + done - d.sp.u_start;
		d.k = (size_t)XMIN_U64(n - done, d.sp.u_len - d.soff);
		d.dst = (unsigned char *)buf + done;
		d.waited = false;
		r = read_span(s, &d);
		done += d.k;
	}
	if (r == 0 && seq && s->o.readahead_spans && last_read < last_file)
		fs_readahead(s, d.l, last_read + 1,
			     (uint32_t)XMIN_U64(last_file, last_read + s->o.readahead_spans),
			     last_file);
	pthread_mutex_unlock(&s->lock);
	return r < 0 ? r : (ssize_t)n;
}
