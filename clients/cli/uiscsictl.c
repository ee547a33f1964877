/*  uiscsictl.c - the command-line client of uiscsid: main, the command
    table, the command-line parser, help texts, and the simple commands (one
    RPC each, or a few). Transfers (read, write) are in cli_xfer.c, the event
    stream (events, top) in cli_watch.c, shared helpers in cli.c.

    Usage: uiscsictl [GLOBAL OPTIONS] COMMAND [ARGS] [OPTIONS]
    (see docs/uiscsictl.1 and `uiscsictl --help`).
*/

#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ options */

static const cli_opt_t s_global_opts[] = {
    {"endpoint", 'e', "ENDPOINT",
     "RPC endpoint of the daemon (default: $UISCSI_RPC, else the "
     "user's or the system socket)",
     false},
    {"events-endpoint", 0, "ENDPOINT", "event endpoint (default: from daemon.info)",
     false},
    {"json", 'j', NULL, "machine-readable output: the API result as JSON", false},
    {"timeout-ms", 't', "MS", "timeout_ms of each call (default: the API's, 30000)",
     false},
    {"help", 'h', NULL, "show help (of the command, after one)", false},
    {"version", 'V', NULL, "print the version and exit", false},
    {NULL, 0, NULL, NULL, false}};

/* Options that must never be accepted, and why. */
static const char *s_rejected[] = {"chap-secret", "target-secret", "secret", "password",
                                   NULL};

static const cli_opt_t s_auth_opts[] = {
    {"chap-user", 0, "USER", "CHAP name we send (CHAP_N)", false},
    {"chap-secret-file", 0, "FILE",
     "file holding our CHAP secret (else $UISCSI_CHAP_SECRET); never on the command line",
     false},
    {"target-user", 0, "USER", "name the target must send (mutual CHAP)", false},
    {"target-secret-file", 0, "FILE",
     "file holding the secret the target must prove (else $UISCSI_TARGET_SECRET)", false},
    {"initiator-name", 0, "IQN", "InitiatorName (default: the daemon's)", false},
    {NULL, 0, NULL, NULL, false}};

static const cli_opt_t s_login_opts[] = {
    {"chap-user", 0, "USER", "CHAP name we send (CHAP_N)", false},
    {"chap-secret-file", 0, "FILE",
     "file holding our CHAP secret (else $UISCSI_CHAP_SECRET); never on the command line",
     false},
    {"target-user", 0, "USER", "name the target must send (mutual CHAP)", false},
    {"target-secret-file", 0, "FILE",
     "file holding the secret the target must prove (else $UISCSI_TARGET_SECRET)", false},
    {"initiator-name", 0, "IQN", "InitiatorName (default: the daemon's)", false},
    {"set", 0, "KEY=VALUE",
     "propose an RFC 7143 key (e.g. MaxRecvDataSegmentLength=262144); repeatable", true},
    {"no-share", 0, NULL, "open a new session even if one to this target exists", false},
    {NULL, 0, NULL, NULL, false}};

static const cli_opt_t s_logout_opts[] = {
    {"force", 'f', NULL, "log out now, whatever the handle count", false},
    {NULL, 0, NULL, NULL, false}};

static const cli_opt_t s_inquiry_opts[] = {
    {"page", 'p', "PAGE",
     "VPD page (0x00, 0x80, 0x83, 0xb0, ...) instead of standard data", false},
    {NULL, 0, NULL, NULL, false}};

static const cli_opt_t s_read_opts[] = {
    {"output", 'o', "FILE", "write the data to FILE ('-': stdout, the default)", false},
    {"chunk", 0, "SIZE", "bytes per command (K, M suffixes; default 1M)", false},
    {"depth", 'd', "N", "commands in flight (default 8)", false},
    {"progress", 0, NULL, "show the progress bar even when stderr is not a terminal",
     false},
    {"no-progress", 0, NULL, "never show the progress bar", false},
    {"fua", 0, NULL, "force unit access", false},
    {NULL, 0, NULL, NULL, false}};

static const cli_opt_t s_write_opts[] = {
    {"input", 'i', "FILE", "read the data from FILE ('-': stdin, the default)", false},
    {"blocks", 'n', "N", "write at most N blocks", false},
    {"chunk", 0, "SIZE", "bytes per command (K, M suffixes; default 1M)", false},
    {"depth", 'd', "N", "commands in flight (default 8)", false},
    {"progress", 0, NULL, "show the progress bar even when stderr is not a terminal",
     false},
    {"no-progress", 0, NULL, "never show the progress bar", false},
    {"fua", 0, NULL, "force unit access", false},
    {NULL, 0, NULL, NULL, false}};

static const cli_opt_t s_raw_opts[] = {
    {"in", 0, "N", "bytes of Data-In to accept (default 0)", false},
    {"out", 'o', "FILE", "write the Data-In to FILE ('-': stdout) instead of a hex dump",
     false},
    {"data-file", 0, "FILE", "send FILE as Data-Out", false},
    {NULL, 0, NULL, NULL, false}};

static const cli_opt_t s_ping_opts[] = {
    {"count", 'c', "N", "pings to send (default 3)", false},
    {"interval-ms", 0, "MS", "time between pings (default 1000)", false},
    {NULL, 0, NULL, NULL, false}};

static const cli_opt_t s_events_opts[] = {
    {"all", 'a', NULL, "every topic, including pdu and command.complete", false},
    {"count", 'n', "N", "exit after N events", false},
    {"seconds", 's', "S", "exit after S seconds", false},
    {NULL, 0, NULL, NULL, false}};

static const cli_opt_t s_top_opts[] = {
    {"count", 'n', "N", "exit after N refreshes", false},
    {"interval-ms", 0, "MS", "refresh period (default 1000)", false},
    {NULL, 0, NULL, NULL, false}};

static const cli_opt_t s_no_opts[] = {{NULL, 0, NULL, NULL, false}};

/* ------------------------------------------------------------------ helpers */

/* Prints scalars of an object as "key: value" lines (nested objects and
   arrays indented), skipping "data" unless keep_data. */
