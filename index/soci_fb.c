/* SPDX-License-Identifier: MIT */
/*
 * The bounds-checked FlatBuffers reader of index/soci_fb.h. Positions are
 * size_t, lengths are checked as "n <= len - pos" after "pos <= len", so
 * no sum can wrap.
 */
#include <errno.h>
#include <string.h>

#include "common/le.h"
#include "common/log.h"
#include "index/soci_fb.h"

/* Reading more than this many times the buffer means it shares bytes on purpose. */
#define SFB_BUDGET_FACTOR 4u
#define SFB_BUDGET_SLACK (1u << 20)

static bool fits(const struct sfb *b, size_t pos, size_t n)
{
	return pos <= b->len && n <= b->len - pos;
}

static int bad(const char *what, size_t pos)
{
	log_err("zTOC: malformed flatbuffer: %s at byte %zu", what, pos);
	return -EBADMSG;
}

static int charge(struct sfb *b, uint64_t n)
{
	if (n > b->budget) {
		log_err("zTOC: flatbuffer reaches more bytes than it holds (shared data)");
		return -EFBIG;
	}
	b->budget -= n;
	return 0;
}

void idx_sfb_init(struct sfb *b, const void *buf, size_t len)
{
	b->buf = buf;
	b->len = len;
	b->budget = (uint64_t)len * SFB_BUDGET_FACTOR + SFB_BUDGET_SLACK;
}

/* The table at @pos: its vtable found and checked. */
static int table_at(struct sfb *b, size_t pos, struct idx_sfb_table *t)
{
	int64_t vt;

	if (!fits(b, pos, 4))
		return bad("table outside the buffer", pos);
	vt = (int64_t)pos - (int64_t)(int32_t)le32_get(b->buf + pos);
	if (vt < 0 || !fits(b, (size_t)vt, 4))
		return bad("vtable outside the buffer", pos);
	t->b = b;
	t->pos = pos;
	t->vt = (size_t)vt;
	t->vt_len = le16_get(b->buf + t->vt);
	t->size = le16_get(b->buf + t->vt + 2);
	if (t->vt_len < 4 || (t->vt_len & 1) || !fits(b, t->vt, t->vt_len))
		return bad("vtable size", t->vt);
	if (t->size < 4 || !fits(b, pos, t->size))
		return bad("table size", pos);
	return 0;
}

int idx_sfb_root(struct sfb *b, struct idx_sfb_table *t)
{
	if (!fits(b, 0, 4))
		return bad("buffer too short", 0);
	return table_at(b, le32_get(b->buf), t);
}

/* Where field @id of @t lies (0 when absent), checked to hold @size bytes. */
static int field(const struct idx_sfb_table *t, unsigned id, size_t size, size_t *at)
{
	size_t slot = 4 + 2 * (size_t)id;
	uint16_t off;

	*at = 0;
	if (slot + 2 > t->vt_len)
		return 0; /* a field newer than the writer: absent */
	off = le16_get(t->b->buf + t->vt + slot);
	if (off == 0)
		return 0;
	if (off < 4 || off > t->size || size > (size_t)(t->size - off))
		return bad("field outside its table", t->pos);
	*at = t->pos + off;
	return 0;
}

/* Follow the uoffset of field @id; *to = 0 when absent. */
static int follow(const struct idx_sfb_table *t, unsigned id, size_t *to)
{
	size_t at;
	uint32_t rel;
	int r = field(t, id, 4, &at);

	*to = 0;
	if (r < 0 || at == 0)
		return r;
	rel = le32_get(t->b->buf + at);
	if (rel == 0 || !fits(t->b, at, rel))
		return bad("offset outside the buffer", at);
	*to = at + rel;
	return 0;
}

int idx_sfb_i64(const struct idx_sfb_table *t, unsigned id, int64_t def, int64_t *v)
{
	size_t at;
	int r = field(t, id, 8, &at);

	*v = def;
	if (r == 0 && at)
		*v = (int64_t)((uint64_t)le32_get(t->b->buf + at) |
			       (uint64_t)le32_get(t->b->buf + at + 4) << 32);
	return r;
}

