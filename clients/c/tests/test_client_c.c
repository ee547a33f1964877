/*  test_client_c.c - tests of the uiscsid C client (clients/c).

    Client-only tests always run. With UISCSID naming the daemon binary the
    test starts a private daemon (--foreground --runtime-dir in a temp dir,
    stopped with SIGTERM) and runs the RPC tests; with TGT_PORTAL and
    TGT_IQN_DISK also the tests against the tgt lab (LUN $TGT_DISK_LUN,
    default 1). Without them those tests skip. Every wait is bounded.

    Prints "# qd1_echo_median_us N" and "# pipelined_echo_rps N".
*/

#include "../uiscsi.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

static pid_t s_daemon = -1;
static char s_dir[256];
static char s_endpoint[512];
static uiscsi_t *s_client;
static char s_session[UISCSI_SESSION_MAX];
static int s_lun = 1;
static uint64_t s_blocks;
static uint32_t s_block_size;

/* Monotonic time in microseconds. */
static int64_t
s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Sleeps ms milliseconds (only for waiting on the daemon process). */
static void
s_sleep_ms (int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep (&ts, NULL);
}

/* Fills buf with a pattern derived from seed. */
static void
s_fill (unsigned char *buf, size_t size, uint32_t seed)
{
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < size; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (unsigned char)(x >> 16);
    }
}

/* Starts the daemon named by $UISCSID in a temp runtime dir and connects. */
static int
s_group_setup (void **state)
{
    (void)state;
    const char *bin = getenv ("UISCSID");
    if (!bin || !*bin)
        return 0;
    snprintf (s_dir, sizeof s_dir, "/tmp/uiscsi-ctest.XXXXXX");
    if (!mkdtemp (s_dir))
        return -1;
    snprintf (s_endpoint, sizeof s_endpoint, "ipc://%s/rpc.sock", s_dir);
    s_daemon = fork ();
    if (s_daemon < 0)
        return -1;
    if (s_daemon == 0) {
        int fd = open ("/dev/null", O_WRONLY);
        if (fd >= 0 && !getenv ("UISCSID_LOG"))
            dup2 (fd, 1);
        execl (bin, bin, "--foreground", "--runtime-dir", s_dir, "--log-level", "warn",
               (char *)NULL);
        _exit (127);
    }
    char sock[300];
    snprintf (sock, sizeof sock, "%s/rpc.sock", s_dir);
    struct stat st;
    for (int i = 0; i < 200 && stat (sock, &st) != 0; i++)
        s_sleep_ms (25);
    uiscsi_error_t err = UISCSI_ERROR_INIT;
    s_client = uiscsi_connect (s_endpoint, &err);
    if (!s_client) {
        fprintf (stderr, "connect %s: %s (%s)\n", s_endpoint, err.message, err.name);
        uiscsi_error_clear (&err);
        return -1;
    }
    return 0;
}

/* Stops the daemon (SIGTERM, bounded wait, then SIGKILL) and cleans up. */
static int
s_group_teardown (void **state)
{
    (void)state;
    uiscsi_close (&s_client);
    if (s_daemon > 0) {
        kill (s_daemon, SIGTERM);
        int status = 0;
        pid_t r = 0;
        for (int i = 0; i < 400 && (r = waitpid (s_daemon, &status, WNOHANG)) == 0; i++)
            s_sleep_ms (25);
        if (r == 0) {
            kill (s_daemon, SIGKILL);
            waitpid (s_daemon, &status, 0);
        }
        char cmd[300];
        snprintf (cmd, sizeof cmd, "rm -rf '%s'", s_dir);
        if (system (cmd) != 0)
            fprintf (stderr, "cannot remove %s\n", s_dir);
    }
    return 0;
}

#define NEED_DAEMON()                                                                    \
    do {                                                                                 \
        if (!s_client)                                                                   \
            skip ();                                                                     \
    } while (0)

#define NEED_LAB()                                                                       \
    do {                                                                                 \
        if (!s_client || !getenv ("TGT_PORTAL") || !getenv ("TGT_IQN_DISK"))             \
            skip ();                                                                     \
    } while (0)

