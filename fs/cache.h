/* SPDX-License-Identifier: MIT */
/*
 * fs/: the local on-disk cache shared by every stratafs mount and strata
 * process of a host: layer indexes (by layer blob digest) and verified span
 * data (by layer blob digest + uncompressed range). FUSE-free; tools/ links
 * it for `strata cache du|prune`.
 *
 * Layout (version 1, under the cache dir):
 *   v1/built/<blob hex>.idx                 an index this host built from the
 *                                           layer's verified bytes (idx_save bytes)
 *   v1/iblob/<index hex>.idx                an index blob from a registry, by its
 *                                           own digest (checked on every read)
 *   v1/toc/<toc hex>.toc                    a foreign TOC, by the digest that pins
 *                                           it (checked on every read)
 *   v1/spans/<blob hex>/<u_start>-<u_len>   span file: bytes + 64-byte trailer
 *   v1/tmp/                                 transactions in progress
 * A span file trailer is: "SFSPAN03", u_start (LE u64), u_len (LE u64), the
 * sha256 of the payload (32 bytes), a byte saying the writer did not hash
 * the payload (1) or did (0), 7 zero bytes. It follows the payload so that
 * the payload starts on a block boundary and can be written around the
 * page cache (fs/cache_dio.h). A file of an earlier layout ("SFSPAN01"
 * header first; "SFSPAN02", whose pass-through files claimed a hash
 * nobody had checked) fails the trailer check and is fetched again, like
 * a damaged one. Every write is a
 * transaction (tmp file -> write -> rename), so a reader never sees a
 * partial file; the payload hash lets a reader detect a file damaged after
 * the rename (power loss, disk error, a hand edit).
 *
 * Trust: the cache is trusted (a built index is used as "built on this
 * host") only because nobody else can write it. fs_cache_open() refuses,
 * with a message naming the path and the reason, a cache dir, v1/ or a
 * subdir (built, iblob, spans, tmp, the legacy index) that is a symlink,
 * not owned by our euid, or writable by group or others; every dir from /
 * down to the cache dir must be owned by root or us and not writable by
 * others unless sticky (/tmp), and must not be a symlink (give the real
 * path). The rule is common/safedir.h's; what fs_cache_open() creates is
 * 0700. Then the handle keeps the subdirs open and reaches every file
 * relative to them, never following a symlink (O_NOFOLLOW opens, unlinkat,
 * fstatat AT_SYMLINK_NOFOLLOW): tmp files are created O_EXCL, index and
 * span files are read only from regular files, and they and a layer's span
 * dir only if ours and writable by nobody else (a chmod -R over the cache
 * must not make a checked span file another user's to rewrite: later reads
 * of it are not hashed again), and the stale-tmp cleanup and prune skip a
 * dir that became a symlink instead of removing files where it points.
 *
 * LRU: a file's mtime is its last use (fs_cache_touch()). When the bytes
 * this handle knows of pass the bound, the oldest files are removed until
 * the total is under 90 % of it. Another process may still hold a removed
 * file open; that is fine on Linux.
 *
 * Thread-safety: all functions are thread-safe; several handles (in one or
 * many processes) may share one directory.
 */
#ifndef FS_CACHE_H
#define FS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/digest.h"

#define FS_CACHE_DEFAULT_MAX (10ull << 30)
#define FS_CACHE_MAX_INDEX (256u << 20) /* ceiling of an index file read back */
#define FS_CACHE_SPAN_TRAILER 64
/*
 * Span buffers that start on this boundary (fs/store_int.h) are written
 * to span files without a copy into the page cache (fs/cache_dio.h).
 */
#define FS_CACHE_DIO_ALIGN 4096

struct fs_cache;

/*
 * The default directory: /var/cache/stratafs for root, else
 * $XDG_CACHE_HOME/stratafs, else $HOME/.cache/stratafs. -ENAMETOOLONG if
 * @len is too small, -ENOENT if neither variable is set for a non-root user.
 */
int fs_cache_default_dir(char *buf, size_t len);

