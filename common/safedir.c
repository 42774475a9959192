/* SPDX-License-Identifier: MIT */
/*
 * "This directory is ours" (the rule is in common/safedir.h). The walk
 * holds an fd on each checked directory and opens the next component
 * relative to it with O_NOFOLLOW, so a component renamed or swapped for a
 * symlink after its check cannot redirect the walk. Ancestors are opened
 * O_PATH: checking them needs search permission only, not read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fdio.h"
#include "common/safedir.h"

#define SAFEDIR_PATH_MAX 4096

__attribute__((format(printf, 3, 4))) static int say(char *why, int r, const char *fmt, ...)
{
	va_list ap;

	if (why) {
		va_start(ap, fmt);
		vsnprintf(why, SAFEDIR_WHY_MAX, fmt, ap);
		va_end(ap);
	}
	return r;
}

/* The directory itself: ours, writable by us only. */
static int check_leaf(const struct stat *st, const char *shown, char *why)
{
	if (st->st_uid != geteuid())
		return say(why, -EPERM, "'%s' is owned by uid %u, not by us (uid %u)", shown,
			   (unsigned)st->st_uid, (unsigned)geteuid());
	if (st->st_mode & (S_IWGRP | S_IWOTH))
		return say(why, -EPERM, "'%s' is writable by group or others (mode %04o)", shown,
			   (unsigned)(st->st_mode & 07777));
	return 0;
}

/* A directory on the way: root's or ours, writable by others only if sticky. */
static int check_ancestor(const struct stat *st, const char *shown, char *why)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return say(why, -EPERM, "'%s' is owned by uid %u, neither root nor us (uid %u)",
			   shown, (unsigned)st->st_uid, (unsigned)geteuid());
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX))
		return say(why, -EPERM, "'%s' is writable by group or others and not sticky (mode %04o)",
			   shown, (unsigned)(st->st_mode & 07777));
	return 0;
}

static int check(int fd, const char *shown, bool leaf, char *why)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return say(why, -errno, "cannot stat '%s': %s", shown, strerror(errno));
	if (S_ISLNK(st.st_mode)) /* O_PATH|O_NOFOLLOW may open the link itself */
		return say(why, -ELOOP, "'%s' is a symlink", shown);
	if (!S_ISDIR(st.st_mode))
		return say(why, -ENOTDIR, "'%s' is not a directory", shown);
	return leaf ? check_leaf(&st, shown, why) : check_ancestor(&st, shown, why);
}

/* Open and check the component @name of @dirfd, creating it 0700 when asked. */
static int open_one(int dirfd, const char *name, const char *shown, int flags, bool leaf,
		    char *why)
{
	struct stat st;
	int fd, r;

	fd = dir_open_at(dirfd, name, leaf ? O_RDONLY : O_PATH, flags & SAFEDIR_CREATE);
	if (fd < 0) {
		r = fd;
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
			return say(why, -ELOOP, "'%s' is a symlink", shown);
		if (r == -ENOTDIR)
			return say(why, r, "'%s' is not a directory", shown);
		return say(why, r, "cannot open '%s': %s", shown, strerror(-r));
	}
	r = check(fd, shown, leaf, why);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

/* @path made absolute (from getcwd()) into @out, "." and repeated '/' dropped. */
static int absolute(const char *path, char *out, char *why)
{
	char cwd[SAFEDIR_PATH_MAX];
	const char *s = path, *e;
	size_t n = 0, len;

	if (path[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return say(why, -errno, "cannot resolve '%s': %s", path, strerror(errno));
	if (path[0] != '/')
		n = (size_t)snprintf(out, SAFEDIR_PATH_MAX, "%s", strcmp(cwd, "/") ? cwd : "");
	for (; *s; s = e) {
		while (*s == '/')
			s++;
		e = s + strcspn(s, "/");
		len = (size_t)(e - s);
		if (len == 0 || (len == 1 && s[0] == '.'))
			continue;
		if (len == 2 && s[0] == '.' && s[1] == '.')
			return say(why, -EINVAL, "'%s' has a '..' component", path);
		if (n + 1 + len >= SAFEDIR_PATH_MAX)
			return say(why, -ENAMETOOLONG, "'%s' is too long", path);
		out[n++] = '/';
		memcpy(out + n, s, len);
		n += len;
	}
	out[n] = '\0';
	if (n == 0)
		return say(why, -EINVAL, "'/' cannot be a private directory");
	return 0;
}

int safedir_open(const char *path, int flags, char *why)
{
	char p[SAFEDIR_PATH_MAX], *name, *end;
	int fd, next, r;

	r = absolute(path, p, why);
	if (r < 0)
		return r;
	fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return say(why, -errno, "cannot open '/': %s", strerror(errno));
	r = check(fd, "/", false, why);
	for (name = p + 1; r == 0 && *name; name = end ? end + 1 : name + strlen(name)) {
		end = strchr(name, '/');
		if (end)
			*end = '\0'; /* p is now the path up to this component */
		next = open_one(fd, name, p, flags, !end, why);
		if (end)
			*end = '/';
		close(fd);
		fd = next;
		r = next < 0 ? next : 0;
	}
	if (r < 0) {
		if (fd >= 0)
			close(fd);
		return r;
	}
	return fd;
}

int safedir_openat(int dirfd, const char *name, const char *shown, int flags, char *why)
{
	if (!name[0] || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return say(why, -EINVAL, "'%s' is not one path component", shown);
	return open_one(dirfd, name, shown, flags, true, why);
}
