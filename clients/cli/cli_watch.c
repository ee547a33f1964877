/*  cli_watch.c - uiscsictl events and top: both follow the daemon's PUB
    stream with a ZeroMQ SUB socket of their own (libuiscsi has no event
    subscription). events prints one line per event; top keeps per-session
    rates computed from consecutive session.metrics events and redraws a
    table every second (in place on a terminal, where q quits).
*/

#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define WATCH_MAX_EVENT  (4u << 20) /* bytes of one event frame */
#define WATCH_MAX_TOPICS 64
#define TOP_MAX_SESSIONS 4096

/* ------------------------------------------------------------------ SUB */

typedef struct {
    void *ctx;
    void *sub;
} s_sub_t;

/* Opens a SUB socket on the event endpoint (--events-endpoint, else the
   one daemon.info reports) subscribed to topics. Returns 0 or an exit
   status (after a message). */
static int
s_sub_open (cli_t *cli, s_sub_t *self, const char *const *topics, int ntopics)
{
    memset (self, 0, sizeof *self);
    const char *ep = cli->events_endpoint;
    if (!ep) {
        if (cli_connect (cli))
            return cli_report_error (cli);
        json_t *info = uiscsi_daemon_info_cached (cli->client);
        ep = json_string_value (
            json_object_get (json_object_get (info, "endpoints"), "events"));
        if (!ep)
            return cli_fail_with (
                CLI_EXIT_FAILURE,
                "the daemon reports no event endpoint (--events-endpoint)");
    }
    self->ctx = zmq_ctx_new ();
    self->sub = self->ctx ? zmq_socket (self->ctx, ZMQ_SUB) : NULL;
    if (!self->sub)
        return cli_fail_with (CLI_EXIT_FAILURE, "CLIENT_IO: zmq: %s",
                              zmq_strerror (errno));
    int64_t max = WATCH_MAX_EVENT;
    int linger = 0;
    zmq_setsockopt (self->sub, ZMQ_MAXMSGSIZE, &max, sizeof max);
    zmq_setsockopt (self->sub, ZMQ_LINGER, &linger, sizeof linger);
    for (int i = 0; i < ntopics; i++)
        zmq_setsockopt (self->sub, ZMQ_SUBSCRIBE, topics[i], strlen (topics[i]));
    if (zmq_connect (self->sub, ep))
        return cli_fail_with (CLI_EXIT_USAGE, "bad event endpoint '%s': %s", ep,
                              zmq_strerror (errno));
    return 0;
}

/* Closes the socket and the context. */
static void
s_sub_close (s_sub_t *self)
{
    if (self->sub)
        zmq_close (self->sub);
    if (self->ctx)
        zmq_ctx_term (self->ctx);
    memset (self, 0, sizeof *self);
}

/* Receives one event (topic into topic, JSON parsed) without waiting.
   Returns 1, 0 when none is waiting, -1 on a socket failure. Malformed
   events are skipped (return 0 with *event NULL). */
static int
s_sub_recv (s_sub_t *self, char *topic, size_t tsize, json_t **event)
{
    *event = NULL;
    zmq_msg_t part;
    int nparts = 0;
    int more = 1;
    json_t *ev = NULL;
    topic[0] = '\0';
    while (more && nparts < 16) {
        zmq_msg_init (&part);
        if (zmq_msg_recv (&part, self->sub, nparts ? 0 : ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&part);
            json_decref (ev);
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        }
        size_t n = zmq_msg_size (&part);
        if (nparts == 0)
            snprintf (topic, tsize, "%.*s", (int)(n < tsize ? n : tsize - 1),
                      (const char *)zmq_msg_data (&part));
        else if (nparts == 1)
            ev = json_loadb (zmq_msg_data (&part), n, 0, NULL);
        more = zmq_msg_more (&part);
        zmq_msg_close (&part);
        nparts++;
    }
    if (!json_is_object (ev)) {
        json_decref (ev);
        return 0;
    }
    *event = ev;
    return 1;
}

/* ------------------------------------------------------------------ events */

/* Prints one event as "TS TOPIC key=value ...". */
static void
s_print_event (const char *topic, json_t *ev)
{
    const char *ts = json_string_value (json_object_get (ev, "ts"));
    printf ("%s %s", ts ? ts : "-", topic);
    const char *key;
    json_t *v;
    json_object_foreach (ev, key, v)
    {
        if (strcmp (key, "ts") == 0 || strcmp (key, "epoch") == 0)
            continue;
        if (json_is_string (v)) {
            const char *s = json_string_value (v);
            bool plain = *s && strpbrk (s, " \t\"=") == NULL;
            if (plain)
                printf (" %s=%s", key, s);
            else {
                char *q = json_dumps (v, JSON_ENCODE_ANY);
                printf (" %s=%s", key, q ? q : "?");
                free (q);
            }
        }
        else {
            char *s = json_dumps (v, JSON_COMPACT | JSON_ENCODE_ANY);
            printf (" %s=%s", key, s ? s : "?");
            free (s);
        }
    }
    printf ("\n");
}

