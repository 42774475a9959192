/* SPDX-License-Identifier: MIT */
/*
 * pax extended headers: "<len> <key>=<value>\n" records, parsed strictly
 * (a record whose length lies is a malformed archive, not something to
 * resynchronise on), and the small key/value sets they feed: one for the
 * next member ('x') and one for every following member ('g').
 *
 * libarchive's xattr records (LIBARCHIVE.xattr.<url-encoded name>=<base64>)
 * are decoded here and stored under the SCHILY.xattr. key, so the rest of
 * the reader sees one spelling; whichever record comes last wins.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xarray.h"
#include "common/xmath.h"
#include "index/tar_int.h"

#define SCHILY_XATTR "SCHILY.xattr."
#define LIBARCHIVE_XATTR "LIBARCHIVE.xattr."

void idx_tar_kvset_clear(struct tar_kvset *s)
{
	for (uint32_t i = 0; i < s->n; i++)
		free(s->v[i].key);
	free(s->v);
	free(s->sp00);
	*s = (struct tar_kvset){ 0 };
}

const struct tar_kv *idx_tar_kvset_get(const struct tar_kvset *s, const char *key)
{
	for (uint32_t i = 0; i < s->n; i++) {
		if (strcmp(s->v[i].key, key) == 0)
			return &s->v[i];
	}
	return NULL;
}

static size_t kv_cost(const struct tar_kv *kv)
{
	return strlen(kv->key) + kv->vlen;
}

static void kvset_del(struct tar_kvset *s, const char *key)
{
	for (uint32_t i = 0; i < s->n; i++) {
		if (strcmp(s->v[i].key, key) == 0) {
			s->bytes -= kv_cost(&s->v[i]);
			free(s->v[i].key);
			memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(s->v[0]));
			s->n--;
			return;
		}
	}
}

/* A free slot at the end of @s, or -EFBIG / -ENOMEM. */
static int kvset_slot(struct tar_kvset *s, struct tar_kv **out)
{
	if (s->n >= TAR_MAX_PAX_RECORDS) {
		log_err("cannot read tar: more than %u pax records", TAR_MAX_PAX_RECORDS);
		return -EFBIG;
	}
	if (xarray_grow((void **)&s->v, &s->cap, s->n, sizeof(*s->v), 16, TAR_MAX_PAX_RECORDS) < 0)
		return -ENOMEM;
	*out = &s->v[s->n++];
	(*out)->key = NULL;
	(*out)->vlen = 0;
	return 0;
}

/*
 * Set @key (@klen bytes) to @val. Key and value live in one allocation,
 * "key\0value\0". The set's bytes stay under TAR_MAX_SPECIAL: global
 * headers accumulate, and that is where memory would otherwise grow.
 */
static int kvset_set(struct tar_kvset *s, const char *key, size_t klen, const void *val,
		     size_t vlen)
{
	struct tar_kv *kv = NULL;
	size_t old = 0;
	char *mem;
	int r;

	for (uint32_t i = 0; i < s->n && !kv; i++) {
		if (strlen(s->v[i].key) == klen && memcmp(s->v[i].key, key, klen) == 0)
			kv = &s->v[i];
	}
	old = kv ? kv_cost(kv) : 0;
	if (s->bytes - old + klen + vlen > TAR_MAX_SPECIAL) {
		log_err("cannot read tar: pax records over %u bytes in all", TAR_MAX_SPECIAL);
		return -EFBIG;
	}
	mem = malloc(klen + vlen + 2);
	if (!mem)
		return -ENOMEM;
	if (!kv) {
		r = kvset_slot(s, &kv);
		if (r < 0) {
			free(mem);
			return r;
		}
	}
	memcpy(mem, key, klen);
	mem[klen] = '\0';
	memcpy(mem + klen + 1, val, vlen);
	mem[klen + 1 + vlen] = '\0';
	free(kv->key);
	kv->key = mem;
	kv->val = (const uint8_t *)mem + klen + 1;
	kv->vlen = (uint32_t)vlen;
	s->bytes = s->bytes - old + klen + vlen;
	return 0;
}

/*
 * GNU sparse 0.0 repeats GNU.sparse.offset and GNU.sparse.numbytes, one pair
 * per part: keep them all, in order, strictly alternating (as Go does).
 */
static int add_sp00(struct tar_kvset *s, bool is_off, const char *val, size_t vlen)
{
	uint64_t v;
	int r;

	if (is_off != (s->sp00_n % 2 == 0) || idx_tar_dec_u64(val, vlen, TAR_MAX_SIZE, &v) < 0) {
		log_err("cannot read tar: bad GNU.sparse.%s record", is_off ? "offset" : "numbytes");
		return -EBADMSG;
	}
	r = xarray_grow((void **)&s->sp00, &s->sp00_cap, s->sp00_n, sizeof(*s->sp00), 32,
			2 * TAR_MAX_EXTENTS);
	if (r == -EFBIG)
		log_err("cannot read tar: more than %u GNU.sparse.offset records", TAR_MAX_EXTENTS);
	if (r < 0)
		return r;
	s->sp00[s->sp00_n++] = v;
	return 0;
}

