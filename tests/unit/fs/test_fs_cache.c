/* SPDX-License-Identifier: MIT */
/*
 * The on-disk cache: transactions (no tmp file visible, rename into place),
 * index round trip, span verification and damage detection, LRU eviction
 * to the bound, two handles on one directory, stale tmp cleanup.
 */
#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "common/digest.h"
#include "common/le.h"
#include "fs/cache.h"
#include "fs/cache_dio.h"
#include "tap.h"

#define BLOB_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define BLOB_B "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static char root[256];

static int count_files(const char *sub)
{
	char p[512];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(p, sizeof(p), "%s/v1/%s", root, sub);
	d = opendir(p);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void fill(unsigned char *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 8));
}

static void set_mtime(const char *blob_hex, uint64_t u_start, size_t len, time_t t)
{
	char p[512];
	struct timespec ts[2] = { { t, 0 }, { t, 0 } };

	snprintf(p, sizeof(p), "%s/v1/spans/%s/%016llx-%zx", root, blob_hex,
		 (unsigned long long)u_start, len);
	utimensat(AT_FDCWD, p, ts, 0);
}

static void sha_of(const void *buf, size_t len, uint8_t out[DIGEST_SHA256_LEN])
{
	digest_sha256(buf, len, out);
}

static void test_index(struct fs_cache *c)
{
	const enum fs_cache_index_kind B = FS_CACHE_INDEX_BUILT, X = FS_CACHE_INDEX_BLOB;
	uint8_t sha[DIGEST_SHA256_LEN];
	char dg[DIGEST_STR_LEN], p[512];
	void *buf = NULL;
	size_t len = 0;
	FILE *f;

	is_int(fs_cache_index_get(c, B, BLOB_A, &buf, &len), -ENOENT, "absent index: -ENOENT");
	is_int(fs_cache_index_put(c, B, BLOB_A, "hello index", 11), 0, "index put");
	is_int(fs_cache_index_get(c, B, BLOB_A, &buf, &len), 0, "index get");
	ok(len == 11 && memcmp(buf, "hello index", 11) == 0, "index bytes round trip");
	free(buf);
	is_int(count_files("tmp"), 0, "no tmp file left after a transaction");
	is_int(fs_cache_index_put(c, B, "md5:abc", "x", 1), -EINVAL, "bad digest rejected");
	is_int(fs_cache_index_get(c, X, BLOB_A, &buf, &len), -ENOENT,
	       "a built index is not found as an index blob: two namespaces");
	is_int(fs_cache_index_remove(c, B, BLOB_A), 0, "index remove");
	is_int(fs_cache_index_get(c, B, BLOB_A, &buf, &len), -ENOENT, "removed index is gone");

	/* an index blob is keyed by its own digest, checked on every read */
	sha_of("blob index", 10, sha);
	digest_format(sha, dg);
	is_int(fs_cache_index_put(c, X, dg, "blob index", 10), 0, "index blob put");
	is_int(fs_cache_index_get(c, X, dg, &buf, &len), 0, "index blob get");
	free(buf);
	is_int(fs_cache_index_get(c, B, dg, &buf, &len), -ENOENT,
	       "an index blob is not found as a built index");
	snprintf(p, sizeof(p), "%s/v1/iblob/%s.idx", root, dg + 7);
	f = fopen(p, "w");
	ok(f != NULL, "rewrite the index blob file");
	if (f) {
		fputs("forged index", f);
		fclose(f);
	}
	is_int(fs_cache_index_get(c, X, dg, &buf, &len), -EBADMSG,
	       "a rewritten index blob is refused (it no longer hashes to its name)");
	ok(access(p, F_OK) < 0, "and removed");

	/* a foreign TOC: its own namespace, keyed by its pin, checked on every read */
	sha_of("a toc", 5, sha);
	digest_format(sha, dg);
	is_int(fs_cache_index_put(c, FS_CACHE_INDEX_TOC, dg, "a toc", 5), 0, "TOC put");
	is_int(fs_cache_index_get(c, X, dg, &buf, &len), -ENOENT, "a TOC is not an index blob");
	is_int(fs_cache_index_get(c, FS_CACHE_INDEX_TOC, dg, &buf, &len), 0, "TOC get");
	ok(len == 5 && memcmp(buf, "a toc", 5) == 0, "TOC bytes round trip");
	free(buf);
	snprintf(p, sizeof(p), "%s/v1/toc/%s.toc", root, dg + 7);
	f = fopen(p, "w");
	if (f) {
		fputs("a lie", f);
		fclose(f);
	}
	is_int(fs_cache_index_get(c, FS_CACHE_INDEX_TOC, dg, &buf, &len), -EBADMSG,
	       "a rewritten TOC is refused and removed");
	ok(access(p, F_OK) < 0, "... removed");
}

