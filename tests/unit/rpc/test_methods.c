/* test_methods.c: the method table (rpc/methods.c): it holds every method
 * of API.md; every method validates a correct example, rejects an unknown
 * param and each missing required param, takes the common timeout_ms and
 * tag; flags agree with the schemas; defaults; rpc.discover; checking a
 * whole message.
 * Conformance ids: R3 (test_lun_limits), R4 (test_cdb_limits), R5
 * (test_task_attribute), M8 (test_abort_by_tag). */
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

static rpc_methods_t *s_methods;

/* Group setup: compiles the API table. */
static int
s_setup (void **state)
{
    (void)state;
    s_methods = rpc_methods_new_api ();
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

/* Every method of API.md, in its order, with a minimal correct example. */
static const struct {
    const char *name;
    const char *example;
} s_api[] = {
    {"rpc.discover", "{}"},
    {"daemon.info", "{}"},
    {"daemon.stats", "{}"},
    {"discovery.send_targets", "{\"portal\": \"127.0.0.1\"}"},
    {"session.open",
     "{\"portal\": \"127.0.0.1:3260\", \"target\": \"iqn.2003-01.org.x:t1\"}"},
    {"session.close", "{\"session\": \"s1\"}"},
    {"session.list", "{}"},
    {"session.get", "{\"session\": \"s1\"}"},
    {"session.reconnect", "{\"session\": \"s1\"}"},
    {"scsi.test_unit_ready", "{\"session\": \"s1\", \"lun\": 0}"},
    {"scsi.inquiry", "{\"session\": \"s1\", \"lun\": 0}"},
    {"scsi.read_capacity", "{\"session\": \"s1\", \"lun\": 0}"},
    {"scsi.report_luns", "{\"session\": \"s1\"}"},
    {"scsi.request_sense", "{\"session\": \"s1\", \"lun\": 0}"},
    {"scsi.read", "{\"session\": \"s1\", \"lun\": 0, \"lba\": 0, \"blocks\": 8}"},
    {"scsi.write",
     "{\"session\": \"s1\", \"lun\": 0, \"lba\": 0, \"blocks\": 1, \"data\": \"AAAA\"}"},
    {"scsi.verify", "{\"session\": \"s1\", \"lun\": 0, \"lba\": 0, \"blocks\": 8}"},
    {"scsi.synchronize_cache", "{\"session\": \"s1\", \"lun\": 0}"},
    {"scsi.write_same",
     "{\"session\": \"s1\", \"lun\": 0, \"lba\": 0, \"blocks\": 9, \"data\": \"AAAA\"}"},
    {"scsi.unmap",
     "{\"session\": \"s1\", \"lun\": 0, \"ranges\": [{\"lba\": 0, \"blocks\": 8}]}"},
    {"scsi.compare_and_write",
     "{\"session\": \"s1\", \"lun\": 0, \"lba\": 0, \"blocks\": 1, \"data\": \"AAAA\"}"},
    {"scsi.mode_sense", "{\"session\": \"s1\", \"lun\": 0, \"page\": 63}"},
    {"scsi.mode_select", "{\"session\": \"s1\", \"lun\": 0, \"data\": \"AAAA\"}"},
    {"scsi.persistent_reserve_in",
     "{\"session\": \"s1\", \"lun\": 0, \"service_action\": 0}"},
    {"scsi.persistent_reserve_out", "{\"session\": \"s1\", \"lun\": 0, "
                                    "\"service_action\": 1, \"scope_type\": 5, \"key\": "
                                    "0, \"sa_key\": \"0x1234abcd\"}"},
    {"scsi.start_stop_unit", "{\"session\": \"s1\", \"lun\": 0, \"start\": true}"},
    {"raw.execute", "{\"session\": \"s1\", \"lun\": 0, \"cdb\": \"000000000000\"}"},
    {"raw.stream", "{\"session\": \"s1\", \"lun\": 0, \"cdb\": "
                   "\"28000000000000000800\", \"data_in_length\": 4096}"},
    {"raw.stream.ack", "{\"id\": 5, \"bytes\": 4096}"},
    {"tmf.abort_task", "{\"session\": \"s1\", \"tag\": \"t1\"}"},
    {"tmf.abort_task_set", "{\"session\": \"s1\", \"lun\": 0}"},
    {"tmf.clear_task_set", "{\"session\": \"s1\", \"lun\": 0}"},
    {"tmf.lun_reset", "{\"session\": \"s1\", \"lun\": 0}"},
    {"tmf.target_warm_reset", "{\"session\": \"s1\"}"},
    {"tmf.target_cold_reset", "{\"session\": \"s1\"}"},
    {"protocol.nop", "{\"session\": \"s1\"}"},
    {"protocol.logout", "{\"session\": \"s1\"}"},
    {"protocol.confirm_exp_stat_sn", "{\"session\": \"s1\"}"},
    {"events.get", "{\"since_seq\": 0}"},
    {"rpc.echo", "{\"data\": \"AAAA\"}"},
};

#define S_API_COUNT (sizeof s_api / sizeof s_api[0])

/* Parses JSON that must be valid. */
static json_t *
s_json (const char *text)
{
    json_t *v = json_loads (text, JSON_DECODE_ANY, NULL);
    if (!v)
        fail_msg ("bad JSON in test: %s", text);
    return v;
}

/* Checks params (borrowed) for a method; returns the error or NULL. */
static json_t *
s_check_json (const char *method, json_t *params, size_t nframes)
{
    rpc_schema_ctx_t ctx = {.nframes = nframes, .data_max_bytes = 64u << 20};
    size_t idx = 99;
    json_t *err = rpc_methods_check (s_methods, method, params, &ctx, &idx);
    if (!err)
        assert_int_equal (idx, (size_t)rpc_methods_find (s_methods, method));
    return err;
}

/* Asserts that params text is valid for method. */
static void
s_ok (const char *method, const char *params_text)
{
    json_t *p = s_json (params_text);
    json_t *err = s_check_json (method, p, 1);
    if (err) {
        char *t = json_dumps (err, 0);
        fail_msg ("%s %s rejected: %s", method, params_text, t);
    }
    json_decref (p);
}

/* Asserts an error with code (and param path when not NULL); frees err. */
static void
s_expect (json_t *err, int code, const char *param, const char *reason)
{
    assert_non_null (err);
    assert_int_equal (rpc_error_code (err), code);
    json_t *data = json_object_get (err, "data");
    if (param)
        assert_string_equal (json_string_value (json_object_get (data, "param")), param);
    if (reason)
        assert_string_equal (json_string_value (json_object_get (data, "reason")),
                             reason);
    json_decref (err);
}

/* Asserts that params text is rejected naming param. */
static void
s_bad (const char *method, const char *params_text, const char *param, const char *reason)
{
    json_t *p = s_json (params_text);
    json_t *err = s_check_json (method, p, 1);
    if (!err)
        fail_msg ("%s %s accepted", method, params_text);
    s_expect (err, RPC_E_INVALID_PARAMS, param, reason);
    json_decref (p);
}

/* The table holds exactly the methods of API.md, in its order. */
static void
test_table_is_api (void **state)
{
    (void)state;
    size_t count;
    const rpc_method_def_t *defs = rpc_method_table (&count);
    assert_int_equal (count, S_API_COUNT);
    assert_int_equal (rpc_methods_count (s_methods), S_API_COUNT);
    for (size_t i = 0; i < S_API_COUNT; i++) {
        assert_string_equal (defs[i].name, s_api[i].name);
        assert_int_equal (rpc_methods_find (s_methods, s_api[i].name), (int)i);
        assert_ptr_equal (rpc_methods_at (s_methods, i), &defs[i]);
        assert_null (defs[i].handler);
        assert_true (strlen (defs[i].summary) > 0);
        assert_true (strlen (defs[i].result) > 0);
    }
    assert_int_equal (rpc_methods_find (s_methods, "scsi.reed"), -1);
    assert_int_equal (rpc_methods_find (s_methods, ""), -1);
    assert_int_equal (rpc_methods_find (s_methods, "zzz"), -1);
    assert_null (rpc_methods_at (s_methods, S_API_COUNT));
    assert_null (rpc_methods_schema (s_methods, S_API_COUNT));
}

/* Every method: its example passes (with timeout_ms and tag too), an
 * unknown param and each missing required param are named. */
static void
test_every_method (void **state)
{
    (void)state;
    for (size_t i = 0; i < S_API_COUNT; i++) {
        const char *m = s_api[i].name;
        s_ok (m, s_api[i].example);
        json_t *p = s_json (s_api[i].example);
        json_object_set_new (p, "bogus_param", json_integer (1));
        s_expect (s_check_json (m, p, 1), RPC_E_INVALID_PARAMS, "params.bogus_param",
                  "unknown param");
        json_decref (p);
        /* Drop each required param in turn. */
        const json_t *schema = rpc_methods_schema (s_methods, i);
        size_t k;
        json_t *req;
        json_array_foreach (json_object_get (schema, "required"), k, req)
        {
            p = s_json (s_api[i].example);
            const char *name = json_string_value (req);
            assert_non_null (json_object_get (p, name)); /* the example has it */
            json_object_del (p, name);
            char path[80];
            snprintf (path, sizeof path, "params.%s", name);
            s_expect (s_check_json (m, p, 1), RPC_E_INVALID_PARAMS, path,
                      "required param missing");
            json_decref (p);
        }
        /* Params must be an object. */
        p = s_json ("[]");
        s_expect (s_check_json (m, p, 1), RPC_E_INVALID_PARAMS, "params",
                  "expected object");
        json_decref (p);
        if (strcmp (m, "raw.stream.ack") == 0 || strcmp (m, "tmf.abort_task") == 0)
            continue;
        p = s_json (s_api[i].example);
        json_object_set_new (p, "timeout_ms", json_integer (5));
        json_object_set_new (p, "tag", json_string ("job-1"));
        assert_null (s_check_json (m, p, 1));
        json_object_set_new (p, "timeout_ms", json_integer (-1));
        s_expect (s_check_json (m, p, 1), RPC_E_INVALID_PARAMS, "params.timeout_ms",
                  "expected integer >= 0");
        json_object_set_new (p, "timeout_ms", json_integer (5));
        json_object_set_new (p, "tag", json_string (""));
        s_expect (s_check_json (m, p, 1), RPC_E_INVALID_PARAMS, "params.tag",
                  "expected at least 1 bytes");
        json_decref (p);
    }
    s_expect (s_check_json ("scsi.reed", NULL, 1), RPC_E_METHOD_NOT_FOUND, NULL, NULL);
}

/* Flags agree with the schemas: data_encoding iff data is returned, data
 * iff data is taken, session required iff the method needs one. */
static void
test_flags_match_schemas (void **state)
{
    (void)state;
    for (size_t i = 0; i < rpc_methods_count (s_methods); i++) {
        const rpc_method_def_t *d = rpc_methods_at (s_methods, i);
        const json_t *props =
            json_object_get (rpc_methods_schema (s_methods, i), "properties");
        bool session_required = false;
        size_t k;
        json_t *r;
        json_array_foreach (
            json_object_get (rpc_methods_schema (s_methods, i), "required"), k, r)
        {
            session_required |= strcmp (json_string_value (r), "session") == 0;
        }
        if (((d->flags & RPC_M_DATA_IN) != 0)
            != (json_object_get (props, "data_encoding") != NULL))
            fail_msg ("%s: DATA_IN flag and data_encoding disagree", d->name);
        if (((d->flags & RPC_M_DATA_OUT) != 0)
            != (json_object_get (props, "data") != NULL))
            fail_msg ("%s: DATA_OUT flag and data disagree", d->name);
        if (((d->flags & RPC_M_SESSION) != 0) != session_required)
            fail_msg ("%s: SESSION flag and session param disagree", d->name);
        if ((d->flags & RPC_M_SCSI) && !(d->flags & RPC_M_SESSION))
            fail_msg ("%s: a SCSI command without a session", d->name);
    }
    int ack = rpc_methods_find (s_methods, "raw.stream.ack");
    assert_true (rpc_methods_at (s_methods, (size_t)ack)->flags & RPC_M_NOTIFICATION);
    int caw = rpc_methods_find (s_methods, "scsi.compare_and_write");
    assert_true (rpc_methods_at (s_methods, (size_t)caw)->flags & RPC_M_NON_IDEMPOTENT);
    int prout = rpc_methods_find (s_methods, "scsi.persistent_reserve_out");
    assert_true (rpc_methods_at (s_methods, (size_t)prout)->flags & RPC_M_NON_IDEMPOTENT);
}

/* R5: SIMPLE by default (filled in), ORDERED or HEAD OF QUEUE selectable;
 * other defaults of a read. */
static void
test_task_attribute (void **state)
{
    (void)state;
    json_t *p = s_json (s_api[rpc_methods_find (s_methods, "raw.execute")].example);
    assert_null (s_check_json ("raw.execute", p, 1));
    json_t *want = s_json ("{\"session\": \"s1\", \"lun\": 0, \"cdb\": \"000000000000\", "
                           "\"data_in_length\": 0, \"task_attribute\": \"simple\", "
                           "\"data_encoding\": \"base64\", \"timeout_ms\": 30000}");
    assert_true (json_equal (p, want));
    json_decref (want);
    json_decref (p);
    s_ok ("raw.execute", "{\"session\": \"s\", \"lun\": 1, \"cdb\": \"00\", "
                         "\"task_attribute\": \"ordered\"}");
    s_ok ("raw.execute", "{\"session\": \"s\", \"lun\": 1, \"cdb\": \"00\", "
                         "\"task_attribute\": \"head_of_queue\"}");
    s_ok ("raw.execute", "{\"session\": \"s\", \"lun\": 1, \"cdb\": \"00\", "
                         "\"task_attribute\": \"aca\"}");
    s_bad (
        "raw.execute",
        "{\"session\": \"s\", \"lun\": 1, \"cdb\": \"00\", \"task_attribute\": \"HEAD\"}",
        "params.task_attribute",
        "expected one of: \"simple\", \"ordered\", \"head_of_queue\", \"aca\"");
    p = s_json ("{\"session\": \"s1\", \"lun\": 0, \"lba\": 0, \"blocks\": 8}");
    assert_null (s_check_json ("scsi.read", p, 1));
    assert_true (json_is_false (json_object_get (p, "fua")));
    assert_string_equal (json_string_value (json_object_get (p, "data_encoding")),
                         "base64");
    assert_null (json_object_get (p, "block_size")); /* default: the LUN's */
    json_decref (p);
    p = s_json ("{\"portal\": \"h\", \"target\": \"t\"}");
    assert_null (s_check_json ("session.open", p, 1));
    assert_true (json_is_true (json_object_get (p, "share")));
    assert_string_equal (json_string_value (json_object_get (p, "digest_byte_order")),
                         "little");
    assert_null (json_object_get (p, "recovery"));
    json_decref (p);
}

/* session.open with everything; faults deep inside name their path. */
static void
test_session_open (void **state)
{
    (void)state;
    const char *full =
        "{\"portal\": \"[fe80::1%eth0]:3260\", \"target\": \"iqn.2003-01.org.x:t1\", "
        "\"initiator_name\": \"iqn.2024-01.org.uiscsi:init\", \"auth\": {\"method\": "
        "\"chap\", \"user\": \"u\", \"secret_file\": \"/etc/uiscsi/s\", \"target_user\": "
        "\"t\", \"target_secret\": \"0x1234\", \"algorithms\": [\"SHA3-256\", \"MD5\"]}, "
        "\"negotiate\": {\"MaxRecvDataSegmentLength\": 262144, \"HeaderDigest\": "
        "\"CRC32C,None\", \"DataDigest\": \"None\", \"InitialR2T\": \"No\", "
        "\"ImmediateData\": true, \"ErrorRecoveryLevel\": 2, \"MaxBurstLength\": "
        "16776192, "
        "\"FirstBurstLength\": 65536, \"MaxOutstandingR2T\": 4, \"DefaultTime2Wait\": 2, "
        "\"DefaultTime2Retain\": 20, \"MaxConnections\": 1, \"DataPDUInOrder\": \"Yes\", "
        "\"DataSequenceInOrder\": false}, \"keepalive\": {\"interval_ms\": 5000, "
        "\"timeout_ms\": 10000}, \"recovery\": {\"max_attempts\": 10, \"backoff_ms\": "
        "100, "
        "\"replacement_timeout_ms\": 120000, \"snack_timeout_ms\": 500}, "
        "\"digest_byte_order\": \"big\", \"share\": false, \"timeout_ms\": 10000, "
        "\"tag\": \"open-1\"}";
    s_ok ("session.open", full);
    static const struct {
        const char *key, *value, *param, *reason;
    } faults[] = {
        {"recovery", "{\"backoff_ms\": -1}", "params.recovery.backoff_ms",
         "expected integer >= 0"},
        {"recovery", "{\"max_retries\": 3}", "params.recovery.max_retries",
         "unknown param"},
        {"keepalive", "{\"timeout_ms\": 0}", "params.keepalive.timeout_ms",
         "expected integer >= 1"},
        {"negotiate", "{\"MaxRecvDataSegmentLength\": 511}",
         "params.negotiate.MaxRecvDataSegmentLength", "expected integer >= 512"},
        {"negotiate", "{\"MaxRecvDataSegmentLength\": 16777216}",
         "params.negotiate.MaxRecvDataSegmentLength", "expected integer <= 16777215"},
        {"negotiate", "{\"maxrecvdatasegmentlength\": 8192}",
         "params.negotiate.maxrecvdatasegmentlength", "unknown param"},
        {"negotiate", "{\"ErrorRecoveryLevel\": 3}",
         "params.negotiate.ErrorRecoveryLevel", "expected integer <= 2"},
        {"negotiate", "{\"HeaderDigest\": \"CRC32\"}", "params.negotiate.HeaderDigest",
         "expected CRC32C, None, or both comma-separated"},
        {"negotiate", "{\"InitialR2T\": \"yes\"}", "params.negotiate.InitialR2T",
         "expected one of: \"Yes\", \"No\", true, false"},
        {"negotiate", "{\"DefaultTime2Wait\": 3601}", "params.negotiate.DefaultTime2Wait",
         "expected integer <= 3600"},
        {"auth",
         "{\"method\": \"chap\", \"user\": \"u\", \"secret\": \"x\", \"algorithms\": "
         "[\"MD5\", \"MD5\"]}",
         "params.auth.algorithms[1]", "duplicate item"},
        {"auth",
         "{\"method\": \"chap\", \"user\": \"u\", \"secret\": \"x\", \"algorithms\": "
         "[\"SHA-512\"]}",
         "params.auth.algorithms[0]", NULL},
        {"auth", "{\"method\": \"chap\", \"user\": \"u\", \"secret_file\": \"rel/path\"}",
         "params.auth.secret_file", "expected an absolute path"},
        {"auth", "{\"method\": \"none\", \"user\": \"u\"}", "params.auth.user",
         "not allowed with method none"},
        {"digest_byte_order", "\"middle\"", "params.digest_byte_order", NULL},
        {"portal", "\"fe80::1\"", "params.portal", NULL},
        {"share", "1", "params.share", "expected boolean"},
    };
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
        json_t *p = s_json (full);
        json_object_set_new (p, faults[i].key, s_json (faults[i].value));
        s_expect (s_check_json ("session.open", p, 1), RPC_E_INVALID_PARAMS,
                  faults[i].param, faults[i].reason);
        json_decref (p);
    }
    /* TargetName: 223 bytes pass, 224 do not. */
    char name[300];
    memset (name, 'a', 224);
    name[224] = '\0';
    json_t *p = s_json ("{\"portal\": \"h\"}");
    json_object_set_new (p, "target", json_string (name));
    s_expect (s_check_json ("session.open", p, 1), RPC_E_INVALID_PARAMS, "params.target",
              "expected at most 223 bytes");
    name[223] = '\0';
    json_object_set_new (p, "target", json_string (name));
    assert_null (s_check_json ("session.open", p, 1));
    json_decref (p);
}

