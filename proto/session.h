/* session.h: the sans-I/O engine of one iSCSI session in full feature phase
 * (one connection): CmdSN window, ExpStatSN, ITT table, per-task state
 * (reads, writes, R2T service), NOP, task management, logout and text.
 *
 * A thin session actor drives it with bytes and timers:
 *
 *   s = session_new (&negotiated, &cfg);          // after the final login rsp
 *   session_submit (s, &cmd, &itt);                // queue a SCSI command
 *   while (session_out_next (s, &out))             // what to send, in order
 *       header = pdu_header_build (&out.pdu, out.has_ahs ? &out.ahs : NULL..)
 *       writev (header, out.data/out.data_len, trailer); session_out_done()
 *   framer: FRAMER_HEADER -> session_rx_header (s, &frame->hdr, &buf, &cap)
 *           and framer_set_data_buf (buf) when buf != NULL (zero copy)
 *           FRAMER_PDU    -> session_rx_pdu (s, &frame->hdr, data, len, now)
 *   session_tick (s, now) at session_next_timer (s)
 *   while (session_event_next (s, &ev)) -> completions and events
 *
 * Nothing here does I/O, reads a clock or allocates after session_new: the
 * task table, the output lanes, the event ring and the NOP echo buffers are
 * preallocated and bounded.
 *
 * Numbering (RFC 7143 §4.2.2): CmdSN and ExpStatSN are written into a PDU
 * when session_out_next hands it out, so a command that waits for the
 * window (E2, E3, E10) consumes no CmdSN, and every PDU carries the newest
 * ExpStatSN (F1). Non-immediate PDUs (SCSI commands, Logout, Text) are
 * released only while CmdSN lies in [ExpCmdSN, MaxCmdSN]; immediate PDUs
 * (NOP-Out, TMF, immediate commands) carry the current CmdSN with I=1 and
 * do not advance it (E1).
 *
 * Output order: (1) the priority lane (NOP-Out replies and pings, TMF,
 * SNACK, ExpStatSN confirmations, immediate commands) in FIFO order; (2) the
 * first eligible queued non-immediate command (SCSI, Logout, Text); (3)
 * Data-Out PDUs of the tasks with data to send, one PDU per task in round
 * robin (H13). A PDU of lane 1 has out.priority set: the connection must not
 * queue it behind bulk Data-Out it already holds (J5).
 *
 * Borrowed memory: data slices of output PDUs point into the caller's write
 * buffer (SCSI Data-Out, immediate data, ping and text data) or into an
 * engine-owned echo buffer (NOP-Out reply). A caller buffer must stay valid
 * until the task's completion has been taken AND every slice handed out
 * has been written; an echo buffer stays valid until session_out_done.
 * Read buffers are written by the engine (or by the framer, zero copy)
 * until the task's completion is taken.
 *
 * Decisions (documented choices):
 *   - H10: an R2T whose DesiredDataTransferLength exceeds MaxBurstLength is
 *     served in full (the offset/length is still checked against EDTL, H12);
 *     it is counted in stats.r2t_over_burst.
 *   - R2TSN (H9): equal to the expected one advances it; an older one is a
 *     recovery R2T and is served (H11); a newer one (a lost R2T) is
 *     task-fatal at ERL 0 and served with an event at ERL >= 1 (no R2T
 *     SNACK yet).
 *   - A task-fatal error (G7, G8, G9, H12, ...) completes the task at once
 *     with SESSION_R_PROTOCOL; later PDUs for its ITT are dropped (G8). The
 *     engine does not send ABORT TASK by itself: the actor may.
 *   - DataSN gaps fail the task at every ERL (Data SNACK, P1, is a hook).
 *   - StatSN gap (F3): the ExpStatSN moves on to the received StatSN + 1; at
 *     ERL >= 1 a Status SNACK (ITT 0xffffffff, BegRun = old ExpStatSN,
 *     RunLength = gap, its own ExpStatSN field = BegRun) goes out first on
 *     the priority lane, so the target sees the request before the
 *     acknowledgement; at ERL 0 a SESSION_EV_STATSN_GAP event says recovery
 *     is needed.
 *   - A Reject of a task's PDU (L1) fails that task at every ERL, except a
 *     rejected Data-Out at ERL >= 1 (L4: the target sends a recovery R2T).
 *   - MaxOutstandingR2T above SESSION_R2T_MAX: at most SESSION_R2T_MAX R2Ts
 *     per task are held; one more is task-fatal.
 *   - The unsolicited Data-Out LUN field is reserved (§11.7.4: only valid
 *     with a TTT) and is sent as 0.
 *   - Queued commands go out in submit order, except that a SCSI command
 *     held by the queue depth (E9) or a LUN hold (M3) may be passed by a
 *     later command of another LUN or a Text request; a Logout never passes
 *     a queued command.
 *   - Checks that are task-fatal: Data-In DataSN out of order, BufferOffset
 *     mismatch (when DataPDUInOrder and DataSequenceInOrder are Yes), data
 *     beyond EDTL without O, S=1 with F=0; R2T with the reserved TTT, with
 *     DesiredDataTransferLength 0, beyond EDTL, for a command without write
 *     data, an R2TSN gap at ERL 0, too many outstanding R2Ts; a Text
 *     response larger than its buffer or F=0 without a TTT.
 *     Connection-fatal: an initiator opcode or a Login Response, a data
 *     segment on an R2T / TMF Response / Logout Response.
 *   - Not checked: the ExpDataSN of a SCSI Response, AHS on target PDUs
 *     (the framer parses them), LUN fields of Data-In and R2T.
 *   - A NOP-In ping carrying more than SESSION_ECHO_MAX bytes is echoed
 *     truncated to that length; when all SESSION_ECHO_SLOTS echo buffers
 *     are still unwritten the reply is dropped (event, stats).
 *
 * Every protocol violation by the target yields a SESSION_EV_PROTOCOL
 * event with fatal = TASK (the task is completed with SESSION_R_PROTOCOL)
 * or CONNECTION (session_rx_pdu also returns UIS_ERR_PROTOCOL and the
 * engine stops: the actor starts recovery). */
