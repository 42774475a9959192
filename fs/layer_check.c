/* SPDX-License-Identifier: MIT */
/*
 * The whole-layer check. A span digest proves that bytes match what the
 * index says; when a layer has been read from its first byte to its last
 * (here: prefetch=all has passed all its spans), the whole tar can also be
 * held against the digest the image config gives it (its diff_id), which
 * no index can choose. Catches an index whose spans decode to other bytes
 * than the layer's (a forged or wrong checkpoint), whoever vouched for it.
 * Index builds check the same digest as they stream (fs/build_stream.c);
 * a squash rebuilds its indexes from verified blobs (tools/image_base.c).
 *
 * A layer read through a foreign TOC is checked another way: its blob
 * streamed once and its TOC held against its tar (fs/layer_check_foreign.c).
 *
 * On a mismatch the index and every cached span of the layer are dropped,
 * the layer turns bad (every read returns EIO: serving on would serve
 * bytes the image does not hold), one error is logged and the failure is
 * counted in the stats. A read error (a registry outage) proves nothing:
 * the layer stays unchecked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fs/store_int.h"

#define CHECK_CHUNK (1u << 20)

const char *fs_check_name(enum fs_check c)
{
	static const char *const names[] = { "none", "queued", "running", "passed", "failed" };

	return (unsigned)c < sizeof(names) / sizeof(names[0]) ? names[c] : "?";
}

struct fs_job *fs_check_job(struct fs_layer *l)
{
	struct fs_job *j = calloc(1, sizeof(*j));

	if (j) {
		j->l = l;
		j->check = true;
		j->background = true;
	}
	return j;
}

/* sha256 of @l's whole tar, read through the span cache, as "sha256:<hex>". */
static int hash_tar(struct fs_store *s, struct fs_layer *l, char out[DIGEST_STR_LEN])
{
	uint8_t sum[DIGEST_SHA256_LEN];
	struct digest_ctx *dc = NULL;
	unsigned char *buf = malloc(CHECK_CHUNK);
	uint64_t u = 0;
	int r = buf ? digest_ctx_new(&dc) : -ENOMEM;

	while (r == 0 && u < l->info.tar_size) {
		ssize_t n;

		/*
		 * Unmounting must not wait for a whole layer; a cache that cannot
		 * hold spans would make the check download the layer a second time.
		 */
		pthread_mutex_lock(&s->lock);
		r = s->stop ? -ECANCELED : s->cache_failing ? -ENOSPC : 0;
		pthread_mutex_unlock(&s->lock);
		if (r < 0)
			break;
		n = fs_store_read_tar(s, l, buf, CHECK_CHUNK, u);
		if (n <= 0)
			r = n < 0 ? (int)n : -EIO;
		else
			r = digest_ctx_update(dc, buf, (size_t)n);
		u += n > 0 ? (uint64_t)n : 0;
	}
	if (r == 0)
		r = digest_ctx_final(dc, sum);
	if (r == 0)
		digest_format(sum, out);
	digest_ctx_free(dc);
	free(buf);
	return r;
}

struct forget {
	struct fs_store *s;
	struct fs_layer *l;
};

static int forget_span(void *ctx, uint64_t u_start, uint64_t len)
{
	struct forget *f = ctx;

	fs_cache_span_remove(f->s->cache, f->l->span_key, u_start, (size_t)len);
	return 0;
}

/* A stratafs index: 0 when its tar hashes to the diff_id, 1 (and @why) when not. */
static int check_tar(struct fs_store *s, struct fs_layer *l, char *why, size_t why_len)
{
	char have[DIGEST_STR_LEN];
	int r = hash_tar(s, l, have);

	if (r < 0)
		return r;
	if (strcmp(have, l->diff_id) == 0)
		return 0;
	snprintf(why, why_len, "its %s index makes a tar whose sha256 is %s, not its diff_id %s",
		 l->trust, have, l->diff_id);
	return 1;
}

void fs_layer_check(struct fs_store *s, struct fs_layer *l)
{
	char why[300] = "";
	int r;

	pthread_mutex_lock(&s->lock);
	l->check = FS_CHECK_RUNNING;
	pthread_mutex_unlock(&s->lock);
	r = l->foreign ? fs_layer_check_foreign(s, l, why, sizeof(why))
		       : check_tar(s, l, why, sizeof(why));
	if (r < 0) {
		log_warn("layer '%s': whole-layer check not done: %s", l->digest, strerror(-r));
		pthread_mutex_lock(&s->lock);
		l->check = FS_CHECK_NONE;
		pthread_mutex_unlock(&s->lock);
		return;
	}
	if (r == 0) {
		log_info("layer '%s': whole-layer check passed (%s index)", l->digest,
			 l->format ? l->format : "stratafs");
		pthread_mutex_lock(&s->lock);
		l->check = FS_CHECK_PASSED;
		pthread_mutex_unlock(&s->lock);
		return;
	}
	log_err("layer '%s': %s: index and cached spans dropped, reads fail with EIO", l->digest,
		why);
	pthread_mutex_lock(&s->lock);
	l->check = FS_CHECK_FAILED;
	l->bad = true;
	l->errors++;
	s->check_failures++;
	pthread_mutex_unlock(&s->lock);
	fs_layer_uncache_index(s, l);
	fs_cache_span_foreach(s->cache, l->span_key, forget_span, &(struct forget){ s, l });
}
