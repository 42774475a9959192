/* SPDX-License-Identifier: MIT */
/*
 * The entries of a SOCI zTOC (its TOC.metadata, one FileMetadata table per
 * tar member, in tar order) handed to the TOC builder with their real tar
 * offsets. Field ids follow soci-snapshotter's ztoc.fbs: name 0, type 1,
 * uncompressed_offset 2, uncompressed_size 3, linkname 4, mode 5, uid 6,
 * gid 7, uname 8, gname 9, mod_time 10, devmajor 11, devminor 12,
 * xattrs 13 (the member's raw PAX records: Xattr{key 0, value 1}).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "index/soci_fb.h"
#include "index/soci_int.h"
#include "index/toc_int.h"

#define BAD(...)                                        \
	do {                                            \
		log_err("zTOC: " __VA_ARGS__);          \
		return -EBADMSG;                        \
	} while (0)

#define PAX_XATTR "SCHILY.xattr."
/* PAX records per member: more than any real tar writer emits. */
#define SOCI_MAX_PAX 4096u

enum { FM_NAME, FM_TYPE, FM_UOFF, FM_USIZE, FM_LINK, FM_MODE, FM_UID, FM_GID, FM_UNAME,
       FM_GNAME, FM_MTIME, FM_DEVMAJOR, FM_DEVMINOR, FM_XATTRS };

static int type_of(const char *t, uint8_t *out)
{
	static const struct {
		const char *name;
		uint8_t type;
	} types[] = {
		{ "reg", IDX_T_REG },	  { "dir", IDX_T_DIR },	    { "symlink", IDX_T_SYMLINK },
		{ "hardlink", IDX_T_HARDLINK }, { "char", IDX_T_CHR }, { "block", IDX_T_BLK },
		{ "fifo", IDX_T_FIFO },
	};

	for (size_t i = 0; t && i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcmp(t, types[i].name) == 0) {
			*out = types[i].type;
			return 0;
		}
	}
	BAD("entry type '%s'", t ? t : "(none)");
}

/* The member's PAX records: SCHILY.xattr.* become xattrs; sparse files are refused. */
static int pax_records(const struct idx_sfb_table *fm, const char *name, struct idx_xattr **xs,
		       uint32_t *nx)
{
	struct sfb_vec v;
	int r = idx_sfb_vector(fm, FM_XATTRS, 4, &v);

	*nx = 0;
	if (r < 0)
		return r;
	if (v.n > SOCI_MAX_PAX)
		BAD("'%s' has %u PAX records", name, v.n);
	*xs = v.n ? calloc(v.n, sizeof(**xs)) : NULL;
	if (v.n && !*xs)
		return -ENOMEM;
	for (uint32_t i = 0; i < v.n; i++) {
		struct idx_sfb_table x;
		const char *key, *val;
		uint32_t klen, vlen;

		r = idx_sfb_vec_table(&v, i, &x);
		if (r == 0)
			r = idx_sfb_str(&x, 0, &key, &klen);
		if (r == 0)
			r = idx_sfb_str_bin(&x, 1, &val, &vlen);
		if (r < 0)
			return r;
		if (!key)
			BAD("'%s': a PAX record without a key", name);
		/* Go's tar reader already applied the others (path, size, times, ids). */
		if (strncmp(key, "GNU.sparse.", strlen("GNU.sparse.")) == 0)
			BAD("'%s' is a sparse file: its zTOC offsets cannot be trusted", name);
		if (strncmp(key, PAX_XATTR, strlen(PAX_XATTR)) != 0)
			continue;
		if (klen == strlen(PAX_XATTR) || vlen > IDX_MAX_XATTR_VALUE)
			BAD("'%s': xattr record '%s'", name, key);
		(*xs)[*nx] = (struct idx_xattr){ .name = key + strlen(PAX_XATTR),
						 .value = (const uint8_t *)(val ? val : ""),
						 .len = vlen };
		(*nx)++;
	}
	return 0;
}

