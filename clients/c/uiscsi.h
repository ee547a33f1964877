/*  uiscsi.h - C client library of uiscsid (RPC API version 1, see API.md).

    One uiscsi_t owns one ZeroMQ context and one DEALER socket connected to
    the daemon. Requests carry integer ids; replies are matched by id, so many
    requests can be in flight at once (uiscsi_submit / uiscsi_poll), up to the
    daemon's in_flight_per_client limit (read from daemon.info at connect).

    Bulk data travels as ZeroMQ frames ("attachments"), never base64: request
    buffers are sent without copying (see uiscsi_buf_t for their lifetime) and
    result data is exposed as (pointer, length) into the received frame, valid
    until the result is destroyed.

    Thread safety: a uiscsi_t is NOT thread safe. Use one uiscsi_t per thread
    (each has its own ZeroMQ context); distinct uiscsi_t need no locking. The
    only code that runs on another thread is a caller's uiscsi_buf_t free_fn,
    which ZeroMQ calls from its I/O thread.

    Conventions: functions return 0 (or a count / id) on success and -1 on
    error, filling *err when err is not NULL. `json_t *` parameters marked
    "stolen" are consumed (decref'd) whatever the outcome; `json_t *` results
    marked "borrowed" are owned by the object they come from.
*/

#ifndef UISCSI_H_INCLUDED
#define UISCSI_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UISCSI_API_VERSION  1
#define UISCSI_SESSION_MAX  65 /* session id (1..64 bytes) plus NUL */
#define UISCSI_ENDPOINT_MAX 4200

/* Error codes of the daemon (API.md, "Errors"): error.code of a reply. */
#define UISCSI_PARSE_ERROR          -32700
#define UISCSI_INVALID_REQUEST      -32600
#define UISCSI_METHOD_NOT_FOUND     -32601
#define UISCSI_INVALID_PARAMS       -32602
#define UISCSI_INTERNAL_ERROR       -32603
#define UISCSI_SESSION_NOT_FOUND    -32001
#define UISCSI_TRANSPORT_ERROR      -32002
#define UISCSI_LOGIN_FAILED         -32003
#define UISCSI_AUTH_FAILED          -32004
#define UISCSI_SCSI_CHECK_CONDITION -32005
#define UISCSI_SCSI_STATUS          -32006
#define UISCSI_TIMEOUT              -32007
#define UISCSI_TMF_FAILED           -32008
#define UISCSI_SESSION_RECOVERING   -32009
#define UISCSI_SESSION_FAILED       -32010
#define UISCSI_LIMIT_EXCEEDED       -32011
#define UISCSI_CANCELLED            -32012
#define UISCSI_NOT_RETRIABLE        -32013
#define UISCSI_PROTOCOL_ERROR       -32014

/* Errors raised by the client itself (positive, never sent by the daemon). */
#define UISCSI_CLIENT_TIMEOUT   1 /* "CLIENT_TIMEOUT": no reply before the deadline */
#define UISCSI_CLIENT_FULL      2 /* "CLIENT_FULL": in-flight limit reached */
#define UISCSI_CLIENT_IO        3 /* "CLIENT_IO": ZeroMQ failure (errno in data) */
#define UISCSI_CLIENT_BAD_REPLY 4 /* "CLIENT_BAD_REPLY": malformed reply */
#define UISCSI_CLIENT_INVALID   5 /* "CLIENT_INVALID": bad argument */
#define UISCSI_CLIENT_NOMEM     6 /* "CLIENT_NOMEM": out of memory */
#define UISCSI_CLIENT_NO_DAEMON 7 /* "CLIENT_NO_DAEMON": nothing at the endpoint */
#define UISCSI_CLIENT_BUFFER    8 /* "CLIENT_BUFFER": caller buffer too small */

/* An error: the daemon's (code < 0) or the client's (code > 0). Initialise
   with UISCSI_ERROR_INIT (or zeroes): every function that fills it first
   releases what it held. Release with uiscsi_error_clear. The const char *
   fields point into `data` and stay valid until the error is cleared or
   refilled; they are NULL when absent, and the ints are -1 when absent. */
