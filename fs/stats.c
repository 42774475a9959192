/* SPDX-License-Identifier: MIT */
/*
 * fs_store_stats(): the numbers `strata stats` shows, as a jansson object
 * (keys in this order; fractions rounded to 4 decimals, latencies to 3).
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>

#include "fs/foreign.h"
#include "fs/stats_json.h"
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

static json_t *frac(uint64_t a, uint64_t b)
{
	return json_real(fs_stats_round(b ? (double)a / (double)b : 0.0, 4));
}

static json_t *num(uint64_t v)
{
	return json_integer((json_int_t)v);
}

static json_t *layer_json(const struct fs_layer *l, struct totals *t)
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
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o,"
			 " s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:o, s:o}",
			 "digest", l->digest, "index_source", l->source, "index_trust", l->trust,
			 "index_digest", l->index_digest, "index_format", fs_foreign_label(l),
			 "index_choice", l->choice, "check", fs_check_name((enum fs_check)l->check),
			 "compression", idx_comp_name(l->info.comp),
			 "blob_size", num(l->info.blob_size), "tar_size", num(l->info.tar_size),
			 "bytes_fetched", num(l->bytes_fetched), "spans_total", num(l->info.n_spans),
			 "spans_fetched", num(l->spans_fetched), "spans_cached", num(present),
			 "fraction_fetched", frac(l->spans_fetched, l->info.n_spans),
			 "fetches", num(l->fetches), "cache_hits", num(l->hits),
			 "cache_misses", num(l->misses), "errors", num(l->errors),
			 "mode", fs_layer_mode(l), "access_density", frac(l->u_seen, l->info.tar_size),
			 "stream_passes", num(l->zs.passes), "stream_restarts", num(l->zs.restarts));
}

static json_t *latency_json(const struct fs_store *s)
{
	return json_pack("{s:o, s:o, s:o, s:o, s:o}", "count", num(s->lat.count),
			 "p50", json_real(fs_stats_round(fs_hist_quantile(&s->lat, 0.5) / 1000.0, 3)),
			 "p90", json_real(fs_stats_round(fs_hist_quantile(&s->lat, 0.9) / 1000.0, 3)),
			 "p99", json_real(fs_stats_round(fs_hist_quantile(&s->lat, 0.99) / 1000.0, 3)),
			 "max", json_real(fs_stats_round(s->lat.max / 1000.0, 3)));
}

static json_t *totals_json(struct fs_store *s, const struct totals *t)
{
	struct reg_stats rs = { 0 };

	reg_client_get_stats(s->client, &rs);
	return json_pack("{s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o,"
			 " s:o}",
			 "bytes_fetched", num(t->bytes), "spans_fetched", num(t->spans_fetched),
			 "spans_total", num(t->spans_total), "spans_cached", num(t->spans_present),
			 "fraction_fetched", frac(t->spans_fetched, t->spans_total),
			 "fetches", num(t->fetches), "cache_hits", num(t->hits),
			 "cache_misses", num(t->misses), "errors", num(t->errors),
			 "timeouts", num(s->timeouts), "check_failures", num(s->check_failures),
			 "index_build_bytes", num(s->build_bytes), "requests", num(rs.requests),
			 "registry_bytes_in", num(rs.bytes_in), "registry_retries", num(rs.retries));
}

json_t *fs_store_stats(struct fs_store *s)
{
	struct totals t = { 0 };
	json_t *layers = json_array(), *j = NULL;
	int r = layers ? 0 : -ENOMEM;

	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < s->n_layers && r == 0; i++)
		r = json_array_append_new(layers, layer_json(s->layers[i], &t));
	if (r == 0)
		j = json_pack("{s:o, s:o, s:o, s:o}", "layers", layers, "totals", totals_json(s, &t),
			      "fetch_latency_ms", latency_json(s), "profile", fs_profile_stats(s));
	else
		json_decref(layers);
	pthread_mutex_unlock(&s->lock);
	return j;
}

char *fs_store_stats_json(struct fs_store *s)
{
	return fs_stats_json_dump(fs_store_stats(s), STATS_MAX, NULL);
}
