/* SPDX-License-Identifier: MIT */
/*
 * Forward passes: every compressed byte of a single-frame zstd layer
 * fetched and decoded at most once.
 *
 * zstd restarts only at frame starts. In a layer that is one frame (what
 * the zstd CLI, BuildKit and most writers produce) every span past the
 * first decodes from the frame start, so fetching spans on their own, as
 * fs/fetch.c does for gzip, costs the whole prefix for each one. For such
 * layers (idx_zpass_wanted(): some span starts after its checkpoint) a
 * layer has at most one pass: a job that keeps a streaming decoder
 * (index/zpass.c) positioned at a span, fed by one long ranged GET
 * (fs/zfeed.c), and walks forward to its target span, taking every span it
 * passes that nobody has (ABSENT: claimed BUSY, verified against its sha256
 * and cached by a finish job on another worker, so decoding and hashing
 * run on two cores) and dropping the ones already cached.
 *
 * A span the pass only goes through on its way to one that was asked for
 * (by a read, readahead, prefetch or bulk: fs_zs_want()) is cached without
 * being hashed, and left UNKNOWN: the first reader checks its file, like
 * one found at mount, before serving a byte of it. Reading one file deep
 * in a layer so hashes that file's spans, not the whole prefix: hashing
 * was a quarter of the CPU of such a read. Should the cache refuse it, the
 * span is verified and kept in memory as before.
 *
 * Readers of an ABSENT span raise the target and wait (fs_zs_wait()); a
 * span behind the decoder (evicted, or the cache cannot keep it) is
 * remembered and served by one restart from its checkpoint once the
 * current target is reached; a span past the next checkpoint is reached by
 * a jump there (multi-frame layers), else by decoding forward: one pass
 * per direction change, never one per span. Sequential readers' readahead,
 * prefetch and bulk mode raise the target the same way (fs_claim_run()).
 * An idle pass keeps its position for FS_ZS_IDLE_MS, then ends and frees
 * its decoder; the next read starts a new pass at its checkpoint. A pass
 * holds a worker: at most half the workers run passes (passes_max()), and
 * an idle one gives its worker up at once when a job waits for one.
 *
 * Memory (fs/span_mem.c): the pass is one job: its ring of compressed
 * chunks is admitted as a run's, its decoder's window is held beside
 * them, and each decoded span is taken like any decoder's
 * (fs_mem_buf_get()).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "fs/zfeed.h"
#include "index/foreign.h"
#include "index/zpass.h"

#define FS_ZS_IDLE_MS 10000
#define FS_ZS_CHUNK_MIN (256u << 10)
#define FS_ZS_CHUNK_MAX (4u << 20)

bool fs_zs_layer(struct fs_layer *l)
{
	struct fs_zs *z = &l->zs;

	if (z->mode == 0) {
		/* a foreign TOC's spans (fs/foreign.c) are read the way their format says */
		z->mode = l->foreign == IDX_FOREIGN_NONE && idx_zpass_wanted(l->idx) ? 2 : 1;
		z->pos = z->target = z->behind = z->behind_last = FS_ZS_NONE;
	}
	return z->mode == 2;
}

static uint32_t umax32(uint32_t a, uint32_t b)
{
	return a == FS_ZS_NONE ? b : b == FS_ZS_NONE ? a : a > b ? a : b;
}

/*
 * Passes that may hold a worker at once: half of them, so that finish
 * jobs and other layers' fetches always find one (a pass waits for its
 * finish jobs to give memory back).
 */
static unsigned passes_max(const struct fs_store *s)
{
	return s->n_workers > 1 ? s->n_workers / 2 : 1;
}

/* Queue @l's pass job (s->lock held); 0 without one when too many run. */
static int pass_push(struct fs_store *s, struct fs_layer *l)
{
	/* a sixth of the budget for compressed bytes: two spans still fit beside it */
	uint64_t chunk = XMIN_U64(FS_ZS_CHUNK_MAX, s->mem_max / (6 * FS_ZFEED_SLOTS));
	struct idx_span sp;
	struct fs_job *j;

	if (s->zs_passes >= passes_max(s))
		return 0; /* its readers ask again when a pass ends */
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	j->l = l;
	j->zpass = true;
	j->cbytes = FS_ZFEED_SLOTS * (chunk < FS_ZS_CHUNK_MIN ? FS_ZS_CHUNK_MIN : chunk);
	j->umax = idx_span_get(l->idx, 0, &sp) == 0 ? sp.u_len : l->info.span_size;
	if (s->jobs_tail)
		s->jobs_tail->next = j;
	else
		s->jobs = j;
	s->jobs_tail = j;
	l->zs.active = true;
	s->zs_passes++;
	pthread_cond_signal(&s->work);
	return 0;
}

