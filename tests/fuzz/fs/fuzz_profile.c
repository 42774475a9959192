/* SPDX-License-Identifier: MIT */
/*
 * fs_profile_parse() on arbitrary bytes (an access profile comes from the
 * registry): it either refuses them or returns a document within its
 * bounds, every span naming a layer line of it, every digest valid.
 */
#include <stdint.h>
#include <stdlib.h>

#include "fs/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fs_profile_doc d;

	if (fs_profile_parse((const char *)data, size, &d) < 0)
		return 0;
	if (d.n_layers > FS_PROFILE_MAX_LAYERS || d.n_spans > FS_PROFILE_MAX_SPANS)
		abort();
	for (size_t i = 0; i < d.n_layers; i++)
		if (!digest_is_valid(d.digests[i]))
			abort();
	for (size_t i = 0; i < d.n_spans; i++)
		if (d.spans[i].layer >= d.n_layers || d.spans[i].u_len == 0 ||
		    d.spans[i].u_start + d.spans[i].u_len < d.spans[i].u_start)
			abort();
	fs_profile_doc_release(&d);
	return 0;
}
