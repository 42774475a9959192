/* SPDX-License-Identifier: MIT */
/*
 * A pull stream over a whole layer blob for idx_build(): sequential Range
 * reads of FS_BUILD_CHUNK bytes, one chunk ahead on a helper thread, so the
 * network and the decoder work at the same time (two buffers: the consumer
 * drains one while the helper fills the other). No retries here: those
 * live in registry/.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs/store_int.h"

struct fs_pull {
	struct reg_client *client;
	const char *digest;
	uint64_t size;
	pthread_t th;
	pthread_mutex_t m;
	pthread_cond_t cv;
	unsigned char *buf[2];
	size_t len[2];   /* protected by m, with ready[] */
	int err[2];
	bool ready[2];
	bool stop;
	unsigned cur;    /* consumer's slot; consumer only */
	size_t pos;
	uint64_t fetched; /* helper only until joined */
};

static void *pull_main(void *arg)
{
	struct fs_pull *p = arg;
	uint64_t off = 0;
	unsigned slot = 0;
	ssize_t n = 0;

	for (;;) {
		bool stop;

		pthread_mutex_lock(&p->m);
		while (p->ready[slot] && !p->stop)
			pthread_cond_wait(&p->cv, &p->m);
		stop = p->stop;
		pthread_mutex_unlock(&p->m);
		if (stop)
			break;
		n = 0;
		if (off < p->size)
			n = reg_blob_read(p->client, p->digest, p->buf[slot],
					  (size_t)XMIN_U64(FS_BUILD_CHUNK, p->size - off), off);
		if (n > 0) {
			off += (uint64_t)n;
			p->fetched += (uint64_t)n;
		}
		pthread_mutex_lock(&p->m);
		p->len[slot] = n > 0 ? (size_t)n : 0;
		p->err[slot] = n < 0 ? (int)n : (n == 0 && off < p->size) ? -EIO : 0;
		p->ready[slot] = true;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->m);
		if (n <= 0)
			break; /* end of blob or error: the consumer sees it */
		slot ^= 1;
	}
	return NULL;
}

int fs_pull_open(struct reg_client *c, const char *digest, uint64_t size, struct fs_pull **out)
{
	struct fs_pull *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->client = c;
	p->digest = digest;
	p->size = size;
	pthread_mutex_init(&p->m, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->buf[0] = malloc(FS_BUILD_CHUNK);
	p->buf[1] = malloc(FS_BUILD_CHUNK);
	if (!p->buf[0] || !p->buf[1] || pthread_create(&p->th, NULL, pull_main, p) != 0) {
		free(p->buf[0]);
		free(p->buf[1]);
		pthread_cond_destroy(&p->cv);
		pthread_mutex_destroy(&p->m);
		free(p);
		return -ENOMEM;
	}
	*out = p;
	return 0;
}

ssize_t fs_pull_read(void *ctx, void *buf, size_t n)
{
	struct fs_pull *p = ctx;
	unsigned s = p->cur;
	int err;

	pthread_mutex_lock(&p->m);
	while (!p->ready[s])
		pthread_cond_wait(&p->cv, &p->m);
	err = p->err[s];
	if (err == 0 && p->len[s] == 0) {
		pthread_mutex_unlock(&p->m);
		return 0; /* end of blob */
	}
	pthread_mutex_unlock(&p->m);
	if (err < 0)
		return err;
	n = (size_t)XMIN_U64(n, p->len[s] - p->pos);
	memcpy(buf, p->buf[s] + p->pos, n);
	p->pos += n;
	if (p->pos == p->len[s]) {
		pthread_mutex_lock(&p->m);
		p->ready[s] = false;
		pthread_cond_broadcast(&p->cv);
		pthread_mutex_unlock(&p->m);
		p->pos = 0;
		p->cur ^= 1;
	}
	return (ssize_t)n;
}

uint64_t fs_pull_close(struct fs_pull *p)
{
	uint64_t n;

	if (!p)
		return 0;
	pthread_mutex_lock(&p->m);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->m);
	pthread_join(p->th, NULL);
	n = p->fetched;
	free(p->buf[0]);
	free(p->buf[1]);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->m);
	free(p);
	return n;
}
