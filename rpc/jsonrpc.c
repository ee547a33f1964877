/* jsonrpc.c: JSON-RPC 2.0 envelope parsing, validation and replies. */
#include "rpc/jsonrpc.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "proto/errors.h"
#include "rpc/errors.h"

typedef struct {
    json_t *id;         /* borrowed from root; NULL: none */
    const char *method; /* borrowed from root; NULL: invalid element */
    json_t *params;     /* borrowed from root; NULL: invalid element */
    const void *user;
    json_t *response; /* owned; NULL until answered, or for a notification */
    bool notification;
    bool pending;
} s_call_t;

struct rpc_msg {
    json_t *root;
    bool batch;
    size_t count;
    size_t pending;
    s_call_t calls[];
};

void
rpc_limits_default (rpc_limits_t *self)
{
    memset (self, 0, sizeof *self);
    self->frame0_max_bytes = 1u << 20;
    self->data_max_bytes = 64u << 20;
    self->batch_max = 256;
    self->json_depth_max = 32;
    self->in_flight_per_client = 256;
    self->sessions_max = 1024;
    self->positional_params = false;
}

json_t *
rpc_limits_json (const rpc_limits_t *self)
{
    return json_pack ("{s:I, s:I, s:I, s:I, s:I, s:I}", "frame0_bytes",
                      (json_int_t)self->frame0_max_bytes, "data_bytes",
                      (json_int_t)self->data_max_bytes, "batch_items",
                      (json_int_t)self->batch_max, "json_depth",
                      (json_int_t)self->json_depth_max, "in_flight_per_client",
                      (json_int_t)self->in_flight_per_client, "sessions",
                      (json_int_t)self->sessions_max);
}

json_t *
rpc_response_result (json_t *id, json_t *result)
{
    return json_pack ("{s:s, s:o, s:O}", "jsonrpc", "2.0", "result", result, "id",
                      id ? id : json_null ());
}

json_t *
rpc_response_error (json_t *id, json_t *error)
{
    return json_pack ("{s:s, s:o, s:O}", "jsonrpc", "2.0", "error", error, "id",
                      id ? id : json_null ());
}

size_t
rpc_json_depth (const void *text, size_t size, size_t max)
{
    const unsigned char *p = text;
    size_t depth = 0, deepest = 0;
    bool in_string = false, escaped = false;
    for (size_t i = 0; i < size; i++) {
        unsigned char c = p[i];
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"')
            in_string = true;
        else if (c == '[' || c == '{') {
            if (++depth > deepest)
                deepest = depth;
            if (deepest > max)
                return deepest;
        }
        else if ((c == ']' || c == '}') && depth > 0)
            depth--;
    }
    return deepest;
}

/* A fixed reason for a jansson load error (its text may quote input). */
static const char *
s_parse_reason (const json_error_t *jerr)
{
    switch (json_error_code (jerr)) {
    case json_error_invalid_utf8:
        return "invalid UTF-8";
    case json_error_premature_end_of_input:
        return "premature end of input";
    case json_error_end_of_input_expected:
        return "text after the JSON value";
    case json_error_duplicate_key:
        return "duplicate key in object";
    case json_error_null_byte_in_key:
        return "NUL in object key";
    case json_error_numeric_overflow:
        return "number out of range";
    case json_error_null_character:
        return "NUL character";
    default:
        return "invalid JSON";
    }
}

/* Builds a whole-frame error response with id null. */
static json_t *
s_frame_error (json_t *error)
{
    return error ? rpc_response_error (NULL, error) : NULL;
}

/* Answers call c at once with error (stolen): its response is kept unless
 * c is a notification. */
static void
s_reject (rpc_msg_t *self, s_call_t *c, json_t *error)
{
    assert (c->pending);
    if (!error)
        error = rpc_error_internal (NULL);
    if (c->notification)
        json_decref (error);
    else
        c->response = error ? rpc_response_error (c->id, error) : NULL;
    c->pending = false;
    self->pending--;
}

