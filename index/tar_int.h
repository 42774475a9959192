/* SPDX-License-Identifier: MIT */
/*
 * index/ internal: a push parser of the uncompressed tar stream of a layer.
 * The builder feeds it whatever chunks the decompressor produces (any size,
 * down to one byte); the parser calls back once per real member, after all
 * of that member's headers (pax 'x'/'g', GNU 'L'/'K') are parsed and before
 * its data, with a fully normalised entry. Member data is never buffered:
 * the parser only counts it, so memory stays bounded whatever the layer.
 *
 * Accepted: POSIX ustar, pax (extended headers, Solaris 'X'; global headers
 * are parsed, so a malformed one fails, then dropped, as containerd does),
 * GNU (long names/links, base-256 numbers, old-style headers), GNU sparse
 * files (old GNU 'S', pax 0.0, 0.1 and 1.0; tar_sparse.c), both checksum
 * variants (unsigned and signed byte sums). Rejected with a logged reason:
 * bad checksums, invalid whiteout names, NUL bytes in paths, sizes >= 2^62,
 * special payloads > 1 MiB (-EFBIG), unknown sparse versions and
 * multi-volume members (-ENOTSUP). The rules, with examples: docs/tar.md.
 *
 * Not thread-safe: one parser per thread. Only used inside index/.
 */
#ifndef INDEX_TAR_INT_H
#define INDEX_TAR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/dbuf.h"
#include "index/index.h"

/* Ceiling of a pax 'x'/'g' payload or a GNU 'L'/'K' long name (as Go). */
#define TAR_MAX_SPECIAL (1u << 20)
/* Ceiling of the xattrs of one member (count). */
#define TAR_MAX_XATTRS IDX_MAX_XATTRS
/* Ceiling of the extents of one sparse member (-EFBIG past it). */
#define TAR_MAX_EXTENTS (1u << 17)
/* Ceiling of a member's size (and any offset): 2^62. */
#define TAR_MAX_SIZE (UINT64_C(1) << 62)

/*
 * One real member, as handed to tar_callbacks.on_entry. Every pointer is
 * borrowed and valid only during the callback: copy what you keep.
 * The field names and meanings match struct idx_entry.
 */
struct tar_entry {
	enum idx_type type;  /* any of enum idx_type, WHITEOUT/OPAQUE included */
	uint32_t mode;       /* permission bits only (07777) */
	uint32_t uid, gid;   /* pax uid/gid override the header; uname/gname ignored */
	int64_t mtime_sec;   /* may be negative (pre-1970) */
	uint32_t mtime_nsec; /* from a pax mtime fraction; 0 otherwise */
	uint64_t size;       /* REG: content size; 0 for every other type */
	uint32_t dev_major, dev_minor; /* CHR/BLK; 0 otherwise */
	/*
	 * Offset in the uncompressed stream of the member's content (REG:
	 * the file's bytes are [data_off, data_off + size)). For other types,
	 * where the content would start (nothing to read there).
	 */
	uint64_t data_off;
	/* Offset of the member's first header block (its pax/GNU headers incl.). */
	uint64_t header_off;
	/*
	 * Normalised path: no leading "/" or "./", no "//", no trailing "/",
	 * never a ".." component (cleaned away); "" is the root directory.
	 * WHITEOUT: the hidden path ("a/.wh.b" -> "a/b");
	 * OPAQUE: the opaque directory ("a/.wh..wh..opq" -> "a", root -> "").
	 */
	const char *path;
	/*
	 * SYMLINK: the target exactly as in the archive (not normalised: a
	 * symlink may point anywhere, the kernel resolves it in the mount).
	 * HARDLINK: the target path, normalised like @path (never "").
	 * NULL for every other type.
	 */
	const char *link;
	/*
	 * GNU sparse (REG only): @size is the apparent size, the data the
	 * @n_extents extents (tar_off filled in) packed from data_off on.
	 */
	bool sparse;
	uint32_t n_extents;
	const struct idx_extent *extents;
	uint32_t n_xattrs;
	/*
	 * In archive order (pax records order; a name given twice keeps the
	 * last value). Names are NUL-terminated; values are binary, @len bytes.
	 */
	const struct idx_xattr *xattrs;
};

struct tar_callbacks {
	/*
	 * Called once per real member (ustar/GNU headers and the pax/GNU
	 * headers before it fully parsed), before its data is fed. AUFS
	 * metadata (".wh..wh.*" other than the opaque marker), GNU volume
	 * labels ('V') and pax global headers produce no call.
	 * Return 0 to continue, <0 to abort: idx_tar_parser_feed() returns it.
	 */
	int (*on_entry)(void *ctx, const struct tar_entry *e);
};

struct tar_parser;

