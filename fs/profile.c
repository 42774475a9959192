/* SPDX-License-Identifier: MIT */
/*
 * Recording and replaying access profiles (fs/profile.h).
 *
 * Recording: the first read of each span (fs_store_read(), not the
 * whole-layer check nor prefetch) appends (layer, span) to a list, so the
 * list is the order in which the build first needed its spans.
 *
 * Replay: the profile's spans are marked (FS_PF_MARK) and queued in its
 * order; idle workers take them as background work, after readahead hints
 * and before -o prefetch=all (prefetch.c), each run reaching over the
 * marked spans that follow it in the layer (one Range request, up to
 * FS_RUN_MAX_C and half the memory budget), claimed BUSY like any fetch:
 * a reader that needs a span in flight waits for that fetch
 * (fetch.c, wait_span()) and never fetches it again, and the replay skips
 * spans a reader or the cache dir already has. On a single-frame zstd
 * layer the replay asks the layer's forward pass for the run instead
 * (fs/zstream.c): those spans count as claimed too. At a span's first read
 * the replay is scored: hit (fetched before it was read), wait (in
 * flight), late (the reader came first and fetched it), local (in the
 * cache dir or memory already: nothing to fetch, a warm cache).
 *
 * Everything here runs under s->lock but fs_store_profile_replay()'s
 * parsing and fs_store_record_start(), which take it.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fs/profile.h"
#include "fs/store_int.h"

struct pf_ref {
	struct fs_layer *l;
	uint32_t id;
};

struct rec_ref {
	uint32_t layer, id;
};

struct fs_prof {
	/* replay */
	const char *source;   /* "none", "pinned", "file" */
	struct pf_ref *order;
	size_t n, next;
	uint64_t stale, prefetched, runs, hits, waits, late, local;
	/* recording */
	bool recording;
	struct rec_ref *rec;
	size_t n_rec, cap_rec;
	uint64_t rec_dropped;
};

/* s->prof, made on first use; NULL on ENOMEM. s->lock held. */
static struct fs_prof *prof_get(struct fs_store *s)
{
	if (!s->prof && (s->prof = calloc(1, sizeof(*s->prof))))
		s->prof->source = "none";
	return s->prof;
}

int fs_store_record_start(struct fs_store *s)
{
	struct fs_prof *p;

	pthread_mutex_lock(&s->lock);
	p = prof_get(s);
	if (p)
		p->recording = true;
	pthread_mutex_unlock(&s->lock);
	return p ? 0 : -ENOMEM;
}

static void record(struct fs_prof *p, struct fs_layer *l, uint32_t id)
{
	if (p->n_rec == p->cap_rec) {
		size_t cap = p->cap_rec ? p->cap_rec * 2 : 256;
		struct rec_ref *v;

		if (p->n_rec == FS_PROFILE_MAX_SPANS || !(v = realloc(p->rec, cap * sizeof(*v)))) {
			p->rec_dropped++;
			return;
		}
		p->rec = v;
		p->cap_rec = cap;
	}
	p->rec[p->n_rec++] = (struct rec_ref){ l->no, id };
}

void fs_profile_note(struct fs_store *s, struct fs_layer *l, uint32_t id)
{
	struct fs_span_st *st = &l->spans[id];
	struct fs_prof *p = s->prof;

	if (!p || (st->pf & FS_PF_SEEN))
		return;
	st->pf |= FS_PF_SEEN;
	if (st->pf & FS_PF_CLAIMED) {
		/* a pass's span is hot, verified, while still BUSY with its cache write */
		if (st->hot || st->state == FS_SP_PRESENT)
			p->hits++;
		else if (st->state == FS_SP_BUSY || (st->zs_asked && st->state == FS_SP_ABSENT))
			p->waits++; /* in flight, or its pass has yet to reach it */
		else
			p->late++; /* its fetch failed: the reader fetches it */
	} else if (st->pf & FS_PF_MARK) {
		if (st->hot || st->state == FS_SP_PRESENT || st->state == FS_SP_UNKNOWN)
			p->local++;
		else
			p->late++;
	}
	if (p->recording)
		record(p, l, id);
}

/*
 * The recorded list is copied under s->lock and written out without it:
 * formatting up to FS_PROFILE_MAX_SPANS lines there held up every reader
 * and worker of the mount, as often as anyone read the profile xattr.
 * A published layer and its index stay until the store closes; more may
 * be published meanwhile (counted under the lock, with the copy).
 */
char *fs_store_profile_text(struct fs_store *s, size_t *len)
{
	struct rec_ref *rec = NULL;
	struct dbuf b;
	struct idx_span sp;
	size_t n = 0;
	unsigned n_layers;
	int r;

	pthread_mutex_lock(&s->lock);
	n_layers = s->n_layers;
	r = s->prof && s->prof->recording ? 0 : -ENOENT;
	if (r == 0 && s->prof->n_rec) {
		n = s->prof->n_rec;
		rec = malloc(n * sizeof(*rec));
		if (rec)
			memcpy(rec, s->prof->rec, n * sizeof(*rec));
		else
			r = -ENOMEM;
	}
	pthread_mutex_unlock(&s->lock);
	dbuf_init(&b, FS_PROFILE_MAX_BYTES);
	if (r == 0)
		r = dbuf_add_str(&b, "stratafs-profile 1\n");
	for (unsigned i = 0; r == 0 && i < n_layers; i++)
		r = dbuf_printf(&b, "layer %s\n", s->layers[i]->digest);
	for (size_t i = 0; r == 0 && i < n; i++) {
		const struct rec_ref *e = &rec[i];

		if (e->layer >= n_layers || idx_span_get(s->layers[e->layer]->idx, e->id, &sp) < 0)
			continue;
		r = dbuf_printf(&b, "span %u %llu %llu\n", e->layer, (unsigned long long)sp.u_start,
				(unsigned long long)sp.u_len);
	}
	free(rec);
	if (r < 0) {
		dbuf_release(&b);
		return NULL;
	}
	return dbuf_take(&b, len);
}