/* R3: LUN > 16383 (so > 0xFFFF too) and negative LUNs are refused with
 * the param named; 64-bit SAM LUNs pass as hex strings. */
static void
test_lun_limits (void **state)
{
    (void)state;
    s_ok ("scsi.test_unit_ready", "{\"session\": \"s\", \"lun\": 16383}");
    s_ok ("scsi.test_unit_ready",
          "{\"session\": \"s\", \"lun\": \"0x0001000200030004\"}");
    s_bad ("scsi.test_unit_ready", "{\"session\": \"s\", \"lun\": 65536}", "params.lun",
           "expected integer <= 16383");
    s_bad ("scsi.test_unit_ready", "{\"session\": \"s\", \"lun\": -1}", "params.lun",
           "expected integer >= 0");
    s_bad ("scsi.test_unit_ready", "{\"session\": \"s\", \"lun\": \"7\"}", "params.lun",
           "expected an integer, or 0x and 1 to 16 hex digits");
    s_bad ("scsi.test_unit_ready", "{\"session\": \"s\", \"lun\": 1.5}", "params.lun",
           "expected integer or string");
    s_bad ("tmf.lun_reset", "{\"session\": \"s\", \"lun\": 99999999}", "params.lun",
           NULL);
}

/* R4: CDBs up to 260 bytes (32 uses the extended-CDB AHS) pass; longer
 * or odd hex is refused. */