/*
 * New parser calling @cb with @ctx. @cb is copied; @ctx is borrowed.
 * Returns 0, -EINVAL (no on_entry), -ENOMEM.
 */
int idx_tar_parser_new(const struct tar_callbacks *cb, void *ctx, struct tar_parser **out);

/*
 * Feed the next @n bytes of the uncompressed stream (any @n, 0 is a no-op).
 * Returns 0 or the first error; after an error the parser is dead and every
 * later call returns that same error:
 *   -EBADMSG  malformed header (checksum, number, path escaping the layer,
 *             NUL in a path, lying pax record, ...), logged with the reason
 *   -EFBIG    a pax/GNU special payload > TAR_MAX_SPECIAL, pax records
 *             of one header over TAR_MAX_SPECIAL
 *             bytes or TAR_MAX_PAX_RECORDS, a path > IDX_MAX_PATH, an
 *             xattr value > IDX_MAX_XATTR_VALUE, a size >= TAR_MAX_SIZE,
 *             more than TAR_MAX_XATTRS xattrs or TAR_MAX_EXTENTS
 *             sparse extents
 *   -ENOTSUP  GNU sparse member of an unknown version,
 *             multi-volume continuation ('M'), old GNU long names ('N')
 *   -ENOMEM
 *   <0        whatever on_entry returned
 * Bytes after the end-of-archive blocks are counted and ignored (a warning
 * is logged once at finish if they are not all zero).
 */
int idx_tar_parser_feed(struct tar_parser *p, const void *buf, size_t n);

/*
 * The stream is over. Returns 0 when it ended at a member boundary: after
 * the end-of-archive block(s), or right after the last member's data with
 * or without its padding and with no EOF blocks (as umoci 0.4.7 writes
 * layers; docs/tar.md). Returns -EBADMSG when it ends inside a header, inside a member's
 * data, or after pax/GNU headers with no member to apply them to; or the
 * parser's earlier error.
 */
int idx_tar_parser_finish(struct tar_parser *p);

/* Bytes fed so far. */
uint64_t idx_tar_parser_offset(const struct tar_parser *p);

/* Number of real members reported through on_entry so far. */
uint64_t idx_tar_parser_count(const struct tar_parser *p);

/* No-op on NULL. */
void idx_tar_parser_free(struct tar_parser *p);

/*
 * Normalise the archive path @in (@len bytes, no NUL required) into @out
 * (@out_size bytes incl. the NUL): strip leading "/" and "./", collapse
 * "//" and "/./", drop a trailing "/". "." and "/" become "". A ".."
 * removes the component before it and is dropped at the root: "a/../b" is
 * "b", "../../etc" is "etc" (containerd cleans a member's name with Go's
 * filepath.Clean and joins it under the root, where ".." cannot climb).
 * Returns the length, -EBADMSG if the input holds a NUL byte, -EFBIG if
 * the result does not fit (or exceeds IDX_MAX_PATH).
 * Used for member names and hardlink targets alike.
 */
int idx_tar_path_normalise(const char *in, size_t len, char *out, size_t out_size);

/*
 * The OCI whiteout names of a normalised @path, in place: "<dir>/.wh.<name>"
 * becomes "<dir>/<name>" with *type IDX_T_WHITEOUT, "<dir>/.wh..wh..opq"
 * becomes "<dir>" with IDX_T_OPAQUE. Returns 1 for aufs metadata
 * (".wh..wh.*" other than the opaque marker: to be skipped), -EBADMSG for
 * a whiteout of "", "." or "..", 0 otherwise (*type untouched when the
 * name is no whiteout). Shared by the tar reader and the TOC builder.
 */
int idx_tar_whiteout_map(char *path, enum idx_type *type);

/* ---- shared between index/tar*.c only; not for the rest of index/ ---- */

/* Ceiling of the records one pax key/value set holds. */
#define TAR_MAX_PAX_RECORDS (TAR_MAX_XATTRS + 64)

/* One pax record; key and value share one allocation, both NUL-terminated. */
struct tar_kv {
	char *key;
	const uint8_t *val;
	uint32_t vlen;
};

/* Small set of pax records, later records of the same key replace earlier. */
struct tar_kvset {
	struct tar_kv *v;
	uint32_t n, cap;
	size_t bytes; /* keys + values, <= TAR_MAX_SPECIAL */
	/*
	 * GNU sparse 0.0: the repeated GNU.sparse.offset / numbytes records,
	 * in order (offset, length, offset, ...); a key set cannot hold them.
	 */
	uint64_t *sp00;
	uint32_t sp00_n, sp00_cap;
};

void idx_tar_kvset_clear(struct tar_kvset *s);
const struct tar_kv *idx_tar_kvset_get(const struct tar_kvset *s, const char *key);
/*
 * Parse the payload of a pax header into @s. @global: an empty value
 * deletes the key (a 'g' header); otherwise it is stored empty (an 'x'
 * header: "fall back to the ustar field"). -EBADMSG, -EFBIG, -ENOMEM.
 */
