/* SPDX-License-Identifier: MIT */
/*
 * The memory of the data path: decoded spans kept in memory (hot, LRU) and
 * the one budget, s->mem_max (-o mem_max), that they share with the fetches
 * running. Everything here runs under s->lock.
 *
 * A fetch job goes through three phases, each holding only what it needs:
 *   fetch   the compressed bytes of its run          (c)
 *   decode  those, and one decoded span at a time    (c + u)
 *   write   the decoded span (cache file, handover)  (u; c freed after the
 *           run's last span is decoded)
 * so a third job can fetch while two decode or write, and the network wait
 * of one overlaps the decoding of others. A job starts (fs_mem_admit())
 * only when its compressed bytes fit, and when they leave room for one
 * decoded span beside every compressed buffer held: then a decoder can
 * always start once the others have ended, and the waits below cannot
 * deadlock. A decoder beyond the first waits for room (fs_mem_buf_get()).
 * On-demand jobs (readers wait on them) may go beyond the budget with
 * their compressed bytes, up to FS_ONDEMAND_MIN at once (fs_mem_admit()).
 * A forward pass (fs/zstream.c) is one job: its compressed chunks are
 * admitted as a run's, its decoder's window is held beside them once its
 * frame header has told its size (fs_mem_hold(): a window larger than the
 * budget exceeds it by that much, as one span does), and its decoded
 * spans are taken one at a time like any decoder's.
 * Hot spans are evictable: they are dropped, least recently used first,
 * whenever what jobs hold grows. One job always runs, so a budget below
 * one span and its compressed bytes is exceeded by that much.
 *
 * Span buffers are recycled within the budget: a decoder takes a free
 * buffer of its span's size (s->pool), or the least recently used hot span
 * when that one must go anyway, before it allocates. A fresh 4 MiB buffer
 * costs 1024 page faults and as much zeroing, about 10 % of the CPU time
 * of a cold sequential read (perf), since malloc gives buffers this large
 * back to the kernel at free() (fs/main.c tune_malloc()).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fs/store_int.h"

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

static void hot_free(struct fs_hot *h)
{
	free(h->data);
	free(h);
}

struct fs_hot *fs_hot_new(size_t len)
{
	/* C11 wants a multiple of the alignment */
	size_t aligned = (len + FS_CACHE_DIO_ALIGN - 1) & ~(size_t)(FS_CACHE_DIO_ALIGN - 1);
	struct fs_hot *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->len = len;
	h->data = len >= FS_HOT_ALIGN_MIN ? aligned_alloc(FS_CACHE_DIO_ALIGN, aligned)
					  : malloc(len ? len : 1);
	if (!h->data) {
		free(h);
		return NULL;
	}
	return h;
}


void fs_hot_drop(struct fs_store *s, struct fs_hot *h)
{
	hot_unlink(s, h);
	s->hot_bytes -= h->len;
	h->layer->spans[h->span].hot = NULL;
	if (h->refs)
		h->detached = true;
	else
		hot_free(h);
}

void fs_hot_use(struct fs_store *s, struct fs_hot *h)
{
	h->refs++;
	if (h->pins)
		h->pins--;
	hot_unlink(s, h);
	hot_link_head(s, h);
}

void fs_hot_unuse(struct fs_hot *h)
{
	if (--h->refs == 0 && h->detached)
		hot_free(h);
}

static bool over(const struct fs_store *s)
{
	return s->hot_bytes + s->pool_bytes + s->held > s->mem_max;
}

/*
 * Free pooled buffers, then least recently used hot spans (but @keep and
 * pinned ones), until the budget holds.
 */
static void hot_trim(struct fs_store *s, const struct fs_hot *keep)
{
	struct fs_hot *h, *prev;

	while (s->pool && over(s)) {
		h = s->pool;
		s->pool = h->next;
		s->pool_bytes -= h->len;
		hot_free(h);
	}
	for (h = s->hot_tail; h && over(s); h = prev) {
		prev = h->prev;
		if (h != keep && !h->pins)
			fs_hot_drop(s, h);
	}
}

/* A buffer of exactly @len bytes to reuse: pooled, or the hot span that must go next. */
static struct fs_hot *reuse(struct fs_store *s, size_t len)
{
	struct fs_hot **pp, *h;

