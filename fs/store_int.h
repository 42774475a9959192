/* SPDX-License-Identifier: MIT */
/*
 * fs/ internal: the objects behind struct fs_store (fs/store.h), shared by
 * store.c (life cycle, workers), layer_open.c (index discovery), fetch.c
 * (reads, single-flight fetches), stats.c and hist.c.
 *
 * Locking: one mutex, s->lock, protects every mutable field below (span
 * states, hot buffers, queues, counters). It is never held across I/O:
 * network, disk and decoding run unlocked on claimed spans. Readers wait on
 * s->done (broadcast whenever a span fetch or check ends); workers wait on
 * s->work.
 */
#ifndef FS_STORE_INT_H
#define FS_STORE_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/dbuf.h"
#include "common/digest.h"
#include "fs/cache.h"
#include "fs/store.h"

#define FS_MAX_LAYERS 1024
#define FS_RUN_MAX_C (8u << 20)      /* compressed bytes in one Range request */
#define FS_ONDEMAND_MIN 8            /* on-demand fetches that run whatever the memory budget */
#define FS_TOUCH_SEC 60              /* refresh a used span file's mtime this often (LRU) */
#define FS_RA_QUEUE 64               /* pending readahead hints */
#define FS_SEQ_SLOTS 8               /* sequential streams tracked per layer */
#define FS_BUILD_CHUNK (8u << 20)    /* Range size when streaming a layer to index it */
#define FS_HIST_BUCKETS 256

/* A fixed log-scale histogram (4 buckets per power of two, ~12 % error). */
struct fs_hist {
	uint64_t b[FS_HIST_BUCKETS];
	uint64_t count;
	uint64_t max;
};
void fs_hist_add(struct fs_hist *h, uint64_t v);
/* The value at quantile @q (0..1): the middle of its bucket; 0 when empty. */
uint64_t fs_hist_quantile(const struct fs_hist *h, double q);

enum fs_span_state {
	FS_SP_UNKNOWN = 0, /* a file exists in the cache dir, not yet checked by us */
	FS_SP_ABSENT,      /* nobody has it: the next reader fetches it */
	FS_SP_BUSY,        /* one thread is fetching or checking it; wait on s->done */
	FS_SP_PRESENT,     /* in the cache dir, checked by this process */
};

/* A decoded span in memory; refs and the LRU links are protected by s->lock. */
struct fs_hot {
	unsigned refs;      /* readers copying out of it */
	unsigned pins;      /* readers that waited for its fetch and have not copied yet */
	bool detached;      /* evicted while referenced: the last unref frees it */
	struct fs_layer *layer;
	uint32_t span;
	struct fs_hot *prev, *next; /* s->hot_lru, most recent first */
	size_t len;
	/*
	 * len bytes; block-aligned when len >= FS_HOT_ALIGN_MIN, so that a
	 * span file can be written from it without a copy (fs/cache_dio.h).
	 * Smaller spans (foreign TOCs' chunks can be a few hundred bytes)
	 * take plain malloc: aligning them would cost more than they hold.
	 */
	unsigned char *data;
};
#define FS_HOT_ALIGN_MIN (64u << 10)

struct fs_span_st {
	uint8_t state;      /* enum fs_span_state */
	bool want;          /* fs_store_want(): prefetch it when only wanted spans are */
	uint8_t pf;         /* enum fs_pf_bits: its part in the access profile (fs/profile.c) */
	int16_t err;        /* the last fetch's error; 0 after a success */
	uint32_t gen;       /* bumped each time a fetch or check of it ends */
	uint32_t touched;   /* fs_now_us()/1e6 when its file's mtime was last set */
	uint32_t waiters;   /* readers waiting for it to leave BUSY (wait_span()) */
	bool seen;          /* a reader has read from it (fs/bulk.c: access density) */
	bool zs_asked;      /* a read, readahead, prefetch or bulk asked a pass for it (fs_zs_want()) */
	struct fs_hot *hot; /* may be NULL */
};

/* The whole-layer check (fs/layer_check.c). */
enum fs_check {
	FS_CHECK_NONE = 0, /* not read in full (yet) */
	FS_CHECK_QUEUED,   /* prefetch has passed its last span */
	FS_CHECK_RUNNING,
	FS_CHECK_PASSED,   /* its tar hashes to its diff_id */
	FS_CHECK_FAILED,   /* it does not: the index is dropped, reads fail with EIO */
};

