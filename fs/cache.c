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
#include "fs/cache.h"
#include "fs/cache_int.h"

struct fs_cache {
	char *dir;               /* the cache dir as given */
	char *v1;                /* <dir>/v1 */
	uint64_t max;
	uint64_t low;            /* prune down to this */
	_Atomic uint64_t used;   /* estimate, see above */
	_Atomic uint64_t seq;    /* tmp file names */
	_Atomic uint64_t since;  /* bytes this handle wrote since its last scan */
	atomic_bool warned;      /* a write error was logged once */
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

/* mkdir -p, 0700 for what it creates. */
static int mkdirs(const char *path)
{
	char tmp[FS_CACHE_PATH_MAX];
	size_t i, n = strlen(path);

	if (n == 0 || n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -errno;
		tmp[i] = path[i];
	}
	return 0;
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

static int index_path(const struct fs_cache *c, enum fs_cache_index_kind k, const char *digest,
		      char *buf)
{
	const char *hex;
	int r = fs_cache_blob_hex(digest, &hex);

	if (r < 0)
		return r;
	return fs_cache_path_fmt(buf, "%s/%s/%s.idx", c->v1,
				 k == FS_CACHE_INDEX_BUILT ? FS_CACHE_BUILT_DIR : FS_CACHE_IBLOB_DIR,
				 hex);
}

int fs_cache_open(const char *dir, uint64_t max_bytes, struct fs_cache **out)
{
	char def[FS_CACHE_PATH_MAX], p[FS_CACHE_PATH_MAX];
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
	pthread_mutex_init(&c->evict_lock, NULL);
	c->max = max_bytes ? max_bytes : FS_CACHE_DEFAULT_MAX;
	c->low = c->max - c->max / 10;
	c->dir = strdup(dir);
	r = -ENOMEM;
	if (!c->dir || fs_cache_path_fmt(p, "%s/v1", dir) < 0 || !(c->v1 = strdup(p)))
		goto out_free;
	static const char *const subs[] = { FS_CACHE_BUILT_DIR, FS_CACHE_IBLOB_DIR, "spans", "tmp" };
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		r = fs_cache_path_fmt(p, "%s/%s", c->v1, subs[i]);
		if (r == 0)
			r = mkdirs(p);
		if (r < 0) {
			log_err("cannot create cache dir '%s': %s", p, strerror(-r));
			goto out_free;
		}
	}
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
	free(c->v1);
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

/*
 * The transaction: tmp file in v1/tmp -> write @hdr then @body -> rename to
 * @final (creating @final_dir when it vanished under a concurrent prune).
 */
int fs_cache_write_tx(struct fs_cache *c, const char *final, const char *final_dir,
		    const void *hdr, size_t hdr_len, const void *body, size_t len)
{
	char tmp[FS_CACHE_PATH_MAX];
	int fd, r, tries;

	r = fs_cache_path_fmt(tmp, "%s/tmp/%d-%llu-XXXXXX", c->v1, (int)getpid(),
		     (unsigned long long)atomic_fetch_add(&c->seq, 1));
	if (r < 0)
		return r;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = fd_write_all(fd, hdr, hdr_len);
	if (r == 0)
		r = fd_write_all(fd, body, len);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		goto out_unlink;
	for (tries = 0; tries < 3; tries++) {
		r = 0;
		if (rename(tmp, final) == 0)
			break;
		r = -errno;
		if (r != -ENOENT || !final_dir)
			break;
		if (mkdir(final_dir, 0700) < 0 && errno != EEXIST)
			break;
	}
	if (r < 0)
		goto out_unlink;
	atomic_fetch_add(&c->used, hdr_len + len);
	atomic_fetch_add(&c->since, hdr_len + len);
	fs_cache_evict(c);
	return 0;
out_unlink:
	unlink(tmp);
	return r;
}

/*
 * Other handles write too: besides its own estimate passing the bound, a
 * handle rescans after writing 5 % of the bound, so N writers overshoot by
 * at most N x 5 %.
 */
void fs_cache_evict(struct fs_cache *c)
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

static int read_file(const char *path, size_t max, void **buf, size_t *len)
{
	struct stat st;
	char *b = NULL;
	size_t got = 0;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = fstat(fd, &st) < 0 ? -errno : 0;
	if (r == 0 && (uint64_t)st.st_size > max)
		r = -EFBIG;
	if (r == 0 && !(b = malloc((size_t)st.st_size + 1)))
		r = -ENOMEM;
	while (r == 0 && got < (size_t)st.st_size) {
		ssize_t n = read(fd, b + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			r = n < 0 ? -errno : -EIO;
		else
			got += (size_t)n;
	}
	close(fd);
	if (r < 0) {
		free(b);
		return r;
	}
	b[got] = '\0';
	*buf = b;
	*len = got;
	return 0;
}

/* Whether @buf hashes to @digest. */
static bool digest_matches(const void *buf, size_t len, const char *digest)
{
	uint8_t sha[DIGEST_SHA256_LEN];
	char have[DIGEST_STR_LEN];

	digest_sha256(buf, len, sha);
	digest_format(sha, have);
	return strcmp(have, digest) == 0;
}

int fs_cache_index_get(struct fs_cache *c, enum fs_cache_index_kind k, const char *digest,
		       void **buf, size_t *len)
{
	char p[FS_CACHE_PATH_MAX];
	int r = index_path(c, k, digest, p);

	if (r < 0)
		return r;
	r = read_file(p, FS_CACHE_MAX_INDEX, buf, len);
	if (r == 0 && k == FS_CACHE_INDEX_BLOB && !digest_matches(*buf, *len, digest)) {
		log_warn("cached index blob '%s' is damaged: removed", digest);
		unlink(p);
		free(*buf);
		*buf = NULL;
		return -EBADMSG;
	}
	if (r == 0)
		utimensat(AT_FDCWD, p, NULL, 0); /* LRU: used now */
	return r;
}

int fs_cache_index_put(struct fs_cache *c, enum fs_cache_index_kind k, const char *digest,
		       const void *buf, size_t len)
{
	char p[FS_CACHE_PATH_MAX];
	int r = index_path(c, k, digest, p);

	if (r == 0)
		r = fs_cache_write_tx(c, p, NULL, "", 0, buf, len);
	if (r < 0)
		fs_cache_note_write_error(c, "an index", r);
	return r;
}

int fs_cache_index_remove(struct fs_cache *c, enum fs_cache_index_kind k, const char *digest)
{
	char p[FS_CACHE_PATH_MAX];
	int r = index_path(c, k, digest, p);

	if (r == 0 && unlink(p) < 0)
		r = -errno;
	return r;
}

const char *fs_cache_v1(const struct fs_cache *c)
{
	return c->v1;
}

void fs_cache_set_used(struct fs_cache *c, uint64_t used)
{
	atomic_store(&c->used, used);
	atomic_store(&c->since, 0);
}
