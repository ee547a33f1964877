/* test_schema.c: the params schema subset (rpc/schema.c): every keyword,
 * error paths and reasons, the C formats (lun, u64, hex, portal,
 * digest_list, text, path, data, auth), x-limit, defaults, the schema
 * self-check, portal splitting.
 * Conformance ids: R3 (LUN forms: test_format_lun), R4 (CDB hex length:
 * test_format_hex). */
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
#include "rpc/schema.h"

/* Parses a schema that must be valid (' for "). */
static json_t *
s_schema (const char *text)
{
    char where[160] = "";
    json_t *s = rpc_schema_parse (text, where, sizeof where);
    if (!s)
        fail_msg ("schema rejected: %s", where);
    return s;
}

/* Validates JSON text against schema text; returns the error or NULL. */
static json_t *
s_check (const char *schema_text, const char *value_text)
{
    json_t *schema = s_schema (schema_text);
    json_t *value = json_loads (value_text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    assert_non_null (value);
    json_t *err = rpc_schema_validate (schema, value, "params", NULL);
    json_decref (value);
    json_decref (schema);
    return err;
}

/* Asserts that validation passes. */
static void
s_ok (const char *schema_text, const char *value_text)
{
    json_t *err = s_check (schema_text, value_text);
    if (err) {
        char *t = json_dumps (err, 0);
        fail_msg ("%s rejected: %s", value_text, t);
    }
}

/* Asserts INVALID_PARAMS with exactly this param path and reason. */
static void
s_bad (const char *schema_text, const char *value_text, const char *param,
       const char *reason)
{
    json_t *err = s_check (schema_text, value_text);
    if (!err)
        fail_msg ("%s accepted", value_text);
    assert_int_equal (rpc_error_code (err), RPC_E_INVALID_PARAMS);
    assert_string_equal (json_string_value (json_object_get (err, "message")),
                         "Invalid params");
    json_t *data = json_object_get (err, "data");
    assert_string_equal (json_string_value (json_object_get (data, "name")),
                         "INVALID_PARAMS");
    assert_string_equal (json_string_value (json_object_get (data, "param")), param);
    if (reason)
        assert_string_equal (json_string_value (json_object_get (data, "reason")),
                             reason);
    json_decref (err);
}

#define NESTED                                                                           \
    "{'type': 'object', 'additionalProperties': false, 'required': ['a'], "              \
    "'properties': {'a': {'type': 'integer', 'minimum': 0, 'maximum': 10}, "             \
    "'recovery': {'type': 'object', 'additionalProperties': false, 'properties': "       \
    "{'backoff_ms': {'type': 'integer', 'minimum': 0}}}, "                               \
    "'ranges': {'type': 'array', 'maxItems': 3, 'items': {'type': 'object', "            \
    "'required': ['lba'], 'properties': {'lba': {'type': 'integer', 'minimum': 0}}}}}}"

/* Error paths name nested params and array items. */
static void
test_paths (void **state)
{
    (void)state;
    s_ok (NESTED,
          "{\"a\": 0, \"recovery\": {\"backoff_ms\": 5}, \"ranges\": [{\"lba\": 1}]}");
    s_bad (NESTED, "{\"a\": 1, \"recovery\": {\"backoff_ms\": -1}}",
           "params.recovery.backoff_ms", "expected integer >= 0");
    s_bad (NESTED, "{\"a\": 1, \"recovery\": {\"backoff_ms\": \"5\"}}",
           "params.recovery.backoff_ms", "expected integer");
    s_bad (NESTED, "{\"a\": 1, \"ranges\": [{\"lba\": 1}, {\"lba\": -2}]}",
           "params.ranges[1].lba", "expected integer >= 0");
    s_bad (NESTED, "{\"a\": 1, \"ranges\": [{\"lba\": 1}, {}]}", "params.ranges[1].lba",
           "required param missing");
    s_bad (NESTED, "{\"a\": 1, \"ranges\": [{}, {}, {}, {}]}", "params.ranges",
           "expected at most 3 items");
    s_bad (NESTED, "{}", "params.a", "required param missing");
    s_bad (NESTED, "{\"a\": 11}", "params.a", "expected integer <= 10");
    s_bad (NESTED, "{\"a\": 1.0}", "params.a", "expected integer");
    s_bad (NESTED, "[]", "params", "expected object");
    /* Unknown keys are reported before missing ones, nested ones too. */
    s_bad (NESTED, "{\"aa\": 1}", "params.aa", "unknown param");
    s_bad (NESTED, "{\"a\": 1, \"recovery\": {\"backof_ms\": 1}}",
           "params.recovery.backof_ms", "unknown param");
}

/* A caller's long key is cut in the path, on a character boundary. */
static void
test_long_key_in_path (void **state)
{
    (void)state;
    char value[400];
    /* 47 ASCII bytes, then a 2-byte character straddling byte 48. */
    snprintf (value, sizeof value, "{\"a\": 1, \"%s\\u00e9%s\": 1}",
              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "yyyyyyyyyyyyyyyyyyyy");
    s_bad (NESTED, value, "params.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...",
           "unknown param");
}

/* type unions, number, boolean, null, enum, strings in bytes, NUL. */
static void
test_types_enum_strings (void **state)
{
    (void)state;
    const char *u = "{'type': ['integer', 'string']}";
    s_ok (u, "5");
    s_ok (u, "\"5\"");
    s_bad (u, "true", "params", "expected integer or string");
    const char *num = "{'type': 'number', 'minimum': 1, 'maximum': 2}";
    s_ok (num, "1.5");
    s_ok (num, "2");
    s_bad (num, "2.5", "params", "expected number <= 2");
    s_bad (num, "0.5", "params", "expected number >= 1");
    s_ok ("{'type': 'boolean'}", "false");
    s_bad ("{'type': 'boolean'}", "0", "params", "expected boolean");
    s_ok ("{'type': 'null'}", "null");
    const char *e = "{'type': 'string', 'enum': ['little', 'big']}";
    s_ok (e, "\"big\"");
    s_bad (e, "\"Big\"", "params", "expected one of: \"little\", \"big\"");
    s_bad ("{'enum': [6, 10]}", "8", "params", "expected one of: 6, 10");
    const char *len = "{'type': 'string', 'minLength': 2, 'maxLength': 4}";
    s_ok (len, "\"ab\"");
    s_ok (len, "\"\\u00e9\\u00e9\""); /* 2 characters, 4 bytes */
    s_bad (len, "\"\\u00e9\\u00e9a\"", "params", "expected at most 4 bytes");
    s_bad (len, "\"a\"", "params", "expected at least 2 bytes");
    s_bad (len, "\"a\\u0000\"", "params", "NUL characters are not allowed");
    const char *arr =
        "{'type': 'array', 'minItems': 1, 'maxItems': 3, 'uniqueItems': true}";
    s_ok (arr, "[1, \"1\", [1]]");
    s_bad (arr, "[]", "params", "expected at least 1 items");
    s_bad (arr, "[1, 2, 1]", "params[2]", "duplicate item");
}

/* R3: a LUN is an integer in range or "0x" and 1..16 hex digits. */
static void
test_format_lun (void **state)
{
    (void)state;
    const char *lun = "{'type': ['integer', 'string'], 'minimum': 0, 'maximum': 16383, "
                      "'format': 'lun'}";
    s_ok (lun, "0");
    s_ok (lun, "16383");
    s_ok (lun, "\"0x0001000000000000\"");
    s_ok (lun, "\"0X4001\"");
    s_ok (lun, "\"0xffffffffffffffff\"");
    s_bad (lun, "16384", "params", "expected integer <= 16383");
    s_bad (lun, "65536", "params", "expected integer <= 16383");
    s_bad (lun, "-1", "params", "expected integer >= 0");
    static const char *bad[] = {"\"0x\"",   "\"12\"",  "\"0x12345678901234567\"",
                                "\"0xzz\"", "\"x12\"", "\"0x 1\"",
                                "\"\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        s_bad (lun, bad[i], "params",
               "expected an integer, or 0x and 1 to 16 hex digits");
    uint64_t v = 0;
    json_t *j = json_string ("0x0001000000000000");
    assert_int_equal (rpc_param_u64 (j, &v), 0);
    assert_int_equal (v, 0x0001000000000000ull);
    json_decref (j);
    j = json_integer (77);
    assert_int_equal (rpc_param_u64 (j, &v), 0);
    assert_int_equal (v, 77);
    json_decref (j);
    j = json_integer (-1);
    assert_int_equal (rpc_param_u64 (j, &v), UIS_ERR_MALFORMED);
    json_decref (j);
    j = json_string ("0x");
    assert_int_equal (rpc_param_u64 (j, &v), UIS_ERR_MALFORMED);
    json_decref (j);
}

/* R4: a CDB is an even number of hex digits; 32 and 260 bytes pass. */
static void
test_format_hex (void **state)
{
    (void)state;
    const char *cdb =
        "{'type': 'string', 'minLength': 2, 'maxLength': 520, 'format': 'hex'}";
    char text[600];
    for (size_t bytes = 1; bytes <= 261; bytes += 1) {
        if (bytes != 1 && bytes != 16 && bytes != 32 && bytes != 260 && bytes != 261)
            continue;
        text[0] = '"';
        for (size_t i = 0; i < bytes * 2; i++)
            text[1 + i] = "0123456789abcDEF"[i % 16];
        text[1 + bytes * 2] = '"';
        text[2 + bytes * 2] = '\0';
        if (bytes <= 260)
            s_ok (cdb, text);
        else
            s_bad (cdb, text, "params", "expected at most 520 bytes");
    }
    s_bad (cdb, "\"123\"", "params", "expected hex digits, an even number of them");
    s_bad (cdb, "\"12g4\"", "params", "expected hex digits, an even number of them");
    s_bad (cdb, "\"0x12\"", "params", "expected hex digits, an even number of them");
    s_bad (cdb, "\"\"", "params", "expected at least 2 bytes");
}

/* Portals are checked by proto/portal.c: host[:port], IPv6 only in
 * brackets, port 1..65535. */
static void
test_format_portal (void **state)
{
    (void)state;
    const char *ps = "{'type': 'string', 'format': 'portal'}";
    static const char *good[] = {"\"10.0.0.1\"", "\"10.0.0.1:3261\"",
                                 "\"target.example.com:1\"", "\"[::1]\"",
                                 "\"[fe80::1%eth0]:65535\""};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        s_ok (ps, good[i]);
    static const char *bad[] = {
        "\"\"",       "\"::1\"",         "\"fe80::1:3260\"", "\"[::1\"",
        "\"[::1]x\"", "\"host:0\"",      "\"host:65536\"",   "\"host:\"",
        "\"ho st\"",  "\"host\\u0000\"", "\"300.1.1.1\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *err = s_check (ps, bad[i]);
        if (!err)
            fail_msg ("%s accepted", bad[i]);
        assert_int_equal (rpc_error_code (err), RPC_E_INVALID_PARAMS);
        json_decref (err);
    }
    s_bad (ps, "\"::1\"", "params",
           "expected host[:port], IPv6 in brackets, port 1..65535");
}

/* Digest lists, text and path formats. */
static void
test_format_misc (void **state)
{
    (void)state;
    const char *d = "{'type': 'string', 'format': 'digest_list'}";
    static const char *good[] = {"\"CRC32C\"", "\"None\"", "\"CRC32C,None\"",
                                 "\"None,CRC32C\""};
    for (size_t i = 0; i < 4; i++)
        s_ok (d, good[i]);
    static const char *bad[] = {
        "\"crc32c\"", "\"CRC32C,CRC32C\"", "\",None\"", "\"None,\"",
        "\"\"",       "\"CRC32C, None\"",  "\"MD5\""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        s_bad (d, bad[i], "params", "expected CRC32C, None, or both comma-separated");
    const char *t = "{'type': 'string', 'format': 'text'}";
    s_ok (t, "\"iqn.2003-01.org.example:t\\u00e9\"");
    s_bad (t, "\"a\\nb\"", "params", "control characters are not allowed");
    s_bad (t, "\"a\\u007f\"", "params", "control characters are not allowed");
    const char *p = "{'type': 'string', 'format': 'path'}";
    s_ok (p, "\"/etc/uiscsi/secret\"");
    s_bad (p, "\"etc/secret\"", "params", "expected an absolute path");
    s_bad (p, "\"/a\\tb\"", "params", "control characters are not allowed");
}

/* The data format: base64 or an attachment within the message's frames;
 * over the data limit it is LIMIT_EXCEEDED. */
static void
test_format_data (void **state)
{
    (void)state;
    json_t *schema = s_schema ("{'type': 'object', 'properties': {'data': {'type': "
                               "['string', 'object'], 'format': 'data'}}}");
    json_t *v = json_loads ("{\"data\": {\"$attachment\": 2}}", 0, NULL);
    rpc_schema_ctx_t ctx = {.nframes = 3, .data_max_bytes = 8};
    assert_null (rpc_schema_validate (schema, v, "params", &ctx));
    ctx.nframes = 2;
    json_t *err = rpc_schema_validate (schema, v, "params", &ctx);
    assert_int_equal (rpc_error_code (err), RPC_E_INVALID_PARAMS);
    assert_string_equal (
        json_string_value (json_object_get (json_object_get (err, "data"), "param")),
        "params.data");
    json_decref (err);
    json_decref (v);
    v = json_loads ("{\"data\": \"AAAAAAAAAAAA\"}", 0, NULL); /* 9 bytes */
    err = rpc_schema_validate (schema, v, "params", &ctx);
    assert_int_equal (rpc_error_code (err), RPC_E_LIMIT_EXCEEDED);
    assert_int_equal (
        json_integer_value (json_object_get (json_object_get (err, "data"), "value")), 9);
    json_decref (err);
    json_decref (v);
    json_decref (schema);
}

/* x-limit turns an oversize integer into LIMIT_EXCEEDED. */
static void
test_x_limit (void **state)
{
    (void)state;
    json_t *schema = s_schema ("{'type': 'integer', 'minimum': 0, 'maximum': 4294967295, "
                               "'x-limit': 'data_bytes'}");
    rpc_schema_ctx_t ctx = {.nframes = 1, .data_max_bytes = 1000};
    json_t *v = json_integer (1000);
    assert_null (rpc_schema_validate (schema, v, "params.n", &ctx));
    json_decref (v);
    v = json_integer (1001);
    json_t *err = rpc_schema_validate (schema, v, "params.n", &ctx);
    assert_int_equal (rpc_error_code (err), RPC_E_LIMIT_EXCEEDED);
    json_t *data = json_object_get (err, "data");
    assert_string_equal (json_string_value (json_object_get (data, "limit")),
                         "data_bytes");
    assert_int_equal (json_integer_value (json_object_get (data, "value")), 1001);
    json_decref (err);
    json_decref (v);
    v = json_integer (-1);
    err = rpc_schema_validate (schema, v, "params.n", &ctx);
    assert_int_equal (rpc_error_code (err), RPC_E_INVALID_PARAMS);
    json_decref (err);
    json_decref (v);
    json_decref (schema);
}

#define AUTH                                                                             \
    "{'type': 'object', 'additionalProperties': false, 'format': 'auth', 'required': "   \
    "['method'], 'properties': {'method': {'type': 'string', 'enum': ['none', "          \
    "'chap']}, "                                                                         \
    "'user': {'type': 'string'}, 'secret': {'type': 'string'}, 'secret_file': {'type': " \
    "'string'}, 'target_user': {'type': 'string'}, 'target_secret': {'type': "           \
    "'string'}, 'target_secret_file': {'type': 'string'}}}"

/* The auth rules, each fault naming the field; secrets never echoed. */
static void
test_format_auth (void **state)
{
    (void)state;
    s_ok (AUTH, "{\"method\": \"none\"}");
    s_ok (AUTH, "{\"method\": \"chap\", \"user\": \"u\", \"secret\": \"s3cr3t-value\"}");
    s_ok (AUTH, "{\"method\": \"chap\", \"user\": \"u\", \"secret_file\": \"/f\", "
                "\"target_user\": \"t\", \"target_secret\": \"x\"}");
    s_ok (AUTH, "{\"method\": \"chap\", \"user\": \"u\", \"secret\": \"a\", "
                "\"target_user\": \"t\", \"target_secret_file\": \"/g\"}");
    s_bad (AUTH, "{\"method\": \"none\", \"user\": \"u\"}", "params.user",
           "not allowed with method none");
    s_bad (AUTH, "{\"method\": \"chap\", \"secret\": \"a\"}", "params.user",
           "required with method chap");
    s_bad (AUTH, "{\"method\": \"chap\", \"user\": \"u\"}", "params.secret",
           "required with method chap (or secret_file)");
    s_bad (AUTH,
           "{\"method\": \"chap\", \"user\": \"u\", \"secret\": \"a\", "
           "\"secret_file\": \"/f\"}",
           "params.secret_file", "give secret or secret_file, not both");
    s_bad (AUTH,
           "{\"method\": \"chap\", \"user\": \"u\", \"secret\": \"a\", "
           "\"target_user\": \"t\"}",
           "params.target_secret", "required with target_user (or target_secret_file)");
    s_bad (AUTH,
           "{\"method\": \"chap\", \"user\": \"u\", \"secret\": \"a\", "
           "\"target_secret\": \"b\"}",
           "params.target_user", "required with a target secret");
    s_bad (AUTH,
           "{\"method\": \"chap\", \"user\": \"u\", \"secret\": \"a\", "
           "\"target_user\": \"t\", \"target_secret\": \"b\", \"target_secret_file\": "
           "\"/x\"}",
           "params.target_secret_file",
           "give target_secret or target_secret_file, not both");
    s_bad (AUTH, "{\"method\": \"kerberos\"}", "params.method",
           "expected one of: \"none\", \"chap\"");
    /* The error never carries the secret. */
    json_t *err = s_check (AUTH, "{\"method\": \"none\", \"secret\": \"hunter2\"}");
    char *text = json_dumps (err, 0);
    assert_null (strstr (text, "hunter2"));
    free (text);
    json_decref (err);
}

/* Defaults fill absent keys, in nested objects that are present. */
static void
test_defaults (void **state)
{
    (void)state;
    json_t *schema =
        s_schema ("{'type': 'object', 'properties': {'t': {'type': 'integer', 'default': "
                  "30000}, 'e': {'type': 'string', 'default': 'base64'}, 'k': {'type': "
                  "'object', 'properties': {'i': {'type': 'integer', 'default': 5}}}, "
                  "'m': {'type': 'object', 'properties': {'j': {'type': 'integer', "
                  "'default': 6}}}}}");
    json_t *v = json_loads ("{\"e\": \"attachment\", \"k\": {}}", 0, NULL);
    assert_int_equal (rpc_schema_apply_defaults (schema, v), 0);
    json_t *want =
        json_loads ("{\"e\": \"attachment\", \"k\": {\"i\": 5}, \"t\": 30000}", 0, NULL);
    assert_true (json_equal (v, want));
    json_decref (want);
    json_decref (v);
    json_decref (schema);
}

/* The self-check catches typos and inconsistencies in schemas. */
static void
test_schema_check (void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *where;
    } bad[] = {
        {"{'type': 'string', 'maxLenght': 3}", "#: unsupported keyword"},
        {"{'type': 'strng'}", "#: unknown type"},
        {"{'type': []}", "#: type must be a name or names"},
        {"{'format': 'uuid'}", "#: unknown format"},
        {"{'properties': {'a': {'minimum': 1.5}}}",
         "#/properties/a: minimum/maximum must be integers"},
        {"{'required': ['a'], 'properties': {}}", "#: required names a missing property"},
        {"{'type': 'integer', 'maximum': 3, 'default': 4}",
         "#: default does not validate"},
        {"{'type': 'array', 'uniqueItems': true}", "#: uniqueItems needs maxItems"},
        {"{'maxLength': -1}", "#: a length bound must be an integer >= 0"},
        {"{'enum': []}", "#: enum must be a non-empty array"},
        {"{'additionalProperties': {}}", "#: additionalProperties must be a boolean"},
        {"{'x-limit': 'other'}", "#: unknown x-limit"},
        {"{'items': 3}", "#/items: schema must be an object"},
        {"[]", "#: schema must be an object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char where[160] = "";
        json_t *s = rpc_schema_parse (bad[i].text, where, sizeof where);
        assert_null (s);
        assert_string_equal (where, bad[i].where);
    }
    char where[160] = "";
    assert_null (rpc_schema_parse ("{'a': }", where, sizeof where));
    assert_true (strlen (where) > 0);
    /* ' stands for ": the parsed schema has plain strings. */
    json_t *s = s_schema ("{'description': 'x'}");
    assert_string_equal (json_string_value (json_object_get (s, "description")), "x");
    json_decref (s);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_paths),
        cmocka_unit_test (test_long_key_in_path),
        cmocka_unit_test (test_types_enum_strings),
        cmocka_unit_test (test_format_lun),
        cmocka_unit_test (test_format_hex),
        cmocka_unit_test (test_format_portal),
        cmocka_unit_test (test_format_misc),
        cmocka_unit_test (test_format_data),
        cmocka_unit_test (test_x_limit),
        cmocka_unit_test (test_format_auth),
        cmocka_unit_test (test_defaults),
        cmocka_unit_test (test_schema_check),
    };
    return cmocka_run_group_tests_name ("rpc_schema", tests, NULL, NULL);
}
