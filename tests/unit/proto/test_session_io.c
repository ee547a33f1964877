/* test_session_io.c: the session engine (proto/session.c), layers 2 and 3:
 * writes (immediate, unsolicited, R2T service), task management, logout,
 * text, reject, async and recovery helpers.
 *
 * Conformance ids covered here: E10, H1, H2, H3, H4, H5, H6, H7, H8, H9,
 * H10, H11, H12, H13, H14, H15, H16, I6, K1, L1, L6, M1, M2, M3, M4, M6,
 * M7, N1, N4. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proto/errors.h"
#include "proto/pdu.h"
#include "proto/session.h"
#include "tests/unit/proto/test_session_harness.h"

static uint8_t s_wb[1 << 20]; /* write data source: byte i = i * 7 */

static void
s_fill (void)
{
    for (size_t i = 0; i < sizeof s_wb; i++)
        s_wb[i] = (uint8_t)(i * 7);
}

/* Takes the next output, which must be a Data-Out with these fields. */
static void
s_expect_data_out (session_t *s, uint32_t itt, uint32_t ttt, uint32_t datasn,
                   uint32_t offset, uint32_t len, bool final)
{
    session_out_t o;
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.opcode, PDU_OP_DATA_OUT);
    assert_int_equal (o.pdu.itt, itt);
    assert_int_equal (o.pdu.u.data_out.ttt, ttt);
    assert_int_equal (o.pdu.u.data_out.datasn, datasn);
    assert_int_equal (o.pdu.u.data_out.buffer_offset, offset);
    assert_int_equal (o.pdu.data_segment_length, len);
    assert_int_equal (o.data_len, len);
    assert_ptr_equal (o.data, s_wb + offset); /* H11: from the requested offset */
    assert_int_equal (o.pdu.final, final);
    assert_false (o.priority);
    h_encodable (&o);
}

/* Takes the next output, which must be the SCSI Command of a write. */
static session_out_t
s_expect_cmd (session_t *s, uint32_t itt, uint32_t imm, bool final)
{
    session_out_t o;
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.opcode, PDU_OP_SCSI_CMD);
    assert_int_equal (o.pdu.itt, itt);
    assert_true (o.pdu.u.scsi_cmd.write);
    assert_int_equal (o.pdu.data_segment_length, imm);
    assert_int_equal (o.data_len, imm);
    if (imm)
        assert_ptr_equal (o.data, s_wb);
    assert_int_equal (o.pdu.final, final);
    h_encodable (&o);
    return o;
}

static uis_neg_params_t
s_wparams (bool imm, bool initial_r2t, uint32_t fbl, uint32_t mrdsl)
{
    uis_neg_params_t p = h_params ();
    p.immediate_data = imm;
    p.initial_r2t = initial_r2t;
    p.first_burst = fbl;
    p.max_recv_dsl_target = mrdsl;
    return p;
}

/* H1: ImmediateData=Yes, InitialR2T=Yes, EDTL 1024, MRDSL 512: 512
 * immediate bytes with F=1; R2T(512, 512) -> one Data-Out F=1. */
static void
test_H1_immediate_then_r2t (void **state)
{
    (void)state;
    uis_neg_params_t p = s_wparams (true, true, 65536, 512);
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint32_t w;
    session_cmd_t c = h_cmd (2, NULL, 0);
    c.cdb = h_write10;
    c.write_buf = s_wb;
    c.write_buf_len = 1024;
    c.write_len = 1024;
    assert_int_equal (session_submit (s, &c, &w), 0);
    session_out_t o = s_expect_cmd (s, w, 512, true);
    assert_int_equal (o.pdu.u.scsi_cmd.expected_data_transfer_length, 1024);
    assert_false (session_out_next (s, &o));
    h_r2t (s, w, 0x99, 0, 512, 512, 1, 1, 50);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.opcode, PDU_OP_DATA_OUT);
    assert_int_equal (o.pdu.lun, 0x0002000000000000ull); /* with a TTT: the LUN */
    assert_int_equal (o.pdu.u.data_out.ttt, 0x99);
    assert_int_equal (o.pdu.u.data_out.datasn, 0);
    assert_int_equal (o.pdu.u.data_out.buffer_offset, 512);
    assert_int_equal (o.data_len, 512);
    assert_ptr_equal (o.data, s_wb + 512);
    assert_true (o.pdu.final);
    assert_false (session_out_next (s, &o));
    h_rsp (s, w, 0, 0, 1, 1, 50);
    session_event_t ev;
    h_take_complete (s, w, SESSION_R_GOOD, &ev);
    assert_int_equal (ev.bytes_out, 1024);
    session_destroy (&s);
}

/* H2: ImmediateData=No, InitialR2T=Yes: DSL 0, F=1, all via R2T. */
static void
test_H2_r2t_only (void **state)
{
    (void)state;
    uis_neg_params_t p = s_wparams (false, true, 65536, 512);
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint32_t w;
    assert_int_equal (h_write (s, 0, s_wb, 1024, &w), 0);
    s_expect_cmd (s, w, 0, true);
    session_out_t o;
    assert_false (session_out_next (s, &o));
    h_r2t (s, w, 0x10, 0, 0, 1024, 1, 1, 50);
    s_expect_data_out (s, w, 0x10, 0, 0, 512, false);
    s_expect_data_out (s, w, 0x10, 1, 512, 512, true);
    assert_false (session_out_next (s, &o));
    session_destroy (&s);
}

/* H3: ImmediateData=Yes, InitialR2T=No, EDTL > FBL: immediate, then
 * unsolicited Data-Out (TTT 0xffffffff, DataSN from 0, contiguous) up to
 * FBL with F=1 only on the last; the command has F=0; the R2T for the rest
 * starts at FBL. */
static void
test_H3_unsolicited (void **state)
{
    (void)state;
    uis_neg_params_t p = s_wparams (true, false, 2048, 512);
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint32_t w;
    assert_int_equal (h_write (s, 1, s_wb, 4096, &w), 0);
    s_expect_cmd (s, w, 512, false);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.lun, 0); /* no TTT: LUN reserved */
    assert_int_equal (o.pdu.u.data_out.ttt, PDU_RESERVED_TAG);
    assert_int_equal (o.pdu.u.data_out.datasn, 0);
    assert_int_equal (o.pdu.u.data_out.buffer_offset, 512);
    assert_false (o.pdu.final);
    s_expect_data_out (s, w, PDU_RESERVED_TAG, 1, 1024, 512, false);
    s_expect_data_out (s, w, PDU_RESERVED_TAG, 2, 1536, 512, true);
    assert_false (session_out_next (s, &o));
    h_r2t (s, w, 0x20, 0, 2048, 2048, 1, 1, 50);
    for (uint32_t k = 0; k < 4; k++)
        s_expect_data_out (s, w, 0x20, k, 2048 + 512 * k, 512, k == 3);
    assert_false (session_out_next (s, &o));
    session_destroy (&s);
}

