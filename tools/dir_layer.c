/* SPDX-License-Identifier: MIT */
/* One member per path of a walked directory, into a seekable layer. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/log.h"
#include "tools/dir_layer.h"

#define READ_CHUNK (1u << 20)
#define MAX_XATTR_NAMES (64u << 10)

/* What overlayfs's own xattrs say about an upper-dir path. */
enum ovl_mark {
	OVL_OPAQUE = 1 << 0,    /* opaque dir: lower children hidden */
	OVL_WHITEOUT = 1 << 1,  /* an xattr whiteout (a regular file standing for one) */
	OVL_FOREIGN = 1 << 2,   /* redirect or metacopy: the upper dir alone is not the diff */
};

/*
 * The prefix of overlayfs's markers in an upper dir: trusted.overlay.*, or
 * user.overlay.* with userxattr; the kernel ignores the other one. But a
 * user.overlay.* xattr in a trusted-mode upper dir is either the build's
 * own data (a nested rootless overlay) or the marker of an overlay mounted
 * with userxattr and committed without --userxattr: nothing here tells
 * which, and either guess can push a wrong tree, so it is refused.
 */
static const char *overlay_prefix(const struct dir_layer_opts *o)
{
	if (!o->overlay_upper)
		return NULL;
	return o->userxattr ? "user.overlay." : "trusted.overlay.";
}

static bool ambiguous_marker(const char *ovl_prefix, const char *name)
{
	if (!ovl_prefix)
		return false;
	if (strcmp(ovl_prefix, "trusted.overlay.") == 0)
		return strncmp(name, "user.overlay.", 13) == 0;
	/* the other way: stored as data, it would be a marker wherever the layer is unpacked */
	return strncmp(name, "trusted.overlay.", 16) == 0;
}

/*
 * overlayfs's markers are trusted.overlay.* xattrs, which the kernel hides
 * from a process without CAP_SYS_ADMIN: such a process would read opaque
 * dirs as plain ones and push a wrong tree. (With userxattr the markers
 * are user.overlay.*, readable by the overlay's owner.)
 */
static bool can_read_trusted(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2] = { 0 };

	if (syscall(SYS_capget, &h, d) < 0)
		return false;
	return d[CAP_SYS_ADMIN / 32].effective & (1u << (CAP_SYS_ADMIN % 32));
}

bool dir_keep_xattr(const char *name)
{
	/* selinux labels and ACLs describe this host, not the image */
	return strncmp(name, "user.", 5) == 0 || strncmp(name, "trusted.", 8) == 0 ||
	       strcmp(name, "security.capability") == 0;
}

struct xattrs {
	char *names;
	struct idx_xattr *v;  /* as many as the file has names */
	uint8_t **vals;
	uint32_t n;
	unsigned ovl; /* enum ovl_mark */
};

static void xattrs_release(struct xattrs *x)
{
	for (uint32_t i = 0; i < x->n; i++)
		free(x->vals[i]);
	free(x->vals);
	free(x->v);
	free(x->names);
	memset(x, 0, sizeof(*x));
}

/*
 * "opaque" = "y" is an opaque dir; "x" (kernels from 6.7) only says the
 * dir holds xattr whiteouts, which are found on the files themselves.
 */
static void note_overlay(struct xattrs *x, const char *name, const uint8_t *v, ssize_t len)
{
	const char *key = strchr(strchr(name, '.') + 1, '.') + 1;

	if (strcmp(key, "opaque") == 0 && len >= 1 && v[0] == 'y')
		x->ovl |= OVL_OPAQUE;
	else if (strcmp(key, "whiteout") == 0)
		x->ovl |= OVL_WHITEOUT;
	else if (strcmp(key, "redirect") == 0 || strcmp(key, "metacopy") == 0)
		x->ovl |= OVL_FOREIGN;
}

static int read_value(const char *full, const char *name, uint8_t **out, ssize_t *len)
{
	ssize_t vl = lgetxattr(full, name, NULL, 0);

	if (vl < 0 || vl > (ssize_t)IDX_MAX_XATTR_VALUE)
		return vl < 0 ? -errno : -EFBIG;
	*out = malloc((size_t)vl + 1);
	if (!*out)
		return -ENOMEM;
	vl = lgetxattr(full, name, *out, (size_t)vl);
	if (vl < 0) {
		free(*out);
		*out = NULL;
		return -errno;
	}
	*len = vl;
	return 0;
}

