/* engine.h: the messages of the iSCSI engine (issue 4), between the RPC
 * front end, dispatch and the I/O actors. The contract the three sides are
 * written against; see actors/bus.h for the control messages that already
 * exist (BUS_CALL, BUS_REPLY, events).
 *
 * Placement (DESIGN.md "Scale"): a fixed pool of I/O threads (default one
 * per core, --io-threads N). Each I/O thread runs ONE io actor that owns
 * every session placed on that thread: for each session its TCP connection
 * (fd, framer, tx queue), its login, and its proto/session.h engine. A
 * session never moves between threads. The io actor of thread k binds a
 * ROUTER on inproc://uis-io-<k>; the front end and dispatch connect one
 * DEALER each to every io actor. Messages name the session by its numeric
 * id in env.session (never 0).
 *
 * Data path (no copies of bulk data):
 *   client attachment --(zmq_msg moved)--> front --ENG_CMD data frame--> io
 *   io writes Data-Out straight from that frame (writev), and reads Data-In
 *   straight into a zmq_msg it allocated (zmq_msg_init_size of
 *   data_in_length), which goes back as the ENG_CMD_DONE data frame and on
 *   to the client as the result attachment.
 *
 * Control path: session.open/close/list/get/reconnect, discovery and
 * protocol.logout go front -> dispatch (BUS_CALL). Dispatch owns the
 * registry (session string id <-> numeric id <-> io thread, handles per
 * client, state) and asks io actors to do the work (ENG_OPEN, ENG_CLOSE,
 * ENG_DISCOVER). Before dispatch answers a successful session.open it
 * sends ENG_ROUTE to the front end, on the same socket as the BUS_REPLY, so
 * the front end knows where the session lives before the client can use it.
 *
 * Message list (type: direction; envelope; body; data frames):
 *
 *   ENG_OPEN      dispatch -> io; session = new numeric id, corr; body JSON
 *                 {"portal", "target", "initiator_name", "auth",
 *                  "negotiate", "keepalive", "recovery", "digest_byte_order",
 *                  "isid" (hex, optional: reuse), "timeout_ms", "session"
 *                  (string id, for events)}. Reply ENG_REPLY: status 0 and
 *                 JSON {"isid", "tsih", "state", "negotiated": {...},
 *                 "portal", "target"} or status < 0 and a JSON-RPC error
 *                 object (LOGIN_FAILED, AUTH_FAILED, TRANSPORT_ERROR, TIMEOUT).
 *   ENG_CLOSE     dispatch -> io; session; corr; aux = 1 for a forced close
 *                 (no graceful logout wait); body = optional JSON
 *                 {"timeout_ms"} (bounds the drain, see io.h). Drains the
 *                 in-flight commands, logs out (reason 0), fails what is
 *                 still in flight with CANCELLED, frees the session.
 *                 Reply ENG_REPLY {"closed": true, "counters": {...}} (the
 *                 final counters; "logout_timeout": true when the Logout
 *                 Response did not come).
 *   ENG_GET       dispatch -> io; session; corr. Reply ENG_REPLY with the
 *                 io-side part of <session info>: {"state", "isid", "tsih",
 *                 "negotiated", "counters", "in_flight", "cmdsn_window",
 *                 "reconnects", "last_error"}.
 *   ENG_RECONNECT dispatch -> io; session; corr: drop the connection and
 *                 log in again now. Reply ENG_REPLY {}.
 *   ENG_DISCOVER  dispatch -> io; session 0; corr; body JSON {"portal",
 *                 "initiator_name", "auth", "timeout_ms"}: a discovery
 *                 session with SendTargets=All, then logout. Reply
 *                 ENG_REPLY {"targets": [...]} (API.md shape) or an error.
 *   ENG_REPLY     io -> asker: corr as asked; status 0 + JSON result, or
 *                 status < 0 + JSON-RPC error object (rpc/errors.h names).
 *
 *   ENG_CMD       front -> io; session; corr = the front end's job id;
 *                 body eng_cmd_t; data frame 0 (optional) = Data-Out bytes
 *                 (exactly cmd.data_out_length). Reply ENG_CMD_DONE.
 *   ENG_CMD_DONE  io -> front; session; corr; status = 0 when the command
 *                 reached a SCSI status (whatever it is), < 0 when it did
 *                 not (then body is a JSON-RPC error object as JSON text:
 *                 TIMEOUT, SESSION_FAILED, NOT_RETRIABLE, PROTOCOL_ERROR,
 *                 CANCELLED, TRANSPORT_ERROR); body eng_done_t when status
 *                 is 0; data frame 0 = Data-In bytes (done.bytes of them;
 *                 the frame may be larger: use done.bytes).
 *   ENG_TMF       front -> io; session; corr; body eng_tmf_t. Reply
 *                 ENG_REPLY {"response", "response_name"} or an error
 *                 (TMF_FAILED when the response is not 0/1 as API.md says).
 *   ENG_NOP       front -> io; session; corr: protocol.nop. Reply ENG_REPLY
 *                 {"rtt_us"}.
 *   ENG_CONFIRM   front -> io; session; corr: protocol.confirm_exp_stat_sn.
 *                 Reply ENG_REPLY {}.
 *   ENG_LOGOUT    front -> io (via dispatch: protocol.logout); like
 *                 ENG_CLOSE but keeps the registry entry in state "closed".
 *   ENG_ROUTE     dispatch -> front; session = numeric id; aux = io thread
 *                 index; body = the session string id. aux = UINT64_MAX
 *                 removes the route (session gone).
 *   ENG_CANCEL    front -> io; session; corr of an ENG_CMD whose client is
 *                 gone (killed process): abort it (ABORT TASK when already
 *                 sent) and send no reply.
 *
 * raw.stream (issue 6): an ENG_CMD with ENG_CMD_F_STREAM and
 * cmd.window_bytes. The io actor does not allocate data_in_length: each
 * Data-In payload is read from the socket straight into a chunk buffer
 * (several PDUs coalesced up to IO_STREAM_CHUNK bytes), and each chunk
 * goes to the front end as it fills:
 *   ENG_STREAM_DATA io -> front; session; corr of the ENG_CMD; aux = the
 *                 offset of the chunk in the transfer; data frame 0 = the
 *                 chunk (its size is the byte count; moved, never copied).
 *   ENG_STREAM_ACK front -> io; session; corr of the ENG_CMD; aux = bytes
 *                 the client acknowledged since its previous ack.
 * The io actor never has more than window_bytes sent and not acknowledged
 * plus buffered; when the next Data-In could exceed it, it stops reading
 * that connection until acks arrive (see io.h). The command ends with the
 * usual ENG_CMD_DONE (done.bytes = bytes streamed, no data frame), sent
 * after the last ENG_STREAM_DATA on the same pipe.
 *
 * Events from io actors go through the metrics client (metrics.h):
 * session.state {session, from, to, reason}, session.metrics every second,
 * session.async, and command.complete / pdu only while someone subscribes.
 */
