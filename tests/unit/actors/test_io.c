/* test_io.c: the io actor's message handling against a scripted target on
 * a socketpair(AF_UNIX) (the fd travels in ENG_OPEN), no network: login,
 * a read straight into the reply frame, a write served by R2Ts, digests
 * on every PDU and the NOP-In echo, the per-command deadline with ABORT
 * TASK (LUN and RefCmdSN), a dead connection failing in-flight commands at
 * once, login refusals mapped to API errors, graceful close with Logout,
 * ENG_CANCEL of a killed client's command (ABORT TASK, no reply).
 * The test thread plays the target; the io actor runs on its own thread;
 * every wait is bounded.
 * Conformance ids: B1, B12 (window from the final login response), B15
 * (no login deadline left behind), A2 (data digest over padded data), J1,
 * J3 (NOP-In echo), M1 and R2 (deadline, ABORT TASK with LUN and
 * RefCmdSN), N1 (logout), B6 (status mapping), M2 and M7 (TMF response
 * mapping), N4 (the Logout Response in the reply). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <sys/socket.h>

#include "proto/crc32c.h"
#include "proto/framer.h"
#include "proto/pdu.h"
#include "rpc/errors.h"
#include "test_io_harness.h"

#define P_WAIT_MS 5000
#define TSIH      0x1234

/* The scripted target's end of the socketpair. */
typedef struct {
    int fd;
    framer_t *fr;
    pdu_digest_cfg_t dig;
    uint8_t isid[PDU_ISID_LEN];
    uint32_t statsn;
    uint32_t exp_cmdsn;
    framer_frame_t f; /* last frame */
    uint8_t data[1 << 20];
} peer_t;

static h_io_t s_h;
static peer_t *s_p;
static uint32_t s_session = 1;

static int
s_setup (void **state)
{
    (void)state;
    h_start (&s_h, 902);
    s_p = calloc (1, sizeof *s_p);
    return s_p ? 0 : -1;
}

static int
s_teardown (void **state)
{
    (void)state;
    h_stop (&s_h);
    framer_destroy (&s_p->fr);
    free (s_p);
    return 0;
}

/* Reads one whole PDU (bounded wait); returns its header. The data is
 * copied into p->data. */
static const pdu_t *
p_recv (peer_t *p)
{
    for (int n = 0; n < 100000; n++) {
        uint8_t *ptr;
        size_t want;
        assert_int_equal (framer_want (p->fr, &ptr, &want), 0);
        struct pollfd pfd = {p->fd, POLLIN, 0};
        assert_int_equal (poll (&pfd, 1, P_WAIT_MS), 1);
        ssize_t got = read (p->fd, ptr, want);
        assert_true (got > 0);
        int rc = framer_wrote (p->fr, (size_t)got);
        assert_true (rc >= 0);
        if (rc == FRAMER_PDU) {
            const framer_frame_t *f = framer_frame (p->fr);
            p->f = *f;
            if (f->data_len)
                memcpy (p->data, f->data, f->data_len);
            return &p->f.hdr;
        }
    }
    fail_msg ("no PDU");
    return NULL;
}

/* Writes a PDU with data and the peer's digests. */
static void
p_send (peer_t *p, pdu_t *pdu, const void *data, size_t len)
{
    static uint8_t buf[PDU_HEADER_MAX + (1 << 20) + PDU_TRAILER_MAX];
    size_t n;
    assert_int_equal (pdu_encode (pdu, NULL, data, len, &p->dig, buf, sizeof buf, &n), 0);
    assert_int_equal (write (p->fd, buf, n), (ssize_t)n);
}

/* A Login Response for the current request. */
static pdu_t
p_login_rsp (peer_t *p, const pdu_t *req, uint8_t csg, uint8_t nsg, uint16_t tsih)
{
    pdu_t r;
    pdu_init (&r, PDU_OP_LOGIN_RSP);
    r.itt = req->itt;
    r.u.login_rsp.transit = true;
    r.u.login_rsp.csg = csg;
    r.u.login_rsp.nsg = nsg;
    memcpy (r.u.login_rsp.isid, req->u.login_req.isid, PDU_ISID_LEN);
    r.u.login_rsp.tsih = tsih;
    r.u.login_rsp.statsn = p->statsn++;
    r.u.login_rsp.exp_cmdsn = req->u.login_req.cmdsn;
    r.u.login_rsp.max_cmdsn = req->u.login_req.cmdsn + 1; /* tgt's window of 2 */
    p->exp_cmdsn = req->u.login_req.cmdsn;
    return r;
}

/* Sends text pairs separated by '|' with a PDU. */
static void
p_send_text (peer_t *p, pdu_t *pdu, const char *pairs)
{
    char buf[1024];
    size_t n = strlen (pairs);
    assert_true (n + 1 < sizeof buf);
    memcpy (buf, pairs, n + 1);
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '|')
            buf[i] = 0;
    pdu->data_segment_length = (uint32_t)(n ? n + 1 : 0);
    p_send (p, pdu, buf, n ? n + 1 : 0);
}

