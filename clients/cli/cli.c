/*  cli.c - shared helpers of uiscsictl: the exit-status table, option
    access, the daemon connection, error reports, parsing and formatting.
*/

#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The exit statuses, one row each; docs/uiscsictl.1 lists the same (a test
   checks it). Error names are the API's (data.name) or libuiscsi's
   CLIENT_*; USAGE and FILE_ERROR are uiscsictl's own. */
const cli_exit_row_t cli_exit_table[] = {
    {CLI_EXIT_OK, "OK", "success"},
    {CLI_EXIT_FAILURE,
     "INTERNAL_ERROR PARSE_ERROR INVALID_REQUEST CLIENT_BAD_REPLY CLIENT_IO "
     "CLIENT_NOMEM CLIENT_BUFFER CLIENT_INVALID",
     "any other failure"},
    {CLI_EXIT_USAGE, "USAGE INVALID_PARAMS METHOD_NOT_FOUND",
     "bad command line, or params the daemon rejected"},
    {CLI_EXIT_NO_DAEMON, "CLIENT_NO_DAEMON", "no daemon answers at the endpoint"},
    {CLI_EXIT_SESSION, "SESSION_NOT_FOUND", "no such session"},
    {CLI_EXIT_LOGIN, "LOGIN_FAILED AUTH_FAILED", "the target refused the login"},
    {CLI_EXIT_SCSI, "SCSI_CHECK_CONDITION SCSI_STATUS",
     "the SCSI command failed (raw: a status other than GOOD)"},
    {CLI_EXIT_TIMEOUT, "TIMEOUT CLIENT_TIMEOUT", "no answer in time"},
    {CLI_EXIT_TRANSPORT, "TRANSPORT_ERROR PROTOCOL_ERROR",
     "the connection to the target failed"},
    {CLI_EXIT_RECOVERY, "SESSION_RECOVERING SESSION_FAILED NOT_RETRIABLE CANCELLED",
     "the session is recovering or failed, or the command was cancelled"},
    {CLI_EXIT_TMF, "TMF_FAILED", "the task management function failed"},
    {CLI_EXIT_LIMIT, "LIMIT_EXCEEDED CLIENT_FULL", "a limit of the daemon or client"},
    {CLI_EXIT_FILE, "FILE_ERROR", "a local file could not be read or written"},
    {CLI_EXIT_INTERRUPT, "INTERRUPTED", "interrupted (SIGINT) during a transfer"},
    {0, NULL, NULL}};

volatile int cli_interrupted = 0;

/* Whether the space-separated list holds word. */
static bool
s_has_word (const char *list, const char *word)
{
    size_t n = strlen (word);
    const char *p = list;
    while (n && (p = strstr (p, word)) != NULL) {
        bool start = p == list || p[-1] == ' ';
        bool end = p[n] == '\0' || p[n] == ' ';
        if (start && end)
            return true;
        p += n;
    }
    return false;
}

/* The exit status for an error name. */
int
cli_exit_for_name (const char *name)
{
    if (!name || !*name)
        return CLI_EXIT_FAILURE;
    for (const cli_exit_row_t *r = cli_exit_table; r->names; r++)
        if (s_has_word (r->names, name))
            return r->status;
    return CLI_EXIT_FAILURE;
}

/* The last value of an option, or NULL. */
const char *
cli_opt (const cli_t *self, const char *name)
{
    for (int i = self->nvalues - 1; i >= 0; i--)
        if (strcmp (self->value_name[i], name) == 0)
            return self->value[i];
    return NULL;
}

/* How many values an option has. */
int
cli_opt_count (const cli_t *self, const char *name)
{
    int n = 0;
    for (int i = 0; i < self->nvalues; i++)
        if (strcmp (self->value_name[i], name) == 0)
            n++;
    return n;
}

/* The k-th value of an option, or NULL. */
const char *
cli_opt_nth (const cli_t *self, const char *name, int k)
{
    for (int i = 0; i < self->nvalues; i++)
        if (strcmp (self->value_name[i], name) == 0 && k-- == 0)
            return self->value[i];
    return NULL;
}

/* Usage error on stderr, with a hint to --help. */
int
cli_usage_error (const cli_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    fputs ("uiscsictl: ", stderr);
    vfprintf (stderr, fmt, ap);
    va_end (ap);
    if (self && self->cmd)
        fprintf (stderr, "\nTry 'uiscsictl %s --help'.\n", self->cmd->name);
    else
        fputs ("\nTry 'uiscsictl --help'.\n", stderr);
    return CLI_EXIT_USAGE;
}

/* A message on stderr; returns status. */
int
cli_fail_with (int status, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    fputs ("uiscsictl: ", stderr);
    vfprintf (stderr, fmt, ap);
    fputc ('\n', stderr);
    va_end (ap);
    return status;
}

/* Connects on first use. */
int
cli_connect (cli_t *self)
{
    if (self->client)
        return 0;
    uiscsi_options_t o = {0};
    if (self->timeout_ms >= 0 && self->timeout_ms < 5000)
        o.connect_timeout_ms = self->timeout_ms > 0 ? self->timeout_ms : 1;
    self->client = uiscsi_connect_opts (self->endpoint, &o, &self->err);
    return self->client ? 0 : -1;
}

