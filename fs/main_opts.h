/* SPDX-License-Identifier: MIT */
/*
 * The options of stratafs (fs/main_opts.c): -o opt,... as mount(8) and
 * fstab pass them, checked before anything is mounted, and turned into the
 * mount's options (credentials read, the token cache placed).
 */
#ifndef FS_MAIN_OPTS_H
#define FS_MAIN_OPTS_H

#include <stddef.h>
#include <stdint.h>

#include "fs/mount_int.h"

struct fuse_args;

/* The command line; its strings are its own (fs_cli_release() frees them). */
struct fs_cli {
	char *ref;
	int n_nonopt;
	char *cache, *cache_max, *platform, *ca_file, *config, *username, *password_file;
	char *prefetch, *log, *mem_max, *unpinned;
	char *record;        /* -o record=FILE: the access profile, written at unmount */
	char *registry;      /* --store: the host username, password_file and insecure are for */
	char *kernel_readahead;
	uint64_t kernel_ra;  /* its bytes (fs/kernel_ra.h); 0: leave the kernel's */
	char *io_timeout_arg, *retries_arg;
	char *token_dir;     /* <cache dir>/tokens (not an option) */
	int insecure, layers, push_index, debug, store;
	unsigned io_timeout; /* seconds; 0: not given */
	unsigned retries;    /* UINT_MAX: not given */
	unsigned stats_chunk;
	char *password;      /* from password_file; wiped once the client has it */
	size_t password_cap;
};

/*
 * Parse @args into @c (zeroed first) and add the options every mount
 * gets (ro or, for --store, rw; nosuid, nodev, default_permissions; the
 * reference as fsname). 0 ok, 1 done (--help, --version), -EINVAL usage.
 */
int fs_cli_parse(struct fuse_args *args, struct fs_cli *c);

/* @c as the mount's options (@mo refers to @c's strings); reads the password
 * file. -EINVAL for a bad option value, else -errno; logged here. */
int fs_cli_mount_opts(struct fs_cli *c, struct fs_mount_opts *mo);

/* The registry client has copied what it needs (and so has the pusher):
 * wipe the password. */
void fs_cli_forget_secrets(struct fs_cli *c, struct fs_mount_opts *mo);

/* Free what fs_cli_parse() and fs_cli_mount_opts() allocated. */
void fs_cli_release(struct fs_cli *c);

#endif
