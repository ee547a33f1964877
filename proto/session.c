/* session.c: the sans-I/O session engine (see session.h).
 *
 * Layout: a preallocated task table (slots). A slot's ITT is
 * (generation << bits) | index, so a live ITT is never handed out twice
 * (R1) and a stale ITT from an ended task does not match the new task of
 * its slot (G8, G12). Tasks sit on at most two intrusive lists: the
 * command lane (non-immediate commands waiting for the window) and the
 * Data-Out lane (tasks with a burst to send). Immediate PDUs and
 * engine-made PDUs go through the priority ring. Completions and events go
 * to one ring sized so that completions always fit (a slot is freed only
 * when its completion has been taken).
 *
 * Per-task state machine (s_set_state checks the transitions against
 * s_tstate_ok):
 *
 *   FREE --submit--> QUEUED --handed out--> ACTIVE --response/error--> DONE
 *   QUEUED --cancel/abort/fail--> DONE      DONE --event taken--> FREE
 *
 * RFC 7143 sections are cited next to the rules. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "proto/errors.h"
#include "proto/serial.h"
#include "proto/session.h"

#define RSV PDU_RESERVED_TAG

typedef enum { T_FREE = 0, T_QUEUED, T_ACTIVE, T_DONE, T__COUNT } tstate_t;

static const char *s_tstate_names[T__COUNT] = {"free", "queued", "active", "done"};

/* Allowed task state transitions [from][to]. */
static const bool s_tstate_ok[T__COUNT][T__COUNT] = {
    [T_FREE] = {[T_QUEUED] = true},
    [T_QUEUED] = {[T_ACTIVE] = true, [T_DONE] = true},
    [T_ACTIVE] = {[T_DONE] = true},
    [T_DONE] = {[T_FREE] = true},
};

/* One Data-Out sequence to send: unsolicited (ttt RSV) or one R2T. */
typedef struct {
    uint32_t ttt;
    uint32_t offset; /* next byte to send */
    uint32_t end;    /* one past the last byte */
    uint32_t datasn; /* next DataSN (restarts at 0 per sequence, H8) */
} burst_t;

enum { L_CMD = 0, L_TX = 1, L__COUNT };

typedef struct {
    int32_t prev, next;
    bool on;
} link_t;

typedef struct {
    int32_t head, tail;
} list_t;

typedef struct task {
    uint32_t itt;
    uint32_t gen;
    tstate_t state;
    session_kind_t kind;
    void *cookie;
    uint64_t lun;
    uint32_t cmdsn;
    bool immediate;
    bool sent;
    link_t link[L__COUNT];
    /* SCSI */
    uint8_t cdb[PDU_CDB_MAX];
    uint16_t cdb_len;
    uint8_t attr;
    uint8_t *rbuf; /* read buffer (also the text response buffer) */
    uint32_t rlen;
    bool stream;         /* read_stream: the caller places the read data */
    const uint8_t *wbuf; /* write data (also ping / text request data) */
    uint32_t wlen;
    uint32_t imm_len;   /* immediate data bytes (H7) */
    uint32_t unsol_end; /* end of unsolicited data, >= imm_len (H3) */
    uint32_t exp_datasn;
    uint32_t exp_offset;
    uint32_t bytes_in;
    uint32_t bytes_out;
    uint32_t exp_r2tsn;
    burst_t *bursts; /* SESSION_R2T_MAX + 1 entries, FIFO */
    uint32_t nbursts;
    int32_t abort_by; /* slot of the TMF that is aborting it, or -1 */
    /* TMF */
    uint8_t function;
    uint32_t ref_itt;
    uint32_t ref_cmdsn;
    int hold; /* index in holds[], -1 none, -2 all LUNs */
    /* Logout */
    uint8_t reason;
    uint16_t cid;
    /* Text */
    uint32_t text_ttt;
} task_t;

/* An entry of the priority ring: a task's PDU (slot >= 0) or a prebuilt
 * PDU made by the engine. */
typedef struct {
    int32_t slot;
    uint32_t gen;
    pdu_t pdu;
    const uint8_t *data;
    size_t len;
    int echo;
    bool fixed_exp_statsn; /* Status SNACK: keep its ExpStatSN (F3) */
} ctrl_t;

typedef struct {
    bool used;
    uint64_t lun;
} hold_t;

struct session {
    /* negotiated */
    uint32_t mrdsl_target;
    uint32_t max_burst;
    uint32_t first_burst;
    bool initial_r2t;
    bool immediate_data;
    uint32_t max_out_r2t;
    uint32_t r2t_slots;
    uint32_t erl;
    bool data_pdu_in_order;
    bool data_seq_in_order;
    /* numbering */
    uint32_t cmdsn;
    uint32_t exp_cmdsn;
    uint32_t max_cmdsn;
    uint32_t exp_statsn;
    /* tasks */
    uint32_t nslots; /* max_tasks + 1 (keepalive) */
    uint32_t bits;
    uint32_t mask;
    uint32_t gen_mask;
    task_t *slots;
    burst_t *burst_mem;
    uint32_t *free_ring;
    uint32_t free_head, free_count, free_cap;
    uint32_t queue_depth;
    uint32_t scsi_inflight;
    uint32_t cmdq_other; /* Logout / Text tasks on the command lane */
    list_t lists[L__COUNT];
    /* priority ring */
    ctrl_t *ctrl;
    uint32_t ctrl_cap, ctrl_head, ctrl_count, ctrl_made;
    /* echo buffers */
    uint8_t *echo_mem;
    bool echo_busy[SESSION_ECHO_SLOTS];
    /* events */
    session_event_t *ev;
    uint32_t ev_cap, ev_head, ev_count, ev_other;
    /* holds (M3) */
    hold_t holds[SESSION_HOLD_MAX];
    uint32_t hold_all;
    /* keepalive */
    uint32_t nop_interval;
    uint32_t nop_timeout;
    uint64_t last_rx;
    uint64_t ka_sent;
    bool ka_outstanding;
    /* state */
    bool dead;
    bool logout_queued;
    session_stats_t stats;
};

/* --------------------------------------------------------------- helpers */

static uint32_t
s_be32 (const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
s_lun64 (const uint8_t lun[8])
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | lun[i];
    return v;
}

static uint32_t
s_min32 (uint32_t a, uint32_t b)
{
    return a < b ? a : b;
}

/* Moves task t to state to, checking the transition table. */
static void
s_set_state (task_t *t, tstate_t to)
{
    assert (s_tstate_ok[t->state][to]);
    (void)s_tstate_names;
    t->state = to;
}

/* Appends slot i to list l (no-op when already on it). */
static void
s_list_add (session_t *s, int l, int32_t i)
{
    task_t *t = &s->slots[i];
    if (t->link[l].on)
        return;
    if (l == L_CMD && t->kind != SESSION_TASK_SCSI)
        s->cmdq_other++;
    t->link[l].on = true;
    t->link[l].next = -1;
    t->link[l].prev = s->lists[l].tail;
    if (s->lists[l].tail >= 0)
        s->slots[s->lists[l].tail].link[l].next = i;
    else
        s->lists[l].head = i;
    s->lists[l].tail = i;
}

/* Removes slot i from list l (no-op when not on it). */
static void
s_list_del (session_t *s, int l, int32_t i)
{
    task_t *t = &s->slots[i];
    if (!t->link[l].on)
        return;
    if (l == L_CMD && t->kind != SESSION_TASK_SCSI)
        s->cmdq_other--;
    if (t->link[l].prev >= 0)
        s->slots[t->link[l].prev].link[l].next = t->link[l].next;
    else
        s->lists[l].head = t->link[l].next;
    if (t->link[l].next >= 0)
        s->slots[t->link[l].next].link[l].prev = t->link[l].prev;
    else
        s->lists[l].tail = t->link[l].prev;
    t->link[l].on = false;
}

static int32_t
s_slot_of (const session_t *s, const task_t *t)
{
    return (int32_t)(t - s->slots);
}

/* The live task (QUEUED or ACTIVE) with this ITT, or NULL. */
static task_t *
s_lookup (const session_t *s, uint32_t itt)
{
    if (itt == RSV)
        return NULL;
    uint32_t i = itt & s->mask;
    if (i >= s->nslots)
        return NULL;
    task_t *t = &s->slots[i];
    if (t->itt != itt || (t->state != T_QUEUED && t->state != T_ACTIVE))
        return NULL;
    return t;
}

/* Gives slot i a fresh ITT: the next generation, skipping 0xffffffff
 * (R1). */
static void
s_new_itt (session_t *s, uint32_t i)
{
    task_t *t = &s->slots[i];
    for (int k = 0; k < 2; k++) {
        t->gen = (t->gen + 1) & s->gen_mask;
        t->itt = (t->gen << s->bits) | i;
        if (t->itt != RSV)
            break;
    }
}

