/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target of the zstd:chunked reader (index/zchunked*.c). The input is
 * read three ways at once:
 *   - as a whole blob: its footer (idx_zchunked_footer on the tail), then
 *     the TOC it points at, decompressed and loaded (idx_zchunked_load_at);
 *   - as the TOC's JSON itself (the chunks may lie anywhere in the input);
 *   - as the manifest-position annotation (a NUL-terminated copy).
 * Every layer accepted must read every regular file back through
 * idx_file_read() with the input as its blob without crashing (chunk
 * digests will mostly fail: -EBADMSG is fine, wrong sizes are not).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sys/types.h>

#include "index/index.h"
#include "index/zchunked.h"
#include "index/zchunked_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DIGEST "sha256:5555555555555555555555555555555555555555555555555555555555555555"

struct mem {
	const uint8_t *p;
	size_t n;
};

static ssize_t mem_read_at(void *ctx, void *buf, size_t n, uint64_t off)
{
	const struct mem *m = ctx;

	if (off >= m->n)
		return 0;
	if (n > m->n - off)
		n = m->n - (size_t)off;
	memcpy(buf, m->p + off, n);
	return (ssize_t)n;
}

static void read_all(struct idx_layer *l, const uint8_t *data, size_t size)
{
	struct mem m = { data, size };
	struct idx_reader rd = { &m, mem_read_at };
	static uint8_t buf[256 << 10];

	for (uint32_t i = 0; i < idx_entry_count(l); i++) {
		const struct idx_entry *e = idx_entry_get(l, i);
		uint64_t off = 0;

		while (e->type == IDX_T_REG && off < e->size) {
			ssize_t r = idx_file_read(l, i, &rd, buf, sizeof(buf), off);

			if (r < 0)
				break;
			if (r == 0 || (uint64_t)r > e->size - off)
				abort(); /* a short read before the end, or past it */
			off += (uint64_t)r;
		}
	}
	idx_layer_free(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct idx_foreign_opts o = { .blob_digest = DIGEST, .blob_size = size };
	struct idx_toc_loc loc;
	struct idx_layer *l = NULL;
	char *s;

	if (size >= 48 && idx_zchunked_footer(data + size - (size < IDX_ZC_TAIL ? size : IDX_ZC_TAIL),
					      size < IDX_ZC_TAIL ? size : IDX_ZC_TAIL, size, &loc) == 0 &&
	    idx_zchunked_load_at(data + loc.off, (size_t)loc.len, &loc, &o, &l) == 0)
		read_all(l, data, size);
	l = NULL;
	if (idx_zc_toc_parse((const char *)data, size, size, &o, &l) == 0)
		read_all(l, data, size);
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	idx_zchunked_position(s, size + (1u << 20), &loc);
	free(s);
	return 0;
}