/* fs_cache_span_verify() reads through a small buffer: a span of several chunks. */
static void test_span_verify(struct fs_cache *c)
{
	size_t n = (300u << 10) + 17;
	unsigned char *in = malloc(n);
	char p[512];
	int fd;

	if (!in)
		return;
	uint8_t sha[DIGEST_SHA256_LEN], other[DIGEST_SHA256_LEN];

	fill(in, n, 3);
	sha_of(in, n, sha);
	is_int(fs_cache_span_verify(c, BLOB_A, 1u << 20, n, sha), -ENOENT, "verify: absent span");
	is_int(fs_cache_span_put(c, BLOB_A, 1u << 20, in, n), 0, "verify: span put");
	is_int(fs_cache_span_verify(c, BLOB_A, 1u << 20, n, sha), 0, "verify: intact span");
	memcpy(other, sha, sizeof(other));
	other[0] ^= 1;
	is_int(fs_cache_span_verify(c, BLOB_A, 1u << 20, n, other), -EBADMSG,
	       "verify: an intact file is refused when the reader's index names other bytes");
	is_int(fs_cache_span_verify(c, BLOB_A, 1u << 20, n - 1, sha), -ENOENT,
	       "verify: another length is another span");
	is_int(fs_cache_span_verify(c, BLOB_A, 1u << 20, n, NULL), 0,
	       "verify without a digest (SOCI): the payload matches its header's hash");
	snprintf(p, sizeof(p), "%s/v1/spans/%s/%016llx-%zx", root, HEX_A, 1ull << 20, n);
	fd = open(p, O_WRONLY);
	ok(fd >= 0, "verify: open span file to damage it");
	pwrite(fd, "X", 1, n - 3); /* in the last chunk */
	close(fd);
	is_int(fs_cache_span_verify(c, BLOB_A, 1u << 20, n, sha), -EBADMSG, "verify: damaged tail");
	is_int(fs_cache_span_verify(c, BLOB_A, 1u << 20, n, NULL), -EBADMSG,
	       "verify without a digest: a damaged payload is caught by the header's hash");
	fd = open(p, O_WRONLY);
	pwrite(fd, "SFSPAN01", 8, n);
	close(fd);
	is_int(fs_cache_span_verify(c, BLOB_A, 1u << 20, n, sha), -EBADMSG, "verify: bad trailer");
	truncate(p, 10 + FS_CACHE_SPAN_TRAILER);
	is_int(fs_cache_span_verify(c, BLOB_A, 1u << 20, n, sha), -EBADMSG, "verify: truncated");
	is_int(fs_cache_span_remove(c, BLOB_A, 1u << 20, n), 0, "verify: span removed");
	free(in);
}

