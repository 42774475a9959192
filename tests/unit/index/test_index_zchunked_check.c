/* SPDX-License-Identifier: MIT */
/*
 * test_index_zchunked_check BLOB [POSITION]: the oracle of the zstd:chunked
 * reader on a real blob (written by skopeo). A zstd:chunked blob is also a
 * plain tar+zstd layer, so the same bytes are read twice: through their
 * TOC (footer -> TOC -> idx_zchunked_load_at) and through idx_build()
 * streaming the tar. Both layers must list the same entries in the same
 * order with the same path, type, mode, uid, gid, mtime seconds, size,
 * link, device numbers and xattrs, and every regular file must read back
 * the same bytes (the TOC side verifying each chunk against its digest).
 * POSITION (the manifest annotation) must agree with the footer.
 * Prints "ok ENTRIES FILES BYTES SPANS" or the first difference (exit 1).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index/index.h"
#include "test_index_fd_util.h"
#include "index/zchunked.h"

static int fd = -1;

static int fail(const char *what, const char *path)
{
	fprintf(stderr, "differ: %s of '%s'\n", what, path);
	return 1;
}

static const struct idx_xattr *xfind(const struct idx_entry *e, const char *name)
{
	for (uint32_t i = 0; i < e->n_xattrs; i++)
		if (strcmp(e->xattrs[i].name, name) == 0)
			return &e->xattrs[i];
	return NULL;
}

static int same_content(const struct idx_layer *a, uint32_t ia, const struct idx_layer *b, uint32_t ib,
			uint64_t size)
{
	static uint8_t ba[1 << 20], bb[1 << 20];
	struct idx_reader rd = { &fd, fd_read_at };

	for (uint64_t off = 0; off < size;) {
		ssize_t na = idx_file_read(a, ia, &rd, ba, sizeof(ba), off);
		ssize_t nb = idx_file_read(b, ib, &rd, bb, sizeof(bb), off);

		if (na <= 0 || na != nb || memcmp(ba, bb, (size_t)na) != 0)
			return -1;
		off += (uint64_t)na;
	}
	return 0;
}

static int compare(const struct idx_layer *toc, const struct idx_layer *tar, uint64_t *files,
		   uint64_t *bytes)
{
	if (idx_entry_count(toc) != idx_entry_count(tar)) {
		fprintf(stderr, "differ: %u entries in the TOC, %u in the tar\n",
			idx_entry_count(toc), idx_entry_count(tar));
		return 1;
	}
	for (uint32_t i = 0; i < idx_entry_count(toc); i++) {
		const struct idx_entry *a = idx_entry_get(toc, i), *b = idx_entry_get(tar, i);

		if (strcmp(a->path, b->path) != 0)
			return fail("path", a->path);
		if (a->type != b->type || a->mode != b->mode || a->uid != b->uid || a->gid != b->gid)
			return fail("type, mode or owner", a->path);
		if (a->mtime_sec != b->mtime_sec)
			return fail("mtime", a->path);
		if (a->size != b->size || a->dev_major != b->dev_major || a->dev_minor != b->dev_minor)
			return fail("size or device", a->path);
		if ((a->link || b->link) && (!a->link || !b->link || strcmp(a->link, b->link) != 0))
			return fail("link", a->path);
		if (a->n_xattrs != b->n_xattrs)
			return fail("xattr count", a->path);
		for (uint32_t x = 0; x < a->n_xattrs; x++) {
			const struct idx_xattr *y = xfind(b, a->xattrs[x].name);

			if (!y || y->len != a->xattrs[x].len ||
			    memcmp(y->value, a->xattrs[x].value, y->len) != 0)
				return fail("xattr", a->path);
		}
		if (a->type == IDX_T_REG && a->size) {
			if (same_content(toc, i, tar, i, a->size) < 0)
				return fail("content", a->path);
			(*files)++;
			*bytes += a->size;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct idx_build_opts bo = { .comp = IDX_COMP_ZSTD };
	struct idx_layer *toc_l = NULL, *tar_l = NULL;
	uint8_t tail[IDX_ZC_TAIL];
	struct idx_toc_loc loc, pos;
	struct idx_foreign_opts fo;
	uint64_t files = 0, bytes = 0;
	char digest[80] = "sha256:";
	struct stat st;
	size_t n;
	void *toc;
	int r;

	if (argc < 2 || (fd = open(argv[1], O_RDONLY)) < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "usage: %s BLOB [POSITION]\n", argv[0]);
		return 2;
	}
	/* the blob's name in a layout is its hex digest */
	snprintf(digest + 7, sizeof(digest) - 7, "%.64s", strrchr(argv[1], '/') ? strrchr(argv[1], '/') + 1 : argv[1]);
	fo = (struct idx_foreign_opts){ .blob_digest = digest, .blob_size = (uint64_t)st.st_size };
	n = st.st_size < (off_t)sizeof(tail) ? (size_t)st.st_size : sizeof(tail);
	if (pread(fd, tail, n, st.st_size - (off_t)n) != (ssize_t)n)
		return 2;
	r = idx_zchunked_footer(tail, n, (uint64_t)st.st_size, &loc);
	if (r < 0) {
		fprintf(stderr, "footer: %s\n", strerror(-r));
		return 1;
	}
	if (argc > 2 && (idx_zchunked_position(argv[2], (uint64_t)st.st_size, &pos) < 0 ||
			 pos.off != loc.off || pos.len != loc.len || pos.ulen != loc.ulen)) {
		fprintf(stderr, "the annotation disagrees with the footer\n");
		return 1;
	}
	toc = malloc(loc.len);
	if (!toc || pread(fd, toc, loc.len, (off_t)loc.off) != (ssize_t)loc.len)
		return 2;
	r = idx_zchunked_load_at(toc, loc.len, &loc, &fo, &toc_l);
	free(toc);
	if (r < 0) {
		fprintf(stderr, "TOC: %s\n", strerror(-r));
		return 1;
	}
	bo.blob_digest = digest;
	if (lseek(fd, 0, SEEK_SET) != 0 || idx_build(&bo, fd_stream_read, &fd, &tar_l, NULL) < 0) {
		fprintf(stderr, "idx_build failed\n");
		return 1;
	}
	r = compare(toc_l, tar_l, &files, &bytes);
	if (r == 0)
		printf("ok %u %llu %llu %u\n", idx_entry_count(toc_l), (unsigned long long)files,
		       (unsigned long long)bytes, idx_span_count(toc_l));
	idx_layer_free(toc_l);
	idx_layer_free(tar_l);
	return r;
}
