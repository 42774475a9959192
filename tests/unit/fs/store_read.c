/* SPDX-License-Identifier: MIT */
/*
 * store_read: drive the data path of the daemon (fs/store.h) against a real
 * registry, without FUSE. Opens every layer of REF, merges them, then runs
 * the operations given on argv in order:
 *   PATH=HEX             read the whole file (128 KiB reads), sha256 must be HEX
 *   PATH:OFF:LEN=HEX     read a range, sha256 must be HEX
 *   PATH                 read the whole file, print "HEX PATH"
 *   eio:PATH:OFF:LEN     the read must fail with EIO (registry down)
 *   wait:FILE            print "waiting FILE", wait until FILE exists
 * then, with --random N --root DIR, --threads T threads each do N random
 * range reads of random regular files and compare them with DIR's copy.
 * Prints the store's stats JSON last (or to --stats FILE). Exit 0 when
 * everything matched, 1 otherwise, 2 on usage errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/digest.h"
#include "common/log.h"
#include "fs/store.h"

#define CHUNK (128u << 10)

struct drv {
	struct fs_store *s;
	struct idx_tree *tree;
	unsigned *lno;           /* tree layer -> store layer number */
	const char *root;
	unsigned random_reads;
	uint64_t *files;         /* inodes of regular files */
	size_t n_files;
	unsigned seed;
	int failures;            /* protected by lock */
	pthread_mutex_t lock;
};

static int lookup(struct drv *d, const char *path, const struct idx_node **out)
{
	uint64_t ino;
	int r = idx_tree_resolve(d->tree, path, &ino);

	if (r < 0)
		return r;
	*out = idx_tree_node(d->tree, ino);
	return *out && (*out)->type == IDX_T_REG ? 0 : -EINVAL;
}

