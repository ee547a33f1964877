/* test_errors.c: the RPC error table and builders (rpc/errors.c): codes and
 * stable names of API.md, data.name on every error, each builder's data
 * fields exactly as the table documents them, the proto/ mapping.
 * Conformance ids: none (API.md "Errors"). */
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

/* The codes and names of API.md. */
static void
test_table (void **state)
{
    (void)state;
    static const struct {
        int code;
        const char *name;
    } api[] = {
        {-32700, "PARSE_ERROR"},      {-32600, "INVALID_REQUEST"},
        {-32601, "METHOD_NOT_FOUND"}, {-32602, "INVALID_PARAMS"},
        {-32603, "INTERNAL_ERROR"},   {-32001, "SESSION_NOT_FOUND"},
        {-32002, "TRANSPORT_ERROR"},  {-32003, "LOGIN_FAILED"},
        {-32004, "AUTH_FAILED"},      {-32005, "SCSI_CHECK_CONDITION"},
        {-32006, "SCSI_STATUS"},      {-32007, "TIMEOUT"},
        {-32008, "TMF_FAILED"},       {-32009, "SESSION_RECOVERING"},
        {-32010, "SESSION_FAILED"},   {-32011, "LIMIT_EXCEEDED"},
        {-32012, "CANCELLED"},        {-32013, "NOT_RETRIABLE"},
        {-32014, "PROTOCOL_ERROR"},
    };
    size_t n = sizeof api / sizeof api[0];
    assert_int_equal (rpc_error_count (), n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal (rpc_error_code_at (i), api[i].code);
        assert_string_equal (rpc_error_name (api[i].code), api[i].name);
        assert_int_equal (rpc_error_code_of (api[i].name), api[i].code);
        assert_non_null (rpc_error_message (api[i].code));
        assert_non_null (rpc_error_fields (api[i].code));
    }
    assert_string_equal (rpc_error_message (RPC_E_METHOD_NOT_FOUND), "Method not found");
    assert_string_equal (rpc_error_message (RPC_E_INVALID_REQUEST), "Invalid Request");
    assert_null (rpc_error_name (-32099));
    assert_null (rpc_error_message (0));
    assert_int_equal (rpc_error_code_of ("NOPE"), 0);
    assert_int_equal (rpc_error_code_of (NULL), 0);
    assert_int_equal (rpc_error_code_at (n), 0);
}

/* Asserts err has code, its message, data.name and exactly the data
 * fields the table lists; frees err. */
static void
s_check (json_t *err, int code)
{
    assert_non_null (err);
    assert_int_equal (rpc_error_code (err), code);
    assert_string_equal (json_string_value (json_object_get (err, "message")),
                         rpc_error_message (code));
    assert_int_equal (json_object_size (err), 3);
    json_t *data = json_object_get (err, "data");
    assert_string_equal (json_string_value (json_object_get (data, "name")),
                         rpc_error_name (code));
    /* "name" comes first. */
    assert_string_equal (json_object_iter_key (json_object_iter (data)), "name");
    char fields[256];
    snprintf (fields, sizeof fields, "%s", rpc_error_fields (code));
    size_t listed = 0;
    for (char *save = NULL, *f = strtok_r (fields, ", ", &save); f;
         f = strtok_r (NULL, ", ", &save)) {
        if (!json_object_get (data, f))
            fail_msg ("%s: data.%s missing", rpc_error_name (code), f);
        listed++;
    }
    assert_int_equal (json_object_size (data), listed + 1);
    json_decref (err);
}

/* Every builder yields the documented fields. */
static void
test_builders_fields (void **state)
{
    (void)state;
    static const uint8_t sense[] = {0x70, 0x00, 0x05, 0x00};
    rpc_sense_fields_t f = {.status = 2,
                            .sense_key = 5,
                            .sense_key_name = "ILLEGAL_REQUEST",
                            .asc = 0x24,
                            .ascq = 0,
                            .description = "invalid field in cdb",
                            .information_valid = true,
                            .information = 7,
                            .sense = sense,
                            .sense_len = sizeof sense};
    s_check (rpc_error_parse ("invalid JSON", 1, 2, 3), RPC_E_PARSE_ERROR);
    s_check (rpc_error_invalid_request ("r"), RPC_E_INVALID_REQUEST);
    s_check (rpc_error_method_not_found (), RPC_E_METHOD_NOT_FOUND);
    s_check (rpc_error_invalid_params ("params.x", "r"), RPC_E_INVALID_PARAMS);
    s_check (rpc_error_internal ("r"), RPC_E_INTERNAL_ERROR);
    s_check (rpc_error_session_not_found ("s1"), RPC_E_SESSION_NOT_FOUND);
    s_check (rpc_error_transport ("connect", 111, "Connection refused"),
             RPC_E_TRANSPORT_ERROR);
    s_check (rpc_error_login_failed (2, 3, "TARGET_NOT_FOUND"), RPC_E_LOGIN_FAILED);
    s_check (rpc_error_auth_failed (2, 1, "target"), RPC_E_AUTH_FAILED);
    s_check (rpc_error_check_condition (&f), RPC_E_SCSI_CHECK_CONDITION);
    s_check (rpc_error_scsi_status (8, "BUSY"), RPC_E_SCSI_STATUS);
    s_check (rpc_error_timeout (30000, true), RPC_E_TIMEOUT);
    s_check (rpc_error_tmf_failed (5, "FUNCTION_REJECTED"), RPC_E_TMF_FAILED);
    s_check (rpc_error_session_recovering ("reconnecting", 250),
             RPC_E_SESSION_RECOVERING);
    s_check (rpc_error_session_failed ("reconnect failed"), RPC_E_SESSION_FAILED);
    s_check (rpc_error_limit_exceeded ("sessions", 1025), RPC_E_LIMIT_EXCEEDED);
    s_check (rpc_error_cancelled (), RPC_E_CANCELLED);
    s_check (rpc_error_not_retriable ("write in flight"), RPC_E_NOT_RETRIABLE);
    s_check (rpc_error_protocol ("bad opcode"), RPC_E_PROTOCOL_ERROR);
}

