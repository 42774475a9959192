/* SPDX-License-Identifier: MIT */
/*
 * A fake foreign TOC format, for tests only (never shipped): it exercises
 * the fs/ side of foreign TOCs (fs/foreign.h) end to end before the real
 * parsers exist. Its layer is laid out as zstd:chunked lays one out (every
 * file chunk its own zstd frame, the TOC in a skippable frame at the end,
 * pinned by a layer annotation), but its TOC is a few text lines:
 *
 *   E <d|r|l|h> <mode octal> <uid> <gid> <mtime> <size> <path> [<link>]
 *   C <c_off> <c_end> <len> <sha256 hex>     (the chunks of the last "r")
 */
#ifndef TESTS_UNIT_FS_FOREIGN_FAKE_H
#define TESTS_UNIT_FS_FOREIGN_FAKE_H

#include "fs/foreign.h"

#define FAKE_ANNOT_DIGEST "dev.stratafs.test.toc-digest"
#define FAKE_ANNOT_POS "dev.stratafs.test.toc-position" /* "<offset>:<length>" of the TOC */

extern const struct fs_foreign_fmt fake_foreign_fmt;

#endif
