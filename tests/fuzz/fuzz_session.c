/* fuzz_session.c: the session engine (proto/session.c) driven by random
 * requests and random target PDUs (conformance A8 for the engine).
 *
 * Input: byte 0 picks one of four fixed negotiated configurations (ERL,
 * InitialR2T, ImmediateData, MaxOutstandingR2T); then a sequence of
 * operations, each an opcode byte and its arguments: submit a read or a
 * write, ping, TMF, cancel, logout, text, take output PDUs, feed a target
 * PDU (a 48-byte BHS decoded with pdu_bhs_decode, its ITT optionally
 * replaced by a live one and its window fields optionally made sensible,
 * plus a data segment), advance time, take events, fail everything.
 *
 * Every read and write buffer is a separate malloc of the exact size, so
 * ASan catches any engine access outside a task's buffer. Checked on
 * every output PDU: it encodes; its ITT is never 0xffffffff unless the
 * PDU type allows it, and belongs to a live task; its data is at most the
 * target MRDSL and lies inside the task's write buffer; a non-immediate
 * CmdSN is in [ExpCmdSN, MaxCmdSN] and increases by one. Checked on every
 * submit: the ITT is not 0xffffffff and not live. Completions name live
 * tasks only, once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/errors.h"
#include "proto/pdu.h"
#include "proto/serial.h"
#include "proto/session.h"

#define CHECK(x)                                                                         \
    do {                                                                                 \
        if (!(x))                                                                        \
            abort ();                                                                    \
    } while (0)

#define MAX_TASKS 8
#define MRDSL_T   512

typedef struct {
    bool used;
    uint32_t itt;
    uint8_t *rbuf;
    uint32_t rlen;
    uint8_t *wbuf;
    uint32_t wlen;
    size_t wcap;
    bool is_text;
} ftask_t;

typedef struct {
    const uint8_t *p;
    size_t n;
} cur_t;

static uint8_t
s_u8 (cur_t *c)
{
    if (!c->n)
        return 0;
    c->n--;
    return *c->p++;
}

static uint32_t
s_u32 (cur_t *c)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | s_u8 (c);
    return v;
}

static ftask_t s_tasks[MAX_TASKS + 4];
static uint32_t s_last_cmdsn;
static bool s_have_cmdsn;

static ftask_t *
s_find (uint32_t itt)
{
    for (size_t i = 0; i < sizeof s_tasks / sizeof s_tasks[0]; i++)
        if (s_tasks[i].used && s_tasks[i].itt == itt)
            return &s_tasks[i];
    return NULL;
}

static ftask_t *
s_free_entry (void)
{
    for (size_t i = 0; i < sizeof s_tasks / sizeof s_tasks[0]; i++)
        if (!s_tasks[i].used)
            return &s_tasks[i];
    return NULL;
}

static void
s_release (ftask_t *t)
{
    free (t->rbuf);
    free (t->wbuf);
    memset (t, 0, sizeof *t);
}

/* Records a new task after a successful submit (buffers move in). */
static void
s_record (ftask_t *e, uint32_t itt, uint8_t *rbuf, uint32_t rlen, uint8_t *wbuf,
          uint32_t wlen, size_t wcap)
{
    CHECK (itt != PDU_RESERVED_TAG);
    CHECK (s_find (itt) == NULL); /* no two live tasks share an ITT */
    e->used = true;
    e->itt = itt;
    e->rbuf = rbuf;
    e->rlen = rlen;
    e->wbuf = wbuf;
    e->wlen = wlen;
    e->wcap = wcap;
}

/* A live ITT chosen by k, or a random one. */
static uint32_t
s_pick_itt (uint8_t k, uint32_t random)
{
    size_t n = sizeof s_tasks / sizeof s_tasks[0];
    for (size_t i = 0; i < n; i++) {
        ftask_t *t = &s_tasks[(k + i) % n];
        if (t->used)
            return t->itt;
    }
    return random;
}