/* events [TOPIC...] [--all] [-n N] [-s S]. */
int
cli_cmd_events (cli_t *cli)
{
    uint64_t count = 0, seconds = 0;
    const char *c = cli_opt (cli, "count");
    const char *s = cli_opt (cli, "seconds");
    if (c && (cli_parse_u64 (c, UINT32_MAX, &count) || count == 0))
        return cli_usage_error (cli, "bad --count '%s'", c);
    if (s && cli_parse_u64 (s, 86400 * 365, &seconds))
        return cli_usage_error (cli, "bad --seconds '%s'", s);
    const char *topics[WATCH_MAX_TOPICS];
    int ntopics = 0;
    static const char *defaults[] = {"session.", "daemon."};
    if (cli_opt (cli, "all"))
        topics[ntopics++] = "";
    for (int i = 0; i < cli->argc && ntopics < WATCH_MAX_TOPICS; i++)
        topics[ntopics++] = cli->argv[i];
    if (ntopics == 0) {
        topics[0] = defaults[0];
        topics[1] = defaults[1];
        ntopics = 2;
    }
    s_sub_t sub;
    int status = s_sub_open (cli, &sub, topics, ntopics);
    if (status) {
        s_sub_close (&sub);
        return status;
    }
    cli_catch_signals ();
    int64_t end = seconds ? cli_now_ms () + (int64_t)seconds * 1000 : INT64_MAX;
    uint64_t seen = 0;
    while (!cli_interrupted && (!count || seen < count)) {
        int64_t now = cli_now_ms ();
        if (now >= end)
            break;
        zmq_pollitem_t item = {sub.sub, 0, ZMQ_POLLIN, 0};
        int64_t wait = end - now < 500 ? end - now : 500;
        if (zmq_poll (&item, 1, (long)wait) < 0) {
            if (errno == EINTR)
                continue;
            status = cli_fail_with (CLI_EXIT_FAILURE, "CLIENT_IO: zmq_poll: %s",
                                    zmq_strerror (errno));
            break;
        }
        for (int k = 0; k < 1000 && (!count || seen < count); k++) {
            char topic[128];
            json_t *ev;
            int got = s_sub_recv (&sub, topic, sizeof topic, &ev);
            if (got <= 0)
                break;
            if (cli->json) {
                json_t *o = json_pack ("{s:s}", "topic", topic);
                json_object_update (o, ev);
                char *line = json_dumps (o, JSON_COMPACT | JSON_PRESERVE_ORDER);
                if (line)
                    printf ("%s\n", line);
                free (line);
                json_decref (o);
            }
            else
                s_print_event (topic, ev);
            json_decref (ev);
            seen++;
        }
        if (fflush (stdout) != 0 || ferror (stdout))
            break; /* the reader went away (EPIPE) */
    }
    s_sub_close (&sub);
    return status;
}

/* ------------------------------------------------------------------ top */

typedef struct {
    char id[UISCSI_SESSION_MAX];
    char state[32];
    char target[224];
    bool listed; /* seen in the last session.list */
    int64_t in_flight;
    int64_t window;
    /* last session.metrics */
    bool have;
    int64_t ts_ms;
    int64_t commands, bytes_in, bytes_out;
    /* rates from the last two */
    double iops, in_bps, out_bps;
    int64_t rate_ms; /* when the rates were computed (event time) */
} s_row_t;

typedef struct {
    s_row_t *rows;
    int n;
    int cap;
} s_table_t;

/* The row of id, created when missing (NULL when full). */
static s_row_t *
s_row (s_table_t *t, const char *id)
{
    for (int i = 0; i < t->n; i++)
        if (strcmp (t->rows[i].id, id) == 0)
            return &t->rows[i];
    if (t->n == t->cap) {
        if (t->cap >= TOP_MAX_SESSIONS)
            return NULL;
        int cap = t->cap ? t->cap * 2 : 16;
        s_row_t *r = realloc (t->rows, (size_t)cap * sizeof *r);
        if (!r)
            return NULL;
        t->rows = r;
        t->cap = cap;
    }
    s_row_t *r = &t->rows[t->n++];
    memset (r, 0, sizeof *r);
    snprintf (r->id, sizeof r->id, "%s", id);
    snprintf (r->state, sizeof r->state, "?");
    return r;
}

/* Milliseconds since the epoch of an RFC 3339 UTC time, or -1. */
static int64_t
s_parse_ts (const char *ts)
{
    struct tm tm;
    int ms = 0;
    memset (&tm, 0, sizeof tm);
    if (!ts
        || sscanf (ts, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon,
                   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms)
               < 6)
        return -1;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    time_t t = timegm (&tm);
    return (int64_t)t * 1000 + ms;
}