static void
test_cdb_limits (void **state)
{
    (void)state;
    char params[700];
    char hex[530];
    for (size_t bytes = 32; bytes <= 261; bytes++) {
        if (bytes != 32 && bytes != 260 && bytes != 261)
            continue;
        memset (hex, 'a', bytes * 2);
        hex[bytes * 2] = '\0';
        snprintf (
            params, sizeof params,
            "{\"session\": \"s\", \"lun\": 0, \"cdb\": \"%s\", \"data_in_length\": 512}",
            hex);
        if (bytes <= 260)
            s_ok ("raw.execute", params);
        else
            s_bad ("raw.execute", params, "params.cdb", "expected at most 520 bytes");
    }
    s_bad ("raw.execute", "{\"session\": \"s\", \"lun\": 0, \"cdb\": \"abc\"}",
           "params.cdb", "expected hex digits, an even number of them");
}

/* M8: every command takes a tag; tmf.abort_task names one. */
static void
test_abort_by_tag (void **state)
{
    (void)state;
    s_ok ("scsi.read", "{\"session\": \"s\", \"lun\": 0, \"lba\": 0, \"blocks\": 1, "
                       "\"tag\": \"read-42\"}");
    s_bad ("tmf.abort_task", "{\"session\": \"s\"}", "params.tag",
           "required param missing");
    s_bad ("tmf.abort_task", "{\"session\": \"s\", \"tag\": 42}", "params.tag",
           "expected string");
    s_ok ("tmf.abort_task",
          "{\"session\": \"s\", \"tag\": \"read-42\", \"timeout_ms\": 100}");
}

