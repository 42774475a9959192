/* SPDX-License-Identifier: MIT */
/*
 * index/ internal: a small reader of FlatBuffers binaries, enough for
 * SOCI's zTOC (tables, scalars, strings, byte vectors, vectors of tables
 * and of strings). Every offset is checked against the buffer before it is
 * followed, so a hostile buffer can only make a call fail (-EBADMSG), never
 * read outside it. Sharing is legal in FlatBuffers (two fields may point at
 * the same bytes), so the bytes reachable through a buffer can exceed its
 * size: a budget, charged for every string and vector read, caps the work
 * and the memory a caller spends (-EFBIG when exhausted).
 *
 * Layout reminder (flatbuffers.dev "Internals"): all little-endian; the
 * buffer starts with a uoffset (u32) to the root table; a table starts with
 * an soffset (i32) such that table - soffset is its vtable; a vtable is
 * u16 vtable size, u16 table size, then one u16 per field id (0 = absent)
 * giving the field's offset inside the table; an offset field holds a u32
 * relative to its own position; a vector is a u32 count then the elements;
 * a string is a u32 length, the bytes and a NUL.
 */
#ifndef INDEX_SOCI_FB_H
#define INDEX_SOCI_FB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sfb {
	const uint8_t *buf;
	size_t len;
	uint64_t budget; /* bytes of strings and vector elements still readable */
};

struct idx_sfb_table {
	struct sfb *b;
	size_t pos;      /* of the table (its soffset) */
	size_t vt;       /* of its vtable */
	uint16_t vt_len; /* bytes of the vtable */
	uint16_t size;   /* bytes of the table, soffset included */
};

struct sfb_vec {
	struct sfb *b;
	size_t pos;      /* of the first element */
	uint32_t n;
};

/* Start reading @buf; the budget is a few times its size. */
void idx_sfb_init(struct sfb *b, const void *buf, size_t len);
int idx_sfb_root(struct sfb *b, struct idx_sfb_table *t);

/* Scalars: @def when the field is absent (FlatBuffers' defaults). */
int idx_sfb_i64(const struct idx_sfb_table *t, unsigned id, int64_t def, int64_t *v);
int idx_sfb_i32(const struct idx_sfb_table *t, unsigned id, int32_t def, int32_t *v);
int idx_sfb_u32(const struct idx_sfb_table *t, unsigned id, uint32_t def, uint32_t *v);
int idx_sfb_i8(const struct idx_sfb_table *t, unsigned id, int8_t def, int8_t *v);

/*
 * A string field: *s points into the buffer (NUL-terminated there), *n its
 * length; NULL/0 when absent. -EBADMSG for a string with a NUL inside, as
 * C would see another string than the writer meant.
 */
int idx_sfb_str(const struct idx_sfb_table *t, unsigned id, const char **s, uint32_t *n);
/* The same for a string that may hold NUL bytes (a PAX value). */
int idx_sfb_str_bin(const struct idx_sfb_table *t, unsigned id, const char **s, uint32_t *n);
/* A sub-table; *present false (and @out untouched) when absent. */
int idx_sfb_table(const struct idx_sfb_table *t, unsigned id, struct idx_sfb_table *out, bool *present);
/* A vector of @elem-byte elements (4 for tables/strings); n = 0 when absent. */
int idx_sfb_vector(const struct idx_sfb_table *t, unsigned id, size_t elem, struct sfb_vec *v);
int idx_sfb_vec_table(const struct sfb_vec *v, uint32_t i, struct idx_sfb_table *out);
int idx_sfb_vec_str(const struct sfb_vec *v, uint32_t i, const char **s, uint32_t *n);

#endif