/* Opens a session over a new socketpair with params extra (borrowed, may
 * be NULL); returns the corr of the ENG_OPEN (not yet answered). */
static uint64_t
p_open (peer_t *p, uint32_t session, json_t *extra)
{
    int sv[2];
    assert_int_equal (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    framer_destroy (&p->fr);
    p->fr = framer_new (1 << 20);
    assert_non_null (p->fr);
    p->fd = sv[1];
    p->dig = (pdu_digest_cfg_t){0};
    p->statsn = 100;
    json_t *params =
        json_pack ("{s:s, s:s, s:s, s:i, s:{s:i, s:i}, s:{s:i}}", "portal",
                   "127.0.0.1:3260", "target", "iqn.2024-01.test:t", "session", "s",
                   "timeout_ms", 5000, "keepalive", "interval_ms", 0, "timeout_ms", 1000,
                   "recovery", "max_attempts", 0); /* no reconnect: the fd is adopted */
    if (extra)
        json_object_update (params, extra);
    uint64_t corr = h_send (&s_h, ENG_OPEN, session, 0, params, NULL, 0, NULL, 0, sv[0]);
    json_decref (params);
    return corr;
}

/* Plays a login with AuthMethod=None and the operational answers in
 * pairs; returns the ENG_REPLY body of the open (status 0 asserted). */
static json_t *
p_login (peer_t *p, uint64_t corr, const char *pairs)
{
    const pdu_t *req = p_recv (p);
    /* B1: security stage first, InitiatorName, SessionType, TargetName */
    assert_int_equal (req->opcode, PDU_OP_LOGIN_REQ);
    assert_int_equal (req->u.login_req.csg, 0);
    assert_true (req->u.login_req.transit);
    assert_int_equal (req->u.login_req.tsih, 0);
    assert_int_equal (req->u.login_req.isid[0] >> 6, 2); /* random ISID format */
    memcpy (p->isid, req->u.login_req.isid, PDU_ISID_LEN);
    assert_non_null (
        memmem (p->data, p->f.data_len, "TargetName=iqn.2024-01.test:t", 29));
    pdu_t r = p_login_rsp (p, req, 0, 1, 0);
    p_send_text (p, &r, "AuthMethod=None");
    req = p_recv (p);
    assert_int_equal (req->u.login_req.csg, 1);
    assert_int_equal (req->u.login_req.nsg, 3);
    r = p_login_rsp (p, req, 1, 3, TSIH);
    p_send_text (p, &r, pairs);
    rt_msg_t msg;
    h_wait (&s_h, corr, &msg);
    assert_int_equal (msg.env.type, ENG_REPLY);
    assert_int_equal (msg.env.status, 0);
    json_t *v = bus_json_body (&msg);
    rt_msg_close (&msg);
    return v;
}

/* A SCSI Response with status for itt. */
static void
p_scsi_rsp (peer_t *p, uint32_t itt, uint8_t status, uint32_t max_window)
{
    pdu_t r;
    pdu_init (&r, PDU_OP_SCSI_RSP);
    r.itt = itt;
    r.u.scsi_rsp.status = status;
    r.u.scsi_rsp.statsn = p->statsn++;
    r.u.scsi_rsp.exp_cmdsn = ++p->exp_cmdsn;
    r.u.scsi_rsp.max_cmdsn = p->exp_cmdsn + max_window - 1;
    p_send (p, &r, NULL, 0);
}

/* Graceful close: Logout Request answered; reply closed. */
static void
p_close (peer_t *p, uint32_t session)
{
    uint64_t corr = h_send (&s_h, ENG_CLOSE, session, 0, NULL, NULL, 0, NULL, 0, -1);
    const pdu_t *req = p_recv (p);
    assert_int_equal (req->opcode, PDU_OP_LOGOUT_REQ);
    assert_int_equal (req->u.logout_req.reason_code, 0);
    pdu_t r;
    pdu_init (&r, PDU_OP_LOGOUT_RSP);
    r.itt = req->itt;
    r.u.logout_rsp.statsn = p->statsn++;
    r.u.logout_rsp.exp_cmdsn = ++p->exp_cmdsn;
    r.u.logout_rsp.max_cmdsn = p->exp_cmdsn + 10;
    p_send (p, &r, NULL, 0);
    rt_msg_t msg;
    h_wait (&s_h, corr, &msg);
    assert_int_equal (msg.env.status, 0);
    json_t *v = bus_json_body (&msg);
    assert_true (json_is_true (json_object_get (v, "closed")));
    /* N4: the Logout Response is reported */
    assert_int_equal (json_integer_value (json_object_get (v, "response")), 0);
    assert_string_equal (json_string_value (json_object_get (v, "response_name")),
                         "CLOSED");
    json_decref (v);
    rt_msg_close (&msg);
    close (p->fd);
}

/* B1, B12, N1: login, a READ whose Data-In lands in the reply frame,
 * ENG_GET, graceful close. */
static void
test_io_login_read (void **state)
{
    (void)state;
    uint32_t id = s_session++;
    uint64_t corr = p_open (s_p, id, NULL);
    json_t *res = p_login (s_p, corr, "HeaderDigest=None|DataDigest=None");
    assert_int_equal (json_integer_value (json_object_get (res, "tsih")), TSIH);
    char isid[13];
    for (int i = 0; i < 6; i++)
        snprintf (isid + 2 * i, 3, "%02x", s_p->isid[i]);
    assert_string_equal (json_string_value (json_object_get (res, "isid")), isid);
    assert_string_equal (json_string_value (json_object_get (res, "target")),
                         "iqn.2024-01.test:t");
    json_decref (res);
    /* B12: the window is the login response's (2) */
    int32_t status;
    json_t *info = h_call (&s_h, ENG_GET, id, 0, NULL, NULL, 0, &status);
    assert_int_equal (json_integer_value (json_object_get (info, "cmdsn_window")), 2);
    assert_string_equal (json_string_value (json_object_get (info, "state")),
                         "full_feature");
    json_decref (info);
    uint8_t cdb[10] = {0x28, 0, 0, 0, 0, 8, 0, 0, 8, 0};
    eng_cmd_t c;
    h_cmd (&c, 3, cdb, 10, 4096, 0, 5000);
    corr = h_send (&s_h, ENG_CMD, id, 0, NULL, &c, sizeof c, NULL, 0, -1);
    const pdu_t *req = p_recv (s_p);
    assert_int_equal (req->opcode, PDU_OP_SCSI_CMD);
    assert_true (req->u.scsi_cmd.read);
    assert_false (req->u.scsi_cmd.write);
    assert_int_equal (req->u.scsi_cmd.expected_data_transfer_length, 4096);
    assert_int_equal (req->u.scsi_cmd.cmdsn, s_p->exp_cmdsn);
    assert_memory_equal (req->u.scsi_cmd.cdb, cdb, 10);
    assert_int_equal (req->lun >> 48, 3);
    uint32_t itt = req->itt;
    uint8_t data[4096];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 1);
    for (int k = 0; k < 2; k++) {
        pdu_t d;
        pdu_init (&d, PDU_OP_DATA_IN);
        d.itt = itt;
        d.final = k == 1;
        d.u.data_in.ttt = PDU_RESERVED_TAG;
        d.u.data_in.datasn = (uint32_t)k;
        d.u.data_in.buffer_offset = (uint32_t)k * 2048;
        d.u.data_in.exp_cmdsn = s_p->exp_cmdsn;
        d.u.data_in.max_cmdsn = s_p->exp_cmdsn + 1;
        if (k == 1) {
            d.u.data_in.status_present = true;
            d.u.data_in.statsn = s_p->statsn++;
            d.u.data_in.exp_cmdsn = ++s_p->exp_cmdsn;
            d.u.data_in.max_cmdsn = s_p->exp_cmdsn + 127;
        }
        d.data_segment_length = 2048;
        p_send (s_p, &d, data + k * 2048, 2048);
    }
    rt_msg_t msg;
    h_wait (&s_h, corr, &msg);
    h_result_t r;
    h_result (&msg, &r);
    assert_int_equal (r.status, 0);
    assert_int_equal (r.done.status, 0);
    assert_int_equal (r.done.bytes, 4096);
    assert_memory_equal (r.data, data, 4096);
    h_result_free (&r);
    info = h_call (&s_h, ENG_GET, id, 0, NULL, NULL, 0, &status);
    assert_int_equal (json_integer_value (json_object_get (info, "cmdsn_window")), 128);
    assert_int_equal (json_integer_value (json_object_get (
                          json_object_get (info, "counters"), "commands")),
                      1);
    json_decref (info);
    p_close (s_p, id);
}

