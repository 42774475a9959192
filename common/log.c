/* SPDX-License-Identifier: MIT */
/* The logger: formats into a local buffer and writes it in one call. */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <unistd.h>

static _Atomic int cur_level = LOG_LVL_WARN;
static _Atomic bool to_syslog;
static const char *prog_name = "stratafs";

void log_set_level(enum log_level level)
{
	atomic_store(&cur_level, (int)level);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load(&cur_level);
}

int log_level_parse(const char *s, enum log_level *out)
{
	static const struct { const char *name; enum log_level lvl; } names[] = {
		{ "err", LOG_LVL_ERR },	  { "error", LOG_LVL_ERR }, { "warn", LOG_LVL_WARN },
		{ "warning", LOG_LVL_WARN }, { "info", LOG_LVL_INFO }, { "debug", LOG_LVL_DEBUG },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*out = names[i].lvl;
			return 0;
		}
	}
	return -EINVAL;
}

void log_use_syslog(bool on, const char *ident)
{
	if (on)
		openlog(ident ? ident : prog_name, LOG_PID, LOG_DAEMON);
	atomic_store(&to_syslog, on);
}

void log_set_prog(const char *prog)
{
	prog_name = prog;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const tags[] = { "error", "warning", "info", "debug" };
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char buf[2048];
	int saved_errno = errno;
	va_list ap;
	int n;

	va_start(ap, fmt);
	if (atomic_load(&to_syslog)) {
		vsnprintf(buf, sizeof(buf), fmt, ap);
		syslog(prio[level], "%s", buf);
		va_end(ap);
		errno = saved_errno;
		return;
	}
	n = snprintf(buf, sizeof(buf), "%s: %s: ", prog_name, tags[level]);
	if (n > 0 && (size_t)n < sizeof(buf))
		n += vsnprintf(buf + n, sizeof(buf) - (size_t)n, fmt, ap);
	va_end(ap);
	if (n < 0)
		goto out;
	if ((size_t)n >= sizeof(buf) - 1)
		n = (int)sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, (size_t)n) < 0) {
		/* nowhere left to report it */
	}
out:
	errno = saved_errno;
}
