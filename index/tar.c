/* SPDX-License-Identifier: MIT */
/*
 * Push parser of a layer's uncompressed tar stream: a small state machine
 * over 512-byte blocks. Headers are assembled into one block buffer; pax
 * and GNU long-name payloads into a bounded buffer; member data is only
 * counted, never copied. tar_hdr.c turns a complete header into an entry.
 *
 * States: HEADER (filling a header block) -> COLLECT (special payload) or
 * SKIP (member data) -> PAD (up to the next 512 boundary) -> HEADER ...,
 * until an all-zero header block -> END, where whatever follows is ignored.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmath.h"
#include "index/tar_int.h"

int idx_tar_parser_new(const struct tar_callbacks *cb, void *ctx, struct tar_parser **out)
{
	struct tar_parser *p;

	if (!cb || !cb->on_entry)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cb = *cb;
	p->ctx = ctx;
	p->st = TAR_ST_HEADER;
	dbuf_init(&p->coll, TAR_MAX_SPECIAL);
	*out = p;
	return 0;
}

void idx_tar_parser_free(struct tar_parser *p)
{
	if (!p)
		return;
	dbuf_release(&p->coll);
	free(p->longname);
	free(p->longlink);
	idx_tar_kvset_clear(&p->local);
	idx_tar_kvset_clear(&p->global);
	idx_tar_sparse_release(&p->sp);
	free(p);
}

uint64_t idx_tar_parser_offset(const struct tar_parser *p)
{
	return p->off;
}

uint64_t idx_tar_parser_count(const struct tar_parser *p)
{
	return p->count;
}

/* After a member's data or a special payload: pad to the next block. */
void idx_tar_enter_data(struct tar_parser *p, uint64_t len)
{
	p->remain = len;
	if (len > 0)
		p->st = TAR_ST_SKIP;
	else
		p->st = (p->off % TAR_BLOCK) ? TAR_ST_PAD : TAR_ST_HEADER;
}

static bool is_zero(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (b[i])
			return false;
	}
	return true;
}

static int finish_special(struct tar_parser *p)
{
	char **slot;
	int r;

	switch (p->special) {
	case 'x':
	case 'g':
		r = idx_tar_pax_parse(p->coll.data ? p->coll.data : "", p->coll.len, p->special == 'g',
				  p->special == 'g' ? &p->global : &p->local);
		/*
		 * A global header is checked (a malformed one fails the layer, as
		 * in Go's archive/tar), then dropped: containerd, moby and
		 * containers/storage apply a layer ignoring it, and the mount
		 * shows what they unpack (GNU tar applies it to later members).
		 */
		idx_tar_kvset_clear(&p->global);
		if (r < 0)
			return r;
		break;
	default:
		/* GNU 'L'/'K': a NUL-terminated string (size counts the NUL). */
		slot = p->special == 'L' ? &p->longname : &p->longlink;
		free(*slot);
		*slot = dbuf_take(&p->coll, NULL);
		if (!*slot) {
			*slot = strdup("");
			if (!*slot)
				return -ENOMEM;
		}
		break;
	}
	dbuf_reset(&p->coll);
	p->special = 0;
	idx_tar_enter_data(p, 0);
	return 0;
}

static int start_special(struct tar_parser *p, char type, int64_t size)
{
	if (size < 0 || (uint64_t)size > TAR_MAX_SPECIAL) {
		log_err("cannot read tar: '%c' header at offset %llu has a payload of %lld bytes "
			"(limit %u)", type, (unsigned long long)p->member_off, (long long)size,
			TAR_MAX_SPECIAL);
		return size < 0 ? -EBADMSG : -EFBIG;
	}
	if (type != 'g')
		p->pending = true;
	/*
	 * Of several 'x' headers before one member only the last applies
	 * (POSIX; GNU tar and Go agree): each one starts from nothing.
	 */
	if (type == 'x')
		idx_tar_kvset_clear(&p->local);
	p->special = type;
	if (type != 'g')
		p->pending_what = type == 'x'   ? "pax extended"
				  : type == 'L' ? "GNU long name"
						: "GNU long link";
	dbuf_reset(&p->coll);
	p->remain = (uint64_t)size;
	p->st = TAR_ST_COLLECT;
	if (size == 0)
		return finish_special(p);
	return 0;
}