#ifndef UISCSI_PROTO_SESSION_H
#define UISCSI_PROTO_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/negotiate.h"
#include "proto/pdu.h"

typedef struct session session_t;

/* Limits. */
#define SESSION_TASKS_MAX  4096 /* largest task table */
#define SESSION_R2T_MAX    16   /* R2Ts held per task (see "Decisions") */
#define SESSION_SENSE_MAX  252  /* sense bytes kept per completion (SPC max) */
#define SESSION_CTRL_MAX   32   /* queued engine-made PDUs (replies, SNACKs) */
#define SESSION_ECHO_MAX   4096 /* NOP-In ping data echoed, bytes */
#define SESSION_ECHO_SLOTS 4    /* NOP-Out replies with data not yet written */
#define SESSION_EV_RESERVE 64   /* events other than completions kept */
#define SESSION_HOLD_MAX   8    /* LUN-scope TMFs outstanding at once */

/* Local settings and the numbers of the final login response (B12, O11). */
typedef struct session_cfg {
    uint32_t cmdsn;           /* CmdSN of the login: the next non-immediate */
    uint32_t exp_cmdsn;       /* ExpCmdSN of the final login response */
    uint32_t max_cmdsn;       /* MaxCmdSN of the final login response */
    uint32_t statsn;          /* StatSN of the final login response */
    uint32_t max_tasks;       /* task table size, 1..SESSION_TASKS_MAX */
    uint32_t queue_depth;     /* SCSI commands in flight at most (E9); 0 = max_tasks */
    uint32_t nop_interval_ms; /* keepalive after this idle time; 0 = off */
    uint32_t nop_timeout_ms;  /* keepalive reply deadline (J2) */
    uint32_t itt_seed;        /* initial ITT generation (tests of R1 wrap) */
    uint64_t now;             /* monotonic ms at creation */
} session_cfg_t;

/* SCSI task attribute (R5); 0 is SIMPLE. */
typedef enum session_attr {
    SESSION_ATTR_SIMPLE = 0,
    SESSION_ATTR_ORDERED,
    SESSION_ATTR_HEAD_OF_QUEUE,
    SESSION_ATTR_ACA
} session_attr_t;

