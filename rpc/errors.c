/* errors.c: the RPC error table and the builders of error objects. */
#include "rpc/errors.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "proto/errors.h"
#include "rpc/bulk.h"

typedef struct {
    int code;
    const char *name;
    const char *message;
    const char *fields;
} s_row_t;

static const s_row_t s_rows[] = {
#define X(name, code, msg, fields) {code, #name, msg, fields},
    RPC_ERROR_TABLE (X)
#undef X
};

#define S_ROWS (sizeof s_rows / sizeof s_rows[0])

/* Row of a code, or NULL. */
static const s_row_t *
s_row (int code)
{
    for (size_t i = 0; i < S_ROWS; i++)
        if (s_rows[i].code == code)
            return &s_rows[i];
    return NULL;
}

size_t
rpc_error_count (void)
{
    return S_ROWS;
}

int
rpc_error_code_at (size_t i)
{
    return i < S_ROWS ? s_rows[i].code : 0;
}

const char *
rpc_error_name (int code)
{
    const s_row_t *r = s_row (code);
    return r ? r->name : NULL;
}

const char *
rpc_error_message (int code)
{
    const s_row_t *r = s_row (code);
    return r ? r->message : NULL;
}

const char *
rpc_error_fields (int code)
{
    const s_row_t *r = s_row (code);
    return r ? r->fields : NULL;
}

int
rpc_error_code_of (const char *name)
{
    for (size_t i = 0; name && i < S_ROWS; i++)
        if (strcmp (s_rows[i].name, name) == 0)
            return s_rows[i].code;
    return 0;
}

/* Builds the error object; steals data (also on failure). */
json_t *
rpc_error_new (int code, json_t *data)
{
    const s_row_t *r = s_row (code);
    if (!data)
        data = json_object ();
    if (!data || !json_is_object (data)) {
        json_decref (data);
        return NULL;
    }
    /* name first, then the fields, so the data reads in a stable order. */
    json_t *full = r ? json_pack ("{s:s}", "name", r->name) : json_object ();
    if (!full || json_object_update (full, data) != 0
        || (r && json_object_set_new (full, "name", json_string (r->name)) != 0)) {
        json_decref (full);
        json_decref (data);
        return NULL;
    }
    json_decref (data);
    return json_pack ("{s:i, s:s, s:o}", "code", code, "message",
                      r ? r->message : "Server error", "data", full);
}

int
rpc_error_code (const json_t *error)
{
    json_t *c = json_object_get (error, "code");
    return json_is_integer (c) ? (int)json_integer_value (c) : 0;
}

/* A JSON string or null for a possibly NULL C string. */
static json_t *
s_str (const char *s)
{
    return s ? json_string (s) : json_null ();
}

/* Adds key = value to obj; both are stolen. Returns obj, or NULL (both
 * freed) when either is NULL because an earlier step failed. */
json_t *
rpc_json_add (json_t *obj, const char *key, json_t *value)
{
    if (!obj) {
        json_decref (value);
        return NULL;
    }
    if (!value || json_object_set_new (obj, key, value) != 0) {
        json_decref (obj);
        return NULL;
    }
    return obj;
}

/* rpc_error_new on a data object that may be NULL because a step failed. */
static json_t *
s_build (int code, json_t *data)
{
    return data ? rpc_error_new (code, data) : NULL;
}

json_t *
rpc_error_parse (const char *reason, int line, int column, int position)
{
    json_t *d = json_object ();
    if (reason)
        d = rpc_json_add (d, "reason", json_string (reason));
    if (line > 0) {
        d = rpc_json_add (d, "line", json_integer (line));
        d = rpc_json_add (d, "column", json_integer (column));
        d = rpc_json_add (d, "position", json_integer (position));
    }
    return s_build (RPC_E_PARSE_ERROR, d);
}

json_t *
rpc_error_invalid_request (const char *reason)
{
    json_t *d = json_object ();
    if (reason)
        d = rpc_json_add (d, "reason", json_string (reason));
    return s_build (RPC_E_INVALID_REQUEST, d);
}

json_t *
rpc_error_method_not_found (void)
{
    return rpc_error_new (RPC_E_METHOD_NOT_FOUND, NULL);
}

json_t *
rpc_error_invalid_params (const char *param, const char *reason)
{
    json_t *d = json_object ();
    if (param)
        d = rpc_json_add (d, "param", json_string (param));
    if (reason)
        d = rpc_json_add (d, "reason", json_string (reason));
    return s_build (RPC_E_INVALID_PARAMS, d);
}

json_t *
rpc_error_internal (const char *reason)
{
    json_t *d = json_object ();
    if (reason)
        d = rpc_json_add (d, "reason", json_string (reason));
    return s_build (RPC_E_INTERNAL_ERROR, d);
}

json_t *
rpc_error_session_not_found (const char *session)
{
    return s_build (RPC_E_SESSION_NOT_FOUND,
                    rpc_json_add (json_object (), "session", s_str (session)));
}

json_t *
rpc_error_transport (const char *op, int errno_value, const char *message)
{
    json_t *d = rpc_json_add (json_object (), "op", s_str (op));
    d = rpc_json_add (d, "errno", json_integer (errno_value));
    d = rpc_json_add (d, "message", s_str (message));
    return s_build (RPC_E_TRANSPORT_ERROR, d);
}