/* Resets FREE slot i as a QUEUED task of kind with a fresh ITT. */
static task_t *
s_task_reset (session_t *s, uint32_t i, session_kind_t kind, void *cookie)
{
    task_t *t = &s->slots[i];
    burst_t *b = t->bursts;
    uint32_t gen = t->gen;
    memset (t, 0, sizeof *t);
    t->bursts = b;
    t->gen = gen;
    t->state = T_FREE;
    for (int l = 0; l < L__COUNT; l++)
        t->link[l].prev = t->link[l].next = -1;
    t->abort_by = -1;
    t->hold = -1;
    t->kind = kind;
    t->cookie = cookie;
    t->text_ttt = RSV;
    s_new_itt (s, i);
    s_set_state (t, T_QUEUED);
    return t;
}

/* Takes a free slot (FIFO, so an ITT's slot is reused as late as
 * possible) and resets it as a QUEUED task of kind; NULL when the table is
 * full. */
static task_t *
s_alloc (session_t *s, session_kind_t kind, void *cookie)
{
    if (s->free_count == 0)
        return NULL;
    uint32_t i = s->free_ring[s->free_head];
    s->free_head = (s->free_head + 1) % s->free_cap;
    s->free_count--;
    return s_task_reset (s, i, kind, cookie);
}

/* Returns a DONE slot to the free ring. */
static void
s_free_slot (session_t *s, uint32_t i)
{
    task_t *t = &s->slots[i];
    s_set_state (t, T_FREE);
    if (i == s->nslots - 1)
        return; /* the keepalive slot is not in the ring */
    s->free_ring[(s->free_head + s->free_count) % s->free_cap] = i;
    s->free_count++;
}

/* Appends a non-completion event; NULL when the reserve is full. */
static session_event_t *
s_event (session_t *s, session_ev_kind_t kind)
{
    if (s->ev_other >= SESSION_EV_RESERVE || s->ev_count >= s->ev_cap) {
        s->stats.events_dropped++;
        return NULL;
    }
    session_event_t *ev = &s->ev[(s->ev_head + s->ev_count) % s->ev_cap];
    s->ev_count++;
    s->ev_other++;
    memset (ev, 0, offsetof (session_event_t, sense));
    ev->kind = kind;
    ev->itt = RSV;
    ev->opcode = 0xff;
    ev->detail = "";
    return ev;
}

/* Reports a protocol violation of the target. */
static void
s_violation (session_t *s, session_fatal_t fatal, int err, uint32_t itt, uint8_t opcode,
             const char *detail)
{
    session_event_t *ev = s_event (s, SESSION_EV_PROTOCOL);
    if (!ev)
        return;
    ev->err = err;
    ev->fatal = fatal;
    ev->itt = itt;
    ev->opcode = opcode;
    ev->detail = detail;
}

/* Releases what a task holds on the engine (lists, hold, in-flight count). */
static void
s_task_release (session_t *s, task_t *t)
{
    int32_t i = s_slot_of (s, t);
    s_list_del (s, L_CMD, i);
    s_list_del (s, L_TX, i);
    t->nbursts = 0;
    if (t->kind == SESSION_TASK_SCSI && t->sent && !t->immediate && s->scsi_inflight)
        s->scsi_inflight--;
    if (t->hold >= 0)
        s->holds[t->hold].used = false;
    else if (t->hold == -2 && s->hold_all)
        s->hold_all--;
    t->hold = -1;
    if (t->kind == SESSION_TASK_TMF) {
        /* A TMF that ends without its answer releases the tasks it paused. */
        for (uint32_t k = 0; k < s->nslots; k++) {
            task_t *o = &s->slots[k];
            if (o->abort_by != i || (o->state != T_ACTIVE && o->state != T_QUEUED))
                continue;
            o->abort_by = -1;
            if (o->nbursts)
                s_list_add (s, L_TX, (int32_t)k);
        }
    }
}

/* Ends task t with result and err: its completion event is queued (it
 * always fits) and returned for the caller to fill in more; the keepalive
 * ends silently (NULL). */
static session_event_t *
s_complete (session_t *s, task_t *t, session_result_t result, int err, const char *detail)
{
    int32_t i = s_slot_of (s, t);
    s_task_release (s, t);
    s_set_state (t, T_DONE);
    if (t->kind == SESSION_TASK_KEEPALIVE) {
        s->ka_outstanding = false;
        s_free_slot (s, (uint32_t)i);
        return NULL;
    }
    assert (s->ev_count < s->ev_cap);
    session_event_t *ev = &s->ev[(s->ev_head + s->ev_count) % s->ev_cap];
    s->ev_count++;
    memset (ev, 0, offsetof (session_event_t, sense));
    ev->kind = SESSION_EV_COMPLETE;
    ev->kind_of_task = t->kind;
    ev->itt = t->itt;
    ev->cookie = t->cookie;
    ev->result = result;
    ev->err = err;
    ev->detail = detail ? detail : "";
    ev->opcode = 0xff;
    ev->cmdsn = t->cmdsn;
    ev->bytes_in = t->bytes_in;
    ev->bytes_out = t->bytes_out;
    ev->lun = t->lun;
    ev->slot_ = (uint32_t)i;
    return ev;
}

/* Task-fatal protocol error: event plus completion (G7, G8, G9, H12...). */
static void
s_task_fail (session_t *s, task_t *t, uint8_t opcode, const char *detail)
{
    s_violation (s, SESSION_FATAL_TASK, UIS_ERR_PROTOCOL, t->itt, opcode, detail);
    s_complete (s, t, SESSION_R_PROTOCOL, UIS_ERR_PROTOCOL, detail);
}

/* Connection-fatal protocol error: the engine stops. */
static int
s_conn_fail (session_t *s, uint32_t itt, uint8_t opcode, const char *detail)
{
    s_violation (s, SESSION_FATAL_CONNECTION, UIS_ERR_PROTOCOL, itt, opcode, detail);
    s->dead = true;
    return UIS_ERR_PROTOCOL;
}

/* Adds a priority-lane entry at the tail (or the head when front); NULL
 * when the ring is full. Engine-made PDUs (slot < 0) are limited to
 * SESSION_CTRL_MAX. */
/* true when a priority-lane entry still has something to send. */
static bool
s_ctrl_live (const session_t *s, const ctrl_t *c)
{
    if (c->slot < 0)
        return true;
    const task_t *t = &s->slots[c->slot];
    return t->gen == c->gen && t->state == T_QUEUED;
}

/* Drops the entries of tasks that ended before being sent (cancelled,
 * failed), keeping the order. Afterwards the ring holds at most one entry
 * per queued task plus SESSION_CTRL_MAX engine-made ones, so it has room. */
static void
s_ctrl_compact (session_t *s)
{
    uint32_t n = 0;
    for (uint32_t k = 0; k < s->ctrl_count; k++) {
        ctrl_t *c = &s->ctrl[(s->ctrl_head + k) % s->ctrl_cap];
        if (!s_ctrl_live (s, c))
            continue;
        ctrl_t *to = &s->ctrl[(s->ctrl_head + n) % s->ctrl_cap];
        if (to != c)
            *to = *c;
        n++;
    }
    s->ctrl_count = n;
}

static ctrl_t *
s_ctrl_push_at (session_t *s, int32_t slot, bool front)
{
    if (s->ctrl_count >= s->ctrl_cap)
        s_ctrl_compact (s);
    if (s->ctrl_count >= s->ctrl_cap || (slot < 0 && s->ctrl_made >= SESSION_CTRL_MAX)) {
        s->stats.ctrl_dropped++;
        return NULL;
    }
    ctrl_t *c;
    if (front) {
        s->ctrl_head = (s->ctrl_head + s->ctrl_cap - 1) % s->ctrl_cap;
        c = &s->ctrl[s->ctrl_head];
    }
    else
        c = &s->ctrl[(s->ctrl_head + s->ctrl_count) % s->ctrl_cap];
    s->ctrl_count++;
    memset (c, 0, sizeof *c);
    c->slot = slot;
    c->echo = -1;
    if (slot >= 0)
        c->gen = s->slots[slot].gen;
    else
        s->ctrl_made++;
    return c;
}

static ctrl_t *
s_ctrl_push (session_t *s, int32_t slot)
{
    return s_ctrl_push_at (s, slot, false);
}

/* Queues a task's PDU on the priority lane (immediate PDUs). The ring holds
 * a place for every slot, so this cannot fail. */
static void
s_ctrl_task (session_t *s, task_t *t)
{
    ctrl_t *c = s_ctrl_push (s, s_slot_of (s, t));
    assert (c);
    (void)c;
}

/* Queues a SNACK (RFC 7143 §11.16) built by the engine: ITT 0xffffffff. */
static void
s_snack (session_t *s, uint8_t type, uint64_t lun, uint32_t ttt, uint32_t begrun,
         uint32_t runlength, bool fixed_exp, uint32_t exp_statsn)
{
    /* A Status SNACK jumps the queue: it must reach the target before any
     * PDU that acknowledges the missing StatSNs (F3). */
    ctrl_t *c = s_ctrl_push_at (s, -1, fixed_exp);
    if (!c)
        return;
    pdu_init (&c->pdu, PDU_OP_SNACK);
    c->pdu.itt = RSV;
    c->pdu.lun = lun;
    c->pdu.u.snack.type = type;
    c->pdu.u.snack.ttt = ttt;
    c->pdu.u.snack.begrun = begrun;
    c->pdu.u.snack.runlength = runlength;
    c->pdu.u.snack.exp_statsn = exp_statsn;
    c->fixed_exp_statsn = fixed_exp;
}

