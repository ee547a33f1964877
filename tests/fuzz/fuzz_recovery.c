/* fuzz_recovery.c: the ERL 0 recovery machine (proto/recovery.c) driven by
 * random event sequences, with invariants checked after every event:
 *   - never two logins at once (a LOGIN only after the previous one ended
 *     with CLOSE_CONN or the return to full feature phase);
 *   - never a login before the deadline of the last WAIT (except right
 *     after session.reconnect, which skips the wait);
 *   - terminal states (failed, closed) absorb everything: the state stays
 *     and the only actions are FAIL of tasks handed over there;
 *   - every task handed over ends exactly once (RETRY, FAIL or our own
 *     cancel), and after a final close none is left;
 *   - STATE events chain (each from = the previous to);
 *   - time moves on: a tick at recovery_next_timer leaves a later timer.
 *
 * Input: 3 bytes of configuration (max_attempts, replacement timeout mode,
 * Time2Wait, jitter), then operations: an opcode byte and its arguments. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/errors.h"
#include "proto/recovery.h"

#define CHECK(x)                                                                         \
    do {                                                                                 \
        if (!(x))                                                                        \
            abort ();                                                                    \
    } while (0)

#define IDS 32

typedef struct {
    const uint8_t *p;
    size_t n;
} cur_t;

static uint8_t
s_u8 (cur_t *c)
{
    if (!c->n)
        return 0;
    c->n--;
    return *c->p++;
}

typedef enum { T_NONE = 0, T_OWNED, T_ENDED } tstate_t;

typedef struct {
    recovery_t *r;
    uint64_t now;
    tstate_t task[IDS];
    bool login_active;
    uint64_t wait_deadline;
    bool reconnect_exempt;
    const char *pub;
} model_t;

/* Drains the actions and checks them against the model. */
static void
s_drain (model_t *m, bool was_terminal)
{
    recovery_action_t a;
    for (int guard = 0; guard < 10000 && recovery_action_next (m->r, &a); guard++) {
        if (was_terminal)
            CHECK (a.kind == RECOVERY_ACT_FAIL);
        switch (a.kind) {
        case RECOVERY_ACT_STATE:
            CHECK (strcmp (a.from, m->pub) == 0);
            CHECK (strcmp (a.from, a.to) != 0);
            m->pub = a.to;
            if (strcmp (a.to, "full_feature") == 0)
                m->login_active = false;
            break;
        case RECOVERY_ACT_CLOSE_CONN:
            m->login_active = false;
            break;
        case RECOVERY_ACT_WAIT:
            CHECK (a.deadline_ms > m->now);
            m->wait_deadline = a.deadline_ms;
            break;
        case RECOVERY_ACT_LOGIN:
            CHECK (!m->login_active);
            CHECK (m->reconnect_exempt || m->now >= m->wait_deadline);
            CHECK (a.tsih == 0);
            CHECK (a.attempt >= 1);
            m->login_active = true;
            m->wait_deadline = 0;
            break;
        case RECOVERY_ACT_RETRY:
        case RECOVERY_ACT_FAIL:
            CHECK (a.task < IDS);
            CHECK (m->task[a.task] == T_OWNED);
            m->task[a.task] = T_ENDED;
            if (a.kind == RECOVERY_ACT_FAIL)
                CHECK (a.reason != NULL);
            break;
        case RECOVERY_ACT_GIVE_UP:
            CHECK (a.reason != NULL);
            break;
        default:
            break;
        }
    }
    CHECK (!recovery_action_next (m->r, &a));
    CHECK (strcmp (m->pub, recovery_public_state (m->r)) == 0);
}

static bool
s_terminal (const model_t *m)
{
    recovery_state_t s = recovery_state (m->r);
    return s == RECOVERY_S_FAILED || s == RECOVERY_S_CLOSED;
}

/* Picks a task id that was never handed over (ids are not reused, so
 * "ends exactly once" is checkable), or -1. */
