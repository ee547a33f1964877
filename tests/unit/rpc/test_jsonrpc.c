/* test_jsonrpc.c: the JSON-RPC 2.0 core (rpc/jsonrpc.c): every example of
 * the specification's "Examples" section (jsonrpc.org/specification, section
 * 7), compared as parsed JSON; envelope faults; ids kept as received;
 * notifications never answered; batch replies; frame limits.
 * Conformance ids: none directly (API.md transport rules). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto/errors.h"
#include "rpc/errors.h"
#include "rpc/jsonrpc.h"
#include "rpc/methods.h"

/* ------------------------------------------------------------ helpers */

/* Parses JSON text that must be valid. */
static json_t *
s_json (const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads (text, JSON_DECODE_ANY, &jerr);
    if (!v)
        fail_msg ("bad JSON in test: %s: %s", text, jerr.text);
    return v;
}

/* Methods of the specification's examples; params may be positional. */
#define ANY_PARAMS "{'type': ['array', 'object']}"
static const rpc_method_def_t s_spec_defs[] = {
    {"subtract", "a - b", ANY_PARAMS, "number", 0, NULL},
    {"sum", "sum", ANY_PARAMS, "number", 0, NULL},
    {"update", "notification", ANY_PARAMS, "-", 0, NULL},
    {"notify_hello", "notification", ANY_PARAMS, "-", 0, NULL},
    {"notify_sum", "notification", ANY_PARAMS, "-", 0, NULL},
    {"get_data", "data", ANY_PARAMS, "array", 0, NULL},
};

/* The example server: computes the results of the specification's
 * methods for every pending call. */
static void
s_spec_dispatch (rpc_msg_t *msg)
{
    for (size_t i = 0; i < rpc_msg_count (msg); i++) {
        if (!rpc_msg_is_pending (msg, i))
            continue;
        const char *m = rpc_msg_method (msg, i);
        json_t *p = rpc_msg_params (msg, i);
        json_t *result;
        if (strcmp (m, "subtract") == 0) {
            json_int_t a, b;
            if (json_is_array (p)) {
                a = json_integer_value (json_array_get (p, 0));
                b = json_integer_value (json_array_get (p, 1));
            }
            else {
                a = json_integer_value (json_object_get (p, "minuend"));
                b = json_integer_value (json_object_get (p, "subtrahend"));
            }
            result = json_integer (a - b);
        }
        else if (strcmp (m, "sum") == 0) {
            json_int_t s = 0;
            size_t k;
            json_t *v;
            json_array_foreach (p, k, v)
            {
                s += json_integer_value (v);
            }
            result = json_integer (s);
        }
        else if (strcmp (m, "get_data") == 0)
            result = s_json ("[\"hello\", 5]");
        else
            result = json_object ();
        assert_int_equal (rpc_msg_answer (msg, i, result), 0);
    }
}

static rpc_methods_t *s_methods;

/* Group setup: compiles the example methods. */
static int
s_setup (void **state)
{
    (void)state;
    char where[128];
    s_methods = rpc_methods_new (s_spec_defs, sizeof s_spec_defs / sizeof s_spec_defs[0],
                                 where, sizeof where);
    return s_methods ? 0 : -1;
}

/* Group teardown. */
static int
s_teardown (void **state)
{
    (void)state;
    rpc_methods_destroy (&s_methods);
    return 0;
}

/* Runs one request through parse, method check and dispatch; returns the
 * reply (NULL: nothing sent). */
static json_t *
s_run (const char *request, bool positional)
{
    rpc_limits_t limits;
    rpc_limits_default (&limits);
    limits.positional_params = positional;
    json_t *reply = NULL;
    rpc_msg_t *msg = rpc_msg_parse (request, strlen (request), &limits, &reply);
    if (!msg)
        return reply;
    assert_null (reply);
    rpc_methods_check_msg (s_methods, msg, NULL);
    s_spec_dispatch (msg);
    assert_int_equal (rpc_msg_pending_count (msg), 0);
    assert_int_equal (rpc_msg_reply (msg, &reply), 0);
    rpc_msg_destroy (&msg);
    assert_null (msg);
    return reply;
}

/* Checks one response object's error.data.name against its code, then
 * drops error.data (the specification's examples have none). */
