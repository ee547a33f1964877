/* config.c: defaults, config file and command line of the daemon. */
#include "actors/config.h"

#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "proto/errors.h"

#define S_FILE_MAX (1u << 20)

typedef enum {
    S_STR = 0, /* char * field */
    S_BOOL,    /* bool field, a switch on the command line */
    S_LEVEL,   /* uis_log_level_t field */
    S_U32,     /* uint32_t field with bounds */
    S_CONFIG,  /* --config: read first */
    S_HELP,
    S_VERSION,
} s_kind_t;

typedef struct {
    const char *flag; /* long flag name; the JSON key is it with '_' for '-' */
    s_kind_t kind;
    size_t offset; /* of the field in uis_config_t */
    uint32_t min, max;
    const char *arg; /* argument name for the usage text */
    const char *help;
} s_option_t;

#define F(field) offsetof (uis_config_t, field)

static const s_option_t s_options[] = {
    {"rpc", S_STR, F (rpc), 0, 0, "ENDPOINT",
     "RPC endpoint (default ipc://DIR/rpc.sock)"},
    {"events", S_STR, F (events), 0, 0, "ENDPOINT",
     "events endpoint (default ipc://DIR/events.sock)"},
    {"runtime-dir", S_STR, F (runtime_dir), 0, 0, "DIR",
     "runtime dir (default $XDG_RUNTIME_DIR/uiscsi, /run/uiscsi for root)"},
    {"group", S_STR, F (group), 0, 0, "GROUP",
     "group allowed to use the sockets (dir 0750)"},
    {"foreground", S_BOOL, F (foreground), 0, 0, NULL, "do not daemonize"},
    {"log-level", S_LEVEL, F (log_level), 0, 0, "LEVEL",
     "error, warn, info (default), debug or trace"},
    {"log-file", S_STR, F (log_file), 0, 0, "FILE", "log to FILE (reopened on SIGHUP)"},
    {"syslog", S_BOOL, F (syslog), 0, 0, NULL, "log to syslog"},
    {"metrics-interval-ms", S_U32, F (metrics_interval_ms), 0, 3600000, "MS",
     "daemon.metrics event period, 0 = off (default 1000)"},
    {"event-ring", S_U32, F (event_ring), 16, 1000000, "N",
     "events kept for events.get (default 10000)"},
    {"shutdown-timeout-ms", S_U32, F (shutdown_timeout_ms), 100, 60000, "MS",
     "bound on a graceful stop (default 5000)"},
    {"io-threads", S_U32, F (io_threads), 1, 1024, "N",
     "I/O threads, each running one io actor (default: one per core)"},
    {"config", S_CONFIG, F (config), 0, 0, "FILE", "read settings from a JSON file"},
    {"version", S_VERSION, 0, 0, 0, NULL, "print the version and exit"},
    {"help", S_HELP, 0, 0, 0, NULL, "print this help and exit"},
};
#define S_NOPTIONS (sizeof s_options / sizeof s_options[0])

typedef struct {
    const char *key;
    size_t offset; /* in uis_limits_t */
    uint32_t min, max;
} s_limit_t;

static const s_limit_t s_limits[] = {
    {"frame0_bytes", offsetof (uis_limits_t, frame0_bytes), 1024, 64u << 20},
    {"data_bytes", offsetof (uis_limits_t, data_bytes), 4096, 1u << 30},
    {"in_flight_per_client", offsetof (uis_limits_t, in_flight_per_client), 1, 65536},
    {"sessions", offsetof (uis_limits_t, sessions), 1, 65536},
};
#define S_NLIMITS (sizeof s_limits / sizeof s_limits[0])

/* Writes a formatted message into err (if any); returns code. */
static int __attribute__ ((format (printf, 4, 5)))
s_fail (int code, char *err, size_t err_size, const char *fmt, ...)
{
    if (err && err_size > 0) {
        va_list args;
        va_start (args, fmt);
        vsnprintf (err, err_size, fmt, args);
        va_end (args);
    }
    return code;
}

