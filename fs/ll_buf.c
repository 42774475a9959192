/* SPDX-License-Identifier: MIT */
/* A FUSE thread's read buffer (ll_buf.h). */
#include <pthread.h>
#include <stdlib.h>

#include "fs/ll_buf.h"

struct read_buf {
	size_t cap;
	char data[];
};

static pthread_key_t buf_key;
static pthread_once_t buf_once = PTHREAD_ONCE_INIT;
static int buf_key_err;

static void buf_key_init(void)
{
	buf_key_err = pthread_key_create(&buf_key, free);
}

char *fs_ll_read_buf(size_t size)
{
	struct read_buf *b;

	pthread_once(&buf_once, buf_key_init);
	if (buf_key_err)
		return NULL; /* no key left in the process: reads fail with ENOMEM */
	b = pthread_getspecific(buf_key);
	if (b && b->cap >= size)
		return b->data;
	free(b);
	b = malloc(sizeof(*b) + size);
	if (b)
		b->cap = size;
	pthread_setspecific(buf_key, b);
	return b ? b->data : NULL;
}
