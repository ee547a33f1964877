/* uiscsi_load.c: load generator for uiscsid through the C client library
 * (clients/c): pipelined uiscsi_submit_* / uiscsi_poll, bulk data as
 * zero-copy attachments, QD requests kept in flight for SECS seconds.
 *
 * Ops: read, write, mix (READPCT % reads, the rest writes; random LBAs) on
 * one LUN of a session it opens (share=false, so a fresh login with the
 * given negotiate proposals), and echo (rpc.echo of BYTES, no session: the
 * RPC floor). Sequential LBAs by default, wrapping at the end of the LUN; -r
 * for random LBAs aligned to the request size.
 *
 * Latency is per command: from just before uiscsi_submit_* to the moment
 * uiscsi_poll hands back its completion. CPU is counted over the timed
 * window only (login and READ CAPACITY excluded): this process (getrusage,
 * ZeroMQ's I/O thread included) and uiscsid (/proc/PID/stat, PID from
 * daemon.info). Bounded: stops issuing at the deadline, then waits at most
 * 10 s for the requests in flight.
 *
 * Build: cc -O2 -I. -o uiscsi_load bench/uiscsi_load.c bench/bench_util.c \
 *          build/libuiscsi.a -lzmq -ljansson
 * Usage: uiscsi_load -e ENDPOINT [-P PORTAL -T TARGET [-L LUN]]
 *          [-o read|write|mix|echo] [-b BYTES] [-q QD] [-t SECS] [-r]
 *          [-m READPCT] [-n NEGOTIATE-JSON] [-s SEED]
 * Output: "# negotiated {...}" then the bench_print line (bench_util.h). */
#include "bench_util.h"
#include "clients/c/uiscsi.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OP_READ, OP_WRITE, OP_MIX, OP_ECHO };

/* One request slot: its buffer (writes, echo) and its submit time. */
typedef struct {
    unsigned char *buf;
    int64_t t_submit;
    int is_write;
} slot_t;

/* The run: client, session, LUN geometry, workload, counters. */
typedef struct {
    uiscsi_t *client;
    char session[UISCSI_SESSION_MAX];
    int lun;
    int op;
    int random;
    int read_pct;
    long bytes;
    uint32_t block_size;
    uint64_t nblocks;
    uint32_t xfer_blocks;
    uint64_t next_lba;
    uint64_t rng;
    uint64_t ios;
    uint64_t errors;
    int in_flight;
    bench_lat_t *lat;
} load_t;

/* Prints usage and exits 2. */
static void
s_usage (void)
{
    fprintf (stderr, "usage: uiscsi_load -e ENDPOINT [-P PORTAL -T TARGET [-L LUN]] "
                     "[-o read|write|mix|echo] [-b BYTES] [-q QD] [-t SECS] [-r] "
                     "[-m READPCT] [-n NEGOTIATE-JSON] [-s SEED]\n");
    exit (2);
}

/* The next LBA: random (aligned to the request size) or sequential with
 * wrap-around. */
static uint64_t
s_pick_lba (load_t *self)
{
    uint64_t slots = self->nblocks / self->xfer_blocks;
    if (self->random)
        return (bench_rand (&self->rng) % slots) * self->xfer_blocks;
    uint64_t lba = self->next_lba;
    self->next_lba += self->xfer_blocks;
    if (self->next_lba + self->xfer_blocks > self->nblocks)
        self->next_lba = 0;
    return lba;
}

/* Submits one request for slot s; the slot's buffer stays ours and unchanged
 * until its completion comes back (zero copy for >= 8 KiB). 0 or -1. */
static int
s_issue (load_t *self, slot_t *s)
{
    uiscsi_error_t err = UISCSI_ERROR_INIT;
    uiscsi_buf_t b = {s->buf, (size_t)self->bytes, NULL, NULL};
    int64_t id;
    s->t_submit = bench_now_ns ();
    if (self->op == OP_ECHO)
        id = uiscsi_submit_rpc_echo (self->client, &b, s, &err);
    else {
        uint64_t lba = s_pick_lba (self);
        s->is_write = self->op == OP_WRITE
                      || (self->op == OP_MIX
                          && (int)(bench_rand (&self->rng) % 100) >= self->read_pct);
        if (s->is_write)
            id = uiscsi_submit_scsi_write (self->client, self->session, self->lun, lba,
                                           self->xfer_blocks, &b, s, &err);
        else
            id = uiscsi_submit_scsi_read (self->client, self->session, self->lun, lba,
                                          self->xfer_blocks, s, &err);
    }
    if (id < 0) {
        fprintf (stderr, "uiscsi_load: submit: %s: %s\n", err.name, err.message);
        uiscsi_error_clear (&err);
        return -1;
    }
    self->in_flight++;
    return 0;
}

