/* test_scsi.c: the SCSI methods of the RPC API as engine commands and back
 * (rpc/scsi.c): CDBs and lengths of every typed method, the parameter
 * lists built for UNMAP and PERSISTENT RESERVE OUT, results parsed from
 * hand-built Data-In (INQUIRY standard and VPD, READ CAPACITY, REPORT
 * LUNS, PR IN, sense), the error mapping (CHECK CONDITION, other statuses,
 * iSCSI response != 0), the multi-step methods (READ CAPACITY 16 -> 10,
 * the block size probe, UNIT ATTENTION resend, allocation growth) and
 * raw.execute returning its status as is, and raw.stream's op (G13).
 * Conformance ids: G13, I1, I2, I3, I6, R3, R4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "proto/errors.h"
#include "proto/pdu.h"
#include "rpc/errors.h"
#include "rpc/scsi.h"

#define DATA_MAX (64u << 20)

/* Params from JSON text (the validator's defaults are given explicitly). */
static json_t *
s_params (const char *text)
{
    json_error_t jerr;
    json_t *p = json_loads (text, 0, &jerr);
    assert_non_null (p);
    return p;
}

/* A new op from params text; asserts it was made. */
static rpc_scsi_op_t *
s_op (const char *method, const char *params, size_t data_len, uint32_t block_size)
{
    json_t *p = s_params (params);
    json_t *error = NULL;
    rpc_scsi_op_t *op =
        rpc_scsi_op_new (method, p, data_len, block_size, DATA_MAX, &error);
    if (!op) {
        char *t = json_dumps (error, JSON_SORT_KEYS);
        fail_msg ("op_new failed: %s", t ? t : "?");
    }
    json_decref (p);
    return op;
}

/* The error op_new gives for params, as compact sorted JSON (freed by the
 * caller). */