/* Whether s is the JSON string exactly equal to lit. */
static bool
s_string_is (const json_t *s, const char *lit)
{
    size_t n = strlen (lit);
    return json_is_string (s) && json_string_length (s) == n
           && memcmp (json_string_value (s), lit, n) == 0;
}

/* Validates one request object and fills c (pending on entry). */
static void
s_check_element (rpc_msg_t *self, s_call_t *c, json_t *el, const rpc_limits_t *limits)
{
    if (!json_is_object (el)) {
        s_reject (self, c, rpc_error_invalid_request ("request must be an object"));
        return;
    }
    json_t *id = json_object_get (el, "id");
    if (id && !json_is_string (id) && !json_is_number (id) && !json_is_null (id)) {
        s_reject (self, c,
                  rpc_error_invalid_request ("id must be a string, a number or null"));
        return;
    }
    c->id = id;
    const char *key;
    json_t *value;
    json_object_foreach (el, key, value)
    {
        if (strcmp (key, "jsonrpc") != 0 && strcmp (key, "method") != 0
            && strcmp (key, "params") != 0 && strcmp (key, "id") != 0) {
            s_reject (self, c, rpc_error_invalid_request ("unknown member in request"));
            return;
        }
    }
    if (!s_string_is (json_object_get (el, "jsonrpc"), "2.0")) {
        s_reject (self, c, rpc_error_invalid_request ("jsonrpc must be \"2.0\""));
        return;
    }
    json_t *method = json_object_get (el, "method");
    if (!json_is_string (method)) {
        s_reject (self, c, rpc_error_invalid_request ("method must be a string"));
        return;
    }
    json_t *params = json_object_get (el, "params");
    if (params && !json_is_object (params) && !json_is_array (params)) {
        s_reject (self, c, rpc_error_invalid_request ("params must be an object"));
        return;
    }
    /* From here the envelope is valid: a request without id is a
     * notification and is never answered. */
    c->notification = id == NULL;
    if (json_is_array (params) && !limits->positional_params) {
        s_reject (self, c,
                  rpc_error_invalid_params ("params", "params must be a named object"));
        return;
    }
    if (strlen (json_string_value (method)) != json_string_length (method)) {
        s_reject (self, c, rpc_error_method_not_found ());
        return;
    }
    if (!params) {
        if (json_object_set_new (el, "params", json_object ()) != 0) {
            s_reject (self, c, rpc_error_internal ("out of memory"));
            return;
        }
        params = json_object_get (el, "params");
    }
    c->method = json_string_value (method);
    c->params = params;
}

rpc_msg_t *
rpc_msg_parse (const void *frame0, size_t size, const rpc_limits_t *limits,
               json_t **reply_p)
{
    rpc_limits_t defaults;
    if (!limits) {
        rpc_limits_default (&defaults);
        limits = &defaults;
    }
    *reply_p = NULL;
    if (size > limits->frame0_max_bytes) {
        *reply_p = s_frame_error (rpc_error_limit_exceeded ("frame0_bytes", size));
        return NULL;
    }
    size_t depth = rpc_json_depth (frame0, size, limits->json_depth_max);
    if (depth > limits->json_depth_max) {
        *reply_p = s_frame_error (rpc_error_limit_exceeded ("json_depth", depth));
        return NULL;
    }
    json_error_t jerr;
    json_t *root = json_loadb (
        frame0, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        if (json_error_code (&jerr) == json_error_out_of_memory)
            *reply_p = s_frame_error (rpc_error_internal ("out of memory"));
        else
            *reply_p = s_frame_error (rpc_error_parse (s_parse_reason (&jerr), jerr.line,
                                                       jerr.column, jerr.position));
        return NULL;
    }
    bool batch = json_is_array (root);
    size_t count = batch ? json_array_size (root) : 1;
    json_t *error = NULL;
    if (!batch && !json_is_object (root))
        error = rpc_error_invalid_request ("expected a request object or a batch array");
    else if (batch && count == 0)
        error = rpc_error_invalid_request ("empty batch");
    else if (batch && count > limits->batch_max)
        error = rpc_error_limit_exceeded ("batch_items", count);
    if (error) {
        json_decref (root);
        *reply_p = s_frame_error (error);
        return NULL;
    }
    rpc_msg_t *self = calloc (1, sizeof *self + count * sizeof (s_call_t));
    if (!self) {
        json_decref (root);
        *reply_p = s_frame_error (rpc_error_internal ("out of memory"));
        return NULL;
    }
    self->root = root;
    self->batch = batch;
    self->count = count;
    self->pending = count;
    for (size_t i = 0; i < count; i++) {
        self->calls[i].pending = true;
        s_check_element (self, &self->calls[i], batch ? json_array_get (root, i) : root,
                         limits);
    }
    return self;
}