/* H4: ImmediateData=No, InitialR2T=No: DSL 0, F=0, unsolicited from 0. */
static void
test_H4_unsolicited_no_immediate (void **state)
{
    (void)state;
    uis_neg_params_t p = s_wparams (false, false, 1024, 512);
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint32_t w;
    assert_int_equal (h_write (s, 0, s_wb, 1024, &w), 0);
    s_expect_cmd (s, w, 0, false);
    s_expect_data_out (s, w, PDU_RESERVED_TAG, 0, 0, 512, false);
    s_expect_data_out (s, w, PDU_RESERVED_TAG, 1, 512, 512, true);
    session_out_t o;
    assert_false (session_out_next (s, &o));
    h_rsp (s, w, 0, 0, 1, 1, 50);
    h_expect_complete (s, w, SESSION_R_GOOD);
    session_destroy (&s);
}

/* H5: InitialR2T=No with EDTL <= FBL ending on a PDU boundary. */
static void
test_H5_fits_first_burst (void **state)
{
    (void)state;
    uint32_t w;
    session_out_t o;
    /* EDTL 512, FBL 64 KiB: immediate takes all, F=1, nothing follows. */
    uis_neg_params_t p = s_wparams (true, false, 65536, 8192);
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    assert_int_equal (h_write (s, 0, s_wb, 512, &w), 0);
    s_expect_cmd (s, w, 512, true);
    assert_false (session_out_next (s, &o));
    session_destroy (&s);
    /* EDTL = MRDSL = 8192. */
    s = h_new (&p, 0, 0, 50, 0, 16);
    assert_int_equal (h_write (s, 0, s_wb, 8192, &w), 0);
    s_expect_cmd (s, w, 8192, true);
    assert_false (session_out_next (s, &o));
    session_destroy (&s);
    /* EDTL = 2 x MRDSL < FBL: one unsolicited PDU with F=1. */
    s = h_new (&p, 0, 0, 50, 0, 16);
    assert_int_equal (h_write (s, 0, s_wb, 16384, &w), 0);
    s_expect_cmd (s, w, 8192, false);
    s_expect_data_out (s, w, PDU_RESERVED_TAG, 0, 8192, 8192, true);
    assert_false (session_out_next (s, &o));
    h_rsp (s, w, 0, 0, 1, 1, 50);
    h_expect_complete (s, w, SESSION_R_GOOD);
    session_destroy (&s);
    /* Same without immediate data: two unsolicited PDUs, command F=0. */
    p.immediate_data = false;
    s = h_new (&p, 0, 0, 50, 0, 16);
    assert_int_equal (h_write (s, 0, s_wb, 16384, &w), 0);
    s_expect_cmd (s, w, 0, false);
    s_expect_data_out (s, w, PDU_RESERVED_TAG, 0, 0, 8192, false);
    s_expect_data_out (s, w, PDU_RESERVED_TAG, 1, 8192, 8192, true);
    assert_false (session_out_next (s, &o));
    session_destroy (&s);
}

/* H6: FBL boundary table (ImmediateData=Yes, InitialR2T=No): EDTL < FBL
 * unaligned, = FBL, > FBL, EDTL = MRDSL = FBL, EDTL = 2 x FBL. The
 * unsolicited total is min (FBL, EDTL), PDUs <= MRDSL, contiguous, F only
 * on the last; an R2T for the rest completes the transfer. */
static void
test_H6_first_burst_table (void **state)
{
    (void)state;
    const struct {
        uint32_t edtl, fbl, mrdsl;
    } cases[] = {{1000, 2048, 512}, {2048, 2048, 512}, {5000, 2048, 512},
                 {512, 512, 512},   {4096, 2048, 512}, {700, 600, 1024}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uis_neg_params_t p = s_wparams (true, false, cases[i].fbl, cases[i].mrdsl);
        session_t *s = h_new (&p, 0, 0, 50, 0, 16);
        uint32_t w, edtl = cases[i].edtl;
        assert_int_equal (h_write (s, 0, s_wb, edtl, &w), 0);
        uint32_t unsol = edtl < cases[i].fbl ? edtl : cases[i].fbl;
        session_out_t o;
        assert_true (session_out_next (s, &o));
        uint32_t next = o.data_len;
        assert_true (o.data_len <= cases[i].mrdsl);
        assert_int_equal (o.pdu.final, next == unsol);
        for (uint32_t k = 0; next < unsol; k++) {
            assert_true (k < 100);
            assert_true (session_out_next (s, &o));
            assert_int_equal (o.pdu.opcode, PDU_OP_DATA_OUT);
            assert_int_equal (o.pdu.u.data_out.ttt, PDU_RESERVED_TAG);
            assert_int_equal (o.pdu.u.data_out.datasn, k);
            assert_int_equal (o.pdu.u.data_out.buffer_offset, next);
            assert_true (o.data_len <= cases[i].mrdsl);
            next += (uint32_t)o.data_len;
            assert_int_equal (o.pdu.final, next == unsol);
        }
        assert_int_equal (next, unsol);
        assert_false (session_out_next (s, &o));
        if (edtl > unsol) {
            h_r2t (s, w, 0x40, 0, unsol, edtl - unsol, 1, 1, 50);
            for (uint32_t k = 0; next < edtl; k++) {
                assert_true (k < 100);
                assert_true (session_out_next (s, &o));
                assert_int_equal (o.pdu.u.data_out.buffer_offset, next);
                assert_int_equal (o.pdu.u.data_out.datasn, k);
                next += (uint32_t)o.data_len;
                assert_int_equal (o.pdu.final, next == edtl);
            }
            assert_false (session_out_next (s, &o));
        }
        h_rsp (s, w, 0, 0, 1, 1, 50);
        session_event_t ev;
        h_take_complete (s, w, SESSION_R_GOOD, &ev);
        assert_int_equal (ev.bytes_out, edtl);
        session_destroy (&s);
    }
}

/* H7: immediate <= min (FBL, target MRDSL, EDTL), even with a longer data
 * source. */