/* ------------------------------------------------------------- numbering */

/* Window update from a target PDU (RFC 7143 §4.2.2.1): ignored when
 * MaxCmdSN < ExpCmdSN - 1; ExpCmdSN and MaxCmdSN only move forward (E6).
 * An ExpCmdSN beyond the next CmdSN would acknowledge commands never sent:
 * ignored too. */
static void
s_window (session_t *s, uint32_t exp_cmdsn, uint32_t max_cmdsn)
{
    if (sn_lt (max_cmdsn, exp_cmdsn - 1) || sn_gt (exp_cmdsn, s->cmdsn)) {
        s->stats.window_ignored++;
        return;
    }
    if (sn_gt (exp_cmdsn, s->exp_cmdsn))
        s->exp_cmdsn = exp_cmdsn;
    if (sn_gt (max_cmdsn, s->max_cmdsn))
        s->max_cmdsn = max_cmdsn;
}

/* StatSN of a status-bearing PDU (§4.2.2.2): in order advances ExpStatSN
 * (F1); older or duplicate is ignored (F4); a gap is reported and, at ERL
 * >= 1, answered with a Status SNACK (F3, see session.h). */
static void
s_statsn (session_t *s, uint32_t statsn)
{
    if (statsn == s->exp_statsn) {
        s->exp_statsn++;
        return;
    }
    if (!sn_gt (statsn, s->exp_statsn)) {
        s->stats.statsn_old++;
        return;
    }
    uint32_t gap = statsn - s->exp_statsn;
    s->stats.statsn_gaps++;
    if (s->erl >= 1)
        s_snack (s, PDU_SNACK_STATUS, 0, RSV, s->exp_statsn, gap, true, s->exp_statsn);
    session_event_t *ev = s_event (s, SESSION_EV_STATSN_GAP);
    if (ev) {
        ev->begrun = s->exp_statsn;
        ev->runlength = gap;
        ev->recovery_needed = s->erl == 0;
        ev->err = UIS_ERR_SEQUENCE;
        ev->detail = "StatSN gap";
    }
    s->exp_statsn = statsn + 1;
}

static bool
s_window_open (const session_t *s)
{
    return sn_in_range (s->cmdsn, s->exp_cmdsn, s->max_cmdsn);
}

static bool
s_lun_held (const session_t *s, uint64_t lun)
{
    if (s->hold_all)
        return true;
    for (int i = 0; i < SESSION_HOLD_MAX; i++)
        if (s->holds[i].used && s->holds[i].lun == lun)
            return true;
    return false;
}

/* ------------------------------------------------------------- lifecycle */

/* Validates a negotiated byte count (§13: 512 .. 2^24 - 1). */
static bool
s_len_ok (uint32_t v)
{
    return v >= 512 && v <= PDU_DSL_MAX;
}

session_t *
session_new (const uis_neg_params_t *params, const session_cfg_t *cfg)
{
    if (!params || !cfg || cfg->max_tasks == 0 || cfg->max_tasks > SESSION_TASKS_MAX)
        return NULL;
    if (!s_len_ok (params->max_recv_dsl_target) || !s_len_ok (params->max_burst)
        || !s_len_ok (params->first_burst) || params->first_burst > params->max_burst
        || params->max_outstanding_r2t == 0)
        return NULL;
    session_t *s = calloc (1, sizeof *s);
    if (!s)
        return NULL;
    s->mrdsl_target = params->max_recv_dsl_target;
    s->max_burst = params->max_burst;
    s->first_burst = params->first_burst;
    s->initial_r2t = params->initial_r2t;
    s->immediate_data = params->immediate_data;
    s->max_out_r2t = params->max_outstanding_r2t;
    s->r2t_slots = s_min32 (params->max_outstanding_r2t, SESSION_R2T_MAX);
    s->erl = params->erl;
    s->data_pdu_in_order = params->data_pdu_in_order;
    s->data_seq_in_order = params->data_sequence_in_order;
    s->cmdsn = cfg->cmdsn;
    s->exp_cmdsn = cfg->exp_cmdsn;
    s->max_cmdsn = cfg->max_cmdsn;
    s->exp_statsn = cfg->statsn + 1;
    s->nslots = cfg->max_tasks + 1;
    s->bits = 1;
    while ((1u << s->bits) < s->nslots)
        s->bits++;
    s->mask = (1u << s->bits) - 1;
    s->gen_mask = 0xffffffffu >> s->bits;
    s->queue_depth = cfg->queue_depth ? cfg->queue_depth : cfg->max_tasks;
    s->nop_interval = cfg->nop_interval_ms;
    s->nop_timeout = cfg->nop_timeout_ms;
    s->last_rx = cfg->now;
    s->slots = calloc (s->nslots, sizeof *s->slots);
    s->burst_mem = calloc ((size_t)s->nslots * (s->r2t_slots + 1), sizeof (burst_t));
    s->free_cap = cfg->max_tasks;
    s->free_ring = calloc (s->free_cap, sizeof *s->free_ring);
    s->ctrl_cap = s->nslots + SESSION_CTRL_MAX;
    s->ctrl = calloc (s->ctrl_cap, sizeof *s->ctrl);
    s->ev_cap = s->nslots + SESSION_EV_RESERVE;
    s->ev = calloc (s->ev_cap, sizeof *s->ev);
    s->echo_mem = malloc ((size_t)SESSION_ECHO_SLOTS * SESSION_ECHO_MAX);
    if (!s->slots || !s->burst_mem || !s->free_ring || !s->ctrl || !s->ev
        || !s->echo_mem) {
        session_destroy (&s);
        return NULL;
    }
    for (uint32_t i = 0; i < s->nslots; i++) {
        task_t *t = &s->slots[i];
        t->bursts = &s->burst_mem[(size_t)i * (s->r2t_slots + 1)];
        t->gen = (cfg->itt_seed - 1) & s->gen_mask;
        t->itt = RSV;
        for (int l = 0; l < L__COUNT; l++)
            t->link[l].prev = t->link[l].next = -1;
    }
    for (uint32_t i = 0; i < s->free_cap; i++)
        s->free_ring[i] = i;
    s->free_count = s->free_cap;
    for (int l = 0; l < L__COUNT; l++)
        s->lists[l].head = s->lists[l].tail = -1;
    return s;
}

void
session_destroy (session_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    session_t *s = *self_p;
    free (s->slots);
    free (s->burst_mem);
    free (s->free_ring);
    free (s->ctrl);
    free (s->ev);
    free (s->echo_mem);
    free (s);
    *self_p = NULL;
}

/* -------------------------------------------------------------- requests */

/* Common refusal of new work. */
static int
s_can_queue (const session_t *s)
{
    if (s->dead || s->logout_queued)
        return UIS_ERR_STATE;
    return 0;
}

int
session_submit (session_t *s, const session_cmd_t *cmd, uint32_t *itt)
{
    assert (s && cmd && itt);
    int rc = s_can_queue (s);
    if (rc)
        return rc;
    if (!cmd->cdb || cmd->cdb_len == 0 || cmd->cdb_len > PDU_CDB_MAX)
        return UIS_ERR_SCSI_CDB;
    if ((cmd->read_len && !cmd->read_buf && !cmd->read_stream)
        || cmd->attr > SESSION_ATTR_ACA)
        return UIS_ERR_INVALID_ARG;
    /* H15: the data source must cover the whole transfer before anything
     * is sent. */
    if (cmd->write_len && (!cmd->write_buf || cmd->write_buf_len < cmd->write_len))
        return UIS_ERR_INVALID_ARG;
    task_t *t = s_alloc (s, SESSION_TASK_SCSI, cmd->cookie);
    if (!t)
        return UIS_ERR_AGAIN;
    t->lun = s_lun64 (cmd->lun);
    memcpy (t->cdb, cmd->cdb, cmd->cdb_len);
    t->cdb_len = (uint16_t)cmd->cdb_len;
    static const uint8_t attr_map[] = {PDU_ATTR_SIMPLE, PDU_ATTR_ORDERED,
                                       PDU_ATTR_HEAD_OF_QUEUE, PDU_ATTR_ACA};
    t->attr = attr_map[cmd->attr];
    t->rbuf = cmd->read_stream ? NULL : cmd->read_buf;
    t->rlen = cmd->read_len;
    t->stream = cmd->read_stream;
    t->wbuf = cmd->write_buf;
    t->wlen = cmd->write_len;
    t->immediate = cmd->immediate;
    if (t->wlen) {
        /* H7: immediate <= min (FirstBurstLength, target MRDSL, EDTL);
         * H3/H4: unsolicited in all <= min (FirstBurstLength, EDTL). */
        t->imm_len = s->immediate_data
                         ? s_min32 (s_min32 (s->first_burst, s->mrdsl_target), t->wlen)
                         : 0;
        t->unsol_end = s->initial_r2t ? t->imm_len : s_min32 (s->first_burst, t->wlen);
    }
    if (t->immediate)
        s_ctrl_task (s, t);
    else
        s_list_add (s, L_CMD, s_slot_of (s, t));
    *itt = t->itt;
    return 0;
}

