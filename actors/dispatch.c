/* dispatch.c: the dispatch actor: the session registry (ids, handles per
 * client, sharing, placement on io actors), the control methods of
 * sessions, daemon.stats and daemon.metrics. */
#include "actors/dispatch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "actors/bus.h"
#include "actors/engine.h"
#include "actors/log.h"
#include "actors/metrics.h"
#include "actors/rt/rt_ctx.h"
#include "proto/errors.h"
#include "rpc/errors.h"

#define S_DRAIN_MAX 1000
#define S_IO_MAX    4096

/* A client's handles on a session. */
/* The owner of handles opened with "persist": true. They belong to no
 * client connection (a client that goes away does not release them, as a
 * CLI login must outlive its process); session.close from a client without
 * a handle of its own releases one. Routing ids are hex: no client has
 * this name. */
#define S_PERSISTENT "persistent"

typedef struct s_handle {
    struct s_handle *next;
    uint32_t refs;
    char client[]; /* the front end's client identity (hex) */
} s_handle_t;

/* Session states of the registry. */
typedef enum { SS_OPENING, SS_OPEN, SS_CLOSING, SS_CLOSED } s_state_t;

/* One session of the registry. */
typedef struct s_sess {
    struct s_sess *next;
    uint32_t num; /* numeric id (env.session) */
    char id[16];  /* string id, "s<num>" */
    uint32_t io;  /* io actor index */
    s_state_t state;
    char *key;    /* share key (holds credentials: never printed) */
    json_t *info; /* {"target", "portal"} plus the last ENG_OPEN/ENG_GET data */
    s_handle_t *handles;
    uint32_t refs;
} s_sess_t;

/* What a pending io request is for. */
typedef enum {
    P_OPEN,
    P_CLOSE,
    P_GET,
    P_RECONNECT,
    P_LOGOUT,
    P_DISCOVER,
    P_AGG
} s_kind_t;

/* An aggregate of ENG_GETs (session.list, daemon.stats). */
typedef struct {
    bool stats;
    size_t remaining;
    json_t *items; /* session.list: array of session infos, by position */
    json_t *sum;   /* daemon.stats: summed counters */
    uint64_t front_corr;
} s_agg_t;

/* A request sent to an io actor, waiting for its ENG_REPLY. */
typedef struct s_pending {
    struct s_pending *next;
    uint64_t corr; /* our corr to the io actor */
    s_kind_t kind;
    uint32_t session;
    uint64_t front_corr; /* the BUS_CALL to answer */
    uint8_t front_id[BUS_ROUTING_ID_MAX];
    size_t front_id_len;
    char *client; /* P_OPEN: the client that gets the handle */
    s_agg_t *agg; /* P_AGG */
    size_t index; /* P_AGG: position in agg->items */
    bool force;
    bool silent; /* nobody waits for the answer (a gone client's close) */
} s_pending_t;

/* Counters across all sessions (monotonic): the final counters of the
 * sessions closed so far (from the ENG_CLOSE / ENG_LOGOUT replies);
 * daemon.stats adds the live sessions' counters to them. */
typedef struct {
    uint64_t commands;
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t reconnects;
    uint64_t errors;
    uint64_t pdus_in;
    uint64_t pdus_out;
} s_counters_t;

struct dispatch {
    void *router;
    metrics_client_t *metrics;
    rt_reactor_t *reactor;
    int timer;
    uis_limits_t limits;
    uint32_t interval_ms;
    int64_t start_ms;
    s_counters_t counters;
    size_t sessions;
    json_t *rpc;    /* last RPC counters from the front end */
    json_t *events; /* last subscription table from the metrics actor */
    /* registry */
    void **io; /* DEALER per io actor */
    uint32_t nio;
    size_t *io_load; /* sessions per io actor */
    s_sess_t *sess;  /* every session, newest first */
    uint32_t next_num;
    uint64_t next_corr;
    s_pending_t *pending;
    uint8_t front_id[BUS_ROUTING_ID_MAX]; /* the front end's routing id */
    size_t front_id_len;
};

/* Monotonic milliseconds. */
static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Frees a session entry (the share key is wiped: it holds credentials). */
static void
s_sess_free (s_sess_t *x)
{
    if (x->key) {
        memset (x->key, 0, strlen (x->key));
        free (x->key);
    }
    json_decref (x->info);
    while (x->handles) {
        s_handle_t *h = x->handles;
        x->handles = h->next;
        free (h);
    }
    free (x);
}

/* Frees a pending request; an aggregate goes with its last request. */
static void
s_pending_free (s_pending_t *p)
{
    free (p->client);
    if (p->agg && --p->agg->remaining == 0) {
        json_decref (p->agg->items);
        json_decref (p->agg->sum);
        free (p->agg);
    }
    free (p);
}