static void
s_print_kv (const json_t *obj, int indent, bool keep_data)
{
    const char *key;
    json_t *v;
    json_object_foreach ((json_t *)obj, key, v)
    {
        if (!keep_data && strcmp (key, "data") == 0)
            continue;
        if (json_is_object (v)) {
            printf ("%*s%s:\n", indent, "", key);
            s_print_kv (v, indent + 2, keep_data);
        }
        else if (json_is_array (v)) {
            size_t i;
            json_t *item;
            bool scalars = true;
            json_array_foreach (v, i, item)
            {
                if (json_is_object (item) || json_is_array (item))
                    scalars = false;
            }
            if (scalars) {
                char *s = json_dumps (v, JSON_COMPACT | JSON_ENCODE_ANY);
                printf ("%*s%s: %s\n", indent, "", key, s ? s : "?");
                free (s);
                continue;
            }
            printf ("%*s%s:\n", indent, "", key);
            json_array_foreach (v, i, item)
            {
                printf ("%*s- [%zu]\n", indent + 2, "", i);
                if (json_is_object (item))
                    s_print_kv (item, indent + 4, keep_data);
            }
        }
        else if (json_is_string (v))
            printf ("%*s%s: %s\n", indent, "", key, json_string_value (v));
        else {
            char *s = json_dumps (v, JSON_ENCODE_ANY);
            printf ("%*s%s: %s\n", indent, "", key, s ? s : "?");
            free (s);
        }
    }
}

/* Prints a result: JSON with --json, else "key: value" lines. */
static void
s_print_result (const cli_t *cli, const json_t *r)
{
    if (cli->json)
        cli_print_json (r);
    else
        s_print_kv (r, 0, false);
}

/* Params {"session": argv[0]} (new). */
static json_t *
s_session_params (const cli_t *cli)
{
    return json_pack ("{s:s}", "session", cli->argv[0]);
}

/* Params {"session": argv[0], "lun": argv[1]} (new), or NULL after a usage
   error. */
static json_t *
s_session_lun_params (const cli_t *cli)
{
    json_t *p = s_session_params (cli);
    if (cli_put_lun (cli, p, cli->argv[1])) {
        json_decref (p);
        return NULL;
    }
    return p;
}

/* Reads a secret (1..255 bytes, trailing newline stripped) from path, or
   from the environment variable env when path is NULL, into buf (256
   bytes). Returns 0, 1 when neither is given, or an exit status > 1 after
   a message. */
static int
s_read_secret (const char *path, const char *env, const char *what, char *buf)
{
    memset (buf, 0, 256);
    if (!path) {
        const char *v = getenv (env);
        if (!v)
            return 1;
        size_t n = strlen (v);
        if (n == 0 || n > 255)
            return cli_fail_with (CLI_EXIT_USAGE, "$%s: a secret is 1 to 255 bytes", env);
        memcpy (buf, v, n);
        return 0;
    }
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cli_fail_with (CLI_EXIT_FILE, "FILE_ERROR: %s file %s: %s", what, path,
                              strerror (errno));
    struct stat st;
    if (fstat (fd, &st) == 0 && (st.st_mode & 0077))
        fprintf (stderr,
                 "uiscsictl: warning: %s file %s is readable by others (chmod 600 it)\n",
                 what, path);
    char tmp[260];
    ssize_t n = read (fd, tmp, sizeof tmp);
    close (fd);
    if (n < 0)
        return cli_fail_with (CLI_EXIT_FILE, "FILE_ERROR: %s file %s: %s", what, path,
                              strerror (errno));
    while (n > 0 && (tmp[n - 1] == '\n' || tmp[n - 1] == '\r'))
        n--;
    if (n == 0 || n > 255 || memchr (tmp, '\0', (size_t)n)) {
        memset (tmp, 0, sizeof tmp);
        return cli_fail_with (CLI_EXIT_USAGE,
                              "%s file %s: a secret is 1 to 255 bytes, one line, no NUL",
                              what, path);
    }
    memcpy (buf, tmp, (size_t)n);
    memset (tmp, 0, sizeof tmp);
    return 0;
}

/* Wipes the secret strings of an auth object before it is released. */
static void
s_wipe_auth (json_t *params)
{
    json_t *auth = json_object_get (params, "auth");
    const char *keys[] = {"secret", "target_secret"};
    for (int i = 0; i < 2; i++) {
        json_t *s = json_object_get (auth, keys[i]);
        if (json_is_string (s))
            memset ((char *)json_string_value (s), 0, json_string_length (s));
    }
}

/* Adds "auth" (and initiator_name) to params from the CHAP options.
   Returns 0 or an exit status. */
static int
s_put_auth (const cli_t *cli, json_t *params)
{
    const char *iname = cli_opt (cli, "initiator-name");
    if (iname)
        json_object_set_new (params, "initiator_name", json_string (iname));
    const char *user = cli_opt (cli, "chap-user");
    const char *tuser = cli_opt (cli, "target-user");
    const char *sfile = cli_opt (cli, "chap-secret-file");
    const char *tfile = cli_opt (cli, "target-secret-file");
    if (!user && (sfile || tuser || tfile))
        return cli_usage_error (cli, "--chap-secret-file, --target-user and "
                                     "--target-secret-file need --chap-user");
    if (!tuser && tfile)
        return cli_usage_error (cli, "--target-secret-file needs --target-user");
    if (!user)
        return 0;
    char secret[256], tsecret[256];
    int rc = s_read_secret (sfile, "UISCSI_CHAP_SECRET", "CHAP secret", secret);
    if (rc == 1)
        return cli_usage_error (cli, "--chap-user needs --chap-secret-file FILE or "
                                     "$UISCSI_CHAP_SECRET");
    if (rc)
        return rc;
    json_t *auth =
        json_pack ("{s:s, s:s, s:s}", "method", "chap", "user", user, "secret", secret);
    memset (secret, 0, sizeof secret);
    if (tuser) {
        rc = s_read_secret (tfile, "UISCSI_TARGET_SECRET", "target secret", tsecret);
        if (rc == 1)
            rc = cli_usage_error (cli, "--target-user needs --target-secret-file FILE or "
                                       "$UISCSI_TARGET_SECRET");
        if (rc) {
            json_object_set_new (params, "auth", auth);
            s_wipe_auth (params);
            return rc;
        }
        json_object_set_new (auth, "target_user", json_string (tuser));
        json_object_set_new (auth, "target_secret", json_string (tsecret));
        memset (tsecret, 0, sizeof tsecret);
    }
    json_object_set_new (params, "auth", auth);
    return 0;
}

/* Runs a call with params carrying secrets, wiping them afterwards. */
static int
s_call_auth (cli_t *cli, const char *method, json_t *params, uiscsi_result_t **result)
{
    json_incref (params);
    int rc = cli_call (cli, method, params, NULL, 0, result);
    s_wipe_auth (params);
    json_decref (params);
    return rc;
}

/* ------------------------------------------------------------------ commands */

