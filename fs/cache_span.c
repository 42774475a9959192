/* SPDX-License-Identifier: MIT */
/*
 * Span files: v1/spans/<blob hex>/<u_start>-<u_len>, the bytes then a
 * 64-byte trailer ("SFSPAN03", u_start, u_len, sha256 of the payload, a
 * flag byte, 7 zero bytes, all little-endian; after the payload so that
 * the payload is block-aligned, fs/cache_dio.h). Named by layer and range,
 * so two indexes of one layer (a genuine one and a forged one, say) share
 * names: every read checks the trailer hash against the reader's own
 * index, and the first read in a process also hashes the payload
 * (fs_cache_span_verify(), fs_cache_span_read_verified()).
 *
 * The flag says whether the writer hashed the payload (0) or not (1: the
 * spans a forward pass only goes through, fs/zstream.c). Later reads of a
 * file a process verified hash nothing and reopen it by name, so whatever
 * file is there then must have been hashed by someone: a file that was
 * not ("1") makes the fast read fail with -ESTALE, and the reader checks
 * it again; fs_cache_span_verify() then clears the flag on the file it
 * hashed (through the fd it hashed, never by name). A SOCI layer's
 * index names the compressed bytes of its spans, not the decoded ones
 * (idx_span.sha_compressed): its spans live under a key derived from the
 * layer AND its zTOC's digest (fs/foreign_soci.c), which fixes how every
 * span decodes, so the files under that key were written by processes of
 * ours that checked the compressed bytes against the same zTOC; the
 * reader passes want = NULL and the payload is checked against the
 * trailer's own hash (damage), the cache dir being ours alone
 * (common/safedir.c) as for indexes built here.
 *
 * All paths are relative to the held fd of v1/spans (see fs/cache.c):
 * writes and unlinks open the layer's dir with O_NOFOLLOW; reads open the
 * file with O_NOFOLLOW and take regular files only.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/digest.h"
#include "common/le.h"
#include "common/log.h"
#include "fs/cache_int.h"

#define SPAN_MAGIC "SFSPAN03"
#define SPAN_FLAG_AT 56 /* trailer byte: 1 = the payload was not hashed by its writer */
#define SPAN_VERIFY_CHUNK (128u << 10) /* buffer of fs_cache_span_verify() */

/* The file name of a span in its layer's dir. */
static int span_name(uint64_t u_start, uint64_t len, char *buf)
{
	return fs_cache_path_fmt(buf, "%016llx-%llx", (unsigned long long)u_start,
				 (unsigned long long)len);
}

/*
 * The dir of layer @blob in v1/spans (O_PATH, never through a symlink) and
 * the name of the span file there.
 */
static int span_at(struct fs_cache *c, const char *blob, uint64_t u_start, uint64_t len,
		   char *name)
{
	const char *hex;
	int r = fs_cache_blob_hex(blob, &hex);

	if (r == 0)
		r = span_name(u_start, len, name);
	if (r < 0)
		return r;
	return fs_cache_subdir_open(fs_cache_fd(c, FS_CACHE_SUB_SPANS), hex, false);
}

int fs_cache_span_put(struct fs_cache *c, const char *blob_digest, uint64_t u_start,
		      const void *buf, size_t len)
{
	uint8_t sha[DIGEST_SHA256_LEN];

	digest_sha256(buf, len, sha);
	return fs_cache_span_put_sha(c, blob_digest, u_start, buf, len, sha, false);
}

int fs_cache_span_put_sha(struct fs_cache *c, const char *blob_digest, uint64_t u_start,
			  const void *buf, size_t len, const uint8_t sha256[DIGEST_SHA256_LEN],
			  bool unread)
{
	char name[FS_CACHE_PATH_MAX];
	uint8_t trl[FS_CACHE_SPAN_TRAILER] = { 0 };
	const char *hex;
	int r;

	r = fs_cache_blob_hex(blob_digest, &hex);
	if (r == 0)
		r = span_name(u_start, len, name);
	if (r < 0)
		return r;
	memcpy(trl, SPAN_MAGIC, 8);
	le64_put(trl + 8, u_start);
	le64_put(trl + 16, len);
	memcpy(trl + 24, sha256, DIGEST_SHA256_LEN);
	trl[SPAN_FLAG_AT] = unread; /* a pass's unread spans are the ones it did not hash */
	r = fs_cache_write_tx(c, fs_cache_fd(c, FS_CACHE_SUB_SPANS), hex, name, buf, len, trl,
			      sizeof(trl), unread);
	if (r < 0)
		fs_cache_note_write_error(c, "a span", r);
	return r;
}

