/* SPDX-License-Identifier: MIT */
/*
 * The eStargz TOC JSON ({"version":1,"entries":[...]}) as a layer, through
 * the TOC builder (index/toc_int.h).
 *
 * Offsets are virtual: the file chunks laid end to end in TOC order, then
 * the TOC file itself (the tar shows "stargz.index.json": so does the
 * layer). Each chunk starts a gzip member at its "offset" (the writer
 * closes a member after each chunk), so it is a checkpoint of kind
 * GZ_MEMBER, and its span decodes from there up to the next chunk's
 * member, stopping after the chunk's bytes (the tar padding and the next
 * tar header follow in the blob). Its sha256 is the chunk's chunkDigest,
 * or the file's digest for a file of one chunk that has none (legacy
 * stargz); any other chunk without a digest refuses the TOC: every byte
 * served is verified against a digest the pinned TOC holds.
 *
 * The TOC file's span starts at the TOC member, tar header included (the
 * builder's spans start at their checkpoint), and is cut in pieces of at
 * most the span size; their digests are those of the bytes read here.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/digest.h"
#include "common/log.h"
#include "common/xarray.h"
#include "common/xmath.h"
#include "index/toc_json.h"
#include "index/estargz_int.h"
#include "index/tar_int.h"
#include "index/toc_int.h"

#define BAD(...)                                             \
	do {                                                 \
		log_err("cannot read eStargz TOC: " __VA_ARGS__); \
		return -EBADMSG;                             \
	} while (0)

typedef unsigned long long ull;

struct chunk {
	uint64_t c_off, u_start, u_len;
	uint8_t sha[DIGEST_SHA256_LEN];
};

struct conv {
	struct tocb *b;
	const struct esgz_toc *t;
	struct chunk *chunks;
	uint32_t n_chunks, cap_chunks;
	uint64_t u_end;          /* virtual offset after the last chunk */
	/* the regular file whose chunks are being read */
	const char *file;        /* its TOC name (borrowed from the JSON) */
	uint64_t file_size, file_next;
	const char *file_digest;
	uint32_t idx;            /* entry number, for messages */
};

static int type_of(const char *s, uint8_t *t, bool *chunk)
{
	static const struct {
		const char *name;
		uint8_t type;
	} map[] = { { "reg", IDX_T_REG },       { "dir", IDX_T_DIR },
		    { "symlink", IDX_T_SYMLINK }, { "hardlink", IDX_T_HARDLINK },
		    { "char", IDX_T_CHR },      { "block", IDX_T_BLK },
		    { "fifo", IDX_T_FIFO },     { "chunk", IDX_T_REG } };

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (s && strcmp(s, map[i].name) == 0) {
			*t = map[i].type;
			*chunk = i == sizeof(map) / sizeof(map[0]) - 1;
			return 0;
		}
	}
	return -EBADMSG;
}

/* The xattrs object: name -> base64 value. *xs is the caller's (free()). */
static int get_xattrs(struct conv *c, json_t *o, struct idx_xattr **xs, uint32_t *n,
		      uint8_t **vals)
{
	json_t *x = json_object_get(o, "xattrs"), *v;
	const char *name;
	size_t total = 0, at = 0;
	int len;

	*xs = NULL;
	*vals = NULL;
	*n = 0;
	if (!x)
		return 0;
	if (!json_is_object(x) || json_object_size(x) > TAR_MAX_XATTRS)
		BAD("entry %u: bad xattrs", c->idx);
	json_object_foreach(x, name, v) {
		if (!json_is_string(v) || !*name)
			BAD("entry %u: bad xattr '%.64s'", c->idx, name);
		total += json_string_length(v) / 4 * 3 + 3;
	}
	*xs = calloc(json_object_size(x) + 1, sizeof(**xs));
	*vals = malloc(total + 1);
	if (!*xs || !*vals)
		return -ENOMEM;
	json_object_foreach(x, name, v) {
		len = idx_tar_base64_decode(json_string_value(v), json_string_length(v), *vals + at,
					XMIN(total - at, (size_t)IDX_MAX_XATTR_VALUE));
		if (len < 0)
			BAD("entry %u: xattr '%.64s' is not base64 of at most 64 KiB", c->idx, name);
		(*xs)[*n].name = name;
		(*xs)[*n].value = *vals + at;
		(*xs)[(*n)++].len = (uint32_t)len;
		at += (size_t)len;
	}
	return 0;
}

