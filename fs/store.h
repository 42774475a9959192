/* SPDX-License-Identifier: MIT */
/*
 * The store: the data path of the daemon and of strata, FUSE-free. A struct fs_store
 * owns the registry client, the local cache and the open layers; it turns a
 * read of (layer, file entry, offset, length) into verified bytes: from the
 * span cache when present, else one Range request per run of adjacent
 * missing spans, decoded and verified against the index before they are
 * served or cached. Concurrent readers of one span wait for one fetch.
 *
 * Thread-safety: every function may be called from any FUSE worker thread.
 */
#ifndef FS_STORE_H
#define FS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "index/index.h"
#include "registry/registry.h"

/*
 * Default of fs_store_opts.mem_max: with 4 MiB spans, two fetches of one
 * span each (up to 2.5 MiB compressed, a gzip ratio of 0.6) decode at
 * once, so a cold sequential read keeps two cores busy; one job leaves
 * room for one more decoded span kept hot. With the libraries, the index
 * and the FUSE threads beside it the daemon stays within its budget of
 * 32 MiB + 1.5 x index (tests/bench/README.md) (measured: tests/bench, benchmark 6).
 */
#define FS_STORE_MEM_DEFAULT (13u << 20)

struct fs_store_opts {
	const char *cache_dir;     /* NULL: /var/cache/stratafs (root) or $XDG_CACHE_HOME/stratafs */
	uint64_t cache_max;        /* bytes; 0: 10 GiB */
	unsigned io_timeout_ms;    /* a read returns -EIO after this; default 30000 */
	unsigned fetch_threads;    /* parallel range requests in flight; default 8 */
	unsigned readahead_spans;  /* spans fetched ahead on sequential reads; default 2 */
	bool prefetch_all;         /* -o prefetch=all: fetch everything in the background */
	uint64_t span_size;        /* for indexes built here; 0: IDX_DEFAULT_SPAN_SIZE */
	/*
	 * Memory of the data path (-o mem_max): decoded spans kept in memory
	 * plus compressed and decoded bytes of the fetches running. 0:
	 * FS_STORE_MEM_DEFAULT. Fetches wait for room (one always runs, so a
	 * budget below one span and its compressed bytes is exceeded by that
	 * much) and runs are shortened to fit.
	 */
	uint64_t mem_max;
};

void fs_store_opts_init(struct fs_store_opts *o);

struct fs_store;

/* @client is borrowed and must outlive the store. */
int fs_store_new(const struct fs_store_opts *o, struct reg_client *client, struct fs_store **out);
/* Stops prefetch, waits for fetches in flight, frees every layer. */
void fs_store_free(struct fs_store *s);
/* The local cache directory in use (valid until fs_store_free()). */
const char *fs_store_cache_dir(const struct fs_store *s);

/*
 * What vouches for the indexes of a manifest's layers, as the caller
 * resolved its reference (index/FORMAT.md, "Trust"). Pins on the layer
 * descriptors themselves (REG_ANNOT_STRATAFS_INDEX) are read from the
 * descriptor passed to fs_store_open_layer().
 */
struct fs_layer_origin {
	const char *manifest_digest; /* the manifest whose referrers hold unpinned indexes */
	const char *pinned_artifact; /* index artifact a pinning index vouches for; NULL/"": none */
	bool trust_unpinned;         /* the user's policy allows unpinned indexes here */
	/* SOCI v2: the SOCI index manifest the image manifest names; NULL/"": none */
	const char *soci_index;
	/*
	 * The layer's diff_id (from the config), asked for only when the
	 * layer must be streamed, as it may cost a request: 0 and *out (NULL:
	 * unknown), or -errno. NULL: unknown.
	 */
	int (*diff_id)(void *ctx, size_t layer, const char **out);
	void *diff_id_ctx;
	size_t layer;                /* the layer's position, for diff_id() */
	/*
	 * The image index entry the manifest was chosen from (its annotations
	 * may pin a foreign TOC: SOCI v2), or NULL.
	 */
	const struct reg_descriptor *index_entry;
};