typedef struct {
    int code;          /* error.code, or a UISCSI_CLIENT_* code */
    char name[40];     /* stable name: error.data.name, e.g. "SESSION_NOT_FOUND" */
    char message[200]; /* error.message, or the client's own message */
    json_t *data;      /* the whole error.data (owned by this struct), or NULL */
    /* INVALID_PARAMS: the param named, and why. LIMIT_EXCEEDED: limit. */
    const char *param;
    const char *reason;
    const char *limit;
    /* SCSI_CHECK_CONDITION and SCSI_STATUS */
    int status;
    int sense_key;
    int asc;
    int ascq;
    const char *sense_key_name;
    const char *description; /* ASC/ASCQ description */
    const char *status_name; /* SCSI_STATUS or LOGIN_FAILED status name */
    /* LOGIN_FAILED and AUTH_FAILED */
    int status_class;
    int status_detail;
    const char *side; /* AUTH_FAILED: "target" or "initiator" */
    /* SESSION_NOT_FOUND */
    const char *session;
} uiscsi_error_t;

#define UISCSI_ERROR_INIT                                                                \
    {                                                                                    \
        0                                                                                \
    }

/* Releases err->data and resets the struct to "no error". */
void uiscsi_error_clear (uiscsi_error_t *err);

/* The stable name of a code ("SESSION_NOT_FOUND", "CLIENT_TIMEOUT", ...), or
   "UNKNOWN". Static string. */
const char *uiscsi_error_name (int code);

/* A short English message for a code ("Session not found"). Static string. */
const char *uiscsi_strerror (int code);

/* An integer / string field of err->data, or dflt / NULL (borrowed). */
int64_t uiscsi_error_get_int (const uiscsi_error_t *err, const char *key, int64_t dflt);
const char *uiscsi_error_get_str (const uiscsi_error_t *err, const char *key);

/* A request buffer, sent as one attachment frame.

   free_fn == NULL: the library does not own the buffer. Small buffers (under
   8 KiB) are copied at once. Larger ones are sent without copying: the caller
   keeps them valid and unmodified until the request's completion has been
   returned (by the synchronous call, or by uiscsi_poll); the library waits
   for ZeroMQ to release them before it returns that completion. If the
   request ends in CLIENT_TIMEOUT, ZeroMQ may still hold them until
   uiscsi_close returns.

   free_fn != NULL: ownership moves to the library once the submit succeeds
   (never sent without copying on failure: the caller keeps the buffer then).
   free_fn (data, hint) is called exactly once, from ZeroMQ's I/O thread or
   from uiscsi_close, when ZeroMQ no longer needs the bytes. */
typedef struct {
    const void *data;
    size_t size;
    void (*free_fn) (void *data, void *hint);
    void *hint;
} uiscsi_buf_t;

/* The result of a successful call: the JSON result and the reply's frames. */
typedef struct _uiscsi_result_t uiscsi_result_t;

/* The result value (borrowed; may be any JSON type). */
json_t *uiscsi_result_json (const uiscsi_result_t *self);

/* Number of attachment frames of the reply. */
size_t uiscsi_result_attachments (const uiscsi_result_t *self);

/* Frame k (1-based) of the reply: pointer and length into the received
   message (no copy), valid until the result is destroyed. */
int uiscsi_result_attachment (const uiscsi_result_t *self, size_t k, const void **data,
                              size_t *size);

/* Resolves a bulk value of the result: {"$attachment": k} gives frame k, a
   base64 string is decoded into memory owned by the result. Pointer valid
   until the result is destroyed. */
int uiscsi_result_resolve (uiscsi_result_t *self, json_t *value, const void **data,
                           size_t *size);

/* uiscsi_result_resolve of result["data"]. */
int uiscsi_result_data (uiscsi_result_t *self, const void **data, size_t *size);

