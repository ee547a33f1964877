/* rpc_front.c: the JSON-RPC front end (ROUTER), its jobs and routing. */
#include "actors/rpc_front.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "actors/bus.h"
#include "actors/engine.h"
#include "actors/log.h"
#include "actors/rt/rt_ctx.h"
#include "proto/errors.h"
#include "proto/pdu.h"
#include "rpc/bulk.h"
#include "rpc/errors.h"
#include "rpc/jsonrpc.h"
#include "rpc/methods.h"
#include "rpc/scsi.h"

#define S_DRAIN_MAX 256  /* requests read per round before polling again */
#define S_BUCKETS   1024 /* client table buckets */
#define S_ROUTES    1024 /* route table buckets */
#define S_BS_MAX    256  /* cached block sizes per session */
#define S_IO_MAX    4096 /* io actors the front end talks to */
#define S_IO_PREFIX "inproc://uis-io-"

/* A cached LUN block size of a session (learned by READ CAPACITY). */
typedef struct s_bs {
    struct s_bs *next;
    uint8_t lun[8];
    uint32_t block_size;
} s_bs_t;

/* Where a session lives (ENG_ROUTE from dispatch). */
typedef struct s_route {
    struct s_route *next;
    uint32_t session; /* numeric id */
    uint32_t io;      /* io actor index */
    s_bs_t *bs;
    size_t nbs;
    char id[]; /* the string id */
} s_route_t;

/* State of one call sent to an io actor. */
typedef struct {
    rpc_scsi_op_t *op; /* SCSI calls; NULL for TMF/NOP/CONFIRM */
    uint32_t session;
    uint32_t io;
    bool sent;      /* a command or request is at the io actor */
    bool stream;    /* raw.stream: registered in front->streams */
    bool has_out;   /* out holds the Data-Out (a shared reference) */
    zmq_msg_t out;  /* the call's data param, kept for resends */
    bool has_in;    /* in holds the last Data-In */
    zmq_msg_t in;   /* Data-In of the last completion */
    size_t in_len;  /* bytes of it that are data (done.bytes) */
    uint8_t lun[8]; /* for the block size cache */
} s_call_t;

/* A client with messages in flight, keyed by its routing id. */
typedef struct s_client {
    struct s_client *next;
    uint32_t in_flight;
    size_t len;
    uint8_t id[];
} s_client_t;

/* One request message until its reply is sent. */
typedef struct {
    rpc_front_t *front;
    uint32_t slot;
    s_client_t *client; /* set while registered in flight */
    zmq_msg_t route;    /* the routing id frame */
    bool delim;         /* the client sent an empty delimiter */
    zmq_msg_t *in;      /* frame 0 and the attachments */
    size_t nin;
    zmq_msg_t *out; /* attachments of the reply (frame 1..) */
    size_t nout;
    size_t outcap;
    rpc_msg_t *msg;
    s_call_t *calls; /* per call, made when a call goes to an io actor */
} s_job_t;

typedef struct {
    uint64_t messages;
    uint64_t requests;
    uint64_t notifications;
    uint64_t batches;
    uint64_t errors;
    uint64_t limit_exceeded;
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t clients_gone;  /* clients whose connection closed */
    uint64_t jobs_reaped;   /* their messages dropped unanswered */
    uint64_t stale_dropped; /* messages read after their sender was gone */
} s_counters_t;

/* The connection (peer fd) a client's messages arrive on. One ZeroMQ
 * connection carries exactly one routing id; "dead" is the routing id of
 * the connection last closed on this fd, so that its messages still
 * queued in the ROUTER are dropped instead of being taken for a client. */
typedef struct {
    uint8_t *bound; /* routing id of the live connection, NULL: none yet */
    size_t bound_len;
    uint8_t *dead; /* routing id of the last closed connection, or NULL */
    size_t dead_len;
    uint8_t state; /* S_FD_*: what the monitor said last */
} s_peer_t;

enum { S_FD_UNKNOWN, S_FD_OPEN, S_FD_CLOSED };

#define S_PEER_FD_MAX (1 << 20) /* fds above this are not tracked */

struct rpc_front {
    void *router;
    void *metrics;  /* DEALER to the metrics actor, or NULL */
    void *dispatch; /* DEALER to the dispatch actor, or NULL */
    void **io;      /* DEALERs to the io actors, by index (NULL: not yet) */
    uint32_t nio;
    char *io_prefix;
    s_route_t *routes[S_ROUTES];
    size_t nroutes;
    rt_reactor_t *reactor;
    int timer;
    int drain_timer;
    const rpc_method_def_t *defs; /* rpc/methods.c's table, not owned */
    size_t ndefs;
    rpc_methods_t *methods;
    json_t *discover;
    rpc_limits_t rpc_limits;
    uis_limits_t limits;
    char *endpoint;
    char *events_endpoint;
    int64_t start_ms;
    uint32_t counters_interval_ms;
    bool accepting;
    bool draining;
    bool drained_sent;
    rt_body_t *body;
    /* jobs by slot; corr = gen << 40 | slot << 16 | call */
    s_job_t **slots;
    uint32_t *gens;
    uint32_t *free_slots;
    size_t nfree;
    size_t nslots;
    size_t in_flight; /* jobs registered, waiting for an actor */
    s_client_t *buckets[S_BUCKETS];
    size_t nclients;
    uint64_t *streams; /* corr of every raw.stream call in progress */
    size_t nstreams, capstreams;
    s_counters_t counters;
    void *monitor;   /* PAIR: the ROUTER's ACCEPTED / DISCONNECTED events */
    s_peer_t *peers; /* by peer fd */
    size_t npeers;
};

static int s_on_socket (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg);
static s_job_t *s_job_of (rpc_front_t *self, uint64_t corr, size_t *i_p);
static void s_scsi_finish (s_job_t *job, size_t i);
static bool s_peer_seen (rpc_front_t *self, int fd, const void *rid, size_t len);

/* Monotonic milliseconds. */
static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* zmq free function for malloc'd frames. */
static void
s_free (void *data, void *hint)
{
    (void)hint;
    free (data);
}

/* ------------------------------------------------------------ clients */

/* FNV-1a of a routing id, reduced to a bucket. */
static size_t
s_bucket (const void *id, size_t len)
{
    const uint8_t *p = id;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    return h % S_BUCKETS;
}

/* The client with this routing id, created when create is set; NULL if
 * absent (or out of memory). */
static s_client_t *
s_client (rpc_front_t *self, const void *id, size_t len, bool create)
{
    size_t b = s_bucket (id, len);
    for (s_client_t *c = self->buckets[b]; c; c = c->next)
        if (c->len == len && memcmp (c->id, id, len) == 0)
            return c;
    if (!create)
        return NULL;
    s_client_t *c = calloc (1, sizeof *c + len);
    if (!c)
        return NULL;
    c->len = len;
    memcpy (c->id, id, len);
    c->next = self->buckets[b];
    self->buckets[b] = c;
    self->nclients++;
    return c;
}

/* Removes a client that has nothing in flight. */
static void
s_client_drop (rpc_front_t *self, s_client_t *client)
{
    size_t b = s_bucket (client->id, client->len);
    for (s_client_t **pp = &self->buckets[b]; *pp; pp = &(*pp)->next)
        if (*pp == client) {
            *pp = client->next;
            free (client);
            self->nclients--;
            return;
        }
}

/* ------------------------------------------------------------- routes */

/* The route of a session string id, or NULL. */
static s_route_t *
s_route_find (rpc_front_t *self, const char *id)
{
    size_t len = strlen (id);
    for (s_route_t *r = self->routes[s_bucket (id, len) % S_ROUTES]; r; r = r->next)
        if (strcmp (r->id, id) == 0)
            return r;
    return NULL;
}

/* Frees a route and its cache. */
static void
s_route_free (s_route_t *r)
{
    while (r->bs) {
        s_bs_t *b = r->bs;
        r->bs = b->next;
        free (b);
    }
    free (r);
}

/* Removes the route of id (if any). */
static void
s_route_remove (rpc_front_t *self, const char *id)
{
    for (s_route_t **pp = &self->routes[s_bucket (id, strlen (id)) % S_ROUTES]; *pp;
         pp = &(*pp)->next)
        if (strcmp ((*pp)->id, id) == 0) {
            s_route_t *r = *pp;
            *pp = r->next;
            s_route_free (r);
            self->nroutes--;
            return;
        }
}

/* Adds or replaces the route of id. Returns 0 or UIS_ERR_NOMEM. */
static int
s_route_set (rpc_front_t *self, const char *id, uint32_t session, uint32_t io)
{
    s_route_remove (self, id);
    size_t len = strlen (id);
    s_route_t *r = calloc (1, sizeof *r + len + 1);
    if (!r)
        return UIS_ERR_NOMEM;
    memcpy (r->id, id, len + 1);
    r->session = session;
    r->io = io;
    size_t b = s_bucket (id, len) % S_ROUTES;
    r->next = self->routes[b];
    self->routes[b] = r;
    self->nroutes++;
    return 0;
}

/* The cached block size of a LUN of a session, 0 when unknown. */
static uint32_t
s_bs_get (const s_route_t *r, const uint8_t lun[8])
{
    for (const s_bs_t *b = r ? r->bs : NULL; b; b = b->next)
        if (memcmp (b->lun, lun, 8) == 0)
            return b->block_size;
    return 0;
}

/* Applies an op's cache note (rpc_scsi_op_cache_note) to a session. */
static void
s_bs_note (s_route_t *r, const uint8_t lun[8], int64_t note)
{
    if (!r || note == 0)
        return;
    for (s_bs_t **pp = &r->bs; *pp; pp = &(*pp)->next)
        if (memcmp ((*pp)->lun, lun, 8) == 0) {
            if (note > 0)
                (*pp)->block_size = (uint32_t)note;
            else {
                s_bs_t *b = *pp;
                *pp = b->next;
                free (b);
                r->nbs--;
            }
            return;
        }
    if (note < 0 || note > UINT32_MAX || r->nbs >= S_BS_MAX)
        return;
    s_bs_t *b = calloc (1, sizeof *b);
    if (!b)
        return;
    memcpy (b->lun, lun, 8);
    b->block_size = (uint32_t)note;
    b->next = r->bs;
    r->bs = b;
    r->nbs++;
}