static void
s_strip_one (json_t *response)
{
    json_t *error = json_object_get (response, "error");
    if (!error)
        return;
    json_t *data = json_object_get (error, "data");
    assert_non_null (data);
    assert_string_equal (json_string_value (json_object_get (data, "name")),
                         rpc_error_name (rpc_error_code (error)));
    json_object_del (error, "data");
}

/* Asserts that reply equals the expected JSON text (NULL: no reply),
 * comparing parsed values, error.data aside. Frees reply. */
static void
s_expect (json_t *reply, const char *expected)
{
    if (!expected) {
        assert_null (reply);
        return;
    }
    assert_non_null (reply);
    if (json_is_array (reply)) {
        size_t i;
        json_t *r;
        json_array_foreach (reply, i, r)
        {
            s_strip_one (r);
        }
    }
    else
        s_strip_one (reply);
    json_t *want = s_json (expected);
    if (!json_equal (reply, want)) {
        char *got = json_dumps (reply, JSON_ENCODE_ANY);
        fail_msg ("reply %s\nexpected %s", got, expected);
    }
    json_decref (want);
    json_decref (reply);
}

/* The error object of a single reply, with checks on code and id. */
static void
s_expect_error (json_t *reply, int code, const char *id_json, const char *param)
{
    assert_non_null (reply);
    json_t *error = json_object_get (reply, "error");
    assert_non_null (error);
    assert_int_equal (rpc_error_code (error), code);
    assert_string_equal (json_string_value (json_object_get (reply, "jsonrpc")), "2.0");
    json_t *want_id = s_json (id_json);
    assert_true (json_equal (json_object_get (reply, "id"), want_id));
    json_decref (want_id);
    json_t *data = json_object_get (error, "data");
    assert_string_equal (json_string_value (json_object_get (data, "name")),
                         rpc_error_name (code));
    if (param)
        assert_string_equal (json_string_value (json_object_get (data, "param")), param);
    assert_null (json_object_get (reply, "result"));
    json_decref (reply);
}

/* ------------------------------------------- the specification's examples */

