/* uiscsid.c: the daemon's main: settings, runtime dir and lock, daemonizing,
 * the actors (metrics, dispatch, RPC front end), signals and a bounded
 * graceful stop. See docs/operations.md. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "actors/bus.h"
#include "actors/config.h"
#include "actors/dispatch.h"
#include "actors/io.h"
#include "actors/log.h"
#include "actors/metrics.h"
#include "actors/rpc_front.h"
#include "actors/rt/rt_actor.h"
#include "actors/rt/rt_ctx.h"
#include "actors/rt/rt_reactor.h"
#include "proto/errors.h"
#include "rpc/methods.h"

#define S_EXIT_OK    0
#define S_EXIT_FAIL  1
#define S_EXIT_USAGE 2
#define S_LOCK_NAME  "uiscsid.lock"

/* Everything main owns while the daemon runs. */
typedef struct {
    uis_config_t config;
    int lock_fd;
    char lock_path[PATH_MAX];
    int ready_fd; /* the daemonizing parent waits on it, or -1 */
    int signal_fd;
    int exit_code;
    bool stop;
    rt_group_t *ctl;
    rt_group_t *rpc;
    rt_actor_t *metrics;
    rt_actor_t *dispatch;
    rt_actor_t *front;
    unsigned nio; /* io actors, one per I/O thread */
    rt_group_t **io_groups;
    rt_actor_t **io;
    char metrics_api[64];
    char dispatch_api[64];
} s_daemon_t;

/* Reports a startup error on stderr, and in the log when that is not
 * stderr. */
static void __attribute__ ((format (printf, 1, 2))) s_fatal (const char *fmt, ...)
{
    char msg[512];
    va_list args;
    va_start (args, fmt);
    vsnprintf (msg, sizeof msg, fmt, args);
    va_end (args);
    fprintf (stderr, "uiscsid: %s\n", msg);
    if (uis_log_target () != UIS_LOG_TO_STDERR)
        uis_error ("main", "%s", msg);
}

/* Monotonic milliseconds. */
static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------ runtime dir and lock */

/* Creates the runtime dir (0700, or 0750 and group-owned with group), or
 * brings an existing one owned by us to that mode. Refuses a symlink, a
 * non-directory, or a dir owned by another user. Returns 0 or -1. */
static int
s_runtime_dir (const char *dir, const char *group)
{
    gid_t gid = (gid_t)-1;
    if (group) {
        struct group *gr = getgrnam (group);
        if (!gr) {
            s_fatal ("group: no group named %.64s", group);
            return -1;
        }
        gid = gr->gr_gid;
    }
    mode_t want = group ? 0750 : 0700;
    if (mkdir (dir, want) != 0 && errno != EEXIST) {
        s_fatal ("runtime_dir: cannot create %s: %s", dir, strerror (errno));
        return -1;
    }
    int fd = open (dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat (fd, &st) != 0) {
        s_fatal ("runtime_dir: %s is not a directory (or a symlink): %s", dir,
                 strerror (errno));
        if (fd >= 0)
            close (fd);
        return -1;
    }
    int rc = 0;
    if (st.st_uid != geteuid ()) {
        s_fatal ("runtime_dir: %s belongs to another user; refusing it", dir);
        rc = -1;
    }
    else if (group && st.st_gid != gid && fchown (fd, (uid_t)-1, gid) != 0) {
        s_fatal ("runtime_dir: cannot give %s to group %.64s: %s", dir, group,
                 strerror (errno));
        rc = -1;
    }
    else if ((st.st_mode & 07777) != want) {
        if (fchmod (fd, want) != 0) {
            s_fatal ("runtime_dir: cannot set the mode of %s: %s", dir, strerror (errno));
            rc = -1;
        }
        else
            uis_warn ("main", "runtime dir %s had mode %04o; set to %04o", dir,
                      (unsigned)(st.st_mode & 07777), (unsigned)want);
    }
    close (fd);
    return rc;
}

/* Takes the lock file of the runtime dir (flock, our pid written in it).
 * A live daemon holding it is never disturbed. Returns the fd or -1. */
