/* rt_reactor.c: zmq_poll over sockets and fds, zmq_timers for timers.
 *
 * Poll items live in one array handed to zmq_poll, with a parallel array of
 * handlers. A handler may grow the arrays (realloc), so dispatch goes by
 * index and copies the item before each call. Removals during a round only
 * mark the entry; the arrays are compacted after the round.
 *
 * libzmq's zmq_timers_execute calls its callbacks while it walks its own
 * map, and reset/set_interval erase from that map, so nothing may touch the
 * timers from inside execute. The callback therefore only queues the expired
 * timer; the user handlers run after execute returns, where they may add,
 * cancel and reset timers freely. A timer record is freed only when it is
 * dead (cancelled or finished) and not queued. Intervals are at least 1 ms:
 * libzmq re-arms a fired timer at now + interval within the same execute
 * walk, and an interval of 0 would loop there forever. */
#include "actors/rt/rt_reactor.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "actors/rt/rt_ctx.h"
#include "proto/errors.h"

typedef struct {
    rt_reactor_fn *fn;
    void *arg;
    bool dead;
} s_handler_t;

typedef struct {
    rt_reactor_t *reactor;
    int id;
    size_t times; /* expiries left; 0 = until cancelled */
    rt_timer_fn *fn;
    void *arg;
    bool dead;    /* cancelled or finished: never called again */
    bool pending; /* in the reactor's pending queue */
    bool skip;    /* the queued expiry was withdrawn by a reset */
} s_timer_t;

struct _rt_reactor_t {
    zmq_pollitem_t *items;
    s_handler_t *handlers;
    size_t nitems; /* entries, dead ones included */
    size_t cap_items;
    size_t nlive;     /* entries not removed */
    void *timers;     /* zmq_timers */
    s_timer_t **trec; /* timer records, dead ones until compaction */
    size_t ntimers;
    size_t cap_timers;
    size_t nlive_timers;
    s_timer_t **pending; /* expired, not yet dispatched; capacity >= cap_timers */
    size_t phead;
    size_t npending;
    bool dispatching;
    bool running;
    bool stop;
};

/* Creates an empty reactor. */
rt_reactor_t *
rt_reactor_new (void)
{
    rt_reactor_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->timers = zmq_timers_new ();
    if (!self->timers) {
        free (self);
        return NULL;
    }
    return self;
}

/* Frees the reactor and its timer records; sockets and fds are not ours. */
void
rt_reactor_destroy (rt_reactor_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rt_reactor_t *self = *self_p;
    assert (!self->running);
    for (size_t i = 0; i < self->ntimers; i++)
        free (self->trec[i]);
    free (self->trec);
    free (self->pending);
    zmq_timers_destroy (&self->timers);
    free (self->items);
    free (self->handlers);
    free (self);
    *self_p = NULL;
}

/* Index of the live entry for socket (or fd when socket is NULL), or -1. */
static long
s_find (rt_reactor_t *self, void *socket, int fd)
{
    for (size_t i = 0; i < self->nitems; i++) {
        if (self->handlers[i].dead)
            continue;
        if (socket ? self->items[i].socket == socket
                   : !self->items[i].socket && self->items[i].fd == fd)
            return (long)i;
    }
    return -1;
}

/* Drops removed entries from both arrays; never during dispatch. */
static void
s_compact_items (rt_reactor_t *self)
{
    if (self->nlive == self->nitems)
        return;
    size_t j = 0;
    for (size_t i = 0; i < self->nitems; i++) {
        if (self->handlers[i].dead)
            continue;
        self->items[j] = self->items[i];
        self->handlers[j] = self->handlers[i];
        j++;
    }
    self->nitems = j;
}

