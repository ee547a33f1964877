/* test_recovery.c: the ERL 0 recovery machine (proto/recovery.c), driven
 * without sockets or sleeps: every test feeds events with explicit now_ms
 * and rnd and asserts the exact sequence of actions and deadlines.
 * Covers conformance O1, O2, O3, O4, O5, O6, O7, O8, O9, O10, O11, K2, K3,
 * K4, M5, N5, R6 (plus B15's death spiral and J2's keepalive entry). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proto/errors.h"
#include "proto/recovery.h"

static const uint8_t s_isid[6] = {0x80, 0x12, 0x34, 0x56, 0x00, 0x01};

/* The configuration of the brief's example: Time2Wait 2 s, backoff 100 ms
 * doubling to 3200 ms, no jitter effect with rnd 0, login timeout 15 s. */
static recovery_t *
s_new (uint32_t max_attempts, int64_t replacement_ms)
{
    recovery_cfg_t cfg;
    recovery_cfg_defaults (&cfg);
    memcpy (cfg.isid, s_isid, 6);
    cfg.max_attempts = max_attempts;
    cfg.backoff_ms = 100;
    cfg.backoff_max_ms = 3200;
    cfg.replacement_timeout_ms = replacement_ms;
    cfg.time2wait_s = 2;
    cfg.time2retain_s = 20;
    cfg.max_tasks = 64;
    recovery_t *r = recovery_new (&cfg);
    assert_non_null (r);
    return r;
}

/* Takes the next action, which must exist and be of kind k. */
static recovery_action_t
s_take (recovery_t *r, recovery_act_kind_t k)
{
    recovery_action_t a;
    assert_true (recovery_action_next (r, &a));
    if (a.kind != k)
        fail_msg ("expected action %s, got %s", recovery_action_name (k),
                  recovery_action_name (a.kind));
    return a;
}

static void
s_none (recovery_t *r)
{
    recovery_action_t a;
    if (recovery_action_next (r, &a))
        fail_msg ("unexpected action %s", recovery_action_name (a.kind));
}

static void
s_expect_state (recovery_t *r, const char *from, const char *to, const char *reason)
{
    recovery_action_t a = s_take (r, RECOVERY_ACT_STATE);
    assert_string_equal (a.from, from);
    assert_string_equal (a.to, to);
    assert_string_equal (a.reason, reason);
}

static void
s_expect_wait (recovery_t *r, uint64_t deadline, uint32_t attempt)
{
    recovery_action_t a = s_take (r, RECOVERY_ACT_WAIT);
    assert_int_equal (a.deadline_ms, deadline);
    assert_int_equal (a.attempt, attempt);
}

static void
s_expect_login (recovery_t *r, uint32_t attempt, uint64_t deadline)
{
    recovery_action_t a = s_take (r, RECOVERY_ACT_LOGIN);
    assert_int_equal (a.attempt, attempt);
    assert_memory_equal (a.isid, s_isid, 6);
    assert_int_equal (a.tsih, 0);
    assert_int_equal (a.deadline_ms, deadline);
}

static void
s_expect_close (recovery_t *r, const char *reason)
{
    recovery_action_t a = s_take (r, RECOVERY_ACT_CLOSE_CONN);
    assert_string_equal (a.reason, reason);
}

static void
s_expect_fail (recovery_t *r, uint64_t id, recovery_fail_t fail, const char *reason)
{
    recovery_action_t a = s_take (r, RECOVERY_ACT_FAIL);
    assert_int_equal (a.task, id);
    assert_int_equal (a.fail, fail);
    assert_string_equal (a.reason, reason);
}

static recovery_task_t
s_task (uint64_t id, bool retriable, bool sent)
{
    recovery_task_t t = {.id = id, .retriable = retriable, .sent = sent};
    return t;
}

/* A loss at now with the default Time2Wait: CLOSE_CONN, STATE, WAIT. */
static void
s_lose (recovery_t *r, recovery_lost_t why, uint64_t now)
{
    assert_int_equal (recovery_conn_lost (r, why, 0, 0, now, 0), 0);
    s_expect_close (r, recovery_lost_name (why));
    s_expect_state (r, "full_feature", "reconnecting", recovery_lost_name (why));
    s_expect_wait (r, now + 2000, 1);
    s_none (r);
}

/* O1: TCP reset in the middle of a read: wait Time2Wait, log in with the
 * same ISID and TSIH 0, re-issue the read (new ITT / CmdSN: RETRY). */
static void
test_O1_read_retried_after_reset (void **state)
{
    (void)state;
    recovery_t *r = s_new (8, 120000);
    s_lose (r, RECOVERY_LOST_RESET, 1000);
    recovery_task_t t = s_task (7, true, true);
    assert_int_equal (recovery_task_lost (r, &t, 1000), 0);
    s_none (r);
    assert_int_equal (recovery_held (r), 1);
    assert_int_equal (recovery_next_timer (r), 3000);
    recovery_tick (r, 2999, 0);
    s_none (r);
    recovery_tick (r, 3000, 0);
    s_expect_login (r, 1, 18000);
    s_none (r);
    assert_int_equal (recovery_state (r), RECOVERY_S_LOGGING_IN);
    assert_int_equal (recovery_next_timer (r), 18000);
    recovery_login_ok (r, 2, 20, 3050);
    s_expect_state (r, "reconnecting", "full_feature", "recovered");
    recovery_action_t a = s_take (r, RECOVERY_ACT_RETRY);
    assert_int_equal (a.task, 7);
    s_none (r);
    assert_int_equal (recovery_held (r), 0);
    assert_int_equal (recovery_next_timer (r), RECOVERY_NO_DEADLINE);
    /* in full feature phase nothing is handed over */
    assert_int_equal (recovery_task_lost (r, &t, 3100), UIS_ERR_STATE);
    recovery_destroy (&r);
    assert_null (r);
}

/* O2: every reinstatement login (first and retries, and a second
 * recovery) carries the session's ISID and TSIH 0. */
