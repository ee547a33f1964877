/* test_session.c: the session engine (proto/session.c), layer 1: window,
 * ITT allocation, StatSN, reads (Data-In), responses, NOP, keepalive.
 * Writes, TMF, logout, text and reject are in test_session_io.c.
 *
 * Conformance ids covered here: B12, E1, E2, E3, E4, E5, E6, E7, E8, E9,
 * F1, F2, F3, F4, F5, G1, G2, G3, G4, G5, G6, G7, G8, G9, G10, G11, G12,
 * G13, G15, G16, I1, I2, I3, I4, J1, J2, J3, J4, J5, J6, R1, R4, R5. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proto/errors.h"
#include "proto/pdu.h"
#include "proto/session.h"
#include "proto/serial.h"
#include "tests/unit/proto/test_session_harness.h"

/* B12: the window comes from the final login response: MaxCmdSN =
 * CmdSN + 63 lets 64 commands go at once, the 65th waits. */
static void
test_B12_initial_window (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 100, 100, 163, 7, 128);
    uint8_t buf[1];
    for (int i = 0; i < 65; i++)
        assert_int_equal (h_read (s, 0, buf, 0, NULL), 0);
    session_out_t o;
    for (uint32_t i = 0; i < 64; i++) {
        assert_true (session_out_next (s, &o));
        assert_int_equal (o.pdu.opcode, PDU_OP_SCSI_CMD);
        assert_int_equal (o.pdu.u.scsi_cmd.cmdsn, 100 + i);
        assert_int_equal (o.pdu.u.scsi_cmd.exp_statsn, 8);
    }
    assert_false (session_out_next (s, &o));
    session_destroy (&s);
    assert_null (s);
}

/* E1: CmdSN +1 per non-immediate command; a NOP-Out ping in between
 * carries the current CmdSN with I=1 and does not advance it. */
static void
test_E1_immediate_no_advance (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 10, 10, 50, 0, 16);
    uint8_t buf[1];
    uint32_t itt1, itt2, pitt;
    assert_int_equal (h_read (s, 0, buf, 0, &itt1), 0);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.u.scsi_cmd.cmdsn, 10);
    assert_false (o.pdu.immediate);
    assert_int_equal (session_ping (s, NULL, 0, NULL, &pitt), 0);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.opcode, PDU_OP_NOP_OUT);
    assert_true (o.pdu.immediate);
    assert_int_equal (o.pdu.u.nop_out.cmdsn, 11);
    assert_int_equal (h_read (s, 0, buf, 0, &itt2), 0);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.u.scsi_cmd.cmdsn, 11);
    assert_int_equal (session_cmdsn (s), 12);
    /* An immediate SCSI command: I=1, current CmdSN, no advance. */
    session_cmd_t c = h_cmd (0, buf, 0);
    c.immediate = true;
    uint32_t iitt;
    assert_int_equal (session_submit (s, &c, &iitt), 0);
    assert_true (session_out_next (s, &o));
    assert_true (o.pdu.immediate);
    assert_true (o.priority);
    assert_int_equal (o.pdu.u.scsi_cmd.cmdsn, 12);
    assert_int_equal (session_cmdsn (s), 12);
    h_encodable (&o);
    session_destroy (&s);
}

/* E2: zero window (MaxCmdSN = ExpCmdSN - 1): nothing non-immediate goes
 * out; an unsolicited NOP-In that reopens it releases the command. */
static void
test_E2_zero_window (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 20, 20, 19, 0, 16);
    uint8_t buf[1];
    uint32_t itt;
    assert_int_equal (h_read (s, 0, buf, 0, &itt), 0);
    session_out_t o;
    assert_false (session_out_next (s, &o));
    /* Immediate PDUs still go. */
    assert_int_equal (session_confirm_exp_statsn (s), 0);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.opcode, PDU_OP_NOP_OUT);
    assert_false (session_out_next (s, &o));
    h_nop_in (s, PDU_RESERVED_TAG, PDU_RESERVED_TAG, 1, 20, 20, NULL, 0);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.opcode, PDU_OP_SCSI_CMD);
    assert_int_equal (o.pdu.itt, itt);
    assert_int_equal (o.pdu.u.scsi_cmd.cmdsn, 20);
    session_destroy (&s);
}

/* E3: window of 1: strictly one command at a time. */
static void
test_E3_window_one (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 5, 5, 5, 0, 16);
    uint8_t buf[1];
    uint32_t itt[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal (h_read (s, 0, buf, 0, &itt[i]), 0);
    session_out_t o;
    for (uint32_t i = 0; i < 3; i++) {
        assert_true (session_out_next (s, &o));
        assert_int_equal (o.pdu.u.scsi_cmd.cmdsn, 5 + i);
        assert_false (session_out_next (s, &o));
        h_rsp (s, itt[i], 0, 0, 1 + i, 6 + i, 6 + i);
        h_expect_complete (s, itt[i], SESSION_R_GOOD);
    }
    session_destroy (&s);
}

/* E4: window 256, 8 commands: 8 contiguous unique CmdSNs at once. */
static void
test_E4_parallel (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 1000, 1000, 1255, 0, 16);
    uint8_t buf[1];
    uint32_t itt[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal (h_read (s, 0, buf, 0, &itt[i]), 0);
    session_out_t o;
    for (uint32_t i = 0; i < 8; i++) {
        assert_true (session_out_next (s, &o));
        assert_int_equal (o.pdu.u.scsi_cmd.cmdsn, 1000 + i);
        assert_int_equal (o.pdu.itt, itt[i]);
        for (uint32_t j = 0; j < i; j++)
            assert_int_not_equal (itt[i], itt[j]);
    }
    session_destroy (&s);
}

/* E5: a SCSI Response closes the window (ExpCmdSN passes MaxCmdSN); a
 * NOP-In reopens it. */
static void
test_E5_response_closes (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 1, 1, 2, 0, 16);
    uint8_t buf[1];
    uint32_t a, b, c;
    h_read (s, 0, buf, 0, &a);
    h_read (s, 0, buf, 0, &b);
    h_read (s, 0, buf, 0, &c);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    assert_true (session_out_next (s, &o));
    assert_false (session_out_next (s, &o));
    h_rsp (s, a, 0, 0, 1, 3, 2); /* ExpCmdSN 3, MaxCmdSN 2: closed */
    h_expect_complete (s, a, SESSION_R_GOOD);
    assert_false (session_out_next (s, &o));
    h_nop_in (s, PDU_RESERVED_TAG, PDU_RESERVED_TAG, 2, 3, 3, NULL, 0);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.itt, c);
    assert_int_equal (o.pdu.u.scsi_cmd.cmdsn, 3);
    session_destroy (&s);
}