void
rpc_msg_destroy (rpc_msg_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rpc_msg_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        json_decref (self->calls[i].response);
    json_decref (self->root);
    free (self);
    *self_p = NULL;
}

size_t
rpc_msg_count (const rpc_msg_t *self)
{
    return self->count;
}

bool
rpc_msg_is_batch (const rpc_msg_t *self)
{
    return self->batch;
}

bool
rpc_msg_is_pending (const rpc_msg_t *self, size_t i)
{
    return i < self->count && self->calls[i].pending;
}

size_t
rpc_msg_pending_count (const rpc_msg_t *self)
{
    return self->pending;
}

bool
rpc_msg_is_notification (const rpc_msg_t *self, size_t i)
{
    return i < self->count && self->calls[i].notification;
}

json_t *
rpc_msg_id (const rpc_msg_t *self, size_t i)
{
    return i < self->count && !self->calls[i].notification ? self->calls[i].id : NULL;
}

const char *
rpc_msg_method (const rpc_msg_t *self, size_t i)
{
    return i < self->count ? self->calls[i].method : NULL;
}

json_t *
rpc_msg_params (const rpc_msg_t *self, size_t i)
{
    return i < self->count ? self->calls[i].params : NULL;
}

void
rpc_msg_set_user (rpc_msg_t *self, size_t i, const void *user)
{
    assert (i < self->count);
    self->calls[i].user = user;
}

const void *
rpc_msg_user (const rpc_msg_t *self, size_t i)
{
    return i < self->count ? self->calls[i].user : NULL;
}

/* Stores the response for call i: built from result or error (one of them,
 * stolen). */
static int
s_answer (rpc_msg_t *self, size_t i, json_t *result, json_t *error)
{
    if (i >= self->count || !self->calls[i].pending) {
        json_decref (result);
        json_decref (error);
        return UIS_ERR_STATE;
    }
    s_call_t *c = &self->calls[i];
    if (!c->notification) {
        c->response = result ? rpc_response_result (c->id, result)
                             : rpc_response_error (c->id, error);
        if (!c->response)
            return UIS_ERR_NOMEM;
    }
    else {
        json_decref (result);
        json_decref (error);
    }
    c->pending = false;
    self->pending--;
    return 0;
}

int
rpc_msg_answer (rpc_msg_t *self, size_t i, json_t *result)
{
    if (!result)
        return rpc_msg_fail (self, i, NULL);
    return s_answer (self, i, result, NULL);
}

int
rpc_msg_fail (rpc_msg_t *self, size_t i, json_t *error)
{
    if (!error)
        error = rpc_error_internal (NULL);
    if (!error)
        return UIS_ERR_NOMEM;
    return s_answer (self, i, NULL, error);
}

int
rpc_msg_reply (const rpc_msg_t *self, json_t **reply_p)
{
    *reply_p = NULL;
    if (self->pending > 0)
        return UIS_ERR_STATE;
    if (!self->batch) {
        *reply_p = json_incref (self->calls[0].response);
        return 0;
    }
    json_t *arr = NULL;
    for (size_t i = 0; i < self->count; i++) {
        json_t *r = self->calls[i].response;
        if (!r)
            continue;
        if (!arr && !(arr = json_array ()))
            return UIS_ERR_NOMEM;
        if (json_array_append (arr, r) != 0) {
            json_decref (arr);
            return UIS_ERR_NOMEM;
        }
    }
    *reply_p = arr;
    return 0;
}
