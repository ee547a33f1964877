/* io.h: the io actor (issue 4): one per I/O thread, it owns every session
 * placed on that thread (its TCP connection, login and proto/session.h
 * engine) and speaks the messages of actors/engine.h on a ROUTER bound to
 * inproc://uis-io-<k>.
 *
 * Session states (session.state events {session, from, to, reason}):
 *   new -> connecting -> logging_in -> full_feature -> logging_out -> closed
 *   any connected state -> failed (dead connection: reason "eof",
 *   "connection_reset", "write_error", "keepalive_timeout", "digest_error",
 *   "protocol_error", "statsn_gap", "reconnect")
 *   failed -> connecting (ENG_RECONNECT: ERL 0 reinstatement, same ISID,
 *   TSIH 0)
 *   connecting / logging_in -> closed (the first login failed or timed out)
 * A dead connection always goes through one function (s_conn_dead, the
 * recovery entry point of issue 5): every in-flight command ends at once
 * with SESSION_FAILED {reason}, session.state is published, the session
 * stays "failed" until ENG_RECONNECT or ENG_CLOSE.
 *
 * Per-command deadlines (eng_cmd_t.timeout_ms) run on the io actor's own
 * clock whatever the connection does. At expiry: a command not yet sent is
 * withdrawn (TIMEOUT, aborted true: it never reached the target); a sent
 * one gets ABORT TASK (its LUN and RefCmdSN) and the reply waits up to
 * IO_ABORT_GRACE_MS for the abort: TIMEOUT {timeout_ms, aborted} with
 * aborted true when the target confirmed it. A command that completes
 * with a SCSI status before the abort is confirmed returns that status.
 *
 * Close and logout (ENG_CLOSE, ENG_LOGOUT; docs/operations.md "Closing a
 * session"): forced, or not in full feature phase: closed at once, every
 * in-flight command ends CANCELLED. Graceful (N2): state logging_out, new
 * commands get CANCELLED, the in-flight ones may complete normally for up
 * to min(IO_LOGOUT_DRAIN_MS, timeout_ms - IO_LOGOUT_GRACE_MS) (the drain),
 * then the Logout Request goes out; the target ends what is still pending
 * (RFC 7143 §11.14) and those commands end CANCELLED. No Logout Response
 * within IO_LOGOUT_GRACE_MS (N3): the connection is closed anyway and the
 * reply carries "logout_timeout": true. So a close returns within
 * max(timeout_ms, IO_LOGOUT_GRACE_MS) and at most IO_LOGOUT_DRAIN_MS +
 * IO_LOGOUT_GRACE_MS. The reply carries the session's final "counters"
 * (daemon.stats keeps them: its counters are monotonic).
 *
 * A discovery session is named "discovery-<n>" in its events (n counts
 * discovery sessions daemon-wide from 1).
 *
 * Events: session.state, session.metrics (every second per session that is
 * not closed), session.async, and command.complete / pdu only while
 * someone subscribes to them (metrics_client interest).
 *
 * raw.stream (ENG_CMD_F_STREAM, issue 6): Data-In of a streaming task is
 * read from the socket straight into chunk buffers of at most
 * max(IO_STREAM_CHUNK, MaxRecvDataSegmentLength) bytes (never more than
 * window_bytes), which move to the front end as ENG_STREAM_DATA when full,
 * at the end of each read round, and before the completion. The window
 * counts the bytes sent and not acknowledged (ENG_STREAM_ACK) plus the
 * chunk being filled; window_bytes below the session's
 * MaxRecvDataSegmentLength is refused (INVALID_PARAMS). Flow control: iSCSI
 * has no per-task flow control for Data-In (R2T and MaxBurstLength pace
 * writes only), so the only brake is TCP: when the next Data-In PDU could
 * overrun a stream's window, the io actor stops reading THAT connection
 * (its fd leaves the poll set; other sessions of the thread keep flowing)
 * until acks arrive, and the target's sends block on the full TCP window.
 * The price: every other PDU of that connection (other tasks' Data-In and
 * responses, NOP-In, Async Messages) waits too, and keepalive is suspended
 * meanwhile (the engine is told the silence is ours: session_rx_hold). A
 * stream's deadline (timeout_ms) restarts on every chunk and every ack, so
 * a consumer that stops acknowledging (a killed client) ends in TIMEOUT
 * with ABORT TASK after timeout_ms. An aborted, cancelled or timed-out
 * stream stops holding the connection at once: its remaining Data-In is
 * read and dropped (framer buffer) until the target confirms the abort.
 *
 * Additions to the contract (tests): an ENG_OPEN message may carry a
 * connected stream fd (RT_MSG_F_FD): the io actor then uses it instead of
 * connecting to the portal (the portal is still reported). */
#ifndef UISCSI_ACTORS_IO_H
#define UISCSI_ACTORS_IO_H

#include <stddef.h>
#include <stdint.h>

#include "actors/rt/rt_actor.h"

#define IO_ENDPOINT_FMT    "inproc://uis-io-%u"
#define IO_ABORT_GRACE_MS  2000 /* wait for ABORT TASK after a deadline */
#define IO_LOGOUT_GRACE_MS 2000 /* wait for the Logout Response on close (N3) */
#define IO_LOGOUT_DRAIN_MS 5000 /* most a close waits for in-flight commands (N2) */
#define IO_TASKS_MAX       1024 /* engine task table per session */
#define IO_TICK_MS         10   /* deadline and keepalive resolution */
#define IO_STREAM_CHUNK    (256u << 10) /* raw.stream chunk (coalesced Data-In) */

typedef struct {
    unsigned index;               /* k in inproc://uis-io-<k> */
    const char *endpoint;         /* ROUTER bind; NULL: IO_ENDPOINT_FMT of index */
    const char *metrics_endpoint; /* the metrics actor's API, or NULL: no events */
} io_config_t;

/* Writes the endpoint of io actor k into buf. Returns 0 or
 * UIS_ERR_BUFFER_TOO_SMALL. */
int io_endpoint (unsigned index, char *buf, size_t size);

/* Actor body: args is an io_config_t (read during the call). Binds the
 * ROUTER, connects to the metrics actor, and serves actors/engine.h until
 * TERM, when every session is dropped (connections closed, in-flight
 * commands freed without replies). */
int io_actor (rt_body_t *body, void *args);

#endif