/*
 * The name of the first foreign TOC format (fs/foreign.h) that finds a TOC
 * pinned for @d under @o, its digest in @digest; NULL when none does. No
 * I/O: strata inspect shows with it what a mount would use.
 */
const char *fs_foreign_pinned_name(const struct reg_descriptor *d, const struct fs_layer_origin *o,
				   char digest[DIGEST_STR_LEN]);
/* The entry of image index @top (may be NULL) that names manifest @digest, or NULL. */
const struct reg_descriptor *fs_foreign_index_entry(const struct reg_manifest *top,
						    const char *digest);

/*
 * Open the layer @desc: find an index that something trusted vouches for
 * (pinned by the manifest or by @origin's pinning index, built here, or,
 * when @origin trusts them, unpinned referrers of the manifest), else
 * build it by streaming the layer once (blob digest and diff_id checked).
 * Every index is validated (its blob digest must equal the layer's) and
 * cached locally (fs/layer_open.c says how). Returns the layer number
 * (0, 1, ...) in *layer_no; the idx_layer is owned by the store (valid
 * until fs_store_free()). Layers may be opened from several threads at
 * once. A store serves one reference: a layer opened once is reused with
 * the index it was opened with.
 */
int fs_store_open_layer(struct fs_store *s, const struct fs_layer_origin *origin,
			const struct reg_descriptor *desc, unsigned *layer_no,
			const struct idx_layer **idx);

/*
 * Read @n bytes at @off of regular-file entry @entry of layer @layer_no:
 * the count (short only at end of file) or -errno (-EIO after io_timeout,
 * -EBADMSG never escapes: a corrupt span is logged and reported as -EIO).
 */
ssize_t fs_store_read(struct fs_store *s, unsigned layer_no, uint32_t entry, void *buf,
		      size_t n, uint64_t off);

/*
 * A read answered in place (fs_store_read_vec()): its bytes in order, as
 * pieces of decoded spans in memory, each referenced until
 * fs_store_rvec_release() (evicted meanwhile, a span is freed by that
 * release, not before), and of the caller's
 * buffer (holes, spans read from the cache, spans that did not fit).
 * Saves the copy of a read's bytes out of the spans into the buffer that
 * the reply then copies again: hand @iov to writev(2) or fuse_reply_iov().
 */
#define FS_RVEC_MAX 8
struct fs_rvec {
	struct iovec iov[FS_RVEC_MAX];
	unsigned n;
	void *held[FS_RVEC_MAX]; /* the spans referenced */
	unsigned n_held;
	struct fs_store *store;  /* theirs */
};

/*
 * fs_store_read(), with the bytes described by @v (zeroed by the caller)
 * rather than all copied into @buf, which must still hold @n bytes.
 */
ssize_t fs_store_read_vec(struct fs_store *s, unsigned layer_no, uint32_t entry, void *buf,
			  size_t n, uint64_t off, struct fs_rvec *v);
/* Drop the references of @v, if any; its pieces are then gone. */
void fs_store_rvec_release(struct fs_rvec *v);

/* Start background prefetch of every layer (lower priority than reads). */
void fs_store_prefetch_start(struct fs_store *s);

/*
 * Mark the spans that hold regular-file entry @entry of layer @layer_no
 * as wanted: fs_store_prefetch_wanted() then fetches them, and only them,
 * in the background (the store's fetch_threads workers, half of them at
 * once), so that decoding runs on every core while the caller reads them
 * in order (strata extract). -EINVAL for an entry that is not a regular
 * file of an open layer. A layer whose spans are all wanted gets its
 * whole-layer check, as with prefetch_all.
 */
