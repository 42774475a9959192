/* SPDX-License-Identifier: MIT */
/*
 * BuildKit cache config (application/vnd.buildkit.cacheconfig.v0, see
 * BuildKit's cache/remotecache/v1 spec). Two traps: "parent" has Go's omitempty, so a
 * missing parent is 0 (not -1); and a record's "layers" key holds results.
 * Everything is validated before the caller sees it: indexes in range,
 * parents acyclic, inputs non-empty.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/log.h"
#include "registry/registry_int.h"

#define MAX_ITEMS 1000000

static void record_release(struct reg_cache_record *rec)
{
	free(rec->digest);
	for (size_t i = 0; i < rec->n_results; i++)
		free(rec->results[i].created_at);
	free(rec->results);
	for (size_t i = 0; i < rec->n_chains; i++)
		free(rec->chains[i]);
	free(rec->chains);
	free(rec->chain_lens);
	for (size_t i = 0; i < rec->n_inputs; i++) {
		for (size_t j = 0; rec->inputs[i] && j < rec->input_lens[i]; j++)
			free(rec->inputs[i][j].selector);
		free(rec->inputs[i]);
	}
	free(rec->inputs);
	free(rec->input_lens);
}

void reg_cache_config_free(struct reg_cache_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_layers; i++) {
		free(cfg->layers[i].media_type);
		free(cfg->layers[i].diff_id);
	}
	free(cfg->layers);
	for (size_t i = 0; i < cfg->n_records; i++)
		record_release(&cfg->records[i]);
	free(cfg->records);
	free(cfg);
}

/* An optional array: 0 items when absent; -EBADMSG when not an array. */
static int array_of(json_t *o, const char *key, json_t **arr, size_t *n)
{
	*arr = json_object_get(o, key);
	*n = 0;
	if (!*arr || json_is_null(*arr))
		return 0;
	if (!json_is_array(*arr) || json_array_size(*arr) > MAX_ITEMS)
		return -EBADMSG;
	*n = json_array_size(*arr);
	return 0;
}

static int int_in(json_t *v, long long lo, long long hi, int *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return -EBADMSG;
	*out = (int)json_integer_value(v);
	return 0;
}

static int parse_layer(json_t *o, size_t n_layers, struct reg_cache_layer *l)
{
	json_t *blob = json_object_get(o, "blob");
	json_t *parent = json_object_get(o, "parent");
	json_t *ann = json_object_get(o, "annotations");
	int r;

	if (!json_is_object(o) || !json_is_string(blob) || !digest_is_valid(json_string_value(blob)))
		return -EBADMSG;
	memcpy(l->blob, json_string_value(blob), strlen(json_string_value(blob)) + 1);
	l->parent = 0; /* omitempty: absent means 0 */
	if (parent && int_in(parent, -1, (long long)n_layers - 1, &l->parent) < 0)
		return -EBADMSG;
	if (!ann || json_is_null(ann))
		return 0;
	if (!json_is_object(ann))
		return -EBADMSG;
	r = reg_json_opt_str(ann, "mediaType", &l->media_type);
	if (r == 0)
		r = reg_json_opt_str(ann, "diffID", &l->diff_id);
	return r;
}

static int parse_results(json_t *arr, size_t n, size_t n_layers, struct reg_cache_record *rec)
{
	rec->results = calloc(n ? n : 1, sizeof(*rec->results));
	if (!rec->results)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(arr, i);
		struct reg_cache_result *res = &rec->results[i];

		rec->n_results = i + 1;
		if (!json_is_object(o) ||
		    int_in(json_object_get(o, "layer"), 0, (long long)n_layers - 1, &res->layer) < 0 ||
		    reg_json_opt_str(o, "createdAt", &res->created_at) < 0)
			return -EBADMSG;
	}
	return 0;
}

static int parse_chains(json_t *arr, size_t n, size_t n_layers, struct reg_cache_record *rec)
{
	rec->chains = calloc(n ? n : 1, sizeof(*rec->chains));
	rec->chain_lens = calloc(n ? n : 1, sizeof(*rec->chain_lens));
	if (!rec->chains || !rec->chain_lens)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *ls, *o = json_array_get(arr, i);
		size_t k;

		rec->n_chains = i + 1;
		if (!json_is_object(o) || array_of(o, "layers", &ls, &k) < 0)
			return -EBADMSG;
		rec->chains[i] = calloc(k ? k : 1, sizeof(int));
		if (!rec->chains[i])
			return -ENOMEM;
		rec->chain_lens[i] = k;
		for (size_t j = 0; j < k; j++)
			if (int_in(json_array_get(ls, j), 0, (long long)n_layers - 1,
				   &rec->chains[i][j]) < 0)
				return -EBADMSG;
	}
	return 0;
}

