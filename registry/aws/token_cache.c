/* SPDX-License-Identifier: MIT */
/*
 * The ECR token cache on disk: one small JSON file per (account, region,
 * access key), so builders sharing a machine (and a cache dir) ask
 * GetAuthorizationToken once per half-life instead of once per mount. The
 * file holds a live registry credential: it is created 0600 in a 0700
 * directory, written to a temporary name and renamed into place, and a file
 * that anyone else could read is neither trusted nor kept.
 *
 * The directory must pass common/safedir.h (ours, writable by us only, no
 * symlink from / down to it, ancestors root's or ours): a dir another user
 * controls could hand us a token of their choice or read ours. When it
 * does not, we warn and do not cache (the cache only saves API calls).
 * Files are reached relative to the checked dir's fd with O_NOFOLLOW; the
 * temporary file is created O_EXCL, so a name planted there is removed,
 * never written through.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fdio.h"
#include "common/digest.h"
#include "common/log.h"
#include "common/safedir.h"
#include "common/secret.h"
#include "registry/aws/aws_int.h"

static _Atomic unsigned tmp_seq; /* temp file names of this process */

#define CACHE_MAX_FILE (128u << 10)

/* The file name in the cache dir: one path component. */
static int cache_name(const struct reg_ecr_host *h, const char *akid, char *out, size_t n)
{
	uint8_t raw[DIGEST_SHA256_LEN];
	char hex[2 * DIGEST_SHA256_LEN + 1];
	int w;

	digest_sha256(akid, strlen(akid), raw);
	hex_encode(raw, sizeof(raw), hex);
	w = snprintf(out, n, "ecr-%s-%s-%.16s.json", h->account, h->region, hex);
	if (w < 0 || (size_t)w >= n)
		return -ENAMETOOLONG;
	return strchr(out, '/') ? -EINVAL : 0;
}

/*
 * The checked cache dir (see the top of this file), created if @create;
 * -ENOENT quietly when it does not exist, else a warning says why not.
 */
static int open_dir(const char *dir, bool create)
{
	char why[SAFEDIR_WHY_MAX] = "";
	int fd = safedir_open(dir, create ? SAFEDIR_CREATE : 0, why);

	if (fd < 0 && fd != -ENOENT)
		log_warn("not caching ECR tokens in '%s': %s", dir, why);
	return fd;
}

bool reg_ecr_cached_is_fresh(const struct reg_ecr_cached *c, time_t now)
{
	if (c->expires_at <= c->requested_at)
		return false;
	return now < c->requested_at + (c->expires_at - c->requested_at) / 2;
}

void reg_ecr_cached_release(struct reg_ecr_cached *c)
{
	secret_free_str(c->token);
	c->token = NULL;
}

/*
 * Open @name of @dirfd only if it is a regular file of ours that nobody
 * else can read (not a symlink: O_NOFOLLOW); anything else is removed.
 */
static int open_private(int dirfd, const char *name)
{
	struct stat st;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0 && errno != ELOOP)
		return -errno;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077)) {
		log_warn("ignoring ECR token cache file '%s': not a private file of ours", name);
		if (fd >= 0)
			close(fd);
		unlinkat(dirfd, name, 0);
		return -EPERM;
	}
	return fd;
}

int reg_ecr_cache_parse(const char *buf, size_t len, struct reg_ecr_cached *out)
{
	json_t *root = json_loadb(buf, len, 0, NULL), *t, *rq, *ex;
	int r = -EBADMSG;

	t = json_object_get(root, "token");
	rq = json_object_get(root, "requestedAt");
	ex = json_object_get(root, "expiresAt");
	if (json_is_string(t) && json_is_integer(rq) && json_is_integer(ex)) {
		out->token = strdup(json_string_value(t));
		out->requested_at = (time_t)json_integer_value(rq);
		out->expires_at = (time_t)json_integer_value(ex);
		r = out->token ? 0 : -ENOMEM;
	}
	json_decref(root);
	return r;
}

int reg_ecr_cache_load(const char *dir, const struct reg_ecr_host *h, const char *akid,
		       struct reg_ecr_cached *out)
{
	char name[256];
	struct dbuf b;
	int dfd, fd, r;

	memset(out, 0, sizeof(*out));
	r = cache_name(h, akid, name, sizeof(name));
	if (r < 0)
		return r;
	dfd = open_dir(dir, false);
	if (dfd < 0)
		return -ENOENT;
	fd = open_private(dfd, name);
	close(dfd);
	if (fd < 0)
		return fd == -EPERM ? -ENOENT : fd;
	dbuf_init(&b, CACHE_MAX_FILE - 1);
	r = fd_read_dbuf(fd, &b);
	close(fd);
	if (r == 0)
		r = reg_ecr_cache_parse(b.data ? b.data : "", b.len, out);
	secret_dbuf_release(&b);
	if (r < 0)
		log_warn("ignoring unreadable ECR token cache file '%s' in '%s'", name, dir);
	return r < 0 ? -ENOENT : 0;
}

