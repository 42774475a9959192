/* SPDX-License-Identifier: MIT */
/*
 * The loaded layer: accessors of struct idx_layer, path lookup (binary
 * search in the (path, class) order stored in the index, so loading sorts
 * nothing), and the validation of the checkpoint and span tables.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common/log.h"
#include "common/xmath.h"
#include "index/foreign.h"
#include "index/layer_int.h"

const char *idx_comp_name(enum idx_comp c)
{
	switch (c) {
	case IDX_COMP_NONE:
		return "tar";
	case IDX_COMP_GZIP:
		return "gzip";
	case IDX_COMP_ZSTD:
		return "zstd";
	default:
		return "auto";
	}
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

enum idx_comp idx_comp_from_media_type(const char *mt)
{
	if (!mt)
		return IDX_COMP_AUTO;
	/* Both the OCI "+gzip" and the Docker ".gzip" spellings; non-distributable variants too. */
	if (ends_with(mt, "tar+gzip") || ends_with(mt, "tar.gzip"))
		return IDX_COMP_GZIP;
	if (ends_with(mt, "tar+zstd") || ends_with(mt, "tar.zstd"))
		return IDX_COMP_ZSTD;
	if (ends_with(mt, ".layer.v1.tar") || ends_with(mt, "rootfs.diff.tar") ||
	    ends_with(mt, "layer.nondistributable.v1.tar"))
		return IDX_COMP_NONE;
	return IDX_COMP_AUTO;
}

const char *idx_comp_media_type(enum idx_comp c)
{
	return c == IDX_COMP_GZIP ? IDX_MT_OCI_LAYER_GZIP :
	       c == IDX_COMP_ZSTD ? IDX_MT_OCI_LAYER_ZSTD :
				    IDX_MT_OCI_LAYER;
}

const char *idx_oci_layer_media_type(const char *mt)
{
	if (mt && strcmp(mt, IDX_MT_DOCKER_LAYER_GZIP) == 0)
		return IDX_MT_OCI_LAYER_GZIP;
	if (mt && strcmp(mt, IDX_MT_DOCKER_LAYER) == 0)
		return IDX_MT_OCI_LAYER;
	return mt;
}

void idx_layer_free(struct idx_layer *l)
{
	if (!l)
		return;
	free(l->entries);
	free(l->ready);
	pthread_mutex_destroy(&l->ent_lock);
	free(l->xattrs);
	free(l->order);
	free(l->ckpts);
	free(l->spans);
	free(l->extents);
	free(l->payload);
	free(l);
}

void idx_layer_info(const struct idx_layer *l, struct idx_info *out)
{
	memset(out, 0, sizeof(*out));
	out->comp = l->comp;
	digest_format(l->blob_digest, out->blob_digest);
	digest_format(l->diff_id, out->diff_id);
	out->blob_size = l->blob_size;
	out->tar_size = l->tar_size;
	out->span_size = l->span_size;
	out->n_entries = l->n_entries;
	out->n_spans = l->n_spans;
	out->random_access = !(l->hflags & IDX_HF_SEQUENTIAL);
	out->foreign = l->foreign;
	out->virtual_offsets = l->hflags & IDX_HF_VIRTUAL;
	out->toc_len = l->toc_len;
	if (l->has_toc_sha)
		digest_format(l->toc_sha, out->toc_digest);
}

uint32_t idx_entry_count(const struct idx_layer *l)
{
	return l->n_entries;
}

struct idx_entry *idx_entry_fill(const struct idx_layer *l, uint32_t id)
{
	/* the decoded cache is not part of the layer's (immutable) meaning */
	struct idx_layer *w = (struct idx_layer *)l;

	if (atomic_load_explicit(&l->ready[id], memory_order_acquire))
		return &l->entries[id];
	pthread_mutex_lock(&w->ent_lock);
	if (!atomic_load_explicit(&l->ready[id], memory_order_relaxed)) {
		idx_entry_decode(l, id, &l->entries[id]);
		atomic_store_explicit(&w->ready[id], 1, memory_order_release);
	}
	pthread_mutex_unlock(&w->ent_lock);
	return &l->entries[id];
}

