/* SPDX-License-Identifier: MIT */
/*
 * Cache maintenance: size accounting (du), LRU eviction (prune) and the
 * removal of tmp files left by killed processes. A file's mtime is its last
 * use; the scan sorts by it and removes the oldest first. Files another
 * process is reading stay readable through its open fd (POSIX unlink).
 *
 * Nothing here resolves a path by name from the cache dir: each dir is
 * opened relative to the handle's checked fds with O_NOFOLLOW, entries are
 * lstat'ed (fstatat AT_SYMLINK_NOFOLLOW) and removed by unlinkat() relative
 * to their dir, so a dir swapped for a symlink after the check (the
 * "v1/tmp -> /etc" trick) makes the scan skip it rather than remove files
 * wherever it points.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/digest.h"
#include "common/log.h"
#include "common/xarray.h"
#include "fs/cache_int.h"

#define TMP_STALE_SEC 600
/*
 * An index file counts as this much younger than its mtime in the LRU
 * order. A layer's index is marked used as its spans are written
 * (fs_layer_touch_index()), but fetch workers writing at once, and the
 * prune a write triggers before the index is marked again, would still
 * make it older than the spans it serves: removing it costs the next
 * mount a download of the whole layer to rebuild it, for a few KB or MB.
 */
#define INDEX_GRACE_SEC 60

struct cfile {
	struct timespec mtime;
	uint64_t size;
	enum fs_cache_sub top;
	char *rel; /* "name" or "<layer hex>/name" in @top */
};

struct scan {
	struct fs_cache_usage u;
	struct cfile *files; /* NULL: only count */
	size_t n, cap;
	time_t now;
};

/* readdir of the dir @name of @dirfd ("." for @dirfd itself), never through a symlink. */
static DIR *opendir_at(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	d = fdopendir(fd);
	if (!d)
		close(fd);
	return d;
}

static int scan_add(struct scan *s, enum fs_cache_sub top, const char *rel, const struct stat *st)
{
	struct cfile *f;

	int r = xarray_grow_size((void **)&s->files, &s->cap, s->n, sizeof(*s->files), 256,
				 FS_CACHE_MAX_FILES);

	if (r < 0)
		return r;
	f = &s->files[s->n];
	f->rel = strdup(rel);
	if (!f->rel)
		return -ENOMEM;
	f->top = top;
	f->mtime = st->st_mtim;
	f->size = (uint64_t)st->st_size;
	s->n++;
	return 0;
}

enum kind { K_INDEX, K_SPAN, K_TMP };

static void count(struct scan *s, enum kind k, const struct stat *st)
{
	s->u.bytes += (uint64_t)st->st_size;
	if (k == K_INDEX) {
		s->u.index_files++;
		s->u.index_bytes += (uint64_t)st->st_size;
	} else if (k == K_SPAN) {
		s->u.span_files++;
		s->u.span_bytes += (uint64_t)st->st_size;
	} else {
		s->u.tmp_files++;
	}
}

/*
 * Visit the regular files of the dir @sub (NULL: itself) of the held dir
 * @top. A vanished dir, or one that is now a symlink, is skipped.
 */