/* result[key] as an integer (dflt when absent or not an integer), a string
   (NULL when absent; borrowed) or a boolean (dflt when absent). */
int64_t uiscsi_result_int (const uiscsi_result_t *self, const char *key, int64_t dflt);
const char *uiscsi_result_str (const uiscsi_result_t *self, const char *key);
bool uiscsi_result_bool (const uiscsi_result_t *self, const char *key, bool dflt);

/* Destroys a result (its JSON and frames) and NULLs the pointer. */
void uiscsi_result_destroy (uiscsi_result_t **self_p);

/* --- Connection --------------------------------------------------------- */

typedef struct _uiscsi_t uiscsi_t;

/* Options of uiscsi_connect_opts; zeroes mean the defaults. */
typedef struct {
    int connect_timeout_ms; /* wait for the daemon.info handshake (5000) */
    int timeout_ms;         /* client-side wait per call when the params have
                               no timeout_ms (35000); with a timeout_ms param,
                               the wait is timeout_ms + 5000 */
    int max_in_flight;      /* at most this many (and never more than the
                               daemon's in_flight_per_client) */
    int submit_wait_ms;     /* uiscsi_submit at the in-flight limit: 0 fails at
                               once with CLIENT_FULL (default); > 0 waits up to
                               that long, collecting replies for uiscsi_poll */
    bool no_handshake;      /* skip daemon.info at connect (limits stay at the
                               API defaults: 256 in flight, 1 MiB frame 0) */
} uiscsi_options_t;

/* The default RPC endpoint as API.md says, written to buf: $UISCSI_RPC, else
   ipc:///run/uiscsi/rpc.sock for root, else
   ipc://$XDG_RUNTIME_DIR/uiscsi/rpc.sock (the system socket when
   XDG_RUNTIME_DIR is unset, or has no socket while the system one exists).
   Returns 0, or -1 when buf is too small. */
int uiscsi_default_endpoint (char *buf, size_t size);

/* Connects to endpoint (NULL: uiscsi_default_endpoint) and runs daemon.info
   to check the API version and read the limits. Returns a new client, or
   NULL with err filled (CLIENT_NO_DAEMON when nobody answers in time). */
uiscsi_t *uiscsi_connect (const char *endpoint, uiscsi_error_t *err);
uiscsi_t *uiscsi_connect_opts (const char *endpoint, const uiscsi_options_t *opts,
                               uiscsi_error_t *err);

/* Closes the socket (pending requests are dropped, queued completions
   destroyed), terminates the context (ZeroMQ releases every request buffer
   before this returns), frees the client and NULLs the pointer. */
void uiscsi_close (uiscsi_t **self_p);

/* The endpoint (borrowed), the daemon.info result of the handshake (borrowed,
   NULL with no_handshake), the in-flight bound in force and the number of
   requests in flight (including abandoned ones whose reply is still due). */
const char *uiscsi_endpoint (const uiscsi_t *self);
json_t *uiscsi_daemon_info_cached (const uiscsi_t *self);
int uiscsi_max_in_flight (const uiscsi_t *self);
int uiscsi_in_flight (const uiscsi_t *self);

/* A reference to attachment frame k: the JSON {"$attachment": k} (new). */
json_t *uiscsi_attachment_ref (size_t k);

/* --- Synchronous calls -------------------------------------------------- */

/* Runs method with params (a JSON object, stolen, or NULL) and attachments
   (frame k = attachments[k - 1]; refer to them in params with
   uiscsi_attachment_ref (k)). On success *result (when result is not NULL)
   is a new result for the caller to destroy. Replies to submitted requests
   that arrive meanwhile are kept for uiscsi_poll. */
int uiscsi_call (uiscsi_t *self, const char *method, json_t *params,
                 const uiscsi_buf_t *attachments, size_t n, uiscsi_result_t **result,
                 uiscsi_error_t *err);

/* Typed calls. `options` (stolen, may be NULL) is a JSON object of optional
   params merged into the request (timeout_ms, tag, auth, ...). Calls that
   return bulk data ask for it as an attachment; get it with
   uiscsi_result_data. `result` may be NULL when the caller does not need it. */