static int
s_fresh (model_t *m, uint8_t hint)
{
    for (int i = 0; i < IDS; i++) {
        int id = (hint + i) % IDS;
        if (m->task[id] == T_NONE)
            return id;
    }
    return -1;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    cur_t c = {data, size};
    recovery_cfg_t cfg;
    recovery_cfg_defaults (&cfg);
    uint8_t b0 = s_u8 (&c), b1 = s_u8 (&c), b2 = s_u8 (&c);
    cfg.max_attempts = b0 & 7;
    static const int64_t repl[4] = {-1, 0, 3000, 120000};
    cfg.replacement_timeout_ms = repl[(b0 >> 3) & 3];
    cfg.time2wait_s = b1 & 3;
    cfg.login_timeout_ms = (b1 & 4) ? 0 : 1500;
    cfg.backoff_ms = (b1 >> 3) & 1 ? 0 : 50;
    cfg.backoff_max_ms = 800;
    cfg.jitter_pct = b2 % 120;
    cfg.stable_ms = 500;
    cfg.max_tasks = 1 + (b2 >> 4) % 12;
    model_t m;
    memset (&m, 0, sizeof m);
    m.r = recovery_new (&cfg);
    if (!m.r)
        return 0;
    m.now = 1000;
    m.pub = "full_feature";

    for (int step = 0; step < 4000 && c.n; step++) {
        uint8_t op = s_u8 (&c);
        uint8_t arg = s_u8 (&c);
        uint32_t rnd = (uint32_t)arg * 0x01010101u;
        bool was_terminal = s_terminal (&m);
        recovery_state_t before = recovery_state (m.r);
        m.reconnect_exempt = false;
        switch (op % 14) {
        case 0: /* time passes a little */
            m.now += arg;
            break;
        case 1: /* time passes a lot */
            m.now += (uint64_t)arg * 100;
            break;
        case 2:
            recovery_conn_lost (m.r, (recovery_lost_t)(arg % RECOVERY_LOST__COUNT),
                                arg & 3, (arg >> 2) & 7, m.now, rnd);
            break;
        case 3:
            recovery_logout_requested (m.r, arg & 7, m.now);
            break;
        case 4:
            recovery_logout_done (m.r, arg & 3, 0, m.now, rnd);
            break;
        case 5:
            recovery_login_ok (m.r, arg & 3, 20, m.now);
            break;
        case 6:
            recovery_login_failed (m.r, arg & 1, (arg >> 1) & 3, (arg >> 3) & 7, m.now,
                                   rnd);
            break;
        case 7: { /* tick at the machine's own timer: it must move on */
            uint64_t t = recovery_next_timer (m.r);
            if (t != RECOVERY_NO_DEADLINE && t >= m.now) {
                m.now = t;
                recovery_tick (m.r, m.now, rnd);
                s_drain (&m, was_terminal);
                CHECK (recovery_next_timer (m.r) > m.now);
                continue;
            }
            recovery_tick (m.r, m.now, rnd);
            break;
        }
        case 8:
            m.reconnect_exempt = true;
            recovery_reconnect (m.r, m.now);
            break;
        case 9:
            recovery_close (m.r, m.now);
            break;
        case 10:
        case 11: { /* hand over a task: lost in flight, or a new submit */
            int id = s_fresh (&m, arg);
            if (id < 0)
                break;
            recovery_task_t t = {.id = (uint64_t)id,
                                 .retriable = arg & 1,
                                 .sent = (arg >> 1) & 1,
                                 .partial = (arg >> 2) & 1,
                                 .no_wait = (arg & 0x38) == 0x38,
                                 .deadline_ms =
                                     (arg >> 6) ? m.now + (arg >> 6) * 700 : 0};
            if (op % 14 == 10) {
                int rc = recovery_task_lost (m.r, &t, m.now);
                CHECK (rc == 0 || rc == UIS_ERR_STATE || rc == UIS_ERR_AGAIN);
                CHECK (rc != UIS_ERR_STATE || before == RECOVERY_S_FULL_FEATURE);
                if (rc == 0)
                    m.task[id] = T_OWNED;
            }
            else {
                bool held = false;
                int rc = recovery_submit (m.r, &t, m.now, &held);
                CHECK (rc == 0 || rc == UIS_ERR_AGAIN);
                CHECK (held == (rc == 0 && before != RECOVERY_S_FULL_FEATURE));
                if (held)
                    m.task[id] = T_OWNED;
            }
            break;
        }
        case 12: { /* the actor cancels a held task */
            int id = arg % IDS;
            int rc = recovery_task_cancel (m.r, (uint64_t)id);
            if (rc == 0) {
                CHECK (m.task[id] == T_OWNED);
                m.task[id] = T_ENDED;
            }
            break;
        }
        case 13: { /* TMF escalation on the side: must end in DONE or RECOVER */
            recovery_tmf_t t;
            recovery_tmf_init (&t, arg & 15, arg >> 4);
            uint64_t now = m.now;
            CHECK (recovery_tmf_start (&t, now) == RECOVERY_TMF_ACT_SEND_ABORT);
            for (int k = 0; k < 8 && t.state != RECOVERY_TMF_DONE
                            && t.state != RECOVERY_TMF_RECOVERING;
                 k++) {
                uint8_t x = s_u8 (&c);
                if (x & 1) {
                    now = t.deadline_ms;
                    CHECK (recovery_tmf_tick (&t, now) != RECOVERY_TMF_ACT_NONE);
                }
                else
                    recovery_tmf_response (&t, (x >> 1) & 1 ? 5 : 1, x >> 2, now);
            }
            CHECK (t.state != RECOVERY_TMF_IDLE);
            break;
        }
        }
        s_drain (&m, was_terminal);
        if (was_terminal)
            CHECK (recovery_state (m.r) == before);
    }
    /* the end: a close ends every task still held */
    bool was_terminal = s_terminal (&m);
    recovery_close (m.r, m.now);
    s_drain (&m, was_terminal);
    CHECK (recovery_held (m.r) == 0);
    for (int i = 0; i < IDS; i++)
        CHECK (m.task[i] != T_OWNED);
    recovery_stats_t st;
    recovery_stats (m.r, &st);
    CHECK (st.ctrl_dropped == 0);
    recovery_destroy (&m.r);
    return 0;
}