static void test_span(struct fs_cache *c)
{
	unsigned char in[5000], out[5000], forged[5000];
	uint8_t sha[DIGEST_SHA256_LEN];
	char p[512];
	int fd;

	fill(in, sizeof(in), 1);
	sha_of(in, sizeof(in), sha);
	is_int(fs_cache_span_read_verified(c, BLOB_A, 0, out, sizeof(out), sha), -ENOENT,
	       "absent span: -ENOENT");
	is_int(fs_cache_span_put(c, BLOB_A, 8192, in, sizeof(in)), 0, "span put");
	is_int(fs_cache_span_read_verified(c, BLOB_A, 8192, out, sizeof(out), sha), 0,
	       "span verified");
	ok(memcmp(in, out, sizeof(in)) == 0, "span bytes round trip");
	memset(out, 0, sizeof(out));
	is_int(fs_cache_span_pread(c, BLOB_A, 8192, sizeof(in), out, 100, 4950, sha), 50,
	       "pread is clipped at the span end");
	ok(memcmp(out, in + 4950, 50) == 0, "pread bytes");
	is_int(fs_cache_span_read_verified(c, BLOB_A, 8192, out, 4999, sha), -ENOENT,
	       "another length is another span");

	/*
	 * The attack: the span file rewritten consistently (other payload,
	 * header hash to match), as a process trusting a forged index of the
	 * same layer would write it. Its own header vouches for it; the
	 * reader's index does not.
	 */
	fill(forged, sizeof(forged), 9);
	is_int(fs_cache_span_put(c, BLOB_A, 8192, forged, sizeof(forged)), 0,
	       "span file rewritten consistently");
	is_int(fs_cache_span_read_verified(c, BLOB_A, 8192, out, sizeof(out), sha), -EBADMSG,
	       "a consistently rewritten span is refused: its hash is not the index's");
	is_int(fs_cache_span_pread(c, BLOB_A, 8192, sizeof(in), out, 10, 0, sha), -EBADMSG,
	       "pread of a span replaced after it was verified is refused too");
	is_int(fs_cache_span_put(c, BLOB_A, 8192, in, sizeof(in)), 0, "span put back");

	/* Damage one payload byte: the verified read must notice. */
	snprintf(p, sizeof(p), "%s/v1/spans/%s/%016llx-%zx", root, HEX_A, 8192ull, sizeof(in));
	fd = open(p, O_WRONLY);
	ok(fd >= 0, "open span file to damage it");
	pwrite(fd, "X", 1, 1234);
	close(fd);
	is_int(fs_cache_span_read_verified(c, BLOB_A, 8192, out, sizeof(out), sha), -EBADMSG,
	       "damaged span detected");
	/* Truncate it: a size mismatch is detected without reading. */
	truncate(p, 100);
	is_int(fs_cache_span_pread(c, BLOB_A, 8192, sizeof(in), out, 10, 0, sha), -EBADMSG,
	       "truncated span detected by pread");
	is_int(fs_cache_span_remove(c, BLOB_A, 8192, sizeof(in)), 0, "damaged span removed");
	is_int(fs_cache_span_pread(c, BLOB_A, 8192, sizeof(in), out, 10, 0, sha), -ENOENT,
	       "removed span is gone");
}

/*
 * A span file of the first layout (header first, "SFSPAN01"), of the right
 * size and with the right hash: refused like a damaged file, so that a
 * cache written by an older stratafs is fetched again, never misread.
 */
static void test_span_old_layout(struct fs_cache *c)
{
	unsigned char in[6000], out[6000], old[64 + 6000] = { 0 };
	uint8_t sha[DIGEST_SHA256_LEN];
	char p[512];
	int fd;

	fill(in, sizeof(in), 5);
	sha_of(in, sizeof(in), sha);
	memcpy(old, "SFSPAN01", 8);
	le64_put(old + 8, 65536);
	le64_put(old + 16, sizeof(in));
	memcpy(old + 24, sha, sizeof(sha));
	memcpy(old + 64, in, sizeof(in));
	is_int(fs_cache_span_put(c, BLOB_A, 65536, in, sizeof(in)), 0, "old layout: span put");
	snprintf(p, sizeof(p), "%s/v1/spans/%s/%016llx-%zx", root, HEX_A, 65536ull, sizeof(in));
	fd = open(p, O_WRONLY | O_TRUNC);
	ok(fd >= 0 && write(fd, old, sizeof(old)) == (ssize_t)sizeof(old),
	   "old layout: file rewritten header first");
	close(fd);
	is_int(fs_cache_span_read_verified(c, BLOB_A, 65536, out, sizeof(out), sha), -EBADMSG,
	       "old layout: refused by the verified read");
	is_int(fs_cache_span_verify(c, BLOB_A, 65536, sizeof(in), sha), -EBADMSG,
	       "old layout: refused by the check");
	is_int(fs_cache_span_pread(c, BLOB_A, 65536, sizeof(in), out, 10, 0, sha), -EBADMSG,
	       "old layout: refused by pread");
	is_int(fs_cache_span_remove(c, BLOB_A, 65536, sizeof(in)), 0, "old layout: removed");
}

/*
 * A span file of the second layout ("SFSPAN02": the same trailer, but a
 * pass's unread spans claimed a hash nobody had checked): refused.
 */
