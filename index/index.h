/* SPDX-License-Identifier: MIT */
/*
 * index/: everything about one layer blob that does not need a network.
 * A tar reader, random access into gzip (zran checkpoints), zstd (frames)
 * and plain tar, the stratafs index (entries + spans + checkpoints, see
 * index/FORMAT.md), reading any file range through it, and the merge of N
 * layer indexes into one tree with OCI whiteout semantics.
 *
 * index/ does no I/O of its own: it is fed by a stream callback (build) or
 * reads through a struct idx_reader (random access), so the same code runs
 * on a local file, on memory and on a registry blob.
 *
 * Thread-safety: a loaded struct idx_layer and a built struct idx_tree are
 * immutable (a lazy tree: see IDX_TREE_LAZY) and may be read from any number of threads. Builders are owned
 * by one thread.
 *
 * Errors: -errno. Malformed input (bad tar, bad index, digest mismatch,
 * corrupt compressed data) -> -EBADMSG; over a ceiling -> -EFBIG; unknown
 * major version -> -EPROTONOSUPPORT; absent path -> -ENOENT. The detail is
 * logged once where it is detected.
 */
#ifndef INDEX_INDEX_H
#define INDEX_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/digest.h"

/* Indexes of layers others wrote: a gzip checkpoint keeps a 32 KiB window. */
#define IDX_DEFAULT_SPAN_SIZE (4u << 20)
/*
 * Layers strata writes: one gzip member or zstd frame per span costs no
 * window, and a small file read alone costs its span. 1 MiB spans cost
 * 0.3 % of gzip size on C headers (256 KiB: 1.4 %) and fetch 3.6x less
 * than 4 MiB for a build reading 84 packages scattered over a 1 GB npm
 * cache; sequential reads are as fast (readahead counts bytes). strata
 * push picks 256 KiB for trees of mostly small files (tools/dir_layer.c).
 */
#define IDX_WRITER_SPAN_SIZE (1u << 20)
#define IDX_MIN_SPAN_SIZE (64u << 10)
#define IDX_MAX_SPAN_SIZE (64u << 20)
#define IDX_MAX_ENTRIES (16u << 20)
#define IDX_MAX_PATH 4096
#define IDX_MAX_XATTR_VALUE (64u << 10)
#define IDX_MAX_XATTRS 1024 /* xattrs of one entry */
#define IDX_MAX_EXTENTS (16u << 20) /* sparse file extents of one layer */
#define IDX_MAX_FILE_SIZE (256u << 20) /* ceiling of a serialized index */

/* Random-access reader of a blob (compressed layer or anything else). */
struct idx_reader {
	void *ctx;
	/* Read up to @n bytes at @off; returns the count (0 at EOF) or -errno. */
	ssize_t (*read_at)(void *ctx, void *buf, size_t n, uint64_t off);
};

/* Sequential source for building: the count (0 at EOF) or -errno. */
typedef ssize_t (*idx_stream_fn)(void *ctx, void *buf, size_t n);

enum idx_comp {
	IDX_COMP_AUTO = -1, /* build only: sniff the magic */
	IDX_COMP_NONE = 0,
	IDX_COMP_GZIP = 1,
	IDX_COMP_ZSTD = 2,
};

/* "tar", "gzip", "zstd" */
const char *idx_comp_name(enum idx_comp c);
/* From an OCI/Docker layer media type; IDX_COMP_AUTO when it does not say. */
enum idx_comp idx_comp_from_media_type(const char *media_type);

/* Layer media types (OCI image-spec media-types.md; Docker's image manifest v2 schema 2). */
#define IDX_MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define IDX_MT_OCI_LAYER_GZIP IDX_MT_OCI_LAYER "+gzip"
#define IDX_MT_OCI_LAYER_ZSTD IDX_MT_OCI_LAYER "+zstd"
#define IDX_MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar"
#define IDX_MT_DOCKER_LAYER_GZIP IDX_MT_DOCKER_LAYER ".gzip"

/* The OCI layer media type of a blob compressed with @c (AUTO: uncompressed). */
const char *idx_comp_media_type(enum idx_comp c);
/* @media_type with a Docker layer type replaced by its OCI twin; others as they are. */
const char *idx_oci_layer_media_type(const char *media_type);

/*
 * OCI whiteouts (image-spec layer.md): a member ".wh.<name>" hides <name>
 * of the layers below, "<dir>/.wh..wh..opq" makes <dir> opaque, and other
 * ".wh..wh." names are aufs metadata.
 */
#define IDX_WH_PREFIX ".wh."
#define IDX_WH_META_PREFIX ".wh..wh."
#define IDX_WH_OPAQUE ".wh..wh..opq"