/* The DEALER to io actor k, connected on first use; NULL when k is out of
 * range or the socket cannot be made. */
static void *
s_io_socket (rpc_front_t *self, uint32_t k)
{
    if (k >= S_IO_MAX)
        return NULL;
    if (k >= self->nio) {
        void **io = realloc (self->io, (k + 1) * sizeof *io);
        if (!io)
            return NULL;
        for (uint32_t j = self->nio; j <= k; j++)
            io[j] = NULL;
        self->io = io;
        self->nio = k + 1;
    }
    if (!self->io[k]) {
        char ep[256];
        snprintf (ep, sizeof ep, "%s%u", self->io_prefix, k);
        void *sock = rt_socket_new (ZMQ_DEALER);
        if (!sock)
            return NULL;
        if (zmq_connect (sock, ep) != 0) {
            rt_socket_destroy (&sock);
            return NULL;
        }
        if (self->reactor
            && rt_reactor_add_socket (self->reactor, sock, ZMQ_POLLIN, s_on_socket, self)
                   != 0) {
            rt_socket_destroy (&sock);
            return NULL;
        }
        self->io[k] = sock;
    }
    return self->io[k];
}

/* ENG_ROUTE from dispatch: adds (aux = io index) or removes (aux =
 * UINT64_MAX) the route of the session named by the body. */
static void
s_on_route (rpc_front_t *self, const rt_msg_t *msg)
{
    size_t len = 0;
    const char *body = rt_msg_body (msg, &len);
    char id[ENG_TAG_MAX + 1];
    if (!body || len == 0 || len > ENG_TAG_MAX || memchr (body, '\0', len))
        return;
    memcpy (id, body, len);
    id[len] = '\0';
    if (msg->env.aux == UINT64_MAX)
        s_route_remove (self, id);
    else if (msg->env.aux < S_IO_MAX && msg->env.session != 0) {
        if (s_route_set (self, id, msg->env.session, (uint32_t)msg->env.aux) == 0)
            s_io_socket (self, (uint32_t)msg->env.aux);
    }
}

/* --------------------------------------------------------------- jobs */

/* Takes a free slot for job; returns false when RPC_FRONT_JOBS_MAX are
 * taken or out of memory. */
static bool
s_slot_take (rpc_front_t *self, s_job_t *job)
{
    if (self->nfree == 0) {
        if (self->nslots >= RPC_FRONT_JOBS_MAX)
            return false;
        size_t n = self->nslots ? self->nslots * 2 : 64;
        if (n > RPC_FRONT_JOBS_MAX)
            n = RPC_FRONT_JOBS_MAX;
        s_job_t **slots = realloc (self->slots, n * sizeof *slots);
        if (!slots)
            return false;
        self->slots = slots;
        uint32_t *gens = realloc (self->gens, n * sizeof *gens);
        if (!gens)
            return false;
        self->gens = gens;
        uint32_t *free_slots = realloc (self->free_slots, n * sizeof *free_slots);
        if (!free_slots)
            return false;
        self->free_slots = free_slots;
        for (size_t i = n; i > self->nslots; i--) {
            self->slots[i - 1] = NULL;
            self->gens[i - 1] = 0;
            self->free_slots[self->nfree++] = (uint32_t)(i - 1);
        }
        self->nslots = n;
    }
    job->slot = self->free_slots[--self->nfree];
    self->slots[job->slot] = job;
    return true;
}

/* The correlation id of call i of job. */
static uint64_t
s_corr (const s_job_t *job, size_t i)
{
    return ((uint64_t)job->front->gens[job->slot] << 40) | ((uint64_t)job->slot << 16)
           | (uint64_t)i;
}

/* Registers a raw.stream call (its corr) so that acks find it. Returns 0
 * or UIS_ERR_NOMEM. */
static int
s_stream_add (rpc_front_t *self, uint64_t corr)
{
    if (self->nstreams == self->capstreams) {
        size_t cap = self->capstreams ? 2 * self->capstreams : 16;
        uint64_t *v = realloc (self->streams, cap * sizeof *v);
        if (!v)
            return UIS_ERR_NOMEM;
        self->streams = v;
        self->capstreams = cap;
    }
    self->streams[self->nstreams++] = corr;
    return 0;
}

/* Forgets a raw.stream call (no-op when it is not registered). */
static void
s_stream_forget (rpc_front_t *self, uint64_t corr)
{
    for (size_t k = 0; k < self->nstreams; k++)
        if (self->streams[k] == corr) {
            self->streams[k] = self->streams[--self->nstreams];
            return;
        }
}

/* Frees what a call holds. */
static void
s_call_fini (s_call_t *call)
{
    rpc_scsi_op_destroy (&call->op);
    if (call->has_out)
        zmq_msg_close (&call->out);
    if (call->has_in)
        zmq_msg_close (&call->in);
    call->has_out = call->has_in = false;
}

/* Frees a job and its frames; releases its slot and in-flight count. */
static void
s_job_free (s_job_t *job)
{
    rpc_front_t *self = job->front;
    for (size_t i = 0; job->calls && i < rpc_msg_count (job->msg); i++)
        if (job->calls[i].stream) { /* before the slot's generation moves */
            s_stream_forget (self, s_corr (job, i));
            job->calls[i].stream = false;
        }
    if (self->slots && job->slot < self->nslots && self->slots[job->slot] == job) {
        self->slots[job->slot] = NULL;
        self->gens[job->slot] = (self->gens[job->slot] + 1) & 0xffffffu;
        self->free_slots[self->nfree++] = job->slot;
    }
    if (job->client) {
        self->in_flight--;
        if (--job->client->in_flight == 0)
            s_client_drop (self, job->client);
    }
    zmq_msg_close (&job->route);
    for (size_t i = 0; job->calls && i < rpc_msg_count (job->msg); i++)
        s_call_fini (&job->calls[i]);
    free (job->calls);
    for (size_t i = 0; i < job->nin; i++)
        zmq_msg_close (&job->in[i]);
    for (size_t i = 0; i < job->nout; i++)
        zmq_msg_close (&job->out[i]);
    free (job->in);
    free (job->out);
    rpc_msg_destroy (&job->msg);
    free (job);
}

/* A new empty out frame of job (index nout after the call); NULL when out
 * of memory or RPC_FRONT_FRAMES_MAX are used. */
static zmq_msg_t *
s_job_add_out (s_job_t *job, size_t *k_p)
{
    if (job->nout + 1 >= RPC_FRONT_FRAMES_MAX)
        return NULL;
    if (job->nout == job->outcap) {
        size_t cap = job->outcap ? job->outcap * 2 : 2;
        zmq_msg_t *out = realloc (job->out, cap * sizeof *out);
        if (!out)
            return NULL;
        job->out = out;
        job->outcap = cap;
    }
    zmq_msg_t *f = &job->out[job->nout++];
    zmq_msg_init (f);
    *k_p = job->nout;
    return f;
}

/* ------------------------------------------------------------ replies */

/* Counts the error responses in a reply (an object or a batch array). */
static void
s_count_errors (rpc_front_t *self, const json_t *reply)
{
    if (json_is_object (reply) && json_object_get (reply, "error"))
        self->counters.errors++;
    size_t i;
    json_t *r;
    if (json_is_array (reply))
        json_array_foreach (reply, i, r) if (json_object_get (r, "error"))
            self->counters.errors++;
}

/* Sends reply (borrowed) to the client: route (moved), the delimiter if
 * delim, the JSON frame, then out[0..nout) (moved). Never blocks; a reply
 * to a client that is gone is dropped by the ROUTER. */