/* Error names and messages of the table, both daemon and client codes. */
static void
test_error_names (void **state)
{
    (void)state;
    assert_string_equal (uiscsi_error_name (UISCSI_SCSI_CHECK_CONDITION),
                         "SCSI_CHECK_CONDITION");
    assert_string_equal (uiscsi_error_name (-32602), "INVALID_PARAMS");
    assert_string_equal (uiscsi_error_name (-32014), "PROTOCOL_ERROR");
    assert_string_equal (uiscsi_error_name (UISCSI_CLIENT_FULL), "CLIENT_FULL");
    assert_string_equal (uiscsi_error_name (12345), "UNKNOWN");
    assert_string_equal (uiscsi_strerror (-32001), "Session not found");
    assert_string_equal (uiscsi_strerror (UISCSI_CLIENT_TIMEOUT), "No reply in time");
    uiscsi_error_t err = UISCSI_ERROR_INIT;
    uiscsi_error_clear (&err);
    assert_int_equal (err.code, 0);
    assert_int_equal (err.sense_key, -1);
    assert_null (err.data);
}

/* Endpoint discovery order: $UISCSI_RPC, then root's system socket. */
static void
test_default_endpoint (void **state)
{
    (void)state;
    char buf[512];
    char *saved = getenv ("UISCSI_RPC") ? strdup (getenv ("UISCSI_RPC")) : NULL;
    setenv ("UISCSI_RPC", "ipc:///tmp/x/rpc.sock", 1);
    assert_int_equal (uiscsi_default_endpoint (buf, sizeof buf), 0);
    assert_string_equal (buf, "ipc:///tmp/x/rpc.sock");
    assert_int_equal (uiscsi_default_endpoint (buf, 8), -1);
    unsetenv ("UISCSI_RPC");
    assert_int_equal (uiscsi_default_endpoint (buf, sizeof buf), 0);
    if (geteuid () == 0)
        assert_string_equal (buf, "ipc:///run/uiscsi/rpc.sock");
    else
        assert_true (strncmp (buf, "ipc://", 6) == 0);
    if (saved) {
        setenv ("UISCSI_RPC", saved, 1);
        free (saved);
    }
}

/* No daemon: a missing ipc socket fails at once, a silent tcp peer in time. */
static void
test_connect_no_daemon (void **state)
{
    (void)state;
    uiscsi_error_t err = UISCSI_ERROR_INIT;
    uiscsi_t *c = uiscsi_connect ("ipc:///nonexistent-uiscsi/rpc.sock", &err);
    assert_null (c);
    assert_int_equal (err.code, UISCSI_CLIENT_NO_DAEMON);
    assert_string_equal (err.name, "CLIENT_NO_DAEMON");
    uiscsi_options_t o = {.connect_timeout_ms = 200};
    int64_t t0 = s_now_us ();
    c = uiscsi_connect_opts ("tcp://127.0.0.1:1", &o, &err);
    assert_null (c);
    assert_int_equal (err.code, UISCSI_CLIENT_NO_DAEMON);
    assert_true (s_now_us () - t0 < 3000000);
    uiscsi_error_clear (&err);
}

/* Client-side deadlines: a call and a submitted request time out. */
static void
test_client_timeout (void **state)
{
    (void)state;
    uiscsi_options_t o = {.no_handshake = true, .timeout_ms = 150};
    uiscsi_error_t err = UISCSI_ERROR_INIT;
    uiscsi_t *c = uiscsi_connect_opts ("tcp://127.0.0.1:1", &o, &err);
    assert_non_null (c);
    assert_int_equal (uiscsi_max_in_flight (c), 256);
    int64_t t0 = s_now_us ();
    assert_int_equal (uiscsi_call (c, "daemon.info", NULL, NULL, 0, NULL, &err), -1);
    assert_int_equal (err.code, UISCSI_CLIENT_TIMEOUT);
    assert_true (s_now_us () - t0 < 2000000);
    int64_t id = uiscsi_submit (c, "daemon.info", NULL, NULL, 0, (void *)0x1234, &err);
    assert_true (id >= 1);
    uiscsi_completion_t comp;
    assert_int_equal (uiscsi_poll (c, 2000, &comp, &err), 1);
    assert_int_equal (comp.id, id);
    assert_ptr_equal (comp.user, (void *)0x1234);
    assert_int_equal (comp.status, -1);
    assert_int_equal (comp.error.code, UISCSI_CLIENT_TIMEOUT);
    uiscsi_error_clear (&comp.error);
    /* nothing live any more: poll returns 0 at once */
    assert_int_equal (uiscsi_poll (c, 1000, &comp, &err), 0);
    uiscsi_close (&c);
    assert_null (c);
    uiscsi_error_clear (&err);
}