static int
s_lock (s_daemon_t *self)
{
    snprintf (self->lock_path, sizeof self->lock_path, "%s/%s", self->config.runtime_dir,
              S_LOCK_NAME);
    for (int attempt = 0; attempt < 5; attempt++) {
        int fd = open (self->lock_path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
            s_fatal ("cannot open the lock file %s: %s", self->lock_path,
                     strerror (errno));
            return -1;
        }
        if (flock (fd, LOCK_EX | LOCK_NB) != 0) {
            char buf[32] = "";
            ssize_t n = pread (fd, buf, sizeof buf - 1, 0);
            buf[n > 0 ? n : 0] = 0;
            long pid = strtol (buf, NULL, 10);
            close (fd);
            if (errno == EWOULDBLOCK || errno == EAGAIN || pid > 0)
                s_fatal (
                    "another uiscsid is already running (pid %ld) with runtime dir %s "
                    "(lock %s held)",
                    pid, self->config.runtime_dir, self->lock_path);
            else
                s_fatal ("cannot lock %s: %s", self->lock_path, strerror (errno));
            return -1;
        }
        /* The file may have been removed by a daemon stopping meanwhile:
         * then our lock is on a dead inode; try again. */
        struct stat a, b;
        if (fstat (fd, &a) == 0 && stat (self->lock_path, &b) == 0 && a.st_ino == b.st_ino
            && a.st_dev == b.st_dev) {
            char pid[32];
            int len = snprintf (pid, sizeof pid, "%ld\n", (long)getpid ());
            if (ftruncate (fd, 0) != 0 || pwrite (fd, pid, (size_t)len, 0) != len)
                uis_warn ("main", "cannot write the pid into %s", self->lock_path);
            return fd;
        }
        close (fd);
    }
    s_fatal ("cannot lock %s: it keeps changing", self->lock_path);
    return -1;
}

/* The file path of an ipc:// endpoint, or NULL. */
static const char *
s_ipc_path (const char *endpoint)
{
    return strncmp (endpoint, "ipc://", 6) == 0 ? endpoint + 6 : NULL;
}

/* Removes the socket file of an ipc:// endpoint (one left by a dead daemon
 * at start, ours at stop; we hold the lock). Says so when stale. */
static void
s_remove_socket (const char *endpoint, bool stale)
{
    const char *path = s_ipc_path (endpoint);
    struct stat st;
    if (path && lstat (path, &st) == 0 && S_ISSOCK (st.st_mode) && unlink (path) == 0
        && stale)
        uis_info ("main", "removed a stale socket %s", path);
}

/* Gives a bound ipc socket file mode 0600, or 0660 and the group with
 * --group (connecting needs write permission on the socket). */
static void
s_socket_mode (const char *endpoint, const char *group)
{
    const char *path = s_ipc_path (endpoint);
    if (!path)
        return;
    struct group *gr = group ? getgrnam (group) : NULL;
    if (gr && chown (path, (uid_t)-1, gr->gr_gid) != 0)
        uis_warn ("main", "cannot give %s to group %.64s: %s", path, group,
                  strerror (errno));
    if (chmod (path, gr ? 0660 : 0600) != 0)
        uis_warn ("main", "cannot set the mode of %s: %s", path, strerror (errno));
}

/* ---------------------------------------------------------- daemonize */

/* Double fork: the caller's process waits for the daemon's readiness byte
 * and exits with its status; the daemon continues in a new session with
 * stdin on /dev/null (stdout and stderr follow once it is ready, so startup
 * errors still reach the terminal). Returns 0 in the daemon, -1 on error. */
static int
s_daemonize (s_daemon_t *self)
{
    int p[2];
    if (pipe2 (p, O_CLOEXEC) != 0)
        return -1;
    pid_t pid = fork ();
    if (pid < 0)
        return -1;
    if (pid > 0) {
        close (p[1]);
        unsigned char status = 1;
        ssize_t n;
        do
            n = read (p[0], &status, 1);
        while (n < 0 && errno == EINTR);
        waitpid (pid, NULL, 0);
        _exit (n == 1 && status == 0 ? S_EXIT_OK : S_EXIT_FAIL);
    }
    close (p[0]);
    if (setsid () < 0)
        _exit (S_EXIT_FAIL);
    pid = fork ();
    if (pid < 0)
        _exit (S_EXIT_FAIL);
    if (pid > 0)
        _exit (S_EXIT_OK);
    umask (027);
    if (chdir ("/") != 0)
        _exit (S_EXIT_FAIL);
    int null = open ("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2 (null, STDIN_FILENO);
        close (null);
    }
    self->ready_fd = p[1];
    return 0;
}

