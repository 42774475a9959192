/* SPDX-License-Identifier: MIT */
/*
 * The zstd:chunked JSON TOC ({"version":1,"entries":[...]}) as a layer,
 * through the TOC builder (index/toc_int.h). A regular file is one entry
 * ("reg") whose content is one zstd frame [offset, endOffset), or, when it
 * carries chunkSize, that entry followed by "chunk" entries of the same
 * name, each chunk one frame starting at its offset and ending where the
 * next starts (the last at the reg entry's endOffset). Every frame decodes
 * to exactly the chunk's bytes, so a chunk is a checkpoint + a WHOLE_FRAMES
 * span verified by chunkDigest (a file of one chunk: by its digest).
 * "zeros" chunks are holes: the file becomes sparse and they are never
 * fetched. Offsets are virtual: the data chunks end to end in TOC order.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/digest.h"
#include "common/log.h"
#include "common/xarray.h"
#include "index/toc_json.h"
#include "index/layer_int.h"
#include "index/tar_int.h"
#include "index/toc_int.h"
#include "index/zchunked_int.h"

#define BAD(...)                                                   \
	do {                                                       \
		log_err("zstd:chunked TOC: " __VA_ARGS__);         \
		return -EBADMSG;                                   \
	} while (0)

typedef unsigned long long ull;

struct zchunk {
	uint64_t off, end;    /* compressed frame [off, end) */
	uint64_t size;        /* uncompressed */
	bool zeros;
	uint8_t sha[DIGEST_SHA256_LEN];
};

struct zc {
	struct tocb *b;
	uint64_t c_limit;     /* chunks end at or before */
	uint64_t c_cursor;    /* the previous chunk's end: chunks are in blob order */
	uint64_t u;           /* virtual offset of the next data byte */
	size_t idx;           /* entry index, for messages */
	/* the regular file being collected */
	json_t *reg;
	uint64_t reg_size, reg_end, got;
	struct zchunk *ch;
	size_t n_ch, cap_ch;
	struct idx_extent *ext;
	size_t cap_ext;
};

/* "sha256:<64 hex>" -> raw; -EBADMSG otherwise. */
static int get_sha(json_t *o, const char *k, uint8_t sha[DIGEST_SHA256_LEN], bool *present)
{
	const char *s;

	if (idx_json_str(o, k, &s) < 0)
		return -EBADMSG;
	*present = s != NULL;
	if (!s)
		return 0;
	return digest_parse(s, sha) < 0 ? -EBADMSG : 0;
}

static int type_of(const char *t, uint8_t *type)
{
	static const struct {
		const char *name;
		uint8_t type;
	} types[] = { { "reg", IDX_T_REG },	    { "dir", IDX_T_DIR },     { "symlink", IDX_T_SYMLINK },
		      { "hardlink", IDX_T_HARDLINK }, { "char", IDX_T_CHR },    { "block", IDX_T_BLK },
		      { "fifo", IDX_T_FIFO } };

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (t && strcmp(t, types[i].name) == 0) {
			*type = types[i].type;
			return 0;
		}
	return -EBADMSG;
}

/* A name (or hardlink target) that climbs out of the layer is refused, not clamped. */
static bool escapes(const char *p)
{
	for (const char *c = p; c && *c;) {
		size_t n = strcspn(c, "/");

		if (n == 2 && c[0] == '.' && c[1] == '.')
			return true;
		c += n;
		while (*c == '/')
			c++;
	}
	return false;
}

/* The xattrs object: name -> base64 value, decoded into *vals (the caller frees both). */
static int get_xattrs(struct zc *z, json_t *o, struct idx_xattr **xs, uint32_t *n, uint8_t **vals)
{
	json_t *x = json_object_get(o, "xattrs"), *v;
	size_t total = 0, at = 0, i = 0;
	const char *name;

	*xs = NULL;
	*vals = NULL;
	*n = 0;
	if (!x)
		return 0;
	if (!json_is_object(x) || json_object_size(x) > TAR_MAX_XATTRS)
		BAD("entry %zu: xattrs is not an object of at most %u members", z->idx,
		    TAR_MAX_XATTRS);
	json_object_foreach(x, name, v) {
		if (!json_is_string(v) || json_string_length(v) > 4 * (IDX_MAX_XATTR_VALUE / 3 + 1))
			BAD("entry %zu: xattr '%.64s' is not a base64 string", z->idx, name);
		total += json_string_length(v) / 4 * 3 + 3;
	}
	*xs = calloc(json_object_size(x) + 1, sizeof(**xs));
	*vals = malloc(total + 1);
	if (!*xs || !*vals)
		return -ENOMEM;
	json_object_foreach(x, name, v) {
		int len = idx_tar_base64_decode(json_string_value(v), json_string_length(v), *vals + at,
					    total - at);

		if (len < 0 || len > (int)IDX_MAX_XATTR_VALUE)
			BAD("entry %zu: xattr '%.64s' is not base64 of at most 64 KiB", z->idx, name);
		(*xs)[i++] = (struct idx_xattr){ .name = name, .value = *vals + at,
						 .len = (uint32_t)len };
		at += (size_t)len;
	}
	*n = (uint32_t)i;
	return 0;
}