/* Mark the spans of @d that @s has, in order; the others are counted stale. s->lock held. */
static int replay_mark(struct fs_store *s, struct fs_prof *p, const struct fs_profile_doc *d,
		       struct fs_layer **map)
{
	struct idx_span sp;
	uint32_t id;

	p->order = calloc(d->n_spans ? d->n_spans : 1, sizeof(*p->order));
	if (!p->order)
		return -ENOMEM;
	for (size_t i = 0; i < d->n_layers; i++) {
		map[i] = NULL;
		for (unsigned k = 0; k < s->n_layers && !map[i]; k++)
			if (strcmp(s->layers[k]->digest, d->digests[i]) == 0)
				map[i] = s->layers[k];
	}
	for (size_t i = 0; i < d->n_spans; i++) {
		const struct fs_profile_span *e = &d->spans[i];
		struct fs_layer *l = map[e->layer];

		if (!l || idx_span_find(l->idx, e->u_start, &id) < 0 ||
		    idx_span_get(l->idx, id, &sp) < 0 || sp.u_start != e->u_start ||
		    sp.u_len != e->u_len) {
			p->stale++;
			continue;
		}
		if (l->spans[id].pf & FS_PF_MARK)
			continue; /* named twice: its first place counts */
		l->spans[id].pf |= FS_PF_MARK;
		p->order[p->n++] = (struct pf_ref){ l, id };
	}
	return 0;
}

int fs_store_profile_replay(struct fs_store *s, const char *text, size_t len, const char *source)
{
	struct fs_profile_doc d;
	struct fs_layer **map = NULL;
	struct fs_prof *p;
	int r = fs_profile_parse(text, len, &d);

	if (r < 0) {
		log_warn("refusing the %s access profile: %s; no profile prefetch", source,
			 r == -EFBIG ? "over its bounds" : r == -ENOMEM ? "out of memory" :
								 "malformed");
		return r;
	}
	map = calloc(d.n_layers ? d.n_layers : 1, sizeof(*map));
	pthread_mutex_lock(&s->lock);
	p = prof_get(s);
	r = !p || !map ? -ENOMEM : p->order ? -EALREADY : replay_mark(s, p, &d, map);
	if (r == 0) {
		p->source = source;
		pthread_cond_broadcast(&s->work);
		if (p->stale)
			log_info("access profile: %llu of its %zu spans name layers or spans this "
				 "image does not have: ignored", (unsigned long long)p->stale,
				 d.n_spans);
		log_info("access profile (%s): prefetching %zu spans in the order the last build "
			 "read them", source, p->n);
	}
	pthread_mutex_unlock(&s->lock);
	free(map);
	fs_profile_doc_release(&d);
	return r;
}

static bool claimable(const struct fs_layer *l, uint32_t id)
{
	const struct fs_span_st *st = &l->spans[id];

	/* CLAIMED and still ABSENT: asked of a forward pass already */
	return st->state == FS_SP_ABSENT && !st->hot && !(st->pf & FS_PF_CLAIMED) && !l->bad;
}

bool fs_profile_pending(const struct fs_store *s)
{
	return s->prof && s->prof->next < s->prof->n;
}

struct fs_job *fs_profile_bg_next(struct fs_store *s, bool *full)
{
	struct fs_prof *p = s->prof;
	struct fs_job *j = NULL;

	while (!j && p->next < p->n) {
		struct fs_layer *l = p->order[p->next].l;
		uint32_t id = p->order[p->next].id, last = id;

		if (!claimable(l, id)) {
			p->next++; /* read, fetched or cached already */
			continue;
		}
		/* the marked neighbours after it ride in the same Range request */
		while (last + 1 < l->info.n_spans && (l->spans[last + 1].pf & FS_PF_MARK) &&
		       claimable(l, last + 1))
			last++;
		j = fs_bg_job(s, l, id, last, full);
		if (*full)
			return NULL; /* no room now: keep the place */
		p->next++;
		if (!j && fs_zs_layer(l) && l->spans[id].zs_asked) {
			/* the layer's forward pass was asked for them instead */
			for (uint32_t i = id; i <= last; i++)
				l->spans[i].pf |= FS_PF_CLAIMED;
			p->prefetched += last - id + 1;
			p->runs++;
		}
		if (!j)
			continue;
		for (uint32_t i = id; i < id + j->count; i++)
			l->spans[i].pf |= FS_PF_CLAIMED;
		p->prefetched += j->count;
		p->runs++;
	}
	return j;
}

json_t *fs_profile_stats(struct fs_store *s)
{
	const struct fs_prof *p = s->prof;
	static const struct fs_prof none = { .source = "none" };

	if (!p)
		p = &none;
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "source",
			 p->source, "spans", (json_int_t)p->n, "stale", (json_int_t)p->stale,
			 "prefetched", (json_int_t)p->prefetched, "runs", (json_int_t)p->runs,
			 "hits", (json_int_t)p->hits, "waits", (json_int_t)p->waits,
			 "late", (json_int_t)p->late, "local", (json_int_t)p->local,
			 "recorded", (json_int_t)p->n_rec,
			 "record_dropped", (json_int_t)p->rec_dropped);
}

void fs_profile_free(struct fs_store *s)
{
	if (!s->prof)
		return;
	free(s->prof->order);
	free(s->prof->rec);
	free(s->prof);
	s->prof = NULL;
}
