/* test_bulk.c: bulk data (rpc/bulk.c): attachment references resolved
 * without copying, strict base64 (RFC 4648 section 10 vectors and faults),
 * the data size limit, result encoding and hex.
 * Conformance ids: none (API.md "Attachments"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto/errors.h"
#include "rpc/bulk.h"
#include "rpc/errors.h"

/* Parses JSON text that must be valid. */
static json_t *
s_json (const char *text)
{
    json_t *v = json_loads (text, JSON_DECODE_ANY, NULL);
    assert_non_null (v);
    return v;
}

/* Asserts err is INVALID_PARAMS naming param with the given reason
 * (NULL: any), and frees it. */
static void
s_expect_invalid (json_t *err, const char *param, const char *reason)
{
    assert_non_null (err);
    assert_int_equal (rpc_error_code (err), RPC_E_INVALID_PARAMS);
    json_t *data = json_object_get (err, "data");
    assert_string_equal (json_string_value (json_object_get (data, "param")), param);
    if (reason)
        assert_string_equal (json_string_value (json_object_get (data, "reason")),
                             reason);
    json_decref (err);
}

/* RFC 4648 section 10 test vectors, both directions. */
static void
test_base64_vectors (void **state)
{
    (void)state;
    static const char *vec[][2] = {{"", ""},
                                   {"f", "Zg=="},
                                   {"fo", "Zm8="},
                                   {"foo", "Zm9v"},
                                   {"foob", "Zm9vYg=="},
                                   {"fooba", "Zm9vYmE="},
                                   {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
        const char *raw = vec[i][0], *b64 = vec[i][1];
        char out[16];
        assert_int_equal (rpc_base64_encoded_len (strlen (raw)), strlen (b64));
        assert_int_equal (rpc_base64_encode (raw, strlen (raw), out, sizeof out), 0);
        assert_string_equal (out, b64);
        uint8_t dec[16];
        size_t n = 99;
        assert_int_equal (rpc_base64_decoded_len (b64, strlen (b64), &n), 0);
        assert_int_equal (n, strlen (raw));
        assert_int_equal (rpc_base64_decode (b64, strlen (b64), dec, sizeof dec, &n), 0);
        assert_int_equal (n, strlen (raw));
        assert_memory_equal (dec, raw, n);
        json_t *j = rpc_base64_json (raw, strlen (raw));
        assert_string_equal (json_string_value (j), b64);
        json_decref (j);
    }
    /* Every byte value round-trips. */
    uint8_t all[256], back[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    char text[400];
    assert_int_equal (rpc_base64_encode (all, 256, text, sizeof text), 0);
    size_t n = 0;
    assert_int_equal (rpc_base64_decode (text, strlen (text), back, sizeof back, &n), 0);
    assert_int_equal (n, 256);
    assert_memory_equal (all, back, 256);
    /* Output buffers are checked. */
    assert_int_equal (rpc_base64_encode ("foo", 3, text, 4), UIS_ERR_BUFFER_TOO_SMALL);
    assert_int_equal (rpc_base64_decode ("Zm9v", 4, back, 2, &n),
                      UIS_ERR_BUFFER_TOO_SMALL);
}

/* The strict decoder refuses everything but canonical padded base64. */
static void
test_base64_strict (void **state)
{
    (void)state;
    static const char *bad[] = {
        "Zg",       /* no padding */
        "Zg=",      /* length not a multiple of 4 */
        "Z===",     /* three pad characters */
        "====",     /* only padding */
        "Zh==",     /* non-zero bits under the padding */
        "Zm9=",     /* idem, one pad */
        "Zg==Zg==", /* padding inside */
        "=Zg=",     /* padding first */
        "Zg=a",     /* data after padding */
        "Zm9v\n",   /* whitespace */
        "Zm 9v",    /* whitespace */
        "Zm-_",     /* URL-safe alphabet */
        "Zm9v\x80", /* non-ASCII */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n;
        uint8_t out[8];
        assert_int_equal (rpc_base64_decoded_len (bad[i], strlen (bad[i]), &n),
                          UIS_ERR_MALFORMED);
        assert_int_equal (
            rpc_base64_decode (bad[i], strlen (bad[i]), out, sizeof out, &n),
            UIS_ERR_MALFORMED);
        json_t *v = json_string (bad[i]);
        if (!v)
            continue; /* not UTF-8: cannot reach the check as JSON */
        s_expect_invalid (rpc_bulk_check (v, "params.data", 1, 1024), "params.data",
                          "expected strict base64 (RFC 4648, padded, no whitespace)");
        json_decref (v);
    }
    /* An embedded NUL is not base64 either. */
    size_t n;
    assert_int_equal (rpc_base64_decoded_len ("Zg\0=", 4, &n), UIS_ERR_MALFORMED);
}

/* A valid attachment resolves to the frame itself: same pointer, no copy. */
static void
test_attachment_zero_copy (void **state)
{
    (void)state;
    static const uint8_t payload[] = {0xde, 0xad, 0xbe, 0xef, 0x00, 0x01};
    static const char json0[] = "{}";
    rpc_frame_t frames[3] = {{json0, 2}, {"x", 1}, {payload, sizeof payload}};
    json_t *ref = s_json ("{\"$attachment\": 2}");
    size_t k = 0;
    assert_int_equal (rpc_attachment_index (ref, &k), 0);
    assert_int_equal (k, 2);
    rpc_bulk_t bulk;
    assert_null (rpc_bulk_resolve (ref, "params.data", frames, 3, 1024, &bulk));
    assert_ptr_equal (bulk.data, payload);
    assert_int_equal (bulk.size, sizeof payload);
    assert_int_equal (bulk.frame, 2);
    assert_null (bulk.owned);
    rpc_bulk_release (&bulk);
    assert_null (bulk.data);
    json_decref (ref);
    /* Frame 1 too; an empty attachment is fine. */
    frames[1].size = 0;
    ref = rpc_attachment_new (1);
    assert_null (rpc_bulk_resolve (ref, "params.data", frames, 3, 1024, &bulk));
    assert_ptr_equal (bulk.data, frames[1].data);
    assert_int_equal (bulk.size, 0);
    json_decref (ref);
}

/* Faulty references are -32602 naming the param: k = 0, negative, beyond
 * the frames, not an integer, extra or wrong keys. */
static void
test_attachment_faults (void **state)
{
    (void)state;
    rpc_frame_t frames[2] = {{"{}", 2}, {"abc", 3}};
    static const struct {
        const char *json;
        const char *reason;
    } cases[] = {
        {"{\"$attachment\": 0}", "attachment index must be >= 1"},
        {"{\"$attachment\": -3}", "attachment index must be >= 1"},
        {"{\"$attachment\": 2}", "attachment 2 is not in the message (2 frames)"},
        {"{\"$attachment\": 9223372036854775807}",
         "attachment 9223372036854775807 is not in the message (2 frames)"},
        {"{\"$attachment\": \"1\"}",
         "expected {\"$attachment\": k}: exactly that key, k an "
         "integer"},
        {"{\"$attachment\": 1.0}",
         "expected {\"$attachment\": k}: exactly that key, k an "
         "integer"},
        {"{\"$attachment\": null}",
         "expected {\"$attachment\": k}: exactly that key, k an "
         "integer"},
        {"{\"$attachment\": 1, \"x\": 2}",
         "expected {\"$attachment\": k}: exactly that key, "
         "k an integer"},
        {"{\"attachment\": 1}", "expected {\"$attachment\": k}: exactly that key, k an "
                                "integer"},
        {"{}", "expected {\"$attachment\": k}: exactly that key, k an integer"},
        {"12", "expected base64 string or {\"$attachment\": k}"},
        {"[1]", "expected base64 string or {\"$attachment\": k}"},
        {"null", "expected base64 string or {\"$attachment\": k}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *v = s_json (cases[i].json);
        rpc_bulk_t bulk;
        s_expect_invalid (rpc_bulk_resolve (v, "params.data", frames, 2, 1024, &bulk),
                          "params.data", cases[i].reason);
        assert_null (bulk.data);
        assert_null (bulk.owned);
        json_decref (v);
    }
    /* A message with no attachments at all. */
    json_t *v = s_json ("{\"$attachment\": 1}");
    s_expect_invalid (rpc_bulk_check (v, "params.data", 1, 1024), "params.data",
                      "attachment 1 is not in the message (1 frames)");
    json_decref (v);
}

/* LIMIT_EXCEEDED data fields. */
static void
s_expect_limit (json_t *err, json_int_t value)
{
    assert_int_equal (rpc_error_code (err), RPC_E_LIMIT_EXCEEDED);
    json_t *data = json_object_get (err, "data");
    assert_string_equal (json_string_value (json_object_get (data, "limit")),
                         "data_bytes");
    assert_int_equal (json_integer_value (json_object_get (data, "value")), value);
    json_decref (err);
}

/* Base64 decodes into an owned buffer; over the limit nothing is
 * allocated and LIMIT_EXCEEDED names the decoded size. */
static void
test_base64_resolve_and_limit (void **state)
{
    (void)state;
    rpc_frame_t frames[2] = {{"{}", 2}, {"abcdef", 6}};
    json_t *v = json_string ("Zm9vYg==");
    rpc_bulk_t bulk;
    assert_null (rpc_bulk_resolve (v, "params.data", frames, 1, 4, &bulk));
    assert_int_equal (bulk.size, 4);
    assert_memory_equal (bulk.data, "foob", 4);
    assert_ptr_equal (bulk.data, bulk.owned);
    assert_int_equal (bulk.frame, 0);
    rpc_bulk_release (&bulk);
    assert_null (bulk.owned);
    s_expect_limit (rpc_bulk_resolve (v, "params.data", frames, 1, 3, &bulk), 4);
    assert_null (bulk.owned);
    s_expect_limit (rpc_bulk_check (v, "params.data", 1, 3), 4);
    json_decref (v);
    /* An empty string is zero bytes. */
    v = json_string ("");
    assert_null (rpc_bulk_resolve (v, "params.data", frames, 1, 0, &bulk));
    assert_int_equal (bulk.size, 0);
    rpc_bulk_release (&bulk);
    json_decref (v);
    /* An attachment larger than the limit. */
    v = rpc_attachment_new (1);
    s_expect_limit (rpc_bulk_resolve (v, "params.data", frames, 2, 5, &bulk), 6);
    json_decref (v);
    rpc_bulk_release (NULL);
}

/* Results: an attachment reference when the request asked for it, else
 * base64. */
static void
test_result_encoding (void **state)
{
    (void)state;
    json_t *p = s_json ("{\"data_encoding\": \"attachment\"}");
    assert_int_equal (rpc_bulk_encoding (p), RPC_BULK_ATTACHMENT);
    json_t *r = rpc_bulk_result (p, "foo", 3, 1);
    json_t *want = s_json ("{\"$attachment\": 1}");
    assert_true (json_equal (r, want));
    json_decref (want);
    json_decref (r);
    json_decref (p);
    static const char *base64_params[] = {"{\"data_encoding\": \"base64\"}", "{}"};
    for (size_t i = 0; i < 2; i++) {
        p = s_json (base64_params[i]);
        assert_int_equal (rpc_bulk_encoding (p), RPC_BULK_BASE64);
        r = rpc_bulk_result (p, "foo", 3, 1);
        assert_string_equal (json_string_value (r), "Zm9v");
        json_decref (r);
        json_decref (p);
    }
    assert_int_equal (rpc_bulk_encoding (NULL), RPC_BULK_BASE64);
}

/* Hex both ways. */
static void
test_hex (void **state)
{
    (void)state;
    static const uint8_t bytes[] = {0x00, 0x12, 0xab, 0xff};
    json_t *h = rpc_hex_json (bytes, sizeof bytes);
    assert_string_equal (json_string_value (h), "0012abff");
    json_decref (h);
    h = rpc_hex_json (NULL, 0);
    assert_string_equal (json_string_value (h), "");
    json_decref (h);
    uint8_t out[4];
    size_t n = 0;
    assert_int_equal (rpc_hex_decode ("0012ABff", 8, out, sizeof out, &n), 0);
    assert_int_equal (n, 4);
    assert_memory_equal (out, bytes, 4);
    assert_int_equal (rpc_hex_decode ("001", 3, out, sizeof out, &n), UIS_ERR_MALFORMED);
    assert_int_equal (rpc_hex_decode ("0g", 2, out, sizeof out, &n), UIS_ERR_MALFORMED);
    assert_int_equal (rpc_hex_decode ("0011223344", 10, out, sizeof out, &n),
                      UIS_ERR_BUFFER_TOO_SMALL);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_base64_vectors),
        cmocka_unit_test (test_base64_strict),
        cmocka_unit_test (test_attachment_zero_copy),
        cmocka_unit_test (test_attachment_faults),
        cmocka_unit_test (test_base64_resolve_and_limit),
        cmocka_unit_test (test_result_encoding),
        cmocka_unit_test (test_hex),
    };
    return cmocka_run_group_tests_name ("rpc_bulk", tests, NULL, NULL);
}