/* The fields every entry type has; @e->path and link point into @o. */
static int common_fields(struct zc *z, json_t *o, uint8_t type, struct idx_entry *e)
{
	uint64_t mode, uid, gid, maj, min;
	const char *mt;

	*e = (struct idx_entry){ .type = type };
	if (idx_json_str(o, "name", &e->path) < 0 || !e->path || idx_json_str(o, "linkName", &e->link) < 0)
		BAD("entry %zu: no name, or a name or linkName that is not a string", z->idx);
	if (escapes(e->path) || (type == IDX_T_HARDLINK && escapes(e->link)))
		BAD("entry %zu ('%.200s'): a path with '..' (escapes the layer)", z->idx, e->path);
	if (idx_json_u64(o, "mode", 07777 | 0170000, &mode) < 0 ||
	    idx_json_u64(o, "uid", UINT32_MAX, &uid) < 0 || idx_json_u64(o, "gid", UINT32_MAX, &gid) < 0 ||
	    idx_json_u64(o, "devMajor", UINT32_MAX, &maj) < 0 ||
	    idx_json_u64(o, "devMinor", UINT32_MAX, &min) < 0 || idx_json_str(o, "modtime", &mt) < 0)
		BAD("entry %zu ('%.200s'): a bad mode, uid, gid, device or modtime", z->idx, e->path);
	if (mt && rfc3339_parse(mt, strlen(mt), &e->mtime_sec, &e->mtime_nsec) < 0)
		BAD("entry %zu ('%.200s'): modtime '%.40s' is not RFC 3339", z->idx, e->path, mt);
	e->mode = (uint32_t)mode;
	e->uid = (uint32_t)uid;
	e->gid = (uint32_t)gid;
	e->dev_major = (uint32_t)maj;
	e->dev_minor = (uint32_t)min;
	if ((type == IDX_T_SYMLINK || type == IDX_T_HARDLINK) && (!e->link || !e->link[0]))
		BAD("entry %zu ('%.200s'): a link with no linkName", z->idx, e->path);
	if (type != IDX_T_SYMLINK && type != IDX_T_HARDLINK)
		e->link = NULL;
	return 0;
}

/* One chunk of the file being collected, from the reg entry or a chunk entry. */
static int add_chunk(struct zc *z, json_t *o, bool first)
{
	uint64_t off, size, coff;
	const char *ct;
	struct zchunk *c;
	bool has_sha;

	if (xarray_grow_size((void **)&z->ch, &z->cap_ch, z->n_ch, sizeof(*z->ch), 16, SIZE_MAX) < 0)
		return -ENOMEM;
	c = &z->ch[z->n_ch];
	*c = (struct zchunk){ 0 };
	if (idx_json_u64(o, "offset", UINT64_MAX, &off) < 0 || idx_json_u64(o, "chunkSize", UINT64_MAX, &size) < 0 ||
	    idx_json_u64(o, "chunkOffset", UINT64_MAX, &coff) < 0 || idx_json_str(o, "chunkType", &ct) < 0 ||
	    get_sha(o, "chunkDigest", c->sha, &has_sha) < 0)
		BAD("entry %zu: a bad offset, chunkSize, chunkOffset, chunkType or chunkDigest", z->idx);
	if (size == 0 || coff != z->got || size > z->reg_size - z->got)
		BAD("entry %zu: chunk at %llu+%llu of a %llu-byte file, %llu bytes already chunked",
		    z->idx, (ull)coff, (ull)size, (ull)z->reg_size, (ull)z->got);
	if (ct && ct[0] && strcmp(ct, "zeros") != 0)
		BAD("entry %zu: chunkType '%.32s' (known: data, zeros)", z->idx, ct);
	c->zeros = ct && ct[0];
	if (!c->zeros && !has_sha)
		BAD("entry %zu: a data chunk with no chunkDigest", z->idx);
	if (off < z->c_cursor || off >= z->c_limit)
		BAD("entry %zu: chunk frame at %llu overlaps the previous one (ends %llu) or is past "
		    "the data (%llu)", z->idx, (ull)off, (ull)z->c_cursor, (ull)z->c_limit);
	if (!first)
		z->ch[z->n_ch - 1].end = off; /* the previous frame ends where this one starts */
	c->off = off;
	c->size = size;
	z->c_cursor = off + 1;
	z->got += size;
	z->n_ch++;
	return 0;
}