int
session_cancel (session_t *s, uint32_t itt)
{
    assert (s);
    task_t *t = s_lookup (s, itt);
    if (!t || t->kind == SESSION_TASK_KEEPALIVE)
        return UIS_ERR_INVALID_ARG;
    if (t->state != T_QUEUED)
        return UIS_ERR_STATE;
    s_complete (s, t, SESSION_R_CANCELLED, 0, "cancelled before sending");
    return 0;
}

int
session_ping (session_t *s, const void *data, size_t len, void *cookie, uint32_t *itt)
{
    assert (s && itt);
    int rc = s_can_queue (s);
    if (rc)
        return rc;
    if ((len && !data) || len > s->mrdsl_target)
        return UIS_ERR_INVALID_ARG;
    task_t *t = s_alloc (s, SESSION_TASK_NOP, cookie);
    if (!t)
        return UIS_ERR_AGAIN;
    t->wbuf = data;
    t->wlen = (uint32_t)len;
    t->immediate = true;
    s_ctrl_task (s, t);
    *itt = t->itt;
    return 0;
}

int
session_confirm_exp_statsn (session_t *s)
{
    assert (s);
    if (s->dead)
        return UIS_ERR_STATE;
    ctrl_t *c = s_ctrl_push (s, -1);
    if (!c)
        return UIS_ERR_AGAIN;
    /* F5: ITT = TTT = 0xffffffff, I=1, F=1; CmdSN and ExpStatSN at send. */
    pdu_init (&c->pdu, PDU_OP_NOP_OUT);
    c->pdu.immediate = true;
    c->pdu.itt = RSV;
    c->pdu.u.nop_out.ttt = RSV;
    return 0;
}

int
session_tmf (session_t *s, uint8_t function, const uint8_t lun[8], uint32_t ref_itt,
             void *cookie, uint32_t *itt)
{
    assert (s && itt);
    if (s->dead)
        return UIS_ERR_STATE;
    if (function < PDU_TMF_ABORT_TASK || function > PDU_TMF_TARGET_COLD_RESET)
        return UIS_ERR_INVALID_ARG;
    task_t *ref = NULL;
    uint64_t l = 0;
    bool lun_scope = function == PDU_TMF_ABORT_TASK_SET
                     || function == PDU_TMF_CLEAR_TASK_SET
                     || function == PDU_TMF_LOGICAL_UNIT_RESET;
    bool all =
        function == PDU_TMF_TARGET_WARM_RESET || function == PDU_TMF_TARGET_COLD_RESET;
    if (function == PDU_TMF_ABORT_TASK) {
        ref = s_lookup (s, ref_itt);
        if (!ref || ref->kind != SESSION_TASK_SCSI)
            return UIS_ERR_INVALID_ARG;
        if (ref->state != T_ACTIVE)
            return UIS_ERR_STATE;
        l = ref->lun;
    }
    else if (!all) {
        if (!lun)
            return UIS_ERR_INVALID_ARG;
        l = s_lun64 (lun);
    }
    int hold = -1;
    if (lun_scope) {
        for (int i = 0; i < SESSION_HOLD_MAX && hold < 0; i++)
            if (!s->holds[i].used)
                hold = i;
        if (hold < 0)
            return UIS_ERR_AGAIN;
    }
    task_t *t = s_alloc (s, SESSION_TASK_TMF, cookie);
    if (!t)
        return UIS_ERR_AGAIN;
    int32_t me = s_slot_of (s, t);
    t->function = function;
    t->lun = l;
    t->immediate = true;
    t->ref_itt = RSV;
    if (ref) {
        t->ref_itt = ref->itt;
        t->ref_cmdsn = ref->cmdsn;
        ref->abort_by = me;
        s_list_del (s, L_TX, s_slot_of (s, ref)); /* H16: stop sending */
    }
    if (lun_scope) {
        s->holds[hold].used = true;
        s->holds[hold].lun = l;
        t->hold = hold;
    }
    else if (all) {
        s->hold_all++;
        t->hold = -2;
    }
    if (lun_scope || all) {
        /* M3: every sent task on the LUN stops and waits for the answer. */
        for (uint32_t i = 0; i < s->nslots; i++) {
            task_t *o = &s->slots[i];
            if (o->state == T_ACTIVE && o->kind == SESSION_TASK_SCSI
                && (all || o->lun == l) && o->abort_by < 0) {
                o->abort_by = me;
                s_list_del (s, L_TX, (int32_t)i);
            }
        }
    }
    s_ctrl_task (s, t);
    *itt = t->itt;
    return 0;
}

int
session_logout (session_t *s, uint8_t reason, uint16_t cid, void *cookie, uint32_t *itt)
{
    assert (s && itt);
    int rc = s_can_queue (s);
    if (rc)
        return rc;
    if (reason > PDU_LOGOUT_REMOVE_FOR_RECOVERY)
        return UIS_ERR_INVALID_ARG;
    task_t *t = s_alloc (s, SESSION_TASK_LOGOUT, cookie);
    if (!t)
        return UIS_ERR_AGAIN;
    t->reason = reason;
    t->cid = cid;
    s_list_add (s, L_CMD, s_slot_of (s, t));
    if (reason == PDU_LOGOUT_CLOSE_SESSION)
        s->logout_queued = true;
    *itt = t->itt;
    return 0;
}

int
session_text (session_t *s, const void *data, size_t len, void *rsp_buf, size_t rsp_cap,
              void *cookie, uint32_t *itt)
{
    assert (s && itt);
    int rc = s_can_queue (s);
    if (rc)
        return rc;
    if ((len && !data) || len > s->mrdsl_target || (rsp_cap && !rsp_buf)
        || rsp_cap > UINT32_MAX)
        return UIS_ERR_INVALID_ARG;
    task_t *t = s_alloc (s, SESSION_TASK_TEXT, cookie);
    if (!t)
        return UIS_ERR_AGAIN;
    t->wbuf = data;
    t->wlen = (uint32_t)len;
    t->rbuf = rsp_buf;
    t->rlen = (uint32_t)rsp_cap;
    s_list_add (s, L_CMD, s_slot_of (s, t));
    *itt = t->itt;
    return 0;
}

/* ---------------------------------------------------------------- output */

/* Adds a Data-Out sequence to task t (FIFO); false when no slot is left. */
static bool
s_burst_add (session_t *s, task_t *t, uint32_t ttt, uint32_t offset, uint32_t end)
{
    if (t->nbursts >= s->r2t_slots + 1)
        return false;
    burst_t *b = &t->bursts[t->nbursts++];
    b->ttt = ttt;
    b->offset = offset;
    b->end = end;
    b->datasn = 0;
    if (t->abort_by < 0)
        s_list_add (s, L_TX, s_slot_of (s, t));
    return true;
}

/* Builds the PDU of a task that is handed out now (command, ping, TMF,
 * logout, text) and moves it to ACTIVE. cmdsn is the CmdSN to carry. */