static void
test_H7_immediate_limit (void **state)
{
    (void)state;
    uis_neg_params_t p = s_wparams (true, true, 65536, 8192);
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    session_cmd_t c = h_cmd (0, NULL, 0);
    c.cdb = h_write10;
    c.write_buf = s_wb;
    c.write_buf_len = 10000;
    c.write_len = 700;
    uint32_t w;
    assert_int_equal (session_submit (s, &c, &w), 0);
    s_expect_cmd (s, w, 700, true);
    session_destroy (&s);
    p = s_wparams (true, true, 600, 8192);
    s = h_new (&p, 0, 0, 50, 0, 16);
    assert_int_equal (session_submit (s, &c, &w), 0);
    s_expect_cmd (s, w, 600, true);
    session_destroy (&s);
    p = s_wparams (true, true, 65536, 512);
    s = h_new (&p, 0, 0, 50, 0, 16);
    assert_int_equal (session_submit (s, &c, &w), 0);
    s_expect_cmd (s, w, 512, true);
    session_destroy (&s);
}

/* H8: R2T service: TTT echoed, DataSN restarts at 0 per R2T, offsets =
 * R2T offset + k x MRDSL, PDUs <= MRDSL, F on the last, total = DDTL. */
static void
test_H8_r2t_service (void **state)
{
    (void)state;
    uis_neg_params_t p = s_wparams (false, true, 65536, 512);
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint32_t w;
    assert_int_equal (h_write (s, 0, s_wb, 2000, &w), 0);
    s_expect_cmd (s, w, 0, true);
    h_r2t (s, w, 0xa1, 0, 0, 1300, 1, 1, 50);
    s_expect_data_out (s, w, 0xa1, 0, 0, 512, false);
    s_expect_data_out (s, w, 0xa1, 1, 512, 512, false);
    s_expect_data_out (s, w, 0xa1, 2, 1024, 276, true);
    h_r2t (s, w, 0xa2, 1, 1300, 700, 1, 1, 50);
    s_expect_data_out (s, w, 0xa2, 0, 1300, 512, false);
    s_expect_data_out (s, w, 0xa2, 1, 1812, 188, true);
    session_out_t o;
    assert_false (session_out_next (s, &o));
    session_destroy (&s);
}

/* H9: 4 R2Ts of 256 KiB for a 1 MiB write, R2TSN 0..3; an R2TSN gap at
 * ERL 0 fails the task. */
static void
test_H9_r2tsn (void **state)
{
    (void)state;
    uis_neg_params_t p = s_wparams (false, true, 65536, 65536);
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint32_t w;
    assert_int_equal (h_write (s, 0, s_wb, 1 << 20, &w), 0);
    s_expect_cmd (s, w, 0, true);
    for (uint32_t r = 0; r < 4; r++) {
        h_r2t (s, w, 0x100 + r, r, r << 18, 1 << 18, 1, 1, 50);
        for (uint32_t k = 0; k < 4; k++)
            s_expect_data_out (s, w, 0x100 + r, k, (r << 18) + k * 65536, 65536, k == 3);
    }
    h_rsp (s, w, 0, 0, 1, 1, 50);
    session_event_t ev;
    h_take_complete (s, w, SESSION_R_GOOD, &ev);
    assert_int_equal (ev.bytes_out, 1 << 20);
    /* Gap: R2TSN 0 then 2. */
    assert_int_equal (h_write (s, 0, s_wb, 4096, &w), 0);
    s_expect_cmd (s, w, 0, true);
    h_r2t (s, w, 0x200, 0, 0, 1024, 2, 2, 50);
    s_expect_data_out (s, w, 0x200, 0, 0, 1024, true);
    h_r2t (s, w, 0x201, 2, 2048, 1024, 2, 2, 50);
    assert_true (session_event_next (s, &ev));
    assert_int_equal (ev.kind, SESSION_EV_PROTOCOL);
    assert_int_equal (ev.fatal, SESSION_FATAL_TASK);
    assert_string_equal (ev.detail, "R2TSN gap");
    h_expect_complete (s, w, SESSION_R_PROTOCOL);
    session_out_t o;
    assert_false (session_out_next (s, &o));
    session_destroy (&s);
}

/* H10: DDTL > MaxBurstLength: served in full (the documented choice). */
static void
test_H10_over_max_burst (void **state)
{
    (void)state;
    uis_neg_params_t p = s_wparams (false, true, 512, 512);
    p.max_burst = 1024;
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint32_t w;
    assert_int_equal (h_write (s, 0, s_wb, 2048, &w), 0);
    s_expect_cmd (s, w, 0, true);
    h_r2t (s, w, 0x31, 0, 0, 2048, 1, 1, 50);
    for (uint32_t k = 0; k < 4; k++)
        s_expect_data_out (s, w, 0x31, k, k * 512, 512, k == 3);
    session_stats_t st;
    session_stats (s, &st);
    assert_int_equal (st.r2t_over_burst, 1);
    assert_false (h_has_event (s));
    session_destroy (&s);
}

/* H11: R2Ts at offsets other than "bytes sent so far": a later range
 * first, then the start, then a recovery R2T (older R2TSN) re-requesting
 * a sent range: each served from the requested offset. */
static void
test_H11_requested_offset (void **state)
{
    (void)state;
    uis_neg_params_t p = s_wparams (false, true, 65536, 4096);
    p.erl = 1;
    p.data_sequence_in_order = false;
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint32_t w;
    assert_int_equal (h_write (s, 0, s_wb, 8192, &w), 0);
    s_expect_cmd (s, w, 0, true);
    h_r2t (s, w, 0x51, 0, 4096, 4096, 1, 1, 50);
    s_expect_data_out (s, w, 0x51, 0, 4096, 4096, true);
    h_r2t (s, w, 0x52, 1, 0, 4096, 1, 1, 50);
    s_expect_data_out (s, w, 0x52, 0, 0, 4096, true);
    h_r2t (s, w, 0x53, 0, 1000, 2000, 1, 1, 50); /* recovery: R2TSN 0 again */
    s_expect_data_out (s, w, 0x53, 0, 1000, 2000, true);
    assert_false (h_has_event (s));
    session_destroy (&s);
}

