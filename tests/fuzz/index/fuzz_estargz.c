/* SPDX-License-Identifier: MIT */
/*
 * The eStargz reader on hostile input. Byte 0 picks the mode:
 *  even: bytes 1-4 (little-endian, mod 2^24) are the blob bytes before
 *        the rest, which is the blob's tail from its TOC offset on: TOC
 *        members and footer (eStargz or legacy), as a registry serves them;
 *  odd:  the rest is the TOC JSON itself, wrapped here in its tar member,
 *        gzip and a footer at 4 MiB into a blob of zeros, so the fuzzer
 *        reaches the JSON rules without forging CRCs.
 * Whatever loads is walked: every entry, every span decoded from the blob
 * (the zeros fail their digests, they must fail cleanly), and in JSON mode
 * the TOC file must read back as exactly the JSON given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "index/estargz.h"
#include "../../unit/index/test_index_estargz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define JSON_AT (4u << 20)

struct blob {
	const uint8_t *tail;
	size_t tail_len;
	uint64_t size; /* zeros before the tail */
};

static ssize_t blob_read_at(void *ctx, void *buf, size_t n, uint64_t off)
{
	const struct blob *b = ctx;
	uint64_t head = b->size - b->tail_len;

	if (off >= b->size)
		return 0;
	n = (size_t)(n < b->size - off ? n : b->size - off);
	if (off < head) {
		n = (size_t)(n < head - off ? n : head - off);
		memset(buf, 0, n);
	} else {
		memcpy(buf, b->tail + (off - head), n);
	}
	return (ssize_t)n;
}

static void walk(const struct idx_layer *l, const struct blob *b, const uint8_t *json, size_t jlen)
{
	struct idx_reader rd = { (void *)b, blob_read_at };
	uint32_t id;
	uint8_t *buf;

	for (uint32_t i = 0; i < idx_entry_count(l); i++)
		if (!idx_entry_get(l, i) || !idx_entry_get(l, i)->path)
			abort();
	if (!json || idx_entry_find(l, "stargz.index.json", &id) < 0)
		return;
	buf = malloc(jlen + 1);
	if (!buf)
		abort();
	if (idx_file_read(l, id, &rd, buf, jlen + 1, 0) != (ssize_t)jlen || memcmp(buf, json, jlen) != 0)
		abort(); /* the TOC file is what was parsed */
	free(buf);
	/* Other files: their chunks lie in the zeros, their digests must say so. */
	for (uint32_t i = 0; i < idx_entry_count(l); i++) {
		const struct idx_entry *e = idx_entry_get(l, i);
		uint8_t small[512];

		if (e->type == IDX_T_REG && i != id && idx_file_read(l, i, &rd, small, sizeof(small), 0) > 0)
			abort();
	}
}

static void raw_mode(const uint8_t *data, size_t size)
{
	struct idx_foreign_opts o = {
		.blob_digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	};
	struct idx_toc_loc loc;
	struct idx_layer *l = NULL;
	struct blob b;
	uint32_t head;

	if (size < 5)
		return;
	head = (uint32_t)(data[1] | data[2] << 8 | data[3] << 16);
	b = (struct blob){ data + 5, size - 5, head + (uint64_t)(size - 5) };
	o.blob_size = b.size;
	if (idx_estargz_footer(b.tail, b.tail_len, b.size, &loc) < 0 || loc.off < head)
		return;
	if (idx_estargz_load(b.tail + (loc.off - head), (size_t)loc.len, &o, &l) == 0)
		walk(l, &b, NULL, 0);
	idx_layer_free(l);
}

static void json_mode(const uint8_t *data, size_t size)
{
	struct idx_foreign_opts o = {
		.blob_digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"
	};
	struct idx_layer *l = NULL;
	struct ew w = { 0 };
	char *json = malloc(size);
	struct blob b;

	if (!json)
		abort();
	memcpy(json, data + 1, size - 1);
	json[size - 1] = '\0';
	/* The TOC member starts at JSON_AT: the writer's blob is that far in. */
	w.blob.len = 0;
	ew_finish_json(&w, json, data[0] & 2);
	b = (struct blob){ w.blob.buf, w.blob.len, JSON_AT + (uint64_t)w.blob.len };
	/* The footer says offset 0: say JSON_AT instead. */
	w.blob.len -= data[0] & 2 ? IDX_STARGZ_FOOTER_SIZE : IDX_ESTARGZ_FOOTER_SIZE;
	ew_footer(&w, JSON_AT, data[0] & 2);
	b.tail = w.blob.buf;
	o.blob_size = b.size;
	if (idx_estargz_load(b.tail, b.tail_len, &o, &l) == 0)
		walk(l, &b, (const uint8_t *)json, strlen(json));
	idx_layer_free(l);
	ew_free(&w);
	free(json);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		json_mode(data, size);
	else
		raw_mode(data, size);
	return 0;
}
