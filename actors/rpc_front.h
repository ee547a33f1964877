/* rpc_front.h: the JSON-RPC front end: a ROUTER on the RPC endpoint
 * (API.md "Transport").
 *
 * REQ and DEALER clients both work: a message is [routing id] [empty
 * delimiter, when the client sent one] [frame 0: JSON request or batch]
 * [attachments...]; the reply echoes the routing id and the delimiter if
 * there was one. Frame 0 is checked against limits.frame0_bytes before it
 * is parsed (LIMIT_EXCEEDED, limit "frame0_bytes"), then parsed and checked
 * with the method table (rpc/jsonrpc.h, rpc/methods.h). Each call goes to
 * its owner: rpc.discover, rpc.echo and daemon.info are answered here,
 * events.get by the metrics actor, everything else (daemon.stats, session
 * methods) by the dispatch actor, over inproc (actors/bus.h). A message is
 * answered once all its calls are done (a batch as one array);
 * notifications are executed, never answered. A client has at most
 * limits.in_flight_per_client messages waiting for another actor; beyond
 * that a message is answered at once with LIMIT_EXCEEDED (limit
 * "in_flight_per_client"). Pipelined requests are answered as they
 * complete, in any order. Attachments stay in their zmq_msg_t (no copy)
 * while referenced; rpc.echo sends the same frame back.
 *
 * Hostile input (garbage, deep nesting, huge numbers or names, too many
 * frames) only ever costs its sender an error reply. */
#ifndef UISCSI_ACTORS_RPC_FRONT_H
#define UISCSI_ACTORS_RPC_FRONT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "actors/config.h"
#include "actors/rt/rt_actor.h"
#include "actors/rt/rt_reactor.h"

#define RPC_FRONT_FRAMES_MAX 64    /* frames of one request, frame 0 included */
#define RPC_FRONT_JOBS_MAX   65536 /* messages in flight, all clients */

typedef struct {
    const char *endpoint;          /* ROUTER bind (the RPC endpoint) */
    const char *events_endpoint;   /* reported by daemon.info */
    const char *metrics_endpoint;  /* the metrics actor's API, or NULL */
    const char *dispatch_endpoint; /* the dispatch actor's API, or NULL */
    uis_limits_t limits;
    uint32_t counters_interval_ms; /* BUS_COUNTERS to dispatch, 0 = never */
    int64_t start_ms;              /* CLOCK_MONOTONIC ms of the daemon start */
    uint32_t io_threads;           /* io actors to connect to (0: none) */
    const char *io_prefix;         /* io actor k binds <io_prefix><k>; NULL:
                                      "inproc://uis-io-" */
} rpc_front_config_t;

typedef struct rpc_front rpc_front_t;

/* Creates the front end: compiles the method table and binds the ROUTER
 * (config strings copied). NULL with *err (may be NULL) on failure. */
rpc_front_t *rpc_front_new (const rpc_front_config_t *config, int *err);

/* Closes the sockets and frees every job (unanswered ones are dropped) and
 * NULLs *self_p. Detach it first. */
void rpc_front_destroy (rpc_front_t **self_p);

/* Registers the sockets and timer on reactor (or removes them). */
int rpc_front_attach (rpc_front_t *self, rt_reactor_t *reactor);
void rpc_front_detach (rpc_front_t *self, rt_reactor_t *reactor);

/* Stops reading requests (the ROUTER stays open for replies). */
void rpc_front_stop_accepting (rpc_front_t *self);

/* Fails every call still waiting for another actor with CANCELLED and sends
 * the replies. Returns how many messages were answered so. */
size_t rpc_front_cancel_all (rpc_front_t *self);

/* Messages waiting for another actor. */
size_t rpc_front_in_flight (const rpc_front_t *self);

/* The counters: {"messages", "requests", "notifications", "batches",
 * "errors", "limit_exceeded", "in_flight", "clients", "bytes_in",
 * "bytes_out", "clients_gone" (connections closed with a known client),
 * "jobs_reaped" (their messages dropped unanswered, commands cancelled),
 * "stale_dropped" (messages read after their connection closed)}; new
 * reference. A client whose connection closes (killed process) is seen by
 * a monitor on the ROUTER (rpc_front.c "client death"): its calls are
 * cancelled and dispatch releases its session handles. */
json_t *rpc_front_counters (const rpc_front_t *self);

/* Actor body: args is an rpc_front_config_t (read during the call).
 * Handles BUS_DRAIN from the parent. */
int rpc_front_actor (rt_body_t *body, void *args);

#endif