/* discover PORTAL: SendTargets. */
static int
s_cmd_discover (cli_t *cli)
{
    json_t *p = json_pack ("{s:s}", "portal", cli->argv[0]);
    int rc = s_put_auth (cli, p);
    if (rc) {
        s_wipe_auth (p);
        json_decref (p);
        return rc;
    }
    uiscsi_result_t *r;
    if (s_call_auth (cli, "discovery.send_targets", p, &r))
        return cli_report_error (cli);
    json_t *j = uiscsi_result_json (r);
    if (cli->json)
        cli_print_json (j);
    else {
        size_t i, k;
        json_t *t, *pt;
        json_array_foreach (json_object_get (j, "targets"), i, t)
        {
            json_t *portals = json_object_get (t, "portals");
            if (json_array_size (portals) == 0)
                printf ("%s\n", json_string_value (json_object_get (t, "name")));
            json_array_foreach (portals, k, pt)
            {
                const char *a = json_string_value (json_object_get (pt, "address"));
                bool v6 = a && strchr (a, ':');
                printf ("%s%s%s:%lld,%lld %s\n", v6 ? "[" : "", a ? a : "?",
                        v6 ? "]" : "",
                        (long long)json_integer_value (json_object_get (pt, "port")),
                        (long long)json_integer_value (json_object_get (pt, "tpgt")),
                        json_string_value (json_object_get (t, "name")));
            }
        }
    }
    uiscsi_result_destroy (&r);
    return 0;
}

/* login PORTAL TARGET: session.open; prints the session id. */
static int
s_cmd_login (cli_t *cli)
{
    json_t *p = json_pack ("{s:s, s:s}", "portal", cli->argv[0], "target", cli->argv[1]);
    int rc = s_put_auth (cli, p);
    if (rc) {
        s_wipe_auth (p);
        json_decref (p);
        return rc;
    }
    if (cli_opt (cli, "no-share"))
        json_object_set_new (p, "share", json_false ());
    /* A login outlives this process: `uiscsictl logout` releases it. */
    json_object_set_new (p, "persist", json_true ());
    int nset = cli_opt_count (cli, "set");
    if (nset > 0) {
        json_t *neg = json_object ();
        for (int i = 0; i < nset; i++) {
            const char *kv = cli_opt_nth (cli, "set", i);
            const char *eq = strchr (kv, '=');
            if (!eq || eq == kv || !eq[1]) {
                json_decref (neg);
                s_wipe_auth (p);
                json_decref (p);
                return cli_usage_error (cli, "--set wants KEY=VALUE, not '%s'", kv);
            }
            char key[64];
            snprintf (key, sizeof key, "%.*s", (int)(eq - kv), kv);
            uint64_t n;
            if (cli_parse_u64 (eq + 1, 1ull << 53, &n) == 0 && eq[1] != '0')
                json_object_set_new (neg, key, json_integer ((json_int_t)n));
            else if (strcmp (eq + 1, "0") == 0)
                json_object_set_new (neg, key, json_integer (0));
            else
                json_object_set_new (neg, key, json_string (eq + 1));
        }
        json_object_set_new (p, "negotiate", neg);
    }
    uiscsi_result_t *r;
    if (s_call_auth (cli, "session.open", p, &r))
        return cli_report_error (cli);
    if (cli->json)
        cli_print_json (uiscsi_result_json (r));
    else {
        printf ("%s\n", uiscsi_result_str (r, "session"));
        if (uiscsi_result_bool (r, "attached", false) && isatty (STDERR_FILENO))
            fprintf (stderr, "uiscsictl: attached to the open session %s\n",
                     uiscsi_result_str (r, "session"));
    }
    uiscsi_result_destroy (&r);
    return 0;
}

/* logout SESSION: session.close. */
static int
s_cmd_logout (cli_t *cli)
{
    json_t *p = s_session_params (cli);
    if (cli_opt (cli, "force"))
        json_object_set_new (p, "force", json_true ());
    uiscsi_result_t *r;
    if (cli_call (cli, "session.close", p, NULL, 0, &r))
        return cli_report_error (cli);
    if (cli->json)
        cli_print_json (uiscsi_result_json (r));
    else if (uiscsi_result_bool (r, "closed", false))
        printf ("%s: logged out\n", cli->argv[0]);
    else
        printf (
            "%s: still open, %lld handle%s held by other logins; --force logs out now\n",
            cli->argv[0], (long long)uiscsi_result_int (r, "refs", 0),
            uiscsi_result_int (r, "refs", 0) == 1 ? "" : "s");
    uiscsi_result_destroy (&r);
    return 0;
}

/* sessions: session.list as a table. */
static int
s_cmd_sessions (cli_t *cli)
{
    uiscsi_result_t *r;
    if (cli_call (cli, "session.list", NULL, NULL, 0, &r))
        return cli_report_error (cli);
    json_t *j = uiscsi_result_json (r);
    if (cli->json)
        cli_print_json (j);
    else {
        json_t *list = json_object_get (j, "sessions");
        if (json_array_size (list) == 0)
            printf ("no sessions\n");
        else
            printf ("%-10s %-14s %4s %8s %5s  %-22s %s\n", "SESSION", "STATE", "REFS",
                    "INFLIGHT", "RECON", "PORTAL", "TARGET");
        size_t i;
        json_t *s;
        json_array_foreach (list, i, s)
        {
            printf ("%-10s %-14s %4lld %8lld %5lld  %-22s %s\n",
                    json_string_value (json_object_get (s, "session")),
                    json_string_value (json_object_get (s, "state")),
                    (long long)json_integer_value (json_object_get (s, "refs")),
                    (long long)json_integer_value (json_object_get (s, "in_flight")),
                    (long long)json_integer_value (json_object_get (s, "reconnects")),
                    json_string_value (json_object_get (s, "portal")),
                    json_string_value (json_object_get (s, "target")));
        }
    }
    uiscsi_result_destroy (&r);
    return 0;
}

/* session SESSION: session.get. */
static int
s_cmd_session (cli_t *cli)
{
    uiscsi_result_t *r;
    if (cli_call (cli, "session.get", s_session_params (cli), NULL, 0, &r))
        return cli_report_error (cli);
    s_print_result (cli, uiscsi_result_json (r));
    uiscsi_result_destroy (&r);
    return 0;
}

/* luns SESSION: REPORT LUNS, plus INQUIRY and READ CAPACITY of each LUN in
   the human table (failures there show as '-'). */