/* H12: R2T with offset + length > EDTL: task-fatal protocol error. */
static void
test_H12_r2t_beyond_edtl (void **state)
{
    (void)state;
    uis_neg_params_t p = s_wparams (false, true, 65536, 4096);
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint32_t w;
    assert_int_equal (h_write (s, 0, s_wb, 1024, &w), 0);
    s_expect_cmd (s, w, 0, true);
    h_r2t (s, w, 0x61, 0, 512, 1024, 1, 1, 50);
    session_event_t ev;
    assert_true (session_event_next (s, &ev));
    assert_int_equal (ev.kind, SESSION_EV_PROTOCOL);
    assert_int_equal (ev.fatal, SESSION_FATAL_TASK);
    assert_int_equal (ev.itt, w);
    h_expect_complete (s, w, SESSION_R_PROTOCOL);
    session_out_t o;
    assert_false (session_out_next (s, &o));
    /* An R2T with offset near 2^32 does not wrap the check. */
    assert_int_equal (h_write (s, 0, s_wb, 1024, &w), 0);
    s_expect_cmd (s, w, 0, true);
    h_r2t (s, w, 0x62, 0, 0xfffffe00u, 0x400, 1, 1, 50);
    assert_true (session_event_next (s, &ev));
    h_expect_complete (s, w, SESSION_R_PROTOCOL);
    assert_false (session_out_next (s, &o));
    session_destroy (&s);
}

/* H13: two writes with interleaved R2Ts: Data-Out alternates. */
static void
test_H13_interleaved (void **state)
{
    (void)state;
    uis_neg_params_t p = s_wparams (false, true, 65536, 512);
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint32_t a, b;
    assert_int_equal (h_write (s, 0, s_wb, 1024, &a), 0);
    assert_int_equal (h_write (s, 0, s_wb, 1024, &b), 0);
    s_expect_cmd (s, a, 0, true);
    s_expect_cmd (s, b, 0, true);
    h_r2t (s, a, 0xa, 0, 0, 1024, 1, 2, 50);
    h_r2t (s, b, 0xb, 0, 0, 1024, 1, 2, 50);
    s_expect_data_out (s, a, 0xa, 0, 0, 512, false);
    s_expect_data_out (s, b, 0xb, 0, 0, 512, false);
    s_expect_data_out (s, a, 0xa, 1, 512, 512, true);
    s_expect_data_out (s, b, 0xb, 1, 512, 512, true);
    session_destroy (&s);
}

/* H14: MaxOutstandingR2T = 4: four outstanding R2Ts of one task are all
 * served; a fifth while four are open is a protocol error. */
static void
test_H14_outstanding_r2t (void **state)
{
    (void)state;
    uis_neg_params_t p = s_wparams (false, true, 65536, 1024);
    p.max_outstanding_r2t = 4;
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint32_t w;
    assert_int_equal (h_write (s, 0, s_wb, 8192, &w), 0);
    s_expect_cmd (s, w, 0, true);
    for (uint32_t r = 0; r < 4; r++)
        h_r2t (s, w, 0x70 + r, r, r * 1024, 1024, 1, 1, 50);
    for (uint32_t r = 0; r < 4; r++)
        s_expect_data_out (s, w, 0x70 + r, 0, r * 1024, 1024, true);
    session_out_t o;
    assert_false (session_out_next (s, &o));
    assert_false (h_has_event (s));
    for (uint32_t r = 4; r < 9; r++)
        h_r2t (s, w, 0x70 + r, r, (r - 4) * 1024, 1024, 1, 1, 50);
    session_event_t ev;
    assert_true (session_event_next (s, &ev));
    assert_int_equal (ev.kind, SESSION_EV_PROTOCOL);
    assert_string_equal (ev.detail, "more R2Ts outstanding than MaxOutstandingR2T");
    h_expect_complete (s, w, SESSION_R_PROTOCOL);
    session_destroy (&s);
}

/* H15: a data source shorter than EDTL is refused before anything is
 * sent; EDTL 0 needs no source. */
static void
test_H15_short_source (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    session_cmd_t c = h_cmd (0, NULL, 0);
    c.cdb = h_write10;
    c.write_buf = s_wb;
    c.write_buf_len = 100;
    c.write_len = 512;
    uint32_t w;
    assert_int_equal (session_submit (s, &c, &w), UIS_ERR_INVALID_ARG);
    c.write_buf = NULL;
    c.write_buf_len = 0;
    assert_int_equal (session_submit (s, &c, &w), UIS_ERR_INVALID_ARG);
    session_out_t o;
    assert_false (session_out_next (s, &o));
    c.write_len = 0; /* e.g. WRITE SAME without data */
    assert_int_equal (session_submit (s, &c, &w), 0);
    assert_true (session_out_next (s, &o));
    assert_false (o.pdu.u.scsi_cmd.write);
    assert_int_equal (o.pdu.u.scsi_cmd.expected_data_transfer_length, 0);
    /* Read buffer missing for a read length. */
    c = h_cmd (0, NULL, 16);
    assert_int_equal (session_submit (s, &c, &w), UIS_ERR_INVALID_ARG);
    session_destroy (&s);
}

/* H16, M1: cancel during a write burst: ABORT TASK with I=1, current
 * CmdSN, RTT = the task's ITT, RefCmdSN = its CmdSN, LUN = its LUN; no
 * more Data-Out; the ITT stays live until the TMF response (function
 * complete), then the task ends "aborted". */