/* Feeds one session.metrics / session.state event. */
static void
s_top_event (s_table_t *t, const char *topic, json_t *ev)
{
    const char *id = json_string_value (json_object_get (ev, "session"));
    if (!id || strncmp (id, "discovery-", 10) == 0)
        return;
    if (strcmp (topic, "session.state") == 0) {
        s_row_t *r = s_row (t, id);
        const char *to = json_string_value (json_object_get (ev, "to"));
        if (r && to)
            snprintf (r->state, sizeof r->state, "%s", to);
        return;
    }
    if (strcmp (topic, "session.metrics") != 0)
        return;
    s_row_t *r = s_row (t, id);
    if (!r)
        return;
    int64_t ts = s_parse_ts (json_string_value (json_object_get (ev, "ts")));
    if (ts < 0)
        ts = cli_now_ms ();
    int64_t cmds = json_integer_value (json_object_get (ev, "commands"));
    int64_t bin = json_integer_value (json_object_get (ev, "bytes_in"));
    int64_t bout = json_integer_value (json_object_get (ev, "bytes_out"));
    if (r->have && ts > r->ts_ms) {
        double dt = (double)(ts - r->ts_ms) / 1000.0;
        r->iops = cmds >= r->commands ? (double)(cmds - r->commands) / dt : 0;
        r->in_bps = bin >= r->bytes_in ? (double)(bin - r->bytes_in) / dt : 0;
        r->out_bps = bout >= r->bytes_out ? (double)(bout - r->bytes_out) / dt : 0;
        r->rate_ms = ts;
    }
    r->have = true;
    r->ts_ms = ts;
    r->commands = cmds;
    r->bytes_in = bin;
    r->bytes_out = bout;
    r->in_flight = json_integer_value (json_object_get (ev, "in_flight"));
    r->window = json_integer_value (json_object_get (ev, "cmdsn_window"));
    const char *st = json_string_value (json_object_get (ev, "state"));
    if (st)
        snprintf (r->state, sizeof r->state, "%s", st);
}

/* Refreshes the roster from session.list (drops sessions gone). */
static int
s_top_roster (cli_t *cli, s_table_t *t)
{
    uiscsi_result_t *r;
    if (cli_call (cli, "session.list", NULL, NULL, 0, &r))
        return -1;
    for (int i = 0; i < t->n; i++)
        t->rows[i].listed = false;
    size_t i;
    json_t *s;
    json_array_foreach (json_object_get (uiscsi_result_json (r), "sessions"), i, s)
    {
        const char *id = json_string_value (json_object_get (s, "session"));
        s_row_t *row = id ? s_row (t, id) : NULL;
        if (!row)
            continue;
        row->listed = true;
        const char *st = json_string_value (json_object_get (s, "state"));
        const char *tg = json_string_value (json_object_get (s, "target"));
        if (st)
            snprintf (row->state, sizeof row->state, "%s", st);
        if (tg)
            snprintf (row->target, sizeof row->target, "%s", tg);
        row->in_flight = json_integer_value (json_object_get (s, "in_flight"));
        row->window = json_integer_value (json_object_get (s, "cmdsn_window"));
    }
    uiscsi_result_destroy (&r);
    int k = 0;
    for (int j = 0; j < t->n; j++)
        if (t->rows[j].listed)
            t->rows[k++] = t->rows[j];
    t->n = k;
    return 0;
}

/* Rates older than 3 s (no metrics since) count as idle. */
static bool
s_stale (const s_row_t *r, int64_t now_wall_ms)
{
    return !r->have || r->rate_ms == 0 || now_wall_ms - r->rate_ms > 3000;
}