/* Tells the waiting parent how startup went; on success detaches stdout
 * and stderr. */
static void
s_ready (s_daemon_t *self, int status)
{
    if (self->ready_fd < 0)
        return;
    unsigned char b = (unsigned char)status;
    if (write (self->ready_fd, &b, 1) != 1)
        uis_warn ("main", "cannot report readiness");
    close (self->ready_fd);
    self->ready_fd = -1;
    if (status == 0) {
        int null = open ("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
            dup2 (null, STDOUT_FILENO);
            dup2 (null, STDERR_FILENO);
            close (null);
        }
    }
}

/* ------------------------------------------------------------- actors */

/* Waits up to timeout_ms for a message of type on pipe; others are
 * dropped. Returns 0 or UIS_ERR_AGAIN. */
static int
s_wait_for (void *pipe, uint16_t type, int timeout_ms)
{
    int64_t deadline = s_now_ms () + timeout_ms;
    for (int64_t now = s_now_ms (); now < deadline; now = s_now_ms ()) {
        zmq_pollitem_t item = {pipe, 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, (long)(deadline - now)) <= 0)
            continue;
        for (int n = 0; n < 1000; n++) {
            rt_msg_t msg;
            int rc = rt_msg_recv (&msg, pipe, ZMQ_DONTWAIT);
            uint16_t got = msg.env.type;
            rt_msg_close (&msg);
            if (rc == UIS_ERR_AGAIN)
                break;
            if (rc == 0 && got == type)
                return 0;
        }
    }
    return UIS_ERR_AGAIN;
}

/* Asks the metrics actor to publish daemon.state and waits for it. */
static void
s_publish_state (s_daemon_t *self, const char *state)
{
    if (!self->metrics)
        return;
    rt_msg_t msg;
    rt_msg_init (&msg, BUS_STATE);
    if (rt_msg_set_body (&msg, state, strlen (state)) == 0
        && rt_actor_send (self->metrics, &msg, ZMQ_DONTWAIT) == 0)
        s_wait_for (rt_actor_pipe (self->metrics), BUS_STATE_DONE, 500);
    rt_msg_close (&msg);
}

static bool s_stop_actor (rt_actor_t **actor_p, int timeout_ms);

/* Starts --io-threads io actors (default one per core), each on an
 * rt_group thread of its own, binding inproc://uis-io-<k>. Returns 0 or -1. */
static int
s_start_io (s_daemon_t *self)
{
    unsigned n = self->config.io_threads;
    if (n == 0) {
        long cores = sysconf (_SC_NPROCESSORS_ONLN);
        n = cores > 0 ? (unsigned)(cores < 1024 ? cores : 1024) : 1;
    }
    self->io_groups = calloc (n, sizeof *self->io_groups);
    self->io = calloc (n, sizeof *self->io);
    if (!self->io_groups || !self->io)
        return -1;
    self->nio = n;
    for (unsigned k = 0; k < n; k++) {
        char name[24];
        snprintf (name, sizeof name, "uis-io-%u", k % 10000u);
        self->io_groups[k] = rt_group_new (name);
        if (!self->io_groups[k]) {
            s_fatal ("cannot start I/O thread %u", k);
            return -1;
        }
        io_config_t ic = {k, NULL, self->metrics_api};
        int err = 0;
        self->io[k] = rt_actor_spawn (self->io_groups[k], io_actor, &ic, &err);
        if (!self->io[k]) {
            s_fatal ("cannot start io actor %u (%s)", k, uis_err_name (err));
            return -1;
        }
    }
    uis_info ("main", "%u io actors", n);
    return 0;
}

/* Stops the io actors and their threads, all within timeout_ms. Returns
 * false when one had to be abandoned. */