static int
s_cmd_luns (cli_t *cli)
{
    uiscsi_result_t *r;
    if (cli_call (cli, "scsi.report_luns", s_session_params (cli), NULL, 0, &r))
        return cli_report_error (cli);
    json_t *j = uiscsi_result_json (r);
    if (cli->json) {
        cli_print_json (j);
        uiscsi_result_destroy (&r);
        return 0;
    }
    printf ("%-5s %-28s %-8s %-16s %6s %12s\n", "LUN", "TYPE", "VENDOR", "PRODUCT",
            "BLOCK", "SIZE");
    size_t i;
    json_t *l;
    json_array_foreach (json_object_get (j, "luns"), i, l)
    {
        char lun[24];
        if (json_is_integer (l))
            snprintf (lun, sizeof lun, "%lld", (long long)json_integer_value (l));
        else
            snprintf (lun, sizeof lun, "%s",
                      json_string_value (l) ? json_string_value (l) : "?");
        json_t *p = json_pack ("{s:s, s:O}", "session", cli->argv[0], "lun", l);
        uiscsi_result_t *inq = NULL, *cap = NULL;
        if (cli_call (cli, "scsi.inquiry", p, NULL, 0, &inq))
            uiscsi_error_clear (&cli->err);
        p = json_pack ("{s:s, s:O}", "session", cli->argv[0], "lun", l);
        char size[32] = "-", block[16] = "-";
        if (inq && uiscsi_result_int (inq, "device_type", -1) == 0
            && cli_call (cli, "scsi.read_capacity", p, NULL, 0, &cap) == 0) {
            cli_human_bytes ((uint64_t)uiscsi_result_int (cap, "bytes", 0), size,
                             sizeof size);
            snprintf (block, sizeof block, "%lld",
                      (long long)uiscsi_result_int (cap, "block_size", 0));
        }
        else {
            if (!inq || uiscsi_result_int (inq, "device_type", -1) != 0)
                json_decref (p);
            uiscsi_error_clear (&cli->err);
        }
        const char *type = inq ? uiscsi_result_str (inq, "device_type_name") : NULL;
        const char *vendor = inq ? uiscsi_result_str (inq, "vendor") : NULL;
        const char *product = inq ? uiscsi_result_str (inq, "product") : NULL;
        printf ("%-5s %-28s %-8s %-16s %6s %12s\n", lun, type ? type : "-",
                vendor ? vendor : "-", product ? product : "-", block, size);
        uiscsi_result_destroy (&inq);
        uiscsi_result_destroy (&cap);
    }
    uiscsi_result_destroy (&r);
    return 0;
}

/* inquiry SESSION LUN [--page P]. */
static int
s_cmd_inquiry (cli_t *cli)
{
    json_t *p = s_session_lun_params (cli);
    if (!p)
        return CLI_EXIT_USAGE;
    const char *page = cli_opt (cli, "page");
    if (page) {
        uint64_t v;
        if (cli_parse_u64 (page, 255, &v)) {
            json_decref (p);
            return cli_usage_error (cli, "bad page '%s' (0..255, or 0x00..0xff)", page);
        }
        json_object_set_new (p, "evpd", json_true ());
        json_object_set_new (p, "page", json_integer ((json_int_t)v));
    }
    uiscsi_result_t *r;
    if (cli_call (cli, "scsi.inquiry", p, NULL, 0, &r))
        return cli_report_error (cli);
    s_print_result (cli, uiscsi_result_json (r));
    if (!cli->json && page) {
        const void *d;
        size_t n;
        if (uiscsi_result_data (r, &d, &n) == 0 && n) {
            printf ("data:\n");
            cli_hexdump (stdout, 0, d, n);
        }
    }
    uiscsi_result_destroy (&r);
    return 0;
}

/* capacity SESSION LUN. */
static int
s_cmd_capacity (cli_t *cli)
{
    json_t *p = s_session_lun_params (cli);
    if (!p)
        return CLI_EXIT_USAGE;
    uiscsi_result_t *r;
    if (cli_call (cli, "scsi.read_capacity", p, NULL, 0, &r))
        return cli_report_error (cli);
    if (cli->json)
        cli_print_json (uiscsi_result_json (r));
    else {
        char h[32];
        cli_human_bytes ((uint64_t)uiscsi_result_int (r, "bytes", 0), h, sizeof h);
        printf ("blocks: %lld\nblock_size: %lld\nbytes: %lld (%s)\n",
                (long long)uiscsi_result_int (r, "blocks", 0),
                (long long)uiscsi_result_int (r, "block_size", 0),
                (long long)uiscsi_result_int (r, "bytes", 0), h);
        printf (
            "lbppbe: %lld\nthin provisioning (lbpme): %s\nunmapped reads zero (lbprz): "
            "%s\n",
            (long long)uiscsi_result_int (r, "lbppbe", 0),
            uiscsi_result_bool (r, "lbpme", false) ? "yes" : "no",
            uiscsi_result_bool (r, "lbprz", false) ? "yes" : "no");
    }
    uiscsi_result_destroy (&r);
    return 0;
}

/* Parses positional k as an LBA or block count. */
static int
s_arg_u64 (const cli_t *cli, int k, uint64_t max, const char *what, uint64_t *out)
{
    if (cli_parse_u64 (cli->argv[k], max, out))
        return cli_usage_error (cli, "bad %s '%s'", what, cli->argv[k]);
    return 0;
}

/* verify SESSION LUN LBA BLOCKS. */
static int
s_cmd_verify (cli_t *cli)
{
    uint64_t lba, blocks;
    if (s_arg_u64 (cli, 2, INT64_MAX, "LBA", &lba)
        || s_arg_u64 (cli, 3, UINT32_MAX, "BLOCKS", &blocks))
        return CLI_EXIT_USAGE;
    json_t *p = s_session_lun_params (cli);
    if (!p)
        return CLI_EXIT_USAGE;
    json_object_set_new (p, "lba", json_integer ((json_int_t)lba));
    json_object_set_new (p, "blocks", json_integer ((json_int_t)blocks));
    uiscsi_result_t *r;
    if (cli_call (cli, "scsi.verify", p, NULL, 0, &r))
        return cli_report_error (cli);
    if (cli->json)
        cli_print_json (uiscsi_result_json (r));
    else
        printf ("verified %llu blocks from LBA %llu\n", (unsigned long long)blocks,
                (unsigned long long)lba);
    uiscsi_result_destroy (&r);
    return 0;
}

/* unmap SESSION LUN LBA:BLOCKS... */
static int
s_cmd_unmap (cli_t *cli)
{
    json_t *p = s_session_lun_params (cli);
    if (!p)
        return CLI_EXIT_USAGE;
    json_t *ranges = json_array ();
    uint64_t total = 0;
    for (int i = 2; i < cli->argc; i++) {
        char buf[64];
        snprintf (buf, sizeof buf, "%s", cli->argv[i]);
        char *colon = strchr (buf, ':');
        uint64_t lba, blocks;
        if (!colon || (*colon = '\0', cli_parse_u64 (buf, INT64_MAX, &lba))
            || cli_parse_u64 (colon + 1, UINT32_MAX, &blocks)) {
            json_decref (ranges);
            json_decref (p);
            return cli_usage_error (cli, "bad range '%s' (LBA:BLOCKS)", cli->argv[i]);
        }
        total += blocks;
        json_array_append_new (ranges, json_pack ("{s:I, s:I}", "lba", (json_int_t)lba,
                                                  "blocks", (json_int_t)blocks));
    }
    json_object_set_new (p, "ranges", ranges);
    uiscsi_result_t *r;
    if (cli_call (cli, "scsi.unmap", p, NULL, 0, &r))
        return cli_report_error (cli);
    if (cli->json)
        cli_print_json (uiscsi_result_json (r));
    else
        printf ("unmapped %d range%s, %llu blocks\n", cli->argc - 2,
                cli->argc == 3 ? "" : "s", (unsigned long long)total);
    uiscsi_result_destroy (&r);
    return 0;
}