/* E6: MaxCmdSN < ExpCmdSN - 1 is ignored; ExpCmdSN never goes back. */
static void
test_E6_invalid_update (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 50, 50, 60, 0, 16);
    uint8_t buf[1];
    for (int i = 0; i < 5; i++)
        h_read (s, 0, buf, 0, NULL);
    session_out_t o;
    for (int i = 0; i < 5; i++)
        assert_true (session_out_next (s, &o));
    h_nop_in (s, PDU_RESERVED_TAG, PDU_RESERVED_TAG, 1, 54, 70, NULL, 0);
    assert_int_equal (session_exp_cmdsn (s), 54);
    assert_int_equal (session_max_cmdsn (s), 70);
    h_nop_in (s, PDU_RESERVED_TAG, PDU_RESERVED_TAG, 1, 55, 52, NULL, 0); /* invalid */
    assert_int_equal (session_exp_cmdsn (s), 54);
    assert_int_equal (session_max_cmdsn (s), 70);
    h_nop_in (s, PDU_RESERVED_TAG, PDU_RESERVED_TAG, 1, 52, 65, NULL, 0); /* older */
    assert_int_equal (session_exp_cmdsn (s), 54);
    assert_int_equal (session_max_cmdsn (s), 70);
    /* ExpCmdSN beyond anything sent (56 > next 55): ignored. */
    h_nop_in (s, PDU_RESERVED_TAG, PDU_RESERVED_TAG, 1, 56, 80, NULL, 0);
    assert_int_equal (session_exp_cmdsn (s), 54);
    session_stats_t st;
    session_stats (s, &st);
    assert_int_equal (st.window_ignored, 2);
    session_destroy (&s);
}

/* E7: CmdSN starts at 0xFFFFFFF0 and 64 commands cross 0 with the window
 * checks holding; StatSN and DataSN wrap too. */
static void
test_E7_wrap (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    uint32_t start = 0xFFFFFFF0u;
    session_t *s = h_new (&p, start, start, start + 31, 0xFFFFFFF8u, 128);
    uint8_t buf[1];
    uint32_t itt[64];
    for (int i = 0; i < 64; i++)
        assert_int_equal (h_read (s, 0, buf, 0, &itt[i]), 0);
    session_out_t o;
    uint32_t sent = 0, statsn = 0xFFFFFFF9u;
    for (int round = 0; round < 200 && sent < 64; round++) {
        while (session_out_next (s, &o)) {
            assert_int_equal (o.pdu.u.scsi_cmd.cmdsn, start + sent);
            assert_true (sn_in_range (o.pdu.u.scsi_cmd.cmdsn, session_exp_cmdsn (s),
                                      session_max_cmdsn (s)));
            sent++;
        }
        assert_int_equal (sent, (uint32_t)(session_max_cmdsn (s) - start + 1));
        /* Complete the oldest one: window slides by one. */
        uint32_t done = session_exp_cmdsn (s) - start;
        h_rsp (s, itt[done], 0, 0, statsn++, start + done + 1, start + done + 32);
        h_expect_complete (s, itt[done], SESSION_R_GOOD);
    }
    assert_int_equal (sent, 64);
    assert_int_equal (session_cmdsn (s), start + 64);
    assert_true (session_exp_statsn (s) < 0x100);
    session_destroy (&s);

    /* DataSN wrap is not needed within one task (it restarts at 0), but a
     * read keeps accepting DataSN 0, 1, 2 ... with StatSN across 0. */
    s = h_new (&p, 0, 0, 10, 0xFFFFFFFEu, 8);
    uint8_t rb[8];
    uint32_t r;
    h_read (s, 0, rb, 8, &r);
    assert_true (session_out_next (s, &o));
    uint8_t d[4] = {1, 2, 3, 4};
    h_data_in (s, r, 0, 0, d, 4, 0, 0, 0, 1, 10, 0);
    h_data_in (s, r, 1, 4, d, 4, H_F | H_S, 0, 0xFFFFFFFFu, 1, 10, 0);
    h_expect_complete (s, r, SESSION_R_GOOD);
    assert_int_equal (session_exp_statsn (s), 0);
    session_destroy (&s);
}

/* E8: cancel while waiting for a window slot: only that one returns, the
 * others keep their turn, and no CmdSN is consumed. */
static void
test_E8_cancel_waiter (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 7, 7, 6, 0, 16);
    uint8_t buf[1];
    uint32_t a, b, c;
    h_read (s, 0, buf, 0, &a);
    h_read (s, 0, buf, 0, &b);
    h_read (s, 0, buf, 0, &c);
    assert_int_equal (session_cancel (s, b), 0);
    h_expect_complete (s, b, SESSION_R_CANCELLED);
    assert_int_equal (session_cancel (s, b), UIS_ERR_INVALID_ARG);
    h_nop_in (s, PDU_RESERVED_TAG, PDU_RESERVED_TAG, 1, 7, 10, NULL, 0);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.itt, a);
    assert_int_equal (o.pdu.u.scsi_cmd.cmdsn, 7);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.itt, c);
    assert_int_equal (o.pdu.u.scsi_cmd.cmdsn, 8);
    assert_int_equal (session_cancel (s, a), UIS_ERR_STATE);
    session_destroy (&s);
}

/* E9: local queue depth 2 below a window of 100: never more than 2 SCSI
 * commands outstanding. */
static void
test_E9_queue_depth (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_cfg_t cfg = h_cfg (0, 0, 99, 0, 16);
    cfg.queue_depth = 2;
    session_t *s = session_new (&p, &cfg);
    assert_non_null (s);
    uint8_t buf[1];
    uint32_t itt[4];
    for (int i = 0; i < 4; i++)
        h_read (s, 0, buf, 0, &itt[i]);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    assert_true (session_out_next (s, &o));
    assert_false (session_out_next (s, &o));
    h_rsp (s, itt[0], 0, 0, 1, 1, 100);
    h_expect_complete (s, itt[0], SESSION_R_GOOD);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.itt, itt[2]);
    assert_false (session_out_next (s, &o));
    session_destroy (&s);
}

/* F1, F4: ExpStatSN = last StatSN + 1 on outgoing PDUs; older and
 * duplicate StatSNs are ignored. */
static void
test_F1_F4_exp_statsn (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 99, 16);
    assert_int_equal (session_exp_statsn (s), 100);
    uint8_t buf[1];
    uint32_t a, b;
    h_read (s, 0, buf, 0, &a);
    h_read (s, 0, buf, 0, &b);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.u.scsi_cmd.exp_statsn, 100);
    h_rsp (s, a, 0, 0, 100, 1, 50);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.u.scsi_cmd.exp_statsn, 101);
    h_rsp (s, b, 0, 0, 100, 2, 50); /* duplicate StatSN */
    assert_int_equal (session_exp_statsn (s), 101);
    h_nop_in (s, 0x1234, PDU_RESERVED_TAG, 50, 2, 50, NULL, 0); /* older, unknown */
    assert_int_equal (session_exp_statsn (s), 101);
    session_stats_t st;
    session_stats (s, &st);
    assert_int_equal (st.statsn_old, 2);
    assert_int_equal (session_confirm_exp_statsn (s), 0);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.u.nop_out.exp_statsn, 101);
    session_destroy (&s);
}

/* F2: an R2T and an unsolicited NOP-In carry the next StatSN N: ExpStatSN
 * stays N. */
static void
test_F2_next_statsn_not_advanced (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    p.immediate_data = false;
    session_t *s = h_new (&p, 0, 0, 50, 9, 16);
    uint8_t wb[1024] = {0};
    uint32_t w;
    assert_int_equal (h_write (s, 0, wb, 1024, &w), 0);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    h_r2t (s, w, 0x77, 0, 0, 1024, 10, 1, 50);
    assert_int_equal (session_exp_statsn (s), 10);
    h_nop_in (s, PDU_RESERVED_TAG, PDU_RESERVED_TAG, 10, 1, 50, NULL, 0);
    assert_int_equal (session_exp_statsn (s), 10);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.opcode, PDU_OP_DATA_OUT);
    assert_int_equal (o.pdu.u.data_out.exp_statsn, 10);
    session_destroy (&s);
}

