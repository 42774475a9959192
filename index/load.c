/* SPDX-License-Identifier: MIT */
/*
 * Loading the stratafs index (index/FORMAT.md). Everything in the file is
 * hostile until checked: the envelope (magic, major version, sizes, sha256
 * of the payload), then every count, offset, length, string reference and
 * ordering rule of the payload, before any of it is used. The in-memory
 * layer points into the payload (strings are NUL-terminated there), so a
 * loaded layer costs the payload plus one small struct per record.
 *
 * Rules are strict (reserved fields zero, tables dense and in order) so
 * that one layer has exactly one valid encoding: save(load(x)) == x.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common/log.h"
#include "common/xmath.h"
#include "index/foreign.h"
#include "index/layer_int.h"

#define BAD(...)                                   \
	do {                                       \
		log_err("invalid index: " __VA_ARGS__); \
		return -EBADMSG;                   \
	} while (0)

struct sect {
	const uint8_t *ent, *ord, *xat, *ckp, *spn, *pre, *str, *val, *win, *ext;
	uint64_t str_size, val_size, win_size;
};

/* The header fields (the first IDX_HDR_SIZE bytes at @h): the ceilings, then the bounds. */
static int parse_header(struct idx_layer *l, struct sect *s, const uint8_t *h)
{
	l->comp = h[0];
	l->hflags = h[1];
	l->span_size = le32_get(h + 4);
	l->foreign = h[2];
	l->toc_len = le64_get(h + 136);
	if (h[0] > IDX_COMP_ZSTD || (h[1] & ~(IDX_HF_SEQUENTIAL | IDX_HF_VIRTUAL)) || h[3] ||
	    h[2] > IDX_FOREIGN_MAX)
		BAD("header flags or reserved fields");
	/* Only a foreign layer (built in memory from a TOC) has virtual offsets and a TOC size. */
	if (l->foreign ? l->toc_len == 0 || l->toc_len > IDX_MAX_TOC_SIZE
		       : l->toc_len || (l->hflags & IDX_HF_VIRTUAL))
		BAD("foreign layer fields");
	if (l->span_size < IDX_MIN_SPAN_SIZE || l->span_size > IDX_MAX_SPAN_SIZE)
		BAD("span size %llu", (unsigned long long)l->span_size);
	memcpy(l->blob_digest, h + 8, DIGEST_SHA256_LEN);
	memcpy(l->diff_id, h + 40, DIGEST_SHA256_LEN);
	l->blob_size = le64_get(h + 72);
	l->tar_size = le64_get(h + 80);
	l->n_entries = le32_get(h + 88);
	l->n_xattrs = le32_get(h + 92);
	l->n_ckpts = le32_get(h + 96);
	l->n_spans = le32_get(h + 100);
	l->n_prefetch = le32_get(h + 104);
	l->n_extents = le32_get(h + 108);
	s->str_size = le64_get(h + 112);
	s->val_size = le64_get(h + 120);
	s->win_size = le64_get(h + 128);
	if (l->n_entries > IDX_MAX_ENTRIES || l->n_xattrs > IDX_MAX_XATTRS_TOTAL ||
	    l->n_ckpts > IDX_MAX_CKPTS || l->n_spans > IDX_MAX_CKPTS || l->n_prefetch > l->n_spans ||
	    l->n_extents > IDX_MAX_EXTENTS)
		BAD("counts over the ceilings");
	if (l->blob_size > (UINT64_C(1) << 62) || l->tar_size > (UINT64_C(1) << 62) ||
	    s->str_size > IDX_MAX_FILE_SIZE || s->val_size > IDX_MAX_FILE_SIZE ||
	    s->win_size > IDX_MAX_FILE_SIZE)
		BAD("sizes over the ceilings");
	return idx_check_bounds(l, s->str_size, s->val_size, s->win_size);
}

/* The payload size the header implies: each term is < 2^37, the sum cannot overflow. */
static uint64_t payload_size_of(const struct idx_layer *l, const struct sect *s)
{
	return IDX_HDR_SIZE + (uint64_t)l->n_entries * (IDX_ENTRY_SIZE + 4) +
	       (uint64_t)l->n_xattrs * IDX_XATTR_SIZE + (uint64_t)l->n_ckpts * IDX_CKPT_SIZE +
	       (uint64_t)l->n_spans * IDX_SPAN_SIZE + (uint64_t)l->n_prefetch * 4 + s->str_size +
	       s->val_size + s->win_size + (uint64_t)l->n_extents * IDX_EXTENT_SIZE;
}