/* A reg entry: the file's first (or only) chunk; its entry is emitted by reg_finish(). */
static int reg_start(struct zc *z, json_t *o)
{
	uint64_t size, off, end, chunk;
	const char *name;
	bool has_sha;

	/* checked here: chunk entries and messages compare with it before common_fields() */
	if (idx_json_str(o, "name", &name) < 0 || !name)
		BAD("entry %zu: a file with no name", z->idx);
	if (idx_json_u64(o, "size", UINT64_MAX / 2, &size) < 0 || idx_json_u64(o, "offset", UINT64_MAX, &off) < 0 ||
	    idx_json_u64(o, "endOffset", UINT64_MAX, &end) < 0 ||
	    idx_json_u64(o, "chunkSize", UINT64_MAX, &chunk) < 0)
		BAD("entry %zu: a bad size, offset, endOffset or chunkSize", z->idx);
	z->reg = o;
	z->reg_size = size;
	z->reg_end = end;
	z->got = 0;
	z->n_ch = 0;
	if (size == 0)
		return 0;
	if (end <= off || end > z->c_limit)
		BAD("entry %zu: frames [%llu, %llu) are not inside the data (%llu bytes)", z->idx,
		    (ull)off, (ull)end, (ull)z->c_limit);
	if (chunk)
		return add_chunk(z, o, true);
	/* One chunk: the whole file in [offset, endOffset), verified by the file's digest. */
	if (off < z->c_cursor)
		BAD("entry %zu: frame at %llu overlaps the previous one", z->idx, (ull)off);
	z->ch[0] = (struct zchunk){ .off = off, .size = size }; /* z->ch has room (idx_zc_toc_parse) */
	if (get_sha(o, "digest", z->ch[0].sha, &has_sha) < 0 || !has_sha)
		BAD("entry %zu: a file with no (or a bad) digest", z->idx);
	z->c_cursor = off + 1;
	z->got = size;
	z->n_ch = 1;
	return 0;
}

/* Data chunks become checkpoint + span; runs of them the extents (holes between). */
static int emit_chunks(struct zc *z, struct idx_entry *e, size_t *n_ext)
{
	uint64_t fpos = 0;
	size_t ne = 0;
	uint32_t ck;
	int r;

	if (z->n_ch > z->cap_ext) {
		free(z->ext);
		z->ext = calloc(z->n_ch, sizeof(*z->ext));
		if (!z->ext)
			return -ENOMEM;
		z->cap_ext = z->n_ch;
	}
	e->data_off = z->u;
	for (size_t i = 0; i < z->n_ch; i++) {
		struct zchunk *c = &z->ch[i];

		if (!c->zeros) {
			r = idx_tocb_ckpt(z->b, IDX_CK_ZSTD_FRAME, c->off, z->u, 0, NULL, 0, &ck);
			if (r == 0)
				r = idx_tocb_span(z->b, ck, z->u, c->size, c->end, IDX_SF_WHOLE_FRAMES, c->sha);
			if (r < 0)
				return r;
			if (ne && z->ext[ne - 1].off + z->ext[ne - 1].len == fpos)
				z->ext[ne - 1].len += c->size; /* touching extents are one */
			else
				z->ext[ne++] = (struct idx_extent){ fpos, c->size, z->u };
			z->u += c->size;
		}
		fpos += c->size;
	}
	*n_ext = ne;
	return 0;
}