/* F3: StatSN jumps N -> N+5 at ERL 1: Status SNACK, ITT 0xffffffff,
 * BegRun = N+1, RunLength = 4. At ERL 0: a recovery-needed event. */
static void
test_F3_statsn_gap (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    p.erl = 1;
    session_t *s = h_new (&p, 0, 0, 50, 10, 16); /* last StatSN N = 10 */
    uint8_t buf[1];
    uint32_t a;
    h_read (s, 0, buf, 0, &a);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    /* A target ping queued before the gap is answered after the SNACK. */
    h_nop_in (s, PDU_RESERVED_TAG, 0x66, 11, 1, 50, NULL, 0);
    h_rsp (s, a, 0, 0, 15, 1, 50);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.opcode, PDU_OP_SNACK);
    assert_true (o.priority);
    assert_int_equal (o.pdu.itt, PDU_RESERVED_TAG);
    assert_int_equal (o.pdu.u.snack.type, PDU_SNACK_STATUS);
    assert_int_equal (o.pdu.u.snack.begrun, 11);
    assert_int_equal (o.pdu.u.snack.runlength, 4);
    assert_int_equal (o.pdu.u.snack.exp_statsn, 11);
    h_encodable (&o);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.opcode, PDU_OP_NOP_OUT);
    assert_int_equal (o.pdu.u.nop_out.ttt, 0x66);
    assert_int_equal (o.pdu.u.nop_out.exp_statsn, 16);
    assert_int_equal (session_exp_statsn (s), 16);
    session_event_t ev;
    assert_true (session_event_next (s, &ev));
    assert_int_equal (ev.kind, SESSION_EV_STATSN_GAP);
    assert_int_equal (ev.begrun, 11);
    assert_int_equal (ev.runlength, 4);
    assert_false (ev.recovery_needed);
    session_destroy (&s);

    p.erl = 0;
    s = h_new (&p, 0, 0, 50, 10, 16);
    h_read (s, 0, buf, 0, &a);
    assert_true (session_out_next (s, &o));
    h_rsp (s, a, 0, 0, 15, 1, 50);
    assert_false (session_out_next (s, &o)); /* no SNACK at ERL 0 */
    assert_true (session_event_next (s, &ev));
    assert_int_equal (ev.kind, SESSION_EV_STATSN_GAP);
    assert_true (ev.recovery_needed);
    assert_int_equal (ev.err, UIS_ERR_SEQUENCE);
    h_expect_complete (s, a, SESSION_R_GOOD);
    session_destroy (&s);
}

/* F5: ExpStatSN confirmation NOP-Out: ITT = TTT = 0xffffffff, I=1, F=1,
 * CmdSN not advanced. */
static void
test_F5_confirm (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 33, 33, 40, 4, 16);
    assert_int_equal (session_confirm_exp_statsn (s), 0);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.opcode, PDU_OP_NOP_OUT);
    assert_int_equal (o.pdu.itt, PDU_RESERVED_TAG);
    assert_int_equal (o.pdu.u.nop_out.ttt, PDU_RESERVED_TAG);
    assert_true (o.pdu.immediate);
    assert_true (o.pdu.final);
    assert_int_equal (o.pdu.u.nop_out.cmdsn, 33);
    assert_int_equal (o.pdu.u.nop_out.exp_statsn, 5);
    assert_int_equal (o.pdu.data_segment_length, 0);
    assert_int_equal (session_cmdsn (s), 33);
    h_encodable (&o);
    session_destroy (&s);
}

/* G1, G4: status in the final Data-In (S=1, F=1); exactly EDTL bytes land
 * at their offsets; no SCSI Response needed. Also the zero-copy hook. */
