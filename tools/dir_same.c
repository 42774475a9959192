/* SPDX-License-Identifier: MIT */
/*
 * Copy-ups that changed nothing (strata commit over a --base mount).
 *
 * overlayfs copies a lower file up whole as soon as it is opened for
 * writing or its metadata changes: ccache rewrites its stats files and
 * touches every hit, npm rewrites its index files with the same bytes.
 * Such a file is left out of the layer when the mounted lower tree shows,
 * at the same path, a regular file with the same size, mode, owner, kept
 * xattrs and bytes: the merged tree of the base plus the new layer is then
 * the same as with it, except for its timestamps. Its mtime and atime are
 * the one thing dropped (documented in README, "Build caches"): a layer
 * cannot say "only the mtime changed" (a tar member is the whole file), and
 * paying a full upload per touched file is what made commits cost the whole
 * cache; tools that look at mtimes only see an older one, which makes make
 * rebuild, never skip.
 *
 * The lower file is opened beneath the lower root, never through a
 * symlink (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): a path whose
 * ancestor is a symlink in the lower tree is not the same path. Paths
 * under an opaque dir of the upper dir (the lower's children are hidden
 * there) and files with several links are always kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/log.h"
#include "tools/dir_layer.h"

#define CMP_CHUNK (1u << 20)
#define MAX_OPAQUE 4096u
#define XATTR_LIST_MAX_LEN (64u << 10)

int dir_lower_open(const char *path, struct dir_lower *lw)
{
	memset(lw, 0, sizeof(*lw));
	lw->fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (lw->fd < 0) {
		int r = -errno;

		log_err("cannot open the lower dir '%s': %s", path, strerror(-r));
		return r;
	}
	return 0;
}

void dir_lower_close(struct dir_lower *lw)
{
	if (lw->fd >= 0)
		close(lw->fd);
	for (size_t i = 0; i < lw->n_opaque; i++)
		free(lw->opaque[i]);
	free(lw->opaque);
	memset(lw, 0, sizeof(*lw));
	lw->fd = -1;
}

void dir_lower_opaque(struct dir_lower *lw, const char *path)
{
	char **v;

	if (lw->fd < 0 || lw->too_many_opaque)
		return;
	if (lw->n_opaque == MAX_OPAQUE ||
	    !(v = realloc(lw->opaque, (lw->n_opaque + 1) * sizeof(*v))) ||
	    !(v[lw->n_opaque] = strdup(path))) {
		lw->too_many_opaque = true; /* then nothing is compared: every copy-up is kept */
		if (lw->n_opaque < MAX_OPAQUE && v)
			lw->opaque = v;
		return;
	}
	lw->opaque = v;
	lw->n_opaque++;
}

static bool under_opaque(const struct dir_lower *lw, const char *path)
{
	for (size_t i = 0; i < lw->n_opaque; i++) {
		size_t n = strlen(lw->opaque[i]);

		if (strncmp(path, lw->opaque[i], n) == 0 && path[n] == '/')
			return true;
	}
	return false;
}

static int open_lower(const struct dir_lower *lw, const char *rel)
{
	struct open_how how = {
		.flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
			   RESOLVE_NO_XDEV,
	};

	return (int)syscall(SYS_openat2, lw->fd, rel, &how, sizeof(how));
}

/* The lower file's kept xattrs are exactly @x[0..n). */
static bool same_xattrs(int fd, const struct idx_xattr *x, uint32_t n)
{
	char names[XATTR_LIST_MAX_LEN];
	uint8_t *val = NULL;
	ssize_t len = flistxattr(fd, names, sizeof(names));
	uint32_t kept = 0;
	bool same = len >= 0 || errno == ENOTSUP;

	for (char *p = names; same && len > 0 && p < names + len; p += strlen(p) + 1)
		kept += dir_keep_xattr(p);
	same = same && kept == n;
	for (uint32_t i = 0; same && i < n; i++) {
		ssize_t vl = fgetxattr(fd, x[i].name, NULL, 0);

		same = vl == (ssize_t)x[i].len && (val = realloc(val, (size_t)vl + 1)) &&
		       fgetxattr(fd, x[i].name, val, (size_t)vl) == vl &&
		       memcmp(val, x[i].value, (size_t)vl) == 0;
	}
	free(val);
	return same;
}

/* Both files hold the same @size bytes (short reads of a FUSE file are retried). */
static bool same_bytes(int a, int b, uint64_t size)
{
	uint8_t *ba = malloc(CMP_CHUNK), *bb = malloc(CMP_CHUNK);
	bool same = ba && bb;
	uint64_t off = 0;

	while (same && off < size) {
		size_t want = size - off < CMP_CHUNK ? (size_t)(size - off) : CMP_CHUNK;
		ssize_t na = pread(a, ba, want, (off_t)off), nb = pread(b, bb, want, (off_t)off);

		same = na > 0 && na == nb && memcmp(ba, bb, (size_t)na) == 0;
		off += same ? (uint64_t)na : 0;
	}
	free(ba);
	free(bb);
	return same;
}

bool dir_lower_same(struct dir_lower *lw, const struct dir_item *it, const char *full,
		    const struct idx_xattr *x, uint32_t n_xattrs)
{
	const struct stat *u = &it->st;
	struct stat l, u2;
	int lfd = -1, ufd = -1;
	bool same = false;

	if (!lw || lw->fd < 0 || lw->too_many_opaque || !S_ISREG(u->st_mode) || u->st_nlink > 1 ||
	    !*it->path || under_opaque(lw, it->path))
		return false;
	lfd = open_lower(lw, it->path);
	if (lfd < 0 || fstat(lfd, &l) < 0 || !S_ISREG(l.st_mode) || l.st_size != u->st_size ||
	    (l.st_mode & 07777) != (u->st_mode & 07777) || l.st_uid != u->st_uid ||
	    l.st_gid != u->st_gid || !same_xattrs(lfd, x, n_xattrs))
		goto out_close;
	ufd = open(full, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (ufd < 0 || fstat(ufd, &u2) < 0 || u2.st_dev != u->st_dev || u2.st_ino != u->st_ino ||
	    u2.st_size != u->st_size)
		goto out_close;
	same = same_bytes(ufd, lfd, (uint64_t)u->st_size);
	if (same) {
		lw->files++;
		lw->bytes += (uint64_t)u->st_size;
		log_debug("'%s' equals the lower file: left out of the layer", it->path);
	}
out_close:
	if (lfd >= 0)
		close(lfd);
	if (ufd >= 0)
		close(ufd);
	return same;
}