static void
test_O2_same_isid_tsih_zero (void **state)
{
    (void)state;
    recovery_t *r = s_new (8, -1);
    s_lose (r, RECOVERY_LOST_EOF, 0);
    recovery_tick (r, 2000, 0);
    s_expect_login (r, 1, 17000);
    recovery_login_failed (r, true, 3, 0, 2100, 0); /* class 3: retriable */
    s_expect_close (r, "login_failed");
    s_expect_wait (r, 2200, 2);
    recovery_tick (r, 2200, 0);
    s_expect_login (r, 2, 17200);
    recovery_login_ok (r, 2, 20, 2300);
    s_expect_state (r, "reconnecting", "full_feature", "recovered");
    s_none (r);
    /* a later, independent loss (after stable_ms) starts from Time2Wait */
    s_lose (r, RECOVERY_LOST_EOF, 100000);
    recovery_tick (r, 102000, 0);
    s_expect_login (r, 1, 117000);
    s_none (r);
    recovery_destroy (&r);
}

/* O3: every attempt fails: waits of Time2Wait, then 100, 200, 400 ms
 * (doubling), then after max_attempts everything fails with
 * SESSION_FAILED {max_attempts} and the state becomes failed. */
static void
test_O3_backoff_then_give_up (void **state)
{
    (void)state;
    recovery_t *r = s_new (4, -1);
    s_lose (r, RECOVERY_LOST_RESET, 0);
    recovery_task_t t1 = s_task (1, true, true), t2 = s_task (2, true, false);
    recovery_task_lost (r, &t1, 0);
    recovery_task_lost (r, &t2, 0);
    uint64_t now = 2000;
    static const uint64_t waits[] = {100, 200, 400};
    for (int i = 0; i < 3; i++) {
        recovery_tick (r, now, 0);
        s_expect_login (r, (uint32_t)i + 1, now + 15000);
        now += 10; /* connection refused quickly */
        recovery_login_failed (r, false, 0, 0, now, 0);
        s_expect_close (r, "login_failed");
        s_expect_wait (r, now + waits[i], (uint32_t)i + 2);
        s_none (r);
        assert_int_equal (recovery_attempts (r), i + 1);
        recovery_tick (r, now + waits[i] - 1, 0); /* never early */
        s_none (r);
        now += waits[i];
    }
    recovery_tick (r, now, 0);
    s_expect_login (r, 4, now + 15000);
    recovery_login_failed (r, false, 0, 0, now + 10, 0);
    s_expect_close (r, "login_failed");
    recovery_action_t a = s_take (r, RECOVERY_ACT_GIVE_UP);
    assert_string_equal (a.reason, "max_attempts");
    assert_int_equal (a.error, 0);
    s_expect_fail (r, 1, RECOVERY_FAIL_SESSION_FAILED, "max_attempts");
    s_expect_fail (r, 2, RECOVERY_FAIL_SESSION_FAILED, "max_attempts");
    s_expect_state (r, "reconnecting", "failed", "max_attempts");
    s_none (r);
    assert_int_equal (recovery_state (r), RECOVERY_S_FAILED);
    assert_int_equal (recovery_next_timer (r), RECOVERY_NO_DEADLINE);
    /* terminal: absorbs everything; a late submit fails at once */
    recovery_tick (r, now + 100000, 0);
    recovery_reconnect (r, now + 100000);
    recovery_login_ok (r, 2, 20, now + 100000);
    s_none (r);
    bool held = false;
    recovery_task_t t3 = s_task (3, true, false);
    assert_int_equal (recovery_submit (r, &t3, now + 100000, &held), 0);
    assert_true (held);
    s_expect_fail (r, 3, RECOVERY_FAIL_SESSION_FAILED, "max_attempts");
    s_none (r);
    recovery_destroy (&r);
}

/* O3: the doubling stops at the cap (100 .. 3200, 3200), and jitter only
 * shortens a wait: rnd 2^31 with 20 % takes 10 % off. */
static void
test_O3_backoff_cap_and_jitter (void **state)
{
    (void)state;
    recovery_t *r = s_new (0, -1); /* no attempt limit */
    s_lose (r, RECOVERY_LOST_RESET, 0);
    uint64_t now = 2000;
    static const uint64_t waits[] = {100, 200, 400, 800, 1600, 3200, 3200, 3200};
    for (int i = 0; i < 8; i++) {
        recovery_tick (r, now, 0);
        s_expect_login (r, (uint32_t)i + 1, now + 15000);
        recovery_login_failed (r, false, 0, 0, now, 0);
        s_expect_close (r, "login_failed");
        s_expect_wait (r, now + waits[i], (uint32_t)i + 2);
        now += waits[i];
    }
    recovery_tick (r, now, 0);
    s_expect_login (r, 9, now + 15000);
    recovery_login_failed (r, false, 0, 0, now, 0x80000000u);
    s_expect_close (r, "login_failed");
    s_expect_wait (r, now + 3200 - 320, 10);
    s_none (r);
    recovery_destroy (&r);
}

/* O3: replacement_timeout_ms > 0 bounds the whole recovery. */
static void
test_O3_replacement_timeout_gives_up (void **state)
{
    (void)state;
    recovery_t *r = s_new (0, 5000);
    s_lose (r, RECOVERY_LOST_EOF, 1000);
    recovery_task_t t = s_task (9, true, true);
    recovery_task_lost (r, &t, 1000);
    recovery_tick (r, 3000, 0);
    s_expect_login (r, 1, 18000);
    assert_int_equal (recovery_next_timer (r), 6000);
    recovery_tick (r, 6000, 0);
    recovery_action_t a = s_take (r, RECOVERY_ACT_GIVE_UP);
    assert_string_equal (a.reason, "replacement_timeout");
    s_expect_fail (r, 9, RECOVERY_FAIL_SESSION_FAILED, "replacement_timeout");
    s_expect_state (r, "reconnecting", "failed", "replacement_timeout");
    s_none (r);
    /* the login that was running ends late: absorbed */
    recovery_login_ok (r, 2, 20, 6001);
    s_none (r);
    recovery_destroy (&r);
}

