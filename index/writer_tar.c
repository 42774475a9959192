/* SPDX-License-Identifier: MIT */
/*
 * The tar half of the seekable-layer writer: one member's headers as
 * deterministic bytes. ustar when every field fits (the path split into
 * prefix/name when it can be), a pax 'x' header before it otherwise (long
 * names or links, sizes >= 8 GiB, ids >= 2^21, mtimes before 1970, after
 * 2242 or with nanoseconds, xattrs). Nothing host-dependent goes in: uname
 * and gname stay empty, the pax header's own name is derived from the
 * member's, its mtime is 0.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "index/tar_int.h"
#include "index/writer_int.h"

#define OCT8_MAX 07777777ull
#define OCT12_MAX 077777777777ull

static void put_oct(uint8_t *f, size_t w, uint64_t v)
{
	/* w-1 octal digits, then NUL: the form every tar reads */
	f[w - 1] = 0;
	for (size_t i = w - 1; i-- > 0;) {
		f[i] = (uint8_t)('0' + (v & 7));
		v >>= 3;
	}
}

static void put_checksum(uint8_t *h)
{
	unsigned sum = 0;

	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < WTAR_BLOCK; i++)
		sum += h[i];
	put_oct(h + 148, 7, sum);
	h[155] = ' ';
}

static char typeflag(uint8_t type)
{
	switch (type) {
	case IDX_T_HARDLINK:
		return '1';
	case IDX_T_SYMLINK:
		return '2';
	case IDX_T_CHR:
		return '3';
	case IDX_T_BLK:
		return '4';
	case IDX_T_DIR:
		return '5';
	case IDX_T_FIFO:
		return '6';
	default:
		return '0'; /* REG, WHITEOUT, OPAQUE */
	}
}

/* The member name as it goes in the archive: "./" for the root, "d/" for dirs, whiteouts. */
static int wtar_member_name(const struct idx_entry *e, struct dbuf *name)
{
	const char *p = e->path ? e->path : "";
	const char *slash = strrchr(p, '/');
	int r = 0;

	dbuf_reset(name);
	switch (e->type) {
	case IDX_T_WHITEOUT:
		if (!*p)
			return -EINVAL;
		if (slash)
			r = dbuf_add(name, p, (size_t)(slash - p + 1));
		if (r == 0)
			r = dbuf_add_str(name, IDX_WH_PREFIX);
		if (r == 0)
			r = dbuf_add_str(name, slash ? slash + 1 : p);
		break;
	case IDX_T_OPAQUE:
		if (*p)
			r = dbuf_printf(name, "%s/", p);
		if (r == 0)
			r = dbuf_add_str(name, IDX_WH_OPAQUE);
		break;
	case IDX_T_DIR:
		r = *p ? dbuf_printf(name, "%s/", p) : dbuf_add_str(name, "./");
		break;
	default:
		if (!*p)
			return -EINVAL;
		r = dbuf_add_str(name, p);
	}
	return r; /* dbuf keeps it NUL-terminated */
}

/* ustar prefix/name split: the rightmost '/' that leaves both parts in their fields. */
static bool split_name(const char *n, size_t len, size_t *cut)
{
	if (len <= 100) {
		*cut = 0;
		return true;
	}
	if (len > 256)
		return false;
	for (size_t i = len - 1; i > 0; i--) {
		if (n[i] != '/' || i > 155)
			continue;
		if (len - i - 1 > 100 || len - i - 1 == 0)
			return false;
		*cut = i;
		return true;
	}
	return false;
}

/* One "len key=value\n" record; len counts itself. */
static int pax_rec(struct dbuf *b, const char *key, const void *val, size_t vlen)
{
	size_t base = strlen(key) + vlen + 3, n = base + 1, digits;
	char num[24];
	int r;

	for (;;) {
		digits = (size_t)snprintf(num, sizeof(num), "%zu", n);
		if (base + digits == n)
			break;
		n = base + digits;
	}
	r = dbuf_printf(b, "%zu %s=", n, key);
	if (r == 0)
		r = dbuf_add(b, val, vlen);
	if (r == 0)
		r = dbuf_add(b, "\n", 1);
	return r;
}