/* deflate codes at most 1032 bytes per compressed byte (index/FORMAT.md, Bounds) */
#define GZ_MAX_RATIO 1032

static uint64_t u_limit(const struct conv *c)
{
	return c->t->c_end > UINT64_MAX / GZ_MAX_RATIO ? UINT64_MAX : c->t->c_end * GZ_MAX_RATIO;
}

/* One chunk of the current file: "offset", "chunkOffset", "chunkSize", digests. */
static int add_chunk(struct conv *c, json_t *o)
{
	uint64_t off, coff, csize, inner;
	const char *cd;
	struct chunk *k;
	int r;

	if (idx_json_u64(o, "offset", TAR_MAX_SIZE, &off) < 0 ||
	    idx_json_u64(o, "chunkOffset", TAR_MAX_SIZE, &coff) < 0 ||
	    idx_json_u64(o, "chunkSize", TAR_MAX_SIZE, &csize) < 0 ||
	    idx_json_u64(o, "innerOffset", TAR_MAX_SIZE, &inner) < 0 || idx_json_str(o, "chunkDigest", &cd) < 0)
		BAD("entry %u ('%.200s'): bad chunk fields", c->idx, c->file);
	if (inner) {
		log_err("cannot read eStargz TOC: entry %u ('%.200s') shares a gzip member with "
			"another chunk (innerOffset), which is not read", c->idx, c->file);
		return -ENOTSUP;
	}
	if (coff != c->file_next)
		BAD("entry %u: chunk of '%.200s' at %llu, expected at %llu", c->idx, c->file,
		    (ull)coff, (ull)c->file_next);
	if (csize == 0 || csize > c->file_size - coff)
		csize = c->file_size - coff; /* 0: to the end of the file */
	if (csize > u_limit(c) - c->u_end)
		BAD("entry %u: the chunks up to '%.200s' hold more than %llu compressed bytes can",
		    c->idx, c->file, (ull)c->t->c_end);
	if (off == 0 || off >= c->t->c_off ||
	    (c->n_chunks && off <= c->chunks[c->n_chunks - 1].c_off))
		BAD("entry %u: chunk of '%.200s' at blob offset %llu, not after the previous "
		    "chunk and before the TOC (%llu)", c->idx, c->file, (ull)off, (ull)c->t->c_off);
	r = xarray_grow((void **)&c->chunks, &c->cap_chunks, c->n_chunks, sizeof(*k), 256,
			IDX_MAX_CKPTS);
	if (r < 0)
		return r;
	k = &c->chunks[c->n_chunks];
	if (!cd && coff == 0 && csize == c->file_size)
		cd = c->file_digest; /* a file of one chunk: its digest is the chunk's */
	if (!cd || digest_parse(cd, k->sha) < 0)
		BAD("entry %u: chunk of '%.200s' at %llu has no valid chunkDigest", c->idx,
		    c->file, (ull)coff);
	k->c_off = off;
	k->u_start = c->u_end;
	k->u_len = csize;
	c->n_chunks++;
	c->u_end += csize;
	c->file_next = coff + csize;
	return 0;
}

