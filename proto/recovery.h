/* recovery.h: the ERL 0 session-recovery state machine (RFC 7143 §6.3.5
 * session reinstatement, §7.1 / §7.12 recovery classes), pure: it decides,
 * the io actor executes. No I/O, no clock, no randomness of its own: every
 * call takes now_ms (monotonic milliseconds) and, where a wait is chosen,
 * rnd (32 random bits for the jitter).
 *
 *   recovery_t *r = recovery_new (&cfg);           // at full feature phase
 *   on a dead connection (THE entry point, io.c s_conn_dead):
 *       recovery_conn_lost (r, RECOVERY_LOST_RESET, 0, 0, now, rnd);
 *       for each live task of the engine (session_tasks + the actor's
 *       request):   recovery_task_lost (r, &task, now);
 *       session_destroy (&engine);                   // no completions
 *   a command submitted while recovering:
 *       recovery_submit (r, &task, now, &held);     // !held: send it normally
 *   login attempt ended:  recovery_login_ok / recovery_login_failed
 *   timers:               recovery_tick (r, now, rnd) at recovery_next_timer
 *   user:                 recovery_reconnect, recovery_close
 *   after every call:     while (recovery_action_next (r, &act)) execute act
 *
 * The machine is an explicit transition table (recovery.c): states
 * (full_feature, logout_pending, waiting, logging_in, failed, closed),
 * events (conn_lost, logout_requested, logout_done, login_ok, login_failed,
 * timer, reconnect, close, submit), an action and a next state per row,
 * superstate rows for the events valid in every live state, and terminal
 * states (failed, closed) that absorb every event (a submit there is failed
 * at once).
 *
 * Actions, in the order the actor must execute them:
 *   STATE       publish session.state {from, to, reason} (public names:
 *               full_feature, reconnecting, failed, closed; R6). Emitted
 *               only when the public state changes.
 *   CLOSE_CONN  close the TCP connection (and a login in progress) now.
 *   LOGOUT      K2: queue a Logout Request (reason 0, close the session) on
 *               the live connection; no new commands go out; deadline_ms is
 *               the target's Parameter3 limit.
 *   WAIT        nothing to do but sleep until deadline_ms (also returned by
 *               recovery_next_timer; given for tracing and tests).
 *   LOGIN       start login attempt number `attempt` with isid (the
 *               session's, unchanged) and tsih 0 (ERL 0 reinstatement, O2);
 *               it must end (ok / failed) by deadline_ms or the machine
 *               times it out (CLOSE_CONN then a retry or give-up).
 *   RETRY       re-issue task `task` on the new connection with a new ITT
 *               and CmdSN (O1); all RETRY actions of a recovery come
 *               together, right after the STATE back to full_feature (O11).
 *   FAIL        end task `task` with `fail` (the RPC error to send) and
 *               reason; retry_after_ms for RECOVERY_FAIL_RECOVERING.
 *   GIVE_UP     recovery stopped for good: reason; error is
 *               UIS_ERR_AUTH_FAILED (O9), UIS_ERR_LOGIN_STATUS (target
 *               gone, login refused) or 0 (max_attempts, timeouts, K4);
 *               status_class / status_detail of the last login response.
 *               Comes before the FAIL actions of the held tasks and the
 *               STATE to failed.
 *
 * Decisions (documented choices):
 *   - Waits (K3, O2, O3): the first login of a recovery comes after
 *     Time2Wait (the negotiated DefaultTime2Wait, or Async Parameter2 for
 *     an async drop; no jitter, it is the target's minimum, §13.14). After
 *     the n-th failed attempt the wait is min(backoff_max_ms, backoff_ms *
 *     2^(n-1)) shortened by jitter: wait - wait * jitter_pct / 100 * rnd /
 *     2^32 (rnd 0: exact). The cap is a hard bound.
 *   - A loss less than stable_ms after the previous recovery succeeded
 *     continues the backoff (the first wait is at least the next backoff
 *     step) instead of restarting it: a target that accepts the login and
 *     drops at once cannot make the daemon spin (B15 "death spiral").
 *   - Giving up (O3): after max_attempts failed logins (0: no limit); when
 *     replacement_timeout_ms > 0 passes since the loss; when an async drop
 *     (K3) gave Time2Retain > 0 and loss + Time2Wait + Time2Retain passes
 *     ("reinstate within Time2Retain"). The negotiated DefaultTime2Retain
 *     does not bound recovery: 0 is common and at ERL 0 every task is
 *     re-issued with a new ITT anyway, so nothing depends on the target
 *     keeping the old session's state.
 *   - Login verdicts (B6, O9): 0x0201 / 0x0202 (authentication,
 *     authorization) stop at once with UIS_ERR_AUTH_FAILED; 0x0203 / 0x0204
 *     (not found, removed) stop with UIS_ERR_LOGIN_STATUS "target_gone";
 *     the other class 2 statuses stop ("login_rejected": §11.13.5 says
 *     the request should not be repeated as is); class 3, redirects that
 *     surface as failures and transport errors (no status) count as one
 *     failed attempt.
 *   - O4, replacement_timeout_ms: -1 a command waits until the session is
 *     back (bounded by its own deadline and max_attempts); > 0 it waits too,
 *     and the whole recovery gives up that long after the loss; 0 no
 *     command waits: tasks in flight at the loss and commands submitted
 *     while recovering fail at once with RECOVERY_FAIL_RECOVERING (the
 *     recovery itself goes on). A task whose caller asked not to wait
 *     (no_wait) fails the same way. retry_after_ms is the time to the next
 *     login (0 while one runs).
 *   - A task held past its own deadline fails with RECOVERY_FAIL_TIMEOUT.
 *   - O5, O6, O10: a task in flight at the loss that was sent and is not
 *     retriable (see recovery_classify), or a read that already delivered
 *     data to its client (partial), fails at once with
 *     RECOVERY_FAIL_NOT_RETRIABLE; it is not kept until the login (the
 *     answer does not depend on it). A task never sent is always retried.
 *   - O7: a loss while already recovering is absorbed (counted); an async
 *     drop absorbed during the first wait can only lengthen that wait to
 *     its own Time2Wait.
 *   - K2: an Async Logout request moves to logout_pending (public state
 *     reconnecting): new commands are held, commands in flight may finish,
 *     a LOGOUT action goes out; the Logout response (recovery_logout_done,
 *     with its Time2Wait) or the Parameter3 deadline closes the connection
 *     and the recovery goes on as for a loss (a target asking for a logout
 *     is usually moving or restarting).
 *   - K4: an Async "drop the session" (code 3) fails everything at once and
 *     the session becomes failed (GIVE_UP "target_dropped_session"); no
 *     reconnect.
 *   - session.reconnect (recovery_reconnect) logs in at once: no Time2Wait,
 *     no backoff (the user asked; the attempt counter restarts). During a
 *     login it is absorbed. Terminal states never restart: a revived
 *     session needs a new machine.
 *   - N5: close while recovering ends everything held with
 *     RECOVERY_FAIL_CANCELLED, closes a login in progress, state closed;
 *     a second close and every later timer are absorbed.
 *
 * Retriable or not (recovery_classify, O5, O10): idempotent commands
 * (READ 6/10/12/16/32, VERIFY 10/12/16/32, INQUIRY, TEST UNIT READY, READ
 * CAPACITY 10/16 and the other SERVICE ACTION IN(16) reports, REPORT LUNS,
 * MODE SENSE 6/10, REQUEST SENSE, PERSISTENT RESERVE IN, MAINTENANCE IN,
 * START STOP UNIT without LOEJ) are always retriable; block writes (WRITE
 * 6/10/12/16/32, WRITE AND VERIFY, WRITE SAME, UNMAP, SYNCHRONIZE CACHE)
 * are RECOVERY_CLASS_WRITE: retriable when writes_retriable (default true:
 * writing the same bytes to the same LBAs twice leaves the same medium, so
 * they are idempotent on a block device); PERSISTENT RESERVE OUT, COMPARE
 * AND WRITE, FORMAT UNIT, START STOP UNIT with LOEJ, MODE SELECT and
 * anything unknown are never retriable. On a device that is not a block
 * device (peripheral device type other than 0x00, 0x04, 0x05, 0x07, 0x0e:
 * tape, changer, ...) media access moves state (a tape READ or WRITE
 * advances the position, WRITE FILEMARKS appends): only the pure reports
 * (TEST UNIT READY, INQUIRY, REQUEST SENSE, REPORT LUNS, MODE SENSE,
 * PERSISTENT RESERVE IN, MAINTENANCE IN) stay retriable. */
