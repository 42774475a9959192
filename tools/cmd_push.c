/* SPDX-License-Identifier: MIT */
/*
 * strata push DIR REF: DIR as one new seekable layer (on --base's layers),
 * its image config and manifest, and the stratafs index artifact.
 *
 * The walk is deterministic: every path under DIR sorted by its bytes
 * (parents come first as prefixes), lstat only, symlinks stored and never
 * followed, hardlinks found by (st_dev, st_ino), sockets skipped. The layer
 * is compressed into an unlinked temporary file in $TMPDIR (its digest is
 * known only at the end), then uploaded. Objects go up in dependency
 * order and the image manifest LAST, so a failed push never leaves the tag
 * naming missing blobs. The index artifact's subject is the manifest's
 * digest, known before the manifest is pushed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#include "common/log.h"
#include "common/dbuf.h"
#include "index/index.h"
#include "registry/registry.h"
#include "tools/cli.h"
#include "tools/cli_opts.h"

enum { OPT_JSON = CLI_OPT_CMD_BASE, OPT_COMP, OPT_LEVEL, OPT_SPAN, OPT_THREADS, OPT_BASE };

#define READ_CHUNK (1u << 20)
#define MAX_XATTR_NAMES (64u << 10)

struct item {
	char *path;      /* relative to DIR, byte-exact; "" is DIR itself */
	struct stat st;
};

struct walk {
	const char *root;
	struct item *v;
	size_t n, cap;
};

struct push {
	struct cli_opts o;
	const char *dir;
	struct reg_ref ref;
	struct reg_pusher *p;
	struct idx_writer_opts wo;
	const char *base_arg;
	bool json;
	int tmp_fd;          /* the compressed layer, unlinked */
	struct idx_layer *layer;
	struct idx_info info;
	/* --base */
	struct reg_ref bref;
	struct reg_client *bc;
	struct reg_manifest *bm;
	json_t *bconfig;
	/* results */
	char config_digest[DIGEST_STR_LEN], manifest_digest[DIGEST_STR_LEN];
	char artifact_digest[DIGEST_STR_LEN];
	enum reg_upload_how layer_how;
	struct reg_index_blob *iblobs;
	size_t n_iblobs;
	/* progress */
	const char *what;
	uint64_t t0_ms, last_ms;
};

/* ---- walk ------------------------------------------------------------ */

static int add_item(struct walk *w, char *path, const struct stat *st)
{
	if (w->n == w->cap) {
		size_t nc = w->cap ? 2 * w->cap : 256;
		struct item *v = realloc(w->v, nc * sizeof(*v));

		if (!v)
			return -ENOMEM;
		w->v = v;
		w->cap = nc;
	}
	w->v[w->n].path = path;
	w->v[w->n].st = *st;
	w->n++;
	return 0;
}

static char *join(const char *a, const char *b)
{
	struct dbuf d;

	dbuf_init(&d, 2 * IDX_MAX_PATH + 2);
	if (dbuf_printf(&d, "%s%s%s", a, *a && *b ? "/" : "", b) < 0) {
		dbuf_release(&d);
		return NULL;
	}
	return dbuf_take(&d, NULL);
}

static int walk_dir(struct walk *w, const char *rel)
{
	char *full = join(w->root, rel);
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
		child = join(rel, de->d_name);
		cfull = child ? join(w->root, child) : NULL;
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
	return strcmp(((const struct item *)a)->path, ((const struct item *)b)->path);
}