int fs_store_want(struct fs_store *s, unsigned layer_no, uint32_t entry);
/* Start fetching the wanted spans (no-op if a prefetch already runs). */
void fs_store_prefetch_wanted(struct fs_store *s);

/*
 * Stats as a JSON object (caller frees): per layer digest, bytes fetched,
 * spans fetched / total, fraction fetched, cache hits/misses; totals;
 * fetch latency p50/p90/p99 in ms; errors; index source per layer
 * ("cache", "registry", "built").
 */
char *fs_store_stats_json(struct fs_store *s);

/* ---- indexes outside the open path (fs/build_stream.c) ---------------- */

/*
 * Build the index of layer @desc by streaming its blob once from @c
 * (sequential Range reads, one chunk ahead). The blob's sha256 and the
 * diff_id (@diff_id, from the image config; NULL: the descriptor's
 * containerd.io/uncompressed annotation, if any) are checked: -EBADMSG on
 * a mismatch. @span_size 0: IDX_DEFAULT_SPAN_SIZE. @st and @fetched (blob
 * bytes received) may be NULL. *out is the caller's (idx_layer_free()).
 */
int fs_index_build_stream(struct reg_client *c, const struct reg_descriptor *desc,
			  const char *diff_id, uint64_t span_size, struct idx_layer **out,
			  struct idx_build_stats *st, uint64_t *fetched);
/*
 * The same for a blob of at most FS_KEEP_BLOB_MAX bytes, keeping its bytes:
 * *blob (the caller's, free(); desc->size bytes, verified against the
 * blob digest) on success. -EFBIG for a larger blob.
 */
#define FS_KEEP_BLOB_MAX (64u << 10)
int fs_index_build_keep(struct reg_client *c, const struct reg_descriptor *desc,
			const char *diff_id, uint64_t span_size, struct idx_layer **out,
			uint64_t *fetched, void **blob);
/* The same, telling @progress (may be NULL) the blob bytes read so far. */
int fs_index_build_progress(struct reg_client *c, const struct reg_descriptor *desc,
			    const char *diff_id, uint64_t span_size, struct idx_layer **out,
			    reg_progress_fn progress, void *ctx);

/*
 * For each of @layers[0..n), whether a stratafs index artifact referring to
 * manifest @mdigest (referrers API or fallback tag) holds an index blob
 * for it (@has[i]). Nothing vouches for those indexes: this only tells
 * whether pushing another would add anything. No referrers: all false, 0.
 * Other errors: -errno.
 */
int fs_index_registry_has(struct reg_client *c, const char *mdigest,
			  const struct reg_descriptor *const *layers, size_t n, bool *has);

/*
 * Serialize @idx (idx_save) and upload it as a blob: the one way an index
 * reaches a registry (a mount's push_index, strata index --push, strata
 * push / commit). @b gets the blob's digest and size and the layer it
 * indexes. Failures are logged here; -errno.
 */
int fs_index_upload(struct reg_pusher *p, const struct idx_layer *idx, struct reg_index_blob *b);

/*
 * Upload the serialized @idx[0..n) (fs_index_upload) and push one stratafs index artifact
 * whose subject is @subject (its media type, digest and raw size); with
 * @replace, the referrers fallback tag then lists no other stratafs index
 * artifact. @digest (may be NULL) receives the artifact's digest and
 * @size its size. Failures are logged here; -errno.
 */
int fs_index_push(struct reg_pusher *p, const struct reg_manifest *subject,
		  const struct idx_layer *const *idx, size_t n, bool replace,
		  char digest[DIGEST_STR_LEN], uint64_t *size);

/*
 * Open layer @layer_no: where its index came from ("cache", "registry",
 * "built"), what vouches for it ("pinned", "built", "unpinned"; static
 * strings) and the index (valid until fs_store_free()). -ENOENT past the
 * last open layer.
 */
int fs_store_layer_get(struct fs_store *s, unsigned layer_no, const char **source,
		       const char **trust, const struct idx_layer **idx);

#endif