/* A WRITE served by two R2Ts (InitialR2T=Yes, ImmediateData=No, target
 * MRDSL 4096): the Data-Out bytes are the client frame's, by offset. */
static void
test_io_write_r2t (void **state)
{
    (void)state;
    uint32_t id = s_session++;
    uint64_t corr = p_open (s_p, id, NULL);
    json_decref (p_login (s_p, corr,
                          "InitialR2T=Yes|ImmediateData=No|MaxBurstLength=8192|"
                          "FirstBurstLength=8192|MaxRecvDataSegmentLength=4096"));
    uint8_t out[16384];
    for (size_t i = 0; i < sizeof out; i++)
        out[i] = (uint8_t)(i ^ (i >> 8));
    uint8_t cdb[10] = {0x2a, 0, 0, 0, 0, 0, 0, 0, 32, 0};
    eng_cmd_t c;
    h_cmd (&c, 1, cdb, 10, 0, sizeof out, 5000);
    corr = h_send (&s_h, ENG_CMD, id, 0, NULL, &c, sizeof c, out, sizeof out, -1);
    const pdu_t *req = p_recv (s_p);
    assert_int_equal (req->opcode, PDU_OP_SCSI_CMD);
    assert_true (req->u.scsi_cmd.write);
    assert_int_equal (req->data_segment_length, 0); /* no immediate data */
    uint32_t itt = req->itt;
    uint8_t got[16384];
    for (uint32_t r2tsn = 0; r2tsn < 2; r2tsn++) {
        pdu_t r2t;
        pdu_init (&r2t, PDU_OP_R2T);
        r2t.itt = itt;
        r2t.lun = 1ull << 48;
        r2t.u.r2t.ttt = 0x100 + r2tsn;
        r2t.u.r2t.statsn = s_p->statsn;
        r2t.u.r2t.exp_cmdsn = s_p->exp_cmdsn + 1;
        r2t.u.r2t.max_cmdsn = s_p->exp_cmdsn + 10;
        r2t.u.r2t.r2tsn = r2tsn;
        r2t.u.r2t.buffer_offset = r2tsn * 8192;
        r2t.u.r2t.desired_data_transfer_length = 8192;
        p_send (s_p, &r2t, NULL, 0);
        for (uint32_t k = 0; k < 2; k++) { /* target MRDSL 4096 */
            req = p_recv (s_p);
            assert_int_equal (req->opcode, PDU_OP_DATA_OUT);
            assert_int_equal (req->u.data_out.ttt, 0x100 + r2tsn);
            assert_int_equal (req->u.data_out.datasn, k);
            assert_int_equal (req->u.data_out.buffer_offset, r2tsn * 8192 + k * 4096);
            assert_int_equal (req->data_segment_length, 4096);
            assert_int_equal (req->final, k == 1);
            memcpy (got + req->u.data_out.buffer_offset, s_p->data, 4096);
        }
    }
    assert_memory_equal (got, out, sizeof out);
    p_scsi_rsp (s_p, itt, 0, 64);
    rt_msg_t msg;
    h_wait (&s_h, corr, &msg);
    h_result_t r;
    h_result (&msg, &r);
    assert_int_equal (r.status, 0);
    assert_int_equal (r.done.status, 0);
    assert_int_equal (r.done.bytes, 0);
    h_result_free (&r);
    p_close (s_p, id);
}

