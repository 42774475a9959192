/* SPDX-License-Identifier: MIT */
/*
 * The one logger of stratafs: levels, a printf-style front end and a sink
 * (stderr or syslog). The only global mutable state in the project.
 * Thread-safe: a message is written with one write(2)/syslog(3) call.
 */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_ERR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Set the threshold; messages above it are not formatted at all. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Parse "err|error|warn|warning|info|debug" into @out; -EINVAL if unknown. */
int log_level_parse(const char *s, enum log_level *out);

/* Route messages to syslog(3) (daemon in the background) or back to stderr. */
void log_use_syslog(bool on, const char *ident);

/* Prefix each stderr line with this program name ("strata", "stratafs"). */
void log_set_prog(const char *prog);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_enabled(lvl) ((lvl) <= log_get_level())
#define log_err(...) do { if (log_enabled(LOG_LVL_ERR)) log_msg(LOG_LVL_ERR, __VA_ARGS__); } while (0)
#define log_warn(...) do { if (log_enabled(LOG_LVL_WARN)) log_msg(LOG_LVL_WARN, __VA_ARGS__); } while (0)
#define log_info(...) do { if (log_enabled(LOG_LVL_INFO)) log_msg(LOG_LVL_INFO, __VA_ARGS__); } while (0)
#define log_debug(...) do { if (log_enabled(LOG_LVL_DEBUG)) log_msg(LOG_LVL_DEBUG, __VA_ARGS__); } while (0)

#endif