/* The xattrs an image keeps, sorted by name (the kernel's order is the filesystem's). */
static int read_xattrs(const char *full, const char *ovl_prefix, struct xattrs *x)
{
	bool overlay = ovl_prefix != NULL;
	size_t names = 0;
	ssize_t len = llistxattr(full, NULL, 0), vl = 0;
	uint8_t *val = NULL;
	int r;

	if (len <= 0)
		return len < 0 && errno != ENOTSUP ? -errno : 0;
	if (len > (ssize_t)MAX_XATTR_NAMES) {
		log_err("cannot store '%s': its xattr names take over %u bytes", full,
			(unsigned)MAX_XATTR_NAMES);
		return -EFBIG;
	}
	x->names = malloc((size_t)len + 1);
	if (!x->names)
		return -ENOMEM;
	len = llistxattr(full, x->names, (size_t)len);
	if (len < 0)
		return -errno;
	x->names[len] = 0;
	for (char *n = x->names; n < x->names + len; n += strlen(n) + 1)
		names++;
	x->v = calloc(names, sizeof(*x->v));
	x->vals = calloc(names, sizeof(*x->vals));
	if (!x->v || !x->vals)
		return -ENOMEM;
	for (char *n = x->names; n < x->names + len; n += strlen(n) + 1) {
		if (!dir_keep_xattr(n))
			continue;
		if (strchr(n, '=')) { /* a pax record would read back as another name */
			log_err("cannot store '%s': its xattr name '%s' holds '=', which no tar "
				"reader can read back", full, n);
			return -EINVAL;
		}
		if (ambiguous_marker(ovl_prefix, n)) {
			log_err("cannot commit '%s': it carries %s, an overlayfs marker if the overlay "
				"was mounted %s, or else data this commit cannot tell from one", full, n,
				n[0] == 'u' ? "with userxattr (then pass --userxattr)"
					    : "without userxattr (then do not pass --userxattr)");
			return -EINVAL;
		}
		r = read_value(full, n, &val, &vl);
		if (r < 0)
			return r;
		if (overlay && strncmp(n, ovl_prefix, strlen(ovl_prefix)) == 0) {
			note_overlay(x, n, val, vl);
			free(val);
			continue;
		}
		if (x->n == IDX_MAX_XATTRS) {
			free(val);
			log_err("cannot store '%s': more than %u xattrs", full, IDX_MAX_XATTRS);
			return -EFBIG;
		}
		x->vals[x->n] = val;
		x->v[x->n] = (struct idx_xattr){ n, val, (uint32_t)vl };
		x->n++;
	}
	for (uint32_t i = 1; i < x->n; i++)
		for (uint32_t j = i; j > 0 && strcmp(x->v[j - 1].name, x->v[j].name) > 0; j--) {
			struct idx_xattr t = x->v[j];

			x->v[j] = x->v[j - 1];
			x->v[j - 1] = t;
		}
	return 0;
}

static int copy_content(struct idx_writer *w, const char *full, const struct stat *st)
{
	uint8_t *buf = malloc(READ_CHUNK);
	uint64_t left = (uint64_t)st->st_size;
	struct stat after;
	ssize_t n;
	int fd, r = 0;

	/* O_NONBLOCK: a FIFO swapped in since the walk must not block the open */
	fd = open(full, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || !buf) {
		r = fd < 0 ? -errno : -ENOMEM;
		log_err("cannot read '%s': %s", full, strerror(-r));
		goto out_free;
	}
	if (fstat(fd, &after) < 0 || !S_ISREG(after.st_mode) || after.st_dev != st->st_dev ||
	    after.st_ino != st->st_ino) {
		log_err("cannot read '%s': it was replaced while the tree was read", full);
		r = -EAGAIN;
		goto out_free;
	}
	while (r == 0 && left) {
		n = read(fd, buf, left < READ_CHUNK ? (size_t)left : READ_CHUNK);
		if (n <= 0) {
			r = n < 0 ? -errno : -EAGAIN;
			log_err("cannot read '%s': %s", full, n < 0 ? strerror(errno) : "it shrank while being read");
			break;
		}
		r = idx_writer_data(w, buf, (size_t)n);
		left -= (uint64_t)n;
	}
	if (r == 0 && (fstat(fd, &after) < 0 || after.st_size != st->st_size ||
		       after.st_mtim.tv_sec != st->st_mtim.tv_sec ||
		       after.st_mtim.tv_nsec != st->st_mtim.tv_nsec || read(fd, buf, 1) != 0)) {
		log_err("cannot read '%s': it changed while being read", full);
		r = -EAGAIN;
	}
out_free:
	if (fd >= 0)
		close(fd);
	free(buf);
	return r;
}

