/* dispatch.h: the dispatch actor, which will own the session registry and
 * route session methods (DESIGN.md "Processes"). For now it holds the
 * limits and the daemon's counters: it answers daemon.stats (its counters,
 * the front end's RPC counters and the event subscriptions it watches on
 * the metrics actor), publishes daemon.metrics every interval, answers
 * session.list with no sessions and every method that names a session with
 * SESSION_NOT_FOUND.
 *
 * Other actors reach it through its inproc ROUTER (actors/bus.h): BUS_CALL
 * (answered with BUS_REPLY) and BUS_COUNTERS. */
#ifndef UISCSI_ACTORS_DISPATCH_H
#define UISCSI_ACTORS_DISPATCH_H

#include <jansson.h>
#include <stdint.h>

#include "actors/config.h"
#include "actors/rt/rt_actor.h"
#include "actors/rt/rt_reactor.h"

typedef struct {
    const char *api_endpoint;     /* inproc ROUTER bind */
    const char *metrics_endpoint; /* the metrics actor's API, or NULL */
    uis_limits_t limits;
    uint32_t metrics_interval_ms; /* daemon.metrics period, 0 = off */
} dispatch_config_t;

typedef struct dispatch dispatch_t;

/* Creates the dispatcher and binds its ROUTER (config strings copied).
 * NULL with *err (may be NULL) on failure. */
dispatch_t *dispatch_new (const dispatch_config_t *config, int *err);

/* Closes its sockets, frees it and NULLs *self_p (detach it first). */
void dispatch_destroy (dispatch_t **self_p);

/* Registers its sockets and timer on reactor (or removes them). */
int dispatch_attach (dispatch_t *self, rt_reactor_t *reactor);
void dispatch_detach (dispatch_t *self, rt_reactor_t *reactor);

/* Answers one call: returns the result (status 0) or an error object
 * (*status_p < 0); new reference, NULL when out of memory. rpc is the front
 * end's counters object for daemon.stats (borrowed, may be NULL). */
json_t *dispatch_call (dispatch_t *self, const char *method, const json_t *params,
                       const json_t *rpc, int *status_p);

/* Actor body: args is a dispatch_config_t (read during the call). */
int dispatch_actor (rt_body_t *body, void *args);

#endif