/* O4: a command submitted while recovering waits (replacement -1 or > 0),
 * fails at once with SESSION_RECOVERING {retry_after_ms} when the caller
 * asked not to wait or replacement_timeout_ms is 0, and fails with TIMEOUT
 * at its own deadline. In full feature phase the machine lets it pass. */
static void
test_O4_submit_while_recovering (void **state)
{
    (void)state;
    recovery_t *r = s_new (8, -1);
    bool held = true;
    recovery_task_t t = s_task (1, true, false);
    assert_int_equal (recovery_submit (r, &t, 0, &held), 0);
    assert_false (held);
    s_none (r);
    s_lose (r, RECOVERY_LOST_RESET, 1000);
    /* waits until recovered */
    assert_int_equal (recovery_submit (r, &t, 1200, &held), 0);
    assert_true (held);
    s_none (r);
    assert_int_equal (recovery_submit (r, &t, 1200, &held), UIS_ERR_INVALID_ARG);
    assert_false (held);
    /* asked not to wait: retry_after_ms = time to the login */
    recovery_task_t nw = s_task (2, true, false);
    nw.no_wait = true;
    recovery_submit (r, &nw, 1500, &held);
    assert_true (held);
    recovery_action_t a = s_take (r, RECOVERY_ACT_FAIL);
    assert_int_equal (a.task, 2);
    assert_int_equal (a.fail, RECOVERY_FAIL_RECOVERING);
    assert_string_equal (a.reason, "waiting");
    assert_int_equal (a.retry_after_ms, 1500);
    /* its own deadline passes while held: TIMEOUT */
    recovery_task_t dl = s_task (3, true, false);
    dl.deadline_ms = 2500;
    recovery_submit (r, &dl, 1600, &held);
    assert_int_equal (recovery_next_timer (r), 2500);
    recovery_tick (r, 2500, 0);
    s_expect_fail (r, 3, RECOVERY_FAIL_TIMEOUT, "deadline");
    s_none (r);
    recovery_tick (r, 3000, 0);
    s_expect_login (r, 1, 18000);
    recovery_login_ok (r, 2, 20, 3100);
    s_expect_state (r, "reconnecting", "full_feature", "recovered");
    a = s_take (r, RECOVERY_ACT_RETRY);
    assert_int_equal (a.task, 1);
    s_none (r);
    recovery_destroy (&r);

    /* replacement_timeout_ms = 0: nothing waits, the recovery goes on */
    r = s_new (8, 0);
    s_lose (r, RECOVERY_LOST_RESET, 1000);
    recovery_task_t inflight = s_task (4, true, true);
    recovery_task_lost (r, &inflight, 1000);
    a = s_take (r, RECOVERY_ACT_FAIL);
    assert_int_equal (a.task, 4);
    assert_int_equal (a.fail, RECOVERY_FAIL_RECOVERING);
    assert_int_equal (a.retry_after_ms, 2000);
    recovery_submit (r, &t, 1000, &held);
    assert_true (held);
    s_expect_fail (r, 1, RECOVERY_FAIL_RECOVERING, "waiting");
    s_none (r);
    recovery_tick (r, 3000, 0);
    s_expect_login (r, 1, 18000);
    recovery_submit (r, &t, 3001, &held); /* during the login: retry_after 0 */
    a = s_take (r, RECOVERY_ACT_FAIL);
    assert_string_equal (a.reason, "logging_in");
    assert_int_equal (a.retry_after_ms, 0);
    s_none (r);
    recovery_destroy (&r);
}

/* O5: a write interrupted in flight is retried from offset 0 when writes
 * are retriable (the default), fails NOT_RETRIABLE otherwise; a command
 * that was never sent is always retried. */
static void
test_O5_interrupted_write (void **state)
{
    (void)state;
    static const uint8_t w10[10] = {0x2a, 0, 0, 0, 0, 8, 0, 0, 1, 0};
    assert_true (recovery_retriable (w10, 10, 0x00, true));
    assert_false (recovery_retriable (w10, 10, 0x00, false));
    recovery_t *r = s_new (8, -1);
    s_lose (r, RECOVERY_LOST_WRITE_ERROR, 0);
    recovery_task_t wr = s_task (1, recovery_retriable (w10, 10, 0, true), true);
    recovery_task_t wn = s_task (2, recovery_retriable (w10, 10, 0, false), true);
    recovery_task_t ws = s_task (3, false, false); /* queued, never sent */
    recovery_task_lost (r, &wr, 0);
    recovery_task_lost (r, &wn, 0);
    s_expect_fail (r, 2, RECOVERY_FAIL_NOT_RETRIABLE, "not_idempotent");
    recovery_task_lost (r, &ws, 0);
    s_none (r);
    recovery_tick (r, 2000, 0);
    s_expect_login (r, 1, 17000);
    recovery_login_ok (r, 2, 20, 2001);
    s_expect_state (r, "reconnecting", "full_feature", "recovered");
    assert_int_equal (s_take (r, RECOVERY_ACT_RETRY).task, 1);
    assert_int_equal (s_take (r, RECOVERY_ACT_RETRY).task, 3);
    s_none (r);
    recovery_destroy (&r);
}

/* O6: a read already streamed partly to its client fails at once with
 * NOT_RETRIABLE "partial_read": no partial replay. */
static void
test_O6_streamed_read_fails (void **state)
{
    (void)state;
    recovery_t *r = s_new (8, -1);
    s_lose (r, RECOVERY_LOST_EOF, 0);
    recovery_task_t t = s_task (5, true, true);
    t.partial = true;
    recovery_task_lost (r, &t, 0);
    s_expect_fail (r, 5, RECOVERY_FAIL_NOT_RETRIABLE, "partial_read");
    s_none (r);
    assert_int_equal (recovery_held (r), 0);
    recovery_destroy (&r);
}

