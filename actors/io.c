/* io.c: the io actor: sessions, their connections, logins and engines,
 * driven by actors/engine.h messages on a ROUTER. See io.h. */
#include "actors/io.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "actors/bus.h"
#include "actors/conn.h"
#include "actors/login_flow.h"
#include "actors/engine.h"
#include "actors/log.h"
#include "actors/metrics.h"
#include "actors/rt/rt_ctx.h"
#include "proto/errors.h"
#include "proto/lun.h"
#include "proto/recovery.h"
#include "proto/sendtargets.h"
#include "proto/session.h"
#include "proto/textx.h"
#include "rpc/errors.h"
#include "rpc/scsi.h"

#define S_BUCKETS         1024
#define S_PEERS_MAX       64
#define S_DRAIN_MAX       256        /* router messages per round */
#define S_RX_BUDGET       (4u << 20) /* bytes read per session per round */
#define S_PUMP_ROUNDS     16         /* batches written per session per round */
#define S_LOGIN_DSL       65536      /* framer limit during login */
#define S_LOGIN_ITT       0x4c000001u
#define S_DISC_TEXT_ITT   0x4c000002u
#define S_DISC_LOGOUT_ITT 0x4c000003u
#define S_CMD_TIMEOUT_MS  30000

typedef enum {
    ST_NEW = 0,
    ST_CONNECTING,
    ST_LOGGING_IN,
    ST_FULL_FEATURE,
    ST_LOGGING_OUT,
    ST_FAILED,
    ST_CLOSED,
    ST_RECONNECTING, /* ERL 0 recovery between two login attempts */
} s_state_t;

static const char *s_state_names[] = {"new",          "connecting",  "logging_in",
                                      "full_feature", "logging_out", "failed",
                                      "closed",       "reconnecting"};

typedef enum {
    K_CMD = 0,
    K_OPEN,
    K_RECONNECT,
    K_DISCOVER,
    K_CLOSE,
    K_LOGOUT,
    K_TMF,
    K_NOP,
    K_ABORT,
} s_kind_t;

typedef struct io io_t;
typedef struct s_sess s_sess_t;
typedef struct s_req s_req_t;

/* A request in progress: a command, a control call, or an internal ABORT
 * TASK. Engine tasks carry it as their cookie. */
struct s_req {
    s_kind_t kind;
    s_sess_t *sess;
    int peer; /* index in io->peers, -1: nobody waits */
    uint64_t corr;
    bool replied;
    s_req_t *prev, *next; /* the session's live list */
    size_t heap_idx;      /* SIZE_MAX: no deadline */
    uint64_t deadline;
    uint64_t start_us;
    uint32_t timeout_ms;
    /* commands */
    uint32_t itt;
    zmq_msg_t din, dout;
    bool has_din, has_dout;
    uint8_t lun[8];
    uint8_t opcode;
    uint8_t cdb[ENG_CDB_MAX]; /* kept for a retry after a recovery (O1) */
    uint8_t cdb_len;
    session_attr_t attr;
    uint32_t din_len, dout_len;
    bool want_stream; /* ENG_CMD_F_STREAM */
    bool held;        /* parked in the recovery machine (not in the engine) */
    uint32_t flags;
    char tag[ENG_TAG_MAX + 1];
    bool timed_out, abort_sent;
    bool forced;
    bool draining; /* K_CLOSE / K_LOGOUT: waiting for in-flight commands (N2) */
    /* raw.stream (ENG_CMD_F_STREAM): see io.h */
    bool stream;
    bool stream_dead; /* aborted, cancelled or timed out: its Data-In is dropped */
    uint32_t window;  /* window_bytes */
    uint64_t unacked; /* sent to the front end and not acknowledged */
    uint64_t offset;  /* bytes sent so far: the offset of the next chunk */
    uint8_t *chunk;   /* the chunk being filled (malloc'd), or NULL */
    uint32_t chunk_cap, chunk_fill;
    s_req_t *sprev, *snext; /* the session's stream list */
    s_req_t *free_next;
};

struct s_sess {
    io_t *io;
    uint32_t id;
    char name[96];
    s_sess_t *hnext;
    s_sess_t *onext; /* discovery sessions (not in the hash) */
    s_state_t state;
    bool discovery;
    bool doomed;  /* free at the end of the current handler */
    bool closing; /* s_close_finish under way: failures are CANCELLED */
    login_flow_t *flow;
    conn_t *conn;
    int fd_reg; /* fd registered on the reactor, or -1 */
    short fd_events;
    int adopt_fd; /* an fd given with ENG_OPEN, used once */
    login_t *login;
    session_t *eng;
    textx_t *textx;
    uint32_t cmdsn, exp_statsn;
    uis_neg_params_t params;
    uint16_t tsih;
    s_req_t *ctl;  /* pending control request */
    s_req_t *live; /* engine tasks */
    uint32_t in_flight;
    const char *fail_reason;
    const char *dead_pending;
    const char *dead_detail;
    json_t *last_error;
    json_t *logout_info; /* N4: the Logout Response's fields for the ctl reply */
    /* ERL 0 recovery (issue 5): the machine exists from the first login on
     * when rec_on; recovering: its public state is "reconnecting" */
    recovery_t *rec;
    recovery_cfg_t rcfg;
    bool rec_on;
    bool writes_retriable;
    bool recovering;
    struct {
        uint64_t commands, bytes_in, bytes_out, pdus_in, pdus_out, errors, reconnects;
    } ctr;
    session_out_t outs[CONN_TX_BATCH];
    size_t nouts;
    zmq_msg_t *deferred;
    size_t ndeferred, capdeferred;
    /* raw.stream */
    s_req_t *streams;   /* live streaming commands */
    s_req_t *rx_stream; /* the stream whose chunk the framer is filling */
    uint32_t rx_len;    /* bytes of that PDU going into the chunk */
    uint8_t *rx_orphan; /* a freed stream's chunk the framer still fills */
    bool rx_held;       /* reading stopped: a stream window is full */
};

typedef struct {
    uint8_t id[BUS_ROUTING_ID_MAX];
    size_t len;
} s_peer_t;

struct io {
    rt_body_t *body;
    rt_reactor_t *reactor;
    void *router;
    metrics_client_t *metrics;
    unsigned index;
    s_sess_t *buckets[S_BUCKETS];
    s_sess_t *others;
    size_t nsess;
    s_req_t **heap;
    size_t nheap, capheap;
    s_req_t *free_reqs;
    s_peer_t peers[S_PEERS_MAX];
    size_t npeers;
    int tick_timer, metrics_timer;
};

/* ------------------------------------------------------------ utilities */

static uint64_t
s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t
s_now_ms (void)
{
    return s_now_us () / 1000u;
}

/* Writes the endpoint of io actor k. */
int
io_endpoint (unsigned index, char *buf, size_t size)
{
    int n = snprintf (buf, size, IO_ENDPOINT_FMT, index);
    return n > 0 && (size_t)n < size ? 0 : UIS_ERR_BUFFER_TOO_SMALL;
}

static void s_sess_free (s_sess_t *sess);
static void s_conn_dead (s_sess_t *sess, const char *reason);
static void s_pump (s_sess_t *sess);
static void s_drain_events (s_sess_t *sess);
static void s_close_finish (s_sess_t *sess, const char *reason);
static void s_logout_send (s_sess_t *sess);
static json_t *s_counters_json (s_sess_t *sess);
static void s_stream_drop_chunk (s_req_t *req);
static void s_stream_flush (s_req_t *req);
static void s_rx_resume (s_sess_t *sess);
static void s_rec_run (s_sess_t *sess);
static uint32_t s_rnd (void);

/* ----------------------------------------------------------- the heap */

static void
s_heap_swap (io_t *io, size_t a, size_t b)
{
    s_req_t *t = io->heap[a];
    io->heap[a] = io->heap[b];
    io->heap[b] = t;
    io->heap[a]->heap_idx = a;
    io->heap[b]->heap_idx = b;
}

static void
s_heap_up (io_t *io, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (io->heap[p]->deadline <= io->heap[i]->deadline)
            break;
        s_heap_swap (io, i, p);
        i = p;
    }
}

static void
s_heap_down (io_t *io, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < io->nheap && io->heap[l]->deadline < io->heap[m]->deadline)
            m = l;
        if (r < io->nheap && io->heap[r]->deadline < io->heap[m]->deadline)
            m = r;
        if (m == i)
            return;
        s_heap_swap (io, i, m);
        i = m;
    }
}

/* Removes req from the deadline heap (no-op when not in it). */
static void
s_heap_remove (io_t *io, s_req_t *req)
{
    size_t i = req->heap_idx;
    if (i == SIZE_MAX)
        return;
    req->heap_idx = SIZE_MAX;
    io->nheap--;
    if (i == io->nheap)
        return;
    io->heap[i] = io->heap[io->nheap];
    io->heap[i]->heap_idx = i;
    s_heap_up (io, i);
    s_heap_down (io, io->heap[i]->heap_idx);
}

/* (Re)arms req's deadline at deadline (ms). Returns 0 or UIS_ERR_NOMEM. */
static int
s_heap_set (io_t *io, s_req_t *req, uint64_t deadline)
{
    s_heap_remove (io, req);
    if (io->nheap == io->capheap) {
        size_t cap = io->capheap ? 2 * io->capheap : 256;
        s_req_t **h = realloc (io->heap, cap * sizeof *h);
        if (!h)
            return UIS_ERR_NOMEM;
        io->heap = h;
        io->capheap = cap;
    }
    req->deadline = deadline;
    req->heap_idx = io->nheap;
    io->heap[io->nheap++] = req;
    s_heap_up (io, req->heap_idx);
    return 0;
}

/* -------------------------------------------------------- requests */

/* Takes a request record from the free list (or mallocs one). */
static s_req_t *
s_req_new (s_sess_t *sess, s_kind_t kind, int peer, uint64_t corr)
{
    io_t *io = sess->io;
    s_req_t *req = io->free_reqs;
    if (req)
        io->free_reqs = req->free_next;
    else if (!(req = malloc (sizeof *req)))
        return NULL;
    memset (req, 0, sizeof *req);
    req->kind = kind;
    req->sess = sess;
    req->peer = peer;
    req->corr = corr;
    req->heap_idx = SIZE_MAX;
    req->start_us = s_now_us ();
    return req;
}

/* Links an engine task's request into the session's live list. */
static void
s_req_link (s_sess_t *sess, s_req_t *req)
{
    req->prev = NULL;
    req->next = sess->live;
    if (sess->live)
        sess->live->prev = req;
    sess->live = req;
}

/* Unlinks, drops the deadline, frees the data frames (Data-Out frames that
 * a batch still being written may point into are deferred), recycles. */
static void
s_req_free (s_req_t *req)
{
    if (!req)
        return;
    s_sess_t *sess = req->sess;
    io_t *io = sess->io;
    s_heap_remove (io, req);
    if (req->prev)
        req->prev->next = req->next;
    else if (sess->live == req)
        sess->live = req->next;
    if (req->next)
        req->next->prev = req->prev;
    if (req->stream) {
        if (req->sprev)
            req->sprev->snext = req->snext;
        else if (sess->streams == req)
            sess->streams = req->snext;
        if (req->snext)
            req->snext->sprev = req->sprev;
        s_stream_drop_chunk (req);
        req->stream = false;
        s_rx_resume (sess);
    }
    if (req->has_din)
        zmq_msg_close (&req->din);
    if (req->has_dout) {
        bool defer = sess->conn && conn_tx_pending (sess->conn);
        if (defer && sess->ndeferred == sess->capdeferred) {
            size_t cap = sess->capdeferred ? 2 * sess->capdeferred : 16;
            zmq_msg_t *d = realloc (sess->deferred, cap * sizeof *d);
            if (d) {
                sess->deferred = d;
                sess->capdeferred = cap;
            }
        }
        if (defer && sess->ndeferred < sess->capdeferred)
            memcpy (&sess->deferred[sess->ndeferred++], &req->dout, sizeof req->dout);
        else
            zmq_msg_close (&req->dout); /* unreachable in practice: no memory */
    }
    req->free_next = io->free_reqs;
    io->free_reqs = req;
}

/* Releases Data-Out frames kept until a batch was written. */
static void
s_release_deferred (s_sess_t *sess)
{
    for (size_t i = 0; i < sess->ndeferred; i++)
        zmq_msg_close (&sess->deferred[i]);
    sess->ndeferred = 0;
}

/* ------------------------------------------------------------ peers */

/* The index of the peer with this routing id (added when new), or -1. */
static int
s_peer_index (io_t *io, const zmq_msg_t *id)
{
    size_t len = zmq_msg_size ((zmq_msg_t *)id);
    const void *data = zmq_msg_data ((zmq_msg_t *)id);
    for (size_t i = 0; i < io->npeers; i++)
        if (io->peers[i].len == len && memcmp (io->peers[i].id, data, len) == 0)
            return (int)i;
    if (io->npeers == S_PEERS_MAX || len > BUS_ROUTING_ID_MAX)
        return -1;
    memcpy (io->peers[io->npeers].id, data, len);
    io->peers[io->npeers].len = len;
    return (int)io->npeers++;
}

/* Sends msg to a peer (frames move or are freed). */
static void
s_send (io_t *io, int peer, rt_msg_t *msg)
{
    if (peer < 0 || (size_t)peer >= io->npeers) {
        rt_msg_close (msg);
        return;
    }
    int rc = bus_router_send (io->router, io->peers[peer].id, io->peers[peer].len, msg);
    if (rc)
        uis_warn ("io", "reply lost (%s)", uis_err_name (rc));
    rt_msg_close (msg);
}

/* Sends type with status and a JSON body (value stolen, may be NULL). */
static void
s_send_json (io_t *io, int peer, uint16_t type, uint32_t session, uint64_t corr,
             int32_t status, json_t *value)
{
    rt_msg_t msg;
    rt_msg_init (&msg, type);
    msg.env.session = session;
    msg.env.corr = corr;
    msg.env.status = status;
    if (value)
        bus_set_json_body (&msg, value);
    json_decref (value);
    s_send (io, peer, &msg);
}

