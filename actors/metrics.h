/* metrics.h: the metrics actor: the PUB event stream, the event ring behind
 * events.get, and who subscribes to what (API.md "Events").
 *
 * The actor binds an XPUB socket on the events endpoint with
 * ZMQ_XPUB_VERBOSER, so it sees every subscribe and unsubscribe (also those
 * of a subscriber that goes away) and counts subscriptions per topic prefix.
 * Each event is two frames: the topic and a JSON object that starts with
 * "seq" (per daemon, +1 per event, from 1), "epoch" (a random id of this
 * run, 16 hex digits) and "ts" (RFC 3339 UTC, milliseconds, 'Z'), followed
 * by the event's own fields. Every event also goes into a ring of the last
 * N (bounded in count and bytes) for events.get.
 *
 * Other actors use it through its inproc ROUTER (actors/bus.h): publish
 * events, ask for events.get, and watch a topic to learn, by message,
 * whether anyone subscribes to it (metrics_client_t keeps the answer, so
 * "is anyone listening to pdu?" is a local lookup). Per-command and per-PDU
 * events are produced only while that answer is yes. */
#ifndef UISCSI_ACTORS_METRICS_H
#define UISCSI_ACTORS_METRICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actors/rt/rt_actor.h"
#include "actors/rt/rt_msg.h"
#include "actors/rt/rt_reactor.h"

#define METRICS_TOPIC_MAX     64         /* topic bytes: [A-Za-z0-9._-] */
#define METRICS_EVENT_MAX     (64 << 10) /* one event's JSON text */
#define METRICS_GET_REPLY_MAX (4 << 20)  /* events.get stops adding beyond */
#define METRICS_PREFIX_MAX    256        /* subscription prefix bytes */
#define METRICS_PREFIXES_MAX  1024       /* distinct prefixes tracked */
#define METRICS_WATCHERS_MAX  1024       /* watch registrations */

/* ---- the ring of recent events ------------------------------------------ */

typedef struct metrics_ring metrics_ring_t;

/* Creates a ring keeping at most capacity events and max_bytes of text.
 * NULL if out of memory or capacity is 0. */
metrics_ring_t *metrics_ring_new (size_t capacity, size_t max_bytes);

/* Frees the ring and NULLs *self_p. */
void metrics_ring_destroy (metrics_ring_t **self_p);

/* Appends a copy of an event (its seq must be the last seq + 1, or any seq
 * when empty; json is the whole event object text), dropping the oldest
 * events to stay within the bounds. Returns 0, UIS_ERR_SEQUENCE,
 * UIS_ERR_TOO_LONG (one event above max_bytes) or UIS_ERR_NOMEM. */
int metrics_ring_push (metrics_ring_t *self, uint64_t seq, const char *topic,
                       const char *json, size_t json_len);

/* Events held. */
size_t metrics_ring_count (const metrics_ring_t *self);

/* Seq of the oldest and newest events held (0 when empty). */
uint64_t metrics_ring_first_seq (const metrics_ring_t *self);
uint64_t metrics_ring_last_seq (const metrics_ring_t *self);

/* The events.get result as JSON text (malloc'd, NUL-terminated, length in
 * *len_p): {"events": [...], "last_seq", "first_seq"} with the events of
 * seq > since_seq, oldest first, at most max, each with "topic" added in
 * front of its fields. Adding stops once the text passes max_bytes (one
 * event at least). last_seq is the newest seq held (since_seq's gap can be
 * seen from the first event returned). NULL when out of memory. */
char *metrics_ring_get (const metrics_ring_t *self, uint64_t since_seq, size_t max,
                        size_t max_bytes, size_t *len_p);

/* ---- subscriptions ------------------------------------------------------ */

typedef struct metrics_subs metrics_subs_t;

/* Creates an empty table. NULL if out of memory. */
metrics_subs_t *metrics_subs_new (void);

/* Frees the table and NULLs *self_p. */
void metrics_subs_destroy (metrics_subs_t **self_p);