static void test_span_layout_02(struct fs_cache *c)
{
	unsigned char in[6000], out[6000];
	uint8_t sha[DIGEST_SHA256_LEN];
	char p[512];
	int fd;

	fill(in, sizeof(in), 6);
	sha_of(in, sizeof(in), sha);
	is_int(fs_cache_span_put(c, BLOB_A, 131072, in, sizeof(in)), 0, "layout 02: span put");
	snprintf(p, sizeof(p), "%s/v1/spans/%s/%016llx-%zx", root, HEX_A, 131072ull, sizeof(in));
	fd = open(p, O_WRONLY);
	ok(fd >= 0 && pwrite(fd, "SFSPAN02", 8, sizeof(in)) == 8, "layout 02: magic rewritten");
	close(fd);
	is_int(fs_cache_span_verify(c, BLOB_A, 131072, sizeof(in), sha), -EBADMSG,
	       "layout 02: refused by the check");
	is_int(fs_cache_span_pread(c, BLOB_A, 131072, sizeof(in), out, 10, 0, sha), -EBADMSG,
	       "layout 02: refused by pread");
	is_int(fs_cache_span_remove(c, BLOB_A, 131072, sizeof(in)), 0, "layout 02: removed");
}

/*
 * A span written unhashed (a forward pass's unread span) replaces a file a
 * reader verified: the fast read refuses it (-ESTALE) until it is hashed;
 * bad bytes fail that check, good ones pass it and are marked hashed.
 */
static void test_span_unhashed(struct fs_cache *c)
{
	unsigned char good[6000], bad[6000], out[6000];
	uint8_t sha[DIGEST_SHA256_LEN];

	fill(good, sizeof(good), 7);
	memcpy(bad, good, sizeof(bad));
	bad[0] ^= 0xFF;
	sha_of(good, sizeof(good), sha);
	is_int(fs_cache_span_put_sha(c, BLOB_A, 196608, good, sizeof(good), sha, false), 0,
	       "unhashed: a verified span written");
	is_int(fs_cache_span_verify(c, BLOB_A, 196608, sizeof(good), sha), 0, "... and checked");
	is_int(fs_cache_span_pread(c, BLOB_A, 196608, sizeof(good), out, 10, 0, sha), 10,
	       "... served by the fast read");
	is_int(fs_cache_span_put_sha(c, BLOB_A, 196608, bad, sizeof(bad), sha, true), 0,
	       "unhashed: replaced by wrong bytes under the right hash, unhashed");
	is_int(fs_cache_span_pread(c, BLOB_A, 196608, sizeof(good), out, 10, 0, sha), -ESTALE,
	       "... the fast read refuses them (-ESTALE), never serves them");
	is_int(fs_cache_span_verify(c, BLOB_A, 196608, sizeof(good), sha), -EBADMSG,
	       "... and the check finds them wrong");
	is_int(fs_cache_span_put_sha(c, BLOB_A, 196608, good, sizeof(good), sha, true), 0,
	       "unhashed: the right bytes, unhashed");
	is_int(fs_cache_span_pread(c, BLOB_A, 196608, sizeof(good), out, 10, 0, sha), -ESTALE,
	       "... refused by the fast read until checked");
	is_int(fs_cache_span_verify(c, BLOB_A, 196608, sizeof(good), sha), 0, "... the check passes");
	is_int(fs_cache_span_pread(c, BLOB_A, 196608, sizeof(good), out, sizeof(out), 0, sha),
	       (int)sizeof(good), "... and marks the file hashed: the fast read serves it");
	ok(memcmp(out, good, sizeof(good)) == 0, "... the right bytes");
	is_int(fs_cache_span_remove(c, BLOB_A, 196608, sizeof(good)), 0, "unhashed: removed");
	{
		/* right bytes, but the file cannot be marked (immutable): -EROFS, not a loop */
		char p[512];
		int fd, flags = 0, set = 0;

		is_int(fs_cache_span_put_sha(c, BLOB_A, 196608, good, sizeof(good), sha, true), 0,
		       "unhashed: put, to be made immutable");
		snprintf(p, sizeof(p), "%s/v1/spans/%s/%016llx-%zx", root, HEX_A, 196608ull, sizeof(good));
		fd = open(p, O_RDONLY);
		if (fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
			flags |= FS_IMMUTABLE_FL;
			set = ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
		}
		ok(set, "... the file is immutable (chattr +i)");
		is_int(fs_cache_span_verify(c, BLOB_A, 196608, sizeof(good), sha), -EROFS,
		       "... the check passes but cannot mark it: -EROFS (the reader treats it as absent)");
		is_int(fs_cache_span_pread(c, BLOB_A, 196608, sizeof(good), out, 10, 0, sha), -ESTALE,
		       "... and the fast read still refuses it");
		if (set) {
			flags &= ~FS_IMMUTABLE_FL;
			ioctl(fd, FS_IOC_SETFLAGS, &flags);
		}
		if (fd >= 0)
			close(fd);
		is_int(fs_cache_span_remove(c, BLOB_A, 196608, sizeof(good)), 0, "... removed");
	}
}