struct fs_seq {
	uint32_t entry;
	uint64_t next_off;  /* where a sequential reader reads next */
	uint64_t stamp;     /* for replacing the oldest slot */
};

#define FS_ZS_NONE UINT32_MAX

/*
 * A layer's forward pass (fs/zstream.c), protected by s->lock; zeroed with
 * the layer, set up at its first read (mode).
 */
struct fs_zs {
	uint8_t mode;       /* 0: not decided yet, 1: spans on their own, 2: passes */
	bool active;        /* a pass job is queued or running */
	uint32_t pos;       /* the span the pass's decoder produces next; FS_ZS_NONE: none */
	uint32_t target;    /* produce spans up to this one (inclusive); FS_ZS_NONE: none */
	uint32_t behind, behind_last; /* spans wanted behind pos: the next restart */
	uint32_t fails;     /* bumped when a pass fails: its waiters return EIO */
	uint64_t passes, restarts;
};

struct fs_layer {
	unsigned no;
	char digest[DIGEST_STR_LEN];
	uint64_t blob_size;  /* the descriptor's: an index of this layer must say the same */
	struct idx_layer *idx;
	struct idx_info info;
	const char *source;  /* where the index came from: "cache", "registry", "built", or a foreign format's name */
	const char *trust;   /* what vouches for it: "pinned", "built", "unpinned" */
	char index_digest[DIGEST_STR_LEN]; /* the index blob's (a foreign layer: its TOC's), "" when built here */
	uint8_t foreign;     /* enum idx_foreign: read through whose TOC (fs/foreign.h) */
	const char *format;  /* its name as shown ("zstd:chunked", ...); NULL for a stratafs index */
	char span_key[DIGEST_STR_LEN]; /* the span cache key (fs_foreign_span_key()) */
	char choice[200];    /* why this index, when a stratafs index and a foreign TOC competed */
	/* what the layer's tar must hash to: the config's diff_id when known, else the index's */
	char diff_id[DIGEST_STR_LEN];
	bool diff_id_known;  /* diff_id is the config's: the whole-layer check can run */
	uint8_t check;       /* enum fs_check, protected by s->lock */
	bool bad;            /* FS_CHECK_FAILED: every read fails; protected by s->lock */
	struct fs_span_st *spans; /* info.n_spans, protected by s->lock */
	uint32_t n_want;     /* spans with want set, protected by s->lock */
	struct fs_seq seq[FS_SEQ_SLOTS];
	/* a walk of the layer in tar order across files (fs/fetch.c walk_note()) */
	uint32_t walk_last;  /* the last span a read ended in */
	uint32_t walk_steps; /* reads in a row that went on into the next span */
	struct fs_zs zs;
	/* dense access turned into bulk fetch (fs/bulk.c), protected by s->lock */
	bool bulk;
	uint32_t bulk_span;  /* the bulk cursor */
	uint64_t u_seen;     /* tar bytes of the spans readers have read from */
	/* counters, protected by s->lock */
	uint64_t bytes_fetched, spans_fetched, fetches, hits, misses, errors;
};

/*
 * A run of claimed (BUSY) spans [first, first+count) waiting for a worker:
 * @cbytes compressed bytes fetched with one Range request, decoded one span
 * (at most @umax bytes) at a time.
 */
struct fs_job {
	struct fs_layer *l;
	uint32_t first, count;
	uint64_t cbytes, umax;
	bool background;
	bool check;         /* not a fetch: the whole-layer check of l (no memory admitted) */
	bool zpass;         /* not a fetch: l's forward pass (fs/zstream.c) */
	bool zfin;          /* not a fetch: verify and cache span first, decoded in hot */
	struct fs_hot *hot;
	struct fs_job *next;
};

struct fs_ra_hint {
	struct fs_layer *l;
	uint32_t first, last; /* inclusive */
};

struct fs_store {
	struct fs_store_opts o;
	char *cache_dir;
	struct reg_client *client;
	struct fs_cache *cache;