/* sync SESSION LUN: SYNCHRONIZE CACHE of the whole LUN. */
static int
s_cmd_sync (cli_t *cli)
{
    json_t *p = s_session_lun_params (cli);
    if (!p)
        return CLI_EXIT_USAGE;
    uiscsi_result_t *r;
    if (cli_call (cli, "scsi.synchronize_cache", p, NULL, 0, &r))
        return cli_report_error (cli);
    if (cli->json)
        cli_print_json (uiscsi_result_json (r));
    else
        printf ("cache synchronized\n");
    uiscsi_result_destroy (&r);
    return 0;
}

/* tmf SESSION FUNCTION [ARG]. */
static int
s_cmd_tmf (cli_t *cli)
{
    static const struct {
        const char *fn;
        const char *method;
        const char *arg; /* NULL, "tag" or "lun" */
    } fns[] = {{"abort-task", "tmf.abort_task", "tag"},
               {"abort-task-set", "tmf.abort_task_set", "lun"},
               {"clear-task-set", "tmf.clear_task_set", "lun"},
               {"lun-reset", "tmf.lun_reset", "lun"},
               {"warm-reset", "tmf.target_warm_reset", NULL},
               {"cold-reset", "tmf.target_cold_reset", NULL}};
    const char *fn = cli->argv[1];
    size_t k;
    for (k = 0; k < sizeof fns / sizeof fns[0]; k++)
        if (strcmp (fns[k].fn, fn) == 0)
            break;
    if (k == sizeof fns / sizeof fns[0])
        return cli_usage_error (
            cli,
            "unknown function '%s' (abort-task TAG, abort-task-set LUN, "
            "clear-task-set LUN, lun-reset LUN, warm-reset, cold-reset)",
            fn);
    int want = fns[k].arg ? 3 : 2;
    if (cli->argc != want)
        return cli_usage_error (
            cli, "%s takes %s", fn,
            fns[k].arg ? (strcmp (fns[k].arg, "tag") == 0 ? "a TAG" : "a LUN")
                       : "no argument");
    json_t *p = s_session_params (cli);
    if (fns[k].arg && strcmp (fns[k].arg, "tag") == 0)
        json_object_set_new (p, "tag", json_string (cli->argv[2]));
    else if (fns[k].arg && cli_put_lun (cli, p, cli->argv[2])) {
        json_decref (p);
        return CLI_EXIT_USAGE;
    }
    uiscsi_result_t *r;
    if (cli_call (cli, fns[k].method, p, NULL, 0, &r))
        return cli_report_error (cli);
    int64_t resp = uiscsi_result_int (r, "response", -1);
    const char *name = uiscsi_result_str (r, "response_name");
    if (cli->json)
        cli_print_json (uiscsi_result_json (r));
    else
        printf ("%s: response %lld %s\n", fn, (long long)resp, name ? name : "");
    uiscsi_result_destroy (&r);
    if (resp != 0) {
        if (!cli->json)
            fprintf (stderr, "uiscsictl: TMF_FAILED: the target answered %s\n",
                     name ? name : "an error");
        return CLI_EXIT_TMF;
    }
    return 0;
}