/*
 * Where ECR tokens are kept: <cache dir>/tokens, the same rule for the
 * daemon (-o cache=DIR) and strata (--cache DIR), so one token serves
 * both. @cache_dir NULL is the default dir above; trailing '/' are
 * dropped. -ENAMETOOLONG (logged) when the result does not fit @len: both
 * programs refuse such a cache dir rather than keep tokens somewhere else;
 * -ENOENT when there is no default dir: tokens are then not cached.
 */
int fs_cache_token_dir(const char *cache_dir, char *buf, size_t len);

/*
 * Open (creating it 0700 if needed) the cache in @dir (NULL: the default),
 * bounded by @max_bytes (0: FS_CACHE_DEFAULT_MAX). Scans the directory once
 * to learn its size and removes tmp files left by dead processes. -EPERM
 * (owner or mode), -ELOOP (a symlink), -ENOTDIR, -EINVAL (a '..' in @dir)
 * when the dir breaks the trust rule above (logged, with the reason).
 */
int fs_cache_open(const char *dir, uint64_t max_bytes, struct fs_cache **out);
void fs_cache_close(struct fs_cache *c);
/* Valid until fs_cache_close(). */
const char *fs_cache_dir(const struct fs_cache *c);

/* ---- indexes ---------------------------------------------------------- */

/*
 * Two namespaces, because they are trusted for different things. A BUILT
 * index was made here from the layer's verified bytes: right for every
 * image that has the layer, so it is keyed by the layer's digest. An index
 * BLOB came from a registry and is right only for an image that pins it
 * (or trusts where it was found): it is keyed by its own digest, so only a
 * reader that already knows that digest from a trusted document finds it.
 * (Before this split, v1/index/<layer hex>.idx mixed both; it is no longer
 * read, only counted and evicted like any file.)
 */
enum fs_cache_index_kind {
	FS_CACHE_INDEX_BUILT, /* @digest: the layer blob's */
	FS_CACHE_INDEX_BLOB,  /* @digest: the index blob's own */
	/*
	 * A foreign TOC (zstd:chunked, eStargz, SOCI zTOC: index/foreign.h)
	 * by the digest its pin names, checked on every read like a BLOB: the
	 * bytes that hash to that digest (v1/toc/<hex>.toc).
	 */
	FS_CACHE_INDEX_TOC,
};

/*
 * Read an index file (caller frees *buf). -ENOENT if absent, -EPERM if it
 * is not a regular file of ours, -EFBIG over FS_CACHE_MAX_INDEX; for FS_CACHE_INDEX_BLOB, -EBADMSG (and the file is
 * removed) when the bytes do not hash to @digest (FS_CACHE_INDEX_TOC too). The bytes are NOT
 * otherwise validated here: the caller loads them with idx_load(), checks
 * the blob digest, and calls fs_cache_index_remove() when they are bad.
 */
int fs_cache_index_get(struct fs_cache *c, enum fs_cache_index_kind k, const char *digest,
		       void **buf, size_t *len);
/* Store an index file (transaction). -ENOSPC etc. leave the cache unchanged. */
int fs_cache_index_put(struct fs_cache *c, enum fs_cache_index_kind k, const char *digest,
		       const void *buf, size_t len);
int fs_cache_index_remove(struct fs_cache *c, enum fs_cache_index_kind k, const char *digest);
/* Mark an index file used now (LRU), if it is there. */
void fs_cache_index_touch(struct fs_cache *c, enum fs_cache_index_kind k, const char *digest);

/* ---- spans ------------------------------------------------------------ */

/*
 * Store the verified bytes [@u_start, @u_start+@len) of the uncompressed
 * layer @blob_digest (transaction). Returns 0 or -errno (-ENOSPC, -EDQUOT,
 * -EIO ...); on error nothing is visible and the caller simply serves from
 * memory. May evict older files to stay under the bound.
 */
int fs_cache_span_put(struct fs_cache *c, const char *blob_digest, uint64_t u_start,
		      const void *buf, size_t len);