/* Sets the default limits. */
void
uis_limits_default (uis_limits_t *self)
{
    self->frame0_bytes = 1u << 20;
    self->data_bytes = 64u << 20;
    self->in_flight_per_client = 256;
    self->sessions = 1024;
}

/* Fills self with defaults. */
void
uis_config_init (uis_config_t *self)
{
    memset (self, 0, sizeof *self);
    self->log_level = UIS_LOG_INFO;
    uis_limits_default (&self->limits);
    self->metrics_interval_ms = 1000;
    self->event_ring = 10000;
    self->shutdown_timeout_ms = 5000;
}

/* Frees the strings and resets to defaults. */
void
uis_config_fini (uis_config_t *self)
{
    for (size_t i = 0; i < S_NOPTIONS; i++)
        if (s_options[i].kind == S_STR || s_options[i].kind == S_CONFIG)
            free (*(char **)((char *)self + s_options[i].offset));
    uis_config_init (self);
}

/* Replaces a string field with a copy of value. */
static int
s_set_str (char **field, const char *value)
{
    char *copy = strdup (value);
    if (!copy)
        return UIS_ERR_NOMEM;
    free (*field);
    *field = copy;
    return 0;
}

/* Parses a decimal u32 within [min, max]. */
static int
s_parse_u32 (const char *text, uint32_t min, uint32_t max, uint32_t *v_p)
{
    if (!text || !*text || *text == '-' || *text == '+')
        return UIS_ERR_INVALID_ARG;
    errno = 0;
    char *end;
    unsigned long long v = strtoull (text, &end, 10);
    if (errno || *end || v < min || v > max)
        return UIS_ERR_INVALID_ARG;
    *v_p = (uint32_t)v;
    return 0;
}

/* Applies option o with a string value (from argv). */
static int
s_apply_text (uis_config_t *self, const s_option_t *o, const char *value, char *err,
              size_t err_size)
{
    void *field = (char *)self + o->offset;
    int rc;
    switch (o->kind) {
    case S_STR:
        if (!*value)
            return s_fail (UIS_ERR_INVALID_ARG, err, err_size, "--%s: empty value",
                           o->flag);
        return s_set_str ((char **)field, value);
    case S_BOOL:
        *(bool *)field = true;
        return 0;
    case S_LEVEL:
        rc = uis_log_level_parse (value, (uis_log_level_t *)field);
        if (rc)
            return s_fail (rc, err, err_size,
                           "--%s: expected error, warn, info, debug or trace", o->flag);
        return 0;
    case S_U32:
        rc = s_parse_u32 (value, o->min, o->max, (uint32_t *)field);
        if (rc)
            return s_fail (rc, err, err_size, "--%s: expected an integer in %u..%u",
                           o->flag, o->min, o->max);
        return 0;
    default:
        return 0;
    }
}

/* The JSON key of a flag: '-' becomes '_'. */
static void
s_key_of (const char *flag, char *key, size_t size)
{
    snprintf (key, size, "%s", flag);
    for (char *p = key; *p; p++)
        if (*p == '-')
            *p = '_';
}

/* Applies the "limits" object. */
static int
s_apply_limits (uis_config_t *self, const json_t *obj, char *err, size_t err_size)
{
    if (!json_is_object (obj))
        return s_fail (UIS_ERR_INVALID_ARG, err, err_size, "limits: expected an object");
    const char *key;
    json_t *value;
    json_object_foreach ((json_t *)obj, key, value)
    {
        const s_limit_t *l = NULL;
        for (size_t i = 0; i < S_NLIMITS; i++)
            if (strcmp (key, s_limits[i].key) == 0)
                l = &s_limits[i];
        if (!l)
            return s_fail (UIS_ERR_INVALID_ARG, err, err_size,
                           "limits: unknown key %.64s", key);
        if (!json_is_integer (value) || json_integer_value (value) < l->min
            || json_integer_value (value) > l->max)
            return s_fail (UIS_ERR_INVALID_ARG, err, err_size,
                           "limits.%s: expected an integer in %u..%u", l->key, l->min,
                           l->max);
        *(uint32_t *)((char *)&self->limits + l->offset) =
            (uint32_t)json_integer_value (value);
    }
    return 0;
}