int uiscsi_rpc_discover (uiscsi_t *self, uiscsi_result_t **result, uiscsi_error_t *err);
int uiscsi_rpc_echo (uiscsi_t *self, const uiscsi_buf_t *data, uiscsi_result_t **result,
                     uiscsi_error_t *err);
int uiscsi_daemon_info (uiscsi_t *self, uiscsi_result_t **result, uiscsi_error_t *err);
int uiscsi_daemon_stats (uiscsi_t *self, uiscsi_result_t **result, uiscsi_error_t *err);
int uiscsi_events_get (uiscsi_t *self, int64_t since_seq, int max,
                       uiscsi_result_t **result, uiscsi_error_t *err);
int uiscsi_discovery_send_targets (uiscsi_t *self, const char *portal, json_t *options,
                                   uiscsi_result_t **result, uiscsi_error_t *err);

/* session.open: writes the session id to session (UISCSI_SESSION_MAX bytes). */
int uiscsi_session_open (uiscsi_t *self, const char *portal, const char *target,
                         json_t *options, char session[UISCSI_SESSION_MAX],
                         uiscsi_result_t **result, uiscsi_error_t *err);
int uiscsi_session_close (uiscsi_t *self, const char *session, bool force,
                          uiscsi_error_t *err);
int uiscsi_session_list (uiscsi_t *self, uiscsi_result_t **result, uiscsi_error_t *err);
int uiscsi_session_get (uiscsi_t *self, const char *session, uiscsi_result_t **result,
                        uiscsi_error_t *err);
int uiscsi_session_reconnect (uiscsi_t *self, const char *session, uiscsi_error_t *err);

int uiscsi_scsi_test_unit_ready (uiscsi_t *self, const char *session, int lun,
                                 uiscsi_error_t *err);
/* Standard INQUIRY when page < 0, else the VPD page. */
int uiscsi_scsi_inquiry (uiscsi_t *self, const char *session, int lun, int page,
                         uiscsi_result_t **result, uiscsi_error_t *err);
int uiscsi_scsi_read_capacity (uiscsi_t *self, const char *session, int lun,
                               uint64_t *blocks, uint32_t *block_size,
                               uiscsi_result_t **result, uiscsi_error_t *err);
int uiscsi_scsi_report_luns (uiscsi_t *self, const char *session,
                             uiscsi_result_t **result, uiscsi_error_t *err);
int uiscsi_scsi_request_sense (uiscsi_t *self, const char *session, int lun,
                               uiscsi_result_t **result, uiscsi_error_t *err);
/* READ into buf (one copy out of the received frame); *bytes = bytes read.
   CLIENT_BUFFER when the data does not fit in size. */
int uiscsi_scsi_read (uiscsi_t *self, const char *session, int lun, uint64_t lba,
                      uint32_t blocks, void *buf, size_t size, size_t *bytes,
                      uiscsi_error_t *err);
/* READ returning the result: uiscsi_result_data gives the data (no copy). */
int uiscsi_scsi_read_result (uiscsi_t *self, const char *session, int lun, uint64_t lba,
                             uint32_t blocks, uiscsi_result_t **result,
                             uiscsi_error_t *err);
/* WRITE from data (an attachment; see uiscsi_buf_t for its lifetime). */
int uiscsi_scsi_write (uiscsi_t *self, const char *session, int lun, uint64_t lba,
                       uint32_t blocks, const uiscsi_buf_t *data, uiscsi_error_t *err);
int uiscsi_scsi_synchronize_cache (uiscsi_t *self, const char *session, int lun,
                                   uiscsi_error_t *err);
/* Any CDB; the SCSI status is in the result ("status", "sense", ...), not an
   error. data_out may be NULL; data_in_length 0 for none. */
int uiscsi_raw_execute (uiscsi_t *self, const char *session, int lun, const uint8_t *cdb,
                        size_t cdb_len, const uiscsi_buf_t *data_out,
                        uint32_t data_in_length, uiscsi_result_t **result,
                        uiscsi_error_t *err);

