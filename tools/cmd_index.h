/* SPDX-License-Identifier: MIT */
/* strata index: what the LAYERFILE half (cmd_index.c) shares with the REF half (cmd_index_ref.c). */
#ifndef TOOLS_CMD_INDEX_H
#define TOOLS_CMD_INDEX_H

#include <stdbool.h>
#include <stdint.h>

#include "tools/cli_opts.h"

struct index_opts {
	struct cli_opts cli;
	uint64_t span_size;
	const char *out;  /* LAYERFILE: -o OUT */
	const char *tag;  /* REF: --tag, the pinning index's tag */
	bool json, push, force;
};

/* Seconds on the monotonic clock. */
double index_now(void);
/* MB/s of @bytes in @secs (0 when @secs is 0). */
double index_mbps(uint64_t bytes, double secs);

struct json_t;
/* Print @j as one line of compact JSON on stdout, then drop it (NULL: nothing). */
void index_print_json(struct json_t *j);

/* strata index REF: the exit code. */
int index_ref(struct index_opts *o, const char *ref_str);

#endif