static char *
s_op_error (const char *method, const char *params, size_t data_len)
{
    json_t *p = s_params (params);
    json_t *error = NULL;
    rpc_scsi_op_t *op = rpc_scsi_op_new (method, p, data_len, 0, DATA_MAX, &error);
    assert_null (op);
    assert_non_null (error);
    char *t = json_dumps (error, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref (error);
    json_decref (p);
    return t;
}

/* Asserts the current command's CDB equals hex bytes of length n. */
static void
s_cdb_eq (const rpc_scsi_op_t *op, const uint8_t *cdb, size_t n)
{
    const eng_cmd_t *c = rpc_scsi_op_cmd (op);
    assert_int_equal (c->cdb_len, n);
    assert_memory_equal (c->cdb, cdb, n);
}

/* Asserts text equals the JSON value v (stolen) dumped compact with
 * sorted keys. */
static void
s_json_eq (json_t *v, const char *text)
{
    assert_non_null (v);
    char *t = json_dumps (v, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref (v);
    assert_non_null (t);
    assert_string_equal (t, text);
    free (t);
}

/* Takes the op's outcome (attachment index k) and compares it; status is
 * 0 for a result, < 0 for an error. */
static void
s_take_eq (rpc_scsi_op_t *op, size_t k, int want_status, const char *text)
{
    int status = 99;
    json_t *v = rpc_scsi_op_take (op, k, &status);
    if (want_status == 0)
        assert_int_equal (status, 0);
    else
        assert_true (status < 0);
    s_json_eq (v, text);
}

/* A GOOD completion of n Data-In bytes. */
static eng_done_t
s_good (uint32_t n)
{
    eng_done_t d;
    memset (&d, 0, sizeof d);
    d.bytes = n;
    return d;
}

/* A CHECK CONDITION with fixed sense key/asc/ascq. */
static eng_done_t
s_check (uint8_t key, uint8_t asc, uint8_t ascq)
{
    eng_done_t d;
    memset (&d, 0, sizeof d);
    d.status = 0x02;
    d.sense_len = 18;
    d.sense[0] = 0x70;
    d.sense[2] = key;
    d.sense[7] = 10;
    d.sense[12] = asc;
    d.sense[13] = ascq;
    return d;
}

/* READ with block_size: READ(10) bytes, lengths, LUN, tag, attr,
 * timeout; the result with base64 data and as an attachment. */
static void
test_read_known_block_size (void **state)
{
    (void)state;
    rpc_scsi_op_t *op =
        s_op ("scsi.read",
              "{\"session\":\"s1\",\"lun\":1,\"lba\":16,\"blocks\":2,\"block_size\":4,"
              "\"fua\":true,\"timeout_ms\":1500,\"tag\":\"r1\"}",
              0, 0);
    static const uint8_t cdb[] = {0x28, 0x08, 0, 0, 0, 16, 0, 0, 2, 0};
    s_cdb_eq (op, cdb, sizeof cdb);
    const eng_cmd_t *c = rpc_scsi_op_cmd (op);
    static const uint8_t lun1[8] = {0, 1, 0, 0, 0, 0, 0, 0};
    assert_memory_equal (c->lun, lun1, 8);
    assert_int_equal (c->data_in_length, 8);
    assert_int_equal (c->data_out_length, 0);
    assert_int_equal (c->timeout_ms, 1500);
    assert_int_equal (c->attr, PDU_ATTR_SIMPLE);
    assert_int_equal (c->flags, 0);
    assert_string_equal (c->tag, "r1");
    assert_int_equal (rpc_scsi_op_out (op, NULL, NULL), RPC_SCSI_OUT_NONE);
    eng_done_t d = s_good (8);
    static const uint8_t data[8] = "abcdefgh";
    assert_int_equal (rpc_scsi_op_feed (op, &d, data, 8), RPC_SCSI_DONE);
    assert_true (rpc_scsi_op_has_data (op));
    assert_int_equal (rpc_scsi_op_cache_note (op), 0);
    s_take_eq (op, 0, 0, "{\"bytes\":8,\"data\":\"YWJjZGVmZ2g=\"}");
    rpc_scsi_op_destroy (&op);
    assert_null (op);

    op = s_op ("scsi.read",
               "{\"session\":\"s1\",\"lun\":0,\"lba\":4294967296,\"blocks\":1,"
               "\"block_size\":512,\"data_encoding\":\"attachment\"}",
               0, 0);
    static const uint8_t cdb16[] = {0x88, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0};
    s_cdb_eq (op, cdb16, sizeof cdb16);
    assert_true (rpc_scsi_op_wants_attachment (op));
    d = s_good (512);
    static uint8_t block[512];
    assert_int_equal (rpc_scsi_op_feed (op, &d, block, 512), RPC_SCSI_DONE);
    s_take_eq (op, 1, 0, "{\"bytes\":512,\"data\":{\"$attachment\":1}}");
    rpc_scsi_op_destroy (&op);
}

/* READ without block_size and nothing cached: READ CAPACITY(16) first, a
 * UNIT ATTENTION resent once, then READ with the learned size. */
static void
test_read_probe_block_size (void **state)
{
    (void)state;
    rpc_scsi_op_t *op =
        s_op ("scsi.read", "{\"session\":\"s1\",\"lun\":2,\"lba\":0,\"blocks\":3}", 0, 0);
    static const uint8_t rc16[] = {0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0};
    s_cdb_eq (op, rc16, sizeof rc16);
    assert_int_equal (rpc_scsi_op_cmd (op)->data_in_length, 32);
    eng_done_t ua = s_check (0x06, 0x29, 0x00);
    assert_int_equal (rpc_scsi_op_feed (op, &ua, NULL, 0), RPC_SCSI_SEND);
    s_cdb_eq (op, rc16, sizeof rc16);
    uint8_t cap[32] = {0, 0, 0, 0, 0, 0, 0x0f, 0xff, 0, 0, 0x10, 0};
    eng_done_t d = s_good (32);
    assert_int_equal (rpc_scsi_op_feed (op, &d, cap, 32), RPC_SCSI_SEND);
    assert_int_equal (rpc_scsi_op_cache_note (op), 4096);
    static const uint8_t rd[] = {0x28, 0, 0, 0, 0, 0, 0, 0, 3, 0};
    s_cdb_eq (op, rd, sizeof rd);
    assert_int_equal (rpc_scsi_op_cmd (op)->data_in_length, 3 * 4096);
    static uint8_t buf[3 * 4096];
    d = s_good (sizeof buf);
    assert_int_equal (rpc_scsi_op_feed (op, &d, buf, sizeof buf), RPC_SCSI_DONE);
    assert_int_equal (rpc_scsi_op_cache_note (op), 4096);
    s_take_eq (op, 7, 0, "{\"bytes\":12288,\"data\":{\"$attachment\":7}}");
    rpc_scsi_op_destroy (&op);

    /* A cached size skips the probe. */
    op = s_op ("scsi.read", "{\"session\":\"s1\",\"lun\":2,\"lba\":1,\"blocks\":1}", 0,
               512);
    static const uint8_t rd1[] = {0x28, 0, 0, 0, 0, 1, 0, 0, 1, 0};
    s_cdb_eq (op, rd1, sizeof rd1);
    assert_int_equal (rpc_scsi_op_cmd (op)->data_in_length, 512);
    /* An error invalidates the cache entry. */
    eng_done_t me = s_check (0x03, 0x11, 0x00);
    assert_int_equal (rpc_scsi_op_feed (op, &me, NULL, 0), RPC_SCSI_DONE);
    assert_int_equal (rpc_scsi_op_cache_note (op), -1);
    rpc_scsi_op_destroy (&op);
}

/* I1: CHECK CONDITION becomes SCSI_CHECK_CONDITION with the parsed fixed
 * sense; a second UNIT ATTENTION is not resent. */
static void
test_check_condition (void **state)
{
    (void)state;
    rpc_scsi_op_t *op =
        s_op ("scsi.test_unit_ready", "{\"session\":\"s1\",\"lun\":0}", 0, 0);
    static const uint8_t tur[6] = {0};
    s_cdb_eq (op, tur, 6);
    eng_done_t ua = s_check (0x06, 0x29, 0x00);
    assert_int_equal (rpc_scsi_op_feed (op, &ua, NULL, 0), RPC_SCSI_SEND);
    assert_int_equal (rpc_scsi_op_feed (op, &ua, NULL, 0), RPC_SCSI_DONE);
    s_take_eq (op, 0, -1,
               "{\"code\":-32005,\"data\":{\"asc\":41,\"ascq\":0,\"description\":"
               "\"power on, reset, or bus device reset occurred\",\"information\":null,"
               "\"name\":\"SCSI_CHECK_CONDITION\",\"sense\":"
               "\"700006000000000a00000000290000000000\",\"sense_key\":6,"
               "\"sense_key_name\":\"UNIT ATTENTION\",\"status\":2},"
               "\"message\":\"SCSI check condition\"}");
    rpc_scsi_op_destroy (&op);

    /* Fixed sense with VALID and INFORMATION. */
    eng_done_t d = s_check (0x03, 0x11, 0x00);
    d.sense[0] = 0xf0;
    d.sense[3] = 0;
    d.sense[4] = 0;
    d.sense[5] = 0x12;
    d.sense[6] = 0x34;
    json_t *e = rpc_scsi_done_error (&d);
    assert_int_equal (rpc_error_code (e), RPC_E_SCSI_CHECK_CONDITION);
    assert_int_equal (
        json_integer_value (json_object_get (json_object_get (e, "data"), "information")),
        0x1234);
    json_decref (e);

    /* Descriptor sense (0x72) in raw.execute's sense_info. */
    uint8_t desc[8] = {0x72, 0x05, 0x24, 0x00, 0, 0, 0, 0};
    s_json_eq (rpc_scsi_sense_info (desc, 8),
               "{\"asc\":36,\"ascq\":0,\"deferred\":false,\"description\":"
               "\"invalid field in CDB\",\"descriptor\":true,\"information\":null,"
               "\"response_code\":114,\"sense\":\"7205240000000000\",\"sense_key\":5,"
               "\"sense_key_name\":\"ILLEGAL REQUEST\"}");
}

/* I2: other statuses are SCSI_STATUS with their names. I3: an iSCSI
 * response != 0 is a failure even with status GOOD. */
static void
test_status_errors (void **state)
{
    (void)state;
    static const struct {
        uint8_t status;
        const char *json;
    } cases[] = {
        {0x08, "{\"code\":-32006,\"data\":{\"name\":\"SCSI_STATUS\",\"status\":8,"
               "\"status_name\":\"BUSY\"},\"message\":\"SCSI status\"}"},
        {0x18, "{\"code\":-32006,\"data\":{\"name\":\"SCSI_STATUS\",\"status\":24,"
               "\"status_name\":\"RESERVATION_CONFLICT\"},\"message\":\"SCSI status\"}"},
        {0x28, "{\"code\":-32006,\"data\":{\"name\":\"SCSI_STATUS\",\"status\":40,"
               "\"status_name\":\"TASK_SET_FULL\"},\"message\":\"SCSI status\"}"},
        {0x30, "{\"code\":-32006,\"data\":{\"name\":\"SCSI_STATUS\",\"status\":48,"
               "\"status_name\":\"ACA_ACTIVE\"},\"message\":\"SCSI status\"}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rpc_scsi_op_t *op = s_op (
            "scsi.verify", "{\"session\":\"s1\",\"lun\":1,\"lba\":0,\"blocks\":8}", 0, 0);
        eng_done_t d = s_good (0);
        d.status = cases[i].status;
        assert_int_equal (rpc_scsi_op_feed (op, &d, NULL, 0), RPC_SCSI_DONE);
        s_take_eq (op, 0, -1, cases[i].json);
        rpc_scsi_op_destroy (&op);
    }
    eng_done_t good = s_good (0);
    assert_null (rpc_scsi_done_error (&good));
    good.status = 0x04; /* CONDITION MET */
    assert_null (rpc_scsi_done_error (&good));

    /* I3: response 0x01 with status 0x00. */
    rpc_scsi_op_t *op =
        s_op ("scsi.write",
              "{\"session\":\"s1\",\"lun\":1,\"lba\":0,\"blocks\":1,\"block_size\":512,"
              "\"data\":\"x\"}",
              512, 0);
    eng_done_t tf = s_good (0);
    tf.response = 0x01;
    assert_int_equal (rpc_scsi_op_feed (op, &tf, NULL, 0), RPC_SCSI_DONE);
    s_take_eq (op, 0, -1,
               "{\"code\":-32006,\"data\":{\"name\":\"SCSI_STATUS\",\"response\":1,"
               "\"status\":0,\"status_name\":\"TARGET_FAILURE\"},"
               "\"message\":\"SCSI status\"}");
    rpc_scsi_op_destroy (&op);
    /* ... and for raw.execute too. */
    op = s_op ("raw.execute", "{\"session\":\"s1\",\"lun\":0,\"cdb\":\"000000000000\"}",
               0, 0);
    tf.response = 0x80;
    assert_int_equal (rpc_scsi_op_feed (op, &tf, NULL, 0), RPC_SCSI_DONE);
    s_take_eq (op, 0, -1,
               "{\"code\":-32006,\"data\":{\"name\":\"SCSI_STATUS\",\"response\":128,"
               "\"status\":0,\"status_name\":\"VENDOR_SPECIFIC\"},"
               "\"message\":\"SCSI status\"}");
    rpc_scsi_op_destroy (&op);

    /* Engine errors pass through. */
    op = s_op ("scsi.test_unit_ready", "{\"session\":\"s1\",\"lun\":0}", 0, 0);
    assert_int_equal (rpc_scsi_op_fail (op, rpc_error_timeout (30000, true)),
                      RPC_SCSI_DONE);
    assert_int_equal (rpc_scsi_op_cache_note (op), -1);
    s_take_eq (op, 0, -1,
               "{\"code\":-32007,\"data\":{\"aborted\":true,\"name\":\"TIMEOUT\","
               "\"timeout_ms\":30000},\"message\":\"Timeout\"}");
    rpc_scsi_op_destroy (&op);
}

/* READ CAPACITY: (16) rejected with ILLEGAL REQUEST falls back to (10);
 * (16) parsed with LBPPBE/LBPME/LBPRZ. */
static void
test_read_capacity (void **state)
{
    (void)state;
    rpc_scsi_op_t *op =
        s_op ("scsi.read_capacity", "{\"session\":\"s1\",\"lun\":1}", 0, 0);
    eng_done_t ill = s_check (0x05, 0x20, 0x00);
    assert_int_equal (rpc_scsi_op_feed (op, &ill, NULL, 0), RPC_SCSI_SEND);
    static const uint8_t rc10[] = {0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    s_cdb_eq (op, rc10, sizeof rc10);
    assert_int_equal (rpc_scsi_op_cmd (op)->data_in_length, 8);
    uint8_t cap10[8] = {0, 0, 0x07, 0xff, 0, 0, 0x02, 0};
    eng_done_t d = s_good (8);
    assert_int_equal (rpc_scsi_op_feed (op, &d, cap10, 8), RPC_SCSI_DONE);
    assert_int_equal (rpc_scsi_op_cache_note (op), 512);
    assert_false (rpc_scsi_op_has_data (op));
    s_take_eq (op, 0, 0,
               "{\"block_size\":512,\"blocks\":2048,\"bytes\":1048576,\"lbpme\":false,"
               "\"lbppbe\":0,\"lbprz\":false}");
    rpc_scsi_op_destroy (&op);

    op = s_op ("scsi.read_capacity", "{\"session\":\"s1\",\"lun\":1}", 0, 0);
    uint8_t cap16[32] = {0, 0, 0, 0, 0, 0, 0x1f, 0xff, 0, 0, 0x02, 0, 0, 0x03, 0xc0, 0};
    d = s_good (32);
    assert_int_equal (rpc_scsi_op_feed (op, &d, cap16, 32), RPC_SCSI_DONE);
    s_take_eq (op, 0, 0,
               "{\"block_size\":512,\"blocks\":8192,\"bytes\":4194304,\"lbpme\":true,"
               "\"lbppbe\":3,\"lbprz\":true}");
    rpc_scsi_op_destroy (&op);

    /* Another error of (16) is the answer. */
    op = s_op ("scsi.read_capacity", "{\"session\":\"s1\",\"lun\":1}", 0, 0);
    eng_done_t nr = s_check (0x02, 0x04, 0x01);
    assert_int_equal (rpc_scsi_op_feed (op, &nr, NULL, 0), RPC_SCSI_DONE);
    int status = 0;
    json_t *e = rpc_scsi_op_take (op, 0, &status);
    assert_int_equal (rpc_error_code (e), RPC_E_SCSI_CHECK_CONDITION);
    json_decref (e);
    rpc_scsi_op_destroy (&op);
}

/* REPORT LUNS grows its allocation length when the list is longer; a
 * multi-level LUN is shown as a hex string (R3: never a crash). */
static void
test_report_luns (void **state)
{
    (void)state;
    rpc_scsi_op_t *op = s_op ("scsi.report_luns", "{\"session\":\"s1\"}", 0, 0);
    static const uint8_t rl[] = {0xa0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0, 0, 0};
    s_cdb_eq (op, rl, sizeof rl);
    static const uint8_t lun0[8] = {0};
    assert_memory_equal (rpc_scsi_op_cmd (op)->lun, lun0, 8);
    /* 600 LUNs declared: 4808 bytes, more than 4096. */
    uint8_t *big = calloc (1, 4096);
    assert_non_null (big);
    big[2] = (600 * 8) >> 8;
    big[3] = (600 * 8) & 0xff;
    eng_done_t d = s_good (4096);
    assert_int_equal (rpc_scsi_op_feed (op, &d, big, 4096), RPC_SCSI_SEND);
    static const uint8_t rl2[] = {0xa0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0xc8, 0, 0};
    s_cdb_eq (op, rl2, sizeof rl2);
    assert_int_equal (rpc_scsi_op_cmd (op)->data_in_length, 4808);
    free (big);
    uint8_t list[8 + 4 * 8] = {0, 0, 0, 32};
    list[8 + 8 + 1] = 1;                   /* LUN 1 */
    list[8 + 16] = 0x41, list[8 + 17] = 0; /* flat 256 */
    list[8 + 24] = 0x01, list[8 + 25] = 0x02, list[8 + 26] = 0x00,
             list[8 + 27] = 0x03; /* two levels */
    d = s_good (sizeof list);
    assert_int_equal (rpc_scsi_op_feed (op, &d, list, sizeof list), RPC_SCSI_DONE);
    s_take_eq (op, 0, 0, "{\"luns\":[0,1,256,\"0x0102000300000000\"]}");
    rpc_scsi_op_destroy (&op);
}

/* INQUIRY: standard data parsed; VPD 0x00, 0x80, 0x83, 0xB0 parsed with
 * page and data; a page without evpd is refused. */
static void
test_inquiry (void **state)
{
    (void)state;
    rpc_scsi_op_t *op = s_op ("scsi.inquiry", "{\"session\":\"s1\",\"lun\":1}", 0, 0);
    static const uint8_t inq[] = {0x12, 0, 0, 0, 0xff, 0};
    s_cdb_eq (op, inq, sizeof inq);
    uint8_t std[36] = {0x00, 0x00, 0x05, 0x12, 31, 0, 0, 0x02};
    memcpy (std + 8, "IET     VIRTUAL-DISK    0001", 28);
    eng_done_t d = s_good (36);
    assert_int_equal (rpc_scsi_op_feed (op, &d, std, 36), RPC_SCSI_DONE);
    s_take_eq (
        op, 0, 0,
        "{\"cmdque\":true,\"data\":\"AAAFEh8AAAJJRVQgICAgIFZJUlRVQUwtRElTSyAgIC"
        "AwMDAx\",\"device_type\":0,\"device_type_name\":"
        "\"direct-access block device\",\"hisup\":true,\"multip\":false,"
        "\"normaca\":false,\"peripheral_qualifier\":0,\"product\":\"VIRTUAL-DISK\","
        "\"protect\":false,\"removable\":false,\"response_data_format\":2,"
        "\"revision\":\"0001\",\"tpc\":false,\"tpgs\":0,\"vendor\":\"IET\","
        "\"version\":5}");
    rpc_scsi_op_destroy (&op);

    op = s_op ("scsi.inquiry", "{\"session\":\"s1\",\"lun\":1,\"evpd\":true,\"page\":0}",
               0, 0);
    static const uint8_t vpd0[] = {0x12, 1, 0, 0x10, 0, 0};
    s_cdb_eq (op, vpd0, sizeof vpd0);
    uint8_t p0[7] = {0, 0, 0, 3, 0x00, 0x80, 0x83};
    d = s_good (7);
    assert_int_equal (rpc_scsi_op_feed (op, &d, p0, 7), RPC_SCSI_DONE);
    s_take_eq (op, 0, 0, "{\"data\":\"AAAAAwCAgw==\",\"page\":0,\"pages\":[0,128,131]}");
    rpc_scsi_op_destroy (&op);

    op = s_op ("scsi.inquiry",
               "{\"session\":\"s1\",\"lun\":1,\"evpd\":true,\"page\":128}", 0, 0);
    uint8_t p80[10] = {0, 0x80, 0, 6, 'b', 'e', 'e', 'f', '0', '1'};
    d = s_good (10);
    assert_int_equal (rpc_scsi_op_feed (op, &d, p80, 10), RPC_SCSI_DONE);
    s_take_eq (op, 3, 0,
               "{\"data\":{\"$attachment\":3},\"page\":128,\"serial\":\"beef01\"}");
    rpc_scsi_op_destroy (&op);

    op = s_op ("scsi.inquiry",
               "{\"session\":\"s1\",\"lun\":1,\"evpd\":true,\"page\":131}", 0, 0);
    uint8_t p83[4 + 12] = {0,    0x83, 0,    12,   0x01, 0x03, 0x00, 0x08,
                           0x60, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07};
    d = s_good (sizeof p83);
    assert_int_equal (rpc_scsi_op_feed (op, &d, p83, sizeof p83), RPC_SCSI_DONE);
    s_take_eq (op, 1, 0,
               "{\"data\":{\"$attachment\":1},\"designators\":[{\"association\":0,"
               "\"code_set\":1,\"designator\":\"naa.6001020304050607\","
               "\"protocol_identifier\":null,\"type\":3,\"type_name\":\"NAA\"}],"
               "\"page\":131}");
    rpc_scsi_op_destroy (&op);

    op = s_op ("scsi.inquiry",
               "{\"session\":\"s1\",\"lun\":1,\"evpd\":true,\"page\":176}", 0, 0);
    uint8_t pb0[64] = {0, 0xb0, 0, 60, 0, 128, 0, 8, 0, 0, 0x10, 0, 0, 0, 0x02, 0};
    pb0[23] = 0xff; /* max unmap LBA count */
    pb0[27] = 0x10; /* max unmap descriptors */
    d = s_good (64);
    assert_int_equal (rpc_scsi_op_feed (op, &d, pb0, 64), RPC_SCSI_DONE);
    int status = 1;
    json_t *r = rpc_scsi_op_take (op, 1, &status);
    assert_int_equal (status, 0);
    assert_int_equal (json_integer_value (json_object_get (r, "page")), 176);
    assert_int_equal (json_integer_value (json_object_get (r, "max_compare_write_len")),
                      128);
    assert_int_equal (json_integer_value (json_object_get (r, "max_transfer_len")), 4096);
    assert_int_equal (json_integer_value (json_object_get (r, "opt_transfer_len")), 512);
    assert_int_equal (
        json_integer_value (json_object_get (r, "opt_transfer_len_granularity")), 8);
    assert_int_equal (json_integer_value (json_object_get (r, "max_unmap_lba_count")),
                      255);
    assert_int_equal (
        json_integer_value (json_object_get (r, "max_unmap_descriptor_count")), 16);
    json_decref (r);
    rpc_scsi_op_destroy (&op);

    /* A VPD page that declares more than 4096 bytes is asked again. */
    op = s_op ("scsi.inquiry",
               "{\"session\":\"s1\",\"lun\":1,\"evpd\":true,\"page\":131}", 0, 0);
    uint8_t *long83 = calloc (1, 4096);
    assert_non_null (long83);
    long83[1] = 0x83, long83[2] = 0x17, long83[3] = 0x00;
    d = s_good (4096);
    assert_int_equal (rpc_scsi_op_feed (op, &d, long83, 4096), RPC_SCSI_SEND);
    static const uint8_t inq_grown[] = {0x12, 1, 0x83, 0x17, 0x04, 0};
    s_cdb_eq (op, inq_grown, sizeof inq_grown);
    free (long83);
    rpc_scsi_op_destroy (&op);

    /* Malformed data is a PROTOCOL_ERROR; a page without evpd is refused. */
    op = s_op ("scsi.inquiry", "{\"session\":\"s1\",\"lun\":1}", 0, 0);
    d = s_good (0);
    assert_int_equal (rpc_scsi_op_feed (op, &d, NULL, 0), RPC_SCSI_DONE);
    s_take_eq (op, 0, -1,
               "{\"code\":-32014,\"data\":{\"detail\":\"malformed INQUIRY data\","
               "\"name\":\"PROTOCOL_ERROR\"},\"message\":\"Protocol error\"}");
    rpc_scsi_op_destroy (&op);
    char *t =
        s_op_error ("scsi.inquiry", "{\"session\":\"s1\",\"lun\":1,\"page\":128}", 0);
    assert_string_equal (t, "{\"code\":-32602,\"data\":{\"name\":\"INVALID_PARAMS\","
                            "\"param\":\"params.page\",\"reason\":\"a page needs evpd\"},"
                            "\"message\":\"Invalid params\"}");
    free (t);
}

/* I6: WRITE: Data-Out from the param, the bytes the target used with an
 * underflow residual; a length mismatch is refused before sending. */
static void
test_write (void **state)
{
    (void)state;
    rpc_scsi_op_t *op = s_op ("scsi.write",
                              "{\"session\":\"s1\",\"lun\":3,\"lba\":7,\"blocks\":2,"
                              "\"block_size\":512,\"data\":\"\"}",
                              1024, 0);
    static const uint8_t wr[] = {0x2a, 0, 0, 0, 0, 7, 0, 0, 2, 0};
    s_cdb_eq (op, wr, sizeof wr);
    const eng_cmd_t *c = rpc_scsi_op_cmd (op);
    assert_int_equal (c->data_out_length, 1024);
    assert_int_equal (c->data_in_length, 0);
    assert_int_equal (rpc_scsi_op_out (op, NULL, NULL), RPC_SCSI_OUT_PARAM);
    eng_done_t d = s_good (0);
    d.underflow = 1;
    d.residual = 512;
    assert_int_equal (rpc_scsi_op_feed (op, &d, NULL, 0), RPC_SCSI_DONE);
    assert_false (rpc_scsi_op_has_data (op));
    s_take_eq (op, 1, 0, "{\"bytes\":512}");
    rpc_scsi_op_destroy (&op);

    char *t = s_op_error ("scsi.write",
                          "{\"session\":\"s1\",\"lun\":3,\"lba\":7,\"blocks\":2,"
                          "\"block_size\":512,\"data\":\"\"}",
                          1000);
    assert_string_equal (t, "{\"code\":-32602,\"data\":{\"name\":\"INVALID_PARAMS\","
                            "\"param\":\"params.data\",\"reason\":"
                            "\"length is not blocks times block_size\"},"
                            "\"message\":\"Invalid params\"}");
    free (t);
    /* R3: a LUN above 16383 has no flat encoding. */
    t = s_op_error ("scsi.test_unit_ready", "{\"session\":\"s1\",\"lun\":70000}", 0);
    assert_string_equal (t, "{\"code\":-32602,\"data\":{\"name\":\"INVALID_PARAMS\","
                            "\"param\":\"params.lun\",\"reason\":\"not a LUN\"},"
                            "\"message\":\"Invalid params\"}");
    free (t);
    /* A hex SAM LUN is taken raw. */
    op = s_op ("scsi.test_unit_ready",
               "{\"session\":\"s1\",\"lun\":\"0x0102000300000000\"}", 0, 0);
    static const uint8_t ml[8] = {1, 2, 0, 3, 0, 0, 0, 0};
    assert_memory_equal (rpc_scsi_op_cmd (op)->lun, ml, 8);
    rpc_scsi_op_destroy (&op);
    /* A read larger than data_bytes. */
    t = s_op_error ("scsi.read",
                    "{\"session\":\"s1\",\"lun\":3,\"lba\":0,\"blocks\":200000,"
                    "\"block_size\":512}",
                    0);
    assert_string_equal (t, "{\"code\":-32011,\"data\":{\"limit\":\"data_bytes\","
                            "\"name\":\"LIMIT_EXCEEDED\",\"value\":102400000},"
                            "\"message\":\"Limit exceeded\"}");
    free (t);
}

/* UNMAP and PERSISTENT RESERVE OUT: the parameter lists built as Data-Out;
 * COMPARE AND WRITE and PR OUT are non-idempotent; a miscompare is a
 * CHECK CONDITION with MISCOMPARE. */
static void
test_built_lists (void **state)
{
    (void)state;
    rpc_scsi_op_t *op = s_op ("scsi.unmap",
                              "{\"session\":\"s1\",\"lun\":1,\"ranges\":[{\"lba\":1,"
                              "\"blocks\":2},{\"lba\":4294967296,\"blocks\":8}]}",
                              0, 0);
    static const uint8_t um[] = {0x42, 0, 0, 0, 0, 0, 0, 0, 40, 0};
    s_cdb_eq (op, um, sizeof um);
    const uint8_t *buf = NULL;
    size_t len = 0;
    assert_int_equal (rpc_scsi_op_out (op, &buf, &len), RPC_SCSI_OUT_BUILT);
    static const uint8_t list[40] = {0, 38, 0, 32, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                     0, 1,  0, 0,  0, 2, 0, 0, 0, 0, 0, 0, 0, 1,
                                     0, 0,  0, 0,  0, 0, 0, 8, 0, 0, 0, 0};
    assert_int_equal (len, 40);
    assert_memory_equal (buf, list, 40);
    assert_int_equal (rpc_scsi_op_cmd (op)->data_out_length, 40);
    assert_int_equal (rpc_scsi_op_cmd (op)->flags, 0);
    rpc_scsi_op_destroy (&op);

    op = s_op ("scsi.persistent_reserve_out",
               "{\"session\":\"s1\",\"lun\":1,\"service_action\":1,\"scope_type\":3,"
               "\"key\":\"0xffffffffffffffff\",\"sa_key\":5}",
               0, 0);
    static const uint8_t pro[] = {0x5f, 1, 3, 0, 0, 0, 0, 0, 24, 0};
    s_cdb_eq (op, pro, sizeof pro);
    assert_int_equal (rpc_scsi_op_out (op, &buf, &len), RPC_SCSI_OUT_BUILT);
    static const uint8_t plist[24] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                      0,    0,    0,    0,    0,    0,    0,    5};
    assert_int_equal (len, 24);
    assert_memory_equal (buf, plist, 24);
    assert_int_equal (rpc_scsi_op_cmd (op)->flags, ENG_CMD_F_NON_IDEMPOTENT);
    rpc_scsi_op_destroy (&op);

    op = s_op ("scsi.compare_and_write",
               "{\"session\":\"s1\",\"lun\":1,\"lba\":9,\"blocks\":1,\"data\":\"\"}",
               1024, 0);
    static const uint8_t caw[16] = {0x89, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0};
    s_cdb_eq (op, caw, sizeof caw);
    assert_int_equal (rpc_scsi_op_cmd (op)->data_out_length, 1024);
    assert_int_equal (rpc_scsi_op_cmd (op)->flags, ENG_CMD_F_NON_IDEMPOTENT);
    eng_done_t mis = s_check (0x0e, 0x1d, 0x00);
    assert_int_equal (rpc_scsi_op_feed (op, &mis, NULL, 0), RPC_SCSI_DONE);
    int status = 0;
    json_t *e = rpc_scsi_op_take (op, 0, &status);
    assert_true (status < 0);
    json_t *data = json_object_get (e, "data");
    assert_string_equal (json_string_value (json_object_get (data, "sense_key_name")),
                         "MISCOMPARE");
    assert_int_equal (json_integer_value (json_object_get (data, "asc")), 0x1d);
    json_decref (e);
    rpc_scsi_op_destroy (&op);
}

/* The other typed CDBs: VERIFY, SYNCHRONIZE CACHE, WRITE SAME, MODE SENSE
 * and SELECT, START STOP UNIT, REQUEST SENSE, PR IN. */
static void
test_other_cdbs (void **state)
{
    (void)state;
    static const struct {
        const char *method;
        const char *params;
        size_t data_len;
        uint8_t cdb[16];
        size_t cdb_len;
        uint32_t in, out;
    } cases[] = {
        {"scsi.verify",
         "{\"lun\":1,\"lba\":5,\"blocks\":6}",
         0,
         {0x2f, 0, 0, 0, 0, 5, 0, 0, 6, 0},
         10,
         0,
         0},
        {"scsi.synchronize_cache",
         "{\"lun\":1}",
         0,
         {0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0},
         10,
         0,
         0},
        {"scsi.write_same",
         "{\"lun\":1,\"lba\":2,\"blocks\":3,\"unmap\":true}",
         512,
         {0x41, 0x08, 0, 0, 0, 2, 0, 0, 3, 0},
         10,
         0,
         512},
        {"scsi.mode_sense",
         "{\"lun\":1,\"page\":63,\"cdb_size\":6}",
         0,
         {0x1a, 0, 0x3f, 0, 0xff, 0},
         6,
         255,
         0},
        {"scsi.mode_sense",
         "{\"lun\":1,\"page\":8,\"subpage\":1,\"dbd\":true}",
         0,
         {0x5a, 0x08, 0x08, 0x01, 0, 0, 0, 0x10, 0x00, 0},
         10,
         4096,
         0},
        {"scsi.mode_select",
         "{\"lun\":1,\"save\":true,\"cdb_size\":6}",
         12,
         {0x15, 0x11, 0, 0, 12, 0},
         6,
         0,
         12},
        {"scsi.start_stop_unit",
         "{\"lun\":1,\"start\":true,\"load_eject\":true}",
         0,
         {0x1b, 0, 0, 0, 0x03, 0},
         6,
         0,
         0},
        {"scsi.request_sense", "{\"lun\":1}", 0, {0x03, 0, 0, 0, 252, 0}, 6, 252, 0},
        {"scsi.persistent_reserve_in",
         "{\"lun\":1,\"service_action\":0}",
         0,
         {0x5e, 0, 0, 0, 0, 0, 0, 0x20, 0x00, 0},
         10,
         8192,
         0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        rpc_scsi_op_t *op = s_op (cases[i].method, cases[i].params, cases[i].data_len, 0);
        s_cdb_eq (op, cases[i].cdb, cases[i].cdb_len);
        assert_int_equal (rpc_scsi_op_cmd (op)->data_in_length, cases[i].in);
        assert_int_equal (rpc_scsi_op_cmd (op)->data_out_length, cases[i].out);
        rpc_scsi_op_destroy (&op);
    }
    char *t = s_op_error ("scsi.write_same", "{\"lun\":1,\"lba\":2,\"blocks\":0}", 512);
    assert_string_equal (t, "{\"code\":-32602,\"data\":{\"name\":\"INVALID_PARAMS\","
                            "\"param\":\"params\",\"reason\":\"does not fit the CDB\"},"
                            "\"message\":\"Invalid params\"}");
    free (t);
}

/* Results of REQUEST SENSE, MODE SENSE and PR IN READ KEYS /
 * READ RESERVATION. */
static void
test_data_results (void **state)
{
    (void)state;
    rpc_scsi_op_t *op = s_op ("scsi.request_sense", "{\"lun\":1}", 0, 0);
    uint8_t sense[18] = {0x70, 0, 0x02, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x04, 0x01};
    eng_done_t d = s_good (18);
    assert_int_equal (rpc_scsi_op_feed (op, &d, sense, 18), RPC_SCSI_DONE);
    s_take_eq (op, 0, 0,
               "{\"asc\":4,\"ascq\":1,\"deferred\":false,\"description\":\"logical unit "
               "is in process of becoming ready\",\"descriptor\":false,\"information\":"
               "null,\"response_code\":112,\"sense\":\"700002000000000a"
               "00000000040100000000\",\"sense_key\":2,\"sense_key_name\":"
               "\"NOT READY\"}");
    rpc_scsi_op_destroy (&op);

    op = s_op ("scsi.mode_sense", "{\"lun\":1,\"page\":8}", 0, 0);
    uint8_t ms[12] = {0, 10, 0, 0, 0, 0, 0, 0, 0x08, 2, 0x04, 0};
    d = s_good (12);
    assert_int_equal (rpc_scsi_op_feed (op, &d, ms, 12), RPC_SCSI_DONE);
    s_take_eq (op, 0, 0, "{\"data\":\"AAoAAAAAAAAIAgQA\"}");
    rpc_scsi_op_destroy (&op);

    op = s_op ("scsi.persistent_reserve_in", "{\"lun\":1,\"service_action\":0}", 0, 0);
    uint8_t keys[24] = {0, 0, 0, 7, 0,    0,    0,    16,   0,    0,    0,    0,
                        0, 0, 0, 9, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe};
    d = s_good (24);
    assert_int_equal (rpc_scsi_op_feed (op, &d, keys, 24), RPC_SCSI_DONE);
    s_take_eq (op, 2, 0,
               "{\"data\":{\"$attachment\":2},\"generation\":7,"
               "\"keys\":[9,\"0xfffffffffffffffe\"]}");
    rpc_scsi_op_destroy (&op);

    op = s_op ("scsi.persistent_reserve_in", "{\"lun\":1,\"service_action\":1}", 0, 0);
    uint8_t res[24] = {0, 0, 0, 8, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 9};
    res[21] = 0x03; /* scope 0, type 3 */
    d = s_good (24);
    assert_int_equal (rpc_scsi_op_feed (op, &d, res, 24), RPC_SCSI_DONE);
    s_take_eq (op, 2, 0,
               "{\"data\":{\"$attachment\":2},\"generation\":8,"
               "\"reservation\":{\"key\":9,\"scope\":0,\"type\":3}}");
    rpc_scsi_op_destroy (&op);
}

/* raw.execute: the status returned as is (no resend after a UNIT
 * ATTENTION), sense in hex and parsed, residuals; R4: a 32-byte CDB. */
static void
test_raw_execute (void **state)
{
    (void)state;
    rpc_scsi_op_t *op =
        s_op ("raw.execute",
              "{\"session\":\"s1\",\"lun\":1,\"cdb\":\"1200000024000000\","
              "\"data_in_length\":36,\"task_attribute\":\"ordered\","
              "\"tag\":\"x\"}",
              0, 0);
    static const uint8_t cdb[8] = {0x12, 0, 0, 0, 0x24, 0, 0, 0};
    s_cdb_eq (op, cdb, 8);
    const eng_cmd_t *c = rpc_scsi_op_cmd (op);
    assert_int_equal (c->attr, PDU_ATTR_ORDERED);
    assert_int_equal (c->data_in_length, 36);
    assert_int_equal (c->flags, ENG_CMD_F_NON_IDEMPOTENT);
    assert_string_equal (c->tag, "x");
    eng_done_t ua = s_check (0x06, 0x29, 0x00);
    ua.sense_len = 14;
    ua.underflow = 1;
    ua.residual = 36;
    assert_int_equal (rpc_scsi_op_feed (op, &ua, NULL, 0), RPC_SCSI_DONE);
    assert_true (rpc_scsi_op_has_data (op));
    s_take_eq (op, 0, 0,
               "{\"bytes\":0,\"data\":\"\",\"overflow\":false,\"residual\":36,\"sense\":"
               "\"700006000000000a000000002900\",\"sense_info\":{\"asc\":41,\"ascq\":0,"
               "\"deferred\":false,\"description\":\"power on, reset, or bus device "
               "reset occurred\",\"descriptor\":false,\"information\":null,"
               "\"response_code\":112,\"sense\":\"700006000000000a000000002900\","
               "\"sense_key\":6,\"sense_key_name\":\"UNIT ATTENTION\"},\"status\":2,"
               "\"status_name\":\"CHECK_CONDITION\",\"underflow\":true}");
    rpc_scsi_op_destroy (&op);

    /* GOOD with data, as an attachment. */
    op = s_op ("raw.execute",
               "{\"session\":\"s1\",\"lun\":0,\"cdb\":\"a0000000000000001000000000\","
               "\"data_in_length\":16,\"data_encoding\":\"attachment\"}",
               0, 0);
    uint8_t luns[16] = {0, 0, 0, 8};
    eng_done_t d = s_good (16);
    assert_int_equal (rpc_scsi_op_feed (op, &d, luns, 16), RPC_SCSI_DONE);
    s_take_eq (op, 1, 0,
               "{\"bytes\":16,\"data\":{\"$attachment\":1},\"overflow\":false,"
               "\"residual\":0,\"sense\":\"\",\"sense_info\":null,\"status\":0,"
               "\"status_name\":\"GOOD\",\"underflow\":false}");
    rpc_scsi_op_destroy (&op);

    /* R4: a 32-byte variable-length CDB and Data-Out from the param. */
    op = s_op ("raw.execute",
               "{\"session\":\"s1\",\"lun\":0,\"cdb\":\"7f000000000000180000000000000000"
               "0000000000000000000000000000000000\",\"data\":\"\"}",
               4, 0);
    assert_int_equal (rpc_scsi_op_cmd (op)->cdb_len, 33);
    assert_int_equal (rpc_scsi_op_cmd (op)->data_out_length, 4);
    assert_int_equal (rpc_scsi_op_out (op, NULL, NULL), RPC_SCSI_OUT_PARAM);
    rpc_scsi_op_destroy (&op);

    /* G13: raw.stream is raw.execute with ENG_CMD_F_STREAM and the window;
     * its length is not bounded by data_bytes (only the window is) and its
     * result has no data: bytes is what the io actor streamed. */
    op = s_op ("raw.stream",
               "{\"session\":\"s1\",\"lun\":0,\"cdb\":\"28000000000000800000\","
               "\"data_in_length\":134217728,\"window_bytes\":1048576,"
               "\"data_encoding\":\"attachment\"}",
               0, 0);
    assert_int_equal (rpc_scsi_op_cmd (op)->data_in_length, 134217728u);
    assert_int_equal (rpc_scsi_op_cmd (op)->window_bytes, 1048576u);
    assert_int_equal (rpc_scsi_op_cmd (op)->flags,
                      ENG_CMD_F_NON_IDEMPOTENT | ENG_CMD_F_STREAM);
    eng_done_t sd = s_good (134217728u);
    assert_int_equal (rpc_scsi_op_feed (op, &sd, NULL, 0), RPC_SCSI_DONE);
    assert_false (rpc_scsi_op_has_data (op));
    s_take_eq (op, 0, 0,
               "{\"bytes\":134217728,\"overflow\":false,\"residual\":0,\"sense\":\"\","
               "\"sense_info\":null,\"status\":0,\"status_name\":\"GOOD\","
               "\"underflow\":false}");
    rpc_scsi_op_destroy (&op);
    op = s_op ("raw.stream",
               "{\"session\":\"s1\",\"lun\":0,\"cdb\":\"28000000000000010000\","
               "\"data_in_length\":512}",
               0, 0);
    assert_int_equal (rpc_scsi_op_cmd (op)->window_bytes, 4u << 20); /* default */
    rpc_scsi_op_destroy (&op);

    char *t =
        s_op_error ("raw.execute", "{\"session\":\"s1\",\"lun\":0,\"cdb\":\"12z0\"}", 0);
    assert_string_equal (t, "{\"code\":-32602,\"data\":{\"name\":\"INVALID_PARAMS\","
                            "\"param\":\"params.cdb\",\"reason\":"
                            "\"not a CDB of 1 to 260 bytes in hex\"},"
                            "\"message\":\"Invalid params\"}");
    free (t);
    /* G13: window_bytes above the data_bytes limit is refused. */
    t = s_op_error ("raw.stream",
                    "{\"session\":\"s1\",\"lun\":0,\"cdb\":\"00\","
                    "\"data_in_length\":0,\"window_bytes\":67108865}",
                    0);
    assert_string_equal (t, "{\"code\":-32011,\"data\":{\"limit\":\"data_bytes\","
                            "\"name\":\"LIMIT_EXCEEDED\",\"value\":67108865},"
                            "\"message\":\"Limit exceeded\"}");
    free (t);
    assert_true (rpc_scsi_is_method ("raw.execute"));
    assert_true (rpc_scsi_is_method ("scsi.unmap"));
    assert_true (rpc_scsi_is_method ("raw.stream"));
    assert_false (rpc_scsi_is_method ("tmf.lun_reset"));
}

/* LUN and value conversions. */
static void
test_conversions (void **state)
{
    (void)state;
    uint8_t lun[8];
    json_t *v = json_integer (300);
    assert_int_equal (rpc_scsi_lun (v, lun), 0);
    static const uint8_t flat300[8] = {0x41, 0x2c, 0, 0, 0, 0, 0, 0};
    assert_memory_equal (lun, flat300, 8);
    s_json_eq (rpc_scsi_lun_json (lun), "300");
    json_decref (v);
    v = json_integer (-1);
    assert_int_equal (rpc_scsi_lun (v, lun), UIS_ERR_LUN_ENCODING);
    json_decref (v);
    v = json_string ("0xc101");
    assert_int_equal (rpc_scsi_lun (v, lun), 0);
    json_decref (v);
    v = json_true ();
    assert_int_equal (rpc_scsi_lun (v, lun), UIS_ERR_INVALID_ARG);
    json_decref (v);
    json_t *u = rpc_scsi_u64_json (UINT64_MAX);
    s_json_eq (u, "\"0xffffffffffffffff\"");
    u = rpc_scsi_u64_json (5);
    s_json_eq (u, "5");
    assert_null (rpc_scsi_sense_info (NULL, 0));
    uint8_t junk[4] = {0x01, 2, 3, 4};
    assert_null (rpc_scsi_sense_info (junk, 4));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_read_known_block_size),
        cmocka_unit_test (test_read_probe_block_size),
        cmocka_unit_test (test_check_condition),
        cmocka_unit_test (test_status_errors),
        cmocka_unit_test (test_read_capacity),
        cmocka_unit_test (test_report_luns),
        cmocka_unit_test (test_inquiry),
        cmocka_unit_test (test_write),
        cmocka_unit_test (test_built_lists),
        cmocka_unit_test (test_other_cdbs),
        cmocka_unit_test (test_data_results),
        cmocka_unit_test (test_raw_execute),
        cmocka_unit_test (test_conversions),
    };
    return cmocka_run_group_tests_name ("rpc_scsi", tests, NULL, NULL);
}
