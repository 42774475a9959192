/* SPDX-License-Identifier: MIT */
/*
 * fs/ internal: the FUSE side of the Additional Layer Store (fs/als_ll.c).
 * No FUSE include here: the types are forward declarations. The daemon
 * state, fuse_req_userdata(), is a struct fs_als_daemon, immutable while
 * the session runs (the store inside it is thread-safe).
 */
#ifndef FS_ALS_LL_H
#define FS_ALS_LL_H

#include "fs/als_int.h"

struct fuse_lowlevel_ops;

struct fs_als_daemon {
	struct fs_als *als;
	double timeout; /* entry and attribute timeout, seconds */
};

/* The operations table handed to fuse_session_new() for --store. */
const struct fuse_lowlevel_ops *fs_als_ll_ops(void);

#endif
