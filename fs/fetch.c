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
 *                        'verified' bit is the PRESENT state), then pread it
 *   BUSY              -> wait on s->done until its generation moves
 *   ABSENT            -> claim it and the ABSENT spans after it that this
 *                        read will need (to the end of the file for a read
 *                        at 0 or a sequential one), capped at FS_RUN_MAX_C
 *                        compressed bytes and at half the memory budget
 *                        (see fs_claim_run()), queue the run, wait
 * A worker then fetches, decodes, verifies and caches the run
 * (fs/fetch_job.c).
 *
 * Memory: hot spans and running jobs share one budget, s->mem_max (see
 * fs/span_mem.c): a job starts when its compressed bytes fit, a decode when
 * its span fits, and hot spans are evicted to make room; so the budget
 * bounds the daemon's span memory whatever the number of workers and
 * readers.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "fs/store_int.h"

/* ---- the reader side -------------------------------------------------- */

/*
 * What a span file must hash to: the span's digest, or for a span whose
 * index names only its compressed bytes (SOCI) the file's own trailer hash,
 * its cache key naming the zTOC that fixes the decoding (fs/cache_span.c).
 */
static const uint8_t *span_want(const struct idx_span *sp)
{
	return sp->sha_compressed ? NULL : sp->sha256;
}

/*
 * Check an UNKNOWN span's file (claimed BUSY by us) against its hash,
 * through a small buffer: any number of readers may check files at once
 * without a decoded span each. Returns with s->lock held.
 */
static void check_file(struct fs_store *s, struct fs_layer *l, uint32_t id,
		       const struct idx_span *sp)
{
	int r = fs_cache_span_verify(s->cache, l->span_key, sp->u_start, sp->u_len, span_want(sp));

	if (r == -EBADMSG) {
		log_warn("discarding cached span %u of layer '%s': damaged, or not the bytes "
			 "its index names", id, l->digest);
		fs_cache_span_remove(s->cache, l->span_key, sp->u_start, sp->u_len);
	} else if (r == 0) {
		fs_cache_span_touch(s->cache, l->span_key, sp->u_start, sp->u_len);
	}
	pthread_mutex_lock(&s->lock);
	l->spans[id].gen++;
	l->spans[id].err = 0;
	l->spans[id].state = r == 0 ? FS_SP_PRESENT : FS_SP_ABSENT;
	l->spans[id].touched = (uint32_t)(fs_now_us() / 1000000u);
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
	bool record;           /* a reader's: noted in the access profile (fs/profile.c) */
	struct fs_rvec *vec;   /* NULL, or where the read's pieces are described */
	bool in_place;         /* read_span() put this piece in vec as a span's own bytes */
};

/* Append a piece to @v, merged with the last one when they are adjacent. */
static void rvec_add(struct fs_rvec *v, void *p, size_t k)
{
	if (v->n && (char *)v->iov[v->n - 1].iov_base + v->iov[v->n - 1].iov_len == p) {
		v->iov[v->n - 1].iov_len += k;
		return;
	}
	v->iov[v->n].iov_base = p;
	v->iov[v->n].iov_len = k;
	v->n++;
}

/*
 * May the next piece point into a span? Only with room for it and for a
 * run of buffer pieces after it: then no piece ever lacks a slot.
 */
static bool rvec_room(const struct fs_rvec *v)
{
	return v->n + 2 <= FS_RVEC_MAX && v->n_held < FS_RVEC_MAX;
}

/* Wait for span @st to leave BUSY; s->lock held. 0, or -EIO (timeout, failed fetch). */
static int wait_span(struct fs_store *s, struct rd *d, struct fs_span_st *st)
{
	uint32_t gen0 = st->gen;

	d->waited = true;
	st->waiters++;
	while (st->state == FS_SP_BUSY && st->gen == gen0) {
		/* not a timeout if it ended meanwhile: its hot copy holds a pin for us */
		if (pthread_cond_timedwait(&s->done, &s->lock, &d->deadline) == ETIMEDOUT &&
		    st->state == FS_SP_BUSY && st->gen == gen0) {
			st->waiters--;
			s->timeouts++;
			d->l->errors++;
			log_warn("read of span %u of layer '%s' timed out after %u ms", d->id,
				 d->l->digest, s->o.io_timeout_ms);
			return -EIO;
		}
	}
	st->waiters--;
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
	n = fs_cache_span_pread(s->cache, d->l->span_key, d->sp.u_start, d->sp.u_len, d->dst, d->k,
				d->soff, span_want(&d->sp));
	if (touch && n >= 0) {
		fs_cache_span_touch(s->cache, d->l->span_key, d->sp.u_start, d->sp.u_len);
		fs_layer_touch_index(s, d->l);
	}
	pthread_mutex_lock(&s->lock);
	return n;
}

