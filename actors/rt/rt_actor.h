/* rt_actor.h: actors, their bodies, and the threads that host them.
 *
 * An actor is a body (state plus handlers on a reactor) and a PAIR pipe over
 * inproc: the parent holds one end (rt_actor_pipe), the body the other
 * (rt_body_pipe). Where a body runs is the runtime's choice (DESIGN.md
 * "Processes"): rt_actor_new gives it a thread of its own, as CZMQ's zactor
 * does; rt_actor_spawn into an rt_group_t puts it on a shared thread whose
 * one reactor runs the handlers of all its bodies.
 *
 * Life cycle, always synchronous for the parent:
 * - start: the runtime makes the pipe, then calls fn (body, args) on the
 *   hosting thread. fn sets up its state, registers its sockets, fds and
 *   timers on rt_body_reactor (body) and its handlers with rt_body_set, and
 *   returns 0, or a negative UIS_ERR_* code after undoing what it did (then
 *   on_term is not called). The parent waits for that answer: spawn returns
 *   the actor, or NULL with fn's code. fn must not block nor send on the pipe
 *   (handlers may, later).
 * - messages: the runtime drains the body's pipe and calls on_msg for each
 *   message from the parent; malformed ones are dropped and counted. The
 *   body answers with rt_msg_send (msg, rt_body_pipe (body), ZMQ_DONTWAIT).
 * - stop: rt_actor_destroy marks the actor terminating, sends TERM and waits,
 *   with a bound, for the body's goodbye. From the mark on, messages still
 *   queued for the body are dropped unread (data frames freed, fds closed),
 *   so TERM is answered promptly however many are in flight. On TERM the
 *   runtime calls on_term (the body removes its sockets, fds and timers from
 *   the reactor, closes them, frees its state), closes the body's pipe, and
 *   says goodbye. Messages the body sent and the parent never read are freed
 *   with the parent's pipe.
 *
 * Bodies share their thread: a handler never blocks, and never ends the
 * loop (a handler's -1 only makes the group re-enter rt_reactor_run). A body
 * that fails tells its parent with a message and waits for TERM.
 *
 * Threads: the parent side (rt_actor_*) belongs to the thread that created
 * the actor; the body side (rt_body_*) to the hosting thread. A parent that
 * runs on the hosting thread itself (a body spawning or destroying a sibling
 * in its own group) is served inline, without a round trip. A body that
 * spawns or destroys an actor in another group blocks its own thread until
 * that group answers, so the parent/child graph between groups must have no
 * cycle (a body in G2 must not spawn into G1 while G1 spawns into G2). */
#ifndef UISCSI_ACTORS_RT_ACTOR_H
#define UISCSI_ACTORS_RT_ACTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "actors/rt/rt_msg.h"
#include "actors/rt/rt_reactor.h"

/* Default bound, in milliseconds, on stopping an actor or a group. */
#define RT_ACTOR_TERM_MS 5000

typedef struct _rt_actor_t rt_actor_t;
typedef struct _rt_body_t rt_body_t;
typedef struct _rt_group_t rt_group_t;

/* Starts a body on the hosting thread; see the life cycle above. */
typedef int (rt_actor_fn) (rt_body_t *body, void *args);

/* A message from the parent. msg is owned by the runtime, which closes it
 * after the call; the handler may move frames or the fd out of it. */
typedef void (rt_body_msg_fn) (rt_body_t *body, rt_msg_t *msg, void *state);

/* TERM: unregister and close everything the body made, free state. */
typedef void (rt_body_term_fn) (rt_body_t *body, void *state);

/* ---- groups: threads that host bodies ---------------------------------- */

/* Starts a thread running one reactor for any number of bodies. name (up to
 * 15 characters are used) names the thread. Signals are blocked on it.
 * Returns NULL on failure. */
rt_group_t *rt_group_new (const char *name);

/* Stops the thread and joins it, waiting at most RT_ACTOR_TERM_MS. Destroy
 * the group's actors first: bodies still hosted are torn down (on_term) and
 * their parents' rt_actor_destroy then only frees the parent side. Returns 0
 * and NULLs *self_p, or UIS_ERR_AGAIN if the thread did not end in time (it
 * is abandoned: its memory is leaked, never freed under it). Not from the
 * group's own thread. */
int rt_group_destroy (rt_group_t **self_p);

/* Number of bodies the group hosts (a snapshot). */
size_t rt_group_size (rt_group_t *self);

/* ---- actors: the parent side ------------------------------------------- */

/* Starts fn (body, args) on a thread of its own. Returns the actor, or NULL
 * if the thread or pipe cannot be made or fn fails. */
rt_actor_t *rt_actor_new (rt_actor_fn *fn, void *args);

/* Starts fn (body, args) in group, or on a thread of its own if group is
 * NULL. Returns the actor, or NULL with the error in *err (may be NULL):
 * fn's own code when fn fails. */
rt_actor_t *rt_actor_spawn (rt_group_t *group, rt_actor_fn *fn, void *args, int *err);

/* Stops the actor (see the life cycle above), waiting at most the actor's
 * term timeout, frees the parent side and NULLs *self_p. Remove the pipe
 * from any reactor first. Returns 0, or UIS_ERR_AGAIN if the body did not
 * answer in time: then the body and its thread are abandoned and their
 * memory leaked on purpose (a stuck thread may still use it). */
int rt_actor_destroy (rt_actor_t **self_p);

/* The parent's end of the pipe: poll it, send to the body, receive from it.
 * Owned by the actor. */
void *rt_actor_pipe (rt_actor_t *self);

/* Sends msg to the body (rt_msg_send on the pipe). */
int rt_actor_send (rt_actor_t *self, rt_msg_t *msg, int flags);

/* Sets the bound used by rt_actor_destroy (milliseconds, > 0). */
void rt_actor_set_term_timeout (rt_actor_t *self, int timeout_ms);

/* ---- bodies: the hosting side ------------------------------------------ */

/* The reactor of the hosting thread: register the body's sockets, fds and
 * timers on it. */
rt_reactor_t *rt_body_reactor (rt_body_t *self);

/* The body's end of the pipe (owned by the runtime; do not close it or add
 * it to the reactor). */
void *rt_body_pipe (rt_body_t *self);

/* The group hosting the body (to spawn siblings on the same thread). */
rt_group_t *rt_body_group (rt_body_t *self);

/* Sets the handlers and the state passed to them; on_msg and on_term may be
 * NULL (messages are then dropped; nothing to free). */
void rt_body_set (rt_body_t *self, rt_body_msg_fn *on_msg, rt_body_term_fn *on_term,
                  void *state);

/* True once the parent has begun destroying the actor: a body in a long
 * piece of work may stop early. */
bool rt_body_terminating (rt_body_t *self);

/* Malformed messages dropped from the body's pipe so far. */
size_t rt_body_malformed (rt_body_t *self);

#endif