static bool
s_stop_io (s_daemon_t *self, int timeout_ms)
{
    bool clean = true;
    int64_t deadline = s_now_ms () + timeout_ms;
    for (unsigned k = 0; k < self->nio && self->io; k++) {
        int64_t left = deadline - s_now_ms ();
        clean &= s_stop_actor (&self->io[k], left > 50 ? (int)left : 50);
    }
    for (unsigned k = 0; k < self->nio && self->io_groups; k++)
        if (self->io_groups[k])
            clean &= rt_group_destroy (&self->io_groups[k]) == 0;
    free (self->io);
    free (self->io_groups);
    self->io = NULL;
    self->io_groups = NULL;
    self->nio = 0;
    return clean;
}

/* Starts the actors: metrics and dispatch share a thread, the front end
 * has its own. daemon.state "running" is published as soon as the metrics
 * actor is up, before any other actor can publish, so it is always seq 1.
 * Returns 0 or -1. */
static int
s_start_actors (s_daemon_t *self, int64_t start_ms)
{
    uis_config_t *cfg = &self->config;
    if (rt_ctx_endpoint (self->metrics_api, sizeof self->metrics_api, "metrics")
        || rt_ctx_endpoint (self->dispatch_api, sizeof self->dispatch_api, "dispatch"))
        return -1;
    self->ctl = rt_group_new ("uis-ctl");
    self->rpc = rt_group_new ("uis-rpc");
    if (!self->ctl || !self->rpc) {
        s_fatal ("cannot start threads");
        return -1;
    }
    int err = 0;
    metrics_config_t mc = {cfg->events, self->metrics_api, cfg->event_ring, 0};
    self->metrics = rt_actor_spawn (self->ctl, metrics_actor, &mc, &err);
    if (!self->metrics) {
        s_fatal ("cannot bind the events endpoint %s (%s)", cfg->events,
                 uis_err_name (err));
        return -1;
    }
    s_publish_state (self, "running");
    if (s_start_io (self) != 0)
        return -1;
    dispatch_config_t dc = {self->dispatch_api,       self->metrics_api, cfg->limits,
                            cfg->metrics_interval_ms, self->nio,         NULL};
    self->dispatch = rt_actor_spawn (self->ctl, dispatch_actor, &dc, &err);
    if (!self->dispatch) {
        s_fatal ("cannot start the dispatcher (%s)", uis_err_name (err));
        return -1;
    }
    rpc_front_config_t fc = {cfg->rpc,           cfg->events, self->metrics_api,
                             self->dispatch_api, cfg->limits, cfg->metrics_interval_ms,
                             start_ms,           self->nio,   NULL};
    self->front = rt_actor_spawn (self->rpc, rpc_front_actor, &fc, &err);
    if (!self->front) {
        s_fatal ("cannot bind the RPC endpoint %s (%s)", cfg->rpc, uis_err_name (err));
        return -1;
    }
    return 0;
}

/* Destroys one actor within timeout_ms; false if it had to be abandoned. */
static bool
s_stop_actor (rt_actor_t **actor_p, int timeout_ms)
{
    if (!*actor_p)
        return true;
    rt_actor_set_term_timeout (*actor_p, timeout_ms);
    return rt_actor_destroy (actor_p) == 0;
}

/* The graceful stop: stop accepting and drain the front end, publish
 * "stopping", destroy the actors and threads, terminate the context. Each
 * step is bounded; the whole within shutdown_timeout_ms. */
static void
s_stop_actors (s_daemon_t *self)
{
    int bound = (int)self->config.shutdown_timeout_ms;
    int step = bound / 5 > 0 ? bound / 5 : 1;
    bool clean = true;
    if (self->front) {
        rt_msg_t msg;
        rt_msg_init (&msg, BUS_DRAIN);
        msg.env.aux = (uint64_t)step;
        if (rt_actor_send (self->front, &msg, ZMQ_DONTWAIT) == 0)
            s_wait_for (rt_actor_pipe (self->front), BUS_DRAINED, step + 200);
        rt_msg_close (&msg);
    }
    s_publish_state (self, "stopping");
    clean &= s_stop_actor (&self->front, step);
    clean &= s_stop_actor (&self->dispatch, step);
    clean &= s_stop_io (self, step);
    clean &= s_stop_actor (&self->metrics, step);
    if (self->rpc)
        clean &= rt_group_destroy (&self->rpc) == 0;
    if (self->ctl)
        clean &= rt_group_destroy (&self->ctl) == 0;
    if (!clean || rt_ctx_term () != 0) {
        uis_error ("main", "an actor did not stop in time");
        self->exit_code = S_EXIT_FAIL;
    }
}

