/* SPDX-License-Identifier: MIT */
/* tools/image_*.c internals: shared by image_push.c, image_base.c, squash.c. */
#ifndef TOOLS_IMAGE_INT_H
#define TOOLS_IMAGE_INT_H

#include "tools/image_push.h"

/* Upload options with a progress line for @what (on a terminal only). */
struct reg_upload_opts image_upload_opts(struct image_push *ip, const char *what,
					 const char *mount_from);
/* Remember index blob @digest (already uploaded) of @layer for the artifact. */
int image_add_iblob(struct image_push *ip, const char *digest, uint64_t size, const char *layer);
/* Upload the index @l of @layer and remember it. */
int image_push_index(struct image_push *ip, const struct idx_layer *l, const char *layer);
/* The base's layers into the target repository, each with an index. */
int image_push_base_layers(struct image_push *ip);
/* commit_profile.c: upload ip->profile (if any) and set ip->profile_digest. */
int image_profile_upload(struct image_push *ip);

#endif