static void
test_H16_M1_abort_task (void **state)
{
    (void)state;
    uis_neg_params_t p = s_wparams (false, true, 65536, 512);
    session_t *s = h_new (&p, 40, 40, 90, 0, 16);
    uint32_t r0, w, tmf;
    uint8_t rb[1];
    assert_int_equal (h_read (s, 0, rb, 0, &r0), 0);
    assert_int_equal (h_write (s, 7, s_wb, 4096, &w), 0);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    s_expect_cmd (s, w, 0, true);
    h_r2t (s, w, 0x81, 0, 0, 4096, 1, 42, 90);
    s_expect_data_out (s, w, 0x81, 0, 0, 512, false);
    int cookie;
    assert_int_equal (session_tmf (s, PDU_TMF_ABORT_TASK, NULL, w, &cookie, &tmf), 0);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.opcode, PDU_OP_TMF_REQ);
    assert_true (o.priority);
    assert_true (o.pdu.immediate);
    assert_int_equal (o.pdu.itt, tmf);
    assert_int_equal (o.pdu.u.tmf_req.function, PDU_TMF_ABORT_TASK);
    assert_int_equal (o.pdu.u.tmf_req.referenced_task_tag, w);
    assert_int_equal (o.pdu.u.tmf_req.ref_cmdsn, 41);
    assert_int_equal (o.pdu.u.tmf_req.cmdsn, 42);
    assert_int_equal (o.pdu.lun, 0x0007000000000000ull);
    h_encodable (&o);
    assert_false (session_out_next (s, &o)); /* no more Data-Out */
    session_task_info_t ti[4];
    assert_int_equal (session_tasks (s, ti, 4), 3);
    h_r2t (s, w, 0x82, 1, 0, 512, 1, 42, 90); /* ignored while aborting */
    assert_false (session_out_next (s, &o));
    pdu_t h;
    pdu_init (&h, PDU_OP_TMF_RSP);
    h.itt = tmf;
    h.u.tmf_rsp.response = PDU_TMF_RSP_COMPLETE;
    h.u.tmf_rsp.statsn = 1;
    h.u.tmf_rsp.exp_cmdsn = 42;
    h.u.tmf_rsp.max_cmdsn = 90;
    assert_int_equal (session_rx_pdu (s, &h, NULL, 0, 1), 0);
    session_event_t ev;
    h_take_complete (s, w, SESSION_R_ABORTED, &ev);
    assert_int_equal (ev.bytes_out, 512);
    h_take_complete (s, tmf, SESSION_R_TMF_COMPLETE, &ev);
    assert_ptr_equal (ev.cookie, &cookie);
    assert_int_equal (ev.tmf_response, 0);
    assert_int_equal (session_tasks (s, ti, 4), 1);
    /* ABORT TASK of a queued command or an unknown ITT. */
    uint32_t q;
    assert_int_equal (session_tmf (s, PDU_TMF_ABORT_TASK, NULL, w, NULL, &q),
                      UIS_ERR_INVALID_ARG);
    session_destroy (&s);
}

static void
s_tmf_rsp (session_t *s, uint32_t itt, uint8_t response, uint32_t statsn)
{
    pdu_t h;
    pdu_init (&h, PDU_OP_TMF_RSP);
    h.itt = itt;
    h.u.tmf_rsp.response = response;
    h.u.tmf_rsp.statsn = statsn;
    h.u.tmf_rsp.exp_cmdsn = session_cmdsn (s);
    h.u.tmf_rsp.max_cmdsn = session_cmdsn (s) + 50;
    assert_int_equal (session_rx_pdu (s, &h, NULL, 0, 1), 0);
}

/* M2: ABORT TASK of a task that completes before the TMF answer: response
 * 1 (no such task) is a normal result, not an error. */
static void
test_M2_abort_completed (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint8_t rb[1];
    uint32_t r, tmf;
    h_read (s, 0, rb, 0, &r);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    assert_int_equal (session_tmf (s, PDU_TMF_ABORT_TASK, NULL, r, NULL, &tmf), 0);
    assert_true (session_out_next (s, &o));
    h_rsp (s, r, 0, 0, 1, 1, 50);
    h_expect_complete (s, r, SESSION_R_GOOD);
    s_tmf_rsp (s, tmf, PDU_TMF_RSP_NO_TASK, 2);
    session_event_t ev;
    h_take_complete (s, tmf, SESSION_R_TMF_NO_TASK, &ev);
    assert_int_equal (ev.err, 0);
    assert_false (h_has_event (s));
    session_destroy (&s);
}

/* M3, M6: LUN RESET on LUN 1: sent tasks on LUN 1 end aborted, a new
 * command to LUN 1 is held until the answer, LUN 2 is unaffected. LUN
 * bytes go out as given. */
static void
test_M3_M6_lun_reset (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint8_t rb[1];
    uint32_t a1, a2, b1, c1, c2, tmf;
    h_read (s, 1, rb, 0, &a1);
    h_read (s, 1, rb, 0, &a2);
    h_read (s, 2, rb, 0, &b1);
    session_out_t o;
    for (int i = 0; i < 3; i++)
        assert_true (session_out_next (s, &o));
    const uint8_t lun1[8] = {0, 1, 0, 0, 0, 0, 0, 0};
    assert_int_equal (
        session_tmf (s, PDU_TMF_LOGICAL_UNIT_RESET, lun1, PDU_RESERVED_TAG, NULL, &tmf),
        0);
    h_read (s, 1, rb, 0, &c1);
    h_read (s, 2, rb, 0, &c2);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.opcode, PDU_OP_TMF_REQ);
    assert_int_equal (o.pdu.u.tmf_req.function, PDU_TMF_LOGICAL_UNIT_RESET);
    assert_int_equal (o.pdu.u.tmf_req.referenced_task_tag, PDU_RESERVED_TAG);
    assert_int_equal (o.pdu.lun, 0x0001000000000000ull);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.itt, c2); /* LUN 2 not held */
    assert_false (session_out_next (s, &o));
    h_rsp (s, b1, 0, 0, 1, 5, 50);
    h_expect_complete (s, b1, SESSION_R_GOOD);
    s_tmf_rsp (s, tmf, PDU_TMF_RSP_COMPLETE, 2);
    h_expect_complete (s, a1, SESSION_R_ABORTED);
    h_expect_complete (s, a2, SESSION_R_ABORTED);
    h_expect_complete (s, tmf, SESSION_R_TMF_COMPLETE);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.itt, c1); /* released */
    assert_int_equal (o.pdu.lun, 0x0001000000000000ull);
    session_destroy (&s);

    /* M6: LUN 0, 1, 255, 256, 16383 (SAM peripheral / flat encodings as
     * lun.h builds them) reach the wire unchanged. */
    const uint8_t luns[5][8] = {{0, 0}, {0, 1}, {0, 0xff}, {0x41, 0x00}, {0x7f, 0xff}};
    const uint64_t want[5] = {0, 0x0001ull << 48, 0x00ffull << 48, 0x4100ull << 48,
                              0x7fffull << 48};
    s = h_new (&p, 0, 0, 50, 0, 16);
    for (int i = 0; i < 5; i++) {
        assert_int_equal (session_tmf (s, PDU_TMF_ABORT_TASK_SET, luns[i],
                                       PDU_RESERVED_TAG, NULL, &tmf),
                          0);
        assert_true (session_out_next (s, &o));
        assert_int_equal (o.pdu.lun, want[i]);
        s_tmf_rsp (s, tmf, 0, (uint32_t)i + 1);
        h_expect_complete (s, tmf, SESSION_R_TMF_COMPLETE);
    }
    session_destroy (&s);
}

/* M4: TARGET WARM RESET holds every LUN and aborts every sent task;
 * a "not supported" answer releases them instead. */
