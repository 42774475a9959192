/* SPDX-License-Identifier: MIT */
/*
 * fs/ internal: layers read through a TOC another tool made (zstd:chunked,
 * eStargz, SOCI; index/foreign.h, docs/formats.md). fs/foreign.c holds the
 * table of formats and what layer_open.c asks of it; each format lives in
 * fs/foreign_<fmt>.c with its struct fs_foreign_fmt.
 *
 * Trust is the stratafs index's (index/FORMAT.md, "Trust"): a TOC whose
 * digest the manifest (or the image index the reference resolved through)
 * pins is "pinned"; the TOC bytes fetched must hash to that digest before
 * anything is parsed, and they are cached by it (v1/toc/, re-hashed on
 * every read). A TOC nothing pins (legacy stargz, SOCI v1 found through
 * the referrers API) is "unpinned": used only when the mount's policy
 * trusts unpinned indexes for this reference (-o unpinned).
 *
 * When a stratafs index that something trusts and a pinned foreign TOC
 * both exist, the one whose spans cost fewer compressed bytes on average
 * is used (a read of one small file fetches about one span), the stratafs
 * index on a tie; l->choice says why, `strata stats` shows it.
 */
#ifndef FS_FOREIGN_H
#define FS_FOREIGN_H

#include <stdbool.h>

#include "common/digest.h"
#include "fs/store.h"
#include "index/foreign.h"
#include "registry/registry.h"

struct fs_store;
struct fs_layer; /* fs/store_int.h: formats include it for the store's client and cache */

struct fs_foreign_fmt {
	enum idx_foreign kind;
	const char *name; /* as shown: "zstd:chunked", "eStargz", "SOCI v2" ... */
	/* The TOC digest @d / @o pin for this layer (copied into @digest), or false. */
	bool (*pinned)(const struct reg_descriptor *d, const struct fs_layer_origin *o,
		       char digest[DIGEST_STR_LEN]);
	/*
	 * Fetch the footer / TOC with range reads (fs_foreign_blob_range()),
	 * get the TOC bytes through fs_foreign_toc_get() (checked against
	 * @toc_digest, cached), and convert them (idx_<fmt>_load()).
	 */
	int (*open)(struct fs_store *s, struct fs_layer *l, const struct reg_descriptor *d,
		    const char *toc_digest, struct idx_layer **out);
	/*
	 * Optional: a TOC nothing pins (legacy stargz footer, SOCI v1
	 * referrers), asked only when @o->trust_unpinned. -ENOENT: none.
	 */
	int (*open_unpinned)(struct fs_store *s, struct fs_layer *l, const struct reg_descriptor *d,
			     const struct fs_layer_origin *o, struct idx_layer **out);
};

/* (fs_foreign_pinned_name() and fs_foreign_index_entry() are in fs/store.h, for tools/.) */

/*
 * The NULL-terminated table every lookup walks: the formats of
 * fs/foreign.c. A test may point it at formats of its own (a fake one)
 * before any layer is opened; nothing else writes it.
 */
extern const struct fs_foreign_fmt *const *fs_foreign_formats;

/* ---- for layer_open.c ---- */

/* A pinned foreign TOC of @d: 0 with l->idx, l->foreign, source and trust set; -ENOENT. */
int fs_foreign_open_pinned(struct fs_store *s, struct fs_layer *l,
			   const struct fs_layer_origin *o, const struct reg_descriptor *d);
/*
 * @l has a stratafs index something trusts: if a pinned foreign TOC is
 * cheaper to read through, it replaces it. l->choice records the
 * comparison whenever both were there.
 */
void fs_foreign_compete(struct fs_store *s, struct fs_layer *l, const struct fs_layer_origin *o,
			const struct reg_descriptor *d);
/* An unpinned foreign TOC (only call when o->trust_unpinned): 0 or -ENOENT. */
int fs_foreign_open_unpinned(struct fs_store *s, struct fs_layer *l,
			     const struct fs_layer_origin *o, const struct reg_descriptor *d);
/*
 * The span cache key of @l, once its index is chosen: the layer digest,
 * or for virtual offsets sha256("<layer digest>+<format>"), so spans of
 * two offset spaces never share a file name.
 */
void fs_foreign_span_key(struct fs_layer *l);
/*
 * Mean compressed bytes per span of @idx: what a read of one small file
 * costs. 0 for a layer with no spans.
 */
double fs_foreign_cost(const struct idx_layer *idx);
/* How @l's index is shown: "stratafs" or the format's name. */
const char *fs_foreign_label(const struct fs_layer *l);

/* ---- for the formats ---- */

/* The idx_foreign_opts of @l (blob digest and size; diff_id unknown). */
void fs_foreign_opts(const struct fs_layer *l, struct idx_foreign_opts *o);
/* Exactly @len bytes at @off of @l's blob (one Range request, not verified): 0 or -errno. */
int fs_foreign_blob_range(struct fs_store *s, const struct fs_layer *l, uint64_t off, size_t len,
			  void *buf);
/*
 * The TOC bytes that hash to @digest (at most IDX_MAX_TOC_SIZE): from the
 * local cache, else from @fetch (which returns a malloc'd buffer), checked
 * (-EBADMSG, logged, when they do not hash to @digest) and cached. The
 * caller frees *buf.
 */
int fs_foreign_toc_get(struct fs_store *s, const char *digest,
		       int (*fetch)(void *ctx, void **buf, size_t *len), void *ctx, void **buf,
		       size_t *len);

#endif