/* Limits reached through params: data_in_length over the data limit is
 * LIMIT_EXCEEDED; attachments must be in the message. */
static void
test_limits_in_params (void **state)
{
    (void)state;
    json_t *p = s_json ("{\"session\": \"s\", \"lun\": 0, \"cdb\": \"28\", "
                        "\"data_in_length\": 67108865}");
    json_t *err = s_check_json ("raw.execute", p, 1);
    s_expect (err, RPC_E_LIMIT_EXCEEDED, NULL, NULL);
    json_object_set_new (p, "data_in_length", json_integer (67108864));
    assert_null (s_check_json ("raw.execute", p, 1));
    json_decref (p);
    /* raw.stream may stream any 32-bit length. */
    s_ok ("raw.stream", "{\"session\": \"s\", \"lun\": 0, \"cdb\": \"28\", "
                        "\"data_in_length\": 4294967295}");
    p = s_json ("{\"session\": \"s\", \"lun\": 0, \"lba\": 0, \"blocks\": 1, \"data\": "
                "{\"$attachment\": 1}}");
    s_expect (s_check_json ("scsi.write", p, 1), RPC_E_INVALID_PARAMS, "params.data",
              "attachment 1 is not in the message (1 frames)");
    assert_null (s_check_json ("scsi.write", p, 2));
    json_object_set_new (p, "data", s_json ("{\"$attachment\": 0}"));
    s_expect (s_check_json ("scsi.write", p, 2), RPC_E_INVALID_PARAMS, "params.data",
              "attachment index must be >= 1");
    json_decref (p);
}

