/* SPDX-License-Identifier: MIT */
/*
 * fs/ internal: the foreign TOC formats the table in fs/foreign.c lists,
 * one declaration per format (defined in fs/foreign_<fmt>.c). Kept one
 * line apart so that branches adding them merge cleanly.
 */
#ifndef FS_FOREIGN_FMTS_H
#define FS_FOREIGN_FMTS_H

#include "fs/foreign.h"

/* zstd:chunked */

/* eStargz */
extern const struct fs_foreign_fmt fs_foreign_estargz;

/* SOCI */
extern const struct fs_foreign_fmt fs_foreign_soci_v2, fs_foreign_soci_v1;

#endif
