/* SPDX-License-Identifier: MIT */
/*
 * tools/extract_write.c: names are made relative to directory fds and
 * never through a symlink, whatever DEST already holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "tools/extract_write.h"

static char top[256], dest[300], victim[300];

/* Entries in the victim dir (0: the attack failed). */
static int victim_count(void)
{
	char cmd[400];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", victim);
	p = popen(cmd, "r");
	if (p && fscanf(p, "%d", &n) != 1)
		n = -1;
	if (p)
		pclose(p);
	return n;
}

static bool is_type(int dir, const char *name, mode_t type)
{
	struct stat st;

	return fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & S_IFMT) == type;
}

static void test_names(void)
{
	static const struct {
		const char *name;
		bool ok;
	} cases[] = {
		{ "a", true }, { ".a", true }, { "...", true }, { "", false },
		{ ".", false }, { "..", false }, { "a/b", false }, { "/", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ok(xw_name_ok(cases[i].name) == cases[i].ok, "name '%s' is %s", cases[i].name,
		   cases[i].ok ? "valid" : "refused");
}

static void test_over_symlinks(struct xw *w)
{
	struct idx_entry e = { .type = IDX_T_SYMLINK, .link = "target" };
	int fd = -1, sub = -1;

	/* names in DEST that point at the victim, as an earlier extraction may leave */
	ok(symlinkat(victim, w->root_fd, "d") == 0 && symlinkat(victim, w->root_fd, "f") == 0 &&
		   symlinkat(victim, w->root_fd, "s") == 0,
	   "symlinks to the victim planted in DEST");
	is_int(xw_dir(w->root_fd, "d", &sub), 0, "xw_dir over a symlink");
	ok(is_type(w->root_fd, "d", S_IFDIR), "... is a real directory now");
	is_int(xw_file(sub, "x", &fd), 0, "a file inside it");
	if (fd >= 0)
		close(fd);
	fd = -1;
	is_int(xw_file(w->root_fd, "f", &fd), 0, "xw_file over a symlink");
	ok(fd >= 0 && write(fd, "pwned", 5) == 5, "... written");
	ok(is_type(w->root_fd, "f", S_IFREG), "... is a regular file now");
	if (fd >= 0)
		close(fd);
	is_int(xw_special(w, w->root_fd, "s", IDX_T_SYMLINK, &e), 0, "xw_special over a symlink");
	ok(is_type(w->root_fd, "s", S_IFLNK), "... is the image's symlink");
	is_int(victim_count(), 0, "nothing reached the victim dir");
	if (sub >= 0)
		close(sub);
}

static void test_hardlinks(struct xw *w)
{
	int fd = -1;

	ok(symlinkat(victim, w->root_fd, "via") == 0, "a symlink 'via' to the victim");
	ok(xw_file(w->root_fd, "t", &fd) == 0, "a file 't'");
	if (fd >= 0)
		close(fd);
	is_int(xw_hardlink(w, "t", w->root_fd, "h"), 0, "hardlink 'h' to 't'");
	ok(xw_hardlink(w, "via/t", w->root_fd, "h2") < 0, "a hardlink whose target path crosses a symlink fails");
	ok(xw_hardlink(w, "../t", w->root_fd, "h3") == -EINVAL, "... and one through '..'");
	is_int(victim_count(), 0, "nothing reached the victim dir");
}

static void test_dir_over_file(struct xw *w)
{
	int fd = -1, sub = -1;

	ok(xw_file(w->root_fd, "df", &fd) == 0, "a file 'df'");
	if (fd >= 0)
		close(fd);
	is_int(xw_dir(w->root_fd, "df", &sub), 0, "xw_dir over a file replaces it");
	ok(is_type(w->root_fd, "df", S_IFDIR), "... by a directory");
	if (sub >= 0)
		close(sub);
	is_int(xw_file(w->root_fd, "df", &fd), 0, "xw_file over an empty directory replaces it");
	if (fd >= 0)
		close(fd);
}

static void cleanup(void)
{
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (system(cmd) != 0)
		fprintf(stderr, "# cannot remove '%s'\n", top);
}

int main(void)
{
	struct xw w = { .root_fd = -1, .as_root = geteuid() == 0 };

	snprintf(top, sizeof(top), "/tmp/test-extract-write.XXXXXX");
	if (!mkdtemp(top))
		return 1;
	snprintf(dest, sizeof(dest), "%s/dest", top);
	snprintf(victim, sizeof(victim), "%s/victim", top);
	mkdir(dest, 0755);
	mkdir(victim, 0755);
	w.root_fd = open(dest, O_RDONLY | O_DIRECTORY);
	test_names();
	test_over_symlinks(&w);
	test_hardlinks(&w);
	test_dir_over_file(&w);
	close(w.root_fd);
	cleanup();
	return tap_done();
}
