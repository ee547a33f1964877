/* test_textx.c: the Text Request / Response exchange machine (conformance
 * B17 machine part: continuation over 3 PDUs, TTT echo, ITT of the first
 * request, empty response, repeated TargetName and IPv6 portals passed
 * through; B18: F=1, TTT 0xffffffff, fresh ITT, CmdSN / ExpStatSN, reset
 * between exchanges). Requests are checked as encoded BHS bytes; one test
 * hands the reassembled text to sendtargets.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proto/errors.h"
#include "proto/pdu.h"
#include "proto/sendtargets.h"
#include "proto/text.h"
#include "proto/textx.h"

/* One request as handed out, with its encoded BHS. */
typedef struct {
    pdu_t pdu;
    uint8_t bhs[PDU_BHS_LEN];
    uint8_t data[256];
    size_t len;
} req_t;

static uint32_t
s_be32 (const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Takes the next request from the machine and encodes its BHS. */
static void
s_next (textx_t *tx, uint32_t cmdsn, uint32_t exp_statsn, req_t *r)
{
    const uint8_t *data = NULL;
    assert_int_equal (textx_state (tx), TEXTX_SEND);
    assert_int_equal (textx_next_request (tx, cmdsn, exp_statsn, &r->pdu, &data, &r->len),
                      0);
    assert_int_equal (textx_state (tx), TEXTX_WAIT);
    assert_true (r->len <= sizeof r->data);
    if (r->len)
        memcpy (r->data, data, r->len);
    assert_int_equal (r->pdu.data_segment_length, r->len);
    assert_int_equal (pdu_bhs_encode (&r->pdu, r->bhs), 0);
}

/* Builds a Text Response. */
static pdu_t
s_rsp (uint32_t itt, bool final, bool cont, uint32_t ttt, size_t len)
{
    pdu_t p;
    memset (&p, 0, sizeof p);
    p.opcode = PDU_OP_TEXT_RSP;
    p.final = final;
    p.itt = itt;
    p.data_segment_length = (uint32_t)len;
    p.u.text_rsp.cont = cont;
    p.u.text_rsp.ttt = ttt;
    p.u.text_rsp.statsn = 100;
    p.u.text_rsp.exp_cmdsn = 11;
    p.u.text_rsp.max_cmdsn = 40;
    return p;
}

/* Feeds a response. */
static int
s_feed (textx_t *tx, uint32_t itt, bool final, bool cont, uint32_t ttt, const char *data,
        size_t len)
{
    pdu_t p = s_rsp (itt, final, cont, ttt, len);
    return textx_handle_response (tx, &p, (const uint8_t *)data, len);
}

/* B18: the first request of an exchange: opcode 0x04 with I=0, F=1, C=0,
 * TTT 0xffffffff, the given ITT, CmdSN and ExpStatSN, LUN 0. */
static void
test_first_request_fields (void **state)
{
    (void)state;
    textx_t *tx = textx_new (NULL);
    assert_int_equal (textx_state (tx), TEXTX_IDLE);
    assert_int_equal (textx_start_key (tx, "SendTargets", "All", 0x11223344), 0);
    req_t r;
    s_next (tx, 10, 0x55, &r);
    assert_int_equal (r.bhs[0], 0x04); /* I=0: non-immediate */
    assert_int_equal (r.bhs[1], 0x80); /* F=1, C=0 */
    assert_int_equal (r.bhs[4], 0);
    assert_int_equal (r.bhs[7], 16); /* DSL */
    for (int i = 8; i < 16; i++)
        assert_int_equal (r.bhs[i], 0); /* LUN */
    assert_int_equal (s_be32 (r.bhs + 16), 0x11223344);
    assert_int_equal (s_be32 (r.bhs + 20), 0xffffffff);
    assert_int_equal (s_be32 (r.bhs + 24), 10);
    assert_int_equal (s_be32 (r.bhs + 28), 0x55);
    assert_int_equal (r.len, 16);
    assert_memory_equal (r.data, "SendTargets=All\0", 16);
    assert_int_equal (textx_itt (tx), 0x11223344);
    /* Not SEND any more. */
    const uint8_t *d;
    size_t n;
    pdu_t p;
    assert_int_equal (textx_next_request (tx, 11, 0x55, &p, &d, &n), UIS_ERR_STATE);
    textx_destroy (&tx);
    assert_null (tx);
}

/* B17: the response comes in 3 PDUs with C=1 and a TTT; each continuation
 * request echoes the TTT, keeps the ITT of the first request, is empty,
 * F=1, and carries the CmdSN / ExpStatSN passed in. */
static void
test_sendtargets_three_pdus (void **state)
{
    (void)state;
    textx_t *tx = textx_new (NULL);
    const uint32_t itt = 7;
    assert_int_equal (textx_start_key (tx, "SendTargets", "All", itt), 0);
    req_t r;
    s_next (tx, 20, 100, &r);
    static const char part1[] = "TargetName=iqn.2026-11.dev.uiscsi:disk\0TargetAdd";
    static const char part2[] = "ress=[::1]:3260,1\0TargetName=iqn.2026-11.dev.uis";
    static const char part3[] =
        "csi:null\0TargetAddress=127.0.0.1:3260,1\0TargetName=x\0";
    assert_int_equal (s_feed (tx, itt, false, true, 0xa1, part1, sizeof part1 - 1), 0);
    assert_int_equal (textx_state (tx), TEXTX_SEND);
    s_next (tx, 21, 101, &r);
    assert_int_equal (r.bhs[0], 0x04);
    assert_int_equal (r.bhs[1], 0x80);
    assert_int_equal (r.len, 0);
    assert_int_equal (r.bhs[7], 0);
    assert_int_equal (s_be32 (r.bhs + 16), itt);
    assert_int_equal (s_be32 (r.bhs + 20), 0xa1);
    assert_int_equal (s_be32 (r.bhs + 24), 21);
    assert_int_equal (s_be32 (r.bhs + 28), 101);
    assert_int_equal (s_feed (tx, itt, false, true, 0xa2, part2, sizeof part2 - 1), 0);
    s_next (tx, 22, 102, &r);
    assert_int_equal (s_be32 (r.bhs + 16), itt);
    assert_int_equal (s_be32 (r.bhs + 20), 0xa2);
    assert_int_equal (s_be32 (r.bhs + 24), 22);
    assert_int_equal (s_feed (tx, itt, true, false, 0xffffffff, part3, sizeof part3 - 1),
                      0);
    assert_int_equal (textx_state (tx), TEXTX_DONE);
    assert_int_equal (textx_requests (tx), 3);
    size_t n;
    const uint8_t *text = textx_response (tx, &n);
    assert_int_equal (n, sizeof part1 - 1 + sizeof part2 - 1 + sizeof part3 - 1);
    assert_memory_equal (text, part1, sizeof part1 - 1);
    assert_memory_equal (text + sizeof part1 - 1, part2, sizeof part2 - 1);
    uis_text_t *t = uis_text_new ();
    assert_int_equal (textx_response_parse (tx, t, 0), 0);
    assert_int_equal (uis_text_size (t), 5);
    assert_int_equal (uis_text_count (t, "TargetName"), 3);
    assert_string_equal (uis_text_value (t, 1), "[::1]:3260,1");
    assert_string_equal (uis_text_value (t, 2), "iqn.2026-11.dev.uiscsi:null");
    uis_text_destroy (&t);
    textx_destroy (&tx);
}

/* B17 end to end: a discovery answer over 3 PDUs, reassembled, handed to
 * the SendTargets parser: an IPv6 portal with a tag, a target without a
 * portal, and a TargetName that appears twice (merged by sendtargets.c). */
static void
test_sendtargets_parser (void **state)
{
    (void)state;
    textx_t *tx = textx_new (NULL);
    assert_int_equal (textx_start_key (tx, "SendTargets", "All", 0x42), 0);
    req_t r;
    s_next (tx, 1, 1, &r);
    static const char p1[] = "TargetName=iqn.2026-11.dev.uiscsi:a\0TargetAddress=[2001:d";
    static const char p2[] = "b8::5]:3261,7\0TargetName=iqn.2026-11.dev.uiscsi:nop";
    static const char p3[] = "ortal\0TargetName=iqn.2026-11.dev.uiscsi:a\0"
                             "TargetAddress=192.0.2.1,1\0";
    assert_int_equal (s_feed (tx, 0x42, false, true, 1, p1, sizeof p1 - 1), 0);
    s_next (tx, 2, 1, &r);
    assert_int_equal (s_feed (tx, 0x42, false, true, 2, p2, sizeof p2 - 1), 0);
    s_next (tx, 3, 1, &r);
    assert_int_equal (s_feed (tx, 0x42, true, false, 0xffffffff, p3, sizeof p3 - 1), 0);
    size_t n;
    const uint8_t *text = textx_response (tx, &n);
    uis_sendtargets_t *st = uis_sendtargets_new ();
    assert_int_equal (uis_sendtargets_parse_raw (st, text, n), 0);
    assert_int_equal (uis_sendtargets_count (st), 2);
    assert_string_equal (uis_sendtargets_name (st, 0), "iqn.2026-11.dev.uiscsi:a");
    assert_int_equal (uis_sendtargets_portal_count (st, 0), 2);
    const uis_st_portal_t *p = uis_sendtargets_portal (st, 0, 0);
    assert_true (p->portal.ipv6);
    assert_string_equal (p->portal.host, "2001:db8::5");
    assert_int_equal (p->portal.port, 3261);
    assert_true (p->has_tpgt);
    assert_int_equal (p->tpgt, 7);
    p = uis_sendtargets_portal (st, 0, 1);
    assert_string_equal (p->portal.host, "192.0.2.1");
    assert_int_equal (p->portal.port, 3260);
    assert_string_equal (uis_sendtargets_name (st, 1), "iqn.2026-11.dev.uiscsi:noportal");
    assert_int_equal (uis_sendtargets_portal_count (st, 1), 0);
    uis_sendtargets_destroy (&st);
    textx_destroy (&tx);
}

/* B17: an empty response (no targets) completes with empty text. */
static void
test_empty_response (void **state)
{
    (void)state;
    textx_t *tx = textx_new (NULL);
    assert_int_equal (textx_start_key (tx, "SendTargets", "All", 1), 0);
    req_t r;
    s_next (tx, 1, 1, &r);
    assert_int_equal (s_feed (tx, 1, true, false, 0xffffffff, NULL, 0), 0);
    assert_int_equal (textx_state (tx), TEXTX_DONE);
    size_t n = 99;
    assert_non_null (textx_response (tx, &n));
    assert_int_equal (n, 0);
    uis_text_t *t = uis_text_new ();
    assert_int_equal (textx_response_parse (tx, t, 0), 0);
    assert_int_equal (uis_text_size (t), 0);
    uis_text_destroy (&t);
    textx_destroy (&tx);
}

/* B18: a fresh ITT per exchange; nothing of the previous exchange (text,
 * TTT) survives into the next. */
static void
test_fresh_itt_and_reset (void **state)
{
    (void)state;
    textx_t *tx = textx_new (NULL);
    assert_int_equal (textx_start_key (tx, "SendTargets", "All", 0xffffffff),
                      UIS_ERR_INVALID_ARG);
    assert_int_equal (textx_start_key (tx, "SendTargets", "All", 5), 0);
    /* cannot restart while the exchange runs */
    assert_int_equal (textx_start_key (tx, "SendTargets", "All", 6), UIS_ERR_STATE);
    req_t r;
    s_next (tx, 1, 1, &r);
    assert_int_equal (textx_start_key (tx, "SendTargets", "All", 6), UIS_ERR_STATE);
    assert_int_equal (s_feed (tx, 5, false, true, 0x99, "A=1\0", 4), 0);
    s_next (tx, 2, 1, &r);
    assert_int_equal (s_feed (tx, 5, true, false, 0xffffffff, "B=2\0", 4), 0);
    size_t n;
    textx_response (tx, &n);
    assert_int_equal (n, 8);

    assert_int_equal (textx_start_key (tx, "SendTargets", "All", 5), UIS_ERR_INVALID_ARG);
    assert_int_equal (textx_start_key (tx, "SendTargets", "iqn.x", 6), 0);
    assert_null (textx_response (tx, &n));
    s_next (tx, 3, 2, &r);
    assert_int_equal (s_be32 (r.bhs + 16), 6);
    assert_int_equal (s_be32 (r.bhs + 20), 0xffffffff); /* TTT reset */
    assert_int_equal (r.bhs[1], 0x80);
    assert_memory_equal (r.data, "SendTargets=iqn.x\0", 18);
    assert_int_equal (s_feed (tx, 6, true, false, 0xffffffff, "C=3\0", 4), 0);
    const uint8_t *text = textx_response (tx, &n);
    assert_int_equal (n, 4);
    assert_memory_equal (text, "C=3\0", 4);
    assert_int_equal (textx_requests (tx), 1);
    textx_destroy (&tx);
}

/* Our own text split at the target's MRDSL: C=1/F=0 on all but the last
 * chunk, the target acks each with an empty response whose TTT the next
 * chunk echoes. */
static void
test_request_split (void **state)
{
    (void)state;
    textx_config_t cfg = {.max_send_dsl = 16};
    textx_t *tx = textx_new (&cfg);
    uis_text_t *keys = uis_text_new ();
    assert_int_equal (uis_text_add (keys, "MaxRecvDataSegmentLength", "262144"), 0);
    assert_int_equal (uis_text_add (keys, "X-com.example.k", "v"), 0);
    size_t total = uis_text_encoded_len (keys); /* 32 + 18 = 50 */
    assert_int_equal (total, 50);
    assert_int_equal (textx_start (tx, keys, 9), 0);
    uint8_t got[64];
    size_t off = 0;
    req_t r;
    s_next (tx, 30, 3, &r);
    assert_int_equal (r.bhs[1], 0x40); /* F=0, C=1 */
    assert_int_equal (s_be32 (r.bhs + 20), 0xffffffff);
    assert_int_equal (r.len, 16);
    memcpy (got + off, r.data, r.len);
    off += r.len;
    /* a non-empty ack is a violation: tested separately; here acks */
    assert_int_equal (s_feed (tx, 9, false, false, 0x77, NULL, 0), 0);
    s_next (tx, 31, 3, &r);
    assert_int_equal (r.bhs[1], 0x40);
    assert_int_equal (s_be32 (r.bhs + 20), 0x77);
    assert_int_equal (s_be32 (r.bhs + 24), 31);
    memcpy (got + off, r.data, r.len);
    off += r.len;
    assert_int_equal (s_feed (tx, 9, false, false, 0x78, NULL, 0), 0);
    s_next (tx, 32, 3, &r);
    assert_int_equal (r.bhs[1], 0x40);
    memcpy (got + off, r.data, r.len);
    off += r.len;
    assert_int_equal (s_feed (tx, 9, false, false, 0x79, NULL, 0), 0);
    s_next (tx, 33, 3, &r);
    assert_int_equal (r.bhs[1], 0x80); /* last chunk: F=1, C=0 */
    assert_int_equal (r.len, 2);
    assert_int_equal (s_be32 (r.bhs + 20), 0x79);
    memcpy (got + off, r.data, r.len);
    off += r.len;
    assert_int_equal (off, total);
    size_t n;
    assert_memory_equal (got, uis_text_encode (keys, &n), total);
    assert_int_equal (
        s_feed (tx, 9, true, false, 0xffffffff, "MaxRecvDataSegmentLength=8192\0", 30),
        0);
    assert_int_equal (textx_state (tx), TEXTX_DONE);
    uis_text_destroy (&keys);

    /* A non-empty answer to a C=1 chunk fails the exchange. */
    keys = uis_text_new ();
    assert_int_equal (uis_text_add (keys, "MaxRecvDataSegmentLength", "262144"), 0);
    assert_int_equal (textx_start (tx, keys, 10), 0);
    s_next (tx, 34, 3, &r);
    assert_int_equal (s_feed (tx, 10, false, false, 0x70, "A=1\0", 4), UIS_ERR_PROTOCOL);
    assert_int_equal (textx_state (tx), TEXTX_FAILED);
    assert_string_equal (textx_error_detail (tx), "non-empty answer to a C=1 request");
    uis_text_destroy (&keys);
    textx_destroy (&tx);
}

/* An intermediate LTDS (F=0, C=0) that omits its final NUL does not glue
 * its last pair to the next response's first. */
static void
test_ltds_boundary (void **state)
{
    (void)state;
    textx_t *tx = textx_new (NULL);
    assert_int_equal (textx_start_key (tx, "SendTargets", "All", 3), 0);
    req_t r;
    s_next (tx, 1, 1, &r);
    assert_int_equal (s_feed (tx, 3, false, false, 0x10, "A=1", 3), 0);
    s_next (tx, 2, 1, &r);
    assert_int_equal (s_be32 (r.bhs + 20), 0x10);
    assert_int_equal (s_feed (tx, 3, true, false, 0xffffffff, "B=2\0", 4), 0);
    uis_text_t *t = uis_text_new ();
    assert_int_equal (textx_response_parse (tx, t, 0), 0);
    assert_int_equal (uis_text_size (t), 2);
    assert_string_equal (uis_text_find (t, "A"), "1");
    assert_string_equal (uis_text_find (t, "B"), "2");
    uis_text_destroy (&t);
    textx_destroy (&tx);
}

/* Rule violations from the target fail the exchange with a detail. */
static void
test_violations (void **state)
{
    (void)state;
    static const struct {
        uint8_t opcode;
        uint32_t itt;
        bool final, cont;
        uint32_t ttt;
        const char *data;
        size_t len;
        int rc;
        const char *detail;
    } cases[] = {
        {PDU_OP_LOGIN_RSP, 4, true, false, 0xffffffff, NULL, 0, UIS_ERR_PROTOCOL,
         "not a text response"},
        {PDU_OP_TEXT_RSP, 5, true, false, 0xffffffff, NULL, 0, UIS_ERR_PROTOCOL,
         "text response ITT does not match"},
        {PDU_OP_TEXT_RSP, 4, true, true, 0x1, "A=1\0", 4, UIS_ERR_PROTOCOL,
         "text response with C=1 and F=1"},
        {PDU_OP_TEXT_RSP, 4, true, false, 0x1, NULL, 0, UIS_ERR_PROTOCOL,
         "final text response with a TTT"},
        {PDU_OP_TEXT_RSP, 4, false, true, 0xffffffff, "A=1\0", 4, UIS_ERR_PROTOCOL,
         "continued text response without a TTT"},
        {PDU_OP_TEXT_RSP, 4, false, false, 0xffffffff, NULL, 0, UIS_ERR_PROTOCOL,
         "continued text response without a TTT"},
        {PDU_OP_TEXT_RSP, 4, false, true, 0x5, NULL, 0, UIS_ERR_PROTOCOL,
         "text response with C=1 and no data"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        textx_t *tx = textx_new (NULL);
        assert_int_equal (textx_start_key (tx, "SendTargets", "All", 4), 0);
        req_t r;
        s_next (tx, 1, 1, &r);
        pdu_t p = s_rsp (cases[i].itt, cases[i].final, cases[i].cont, cases[i].ttt,
                         cases[i].len);
        p.opcode = cases[i].opcode;
        assert_int_equal (
            textx_handle_response (tx, &p, (const uint8_t *)cases[i].data, cases[i].len),
            cases[i].rc);
        assert_int_equal (textx_state (tx), TEXTX_FAILED);
        assert_int_equal (textx_error (tx), cases[i].rc);
        assert_string_equal (textx_error_detail (tx), cases[i].detail);
        assert_string_equal (textx_last_event_name (tx), "rsp_bad");
        /* nothing more is accepted */
        assert_int_equal (textx_handle_response (tx, &p, NULL, 0), UIS_ERR_STATE);
        textx_destroy (&tx);
    }
    /* A response before any request. */
    textx_t *tx = textx_new (NULL);
    pdu_t p = s_rsp (1, true, false, 0xffffffff, 0);
    assert_int_equal (textx_handle_response (tx, &p, NULL, 0), UIS_ERR_STATE);
    /* DSL disagreeing with the data handed in. */
    assert_int_equal (textx_start_key (tx, "SendTargets", "All", 4), 0);
    req_t r;
    s_next (tx, 1, 1, &r);
    p = s_rsp (4, true, false, 0xffffffff, 8);
    assert_int_equal (textx_handle_response (tx, &p, (const uint8_t *)"A=1\0", 4),
                      UIS_ERR_PROTOCOL);
    textx_destroy (&tx);
}

/* Limits: total response text and number of response PDUs. */
static void
test_limits (void **state)
{
    (void)state;
    textx_config_t cfg = {.max_total = 10, .max_pdus = 3};
    textx_t *tx = textx_new (&cfg);
    assert_int_equal (textx_start_key (tx, "SendTargets", "All", 1), 0);
    req_t r;
    s_next (tx, 1, 1, &r);
    assert_int_equal (s_feed (tx, 1, false, true, 0x1, "AAAAAA", 6), 0);
    s_next (tx, 2, 1, &r);
    assert_int_equal (s_feed (tx, 1, true, false, 0xffffffff, "=BBBB\0", 6),
                      UIS_ERR_TOO_LONG);
    assert_int_equal (textx_state (tx), TEXTX_FAILED);
    assert_string_equal (textx_error_detail (tx), "response text exceeds the limit");

    /* an endless stream of empty F=0 responses stops at max_pdus */
    assert_int_equal (textx_start_key (tx, "SendTargets", "All", 2), 0);
    int rc = 0;
    unsigned i;
    for (i = 0; i < 10 && rc == 0; i++) {
        s_next (tx, 10 + i, 1, &r);
        rc = s_feed (tx, 2, false, false, 0x5, NULL, 0);
    }
    assert_int_equal (rc, UIS_ERR_TOO_LONG);
    assert_int_equal (i, 4);
    assert_string_equal (textx_error_detail (tx), "too many text responses");
    textx_destroy (&tx);
}

static void
test_names (void **state)
{
    (void)state;
    assert_string_equal (textx_state_name (TEXTX_IDLE), "idle");
    assert_string_equal (textx_state_name (TEXTX_WAIT), "wait");
    assert_string_equal (textx_state_name (TEXTX_FAILED), "failed");
    assert_string_equal (textx_state_name ((textx_state_t)99), "unknown");
    textx_destroy (NULL);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_first_request_fields),
        cmocka_unit_test (test_sendtargets_three_pdus),
        cmocka_unit_test (test_sendtargets_parser),
        cmocka_unit_test (test_empty_response),
        cmocka_unit_test (test_fresh_itt_and_reset),
        cmocka_unit_test (test_request_split),
        cmocka_unit_test (test_ltds_boundary),
        cmocka_unit_test (test_violations),
        cmocka_unit_test (test_limits),
        cmocka_unit_test (test_names),
    };
    return cmocka_run_group_tests_name ("textx", tests, NULL, NULL);
}
