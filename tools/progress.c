/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "tools/progress.h"

#define REDRAW_MS 250
#define DONE UINT64_MAX

void progress_start(struct progress *p, const char *what, bool quiet)
{
	*p = (struct progress){ .what = what, .on = !quiet && isatty(2) };
}

void progress_update(void *ctx, uint64_t done, uint64_t total)
{
	struct progress *p = ctx;
	uint64_t t, dt;
	double rate;

	if (!p->on || p->last_ms == DONE)
		return;
	t = monotonic_ms();
	if (!p->t0_ms)
		p->t0_ms = t;
	/* curl calls on while the answer is awaited: one final line is enough */
	if (t - p->last_ms < REDRAW_MS && (total == 0 || done < total))
		return;
	p->last_ms = t;
	dt = t - p->t0_ms ? t - p->t0_ms : 1;
	rate = (double)done * 1000.0 / (double)dt;
	if (total)
		fprintf(stderr, "\r%s: %.1f/%.1f MB, %.1f MB/s, ETA %.0f s   ", p->what,
			done / 1e6, total / 1e6, rate / 1e6,
			rate > 0 && total > done ? (double)(total - done) / rate : 0.0);
	else
		fprintf(stderr, "\r%s: %.1f MB, %.1f MB/s   ", p->what, done / 1e6, rate / 1e6);
	if (total && done >= total) {
		fputc('\n', stderr);
		p->last_ms = DONE;
	}
}

void progress_end(struct progress *p)
{
	if (p->on && p->t0_ms && p->last_ms != DONE)
		fputc('\n', stderr);
	p->last_ms = DONE;
}