/* Adds timeout_ms when asked for. */
void
cli_add_timeout (const cli_t *self, json_t *params)
{
    if (params && self->timeout_ms >= 0)
        json_object_set_new (params, "timeout_ms", json_integer (self->timeout_ms));
}

/* One call through libuiscsi. */
int
cli_call (cli_t *self, const char *method, json_t *params,
          const uiscsi_buf_t *attachments, size_t n, uiscsi_result_t **result)
{
    if (result)
        *result = NULL;
    if (cli_connect (self)) {
        json_decref (params);
        return -1;
    }
    if (!params)
        params = json_object ();
    cli_add_timeout (self, params);
    return uiscsi_call (self->client, method, params, attachments, n, result, &self->err);
}

/* Appends the useful details of an error (by name) to buf. */
static void
s_error_details (const cli_t *self, const uiscsi_error_t *e, char *buf, size_t size)
{
    const char *n = e->name;
    buf[0] = '\0';
    if (strcmp (n, "SESSION_NOT_FOUND") == 0)
        snprintf (buf, size, "session '%s'", e->session ? e->session : "?");
    else if (strcmp (n, "LOGIN_FAILED") == 0)
        snprintf (buf, size, "login status 0x%02x%02x %s", e->status_class & 0xff,
                  e->status_detail & 0xff, e->status_name ? e->status_name : "");
    else if (strcmp (n, "AUTH_FAILED") == 0)
        snprintf (buf, size, "login status 0x%02x%02x, %s", e->status_class & 0xff,
                  e->status_detail & 0xff,
                  e->side && strcmp (e->side, "initiator") == 0
                      ? "the target did not prove its identity (mutual CHAP)"
                      : "the target rejected our credentials (check user and secret)");
    else if (strcmp (n, "SCSI_CHECK_CONDITION") == 0) {
        int64_t info = uiscsi_error_get_int (e, "information", -1);
        int k = snprintf (buf, size, "sense key 0x%x %s, ASC/ASCQ 0x%02x/0x%02x: %s",
                          e->sense_key & 0xf, e->sense_key_name ? e->sense_key_name : "",
                          e->asc & 0xff, e->ascq & 0xff,
                          e->description ? e->description : "(no description)");
        if (info >= 0 && k > 0 && (size_t)k < size)
            snprintf (buf + k, size - (size_t)k, ", information %lld", (long long)info);
    }
    else if (strcmp (n, "SCSI_STATUS") == 0)
        snprintf (buf, size, "status 0x%02x %s", e->status & 0xff,
                  e->status_name ? e->status_name : "");
    else if (strcmp (n, "TRANSPORT_ERROR") == 0) {
        const char *op = uiscsi_error_get_str (e, "op");
        const char *m = uiscsi_error_get_str (e, "message");
        int64_t en = uiscsi_error_get_int (e, "errno", 0);
        if (m && en > 0 && strcmp (m, strerror ((int)en)) == 0)
            m = NULL;
        snprintf (buf, size, "%s%s%s%s%s", op ? "op " : "", op ? op : "",
                  en > 0 ? ": " : "", en > 0 ? strerror ((int)en) : "",
                  m ? (op || en > 0 ? " - " : "") : "");
        if (m) {
            size_t l = strlen (buf);
            snprintf (buf + l, size - l, "%s", m);
        }
    }
    else if (strcmp (n, "TIMEOUT") == 0)
        snprintf (buf, size, "after %lld ms%s",
                  (long long)uiscsi_error_get_int (e, "timeout_ms", 0),
                  json_is_true (json_object_get (e->data, "aborted"))
                      ? ", command aborted"
                      : "");
    else if (strcmp (n, "TMF_FAILED") == 0)
        snprintf (buf, size, "response %lld %s",
                  (long long)uiscsi_error_get_int (e, "response", -1),
                  uiscsi_error_get_str (e, "response_name")
                      ? uiscsi_error_get_str (e, "response_name")
                      : "");
    else if (strcmp (n, "LIMIT_EXCEEDED") == 0)
        snprintf (buf, size, "limit %s, value %lld", e->limit ? e->limit : "?",
                  (long long)uiscsi_error_get_int (e, "value", -1));
    else if (strcmp (n, "INVALID_PARAMS") == 0)
        snprintf (buf, size, "%s%s%s", e->param ? e->param : "", e->param ? ": " : "",
                  e->reason ? e->reason : "");
    else if (strcmp (n, "SESSION_RECOVERING") == 0)
        snprintf (buf, size, "state %s, retry after %lld ms",
                  uiscsi_error_get_str (e, "state") ? uiscsi_error_get_str (e, "state")
                                                    : "?",
                  (long long)uiscsi_error_get_int (e, "retry_after_ms", 0));
    else if (strcmp (n, "CLIENT_NO_DAEMON") == 0)
        snprintf (buf, size,
                  "nothing answers at %s (is uiscsid running? see --endpoint, "
                  "$UISCSI_RPC)",
                  self->endpoint ? self->endpoint : "the default endpoint");
    else {
        const char *r = uiscsi_error_get_str (e, "reason");
        if (!r)
            r = uiscsi_error_get_str (e, "detail");
        if (r)
            snprintf (buf, size, "%s", r);
    }
}