int fs_zs_want(struct fs_store *s, struct fs_layer *l, uint32_t id, uint32_t last)
{
	struct fs_zs *z = &l->zs;

	if (!fs_zs_layer(l) || id >= l->info.n_spans)
		return -EINVAL;
	if (l->bad)
		return -EIO; /* failed its whole-layer check */
	last = last < id ? id : last >= l->info.n_spans ? l->info.n_spans - 1 : last;
	for (uint32_t k = id; k <= last; k++)
		l->spans[k].zs_asked = true;
	if (z->pos == FS_ZS_NONE || id < z->pos) {
		z->behind = z->behind == FS_ZS_NONE || id < z->behind ? id : z->behind;
		z->behind_last = umax32(z->behind_last, last);
	} else {
		z->target = umax32(z->target, last);
	}
	pthread_cond_broadcast(&s->room); /* a parked pass waits there */
	return z->active ? 0 : pass_push(s, l);
}

int fs_zs_wait(struct fs_store *s, struct fs_layer *l, uint32_t id, uint32_t last,
	       const struct timespec *deadline)
{
	struct fs_span_st *st = &l->spans[id];
	uint32_t fails0 = l->zs.fails;
	int r = fs_zs_want(s, l, id, last);

	st->waiters++; /* pins its hot copy for us (fs_hot_insert()) */
	while (r == 0 && st->state == FS_SP_ABSENT && !st->hot) {
		if (l->zs.fails != fails0 || l->bad) {
			r = -EIO;
			break;
		}
		/* a pass that ended before reaching us, or none could start yet: ask again */
		if (!l->zs.active)
			r = fs_zs_want(s, l, id, last);
		if (r == 0 && pthread_cond_timedwait(&s->done, &s->lock, deadline) == ETIMEDOUT &&
		    st->state == FS_SP_ABSENT && !st->hot) {
			s->timeouts++;
			l->errors++;
			log_warn("read of span %u of layer '%s' timed out after %u ms (forward pass)",
				 id, l->digest, s->o.io_timeout_ms);
			r = -EIO;
		}
	}
	st->waiters--;
	return r;
}

/* ---- the pass job ------------------------------------------------------ */

struct pass {
	struct fs_store *s;
	struct fs_layer *l;
	struct fs_job *j;
	struct idx_zpass *zp;
	struct fs_zfeed *feed;
	uint64_t win;   /* decoder memory held (fs_mem_hold()) */
};

/* Restart the decoder at the checkpoint of span @id (unlocked). */
static int pass_seek(struct pass *p, uint32_t id, uint32_t *first)
{
	uint64_t c_off;
	int r;

	fs_zfeed_close(p->feed);
	p->feed = NULL;
	r = idx_zpass_seek(p->zp, id, first, &c_off);
	if (r == 0)
		r = fs_zfeed_open(p->s, p->l, c_off, (size_t)(p->j->cbytes / FS_ZFEED_SLOTS),
				  &p->feed);
	return r;
}

/* Queue the verify-and-cache job of span @id, decoded in @h, at the front (locked). */
static int finish_push(struct fs_store *s, struct fs_layer *l, uint32_t id, struct fs_hot *h)
{
	struct fs_job *j = calloc(1, sizeof(*j));

	if (!j)
		return -ENOMEM;
	j->l = l;
	j->zfin = true;
	j->first = id;
	j->count = 1;
	j->hot = h;
	j->next = s->jobs;
	s->jobs = j;
	if (!s->jobs_tail)
		s->jobs_tail = j;
	pthread_cond_signal(&s->work);
	if (s->running >= s->n_workers)
		pthread_cond_broadcast(&s->room); /* a parked pass gives its worker up */
	return 0;
}

/*
 * Verify span @id of @l, decoded in @h (its u_len bytes, held), cache it,
 * end it; a span nobody asked for or waits on is cached unverified
 * (see the top of this file). Unlocked.
 */
