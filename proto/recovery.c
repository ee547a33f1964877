/* recovery.c: the ERL 0 session-recovery state machine (see recovery.h)
 * as an explicit transition table, plus the CDB retriability classifier
 * and the M5 task-management escalation machine. */
#include "proto/recovery.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "proto/errors.h"

/* ---- events, names ------------------------------------------------------- */

typedef enum {
    EV_CONN_LOST = 0,
    EV_LOGOUT_REQUESTED,
    EV_LOGOUT_DONE,
    EV_LOGIN_OK,
    EV_LOGIN_FAILED,
    EV_TIMER,
    EV_RECONNECT,
    EV_CLOSE,
    EV_SUBMIT,
    EV_TASK_LOST,
    EV__COUNT
} event_t;

static const char *s_state_names[RECOVERY_S__COUNT] = {
    "full_feature", "logout_pending", "waiting", "logging_in", "failed", "closed"};

static const char *s_event_names[EV__COUNT] = {
    "conn_lost", "logout_requested", "logout_done", "login_ok", "login_failed",
    "timer",     "reconnect",        "close",       "submit",   "task_lost"};

static const char *s_lost_names[RECOVERY_LOST__COUNT] = {"eof",
                                                         "reset",
                                                         "write_error",
                                                         "keepalive_timeout",
                                                         "header_digest",
                                                         "data_digest",
                                                         "protocol_error",
                                                         "async_drop",
                                                         "target_dropped_session",
                                                         "target_reset",
                                                         "tmf_timeout",
                                                         "statsn_gap"};

static const char *s_fail_names[RECOVERY_FAIL__COUNT] = {
    "NOT_RETRIABLE", "SESSION_FAILED", "SESSION_RECOVERING", "TIMEOUT", "CANCELLED"};

static const char *s_act_names[RECOVERY_ACT__COUNT] = {
    "state", "close_conn", "logout", "wait", "login", "retry", "fail", "give_up"};

static const char *s_tmf_state_names[RECOVERY_TMF__COUNT] = {
    "idle", "aborting", "lun_resetting", "done", "recovering"};

/* ---- the machine ---------------------------------------------------------- */

struct recovery {
    recovery_cfg_t cfg;
    recovery_state_t state;
    recovery_state_t next;
    event_t last_event;
    const char *pub;   /* the last published public state */
    uint32_t attempts; /* failed logins of this recovery */
    uint32_t streak;   /* recoveries in a row that did not stay up (B15) */
    bool have_ok;
    uint64_t last_ok_ms;
    uint64_t loss_ms;
    uint64_t wait_deadline;
    uint64_t login_deadline;
    uint64_t logout_deadline;
    uint64_t giveup_deadline;
    const char *giveup_reason; /* for giveup_deadline */
    const char *fail_reason;   /* FAILED: why, for tasks submitted later */
    uint16_t time2wait_s;      /* current negotiated values */
    uint16_t time2retain_s;
    /* held tasks, in the order they were handed over */
    recovery_task_t *held;
    size_t n_held;
    /* action ring */
    recovery_action_t *ring;
    size_t ring_cap, ring_head, ring_count;
    size_t ctrl_pending; /* control actions in the ring */
    size_t task_pending; /* RETRY / FAIL actions in the ring */
    /* inputs of the event being dispatched */
    struct {
        uint64_t now;
        uint32_t rnd;
        recovery_lost_t lost;
        uint16_t time2wait_s, time2retain_s;
        bool has_status;
        uint8_t status_class, status_detail;
        const recovery_task_t *task;
        bool took; /* SUBMIT: the machine owns the task */
        int rc;    /* TASK_LOST / SUBMIT result */
    } in;
    recovery_stats_t stats;
};

#define NEXT_DYNAMIC (-1) /* the action chose self->next */
#define NEXT_SAME    (-2) /* stay */
#define ANY_LIVE     (-1) /* superstate: every non-terminal state */
#define ANY_TERMINAL (-2) /* failed and closed */

typedef void (*action_fn) (recovery_t *self);

typedef struct {
    int state;
    event_t event;
    action_fn action;
    int next;
} transition_t;

/* ---- small helpers ------------------------------------------------------- */

/* Public name of a state (session.state). */
static const char *
s_public (recovery_state_t s)
{
    switch (s) {
    case RECOVERY_S_FULL_FEATURE:
        return "full_feature";
    case RECOVERY_S_FAILED:
        return "failed";
    case RECOVERY_S_CLOSED:
        return "closed";
    default:
        return "reconnecting";
    }
}

static bool
s_terminal (recovery_state_t s)
{
    return s == RECOVERY_S_FAILED || s == RECOVERY_S_CLOSED;
}