/* The collected file: its chunks checked for coverage, then spans and its entry. */
static int reg_finish(struct zc *z)
{
	uint8_t *vals = NULL;
	struct idx_xattr *xs = NULL;
	struct idx_entry e;
	size_t ne = 0;
	int r;

	if (!z->reg)
		return 0;
	if (z->got != z->reg_size)
		BAD("'%.200s': chunks hold %llu of its %llu bytes",
		    json_string_value(json_object_get(z->reg, "name")), (ull)z->got,
		    (ull)z->reg_size);
	if (z->n_ch) {
		z->ch[z->n_ch - 1].end = z->reg_end;
		if (z->reg_end <= z->ch[z->n_ch - 1].off)
			BAD("'%.200s': endOffset %llu is not after its last chunk",
			    json_string_value(json_object_get(z->reg, "name")), (ull)z->reg_end);
		z->c_cursor = z->reg_end;
	}
	r = common_fields(z, z->reg, IDX_T_REG, &e);
	if (r == 0)
		r = get_xattrs(z, z->reg, &xs, &e.n_xattrs, &vals);
	e.xattrs = xs;
	e.size = z->reg_size;
	if (r == 0)
		r = emit_chunks(z, &e, &ne);
	/* the builder stores a file whose extents leave no hole as a plain one */
	if (r == 0 && e.size) {
		e.sparse = true;
		e.n_extents = (uint32_t)ne;
		e.extents = z->ext;
	}
	if (r == 0)
		r = idx_tocb_entry(z->b, &e);
	free(xs);
	free(vals);
	z->reg = NULL;
	return r;
}

static int one_entry(struct zc *z, json_t *o)
{
	uint8_t *vals = NULL, type;
	struct idx_xattr *xs = NULL;
	const char *t, *name;
	struct idx_entry e;
	int r;

	if (!json_is_object(o) || idx_json_str(o, "type", &t) < 0 || !t)
		BAD("entry %zu is not an object with a type", z->idx);
	if (strcmp(t, "chunk") == 0) {
		if (!z->reg || idx_json_str(o, "name", &name) < 0 || !name ||
		    strcmp(name, json_string_value(json_object_get(z->reg, "name"))) != 0 ||
		    z->n_ch == 0 || !json_object_get(z->reg, "chunkSize"))
			BAD("entry %zu: a chunk that does not follow its chunked file", z->idx);
		return add_chunk(z, o, false);
	}
	r = reg_finish(z);
	if (r < 0)
		return r;
	if (type_of(t, &type) < 0)
		BAD("entry %zu: unknown type '%.32s'", z->idx, t);
	if (type == IDX_T_REG)
		return reg_start(z, o);
	r = common_fields(z, o, type, &e);
	if (r == 0)
		r = get_xattrs(z, o, &xs, &e.n_xattrs, &vals);
	e.xattrs = xs;
	if (r == 0)
		r = idx_tocb_entry(z->b, &e);
	free(xs);
	free(vals);
	return r;
}

static int parse_entries(struct zc *z, json_t *root, uint64_t *u_size)
{
	json_t *ents = json_object_get(root, "entries"), *v = json_object_get(root, "version");
	size_t i;
	json_t *o;
	int r;

	if (!json_is_integer(v) || json_integer_value(v) != 1)
		BAD("version is not 1");
	if (!json_is_array(ents))
		BAD("no entries array");
	json_array_foreach(ents, i, o) {
		z->idx = i;
		r = one_entry(z, o);
		if (r < 0)
			return r;
	}
	r = reg_finish(z);
	*u_size = z->u;
	return r;
}

int idx_zc_toc_parse(const char *json, size_t len, uint64_t c_limit, const struct idx_foreign_opts *o,
		 struct idx_layer **out)
{
	struct zc z = { .c_limit = c_limit };
	json_error_t jerr;
	uint64_t u_size = 0;
	json_t *root;
	int r;

	if (c_limit > o->blob_size)
		return -EINVAL;
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		log_err("zstd:chunked TOC: not JSON: %s (line %d)", jerr.text, jerr.line);
		return -EBADMSG;
	}
	r = json_is_object(root) ? 0 : -EBADMSG;
	if (r < 0)
		log_err("zstd:chunked TOC: not a JSON object");
	if (r == 0)
		r = idx_tocb_new(IDX_COMP_ZSTD, IDX_FOREIGN_ZSTD_CHUNKED, o, len ? len : 1, &z.b);
	/* room for the one chunk of an unchunked file */
	if (r == 0 && !(z.ch = calloc(16, sizeof(*z.ch))))
		r = -ENOMEM;
	z.cap_ch = z.ch ? 16 : 0;
	if (r == 0)
		r = parse_entries(&z, root, &u_size);
	if (r == 0)
		r = idx_tocb_finish(z.b, u_size, true, out);
	idx_tocb_free(z.b);
	json_decref(root);
	free(z.ch);
	free(z.ext);
	return r;
}
