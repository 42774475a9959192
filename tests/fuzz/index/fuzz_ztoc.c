/* SPDX-License-Identifier: MIT */
/*
 * SOCI zTOCs on arbitrary bytes: the FlatBuffers reader, the zinfo
 * checkpoints and the conversion into a layer (index/soci*.c). Byte 0
 * picks the door: even, bytes 1-8 are the layer's size (little-endian)
 * and the rest a zTOC for idx_soci_ztoc_load(); odd, the rest is a bare
 * zinfo blob for idx_soci_zinfo_parse() (a checkpoints vector would otherwise
 * have to survive the flatbuffer around it). A zTOC that loads must
 * behave: every entry found by its path, every span found by its start, a
 * decode of a few spans from zeros (refused by their compressed digest).
 * Seeds: corpus/ztoc (soci_build.py on small gzip layers, a v1 zinfo).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "index/foreign.h"
#include "index/index.h"
#include "index/soci_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const struct idx_layer *l)
{
	uint32_t id;

	for (uint32_t i = 0; i < idx_entry_count(l); i++) {
		const struct idx_entry *e = idx_entry_get(l, i);

		if (idx_entry_find(l, e->path, &id) != 0)
			abort();
	}
	for (uint32_t i = 0; i < idx_span_count(l); i++) {
		struct idx_span sp;
		uint8_t *c, *out;

		if (idx_span_get(l, i, &sp) != 0 || !sp.sha_compressed ||
		    idx_span_find(l, sp.u_start, &id) != 0 || id != i)
			abort();
		if (sp.c_end - sp.c_start > (1u << 20) || sp.u_len > (4u << 20) || i > 4)
			continue;
		c = calloc(1, sp.c_end - sp.c_start + 1);
		out = malloc(sp.u_len);
		if (c && out && idx_span_decode(l, i, c, sp.c_end - sp.c_start, out, sp.u_len) == 0)
			abort(); /* zeros never hash to a real span digest */
		free(c);
		free(out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char digest[] =
		"sha256:0000000000000000000000000000000000000000000000000000000000000000";
	struct idx_foreign_opts o = { .blob_digest = digest };
	struct idx_layer *l = NULL;
	struct soci_zinfo z;

	if (size < 9)
		return 0;
	if (data[0] % 2) {
		if (idx_soci_zinfo_parse(data + 1, size - 1, UINT64_MAX / 2, UINT64_MAX / 2, 1u << 16,
				     &z) == 0)
			idx_soci_zinfo_free(&z);
		return 0;
	}
	for (int i = 8; i >= 1; i--)
		o.blob_size = o.blob_size << 8 | data[i];
	if (idx_soci_ztoc_load(data + 9, size - 9, &o, &l) != 0)
		return 0;
	exercise(l);
	idx_layer_free(l);
	return 0;
}