/* Prints the error; returns its exit status. */
int
cli_report_error (cli_t *self)
{
    uiscsi_error_t *e = &self->err;
    const char *name = e->name[0] ? e->name : uiscsi_error_name (e->code);
    char details[600];
    s_error_details (self, e, details, sizeof details);
    fprintf (stderr, "uiscsictl: %s: %s%s%s\n", name,
             e->message[0] ? e->message : "error", details[0] ? ": " : "", details);
    if (self->json) {
        json_t *j = json_pack ("{s:{s:i, s:s, s:s, s:O?}}", "error", "code", e->code,
                               "name", name, "message", e->message, "data", e->data);
        if (j)
            cli_print_json (j);
        json_decref (j);
    }
    int status = cli_exit_for_name (name);
    uiscsi_error_clear (e);
    return status;
}

/* JSON on stdout. */
void
cli_print_json (const json_t *value)
{
    size_t flags = JSON_PRESERVE_ORDER | JSON_ENCODE_ANY;
    if (isatty (STDOUT_FILENO))
        flags |= JSON_INDENT (2);
    else
        flags |= JSON_COMPACT;
    json_dumpf (value, stdout, flags);
    fputc ('\n', stdout);
    fflush (stdout);
}

/* Decimal or 0x hex, bounded. */
int
cli_parse_u64 (const char *text, uint64_t max, uint64_t *out)
{
    if (!text || !*text || *text == '-' || *text == '+' || *text == ' ')
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull (text, &end, 0);
    if (errno || !end || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

/* A size with K/M/G (KiB/MiB/GiB) suffix. */
int
cli_parse_size (const char *text, uint64_t max, uint64_t *out)
{
    if (!text || !*text || *text == '-' || *text == '+')
        return -1;
    errno = 0;
    char *end = NULL;
    unsigned long long v = strtoull (text, &end, 10);
    if (errno || end == text)
        return -1;
    uint64_t mult = 1;
    if (*end) {
        switch (*end) {
        case 'k':
        case 'K':
            mult = 1024;
            break;
        case 'm':
        case 'M':
            mult = 1024 * 1024;
            break;
        case 'g':
        case 'G':
            mult = 1024ull * 1024 * 1024;
            break;
        default:
            return -1;
        }
        end++;
        if (strcmp (end, "") != 0 && strcmp (end, "iB") != 0 && strcmp (end, "B") != 0)
            return -1;
    }
    if (v > max / mult)
        return -1;
    *out = v * mult;
    return 0;
}

/* Puts "lun" into params. */
int
cli_put_lun (const cli_t *self, json_t *params, const char *text)
{
    uint64_t v;
    if (text && (strncmp (text, "0x", 2) == 0 || strncmp (text, "0X", 2) == 0)
        && strlen (text) > 2 && strlen (text) <= 18
        && strspn (text + 2, "0123456789abcdefABCDEF") == strlen (text + 2)) {
        json_object_set_new (params, "lun", json_string (text));
        return 0;
    }
    if (cli_parse_u64 (text, 16383, &v)) {
        cli_usage_error (self, "bad LUN '%s' (0..16383, or a 64-bit SAM LUN as 0x...)",
                         text ? text : "");
        return -1;
    }
    json_object_set_new (params, "lun", json_integer ((json_int_t)v));
    return 0;
}

/* "12.3 MiB". */
void
cli_human_bytes (uint64_t n, char *buf, size_t size)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)n;
    int u = 0;
    while (v >= 1024.0 && u < 5) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf (buf, size, "%llu B", (unsigned long long)n);
    else
        snprintf (buf, size, "%.1f %s", v, units[u]);
}

/* Hex dump, 16 bytes a line. */
void
cli_hexdump (FILE *out, uint64_t base, const void *data, size_t size)
{
    const uint8_t *p = data;
    for (size_t off = 0; off < size; off += 16) {
        fprintf (out, "%08llx ", (unsigned long long)(base + off));
        for (size_t i = 0; i < 16; i++) {
            if (i == 8)
                fputc (' ', out);
            if (off + i < size)
                fprintf (out, " %02x", p[off + i]);
            else
                fputs ("   ", out);
        }
        fputs ("  |", out);
        for (size_t i = 0; i < 16 && off + i < size; i++) {
            uint8_t c = p[off + i];
            fputc (c >= 0x20 && c < 0x7f ? c : '.', out);
        }
        fputs ("|\n", out);
    }
}

/* CLOCK_MONOTONIC in ms. */
int64_t
cli_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sets the flag; nothing else runs in the handler. */
static void
s_on_signal (int sig)
{
    (void)sig;
    cli_interrupted = 1;
}

/* SIGINT/SIGTERM set cli_interrupted (no SA_RESTART, so blocking calls
   return EINTR); SIGPIPE is ignored. */
void
cli_catch_signals (void)
{
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigemptyset (&sa.sa_mask);
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);
    signal (SIGPIPE, SIG_IGN);
}
