/* SPDX-License-Identifier: MIT */
/*
 * GNU sparse members: a file whose holes are not stored. The member's data
 * is the file's non-hole parts packed one after the other; a map says where
 * each part goes in the file. Four spellings of the map exist, all read
 * here the way Go's archive/tar (containerd's reader) and GNU tar read them:
 *
 *   old GNU 'S'  4 (offset, length) pairs in the header (octal or base-256
 *                fields at 386), "is extended" at 482, the apparent size at
 *                483; each extension block that follows holds 21 more pairs
 *                and its own "is extended" byte at 504. Extension blocks are
 *                not counted in the member's size.
 *   pax 0.0      repeated GNU.sparse.offset / GNU.sparse.numbytes records
 *                (collected in order by tar_pax.c), GNU.sparse.size.
 *   pax 0.1      GNU.sparse.map = "off,len,off,len,...", GNU.sparse.size.
 *   pax 1.0      GNU.sparse.major=1, minor=0, GNU.sparse.realsize; the map
 *                is at the start of the member's data: decimal numbers each
 *                ending in '\n' (the count, then the pairs), padded to a
 *                block; the file's parts follow.
 *
 * The map is checked as Go checks it (sorted, no overlap, inside the
 * apparent size) and the parts must fill the member's data exactly (Go
 * fails the extraction otherwise). It is then normalised: empty parts are
 * dropped (GNU tar ends a file that ends in a hole with one) and touching
 * parts merged, so a map has one form; a file with no hole at all is
 * reported as a plain file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xarray.h"
#include "common/xmath.h"
#include "index/tar_int.h"

void idx_tar_sparse_release(struct tar_sparse *sp)
{
	free(sp->ext);
	memset(sp, 0, sizeof(*sp));
}

static int add_ext(struct tar_parser *p, uint64_t off, uint64_t len)
{
	struct tar_sparse *sp = &p->sp;
	int r;

	r = xarray_grow((void **)&sp->ext, &sp->cap, sp->n, sizeof(*sp->ext), 16, TAR_MAX_EXTENTS);
	if (r == -EFBIG)
		log_err("cannot read tar: sparse file '%s' has more than %u parts", p->path,
			TAR_MAX_EXTENTS);
	if (r < 0)
		return r;
	sp->ext[sp->n++] = (struct idx_extent){ .off = off, .len = len };
	return 0;
}

/* Old GNU pairs: 12-byte offset then 12-byte length; an empty offset ends the list. */
static int add_gnu_pairs(struct tar_parser *p, const uint8_t *f, unsigned count)
{
	for (unsigned i = 0; i < count; i++, f += 24) {
		int64_t off, len;
		int r;

		if (f[0] == '\0')
			break;
		if (idx_tar_num_field(f, 12, &off) < 0 || idx_tar_num_field(f + 12, 12, &len) < 0 ||
		    off < 0 || len < 0) {
			log_err("cannot read tar: bad sparse map entry of '%s'", p->path);
			return -EBADMSG;
		}
		r = add_ext(p, (uint64_t)off, (uint64_t)len);
		if (r < 0)
			return r;
	}
	return 0;
}

/* "off,len,off,len,..." (0.1) */
static int add_map01(struct tar_parser *p, const char *v, size_t len)
{
	uint64_t pair[2];
	size_t pos = 0;
	unsigned k = 0;
	int r;

	while (pos < len) {
		const char *c = memchr(v + pos, ',', len - pos);
		size_t n = c ? (size_t)(c - (v + pos)) : len - pos;

		if (idx_tar_dec_u64(v + pos, n, TAR_MAX_SIZE, &pair[k]) < 0 || (c && c + 1 == v + len))
			goto out_bad;
		pos += n + 1;
		if (++k == 2) {
			r = add_ext(p, pair[0], pair[1]);
			if (r < 0)
				return r;
			k = 0;
		}
	}
	if (k == 0)
		return 0;
out_bad:
	log_err("cannot read tar: bad GNU.sparse.map of '%s'", p->path);
	return -EBADMSG;
}

/*
 * Check the map as read against the apparent size and the stored bytes,
 * then normalise it and fill in the tar offsets (from @data_off).
 */
static int finish_map(struct tar_parser *p, uint64_t stored, uint64_t data_off,
		      struct tar_entry *e)
{
	struct tar_sparse *sp = &p->sp;
	uint64_t prev_end = 0, sum = 0, end;
	uint32_t n = 0;