/* A SCSI command to submit. Buffers are borrowed (see "Borrowed memory").
 * - lun: the 8 LUN bytes as on the wire.
 * - cdb / cdb_len: 1..PDU_CDB_MAX bytes; > 16 uses the extended-CDB AHS.
 * - read_buf / read_len: Expected read data length (EDTL of a read) and
 *   the buffer that receives it (read_len bytes, may be NULL when 0).
 * - write_len: Expected data transfer length of a write; write_buf /
 *   write_buf_len: the data source, offset-addressable, at least
 *   write_len bytes (H15) - bytes beyond write_len are never sent (H7).
 * - Both read_len and write_len > 0: a bidirectional command (bidi AHS).
 * - immediate: send with I=1 (no CmdSN consumed, priority lane).
 * - read_stream: the read data is not placed by the engine (read_buf may be
 *   NULL): the caller takes each accepted Data-In payload itself at the
 *   header hook (session_rx_stream) or drops it; the engine still checks
 *   and counts it (bytes_in) as for a buffered read. */
typedef struct session_cmd {
    uint8_t lun[8];
    const uint8_t *cdb;
    size_t cdb_len;
    session_attr_t attr;
    void *read_buf;
    uint32_t read_len;
    const void *write_buf;
    size_t write_buf_len;
    uint32_t write_len;
    bool immediate;
    bool read_stream;
    void *cookie;
} session_cmd_t;

/* One PDU to send (a plain value; slices borrowed, see above). pdu is
 * complete (data_segment_length = data_len, CmdSN and ExpStatSN set);
 * ahs is meaningful when has_ahs. Internal: echo_slot. */
typedef struct session_out {
    pdu_t pdu;
    bool has_ahs;
    pdu_ahs_t ahs;
    const uint8_t *data;
    size_t data_len;
    bool priority;
    int echo_slot; /* -1 when no echo buffer is held */
} session_out_t;

/* Results of a completed task. */
typedef enum session_result {
    SESSION_R_GOOD = 0,        /* SCSI GOOD, iSCSI response 0 */
    SESSION_R_CONDITION_MET,   /* SCSI CONDITION MET */
    SESSION_R_CHECK_CONDITION, /* I1: sense in the completion */
    SESSION_R_BUSY,            /* I2 */
    SESSION_R_RESERVATION_CONFLICT,
    SESSION_R_TASK_SET_FULL,
    SESSION_R_ACA_ACTIVE,
    SESSION_R_TASK_ABORTED,   /* SCSI status TASK ABORTED */
    SESSION_R_STATUS_OTHER,   /* another SCSI status */
    SESSION_R_TARGET_FAILURE, /* I3: iSCSI response != 0 */
    SESSION_R_ABORTED,        /* ended by a TMF (M1, M3) */
    SESSION_R_CANCELLED,      /* cancelled before it was sent (E8) */
    SESSION_R_PROTOCOL,       /* task-fatal protocol error */
    SESSION_R_REJECTED,       /* the target rejected it (L1) */
    SESSION_R_FAILED,         /* session_fail_all (recovery) */
    SESSION_R_PONG,           /* ping answered (J1) */
    SESSION_R_TEXT_DONE,      /* text exchange finished */
    SESSION_R_TMF_COMPLETE,   /* M7: TMF responses 0..6, 255, other */
    SESSION_R_TMF_NO_TASK,
    SESSION_R_TMF_NO_LUN,
    SESSION_R_TMF_TASK_ALLEGIANT,
    SESSION_R_TMF_NO_REASSIGN,
    SESSION_R_TMF_NOT_SUPPORTED,
    SESSION_R_TMF_AUTH_FAILED,
    SESSION_R_TMF_REJECTED,
    SESSION_R_TMF_OTHER,
    SESSION_R_LOGOUT_OK, /* N1, N4: logout responses 0..3, other */
    SESSION_R_LOGOUT_CID_NOT_FOUND,
    SESSION_R_LOGOUT_RECOVERY_UNSUPPORTED,
    SESSION_R_LOGOUT_CLEANUP_FAILED,
    SESSION_R_LOGOUT_OTHER,
    SESSION_R__COUNT
} session_result_t;

/* Event kinds. */
typedef enum session_ev_kind {
    SESSION_EV_COMPLETE = 0,    /* a task ended: cookie, itt, result, ... */
    SESSION_EV_PROTOCOL,        /* target protocol violation (err, fatal, detail) */
    SESSION_EV_STATSN_GAP,      /* F3: begrun/runlength; recovery at ERL 0 */
    SESSION_EV_ASYNC,           /* Async Message (K*): async_* fields, sense */
    SESSION_EV_REJECT,          /* Reject (L*): reason, rejected opcode/itt */
    SESSION_EV_CONNECTION_DEAD, /* J2: keepalive timeout */
    SESSION_EV__COUNT
} session_ev_kind_t;

