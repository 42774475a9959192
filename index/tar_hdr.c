/* SPDX-License-Identifier: MIT */
/*
 * One tar member header -> struct tar_entry. Precedence for every field:
 * the member's pax 'x' records, then GNU long names/links, then the
 * ustar/GNU/v7 header fields. An empty 'x' value means "use the header
 * field" (POSIX pax, "delete"). Global 'g' records are checked but not
 * applied (tar.c): containerd, moby and containers/storage skip them.
 *
 * Which typeflags carry data follows Go's archive/tar, the writer of most
 * layers: only regular files (and the GNU dumpdir 'D', volume label 'V',
 * and unknown types, which are read as regular files like GNU tar does);
 * links, devices, FIFOs and directories are header-only whatever their
 * size field says.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmath.h"
#include "index/tar_int.h"

#define SCHILY_XATTR "SCHILY.xattr."

enum hdr_fmt { FMT_V7, FMT_USTAR, FMT_STAR, FMT_GNU };

static enum hdr_fmt hdr_format(const uint8_t *h)
{
	if (memcmp(h + 257, "ustar  \0", 8) == 0)
		return FMT_GNU;
	if (memcmp(h + 257, "ustar\0", 6) == 0)
		return memcmp(h + 508, "tar\0", 4) == 0 ? FMT_STAR : FMT_USTAR;
	return FMT_V7;
}

int idx_tar_hdr_check(struct tar_parser *p, const uint8_t *h)
{
	uint64_t usum = 8 * ' ';
	int64_t ssum = 8 * ' ', want;

	/* The checksum field counts as eight spaces; two loops that vectorise. */
	for (size_t i = 0; i < 148; i++) {
		usum += h[i];
		ssum += (int8_t)h[i];
	}
	for (size_t i = 156; i < TAR_BLOCK; i++) {
		usum += h[i];
		ssum += (int8_t)h[i];
	}
	if (idx_tar_num_field(h + 148, 8, &want) < 0 || (want != (int64_t)usum && want != ssum)) {
		log_err("cannot read tar: bad header checksum at offset %llu",
			(unsigned long long)(p->off - TAR_BLOCK));
		return -EBADMSG;
	}
	return 0;
}

/* The pax override of @key: true with its value when set and non-empty. */
static bool pax_get(const struct tar_parser *p, const char *key, const char **v, size_t *len)
{
	const struct tar_kv *kv = idx_tar_kvset_get(&p->local, key);

	if (!kv || kv->vlen == 0)
		return false;
	*v = (const char *)kv->val;
	*len = kv->vlen;
	return true;
}

/* The raw (not yet normalised) name of the member. */
static void raw_name(const struct tar_parser *p, const uint8_t *h, char *buf, const char **name,
		     size_t *len)
{
	enum hdr_fmt f = hdr_format(h);
	size_t nlen = strnlen((const char *)h, 100), plen = 0;

	const struct tar_kv *sparse = idx_tar_kvset_get(&p->local, "GNU.sparse.name");

	/* GNU sparse 0.1/1.0 hide the real name from old readers: it wins (as in Go). */
	if (sparse && sparse->vlen) {
		*name = (const char *)sparse->val;
		*len = sparse->vlen;
		return;
	}
	if (pax_get(p, "path", name, len))
		return;
	if (p->longname) {
		*name = p->longname;
		*len = strlen(p->longname);
		return;
	}
	if (f == FMT_USTAR || f == FMT_STAR)
		plen = strnlen((const char *)h + 345, f == FMT_STAR ? 131 : 155);
	memcpy(buf, h + 345, plen);
	if (plen)
		buf[plen++] = '/';
	memcpy(buf + plen, h, nlen);
	*name = buf;
	*len = plen + nlen;
}

static int norm_into(const char *what, const char *raw, size_t len, char *out)
{
	int r = idx_tar_path_normalise(raw, len, out, IDX_MAX_PATH + 1);

	if (r < 0 && memchr(raw, '\0', len))
		log_err("cannot read tar: %s '%s' contains a NUL byte", what, raw);
	else if (r == -EFBIG)
		log_err("cannot read tar: %s '%.200s...' is longer than %d bytes", what, raw,
			IDX_MAX_PATH);
	else if (r < 0)
		log_err("cannot read tar: bad %s '%.*s'", what, (int)XMIN(len, 400), raw);
	return r;
}

static int get_u32(const struct tar_parser *p, const uint8_t *f, size_t flen, const char *key,
		   uint32_t *out)
{
	const char *v;
	size_t len;
	uint64_t u;
	int64_t x;

	if (key && pax_get(p, key, &v, &len)) {
		if (idx_tar_dec_u64(v, len, UINT32_MAX, &u) < 0)
			goto out_bad;
		*out = (uint32_t)u;
		return 0;
	}
	if (!f) {
		*out = 0;
		return 0;
	}
	if (idx_tar_num_field(f, flen, &x) < 0 || x < 0 || x > (int64_t)UINT32_MAX)
		goto out_bad;
	*out = (uint32_t)x;
	return 0;
out_bad:
	log_err("cannot read tar: bad %s of '%s'", key ? key : "number", p->path);
	return -EBADMSG;
}