/* Exact values of the richer builders. */
static void
test_builders_values (void **state)
{
    (void)state;
    static const uint8_t sense[] = {0x72, 0x0e, 0x1d, 0x00};
    rpc_sense_fields_t f = {.status = 2,
                            .sense_key = 14,
                            .sense_key_name = "MISCOMPARE",
                            .asc = 0x1d,
                            .ascq = 0,
                            .description = NULL,
                            .information_valid = true,
                            .information = UINT64_MAX,
                            .sense = sense,
                            .sense_len = sizeof sense};
    json_t *err = rpc_error_check_condition (&f);
    json_t *want = json_loads (
        "{\"code\": -32005, \"message\": \"SCSI check condition\", \"data\": {\"name\": "
        "\"SCSI_CHECK_CONDITION\", \"status\": 2, \"sense_key\": 14, \"sense_key_name\": "
        "\"MISCOMPARE\", \"asc\": 29, \"ascq\": 0, \"description\": null, "
        "\"information\": "
        "\"0xffffffffffffffff\", \"sense\": \"720e1d00\"}}",
        0, NULL);
    assert_true (json_equal (err, want));
    json_decref (want);
    json_decref (err);
    f.information_valid = false;
    err = rpc_error_check_condition (&f);
    assert_true (
        json_is_null (json_object_get (json_object_get (err, "data"), "information")));
    json_decref (err);
    err = rpc_error_session_recovering ("reconnecting", -1);
    assert_null (json_object_get (json_object_get (err, "data"), "retry_after_ms"));
    json_decref (err);
    err = rpc_error_timeout (1500, false);
    want =
        json_loads ("{\"code\": -32007, \"message\": \"Timeout\", \"data\": {\"name\": "
                    "\"TIMEOUT\", \"timeout_ms\": 1500, \"aborted\": false}}",
                    0, NULL);
    assert_true (json_equal (err, want));
    json_decref (want);
    json_decref (err);
    /* A code outside the table: generic message, no name. */
    err = rpc_error_new (-32099, json_pack ("{s:i}", "x", 1));
    assert_string_equal (json_string_value (json_object_get (err, "message")),
                         "Server error");
    assert_null (json_object_get (json_object_get (err, "data"), "name"));
    json_decref (err);
    /* The name cannot be overridden by the data. */
    err = rpc_error_new (RPC_E_CANCELLED, json_pack ("{s:s}", "name", "OTHER"));
    assert_string_equal (
        json_string_value (json_object_get (json_object_get (err, "data"), "name")),
        "CANCELLED");
    json_decref (err);
    assert_int_equal (rpc_error_code (NULL), 0);
}

/* proto/ codes: protocol faults become PROTOCOL_ERROR, others internal. */
static void
test_from_uis (void **state)
{
    (void)state;
    json_t *err = rpc_error_from_uis (UIS_ERR_HEADER_DIGEST);
    assert_int_equal (rpc_error_code (err), RPC_E_PROTOCOL_ERROR);
    assert_string_equal (
        json_string_value (json_object_get (json_object_get (err, "data"), "detail")),
        "header_digest");
    json_decref (err);
    err = rpc_error_from_uis (UIS_ERR_NOMEM);
    assert_int_equal (rpc_error_code (err), RPC_E_INTERNAL_ERROR);
    assert_string_equal (
        json_string_value (json_object_get (json_object_get (err, "data"), "reason")),
        "nomem");
    json_decref (err);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_table),
        cmocka_unit_test (test_builders_fields),
        cmocka_unit_test (test_builders_values),
        cmocka_unit_test (test_from_uis),
    };
    return cmocka_run_group_tests_name ("rpc_errors", tests, NULL, NULL);
}