/* daemon.info: version, API version, limits taken over by the client. */
static void
test_daemon_info (void **state)
{
    (void)state;
    NEED_DAEMON ();
    uiscsi_error_t err = UISCSI_ERROR_INIT;
    uiscsi_result_t *r = NULL;
    assert_int_equal (uiscsi_daemon_info (s_client, &r, &err), 0);
    assert_int_equal (uiscsi_result_int (r, "api_version", 0), 1);
    assert_non_null (uiscsi_result_str (r, "version"));
    assert_true (uiscsi_result_int (r, "pid", 0) == (int64_t)s_daemon);
    json_t *lim = json_object_get (uiscsi_result_json (r), "limits");
    json_t *n = json_object_get (lim, "in_flight_per_client");
    assert_true (json_is_integer (n));
    assert_int_equal (uiscsi_max_in_flight (s_client), (int)json_integer_value (n));
    json_t *ep = json_object_get (uiscsi_result_json (r), "endpoints");
    assert_string_equal (json_string_value (json_object_get (ep, "rpc")), s_endpoint);
    uiscsi_result_destroy (&r);
    assert_null (r);
    assert_int_equal (uiscsi_daemon_stats (s_client, &r, &err), 0);
    assert_true (json_is_object (uiscsi_result_json (r)));
    uiscsi_result_destroy (&r);
    assert_int_equal (uiscsi_session_list (s_client, &r, &err), 0);
    assert_true (json_is_array (json_object_get (uiscsi_result_json (r), "sessions")));
    uiscsi_result_destroy (&r);
}

/* rpc.discover lists every method of docs/api.md with a params schema. */
static void
test_rpc_discover (void **state)
{
    (void)state;
    NEED_DAEMON ();
    uiscsi_error_t err = UISCSI_ERROR_INIT;
    uiscsi_result_t *r = NULL;
    assert_int_equal (uiscsi_rpc_discover (s_client, &r, &err), 0);
    assert_int_equal (uiscsi_result_int (r, "api_version", 0), 1);
    json_t *methods = json_object_get (uiscsi_result_json (r), "methods");
    assert_true (json_array_size (methods) >= 40);
    const char *want[] = {"rpc.echo", "session.open", "scsi.read", "tmf.lun_reset",
                          "raw.execute"};
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
        bool found = false;
        size_t i;
        json_t *m;
        json_array_foreach (methods, i, m)
        {
            if (strcmp (json_string_value (json_object_get (m, "name")), want[w]) == 0) {
                found = true;
                assert_true (json_is_object (json_object_get (m, "params")));
            }
        }
        assert_true (found);
    }
    uiscsi_result_destroy (&r);
}

static atomic_int s_freed;

/* A caller free_fn: counts and frees. */
static void
s_count_free (void *data, void *hint)
{
    free (data); /* runs on ZeroMQ's I/O thread: no cmocka asserts here */
    atomic_fetch_add (&s_freed, hint == (void *)0x5a ? 1 : 100);
}

/* rpc.echo of 1 MiB both ways as attachments, without copies: the result's
   pointer is the received frame and stays valid until the result is
   destroyed, across other traffic. */