/* Pages of @path's first @len bytes in the page cache. */
static long resident_pages(const char *path, size_t len)
{
	long page = sysconf(_SC_PAGESIZE), n = 0;
	size_t pages = (len + (size_t)page - 1) / (size_t)page;
	unsigned char *vec = malloc(pages);
	int fd = open(path, O_RDONLY);
	void *m = fd >= 0 ? mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;

	if (!vec || m == MAP_FAILED || mincore(m, len, vec) < 0)
		n = -1;
	for (size_t i = 0; n >= 0 && i < pages; i++)
		n += vec[i] & 1;
	if (m != MAP_FAILED)
		munmap(m, len);
	if (fd >= 0)
		close(fd);
	free(vec);
	return n;
}

/*
 * Direct span writes (fs/cache_dio.h): the block-aligned head of an
 * aligned span nobody is about to read goes around the page cache, the
 * rest and the trailer through it; a span a reader will soon pread, or an
 * unaligned buffer, goes through it; the file reads back exact either
 * way. Then the speed verdict: a slow window turns direct writes off for
 * good.
 */
static void test_span_direct(void)
{
	size_t n = 3 * FS_CACHE_DIO_ALIGN * 16 + 17; /* 48 blocks and a bit */
	unsigned char *in = aligned_alloc(FS_CACHE_DIO_ALIGN, n + FS_CACHE_DIO_ALIGN - 17);
	unsigned char *out = malloc(n);
	struct fs_cache_dio d = { 0 };
	struct fs_cache *c = NULL;
	uint8_t sha[DIGEST_SHA256_LEN];
	struct statfs sf;
	char p[512];

	if (!in || !out)
		return;
	fill(in, n, 11);
	sha_of(in, n, sha);
	is_int(fs_cache_open(root, 0, &c), 0, "direct: open");
	ok(statfs(root, &sf) == 0 && sf.f_type != 0x01021994 /* TMPFS_MAGIC */,
	   "direct: the test dir is on a disk filesystem (page residency tells direct writes)");
	is_int(fs_cache_span_put_sha(c, BLOB_A, 0, in, n, sha, true), 0,
	       "direct: aligned span put, nobody about to read it");
	snprintf(p, sizeof(p), "%s/v1/spans/%s/%016llx-%zx", root, HEX_A, 0ull, n);
	is_int((int)resident_pages(p, n - 17), 0,
		"direct: the span's aligned head is not in the page cache after the write");
	is_int(fs_cache_span_read_verified(c, BLOB_A, 0, out, n, sha), 0,
	       "direct: the span reads back verified");
	ok(memcmp(in, out, n) == 0, "direct: exact bytes");
	fs_cache_span_remove(c, BLOB_A, 0, n);
	/* a span a reader will soon pread: through the page cache */
	is_int(fs_cache_span_put_sha(c, BLOB_A, 0, in, n, sha, false), 0,
	       "direct: aligned span put, about to be read");
	is_int((int)resident_pages(p, n - 17), (int)((n - 17) / 4096),
	       "direct: ... its pages are in the page cache for that reader");
	fs_cache_span_remove(c, BLOB_A, 0, n);
	/* an unaligned buffer: written through the page cache, same bytes */
	memmove(in + 1, in, n);
	is_int(fs_cache_span_put_sha(c, BLOB_A, 0, in + 1, n, sha, true), 0,
	       "direct: unaligned span put");
	ok(resident_pages(p, n - 17) > 0, "direct: an unaligned buffer goes through the page cache");
	is_int(fs_cache_span_read_verified(c, BLOB_A, 0, out, n, sha), 0,
	       "direct: the unaligned span reads back verified");
	fs_cache_span_remove(c, BLOB_A, 0, n);
	fs_cache_close(c);

	/* the verdict, one window at a time */
	ok(!fs_cache_dio_note(&d, FS_CACHE_DIO_WINDOW / 2, 1000000), "dio: half a window, no verdict");
	ok(!fs_cache_dio_note(&d, FS_CACHE_DIO_WINDOW / 2, 1000000),
	   "dio: a window at 16 GB/s keeps direct writes");
	ok(!atomic_load(&d.off), "dio: still on");
	ok(fs_cache_dio_note(&d, FS_CACHE_DIO_WINDOW,
			     (uint64_t)FS_CACHE_DIO_WINDOW * 1000u / (FS_CACHE_DIO_MIN_MBPS / 2)),
	   "dio: a window at half the minimum turns them off");
	ok(atomic_load(&d.off), "dio: off");
	ok(!fs_cache_dio_note(&d, FS_CACHE_DIO_WINDOW, UINT64_C(1) << 40),
	   "dio: turned off once, not again");
	{
		char tmpl[300];
		int fd, err = 1;

		snprintf(tmpl, sizeof(tmpl), "%.*s/dio.XXXXXX", (int)(strlen(root) - 2), root);
		fd = mkstemp(tmpl);
		is_int((int)fs_cache_dio_write(&d, fd, in, FS_CACHE_DIO_ALIGN * 4, &err), 0,
			"dio: off: nothing is written directly");
		is_int(err, 0, "dio: ... and no error");
		close(fd);
		unlink(tmpl);
	}
	free(in);
	free(out);
}