static int get_size(const struct tar_parser *p, const uint8_t *h, uint64_t *out)
{
	const char *v;
	size_t len;
	int64_t x;

	if (pax_get(p, "size", &v, &len)) {
		if (idx_tar_dec_u64(v, len, UINT64_MAX, out) < 0)
			goto out_bad;
	} else {
		if (idx_tar_num_field(h + 124, 12, &x) < 0 || x < 0)
			goto out_bad;
		*out = (uint64_t)x;
	}
	if (*out >= TAR_MAX_SIZE) {
		log_err("cannot read tar: size of '%s' is too large", p->path);
		return -EFBIG;
	}
	return 0;
out_bad:
	log_err("cannot read tar: bad size of '%s'", p->path);
	return -EBADMSG;
}

static int get_mtime(const struct tar_parser *p, const uint8_t *h, struct tar_entry *e)
{
	const char *v;
	size_t len;

	if (pax_get(p, "mtime", &v, &len)) {
		if (idx_tar_dec_time(v, len, &e->mtime_sec, &e->mtime_nsec) == 0)
			return 0;
	} else if (idx_tar_num_field(h + 136, 12, &e->mtime_sec) == 0) {
		e->mtime_nsec = 0;
		return 0;
	}
	log_err("cannot read tar: bad mtime of '%s'", p->path);
	return -EBADMSG;
}

static int add_xattrs(struct tar_parser *p, const struct tar_kvset *s, struct tar_entry *e)
{
	size_t plen = strlen(SCHILY_XATTR);

	for (uint32_t i = 0; i < s->n; i++) {
		const struct tar_kv *kv = &s->v[i];

		if (strncmp(kv->key, SCHILY_XATTR, plen) != 0)
			continue;
		if (kv->key[plen] == '\0') {
			log_err("cannot read tar: empty xattr name on '%s'", p->path);
			return -EBADMSG;
		}
		if (kv->vlen > IDX_MAX_XATTR_VALUE || e->n_xattrs >= TAR_MAX_XATTRS) {
			log_err("cannot read tar: xattr '%s' of '%s' is over the limits",
				kv->key + plen, p->path);
			return -EFBIG;
		}
		p->xattrs[e->n_xattrs].name = kv->key + plen;
		p->xattrs[e->n_xattrs].value = kv->val;
		p->xattrs[e->n_xattrs].len = kv->vlen;
		e->n_xattrs++;
	}
	return 0;
}

/*
 * Map the typeflag; *data = bytes of content following the header.
 * Returns 1 to skip the member silently, 0 to report it, or -errno.
 */
static int map_type(struct tar_parser *p, char tf, bool slash, uint64_t size, struct tar_entry *e,
		    uint64_t *data)
{
	static const struct { char tf; uint8_t type; } header_only[] = {
		{ '1', IDX_T_HARDLINK }, { '2', IDX_T_SYMLINK }, { '3', IDX_T_CHR },
		{ '4', IDX_T_BLK },      { '5', IDX_T_DIR },     { '6', IDX_T_FIFO },
	};

	*data = 0;
	for (size_t i = 0; i < ARRAY_SIZE(header_only); i++) {
		if (tf == header_only[i].tf) {
			e->type = header_only[i].type;
			return 0;
		}
	}
	*data = size;
	switch (tf) {
	case 'S': /* old GNU sparse: a regular file, its map read by tar_sparse.c */
		e->type = IDX_T_REG;
		e->size = size;
		return 0;
	case 'M':
	case 'N':
		log_err("cannot read tar: GNU '%c' member '%s' is not supported", tf, p->path);
		return -ENOTSUP;
	case 'V':
		return 1;
	case 'D':
		e->type = IDX_T_DIR;
		return 0;
	case '0':
	case '\0':
	case '7':
		break;
	default:
		log_warn("tar member '%s' has unknown type '%c', read as a regular file", p->path,
			 tf);
		break;
	}
	/* Old tars mark directories with a trailing slash on a regular entry. */
	e->type = slash ? IDX_T_DIR : IDX_T_REG;
	e->size = slash ? 0 : size;
	return 0;
}

/* ".wh.<name>" and ".wh..wh..opq" -> WHITEOUT/OPAQUE; 1 to skip, 0 or -errno. */
static int map_whiteout(struct tar_parser *p, struct tar_entry *e)
{
	int r = idx_tar_whiteout_map(p->path, &e->type);

	if (r == 0 && (e->type == IDX_T_WHITEOUT || e->type == IDX_T_OPAQUE))
		e->size = 0;
	return r;
}