/* Creates the dispatcher. */
dispatch_t *
dispatch_new (const dispatch_config_t *config, int *err)
{
    int rc = UIS_ERR_NOMEM;
    dispatch_t *self = calloc (1, sizeof *self);
    if (!self)
        goto fail;
    self->limits = config->limits;
    self->interval_ms = config->metrics_interval_ms;
    self->start_ms = s_now_ms ();
    self->rpc = json_object ();
    self->events = json_pack ("{s:{}}", "subscribers");
    if (!self->rpc || !self->events)
        goto fail;
    rc = UIS_ERR_STATE;
    self->router = rt_socket_new (ZMQ_ROUTER);
    if (!self->router || zmq_bind (self->router, config->api_endpoint) != 0)
        goto fail;
    if (config->io_threads > 0) {
        uint32_t n = config->io_threads < S_IO_MAX ? config->io_threads : S_IO_MAX;
        self->io = calloc (n, sizeof *self->io);
        self->io_load = calloc (n, sizeof *self->io_load);
        if (!self->io || !self->io_load)
            goto fail;
        self->nio = n;
        for (uint32_t k = 0; k < n; k++) {
            char ep[256];
            snprintf (ep, sizeof ep, "%s%u",
                      config->io_prefix ? config->io_prefix : DISPATCH_IO_PREFIX, k);
            self->io[k] = rt_socket_new (ZMQ_DEALER);
            if (!self->io[k] || zmq_connect (self->io[k], ep) != 0)
                goto fail;
        }
    }
    if (config->metrics_endpoint) {
        self->metrics = metrics_client_new (config->metrics_endpoint);
        if (!self->metrics)
            goto fail;
        rt_msg_t msg;
        rt_msg_init (&msg, BUS_EVENTS_WATCH);
        msg.env.flags = BUS_F_TABLE;
        rt_msg_send (&msg, metrics_client_socket (self->metrics), ZMQ_DONTWAIT);
    }
    return self;
fail:
    if (err)
        *err = rc;
    dispatch_destroy (&self);
    return NULL;
}

/* Frees the dispatcher. */
void
dispatch_destroy (dispatch_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    dispatch_t *self = *self_p;
    rt_socket_destroy (&self->router);
    metrics_client_destroy (&self->metrics);
    for (uint32_t k = 0; self->io && k < self->nio; k++)
        rt_socket_destroy (&self->io[k]);
    free (self->io);
    free (self->io_load);
    while (self->sess) {
        s_sess_t *x = self->sess;
        self->sess = x->next;
        s_sess_free (x);
    }
    while (self->pending) {
        s_pending_t *p = self->pending;
        self->pending = p->next;
        s_pending_free (p);
    }
    json_decref (self->rpc);
    json_decref (self->events);
    free (self);
    *self_p = NULL;
}

/* The session counters as a new object. */
static json_t *
s_counters_json (const dispatch_t *self)
{
    const s_counters_t *c = &self->counters;
    return json_pack ("{s:I, s:I, s:I, s:I, s:I, s:I}", "commands",
                      (json_int_t)c->commands, "bytes_in", (json_int_t)c->bytes_in,
                      "bytes_out", (json_int_t)c->bytes_out, "reconnects",
                      (json_int_t)c->reconnects, "errors", (json_int_t)c->errors,
                      "sessions", (json_int_t)self->sessions);
}

/* The daemon.stats result. */
static json_t *
s_stats (dispatch_t *self, const json_t *rpc)
{
    json_t *result = s_counters_json (self);
    if (!result)
        return NULL;
    int rc = json_object_set_new (result, "pdus", json_object ());
    rc |= json_object_set_new (result, "errors_by_kind", json_object ());
    rc |= json_object_set_new (result, "pdus_in",
                               json_integer ((json_int_t)self->counters.pdus_in));
    rc |= json_object_set_new (result, "pdus_out",
                               json_integer ((json_int_t)self->counters.pdus_out));
    rc |= json_object_set_new (result, "limits",
                               json_pack ("{s:I, s:I}", "sessions",
                                          (json_int_t)self->limits.sessions,
                                          "in_flight_per_client",
                                          (json_int_t)self->limits.in_flight_per_client));
    rc |=
        json_object_set (result, "rpc", json_is_object (rpc) ? (json_t *)rpc : self->rpc);
    rc |= json_object_set (result, "events", self->events);
    if (rc) {
        json_decref (result);
        return NULL;
    }
    return result;
}

/* ------------------------------------------------------------ registry */

/* The session with string id, or NULL. */
static s_sess_t *
s_find (dispatch_t *self, const char *id)
{
    for (s_sess_t *x = self->sess; id && x; x = x->next)
        if (strcmp (x->id, id) == 0)
            return x;
    return NULL;
}

/* The session with numeric id, or NULL. */
static s_sess_t *
s_find_num (dispatch_t *self, uint32_t num)
{
    for (s_sess_t *x = self->sess; x; x = x->next)
        if (x->num == num)
            return x;
    return NULL;
}

/* Unlinks and frees a session entry. */
static void
s_sess_remove (dispatch_t *self, s_sess_t *sess)
{
    for (s_sess_t **pp = &self->sess; *pp; pp = &(*pp)->next)
        if (*pp == sess) {
            *pp = sess->next;
            if (sess->io < self->nio && self->io_load[sess->io] > 0)
                self->io_load[sess->io]--;
            self->sessions--;
            s_sess_free (sess);
            return;
        }
}

/* The handle entry of client on sess, created when create is set. */
static s_handle_t *
s_handle (s_sess_t *sess, const char *client, bool create)
{
    for (s_handle_t *h = sess->handles; h; h = h->next)
        if (strcmp (h->client, client) == 0)
            return h;
    if (!create)
        return NULL;
    size_t len = strlen (client);
    s_handle_t *h = calloc (1, sizeof *h + len + 1);
    if (!h)
        return NULL;
    memcpy (h->client, client, len + 1);
    h->next = sess->handles;
    sess->handles = h;
    return h;
}

/* Drops a handle entry that holds no reference. */
static void
s_handle_drop (s_sess_t *sess, s_handle_t *handle)
{
    for (s_handle_t **pp = &sess->handles; *pp; pp = &(*pp)->next)
        if (*pp == handle) {
            *pp = handle->next;
            free (handle);
            return;
        }
}

/* The io actor with the fewest sessions. */
static uint32_t
s_least_loaded (const dispatch_t *self)
{
    uint32_t best = 0;
    for (uint32_t k = 1; k < self->nio; k++)
        if (self->io_load[k] < self->io_load[best])
            best = k;
    return best;
}