/* Entry fields common to every type. */
static int fill_entry(struct conv *c, json_t *o, struct idx_entry *e)
{
	uint64_t mode, uid, gid, maj, min;
	const char *mt;

	if (idx_json_u64(o, "mode", UINT32_MAX, &mode) < 0 || idx_json_u64(o, "uid", UINT32_MAX, &uid) < 0 ||
	    idx_json_u64(o, "gid", UINT32_MAX, &gid) < 0 || idx_json_u64(o, "devMajor", UINT32_MAX, &maj) < 0 ||
	    idx_json_u64(o, "devMinor", UINT32_MAX, &min) < 0 || idx_json_str(o, "modtime", &mt) < 0 ||
	    idx_json_str(o, "linkName", &e->link) < 0)
		BAD("entry %u ('%.200s'): a field has the wrong type or range", c->idx, e->path);
	e->mode = (uint32_t)mode; /* the builder keeps 07777, as the tar reader */
	e->uid = (uint32_t)uid;
	e->gid = (uint32_t)gid;
	e->dev_major = (uint32_t)maj;
	e->dev_minor = (uint32_t)min;
	if (mt && rfc3339_parse(mt, strlen(mt), &e->mtime_sec, &e->mtime_nsec) < 0)
		BAD("entry %u ('%.200s'): modtime '%.40s' is not RFC 3339", c->idx, e->path, mt);
	if ((e->type == IDX_T_SYMLINK || e->type == IDX_T_HARDLINK) && (!e->link || !*e->link))
		BAD("entry %u ('%.200s'): a link with no linkName", c->idx, e->path);
	if (e->type != IDX_T_SYMLINK && e->type != IDX_T_HARDLINK)
		e->link = NULL;
	return 0;
}

/* A non-chunk entry: the previous file must be complete. */
static int add_entry(struct conv *c, json_t *o, uint8_t type)
{
	struct idx_entry e = { .type = type };
	struct idx_xattr *xs = NULL;
	uint8_t *vals = NULL;
	uint64_t size;
	int r;

	if (idx_json_str(o, "name", &e.path) < 0 || !e.path)
		BAD("entry %u has no name", c->idx);
	r = fill_entry(c, o, &e);
	if (r == 0 && (idx_json_u64(o, "size", TAR_MAX_SIZE, &size) < 0 ||
		       idx_json_str(o, "digest", &c->file_digest) < 0))
		BAD("entry %u ('%.200s'): bad size or digest", c->idx, e.path);
	if (r == 0)
		r = get_xattrs(c, o, &xs, &e.n_xattrs, &vals);
	if (r == 0 && type == IDX_T_REG) {
		e.size = size;
		e.data_off = c->u_end;
	}
	e.xattrs = xs;
	if (r == 0)
		r = idx_tocb_entry(c->b, &e);
	free(xs);
	free(vals);
	if (r < 0)
		return r;
	c->file = type == IDX_T_REG && size ? e.path : NULL;
	c->file_size = type == IDX_T_REG ? size : 0;
	c->file_next = 0;
	/* A regular file's first chunk is described by its own entry. */
	return c->file ? add_chunk(c, o) : 0;
}

static int add_one(struct conv *c, json_t *o)
{
	const char *ts, *name;
	uint8_t type;
	bool chunk;

	if (!json_is_object(o) || idx_json_str(o, "type", &ts) < 0 || type_of(ts, &type, &chunk) < 0)
		BAD("entry %u: no known type", c->idx);
	if (chunk) {
		if (idx_json_str(o, "name", &name) < 0 || !c->file || !name || strcmp(name, c->file) != 0)
			BAD("entry %u: a chunk that follows no chunk of its file", c->idx);
		return add_chunk(c, o);
	}
	if (c->file && c->file_next != c->file_size)
		BAD("entry %u: the chunks of '%.200s' end at %llu of its %llu bytes", c->idx,
		    c->file, (ull)c->file_next, (ull)c->file_size);
	return add_entry(c, o, type);
}

/* The TOC file: an entry at the end of the virtual space (after every chunk). */
static int add_toc_entry(struct conv *c)
{
	const struct esgz_toc *t = c->t;
	struct idx_entry e = { .type = IDX_T_REG, .mode = t->mode, .uid = t->uid, .gid = t->gid,
			       .mtime_sec = t->mtime_sec, .mtime_nsec = t->mtime_nsec,
			       .size = t->json_len, .data_off = c->u_end + t->hdr_len,
			       .path = t->path };

	return idx_tocb_entry(c->b, &e);
}