static void
test_G1_G4_status_in_data_in (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint8_t rb[12];
    memset (rb, 0xee, sizeof rb);
    uint32_t r;
    h_read (s, 0, rb, 12, &r);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    assert_true (o.pdu.u.scsi_cmd.read);
    assert_false (o.pdu.u.scsi_cmd.write);
    assert_int_equal (o.pdu.u.scsi_cmd.expected_data_transfer_length, 12);
    assert_true (o.pdu.final);
    const uint8_t d[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    /* The header hook points straight into the caller's buffer. */
    pdu_t h = h_data_in_pdu (r, 0, 0, 4, 0, 0, 0, 1, 50, 0);
    uint8_t *dst;
    size_t cap;
    session_rx_header (s, &h, &dst, &cap);
    assert_ptr_equal (dst, rb);
    assert_int_equal (cap, 4);
    memcpy (dst, d, 4); /* what the framer does */
    assert_int_equal (session_rx_pdu (s, &h, dst, 4, 1), 0);
    h_data_in (s, r, 1, 4, d + 4, 4, 0, 0, 0, 1, 50, 0);
    assert_false (h_has_event (s));
    h_data_in (s, r, 2, 8, d + 8, 4, H_F | H_S, 0, 1, 1, 50, 0);
    session_event_t ev;
    h_take_complete (s, r, SESSION_R_GOOD, &ev);
    assert_int_equal (ev.bytes_in, 12);
    assert_true (ev.status_valid);
    assert_int_equal (ev.scsi_status, 0);
    assert_false (ev.data_suspect);
    assert_memory_equal (rb, d, 12);
    /* A SCSI Response after it would be G16 (see below). */
    session_destroy (&s);
}

/* G2: Data-In x N, then a separate SCSI Response GOOD. */
static void
test_G2_separate_response (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint8_t rb[8];
    uint32_t r;
    h_read (s, 0, rb, 8, &r);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    const uint8_t d[8] = {9, 8, 7, 6, 5, 4, 3, 2};
    h_data_in (s, r, 0, 0, d, 4, 0, 0, 0, 1, 50, 0);
    h_data_in (s, r, 1, 4, d + 4, 4, H_F, 0, 0, 1, 50, 0);
    assert_false (h_has_event (s));
    h_rsp (s, r, 0, 0, 1, 1, 50);
    session_event_t ev;
    h_take_complete (s, r, SESSION_R_GOOD, &ev);
    assert_int_equal (ev.bytes_in, 8);
    assert_memory_equal (rb, d, 8);
    session_destroy (&s);
}

/* G3: a zero-length Data-In that carries only status. */
static void
test_G3_status_only_data_in (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint32_t r;
    uint8_t rb[1];
    h_read (s, 0, rb, 0, &r);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    h_data_in (s, r, 0, 0, NULL, 0, H_F | H_S, 0, 1, 1, 50, 0);
    session_event_t ev;
    h_take_complete (s, r, SESSION_R_GOOD, &ev);
    assert_int_equal (ev.bytes_in, 0);
    assert_int_equal (session_exp_statsn (s), 2);
    session_destroy (&s);
}

/* G5: underflow: EDTL 4096, 1536 bytes, U=1, residual 2560. */
static void
test_G5_underflow (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    static uint8_t rb[4096];
    static uint8_t d[1536];
    memset (d, 0x5a, sizeof d);
    uint32_t r;
    h_read (s, 0, rb, 4096, &r);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    h_data_in (s, r, 0, 0, d, 1536, H_F | H_S | H_U, 0, 1, 1, 50, 2560);
    session_event_t ev;
    h_take_complete (s, r, SESSION_R_GOOD, &ev);
    assert_true (ev.underflow);
    assert_false (ev.overflow);
    assert_int_equal (ev.residual, 2560);
    assert_int_equal (ev.bytes_in, 1536);
    assert_int_equal (rb[1535], 0x5a);
    session_destroy (&s);
}

/* G6: overflow (O=1) with data beyond EDTL: truncated to EDTL, flagged. */
static void
test_G6_overflow (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint8_t rb[6];
    uint8_t guard[4];
    memset (guard, 0xcc, sizeof guard);
    uint32_t r;
    h_read (s, 0, rb, 6, &r);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    const uint8_t d[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    pdu_t h = h_data_in_pdu (r, 0, 0, 8, H_F | H_S | H_O, 0, 1, 1, 50, 2);
    uint8_t *dst;
    size_t cap;
    session_rx_header (s, &h, &dst, &cap);
    assert_null (dst); /* not zero copy: would not fit */
    assert_int_equal (session_rx_pdu (s, &h, d, 8, 1), 0);
    session_event_t ev;
    h_take_complete (s, r, SESSION_R_GOOD, &ev);
    assert_true (ev.overflow);
    assert_int_equal (ev.residual, 2);
    assert_int_equal (ev.bytes_in, 6);
    assert_memory_equal (rb, d, 6);
    assert_int_equal (guard[0], 0xcc);
    session_destroy (&s);
}

/* G7: data beyond EDTL without O: the task fails with a protocol error;
 * nothing is written outside the buffer. */
static void
test_G7_beyond_edtl (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint8_t rb[8] = {0};
    uint32_t r;
    h_read (s, 0, rb, 4, &r);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    const uint8_t d[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    pdu_t h = h_data_in_pdu (r, 0, 0, 8, 0, 0, 0, 1, 50, 0);
    uint8_t *dst;
    size_t cap;
    session_rx_header (s, &h, &dst, &cap);
    assert_null (dst);
    assert_int_equal (session_rx_pdu (s, &h, d, 8, 1), 0);
    session_event_t ev;
    assert_true (session_event_next (s, &ev));
    assert_int_equal (ev.kind, SESSION_EV_PROTOCOL);
    assert_int_equal (ev.fatal, SESSION_FATAL_TASK);
    assert_int_equal (ev.err, UIS_ERR_PROTOCOL);
    assert_int_equal (ev.itt, r);
    h_take_complete (s, r, SESSION_R_PROTOCOL, &ev);
    assert_int_equal (rb[4], 0);
    assert_false (session_dead (s));
    session_destroy (&s);
}

/* G8: DataSN gap at ERL 0: the task fails, the session stays usable, and
 * later PDUs for that ITT are dropped. */
static void
test_G8_datasn_gap (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint8_t rb[12] = {0};
    uint32_t r, r2;
    h_read (s, 0, rb, 12, &r);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    const uint8_t d[4] = {1, 2, 3, 4};
    h_data_in (s, r, 0, 0, d, 4, 0, 0, 0, 1, 50, 0);
    h_data_in (s, r, 2, 8, d, 4, 0, 0, 0, 1, 50, 0); /* DataSN 1 lost */
    session_event_t ev;
    assert_true (session_event_next (s, &ev));
    assert_int_equal (ev.kind, SESSION_EV_PROTOCOL);
    assert_int_equal (ev.fatal, SESSION_FATAL_TASK);
    h_take_complete (s, r, SESSION_R_PROTOCOL, &ev);
    assert_int_equal (ev.bytes_in, 4);
    /* Stray PDUs afterwards: dropped, no event, buffer untouched. */
    pdu_t h = h_data_in_pdu (r, 3, 8, 4, H_F | H_S, 0, 1, 1, 50, 0);
    uint8_t *dst;
    size_t cap;
    session_rx_header (s, &h, &dst, &cap);
    assert_null (dst);
    assert_int_equal (session_rx_pdu (s, &h, d, 4, 1), 0);
    h_rsp (s, r, 0, 0, 2, 1, 50);
    assert_false (h_has_event (s));
    assert_int_equal (rb[8], 0);
    session_stats_t st;
    session_stats (s, &st);
    assert_int_equal (st.dropped, 2);
    /* The session still works. */
    h_read (s, 0, rb, 4, &r2);
    assert_int_not_equal (r2, r);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.u.scsi_cmd.cmdsn, 1);
    h_data_in (s, r2, 0, 0, d, 4, H_F | H_S, 0, 3, 2, 50, 0);
    h_expect_complete (s, r2, SESSION_R_GOOD);
    session_destroy (&s);
}

/* G9: BufferOffset other than the expected one (DataPDUInOrder=Yes). */
static void
test_G9_offset_mismatch (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint8_t rb[12] = {0};
    uint32_t r;
    h_read (s, 0, rb, 12, &r);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    const uint8_t d[4] = {1, 2, 3, 4};
    h_data_in (s, r, 0, 0, d, 4, 0, 0, 0, 1, 50, 0);
    h_data_in (s, r, 1, 6, d, 4, 0, 0, 0, 1, 50, 0);
    session_event_t ev;
    assert_true (session_event_next (s, &ev));
    assert_int_equal (ev.kind, SESSION_EV_PROTOCOL);
    assert_string_equal (ev.detail, "Data-In BufferOffset mismatch");
    h_expect_complete (s, r, SESSION_R_PROTOCOL);
    session_destroy (&s);

    /* With DataPDUInOrder=No any offset inside EDTL is fine. */
    p.data_pdu_in_order = false;
    s = h_new (&p, 0, 0, 50, 0, 16);
    h_read (s, 0, rb, 12, &r);
    assert_true (session_out_next (s, &o));
    h_data_in (s, r, 0, 8, d, 4, 0, 0, 0, 1, 50, 0);
    h_data_in (s, r, 1, 0, d, 4, H_F | H_S, 0, 1, 1, 50, 0);
    h_expect_complete (s, r, SESSION_R_GOOD);
    assert_int_equal (rb[8], 1);
    session_destroy (&s);
}

/* G10: F=1 without S (end of one sequence) does not complete the task. */
static void
test_G10_final_without_status (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint8_t rb[8];
    uint32_t r;
    h_read (s, 0, rb, 8, &r);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    const uint8_t d[4] = {1, 2, 3, 4};
    h_data_in (s, r, 0, 0, d, 4, H_F, 0, 0, 1, 50, 0);
    assert_false (h_has_event (s));
    session_task_info_t ti;
    assert_int_equal (session_tasks (s, &ti, 1), 1);
    assert_int_equal (ti.exp_datasn, 1);
    assert_int_equal (ti.bytes_in, 4);
    h_data_in (s, r, 1, 4, d, 4, H_F | H_S, 0, 1, 1, 50, 0);
    h_expect_complete (s, r, SESSION_R_GOOD);
    /* S without F is a violation (§11.7.3): the task fails. */
    h_read (s, 0, rb, 8, &r);
    assert_true (session_out_next (s, &o));
    h_data_in (s, r, 0, 0, d, 4, H_S, 0, 2, 2, 50, 0);
    session_event_t ev;
    assert_true (session_event_next (s, &ev));
    assert_int_equal (ev.fatal, SESSION_FATAL_TASK);
    h_expect_complete (s, r, SESSION_R_PROTOCOL);
    session_destroy (&s);
}

/* G11: A bit at ERL 1: DataACK SNACK type 2, ITT 0xffffffff, TTT and LUN
 * echoed, BegRun = DataSN + 1, RunLength 0. At ERL 0: ignored. */
static void
test_G11_data_ack (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    p.erl = 1;
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint8_t rb[8];
    uint32_t r;
    session_cmd_t c = h_cmd (3, rb, 8);
    assert_int_equal (session_submit (s, &c, &r), 0);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    const uint8_t d[4] = {1, 2, 3, 4};
    pdu_t h = h_data_in_pdu (r, 0, 0, 4, H_F | H_A, 0, 0, 1, 50, 0);
    h.u.data_in.ttt = 0xabcd;
    h.lun = 0x0003000000000000ull;
    assert_int_equal (session_rx_pdu (s, &h, d, 4, 1), 0);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.opcode, PDU_OP_SNACK);
    assert_int_equal (o.pdu.u.snack.type, PDU_SNACK_DATA_ACK);
    assert_int_equal (o.pdu.itt, PDU_RESERVED_TAG);
    assert_int_equal (o.pdu.u.snack.ttt, 0xabcd);
    assert_int_equal (o.pdu.lun, 0x0003000000000000ull);
    assert_int_equal (o.pdu.u.snack.begrun, 1);
    assert_int_equal (o.pdu.u.snack.runlength, 0);
    assert_int_equal (o.pdu.u.snack.exp_statsn, 1);
    h_encodable (&o);
    session_destroy (&s);

    p.erl = 0;
    s = h_new (&p, 0, 0, 50, 0, 16);
    h_read (s, 0, rb, 8, &r);
    assert_true (session_out_next (s, &o));
    h = h_data_in_pdu (r, 0, 0, 4, H_F | H_A, 0, 0, 1, 50, 0);
    h.u.data_in.ttt = 0xabcd;
    assert_int_equal (session_rx_pdu (s, &h, d, 4, 1), 0);
    assert_false (session_out_next (s, &o));
    session_destroy (&s);
}

/* G12: Data-In for an unknown ITT (after a cancel): dropped. */
static void
test_G12_unknown_itt (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    const uint8_t d[4] = {1, 2, 3, 4};
    h_data_in (s, 0x4242, 0, 0, d, 4, 0, 0, 0, 0, 50, 0);
    h_data_in (s, PDU_RESERVED_TAG, 0, 0, d, 4, 0, 0, 0, 0, 50, 0);
    assert_false (h_has_event (s));
    assert_false (session_dead (s));
    session_stats_t st;
    session_stats (s, &st);
    assert_int_equal (st.dropped, 2);
    session_destroy (&s);
}

/* G15, I1: CHECK CONDITION after some Data-In: sense (behind the 2-byte
 * SenseLength) delivered, data flagged. */
static void
test_G15_I1_check_condition (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint8_t rb[8];
    uint32_t r;
    h_read (s, 0, rb, 8, &r);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    const uint8_t d[4] = {1, 2, 3, 4};
    h_data_in (s, r, 0, 0, d, 4, 0, 0, 0, 1, 50, 0);
    /* Fixed-format sense: MEDIUM ERROR 0x11/0x00, INFORMATION 0x1234. */
    uint8_t seg[2 + 18] = {0, 18, 0xf0, 0, 0x03, 0, 0, 0x12, 0x34, 10};
    seg[2 + 12] = 0x11;
    h_rsp_data (s, r, 0, 2, 1, 1, 50, seg, sizeof seg);
    session_event_t ev;
    h_take_complete (s, r, SESSION_R_CHECK_CONDITION, &ev);
    assert_int_equal (ev.scsi_status, 2);
    assert_true (ev.data_suspect);
    assert_int_equal (ev.bytes_in, 4);
    assert_int_equal (ev.sense_len, 18);
    assert_int_equal (ev.sense[0], 0xf0);
    assert_int_equal (ev.sense[2] & 0x0f, 0x03);
    assert_int_equal (ev.sense[12], 0x11);
    assert_false (ev.sense_malformed);
    session_destroy (&s);
}

/* G16: Data-In with S and then a SCSI Response for the same task: the
 * second status is ignored. */
static void
test_G16_double_status (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint8_t rb[4];
    uint32_t r;
    h_read (s, 0, rb, 4, &r);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    const uint8_t d[4] = {1, 2, 3, 4};
    h_data_in (s, r, 0, 0, d, 4, H_F | H_S, 0, 1, 1, 50, 0);
    h_rsp (s, r, 0, 2, 2, 1, 50);
    h_expect_complete (s, r, SESSION_R_GOOD);
    assert_false (h_has_event (s));
    session_destroy (&s);
}

/* I2: BUSY, RESERVATION CONFLICT, TASK SET FULL, ACA ACTIVE are typed. */
static void
test_I2_typed_status (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    const uint8_t st[] = {0x08, 0x18, 0x28, 0x30, 0x40, 0x04, 0x22};
    const session_result_t want[] = {
        SESSION_R_BUSY,        SESSION_R_RESERVATION_CONFLICT, SESSION_R_TASK_SET_FULL,
        SESSION_R_ACA_ACTIVE,  SESSION_R_TASK_ABORTED,         SESSION_R_CONDITION_MET,
        SESSION_R_STATUS_OTHER};
    uint8_t rb[1];
    for (uint32_t i = 0; i < sizeof st; i++) {
        uint32_t r;
        h_read (s, 0, rb, 0, &r);
        session_out_t o;
        assert_true (session_out_next (s, &o));
        h_rsp (s, r, 0, st[i], 1 + i, 1 + i, 50);
        session_event_t ev;
        h_take_complete (s, r, want[i], &ev);
        assert_int_equal (ev.scsi_status, st[i]);
        assert_string_not_equal (session_result_name (ev.result), "unknown");
    }
    session_destroy (&s);
}

/* I3: iSCSI response 0x01 with status GOOD is a failure. */
static void
test_I3_target_failure (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint8_t rb[1];
    uint32_t r;
    h_read (s, 0, rb, 0, &r);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    h_rsp (s, r, 1, 0, 1, 1, 50);
    session_event_t ev;
    h_take_complete (s, r, SESSION_R_TARGET_FAILURE, &ev);
    assert_int_equal (ev.iscsi_response, 1);
    assert_int_equal (ev.scsi_status, 0);
    session_destroy (&s);
}

/* I4: SenseLength larger than the segment, or a 1-byte segment: no
 * crash, sense absent. */
static void
test_I4_bad_sense_length (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint8_t rb[1];
    uint32_t r;
    session_out_t o;
    session_event_t ev;
    uint8_t seg[6] = {0, 200, 0x70, 0, 5, 0};
    h_read (s, 0, rb, 0, &r);
    assert_true (session_out_next (s, &o));
    h_rsp_data (s, r, 0, 2, 1, 1, 50, seg, sizeof seg);
    h_take_complete (s, r, SESSION_R_CHECK_CONDITION, &ev);
    assert_int_equal (ev.sense_len, 0);
    assert_true (ev.sense_malformed);
    h_read (s, 0, rb, 0, &r);
    assert_true (session_out_next (s, &o));
    h_rsp_data (s, r, 0, 2, 2, 2, 50, seg, 1);
    h_take_complete (s, r, SESSION_R_CHECK_CONDITION, &ev);
    assert_int_equal (ev.sense_len, 0);
    assert_true (ev.sense_malformed);
    session_destroy (&s);
}

/* J1: ping: NOP-Out with a valid ITT, TTT 0xffffffff, I=1, F=1, current
 * CmdSN, data attached; the NOP-In with that ITT completes it and updates
 * window and StatSN. */
static void
test_J1_ping (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 9, 9, 20, 3, 16);
    const char data[] = "ping";
    uint32_t itt;
    int cookie;
    assert_int_equal (session_ping (s, data, 4, &cookie, &itt), 0);
    assert_int_not_equal (itt, PDU_RESERVED_TAG);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.opcode, PDU_OP_NOP_OUT);
    assert_int_equal (o.pdu.itt, itt);
    assert_int_equal (o.pdu.u.nop_out.ttt, PDU_RESERVED_TAG);
    assert_true (o.pdu.immediate);
    assert_true (o.pdu.final);
    assert_int_equal (o.pdu.u.nop_out.cmdsn, 9);
    assert_int_equal (o.pdu.data_segment_length, 4);
    assert_ptr_equal (o.data, data);
    assert_true (o.priority);
    h_encodable (&o);
    h_nop_in (s, itt, PDU_RESERVED_TAG, 4, 9, 30, data, 4);
    session_event_t ev;
    h_take_complete (s, itt, SESSION_R_PONG, &ev);
    assert_ptr_equal (ev.cookie, &cookie);
    assert_int_equal (ev.kind_of_task, SESSION_TASK_NOP);
    assert_int_equal (session_exp_statsn (s), 5);
    assert_int_equal (session_max_cmdsn (s), 30);
    session_destroy (&s);
}

