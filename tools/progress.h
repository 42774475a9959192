/* SPDX-License-Identifier: MIT */
/*
 * One progress line on stderr for long uploads and index builds: bytes,
 * rate, ETA, redrawn at most four times a second. Only on a terminal and
 * never with -q, so scripts and logs see nothing of it.
 */
#ifndef TOOLS_PROGRESS_H
#define TOOLS_PROGRESS_H

#include <stdbool.h>
#include <stdint.h>

struct progress {
	const char *what;
	bool on;
	uint64_t t0_ms, last_ms;
};

/* Arm @p for a new task; it draws only if @quiet is false and stderr is a tty. */
void progress_start(struct progress *p, const char *what, bool quiet);
/* A callback for reg_upload_opts.progress and the like; @ctx is the struct progress. */
void progress_update(void *ctx, uint64_t done, uint64_t total);
/* End the line (if one was drawn and the task did not reach its total). */
void progress_end(struct progress *p);

#endif
