/* schema.h: a small JSON Schema subset that validates RPC params.
 *
 * Keywords: type (a name or an array of names: object, array, string,
 * integer, number, boolean, null), properties, required,
 * additionalProperties (false rejects unknown keys), items, minItems,
 * maxItems, uniqueItems, minimum, maximum (numbers), minLength, maxLength
 * (strings, in UTF-8 bytes), enum, default, description, format, and
 * x-limit ("data_bytes": an integer above that limit is LIMIT_EXCEEDED
 * instead of invalid). Any other keyword makes the schema invalid, so typos
 * in the method table are caught.
 *
 * Formats, checked in C:
 *   text        no control characters (below 0x20, 0x7f)
 *   path        text that starts with '/'
 *   hex         hex digits, an even number of them (a CDB: with maxLength)
 *   lun, u64    for strings: "0x" and 1..16 hex digits (64-bit SAM LUN, key)
 *   portal      host[:port], IPv6 in brackets (proto/portal.h parses it)
 *   digest_list CRC32C, None, or both comma-separated (RFC 7143 13.1)
 *   data        base64 string or {"$attachment": k} (rpc/bulk.h)
 *   auth        the auth object's rules (method none/chap, secret XOR
 *               secret_file, mutual CHAP needs target_user and a target
 *               secret)
 * Strings never contain NUL (JSON "\u0000" is rejected everywhere).
 *
 * Schemas are jansson values, usually parsed with rpc_schema_parse from the
 * JSON text literals of the method table. A validation error is a -32602
 * error object whose data names the parameter path and the reason, e.g.
 * {"param": "params.recovery.backoff_ms", "reason": "expected integer >= 0"};
 * reasons never quote the caller's values. */
#ifndef UISCSI_RPC_SCHEMA_H
#define UISCSI_RPC_SCHEMA_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* What validation needs to know about the message. */
typedef struct rpc_schema_ctx {
    size_t nframes;        /* frames of the message, frame 0 included */
    size_t data_max_bytes; /* one data payload (LIMIT_EXCEEDED above) */
} rpc_schema_ctx_t;

/* Parses a schema from JSON text in which ' stands for " (so C literals stay
 * readable; the text itself then cannot contain '), and checks it with
 * rpc_schema_check. Returns a new reference, or NULL with a description of
 * the fault in where (where_size > 0). */
json_t *rpc_schema_parse (const char *text, char *where, size_t where_size);

/* Checks that schema uses only the subset above, with well-typed keyword
 * values, known formats, required names that are properties, and defaults
 * that validate. Returns 0, or UIS_ERR_MALFORMED with the schema path of
 * the fault in where. */
int rpc_schema_check (const json_t *schema, char *where, size_t where_size);

/* Validates value against schema; root names the value in error paths
 * ("params"). ctx NULL: one frame, 64 MiB. Returns NULL when valid, else a
 * new error object (INVALID_PARAMS, or LIMIT_EXCEEDED for x-limit and
 * data). */
json_t *rpc_schema_validate (const json_t *schema, const json_t *value, const char *root,
                             const rpc_schema_ctx_t *ctx);

/* Adds the schema's "default" of every absent property of value (and of
 * nested objects that are present). value must have validated. Returns 0
 * or UIS_ERR_NOMEM. */
int rpc_schema_apply_defaults (const json_t *schema, json_t *value);

/* Reads a u64 param: a non-negative integer, or a "0x" string of 1..16 hex
 * digits. Returns 0 or UIS_ERR_MALFORMED. */
int rpc_param_u64 (const json_t *value, uint64_t *v_p);

#endif
