/* libiscsi_load.c: the libiscsi side of bench/: a READ16/WRITE16 load
 * generator on libiscsi's async API, the counterpart of uiscsi_load.c (same
 * options, same output line), after shared/target/lab-iobench.c.
 *
 * One session, one connection, QD commands in flight for SECS seconds.
 * Ops: read, write, mix (READPCT % reads, random LBAs). Sequential LBAs by
 * default, wrapping at the end of the LUN; -r for random. Latency per
 * command from the *_task call to its callback; CPU of this process over the
 * timed window (login excluded). Bounded: stops issuing at the deadline,
 * then waits at most 10 s for the commands in flight.
 *
 * Login proposals: libiscsi's defaults (MaxRecvDataSegmentLength 262144,
 * FirstBurstLength 262144, MaxBurstLength 16776192, InitialR2T=No,
 * ImmediateData=Yes), set explicitly with -R; -H proposes HeaderDigest
 * CRC32C (libiscsi never offers DataDigest).
 *
 * Build: cc -O2 -I. -o libiscsi_load bench/libiscsi_load.c bench/bench_util.c -liscsi
 * Usage: libiscsi_load [-o read|write|mix] [-b BYTES] [-q QD] [-t SECS] [-r]
 *          [-m READPCT] [-R] [-H] [-s SEED] iscsi://HOST:PORT/IQN/LUN */
#include "bench_util.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

typedef struct _load_t load_t;

/* One command slot: its write buffer and its submit time. */
typedef struct {
    load_t *load;
    unsigned char *buf;
    int64_t t_submit;
} slot_t;

/* The run: context, LUN geometry, workload, counters. */
struct _load_t {
    struct iscsi_context *iscsi;
    int lun;
    int write;
    int mix;
    int random;
    int read_pct;
    long bytes;
    uint32_t block_size;
    uint64_t nblocks;
    uint32_t xfer_blocks;
    uint64_t next_lba;
    uint64_t rng;
    int in_flight;
    int stopping;
    int failed;
    uint64_t ios;
    uint64_t errors;
    bench_lat_t *lat;
};