/* O7: two triggers at once (read error, then Async 2 with Time2Wait 5):
 * exactly one recovery; the async drop can only lengthen the first wait.
 * And the other order: Async 2 first, then EOF absorbed. */
static void
test_O7_two_triggers_one_recovery (void **state)
{
    (void)state;
    recovery_t *r = s_new (8, -1);
    s_lose (r, RECOVERY_LOST_RESET, 1000);
    recovery_conn_lost (r, RECOVERY_LOST_ASYNC_DROP, 5, 0, 1000, 0);
    s_expect_wait (r, 6000, 1);
    s_none (r);
    recovery_conn_lost (r, RECOVERY_LOST_EOF, 0, 0, 1001, 0);
    s_none (r);
    recovery_tick (r, 3000, 0); /* the old deadline: nothing */
    s_none (r);
    recovery_tick (r, 6000, 0);
    s_expect_login (r, 1, 21000);
    s_none (r);
    recovery_stats_t st;
    recovery_stats (r, &st);
    assert_int_equal (st.recoveries, 1);
    assert_int_equal (st.logins, 1);
    assert_int_equal (st.absorbed, 2);
    recovery_destroy (&r);

    r = s_new (8, -1);
    recovery_conn_lost (r, RECOVERY_LOST_ASYNC_DROP, 1, 0, 0, 0);
    s_expect_close (r, "async_drop");
    s_expect_state (r, "full_feature", "reconnecting", "async_drop");
    s_expect_wait (r, 1000, 1);
    recovery_conn_lost (r, RECOVERY_LOST_EOF, 0, 0, 0, 0);
    s_none (r);
    recovery_destroy (&r);
}

/* O8: a digest error (D4), a keepalive timeout (J2) or a write error enter
 * the same recovery, with the reason in the state event. */
static void
test_O8_every_trigger_recovers (void **state)
{
    (void)state;
    static const recovery_lost_t why[] = {
        RECOVERY_LOST_HEADER_DIGEST,     RECOVERY_LOST_DATA_DIGEST,
        RECOVERY_LOST_KEEPALIVE_TIMEOUT, RECOVERY_LOST_WRITE_ERROR,
        RECOVERY_LOST_PROTOCOL_ERROR,    RECOVERY_LOST_TARGET_RESET,
        RECOVERY_LOST_STATSN_GAP,        RECOVERY_LOST_TMF_TIMEOUT};
    static const char *names[] = {"header_digest", "data_digest",    "keepalive_timeout",
                                  "write_error",   "protocol_error", "target_reset",
                                  "statsn_gap",    "tmf_timeout"};
    for (size_t i = 0; i < sizeof why / sizeof why[0]; i++) {
        recovery_t *r = s_new (8, -1);
        assert_string_equal (recovery_lost_name (why[i]), names[i]);
        s_lose (r, why[i], 500);
        recovery_tick (r, 2500, 0);
        s_expect_login (r, 1, 17500);
        recovery_destroy (&r);
    }
}

/* O9: the reconnect login fails with 0x0201 (the secret changed): stop at
 * once, surface AUTH_FAILED, no more logins. 0x0203 / 0x0204 stop too. */
static void
test_O9_auth_failure_stops (void **state)
{
    (void)state;
    recovery_t *r = s_new (8, -1);
    s_lose (r, RECOVERY_LOST_RESET, 0);
    recovery_task_t t = s_task (1, true, true);
    recovery_task_lost (r, &t, 0);
    recovery_tick (r, 2000, 0);
    s_expect_login (r, 1, 17000);
    recovery_login_failed (r, true, 0x02, 0x01, 2050, 0);
    s_expect_close (r, "login_failed");
    recovery_action_t a = s_take (r, RECOVERY_ACT_GIVE_UP);
    assert_string_equal (a.reason, "auth_failed");
    assert_int_equal (a.error, UIS_ERR_AUTH_FAILED);
    assert_int_equal (a.status_class, 2);
    assert_int_equal (a.status_detail, 1);
    s_expect_fail (r, 1, RECOVERY_FAIL_SESSION_FAILED, "auth_failed");
    s_expect_state (r, "reconnecting", "failed", "auth_failed");
    s_none (r);
    recovery_tick (r, 100000, 0);
    s_none (r);
    recovery_destroy (&r);

    r = s_new (8, -1);
    s_lose (r, RECOVERY_LOST_RESET, 0);
    recovery_tick (r, 2000, 0);
    s_expect_login (r, 1, 17000);
    recovery_login_failed (r, true, 0x02, 0x04, 2050, 0);
    s_expect_close (r, "login_failed");
    a = s_take (r, RECOVERY_ACT_GIVE_UP);
    assert_string_equal (a.reason, "target_gone");
    assert_int_equal (a.error, UIS_ERR_LOGIN_STATUS);
    s_expect_state (r, "reconnecting", "failed", "target_gone");
    s_none (r);
    recovery_destroy (&r);
}

/* O10, O5: idempotent commands retriable, writes by
 * configuration, PR OUT / COMPARE AND WRITE / FORMAT / START STOP UNIT
 * with LOEJ / unknown never; a tape's READ and WRITE never. */