	for (pp = &s->pool; *pp; pp = &(*pp)->next) {
		if ((*pp)->len == len) {
			h = *pp;
			*pp = h->next;
			s->pool_bytes -= len;
			return h;
		}
	}
	h = s->hot_tail;
	if (!h || !over(s) || h->refs || h->pins || h->len != len)
		return NULL;
	hot_unlink(s, h);
	s->hot_bytes -= len;
	h->layer->spans[h->span].hot = NULL;
	return h;
}

void fs_hot_insert(struct fs_store *s, struct fs_layer *l, uint32_t id, struct fs_hot *h,
		   unsigned pins)
{
	h->pins = pins;
	h->layer = l;
	h->span = id;
	l->spans[id].hot = h;
	hot_link_head(s, h);
	s->hot_bytes += h->len;
	hot_trim(s, h); /* never the span just decoded: its readers are waking up */
}

void fs_run_size(const struct fs_layer *l, uint32_t first, uint32_t count, uint64_t *c,
		 uint64_t *u)
{
	uint64_t c0 = UINT64_MAX, c1 = 0;
	struct idx_span sp;

	*u = 0;
	for (uint32_t id = first; id < first + count; id++) {
		if (idx_span_get(l->idx, id, &sp) < 0)
			continue;
		c0 = XMIN_U64(c0, sp.c_start);
		c1 = sp.c_end > c1 ? sp.c_end : c1;
		*u = sp.u_len > *u ? sp.u_len : *u;
	}
	*c = c1 > c0 ? c1 - c0 : 0;
}

bool fs_mem_admit(struct fs_store *s, uint64_t c, uint64_t u, bool ondemand)
{
	bool fits = s->held + c <= s->mem_max && s->cheld + c + u <= s->mem_max;

	/*
	 * Beyond the budget only compressed bytes are added: decoders still
	 * start one at a time when memory is short (fs_mem_buf_get()), so
	 * nothing can deadlock.
	 */
	if (s->running && !fits && !(ondemand && s->ondemand < FS_ONDEMAND_MIN))
		return false;
	s->held += c;
	s->cheld += c;
	s->running++;
	s->ondemand += ondemand;
	hot_trim(s, NULL);
	return true;
}

/* Something was released: wake the workers waiting for room. */
static void room_made(struct fs_store *s)
{
	pthread_cond_broadcast(&s->room);
	pthread_cond_broadcast(&s->work);
}

void fs_mem_job_end(struct fs_store *s, bool ondemand)
{
	s->running--;
	s->ondemand -= ondemand;
	room_made(s);
}

void fs_mem_cbuf_put(struct fs_store *s, uint64_t c)
{
	s->held -= c;
	s->cheld -= c;
	room_made(s);
}

void fs_mem_hold(struct fs_store *s, uint64_t c)
{
	s->held += c;
	s->cheld += c;
	hot_trim(s, NULL);
}

struct fs_hot *fs_mem_buf_get(struct fs_store *s, uint64_t u)
{
	struct fs_hot *h;

	/*
	 * Decoded spans queued for their verify-and-cache job hold memory that
	 * only that job gives back; with every worker waiting here (a pass's
	 * next span, another layer's fetch) nobody would run them: run them.
	 */
	while (s->decoding && s->held + u > s->mem_max && !s->stop)
		if (!fs_zs_finish_queued(s))
			pthread_cond_wait(&s->room, &s->lock);
	s->held += u;
	s->decoding++;
	h = reuse(s, (size_t)u);
	hot_trim(s, NULL);
	if (h)
		memset(h, 0, offsetof(struct fs_hot, len));
	return h;
}

void fs_mem_buf_put(struct fs_store *s, uint64_t u)
{
	s->held -= u;
	s->decoding--;
	room_made(s);
}

void fs_mem_buf_recycle(struct fs_store *s, struct fs_hot *h)
{
	if (!h)
		return;
	s->pool_bytes += h->len;
	h->next = s->pool;
	s->pool = h;
	hot_trim(s, NULL); /* frees it again when there is no room */
}

void fs_mem_pool_free(struct fs_store *s)
{
	struct fs_hot *h;

	while ((h = s->pool)) {
		s->pool = h->next;
		s->pool_bytes -= h->len;
		hot_free(h);
	}
}
