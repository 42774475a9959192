/* SPDX-License-Identifier: MIT */
/*
 * index/ internal: the state of a TOC builder (index/toc_int.h), shared by
 * toc_build.c (checkpoints, spans, finish) and toc_entry.c (entries).
 */
#ifndef INDEX_TOC_BUILD_H
#define INDEX_TOC_BUILD_H

#include "common/digest.h"
#include "index/build_ent.h"
#include "index/build_int.h"
#include "index/toc_int.h"

struct tocb {
	enum idx_comp comp;
	enum idx_foreign foreign;
	char blob_digest[DIGEST_STR_LEN];
	char diff_id[DIGEST_STR_LEN]; /* "" when unknown */
	uint64_t blob_size, toc_len;
	struct build_entries be;
	struct spanb sb;    /* only its checkpoint, span and window tables are used */
	uint64_t u_end;     /* where the last span ended */
	uint64_t max_span;  /* the largest u_len */
};

#endif