static void
test_spec_positional (void **state)
{
    (void)state;
    s_expect (s_run ("{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": [42, "
                     "23], \"id\": 1}",
                     true),
              "{\"jsonrpc\": \"2.0\", \"result\": 19, \"id\": 1}");
    s_expect (s_run ("{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": [23, "
                     "42], \"id\": 2}",
                     true),
              "{\"jsonrpc\": \"2.0\", \"result\": -19, \"id\": 2}");
}

static void
test_spec_named (void **state)
{
    (void)state;
    s_expect (s_run ("{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": "
                     "{\"subtrahend\": 23, \"minuend\": 42}, \"id\": 3}",
                     false),
              "{\"jsonrpc\": \"2.0\", \"result\": 19, \"id\": 3}");
    s_expect (s_run ("{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": "
                     "{\"minuend\": 42, \"subtrahend\": 23}, \"id\": 4}",
                     false),
              "{\"jsonrpc\": \"2.0\", \"result\": 19, \"id\": 4}");
}

static void
test_spec_notification (void **state)
{
    (void)state;
    s_expect (s_run ("{\"jsonrpc\": \"2.0\", \"method\": \"update\", \"params\": "
                     "[1,2,3,4,5]}",
                     true),
              NULL);
    /* A notification of a method that does not exist: still no reply. */
    s_expect (s_run ("{\"jsonrpc\": \"2.0\", \"method\": \"foobar\"}", true), NULL);
}

static void
test_spec_method_not_found (void **state)
{
    (void)state;
    s_expect (
        s_run ("{\"jsonrpc\": \"2.0\", \"method\": \"foobar\", \"id\": \"1\"}", true),
        "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32601, \"message\": \"Method "
        "not found\"}, \"id\": \"1\"}");
}

static void
test_spec_invalid_json (void **state)
{
    (void)state;
    s_expect (s_run ("{\"jsonrpc\": \"2.0\", \"method\": \"foobar, \"params\": \"bar\", "
                     "\"baz]",
                     true),
              "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32700, \"message\": \"Parse "
              "error\"}, \"id\": null}");
}

static void
test_spec_invalid_request (void **state)
{
    (void)state;
    s_expect (s_run ("{\"jsonrpc\": \"2.0\", \"method\": 1, \"params\": \"bar\"}", true),
              "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": "
              "\"Invalid Request\"}, \"id\": null}");
}

static void
test_spec_batch_invalid_json (void **state)
{
    (void)state;
    s_expect (s_run ("[\n  {\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"params\": "
                     "[1,2,4], \"id\": \"1\"},\n  {\"jsonrpc\": \"2.0\", \"method\"\n]",
                     true),
              "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32700, \"message\": \"Parse "
              "error\"}, \"id\": null}");
}

static void
test_spec_batch_empty (void **state)
{
    (void)state;
    s_expect (s_run ("[]", true), "{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, "
                                  "\"message\": \"Invalid Request\"}, \"id\": null}");
}

static void
test_spec_batch_invalid_elements (void **state)
{
    (void)state;
    s_expect (s_run ("[1]", true),
              "[{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, "
              "\"message\": \"Invalid Request\"}, \"id\": null}]");
    s_expect (s_run ("[1,2,3]", true),
              "[{\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": "
              "\"Invalid Request\"}, \"id\": null},"
              " {\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": "
              "\"Invalid Request\"}, \"id\": null},"
              " {\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": "
              "\"Invalid Request\"}, \"id\": null}]");
}

static void
test_spec_batch (void **state)
{
    (void)state;
    s_expect (
        s_run (
            "[\n"
            "  {\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"params\": [1,2,4], \"id\": "
            "\"1\"},\n"
            "  {\"jsonrpc\": \"2.0\", \"method\": \"notify_hello\", \"params\": [7]},\n"
            "  {\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": [42,23], "
            "\"id\": \"2\"},\n"
            "  {\"foo\": \"boo\"},\n"
            "  {\"jsonrpc\": \"2.0\", \"method\": \"foo.get\", \"params\": {\"name\": "
            "\"myself\"}, \"id\": \"5\"},\n"
            "  {\"jsonrpc\": \"2.0\", \"method\": \"get_data\", \"id\": \"9\"}\n"
            "]",
            true),
        "[\n"
        "  {\"jsonrpc\": \"2.0\", \"result\": 7, \"id\": \"1\"},\n"
        "  {\"jsonrpc\": \"2.0\", \"result\": 19, \"id\": \"2\"},\n"
        "  {\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32600, \"message\": \"Invalid "
        "Request\"}, \"id\": null},\n"
        "  {\"jsonrpc\": \"2.0\", \"error\": {\"code\": -32601, \"message\": \"Method "
        "not "
        "found\"}, \"id\": \"5\"},\n"
        "  {\"jsonrpc\": \"2.0\", \"result\": [\"hello\", 5], \"id\": \"9\"}\n"
        "]");
}

static void
test_spec_batch_all_notifications (void **state)
{
    (void)state;
    s_expect (
        s_run ("[\n  {\"jsonrpc\": \"2.0\", \"method\": \"notify_sum\", \"params\": "
               "[1,2,4]},\n  {\"jsonrpc\": \"2.0\", \"method\": \"notify_hello\", "
               "\"params\": [7]}\n]",
               true),
        NULL);
}

/* API.md: params are named. The positional example gets -32602 naming
 * "params", with its id; as a notification it gets nothing. */
static void
test_positional_rejected (void **state)
{
    (void)state;
    s_expect_error (s_run ("{\"jsonrpc\": \"2.0\", \"method\": \"subtract\", \"params\": "
                           "[42, 23], \"id\": 1}",
                           false),
                    RPC_E_INVALID_PARAMS, "1", "params");
    assert_null (
        s_run ("{\"jsonrpc\": \"2.0\", \"method\": \"update\", \"params\": [1]}", false));
}

/* ------------------------------------------------------- ids and envelope */

/* The id comes back as the same JSON value: strings, integers (beyond
 * 2^53 too), reals, null; the very object for a valid request. */
static void
test_id_preserved (void **state)
{
    (void)state;
    static const char *ids[] = {"\"abc\"", "\"\"",    "\"\\u00e9\\ud83d\\ude00\"",
                                "0",       "-5",      "9007199254740993",
                                "1.5",     "1e3",     "-0.25",
                                "null",    "\"null\""};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        char req[256];
        snprintf (req, sizeof req,
                  "{\"jsonrpc\": \"2.0\", \"method\": \"get_data\", \"id\": %s}", ids[i]);
        json_t *reply = NULL;
        rpc_msg_t *msg = rpc_msg_parse (req, strlen (req), NULL, &reply);
        assert_non_null (msg);
        assert_false (rpc_msg_is_notification (msg, 0));
        json_t *id = rpc_msg_id (msg, 0);
        assert_non_null (id);
        assert_int_equal (rpc_msg_answer (msg, 0, json_true ()), 0);
        assert_int_equal (rpc_msg_reply (msg, &reply), 0);
        assert_ptr_equal (json_object_get (reply, "id"), id);
        json_t *want = s_json (ids[i]);
        assert_true (json_equal (json_object_get (reply, "id"), want));
        assert_int_equal (json_typeof (json_object_get (reply, "id")),
                          json_typeof (want));
        json_decref (want);
        json_decref (reply);
        rpc_msg_destroy (&msg);
    }
    /* The big integer survives serialization digit for digit. */
    const char *req = "{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"id\":9007199254740993}";
    json_t *reply = NULL;
    rpc_msg_t *msg = rpc_msg_parse (req, strlen (req), NULL, &reply);
    rpc_msg_answer (msg, 0, json_null ());
    rpc_msg_reply (msg, &reply);
    char *text = json_dumps (reply, JSON_COMPACT);
    assert_non_null (strstr (text, "\"id\":9007199254740993"));
    free (text);
    json_decref (reply);
    rpc_msg_destroy (&msg);
}

/* An id of another type is an invalid request answered with id null. */
static void
test_id_invalid_types (void **state)
{
    (void)state;
    static const char *ids[] = {"{}", "[1]", "true", "false"};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        char req[128];
        snprintf (req, sizeof req,
                  "{\"jsonrpc\": \"2.0\", \"method\": \"x\", \"id\": %s}", ids[i]);
        s_expect_error (s_run (req, false), RPC_E_INVALID_REQUEST, "null", NULL);
    }
}

