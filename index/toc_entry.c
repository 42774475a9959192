/* SPDX-License-Identifier: MIT */
/*
 * The entries of a foreign TOC, made into what the tar reader would have
 * reported for the same member: the same path normalisation, the same
 * whiteout names, the same members skipped, and only the fields a member
 * of that type has. Then the TOC and the tar agree entry for entry (the
 * whole-layer check compares them), and the tree merge sees no difference.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "index/build_ent.h"
#include "index/tar_int.h"
#include "index/toc_build.h"

#define BADE(...)                                          \
	do {                                               \
		log_err("cannot read TOC: " __VA_ARGS__);  \
		return -EBADMSG;                           \
	} while (0)

static int norm(const char *what, const char *in, char out[IDX_MAX_PATH + 1])
{
	int r = in ? idx_tar_path_normalise(in, strlen(in), out, IDX_MAX_PATH + 1) : -EBADMSG;

	if (r == -EFBIG)
		log_err("cannot read TOC: %s '%.200s...' is longer than %d bytes", what, in,
			IDX_MAX_PATH);
	else if (r < 0)
		log_err("cannot read TOC: bad %s", what);
	return r;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Each name once: getxattr() serves one value per name, and so compares the TOC with the tar. */
static int check_xattrs(const struct idx_entry *e)
{
	const char *names[TAR_MAX_XATTRS];

	if (e->n_xattrs > TAR_MAX_XATTRS)
		BADE("'%s' has %u xattrs (at most %u)", e->path, e->n_xattrs, TAR_MAX_XATTRS);
	for (uint32_t i = 0; i < e->n_xattrs; i++) {
		const struct idx_xattr *x = &e->xattrs[i];

		if (!x->name || !x->name[0] || strlen(x->name) > IDX_MAX_PATH ||
		    x->len > IDX_MAX_XATTR_VALUE || (x->len && !x->value))
			BADE("'%s' has a bad xattr", e->path);
		names[i] = x->name;
	}
	if (e->n_xattrs > 1)
		qsort(names, e->n_xattrs, sizeof(names[0]), name_cmp);
	for (uint32_t i = 1; i < e->n_xattrs; i++)
		if (strcmp(names[i - 1], names[i]) == 0)
			BADE("'%s' has xattr '%s' twice", e->path, names[i]);
	return 0;
}

/* Sparse extents packed from data_off on; a file with no hole is a plain one. */
static int sparse_of(const struct idx_entry *e, struct tar_entry *t)
{
	uint64_t tar = e->data_off;

	if (!e->sparse)
		return 0;
	if (e->n_extents && !e->extents)
		return -EINVAL;
	if (e->n_extents > TAR_MAX_EXTENTS)
		BADE("'%s' has %u extents (at most %u)", e->path, e->n_extents, TAR_MAX_EXTENTS);
	for (uint32_t i = 0; i < e->n_extents; i++) {
		if (e->extents[i].tar_off != tar)
			BADE("'%s': extent %u is not packed after the previous one", e->path, i);
		tar += e->extents[i].len;
	}
	if (e->size == 0 || (e->n_extents == 1 && e->extents[0].off == 0 &&
			     e->extents[0].len == e->size))
		return 0;
	t->sparse = true;
	t->n_extents = e->n_extents;
	t->extents = e->extents;
	return 0;
}

int idx_tocb_entry(struct tocb *b, const struct idx_entry *e)
{
	char path[IDX_MAX_PATH + 1], link[IDX_MAX_PATH + 1];
	struct tar_entry t = { 0 };
	int r;

	if (!b || !e || e->type > IDX_T_OPAQUE)
		return -EINVAL;
	r = norm("path", e->path, path);
	if (r < 0)
		return r;
	t.type = (enum idx_type)e->type;
	if (t.type != IDX_T_WHITEOUT && t.type != IDX_T_OPAQUE) {
		r = idx_tar_whiteout_map(path, &t.type);
		if (r != 0)
			return r < 0 ? r : 0;
	}
	/* As the tar reader: what lands on the root is ignored unless it is a dir. */
	if (!path[0] && t.type != IDX_T_DIR && t.type != IDX_T_OPAQUE) {
		log_warn("ignoring TOC entry '%s': it names the root", e->path);
		return 0;
	}
	if (t.type == IDX_T_HARDLINK) {
		r = norm("hardlink target", e->link, link);
		if (r == 0)
			BADE("hardlink '%s' has an empty target", path);
		if (r < 0)
			return r;
		t.link = link;
	} else if (t.type == IDX_T_SYMLINK) {
		if (!e->link || strlen(e->link) > IDX_MAX_PATH)
			BADE("symlink '%s' has no target or a too long one", path);
		t.link = e->link;
	}
	if (e->mtime_nsec >= 1000000000u)
		BADE("'%s' has a bad mtime", path);
	r = check_xattrs(e);
	if (r < 0)
		return r;
	t.path = path;
	t.mode = e->mode & 07777;
	t.uid = e->uid;
	t.gid = e->gid;
	t.mtime_sec = e->mtime_sec;
	t.mtime_nsec = e->mtime_nsec;
	if (t.type == IDX_T_CHR || t.type == IDX_T_BLK) {
		t.dev_major = e->dev_major;
		t.dev_minor = e->dev_minor;
	}
	t.n_xattrs = e->n_xattrs;
	t.xattrs = e->xattrs;
	if (t.type == IDX_T_REG) {
		t.size = e->size;
		t.data_off = e->data_off;
		r = sparse_of(e, &t);
		if (r < 0)
			return r;
	}
	return idx_build_entries_add(&b->be, &t);
}
