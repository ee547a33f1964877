/* log.h: the daemon's log (levels, one line per record, thread-safe).
 *
 * Each record is one line "time level [actor] [session] message", where time
 * is RFC 3339 UTC with milliseconds, actor names the module ("rpc",
 * "metrics", "main") and session is a session id or "-". Lines go to stderr
 * (default), to a file (reopened by uis_log_reopen, e.g. on SIGHUP) or to
 * syslog (LOG_DAEMON, without the time). A record is written with one
 * write(2) under a mutex, so lines from threads never interleave.
 *
 * Secrets: the API takes only a printf format from program text and scalar
 * or program-text arguments. There is deliberately no function that logs a
 * JSON value or raw request params: log names, counts and codes, never
 * values a client sent (CHAP secrets travel in params). */
#ifndef UISCSI_ACTORS_LOG_H
#define UISCSI_ACTORS_LOG_H

#include <stdarg.h>
#include <stdbool.h>

typedef enum {
    UIS_LOG_ERROR = 0,
    UIS_LOG_WARN,
    UIS_LOG_INFO,
    UIS_LOG_DEBUG,
    UIS_LOG_TRACE,
} uis_log_level_t;

/* Where records go. */
typedef enum {
    UIS_LOG_TO_STDERR = 0,
    UIS_LOG_TO_FILE,
    UIS_LOG_TO_SYSLOG,
} uis_log_target_t;

/* Parses a level name ("error", "warn", "info", "debug", "trace") into
 * *level_p. Returns 0 or UIS_ERR_INVALID_ARG. */
int uis_log_level_parse (const char *name, uis_log_level_t *level_p);

/* Name of a level ("info"), or "?" for an unknown value. */
const char *uis_log_level_name (uis_log_level_t level);

/* Sets the level: records above it are dropped cheaply. Thread-safe. */
void uis_log_set_level (uis_log_level_t level);

/* The current level. */
uis_log_level_t uis_log_level (void);

/* True when a record of this level would be written (to skip building
 * expensive arguments). */
bool uis_log_enabled (uis_log_level_t level);

/* Sends records to target. path (copied) is the file for UIS_LOG_TO_FILE,
 * ident the syslog identity (program text, kept by pointer) for
 * UIS_LOG_TO_SYSLOG. Returns 0, or a negative UIS_ERR_* code when the file
 * cannot be opened (the target is then unchanged). */
int uis_log_open (uis_log_target_t target, const char *path, const char *ident);

/* The current target. */
uis_log_target_t uis_log_target (void);

/* Reopens the log file (after rotation). A no-op for stderr and syslog.
 * Returns 0 or a negative UIS_ERR_* code (the old file is kept then). */
int uis_log_reopen (void);

/* Closes the file or syslog and returns to stderr. */
void uis_log_close (void);

/* Writes one record. actor is program text; session may be NULL ("-").
 * Newlines and control characters in the message are replaced by '?'. A
 * message longer than 1000 bytes is cut. */
void uis_log (uis_log_level_t level, const char *actor, const char *session,
              const char *fmt, ...) __attribute__ ((format (printf, 4, 5)));

/* The va_list form of uis_log. */
void uis_log_v (uis_log_level_t level, const char *actor, const char *session,
                const char *fmt, va_list args) __attribute__ ((format (printf, 4, 0)));

/* Shorthands without a session. */
#define uis_error(actor, ...) uis_log (UIS_LOG_ERROR, actor, NULL, __VA_ARGS__)
#define uis_warn(actor, ...)  uis_log (UIS_LOG_WARN, actor, NULL, __VA_ARGS__)
#define uis_info(actor, ...)  uis_log (UIS_LOG_INFO, actor, NULL, __VA_ARGS__)
#define uis_debug(actor, ...) uis_log (UIS_LOG_DEBUG, actor, NULL, __VA_ARGS__)
#define uis_trace(actor, ...) uis_log (UIS_LOG_TRACE, actor, NULL, __VA_ARGS__)

/* Formats the RFC 3339 UTC time of a CLOCK_REALTIME reading in ms
 * ("2026-01-02T03:04:05.678Z") into buf (at least 25 bytes). Returns buf. */
char *uis_log_time (long long realtime_ms, char *buf, unsigned size);

#endif