/* Envelope faults: -32600, with the id echoed when it is itself valid. */
static void
test_envelope_faults (void **state)
{
    (void)state;
    s_expect_error (s_run ("{\"method\": \"sum\", \"id\": 7}", false),
                    RPC_E_INVALID_REQUEST, "7", NULL);
    s_expect_error (
        s_run ("{\"jsonrpc\": \"1.0\", \"method\": \"sum\", \"id\": 7}", false),
        RPC_E_INVALID_REQUEST, "7", NULL);
    s_expect_error (
        s_run ("{\"jsonrpc\": 2.0, \"method\": \"sum\", \"id\": \"a\"}", false),
        RPC_E_INVALID_REQUEST, "\"a\"", NULL);
    s_expect_error (
        s_run ("{\"jsonrpc\": \"2.0 \", \"method\": \"sum\", \"id\": 7}", false),
        RPC_E_INVALID_REQUEST, "7", NULL);
    s_expect_error (s_run ("{\"jsonrpc\": \"2.0\", \"id\": 7}", false),
                    RPC_E_INVALID_REQUEST, "7", NULL);
    s_expect_error (s_run ("{\"jsonrpc\": \"2.0\", \"method\": null, \"id\": 7}", false),
                    RPC_E_INVALID_REQUEST, "7", NULL);
    s_expect_error (
        s_run ("{\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"params\": 3, \"id\": 7}",
               false),
        RPC_E_INVALID_REQUEST, "7", NULL);
    s_expect_error (
        s_run ("{\"jsonrpc\": \"2.0\", \"method\": \"sum\", \"parms\": {}, \"id\": 7}",
               false),
        RPC_E_INVALID_REQUEST, "7", NULL);
    /* Without an id it is still answered (specification example). */
    s_expect_error (s_run ("{\"jsonrpc\": \"2.0\", \"method\": 5}", false),
                    RPC_E_INVALID_REQUEST, "null", NULL);
    /* Top level neither object nor array. */
    static const char *tops[] = {"\"x\"", "42", "null", "true"};
    for (size_t i = 0; i < sizeof tops / sizeof tops[0]; i++)
        s_expect_error (s_run (tops[i], false), RPC_E_INVALID_REQUEST, "null", NULL);
    /* A method name with NUL cannot exist. */
    s_expect_error (
        s_run ("{\"jsonrpc\": \"2.0\", \"method\": \"sum\\u0000x\", \"id\": 1}", false),
        RPC_E_METHOD_NOT_FOUND, "1", NULL);
}