/* M1, R2: at the deadline a sent command gets ABORT TASK with its LUN and
 * RefCmdSN; the confirmed abort is TIMEOUT {timeout_ms, aborted true}. */
static void
test_io_deadline_abort (void **state)
{
    (void)state;
    uint32_t id = s_session++;
    uint64_t corr = p_open (s_p, id, NULL);
    json_decref (p_login (s_p, corr, ""));
    uint8_t tur[6] = {0};
    eng_cmd_t c;
    h_cmd (&c, 5, tur, 6, 0, 0, 150);
    uint64_t t0 = h_now_us ();
    corr = h_send (&s_h, ENG_CMD, id, 0, NULL, &c, sizeof c, NULL, 0, -1);
    const pdu_t *req = p_recv (s_p);
    assert_int_equal (req->opcode, PDU_OP_SCSI_CMD);
    uint32_t itt = req->itt, cmdsn = req->u.scsi_cmd.cmdsn;
    req = p_recv (s_p); /* nothing answered: the deadline fires */
    assert_true (h_now_us () - t0 >= 140000);
    assert_int_equal (req->opcode, PDU_OP_TMF_REQ);
    assert_true (req->immediate);
    assert_int_equal (req->u.tmf_req.function, PDU_TMF_ABORT_TASK);
    assert_int_equal (req->u.tmf_req.referenced_task_tag, itt);
    assert_int_equal (req->u.tmf_req.ref_cmdsn, cmdsn);
    assert_int_equal (req->lun >> 48, 5);
    pdu_t r;
    pdu_init (&r, PDU_OP_TMF_RSP);
    r.itt = req->itt;
    r.u.tmf_rsp.response = PDU_TMF_RSP_COMPLETE;
    r.u.tmf_rsp.statsn = s_p->statsn++;
    r.u.tmf_rsp.exp_cmdsn = s_p->exp_cmdsn + 1;
    r.u.tmf_rsp.max_cmdsn = s_p->exp_cmdsn + 10;
    s_p->exp_cmdsn++;
    p_send (s_p, &r, NULL, 0);
    rt_msg_t msg;
    h_wait (&s_h, corr, &msg);
    h_result_t res;
    h_result (&msg, &res);
    assert_int_equal (res.status, RPC_E_TIMEOUT);
    assert_string_equal (h_err_name (res.error), "TIMEOUT");
    json_t *data = json_object_get (res.error, "data");
    assert_int_equal (json_integer_value (json_object_get (data, "timeout_ms")), 150);
    assert_true (json_is_true (json_object_get (data, "aborted")));
    h_result_free (&res);
    p_close (s_p, id);
}

