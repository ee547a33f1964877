/* dispatch.h: the dispatch actor: the session registry and the control
 * methods of sessions (DESIGN.md "Processes", actors/engine.h), plus the
 * daemon's limits and counters (daemon.stats, daemon.metrics).
 *
 * Other actors reach it through its inproc ROUTER (actors/bus.h): BUS_CALL
 * (answered with BUS_REPLY) and BUS_COUNTERS. The BUS_CALL body is
 * {"method", "params", "rpc"}: for daemon.stats "rpc" is the front end's
 * counters, for every other method {"client": "<hex routing id>"}, the
 * identity session handles belong to.
 *
 * Registry: session.open validates nothing more than the method table did;
 * with share (default true) an open session with the same portal, target,
 * initiator_name, auth (the whole object: an attach needs the same
 * credentials), negotiate, keepalive, recovery and digest_byte_order gets
 * one more handle ("attached": true, no login). Otherwise a new session
 * "s<n>" is placed on the io actor with the fewest sessions and ENG_OPEN
 * goes there; dispatch never blocks: calls waiting for an io actor are kept
 * by correlation id. On success ENG_ROUTE goes to the front end before the
 * BUS_REPLY. session.close releases the calling client's handle and sends
 * ENG_CLOSE (aux 1 with force) when the last goes or with force, after the
 * route is removed. protocol.logout removes the route and sends ENG_LOGOUT;
 * the entry stays in state "closed" until its handles are released.
 * session.get / session.list merge the registry (session, target, portal,
 * refs) with ENG_GET (exactly the keys of API.md <session info>);
 * daemon.stats sums the sessions' counters. The internal call
 * "client.gone" (front end only, never answered; not in the method table)
 * releases every handle of a client whose connection closed: a session
 * whose last handle goes logs out as with session.close, and a login still
 * running for it gives it no handle (the session is logged out when the
 * login succeeds). Credentials are never part of any answer, log or event
 * made here. */
#ifndef UISCSI_ACTORS_DISPATCH_H
#define UISCSI_ACTORS_DISPATCH_H

#include <jansson.h>
#include <stdint.h>

#include "actors/config.h"
#include "actors/rt/rt_actor.h"
#include "actors/rt/rt_reactor.h"

/* Where io actor k binds (DISPATCH_IO_PREFIX "<k>"). */
#define DISPATCH_IO_PREFIX "inproc://uis-io-"

typedef struct {
    const char *api_endpoint;     /* inproc ROUTER bind */
    const char *metrics_endpoint; /* the metrics actor's API, or NULL */
    uis_limits_t limits;
    uint32_t metrics_interval_ms; /* daemon.metrics period, 0 = off */
    uint32_t io_threads;          /* io actors to place sessions on (0: none) */
    const char *io_prefix;        /* io actor k binds <io_prefix><k>; NULL:
                                     DISPATCH_IO_PREFIX */
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

/* Answers one call from the registry alone (no io actor): daemon.stats
 * without the sessions' counters, session.list and session.get from the
 * last data known, else SESSION_NOT_FOUND. Returns the result (status 0) or
 * an error object (*status_p < 0); new reference, NULL when out of memory.
 * rpc is the front end's counters object for daemon.stats (borrowed, may be
 * NULL). */
json_t *dispatch_call (dispatch_t *self, const char *method, const json_t *params,
                       const json_t *rpc, int *status_p);

/* Actor body: args is a dispatch_config_t (read during the call). */
int dispatch_actor (rt_body_t *body, void *args);

#endif
