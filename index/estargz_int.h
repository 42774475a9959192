/* SPDX-License-Identifier: MIT */
/*
 * index/ internal, between the two halves of the eStargz reader:
 * index/estargz.c finds and unpacks the TOC member (footer, gunzip, tar
 * header, pin check), index/estargz_toc.c turns its JSON into a layer.
 */
#ifndef INDEX_ESTARGZ_INT_H
#define INDEX_ESTARGZ_INT_H

#include <stddef.h>
#include <stdint.h>

#include "index/foreign.h"

/* The TOC member of a blob, unpacked and checked against its pin. */
struct esgz_toc {
	const uint8_t *raw;  /* the TOC members decompressed: tar header, JSON, end blocks */
	uint64_t hdr_len;    /* bytes before the JSON (the tar header) */
	uint64_t json_len;   /* the JSON: raw[hdr_len, hdr_len + json_len) */
	uint64_t c_off;      /* blob offset of the TOC's first member */
	uint64_t c_end;      /* blob offset of the footer */
	/* "stargz.index.json" as its tar header says: the layer shows it. */
	uint32_t mode, uid, gid;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	const char *path;    /* normalised */
};

/* Build the layer: the TOC's entries and chunks, then the TOC file itself. */
int idx_esgz_toc_layer(const struct esgz_toc *t, const struct idx_foreign_opts *o,
		   struct idx_layer **out);

#endif
