/* SPDX-License-Identifier: MIT */
/* The read buffers of FUSE threads and their replies (ll_buf.h). */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>

#include <fuse_lowlevel.h>

#include "fs/ll_buf.h"
#include "fs/store.h"

struct read_buf {
	size_t cap;
	char data[];
};

static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static struct read_buf *kept; /* NULL, or the one buffer kept for the next read */

char *fs_ll_buf_get(size_t size)
{
	struct read_buf *b = NULL;

	pthread_mutex_lock(&kept_lock);
	if (kept && kept->cap >= size) {
		b = kept;
		kept = NULL;
	}
	pthread_mutex_unlock(&kept_lock);
	if (!b) {
		b = malloc(sizeof(*b) + size);
		if (!b)
			return NULL;
		b->cap = size;
	}
	return b->data;
}

void fs_ll_reply_read(struct fuse_req *req, ssize_t r, char *buf, struct fs_rvec *v)
{
	if (r < 0)
		fuse_reply_err(req, (int)-r);
	else if (v->n)
		fuse_reply_iov(req, v->iov, (int)v->n); /* spans in memory: no copy out of them */
	else
		fuse_reply_buf(req, buf, (size_t)r);
	fs_store_rvec_release(v);
	fs_ll_buf_put(buf);
}

void fs_ll_buf_put(char *buf)
{
	struct read_buf *b, *drop;

	if (!buf)
		return;
	b = (struct read_buf *)(buf - offsetof(struct read_buf, data));
	pthread_mutex_lock(&kept_lock);
	/* keep the larger: reads grow to the kernel's readahead */
	if (!kept || kept->cap < b->cap) {
		drop = kept;
		kept = b;
	} else {
		drop = b;
	}
	pthread_mutex_unlock(&kept_lock);
	free(drop);
}