/* G13 (raw.stream): a read_stream task has no buffer: session_rx_stream
 * names its cookie and the segment length for every in-order Data-In, the
 * header hook gives no buffer, the engine counts the bytes it did not
 * place; an out-of-order or beyond-EDTL Data-In is not offered (it fails
 * the task as for a buffered read). */
static void
test_G13_read_stream (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    int cookie = 7;
    session_cmd_t c = h_cmd (0, NULL, 12);
    c.read_stream = true;
    c.cookie = &cookie;
    uint32_t r;
    assert_int_equal (session_submit (s, &c, &r), 0);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.u.scsi_cmd.expected_data_transfer_length, 12);
    const uint8_t d[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    pdu_t h = h_data_in_pdu (r, 0, 0, 8, 0, 0, 0, 1, 50, 0);
    void *ck = NULL;
    uint32_t len = 0;
    assert_true (session_rx_stream (s, &h, &ck, &len));
    assert_ptr_equal (ck, &cookie);
    assert_int_equal (len, 8);
    uint8_t *dst = (uint8_t *)d;
    size_t cap = 99;
    session_rx_header (s, &h, &dst, &cap);
    assert_null (dst);
    assert_int_equal (cap, 0);
    assert_int_equal (session_rx_pdu (s, &h, d, 8, 1), 0);
    /* DataSN 2 instead of 1: not offered, and task-fatal on receipt. */
    pdu_t bad = h_data_in_pdu (r, 2, 8, 4, H_F | H_S, 0, 1, 1, 50, 0);
    assert_false (session_rx_stream (s, &bad, &ck, &len));
    assert_null (ck);
    assert_int_equal (len, 0);
    /* Beyond EDTL without overflow: not offered. */
    pdu_t big = h_data_in_pdu (r, 1, 8, 8, H_F | H_S, 0, 1, 1, 50, 0);
    assert_false (session_rx_stream (s, &big, &ck, &len));
    /* The last 4 bytes with the status. */
    pdu_t last = h_data_in_pdu (r, 1, 8, 4, H_F | H_S, 0, 1, 1, 50, 0);
    assert_true (session_rx_stream (s, &last, &ck, &len));
    assert_int_equal (len, 4);
    assert_int_equal (session_rx_pdu (s, &last, d, 4, 1), 0);
    session_event_t ev;
    h_take_complete (s, r, SESSION_R_GOOD, &ev);
    assert_ptr_equal (ev.cookie, &cookie);
    assert_int_equal (ev.bytes_in, 12);
    /* Ended: nothing is offered any more (G12). */
    assert_false (session_rx_stream (s, &last, &ck, &len));
    /* A buffered read is never offered as a stream. */
    uint8_t rb[4];
    assert_int_equal (h_read (s, 0, rb, 4, &r), 0);
    assert_true (session_out_next (s, &o));
    pdu_t h2 = h_data_in_pdu (r, 0, 0, 4, H_F | H_S, 0, 2, 2, 50, 0);
    assert_false (session_rx_stream (s, &h2, &ck, &len));
    /* read_buf NULL with a length and no read_stream is still refused. */
    session_cmd_t c2 = h_cmd (0, NULL, 12);
    assert_int_equal (session_submit (s, &c2, &r), UIS_ERR_INVALID_ARG);
    session_destroy (&s);
}

