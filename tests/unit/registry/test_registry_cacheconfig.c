/* SPDX-License-Identifier: MIT */
/* BuildKit cache config: BuildKit's documented example byte for byte, and hostile inputs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/digest.h"
#include "registry/registry.h"
#include "tap.h"

#define L0 "sha256:5fd38625b5de25a78135af50fb74ad54ea3dd798b92deeca08eaa4fffe5e81dd"
#define L1 "sha256:fd73fde60ec17fee00a96ee28988d47745350d0b1dce6ecae87c767467414600"
#define L2 "sha256:2823b861d7c113129fa71463655459923116668cbf1952b58683724cb3fc3ad5"

/* compact, 532 bytes, sha256:b39b28b5... as pushed by BuildKit */
static const char example[] =
	"{\"layers\":[{\"blob\":\"" L0 "\",\"parent\":-1},{\"blob\":\"" L1 "\"}],"
	"\"records\":[{\"layers\":[{\"layer\":1,\"createdAt\":\"2025-03-04T10:15:02.481516231Z\"}],"
	"\"digest\":\"sha256:d555f362f34e0f396694d81fce520b3519344622129b3219afe2d6d018dc9750\","
	"\"inputs\":[[{\"link\":1}]]},"
	"{\"layers\":[{\"layer\":0,\"createdAt\":\"2024-06-20T17:21:33.123456789Z\"}],"
	"\"digest\":\"sha256:d5617f4b53c4d3fb0c8ee08751cc688e78ca6f6586d6b6cf51efa57081ac778d\"}]}";

static int parse(const char *json, struct reg_cache_config **cfg)
{
	return reg_cache_config_parse(json, strlen(json), cfg);
}

static void the_example(void)
{
	struct reg_cache_config *cfg = NULL;
	uint8_t h[DIGEST_SHA256_LEN];
	char d[DIGEST_STR_LEN];

	is_int(sizeof(example) - 1, 532, "example is 532 bytes");
	digest_sha256(example, sizeof(example) - 1, h);
	digest_format(h, d);
	is_str(d, "sha256:b39b28b531b1f1ebccec5b7aa8e2977f4ea28ee9adc1a8d1f0304564c38d81d5",
	       "example digest");
	if (!ok(parse(example, &cfg) == 0, "example parses"))
		return;
	is_int(cfg->n_layers, 2, "2 layers");
	is_str(cfg->layers[0].blob, L0, "layer 0 blob");
	is_int(cfg->layers[0].parent, -1, "layer 0 parent -1");
	is_str(cfg->layers[1].blob, L1, "layer 1 blob");
	is_int(cfg->layers[1].parent, 0, "layer 1: missing parent means 0");
	is_int(cfg->n_records, 2, "2 records");
	is_int(cfg->records[0].n_results, 1, "record 0: one result");
	is_int(cfg->records[0].results[0].layer, 1, "record 0 result: layer 1");
	is_str(cfg->records[0].results[0].created_at, "2025-03-04T10:15:02.481516231Z",
	       "record 0 createdAt");
	is_int(cfg->records[0].n_inputs, 1, "record 0: one input slot");
	is_int(cfg->records[0].input_lens[0], 1, "one alternative");
	is_int(cfg->records[0].inputs[0][0].link, 1, "linked to record 1");
	ok(cfg->records[0].inputs[0][0].selector == NULL, "no selector");
	is_int(cfg->records[1].results[0].layer, 0, "record 1 result: layer 0");
	is_int(cfg->records[1].n_inputs, 0, "record 1: no inputs");
	is_str(cfg->records[1].digest,
	       "sha256:d5617f4b53c4d3fb0c8ee08751cc688e78ca6f6586d6b6cf51efa57081ac778d",
	       "record 1 digest");
	reg_cache_config_free(cfg);
}

static void more_fields(void)
{
	struct reg_cache_config *cfg = NULL;
	const char *j = "{\"layers\":[{\"blob\":\"" L0 "\",\"parent\":-1,\"annotations\":"
			"{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\","
			"\"diffID\":\"" L2 "\",\"size\":5,\"createdAt\":\"0001-01-01T00:00:00Z\"}},"
			"{\"blob\":\"" L1 "\",\"parent\":0}],"
			"\"records\":[{\"chains\":[{\"layers\":[0,1],\"createdAt\":\"x\"}],"
			"\"inputs\":[[{\"selector\":\"sel\",\"link\":0},{\"link\":0}]]}]}";

	if (!ok(parse(j, &cfg) == 0, "annotations, chains, selectors parse"))
		return;
	is_str(cfg->layers[0].media_type, "application/vnd.oci.image.layer.v1.tar+zstd",
	       "annotation mediaType");
	is_str(cfg->layers[0].diff_id, L2, "annotation diffID");
	is_int(cfg->records[0].n_chains, 1, "one chain");
	is_int(cfg->records[0].chain_lens[0], 2, "chain of 2");
	is_int(cfg->records[0].chains[0][1], 1, "chain layer 1");
	is_str(cfg->records[0].inputs[0][0].selector, "sel", "selector");
	is_int(cfg->records[0].input_lens[0], 2, "two alternatives");
	reg_cache_config_free(cfg);
	ok(parse("{}", &cfg) == 0 && cfg->n_layers == 0 && cfg->n_records == 0, "empty config");
	reg_cache_config_free(cfg);
}

