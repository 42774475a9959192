/* SPDX-License-Identifier: MIT */
/*
 * Dense access turns into bulk fetch.
 *
 * Lazy fetching pays one round trip per run of missing spans, in the order
 * a build asks; once a build has read most of a layer, fetching the rest at
 * once is cheaper (SOCI's users report lazy loading losing past about 80 %
 * of the bytes read). The rule: when the spans readers have read from
 * (hits and misses alike, each counted once) reach FS_BULK_PCT % of the
 * layer's tar bytes, the layer switches to bulk mode, logged and shown by
 * `strata stats` (mode "bulk"). A threshold below 80 % leaves the rest of
 * the layer to arrive while the build still reads: at 60 % at most 40 % of
 * it is fetched that the build may not read.
 *
 * In bulk mode idle workers take the layer's missing spans in order, as
 * background runs (fs_bg_next() asks here before the prefetch cursor), as
 * many at once as the memory budget and bg_max allow: parallel Range
 * requests, each decoded on its own worker, so on every core. Only ABSENT
 * spans are claimed, so no byte is fetched twice and bytes fetched stay
 * within the blob size (plus the one-byte overlaps of gzip checkpoints).
 * A forward-pass layer (single-frame zstd, fs/zstream.c) cannot decode in
 * parallel: its pass target becomes the last span, one sequential pass
 * (if its pass has ended, a new one starts at the frame start: the rest
 * of the layer cannot be reached otherwise).
 */
#include <stdlib.h>

#include "common/log.h"
#include "fs/store_int.h"
#include "index/foreign.h"
#include "index/zpass.h"

#define FS_BULK_PCT 60

const char *fs_layer_mode(const struct fs_layer *l)
{
	if (l->bulk)
		return "bulk";
	if (l->zs.mode)
		return l->zs.mode == 2 ? "stream" : "lazy";
	/* not read yet */
	return l->foreign == IDX_FOREIGN_NONE && idx_zpass_wanted(l->idx) ? "stream" : "lazy";
}

/* Has @l a span nobody has fetched yet? */
static bool has_absent(const struct fs_layer *l)
{
	for (uint32_t i = 0; i < l->info.n_spans; i++)
		if (l->spans[i].state == FS_SP_ABSENT && !l->spans[i].hot)
			return true;
	return false;
}

static void bulk_start(struct fs_store *s, struct fs_layer *l)
{
	l->bulk = true;
	l->bulk_span = 0;
	log_info("layer '%s': readers have read %.0f %% of it, fetching the rest in bulk",
		 l->digest, 100.0 * (double)l->u_seen / (double)l->info.tar_size);
	if (fs_zs_layer(l)) {
		uint32_t from = l->zs.pos != FS_ZS_NONE ? l->zs.pos : 0;

		while (from < l->info.n_spans &&
		       (l->spans[from].state != FS_SP_ABSENT || l->spans[from].hot))
			from++;
		if (from < l->info.n_spans)
			fs_zs_want(s, l, from, l->info.n_spans - 1);
		return;
	}
	pthread_cond_broadcast(&s->work);
}

void fs_bulk_note(struct fs_store *s, struct fs_layer *l, uint32_t id)
{
	struct idx_span sp;

	if (l->spans[id].seen || idx_span_get(l->idx, id, &sp) < 0)
		return;
	l->spans[id].seen = true;
	l->u_seen += sp.u_len;
	if (!l->bulk && l->info.n_spans > 1 &&
	    l->u_seen * 100 >= (uint64_t)FS_BULK_PCT * l->info.tar_size && has_absent(l))
		bulk_start(s, l);
}

struct fs_job *fs_bulk_next(struct fs_store *s, bool *full)
{
	for (unsigned i = 0; i < s->n_layers && !*full; i++) {
		struct fs_layer *l = s->layers[i];
		struct fs_job *j;

		if (!l->bulk || l->bad || l->zs.mode == 2)
			continue;
		while (l->bulk_span < l->info.n_spans &&
		       (l->spans[l->bulk_span].state != FS_SP_ABSENT || l->spans[l->bulk_span].hot))
			l->bulk_span++;
		if (l->bulk_span >= l->info.n_spans)
			continue;
		j = fs_bg_job(s, l, l->bulk_span, l->info.n_spans - 1, full);
		if (j) {
			l->bulk_span += j->count;
			return j;
		}
	}
	return NULL;
}