static int get_link(struct tar_parser *p, const uint8_t *h, struct tar_entry *e)
{
	const char *v = NULL;
	size_t len = 0;
	int r;

	if (!pax_get(p, "linkpath", &v, &len)) {
		v = p->longlink ? p->longlink : (const char *)h + 157;
		len = p->longlink ? strlen(v) : strnlen(v, 100);
	}
	if (e->type == IDX_T_HARDLINK) {
		r = norm_into("hardlink target", v, len, p->link);
		if (r == 0) {
			log_err("cannot read tar: hardlink '%s' has an empty target", p->path);
			return -EBADMSG;
		}
		if (r < 0)
			return r;
	} else {
		if (memchr(v, '\0', len) || len > IDX_MAX_PATH) {
			log_err("cannot read tar: bad symlink target of '%s'", p->path);
			return len > IDX_MAX_PATH ? -EFBIG : -EBADMSG;
		}
		memcpy(p->link, v, len);
		p->link[len] = '\0';
	}
	e->link = p->link;
	return 0;
}

static int get_attrs(struct tar_parser *p, const uint8_t *h, struct tar_entry *e)
{
	bool dev = e->type == IDX_T_CHR || e->type == IDX_T_BLK;
	bool v7 = hdr_format(h) == FMT_V7;
	int64_t mode;
	int r;

	if (idx_tar_num_field(h + 100, 8, &mode) < 0 || mode < 0) {
		log_err("cannot read tar: bad mode of '%s'", p->path);
		return -EBADMSG;
	}
	e->mode = (uint32_t)mode & 07777;
	r = get_u32(p, h + 108, 8, "uid", &e->uid);
	if (r == 0)
		r = get_u32(p, h + 116, 8, "gid", &e->gid);
	if (r == 0)
		r = get_mtime(p, h, e);
	if (r == 0 && dev)
		r = get_u32(p, v7 ? NULL : h + 329, 8, "SCHILY.devmajor", &e->dev_major);
	if (r == 0 && dev)
		r = get_u32(p, v7 ? NULL : h + 337, 8, "SCHILY.devminor", &e->dev_minor);
	if (r == 0 && (e->type == IDX_T_SYMLINK || e->type == IDX_T_HARDLINK))
		r = get_link(p, h, e);
	if (r == 0)
		r = add_xattrs(p, &p->local, e);
	e->xattrs = p->xattrs;
	return r;
}

static void forget_pending(struct tar_parser *p)
{
	idx_tar_kvset_clear(&p->local);
	free(p->longname);
	free(p->longlink);
	p->longname = NULL;
	p->longlink = NULL;
	p->pending = false;
}

static int build_entry(struct tar_parser *p, const uint8_t *h, struct tar_entry *e, uint64_t *data)
{
	char buf[256 + 100 + 1];
	const char *raw;
	size_t len;
	uint64_t size;
	int r;

	raw_name(p, h, buf, &raw, &len);
	r = norm_into("path", raw, len, p->path);
	if (r < 0)
		return r;
	r = get_size(p, h, &size);
	if (r < 0)
		return r;
	r = map_type(p, (char)h[156], len > 0 && raw[len - 1] == '/', size, e, data);
	if (r != 0)
		return r;
	r = map_whiteout(p, e);
	if (r != 0)
		return r;
	/* containerd ignores what lands on the root ("resolved to root") unless it is a dir. */
	p->sp.skip = p->path[0] == '\0' && e->type != IDX_T_DIR && e->type != IDX_T_OPAQUE;
	if (p->sp.skip)
		log_warn("ignoring tar member at offset %llu: its name '%.*s' is the root",
			 (unsigned long long)p->member_off, (int)XMIN(len, 400), raw);
	r = get_attrs(p, h, e);
	/* An 'S' header is followed by its extension blocks whatever it names. */
	if (r == 0 && (e->type == IDX_T_REG || h[156] == 'S')) {
		e->data_off = p->off;
		r = idx_tar_sparse_start(p, h, e, data);
		if (r == 1)
			return 2;
	}
	return r == 0 && p->sp.skip ? 1 : r;
}

int idx_tar_hdr_emit(struct tar_parser *p, const struct tar_entry *e, bool skip, uint64_t data)
{
	int r;

	if (!skip) {
		r = p->cb.on_entry(p->ctx, e);
		if (r < 0)
			return r;
		p->count++;
	}
	forget_pending(p);
	idx_tar_enter_data(p, data);
	return 0;
}

int idx_tar_hdr_member(struct tar_parser *p, const uint8_t *h)
{
	struct tar_entry e = { 0 };
	uint64_t data = 0;
	int r;

	r = build_entry(p, h, &e, &data);
	if (r < 0)
		return r;
	e.path = p->path;
	e.header_off = p->member_off;
	e.data_off = p->off;
	if (r == 2) {
		/* The map follows in blocks: report the member once it is read. */
		p->sp.held = e;
		p->st = TAR_ST_SPARSE;
		return 0;
	}
	return idx_tar_hdr_emit(p, &e, r == 1, data);
}