/* Applies one XPUB message (byte 1 = subscribe, 0 = unsubscribe, then the
 * prefix). Counts never go below 0; a prefix above METRICS_PREFIX_MAX bytes
 * or beyond METRICS_PREFIXES_MAX distinct ones is ignored. Returns 1 when a
 * count changed, 0 when not, UIS_ERR_MALFORMED for another message. */
int metrics_subs_update (metrics_subs_t *self, const void *msg, size_t size);

/* Subscriptions to exactly this prefix. */
size_t metrics_subs_count (const metrics_subs_t *self, const char *prefix);

/* Subscriptions that receive topic (their prefix is a prefix of topic). */
size_t metrics_subs_matching (const metrics_subs_t *self, const char *topic);

/* {prefix: count} of the prefixes with a count > 0 (prefixes that are not
 * valid UTF-8 are left out); new reference, NULL if out of memory. */
json_t *metrics_subs_json (const metrics_subs_t *self);

/* ---- the actor ---------------------------------------------------------- */

typedef struct {
    const char *events_endpoint; /* XPUB bind, e.g. ipc://DIR/events.sock */
    const char *api_endpoint;    /* inproc ROUTER bind for the other actors */
    size_t ring_capacity;        /* events kept (default 10000 when 0) */
    size_t ring_bytes;           /* text kept (default 32 MiB when 0) */
} metrics_config_t;

typedef struct metrics metrics_t;

/* Creates the publisher: binds both sockets and draws the epoch. The config
 * strings are copied. Returns NULL with *err (may be NULL) set. */
metrics_t *metrics_new (const metrics_config_t *config, int *err);

/* Closes the sockets (the XPUB lingers linger_ms to flush the last events),
 * frees the ring and NULLs *self_p. Detach it from its reactor first. */
void metrics_destroy (metrics_t **self_p);

/* Registers the sockets on reactor (or removes them). */
int metrics_attach (metrics_t *self, rt_reactor_t *reactor);
void metrics_detach (metrics_t *self, rt_reactor_t *reactor);

/* Publishes an event: fields_json is the text of a JSON object (the event's
 * own fields), topic program text as METRICS_TOPIC_MAX says. Returns 0,
 * UIS_ERR_INVALID_ARG (bad topic or not an object text), UIS_ERR_TOO_LONG
 * or UIS_ERR_NOMEM (the event is counted as dropped). */
int metrics_publish (metrics_t *self, const char *topic, const char *fields_json,
                     size_t len);

/* The ring, the subscription table, the epoch string, events published. */
const metrics_ring_t *metrics_ring (const metrics_t *self);
const metrics_subs_t *metrics_subs (const metrics_t *self);
const char *metrics_epoch (const metrics_t *self);
uint64_t metrics_published (const metrics_t *self);

/* Actor body: args is a metrics_config_t (read during the call). Handles
 * BUS_STATE from the parent. */
int metrics_actor (rt_body_t *body, void *args);

/* ---- the client side (other actors) ------------------------------------- */

typedef struct metrics_client metrics_client_t;

/* Connects a DEALER to the metrics actor's api_endpoint. NULL on failure. */
metrics_client_t *metrics_client_new (const char *api_endpoint);

/* Closes the socket and NULLs *self_p. */
void metrics_client_destroy (metrics_client_t **self_p);

/* The DEALER, to poll: replies and notices come back on it. */
void *metrics_client_socket (metrics_client_t *self);

/* Publishes an event (fields borrowed, a JSON object) without blocking.
 * Returns 0 or a UIS_ERR_* code (the event is lost, e.g. queue full). */
int metrics_client_publish (metrics_client_t *self, const char *topic,
                            const json_t *fields);

/* Starts watching topic (up to 16 topics per client). */
int metrics_client_watch (metrics_client_t *self, const char *topic);

/* Whether someone subscribes to a watched topic, from the last notice (false
 * for a topic not watched or before the first notice). */
bool metrics_client_interested (const metrics_client_t *self, const char *topic);

/* Feeds a message received on the client socket: returns true if it was a
 * BUS_EVENTS_INTEREST notice (consumed), false otherwise. */
bool metrics_client_on_msg (metrics_client_t *self, const rt_msg_t *msg);

#endif