static int pax_num(struct dbuf *b, const char *key, uint64_t v)
{
	char s[24];
	int n = snprintf(s, sizeof(s), "%" PRIu64, v);

	return pax_rec(b, key, s, (size_t)n);
}

static int pax_mtime(struct dbuf *b, int64_t sec, uint32_t nsec)
{
	char s[48];
	int n;

	if (nsec == 0)
		n = snprintf(s, sizeof(s), "%" PRId64, sec);
	else if (sec >= 0)
		n = snprintf(s, sizeof(s), "%" PRId64 ".%09" PRIu32, sec, nsec);
	else /* 2 s before the epoch plus 0.75 s is -1.25 */
		n = snprintf(s, sizeof(s), "-%" PRIu64 ".%09" PRIu32, (uint64_t)(-(sec + 1)),
			     1000000000u - nsec);
	/* trailing zeros of the fraction say nothing */
	while (nsec && s[n - 1] == '0')
		n--;
	return pax_rec(b, "mtime", s, (size_t)n);
}

static int pax_xattrs(struct dbuf *b, const struct idx_entry *e)
{
	char key[300];
	int r = 0;

	for (uint32_t i = 0; r == 0 && i < e->n_xattrs; i++) {
		const struct idx_xattr *x = &e->xattrs[i];

		/* every reader splits a pax record at its first '=': such a name reads back as another */
		if (!x->name || !*x->name || strlen(x->name) > 255 || strchr(x->name, '=') ||
		    x->len > IDX_MAX_XATTR_VALUE)
			return -EINVAL;
		snprintf(key, sizeof(key), "SCHILY.xattr.%s", x->name);
		r = pax_rec(b, key, x->value, x->len);
	}
	return r;
}

static bool mtime_fits(const struct idx_entry *e)
{
	return e->mtime_nsec == 0 && e->mtime_sec >= 0 && (uint64_t)e->mtime_sec <= OCT12_MAX;
}

/* The pax records @e needs, in a fixed order; empty when ustar suffices. */
static int pax_records(const struct idx_entry *e, const struct dbuf *name, struct dbuf *pax)
{
	size_t cut;
	int r = 0;

	dbuf_reset(pax);
	if (!split_name(name->data, name->len, &cut))
		r = pax_rec(pax, "path", name->data, name->len);
	if (r == 0 && e->link && strlen(e->link) > 100)
		r = pax_rec(pax, "linkpath", e->link, strlen(e->link));
	if (r == 0 && e->type == IDX_T_REG && e->size > OCT12_MAX)
		r = pax_num(pax, "size", e->size);
	if (r == 0 && e->uid > OCT8_MAX)
		r = pax_num(pax, "uid", e->uid);
	if (r == 0 && e->gid > OCT8_MAX)
		r = pax_num(pax, "gid", e->gid);
	if (r == 0 && !mtime_fits(e))
		r = pax_mtime(pax, e->mtime_sec, e->mtime_nsec);
	if (r == 0)
		r = pax_xattrs(pax, e);
	return r;
}

static void fill_name(uint8_t *h, const char *n, size_t len)
{
	size_t cut;

	if (!split_name(n, len, &cut)) {
		memcpy(h, n, 100); /* pax carries the real one */
	} else if (cut == 0) {
		memcpy(h, n, len);
	} else {
		memcpy(h + 345, n, cut);
		memcpy(h, n + cut + 1, len - cut - 1);
	}
}

static void ustar_common(uint8_t *h, char flag)
{
	h[156] = (uint8_t)flag;
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
}

/* The 'x' header block for @len bytes of records; its name follows the member's. */
static void pax_header(uint8_t *h, const struct dbuf *name, size_t len)
{
	const char *base = name->data;
	char pn[100];
	size_t bl;

	memset(h, 0, WTAR_BLOCK);
	for (size_t i = 0; i + 1 < name->len; i++)
		if (name->data[i] == '/')
			base = name->data + i + 1;
	bl = strnlen(base, 80);
	snprintf(pn, sizeof(pn), "PaxHeaders/%.*s", (int)bl, base);
	memcpy(h, pn, strlen(pn));
	put_oct(h + 100, 8, 0644);
	put_oct(h + 108, 8, 0);
	put_oct(h + 116, 8, 0);
	put_oct(h + 124, 12, len);
	put_oct(h + 136, 12, 0);
	put_oct(h + 329, 8, 0);
	put_oct(h + 337, 8, 0);
	ustar_common(h, 'x');
	put_checksum(h);
}