/* ------------------------------------------------------------ signals */

/* The signalfd is readable: SIGTERM/SIGINT stop, SIGHUP reopens the log. */
static int
s_on_signal (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg)
{
    (void)reactor;
    s_daemon_t *self = arg;
    struct signalfd_siginfo si;
    while (read (item->fd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGHUP) {
            int rc = uis_log_reopen ();
            uis_info ("main", "SIGHUP: log reopened%s", rc ? " (failed)" : "");
        }
        else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
            uis_info ("main", "%s: stopping",
                      si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
            self->stop = true;
        }
    }
    return self->stop ? -1 : 0;
}

/* An actor's pipe is readable: BUS_FATAL stops the daemon. */
static int
s_on_pipe (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg)
{
    (void)reactor;
    s_daemon_t *self = arg;
    for (int n = 0; n < 100; n++) {
        rt_msg_t msg;
        int rc = rt_msg_recv (&msg, item->socket, ZMQ_DONTWAIT);
        uint16_t type = msg.env.type;
        int32_t status = msg.env.status;
        rt_msg_close (&msg);
        if (rc == UIS_ERR_AGAIN || (rc != 0 && rc != UIS_ERR_MALFORMED))
            break;
        if (rc == 0 && type == BUS_FATAL) {
            uis_error ("main", "an actor failed (%s): stopping", uis_err_name (status));
            self->exit_code = S_EXIT_FAIL;
            self->stop = true;
        }
    }
    return self->stop ? -1 : 0;
}

/* Runs the main loop until a stop signal or a fatal actor error. */
static int
s_run (s_daemon_t *self)
{
    rt_reactor_t *reactor = rt_reactor_new ();
    if (!reactor)
        return -1;
    int rc = rt_reactor_add_fd (reactor, self->signal_fd, ZMQ_POLLIN, s_on_signal, self);
    rt_actor_t *actors[] = {self->metrics, self->dispatch, self->front};
    for (size_t i = 0; rc == 0 && i < 3; i++)
        rc = rt_reactor_add_socket (reactor, rt_actor_pipe (actors[i]), ZMQ_POLLIN,
                                    s_on_pipe, self);
    while (rc == 0 && !self->stop) {
        rc = rt_reactor_run (reactor);
        if (rc != 0 && rc != UIS_ERR_AGAIN)
            uis_error ("main", "main loop: %s", uis_err_name (rc));
    }
    rt_reactor_destroy (&reactor);
    return rc == 0 ? 0 : -1;
}

/* ------------------------------------------------------------------ main */

/* Makes a relative log file path absolute (the daemon runs in /). */
static int
s_absolute (char **path_p)
{
    if (!*path_p || (*path_p)[0] == '/')
        return 0;
    char cwd[PATH_MAX];
    if (!getcwd (cwd, sizeof cwd))
        return -1;
    size_t len = strlen (cwd) + strlen (*path_p) + 2;
    char *abs = malloc (len);
    if (!abs)
        return -1;
    snprintf (abs, len, "%s/%s", cwd, *path_p);
    free (*path_p);
    *path_p = abs;
    return 0;
}

/* Sets up logging from the config. */
static int
s_open_log (s_daemon_t *self)
{
    uis_config_t *cfg = &self->config;
    uis_log_set_level (cfg->log_level);
    if (cfg->log_file) {
        if (s_absolute (&cfg->log_file) != 0
            || uis_log_open (UIS_LOG_TO_FILE, cfg->log_file, NULL) != 0) {
            s_fatal ("log_file: cannot open %s", cfg->log_file);
            return -1;
        }
    }
    else if (cfg->syslog || !cfg->foreground)
        uis_log_open (UIS_LOG_TO_SYSLOG, NULL, "uiscsid");
    return 0;
}