static void
test_O10_classification (void **state)
{
    (void)state;
    static const struct {
        uint8_t cdb[16];
        size_t len;
        uint8_t type;
        recovery_class_t c;
    } rows[] = {
        {{0x28}, 10, 0, RECOVERY_CLASS_IDEMPOTENT},       /* READ(10) */
        {{0x88}, 16, 0, RECOVERY_CLASS_IDEMPOTENT},       /* READ(16) */
        {{0x08}, 6, 0, RECOVERY_CLASS_IDEMPOTENT},        /* READ(6) */
        {{0x2f}, 10, 0, RECOVERY_CLASS_IDEMPOTENT},       /* VERIFY(10) */
        {{0x12}, 6, 0, RECOVERY_CLASS_IDEMPOTENT},        /* INQUIRY */
        {{0x00}, 6, 0, RECOVERY_CLASS_IDEMPOTENT},        /* TUR */
        {{0x25}, 10, 0, RECOVERY_CLASS_IDEMPOTENT},       /* READ CAPACITY(10) */
        {{0x9e, 0x10}, 16, 0, RECOVERY_CLASS_IDEMPOTENT}, /* READ CAPACITY(16) */
        {{0x9e, 0x1f}, 16, 0, RECOVERY_CLASS_NEVER},      /* unknown SA IN */
        {{0xa0}, 12, 0, RECOVERY_CLASS_IDEMPOTENT},       /* REPORT LUNS */
        {{0x1a}, 6, 0, RECOVERY_CLASS_IDEMPOTENT},        /* MODE SENSE(6) */
        {{0x5a}, 10, 0, RECOVERY_CLASS_IDEMPOTENT},       /* MODE SENSE(10) */
        {{0x03}, 6, 0, RECOVERY_CLASS_IDEMPOTENT},        /* REQUEST SENSE */
        {{0x5e}, 10, 0, RECOVERY_CLASS_IDEMPOTENT},       /* PR IN */
        {{0x2a}, 10, 0, RECOVERY_CLASS_WRITE},            /* WRITE(10) */
        {{0x8a}, 16, 0, RECOVERY_CLASS_WRITE},            /* WRITE(16) */
        {{0x41}, 10, 0, RECOVERY_CLASS_WRITE},            /* WRITE SAME(10) */
        {{0x93}, 16, 0, RECOVERY_CLASS_WRITE},            /* WRITE SAME(16) */
        {{0x42}, 10, 0, RECOVERY_CLASS_WRITE},            /* UNMAP */
        {{0x35}, 10, 0, RECOVERY_CLASS_WRITE},            /* SYNCHRONIZE CACHE(10) */
        {{0x91}, 16, 0, RECOVERY_CLASS_WRITE},            /* SYNCHRONIZE CACHE(16) */
        {{0x5f}, 10, 0, RECOVERY_CLASS_NEVER},            /* PR OUT */
        {{0x89}, 16, 0, RECOVERY_CLASS_NEVER},            /* COMPARE AND WRITE */
        {{0x04}, 6, 0, RECOVERY_CLASS_NEVER},             /* FORMAT UNIT */
        {{0x1b, 0, 0, 0, 0x01}, 6, 0, RECOVERY_CLASS_IDEMPOTENT}, /* START */
        {{0x1b, 0, 0, 0, 0x02}, 6, 0, RECOVERY_CLASS_NEVER},      /* LOEJ */
        {{0x1b}, 4, 0, RECOVERY_CLASS_NEVER},                     /* short */
        {{0x55}, 10, 0, RECOVERY_CLASS_NEVER},                    /* MODE SELECT */
        {{0xc5}, 16, 0, RECOVERY_CLASS_NEVER},                    /* vendor */
        {{0x7f, 0, 0, 0, 0, 0, 0, 0x18, 0x00, 0x09},
         9,
         0,
         RECOVERY_CLASS_NEVER},                        /* short */
        {{0x0a}, 6, 0x01, RECOVERY_CLASS_NEVER},       /* tape WRITE(6) */
        {{0x10}, 6, 0x01, RECOVERY_CLASS_NEVER},       /* WRITE FILEMARKS */
        {{0x08}, 6, 0x01, RECOVERY_CLASS_NEVER},       /* tape READ(6) */
        {{0x12}, 6, 0x01, RECOVERY_CLASS_IDEMPOTENT},  /* tape INQUIRY */
        {{0x28}, 10, 0x05, RECOVERY_CLASS_IDEMPOTENT}, /* CD READ(10) */
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        recovery_class_t c = recovery_classify (rows[i].cdb, rows[i].len, rows[i].type);
        if (c != rows[i].c)
            fail_msg ("row %zu: opcode 0x%02x class %d, expected %d", i, rows[i].cdb[0],
                      (int)c, (int)rows[i].c);
    }
    static const uint8_t r32[32] = {0x7f, 0, 0, 0, 0, 0, 0, 0x18, 0x00, 0x09};
    static const uint8_t w32[32] = {0x7f, 0, 0, 0, 0, 0, 0, 0x18, 0x00, 0x0b};
    assert_int_equal (recovery_classify (r32, 32, 0), RECOVERY_CLASS_IDEMPOTENT);
    assert_int_equal (recovery_classify (w32, 32, 0), RECOVERY_CLASS_WRITE);
    assert_int_equal (recovery_classify (NULL, 0, 0), RECOVERY_CLASS_NEVER);
    static const uint8_t pro[10] = {0x5f, 0x01};
    static const uint8_t caw[16] = {0x89};
    assert_false (recovery_retriable (pro, 10, 0, true));
    assert_false (recovery_retriable (caw, 16, 0, true));

    /* O10 in the machine: PR OUT in flight fails "maybe executed" */
    recovery_t *r = s_new (8, -1);
    s_lose (r, RECOVERY_LOST_RESET, 0);
    recovery_task_t t = s_task (8, recovery_retriable (pro, 10, 0, true), true);
    recovery_task_lost (r, &t, 0);
    s_expect_fail (r, 8, RECOVERY_FAIL_NOT_RETRIABLE, "not_idempotent");
    s_none (r);
    assert_string_equal (recovery_fail_name (RECOVERY_FAIL_NOT_RETRIABLE),
                         "NOT_RETRIABLE");
    recovery_destroy (&r);
}

/* O11: after reconnect every queued retry is released together (the new
 * window comes from the login response: the engine sends them in
 * parallel), in the order handed over: lost tasks, then new submits. */
