/* SPDX-License-Identifier: MIT */
/*
 * The compressed bytes of a forward pass (fs/zstream.c): sequential Range
 * reads from an offset, one chunk ahead on a helper thread, so the network
 * and the decoder work at once (two buffers: the pass decodes one while the
 * helper fills the other). The helper never reads past a limit the pass
 * raises as it is asked for more spans (the c_end of its target span):
 * a pass fetches what it decodes, not a chunk more, so a layer read in
 * full costs its blob size once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fs/zfeed.h"

struct fs_zfeed {
	struct fs_store *s;
	struct fs_layer *l;
	pthread_t th;
	pthread_mutex_t m;
	pthread_cond_t cv;
	unsigned char *buf[2];
	size_t cap;
	size_t len[2];   /* protected by m, with ready[] */
	int err[2];
	bool ready[2];
	bool fetching;   /* the helper is in a Range read */
	bool stop;
	bool failed;     /* the helper stopped on an error */
	uint64_t off;    /* next blob offset the helper reads */
	uint64_t limit;  /* nothing at or past it is read (yet) */
	unsigned cur;    /* the consumer's slot */
	bool held;       /* the consumer holds slot cur */
};

static void account(struct fs_zfeed *f, ssize_t n, uint64_t us)
{
	struct fs_store *s = f->s;

	pthread_mutex_lock(&s->lock);
	f->l->fetches++;
	if (n > 0) {
		f->l->bytes_fetched += (uint64_t)n;
		fs_hist_add(&s->lat, us);
	}
	pthread_mutex_unlock(&s->lock);
}

static void *feed_main(void *arg)
{
	struct fs_zfeed *f = arg;
	unsigned slot = 0;
	uint64_t t0;
	ssize_t n;
	size_t want;

	pthread_mutex_lock(&f->m);
	for (;;) {
		while (!f->stop && (f->ready[slot] || f->off >= f->limit))
			pthread_cond_wait(&f->cv, &f->m);
		if (f->stop)
			break;
		want = (size_t)XMIN_U64(f->cap, f->limit - f->off);
		f->fetching = true;
		pthread_mutex_unlock(&f->m);
		t0 = fs_now_us();
		n = reg_blob_read(f->s->client, f->l->digest, f->buf[slot], want, f->off);
		account(f, n, fs_now_us() - t0);
		pthread_mutex_lock(&f->m);
		f->fetching = false;
		f->len[slot] = n > 0 ? (size_t)n : 0;
		f->err[slot] = n < 0 ? (int)n : n == 0 ? -EIO : 0;
		f->ready[slot] = true;
		pthread_cond_broadcast(&f->cv);
		if (n <= 0) {
			log_warn("cannot fetch layer '%s' from offset %llu for a pass: %s", f->l->digest,
				 (unsigned long long)f->off, strerror(n < 0 ? (int)-n : EIO));
			f->failed = true;
			break;
		}
		f->off += (uint64_t)n;
		slot ^= 1;
	}
	pthread_mutex_unlock(&f->m);
	return NULL;
}

int fs_zfeed_open(struct fs_store *s, struct fs_layer *l, uint64_t off, size_t chunk,
		  struct fs_zfeed **out)
{
	struct fs_zfeed *f = calloc(1, sizeof(*f));

	if (!f)
		return -ENOMEM;
	f->s = s;
	f->l = l;
	f->cap = chunk;
	f->off = f->limit = off;
	pthread_mutex_init(&f->m, NULL);
	pthread_cond_init(&f->cv, NULL);
	f->buf[0] = malloc(chunk);
	f->buf[1] = malloc(chunk);
	if (!f->buf[0] || !f->buf[1] || pthread_create(&f->th, NULL, feed_main, f) != 0) {
		free(f->buf[0]);
		free(f->buf[1]);
		pthread_cond_destroy(&f->cv);
		pthread_mutex_destroy(&f->m);
		free(f);
		return -ENOMEM;
	}
	*out = f;
	return 0;
}

void fs_zfeed_limit(struct fs_zfeed *f, uint64_t c_end)
{
	c_end = XMIN_U64(c_end, f->l->info.blob_size);
	pthread_mutex_lock(&f->m);
	if (c_end > f->limit) {
		f->limit = c_end;
		pthread_cond_broadcast(&f->cv);
	}
	pthread_mutex_unlock(&f->m);
}

int fs_zfeed_next(void *ctx, const uint8_t **buf, size_t *len)
{
	struct fs_zfeed *f = ctx;
	unsigned c;
	int r = 0;

	pthread_mutex_lock(&f->m);
	if (f->held) {
		f->ready[f->cur] = false; /* given back: the helper may refill it */
		f->held = false;
		f->cur ^= 1;
		pthread_cond_broadcast(&f->cv);
	}
	c = f->cur;
	while (!f->ready[c] && !f->failed && (f->fetching || f->off < f->limit))
		pthread_cond_wait(&f->cv, &f->m);
	if (f->ready[c]) {
		r = f->err[c];
		*buf = f->buf[c];
		*len = f->len[c];
		f->held = r == 0;
	} else if (f->off >= f->l->info.blob_size) {
		*buf = NULL;
		*len = 0; /* end of blob */
	} else {
		/* the decoder wants bytes past the c_end its index gives the span */
		log_err("layer '%s': a span needs compressed bytes past %llu, where its index "
			"says it ends", f->l->digest, (unsigned long long)f->limit);
		r = -EBADMSG;
	}
	pthread_mutex_unlock(&f->m);
	return r;
}

void fs_zfeed_close(struct fs_zfeed *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->m);
	f->stop = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->m);
	pthread_join(f->th, NULL);
	free(f->buf[0]);
	free(f->buf[1]);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->m);
	free(f);
}