static void
s_send (rpc_front_t *self, zmq_msg_t *route, bool delim, const json_t *reply,
        zmq_msg_t *out, size_t nout)
{
    s_count_errors (self, reply);
    char *text = json_dumps (reply, JSON_COMPACT);
    if (!text)
        return;
    size_t len = strlen (text);
    zmq_msg_t frame;
    if (zmq_msg_init_data (&frame, text, len, s_free, NULL) != 0) {
        free (text);
        return;
    }
    if (zmq_msg_send (route, self->router, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0
        || (delim && zmq_send (self->router, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)) {
        zmq_msg_close (&frame);
        return;
    }
    if (zmq_msg_send (&frame, self->router, (nout ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT)
        < 0) {
        zmq_msg_close (&frame);
        return;
    }
    self->counters.bytes_out += len;
    for (size_t i = 0; i < nout; i++) {
        size_t size = zmq_msg_size (&out[i]);
        if (zmq_msg_send (&out[i], self->router,
                          (i + 1 < nout ? ZMQ_SNDMORE : 0) | ZMQ_DONTWAIT)
            < 0)
            return;
        self->counters.bytes_out += size;
    }
}

/* Sends an error response with id null (a fault of the whole frame). */
static void
s_send_error (rpc_front_t *self, zmq_msg_t *route, bool delim, json_t *error)
{
    json_t *reply = error ? rpc_response_error (NULL, error) : NULL;
    if (reply)
        s_send (self, route, delim, reply, NULL, 0);
    json_decref (reply);
}

/* Tells the parent that draining is over (once). */
static void
s_drained (rpc_front_t *self)
{
    if (!self->draining || self->drained_sent || self->in_flight > 0)
        return;
    self->drained_sent = true;
    if (self->drain_timer > 0 && self->reactor)
        rt_reactor_timer_cancel (self->reactor, self->drain_timer);
    self->drain_timer = 0;
    if (self->body)
        rt_msg_signal (rt_body_pipe (self->body), BUS_DRAINED, 0, ZMQ_DONTWAIT);
}

/* All calls of job are answered: sends the reply (if any) and frees it. */
static void
s_job_finish (s_job_t *job)
{
    rpc_front_t *self = job->front;
    json_t *reply = NULL;
    if (rpc_msg_reply (job->msg, &reply) == 0 && reply)
        s_send (self, &job->route, job->delim, reply, job->out, job->nout);
    json_decref (reply);
    s_job_free (job);
    s_drained (self);
}

/* -------------------------------------------------- handlers and routes */

/* Answers call i with the error of a failed forward. */
static int
s_fail_forward (rpc_msg_t *msg, size_t i, const char *reason)
{
    return rpc_msg_fail (msg, i, rpc_error_internal (reason));
}

/* rpc.discover: the cached result. */
static int
s_h_discover (void *ctx, rpc_msg_t *msg, size_t i)
{
    s_job_t *job = ctx;
    return rpc_msg_answer (msg, i, json_incref (job->front->discover));
}

/* The limits object of daemon.info. */
static json_t *
s_limits_json (const rpc_front_t *self)
{
    return json_pack ("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "frame0_bytes",
                      (json_int_t)self->limits.frame0_bytes, "data_bytes",
                      (json_int_t)self->limits.data_bytes, "in_flight_per_client",
                      (json_int_t)self->limits.in_flight_per_client, "sessions",
                      (json_int_t)self->limits.sessions, "batch_items",
                      (json_int_t)self->rpc_limits.batch_max, "json_depth",
                      (json_int_t)self->rpc_limits.json_depth_max, "frames",
                      (json_int_t)RPC_FRONT_FRAMES_MAX);
}

/* daemon.info. */
static int
s_h_info (void *ctx, rpc_msg_t *msg, size_t i)
{
    s_job_t *job = ctx;
    rpc_front_t *self = job->front;
    json_t *result = json_pack (
        "{s:s, s:i, s:I, s:I, s:{s:s, s:s}, s:o, s:[s, s, s, s, s]}", "version",
        UIS_VERSION, "api_version", RPC_API_VERSION, "pid", (json_int_t)getpid (),
        "uptime_ms", (json_int_t)(s_now_ms () - self->start_ms), "endpoints", "rpc",
        self->endpoint, "events", self->events_endpoint, "limits", s_limits_json (self),
        "features", "attachments", "batch", "events", "events.get", "rpc.echo");
    return rpc_msg_answer (msg, i, result);
}

/* rpc.echo: data back, the same attachment frame when it came as one. */
static int
s_h_echo (void *ctx, rpc_msg_t *msg, size_t i)
{
    s_job_t *job = ctx;
    rpc_front_t *self = job->front;
    if (rpc_msg_is_notification (msg, i))
        return rpc_msg_answer (msg, i, json_object ());
    json_t *params = rpc_msg_params (msg, i);
    rpc_frame_t views[RPC_FRONT_FRAMES_MAX];
    for (size_t k = 0; k < job->nin; k++)
        views[k] = (rpc_frame_t){zmq_msg_data (&job->in[k]), zmq_msg_size (&job->in[k])};
    rpc_bulk_t bulk;
    json_t *error = rpc_bulk_resolve (json_object_get (params, "data"), "data", views,
                                      job->nin, self->limits.data_bytes, &bulk);
    if (error)
        return rpc_msg_fail (msg, i, error);
    json_t *data = NULL;
    if (rpc_bulk_encoding (params) == RPC_BULK_ATTACHMENT) {
        size_t k = 0;
        zmq_msg_t *f = s_job_add_out (job, &k);
        int rc = -1;
        if (f && bulk.frame > 0)
            rc = zmq_msg_copy (f, &job->in[bulk.frame]); /* shares the buffer */
        else if (f && bulk.owned) {
            rc = zmq_msg_init_data (f, bulk.owned, bulk.size, s_free, NULL);
            if (rc == 0)
                bulk.owned = NULL; /* libzmq frees it */
        }
        else if (f) {
            rc = zmq_msg_init_size (f, bulk.size);
            if (rc == 0 && bulk.size)
                memcpy (zmq_msg_data (f), bulk.data, bulk.size);
        }
        if (rc == 0)
            data = rpc_attachment_new (k);
        else if (f)
            job->nout--; /* f is closed-equivalent: left initialised and empty */
    }
    else
        data = rpc_bulk_result (params, bulk.data, bulk.size, 0);
    size_t n = bulk.size;
    rpc_bulk_release (&bulk);
    if (!data)
        return rpc_msg_fail (msg, i, rpc_error_internal ("out of memory"));
    return rpc_msg_answer (
        msg, i, json_pack ("{s:o, s:I}", "data", data, "bytes", (json_int_t)n));
}

/* events.get: asks the metrics actor. */
static int
s_h_events_get (void *ctx, rpc_msg_t *msg, size_t i)
{
    s_job_t *job = ctx;
    rpc_front_t *self = job->front;
    if (!self->metrics)
        return s_fail_forward (msg, i, "no event ring");
    json_t *params = rpc_msg_params (msg, i);
    json_int_t since = json_integer_value (json_object_get (params, "since_seq"));
    json_int_t max = json_integer_value (json_object_get (params, "max"));
    bus_events_get_t q = {(uint64_t)(since < 0 ? 0 : since),
                          (uint32_t)(max < 1       ? 1000
                                     : max > 10000 ? 10000
                                                   : max),
                          0};
    rt_msg_t fwd;
    rt_msg_init (&fwd, BUS_EVENTS_GET);
    fwd.env.corr = s_corr (job, i);
    int rc = rt_msg_set_body (&fwd, &q, sizeof q);
    if (rc == 0)
        rc = rt_msg_send (&fwd, self->metrics, ZMQ_DONTWAIT);
    rt_msg_close (&fwd);
    return rc == 0 ? 0 : s_fail_forward (msg, i, "event ring busy");
}

/* ------------------------------------------------------ io actor calls */

/* The state of call i of job, made on first use; NULL when out of
 * memory. */
static s_call_t *
s_call (s_job_t *job, size_t i)
{
    if (!job->calls)
        job->calls = calloc (rpc_msg_count (job->msg), sizeof *job->calls);
    return job->calls ? &job->calls[i] : NULL;
}

/* The route of call i's session; answers SESSION_NOT_FOUND and returns
 * NULL when there is none. */
static s_route_t *
s_call_route (s_job_t *job, rpc_msg_t *msg, size_t i)
{
    const char *id =
        json_string_value (json_object_get (rpc_msg_params (msg, i), "session"));
    s_route_t *r = id ? s_route_find (job->front, id) : NULL;
    if (!r)
        rpc_msg_fail (msg, i, rpc_error_session_not_found (id));
    return r;
}

/* Sends the current command of call i's op to its io actor: ENG_CMD with
 * the Data-Out as data frame 0 (a shared reference to the client's frame:
 * no copy; or the parameter list the op built). Returns 0 or an error
 * code (nothing was sent). */
static int
s_send_cmd (s_job_t *job, size_t i)
{
    rpc_front_t *self = job->front;
    s_call_t *call = &job->calls[i];
    const eng_cmd_t *cmd = rpc_scsi_op_cmd (call->op);
    rt_msg_t m;
    rt_msg_init (&m, ENG_CMD);
    m.env.session = call->session;
    m.env.corr = s_corr (job, i);
    int rc = rt_msg_set_body (&m, cmd, sizeof *cmd);
    const uint8_t *buf = NULL;
    size_t len = 0;
    rpc_scsi_out_t out = rpc_scsi_op_out (call->op, &buf, &len);
    if (rc == 0 && out != RPC_SCSI_OUT_NONE) {
        zmq_msg_t f;
        zmq_msg_init (&f);
        if (out == RPC_SCSI_OUT_PARAM)
            rc = call->has_out && zmq_msg_copy (&f, &call->out) == 0 ? 0 : UIS_ERR_STATE;
        else {
            zmq_msg_close (&f);
            rc = zmq_msg_init_size (&f, len) == 0 ? 0 : UIS_ERR_NOMEM;
            if (rc == 0 && len)
                memcpy (zmq_msg_data (&f), buf, len);
            if (rc != 0)
                zmq_msg_init (&f);
        }
        if (rc == 0)
            rc = rt_msg_add_frame (&m, &f);
        zmq_msg_close (&f);
    }
    void *sock = rc == 0 ? s_io_socket (self, call->io) : NULL;
    if (rc == 0)
        rc = sock ? rt_msg_send (&m, sock, ZMQ_DONTWAIT) : UIS_ERR_STATE;
    rt_msg_close (&m);
    call->sent = rc == 0;
    return rc;
}

/* scsi.* and raw.execute: makes the op and sends its first command. */
static int
s_h_scsi (void *ctx, rpc_msg_t *msg, size_t i)
{
    s_job_t *job = ctx;
    rpc_front_t *self = job->front;
    json_t *params = rpc_msg_params (msg, i);
    s_route_t *r = s_call_route (job, msg, i);
    if (!r)
        return 0;
    s_call_t *call = s_call (job, i);
    if (!call)
        return rpc_msg_fail (msg, i, rpc_error_internal ("out of memory"));
    call->session = r->session;
    call->io = r->io;
    size_t data_len = 0;
    const json_t *data = json_object_get (params, "data");
    if (data) {
        rpc_frame_t views[RPC_FRONT_FRAMES_MAX];
        for (size_t k = 0; k < job->nin; k++)
            views[k] =
                (rpc_frame_t){zmq_msg_data (&job->in[k]), zmq_msg_size (&job->in[k])};
        rpc_bulk_t bulk;
        json_t *error = rpc_bulk_resolve (data, "data", views, job->nin,
                                          self->limits.data_bytes, &bulk);
        if (error)
            return rpc_msg_fail (msg, i, error);
        int rc = 0;
        if (bulk.frame > 0) {
            zmq_msg_init (&call->out);
            rc = zmq_msg_copy (&call->out, &job->in[bulk.frame]); /* shares it */
        }
        else if (bulk.owned) {
            rc = zmq_msg_init_data (&call->out, bulk.owned, bulk.size, s_free, NULL);
            if (rc == 0)
                bulk.owned = NULL; /* libzmq frees it */
            else
                zmq_msg_init (&call->out);
        }
        else
            zmq_msg_init (&call->out);
        call->has_out = true;
        data_len = bulk.size;
        rpc_bulk_release (&bulk);
        if (rc != 0)
            return rpc_msg_fail (msg, i, rpc_error_internal ("out of memory"));
    }
    const json_t *lun = json_object_get (params, "lun");
    if (lun)
        rpc_scsi_lun (lun, call->lun); /* a bad LUN is refused by the op */
    json_t *error = NULL;
    call->op = rpc_scsi_op_new (rpc_msg_method (msg, i), params, data_len,
                                s_bs_get (r, call->lun), self->limits.data_bytes, &error);
    if (!call->op) {
        s_call_fini (call);
        return rpc_msg_fail (msg, i, error);
    }
    if (s_send_cmd (job, i) != 0) {
        s_call_fini (call);
        return s_fail_forward (msg, i, "io actor busy");
    }
    return 0;
}

/* raw.stream: raw.execute with ENG_CMD_F_STREAM (rpc/scsi.h); the call is
 * registered so that its raw.stream.data notifications and the client's
 * raw.stream.ack find it. A notification cannot stream (no id to name). */
static int
s_h_stream (void *ctx, rpc_msg_t *msg, size_t i)
{
    s_job_t *job = ctx;
    if (rpc_msg_is_notification (msg, i) || !rpc_msg_id (msg, i))
        return rpc_msg_fail (msg, i,
                             rpc_error_invalid_request ("raw.stream needs an id"));
    s_h_scsi (ctx, msg, i);
    if (!rpc_msg_is_pending (msg, i) || !job->calls || !job->calls[i].op)
        return 0;
    if (s_stream_add (job->front, s_corr (job, i)) != 0) {
        /* the command is at the io actor: it ends without a reader */
        rt_msg_t m;
        rt_msg_init (&m, ENG_CANCEL);
        m.env.session = job->calls[i].session;
        m.env.corr = s_corr (job, i);
        void *sock = s_io_socket (job->front, job->calls[i].io);
        if (sock)
            rt_msg_send (&m, sock, ZMQ_DONTWAIT);
        rt_msg_close (&m);
        s_call_fini (&job->calls[i]);
        return rpc_msg_fail (msg, i, rpc_error_internal ("out of memory"));
    }
    job->calls[i].stream = true;
    return 0;
}

/* The raw.stream call of a client (route) with this request id, or NULL
 * (*i_p gets the call). */
static s_job_t *
s_stream_find (rpc_front_t *self, const zmq_msg_t *route, const json_t *id, size_t *i_p)
{
    size_t len = zmq_msg_size ((zmq_msg_t *)route);
    const void *rid = zmq_msg_data ((zmq_msg_t *)route);
    for (size_t k = 0; k < self->nstreams; k++) {
        s_job_t *job = s_job_of (self, self->streams[k], i_p);
        if (!job || !job->calls || !job->calls[*i_p].stream)
            continue;
        if (zmq_msg_size (&job->route) != len
            || memcmp (zmq_msg_data (&job->route), rid, len) != 0)
            continue;
        const json_t *jid = rpc_msg_id (job->msg, *i_p);
        if (jid && json_equal ((json_t *)jid, (json_t *)id))
            return job;
    }
    return NULL;
}

/* raw.stream.ack {id, bytes} (a notification: bytes consumed since the
 * previous ack, as the Python client sends them): ENG_STREAM_ACK to the
 * stream's io actor. An ack for no live stream (ended, or not ours) is
 * ignored; with an id the answer is {}. */
static int
s_h_stream_ack (void *ctx, rpc_msg_t *msg, size_t i)
{
    s_job_t *job = ctx;
    rpc_front_t *self = job->front;
    json_t *params = rpc_msg_params (msg, i);
    json_int_t bytes = json_integer_value (json_object_get (params, "bytes"));
    size_t k = 0;
    s_job_t *sj = s_stream_find (self, &job->route, json_object_get (params, "id"), &k);
    if (sj && bytes > 0 && sj->calls[k].sent) {
        rt_msg_t m;
        rt_msg_init (&m, ENG_STREAM_ACK);
        m.env.session = sj->calls[k].session;
        m.env.corr = s_corr (sj, k);
        m.env.aux = (uint64_t)bytes;
        void *sock = s_io_socket (self, sj->calls[k].io);
        if (sock)
            rt_msg_send (&m, sock, ZMQ_DONTWAIT);
        rt_msg_close (&m);
    }
    return rpc_msg_answer (msg, i, json_object ());
}

/* ENG_STREAM_DATA from an io actor: one chunk of a raw.stream, sent to the
 * client as the notification raw.stream.data {id, offset, bytes} with the
 * chunk (moved, no copy) as frame 1. When the client is gone (the ROUTER
 * cannot route to it: checked with ZMQ_ROUTER_MANDATORY for this send
 * only) the command is cancelled at the io actor (ABORT TASK) and the call
 * ends. */
static void
s_on_stream_data (rpc_front_t *self, rt_msg_t *m)
{
    size_t i = 0;
    s_job_t *job = s_job_of (self, m->env.corr, &i);
    if (!job || !job->calls || !job->calls[i].stream || m->ndata != 1)
        return; /* the call is over: the chunk is dropped */
    zmq_msg_t chunk;
    zmq_msg_init (&chunk);
    rt_msg_take_frame (m, 0, &chunk);
    size_t n = zmq_msg_size (&chunk);
    json_t *note = json_pack ("{s:s, s:s, s:{s:O, s:I, s:I}}", "jsonrpc", "2.0", "method",
                              "raw.stream.data", "params", "id", rpc_msg_id (job->msg, i),
                              "offset", (json_int_t)m->env.aux, "bytes", (json_int_t)n);
    char *text = note ? json_dumps (note, JSON_COMPACT) : NULL;
    json_decref (note);
    zmq_msg_t route, frame;
    zmq_msg_init (&route);
    zmq_msg_init (&frame);
    int rc = text && zmq_msg_copy (&route, &job->route) == 0 ? 0 : -1;
    if (rc == 0 && zmq_msg_init_data (&frame, text, strlen (text), s_free, NULL) == 0)
        text = NULL; /* libzmq frees it */
    else
        rc = -1;
    free (text);
    int on = 1, off = 0;
    zmq_setsockopt (self->router, ZMQ_ROUTER_MANDATORY, &on, sizeof on);
    if (rc == 0)
        rc = zmq_msg_send (&route, self->router, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ? -1 : 0;
    if (rc == 0 && job->delim)
        rc = zmq_send (self->router, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ? -1 : 0;
    size_t fsize = zmq_msg_size (&frame);
    if (rc == 0)
        rc = zmq_msg_send (&frame, self->router, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ? -1 : 0;
    if (rc == 0)
        rc = zmq_msg_send (&chunk, self->router, ZMQ_DONTWAIT) < 0 ? -1 : 0;
    zmq_setsockopt (self->router, ZMQ_ROUTER_MANDATORY, &off, sizeof off);
    zmq_msg_close (&route);
    zmq_msg_close (&frame);
    zmq_msg_close (&chunk);
    if (rc == 0) {
        self->counters.bytes_out += fsize + n;
        return;
    }
    /* The client cannot take it (gone, or its queue is full): the stream
     * cannot go on without losing data. */
    s_call_t *call = &job->calls[i];
    rt_msg_t c;
    rt_msg_init (&c, ENG_CANCEL);
    c.env.session = call->session;
    c.env.corr = m->env.corr;
    void *sock = s_io_socket (self, call->io);
    if (sock)
        rt_msg_send (&c, sock, ZMQ_DONTWAIT);
    rt_msg_close (&c);
    call->sent = false;
    rpc_scsi_op_fail (call->op, rpc_error_cancelled ());
    s_scsi_finish (job, i);
}

/* TMF functions by method. */
static const struct {
    const char *method;
    uint8_t function;
    bool lun;
} s_tmfs[] = {
    {"tmf.abort_task", PDU_TMF_ABORT_TASK, false},
    {"tmf.abort_task_set", PDU_TMF_ABORT_TASK_SET, true},
    {"tmf.clear_task_set", PDU_TMF_CLEAR_TASK_SET, true},
    {"tmf.lun_reset", PDU_TMF_LOGICAL_UNIT_RESET, true},
    {"tmf.target_warm_reset", PDU_TMF_TARGET_WARM_RESET, false},
    {"tmf.target_cold_reset", PDU_TMF_TARGET_COLD_RESET, false},
};

/* tmf.*, protocol.nop and protocol.confirm_exp_stat_sn: ENG_TMF, ENG_NOP
 * or ENG_CONFIRM to the session's io actor, answered by ENG_REPLY. */
static int
s_h_session_io (void *ctx, rpc_msg_t *msg, size_t i)
{
    s_job_t *job = ctx;
    rpc_front_t *self = job->front;
    const char *method = rpc_msg_method (msg, i);
    json_t *params = rpc_msg_params (msg, i);
    s_route_t *r = s_call_route (job, msg, i);
    if (!r)
        return 0;
    s_call_t *call = s_call (job, i);
    if (!call)
        return rpc_msg_fail (msg, i, rpc_error_internal ("out of memory"));
    call->session = r->session;
    call->io = r->io;
    rt_msg_t m;
    rt_msg_init (&m, strcmp (method, "protocol.nop") == 0                   ? ENG_NOP
                     : strcmp (method, "protocol.confirm_exp_stat_sn") == 0 ? ENG_CONFIRM
                                                                            : ENG_TMF);
    m.env.session = r->session;
    m.env.corr = s_corr (job, i);
    int rc = 0;
    if (m.env.type == ENG_TMF) {
        eng_tmf_t tmf;
        memset (&tmf, 0, sizeof tmf);
        size_t t = 0;
        while (t < sizeof s_tmfs / sizeof s_tmfs[0] && strcmp (s_tmfs[t].method, method))
            t++;
        if (t == sizeof s_tmfs / sizeof s_tmfs[0]) {
            rt_msg_close (&m);
            return rpc_msg_fail (msg, i, rpc_error_internal ("not implemented"));
        }
        tmf.function = s_tmfs[t].function;
        if (s_tmfs[t].lun
            && rpc_scsi_lun (json_object_get (params, "lun"), tmf.lun) != 0) {
            rt_msg_close (&m);
            return rpc_msg_fail (msg, i,
                                 rpc_error_invalid_params ("params.lun", "not a LUN"));
        }
        const char *tag = json_string_value (json_object_get (params, "tag"));
        if (tmf.function == PDU_TMF_ABORT_TASK && tag)
            snprintf (tmf.tag, sizeof tmf.tag, "%s", tag);
        rc = rt_msg_set_body (&m, &tmf, sizeof tmf);
    }
    void *sock = rc == 0 ? s_io_socket (self, r->io) : NULL;
    if (rc == 0)
        rc = sock ? rt_msg_send (&m, sock, ZMQ_DONTWAIT) : UIS_ERR_STATE;
    rt_msg_close (&m);
    call->sent = rc == 0;
    return rc == 0 ? 0 : s_fail_forward (msg, i, "io actor busy");
}

/* Every other method: asks the dispatch actor. */
static int
s_forward_dispatch (s_job_t *job, rpc_msg_t *msg, size_t i)
{
    rpc_front_t *self = job->front;
    if (!self->dispatch)
        return s_fail_forward (msg, i, "no dispatcher");
    const char *method = rpc_msg_method (msg, i);
    json_t *call =
        json_pack ("{s:s, s:O}", "method", method, "params", rpc_msg_params (msg, i));
    if (call && strcmp (method, "daemon.stats") == 0)
        json_object_set_new (call, "rpc", rpc_front_counters (self));
    else if (call) /* the client's identity: session handles are per client */
        json_object_set_new (call, "rpc",
                             json_pack ("{s:o}", "client",
                                        rpc_hex_json (zmq_msg_data (&job->route),
                                                      zmq_msg_size (&job->route))));
    rt_msg_t fwd;
    rt_msg_init (&fwd, BUS_CALL);
    fwd.env.corr = s_corr (job, i);
    int rc = call ? bus_set_json_body (&fwd, call) : UIS_ERR_NOMEM;
    json_decref (call);
    if (rc == 0)
        rc = rt_msg_send (&fwd, self->dispatch, ZMQ_DONTWAIT);
    rt_msg_close (&fwd);
    return rc == 0 ? 0 : s_fail_forward (msg, i, "dispatcher busy");
}

/* Runs the handler of every pending call of job. */
static void
s_route (s_job_t *job)
{
    rpc_front_t *self = job->front;
    rpc_msg_t *msg = job->msg;
    for (size_t i = 0; i < rpc_msg_count (msg); i++) {
        if (!rpc_msg_is_pending (msg, i))
            continue;
        const rpc_method_def_t *def = rpc_msg_user (msg, i);
        rpc_handler_fn *handler = NULL;
        if (def >= self->defs && def < self->defs + self->ndefs)
            handler = rpc_methods_handler (self->methods, (size_t)(def - self->defs));
        if (handler)
            handler (job, msg, i);
        else
            s_forward_dispatch (job, msg, i);
    }
}

/* Fails every pending call of msg with error_fn's error. */
static void
s_fail_all (rpc_msg_t *msg, json_t *(*make) (const char *, uint64_t), const char *limit,
            uint64_t value)
{
    for (size_t i = 0; i < rpc_msg_count (msg); i++)
        if (rpc_msg_is_pending (msg, i))
            rpc_msg_fail (msg, i, make (limit, value));
}

/* Reads one request message from the ROUTER and handles it. Returns 0, or
 * UIS_ERR_AGAIN when none is queued. */
static int
s_read_request (rpc_front_t *self)
{
    zmq_msg_t route;
    zmq_msg_init (&route);
    if (zmq_msg_recv (&route, self->router, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&route);
        return UIS_ERR_AGAIN;
    }
    /* The whole message is queued: read its frames, keep the first
     * RPC_FRONT_FRAMES_MAX + 1 (a delimiter may lead), drop the rest. */
    zmq_msg_t frames[RPC_FRONT_FRAMES_MAX + 1];
    size_t n = 0, total = 0;
    bool more = zmq_msg_more (&route);
    while (more) {
        zmq_msg_t f;
        zmq_msg_init (&f);
        if (zmq_msg_recv (&f, self->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&f);
            break;
        }
        more = zmq_msg_more (&f);
        total++;
        self->counters.bytes_in += zmq_msg_size (&f);
        if (n < RPC_FRONT_FRAMES_MAX + 1) {
            zmq_msg_init (&frames[n]);
            zmq_msg_move (&frames[n++], &f);
        }
        zmq_msg_close (&f);
    }
    self->counters.messages++;
    int fd = n > 0 ? zmq_msg_get (&frames[0], ZMQ_SRCFD) : -1;
    if (!s_peer_seen (self, fd, zmq_msg_data (&route), zmq_msg_size (&route))) {
        zmq_msg_close (&route);
        for (size_t i = 0; i < n; i++)
            zmq_msg_close (&frames[i]);
        return 0;
    }
    bool delim = n >= 2 && zmq_msg_size (&frames[0]) == 0;
    size_t first = delim ? 1 : 0;
    size_t payload = total - first;
    json_t *error = NULL;
    if (n == 0)
        error = rpc_error_invalid_request ("no request frame");
    else if (payload > RPC_FRONT_FRAMES_MAX)
        error = rpc_error_limit_exceeded ("frames", payload);
    else if (zmq_msg_size (&frames[first]) > self->limits.frame0_bytes)
        error = rpc_error_limit_exceeded ("frame0_bytes", zmq_msg_size (&frames[first]));
    s_job_t *job = NULL;
    if (!error) {
        job = calloc (1, sizeof *job);
        if (job)
            job->in = calloc (n - first, sizeof (zmq_msg_t));
        if (!job || !job->in || !s_slot_take (self, job)) {
            if (job)
                free (job->in);
            free (job);
            job = NULL;
            error = rpc_error_limit_exceeded ("in_flight_total", RPC_FRONT_JOBS_MAX);
        }
    }
    if (error) {
        if (rpc_error_code (error) == RPC_E_LIMIT_EXCEEDED)
            self->counters.limit_exceeded++;
        s_send_error (self, &route, delim, error);
        zmq_msg_close (&route);
        for (size_t i = 0; i < n; i++)
            zmq_msg_close (&frames[i]);
        return 0;
    }
    job->front = self;
    job->delim = delim;
    zmq_msg_init (&job->route);
    zmq_msg_move (&job->route, &route);
    zmq_msg_close (&route);
    for (size_t i = first; i < n; i++) {
        zmq_msg_init (&job->in[job->nin]);
        zmq_msg_move (&job->in[job->nin++], &frames[i]);
    }
    for (size_t i = 0; i < n; i++)
        zmq_msg_close (&frames[i]);

    json_t *reply = NULL;
    job->msg = rpc_msg_parse (zmq_msg_data (&job->in[0]), zmq_msg_size (&job->in[0]),
                              &self->rpc_limits, &reply);
    if (!job->msg) {
        if (rpc_error_code (json_object_get (reply, "error")) == RPC_E_LIMIT_EXCEEDED)
            self->counters.limit_exceeded++;
        if (reply)
            s_send (self, &job->route, job->delim, reply, NULL, 0);
        json_decref (reply);
        s_job_free (job);
        return 0;
    }
    size_t count = rpc_msg_count (job->msg);
    self->counters.requests += count;
    if (rpc_msg_is_batch (job->msg))
        self->counters.batches++;
    for (size_t i = 0; i < count; i++)
        if (rpc_msg_is_notification (job->msg, i))
            self->counters.notifications++;
    const void *id = zmq_msg_data (&job->route);
    size_t id_len = zmq_msg_size (&job->route);
    s_client_t *client = s_client (self, id, id_len, false);
    if (client && client->in_flight >= self->limits.in_flight_per_client) {
        self->counters.limit_exceeded++;
        s_fail_all (job->msg, rpc_error_limit_exceeded, "in_flight_per_client",
                    self->limits.in_flight_per_client);
    }
    rpc_schema_ctx_t ctx = {job->nin, self->limits.data_bytes};
    if (rpc_msg_pending_count (job->msg) > 0)
        rpc_methods_check_msg (self->methods, job->msg, &ctx);
    if (rpc_msg_pending_count (job->msg) > 0)
        s_route (job);
    if (rpc_msg_pending_count (job->msg) == 0) {
        s_job_finish (job);
        return 0;
    }
    /* Waiting for another actor: count it against the client. */
    job->client = s_client (self, id, id_len, true);
    if (!job->client) {
        for (size_t i = 0; i < count; i++)
            if (rpc_msg_is_pending (job->msg, i))
                rpc_msg_fail (job->msg, i, rpc_error_internal ("out of memory"));
        s_job_finish (job); /* a late answer finds no job */
        return 0;
    }
    job->client->in_flight++;
    self->in_flight++;
    return 0;
}

/* ------------------------------------------------------- client death */

/* A client's death is seen with the stable libzmq API only (4.3 has no
 * ZMQ_ROUTER_NOTIFY without the draft API): a monitor on the ROUTER
 * reports ZMQ_EVENT_ACCEPTED and ZMQ_EVENT_DISCONNECTED with the peer's
 * fd, and every message carries the fd it was read from (ZMQ_SRCFD). One
 * connection carries exactly one routing id, so the fd of a message binds
 * its routing id to the connection (s_peer_t, by fd); DISCONNECTED of that
 * fd means the client is gone.
 *
 * fd reuse (a connection closes, its fd number is reused by a new one,
 * while messages of the old one are still queued in the ROUTER):
 * - before a routing id is bound, the monitor is drained: with libzmq's
 *   one io thread, ACCEPTED of a connection is queued before its first
 *   message, and DISCONNECTED of the old connection before ACCEPTED of
 *   the new one, so the fd's events up to this message are applied;
 * - a message on a fd whose last event is DISCONNECTED is stale: dropped;
 * - the routing id of the last closed connection of a fd is kept ("dead"):
 *   its late messages are dropped even after the fd is reused;
 * - auto-generated routing ids (0 then a 32-bit big-endian counter) grow
 *   with each new connection: on one fd, a message with an id above the
 *   bound one means the bound connection is gone (unbound, client gone),
 *   one below it is stale (dropped). Explicit routing ids (set by the
 *   client) cannot be ordered: a second one on a bound fd is dropped.
 * A wrong binding can only ever delay a cleanup until the fd's next event
 * or message, never drop a live client's request. */

/* Frees a routing id copy. */
static void
s_id_clear (uint8_t **id, size_t *len)
{
    free (*id);
    *id = NULL;
    *len = 0;
}

/* True when the routing id copy (id, len) equals (rid, rlen). */
static bool
s_id_eq (const uint8_t *id, size_t len, const void *rid, size_t rlen)
{
    return id && len == rlen && memcmp (id, rid, len) == 0;
}

/* The peer entry of fd (grown on demand), NULL when fd is not tracked. */
static s_peer_t *
s_peer (rpc_front_t *self, int fd)
{
    if (fd < 0 || fd >= S_PEER_FD_MAX)
        return NULL;
    if ((size_t)fd >= self->npeers) {
        size_t n = self->npeers ? self->npeers : 64;
        while (n <= (size_t)fd)
            n *= 2;
        s_peer_t *p = realloc (self->peers, n * sizeof *p);
        if (!p)
            return NULL;
        memset (p + self->npeers, 0, (n - self->npeers) * sizeof *p);
        self->peers = p;
        self->npeers = n;
    }
    return &self->peers[fd];
}

/* The client with routing id (rid, len) is gone (its process died or it
 * closed its socket): every message of it still waiting for an actor is
 * dropped unanswered; a command at an io actor gets ENG_CANCEL (the io
 * actor aborts it with ABORT TASK when it was sent, frees its buffers and
 * sends no reply); a late answer finds no job. The dispatcher is told with
 * the internal call "client.gone" (not in the method table, so no client
 * can send it) to release every session handle the client held. */
static void
s_client_gone (rpc_front_t *self, const void *rid, size_t len)
{
    self->counters.clients_gone++;
    for (size_t s = 0; s < self->nslots; s++) {
        s_job_t *job = self->slots[s];
        if (!job
            || !s_id_eq (zmq_msg_data (&job->route), zmq_msg_size (&job->route), rid,
                         len))
            continue;
        for (size_t i = 0; job->calls && i < rpc_msg_count (job->msg); i++) {
            s_call_t *call = &job->calls[i];
            void *sock = call->io < self->nio ? self->io[call->io] : NULL;
            if (!call->sent || !call->op || !sock)
                continue;
            rt_msg_t m;
            rt_msg_init (&m, ENG_CANCEL);
            m.env.session = call->session;
            m.env.corr = s_corr (job, i);
            rt_msg_send (&m, sock, ZMQ_DONTWAIT);
            rt_msg_close (&m);
            call->sent = false;
        }
        self->counters.jobs_reaped++;
        s_job_free (job);
    }
    if (self->dispatch) {
        json_t *call = json_pack ("{s:s, s:{}, s:{s:o}}", "method", "client.gone",
                                  "params", "rpc", "client", rpc_hex_json (rid, len));
        rt_msg_t m;
        rt_msg_init (&m, BUS_CALL);
        m.env.corr = UINT64_MAX; /* never answered */
        if (call && bus_set_json_body (&m, call) == 0)
            rt_msg_send (&m, self->dispatch, ZMQ_DONTWAIT);
        rt_msg_close (&m);
        json_decref (call);
    }
    s_drained (self);
}

/* True when (a, alen) is an auto-generated routing id (libzmq: a 0 byte,
 * then a 32-bit big-endian counter, +1 per new connection). */
static bool
s_id_auto (const void *a, size_t alen)
{
    return alen == 5 && ((const uint8_t *)a)[0] == 0;
}

/* Drops the client bound to p: its connection closed (event seen, or its
 * fd carries a newer connection). Its id is kept as p's dead id. */
static void
s_peer_unbind (rpc_front_t *self, s_peer_t *p)
{
    s_id_clear (&p->dead, &p->dead_len);
    p->dead = p->bound;
    p->dead_len = p->bound_len;
    p->bound = NULL;
    p->bound_len = 0;
    s_client_gone (self, p->dead, p->dead_len);
}

/* One monitor event of the ROUTER: ACCEPTED opens fd (no routing id known
 * yet), DISCONNECTED closes it; the client bound to it is gone. */
static void
s_peer_event (rpc_front_t *self, uint16_t event, int fd)
{
    if (event != ZMQ_EVENT_ACCEPTED && event != ZMQ_EVENT_DISCONNECTED)
        return;
    if (event == ZMQ_EVENT_DISCONNECTED && (fd < 0 || (size_t)fd >= self->npeers))
        return; /* nothing known of it */
    s_peer_t *p = s_peer (self, fd);
    if (!p)
        return;
    bool was_unknown = p->state == S_FD_UNKNOWN;
    p->state = event == ZMQ_EVENT_ACCEPTED ? S_FD_OPEN : S_FD_CLOSED;
    /* ACCEPTED on a bound fd: the connection before closed unseen, unless
     * this is the first event of the fd (the binding is this connection's:
     * its event came after its first message). */
    if (p->bound && (event == ZMQ_EVENT_DISCONNECTED || !was_unknown))
        s_peer_unbind (self, p);
}

/* Applies the queued monitor events (bounded). */
static void
s_monitor_drain (rpc_front_t *self)
{
    for (int n = 0; self->monitor && n < 4096; n++) {
        zmq_msg_t ev, addr;
        zmq_msg_init (&ev);
        zmq_msg_init (&addr);
        if (zmq_msg_recv (&ev, self->monitor, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&ev);
            zmq_msg_close (&addr);
            return;
        }
        if (zmq_msg_more (&ev))
            zmq_msg_recv (&addr, self->monitor, ZMQ_DONTWAIT);
        if (zmq_msg_size (&ev) >= 6) {
            uint16_t event;
            uint32_t value;
            memcpy (&event, zmq_msg_data (&ev), 2);
            memcpy (&value, (uint8_t *)zmq_msg_data (&ev) + 2, 4);
            if (value <= INT32_MAX)
                s_peer_event (self, event, (int)value);
        }
        zmq_msg_close (&ev);
        zmq_msg_close (&addr);
    }
}

/* Monitor socket ready. */
static int
s_on_monitor (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg)
{
    (void)reactor;
    (void)item;
    s_monitor_drain (arg);
    return 0;
}

/* A message from routing id (rid, len) was read from peer fd (-1:
 * unknown, e.g. inproc). Returns false when it comes from a connection
 * already closed: drop it (nobody can get the answer). */
static bool
s_peer_seen (rpc_front_t *self, int fd, const void *rid, size_t len)
{
    if (fd < 0 || !self->monitor || len == 0)
        return true;
    s_peer_t *p = s_peer (self, fd);
    if (!p)
        return true;
    if (s_id_eq (p->bound, p->bound_len, rid, len))
        return true;
    s_monitor_drain (self); /* the events of this fd up to this message */
    p = s_peer (self, fd);
    if (!p)
        return true;
    if (s_id_eq (p->bound, p->bound_len, rid, len))
        return true;
    bool automatic = s_id_auto (rid, len);
    if (automatic && s_id_eq (p->dead, p->dead_len, rid, len)) {
        self->counters.stale_dropped++;
        return false; /* a late message of a closed connection */
    }
    if (p->bound && automatic && s_id_auto (p->bound, p->bound_len)
        && memcmp (rid, p->bound, len) > 0)
        s_peer_unbind (self, p); /* a newer connection on the fd */
    if (p->bound || p->state == S_FD_CLOSED) {
        self->counters.stale_dropped++;
        return false; /* an older connection than the fd's, or a closed fd */
    }
    uint8_t *copy = malloc (len);
    if (!copy)
        return true; /* not tracked */
    memcpy (copy, rid, len);
    p->bound = copy;
    p->bound_len = len;
    if (!automatic)
        s_id_clear (&p->dead, &p->dead_len);
    return true;
}

/* Makes the ROUTER's monitor (ACCEPTED / DISCONNECTED) and connects the
 * PAIR that reads it. Returns 0 or UIS_ERR_STATE. */
static int
s_monitor_init (rpc_front_t *self)
{
    /* A name never used before in this process: libzmq releases a closed
     * monitor's inproc endpoint asynchronously, so a name derived from the
     * object's address could still be taken when malloc hands the address
     * to the next front end. */
    char ep[64];
    if (rt_ctx_endpoint (ep, sizeof ep, "rpc-monitor") != 0)
        return UIS_ERR_STATE;
    if (zmq_socket_monitor (self->router, ep, ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED)
        != 0)
        return UIS_ERR_STATE;
    self->monitor = rt_socket_new (ZMQ_PAIR);
    if (!self->monitor)
        return UIS_ERR_STATE;
    int hwm = 0; /* never lose an event (libzmq would block its io thread) */
    zmq_setsockopt (self->monitor, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (zmq_connect (self->monitor, ep) != 0)
        return UIS_ERR_STATE;
    return 0;
}

/* ROUTER ready: requests. */
static int
s_on_router (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg)
{
    (void)reactor;
    (void)item;
    rpc_front_t *self = arg;
    s_monitor_drain (self); /* connection events first */
    for (int n = 0; n < S_DRAIN_MAX && self->accepting; n++)
        if (s_read_request (self) == UIS_ERR_AGAIN)
            break;
    return 0;
}

/* The job of a correlation id whose call is still pending (*i_p gets the
 * call), or NULL when it is gone (cancelled, answered). */
static s_job_t *
s_job_of (rpc_front_t *self, uint64_t corr, size_t *i_p)
{
    size_t slot = (size_t)((corr >> 16) & 0xffffffu);
    size_t i = (size_t)(corr & 0xffffu);
    uint32_t gen = (uint32_t)(corr >> 40);
    if (slot >= self->nslots || !self->slots[slot] || self->gens[slot] != gen)
        return NULL;
    s_job_t *job = self->slots[slot];
    if (i >= rpc_msg_count (job->msg) || !rpc_msg_is_pending (job->msg, i))
        return NULL;
    *i_p = i;
    return job;
}

/* A BUS_REPLY from the metrics or dispatch actor, or an ENG_REPLY from an
 * io actor. */
static void
s_on_reply (rpc_front_t *self, const rt_msg_t *reply)
{
    size_t i = 0;
    s_job_t *job = s_job_of (self, reply->env.corr, &i);
    if (!job)
        return; /* the job is gone (cancelled) */
    if (job->calls)
        job->calls[i].sent = false;
    json_t *value = bus_json_body (reply);
    if (!value)
        rpc_msg_fail (job->msg, i, rpc_error_internal ("malformed answer"));
    else if (reply->env.status == 0)
        rpc_msg_answer (job->msg, i, value);
    else
        rpc_msg_fail (job->msg, i, json_is_object (value) ? value : NULL);
    if (reply->env.status != 0 && !json_is_object (value))
        json_decref (value);
    if (rpc_msg_pending_count (job->msg) == 0)
        s_job_finish (job);
}

/* The SCSI call i of job is done: sends its Data-In as an attachment when
 * asked, answers the call, finishes the job when it was the last. */
static void
s_scsi_finish (s_job_t *job, size_t i)
{
    s_call_t *call = &job->calls[i];
    if (call->stream) {
        s_stream_forget (job->front, s_corr (job, i));
        call->stream = false;
    }
    size_t k = 0;
    json_t *error = NULL;
    if (rpc_scsi_op_has_data (call->op) && rpc_scsi_op_wants_attachment (call->op)) {
        zmq_msg_t *f = s_job_add_out (job, &k);
        if (!f)
            error = rpc_error_limit_exceeded ("frames", RPC_FRONT_FRAMES_MAX);
        else if (call->has_in && call->in_len == zmq_msg_size (&call->in)) {
            zmq_msg_move (f, &call->in); /* the io actor's buffer: no copy */
        }
        else if (call->in_len > 0) {
            /* The frame is larger than the data: send the data only. */
            zmq_msg_close (f);
            if (zmq_msg_init_size (f, call->in_len) == 0)
                memcpy (zmq_msg_data (f), zmq_msg_data (&call->in), call->in_len);
            else {
                zmq_msg_init (f);
                error = rpc_error_internal ("out of memory");
            }
        }
    }
    int status = 0;
    json_t *v = error ? NULL : rpc_scsi_op_take (call->op, k, &status);
    if (error)
        rpc_msg_fail (job->msg, i, error);
    else if (!v)
        rpc_msg_fail (job->msg, i, rpc_error_internal ("out of memory"));
    else if (status == 0)
        rpc_msg_answer (job->msg, i, v);
    else
        rpc_msg_fail (job->msg, i, v);
    s_call_fini (call);
    if (rpc_msg_pending_count (job->msg) == 0)
        s_job_finish (job);
}

/* ENG_CMD_DONE from an io actor: feeds the op; sends its next command or
 * answers the call. */
static void
s_on_cmd_done (rpc_front_t *self, rt_msg_t *m)
{
    size_t i = 0;
    s_job_t *job = s_job_of (self, m->env.corr, &i);
    if (!job || !job->calls || !job->calls[i].op)
        return; /* cancelled: the Data-In frame is dropped */
    s_call_t *call = &job->calls[i];
    call->sent = false;
    rpc_scsi_step_t step;
    const eng_done_t *done = rt_msg_body_as (m, sizeof *done);
    if (m->env.status != 0) {
        json_t *e = bus_json_body (m);
        if (!json_is_object (e)) {
            json_decref (e);
            e = rpc_error_internal ("malformed answer");
        }
        step = rpc_scsi_op_fail (call->op, e);
    }
    else if (!done)
        step = rpc_scsi_op_fail (call->op, rpc_error_internal ("malformed answer"));
    else {
        if (call->has_in)
            zmq_msg_close (&call->in);
        call->has_in = false;
        call->in_len = 0;
        const uint8_t *data = NULL;
        if (m->ndata > 0) {
            zmq_msg_init (&call->in);
            rt_msg_take_frame (m, 0, &call->in);
            call->has_in = true;
            data = zmq_msg_data (&call->in);
            call->in_len = zmq_msg_size (&call->in);
            if (done->bytes < call->in_len)
                call->in_len = done->bytes;
        }
        step = rpc_scsi_op_feed (call->op, done, data, call->in_len);
    }
    int64_t note = rpc_scsi_op_cache_note (call->op);
    if (note != 0) {
        const char *id =
            json_string_value (json_object_get (rpc_msg_params (job->msg, i), "session"));
        s_route_t *r = id ? s_route_find (self, id) : NULL;
        if (r && r->session == call->session)
            s_bs_note (r, call->lun, note);
    }
    if (step == RPC_SCSI_SEND) {
        if (s_send_cmd (job, i) == 0)
            return;
        rpc_scsi_op_fail (call->op, rpc_error_internal ("io actor busy"));
    }
    s_scsi_finish (job, i);
}

/* A DEALER to an io actor, the dispatcher or the metrics actor is ready:
 * drains a bounded number of messages and dispatches each on its type
 * (ENG_CMD_DONE: a command ended; ENG_REPLY / BUS_REPLY: an answer to a
 * call; ENG_ROUTE: a session's placement changed). */
static int
s_on_socket (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg)
{
    (void)reactor;
    rpc_front_t *self = arg;
    for (int n = 0; n < 1000; n++) {
        rt_msg_t msg;
        int rc = rt_msg_recv (&msg, item->socket, ZMQ_DONTWAIT);
        if (rc == 0) {
            switch (msg.env.type) {
            case ENG_CMD_DONE:
                s_on_cmd_done (self, &msg);
                break;
            case ENG_STREAM_DATA:
                s_on_stream_data (self, &msg);
                break;
            case ENG_REPLY:
            case BUS_REPLY:
                s_on_reply (self, &msg);
                break;
            case ENG_ROUTE:
                s_on_route (self, &msg);
                break;
            default:
                break; /* unknown types are dropped */
            }
        }
        rt_msg_close (&msg);
        if (rc != 0 && rc != UIS_ERR_MALFORMED && rc != UIS_ERR_TOO_LONG)
            break;
    }
    return 0;
}

/* Timer: pushes the counters to the dispatcher. */
static int
s_on_tick (rt_reactor_t *reactor, int timer_id, void *arg)
{
    (void)reactor;
    (void)timer_id;
    rpc_front_t *self = arg;
    json_t *body = json_pack ("{s:o}", "rpc", rpc_front_counters (self));
    rt_msg_t msg;
    rt_msg_init (&msg, BUS_COUNTERS);
    if (body && bus_set_json_body (&msg, body) == 0)
        rt_msg_send (&msg, self->dispatch, ZMQ_DONTWAIT);
    rt_msg_close (&msg);
    json_decref (body);
    return 0;
}

/* ------------------------------------------------------------- public */

/* Builds the method table (rpc/methods.c, the one table) and its handlers. */
static int
s_methods_init (rpc_front_t *self)
{
    self->defs = rpc_method_table (&self->ndefs);
    char where[256] = "";
    self->methods = rpc_methods_new (self->defs, self->ndefs, where, sizeof where);
    if (!self->methods) {
        uis_error ("rpc", "method table: %s", where);
        return UIS_ERR_STATE;
    }
    rpc_methods_set_handler (self->methods, "rpc.discover", s_h_discover);
    rpc_methods_set_handler (self->methods, "daemon.info", s_h_info);
    rpc_methods_set_handler (self->methods, "rpc.echo", s_h_echo);
    rpc_methods_set_handler (self->methods, "events.get", s_h_events_get);
    for (size_t i = 0; i < self->ndefs; i++) {
        const char *name = self->defs[i].name;
        if (strcmp (name, "raw.stream") == 0)
            rpc_methods_set_handler (self->methods, name, s_h_stream);
        else if (strcmp (name, "raw.stream.ack") == 0)
            rpc_methods_set_handler (self->methods, name, s_h_stream_ack);
        else if (rpc_scsi_is_method (name))
            rpc_methods_set_handler (self->methods, name, s_h_scsi);
        else if (strncmp (name, "tmf.", 4) == 0 || strcmp (name, "protocol.nop") == 0
                 || strcmp (name, "protocol.confirm_exp_stat_sn") == 0)
            rpc_methods_set_handler (self->methods, name, s_h_session_io);
    }
    self->discover = rpc_methods_discover (self->methods);
    return self->discover ? 0 : UIS_ERR_NOMEM;
}

/* Connects a DEALER to an actor's inproc API, or leaves NULL. */
static int
s_connect (void **socket_p, const char *endpoint)
{
    if (!endpoint)
        return 0;
    *socket_p = rt_socket_new (ZMQ_DEALER);
    if (!*socket_p || zmq_connect (*socket_p, endpoint) != 0)
        return UIS_ERR_STATE;
    return 0;
}

/* Creates the front end. */
rpc_front_t *
rpc_front_new (const rpc_front_config_t *config, int *err)
{
    int rc = UIS_ERR_NOMEM;
    rpc_front_t *self = calloc (1, sizeof *self);
    if (!self)
        goto fail;
    self->limits = config->limits;
    rpc_limits_default (&self->rpc_limits);
    self->rpc_limits.frame0_max_bytes = config->limits.frame0_bytes;
    self->rpc_limits.data_max_bytes = config->limits.data_bytes;
    self->rpc_limits.in_flight_per_client = config->limits.in_flight_per_client;
    self->rpc_limits.sessions_max = config->limits.sessions;
    self->start_ms = config->start_ms ? config->start_ms : s_now_ms ();
    self->counters_interval_ms = config->counters_interval_ms;
    self->accepting = true;
    self->endpoint = strdup (config->endpoint);
    self->events_endpoint =
        strdup (config->events_endpoint ? config->events_endpoint : "");
    if (!self->endpoint || !self->events_endpoint)
        goto fail;
    self->io_prefix = strdup (config->io_prefix ? config->io_prefix : S_IO_PREFIX);
    if (!self->io_prefix)
        goto fail;
    rc = s_methods_init (self);
    if (rc)
        goto fail;
    rc = UIS_ERR_STATE;
    for (uint32_t k = 0; k < config->io_threads && k < S_IO_MAX; k++)
        if (!s_io_socket (self, k))
            goto fail;
    rc = s_connect (&self->metrics, config->metrics_endpoint);
    if (rc == 0)
        rc = s_connect (&self->dispatch, config->dispatch_endpoint);
    if (rc)
        goto fail;
    rc = UIS_ERR_STATE;
    self->router = rt_socket_new (ZMQ_ROUTER);
    if (!self->router)
        goto fail;
    /* A peer sending one frame above every limit is disconnected by libzmq
     * instead of being buffered. */
    int64_t maxmsg = (int64_t)config->limits.data_bytes + 65536;
    if (maxmsg < (int64_t)config->limits.frame0_bytes + 65536)
        maxmsg = (int64_t)config->limits.frame0_bytes + 65536;
    zmq_setsockopt (self->router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    if (zmq_bind (self->router, config->endpoint) != 0) {
        uis_error ("rpc", "cannot bind the RPC endpoint: %s", zmq_strerror (errno));
        goto fail;
    }
    rc = s_monitor_init (self);
    if (rc)
        goto fail;
    return self;
fail:
    if (err)
        *err = rc;
    rpc_front_destroy (&self);
    return NULL;
}

/* Frees the front end. */
void
rpc_front_destroy (rpc_front_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rpc_front_t *self = *self_p;
    for (size_t s = 0; s < self->nslots; s++)
        if (self->slots[s])
            s_job_free (self->slots[s]);
    for (size_t b = 0; b < S_BUCKETS; b++)
        while (self->buckets[b]) {
            s_client_t *c = self->buckets[b];
            self->buckets[b] = c->next;
            free (c);
        }
    if (self->router && self->monitor)
        zmq_socket_monitor (self->router, NULL, 0);
    rt_socket_destroy (&self->monitor);
    for (size_t f = 0; f < self->npeers; f++) {
        free (self->peers[f].bound);
        free (self->peers[f].dead);
    }
    free (self->peers);
    rt_socket_destroy (&self->router);
    rt_socket_destroy (&self->metrics);
    rt_socket_destroy (&self->dispatch);
    for (uint32_t k = 0; k < self->nio; k++)
        rt_socket_destroy (&self->io[k]);
    free (self->io);
    free (self->io_prefix);
    for (size_t b = 0; b < S_ROUTES; b++)
        while (self->routes[b]) {
            s_route_t *r = self->routes[b];
            self->routes[b] = r->next;
            s_route_free (r);
        }
    free (self->streams);
    free (self->slots);
    free (self->gens);
    free (self->free_slots);
    json_decref (self->discover);
    rpc_methods_destroy (&self->methods);
    free (self->endpoint);
    free (self->events_endpoint);
    free (self);
    *self_p = NULL;
}

/* Registers the sockets and the counters timer. */
int
rpc_front_attach (rpc_front_t *self, rt_reactor_t *reactor)
{
    self->reactor = reactor;
    int rc = rt_reactor_add_socket (reactor, self->router, ZMQ_POLLIN, s_on_router, self);
    if (rc == 0 && self->monitor)
        rc = rt_reactor_add_socket (reactor, self->monitor, ZMQ_POLLIN, s_on_monitor,
                                    self);
    if (rc == 0 && self->metrics)
        rc =
            rt_reactor_add_socket (reactor, self->metrics, ZMQ_POLLIN, s_on_socket, self);
    if (rc == 0 && self->dispatch)
        rc = rt_reactor_add_socket (reactor, self->dispatch, ZMQ_POLLIN, s_on_socket,
                                    self);
    for (uint32_t k = 0; rc == 0 && k < self->nio; k++)
        if (self->io[k])
            rc = rt_reactor_add_socket (reactor, self->io[k], ZMQ_POLLIN, s_on_socket,
                                        self);
    if (rc == 0 && self->dispatch && self->counters_interval_ms > 0) {
        int id = rt_reactor_timer_add (reactor, self->counters_interval_ms, 0, s_on_tick,
                                       self);
        if (id > 0)
            self->timer = id;
        else
            rc = id;
    }
    return rc;
}

/* Unregisters everything. */
void
rpc_front_detach (rpc_front_t *self, rt_reactor_t *reactor)
{
    if (self->accepting)
        rt_reactor_remove_socket (reactor, self->router);
    if (self->monitor)
        rt_reactor_remove_socket (reactor, self->monitor);
    if (self->metrics)
        rt_reactor_remove_socket (reactor, self->metrics);
    if (self->dispatch)
        rt_reactor_remove_socket (reactor, self->dispatch);
    for (uint32_t k = 0; k < self->nio; k++)
        if (self->io[k])
            rt_reactor_remove_socket (reactor, self->io[k]);
    if (self->timer > 0)
        rt_reactor_timer_cancel (reactor, self->timer);
    if (self->drain_timer > 0)
        rt_reactor_timer_cancel (reactor, self->drain_timer);
    self->timer = self->drain_timer = 0;
    self->reactor = NULL;
}

/* Stops reading requests. */
void
rpc_front_stop_accepting (rpc_front_t *self)
{
    if (self->accepting && self->reactor)
        rt_reactor_remove_socket (self->reactor, self->router);
    self->accepting = false;
}

/* Fails every waiting call with CANCELLED. */
size_t
rpc_front_cancel_all (rpc_front_t *self)
{
    size_t n = 0;
    for (size_t s = 0; s < self->nslots; s++) {
        s_job_t *job = self->slots[s];
        if (!job)
            continue;
        for (size_t i = 0; i < rpc_msg_count (job->msg); i++) {
            s_call_t *call = job->calls ? &job->calls[i] : NULL;
            if (call && call->sent && call->op && call->io < self->nio
                && self->io[call->io]) {
                /* The io actor aborts the command and sends no reply. */
                rt_msg_t m;
                rt_msg_init (&m, ENG_CANCEL);
                m.env.session = call->session;
                m.env.corr = s_corr (job, i);
                rt_msg_send (&m, self->io[call->io], ZMQ_DONTWAIT);
                rt_msg_close (&m);
            }
            if (rpc_msg_is_pending (job->msg, i))
                rpc_msg_fail (job->msg, i, rpc_error_cancelled ());
        }
        s_job_finish (job);
        n++;
    }
    return n;
}

/* Messages waiting for another actor. */
size_t
rpc_front_in_flight (const rpc_front_t *self)
{
    return self->in_flight;
}

/* The counters. */
json_t *
rpc_front_counters (const rpc_front_t *self)
{
    const s_counters_t *c = &self->counters;
    return json_pack (
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "messages",
        (json_int_t)c->messages, "requests", (json_int_t)c->requests, "notifications",
        (json_int_t)c->notifications, "batches", (json_int_t)c->batches, "errors",
        (json_int_t)c->errors, "limit_exceeded", (json_int_t)c->limit_exceeded,
        "in_flight", (json_int_t)self->in_flight, "clients", (json_int_t)self->nclients,
        "bytes_in", (json_int_t)c->bytes_in, "bytes_out", (json_int_t)c->bytes_out,
        "clients_gone", (json_int_t)c->clients_gone, "jobs_reaped",
        (json_int_t)c->jobs_reaped, "stale_dropped", (json_int_t)c->stale_dropped);
}

/* Drain timer: what is left is cancelled. */
static int
s_on_drain_timeout (rt_reactor_t *reactor, int timer_id, void *arg)
{
    (void)reactor;
    (void)timer_id;
    rpc_front_t *self = arg;
    self->drain_timer = 0;
    size_t n = rpc_front_cancel_all (self);
    if (n)
        uis_warn ("rpc", "%zu requests cancelled at shutdown", n);
    s_drained (self);
    return 0;
}

/* A message from the parent: BUS_DRAIN. */
static void
s_actor_on_msg (rt_body_t *body, rt_msg_t *msg, void *state)
{
    (void)body;
    rpc_front_t *self = state;
    if (msg->env.type != BUS_DRAIN || self->draining)
        return;
    rpc_front_stop_accepting (self);
    self->draining = true;
    if (self->in_flight > 0) {
        size_t ms = msg->env.aux ? (size_t)msg->env.aux : 1000;
        int id = rt_reactor_timer_add (self->reactor, ms, 1, s_on_drain_timeout, self);
        if (id > 0)
            self->drain_timer = id;
        else
            rpc_front_cancel_all (self);
    }
    s_drained (self);
}

/* TERM. */
static void
s_actor_on_term (rt_body_t *body, void *state)
{
    rpc_front_t *self = state;
    rpc_front_detach (self, rt_body_reactor (body));
    rpc_front_destroy (&self);
}

/* Actor body. */
int
rpc_front_actor (rt_body_t *body, void *args)
{
    int rc = UIS_ERR_NOMEM;
    rpc_front_t *self = rpc_front_new (args, &rc);
    if (!self)
        return rc;
    self->body = body;
    rc = rpc_front_attach (self, rt_body_reactor (body));
    if (rc != 0) {
        rpc_front_detach (self, rt_body_reactor (body));
        rpc_front_destroy (&self);
        return rc;
    }
    rt_body_set (body, s_actor_on_msg, s_actor_on_term, self);
    return 0;
}
