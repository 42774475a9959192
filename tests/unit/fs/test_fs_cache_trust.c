/* SPDX-License-Identifier: MIT */
/*
 * The cache is used only if it is ours (fs/cache.h, "Trust"): a cache dir
 * of another uid, group/other-writable dirs and symlinks (as v1/tmp, on the
 * path, as a subdir) are refused by fs_cache_open(); inside a good cache,
 * symlinks and foreign files are never read, followed by a write or a
 * prune, and a tmp dir swapped for a symlink after the open redirects no
 * unlink. Runs as root (chown to nobody).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/digest.h"
#include "fs/cache.h"
#include "tap.h"

#define NOBODY 65534
#define BLOB_A "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define HEX_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static char base[256];

/* base/<printf>, one of 4 rotating buffers */
__attribute__((format(printf, 1, 2))) static const char *at(const char *fmt, ...)
{
	static char p[4][512];
	static int k;
	char rel[256];
	va_list ap;

	k = (k + 1) % 4;
	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(p[k], sizeof(p[k]), "%s/%s", base, rel);
	return p[k];
}

/* Run a shell command in base. */
__attribute__((format(printf, 1, 2))) static void sh(const char *fmt, ...)
{
	char cmd[1100], rel[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rel, sizeof(rel), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "cd '%s' && %s", base, rel);
	if (system(cmd) != 0)
		printf("# setup failed: %s\n", cmd);
}