static int set_record(struct tar_kvset *s, bool global, const char *key, size_t klen,
		      const char *val, size_t vlen)
{
	if (!global && klen == 17 && memcmp(key, "GNU.sparse.offset", 17) == 0)
		return add_sp00(s, true, val, vlen);
	if (!global && klen == 19 && memcmp(key, "GNU.sparse.numbytes", 19) == 0)
		return add_sp00(s, false, val, vlen);

	if (global && vlen == 0) {
		char k[256];

		/* Longer keys cannot have been stored (see below). */
		if (klen < sizeof(k)) {
			memcpy(k, key, klen);
			k[klen] = '\0';
			kvset_del(s, k);
		}
		return 0;
	}
	if (klen >= 256 + sizeof(SCHILY_XATTR)) {
		log_err("cannot read tar: pax key '%.64s...' is too long", key);
		return -EBADMSG;
	}
	return kvset_set(s, key, klen, val, vlen);
}

/* LIBARCHIVE.xattr.<url-encoded name>=<base64 value> -> SCHILY.xattr.<name>=<bytes> */
static int set_libarchive_xattr(struct tar_kvset *s, bool global, const char *key, size_t klen,
				const char *val, size_t vlen)
{
	size_t plen = strlen(LIBARCHIVE_XATTR);
	char name[sizeof(SCHILY_XATTR) + 256];
	uint8_t *bin = NULL;
	int nlen, blen, r;

	memcpy(name, SCHILY_XATTR, strlen(SCHILY_XATTR));
	nlen = idx_tar_url_decode(key + plen, klen - plen, name + strlen(SCHILY_XATTR),
			      sizeof(name) - strlen(SCHILY_XATTR));
	if (nlen <= 0) {
		log_err("cannot read tar: bad libarchive xattr name '%.*s'", (int)XMIN(klen, 200),
			key);
		return nlen < 0 ? nlen : -EBADMSG;
	}
	if (vlen / 4 * 3 > IDX_MAX_XATTR_VALUE + 3) {
		log_err("cannot read tar: xattr '%s' is larger than %u bytes",
			name + strlen(SCHILY_XATTR), IDX_MAX_XATTR_VALUE);
		return -EFBIG;
	}
	bin = malloc(vlen / 4 * 3 + 3);
	if (!bin)
		return -ENOMEM;
	blen = idx_tar_base64_decode(val, vlen, bin, vlen / 4 * 3 + 3);
	if (blen < 0) {
		log_err("cannot read tar: bad base64 value of xattr '%s'",
			name + strlen(SCHILY_XATTR));
		free(bin);
		return blen;
	}
	r = set_record(s, global, name, strlen(SCHILY_XATTR) + (size_t)nlen, (const char *)bin,
		       (size_t)blen);
	free(bin);
	return r;
}

/* How much of a bad record to quote: up to 40 bytes, not past its newline. */
static int quoted(const char *rec, size_t avail)
{
	const char *nl = memchr(rec, '\n', XMIN(avail, 40));

	return nl ? (int)(nl - rec) : (int)XMIN(avail, 40);
}

/* One record at @rec (@avail bytes left); its length in *used. */
static int parse_record(const char *rec, size_t avail, bool global, struct tar_kvset *s,
			size_t *used)
{
	const char *sp = memchr(rec, ' ', XMIN(avail, 21));
	const char *key, *eq;
	uint64_t len;
	size_t klen;

	if (!sp || idx_tar_dec_u64(rec, (size_t)(sp - rec), avail, &len) < 0 ||
	    len < (uint64_t)(sp - rec) + 3 || rec[len - 1] != '\n') {
		log_err("cannot read tar: malformed pax record '%.*s'", quoted(rec, avail), rec);
		return -EBADMSG;
	}
	key = sp + 1;
	eq = memchr(key, '=', (size_t)(rec + len - 1 - key));
	if (!eq || eq == key || memchr(key, '\0', (size_t)(eq - key))) {
		log_err("cannot read tar: malformed pax record '%.*s'", quoted(rec, (size_t)len), rec);
		return -EBADMSG;
	}
	*used = (size_t)len;
	klen = (size_t)(eq - key);
	if (klen > strlen(LIBARCHIVE_XATTR) &&
	    memcmp(key, LIBARCHIVE_XATTR, strlen(LIBARCHIVE_XATTR)) == 0)
		return set_libarchive_xattr(s, global, key, klen, eq + 1,
					    (size_t)(rec + len - 1 - (eq + 1)));
	return set_record(s, global, key, klen, eq + 1, (size_t)(rec + len - 1 - (eq + 1)));
}

int idx_tar_pax_parse(const char *buf, size_t len, bool global, struct tar_kvset *s)
{
	size_t pos = 0;

	while (pos < len) {
		size_t used;
		int r;

		/* GNU tar pads nothing, but some writers end with NULs. */
		if (buf[pos] == '\0') {
			for (; pos < len; pos++) {
				if (buf[pos] != '\0') {
					log_err("cannot read tar: garbage after pax records");
					return -EBADMSG;
				}
			}
			break;
		}
		r = parse_record(buf + pos, len - pos, global, s, &used);
		if (r < 0)
			return r;
		pos += used;
	}
	return 0;
}
