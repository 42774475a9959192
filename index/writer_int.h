/* SPDX-License-Identifier: MIT */
/* index/ internal: the tar header half of the seekable-layer writer (writer_tar.c). */
#ifndef INDEX_WRITER_INT_H
#define INDEX_WRITER_INT_H

#include "common/dbuf.h"
#include "index/index.h"

#define WTAR_BLOCK 512
/* Ceiling of one member's headers (pax records incl.): the xattr ceilings bound it. */
#define WTAR_MAX_HEADERS (8u << 20)

/* The member name @e goes under in the archive ("./", "d/", "a/.wh.b", ...). */
int wtar_member_name(const struct idx_entry *e, struct dbuf *name);
/*
 * The header blocks of @e (a pax 'x' header with its records when needed,
 * then the ustar header) into @out; @name and @pax are scratch. -EINVAL for
 * an entry that cannot be written, -EFBIG over the ceilings.
 */
int wtar_headers(const struct idx_entry *e, struct dbuf *name, struct dbuf *pax, struct dbuf *out);

#endif