/* Prints usage and exits 2. */
static void
s_usage (void)
{
    fprintf (stderr, "usage: libiscsi_load [-o read|write|mix] [-b BYTES] [-q QD] "
                     "[-t SECS] [-r] [-m READPCT] [-R] [-H] [-s SEED] "
                     "iscsi://HOST:PORT/IQN/LUN\n");
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

static int s_issue (slot_t *s);

/* Completion callback: latency, counters, frees the task, issues the next
 * command unless stopping. */
static void
s_cb (struct iscsi_context *iscsi, int status, void *command_data, void *private_data)
{
    slot_t *s = private_data;
    load_t *self = s->load;
    struct scsi_task *task = command_data;
    int64_t t = bench_now_ns ();
    (void)iscsi;
    self->in_flight--;
    if (status != SCSI_STATUS_GOOD) {
        if (self->errors++ < 5)
            fprintf (stderr, "libiscsi_load: command failed: status %d: %s\n", status,
                     iscsi_get_error (self->iscsi));
        if (self->errors > 100)
            self->failed = 1;
    }
    else {
        self->ios++;
        bench_lat_add (self->lat, t - s->t_submit);
    }
    if (task)
        scsi_free_scsi_task (task);
    if (!self->stopping && !self->failed)
        s_issue (s);
}

/* Queues one READ16 or WRITE16 for slot s. 0 or -1. */
static int
s_issue (slot_t *s)
{
    load_t *self = s->load;
    uint64_t lba = s_pick_lba (self);
    uint32_t len = self->xfer_blocks * self->block_size;
    int wr = self->write
             || (self->mix && (int)(bench_rand (&self->rng) % 100) >= self->read_pct);
    struct scsi_task *t;
    s->t_submit = bench_now_ns ();
    if (wr)
        t = iscsi_write16_task (self->iscsi, self->lun, lba, s->buf, len,
                                self->block_size, 0, 0, 0, 0, 0, s_cb, s);
    else
        t = iscsi_read16_task (self->iscsi, self->lun, lba, len, self->block_size, 0, 0,
                               0, 0, 0, s_cb, s);
    if (!t) {
        fprintf (stderr, "libiscsi_load: cannot queue command: %s\n",
                 iscsi_get_error (self->iscsi));
        self->failed = 1;
        return -1;
    }
    self->in_flight++;
    return 0;
}

/* Logs in and reads the LUN's geometry (READ CAPACITY 16), retrying past
 * the UNIT ATTENTION of a new login. */
static int
s_open (load_t *self, const char *url_text, int tuned, int hdigest)
{
    struct iscsi_url *url = iscsi_parse_full_url (self->iscsi, url_text);
    if (!url) {
        fprintf (stderr, "libiscsi_load: bad URL: %s\n", iscsi_get_error (self->iscsi));
        return -1;
    }
    iscsi_set_session_type (self->iscsi, ISCSI_SESSION_NORMAL);
    if (tuned) {
        iscsi_set_initial_r2t (self->iscsi, ISCSI_INITIAL_R2T_NO);
        iscsi_set_immediate_data (self->iscsi, ISCSI_IMMEDIATE_DATA_YES);
    }
    iscsi_set_header_digest (self->iscsi, hdigest ? ISCSI_HEADER_DIGEST_CRC32C
                                                  : ISCSI_HEADER_DIGEST_NONE);
    if (iscsi_full_connect_sync (self->iscsi, url->portal, url->lun) != 0) {
        fprintf (stderr, "libiscsi_load: login failed: %s\n",
                 iscsi_get_error (self->iscsi));
        iscsi_destroy_url (url);
        return -1;
    }
    self->lun = url->lun;
    iscsi_destroy_url (url);
    for (int i = 0; i < 5; i++) {
        struct scsi_task *task = iscsi_readcapacity16_sync (self->iscsi, self->lun);
        struct scsi_readcapacity16 *rc16;
        if (task && task->status == SCSI_STATUS_GOOD
            && (rc16 = scsi_datain_unmarshall (task))) {
            self->block_size = rc16->block_length;
            self->nblocks = rc16->returned_lba + 1;
            scsi_free_scsi_task (task);
            return 0;
        }
        if (task)
            scsi_free_scsi_task (task);
    }
    fprintf (stderr, "libiscsi_load: READ CAPACITY(16) failed: %s\n",
             iscsi_get_error (self->iscsi));
    return -1;
}

/* Runs the event loop until every command is back (bounded). Returns the
 * elapsed seconds, or -1. */
static double
s_run (load_t *self, slot_t *slots, long qd, double secs)
{
    int64_t t0 = bench_now_ns ();
    int64_t deadline = t0 + (int64_t)(secs * 1e9);
    for (long i = 0; i < qd; i++)
        if (s_issue (&slots[i]))
            return -1;
    while (self->in_flight > 0) {
        struct pollfd pfd = {.fd = iscsi_get_fd (self->iscsi),
                             .events = (short)iscsi_which_events (self->iscsi)};
        int r = poll (&pfd, 1, 100);
        if (r < 0 && errno != EINTR) {
            perror ("libiscsi_load: poll");
            return -1;
        }
        if (iscsi_service (self->iscsi, r > 0 ? pfd.revents : 0) < 0) {
            fprintf (stderr, "libiscsi_load: iscsi_service: %s\n",
                     iscsi_get_error (self->iscsi));
            return -1;
        }
        int64_t t = bench_now_ns ();
        if (!self->stopping && (t >= deadline || self->failed))
            self->stopping = 1;
        if (t >= deadline + 10000000000ll) {
            fprintf (stderr, "libiscsi_load: %d commands still in flight after 10 s\n",
                     self->in_flight);
            return -1;
        }
    }
    return (double)(bench_now_ns () - t0) / 1e9;
}

/* Parses the options, logs in, runs, prints. */
int
main (int argc, char **argv)
{
    const char *opname = "read";
    long qd = 1;
    double secs = 5;
    int c, tuned = 0, hdigest = 0;
    load_t self;
    memset (&self, 0, sizeof self);
    self.bytes = 4096;
    self.read_pct = 70;
    self.rng = 0x9e3779b97f4a7c15ull;
    while ((c = getopt (argc, argv, "o:b:q:t:rm:RHs:")) != -1) {
        switch (c) {
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
        case 'R':
            tuned = 1;
            break;
        case 'H':
            hdigest = 1;
            break;
        case 's':
            self.rng = strtoull (optarg, NULL, 0) | 1;
            break;
        default:
            s_usage ();
        }
    }
    if (!strcmp (opname, "write"))
        self.write = 1;
    else if (!strcmp (opname, "mix"))
        self.mix = 1, self.random = 1;
    else if (strcmp (opname, "read"))
        s_usage ();
    if (optind != argc - 1 || self.bytes <= 0 || self.bytes > (64l << 20) || qd <= 0
        || qd > 1024 || secs <= 0 || secs > 600 || self.read_pct < 0
        || self.read_pct > 100)
        s_usage ();

    self.iscsi = iscsi_create_context ("iqn.2026-11.dev.uiscsi:bench-libiscsi");
    if (!self.iscsi || s_open (&self, argv[optind], tuned, hdigest))
        return 1;
    if (self.bytes % self.block_size
        || (uint64_t)(self.bytes / self.block_size) > self.nblocks) {
        fprintf (stderr, "libiscsi_load: bytes must be a multiple of %u and fit\n",
                 self.block_size);
        return 2;
    }
    self.xfer_blocks = (uint32_t)(self.bytes / self.block_size);
    slot_t *slots = calloc ((size_t)qd, sizeof *slots);
    self.lat = bench_lat_new ((size_t)8 << 20);
    if (!slots || !self.lat)
        return 1;
    for (long i = 0; i < qd; i++) {
        slots[i].load = &self;
        slots[i].buf = malloc ((size_t)self.bytes);
        if (!slots[i].buf)
            return 1;
        memset (slots[i].buf, 0xa5 ^ (int)i, (size_t)self.bytes);
    }

    double c0 = bench_cpu_self_s ();
    double el = s_run (&self, slots, qd, secs);
    double c1 = bench_cpu_self_s ();
    if (el < 0)
        return 1;
    bench_result_t r = {"libiscsi",
                        opname,
                        self.bytes,
                        qd,
                        el,
                        self.ios,
                        self.errors,
                        bench_lat_quantile_us (self.lat, 0.50),
                        bench_lat_quantile_us (self.lat, 0.99),
                        c1 - c0,
                        0};
    bench_print (&r);
    iscsi_logout_sync (self.iscsi);
    iscsi_destroy_context (self.iscsi);
    for (long i = 0; i < qd; i++)
        free (slots[i].buf);
    free (slots);
    bench_lat_destroy (&self.lat);
    return self.errors ? 1 : 0;
}