static ssize_t pread_full(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/*
 * Open a span file: a regular file (not a symlink, not a fifo) whose size
 * matches @len; -ENOENT, -EBADMSG (the caller removes it).
 */
static int span_open(struct fs_cache *c, const char *blob, uint64_t u_start, size_t len,
		     int mode)
{
	char name[FS_CACHE_PATH_MAX];
	struct stat st;
	int dfd, fd;

	dfd = span_at(c, blob, u_start, len, name);
	if (dfd < 0) /* not a dir of ours */
		return dfd == -ELOOP || dfd == -ENOTDIR || dfd == -EPERM ? -EBADMSG : dfd;
	fd = openat(dfd, name, mode | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && mode != O_RDONLY && (errno == EACCES || errno == EROFS || errno == EPERM))
		fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		fd = errno == ELOOP ? -EBADMSG : -errno;
	close(dfd);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !fs_cache_st_ours(&st) ||
	    (uint64_t)st.st_size != (uint64_t)len + FS_CACHE_SPAN_TRAILER) {
		close(fd);
		return -EBADMSG;
	}
	return fd;
}

/*
 * Is the trailer of a span file the one of [@u_start, +@len) with payload
 * hash @want? @want NULL: any hash (the caller's index does not name the
 * decoded bytes; the payload is then checked against the trailer's own).
 */
static bool trailer_ok(const uint8_t *trl, uint64_t u_start, size_t len,
		   const uint8_t want[DIGEST_SHA256_LEN])
{
	return memcmp(trl, SPAN_MAGIC, 8) == 0 && le64_get(trl + 8) == u_start &&
	       le64_get(trl + 16) == len &&
	       (!want || memcmp(trl + 24, want, DIGEST_SHA256_LEN) == 0);
}

/* What the payload must hash to: @want, or the trailer's own hash. */
static const uint8_t *payload_want(const uint8_t *trl, const uint8_t want[DIGEST_SHA256_LEN])
{
	return want ? want : trl + 24;
}

int fs_cache_span_read_verified(struct fs_cache *c, const char *blob_digest, uint64_t u_start,
				void *buf, size_t len, const uint8_t want[DIGEST_SHA256_LEN])
{
	uint8_t trl[FS_CACHE_SPAN_TRAILER], sum[DIGEST_SHA256_LEN];
	ssize_t n;
	int fd, r = 0;

	fd = span_open(c, blob_digest, u_start, len, O_RDONLY);
	if (fd < 0)
		return fd;
	n = pread_full(fd, trl, sizeof(trl), len);
	if (n == (ssize_t)sizeof(trl))
		n = pread_full(fd, buf, len, 0);
	close(fd);
	if (n < 0)
		return (int)n;
	if ((size_t)n != len || !trailer_ok(trl, u_start, len, want))
		r = -EBADMSG;
	if (r == 0) {
		digest_sha256(buf, len, sum);
		if (memcmp(sum, payload_want(trl, want), sizeof(sum)) != 0)
			r = -EBADMSG;
	}
	return r;
}