static void
s_check_out (session_t *s, const session_out_t *o)
{
    uint8_t hdr[PDU_HEADER_MAX];
    size_t hl;
    CHECK (pdu_header_build (&o->pdu, o->has_ahs ? &o->ahs : NULL, NULL, hdr, sizeof hdr,
                             &hl)
           == 0);
    CHECK (o->data_len == o->pdu.data_segment_length);
    CHECK (o->data_len <= MRDSL_T);
    CHECK (o->data_len == 0 || o->data != NULL);
    const pdu_t *p = &o->pdu;
    bool may_be_reserved = p->opcode == PDU_OP_NOP_OUT || p->opcode == PDU_OP_SNACK;
    if (!may_be_reserved)
        CHECK (p->itt != PDU_RESERVED_TAG);
    ftask_t *t = s_find (p->itt);
    if (p->opcode == PDU_OP_SCSI_CMD || p->opcode == PDU_OP_DATA_OUT
        || p->opcode == PDU_OP_TMF_REQ || p->opcode == PDU_OP_LOGOUT_REQ
        || p->opcode == PDU_OP_TEXT_REQ)
        CHECK (t != NULL);
    if ((p->opcode == PDU_OP_SCSI_CMD || p->opcode == PDU_OP_DATA_OUT) && o->data_len) {
        /* Slices lie inside the task's write buffer and within EDTL. */
        CHECK (t->wbuf != NULL);
        CHECK (o->data >= t->wbuf);
        CHECK ((size_t)(o->data - t->wbuf) + o->data_len <= t->wlen);
        if (p->opcode == PDU_OP_DATA_OUT)
            CHECK (p->u.data_out.buffer_offset == (uint32_t)(o->data - t->wbuf));
    }
    uint32_t cmdsn = 0;
    bool numbered = false;
    switch (p->opcode) {
    case PDU_OP_SCSI_CMD:
        cmdsn = p->u.scsi_cmd.cmdsn;
        numbered = !p->immediate;
        break;
    case PDU_OP_LOGOUT_REQ:
        cmdsn = p->u.logout_req.cmdsn;
        numbered = !p->immediate;
        break;
    case PDU_OP_TEXT_REQ:
        cmdsn = p->u.text_req.cmdsn;
        numbered = !p->immediate;
        break;
    default:
        break;
    }
    if (numbered) {
        CHECK (sn_in_range (cmdsn, session_exp_cmdsn (s), session_max_cmdsn (s)));
        if (s_have_cmdsn)
            CHECK (cmdsn == s_last_cmdsn + 1);
        s_last_cmdsn = cmdsn;
        s_have_cmdsn = true;
    }
    session_out_done (s, o);
}

static void
s_drain_events (session_t *s)
{
    session_event_t ev;
    for (int i = 0; i < 10000 && session_event_next (s, &ev); i++) {
        CHECK (ev.detail != NULL);
        if (ev.kind != SESSION_EV_COMPLETE)
            continue;
        ftask_t *t = s_find (ev.itt);
        CHECK (t != NULL); /* completes a live task, once */
        CHECK (ev.bytes_in <= t->rlen || t->is_text);
        CHECK (ev.sense_len <= SESSION_SENSE_MAX);
        s_release (t);
    }
}

/* Target opcodes, most of the time, so the engine paths get exercised. */
static const uint8_t s_target_ops[] = {
    PDU_OP_NOP_IN,     PDU_OP_SCSI_RSP, PDU_OP_TMF_RSP,   PDU_OP_TEXT_RSP, PDU_OP_DATA_IN,
    PDU_OP_LOGOUT_RSP, PDU_OP_R2T,      PDU_OP_ASYNC,     PDU_OP_REJECT,   PDU_OP_DATA_IN,
    PDU_OP_R2T,        PDU_OP_DATA_IN,  PDU_OP_LOGIN_RSP, PDU_OP_NOP_OUT};

static uint8_t s_rx_data[MRDSL_T * 16];

