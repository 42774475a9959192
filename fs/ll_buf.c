/* SPDX-License-Identifier: MIT */
/* The read buffers of FUSE threads (ll_buf.h). */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>

#include "fs/ll_buf.h"

struct read_buf {
	struct read_buf *next;
	size_t cap;
	char data[];
};

static pthread_mutex_t kept_lock = PTHREAD_MUTEX_INITIALIZER;
static struct read_buf *kept;
static unsigned n_kept;

char *fs_ll_buf_get(size_t size)
{
	struct read_buf *b, **pp;

	pthread_mutex_lock(&kept_lock);
	for (pp = &kept; *pp && (*pp)->cap < size; pp = &(*pp)->next)
		;
	b = *pp;
	if (b) {
		*pp = b->next;
		n_kept--;
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

/* Keep @b, or instead of the smallest kept buffer if that one is smaller; the one to free. */
static struct read_buf *keep(struct read_buf *b)
{
	struct read_buf **small = NULL, *out;

	if (n_kept < FS_LL_BUF_KEEP) {
		b->next = kept;
		kept = b;
		n_kept++;
		return NULL;
	}
	for (struct read_buf **pp = &kept; *pp; pp = &(*pp)->next)
		if (!small || (*pp)->cap < (*small)->cap)
			small = pp;
	if (!small || (*small)->cap >= b->cap)
		return b;
	out = *small;
	b->next = out->next;
	*small = b;
	return out; /* reads grow to the kernel's readahead: keep the largest */
}

void fs_ll_buf_put(char *buf)
{
	struct read_buf *b;

	if (!buf)
		return;
	b = (struct read_buf *)(buf - offsetof(struct read_buf, data));
	pthread_mutex_lock(&kept_lock);
	b = keep(b);
	pthread_mutex_unlock(&kept_lock);
	free(b);
}