static int on_block(struct tar_parser *p)
{
	const uint8_t *h = p->blk;
	int64_t size;
	int r;

	p->blk_len = 0;
	if (is_zero(h, TAR_BLOCK)) {
		if (p->pending) {
			log_err("cannot read tar: end of archive right after the %s header at "
				"offset %llu", p->pending_what, (unsigned long long)p->member_off);
			return -EBADMSG;
		}
		p->st = TAR_ST_END;
		return 0;
	}
	if (!p->pending)
		p->member_off = p->off - TAR_BLOCK;
	r = idx_tar_hdr_check(p, h);
	if (r < 0)
		return r;
	switch (h[156]) {
	case 'x':
	case 'X': /* Solaris/star's name for the same extended header */
	case 'g':
	case 'L':
	case 'K':
		r = idx_tar_num_field(h + 124, 12, &size);
		if (r < 0) {
			log_err("cannot read tar: bad size in the header at offset %llu",
				(unsigned long long)p->member_off);
			return r;
		}
		return start_special(p, h[156] == 'X' ? 'x' : (char)h[156], size);
	default:
		return idx_tar_hdr_member(p, h);
	}
}

/* Consume up to @n bytes in the current state; the count in *used. */
static int step(struct tar_parser *p, const uint8_t *b, size_t n, size_t *used)
{
	size_t k;
	int r;

	switch (p->st) {
	case TAR_ST_HEADER:
		k = XMIN(n, TAR_BLOCK - p->blk_len);
		memcpy(p->blk + p->blk_len, b, k);
		p->blk_len += k;
		p->off += k;
		*used = k;
		return p->blk_len == TAR_BLOCK ? on_block(p) : 0;
	case TAR_ST_SPARSE:
		k = XMIN(n, TAR_BLOCK - p->blk_len);
		memcpy(p->blk + p->blk_len, b, k);
		p->blk_len += k;
		p->off += k;
		*used = k;
		if (p->blk_len < TAR_BLOCK)
			return 0;
		p->blk_len = 0;
		return idx_tar_sparse_block(p);
	case TAR_ST_COLLECT:
		k = (size_t)XMIN((uint64_t)n, p->remain);
		*used = k;
		p->off += k;
		p->remain -= k;
		r = dbuf_add(&p->coll, b, k);
		if (r < 0)
			return r;
		return p->remain == 0 ? finish_special(p) : 0;
	case TAR_ST_SKIP:
		k = (size_t)XMIN((uint64_t)n, p->remain);
		*used = k;
		p->off += k;
		p->remain -= k;
		if (p->remain == 0)
			idx_tar_enter_data(p, 0);
		return 0;
	case TAR_ST_PAD:
		k = (size_t)XMIN((uint64_t)n, TAR_BLOCK - p->off % TAR_BLOCK);
		*used = k;
		p->off += k;
		if (p->off % TAR_BLOCK == 0)
			p->st = TAR_ST_HEADER;
		return 0;
	case TAR_ST_END:
		if (!p->garbage && !is_zero(b, n))
			p->garbage = true;
		p->off += n;
		*used = n;
		return 0;
	}
	return -EINVAL;
}

int idx_tar_parser_feed(struct tar_parser *p, const void *buf, size_t n)
{
	const uint8_t *b = buf;

	if (p->err)
		return p->err;
	while (n > 0) {
		size_t used = 0;
		int r = step(p, b, n, &used);

		if (r < 0) {
			p->err = r;
			return r;
		}
		b += used;
		n -= used;
	}
	return 0;
}

int idx_tar_parser_finish(struct tar_parser *p)
{
	if (p->err)
		return p->err;
	switch (p->st) {
	case TAR_ST_END:
		if (p->garbage)
			log_warn("ignoring non-zero bytes after the end of the tar archive");
		return 0;
	case TAR_ST_HEADER:
	case TAR_ST_PAD:
		/* A member boundary: fine (umoci writes no padding, no EOF blocks). */
		if (p->st == TAR_ST_HEADER && p->blk_len > 0 && !is_zero(p->blk, p->blk_len))
			break;
		if (p->pending)
			break;
		return 0;
	case TAR_ST_SPARSE:
		log_err("cannot read tar: truncated in the sparse map of '%s'", p->path);
		p->err = -EBADMSG;
		return p->err;
	case TAR_ST_SKIP:
		log_err("cannot read tar: truncated in the data of '%s'", p->path);
		p->err = -EBADMSG;
		return p->err;
	case TAR_ST_COLLECT:
		break;
	}
	if (p->pending && p->st != TAR_ST_COLLECT && p->blk_len == 0) {
		log_err("cannot read tar: the archive ends after the %s header at offset %llu, "
			"with no member for it", p->pending_what, (unsigned long long)p->member_off);
		p->err = -EBADMSG;
		return p->err;
	}
	log_err("cannot read tar: truncated in a header at offset %llu",
		(unsigned long long)p->member_off);
	p->err = -EBADMSG;
	return p->err;
}