static const char *const hostile[] = {
	"",
	"[]",
	"{\"layers\":{}}",
	"{\"layers\":[{\"parent\":-1}]}",                                  /* no blob */
	"{\"layers\":[{\"blob\":\"sha256:abc\",\"parent\":-1}]}",          /* bad digest */
	"{\"layers\":[{\"blob\":\"" L0 "\"}]}",                            /* parent 0 = itself */
	"{\"layers\":[{\"blob\":\"" L0 "\",\"parent\":1}]}",               /* out of range */
	"{\"layers\":[{\"blob\":\"" L0 "\",\"parent\":-2}]}",              /* negative */
	"{\"layers\":[{\"blob\":\"" L0 "\",\"parent\":\"0\"}]}",           /* wrong type */
	"{\"layers\":[{\"blob\":\"" L0 "\",\"parent\":1.5}]}",
	"{\"layers\":[{\"blob\":\"" L0 "\",\"parent\":9223372036854775807}]}",
	"{\"layers\":[{\"blob\":\"" L0 "\",\"parent\":1},{\"blob\":\"" L1 "\"}]}", /* loop 0<->1 */
	"{\"layers\":[{\"blob\":\"" L0 "\",\"parent\":-1},{\"blob\":\"" L1 "\",\"parent\":2},"
	"{\"blob\":\"" L2 "\",\"parent\":1}]}",                                  /* loop 1<->2 */
	"{\"layers\":[{\"blob\":\"" L0 "\",\"parent\":-1}],\"records\":[{\"layers\":[{\"layer\":1}]}]}",
	"{\"layers\":[{\"blob\":\"" L0 "\",\"parent\":-1}],\"records\":[{\"layers\":[{\"layer\":-1}]}]}",
	"{\"layers\":[{\"blob\":\"" L0 "\",\"parent\":-1}],\"records\":[{\"layers\":[{}]}]}",
	"{\"records\":[{\"inputs\":[[]]}]}",                                  /* empty input */
	"{\"records\":[{\"inputs\":[[{\"link\":1}]]}]}",                      /* link out of range */
	"{\"records\":[{\"inputs\":[[{\"link\":-1}]]}]}",
	"{\"records\":[{\"inputs\":[{\"link\":0}]}]}",                        /* not a list */
	"{\"records\":[{\"chains\":[{\"layers\":[0]}]}]}",                    /* no layers */
	"{\"records\":[{\"digest\":5}]}",
	"{\"records\":[5]}",
	"{\"layers\":[{\"blob\":\"" L0 "\",\"parent\":-1,\"annotations\":{\"diffID\":7}}]}",
};

/* {"layers":[L0 with no parent, then @n - 1 layers each on the one before (@linear) or on none]} */
static char *layers_json(size_t n, bool linear)
{
	size_t cap = 100 + n * 110, used;
	char *j = malloc(cap);

	used = (size_t)snprintf(j, cap, "{\"layers\":[");
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(j + used, cap - used, "%s{\"blob\":\"" L0 "\",\"parent\":%ld}",
					 i ? "," : "", linear ? (long)i - 1 : -1L);
	snprintf(j + used, cap - used, "]}");
	return j;
}

/*
 * A mount views every layer's chain: the chains of all layers together
 * are bounded (REG_MAX_CACHE_CHAIN_ENTRIES), else a config of 32k layers
 * each on the one before (3 MB) cost gigabytes at mount time. Depths are
 * found once: 30k layers without parents parse at once.
 */
static void test_chain_bound(void)
{
	struct reg_cache_config *cfg = NULL;
	char *j = layers_json(1400, true); /* 980,700 entries in all */

	is_int(parse(j, &cfg), 0, "1,400 layers each on the one before: under the bound");
	reg_cache_config_free(cfg);
	cfg = NULL;
	free(j);
	j = layers_json(1500, true); /* 1,125,750 */
	is_int(parse(j, &cfg), -EFBIG, "1,500: their chains hold more than the bound, refused");
	ok(cfg == NULL, "... no output");
	free(j);
	j = layers_json(30000, false);
	is_int(parse(j, &cfg), 0, "30,000 layers on no parent parse");
	reg_cache_config_free(cfg);
	free(j);
}

int main(void)
{
	struct reg_cache_config *cfg = NULL;
	char *big;

	test_chain_bound();
	the_example();
	more_fields();
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		cfg = NULL;
		is_int(parse(hostile[i], &cfg), -EBADMSG, "hostile %zu rejected: %.60s", i, hostile[i]);
		ok(cfg == NULL, "hostile %zu: no output", i);
	}
	big = malloc(REG_MAX_CONFIG_SIZE + 2);
	memset(big, ' ', REG_MAX_CONFIG_SIZE + 1);
	big[0] = '{';
	big[REG_MAX_CONFIG_SIZE] = '}';
	is_int(reg_cache_config_parse(big, REG_MAX_CONFIG_SIZE + 1, &cfg), -EFBIG, "over 4 MiB");
	free(big);
	reg_cache_config_free(NULL);
	return tap_done();
}