/* Parse errors: -32700, id null, fixed reasons that never quote input. */
static void
test_parse_errors (void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t len;
        const char *reason;
    } cases[] = {
        {"", 0, "premature end of input"},
        {"{\"jsonrpc\": \"2.0\"", 17, "premature end of input"},
        {"{} x", 4, "text after the JSON value"},
        {"{\"a\": 1, \"a\": 2}", 16, "duplicate key in object"},
        {"{\"a\": \"\xff\"}", 10, "invalid UTF-8"},
        {"{\"a\": \"\xc0\xaf\"}", 11, "invalid UTF-8"},
        {"{\"a\": \"\xed\xa0\x80\"}", 12, "invalid UTF-8"},
        {"{\"a\": \"\\ud800\"}", 15, "invalid JSON"},
        {"{\"a\": 1}\0", 9, "text after the JSON value"},
        {"{\"secret\": \"hunter2\\q\"}", 23, "invalid JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *reply = NULL;
        assert_null (rpc_msg_parse (cases[i].text, cases[i].len, NULL, &reply));
        json_t *error = json_object_get (reply, "error");
        assert_int_equal (rpc_error_code (error), RPC_E_PARSE_ERROR);
        assert_true (json_is_null (json_object_get (reply, "id")));
        json_t *data = json_object_get (error, "data");
        assert_string_equal (json_string_value (json_object_get (data, "reason")),
                             cases[i].reason);
        char *text = json_dumps (reply, 0);
        assert_null (strstr (text, "hunter2"));
        free (text);
        json_decref (reply);
    }
}

/* ------------------------------------------------------ answers and replies */

/* A batch reply keeps request order whatever the answer order; answering
 * twice or out of range is refused; the reply waits for every call. */
static void
test_batch_order_and_state (void **state)
{
    (void)state;
    const char *req = "[{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":1},"
                      "{\"jsonrpc\":\"2.0\",\"method\":\"b\"},"
                      "{\"jsonrpc\":\"2.0\",\"method\":\"c\",\"id\":3}]";
    json_t *reply = NULL;
    rpc_msg_t *msg = rpc_msg_parse (req, strlen (req), NULL, &reply);
    assert_non_null (msg);
    assert_true (rpc_msg_is_batch (msg));
    assert_int_equal (rpc_msg_count (msg), 3);
    assert_int_equal (rpc_msg_pending_count (msg), 3);
    assert_true (rpc_msg_is_notification (msg, 1));
    assert_null (rpc_msg_id (msg, 1));
    assert_string_equal (rpc_msg_method (msg, 2), "c");
    assert_true (json_is_object (rpc_msg_params (msg, 0)));
    assert_int_equal (json_object_size (rpc_msg_params (msg, 0)), 0);
    assert_int_equal (rpc_msg_reply (msg, &reply), UIS_ERR_STATE);
    assert_null (reply);
    assert_int_equal (rpc_msg_answer (msg, 2, json_integer (30)), 0);
    assert_int_equal (rpc_msg_answer (msg, 2, json_integer (31)), UIS_ERR_STATE);
    assert_int_equal (rpc_msg_answer (msg, 9, json_integer (31)), UIS_ERR_STATE);
    assert_int_equal (rpc_msg_answer (msg, 1, json_integer (20)), 0);
    assert_int_equal (rpc_msg_fail (msg, 0, rpc_error_cancelled ()), 0);
    assert_int_equal (rpc_msg_pending_count (msg), 0);
    assert_int_equal (rpc_msg_reply (msg, &reply), 0);
    s_expect (reply,
              "[{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32012,\"message\":"
              "\"Cancelled\"},\"id\":1},{\"jsonrpc\":\"2.0\",\"result\":30,\"id\":3}]");
    rpc_msg_destroy (&msg);
    rpc_msg_destroy (&msg); /* NULL-safe */
}

/* A single notification is answered by nothing; a NULL error becomes an
 * internal error. */