static int walk_tree(struct walk *w, const char *root)
{
	struct stat st;
	char *p = strdup("");
	int r;

	w->root = root;
	if (!p)
		return -ENOMEM;
	if (lstat(root, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_err("cannot push '%s': not a directory", root);
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

static void walk_release(struct walk *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->v[i].path);
	free(w->v);
}

/* ---- one member -------------------------------------------------------- */

static bool keep_xattr(const char *name)
{
	/* selinux labels and ACLs describe this host, not the image */
	return strncmp(name, "user.", 5) == 0 || strncmp(name, "trusted.", 8) == 0 ||
	       strcmp(name, "security.capability") == 0;
}

struct xattrs {
	char *names;
	struct idx_xattr v[64];
	uint8_t *vals[64];
	uint32_t n;
};

static void xattrs_release(struct xattrs *x)
{
	for (uint32_t i = 0; i < x->n; i++)
		free(x->vals[i]);
	free(x->names);
	memset(x, 0, sizeof(*x));
}

static int read_xattrs(const char *full, struct xattrs *x)
{
	ssize_t len = llistxattr(full, NULL, 0), vl;

	if (len < 0)
		return errno == ENOTSUP ? 0 : -errno;
	if (len == 0)
		return 0;
	if (len > (ssize_t)MAX_XATTR_NAMES)
		return -EFBIG;
	x->names = malloc((size_t)len + 1);
	if (!x->names)
		return -ENOMEM;
	len = llistxattr(full, x->names, (size_t)len);
	if (len < 0)
		return -errno;
	x->names[len] = 0;
	/* sorted by name: the kernel's order is the filesystem's, not ours */
	for (char *n = x->names; n < x->names + len; n += strlen(n) + 1) {
		if (!keep_xattr(n) || x->n == 64)
			continue;
		vl = lgetxattr(full, n, NULL, 0);
		if (vl < 0 || vl > (ssize_t)IDX_MAX_XATTR_VALUE)
			return vl < 0 ? -errno : -EFBIG;
		x->vals[x->n] = malloc((size_t)vl + 1);
		if (!x->vals[x->n])
			return -ENOMEM;
		vl = lgetxattr(full, n, x->vals[x->n], (size_t)vl);
		if (vl < 0)
			return -errno;
		x->v[x->n] = (struct idx_xattr){ n, x->vals[x->n], (uint32_t)vl };
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

	fd = open(full, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || !buf) {
		r = fd < 0 ? -errno : -ENOMEM;
		log_err("cannot read '%s': %s", full, strerror(-r));
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
		log_err("cannot push '%s': it changed while being read", full);
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

static const char *link_first(struct links *l, const struct item *it)
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

static int entry_of(const struct item *it, struct links *l, char *lbuf, struct idx_entry *e)
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

static int add_member(struct idx_writer *w, const char *root, const struct item *it,
		      struct links *l)
{
	char *full = join(root, it->path), lbuf[IDX_MAX_PATH + 1];
	struct xattrs x = { 0 };
	struct idx_entry e;
	ssize_t n;
	int r;

	if (!full)
		return -ENOMEM;
	r = entry_of(it, l, lbuf, &e);
	if (r == 0 && e.type == IDX_T_SYMLINK) {
		n = readlink(full, lbuf, sizeof(lbuf));
		r = n < 0 ? -errno : n >= (ssize_t)sizeof(lbuf) ? -ENAMETOOLONG : 0;
		if (r == 0)
			lbuf[n] = 0;
	}
	if (r == 0 && e.type != IDX_T_HARDLINK)
		r = read_xattrs(full, &x);
	if (r < 0) {
		log_err("cannot read '%s': %s", full, strerror(-r));
		goto out_free;
	}
	e.n_xattrs = x.n;
	e.xattrs = x.v;
	r = idx_writer_add(w, &e);
	if (r < 0)
		log_err("cannot add '%s' to the layer: %s", full, strerror(-r));
	else if (e.type == IDX_T_REG && e.size)
		r = copy_content(w, full, &it->st);
out_free:
	xattrs_release(&x);
	free(full);
	return r;
}

static int sink_fd(void *ctx, const void *buf, size_t n)
{
	int fd = *(int *)ctx;
	const char *p = buf;

	while (n) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int tmp_file(void)
{
	const char *d = getenv("TMPDIR");
	char *path = join(d && *d ? d : "/tmp", "strata-push-XXXXXX");
	int fd = path ? mkstemp(path) : -1;

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

/* Walk DIR and write the layer into ps->tmp_fd. */
static int build_layer(struct push *ps)
{
	struct walk wk = { 0 };
	struct links l = { 0 };
	struct idx_writer *w = NULL;
	int r;

	r = walk_tree(&wk, ps->dir);
	if (r < 0)
		goto out_release;
	for (l.cap = 64; l.cap < 2 * wk.n; l.cap *= 2)
		;
	l.t = calloc(l.cap, sizeof(*l.t));
	ps->tmp_fd = tmp_file();
	if (!l.t || ps->tmp_fd < 0) {
		r = !l.t ? -ENOMEM : ps->tmp_fd;
		goto out_release;
	}
	r = idx_writer_new(&ps->wo, sink_fd, &ps->tmp_fd, &w);
	for (size_t i = 0; r == 0 && i < wk.n; i++)
		r = add_member(w, ps->dir, &wk.v[i], &l);
	if (r == 0)
		r = idx_writer_finish(w, &ps->layer);
	if (r == 0)
		idx_layer_info(ps->layer, &ps->info);
	else
		log_err("cannot build the layer of '%s': %s", ps->dir, strerror(-r));
	idx_writer_free(w);
out_release:
	free(l.t);
	walk_release(&wk);
	return r;
}

/* ---- progress ---------------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void on_progress(void *ctx, uint64_t sent, uint64_t total)
{
	struct push *ps = ctx;
	uint64_t t = now_ms(), dt;
	double rate;

	if (!ps->t0_ms)
		ps->t0_ms = t;
	/* curl calls on while the answer is awaited: one final line is enough */
	if ((t - ps->last_ms < 250 && sent < total) || ps->last_ms == UINT64_MAX)
		return;
	ps->last_ms = t;
	dt = t - ps->t0_ms ? t - ps->t0_ms : 1;
	rate = (double)sent * 1000.0 / (double)dt;
	fprintf(stderr, "\r%s: %.1f/%.1f MB, %.1f MB/s, ETA %.0f s   ", ps->what, sent / 1e6,
		total / 1e6, rate / 1e6, rate > 0 ? (double)(total - sent) / rate : 0.0);
	if (sent >= total) {
		fputc('\n', stderr);
		ps->last_ms = UINT64_MAX;
	}
}

static struct reg_upload_opts up_opts(struct push *ps, const char *what, const char *from)
{
	struct reg_upload_opts u = { .mount_from = from };

	/* a progress line only on a terminal, and only for uploads worth watching */
	if (!ps->o.quiet && isatty(2)) {
		ps->what = what;
		ps->t0_ms = ps->last_ms = 0;
		u.progress = on_progress;
		u.progress_ctx = ps;
	}
	return u;
}

/* ---- base image --------------------------------------------------------- */

static int sink_write(void *ctx, const void *buf, size_t n)
{
	return sink_fd(ctx, buf, n);
}

/* Blob @digest of the base into the target: already there, mounted, or copied. */
static int copy_blob(struct push *ps, const char *digest, uint64_t size, int *keep_fd)
{
	struct reg_blob_src none = { .fd = -1, .size = size };
	struct reg_upload_opts u = { .mount_from = ps->bref.repo };
	struct reg_blob_src src;
	int fd, r;

	if (strcmp(ps->bref.host, ps->ref.host) == 0) {
		r = reg_blob_upload(ps->p, digest, &none, &u, NULL);
		if (r != -ENOENT && r != -EACCES && r != -EINVAL)
			return r;
	} else if (reg_blob_head(reg_pusher_client(ps->p), digest, &(uint64_t){ 0 }) == 0) {
		return 0;
	}
	fd = tmp_file();
	if (fd < 0)
		return fd;
	r = reg_blob_stream(ps->bc, digest, sink_write, &fd);
	src = (struct reg_blob_src){ .fd = fd, .size = size };
	u = up_opts(ps, "copying a base blob", NULL);
	if (r == 0)
		r = reg_blob_upload(ps->p, digest, &src, &u, NULL);
	if (r == 0 && keep_fd)
		*keep_fd = fd;
	else
		close(fd);
	return r;
}

static int open_base(struct push *ps)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	r = reg_ref_parse(ps->base_arg, &ps->bref);
	if (r == 0)
		r = reg_client_new(&ps->o.reg, &ps->bref, &ps->bc);
	if (r == 0)
		r = reg_resolve(ps->bc, &ps->bref, &ps->o.platform, &ps->bm, NULL);
	if (r == 0)
		r = reg_blob_get(ps->bc, ps->bm->config.digest, REG_MAX_CONFIG_SIZE, &buf, &len);
	if (r == 0) {
		ps->bconfig = json_loadb(buf, len, 0, NULL);
		r = json_is_object(ps->bconfig) ? 0 : -EBADMSG;
	}
	free(buf);
	if (r < 0)
		log_err("cannot use base '%s': %s", ps->base_arg, strerror(-r));
	return r;
}

static ssize_t fd_stream(void *ctx, void *buf, size_t n)
{
	struct { int fd; uint64_t off; } *s = ctx;
	ssize_t k = pread(s->fd, buf, n, (off_t)s->off);

	if (k > 0)
		s->off += (uint64_t)k;
	return k < 0 ? -errno : k;
}

static int add_iblob(struct push *ps, const char *digest, uint64_t size, const char *layer)
{
	struct reg_index_blob *v = realloc(ps->iblobs, (ps->n_iblobs + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	ps->iblobs = v;
	v += ps->n_iblobs++;
	snprintf(v->digest, sizeof(v->digest), "%s", digest);
	snprintf(v->layer, sizeof(v->layer), "%s", layer);
	v->size = size;
	return 0;
}

/* Upload an index and remember it for the artifact. */
static int push_index(struct push *ps, const struct idx_layer *l, const char *layer)
{
	uint8_t sha[DIGEST_SHA256_LEN];
	char dg[DIGEST_STR_LEN];
	void *buf = NULL;
	size_t len = 0;
	int r;

	r = idx_save(l, &buf, &len);
	if (r == 0) {
		struct reg_blob_src src = { .fd = -1, .buf = buf, .size = len };

		digest_sha256(buf, len, sha);
		digest_format(sha, dg);
		r = reg_blob_upload(ps->p, dg, &src, NULL, NULL);
	}
	if (r == 0)
		r = add_iblob(ps, dg, len, layer);
	free(buf);
	return r;
}

/* The base's own index of @layer, if its referrers have one: copied over. */
static int base_index_from_referrers(struct push *ps, const char *layer)
{
	struct reg_manifest *refs = NULL, *am = NULL;
	int r = -ENOENT;

	if (reg_referrers(ps->bc, ps->bm->digest, REG_MT_STRATAFS_INDEX_ARTIFACT, &refs) < 0)
		return -ENOENT;
	for (size_t i = 0; r == -ENOENT && i < refs->n_manifests; i++) {
		if (reg_manifest_get(ps->bc, refs->manifests[i].digest, &am) < 0)
			continue;
		for (size_t j = 0; r == -ENOENT && j < am->n_layers; j++) {
			const struct reg_descriptor *d = &am->layers[j];

			if (!d->stratafs_layer || strcmp(d->stratafs_layer, layer) != 0)
				continue;
			r = copy_blob(ps, d->digest, d->size, NULL);
			if (r == 0)
				r = add_iblob(ps, d->digest, d->size, layer);
		}
		reg_manifest_free(am);
		am = NULL;
	}
	reg_manifest_free(refs);
	return r;
}

/* Base layers into the target repository, each with an index. */
static int push_base_layers(struct push *ps)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < ps->bm->n_layers; i++) {
		const struct reg_descriptor *d = &ps->bm->layers[i];
		struct { int fd; uint64_t off; } s = { -1, 0 };
		struct idx_build_opts bo = { .span_size = ps->wo.span_size, .comp = IDX_COMP_AUTO,
					     .blob_digest = d->digest };
		struct idx_layer *l = NULL;

		r = copy_blob(ps, d->digest, d->size, NULL);
		if (r < 0 || base_index_from_referrers(ps, d->digest) == 0)
			continue;
		/* no index to copy: build one, streaming the layer once */
		log_info("indexing base layer '%s'", d->digest);
		s.fd = tmp_file();
		r = s.fd < 0 ? s.fd : reg_blob_stream(ps->bc, d->digest, sink_write, &s.fd);
		if (r == 0)
			r = idx_build(&bo, fd_stream, &s, &l, NULL);
		if (r == 0)
			r = push_index(ps, l, d->digest);
		idx_layer_free(l);
		if (s.fd >= 0)
			close(s.fd);
	}
	return r;
}

/* ---- config and manifest ----------------------------------------------- */

static const char *layer_media_type(enum idx_comp c)
{
	return c == IDX_COMP_GZIP ? "application/vnd.oci.image.layer.v1.tar+gzip" :
	       c == IDX_COMP_ZSTD ? "application/vnd.oci.image.layer.v1.tar+zstd" :
				    "application/vnd.oci.image.layer.v1.tar";
}

/* Docker layer types have OCI twins; anything else is kept as it is. */
static const char *oci_layer_type(const char *mt)
{
	if (mt && strcmp(mt, "application/vnd.docker.image.rootfs.diff.tar.gzip") == 0)
		return layer_media_type(IDX_COMP_GZIP);
	if (mt && strcmp(mt, "application/vnd.docker.image.rootfs.diff.tar") == 0)
		return layer_media_type(IDX_COMP_NONE);
	return mt;
}

static void created_at(char out[32])
{
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	time_t t = sde && *sde ? (time_t)strtoll(sde, NULL, 10) : 0;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *config_json(struct push *ps)
{
	json_t *c = ps->bconfig ? json_deep_copy(ps->bconfig) : json_object();
	json_t *rootfs, *ids, *hist;
	char when[32];

	if (!c)
		return NULL;
	created_at(when);
	if (!ps->bconfig || ps->o.platform_arg) {
		json_object_set_new(c, "architecture", json_string(ps->o.platform.arch));
		json_object_set_new(c, "os", json_string(ps->o.platform.os));
		if (ps->o.platform.variant)
			json_object_set_new(c, "variant", json_string(ps->o.platform.variant));
	}
	json_object_set_new(c, "created", json_string(when));
	if (!json_is_object(json_object_get(c, "config")))
		json_object_set_new(c, "config", json_object());
	rootfs = json_object_get(c, "rootfs");
	if (!json_is_object(rootfs)) {
		rootfs = json_pack("{s:s, s:[]}", "type", "layers", "diff_ids");
		json_object_set_new(c, "rootfs", rootfs);
	}
	ids = json_object_get(rootfs, "diff_ids");
	hist = json_object_get(c, "history");
	if (!json_is_array(hist)) {
		hist = json_array();
		json_object_set_new(c, "history", hist);
	}
	if (!json_is_array(ids) || json_array_append_new(ids, json_string(ps->info.diff_id)) < 0 ||
	    json_array_append_new(hist, json_pack("{s:s, s:s}", "created", when, "created_by",
						  "strata push")) < 0) {
		json_decref(c);
		return NULL;
	}
	return c;
}

static json_t *descriptor(const char *mt, const char *digest, uint64_t size)
{
	return json_pack("{s:s, s:s, s:I}", "mediaType", mt, "digest", digest, "size",
			 (json_int_t)size);
}

static char *manifest_json(struct push *ps, size_t config_len)
{
	json_t *m, *layers;
	char *raw = NULL;

	m = json_pack("{s:i, s:s, s:o, s:[]}", "schemaVersion", 2, "mediaType", REG_MT_OCI_MANIFEST,
		      "config", descriptor(REG_MT_OCI_CONFIG, ps->config_digest, config_len),
		      "layers");
	layers = json_object_get(m, "layers");
	for (size_t i = 0; layers && ps->bm && i < ps->bm->n_layers; i++) {
		const struct reg_descriptor *d = &ps->bm->layers[i];

		json_array_append_new(layers, descriptor(oci_layer_type(d->media_type), d->digest,
							 d->size));
	}
	if (layers && json_array_append_new(layers, descriptor(layer_media_type(ps->info.comp),
								ps->info.blob_digest,
								ps->info.blob_size)) == 0)
		raw = json_dumps(m, JSON_COMPACT);
	json_decref(m);
	return raw;
}

/* Config, index artifact, then the image manifest: the tag moves last. */
static int push_image(struct push *ps)
{
	struct reg_descriptor subject = { .media_type = REG_MT_OCI_MANIFEST };
	json_t *cfg = config_json(ps);
	char *craw = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL, *mraw = NULL;
	uint8_t sha[DIGEST_SHA256_LEN];
	int r = craw ? 0 : -ENOMEM;

	if (r == 0) {
		struct reg_blob_src src = { .fd = -1, .buf = craw, .size = strlen(craw) };

		digest_sha256(craw, strlen(craw), sha);
		digest_format(sha, ps->config_digest);
		r = reg_blob_upload(ps->p, ps->config_digest, &src, NULL, NULL);
	}
	mraw = r == 0 ? manifest_json(ps, strlen(craw)) : NULL;
	if (r == 0 && !mraw)
		r = -ENOMEM;
	if (r == 0) {
		digest_sha256(mraw, strlen(mraw), sha);
		digest_format(sha, ps->manifest_digest);
		memcpy(subject.digest, ps->manifest_digest, DIGEST_STR_LEN);
		subject.size = strlen(mraw);
		r = reg_index_artifact_push(ps->p, &subject, ps->iblobs, ps->n_iblobs,
					    ps->artifact_digest);
	}
	if (r == 0)
		r = reg_manifest_put(ps->p, reg_ref_reference(&ps->ref), REG_MT_OCI_MANIFEST, mraw,
				     strlen(mraw), NULL, NULL);
	if (r == 0 && ps->ref.digest && strcmp(ps->ref.digest, ps->manifest_digest) != 0) {
		log_err("the pushed manifest is '%s', not '%s'", ps->manifest_digest, ps->ref.digest);
		r = -EBADMSG;
	}
	free(craw);
	free(mraw);
	json_decref(cfg);
	return r;
}

static int upload_all(struct push *ps)
{
	struct reg_blob_src src = { .fd = ps->tmp_fd, .size = ps->info.blob_size };
	struct reg_upload_opts u = up_opts(ps, "uploading the layer", NULL);
	int r;

	r = reg_pusher_new(&ps->o.reg, &ps->ref, &ps->p);
	if (r == 0 && ps->base_arg)
		r = push_base_layers(ps);
	if (r == 0)
		r = reg_blob_upload(ps->p, ps->info.blob_digest, &src, &u, &ps->layer_how);
	if (r == 0)
		r = push_index(ps, ps->layer, ps->info.blob_digest);
	if (r == 0)
		r = push_image(ps);
	return r;
}

/* ---- command ------------------------------------------------------------ */

static void print_result(const struct push *ps, FILE *f)
{
	char *ref = reg_ref_format(&ps->ref);

	if (ps->json) {
		json_t *j = json_pack("{s:s?, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:b}",
				      "reference", ref, "manifest", ps->manifest_digest, "config",
				      ps->config_digest, "layer", ps->info.blob_digest, "diff_id",
				      ps->info.diff_id, "compression", idx_comp_name(ps->info.comp),
				      "layer_size", (json_int_t)ps->info.blob_size, "tar_size",
				      (json_int_t)ps->info.tar_size, "index_artifact",
				      ps->artifact_digest, "spans", (json_int_t)ps->info.n_spans,
				      "layer_existed", ps->layer_how == REG_UPLOAD_EXISTED);

		json_dumpf(j, f, JSON_INDENT(2));
		fputc('\n', f);
		json_decref(j);
	} else {
		fprintf(f, "pushed %s\nmanifest %s\nlayer %s (%llu bytes %s, %llu bytes tar, %u spans)\n"
			   "index %s\n",
			ref ? ref : "", ps->manifest_digest, ps->info.blob_digest,
			(unsigned long long)ps->info.blob_size, idx_comp_name(ps->info.comp),
			(unsigned long long)ps->info.tar_size, ps->info.n_spans, ps->artifact_digest);
	}
	free(ref);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: strata push DIR REF [options]\n"
		   "  --compression gzip|zstd|none  layer compression (default gzip)\n"
		   "  --level N                     compression level (default gzip 6, zstd 3)\n"
		   "  --span-size N                 bytes of tar per gzip member / zstd frame (default 4 MiB)\n"
		   "  --threads N                   compression threads (default: the online CPUs)\n"
		   "  --base REF                    put the layer on top of this image's layers\n"
		   "  --json                        print the result as JSON\n");
	cli_opts_usage(f);
}

static int parse_own(struct push *ps, int c, const char *arg)
{
	char *end = NULL;
	unsigned long long v;

	switch (c) {
	case OPT_JSON:
		ps->json = true;
		return 0;
	case OPT_BASE:
		ps->base_arg = arg;
		return 0;
	case OPT_COMP:
		ps->wo.comp = strcmp(arg, "gzip") == 0 ? IDX_COMP_GZIP :
			      strcmp(arg, "zstd") == 0 ? IDX_COMP_ZSTD :
			      strcmp(arg, "none") == 0 ? IDX_COMP_NONE : IDX_COMP_AUTO;
		if (ps->wo.comp != IDX_COMP_AUTO)
			return 0;
		fprintf(stderr, "strata push: unknown compression '%s'\n", arg);
		return -EINVAL;
	default:
		break;
	}
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || (c == OPT_LEVEL && v > 22) ||
	    (c == OPT_SPAN && (v < IDX_MIN_SPAN_SIZE || v > IDX_MAX_SPAN_SIZE)) ||
	    (c == OPT_THREADS && (v < 1 || v > 256))) {
		fprintf(stderr, "strata push: bad value '%s'\n", arg);
		return -EINVAL;
	}
	if (c == OPT_LEVEL)
		ps->wo.level = (int)v;
	else if (c == OPT_THREADS)
		ps->wo.threads = (unsigned)v;
	else
		ps->wo.span_size = v;
	return 0;
}

static void push_release(struct push *ps)
{
	if (ps->tmp_fd >= 0)
		close(ps->tmp_fd);
	idx_layer_free(ps->layer);
	reg_pusher_free(ps->p);
	reg_manifest_free(ps->bm);
	reg_client_free(ps->bc);
	json_decref(ps->bconfig);
	reg_ref_release(&ps->bref);
	reg_ref_release(&ps->ref);
	free(ps->iblobs);
	cli_opts_release(&ps->o);
}

int cmd_push(int argc, char **argv)
{
	static const struct option own[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "compression", required_argument, NULL, OPT_COMP },
		{ "level", required_argument, NULL, OPT_LEVEL },
		{ "span-size", required_argument, NULL, OPT_SPAN },
		{ "threads", required_argument, NULL, OPT_THREADS },
		{ "base", required_argument, NULL, OPT_BASE },
	};
	struct option lo[CLI_OPTS_NLONG + 7];
	struct push ps = { .tmp_fd = -1, .wo = { .comp = IDX_COMP_GZIP } };
	int c, ret = CLI_USAGE;

	cli_opts_init(&ps.o);
	cli_opts_longopts(lo, own, 6);
	optind = 1;
	while ((c = getopt_long(argc, argv, CLI_OPTS_SHORT, lo, NULL)) != -1) {
		if (c >= OPT_JSON && c <= OPT_BASE ? parse_own(&ps, c, optarg) < 0 :
						      cli_opts_handle(&ps.o, c, optarg) < 0)
			goto out_usage;
	}
	if (cli_opts_finish(&ps.o) < 0)
		goto out_usage;
	if (ps.o.help) {
		usage(stdout);
		ret = CLI_OK;
		goto out_release;
	}
	if (argc - optind != 2 || (ps.wo.comp == IDX_COMP_GZIP && ps.wo.level > 9))
		goto out_usage;
	ps.dir = argv[optind];
	if (reg_ref_parse(argv[optind + 1], &ps.ref) < 0)
		goto out_usage;
	ret = CLI_FAIL;
	if (ps.base_arg && open_base(&ps) < 0)
		goto out_release;
	if (build_layer(&ps) < 0 || upload_all(&ps) < 0) {
		log_err("push of '%s' failed", ps.dir);
		goto out_release;
	}
	print_result(&ps, stdout);
	ret = fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
	goto out_release;
out_usage:
	usage(stderr);
out_release:
	push_release(&ps);
	return ret;
}
