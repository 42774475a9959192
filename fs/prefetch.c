/* SPDX-License-Identifier: MIT */
/*
 * Background work for idle workers, lowest priority last: readahead hints
 * queued by sequential readers, then the prefetch_all cursor, which walks
 * every span of every layer once (layers opened later are walked too).
 * Both claim only ABSENT spans, so they never duplicate a fetch and skip
 * what the cache dir already holds. Once the cursor has passed a layer's
 * last span, the layer's whole-layer check is queued (layer_check.c).
 * Everything here runs under s->lock.
 */
#include <stdlib.h>

#include "fs/store_int.h"

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
	h->last = (uint32_t)XMIN_U64(limit, (uint64_t)id + s->o.readahead_spans - 1);
	s->ra_len++;
	pthread_cond_signal(&s->work);
}

/*
 * Claim a run from @id and admit it. *full is set when it did not fit in
 * memory: the claim is undone at once (under the same lock hold, so no
 * reader saw it) and the caller keeps its place for later.
 */
static struct fs_job *bg_job(struct fs_store *s, struct fs_layer *l, uint32_t id, uint32_t last,
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

static struct fs_job *next_hint(struct fs_store *s, bool *full)
{
	struct fs_job *j = NULL;

	while (!j && !*full && s->ra_len) {
		struct fs_ra_hint h = s->ra[s->ra_head];
		uint32_t id;

		for (id = h.first; id <= h.last && !j && !*full; id++)
			if (claimable(h.l, id))
				j = bg_job(s, h.l, id, h.last, full);
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

	while (!j && !full && s->pf_active && s->pf_layer < s->n_layers) {
		struct fs_layer *l = s->layers[s->pf_layer];

		while (s->pf_span < l->info.n_spans && !claimable(l, s->pf_span))
			s->pf_span++;
		if (s->pf_span < l->info.n_spans) {
			j = bg_job(s, l, s->pf_span, l->info.n_spans - 1, &full);
			s->pf_span += j ? j->count : full ? 0 : 1;
		} else {
			/* every span claimed or present: the layer is read in full, check it */
			if (l->check == FS_CHECK_NONE && (j = fs_check_job(l)))
				l->check = FS_CHECK_QUEUED;
			s->pf_layer++;
			s->pf_span = 0;
		}
	}
	return j;
}