/* ENG_CANCEL (the front end's client was killed): a sent command gets
 * ABORT TASK with its ITT, LUN and RefCmdSN; nothing is answered for it,
 * and the session has nothing in flight after the TMF response. */
static void
test_io_cancel (void **state)
{
    (void)state;
    uint32_t id = s_session++;
    uint64_t corr = p_open (s_p, id, NULL);
    json_decref (p_login (s_p, corr, ""));
    uint8_t tur[6] = {0};
    eng_cmd_t c;
    h_cmd (&c, 3, tur, 6, 0, 0, 10000);
    corr = h_send (&s_h, ENG_CMD, id, 0, NULL, &c, sizeof c, NULL, 0, -1);
    const pdu_t *req = p_recv (s_p);
    assert_int_equal (req->opcode, PDU_OP_SCSI_CMD);
    uint32_t itt = req->itt, cmdsn = req->u.scsi_cmd.cmdsn;
    uint64_t saved = s_h.corr;
    s_h.corr = corr - 1; /* ENG_CANCEL names the command's corr */
    h_send (&s_h, ENG_CANCEL, id, 0, NULL, NULL, 0, NULL, 0, -1);
    s_h.corr = saved;
    req = p_recv (s_p);
    assert_int_equal (req->opcode, PDU_OP_TMF_REQ);
    assert_int_equal (req->u.tmf_req.function, PDU_TMF_ABORT_TASK);
    assert_int_equal (req->u.tmf_req.referenced_task_tag, itt);
    assert_int_equal (req->u.tmf_req.ref_cmdsn, cmdsn);
    assert_int_equal (req->lun >> 48, 3);
    pdu_t r;
    pdu_init (&r, PDU_OP_TMF_RSP);
    r.itt = req->itt;
    r.u.tmf_rsp.response = PDU_TMF_RSP_COMPLETE;
    r.u.tmf_rsp.statsn = s_p->statsn++;
    r.u.tmf_rsp.exp_cmdsn = s_p->exp_cmdsn + 1;
    r.u.tmf_rsp.max_cmdsn = s_p->exp_cmdsn + 10;
    s_p->exp_cmdsn++;
    p_send (s_p, &r, NULL, 0);
    /* No reply for the cancelled command. */
    rt_msg_t msg;
    assert_int_equal (h_recv (&s_h, &msg, 300), -1);
    int32_t status = 0;
    json_t *v = h_call (&s_h, ENG_GET, id, 0, NULL, NULL, 0, &status);
    assert_int_equal (status, 0);
    assert_int_equal (json_integer_value (json_object_get (v, "in_flight")), 0);
    json_decref (v);
    p_close (s_p, id);
}

/* Sends ENG_TMF (function, LUN 2), answers it with `response`; returns the
 * reply body (result or error object, caller frees) and its status. */
static json_t *
s_tmf_round (uint32_t id, uint8_t function, uint8_t response, int32_t *status)
{
    eng_tmf_t t;
    memset (&t, 0, sizeof t);
    t.function = function;
    t.lun[1] = 2;
    uint64_t corr = h_send (&s_h, ENG_TMF, id, 0, NULL, &t, sizeof t, NULL, 0, -1);
    const pdu_t *req = p_recv (s_p);
    assert_int_equal (req->opcode, PDU_OP_TMF_REQ);
    assert_int_equal (req->u.tmf_req.function, function);
    pdu_t r;
    pdu_init (&r, PDU_OP_TMF_RSP);
    r.itt = req->itt;
    r.u.tmf_rsp.response = response;
    r.u.tmf_rsp.statsn = s_p->statsn++;
    r.u.tmf_rsp.exp_cmdsn = s_p->exp_cmdsn;
    r.u.tmf_rsp.max_cmdsn = s_p->exp_cmdsn + 10;
    p_send (s_p, &r, NULL, 0);
    rt_msg_t msg;
    h_wait (&s_h, corr, &msg);
    *status = msg.env.status;
    json_t *v = bus_json_body (&msg);
    rt_msg_close (&msg);
    assert_non_null (v);
    return v;
}

/* M7: each TMF response of LUN RESET maps to a distinct result: 0 is
 * success, 1 (task does not exist: meaningful only for ABORT TASK, M2), 2,
 * 3, 4, 5, 6 and 255 are TMF_FAILED with the code and its own name. */
