/* SPDX-License-Identifier: MIT */
/*
 * fs_store_stats_json(): the numbers `strata stats` shows, built with a
 * bounded dbuf (fs/ stays free of jansson). Every string printed is a
 * validated digest, a constant or made of them and numbers (the index
 * choice), so nothing needs escaping.
 */
#include <errno.h>
#include <stdlib.h>

#include "common/dbuf.h"
#include "fs/foreign.h"
#include "fs/store_int.h"

#define STATS_MAX (4u << 20)

struct totals {
	uint64_t bytes, spans_fetched, spans_total, spans_present, fetches, hits, misses, errors;
};

static uint32_t present_count(const struct fs_layer *l)
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < l->info.n_spans; i++)
		n += l->spans[i].state == FS_SP_PRESENT || l->spans[i].state == FS_SP_UNKNOWN;
	return n;
}

static double frac(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

static int layer_json(struct dbuf *b, const struct fs_layer *l, struct totals *t, bool comma)
{
	uint32_t present = present_count(l);

	t->bytes += l->bytes_fetched;
	t->spans_fetched += l->spans_fetched;
	t->spans_total += l->info.n_spans;
	t->spans_present += present;
	t->fetches += l->fetches;
	t->hits += l->hits;
	t->misses += l->misses;
	t->errors += l->errors;
	return dbuf_printf(b,
		"%s{\"digest\":\"%s\",\"index_source\":\"%s\",\"index_trust\":\"%s\","
		"\"index_digest\":\"%s\",\"index_format\":\"%s\",\"index_choice\":\"%s\","
		"\"check\":\"%s\",\"compression\":\"%s\","
		"\"blob_size\":%llu,\"tar_size\":%llu,\"bytes_fetched\":%llu,"
		"\"spans_total\":%u,\"spans_fetched\":%llu,\"spans_cached\":%u,"
		"\"fraction_fetched\":%.4f,\"fetches\":%llu,\"cache_hits\":%llu,"
		"\"cache_misses\":%llu,\"errors\":%llu,\"mode\":\"%s\",\"access_density\":%.4f,"
		"\"stream_passes\":%llu,\"stream_restarts\":%llu}",
		comma ? "," : "", l->digest, l->source, l->trust, l->index_digest,
		fs_foreign_label(l), l->choice, fs_check_name((enum fs_check)l->check), idx_comp_name(l->info.comp),
		(unsigned long long)l->info.blob_size, (unsigned long long)l->info.tar_size,
		(unsigned long long)l->bytes_fetched, l->info.n_spans,
		(unsigned long long)l->spans_fetched, present,
		frac(l->spans_fetched, l->info.n_spans), (unsigned long long)l->fetches,
		(unsigned long long)l->hits, (unsigned long long)l->misses,
		(unsigned long long)l->errors, fs_layer_mode(l), frac(l->u_seen, l->info.tar_size),
		(unsigned long long)l->zs.passes, (unsigned long long)l->zs.restarts);
}

static int totals_json(struct dbuf *b, struct fs_store *s, const struct totals *t)
{
	struct reg_stats rs = { 0 };

	reg_client_get_stats(s->client, &rs);
	return dbuf_printf(b,
		"],\"totals\":{\"bytes_fetched\":%llu,\"spans_fetched\":%llu,"
		"\"spans_total\":%llu,\"spans_cached\":%llu,\"fraction_fetched\":%.4f,"
		"\"fetches\":%llu,\"cache_hits\":%llu,\"cache_misses\":%llu,\"errors\":%llu,"
		"\"timeouts\":%llu,\"check_failures\":%llu,\"index_build_bytes\":%llu,"
		"\"requests\":%llu,"
		"\"registry_bytes_in\":%llu,\"registry_retries\":%llu},"
		"\"fetch_latency_ms\":{\"count\":%llu,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,"
		"\"max\":%.3f}",
		(unsigned long long)t->bytes, (unsigned long long)t->spans_fetched,
		(unsigned long long)t->spans_total, (unsigned long long)t->spans_present,
		frac(t->spans_fetched, t->spans_total), (unsigned long long)t->fetches,
		(unsigned long long)t->hits, (unsigned long long)t->misses,
		(unsigned long long)t->errors, (unsigned long long)s->timeouts,
		(unsigned long long)s->check_failures, (unsigned long long)s->build_bytes, (unsigned long long)rs.requests,
		(unsigned long long)rs.bytes_in, (unsigned long long)rs.retries,
		(unsigned long long)s->lat.count, fs_hist_quantile(&s->lat, 0.5) / 1000.0,
		fs_hist_quantile(&s->lat, 0.9) / 1000.0, fs_hist_quantile(&s->lat, 0.99) / 1000.0,
		s->lat.max / 1000.0);
}

char *fs_store_stats_json(struct fs_store *s)
{
	struct totals t = { 0 };
	struct dbuf b;
	int r;

	dbuf_init(&b, STATS_MAX);
	pthread_mutex_lock(&s->lock);
	r = dbuf_add_str(&b, "{\"layers\":[");
	for (unsigned i = 0; i < s->n_layers && r == 0; i++)
		r = layer_json(&b, s->layers[i], &t, i > 0);
	if (r == 0)
		r = totals_json(&b, s, &t);
	if (r == 0)
		r = fs_profile_stats_json(s, &b);
	if (r == 0)
		r = dbuf_add_str(&b, "}");
	pthread_mutex_unlock(&s->lock);
	if (r < 0) {
		dbuf_release(&b);
		return NULL;
	}
	return dbuf_take(&b, NULL);
}
