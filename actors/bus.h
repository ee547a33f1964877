/* bus.h: the messages between the daemon's actors, and helpers to carry
 * rt_msg_t (actors/rt/rt_msg.h) through a ROUTER socket.
 *
 * An actor that serves other actors (metrics, dispatch) binds a ROUTER on
 * an inproc endpoint; its clients connect a DEALER and send rt_msg_t
 * messages. On the ROUTER side a message is preceded by the client's
 * routing id frame, which bus_router_recv takes off and bus_router_send puts
 * back. Bodies are small: a fixed struct, or JSON text (never a pointer).
 *
 * Protocol (type: direction, envelope fields, body):
 *   BUS_EVENT_PUBLISH  any -> metrics: body "topic\0{json object}"; the
 *                      metrics actor adds seq, epoch and ts. No reply.
 *   BUS_EVENTS_GET     front -> metrics: corr; body bus_events_get_t.
 *                      Reply BUS_REPLY.
 *   BUS_EVENTS_WATCH   any -> metrics: body = a topic (no NUL). The metrics
 *                      actor answers BUS_EVENTS_INTEREST now and on every
 *                      change of the number of subscriptions that match the
 *                      topic. With flags BUS_F_TABLE (body empty) it sends
 *                      BUS_EVENTS_TABLE now and on every change instead.
 *   BUS_EVENTS_UNWATCH any -> metrics: body = the topic (or BUS_F_TABLE).
 *   BUS_EVENTS_INTEREST metrics -> watcher: body = topic, aux = count.
 *   BUS_EVENTS_TABLE   metrics -> watcher: body = JSON {"subscribers":
 *                      {prefix: count}}.
 *   BUS_CALL           front -> dispatch: corr; body = JSON {"method",
 *                      "params", "rpc"?}. Reply BUS_REPLY.
 *   BUS_COUNTERS       front -> dispatch: body = JSON {"rpc": {...}}, the
 *                      front end's counters, sent periodically.
 *   BUS_REPLY          answer to a call: corr as asked; status 0 and body =
 *                      the result as JSON text, or status < 0 and body = a
 *                      JSON-RPC error object as JSON text.
 * Over an actor's pipe (parent <-> body):
 *   BUS_DRAIN          main -> front: stop accepting, answer or fail what is
 *                      in flight within aux ms, then BUS_DRAINED.
 *   BUS_STATE          main -> metrics: publish daemon.state with body =
 *                      the state ("running", "stopping"), then answer
 *                      BUS_STATE_DONE.
 *   BUS_FATAL          body -> main: the actor cannot go on (status). */
#ifndef UISCSI_ACTORS_BUS_H
#define UISCSI_ACTORS_BUS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "actors/rt/rt_msg.h"

enum {
    BUS_EVENT_PUBLISH = 0x0101,
    BUS_EVENTS_GET,
    BUS_EVENTS_WATCH,
    BUS_EVENTS_UNWATCH,
    BUS_EVENTS_INTEREST,
    BUS_EVENTS_TABLE,
    BUS_CALL = 0x0201,
    BUS_COUNTERS,
    BUS_REPLY = 0x0301,
    BUS_DRAIN = 0x0401,
    BUS_DRAINED,
    BUS_STATE,
    BUS_STATE_DONE,
    BUS_FATAL,
};

/* Envelope flag of BUS_EVENTS_WATCH / _UNWATCH: the whole table. */
#define BUS_F_TABLE 0x0001u

/* Body of BUS_EVENTS_GET (params already validated by the front end). */
typedef struct {
    uint64_t since_seq;
    uint32_t max;
    uint32_t reserved;
} bus_events_get_t;

/* Longest routing id a ROUTER gives or accepts (ZeroMQ: 255 bytes). */
#define BUS_ROUTING_ID_MAX 255

/* Receives one message from a ROUTER: the routing id frame into *id (which
 * the caller initialises and closes) and the rest into *msg (rt_msg_recv).
 * Returns 0, UIS_ERR_AGAIN (nothing queued), UIS_ERR_MALFORMED (consumed
 * whole, *msg empty) or another UIS_ERR_* code. */
int bus_router_recv (void *router, zmq_msg_t *id, rt_msg_t *msg);

/* Sends *msg to the peer with routing id (id, id_size) through a ROUTER,
 * without blocking; the ROUTER drops it if the peer is gone. The message's
 * frames move (or are freed on failure). Returns 0 or a UIS_ERR_* code. */
int bus_router_send (void *router, const void *id, size_t id_size, rt_msg_t *msg);

/* Builds a BUS_REPLY: corr, status (0 or a negative code) and value dumped
 * as compact JSON text into the body (value borrowed). Returns 0 or
 * UIS_ERR_NOMEM (msg is then an empty BUS_REPLY). */
int bus_reply_init (rt_msg_t *msg, uint64_t corr, int32_t status, const json_t *value);

/* Sets the body of msg to value as compact JSON text (value borrowed).
 * Returns 0 or UIS_ERR_NOMEM. */
int bus_set_json_body (rt_msg_t *msg, const json_t *value);

/* Parses the body of msg as JSON (any value); NULL when absent or invalid.
 * New reference. */
json_t *bus_json_body (const rt_msg_t *msg);

#endif