#ifndef UISCSI_PROTO_RECOVERY_H
#define UISCSI_PROTO_RECOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RECOVERY_TASKS_MAX 65536 /* largest max_tasks */
#define RECOVERY_CTRL_MAX  64    /* control actions pending at most */
#define RECOVERY_T2W_MAX_S                                                               \
    3600 /* DefaultTime2Wait / Time2Retain range (§13.14, §13.15) */
#define RECOVERY_ISID_LEN    6
#define RECOVERY_NO_DEADLINE UINT64_MAX

typedef struct recovery recovery_t;

/* Settings (recovery_cfg_defaults fills the defaults). */
typedef struct recovery_cfg {
    uint8_t isid[RECOVERY_ISID_LEN]; /* the session's ISID, reused (O2, B14) */
    uint32_t max_attempts;           /* failed logins before giving up; 0 = no limit */
    uint32_t backoff_ms;             /* wait after the first failed attempt */
    uint32_t backoff_max_ms;         /* cap of the doubling waits */
    uint32_t jitter_pct;             /* 0..100: share by which a wait may shrink */
    int64_t replacement_timeout_ms;  /* -1, 0 or > 0: see "Decisions" (O4) */
    uint32_t login_timeout_ms;       /* one login attempt at most; 0 = no limit */
    uint16_t time2wait_s;            /* negotiated DefaultTime2Wait */
    uint16_t time2retain_s;          /* negotiated DefaultTime2Retain (recorded) */
    uint32_t stable_ms;              /* see "Decisions" (death spiral) */
    uint32_t max_tasks;              /* tasks held at once, 1..RECOVERY_TASKS_MAX */
} recovery_cfg_t;