static void
s_build_task (session_t *s, task_t *t, session_out_t *out)
{
    pdu_t *p = &out->pdu;
    uint32_t cmdsn = s->cmdsn;
    switch (t->kind) {
    case SESSION_TASK_SCSI: {
        pdu_init (p, PDU_OP_SCSI_CMD);
        p->immediate = t->immediate;
        p->lun = t->lun;
        p->itt = t->itt;
        pdu_scsi_cmd_t *c = &p->u.scsi_cmd;
        c->read = t->rlen > 0;
        c->write = t->wlen > 0;
        c->attr = t->attr;
        c->expected_data_transfer_length = t->wlen ? t->wlen : t->rlen;
        c->cmdsn = cmdsn;
        c->exp_statsn = s->exp_statsn;
        memset (&out->ahs, 0, sizeof out->ahs);
        int rc = pdu_cdb_set (p, &out->ahs, t->cdb, t->cdb_len);
        assert (rc == 0);
        (void)rc;
        if (t->rlen && t->wlen) {
            out->ahs.has_bidi_read_len = true;
            out->ahs.bidi_read_len = t->rlen;
        }
        out->has_ahs = t->cdb_len > PDU_CDB_BHS_LEN || (t->rlen && t->wlen);
        out->data = t->wbuf;
        out->data_len = t->imm_len;
        /* H3/H4/H5: F=0 exactly when unsolicited Data-Out follows. */
        p->final = t->unsol_end <= t->imm_len;
        t->bytes_out = t->imm_len;
        break;
    }
    case SESSION_TASK_NOP:
    case SESSION_TASK_KEEPALIVE:
        pdu_init (p, PDU_OP_NOP_OUT);
        p->immediate = true;
        p->itt = t->itt;
        p->u.nop_out.ttt = RSV;
        p->u.nop_out.cmdsn = cmdsn;
        p->u.nop_out.exp_statsn = s->exp_statsn;
        out->data = t->wbuf;
        out->data_len = t->wlen;
        break;
    case SESSION_TASK_TMF:
        pdu_init (p, PDU_OP_TMF_REQ);
        p->immediate = true;
        p->itt = t->itt;
        p->lun = t->lun;
        p->u.tmf_req.function = t->function;
        p->u.tmf_req.referenced_task_tag = t->ref_itt;
        p->u.tmf_req.ref_cmdsn = t->ref_cmdsn;
        p->u.tmf_req.cmdsn = cmdsn;
        p->u.tmf_req.exp_statsn = s->exp_statsn;
        break;
    case SESSION_TASK_LOGOUT:
        pdu_init (p, PDU_OP_LOGOUT_REQ);
        p->itt = t->itt;
        p->u.logout_req.reason_code = t->reason;
        p->u.logout_req.cid = t->reason == PDU_LOGOUT_CLOSE_SESSION ? 0 : t->cid;
        p->u.logout_req.cmdsn = cmdsn;
        p->u.logout_req.exp_statsn = s->exp_statsn;
        break;
    case SESSION_TASK_TEXT:
        pdu_init (p, PDU_OP_TEXT_REQ);
        p->itt = t->itt;
        p->u.text_req.ttt = t->text_ttt;
        p->u.text_req.cmdsn = cmdsn;
        p->u.text_req.exp_statsn = s->exp_statsn;
        if (t->text_ttt == RSV) {
            out->data = t->wbuf;
            out->data_len = t->wlen;
        }
        break;
    }
    p->data_segment_length = (uint32_t)out->data_len;
    t->cmdsn = cmdsn;
    if (!t->immediate) {
        s->cmdsn++;
        if (t->kind == SESSION_TASK_SCSI)
            s->scsi_inflight++;
    }
    t->sent = true;
    if (t->state == T_QUEUED)
        s_set_state (t, T_ACTIVE);
    if (t->kind == SESSION_TASK_SCSI && t->unsol_end > t->imm_len)
        s_burst_add (s, t, RSV, t->imm_len, t->unsol_end);
}

/* Priority lane: the next live entry, or false. */
static bool
s_out_ctrl (session_t *s, session_out_t *out)
{
    while (s->ctrl_count) {
        ctrl_t *c = &s->ctrl[s->ctrl_head];
        s->ctrl_head = (s->ctrl_head + 1) % s->ctrl_cap;
        s->ctrl_count--;
        if (c->slot >= 0) {
            if (!s_ctrl_live (s, c))
                continue; /* cancelled or failed meanwhile */
            s_build_task (s, &s->slots[c->slot], out);
        }
        else {
            s->ctrl_made--;
            out->pdu = c->pdu;
            out->data = c->data;
            out->data_len = c->len;
            out->echo_slot = c->echo;
            out->pdu.data_segment_length = (uint32_t)c->len;
            if (c->pdu.opcode == PDU_OP_NOP_OUT) {
                out->pdu.u.nop_out.cmdsn = s->cmdsn; /* immediate: no advance */
                out->pdu.u.nop_out.exp_statsn = s->exp_statsn;
            }
            else if (c->pdu.opcode == PDU_OP_SNACK && !c->fixed_exp_statsn)
                out->pdu.u.snack.exp_statsn = s->exp_statsn;
        }
        out->priority = true;
        return true;
    }
    return false;
}

/* Command lane: the first queued command allowed now (window, E9 depth,
 * M3 holds), or false. */
static bool
s_out_cmd (session_t *s, session_out_t *out)
{
    if (!s_window_open (s))
        return false;
    bool depth_full = s->scsi_inflight >= s->queue_depth;
    if (depth_full && s->cmdq_other == 0)
        return false; /* only SCSI commands wait: no scan needed */
    bool skipped = false;
    for (int32_t i = s->lists[L_CMD].head; i >= 0; i = s->slots[i].link[L_CMD].next) {
        task_t *t = &s->slots[i];
        if (t->kind == SESSION_TASK_SCSI && (depth_full || s_lun_held (s, t->lun))) {
            skipped = true;
            continue;
        }
        if (t->kind == SESSION_TASK_LOGOUT && skipped)
            return false; /* a logout never passes a queued command (N2) */
        s_list_del (s, L_CMD, i);
        s_build_task (s, t, out);
        return true;
    }
    return false;
}

/* Data-Out lane: one PDU of the first task, which then goes to the tail
 * (round robin, H13). */
static bool
s_out_data (session_t *s, session_out_t *out)
{
    int32_t i = s->lists[L_TX].head;
    if (i < 0)
        return false;
    task_t *t = &s->slots[i];
    assert (t->nbursts > 0 && t->state == T_ACTIVE);
    burst_t *b = &t->bursts[0];
    uint32_t len = s_min32 (b->end - b->offset, s->mrdsl_target);
    pdu_t *p = &out->pdu;
    pdu_init (p, PDU_OP_DATA_OUT);
    p->final = b->offset + len == b->end;
    p->lun = b->ttt == RSV ? 0 : t->lun;
    p->itt = t->itt;
    p->data_segment_length = len;
    p->u.data_out.ttt = b->ttt;
    p->u.data_out.exp_statsn = s->exp_statsn;
    p->u.data_out.datasn = b->datasn++;
    p->u.data_out.buffer_offset = b->offset;
    /* H11: the bytes of the requested offset, whatever was sent before. */
    out->data = t->wbuf + b->offset;
    out->data_len = len;
    b->offset += len;
    t->bytes_out += len;
    s_list_del (s, L_TX, i);
    if (p->final) {
        memmove (&t->bursts[0], &t->bursts[1], (t->nbursts - 1) * sizeof (burst_t));
        t->nbursts--;
    }
    if (t->nbursts)
        s_list_add (s, L_TX, i);
    return true;
}

bool
session_out_next (session_t *s, session_out_t *out)
{
    assert (s && out);
    if (s->dead)
        return false;
    out->has_ahs = false;
    out->data = NULL;
    out->data_len = 0;
    out->priority = false;
    out->echo_slot = -1;
    if (s_out_ctrl (s, out) || s_out_cmd (s, out) || s_out_data (s, out)) {
        s->stats.pdus_out++;
        return true;
    }
    return false;
}

void
session_out_done (session_t *s, const session_out_t *out)
{
    assert (s && out);
    if (out->echo_slot >= 0 && out->echo_slot < SESSION_ECHO_SLOTS)
        s->echo_busy[out->echo_slot] = false;
}

/* --------------------------------------------------------------- receive */

typedef enum { DI_DISCARD, DI_PLACE, DI_TRUNCATE, DI_FAIL } di_verdict_t;

/* Pure check of a Data-In header (no state change): the task, the verdict,
 * how many bytes go to the read buffer at BufferOffset, and why it fails. */
static di_verdict_t
s_datain_check (const session_t *s, const pdu_t *h, task_t **tp, uint32_t *place,
                const char **why)
{
    const pdu_data_in_t *d = &h->u.data_in;
    task_t *t = s_lookup (s, h->itt);
    *tp = t;
    *place = 0;
    if (!t || t->kind != SESSION_TASK_SCSI || t->state != T_ACTIVE)
        return DI_DISCARD; /* G12 */
    if (d->status_present && !h->final) {
        *why = "Data-In with S=1 and F=0"; /* §11.7.3: S only with F */
        return DI_FAIL;
    }
    if (d->datasn != t->exp_datasn) {
        *why = "Data-In DataSN out of order"; /* G8 */
        return DI_FAIL;
    }
    if (s->data_pdu_in_order && s->data_seq_in_order
        && d->buffer_offset != t->exp_offset) {
        *why = "Data-In BufferOffset mismatch"; /* G9 */
        return DI_FAIL;
    }
    uint64_t end = (uint64_t)d->buffer_offset + h->data_segment_length;
    if (end > t->rlen) {
        if (d->status_present && d->overflow) { /* G6: keep up to EDTL */
            *place = d->buffer_offset < t->rlen ? t->rlen - d->buffer_offset : 0;
            return DI_TRUNCATE;
        }
        *why = "Data-In beyond the expected data transfer length"; /* G7 */
        return DI_FAIL;
    }
    *place = h->data_segment_length;
    return DI_PLACE;
}

