/* SPDX-License-Identifier: MIT */
/*
 * The local on-disk cache (see fs/cache.h for the layout).
 *
 * Why files and not one database: the cache is shared by processes that
 * may be killed at any moment. With one file per object, written to v1/tmp
 * and renamed into place, the only crash debris is a tmp file, which the
 * next fs_cache_open() or prune removes once it is old. This file: open,
 * the write transaction, eviction triggers, index files; cache_span.c:
 * span files; cache_prune.c: scans, du, prune.
 *
 * Size accounting: c->used is this handle's estimate (a scan at open plus
 * what it wrote). Other processes write too, so eviction rescans the
 * directory and works from the real total.
 *
 * Trust (the rule is in fs/cache.h): fs_cache_open() checks the cache dir,
 * v1/ and each subdir with common/safedir.h and keeps the subdirs open.
 * After that no path is resolved from the cache dir's name again: every
 * file is reached by openat/renameat/unlinkat relative to a held fd, with
 * O_NOFOLLOW on the last component and on a span dir, so a dir renamed or
 * swapped for a symlink after the check redirects nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fdio.h"
#include "common/digest.h"
#include "common/log.h"
#include "common/safedir.h"
#include "fs/cache.h"
#include "fs/cache_dio.h"
#include "fs/cache_int.h"

struct fs_cache {
	char *dir;               /* the cache dir as given */
	int fd[FS_CACHE_SUB_N];  /* the checked subdirs of v1/ (-1: none) */
	uint64_t max;
	uint64_t low;            /* prune down to this */
	_Atomic uint64_t used;   /* estimate, see above */
	_Atomic uint64_t seq;    /* tmp file names: <pid>-<handle address>-<seq> */
	_Atomic uint64_t since;  /* bytes this handle wrote since its last scan */
	_Atomic uint64_t room_gen; /* make_room() passes: one at a time makes room */
	atomic_bool warned;      /* a write error was logged once */
	struct fs_cache_dio dio;  /* direct span writes: on while the disk keeps up */
	pthread_mutex_t evict_lock; /* one eviction at a time per handle */
};

int fs_cache_default_dir(char *buf, size_t len)
{
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int n;

	if (geteuid() == 0)
		n = snprintf(buf, len, "/var/cache/stratafs");
	else if (x && x[0] == '/')
		n = snprintf(buf, len, "%s/stratafs", x);
	else if (home && home[0] == '/')
		n = snprintf(buf, len, "%s/.cache/stratafs", home);
	else
		return -ENOENT;
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int fs_cache_token_dir(const char *cache_dir, char *buf, size_t len)
{
	size_t n;
	int r;

	if (!cache_dir)
		r = fs_cache_default_dir(buf, len);
	else
		r = strlen(cache_dir) < len ? 0 : -ENAMETOOLONG;
	if (r == 0 && cache_dir)
		memcpy(buf, cache_dir, strlen(cache_dir) + 1);
	if (r == 0) {
		n = strlen(buf);
		while (n > 1 && buf[n - 1] == '/')
			buf[--n] = '\0';
		if (n + sizeof("/tokens") <= len)
			memcpy(buf + n, "/tokens", sizeof("/tokens"));
		else
			r = -ENAMETOOLONG;
	}
	if (r == -ENAMETOOLONG)
		log_err("cache dir '%s' is too long", cache_dir ? cache_dir : "(the default)");
	return r;
}

int fs_cache_blob_hex(const char *blob_digest, const char **hex)
{
	if (!blob_digest || !digest_is_valid(blob_digest))
		return -EINVAL;
	*hex = blob_digest + strlen("sha256:");
	return 0;
}

int fs_cache_path_fmt(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, FS_CACHE_PATH_MAX, fmt, ap);
	va_end(ap);
	return n < 0 || n >= FS_CACHE_PATH_MAX ? -ENAMETOOLONG : 0;
}

