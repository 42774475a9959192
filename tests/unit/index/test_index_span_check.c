/* SPDX-License-Identifier: MIT */
/*
 * span_check LAYER TAR N SEED [SPAN_SIZE]: the oracle of the integration
 * tests. Builds the index of LAYER (any compression, made by the real
 * CLIs), then checks it against TAR, the same layer decompressed by those
 * CLIs: tar size and diff_id, N random byte ranges decoded from spans, one
 * random range of every regular file through idx_file_read(), and save ->
 * load -> save identity. Prints one line of facts; exit 0 when all hold.
 */
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_index_span_util.h"

struct map {
	uint8_t *p;
	size_t len;
};

static int map_file(const char *path, struct map *m)
{
	struct stat st;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) < 0) {
		perror(path);
		return -1;
	}
	m->len = (size_t)st.st_size;
	m->p = m->len ? mmap(NULL, m->len, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
	close(fd);
	return m->len && m->p == MAP_FAILED ? -1 : 0;
}

/* Every file (every 10th when each read decodes the layer from its start). */
static unsigned check_files(const struct idx_layer *l, const struct map *blob, const struct map *tar,
			    uint64_t seed, uint32_t stride)
{
	struct su_mem m = { blob->p, blob->len };
	struct idx_reader rd = { &m, su_mem_read_at };
	unsigned bad = 0;

	for (uint32_t i = 0; i < idx_entry_count(l); i += stride) {
		const struct idx_entry *e = idx_entry_get(l, i);
		uint64_t off, n;
		uint8_t *buf;
		ssize_t got;

		if (e->type != IDX_T_REG || e->size == 0)
			continue;
		off = su_rand(&seed) % e->size;
		n = 1 + su_rand(&seed) % (e->size - off);
		buf = malloc(n);
		got = idx_file_read(l, i, &rd, buf, n, off);
		if (got != (ssize_t)n || memcmp(buf, tar->p + e->data_off + off, n) != 0) {
			fprintf(stderr, "span_check: file '%s' [%llu, +%llu) differs (%zd)\n", e->path,
				(unsigned long long)off, (unsigned long long)n, got);
			bad++;
		}
		free(buf);
	}
	return bad;
}

static int roundtrip(const struct idx_layer *l, size_t *size)
{
	void *a = NULL, *b = NULL;
	size_t la, lb;
	struct idx_layer *l2 = NULL;
	int r = idx_save(l, &a, &la);

	if (r == 0)
		r = idx_load(a, la, &l2);
	if (r == 0)
		r = idx_save(l2, &b, &lb);
	if (r == 0 && (la != lb || memcmp(a, b, la) != 0))
		r = -1;
	*size = la;
	idx_layer_free(l2);
	free(a);
	free(b);
	return r;
}

int main(int argc, char **argv)
{
	struct map blob, tar;
	struct idx_layer *l = NULL;
	struct idx_build_stats st;
	struct idx_info info;
	uint8_t raw[DIGEST_SHA256_LEN];
	char diff[DIGEST_STR_LEN];
	unsigned bad_ranges, bad_files;
	size_t isize = 0;
	int r;

	if (argc < 5) {
		fprintf(stderr, "usage: span_check LAYER TAR N SEED [SPAN_SIZE]\n");
		return 2;
	}
	if (map_file(argv[1], &blob) < 0 || map_file(argv[2], &tar) < 0)
		return 1;
	r = su_build(blob.p, blob.len, argc > 5 ? strtoull(argv[5], NULL, 0) : 0, &l, &st);
	if (r < 0) {
		fprintf(stderr, "span_check: build failed: %d\n", r);
		return 1;
	}
	idx_layer_info(l, &info);
	digest_sha256(tar.p, tar.len, raw);
	digest_format(raw, diff);
	bad_ranges = su_check_ranges(l, blob.p, tar.p, tar.len, (unsigned)strtoul(argv[3], NULL, 0),
				     strtoull(argv[4], NULL, 0));
	bad_files = check_files(l, &blob, &tar, strtoull(argv[4], NULL, 0), info.random_access ? 1 : 10);
	r = roundtrip(l, &isize);
	printf("comp=%s spans=%u entries=%u random_access=%d tar=%llu index=%zu bad_ranges=%u "
	       "bad_files=%u roundtrip=%d diff_id_ok=%d\n",
	       idx_comp_name(info.comp), info.n_spans, info.n_entries, info.random_access,
	       (unsigned long long)info.tar_size, isize, bad_ranges, bad_files, r,
	       strcmp(diff, info.diff_id) == 0);
	idx_layer_free(l);
	return bad_ranges || bad_files || r || info.tar_size != tar.len || strcmp(diff, info.diff_id);
}