int fs_cache_span_verify(struct fs_cache *c, const char *blob_digest, uint64_t u_start,
			 size_t len, const uint8_t want[DIGEST_SHA256_LEN])
{
	uint8_t trl[FS_CACHE_SPAN_TRAILER], sum[DIGEST_SHA256_LEN], *buf = NULL;
	struct digest_ctx *dc = NULL;
	ssize_t n = 0;
	size_t done = 0;
	int fd, r;

	fd = span_open(c, blob_digest, u_start, len, O_RDWR); /* RDWR: to clear the flag */
	if (fd < 0)
		return fd;
	r = digest_ctx_new(&dc);
	if (r == 0 && !(buf = malloc(SPAN_VERIFY_CHUNK)))
		r = -ENOMEM;
	if (r == 0 && pread_full(fd, trl, sizeof(trl), len) != (ssize_t)sizeof(trl))
		r = -EBADMSG;
	if (r == 0 && !trailer_ok(trl, u_start, len, want))
		r = -EBADMSG;
	while (r == 0 && done < len) {
		n = pread_full(fd, buf, len - done < SPAN_VERIFY_CHUNK ? len - done
								 : SPAN_VERIFY_CHUNK,
			       done);
		if (n <= 0)
			r = n < 0 ? (int)n : -EBADMSG; /* shrank under us */
		else
			r = digest_ctx_update(dc, buf, (size_t)n);
		done += n > 0 ? (size_t)n : 0;
	}
	if (r == 0)
		r = digest_ctx_final(dc, sum);
	if (r == 0 && memcmp(sum, payload_want(trl, want), sizeof(sum)) != 0)
		r = -EBADMSG;
	/*
	 * Hashed now: the file (this inode, whatever its name names later) is
	 * vouched for. If it cannot say so (a read-only or full cache), the
	 * fast read would refuse it for ever: the caller must not count on it.
	 */
	if (r == 0 && trl[SPAN_FLAG_AT] && pwrite(fd, "", 1, (off_t)(len + SPAN_FLAG_AT)) != 1) {
		log_debug("cannot mark span file %" PRIu64 "-%zu of '%s' hashed: %s", u_start, len,
			  blob_digest, strerror(errno));
		r = -EROFS;
	}
	close(fd);
	free(buf);
	digest_ctx_free(dc);
	return r;
}

ssize_t fs_cache_span_pread(struct fs_cache *c, const char *blob_digest, uint64_t u_start,
			    size_t len, void *buf, size_t n, uint64_t off,
			    const uint8_t want[DIGEST_SHA256_LEN])
{
	uint8_t trl[FS_CACHE_SPAN_TRAILER];
	ssize_t r;
	int fd;

	if (off > len)
		return -EINVAL;
	if (n > len - off)
		n = len - off;
	fd = span_open(c, blob_digest, u_start, len, O_RDONLY);
	if (fd < 0)
		return fd;
	/*
	 * The file may have been replaced since we verified it: renamed over
	 * by a process trusting another index of this layer (its trailer then
	 * names other bytes), or by a pass that did not hash what it wrote.
	 */
	r = pread_full(fd, trl, sizeof(trl), len);
	if (r == (ssize_t)sizeof(trl) && !trailer_ok(trl, u_start, len, want))
		r = -EBADMSG;
	else if (r == (ssize_t)sizeof(trl) && trl[SPAN_FLAG_AT])
		r = -ESTALE;
	if (r == (ssize_t)sizeof(trl))
		r = pread_full(fd, buf, n, off);
	else if (r >= 0)
		r = -EBADMSG;
	close(fd);
	if (r >= 0 && (size_t)r != n)
		r = -EBADMSG; /* shrank under us: treat as damaged */
	return r;
}

int fs_cache_span_remove(struct fs_cache *c, const char *blob_digest, uint64_t u_start,
			 size_t len)
{
	char name[FS_CACHE_PATH_MAX];
	int dfd = span_at(c, blob_digest, u_start, len, name), r;

	if (dfd < 0)
		return dfd;
	r = unlinkat(dfd, name, 0) < 0 ? -errno : 0;
	close(dfd);
	return r;
}

void fs_cache_span_touch(struct fs_cache *c, const char *blob_digest, uint64_t u_start,
			 size_t len)
{
	char name[FS_CACHE_PATH_MAX];
	int dfd = span_at(c, blob_digest, u_start, len, name);

	if (dfd >= 0) {
		utimensat(dfd, name, NULL, AT_SYMLINK_NOFOLLOW);
		close(dfd);
	}
}