/* Applies one key of the config file. */
static int
s_apply_json (uis_config_t *self, const char *key, const json_t *value, char *err,
              size_t err_size)
{
    if (strcmp (key, "limits") == 0)
        return s_apply_limits (self, value, err, err_size);
    const s_option_t *o = NULL;
    char name[64];
    for (size_t i = 0; i < S_NOPTIONS; i++) {
        s_key_of (s_options[i].flag, name, sizeof name);
        if (strcmp (key, name) == 0)
            o = &s_options[i];
    }
    if (!o || o->kind == S_CONFIG || o->kind == S_HELP || o->kind == S_VERSION)
        return s_fail (UIS_ERR_INVALID_ARG, err, err_size, "unknown key %.64s", key);
    void *field = (char *)self + o->offset;
    switch (o->kind) {
    case S_STR:
        if (!json_is_string (value) || json_string_length (value) == 0
            || strlen (json_string_value (value)) != json_string_length (value))
            return s_fail (UIS_ERR_INVALID_ARG, err, err_size,
                           "%s: expected a non-empty string", key);
        return s_set_str ((char **)field, json_string_value (value));
    case S_BOOL:
        if (!json_is_boolean (value))
            return s_fail (UIS_ERR_INVALID_ARG, err, err_size,
                           "%s: expected true or false", key);
        *(bool *)field = json_is_true (value);
        return 0;
    case S_LEVEL:
        if (!json_is_string (value)
            || uis_log_level_parse (json_string_value (value), (uis_log_level_t *)field))
            return s_fail (UIS_ERR_INVALID_ARG, err, err_size,
                           "%s: expected error, warn, info, debug or trace", key);
        return 0;
    case S_U32:
        if (!json_is_integer (value) || json_integer_value (value) < o->min
            || json_integer_value (value) > o->max)
            return s_fail (UIS_ERR_INVALID_ARG, err, err_size,
                           "%s: expected an integer in %u..%u", key, o->min, o->max);
        *(uint32_t *)field = (uint32_t)json_integer_value (value);
        return 0;
    default:
        return 0;
    }
}