static void
test_O11_retries_all_at_once (void **state)
{
    (void)state;
    recovery_t *r = s_new (8, -1);
    s_lose (r, RECOVERY_LOST_RESET, 0);
    for (uint64_t id = 10; id < 15; id++) {
        recovery_task_t t = s_task (id, true, true);
        recovery_task_lost (r, &t, 0);
    }
    bool held;
    recovery_task_t n = s_task (20, true, false);
    recovery_submit (r, &n, 100, &held);
    assert_true (held);
    s_none (r);
    recovery_tick (r, 2000, 0);
    s_expect_login (r, 1, 17000);
    recovery_login_ok (r, 2, 20, 2010);
    s_expect_state (r, "reconnecting", "full_feature", "recovered");
    static const uint64_t order[] = {10, 11, 12, 13, 14, 20};
    for (size_t i = 0; i < 6; i++)
        assert_int_equal (s_take (r, RECOVERY_ACT_RETRY).task, order[i]);
    s_none (r);
    recovery_destroy (&r);
}

/* K2: Async 1 with Parameter3 = 5 s: LOGOUT within 5 s, new commands held,
 * then the Logout Response's Time2Wait before the reinstatement. With no
 * Logout Response by the deadline the connection is closed anyway. */
static void
test_K2_logout_requested (void **state)
{
    (void)state;
    recovery_t *r = s_new (8, -1);
    recovery_logout_requested (r, 5, 1000);
    s_expect_state (r, "full_feature", "reconnecting", "logout_requested");
    recovery_action_t a = s_take (r, RECOVERY_ACT_LOGOUT);
    assert_int_equal (a.deadline_ms, 6000);
    s_none (r);
    assert_int_equal (recovery_next_timer (r), 6000);
    bool held;
    recovery_task_t t = s_task (1, true, false);
    recovery_submit (r, &t, 1100, &held);
    assert_true (held); /* no new commands after the event */
    s_none (r);
    recovery_logout_requested (r, 1, 1200); /* a repeat: absorbed */
    s_none (r);
    recovery_logout_done (r, 1, 0, 1500, 0);
    s_expect_close (r, "logout_requested");
    s_expect_wait (r, 2500, 1);
    s_none (r);
    recovery_tick (r, 2500, 0);
    s_expect_login (r, 1, 17500);
    recovery_login_ok (r, 2, 20, 2600);
    s_expect_state (r, "reconnecting", "full_feature", "recovered");
    assert_int_equal (s_take (r, RECOVERY_ACT_RETRY).task, 1);
    s_none (r);
    /* no answer in time */
    recovery_logout_requested (r, 5, 100000);
    s_expect_state (r, "full_feature", "reconnecting", "logout_requested");
    s_take (r, RECOVERY_ACT_LOGOUT);
    recovery_tick (r, 104999, 0);
    s_none (r);
    recovery_tick (r, 105000, 0);
    s_expect_close (r, "logout_timeout");
    s_expect_wait (r, 107000, 1);
    s_none (r);
    recovery_destroy (&r);
}

/* K3: Async 2 with Parameter2 = Time2Wait 3, Parameter3 = Time2Retain 10:
 * wait 3 s before reconnecting; give up when not reinstated within
 * Time2Wait + Time2Retain. */
static void
test_K3_async_drop_time2wait_time2retain (void **state)
{
    (void)state;
    recovery_t *r = s_new (0, -1);
    recovery_conn_lost (r, RECOVERY_LOST_ASYNC_DROP, 3, 10, 1000, 0);
    s_expect_close (r, "async_drop");
    s_expect_state (r, "full_feature", "reconnecting", "async_drop");
    s_expect_wait (r, 4000, 1);
    s_none (r);
    recovery_tick (r, 3999, 0);
    s_none (r);
    recovery_tick (r, 4000, 0);
    s_expect_login (r, 1, 19000);
    assert_int_equal (recovery_next_timer (r), 14000);
    recovery_login_failed (r, true, 3, 1, 4100, 0); /* service unavailable */
    s_expect_close (r, "login_failed");
    s_expect_wait (r, 4200, 2);
    recovery_tick (r, 14000, 0);
    recovery_action_t a = s_take (r, RECOVERY_ACT_GIVE_UP);
    assert_string_equal (a.reason, "time2retain");
    s_expect_state (r, "reconnecting", "failed", "time2retain");
    s_none (r);
    recovery_destroy (&r);
}

/* K4: Async 3 (drop the session): commands fail promptly, the session is
 * done, no reconnect. */
static void
test_K4_async_drop_session (void **state)
{
    (void)state;
    recovery_t *r = s_new (8, -1);
    recovery_conn_lost (r, RECOVERY_LOST_ASYNC_DROP_SESSION, 2, 20, 1000, 0);
    s_expect_close (r, "target_dropped_session");
    recovery_action_t a = s_take (r, RECOVERY_ACT_GIVE_UP);
    assert_string_equal (a.reason, "target_dropped_session");
    s_expect_state (r, "full_feature", "failed", "target_dropped_session");
    s_none (r);
    recovery_task_t t = s_task (1, true, true);
    assert_int_equal (recovery_task_lost (r, &t, 1000), 0);
    s_expect_fail (r, 1, RECOVERY_FAIL_SESSION_FAILED, "target_dropped_session");
    s_none (r);
    recovery_tick (r, 10000, 0);
    s_none (r);
    recovery_destroy (&r);
}

/* M5: the TMF response never arrives: ABORT TASK times out -> LUN RESET,
 * which times out -> session recovery. Answers end it early; a late
 * answer to the abort after the escalation is ignored. */