/* Scalars and strings of one FileMetadata into @e (strings borrowed from the buffer). */
static int read_fields(const struct idx_sfb_table *fm, struct idx_entry *e, uint64_t *usize)
{
	const char *name, *type, *mtime;
	uint32_t n, tn, mn;
	int64_t uoff, us, mode, dmaj, dmin;
	int r;

	r = idx_sfb_str(fm, FM_NAME, &name, &n);
	if (r == 0)
		r = idx_sfb_str(fm, FM_TYPE, &type, &tn);
	if (r == 0)
		r = idx_sfb_i64(fm, FM_UOFF, 0, &uoff);
	if (r == 0)
		r = idx_sfb_i64(fm, FM_USIZE, 0, &us);
	if (r == 0)
		r = idx_sfb_str(fm, FM_LINK, &e->link, &tn);
	if (r == 0)
		r = idx_sfb_i64(fm, FM_MODE, 0, &mode);
	if (r == 0)
		r = idx_sfb_u32(fm, FM_UID, 0, &e->uid);
	if (r == 0)
		r = idx_sfb_u32(fm, FM_GID, 0, &e->gid);
	if (r == 0)
		r = idx_sfb_str(fm, FM_MTIME, &mtime, &mn);
	if (r == 0)
		r = idx_sfb_i64(fm, FM_DEVMAJOR, 0, &dmaj);
	if (r == 0)
		r = idx_sfb_i64(fm, FM_DEVMINOR, 0, &dmin);
	if (r < 0)
		return r;
	if (!name || !*name)
		BAD("an entry without a name");
	e->path = name;
	r = type_of(type, &e->type);
	if (r < 0)
		return r;
	if (uoff < 0 || us < 0)
		BAD("'%s': negative offset or size", name);
	/* Go keeps the header's mode field: permission bits, maybe the S_IFMT bits too. */
	if (mode < 0 || (mode & ~(int64_t)0177777))
		BAD("'%s': mode %llo", name, (unsigned long long)mode);
	e->mode = (uint32_t)(mode & 07777);
	if (dmaj < 0 || dmaj > UINT32_MAX || dmin < 0 || dmin > UINT32_MAX)
		BAD("'%s': device numbers", name);
	e->dev_major = (uint32_t)dmaj;
	e->dev_minor = (uint32_t)dmin;
	if (!mtime)
		BAD("'%s' has no mod_time", name);
	if (rfc3339_parse(mtime, mn, &e->mtime_sec, &e->mtime_nsec) < 0)
		BAD("'%s': mod_time '%.*s' is not RFC 3339", name, (int)mn, mtime);
	if ((e->type == IDX_T_SYMLINK || e->type == IDX_T_HARDLINK) && (!e->link || !*e->link))
		BAD("'%s': a link without a target", name);
	if (e->type != IDX_T_SYMLINK && e->type != IDX_T_HARDLINK)
		e->link = NULL;
	e->data_off = (uint64_t)uoff;
	*usize = (uint64_t)us;
	e->size = e->type == IDX_T_REG ? (uint64_t)us : 0;
	return 0;
}

/* 512-byte tar blocks: the next header starts there at the earliest. */
static uint64_t block_end(uint64_t off)
{
	return (off + 511) & ~(uint64_t)511;
}

int idx_soci_entries(struct tocb *b, const struct idx_sfb_table *toc, uint64_t u_size)
{
	struct sfb_vec v;
	uint64_t next = 0;
	int r = idx_sfb_vector(toc, 0, 4, &v);

	if (r < 0)
		return r;
	if (v.n > IDX_MAX_ENTRIES) {
		log_err("zTOC: %u entries, more than %u", v.n, IDX_MAX_ENTRIES);
		return -EFBIG;
	}
	for (uint32_t i = 0; i < v.n; i++) {
		struct idx_entry e = { 0 };
		struct idx_xattr *xs = NULL;
		struct idx_sfb_table fm;
		uint64_t usize = 0;

		r = idx_sfb_vec_table(&v, i, &fm);
		if (r == 0)
			r = read_fields(&fm, &e, &usize);
		/* In tar order, each after the previous one's data and its own header. */
		if (r == 0 && (e.data_off < next + 512 || e.data_off > u_size ||
			       usize > u_size - e.data_off)) {
			log_err("zTOC: entry '%s' at %llu+%llu: out of order or past the archive "
				"(%llu bytes)", e.path, (unsigned long long)e.data_off,
				(unsigned long long)usize, (unsigned long long)u_size);
			r = -EBADMSG;
		}
		if (r == 0)
			r = pax_records(&fm, e.path, &xs, &e.n_xattrs);
		if (r == 0) {
			e.xattrs = xs;
			r = idx_tocb_entry(b, &e);
		}
		free(xs);
		if (r < 0)
			return r;
		next = block_end(e.data_off + usize);
	}
	return 0;
}