/* Replies an ENG_REPLY result (value stolen). */
static void
s_reply_ok (s_req_t *req, json_t *value)
{
    if (!req->replied)
        s_send_json (req->sess->io, req->peer, ENG_REPLY, req->sess->id, req->corr, 0,
                     value ? value : json_object ());
    else
        json_decref (value);
    req->replied = true;
}

/* Replies an error object (stolen) as ENG_REPLY or ENG_CMD_DONE. */
static void
s_reply_err (s_req_t *req, json_t *error)
{
    if (req->replied) {
        json_decref (error);
        return;
    }
    int code = error ? rpc_error_code (error) : RPC_E_INTERNAL_ERROR;
    s_send_json (req->sess->io, req->peer, req->kind == K_CMD ? ENG_CMD_DONE : ENG_REPLY,
                 req->sess->id, req->corr, code < 0 ? code : RPC_E_INTERNAL_ERROR, error);
    req->replied = true;
}

/* ------------------------------------------------------------- events */

/* Publishes an event (fields stolen) when a metrics client exists. */
static void
s_publish (io_t *io, const char *topic, json_t *fields)
{
    if (io->metrics && fields)
        metrics_client_publish (io->metrics, topic, fields);
    json_decref (fields);
}

static bool
s_interested (io_t *io, const char *topic)
{
    return io->metrics && metrics_client_interested (io->metrics, topic);
}

/* Moves the session to state to, publishing session.state. */
static void
s_set_state (s_sess_t *sess, s_state_t to, const char *reason)
{
    if (sess->state == to)
        return;
    s_state_t from = sess->state;
    sess->state = to;
    uis_log (UIS_LOG_DEBUG, "io", sess->name, "%s -> %s (%s)", s_state_names[from],
             s_state_names[to], reason);
    if (sess->recovering)
        return; /* the recovery machine's STATE actions are the public ones (R6) */
    s_publish (sess->io, "session.state",
               json_pack ("{s:s, s:s, s:s, s:s}", "session", sess->name, "from",
                          s_state_names[from], "to", s_state_names[to], "reason",
                          reason));
}

/* Publishes a pdu event for a BHS. */
static void
s_pdu_event (s_sess_t *sess, const char *direction, const uint8_t bhs[PDU_BHS_LEN],
             size_t data_bytes)
{
    char hex[2 * PDU_BHS_LEN + 1];
    for (size_t i = 0; i < PDU_BHS_LEN; i++)
        snprintf (hex + 2 * i, 3, "%02x", bhs[i]);
    s_publish (sess->io, "pdu",
               json_pack ("{s:s, s:s, s:i, s:s, s:s, s:I}", "session", sess->name,
                          "direction", direction, "opcode", bhs[0] & 0x3f, "opcode_name",
                          pdu_opcode_name (bhs[0] & 0x3f), "bhs", hex, "data_bytes",
                          (json_int_t)data_bytes));
}

/* The flat LUN number of an encoded LUN for events (raw value when it is
 * not a simple form). */
static json_int_t
s_lun_int (const uint8_t lun[8])
{
    uint64_t n;
    if (lun_to_int (lun, &n) == 0 && n <= INT64_MAX)
        return (json_int_t)n;
    return (json_int_t)(lun_to_u64 (lun) & INT64_MAX);
}

/* ------------------------------------------------------- the fd */

static int s_on_fd (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg);

/* Registers, updates or removes the session's fd on the reactor: events 0
 * (or a closed conn) removes it. */
static void
s_fd_events (s_sess_t *sess, short events)
{
    io_t *io = sess->io;
    int fd = sess->conn ? conn_fd (sess->conn) : -1;
    if (sess->fd_reg >= 0 && (fd != sess->fd_reg || events == 0 || fd < 0)) {
        rt_reactor_remove_fd (io->reactor, sess->fd_reg);
        sess->fd_reg = -1;
    }
    if (fd < 0 || events == 0)
        return;
    if (sess->fd_reg < 0) {
        if (rt_reactor_add_fd (io->reactor, fd, events, s_on_fd, sess) == 0)
            sess->fd_reg = fd;
    }
    else if (sess->fd_events != events)
        rt_reactor_set_fd_events (io->reactor, fd, events);
    sess->fd_events = events;
}

/* Closes the connection and takes its fd off the reactor. Data-Out frames
 * kept for the dropped batch are released. */
static void
s_conn_close (s_sess_t *sess)
{
    s_fd_events (sess, 0);
    conn_close (sess->conn); /* resets the framer: no chunk is borrowed now */
    sess->nouts = 0;
    s_release_deferred (sess);
    sess->rx_stream = NULL;
    free (sess->rx_orphan);
    sess->rx_orphan = NULL;
    sess->rx_held = false;
}

/* The poll events the session's fd needs: POLLIN unless reading is held
 * for a stream window, POLLOUT while a batch waits. */
static short
s_fd_want (s_sess_t *sess)
{
    return (short)((sess->rx_held ? 0 : ZMQ_POLLIN)
                   | (sess->conn && conn_tx_pending (sess->conn) ? ZMQ_POLLOUT : 0));
}

/* ------------------------------------------------------- sessions */

static s_sess_t **
s_bucket (io_t *io, uint32_t id)
{
    return &io->buckets[(id * 2654435761u) % S_BUCKETS];
}

/* Finds a normal session by numeric id. */
static s_sess_t *
s_sess_find (io_t *io, uint32_t id)
{
    for (s_sess_t *s = *s_bucket (io, id); s; s = s->hnext)
        if (s->id == id)
            return s;
    return NULL;
}

/* Creates a session record (not yet connected). */
static s_sess_t *
s_sess_new (io_t *io, uint32_t id, const char *name, bool discovery)
{
    s_sess_t *sess = calloc (1, sizeof *sess);
    if (!sess)
        return NULL;
    sess->io = io;
    sess->id = id;
    sess->discovery = discovery;
    sess->fd_reg = -1;
    sess->adopt_fd = -1;
    sess->cmdsn = 1;
    snprintf (sess->name, sizeof sess->name, "%s", name);
    sess->conn = conn_new (S_LOGIN_DSL);
    if (!sess->conn) {
        free (sess);
        return NULL;
    }
    if (discovery) {
        sess->onext = io->others;
        io->others = sess;
    }
    else {
        s_sess_t **b = s_bucket (io, id);
        sess->hnext = *b;
        *b = sess;
        io->nsess++;
    }
    return sess;
}

/* Frees a session at once: connection, engine, requests (no replies). */
static void
s_sess_free (s_sess_t *sess)
{
    io_t *io = sess->io;
    s_conn_close (sess);
    conn_destroy (&sess->conn);
    if (sess->adopt_fd >= 0)
        close (sess->adopt_fd);
    session_destroy (&sess->eng); /* before the buffers it borrows */
    while (sess->live)
        s_req_free (sess->live);
    s_req_free (sess->ctl);
    sess->ctl = NULL;
    login_destroy (&sess->login);
    textx_destroy (&sess->textx);
    login_flow_destroy (&sess->flow);
    s_release_deferred (sess);
    free (sess->deferred);
    json_decref (sess->last_error);
    json_decref (sess->logout_info);
    recovery_destroy (&sess->rec);
    if (sess->discovery) {
        for (s_sess_t **p = &io->others; *p; p = &(*p)->onext)
            if (*p == sess) {
                *p = sess->onext;
                break;
            }
    }
    else {
        for (s_sess_t **p = s_bucket (io, sess->id); *p; p = &(*p)->hnext)
            if (*p == sess) {
                *p = sess->hnext;
                io->nsess--;
                break;
            }
    }
    free (sess);
}

/* Frees the session if a handler marked it for it. */
static void
s_reap (s_sess_t *sess)
{
    if (sess && sess->doomed)
        s_sess_free (sess);
}

/* Sets last_error (stolen copy kept). */
static void
s_last_error (s_sess_t *sess, const json_t *error)
{
    json_decref (sess->last_error);
    sess->last_error = error ? json_deep_copy (error) : NULL;
}

/* ------------------------------------------------------------- login */

static void s_login_send (s_sess_t *sess);

/* A login attempt (open, redirect hop, reconnect, discovery) failed with
 * error (stolen): reply to the control request and settle the state. */
static void
s_attempt_failed (s_sess_t *sess, json_t *error)
{
    if (sess->recovering && sess->rec) { /* one failed attempt of a recovery */
        bool has_status = false;
        uint8_t sc = 0, sd = 0;
        if (sess->login && login_state (sess->login) == LOGIN_FAILED) {
            const login_result_t *r = login_result (sess->login);
            has_status = r->status_class != 0;
            sc = r->status_class;
            sd = r->status_detail;
        }
        s_conn_close (sess);
        login_destroy (&sess->login);
        sess->ctr.errors++;
        s_last_error (sess, error);
        s_req_t *ctl = sess->ctl;
        sess->ctl = NULL;
        if (ctl) { /* a session.reconnect waited for this attempt */
            s_reply_err (ctl, error);
            s_req_free (ctl);
        }
        else
            json_decref (error);
        sess->state = ST_RECONNECTING;
        recovery_login_failed (sess->rec, has_status, sc, sd, s_now_ms (), s_rnd ());
        s_rec_run (sess);
        return;
    }
    s_conn_close (sess);
    login_destroy (&sess->login);
    textx_destroy (&sess->textx);
    sess->ctr.errors++;
    s_last_error (sess, error);
    s_req_t *ctl = sess->ctl;
    sess->ctl = NULL;
    s_kind_t kind = ctl ? ctl->kind : K_OPEN;
    if (ctl) {
        s_reply_err (ctl, error);
        s_req_free (ctl);
    }
    else
        json_decref (error);
    if (kind == K_RECONNECT) {
        sess->fail_reason = "login_failed";
        s_set_state (sess, ST_FAILED, "login_failed");
    }
    else {
        s_set_state (sess, ST_CLOSED, "login_failed");
        sess->doomed = true;
    }
}

/* Starts a connection and login attempt to the flow's current portal. */
static void
s_start_attempt (s_sess_t *sess)
{
    s_conn_close (sess);
    conn_set_digests (sess->conn, NULL);
    conn_set_max_recv_dsl (sess->conn, S_LOGIN_DSL);
    login_destroy (&sess->login);
    sess->cmdsn = 1;
    s_set_state (sess, ST_CONNECTING, "connect");
    int rc;
    if (sess->adopt_fd >= 0) {
        rc = conn_adopt (sess->conn, sess->adopt_fd);
        sess->adopt_fd = -1;
    }
    else
        rc = conn_connect (sess->conn, login_flow_portal (sess->flow));
    if (rc != 0) {
        int e = conn_errno (sess->conn);
        s_attempt_failed (sess, rpc_error_transport ("connect", e, strerror (e)));
        return;
    }
    s_fd_events (sess, ZMQ_POLLOUT);
}

/* The connection is up: build the login machine and send its first PDU. */
static void
s_login_begin (s_sess_t *sess)
{
    json_t *error = NULL;
    s_set_state (sess, ST_LOGGING_IN, "connected");
    sess->login = login_flow_start (sess->flow, S_LOGIN_ITT, sess->cmdsn, &error);
    if (!sess->login) {
        s_attempt_failed (sess, error);
        return;
    }
    s_fd_events (sess, ZMQ_POLLIN);
    s_login_send (sess);
}

/* Hands the login machine's pending request to the connection. */
static void
s_login_send (s_sess_t *sess)
{
    while (login_state (sess->login) == LOGIN_SEND) {
        pdu_t pdu;
        const uint8_t *data;
        size_t len;
        const uint8_t *bhs;
        if (login_next_request (sess->login, &pdu, &data, &len) != 0
            || conn_tx_add (sess->conn, &pdu, NULL, data, len, &bhs) != 0) {
            s_attempt_failed (sess, rpc_error_internal ("login request"));
            return;
        }
        sess->ctr.pdus_out++;
        if (s_interested (sess->io, "pdu"))
            s_pdu_event (sess, "out", bhs, len);
    }
    s_pump (sess);
}

/* The negotiated digests of the session. */
static pdu_digest_cfg_t
s_digests (s_sess_t *sess)
{
    return (pdu_digest_cfg_t){sess->params.header_digest, sess->params.data_digest,
                              login_flow_opts (sess->flow)->digest_big_endian};
}

static void s_disc_send (s_sess_t *sess);

/* The open result of a session. */
static json_t *
s_open_result (s_sess_t *sess)
{
    char isid[2 * PDU_ISID_LEN + 1];
    char portal[UIS_PORTAL_STR_MAX];
    login_flow_isid_hex (sess->flow, isid);
    if (uis_portal_format (login_flow_portal (sess->flow), portal, sizeof portal) != 0)
        portal[0] = 0;
    return json_pack ("{s:s, s:i, s:s, s:o, s:s, s:s}", "isid", isid, "tsih", sess->tsih,
                      "state", s_state_names[sess->state], "negotiated",
                      login_flow_negotiated_json (&sess->params), "portal", portal,
                      "target", login_flow_target (sess->flow));
}

/* Full feature phase reached: start the engine (or the SendTargets
 * exchange of a discovery session) and answer the control request. */