/* Handles one completion: latency, size check of read data, counters. */
static void
s_complete (load_t *self, uiscsi_completion_t *c)
{
    slot_t *s = c->user;
    int64_t t = bench_now_ns ();
    self->in_flight--;
    if (c->status != 0) {
        if (self->errors++ < 5)
            fprintf (stderr, "uiscsi_load: request failed: %s: %s\n", c->error.name,
                     c->error.message);
        uiscsi_error_clear (&c->error);
        return;
    }
    if (!s->is_write) {
        const void *d;
        size_t n;
        if (uiscsi_result_data (c->result, &d, &n) || n != (size_t)self->bytes) {
            if (self->errors++ < 5)
                fprintf (stderr, "uiscsi_load: short data: %zu of %ld bytes\n", n,
                         self->bytes);
            uiscsi_result_destroy (&c->result);
            return;
        }
    }
    uiscsi_result_destroy (&c->result);
    self->ios++;
    bench_lat_add (self->lat, t - s->t_submit);
}

/* Opens the session (fresh, with the negotiate proposals) and reads the
 * LUN's geometry, retrying past the UNIT ATTENTION of a new login. */
static int
s_open (load_t *self, const char *portal, const char *target, const char *negotiate)
{
    uiscsi_error_t err = UISCSI_ERROR_INIT;
    uiscsi_result_t *r = NULL;
    json_t *opts = json_pack ("{s:i, s:b}", "timeout_ms", 10000, "share", 0);
    if (negotiate && *negotiate) {
        json_error_t jerr;
        json_t *neg = json_loads (negotiate, 0, &jerr);
        if (!json_is_object (neg)) {
            fprintf (stderr, "uiscsi_load: -n: not a JSON object\n");
            json_decref (neg);
            json_decref (opts);
            return -1;
        }
        json_object_set_new (opts, "negotiate", neg);
    }
    if (uiscsi_session_open (self->client, portal, target, opts, self->session, &r,
                             &err)) {
        fprintf (stderr, "uiscsi_load: session.open: %s: %s\n", err.name, err.message);
        uiscsi_error_clear (&err);
        return -1;
    }
    char *neg = json_dumps (json_object_get (uiscsi_result_json (r), "negotiated"),
                            JSON_COMPACT | JSON_SORT_KEYS);
    printf ("# negotiated %s\n", neg ? neg : "?");
    free (neg);
    uiscsi_result_destroy (&r);
    int rc = -1;
    for (int i = 0; i < 5 && rc; i++) {
        uiscsi_error_clear (&err);
        rc = uiscsi_scsi_read_capacity (self->client, self->session, self->lun,
                                        &self->nblocks, &self->block_size, NULL, &err);
    }
    if (rc) {
        fprintf (stderr, "uiscsi_load: read_capacity: %s: %s\n", err.name, err.message);
        uiscsi_error_clear (&err);
        return -1;
    }
    for (int i = 0;
         i < 5
         && uiscsi_scsi_test_unit_ready (self->client, self->session, self->lun, &err);
         i++)
        uiscsi_error_clear (&err);
    uiscsi_error_clear (&err);
    return 0;
}

/* Runs the timed loop: QD requests in flight until the deadline, then
 * drains (at most 10 s). Returns the elapsed seconds, or -1. */
static double
s_run (load_t *self, slot_t *slots, long qd, double secs)
{
    int64_t t0 = bench_now_ns ();
    int64_t deadline = t0 + (int64_t)(secs * 1e9);
    int stopping = 0;
    for (long i = 0; i < qd; i++)
        if (s_issue (self, &slots[i]))
            return -1;
    while (self->in_flight > 0) {
        uiscsi_completion_t c;
        uiscsi_error_t err = UISCSI_ERROR_INIT;
        int rc = uiscsi_poll (self->client, 100, &c, &err);
        if (rc < 0) {
            fprintf (stderr, "uiscsi_load: poll: %s: %s\n", err.name, err.message);
            uiscsi_error_clear (&err);
            return -1;
        }
        int64_t t = bench_now_ns ();
        if (!stopping && (t >= deadline || self->errors > 100))
            stopping = 1;
        if (t >= deadline + 10000000000ll) {
            fprintf (stderr, "uiscsi_load: %d requests still in flight after 10 s\n",
                     self->in_flight);
            return -1;
        }
        if (rc == 0)
            continue;
        slot_t *s = c.user;
        s_complete (self, &c);
        if (!stopping && s_issue (self, s))
            return -1;
    }
    return (double)(bench_now_ns () - t0) / 1e9;
}