static void
test_io_tmf_responses (void **state)
{
    (void)state;
    uint32_t id = s_session++;
    uint64_t corr = p_open (s_p, id, NULL);
    json_decref (p_login (s_p, corr, ""));
    static const uint8_t codes[] = {0, 1, 2, 3, 4, 5, 6, 255};
    char *names[8] = {NULL};
    for (size_t i = 0; i < sizeof codes; i++) {
        int32_t status;
        json_t *v = s_tmf_round (id, PDU_TMF_LOGICAL_UNIT_RESET, codes[i], &status);
        json_t *o = v;
        if (codes[i] == 0)
            assert_int_equal (status, 0);
        else {
            assert_int_equal (status, RPC_E_TMF_FAILED);
            assert_string_equal (h_err_name (v), "TMF_FAILED");
            o = json_object_get (v, "data");
        }
        assert_int_equal (json_integer_value (json_object_get (o, "response")), codes[i]);
        names[i] = strdup (json_string_value (json_object_get (o, "response_name")));
        assert_non_null (names[i]);
        for (size_t k = 0; k < i; k++)
            assert_string_not_equal (names[k], names[i]);
        json_decref (v);
    }
    for (size_t i = 0; i < sizeof codes; i++)
        free (names[i]);
    p_close (s_p, id);
}

/* B15: the target closes the connection with two commands in flight and
 * recovery is off (max_attempts 0, as every session of this file): both
 * end at once with SESSION_FAILED {reason "eof"} (a dead connection never
 * hangs a command), the session is "failed" and new commands are refused
 * the same way. */
static void
test_io_conn_dead (void **state)
{
    (void)state;
    uint32_t id = s_session++;
    uint64_t corr = p_open (s_p, id, NULL);
    json_decref (p_login (s_p, corr, ""));
    uint8_t tur[6] = {0};
    eng_cmd_t c;
    h_cmd (&c, 1, tur, 6, 0, 0, 60000);
    uint64_t c1 = h_send (&s_h, ENG_CMD, id, 0, NULL, &c, sizeof c, NULL, 0, -1);
    uint64_t c2 = h_send (&s_h, ENG_CMD, id, 0, NULL, &c, sizeof c, NULL, 0, -1);
    p_recv (s_p);
    p_recv (s_p);
    uint64_t t0 = h_now_us ();
    close (s_p->fd);
    uint64_t corrs[2] = {c1, c2};
    for (int i = 0; i < 2; i++) {
        rt_msg_t msg;
        h_wait (&s_h, corrs[i], &msg);
        h_result_t r;
        h_result (&msg, &r);
        assert_int_equal (r.status, RPC_E_SESSION_FAILED);
        assert_string_equal (json_string_value (json_object_get (
                                 json_object_get (r.error, "data"), "reason")),
                             "eof");
        h_result_free (&r);
    }
    assert_true (h_now_us () - t0 < 2000000); /* not at the 60 s deadline */
    int32_t status;
    json_t *info = h_call (&s_h, ENG_GET, id, 0, NULL, NULL, 0, &status);
    assert_string_equal (json_string_value (json_object_get (info, "state")), "failed");
    assert_int_equal (json_integer_value (json_object_get (info, "in_flight")), 0);
    assert_string_equal (h_err_name (json_object_get (info, "last_error")),
                         "SESSION_FAILED");
    json_decref (info);
    h_result_t r;
    h_exec (&s_h, id, &c, NULL, &r);
    assert_int_equal (r.status, RPC_E_SESSION_FAILED);
    h_result_free (&r);
    json_t *v = h_call (&s_h, ENG_CLOSE, id, 0, NULL, NULL, 0, &status);
    assert_int_equal (status, 0);
    json_decref (v);
    v = h_call (&s_h, ENG_GET, id, 0, NULL, NULL, 0, &status);
    assert_int_equal (status, RPC_E_SESSION_NOT_FOUND);
    json_decref (v);
}

/* A2, J1, J3: digests on both sides, the NOP-In ping echoed with its data
 * and TTT, ENG_NOP answered; a bad header digest kills the connection
 * (reason digest_error). */