/* Why a connection died (the reasons of s_conn_dead, plus the machine's). */
typedef enum recovery_lost {
    RECOVERY_LOST_EOF = 0,
    RECOVERY_LOST_RESET,
    RECOVERY_LOST_WRITE_ERROR,
    RECOVERY_LOST_KEEPALIVE_TIMEOUT, /* J2 */
    RECOVERY_LOST_HEADER_DIGEST,     /* D4 */
    RECOVERY_LOST_DATA_DIGEST,
    RECOVERY_LOST_PROTOCOL_ERROR,
    RECOVERY_LOST_ASYNC_DROP,         /* K3: Async code 2 (Parameter2/3) */
    RECOVERY_LOST_ASYNC_DROP_SESSION, /* K4: Async code 3 */
    RECOVERY_LOST_TARGET_RESET,       /* M4 */
    RECOVERY_LOST_TMF_TIMEOUT,        /* M5: the escalation ended here */
    RECOVERY_LOST_STATSN_GAP,         /* F3 at ERL 0 */
    RECOVERY_LOST__COUNT
} recovery_lost_t;

/* States (names in recovery_state_name). */
typedef enum recovery_state {
    RECOVERY_S_FULL_FEATURE = 0,
    RECOVERY_S_LOGOUT_PENDING, /* K2 */
    RECOVERY_S_WAITING,        /* Time2Wait or backoff */
    RECOVERY_S_LOGGING_IN,
    RECOVERY_S_FAILED, /* terminal: gave up */
    RECOVERY_S_CLOSED, /* terminal: closed by the user */
    RECOVERY_S__COUNT
} recovery_state_t;

/* How a task ends when it is not retried (the RPC error to send). */
typedef enum recovery_fail {
    RECOVERY_FAIL_NOT_RETRIABLE = 0, /* NOT_RETRIABLE (O5, O6, O10) */
    RECOVERY_FAIL_SESSION_FAILED,    /* SESSION_FAILED {reason} (O3) */
    RECOVERY_FAIL_RECOVERING,        /* SESSION_RECOVERING {state, retry_after_ms} (O4) */
    RECOVERY_FAIL_TIMEOUT,           /* TIMEOUT: its own deadline passed while held */
    RECOVERY_FAIL_CANCELLED,         /* CANCELLED: the session was closed (N5) */
    RECOVERY_FAIL__COUNT
} recovery_fail_t;