static void finish_span(struct fs_store *s, struct fs_layer *l, uint32_t id, struct fs_hot *h)
{
	struct idx_span sp;
	bool cached = false, bg, passed;
	int r = idx_span_get(l->idx, id, &sp);

	pthread_mutex_lock(&s->lock);
	passed = !l->spans[id].zs_asked && !l->spans[id].want && l->spans[id].waiters == 0;
	pthread_mutex_unlock(&s->lock);
	if (r == 0 && passed) {
		if (fs_cache_span_put_sha(s->cache, l->span_key, sp.u_start, h->data, sp.u_len,
					  sp.sha256, true) == 0) {
			fs_span_end_unverified(s, l, id, h, h->len);
			return;
		}
		r = idx_span_verify(l->idx, id, h->data, h->len);
		/* refused by the cache: kept in memory, verified, not written twice */
		fs_span_end(s, l, id, r, h, false, true, h->len);
		return;
	}
	if (r == 0)
		r = idx_span_verify(l->idx, id, h->data, h->len);
	if (r < 0) {
		fs_span_end(s, l, id, r, h, false, true, h->len);
		return;
	}
	pthread_mutex_lock(&s->lock);
	bg = l->spans[id].waiters == 0;
	pthread_mutex_unlock(&s->lock);
	if (bg) {
		cached = fs_cache_span_put_sha(s->cache, l->span_key, sp.u_start, h->data,
					       sp.u_len, sp.sha256, false) == 0;
		fs_span_end(s, l, id, 0, h, cached, true, h->len);
		return;
	}
	/* readers wait: hand them the verified bytes first, write the cache after */
	fs_span_publish(s, l, id, h);
	cached = fs_cache_span_put_sha(s->cache, l->span_key, sp.u_start, h->data, sp.u_len,
				       sp.sha256, false) == 0;
	fs_span_settle(s, l, id, h, h->len, cached);
}

/* Account the decoder's memory once it has read its frame header (locked). */
static void hold_window(struct pass *p)
{
	uint64_t m = idx_zpass_mem(p->zp);

	if (m > p->win) {
		fs_mem_hold(p->s, m - p->win);
		p->win = m;
	}
}

/* Decode span z->pos (locked on entry and exit): 0, or -errno (the pass ends). */
static int pass_step(struct pass *p)
{
	struct fs_store *s = p->s;
	struct fs_layer *l = p->l;
	uint32_t k = l->zs.pos, got = 0;
	struct fs_span_st *st = &l->spans[k];
	bool claimed = st->state == FS_SP_ABSENT && !st->hot;
	struct idx_span sp, tsp;
	struct fs_hot *h;
	int r;

	if (idx_span_get(l->idx, k, &sp) < 0 || idx_span_get(l->idx, l->zs.target, &tsp) < 0)
		return -EIO;
	if (claimed)
		st->state = FS_SP_BUSY;
	h = fs_mem_buf_get(s, sp.u_len);
	pthread_mutex_unlock(&s->lock);
	fs_zfeed_limit(p->feed, tsp.c_end);
	if (!h)
		h = fs_hot_new((size_t)sp.u_len);
	r = h ? idx_zpass_next(p->zp, h->data, (size_t)sp.u_len, &got) : -ENOMEM;
	if (r == 0 && got != k)
		r = -EIO;
	if (r < 0)
		log_err("forward pass over layer '%s' fails at span %u: %s", l->digest, k,
			strerror(-r));
	pthread_mutex_lock(&s->lock);
	hold_window(p);
	if (r == 0 && claimed && s->n_workers < 2) {
		/* no other worker to hash and cache it: do it here */
		pthread_mutex_unlock(&s->lock);
		finish_span(s, l, k, h);
		pthread_mutex_lock(&s->lock);
		h = NULL;
	} else if (r == 0 && claimed && finish_push(s, l, k, h) < 0) {
		r = -ENOMEM;
	}
	if (claimed && r < 0) {
		pthread_mutex_unlock(&s->lock);
		fs_span_end(s, l, k, r, h, false, true, sp.u_len); /* releases h */
		pthread_mutex_lock(&s->lock);
	} else if (!claimed) {
		fs_mem_buf_put(s, sp.u_len); /* passed over: already cached */
		fs_mem_buf_recycle(s, h);
	}
	if (r == 0)
		l->zs.pos = k + 1;
	return r;
}

/* Is any span in [from, to] still to be produced by a pass? (locked) */
static bool needed(const struct fs_layer *l, uint32_t from, uint32_t to, uint32_t *first)
{
	for (uint32_t k = from; k <= to && k < l->info.n_spans; k++) {
		if (l->spans[k].state == FS_SP_ABSENT && !l->spans[k].hot) {
			*first = k;
			return true;
		}
	}
	return false;
}