static void
test_M4_target_reset (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint8_t rb[1];
    uint32_t a, b, c, tmf;
    h_read (s, 1, rb, 0, &a);
    h_read (s, 2, rb, 0, &b);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    assert_true (session_out_next (s, &o));
    assert_int_equal (
        session_tmf (s, PDU_TMF_TARGET_COLD_RESET, NULL, PDU_RESERVED_TAG, NULL, &tmf),
        0);
    s_tmf_rsp (s, tmf, PDU_TMF_RSP_NOT_SUPPORTED, 1); /* answer before it was sent */
    assert_false (h_has_event (s));                   /* not sent yet: dropped */
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.u.tmf_req.function, PDU_TMF_TARGET_COLD_RESET);
    assert_int_equal (o.pdu.lun, 0);
    h_read (s, 3, rb, 0, &c);
    assert_false (session_out_next (s, &o)); /* every LUN held */
    s_tmf_rsp (s, tmf, PDU_TMF_RSP_NOT_SUPPORTED, 2);
    h_expect_complete (s, tmf, SESSION_R_TMF_NOT_SUPPORTED);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.itt, c);
    assert_int_equal (
        session_tmf (s, PDU_TMF_TARGET_WARM_RESET, NULL, PDU_RESERVED_TAG, NULL, &tmf),
        0);
    assert_true (session_out_next (s, &o));
    s_tmf_rsp (s, tmf, PDU_TMF_RSP_COMPLETE, 3);
    h_expect_complete (s, a, SESSION_R_ABORTED);
    h_expect_complete (s, b, SESSION_R_ABORTED);
    h_expect_complete (s, c, SESSION_R_ABORTED);
    h_expect_complete (s, tmf, SESSION_R_TMF_COMPLETE);
    assert_int_equal (
        session_tmf (s, PDU_TMF_TASK_REASSIGN, NULL, PDU_RESERVED_TAG, NULL, &tmf),
        UIS_ERR_INVALID_ARG);
    session_destroy (&s);
}

/* M7: TMF response codes 0..6, 255 map to distinct results. */
static void
test_M7_tmf_codes (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    const uint8_t codes[] = {0, 1, 2, 3, 4, 5, 6, 255, 77};
    session_result_t got[9];
    const uint8_t lun[8] = {0};
    for (uint32_t i = 0; i < sizeof codes; i++) {
        uint32_t tmf;
        assert_int_equal (
            session_tmf (s, PDU_TMF_CLEAR_ACA, lun, PDU_RESERVED_TAG, NULL, &tmf), 0);
        session_out_t o;
        assert_true (session_out_next (s, &o));
        s_tmf_rsp (s, tmf, codes[i], i + 1);
        session_event_t ev;
        assert_true (session_event_next (s, &ev));
        assert_int_equal (ev.kind, SESSION_EV_COMPLETE);
        assert_int_equal (ev.tmf_response, codes[i]);
        got[i] = ev.result;
        for (uint32_t j = 0; j < i; j++)
            assert_int_not_equal (got[i], got[j]);
    }
    assert_int_equal (got[0], SESSION_R_TMF_COMPLETE);
    assert_int_equal (got[7], SESSION_R_TMF_REJECTED);
    assert_int_equal (got[8], SESSION_R_TMF_OTHER);
    session_destroy (&s);
}

static void
s_logout_rsp (session_t *s, uint32_t itt, uint8_t response, uint32_t statsn)
{
    pdu_t h;
    pdu_init (&h, PDU_OP_LOGOUT_RSP);
    h.itt = itt;
    h.u.logout_rsp.response = response;
    h.u.logout_rsp.statsn = statsn;
    h.u.logout_rsp.exp_cmdsn = session_cmdsn (s);
    h.u.logout_rsp.max_cmdsn = session_cmdsn (s) + 10;
    h.u.logout_rsp.time2wait = 3;
    h.u.logout_rsp.time2retain = 17;
    assert_int_equal (session_rx_pdu (s, &h, NULL, 0, 1), 0);
}

/* N1, E10: logout reason 0 takes a CmdSN (non-immediate, waits for the
 * window), carries ExpStatSN; response 0 with Time2Wait/Time2Retain. */
static void
test_N1_E10_logout (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 12, 12, 11, 5, 16); /* window closed */
    uint32_t l;
    int cookie;
    assert_int_equal (session_logout (s, PDU_LOGOUT_CLOSE_SESSION, 9, &cookie, &l), 0);
    uint8_t rb[1];
    assert_int_equal (h_read (s, 0, rb, 0, NULL), UIS_ERR_STATE);
    session_out_t o;
    assert_false (session_out_next (s, &o));
    h_nop_in (s, PDU_RESERVED_TAG, PDU_RESERVED_TAG, 6, 12, 12, NULL, 0);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.opcode, PDU_OP_LOGOUT_REQ);
    assert_false (o.pdu.immediate);
    assert_int_equal (o.pdu.itt, l);
    assert_int_equal (o.pdu.u.logout_req.reason_code, 0);
    assert_int_equal (o.pdu.u.logout_req.cmdsn, 12);
    assert_int_equal (o.pdu.u.logout_req.exp_statsn, 6);
    h_encodable (&o);
    assert_int_equal (session_cmdsn (s), 13);
    s_logout_rsp (s, l, 0, 6);
    session_event_t ev;
    h_take_complete (s, l, SESSION_R_LOGOUT_OK, &ev);
    assert_ptr_equal (ev.cookie, &cookie);
    assert_int_equal (ev.time2wait, 3);
    assert_int_equal (ev.time2retain, 17);
    assert_int_equal (ev.kind_of_task, SESSION_TASK_LOGOUT);
    session_destroy (&s);
}

/* A logout never passes a command queued before it (held by the queue
 * depth); a text request may. */
static void
test_logout_keeps_order (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_cfg_t cfg = h_cfg (0, 0, 50, 0, 8);
    cfg.queue_depth = 1;
    session_t *s = session_new (&p, &cfg);
    assert_non_null (s);
    uint8_t rb[1];
    char tb[8];
    uint32_t a, b, t, l;
    h_read (s, 0, rb, 0, &a);
    h_read (s, 0, rb, 0, &b);
    assert_int_equal (session_text (s, "X=1", 4, tb, sizeof tb, NULL, &t), 0);
    assert_int_equal (session_logout (s, PDU_LOGOUT_CLOSE_SESSION, 0, NULL, &l), 0);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.itt, a);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.itt, t);         /* text passes the held read */
    assert_false (session_out_next (s, &o)); /* logout waits behind b */
    h_rsp (s, a, 0, 0, 1, 2, 50);
    h_expect_complete (s, a, SESSION_R_GOOD);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.itt, b);
    assert_int_equal (o.pdu.u.scsi_cmd.cmdsn, 2);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.itt, l);
    assert_int_equal (o.pdu.u.logout_req.cmdsn, 3);
    session_destroy (&s);
}