typedef enum recovery_act_kind {
    RECOVERY_ACT_STATE = 0,
    RECOVERY_ACT_CLOSE_CONN,
    RECOVERY_ACT_LOGOUT,
    RECOVERY_ACT_WAIT,
    RECOVERY_ACT_LOGIN,
    RECOVERY_ACT_RETRY,
    RECOVERY_ACT_FAIL,
    RECOVERY_ACT_GIVE_UP,
    RECOVERY_ACT__COUNT
} recovery_act_kind_t;

/* One action (plain value; strings static). Fields per kind (see top):
 * STATE: from, to, reason. CLOSE_CONN: reason. LOGOUT: deadline_ms.
 * WAIT: deadline_ms, attempt (the login that follows). LOGIN: attempt,
 * isid, tsih (0), deadline_ms (RECOVERY_NO_DEADLINE without a login
 * timeout). RETRY: task. FAIL: task, fail, reason, retry_after_ms.
 * GIVE_UP: reason, error, status_class, status_detail. */
typedef struct recovery_action {
    recovery_act_kind_t kind;
    const char *from;
    const char *to;
    const char *reason;
    uint64_t deadline_ms;
    uint32_t attempt;
    uint8_t isid[RECOVERY_ISID_LEN];
    uint16_t tsih;
    uint64_t task;
    recovery_fail_t fail;
    uint64_t retry_after_ms;
    int error;
    uint8_t status_class;
    uint8_t status_detail;
} recovery_action_t;

/* A task handed to the machine (copied). id: the actor's handle, unique
 * among the tasks the machine holds. */
typedef struct recovery_task {
    uint64_t id;
    bool retriable;       /* recovery_retriable of its CDB (or true for non-SCSI) */
    bool sent;            /* its command PDU went out (in flight at the loss) */
    bool partial;         /* O6: read data was already delivered to the client */
    bool no_wait;         /* the caller asked not to wait for recovery (O4) */
    uint64_t deadline_ms; /* the caller's deadline, RECOVERY_NO_DEADLINE or 0: none */
} recovery_task_t;

/* Counters. */
typedef struct recovery_stats {
    uint64_t recoveries; /* connection losses that started a recovery */
    uint64_t logins;     /* LOGIN actions */
    uint64_t login_failures;
    uint64_t absorbed;     /* events with no effect (O7, terminal states, stale) */
    uint64_t retried;      /* RETRY actions */
    uint64_t failed;       /* FAIL actions */
    uint64_t ctrl_dropped; /* control actions lost: the actor did not drain */
} recovery_stats_t;

/* Retriability class of a CDB (see the top comment). */
typedef enum recovery_class {
    RECOVERY_CLASS_IDEMPOTENT = 0, /* always retriable */
    RECOVERY_CLASS_WRITE,          /* retriable when writes_retriable */
    RECOVERY_CLASS_NEVER           /* never retriable */
} recovery_class_t;

/* Fills *cfg with the defaults: max_attempts 8, backoff_ms 100,
 * backoff_max_ms 10000, jitter_pct 20, replacement_timeout_ms 120000,
 * login_timeout_ms 15000, time2wait_s 2, time2retain_s 20 (RFC defaults),
 * stable_ms 10000, max_tasks 4096, isid zero. */
void recovery_cfg_defaults (recovery_cfg_t *cfg);

/* Creates a machine in full_feature for a session whose login just
 * succeeded. cfg is copied; values above their range are clamped
 * (Time2Wait / Time2Retain to 3600 s, jitter_pct to 100). NULL when
 * max_tasks is 0 or above RECOVERY_TASKS_MAX, replacement_timeout_ms is
 * below -1, or out of memory. The caller owns it. */
recovery_t *recovery_new (const recovery_cfg_t *cfg);

/* Frees the machine and NULLs *self_p. NULL-safe. */
void recovery_destroy (recovery_t **self_p);