/* Parses the options, connects, opens the session, runs, prints. */
int
main (int argc, char **argv)
{
    const char *endpoint = NULL, *portal = NULL, *target = NULL, *negotiate = NULL;
    const char *opname = "read";
    long qd = 1;
    double secs = 5;
    load_t self;
    memset (&self, 0, sizeof self);
    self.lun = 1;
    self.bytes = 4096;
    self.read_pct = 70;
    self.rng = 0x9e3779b97f4a7c15ull;
    int c;
    while ((c = getopt (argc, argv, "e:P:T:L:o:b:q:t:rm:n:s:")) != -1) {
        switch (c) {
        case 'e':
            endpoint = optarg;
            break;
        case 'P':
            portal = optarg;
            break;
        case 'T':
            target = optarg;
            break;
        case 'L':
            self.lun = atoi (optarg);
            break;
        case 'o':
            opname = optarg;
            break;
        case 'b':
            self.bytes = strtol (optarg, NULL, 0);
            break;
        case 'q':
            qd = strtol (optarg, NULL, 0);
            break;
        case 't':
            secs = strtod (optarg, NULL);
            break;
        case 'r':
            self.random = 1;
            break;
        case 'm':
            self.read_pct = atoi (optarg);
            break;
        case 'n':
            negotiate = optarg;
            break;
        case 's':
            self.rng = strtoull (optarg, NULL, 0) | 1;
            break;
        default:
            s_usage ();
        }
    }
    if (!strcmp (opname, "read"))
        self.op = OP_READ;
    else if (!strcmp (opname, "write"))
        self.op = OP_WRITE;
    else if (!strcmp (opname, "mix"))
        self.op = OP_MIX, self.random = 1;
    else if (!strcmp (opname, "echo"))
        self.op = OP_ECHO;
    else
        s_usage ();
    if (optind != argc || !endpoint || self.bytes <= 0 || self.bytes > (64l << 20)
        || qd <= 0 || qd > 1024 || secs <= 0 || secs > 600 || self.read_pct < 0
        || self.read_pct > 100 || (self.op != OP_ECHO && (!portal || !target)))
        s_usage ();

    uiscsi_error_t err = UISCSI_ERROR_INIT;
    uiscsi_options_t opts = {.timeout_ms = 30000};
    self.client = uiscsi_connect_opts (endpoint, &opts, &err);
    if (!self.client) {
        fprintf (stderr, "uiscsi_load: connect: %s: %s\n", err.name, err.message);
        return 1;
    }
    if (qd > uiscsi_max_in_flight (self.client)) {
        fprintf (stderr, "uiscsi_load: qd %ld above the in-flight limit %d\n", qd,
                 uiscsi_max_in_flight (self.client));
        return 2;
    }
    json_t *info = uiscsi_daemon_info_cached (self.client);
    pid_t dpid = (pid_t)json_integer_value (json_object_get (info, "pid"));
    if (self.op != OP_ECHO) {
        if (s_open (&self, portal, target, negotiate))
            return 1;
        if (self.bytes % self.block_size
            || (uint64_t)(self.bytes / self.block_size) > self.nblocks) {
            fprintf (stderr, "uiscsi_load: bytes must be a multiple of %u and fit\n",
                     self.block_size);
            return 2;
        }
        self.xfer_blocks = (uint32_t)(self.bytes / self.block_size);
    }
    slot_t *slots = calloc ((size_t)qd, sizeof *slots);
    self.lat = bench_lat_new ((size_t)8 << 20);
    if (!slots || !self.lat)
        return 1;
    for (long i = 0; i < qd; i++) {
        slots[i].buf = malloc ((size_t)self.bytes);
        if (!slots[i].buf)
            return 1;
        memset (slots[i].buf, 0xa5 ^ (int)i, (size_t)self.bytes);
    }

    double c0 = bench_cpu_self_s (), d0 = dpid > 0 ? bench_cpu_pid_s (dpid) : -1;
    double el = s_run (&self, slots, qd, secs);
    double c1 = bench_cpu_self_s (), d1 = dpid > 0 ? bench_cpu_pid_s (dpid) : -1;
    if (el < 0)
        return 1;
    bench_result_t r = {"uiscsid",
                        opname,
                        self.bytes,
                        qd,
                        el,
                        self.ios,
                        self.errors,
                        bench_lat_quantile_us (self.lat, 0.50),
                        bench_lat_quantile_us (self.lat, 0.99),
                        c1 - c0,
                        d0 >= 0 && d1 >= 0 ? d1 - d0 : 0};
    bench_print (&r);

    if (self.op != OP_ECHO
        && uiscsi_session_close (self.client, self.session, true, &err))
        uiscsi_error_clear (&err);
    uiscsi_close (&self.client);
    for (long i = 0; i < qd; i++)
        free (slots[i].buf);
    free (slots);
    bench_lat_destroy (&self.lat);
    return self.errors ? 1 : 0;
}
