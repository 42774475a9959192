/* SPDX-License-Identifier: MIT */
/*
 * safedir: a private dir is accepted (and created 0700); group/other
 * writable dirs, dirs of another uid, symlinks (as the dir or on the way)
 * and non-sticky open parents are refused with a reason; a sticky parent
 * owned by root (/tmp) is fine. Runs as root (chown to nobody).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/safedir.h"
#include "tap.h"

#define NOBODY 65534

static char base[256];

static const char *at(const char *rel)
{
	static char p[4][512];
	static int k;

	k = (k + 1) % 4;
	snprintf(p[k], sizeof(p[k]), "%s/%s", base, rel);
	return p[k];
}

static void mkdir_mode(const char *rel, mode_t mode)
{
	mkdir(at(rel), 0700);
	chmod(at(rel), mode);
}

static bool exists(const char *rel)
{
	struct stat st;

	return lstat(at(rel), &st) == 0;
}

/* safedir_open(@rel) fails with @want and a reason containing @because. */
static void refused(const char *rel, int flags, int want, const char *because)
{
	char why[SAFEDIR_WHY_MAX] = "";
	int fd = safedir_open(at(rel), flags, why);

	is_int(fd, want, "'%s' refused", rel);
	ok(strstr(why, because) != NULL, "... because \"%s\" (%s)", because, why);
	if (fd >= 0)
		close(fd);
}

static void accepted(const char *rel, int flags)
{
	char why[SAFEDIR_WHY_MAX] = "";
	int fd = safedir_open(at(rel), flags, why);

	ok(fd >= 0, "'%s' accepted%s%s", rel, fd < 0 ? ": " : "", fd < 0 ? why : "");
	if (fd >= 0)
		close(fd);
}

static void test_good(void)
{
	struct stat st;

	accepted("new/deeper", SAFEDIR_CREATE);
	ok(stat(at("new"), &st) == 0 && (st.st_mode & 07777) == 0700, "created ancestor is 0700");
	ok(stat(at("new/deeper"), &st) == 0 && (st.st_mode & 07777) == 0700, "created dir is 0700");
	mkdir_mode("ro", 0755);
	accepted("ro", 0);
}

static void test_modes(void)
{
	mkdir_mode("gw", 0770);
	refused("gw", 0, -EPERM, "writable by group or others");
	mkdir_mode("ow", 0702);
	refused("ow", 0, -EPERM, "writable by group or others");
	refused("gw/sub", SAFEDIR_CREATE, -EPERM, "not sticky");
	ok(!exists("gw/sub"), "nothing created under a refused parent");
	refused("missing", 0, -ENOENT, "cannot open");
	close(open(at("file"), O_CREAT | O_WRONLY, 0600));
	refused("file", 0, -ENOTDIR, "not a directory");
}

static void test_owner(void)
{
	mkdir_mode("theirs", 0700);
	is_int(chown(at("theirs"), NOBODY, NOBODY), 0, "chown to nobody");
	refused("theirs", 0, -EPERM, "owned by uid 65534, not by us");
	mkdir_mode("theirs2", 0755);
	chown(at("theirs2"), NOBODY, NOBODY);
	mkdir_mode("theirs2/mine", 0700);
	refused("theirs2/mine", 0, -EPERM, "neither root nor us");
	/* a sticky dir of another user: they may rename what we put there */
	mkdir_mode("tmp_theirs", 01777);
	chown(at("tmp_theirs"), NOBODY, NOBODY);
	refused("tmp_theirs/c", SAFEDIR_CREATE, -EPERM, "neither root nor us");
}

static void test_sticky(void)
{
	struct stat st;

	mkdir_mode("tmp", 01777);
	accepted("tmp/c", SAFEDIR_CREATE);
	ok(stat(at("tmp/c"), &st) == 0 && (st.st_mode & 07777) == 0700, "created 0700 in a sticky dir");
	mkdir_mode("tmp/c2", 0700);
	chown(at("tmp/c2"), NOBODY, NOBODY);
	refused("tmp/c2", 0, -EPERM, "owned by uid 65534");
}

static void test_symlinks(void)
{
	mkdir_mode("real", 0700);
	mkdir_mode("real/c", 0700);
	symlink(at("real"), at("link"));
	symlink(at("real/c"), at("clink"));
	refused("clink", 0, -ELOOP, "is a symlink");
	refused("link/c", 0, -ELOOP, "is a symlink");
	refused("link/new", SAFEDIR_CREATE, -ELOOP, "is a symlink");
	ok(!exists("real/new"), "nothing created through a symlinked component");
	refused("dangling", 0, -ENOENT, "cannot open");
	symlink(at("nowhere"), at("dangling"));
	refused("dangling", SAFEDIR_CREATE, -ELOOP, "is a symlink");
	ok(!exists("nowhere"), "a dangling symlink's target is not created");
}

static void test_openat(void)
{
	char why[SAFEDIR_WHY_MAX] = "";
	int dfd = safedir_open(at("real"), 0, why), fd;

	ok(dfd >= 0, "open 'real'");
	fd = safedir_openat(dfd, "c", "real/c", 0, why);
	ok(fd >= 0, "openat a good child");
	close(fd);
	fd = safedir_openat(dfd, "sub", "real/sub", SAFEDIR_CREATE, why);
	ok(fd >= 0 && exists("real/sub"), "openat creates a child");
	close(fd);
	symlink(at("real/c"), at("real/l"));
	is_int(safedir_openat(dfd, "l", "real/l", 0, why), -ELOOP, "openat refuses a symlink");
	ok(strstr(why, "'real/l' is a symlink") != NULL, "... naming it (%s)", why);
	mkdir_mode("real/gw", 0775);
	is_int(safedir_openat(dfd, "gw", "real/gw", 0, why), -EPERM, "openat refuses 0775");
	is_int(safedir_openat(dfd, "c/x", "real/c/x", 0, why), -EINVAL, "openat: one component");
	is_int(safedir_openat(dfd, "..", "real/..", 0, why), -EINVAL, "openat: not '..'");
	close(dfd);
}

static void test_paths(void)
{
	char why[SAFEDIR_WHY_MAX] = "";
	char cwd[512];
	int fd;

	is_int(safedir_open(at("ro/../ro"), 0, why), -EINVAL, "'..' refused");
	is_int(safedir_open("/", 0, why), -EINVAL, "'/' refused");
	getcwd(cwd, sizeof(cwd));
	chdir(base);
	fd = safedir_open("./ro//", 0, why);
	ok(fd >= 0, "relative path from the cwd (%s)", fd < 0 ? why : "ok");
	if (fd >= 0)
		close(fd);
	is_int(safedir_open("gw", 0, why), -EPERM, "relative path checked too");
	chdir(cwd);
}

int main(void)
{
	char cmd[300];

	snprintf(base, sizeof(base), "/tmp/test_common_safedir.XXXXXX");
	if (!mkdtemp(base))
		return 1;
	is_int(geteuid(), 0, "runs as root (chown to nobody)");
	test_good();
	test_modes();
	test_owner();
	test_sticky();
	test_symlinks();
	test_openat();
	test_paths();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
	system(cmd);
	return tap_done();
}