/* Applies a config file's text. */
int
uis_config_load_json (uis_config_t *self, const char *text, size_t len, char *err,
                      size_t err_size)
{
    json_error_t jerr;
    json_t *root = json_loadb (text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return s_fail (UIS_ERR_MALFORMED, err, err_size,
                       "config: invalid JSON at line %d column %d", jerr.line,
                       jerr.column);
    int rc = 0;
    if (!json_is_object (root))
        rc = s_fail (UIS_ERR_MALFORMED, err, err_size, "config: expected a JSON object");
    const char *key;
    json_t *value;
    if (rc == 0)
        json_object_foreach (root, key, value)
        {
            rc = s_apply_json (self, key, value, err, err_size);
            if (rc)
                break;
        }
    json_decref (root);
    return rc;
}

/* Reads and applies a config file. */
int
uis_config_load_file (uis_config_t *self, const char *path, char *err, size_t err_size)
{
    FILE *f = fopen (path, "re");
    if (!f)
        return s_fail (UIS_ERR_INVALID_ARG, err, err_size,
                       "config: cannot open %.200s: %s", path, strerror (errno));
    char *buf = malloc (S_FILE_MAX + 1);
    if (!buf) {
        fclose (f);
        return UIS_ERR_NOMEM;
    }
    size_t n = fread (buf, 1, S_FILE_MAX + 1, f);
    bool bad = ferror (f) != 0;
    fclose (f);
    int rc;
    if (bad)
        rc = s_fail (UIS_ERR_INVALID_ARG, err, err_size, "config: cannot read %.200s",
                     path);
    else if (n > S_FILE_MAX)
        rc = s_fail (UIS_ERR_TOO_LONG, err, err_size, "config: file larger than 1 MiB");
    else
        rc = uis_config_load_json (self, buf, n, err, err_size);
    free (buf);
    if (rc == 0)
        rc = s_set_str (&self->config, path);
    return rc;
}

/* Builds the getopt_long table from s_options. */
static void
s_long_options (struct option *out)
{
    for (size_t i = 0; i < S_NOPTIONS; i++) {
        const s_option_t *o = &s_options[i];
        bool has_arg = o->kind == S_STR || o->kind == S_LEVEL || o->kind == S_U32
                       || o->kind == S_CONFIG;
        out[i] = (struct option){o->flag, has_arg ? required_argument : no_argument, NULL,
                                 (int)(0x100 + i)};
    }
    out[S_NOPTIONS] = (struct option){NULL, 0, NULL, 0};
}

/* One getopt pass; pass 0 handles --config, --help, --version and faults,
 * pass 1 the other flags. */
static int
s_args_pass (uis_config_t *self, int pass, int argc, char *const argv[],
             uis_config_action_t *action_p, char *err, size_t err_size)
{
    struct option longopts[S_NOPTIONS + 1];
    s_long_options (longopts);
    optind = 0; /* GNU: full reinitialisation */
    opterr = 0;
    int c;
    while ((c = getopt_long (argc, argv, ":", longopts, NULL)) != -1) {
        if (c == '?' || c == ':') {
            const char *what = c == ':' ? "missing value for" : "unknown option";
            const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
            return s_fail (UIS_ERR_INVALID_ARG, err, err_size, "%s %.100s", what, arg);
        }
        if (c < 0x100 || c >= 0x100 + (int)S_NOPTIONS)
            return s_fail (UIS_ERR_INVALID_ARG, err, err_size, "bad option");
        const s_option_t *o = &s_options[c - 0x100];
        if (pass == 0) {
            if (o->kind == S_HELP && *action_p == UIS_CONFIG_RUN)
                *action_p = UIS_CONFIG_HELP;
            else if (o->kind == S_VERSION && *action_p == UIS_CONFIG_RUN)
                *action_p = UIS_CONFIG_VERSION;
            else if (o->kind == S_CONFIG) {
                int rc = uis_config_load_file (self, optarg, err, err_size);
                if (rc)
                    return rc;
            }
        }
        else if (o->kind != S_CONFIG && o->kind != S_HELP && o->kind != S_VERSION) {
            int rc = s_apply_text (self, o, optarg ? optarg : "", err, err_size);
            if (rc)
                return rc == UIS_ERR_NOMEM ? s_fail (rc, err, err_size, "out of memory")
                                           : rc;
        }
    }
    if (optind < argc)
        return s_fail (UIS_ERR_INVALID_ARG, err, err_size, "unexpected argument %.100s",
                       argv[optind]);
    return 0;
}

/* Parses the command line: config file first, then flags. */
int
uis_config_from_args (uis_config_t *self, int argc, char *const argv[],
                      uis_config_action_t *action_p, char *err, size_t err_size)
{
    *action_p = UIS_CONFIG_RUN;
    int rc = s_args_pass (self, 0, argc, argv, action_p, err, err_size);
    if (rc == 0 && *action_p == UIS_CONFIG_RUN)
        rc = s_args_pass (self, 1, argc, argv, action_p, err, err_size);
    optind = 0;
    return rc;
}

/* Checks one endpoint's transport. */
static int
s_check_endpoint (const char *name, const char *endpoint, char *err, size_t err_size)
{
    if (strncmp (endpoint, "ipc://", 6) == 0 && endpoint[6])
        return strlen (endpoint + 6) < 100
                   ? 0
                   : s_fail (UIS_ERR_TOO_LONG, err, err_size,
                             "%s: ipc path longer than 99 bytes", name);
    if (strncmp (endpoint, "inproc://", 9) == 0 && endpoint[9])
        return 0;
    if (strncmp (endpoint, "tcp://", 6) == 0)
        return s_fail (UIS_ERR_UNSUPPORTED, err, err_size,
                       "%s: tcp:// needs CURVE, which is not supported yet", name);
    return s_fail (UIS_ERR_INVALID_ARG, err, err_size, "%s: expected ipc://PATH", name);
}

/* Fills environment-dependent defaults and checks the endpoints. */
int
uis_config_resolve (uis_config_t *self, uid_t euid, const char *xdg_runtime_dir,
                    char *err, size_t err_size)
{
    char buf[PATH_MAX + 32];
    if (!self->runtime_dir) {
        if (euid == 0)
            snprintf (buf, sizeof buf, "/run/uiscsi");
        else if (xdg_runtime_dir && xdg_runtime_dir[0] == '/'
                 && strlen (xdg_runtime_dir) < PATH_MAX)
            snprintf (buf, sizeof buf, "%s/uiscsi", xdg_runtime_dir);
        else
            return s_fail (UIS_ERR_INVALID_ARG, err, err_size,
                           "runtime_dir: XDG_RUNTIME_DIR is not set; use --runtime-dir");
        if (s_set_str (&self->runtime_dir, buf))
            return UIS_ERR_NOMEM;
    }
    if (self->runtime_dir[0] != '/')
        return s_fail (UIS_ERR_INVALID_ARG, err, err_size,
                       "runtime_dir: expected an absolute path");
    if (strlen (self->runtime_dir) > 90)
        return s_fail (UIS_ERR_TOO_LONG, err, err_size,
                       "runtime_dir: longer than 90 bytes (ipc paths are short)");
    if (!self->rpc) {
        snprintf (buf, sizeof buf, "ipc://%s/rpc.sock", self->runtime_dir);
        if (s_set_str (&self->rpc, buf))
            return UIS_ERR_NOMEM;
    }
    if (!self->events) {
        snprintf (buf, sizeof buf, "ipc://%s/events.sock", self->runtime_dir);
        if (s_set_str (&self->events, buf))
            return UIS_ERR_NOMEM;
    }
    int rc = s_check_endpoint ("rpc", self->rpc, err, err_size);
    if (rc == 0)
        rc = s_check_endpoint ("events", self->events, err, err_size);
    if (rc == 0 && strcmp (self->rpc, self->events) == 0)
        rc = s_fail (UIS_ERR_INVALID_ARG, err, err_size,
                     "events: must differ from the rpc endpoint");
    return rc;
}

/* Writes the usage text. */
void
uis_config_usage (FILE *out, const char *prog)
{
    fprintf (out,
             "usage: %s [OPTION]...\n\nuiscsid %s: userspace iSCSI initiator daemon "
             "(JSON-RPC over ZeroMQ).\n\n",
             prog, UIS_VERSION);
    for (size_t i = 0; i < S_NOPTIONS; i++) {
        const s_option_t *o = &s_options[i];
        char left[64];
        snprintf (left, sizeof left, "--%s%s%s", o->flag, o->arg ? " " : "",
                  o->arg ? o->arg : "");
        fprintf (out, "  %-28s %s\n", left, o->help);
    }
    fprintf (out,
             "\nConfig file: a JSON object with the flag names ('-' as '_') and\n"
             "\"limits\": {\"frame0_bytes\", \"data_bytes\", \"in_flight_per_client\", "
             "\"sessions\"}.\nFlags override the file. See docs/operations.md.\n");
}