static void
test_io_digests_nop (void **state)
{
    (void)state;
    uint32_t id = s_session++;
    json_t *extra = json_pack ("{s:{s:s, s:s}}", "negotiate", "HeaderDigest", "CRC32C",
                               "DataDigest", "CRC32C");
    uint64_t corr = p_open (s_p, id, extra);
    json_decref (extra);
    json_t *res = p_login (s_p, corr, "HeaderDigest=CRC32C|DataDigest=CRC32C");
    json_t *neg = json_object_get (res, "negotiated");
    assert_string_equal (json_string_value (json_object_get (neg, "HeaderDigest")),
                         "CRC32C");
    json_decref (res);
    s_p->dig = (pdu_digest_cfg_t){true, true, false};
    framer_set_digests (s_p->fr, &s_p->dig);
    /* the target pings with data */
    pdu_t ping;
    pdu_init (&ping, PDU_OP_NOP_IN);
    ping.itt = PDU_RESERVED_TAG;
    ping.u.nop_in.ttt = 0x55;
    ping.u.nop_in.statsn = s_p->statsn;
    ping.u.nop_in.exp_cmdsn = s_p->exp_cmdsn;
    ping.u.nop_in.max_cmdsn = s_p->exp_cmdsn + 10;
    ping.data_segment_length = 5;
    p_send (s_p, &ping, "hello", 5);
    const pdu_t *req = p_recv (s_p); /* the framer checked both digests */
    assert_int_equal (req->opcode, PDU_OP_NOP_OUT);
    assert_int_equal (req->u.nop_out.ttt, 0x55);
    assert_int_equal (req->itt, PDU_RESERVED_TAG);
    assert_int_equal (s_p->f.data_len, 5);
    assert_memory_equal (s_p->data, "hello", 5);
    /* our ping */
    corr = h_send (&s_h, ENG_NOP, id, 0, NULL, NULL, 0, NULL, 0, -1);
    req = p_recv (s_p);
    assert_int_equal (req->opcode, PDU_OP_NOP_OUT);
    assert_int_equal (req->u.nop_out.ttt, PDU_RESERVED_TAG);
    pdu_t pong;
    pdu_init (&pong, PDU_OP_NOP_IN);
    pong.itt = req->itt;
    pong.u.nop_in.ttt = PDU_RESERVED_TAG;
    pong.u.nop_in.statsn = s_p->statsn++;
    pong.u.nop_in.exp_cmdsn = s_p->exp_cmdsn;
    pong.u.nop_in.max_cmdsn = s_p->exp_cmdsn + 10;
    p_send (s_p, &pong, NULL, 0);
    rt_msg_t msg;
    h_wait (&s_h, corr, &msg);
    assert_int_equal (msg.env.status, 0);
    json_t *v = bus_json_body (&msg);
    assert_true (json_integer_value (json_object_get (v, "rtt_us")) > 0);
    json_decref (v);
    rt_msg_close (&msg);
    /* a corrupted header digest */
    uint8_t buf[PDU_HEADER_MAX];
    size_t n;
    ping.u.nop_in.ttt = 0x56;
    ping.data_segment_length = 0;
    assert_int_equal (pdu_encode (&ping, NULL, NULL, 0, &s_p->dig, buf, sizeof buf, &n),
                      0);
    buf[n - 1] ^= 0x01;
    assert_int_equal (write (s_p->fd, buf, n), (ssize_t)n);
    /* the io actor drops the connection: EOF on our side */
    struct pollfd pfd = {s_p->fd, POLLIN, 0};
    assert_int_equal (poll (&pfd, 1, P_WAIT_MS), 1);
    assert_int_equal (read (s_p->fd, buf, sizeof buf), 0);
    int32_t status;
    v = h_call (&s_h, ENG_GET, id, 0, NULL, NULL, 0, &status);
    assert_string_equal (json_string_value (json_object_get (v, "state")), "failed");
    json_t *data = json_object_get (json_object_get (v, "last_error"), "data");
    assert_string_equal (json_string_value (json_object_get (data, "reason")),
                         "digest_error");
    json_decref (v);
    close (s_p->fd);
    v = h_call (&s_h, ENG_CLOSE, id, 1, NULL, NULL, 0, &status);
    json_decref (v);
}

/* B15: the login deadline (300 ms here) ends with the login: a command
 * answered 600 ms later still completes and the session stays up. */
static void
test_io_login_deadline_gone (void **state)
{
    (void)state;
    uint32_t id = s_session++;
    json_t *extra = json_pack ("{s:i}", "timeout_ms", 300);
    uint64_t corr = p_open (s_p, id, extra);
    json_decref (extra);
    json_decref (p_login (s_p, corr, ""));
    uint8_t tur[6] = {0};
    eng_cmd_t c;
    h_cmd (&c, 0, tur, 6, 0, 0, 5000);
    corr = h_send (&s_h, ENG_CMD, id, 0, NULL, &c, sizeof c, NULL, 0, -1);
    const pdu_t *req = p_recv (s_p);
    uint32_t itt = req->itt;
    struct pollfd pfd = {s_p->fd, POLLIN, 0};
    assert_int_equal (poll (&pfd, 1, 600), 0); /* nothing: no logout, no close */
    p_scsi_rsp (s_p, itt, 0, 32);
    rt_msg_t msg;
    h_wait (&s_h, corr, &msg);
    h_result_t r;
    h_result (&msg, &r);
    assert_int_equal (r.status, 0);
    assert_int_equal (r.done.status, 0);
    h_result_free (&r);
    int32_t status;
    json_t *v = h_call (&s_h, ENG_GET, id, 0, NULL, NULL, 0, &status);
    assert_string_equal (json_string_value (json_object_get (v, "state")),
                         "full_feature");
    json_decref (v);
    p_close (s_p, id);
}

/* B6: login refusals: 0x0201 is AUTH_FAILED side target, 0x0203
 * LOGIN_FAILED TARGET_NOT_FOUND; the session id is free again after. */