json_t *
rpc_error_login_failed (int status_class, int status_detail, const char *status_name)
{
    json_t *d =
        rpc_json_add (json_object (), "status_class", json_integer (status_class));
    d = rpc_json_add (d, "status_detail", json_integer (status_detail));
    d = rpc_json_add (d, "status_name", s_str (status_name));
    return s_build (RPC_E_LOGIN_FAILED, d);
}

json_t *
rpc_error_auth_failed (int status_class, int status_detail, const char *side)
{
    json_t *d =
        rpc_json_add (json_object (), "status_class", json_integer (status_class));
    d = rpc_json_add (d, "status_detail", json_integer (status_detail));
    d = rpc_json_add (d, "side", s_str (side));
    return s_build (RPC_E_AUTH_FAILED, d);
}

json_t *
rpc_error_check_condition (const rpc_sense_fields_t *f)
{
    json_t *info = json_null ();
    if (f->information_valid) {
        json_decref (info);
        if (f->information <= INT64_MAX)
            info = json_integer ((json_int_t)f->information);
        else {
            char hex[24];
            snprintf (hex, sizeof hex, "0x%016" PRIx64, f->information);
            info = json_string (hex);
        }
    }
    json_t *d = rpc_json_add (json_object (), "status", json_integer (f->status));
    d = rpc_json_add (d, "sense_key", json_integer (f->sense_key));
    d = rpc_json_add (d, "sense_key_name", s_str (f->sense_key_name));
    d = rpc_json_add (d, "asc", json_integer (f->asc));
    d = rpc_json_add (d, "ascq", json_integer (f->ascq));
    d = rpc_json_add (d, "description", s_str (f->description));
    d = rpc_json_add (d, "information", info);
    d = rpc_json_add (d, "sense", rpc_hex_json (f->sense, f->sense_len));
    return s_build (RPC_E_SCSI_CHECK_CONDITION, d);
}

json_t *
rpc_error_scsi_status (int status, const char *status_name)
{
    json_t *d = rpc_json_add (json_object (), "status", json_integer (status));
    d = rpc_json_add (d, "status_name", s_str (status_name));
    return s_build (RPC_E_SCSI_STATUS, d);
}

json_t *
rpc_error_timeout (int64_t timeout_ms, bool aborted)
{
    json_t *d = rpc_json_add (json_object (), "timeout_ms", json_integer (timeout_ms));
    d = rpc_json_add (d, "aborted", json_boolean (aborted));
    return s_build (RPC_E_TIMEOUT, d);
}

json_t *
rpc_error_tmf_failed (int response, const char *response_name)
{
    json_t *d = rpc_json_add (json_object (), "response", json_integer (response));
    d = rpc_json_add (d, "response_name", s_str (response_name));
    return s_build (RPC_E_TMF_FAILED, d);
}

json_t *
rpc_error_session_recovering (const char *state, int64_t retry_after_ms)
{
    json_t *d = rpc_json_add (json_object (), "state", s_str (state));
    if (retry_after_ms >= 0)
        d = rpc_json_add (d, "retry_after_ms", json_integer (retry_after_ms));
    return s_build (RPC_E_SESSION_RECOVERING, d);
}

json_t *
rpc_error_session_failed (const char *reason)
{
    return s_build (RPC_E_SESSION_FAILED,
                    rpc_json_add (json_object (), "reason", s_str (reason)));
}

json_t *
rpc_error_limit_exceeded (const char *limit, uint64_t value)
{
    json_t *d = rpc_json_add (json_object (), "limit", s_str (limit));
    d = rpc_json_add (d, "value",
                      json_integer (value > INT64_MAX ? INT64_MAX : (json_int_t)value));
    return s_build (RPC_E_LIMIT_EXCEEDED, d);
}

json_t *
rpc_error_cancelled (void)
{
    return rpc_error_new (RPC_E_CANCELLED, NULL);
}

json_t *
rpc_error_not_retriable (const char *reason)
{
    json_t *d = json_object ();
    if (reason)
        d = rpc_json_add (d, "reason", json_string (reason));
    return s_build (RPC_E_NOT_RETRIABLE, d);
}

json_t *
rpc_error_protocol (const char *detail)
{
    return s_build (RPC_E_PROTOCOL_ERROR,
                    rpc_json_add (json_object (), "detail", s_str (detail)));
}

json_t *
rpc_error_from_uis (int uis_code)
{
    switch (uis_code) {
    case UIS_ERR_PDU_OPCODE:
    case UIS_ERR_PDU_RESERVED:
    case UIS_ERR_PDU_AHS:
    case UIS_ERR_PDU_DSL_LIMIT:
    case UIS_ERR_HEADER_DIGEST:
    case UIS_ERR_DATA_DIGEST:
    case UIS_ERR_LOGIN_PROTOCOL:
    case UIS_ERR_SCSI_RESPONSE:
    case UIS_ERR_SCSI_SENSE:
    case UIS_ERR_PROTOCOL:
    case UIS_ERR_SEQUENCE:
        return rpc_error_protocol (uis_err_name (uis_code));
    default:
        return rpc_error_internal (uis_err_name (uis_code));
    }
}