/* J2, J6 with reading held (raw.stream flow control): session_rx_hold
 * counts as traffic, so an outstanding keepalive's timeout restarts and no
 * new ping is due while the caller holds the connection. */
static void
test_J2_rx_hold (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_cfg_t cfg = h_cfg (0, 0, 50, 0, 4);
    cfg.nop_interval_ms = 1000;
    cfg.nop_timeout_ms = 500;
    cfg.now = 10000;
    session_t *s = session_new (&p, &cfg);
    assert_non_null (s);
    session_rx_hold (s, 10800);
    assert_int_equal (session_next_timer (s), 11800);
    session_tick (s, 11800);
    session_out_t o;
    assert_true (session_out_next (s, &o)); /* the ping */
    assert_int_equal (o.pdu.opcode, PDU_OP_NOP_OUT);
    assert_int_equal (session_next_timer (s), 12300);
    session_rx_hold (s, 12200);
    assert_int_equal (session_next_timer (s), 12700);
    session_tick (s, 12300);
    assert_false (session_dead (s));
    session_rx_hold (s, 100); /* an older time changes nothing */
    assert_int_equal (session_next_timer (s), 12700);
    session_tick (s, 12700);
    assert_true (session_dead (s));
    session_destroy (&s);
}

/* J2, J6: keepalive only after an idle interval with nothing received;
 * no answer within the timeout -> connection dead event. */
