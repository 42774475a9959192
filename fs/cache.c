/* SPDX-License-Identifier: MIT */
/*
 * The local on-disk cache (see fs/cache.h for the layout).
 *
 * Why files and not one database: the cache is shared by processes that
 * may be killed at any moment. With one file per object, written to v1/tmp
 * and renamed into place, the only crash debris is a tmp file, which the
 * next fs_cache_open() or prune removes once it is old. A span file names
 * its range, not its hash (the index does not export span hashes), so it
 * carries the hash of its payload in its header and the first reader of a
 * file in a process checks it (fs_cache_span_read_verified()).
 *
 * Size accounting: c->used is this handle's estimate (a scan at open plus
 * what it wrote). Other processes write too, so eviction rescans the
 * directory and works from the real total.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/digest.h"
#include "common/log.h"
#include "fs/cache.h"
#include "fs/cache_int.h"

#define SPAN_MAGIC "SFSPAN01"

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

static int blob_hex(const char *blob_digest, const char **hex)
{
	if (!blob_digest || !digest_is_valid(blob_digest))
		return -EINVAL;
	*hex = blob_digest + strlen("sha256:");
	return 0;
}

static int path_fmt(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int path_fmt(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, FS_CACHE_PATH_MAX, fmt, ap);
	va_end(ap);
	return n < 0 || n >= FS_CACHE_PATH_MAX ? -ENAMETOOLONG : 0;
}

static int index_path(const struct fs_cache *c, const char *blob, char *buf)
{
	const char *hex;
	int r = blob_hex(blob, &hex);

	return r < 0 ? r : path_fmt(buf, "%s/index/%s.idx", c->v1, hex);
}

static int span_dir(const struct fs_cache *c, const char *blob, char *buf)
{
	const char *hex;
	int r = blob_hex(blob, &hex);

	return r < 0 ? r : path_fmt(buf, "%s/spans/%s", c->v1, hex);
}

static int span_path(const struct fs_cache *c, const char *blob, uint64_t u_start, uint64_t len,
		     char *buf)
{
	const char *hex;
	int r = blob_hex(blob, &hex);

	if (r < 0)
		return r;
	return path_fmt(buf, "%s/spans/%s/%016llx-%llx", c->v1, hex,
			(unsigned long long)u_start, (unsigned long long)len);
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
	if (!c->dir || path_fmt(p, "%s/v1", dir) < 0 || !(c->v1 = strdup(p)))
		goto out_free;
	static const char *const subs[] = { "index", "spans", "tmp" };
	for (size_t i = 0; i < 3; i++) {
		r = path_fmt(p, "%s/%s", c->v1, subs[i]);
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

static int write_all(int fd, const void *p, size_t n)
{
	const char *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static void note_write_error(struct fs_cache *c, const char *what, int r)
{
	if (r != -EINVAL && !atomic_exchange(&c->warned, true))
		log_warn("cannot write %s to cache '%s': %s; serving from memory, later "
			 "errors not logged", what, c->dir, strerror(-r));
}

/*
 * The transaction: tmp file in v1/tmp -> write @hdr then @body -> rename to
 * @final (creating @final_dir when it vanished under a concurrent prune).
 */
