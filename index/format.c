/* SPDX-License-Identifier: MIT */
/*
 * Writing the stratafs index (index/FORMAT.md): the payload (header,
 * tables, string/value/window sections) from what idx_build() collected,
 * and the envelope around it. Determinism: every byte is a function of the
 * layer and the span size (reserved fields zero, strings in entry order,
 * the payload compressed single-threaded at a fixed level), so the same
 * layer indexed twice gives the same bytes and the same digest.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common/log.h"
#include "common/xmath.h"
#include "index/build_ent.h"
#include "index/build_int.h"
#include "index/layer_int.h"

struct pw {
	uint8_t *p;
	size_t len;
	size_t ent, ord, xat, ckp, spn, pre, str, val, win, ext; /* section offsets */
	size_t s_len, v_len;                                /* string, value fill */
	uint32_t nx;                                        /* live xattrs */
	uint32_t ne;                                        /* live extents */
	size_t v_size;                                      /* live xattr value bytes */
};

static int sizes(struct pw *w, const struct build_entries *be, const struct spanb *sb,
		 size_t *str_size)
{
	size_t n = 0;

	for (uint32_t i = 0; i < be->n; i++) {
		const struct bent *b = &be->e[i];

		if (b->dead)
			continue;
		n += strlen(bent_str(be, b->path_off)) + 1;
		if (b->link_off != IDX_NO_STRING)
			n += strlen(bent_str(be, b->link_off)) + 1;
		for (uint32_t k = 0; k < b->n_x; k++) {
			n += strlen(bent_str(be, be->x[b->x_first + k].name_off)) + 1;
			w->v_size += be->x[b->x_first + k].len;
		}
		w->nx += b->n_x;
		w->ne += b->sparse ? b->n_e : 0;
	}
	*str_size = n;
	w->ent = IDX_HDR_SIZE;
	w->ord = w->ent + (size_t)be->n_live * IDX_ENTRY_SIZE;
	w->xat = w->ord + (size_t)be->n_live * 4;
	w->ckp = w->xat + (size_t)w->nx * IDX_XATTR_SIZE;
	w->spn = w->ckp + (size_t)sb->n_ckpts * IDX_CKPT_SIZE;
	w->pre = w->spn + (size_t)sb->n_spans * IDX_SPAN_SIZE;
	w->str = w->pre;
	w->val = w->str + n;
	w->win = w->val + w->v_size;
	w->ext = w->win + sb->windows.len;
	w->len = w->ext + (size_t)w->ne * IDX_EXTENT_SIZE;
	if (w->len > IDX_MAX_FILE_SIZE) {
		log_err("index of %zu bytes exceeds the ceiling of %u", w->len, IDX_MAX_FILE_SIZE);
		return -EFBIG;
	}
	return 0;
}

static uint32_t put_str(struct pw *w, const char *s)
{
	size_t n = strlen(s) + 1;
	uint32_t off = (uint32_t)w->s_len;

	memcpy(w->p + w->str + w->s_len, s, n);
	w->s_len += n;
	return off;
}

/* Live xattrs are re-numbered densely; *xi is the next free record. */
static void put_entry(struct pw *w, const struct build_entries *be, const struct bent *b,
		      uint8_t *e, uint32_t *xi)
{
	e[0] = b->type;
	e[1] = b->sparse ? IDX_EF_SPARSE : 0;
	le32_put(e + 4, b->mode);
	le32_put(e + 8, b->uid);
	le32_put(e + 12, b->gid);
	le64_put(e + 16, (uint64_t)b->mtime_sec);
	le32_put(e + 24, b->mtime_nsec);
	le32_put(e + 28, b->dev_major);
	le32_put(e + 32, b->dev_minor);
	le32_put(e + 36, b->n_x);
	le64_put(e + 40, b->size);
	le64_put(e + 48, b->data_off);
	le32_put(e + 56, put_str(w, bent_str(be, b->path_off)));
	le32_put(e + 60, b->link_off == IDX_NO_STRING ? IDX_NO_STRING
						      : put_str(w, bent_str(be, b->link_off)));
	le32_put(e + 64, *xi);
	for (uint32_t k = 0; k < b->n_x; k++) {
		const struct bxattr *bx = &be->x[b->x_first + k];
		uint8_t *x = w->p + w->xat + (size_t)*xi * IDX_XATTR_SIZE;

		le32_put(x, put_str(w, bent_str(be, bx->name_off)));
		le32_put(x + 4, (uint32_t)w->v_len);
		le32_put(x + 8, bx->len);
		memcpy(w->p + w->val + w->v_len, be->values.data + bx->val_off, bx->len);
		w->v_len += bx->len;
		(*xi)++;
	}
}

/* A sparse entry's extents; the tar offsets are implied (FORMAT.md). */
static void put_extents(struct pw *w, const struct build_entries *be, const struct bent *b,
			uint32_t id, uint32_t *ei)
{
	for (uint32_t k = 0; b->sparse && k < b->n_e; k++) {
		const struct idx_extent *x = &be->ext[b->e_first + k];
		uint8_t *p = w->p + w->ext + (size_t)*ei * IDX_EXTENT_SIZE;

		le32_put(p, id);
		le64_put(p + 8, x->off);
		le64_put(p + 16, x->len);
		(*ei)++;
	}
}

