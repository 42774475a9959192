/* SPDX-License-Identifier: MIT */
/*
 * index/ internal: the JSON half of the zstd:chunked reader
 * (index/zchunked_toc.c), fed by index/zchunked.c once the TOC is found
 * and decompressed.
 */
#ifndef INDEX_ZCHUNKED_INT_H
#define INDEX_ZCHUNKED_INT_H

#include <stddef.h>
#include <stdint.h>

#include "index/foreign.h"

/*
 * The JSON TOC @json (@len bytes) as a layer: every chunk must lie in the
 * blob's compressed bytes [0, @c_limit). -EBADMSG for anything malformed
 * or inconsistent (logged once with the reason).
 */
int idx_zc_toc_parse(const char *json, size_t len, uint64_t c_limit, const struct idx_foreign_opts *o,
		 struct idx_layer **out);

#endif