void
session_rx_header (session_t *s, const pdu_t *hdr, uint8_t **buf, size_t *cap)
{
    assert (s && hdr && buf && cap);
    *buf = NULL;
    *cap = 0;
    if (s->dead || hdr->data_segment_length == 0)
        return;
    if (hdr->opcode == PDU_OP_DATA_IN) {
        task_t *t;
        uint32_t place;
        const char *why = NULL;
        if (s_datain_check (s, hdr, &t, &place, &why) == DI_PLACE && place && t->rbuf) {
            *buf = t->rbuf + hdr->u.data_in.buffer_offset;
            *cap = place;
        }
    }
    else if (hdr->opcode == PDU_OP_TEXT_RSP) {
        task_t *t = s_lookup (s, hdr->itt);
        if (t && t->kind == SESSION_TASK_TEXT && t->state == T_ACTIVE
            && !t->link[L_CMD].on
            && (uint64_t)t->bytes_in + hdr->data_segment_length <= t->rlen) {
            *buf = t->rbuf + t->bytes_in;
            *cap = hdr->data_segment_length;
        }
    }
}

bool
session_rx_stream (const session_t *s, const pdu_t *hdr, void **cookie, uint32_t *len)
{
    assert (s && hdr && cookie && len);
    *cookie = NULL;
    *len = 0;
    if (s->dead || hdr->opcode != PDU_OP_DATA_IN || hdr->data_segment_length == 0)
        return false;
    task_t *t;
    uint32_t place;
    const char *why = NULL;
    if (s_datain_check (s, hdr, &t, &place, &why) != DI_PLACE || !t->stream
        || place != hdr->data_segment_length)
        return false;
    *cookie = t->cookie;
    *len = place;
    return true;
}

void
session_rx_hold (session_t *s, uint64_t now)
{
    assert (s);
    if (now > s->last_rx)
        s->last_rx = now;
}

/* Copies the sense of a SCSI Response / Async segment (RFC 7143 §11.4.7:
 * 2-byte SenseLength, then sense) into ev; malformed -> absent (I4). */
static void
s_sense (session_event_t *ev, const uint8_t *data, size_t len)
{
    ev->sense_len = 0;
    if (len == 0)
        return;
    if (len < 2) {
        ev->sense_malformed = true;
        return;
    }
    size_t sl = (size_t)data[0] << 8 | data[1];
    if (sl > len - 2) {
        ev->sense_malformed = true;
        return;
    }
    size_t n = sl < SESSION_SENSE_MAX ? sl : SESSION_SENSE_MAX;
    memcpy (ev->sense, data + 2, n);
    ev->sense_len = (uint16_t)n;
    ev->sense_truncated = sl > n;
}

/* Result of a SCSI status (I2). */
static session_result_t
s_status_result (uint8_t status)
{
    switch (status) {
    case 0x00:
        return SESSION_R_GOOD;
    case 0x02:
        return SESSION_R_CHECK_CONDITION;
    case 0x04:
        return SESSION_R_CONDITION_MET;
    case 0x08:
        return SESSION_R_BUSY;
    case 0x18:
        return SESSION_R_RESERVATION_CONFLICT;
    case 0x28:
        return SESSION_R_TASK_SET_FULL;
    case 0x30:
        return SESSION_R_ACA_ACTIVE;
    case 0x40:
        return SESSION_R_TASK_ABORTED;
    default:
        return SESSION_R_STATUS_OTHER;
    }
}

/* Completes a SCSI task with its status (Data-In S=1 or SCSI Response). */
static session_event_t *
s_scsi_done (session_t *s, task_t *t, uint8_t response, uint8_t status)
{
    session_result_t r = response != 0 ? SESSION_R_TARGET_FAILURE /* I3 */
                                       : s_status_result (status);
    session_event_t *ev = s_complete (s, t, r, 0, "");
    ev->status_valid = true;
    ev->scsi_status = status;
    ev->iscsi_response = response;
    ev->data_suspect = ev->bytes_in > 0 && (response != 0 || status != 0); /* G15 */
    return ev;
}

static int
s_rx_data_in (session_t *s, const pdu_t *h, const uint8_t *data, size_t len)
{
    const pdu_data_in_t *d = &h->u.data_in;
    s_window (s, d->exp_cmdsn, d->max_cmdsn);
    if (d->status_present)
        s_statsn (s, d->statsn);
    task_t *t;
    uint32_t place;
    const char *why = "";
    pdu_t hh = *h;
    hh.data_segment_length = (uint32_t)len;
    switch (s_datain_check (s, &hh, &t, &place, &why)) {
    case DI_DISCARD:
        s->stats.dropped++;
        return 0;
    case DI_FAIL:
        s_task_fail (s, t, h->opcode, why);
        return 0;
    case DI_PLACE:
    case DI_TRUNCATE:
        break;
    }
    if (place && t->rbuf) { /* a read_stream task's data is the caller's */
        uint8_t *dst = t->rbuf + d->buffer_offset;
        if (dst != data)
            memmove (dst, data, place);
    }
    t->bytes_in += place;
    t->exp_datasn++;
    t->exp_offset = d->buffer_offset + (uint32_t)len;
    /* G11: DataACK at ERL >= 1 (RFC 7143 §11.16): ITT 0xffffffff, TTT and
     * LUN echoed, BegRun = DataSN + 1, RunLength 0. Ignored at ERL 0. */
    if (d->ack && s->erl >= 1)
        s_snack (s, PDU_SNACK_DATA_ACK, h->lun, d->ttt, d->datasn + 1, 0, false, 0);
    if (d->status_present) { /* G1, G3; F=1 without S does not end it (G10) */
        session_event_t *ev = s_scsi_done (s, t, 0, d->status);
        ev->overflow = d->overflow;
        ev->underflow = d->underflow;
        ev->residual = (d->overflow || d->underflow) ? d->residual_count : 0;
    }
    return 0;
}

static int
s_rx_scsi_rsp (session_t *s, const pdu_t *h, const uint8_t *data, size_t len)
{
    const pdu_scsi_rsp_t *r = &h->u.scsi_rsp;
    s_window (s, r->exp_cmdsn, r->max_cmdsn);
    s_statsn (s, r->statsn);
    task_t *t = s_lookup (s, h->itt);
    if (!t || t->kind != SESSION_TASK_SCSI || t->state != T_ACTIVE) {
        s->stats.dropped++; /* G16: a second status is ignored */
        return 0;
    }
    session_event_t *ev = s_scsi_done (s, t, r->response, r->status);
    ev->overflow = r->overflow;
    ev->underflow = r->underflow;
    ev->residual = (r->overflow || r->underflow) ? r->residual_count : 0; /* I6 */
    ev->bidi_overflow = r->bidi_overflow;
    ev->bidi_underflow = r->bidi_underflow;
    ev->bidi_residual =
        (r->bidi_overflow || r->bidi_underflow) ? r->bidi_read_residual_count : 0;
    s_sense (ev, data, len);
    return 0;
}

static int
s_rx_r2t (session_t *s, const pdu_t *h)
{
    const pdu_r2t_t *r = &h->u.r2t;
    s_window (s, r->exp_cmdsn, r->max_cmdsn); /* F2: StatSN is the next one */
    task_t *t = s_lookup (s, h->itt);
    if (!t || t->kind != SESSION_TASK_SCSI || t->state != T_ACTIVE) {
        s->stats.dropped++;
        return 0;
    }
    if (t->abort_by >= 0) {
        s->stats.dropped++; /* being aborted: no more data (H16) */
        return 0;
    }
    if (t->wlen == 0) {
        s_task_fail (s, t, h->opcode, "R2T for a command without write data");
        return 0;
    }
    if (r->ttt == RSV) {
        s_task_fail (s, t, h->opcode, "R2T with the reserved TTT");
        return 0;
    }
    if (r->desired_data_transfer_length == 0) {
        s_task_fail (s, t, h->opcode, "R2T with DesiredDataTransferLength 0");
        return 0;
    }
    if ((uint64_t)r->buffer_offset + r->desired_data_transfer_length > t->wlen) {
        s_task_fail (s, t, h->opcode, "R2T beyond the expected data transfer length");
        return 0; /* H12 */
    }
    /* H9: R2TSN order. */
    if (r->r2tsn == t->exp_r2tsn)
        t->exp_r2tsn++;
    else if (sn_gt (r->r2tsn, t->exp_r2tsn)) {
        if (s->erl == 0) {
            s_task_fail (s, t, h->opcode, "R2TSN gap");
            return 0;
        }
        s_violation (s, SESSION_FATAL_NONE, UIS_ERR_SEQUENCE, t->itt, h->opcode,
                     "R2TSN gap (R2T SNACK not implemented)");
        t->exp_r2tsn = r->r2tsn + 1;
    }
    /* else: an older R2TSN is a recovery R2T (H11): served */
    if (r->desired_data_transfer_length > s->max_burst)
        s->stats.r2t_over_burst++; /* H10: served in full (session.h) */
    uint32_t outstanding = 0;
    for (uint32_t i = 0; i < t->nbursts; i++)
        outstanding += t->bursts[i].ttt != RSV;
    if (outstanding >= s->max_out_r2t) {
        s_task_fail (s, t, h->opcode, "more R2Ts outstanding than MaxOutstandingR2T");
        return 0;
    }
    if (!s_burst_add (s, t, r->ttt, r->buffer_offset,
                      r->buffer_offset + r->desired_data_transfer_length)) {
        s_task_fail (s, t, h->opcode, "more R2Ts outstanding than the local limit");
        return 0;
    }
    return 0;
}