/* An index file: its dir (held fd) and name there. */
static int index_name(const struct fs_cache *c, enum fs_cache_index_kind k, const char *digest,
		      char *buf, int *dirfd)
{
	const char *hex;
	int r = fs_cache_blob_hex(digest, &hex);

	if (r < 0)
		return r;
	*dirfd = c->fd[k == FS_CACHE_INDEX_BUILT ? FS_CACHE_SUB_BUILT
		       : k == FS_CACHE_INDEX_TOC ? FS_CACHE_SUB_TOC : FS_CACHE_SUB_IBLOB];
	return fs_cache_path_fmt(buf, k == FS_CACHE_INDEX_TOC ? "%s.toc" : "%s.idx", hex);
}

static const char *const sub_names[FS_CACHE_SUB_N] = {
	[FS_CACHE_SUB_BUILT] = FS_CACHE_BUILT_DIR,
	[FS_CACHE_SUB_IBLOB] = FS_CACHE_IBLOB_DIR,
	[FS_CACHE_SUB_SPANS] = "spans",
	[FS_CACHE_SUB_TMP] = "tmp",
	[FS_CACHE_SUB_TOC] = FS_CACHE_TOC_DIR,
	[FS_CACHE_SUB_LEGACY] = FS_CACHE_LEGACY_INDEX_DIR,
};

/* Check and open v1/ and its subdirs (from @top, the checked cache dir). */
static int open_subdirs(struct fs_cache *c, int top, char *why)
{
	char shown[FS_CACHE_PATH_MAX];
	int v1, fd, r = 0;

	if (fs_cache_path_fmt(shown, "%s/v1", c->dir) < 0)
		return -ENAMETOOLONG;
	v1 = safedir_openat(top, "v1", shown, SAFEDIR_CREATE, why);
	if (v1 < 0)
		return v1;
	for (int i = 0; r == 0 && i < FS_CACHE_SUB_N; i++) {
		r = fs_cache_path_fmt(shown, "%s/v1/%s", c->dir, sub_names[i]);
		fd = r < 0 ? r : safedir_openat(v1, sub_names[i], shown,
						 i == FS_CACHE_SUB_LEGACY ? 0 : SAFEDIR_CREATE, why);
		if (fd == -ENOENT && i == FS_CACHE_SUB_LEGACY)
			continue; /* no longer created */
		r = fd < 0 ? fd : 0;
		c->fd[i] = fd;
	}
	close(v1);
	return r;
}

/* The cache dir, v1/ and its subdirs pass the rule of fs/cache.h, or a message says why not. */
static int open_dirs(struct fs_cache *c)
{
	char why[SAFEDIR_WHY_MAX] = "";
	int top, r;

	top = safedir_open(c->dir, SAFEDIR_CREATE, why);
	if (top < 0) {
		r = top;
		goto out_refuse;
	}
	r = open_subdirs(c, top, why);
	close(top);
	if (r == 0)
		return 0;
out_refuse:
	log_err("refusing cache dir '%s': %s (a cache dir must be ours, writable by us only, "
		"with no symlink on its path)", c->dir, why[0] ? why : strerror(-r));
	return r;
}

int fs_cache_open(const char *dir, uint64_t max_bytes, struct fs_cache **out)
{
	char def[FS_CACHE_PATH_MAX];
	struct fs_cache *c;
	struct fs_cache_usage u;
	int r;

	if (!dir) {
		r = fs_cache_default_dir(def, sizeof(def));
		if (r < 0)
			return r;
		dir = def;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	for (int i = 0; i < FS_CACHE_SUB_N; i++)
		c->fd[i] = -1;
	pthread_mutex_init(&c->evict_lock, NULL);
	c->max = max_bytes ? max_bytes : FS_CACHE_DEFAULT_MAX;
	c->low = c->max - c->max / 10;
	c->dir = strdup(dir);
	r = c->dir ? open_dirs(c) : -ENOMEM;
	if (r < 0)
		goto out_free;
	r = fs_cache_du(c, &u); /* also removes stale tmp files */
	if (r < 0)
		goto out_free;
	atomic_store(&c->used, u.bytes);
	*out = c;
	return 0;
out_free:
	fs_cache_close(c);
	return r;
}

void fs_cache_close(struct fs_cache *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->evict_lock);
	for (int i = 0; i < FS_CACHE_SUB_N; i++)
		if (c->fd[i] >= 0)
			close(c->fd[i]);
	free(c->dir);
	free(c);
}