/* Two handles (as two processes would) on one directory; LRU eviction. */
static void test_eviction(void)
{
	enum { SPAN = 10000, MAX = 10 * (SPAN + FS_CACHE_SPAN_TRAILER) };
	static unsigned char in[SPAN], out[SPAN];
	uint8_t sha[DIGEST_SHA256_LEN];
	struct fs_cache *c1 = NULL, *c2 = NULL;
	struct fs_cache_usage u;
	time_t t0 = time(NULL) - 1000;
	int kept = 0;

	is_int(fs_cache_prune(NULL == c1 ? (fs_cache_open(root, MAX, &c1), c1) : c1, 0, NULL), 0,
	       "prune to empty");
	is_int(fs_cache_open(root, MAX, &c2), 0, "second handle on the same dir");
	for (unsigned i = 0; i < 8; i++) {
		fill(in, SPAN, i);
		fs_cache_span_put(i % 2 ? c2 : c1, BLOB_B, (uint64_t)i * SPAN, in, SPAN);
		set_mtime(&BLOB_B[7], (uint64_t)i * SPAN, SPAN, t0 + i);
	}
	/* Use span 0 now: it becomes the most recent. */
	fs_cache_span_touch(c2, BLOB_B, 0, SPAN);
	fill(in, SPAN, 0);
	sha_of(in, SPAN, sha);
	is_int(fs_cache_span_read_verified(c1, BLOB_B, 0, out, SPAN, sha), 0,
	       "handle 1 reads what handle 2 saw");
	for (unsigned i = 8; i < 14; i++) {
		fill(in, SPAN, i);
		fs_cache_span_put(i % 2 ? c2 : c1, BLOB_B, (uint64_t)i * SPAN, in, SPAN);
	}
	is_int(fs_cache_du(c1, &u), 0, "du");
	ok(u.bytes <= MAX, "cache stays under its bound (%llu <= %d)",
	   (unsigned long long)u.bytes, MAX);
	for (unsigned i = 0; i < 14; i++) {
		fill(in, SPAN, i);
		sha_of(in, SPAN, sha);
		if (fs_cache_span_read_verified(c1, BLOB_B, (uint64_t)i * SPAN, out, SPAN, sha) == 0) {
			kept |= 1 << i;
			ok(memcmp(in, out, SPAN) == 0, "span %u bytes intact", i);
		}
	}
	ok(kept & 1, "recently touched span 0 survived eviction");
	ok(!(kept & 2), "least recently used span 1 was evicted");
	ok(kept & (1 << 13), "newest span survived");
	fs_cache_close(c1);
	fs_cache_close(c2);
}