/* Appends a poll item and its handler. */
static int
s_add (rt_reactor_t *self, void *socket, int fd, short events, rt_reactor_fn *fn,
       void *arg)
{
    if (!fn || !(events & (ZMQ_POLLIN | ZMQ_POLLOUT)))
        return UIS_ERR_INVALID_ARG;
    if (s_find (self, socket, fd) >= 0)
        return UIS_ERR_INVALID_ARG;
    if (self->nitems == self->cap_items) {
        size_t cap = self->cap_items ? self->cap_items * 2 : 8;
        zmq_pollitem_t *items = realloc (self->items, cap * sizeof *items);
        if (!items)
            return UIS_ERR_NOMEM;
        self->items = items;
        s_handler_t *handlers = realloc (self->handlers, cap * sizeof *handlers);
        if (!handlers)
            return UIS_ERR_NOMEM;
        self->handlers = handlers;
        self->cap_items = cap;
    }
    zmq_pollitem_t *item = &self->items[self->nitems];
    item->socket = socket;
    item->fd = socket ? 0 : fd;
    item->events = events;
    item->revents = 0;
    self->handlers[self->nitems] = (s_handler_t){.fn = fn, .arg = arg, .dead = false};
    self->nitems++;
    self->nlive++;
    return 0;
}

/* Registers a ZeroMQ socket. */
int
rt_reactor_add_socket (rt_reactor_t *self, void *socket, short events, rt_reactor_fn *fn,
                       void *arg)
{
    if (!socket)
        return UIS_ERR_INVALID_ARG;
    return s_add (self, socket, 0, events, fn, arg);
}

/* Registers a raw fd. */
int
rt_reactor_add_fd (rt_reactor_t *self, int fd, short events, rt_reactor_fn *fn, void *arg)
{
    if (fd < 0)
        return UIS_ERR_INVALID_ARG;
    return s_add (self, NULL, fd, events, fn, arg);
}

/* Marks an entry removed; compacts at once outside dispatch. */
static int
s_remove (rt_reactor_t *self, void *socket, int fd)
{
    long i = s_find (self, socket, fd);
    if (i < 0)
        return UIS_ERR_INVALID_ARG;
    self->handlers[i].dead = true;
    self->items[i].events = 0;
    self->items[i].revents = 0;
    self->nlive--;
    if (!self->dispatching)
        s_compact_items (self);
    return 0;
}

/* Unregisters a socket. */
int
rt_reactor_remove_socket (rt_reactor_t *self, void *socket)
{
    if (!socket)
        return UIS_ERR_INVALID_ARG;
    return s_remove (self, socket, 0);
}

/* Unregisters an fd. */
int
rt_reactor_remove_fd (rt_reactor_t *self, int fd)
{
    if (fd < 0)
        return UIS_ERR_INVALID_ARG;
    return s_remove (self, NULL, fd);
}

/* Changes the events of a live entry. */
static int
s_set_events (rt_reactor_t *self, void *socket, int fd, short events)
{
    long i = s_find (self, socket, fd);
    if (i < 0 || !(events & (ZMQ_POLLIN | ZMQ_POLLOUT)))
        return UIS_ERR_INVALID_ARG;
    self->items[i].events = events;
    return 0;
}

/* Changes the events polled for a socket. */
int
rt_reactor_set_socket_events (rt_reactor_t *self, void *socket, short events)
{
    if (!socket)
        return UIS_ERR_INVALID_ARG;
    return s_set_events (self, socket, 0, events);
}

/* Changes the events polled for an fd. */
int
rt_reactor_set_fd_events (rt_reactor_t *self, int fd, short events)
{
    if (fd < 0)
        return UIS_ERR_INVALID_ARG;
    return s_set_events (self, NULL, fd, events);
}

/* zmq_timers callback, run inside zmq_timers_execute: only queue the expiry.
 * The queue has room for every record, and a record is queued at most once. */
static void
s_timer_expired (int timer_id, void *arg)
{
    (void)timer_id;
    s_timer_t *rec = arg;
    rt_reactor_t *self = rec->reactor;
    if (rec->dead)
        return;
    rec->skip = false; /* a new expiry after a reset counts again */
    if (rec->pending)
        return;
    assert (self->npending < self->cap_timers);
    rec->pending = true;
    self->pending[self->npending++] = rec;
}