static void
s_login_done (s_sess_t *sess)
{
    const login_result_t *r = login_result (sess->login);
    sess->params = r->params;
    sess->tsih = r->tsih;
    sess->exp_statsn = r->exp_statsn;
    pdu_digest_cfg_t dig = s_digests (sess);
    conn_set_digests (sess->conn, &dig);
    conn_set_max_recv_dsl (sess->conn, sess->params.max_recv_dsl_initiator);
    if (sess->discovery) {
        login_destroy (&sess->login);
        textx_config_t tc = {0, sess->params.max_recv_dsl_target, 0};
        sess->textx = textx_new (&tc);
        if (!sess->textx
            || textx_start_key (sess->textx, "SendTargets", "All", S_DISC_TEXT_ITT)
                   != 0) {
            s_attempt_failed (sess, rpc_error_internal ("nomem"));
            return;
        }
        s_set_state (sess, ST_FULL_FEATURE, "login");
        s_disc_send (sess);
        return;
    }
    const login_flow_opts_t *o = login_flow_opts (sess->flow);
    uint32_t seed = 0;
    if (getrandom (&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed)
        seed = (uint32_t)s_now_us ();
    session_cfg_t cfg = {.cmdsn = sess->cmdsn,
                         .exp_cmdsn = r->exp_cmdsn,
                         .max_cmdsn = r->max_cmdsn,
                         .statsn = r->statsn,
                         .max_tasks = IO_TASKS_MAX,
                         .nop_interval_ms = o->ka_interval_ms,
                         .nop_timeout_ms = o->ka_timeout_ms,
                         .itt_seed = seed,
                         .now = s_now_ms ()};
    login_destroy (&sess->login);
    session_destroy (&sess->eng);
    sess->eng = session_new (&sess->params, &cfg);
    if (!sess->eng) {
        s_attempt_failed (sess,
                          rpc_error_protocol ("negotiated parameters out of range"));
        return;
    }
    sess->fail_reason = NULL;
    s_set_state (sess, ST_FULL_FEATURE,
                 sess->ctl && sess->ctl->kind == K_RECONNECT ? "reinstated" : "login");
    s_last_error (sess, NULL);
    s_req_t *ctl = sess->ctl;
    sess->ctl = NULL;
    if (ctl) {
        s_reply_ok (ctl, ctl->kind == K_OPEN ? s_open_result (sess) : json_object ());
        s_req_free (ctl);
    }
    uint16_t t2w = (uint16_t)(sess->params.default_time2wait < RECOVERY_T2W_MAX_S
                                  ? sess->params.default_time2wait
                                  : RECOVERY_T2W_MAX_S);
    uint16_t t2r = (uint16_t)(sess->params.default_time2retain < RECOVERY_T2W_MAX_S
                                  ? sess->params.default_time2retain
                                  : RECOVERY_T2W_MAX_S);
    if (sess->recovering && sess->rec) { /* O1: back; the held tasks are retried */
        recovery_login_ok (sess->rec, t2w, t2r, s_now_ms ());
        s_rec_run (sess);
    }
    else if (sess->rec_on) { /* a first login, or a revival after giving up */
        recovery_destroy (&sess->rec);
        recovery_cfg_t rc = sess->rcfg;
        memcpy (rc.isid, login_flow_isid (sess->flow), RECOVERY_ISID_LEN);
        rc.time2wait_s = t2w;
        rc.time2retain_s = t2r;
        sess->rec = recovery_new (&rc);
        if (!sess->rec)
            uis_log (UIS_LOG_WARN, "io", sess->name, "no recovery machine (nomem)");
    }
    s_pump (sess);
}

/* A Login Response arrived. */
static void
s_login_rsp (s_sess_t *sess, const framer_frame_t *f)
{
    if (f->hdr.opcode != PDU_OP_LOGIN_RSP || !sess->login) {
        s_attempt_failed (sess, rpc_error_protocol ("unexpected PDU during login"));
        return;
    }
    login_handle_response (sess->login, &f->hdr, f->data, f->data_len);
    const login_result_t *r = login_result (sess->login);
    switch (login_state (sess->login)) {
    case LOGIN_SEND:
        s_login_send (sess);
        break;
    case LOGIN_DONE:
        s_login_done (sess);
        break;
    case LOGIN_REDIRECT:
        if (login_flow_redirect (sess->flow, &r->redirect) != 0) {
            s_attempt_failed (sess, login_flow_error (r));
            break;
        }
        uis_log (UIS_LOG_INFO, "io", sess->name, "login redirected (%s)",
                 r->redirect_permanent ? "permanent" : "temporary");
        s_start_attempt (sess);
        break;
    case LOGIN_FAILED:
        s_attempt_failed (sess, login_flow_error (r));
        break;
    default:
        break;
    }
}

/* --------------------------------------------------------- discovery */

/* Sends the pending Text Requests of the SendTargets exchange. */
static void
s_disc_send (s_sess_t *sess)
{
    while (textx_state (sess->textx) == TEXTX_SEND) {
        pdu_t pdu;
        const uint8_t *data;
        size_t len;
        if (textx_next_request (sess->textx, sess->cmdsn, sess->exp_statsn, &pdu, &data,
                                &len)
                != 0
            || conn_tx_add (sess->conn, &pdu, NULL, data, len, NULL) != 0) {
            s_attempt_failed (sess, rpc_error_internal ("text request"));
            return;
        }
        sess->cmdsn++;
        sess->ctr.pdus_out++;
    }
    s_pump (sess);
}

/* The SendTargets answer as API.md's {"targets": [...]}. */
static json_t *
s_targets_json (s_sess_t *sess, const uis_sendtargets_t *st)
{
    json_t *targets = json_array ();
    for (size_t i = 0; i < uis_sendtargets_count (st); i++) {
        json_t *portals = json_array ();
        size_t np = uis_sendtargets_portal_count (st, i);
        for (size_t j = 0; j < np; j++) {
            const uis_st_portal_t *p = uis_sendtargets_portal (st, i, j);
            json_array_append_new (
                portals, json_pack ("{s:s, s:i, s:o}", "address", p->portal.host, "port",
                                    p->portal.port, "tpgt",
                                    p->has_tpgt ? json_integer (p->tpgt) : json_null ()));
        }
        if (np == 0) { /* §13.3: reachable through the portal in use */
            const uis_portal_t *p = login_flow_portal (sess->flow);
            json_array_append_new (portals, json_pack ("{s:s, s:i, s:n}", "address",
                                                       p->host, "port", p->port, "tpgt"));
        }
        json_array_append_new (targets, json_pack ("{s:s, s:o}", "name",
                                                   uis_sendtargets_name (st, i),
                                                   "portals", portals));
    }
    return json_pack ("{s:o}", "targets", targets);
}

/* A PDU of a discovery session in full feature phase. */
static void
s_disc_rsp (s_sess_t *sess, const framer_frame_t *f)
{
    const pdu_t *h = &f->hdr;
    if (h->opcode == PDU_OP_LOGOUT_RSP) {
        s_conn_close (sess);
        s_set_state (sess, ST_CLOSED, "logout");
        sess->doomed = true;
        return;
    }
    if (h->opcode == PDU_OP_NOP_IN)
        return; /* pings during a short exchange are not answered */
    if (h->opcode != PDU_OP_TEXT_RSP || !sess->textx) {
        s_attempt_failed (sess, rpc_error_protocol ("unexpected PDU in discovery"));
        return;
    }
    sess->exp_statsn = h->u.text_rsp.statsn + 1;
    if (textx_handle_response (sess->textx, h, f->data, f->data_len) != 0) {
        char detail[128];
        snprintf (detail, sizeof detail, "text response: %s",
                  textx_error_detail (sess->textx));
        s_attempt_failed (sess, rpc_error_protocol (detail));
        return;
    }
    if (textx_state (sess->textx) == TEXTX_SEND) {
        s_disc_send (sess);
        return;
    }
    if (textx_state (sess->textx) != TEXTX_DONE)
        return;
    size_t len;
    const uint8_t *text = textx_response (sess->textx, &len);
    uis_sendtargets_t *st = uis_sendtargets_new ();
    int rc = st ? uis_sendtargets_parse_raw (st, text, len) : UIS_ERR_NOMEM;
    if (rc) {
        uis_sendtargets_destroy (&st);
        s_attempt_failed (sess, rpc_error_protocol ("SendTargets response"));
        return;
    }
    json_t *result = s_targets_json (sess, st);
    uis_sendtargets_destroy (&st);
    textx_destroy (&sess->textx);
    if (sess->ctl) {
        s_reply_ok (sess->ctl, result);
        s_heap_set (sess->io, sess->ctl, s_now_ms () + IO_LOGOUT_GRACE_MS);
    }
    else
        json_decref (result);
    /* Logout (reason 0: close the session), then wait for the response. */
    pdu_t pdu;
    pdu_init (&pdu, PDU_OP_LOGOUT_REQ);
    pdu.itt = S_DISC_LOGOUT_ITT;
    pdu.u.logout_req.reason_code = PDU_LOGOUT_CLOSE_SESSION;
    pdu.u.logout_req.cmdsn = sess->cmdsn++;
    pdu.u.logout_req.exp_statsn = sess->exp_statsn;
    s_set_state (sess, ST_LOGGING_OUT, "discovery_done");
    if (conn_tx_add (sess->conn, &pdu, NULL, NULL, 0, NULL) != 0) {
        s_conn_close (sess);
        s_set_state (sess, ST_CLOSED, "logout");
        sess->doomed = true;
        return;
    }
    s_pump (sess);
}

/* ------------------------------------------------------ full feature */

/* Writes what the connection holds and pulls more PDUs from the engine,
 * one batch at a time, while the socket takes them. */
static void
s_pump (s_sess_t *sess)
{
    if (sess->doomed || conn_fd (sess->conn) < 0 || sess->state == ST_CONNECTING)
        return;
    bool ffp =
        sess->eng && (sess->state == ST_FULL_FEATURE || sess->state == ST_LOGGING_OUT);
    for (int round = 0; round < S_PUMP_ROUNDS; round++) {
        if (conn_tx_pending (sess->conn)) {
            int rc = conn_tx_flush (sess->conn, &sess->ctr.bytes_out);
            if (rc < 0) {
                s_conn_dead (sess, conn_errno (sess->conn) == ECONNRESET
                                           || conn_errno (sess->conn) == EPIPE
                                       ? "connection_reset"
                                       : "write_error");
                return;
            }
            if (rc == 0) {
                s_fd_events (sess, (short)(s_fd_want (sess) | ZMQ_POLLOUT));
                return;
            }
            for (size_t i = 0; i < sess->nouts; i++)
                session_out_done (sess->eng, &sess->outs[i]);
            sess->nouts = 0;
            s_release_deferred (sess);
        }
        if (!ffp)
            break;
        bool want_pdu = s_interested (sess->io, "pdu");
        while (conn_tx_room (sess->conn) && sess->nouts < CONN_TX_BATCH
               && session_out_next (sess->eng, &sess->outs[sess->nouts])) {
            session_out_t *o = &sess->outs[sess->nouts++];
            const uint8_t *bhs;
            int rc = conn_tx_add (sess->conn, &o->pdu, o->has_ahs ? &o->ahs : NULL,
                                  o->data, o->data_len, &bhs);
            if (rc) {
                uis_log (UIS_LOG_ERROR, "io", sess->name, "cannot frame a PDU (%s)",
                         uis_err_name (rc));
                s_conn_dead (sess, "protocol_error");
                return;
            }
            sess->ctr.pdus_out++;
            if (want_pdu)
                s_pdu_event (sess, "out", bhs, o->data_len);
        }
        if (!conn_tx_pending (sess->conn))
            break;
    }
    s_fd_events (sess, s_fd_want (sess));
}

/* The name of a TMF response (RFC 7143 §11.6.1). */
static const char *
s_tmf_response_name (unsigned r)
{
    switch (r) {
    case PDU_TMF_RSP_COMPLETE:
        return "FUNCTION_COMPLETE";
    case PDU_TMF_RSP_NO_TASK:
        return "TASK_DOES_NOT_EXIST";
    case PDU_TMF_RSP_NO_LUN:
        return "LUN_DOES_NOT_EXIST";
    case PDU_TMF_RSP_TASK_ALLEGIANT:
        return "TASK_STILL_ALLEGIANT";
    case PDU_TMF_RSP_NO_REASSIGN:
        return "TASK_REASSIGNMENT_NOT_SUPPORTED";
    case PDU_TMF_RSP_NOT_SUPPORTED:
        return "FUNCTION_NOT_SUPPORTED";
    case PDU_TMF_RSP_AUTH_FAILED:
        return "FUNCTION_AUTHORIZATION_FAILED";
    case PDU_TMF_RSP_REJECTED:
        return "FUNCTION_REJECTED";
    default:
        return "UNKNOWN";
    }
}

/* N4: the Logout Response as result fields (RFC 7143 §11.15.1): response
 * 0 closed, 1 CID not found, 2 recovery not supported, 3 cleanup failed. */
static json_t *
s_logout_info (const session_event_t *ev)
{
    static const char *names[] = {"CLOSED", "CID_NOT_FOUND", "RECOVERY_NOT_SUPPORTED",
                                  "CLEANUP_FAILED"};
    unsigned r = ev->logout_response;
    return json_pack ("{s:i, s:s, s:i, s:i}", "response", (int)r, "response_name",
                      r < 4 ? names[r] : "UNKNOWN", "time2wait", ev->time2wait,
                      "time2retain", ev->time2retain);
}

/* The error a task that ended by session_fail_all gets. */
static json_t *
s_failed_error (s_sess_t *sess)
{
    if (sess->closing)
        return rpc_error_cancelled ();
    return rpc_error_session_failed (sess->fail_reason ? sess->fail_reason : "failed");
}

/* A SCSI command ended in the engine. */
static void
s_cmd_done (s_sess_t *sess, s_req_t *req, const session_event_t *ev)
{
    if (sess->in_flight)
        sess->in_flight--;
    sess->ctr.commands++;
    uint64_t latency = s_now_us () - req->start_us;
    int status = -1;
    switch (ev->result) {
    case SESSION_R_GOOD:
    case SESSION_R_CONDITION_MET:
    case SESSION_R_CHECK_CONDITION:
    case SESSION_R_BUSY:
    case SESSION_R_RESERVATION_CONFLICT:
    case SESSION_R_TASK_SET_FULL:
    case SESSION_R_ACA_ACTIVE:
    case SESSION_R_TASK_ABORTED:
    case SESSION_R_STATUS_OTHER:
    case SESSION_R_TARGET_FAILURE: {
        status = ev->scsi_status;
        if (req->replied)
            break;
        if (req->stream && req->stream_dead) { /* data was dropped: no result */
            s_reply_err (req, req->timed_out ? rpc_error_timeout (req->timeout_ms, false)
                                             : rpc_error_cancelled ());
            break;
        }
        if (req->stream)
            s_stream_flush (req); /* the last chunk before the completion */
        eng_done_t done = {0};
        done.status = ev->scsi_status;
        done.response = ev->iscsi_response;
        done.overflow = ev->overflow;
        done.underflow = ev->underflow;
        done.bytes = req->stream ? (uint32_t)req->offset : ev->bytes_in;
        done.residual = ev->residual;
        done.sense_len = ev->sense_len <= ENG_SENSE_MAX ? ev->sense_len : ENG_SENSE_MAX;
        memcpy (done.sense, ev->sense, done.sense_len);
        done.latency_us = latency > UINT32_MAX ? UINT32_MAX : (uint32_t)latency;
        rt_msg_t msg;
        rt_msg_init (&msg, ENG_CMD_DONE);
        msg.env.session = sess->id;
        msg.env.corr = req->corr;
        msg.env.itt = req->itt;
        if (rt_msg_set_body (&msg, &done, sizeof done) != 0) {
            rt_msg_close (&msg);
            s_reply_err (req, rpc_error_internal ("nomem"));
            break;
        }
        if (req->has_din && ev->bytes_in > 0 && rt_msg_add_frame (&msg, &req->din) == 0) {
            zmq_msg_close (&req->din);
            req->has_din = false;
        }
        s_send (sess->io, req->peer, &msg);
        req->replied = true;
        break;
    }
    case SESSION_R_ABORTED:
    case SESSION_R_CANCELLED:
        s_reply_err (req, req->timed_out ? rpc_error_timeout (req->timeout_ms, true)
                                         : rpc_error_cancelled ());
        break;
    case SESSION_R_REJECTED:
        sess->ctr.errors++;
        s_reply_err (req, rpc_error_protocol ("the target rejected the command"));
        break;
    case SESSION_R_PROTOCOL:
        sess->ctr.errors++;
        s_reply_err (req, rpc_error_protocol (ev->detail));
        break;
    case SESSION_R_FAILED:
        s_reply_err (req, s_failed_error (sess));
        break;
    default:
        s_reply_err (req, rpc_error_internal (session_result_name (ev->result)));
        break;
    }
    if (s_interested (sess->io, "command.complete"))
        s_publish (sess->io, "command.complete",
                   json_pack ("{s:s, s:I, s:i, s:I, s:I, s:o}", "session", sess->name,
                              "lun", s_lun_int (req->lun), "opcode", req->opcode, "bytes",
                              (json_int_t)(ev->bytes_in + ev->bytes_out), "latency_us",
                              (json_int_t)latency, "status",
                              status >= 0
                                  ? json_integer (status)
                                  : json_string (session_result_name (ev->result))));
    s_req_free (req);
}

/* A task of the engine ended. */
static void
s_on_complete (s_sess_t *sess, const session_event_t *ev)
{
    s_req_t *req = ev->cookie;
    if (!req)
        return; /* keepalive */
    switch (req->kind) {
    case K_CMD:
        s_cmd_done (sess, req, ev);
        return;
    case K_NOP:
        if (ev->result == SESSION_R_PONG)
            s_reply_ok (req, json_pack ("{s:I}", "rtt_us",
                                        (json_int_t)(s_now_us () - req->start_us)));
        else if (ev->result == SESSION_R_FAILED)
            s_reply_err (req, s_failed_error (sess));
        else
            s_reply_err (req, rpc_error_protocol (ev->detail));
        break;
    case K_TMF:
        if (ev->result == SESSION_R_FAILED)
            s_reply_err (req, s_failed_error (sess));
        else if (ev->result < SESSION_R_TMF_COMPLETE || ev->result > SESSION_R_TMF_OTHER)
            s_reply_err (req, rpc_error_protocol (ev->detail));
        else if (ev->tmf_response == PDU_TMF_RSP_COMPLETE
                 || (ev->tmf_response == PDU_TMF_RSP_NO_TASK
                     && req->opcode == PDU_TMF_ABORT_TASK)) /* M2 */
            s_reply_ok (req, json_pack ("{s:i, s:s}", "response", ev->tmf_response,
                                        "response_name",
                                        s_tmf_response_name (ev->tmf_response)));
        else
            s_reply_err (req,
                         rpc_error_tmf_failed (ev->tmf_response,
                                               s_tmf_response_name (ev->tmf_response)));
        break;
    case K_ABORT:
        break; /* the aborted command completes on its own */
    case K_CLOSE:
    case K_LOGOUT:
        if (req == sess->ctl && !sess->closing) {
            json_decref (sess->logout_info);
            sess->logout_info =
                ev->result >= SESSION_R_LOGOUT_OK && ev->result <= SESSION_R_LOGOUT_OTHER
                    ? s_logout_info (ev)
                    : NULL;
            s_close_finish (sess, "logout");
        }
        return; /* the control request is freed by s_close_finish */
    default:
        break;
    }
    s_req_free (req);
}

/* Takes the engine's events: completions, async messages, failures. */
static void
s_drain_events (s_sess_t *sess)
{
    session_event_t ev;
    while (sess->eng && session_event_next (sess->eng, &ev)) {
        switch (ev.kind) {
        case SESSION_EV_COMPLETE:
            s_on_complete (sess, &ev);
            break;
        case SESSION_EV_PROTOCOL:
            sess->ctr.errors++;
            uis_log (UIS_LOG_WARN, "io", sess->name, "target protocol violation: %s",
                     ev.detail);
            if (ev.fatal == SESSION_FATAL_CONNECTION) {
                sess->dead_pending = "protocol_error";
                sess->dead_detail = ev.detail;
            }
            break;
        case SESSION_EV_STATSN_GAP:
            if (ev.recovery_needed)
                sess->dead_pending = "statsn_gap";
            break;
        case SESSION_EV_ASYNC: {
            /* K1: lun as the flat number (as everywhere in the API), the
             * sense as hex plus the parsed sense_info object */
            size_t slen =
                ev.sense_len < SESSION_SENSE_MAX ? ev.sense_len : SESSION_SENSE_MAX;
            char sense[2 * SESSION_SENSE_MAX + 1];
            for (size_t i = 0; i < slen; i++)
                snprintf (sense + 2 * i, 3, "%02x", ev.sense[i]);
            sense[2 * slen] = 0;
            uint8_t lun[8];
            lun_from_u64 (ev.lun, lun);
            json_t *info = rpc_scsi_sense_info (ev.sense, slen);
            static const char *names[] = {"scsi_event",          "logout_request",
                                          "drop_connection",     "drop_all_connections",
                                          "negotiation_request", "task_termination"};
            s_publish (
                sess->io, "session.async",
                json_pack ("{s:s, s:i, s:s, s:I, s:s, s:o, s:i, s:i, s:i}", "session",
                           sess->name, "event_code", ev.async_event, "event_name",
                           ev.async_event < 6 ? names[ev.async_event] : "vendor", "lun",
                           s_lun_int (lun), "sense", sense, "sense_info",
                           info ? info : json_null (), "parameter1", ev.parameter1,
                           "parameter2", ev.parameter2, "parameter3", ev.parameter3));
            break;
        }
        case SESSION_EV_REJECT:
            sess->ctr.errors++;
            uis_log (UIS_LOG_WARN, "io", sess->name, "target rejected a PDU (reason %u)",
                     ev.reject_reason);
            break;
        case SESSION_EV_CONNECTION_DEAD:
            sess->dead_pending = "keepalive_timeout";
            break;
        default:
            break;
        }
    }
    if (sess->dead_pending) {
        const char *reason = sess->dead_pending;
        sess->dead_pending = NULL;
        s_conn_dead (sess, reason);
    }
    else if (sess->state == ST_LOGGING_OUT && sess->eng && sess->ctl
             && sess->ctl->draining && sess->in_flight == 0)
        s_logout_send (sess); /* N2: the last in-flight command ended */
}

/* ------------------------------------------------------ ERL 0 recovery */

/* 32 random bits for the recovery jitter. */
static uint32_t
s_rnd (void)
{
    uint32_t r = 0;
    if (getrandom (&r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
        r = (uint32_t)s_now_us ();
    return r;
}

/* Hands a command (its fields filled by s_msg_cmd, or parked by a
 * recovery) to the engine with a new ITT and CmdSN; link: a new request
 * (live list, stream list), else it is linked already (a RETRY). Arms its
 * deadline (req->deadline, kept across a recovery). Returns 0 or the
 * error of session_submit (nothing changed then). */
static int
s_cmd_submit (s_sess_t *sess, s_req_t *req, bool link)
{
    session_cmd_t c = {0};
    memcpy (c.lun, req->lun, 8);
    c.cdb = req->cdb;
    c.cdb_len = req->cdb_len;
    c.attr = req->attr;
    c.read_buf = req->has_din ? zmq_msg_data (&req->din) : NULL;
    c.read_len = req->din_len;
    c.read_stream = req->want_stream;
    c.write_buf = req->has_dout ? zmq_msg_data (&req->dout) : NULL;
    c.write_buf_len = req->dout_len;
    c.write_len = req->dout_len;
    c.cookie = req;
    int rc = session_submit (sess->eng, &c, &req->itt);
    if (rc != 0)
        return rc;
    if (link) {
        s_req_link (sess, req);
        if (req->want_stream) {
            req->stream = true;
            req->snext = sess->streams;
            if (sess->streams)
                sess->streams->sprev = req;
            sess->streams = req;
        }
    }
    sess->in_flight++;
    s_heap_set (sess->io, req, req->deadline);
    return 0;
}

/* The recovery_lost_t of a reason of s_conn_dead. */
static recovery_lost_t
s_lost_reason (const char *reason)
{
    static const struct {
        const char *name;
        recovery_lost_t lost;
    } map[] = {{"eof", RECOVERY_LOST_EOF},
               {"connection_reset", RECOVERY_LOST_RESET},
               {"read_error", RECOVERY_LOST_RESET},
               {"write_error", RECOVERY_LOST_WRITE_ERROR},
               {"keepalive_timeout", RECOVERY_LOST_KEEPALIVE_TIMEOUT},
               {"digest_error", RECOVERY_LOST_HEADER_DIGEST},
               {"protocol_error", RECOVERY_LOST_PROTOCOL_ERROR},
               {"statsn_gap", RECOVERY_LOST_STATSN_GAP}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp (reason, map[i].name) == 0)
            return map[i].lost;
    return RECOVERY_LOST_RESET;
}

/* The parked command with recovery task id `id`, or NULL. */
static s_req_t *
s_rec_find (s_sess_t *sess, uint64_t id)
{
    for (s_req_t *r = sess->live; r; r = r->next)
        if (r->held && (uint64_t)(uintptr_t)r == id)
            return r;
    return NULL;
}

/* The recovery task of a command (device type 0: block device). */
static recovery_task_t
s_rec_task (s_sess_t *sess, s_req_t *req, bool sent)
{
    recovery_task_t t = {0};
    t.id = (uint64_t)(uintptr_t)req;
    t.retriable =
        recovery_retriable (req->cdb, req->cdb_len, 0x00, sess->writes_retriable);
    t.sent = sent;
    t.partial = req->stream && (req->offset > 0 || req->chunk_fill > 0); /* O6 */
    t.deadline_ms = req->deadline;
    return t;
}

/* Orders task infos: sent ones first in CmdSN order (serial arithmetic),
 * then the queued ones. */
static int
s_task_cmp (const void *a, const void *b)
{
    const session_task_info_t *x = a, *y = b;
    if (x->sent != y->sent)
        return x->sent ? -1 : 1;
    if (!x->sent || x->cmdsn == y->cmdsn)
        return 0;
    return (int32_t)(x->cmdsn - y->cmdsn) < 0 ? -1 : 1;
}

/* After recovery_conn_lost (or a reconnect): closes the connection, hands
 * every live command of the engine to the machine in CmdSN order (parked:
 * off the deadline heap, no reply), destroys the engine without
 * completions, and ends the other requests (pings and TMFs:
 * SESSION_RECOVERING; internal aborts and commands already answered:
 * freed). */
static void
s_rec_hand_over (s_sess_t *sess, uint64_t now)
{
    s_conn_close (sess);
    if (sess->eng) {
        size_t n = session_tasks (sess->eng, NULL, 0);
        session_task_info_t *infos = n ? calloc (n, sizeof *infos) : NULL;
        if (infos) {
            n = session_tasks (sess->eng, infos, n);
            qsort (infos, n, sizeof *infos, s_task_cmp);
            for (size_t i = 0; i < n; i++) {
                s_req_t *req = infos[i].cookie;
                if (!req || req->kind != K_CMD || req->replied || req->held)
                    continue;
                recovery_task_t t = s_rec_task (sess, req, infos[i].sent);
                if (recovery_task_lost (sess->rec, &t, now) == 0) {
                    req->held = true;
                    s_heap_remove (sess->io, req);
                }
            }
            free (infos);
        }
        session_destroy (&sess->eng);
    }
    sess->in_flight = 0;
    s_req_t *next;
    for (s_req_t *r = sess->live; r; r = next) {
        next = r->next;
        if (r->held)
            continue;
        if (r->kind == K_CMD) /* not taken by the machine (none expected) */
            s_reply_err (r, rpc_error_session_failed (
                                sess->fail_reason ? sess->fail_reason : "failed"));
        else if (r->kind == K_NOP || r->kind == K_TMF)
            s_reply_err (r, rpc_error_session_recovering ("reconnecting", -1));
        s_req_free (r);
    }
}

/* STATE: publishes session.state with the machine's public names (R6) and
 * mirrors it on the session. */
static void
s_rec_state (s_sess_t *sess, const recovery_action_t *act)
{
    if (strcmp (act->to, "reconnecting") == 0) {
        sess->recovering = true;
        if (sess->state == ST_FULL_FEATURE || sess->state == ST_LOGGING_OUT)
            sess->state = ST_RECONNECTING;
    }
    else {
        sess->recovering = false;
        if (strcmp (act->to, "failed") == 0) {
            sess->state = ST_FAILED;
            sess->fail_reason = act->reason;
        }
        else if (strcmp (act->to, "closed") == 0)
            sess->state = ST_CLOSED;
    }
    uis_log (UIS_LOG_INFO, "io", sess->name, "recovery: %s -> %s (%s)", act->from,
             act->to, act->reason);
    s_publish (sess->io, "session.state",
               json_pack ("{s:s, s:s, s:s, s:s}", "session", sess->name, "from",
                          act->from, "to", act->to, "reason", act->reason));
}

/* FAIL: ends a parked command with the machine's verdict. */
static void
s_rec_fail (s_sess_t *sess, const recovery_action_t *act)
{
    s_req_t *req = s_rec_find (sess, act->task);
    if (!req)
        return;
    const char *reason = act->reason ? act->reason : "connection_lost";
    json_t *error;
    switch (act->fail) {
    case RECOVERY_FAIL_NOT_RETRIABLE:
        error = rpc_error_not_retriable (reason);
        break;
    case RECOVERY_FAIL_SESSION_FAILED:
        error = rpc_error_session_failed (reason);
        break;
    case RECOVERY_FAIL_RECOVERING:
        error = rpc_error_session_recovering (
            "reconnecting",
            act->retry_after_ms > INT64_MAX ? INT64_MAX : (int64_t)act->retry_after_ms);
        break;
    case RECOVERY_FAIL_TIMEOUT:
        error = rpc_error_timeout (req->timeout_ms, false);
        break;
    default:
        error = rpc_error_cancelled ();
        break;
    }
    req->held = false;
    s_reply_err (req, error);
    s_req_free (req);
}

/* RETRY: re-issues a parked command on the new connection (new ITT and
 * CmdSN, same reply routing and deadline: O1). */
static void
s_rec_retry (s_sess_t *sess, uint64_t id)
{
    s_req_t *req = s_rec_find (sess, id);
    if (!req)
        return;
    req->held = false;
    s_stream_drop_chunk (req);
    req->offset = 0;
    int rc = sess->eng ? s_cmd_submit (sess, req, false) : UIS_ERR_STATE;
    if (rc != 0) {
        s_reply_err (req, rc == UIS_ERR_AGAIN
                              ? rpc_error_limit_exceeded ("in_flight", IO_TASKS_MAX)
                              : rpc_error_session_failed ("retry"));
        s_req_free (req);
    }
}

/* GIVE_UP: the recovery stopped for good; last_error says why (O9). */
static void
s_rec_give_up (s_sess_t *sess, const recovery_action_t *act)
{
    json_t *error;
    if (act->error == UIS_ERR_AUTH_FAILED)
        error = rpc_error_auth_failed (act->status_class, act->status_detail, "target");
    else if (act->error == UIS_ERR_LOGIN_STATUS)
        error = rpc_error_login_failed (
            act->status_class, act->status_detail,
            login_status_info (act->status_class, act->status_detail).name);
    else
        error = rpc_error_session_failed (act->reason);
    uis_log (UIS_LOG_WARN, "io", sess->name, "recovery gave up: %s", act->reason);
    s_last_error (sess, error);
    json_decref (error);
}

/* Executes the machine's actions, in order (see proto/recovery.h). */
static void
s_rec_run (s_sess_t *sess)
{
    recovery_action_t act;
    for (int n = 0; n < 4 * RECOVERY_TASKS_MAX && sess->rec
                    && recovery_action_next (sess->rec, &act);
         n++) {
        switch (act.kind) {
        case RECOVERY_ACT_STATE:
            s_rec_state (sess, &act);
            break;
        case RECOVERY_ACT_CLOSE_CONN: {
            bool logging_in = sess->login || sess->state == ST_CONNECTING
                              || sess->state == ST_LOGGING_IN;
            s_conn_close (sess);
            login_destroy (&sess->login);
            if (sess->recovering)
                sess->state = ST_RECONNECTING;
            if (logging_in && sess->ctl && sess->ctl->kind == K_RECONNECT) {
                s_req_t *ctl = sess->ctl; /* its attempt timed out */
                sess->ctl = NULL;
                s_reply_err (ctl, rpc_error_timeout (sess->rcfg.login_timeout_ms, false));
                s_req_free (ctl);
            }
            break;
        }
        case RECOVERY_ACT_LOGIN:
            sess->ctr.reconnects++;
            login_flow_reset_portal (sess->flow);
            s_start_attempt (sess); /* same ISID (the flow's), TSIH 0 (O2) */
            break;
        case RECOVERY_ACT_RETRY:
            s_rec_retry (sess, act.task);
            break;
        case RECOVERY_ACT_FAIL:
            s_rec_fail (sess, &act);
            break;
        case RECOVERY_ACT_GIVE_UP:
            s_rec_give_up (sess, &act);
            break;
        default: /* WAIT: the tick calls recovery_tick; LOGOUT (K2) is not wired */
            break;
        }
    }
}

/* THE entry point for a dead connection (EOF, RST, write error, keepalive
 * timeout, digest error, protocol violation): during login it fails the
 * attempt; in full feature phase with a recovery machine (issue 5) it
 * starts an ERL 0 recovery: every live command goes to the machine in
 * CmdSN order and the engine is dropped without replies (the machine's
 * actions retry or fail them, s_rec_run); without one (recovery
 * max_attempts 0) it fails every task at once with SESSION_FAILED
 * {reason}, drops the engine, publishes session.state and leaves the
 * session "failed". */
static void
s_conn_dead (s_sess_t *sess, const char *reason)
{
    switch (sess->state) {
    case ST_CONNECTING:
    case ST_LOGGING_IN: {
        int e = conn_errno (sess->conn);
        json_t *error;
        if (strcmp (reason, "eof") == 0)
            error = rpc_error_transport ("read", 0, "connection closed by the target");
        else if (strcmp (reason, "protocol_error") == 0
                 || strcmp (reason, "digest_error") == 0)
            error = rpc_error_protocol (reason);
        else
            error = rpc_error_transport (conn_errop (sess->conn), e, strerror (e));
        s_attempt_failed (sess, error);
        return;
    }
    case ST_LOGGING_OUT:
        if (sess->discovery) {
            s_conn_close (sess);
            s_set_state (sess, ST_CLOSED, "logout");
            sess->doomed = true;
        }
        else
            s_close_finish (sess, "logout");
        return;
    case ST_FULL_FEATURE:
        break;
    default:
        return;
    }
    if (sess->discovery) {
        s_attempt_failed (sess,
                          rpc_error_transport ("read", conn_errno (sess->conn), reason));
        return;
    }
    uis_log (UIS_LOG_WARN, "io", sess->name, "connection dead: %s%s%s", reason,
             sess->dead_detail ? ": " : "", sess->dead_detail ? sess->dead_detail : "");
    sess->dead_detail = NULL;
    s_conn_close (sess);
    sess->fail_reason = reason;
    sess->ctr.errors++;
    json_t *error = rpc_error_session_failed (reason);
    s_last_error (sess, error);
    json_decref (error);
    if (sess->rec && recovery_state (sess->rec) == RECOVERY_S_FULL_FEATURE) {
        /* issue 5: the machine decides (RETRY or FAIL); nothing is answered
         * here */
        uint64_t now = s_now_ms ();
        recovery_conn_lost (sess->rec, s_lost_reason (reason), 0, 0, now, s_rnd ());
        s_rec_hand_over (sess, now);
        s_rec_run (sess);
        return;
    }
    if (sess->eng) {
        session_fail_all (sess->eng, UIS_ERR_STATE);
        s_drain_events (sess);
        session_destroy (&sess->eng);
    }
    while (sess->live) /* tasks the engine no longer knows (none expected) */
        s_req_free (sess->live);
    sess->in_flight = 0;
    s_set_state (sess, ST_FAILED, reason);
}

/* Ends a close or logout: fails what is left with CANCELLED, closes the
 * connection, answers the control request. */
static void
s_close_finish (s_sess_t *sess, const char *reason)
{
    sess->closing = true;
    s_req_t *ctl = sess->ctl;
    sess->ctl = NULL;
    s_conn_close (sess);
    if (sess->eng) {
        session_fail_all (sess->eng, UIS_ERR_STATE);
        s_drain_events (sess);
        session_destroy (&sess->eng);
    }
    while (sess->live)
        s_req_free (sess->live);
    sess->in_flight = 0;
    login_destroy (&sess->login);
    s_set_state (sess, ST_CLOSED, reason);
    sess->closing = false;
    if (ctl) {
        /* 4a: the final counters, so daemon.stats stays monotonic */
        json_t *r =
            json_pack ("{s:b, s:o}", "closed", 1, "counters", s_counters_json (sess));
        if (r && strcmp (reason, "logout_timeout") == 0)
            json_object_set_new (r, "logout_timeout", json_true ());
        if (r && sess->logout_info)
            json_object_update (r, sess->logout_info);
        json_decref (sess->logout_info);
        sess->logout_info = NULL;
        s_reply_ok (ctl, r);
        if (ctl->kind == K_CLOSE)
            sess->doomed = true;
        s_req_free (ctl);
    }
}

/* --------------------------------------------------------- raw.stream */

/* The largest Data-In segment the connection accepts (our
 * MaxRecvDataSegmentLength). */
static uint32_t
s_mrdsl (const s_sess_t *sess)
{
    return sess->params.max_recv_dsl_initiator;
}

/* The chunk size of a stream: IO_STREAM_CHUNK, at most the window, at
 * least one whole Data-In segment (the window is never below it). */
static uint32_t
s_stream_cap (const s_req_t *req)
{
    uint32_t c = IO_STREAM_CHUNK < req->window ? IO_STREAM_CHUNK : req->window;
    uint32_t m = s_mrdsl (req->sess);
    return c > m ? c : m;
}

/* Restarts a stream's deadline: timeout_ms from now (progress). Not after
 * the deadline fired (the abort grace runs then). */
static void
s_stream_progress (s_req_t *req)
{
    if (!req->timed_out && !req->abort_sent && !req->stream_dead)
        s_heap_set (req->sess->io, req, s_now_ms () + req->timeout_ms);
}

/* Frees the chunk of a stream; when the framer is still writing a PDU
 * into it, the session keeps it until that PDU ends (or the connection
 * closes). */
static void
s_stream_drop_chunk (s_req_t *req)
{
    s_sess_t *sess = req->sess;
    if (req->chunk && sess->rx_stream == req) {
        free (sess->rx_orphan); /* NULL: one PDU is read at a time */
        sess->rx_orphan = req->chunk;
        sess->rx_stream = NULL;
    }
    else
        free (req->chunk);
    req->chunk = NULL;
    req->chunk_fill = req->chunk_cap = 0;
}

/* zmq free function of a chunk. */
static void
s_chunk_free (void *data, void *hint)
{
    (void)hint;
    free (data);
}

/* Sends the filled part of a stream's chunk to the front end as
 * ENG_STREAM_DATA (the buffer moves into the message: no copy) and counts
 * it as unacknowledged. Not while the framer writes into it. A dead or
 * answered stream drops it instead. */
static void
s_stream_flush (s_req_t *req)
{
    s_sess_t *sess = req->sess;
    if (!req->chunk || sess->rx_stream == req)
        return;
    if (req->chunk_fill == 0 || req->stream_dead || req->replied) {
        s_stream_drop_chunk (req);
        return;
    }
    rt_msg_t msg;
    rt_msg_init (&msg, ENG_STREAM_DATA);
    msg.env.session = sess->id;
    msg.env.corr = req->corr;
    msg.env.itt = req->itt;
    msg.env.aux = req->offset;
    uint32_t n = req->chunk_fill;
    if (rt_msg_add_buffer (&msg, req->chunk, n, s_chunk_free, NULL) != 0) {
        rt_msg_close (&msg);
        s_stream_drop_chunk (req);
        return;
    }
    req->chunk = NULL; /* libzmq owns it now */
    req->chunk_fill = req->chunk_cap = 0;
    req->unacked += n;
    req->offset += n;
    s_send (sess->io, req->peer, &msg);
    s_stream_progress (req);
}

/* Sends the chunks of every stream of the session that can go now. */
static void
s_streams_flush (s_sess_t *sess)
{
    for (s_req_t *r = sess->streams; r; r = r->snext)
        s_stream_flush (r);
}

/* true when the next Data-In PDU (up to MaxRecvDataSegmentLength) could
 * take a stream beyond its window: then the connection is not read. */
static bool
s_rx_blocked (s_sess_t *sess)
{
    uint32_t m = s_mrdsl (sess);
    for (const s_req_t *r = sess->streams; r; r = r->snext) {
        if (r->stream_dead || r->replied)
            continue;
        if (r->chunk && (uint64_t)r->chunk_fill + m <= r->chunk_cap)
            continue; /* fits in the chunk being filled */
        if (r->unacked + r->chunk_fill + s_stream_cap (r) <= r->window)
            continue; /* the chunk goes, a new one fits */
        return true;
    }
    return false;
}

/* Stops reading the connection: a stream window is full. What is buffered
 * goes to the client first, so its acks can come. */
static void
s_rx_hold (s_sess_t *sess)
{
    if (!sess->rx_held)
        uis_log (UIS_LOG_DEBUG, "io", sess->name, "reading held: stream window full");
    sess->rx_held = true;
    s_streams_flush (sess);
    s_fd_events (sess, s_fd_want (sess));
}

/* Reads again when no stream window blocks any more. */
static void
s_rx_resume (s_sess_t *sess)
{
    if (!sess->rx_held || s_rx_blocked (sess))
        return;
    sess->rx_held = false;
    if (sess->eng)
        session_rx_hold (sess->eng, s_now_ms ());
    if (conn_fd (sess->conn) >= 0 && sess->state != ST_CONNECTING)
        s_fd_events (sess, s_fd_want (sess));
}

/* A stream ends early (abort, cancel, timeout): its chunk is freed, its
 * later Data-In is read and dropped, and it no longer holds the
 * connection (the abort's response must get through). */
static void
s_stream_kill (s_req_t *req)
{
    if (!req->stream)
        return;
    req->stream_dead = true;
    s_stream_drop_chunk (req);
    s_rx_resume (req->sess);
}

/* ENG_STREAM_ACK: the client consumed aux more bytes of the stream corr. */
static void
s_msg_stream_ack (int peer, rt_msg_t *msg, s_sess_t *sess)
{
    for (s_req_t *r = sess->streams; r; r = r->snext) {
        if (r->peer != peer || r->corr != msg->env.corr)
            continue;
        r->unacked = msg->env.aux >= r->unacked ? 0 : r->unacked - msg->env.aux;
        s_stream_progress (r);
        s_rx_resume (sess);
        return;
    }
}

/* ---------------------------------------------------------- receive */

/* Header hook: Data-In goes straight into the command's buffer, or for a
 * stream into its chunk (a new chunk when the current one is full; the
 * window was checked before this PDU was read). A dead stream's data is
 * left to the framer's buffer and dropped. */
static void
s_on_header (void *arg, const framer_frame_t *f, uint8_t **buf, size_t *cap)
{
    s_sess_t *sess = arg;
    if (!sess->eng || (sess->state != ST_FULL_FEATURE && sess->state != ST_LOGGING_OUT))
        return;
    void *cookie = NULL;
    uint32_t len = 0;
    if (sess->streams && session_rx_stream (sess->eng, &f->hdr, &cookie, &len)) {
        s_req_t *req = cookie;
        if (!req || req->kind != K_CMD || !req->stream || req->stream_dead
            || req->replied)
            return;
        if (req->chunk && (uint64_t)req->chunk_fill + len > req->chunk_cap)
            s_stream_flush (req);
        if (!req->chunk) {
            uint32_t c = s_stream_cap (req);
            req->chunk = malloc (c > len ? c : len);
            if (!req->chunk)
                return; /* dropped: the stream ends short (done.bytes) */
            req->chunk_cap = c > len ? c : len;
            req->chunk_fill = 0;
        }
        *buf = req->chunk + req->chunk_fill;
        *cap = len;
        sess->rx_stream = req;
        sess->rx_len = len;
        return;
    }
    session_rx_header (sess->eng, &f->hdr, buf, cap);
}

/* One whole PDU. */
static int
s_on_pdu (void *arg, const framer_frame_t *f)
{
    s_sess_t *sess = arg;
    sess->ctr.pdus_in++;
    if (s_interested (sess->io, "pdu")) {
        uint8_t bhs[PDU_BHS_LEN];
        if (pdu_bhs_encode (&f->hdr, bhs) == 0)
            s_pdu_event (sess, "in", bhs, f->data_len);
    }
    switch (sess->state) {
    case ST_LOGGING_IN:
        s_login_rsp (sess, f);
        break;
    case ST_FULL_FEATURE:
    case ST_LOGGING_OUT:
        if (sess->discovery) {
            s_disc_rsp (sess, f);
            break;
        }
        if (!sess->eng)
            break;
        if (sess->rx_stream) { /* the segment is in the stream's chunk */
            sess->rx_stream->chunk_fill += sess->rx_len;
            sess->rx_stream = NULL;
        }
        free (sess->rx_orphan);
        sess->rx_orphan = NULL;
        if (session_rx_pdu (sess->eng, &f->hdr, f->data, f->data_len, s_now_ms ()) != 0
            && !sess->dead_pending)
            sess->dead_pending = "protocol_error";
        s_drain_events (sess);
        if (sess->streams && !sess->doomed && conn_fd (sess->conn) >= 0
            && s_rx_blocked (sess)) {
            s_rx_hold (sess);
            return UIS_ERR_AGAIN; /* stop conn_rx at this PDU boundary */
        }
        break;
    default:
        break;
    }
    return 0;
}

static const conn_rx_ops_t s_rx_ops = {s_on_header, s_on_pdu};

/* Reads what the socket has. */
static void
s_rx (s_sess_t *sess)
{
    if (sess->streams && s_rx_blocked (sess)) {
        s_rx_hold (sess);
        return;
    }
    int rc = conn_rx (sess->conn, &s_rx_ops, sess, S_RX_BUDGET, &sess->ctr.bytes_in);
    if (sess->doomed || conn_fd (sess->conn) < 0)
        return;
    if (rc == 0 || (rc == UIS_ERR_AGAIN && sess->rx_held)) {
        s_streams_flush (sess); /* what this round read goes out now */
        return;
    }
    const char *reason;
    if (rc == CONN_EOF || rc == UIS_ERR_TRUNCATED)
        reason = "eof";
    else if (rc == UIS_ERR_STATE)
        reason =
            conn_errno (sess->conn) == ECONNRESET ? "connection_reset" : "read_error";
    else if (rc == UIS_ERR_HEADER_DIGEST || rc == UIS_ERR_DATA_DIGEST)
        reason = "digest_error";
    else
        reason = "protocol_error";
    if (rc != CONN_EOF && rc != UIS_ERR_STATE)
        sess->dead_detail = uis_err_name (rc);
    s_conn_dead (sess, reason);
}

/* The session's fd is ready. */
static int
s_on_fd (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg)
{
    (void)reactor;
    s_sess_t *sess = arg;
    if (sess->state == ST_CONNECTING) {
        if (item->revents & (ZMQ_POLLOUT | ZMQ_POLLERR)) {
            if (conn_connect_check (sess->conn) != 0) {
                int e = conn_errno (sess->conn);
                s_attempt_failed (sess, rpc_error_transport ("connect", e, strerror (e)));
            }
            else
                s_login_begin (sess);
        }
    }
    else {
        if (item->revents & (ZMQ_POLLIN | ZMQ_POLLERR))
            s_rx (sess);
        if (!sess->doomed && conn_fd (sess->conn) >= 0 && (item->revents & ZMQ_POLLOUT))
            s_pump (sess);
        else if (!sess->doomed && conn_fd (sess->conn) >= 0)
            s_pump (sess); /* answers queued by what was received */
    }
    s_reap (sess);
    return 0;
}

/* --------------------------------------------------------- deadlines */

/* A request's deadline passed. */
static void
s_on_deadline (s_req_t *req)
{
    s_sess_t *sess = req->sess;
    io_t *io = sess->io;
    switch (req->kind) {
    case K_CMD:
        if (req->timed_out) { /* the abort grace ran out */
            s_reply_err (req, rpc_error_timeout (req->timeout_ms, false));
            s_stream_kill (req);
            return;
        }
        req->timed_out = true;
        if (!sess->eng) {
            s_reply_err (req, rpc_error_timeout (req->timeout_ms, false));
            return;
        }
        if (session_cancel (sess->eng, req->itt) == 0) {
            s_drain_events (sess); /* TIMEOUT, aborted: it never left */
            return;
        }
        s_req_t *abort = s_req_new (sess, K_ABORT, -1, 0);
        uint32_t itt;
        if (abort
            && session_tmf (sess->eng, PDU_TMF_ABORT_TASK, req->lun, req->itt, abort,
                            &itt)
                   == 0) {
            s_req_link (sess, abort);
            req->abort_sent = true;
            s_heap_set (io, req, s_now_ms () + IO_ABORT_GRACE_MS);
            s_stream_kill (req);
            s_pump (sess);
            return;
        }
        if (abort) {
            abort->free_next = io->free_reqs;
            io->free_reqs = abort;
        }
        s_reply_err (req, rpc_error_timeout (req->timeout_ms, false));
        s_stream_kill (req);
        return;
    case K_OPEN:
    case K_RECONNECT:
        s_attempt_failed (sess, rpc_error_timeout (req->timeout_ms, false));
        return;
    case K_DISCOVER:
        if (!req->replied) {
            s_attempt_failed (sess, rpc_error_timeout (req->timeout_ms, false));
            return;
        }
        s_conn_close (sess); /* the logout was not answered in time */
        s_set_state (sess, ST_CLOSED, "logout_timeout");
        sess->doomed = true;
        return;
    case K_CLOSE:
    case K_LOGOUT:
        if (req->draining) { /* N2: the drain deadline passed */
            uis_log (UIS_LOG_INFO, "io", sess->name,
                     "logout: %u command(s) still in flight after the drain deadline",
                     (unsigned)sess->in_flight);
            s_logout_send (sess);
            return;
        }
        s_close_finish (sess, "logout_timeout"); /* N3: no Logout Response */
        return;
    default:
        return;
    }
}

/* Engine timers (keepalive) of every session. */
static void
s_tick_sessions (io_t *io, uint64_t now)
{
    for (size_t b = 0; b < S_BUCKETS; b++) {
        s_sess_t *next;
        for (s_sess_t *s = io->buckets[b]; s; s = next) {
            next = s->hnext;
            if (s->rec && recovery_next_timer (s->rec) <= now) {
                recovery_tick (s->rec, now, s_rnd ());
                s_rec_run (s);
                if (s->doomed) {
                    s_reap (s);
                    continue;
                }
            }
            if (s->eng && s->rx_held) /* our own silence is not the target's */
                session_rx_hold (s->eng, now);
            if (s->eng && session_next_timer (s->eng) <= now) {
                session_tick (s->eng, now);
                s_drain_events (s);
                s_pump (s);
                s_reap (s);
            }
        }
    }
}

/* The tick timer: deadlines, then engine timers. */
static int
s_on_tick (rt_reactor_t *reactor, int timer_id, void *arg)
{
    (void)reactor;
    (void)timer_id;
    io_t *io = arg;
    uint64_t now = s_now_ms ();
    for (int n = 0; n < 4096 && io->nheap > 0 && io->heap[0]->deadline <= now; n++) {
        s_req_t *req = io->heap[0];
        s_sess_t *sess = req->sess;
        s_heap_remove (io, req);
        s_on_deadline (req);
        s_reap (sess);
    }
    s_tick_sessions (io, now);
    return 0;
}

/* session.metrics of one session. */
static json_t *
s_counters_json (s_sess_t *sess)
{
    return json_pack (
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "commands", (json_int_t)sess->ctr.commands,
        "bytes_in", (json_int_t)sess->ctr.bytes_in, "bytes_out",
        (json_int_t)sess->ctr.bytes_out, "pdus_in", (json_int_t)sess->ctr.pdus_in,
        "pdus_out", (json_int_t)sess->ctr.pdus_out, "errors",
        (json_int_t)sess->ctr.errors, "reconnects", (json_int_t)sess->ctr.reconnects);
}

/* The CmdSN window (MaxCmdSN - ExpCmdSN + 1, 0 when closed or none). */
static json_int_t
s_window (s_sess_t *sess)
{
    if (!sess->eng)
        return 0;
    int32_t w =
        (int32_t)(session_max_cmdsn (sess->eng) - session_exp_cmdsn (sess->eng)) + 1;
    return w > 0 ? w : 0;
}

/* Publishes session.metrics every second for the sessions not closed. */
static int
s_on_metrics (rt_reactor_t *reactor, int timer_id, void *arg)
{
    (void)reactor;
    (void)timer_id;
    io_t *io = arg;
    if (!io->metrics)
        return 0;
    for (size_t b = 0; b < S_BUCKETS; b++)
        for (s_sess_t *s = io->buckets[b]; s; s = s->hnext) {
            if (s->state == ST_CLOSED)
                continue;
            json_t *ev = s_counters_json (s);
            json_object_set_new (ev, "session", json_string (s->name));
            json_object_set_new (ev, "in_flight", json_integer (s->in_flight));
            json_object_set_new (ev, "cmdsn_window", json_integer (s_window (s)));
            json_object_set_new (ev, "state", json_string (s_state_names[s->state]));
            s_publish (io, "session.metrics", ev);
        }
    return 0;
}

/* ---------------------------------------------------------- messages */

/* Replies an error to a message that names no live request. */
static void
s_msg_error (io_t *io, int peer, const rt_msg_t *msg, json_t *error)
{
    int code = rpc_error_code (error);
    s_send_json (io, peer, msg->env.type == ENG_CMD ? ENG_CMD_DONE : ENG_REPLY,
                 msg->env.session, msg->env.corr, code < 0 ? code : RPC_E_INTERNAL_ERROR,
                 error);
}

/* Numbers discovery sessions for their event name "discovery-<n>" (n from
 * 1, daemon-wide: shared by every io actor). */
static atomic_uint s_discovery_seq;

/* Wipes the secrets of an auth object in place (the parsed copy). */
static void
s_wipe_auth (json_t *params)
{
    json_t *auth = json_object_get (params, "auth");
    const char *keys[] = {"secret", "target_secret"};
    for (size_t i = 0; i < 2; i++) {
        json_t *v = json_object_get (auth, keys[i]);
        if (json_is_string (v))
            OPENSSL_cleanse ((char *)json_string_value (v), json_string_length (v));
    }
}

/* The recovery settings of session.open's "recovery" object (API.md) on
 * top of recovery_cfg_defaults: max_attempts (default 8; 0 turns recovery
 * off: a dead connection fails every command at once with
 * SESSION_FAILED), backoff_ms (default 1000, doubling up to 30000),
 * replacement_timeout_ms (default 120000; 0: commands never wait, they
 * fail SESSION_RECOVERING). Writes are retriable (recovery.h). Returns
 * false when recovery is off. */
static bool
s_rec_cfg (const json_t *params, recovery_cfg_t *cfg)
{
    recovery_cfg_defaults (cfg);
    cfg->backoff_ms = 1000;
    cfg->backoff_max_ms = 30000;
    json_t *r = json_object_get (params, "recovery");
    json_t *v = json_object_get (r, "max_attempts");
    if (json_is_integer (v)) {
        json_int_t n = json_integer_value (v);
        if (n <= 0)
            return false;
        cfg->max_attempts = n > 1000000 ? 1000000 : (uint32_t)n;
    }
    v = json_object_get (r, "backoff_ms");
    if (json_is_integer (v) && json_integer_value (v) >= 0) {
        json_int_t n = json_integer_value (v);
        cfg->backoff_ms = n > 3600000 ? 3600000 : (uint32_t)n;
        if (cfg->backoff_ms > cfg->backoff_max_ms)
            cfg->backoff_max_ms = cfg->backoff_ms;
    }
    v = json_object_get (r, "replacement_timeout_ms");
    if (json_is_integer (v) && json_integer_value (v) >= 0) {
        json_int_t n = json_integer_value (v);
        cfg->replacement_timeout_ms = n > 86400000 ? 86400000 : (int64_t)n;
    }
    return true;
}

/* ENG_OPEN and ENG_DISCOVER: parse, create the session, connect. */
static void
s_msg_open (io_t *io, int peer, rt_msg_t *msg, bool discovery)
{
    json_t *params = bus_json_body (msg);
    size_t body_len = 0;
    const void *body = rt_msg_body (msg, &body_len);
    if (body)
        OPENSSL_cleanse ((void *)body, body_len); /* secrets travel in it */
    if (!discovery && (msg->env.session == 0 || s_sess_find (io, msg->env.session))) {
        json_decref (params);
        s_msg_error (io, peer, msg, rpc_error_invalid_request ("session id in use"));
        return;
    }
    json_t *error = NULL;
    login_flow_t *flow = login_flow_new (params, discovery, &error);
    char name[96];
    const char *sname = json_string_value (json_object_get (params, "session"));
    if (discovery) /* events name it; unique across io actors (4b) */
        snprintf (name, sizeof name, "discovery-%u",
                  atomic_fetch_add (&s_discovery_seq, 1u) + 1u);
    else if (sname)
        snprintf (name, sizeof name, "%s", sname);
    else
        snprintf (name, sizeof name, "%u", (unsigned)msg->env.session);
    recovery_cfg_t rcfg;
    bool rec_on = !discovery && s_rec_cfg (params, &rcfg);
    s_wipe_auth (params);
    json_decref (params);
    if (!flow) {
        s_msg_error (io, peer, msg, error);
        return;
    }
    s_sess_t *sess = s_sess_new (io, discovery ? 0 : msg->env.session, name, discovery);
    s_req_t *ctl =
        sess ? s_req_new (sess, discovery ? K_DISCOVER : K_OPEN, peer, msg->env.corr)
             : NULL;
    if (!ctl) {
        login_flow_destroy (&flow);
        if (sess)
            s_sess_free (sess);
        s_msg_error (io, peer, msg, rpc_error_internal ("nomem"));
        return;
    }
    sess->flow = flow;
    sess->ctl = ctl;
    sess->adopt_fd = rt_msg_take_fd (msg);
    ctl->timeout_ms = login_flow_opts (flow)->timeout_ms;
    sess->rec_on = rec_on;
    sess->writes_retriable = true;
    if (rec_on) {
        sess->rcfg = rcfg;
        sess->rcfg.login_timeout_ms = ctl->timeout_ms;
    }
    s_heap_set (io, ctl, s_now_ms () + ctl->timeout_ms);
    s_start_attempt (sess);
    s_reap (sess);
}

/* ENG_CMD: one SCSI command. */
static void
s_msg_cmd (io_t *io, int peer, rt_msg_t *msg)
{
    const eng_cmd_t *cmd = rt_msg_body_as (msg, sizeof (eng_cmd_t));
    s_sess_t *sess = s_sess_find (io, msg->env.session);
    if (!cmd) {
        s_msg_error (io, peer, msg, rpc_error_invalid_request ("ENG_CMD body"));
        return;
    }
    if (!sess) {
        s_msg_error (io, peer, msg, rpc_error_session_not_found (NULL));
        return;
    }
    bool park = sess->recovering && sess->rec; /* O4: recovery_submit decides */
    if (!park && (sess->state != ST_FULL_FEATURE || !sess->eng)) {
        json_t *error;
        if (sess->state == ST_FAILED)
            error = rpc_error_session_failed (sess->fail_reason ? sess->fail_reason
                                                                : "failed");
        else if (sess->state == ST_CONNECTING || sess->state == ST_LOGGING_IN)
            error = rpc_error_session_recovering (s_state_names[sess->state], -1);
        else
            error = rpc_error_cancelled ();
        s_msg_error (io, peer, msg, error);
        return;
    }
    size_t out_len = 0;
    if (msg->ndata > 0)
        rt_msg_data (msg, 0, &out_len);
    if (cmd->cdb_len == 0 || cmd->cdb_len > ENG_CDB_MAX || out_len != cmd->data_out_length
        || msg->ndata > 1) {
        s_msg_error (io, peer, msg,
                     rpc_error_invalid_params (
                         cmd->cdb_len == 0 || cmd->cdb_len > ENG_CDB_MAX ? "cdb" : "data",
                         "length mismatch"));
        return;
    }
    bool stream = (cmd->flags & ENG_CMD_F_STREAM) != 0;
    if (stream && cmd->window_bytes < s_mrdsl (sess)) {
        s_msg_error (io, peer, msg,
                     rpc_error_invalid_params (
                         "window_bytes", "below the session's MaxRecvDataSegmentLength"));
        return;
    }
    s_req_t *req = s_req_new (sess, K_CMD, peer, msg->env.corr);
    if (!req) {
        s_msg_error (io, peer, msg, rpc_error_internal ("nomem"));
        return;
    }
    if (cmd->data_out_length > 0) {
        zmq_msg_init (&req->dout);
        rt_msg_take_frame (msg, 0, &req->dout);
        req->has_dout = true;
    }
    if (cmd->data_in_length > 0 && !stream) {
        if (zmq_msg_init_size (&req->din, cmd->data_in_length) != 0) {
            s_req_free (req);
            s_msg_error (io, peer, msg, rpc_error_internal ("nomem"));
            return;
        }
        req->has_din = true;
    }
    memcpy (req->lun, cmd->lun, 8);
    req->opcode = cmd->cdb[0];
    memcpy (req->cdb, cmd->cdb, cmd->cdb_len);
    req->cdb_len = (uint8_t)cmd->cdb_len;
    req->din_len = cmd->data_in_length;
    req->dout_len = cmd->data_out_length;
    req->want_stream = stream;
    req->window = cmd->window_bytes;
    req->flags = cmd->flags;
    req->timeout_ms = cmd->timeout_ms ? cmd->timeout_ms : S_CMD_TIMEOUT_MS;
    req->deadline = s_now_ms () + req->timeout_ms;
    memcpy (req->tag, cmd->tag, ENG_TAG_MAX);
    req->tag[ENG_TAG_MAX] = 0;
    req->attr = SESSION_ATTR_SIMPLE;
    if (cmd->attr == PDU_ATTR_ORDERED)
        req->attr = SESSION_ATTR_ORDERED;
    else if (cmd->attr == PDU_ATTR_HEAD_OF_QUEUE)
        req->attr = SESSION_ATTR_HEAD_OF_QUEUE;
    else if (cmd->attr == PDU_ATTR_ACA)
        req->attr = SESSION_ATTR_ACA;
    if (park) {
        recovery_task_t t = s_rec_task (sess, req, false);
        bool held = false;
        int rc = recovery_submit (sess->rec, &t, s_now_ms (), &held);
        if (rc != 0 || !held) {
            s_req_free (req);
            s_msg_error (io, peer, msg,
                         rc != 0 ? rpc_error_limit_exceeded ("held", sess->rcfg.max_tasks)
                                 : rpc_error_session_recovering ("reconnecting", -1));
            return;
        }
        req->held = true;
        s_req_link (sess, req);
        if (stream) { /* in the stream list from now on (the retry keeps it) */
            req->stream = true;
            req->snext = sess->streams;
            if (sess->streams)
                sess->streams->sprev = req;
            sess->streams = req;
        }
        s_rec_run (sess);
        s_reap (sess);
        return;
    }
    int rc = s_cmd_submit (sess, req, true);
    if (rc != 0) {
        s_req_free (req);
        s_msg_error (io, peer, msg,
                     rc == UIS_ERR_AGAIN
                         ? rpc_error_limit_exceeded ("in_flight", IO_TASKS_MAX)
                         : rpc_error_invalid_params ("cdb", uis_err_name (rc)));
        return;
    }
    s_pump (sess);
    s_reap (sess);
}

/* Finds a live command of the session by the client's tag. */
static s_req_t *
s_find_tag (s_sess_t *sess, const char *tag)
{
    for (s_req_t *r = sess->live; r; r = r->next)
        if (r->kind == K_CMD && !r->replied && tag[0] && strcmp (r->tag, tag) == 0)
            return r;
    return NULL;
}

/* ENG_TMF. */
static void
s_msg_tmf (io_t *io, int peer, rt_msg_t *msg, s_sess_t *sess)
{
    const eng_tmf_t *t = rt_msg_body_as (msg, sizeof (eng_tmf_t));
    if (!t) {
        s_msg_error (io, peer, msg, rpc_error_invalid_request ("ENG_TMF body"));
        return;
    }
    char tag[ENG_TAG_MAX + 1];
    memcpy (tag, t->tag, ENG_TAG_MAX);
    tag[ENG_TAG_MAX] = 0;
    uint32_t ref_itt = 0;
    if (t->function == PDU_TMF_ABORT_TASK) {
        s_req_t *cmd = s_find_tag (sess, tag);
        if (!cmd) {
            s_send_json (io, peer, ENG_REPLY, sess->id, msg->env.corr, 0,
                         json_pack ("{s:i, s:s}", "response", PDU_TMF_RSP_NO_TASK,
                                    "response_name",
                                    s_tmf_response_name (PDU_TMF_RSP_NO_TASK)));
            return;
        }
        if (session_cancel (sess->eng, cmd->itt) == 0) { /* never sent */
            s_drain_events (sess);
            s_send_json (io, peer, ENG_REPLY, sess->id, msg->env.corr, 0,
                         json_pack ("{s:i, s:s}", "response", PDU_TMF_RSP_COMPLETE,
                                    "response_name",
                                    s_tmf_response_name (PDU_TMF_RSP_COMPLETE)));
            return;
        }
        ref_itt = cmd->itt;
        s_stream_kill (cmd); /* its data stops here; the abort must get through */
    }
    s_req_t *req = s_req_new (sess, K_TMF, peer, msg->env.corr);
    if (req)
        req->opcode =
            (uint8_t)t->function; /* M7: response 1 is final only for ABORT TASK */
    uint32_t itt;
    int rc = req ? session_tmf (sess->eng, t->function, t->lun, ref_itt, req, &itt)
                 : UIS_ERR_NOMEM;
    if (rc != 0) {
        if (req) {
            req->free_next = io->free_reqs;
            io->free_reqs = req;
        }
        s_msg_error (io, peer, msg,
                     rc == UIS_ERR_INVALID_ARG
                         ? rpc_error_invalid_params ("function", "not supported")
                         : rpc_error_limit_exceeded ("in_flight", IO_TASKS_MAX));
        return;
    }
    s_req_link (sess, req);
    s_pump (sess);
}

/* ENG_GET: the io side of <session info>. */
static json_t *
s_info (s_sess_t *sess)
{
    char isid[2 * PDU_ISID_LEN + 1];
    login_flow_isid_hex (sess->flow, isid);
    return json_pack ("{s:s, s:s, s:i, s:o, s:o, s:i, s:I, s:I, s:O}", "state",
                      sess->recovering ? "reconnecting" : s_state_names[sess->state],
                      "isid", isid, "tsih", sess->tsih, "negotiated",
                      sess->state == ST_FULL_FEATURE || sess->eng
                          ? login_flow_negotiated_json (&sess->params)
                          : json_object (),
                      "counters", s_counters_json (sess), "in_flight", sess->in_flight,
                      "cmdsn_window", s_window (sess), "reconnects",
                      (json_int_t)sess->ctr.reconnects, "last_error",
                      sess->last_error ? sess->last_error : json_null ());
}

/* The drain deadline of a close or logout whose call has timeout_ms: at
 * most IO_LOGOUT_DRAIN_MS, and short enough that the drain plus the wait
 * for the Logout Response (IO_LOGOUT_GRACE_MS) fit in timeout_ms. */
static uint32_t
s_drain_ms (uint32_t timeout_ms)
{
    uint32_t left = timeout_ms > IO_LOGOUT_GRACE_MS ? timeout_ms - IO_LOGOUT_GRACE_MS : 0;
    return left < IO_LOGOUT_DRAIN_MS ? left : IO_LOGOUT_DRAIN_MS;
}

/* Queues the Logout Request (reason 0, close the session) of the pending
 * close or logout (sess->ctl) and waits IO_LOGOUT_GRACE_MS for its
 * response (N3); when the engine refuses it, the close ends at once. */
static void
s_logout_send (s_sess_t *sess)
{
    s_req_t *req = sess->ctl;
    req->draining = false;
    for (s_req_t *r = sess->streams; r; r = r->snext)
        s_stream_kill (r); /* the Logout Response must not wait behind data */
    uint32_t itt;
    if (session_logout (sess->eng, PDU_LOGOUT_CLOSE_SESSION, 0, req, &itt) != 0) {
        s_close_finish (sess, req->kind == K_LOGOUT ? "logout" : "close");
        return;
    }
    s_heap_set (sess->io, req, s_now_ms () + IO_LOGOUT_GRACE_MS);
    s_pump (sess);
}

/* ENG_CLOSE / ENG_LOGOUT (body: optional {"timeout_ms"}). A forced close,
 * or a session not in full feature phase, closes at once (in-flight
 * commands end CANCELLED). Otherwise (N2, RFC 7143 §11.14: no new
 * commands once the logout is decided; the target terminates whatever is
 * still pending when it gets the Logout): the session goes to
 * logging_out, new commands are refused with CANCELLED, the in-flight ones
 * get up to s_drain_ms to complete normally, then the Logout Request goes
 * out; commands still in flight then end CANCELLED when the session
 * closes. No Logout Response within IO_LOGOUT_GRACE_MS: the connection is
 * closed anyway (N3, reply {"closed": true, "logout_timeout": true}). */
static void
s_msg_close (io_t *io, int peer, rt_msg_t *msg, s_sess_t *sess, bool logout)
{
    s_req_t *req = s_req_new (sess, logout ? K_LOGOUT : K_CLOSE, peer, msg->env.corr);
    if (!req) {
        s_msg_error (io, peer, msg, rpc_error_internal ("nomem"));
        return;
    }
    json_t *body = bus_json_body (msg);
    json_int_t tmo = json_integer_value (json_object_get (body, "timeout_ms"));
    json_decref (body);
    req->timeout_ms = tmo > 0 && tmo <= UINT32_MAX ? (uint32_t)tmo : S_CMD_TIMEOUT_MS;
    req->forced = msg->env.aux == 1;
    s_req_t *old = sess->ctl;
    bool was_draining = old && old->draining && sess->state == ST_LOGGING_OUT;
    uint64_t old_deadline = old ? old->deadline : 0;
    sess->ctl = req;
    if (old) { /* an open, reconnect or earlier close in progress */
        if (old->kind == K_CLOSE || old->kind == K_LOGOUT)
            s_reply_ok (old, json_pack ("{s:b}", "closed", 1));
        else
            s_reply_err (old, rpc_error_cancelled ());
        s_req_free (old);
    }
    if (sess->recovering && sess->rec) { /* N5: held commands end CANCELLED */
        recovery_close (sess->rec, s_now_ms ());
        s_rec_run (sess);
    }
    if (was_draining && !req->forced) { /* a second close joins the drain */
        req->draining = true;
        s_heap_set (io, req, old_deadline);
        return;
    }
    if (sess->state == ST_FULL_FEATURE && sess->eng && !req->forced) {
        s_set_state (sess, ST_LOGGING_OUT, logout ? "logout" : "close");
        if (sess->in_flight > 0) {
            req->draining = true;
            s_heap_set (io, req, s_now_ms () + s_drain_ms (req->timeout_ms));
            return;
        }
        s_logout_send (sess);
        return;
    }
    s_close_finish (sess, req->forced ? "forced_close" : logout ? "logout" : "close");
}

/* ENG_RECONNECT: drop the connection (if any) and log in again with the
 * same ISID and TSIH 0 (ERL 0 session reinstatement). */
static void
s_msg_reconnect (io_t *io, int peer, rt_msg_t *msg, s_sess_t *sess)
{
    if (sess->ctl) {
        s_msg_error (io, peer, msg,
                     rpc_error_session_recovering (s_state_names[sess->state], -1));
        return;
    }
    s_req_t *req = s_req_new (sess, K_RECONNECT, peer, msg->env.corr);
    if (!req) {
        s_msg_error (io, peer, msg, rpc_error_internal ("nomem"));
        return;
    }
    bool ffp = sess->state == ST_FULL_FEATURE && sess->eng;
    if (sess->rec
        && (sess->recovering
            || (ffp && recovery_state (sess->rec) == RECOVERY_S_FULL_FEATURE))) {
        /* the machine logs in at once (no wait, no backoff); in-flight
         * commands are retried or failed as for a loss; the reply comes
         * when that login ends */
        uint64_t now = s_now_ms ();
        sess->ctl = req;
        recovery_reconnect (sess->rec, now);
        if (ffp) {
            sess->fail_reason = "reconnect";
            s_rec_hand_over (sess, now);
        }
        s_rec_run (sess);
        return;
    }
    if (sess->state == ST_FULL_FEATURE || sess->state == ST_LOGGING_OUT)
        s_conn_dead (sess, "reconnect");
    sess->ctr.reconnects++;
    sess->ctl = req;
    req->timeout_ms = login_flow_opts (sess->flow)->timeout_ms;
    s_heap_set (io, req, s_now_ms () + req->timeout_ms);
    login_flow_reset_portal (sess->flow);
    s_start_attempt (sess);
}

/* ENG_CANCEL: the client is gone; abort the command, reply nothing. */
static void
s_msg_cancel (io_t *io, int peer, rt_msg_t *msg, s_sess_t *sess)
{
    for (s_req_t *r = sess->live; r; r = r->next) {
        if (r->kind != K_CMD || r->peer != peer || r->corr != msg->env.corr)
            continue;
        r->replied = true;
        if (session_cancel (sess->eng, r->itt) == 0) {
            s_drain_events (sess);
            return;
        }
        s_stream_kill (r);
        s_req_t *abort = s_req_new (sess, K_ABORT, -1, 0);
        uint32_t itt;
        if (abort
            && session_tmf (sess->eng, PDU_TMF_ABORT_TASK, r->lun, r->itt, abort, &itt)
                   == 0)
            s_req_link (sess, abort);
        else if (abort) {
            abort->free_next = io->free_reqs;
            io->free_reqs = abort;
        }
        s_pump (sess);
        return;
    }
}

/* One message from the ROUTER. */
static int
s_on_message (io_t *io, int peer, rt_msg_t *msg)
{
    uint16_t type = msg->env.type;
    if (type == ENG_OPEN || type == ENG_DISCOVER) {
        s_msg_open (io, peer, msg, type == ENG_DISCOVER);
        return 0;
    }
    if (type == ENG_CMD) {
        s_msg_cmd (io, peer, msg);
        return 0;
    }
    s_sess_t *sess = s_sess_find (io, msg->env.session);
    if (!sess) {
        if (type == ENG_CLOSE)
            s_send_json (io, peer, ENG_REPLY, msg->env.session, msg->env.corr, 0,
                         json_pack ("{s:b}", "closed", 1));
        else if (type != ENG_CANCEL && type != ENG_STREAM_ACK)
            s_msg_error (io, peer, msg, rpc_error_session_not_found (NULL));
        return 0;
    }
    bool ffp = sess->state == ST_FULL_FEATURE && sess->eng;
    switch (type) {
    case ENG_CLOSE:
    case ENG_LOGOUT:
        s_msg_close (io, peer, msg, sess, type == ENG_LOGOUT);
        break;
    case ENG_GET:
        s_send_json (io, peer, ENG_REPLY, sess->id, msg->env.corr, 0, s_info (sess));
        break;
    case ENG_RECONNECT:
        s_msg_reconnect (io, peer, msg, sess);
        break;
    case ENG_CANCEL:
        if (sess->eng)
            s_msg_cancel (io, peer, msg, sess);
        else
            for (s_req_t *r = sess->live; r; r = r->next)
                if (r->held && r->peer == peer && r->corr == msg->env.corr) {
                    recovery_task_cancel (sess->rec, (uint64_t)(uintptr_t)r);
                    s_req_free (r);
                    break;
                }
        break;
    case ENG_STREAM_ACK:
        s_msg_stream_ack (peer, msg, sess);
        break;
    case ENG_TMF:
    case ENG_NOP:
    case ENG_CONFIRM: {
        if (!ffp) {
            s_msg_error (io, peer, msg,
                         sess->state == ST_FAILED ? rpc_error_session_failed (
                             sess->fail_reason ? sess->fail_reason : "failed")
                                                  : rpc_error_session_recovering (
                                                      s_state_names[sess->state], -1));
            break;
        }
        if (type == ENG_TMF) {
            s_msg_tmf (io, peer, msg, sess);
            break;
        }
        if (type == ENG_CONFIRM) {
            int rc = session_confirm_exp_statsn (sess->eng);
            if (rc == 0)
                s_send_json (io, peer, ENG_REPLY, sess->id, msg->env.corr, 0,
                             json_object ());
            else
                s_msg_error (io, peer, msg,
                             rpc_error_limit_exceeded ("priority_lane", 0));
            s_pump (sess);
            break;
        }
        s_req_t *req = s_req_new (sess, K_NOP, peer, msg->env.corr);
        uint32_t itt;
        if (!req || session_ping (sess->eng, NULL, 0, req, &itt) != 0) {
            if (req) {
                req->free_next = io->free_reqs;
                io->free_reqs = req;
            }
            s_msg_error (io, peer, msg,
                         rpc_error_limit_exceeded ("in_flight", IO_TASKS_MAX));
            break;
        }
        s_req_link (sess, req);
        s_pump (sess);
        break;
    }
    default:
        s_msg_error (io, peer, msg, rpc_error_invalid_request ("unknown message type"));
        break;
    }
    s_reap (sess);
    return 0;
}

/* The ROUTER is readable: drain a bounded number of messages. */
static int
s_on_router (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg)
{
    (void)reactor;
    (void)item;
    io_t *io = arg;
    for (int n = 0; n < S_DRAIN_MAX; n++) {
        zmq_msg_t id;
        zmq_msg_init (&id);
        rt_msg_t msg;
        int rc = bus_router_recv (io->router, &id, &msg);
        if (rc == 0) {
            int peer = s_peer_index (io, &id);
            if (peer >= 0)
                s_on_message (io, peer, &msg);
            else
                uis_warn ("io", "too many peers: message dropped");
        }
        rt_msg_close (&msg);
        zmq_msg_close (&id);
        if (rc == UIS_ERR_AGAIN
            || (rc != 0 && rc != UIS_ERR_MALFORMED && rc != UIS_ERR_TOO_LONG))
            break;
    }
    return 0;
}

/* Interest notices from the metrics actor. */
static int
s_on_metrics_socket (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg)
{
    (void)reactor;
    io_t *io = arg;
    for (int n = 0; n < 64; n++) {
        rt_msg_t msg;
        int rc = rt_msg_recv (&msg, item->socket, ZMQ_DONTWAIT);
        if (rc == 0)
            metrics_client_on_msg (io->metrics, &msg);
        rt_msg_close (&msg);
        if (rc == UIS_ERR_AGAIN || (rc != 0 && rc != UIS_ERR_MALFORMED))
            break;
    }
    return 0;
}

/* ------------------------------------------------------------ actor */

/* Frees everything: sessions (no replies), sockets, timers. */
static void
s_io_free (io_t *io)
{
    for (size_t b = 0; b < S_BUCKETS; b++)
        while (io->buckets[b])
            s_sess_free (io->buckets[b]);
    while (io->others)
        s_sess_free (io->others);
    while (io->free_reqs) {
        s_req_t *r = io->free_reqs;
        io->free_reqs = r->free_next;
        free (r);
    }
    free (io->heap);
    if (io->tick_timer > 0)
        rt_reactor_timer_cancel (io->reactor, io->tick_timer);
    if (io->metrics_timer > 0)
        rt_reactor_timer_cancel (io->reactor, io->metrics_timer);
    if (io->router) {
        rt_reactor_remove_socket (io->reactor, io->router);
        rt_socket_destroy (&io->router);
    }
    if (io->metrics) {
        rt_reactor_remove_socket (io->reactor, metrics_client_socket (io->metrics));
        metrics_client_destroy (&io->metrics);
    }
    free (io);
}

/* TERM from the parent. */
static void
s_on_term (rt_body_t *body, void *state)
{
    (void)body;
    s_io_free (state);
}

/* The actor body: binds the ROUTER and starts the timers. */
int
io_actor (rt_body_t *body, void *args)
{
    const io_config_t *cfg = args;
    io_t *io = calloc (1, sizeof *io);
    if (!io)
        return UIS_ERR_NOMEM;
    io->body = body;
    io->reactor = rt_body_reactor (body);
    io->index = cfg->index;
    char endpoint[64];
    if (!cfg->endpoint && io_endpoint (cfg->index, endpoint, sizeof endpoint) != 0) {
        free (io);
        return UIS_ERR_INVALID_ARG;
    }
    int rc = 0;
    io->router = rt_socket_new (ZMQ_ROUTER);
    int zero = 0;
    if (!io->router)
        rc = UIS_ERR_NOMEM;
    else {
        zmq_setsockopt (io->router, ZMQ_SNDHWM, &zero, sizeof zero);
        zmq_setsockopt (io->router, ZMQ_RCVHWM, &zero, sizeof zero);
        if (zmq_bind (io->router, cfg->endpoint ? cfg->endpoint : endpoint) != 0)
            rc = rt_zmq_err (errno);
    }
    if (rc == 0)
        rc = rt_reactor_add_socket (io->reactor, io->router, ZMQ_POLLIN, s_on_router, io);
    if (rc == 0 && cfg->metrics_endpoint) {
        io->metrics = metrics_client_new (cfg->metrics_endpoint);
        if (!io->metrics)
            rc = UIS_ERR_STATE;
        else {
            metrics_client_watch (io->metrics, "pdu");
            metrics_client_watch (io->metrics, "command.complete");
            rc = rt_reactor_add_socket (io->reactor, metrics_client_socket (io->metrics),
                                        ZMQ_POLLIN, s_on_metrics_socket, io);
        }
    }
    if (rc == 0) {
        io->tick_timer = rt_reactor_timer_add (io->reactor, IO_TICK_MS, 0, s_on_tick, io);
        io->metrics_timer = rt_reactor_timer_add (io->reactor, 1000, 0, s_on_metrics, io);
        if (io->tick_timer < 0 || io->metrics_timer < 0)
            rc = UIS_ERR_NOMEM;
    }
    if (rc != 0) {
        s_io_free (io);
        return rc;
    }
    rt_body_set (body, NULL, s_on_term, io);
    return 0;
}
