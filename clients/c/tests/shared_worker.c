/* shared_worker.c: one worker of tests/integration/test_shared_clients.py,
 * on the C client library: attaches to (or opens) a shared session, then
 * writes random data to its own LBA region and reads it back, pipelined
 * (depth writes in flight, then depth reads), checking every byte, for
 * duration_ms. Prints one JSON line per step on stdout:
 *   {"open": {"session", "attached"}}, {"ready": true} (the opener has
 *   taken the UNIT ATTENTION of the new nexus), then after a line on stdin
 *   ("go") the I/O: {"round": n} (every round), {"done": rounds,
 *   "mismatches": m, "errors": e}; then after another line on stdin it
 *   releases its handle (session.close) and prints {"close": {"ok": bool}}. Exit status 0
 * when nothing failed.
 *
 * usage: shared_worker RPC PORTAL TARGET LUN LBA BLOCKS DEPTH DURATION_MS SEED
 *        [BURST_LBA BURST_BLOCKS HANG_PORTAL]
 * Build: gcc -std=c11 -D_GNU_SOURCE -o shared_worker shared_worker.c
 *        ../uiscsi.c ../uiscsi_api.c -lzmq -ljansson */
#include "../uiscsi.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_DEPTH_MAX 64
#define S_BLOCK     512
#define S_BURST     128 /* writes submitted at once on SIGUSR1 */

static volatile sig_atomic_t s_burst;

/* SIGUSR1: the test is about to kill this worker. */
static void
s_on_usr1 (int sig)
{
    (void)sig;
    s_burst = 1;
}