/* A victim dir with an old file the stale-tmp cleanup would remove. */
static void make_victim(const char *name)
{
	struct timespec old[2] = { { 1000, 0 }, { 1000, 0 } };

	sh("mkdir -p %s && echo precious >%s/old", name, name);
	utimensat(AT_FDCWD, at("%s/old", name), old, AT_SYMLINK_NOFOLLOW);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static void refused(const char *dir, int want, const char *what)
{
	struct fs_cache *c = NULL;

	is_int(fs_cache_open(at("%s", dir), 0, &c), want, "refused: %s", what);
	ok(c == NULL, "... and no handle");
	fs_cache_close(c);
}

static void test_refused(void)
{
	/* the planted dir: another user's cache with v1/tmp -> a victim dir */
	make_victim("victim");
	sh("mkdir -p %s/v1 && ln -s ../../victim planted/v1/tmp && chown -R 65534:65534 planted",
	   "planted");
	refused("planted", -EPERM, "a cache dir owned by nobody");
	ok(exists(at("victim/old")), "the victim's old file is still there");
	/* the same dir, ours: the symlinked v1/tmp alone is refused */
	sh("chown -R 0:0 %s", "planted");
	refused("planted", -ELOOP, "v1/tmp is a symlink");
	ok(exists(at("victim/old")), "the victim's old file is still there");
	sh("mkdir -p %s && chmod 0770 gw", "gw");
	refused("gw", -EPERM, "a group-writable cache dir");
	sh("mkdir -p %s/v1/spans && chmod 0757 ow/v1/spans", "ow");
	refused("ow", -EPERM, "an other-writable v1/spans");
	sh("mkdir -p %s/v1/built && chown 65534 theirs/v1/built", "theirs");
	refused("theirs", -EPERM, "v1/built owned by nobody");
	sh("mkdir -p %s/v1 && ln -s /etc legacy/v1/index", "legacy");
	refused("legacy", -ELOOP, "the legacy v1/index is a symlink");
	sh("mkdir -p real/c && ln -s real %s", "link");
	refused("link/c", -ELOOP, "a symlink on the path");
	sh("mkdir -p %s && chmod 0777 open", "open");
	refused("open/c", -EPERM, "a parent writable by others, not sticky");
	ok(!exists(at("open/c")), "... and nothing created in it");
}

static void test_created_private(void)
{
	static const char *const subs[] = { "c", "c/v1", "c/v1/built", "c/v1/iblob", "c/v1/spans",
					    "c/v1/tmp", "c/v1/toc" };
	struct fs_cache *c = NULL;
	struct stat st;
	int good = 0;

	sh("mkdir -p %s && chmod 1777 sticky", "sticky");
	is_int(fs_cache_open(at("sticky/c"), 0, &c), 0, "a new cache under a sticky dir");
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		good += stat(at("sticky/%s", subs[i]), &st) == 0 && (st.st_mode & 07777) == 0700;
	is_int(good, 7, "the cache dir and every subdir are created 0700");
	fs_cache_close(c);
}

/* Symlinks and foreign files inside a good cache are never used. */
/*
 * Files and layer dirs inside a good cache that someone made writable by
 * others (a chmod -R over the cache, say): another user could have
 * rewritten them, so they are not used, not even a span file this process
 * verified before (the fast read does not hash again). The span at 0 of
 * BLOB_A is "abcdefgh", ours, 0600.
 */
static void test_loosened(struct fs_cache *c, const uint8_t sha[DIGEST_SHA256_LEN])
{
	char buf[16];
	void *ib = NULL;
	struct stat st;
	size_t len = 0;

	is_int(fs_cache_span_pread(c, BLOB_A, 0, 8, buf, 8, 0, sha), 8, "our span file is read");
	sh("chmod 0666 good/v1/spans/%s/0000000000000000-8", HEX_A);
	is_int(fs_cache_span_pread(c, BLOB_A, 0, 8, buf, 8, 0, sha), -EBADMSG,
	       "... not once others may write it (mode 0666)");
	is_int(fs_cache_span_read_verified(c, BLOB_A, 0, buf, 8, sha), -EBADMSG, "... nor verified");
	is_int(fs_cache_span_put(c, BLOB_A, 0, "abcdefgh", 8), 0, "written again");
	is_int(fs_cache_span_pread(c, BLOB_A, 0, 8, buf, 8, 0, sha), 8, "... private, read");
	sh("chmod 0770 good/v1/spans/%s", HEX_A);
	is_int(fs_cache_span_pread(c, BLOB_A, 0, 8, buf, 8, 0, sha), 8,
	       "a layer dir of ours made group-writable is closed again, its files read");
	ok(stat(at("good/v1/spans/%s", HEX_A), &st) == 0 && (st.st_mode & 07777) == 0700,
	   "... it is 0700 again (it stayed unusable: every write of the layer failed)");
	sh("chmod 0700 good/v1/spans/%s && chown 65534 good/v1/spans/%s", HEX_A, HEX_A);
	is_int(fs_cache_span_pread(c, BLOB_A, 0, 8, buf, 8, 0, sha), -EBADMSG,
	       "nor under a layer dir of another uid");
	ok(fs_cache_span_put(c, BLOB_A, 0, "abcdefgh", 8) < 0, "nor written through it");
	is_int(fs_cache_index_put(c, FS_CACHE_INDEX_BUILT, BLOB_A, "mine", 4), 0, "an index of ours");
	sh("chmod 0666 good/v1/built/%s.idx", HEX_A);
	is_int(fs_cache_index_get(c, FS_CACHE_INDEX_BUILT, BLOB_A, &ib, &len), -EPERM,
	       "... not read once others may write it");
	free(ib);
}

static void test_inside(void)
{
	uint8_t sha[DIGEST_SHA256_LEN] = { 0 };
	struct fs_cache *c = NULL, *donor = NULL;
	struct fs_cache_usage u;
	char buf[16];
	void *ib = NULL;
	size_t len = 0;

	is_int(fs_cache_open(at("good"), 0, &c), 0, "open a good cache");
	make_victim("victim2");
	sh("ln -s ../../../victim2/old good/v1/built/%s.idx", HEX_A);
	is_int(fs_cache_index_get(c, FS_CACHE_INDEX_BUILT, BLOB_A, &ib, &len), -EPERM,
	       "a symlinked index file is not read");
	is_int(fs_cache_index_remove(c, FS_CACHE_INDEX_BUILT, BLOB_A), 0, "removed");
	ok(exists(at("victim2/old")), "... the link, not its target");
	sh("echo forged >good/v1/built/%s.idx && chown 65534 good/v1/built/*.idx", HEX_A);
	is_int(fs_cache_index_get(c, FS_CACHE_INDEX_BUILT, BLOB_A, &ib, &len), -EPERM,
	       "an index file of another uid is not read");
	is_int(fs_cache_index_put(c, FS_CACHE_INDEX_BUILT, BLOB_A, "mine", 4), 0, "replaced");
	is_int(fs_cache_index_get(c, FS_CACHE_INDEX_BUILT, BLOB_A, &ib, &len), 0, "ours is read");
	ok(len == 4 && memcmp(ib, "mine", 4) == 0, "... with our bytes");
	free(ib);

	/*
	 * A layer's span dir that is a symlink to a dir holding a valid span
	 * file (made by another cache): not read, written, counted or pruned.
	 */
	is_int(fs_cache_open(at("donor"), 0, &donor), 0, "open a donor cache");
	is_int(fs_cache_span_put(donor, BLOB_A, 0, "abcdefgh", 8), 0, "a valid span in it");
	fs_cache_close(donor);
	digest_sha256("abcdefgh", 8, sha);
	sh("cp donor/v1/spans/%s/0000000000000000-8 victim2/", HEX_A);
	sh("ln -s ../../../victim2 good/v1/spans/%s", HEX_A);
	is_int(fs_cache_span_read_verified(c, BLOB_A, 0, buf, 8, sha), -EBADMSG,
	       "a span under a symlinked layer dir is not read");
	is_int(fs_cache_span_pread(c, BLOB_A, 0, 8, buf, 8, 0, sha), -EBADMSG, "... nor by pread");
	ok(fs_cache_span_put(c, BLOB_A, 0, "abcd", 4) < 0, "nor written through");
	ok(fs_cache_span_remove(c, BLOB_A, 0, 8) < 0, "nor removed through");
	is_int(fs_cache_du(c, &u), 0, "du");
	is_int(u.span_files, 0, "... counts no span behind the link");
	is_int(fs_cache_prune(c, 0, NULL), 0, "prune 0");
	ok(exists(at("victim2/0000000000000000-8")) && exists(at("victim2/old")),
	   "prune removed nothing behind the link");
	ok(!exists(at("good/v1/built/%s.idx", HEX_A)), "... but pruned our index");

	/* a span file that is a symlink: refused as damaged, removal takes the link only */
	sh("rm good/v1/spans/%s && mkdir good/v1/spans/" HEX_A, HEX_A);
	sh("ln -s ../../../../victim2/0000000000000000-8 good/v1/spans/%s/0000000000000000-8",
	   HEX_A);
	ok(fs_cache_span_verify(c, BLOB_A, 0, 8, sha) < 0, "a symlinked span file is not verified");
	is_int(fs_cache_span_read_verified(c, BLOB_A, 0, buf, 8, sha), -EBADMSG,
	       "a symlinked span file is not read");
	is_int(fs_cache_span_remove(c, BLOB_A, 0, 8), 0, "removed");
	ok(exists(at("victim2/0000000000000000-8")), "... the link, not its target");
	is_int(fs_cache_span_put(c, BLOB_A, 0, "abcdefgh", 8), 0, "a span of ours in its place");
	is_int(fs_cache_span_read_verified(c, BLOB_A, 0, buf, 8, sha), 0, "is read");
	test_loosened(c, sha);
	fs_cache_close(c);
}

/* v1/tmp swapped for a symlink after the open: the stale-file cleanup removes nothing there. */
static void test_swapped_tmp(void)
{
	struct fs_cache *c = NULL;
	struct fs_cache_usage u;

	is_int(fs_cache_open(at("swap"), 0, &c), 0, "open");
	make_victim("victim3");
	sh("mv %s/v1/tmp swap/v1/tmp.moved && ln -s ../../victim3 swap/v1/tmp", "swap");
	is_int(fs_cache_du(c, &u), 0, "du (removes stale tmp files)");
	ok(exists(at("victim3/old")), "the victim's old file is still there");
	is_int(fs_cache_prune(c, 0, NULL), 0, "prune");
	ok(exists(at("victim3/old")), "... still there");
	fs_cache_close(c);
	refused("swap", -ELOOP, "reopening it");
}

/*
 * Names taken in v1/tmp (links to a victim): the transaction never writes
 * through them. A handle's tmp names are <pid>-<handle address>-<seq>.
 */
static void test_tmp_excl(void)
{
	struct fs_cache *c = NULL;
	char name[300], buf[32] = "";
	void *ib = NULL;
	size_t len = 0;
	FILE *f;

	is_int(fs_cache_open(at("excl"), 0, &c), 0, "open");
	make_victim("victim4");
	for (int i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "excl/v1/tmp/%d-%llx-%d", (int)getpid(),
			 (unsigned long long)(uintptr_t)c, i);
		symlink(at("victim4/old"), at("%s", name));
	}
	is_int(fs_cache_index_put(c, FS_CACHE_INDEX_BUILT, BLOB_A, "new index", 9), 0,
	       "index put with the first tmp names taken");
	is_int(fs_cache_index_get(c, FS_CACHE_INDEX_BUILT, BLOB_A, &ib, &len), 0, "get");
	ok(len == 9 && memcmp(ib, "new index", 9) == 0, "... the bytes put");
	free(ib);
	f = fopen(at("victim4/old"), "r");
	ok(f && fgets(buf, sizeof(buf), f) && strcmp(buf, "precious\n") == 0,
	   "the file the links point to is unchanged");
	if (f)
		fclose(f);
	fs_cache_close(c);
}

int main(void)
{
	char cmd[300];

	snprintf(base, sizeof(base), "/tmp/test_fs_cache_trust.XXXXXX");
	if (!mkdtemp(base))
		return 1;
	is_int(geteuid(), 0, "runs as root (chown to nobody)");
	test_refused();
	test_created_private();
	test_inside();
	test_swapped_tmp();
	test_tmp_excl();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	system(cmd);
	return tap_done();
}