int idx_sfb_u32(const struct idx_sfb_table *t, unsigned id, uint32_t def, uint32_t *v)
{
	size_t at;
	int r = field(t, id, 4, &at);

	*v = def;
	if (r == 0 && at)
		*v = le32_get(t->b->buf + at);
	return r;
}

int idx_sfb_i32(const struct idx_sfb_table *t, unsigned id, int32_t def, int32_t *v)
{
	uint32_t u;
	int r = idx_sfb_u32(t, id, (uint32_t)def, &u);

	*v = (int32_t)u;
	return r;
}

int idx_sfb_i8(const struct idx_sfb_table *t, unsigned id, int8_t def, int8_t *v)
{
	size_t at;
	int r = field(t, id, 1, &at);

	*v = def;
	if (r == 0 && at)
		*v = (int8_t)t->b->buf[at];
	return r;
}

/* The string at @pos: length, bytes, terminating NUL (and no NUL inside unless @bin). */
static int str_at(struct sfb *b, size_t pos, bool bin, const char **s, uint32_t *n)
{
	uint32_t len;
	int r;

	if (!fits(b, pos, 4))
		return bad("string outside the buffer", pos);
	len = le32_get(b->buf + pos);
	if ((uint64_t)len + 1 > b->len - pos - 4)
		return bad("string length", pos);
	if (b->buf[pos + 4 + len] != 0 || (!bin && memchr(b->buf + pos + 4, 0, len)))
		return bad("string with a NUL inside or none after", pos);
	r = charge(b, len);
	if (r < 0)
		return r;
	*s = (const char *)b->buf + pos + 4;
	*n = len;
	return 0;
}

static int str_field(const struct idx_sfb_table *t, unsigned id, bool bin, const char **s,
		     uint32_t *n)
{
	size_t to;
	int r = follow(t, id, &to);

	*s = NULL;
	*n = 0;
	if (r < 0 || to == 0)
		return r;
	return str_at(t->b, to, bin, s, n);
}

int idx_sfb_str(const struct idx_sfb_table *t, unsigned id, const char **s, uint32_t *n)
{
	return str_field(t, id, false, s, n);
}

int idx_sfb_str_bin(const struct idx_sfb_table *t, unsigned id, const char **s, uint32_t *n)
{
	return str_field(t, id, true, s, n);
}

int idx_sfb_table(const struct idx_sfb_table *t, unsigned id, struct idx_sfb_table *out, bool *present)
{
	size_t to;
	int r = follow(t, id, &to);

	*present = false;
	if (r < 0 || to == 0)
		return r;
	r = table_at(t->b, to, out);
	*present = r == 0;
	return r;
}

int idx_sfb_vector(const struct idx_sfb_table *t, unsigned id, size_t elem, struct sfb_vec *v)
{
	size_t to;
	uint32_t n;
	int r = follow(t, id, &to);

	v->b = t->b;
	v->pos = 0;
	v->n = 0;
	if (r < 0 || to == 0)
		return r;
	if (!fits(t->b, to, 4))
		return bad("vector outside the buffer", to);
	n = le32_get(t->b->buf + to);
	if ((uint64_t)n * elem > t->b->len - to - 4)
		return bad("vector length", to);
	r = charge(t->b, (uint64_t)n * elem);
	if (r < 0)
		return r;
	v->pos = to + 4;
	v->n = n;
	return 0;
}

/* Follow element @i of a vector of offsets. */
static int elem_follow(const struct sfb_vec *v, uint32_t i, size_t *to)
{
	size_t at;
	uint32_t rel;

	if (i >= v->n)
		return -EINVAL;
	at = v->pos + 4 * (size_t)i;
	rel = le32_get(v->b->buf + at);
	if (rel == 0 || !fits(v->b, at, rel))
		return bad("vector element outside the buffer", at);
	*to = at + rel;
	return 0;
}

int idx_sfb_vec_table(const struct sfb_vec *v, uint32_t i, struct idx_sfb_table *out)
{
	size_t to;
	int r = elem_follow(v, i, &to);

	return r < 0 ? r : table_at(v->b, to, out);
}

int idx_sfb_vec_str(const struct sfb_vec *v, uint32_t i, const char **s, uint32_t *n)
{
	size_t to;
	int r = elem_follow(v, i, &to);

	return r < 0 ? r : str_at(v->b, to, false, s, n);
}