	pthread_mutex_t lock;
	pthread_cond_t done;  /* a span fetch/check ended (CLOCK_MONOTONIC) */
	pthread_cond_t work;  /* a job, a hint or prefetch work appeared */
	struct fs_layer *layers[FS_MAX_LAYERS];
	unsigned n_layers;
	const char *opening[FS_MAX_LAYERS]; /* digests being opened (single-flight) */
	unsigned n_opening;
	struct fs_job *jobs, *jobs_tail; /* on-demand runs, FIFO */
	struct fs_ra_hint ra[FS_RA_QUEUE];
	unsigned ra_head, ra_len;
	bool pf_active;
	bool pf_wanted;       /* the prefetch cursor claims only wanted spans */
	unsigned pf_layer;
	uint32_t pf_span;
	unsigned bg_active, bg_max;
	bool stop;
	bool cache_failing;   /* a span write failed: runs shrink to one span */
	/* Memory of the data path, one budget: see fs/span_mem.c. */
	pthread_cond_t room;  /* a job released memory (decoders wait here) */
	struct fs_hot *hot_lru, *hot_tail;
	uint64_t hot_bytes;   /* hot spans: evictable */
	struct fs_hot *pool;  /* free span buffers to reuse (linked by next): evictable */
	uint64_t pool_bytes;
	uint64_t held;        /* what running jobs hold: compressed and decoded bytes */
	uint64_t cheld;       /* the compressed part of held */
	uint64_t mem_max;
	unsigned running;     /* jobs being run by workers */
	unsigned ondemand;    /* ... of which on-demand (a reader waits) */
	unsigned decoding;    /* decoded-span buffers held by jobs */
	unsigned zs_passes;   /* forward passes queued or running (fs/zstream.c) */
	uint64_t seq_clock;
	struct fs_hist lat;   /* fetch latency in microseconds */
	uint64_t timeouts, build_bytes, check_failures;
	struct fs_prof *prof; /* recording and replay of access profiles (fs/profile.c), or NULL */

	pthread_t *workers;
	unsigned n_workers;
};

/* fetch_job.c */
/* Run one job (called by a worker, unlocked); frees it. */
void fs_job_run(struct fs_store *s, struct fs_job *j);
/* Claim a run of ABSENT spans from @first up to @last (inclusive); locked. */
uint32_t fs_claim_run(struct fs_store *s, struct fs_layer *l, uint32_t first, uint32_t last);
/* Queue a run claimed by a reader and wake a worker; locked. */
int fs_job_push(struct fs_store *s, struct fs_layer *l, uint32_t first, uint32_t count);
/*
 * End the fetch of span @id of @l (claimed BUSY): @r is 0 (@h holds it,
 * @cached: written to the cache) or -errno; @u is the decoded-span memory
 * held for it (fs_mem_buf_get()), 0: none. @bg: nobody waits, keep it hot
 * only when it could not be cached. Unlocked.
 */
void fs_span_end(struct fs_store *s, struct fs_layer *l, uint32_t id, int r, struct fs_hot *h,
		 bool cached, bool bg, uint64_t u);
/*
 * Two halves of fs_span_end() for a verified span that readers wait for,
 * so that they copy it while it is written to the cache. Publish: @h
 * (verified) becomes the span's hot copy, its waiters wake, and the
 * caller keeps a reference to it; the span stays BUSY, so nobody fetches
 * it again. Settle, once the cache write is done (@cached: it landed):
 * PRESENT (else ABSENT, its hot copy serving while it lasts), the
 * caller's reference dropped, and only now its @u bytes given back
 * (fs_mem_buf_get()): unevictable while written, the copy is counted both
 * as held and as hot rather than not at all, so the decoder waits for
 * room as it did when the write came first. Unlocked.
 */
void fs_span_publish(struct fs_store *s, struct fs_layer *l, uint32_t id, struct fs_hot *h);
void fs_span_settle(struct fs_store *s, struct fs_layer *l, uint32_t id, struct fs_hot *h,
		    uint64_t u, bool cached);

/*
 * End span @id (claimed BUSY) whose decoded bytes were written to the
 * cache but not verified: UNKNOWN, like a file found at mount, so the
 * first reader checks the file before serving a byte of it. Frees @h and
 * gives its @u bytes back. Unlocked.
 */
void fs_span_end_unverified(struct fs_store *s, struct fs_layer *l, uint32_t id,
			    struct fs_hot *h, uint64_t u);

/*
 * zstream.c: forward passes over layers whose spans decode from an earlier
 * checkpoint (single-frame zstd), s->lock held unless said otherwise.
 */
