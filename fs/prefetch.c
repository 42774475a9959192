/* SPDX-License-Identifier: MIT */
/*
 * Background work for idle workers, lowest priority last: readahead hints
 * queued by sequential readers, then the replay of an access profile
 * (fs/profile.c: what the last build read, in its order), then the
 * prefetch cursor, which walks every span of every layer once (layers
 * opened later are walked too), or only the spans marked wanted
 * (fs_store_want(): what strata extract is about to read).
 * All claim only ABSENT spans, so they never duplicate a fetch and skip
 * what the cache dir already holds. Once the cursor has passed a layer's
 * last span, the layer's whole-layer check is queued (layer_check.c).
 * Everything here runs under s->lock (fs_store_want() and
 * fs_store_prefetch_wanted(), at the end, take it).
 */
#include <errno.h>
#include <stdlib.h>

#include "common/xmath.h"
#include "fs/store_int.h"

uint32_t fs_ra_spans(const struct fs_store *s, const struct fs_layer *l)
{
	uint64_t span = l->info.span_size ? l->info.span_size : FS_RA_MIN_BYTES;
	uint64_t n = (FS_RA_MIN_BYTES + span - 1) / span;

	if (!s->o.readahead_spans)
		return 0;
	return (uint32_t)XMIN_U64(XMAX(n, (uint64_t)s->o.readahead_spans), FS_RA_MAX_SPANS);
}

void fs_readahead(struct fs_store *s, struct fs_layer *l, uint32_t first, uint32_t last,
		  uint32_t limit)
{
	struct fs_ra_hint *h;
	uint32_t id;

	for (id = first; id <= last; id++)
		if (l->spans[id].state == FS_SP_ABSENT && !l->spans[id].hot)
			break;
	if (id > last || s->ra_len == FS_RA_QUEUE)
		return; /* nothing to fetch, or too much already queued: drop the hint */
	h = &s->ra[(s->ra_head + s->ra_len) % FS_RA_QUEUE];
	h->l = l;
	h->first = id;
	h->last = (uint32_t)XMIN_U64(limit, (uint64_t)id + fs_ra_spans(s, l) - 1);
	s->ra_len++;
	pthread_cond_signal(&s->work);
}

/*
 * Claim a run from @id and admit it. *full is set when it did not fit in
 * memory: the claim is undone at once (under the same lock hold, so no
 * reader saw it) and the caller keeps its place for later.
 */
struct fs_job *fs_bg_job(struct fs_store *s, struct fs_layer *l, uint32_t id, uint32_t last,
			 bool *full)
{
	uint32_t count = fs_claim_run(s, l, id, last);
	struct fs_job *j = NULL;
	uint64_t c, u;

	if (count == 0)
		return NULL;
	fs_run_size(l, id, count, &c, &u);
	*full = !fs_mem_admit(s, c, u, false);
	if (!*full && !(j = calloc(1, sizeof(*j)))) {
		fs_mem_cbuf_put(s, c);
		fs_mem_job_end(s, false);
	}
	if (!j) {
		for (uint32_t i = id; i < id + count; i++)
			l->spans[i].state = FS_SP_ABSENT;
		return NULL;
	}
	j->l = l;
	j->first = id;
	j->count = count;
	j->cbytes = c;
	j->umax = u;
	j->background = true;
	return j;
}

static bool claimable(const struct fs_layer *l, uint32_t id)
{
	return l->spans[id].state == FS_SP_ABSENT && !l->spans[id].hot;
}

/* The cursor's next span from @id: claimable (and wanted, in wanted mode). */
static bool cursor_takes(const struct fs_store *s, const struct fs_layer *l, uint32_t id)
{
	return claimable(l, id) && (!s->pf_wanted || l->spans[id].want);
}