/* Blocks the handled signals (threads inherit the mask) and opens a
 * signalfd for them. */
static int
s_signals (s_daemon_t *self)
{
    signal (SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset (&set);
    sigaddset (&set, SIGTERM);
    sigaddset (&set, SIGINT);
    sigaddset (&set, SIGHUP);
    if (sigprocmask (SIG_BLOCK, &set, NULL) != 0)
        return -1;
    self->signal_fd = signalfd (-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    return self->signal_fd >= 0 ? 0 : -1;
}

/* Removes the sockets and the lock file on a clean stop. */
static void
s_cleanup_files (s_daemon_t *self)
{
    s_remove_socket (self->config.rpc, false);
    s_remove_socket (self->config.events, false);
    if (self->lock_fd >= 0) {
        unlink (self->lock_path); /* while still holding the lock */
        close (self->lock_fd);
        self->lock_fd = -1;
    }
}

/* Parses the settings, takes the runtime dir and lock, starts the actors,
 * runs until a stop signal and stops within the bound. Exit status: 0 after
 * a clean stop (or --help, --version), 1 on a runtime failure, 2 on a usage
 * or config error. */
int
main (int argc, char *argv[])
{
    s_daemon_t self = {.lock_fd = -1, .ready_fd = -1, .signal_fd = -1};
    uis_config_init (&self.config);
    uis_config_action_t action;
    char err[512] = "";
    int rc = uis_config_from_args (&self.config, argc, argv, &action, err, sizeof err);
    if (rc == 0 && action == UIS_CONFIG_RUN)
        rc = uis_config_resolve (&self.config, geteuid (), getenv ("XDG_RUNTIME_DIR"),
                                 err, sizeof err);
    if (rc != 0) {
        fprintf (stderr, "uiscsid: %s\nTry 'uiscsid --help'.\n", err);
        uis_config_fini (&self.config);
        return S_EXIT_USAGE;
    }
    if (action != UIS_CONFIG_RUN) {
        if (action == UIS_CONFIG_HELP)
            uis_config_usage (stdout, "uiscsid");
        else
            printf ("uiscsid %s (API version 1)\n", UIS_VERSION);
        uis_config_fini (&self.config);
        return S_EXIT_OK;
    }
    int64_t start_ms = s_now_ms ();
    self.exit_code = S_EXIT_FAIL;
    if (s_open_log (&self) != 0)
        goto done;
    if (!self.config.foreground && s_daemonize (&self) != 0) {
        s_fatal ("cannot daemonize: %s", strerror (errno));
        goto done;
    }
    if (s_runtime_dir (self.config.runtime_dir, self.config.group) != 0)
        goto done;
    self.lock_fd = s_lock (&self);
    if (self.lock_fd < 0)
        goto done;
    s_remove_socket (self.config.rpc, true);
    s_remove_socket (self.config.events, true);
    if (s_signals (&self) != 0) {
        s_fatal ("cannot set up signal handling: %s", strerror (errno));
        goto done;
    }
    if (s_start_actors (&self, start_ms) != 0) {
        s_stop_actors (&self);
        s_cleanup_files (&self);
        goto done;
    }
    s_socket_mode (self.config.rpc, self.config.group);
    s_socket_mode (self.config.events, self.config.group);
    uis_info ("main", "uiscsid %s running (pid %ld): rpc %s, events %s", UIS_VERSION,
              (long)getpid (), self.config.rpc, self.config.events);
    s_ready (&self, 0);
    self.exit_code = S_EXIT_OK;
    if (s_run (&self) != 0)
        self.exit_code = S_EXIT_FAIL;
    /* Last resort if a step hangs despite its bound. */
    alarm (self.config.shutdown_timeout_ms / 1000 + 2);
    s_stop_actors (&self);
    s_cleanup_files (&self);
    uis_info ("main", "stopped");
done:
    s_ready (&self, 1);
    if (self.signal_fd >= 0)
        close (self.signal_fd);
    if (self.lock_fd >= 0)
        close (self.lock_fd);
    uis_log_close ();
    uis_config_fini (&self.config);
    return self.exit_code;
}