/* The live record of a timer id, or NULL. */
static s_timer_t *
s_find_timer (rt_reactor_t *self, int timer_id)
{
    for (size_t i = 0; i < self->ntimers; i++)
        if (self->trec[i]->id == timer_id && !self->trec[i]->dead)
            return self->trec[i];
    return NULL;
}

/* Cancels a record in libzmq and marks it dead. */
static void
s_timer_kill (rt_reactor_t *self, s_timer_t *rec)
{
    zmq_timers_cancel (self->timers, rec->id);
    rec->dead = true;
    self->nlive_timers--;
}

/* Adds a timer; the record is ours, libzmq holds a pointer to it. */
int
rt_reactor_timer_add (rt_reactor_t *self, size_t interval_ms, size_t times,
                      rt_timer_fn *fn, void *arg)
{
    if (!fn)
        return UIS_ERR_INVALID_ARG;
    if (interval_ms == 0)
        interval_ms = 1;
    if (self->ntimers == self->cap_timers) {
        size_t cap = self->cap_timers ? self->cap_timers * 2 : 8;
        s_timer_t **trec = realloc (self->trec, cap * sizeof *trec);
        if (!trec)
            return UIS_ERR_NOMEM;
        self->trec = trec;
        s_timer_t **pending = realloc (self->pending, cap * sizeof *pending);
        if (!pending)
            return UIS_ERR_NOMEM;
        self->pending = pending;
        self->cap_timers = cap;
    }
    s_timer_t *rec = calloc (1, sizeof *rec);
    if (!rec)
        return UIS_ERR_NOMEM;
    rec->reactor = self;
    rec->times = times;
    rec->fn = fn;
    rec->arg = arg;
    int id = zmq_timers_add (self->timers, interval_ms, s_timer_expired, rec);
    if (id <= 0) {
        int e = errno;
        free (rec);
        return rt_zmq_err (e);
    }
    rec->id = id;
    self->trec[self->ntimers++] = rec;
    self->nlive_timers++;
    return id;
}

/* Cancels a live timer. */
int
rt_reactor_timer_cancel (rt_reactor_t *self, int timer_id)
{
    s_timer_t *rec = s_find_timer (self, timer_id);
    if (!rec)
        return UIS_ERR_INVALID_ARG;
    s_timer_kill (self, rec);
    return 0;
}

/* Restarts a live timer's countdown and withdraws an undispatched expiry. */
int
rt_reactor_timer_reset (rt_reactor_t *self, int timer_id)
{
    s_timer_t *rec = s_find_timer (self, timer_id);
    if (!rec || zmq_timers_reset (self->timers, timer_id) != 0)
        return UIS_ERR_INVALID_ARG;
    if (rec->pending)
        rec->skip = true;
    return 0;
}

/* Changes a live timer's interval and restarts its countdown. */
int
rt_reactor_timer_set_interval (rt_reactor_t *self, int timer_id, size_t interval_ms)
{
    s_timer_t *rec = s_find_timer (self, timer_id);
    if (interval_ms == 0)
        interval_ms = 1;
    if (!rec || zmq_timers_set_interval (self->timers, timer_id, interval_ms) != 0)
        return UIS_ERR_INVALID_ARG;
    if (rec->pending)
        rec->skip = true;
    return 0;
}

/* Number of live timers. */
size_t
rt_reactor_timers (rt_reactor_t *self)
{
    return self->nlive_timers;
}

/* Number of live poll entries. */
size_t
rt_reactor_items (rt_reactor_t *self)
{
    return self->nlive;
}

/* Moves undispatched expiries to the front of the queue and frees dead
 * records that are not queued. Never during dispatch. */
