/* SPDX-License-Identifier: MIT */
/*
 * index/ internal: the entries collected while building, before they are
 * serialized: copies of what the tar parser reports, strings and xattr
 * values in bounded buffers. One per builder.
 */
#ifndef INDEX_BUILD_ENT_H
#define INDEX_BUILD_ENT_H

#include <stdbool.h>
#include <stdint.h>

#include "common/dbuf.h"
#include "index/index.h"

struct tar_entry;

struct bent {
	uint8_t type;
	bool dead;            /* an earlier duplicate of a later entry */
	uint32_t mode, uid, gid;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint32_t dev_major, dev_minor;
	uint64_t size, data_off;
	uint32_t path_off;    /* in strings */
	uint32_t link_off;    /* in strings, or IDX_NO_STRING */
	uint32_t x_first, n_x;
	bool sparse;
	uint32_t e_first, n_e; /* sparse: extents in build_entries.ext */
};

struct bxattr {
	uint32_t name_off;    /* in strings */
	uint32_t val_off;     /* in values */
	uint32_t len;
};

struct build_entries {
	struct bent *e;
	uint32_t n, cap;
	struct bxattr *x;
	uint32_t nx, capx;
	struct idx_extent *ext; /* of sparse entries, in entry order */
	uint32_t next, capext;
	struct dbuf strings;  /* NUL-terminated */
	struct dbuf values;
	uint32_t *sorted;     /* after resolve: live ids sorted by (path, class) */
	uint32_t n_live;
	uint32_t n_dups;
};

void idx_build_entries_init(struct build_entries *be);
void idx_build_entries_release(struct build_entries *be);
/* Copy one parsed member. -EFBIG past IDX_MAX_ENTRIES or the size ceilings. */
int idx_build_entries_add(struct build_entries *be, const struct tar_entry *e);
/* Mark earlier duplicates dead (logging up to @warn_max), sort the rest. */
int idx_build_entries_resolve(struct build_entries *be, unsigned warn_max);

static inline const char *bent_str(const struct build_entries *be, uint32_t off)
{
	return be->strings.data + off;
}

#endif