static void
s_feed (session_t *s, cur_t *c, uint64_t now)
{
    uint8_t bhs[PDU_BHS_LEN] = {0};
    for (int i = 0; i < PDU_BHS_LEN; i++)
        bhs[i] = s_u8 (c);
    uint8_t mode = s_u8 (c);
    if (mode & 1)
        bhs[0] = (uint8_t)((bhs[0] & 0xc0) | s_target_ops[bhs[1] % sizeof s_target_ops]);
    pdu_t h;
    if (pdu_bhs_decode (bhs, &h) != 0)
        return;
    if (mode & 2)
        h.itt = s_pick_itt (mode >> 4, h.itt);
    if (mode & 4) {
        /* Sensible window fields around the current numbers. */
        uint32_t exp = session_exp_cmdsn (s) + (mode >> 5);
        uint32_t max = exp + (bhs[2] & 0x1f) - 1;
        switch (h.opcode) {
        case PDU_OP_NOP_IN:
            h.u.nop_in.exp_cmdsn = exp, h.u.nop_in.max_cmdsn = max;
            h.u.nop_in.statsn = session_exp_statsn (s);
            break;
        case PDU_OP_SCSI_RSP:
            h.u.scsi_rsp.exp_cmdsn = exp, h.u.scsi_rsp.max_cmdsn = max;
            h.u.scsi_rsp.statsn = session_exp_statsn (s);
            break;
        case PDU_OP_DATA_IN:
            h.u.data_in.exp_cmdsn = exp, h.u.data_in.max_cmdsn = max;
            h.u.data_in.statsn = session_exp_statsn (s);
            h.u.data_in.buffer_offset &= 0x3fff;
            h.u.data_in.datasn &= 3;
            break;
        case PDU_OP_R2T:
            h.u.r2t.exp_cmdsn = exp, h.u.r2t.max_cmdsn = max;
            h.u.r2t.buffer_offset &= 0x3fff;
            h.u.r2t.desired_data_transfer_length &= 0x3fff;
            h.u.r2t.r2tsn &= 3;
            break;
        default:
            break;
        }
    }
    if (mode & 8) {
        /* Make Data-In / R2T fit the task's expected numbers, so the deep
         * paths (placement, completion, R2T service) run often. */
        session_task_info_t ti[MAX_TASKS + 1];
        size_t n = session_tasks (s, ti, MAX_TASKS + 1);
        for (size_t i = 0; i < n && i <= MAX_TASKS; i++) {
            if (ti[i].itt != h.itt)
                continue;
            if (h.opcode == PDU_OP_DATA_IN) {
                h.u.data_in.datasn = ti[i].exp_datasn;
                h.u.data_in.buffer_offset = ti[i].bytes_in;
            }
            else if (h.opcode == PDU_OP_R2T) {
                ftask_t *t = s_find (h.itt);
                h.u.r2t.r2tsn = ti[i].exp_r2tsn;
                if (t && t->wlen) {
                    h.u.r2t.buffer_offset %= t->wlen;
                    uint32_t room = t->wlen - h.u.r2t.buffer_offset;
                    h.u.r2t.desired_data_transfer_length =
                        1 + h.u.r2t.desired_data_transfer_length % room;
                }
            }
        }
    }
    /* The data segment: up to 8 * MRDSL bytes (our MRDSL). */
    size_t len = (size_t)(bhs[5] & 0x0f) * 64 + (bhs[6] & 0x3f);
    if (len > sizeof s_rx_data)
        len = sizeof s_rx_data;
    for (size_t i = 0; i < len; i++)
        s_rx_data[i] = s_u8 (c);
    h.data_segment_length = (uint32_t)len;
    uint8_t *dst;
    size_t cap;
    session_rx_header (s, &h, &dst, &cap);
    const uint8_t *data = s_rx_data;
    if (dst) {
        /* Zero copy: the slice must be inside the task's read buffer. */
        CHECK (cap == len);
        ftask_t *t = s_find (h.itt);
        CHECK (t && t->rbuf);
        CHECK (dst >= t->rbuf && (size_t)(dst - t->rbuf) + cap <= t->rlen);
        memcpy (dst, s_rx_data, len); /* what the framer does */
        data = dst;
    }
    int rc = session_rx_pdu (s, &h, data, len, now);
    CHECK (rc == 0 || rc == UIS_ERR_PROTOCOL || rc == UIS_ERR_STATE);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    cur_t c = {data, size};
    uint8_t cfgb = s_u8 (&c);
    uis_neg_params_t p;
    memset (&p, 0, sizeof p);
    p.max_recv_dsl_initiator = MRDSL_T * 16;
    p.max_recv_dsl_target = MRDSL_T;
    p.max_burst = 4096;
    p.first_burst = (cfgb & 8) ? 512 : 1024;
    p.initial_r2t = (cfgb & 1) != 0;
    p.immediate_data = (cfgb & 2) != 0;
    p.max_outstanding_r2t = (cfgb & 4) ? 2 : 1;
    p.erl = (cfgb >> 4) & 1;
    p.data_pdu_in_order = !(cfgb & 0x20);
    p.data_sequence_in_order = true;
    session_cfg_t cfg;
    memset (&cfg, 0, sizeof cfg);
    cfg.cmdsn = s_u32 (&c);
    cfg.exp_cmdsn = cfg.cmdsn;
    cfg.max_cmdsn = cfg.cmdsn + (cfgb >> 6) * 4;
    cfg.statsn = s_u32 (&c);
    cfg.max_tasks = MAX_TASKS;
    cfg.queue_depth = (cfgb & 0x40) ? 3 : 0;
    cfg.nop_interval_ms = 100;
    cfg.nop_timeout_ms = 50;
    cfg.itt_seed = s_u32 (&c);
    session_t *s = session_new (&p, &cfg);
    CHECK (s);
    memset (s_tasks, 0, sizeof s_tasks);
    s_have_cmdsn = false;
    uint64_t now = 0;
    static const uint8_t cdb32[32] = {0x7f};
    for (int step = 0; step < 2000 && c.n; step++) {
        uint8_t op = s_u8 (&c);
        switch (op % 12) {
        case 0:
        case 1: { /* read or write (or bidi) */
            ftask_t *e = s_free_entry ();
            if (!e)
                break;
            uint8_t a = s_u8 (&c), b = s_u8 (&c);
            uint32_t rlen =
                (op % 12 == 0 || (a & 0x80)) ? (uint32_t)(b & 0x3f) * 64 + (a & 7) : 0;
            uint32_t wlen =
                op % 12 == 1 ? (uint32_t)(s_u8 (&c) & 0x3f) * 64 + (a & 0x18) : 0;
            size_t wcap = wlen + (a & 0x20 ? 3 : 0);
            if (a & 0x40 && wlen)
                wcap = wlen - 1; /* H15 */
            uint8_t *rb = rlen ? malloc (rlen) : NULL;
            uint8_t *wb = wcap ? malloc (wcap) : NULL;
            if (wb)
                memset (wb, 0xab, wcap);
            session_cmd_t cmd;
            memset (&cmd, 0, sizeof cmd);
            cmd.lun[1] = a & 3;
            cmd.cdb = cdb32;
            cmd.cdb_len = (b & 0x40) ? 32 : 10;
            cmd.attr = (session_attr_t)((b >> 6) & 3);
            cmd.read_buf = rb;
            cmd.read_len = rlen;
            cmd.write_buf = wb;
            cmd.write_buf_len = wcap;
            cmd.write_len = wlen;
            cmd.immediate = (a & 0x60) == 0x60;
            uint32_t itt;
            int rc = session_submit (s, &cmd, &itt);
            if (rc == 0)
                s_record (e, itt, rb, rlen, wb, wlen, wcap);
            else {
                CHECK (rc == UIS_ERR_AGAIN || rc == UIS_ERR_STATE
                       || rc == UIS_ERR_INVALID_ARG);
                free (rb);
                free (wb);
            }
            break;
        }
        case 2: { /* ping */
            ftask_t *e = s_free_entry ();
            if (!e)
                break;
            uint32_t len = s_u8 (&c) & 0x1f;
            uint8_t *wb = len ? malloc (len) : NULL;
            if (wb)
                memset (wb, 0x11, len);
            uint32_t itt;
            if (session_ping (s, wb, len, NULL, &itt) == 0)
                s_record (e, itt, NULL, 0, wb, len, len);
            else
                free (wb);
            break;
        }
        case 3: { /* TMF */
            ftask_t *e = s_free_entry ();
            if (!e)
                break;
            uint8_t f = s_u8 (&c), k = s_u8 (&c);
            uint8_t lun[8] = {0, (uint8_t)(k & 3)};
            uint32_t itt;
            if (session_tmf (s, (uint8_t)(f % 9), lun, s_pick_itt (k, 0x12345), NULL,
                             &itt)
                == 0)
                s_record (e, itt, NULL, 0, NULL, 0, 0);
            break;
        }
        case 4: { /* cancel, or an ExpStatSN confirmation */
            uint8_t k = s_u8 (&c);
            if (k & 0x80)
                (void)session_confirm_exp_statsn (s);
            else
                (void)session_cancel (s, s_pick_itt (k, 77));
            break;
        }
        case 5: { /* logout (rare) or text */
            ftask_t *e = s_free_entry ();
            if (!e)
                break;
            uint8_t k = s_u8 (&c);
            uint32_t itt;
            if (k > 0xf0) {
                if (session_logout (s, (uint8_t)(k & 1), 1, NULL, &itt) == 0)
                    s_record (e, itt, NULL, 0, NULL, 0, 0);
            }
            else {
                uint32_t cap = k & 0x7f;
                uint8_t *rb = cap ? malloc (cap) : NULL;
                static const char req[] = "SendTargets=All";
                if (session_text (s, req, sizeof req, rb, cap, NULL, &itt) == 0) {
                    s_record (e, itt, rb, cap, NULL, 0, 0);
                    e->is_text = true;
                }
                else
                    free (rb);
            }
            break;
        }
        case 6:
        case 7: { /* send */
            uint8_t n = s_u8 (&c);
            session_out_t o;
            for (int i = 0; i < (n & 0x3f) && session_out_next (s, &o); i++)
                s_check_out (s, &o);
            break;
        }
        case 8:
        case 9:
            s_feed (s, &c, now);
            break;
        case 10:
            now += s_u8 (&c);
            session_tick (s, now);
            CHECK (session_next_timer (s) >= now || session_dead (s));
            s_drain_events (s);
            break;
        default:
            if (s_u8 (&c) == 0xff) {
                session_fail_all (s, UIS_ERR_PROTOCOL);
                session_out_t o;
                CHECK (!session_out_next (s, &o));
            }
            s_drain_events (s);
            break;
        }
        session_task_info_t ti[MAX_TASKS + 1];
        size_t live = session_tasks (s, ti, MAX_TASKS + 1);
        CHECK (live <= MAX_TASKS);
        for (size_t i = 0; i < live; i++) {
            CHECK (ti[i].itt != PDU_RESERVED_TAG);
            for (size_t j = 0; j < i; j++)
                CHECK (ti[i].itt != ti[j].itt);
        }
    }
    /* Drain what is left. */
    session_out_t o;
    for (int i = 0; i < 10000 && session_out_next (s, &o); i++)
        s_check_out (s, &o);
    s_drain_events (s);
    session_destroy (&s);
    for (size_t i = 0; i < sizeof s_tasks / sizeof s_tasks[0]; i++)
        if (s_tasks[i].used)
            s_release (&s_tasks[i]);
    return 0;
}