/* Event: the connection died (any reason; async drop codes 2/3 carry
 * Parameter2 = time2wait_s and Parameter3 = time2retain_s; ignored for the
 * other reasons). Starts a recovery, or is absorbed (O7). Returns 0. */
int recovery_conn_lost (recovery_t *self, recovery_lost_t reason, uint16_t time2wait_s,
                        uint16_t time2retain_s, uint64_t now_ms, uint32_t rnd);

/* Event (K2): Async code 1, the target asks for a Logout within
 * parameter3_s seconds. Returns 0. */
int recovery_logout_requested (recovery_t *self, uint16_t parameter3_s, uint64_t now_ms);

/* Event (K2): the Logout we sent was answered (Time2Wait/Time2Retain of
 * the Logout Response). Returns 0. */
int recovery_logout_done (recovery_t *self, uint16_t time2wait_s, uint16_t time2retain_s,
                          uint64_t now_ms, uint32_t rnd);

/* Event: the login attempt succeeded; time2wait_s / time2retain_s are the
 * newly negotiated values. The held tasks are retried (RETRY). Returns 0. */
int recovery_login_ok (recovery_t *self, uint16_t time2wait_s, uint16_t time2retain_s,
                       uint64_t now_ms);

/* Event: the login attempt failed. has_status: a Login Response status
 * ended it (status_class / status_detail, B6); false for transport errors
 * and timeouts of the actor's own. Returns 0. */
int recovery_login_failed (recovery_t *self, bool has_status, uint8_t status_class,
                           uint8_t status_detail, uint64_t now_ms, uint32_t rnd);

/* Event: time passes (call at recovery_next_timer, or any time: early
 * calls do nothing). Returns 0. */
int recovery_tick (recovery_t *self, uint64_t now_ms, uint32_t rnd);

/* Event: session.reconnect. In full feature phase it drops the
 * connection and logs in at once; while waiting it skips the wait.
 * Returns 0. */
int recovery_reconnect (recovery_t *self, uint64_t now_ms);

/* Event: session close (N5). Returns 0. */
int recovery_close (recovery_t *self, uint64_t now_ms);

/* Hands over a task that was live when the connection died (call after
 * recovery_conn_lost, once per task, in CmdSN order: RETRY keeps that
 * order). The machine decides: held for retry, or failed at once (FAIL).
 * Returns 0; UIS_ERR_STATE in full feature phase (nothing was lost);
 * UIS_ERR_INVALID_ARG for an id already held; UIS_ERR_AGAIN when
 * max_tasks are held or waiting to be taken as actions. */
int recovery_task_lost (recovery_t *self, const recovery_task_t *task, uint64_t now_ms);

/* Event: a new command is submitted (O4). *held = false in full feature
 * phase: the machine ignores it, send it normally. Otherwise *held = true
 * and the machine owns its fate: RETRY (send it once recovered) or FAIL.
 * Returns 0 or the errors of recovery_task_lost (then *held is false and
 * nothing changed). */
int recovery_submit (recovery_t *self, const recovery_task_t *task, uint64_t now_ms,
                     bool *held);

/* The actor ended a held task itself (client gone, cancel): the machine
 * forgets it, no action. Returns 0 or UIS_ERR_INVALID_ARG (not held). */
int recovery_task_cancel (recovery_t *self, uint64_t id);

/* Takes the next action into *act. Returns true when there was one. */
bool recovery_action_next (recovery_t *self, recovery_action_t *act);

/* The time (ms) at which recovery_tick has something to do, or
 * RECOVERY_NO_DEADLINE. */
uint64_t recovery_next_timer (const recovery_t *self);

/* Current state, its public name (full_feature, reconnecting, failed,
 * closed), the failed login attempts of this recovery, tasks held. */
recovery_state_t recovery_state (const recovery_t *self);
const char *recovery_public_state (const recovery_t *self);
uint32_t recovery_attempts (const recovery_t *self);
size_t recovery_held (const recovery_t *self);

/* Copies the counters into *out. */
void recovery_stats (const recovery_t *self, recovery_stats_t *out);

/* Names for tracing (static, "unknown" when out of range). */
const char *recovery_state_name (recovery_state_t s);
const char *recovery_event_name (int event);
const char *recovery_last_event_name (const recovery_t *self);
const char *recovery_lost_name (recovery_lost_t r);
const char *recovery_fail_name (recovery_fail_t f);
const char *recovery_action_name (recovery_act_kind_t k);