/* N4: logout responses 1, 2, 3 are reported distinctly. */
static void
test_N4_logout_errors (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    const session_result_t want[] = {SESSION_R_LOGOUT_CID_NOT_FOUND,
                                     SESSION_R_LOGOUT_RECOVERY_UNSUPPORTED,
                                     SESSION_R_LOGOUT_CLEANUP_FAILED};
    for (uint8_t code = 1; code <= 3; code++) {
        session_t *s = h_new (&p, 0, 0, 10, 0, 4);
        uint32_t l;
        assert_int_equal (session_logout (s, PDU_LOGOUT_CLOSE_CONNECTION, 3, NULL, &l),
                          0);
        session_out_t o;
        assert_true (session_out_next (s, &o));
        assert_int_equal (o.pdu.u.logout_req.reason_code, 1);
        assert_int_equal (o.pdu.u.logout_req.cid, 3);
        s_logout_rsp (s, l, code, 1);
        session_event_t ev;
        h_take_complete (s, l, want[code - 1], &ev);
        assert_int_equal (ev.logout_response, code);
        session_destroy (&s);
    }
}

/* E10 (Text): a Text Request takes a CmdSN and waits for the window; an
 * F=0 response makes the engine send a continuation (same ITT, TTT
 * echoed, new CmdSN); the data is gathered. */
static void
test_E10_text (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 3, 3, 2, 0, 4);
    const char req[] = "SendTargets=All";
    char rsp[64];
    uint32_t t;
    assert_int_equal (session_text (s, req, sizeof req, rsp, sizeof rsp, NULL, &t), 0);
    session_out_t o;
    assert_false (session_out_next (s, &o));
    h_nop_in (s, PDU_RESERVED_TAG, PDU_RESERVED_TAG, 1, 3, 10, NULL, 0);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.opcode, PDU_OP_TEXT_REQ);
    assert_int_equal (o.pdu.itt, t);
    assert_true (o.pdu.final);
    assert_int_equal (o.pdu.u.text_req.ttt, PDU_RESERVED_TAG);
    assert_int_equal (o.pdu.u.text_req.cmdsn, 3);
    assert_int_equal (o.data_len, sizeof req);
    h_encodable (&o);
    pdu_t h;
    pdu_init (&h, PDU_OP_TEXT_RSP);
    h.itt = t;
    h.final = false;
    h.u.text_rsp.ttt = 0x321;
    h.u.text_rsp.statsn = 1;
    h.u.text_rsp.exp_cmdsn = 4;
    h.u.text_rsp.max_cmdsn = 10;
    h.data_segment_length = 5;
    uint8_t *dst;
    size_t cap;
    session_rx_header (s, &h, &dst, &cap);
    assert_ptr_equal (dst, (uint8_t *)rsp);
    assert_int_equal (session_rx_pdu (s, &h, (const uint8_t *)"Targe", 5, 1), 0);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.opcode, PDU_OP_TEXT_REQ);
    assert_int_equal (o.pdu.itt, t);
    assert_int_equal (o.pdu.u.text_req.ttt, 0x321);
    assert_int_equal (o.pdu.u.text_req.cmdsn, 4);
    assert_int_equal (o.data_len, 0);
    h.final = true;
    h.u.text_rsp.ttt = PDU_RESERVED_TAG;
    h.u.text_rsp.statsn = 2;
    h.u.text_rsp.exp_cmdsn = 5;
    h.data_segment_length = 8;
    assert_int_equal (session_rx_pdu (s, &h, (const uint8_t *)"tName=x", 8, 1), 0);
    session_event_t ev;
    h_take_complete (s, t, SESSION_R_TEXT_DONE, &ev);
    assert_int_equal (ev.bytes_in, 13);
    assert_string_equal (rsp, "TargetName=x");
    session_destroy (&s);
}

/* I6: residual on a write (U=1) is reported. */
static void
test_I6_write_residual (void **state)
{
    (void)state;
    uis_neg_params_t p = s_wparams (true, true, 65536, 8192);
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint32_t w;
    assert_int_equal (h_write (s, 0, s_wb, 4096, &w), 0);
    s_expect_cmd (s, w, 4096, true);
    pdu_t h;
    pdu_init (&h, PDU_OP_SCSI_RSP);
    h.itt = w;
    h.u.scsi_rsp.underflow = true;
    h.u.scsi_rsp.residual_count = 1024;
    h.u.scsi_rsp.statsn = 1;
    h.u.scsi_rsp.exp_cmdsn = 1;
    h.u.scsi_rsp.max_cmdsn = 50;
    assert_int_equal (session_rx_pdu (s, &h, NULL, 0, 1), 0);
    session_event_t ev;
    h_take_complete (s, w, SESSION_R_GOOD, &ev);
    assert_true (ev.underflow);
    assert_int_equal (ev.residual, 1024);
    assert_int_equal (ev.bytes_out, 4096);
    session_destroy (&s);
}

/* L1, L6: a Reject carrying the rejected BHS fails the task with that
 * ITT; short data or ITT 0xffffffff only produce an event. */