/* How bad a protocol violation is. */
typedef enum session_fatal {
    SESSION_FATAL_NONE = 0,  /* logged, nothing failed */
    SESSION_FATAL_TASK,      /* the task (itt) failed, session fine */
    SESSION_FATAL_CONNECTION /* drop the connection: recovery */
} session_fatal_t;

/* Task kinds. */
typedef enum session_kind {
    SESSION_TASK_SCSI = 0,
    SESSION_TASK_NOP,
    SESSION_TASK_TMF,
    SESSION_TASK_LOGOUT,
    SESSION_TASK_TEXT,
    SESSION_TASK_KEEPALIVE
} session_kind_t;

/* An event (plain value). Fields meaningful per kind:
 * COMPLETE: kind_of_task, itt, cookie, result, err (0 or UIS_ERR_*),
 *   cmdsn (CmdSN used; for immediate PDUs the CmdSN carried), scsi_status,
 *   iscsi_response, status_valid, overflow/underflow/residual (I6, G5,
 *   G6), bidi_residual, bytes_in (read data placed), bytes_out (write data
 *   handed out), data_suspect (G15: status not GOOD after data), sense,
 *   tmf_response, logout_response, time2wait, time2retain, detail.
 * PROTOCOL: err, fatal, detail, itt (0xffffffff when no task), opcode.
 * STATSN_GAP: begrun, runlength, recovery_needed.
 * ASYNC: lun, async_event, async_vcode, parameter1..3, sense.
 * REJECT: reject_reason, opcode (of the rejected PDU, 0xff if unknown),
 *   itt (of the rejected PDU, 0xffffffff if none), detail.
 * detail is a static string, never NULL. */
typedef struct session_event {
    session_ev_kind_t kind;
    session_kind_t kind_of_task;
    uint32_t itt;
    void *cookie;
    session_result_t result;
    int err;
    session_fatal_t fatal;
    const char *detail;
    uint8_t opcode;
    uint32_t cmdsn;
    bool status_valid;
    uint8_t scsi_status;
    uint8_t iscsi_response;
    bool overflow;
    bool underflow;
    uint32_t residual;
    bool bidi_overflow;
    bool bidi_underflow;
    uint32_t bidi_residual;
    uint32_t bytes_in;
    uint32_t bytes_out;
    bool data_suspect;
    uint8_t tmf_response;
    uint8_t logout_response;
    uint16_t time2wait;
    uint16_t time2retain;
    uint64_t lun;
    uint8_t async_event;
    uint8_t async_vcode;
    uint16_t parameter1, parameter2, parameter3;
    uint8_t reject_reason;
    uint32_t begrun;
    uint32_t runlength;
    bool recovery_needed;
    bool sense_truncated; /* SenseLength > SESSION_SENSE_MAX */
    bool sense_malformed; /* I4: SenseLength beyond the segment */
    uint16_t sense_len;
    uint8_t sense[SESSION_SENSE_MAX];
    uint32_t slot_; /* internal */
} session_event_t;

/* A live task, for recovery (session_tasks). */
typedef struct session_task_info {
    uint32_t itt;
    void *cookie;
    session_kind_t kind;
    bool sent;      /* its command PDU was handed out */
    uint32_t cmdsn; /* valid when sent */
    uint64_t lun;
    uint32_t bytes_in;
    uint32_t bytes_out;
    uint32_t exp_datasn; /* Data-In PDUs received in order (ERL 2 hook:
                            TASK REASSIGN ExpDataSN) */
    uint32_t exp_r2tsn;  /* next R2TSN expected (ERL 1 hook: R2T SNACK) */
} session_task_info_t;

/* Counters. */
typedef struct session_stats {
    uint64_t pdus_in;
    uint64_t pdus_out;
    uint64_t dropped;        /* PDUs for unknown or ended tasks (G12) */
    uint64_t window_ignored; /* invalid window updates (E6) */
    uint64_t statsn_old;     /* old or duplicate StatSN (F4) */
    uint64_t statsn_gaps;    /* F3 */
    uint64_t events_dropped; /* event reserve full */
    uint64_t ctrl_dropped;   /* replies/SNACKs not queued: lane full */
    uint64_t r2t_over_burst; /* H10 */
    uint64_t keepalives;
} session_stats_t;