/* Copy out of one span; s->lock held on entry and exit. */
static int read_span(struct fs_store *s, struct rd *d)
{
	struct fs_span_st *st = &d->l->spans[d->id];
	bool stale = false;
	ssize_t n;
	int r;

	for (;;) {
		if (st->hot) {
			struct fs_hot *h = st->hot;

			fs_hot_use(s, h);
			if (d->vec && rvec_room(d->vec)) {
				/* referenced until the reply is written */
				rvec_add(d->vec, h->data + d->soff, d->k);
				d->vec->held[d->vec->n_held++] = h;
				d->vec->store = s;
				d->in_place = true;
				break;
			}
			pthread_mutex_unlock(&s->lock);
			memcpy(d->dst, h->data + d->soff, d->k);
			pthread_mutex_lock(&s->lock);
			fs_hot_unuse(h);
			break;
		}
		switch (st->state) {
		case FS_SP_PRESENT:
			n = read_present(s, d, st);
			if (n == (ssize_t)d->k)
				goto out_hit;
			if (n == -ESTALE) { /* replaced by a file nobody hashed: check it, once */
				if (st->state == FS_SP_PRESENT)
					st->state = stale ? FS_SP_ABSENT : FS_SP_UNKNOWN;
				stale = true;
				continue;
			}
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
			if (fs_zs_layer(d->l)) {
				r = fs_zs_wait(s, d->l, d->id, d->last, &d->deadline);
				if (r < 0)
					return r;
				continue;
			}
			r = fs_job_push(s, d->l, d->id, fs_claim_run(s, d->l, d->id, d->last));
			if (r < 0)
				return r;
			continue;
		}
	}
out_hit:
	fs_bulk_note(s, d->l, d->id);
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

/*
 * Is this read (spans @first to @last of @l) part of a walk of the layer
 * in tar order, across files? tar, cp -r or a build reading a tree in
 * order read one small file after the next; each file is read whole at
 * once, so per-file readahead never starts, and with small spans every
 * span became one request waited for. Reads that stay in the span the
 * last read ended in, or start in the next, are a walk once
 * FS_WALK_STEPS of them went on into a new span; any other read ends it.
 * Readers scattered over the layer (a build picking files from a cache)
 * rarely take that many steps in a row. s->lock held.
 */
#define FS_WALK_STEPS 3
static bool walk_note(struct fs_layer *l, uint32_t first, uint32_t last)
{
	if (first == l->walk_last || first == l->walk_last + 1)
		l->walk_steps += last > l->walk_last;
	else
		l->walk_steps = 0;
	l->walk_last = last;
	return l->walk_steps >= FS_WALK_STEPS;
}

/* Tar bytes [@u, @u + @k) into @buf, span by span; s->lock held. */
static int read_tar(struct fs_store *s, struct rd *d, uint64_t u, size_t k, unsigned char *buf)
{
	size_t done = 0;
	int r = 0;

	while (done < k && r == 0) {
		r = idx_span_find(d->l->idx, u + done, &d->id) < 0 ? -EIO : 0;
		if (r == 0)
			r = idx_span_get(d->l->idx, d->id, &d->sp) < 0 ? -EIO : 0;
		if (r < 0)
			break;
		d->soff = u + done - d->sp.u_start;
		d->k = (size_t)XMIN_U64(k - done, d->sp.u_len - d->soff);
		d->dst = buf + done;
		d->waited = false;
		d->in_place = false;
		if (d->record)
			fs_profile_note(s, d->l, d->id);
		r = read_span(s, d);
		if (r == 0 && d->vec && !d->in_place)
			rvec_add(d->vec, d->dst, d->k);
		done += d->k;
	}
	return r;
}

ssize_t fs_store_read(struct fs_store *s, unsigned layer_no, uint32_t entry, void *buf,
		      size_t n, uint64_t off)
{
	return fs_store_read_vec(s, layer_no, entry, buf, n, off, NULL);
}

void fs_store_rvec_release(struct fs_rvec *v)
{
	struct fs_store *s = v->store;

	if (!v->n_held)
		return;
	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < v->n_held; i++)
		fs_hot_unuse(v->held[i]);
	pthread_mutex_unlock(&s->lock);
	v->n_held = 0;
	v->n = 0;
}