static int
s_rx_nop_in (session_t *s, const pdu_t *h, const uint8_t *data, size_t len)
{
    const pdu_nop_in_t *n = &h->u.nop_in;
    s_window (s, n->exp_cmdsn, n->max_cmdsn);
    if (h->itt == RSV) {
        /* Unsolicited: StatSN is the next one, not advanced (F2). */
        if (n->ttt == RSV)
            return 0; /* J4: informational, no reply */
        /* J3: ping from the target: reply with ITT 0xffffffff, same TTT,
         * LUN and data echoed, I=1, on the priority lane (J5). */
        int slot = -1;
        size_t n_echo = len;
        if (n_echo > SESSION_ECHO_MAX)
            n_echo = SESSION_ECHO_MAX;
        if (n_echo > s->mrdsl_target)
            n_echo = s->mrdsl_target;
        if (n_echo) {
            for (int i = 0; i < SESSION_ECHO_SLOTS && slot < 0; i++)
                if (!s->echo_busy[i])
                    slot = i;
            if (slot < 0) {
                s->stats.ctrl_dropped++;
                s_violation (s, SESSION_FATAL_NONE, UIS_ERR_AGAIN, RSV, h->opcode,
                             "NOP-In ping not answered: echo buffers busy");
                return 0;
            }
        }
        ctrl_t *c = s_ctrl_push (s, -1);
        if (!c) {
            s_violation (s, SESSION_FATAL_NONE, UIS_ERR_AGAIN, RSV, h->opcode,
                         "NOP-In ping not answered: priority lane full");
            return 0;
        }
        pdu_init (&c->pdu, PDU_OP_NOP_OUT);
        c->pdu.immediate = true;
        c->pdu.itt = RSV;
        c->pdu.lun = h->lun;
        c->pdu.u.nop_out.ttt = n->ttt;
        if (n_echo) {
            uint8_t *buf = s->echo_mem + (size_t)slot * SESSION_ECHO_MAX;
            memcpy (buf, data, n_echo);
            s->echo_busy[slot] = true;
            c->echo = slot;
            c->data = buf;
            c->len = n_echo;
        }
        return 0;
    }
    s_statsn (s, n->statsn); /* a reply to our ping is a status (J1) */
    task_t *t = s_lookup (s, h->itt);
    if (!t || (t->kind != SESSION_TASK_NOP && t->kind != SESSION_TASK_KEEPALIVE)
        || t->state != T_ACTIVE) {
        s->stats.dropped++;
        return 0;
    }
    s_complete (s, t, SESSION_R_PONG, 0, "");
    return 0;
}

/* Result of a TMF response code (M7). */
static session_result_t
s_tmf_result (uint8_t response)
{
    switch (response) {
    case PDU_TMF_RSP_COMPLETE:
        return SESSION_R_TMF_COMPLETE;
    case PDU_TMF_RSP_NO_TASK:
        return SESSION_R_TMF_NO_TASK;
    case PDU_TMF_RSP_NO_LUN:
        return SESSION_R_TMF_NO_LUN;
    case PDU_TMF_RSP_TASK_ALLEGIANT:
        return SESSION_R_TMF_TASK_ALLEGIANT;
    case PDU_TMF_RSP_NO_REASSIGN:
        return SESSION_R_TMF_NO_REASSIGN;
    case PDU_TMF_RSP_NOT_SUPPORTED:
        return SESSION_R_TMF_NOT_SUPPORTED;
    case PDU_TMF_RSP_AUTH_FAILED:
        return SESSION_R_TMF_AUTH_FAILED;
    case PDU_TMF_RSP_REJECTED:
        return SESSION_R_TMF_REJECTED;
    default:
        return SESSION_R_TMF_OTHER;
    }
}

static int
s_rx_tmf_rsp (session_t *s, const pdu_t *h)
{
    const pdu_tmf_rsp_t *r = &h->u.tmf_rsp;
    s_window (s, r->exp_cmdsn, r->max_cmdsn);
    s_statsn (s, r->statsn);
    task_t *t = s_lookup (s, h->itt);
    if (!t || t->kind != SESSION_TASK_TMF || t->state != T_ACTIVE) {
        s->stats.dropped++;
        return 0;
    }
    int32_t me = s_slot_of (s, t);
    /* M1/M3: the affected tasks end "aborted" when the function is done;
     * for ABORT TASK "task does not exist" means the target has no such
     * task any more (M2), so the local one ends too. */
    bool done =
        r->response == PDU_TMF_RSP_COMPLETE
        || (t->function == PDU_TMF_ABORT_TASK && r->response == PDU_TMF_RSP_NO_TASK);
    for (uint32_t i = 0; i < s->nslots; i++) {
        task_t *o = &s->slots[i];
        if ((o->state != T_ACTIVE && o->state != T_QUEUED) || o->abort_by != me)
            continue;
        o->abort_by = -1;
        if (done)
            s_complete (s, o, SESSION_R_ABORTED, 0, "aborted by task management");
        else if (o->nbursts)
            s_list_add (s, L_TX, (int32_t)i);
    }
    session_event_t *ev = s_complete (s, t, s_tmf_result (r->response), 0, "");
    ev->tmf_response = r->response;
    return 0;
}

/* Result of a logout response code (N1, N4). */
static session_result_t
s_logout_result (uint8_t response)
{
    switch (response) {
    case PDU_LOGOUT_RSP_OK:
        return SESSION_R_LOGOUT_OK;
    case PDU_LOGOUT_RSP_CID_NOT_FOUND:
        return SESSION_R_LOGOUT_CID_NOT_FOUND;
    case PDU_LOGOUT_RSP_RECOVERY_UNSUPPORTED:
        return SESSION_R_LOGOUT_RECOVERY_UNSUPPORTED;
    case PDU_LOGOUT_RSP_CLEANUP_FAILED:
        return SESSION_R_LOGOUT_CLEANUP_FAILED;
    default:
        return SESSION_R_LOGOUT_OTHER;
    }
}

static int
s_rx_logout_rsp (session_t *s, const pdu_t *h)
{
    const pdu_logout_rsp_t *r = &h->u.logout_rsp;
    s_window (s, r->exp_cmdsn, r->max_cmdsn);
    s_statsn (s, r->statsn);
    task_t *t = s_lookup (s, h->itt);
    if (!t || t->kind != SESSION_TASK_LOGOUT || t->state != T_ACTIVE) {
        s->stats.dropped++;
        return 0;
    }
    session_event_t *ev = s_complete (s, t, s_logout_result (r->response), 0, "");
    ev->logout_response = r->response;
    ev->time2wait = r->time2wait;
    ev->time2retain = r->time2retain;
    return 0;
}

static int
s_rx_text_rsp (session_t *s, const pdu_t *h, const uint8_t *data, size_t len)
{
    const pdu_text_rsp_t *r = &h->u.text_rsp;
    s_window (s, r->exp_cmdsn, r->max_cmdsn);
    s_statsn (s, r->statsn);
    task_t *t = s_lookup (s, h->itt);
    if (!t || t->kind != SESSION_TASK_TEXT || t->state != T_ACTIVE || t->link[L_CMD].on) {
        s->stats.dropped++;
        return 0;
    }
    if ((uint64_t)t->bytes_in + len > t->rlen) {
        s_task_fail (s, t, h->opcode, "text response larger than the buffer");
        return 0;
    }
    if (len) {
        uint8_t *dst = t->rbuf + t->bytes_in;
        if (dst != data)
            memmove (dst, data, len);
        t->bytes_in += (uint32_t)len;
    }
    if (h->final) {
        s_complete (s, t, SESSION_R_TEXT_DONE, 0, "");
        return 0;
    }
    if (r->ttt == RSV) {
        s_task_fail (s, t, h->opcode, "Text Response F=0 without a TTT");
        return 0;
    }
    t->text_ttt = r->ttt; /* continuation request: same ITT, TTT echoed */
    s_list_add (s, L_CMD, s_slot_of (s, t));
    return 0;
}

static int
s_rx_async (session_t *s, const pdu_t *h, const uint8_t *data, size_t len)
{
    const pdu_async_t *a = &h->u.async;
    s_window (s, a->exp_cmdsn, a->max_cmdsn);
    s_statsn (s, a->statsn);
    session_event_t *ev = s_event (s, SESSION_EV_ASYNC);
    if (!ev)
        return 0;
    ev->lun = h->lun;
    ev->opcode = h->opcode;
    ev->async_event = a->async_event;
    ev->async_vcode = a->async_vcode;
    ev->parameter1 = a->parameter1;
    ev->parameter2 = a->parameter2;
    ev->parameter3 = a->parameter3;
    ev->detail = "async message";
    if (a->async_event == PDU_ASYNC_SCSI_EVENT)
        s_sense (ev, data, len);
    return 0;
}