/* Write @text to a new file @tmp of @dfd (O_EXCL, 0600) and rename it to @name. */
static int write_private(int dfd, const char *tmp, const char *name, const char *text)
{
	const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	int fd, r;

	fd = openat(dfd, tmp, flags, 0600);
	if (fd < 0 && errno == EEXIST && unlinkat(dfd, tmp, 0) == 0)
		fd = openat(dfd, tmp, flags, 0600); /* a dead process's, or planted */
	if (fd < 0)
		return -errno;
	r = fchmod(fd, 0600) < 0 ? -errno : fd_write_all(fd, text, strlen(text));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && renameat(dfd, tmp, dfd, name) < 0)
		r = -errno;
	if (r < 0)
		unlinkat(dfd, tmp, 0);
	return r;
}

int reg_ecr_cache_store(const char *dir, const struct reg_ecr_host *h, const char *akid,
			const struct reg_ecr_cached *in)
{
	char name[256], tmp[300];
	struct stat st;
	char *text = NULL;
	json_t *root;
	int dfd, r;

	r = cache_name(h, akid, name, sizeof(name));
	if (r < 0)
		return r;
	dfd = open_dir(dir, true);
	if (dfd < 0)
		return dfd;
	if (fstat(dfd, &st) == 0 && (st.st_mode & 077))
		fchmod(dfd, 0700); /* ours (checked): readable by others is not needed */
	/* unique per writer: two threads of one process refreshing at once */
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%u", name, (long)getpid(),
		 atomic_fetch_add(&tmp_seq, 1u));
	root = json_pack("{s:s, s:I, s:I}", "token", in->token, "requestedAt",
			 (json_int_t)in->requested_at, "expiresAt", (json_int_t)in->expires_at);
	text = root ? json_dumps(root, JSON_COMPACT) : NULL;
	json_decref(root);
	r = text ? write_private(dfd, tmp, name, text) : -ENOMEM;
	if (r < 0)
		log_warn("cannot write ECR token cache '%s' in '%s': %s", name, dir, strerror(-r));
	secret_free_str(text);
	close(dfd);
	return r;
}

/* A new token from the API into @c, stored in the cache; @c keeps the old one on failure. */
static int refresh(const struct reg_aws_opts *o, const struct reg_ecr_host *h,
		   const struct reg_aws_creds *cr, struct reg_ecr_cached *c, time_t now)
{
	struct reg_ecr_cached fresh = { .requested_at = now };
	int r;

	r = reg_ecr_token_with_creds(o, h, cr, &fresh.token, &fresh.expires_at);
	if (r < 0)
		return r;
	reg_ecr_cache_store(o->cache_dir, h, cr->access_key_id, &fresh);
	reg_ecr_cached_release(c);
	*c = fresh;
	return 0;
}

int reg_ecr_token_cached_with_creds(const struct reg_aws_opts *o, const struct reg_ecr_host *h,
				    const struct reg_aws_creds *cr, char **basic_token,
				    time_t *expires_at, bool *from_api)
{
	struct reg_ecr_cached c = { 0 };
	time_t now = time(NULL);
	bool api = false;
	int r;

	if (from_api)
		*from_api = false;
	if (!o->cache_dir) {
		r = reg_ecr_token_with_creds(o, h, cr, basic_token, expires_at);
		if (from_api)
			*from_api = r == 0;
		return r;
	}
	r = reg_ecr_cache_load(o->cache_dir, h, cr->access_key_id, &c);
	if (r == 0 && reg_ecr_cached_is_fresh(&c, now)) {
		log_debug("aws: ECR token for '%s' from the cache", h->account);
	} else {
		r = refresh(o, h, cr, &c, now);
		api = r == 0;
		if (r < 0 && c.token && c.expires_at - 60 > now) {
			log_warn("using the cached ECR token for '%s' after a failed refresh",
				 h->account);
			r = 0;
		}
	}
	if (r == 0) {
		*basic_token = c.token;
		*expires_at = c.expires_at;
		c.token = NULL;
		if (from_api)
			*from_api = api;
	}
	reg_ecr_cached_release(&c);
	return r;
}

void reg_ecr_cache_drop(const char *dir, const struct reg_ecr_host *h, const char *akid)
{
	char name[256];
	int dfd;

	if (!dir || cache_name(h, akid, name, sizeof(name)) < 0)
		return;
	dfd = open_dir(dir, false);
	if (dfd >= 0) {
		unlinkat(dfd, name, 0);
		close(dfd);
	}
}
