/* SPDX-License-Identifier: MIT */
/*
 * -o push_index: the indexes this mount had to build by streaming (source
 * "built") are pushed as one stratafs index artifact for the mounted
 * manifest, on a background thread started once the kernel mount is up.
 * The push never delays or fails the mount: its outcome is only logged.
 *
 * The pusher is created from the client's options before the daemon wipes
 * the password (the client copies what it needs), but makes no request
 * until the thread runs. The thread reads only the store's indexes, which
 * live until fs_store_free(); fs_mount_push_free() joins it first.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xarray.h"
#include "fs/mount_int.h"

struct fs_mount_push {
	struct fs_mount *m;
	struct reg_pusher *pusher;
	const struct idx_layer **idx; /* the built layers' indexes */
	size_t n;
	pthread_t th;
	bool started;
};

/* Collect the indexes whose source is "built"; 0 when there is none. */
static int collect_built(struct fs_mount_push *p)
{
	const struct idx_layer *idx;
	const char *src, *trust;
	size_t cap = 0;

	for (unsigned no = 0; fs_store_layer_get(p->m->img->store, no, &src, &trust, &idx) == 0; no++) {
		if (!src || strcmp(src, "built") != 0)
			continue;
		if (xarray_grow_size((void **)&p->idx, &cap, p->n, sizeof(*p->idx), 8, SIZE_MAX) < 0)
			return -ENOMEM;
		p->idx[p->n++] = idx;
	}
	return 0;
}

int fs_mount_push_new(struct fs_mount *m, const struct reg_opts *reg, struct fs_mount_push **out)
{
	struct fs_mount_push *p = calloc(1, sizeof(*p));
	int r;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	p->m = m;
	r = collect_built(p);
	if (r < 0 || p->n == 0) {
		if (r == 0)
			log_info("push_index: every layer index came from the cache or the "
				 "registry; nothing to push");
		goto out_free;
	}
	r = reg_pusher_new(reg, &m->img->ref, &p->pusher);
	if (r < 0) {
		log_err("push_index: cannot create a pusher for '%s': %s", m->img->ref_str, strerror(-r));
		goto out_free;
	}
	*out = p;
	return 0;
out_free:
	free(p->idx);
	free(p);
	return r;
}

static void *push_main(void *arg)
{
	struct fs_mount_push *p = arg;
	char digest[DIGEST_STR_LEN];
	int r;

	r = fs_index_push(p->pusher, p->m->img->manifest, p->idx, p->n, false, digest, NULL);
	if (r < 0)
		log_err("push_index: cannot push the index of %zu layer(s) of '%s': %s", p->n,
			p->m->img->ref_str, strerror(-r));
	else
		log_info("push_index: pushed index artifact '%s' for '%s' (%zu layer(s))", digest,
			 p->m->img->manifest->digest, p->n);
	return NULL;
}

void fs_mount_push_start(struct fs_mount_push *p)
{
	if (!p || p->started)
		return;
	if (pthread_create(&p->th, NULL, push_main, p) != 0) {
		log_err("push_index: cannot start the push thread");
		return;
	}
	p->started = true;
}

void fs_mount_push_free(struct fs_mount_push *p)
{
	if (!p)
		return;
	if (p->started) {
		log_debug("push_index: waiting for the index push to end");
		pthread_join(p->th, NULL);
	}
	reg_pusher_free(p->pusher);
	free(p->idx);
	free(p);
}