/* rpc.discover: api_version 1 and every method with its schema. */
static void
test_discover (void **state)
{
    (void)state;
    json_t *d = rpc_methods_discover (s_methods);
    assert_int_equal (json_integer_value (json_object_get (d, "api_version")), 1);
    json_t *list = json_object_get (d, "methods");
    assert_int_equal (json_array_size (list), S_API_COUNT);
    for (size_t i = 0; i < S_API_COUNT; i++) {
        json_t *m = json_array_get (list, i);
        assert_string_equal (json_string_value (json_object_get (m, "name")),
                             s_api[i].name);
        assert_true (json_is_string (json_object_get (m, "summary")));
        assert_true (json_is_string (json_object_get (m, "result")));
        assert_true (json_equal (json_object_get (m, "params"),
                                 (json_t *)rpc_methods_schema (s_methods, i)));
        assert_string_equal (
            json_string_value (json_object_get (json_object_get (m, "params"), "type")),
            "object");
    }
    json_decref (d);
}

/* A whole batch through parse and rpc_methods_check_msg. */
static void
test_check_msg (void **state)
{
    (void)state;
    const char *req = "[{\"jsonrpc\":\"2.0\",\"method\":\"scsi.reed\",\"id\":1},"
                      "{\"jsonrpc\":\"2.0\",\"method\":\"scsi.read\",\"id\":2,\"params\":"
                      "{\"session\":\"s\"}},"
                      "{\"jsonrpc\":\"2.0\",\"method\":\"scsi.read\",\"params\":{}},"
                      "{\"jsonrpc\":\"2.0\",\"method\":\"session.list\",\"id\":4},"
                      "{\"jsonrpc\":\"2.0\",\"method\":\"raw.stream.ack\",\"params\":"
                      "{\"id\":\"r1\",\"bytes\":65536}}]";
    json_t *reply = NULL;
    rpc_msg_t *msg = rpc_msg_parse (req, strlen (req), NULL, &reply);
    assert_non_null (msg);
    rpc_schema_ctx_t ctx = {.nframes = 1, .data_max_bytes = 1024};
    assert_int_equal (rpc_methods_check_msg (s_methods, msg, &ctx), 2);
    assert_false (rpc_msg_is_pending (msg, 0));
    assert_false (rpc_msg_is_pending (msg, 1));
    assert_false (rpc_msg_is_pending (msg, 2)); /* notification: dropped silently */
    assert_true (rpc_msg_is_pending (msg, 3));
    assert_true (rpc_msg_is_pending (msg, 4));
    assert_true (rpc_msg_is_notification (msg, 4));
    assert_ptr_equal (
        rpc_msg_user (msg, 3),
        rpc_methods_at (s_methods, (size_t)rpc_methods_find (s_methods, "session.list")));
    /* Defaults were filled into the pending call's params. */
    assert_int_equal (
        json_integer_value (json_object_get (rpc_msg_params (msg, 3), "timeout_ms")),
        30000);
    rpc_msg_answer (msg, 3, json_pack ("{s:[]}", "sessions"));
    rpc_msg_answer (msg, 4, json_object ());
    assert_int_equal (rpc_msg_reply (msg, &reply), 0);
    assert_int_equal (json_array_size (reply), 3);
    json_t *r0 = json_array_get (reply, 0), *r1 = json_array_get (reply, 1);
    assert_int_equal (rpc_error_code (json_object_get (r0, "error")),
                      RPC_E_METHOD_NOT_FOUND);
    assert_int_equal (json_integer_value (json_object_get (r0, "id")), 1);
    assert_int_equal (rpc_error_code (json_object_get (r1, "error")),
                      RPC_E_INVALID_PARAMS);
    assert_string_equal (
        json_string_value (json_object_get (
            json_object_get (json_object_get (r1, "error"), "data"), "param")),
        "params.lun");
    assert_int_equal (
        json_integer_value (json_object_get (json_array_get (reply, 2), "id")), 4);
    json_decref (reply);
    rpc_msg_destroy (&msg);
}

