/* SPDX-License-Identifier: MIT */
/* The sorted, lstat-only list of every path under a directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fdio.h"
#include "common/dbuf.h"
#include "common/log.h"
#include "common/xarray.h"
#include "tools/dir_layer.h"

char *path_join(const char *a, const char *b)
{
	struct dbuf d;

	dbuf_init(&d, 2 * IDX_MAX_PATH + 2);
	if (dbuf_printf(&d, "%s%s%s", a, *a && *b ? "/" : "", b) < 0) {
		dbuf_release(&d);
		return NULL;
	}
	return dbuf_take(&d, NULL);
}

int sink_fd(void *ctx, const void *buf, size_t n)
{
	return fd_write_all(*(int *)ctx, buf, n);
}

int tmp_file(void)
{
	const char *d = getenv("TMPDIR");
	char *path = path_join(d && *d ? d : "/tmp", "strata-XXXXXX");
	int fd = path ? mkostemp(path, O_CLOEXEC) : -1;

	if (fd < 0) {
		log_err("cannot create a temporary file in '%s': %s", d && *d ? d : "/tmp",
			strerror(errno));
		free(path);
		return -EIO;
	}
	unlink(path); /* nothing left behind, whatever happens */
	free(path);
	return fd;
}

static int add_item(struct dir_walk *w, char *path, const struct stat *st)
{
	if (xarray_grow_size((void **)&w->v, &w->cap, w->n, sizeof(*w->v), 256, SIZE_MAX) < 0)
		return -ENOMEM;
	w->v[w->n].path = path;
	w->v[w->n].st = *st;
	w->n++;
	return 0;
}

static int walk_dir(struct dir_walk *w, const char *rel)
{
	char *full = path_join(w->root, rel);
	struct dirent *de;
	struct stat st;
	DIR *d;
	int r = 0;

	d = full ? opendir(full) : NULL;
	if (!d) {
		r = full ? -errno : -ENOMEM;
		log_err("cannot read directory '%s': %s", full ? full : rel, strerror(-r));
		free(full);
		return r;
	}
	while (r == 0 && (errno = 0, de = readdir(d))) {
		char *child, *cfull;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		child = path_join(rel, de->d_name);
		cfull = child ? path_join(w->root, child) : NULL;
		if (!cfull || strlen(child) > IDX_MAX_PATH) {
			r = cfull ? -ENAMETOOLONG : -ENOMEM;
			log_err("cannot store '%s': %s", child ? child : de->d_name, strerror(-r));
		} else if (lstat(cfull, &st) < 0) {
			r = -errno;
			log_err("cannot stat '%s': %s", cfull, strerror(errno));
		} else if (S_ISSOCK(st.st_mode)) {
			log_warn("skipping socket '%s'", cfull);
		} else {
			r = add_item(w, child, &st);
			child = r == 0 ? NULL : child;
			if (r == 0 && S_ISDIR(st.st_mode))
				r = walk_dir(w, w->v[w->n - 1].path);
		}
		free(child);
		free(cfull);
	}
	if (r == 0 && errno) {
		r = -errno;
		log_err("cannot read directory '%s': %s", full, strerror(errno));
	}
	closedir(d);
	free(full);
	return r;
}

static int cmp_item(const void *a, const void *b)
{
	return strcmp(((const struct dir_item *)a)->path, ((const struct dir_item *)b)->path);
}

int dir_walk(struct dir_walk *w, const char *root)
{
	struct stat st;
	char *p = strdup("");
	int r;

	w->root = root;
	if (!p)
		return -ENOMEM;
	if (lstat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_err("cannot read '%s': not a directory", root);
		free(p);
		return -ENOTDIR;
	}
	r = add_item(w, p, &st);
	if (r < 0) {
		free(p);
		return r;
	}
	r = walk_dir(w, "");
	if (r == 0)
		qsort(w->v, w->n, sizeof(*w->v), cmp_item);
	return r;
}

void dir_walk_release(struct dir_walk *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i].path);
	free(w->v);
	memset(w, 0, sizeof(*w));
}