/* Header, then the sections laid out in order, exactly filling the payload. */
static int parse_layout(struct idx_layer *l, struct sect *s)
{
	uint64_t want;
	int r;

	if (l->payload_len < IDX_HDR_SIZE)
		BAD("payload of %zu bytes", l->payload_len);
	r = parse_header(l, s, l->payload);
	if (r < 0)
		return r;
	want = payload_size_of(l, s);
	if (want != l->payload_len)
		BAD("sections add up to %llu bytes, payload has %zu", (unsigned long long)want,
		    l->payload_len);
	s->ent = l->payload + IDX_HDR_SIZE;
	s->ord = s->ent + (size_t)l->n_entries * IDX_ENTRY_SIZE;
	s->xat = s->ord + (size_t)l->n_entries * 4;
	s->ckp = s->xat + (size_t)l->n_xattrs * IDX_XATTR_SIZE;
	s->spn = s->ckp + (size_t)l->n_ckpts * IDX_CKPT_SIZE;
	s->pre = s->spn + (size_t)l->n_spans * IDX_SPAN_SIZE;
	s->str = s->pre + (size_t)l->n_prefetch * 4;
	s->val = s->str + s->str_size;
	s->win = s->val + s->val_size;
	s->ext = s->win + s->win_size;
	if (s->str_size && s->str[s->str_size - 1] != '\0')
		BAD("string table not terminated");
	return 0;
}

/* A string reference: in the table, at most @max bytes long. */
static const char *str_at(const struct sect *s, uint32_t off, size_t max)
{
	const char *p;

	if (off >= s->str_size)
		return NULL;
	p = (const char *)s->str + off;
	return strnlen(p, max + 1) <= max ? p : NULL;
}

static int parse_xattrs(struct idx_layer *l, const struct sect *s)
{
	uint64_t vpos = 0;

	l->xattrs = calloc((size_t)l->n_xattrs + 1, sizeof(*l->xattrs));
	if (!l->xattrs)
		return -ENOMEM;
	for (uint32_t i = 0; i < l->n_xattrs; i++) {
		const uint8_t *x = s->xat + (size_t)i * IDX_XATTR_SIZE;
		uint32_t len = le32_get(x + 8);

		l->xattrs[i].name = str_at(s, le32_get(x), IDX_MAX_PATH);
		if (!l->xattrs[i].name || !l->xattrs[i].name[0])
			BAD("xattr %u name", i);
		if (le32_get(x + 4) != vpos || len > IDX_MAX_XATTR_VALUE || le32_get(x + 12) ||
		    vpos + len > s->val_size)
			BAD("xattr %u value", i);
		l->xattrs[i].value = s->val + vpos;
		l->xattrs[i].len = len;
		vpos += len;
	}
	if (vpos != s->val_size)
		BAD("xattr values: %llu bytes used of %llu", (unsigned long long)vpos,
		    (unsigned long long)s->val_size);
	return 0;
}

/* The fixed-size fields of the entry record @p. */
static void decode_fields(const uint8_t *p, struct idx_entry *e)
{
	e->type = p[0];
	e->mode = le32_get(p + 4);
	e->uid = le32_get(p + 8);
	e->gid = le32_get(p + 12);
	e->mtime_sec = (int64_t)le64_get(p + 16);
	e->mtime_nsec = le32_get(p + 24);
	e->dev_major = le32_get(p + 28);
	e->dev_minor = le32_get(p + 32);
	e->n_xattrs = le32_get(p + 36);
	e->size = le64_get(p + 40);
	e->data_off = le64_get(p + 48);
	e->sparse = p[1] & IDX_EF_SPARSE;
}

void idx_entry_decode(const struct idx_layer *l, uint32_t id, struct idx_entry *e)
{
	const uint8_t *p = idx_raw(l, id);

	decode_fields(p, e);
	e->path = idx_raw_path(l, id);
	e->link = idx_raw_link(l, id);
	e->xattrs = l->xattrs + le32_get(p + 64);
	e->n_extents = 0;
	e->extents = NULL;
}

