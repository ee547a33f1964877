/* bulk.h: bulk data of RPC messages (API.md "Attachments"): a `data` value
 * is either a base64 string or an attachment reference {"$attachment": k}
 * that stands for binary frame k (k >= 1) of the same ZeroMQ message. Also
 * the strict base64 and hex codecs used for params and results.
 *
 * Transport-free: a message's frames come in as an array of (pointer, size)
 * views that the caller keeps alive; frames[0] is the JSON frame. Resolving
 * an attachment never copies it. */
#ifndef UISCSI_RPC_BULK_H
#define UISCSI_RPC_BULK_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A view of one frame of a message (owned by the caller). */
typedef struct rpc_frame {
    const void *data;
    size_t size;
} rpc_frame_t;

/* Resolved bulk data. data points into the attachment frame (no copy) or
 * into owned (decoded base64). Release with rpc_bulk_release. */
typedef struct rpc_bulk {
    const uint8_t *data;
    size_t size;
    size_t frame;   /* attachment frame index k, or 0 for base64 */
    uint8_t *owned; /* malloc'd decode buffer, or NULL */
} rpc_bulk_t;

/* How a result carries bulk data (the request's "data_encoding"). */
typedef enum rpc_bulk_encoding {
    RPC_BULK_BASE64 = 0,
    RPC_BULK_ATTACHMENT = 1,
} rpc_bulk_encoding_t;

/* Checks that value is exactly {"$attachment": k} with k an integer >= 1;
 * stores k. Returns 0, or UIS_ERR_MALFORMED (not that shape) or
 * UIS_ERR_OUT_OF_RANGE (k < 1). Frame bounds are not checked here. */
int rpc_attachment_index (const json_t *value, size_t *k_p);

/* Checks value as a `data` param (base64 string or attachment reference)
 * without decoding: attachment k must satisfy k < nframes, base64 must be
 * strict and decode to at most max_bytes. Returns NULL when valid, else a
 * new error object (-32602 naming `param`, or LIMIT_EXCEEDED). */
json_t *rpc_bulk_check (const json_t *value, const char *param, size_t nframes,
                        size_t max_bytes);

/* Resolves a `data` param into *out (zero-copy for an attachment, a malloc'd
 * decode for base64). frames/nframes is the whole message (frame 0 = JSON).
 * Returns NULL on success, else a new error object as rpc_bulk_check (or
 * INTERNAL_ERROR when out of memory); *out is then empty. */
json_t *rpc_bulk_resolve (const json_t *value, const char *param,
                          const rpc_frame_t *frames, size_t nframes, size_t max_bytes,
                          rpc_bulk_t *out);

/* Frees what rpc_bulk_resolve allocated and empties the struct. */
void rpc_bulk_release (rpc_bulk_t *self);

/* The encoding a request asked for: params.data_encoding == "attachment"
 * gives RPC_BULK_ATTACHMENT, anything else (absent) base64. */
rpc_bulk_encoding_t rpc_bulk_encoding (const json_t *params);

/* The JSON value of a bulk result: {"$attachment": frame} when the request
 * asked for attachments (the caller then sends data as reply frame `frame`),
 * else a base64 string of data. New reference, NULL when out of memory. */
json_t *rpc_bulk_result (const json_t *params, const void *data, size_t size,
                         size_t frame);

/* {"$attachment": k}; new reference. */
json_t *rpc_attachment_new (size_t k);

/* Length of the base64 text of n bytes (no terminator), or SIZE_MAX when it
 * would overflow. */
size_t rpc_base64_encoded_len (size_t n);

/* Writes the base64 text of data into out (rpc_base64_encoded_len (size)
 * bytes plus a NUL; out_size must hold them). Returns 0 or
 * UIS_ERR_BUFFER_TOO_SMALL. */
int rpc_base64_encode (const void *data, size_t size, char *out, size_t out_size);

/* Strict check of base64 text (RFC 4648 section 4: standard alphabet,
 * length a multiple of 4, '=' padding only at the end, zero pad bits, no
 * whitespace); stores the decoded length. Returns 0 or UIS_ERR_MALFORMED. */
int rpc_base64_decoded_len (const char *text, size_t len, size_t *n_p);

/* Decodes strict base64 into out (out_size >= decoded length). Returns 0,
 * UIS_ERR_MALFORMED or UIS_ERR_BUFFER_TOO_SMALL; *n_p gets the length. */
int rpc_base64_decode (const char *text, size_t len, uint8_t *out, size_t out_size,
                       size_t *n_p);

/* A base64 JSON string of data; new reference. */
json_t *rpc_base64_json (const void *data, size_t size);

/* A lower-case hex JSON string of data ("" for size 0); new reference. */
json_t *rpc_hex_json (const void *data, size_t size);

/* Decodes an even-length hex string (either case, no prefix) into out.
 * Returns 0, UIS_ERR_MALFORMED or UIS_ERR_BUFFER_TOO_SMALL. */
int rpc_hex_decode (const char *text, size_t len, uint8_t *out, size_t out_size,
                    size_t *n_p);

#endif
