/* SPDX-License-Identifier: MIT */
/*
 * The compressed bytes of a forward pass (fs/zstream.c): one long ranged
 * GET from the pass's offset up to its limit (reg_blob_read_stream()),
 * poured by a helper thread into a ring of FS_ZFEED_SLOTS chunk buffers
 * that the pass decodes in order, so the network and the decoder work at
 * once and a full ring holds the GET back (TCP flow control) instead of
 * growing memory. On loopback a chain of 1 MiB Range requests ran at a
 * third of one streaming GET, four in flight at half of it: per-request
 * cost, which a real region only makes worse.
 *
 * The helper never asks past the limit, which the pass raises to the
 * c_end of its target span: a pass fetches what it decodes, not a chunk
 * more, so a layer read in full costs its blob size once. When the limit
 * moves during a GET, the next GET starts where that one ends.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fs/zfeed.h"

enum { SLOT_FREE, SLOT_FILLING, SLOT_READY, SLOT_HELD };

struct slot {
	unsigned char *buf;
	size_t len;
	uint8_t state;   /* FILLING: the helper's; HELD: the consumer's */
};

struct fs_zfeed {
	struct fs_store *s;
	struct fs_layer *l;
	pthread_t th;
	pthread_mutex_t m;
	pthread_cond_t cv;
	struct slot slot[FS_ZFEED_SLOTS];
	size_t cap;
	unsigned fill;   /* the slot the helper fills next */
	unsigned cons;   /* the slot the consumer takes next */
	bool streaming;  /* a GET runs */
	bool stop;
	int err;         /* the failed GET's error: every later call returns it */
	uint64_t off;    /* where the next GET starts */
	uint64_t limit;  /* nothing at or past it is asked for (yet) */
	uint64_t got;    /* bytes the running GET delivered (helper thread) */
};

/* The GET's bytes, into the ring (helper thread). */
static int feed_sink(void *ctx, const void *p, size_t n)
{
	struct fs_zfeed *f = ctx;
	const unsigned char *b = p;
	size_t total = n, k;
	struct slot *sl;

	while (n) {
		pthread_mutex_lock(&f->m);
		sl = &f->slot[f->fill];
		while (!f->stop && sl->state != SLOT_FREE && sl->state != SLOT_FILLING)
			pthread_cond_wait(&f->cv, &f->m);
		if (f->stop) {
			pthread_mutex_unlock(&f->m);
			return -ECANCELED;
		}
		sl->state = SLOT_FILLING;
		pthread_mutex_unlock(&f->m);
		k = XMIN_U64(n, f->cap - sl->len);
		memcpy(sl->buf + sl->len, b, k);
		sl->len += k;
		b += k;
		n -= k;
		if (sl->len == f->cap) {
			pthread_mutex_lock(&f->m);
			sl->state = SLOT_READY;
			f->fill = (f->fill + 1) % FS_ZFEED_SLOTS;
			pthread_cond_broadcast(&f->cv);
			pthread_mutex_unlock(&f->m);
		}
	}
	f->got += total;
	pthread_mutex_lock(&f->s->lock);
	f->l->bytes_fetched += total;
	pthread_mutex_unlock(&f->s->lock);
	return 0;
}

static void *feed_main(void *arg)
{
	struct fs_zfeed *f = arg;
	uint64_t start, len;
	struct slot *sl;
	int r;

	pthread_mutex_lock(&f->m);
	for (;;) {
		while (!f->stop && !f->err && f->off >= f->limit)
			pthread_cond_wait(&f->cv, &f->m);
		if (f->stop || f->err)
			break;
		start = f->off;
		len = f->limit - f->off;
		f->off = f->limit;
		f->streaming = true;
		pthread_mutex_unlock(&f->m);
		f->got = 0;
		r = reg_blob_read_stream(f->s->client, f->l->digest, start, len, feed_sink, f);
		if (r == 0 && f->got != len) { /* a short 206: the decoder would see a gap */
			log_warn("the registry sent %llu of the %llu bytes asked for from offset %llu "
				 "of layer '%s'", (unsigned long long)f->got, (unsigned long long)len,
				 (unsigned long long)start, f->l->digest);
			r = -EIO;
		}
		pthread_mutex_lock(&f->s->lock);
		f->l->fetches++;
		pthread_mutex_unlock(&f->s->lock);
		pthread_mutex_lock(&f->m);
		f->streaming = false;
		sl = &f->slot[f->fill];
		if (sl->state == SLOT_FILLING) { /* the GET's last bytes */
			sl->state = SLOT_READY;
			f->fill = (f->fill + 1) % FS_ZFEED_SLOTS;
		}
		if (r < 0 && !f->stop) {
			log_warn("cannot fetch layer '%s' from offset %llu for a pass: %s",
				 f->l->digest, (unsigned long long)start, strerror(-r));
			f->err = r;
		}
		pthread_cond_broadcast(&f->cv);
	}
	pthread_mutex_unlock(&f->m);
	return NULL;
}

int fs_zfeed_open(struct fs_store *s, struct fs_layer *l, uint64_t off, size_t chunk,
		  struct fs_zfeed **out)
{
	struct fs_zfeed *f = calloc(1, sizeof(*f));
	int r = 0;

	if (!f)
		return -ENOMEM;
	f->s = s;
	f->l = l;
	f->cap = chunk;
	f->off = f->limit = off;
	pthread_mutex_init(&f->m, NULL);
	pthread_cond_init(&f->cv, NULL);
	for (unsigned i = 0; i < FS_ZFEED_SLOTS && r == 0; i++)
		r = (f->slot[i].buf = malloc(chunk)) ? 0 : -ENOMEM;
	if (r == 0 && pthread_create(&f->th, NULL, feed_main, f) != 0)
		r = -ENOMEM;
	if (r < 0) {
		for (unsigned i = 0; i < FS_ZFEED_SLOTS; i++)
			free(f->slot[i].buf);
		pthread_cond_destroy(&f->cv);
		pthread_mutex_destroy(&f->m);
		free(f);
		return r;
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
	struct slot *sl = &f->slot[f->cons];
	int r = 0;

	pthread_mutex_lock(&f->m);
	if (sl->state == SLOT_HELD) {
		sl->state = SLOT_FREE; /* given back: the helper may refill it */
		sl->len = 0;
		f->cons = (f->cons + 1) % FS_ZFEED_SLOTS;
		sl = &f->slot[f->cons];
		pthread_cond_broadcast(&f->cv);
	}
	while (sl->state != SLOT_READY && !f->err && (f->streaming || f->off < f->limit))
		pthread_cond_wait(&f->cv, &f->m);
	if (sl->state == SLOT_READY) {
		*buf = sl->buf;
		*len = sl->len;
		sl->state = SLOT_HELD;
	} else if (f->err) {
		r = f->err;
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
	for (unsigned i = 0; i < FS_ZFEED_SLOTS; i++)
		free(f->slot[i].buf);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->m);
	free(f);
}