/* Creates the engine for a session in full feature phase from the
 * negotiated parameters (copied; only the normal-session fields are used)
 * and cfg (copied). Returns NULL on invalid arguments (max_tasks 0 or above
 * SESSION_TASKS_MAX, a target MRDSL / MaxBurstLength / FirstBurstLength
 * below 512 or above 2^24-1, FirstBurstLength > MaxBurstLength,
 * MaxOutstandingR2T 0) or out of memory. The caller owns the engine. */
session_t *session_new (const uis_neg_params_t *params, const session_cfg_t *cfg);

/* Frees the engine and NULLs *self_p. Borrowed caller buffers are not
 * touched. NULL-safe. */
void session_destroy (session_t **self_p);

/* Queues a SCSI command and sets *itt. The command goes out when the window
 * (and the queue depth, E9, and LUN holds, M3) allow. Returns 0;
 * UIS_ERR_AGAIN when the task table is full; UIS_ERR_SCSI_CDB for a CDB
 * of 0 or > PDU_CDB_MAX bytes; UIS_ERR_INVALID_ARG for NULL buffers with
 * a length, or a write data source shorter than write_len (H15);
 * UIS_ERR_STATE after a logout was queued or the connection died. */
int session_submit (session_t *self, const session_cmd_t *cmd, uint32_t *itt);

/* Removes a command that has not been handed out yet (E8): it completes
 * with SESSION_R_CANCELLED and consumes no CmdSN. Returns 0;
 * UIS_ERR_STATE when its PDU was already sent (use session_tmf ABORT TASK);
 * UIS_ERR_INVALID_ARG for an unknown ITT. */
int session_cancel (session_t *self, uint32_t itt);

/* Queues a NOP-Out ping (J1): valid ITT, TTT 0xffffffff, I=1, F=1; data
 * (borrowed, at most the target MRDSL) may be NULL. Completes with
 * SESSION_R_PONG on the NOP-In with that ITT. Errors as session_submit. */
int session_ping (session_t *self, const void *data, size_t len, void *cookie,
                  uint32_t *itt);

/* Queues an ExpStatSN confirmation NOP-Out (F5): ITT = TTT = 0xffffffff,
 * I=1, F=1, CmdSN not advanced. No completion. Returns 0 or UIS_ERR_AGAIN
 * (priority lane full) / UIS_ERR_STATE. */
int session_confirm_exp_statsn (session_t *self);

/* Queues a task management request (I=1, current CmdSN) and sets *itt.
 * ABORT TASK (M1) takes its LUN and RefCmdSN from the live task ref_itt
 * (lun is ignored; UIS_ERR_INVALID_ARG when ref_itt is not live, and
 * UIS_ERR_STATE when it was not sent yet: use session_cancel). ABORT TASK
 * SET, CLEAR TASK SET, LOGICAL UNIT RESET, CLEAR ACA use lun; TARGET WARM
 * / COLD RESET act on every LUN. The affected tasks stop sending data and,
 * when the response is "function complete" (or "task does not exist" for
 * ABORT TASK), complete with SESSION_R_ABORTED; new commands to the LUN
 * (every LUN for a target reset) are held until the response (M3). The TMF
 * itself completes with SESSION_R_TMF_* (M7). Returns 0 or UIS_ERR_AGAIN,
 * UIS_ERR_INVALID_ARG (unknown function, TASK REASSIGN), UIS_ERR_STATE. */
int session_tmf (session_t *self, uint8_t function, const uint8_t lun[8],
                 uint32_t ref_itt, void *cookie, uint32_t *itt);

/* Queues a Logout Request (N1): non-immediate (takes a CmdSN slot, E10),
 * reason PDU_LOGOUT_*, cid for reasons 1 and 2. Completes with
 * SESSION_R_LOGOUT_* and Time2Wait/Time2Retain. After it, submits fail
 * with UIS_ERR_STATE. Errors as session_submit. */
int session_logout (session_t *self, uint8_t reason, uint16_t cid, void *cookie,
                    uint32_t *itt);

/* Queues a Text Request (non-immediate, E10, F=1, TTT 0xffffffff) with
 * data (borrowed key=value text, at most the target MRDSL). The responses'
 * data is gathered into rsp_buf (rsp_cap bytes, borrowed); a response with
 * F=0 makes the engine send the continuation request (same ITT, TTT
 * echoed, empty). Completes with SESSION_R_TEXT_DONE and bytes_in, or
 * SESSION_R_PROTOCOL when the answer does not fit rsp_cap. */
