/* SPDX-License-Identifier: MIT */
/*
 * fs/ internal to the Additional Layer Store (als.c: the namespace and
 * image resolution; als_node.c: trees, attributes, data, xattrs, stats).
 * Nobody else includes this.
 */
#ifndef FS_ALS_IMPL_H
#define FS_ALS_IMPL_H

#include <pthread.h>
#include <time.h>

#include "fs/als_int.h"

#define SLOT_SHIFT 32
#define LOCAL_MASK ((UINT64_C(1) << SLOT_SHIFT) - 1)
#define LOCAL_IMAGE 0xFFFFFFF0u
#define LOCAL_LAYER 0xFFFFFFF1u
#define LOCAL_INFO 0xFFFFFFF2u
#define LOCAL_BLOB 0xFFFFFFF3u
#define MAX_SLOTS (1u << 24)
#define REF_MAX 1024
#define INFO_MAX 1024
#define ALS_BLOB_CHUNK (2u << 20)
#define ALS_STATS_MAX (64u << 10) /* one xattr value */

struct als_layer {
	struct als_image *img;
	size_t pos;
	uint64_t slot;
	const struct reg_descriptor *desc;
	char info[INFO_MAX];
	size_t info_len;
	pthread_mutex_t lock;
	_Atomic(struct idx_tree *) tree;  /* built under lock */
	_Atomic(struct idx_tree *) below; /* built under lock: layers 0..pos-1 merged */
	int err;                /* protected by lock: a failed build is not retried */
	/*
	 * The last piece of the blob fetched (ALS_BLOB_CHUNK): the runtime
	 * reads blob in order, in the kernel's 128 KiB pieces, and one Range
	 * request per piece would make a push of a big layer thousands of them.
	 */
	char *chunk;            /* protected by lock */
	uint64_t chunk_off;     /* protected by lock */
	size_t chunk_len;       /* protected by lock */
};

struct als_image {
	char *name;             /* the base64 name it was asked by */
	struct fs_image *fimg;
	uint64_t slot;
	const struct idx_layer **idx;
	unsigned *nos;
	struct als_layer *layers;
	size_t n_layers;
	/* -o push_index: the indexes built here, pushed by a thread of their own */
	struct reg_pusher *pusher;
	const struct idx_layer **built;
	size_t n_built;
	pthread_t push_th;
	bool pushing;           /* push_th runs or ran: join it before freeing */
};

struct als_slot {
	bool is_image;
	void *p;
};

struct fs_als {
	struct fs_image_opts o;
	bool push_index;            /* -o push_index */
	char *registry;             /* -o registry: the one host o.reg's credentials and insecure are for */
	time_t started;
	pthread_mutex_t open_lock;  /* one image is resolved at a time */
	pthread_mutex_t lock;
	struct als_image **images;  /* protected by lock */
	size_t n_images, cap_images; /* protected by lock */
	struct als_slot *slots;          /* protected by lock; slots[0] unused */
	size_t n_slots, cap_slots;   /* protected by lock */
};


/*
 * The registry options for reference @ref: -o username, password_file,
 * insecure and ca_file only if @ref is on the host -o registry names (a
 * runtime may name any registry; they were given for one).
 */
void fs_als_reg_opts(const struct fs_als *a, const char *ref, struct reg_opts *out);

static inline uint64_t als_ino(uint64_t slot, uint64_t local)
{
	return slot << SLOT_SHIFT | local;
}

/*
 * Layer @l's own tree (@below false) or the merged tree of the layers
 * below it, built on first use; NULL if the build failed (logged).
 */
struct idx_tree *fs_als_layer_tree(struct als_layer *l, bool below);
/* Fill @out for @node of @l's tree @t; -EIO for no node (a lazy merge that failed). */
int fs_als_tree_node(struct als_layer *l, struct idx_tree *t, const struct idx_node *node,
		     struct fs_als_node *out);
bool fs_als_is_whiteout(const struct fs_als_node *n);

/*
 * -o push_index (als_push.c): push the indexes built here for @im, on a
 * thread image_free() joins. Called once @im is resolved.
 */
void fs_als_push_built(struct fs_als *a, struct als_image *im);

#endif