static void
test_echo_1mib_zero_copy (void **state)
{
    (void)state;
    NEED_DAEMON ();
    size_t size = 1 << 20;
    unsigned char *buf = malloc (size);
    assert_non_null (buf);
    s_fill (buf, size, 7);
    uiscsi_error_t err = UISCSI_ERROR_INIT;
    uiscsi_result_t *r = NULL;
    uiscsi_buf_t b = {buf, size, NULL, NULL};
    assert_int_equal (uiscsi_rpc_echo (s_client, &b, &r, &err), 0);
    assert_int_equal (uiscsi_result_int (r, "bytes", 0), (int64_t)size);
    const void *data = NULL, *att = NULL;
    size_t n = 0, an = 0;
    json_t *ref = json_object_get (uiscsi_result_json (r), "data");
    assert_int_equal (json_integer_value (json_object_get (ref, "$attachment")), 1);
    assert_int_equal (uiscsi_result_data (r, &data, &n), 0);
    assert_int_equal (uiscsi_result_attachments (r), 1);
    assert_int_equal (uiscsi_result_attachment (r, 1, &att, &an), 0);
    assert_ptr_equal (data, att); /* the frame itself, not a copy */
    assert_true (data != (const void *)buf);
    assert_int_equal (n, size);
    assert_memory_equal (data, buf, size);
    assert_int_equal (uiscsi_result_attachment (r, 2, &att, &an), -1);

    /* Other traffic (another 1 MiB echo, caller-owned buffer freed by the
       library) while the first result is alive. */
    unsigned char *buf2 = malloc (size);
    assert_non_null (buf2);
    s_fill (buf2, size, 8);
    unsigned char *copy2 = malloc (size);
    assert_non_null (copy2);
    memcpy (copy2, buf2, size);
    atomic_store (&s_freed, 0);
    uiscsi_buf_t b2 = {buf2, size, s_count_free, (void *)0x5a};
    uiscsi_result_t *r2 = NULL;
    assert_int_equal (uiscsi_rpc_echo (s_client, &b2, &r2, &err), 0);
    assert_int_equal (atomic_load (&s_freed), 1); /* released before the call returned */
    const void *d2;
    size_t n2;
    assert_int_equal (uiscsi_result_data (r2, &d2, &n2), 0);
    assert_int_equal (n2, size);
    assert_memory_equal (d2, copy2, size);
    uiscsi_result_destroy (&r2);

    /* the first result's bytes are intact (ASan would catch a freed frame) */
    assert_int_equal (uiscsi_result_data (r, &att, &an), 0);
    assert_ptr_equal (att, data);
    assert_memory_equal (data, buf, size);
    uiscsi_result_destroy (&r);

    /* base64 results also resolve (decoded into the result) */
    json_t *p = json_pack ("{s:s}", "data", "aGVsbG8=");
    assert_int_equal (uiscsi_call (s_client, "rpc.echo", p, NULL, 0, &r, &err), 0);
    assert_int_equal (uiscsi_result_data (r, &data, &n), 0);
    assert_int_equal (n, 5);
    assert_memory_equal (data, "hello", 5);
    uiscsi_result_destroy (&r);
    free (copy2);
    free (buf);
}

static int
s_cmp_i64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* rpc.echo round trip at queue depth 1: median of 10000 (reported). */
static void
test_echo_qd1_latency (void **state)
{
    (void)state;
    NEED_DAEMON ();
    enum { N = 10000 };
    int64_t *us = malloc (N * sizeof *us);
    assert_non_null (us);
    unsigned char payload[64];
    s_fill (payload, sizeof payload, 1);
    uiscsi_buf_t b = {payload, sizeof payload, NULL, NULL};
    uiscsi_error_t err = UISCSI_ERROR_INIT;
    for (int i = 0; i < N; i++) {
        uiscsi_result_t *r = NULL;
        int64_t t0 = s_now_us ();
        int rc = uiscsi_rpc_echo (s_client, &b, &r, &err);
        us[i] = s_now_us () - t0;
        assert_int_equal (rc, 0);
        uiscsi_result_destroy (&r);
    }
    qsort (us, N, sizeof *us, s_cmp_i64);
    fprintf (stderr, "# qd1_echo_median_us %lld (p99 %lld)\n", (long long)us[N / 2],
             (long long)us[N * 99 / 100]);
    free (us);
}

/* 10000 rpc.echo pipelined with submit / poll: every reply matched to its
   request (payload carries the index), in-flight bound respected. */