/* Entry @i checked in full: the layer decodes it only when it is asked for. */
static int parse_entry(struct idx_layer *l, const struct sect *s, uint32_t i, uint32_t *xpos)
{
	const uint8_t *p = s->ent + (size_t)i * IDX_ENTRY_SIZE;
	struct idx_entry ent, *e = &ent;
	uint32_t link_off = le32_get(p + 60);
	bool has_link, dev;
	uint64_t end;

	decode_fields(p, e);
	if (e->type > IDX_T_OPAQUE || (p[1] & ~IDX_EF_SPARSE) || (e->sparse && e->type != IDX_T_REG) ||
	    le16_get(p + 2) || e->mode > 07777 || e->mtime_nsec >= 1000000000u)
		BAD("entry %u type, mode or time", i);
	dev = e->type == IDX_T_CHR || e->type == IDX_T_BLK;
	if ((!dev && (e->dev_major || e->dev_minor)) || (e->type != IDX_T_REG && e->size) ||
	    xadd_u64(e->data_off, e->sparse ? 0 : e->size, &end) || end > l->tar_size)
		BAD("entry %u device, size or data range", i);
	e->path = str_at(s, le32_get(p + 56), IDX_MAX_PATH);
	has_link = e->type == IDX_T_SYMLINK || e->type == IDX_T_HARDLINK;
	e->link = has_link ? str_at(s, link_off, IDX_MAX_PATH) : NULL;
	if (!e->path || (has_link && !e->link) || (!has_link && link_off != IDX_NO_STRING))
		BAD("entry %u path or link", i);
	if (le32_get(p + 64) != *xpos || e->n_xattrs > l->n_xattrs - *xpos)
		BAD("entry %u xattrs", i);
	*xpos += e->n_xattrs;
	return 0;
}

static int cmp_key(const struct idx_layer *l, uint32_t a, uint32_t b)
{
	int c = strcmp(idx_raw_path(l, a), idx_raw_path(l, b));
	unsigned ca = idx_entry_class(idx_raw_type(l, a)), cb = idx_entry_class(idx_raw_type(l, b));

	if (c)
		return c;
	return ca < cb ? -1 : ca > cb;
}

static int parse_order(struct idx_layer *l, const struct sect *s)
{
	uint8_t *seen = calloc((size_t)l->n_entries + 1, 1);
	int r = 0;

	l->order = malloc(((size_t)l->n_entries + 1) * sizeof(uint32_t));
	if (!seen || !l->order) {
		free(seen);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < l->n_entries && r == 0; i++) {
		uint32_t id = le32_get(s->ord + (size_t)i * 4);

		if (id >= l->n_entries || seen[id]) {
			log_err("invalid index: lookup table slot %u", i);
			r = -EBADMSG;
			break;
		}
		seen[id] = 1;
		l->order[i] = id;
		if (i && cmp_key(l, l->order[i - 1], id) >= 0) {
			log_err("invalid index: lookup table not sorted at %u (duplicate path?)", i);
			r = -EBADMSG;
		}
	}
	free(seen);
	return r;
}

static int parse_entries(struct idx_layer *l, const struct sect *s)
{
	uint32_t xpos = 0;
	int r;

	l->entries = calloc((size_t)l->n_entries + 1, sizeof(*l->entries));
	l->ready = calloc((size_t)l->n_entries + 1, sizeof(*l->ready));
	if (!l->entries || !l->ready)
		return -ENOMEM;
	l->ent_raw = s->ent;
	l->str = (const char *)s->str;
	for (uint32_t i = 0; i < l->n_entries; i++) {
		r = parse_entry(l, s, i, &xpos);
		if (r < 0)
			return r;
	}
	if (xpos != l->n_xattrs)
		BAD("%u xattrs owned by entries, %u in the table", xpos, l->n_xattrs);
	return parse_order(l, s);
}

int idx_payload_parse(uint8_t *payload, size_t len, struct idx_layer **out)
{
	struct idx_layer *l = calloc(1, sizeof(*l));
	struct sect s;
	int r;

	if (!l) {
		free(payload);
		return -ENOMEM;
	}
	pthread_mutex_init(&l->ent_lock, NULL);
	l->payload = payload;
	l->payload_len = len;
	l->major = IDX_VERSION_MAJOR;
	r = parse_layout(l, &s);
	if (r == 0)
		r = parse_xattrs(l, &s);
	if (r == 0)
		r = parse_entries(l, &s);
	if (r == 0)
		r = idx_extents_parse(l, s.ext);
	if (r == 0)
		r = idx_spans_parse(l, s.ckp, s.spn, s.win, s.win_size);
	for (uint32_t i = 0; r == 0 && i < l->n_prefetch; i++) {
		if (le32_get(s.pre + (size_t)i * 4) >= l->n_spans) {
			log_err("invalid index: prefetch slot %u", i);
			r = -EBADMSG;
		}
	}
	if (r < 0) {
		idx_layer_free(l);
		return r;
	}
	*out = l;
	return 0;
}

/* 1.0 had no sparse files: its payload is a 2.0 payload with no extents. */
static int payload_parse_major(uint8_t *payload, size_t len, uint16_t major,
			       struct idx_layer **out)
{
	struct idx_layer *l;
	int r = idx_payload_parse(payload, len, &l);

	if (r < 0)
		return r;
	for (uint32_t i = 0; major == IDX_VERSION_MAJOR_OLD && i < l->n_entries && !r; i++)
		r = idx_raw(l, i)[1] & IDX_EF_SPARSE ? -EBADMSG : 0;
	if (r || (major == IDX_VERSION_MAJOR_OLD && l->n_extents)) {
		idx_layer_free(l);
		BAD("sparse extents in a version %u index", major);
	}
	l->major = major;
	*out = l;
	return 0;
}