static uint64_t clamp_u(uint64_t v, uint64_t max)
{
	return v > max ? 0 : v; /* the pax record holds the real value */
}

static void ustar_header(uint8_t *h, const struct idx_entry *e, const struct dbuf *name)
{
	uint64_t mt = e->mtime_sec < 0 ? 0 : clamp_u((uint64_t)e->mtime_sec, OCT12_MAX);
	bool wh = e->type == IDX_T_WHITEOUT || e->type == IDX_T_OPAQUE;
	size_t ll = e->link ? strlen(e->link) : 0;

	memset(h, 0, WTAR_BLOCK);
	fill_name(h, name->data, name->len);
	put_oct(h + 100, 8, wh ? 0 : e->mode & 07777);
	put_oct(h + 108, 8, clamp_u(e->uid, OCT8_MAX));
	put_oct(h + 116, 8, clamp_u(e->gid, OCT8_MAX));
	put_oct(h + 124, 12, e->type == IDX_T_REG ? clamp_u(e->size, OCT12_MAX) : 0);
	put_oct(h + 136, 12, mt);
	if (ll)
		memcpy(h + 157, e->link, ll > 100 ? 100 : ll);
	put_oct(h + 329, 8, e->type == IDX_T_CHR || e->type == IDX_T_BLK ? e->dev_major : 0);
	put_oct(h + 337, 8, e->type == IDX_T_CHR || e->type == IDX_T_BLK ? e->dev_minor : 0);
	ustar_common(h, typeflag(e->type));
	put_checksum(h);
}

static int check_entry(const struct idx_entry *e)
{
	bool needs_link = e->type == IDX_T_SYMLINK || e->type == IDX_T_HARDLINK;

	if (e->type > IDX_T_OPAQUE || !e->path || strlen(e->path) > IDX_MAX_PATH)
		return -EINVAL;
	if (needs_link != (e->link != NULL) || (e->link && strlen(e->link) > IDX_MAX_PATH))
		return -EINVAL;
	if (e->type != IDX_T_REG && e->size)
		return -EINVAL;
	if (e->dev_major > OCT8_MAX || e->dev_minor > OCT8_MAX || e->mtime_nsec >= 1000000000u)
		return -EINVAL;
	if (e->n_xattrs > 1024 || (e->n_xattrs && !e->xattrs))
		return -EINVAL;
	return 0;
}

int idx_wtar_headers(const struct idx_entry *e, struct dbuf *name, struct dbuf *pax, struct dbuf *out)
{
	uint8_t h[WTAR_BLOCK];
	size_t pad;
	int r;

	r = check_entry(e);
	if (r == 0)
		r = wtar_member_name(e, name);
	if (r == 0)
		r = pax_records(e, name, pax);
	if (r == 0 && pax->len > TAR_MAX_SPECIAL) {
		/* our own reader, Go's and GNU tar's refuse such a header: say whose it is */
		log_err("cannot store '%s': its pax header (xattrs, long names) would take %zu "
			"bytes, over the %u a tar reader takes", e->path, pax->len, TAR_MAX_SPECIAL);
		r = -EFBIG;
	}
	if (r < 0)
		return r;
	dbuf_reset(out);
	if (pax->len) {
		pax_header(h, name, pax->len);
		pad = (WTAR_BLOCK - pax->len % WTAR_BLOCK) % WTAR_BLOCK;
		r = dbuf_add(out, h, WTAR_BLOCK);
		if (r == 0)
			r = dbuf_add(out, pax->data, pax->len);
		memset(h, 0, WTAR_BLOCK);
		if (r == 0)
			r = dbuf_add(out, h, pad);
		if (r < 0)
			return r;
	}
	ustar_header(h, e, name);
	return dbuf_add(out, h, WTAR_BLOCK);
}