bool fs_zs_layer(struct fs_layer *l);
/* Make @l's pass produce spans @id..@last (starting one if none runs). */
int fs_zs_want(struct fs_store *s, struct fs_layer *l, uint32_t id, uint32_t last);
/* A reader's wait for ABSENT span @id of a pass layer: 0 once it left ABSENT, or -EIO. */
int fs_zs_wait(struct fs_store *s, struct fs_layer *l, uint32_t id, uint32_t last,
	       const struct timespec *deadline);
/* Worker side, unlocked: run a pass job, or a pass's verify-and-cache job. */
void fs_zs_run(struct fs_store *s, struct fs_job *j);
void fs_zs_finish(struct fs_store *s, struct fs_job *j);
/*
 * Locked: run one queued verify-and-cache job here, if there is one (true).
 * For a worker that must wait for memory: those jobs are what gives it back,
 * and every worker may be waiting so.
 */
bool fs_zs_finish_queued(struct fs_store *s);

/* bulk.c: dense access turns into bulk fetch; locked. */
/* A reader read from span @id of @l: count it, switch @l to bulk past the threshold. */
void fs_bulk_note(struct fs_store *s, struct fs_layer *l, uint32_t id);
/* The next run of a layer in bulk mode, admitted (as fs_bg_next()), or NULL. */
struct fs_job *fs_bulk_next(struct fs_store *s, bool *full);
const char *fs_layer_mode(const struct fs_layer *l);

/* span_mem.c: hot spans and the memory budget (s->lock held, but fs_hot_new). */
struct fs_hot *fs_hot_new(size_t len);
/*
 * Make @h the most recent hot span of @l's span @id; may evict others. @h
 * is pinned (not evictable) until each of the @pins readers that waited
 * for it has copied from it: else, under a tight budget, the next job's
 * admission could evict it before they wake, and a span that could not be
 * cached would be fetched again and again.
 */
void fs_hot_insert(struct fs_store *s, struct fs_layer *l, uint32_t id, struct fs_hot *h,
		   unsigned pins);
void fs_hot_drop(struct fs_store *s, struct fs_hot *h);
/* A reader copies out of @h (unlocked) between these two. */
void fs_hot_use(struct fs_store *s, struct fs_hot *h);
void fs_hot_unuse(struct fs_hot *h);
/* Compressed bytes and largest decoded span of spans [first, first+count). */
void fs_run_size(const struct fs_layer *l, uint32_t first, uint32_t count, uint64_t *c,
		 uint64_t *u);
/*
 * Can a job of @c compressed bytes and spans of up to @u bytes start now?
 * If so its compressed bytes are held (fs_mem_cbuf_put() releases them)
 * and it counts as running until fs_mem_job_end(). An @ondemand job (a
 * reader waits on it) also starts beyond the budget while fewer than
 * FS_ONDEMAND_MIN of them run: on a slow registry, parallel readers must
 * not queue behind each other into io_timeout to save memory.
 */
bool fs_mem_admit(struct fs_store *s, uint64_t c, uint64_t u, bool ondemand);
void fs_mem_job_end(struct fs_store *s, bool ondemand);
void fs_mem_cbuf_put(struct fs_store *s, uint64_t c);
/* Hold @c more bytes beside a running job's (a decoder's window); fs_mem_cbuf_put() releases. */
void fs_mem_hold(struct fs_store *s, uint64_t c);
/*
 * Hold a decoded span of @u bytes, waiting (s->lock) for room;
 * fs_mem_buf_put() releases. Returns a buffer of that size to reuse
 * (a struct fs_hot, len == @u, zeroed header), or NULL: fs_hot_new() one.
 */
struct fs_hot *fs_mem_buf_get(struct fs_store *s, uint64_t u);
void fs_mem_buf_put(struct fs_store *s, uint64_t u);
/* A span buffer no longer used (NULL: none): keep it for reuse if there is room, else free it. */
void fs_mem_buf_recycle(struct fs_store *s, struct fs_hot *h);
void fs_mem_pool_free(struct fs_store *s);

/*
 * prefetch.c: background work (readahead hints, prefetch_all), locked.
 * The job returned is already admitted (fs_mem_admit()); NULL when there
 * is none, or when the next one does not fit in memory now.
 */
struct fs_job *fs_bg_next(struct fs_store *s);
/*
 * Claim a background run of @l from span @id up to @last and admit it;
 * NULL when there is none, or (*full) when it does not fit in memory now
 * (the claim is then undone).
 */