int session_text (session_t *self, const void *data, size_t len, void *rsp_buf,
                  size_t rsp_cap, void *cookie, uint32_t *itt);

/* Hands out the next PDU to send (see "Output order") into *out. Returns
 * true when one was produced, false when there is nothing to send now. */
bool session_out_next (session_t *self, session_out_t *out);

/* Tells the engine an output PDU has been written (releases an echo
 * buffer). Safe for any out from session_out_next, once. */
void session_out_done (session_t *self, const session_out_t *out);

/* Header hook (framer FRAMER_HEADER): decides where the data segment of
 * the PDU whose BHS is hdr goes. Sets *buf / *cap to a slice of a task's
 * read buffer (Data-In at its BufferOffset, Text response data) for
 * zero-copy reception, or to NULL / 0: let the framer keep it (other PDUs,
 * PDUs to discard, overflow to truncate). Changes no state. */
void session_rx_header (session_t *self, const pdu_t *hdr, uint8_t **buf, size_t *cap);

/* Header hook for read_stream tasks: true when hdr is a Data-In whose
 * data segment session_rx_pdu will accept for a live read_stream task (in
 * order, within the expected length: the checks of a buffered read); then
 * *cookie is the task's cookie and *len the bytes of data (the whole
 * segment). The caller puts the segment where it wants (zero copy) and
 * must still pass the PDU to session_rx_pdu. A Data-In that would be
 * truncated (overflow with status) or fails the task returns false: its
 * data is not delivered. Changes no state. */
bool session_rx_stream (const session_t *self, const pdu_t *hdr, void **cookie,
                        uint32_t *len);

/* The caller stops reading the connection on purpose (flow control, as for
 * raw.stream): counts as traffic received at now, so neither a keepalive
 * ping (J6) nor a keepalive timeout (J2) fires for the silence it makes.
 * Call it at every tick while reading is held, and when reading resumes. */
void session_rx_hold (session_t *self, uint64_t now);

/* Processes one received PDU: hdr plus its data segment (data may already
 * be at the place session_rx_header chose; otherwise it is copied there).
 * Updates window and StatSN, tasks, queues output and events. Returns 0
 * (including task-fatal errors, which become events); UIS_ERR_PROTOCOL
 * for a connection-fatal violation (an event says why; the engine is then
 * dead); UIS_ERR_STATE when the engine is dead. */
int session_rx_pdu (session_t *self, const pdu_t *hdr, const uint8_t *data, size_t len,
                    uint64_t now);

/* Advances time: queues a keepalive ping when nothing was received for
 * nop_interval_ms and none is outstanding (J6), and emits
 * SESSION_EV_CONNECTION_DEAD (once; the engine is then dead) when a
 * keepalive got no answer within nop_timeout_ms (J2). */
void session_tick (session_t *self, uint64_t now);

/* The time (ms) at which session_tick has something to do, or UINT64_MAX. */
uint64_t session_next_timer (const session_t *self);

/* Takes the next event into *ev. Returns true when there was one. Taking a
 * completion frees its ITT. */
bool session_event_next (session_t *self, session_event_t *ev);

/* Lists up to cap live tasks (queued or sent, not yet completed) into out;
 * returns how many are live in total. For recovery. */
size_t session_tasks (const session_t *self, session_task_info_t *out, size_t cap);

/* Completes every live task with SESSION_R_FAILED and err (for ERL 0
 * recovery: the caller retries from its cookies) and clears the output
 * lanes. Returns the number of tasks failed. */
size_t session_fail_all (session_t *self, int err);

/* Current numbers (for tests, tracing and recovery). */
uint32_t session_cmdsn (const session_t *self);
uint32_t session_exp_cmdsn (const session_t *self);
uint32_t session_max_cmdsn (const session_t *self);
uint32_t session_exp_statsn (const session_t *self);

/* true after a connection-fatal error or a keepalive timeout. */
bool session_dead (const session_t *self);

/* Copies the counters into *out. */
void session_stats (const session_t *self, session_stats_t *out);

/* Names for tracing (static strings, "unknown" when out of range). */
const char *session_result_name (session_result_t r);
const char *session_event_name (session_ev_kind_t k);

#endif