int idx_tar_pax_parse(const char *buf, size_t len, bool global, struct tar_kvset *s);

/* Header number: octal (NUL/space padded) or GNU base-256 (may be negative). */
int idx_tar_num_field(const uint8_t *f, size_t len, int64_t *out);
/* pax decimal, digits only, <= @max. */
int idx_tar_dec_u64(const char *s, size_t len, uint64_t max, uint64_t *out);
/* pax time "[-]sec[.frac]"; nsec in [0, 1e9). */
int idx_tar_dec_time(const char *s, size_t len, int64_t *sec, uint32_t *nsec);
/* Returns the decoded length; -EBADMSG, -EFBIG when over @cap. */
int idx_tar_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap);
/* %XX decoding into a NUL-terminated @out; NUL bytes are refused. */
int idx_tar_url_decode(const char *in, size_t len, char *out, size_t cap);

#define TAR_BLOCK 512

enum tar_state {
	TAR_ST_HEADER,
	TAR_ST_COLLECT,
	TAR_ST_SPARSE, /* blocks of a sparse map: old GNU extensions or the 1.0 map */
	TAR_ST_SKIP,
	TAR_ST_PAD,
	TAR_ST_END,
};

/* A sparse member whose map is still being read (tar_sparse.c). */
struct tar_sparse {
	bool pax10;              /* map in the data (1.0), else old GNU extension headers */
	struct idx_extent *ext;  /* the map as read, then normalised */
	uint32_t n, cap;
	uint64_t real;           /* apparent size */
	uint64_t data;           /* member data bytes left (1.0: map blocks included) */
	bool have_count;         /* 1.0: the count of pairs has been read */
	uint64_t want, got;      /* 1.0: numbers after the count: expected, read */
	uint64_t num;            /* 1.0: number being read */
	bool digits;             /* 1.0: num has digits */
	uint64_t pend_off;       /* 1.0: the offset of the pair being read */
	struct tar_entry held;   /* the member, reported once the map is complete */
	bool skip;               /* ... or not: it names the root */
};

struct tar_parser {
	struct tar_callbacks cb;
	void *ctx;
	int err;              /* sticky: the first error */
	enum tar_state st;
	uint64_t off;         /* bytes fed */
	uint64_t count;       /* members reported */
	uint64_t remain;      /* COLLECT/SKIP: bytes left */
	uint64_t member_off;  /* first header block of the current member */
	uint8_t blk[TAR_BLOCK];
	size_t blk_len;
	char special;         /* COLLECT: 'x', 'g', 'L' or 'K' */
	bool pending;         /* an 'x'/'L'/'K' waits for its member */
	const char *pending_what; /* what kind of header waits, for messages */
	bool garbage;         /* non-zero bytes after the end of archive */
	struct dbuf coll;     /* special payload, <= TAR_MAX_SPECIAL */
	char *longname, *longlink;
	struct tar_kvset local, global; /* global: a 'g' header's, dropped once checked */
	char path[IDX_MAX_PATH + 1];
	char link[IDX_MAX_PATH + 1];
	struct idx_xattr xattrs[TAR_MAX_XATTRS];
	struct tar_sparse sp;
};

/* Move on after a header or payload: skip @len data bytes, then pad. */
void idx_tar_enter_data(struct tar_parser *p, uint64_t len);
/* Verify the checksum of header block @h (either variant); -EBADMSG. */
int idx_tar_hdr_check(struct tar_parser *p, const uint8_t *h);
/* A real member's header: build the entry, call back, skip its data. */
int idx_tar_hdr_member(struct tar_parser *p, const uint8_t *h);
/* Report @e (unless @skip), forget the pax/GNU headers, skip @data bytes. */
int idx_tar_hdr_emit(struct tar_parser *p, const struct tar_entry *e, bool skip, uint64_t data);

/*
 * After a REG member's header (entry and attributes built; *data = member
 * data bytes): if it is GNU sparse, read its map. 0: not sparse, or the map
 * was in the headers and @e is complete (size = apparent size, extents set,
 * *data unchanged). 1: the map follows in blocks; the parser holds @e and
 * is in TAR_ST_SPARSE. -EBADMSG, -EFBIG, -ENOTSUP, -ENOMEM.
 */
int idx_tar_sparse_start(struct tar_parser *p, const uint8_t *h, struct tar_entry *e, uint64_t *data);
/* TAR_ST_SPARSE: one more 512-byte block of the map in p->blk. */
int idx_tar_sparse_block(struct tar_parser *p);
void idx_tar_sparse_release(struct tar_sparse *sp);

#endif