/* The retriability class of a CDB (cdb_len bytes; NULL or 0 bytes:
 * RECOVERY_CLASS_NEVER) on a device of peripheral device type
 * device_type (SPC-4 §6.6.2; 0x00 when unknown). */
recovery_class_t recovery_classify (const uint8_t *cdb, size_t cdb_len,
                                    uint8_t device_type);

/* true when a command of that CDB may be re-issued after an ERL 0
 * recovery: RECOVERY_CLASS_IDEMPOTENT, or RECOVERY_CLASS_WRITE with
 * writes_retriable. */
bool recovery_retriable (const uint8_t *cdb, size_t cdb_len, uint8_t device_type,
                         bool writes_retriable);

/* ---- M5: task management escalation (abort -> LUN reset -> recovery) ---
 * A small value machine per outstanding abort (no allocation):
 *   recovery_tmf_init (&t, abort_ms, lun_reset_ms);
 *   recovery_tmf_start (&t, now)            -> SEND_ABORT (ABORT TASK)
 *   TMF response for it: recovery_tmf_response (&t, function, response, now)
 *   at t.deadline_ms:    recovery_tmf_tick (&t, now)
 * ABORT TASK answered 0 (complete), 1 (task does not exist, M2) or 2 (LUN
 * does not exist): DONE. Any other answer or no answer by its deadline:
 * SEND_LUN_RESET (LOGICAL UNIT RESET on the task's LUN). LUN reset answered
 * 0: DONE; anything else or no answer by its deadline: RECOVER (the actor
 * calls recovery_conn_lost with RECOVERY_LOST_TMF_TIMEOUT). A response for
 * the other function (a late ABORT TASK answer after the escalation) is
 * ignored (NONE). DONE and RECOVER are terminal. */
typedef enum recovery_tmf_state {
    RECOVERY_TMF_IDLE = 0,
    RECOVERY_TMF_ABORTING,
    RECOVERY_TMF_LUN_RESETTING,
    RECOVERY_TMF_DONE,
    RECOVERY_TMF_RECOVERING,
    RECOVERY_TMF__COUNT
} recovery_tmf_state_t;

typedef enum recovery_tmf_act {
    RECOVERY_TMF_ACT_NONE = 0,
    RECOVERY_TMF_ACT_SEND_ABORT,
    RECOVERY_TMF_ACT_SEND_LUN_RESET,
    RECOVERY_TMF_ACT_DONE,
    RECOVERY_TMF_ACT_RECOVER
} recovery_tmf_act_t;

typedef struct recovery_tmf {
    recovery_tmf_state_t state;
    uint64_t deadline_ms; /* of the TMF outstanding; RECOVERY_NO_DEADLINE otherwise */
    uint32_t abort_timeout_ms;
    uint32_t lun_reset_timeout_ms;
} recovery_tmf_t;

/* TMF function codes (RFC 7143 §11.5.1) the escalation sends. */
#define RECOVERY_TMF_ABORT_TASK 1
#define RECOVERY_TMF_LUN_RESET  5

/* Initialises *t in IDLE with the two timeouts (ms, 0: 1). */
void recovery_tmf_init (recovery_tmf_t *t, uint32_t abort_timeout_ms,
                        uint32_t lun_reset_timeout_ms);

/* IDLE -> ABORTING: returns SEND_ABORT; NONE in another state. */
recovery_tmf_act_t recovery_tmf_start (recovery_tmf_t *t, uint64_t now_ms);

/* A TMF response (function: of the request it answers, response: §11.6.1
 * code). Returns the action (see above). */
recovery_tmf_act_t recovery_tmf_response (recovery_tmf_t *t, uint8_t function,
                                          uint8_t response, uint64_t now_ms);

/* Time passes: escalates when the outstanding TMF's deadline passed. */
recovery_tmf_act_t recovery_tmf_tick (recovery_tmf_t *t, uint64_t now_ms);

/* Names for tracing. */
const char *recovery_tmf_state_name (recovery_tmf_state_t s);

#endif
