/* SPDX-License-Identifier: MIT */
/*
 * idx_load() on arbitrary bytes. The first byte picks the door: even, the
 * rest is a whole index file (envelope and all); odd, the rest is a bare
 * payload handed to the validator directly (the envelope's digest would
 * otherwise stop nearly every mutation at the door). Whatever loads must
 * behave: every accessor, a lookup of every path, span lookups, a decode
 * of small spans from zeros, idx_load_for() with its own blob (and not
 * with another size), save -> load -> save giving the same bytes, and the
 * merged tree of the layer built whole and lazily (IDX_TREE_LAZY) showing
 * the same names, types, sizes and link counts. The bounds_* seeds each
 * trip one of the bounds of index/bounds.c.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "index/index.h"
#include "index/layer_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const struct idx_layer *l)
{
	struct idx_info info;
	uint32_t id;

	idx_layer_info(l, &info);
	for (uint32_t i = 0; i < idx_entry_count(l); i++) {
		const struct idx_entry *e = idx_entry_get(l, i);

		if (idx_entry_find(l, e->path, &id) != 0 || strcmp(idx_entry_get(l, id)->path, e->path))
			abort();
		for (uint32_t k = 0; k < e->n_xattrs; k++)
			if (!e->xattrs[k].name || (e->xattrs[k].len && !e->xattrs[k].value))
				abort();
	}
	for (uint32_t i = 0; i < idx_span_count(l); i++) {
		struct idx_span sp;
		uint8_t *c, *out;

		if (idx_span_get(l, i, &sp) != 0 || idx_span_find(l, sp.u_start, &id) != 0 || id != i)
			abort();
		if (sp.c_end - sp.c_start > (1u << 20) || sp.u_len > (4u << 20) || i > 8)
			continue;
		c = calloc(1, sp.c_end - sp.c_start + 1);
		out = malloc(sp.u_len);
		if (c && out)
			(void)idx_span_decode(l, i, c, sp.c_end - sp.c_start, out, sp.u_len);
		free(c);
		free(out);
	}
}

/* An index that loads loads for its own blob, and for no other size. */
static void load_for(const struct idx_layer *l, const uint8_t *f, size_t len)
{
	struct idx_layer *l2 = NULL;
	struct idx_info info;

	idx_layer_info(l, &info);
	if (idx_load_for(f, len, info.blob_digest, info.blob_size, &l2) != 0)
		abort();
	idx_layer_free(l2);
	l2 = NULL;
	if (idx_load_for(f, len, info.blob_digest, info.blob_size ^ 1, &l2) != -EBADMSG || l2)
		abort();
}

/* A digest of the subtree at @ino, children in name order; *budget bounds the walk. */
static uint64_t walk(const struct idx_tree *t, uint64_t ino, unsigned depth, unsigned *budget)
{
	const struct idx_node *n = idx_tree_node(t, ino), *c;
	uint64_t h = 1469598103934665603ull;

	if (!n || (*budget)-- == 0)
		return 0;
	for (const char *p = n->name; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	h = (h ^ n->type) * 1099511628211ull;
	h = (h ^ n->size) * 1099511628211ull;
	h = (h ^ n->nlink) * 1099511628211ull;
	if (n->type != IDX_T_DIR || depth > 64)
		return h;
	for (uint32_t i = 0; idx_tree_child(t, ino, i, &c) == 0; i++)
		h = (h ^ walk(t, c->ino, depth + 1, budget)) * 1099511628211ull;
	return h;
}

/* The whole and the lazy merge of @l agree wherever both are built. */
static void trees(const struct idx_layer *l)
{
	const struct idx_layer *ls[] = { l };
	struct idx_tree *whole = NULL, *lazy = NULL;
	unsigned bw = 20000, bl = 20000;

	if (idx_tree_build(ls, 1, 0, &whole) == 0 && idx_tree_build(ls, 1, IDX_TREE_LAZY, &lazy) == 0 &&
	    walk(whole, IDX_ROOT_INO, 0, &bw) != walk(lazy, IDX_ROOT_INO, 0, &bl))
		abort();
	idx_tree_free(whole);
	idx_tree_free(lazy);
}

static void roundtrip(const struct idx_layer *l)
{
	void *a = NULL, *b = NULL;
	size_t la, lb;
	struct idx_layer *l2 = NULL;

	if (idx_save(l, &a, &la) != 0)
		return;
	if (idx_load(a, la, &l2) != 0)
		abort(); /* what we accept and save, we must accept again */
	if (idx_save(l2, &b, &lb) != 0 || la != lb || memcmp(a, b, la) != 0)
		abort();
	idx_layer_free(l2);
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct idx_layer *l = NULL;
	uint8_t *payload;
	int r;

	if (size < 1)
		return 0;
	if (data[0] % 2 == 0) {
		r = idx_load(data + 1, size - 1, &l);
	} else {
		payload = malloc(size);
		if (!payload)
			return 0;
		memcpy(payload, data + 1, size - 1);
		r = idx_payload_parse(payload, size - 1, &l);
	}
	if (r != 0)
		return 0;
	exercise(l);
	trees(l);
	if (data[0] % 2 == 0)
		load_for(l, data + 1, size - 1);
	roundtrip(l);
	idx_layer_free(l);
	return 0;
}