/* Reads a whole file (at most max bytes) into a new buffer. */
static int
s_slurp (const char *path, size_t max, uint8_t **data, size_t *size)
{
    FILE *f = strcmp (path, "-") == 0 ? stdin : fopen (path, "rb");
    if (!f)
        return -1;
    size_t cap = 65536, n = 0;
    uint8_t *buf = malloc (cap);
    while (buf) {
        if (n == cap) {
            if (cap >= max + 1)
                break;
            cap *= 2;
            uint8_t *nb = realloc (buf, cap);
            if (!nb) {
                free (buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        size_t got = fread (buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    bool bad = !buf || ferror (f) || n > max;
    if (f != stdin)
        fclose (f);
    if (bad) {
        free (buf);
        errno = buf ? EFBIG : ENOMEM;
        return -1;
    }
    *data = buf;
    *size = n;
    return 0;
}

/* raw SESSION LUN CDBHEX [--in N] [--out FILE] [--data-file FILE]. */
static int
s_cmd_raw (cli_t *cli)
{
    const char *cdb = cli->argv[2];
    size_t len = strlen (cdb);
    if (len < 2 || len > 520 || len % 2 || strspn (cdb, "0123456789abcdefABCDEF") != len)
        return cli_usage_error (cli, "bad CDB '%s' (hex, 1 to 260 bytes)", cdb);
    uint64_t in = 0;
    const char *ins = cli_opt (cli, "in");
    if (ins && cli_parse_size (ins, UINT32_MAX, &in))
        return cli_usage_error (cli, "bad --in '%s'", ins);
    json_t *p = s_session_lun_params (cli);
    if (!p)
        return CLI_EXIT_USAGE;
    json_object_set_new (p, "cdb", json_string (cdb));
    if (in)
        json_object_set_new (p, "data_in_length", json_integer ((json_int_t)in));
    uint8_t *out_data = NULL;
    size_t out_size = 0;
    const char *df = cli_opt (cli, "data-file");
    if (df && s_slurp (df, 64u << 20, &out_data, &out_size)) {
        json_decref (p);
        return cli_fail_with (CLI_EXIT_FILE, "FILE_ERROR: %s: %s", df, strerror (errno));
    }
    uiscsi_buf_t buf = {out_data, out_size, NULL, NULL};
    if (df)
        json_object_set_new (p, "data", uiscsi_attachment_ref (1));
    uiscsi_result_t *r;
    int rc = cli_call (cli, "raw.execute", p, df ? &buf : NULL, df ? 1 : 0, &r);
    free (out_data);
    if (rc)
        return cli_report_error (cli);
    int64_t status = uiscsi_result_int (r, "status", -1);
    const char *sname = uiscsi_result_str (r, "status_name");
    const void *d = NULL;
    size_t n = 0;
    if (json_object_get (uiscsi_result_json (r), "data"))
        uiscsi_result_data (r, &d, &n);
    const char *outf = cli_opt (cli, "out");
    int exit_status = status == 0 ? 0 : CLI_EXIT_SCSI;
    if (outf && n) {
        FILE *f = strcmp (outf, "-") == 0 ? stdout : fopen (outf, "wb");
        if (!f || fwrite (d, 1, n, f) != n || (f != stdout && fclose (f) != 0)) {
            exit_status = cli_fail_with (CLI_EXIT_FILE, "FILE_ERROR: %s: %s", outf,
                                         strerror (errno));
        }
        else if (f == stdout)
            fflush (stdout);
    }
    else if (outf) {
        FILE *f = strcmp (outf, "-") == 0 ? NULL : fopen (outf, "wb");
        if (f)
            fclose (f);
    }
    if (cli->json && !(outf && strcmp (outf, "-") == 0))
        cli_print_json (uiscsi_result_json (r));
    else if (!cli->json) {
        FILE *o = outf && strcmp (outf, "-") == 0 ? stderr : stdout;
        fprintf (o, "status: 0x%02llx %s\nbytes: %lld\nresidual: %lld\n",
                 (unsigned long long)status & 0xff, sname ? sname : "",
                 (long long)uiscsi_result_int (r, "bytes", 0),
                 (long long)uiscsi_result_int (r, "residual", 0));
        json_t *si = json_object_get (uiscsi_result_json (r), "sense_info");
        if (json_is_object (si)) {
            fprintf (
                o, "sense: key 0x%llx %s, ASC/ASCQ 0x%02llx/0x%02llx: %s\n",
                (unsigned long long)json_integer_value (
                    json_object_get (si, "sense_key")),
                json_string_value (json_object_get (si, "sense_key_name"))
                    ? json_string_value (json_object_get (si, "sense_key_name"))
                    : "",
                (unsigned long long)json_integer_value (json_object_get (si, "asc")),
                (unsigned long long)json_integer_value (json_object_get (si, "ascq")),
                json_string_value (json_object_get (si, "description"))
                    ? json_string_value (json_object_get (si, "description"))
                    : "");
        }
        if (!outf && n)
            cli_hexdump (stdout, 0, d, n);
    }
    if (status != 0)
        fprintf (stderr, "uiscsictl: SCSI_STATUS: status 0x%02llx %s\n",
                 (unsigned long long)status & 0xff, sname ? sname : "");
    uiscsi_result_destroy (&r);
    return exit_status;
}

/* Sleeps ms unless interrupted. */
static void
s_sleep_ms (int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (!cli_interrupted && nanosleep (&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* ping SESSION [-c N]: NOP-Out pings. */
static int
s_cmd_ping (cli_t *cli)
{
    uint64_t count = 3, interval = 1000;
    const char *c = cli_opt (cli, "count");
    const char *iv = cli_opt (cli, "interval-ms");
    if (c && (cli_parse_u64 (c, 1000000, &count) || count == 0))
        return cli_usage_error (cli, "bad --count '%s'", c);
    if (iv && cli_parse_u64 (iv, 3600000, &interval))
        return cli_usage_error (cli, "bad --interval-ms '%s'", iv);
    cli_catch_signals ();
    json_t *rtts = json_array ();
    uint64_t ok = 0, sent = 0, min = UINT64_MAX, max = 0, sum = 0;
    int status = 0;
    for (uint64_t i = 0; i < count && !cli_interrupted; i++) {
        if (i)
            s_sleep_ms ((int)interval);
        if (cli_interrupted)
            break;
        uiscsi_result_t *r;
        sent++;
        if (cli_call (cli, "protocol.nop", s_session_params (cli), NULL, 0, &r)) {
            status = cli_report_error (cli);
            if (status == CLI_EXIT_SESSION || status == CLI_EXIT_NO_DAEMON)
                break;
            continue;
        }
        uint64_t rtt = (uint64_t)uiscsi_result_int (r, "rtt_us", 0);
        uiscsi_result_destroy (&r);
        ok++;
        sum += rtt;
        min = rtt < min ? rtt : min;
        max = rtt > max ? rtt : max;
        json_array_append_new (rtts, json_integer ((json_int_t)rtt));
        if (!cli->json) {
            printf ("nop %s: seq %llu rtt %llu us\n", cli->argv[0],
                    (unsigned long long)i + 1, (unsigned long long)rtt);
            fflush (stdout);
        }
    }
    if (cli->json) {
        json_t *j = json_pack ("{s:s, s:I, s:I, s:o}", "session", cli->argv[0], "sent",
                               (json_int_t)sent, "ok", (json_int_t)ok, "rtt_us", rtts);
        if (ok) {
            json_object_set_new (j, "min_us", json_integer ((json_int_t)min));
            json_object_set_new (j, "avg_us", json_integer ((json_int_t)(sum / ok)));
            json_object_set_new (j, "max_us", json_integer ((json_int_t)max));
        }
        cli_print_json (j);
        json_decref (j);
    }
    else {
        json_decref (rtts);
        printf ("--- %s: %llu sent, %llu answered", cli->argv[0],
                (unsigned long long)sent, (unsigned long long)ok);
        if (ok)
            printf (", rtt min/avg/max %llu/%llu/%llu us", (unsigned long long)min,
                    (unsigned long long)(sum / ok), (unsigned long long)max);
        printf ("\n");
    }
    if (ok == sent && sent)
        return 0;
    return status ? status : CLI_EXIT_FAILURE;
}

/* methods: rpc.discover. */
static int
s_cmd_methods (cli_t *cli)
{
    uiscsi_result_t *r;
    if (cli_call (cli, "rpc.discover", NULL, NULL, 0, &r))
        return cli_report_error (cli);
    json_t *j = uiscsi_result_json (r);
    if (cli->json)
        cli_print_json (j);
    else {
        size_t i;
        json_t *m;
        json_array_foreach (json_object_get (j, "methods"), i, m)
        {
            const char *s = json_string_value (json_object_get (m, "summary"));
            printf ("%-32s %s\n", json_string_value (json_object_get (m, "name")),
                    s ? s : "");
        }
    }
    uiscsi_result_destroy (&r);
    return 0;
}

/* info: daemon.info. */
static int
s_cmd_info (cli_t *cli)
{
    uiscsi_result_t *r;
    if (cli_call (cli, "daemon.info", NULL, NULL, 0, &r))
        return cli_report_error (cli);
    s_print_result (cli, uiscsi_result_json (r));
    uiscsi_result_destroy (&r);
    return 0;
}

static int s_cmd_help (cli_t *cli);

/* The commands, in the order of the help. */
static const cli_cmd_t s_commands[] = {
    {"discover", "PORTAL", "list the targets of a portal (SendTargets discovery)",
     "PORTAL is host[:port] (IPv6 in brackets, default port 3260). Prints one\n"
     "line per target portal: ADDRESS:PORT,TPGT TARGET.",
     1, 1, s_auth_opts, s_cmd_discover},
    {"login", "PORTAL TARGET", "log in to a target; prints the session id",
     "The session is shared with other clients of the daemon (another login to\n"
     "the same target and portal attaches to it) unless --no-share. Secrets are\n"
     "read from files or the environment, never from the command line.",
     2, 2, s_login_opts, s_cmd_login},
    {"logout", "SESSION", "release a session handle (the last one logs out)",
     "Each 'uiscsictl login' takes a handle that outlives the process (session.open\n"
     "with persist); 'logout' releases one, and the session logs out when the last\n"
     "handle goes. --force logs out now, whatever other logins hold.",
     1, 1, s_logout_opts, s_cmd_logout},
    {"sessions", "", "list the sessions", NULL, 0, 0, s_no_opts, s_cmd_sessions},
    {"session", "SESSION", "describe a session (state, negotiated keys, counters)", NULL,
     1, 1, s_no_opts, s_cmd_session},
    {"luns", "SESSION", "list the LUNs (REPORT LUNS, with INQUIRY and size)", NULL, 1, 1,
     s_no_opts, s_cmd_luns},
    {"inquiry", "SESSION LUN", "INQUIRY: standard data, or a VPD page", NULL, 2, 2,
     s_inquiry_opts, s_cmd_inquiry},
    {"capacity", "SESSION LUN", "READ CAPACITY: blocks, block size, provisioning", NULL,
     2, 2, s_no_opts, s_cmd_capacity},
    {"read", "SESSION LUN LBA BLOCKS", "read blocks to a file or stdout",
     "Large reads are cut into pipelined commands of --chunk bytes, --depth at\n"
     "a time. A progress bar (bytes, rate, ETA) is drawn on stderr when it is a\n"
     "terminal. On a terminal without -o the data is shown as a hex dump.",
     4, 4, s_read_opts, cli_cmd_read},
    {"write", "SESSION LUN LBA", "write blocks from a file or stdin",
     "Writes the input from LBA on, in pipelined commands of --chunk bytes. A\n"
     "last partial block is padded with zeros (and said so on stderr).",
     3, 3, s_write_opts, cli_cmd_write},
    {"verify", "SESSION LUN LBA BLOCKS", "VERIFY blocks (medium check, no data)", NULL, 4,
     4, s_no_opts, s_cmd_verify},
    {"unmap", "SESSION LUN LBA:BLOCKS...", "UNMAP block ranges", NULL, 3, 4095, s_no_opts,
     s_cmd_unmap},
    {"sync", "SESSION LUN", "SYNCHRONIZE CACHE of the whole LUN", NULL, 2, 2, s_no_opts,
     s_cmd_sync},
    {"tmf", "SESSION FUNCTION [ARG]", "task management function",
     "FUNCTION is one of: abort-task TAG, abort-task-set LUN, clear-task-set LUN,\n"
     "lun-reset LUN, warm-reset, cold-reset.",
     2, 3, s_no_opts, s_cmd_tmf},
    {"raw", "SESSION LUN CDBHEX", "run any CDB; prints the status, sense and data",
     "Exit status 6 when the SCSI status is not GOOD.", 3, 3, s_raw_opts, s_cmd_raw},
    {"ping", "SESSION", "NOP-Out pings, with the round-trip time", NULL, 1, 1,
     s_ping_opts, s_cmd_ping},
    {"events", "[TOPIC...]", "follow the event stream, one line per event",
     "TOPICs are prefixes (session.state, session, daemon.metrics, ...). Without\n"
     "one: every topic but pdu and command.complete, which cost the daemon work\n"
     "while someone subscribes (name them, or --all). --json prints the JSON.\n"
     "Ctrl-C stops.",
     0, 64, s_events_opts, cli_cmd_events},
    {"top", "", "live per-session view: IOPS, MiB/s, in-flight, state",
     "Refreshed each second from the session.metrics events. On a terminal it\n"
     "redraws in place; q or Ctrl-C quits. Otherwise one table per refresh\n"
     "(one JSON line with --json).",
     0, 0, s_top_opts, cli_cmd_top},
    {"methods", "", "list the daemon's RPC methods (rpc.discover)", NULL, 0, 0, s_no_opts,
     s_cmd_methods},
    {"info", "", "the daemon's version, endpoints and limits (daemon.info)", NULL, 0, 0,
     s_no_opts, s_cmd_info},
    {"help", "[COMMAND]", "show help of uiscsictl or of a command", NULL, 0, 1, s_no_opts,
     s_cmd_help},
    {NULL, NULL, NULL, NULL, 0, 0, NULL, NULL}};

/* ------------------------------------------------------------------ help */

/* Prints one option line. */
static void
s_print_opt (FILE *out, const cli_opt_t *o)
{
    char left[64];
    if (o->short_name)
        snprintf (left, sizeof left, "-%c, --%s%s%s", o->short_name, o->name,
                  o->arg ? " " : "", o->arg ? o->arg : "");
    else
        snprintf (left, sizeof left, "    --%s%s%s", o->name, o->arg ? " " : "",
                  o->arg ? o->arg : "");
    fprintf (out, "  %-32s %s\n", left, o->help);
}

/* The main help. */
static void
s_main_help (FILE *out)
{
    fprintf (out, "Usage: uiscsictl [GLOBAL OPTIONS] COMMAND [ARGS] [OPTIONS]\n\n"
                  "The command-line client of uiscsid, the userspace iSCSI initiator.\n\n"
                  "Commands:\n");
    for (const cli_cmd_t *c = s_commands; c->name; c++) {
        char left[64];
        snprintf (left, sizeof left, "%s %s", c->name, c->args);
        fprintf (out, "  %-34s %s\n", left, c->summary);
    }
    fprintf (out, "\nGlobal options (before or after the command):\n");
    for (const cli_opt_t *o = s_global_opts; o->name; o++)
        s_print_opt (out, o);
    fprintf (out, "\nExit status:\n");
    for (const cli_exit_row_t *r = cli_exit_table; r->names; r++)
        fprintf (out, "  %3d  %s: %s\n", r->status, r->names, r->meaning);
    fprintf (out,
             "\n'uiscsictl COMMAND --help' describes a command; see uiscsictl(1).\n");
}

/* The help of one command. */
static void
s_cmd_usage (FILE *out, const cli_cmd_t *c)
{
    fprintf (out, "Usage: uiscsictl %s%s%s [OPTIONS]\n\n%s.\n", c->name,
             c->args[0] ? " " : "", c->args, c->summary);
    if (c->details)
        fprintf (out, "\n%s\n", c->details);
    if (c->opts[0].name) {
        fprintf (out, "\nOptions:\n");
        for (const cli_opt_t *o = c->opts; o->name; o++)
            s_print_opt (out, o);
    }
    fprintf (out, "\nGlobal options: --endpoint, --events-endpoint, --json, --timeout-ms "
                  "(see uiscsictl --help).\n");
}

/* Finds a command by name. */
static const cli_cmd_t *
s_find_cmd (const char *name)
{
    for (const cli_cmd_t *c = s_commands; c->name; c++)
        if (strcmp (c->name, name) == 0)
            return c;
    return NULL;
}

/* help [COMMAND]. */
static int
s_cmd_help (cli_t *cli)
{
    if (cli->argc == 0) {
        s_main_help (stdout);
        return 0;
    }
    const cli_cmd_t *c = s_find_cmd (cli->argv[0]);
    if (!c)
        return cli_usage_error (NULL, "unknown command '%s'", cli->argv[0]);
    s_cmd_usage (stdout, c);
    return 0;
}

/* ------------------------------------------------------------------ parsing */

/* Finds an option by long or short name in a table. */
static const cli_opt_t *
s_find_opt (const cli_opt_t *table, const char *name, char short_name)
{
    for (const cli_opt_t *o = table; o && o->name; o++)
        if ((name && strcmp (o->name, name) == 0)
            || (short_name && o->short_name == short_name))
            return o;
    return NULL;
}

/* Applies a global option. Returns -1 to go on, else an exit status. */
static int
s_apply_global (cli_t *cli, const cli_opt_t *o, const char *value)
{
    if (strcmp (o->name, "endpoint") == 0)
        cli->endpoint = value;
    else if (strcmp (o->name, "events-endpoint") == 0)
        cli->events_endpoint = value;
    else if (strcmp (o->name, "json") == 0)
        cli->json = true;
    else if (strcmp (o->name, "timeout-ms") == 0) {
        uint64_t v;
        if (cli_parse_u64 (value, 86400000, &v))
            return cli_usage_error (cli, "bad --timeout-ms '%s' (0..86400000)", value);
        cli->timeout_ms = (int)v;
    }
    else if (strcmp (o->name, "help") == 0) {
        if (cli->cmd)
            s_cmd_usage (stdout, cli->cmd);
        else
            s_main_help (stdout);
        return 0;
    }
    else if (strcmp (o->name, "version") == 0) {
        printf ("uiscsictl %s (uiscsid RPC API %d)\n", UISCSICTL_VERSION,
                UISCSI_API_VERSION);
        return 0;
    }
    return -1;
}

/* Parses one option at argv[*i]; returns -1 to go on, else an exit status. */
static int
s_parse_option (cli_t *cli, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    char name[64] = "";
    const char *inline_value = NULL;
    char short_name = 0;
    if (a[1] == '-') {
        const char *eq = strchr (a + 2, '=');
        size_t n = eq ? (size_t)(eq - a - 2) : strlen (a + 2);
        if (n >= sizeof name)
            n = sizeof name - 1;
        memcpy (name, a + 2, n);
        name[n] = '\0';
        inline_value = eq ? eq + 1 : NULL;
    }
    else {
        short_name = a[1];
        inline_value = a[2] ? a + 2 : NULL;
    }
    for (int k = 0; s_rejected[k]; k++)
        if (strcmp (name, s_rejected[k]) == 0)
            return cli_usage_error (
                cli,
                "--%s is refused: a secret on the command line is visible to every user "
                "(ps, /proc/PID/cmdline) and stays in the shell history. Put it in a "
                "file "
                "readable only by you and give --%s-file FILE, or set $%s",
                name,
                strcmp (name, "target-secret") == 0 ? "target-secret" : "chap-secret",
                strcmp (name, "target-secret") == 0 ? "UISCSI_TARGET_SECRET"
                                                    : "UISCSI_CHAP_SECRET");
    const cli_opt_t *o =
        cli->cmd ? s_find_opt (cli->cmd->opts, name[0] ? name : NULL, short_name) : NULL;
    bool global = false;
    if (!o) {
        o = s_find_opt (s_global_opts, name[0] ? name : NULL, short_name);
        global = o != NULL;
    }
    if (!o)
        return cli_usage_error (cli, "unknown option '%s'", a);
    const char *value = "";
    if (o->arg) {
        if (inline_value)
            value = inline_value;
        else if (*i + 1 < argc)
            value = argv[++*i];
        else
            return cli_usage_error (cli, "option --%s needs a value (%s)", o->name,
                                    o->arg);
    }
    else if (inline_value)
        return cli_usage_error (cli, "option --%s takes no value", o->name);
    if (global)
        return s_apply_global (cli, o, value);
    if (!o->multi && cli_opt (cli, o->name))
        return cli_usage_error (cli, "option --%s given twice", o->name);
    if (cli->nvalues == CLI_MAX_VALUES)
        return cli_usage_error (cli, "too many options");
    cli->value_name[cli->nvalues] = o->name;
    cli->value[cli->nvalues++] = value;
    return -1;
}

/* Parses the command line into cli. Returns -1 to run the command, else an
   exit status (help, version, usage error). */
static int
s_parse (cli_t *cli, int argc, char **argv)
{
    cli->argv = calloc ((size_t)argc + 1, sizeof (char *));
    if (!cli->argv)
        return CLI_EXIT_FAILURE;
    bool only_positionals = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_positionals && strcmp (a, "--") == 0) {
            only_positionals = true;
            continue;
        }
        if (!only_positionals && a[0] == '-' && a[1]) {
            int rc = s_parse_option (cli, argc, argv, &i);
            if (rc >= 0)
                return rc;
            continue;
        }
        if (!cli->cmd) {
            cli->cmd = s_find_cmd (a);
            if (!cli->cmd)
                return cli_usage_error (NULL, "unknown command '%s'", a);
            continue;
        }
        cli->argv[cli->argc++] = argv[i];
    }
    if (!cli->cmd) {
        s_main_help (stderr);
        return CLI_EXIT_USAGE;
    }
    if (cli->argc < cli->cmd->min_args
        || (cli->cmd->max_args >= 0 && cli->argc > cli->cmd->max_args))
        return cli_usage_error (cli, "usage: uiscsictl %s %s", cli->cmd->name,
                                cli->cmd->args);
    return -1;
}

/* Parses, runs the command, releases everything; returns the exit status. */
int
main (int argc, char **argv)
{
    cli_t cli;
    memset (&cli, 0, sizeof cli);
    cli.timeout_ms = -1;
    int status = s_parse (&cli, argc, argv);
    if (status < 0) {
        status = cli.cmd->run (&cli);
        if (fflush (stdout) != 0 && status == 0)
            status =
                cli_fail_with (CLI_EXIT_FILE, "FILE_ERROR: stdout: %s", strerror (errno));
    }
    uiscsi_error_clear (&cli.err);
    uiscsi_close (&cli.client);
    free (cli.argv);
    return status;
}