/* Draws the table (or prints a JSON line). */
static void
s_top_draw (const cli_t *cli, const s_table_t *t, bool tty, const char *note)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    int64_t wall = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    if (cli->json) {
        json_t *list = json_array ();
        for (int i = 0; i < t->n; i++) {
            const s_row_t *r = &t->rows[i];
            bool stale = s_stale (r, wall);
            json_array_append_new (
                list,
                json_pack ("{s:s, s:s, s:s, s:f, s:f, s:f, s:I, s:I, s:I}", "session",
                           r->id, "state", r->state, "target", r->target, "iops",
                           stale ? 0.0 : r->iops, "read_mib_s",
                           stale ? 0.0 : r->in_bps / 1048576.0, "write_mib_s",
                           stale ? 0.0 : r->out_bps / 1048576.0, "in_flight",
                           (json_int_t)r->in_flight, "cmdsn_window",
                           (json_int_t)r->window, "commands", (json_int_t)r->commands));
        }
        json_t *j =
            json_pack ("{s:I, s:o}", "time_ms", (json_int_t)wall, "sessions", list);
        char *line = json_dumps (j, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (line)
            printf ("%s\n", line);
        free (line);
        json_decref (j);
        fflush (stdout);
        return;
    }
    struct tm tm;
    time_t secs = now.tv_sec;
    localtime_r (&secs, &tm);
    if (tty)
        printf ("\033[H\033[2J");
    printf ("uiscsictl top - %02d:%02d:%02d - %d session%s%s%s\n", tm.tm_hour, tm.tm_min,
            tm.tm_sec, t->n, t->n == 1 ? "" : "s", tty ? " - q quits" : "",
            note ? note : "");
    printf ("%-10s %-14s %9s %11s %11s %8s %6s  %s\n", "SESSION", "STATE", "IOPS",
            "READ MiB/s", "WRITE MiB/s", "INFLIGHT", "WINDOW", "TARGET");
    for (int i = 0; i < t->n; i++) {
        const s_row_t *r = &t->rows[i];
        bool stale = s_stale (r, wall);
        printf ("%-10s %-14s %9.0f %11.2f %11.2f %8lld %6lld  %s\n", r->id, r->state,
                stale ? 0.0 : r->iops, stale ? 0.0 : r->in_bps / 1048576.0,
                stale ? 0.0 : r->out_bps / 1048576.0, (long long)r->in_flight,
                (long long)r->window, r->target);
    }
    if (!tty)
        printf ("\n");
    fflush (stdout);
}

/* top [-n N] [--interval-ms MS]. */
int
cli_cmd_top (cli_t *cli)
{
    uint64_t count = 0, interval = 1000;
    const char *c = cli_opt (cli, "count");
    const char *iv = cli_opt (cli, "interval-ms");
    if (c && (cli_parse_u64 (c, UINT32_MAX, &count) || count == 0))
        return cli_usage_error (cli, "bad --count '%s'", c);
    if (iv && (cli_parse_u64 (iv, 3600000, &interval) || interval < 100))
        return cli_usage_error (cli, "bad --interval-ms '%s' (100..3600000)", iv);
    static const char *topics[] = {"session.metrics", "session.state"};
    s_sub_t sub;
    int status = s_sub_open (cli, &sub, topics, 2);
    if (status) {
        s_sub_close (&sub);
        return status;
    }
    bool tty = isatty (STDOUT_FILENO) && !cli->json;
    bool keys = tty && isatty (STDIN_FILENO);
    struct termios saved;
    if (keys && tcgetattr (STDIN_FILENO, &saved) == 0) {
        struct termios raw = saved;
        raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        tcsetattr (STDIN_FILENO, TCSANOW, &raw);
    }
    else
        keys = false;
    if (tty)
        printf ("\033[?1049h\033[?25l");
    cli_catch_signals ();
    s_table_t table = {NULL, 0, 0};
    uint64_t draws = 0;
    int64_t next = cli_now_ms ();
    bool quit = false;
    while (!cli_interrupted && !quit && (!count || draws < count)) {
        int64_t now = cli_now_ms ();
        if (now >= next) {
            const char *note = NULL;
            if (s_top_roster (cli, &table)) {
                status = cli_exit_for_name (cli->err.name);
                if (status == CLI_EXIT_NO_DAEMON || !tty) {
                    if (tty)
                        printf ("\033[?25h\033[?1049l");
                    tty = false;
                    cli_report_error (cli);
                    break;
                }
                uiscsi_error_clear (&cli->err);
                status = 0;
                note = " - session.list failed";
            }
            s_top_draw (cli, &table, tty, note);
            if (ferror (stdout))
                break;
            draws++;
            next += (int64_t)interval;
            if (next < now)
                next = now + (int64_t)interval;
            continue;
        }
        zmq_pollitem_t items[2] = {{sub.sub, 0, ZMQ_POLLIN, 0},
                                   {NULL, STDIN_FILENO, ZMQ_POLLIN, 0}};
        if (zmq_poll (items, keys ? 2 : 1, (long)(next - now)) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int k = 0; k < 10000; k++) {
            char topic[64];
            json_t *ev;
            if (s_sub_recv (&sub, topic, sizeof topic, &ev) <= 0)
                break;
            s_top_event (&table, topic, ev);
            json_decref (ev);
        }
        if (keys && (items[1].revents & ZMQ_POLLIN)) {
            char buf[16];
            ssize_t n = read (STDIN_FILENO, buf, sizeof buf);
            for (ssize_t i = 0; i < n; i++)
                if (buf[i] == 'q' || buf[i] == 'Q' || buf[i] == 3)
                    quit = true;
        }
    }
    if (tty)
        printf ("\033[?25h\033[?1049l");
    fflush (stdout);
    if (keys)
        tcsetattr (STDIN_FILENO, TCSANOW, &saved);
    free (table.rows);
    s_sub_close (&sub);
    return status;
}