/* sha256 of [off, off+len) of @path read in CHUNK pieces; -errno of the first failure. */
static int hash_range(struct drv *d, const char *path, uint64_t off, uint64_t len, char *hex)
{
	const struct idx_node *n;
	struct digest_ctx *ctx = NULL;
	uint8_t raw[DIGEST_SHA256_LEN];
	char *buf = malloc(CHUNK);
	int r = lookup(d, path, &n);

	if (r == 0)
		r = digest_ctx_new(&ctx);
	if (len == UINT64_MAX && r == 0)
		len = n->size - off;
	while (r == 0 && len > 0) {
		ssize_t got = fs_store_read(d->s, d->lno[n->layer], n->entry, buf,
					    len < CHUNK ? len : CHUNK, off);
		if (got <= 0) {
			r = got < 0 ? (int)got : -ENODATA;
			break;
		}
		digest_ctx_update(ctx, buf, (size_t)got);
		off += (uint64_t)got;
		len -= (uint64_t)got;
	}
	if (r == 0 && digest_ctx_final(ctx, raw) == 0)
		hex_encode(raw, sizeof(raw), hex);
	digest_ctx_free(ctx);
	free(buf);
	return r;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int op_run(struct drv *d, char *op)
{
	char path[4096], want[80] = "", hex[80] = "";
	unsigned long long off = 0, len = UINT64_MAX;
	char *eq = strrchr(op, '='), *colon;
	long t0;
	int r;

	if (strncmp(op, "wait:", 5) == 0) {
		printf("waiting %s\n", op + 5);
		fflush(stdout);
		for (int i = 0; i < 1200 && access(op + 5, F_OK) != 0; i++)
			usleep(100000);
		return 0;
	}
	if (strncmp(op, "eio:", 4) == 0) {
		if (sscanf(op + 4, "%4095[^:]:%llu:%llu", path, &off, &len) != 3)
			return -EINVAL;
		t0 = now_ms();
		r = hash_range(d, path, off, len, hex);
		printf("%s %s: %s after %ld ms\n", r == -EIO ? "ok" : "FAIL", op, strerror(-r),
		       now_ms() - t0);
		return r == -EIO ? 0 : -EPROTO;
	}
	if (eq) {
		*eq = '\0';
		snprintf(want, sizeof(want), "%s", eq + 1);
	}
	colon = strchr(op, ':');
	snprintf(path, sizeof(path), "%s", op);
	if (colon) {
		path[colon - op] = '\0';
		if (sscanf(colon + 1, "%llu:%llu", &off, &len) != 2)
			return -EINVAL;
	}
	t0 = now_ms();
	r = hash_range(d, path, off, len, hex);
	if (r < 0) {
		printf("FAIL %s: %s\n", op, strerror(-r));
		return r;
	}
	if (want[0] && strcmp(want, hex) != 0) {
		printf("FAIL %s: sha256 %s, want %s\n", op, hex, want);
		return -EBADMSG;
	}
	printf("%s %s (%ld ms)\n", want[0] ? "ok" : hex, op, now_ms() - t0);
	return 0;
}

/* One random range of a random file, compared with the local tree. */
static int random_read(struct drv *d, unsigned *seed, char *a, char *b)
{
	const struct idx_node *n = idx_tree_node(d->tree, d->files[rand_r(seed) % d->n_files]);
	const struct idx_entry *e = idx_tree_entry(d->tree, n);
	uint64_t off = ((uint64_t)rand_r(seed) << 16 ^ (uint64_t)rand_r(seed)) % n->size;
	size_t len = (size_t)(rand_r(seed) % (3 * CHUNK)) + 1;
	char p[8192];
	ssize_t got, want;
	int fd;

	snprintf(p, sizeof(p), "%s/%s", d->root, e->path);
	fd = open(p, O_RDONLY);
	if (fd < 0)
		return 0; /* not in the local copy (a lower layer's file): skip */
	want = pread(fd, b, len, (off_t)off);
	close(fd);
	got = fs_store_read(d->s, d->lno[n->layer], n->entry, a, len, off);
	if (got != want || (got > 0 && memcmp(a, b, (size_t)got) != 0)) {
		fprintf(stderr, "MISMATCH %s off %llu len %zu: got %zd want %zd\n", e->path,
			(unsigned long long)off, len, got, want);
		return -1;
	}
	return 1;
}

static void *random_main(void *arg)
{
	struct drv *d = arg;
	char *a = malloc(3 * CHUNK), *b = malloc(3 * CHUNK);
	unsigned seed, bad = 0;

	pthread_mutex_lock(&d->lock);
	seed = d->seed++;
	pthread_mutex_unlock(&d->lock);
	for (unsigned i = 0; i < d->random_reads; i++)
		bad += random_read(d, &seed, a, b) < 0;
	pthread_mutex_lock(&d->lock);
	d->failures += (int)bad;
	pthread_mutex_unlock(&d->lock);
	free(a);
	free(b);
	return NULL;
}

static void collect_files(struct drv *d)
{
	uint64_t n = idx_tree_count(d->tree);

	d->files = calloc(n, sizeof(*d->files));
	for (uint64_t ino = 1; d->files && ino <= n; ino++) {
		const struct idx_node *nd = idx_tree_node(d->tree, ino);

		if (nd && nd->type == IDX_T_REG && nd->size > 0)
			d->files[d->n_files++] = ino;
	}
}

static int run_random(struct drv *d, unsigned threads)
{
	pthread_t t[64];
	unsigned i;

	collect_files(d);
	if (!d->n_files)
		return -ENOENT;
	for (i = 0; i < threads && i < 64; i++)
		pthread_create(&t[i], NULL, random_main, d);
	while (i-- > 0)
		pthread_join(t[i], NULL);
	printf("%s random: %u threads x %u reads, %d mismatches\n", d->failures ? "FAIL" : "ok",
	       threads, d->random_reads, d->failures);
	return d->failures ? -EBADMSG : 0;
}

/* Layers are opened by two threads at once, each layer twice: single-flight. */
struct opener {
	struct fs_store *s;
	const struct reg_manifest *m;
	unsigned *lno;
	const struct idx_layer **ls;
	int err;
};

static void *opener_main(void *arg)
{
	struct opener *o = arg;
	/* the driver trusts what the registry lists, as a mount by tag does by default */
	struct fs_layer_origin origin = { .manifest_digest = o->m->digest,
					  .pinned_artifact = o->m->pinned_artifact,
					  .trust_unpinned = true };

	for (size_t i = 0; i < o->m->n_layers && o->err == 0; i++)
		o->err = fs_store_open_layer(o->s, &origin, &o->m->layers[i], &o->lno[i],
					     &o->ls[i]);
	return NULL;
}

static int open_layers(struct drv *d, const struct reg_manifest *m, const struct idx_layer **ls)
{
	const struct idx_layer **ls2 = calloc(m->n_layers + 1, sizeof(*ls2));
	unsigned *lno2 = calloc(m->n_layers + 1, sizeof(*lno2));
	struct opener a = { d->s, m, d->lno, ls, 0 }, b = { d->s, m, lno2, ls2, 0 };
	pthread_t t;
	int r;

	pthread_create(&t, NULL, opener_main, &b);
	opener_main(&a);
	pthread_join(t, NULL);
	r = a.err ? a.err : b.err;
	for (size_t i = 0; r == 0 && i < m->n_layers; i++)
		if (lno2[i] != d->lno[i] || ls2[i] != ls[i])
			r = -EPROTO; /* one layer opened twice */
	free(ls2);
	free(lno2);
	return r;
}

static int open_image(struct drv *d, const char *refs, const struct reg_opts *ro,
		      struct fs_store_opts *so, struct reg_client **cl)
{
	struct reg_manifest *m = NULL;
	const struct idx_layer **ls;
	struct reg_ref ref;
	int r = reg_ref_parse(refs, &ref);

	if (r == 0)
		r = reg_client_new(ro, &ref, cl);
	if (r == 0)
		r = reg_resolve(*cl, &ref, NULL, &m, NULL);
	if (r == 0)
		r = fs_store_new(so, *cl, &d->s);
	if (r < 0 || m->kind != REG_MANIFEST_IMAGE)
		return r < 0 ? r : -EINVAL;
	ls = calloc(m->n_layers + 1, sizeof(*ls));
	d->lno = calloc(m->n_layers + 1, sizeof(*d->lno));
	r = open_layers(d, m, ls);
	if (r == 0)
		r = idx_tree_build(ls, m->n_layers, 0, &d->tree);
	free(ls);
	reg_manifest_free(m);
	reg_ref_release(&ref);
	return r;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "cache", 1, 0, 'c' }, { "cache-max", 1, 0, 'M' }, { "insecure", 0, 0, 'k' },
		{ "span-size", 1, 0, 'S' }, { "threads", 1, 0, 't' }, { "fetch-threads", 1, 0, 'f' },
		{ "timeout", 1, 0, 'T' }, { "prefetch-all", 0, 0, 'p' }, { "random", 1, 0, 'r' },
		{ "root", 1, 0, 'R' }, { "stats", 1, 0, 's' }, { "readahead", 1, 0, 'a' },
		{ "debug", 0, 0, 'd' }, { "mem-max", 1, 0, 'm' }, { 0, 0, 0, 0 } };
	struct drv d = { .seed = 1 };
	struct fs_store_opts so;
	struct reg_opts ro;
	struct reg_client *cl = NULL;
	const char *stats = NULL;
	unsigned threads = 1;
	int c, r, fails = 0;
	long t0;
	char *js;

	fs_store_opts_init(&so);
	reg_opts_init(&ro);
	pthread_mutex_init(&d.lock, NULL);
	log_set_prog("store_read");
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'c': so.cache_dir = optarg; break;
		case 'M': so.cache_max = strtoull(optarg, NULL, 0); break;
		case 'k': ro.insecure = true; break;
		case 'S': so.span_size = strtoull(optarg, NULL, 0); break;
		case 't': threads = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'f': so.fetch_threads = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'T': so.io_timeout_ms = ro.io_timeout_ms = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'p': so.prefetch_all = true; break;
		case 'r': d.random_reads = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'R': d.root = optarg; break;
		case 's': stats = optarg; break;
		case 'a': so.readahead_spans = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'd': log_set_level(LOG_LVL_DEBUG); break;
		case 'm': so.mem_max = strtoull(optarg, NULL, 0); break;
		default: return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "usage: store_read [options] REF [OP...]\n");
		return 2;
	}
	t0 = now_ms();
	r = open_image(&d, argv[optind], &ro, &so, &cl);
	fprintf(stderr, "store_read: image open in %ld ms\n", now_ms() - t0);
	if (r < 0) {
		fprintf(stderr, "store_read: cannot open '%s': %s\n", argv[optind], strerror(-r));
		return 1;
	}
	if (so.prefetch_all)
		fs_store_prefetch_start(d.s);
	for (int i = optind + 1; i < argc; i++)
		fails += op_run(&d, argv[i]) < 0;
	if (d.random_reads && d.root)
		fails += run_random(&d, threads ? threads : 1) < 0;
	js = fs_store_stats_json(d.s);
	if (stats) {
		FILE *f = fopen(stats, "w");

		if (f) {
			fprintf(f, "%s\n", js ? js : "null");
			fclose(f);
		}
	} else {
		printf("%s\n", js ? js : "null");
	}
	free(js);
	t0 = now_ms();
	idx_tree_free(d.tree);
	fs_store_free(d.s);
	reg_client_free(cl);
	fprintf(stderr, "store_read: closed in %ld ms\n", now_ms() - t0);
	free(d.lno);
	free(d.files);
	return fails ? 1 : 0;
}
