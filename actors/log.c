/* log.c: the daemon's log: levels, one write per line, stderr/file/syslog. */
#include "actors/log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "proto/errors.h"

#define S_LINE_MAX 1200
#define S_MSG_MAX  1000

static const char *s_level_names[] = {"error", "warn", "info", "debug", "trace"};

static atomic_int s_level = UIS_LOG_INFO;
static pthread_mutex_t s_mutex = PTHREAD_MUTEX_INITIALIZER;
static uis_log_target_t s_target = UIS_LOG_TO_STDERR;
static int s_fd = -1;       /* the log file (UIS_LOG_TO_FILE) */
static char *s_path;        /* its path, for reopen */
static const char *s_ident; /* syslog identity */

/* Parses a level name. */
int
uis_log_level_parse (const char *name, uis_log_level_t *level_p)
{
    for (int i = 0; name && i <= UIS_LOG_TRACE; i++)
        if (strcmp (name, s_level_names[i]) == 0) {
            *level_p = (uis_log_level_t)i;
            return 0;
        }
    return UIS_ERR_INVALID_ARG;
}

/* Name of a level. */
const char *
uis_log_level_name (uis_log_level_t level)
{
    return (int)level >= 0 && level <= UIS_LOG_TRACE ? s_level_names[level] : "?";
}

/* Sets the level. */
void
uis_log_set_level (uis_log_level_t level)
{
    atomic_store (&s_level, (int)level);
}

/* The current level. */
uis_log_level_t
uis_log_level (void)
{
    return (uis_log_level_t)atomic_load (&s_level);
}

/* Whether a record of this level is written. */
bool
uis_log_enabled (uis_log_level_t level)
{
    return (int)level <= atomic_load (&s_level);
}

/* Opens path for appending, close-on-exec. Returns the fd or a UIS code. */
static int
s_open_file (const char *path)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    return fd >= 0 ? fd : (errno == ENOMEM ? UIS_ERR_NOMEM : UIS_ERR_INVALID_ARG);
}

/* Closes what the current target holds; called with the mutex held. */
static void
s_close_locked (void)
{
    if (s_target == UIS_LOG_TO_FILE && s_fd >= 0)
        close (s_fd);
    if (s_target == UIS_LOG_TO_SYSLOG)
        closelog ();
    s_fd = -1;
    free (s_path);
    s_path = NULL;
    s_target = UIS_LOG_TO_STDERR;
}

/* Switches the target. */
int
uis_log_open (uis_log_target_t target, const char *path, const char *ident)
{
    int fd = -1;
    char *copy = NULL;
    if (target == UIS_LOG_TO_FILE) {
        if (!path)
            return UIS_ERR_INVALID_ARG;
        copy = strdup (path);
        if (!copy)
            return UIS_ERR_NOMEM;
        fd = s_open_file (path);
        if (fd < 0) {
            free (copy);
            return fd;
        }
    }
    pthread_mutex_lock (&s_mutex);
    s_close_locked ();
    s_target = target;
    s_fd = fd;
    s_path = copy;
    if (target == UIS_LOG_TO_SYSLOG) {
        s_ident = ident ? ident : "uiscsid";
        openlog (s_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
    }
    pthread_mutex_unlock (&s_mutex);
    return 0;
}

/* The current target. */
uis_log_target_t
uis_log_target (void)
{
    pthread_mutex_lock (&s_mutex);
    uis_log_target_t target = s_target;
    pthread_mutex_unlock (&s_mutex);
    return target;
}

/* Reopens the log file in place. */
int
uis_log_reopen (void)
{
    int rc = 0;
    pthread_mutex_lock (&s_mutex);
    if (s_target == UIS_LOG_TO_FILE && s_path) {
        int fd = s_open_file (s_path);
        if (fd < 0)
            rc = fd;
        else {
            close (s_fd);
            s_fd = fd;
        }
    }
    pthread_mutex_unlock (&s_mutex);
    return rc;
}

/* Back to stderr. */
void
uis_log_close (void)
{
    pthread_mutex_lock (&s_mutex);
    s_close_locked ();
    pthread_mutex_unlock (&s_mutex);
}

/* Formats an RFC 3339 UTC time with milliseconds. */
char *
uis_log_time (long long realtime_ms, char *buf, unsigned size)
{
    time_t secs = (time_t)(realtime_ms / 1000);
    struct tm tm;
    gmtime_r (&secs, &tm);
    snprintf (buf, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
              tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
              (int)(realtime_ms % 1000));
    return buf;
}

/* Writes all of buf to fd (a log line; short writes retried, errors
 * ignored: there is nowhere to report them). */
static void
s_write_all (int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write (fd, buf, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        buf += n;
        len -= (size_t)n;
    }
}

/* Writes one record. */
void
uis_log_v (uis_log_level_t level, const char *actor, const char *session, const char *fmt,
           va_list args)
{
    if ((int)level < 0 || level > UIS_LOG_TRACE || !uis_log_enabled (level))
        return;
    char msg[S_MSG_MAX + 1];
    int n = vsnprintf (msg, sizeof msg, fmt, args);
    if (n < 0)
        return;
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    char when[32];
    uis_log_time ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, when, sizeof when);
    char line[S_LINE_MAX];
    const char *name = uis_log_level_name (level);
    pthread_mutex_lock (&s_mutex);
    if (s_target == UIS_LOG_TO_SYSLOG) {
        static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG, LOG_DEBUG};
        syslog (prio[level], "%s [%s] [%s] %s", name, actor ? actor : "-",
                session ? session : "-", msg);
    }
    else {
        int len = snprintf (line, sizeof line, "%s %s [%s] [%s] %s\n", when, name,
                            actor ? actor : "-", session ? session : "-", msg);
        if (len > (int)sizeof line - 1) {
            len = (int)sizeof line - 1;
            line[len - 1] = '\n';
        }
        if (len > 0)
            s_write_all (s_target == UIS_LOG_TO_FILE ? s_fd : STDERR_FILENO, line,
                         (size_t)len);
    }
    pthread_mutex_unlock (&s_mutex);
}

/* Writes one record (variadic form). */
void
uis_log (uis_log_level_t level, const char *actor, const char *session, const char *fmt,
         ...)
{
    va_list args;
    va_start (args, fmt);
    uis_log_v (level, actor, session, fmt, args);
    va_end (args);
}