static int write_tx(struct fs_cache *c, const char *final, const char *final_dir,
		    const void *hdr, size_t hdr_len, const void *body, size_t len)
{
	char tmp[FS_CACHE_PATH_MAX];
	int fd, r, tries;

	r = path_fmt(tmp, "%s/tmp/%d-%llu-XXXXXX", c->v1, (int)getpid(),
		     (unsigned long long)atomic_fetch_add(&c->seq, 1));
	if (r < 0)
		return r;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = write_all(fd, hdr, hdr_len);
	if (r == 0)
		r = write_all(fd, body, len);
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

int fs_cache_index_get(struct fs_cache *c, const char *blob_digest, void **buf, size_t *len)
{
	char p[FS_CACHE_PATH_MAX];
	int r = index_path(c, blob_digest, p);

	if (r < 0)
		return r;
	r = read_file(p, FS_CACHE_MAX_INDEX, buf, len);
	if (r == 0)
		utimensat(AT_FDCWD, p, NULL, 0); /* LRU: used now */
	return r;
}

int fs_cache_index_put(struct fs_cache *c, const char *blob_digest, const void *buf, size_t len)
{
	char p[FS_CACHE_PATH_MAX];
	int r = index_path(c, blob_digest, p);

	if (r == 0)
		r = write_tx(c, p, NULL, "", 0, buf, len);
	if (r < 0)
		note_write_error(c, "an index", r);
	return r;
}

int fs_cache_index_remove(struct fs_cache *c, const char *blob_digest)
{
	char p[FS_CACHE_PATH_MAX];
	int r = index_path(c, blob_digest, p);

	if (r == 0 && unlink(p) < 0)
		r = -errno;
	return r;
}

static void le64_put(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t le64_get(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

int fs_cache_span_put(struct fs_cache *c, const char *blob_digest, uint64_t u_start,
		      const void *buf, size_t len)
{
	char p[FS_CACHE_PATH_MAX], d[FS_CACHE_PATH_MAX];
	uint8_t hdr[FS_CACHE_SPAN_HDR] = { 0 };
	int r;

	r = span_path(c, blob_digest, u_start, len, p);
	if (r == 0)
		r = span_dir(c, blob_digest, d);
	if (r < 0)
		return r;
	memcpy(hdr, SPAN_MAGIC, 8);
	le64_put(hdr + 8, u_start);
	le64_put(hdr + 16, len);
	digest_sha256(buf, len, hdr + 24);
	r = write_tx(c, p, d, hdr, sizeof(hdr), buf, len);
	if (r < 0)
		note_write_error(c, "a span", r);
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

/* Open a span file whose size matches @len; -ENOENT, -EBADMSG. */
static int span_open(struct fs_cache *c, const char *blob, uint64_t u_start, size_t len)
{
	char p[FS_CACHE_PATH_MAX];
	struct stat st;
	int fd, r = span_path(c, blob, u_start, len, p);

	if (r < 0)
		return r;
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != FS_CACHE_SPAN_HDR + (uint64_t)len) {
		close(fd);
		return -EBADMSG;
	}
	return fd;
}

int fs_cache_span_read_verified(struct fs_cache *c, const char *blob_digest, uint64_t u_start,
				void *buf, size_t len)
{
	uint8_t hdr[FS_CACHE_SPAN_HDR], sum[DIGEST_SHA256_LEN];
	ssize_t n;
	int fd, r = 0;

	fd = span_open(c, blob_digest, u_start, len);
	if (fd < 0)
		return fd;
	n = pread_full(fd, hdr, sizeof(hdr), 0);
	if (n == (ssize_t)sizeof(hdr))
		n = pread_full(fd, buf, len, FS_CACHE_SPAN_HDR);
	close(fd);
	if (n < 0)
		return (int)n;
	if ((size_t)n != len || memcmp(hdr, SPAN_MAGIC, 8) != 0 ||
	    le64_get(hdr + 8) != u_start || le64_get(hdr + 16) != len)
		r = -EBADMSG;
	if (r == 0) {
		digest_sha256(buf, len, sum);
		if (memcmp(sum, hdr + 24, sizeof(sum)) != 0)
			r = -EBADMSG;
	}
	return r;
}

ssize_t fs_cache_span_pread(struct fs_cache *c, const char *blob_digest, uint64_t u_start,
			    size_t len, void *buf, size_t n, uint64_t off)
{
	ssize_t r;
	int fd;

	if (off > len)
		return -EINVAL;
	if (n > len - off)
		n = len - off;
	fd = span_open(c, blob_digest, u_start, len);
	if (fd < 0)
		return fd;
	r = pread_full(fd, buf, n, FS_CACHE_SPAN_HDR + off);
	close(fd);
	if (r >= 0 && (size_t)r != n)
		r = -EBADMSG; /* shrank under us: treat as damaged */
	return r;
}

int fs_cache_span_remove(struct fs_cache *c, const char *blob_digest, uint64_t u_start,
			 size_t len)
{
	char p[FS_CACHE_PATH_MAX];
	int r = span_path(c, blob_digest, u_start, len, p);

	if (r == 0 && unlink(p) < 0)
		r = -errno;
	return r;
}

void fs_cache_span_touch(struct fs_cache *c, const char *blob_digest, uint64_t u_start,
			 size_t len)
{
	char p[FS_CACHE_PATH_MAX];

	if (span_path(c, blob_digest, u_start, len, p) == 0)
		utimensat(AT_FDCWD, p, NULL, 0);
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
