/*  cli.h - shared state and helpers of uiscsictl, the command-line client of
    uiscsid (see docs/uiscsictl.1).

    One cli_t holds the parsed command line (global options, the chosen
    command, its options and positionals), the connection to the daemon
    (libuiscsi, opened on demand) and the last error. Commands are functions
    `int cmd (cli_t *cli)` returning the process exit status (cli_exit_*).
*/

#ifndef UISCSICTL_CLI_H_INCLUDED
#define UISCSICTL_CLI_H_INCLUDED

#include "../c/uiscsi.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifndef UISCSICTL_VERSION
#define UISCSICTL_VERSION "0.1.0"
#endif

/* Exit statuses (the one table is cli_exit_table in cli.c). */
#define CLI_EXIT_OK        0
#define CLI_EXIT_FAILURE   1
#define CLI_EXIT_USAGE     2
#define CLI_EXIT_NO_DAEMON 3
#define CLI_EXIT_SESSION   4
#define CLI_EXIT_LOGIN     5
#define CLI_EXIT_SCSI      6
#define CLI_EXIT_TIMEOUT   7
#define CLI_EXIT_TRANSPORT 8
#define CLI_EXIT_RECOVERY  9
#define CLI_EXIT_TMF       10
#define CLI_EXIT_LIMIT     11
#define CLI_EXIT_FILE      12
#define CLI_EXIT_INTERRUPT 130

/* One row of the exit-status table: the status, the error names that lead
   to it (space separated) and what it means. */
typedef struct {
    int status;
    const char *names;
    const char *meaning;
} cli_exit_row_t;

/* The exit-status table, ended by a row with names == NULL. */
extern const cli_exit_row_t cli_exit_table[];

/* The exit status for an error name ("SESSION_NOT_FOUND"): its row of
   cli_exit_table, else CLI_EXIT_FAILURE. */
int cli_exit_for_name (const char *name);

/* An option of a command (or a global one). arg is the value's name in the
   usage ("N"), NULL for a switch. multi: may be repeated. */
typedef struct {
    const char *name; /* long name without "--" */
    char short_name;  /* 0 for none */
    const char *arg;
    const char *help;
    bool multi;
} cli_opt_t;

typedef struct _cli_t cli_t;

/* A subcommand. */
typedef struct {
    const char *name;
    const char *args;    /* positionals in the usage line */
    const char *summary; /* one line */
    const char *details; /* more text for --help, or NULL */
    int min_args;
    int max_args; /* -1: no limit */
    const cli_opt_t *opts;
    int (*run) (cli_t *cli);
} cli_cmd_t;

#define CLI_MAX_VALUES 64

struct _cli_t {
    const cli_cmd_t *cmd;
    /* positionals of the command */
    int argc;
    char **argv;
    /* options given: parallel arrays (name borrowed from the spec) */
    int nvalues;
    const char *value_name[CLI_MAX_VALUES];
    const char *value[CLI_MAX_VALUES];
    /* global options */
    bool json;
    int timeout_ms; /* -1: the API default */
    const char *endpoint;
    const char *events_endpoint;
    /* state */
    uiscsi_t *client;
    uiscsi_error_t err;
};

/* The last value of option name, or NULL when absent. Switches have the
   value "". */
const char *cli_opt (const cli_t *self, const char *name);

/* The number of values of option name, and the k-th (0-based). */
int cli_opt_count (const cli_t *self, const char *name);
const char *cli_opt_nth (const cli_t *self, const char *name, int k);

/* Prints "uiscsictl: <message>" on stderr and returns CLI_EXIT_USAGE. */
int cli_usage_error (const cli_t *self, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

/* Prints "uiscsictl: <message>" on stderr; returns status. */
int cli_fail_with (int status, const char *fmt, ...)
    __attribute__ ((format (printf, 2, 3)));

/* Connects to the daemon when not yet connected. Returns 0, or -1 with
   self->err filled. */
int cli_connect (cli_t *self);

/* Runs method with params (stolen, may be NULL: then {}), adding timeout_ms
   when --timeout-ms was given. *result (may be NULL) is the caller's to
   destroy. Returns 0, or -1 with self->err filled. */
int cli_call (cli_t *self, const char *method, json_t *params,
              const uiscsi_buf_t *attachments, size_t n, uiscsi_result_t **result);

/* Adds timeout_ms to params when --timeout-ms was given (for submits). */
void cli_add_timeout (const cli_t *self, json_t *params);

/* Prints self->err (name, message and the useful details) on stderr, and
   with --json also {"error": {...}} on stdout. Returns the exit status for
   it and clears the error. */
int cli_report_error (cli_t *self);

/* Prints a JSON value on stdout (indented on a terminal, one line
   otherwise). */
void cli_print_json (const json_t *value);

/* Parses an unsigned integer (decimal or 0x hex) in [0, max]. Returns 0 or
   -1. */
int cli_parse_u64 (const char *text, uint64_t max, uint64_t *out);

/* Parses a size with an optional K, M, G suffix (powers of 1024). */
int cli_parse_size (const char *text, uint64_t max, uint64_t *out);

/* Parses the LUN positional k: a flat LUN (0..16383) into the params as an
   integer, or a "0x..." SAM LUN as a string. Returns 0, or prints a usage
   error and returns -1. */
int cli_put_lun (const cli_t *self, json_t *params, const char *text);

/* Writes "12.3 MiB" style text for n bytes into buf. */
void cli_human_bytes (uint64_t n, char *buf, size_t size);

/* Hex dump (offset from base, hex, ASCII) of data on out. */
void cli_hexdump (FILE *out, uint64_t base, const void *data, size_t size);

/* Monotonic time in ms. */
int64_t cli_now_ms (void);

/* Set by the SIGINT / SIGTERM handler installed by cli_catch_signals. */
extern volatile int cli_interrupted;

/* Installs handlers for SIGINT and SIGTERM that set cli_interrupted, and
   ignores SIGPIPE (a closed pipe then shows up as EPIPE). */
void cli_catch_signals (void);

/* Commands in other files. */
int cli_cmd_read (cli_t *cli);
int cli_cmd_write (cli_t *cli);
int cli_cmd_events (cli_t *cli);
int cli_cmd_top (cli_t *cli);

#endif