static void
test_J2_J6_keepalive (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_cfg_t cfg = h_cfg (0, 0, 50, 0, 4);
    cfg.nop_interval_ms = 1000;
    cfg.nop_timeout_ms = 500;
    cfg.now = 10000;
    session_t *s = session_new (&p, &cfg);
    assert_non_null (s);
    assert_int_equal (session_next_timer (s), 11000);
    session_out_t o;
    /* J6: PDUs keep arriving: no ping. */
    for (uint64_t t = 10500; t < 13000; t += 500) {
        h_nop_in_at (s, PDU_RESERVED_TAG, PDU_RESERVED_TAG, 1, 0, 50, t);
        session_tick (s, t);
        assert_false (session_out_next (s, &o));
    }
    /* Idle for 1000 ms: ping. */
    session_tick (s, 13499);
    assert_false (session_out_next (s, &o));
    session_tick (s, 13500);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.opcode, PDU_OP_NOP_OUT);
    assert_true (o.pdu.immediate);
    uint32_t ka = o.pdu.itt;
    assert_int_not_equal (ka, PDU_RESERVED_TAG);
    assert_int_equal (session_next_timer (s), 14000);
    /* Answered: no event, next ping one interval after the answer. */
    h_nop_in_at (s, ka, PDU_RESERVED_TAG, 1, 0, 50, 13600);
    assert_false (h_has_event (s));
    assert_int_equal (session_next_timer (s), 14600);
    session_tick (s, 14600);
    assert_true (session_out_next (s, &o));
    assert_int_not_equal (o.pdu.itt, ka);
    /* J2: unanswered. */
    session_tick (s, 15099);
    assert_false (session_dead (s));
    session_tick (s, 15100);
    assert_true (session_dead (s));
    session_event_t ev;
    assert_true (session_event_next (s, &ev));
    assert_int_equal (ev.kind, SESSION_EV_CONNECTION_DEAD);
    assert_int_equal (ev.fatal, SESSION_FATAL_CONNECTION);
    assert_false (h_has_event (s));
    assert_int_equal (session_next_timer (s), UINT64_MAX);
    session_destroy (&s);
}

/* J3, J5: target ping (ITT 0xffffffff, TTT set, LUN and data): reply with
 * ITT 0xffffffff, same TTT, LUN and data echoed, I=1, on the priority lane
 * ahead of queued Data-Out; StatSN not advanced. */
static void
test_J3_J5_target_ping (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    p.initial_r2t = false;
    p.immediate_data = false;
    p.max_recv_dsl_target = 512;
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    static uint8_t wb[4096];
    uint32_t w;
    h_write (s, 0, wb, 4096, &w);
    session_out_t o;
    assert_true (session_out_next (s, &o)); /* command */
    assert_true (session_out_next (s, &o)); /* first Data-Out */
    assert_int_equal (o.pdu.opcode, PDU_OP_DATA_OUT);
    uint8_t pd[5] = {'h', 'e', 'l', 'l', 'o'};
    pdu_t h;
    pdu_init (&h, PDU_OP_NOP_IN);
    h.itt = PDU_RESERVED_TAG;
    h.lun = 0x0001000000000000ull;
    h.u.nop_in.ttt = 0x5555;
    h.u.nop_in.statsn = 1;
    h.u.nop_in.exp_cmdsn = 1;
    h.u.nop_in.max_cmdsn = 50;
    h.data_segment_length = 5;
    assert_int_equal (session_rx_pdu (s, &h, pd, 5, 1), 0);
    memset (pd, 0, sizeof pd); /* the echo is the engine's copy */
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.opcode, PDU_OP_NOP_OUT);
    assert_true (o.priority);
    assert_int_equal (o.pdu.itt, PDU_RESERVED_TAG);
    assert_int_equal (o.pdu.u.nop_out.ttt, 0x5555);
    assert_int_equal (o.pdu.lun, 0x0001000000000000ull);
    assert_true (o.pdu.immediate);
    assert_int_equal (o.pdu.u.nop_out.cmdsn, 1);
    assert_int_equal (o.pdu.u.nop_out.exp_statsn, 1);
    assert_int_equal (o.data_len, 5);
    assert_memory_equal (o.data, "hello", 5);
    h_encodable (&o);
    session_out_done (s, &o);
    assert_int_equal (session_exp_statsn (s), 1);
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.opcode, PDU_OP_DATA_OUT);
    assert_false (o.priority);
    session_destroy (&s);
}

/* J4: informational NOP-In (TTT 0xffffffff): no reply. */
static void
test_J4_no_reply (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    h_nop_in (s, PDU_RESERVED_TAG, PDU_RESERVED_TAG, 1, 0, 50, NULL, 0);
    session_out_t o;
    assert_false (session_out_next (s, &o));
    assert_false (h_has_event (s));
    session_destroy (&s);
}

/* R1: ITTs are unique among live tasks, never 0xffffffff, and survive the
 * generation counter wrapping. */
static void
test_R1_itt_wrap (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_cfg_t cfg = h_cfg (0, 0, 0xffff, 0, 1); /* 2 slots, 1 bit */
    cfg.itt_seed = 0x7fffffff;                      /* near the wrap */
    session_t *s = session_new (&p, &cfg);
    assert_non_null (s);
    uint8_t rb[1];
    uint32_t seen[8];
    for (int i = 0; i < 8; i++) {
        uint32_t r;
        assert_int_equal (h_read (s, 0, rb, 0, &r), 0);
        assert_int_not_equal (r, PDU_RESERVED_TAG);
        uint32_t x;
        assert_int_equal (h_read (s, 0, rb, 0, &x), UIS_ERR_AGAIN); /* table full */
        session_out_t o;
        assert_true (session_out_next (s, &o));
        h_rsp (s, r, 0, 0, (uint32_t)i + 1, (uint32_t)i + 1, 0xffff);
        h_expect_complete (s, r, SESSION_R_GOOD);
        seen[i] = r;
    }
    for (int i = 1; i < 8; i++)
        assert_int_not_equal (seen[i], seen[i - 1]);
    assert_int_equal (seen[0], 0xfffffffe);
    assert_int_equal (seen[1], 0x00000000); /* wrapped */
    session_destroy (&s);

    /* The keepalive slot (index 1 = the mask) would reach 0xffffffff: it
     * is skipped. */
    cfg.nop_interval_ms = 10;
    cfg.nop_timeout_ms = 10;
    s = session_new (&p, &cfg);
    session_tick (s, 10);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    assert_int_equal (o.pdu.opcode, PDU_OP_NOP_OUT);
    assert_int_equal (o.pdu.itt, 0x00000001);
    session_destroy (&s);

    /* Many live tasks: all distinct. */
    cfg = h_cfg (0, 0, 0xffff, 0, 100);
    s = session_new (&p, &cfg);
    uint32_t itt[100];
    for (int i = 0; i < 100; i++) {
        assert_int_equal (h_read (s, 0, rb, 0, &itt[i]), 0);
        for (int j = 0; j < i; j++)
            assert_int_not_equal (itt[i], itt[j]);
    }
    session_destroy (&s);
}

/* R4, R5: a 32-byte CDB goes in the extended-CDB AHS; the task attribute
 * is SIMPLE by default, ORDERED / HEAD OF QUEUE / ACA selectable. */
static void
test_R4_R5_cdb_attr (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    uint8_t cdb[32];
    for (int i = 0; i < 32; i++)
        cdb[i] = (uint8_t)(0x80 + i);
    session_cmd_t c = h_cmd (0, NULL, 0);
    c.cdb = cdb;
    c.cdb_len = 32;
    uint32_t itt;
    assert_int_equal (session_submit (s, &c, &itt), 0);
    session_out_t o;
    assert_true (session_out_next (s, &o));
    assert_true (o.has_ahs);
    assert_int_equal (o.ahs.ext_cdb_len, 16);
    assert_memory_equal (o.pdu.u.scsi_cmd.cdb, cdb, 16);
    assert_memory_equal (o.ahs.ext_cdb, cdb + 16, 16);
    assert_int_equal (o.pdu.u.scsi_cmd.attr, PDU_ATTR_SIMPLE);
    h_encodable (&o);
    const session_attr_t a[] = {SESSION_ATTR_ORDERED, SESSION_ATTR_HEAD_OF_QUEUE,
                                SESSION_ATTR_ACA};
    const uint8_t w[] = {PDU_ATTR_ORDERED, PDU_ATTR_HEAD_OF_QUEUE, PDU_ATTR_ACA};
    for (int i = 0; i < 3; i++) {
        c = h_cmd (0, NULL, 0);
        c.attr = a[i];
        assert_int_equal (session_submit (s, &c, &itt), 0);
        assert_true (session_out_next (s, &o));
        assert_false (o.has_ahs);
        assert_int_equal (o.pdu.u.scsi_cmd.attr, w[i]);
    }
    c = h_cmd (0, NULL, 0);
    c.cdb_len = 261;
    assert_int_equal (session_submit (s, &c, &itt), UIS_ERR_SCSI_CDB);
    c.cdb_len = 0;
    assert_int_equal (session_submit (s, &c, &itt), UIS_ERR_SCSI_CDB);
    session_destroy (&s);
}

