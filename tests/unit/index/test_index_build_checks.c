/* SPDX-License-Identifier: MIT */
/*
 * idx_build(): the blob digest and diff_id are computed on the way and
 * checked against the expected ones; duplicate paths resolve like tar
 * extraction (the last wins) and are counted; lookups by path; whiteouts
 * and opaque markers live beside real entries of the same path; xattrs
 * survive the index; bad options and bad streams fail cleanly.
 */
#include "tap.h"
#include "test_index_span_util.h"

static struct su_buf layer(struct tw *t)
{
	struct tw rec = { 0 };
	struct tw_hdr h = { .name = "etc/cap", .type = '0', .mode = 0755, .mtime = 1, .size = -1 };

	tw_dir(t, "etc/");
	tw_file(t, "etc/passwd", "root:x:0:0\n");
	tw_file(t, "etc/hosts", "old\n");
	tw_pax_rec(&rec, "SCHILY.xattr.security.capability", "\x01\x00\x00\x02", 4);
	tw_pax(t, 'x', &rec);
	tw_add(t, &h, "cap", 3);
	tw_file(t, "etc/.wh.gone", "");
	tw_file(t, "etc/.wh..wh..opq", "");
	tw_file(t, "etc/hosts", "new hosts\n");
	tw_link(t, '1', "etc/hl", "etc/passwd");
	tw_eof(t);
	return su_gzip(t->buf, t->len, 1, 0);
}

static void digests(const struct su_buf *gz, const struct tw *t)
{
	uint8_t raw[DIGEST_SHA256_LEN];
	char blob[DIGEST_STR_LEN], diff[DIGEST_STR_LEN];
	char bad[DIGEST_STR_LEN] = "sha256:";
	struct idx_build_opts o = { .comp = IDX_COMP_AUTO };
	struct su_stream s;
	struct idx_layer *l = NULL;
	struct idx_info info;

	digest_sha256(gz->p, gz->len, raw);
	digest_format(raw, blob);
	digest_sha256(t->buf, t->len, raw);
	digest_format(raw, diff);
	memset(bad + 7, '0', 64);
	o.blob_digest = blob;
	o.diff_id = diff;
	s = (struct su_stream){ gz->p, gz->len, 0, 1 };
	is_int(idx_build(&o, su_stream_read, &s, &l, NULL), 0, "expected digests match");
	idx_layer_info(l, &info);
	is_str(info.blob_digest, blob, "blob digest recorded");
	is_str(info.diff_id, diff, "diff_id recorded");
	idx_layer_free(l);
	o.blob_digest = bad;
	s = (struct su_stream){ gz->p, gz->len, 0, 1 };
	is_int(idx_build(&o, su_stream_read, &s, &l, NULL), -EBADMSG, "wrong blob digest -> -EBADMSG");
	o.blob_digest = blob;
	o.diff_id = bad;
	s = (struct su_stream){ gz->p, gz->len, 0, 1 };
	is_int(idx_build(&o, su_stream_read, &s, &l, NULL), -EBADMSG, "wrong diff_id -> -EBADMSG");
}