/* Monotonic milliseconds. */
static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* xorshift64: the worker's random data (seeded per worker). */
static uint64_t
s_rand (uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

/* Waits for n completions (bounded by the client's deadlines); checks the
 * reads against want (depth buffers of len bytes, the completion's user is
 * the index). Adds to *mismatches and *errors. */
static void
s_collect (uiscsi_t *c, int n, uint8_t *want, size_t len, bool reads, long *mismatches,
           long *errors)
{
    for (int got = 0; got < n;) {
        uiscsi_completion_t comp;
        uiscsi_error_t err = {0};
        int rc = uiscsi_poll (c, 60000, &comp, &err);
        if (rc < 0) {
            fprintf (stderr, "poll: %s\n", err.message);
            uiscsi_error_clear (&err);
            (*errors)++;
            return;
        }
        if (rc == 0) {
            (*errors)++;
            return;
        }
        got++;
        if (comp.status != 0) {
            fprintf (stderr, "call failed: %s %s\n", comp.error.name, comp.error.message);
            uiscsi_error_clear (&comp.error);
            (*errors)++;
            continue;
        }
        if (reads) {
            size_t k = (size_t)(uintptr_t)comp.user;
            const void *data = NULL;
            size_t size = 0;
            if (k >= S_DEPTH_MAX || uiscsi_result_data (comp.result, &data, &size) != 0
                || size != len || memcmp (data, want + k * len, len) != 0)
                (*mismatches)++;
        }
        uiscsi_result_destroy (&comp.result);
    }
}

int
main (int argc, char **argv)
{
    if (argc != 10 && argc != 13) {
        fprintf (stderr,
                 "usage: %s RPC PORTAL TARGET LUN LBA BLOCKS DEPTH DURATION_MS SEED "
                 "[BURST_LBA BURST_BLOCKS HANG_PORTAL]\n",
                 argv[0]);
        return 2;
    }
    const char *rpc = argv[1], *portal = argv[2], *target = argv[3];
    int lun = atoi (argv[4]);
    uint64_t lba = strtoull (argv[5], NULL, 0);
    uint32_t blocks = (uint32_t)strtoul (argv[6], NULL, 0);
    int depth = atoi (argv[7]);
    int64_t duration = strtoll (argv[8], NULL, 0);
    uint64_t seed = strtoull (argv[9], NULL, 0) | 1;
    uint64_t burst_lba = argc == 13 ? strtoull (argv[10], NULL, 0) : lba;
    uint32_t burst_blocks = argc == 13 ? (uint32_t)strtoul (argv[11], NULL, 0) : blocks;
    const char *hang_portal = argc == 13 ? argv[12] : NULL;
    if (depth < 1 || depth > S_DEPTH_MAX || blocks < 1 || blocks > 256 || burst_blocks < 1
        || burst_blocks > 256)
        return 2;
    setvbuf (stdout, NULL, _IOLBF, 0);
    struct sigaction sa;
    memset (&sa, 0, sizeof sa);
    sa.sa_handler = s_on_usr1;
    sigaction (SIGUSR1, &sa, NULL);
    uiscsi_error_t err = {0};
    uiscsi_t *c = uiscsi_connect (rpc, &err);
    if (!c) {
        fprintf (stderr, "connect: %s\n", err.message);
        return 1;
    }
    char session[UISCSI_SESSION_MAX];
    uiscsi_result_t *r = NULL;
    if (uiscsi_session_open (c, portal, target,
                             json_pack ("{s:b, s:i}", "share", 1, "timeout_ms", 15000),
                             session, &r, &err)
        != 0) {
        fprintf (stderr, "session.open: %s %s\n", err.name, err.message);
        uiscsi_close (&c);
        return 1;
    }
    bool attached = uiscsi_result_bool (r, "attached", false);
    printf ("{\"open\": {\"session\": \"%s\", \"attached\": %s}}\n", session,
            attached ? "true" : "false");
    uiscsi_result_destroy (&r);
    /* The opener takes the new I_T nexus's UNIT ATTENTION (bounded). */
    for (int t = 0; !attached && t < 5; t++) {
        if (uiscsi_scsi_test_unit_ready (c, session, lun, &err) == 0)
            break;
        uiscsi_error_clear (&err);
    }
    printf ("{\"ready\": true}\n");
    char line[64];
    if (!fgets (line, sizeof line, stdin)) /* "go" */
        line[0] = '\0';

    size_t len = (size_t)blocks * S_BLOCK;
    uint8_t *want = malloc ((size_t)depth * len);
    if (!want)
        return 1;
    long rounds = 0, mismatches = 0, errors = 0;
    int64_t end = s_now_ms () + duration;
    while (s_now_ms () < end && errors == 0) {
        if (s_burst) {
            size_t blen = (size_t)burst_blocks * S_BLOCK;
            uint8_t *bdata = calloc (1, blen);
            int n = 0;
            for (; bdata && n < S_BURST; n++) {
                uiscsi_buf_t buf = {bdata, blen, NULL, NULL};
                if (uiscsi_submit_scsi_write (c, session, lun,
                                              burst_lba + (uint64_t)n * burst_blocks,
                                              burst_blocks, &buf, NULL, &err)
                    < 0)
                    break;
            }
            /* A login to a portal that never answers: in flight for sure. */
            if (hang_portal
                && uiscsi_submit (c, "session.open",
                                  json_pack ("{s:s, s:s, s:b, s:i}", "portal",
                                             hang_portal, "target",
                                             "iqn.2026-11.dev.uiscsi:hang", "share", 0,
                                             "timeout_ms", 3000),
                                  NULL, 0, NULL, &err)
                       < 0)
                n = -1;
            printf ("{\"burst\": %d}\n", n);
            struct timespec ts = {30, 0};
            nanosleep (&ts, NULL); /* killed here */
            return 1;
        }
        for (int k = 0; k < depth; k++) {
            for (size_t b = 0; b < len; b += 8) {
                uint64_t v = s_rand (&seed);
                memcpy (want + (size_t)k * len + b, &v, 8);
            }
            uiscsi_buf_t buf = {want + (size_t)k * len, len, NULL, NULL};
            if (uiscsi_submit_scsi_write (c, session, lun, lba + (uint64_t)k * blocks,
                                          blocks, &buf, NULL, &err)
                < 0) {
                fprintf (stderr, "submit write: %s\n", err.message);
                errors++;
                break;
            }
        }
        if (errors)
            break;
        s_collect (c, depth, want, len, false, &mismatches, &errors);
        for (int k = 0; k < depth && !errors; k++)
            if (uiscsi_submit_scsi_read (c, session, lun, lba + (uint64_t)k * blocks,
                                         blocks, (void *)(uintptr_t)k, &err)
                < 0) {
                fprintf (stderr, "submit read: %s\n", err.message);
                errors++;
            }
        if (errors)
            break;
        s_collect (c, depth, want, len, true, &mismatches, &errors);
        rounds++;
        printf ("{\"round\": %ld}\n", rounds);
    }
    printf ("{\"done\": %ld, \"mismatches\": %ld, \"errors\": %ld}\n", rounds, mismatches,
            errors);
    if (!fgets (line, sizeof line, stdin)) /* "close" */
        line[0] = '\0';
    int rc = uiscsi_session_close (c, session, false, &err);
    printf ("{\"close\": {\"ok\": %s}}\n", rc == 0 ? "true" : "false");
    uiscsi_error_clear (&err);
    free (want);
    uiscsi_close (&c);
    return rc == 0 && mismatches == 0 && errors == 0 ? 0 : 1;
}
