/* SPDX-License-Identifier: MIT */
/*
 * The ECR token cache on disk: one small JSON file per (account, region,
 * access key), so builders sharing a machine (and a cache dir) ask
 * GetAuthorizationToken once per half-life instead of once per mount. The
 * file holds a live registry credential: it is created 0600 in a 0700
 * directory, written to a temporary name and renamed into place, and a file
 * that anyone else could read is neither trusted nor kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fdio.h"
#include "common/digest.h"
#include "common/log.h"
#include "registry/aws/aws_int.h"

#define CACHE_MAX_FILE (128u << 10)

static int cache_path(const char *dir, const struct reg_ecr_host *h, const char *akid,
		      char *out, size_t n)
{
	uint8_t raw[DIGEST_SHA256_LEN];
	char hex[2 * DIGEST_SHA256_LEN + 1];
	int w;

	digest_sha256(akid, strlen(akid), raw);
	hex_encode(raw, sizeof(raw), hex);
	w = snprintf(out, n, "%s/ecr-%s-%s-%.16s.json", dir, h->account, h->region, hex);
	return w < 0 || (size_t)w >= n ? -ENAMETOOLONG : 0;
}

bool reg_ecr_cached_is_fresh(const struct reg_ecr_cached *c, time_t now)
{
	if (c->expires_at <= c->requested_at)
		return false;
	return now < c->requested_at + (c->expires_at - c->requested_at) / 2;
}

void reg_ecr_cached_release(struct reg_ecr_cached *c)
{
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	c->token = NULL;
}

/* Open @path only if it is a regular file of ours that nobody else can read. */
static int open_private(const char *path)
{
	struct stat st;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077)) {
		log_warn("ignoring ECR token cache file '%s': not a private file of ours", path);
		close(fd);
		unlink(path);
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
	char path[1024], buf[CACHE_MAX_FILE];
	size_t len = 0;
	ssize_t n;
	int fd, r;

	memset(out, 0, sizeof(*out));
	r = cache_path(dir, h, akid, path, sizeof(path));
	if (r < 0)
		return r;
	fd = open_private(path);
	if (fd < 0)
		return fd == -EPERM ? -ENOENT : fd;
	while (len < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - len)) > 0)
		len += (size_t)n;
	close(fd);
	r = len == sizeof(buf) ? -EFBIG : reg_ecr_cache_parse(buf, len, out);
	explicit_bzero(buf, len);
	if (r < 0)
		log_warn("ignoring unreadable ECR token cache file '%s'", path);
	return r < 0 ? -ENOENT : 0;
}

/* mkdir -p @dir, new components 0700; the leaf ends up 0700 if it is ours. */
static int ensure_dir(const char *dir)
{
	char path[1024];
	struct stat st;
	size_t i;

	if (reg_aws_strlcpy(path, dir, sizeof(path)) < 0)
		return -ENAMETOOLONG;
	for (i = 1; path[i]; i++) {
		if (path[i] != '/')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return -errno;
		path[i] = '/';
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	if (st.st_uid == geteuid() && (st.st_mode & 077) && chmod(path, 0700) < 0)
		return -errno;
	return 0;
}

int reg_ecr_cache_store(const char *dir, const struct reg_ecr_host *h, const char *akid,
			const struct reg_ecr_cached *in)
{
	char path[1024], tmp[1100];
	char *text = NULL;
	json_t *root;
	int fd, r;

	r = ensure_dir(dir);
	if (r == 0)
		r = cache_path(dir, h, akid, path, sizeof(path));
	if (r < 0) {
		log_warn("cannot use ECR token cache dir '%s': %s", dir, strerror(-r));
		return r;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	root = json_pack("{s:s, s:I, s:I}", "token", in->token, "requestedAt",
			 (json_int_t)in->requested_at, "expiresAt", (json_int_t)in->expires_at);
	text = root ? json_dumps(root, JSON_COMPACT) : NULL;
	json_decref(root);
	if (!text)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = -errno;
		goto out_free_text;
	}
	r = fchmod(fd, 0600) < 0 ? -errno : fd_write_all(fd, text, strlen(text));
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		log_warn("cannot write ECR token cache '%s': %s", path, strerror(-r));
	}
out_free_text:
	explicit_bzero(text, strlen(text));
	free(text);
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
				    time_t *expires_at)
{
	struct reg_ecr_cached c = { 0 };
	time_t now = time(NULL);
	int r;

	if (!o->cache_dir)
		return reg_ecr_token_with_creds(o, h, cr, basic_token, expires_at);
	r = reg_ecr_cache_load(o->cache_dir, h, cr->access_key_id, &c);
	if (r == 0 && reg_ecr_cached_is_fresh(&c, now)) {
		log_debug("aws: ECR token for '%s' from the cache", h->account);
	} else {
		r = refresh(o, h, cr, &c, now);
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
	}
	reg_ecr_cached_release(&c);
	return r;
}

int reg_ecr_get_token_cached(const struct reg_aws_opts *o, const struct reg_ecr_host *h,
			     char **basic_token, time_t *expires_at)
{
	struct reg_aws_creds *cr;
	int r;

	cr = calloc(1, sizeof(*cr));
	if (!cr)
		return -ENOMEM;
	r = reg_aws_creds_get(o, cr);
	if (r == 0)
		r = reg_ecr_token_cached_with_creds(o, h, cr, basic_token, expires_at);
	reg_aws_creds_wipe(cr);
	free(cr);
	return r;
}

void reg_ecr_cache_drop(const char *dir, const struct reg_ecr_host *h, const char *akid)
{
	char path[1024];

	if (dir && cache_path(dir, h, akid, path, sizeof(path)) == 0)
		unlink(path);
}