static void
test_io_login_refused (void **state)
{
    (void)state;
    struct {
        uint8_t cls, det;
        const char *name, *status_name;
    } cases[] = {{2, 1, "AUTH_FAILED", NULL},
                 {2, 3, "LOGIN_FAILED", "TARGET_NOT_FOUND"},
                 {3, 1, "LOGIN_FAILED", "SERVICE_UNAVAILABLE"}};
    for (size_t i = 0; i < 3; i++) {
        uint32_t id = s_session++;
        uint64_t corr = p_open (s_p, id, NULL);
        const pdu_t *req = p_recv (s_p);
        pdu_t r = p_login_rsp (s_p, req, 0, 0, 0);
        r.u.login_rsp.transit = false;
        r.u.login_rsp.status_class = cases[i].cls;
        r.u.login_rsp.status_detail = cases[i].det;
        p_send (s_p, &r, NULL, 0);
        rt_msg_t msg;
        h_wait (&s_h, corr, &msg);
        assert_true (msg.env.status < 0);
        json_t *e = bus_json_body (&msg);
        rt_msg_close (&msg);
        assert_string_equal (h_err_name (e), cases[i].name);
        json_t *data = json_object_get (e, "data");
        assert_int_equal (json_integer_value (json_object_get (data, "status_class")),
                          cases[i].cls);
        assert_int_equal (json_integer_value (json_object_get (data, "status_detail")),
                          cases[i].det);
        if (cases[i].status_name)
            assert_string_equal (
                json_string_value (json_object_get (data, "status_name")),
                cases[i].status_name);
        else
            assert_string_equal (json_string_value (json_object_get (data, "side")),
                                 "target");
        json_decref (e);
        close (s_p->fd);
        int32_t status;
        json_t *v = h_call (&s_h, ENG_GET, id, 0, NULL, NULL, 0, &status);
        assert_int_equal (status, RPC_E_SESSION_NOT_FOUND);
        json_decref (v);
    }
}

/* Bad messages get errors, never a crash: unknown session, bad body, a
 * data frame that disagrees with data_out_length, bad params. */
static void
test_io_bad_messages (void **state)
{
    (void)state;
    eng_cmd_t c;
    uint8_t tur[6] = {0};
    h_cmd (&c, 0, tur, 6, 0, 0, 1000);
    h_result_t r;
    h_exec (&s_h, 999, &c, NULL, &r);
    assert_int_equal (r.status, RPC_E_SESSION_NOT_FOUND);
    h_result_free (&r);
    uint64_t corr = h_send (&s_h, ENG_CMD, 999, 0, NULL, "x", 1, NULL, 0, -1);
    rt_msg_t msg;
    h_wait (&s_h, corr, &msg);
    assert_int_equal (msg.env.status, RPC_E_INVALID_REQUEST);
    rt_msg_close (&msg);
    int32_t status;
    json_t *p = json_pack ("{s:s}", "portal", "no portal here");
    json_t *v = h_call (&s_h, ENG_OPEN, 77, 0, p, NULL, 0, &status);
    assert_int_equal (status, RPC_E_INVALID_PARAMS);
    assert_string_equal (
        json_string_value (json_object_get (json_object_get (v, "data"), "param")),
        "params.portal");
    json_decref (v);
    json_decref (p);
    p = json_pack ("{s:s, s:s, s:{s:s, s:s, s:s}}", "portal", "127.0.0.1", "target",
                   "iqn.x:y", "auth", "method", "chap", "user", "u", "secret_file",
                   "/nonexistent/secret");
    v = h_call (&s_h, ENG_OPEN, 78, 0, p, NULL, 0, &status);
    assert_int_equal (status, RPC_E_INVALID_PARAMS);
    assert_string_equal (
        json_string_value (json_object_get (json_object_get (v, "data"), "param")),
        "params.auth.secret");
    char *text = json_dumps (v, 0);
    assert_null (strstr (text, "nonexistent")); /* no caller value in errors */
    free (text);
    json_decref (v);
    json_decref (p);
    /* a data frame longer than data_out_length on a live session */
    uint32_t id = s_session++;
    corr = p_open (s_p, id, NULL);
    json_decref (p_login (s_p, corr, ""));
    h_cmd (&c, 0, tur, 6, 0, 4, 1000);
    corr = h_send (&s_h, ENG_CMD, id, 0, NULL, &c, sizeof c, "abcdefgh", 8, -1);
    h_wait (&s_h, corr, &msg);
    assert_int_equal (msg.env.status, RPC_E_INVALID_PARAMS);
    rt_msg_close (&msg);
    p_close (s_p, id);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_io_login_read),
        cmocka_unit_test (test_io_write_r2t),
        cmocka_unit_test (test_io_deadline_abort),
        cmocka_unit_test (test_io_cancel),
        cmocka_unit_test (test_io_tmf_responses),
        cmocka_unit_test (test_io_conn_dead),
        cmocka_unit_test (test_io_digests_nop),
        cmocka_unit_test (test_io_login_refused),
        cmocka_unit_test (test_io_bad_messages),
        cmocka_unit_test (test_io_login_deadline_gone),
    };
    return cmocka_run_group_tests_name ("io", tests, s_setup, s_teardown);
}