/* Saturating a + b. */
static uint64_t
s_add (uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* A deadline of a task: 0 and RECOVERY_NO_DEADLINE both mean none. */
static uint64_t
s_task_deadline (const recovery_task_t *t)
{
    return t->deadline_ms == 0 ? RECOVERY_NO_DEADLINE : t->deadline_ms;
}

/* Appends a control action (not RETRY / FAIL); dropped and counted when
 * the actor let RECOVERY_CTRL_MAX pile up. */
static void
s_push_ctrl (recovery_t *self, const recovery_action_t *a)
{
    if (self->ctrl_pending >= RECOVERY_CTRL_MAX) {
        self->stats.ctrl_dropped++;
        return;
    }
    self->ring[(self->ring_head + self->ring_count) % self->ring_cap] = *a;
    self->ring_count++;
    self->ctrl_pending++;
}

/* Appends a RETRY or FAIL action. There is always room: held tasks plus
 * pending task actions never exceed max_tasks (see s_admit). */
static void
s_push_task (recovery_t *self, const recovery_action_t *a)
{
    assert (self->ring_count < self->ring_cap);
    self->ring[(self->ring_head + self->ring_count) % self->ring_cap] = *a;
    self->ring_count++;
    self->task_pending++;
    if (a->kind == RECOVERY_ACT_RETRY)
        self->stats.retried++;
    else
        self->stats.failed++;
}

/* Emits STATE when the public state changes and makes next the state the
 * current row ends in. */
static void
s_go (recovery_t *self, recovery_state_t next, const char *reason)
{
    self->next = next;
    const char *to = s_public (next);
    if (strcmp (to, self->pub) == 0)
        return;
    recovery_action_t a = {.kind = RECOVERY_ACT_STATE};
    a.from = self->pub;
    a.to = to;
    a.reason = reason;
    s_push_ctrl (self, &a);
    self->pub = to;
}

static void
s_close_conn (recovery_t *self, const char *reason)
{
    recovery_action_t a = {.kind = RECOVERY_ACT_CLOSE_CONN, .reason = reason};
    s_push_ctrl (self, &a);
}

/* Ends one task (copied into the action). */
static void
s_fail_task (recovery_t *self, const recovery_task_t *t, recovery_fail_t fail,
             const char *reason, uint64_t retry_after_ms)
{
    recovery_action_t a = {.kind = RECOVERY_ACT_FAIL};
    a.task = t->id;
    a.fail = fail;
    a.reason = reason;
    a.retry_after_ms = retry_after_ms;
    s_push_task (self, &a);
}

/* Fails every held task with fail / reason, in order. */
static void
s_fail_held (recovery_t *self, recovery_fail_t fail, const char *reason)
{
    for (size_t i = 0; i < self->n_held; i++)
        s_fail_task (self, &self->held[i], fail, reason, 0);
    self->n_held = 0;
}

/* Clears the recovery timers. */
static void
s_clear_timers (recovery_t *self)
{
    self->wait_deadline = RECOVERY_NO_DEADLINE;
    self->login_deadline = RECOVERY_NO_DEADLINE;
    self->logout_deadline = RECOVERY_NO_DEADLINE;
    self->giveup_deadline = RECOVERY_NO_DEADLINE;
    self->giveup_reason = NULL;
}

/* Stops for good (O3, O9, K4): GIVE_UP, every held task fails with
 * SESSION_FAILED {reason}, state failed. */
static void
s_give_up (recovery_t *self, const char *reason, int error, uint8_t status_class,
           uint8_t status_detail)
{
    recovery_action_t a = {.kind = RECOVERY_ACT_GIVE_UP};
    a.reason = reason;
    a.error = error;
    a.status_class = status_class;
    a.status_detail = status_detail;
    s_push_ctrl (self, &a);
    s_fail_held (self, RECOVERY_FAIL_SESSION_FAILED, reason);
    self->fail_reason = reason;
    s_clear_timers (self);
    s_go (self, RECOVERY_S_FAILED, reason);
}

/* The n-th backoff wait (n >= 1): doubling from backoff_ms, capped, then
 * shortened by jitter (rnd 0: exact). */
static uint64_t
s_backoff (const recovery_t *self, uint32_t n, uint32_t rnd)
{
    uint64_t base = self->cfg.backoff_ms;
    if (base == 0)
        return 0;
    for (uint32_t i = 1; i < n && base < self->cfg.backoff_max_ms; i++)
        base *= 2;
    if (base > self->cfg.backoff_max_ms)
        base = self->cfg.backoff_max_ms;
    uint64_t j = base * self->cfg.jitter_pct / 100;
    j = (j * rnd) >> 32;
    return base - j;
}

/* Starts login attempt attempts + 1 now (O2: same ISID, TSIH 0). */
static void
s_login (recovery_t *self)
{
    uint64_t now = self->in.now;
    self->wait_deadline = RECOVERY_NO_DEADLINE;
    self->login_deadline = self->cfg.login_timeout_ms
                               ? s_add (now, self->cfg.login_timeout_ms)
                               : RECOVERY_NO_DEADLINE;
    recovery_action_t a = {.kind = RECOVERY_ACT_LOGIN};
    a.attempt = self->attempts + 1;
    memcpy (a.isid, self->cfg.isid, RECOVERY_ISID_LEN);
    a.tsih = 0;
    a.deadline_ms = self->login_deadline;
    s_push_ctrl (self, &a);
    self->stats.logins++;
    s_go (self, RECOVERY_S_LOGGING_IN, "login");
}

/* Logs in at deadline: now when it has passed, else WAIT until then. */
static void
s_schedule (recovery_t *self, uint64_t deadline, const char *reason)
{
    if (deadline <= self->in.now) {
        s_login (self);
        return;
    }
    self->wait_deadline = deadline;
    self->login_deadline = RECOVERY_NO_DEADLINE;
    recovery_action_t a = {.kind = RECOVERY_ACT_WAIT};
    a.deadline_ms = deadline;
    a.attempt = self->attempts + 1;
    a.reason = reason;
    s_push_ctrl (self, &a);
    s_go (self, RECOVERY_S_WAITING, reason);
}

/* Arms the give-up deadline of a recovery that starts at now. t2w_ms and
 * t2r_s: the Time2Wait in force and an async drop's Time2Retain (0: none). */
static void
s_arm_giveup (recovery_t *self, uint64_t t2w_ms, uint16_t async_t2r_s)
{
    uint64_t now = self->in.now;
    self->giveup_deadline = RECOVERY_NO_DEADLINE;
    self->giveup_reason = NULL;
    if (self->cfg.replacement_timeout_ms > 0) {
        self->giveup_deadline = s_add (now, (uint64_t)self->cfg.replacement_timeout_ms);
        self->giveup_reason = "replacement_timeout";
    }
    if (async_t2r_s > 0) { /* K3: reinstate within Time2Retain */
        uint64_t d = s_add (s_add (now, t2w_ms), (uint64_t)async_t2r_s * 1000);
        if (d < self->giveup_deadline) {
            self->giveup_deadline = d;
            self->giveup_reason = "time2retain";
        }
    }
}

static uint16_t
s_clamp_t2 (uint16_t s)
{
    return s > RECOVERY_T2W_MAX_S ? RECOVERY_T2W_MAX_S : s;
}

/* Starts a recovery: closes the connection, goes reconnecting, waits
 * Time2Wait (at least the next backoff step when the last recovery did not
 * stay up) and logs in. */
static void
s_start_recovery (recovery_t *self, const char *reason, uint16_t t2w_s,
                  uint16_t async_t2r_s)
{
    uint64_t now = self->in.now;
    self->stats.recoveries++;
    s_close_conn (self, reason);
    if (self->have_ok && now - self->last_ok_ms < self->cfg.stable_ms)
        self->streak++;
    else
        self->streak = 0;
    self->loss_ms = now;
    self->attempts = 0;
    self->logout_deadline = RECOVERY_NO_DEADLINE;
    uint64_t wait = (uint64_t)s_clamp_t2 (t2w_s) * 1000;
    if (self->streak > 0) {
        uint64_t b = s_backoff (self, self->streak, self->in.rnd);
        if (b > wait)
            wait = b;
    }
    s_arm_giveup (self, wait, s_clamp_t2 (async_t2r_s));
    s_go (self, RECOVERY_S_WAITING, reason);
    s_schedule (self, s_add (now, wait), reason);
}

/* Time to the next login for SESSION_RECOVERING {retry_after_ms}. */
static uint64_t
s_retry_after (const recovery_t *self)
{
    uint64_t now = self->in.now;
    uint64_t d = RECOVERY_NO_DEADLINE;
    if (self->state == RECOVERY_S_WAITING)
        d = self->wait_deadline;
    else if (self->state == RECOVERY_S_LOGOUT_PENDING)
        d = self->logout_deadline;
    if (d == RECOVERY_NO_DEADLINE || d <= now)
        return 0;
    return d - now;
}

/* One login attempt failed (status or not): stop on a fatal status (B6,
 * O9), give up after max_attempts (O3), else wait the next backoff. */
static void
s_attempt_failed (recovery_t *self, const char *reason)
{
    self->stats.login_failures++;
    self->login_deadline = RECOVERY_NO_DEADLINE;
    s_close_conn (self, reason);
    if (self->in.has_status && self->in.status_class == 2) {
        uint8_t d = self->in.status_detail;
        int err = d == 1 || d == 2 ? UIS_ERR_AUTH_FAILED : UIS_ERR_LOGIN_STATUS;
        const char *why = d == 1 || d == 2   ? "auth_failed"
                          : d == 3 || d == 4 ? "target_gone"
                                             : "login_rejected";
        s_give_up (self, why, err, 2, d);
        return;
    }
    self->attempts++;
    if (self->cfg.max_attempts && self->attempts >= self->cfg.max_attempts) {
        s_give_up (self, "max_attempts", 0, self->in.status_class,
                   self->in.status_detail);
        return;
    }
    uint64_t wait = s_backoff (self, self->attempts, self->in.rnd);
    s_schedule (self, s_add (self->in.now, wait), reason);
}

/* Timers valid in every recovering state: the give-up deadline and the
 * deadlines of held tasks. Returns true when the machine gave up. */
static bool
s_timer_common (recovery_t *self)
{
    uint64_t now = self->in.now;
    if (self->giveup_deadline <= now) {
        s_give_up (self, self->giveup_reason ? self->giveup_reason : "timeout", 0, 0, 0);
        return true;
    }
    size_t k = 0;
    for (size_t i = 0; i < self->n_held; i++) {
        if (s_task_deadline (&self->held[i]) <= now)
            s_fail_task (self, &self->held[i], RECOVERY_FAIL_TIMEOUT, "deadline", 0);
        else
            self->held[k++] = self->held[i];
    }
    self->n_held = k;
    return false;
}

/* ---- actions of the table -------------------------------------------------- */

/* Full feature / logout pending, the connection died: recovery (or K4). */
static void
s_act_lost (recovery_t *self)
{
    recovery_lost_t r = self->in.lost;
    if (r == RECOVERY_LOST_ASYNC_DROP_SESSION) { /* K4 */
        self->stats.recoveries++;
        s_close_conn (self, s_lost_names[r]);
        s_give_up (self, s_lost_names[r], 0, 0, 0);
        return;
    }
    uint16_t t2w =
        r == RECOVERY_LOST_ASYNC_DROP ? self->in.time2wait_s : self->time2wait_s;
    uint16_t t2r = r == RECOVERY_LOST_ASYNC_DROP ? self->in.time2retain_s : 0;
    s_start_recovery (self, s_lost_names[r], t2w, t2r);
}

/* A second trigger while recovering (O7): absorbed; an async drop during
 * the first wait may lengthen it to its own Time2Wait; K4 still ends it. */
static void
s_act_absorb_lost (recovery_t *self)
{
    recovery_lost_t r = self->in.lost;
    if (r == RECOVERY_LOST_ASYNC_DROP_SESSION) {
        s_give_up (self, s_lost_names[r], 0, 0, 0);
        return;
    }
    self->stats.absorbed++;
    if (r == RECOVERY_LOST_ASYNC_DROP && self->attempts == 0
        && self->state == RECOVERY_S_WAITING) {
        uint64_t d =
            s_add (self->loss_ms, (uint64_t)s_clamp_t2 (self->in.time2wait_s) * 1000);
        if (d > self->wait_deadline && d > self->in.now) {
            self->wait_deadline = d;
            recovery_action_t a = {.kind = RECOVERY_ACT_WAIT};
            a.deadline_ms = d;
            a.attempt = 1;
            a.reason = s_lost_names[r];
            s_push_ctrl (self, &a);
        }
    }
}

/* K2: the target asks for a logout. */
static void
s_act_logout_requested (recovery_t *self)
{
    self->logout_deadline = s_add (self->in.now, (uint64_t)self->in.time2retain_s * 1000);
    s_go (self, RECOVERY_S_LOGOUT_PENDING, "logout_requested");
    recovery_action_t a = {.kind = RECOVERY_ACT_LOGOUT};
    a.deadline_ms = self->logout_deadline;
    a.reason = "logout_requested";
    s_push_ctrl (self, &a);
}

/* K2: our Logout was answered: recover with its Time2Wait. */
static void
s_act_logout_done (recovery_t *self)
{
    s_start_recovery (self, "logout_requested", self->in.time2wait_s, 0);
}

/* K2: no Logout response by the target's deadline. */
static void
s_act_logout_timer (recovery_t *self)
{
    if (s_timer_common (self))
        return;
    if (self->logout_deadline <= self->in.now)
        s_start_recovery (self, "logout_timeout", self->time2wait_s, 0);
}

/* Waiting: the wait is over, log in. */
static void
s_act_wait_timer (recovery_t *self)
{
    if (s_timer_common (self))
        return;
    if (self->wait_deadline <= self->in.now)
        s_login (self);
}

/* Logging in: the attempt timed out. */
static void
s_act_login_timer (recovery_t *self)
{
    if (s_timer_common (self))
        return;
    if (self->login_deadline <= self->in.now) {
        self->in.has_status = false;
        self->in.status_class = 0;
        self->in.status_detail = 0;
        s_attempt_failed (self, "login_timeout");
    }
}

/* Logging in: the target answered with an error, or the transport failed. */
static void
s_act_login_failed (recovery_t *self)
{
    s_attempt_failed (self, "login_failed");
}

/* Logging in: the new connection died (reported as a loss). */
static void
s_act_login_conn_lost (recovery_t *self)
{
    if (self->in.lost == RECOVERY_LOST_ASYNC_DROP_SESSION) {
        s_act_absorb_lost (self);
        return;
    }
    self->in.has_status = false;
    self->in.status_class = 0;
    self->in.status_detail = 0;
    s_attempt_failed (self, s_lost_names[self->in.lost]);
}

/* Logging in: success. Back to full feature, every held task re-issued at
 * once (O1, O11), in the order handed over. */
static void
s_act_recovered (recovery_t *self)
{
    self->attempts = 0;
    self->have_ok = true;
    self->last_ok_ms = self->in.now;
    self->time2wait_s = s_clamp_t2 (self->in.time2wait_s);
    self->time2retain_s = s_clamp_t2 (self->in.time2retain_s);
    s_clear_timers (self);
    s_go (self, RECOVERY_S_FULL_FEATURE, "recovered");
    for (size_t i = 0; i < self->n_held; i++) {
        recovery_action_t a = {.kind = RECOVERY_ACT_RETRY};
        a.task = self->held[i].id;
        s_push_task (self, &a);
    }
    self->n_held = 0;
}

/* session.reconnect: log in now (no Time2Wait, no backoff). From full
 * feature (or logout pending) the connection is dropped first. */
static void
s_act_reconnect (recovery_t *self)
{
    if (self->state == RECOVERY_S_FULL_FEATURE
        || self->state == RECOVERY_S_LOGOUT_PENDING) {
        self->stats.recoveries++;
        s_close_conn (self, "reconnect");
        self->loss_ms = self->in.now;
        self->logout_deadline = RECOVERY_NO_DEADLINE;
        s_arm_giveup (self, 0, 0);
        s_go (self, RECOVERY_S_LOGGING_IN, "reconnect");
    }
    self->attempts = 0;
    s_login (self);
}

/* Close (N5): a login in progress is dropped, held tasks end CANCELLED. */
static void
s_act_close (recovery_t *self)
{
    if (self->state == RECOVERY_S_LOGGING_IN)
        s_close_conn (self, "close");
    s_fail_held (self, RECOVERY_FAIL_CANCELLED, "closed");
    s_clear_timers (self);
    s_go (self, RECOVERY_S_CLOSED, "close");
}

/* Full feature: a submit is none of the machine's business. */
static void
s_act_pass (recovery_t *self)
{
    self->in.took = false;
}

/* Recovering: a task handed over (lost in flight or submitted now). */
static void
s_act_hold (recovery_t *self)
{
    const recovery_task_t *t = self->in.task;
    self->in.took = true;
    if (t->sent && (!t->retriable || t->partial)) { /* O5, O6, O10 */
        s_fail_task (self, t, RECOVERY_FAIL_NOT_RETRIABLE,
                     t->partial ? "partial_read" : "not_idempotent", 0);
        return;
    }
    if (self->cfg.replacement_timeout_ms == 0 || t->no_wait) { /* O4 */
        s_fail_task (self, t, RECOVERY_FAIL_RECOVERING, s_state_names[self->state],
                     s_retry_after (self));
        return;
    }
    if (s_task_deadline (t) <= self->in.now) {
        s_fail_task (self, t, RECOVERY_FAIL_TIMEOUT, "deadline", 0);
        return;
    }
    self->held[self->n_held++] = *t;
}

/* Terminal: a task handed over ends at once. */
static void
s_act_fail_now (recovery_t *self)
{
    self->in.took = true;
    if (self->state == RECOVERY_S_CLOSED)
        s_fail_task (self, self->in.task, RECOVERY_FAIL_CANCELLED, "closed", 0);
    else
        s_fail_task (self, self->in.task, RECOVERY_FAIL_SESSION_FAILED,
                     self->fail_reason ? self->fail_reason : "failed", 0);
}

static const transition_t s_table[] = {
    {RECOVERY_S_FULL_FEATURE, EV_CONN_LOST, s_act_lost, NEXT_DYNAMIC},
    {RECOVERY_S_FULL_FEATURE, EV_LOGOUT_REQUESTED, s_act_logout_requested, NEXT_DYNAMIC},
    {RECOVERY_S_FULL_FEATURE, EV_RECONNECT, s_act_reconnect, NEXT_DYNAMIC},
    {RECOVERY_S_FULL_FEATURE, EV_SUBMIT, s_act_pass, NEXT_SAME},
    {RECOVERY_S_LOGOUT_PENDING, EV_CONN_LOST, s_act_lost, NEXT_DYNAMIC},
    {RECOVERY_S_LOGOUT_PENDING, EV_LOGOUT_DONE, s_act_logout_done, NEXT_DYNAMIC},
    {RECOVERY_S_LOGOUT_PENDING, EV_TIMER, s_act_logout_timer, NEXT_DYNAMIC},
    {RECOVERY_S_LOGOUT_PENDING, EV_RECONNECT, s_act_reconnect, NEXT_DYNAMIC},
    {RECOVERY_S_WAITING, EV_CONN_LOST, s_act_absorb_lost, NEXT_DYNAMIC},
    {RECOVERY_S_WAITING, EV_TIMER, s_act_wait_timer, NEXT_DYNAMIC},
    {RECOVERY_S_WAITING, EV_RECONNECT, s_act_reconnect, NEXT_DYNAMIC},
    {RECOVERY_S_LOGGING_IN, EV_LOGIN_OK, s_act_recovered, NEXT_DYNAMIC},
    {RECOVERY_S_LOGGING_IN, EV_LOGIN_FAILED, s_act_login_failed, NEXT_DYNAMIC},
    {RECOVERY_S_LOGGING_IN, EV_TIMER, s_act_login_timer, NEXT_DYNAMIC},
    {RECOVERY_S_LOGGING_IN, EV_CONN_LOST, s_act_login_conn_lost, NEXT_DYNAMIC},
    /* superstate rows: every live state */
    {ANY_LIVE, EV_CLOSE, s_act_close, NEXT_DYNAMIC},
    {ANY_LIVE, EV_SUBMIT, s_act_hold, NEXT_SAME},
    {ANY_LIVE, EV_TASK_LOST, s_act_hold, NEXT_SAME},
    /* terminal states absorb everything; tasks handed over end at once */
    {ANY_TERMINAL, EV_SUBMIT, s_act_fail_now, NEXT_SAME},
    {ANY_TERMINAL, EV_TASK_LOST, s_act_fail_now, NEXT_SAME},
};

/* Runs the row for (state, event): the state's own rows first, then the
 * superstate rows; no row: the event is absorbed. */
static void
s_dispatch (recovery_t *self, event_t ev)
{
    self->last_event = ev;
    const transition_t *hit = NULL;
    for (size_t pass = 0; pass < 2 && !hit; pass++)
        for (size_t i = 0; i < sizeof s_table / sizeof s_table[0]; i++) {
            const transition_t *t = &s_table[i];
            if (t->event != ev)
                continue;
            bool match =
                pass == 0 ? t->state == (int)self->state
                          : (t->state == ANY_LIVE && !s_terminal (self->state))
                                || (t->state == ANY_TERMINAL && s_terminal (self->state));
            if (match) {
                hit = t;
                break;
            }
        }
    if (!hit) {
        self->stats.absorbed++;
        return;
    }
    self->next = hit->next >= 0 ? (recovery_state_t)hit->next : self->state;
    hit->action (self);
    self->state = self->next;
}

/* Prepares the inputs of an event. */
static void
s_input (recovery_t *self, uint64_t now_ms, uint32_t rnd)
{
    memset (&self->in, 0, sizeof self->in);
    self->in.now = now_ms;
    self->in.rnd = rnd;
}

/* ---- public API ------------------------------------------------------------ */

void
recovery_cfg_defaults (recovery_cfg_t *cfg)
{
    assert (cfg);
    memset (cfg, 0, sizeof *cfg);
    cfg->max_attempts = 8;
    cfg->backoff_ms = 100;
    cfg->backoff_max_ms = 10000;
    cfg->jitter_pct = 20;
    cfg->replacement_timeout_ms = 120000;
    cfg->login_timeout_ms = 15000;
    cfg->time2wait_s = 2;
    cfg->time2retain_s = 20;
    cfg->stable_ms = 10000;
    cfg->max_tasks = 4096;
}

/* Creates the machine (see recovery.h); the caller owns it. */
recovery_t *
recovery_new (const recovery_cfg_t *cfg)
{
    if (!cfg || cfg->max_tasks == 0 || cfg->max_tasks > RECOVERY_TASKS_MAX
        || cfg->replacement_timeout_ms < -1)
        return NULL;
    recovery_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    if (self->cfg.jitter_pct > 100)
        self->cfg.jitter_pct = 100;
    if (self->cfg.backoff_max_ms < self->cfg.backoff_ms)
        self->cfg.backoff_max_ms = self->cfg.backoff_ms;
    self->time2wait_s = s_clamp_t2 (cfg->time2wait_s);
    self->time2retain_s = s_clamp_t2 (cfg->time2retain_s);
    self->held = calloc (cfg->max_tasks, sizeof *self->held);
    self->ring_cap = (size_t)cfg->max_tasks + RECOVERY_CTRL_MAX;
    self->ring = calloc (self->ring_cap, sizeof *self->ring);
    if (!self->held || !self->ring) {
        recovery_destroy (&self);
        return NULL;
    }
    self->state = RECOVERY_S_FULL_FEATURE;
    self->pub = s_public (self->state);
    self->last_event = EV__COUNT;
    s_clear_timers (self);
    return self;
}

/* Frees the machine and NULLs *self_p. */
void
recovery_destroy (recovery_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    recovery_t *self = *self_p;
    free (self->held);
    free (self->ring);
    free (self);
    *self_p = NULL;
}

/* Event: the connection died. */
int
recovery_conn_lost (recovery_t *self, recovery_lost_t reason, uint16_t time2wait_s,
                    uint16_t time2retain_s, uint64_t now_ms, uint32_t rnd)
{
    assert (self);
    if ((unsigned)reason >= RECOVERY_LOST__COUNT)
        return UIS_ERR_INVALID_ARG;
    s_input (self, now_ms, rnd);
    self->in.lost = reason;
    self->in.time2wait_s = time2wait_s;
    self->in.time2retain_s = time2retain_s;
    s_dispatch (self, EV_CONN_LOST);
    return 0;
}

/* Event (K2): Async code 1 (the deadline travels in time2retain_s). */
int
recovery_logout_requested (recovery_t *self, uint16_t parameter3_s, uint64_t now_ms)
{
    assert (self);
    s_input (self, now_ms, 0);
    self->in.time2retain_s = parameter3_s;
    s_dispatch (self, EV_LOGOUT_REQUESTED);
    return 0;
}

/* Event (K2): the Logout Response arrived. */
int
recovery_logout_done (recovery_t *self, uint16_t time2wait_s, uint16_t time2retain_s,
                      uint64_t now_ms, uint32_t rnd)
{
    assert (self);
    s_input (self, now_ms, rnd);
    self->in.time2wait_s = time2wait_s;
    self->in.time2retain_s = time2retain_s;
    s_dispatch (self, EV_LOGOUT_DONE);
    return 0;
}

/* Event: the login attempt succeeded. */
int
recovery_login_ok (recovery_t *self, uint16_t time2wait_s, uint16_t time2retain_s,
                   uint64_t now_ms)
{
    assert (self);
    s_input (self, now_ms, 0);
    self->in.time2wait_s = time2wait_s;
    self->in.time2retain_s = time2retain_s;
    s_dispatch (self, EV_LOGIN_OK);
    return 0;
}

/* Event: the login attempt failed. */
int
recovery_login_failed (recovery_t *self, bool has_status, uint8_t status_class,
                       uint8_t status_detail, uint64_t now_ms, uint32_t rnd)
{
    assert (self);
    s_input (self, now_ms, rnd);
    self->in.has_status = has_status;
    self->in.status_class = has_status ? status_class : 0;
    self->in.status_detail = has_status ? status_detail : 0;
    s_dispatch (self, EV_LOGIN_FAILED);
    return 0;
}

/* Event: time passes. */
int
recovery_tick (recovery_t *self, uint64_t now_ms, uint32_t rnd)
{
    assert (self);
    s_input (self, now_ms, rnd);
    s_dispatch (self, EV_TIMER);
    return 0;
}

/* Event: session.reconnect. */
int
recovery_reconnect (recovery_t *self, uint64_t now_ms)
{
    assert (self);
    s_input (self, now_ms, 0);
    s_dispatch (self, EV_RECONNECT);
    return 0;
}

/* Event: close. */
int
recovery_close (recovery_t *self, uint64_t now_ms)
{
    assert (self);
    s_input (self, now_ms, 0);
    s_dispatch (self, EV_CLOSE);
    return 0;
}

/* Checks that a task may be handed over: 0, UIS_ERR_INVALID_ARG for a
 * duplicate id, UIS_ERR_AGAIN when full. */
static int
s_admit (const recovery_t *self, const recovery_task_t *task)
{
    if (self->n_held + self->task_pending >= self->cfg.max_tasks)
        return UIS_ERR_AGAIN;
    for (size_t i = 0; i < self->n_held; i++)
        if (self->held[i].id == task->id)
            return UIS_ERR_INVALID_ARG;
    return 0;
}

/* Hands over a task live at the loss. */
int
recovery_task_lost (recovery_t *self, const recovery_task_t *task, uint64_t now_ms)
{
    assert (self);
    assert (task);
    if (self->state == RECOVERY_S_FULL_FEATURE)
        return UIS_ERR_STATE;
    int rc = s_admit (self, task);
    if (rc)
        return rc;
    s_input (self, now_ms, 0);
    self->in.task = task;
    s_dispatch (self, EV_TASK_LOST);
    return 0;
}

/* Event: a new command (O4). */
int
recovery_submit (recovery_t *self, const recovery_task_t *task, uint64_t now_ms,
                 bool *held)
{
    assert (self);
    assert (task);
    assert (held);
    *held = false;
    if (self->state != RECOVERY_S_FULL_FEATURE) {
        int rc = s_admit (self, task);
        if (rc)
            return rc;
    }
    s_input (self, now_ms, 0);
    recovery_task_t t = *task;
    t.sent = false; /* a new command never went out */
    self->in.task = &t;
    s_dispatch (self, EV_SUBMIT);
    *held = self->in.took;
    return 0;
}

/* Forgets a held task. */
int
recovery_task_cancel (recovery_t *self, uint64_t id)
{
    assert (self);
    for (size_t i = 0; i < self->n_held; i++)
        if (self->held[i].id == id) {
            memmove (&self->held[i], &self->held[i + 1],
                     (self->n_held - i - 1) * sizeof self->held[0]);
            self->n_held--;
            return 0;
        }
    return UIS_ERR_INVALID_ARG;
}

/* Takes the next action. */
bool
recovery_action_next (recovery_t *self, recovery_action_t *act)
{
    assert (self);
    assert (act);
    if (self->ring_count == 0)
        return false;
    *act = self->ring[self->ring_head];
    self->ring_head = (self->ring_head + 1) % self->ring_cap;
    self->ring_count--;
    if (act->kind == RECOVERY_ACT_RETRY || act->kind == RECOVERY_ACT_FAIL)
        self->task_pending--;
    else
        self->ctrl_pending--;
    return true;
}

/* The next time recovery_tick has work. */
uint64_t
recovery_next_timer (const recovery_t *self)
{
    assert (self);
    if (s_terminal (self->state) || self->state == RECOVERY_S_FULL_FEATURE)
        return RECOVERY_NO_DEADLINE;
    uint64_t t = self->giveup_deadline;
    if (self->state == RECOVERY_S_WAITING && self->wait_deadline < t)
        t = self->wait_deadline;
    if (self->state == RECOVERY_S_LOGGING_IN && self->login_deadline < t)
        t = self->login_deadline;
    if (self->state == RECOVERY_S_LOGOUT_PENDING && self->logout_deadline < t)
        t = self->logout_deadline;
    for (size_t i = 0; i < self->n_held; i++)
        if (s_task_deadline (&self->held[i]) < t)
            t = s_task_deadline (&self->held[i]);
    return t;
}

recovery_state_t
recovery_state (const recovery_t *self)
{
    assert (self);
    return self->state;
}

const char *
recovery_public_state (const recovery_t *self)
{
    assert (self);
    return s_public (self->state);
}

uint32_t
recovery_attempts (const recovery_t *self)
{
    assert (self);
    return self->attempts;
}

size_t
recovery_held (const recovery_t *self)
{
    assert (self);
    return self->n_held;
}

void
recovery_stats (const recovery_t *self, recovery_stats_t *out)
{
    assert (self);
    assert (out);
    *out = self->stats;
}

const char *
recovery_state_name (recovery_state_t s)
{
    return (unsigned)s < RECOVERY_S__COUNT ? s_state_names[s] : "unknown";
}

const char *
recovery_event_name (int event)
{
    return event >= 0 && event < EV__COUNT ? s_event_names[event] : "unknown";
}

const char *
recovery_last_event_name (const recovery_t *self)
{
    assert (self);
    return recovery_event_name ((int)self->last_event);
}

const char *
recovery_lost_name (recovery_lost_t r)
{
    return (unsigned)r < RECOVERY_LOST__COUNT ? s_lost_names[r] : "unknown";
}

const char *
recovery_fail_name (recovery_fail_t f)
{
    return (unsigned)f < RECOVERY_FAIL__COUNT ? s_fail_names[f] : "unknown";
}

const char *
recovery_action_name (recovery_act_kind_t k)
{
    return (unsigned)k < RECOVERY_ACT__COUNT ? s_act_names[k] : "unknown";
}

/* ---- retriability (O5, O10) ------------------------------------------------ */

/* true for the peripheral device types whose media access is by LBA
 * (SPC-4 §6.6.2 table 115): direct access, write-once, CD/DVD, optical
 * memory, RBC. */
static bool
s_block_device (uint8_t device_type)
{
    switch (device_type & 0x1f) {
    case 0x00:
    case 0x04:
    case 0x05:
    case 0x07:
    case 0x0e:
        return true;
    default:
        return false;
    }
}

/* The class of a CDB (see recovery.h). */
recovery_class_t
recovery_classify (const uint8_t *cdb, size_t cdb_len, uint8_t device_type)
{
    if (!cdb || cdb_len == 0)
        return RECOVERY_CLASS_NEVER;
    uint8_t op = cdb[0];
    /* pure reports: retriable on every device type */
    switch (op) {
    case 0x00: /* TEST UNIT READY */
    case 0x03: /* REQUEST SENSE */
    case 0x12: /* INQUIRY */
    case 0x1a: /* MODE SENSE(6) */
    case 0x5a: /* MODE SENSE(10) */
    case 0x5e: /* PERSISTENT RESERVE IN */
    case 0xa0: /* REPORT LUNS */
    case 0xa3: /* MAINTENANCE IN (REPORT TARGET PORT GROUPS, ...) */
        return RECOVERY_CLASS_IDEMPOTENT;
    default:
        break;
    }
    if (!s_block_device (device_type))
        return RECOVERY_CLASS_NEVER; /* tape READ / WRITE move the position */
    switch (op) {
    case 0x08: /* READ(6) */
    case 0x28: /* READ(10) */
    case 0xa8: /* READ(12) */
    case 0x88: /* READ(16) */
    case 0x2f: /* VERIFY(10) */
    case 0xaf: /* VERIFY(12) */
    case 0x8f: /* VERIFY(16) */
    case 0x25: /* READ CAPACITY(10) */
        return RECOVERY_CLASS_IDEMPOTENT;
    case 0x9e: /* SERVICE ACTION IN(16): READ CAPACITY(16), GET LBA STATUS,
                  REPORT REFERRALS */
        if (cdb_len < 2)
            return RECOVERY_CLASS_NEVER;
        switch (cdb[1] & 0x1f) {
        case 0x10:
        case 0x12:
        case 0x13:
            return RECOVERY_CLASS_IDEMPOTENT;
        default:
            return RECOVERY_CLASS_NEVER;
        }
    case 0x1b: /* START STOP UNIT: LOEJ (byte 4 bit 1) loads or ejects */
        if (cdb_len < 5 || (cdb[4] & 0x02))
            return RECOVERY_CLASS_NEVER;
        return RECOVERY_CLASS_IDEMPOTENT;
    case 0x0a: /* WRITE(6) */
    case 0x2a: /* WRITE(10) */
    case 0xaa: /* WRITE(12) */
    case 0x8a: /* WRITE(16) */
    case 0x2e: /* WRITE AND VERIFY(10) */
    case 0xae: /* WRITE AND VERIFY(12) */
    case 0x8e: /* WRITE AND VERIFY(16) */
    case 0x41: /* WRITE SAME(10) */
    case 0x93: /* WRITE SAME(16) */
    case 0x42: /* UNMAP */
    case 0x35: /* SYNCHRONIZE CACHE(10) */
    case 0x91: /* SYNCHRONIZE CACHE(16) */
        return RECOVERY_CLASS_WRITE;
    case 0x7f: { /* variable length: service action in bytes 8-9 */
        if (cdb_len < 10)
            return RECOVERY_CLASS_NEVER;
        uint16_t sa = (uint16_t)(cdb[8] << 8 | cdb[9]);
        switch (sa) {
        case 0x0009: /* READ(32) */
        case 0x000a: /* VERIFY(32) */
            return RECOVERY_CLASS_IDEMPOTENT;
        case 0x000b: /* WRITE(32) */
        case 0x000c: /* WRITE AND VERIFY(32) */
        case 0x000d: /* WRITE SAME(32) */
            return RECOVERY_CLASS_WRITE;
        default:
            return RECOVERY_CLASS_NEVER;
        }
    }
    default: /* PR OUT 0x5f, COMPARE AND WRITE 0x89, FORMAT UNIT 0x04,
                MODE SELECT, unknown */
        return RECOVERY_CLASS_NEVER;
    }
}

/* true when a command of that CDB may be re-issued. */
bool
recovery_retriable (const uint8_t *cdb, size_t cdb_len, uint8_t device_type,
                    bool writes_retriable)
{
    recovery_class_t c = recovery_classify (cdb, cdb_len, device_type);
    return c == RECOVERY_CLASS_IDEMPOTENT
           || (c == RECOVERY_CLASS_WRITE && writes_retriable);
}

/* ---- M5: TMF escalation ------------------------------------------------------ */

typedef enum {
    TEV_START = 0,
    TEV_RSP_OK,  /* the outstanding TMF is answered with success */
    TEV_RSP_BAD, /* answered with another response */
    TEV_TIMEOUT, /* its deadline passed */
    TEV__COUNT
} tmf_event_t;

typedef struct {
    recovery_tmf_state_t state;
    tmf_event_t event;
    recovery_tmf_act_t act;
    recovery_tmf_state_t next;
} tmf_row_t;

static const tmf_row_t s_tmf_table[] = {
    {RECOVERY_TMF_IDLE, TEV_START, RECOVERY_TMF_ACT_SEND_ABORT, RECOVERY_TMF_ABORTING},
    {RECOVERY_TMF_ABORTING, TEV_RSP_OK, RECOVERY_TMF_ACT_DONE, RECOVERY_TMF_DONE},
    {RECOVERY_TMF_ABORTING, TEV_RSP_BAD, RECOVERY_TMF_ACT_SEND_LUN_RESET,
     RECOVERY_TMF_LUN_RESETTING},
    {RECOVERY_TMF_ABORTING, TEV_TIMEOUT, RECOVERY_TMF_ACT_SEND_LUN_RESET,
     RECOVERY_TMF_LUN_RESETTING},
    {RECOVERY_TMF_LUN_RESETTING, TEV_RSP_OK, RECOVERY_TMF_ACT_DONE, RECOVERY_TMF_DONE},
    {RECOVERY_TMF_LUN_RESETTING, TEV_RSP_BAD, RECOVERY_TMF_ACT_RECOVER,
     RECOVERY_TMF_RECOVERING},
    {RECOVERY_TMF_LUN_RESETTING, TEV_TIMEOUT, RECOVERY_TMF_ACT_RECOVER,
     RECOVERY_TMF_RECOVERING},
};

/* Runs the TMF row for (state, ev); no row: NONE. Arms the deadline of
 * the TMF the next state waits for. */
static recovery_tmf_act_t
s_tmf_dispatch (recovery_tmf_t *t, tmf_event_t ev, uint64_t now_ms)
{
    for (size_t i = 0; i < sizeof s_tmf_table / sizeof s_tmf_table[0]; i++) {
        const tmf_row_t *r = &s_tmf_table[i];
        if (r->state != t->state || r->event != ev)
            continue;
        t->state = r->next;
        if (t->state == RECOVERY_TMF_ABORTING)
            t->deadline_ms = s_add (now_ms, t->abort_timeout_ms);
        else if (t->state == RECOVERY_TMF_LUN_RESETTING)
            t->deadline_ms = s_add (now_ms, t->lun_reset_timeout_ms);
        else
            t->deadline_ms = RECOVERY_NO_DEADLINE;
        return r->act;
    }
    return RECOVERY_TMF_ACT_NONE;
}

void
recovery_tmf_init (recovery_tmf_t *t, uint32_t abort_timeout_ms,
                   uint32_t lun_reset_timeout_ms)
{
    assert (t);
    t->state = RECOVERY_TMF_IDLE;
    t->deadline_ms = RECOVERY_NO_DEADLINE;
    t->abort_timeout_ms = abort_timeout_ms ? abort_timeout_ms : 1;
    t->lun_reset_timeout_ms = lun_reset_timeout_ms ? lun_reset_timeout_ms : 1;
}

recovery_tmf_act_t
recovery_tmf_start (recovery_tmf_t *t, uint64_t now_ms)
{
    assert (t);
    return s_tmf_dispatch (t, TEV_START, now_ms);
}

/* A response to ABORT TASK: 0 complete, 1 task does not exist (M2), 2 LUN
 * does not exist end it; to LOGICAL UNIT RESET only 0 does (§11.6.1). */
recovery_tmf_act_t
recovery_tmf_response (recovery_tmf_t *t, uint8_t function, uint8_t response,
                       uint64_t now_ms)
{
    assert (t);
    function &= 0x7f;
    if (t->state == RECOVERY_TMF_ABORTING && function == RECOVERY_TMF_ABORT_TASK)
        return s_tmf_dispatch (t, response <= 2 ? TEV_RSP_OK : TEV_RSP_BAD, now_ms);
    if (t->state == RECOVERY_TMF_LUN_RESETTING && function == RECOVERY_TMF_LUN_RESET)
        return s_tmf_dispatch (t, response == 0 ? TEV_RSP_OK : TEV_RSP_BAD, now_ms);
    return RECOVERY_TMF_ACT_NONE; /* stale or not ours */
}

recovery_tmf_act_t
recovery_tmf_tick (recovery_tmf_t *t, uint64_t now_ms)
{
    assert (t);
    if (t->deadline_ms > now_ms)
        return RECOVERY_TMF_ACT_NONE;
    return s_tmf_dispatch (t, TEV_TIMEOUT, now_ms);
}

const char *
recovery_tmf_state_name (recovery_tmf_state_t s)
{
    return (unsigned)s < RECOVERY_TMF__COUNT ? s_tmf_state_names[s] : "unknown";
}