#ifndef UISCSI_ACTORS_ENGINE_H
#define UISCSI_ACTORS_ENGINE_H

#include <stdint.h>

enum {
    ENG_OPEN = 0x0501,
    ENG_CLOSE,
    ENG_GET,
    ENG_RECONNECT,
    ENG_DISCOVER,
    ENG_REPLY,
    ENG_CMD = 0x0601,
    ENG_CMD_DONE,
    ENG_TMF,
    ENG_NOP,
    ENG_CONFIRM,
    ENG_LOGOUT,
    ENG_ROUTE,
    ENG_CANCEL,
    ENG_STREAM_DATA,
    ENG_STREAM_ACK,
};

#define ENG_CDB_MAX   260 /* CDB bytes (> 16 use the extended-CDB AHS) */
#define ENG_SENSE_MAX 252 /* sense bytes returned */
#define ENG_TAG_MAX   64  /* the client's tag (API.md "tag") */

/* eng_cmd_t.flags */
#define ENG_CMD_F_NON_IDEMPOTENT 0x0001u /* never replayed after a drop */
#define ENG_CMD_F_STREAM         0x0002u /* raw.stream (issue 6) */

/* Body of ENG_CMD: one SCSI command, fixed size, no pointers. */
typedef struct {
    uint8_t lun[8]; /* SAM LUN, encoded (proto/lun.h) */
    uint8_t cdb[ENG_CDB_MAX];
    uint16_t cdb_len;
    uint8_t attr; /* PDU_ATTR_* (proto/pdu.h); SIMPLE by default */
    uint8_t reserved;
    uint32_t data_in_length;   /* bytes expected from the target */
    uint32_t data_out_length;  /* bytes in data frame 0 */
    uint32_t timeout_ms;       /* per-command deadline (API.md timeout_ms) */
    uint32_t flags;            /* ENG_CMD_F_* */
    char tag[ENG_TAG_MAX + 1]; /* NUL-terminated; "" when none */
    uint32_t window_bytes;     /* ENG_CMD_F_STREAM: the unacknowledged bytes allowed */
} eng_cmd_t;

/* Body of ENG_CMD_DONE when status == 0. */
typedef struct {
    uint8_t status;   /* SCSI status */
    uint8_t response; /* iSCSI response (0 completed at target) */
    uint8_t overflow;
    uint8_t underflow;
    uint32_t bytes;    /* Data-In bytes delivered in data frame 0 */
    uint32_t residual; /* residual count from the target */
    uint32_t sense_len;
    uint8_t sense[ENG_SENSE_MAX];
    uint32_t latency_us;
} eng_done_t;

/* Body of ENG_TMF. */
typedef struct {
    uint8_t function; /* PDU_TMF_* */
    uint8_t lun[8];
    uint8_t reserved[3];
    char tag[ENG_TAG_MAX + 1]; /* ABORT TASK: the task's tag */
} eng_tmf_t;

#endif