static void
test_single_replies (void **state)
{
    (void)state;
    const char *note = "{\"jsonrpc\":\"2.0\",\"method\":\"a\"}";
    json_t *reply = NULL;
    rpc_msg_t *msg = rpc_msg_parse (note, strlen (note), NULL, &reply);
    assert_false (rpc_msg_is_batch (msg));
    assert_true (rpc_msg_is_notification (msg, 0));
    assert_int_equal (rpc_msg_answer (msg, 0, json_integer (1)), 0);
    assert_int_equal (rpc_msg_reply (msg, &reply), 0);
    assert_null (reply);
    rpc_msg_destroy (&msg);

    const char *req = "{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":\"q\"}";
    msg = rpc_msg_parse (req, strlen (req), NULL, &reply);
    assert_int_equal (rpc_msg_fail (msg, 0, NULL), 0);
    assert_int_equal (rpc_msg_reply (msg, &reply), 0);
    s_expect (reply, "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32603,\"message\":"
                     "\"Internal error\"},\"id\":\"q\"}");
    rpc_msg_destroy (&msg);
}

/* ------------------------------------------------------------- limits */

/* LIMIT_EXCEEDED reply with id null naming the limit and the value. */
static void
s_expect_limit (json_t *reply, const char *limit, json_int_t value)
{
    json_t *error = json_object_get (reply, "error");
    assert_int_equal (rpc_error_code (error), RPC_E_LIMIT_EXCEEDED);
    assert_true (json_is_null (json_object_get (reply, "id")));
    json_t *data = json_object_get (error, "data");
    assert_string_equal (json_string_value (json_object_get (data, "name")),
                         "LIMIT_EXCEEDED");
    assert_string_equal (json_string_value (json_object_get (data, "limit")), limit);
    assert_int_equal (json_integer_value (json_object_get (data, "value")), value);
    json_decref (reply);
}

static void
test_limit_frame0 (void **state)
{
    (void)state;
    rpc_limits_t limits;
    rpc_limits_default (&limits);
    assert_int_equal (limits.frame0_max_bytes, 1048576);
    assert_int_equal (limits.data_max_bytes, 67108864);
    assert_int_equal (limits.in_flight_per_client, 256);
    assert_int_equal (limits.sessions_max, 1024);
    assert_int_equal (limits.batch_max, 256);
    assert_int_equal (limits.json_depth_max, 32);
    assert_false (limits.positional_params);
    /* A request padded with spaces to exactly the limit passes, one more
     * byte does not. */
    size_t max = limits.frame0_max_bytes;
    char *buf = malloc (max + 1);
    const char *req = "{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":1}";
    memset (buf, ' ', max + 1);
    memcpy (buf, req, strlen (req));
    json_t *reply = NULL;
    rpc_msg_t *msg = rpc_msg_parse (buf, max, &limits, &reply);
    assert_non_null (msg);
    rpc_msg_destroy (&msg);
    assert_null (rpc_msg_parse (buf, max + 1, &limits, &reply));
    s_expect_limit (reply, "frame0_bytes", (json_int_t)max + 1);
    free (buf);
    /* Configurable. */
    limits.frame0_max_bytes = 10;
    assert_null (rpc_msg_parse (req, strlen (req), &limits, &reply));
    s_expect_limit (reply, "frame0_bytes", (json_int_t)strlen (req));
    json_t *lj = rpc_limits_json (&limits);
    assert_int_equal (json_integer_value (json_object_get (lj, "frame0_bytes")), 10);
    assert_int_equal (json_integer_value (json_object_get (lj, "sessions")), 1024);
    assert_int_equal (json_object_size (lj), 6);
    json_decref (lj);
}

static void
test_limit_depth (void **state)
{
    (void)state;
    /* Brackets inside strings (escaped quotes too) do not count. */
    const char *s = "{\"a\": \"[[[{{{\\\"[[[\", \"b\": [[1]]}";
    assert_int_equal (rpc_json_depth (s, strlen (s), 32), 3);
    char buf[200];
    rpc_limits_t limits;
    rpc_limits_default (&limits);
    /* params nested to depth 32 in total parses; 33 is refused. */
    for (int depth = 32; depth <= 33; depth++) {
        int n = snprintf (buf, sizeof buf,
                          "{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":1,"
                          "\"params\":{\"x\":");
        for (int i = 0; i < depth - 2; i++)
            buf[n++] = '[';
        for (int i = 0; i < depth - 2; i++)
            buf[n++] = ']';
        buf[n++] = '}';
        buf[n++] = '}';
        json_t *reply = NULL;
        rpc_msg_t *msg = rpc_msg_parse (buf, (size_t)n, &limits, &reply);
        if (depth == 32) {
            assert_non_null (msg);
            rpc_msg_destroy (&msg);
        }
        else {
            assert_null (msg);
            s_expect_limit (reply, "json_depth", 33);
        }
    }
    /* Deep nesting far beyond jansson's own limit is refused early. */
    size_t deep = 100000;
    char *big = malloc (deep);
    memset (big, '[', deep);
    json_t *reply = NULL;
    assert_null (rpc_msg_parse (big, deep, &limits, &reply));
    s_expect_limit (reply, "json_depth", 33);
    free (big);
}

