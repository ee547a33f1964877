/* test_pdu.c: the iSCSI PDU codec (proto/pdu.c) against hand-written bytes
 * from the layouts of RFC 7143 §11.
 *
 * Conformance ids covered: A2 (pad bytes zero, data digest over data +
 * pad), A3 (no data digest for DSL 0), A4 (header digest over BHS + AHS),
 * A5 (unknown opcodes rejected by the decoder), D2 (digest byte order),
 * D3 (header/data digests for every outgoing opcode), R4 (extended-CDB
 * AHS), and the wire layouts behind E1, F3, F5, G5, G6, G11, I3, J1, J3,
 * K3, L1, M1, N1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "proto/crc32c.h"
#include "proto/errors.h"
#include "proto/pdu.h"

/* Parses hand-written hex ("01 c1 00 ...", spaces and '|' ignored) into
 * out; fails the test unless exactly n bytes result. */
static void
s_hex (const char *s, uint8_t *out, size_t n)
{
    size_t k = 0;
    int hi = -1;
    for (; *s; s++) {
        int v;
        if (*s >= '0' && *s <= '9')
            v = *s - '0';
        else if (*s >= 'a' && *s <= 'f')
            v = *s - 'a' + 10;
        else if (*s >= 'A' && *s <= 'F')
            v = *s - 'A' + 10;
        else
            continue;
        if (hi < 0)
            hi = v;
        else {
            assert_true (k < n);
            out[k++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    assert_int_equal (hi, -1);
    assert_int_equal (k, n);
}

/* Asserts bhs equals the hand-written hex, printing the first difference. */
static void
s_expect_bhs (const uint8_t *bhs, const char *hex)
{
    uint8_t want[PDU_BHS_LEN];
    s_hex (hex, want, sizeof want);
    for (size_t i = 0; i < PDU_BHS_LEN; i++)
        if (bhs[i] != want[i]) {
            print_error ("byte %zu: got %02x want %02x\n", i, bhs[i], want[i]);
            fail ();
        }
}

/* Encodes p, compares with hex, decodes back and checks the decoded form
 * equals p (p must be zero-initialized then filled, and normalized). */
static void
s_encode_check (const pdu_t *p, const char *hex)
{
    uint8_t bhs[PDU_BHS_LEN];
    assert_int_equal (pdu_bhs_encode (p, bhs), 0);
    s_expect_bhs (bhs, hex);
    pdu_t q;
    assert_int_equal (pdu_bhs_decode (bhs, &q), 0);
    assert_memory_equal (&q, p, sizeof q);
}

/* Decodes hand-written hex into *p. */
static void
s_decode_hex (const char *hex, pdu_t *p)
{
    uint8_t bhs[PDU_BHS_LEN];
    s_hex (hex, bhs, sizeof bhs);
    assert_int_equal (pdu_bhs_decode (bhs, p), 0);
    /* And back: the encoder reproduces the same bytes (they are canonical). */
    uint8_t again[PDU_BHS_LEN];
    assert_int_equal (pdu_bhs_encode (p, again), 0);
    assert_memory_equal (again, bhs, PDU_BHS_LEN);
}

/* ------------------------------------------------------- encoders */

/* SCSI Command READ(10): F=1 R=1 ATTR=SIMPLE, EDTL 4096, LUN 1. */
static void
test_scsi_cmd_read (void **state)
{
    (void)state;
    pdu_t p;
    memset (&p, 0, sizeof p);
    p.opcode = PDU_OP_SCSI_CMD;
    p.final = true;
    p.lun = 0x0001000000000000ull;
    p.itt = 0x11223344;
    p.u.scsi_cmd.read = true;
    p.u.scsi_cmd.attr = PDU_ATTR_SIMPLE;
    p.u.scsi_cmd.expected_data_transfer_length = 4096;
    p.u.scsi_cmd.cmdsn = 0x10;
    p.u.scsi_cmd.exp_statsn = 0x20;
    static const uint8_t cdb[10] = {0x28, 0, 0, 0, 0, 0x10, 0, 0, 0x08, 0};
    assert_int_equal (pdu_cdb_set (&p, NULL, cdb, sizeof cdb), 0);
    s_encode_check (&p, "01 c1 00 00 | 00 00 00 00 | 00 01 00 00 00 00 00 00 |"
                        "11 22 33 44 | 00 00 10 00 | 00 00 00 10 | 00 00 00 20 |"
                        "28 00 00 00 00 10 00 00 08 00 00 00 00 00 00 00");
}

/* SCSI Command WRITE, F=0 (H3: unsolicited Data-Out follows), W=1,
 * ORDERED, immediate bit, 512 bytes of immediate data (DSL). */
static void
test_scsi_cmd_write (void **state)
{
    (void)state;
    pdu_t p;
    memset (&p, 0, sizeof p);
    p.opcode = PDU_OP_SCSI_CMD;
    p.immediate = true;
    p.final = false;
    p.data_segment_length = 512;
    p.lun = 0x0002000000000000ull;
    p.itt = 7;
    p.u.scsi_cmd.write = true;
    p.u.scsi_cmd.attr = PDU_ATTR_ORDERED;
    p.u.scsi_cmd.expected_data_transfer_length = 0x10000;
    p.u.scsi_cmd.cmdsn = 0xfffffff0;
    p.u.scsi_cmd.exp_statsn = 1;
    p.u.scsi_cmd.cdb[0] = 0x2a;
    s_encode_check (&p, "41 22 00 00 | 00 00 02 00 | 00 02 00 00 00 00 00 00 |"
                        "00 00 00 07 | 00 01 00 00 | ff ff ff f0 | 00 00 00 01 |"
                        "2a 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    /* Field widths are checked. */
    uint8_t bhs[PDU_BHS_LEN];
    memset (bhs, 0xee, sizeof bhs);
    p.u.scsi_cmd.attr = 8;
    assert_int_equal (pdu_bhs_encode (&p, bhs), UIS_ERR_OUT_OF_RANGE);
    assert_int_equal (bhs[0], 0xee); /* untouched on error */
}

/* The iSCSI read command of RFC 3720 B.4, whose header CRC32C is
 * 0xD9963A56 (D2: sent as 56 3a 96 d9; big-endian quirk d9 96 3a 56). */
static void
test_scsi_cmd_rfc_vector (void **state)
{
    (void)state;
    pdu_t p;
    memset (&p, 0, sizeof p);
    p.opcode = PDU_OP_SCSI_CMD;
    p.final = true;
    p.itt = 0x14000000;
    p.u.scsi_cmd.read = true;
    p.u.scsi_cmd.expected_data_transfer_length = 0x400;
    p.u.scsi_cmd.cmdsn = 0x14;
    p.u.scsi_cmd.exp_statsn = 0x18;
    p.u.scsi_cmd.cdb[0] = 0x28;
    p.u.scsi_cmd.cdb[8] = 0x02;
    pdu_digest_cfg_t dig = {.header = true, .data = true, .big_endian = false};
    uint8_t out[PDU_HEADER_MAX];
    size_t n = 0;
    assert_int_equal (pdu_header_build (&p, NULL, &dig, out, sizeof out, &n), 0);
    assert_int_equal (n, 52);
    s_expect_bhs (out, "01 c0 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
                       "14 00 00 00 00 00 04 00 00 00 00 14 00 00 00 18"
                       "28 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00");
    static const uint8_t le[4] = {0x56, 0x3a, 0x96, 0xd9};
    assert_memory_equal (out + 48, le, 4);
    dig.big_endian = true;
    assert_int_equal (pdu_header_build (&p, NULL, &dig, out, sizeof out, &n), 0);
    static const uint8_t be[4] = {0xd9, 0x96, 0x3a, 0x56};
    assert_memory_equal (out + 48, be, 4);
    /* Without header digest: 48 bytes only; too small a buffer fails. */
    assert_int_equal (pdu_header_build (&p, NULL, NULL, out, sizeof out, &n), 0);
    assert_int_equal (n, 48);
    dig.big_endian = false;
    assert_int_equal (pdu_header_build (&p, NULL, &dig, out, 51, &n),
                      UIS_ERR_BUFFER_TOO_SMALL);
}

/* SCSI Data-Out: F=1, TTT, DataSN, BufferOffset; the I bit is reserved. */
static void
test_data_out (void **state)
{
    (void)state;
    pdu_t p;
    memset (&p, 0, sizeof p);
    p.opcode = PDU_OP_DATA_OUT;
    p.final = true;
    p.data_segment_length = 8192;
    p.lun = 0x0002000000000000ull;
    p.itt = 0xaabbccdd;
    p.u.data_out.ttt = 0x1234;
    p.u.data_out.exp_statsn = 7;
    p.u.data_out.datasn = 3;
    p.u.data_out.buffer_offset = 0x2000;
    s_encode_check (&p, "05 80 00 00 | 00 00 20 00 | 00 02 00 00 00 00 00 00 |"
                        "aa bb cc dd | 00 00 12 34 | 00 00 00 00 | 00 00 00 07 |"
                        "00 00 00 00 | 00 00 00 03 | 00 00 20 00 | 00 00 00 00");
    p.immediate = true; /* reserved for Data-Out: not written */
    uint8_t bhs[PDU_BHS_LEN];
    assert_int_equal (pdu_bhs_encode (&p, bhs), 0);
    assert_int_equal (bhs[0], 0x05);
    /* Unsolicited Data-Out (H3): TTT 0xffffffff, F=0. */
    p.immediate = false;
    p.final = false;
    p.u.data_out.ttt = PDU_RESERVED_TAG;
    s_encode_check (&p, "05 00 00 00 | 00 00 20 00 | 00 02 00 00 00 00 00 00 |"
                        "aa bb cc dd | ff ff ff ff | 00 00 00 00 | 00 00 00 07 |"
                        "00 00 00 00 | 00 00 00 03 | 00 00 20 00 | 00 00 00 00");
}

/* J1: NOP-Out ping (valid ITT, TTT 0xffffffff, I=1, F=1); J3: reply to a
 * target ping (ITT 0xffffffff, TTT and LUN echoed, data echoed); F5:
 * ExpStatSN confirmation (ITT = TTT = 0xffffffff). */
static void
test_nop_out (void **state)
{
    (void)state;
    pdu_t p;
    memset (&p, 0, sizeof p);
    p.opcode = PDU_OP_NOP_OUT;
    p.immediate = true;
    p.final = true;
    p.itt = 5;
    p.u.nop_out.ttt = PDU_RESERVED_TAG;
    p.u.nop_out.cmdsn = 0x100;
    p.u.nop_out.exp_statsn = 0x55;
    s_encode_check (&p, "40 80 00 00 | 00 00 00 00 | 00 00 00 00 00 00 00 00 |"
                        "00 00 00 05 | ff ff ff ff | 00 00 01 00 | 00 00 00 55 |"
                        "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    /* Reply: 4 bytes of echoed ping data. */
    memset (&p, 0, sizeof p);
    p.opcode = PDU_OP_NOP_OUT;
    p.immediate = true;
    p.final = true;
    p.data_segment_length = 4;
    p.lun = 0x0003000000000000ull;
    p.itt = PDU_RESERVED_TAG;
    p.u.nop_out.ttt = 0xabc;
    p.u.nop_out.cmdsn = 0x101;
    p.u.nop_out.exp_statsn = 0x56;
    s_encode_check (&p, "40 80 00 00 | 00 00 00 04 | 00 03 00 00 00 00 00 00 |"
                        "ff ff ff ff | 00 00 0a bc | 00 00 01 01 | 00 00 00 56 |"
                        "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    /* The F bit of NOP-Out is always 1, whatever final says. */
    p.final = false;
    uint8_t bhs[PDU_BHS_LEN];
    assert_int_equal (pdu_bhs_encode (&p, bhs), 0);
    assert_int_equal (bhs[1], 0x80);
}

/* B1-style Login Request: T=1 CSG=0 NSG=1, ISID with T=10b (random),
 * CID 1; then CSG=1 NSG=3 T=1, and C=1 T=0. I is always 1. */
static void
test_login_req (void **state)
{
    (void)state;
    pdu_t p;
    memset (&p, 0, sizeof p);
    p.opcode = PDU_OP_LOGIN_REQ;
    p.immediate = true;
    p.final = true;
    p.data_segment_length = 0x123;
    p.u.login_req.transit = true;
    p.u.login_req.csg = PDU_STAGE_SECURITY;
    p.u.login_req.nsg = PDU_STAGE_OPERATIONAL;
    static const uint8_t isid[6] = {0x80, 0x12, 0x34, 0x56, 0x78, 0x9a};
    memcpy (p.u.login_req.isid, isid, 6);
    p.u.login_req.cid = 1;
    p.u.login_req.cmdsn = 0x0a;
    s_encode_check (&p, "43 81 00 00 | 00 00 01 23 | 80 12 34 56 78 9a 00 00 |"
                        "00 00 00 00 | 00 01 00 00 | 00 00 00 0a | 00 00 00 00 |"
                        "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    p.u.login_req.csg = PDU_STAGE_OPERATIONAL;
    p.u.login_req.nsg = PDU_STAGE_FULL_FEATURE;
    p.u.login_req.tsih = 0x1234;
    p.u.login_req.exp_statsn = 0x2;
    p.u.login_req.version_max = 0;
    p.u.login_req.version_min = 0;
    p.itt = 0x1;
    s_encode_check (&p, "43 87 00 00 | 00 00 01 23 | 80 12 34 56 78 9a 12 34 |"
                        "00 00 00 01 | 00 01 00 00 | 00 00 00 0a | 00 00 00 02 |"
                        "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    /* B4: continue bit, T=0. final mirrors T after decode. */
    p.final = false;
    p.u.login_req.transit = false;
    p.u.login_req.cont = true;
    p.immediate = false; /* ignored: login is always immediate */
    uint8_t bhs[PDU_BHS_LEN];
    assert_int_equal (pdu_bhs_encode (&p, bhs), 0);
    assert_int_equal (bhs[0], 0x43);
    assert_int_equal (bhs[1], 0x47);
    pdu_t q;
    assert_int_equal (pdu_bhs_decode (bhs, &q), 0);
    assert_true (q.immediate);
    assert_false (q.final);
    assert_true (q.u.login_req.cont);
    assert_int_equal (q.lun, 0); /* ISID/TSIH are not a LUN */
    /* Stage fields are 2 bits. */
    p.u.login_req.nsg = 4;
    assert_int_equal (pdu_bhs_encode (&p, bhs), UIS_ERR_OUT_OF_RANGE);
}

/* B18: Text Request F=1, TTT 0xffffffff; B17 continuation echoes TTT. */
static void
test_text_req (void **state)
{
    (void)state;
    pdu_t p;
    memset (&p, 0, sizeof p);
    p.opcode = PDU_OP_TEXT_REQ;
    p.final = true;
    p.data_segment_length = 16;
    p.itt = 0x77;
    p.u.text_req.ttt = PDU_RESERVED_TAG;
    p.u.text_req.cmdsn = 0x30;
    p.u.text_req.exp_statsn = 0x40;
    s_encode_check (&p, "04 80 00 00 | 00 00 00 10 | 00 00 00 00 00 00 00 00 |"
                        "00 00 00 77 | ff ff ff ff | 00 00 00 30 | 00 00 00 40 |"
                        "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    p.u.text_req.cont = true;
    p.final = false;
    p.data_segment_length = 0;
    p.u.text_req.ttt = 0x00000900;
    s_encode_check (&p, "04 40 00 00 | 00 00 00 00 | 00 00 00 00 00 00 00 00 |"
                        "00 00 00 77 | 00 00 09 00 | 00 00 00 30 | 00 00 00 40 |"
                        "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
}

/* M1: ABORT TASK with I=1, the task's LUN, ReferencedTaskTag, RefCmdSN. */
static void
test_tmf_abort_task (void **state)
{
    (void)state;
    pdu_t p;
    memset (&p, 0, sizeof p);
    p.opcode = PDU_OP_TMF_REQ;
    p.immediate = true;
    p.final = true;
    p.lun = 0x0005000000000000ull;
    p.itt = 0x99;
    p.u.tmf_req.function = PDU_TMF_ABORT_TASK;
    p.u.tmf_req.referenced_task_tag = 0x42;
    p.u.tmf_req.cmdsn = 0x200;
    p.u.tmf_req.exp_statsn = 0x300;
    p.u.tmf_req.ref_cmdsn = 0x1ff;
    p.u.tmf_req.exp_datasn = 0;
    s_encode_check (&p, "42 81 00 00 | 00 00 00 00 | 00 05 00 00 00 00 00 00 |"
                        "00 00 00 99 | 00 00 00 42 | 00 00 02 00 | 00 00 03 00 |"
                        "00 00 01 ff | 00 00 00 00 | 00 00 00 00 00 00 00 00");
    /* Q1: TASK REASSIGN with ExpDataSN. */
    p.u.tmf_req.function = PDU_TMF_TASK_REASSIGN;
    p.u.tmf_req.exp_datasn = 9;
    s_encode_check (&p, "42 88 00 00 | 00 00 00 00 | 00 05 00 00 00 00 00 00 |"
                        "00 00 00 99 | 00 00 00 42 | 00 00 02 00 | 00 00 03 00 |"
                        "00 00 01 ff | 00 00 00 09 | 00 00 00 00 00 00 00 00");
    uint8_t bhs[PDU_BHS_LEN];
    p.u.tmf_req.function = 0x80;
    assert_int_equal (pdu_bhs_encode (&p, bhs), UIS_ERR_OUT_OF_RANGE);
}

/* N1 / Q1: Logout Request reasons 0 and 1 (with CID); no LUN field. */
static void
test_logout_req (void **state)
{
    (void)state;
    pdu_t p;
    memset (&p, 0, sizeof p);
    p.opcode = PDU_OP_LOGOUT_REQ;
    p.final = true;
    p.itt = 0x1000;
    p.u.logout_req.reason_code = PDU_LOGOUT_CLOSE_SESSION;
    p.u.logout_req.cmdsn = 0x10;
    p.u.logout_req.exp_statsn = 0x11;
    s_encode_check (&p, "06 80 00 00 | 00 00 00 00 | 00 00 00 00 00 00 00 00 |"
                        "00 00 10 00 | 00 00 00 00 | 00 00 00 10 | 00 00 00 11 |"
                        "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    p.immediate = true;
    p.u.logout_req.reason_code = PDU_LOGOUT_CLOSE_CONNECTION;
    p.u.logout_req.cid = 2;
    s_encode_check (&p, "46 81 00 00 | 00 00 00 00 | 00 00 00 00 00 00 00 00 |"
                        "00 00 10 00 | 00 02 00 00 | 00 00 00 10 | 00 00 00 11 |"
                        "00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00");
    /* The LUN field does not exist for Logout: not written. */
    p.lun = 0xdeadbeefull;
    uint8_t bhs[PDU_BHS_LEN];
    assert_int_equal (pdu_bhs_encode (&p, bhs), 0);
    for (int i = 8; i < 16; i++)
        assert_int_equal (bhs[i], 0);
}

/* SNACK types 0-3: Data/R2T (P1), Status with ITT 0xffffffff (F3),
 * DataACK with ITT 0xffffffff, TTT and LUN (G11), R-Data (P7). */
static void
test_snack (void **state)
{
    (void)state;
    pdu_t p;
    memset (&p, 0, sizeof p);
    p.opcode = PDU_OP_SNACK;
    p.final = true;
    p.itt = 0x21;
    p.u.snack.type = PDU_SNACK_DATA_R2T;
    p.u.snack.ttt = PDU_RESERVED_TAG;
    p.u.snack.exp_statsn = 5;
    p.u.snack.begrun = 1;
    p.u.snack.runlength = 1;
    s_encode_check (&p, "10 80 00 00 | 00 00 00 00 | 00 00 00 00 00 00 00 00 |"
                        "00 00 00 21 | ff ff ff ff | 00 00 00 00 | 00 00 00 05 |"
                        "00 00 00 00 00 00 00 00 | 00 00 00 01 | 00 00 00 01");
    p.itt = PDU_RESERVED_TAG;
    p.u.snack.type = PDU_SNACK_STATUS;
    p.u.snack.begrun = 0x0b;
    p.u.snack.runlength = 4;
    s_encode_check (&p, "10 81 00 00 | 00 00 00 00 | 00 00 00 00 00 00 00 00 |"
                        "ff ff ff ff | ff ff ff ff | 00 00 00 00 | 00 00 00 05 |"
                        "00 00 00 00 00 00 00 00 | 00 00 00 0b | 00 00 00 04");
    p.u.snack.type = PDU_SNACK_DATA_ACK;
    p.lun = 0x0001000000000000ull;
    p.u.snack.ttt = 0x1234;
    p.u.snack.begrun = 8;
    p.u.snack.runlength = 0;
    s_encode_check (&p, "10 82 00 00 | 00 00 00 00 | 00 01 00 00 00 00 00 00 |"
                        "ff ff ff ff | 00 00 12 34 | 00 00 00 00 | 00 00 00 05 |"
                        "00 00 00 00 00 00 00 00 | 00 00 00 08 | 00 00 00 00");
    p.u.snack.type = PDU_SNACK_RDATA;
    p.lun = 0;
    p.itt = 0x21;
    p.u.snack.ttt = 0x5555; /* SNACK Tag */
    p.u.snack.begrun = 0;
    s_encode_check (&p, "10 83 00 00 | 00 00 00 00 | 00 00 00 00 00 00 00 00 |"
                        "00 00 00 21 | 00 00 55 55 | 00 00 00 00 | 00 00 00 05 |"
                        "00 00 00 00 00 00 00 00 | 00 00 00 00 | 00 00 00 00");
    uint8_t bhs[PDU_BHS_LEN];
    p.u.snack.type = 16;
    assert_int_equal (pdu_bhs_encode (&p, bhs), UIS_ERR_OUT_OF_RANGE);
}

/* ------------------------------------------------------- decoders */

/* G1/G5: final Data-In with F, U and S: status GOOD, residual 2560. */
static void
test_data_in_decode (void **state)
{
    (void)state;
    pdu_t p;
    s_decode_hex ("25 83 00 00 | 00 00 06 00 | 00 01 00 00 00 00 00 00 |"
                  "00 00 00 44 | ff ff ff ff | 00 00 00 70 | 00 00 00 80 |"
                  "00 00 00 bf | 00 00 00 02 | 00 00 00 00 | 00 00 0a 00",
                  &p);
    assert_int_equal (p.opcode, PDU_OP_DATA_IN);
    assert_true (p.final);
    assert_false (p.immediate);
    assert_int_equal (p.data_segment_length, 1536);
    assert_int_equal (p.lun, 0x0001000000000000ull);
    assert_int_equal (p.itt, 0x44);
    const pdu_data_in_t *d = &p.u.data_in;
    assert_false (d->ack);
    assert_false (d->overflow);
    assert_true (d->underflow);
    assert_true (d->status_present);
    assert_int_equal (d->status, 0);
    assert_int_equal (d->ttt, PDU_RESERVED_TAG);
    assert_int_equal (d->statsn, 0x70);
    assert_int_equal (d->exp_cmdsn, 0x80);
    assert_int_equal (d->max_cmdsn, 0xbf);
    assert_int_equal (d->datasn, 2);
    assert_int_equal (d->buffer_offset, 0);
    assert_int_equal (d->residual_count, 2560);
    /* G6: O=1 with S and status CHECK CONDITION. */
    s_decode_hex ("25 85 00 02 | 00 00 02 00 | 00 00 00 00 00 00 00 00 |"
                  "00 00 00 45 | ff ff ff ff | 00 00 00 71 | 00 00 00 81 |"
                  "00 00 00 c0 | 00 00 00 00 | 00 00 10 00 | 00 00 00 20",
                  &p);
    assert_true (p.u.data_in.overflow);
    assert_false (p.u.data_in.underflow);
    assert_true (p.u.data_in.status_present);
    assert_int_equal (p.u.data_in.status, 2);
    assert_int_equal (p.u.data_in.buffer_offset, 0x1000);
    assert_int_equal (p.u.data_in.residual_count, 0x20);
    /* G11: A bit on an intermediate PDU (F=0, S=0) with a TTT. */
    s_decode_hex ("25 40 00 00 | 00 00 20 00 | 00 01 00 00 00 00 00 00 |"
                  "00 00 00 46 | 00 00 77 77 | 00 00 00 00 | 00 00 00 81 |"
                  "00 00 00 c0 | 00 00 00 07 | 00 00 e0 00 | 00 00 00 00",
                  &p);
    assert_false (p.final);
    assert_true (p.u.data_in.ack);
    assert_false (p.u.data_in.status_present);
    assert_int_equal (p.u.data_in.ttt, 0x7777);
    assert_int_equal (p.u.data_in.datasn, 7);
    assert_int_equal (p.u.data_in.buffer_offset, 0xe000);
}

/* H8/F2: R2T fields. */
static void
test_r2t_decode (void **state)
{
    (void)state;
    pdu_t p;
    s_decode_hex ("31 80 00 00 | 00 00 00 00 | 00 01 00 00 00 00 00 00 |"
                  "00 00 00 09 | 00 00 ab cd | 00 00 00 05 | 00 00 00 10 |"
                  "00 00 00 4f | 00 00 00 01 | 00 00 02 00 | 00 00 02 00",
                  &p);
    assert_int_equal (p.opcode, PDU_OP_R2T);
    assert_true (p.final);
    assert_int_equal (p.lun, 0x0001000000000000ull);
    assert_int_equal (p.itt, 9);
    assert_int_equal (p.u.r2t.ttt, 0xabcd);
    assert_int_equal (p.u.r2t.statsn, 5);
    assert_int_equal (p.u.r2t.exp_cmdsn, 0x10);
    assert_int_equal (p.u.r2t.max_cmdsn, 0x4f);
    assert_int_equal (p.u.r2t.r2tsn, 1);
    assert_int_equal (p.u.r2t.buffer_offset, 512);
    assert_int_equal (p.u.r2t.desired_data_transfer_length, 512);
}

/* I1/I6: SCSI Response with CHECK CONDITION, sense data (DSL 0x12),
 * underflow and bidi underflow residuals; I3: response 0x01 status 0. */
static void
test_scsi_rsp_decode (void **state)
{
    (void)state;
    pdu_t p;
    s_decode_hex ("21 8a 00 02 | 00 00 00 12 | 00 00 00 00 00 00 00 00 |"
                  "00 00 00 10 | 00 00 00 00 | 00 00 01 00 | 00 00 02 00 |"
                  "00 00 02 3f | 00 00 00 03 | 00 00 00 10 | 00 00 0a 00",
                  &p);
    assert_int_equal (p.opcode, PDU_OP_SCSI_RSP);
    assert_int_equal (p.data_segment_length, 0x12);
    assert_int_equal (p.lun, 0);
    assert_int_equal (p.itt, 0x10);
    const pdu_scsi_rsp_t *r = &p.u.scsi_rsp;
    assert_false (r->bidi_overflow);
    assert_true (r->bidi_underflow);
    assert_false (r->overflow);
    assert_true (r->underflow);
    assert_int_equal (r->response, 0);
    assert_int_equal (r->status, 2);
    assert_int_equal (r->snack_tag, 0);
    assert_int_equal (r->statsn, 0x100);
    assert_int_equal (r->exp_cmdsn, 0x200);
    assert_int_equal (r->max_cmdsn, 0x23f);
    assert_int_equal (r->exp_datasn, 3);
    assert_int_equal (r->bidi_read_residual_count, 0x10);
    assert_int_equal (r->residual_count, 0xa00);
    s_decode_hex ("21 94 01 00 | 00 00 00 00 | 00 00 00 00 00 00 00 00 |"
                  "00 00 00 11 | 00 00 00 00 | 00 00 01 01 | 00 00 02 01 |"
                  "00 00 02 40 | 00 00 00 00 | 00 00 00 00 | 00 00 00 08",
                  &p);
    assert_int_equal (p.u.scsi_rsp.response, 1);
    assert_int_equal (p.u.scsi_rsp.status, 0);
    assert_true (p.u.scsi_rsp.bidi_overflow);
    assert_true (p.u.scsi_rsp.overflow);
    assert_false (p.u.scsi_rsp.underflow);
    assert_int_equal (p.u.scsi_rsp.residual_count, 8);
}

/* K3: Async Message code 2 (drop connection) with Time2Wait = 2 in
 * Parameter2 and Time2Retain = 20 in Parameter3. */
static void
test_async_decode (void **state)
{
    (void)state;
    pdu_t p;
    s_decode_hex ("32 80 00 00 | 00 00 00 00 | 00 02 00 00 00 00 00 00 |"
                  "ff ff ff ff | 00 00 00 00 | 00 00 00 33 | 00 00 00 44 |"
                  "00 00 00 55 | 02 00 00 01 | 00 02 00 14 | 00 00 00 00",
                  &p);
    assert_int_equal (p.opcode, PDU_OP_ASYNC);
    assert_int_equal (p.lun, 0x0002000000000000ull);
    assert_int_equal (p.itt, PDU_RESERVED_TAG);
    assert_int_equal (p.u.async.statsn, 0x33);
    assert_int_equal (p.u.async.exp_cmdsn, 0x44);
    assert_int_equal (p.u.async.max_cmdsn, 0x55);
    assert_int_equal (p.u.async.async_event, PDU_ASYNC_DROP_CONNECTION);
    assert_int_equal (p.u.async.async_vcode, 0);
    assert_int_equal (p.u.async.parameter1, 1);
    assert_int_equal (p.u.async.parameter2, 2);
    assert_int_equal (p.u.async.parameter3, 20);
}

/* L1/D6: Reject reason 0x02 (data digest) with the rejected BHS (48 bytes)
 * as data. */
static void
test_reject_decode (void **state)
{
    (void)state;
    pdu_t p;
    s_decode_hex ("3f 80 02 00 | 00 00 00 30 | 00 00 00 00 00 00 00 00 |"
                  "ff ff ff ff | 00 00 00 00 | 00 00 00 07 | 00 00 00 08 |"
                  "00 00 00 09 | 00 00 00 04 | 00 00 00 00 00 00 00 00",
                  &p);
    assert_int_equal (p.opcode, PDU_OP_REJECT);
    assert_int_equal (p.data_segment_length, 48);
    assert_int_equal (p.itt, PDU_RESERVED_TAG);
    assert_int_equal (p.u.reject.reason, PDU_REJECT_DATA_DIGEST);
    assert_int_equal (p.u.reject.statsn, 7);
    assert_int_equal (p.u.reject.exp_cmdsn, 8);
    assert_int_equal (p.u.reject.max_cmdsn, 9);
    assert_int_equal (p.u.reject.datasn, 4);
}

/* B1/B12: final Login Response T=1 CSG=1 NSG=3 with TSIH, window, and a
 * redirect (B5: class 1 detail 1). */
static void
test_login_rsp_decode (void **state)
{
    (void)state;
    pdu_t p;
    s_decode_hex ("23 87 00 00 | 00 00 00 20 | 80 12 34 56 78 9a 00 2a |"
                  "00 00 00 01 | 00 00 00 00 | 00 00 00 01 | 00 00 00 0a |"
                  "00 00 00 49 | 00 00 00 00 | 00 00 00 00 00 00 00 00",
                  &p);
    assert_int_equal (p.opcode, PDU_OP_LOGIN_RSP);
    assert_true (p.final);
    const pdu_login_rsp_t *l = &p.u.login_rsp;
    assert_true (l->transit);
    assert_false (l->cont);
    assert_int_equal (l->csg, PDU_STAGE_OPERATIONAL);
    assert_int_equal (l->nsg, PDU_STAGE_FULL_FEATURE);
    static const uint8_t isid[6] = {0x80, 0x12, 0x34, 0x56, 0x78, 0x9a};
    assert_memory_equal (l->isid, isid, 6);
    assert_int_equal (l->tsih, 0x2a);
    assert_int_equal (p.itt, 1);
    assert_int_equal (p.lun, 0);
    assert_int_equal (p.data_segment_length, 0x20);
    assert_int_equal (l->statsn, 1);
    assert_int_equal (l->exp_cmdsn, 0x0a);
    assert_int_equal (l->max_cmdsn, 0x49);
    assert_int_equal (l->status_class, 0);
    assert_int_equal (l->status_detail, 0);
    s_decode_hex ("23 40 00 00 | 00 00 00 40 | 80 12 34 56 78 9a 00 00 |"
                  "00 00 00 01 | 00 00 00 00 | 00 00 00 00 | 00 00 00 0a |"
                  "00 00 00 0a | 01 01 00 00 | 00 00 00 00 00 00 00 00",
                  &p);
    assert_false (p.final);
    assert_false (p.u.login_rsp.transit);
    assert_true (p.u.login_rsp.cont);
    assert_int_equal (p.u.login_rsp.csg, 0);
    assert_int_equal (p.u.login_rsp.status_class, PDU_LOGIN_CLASS_REDIRECT);
    assert_int_equal (p.u.login_rsp.status_detail, 1);
}

/* N1/N4: Logout Response with Time2Wait / Time2Retain; NOP-In, TMF and
 * Text responses. */
static void
test_other_rsp_decode (void **state)
{
    (void)state;
    pdu_t p;
    s_decode_hex ("26 80 02 00 | 00 00 00 00 | 00 00 00 00 00 00 00 00 |"
                  "00 00 10 00 | 00 00 00 00 | 00 00 00 12 | 00 00 00 13 |"
                  "00 00 00 52 | 00 00 00 00 | 00 02 00 14 | 00 00 00 00",
                  &p);
    assert_int_equal (p.u.logout_rsp.response, PDU_LOGOUT_RSP_RECOVERY_UNSUPPORTED);
    assert_int_equal (p.u.logout_rsp.statsn, 0x12);
    assert_int_equal (p.u.logout_rsp.time2wait, 2);
    assert_int_equal (p.u.logout_rsp.time2retain, 20);
    /* J3: target ping, ITT 0xffffffff, TTT set, LUN set, 8 bytes data. */
    s_decode_hex ("20 80 00 00 | 00 00 00 08 | 00 04 00 00 00 00 00 00 |"
                  "ff ff ff ff | 00 00 0c 0c | 00 00 00 21 | 00 00 00 30 |"
                  "00 00 00 6f | 00 00 00 00 | 00 00 00 00 00 00 00 00",
                  &p);
    assert_int_equal (p.opcode, PDU_OP_NOP_IN);
    assert_int_equal (p.lun, 0x0004000000000000ull);
    assert_int_equal (p.u.nop_in.ttt, 0xc0c);
    assert_int_equal (p.u.nop_in.statsn, 0x21);
    assert_int_equal (p.u.nop_in.exp_cmdsn, 0x30);
    assert_int_equal (p.u.nop_in.max_cmdsn, 0x6f);
    /* M7: TMF response 5 (not supported). */
    s_decode_hex ("22 80 05 00 | 00 00 00 00 | 00 00 00 00 00 00 00 00 |"
                  "00 00 00 99 | 00 00 00 00 | 00 00 00 22 | 00 00 00 31 |"
                  "00 00 00 70 | 00 00 00 00 | 00 00 00 00 00 00 00 00",
                  &p);
    assert_int_equal (p.u.tmf_rsp.response, PDU_TMF_RSP_NOT_SUPPORTED);
    assert_int_equal (p.u.tmf_rsp.max_cmdsn, 0x70);
    /* B17: Text Response C=1 with a TTT for continuation. */
    s_decode_hex ("24 40 00 00 | 00 00 10 00 | 00 00 00 00 00 00 00 00 |"
                  "00 00 00 77 | 00 00 09 00 | 00 00 00 23 | 00 00 00 31 |"
                  "00 00 00 70 | 00 00 00 00 | 00 00 00 00 00 00 00 00",
                  &p);
    assert_false (p.final);
    assert_true (p.u.text_rsp.cont);
    assert_int_equal (p.u.text_rsp.ttt, 0x900);
    assert_int_equal (p.data_segment_length, 0x1000);
}

/* ------------------------------------------------------- generic */

/* Tiny deterministic PRNG for the round-trip sweep. */
static uint32_t
s_rand (uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* A5: exactly the 18 opcodes of RFC 7143 decode; the other 46 fail with
 * UIS_ERR_PDU_OPCODE. For the known ones, random BHS bytes decode to a
 * form that re-encodes canonically and decodes identically (round trip
 * for every opcode, both directions). */
static void
test_all_opcodes_round_trip (void **state)
{
    (void)state;
    int known = 0;
    uint32_t seed = 0x12345678;
    for (int op = 0; op < 64; op++) {
        uint8_t bhs[PDU_BHS_LEN];
        memset (bhs, 0, sizeof bhs);
        bhs[0] = (uint8_t)op;
        pdu_t p;
        int rc = pdu_bhs_decode (bhs, &p);
        if (!pdu_opcode_known ((uint8_t)op)) {
            assert_int_equal (rc, UIS_ERR_PDU_OPCODE);
            assert_string_equal (pdu_opcode_name ((uint8_t)op), "unknown");
            p.opcode = (uint8_t)op;
            assert_int_equal (pdu_bhs_encode (&p, bhs), UIS_ERR_PDU_OPCODE);
            continue;
        }
        known++;
        assert_int_equal (rc, 0);
        assert_string_not_equal (pdu_opcode_name ((uint8_t)op), "unknown");
        for (int iter = 0; iter < 200; iter++) {
            for (size_t i = 0; i < PDU_BHS_LEN; i++)
                bhs[i] = (uint8_t)s_rand (&seed);
            bhs[0] = (uint8_t)((bhs[0] & 0xc0) | op);
            assert_int_equal (pdu_bhs_decode (bhs, &p), 0);
            assert_int_equal (p.opcode, op);
            uint8_t enc[PDU_BHS_LEN], enc2[PDU_BHS_LEN];
            assert_int_equal (pdu_bhs_encode (&p, enc), 0);
            pdu_t q;
            assert_int_equal (pdu_bhs_decode (enc, &q), 0);
            assert_memory_equal (&p, &q, sizeof p);
            assert_int_equal (pdu_bhs_encode (&q, enc2), 0);
            assert_memory_equal (enc, enc2, PDU_BHS_LEN);
            /* Common fields survive as on the wire. */
            assert_int_equal (enc[4], bhs[4]);
            assert_memory_equal (enc + 5, bhs + 5, 3);
            assert_memory_equal (enc + 16, bhs + 16, 4);
        }
    }
    assert_int_equal (known, 18);
    assert_string_equal (pdu_opcode_name (0x1c), "unknown");
    assert_string_equal (pdu_opcode_name (PDU_OP_SCSI_CMD), "scsi_cmd");
    assert_string_equal (pdu_opcode_name (PDU_OP_REJECT), "reject");
    assert_true (pdu_opcode_is_target (PDU_OP_R2T));
    assert_false (pdu_opcode_is_target (PDU_OP_SNACK));
}

/* 24-bit DataSegmentLength: 0xFFFFFF decodes and encodes; larger fails. */
static void
test_dsl_24bit (void **state)
{
    (void)state;
    pdu_t p;
    s_decode_hex ("24 80 00 00 | 00 ff ff ff | 00 00 00 00 00 00 00 00 |"
                  "00 00 00 01 | ff ff ff ff | 00 00 00 01 | 00 00 00 01 |"
                  "00 00 00 01 | 00 00 00 00 | 00 00 00 00 00 00 00 00",
                  &p);
    assert_int_equal (p.data_segment_length, 0xFFFFFF);
    uint8_t bhs[PDU_BHS_LEN];
    memset (bhs, 0xee, sizeof bhs);
    p.data_segment_length = 0x1000000;
    assert_int_equal (pdu_bhs_encode (&p, bhs), UIS_ERR_OUT_OF_RANGE);
    assert_int_equal (bhs[5], 0xee);
    uint8_t out[64];
    size_t n;
    assert_int_equal (pdu_header_build (&p, NULL, NULL, out, sizeof out, &n),
                      UIS_ERR_OUT_OF_RANGE);
    static uint8_t one[1];
    assert_int_equal (pdu_encode (&p, NULL, one, 0x1000000, NULL, out, sizeof out, &n),
                      UIS_ERR_OUT_OF_RANGE);
    pdu_iov_t big[2] = {{one, 0xFFFFFF}, {one, 1}};
    uint8_t tr[PDU_TRAILER_MAX];
    assert_int_equal (pdu_data_trailer (big, 2, NULL, tr, &n), UIS_ERR_OUT_OF_RANGE);
}

/* R4: CDBs of 16, 17, 32 and 260 bytes; 261 is refused. Hand-written AHS
 * bytes for 17 and 32. A4: the header digest covers BHS + AHS. */
static void
test_ext_cdb_ahs (void **state)
{
    (void)state;
    uint8_t cdb[PDU_CDB_MAX + 1];
    for (size_t i = 0; i < sizeof cdb; i++)
        cdb[i] = (uint8_t)(0x7f + i);
    pdu_t p;
    pdu_ahs_t ahs;
    memset (&p, 0, sizeof p);
    memset (&ahs, 0, sizeof ahs);
    p.opcode = PDU_OP_SCSI_CMD;
    p.final = true;
    p.itt = 3;
    uint8_t out[PDU_HEADER_MAX];
    size_t n;

    /* 16 bytes: no AHS. */
    assert_int_equal (pdu_cdb_set (&p, &ahs, cdb, 16), 0);
    assert_int_equal (ahs.ext_cdb_len, 0);
    assert_int_equal (pdu_header_build (&p, &ahs, NULL, out, sizeof out, &n), 0);
    assert_int_equal (n, 48);
    assert_int_equal (out[4], 0);

    /* 17 bytes: AHSLength 2 (CDB length - 15), type 1, 1 byte + 3 pad. */
    assert_int_equal (pdu_cdb_set (&p, &ahs, cdb, 17), 0);
    assert_int_equal (ahs.ext_cdb_len, 1);
    assert_int_equal (pdu_header_build (&p, &ahs, NULL, out, sizeof out, &n), 0);
    assert_int_equal (n, 56);
    assert_int_equal (out[4], 2); /* TotalAHSLength in words */
    uint8_t want[32];
    s_hex ("00 02 01 00 8f 00 00 00", want, 8);
    assert_memory_equal (out + 48, want, 8);
    assert_memory_equal (out + 32, cdb, 16);

    /* 32 bytes: AHSLength 17, 16 bytes, no pad; plus the bidi AHS. */
    assert_int_equal (pdu_cdb_set (&p, &ahs, cdb, 32), 0);
    ahs.has_bidi_read_len = true;
    ahs.bidi_read_len = 0x00012345;
    pdu_digest_cfg_t dig = {.header = true};
    assert_int_equal (pdu_header_build (&p, &ahs, &dig, out, sizeof out, &n), 0);
    assert_int_equal (n, 48 + 20 + 8 + 4);
    assert_int_equal (out[4], 7);
    s_hex ("00 11 01 00 8f 90 91 92 93 94 95 96 97 98 99 9a 9b 9c 9d 9e"
           "00 05 02 00 00 01 23 45",
           want, 28);
    assert_memory_equal (out + 48, want, 28);
    assert_int_equal (crc32c_get (out + 76, false), crc32c (out, 76));
    /* Parsing the AHS back gives the same CDB. */
    pdu_t q;
    pdu_ahs_t back;
    assert_int_equal (pdu_bhs_decode (out, &q), 0);
    assert_int_equal (pdu_ahs_parse (out + 48, (size_t)q.total_ahs_length * 4, &back), 0);
    assert_true (back.has_bidi_read_len);
    assert_int_equal (back.bidi_read_len, 0x12345);
    uint8_t got[PDU_CDB_MAX];
    size_t glen;
    assert_int_equal (pdu_cdb_get (&q, &back, got, sizeof got, &glen), 0);
    assert_int_equal (glen, 32);
    assert_memory_equal (got, cdb, 32);
    assert_int_equal (pdu_cdb_get (&q, &back, got, 31, &glen), UIS_ERR_BUFFER_TOO_SMALL);

    /* 260 bytes: AHSLength 245, 4 + 244 = 248 bytes, no pad. */
    ahs.has_bidi_read_len = false;
    assert_int_equal (pdu_cdb_set (&p, &ahs, cdb, 260), 0);
    assert_int_equal (pdu_ahs_len (&ahs), 248);
    assert_int_equal (pdu_header_build (&p, &ahs, NULL, out, sizeof out, &n), 0);
    assert_int_equal (out[4], 62);
    assert_int_equal (out[48], 0);
    assert_int_equal (out[49], 245);
    assert_int_equal (out[48 + 247], cdb[259]);
    assert_int_equal (pdu_ahs_parse (out + 48, 248, &back), 0);
    assert_int_equal (pdu_cdb_get (&p, &back, got, sizeof got, &glen), 0);
    assert_int_equal (glen, 260);
    assert_memory_equal (got, cdb, 260);

    /* Too long, empty, or long without an AHS to hold it. */
    assert_int_equal (pdu_cdb_set (&p, &ahs, cdb, 261), UIS_ERR_SCSI_CDB);
    assert_int_equal (pdu_cdb_set (&p, &ahs, cdb, 0), UIS_ERR_SCSI_CDB);
    assert_int_equal (pdu_cdb_set (&p, NULL, cdb, 17), UIS_ERR_SCSI_CDB);
    ahs.ext_cdb_len = PDU_EXT_CDB_MAX + 1;
    assert_int_equal (pdu_header_build (&p, &ahs, NULL, out, sizeof out, &n),
                      UIS_ERR_OUT_OF_RANGE);
}

/* Malformed AHS buffers are UIS_ERR_PDU_AHS and never read past len. */
static void
test_ahs_malformed (void **state)
{
    (void)state;
    pdu_ahs_t a;
    uint8_t b[16];
    /* Runs past the buffer: AHSLength 5 needs 8 bytes, only 4 given. */
    s_hex ("00 05 02 00", b, 4);
    assert_int_equal (pdu_ahs_parse (b, 4, &a), UIS_ERR_PDU_AHS);
    /* Not a multiple of 4. */
    s_hex ("00 05 02 00 00 00 00 01", b, 8);
    assert_int_equal (pdu_ahs_parse (b, 7, &a), UIS_ERR_PDU_AHS);
    assert_int_equal (pdu_ahs_parse (b, 8, &a), 0);
    assert_int_equal (a.bidi_read_len, 1);
    /* Bidi with a wrong AHSLength. */
    s_hex ("00 04 02 00 00 00 00 01", b, 8);
    assert_int_equal (pdu_ahs_parse (b, 8, &a), UIS_ERR_PDU_AHS);
    /* Reserved types 0 and 3, type with reserved high bits. */
    s_hex ("00 01 00 00", b, 4);
    assert_int_equal (pdu_ahs_parse (b, 4, &a), UIS_ERR_PDU_AHS);
    s_hex ("00 01 03 00", b, 4);
    assert_int_equal (pdu_ahs_parse (b, 4, &a), UIS_ERR_PDU_AHS);
    s_hex ("00 02 41 00 11 00 00 00", b, 8);
    assert_int_equal (pdu_ahs_parse (b, 8, &a), UIS_ERR_PDU_AHS);
    /* Extended CDB with no CDB byte (AHSLength 1). */
    s_hex ("00 01 01 00", b, 4);
    assert_int_equal (pdu_ahs_parse (b, 4, &a), UIS_ERR_PDU_AHS);
    /* Extended CDB longer than 244 bytes. */
    s_hex ("00 f6 01 00", b, 4);
    assert_int_equal (pdu_ahs_parse (b, 4, &a), UIS_ERR_PDU_AHS);
    /* The same type twice. */
    s_hex ("00 02 01 00 11 00 00 00 00 02 01 00 22 00 00 00", b, 16);
    assert_int_equal (pdu_ahs_parse (b, 16, &a), UIS_ERR_PDU_AHS);
    assert_int_equal (pdu_ahs_parse (b, 8, &a), 0);
    assert_int_equal (a.ext_cdb_len, 1);
    assert_int_equal (a.ext_cdb[0], 0x11);
    /* AHSLength 0xffff. */
    s_hex ("ff ff 01 00", b, 4);
    assert_int_equal (pdu_ahs_parse (b, 4, &a), UIS_ERR_PDU_AHS);
    /* Empty is fine. */
    assert_int_equal (pdu_ahs_parse (NULL, 0, &a), 0);
    assert_int_equal (a.ext_cdb_len, 0);
    assert_false (a.has_bidi_read_len);
}

/* A2: DSL 1, 2, 3, 5 -> 3, 2, 1, 3 zero pad bytes; the data digest covers
 * data + zero pad; pieces give the same trailer as one piece. A3: DSL 0
 * gives no pad and no digest even with DataDigest on. */
static void
test_data_trailer (void **state)
{
    (void)state;
    static const size_t lens[4] = {1, 2, 3, 5};
    static const size_t pads[4] = {3, 2, 1, 3};
    uint8_t data[8] = {0xde, 0xad, 0xbe, 0xef, 0x42, 0x43, 0x44, 0x45};
    for (int big = 0; big <= 1; big++)
        for (int i = 0; i < 4; i++) {
            pdu_digest_cfg_t dig = {.header = false, .data = true, .big_endian = big};
            pdu_iov_t one = {data, lens[i]};
            uint8_t tr[PDU_TRAILER_MAX];
            size_t tl = 99;
            assert_int_equal (pdu_data_trailer (&one, 1, &dig, tr, &tl), 0);
            assert_int_equal (pdu_pad_len (lens[i]), pads[i]);
            assert_int_equal (tl, pads[i] + 4);
            for (size_t k = 0; k < pads[i]; k++)
                assert_int_equal (tr[k], 0);
            uint8_t padded[8];
            memset (padded, 0, sizeof padded);
            memcpy (padded, data, lens[i]);
            uint32_t want = crc32c (padded, lens[i] + pads[i]);
            assert_int_equal (crc32c_get (tr + pads[i], big), want);
            /* In pieces (one byte each, and an empty piece). */
            pdu_iov_t parts[6];
            size_t np = 0;
            parts[np++] = (pdu_iov_t){NULL, 0};
            for (size_t k = 0; k < lens[i]; k++)
                parts[np++] = (pdu_iov_t){data + k, 1};
            uint8_t tr2[PDU_TRAILER_MAX];
            size_t tl2 = 0;
            assert_int_equal (pdu_data_trailer (parts, np, &dig, tr2, &tl2), 0);
            assert_int_equal (tl2, tl);
            assert_memory_equal (tr2, tr, tl);
            /* Without data digest: pad only. */
            assert_int_equal (pdu_data_trailer (&one, 1, NULL, tr2, &tl2), 0);
            assert_int_equal (tl2, pads[i]);
        }
    pdu_digest_cfg_t dig = {.header = true, .data = true};
    uint8_t tr[PDU_TRAILER_MAX];
    size_t tl = 99;
    assert_int_equal (pdu_data_trailer (NULL, 0, &dig, tr, &tl), 0);
    assert_int_equal (tl, 0);
    pdu_iov_t empty = {data, 0};
    assert_int_equal (pdu_data_trailer (&empty, 1, &dig, tr, &tl), 0);
    assert_int_equal (tl, 0);
    /* A multiple of 4 has no pad: digest only. */
    pdu_iov_t four = {data, 4};
    assert_int_equal (pdu_data_trailer (&four, 1, &dig, tr, &tl), 0);
    assert_int_equal (tl, 4);
    assert_int_equal (crc32c_get (tr, false), crc32c (data, 4));
}

/* D3: every initiator opcode gets a header digest when negotiated, and a
 * data digest when it carries data (pdu_encode whole-PDU layout). */
static void
test_encode_digests_every_opcode (void **state)
{
    (void)state;
    static const uint8_t ops[] = {PDU_OP_NOP_OUT,    PDU_OP_SCSI_CMD, PDU_OP_TMF_REQ,
                                  PDU_OP_LOGIN_REQ,  PDU_OP_TEXT_REQ, PDU_OP_DATA_OUT,
                                  PDU_OP_LOGOUT_REQ, PDU_OP_SNACK,    PDU_OP_NOP_IN,
                                  PDU_OP_SCSI_RSP,   PDU_OP_TMF_RSP,  PDU_OP_LOGIN_RSP,
                                  PDU_OP_TEXT_RSP,   PDU_OP_DATA_IN,  PDU_OP_LOGOUT_RSP,
                                  PDU_OP_R2T,        PDU_OP_ASYNC,    PDU_OP_REJECT};
    static const uint8_t data[5] = {1, 2, 3, 4, 5};
    pdu_digest_cfg_t dig = {.header = true, .data = true};
    for (size_t i = 0; i < sizeof ops; i++) {
        pdu_t p;
        memset (&p, 0, sizeof p);
        p.opcode = ops[i];
        p.itt = (uint32_t)i;
        uint8_t out[128];
        size_t n = 0;
        assert_int_equal (pdu_encode (&p, NULL, data, 5, &dig, out, sizeof out, &n), 0);
        assert_int_equal (n, 48 + 4 + 5 + 3 + 4);
        assert_int_equal (out[0] & 0x3f, ops[i]);
        assert_int_equal (out[7], 5); /* DSL from data_len */
        assert_int_equal (crc32c_get (out + 48, false), crc32c (out, 48));
        assert_memory_equal (out + 52, data, 5);
        for (int k = 0; k < 3; k++)
            assert_int_equal (out[57 + k], 0);
        assert_int_equal (crc32c_get (out + 60, false), crc32c (out + 52, 8));
        /* No data: header digest only, no data digest (A3). */
        assert_int_equal (pdu_encode (&p, NULL, NULL, 0, &dig, out, sizeof out, &n), 0);
        assert_int_equal (n, 52);
        /* Too small an output buffer. */
        assert_int_equal (pdu_encode (&p, NULL, data, 5, &dig, out, 60, &n),
                          UIS_ERR_BUFFER_TOO_SMALL);
    }
}

/* API misuse returns errors, never crashes. */
static void
test_null_args (void **state)
{
    (void)state;
    uint8_t bhs[PDU_BHS_LEN] = {0};
    pdu_t p;
    size_t n;
    assert_int_equal (pdu_bhs_decode (NULL, &p), UIS_ERR_INVALID_ARG);
    assert_int_equal (pdu_bhs_decode (bhs, NULL), UIS_ERR_INVALID_ARG);
    assert_int_equal (pdu_bhs_encode (NULL, bhs), UIS_ERR_INVALID_ARG);
    assert_int_equal (pdu_ahs_parse (NULL, 4, NULL), UIS_ERR_INVALID_ARG);
    assert_int_equal (pdu_ahs_encode (NULL, NULL, 0, &n), 0);
    assert_int_equal (n, 0);
    assert_int_equal (pdu_ahs_len (NULL), 0);
    pdu_init (NULL, 0);
    /* pdu_init: zeroed, opcode set, F=1, I=1 only for login. */
    memset (&p, 0xa5, sizeof p);
    pdu_init (&p, PDU_OP_LOGIN_REQ);
    assert_int_equal (p.opcode, PDU_OP_LOGIN_REQ);
    assert_true (p.final);
    assert_true (p.immediate);
    assert_int_equal (p.itt, 0);
    assert_int_equal (p.u.login_req.cmdsn, 0);
    pdu_init (&p, PDU_OP_SCSI_CMD);
    assert_false (p.immediate);
    assert_int_equal (pdu_bhs_encode (&p, bhs), 0);
    assert_int_equal (bhs[1], 0x80);
    for (int i = 2; i < PDU_BHS_LEN; i++)
        assert_int_equal (bhs[i], 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_scsi_cmd_read),
        cmocka_unit_test (test_scsi_cmd_write),
        cmocka_unit_test (test_scsi_cmd_rfc_vector),
        cmocka_unit_test (test_data_out),
        cmocka_unit_test (test_nop_out),
        cmocka_unit_test (test_login_req),
        cmocka_unit_test (test_text_req),
        cmocka_unit_test (test_tmf_abort_task),
        cmocka_unit_test (test_logout_req),
        cmocka_unit_test (test_snack),
        cmocka_unit_test (test_data_in_decode),
        cmocka_unit_test (test_r2t_decode),
        cmocka_unit_test (test_scsi_rsp_decode),
        cmocka_unit_test (test_async_decode),
        cmocka_unit_test (test_reject_decode),
        cmocka_unit_test (test_login_rsp_decode),
        cmocka_unit_test (test_other_rsp_decode),
        cmocka_unit_test (test_all_opcodes_round_trip),
        cmocka_unit_test (test_dsl_24bit),
        cmocka_unit_test (test_ext_cdb_ahs),
        cmocka_unit_test (test_ahs_malformed),
        cmocka_unit_test (test_data_trailer),
        cmocka_unit_test (test_encode_digests_every_opcode),
        cmocka_unit_test (test_null_args),
    };
    return cmocka_run_group_tests_name ("proto pdu", tests, NULL, NULL);
}