void idx_entry_fill_all(const struct idx_layer *l)
{
	struct idx_layer *w = (struct idx_layer *)l;

	pthread_mutex_lock(&w->ent_lock);
	for (uint32_t id = 0; id < l->n_entries; id++) {
		if (atomic_load_explicit(&l->ready[id], memory_order_relaxed))
			continue;
		idx_entry_decode(l, id, &l->entries[id]);
		atomic_store_explicit(&w->ready[id], 1, memory_order_release);
	}
	pthread_mutex_unlock(&w->ent_lock);
}

const struct idx_entry *idx_entry_get(const struct idx_layer *l, uint32_t id)
{
	return id < l->n_entries ? idx_entry_fill(l, id) : NULL;
}

/* First slot of @path in the order table (its real entry sorts first). */
int idx_entry_find(const struct idx_layer *l, const char *path, uint32_t *id)
{
	uint32_t lo = 0, hi = l->n_entries;

	if (!path)
		return -EINVAL;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (strcmp(idx_raw_path(l, l->order[mid]), path) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == l->n_entries || strcmp(idx_raw_path(l, l->order[lo]), path) != 0)
		return -ENOENT;
	*id = l->order[lo];
	return 0;
}

uint32_t idx_span_count(const struct idx_layer *l)
{
	return l->n_spans;
}

int idx_span_get(const struct idx_layer *l, uint32_t id, struct idx_span *out)
{
	const struct idx_span_rec *s;

	if (id >= l->n_spans)
		return -ERANGE;
	s = &l->spans[id];
	out->u_start = s->u_start;
	out->u_len = s->u_len;
	out->c_start = idx_span_c_start(l, s);
	out->c_end = s->c_end;
	memcpy(out->sha256, s->sha, sizeof(out->sha256));
	out->sha_compressed = (s->flags & IDX_SF_CSHA) != 0;
	return 0;
}

int idx_span_find(const struct idx_layer *l, uint64_t u_off, uint32_t *id)
{
	uint32_t lo = 0, hi = l->n_spans;

	if (u_off >= l->tar_size)
		return -ERANGE;
	/* Last span with u_start <= u_off. */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (l->spans[mid].u_start <= u_off)
			lo = mid;
		else
			hi = mid;
	}
	*id = lo;
	return 0;
}

#define BAD(...)                                   \
	do {                                       \
		log_err("invalid index: " __VA_ARGS__); \
		return -EBADMSG;                   \
	} while (0)

static bool kind_ok(enum idx_comp comp, uint8_t kind)
{
	switch (comp) {
	case IDX_COMP_NONE:
		return kind == IDX_CK_RAW;
	case IDX_COMP_GZIP:
		return kind == IDX_CK_GZ_MEMBER || kind == IDX_CK_GZ_BLOCK;
	case IDX_COMP_ZSTD:
		return kind == IDX_CK_ZSTD_FRAME;
	default:
		return false;
	}
}

static int parse_ckpt(struct idx_layer *l, const uint8_t *p, uint32_t i, const uint8_t *win,
		      uint64_t *wpos)
{
	struct idx_ckpt *c = &l->ckpts[i];
	uint32_t woff = le32_get(p + 24);

	c->c_off = le64_get(p);
	c->u_off = le64_get(p + 8);
	c->kind = p[16];
	c->bits = p[17];
	c->win_len = le32_get(p + 20);
	c->win_clen = le32_get(p + 28);
	if (!kind_ok(l->comp, c->kind) || le16_get(p + 18) || c->bits > 7)
		BAD("checkpoint %u kind", i);
	/*
	 * The first checkpoint is the start of the layer, except in foreign
	 * layers: a virtual layer's first chunk lies anywhere in the blob, and
	 * SOCI's first checkpoint is a block checkpoint right after the first
	 * gzip header (its span digests do not cover that header, so decoding
	 * must not need it).
	 */
	if (i == 0 ? c->u_off ||
			     (c->c_off && !(l->hflags & IDX_HF_VIRTUAL) &&
			      !(l->foreign == IDX_FOREIGN_SOCI && c->kind == IDX_CK_GZ_BLOCK))
		   : c->c_off <= l->ckpts[i - 1].c_off || c->u_off <= l->ckpts[i - 1].u_off)
		BAD("checkpoint %u out of order", i);
	if (c->c_off >= l->blob_size + (i == 0) || c->u_off >= l->tar_size + (i == 0) ||
	    (c->kind == IDX_CK_RAW && c->c_off != c->u_off) || (c->bits && c->c_off == 0))
		BAD("checkpoint %u offsets", i);
	if (c->kind != IDX_CK_GZ_BLOCK) {
		if (c->bits || c->win_len || c->win_clen || woff)
			BAD("checkpoint %u has a window", i);
		return 0;
	}
	/* A window is one zstd frame: never more than the worst case of its length. */
	if (c->win_len == 0 || c->win_len > IDX_WINDOW_SIZE || c->win_clen == 0 ||
	    c->win_clen > ZSTD_COMPRESSBOUND(c->win_len) || woff != *wpos)
		BAD("checkpoint %u window", i);
	c->win = win + *wpos;
	*wpos += c->win_clen;
	return 0;
}