struct fs_job *fs_bg_job(struct fs_store *s, struct fs_layer *l, uint32_t id, uint32_t last,
			 bool *full);
/*
 * Spans a sequential reader of @l reads ahead: readahead_spans, but never
 * less than FS_RA_MIN_BYTES of tar (0 when readahead is off). Counted in
 * spans alone, a layer pushed with small spans (--span-size 256K) read
 * ahead 512 KiB and its sequential reads waited on one small run after
 * another.
 */
#define FS_RA_MIN_BYTES (8u << 20)
#define FS_RA_MAX_SPANS 64u
uint32_t fs_ra_spans(const struct fs_store *s, const struct fs_layer *l);
/*
 * A sequential reader wants spans [first, last] of @l soon: if one of them
 * is ABSENT, queue a background run of fs_ra_spans() spans from it (not
 * past @limit), so that each readahead request carries that many spans.
 */
void fs_readahead(struct fs_store *s, struct fs_layer *l, uint32_t first, uint32_t last,
		  uint32_t limit);

/*
 * profile.c (s->lock held). A span's pf bits: in the profile being
 * replayed, claimed by its replay, already read once (recorded).
 */
enum fs_pf_bits { FS_PF_MARK = 1, FS_PF_CLAIMED = 2, FS_PF_SEEN = 4 };
/* A reader needs span @id of @l (fs_store_read()): record it, count the replay's hit. */
void fs_profile_note(struct fs_store *s, struct fs_layer *l, uint32_t id);
/* Has the replay spans left to claim? (s->lock held) */
bool fs_profile_pending(const struct fs_store *s);
/* The replay's next background run, in profile order (NULL: none now; *full as fs_bg_job()). */
struct fs_job *fs_profile_bg_next(struct fs_store *s, bool *full);
/* The "profile" member of the stats JSON (a new jansson object). */
struct json_t *fs_profile_stats(struct fs_store *s);
void fs_profile_free(struct fs_store *s);

/* pull.c: the blob as a stream for idx_build(), one chunk read ahead. */
struct fs_pull;
int fs_pull_open(struct reg_client *c, const char *digest, uint64_t size, struct fs_pull **out);
ssize_t fs_pull_read(void *ctx, void *buf, size_t n); /* an idx_stream_fn */
/* Stop the helper; returns the blob bytes it fetched. */
uint64_t fs_pull_close(struct fs_pull *p);

/* layer_open.c */
void fs_layer_free(struct fs_layer *l);
/* Remove the local copy of @l's index (built, index blob or foreign TOC). */
void fs_layer_uncache_index(struct fs_store *s, const struct fs_layer *l);
/*
 * Mark it used now, whenever one of its span files is written or marked
 * used: never older than the layer's newest span. Its file is read once,
 * at the first lookup; without this a mount that kept reading the layer
 * left its index the oldest file of the cache, the first a prune removed
 * (the next mount then downloads the whole layer to rebuild it).
 */
void fs_layer_touch_index(struct fs_store *s, const struct fs_layer *l);

/*
 * fetch.c: read @n bytes of @l's uncompressed tar at @u through the span
 * cache, fetching what is missing (as a reader does, io_timeout bound):
 * the count or -errno. Unlocked.
 */
ssize_t fs_store_read_tar(struct fs_store *s, struct fs_layer *l, void *buf, size_t n,
			  uint64_t u);

/*
 * layer_check.c: the whole-layer check of @l, run by a worker once
 * prefetch has read every span of it: the tar, span after span, must hash
 * to l->diff_id. On a mismatch the layer's index and cached spans are
 * dropped and it turns bad (reads fail with EIO); logged and counted. A
 * read error leaves it unchecked. Unlocked.
 */
void fs_layer_check(struct fs_store *s, struct fs_layer *l);
/*
 * layer_check_foreign.c: the check of a layer read through a foreign TOC:
 * its blob streamed through idx_build() (blob digest, the config's diff_id
 * when known) and the TOC held against the tar (idx_layer_compare()).
 * 0 passed, 1 failed (@why says how), -errno not done.
 */
int fs_layer_check_foreign(struct fs_store *s, struct fs_layer *l, char *why, size_t why_len);
/* The check job for @l, or NULL (ENOMEM); s->lock held. */
struct fs_job *fs_check_job(struct fs_layer *l);
const char *fs_check_name(enum fs_check c);

uint64_t fs_now_us(void);

static inline uint64_t XMIN_U64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

#endif