	for (uint32_t i = 0; i < sp->n; i++) {
		struct idx_extent x = sp->ext[i];

		if (xadd_u64(x.off, x.len, &end) || end > sp->real || x.off < prev_end) {
			log_err("cannot read tar: sparse map of '%s' is out of order or past its "
				"size", p->path);
			return -EBADMSG;
		}
		prev_end = end;
		sum += x.len;
		if (x.len == 0)
			continue;
		if (n && sp->ext[n - 1].off + sp->ext[n - 1].len == x.off) {
			sp->ext[n - 1].len += x.len;
			continue;
		}
		x.tar_off = data_off + (sum - x.len);
		sp->ext[n++] = x;
	}
	if (sum != stored) {
		log_err("cannot read tar: sparse map of '%s' holds %llu bytes, the member %llu",
			p->path, (unsigned long long)sum, (unsigned long long)stored);
		return -EBADMSG;
	}
	sp->n = n;
	e->data_off = data_off;
	if (e->type != IDX_T_REG)
		return 0; /* an 'S' header naming a whiteout or a directory */
	e->size = sp->real;
	/* No hole at all: a plain file, one spelling for one content. */
	e->sparse = !(n == 1 && sp->ext[0].off == 0 && sp->ext[0].len == sp->real) &&
		    !(n == 0 && sp->real == 0);
	e->n_extents = e->sparse ? n : 0;
	e->extents = e->sparse ? sp->ext : NULL;
	return 0;
}

static int get_real(struct tar_parser *p, const char *key, const char *alt, uint64_t *real)
{
	const struct tar_kv *kv = idx_tar_kvset_get(&p->local, key);

	if (!kv || kv->vlen == 0)
		kv = alt ? idx_tar_kvset_get(&p->local, alt) : NULL;
	if (!kv || kv->vlen == 0) {
		log_err("cannot read tar: sparse file '%s' has no size record", p->path);
		return -EBADMSG;
	}
	if (idx_tar_dec_u64((const char *)kv->val, kv->vlen, TAR_MAX_SIZE - 1, real) < 0) {
		log_err("cannot read tar: bad sparse size of '%s'", p->path);
		return -EBADMSG;
	}
	return 0;
}

static bool rec_is(const struct tar_parser *p, const char *key, const char *val)
{
	const struct tar_kv *kv = idx_tar_kvset_get(&p->local, key);

	return kv && strcmp((const char *)kv->val, val) == 0;
}

/* 0.x: GNU.sparse.numblocks must count the pairs read (Go refuses the member otherwise). */
static int check_numblocks(struct tar_parser *p)
{
	const struct tar_kv *kv = idx_tar_kvset_get(&p->local, "GNU.sparse.numblocks");
	uint64_t n;

	if (!kv || idx_tar_dec_u64((const char *)kv->val, kv->vlen, TAR_MAX_EXTENTS, &n) < 0 ||
	    n != p->sp.n) {
		log_err("cannot read tar: GNU.sparse.numblocks of '%s' is missing or does not "
			"count its map", p->path);
		return -EBADMSG;
	}
	return 0;
}

static int start_pax(struct tar_parser *p, struct tar_entry *e, uint64_t *data)
{
	const struct tar_kv *map = idx_tar_kvset_get(&p->local, "GNU.sparse.map");
	const struct tar_kv *maj = idx_tar_kvset_get(&p->local, "GNU.sparse.major");
	const struct tar_kv *min = idx_tar_kvset_get(&p->local, "GNU.sparse.minor");
	int r;

	if (rec_is(p, "GNU.sparse.major", "1") && rec_is(p, "GNU.sparse.minor", "0")) {
		r = get_real(p, "GNU.sparse.realsize", "GNU.sparse.size", &p->sp.real);
		if (r < 0)
			return r;
		if (*data < TAR_BLOCK) {
			log_err("cannot read tar: sparse file '%s' has no room for its map", p->path);
			return -EBADMSG;
		}
		p->sp.pax10 = true;
		p->sp.data = *data;
		return 1;
	}
	if ((maj || min) && !(rec_is(p, "GNU.sparse.major", "0") &&
			      (rec_is(p, "GNU.sparse.minor", "0") || rec_is(p, "GNU.sparse.minor", "1")))) {
		log_err("cannot read tar: sparse format %s.%s of '%s' is not supported",
			maj ? (const char *)maj->val : "?", min ? (const char *)min->val : "?",
			p->path);
		return -ENOTSUP;
	}
	if (p->local.sp00_n % 2) {
		log_err("cannot read tar: GNU.sparse.offset without its numbytes in '%s'", p->path);
		return -EBADMSG;
	}
	if (!p->local.sp00_n && !map)
		return 0; /* GNU.sparse.name or .size alone: not a sparse member */
	r = get_real(p, "GNU.sparse.size", "GNU.sparse.realsize", &p->sp.real);
	for (uint32_t i = 0; r == 0 && i < p->local.sp00_n; i += 2)
		r = add_ext(p, p->local.sp00[i], p->local.sp00[i + 1]);
	if (r == 0 && !p->local.sp00_n && map)
		r = add_map01(p, (const char *)map->val, map->vlen);
	if (r == 0)
		r = check_numblocks(p);
	if (r == 0)
		r = finish_map(p, *data, e->data_off, e);
	return r;
}