ssize_t fs_store_read_vec(struct fs_store *s, unsigned layer_no, uint32_t entry, void *buf,
			  size_t n, uint64_t off, struct fs_rvec *v)
{
	struct rd d = { .l = layer_get(s, layer_no), .dst = buf, .record = true, .vec = v };
	const struct idx_entry *e = d.l ? idx_entry_get(d.l->idx, entry) : NULL;
	uint64_t stored, tar_off, k;
	uint32_t first_read = UINT32_MAX, last_read = 0, last_file = 0;
	size_t done = 0;
	bool seq, fetched = false;
	int r = 0;

	if (!e || e->type != IDX_T_REG)
		return -EINVAL;
	if (off >= e->size || n == 0)
		return 0;
	n = (size_t)XMIN_U64(n, e->size - off);
	stored = idx_entry_stored(e);
	if (stored && idx_span_find(d.l->idx, e->data_off + stored - 1, &last_file) < 0)
		return -EIO;
	deadline_timespec(deadline_in_ms(s->o.io_timeout_ms), &d.deadline);
	pthread_mutex_lock(&s->lock);
	if (d.l->bad) {
		pthread_mutex_unlock(&s->lock);
		return -EIO; /* failed its whole-layer check */
	}
	seq = seq_note(s, d.l, entry, off, n);
	/* Piece by piece: the holes of a sparse file are zeros and fetch nothing. */
	while (done < n && r == 0) {
		k = idx_entry_map(e, off + done, n - done, &tar_off);
		if (tar_off == UINT64_MAX) {
			pthread_mutex_unlock(&s->lock);
			memset((unsigned char *)buf + done, 0, (size_t)k);
			pthread_mutex_lock(&s->lock);
			if (v)
				rvec_add(v, (unsigned char *)buf + done, (size_t)k);
		} else {
			r = idx_span_find(d.l->idx, tar_off + k - 1, &last_read) < 0 ? -EIO : 0;
			if (r == 0 && first_read == UINT32_MAX)
				r = idx_span_find(d.l->idx, tar_off, &first_read) < 0 ? -EIO : 0;
			d.last = off == 0 || seq ? last_file : last_read;
			if (r == 0)
				r = read_tar(s, &d, tar_off, (size_t)k, (unsigned char *)buf + done);
			fetched = true;
		}
		done += (size_t)k;
	}
	if (r == 0 && fetched && seq && s->o.readahead_spans && last_read < last_file)
		fs_readahead(s, d.l, last_read + 1,
			     (uint32_t)XMIN_U64(last_file, last_read + fs_ra_spans(s, d.l)),
			     last_file);
	else if (r == 0 && fetched && s->o.readahead_spans && walk_note(d.l, first_read, last_read) &&
		 last_read + 1 < d.l->info.n_spans)
		fs_readahead(s, d.l, last_read + 1,
			     (uint32_t)XMIN_U64(d.l->info.n_spans - 1, last_read + fs_ra_spans(s, d.l)),
			     d.l->info.n_spans - 1);
	pthread_mutex_unlock(&s->lock);
	return r < 0 ? r : (ssize_t)n;
}

ssize_t fs_store_read_tar(struct fs_store *s, struct fs_layer *l, void *buf, size_t n,
			  uint64_t u)
{
	struct rd d = { .l = l };
	int r;

	if (u >= l->info.tar_size || n == 0)
		return 0;
	n = (size_t)XMIN_U64(n, l->info.tar_size - u);
	if (idx_span_find(l->idx, u + n - 1, &d.last) < 0)
		return -EIO;
	deadline_timespec(deadline_in_ms(s->o.io_timeout_ms), &d.deadline);
	pthread_mutex_lock(&s->lock);
	r = read_tar(s, &d, u, n, buf);
	pthread_mutex_unlock(&s->lock);
	return r < 0 ? r : (ssize_t)n;
}