enum idx_type {
	IDX_T_REG = 0,
	IDX_T_DIR,
	IDX_T_SYMLINK,
	IDX_T_HARDLINK, /* link = target path inside the image */
	IDX_T_CHR,
	IDX_T_BLK,
	IDX_T_FIFO,
	IDX_T_WHITEOUT, /* ".wh.<name>": path is the hidden <dir>/<name> */
	IDX_T_OPAQUE,   /* ".wh..wh..opq": path is the opaque dir */
};

struct idx_xattr {
	const char *name;
	const uint8_t *value;
	uint32_t len;
};

/*
 * Where a sparse file keeps its data: file bytes [off, off + len) are the
 * tar bytes [tar_off, tar_off + len). Extents are sorted, never touch or
 * overlap, are never empty; what lies between them (and after the last, up
 * to the file size) is a hole and reads as zeros.
 */
struct idx_extent {
	uint64_t off, len;
	uint64_t tar_off;
};

/* One tar member; all pointers are borrowed, valid as long as the layer. */
struct idx_entry {
	uint8_t type;      /* enum idx_type */
	uint32_t mode;     /* permission bits incl. suid/sgid/sticky (07777) */
	uint32_t uid, gid;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint64_t size;     /* file size (REG); 0 otherwise */
	uint32_t dev_major, dev_minor;
	uint64_t data_off; /* offset of the content in the uncompressed tar */
	const char *path;  /* normalised: no leading "/" or "./", no "..", "" = root */
	const char *link;  /* SYMLINK target or HARDLINK target path; else NULL */
	uint32_t n_xattrs;
	const struct idx_xattr *xattrs;
	/*
	 * A GNU sparse file (REG only): its data is the @n_extents extents,
	 * packed from data_off on, and @size is the file's apparent size.
	 * false: the bytes are [data_off, data_off + size) of the tar.
	 */
	bool sparse;
	uint32_t n_extents;
	const struct idx_extent *extents;
};

/*
 * Where byte @off of regular-file entry @e is: returns how many bytes from
 * @off on (at most @n, never past the file's end) lie in one piece, and
 * sets *tar_off to the tar offset of byte @off, or to UINT64_MAX when the
 * piece is a hole (zeros: nothing to read). 0 at or past the end of file.
 * O(log n_extents).
 */
uint64_t idx_entry_map(const struct idx_entry *e, uint64_t off, uint64_t n, uint64_t *tar_off);

/* The bytes of @e stored in the tar: [data_off, data_off + result). */
uint64_t idx_entry_stored(const struct idx_entry *e);

struct idx_layer; /* opaque; immutable once built or loaded */

/*
 * The sha256 of regular file @path's content as a reader sees it (a sparse
 * file's holes as zeros), @size bytes. Return < 0 to abort the build.
 */
typedef int (*idx_file_sum_fn)(void *ctx, const char *path, uint64_t size,
			       const uint8_t sha[DIGEST_SHA256_LEN]);

struct idx_build_opts {
	uint64_t span_size;         /* 0 -> IDX_DEFAULT_SPAN_SIZE */
	enum idx_comp comp;         /* IDX_COMP_AUTO to sniff */
	const char *blob_digest;    /* expected sha256 of the blob, or NULL */
	const char *diff_id;        /* expected sha256 of the tar, or NULL */
	/*
	 * Optional: called once per regular-file member, in tar order, when
	 * its last byte has streamed past (duplicates each time: the last one
	 * is the live entry's). Costs one more sha256 pass over file data.
	 * The whole-layer check of a foreign TOC compares contents with it.
	 */
	idx_file_sum_fn on_file;
	void *on_file_ctx;
};

struct idx_build_stats {
	uint64_t blob_size;     /* compressed bytes read */
	uint64_t tar_size;      /* uncompressed bytes */
	uint32_t n_duplicates;  /* paths that appeared twice (the last won) */
	bool sequential_only;   /* single-frame zstd: no random access */
};

/*
 * Build the index of a layer blob in one streaming pass over @read, with no
 * temporary copy of the layer. Computes the blob digest and diff_id on the
 * way and checks them against @o when given (-EBADMSG on mismatch).
 */
int idx_build(const struct idx_build_opts *o, idx_stream_fn read, void *ctx,
	      struct idx_layer **out, struct idx_build_stats *stats);

/* Serialize deterministically, zstd-compressed; *buf is the caller's (free()). */
int idx_save(const struct idx_layer *l, void **buf, size_t *len);
/*
 * Validate every count, offset and length, then load. Counts and section
 * sizes are checked against what the layer can hold (FORMAT.md "Bounds") on
 * the payload header, before the payload is decompressed: -EFBIG for an
 * index that declares more than its layer can hold, -EBADMSG for any other
 * violation, -EPROTONOSUPPORT for an unknown major, -ENOMEM.
 */
