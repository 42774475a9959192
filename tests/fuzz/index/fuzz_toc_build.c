/* SPDX-License-Identifier: MIT */
/*
 * The TOC builder (index/toc_int.h), which every foreign TOC parser feeds,
 * driven by the input as a program of calls: whatever sequence of
 * entries, checkpoints and spans a parser bug or a hostile TOC could
 * produce, the builder either refuses it or yields a layer that passes
 * every check of a loaded index; that layer's files then read (against
 * the input itself as the blob, so most spans fail their digest, which
 * must give -EBADMSG and never more bytes than asked), merge into a tree,
 * and compare equal to themselves (idx_layer_compare(): 0 differences).
 *
 * Input: byte 0 = compression (even gzip, odd zstd), byte 1 = virtual
 * offsets, then ops: 'E' entry, 'K' checkpoint, 'S' span, 'F' finish
 * (little-endian fields, see below); anything else ends the program.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "index/toc_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct in {
	const uint8_t *p;
	size_t n, pos;
};

static bool take(struct in *in, void *out, size_t k)
{
	if (in->n - in->pos < k)
		return false;
	memcpy(out, in->p + in->pos, k);
	in->pos += k;
	return true;
}

static uint32_t u32(struct in *in)
{
	uint8_t b[4] = { 0 };

	take(in, b, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint8_t u8(struct in *in)
{
	uint8_t b = 0;

	take(in, &b, 1);
	return b;
}

/* A length-prefixed string (<= 255 bytes) into @buf. */
static const char *str(struct in *in, char buf[256])
{
	uint8_t len = u8(in);

	memset(buf, 0, 256);
	take(in, buf, len);
	buf[255] = '\0';
	return buf;
}

/* E type mode(4) uid(1) size(4) data_off(4) path link n_xattrs(1) [name vlen(1) value]... sparse(1) [n(1) (off(4) len(4))...] */
static int op_entry(struct tocb *b, struct in *in)
{
	char path[256], link[256], names[4][256], vals[4][256];
	struct idx_xattr x[4];
	struct idx_extent ext[8];
	struct idx_entry e = { 0 };
	uint64_t tar;

	e.type = u8(in) % (IDX_T_OPAQUE + 1);
	e.mode = u32(in);
	e.uid = u8(in);
	e.size = u32(in);
	e.data_off = u32(in);
	e.path = str(in, path);
	e.link = str(in, link);
	if (!e.link[0] && e.type != IDX_T_SYMLINK)
		e.link = NULL;
	e.n_xattrs = u8(in) % 5;
	for (uint32_t i = 0; i < e.n_xattrs; i++) {
		x[i].name = str(in, names[i]);
		x[i].len = u8(in);
		memset(vals[i], 0, sizeof(vals[i]));
		take(in, vals[i], x[i].len);
		x[i].value = (const uint8_t *)vals[i];
	}
	e.xattrs = x;
	e.sparse = u8(in) & 1;
	if (e.sparse) {
		e.n_extents = u8(in) % 9;
		tar = e.data_off;
		for (uint32_t i = 0; i < e.n_extents; i++) {
			ext[i].off = u32(in);
			ext[i].len = u32(in) % 70000;
			ext[i].tar_off = tar;
			tar += ext[i].len;
		}
		e.extents = ext;
	}
	return idx_tocb_entry(b, &e);
}

/* K kind(1) c_off(4) u_off(4) bits(1) win_len(2) window... */
static int op_ckpt(struct tocb *b, struct in *in)
{
	uint8_t kind = u8(in) % 4, bits;
	uint32_t c_off = u32(in), u_off = u32(in), win_len, id;
	static uint8_t win[32768];

	bits = u8(in);
	win_len = u8(in) | (uint32_t)u8(in) << 8;
	memset(win, 0, sizeof(win));
	take(in, win, win_len < sizeof(win) ? win_len : sizeof(win));
	return idx_tocb_ckpt(b, kind, c_off, u_off, bits, win, win_len, &id);
}

/* S ckpt(1) u_start(4) u_len(4) c_end(4) flags(1) sha(32) */
static int op_span(struct tocb *b, struct in *in)
{
	uint8_t sha[32] = { 0 };
	uint32_t ck = u8(in), us = u32(in), ul = u32(in), ce = u32(in), fl = u8(in) & 3;

	take(in, sha, sizeof(sha));
	return idx_tocb_span(b, ck, us, ul, ce, fl, sha);
}

struct blob {
	const uint8_t *p;
	size_t n;
};

static ssize_t read_at(void *ctx, void *buf, size_t n, uint64_t off)
{
	struct blob *bl = ctx;

	if (off >= bl->n)
		return 0;
	n = n < bl->n - off ? n : bl->n - off;
	memcpy(buf, bl->p + off, n);
	return (ssize_t)n;
}

static int zero_sha(void *ctx, const struct idx_layer *l, uint32_t id, uint8_t sha[32])
{
	memset(sha, 0, 32);
	return 0;
}

static void use(const struct idx_layer *l, const uint8_t *data, size_t size)
{
	struct blob bl = { data, size };
	struct idx_reader rd = { &bl, read_at };
	const struct idx_layer *ls[1] = { l };
	struct idx_tree *t = NULL;
	uint8_t buf[4096];
	unsigned n_diff = 1;

	for (uint32_t i = 0; i < idx_entry_count(l) && i < 64; i++) {
		ssize_t r = idx_file_read(l, i, &rd, buf, sizeof(buf), 0);

		if (r > (ssize_t)sizeof(buf))
			abort();
	}
	if (idx_tree_build(ls, 1, 0, &t) == 0)
		idx_tree_free(t);
	if (idx_layer_compare(l, l, zero_sha, NULL, &n_diff) != 0 || n_diff != 0)
		abort(); /* a layer always agrees with itself */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct idx_foreign_opts o = {
		.blob_digest = "sha256:3333333333333333333333333333333333333333333333333333333333333333",
		.blob_size = size ? size : 1,
	};
	struct in in = { data, size, 2 };
	struct idx_layer *l = NULL;
	struct tocb *b = NULL;
	bool virt;
	int r;

	if (size < 2)
		return 0;
	virt = data[1] & 1;
	if (idx_tocb_new(data[0] & 1 ? IDX_COMP_ZSTD : IDX_COMP_GZIP, IDX_FOREIGN_ESTARGZ, &o, size, &b))
		return 0;
	for (r = 0; r == 0 && in.pos < in.n;) {
		switch (u8(&in)) {
		case 'E': r = op_entry(b, &in); break;
		case 'K': r = op_ckpt(b, &in); break;
		case 'S': r = op_span(b, &in); break;
		case 'F':
			r = idx_tocb_finish(b, u32(&in), virt, &l);
			if (r == 0)
				use(l, data, size);
			idx_layer_free(l);
			r = 1;
			break;
		default: r = 1; break;
		}
	}
	idx_tocb_free(b);
	return 0;
}