static void
test_echo_pipelined_10000 (void **state)
{
    (void)state;
    NEED_DAEMON ();
    enum { N = 10000 };
    uint32_t *payloads = malloc (N * sizeof *payloads);
    unsigned char *seen = calloc (N, 1);
    assert_non_null (payloads);
    assert_non_null (seen);
    uiscsi_error_t err = UISCSI_ERROR_INIT;
    int max = uiscsi_max_in_flight (s_client);
    int sent = 0, done = 0, peak = 0;
    int64_t t0 = s_now_us ();
    for (int loop = 0; done < N && loop < 10 * N; loop++) {
        while (sent < N && uiscsi_in_flight (s_client) < max) {
            payloads[sent] = (uint32_t)sent * 2654435761u;
            uiscsi_buf_t b = {&payloads[sent], sizeof payloads[sent], NULL, NULL};
            int64_t id =
                uiscsi_submit_rpc_echo (s_client, &b, (void *)(intptr_t)sent, &err);
            assert_true (id >= 1);
            sent++;
        }
        if (uiscsi_in_flight (s_client) > peak)
            peak = uiscsi_in_flight (s_client);
        uiscsi_completion_t c;
        int rc;
        for (int k = 0;
             k < max
             && (rc = uiscsi_poll (s_client, done < sent ? 5000 : 0, &c, &err)) == 1;
             k++) {
            assert_int_equal (c.status, 0);
            int idx = (int)(intptr_t)c.user;
            assert_true (idx >= 0 && idx < N);
            assert_int_equal (seen[idx], 0);
            seen[idx] = 1;
            const void *d;
            size_t n;
            assert_int_equal (uiscsi_result_data (c.result, &d, &n), 0);
            assert_int_equal (n, 4);
            assert_memory_equal (d, &payloads[idx], 4);
            uiscsi_result_destroy (&c.result);
            done++;
            if (uiscsi_pending_completions (s_client) == 0)
                break;
        }
        assert_true (rc >= 0);
    }
    int64_t dt = s_now_us () - t0;
    assert_int_equal (done, N);
    assert_true (peak <= max);
    assert_true (peak > 1);
    assert_int_equal (uiscsi_in_flight (s_client), 0);
    fprintf (stderr, "# pipelined_echo_rps %lld (peak in flight %d of %d)\n",
             (long long)((int64_t)N * 1000000 / (dt ? dt : 1)), peak, max);
    free (seen);
    free (payloads);
}

/* The in-flight bound: with submit_wait_ms 0, submit fails with CLIENT_FULL;
   with a wait, it collects replies and goes on. */
static void
test_in_flight_full (void **state)
{
    (void)state;
    NEED_DAEMON ();
    uiscsi_options_t o = {.max_in_flight = 4};
    uiscsi_error_t err = UISCSI_ERROR_INIT;
    uiscsi_t *c = uiscsi_connect_opts (s_endpoint, &o, &err);
    assert_non_null (c);
    assert_int_equal (uiscsi_max_in_flight (c), 4);
    uint32_t x = 42;
    uiscsi_buf_t b = {&x, sizeof x, NULL, NULL};
    for (int i = 0; i < 4; i++)
        assert_true (uiscsi_submit_rpc_echo (c, &b, NULL, &err) >= 1);
    assert_int_equal (uiscsi_submit_rpc_echo (c, &b, NULL, &err), -1);
    assert_int_equal (err.code, UISCSI_CLIENT_FULL);
    assert_string_equal (err.name, "CLIENT_FULL");
    /* a synchronous call waits for a slot (the 4 replies go to the queue) */
    assert_int_equal (uiscsi_daemon_info (c, NULL, &err), 0);
    assert_int_equal (uiscsi_pending_completions (c), 4);
    uiscsi_close (&c);

    o.submit_wait_ms = 5000;
    c = uiscsi_connect_opts (s_endpoint, &o, &err);
    assert_non_null (c);
    for (int i = 0; i < 8; i++)
        assert_true (uiscsi_submit_rpc_echo (c, &b, NULL, &err) >= 1);
    assert_true (uiscsi_in_flight (c) <= 4);
    uiscsi_completion_t comp;
    int got = 0;
    for (int i = 0; i < 8 && uiscsi_poll (c, 5000, &comp, &err) == 1; i++) {
        assert_int_equal (comp.status, 0);
        uiscsi_result_destroy (&comp.result);
        got++;
    }
    assert_int_equal (got, 8);
    assert_true (uiscsi_fd (c) >= 0);
    uiscsi_close (&c);
    uiscsi_error_clear (&err);
}

/* Typed errors: INVALID_PARAMS naming the param, METHOD_NOT_FOUND,
   SESSION_NOT_FOUND with the session. */