static void entries(const struct su_buf *gz)
{
	struct idx_build_stats st = { 0 };
	struct idx_layer *l = NULL;
	const struct idx_entry *e;
	uint32_t id;

	is_int(su_build(gz->p, gz->len, 0, &l, &st), 0, "build");
	is_int(st.n_duplicates, 1, "one duplicate path counted");
	is_int(idx_entry_find(l, "etc/hosts", &id), 0, "find etc/hosts");
	e = idx_entry_get(l, id);
	is_int(e->size, 10, "the last etc/hosts won");
	is_int(idx_entry_find(l, "etc/cap", &id), 0, "find etc/cap");
	e = idx_entry_get(l, id);
	ok(e->n_xattrs == 1 && strcmp(e->xattrs[0].name, "security.capability") == 0 &&
		   e->xattrs[0].len == 4 && memcmp(e->xattrs[0].value, "\x01\x00\x00\x02", 4) == 0,
	   "xattr kept");
	is_int(idx_entry_find(l, "etc", &id), 0, "find etc");
	is_int(idx_entry_get(l, id)->type, IDX_T_DIR, "the real entry is found before the opaque marker");
	is_int(idx_entry_find(l, "etc/gone", &id), 0, "whiteout found by the hidden path");
	is_int(idx_entry_get(l, id)->type, IDX_T_WHITEOUT, "... as a whiteout");
	is_int(idx_entry_find(l, "etc/hl", &id), 0, "find the hardlink");
	is_str(idx_entry_get(l, id)->link, "etc/passwd", "hardlink target");
	is_int(idx_entry_find(l, "etc/nope", &id), -ENOENT, "absent path -> -ENOENT");
	is_int(idx_entry_find(l, "etc/hostsx", &id), -ENOENT, "prefix is not a match");
	is_int(idx_entry_count(l), 7, "7 entries after resolution");
	ok(idx_entry_get(l, 7) == NULL, "entry past the end is NULL");
	idx_layer_free(l);
}

static void bad_input(const struct su_buf *gz)
{
	struct idx_build_opts o = { .comp = IDX_COMP_AUTO, .span_size = 1000 };
	struct su_stream s = { gz->p, gz->len, 0, 1 };
	struct idx_layer *l = NULL;
	uint8_t *cut = malloc(gz->len);

	is_int(idx_build(&o, su_stream_read, &s, &l, NULL), -EINVAL, "span size below the minimum");
	s = (struct su_stream){ gz->p, gz->len - 5, 0, 1 };
	is_int(su_build(gz->p, gz->len - 5, 0, &l, NULL), -EBADMSG, "truncated gzip -> -EBADMSG");
	memcpy(cut, gz->p, gz->len);
	cut[gz->len / 2] ^= 0xff;
	ok(su_build(cut, gz->len, 0, &l, NULL) < 0, "corrupt gzip fails");
	memcpy(cut, gz->p, gz->len);
	cut[0] = 0x28; /* not gzip any more: parsed as tar, which it is not */
	ok(su_build(cut, gz->len, 0, &l, NULL) < 0, "garbage fails");
	free(cut);
}

static void media_types(void)
{
	static const struct {
		const char *mt;
		enum idx_comp want;
	} cases[] = {
		{ "application/vnd.oci.image.layer.v1.tar+gzip", IDX_COMP_GZIP },
		{ "application/vnd.oci.image.layer.v1.tar+zstd", IDX_COMP_ZSTD },
		{ "application/vnd.oci.image.layer.v1.tar", IDX_COMP_NONE },
		{ "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", IDX_COMP_GZIP },
		{ "application/vnd.docker.image.rootfs.diff.tar.gzip", IDX_COMP_GZIP },
		{ "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", IDX_COMP_GZIP },
		{ "application/vnd.docker.image.rootfs.diff.tar", IDX_COMP_NONE },
		{ "application/octet-stream", IDX_COMP_AUTO },
		{ NULL, IDX_COMP_AUTO },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		is_int(idx_comp_from_media_type(cases[i].mt), cases[i].want, "media type %s",
		       cases[i].mt ? cases[i].mt : "(null)");
	is_str(idx_comp_name(IDX_COMP_GZIP), "gzip", "name of gzip");
	is_str(idx_comp_name(IDX_COMP_ZSTD), "zstd", "name of zstd");
	is_str(idx_comp_name(IDX_COMP_NONE), "tar", "name of tar");
}

int main(void)
{
	struct tw t = { 0 };
	struct su_buf gz = layer(&t);

	digests(&gz, &t);
	entries(&gz);
	bad_input(&gz);
	media_types();
	free(gz.p);
	tw_free(&t);
	return tap_done();
}
