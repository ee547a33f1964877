/* test_session_harness.h: helpers shared by test_session.c and
 * test_session_io.c: negotiated parameters, submits, hand-built target
 * PDUs and completion checks. Header-only (static functions), so each
 * test binary stays one .c file. */
#ifndef UISCSI_TEST_SESSION_HARNESS_H
#define UISCSI_TEST_SESSION_HARNESS_H

#include "proto/pdu.h"
#include "proto/session.h"

/* Data-In flag bits for h_data_in. */
#define H_F 0x01
#define H_S 0x02
#define H_A 0x04
#define H_U 0x08
#define H_O 0x10

static const uint8_t h_read10[10] = {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0};
static const uint8_t h_write10[10] = {0x2a, 0, 0, 0, 0, 0, 0, 0, 1, 0};

/* Typical negotiated values: target MRDSL 8192, MaxBurst 256 KiB,
 * FirstBurst 64 KiB, InitialR2T=Yes, ImmediateData=Yes, ERL 0. */
static uis_neg_params_t __attribute__ ((unused)) h_params (void)
{
    uis_neg_params_t p;
    memset (&p, 0, sizeof p);
    p.max_recv_dsl_initiator = 262144;
    p.max_recv_dsl_target = 8192;
    p.max_burst = 262144;
    p.first_burst = 65536;
    p.initial_r2t = true;
    p.immediate_data = true;
    p.max_outstanding_r2t = 1;
    p.erl = 0;
    p.data_pdu_in_order = true;
    p.data_sequence_in_order = true;
    p.default_time2wait = 2;
    p.default_time2retain = 20;
    return p;
}

static session_cfg_t __attribute__ ((unused))
h_cfg (uint32_t cmdsn, uint32_t exp, uint32_t max, uint32_t statsn, uint32_t max_tasks)
{
    session_cfg_t c;
    memset (&c, 0, sizeof c);
    c.cmdsn = cmdsn;
    c.exp_cmdsn = exp;
    c.max_cmdsn = max;
    c.statsn = statsn;
    c.max_tasks = max_tasks;
    return c;
}

static session_t *__attribute__ ((unused))
h_new (const uis_neg_params_t *p, uint32_t cmdsn, uint32_t exp, uint32_t max,
       uint32_t statsn, uint32_t max_tasks)
{
    session_cfg_t c = h_cfg (cmdsn, exp, max, statsn, max_tasks);
    session_t *s = session_new (p, &c);
    assert_non_null (s);
    return s;
}

/* A READ(10) to LUN lun (second LUN byte) reading len bytes into rb. */
static session_cmd_t __attribute__ ((unused)) h_cmd (uint8_t lun, void *rb, uint32_t len)
{
    session_cmd_t c;
    memset (&c, 0, sizeof c);
    c.lun[1] = lun;
    c.cdb = h_read10;
    c.cdb_len = sizeof h_read10;
    c.read_buf = rb;
    c.read_len = len;
    return c;
}

static int __attribute__ ((unused))
h_read (session_t *s, uint8_t lun, void *rb, uint32_t len, uint32_t *itt)
{
    session_cmd_t c = h_cmd (lun, rb, len);
    uint32_t dummy;
    return session_submit (s, &c, itt ? itt : &dummy);
}

static int __attribute__ ((unused))
h_write (session_t *s, uint8_t lun, const void *wb, uint32_t len, uint32_t *itt)
{
    session_cmd_t c = h_cmd (lun, NULL, 0);
    c.cdb = h_write10;
    c.write_buf = wb;
    c.write_buf_len = len;
    c.write_len = len;
    uint32_t dummy;
    return session_submit (s, &c, itt ? itt : &dummy);
}

static pdu_t __attribute__ ((unused))
h_data_in_pdu (uint32_t itt, uint32_t datasn, uint32_t offset, uint32_t len, int flags,
               uint8_t status, uint32_t statsn, uint32_t exp, uint32_t max,
               uint32_t residual)
{
    pdu_t h;
    pdu_init (&h, PDU_OP_DATA_IN);
    h.itt = itt;
    h.final = (flags & H_F) != 0;
    h.data_segment_length = len;
    h.u.data_in.ttt = PDU_RESERVED_TAG;
    h.u.data_in.datasn = datasn;
    h.u.data_in.buffer_offset = offset;
    h.u.data_in.status_present = (flags & H_S) != 0;
    h.u.data_in.ack = (flags & H_A) != 0;
    h.u.data_in.underflow = (flags & H_U) != 0;
    h.u.data_in.overflow = (flags & H_O) != 0;
    h.u.data_in.status = status;
    h.u.data_in.statsn = statsn;
    h.u.data_in.exp_cmdsn = exp;
    h.u.data_in.max_cmdsn = max;
    h.u.data_in.residual_count = residual;
    return h;
}

static void __attribute__ ((unused))
h_data_in (session_t *s, uint32_t itt, uint32_t datasn, uint32_t offset,
           const uint8_t *data, uint32_t len, int flags, uint8_t status, uint32_t statsn,
           uint32_t exp, uint32_t max, uint32_t residual)
{
    pdu_t h = h_data_in_pdu (itt, datasn, offset, len, flags, status, statsn, exp, max,
                             residual);
    assert_int_equal (session_rx_pdu (s, &h, data, len, 1), 0);
}