/*
 * The same for bytes the caller has just verified against @sha256 (the
 * span's digest in its index): not hashed a second time. A forward pass
 * (fs/zstream.c) also writes this way the spans it only goes through,
 * unverified (@unread): the trailer then names the hash the index claims
 * and says it was not checked, so that every reader, this process's and
 * others' (even one that verified an earlier file of that name), hashes
 * the file before serving it. @unread also means nobody is about to read
 * these bytes from the file: written around the page cache when @buf
 * allows (fs/cache_dio.h); the others go through it, as a reader will
 * soon pread them.
 */
int fs_cache_span_put_sha(struct fs_cache *c, const char *blob_digest, uint64_t u_start,
			  const void *buf, size_t len, const uint8_t sha256[DIGEST_SHA256_LEN],
			  bool unread);

/*
 * Read the whole payload of a span file into @buf (@len bytes) and check it
 * against @want, the span's sha256 in the index the reader trusts (the
 * trailer's own hash must say the same): 0, -ENOENT if absent, -EBADMSG if
 * the file is damaged or holds other bytes (the caller removes it). A span
 * file is keyed by layer and range only, so it may have been written under
 * another index of the same layer: only the reader's index decides. Use it
 * the first time a process reads a span file; later reads use
 * fs_cache_span_pread(). @want NULL, for spans whose index names only
 * their compressed bytes (SOCI) and whose key names that index (see
 * fs/cache_span.c): the payload must match the trailer's own hash.
 */
int fs_cache_span_read_verified(struct fs_cache *c, const char *blob_digest, uint64_t u_start,
				void *buf, size_t len, const uint8_t want[DIGEST_SHA256_LEN]);

/*
 * The same check through a small buffer: 0, -ENOENT if absent, -EBADMSG
 * if the file is damaged or not @want (the caller removes it), -ENOMEM.
 * The daemon checks a file it did not write this way once, then uses
 * fs_cache_span_pread(). A file whose writer did not hash it is marked
 * hashed once it passes; -EROFS if it passes but cannot be marked (the fast
 * read would refuse it: use the span as absent).
 */
int fs_cache_span_verify(struct fs_cache *c, const char *blob_digest, uint64_t u_start,
			 size_t len, const uint8_t want[DIGEST_SHA256_LEN]);

/*
 * Read @n bytes at @off of the payload of a span of @len bytes, without
 * hashing it: the count, -ENOENT if the file is gone (evicted), -EBADMSG if
 * its trailer does not match (another range, or a payload hash other than
 * @want: the file was replaced since it was verified), -ESTALE if its
 * writer did not hash it (replaced by a pass's unread span: check it with
 * fs_cache_span_verify() first).
 */
ssize_t fs_cache_span_pread(struct fs_cache *c, const char *blob_digest, uint64_t u_start,
			    size_t len, void *buf, size_t n, uint64_t off,
			    const uint8_t want[DIGEST_SHA256_LEN]);

int fs_cache_span_remove(struct fs_cache *c, const char *blob_digest, uint64_t u_start,
			 size_t len);

/* Mark a span file used now (LRU); errors are ignored. */
void fs_cache_span_touch(struct fs_cache *c, const char *blob_digest, uint64_t u_start,
			 size_t len);

/*
 * Call @fn for each span file of layer @blob_digest present now (a snapshot;
 * files may vanish or appear at any time). Stops at the first non-zero
 * return of @fn and returns it; 0 when the layer has no span file.
 */
int fs_cache_span_foreach(struct fs_cache *c, const char *blob_digest,
			  int (*fn)(void *ctx, uint64_t u_start, uint64_t len), void *ctx);

/* ---- maintenance (strata cache du|prune) ------------------------------- */

struct fs_cache_usage {
	uint64_t bytes;       /* all files, tmp included */
	uint64_t index_files;
	uint64_t index_bytes;
	uint64_t span_files;
	uint64_t span_bytes;
	uint64_t tmp_files;
};

int fs_cache_du(struct fs_cache *c, struct fs_cache_usage *out);

/*
 * Remove least recently used files until at most @target bytes remain
 * (0 empties the cache); *freed (may be NULL) receives the bytes removed.
 */
int fs_cache_prune(struct fs_cache *c, uint64_t target, uint64_t *freed);

#endif
