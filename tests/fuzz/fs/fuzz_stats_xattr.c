/* SPDX-License-Identifier: MIT */
/*
 * The stats xattr protocol (fs/stats_xattr.h) on arbitrary input: an
 * attribute name any user of the mount may ask for, and a head value
 * strata reads from whatever answers at the path. A name parses to the
 * head or to a chunk whose name formats back to itself; a head parses to
 * counts that round-trip through fs_stats_head().
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fs/stats_xattr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), name[FS_STATS_NAME_MAX];
	size_t chunks, total, no, len;
	uint64_t snap;
	bool head;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (fs_stats_name_parse(s, &head, &snap, &no) == 0 && !head) {
		fs_stats_chunk_name(name, snap, no);
		/* leading zeros are the one way to spell a number twice */
		if (strcmp(name, s) != 0 && !strstr(s, ".0"))
			abort();
	}
	if (fs_stats_head_parse(s, &chunks, &total, &snap) == 0 && snap > 0 && snap <= INT64_MAX) {
		char *h = fs_stats_head(total, 65536, snap, &len);
		size_t c2, t2;
		uint64_t s2;

		if (h && (fs_stats_head_parse(h, &c2, &t2, &s2) != 0 || t2 != total || s2 != snap))
			abort();
		free(h);
	}
	free(s);
	return 0;
}