int idx_load(const void *buf, size_t len, struct idx_layer **out);
/*
 * idx_load() for the layer a descriptor names: -EBADMSG, before any heavy
 * work, unless the index's blob is @blob_digest ("sha256:<hex>") of
 * @blob_size bytes. Its tar size, hence every bound, then follows from the
 * real blob (except for zstd, whose ratio is unbounded). -EINVAL for a
 * malformed @blob_digest.
 */
int idx_load_for(const void *buf, size_t len, const char *blob_digest, uint64_t blob_size,
		 struct idx_layer **out);
void idx_layer_free(struct idx_layer *l);

struct idx_info {
	enum idx_comp comp;
	char blob_digest[DIGEST_STR_LEN];
	char diff_id[DIGEST_STR_LEN];
	uint64_t blob_size;
	uint64_t tar_size;
	uint64_t span_size;
	uint32_t n_entries;
	uint32_t n_spans;
	bool random_access; /* false: every read decodes from the start */
	uint8_t foreign;      /* enum idx_foreign (index/foreign.h): whose TOC this came from */
	bool virtual_offsets; /* offsets are a foreign TOC's chunks end to end, not tar offsets */
	uint64_t toc_len;     /* foreign: the TOC bytes the layer was read from; else 0 */
	/*
	 * SOCI: "sha256:<hex>" of the zTOC, which fixes how every span decodes
	 * (its spans name only their compressed bytes: fs/ keys their cache by
	 * it); "" otherwise.
	 */
	char toc_digest[DIGEST_STR_LEN];
};
void idx_layer_info(const struct idx_layer *l, struct idx_info *out);

uint32_t idx_entry_count(const struct idx_layer *l);
/*
 * Entries in tar order after duplicate resolution; NULL if @id is out of
 * range. A loaded layer validates every entry at load and decodes each the
 * first time it is asked for (thread-safe; the pointer stays valid).
 */
const struct idx_entry *idx_entry_get(const struct idx_layer *l, uint32_t id);
/*
 * By normalised path; -ENOENT if absent. One path may name a real entry, a
 * whiteout and an opaque marker of the same layer at once ("a" and
 * "a/.wh..wh..opq"): the real entry is found first, then the whiteout,
 * then the opaque marker. O(log n), no allocation.
 */
int idx_entry_find(const struct idx_layer *l, const char *path, uint32_t *id);

/* ---- spans: the unit of fetching, decoding, verifying and caching ---- */

struct idx_span {
	uint64_t u_start, u_len;  /* uncompressed range [u_start, u_start+u_len) */
	uint64_t c_start, c_end;  /* compressed bytes needed to decode it */
	uint8_t sha256[DIGEST_SHA256_LEN]; /* of the uncompressed bytes, unless: */
	/*
	 * SOCI: sha256 is of the compressed bytes [c_start, c_end), checked by
	 * idx_span_decode() before decoding; nothing in the index names the
	 * decoded bytes' digest (the span cache learns it when it decodes).
	 */
	bool sha_compressed;
};

uint32_t idx_span_count(const struct idx_layer *l);
int idx_span_get(const struct idx_layer *l, uint32_t id, struct idx_span *out);
/* The span holding uncompressed offset @u_off; -ERANGE past the end. */
int idx_span_find(const struct idx_layer *l, uint64_t u_off, uint32_t *id);

/*
 * Decode span @id from @cbuf = compressed bytes [c_start, c_end) of the
 * blob into @out (u_len bytes), then check the sha256 stored for the span:
 * -EBADMSG on any mismatch or corrupt input. Thread-safe.
 * Bytes of @cbuf past c_end - c_start are ignored; -EINVAL when @clen is
 * shorter than that, @out_len shorter than u_len, or @id out of range.
 * Ranges of adjacent spans may overlap (by one byte at a mid-byte gzip
 * checkpoint, or more when a span decodes from an earlier checkpoint).
 */
int idx_span_decode(const struct idx_layer *l, uint32_t id, const void *cbuf, size_t clen,
		    void *out, size_t out_len);

/*
 * Read @n bytes at @off of regular-file entry @id through @blob (a reader
 * of the compressed layer), decoding only the spans needed and verifying
 * each. Returns the count (short at end of file) or -errno. No cache: for
 * tools and tests; the daemon uses spans directly.
 */
ssize_t idx_file_read(const struct idx_layer *l, uint32_t id, const struct idx_reader *blob,
		      void *buf, size_t n, uint64_t off);

/* ---- merged tree ------------------------------------------------------ */

#define IDX_ROOT_INO 1

struct idx_node {
	uint64_t ino;
	uint64_t parent;      /* ino of the parent dir; the root's is itself */
	const char *name;     /* last component; "" for the root */
	uint16_t layer;       /* which layer's entry supplies the attributes */
	uint32_t entry;       /* entry id in that layer (hardlinks: the target's) */
	uint8_t type;         /* enum idx_type; never HARDLINK/WHITEOUT/OPAQUE */
	uint32_t nlink;
	uint64_t size;        /* REG: file size; DIR: a size like a real fs shows; SYMLINK: target len */
	uint32_t n_children;  /* DIR */
};