/* The share key of session.open params: the target, the portal, the
 * initiator, the whole auth object (so an attach needs the same
 * credentials) and the negotiation. Held in memory only. NULL when out of
 * memory. */
static char *
s_share_key (const json_t *params)
{
    static const char *keys[] = {"portal",    "target",    "initiator_name",
                                 "auth",      "negotiate", "digest_byte_order",
                                 "keepalive", "recovery"};
    json_t *k = json_object ();
    for (size_t i = 0; k && i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get (params, keys[i]);
        if (v && json_object_set (k, keys[i], v) != 0) {
            json_decref (k);
            k = NULL;
        }
    }
    char *text = k ? json_dumps (k, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref (k);
    return text;
}

/* Copies the listed keys of src into dst (both borrowed). */
static void
s_merge (json_t *dst, const json_t *src, const char *const *keys, size_t n)
{
    for (size_t i = 0; json_is_object (src) && i < n; i++) {
        json_t *v = json_object_get (src, keys[i]);
        if (v)
            json_object_set (dst, keys[i], v);
    }
}

/* The io part of <session info> (API.md session.get). */
static const char *const s_io_keys[] = {"state",        "isid",       "tsih",
                                        "negotiated",   "counters",   "in_flight",
                                        "cmdsn_window", "reconnects", "last_error"};
#define S_IO_KEYS (sizeof s_io_keys / sizeof s_io_keys[0])

/* <session info> of sess: exactly the keys API.md lists; io (may be NULL)
 * is a fresh ENG_GET answer, else the last data known. New reference. */
static json_t *
s_info_json (const s_sess_t *sess, const json_t *io)
{
    json_t *o = json_pack ("{s:s, s:O, s:O, s:I}", "session", sess->id, "target",
                           json_object_get (sess->info, "target"), "portal",
                           json_object_get (sess->info, "portal"), "refs",
                           (json_int_t)sess->refs);
    for (size_t i = 0; o && i < S_IO_KEYS; i++) {
        json_t *v = json_is_object (io) ? json_object_get (io, s_io_keys[i]) : NULL;
        if (!v)
            v = json_object_get (sess->info, s_io_keys[i]);
        json_t *def = NULL;
        if (!v) {
            const char *k = s_io_keys[i];
            def = strcmp (k, "negotiated") == 0 || strcmp (k, "counters") == 0
                      ? json_object ()
                  : strcmp (k, "in_flight") == 0 || strcmp (k, "cmdsn_window") == 0
                          || strcmp (k, "reconnects") == 0
                      ? json_integer (0)
                  : strcmp (k, "state") == 0 ? json_string ("unknown")
                                             : json_null ();
            v = def;
        }
        if (json_object_set (o, s_io_keys[i], v) != 0) {
            json_decref (o);
            o = NULL;
        }
        json_decref (def);
    }
    if (o && sess->state == SS_CLOSED)
        json_object_set_new (o, "state", json_string ("closed"));
    return o;
}

/* Sends a BUS_REPLY (value borrowed) to the front end id. */
static void
s_reply (dispatch_t *self, const void *id, size_t id_len, uint64_t corr, int32_t status,
         const json_t *value)
{
    rt_msg_t reply;
    json_t *fallback = value ? NULL : rpc_error_internal ("out of memory");
    if (!value)
        status = UIS_ERR_NOMEM;
    if (bus_reply_init (&reply, corr, status, value ? value : fallback) == 0)
        bus_router_send (self->router, id, id_len, &reply);
    rt_msg_close (&reply);
    json_decref (fallback);
}

/* Sends ENG_ROUTE for sess to the front end: its io actor, or removal. */
static void
s_send_route (dispatch_t *self, const s_sess_t *sess, bool remove)
{
    if (self->front_id_len == 0)
        return;
    rt_msg_t msg;
    rt_msg_init (&msg, ENG_ROUTE);
    msg.env.session = sess->num;
    msg.env.aux = remove ? UINT64_MAX : sess->io;
    if (rt_msg_set_body (&msg, sess->id, strlen (sess->id)) == 0)
        bus_router_send (self->router, self->front_id, self->front_id_len, &msg);
    rt_msg_close (&msg);
}

/* Sends a request to io actor k: body (borrowed, may be NULL) as JSON.
 * Returns 0 or an error code. */
static int
s_io_send (dispatch_t *self, uint32_t k, uint16_t type, uint32_t session, uint64_t corr,
           const json_t *body, uint64_t aux)
{
    if (k >= self->nio)
        return UIS_ERR_STATE;
    rt_msg_t msg;
    rt_msg_init (&msg, type);
    msg.env.session = session;
    msg.env.corr = corr;
    msg.env.aux = aux;
    int rc = body ? bus_set_json_body (&msg, body) : 0;
    if (rc == 0)
        rc = rt_msg_send (&msg, self->io[k], ZMQ_DONTWAIT);
    rt_msg_close (&msg);
    return rc;
}

/* A new pending request answered to the front end (id, corr); linked. */
static s_pending_t *
s_pending_new (dispatch_t *self, s_kind_t kind, uint32_t session, const zmq_msg_t *id,
               uint64_t front_corr)
{
    s_pending_t *p = calloc (1, sizeof *p);
    if (!p)
        return NULL;
    p->corr = ++self->next_corr;
    p->kind = kind;
    p->session = session;
    p->front_corr = front_corr;
    p->front_id_len = zmq_msg_size ((zmq_msg_t *)id);
    if (p->front_id_len > sizeof p->front_id)
        p->front_id_len = sizeof p->front_id;
    memcpy (p->front_id, zmq_msg_data ((zmq_msg_t *)id), p->front_id_len);
    p->next = self->pending;
    self->pending = p;
    return p;
}

/* Unlinks and frees the pending request p. */
static void
s_pending_drop (dispatch_t *self, s_pending_t *p)
{
    for (s_pending_t **pp = &self->pending; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            s_pending_free (p);
            return;
        }
}

/* Sends a request for a pending entry; on failure drops it. Returns 0 or
 * an error code. */
static int
s_pending_send (dispatch_t *self, s_pending_t *p, uint32_t k, uint16_t type,
                const json_t *body, uint64_t aux)
{
    int rc = s_io_send (self, k, type, p->session, p->corr, body, aux);
    if (rc != 0)
        s_pending_drop (self, p);
    return rc;
}

/* ----------------------------------------------------------- the calls */

/* The session.open result of sess. New reference. */
static json_t *
s_open_result (const s_sess_t *sess, bool attached)
{
    json_t *o = json_pack ("{s:s, s:b}", "session", sess->id, "attached", attached);
    static const char *const keys[] = {"target", "portal", "isid",
                                       "tsih",   "state",  "negotiated"};
    for (size_t i = 0; o && i < sizeof keys / sizeof keys[0]; i++) {
        json_t *v = json_object_get (sess->info, keys[i]);
        if (json_object_set_new (o, keys[i], v ? json_incref (v) : json_null ()) != 0) {
            json_decref (o);
            o = NULL;
        }
    }
    return o;
}

/* The answer of a call made now (status in *status_p), or NULL when the
 * call went on to an io actor and will be answered later. */
static json_t *
s_open (dispatch_t *self, const json_t *params, const char *client, const zmq_msg_t *id,
        uint64_t corr, int *status_p)
{
    *status_p = UIS_ERR_STATE;
    if (self->nio == 0)
        return rpc_error_internal ("no io actors");
    char *key = s_share_key (params);
    if (!key) {
        *status_p = UIS_ERR_NOMEM;
        return rpc_error_internal ("out of memory");
    }
    const json_t *share = json_object_get (params, "share");
    if (!json_is_false (share))
        for (s_sess_t *x = self->sess; x; x = x->next)
            if (x->state == SS_OPEN && x->key && strcmp (x->key, key) == 0) {
                memset (key, 0, strlen (key));
                free (key);
                s_handle_t *h = s_handle (x, client, true);
                if (!h) {
                    *status_p = UIS_ERR_NOMEM;
                    return rpc_error_internal ("out of memory");
                }
                h->refs++;
                x->refs++;
                *status_p = 0;
                return s_open_result (x, true);
            }
    if (self->sessions >= self->limits.sessions) {
        memset (key, 0, strlen (key));
        free (key);
        return rpc_error_limit_exceeded ("sessions", self->limits.sessions);
    }
    s_sess_t *sess = calloc (1, sizeof *sess);
    if (!sess) {
        memset (key, 0, strlen (key));
        free (key);
        *status_p = UIS_ERR_NOMEM;
        return rpc_error_internal ("out of memory");
    }
    sess->key = key;
    if (++self->next_num == 0)
        self->next_num = 1;
    while (s_find_num (self, self->next_num))
        self->next_num++;
    sess->num = self->next_num;
    snprintf (sess->id, sizeof sess->id, "s%u", sess->num);
    sess->io = s_least_loaded (self);
    sess->state = SS_OPENING;
    sess->info = json_pack ("{s:O, s:O}", "target", json_object_get (params, "target"),
                            "portal", json_object_get (params, "portal"));
    json_t *body = json_deep_copy (params);
    if (body) {
        json_object_del (body, "share");
        json_object_del (body, "persist");
        json_object_del (body, "tag");
        json_object_set_new (body, "session", json_string (sess->id));
    }
    s_pending_t *p =
        sess->info && body ? s_pending_new (self, P_OPEN, sess->num, id, corr) : NULL;
    if (p)
        p->client = strdup (client);
    if (!p || !p->client) {
        if (p)
            s_pending_drop (self, p);
        json_decref (body);
        s_sess_free (sess);
        *status_p = UIS_ERR_NOMEM;
        return rpc_error_internal ("out of memory");
    }
    sess->next = self->sess;
    self->sess = sess;
    self->sessions++;
    self->io_load[sess->io]++;
    int rc = s_pending_send (self, p, sess->io, ENG_OPEN, body, 0);
    json_decref (body);
    if (rc != 0) {
        s_sess_remove (self, sess);
        return rpc_error_internal ("io actor busy");
    }
    *status_p = 0; /* answered when the io actor replies */
    return NULL;
}

/* The ENG_CLOSE / ENG_LOGOUT body: {"timeout_ms"} of the call when it has
 * one (it bounds the io actor's drain), else NULL. New reference. */
static json_t *
s_timeout_body (const json_t *params)
{
    json_t *t = json_object_get (params, "timeout_ms");
    return json_is_integer (t) ? json_pack ("{s:O}", "timeout_ms", t) : NULL;
}

/* session.close: releases the client's handle; the last one (or force)
 * logs out. */
static json_t *
s_close (dispatch_t *self, s_sess_t *sess, const json_t *params, const char *client,
         const zmq_msg_t *id, uint64_t corr, int *status_p)
{
    bool force = json_is_true (json_object_get (params, "force"));
    s_handle_t *h = s_handle (sess, client, false);
    if (!h) /* a caller without a handle of its own releases a persistent one */
        h = s_handle (sess, S_PERSISTENT, false);
    if (h) {
        h->refs--;
        sess->refs--;
        if (h->refs == 0)
            s_handle_drop (sess, h);
    }
    *status_p = 0;
    if ((!h && !force) || (sess->refs > 0 && !force))
        return json_pack ("{s:b, s:I}", "closed", 0, "refs", (json_int_t)sess->refs);
    if (sess->state == SS_CLOSED) {
        s_sess_remove (self, sess);
        return json_pack ("{s:b, s:i}", "closed", 1, "refs", 0);
    }
    sess->state = SS_CLOSING;
    s_send_route (self, sess, true); /* no new commands reach it */
    s_pending_t *p = s_pending_new (self, P_CLOSE, sess->num, id, corr);
    json_t *body = s_timeout_body (params);
    int rc = p ? s_pending_send (self, p, sess->io, ENG_CLOSE, body, force ? 1 : 0)
               : UIS_ERR_NOMEM;
    json_decref (body);
    if (rc != 0) {
        s_sess_remove (self, sess);
        return json_pack ("{s:b, s:i}", "closed", 1, "refs", 0);
    }
    return NULL;
}

/* Logs out a session nobody holds any more (the last handle of a gone
 * client): as session.close would, but nobody waits for the answer. */
static void
s_close_silent (dispatch_t *self, s_sess_t *sess)
{
    if (sess->state == SS_CLOSED) {
        s_sess_remove (self, sess);
        return;
    }
    if (sess->state != SS_OPEN)
        return;
    sess->state = SS_CLOSING;
    s_send_route (self, sess, true); /* no new commands reach it */
    zmq_msg_t none;
    zmq_msg_init (&none);
    s_pending_t *p = s_pending_new (self, P_CLOSE, sess->num, &none, 0);
    zmq_msg_close (&none);
    if (p)
        p->silent = true;
    if (!p || s_pending_send (self, p, sess->io, ENG_CLOSE, NULL, 0) != 0)
        s_sess_remove (self, sess);
}

/* client.gone (internal, from the front end only: it is not in the method
 * table): the client's connection closed. Releases every handle it held
 * (a session whose last handle goes logs out, as session.close would) and
 * marks its session.open calls still at an io actor so that they give it
 * no handle. Never answered. Returns the number of handles released. */
static size_t
s_client_gone (dispatch_t *self, const char *client)
{
    size_t released = 0;
    for (s_pending_t *p = self->pending; p; p = p->next)
        if (p->kind == P_OPEN && p->client && strcmp (p->client, client) == 0) {
            free (p->client);
            p->client = NULL;
            p->silent = true;
        }
    s_sess_t *next = NULL;
    for (s_sess_t *x = self->sess; x; x = next) {
        next = x->next;
        s_handle_t *h = s_handle (x, client, false);
        if (!h)
            continue;
        released += h->refs;
        x->refs = x->refs > h->refs ? x->refs - h->refs : 0;
        s_handle_drop (x, h);
        if (x->refs == 0)
            s_close_silent (self, x);
    }
    if (released)
        uis_info ("dispatch", "client gone: %zu session handles released", released);
    return released;
}

/* Sends ENG_GET to every open session for session.list / daemon.stats;
 * returns NULL when they went out (answered later), else the answer now. */
static json_t *
s_aggregate (dispatch_t *self, bool stats, const json_t *rpc, const zmq_msg_t *id,
             uint64_t corr, int *status_p)
{
    *status_p = 0;
    s_agg_t *agg = calloc (1, sizeof *agg);
    if (!agg)
        return NULL;
    agg->stats = stats;
    agg->front_corr = corr;
    agg->items = json_array ();
    agg->sum = stats ? s_stats (self, rpc) : json_object ();
    if (!agg->items || !agg->sum) {
        json_decref (agg->items);
        json_decref (agg->sum);
        free (agg);
        *status_p = UIS_ERR_NOMEM;
        return rpc_error_internal ("out of memory");
    }
    size_t index = 0;
    agg->remaining = 1; /* held while the requests go out */
    for (s_sess_t *x = self->sess; x; x = x->next) {
        if (x->state == SS_OPENING)
            continue;
        json_array_append_new (agg->items, s_info_json (x, NULL));
        if (x->state == SS_OPEN) {
            s_pending_t *p = s_pending_new (self, P_AGG, x->num, id, corr);
            if (p) {
                p->agg = agg;
                p->index = index;
                agg->remaining++;
                /* On failure it is dropped: the registry's data stays. */
                s_pending_send (self, p, x->io, ENG_GET, NULL, 0);
            }
        }
        index++;
    }
    if (--agg->remaining > 0)
        return NULL;
    json_t *answer =
        stats ? json_incref (agg->sum) : json_pack ("{s:O}", "sessions", agg->items);
    json_decref (agg->items);
    json_decref (agg->sum);
    free (agg);
    return answer;
}

/* One call from the front end: answered now (the return value, status in
 * *status_p) or later (NULL). */
static json_t *
s_call (dispatch_t *self, const char *method, const json_t *params, const json_t *rpc,
        const zmq_msg_t *id, uint64_t corr, int *status_p)
{
    const char *client = json_string_value (json_object_get (rpc, "client"));
    if (!client)
        client = "";
    *status_p = 0;
    if (strcmp (method, "client.gone") == 0) {
        if (*client)
            s_client_gone (self, client);
        return NULL; /* never answered */
    }
    if (strcmp (method, "session.open") == 0)
        return s_open (self, params,
                       json_is_true (json_object_get (params, "persist")) ? S_PERSISTENT
                                                                          : client,
                       id, corr, status_p);
    if (strcmp (method, "session.list") == 0)
        return s_aggregate (self, false, rpc, id, corr, status_p);
    if (strcmp (method, "daemon.stats") == 0)
        return s_aggregate (self, true, rpc, id, corr, status_p);
    if (strcmp (method, "discovery.send_targets") == 0) {
        *status_p = UIS_ERR_STATE;
        if (self->nio == 0)
            return rpc_error_internal ("no io actors");
        json_t *body = json_deep_copy (params);
        if (body)
            json_object_del (body, "tag");
        s_pending_t *p = body ? s_pending_new (self, P_DISCOVER, 0, id, corr) : NULL;
        int rc =
            p ? s_pending_send (self, p, s_least_loaded (self), ENG_DISCOVER, body, 0)
              : UIS_ERR_NOMEM;
        json_decref (body);
        if (rc == 0)
            *status_p = 0; /* answered when the io actor replies */
        return rc == 0 ? NULL : rpc_error_internal ("io actor busy");
    }
    const char *sid = json_string_value (json_object_get (params, "session"));
    s_sess_t *sess = s_find (self, sid);
    if (!sess || sess->state == SS_OPENING || sess->state == SS_CLOSING) {
        *status_p = UIS_ERR_STATE;
        return sid ? rpc_error_session_not_found (sid)
                   : rpc_error_internal ("not implemented");
    }
    if (strcmp (method, "session.close") == 0)
        return s_close (self, sess, params, client, id, corr, status_p);
    if (sess->state == SS_CLOSED) {
        if (strcmp (method, "session.get") == 0)
            return s_info_json (sess, NULL);
        if (strcmp (method, "protocol.logout") == 0)
            return json_object ();
        *status_p = UIS_ERR_STATE;
        return rpc_error_session_not_found (sid);
    }
    s_kind_t kind;
    uint16_t type;
    if (strcmp (method, "session.get") == 0)
        kind = P_GET, type = ENG_GET;
    else if (strcmp (method, "session.reconnect") == 0)
        kind = P_RECONNECT, type = ENG_RECONNECT;
    else if (strcmp (method, "protocol.logout") == 0)
        kind = P_LOGOUT, type = ENG_LOGOUT;
    else {
        *status_p = UIS_ERR_STATE;
        return rpc_error_internal ("not implemented");
    }
    if (kind == P_LOGOUT) {
        sess->state = SS_CLOSING;
        s_send_route (self, sess, true);
    }
    s_pending_t *p = s_pending_new (self, kind, sess->num, id, corr);
    json_t *body = kind == P_LOGOUT ? s_timeout_body (params) : NULL;
    int rc = p ? s_pending_send (self, p, sess->io, type, body, 0) : UIS_ERR_NOMEM;
    json_decref (body);
    if (rc != 0) {
        if (kind == P_LOGOUT) {
            sess->state = SS_OPEN;
            s_send_route (self, sess, false);
        }
        *status_p = UIS_ERR_STATE;
        return rpc_error_internal ("io actor busy");
    }
    return NULL;
}

/* Answers one call that needs no io actor. */
json_t *
dispatch_call (dispatch_t *self, const char *method, const json_t *params,
               const json_t *rpc, int *status_p)
{
    *status_p = 0;
    if (strcmp (method, "daemon.stats") == 0)
        return s_stats (self, rpc);
    if (strcmp (method, "session.list") == 0) {
        json_t *list = json_array ();
        for (s_sess_t *x = self->sess; list && x; x = x->next)
            if (x->state != SS_OPENING)
                json_array_append_new (list, s_info_json (x, NULL));
        return list ? json_pack ("{s:o}", "sessions", list) : NULL;
    }
    *status_p = UIS_ERR_STATE;
    const json_t *session = json_object_get (params, "session");
    s_sess_t *sess = s_find (self, json_string_value (session));
    if (sess && strcmp (method, "session.get") == 0 && sess->state != SS_OPENING) {
        *status_p = 0;
        return s_info_json (sess, NULL);
    }
    if (json_is_string (session))
        return rpc_error_session_not_found (json_string_value (session));
    return rpc_error_internal ("not implemented yet");
}

/* BUS_CALL from the client with routing id. */
static void
s_on_call (dispatch_t *self, const zmq_msg_t *id, const rt_msg_t *msg)
{
    size_t id_len = zmq_msg_size ((zmq_msg_t *)id);
    if (id_len <= sizeof self->front_id) {
        memcpy (self->front_id, zmq_msg_data ((zmq_msg_t *)id), id_len);
        self->front_id_len = id_len;
    }
    json_t *call = bus_json_body (msg);
    const char *method = json_string_value (json_object_get (call, "method"));
    int status = 0;
    json_t *value = NULL;
    if (method) {
        value = s_call (self, method, json_object_get (call, "params"),
                        json_object_get (call, "rpc"), id, msg->env.corr, &status);
        if (!value && status == 0) { /* answered later */
            json_decref (call);
            return;
        }
    }
    if (!value) {
        status = UIS_ERR_NOMEM;
        value = rpc_error_internal (method ? "out of memory" : "malformed call");
    }
    s_reply (self, zmq_msg_data ((zmq_msg_t *)id), id_len, msg->env.corr, status, value);
    json_decref (value);
    json_decref (call);
}

/* Adds the integer counters of an ENG_GET answer to sum. */
static void
s_sum_counters (json_t *sum, const json_t *counters)
{
    const char *key;
    json_t *v;
    json_object_foreach ((json_t *)counters, key, v)
    {
        if (!json_is_integer (v))
            continue;
        json_t *have = json_object_get (sum, key);
        json_int_t base = json_is_integer (have) ? json_integer_value (have) : 0;
        json_object_set_new (sum, key, json_integer (base + json_integer_value (v)));
    }
}

/* Adds the final counters of a closed session (the "counters" of an
 * ENG_CLOSE / ENG_LOGOUT reply) to the daemon's totals (4a). */
static void
s_keep_counters (dispatch_t *self, const json_t *body)
{
    const json_t *c = json_object_get (body, "counters");
    struct {
        const char *key;
        uint64_t *total;
    } map[] = {{"commands", &self->counters.commands},
               {"bytes_in", &self->counters.bytes_in},
               {"bytes_out", &self->counters.bytes_out},
               {"reconnects", &self->counters.reconnects},
               {"errors", &self->counters.errors},
               {"pdus_in", &self->counters.pdus_in},
               {"pdus_out", &self->counters.pdus_out}};
    for (size_t i = 0; json_is_object (c) && i < sizeof map / sizeof map[0]; i++) {
        json_int_t v = json_integer_value (json_object_get (c, map[i].key));
        if (v > 0)
            *map[i].total += (uint64_t)v;
    }
}

/* ENG_REPLY from an io actor: finishes the pending request. */
static void
s_on_io_reply (dispatch_t *self, const rt_msg_t *msg)
{
    s_pending_t *p = self->pending;
    while (p && p->corr != msg->env.corr)
        p = p->next;
    if (!p)
        return;
    json_t *body = bus_json_body (msg);
    bool ok = msg->env.status == 0 && json_is_object (body);
    json_t *error = NULL;
    if (!ok) {
        error = json_is_object (body) ? json_incref (body)
                                      : rpc_error_internal ("malformed answer");
    }
    s_sess_t *sess = p->session ? s_find_num (self, p->session) : NULL;
    json_t *answer = NULL;
    static const char *const open_keys[] = {"isid",       "tsih",   "state",
                                            "negotiated", "portal", "target"};
    switch (p->kind) {
    case P_OPEN:
        if (ok && sess && p->silent) {
            /* The client went while the login ran: nobody holds it. */
            sess->state = SS_OPEN;
            s_merge (sess->info, body, open_keys, sizeof open_keys / sizeof open_keys[0]);
            sess->refs = 0;
            s_close_silent (self, sess);
        }
        else if (ok && sess) {
            sess->state = SS_OPEN;
            s_merge (sess->info, body, open_keys, sizeof open_keys / sizeof open_keys[0]);
            s_handle_t *h = s_handle (sess, p->client ? p->client : "", true);
            if (h)
                h->refs++;
            sess->refs = 1;
            s_send_route (self, sess, false); /* before the reply */
            answer = s_open_result (sess, false);
        }
        else if (sess)
            s_sess_remove (self, sess);
        break;
    case P_CLOSE:
        if (sess)
            s_sess_remove (self, sess);
        if (ok)
            s_keep_counters (self, body);
        if (ok)
            answer = json_pack ("{s:b, s:i}", "closed", 1, "refs", 0);
        break;
    case P_GET:
        if (ok && sess) {
            s_merge (sess->info, body, s_io_keys, S_IO_KEYS);
            answer = s_info_json (sess, body);
        }
        else if (ok)
            error = rpc_error_session_not_found (NULL);
        break;
    case P_LOGOUT:
        if (sess) {
            sess->state = ok ? SS_CLOSED : SS_OPEN;
            if (!ok)
                s_send_route (self, sess, false);
        }
        if (ok) {
            s_keep_counters (self, body);
            /* N4: a Logout Response other than 0 is reported with its
             * fields; a clean logout keeps the contract's {}. N3: a
             * Logout Response that never came adds "logout_timeout". */
            answer = json_object ();
            if (answer && json_is_true (json_object_get (body, "logout_timeout")))
                json_object_set_new (answer, "logout_timeout", json_true ());
            static const char *keys[] = {"response", "response_name", "time2wait",
                                         "time2retain"};
            json_int_t resp = json_integer_value (json_object_get (body, "response"));
            for (size_t i = 0; answer && resp != 0 && i < sizeof keys / sizeof keys[0];
                 i++) {
                json_t *v = json_object_get (body, keys[i]);
                if (v)
                    json_object_set (answer, keys[i], v);
            }
        }
        break;
    case P_RECONNECT:
    case P_DISCOVER:
        if (ok)
            answer = json_incref (body);
        break;
    case P_AGG: {
        s_agg_t *agg = p->agg;
        if (ok && sess) {
            s_merge (sess->info, body, s_io_keys, S_IO_KEYS);
            if (agg->stats)
                s_sum_counters (agg->sum, json_object_get (body, "counters"));
            else
                json_array_set_new (agg->items, p->index, s_info_json (sess, body));
        }
        json_decref (error);
        error = NULL;
        if (agg->remaining == 1) {
            json_t *all = agg->stats ? json_incref (agg->sum)
                                     : json_pack ("{s:O}", "sessions", agg->items);
            s_reply (self, p->front_id, p->front_id_len, agg->front_corr, 0, all);
            json_decref (all);
        }
        json_decref (body);
        s_pending_drop (self, p);
        return;
    }
    }
    if (p->silent) {
        /* nobody waits: the client is gone */
    }
    else if (ok && answer)
        s_reply (self, p->front_id, p->front_id_len, p->front_corr, 0, answer);
    else
        s_reply (self, p->front_id, p->front_id_len, p->front_corr,
                 msg->env.status < 0 ? msg->env.status : UIS_ERR_STATE, error);
    json_decref (answer);
    json_decref (error);
    json_decref (body);
    s_pending_drop (self, p);
}

/* An io actor's DEALER is ready: replies. */
static int
s_on_io (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg)
{
    (void)reactor;
    dispatch_t *self = arg;
    for (int n = 0; n < S_DRAIN_MAX; n++) {
        rt_msg_t msg;
        int rc = rt_msg_recv (&msg, item->socket, ZMQ_DONTWAIT);
        if (rc == 0 && msg.env.type == ENG_REPLY)
            s_on_io_reply (self, &msg);
        rt_msg_close (&msg);
        if (rc != 0 && rc != UIS_ERR_MALFORMED && rc != UIS_ERR_TOO_LONG)
            break;
    }
    return 0;
}

/* ROUTER ready: calls and counters from other actors. */
static int
s_on_router (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg)
{
    (void)reactor;
    (void)item;
    dispatch_t *self = arg;
    for (int n = 0; n < S_DRAIN_MAX; n++) {
        zmq_msg_t id;
        zmq_msg_init (&id);
        rt_msg_t msg;
        int rc = bus_router_recv (self->router, &id, &msg);
        if (rc == 0 && msg.env.type == BUS_CALL)
            s_on_call (self, &id, &msg);
        else if (rc == 0 && msg.env.type == BUS_COUNTERS) {
            json_t *body = bus_json_body (&msg);
            json_t *rpc = json_object_get (body, "rpc");
            if (json_is_object (rpc)) {
                json_decref (self->rpc);
                self->rpc = json_incref (rpc);
            }
            json_decref (body);
        }
        rt_msg_close (&msg);
        zmq_msg_close (&id);
        if (rc != 0 && rc != UIS_ERR_MALFORMED && rc != UIS_ERR_TOO_LONG)
            break;
    }
    return 0;
}

/* Notices from the metrics actor (the subscription table). */
static int
s_on_metrics (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg)
{
    (void)reactor;
    (void)item;
    dispatch_t *self = arg;
    for (int n = 0; n < S_DRAIN_MAX; n++) {
        rt_msg_t msg;
        int rc = rt_msg_recv (&msg, metrics_client_socket (self->metrics), ZMQ_DONTWAIT);
        if (rc == 0 && msg.env.type == BUS_EVENTS_TABLE) {
            json_t *table = bus_json_body (&msg);
            if (json_is_object (table)) {
                json_decref (self->events);
                self->events = json_incref (table);
            }
            json_decref (table);
        }
        else if (rc == 0)
            metrics_client_on_msg (self->metrics, &msg);
        rt_msg_close (&msg);
        if (rc != 0 && rc != UIS_ERR_MALFORMED && rc != UIS_ERR_TOO_LONG)
            break;
    }
    return 0;
}

/* Timer: publishes daemon.metrics. */
static int
s_on_tick (rt_reactor_t *reactor, int timer_id, void *arg)
{
    (void)reactor;
    (void)timer_id;
    dispatch_t *self = arg;
    json_t *fields = s_counters_json (self);
    if (fields) {
        json_object_set_new (fields, "uptime_ms",
                             json_integer (s_now_ms () - self->start_ms));
        json_object_set (fields, "rpc", self->rpc);
        json_t *subs = json_object_get (self->events, "subscribers");
        if (subs)
            json_object_set (fields, "subscribers", subs);
        if (self->metrics)
            metrics_client_publish (self->metrics, "daemon.metrics", fields);
        json_decref (fields);
    }
    return 0;
}

/* Registers the sockets and the timer. */
int
dispatch_attach (dispatch_t *self, rt_reactor_t *reactor)
{
    self->reactor = reactor;
    int rc = rt_reactor_add_socket (reactor, self->router, ZMQ_POLLIN, s_on_router, self);
    if (rc == 0 && self->metrics)
        rc = rt_reactor_add_socket (reactor, metrics_client_socket (self->metrics),
                                    ZMQ_POLLIN, s_on_metrics, self);
    for (uint32_t k = 0; rc == 0 && k < self->nio; k++)
        rc = rt_reactor_add_socket (reactor, self->io[k], ZMQ_POLLIN, s_on_io, self);
    if (rc == 0 && self->interval_ms > 0 && self->metrics) {
        self->timer =
            rt_reactor_timer_add (reactor, self->interval_ms, 0, s_on_tick, self);
        rc = self->timer > 0 ? 0 : self->timer;
        if (rc)
            self->timer = 0;
    }
    return rc;
}

/* Unregisters everything. */
void
dispatch_detach (dispatch_t *self, rt_reactor_t *reactor)
{
    rt_reactor_remove_socket (reactor, self->router);
    if (self->metrics)
        rt_reactor_remove_socket (reactor, metrics_client_socket (self->metrics));
    for (uint32_t k = 0; k < self->nio; k++)
        rt_reactor_remove_socket (reactor, self->io[k]);
    if (self->timer > 0)
        rt_reactor_timer_cancel (reactor, self->timer);
    self->timer = 0;
}

/* TERM. */
static void
s_actor_on_term (rt_body_t *body, void *state)
{
    dispatch_t *self = state;
    dispatch_detach (self, rt_body_reactor (body));
    dispatch_destroy (&self);
}

/* Actor body. */
int
dispatch_actor (rt_body_t *body, void *args)
{
    int rc = UIS_ERR_NOMEM;
    dispatch_t *self = dispatch_new (args, &rc);
    if (!self)
        return rc;
    rc = dispatch_attach (self, rt_body_reactor (body));
    if (rc != 0) {
        dispatch_detach (self, rt_body_reactor (body));
        dispatch_destroy (&self);
        return rc;
    }
    rt_body_set (body, NULL, s_actor_on_term, self);
    uis_debug ("dispatch", "started");
    return 0;
}
