/* SPDX-License-Identifier: MIT */
/*
 * -o push_index for the store, as a mount does it (fs/mount_push.c): the
 * indexes this store had to build for an image (by streaming its layers)
 * go up as one stratafs index artifact of its manifest, on a thread of
 * their own, so that the next machine's store or mount resolving the same
 * tag finds them. Unpinned, like every artifact pushed this way (trusted
 * for tags under -o unpinned=tag). Never fails the image: only logged.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "fs/als_impl.h"

static void *push_main(void *arg)
{
	struct als_image *im = arg;
	char digest[DIGEST_STR_LEN];
	int r;

	r = fs_index_push(im->pusher, im->fimg->manifest, im->built, im->n_built, false, digest,
			  NULL);
	if (r < 0)
		log_err("push_index: cannot push the index of %zu layer(s) of '%s': %s",
			im->n_built, im->fimg->ref_str, strerror(-r));
	else
		log_info("push_index: pushed index artifact '%s' for '%s' (%zu layer(s))", digest,
			 im->fimg->ref_str, im->n_built);
	return NULL;
}

void fs_als_push_built(struct fs_als *a, struct als_image *im)
{
	const struct idx_layer *idx;
	const char *src, *trust;
	struct reg_opts ro;

	im->built = calloc(im->n_layers + 1, sizeof(*im->built));
	for (size_t k = 0; im->built && k < im->n_layers; k++)
		if (fs_store_layer_get(im->fimg->store, im->nos[k], &src, &trust, &idx) == 0 &&
		    strcmp(src, "built") == 0)
			im->built[im->n_built++] = idx;
	if (im->n_built == 0)
		return;
	fs_als_reg_opts(a, im->fimg->ref_str, &ro);
	if (reg_pusher_new(&ro, &im->fimg->ref, &im->pusher) < 0) {
		log_err("push_index: cannot create a pusher for '%s'", im->fimg->ref_str);
		return;
	}
	im->pushing = pthread_create(&im->push_th, NULL, push_main, im) == 0;
	if (!im->pushing)
		log_err("push_index: cannot start the push thread");
}