static void
s_compact_timers (rt_reactor_t *self)
{
    if (self->phead > 0) {
        size_t left = self->npending - self->phead;
        memmove (self->pending, self->pending + self->phead,
                 left * sizeof *self->pending);
        self->npending = left;
        self->phead = 0;
    }
    if (self->nlive_timers == self->ntimers)
        return;
    size_t j = 0;
    for (size_t i = 0; i < self->ntimers; i++) {
        s_timer_t *rec = self->trec[i];
        if (rec->dead && !rec->pending)
            free (rec);
        else
            self->trec[j++] = rec;
    }
    self->ntimers = j;
}

/* Calls the handlers of queued expiries, in expiry order, until stopped. */
static void
s_dispatch_timers (rt_reactor_t *self)
{
    while (self->phead < self->npending && !self->stop) {
        s_timer_t *rec = self->pending[self->phead++];
        rec->pending = false;
        if (rec->dead || rec->skip) {
            rec->skip = false;
            continue;
        }
        if (rec->times > 0 && --rec->times == 0)
            s_timer_kill (self, rec);
        /* rec stays allocated during the call: records are freed only in
         * s_compact_timers, after the round. */
        if (rec->fn (self, rec->id, rec->arg) < 0)
            self->stop = true;
    }
}

/* Calls the handlers of ready items polled in this round. */
static void
s_dispatch_items (rt_reactor_t *self, size_t nitems)
{
    for (size_t i = 0; i < nitems && !self->stop; i++) {
        if (self->handlers[i].dead)
            continue;
        short revents = self->items[i].revents & (self->items[i].events | ZMQ_POLLERR);
        if (!revents)
            continue;
        zmq_pollitem_t item = self->items[i];
        item.revents = revents;
        s_handler_t handler = self->handlers[i];
        if (handler.fn (self, &item, handler.arg) < 0)
            self->stop = true;
    }
}

/* True when a wait could never end: nothing polled, no timers, no expiry. */
static bool
s_idle (rt_reactor_t *self)
{
    return self->nlive == 0 && self->nlive_timers == 0 && self->phead == self->npending;
}

/* One round: poll (bounded by the next timer), run timers, run ready items. */
static int
s_round (rt_reactor_t *self, long timeout_ms)
{
    if (self->phead < self->npending)
        timeout_ms = 0; /* expiries left over from a stopped round */
    else {
        long next = zmq_timers_timeout (self->timers);
        if (next >= 0 && (timeout_ms < 0 || next < timeout_ms))
            timeout_ms = next;
    }
    if (self->nitems == 0 && timeout_ms < 0)
        return 0;
    for (size_t i = 0; i < self->nitems; i++)
        self->items[i].revents = 0;
    int rc = zmq_poll (self->items, (int)self->nitems, timeout_ms);
    if (rc < 0 && errno != EINTR)
        return rt_zmq_err (errno);
    size_t nitems = rc < 0 ? 0 : self->nitems;
    zmq_timers_execute (self->timers);
    self->dispatching = true;
    s_dispatch_timers (self);
    s_dispatch_items (self, nitems);
    self->dispatching = false;
    s_compact_items (self);
    s_compact_timers (self);
    return 0;
}

/* Runs rounds until stopped, idle, or polling fails. */
int
rt_reactor_run (rt_reactor_t *self)
{
    assert (!self->running); /* not re-entrant */
    self->running = true;
    self->stop = false;
    int rc = 0;
    while (!self->stop && !s_idle (self)) {
        rc = s_round (self, -1);
        if (rc < 0)
            break;
    }
    self->running = false;
    self->stop = false;
    return rc;
}

/* Runs a single round. */
int
rt_reactor_run_once (rt_reactor_t *self, long timeout_ms)
{
    assert (!self->running);
    self->running = true;
    self->stop = false;
    int rc = 0;
    if (!(s_idle (self) && timeout_ms < 0))
        rc = s_round (self, timeout_ms);
    if (rc == 0 && self->stop)
        rc = 1;
    self->running = false;
    self->stop = false;
    return rc;
}

/* Asks the running loop to end after the current handler. */
void
rt_reactor_stop (rt_reactor_t *self)
{
    self->stop = true;
}