/* Its bytes: a checkpoint at the TOC member, then pieces of at most @piece bytes. */
static int add_toc_spans(struct conv *c, uint64_t piece)
{
	const struct esgz_toc *t = c->t;
	uint64_t len = t->hdr_len + t->json_len, at;
	uint8_t sha[DIGEST_SHA256_LEN];
	uint32_t ck;
	int r;

	r = idx_tocb_ckpt(c->b, IDX_CK_GZ_MEMBER, t->c_off, c->u_end, 0, NULL, 0, &ck);
	for (at = 0; r == 0 && at < len; at += piece) {
		uint64_t n = XMIN(piece, len - at);

		digest_sha256(t->raw + at, (size_t)n, sha);
		r = idx_tocb_span(c->b, ck, c->u_end + at, n, t->c_end, 0, sha);
	}
	c->u_end += len;
	return r;
}

static int add_spans(struct conv *c)
{
	uint32_t ck;
	int r = 0;

	for (uint32_t i = 0; i < c->n_chunks && r == 0; i++) {
		const struct chunk *k = &c->chunks[i];
		uint64_t c_end = i + 1 < c->n_chunks ? c->chunks[i + 1].c_off : c->t->c_off;

		if (k->u_len / GZ_MAX_RATIO > c_end - k->c_off)
			BAD("a chunk of %llu bytes in %llu compressed bytes", (ull)k->u_len,
			    (ull)(c_end - k->c_off));
		r = idx_tocb_ckpt(c->b, IDX_CK_GZ_MEMBER, k->c_off, k->u_start, 0, NULL, 0, &ck);
		if (r == 0)
			r = idx_tocb_span(c->b, ck, k->u_start, k->u_len, c_end, 0, k->sha);
	}
	return r;
}

static int convert(struct conv *c, json_t *root)
{
	json_t *ents = json_object_get(root, "entries"), *v = json_object_get(root, "version");
	uint64_t biggest = 0, piece;
	size_t i;
	json_t *o;
	int r = 0;

	if (!json_is_integer(v) || json_integer_value(v) != 1) {
		log_err("cannot read eStargz TOC: version is not 1");
		return -ENOTSUP;
	}
	if (!json_is_array(ents))
		BAD("no entries array");
	json_array_foreach(ents, i, o) {
		c->idx = (uint32_t)i;
		r = add_one(c, o);
		if (r < 0)
			return r;
	}
	if (c->file && c->file_next != c->file_size)
		BAD("the chunks of '%.200s' end at %llu of its %llu bytes", c->file,
		    (ull)c->file_next, (ull)c->file_size);
	r = add_toc_entry(c);
	if (r == 0)
		r = add_spans(c);
	for (uint32_t k = 0; k < c->n_chunks; k++)
		biggest = XMAX(biggest, c->chunks[k].u_len);
	piece = XMIN(XMAX(biggest, (uint64_t)IDX_MIN_SPAN_SIZE), (uint64_t)IDX_DEFAULT_SPAN_SIZE);
	if (r == 0)
		r = add_toc_spans(c, piece);
	return r;
}

int idx_esgz_toc_layer(const struct esgz_toc *t, const struct idx_foreign_opts *o,
		   struct idx_layer **out)
{
	struct conv c = { .t = t };
	json_error_t err;
	json_t *root;
	int r;

	root = json_loadb((const char *)t->raw + t->hdr_len, (size_t)t->json_len,
			  JSON_REJECT_DUPLICATES, &err);
	if (!root || !json_is_object(root)) {
		log_err("cannot read eStargz TOC: not a JSON object%s%s", root ? "" : ": ",
			root ? "" : err.text);
		json_decref(root);
		return -EBADMSG;
	}
	r = idx_tocb_new(IDX_COMP_GZIP, IDX_FOREIGN_ESTARGZ, o, t->json_len, &c.b);
	if (r == 0)
		r = convert(&c, root);
	if (r == 0)
		r = idx_tocb_finish(c.b, c.u_end, true, out);
	idx_tocb_free(c.b);
	free(c.chunks);
	json_decref(root);
	return r;
}