static int
s_rx_reject (session_t *s, const pdu_t *h, const uint8_t *data, size_t len)
{
    const pdu_reject_t *r = &h->u.reject;
    s_window (s, r->exp_cmdsn, r->max_cmdsn);
    s_statsn (s, r->statsn);
    uint8_t op = 0xff;
    uint32_t itt = RSV;
    if (len >= PDU_BHS_LEN) {
        op = data[0] & 0x3f;
        itt = s_be32 (data + 16);
    }
    session_event_t *ev = s_event (s, SESSION_EV_REJECT);
    if (ev) {
        ev->reject_reason = r->reason;
        ev->opcode = op;
        ev->itt = itt;
        ev->detail = len < PDU_BHS_LEN ? "reject without the rejected header"
                     : itt == RSV      ? "reject of a PDU without a task"
                                       : "reject of a task's PDU";
    }
    task_t *t = s_lookup (s, itt);
    if (!t || t->state != T_ACTIVE)
        return 0; /* L6 */
    if (op == PDU_OP_DATA_OUT && s->erl >= 1)
        return 0; /* L4: a recovery R2T follows */
    /* L1 */
    session_event_t *cev =
        s_complete (s, t, SESSION_R_REJECTED, 0, "rejected by the target");
    if (cev)
        cev->reject_reason = r->reason;
    return 0;
}

int
session_rx_pdu (session_t *s, const pdu_t *h, const uint8_t *data, size_t len,
                uint64_t now)
{
    assert (s && h && (data || len == 0));
    if (s->dead)
        return UIS_ERR_STATE;
    s->stats.pdus_in++;
    s->last_rx = now;
    /* RFC 7143 §11.6, §11.8, §11.15: these carry no data segment. */
    if (len
        && (h->opcode == PDU_OP_R2T || h->opcode == PDU_OP_TMF_RSP
            || h->opcode == PDU_OP_LOGOUT_RSP))
        return s_conn_fail (s, h->itt, h->opcode, "data segment on a PDU that has none");
    switch (h->opcode) {
    case PDU_OP_DATA_IN:
        return s_rx_data_in (s, h, data, len);
    case PDU_OP_SCSI_RSP:
        return s_rx_scsi_rsp (s, h, data, len);
    case PDU_OP_R2T:
        return s_rx_r2t (s, h);
    case PDU_OP_NOP_IN:
        return s_rx_nop_in (s, h, data, len);
    case PDU_OP_TMF_RSP:
        return s_rx_tmf_rsp (s, h);
    case PDU_OP_LOGOUT_RSP:
        return s_rx_logout_rsp (s, h);
    case PDU_OP_TEXT_RSP:
        return s_rx_text_rsp (s, h, data, len);
    case PDU_OP_ASYNC:
        return s_rx_async (s, h, data, len);
    case PDU_OP_REJECT:
        return s_rx_reject (s, h, data, len);
    case PDU_OP_LOGIN_RSP:
        return s_conn_fail (s, h->itt, h->opcode, "Login Response in full feature phase");
    default:
        return s_conn_fail (s, h->itt, h->opcode, "unexpected opcode from the target");
    }
}

/* ------------------------------------------------------------------ time */

void
session_tick (session_t *s, uint64_t now)
{
    assert (s);
    if (s->dead || s->nop_interval == 0)
        return;
    if (s->ka_outstanding) {
        /* J2: no answer and nothing else received within the timeout. */
        uint64_t since = s->ka_sent > s->last_rx ? s->ka_sent : s->last_rx;
        if (now >= since + s->nop_timeout) {
            s->dead = true;
            session_event_t *ev = s_event (s, SESSION_EV_CONNECTION_DEAD);
            if (ev) {
                ev->err = UIS_ERR_AGAIN;
                ev->fatal = SESSION_FATAL_CONNECTION;
                ev->detail = "keepalive timeout";
            }
        }
        return;
    }
    if (now < s->last_rx + s->nop_interval)
        return; /* J6: data flows, no ping */
    uint32_t i = s->nslots - 1;
    task_t *t = &s->slots[i];
    if (t->state != T_FREE)
        return;
    s_task_reset (s, i, SESSION_TASK_KEEPALIVE, NULL);
    t->immediate = true;
    s_ctrl_task (s, t);
    s->ka_outstanding = true;
    s->ka_sent = now;
    s->stats.keepalives++;
}

uint64_t
session_next_timer (const session_t *s)
{
    assert (s);
    if (s->dead || s->nop_interval == 0)
        return UINT64_MAX;
    if (s->ka_outstanding) {
        uint64_t since = s->ka_sent > s->last_rx ? s->ka_sent : s->last_rx;
        return since + s->nop_timeout;
    }
    return s->last_rx + s->nop_interval;
}

/* ---------------------------------------------------------------- events */

bool
session_event_next (session_t *s, session_event_t *ev)
{
    assert (s && ev);
    if (s->ev_count == 0)
        return false;
    session_event_t *e = &s->ev[s->ev_head];
    s->ev_head = (s->ev_head + 1) % s->ev_cap;
    s->ev_count--;
    size_t n = offsetof (session_event_t, sense) + e->sense_len;
    memcpy (ev, e, n);
    if (e->kind == SESSION_EV_COMPLETE)
        s_free_slot (s, e->slot_);
    else
        s->ev_other--;
    return true;
}

/* ------------------------------------------------------------- recovery */

size_t
session_tasks (const session_t *s, session_task_info_t *out, size_t cap)
{
    assert (s && (out || cap == 0));
    size_t n = 0;
    for (uint32_t i = 0; i + 1 < s->nslots; i++) {
        const task_t *t = &s->slots[i];
        if (t->state != T_QUEUED && t->state != T_ACTIVE)
            continue;
        if (n < cap) {
            session_task_info_t *o = &out[n];
            o->itt = t->itt;
            o->cookie = t->cookie;
            o->kind = t->kind;
            o->sent = t->sent;
            o->cmdsn = t->cmdsn;
            o->lun = t->lun;
            o->bytes_in = t->bytes_in;
            o->bytes_out = t->bytes_out;
            o->exp_datasn = t->exp_datasn;
            o->exp_r2tsn = t->exp_r2tsn;
        }
        n++;
    }
    return n;
}

size_t
session_fail_all (session_t *s, int err)
{
    assert (s);
    size_t n = 0;
    for (uint32_t i = 0; i < s->nslots; i++) {
        task_t *t = &s->slots[i];
        if (t->state != T_QUEUED && t->state != T_ACTIVE)
            continue;
        t->abort_by = -1;
        if (t->kind != SESSION_TASK_KEEPALIVE)
            n++;
        s_complete (s, t, SESSION_R_FAILED, err, "session failure");
    }
    s->ctrl_head = s->ctrl_count = s->ctrl_made = 0;
    for (int i = 0; i < SESSION_ECHO_SLOTS; i++)
        s->echo_busy[i] = false;
    memset (s->holds, 0, sizeof s->holds);
    s->hold_all = 0;
    s->scsi_inflight = 0;
    s->ka_outstanding = false;
    return n;
}

/* -------------------------------------------------------------- accessors */

uint32_t
session_cmdsn (const session_t *s)
{
    return s->cmdsn;
}

uint32_t
session_exp_cmdsn (const session_t *s)
{
    return s->exp_cmdsn;
}

uint32_t
session_max_cmdsn (const session_t *s)
{
    return s->max_cmdsn;
}

uint32_t
session_exp_statsn (const session_t *s)
{
    return s->exp_statsn;
}

bool
session_dead (const session_t *s)
{
    return s->dead;
}

void
session_stats (const session_t *s, session_stats_t *out)
{
    *out = s->stats;
}

const char *
session_result_name (session_result_t r)
{
    static const char *names[SESSION_R__COUNT] = {
        "good",
        "condition_met",
        "check_condition",
        "busy",
        "reservation_conflict",
        "task_set_full",
        "aca_active",
        "task_aborted",
        "status_other",
        "target_failure",
        "aborted",
        "cancelled",
        "protocol",
        "rejected",
        "failed",
        "pong",
        "text_done",
        "tmf_complete",
        "tmf_no_task",
        "tmf_no_lun",
        "tmf_task_allegiant",
        "tmf_no_reassign",
        "tmf_not_supported",
        "tmf_auth_failed",
        "tmf_rejected",
        "tmf_other",
        "logout_ok",
        "logout_cid_not_found",
        "logout_recovery_unsupported",
        "logout_cleanup_failed",
        "logout_other",
    };
    if ((unsigned)r >= SESSION_R__COUNT || !names[r])
        return "unknown";
    return names[r];
}

const char *
session_event_name (session_ev_kind_t k)
{
    static const char *names[SESSION_EV__COUNT] = {
        "complete", "protocol", "statsn_gap", "async", "reject", "connection_dead"};
    if ((unsigned)k >= SESSION_EV__COUNT)
        return "unknown";
    return names[k];
}