/* The last span of the run the cursor may claim from @id. */
static uint32_t cursor_last(const struct fs_store *s, const struct fs_layer *l, uint32_t id)
{
	uint32_t last = id;

	if (!s->pf_wanted)
		return l->info.n_spans - 1;
	while (last + 1 < l->info.n_spans && l->spans[last + 1].want)
		last++;
	return last;
}

static struct fs_job *next_hint(struct fs_store *s, bool *full)
{
	struct fs_job *j = NULL;

	while (!j && !*full && s->ra_len) {
		struct fs_ra_hint h = s->ra[s->ra_head];
		uint32_t id;

		for (id = h.first; id <= h.last && !j && !*full; id++)
			if (claimable(h.l, id))
				j = fs_bg_job(s, h.l, id, h.last, full);
		if (*full) {
			s->ra[s->ra_head].first = id - 1; /* keep the hint for later */
			break;
		}
		s->ra_head = (s->ra_head + 1) % FS_RA_QUEUE;
		s->ra_len--;
	}
	return j;
}

struct fs_job *fs_bg_next(struct fs_store *s)
{
	bool full = false;
	struct fs_job *j = next_hint(s, &full);

	if (!j && !full && s->prof)
		j = fs_profile_bg_next(s, &full);
	if (!j && !full)
		j = fs_bulk_next(s, &full); /* fs/bulk.c: layers read densely */

	while (!j && !full && s->pf_active && s->pf_layer < s->n_layers) {
		struct fs_layer *l = s->layers[s->pf_layer];

		while (s->pf_span < l->info.n_spans && !cursor_takes(s, l, s->pf_span))
			s->pf_span++;
		if (s->pf_span < l->info.n_spans) {
			j = fs_bg_job(s, l, s->pf_span, cursor_last(s, l, s->pf_span), &full);
			s->pf_span += j ? j->count : full ? 0 : 1;
		} else {
			/*
			 * every span claimed or present: the layer is read in
			 * full, check it (in wanted mode, only if all were
			 * wanted) against the config's diff_id. Not with one
			 * worker: the check would wait for fetches that only
			 * its own thread could run.
			 */
			bool whole = !s->pf_wanted || l->n_want == l->info.n_spans;

			if (whole && l->diff_id_known && s->n_workers > 1 &&
			    l->check == FS_CHECK_NONE && (j = fs_check_job(l)))
				l->check = FS_CHECK_QUEUED;
			s->pf_layer++;
			s->pf_span = 0;
		}
	}
	return j;
}

int fs_store_want(struct fs_store *s, unsigned layer_no, uint32_t entry)
{
	const struct idx_entry *e;
	struct fs_layer *l;
	uint32_t first, last;
	uint64_t stored;
	int r = -EINVAL;

	pthread_mutex_lock(&s->lock);
	l = layer_no < s->n_layers ? s->layers[layer_no] : NULL;
	e = l ? idx_entry_get(l->idx, entry) : NULL;
	if (!e || e->type != IDX_T_REG)
		goto out_unlock;
	r = 0;
	/* the bytes it has in the tar: a sparse file's holes are in no span */
	stored = idx_entry_stored(e);
	if (stored == 0)
		goto out_unlock;
	r = -EIO;
	if (idx_span_find(l->idx, e->data_off, &first) < 0 ||
	    idx_span_find(l->idx, e->data_off + stored - 1, &last) < 0)
		goto out_unlock;
	for (uint32_t id = first; id <= last; id++) {
		l->n_want += !l->spans[id].want;
		l->spans[id].want = true;
	}
	r = 0;
out_unlock:
	pthread_mutex_unlock(&s->lock);
	return r;
}

void fs_store_prefetch_wanted(struct fs_store *s)
{
	pthread_mutex_lock(&s->lock);
	if (!s->pf_active) {
		s->pf_wanted = true;
		s->pf_active = true;
		s->pf_layer = 0;
		s->pf_span = 0;
	}
	pthread_cond_broadcast(&s->work);
	pthread_mutex_unlock(&s->lock);
}