static int parse_inputs(json_t *arr, size_t n, size_t n_records, struct reg_cache_record *rec)
{
	rec->inputs = calloc(n ? n : 1, sizeof(*rec->inputs));
	rec->input_lens = calloc(n ? n : 1, sizeof(*rec->input_lens));
	if (!rec->inputs || !rec->input_lens)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *slot = json_array_get(arr, i);
		size_t k = json_is_array(slot) ? json_array_size(slot) : 0;

		rec->n_inputs = i + 1;
		if (k == 0 || k > MAX_ITEMS)
			return -EBADMSG; /* "invalid empty input for record" */
		rec->inputs[i] = calloc(k, sizeof(**rec->inputs));
		if (!rec->inputs[i])
			return -ENOMEM;
		rec->input_lens[i] = k;
		for (size_t j = 0; j < k; j++) {
			json_t *in = json_array_get(slot, j);
			struct reg_cache_input *ci = &rec->inputs[i][j];

			if (!json_is_object(in) ||
			    int_in(json_object_get(in, "link"), 0, (long long)n_records - 1, &ci->link) < 0 ||
			    reg_json_opt_str(in, "selector", &ci->selector) < 0)
				return -EBADMSG;
		}
	}
	return 0;
}

static int parse_record(json_t *o, size_t n_layers, size_t n_records, struct reg_cache_record *rec)
{
	json_t *arr;
	size_t n;
	int r;

	if (!json_is_object(o) || reg_json_opt_str(o, "digest", &rec->digest) < 0)
		return -EBADMSG;
	r = array_of(o, "layers", &arr, &n);
	if (r == 0)
		r = parse_results(arr, n, n_layers, rec);
	if (r == 0 && (r = array_of(o, "chains", &arr, &n)) == 0)
		r = parse_chains(arr, n, n_layers, rec);
	if (r == 0 && (r = array_of(o, "inputs", &arr, &n)) == 0)
		r = parse_inputs(arr, n, n_records, rec);
	return r;
}

/*
 * Following parents from any layer must reach -1 (no loop), and the chains
 * of all layers together must hold at most REG_MAX_CACHE_CHAIN_ENTRIES: a
 * mount makes a view of every layer's chain, so 32k layers each on the one
 * before (a 3 MB config) would cost 5e8 entries, gigabytes. Each layer's
 * depth is found once (O(n)). 0, -EBADMSG (a loop) or -EFBIG.
 */
static int check_chains(const struct reg_cache_config *cfg)
{
	size_t n = cfg->n_layers, *depth = calloc(n + 1, sizeof(*depth));
	int *path = calloc(n + 1, sizeof(*path));
	uint64_t total = 0;
	int r = depth && path ? 0 : -ENOMEM;

	for (size_t i = 0; r == 0 && i < n; i++) {
		size_t k = 0, d;
		int at = (int)i;

		/* up to a layer of known depth or the root; more than n steps is a loop */
		while (at != -1 && depth[at] == 0 && k <= n) {
			path[k++] = at;
			at = cfg->layers[at].parent;
		}
		if (k > n) {
			r = -EBADMSG;
			break;
		}
		d = at == -1 ? 0 : depth[at];
		while (k > 0)
			depth[path[--k]] = ++d;
		total += depth[i];
		if (total > REG_MAX_CACHE_CHAIN_ENTRIES)
			r = -EFBIG;
	}
	free(depth);
	free(path);
	return r;
}

static int parse_root(json_t *root, struct reg_cache_config *cfg)
{
	json_t *layers, *records;
	size_t nl, nr;
	int r;

	if (!json_is_object(root))
		return -EBADMSG;
	if (array_of(root, "layers", &layers, &nl) < 0 || array_of(root, "records", &records, &nr) < 0)
		return -EBADMSG;
	cfg->layers = calloc(nl ? nl : 1, sizeof(*cfg->layers));
	cfg->records = calloc(nr ? nr : 1, sizeof(*cfg->records));
	if (!cfg->layers || !cfg->records)
		return -ENOMEM;
	for (size_t i = 0; i < nl; i++) {
		cfg->n_layers = i + 1;
		r = parse_layer(json_array_get(layers, i), nl, &cfg->layers[i]);
		if (r < 0)
			return r;
	}
	r = check_chains(cfg);
	if (r == -EBADMSG)
		log_err("invalid cache config: looping layer parents");
	else if (r == -EFBIG)
		log_err("cache config refused: its layers' chains hold more than %u layers in all",
			REG_MAX_CACHE_CHAIN_ENTRIES);
	if (r < 0)
		return r;
	for (size_t i = 0; i < nr; i++) {
		cfg->n_records = i + 1;
		r = parse_record(json_array_get(records, i), nl, nr, &cfg->records[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

int reg_cache_config_parse(const char *json, size_t len, struct reg_cache_config **out)
{
	struct reg_cache_config *cfg;
	json_t *root;
	int r;

	if (len > REG_MAX_CONFIG_SIZE)
		return -EFBIG;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg)
		return -ENOMEM;
	root = json_loadb(json, len, 0, NULL);
	r = root ? parse_root(root, cfg) : -EBADMSG;
	json_decref(root);
	if (r < 0) {
		reg_cache_config_free(cfg);
		return r == -ENOMEM || r == -EFBIG ? r : -EBADMSG;
	}
	*out = cfg;
	return 0;
}