int idx_tar_sparse_start(struct tar_parser *p, const uint8_t *h, struct tar_entry *e, uint64_t *data)
{
	int64_t real;
	int r;

	p->sp.n = 0;
	p->sp.have_count = p->sp.digits = false;
	p->sp.want = p->sp.got = p->sp.num = 0;
	if (h[156] != 'S')
		return start_pax(p, e, data);
	if (idx_tar_num_field(h + 483, 12, &real) < 0 || real < 0 || (uint64_t)real >= TAR_MAX_SIZE) {
		log_err("cannot read tar: bad sparse size of '%s'", p->path);
		return -EBADMSG;
	}
	p->sp.real = (uint64_t)real;
	p->sp.pax10 = false;
	p->sp.data = *data;
	r = add_gnu_pairs(p, h + 386, 4);
	if (r < 0)
		return r;
	if (h[482])
		return 1;
	return finish_map(p, *data, e->data_off, e);
}

/* 1.0: one number of the map has been read. 1 once the map is complete. */
static int map10_number(struct tar_parser *p, uint64_t num)
{
	struct tar_sparse *sp = &p->sp;
	int r;

	if (!sp->have_count) {
		if (num > TAR_MAX_EXTENTS) {
			log_err("cannot read tar: sparse file '%s' has more than %u parts", p->path,
				TAR_MAX_EXTENTS);
			return -EFBIG;
		}
		sp->have_count = true;
		sp->want = 2 * num;
	} else if (sp->got++ % 2 == 0) {
		sp->pend_off = num;
	} else {
		r = add_ext(p, sp->pend_off, num);
		if (r < 0)
			return r;
	}
	return sp->got == sp->want;
}

/* 1.0: the bytes of one map block; 1 once the map is complete. */
static int map10_bytes(struct tar_parser *p, const uint8_t *b, size_t n)
{
	struct tar_sparse *sp = &p->sp;
	int r;

	for (size_t i = 0; i < n; i++) {
		if (b[i] >= '0' && b[i] <= '9') {
			if (sp->num > (TAR_MAX_SIZE - 9) / 10)
				goto out_bad;
			sp->num = sp->num * 10 + (uint64_t)(b[i] - '0');
			sp->digits = true;
			continue;
		}
		if (b[i] != '\n' || !sp->digits)
			goto out_bad;
		r = map10_number(p, sp->num);
		sp->num = 0;
		sp->digits = false;
		if (r != 0)
			return r; /* the rest of the block is padding */
	}
	return 0;
out_bad:
	log_err("cannot read tar: bad sparse map in the data of '%s'", p->path);
	return -EBADMSG;
}

int idx_tar_sparse_block(struct tar_parser *p)
{
	struct tar_sparse *sp = &p->sp;
	struct tar_entry *e = &sp->held;
	int r, done;

	if (sp->pax10) {
		sp->data -= TAR_BLOCK; /* checked before the block was read */
		done = map10_bytes(p, p->blk, TAR_BLOCK);
	} else {
		r = add_gnu_pairs(p, p->blk, 21);
		done = r < 0 ? r : !p->blk[504];
	}
	if (done < 0)
		return done;
	if (!done) {
		if (sp->pax10 && sp->data < TAR_BLOCK) {
			log_err("cannot read tar: sparse map of '%s' runs past its member", p->path);
			return -EBADMSG;
		}
		return 0;
	}
	r = finish_map(p, sp->data, p->off, e);
	if (r < 0)
		return r;
	return idx_tar_hdr_emit(p, e, sp->skip, sp->data);
}