static void __attribute__ ((unused))
h_rsp_data (session_t *s, uint32_t itt, uint8_t response, uint8_t status, uint32_t statsn,
            uint32_t exp, uint32_t max, const uint8_t *seg, uint32_t len)
{
    pdu_t h;
    pdu_init (&h, PDU_OP_SCSI_RSP);
    h.itt = itt;
    h.data_segment_length = len;
    h.u.scsi_rsp.response = response;
    h.u.scsi_rsp.status = status;
    h.u.scsi_rsp.statsn = statsn;
    h.u.scsi_rsp.exp_cmdsn = exp;
    h.u.scsi_rsp.max_cmdsn = max;
    assert_int_equal (session_rx_pdu (s, &h, seg, len, 1), 0);
}

static void __attribute__ ((unused))
h_rsp (session_t *s, uint32_t itt, uint8_t response, uint8_t status, uint32_t statsn,
       uint32_t exp, uint32_t max)
{
    h_rsp_data (s, itt, response, status, statsn, exp, max, NULL, 0);
}

static void __attribute__ ((unused))
h_nop_in_at (session_t *s, uint32_t itt, uint32_t ttt, uint32_t statsn, uint32_t exp,
             uint32_t max, uint64_t now)
{
    pdu_t h;
    pdu_init (&h, PDU_OP_NOP_IN);
    h.itt = itt;
    h.u.nop_in.ttt = ttt;
    h.u.nop_in.statsn = statsn;
    h.u.nop_in.exp_cmdsn = exp;
    h.u.nop_in.max_cmdsn = max;
    assert_int_equal (session_rx_pdu (s, &h, NULL, 0, now), 0);
}

static void __attribute__ ((unused))
h_nop_in (session_t *s, uint32_t itt, uint32_t ttt, uint32_t statsn, uint32_t exp,
          uint32_t max, const void *data, uint32_t len)
{
    pdu_t h;
    pdu_init (&h, PDU_OP_NOP_IN);
    h.itt = itt;
    h.data_segment_length = len;
    h.u.nop_in.ttt = ttt;
    h.u.nop_in.statsn = statsn;
    h.u.nop_in.exp_cmdsn = exp;
    h.u.nop_in.max_cmdsn = max;
    assert_int_equal (session_rx_pdu (s, &h, data, len, 1), 0);
}

static void __attribute__ ((unused))
h_r2t (session_t *s, uint32_t itt, uint32_t ttt, uint32_t r2tsn, uint32_t offset,
       uint32_t ddtl, uint32_t statsn, uint32_t exp, uint32_t max)
{
    pdu_t h;
    pdu_init (&h, PDU_OP_R2T);
    h.itt = itt;
    h.lun = 0;
    h.u.r2t.ttt = ttt;
    h.u.r2t.r2tsn = r2tsn;
    h.u.r2t.buffer_offset = offset;
    h.u.r2t.desired_data_transfer_length = ddtl;
    h.u.r2t.statsn = statsn;
    h.u.r2t.exp_cmdsn = exp;
    h.u.r2t.max_cmdsn = max;
    assert_int_equal (session_rx_pdu (s, &h, NULL, 0, 1), 0);
}

/* Takes the next event, which must be the completion of itt with result. */
static void __attribute__ ((unused))
h_take_complete (session_t *s, uint32_t itt, session_result_t result, session_event_t *ev)
{
    assert_true (session_event_next (s, ev));
    assert_int_equal (ev->kind, SESSION_EV_COMPLETE);
    assert_int_equal (ev->itt, itt);
    assert_string_equal (session_result_name (ev->result), session_result_name (result));
}

static void __attribute__ ((unused))
h_expect_complete (session_t *s, uint32_t itt, session_result_t result)
{
    session_event_t ev;
    h_take_complete (s, itt, result, &ev);
}

/* Takes an event if there is one; true when there was. */
static bool __attribute__ ((unused)) h_has_event (session_t *s)
{
    session_event_t ev;
    return session_event_next (s, &ev);
}

/* The output PDU encodes (header + trailer) and decodes back the same. */
static void __attribute__ ((unused)) h_encodable (const session_out_t *o)
{
    uint8_t hdr[PDU_HEADER_MAX];
    size_t n;
    assert_int_equal (pdu_header_build (&o->pdu, o->has_ahs ? &o->ahs : NULL, NULL, hdr,
                                        sizeof hdr, &n),
                      0);
    pdu_t back;
    assert_int_equal (pdu_bhs_decode (hdr, &back), 0);
    assert_int_equal (back.opcode, o->pdu.opcode);
    assert_int_equal (back.itt, o->pdu.itt);
    assert_int_equal (back.immediate, o->pdu.immediate);
    assert_int_equal (back.final, o->pdu.final);
    assert_int_equal (back.data_segment_length, o->data_len);
}

#endif