static void
test_L1_L6_reject (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint8_t rb[1];
    uint32_t r;
    h_read (s, 0, rb, 0, &r);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    uint8_t bhs[PDU_BHS_LEN];
    assert_int_equal (pdu_bhs_encode (&o.pdu, bhs), 0);
    pdu_t h;
    pdu_init (&h, PDU_OP_REJECT);
    h.itt = PDU_RESERVED_TAG;
    h.u.reject.reason = PDU_REJECT_PROTOCOL_ERROR;
    h.u.reject.statsn = 1;
    h.u.reject.exp_cmdsn = 1;
    h.u.reject.max_cmdsn = 50;
    h.data_segment_length = PDU_BHS_LEN;
    assert_int_equal (session_rx_pdu (s, &h, bhs, PDU_BHS_LEN, 1), 0);
    session_event_t ev;
    assert_true (session_event_next (s, &ev));
    assert_int_equal (ev.kind, SESSION_EV_REJECT);
    assert_int_equal (ev.reject_reason, PDU_REJECT_PROTOCOL_ERROR);
    assert_int_equal (ev.opcode, PDU_OP_SCSI_CMD);
    assert_int_equal (ev.itt, r);
    h_take_complete (s, r, SESSION_R_REJECTED, &ev);
    assert_int_equal (ev.reject_reason, PDU_REJECT_PROTOCOL_ERROR);
    /* L6: 10 bytes of data, then a BHS with ITT 0xffffffff. */
    h.u.reject.statsn = 2;
    assert_int_equal (session_rx_pdu (s, &h, bhs, 10, 1), 0);
    assert_true (session_event_next (s, &ev));
    assert_int_equal (ev.kind, SESSION_EV_REJECT);
    assert_int_equal (ev.itt, PDU_RESERVED_TAG);
    assert_int_equal (ev.opcode, 0xff);
    memset (bhs + 16, 0xff, 4);
    h.u.reject.statsn = 3;
    assert_int_equal (session_rx_pdu (s, &h, bhs, PDU_BHS_LEN, 1), 0);
    assert_true (session_event_next (s, &ev));
    assert_int_equal (ev.kind, SESSION_EV_REJECT);
    assert_int_equal (ev.itt, PDU_RESERVED_TAG);
    assert_false (h_has_event (s));
    assert_false (session_dead (s));
    session_destroy (&s);
}

/* K1: Async Message code 0 is decoded with its sense data. */
static void
test_K1_async_event (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    pdu_t h;
    pdu_init (&h, PDU_OP_ASYNC);
    h.itt = PDU_RESERVED_TAG;
    h.lun = 0x0002000000000000ull;
    h.u.async.async_event = PDU_ASYNC_SCSI_EVENT;
    h.u.async.statsn = 1;
    h.u.async.exp_cmdsn = 0;
    h.u.async.max_cmdsn = 60;
    h.u.async.parameter3 = 5;
    uint8_t seg[2 + 18] = {0, 18, 0x70, 0, 0x06};
    seg[2 + 12] = 0x29;
    h.data_segment_length = sizeof seg;
    assert_int_equal (session_rx_pdu (s, &h, seg, sizeof seg, 1), 0);
    session_event_t ev;
    assert_true (session_event_next (s, &ev));
    assert_int_equal (ev.kind, SESSION_EV_ASYNC);
    assert_int_equal (ev.async_event, 0);
    assert_int_equal (ev.lun, 0x0002000000000000ull);
    assert_int_equal (ev.parameter3, 5);
    assert_int_equal (ev.sense_len, 18);
    assert_int_equal (ev.sense[2], 0x06);
    assert_int_equal (ev.sense[12], 0x29);
    assert_int_equal (session_exp_statsn (s), 2);
    assert_int_equal (session_max_cmdsn (s), 60);
    session_destroy (&s);
}

/* Recovery helpers: session_tasks lists live tasks; session_fail_all ends
 * them all with SESSION_R_FAILED and empties the lanes. */
static void
test_fail_all (void **state)
{
    (void)state;
    uis_neg_params_t p = s_wparams (false, false, 4096, 512);
    session_t *s = h_new (&p, 0, 0, 1, 0, 8);
    uint32_t a, b, c, d;
    uint8_t rb[1];
    h_read (s, 0, rb, 0, &a);
    assert_int_equal (h_write (s, 0, s_wb, 4096, &b), 0);
    h_read (s, 0, rb, 0, &c); /* stays queued: window of 2 */
    assert_int_equal (session_ping (s, NULL, 0, NULL, &d), 0);
    session_out_t o;
    assert_true (session_out_next (s, &o)); /* ping */
    assert_true (session_out_next (s, &o)); /* a */
    assert_true (session_out_next (s, &o)); /* b */
    assert_true (session_out_next (s, &o)); /* b Data-Out */
    session_task_info_t ti[8];
    assert_int_equal (session_tasks (s, ti, 8), 4);
    assert_int_equal (session_tasks (s, ti, 1), 4);
    size_t sent = 0;
    for (int i = 0; i < 4; i++)
        sent += ti[i].sent;
    assert_int_equal (sent, 3);
    assert_int_equal (session_fail_all (s, UIS_ERR_PROTOCOL), 4);
    assert_false (session_out_next (s, &o));
    session_event_t ev;
    for (int i = 0; i < 4; i++) {
        assert_true (session_event_next (s, &ev));
        assert_int_equal (ev.result, SESSION_R_FAILED);
        assert_int_equal (ev.err, UIS_ERR_PROTOCOL);
    }
    assert_int_equal (session_tasks (s, ti, 8), 0);
    /* The table is usable again. */
    for (int i = 0; i < 8; i++)
        assert_int_equal (h_read (s, 0, rb, 0, NULL), 0);
    session_destroy (&s);
}

int
main (void)
{
    s_fill ();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_H1_immediate_then_r2t),
        cmocka_unit_test (test_H2_r2t_only),
        cmocka_unit_test (test_H3_unsolicited),
        cmocka_unit_test (test_H4_unsolicited_no_immediate),
        cmocka_unit_test (test_H5_fits_first_burst),
        cmocka_unit_test (test_H6_first_burst_table),
        cmocka_unit_test (test_H7_immediate_limit),
        cmocka_unit_test (test_H8_r2t_service),
        cmocka_unit_test (test_H9_r2tsn),
        cmocka_unit_test (test_H10_over_max_burst),
        cmocka_unit_test (test_H11_requested_offset),
        cmocka_unit_test (test_H12_r2t_beyond_edtl),
        cmocka_unit_test (test_H13_interleaved),
        cmocka_unit_test (test_H14_outstanding_r2t),
        cmocka_unit_test (test_H15_short_source),
        cmocka_unit_test (test_H16_M1_abort_task),
        cmocka_unit_test (test_M2_abort_completed),
        cmocka_unit_test (test_M3_M6_lun_reset),
        cmocka_unit_test (test_M4_target_reset),
        cmocka_unit_test (test_M7_tmf_codes),
        cmocka_unit_test (test_N1_E10_logout),
        cmocka_unit_test (test_logout_keeps_order),
        cmocka_unit_test (test_N4_logout_errors),
        cmocka_unit_test (test_E10_text),
        cmocka_unit_test (test_I6_write_residual),
        cmocka_unit_test (test_L1_L6_reject),
        cmocka_unit_test (test_K1_async_event),
        cmocka_unit_test (test_fail_all),
    };
    return cmocka_run_group_tests_name ("session_io", tests, NULL, NULL);
}
