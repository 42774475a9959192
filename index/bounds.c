/* SPDX-License-Identifier: MIT */
/*
 * What an index may declare, given its layer (index/FORMAT.md, "Bounds").
 *
 * Without these rules a 6 MB index could declare a million directories for
 * a 10 KiB layer, and every client paid for them (seconds, hundreds of MB)
 * before anything looked wrong. Here every count and section size of the
 * payload header is bounded by what the layer's tar can hold, and the tar
 * by what its blob can decompress to, so such an index is refused on its
 * 144-byte header: before the payload is decompressed and before any
 * per-entry array is allocated. idx_load() reads that header with the
 * buffer-less zstd decoder into a scratch of one block, whatever payload
 * size the envelope claims (the streaming decoder would allocate a window
 * the size of the whole payload for a single-segment frame).
 *
 * The builder goes through the same check (idx_payload_parse()), so an
 * index it writes is one the loader accepts: a tar whose pax global
 * records repeat xattrs or links over many members, the one way a real
 * tar exceeds these bounds, is refused at build time rather than at load.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The buffer-less decoder (ZSTD_decompressContinue): advanced API, exported by libzstd.so. */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include "common/log.h"
#include "common/xmath.h"
#include "index/layer_int.h"

/* Deflate at its best: a 258-byte match in two 1-bit codes, 1032 bytes per input byte. */
#define DEFLATE_MAX_RATIO 1032u
/* Each tar member starts with a header block of its own. */
#define TAR_HEADER_BYTES 512u
/* The shortest pax record that sets an xattr: "19 SCHILY.xattr.a=\n". */
#define XATTR_MIN_RECORD 19u
/* A window is one zstd frame of at most IDX_WINDOW_SIZE bytes. */
#define WINDOW_MAX_CLEN ZSTD_COMPRESSBOUND(IDX_WINDOW_SIZE)
/* The header is in the payload's first block (at most ZSTD_BLOCKSIZE_MAX bytes). */
#define PEEK_CAP (IDX_HDR_SIZE + ZSTD_BLOCKSIZE_MAX)

#define OVER(...)                                             \
	do {                                                  \
		log_err("index refused: " __VA_ARGS__);       \
		return -EFBIG;                                \
	} while (0)

typedef unsigned long long ull;

/* The largest tar @l's blob can decompress to; UINT64_MAX when nothing is known. */
static uint64_t tar_max(const struct idx_layer *l)
{
	uint64_t m;

	switch (l->comp) {
	case IDX_COMP_NONE:
		return l->blob_size;
	case IDX_COMP_GZIP:
		return xmul_u64(l->blob_size, DEFLATE_MAX_RATIO, &m) ? UINT64_MAX : m;
	default:
		/*
		 * zstd: RFC 8878 caps a block at 128 KiB for 4 bytes (RLE),
		 * but decoders have not always enforced it, and 32768:1 would
		 * not stop anything anyway. Bounded by the tar size alone.
		 */
		return UINT64_MAX;
	}
}

/* Spans other than the last hold at least span_size / 2 bytes (FORMAT.md, builder). */
static uint64_t spans_max(const struct idx_layer *l)
{
	uint64_t half = l->span_size / 2;

	return l->tar_size ? (l->tar_size - 1) / half + 1 : 0;
}

/*
 * A foreign layer (index/foreign.h) was read from a TOC of toc_len bytes:
 * every entry, xattr, chunk (span) and sparse extent is at least one byte
 * of it, and every name and xattr value is spelled out in it (JSON quotes
 * or flatbuffer length prefixes are never shorter than the NUL we store).
 * Its spans are file chunks, so the "at least S/2 per span" rule of a
 * stratafs index does not apply; and with virtual offsets the tar size is
 * the file data alone (no 512-byte headers), so entries are not bounded
 * by it.
 */
static int check_foreign(const struct idx_layer *l, uint64_t str_size, uint64_t val_size)
{
	uint64_t toc = l->toc_len;

	if (l->n_entries > toc || l->n_xattrs > toc || l->n_spans > toc || l->n_extents > toc)
		OVER("%u entries, %u xattrs, %u chunks, %u extents from a TOC of %llu bytes",
		     l->n_entries, l->n_xattrs, l->n_spans, l->n_extents, (ull)toc);
	if (str_size + val_size > toc)
		OVER("%llu bytes of names and %llu of xattr values from a TOC of %llu bytes",
		     (ull)str_size, (ull)val_size, (ull)toc);
	return 0;
}