/* The first path of each multiply-linked inode: a small open-addressing table. */
struct links {
	struct { dev_t dev; ino_t ino; const char *path; } *t;
	size_t cap;
};

static const char *link_first(struct links *l, const struct dir_item *it)
{
	size_t h = (size_t)(it->st.st_ino * 0x9E3779B97F4A7C15ull ^ it->st.st_dev) & (l->cap - 1);

	for (;; h = (h + 1) & (l->cap - 1)) {
		if (!l->t[h].path) {
			l->t[h].dev = it->st.st_dev;
			l->t[h].ino = it->st.st_ino;
			l->t[h].path = it->path;
			return NULL;
		}
		if (l->t[h].dev == it->st.st_dev && l->t[h].ino == it->st.st_ino)
			return l->t[h].path;
	}
}

static int entry_of(const struct dir_item *it, struct links *l, char *lbuf, struct idx_entry *e)
{
	mode_t m = it->st.st_mode;
	const char *first;

	*e = (struct idx_entry){ .mode = m & 07777, .uid = it->st.st_uid, .gid = it->st.st_gid,
				 .mtime_sec = it->st.st_mtim.tv_sec,
				 .mtime_nsec = (uint32_t)it->st.st_mtim.tv_nsec, .path = it->path };
	if (!S_ISDIR(m) && it->st.st_nlink > 1 && (first = link_first(l, it))) {
		e->type = IDX_T_HARDLINK;
		e->link = first;
		return 0;
	}
	if (S_ISREG(m)) {
		e->type = IDX_T_REG;
		e->size = (uint64_t)it->st.st_size;
	} else if (S_ISDIR(m)) {
		e->type = IDX_T_DIR;
	} else if (S_ISLNK(m)) {
		e->type = IDX_T_SYMLINK;
		e->link = lbuf;
		return 0; /* target read by the caller, which knows the full path */
	} else if (S_ISCHR(m) || S_ISBLK(m)) {
		e->type = S_ISCHR(m) ? IDX_T_CHR : IDX_T_BLK;
		e->dev_major = major(it->st.st_rdev);
		e->dev_minor = minor(it->st.st_rdev);
	} else if (S_ISFIFO(m)) {
		e->type = IDX_T_FIFO;
	} else {
		return -ENOTSUP;
	}
	return 0;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* overlayfs's classic whiteout: a character device 0/0. */
static bool is_char_whiteout(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

/* Rewrite @e by what overlayfs marked on it; *opaque asks for a marker after it. */
static int apply_overlay(struct idx_entry *e, const struct xattrs *x, const char *full,
			 bool *opaque)
{
	if (x->ovl & OVL_FOREIGN) {
		log_err("cannot commit '%s': it carries an overlayfs redirect or metacopy xattr, "
			"so the upper dir alone does not describe it (mount the overlay with "
			"redirect_dir=off,metacopy=off)", full);
		return -ENOTSUP;
	}
	if (e->type == IDX_T_REG && e->size == 0 && (x->ovl & OVL_WHITEOUT))
		e->type = IDX_T_WHITEOUT;
	*opaque = e->type == IDX_T_DIR && (x->ovl & OVL_OPAQUE) && *e->path;
	if (e->type == IDX_T_WHITEOUT) {
		e->size = 0;
		e->n_xattrs = 0;
	}
	return 0;
}

static int add_member(struct idx_writer *w, const struct dir_layer_opts *o,
		      const struct dir_item *it, struct links *l)
{
	char *full = path_join(o->dir, it->path), lbuf[IDX_MAX_PATH + 1];
	bool opaque = false, whiteout = o->overlay_upper && is_char_whiteout(&it->st);
	struct xattrs x = { 0 };
	struct idx_entry e;
	ssize_t n;
	int r = 0;

	if (!full)
		return -ENOMEM;
	if (strncmp(base_name(it->path), IDX_WH_PREFIX, strlen(IDX_WH_PREFIX)) == 0) {
		log_err("cannot store '%s': a name starting with '.wh.' is an OCI whiteout marker, "
			"every image reader would hide it", full);
		free(full);
		return -EINVAL;
	}
	if (whiteout) /* before hardlinks: overlayfs links its whiteouts to one inode */
		e = (struct idx_entry){ .type = IDX_T_WHITEOUT, .path = it->path,
					.mtime_sec = it->st.st_mtim.tv_sec,
					.mtime_nsec = (uint32_t)it->st.st_mtim.tv_nsec };
	else
		r = entry_of(it, l, lbuf, &e);
	if (r == 0 && e.type == IDX_T_SYMLINK) {
		n = readlink(full, lbuf, sizeof(lbuf));
		r = n < 0 ? -errno : n >= (ssize_t)sizeof(lbuf) ? -ENAMETOOLONG : 0;
		if (r == 0)
			lbuf[n] = 0;
	}
	/* a whiteout's xattrs are overlayfs's business; a hardlink shares its target's */
	if (r == 0 && e.type != IDX_T_HARDLINK && !whiteout)
		r = read_xattrs(full, overlay_prefix(o), &x);
	if (r < 0) {
		if (r != -EINVAL && r != -EFBIG) /* said why already */
			log_err("cannot read '%s': %s", full, strerror(-r));
		goto out_free;
	}
	e.n_xattrs = x.n;
	e.xattrs = x.v;
	if (o->overlay_upper && (r = apply_overlay(&e, &x, full, &opaque)) < 0)
		goto out_free;
	if (e.type == IDX_T_REG && o->lower && dir_lower_same(o->lower, it, full, x.v, x.n))
		goto out_free; /* a copy-up that changed nothing */
	if (opaque && o->lower)
		dir_lower_opaque(o->lower, e.path);
	r = idx_writer_add(w, &e);
	if (r == 0 && opaque) {
		struct idx_entry oe = { .type = IDX_T_OPAQUE, .path = e.path,
					.mtime_sec = e.mtime_sec, .mtime_nsec = e.mtime_nsec };

		r = idx_writer_add(w, &oe);
	}
	if (r < 0)
		log_err("cannot add '%s' to the layer: %s", full, strerror(-r));
	else if (e.type == IDX_T_REG && e.size)
		r = copy_content(w, full, &it->st);
out_free:
	xattrs_release(&x);
	free(full);
	return r;
}

/*
 * The span size when none was given. A tree of mostly small files (more
 * than half of its regular files under 64 KiB: a package or compiler
 * cache, a source tree) is read a file at a time, and a small file read
 * alone costs its whole span: 256 KiB spans. A build reading 84 packages
 * of a 1 GB npm cache fetched 38 MB with 1 MiB spans and 11 MB with 256
 * KiB, for 1.4 % more gzip on text (0 on the cache's tarballs). Else the
 * writer's default (1 MiB). Sequential reads are as fast with either:
 * readahead counts bytes.
 */
#define DIR_SMALL_FILE (64u << 10)
#define DIR_SMALL_FILE_SPAN (256u << 10)
static uint64_t span_for(const struct dir_walk *wk)
{
	size_t files = 0, small = 0;

	for (size_t i = 0; i < wk->n; i++) {
		if (!S_ISREG(wk->v[i].st.st_mode))
			continue;
		files++;
		small += wk->v[i].st.st_size < DIR_SMALL_FILE;
	}
	return files && small * 2 > files ? DIR_SMALL_FILE_SPAN : 0;
}

int dir_layer_build(const struct dir_layer_opts *o, int *fd, struct idx_layer **out)
{
	struct dir_walk wk = { 0 };
	struct links l = { 0 };
	struct idx_writer *w = NULL;
	struct idx_writer_opts wo = o->wo;
	int r;

	*fd = -1;
	if (o->overlay_upper && !o->userxattr && !can_read_trusted()) {
		log_err("cannot read the overlay markers in '%s': trusted.overlay.* xattrs need "
			"CAP_SYS_ADMIN (run as root), or mount the overlay with userxattr and "
			"pass --userxattr", o->dir);
		return -EPERM;
	}
	r = dir_walk(&wk, o->dir);
	if (r < 0)
		goto out_release;
	for (l.cap = 64; l.cap < 2 * wk.n; l.cap *= 2)
		;
	l.t = calloc(l.cap, sizeof(*l.t));
	*fd = tmp_file();
	if (!l.t || *fd < 0) {
		r = !l.t ? -ENOMEM : *fd;
		goto out_release;
	}
	if (!wo.span_size)
		wo.span_size = span_for(&wk);
	r = idx_writer_new(&wo, sink_fd, fd, &w);
	for (size_t i = 0; r == 0 && i < wk.n; i++)
		r = add_member(w, o, &wk.v[i], &l);
	if (r == 0)
		r = idx_writer_finish(w, out);
	if (r < 0)
		log_err("cannot build the layer of '%s': %s", o->dir, strerror(-r));
	idx_writer_free(w);
out_release:
	free(l.t);
	dir_walk_release(&wk);
	return r;
}
