/* SPDX-License-Identifier: MIT */
/*
 * The fake foreign format of foreign_fake.h: pinned by a layer annotation,
 * its TOC fetched with a range read and checked against the pin by
 * fs_foreign_toc_get(), parsed into the TOC builder with virtual offsets.
 * Test code: a malformed line just fails the open.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/store_int.h"
#include "index/toc_int.h"
#include "foreign_fake.h"

static bool fake_pinned(const struct reg_descriptor *d, const struct fs_layer_origin *o,
			char digest[DIGEST_STR_LEN])
{
	const char *v = reg_descriptor_annotation(d, FAKE_ANNOT_DIGEST);

	if (!v || !digest_is_valid(v) || !reg_descriptor_annotation(d, FAKE_ANNOT_POS))
		return false;
	snprintf(digest, DIGEST_STR_LEN, "%s", v);
	return true;
}

struct fetch {
	struct fs_store *s;
	struct fs_layer *l;
	uint64_t off, len;
};

static int fetch_toc(void *ctx, void **buf, size_t *len)
{
	struct fetch *f = ctx;
	int r;

	*buf = malloc(f->len + 1);
	if (!*buf)
		return -ENOMEM;
	r = fs_foreign_blob_range(f->s, f->l, f->off, f->len, *buf);
	*len = f->len;
	return r;
}

static int hex_sha(const char *hex, uint8_t sha[DIGEST_SHA256_LEN])
{
	char d[DIGEST_STR_LEN];

	snprintf(d, sizeof(d), "sha256:%.64s", hex);
	return digest_parse(d, sha);
}

static int entry_line(struct tocb *b, const char *line, uint64_t u)
{
	char type, path[1024], link[1024] = "";
	unsigned mode, uid, gid;
	int64_t mtime;
	uint64_t size;
	struct idx_entry e = { 0 };

	if (sscanf(line, "E %c %o %u %u %" SCNd64 " %" SCNu64 " %1023s %1023s", &type, &mode, &uid,
		   &gid, &mtime, &size, path, link) < 7)
		return -EBADMSG;
	e.type = type == 'd' ? IDX_T_DIR : type == 'l' ? IDX_T_SYMLINK :
		 type == 'h' ? IDX_T_HARDLINK : IDX_T_REG;
	e.mode = mode;
	e.uid = uid;
	e.gid = gid;
	e.mtime_sec = mtime;
	e.size = size;
	e.data_off = u;
	e.path = path;
	e.link = link[0] ? link : NULL;
	return idx_tocb_entry(b, &e);
}

static int chunk_line(struct tocb *b, const char *line, uint64_t *u)
{
	uint64_t c_off, c_end, len;
	uint8_t sha[DIGEST_SHA256_LEN];
	char hex[80];
	uint32_t ck;
	int r;

	if (sscanf(line, "C %" SCNu64 " %" SCNu64 " %" SCNu64 " %79s", &c_off, &c_end, &len, hex) != 4 ||
	    hex_sha(hex, sha) < 0)
		return -EBADMSG;
	r = idx_tocb_ckpt(b, IDX_CK_ZSTD_FRAME, c_off, *u, 0, NULL, 0, &ck);
	if (r == 0)
		r = idx_tocb_span(b, ck, *u, len, c_end, IDX_SF_WHOLE_FRAMES, sha);
	*u += len;
	return r;
}

static int parse(const char *toc, size_t n, const struct fs_layer *l, struct idx_layer **out)
{
	struct idx_foreign_opts o;
	struct tocb *b = NULL;
	char *text = strndup(toc, n), *save = NULL;
	uint64_t u = 0;
	int r;

	fs_foreign_opts(l, &o);
	r = text ? idx_tocb_new(IDX_COMP_ZSTD, IDX_FOREIGN_ZSTD_CHUNKED, &o, n, &b) : -ENOMEM;
	for (char *line = r == 0 ? strtok_r(text, "\n", &save) : NULL; line && r == 0;
	     line = strtok_r(NULL, "\n", &save))
		r = line[0] == 'E' ? entry_line(b, line, u) : chunk_line(b, line, &u);
	if (r == 0)
		r = idx_tocb_finish(b, u, true, out);
	idx_tocb_free(b);
	free(text);
	return r;
}

static int fake_open(struct fs_store *s, struct fs_layer *l, const struct reg_descriptor *d,
		     const char *toc_digest, struct idx_layer **out)
{
	struct fetch f = { .s = s, .l = l };
	void *buf = NULL;
	size_t len = 0;
	int r;

	if (sscanf(reg_descriptor_annotation(d, FAKE_ANNOT_POS), "%" SCNu64 ":%" SCNu64, &f.off,
		   &f.len) != 2)
		return -EBADMSG;
	r = fs_foreign_toc_get(s, toc_digest, fetch_toc, &f, &buf, &len);
	if (r == 0)
		r = parse(buf, len, l, out);
	free(buf);
	return r;
}

const struct fs_foreign_fmt fake_foreign_fmt = {
	.kind = IDX_FOREIGN_ZSTD_CHUNKED,
	.name = "fake",
	.pinned = fake_pinned,
	.open = fake_open,
};