static void
test_M5_tmf_escalation (void **state)
{
    (void)state;
    recovery_tmf_t t;
    recovery_tmf_init (&t, 3000, 5000);
    assert_int_equal (recovery_tmf_start (&t, 100), RECOVERY_TMF_ACT_SEND_ABORT);
    assert_int_equal (t.deadline_ms, 3100);
    assert_int_equal (recovery_tmf_start (&t, 100), RECOVERY_TMF_ACT_NONE);
    assert_int_equal (recovery_tmf_tick (&t, 3099), RECOVERY_TMF_ACT_NONE);
    assert_int_equal (recovery_tmf_tick (&t, 3100), RECOVERY_TMF_ACT_SEND_LUN_RESET);
    assert_int_equal (t.deadline_ms, 8100);
    assert_string_equal (recovery_tmf_state_name (t.state), "lun_resetting");
    assert_int_equal (recovery_tmf_response (&t, RECOVERY_TMF_ABORT_TASK, 0, 4000),
                      RECOVERY_TMF_ACT_NONE); /* late abort answer */
    assert_int_equal (recovery_tmf_tick (&t, 8100), RECOVERY_TMF_ACT_RECOVER);
    assert_int_equal (t.state, RECOVERY_TMF_RECOVERING);
    assert_int_equal (t.deadline_ms, RECOVERY_NO_DEADLINE);
    assert_int_equal (recovery_tmf_tick (&t, 99999), RECOVERY_TMF_ACT_NONE);
    /* ... and the recovery machine takes it from there */
    recovery_t *r = s_new (8, -1);
    s_lose (r, RECOVERY_LOST_TMF_TIMEOUT, 8100);
    recovery_destroy (&r);

    /* abort answered "task does not exist" (M2): done */
    recovery_tmf_init (&t, 3000, 5000);
    recovery_tmf_start (&t, 0);
    assert_int_equal (recovery_tmf_response (&t, RECOVERY_TMF_ABORT_TASK, 1, 10),
                      RECOVERY_TMF_ACT_DONE);
    /* abort rejected (255) -> LUN reset, answered 0 -> done */
    recovery_tmf_init (&t, 3000, 5000);
    recovery_tmf_start (&t, 0);
    assert_int_equal (recovery_tmf_response (&t, RECOVERY_TMF_ABORT_TASK, 255, 10),
                      RECOVERY_TMF_ACT_SEND_LUN_RESET);
    assert_int_equal (t.deadline_ms, 5010);
    assert_int_equal (recovery_tmf_response (&t, RECOVERY_TMF_LUN_RESET, 0, 20),
                      RECOVERY_TMF_ACT_DONE);
    /* LUN reset refused (5, not supported) -> recovery */
    recovery_tmf_init (&t, 3000, 5000);
    recovery_tmf_start (&t, 0);
    recovery_tmf_tick (&t, 3000);
    assert_int_equal (recovery_tmf_response (&t, RECOVERY_TMF_LUN_RESET, 5, 3010),
                      RECOVERY_TMF_ACT_RECOVER);
}

/* N5: close during the backoff: held tasks end CANCELLED, state closed,
 * no login ever after; close twice is absorbed; close during a login
 * drops it. */
static void
test_N5_close_during_backoff (void **state)
{
    (void)state;
    recovery_t *r = s_new (8, -1);
    s_lose (r, RECOVERY_LOST_RESET, 0);
    recovery_task_t t = s_task (1, true, true);
    recovery_task_lost (r, &t, 0);
    recovery_close (r, 500);
    s_expect_fail (r, 1, RECOVERY_FAIL_CANCELLED, "closed");
    s_expect_state (r, "reconnecting", "closed", "close");
    s_none (r);
    assert_int_equal (recovery_state (r), RECOVERY_S_CLOSED);
    assert_int_equal (recovery_next_timer (r), RECOVERY_NO_DEADLINE);
    recovery_close (r, 600);
    recovery_tick (r, 2000, 0);
    recovery_tick (r, 100000, 0);
    s_none (r);
    bool held;
    recovery_submit (r, &t, 700, &held);
    assert_true (held);
    s_expect_fail (r, 1, RECOVERY_FAIL_CANCELLED, "closed");
    s_none (r);
    recovery_destroy (&r);

    r = s_new (8, -1);
    s_lose (r, RECOVERY_LOST_RESET, 0);
    recovery_tick (r, 2000, 0);
    s_expect_login (r, 1, 17000);
    recovery_close (r, 2100);
    s_expect_close (r, "close");
    s_expect_state (r, "reconnecting", "closed", "close");
    s_none (r);
    recovery_login_ok (r, 2, 20, 2200); /* the dropped login: absorbed */
    s_none (r);
    recovery_destroy (&r);
}

/* R6: state events in order: full_feature -> reconnecting -> full_feature
 * -> closed, with a keepalive death as the trigger. */
static void
test_R6_state_events_in_order (void **state)
{
    (void)state;
    recovery_t *r = s_new (8, -1);
    const char *seen[8];
    size_t n = 0;
    recovery_conn_lost (r, RECOVERY_LOST_KEEPALIVE_TIMEOUT, 0, 0, 0, 0);
    recovery_tick (r, 2000, 0);
    recovery_login_failed (r, false, 0, 0, 2001, 0); /* no extra state event */
    recovery_tick (r, 2101, 0);
    recovery_login_ok (r, 2, 20, 2200);
    recovery_close (r, 3000);
    recovery_action_t a;
    for (int guard = 0; guard < 32 && recovery_action_next (r, &a); guard++)
        if (a.kind == RECOVERY_ACT_STATE && n < 8) {
            seen[n++] = a.from;
            seen[n++] = a.to;
        }
    assert_int_equal (n, 6);
    assert_string_equal (seen[0], "full_feature");
    assert_string_equal (seen[1], "reconnecting");
    assert_string_equal (seen[2], "reconnecting");
    assert_string_equal (seen[3], "full_feature");
    assert_string_equal (seen[4], "full_feature");
    assert_string_equal (seen[5], "closed");
    recovery_destroy (&r);
}

/* session.reconnect skips the wait; from full feature phase it drops the
 * connection and logs in at once. */
static void
test_reconnect_skips_backoff (void **state)
{
    (void)state;
    recovery_t *r = s_new (8, -1);
    recovery_reconnect (r, 100);
    s_expect_close (r, "reconnect");
    s_expect_state (r, "full_feature", "reconnecting", "reconnect");
    s_expect_login (r, 1, 15100);
    s_none (r);
    recovery_reconnect (r, 150); /* during a login: absorbed */
    s_none (r);
    recovery_login_failed (r, false, 0, 0, 200, 0);
    s_expect_close (r, "login_failed");
    s_expect_wait (r, 300, 2);
    recovery_reconnect (r, 210);
    s_expect_login (r, 1, 15210); /* the counter restarts */
    s_none (r);
    /* a login that never ends times out */
    recovery_tick (r, 15210, 0);
    s_expect_close (r, "login_timeout");
    s_expect_wait (r, 15310, 2);
    s_none (r);
    recovery_destroy (&r);
}