/* What to do next (locked): 1 decode at pos, 2 seek to *to, 0 nothing left. */
static int pass_next(struct fs_layer *l, uint32_t *to)
{
	struct fs_zs *z = &l->zs;
	uint32_t want, origin;
	uint64_t c;

	if (z->pos != FS_ZS_NONE && z->target != FS_ZS_NONE && z->pos <= z->target) {
		if (!needed(l, z->pos, z->target, &want)) {
			z->target = FS_ZS_NONE; /* all there already: keep the decoder where it is */
			return pass_next(l, to);
		}
		/* a checkpoint past the decoder: jump there rather than decode up to it */
		if (idx_zpass_origin(l->idx, want, &origin, &c) == 0 && origin > z->pos) {
			*to = want;
			return 2;
		}
		return 1;
	}
	if (z->behind != FS_ZS_NONE) {
		z->target = z->behind_last;
		*to = z->behind;
		z->behind = z->behind_last = FS_ZS_NONE;
		if (!needed(l, *to, z->target, &want)) {
			z->target = FS_ZS_NONE;
			return pass_next(l, to);
		}
		*to = want;
		return 2;
	}
	return 0;
}

/* Wait for work at most FS_ZS_IDLE_MS (locked): what pass_next() says, 0 when none came. */
static int pass_park(struct fs_store *s, struct fs_layer *l, uint32_t *to)
{
	struct timespec ts;
	int what = 0;

	clock_gettime(CLOCK_REALTIME, &ts); /* s->room runs on the default clock */
	ts.tv_sec += FS_ZS_IDLE_MS / 1000;
	while (!s->stop && !l->bad && !(what = pass_next(l, to))) {
		if (s->jobs && s->running >= s->n_workers)
			return 0; /* a job waits for a worker: give ours up, the spans are cached */
		if (pthread_cond_timedwait(&s->room, &s->lock, &ts) == ETIMEDOUT)
			return s->stop || l->bad ? 0 : pass_next(l, to);
	}
	return s->stop || l->bad ? 0 : what;
}

static int pass_feed(void *ctx, const uint8_t **buf, size_t *len)
{
	struct pass *p = ctx;
	return p->feed ? fs_zfeed_next(p->feed, buf, len) : -EIO;
}

static void pass_end(struct pass *p, int r)
{
	struct fs_store *s = p->s;
	struct fs_zs *z = &p->l->zs;

	pthread_mutex_unlock(&s->lock);
	fs_zfeed_close(p->feed);
	idx_zpass_free(p->zp);
	pthread_mutex_lock(&s->lock);
	if (r < 0) {
		z->fails++;
		z->target = z->behind = z->behind_last = FS_ZS_NONE;
		p->l->errors++;
	}
	z->active = false;
	z->pos = FS_ZS_NONE;
	s->zs_passes--;
	fs_mem_cbuf_put(s, p->j->cbytes + p->win);
	fs_mem_job_end(s, true);
	pthread_cond_broadcast(&s->done); /* its waiters ask again, or fail */
	pthread_mutex_unlock(&s->lock);
	free(p->j);
}

void fs_zs_run(struct fs_store *s, struct fs_job *j)
{
	struct pass p = { .s = s, .l = j->l, .j = j };
	struct fs_zs *z = &j->l->zs;
	uint32_t to, first;
	int r = idx_zpass_new(j->l->idx, pass_feed, &p, &p.zp);
	int what;

	pthread_mutex_lock(&s->lock);
	z->passes++;
	while (r == 0 && !s->stop && !p.l->bad) {
		what = pass_next(p.l, &to);
		if (what == 0)
			what = pass_park(s, p.l, &to);
		if (what == 0)
			break;
		if (what == 2) {
			z->restarts += z->pos != FS_ZS_NONE && to < z->pos;
			z->pos = FS_ZS_NONE; /* meanwhile, wants are remembered as behind */
			pthread_mutex_unlock(&s->lock);
			r = pass_seek(&p, to, &first);
			pthread_mutex_lock(&s->lock);
			z->pos = r == 0 ? first : FS_ZS_NONE;
			continue;
		}
		r = pass_step(&p);
	}
	pass_end(&p, r);
}

bool fs_zs_finish_queued(struct fs_store *s)
{
	struct fs_job *j, *prev = NULL;

	for (j = s->jobs; j && !j->zfin; j = j->next)
		prev = j;
	if (!j)
		return false;
	if (prev)
		prev->next = j->next;
	else
		s->jobs = j->next;
	if (s->jobs_tail == j)
		s->jobs_tail = prev;
	pthread_mutex_unlock(&s->lock);
	finish_span(s, j->l, j->first, j->hot); /* not admitted: no fs_mem_job_end() */
	free(j);
	pthread_mutex_lock(&s->lock);
	return true;
}

void fs_zs_finish(struct fs_store *s, struct fs_job *j)
{
	finish_span(s, j->l, j->first, j->hot);
	pthread_mutex_lock(&s->lock);
	fs_mem_job_end(s, true);
	pthread_mutex_unlock(&s->lock);
	free(j);
}