/* Threads of two handles write the same spans at once: every file stays whole. */
struct racer {
	struct fs_cache *c;
	unsigned seed;
};

static void *racer_main(void *arg)
{
	struct racer *r = arg;
	static unsigned char buf[8][20000];

	for (unsigned round = 0; round < 20; round++)
		for (unsigned i = 0; i < 8; i++)
			fs_cache_span_put(r->c, BLOB_A, (uint64_t)i * 20000, buf[i], sizeof(buf[i]));
	return NULL;
}

static void test_racing_writers(void)
{
	struct fs_cache *c1 = NULL, *c2 = NULL;
	static unsigned char out[20000], want[20000];
	uint8_t want_sha[DIGEST_SHA256_LEN];
	struct racer r[6];
	pthread_t t[6];
	int good = 0;

	sha_of(want, sizeof(want), want_sha);
	fs_cache_open(root, 0, &c1);
	fs_cache_open(root, 0, &c2);
	for (unsigned i = 0; i < 6; i++) {
		r[i] = (struct racer){ i % 2 ? c2 : c1, i };
		pthread_create(&t[i], NULL, racer_main, &r[i]);
	}
	for (unsigned i = 0; i < 6; i++)
		pthread_join(t[i], NULL);
	for (unsigned i = 0; i < 8; i++)
		good += fs_cache_span_read_verified(c1, BLOB_A, (uint64_t)i * 20000, out,
						    sizeof(out), want_sha) == 0 &&
			memcmp(out, want, sizeof(out)) == 0;
	is_int(good, 8, "racing writers (2 handles x 3 threads): all 8 spans whole");
	is_int(count_files("tmp"), 0, "racing writers: no tmp file left");
	fs_cache_close(c1);
	fs_cache_close(c2);
}

static void test_stale_tmp(void)
{
	struct fs_cache *c = NULL;
	struct fs_cache_usage u;
	struct timespec old[2] = { { 1000, 0 }, { 1000, 0 } };
	char p[512];
	FILE *f;

	snprintf(p, sizeof(p), "%s/v1/tmp/999-1-abcdef", root);
	f = fopen(p, "w");
	fputs("partial", f);
	fclose(f);
	utimensat(AT_FDCWD, p, old, 0);
	snprintf(p, sizeof(p), "%s/v1/tmp/999-2-abcdef", root);
	f = fopen(p, "w");
	fputs("in progress", f);
	fclose(f);
	is_int(fs_cache_open(root, 0, &c), 0, "reopen");
	is_int(fs_cache_du(c, &u), 0, "du");
	is_int(u.tmp_files, 1, "stale tmp file removed, fresh one kept");
	unlink(p);
	fs_cache_close(c);
}

static void test_default_dir(void)
{
	char b[512];

	is_int(fs_cache_default_dir(b, sizeof(b)), 0, "default dir");
	if (geteuid() == 0)
		is_str(b, "/var/cache/stratafs", "root uses /var/cache/stratafs");
	else
		ok(strstr(b, "stratafs") != NULL, "user cache dir '%s'", b);
	is_int(fs_cache_default_dir(b, 4), -ENAMETOOLONG, "short buffer");
}

int main(void)
{
	struct fs_cache *c = NULL;
	char cmd[300];

	/* /var/tmp: on a disk where /tmp may be tmpfs, which shows no direct writes */
	snprintf(root, sizeof(root), "/var/tmp/test_fs_cache.XXXXXX");
	if (!mkdtemp(root))
		return 1;
	memcpy(root + strlen(root), "/c", 3); /* fs_cache_open creates the missing dir */
	is_int(fs_cache_open(root, 0, &c), 0, "open creates '%s'", root);
	is_int(count_files(""), 5, "v1 has built, iblob, spans, tmp, toc");
	test_index(c);
	test_span(c);
	test_span_verify(c);
	test_span_old_layout(c);
	test_span_layout_02(c);
	test_span_unhashed(c);
	fs_cache_close(c);
	test_span_direct();
	test_eviction();
	test_racing_writers();
	test_stale_tmp();
	test_default_dir();
	snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'", (int)(strlen(root) - 2), root);
	system(cmd);
	return tap_done();
}
