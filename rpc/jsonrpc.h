/* jsonrpc.h: the transport-free JSON-RPC 2.0 core of uiscsid.
 *
 * rpc_msg_parse takes frame 0 of a request message (bytes), checks limits,
 * parses it and validates the JSON-RPC 2.0 envelope of the request or of
 * every element of a batch. Envelope faults are answered at once (per
 * element in a batch); the remaining calls are "pending" until the caller
 * answers each one (rpc_msg_answer / rpc_msg_fail), typically after
 * rpc_methods_check_msg and a handler. rpc_msg_reply then builds the reply:
 * one response object, a batch array, or nothing (notifications only).
 *
 * Rules (JSON-RPC 2.0 and API.md):
 * - frame 0 longer than limits.frame0_max_bytes, nested deeper than
 *   json_depth_max, or a batch longer than batch_max: one LIMIT_EXCEEDED
 *   response with id null.
 * - invalid UTF-8 or invalid JSON: -32700 with id null. Top level neither
 *   object nor array, or an empty array: -32600 with id null.
 * - a request: "jsonrpc" exactly "2.0", "method" a string, "params" absent
 *   or an object (an array gives -32602: API.md params are named), "id" a
 *   string, a number or null, or absent (a notification); no other member.
 *   A faulty element is answered with -32600 and its id when the id itself
 *   is valid, else null; it is answered even without an id, as the
 *   specification's examples require.
 * - a notification is never answered, whatever happens to it.
 * - the id of a response is the request's id, the same JSON value. */
#ifndef UISCSI_RPC_JSONRPC_H
#define UISCSI_RPC_JSONRPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits of the RPC front end (API.md "Limits"; reported by daemon.info). */
typedef struct rpc_limits {
    size_t frame0_max_bytes;       /* request JSON frame: 1 MiB */
    size_t data_max_bytes;         /* one data payload: 64 MiB */
    size_t batch_max;              /* elements of one batch: 256 */
    size_t json_depth_max;         /* nesting of arrays and objects: 32 */
    uint32_t in_flight_per_client; /* requests in flight per client: 256 */
    uint32_t sessions_max;         /* sessions of the daemon: 1024 */
    /* Not a limit: accept positional (array) params, which JSON-RPC 2.0
     * allows and API.md does not. false by default; for tests only. */
    bool positional_params;
} rpc_limits_t;

/* Fills self with the defaults above. */
void rpc_limits_default (rpc_limits_t *self);

/* The limits as the JSON object of daemon.info ("limits"); new reference. */
json_t *rpc_limits_json (const rpc_limits_t *self);

/* Builds {"jsonrpc": "2.0", "result": result, "id": id}. id is borrowed
 * (NULL means null); result is stolen. New reference or NULL (no memory). */
json_t *rpc_response_result (json_t *id, json_t *result);

/* Builds {"jsonrpc": "2.0", "error": error, "id": id}; as above. */
json_t *rpc_response_error (json_t *id, json_t *error);

/* Nesting depth of the JSON text (arrays and objects, strings skipped),
 * counting stops just above max. Does not validate the text. */
size_t rpc_json_depth (const void *text, size_t size, size_t max);

typedef struct rpc_msg rpc_msg_t;

/* Parses and validates frame 0. On success returns the message (owned by
 * the caller) and sets *reply_p to NULL. When the frame as a whole is bad
 * returns NULL and sets *reply_p to the complete response to send (owned by
 * the caller), or to NULL when out of memory. limits NULL = defaults. */
rpc_msg_t *rpc_msg_parse (const void *frame0, size_t size, const rpc_limits_t *limits,
                          json_t **reply_p);

/* Frees the message and NULLs the pointer. */
void rpc_msg_destroy (rpc_msg_t **self_p);

/* Number of calls (1 for a single request). */
size_t rpc_msg_count (const rpc_msg_t *self);

/* Whether frame 0 was a batch array. */
bool rpc_msg_is_batch (const rpc_msg_t *self);

/* Whether call i still waits for an answer. */
bool rpc_msg_is_pending (const rpc_msg_t *self, size_t i);

/* Calls still pending. */
size_t rpc_msg_pending_count (const rpc_msg_t *self);

/* Whether call i is a notification (a valid request without id). */
bool rpc_msg_is_notification (const rpc_msg_t *self, size_t i);

/* id of call i, borrowed: NULL for a notification or an element without a
 * usable id, else the value as received (JSON null included). */
json_t *rpc_msg_id (const rpc_msg_t *self, size_t i);

/* Method name of call i (borrowed, NUL-free), or NULL when the element was
 * invalid. */
const char *rpc_msg_method (const rpc_msg_t *self, size_t i);

/* params of call i, borrowed: an object (an empty one when absent; the
 * caller may add defaults to it), an array only with positional_params, or
 * NULL when the element was invalid. */
json_t *rpc_msg_params (const rpc_msg_t *self, size_t i);

/* An opaque pointer attached to call i (rpc_methods_check_msg stores the
 * method there). */
void rpc_msg_set_user (rpc_msg_t *self, size_t i, const void *user);
const void *rpc_msg_user (const rpc_msg_t *self, size_t i);

/* Answers pending call i with a result (stolen; dropped for a
 * notification). Returns 0, UIS_ERR_STATE when i is not pending (result
 * freed), UIS_ERR_NOMEM. */
int rpc_msg_answer (rpc_msg_t *self, size_t i, json_t *result);

/* Answers pending call i with an error object (stolen), as above. A NULL
 * error (a failed builder) is answered with INTERNAL_ERROR. */
int rpc_msg_fail (rpc_msg_t *self, size_t i, json_t *error);

/* When no call is pending: sets *reply_p to the reply (new reference), or
 * NULL when nothing is to be sent. Returns 0, UIS_ERR_STATE (calls pending)
 * or UIS_ERR_NOMEM. */
int rpc_msg_reply (const rpc_msg_t *self, json_t **reply_p);

#endif