static int parse_span(struct idx_layer *l, const uint8_t *p, uint32_t i, uint64_t *upos)
{
	struct idx_span_rec *s = &l->spans[i];
	const struct idx_ckpt *ck;
	uint32_t prev = i ? l->spans[i - 1].ckpt : 0;

	s->u_start = le64_get(p);
	s->u_len = le64_get(p + 8);
	s->c_end = le64_get(p + 16);
	s->ckpt = le32_get(p + 24);
	s->flags = le32_get(p + 28);
	memcpy(s->sha, p + 32, DIGEST_SHA256_LEN);
	if (s->u_start != *upos || s->u_len == 0 || s->u_len > 2 * l->span_size ||
	    s->u_len > l->tar_size - *upos)
		BAD("span %u range", i);
	if (s->ckpt >= l->n_ckpts || (s->ckpt != prev && s->ckpt != prev + 1) || (i == 0 && s->ckpt))
		BAD("span %u checkpoint", i);
	ck = &l->ckpts[s->ckpt];
	if ((s->ckpt != prev || i == 0) && ck->u_off != s->u_start)
		BAD("span %u does not start at its new checkpoint", i);
	if (s->c_end <= idx_span_c_start(l, s) || s->c_end > l->blob_size ||
	    (i && s->c_end < l->spans[i - 1].c_end))
		BAD("span %u compressed range", i);
	if ((s->flags & ~(IDX_SF_WHOLE_FRAMES | IDX_SF_CSHA)) ||
	    ((s->flags & IDX_SF_WHOLE_FRAMES) &&
	     (l->comp != IDX_COMP_ZSTD || ck->u_off != s->u_start)))
		BAD("span %u flags", i);
	if (l->comp == IDX_COMP_NONE && (ck->u_off != s->u_start || s->c_end - ck->c_off != s->u_len))
		BAD("span %u of a plain tar", i);
	*upos += s->u_len;
	return 0;
}

int idx_spans_parse(struct idx_layer *l, const uint8_t *ckp, const uint8_t *spn,
		    const uint8_t *win, uint64_t win_size)
{
	uint64_t wpos = 0, upos = 0;
	bool seq;
	int r;

	l->ckpts = calloc((size_t)l->n_ckpts + 1, sizeof(*l->ckpts));
	l->spans = calloc((size_t)l->n_spans + 1, sizeof(*l->spans));
	if (!l->ckpts || !l->spans)
		return -ENOMEM;
	if (l->n_ckpts == 0 || l->n_ckpts > l->n_spans + 1 || (l->n_spans == 0) != (l->tar_size == 0))
		BAD("%u checkpoints for %u spans", l->n_ckpts, l->n_spans);
	for (uint32_t i = 0; i < l->n_ckpts; i++) {
		r = parse_ckpt(l, ckp + (size_t)i * IDX_CKPT_SIZE, i, win, &wpos);
		if (r < 0)
			return r;
	}
	if (wpos != win_size)
		BAD("windows: %llu bytes used of %llu", (unsigned long long)wpos,
		    (unsigned long long)win_size);
	for (uint32_t i = 0; i < l->n_spans; i++) {
		r = parse_span(l, spn + (size_t)i * IDX_SPAN_SIZE, i, &upos);
		if (r < 0)
			return r;
	}
	if (upos != l->tar_size || (l->n_spans && l->spans[l->n_spans - 1].ckpt != l->n_ckpts - 1))
		BAD("spans do not cover the layer");
	seq = l->n_spans > 1 && l->n_ckpts == 1;
	if (seq != !!(l->hflags & IDX_HF_SEQUENTIAL))
		BAD("sequential flag");
	return 0;
}