/* Death spiral (see B15): a target that accepts the login and drops at once
 * does not get a reconnect storm: losses sooner than stable_ms after a
 * recovery continue the backoff. */
static void
test_flapping_continues_backoff (void **state)
{
    (void)state;
    recovery_cfg_t cfg;
    recovery_cfg_defaults (&cfg);
    cfg.time2wait_s = 0;
    cfg.backoff_ms = 100;
    cfg.backoff_max_ms = 3200;
    recovery_t *r = recovery_new (&cfg);
    assert_non_null (r);
    recovery_conn_lost (r, RECOVERY_LOST_EOF, 0, 0, 0, 0);
    s_expect_close (r, "eof");
    s_expect_state (r, "full_feature", "reconnecting", "eof");
    recovery_action_t a = s_take (r, RECOVERY_ACT_LOGIN); /* Time2Wait 0: at once */
    assert_int_equal (a.attempt, 1);
    recovery_login_ok (r, 0, 0, 10);
    s_expect_state (r, "reconnecting", "full_feature", "recovered");
    uint64_t now = 20;
    static const uint64_t waits[] = {100, 200, 400};
    for (int i = 0; i < 3; i++) {
        recovery_conn_lost (r, RECOVERY_LOST_EOF, 0, 0, now, 0);
        s_expect_close (r, "eof");
        s_expect_state (r, "full_feature", "reconnecting", "eof");
        s_expect_wait (r, now + waits[i], 1);
        recovery_tick (r, now + waits[i], 0);
        s_take (r, RECOVERY_ACT_LOGIN);
        recovery_login_ok (r, 0, 0, now + waits[i]);
        s_expect_state (r, "reconnecting", "full_feature", "recovered");
        now += waits[i] + 5;
    }
    s_none (r);
    recovery_destroy (&r);
}

/* API misuse and limits: bad configs, full table, cancel, names. */
static void
test_limits_and_names (void **state)
{
    (void)state;
    recovery_cfg_t cfg;
    recovery_cfg_defaults (&cfg);
    cfg.max_tasks = 0;
    assert_null (recovery_new (&cfg));
    cfg.max_tasks = RECOVERY_TASKS_MAX + 1;
    assert_null (recovery_new (&cfg));
    cfg.max_tasks = 2;
    cfg.replacement_timeout_ms = -2;
    assert_null (recovery_new (&cfg));
    cfg.replacement_timeout_ms = -1;
    recovery_t *r = recovery_new (&cfg);
    assert_non_null (r);
    recovery_conn_lost (r, RECOVERY_LOST_EOF, 0, 0, 0, 0);
    recovery_task_t a = s_task (1, true, true), b = s_task (2, true, true),
                    c = s_task (3, true, true);
    assert_int_equal (recovery_task_lost (r, &a, 0), 0);
    assert_int_equal (recovery_task_lost (r, &b, 0), 0);
    assert_int_equal (recovery_task_lost (r, &c, 0), UIS_ERR_AGAIN);
    assert_int_equal (recovery_task_cancel (r, 1), 0);
    assert_int_equal (recovery_task_cancel (r, 1), UIS_ERR_INVALID_ARG);
    assert_int_equal (recovery_task_lost (r, &c, 0), 0);
    assert_int_equal (recovery_held (r), 2);
    assert_int_equal (recovery_conn_lost (r, RECOVERY_LOST__COUNT, 0, 0, 0, 0),
                      UIS_ERR_INVALID_ARG);
    assert_string_equal (recovery_last_event_name (r), "task_lost");
    assert_string_equal (recovery_state_name (RECOVERY_S_WAITING), "waiting");
    assert_string_equal (recovery_state_name (RECOVERY_S__COUNT), "unknown");
    assert_string_equal (recovery_event_name (-1), "unknown");
    assert_string_equal (recovery_event_name (0), "conn_lost");
    assert_string_equal (recovery_public_state (r), "reconnecting");
    assert_string_equal (recovery_action_name (RECOVERY_ACT_GIVE_UP), "give_up");
    assert_string_equal (recovery_lost_name (RECOVERY_LOST__COUNT), "unknown");
    recovery_destroy (&r);
    recovery_destroy (&r); /* NULL-safe */
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_O1_read_retried_after_reset),
        cmocka_unit_test (test_O2_same_isid_tsih_zero),
        cmocka_unit_test (test_O3_backoff_then_give_up),
        cmocka_unit_test (test_O3_backoff_cap_and_jitter),
        cmocka_unit_test (test_O3_replacement_timeout_gives_up),
        cmocka_unit_test (test_O4_submit_while_recovering),
        cmocka_unit_test (test_O5_interrupted_write),
        cmocka_unit_test (test_O6_streamed_read_fails),
        cmocka_unit_test (test_O7_two_triggers_one_recovery),
        cmocka_unit_test (test_O8_every_trigger_recovers),
        cmocka_unit_test (test_O9_auth_failure_stops),
        cmocka_unit_test (test_O10_classification),
        cmocka_unit_test (test_O11_retries_all_at_once),
        cmocka_unit_test (test_K2_logout_requested),
        cmocka_unit_test (test_K3_async_drop_time2wait_time2retain),
        cmocka_unit_test (test_K4_async_drop_session),
        cmocka_unit_test (test_M5_tmf_escalation),
        cmocka_unit_test (test_N5_close_during_backoff),
        cmocka_unit_test (test_R6_state_events_in_order),
        cmocka_unit_test (test_reconnect_skips_backoff),
        cmocka_unit_test (test_flapping_continues_backoff),
        cmocka_unit_test (test_limits_and_names),
    };
    return cmocka_run_group_tests_name ("recovery", tests, NULL, NULL);
}