int idx_check_bounds(const struct idx_layer *l, uint64_t str_size, uint64_t val_size,
		     uint64_t win_size)
{
	uint64_t t = l->tar_size, win_max;
	int r;

	if (l->foreign) {
		r = check_foreign(l, str_size, val_size);
		if (r < 0)
			return r;
		if (t > tar_max(l))
			OVER("a %s blob of %llu bytes cannot hold %llu bytes of files",
			     idx_comp_name(l->comp), (ull)l->blob_size, (ull)t);
		goto checkpoints;
	}
	if (t > tar_max(l))
		OVER("a %s blob of %llu bytes cannot hold a tar of %llu", idx_comp_name(l->comp),
		     (ull)l->blob_size, (ull)t);
	if (l->comp == IDX_COMP_NONE && t != l->blob_size) {
		log_err("invalid index: a plain tar of %llu bytes in a blob of %llu", (ull)t,
			(ull)l->blob_size);
		return -EBADMSG;
	}
	if (l->n_entries > t / TAR_HEADER_BYTES)
		OVER("%u entries in a tar of %llu bytes (at most %llu)", l->n_entries, (ull)t,
		     (ull)(t / TAR_HEADER_BYTES));
	/* Both sizes are <= IDX_MAX_FILE_SIZE (parse_header): no overflow. */
	if (str_size + val_size > t)
		OVER("%llu bytes of names and %llu of xattr values in a tar of %llu bytes",
		     (ull)str_size, (ull)val_size, (ull)t);
	if (l->n_xattrs > t / XATTR_MIN_RECORD)
		OVER("%u xattrs in a tar of %llu bytes (at most %llu)", l->n_xattrs, (ull)t,
		     (ull)(t / XATTR_MIN_RECORD));
	if (l->n_spans > spans_max(l))
		OVER("%u spans of %llu bytes in a tar of %llu bytes (at most %llu)", l->n_spans,
		     (ull)l->span_size, (ull)t, (ull)spans_max(l));
	/* Each extent holds at least one byte of its member's packed data. */
	if (l->n_extents > t)
		OVER("%u sparse extents in a tar of %llu bytes", l->n_extents, (ull)t);
checkpoints:
	if (l->n_ckpts > l->n_spans + 1)
		OVER("%u checkpoints for %u spans (at most one more)", l->n_ckpts, l->n_spans);
	win_max = l->comp == IDX_COMP_GZIP ? (uint64_t)l->n_ckpts * WINDOW_MAX_CLEN : 0;
	if (win_size > win_max)
		OVER("%llu bytes of windows for %u checkpoints (at most %llu)", (ull)win_size,
		     l->n_ckpts, (ull)win_max);
	return 0;
}

int idx_payload_peek(const uint8_t *z, size_t zlen, uint8_t hdr[IDX_HDR_SIZE])
{
	ZSTD_DCtx *d = ZSTD_createDCtx();
	uint8_t *out = malloc(PEEK_CAP);
	size_t pos = 0, done = 0;
	int r = -ENOMEM;

	if (!d || !out)
		goto out_free;
	r = -EBADMSG;
	if (ZSTD_isError(ZSTD_decompressBegin(d)))
		goto out_free;
	/*
	 * Block by block into one contiguous scratch, so back-references stay
	 * valid; each step consumes input, so this ends within @zlen bytes.
	 */
	while (done < IDX_HDR_SIZE) {
		size_t want = ZSTD_nextSrcSizeToDecompress(d), n;

		if (want == 0 || want > zlen - pos)
			break;
		n = ZSTD_decompressContinue(d, out + done, PEEK_CAP - done, z + pos, want);
		if (ZSTD_isError(n))
			break;
		pos += want;
		done += n;
	}
	if (done >= IDX_HDR_SIZE) {
		memcpy(hdr, out, IDX_HDR_SIZE);
		r = 0;
	} else {
		log_err("invalid index: the payload header does not decompress");
	}
out_free:
	free(out);
	ZSTD_freeDCtx(d);
	return r;
}