static void
test_typed_errors (void **state)
{
    (void)state;
    NEED_DAEMON ();
    uiscsi_error_t err = UISCSI_ERROR_INIT;
    uiscsi_result_t *r = (uiscsi_result_t *)0x1;
    json_t *p = json_pack ("{s:s, s:i}", "data", "", "bogus_param", 1);
    assert_int_equal (uiscsi_call (s_client, "rpc.echo", p, NULL, 0, &r, &err), -1);
    assert_null (r);
    assert_int_equal (err.code, UISCSI_INVALID_PARAMS);
    assert_string_equal (err.name, "INVALID_PARAMS");
    assert_non_null (err.param);
    assert_string_equal (err.param, "params.bogus_param");
    assert_non_null (err.reason);
    assert_non_null (err.data);

    p = json_pack ("{s:s}", "data", "");
    json_object_set_new (p, "timeout_ms", json_string ("soon"));
    assert_int_equal (uiscsi_call (s_client, "rpc.echo", p, NULL, 0, NULL, &err), -1);
    assert_int_equal (err.code, UISCSI_INVALID_PARAMS);
    assert_string_equal (err.param, "params.timeout_ms");

    assert_int_equal (uiscsi_call (s_client, "no.such_method", NULL, NULL, 0, NULL, &err),
                      -1);
    assert_int_equal (err.code, UISCSI_METHOD_NOT_FOUND);
    assert_string_equal (err.name, "METHOD_NOT_FOUND");

    assert_int_equal (uiscsi_session_get (s_client, "no-such-session", NULL, &err), -1);
    assert_int_equal (err.code, UISCSI_SESSION_NOT_FOUND);
    assert_string_equal (err.name, "SESSION_NOT_FOUND");
    assert_string_equal (uiscsi_error_get_str (&err, "session"), "no-such-session");
    assert_string_equal (err.session, "no-such-session");

    assert_int_equal (uiscsi_scsi_test_unit_ready (s_client, "no-such-session", 0, &err),
                      -1);
    assert_int_equal (err.code, UISCSI_SESSION_NOT_FOUND);

    /* a typo'd attachment reference is the daemon's INVALID_PARAMS too */
    p = json_pack ("{s:{s:i}}", "data", "$attachment", 3);
    assert_int_equal (uiscsi_call (s_client, "rpc.echo", p, NULL, 0, NULL, &err), -1);
    assert_int_equal (err.code, UISCSI_INVALID_PARAMS);
    assert_string_equal (err.param, "params.data");

    /* client-side argument checks */
    assert_int_equal (uiscsi_call (s_client, NULL, NULL, NULL, 0, NULL, &err), -1);
    assert_int_equal (err.code, UISCSI_CLIENT_INVALID);
    assert_int_equal (
        uiscsi_call (s_client, "rpc.echo", json_string ("x"), NULL, 0, NULL, &err), -1);
    assert_int_equal (err.code, UISCSI_CLIENT_INVALID);
    uiscsi_error_clear (&err);
    assert_null (err.data);
}

/* Lab: session.open, session.get, INQUIRY, READ CAPACITY, TEST UNIT READY,
   NOP, raw TUR. */
static void
test_lab_session_open (void **state)
{
    (void)state;
    NEED_LAB ();
    if (getenv ("TGT_DISK_LUN"))
        s_lun = atoi (getenv ("TGT_DISK_LUN"));
    uiscsi_error_t err = UISCSI_ERROR_INIT;
    uiscsi_result_t *r = NULL;
    json_t *opts = json_pack ("{s:i}", "timeout_ms", 10000);
    int rc = uiscsi_session_open (s_client, getenv ("TGT_PORTAL"),
                                  getenv ("TGT_IQN_DISK"), opts, s_session, &r, &err);
    if (rc != 0)
        fprintf (stderr, "session.open: %s %s\n", err.name, err.message);
    assert_int_equal (rc, 0);
    assert_true (strlen (s_session) > 0);
    assert_string_equal (uiscsi_result_str (r, "target"), getenv ("TGT_IQN_DISK"));
    assert_true (json_is_object (json_object_get (uiscsi_result_json (r), "negotiated")));
    uiscsi_result_destroy (&r);

    assert_int_equal (uiscsi_session_get (s_client, s_session, &r, &err), 0);
    assert_string_equal (uiscsi_result_str (r, "session"), s_session);
    assert_non_null (uiscsi_result_str (r, "state"));
    uiscsi_result_destroy (&r);

    assert_int_equal (uiscsi_scsi_inquiry (s_client, s_session, s_lun, -1, &r, &err), 0);
    assert_int_equal (uiscsi_result_int (r, "device_type", -1), 0); /* disk */
    assert_non_null (uiscsi_result_str (r, "vendor"));
    uiscsi_result_destroy (&r);

    assert_int_equal (uiscsi_scsi_read_capacity (s_client, s_session, s_lun, &s_blocks,
                                                 &s_block_size, NULL, &err),
                      0);
    assert_int_equal (s_block_size, 512);
    if (getenv ("TGT_DISK_BYTES"))
        assert_int_equal (s_blocks * s_block_size,
                          strtoull (getenv ("TGT_DISK_BYTES"), NULL, 10));
    assert_int_equal (uiscsi_scsi_test_unit_ready (s_client, s_session, s_lun, &err), 0);
    uint64_t rtt = 0;
    assert_int_equal (uiscsi_protocol_nop (s_client, s_session, &rtt, &err), 0);

    const uint8_t tur[6] = {0};
    assert_int_equal (
        uiscsi_raw_execute (s_client, s_session, s_lun, tur, 6, NULL, 0, &r, &err), 0);
    assert_int_equal (uiscsi_result_int (r, "status", -1), 0);
    uiscsi_result_destroy (&r);
    uiscsi_error_clear (&err);
}