/* Task management: result {"response", "response_name"}. */
int uiscsi_tmf_abort_task (uiscsi_t *self, const char *session, const char *tag,
                           uiscsi_result_t **result, uiscsi_error_t *err);
int uiscsi_tmf_abort_task_set (uiscsi_t *self, const char *session, int lun,
                               uiscsi_result_t **result, uiscsi_error_t *err);
int uiscsi_tmf_clear_task_set (uiscsi_t *self, const char *session, int lun,
                               uiscsi_result_t **result, uiscsi_error_t *err);
int uiscsi_tmf_lun_reset (uiscsi_t *self, const char *session, int lun,
                          uiscsi_result_t **result, uiscsi_error_t *err);
int uiscsi_tmf_target_warm_reset (uiscsi_t *self, const char *session,
                                  uiscsi_result_t **result, uiscsi_error_t *err);
int uiscsi_tmf_target_cold_reset (uiscsi_t *self, const char *session,
                                  uiscsi_result_t **result, uiscsi_error_t *err);

/* NOP-Out ping; *rtt_us (may be NULL) gets the round trip. */
int uiscsi_protocol_nop (uiscsi_t *self, const char *session, uint64_t *rtt_us,
                         uiscsi_error_t *err);
int uiscsi_protocol_logout (uiscsi_t *self, const char *session, uiscsi_error_t *err);

/* --- Asynchronous, pipelined -------------------------------------------- */

/* One finished request, returned by uiscsi_poll. On success `result` is the
   caller's to destroy; on failure `error` is filled (clear it). */
typedef struct {
    int64_t id;
    void *user;              /* as given to submit */
    int status;              /* 0 success, -1 error */
    uiscsi_result_t *result; /* success only */
    uiscsi_error_t error;    /* failure only */
} uiscsi_completion_t;

/* Sends a request without waiting; returns its id (>= 1) or -1. Arguments as
   uiscsi_call; user is handed back in the completion. At the in-flight limit
   it fails with CLIENT_FULL, or waits up to submit_wait_ms (options). */
int64_t uiscsi_submit (uiscsi_t *self, const char *method, json_t *params,
                       const uiscsi_buf_t *attachments, size_t n, void *user,
                       uiscsi_error_t *err);

/* Typed submits (bulk results requested as attachments). */
int64_t uiscsi_submit_rpc_echo (uiscsi_t *self, const uiscsi_buf_t *data, void *user,
                                uiscsi_error_t *err);
int64_t uiscsi_submit_scsi_read (uiscsi_t *self, const char *session, int lun,
                                 uint64_t lba, uint32_t blocks, void *user,
                                 uiscsi_error_t *err);
int64_t uiscsi_submit_scsi_write (uiscsi_t *self, const char *session, int lun,
                                  uint64_t lba, uint32_t blocks, const uiscsi_buf_t *data,
                                  void *user, uiscsi_error_t *err);

/* Waits up to timeout_ms (0: no wait, -1: until the next completion or the
   earliest request deadline) for one completion, in any order. Returns 1 with
   *out filled, 0 when none came in time (at once when nothing is in flight or
   queued), -1 on a client failure (err). Requests past their client-side
   deadline complete with CLIENT_TIMEOUT; their slot stays taken until the
   late reply arrives (and is dropped). */
int uiscsi_poll (uiscsi_t *self, int timeout_ms, uiscsi_completion_t *out,
                 uiscsi_error_t *err);

/* Completions waiting in the queue (already received). */
size_t uiscsi_pending_completions (const uiscsi_t *self);

/* The socket's ZMQ_FD, for an event loop: when it is readable (edge
   triggered, as ZMQ_FD), call uiscsi_poll (self, 0, ...) until it returns 0.
   Returns -1 on failure. */
int uiscsi_fd (uiscsi_t *self);

#ifdef __cplusplus
}
#endif

#endif
