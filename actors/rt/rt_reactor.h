/* rt_reactor.h: the event loop of an actor thread (zmq_poll + zmq_timers).
 *
 * A reactor polls a dynamic set of ZeroMQ sockets and raw fds, each with a
 * handler and an arg, and runs timers from zmq_timers. Everything, timer
 * expiry included, reaches the code as a handler call from the loop, on the
 * reactor's thread: there is no side channel.
 *
 * Rules for handlers:
 * - Drain: a socket handler receives until EAGAIN (use rt_msg_drain with a
 *   bound) and an fd handler reads/writes its non-blocking fd until EAGAIN,
 *   before returning. zmq_poll is level-triggered, so whatever a bounded
 *   drain leaves is reported again in the next round.
 * - Return 0 to go on, or -1 (any negative value) to end rt_reactor_run.
 * - Handlers may add and remove sockets, fds and timers, their own included,
 *   at any time: removals are marked and compacted after the round, so a
 *   removed item is never called again, not even later in the same round,
 *   and additions take part from the next round.
 * - Never block: sends to a peer that may be sending back use ZMQ_DONTWAIT.
 *
 * A reactor is not thread-safe: one thread creates, runs and destroys it. It
 * does not own the sockets or fds registered on it. */
#ifndef UISCSI_ACTORS_RT_REACTOR_H
#define UISCSI_ACTORS_RT_REACTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <zmq.h>

typedef struct _rt_reactor_t rt_reactor_t;

/* A socket or fd is ready. item is a copy of the poll item (socket or fd,
 * events, and revents masked to the events asked for plus ZMQ_POLLERR),
 * valid during the call only. */
typedef int (rt_reactor_fn) (rt_reactor_t *reactor, const zmq_pollitem_t *item,
                             void *arg);

/* A timer expired. */
typedef int (rt_timer_fn) (rt_reactor_t *reactor, int timer_id, void *arg);

/* Creates an empty reactor; NULL if out of memory. */
rt_reactor_t *rt_reactor_new (void);

/* Destroys the reactor with its timers (not its sockets or fds) and NULLs
 * *self_p. Not from inside one of its handlers. */
void rt_reactor_destroy (rt_reactor_t **self_p);

/* Polls socket for events (ZMQ_POLLIN and/or ZMQ_POLLOUT) and calls fn (reactor,
 * item, arg) when ready. Returns 0, UIS_ERR_INVALID_ARG (NULL socket or fn,
 * no events, or the socket is already registered) or UIS_ERR_NOMEM. */
int rt_reactor_add_socket (rt_reactor_t *self, void *socket, short events,
                           rt_reactor_fn *fn, void *arg);

/* The same for a raw file descriptor (pipe, eventfd, TCP socket). */
int rt_reactor_add_fd (rt_reactor_t *self, int fd, short events, rt_reactor_fn *fn,
                       void *arg);

/* Stops polling socket (or fd). Returns 0 or UIS_ERR_INVALID_ARG if it is not
 * registered. */
int rt_reactor_remove_socket (rt_reactor_t *self, void *socket);
int rt_reactor_remove_fd (rt_reactor_t *self, int fd);

/* Changes the events polled for a registered socket (or fd), e.g. to add
 * ZMQ_POLLOUT only while output is pending. Takes effect at once, also for
 * the round being dispatched. Returns 0 or UIS_ERR_INVALID_ARG. */
int rt_reactor_set_socket_events (rt_reactor_t *self, void *socket, short events);
int rt_reactor_set_fd_events (rt_reactor_t *self, int fd, short events);

/* Adds a timer that calls fn every interval_ms milliseconds, times times
 * (1 = one-shot, 0 = until cancelled). An interval of 0 counts as 1 ms.
 * Returns the timer id (> 0) or UIS_ERR_NOMEM / UIS_ERR_INVALID_ARG.
 * Ids are not reused. Costs: libzmq keeps timers in a map and cancel/reset
 * scan it, so keep timers few per reactor (one per session or connection,
 * reset on activity), not one per command. */
int rt_reactor_timer_add (rt_reactor_t *self, size_t interval_ms, size_t times,
                          rt_timer_fn *fn, void *arg);

/* Cancels a live timer: it is never called again, even if it already expired
 * in the round being dispatched. Returns 0 or UIS_ERR_INVALID_ARG for an id
 * that is unknown, cancelled, or a one-shot that has fired. */
int rt_reactor_timer_cancel (rt_reactor_t *self, int timer_id);

/* Restarts a live timer's countdown from now (a deadline pushed back by
 * activity); an expiry not yet dispatched in this round is withdrawn.
 * Returns 0 or UIS_ERR_INVALID_ARG. */
int rt_reactor_timer_reset (rt_reactor_t *self, int timer_id);

/* Changes a live timer's interval and restarts its countdown from now. */
int rt_reactor_timer_set_interval (rt_reactor_t *self, int timer_id, size_t interval_ms);

/* Number of live (not cancelled or finished) timers. */
size_t rt_reactor_timers (rt_reactor_t *self);

/* Number of registered sockets and fds (removed ones not counted). */
size_t rt_reactor_items (rt_reactor_t *self);

/* Runs rounds (poll, then timers, then ready items) until a handler returns
 * < 0 or calls rt_reactor_stop, or nothing is left to wait for (no items, no
 * timers). Returns 0 then, or a UIS_ERR_* code if polling fails
 * (UIS_ERR_STATE when the context was terminated). EINTR is retried. */
int rt_reactor_run (rt_reactor_t *self);

/* Runs one round, waiting at most timeout_ms (-1: until something happens,
 * 0: do not wait). Returns 1 if a handler asked to stop, 0 otherwise, or a
 * UIS_ERR_* code if polling fails. For tests and for embedding. */
int rt_reactor_run_once (rt_reactor_t *self, long timeout_ms);

/* Ends rt_reactor_run after the handler that calls it returns; the rest of
 * the round is left for the next run (expired timers are kept, ready sockets
 * stay ready). */
void rt_reactor_stop (rt_reactor_t *self);

#endif