static int scan_dir(struct fs_cache *c, struct scan *s, enum fs_cache_sub top, const char *sub,
		    enum kind k, bool collect)
{
	char rel[FS_CACHE_PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int r = 0;

	d = opendir_at(fs_cache_fd(c, top), sub ? sub : ".");
	if (!d)
		return errno == ENOENT || errno == ELOOP || errno == ENOTDIR ? 0 : -errno;
	while (r == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (k == K_TMP && s->now - st.st_mtim.tv_sec > TMP_STALE_SEC) {
			unlinkat(dirfd(d), de->d_name, 0); /* debris of a killed process */
			continue;
		}
		count(s, k, &st);
		if (!collect || k == K_TMP)
			continue;
		if (k == K_INDEX)
			st.st_mtim.tv_sec += INDEX_GRACE_SEC;
		if (fs_cache_path_fmt(rel, "%s%s%s", sub ? sub : "", sub ? "/" : "", de->d_name) == 0)
			r = scan_add(s, top, rel, &st);
	}
	closedir(d);
	return r;
}

static int scan_all(struct fs_cache *c, struct scan *s, bool collect)
{
	static const enum fs_cache_sub index_dirs[] = { FS_CACHE_SUB_BUILT, FS_CACHE_SUB_IBLOB,
							FS_CACHE_SUB_TOC, FS_CACHE_SUB_LEGACY };
	struct dirent *de;
	struct stat st;
	DIR *d;
	int r;

	s->now = time(NULL);
	r = scan_dir(c, s, FS_CACHE_SUB_TMP, NULL, K_TMP, false);
	for (size_t i = 0; r == 0 && i < sizeof(index_dirs) / sizeof(index_dirs[0]); i++)
		if (fs_cache_fd(c, index_dirs[i]) >= 0)
			r = scan_dir(c, s, index_dirs[i], NULL, K_INDEX, collect);
	d = r == 0 ? opendir_at(fs_cache_fd(c, FS_CACHE_SUB_SPANS), ".") : NULL;
	if (r == 0 && !d)
		return -errno;
	while (r == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		r = scan_dir(c, s, FS_CACHE_SUB_SPANS, de->d_name, K_SPAN, collect);
	}
	if (d)
		closedir(d);
	return r;
}

static void scan_release(struct scan *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->files[i].rel);
	free(s->files);
}

int fs_cache_du(struct fs_cache *c, struct fs_cache_usage *out)
{
	struct scan s = { 0 };
	int r = scan_all(c, &s, false);

	if (r < 0)
		return r;
	fs_cache_set_used(c, s.u.bytes);
	*out = s.u;
	return 0;
}

static int by_mtime(const void *a, const void *b)
{
	const struct cfile *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->rel, y->rel);
}

/* Remove the span dirs that pruning emptied; a concurrent put recreates its dir. */
static void rmdir_empty_span_dirs(struct fs_cache *c)
{
	struct dirent *de;
	DIR *d;

	d = opendir_at(fs_cache_fd(c, FS_CACHE_SUB_SPANS), ".");
	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR);
	closedir(d);
}

int fs_cache_prune(struct fs_cache *c, uint64_t target, uint64_t *freed)
{
	struct scan s = { 0 };
	uint64_t total, gone = 0;
	int r;

	r = scan_all(c, &s, true);
	if (r < 0)
		goto out_release;
	if (s.n)
		qsort(s.files, s.n, sizeof(*s.files), by_mtime);
	total = s.u.bytes;
	for (size_t i = 0; i < s.n && total > target; i++) {
		r = fs_cache_unlinkat(fs_cache_fd(c, s.files[i].top), s.files[i].rel);
		if (r < 0 && r != -ENOENT)
			continue;
		total -= s.files[i].size;
		gone += s.files[i].size;
	}
	r = 0;
	if (gone)
		rmdir_empty_span_dirs(c);
	fs_cache_set_used(c, total);
	log_debug("cache '%s': pruned %llu bytes, %llu left", fs_cache_dir(c),
		  (unsigned long long)gone, (unsigned long long)total);
	if (freed)
		*freed = gone;
out_release:
	scan_release(&s);
	return r;
}

int fs_cache_span_foreach(struct fs_cache *c, const char *blob_digest,
			  int (*fn)(void *ctx, uint64_t u_start, uint64_t len), void *ctx)
{
	unsigned long long start, len;
	struct dirent *de;
	const char *hex;
	int r, end;
	DIR *d;

	r = fs_cache_blob_hex(blob_digest, &hex);
	if (r < 0)
		return r;
	d = opendir_at(fs_cache_fd(c, FS_CACHE_SUB_SPANS), hex);
	if (!d) /* none, or not a dir of ours: no span to offer */
		return errno == ENOENT || errno == ELOOP || errno == ENOTDIR ? 0 : -errno;
	while (r == 0 && (de = readdir(d))) {
		end = 0;
		if (sscanf(de->d_name, "%16llx-%llx%n", &start, &len, &end) == 2 &&
		    de->d_name[end] == '\0')
			r = fn(ctx, start, len);
	}
	closedir(d);
	return r;
}
