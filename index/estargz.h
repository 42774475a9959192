/* SPDX-License-Identifier: MIT */
/*
 * eStargz and legacy stargz layers (index/estargz*.c), beyond the two
 * entry points of index/foreign.h. docs/formats.md ("eStargz") says what
 * is read, checked and refused.
 *
 * A stargz blob is a gzip stream of members: each tar header, each file
 * chunk, and at the end the TOC (one tar member "stargz.index.json", its
 * JSON) start a member of their own; then a footer, an empty gzip member
 * whose extra field says "%016xSTARGZ" with the TOC's blob offset:
 * 51 bytes in eStargz (the extra field is one subfield "SG"), 47 in the
 * legacy stargz of google/crfs (the extra field is the bare 22 bytes).
 */
#ifndef INDEX_ESTARGZ_H
#define INDEX_ESTARGZ_H

#include <stddef.h>
#include <stdint.h>

#include "index/foreign.h"

#define IDX_ESTARGZ_FOOTER_SIZE 51
#define IDX_STARGZ_FOOTER_SIZE 47

/* struct idx_toc_loc.type of idx_estargz_footer() */
enum idx_estargz_kind {
	IDX_ESTARGZ_NEW = 1,    /* 51-byte footer */
	IDX_ESTARGZ_LEGACY = 2, /* 47-byte footer: google/crfs stargz */
};

/* The manifest annotations eStargz writers set on a layer descriptor. */
#define IDX_ESTARGZ_TOC_DIGEST_ANN "containerd.io/snapshot/stargz/toc.digest"
#define IDX_ESTARGZ_USIZE_ANN "io.containers.estargz.uncompressed-size"

/*
 * idx_estargz_footer(tail, n, blob_size, loc): @tail = the last @n bytes
 * of the blob (n >= 47). loc->off = the TOC's offset, loc->len = the bytes
 * from there to the blob's end (the TOC members and the footer: what
 * idx_estargz_load() wants), loc->ulen = 0, loc->type = enum
 * idx_estargz_kind. -EBADMSG if neither footer is there or the offset
 * does not lie before it.
 *
 * idx_estargz_load(toc, n, o, out) = idx_estargz_load_pinned(.., NULL, ..).
 */

/*
 * The layer of an eStargz blob from @toc, its last @n bytes: from the TOC
 * offset its footer gives to the end (footer included; o->blob_size is the
 * blob's size). @toc_digest: "sha256:<hex>" the manifest pins (the sha256
 * of the TOC JSON bytes, the tar member's content): checked before the
 * JSON is parsed (-EBADMSG on mismatch); NULL: unpinned, anything goes.
 * -EBADMSG for a malformed or inconsistent TOC, -ENOTSUP for what is not
 * read (another TOC version, chunks sharing a gzip member: "innerOffset"),
 * -EFBIG over a ceiling, -ENOMEM.
 */
int idx_estargz_load_pinned(const void *toc, size_t n, const struct idx_foreign_opts *o,
			    const char *toc_digest, struct idx_layer **out);

#endif