const char *fs_cache_dir(const struct fs_cache *c)
{
	return c->dir;
}

void fs_cache_note_write_error(struct fs_cache *c, const char *what, int r)
{
	if (r != -EINVAL && !atomic_exchange(&c->warned, true))
		log_warn("cannot write %s to cache '%s': %s; serving from memory, later "
			 "errors not logged", what, c->dir, strerror(-r));
}

bool fs_cache_st_ours(const struct stat *st)
{
	return st->st_uid == geteuid() && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

int fs_cache_subdir_open(int dirfd, const char *name, bool create)
{
	int fd = dir_open_at(dirfd, name, O_PATH, create), r;
	struct stat st;

	if (fd < 0)
		return fd;
	/*
	 * fs_cache_open() checked the dirs above; a layer's dir is checked
	 * here. Ours but opened up to others (a chmod -R): closed again, in
	 * a parent nobody else can write; its files are checked one by one.
	 */
	r = fstat(fd, &st) < 0 ? -EPERM : 0;
	if (r == 0 && st.st_uid == geteuid() && !fs_cache_st_ours(&st) &&
	    fchmodat(dirfd, name, 0700, 0) == 0)
		st.st_mode = S_IFDIR | 0700;
	if (r == 0 && !fs_cache_st_ours(&st))
		r = -EPERM;
	if (r < 0)
		close(fd);
	return r < 0 ? r : fd;
}

int fs_cache_unlinkat(int dirfd, const char *rel)
{
	const char *slash = strchr(rel, '/');
	char sub[FS_CACHE_PATH_MAX];
	int fd, r;

	if (!slash)
		return unlinkat(dirfd, rel, 0) < 0 ? -errno : 0;
	if ((size_t)(slash - rel) >= sizeof(sub) || strchr(slash + 1, '/'))
		return -EINVAL;
	memcpy(sub, rel, (size_t)(slash - rel));
	sub[slash - rel] = '\0';
	fd = fs_cache_subdir_open(dirfd, sub, false);
	if (fd < 0)
		return fd;
	r = unlinkat(fd, slash + 1, 0) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/*
 * A new tmp file in v1/tmp, never an existing name (O_EXCL), its name in
 * @name. Names differ between live handles (pid, handle address); one a
 * dead process left is skipped.
 */
static int tmp_create(struct fs_cache *c, char *name)
{
	int fd = -1;

	for (int tries = 0; fd < 0 && tries < 8; tries++) {
		if (fs_cache_path_fmt(name, "%d-%llx-%llu", (int)getpid(),
				      (unsigned long long)(uintptr_t)c,
				      (unsigned long long)atomic_fetch_add(&c->seq, 1)) < 0)
			return -ENAMETOOLONG;
		fd = openat(c->fd[FS_CACHE_SUB_TMP], name,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST)
			return -errno;
	}
	return fd < 0 ? -EEXIST : fd;
}

/* rename the tmp file @tmp to @name in @dirfd, or in its subdir @sub (re-created if pruned). */
static int tx_rename(struct fs_cache *c, const char *tmp, int dirfd, const char *sub,
		     const char *name)
{
	int fd, r = -ENOENT;

	if (!sub)
		return renameat(c->fd[FS_CACHE_SUB_TMP], tmp, dirfd, name) < 0 ? -errno : 0;
	for (int tries = 0; r == -ENOENT && tries < 3; tries++) {
		fd = fs_cache_subdir_open(dirfd, sub, true);
		if (fd < 0)
			return fd;
		r = renameat(c->fd[FS_CACHE_SUB_TMP], tmp, fd, name) < 0 ? -errno : 0;
		close(fd); /* ENOENT: a prune removed the dir after we opened it */
	}
	return r;
}

/* Prune to the low watermark unless another thread of this handle is at it. */
static void fs_cache_evict(struct fs_cache *c);

/*
 * The disk is full before the cache reached its bound (a bound larger
 * than the disk, or other files on it): without this, nothing would ever
 * be evicted and the cache would keep its oldest spans for good. Free
 * what @need takes plus a tenth of the cache, least recently used first,
 * so the next writes go in too; but never for a write that needs more
 * than half of what the cache holds (a disk that small, or full of other
 * files, would have the cache emptied, indexes and all, for one span that
 * may still not fit). ROOM_NONE: nothing freed; ROOM_OTHER: another thread
 * of the handle made room meanwhile; ROOM_MADE: this call did.
 */
enum room { ROOM_NONE, ROOM_OTHER, ROOM_MADE };

static enum room make_room(struct fs_cache *c, uint64_t need)
{
	uint64_t gen = atomic_load(&c->room_gen), freed = 0;
	struct fs_cache_usage u;

	pthread_mutex_lock(&c->evict_lock);
	if (atomic_load(&c->room_gen) != gen) {
		pthread_mutex_unlock(&c->evict_lock);
		return ROOM_OTHER;
	}
	if (fs_cache_du(c, &u) == 0 && need <= u.bytes / 2) {
		fs_cache_prune(c, u.bytes - u.bytes / 10 - need, &freed);
		log_debug("cache '%s': disk full, %llu bytes freed", c->dir,
			  (unsigned long long)freed);
	}
	atomic_fetch_add(&c->room_gen, 1);
	pthread_mutex_unlock(&c->evict_lock);
	return freed > 0 ? ROOM_MADE : ROOM_NONE;
}

static int write_once(struct fs_cache *c, int dirfd, const char *sub, const char *name,
		      const void *body, size_t len, const void *tail, size_t tail_len, bool direct)
{
	char tmp[FS_CACHE_PATH_MAX];
	size_t written;
	int fd, r;

	fd = tmp_create(c, tmp);
	if (fd < 0)
		return fd;
	r = 0;
	written = direct ? fs_cache_dio_write(&c->dio, fd, body, len, &r) : 0;
	if (r == 0)
		r = fd_write_all(fd, (const char *)body + written, len - written);
	if (r == 0)
		r = fd_write_all(fd, tail, tail_len);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0)
		r = tx_rename(c, tmp, dirfd, sub, name);
	if (r < 0)
		unlinkat(c->fd[FS_CACHE_SUB_TMP], tmp, 0);
	return r;
}

int fs_cache_write_tx(struct fs_cache *c, int dirfd, const char *sub, const char *name,
		      const void *body, size_t len, const void *tail, size_t tail_len, bool direct)
{
	int r = write_once(c, dirfd, sub, name, body, len, tail, tail_len, direct);

	/*
	 * Room made by another thread may be gone by the time we write: try
	 * again, but free room for this write once at most (then the disk is
	 * not ours to fill).
	 */
	for (int round = 0; (r == -ENOSPC || r == -EDQUOT) && round < 4; round++) {
		enum room m = make_room(c, len + tail_len);

		if (m == ROOM_NONE)
			break;
		r = write_once(c, dirfd, sub, name, body, len, tail, tail_len, direct);
		if (m == ROOM_MADE)
			break;
	}
	if (r < 0)
		return r;
	atomic_fetch_add(&c->used, len + tail_len);
	atomic_fetch_add(&c->since, len + tail_len);
	fs_cache_evict(c);
	return 0;
}

/*
 * Other handles write too: besides its own estimate passing the bound, a
 * handle rescans after writing 5 % of the bound, so N writers overshoot by
 * at most N x 5 %.
 */
static void fs_cache_evict(struct fs_cache *c)
{
	struct fs_cache_usage u;

	if (atomic_load(&c->used) <= c->max && atomic_load(&c->since) < c->max / 20)
		return;
	if (pthread_mutex_trylock(&c->evict_lock) != 0)
		return; /* another thread of this handle is at it */
	if (atomic_load(&c->used) <= c->max)
		fs_cache_du(c, &u);
	if (atomic_load(&c->used) > c->max)
		fs_cache_prune(c, c->low, NULL);
	pthread_mutex_unlock(&c->evict_lock);
}

/*
 * Read the index file @name of @dirfd whole: a regular file of ours only
 * (O_NOFOLLOW; O_NONBLOCK so that a fifo cannot hang us). Returns the fd,
 * still open for the LRU touch, or -errno.
 */
static int read_index(int dirfd, const char *name, void **buf, size_t *len)
{
	struct stat st;
	char *b = NULL;
	int fd, r;

	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -EPERM : -errno;
	r = fstat(fd, &st) < 0 ? -errno : 0;
	if (r == 0 && (!S_ISREG(st.st_mode) || !fs_cache_st_ours(&st)))
		r = -EPERM;
	if (r == 0 && (uint64_t)st.st_size > FS_CACHE_MAX_INDEX)
		r = -EFBIG;
	if (r == 0 && !(b = malloc((size_t)st.st_size + 1)))
		r = -ENOMEM;
	if (r == 0)
		r = fd_read_all(fd, b, (size_t)st.st_size);
	if (r < 0) {
		free(b);
		close(fd);
		return r;
	}
	b[st.st_size] = '\0';
	*buf = b;
	*len = (size_t)st.st_size;
	return fd;
}

int fs_cache_index_get(struct fs_cache *c, enum fs_cache_index_kind k, const char *digest,
		       void **buf, size_t *len)
{
	char name[FS_CACHE_PATH_MAX];
	int dirfd, fd, r = index_name(c, k, digest, name, &dirfd);

	if (r < 0)
		return r;
	fd = read_index(dirfd, name, buf, len);
	if (fd == -EPERM)
		log_warn("ignoring cached index '%s' in '%s': not a regular file of ours", name,
			 c->dir);
	if (fd < 0)
		return fd;
	if (k != FS_CACHE_INDEX_BUILT && !digest_sha256_is(*buf, *len, digest)) {
		log_warn("cached index blob '%s' is damaged: removed", digest);
		unlinkat(dirfd, name, 0);
		free(*buf);
		*buf = NULL;
		r = -EBADMSG;
	} else {
		futimens(fd, NULL); /* LRU: used now */
	}
	close(fd);
	return r;
}

int fs_cache_index_put(struct fs_cache *c, enum fs_cache_index_kind k, const char *digest,
		       const void *buf, size_t len)
{
	char name[FS_CACHE_PATH_MAX];
	int dirfd, r = index_name(c, k, digest, name, &dirfd);

	if (r == 0)
		r = fs_cache_write_tx(c, dirfd, NULL, name, buf, len, "", 0, false);
	if (r < 0)
		fs_cache_note_write_error(c, "an index", r);
	return r;
}

int fs_cache_index_remove(struct fs_cache *c, enum fs_cache_index_kind k, const char *digest)
{
	char name[FS_CACHE_PATH_MAX];
	int dirfd, r = index_name(c, k, digest, name, &dirfd);

	if (r == 0 && unlinkat(dirfd, name, 0) < 0)
		r = -errno;
	return r;
}

void fs_cache_index_touch(struct fs_cache *c, enum fs_cache_index_kind k, const char *digest)
{
	char name[FS_CACHE_PATH_MAX];
	int dirfd;

	if (index_name(c, k, digest, name, &dirfd) == 0)
		utimensat(dirfd, name, NULL, AT_SYMLINK_NOFOLLOW);
}

int fs_cache_fd(const struct fs_cache *c, enum fs_cache_sub sub)
{
	return c->fd[sub];
}
void fs_cache_set_used(struct fs_cache *c, uint64_t used)
{
	atomic_store(&c->used, used);
	atomic_store(&c->since, 0);
}