static void
test_limit_batch (void **state)
{
    (void)state;
    rpc_limits_t limits;
    rpc_limits_default (&limits);
    const char *el = "{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":1},";
    size_t cap = 258 * strlen (el) + 4;
    char *buf = malloc (cap);
    for (size_t count = 256; count <= 257; count++) {
        size_t n = 0;
        buf[n++] = '[';
        for (size_t i = 0; i < count; i++) {
            memcpy (buf + n, el, strlen (el));
            n += strlen (el);
        }
        buf[n - 1] = ']';
        json_t *reply = NULL;
        rpc_msg_t *msg = rpc_msg_parse (buf, n, &limits, &reply);
        if (count == 256) {
            assert_non_null (msg);
            assert_int_equal (rpc_msg_count (msg), 256);
            rpc_msg_destroy (&msg);
        }
        else {
            assert_null (msg);
            s_expect_limit (reply, "batch_items", 257);
        }
    }
    free (buf);
}

/* Response builders and the user slot. */
static void
test_builders (void **state)
{
    (void)state;
    json_t *id = json_string ("x");
    s_expect (rpc_response_result (id, json_integer (4)),
              "{\"jsonrpc\":\"2.0\",\"result\":4,\"id\":\"x\"}");
    s_expect (rpc_response_result (NULL, json_object ()),
              "{\"jsonrpc\":\"2.0\",\"result\":{},\"id\":null}");
    s_expect (rpc_response_error (id, rpc_error_method_not_found ()),
              "{\"jsonrpc\":\"2.0\",\"error\":{\"code\":-32601,\"message\":\"Method not "
              "found\"},\"id\":\"x\"}");
    assert_int_equal (id->refcount, 1);
    json_decref (id);
    const char *req = "{\"jsonrpc\":\"2.0\",\"method\":\"a\",\"id\":1}";
    json_t *reply = NULL;
    rpc_msg_t *msg = rpc_msg_parse (req, strlen (req), NULL, &reply);
    int marker;
    assert_null (rpc_msg_user (msg, 0));
    rpc_msg_set_user (msg, 0, &marker);
    assert_ptr_equal (rpc_msg_user (msg, 0), &marker);
    assert_null (rpc_msg_user (msg, 5));
    assert_null (rpc_msg_method (msg, 5));
    assert_false (rpc_msg_is_pending (msg, 5));
    rpc_msg_destroy (&msg);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_spec_positional),
        cmocka_unit_test (test_spec_named),
        cmocka_unit_test (test_spec_notification),
        cmocka_unit_test (test_spec_method_not_found),
        cmocka_unit_test (test_spec_invalid_json),
        cmocka_unit_test (test_spec_invalid_request),
        cmocka_unit_test (test_spec_batch_invalid_json),
        cmocka_unit_test (test_spec_batch_empty),
        cmocka_unit_test (test_spec_batch_invalid_elements),
        cmocka_unit_test (test_spec_batch),
        cmocka_unit_test (test_spec_batch_all_notifications),
        cmocka_unit_test (test_positional_rejected),
        cmocka_unit_test (test_id_preserved),
        cmocka_unit_test (test_id_invalid_types),
        cmocka_unit_test (test_envelope_faults),
        cmocka_unit_test (test_parse_errors),
        cmocka_unit_test (test_batch_order_and_state),
        cmocka_unit_test (test_single_replies),
        cmocka_unit_test (test_limit_frame0),
        cmocka_unit_test (test_limit_depth),
        cmocka_unit_test (test_limit_batch),
        cmocka_unit_test (test_builders),
    };
    return cmocka_run_group_tests_name ("rpc_jsonrpc", tests, s_setup, s_teardown);
}