/* Connection-fatal violations: a Login Response or an initiator opcode in
 * full feature phase stops the engine. */
static void
test_connection_fatal (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 16);
    pdu_t h;
    pdu_init (&h, PDU_OP_SCSI_CMD);
    assert_int_equal (session_rx_pdu (s, &h, NULL, 0, 1), UIS_ERR_PROTOCOL);
    assert_true (session_dead (s));
    session_event_t ev;
    assert_true (session_event_next (s, &ev));
    assert_int_equal (ev.kind, SESSION_EV_PROTOCOL);
    assert_int_equal (ev.fatal, SESSION_FATAL_CONNECTION);
    assert_int_equal (session_rx_pdu (s, &h, NULL, 0, 1), UIS_ERR_STATE);
    uint8_t rb[1];
    assert_int_equal (h_read (s, 0, rb, 0, NULL), UIS_ERR_STATE);
    session_destroy (&s);
    s = h_new (&p, 0, 0, 50, 0, 16);
    pdu_init (&h, PDU_OP_LOGIN_RSP);
    assert_int_equal (session_rx_pdu (s, &h, NULL, 0, 1), UIS_ERR_PROTOCOL);
    session_destroy (&s);
    /* Bad sizes: an R2T / TMF / Logout Response with a data segment. */
    const uint8_t ops[] = {PDU_OP_R2T, PDU_OP_TMF_RSP, PDU_OP_LOGOUT_RSP};
    const uint8_t junk[4] = {0};
    for (int i = 0; i < 3; i++) {
        s = h_new (&p, 0, 0, 50, 0, 16);
        pdu_init (&h, ops[i]);
        h.data_segment_length = 4;
        assert_int_equal (session_rx_pdu (s, &h, junk, 4, 1), UIS_ERR_PROTOCOL);
        assert_true (session_event_next (s, &ev));
        assert_int_equal (ev.fatal, SESSION_FATAL_CONNECTION);
        assert_string_equal (ev.detail, "data segment on a PDU that has none");
        session_destroy (&s);
    }
}

/* Immediate commands and TMFs cancelled before they are sent leave no
 * stale entries that fill the priority lane (fuzz finding). */
static void
test_priority_lane_reuse (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_t *s = h_new (&p, 0, 0, 50, 0, 2);
    uint8_t rb[1];
    for (int i = 0; i < 200; i++) {
        session_cmd_t c = h_cmd (0, rb, 0);
        c.immediate = true;
        uint32_t itt;
        assert_int_equal (session_submit (s, &c, &itt), 0);
        assert_int_equal (session_cancel (s, itt), 0);
        h_expect_complete (s, itt, SESSION_R_CANCELLED);
        if (i % 4 == 0)
            assert_int_equal (session_confirm_exp_statsn (s), 0);
        session_out_t o;
        if (i % 64 == 63)
            for (int k = 0; k < 40 && session_out_next (s, &o); k++)
                assert_int_equal (o.pdu.opcode, PDU_OP_NOP_OUT);
    }
    uint32_t itt;
    assert_int_equal (session_ping (s, NULL, 0, NULL, &itt), 0);
    session_destroy (&s);
}

/* session_new refuses impossible parameters. */
static void
test_new_invalid (void **state)
{
    (void)state;
    uis_neg_params_t p = h_params ();
    session_cfg_t cfg = h_cfg (0, 0, 10, 0, 0);
    assert_null (session_new (&p, &cfg));
    cfg.max_tasks = SESSION_TASKS_MAX + 1;
    assert_null (session_new (&p, &cfg));
    cfg.max_tasks = 4;
    p.first_burst = p.max_burst + 1;
    assert_null (session_new (&p, &cfg));
    p = h_params ();
    p.max_recv_dsl_target = 100;
    assert_null (session_new (&p, &cfg));
    p = h_params ();
    p.max_outstanding_r2t = 0;
    assert_null (session_new (&p, &cfg));
    session_destroy (NULL);
    assert_string_equal (session_event_name (SESSION_EV_ASYNC), "async");
    assert_string_equal (session_result_name (SESSION_R__COUNT), "unknown");
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_B12_initial_window),
        cmocka_unit_test (test_E1_immediate_no_advance),
        cmocka_unit_test (test_E2_zero_window),
        cmocka_unit_test (test_E3_window_one),
        cmocka_unit_test (test_E4_parallel),
        cmocka_unit_test (test_E5_response_closes),
        cmocka_unit_test (test_E6_invalid_update),
        cmocka_unit_test (test_E7_wrap),
        cmocka_unit_test (test_E8_cancel_waiter),
        cmocka_unit_test (test_E9_queue_depth),
        cmocka_unit_test (test_F1_F4_exp_statsn),
        cmocka_unit_test (test_F2_next_statsn_not_advanced),
        cmocka_unit_test (test_F3_statsn_gap),
        cmocka_unit_test (test_F5_confirm),
        cmocka_unit_test (test_G1_G4_status_in_data_in),
        cmocka_unit_test (test_G2_separate_response),
        cmocka_unit_test (test_G3_status_only_data_in),
        cmocka_unit_test (test_G5_underflow),
        cmocka_unit_test (test_G6_overflow),
        cmocka_unit_test (test_G7_beyond_edtl),
        cmocka_unit_test (test_G8_datasn_gap),
        cmocka_unit_test (test_G9_offset_mismatch),
        cmocka_unit_test (test_G10_final_without_status),
        cmocka_unit_test (test_G11_data_ack),
        cmocka_unit_test (test_G12_unknown_itt),
        cmocka_unit_test (test_G15_I1_check_condition),
        cmocka_unit_test (test_G16_double_status),
        cmocka_unit_test (test_I2_typed_status),
        cmocka_unit_test (test_I3_target_failure),
        cmocka_unit_test (test_I4_bad_sense_length),
        cmocka_unit_test (test_J1_ping),
        cmocka_unit_test (test_J2_J6_keepalive),
        cmocka_unit_test (test_J2_rx_hold),
        cmocka_unit_test (test_G13_read_stream),
        cmocka_unit_test (test_J3_J5_target_ping),
        cmocka_unit_test (test_J4_no_reply),
        cmocka_unit_test (test_R1_itt_wrap),
        cmocka_unit_test (test_R4_R5_cdb_attr),
        cmocka_unit_test (test_connection_fatal),
        cmocka_unit_test (test_priority_lane_reuse),
        cmocka_unit_test (test_new_invalid),
    };
    return cmocka_run_group_tests_name ("session", tests, NULL, NULL);
}