/* Lab: 1 MiB WRITE then READ, byte exact, both zero copy on the client. */
static void
test_lab_write_read_1mib (void **state)
{
    (void)state;
    NEED_LAB ();
    assert_true (s_session[0]);
    size_t size = 1 << 20;
    uint32_t blocks = (uint32_t)(size / s_block_size);
    unsigned char *out = malloc (size), *in = malloc (size);
    assert_non_null (out);
    assert_non_null (in);
    s_fill (out, size, (uint32_t)time (NULL));
    uiscsi_error_t err = UISCSI_ERROR_INIT;
    uiscsi_buf_t b = {out, size, NULL, NULL};
    assert_int_equal (
        uiscsi_scsi_write (s_client, s_session, s_lun, 2048, blocks, &b, &err), 0);
    size_t got = 0;
    memset (in, 0, size);
    assert_int_equal (
        uiscsi_scsi_read (s_client, s_session, s_lun, 2048, blocks, in, size, &got, &err),
        0);
    assert_int_equal (got, size);
    assert_memory_equal (in, out, size);
    /* a buffer too small is reported, not overrun */
    assert_int_equal (uiscsi_scsi_read (s_client, s_session, s_lun, 2048, blocks, in,
                                        size - 1, &got, &err),
                      -1);
    assert_int_equal (err.code, UISCSI_CLIENT_BUFFER);
    /* and the result form gives the frame itself */
    uiscsi_result_t *r = NULL;
    assert_int_equal (
        uiscsi_scsi_read_result (s_client, s_session, s_lun, 2048, 8, &r, &err), 0);
    const void *d;
    size_t n;
    assert_int_equal (uiscsi_result_data (r, &d, &n), 0);
    assert_int_equal (n, 8 * s_block_size);
    assert_memory_equal (d, out, n);
    uiscsi_result_destroy (&r);
    assert_int_equal (uiscsi_scsi_synchronize_cache (s_client, s_session, s_lun, &err),
                      0);
    free (in);
    free (out);
    uiscsi_error_clear (&err);
}

/* Lab: 64 pipelined 64 KiB reads, written first, each checked. */
static void
test_lab_pipelined_reads (void **state)
{
    (void)state;
    NEED_LAB ();
    assert_true (s_session[0]);
    enum { N = 64, SZ = 65536 };
    uint32_t blocks = SZ / s_block_size;
    uint64_t lba0 = 8192;
    unsigned char *all = malloc ((size_t)N * SZ);
    assert_non_null (all);
    s_fill (all, (size_t)N * SZ, 99);
    uiscsi_error_t err = UISCSI_ERROR_INIT;
    /* write them pipelined too (zero copy from one big buffer) */
    for (int i = 0; i < N; i++) {
        uiscsi_buf_t b = {all + (size_t)i * SZ, SZ, NULL, NULL};
        assert_true (uiscsi_submit_scsi_write (s_client, s_session, s_lun,
                                               lba0 + (uint64_t)i * blocks, blocks, &b,
                                               NULL, &err)
                     >= 1);
    }
    uiscsi_completion_t c;
    for (int i = 0; i < N; i++) {
        assert_int_equal (uiscsi_poll (s_client, 15000, &c, &err), 1);
        if (c.status != 0)
            fprintf (stderr, "write: %s %s\n", c.error.name, c.error.message);
        assert_int_equal (c.status, 0);
        uiscsi_result_destroy (&c.result);
    }
    int64_t t0 = s_now_us ();
    for (int i = 0; i < N; i++)
        assert_true (uiscsi_submit_scsi_read (s_client, s_session, s_lun,
                                              lba0 + (uint64_t)i * blocks, blocks,
                                              (void *)(intptr_t)i, &err)
                     >= 1);
    assert_int_equal (uiscsi_in_flight (s_client), N);
    unsigned char seen[N] = {0};
    for (int i = 0; i < N; i++) {
        assert_int_equal (uiscsi_poll (s_client, 15000, &c, &err), 1);
        assert_int_equal (c.status, 0);
        int idx = (int)(intptr_t)c.user;
        assert_true (idx >= 0 && idx < N && !seen[idx]);
        seen[idx] = 1;
        const void *d;
        size_t n;
        assert_int_equal (uiscsi_result_data (c.result, &d, &n), 0);
        assert_int_equal (n, SZ);
        assert_memory_equal (d, all + (size_t)idx * SZ, SZ);
        uiscsi_result_destroy (&c.result);
    }
    int64_t dt = s_now_us () - t0;
    fprintf (stderr, "# lab_64x64KiB_reads_us %lld (%.0f MiB/s)\n", (long long)dt,
             dt ? (double)N * SZ / dt * 1e6 / (1 << 20) : 0.0);
    free (all);
}