/*
 * idx_node.entry of a directory synthesised for a parent missing from the
 * tars; idx_tree_entry() then returns shared attributes (0755, root:root,
 * mtime 0, path "").
 */
#define IDX_TREE_NO_ENTRY UINT32_MAX

struct idx_tree; /* opaque; immutable once built */

enum idx_tree_flags {
	IDX_TREE_KEEP_WHITEOUTS = 1 << 0, /* show ".wh.*" entries as empty files (a single layer's view) */
	/*
	 * Merge a directory's children when it is first read, not the whole
	 * tree up front (index/tree_lazy.c): the same tree, but inode numbers
	 * follow the order of the reads, and idx_tree_count() counts the
	 * inodes handed out so far. Layers that need what only the whole merge
	 * does (a member under a symlinked dir, a hardlink through a symlink,
	 * a file with members below it in its own layer, unnormalised entries,
	 * KEEP_WHITEOUTS over several layers) are merged whole, as without it.
	 * The tree is then written by readers (under its own lock): still safe
	 * from any number of threads. A query may fail with -ENOMEM.
	 */
	IDX_TREE_LAZY = 1 << 1,
};

/*
 * Merge @n layers, layers[0] lowest, with OCI whiteouts and opaque dirs
 * applied against lower layers only; hardlinks share an inode; parent dirs
 * missing from the tar are synthesised (0755, root). The layers must outlive
 * the tree.
 */
int idx_tree_build(const struct idx_layer *const *layers, size_t n, unsigned flags,
		   struct idx_tree **out);
void idx_tree_free(struct idx_tree *t);

/* Inodes are 1..count, the root is IDX_ROOT_INO. */
uint64_t idx_tree_count(const struct idx_tree *t);
/* Directories a lazy tree has merged so far; UINT64_MAX for a tree merged whole. */
uint64_t idx_tree_merged_dirs(const struct idx_tree *t);
const struct idx_node *idx_tree_node(const struct idx_tree *t, uint64_t ino);
const struct idx_entry *idx_tree_entry(const struct idx_tree *t, const struct idx_node *n);
int idx_tree_lookup(const struct idx_tree *t, uint64_t dir, const char *name, uint64_t *ino);
/* The @pos-th child of @dir in name order; -ENOENT past the end. */
int idx_tree_child(const struct idx_tree *t, uint64_t dir, uint32_t pos, const struct idx_node **out);
/* Resolve a "/"-separated path from the root; "" or "/" is the root. */
int idx_tree_resolve(const struct idx_tree *t, const char *path, uint64_t *ino);

/* ---- writing a seekable layer (strata push / commit) ------------------ */

struct idx_writer_opts {
	enum idx_comp comp;  /* IDX_COMP_GZIP, IDX_COMP_ZSTD or IDX_COMP_NONE */
	int level;           /* 0: the default (gzip 6, zstd 3) */
	uint64_t span_size;  /* 0: IDX_WRITER_SPAN_SIZE */
	unsigned threads;    /* zstd workers; 0: the online CPUs */
};

/* Receives the compressed blob in order; return < 0 to abort with that code. */
typedef int (*idx_sink_fn)(void *ctx, const void *buf, size_t n);

struct idx_writer; /* owned by one thread */

/*
 * A tar writer whose output is seekable by construction: a new gzip member
 * or zstd frame starts at each span boundary, so the index it builds in the
 * same pass needs no windows. The blob stays plain tar+gzip / tar+zstd that
 * every client reads. Deterministic: the same members give the same bytes.
 */
int idx_writer_new(const struct idx_writer_opts *o, idx_sink_fn sink, void *ctx,
		   struct idx_writer **out);

/*
 * Append a member described by @e (path normalised, type, mode, uid, gid,
 * mtime, size, link, xattrs, device numbers; data_off ignored). Pax headers
 * are written when needed (long names or links, big numbers, sub-second
 * mtimes, xattrs). IDX_T_WHITEOUT / IDX_T_OPAQUE become ".wh.<name>" /
 * "<dir>/.wh..wh..opq". A regular file's content follows through
 * idx_writer_data() calls totalling exactly e->size (-EINVAL otherwise).
 */
int idx_writer_add(struct idx_writer *w, const struct idx_entry *e);
int idx_writer_data(struct idx_writer *w, const void *buf, size_t n);

/*
 * End the archive, flush the compressor, and hand over the index of the
 * layer just written (blob digest, diff_id, sizes, entries, spans).
 */
int idx_writer_finish(struct idx_writer *w, struct idx_layer **out);
void idx_writer_free(struct idx_writer *w);

#endif