static int put_entries(struct pw *w, const struct build_entries *be, uint32_t *nx)
{
	uint32_t *newid = malloc(((size_t)be->n + 1) * sizeof(uint32_t));
	uint32_t k = 0, ei = 0;

	if (!newid)
		return -ENOMEM;
	*nx = 0;
	for (uint32_t i = 0; i < be->n; i++) {
		if (be->e[i].dead)
			continue;
		newid[i] = k;
		put_entry(w, be, &be->e[i], w->p + w->ent + (size_t)k * IDX_ENTRY_SIZE, nx);
		put_extents(w, be, &be->e[i], k, &ei);
		k++;
	}
	for (uint32_t i = 0; i < be->n_live; i++)
		le32_put(w->p + w->ord + (size_t)i * 4, newid[be->sorted[i]]);
	free(newid);
	return 0;
}

static void put_spans(struct pw *w, const struct spanb *sb)
{
	for (uint32_t i = 0; i < sb->n_ckpts; i++) {
		const struct ckpt_b *c = &sb->ckpts[i];
		uint8_t *p = w->p + w->ckp + (size_t)i * IDX_CKPT_SIZE;

		le64_put(p, c->c_off);
		le64_put(p + 8, c->u_off);
		p[16] = c->kind;
		p[17] = c->bits;
		le32_put(p + 20, c->win_len);
		le32_put(p + 24, c->win_clen ? (uint32_t)c->win_pos : 0);
		le32_put(p + 28, c->win_clen);
	}
	for (uint32_t i = 0; i < sb->n_spans; i++) {
		const struct span_b *s = &sb->spans[i];
		uint8_t *p = w->p + w->spn + (size_t)i * IDX_SPAN_SIZE;

		le64_put(p, s->u_start);
		le64_put(p + 8, s->u_len);
		le64_put(p + 16, s->c_end);
		le32_put(p + 24, s->ckpt);
		le32_put(p + 28, s->flags);
		memcpy(p + 32, s->sha, DIGEST_SHA256_LEN);
	}
	if (sb->windows.len)
		memcpy(w->p + w->win, sb->windows.data, sb->windows.len);
}

static void put_header(struct pw *w, const struct idx_info *info, const struct build_entries *be,
		       const struct spanb *sb, size_t str_size)
{
	uint8_t *h = w->p;

	h[0] = (uint8_t)info->comp;
	h[1] = (info->random_access ? 0 : IDX_HF_SEQUENTIAL) |
	       (info->virtual_offsets ? IDX_HF_VIRTUAL : 0);
	h[2] = info->foreign;
	le32_put(h + 4, (uint32_t)info->span_size);
	digest_parse(info->blob_digest, h + 8);
	digest_parse(info->diff_id, h + 40);
	le64_put(h + 72, info->blob_size);
	le64_put(h + 80, info->tar_size);
	le32_put(h + 88, be->n_live);
	le32_put(h + 92, w->nx);
	le32_put(h + 96, sb->n_ckpts);
	le32_put(h + 100, sb->n_spans);
	le32_put(h + 104, 0); /* prefetch list: reserved, empty */
	le32_put(h + 108, w->ne);
	le64_put(h + 112, str_size);
	le64_put(h + 120, w->v_size);
	le64_put(h + 128, sb->windows.len);
	le64_put(h + 136, info->toc_len);
}

int idx_payload_write(const struct build_entries *be, const struct spanb *sb,
		      const struct idx_info *info, uint8_t **out, size_t *len)
{
	struct pw w = { 0 };
	size_t str_size;
	uint32_t nx;
	int r;

	r = sizes(&w, be, sb, &str_size);
	if (r < 0)
		return r;
	w.p = calloc(1, w.len);
	if (!w.p)
		return -ENOMEM;
	r = put_entries(&w, be, &nx);
	if (r < 0) {
		free(w.p);
		return r;
	}
	put_spans(&w, sb);
	put_header(&w, info, be, sb, str_size);
	*out = w.p;
	*len = w.len;
	return 0;
}

int idx_envelope_write(const uint8_t *payload, size_t len, uint16_t major, void **buf,
		       size_t *out_len)
{
	size_t bound = ZSTD_compressBound(len), z;
	uint8_t *p;

	if (len > IDX_MAX_FILE_SIZE)
		return -EFBIG;
	p = malloc(IDX_ENVELOPE_SIZE + bound);
	if (!p)
		return -ENOMEM;
	/* ZSTD_compress() is single-threaded and writes the content size: deterministic. */
	z = ZSTD_compress(p + IDX_ENVELOPE_SIZE, bound, payload, len, IDX_ZSTD_LEVEL);
	if (ZSTD_isError(z)) {
		log_err("cannot compress the index: %s", ZSTD_getErrorName(z));
		free(p);
		return -ENOMEM;
	}
	memset(p, 0, IDX_ENVELOPE_SIZE);
	memcpy(p, IDX_MAGIC, IDX_MAGIC_LEN);
	le16_put(p + 8, major);
	le16_put(p + 10, IDX_VERSION_MINOR);
	le64_put(p + 16, len);
	le64_put(p + 24, z);
	digest_sha256(payload, len, p + 32);
	*buf = p;
	*out_len = IDX_ENVELOPE_SIZE + z;
	return 0;
}

int idx_save(const struct idx_layer *l, void **buf, size_t *len)
{
	if (!l || !buf || !len)
		return -EINVAL;
	/* Virtual offsets mean nothing to a reader of the blob: the TOC is what is kept. */
	if (l->foreign)
		return -EOPNOTSUPP;
	return idx_envelope_write(l->payload, l->payload_len, l->major, buf, len);
}
