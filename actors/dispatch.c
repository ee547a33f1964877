/* dispatch.c: the dispatch actor skeleton: limits, counters, daemon.stats,
 * daemon.metrics, and routing of session methods (no sessions yet). */
#include "actors/dispatch.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "actors/bus.h"
#include "actors/log.h"
#include "actors/metrics.h"
#include "actors/rt/rt_ctx.h"
#include "proto/errors.h"
#include "rpc/errors.h"

#define S_DRAIN_MAX 1000

/* Counters across all sessions (monotonic). */
typedef struct {
    uint64_t commands;
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t reconnects;
    uint64_t errors;
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
};

/* Monotonic milliseconds. */
static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

/* Answers one call. */
json_t *
dispatch_call (dispatch_t *self, const char *method, const json_t *params,
               const json_t *rpc, int *status_p)
{
    *status_p = 0;
    if (strcmp (method, "daemon.stats") == 0)
        return s_stats (self, rpc);
    if (strcmp (method, "session.list") == 0)
        return json_pack ("{s:[]}", "sessions");
    *status_p = UIS_ERR_STATE;
    const json_t *session = json_object_get (params, "session");
    if (json_is_string (session))
        return rpc_error_session_not_found (json_string_value (session));
    return rpc_error_internal ("not implemented yet");
}

/* BUS_CALL from the client with routing id. */
static void
s_on_call (dispatch_t *self, const zmq_msg_t *id, const rt_msg_t *msg)
{
    json_t *call = bus_json_body (msg);
    const char *method = json_string_value (json_object_get (call, "method"));
    int status = 0;
    json_t *value = method
                        ? dispatch_call (self, method, json_object_get (call, "params"),
                                         json_object_get (call, "rpc"), &status)
                        : NULL;
    if (!value) {
        status = UIS_ERR_NOMEM;
        value = rpc_error_internal (method ? "out of memory" : "malformed call");
    }
    rt_msg_t reply;
    if (bus_reply_init (&reply, msg->env.corr, status, value) == 0)
        bus_router_send (self->router, zmq_msg_data ((zmq_msg_t *)id), zmq_msg_size (id),
                         &reply);
    rt_msg_close (&reply);
    json_decref (value);
    json_decref (call);
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
