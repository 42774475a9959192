/* SPDX-License-Identifier: MIT */
/*
 * index/ internal: the TOC builder. A foreign TOC parser (index/foreign.h)
 * hands it entries, checkpoints and spans; the builder normalises them the
 * way the tar reader does, serializes them with the payload writer of
 * idx_build() and parses the result back with idx_payload_parse(), so
 * every structural check of a loaded index applies to a foreign one too,
 * with the foreign bounds of index/FORMAT.md ("Foreign layers").
 *
 * Offsets: data_off, extent tar_off, checkpoint u_off and span u_start are
 * in the layer's offset space: real tar offsets (SOCI) or virtual ones
 * (zstd:chunked, eStargz: the chunks laid end to end in TOC order).
 * One builder per thread. Errors: -EINVAL for a call that breaks the rules
 * below (a parser bug or a lying TOC: logged), -EBADMSG, -EFBIG, -ENOMEM.
 */
#ifndef INDEX_TOC_INT_H
#define INDEX_TOC_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "index/foreign.h"
#include "index/index.h"
#include "index/layer_int.h"

struct tocb;

/*
 * A builder for a @comp (IDX_COMP_GZIP or IDX_COMP_ZSTD) blob described by
 * a TOC of format @f, @toc_len bytes as the parser read them
 * (uncompressed): the counts of the layer are bounded by it. @o is copied.
 */
int idx_tocb_new(enum idx_comp comp, enum idx_foreign f, const struct idx_foreign_opts *o,
	     uint64_t toc_len, struct tocb **out);

/*
 * One TOC entry, in TOC order (duplicates: the last wins, as in a tar).
 * @e->path and a HARDLINK's @e->link are the TOC's spelling: normalised
 * here as the tar reader does ("./a//b" is "a/b", ".." stops at the root);
 * ".wh.X" / ".wh..wh..opq" names become IDX_T_WHITEOUT / IDX_T_OPAQUE
 * (an entry already typed WHITEOUT/OPAQUE is taken as it is); aufs
 * ".wh..wh.*" metadata and non-directories naming the root are skipped.
 * mode is masked to 07777; size and device numbers are kept only for the
 * types that have them. REG: data_off = where the content starts in the
 * offset space; sparse: @e->extents with tar_off packed from data_off on
 * (checked); a sparse file with no hole is stored as a plain one.
 */
int idx_tocb_entry(struct tocb *b, const struct idx_entry *e);

/*
 * A checkpoint: strictly after the previous one in both offsets. @kind
 * (enum idx_ckpt_kind) must suit the compression; IDX_CK_GZ_BLOCK takes
 * @bits and the window @win (1..32 KiB), the others neither. Its id in *id.
 */
int idx_tocb_ckpt(struct tocb *b, uint8_t kind, uint64_t c_off, uint64_t u_off, uint8_t bits,
	      const uint8_t *win, uint32_t win_len, uint32_t *id);

/*
 * A span (a chunk): in offset order, starting where the previous one
 * ended, decoding from checkpoint @ckpt (the previous span's or the next
 * one; a span on a new checkpoint starts at its u_off). @sha: sha256 of
 * the u_len uncompressed bytes (of the compressed bytes with IDX_SF_CSHA).
 */
int idx_tocb_span(struct tocb *b, uint32_t ckpt, uint64_t u_start, uint64_t u_len, uint64_t c_end,
	      uint32_t flags, const uint8_t sha[DIGEST_SHA256_LEN]);

/*
 * The spans must tile [0, @u_size) exactly. @virtual_offsets: the offsets
 * are not tar offsets. The span size of the layer is its largest chunk
 * (at least IDX_MIN_SPAN_SIZE); a chunk over 2 * IDX_MAX_SPAN_SIZE is
 * refused (-EFBIG: it would have to be decoded in one piece). Then the
 * payload is written and parsed back into *out. The builder stays to be
 * freed.
 */
int idx_tocb_finish(struct tocb *b, uint64_t u_size, bool virtual_offsets, struct idx_layer **out);
void idx_tocb_free(struct tocb *b);

#endif
