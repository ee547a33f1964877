/* config.h: the daemon's settings, from defaults, a JSON config file and the
 * command line (in that order: a flag overrides the file).
 *
 * The config file is a JSON object whose keys are the long flag names with
 * '-' written '_' ("log_level", "runtime_dir", "metrics_interval_ms"), plus
 * "limits": {"frame0_bytes", "data_bytes", "in_flight_per_client",
 * "sessions"}. Strings for string flags, integers for numbers, booleans for
 * switches. An unknown key or a bad value is an error naming the key. See
 * docs/operations.md. */
#ifndef UISCSI_ACTORS_CONFIG_H
#define UISCSI_ACTORS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "actors/log.h"

#define UIS_VERSION "0.1.0"

/* Limits of the RPC API (API.md "Limits"; daemon.info "limits"). */
typedef struct {
    uint32_t frame0_bytes;         /* request JSON frame: 1 MiB */
    uint32_t data_bytes;           /* one data payload: 64 MiB */
    uint32_t in_flight_per_client; /* requests in flight per client: 256 */
    uint32_t sessions;             /* sessions of the daemon: 1024 */
} uis_limits_t;

typedef struct {
    char *rpc;         /* RPC endpoint (ROUTER bind) */
    char *events;      /* events endpoint (XPUB bind) */
    char *runtime_dir; /* sockets and the lock file */
    char *group;       /* group allowed into the runtime dir, or NULL */
    char *log_file;    /* log to this file instead of stderr/syslog, or NULL */
    char *config;      /* the config file read, or NULL */
    bool foreground;   /* do not daemonize */
    bool syslog;       /* log to syslog */
    uis_log_level_t log_level;
    uis_limits_t limits;
    uint32_t metrics_interval_ms; /* daemon.metrics period, 0 = off: 1000 */
    uint32_t event_ring;          /* events kept for events.get: 10000 */
    uint32_t shutdown_timeout_ms; /* bound on a graceful stop: 5000 */
    uint32_t io_threads;          /* I/O threads (io actors); 0 = one per core */
} uis_config_t;

/* What the command line asks for. */
typedef enum {
    UIS_CONFIG_RUN = 0,
    UIS_CONFIG_HELP,
    UIS_CONFIG_VERSION,
} uis_config_action_t;

/* Fills self with the defaults (no strings set). */
void uis_config_init (uis_config_t *self);

/* Frees the strings self holds and resets it to the defaults. */
void uis_config_fini (uis_config_t *self);

/* Sets the default limits. */
void uis_limits_default (uis_limits_t *self);

/* Applies a config file's JSON text (len bytes) to self. Returns 0, or
 * UIS_ERR_MALFORMED (not a JSON object), UIS_ERR_INVALID_ARG (unknown key,
 * wrong type, value out of range), UIS_ERR_NOMEM; err (err_size > 0) then
 * holds a one-line message naming the key. Values are never quoted in err. */
int uis_config_load_json (uis_config_t *self, const char *text, size_t len, char *err,
                          size_t err_size);

/* Reads and applies a config file (at most 1 MiB). Errors as above, plus
 * UIS_ERR_INVALID_ARG when the file cannot be read. */
int uis_config_load_file (uis_config_t *self, const char *path, char *err,
                          size_t err_size);

/* Parses the command line: reads the --config file first, then applies the
 * flags over it. Sets *action_p. Returns 0 or a negative UIS_ERR_* code with
 * a message in err (an unknown flag, a missing or bad value). argv is not
 * modified (getopt state is reset). */
int uis_config_from_args (uis_config_t *self, int argc, char *const argv[],
                          uis_config_action_t *action_p, char *err, size_t err_size);

/* Fills the defaults that depend on the environment: the runtime dir
 * ($xdg_runtime_dir/uiscsi, or /run/uiscsi when euid is 0) and the
 * endpoints (ipc://<dir>/rpc.sock, ipc://<dir>/events.sock), and checks the
 * endpoints (ipc:// or inproc://; tcp:// needs CURVE, not supported yet).
 * xdg_runtime_dir may be NULL. Returns 0 or an error with a message. */
int uis_config_resolve (uis_config_t *self, uid_t euid, const char *xdg_runtime_dir,
                        char *err, size_t err_size);

/* Writes the usage text to out. */
void uis_config_usage (FILE *out, const char *prog);

#endif