/* Lab: a WRITE past the end is SCSI_CHECK_CONDITION with sense details. */
static void
test_lab_check_condition (void **state)
{
    (void)state;
    NEED_LAB ();
    assert_true (s_session[0]);
    unsigned char buf[1024] = {0};
    uiscsi_buf_t b = {buf, 2 * s_block_size, NULL, NULL};
    uiscsi_error_t err = UISCSI_ERROR_INIT;
    assert_int_equal (
        uiscsi_scsi_write (s_client, s_session, s_lun, s_blocks - 1, 2, &b, &err), -1);
    assert_int_equal (err.code, UISCSI_SCSI_CHECK_CONDITION);
    assert_string_equal (err.name, "SCSI_CHECK_CONDITION");
    assert_int_equal (err.status, 2);    /* CHECK CONDITION */
    assert_int_equal (err.sense_key, 5); /* ILLEGAL REQUEST */
    assert_int_equal (err.asc, 0x21);    /* LBA OUT OF RANGE */
    assert_int_equal (err.ascq, 0x00);
    assert_string_equal (err.sense_key_name, "ILLEGAL REQUEST");
    assert_non_null (err.description);
    assert_non_null (uiscsi_error_get_str (&err, "sense"));
    /* the session still works */
    assert_int_equal (uiscsi_scsi_test_unit_ready (s_client, s_session, s_lun, &err), 0);
    uiscsi_error_clear (&err);
}

/* Lab: session.close releases the last handle; the id is then unknown. */
static void
test_lab_session_close (void **state)
{
    (void)state;
    NEED_LAB ();
    assert_true (s_session[0]);
    uiscsi_error_t err = UISCSI_ERROR_INIT;
    assert_int_equal (uiscsi_session_close (s_client, s_session, false, &err), 0);
    assert_int_equal (uiscsi_session_get (s_client, s_session, NULL, &err), -1);
    assert_int_equal (err.code, UISCSI_SESSION_NOT_FOUND);
    s_session[0] = 0;
    uiscsi_error_clear (&err);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_error_names),
        cmocka_unit_test (test_default_endpoint),
        cmocka_unit_test (test_connect_no_daemon),
        cmocka_unit_test (test_client_timeout),
        cmocka_unit_test (test_daemon_info),
        cmocka_unit_test (test_rpc_discover),
        cmocka_unit_test (test_echo_1mib_zero_copy),
        cmocka_unit_test (test_echo_qd1_latency),
        cmocka_unit_test (test_echo_pipelined_10000),
        cmocka_unit_test (test_in_flight_full),
        cmocka_unit_test (test_typed_errors),
        cmocka_unit_test (test_lab_session_open),
        cmocka_unit_test (test_lab_write_read_1mib),
        cmocka_unit_test (test_lab_pipelined_reads),
        cmocka_unit_test (test_lab_check_condition),
        cmocka_unit_test (test_lab_session_close),
    };
    return cmocka_run_group_tests_name ("client_c", tests, s_group_setup,
                                        s_group_teardown);
}