static int
s_handler (void *ctx, rpc_msg_t *msg, size_t i)
{
    (void)ctx;
    (void)msg;
    (void)i;
    return 0;
}

/* Handlers are set on the compiled table; bad tables are refused. */
static void
test_handlers_and_bad_tables (void **state)
{
    (void)state;
    int i = rpc_methods_find (s_methods, "scsi.read");
    assert_null (rpc_methods_handler (s_methods, (size_t)i));
    assert_int_equal (rpc_methods_set_handler (s_methods, "scsi.read", s_handler), 0);
    assert_ptr_equal (rpc_methods_handler (s_methods, (size_t)i), s_handler);
    assert_int_equal (rpc_methods_set_handler (s_methods, "scsi.reed", s_handler),
                      UIS_ERR_INVALID_ARG);
    rpc_methods_set_handler (s_methods, "scsi.read", NULL);
    static const rpc_method_def_t dup[] = {
        {"a.b", "x", "{'type': 'object'}", "x", 0, NULL},
        {"a.b", "y", "{'type': 'object'}", "y", 0, NULL},
    };
    char where[200] = "";
    assert_null (rpc_methods_new (dup, 2, where, sizeof where));
    assert_string_equal (where, "a.b: name repeats");
    static const rpc_method_def_t typo[] = {
        {"a.b", "x", "{'type': 'object'}", "x", 0, NULL},
        {"c.d", "y", "{'type': 'object', 'properties': {'n': {'maximun': 3}}}", "y", 0,
         NULL},
    };
    assert_null (rpc_methods_new (typo, 2, where, sizeof where));
    assert_string_equal (where, "c.d: #/properties/n: unsupported keyword");
    rpc_methods_t *empty = rpc_methods_new (NULL, 0, NULL, 0);
    assert_non_null (empty);
    assert_int_equal (rpc_methods_find (empty, "x"), -1);
    rpc_methods_destroy (&empty);
    assert_null (empty);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_table_is_api),
        cmocka_unit_test (test_every_method),
        cmocka_unit_test (test_flags_match_schemas),
        cmocka_unit_test (test_task_attribute),
        cmocka_unit_test (test_session_open),
        cmocka_unit_test (test_lun_limits),
        cmocka_unit_test (test_cdb_limits),
        cmocka_unit_test (test_abort_by_tag),
        cmocka_unit_test (test_limits_in_params),
        cmocka_unit_test (test_discover),
        cmocka_unit_test (test_check_msg),
        cmocka_unit_test (test_handlers_and_bad_tables),
    };
    return cmocka_run_group_tests_name ("rpc_methods", tests, s_setup, s_teardown);
}