/* What the caller knows of the layer (idx_load_for()). */
struct expect {
	uint8_t digest[DIGEST_SHA256_LEN];
	uint64_t size;
};

/*
 * The payload the envelope declares, judged on its header before it is
 * allocated: the header alone is decompressed (memory bounded by one zstd
 * block), checked by the code that checks a payload (ceilings, then what
 * the layer can hold), must account for exactly @plen bytes, and must name
 * the blob the caller expects. An index bomb ends here.
 */
static int check_declared(const uint8_t *z, size_t zlen, uint64_t plen, const struct expect *x)
{
	struct idx_layer l = { .payload_len = (size_t)plen };
	uint8_t h[IDX_HDR_SIZE];
	char have[DIGEST_STR_LEN], want[DIGEST_STR_LEN];
	struct sect s;
	int r;

	r = idx_payload_peek(z, zlen, h);
	if (r == 0)
		r = parse_header(&l, &s, h);
	if (r < 0)
		return r;
	/* A foreign TOC's layer lives in memory only (FORMAT.md): never from a file. */
	if (l.foreign)
		BAD("a layer read from a foreign TOC is never stored as an index");
	if (payload_size_of(&l, &s) != plen)
		BAD("the header accounts for %llu payload bytes, the envelope for %llu",
		    (unsigned long long)payload_size_of(&l, &s), (unsigned long long)plen);
	if (x && (x->size != l.blob_size || memcmp(x->digest, l.blob_digest, DIGEST_SHA256_LEN))) {
		digest_format(l.blob_digest, have);
		digest_format(x->digest, want);
		BAD("it indexes '%s' (%llu bytes), not '%s' (%llu bytes)", have,
		    (unsigned long long)l.blob_size, want, (unsigned long long)x->size);
	}
	return 0;
}

static int load(const void *buf, size_t len, const struct expect *x, struct idx_layer **out)
{
	const uint8_t *p = buf;
	uint8_t sha[DIGEST_SHA256_LEN];
	uint64_t plen, zlen;
	uint8_t *payload;
	size_t d;
	int r;

	if (!buf || !out)
		return -EINVAL;
	if (len < IDX_ENVELOPE_SIZE || memcmp(p, IDX_MAGIC, IDX_MAGIC_LEN) != 0)
		BAD("not a stratafs index (%zu bytes)", len);
	if (le16_get(p + 8) != IDX_VERSION_MAJOR && le16_get(p + 8) != IDX_VERSION_MAJOR_OLD) {
		log_err("index format %u.%u is not supported (this is %u.%u)", le16_get(p + 8),
			le16_get(p + 10), IDX_VERSION_MAJOR, IDX_VERSION_MINOR);
		return -EPROTONOSUPPORT;
	}
	if (len > IDX_MAX_FILE_SIZE) {
		log_err("index of %zu bytes exceeds the ceiling of %u", len, IDX_MAX_FILE_SIZE);
		return -EFBIG;
	}
	plen = le64_get(p + 16);
	zlen = le64_get(p + 24);
	if (le32_get(p + 12) || zlen != len - IDX_ENVELOPE_SIZE || plen < IDX_HDR_SIZE ||
	    plen > IDX_MAX_FILE_SIZE ||
	    ZSTD_getFrameContentSize(p + IDX_ENVELOPE_SIZE, zlen) != plen)
		BAD("envelope sizes");
	r = check_declared(p + IDX_ENVELOPE_SIZE, zlen, plen, x);
	if (r < 0)
		return r;
	payload = malloc(plen);
	if (!payload)
		return -ENOMEM;
	d = ZSTD_decompress(payload, plen, p + IDX_ENVELOPE_SIZE, zlen);
	if (ZSTD_isError(d) || d != plen) {
		free(payload);
		BAD("payload does not decompress");
	}
	digest_sha256(payload, plen, sha);
	if (memcmp(sha, p + 32, DIGEST_SHA256_LEN) != 0) {
		free(payload);
		BAD("payload digest mismatch");
	}
	return payload_parse_major(payload, plen, le16_get(p + 8), out);
}

int idx_load(const void *buf, size_t len, struct idx_layer **out)
{
	return load(buf, len, NULL, out);
}

int idx_load_for(const void *buf, size_t len, const char *blob_digest, uint64_t blob_size,
		 struct idx_layer **out)
{
	struct expect x = { .size = blob_size };

	if (!blob_digest || digest_parse(blob_digest, x.digest) < 0)
		return -EINVAL;
	return load(buf, len, &x, out);
}
