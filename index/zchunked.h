/* SPDX-License-Identifier: MIT */
/*
 * zstd:chunked (containers/storage) beyond index/foreign.h: where the TOC
 * lies as the manifest annotation says it, and loading a TOC with what the
 * caller knows of its place in the blob, so that no chunk may point into
 * the TOC, the footer or past the blob. docs/formats.md ("zstd:chunked")
 * says what is read, checked and refused.
 *
 * Layout of such a blob: one zstd frame per tar header run and per file
 * chunk; then (newer writers) a skippable frame holding tar-split data; a
 * skippable frame holding the zstd-compressed JSON TOC; and a skippable
 * frame holding the footer: offset, compressed and uncompressed length and
 * type (1) of the TOC, in newer writers (64-byte footer) also the offset
 * and lengths of the tar-split data, then the magic "GnUlInUx".
 */
#ifndef INDEX_ZCHUNKED_H
#define INDEX_ZCHUNKED_H

#include <stddef.h>
#include <stdint.h>

#include "index/foreign.h"

/* Footer sizes: containers/storage 1.43 (no tar-split) and 1.52 on (with it). */
#define IDX_ZC_FOOTER_OLD 40u
#define IDX_ZC_FOOTER_NEW 64u
/* Tail bytes to read to find either footer: its skippable frame header + the larger. */
#define IDX_ZC_TAIL (8u + IDX_ZC_FOOTER_NEW)
/* The manifest annotations that pin the TOC: 1.43 spelling, then newer. */
#define IDX_ZC_ANN_CHECKSUM_OLD "io.containers.zstd-chunked.manifest-checksum"
#define IDX_ZC_ANN_POSITION_OLD "io.containers.zstd-chunked.manifest-position"
#define IDX_ZC_ANN_CHECKSUM "io.github.containers.zstd-chunked.manifest-checksum"
#define IDX_ZC_ANN_POSITION "io.github.containers.zstd-chunked.manifest-position"

/*
 * The manifest-position annotation "offset:length:ulen:type" of a blob of
 * @blob_size bytes: -EBADMSG unless four decimal numbers, the TOC inside
 * the blob, type 1, sizes within IDX_MAX_TOC_SIZE.
 */
int idx_zchunked_position(const char *s, uint64_t blob_size, struct idx_toc_loc *out);

/*
 * idx_zchunked_load() of the TOC found at @loc (NULL: unknown): the
 * compressed TOC bytes @toc must decode to exactly @loc->ulen bytes, and
 * every chunk must end before the TOC's skippable frame.
 */
int idx_zchunked_load_at(const void *toc, size_t n, const struct idx_toc_loc *loc,
			 const struct idx_foreign_opts *o, struct idx_layer **out);

#endif
