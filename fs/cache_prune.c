/* SPDX-License-Identifier: MIT */
/*
 * Cache maintenance: size accounting (du), LRU eviction (prune) and the
 * removal of tmp files left by killed processes. A file's mtime is its last
 * use; the scan sorts by it and removes the oldest first. Files another
 * process is reading stay readable through its open fd (POSIX unlink).
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
#include "fs/cache_int.h"

#define TMP_STALE_SEC 600

struct cfile {
	struct timespec mtime;
	uint64_t size;
	char *path;
};

struct scan {
	struct fs_cache_usage u;
	struct cfile *files; /* NULL: only count */
	size_t n, cap;
	time_t now;
};

static int scan_add(struct scan *s, const char *path, const struct stat *st)
{
	struct cfile *f;

	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;

		if (cap > FS_CACHE_MAX_FILES)
			return -EFBIG;
		f = realloc(s->files, cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		s->files = f;
		s->cap = cap;
	}
	f = &s->files[s->n];
	f->path = strdup(path);
	if (!f->path)
		return -ENOMEM;
	f->mtime = st->st_mtim;
	f->size = (uint64_t)st->st_size;
	s->n++;
	return 0;
}

enum kind { K_INDEX, K_SPAN, K_TMP };

/* Visit the regular files of one directory; -ENOENT for a vanished dir is fine. */
static int scan_dir(struct scan *s, const char *dir, enum kind k, bool collect)
{
	char p[FS_CACHE_PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int r = 0;

	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (r == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", dir, de->d_name) >= (int)sizeof(p))
			continue;
		if (k == K_TMP && s->now - st.st_mtim.tv_sec > TMP_STALE_SEC) {
			unlink(p); /* debris of a killed process */
			continue;
		}
		s->u.bytes += (uint64_t)st.st_size;
		if (k == K_INDEX) {
			s->u.index_files++;
			s->u.index_bytes += (uint64_t)st.st_size;
		} else if (k == K_SPAN) {
			s->u.span_files++;
			s->u.span_bytes += (uint64_t)st.st_size;
		} else {
			s->u.tmp_files++;
		}
		if (collect && k != K_TMP)
			r = scan_add(s, p, &st);
	}
	closedir(d);
	return r;
}

static int scan_all(struct fs_cache *c, struct scan *s, bool collect)
{
	char p[FS_CACHE_PATH_MAX], sub[FS_CACHE_PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r;

	s->now = time(NULL);
	snprintf(p, sizeof(p), "%s/tmp", fs_cache_v1(c));
	r = scan_dir(s, p, K_TMP, false);
	static const char *const index_dirs[] = { FS_CACHE_BUILT_DIR, FS_CACHE_IBLOB_DIR,
						   FS_CACHE_LEGACY_INDEX_DIR };
	for (size_t i = 0; r == 0 && i < sizeof(index_dirs) / sizeof(index_dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", fs_cache_v1(c), index_dirs[i]);
		r = scan_dir(s, p, K_INDEX, collect);
	}
	snprintf(p, sizeof(p), "%s/spans", fs_cache_v1(c));
	d = r == 0 ? opendir(p) : NULL;
	if (r == 0 && !d)
		return -errno;
	while (r == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", p, de->d_name) >= (int)sizeof(sub))
			continue;
		r = scan_dir(s, sub, K_SPAN, collect);
	}
	if (d)
		closedir(d);
	return r;
}

static void scan_release(struct scan *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->files[i].path);
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
	return strcmp(x->path, y->path);
}

/* Remove the span dirs that pruning emptied; a concurrent put recreates its dir. */
static void rmdir_empty_span_dirs(struct fs_cache *c)
{
	char p[FS_CACHE_PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(p, sizeof(p), "%s/spans", fs_cache_v1(c));
	d = opendir(p);
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
		if (unlink(s.files[i].path) < 0 && errno != ENOENT)
			continue;
		total -= s.files[i].size;
		gone += s.files[i].size;
	}
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
	char p[FS_CACHE_PATH_MAX];
	unsigned long long start, len;
	struct dirent *de;
	int r = 0, end;
	DIR *d;

	if (!digest_is_valid(blob_digest))
		return -EINVAL;
	snprintf(p, sizeof(p), "%s/spans/%s", fs_cache_v1(c), blob_digest + strlen("sha256:"));
	d = opendir(p);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (r == 0 && (de = readdir(d))) {
		end = 0;
		if (sscanf(de->d_name, "%16llx-%llx%n", &start, &len, &end) == 2 &&
		    de->d_name[end] == '\0')
			r = fn(ctx, start, len);
	}
	closedir(d);
	return r;
}
