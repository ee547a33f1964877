/* rt_actor.c: actors (parent side), bodies (hosting side) and groups (the
 * threads that host bodies).
 *
 * Protocol on an actor's pipe (types from RT_MSG_TYPE_RESERVED up):
 *   body -> parent  READY (status: 0, or fn's error)   once, after start
 *   parent -> body  TERM                              once, at destroy
 *   body -> parent  BYE                               after on_term ran
 * On a group's control pipe (parent side shared under the group's lock):
 *   START (start requests wait in a locked list; the message is a wake-up
 *   and carries no pointer), STOP.
 *
 * Ownership: the parent creates both ends of an actor's pipe; the body's end
 * moves to the hosting thread with the start request (the group's lock is
 * the memory barrier libzmq asks for when a socket changes threads) and is
 * closed there. An rt_actor_t lives until the parent has its BYE, so the
 * body may read its flags until then; if the wait times out, it is leaked. */
#include "actors/rt/rt_actor.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "actors/rt/rt_ctx.h"
#include "proto/errors.h"

enum {
    s_TYPE_READY = RT_MSG_TYPE_RESERVED + 1,
    s_TYPE_TERM,
    s_TYPE_BYE,
    s_TYPE_START,
    s_TYPE_STOP,
};

/* Messages a pipe handler takes per round before yielding to others. */
#define s_DRAIN_MAX 256

typedef struct s_start {
    rt_actor_fn *fn;
    void *args;
    rt_actor_t *actor;
    void *pipe; /* the body's end, moving to the hosting thread */
    struct s_start *next;
} s_start_t;

struct _rt_group_t {
    char name[16];
    pthread_t thread;
    void *control;       /* parent side; used under lock */
    void *control_child; /* the group thread's side */
    pthread_mutex_t lock;
    s_start_t *pending; /* under lock */
    rt_reactor_t *reactor;
    rt_body_t *bodies; /* group thread only */
    bool stopping;     /* group thread only */
    atomic_size_t nbodies;
};

struct _rt_body_t {
    rt_group_t *group;
    rt_actor_t *actor;
    void *pipe;
    rt_body_msg_fn *on_msg;
    rt_body_term_fn *on_term;
    void *state;
    size_t malformed;
    rt_body_t *prev;
    rt_body_t *next;
};

struct _rt_actor_t {
    void *pipe;            /* parent's end */
    rt_group_t *group;     /* hosting group */
    rt_group_t *own_group; /* set when the actor has a thread of its own */
    rt_body_t *body;       /* hosting thread only */
    atomic_bool terminating;
    atomic_bool orphaned; /* the group tore the body down at its stop */
    atomic_int term_ms;
};

/* Monotonic milliseconds. */
static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* True if the caller runs on the group's thread. */
static bool
s_on_thread (rt_group_t *group)
{
    return pthread_equal (pthread_self (), group->thread) != 0;
}

/* Tears a body down on its hosting thread: on_term, unregister, say BYE
 * (or mark the actor orphaned when the group itself is stopping), close. */
static void
s_body_term (rt_body_t *body, bool bye)
{
    rt_group_t *group = body->group;
    rt_actor_t *actor = body->actor;
    if (body->on_term)
        body->on_term (body, body->state);
    rt_reactor_remove_socket (group->reactor, body->pipe);
    if (body->prev)
        body->prev->next = body->next;
    else
        group->bodies = body->next;
    if (body->next)
        body->next->prev = body->prev;
    atomic_fetch_sub (&group->nbodies, 1);
    actor->body = NULL;
    if (bye) {
        /* The parent drains its pipe while it waits, so this send ends soon;
         * the bound covers a parent that has given up. */
        int timeout = atomic_load (&actor->term_ms);
        zmq_setsockopt (body->pipe, ZMQ_SNDTIMEO, &timeout, sizeof timeout);
        rt_msg_signal (body->pipe, s_TYPE_BYE, 0, 0);
    }
    else
        atomic_store (&actor->orphaned, true);
    rt_socket_destroy (&body->pipe);
    free (body);
}

/* The body's pipe is readable: TERM ends the body; while terminating, the
 * rest is dropped unread; otherwise each message goes to on_msg. */
static int
s_body_on_pipe (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg)
{
    (void)reactor;
    (void)item;
    rt_body_t *body = arg;
    for (size_t n = 0; n < s_DRAIN_MAX; n++) {
        rt_msg_t msg;
        int rc = rt_msg_recv (&msg, body->pipe, ZMQ_DONTWAIT);
        if (rc == UIS_ERR_MALFORMED || rc == UIS_ERR_TOO_LONG) {
            body->malformed++;
            continue;
        }
        if (rc < 0)
            break; /* drained (or the context is going away) */
        if (msg.env.type == s_TYPE_TERM) {
            rt_msg_close (&msg);
            s_body_term (body, true);
            return 0; /* body is gone */
        }
        if (body->on_msg && !atomic_load (&body->actor->terminating))
            body->on_msg (body, &msg, body->state);
        rt_msg_close (&msg);
    }
    return 0;
}

/* Starts a body on the hosting thread and answers READY on its pipe. */
static void
s_body_start (rt_group_t *group, s_start_t *req)
{
    void *pipe = req->pipe;
    rt_body_t *body = calloc (1, sizeof *body);
    int rc = body ? 0 : UIS_ERR_NOMEM;
    if (rc == 0) {
        body->group = group;
        body->actor = req->actor;
        body->pipe = pipe;
        rc = req->fn (body, req->args);
        if (rc > 0)
            rc = 0;
        if (rc == 0) {
            rc = rt_reactor_add_socket (group->reactor, pipe, ZMQ_POLLIN, s_body_on_pipe,
                                        body);
            if (rc < 0 && body->on_term)
                body->on_term (body, body->state);
        }
    }
    if (rc < 0) {
        free (body);
        rt_msg_signal (pipe, s_TYPE_READY, rc, 0);
        rt_socket_destroy (&pipe);
        return;
    }
    body->next = group->bodies;
    if (group->bodies)
        group->bodies->prev = body;
    group->bodies = body;
    atomic_fetch_add (&group->nbodies, 1);
    req->actor->body = body;
    rt_msg_signal (pipe, s_TYPE_READY, 0, 0);
}

/* One message on the group's control pipe. */
static int
s_group_control_msg (rt_msg_t *msg, void *arg)
{
    rt_group_t *group = arg;
    if (msg->env.type == s_TYPE_STOP) {
        group->stopping = true;
        return -1;
    }
    if (msg->env.type != s_TYPE_START)
        return 0;
    pthread_mutex_lock (&group->lock);
    s_start_t *list = group->pending;
    group->pending = NULL;
    pthread_mutex_unlock (&group->lock);
    /* The list is newest first; start in request order. */
    s_start_t *fifo = NULL;
    while (list) {
        s_start_t *next = list->next;
        list->next = fifo;
        fifo = list;
        list = next;
    }
    while (fifo) {
        s_start_t *next = fifo->next; /* the parent may free fifo after READY */
        s_body_start (group, fifo);
        fifo = next;
    }
    return 0;
}

/* The group's control pipe is readable. */
static int
s_group_on_control (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg)
{
    (void)reactor;
    (void)item;
    rt_group_t *group = arg;
    return rt_msg_drain (group->control_child, s_DRAIN_MAX, s_group_control_msg, group,
                         NULL);
}

/* The group thread: one reactor for all bodies, until STOP. */
static void *
s_group_thread (void *arg)
{
    rt_group_t *group = arg;
    pthread_setname_np (pthread_self (), group->name);
    group->reactor = rt_reactor_new ();
    int rc = group->reactor
                 ? rt_reactor_add_socket (group->reactor, group->control_child,
                                          ZMQ_POLLIN, s_group_on_control, group)
                 : UIS_ERR_NOMEM;
    rt_msg_signal (group->control_child, s_TYPE_READY, rc, 0);
    if (rc < 0) {
        rt_reactor_destroy (&group->reactor);
        return NULL;
    }
    /* A body handler's -1 ends one run; only STOP (or a dead context) ends
     * the thread. */
    while (!group->stopping)
        if (rt_reactor_run (group->reactor) < 0)
            break;
    while (group->bodies)
        s_body_term (group->bodies, false);
    rt_reactor_destroy (&group->reactor);
    return NULL;
}

/* Frees a group whose thread has ended (or never started). */
static void
s_group_free (rt_group_t *self)
{
    rt_socket_destroy (&self->control);
    rt_socket_destroy (&self->control_child);
    pthread_mutex_destroy (&self->lock);
    free (self);
}

/* Starts a hosting thread and waits for its reactor to be ready. */
rt_group_t *
rt_group_new (const char *name)
{
    rt_group_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    snprintf (self->name, sizeof self->name, "%s", name ? name : "rt-group");
    pthread_mutex_init (&self->lock, NULL);
    char endpoint[64];
    if (rt_ctx_endpoint (endpoint, sizeof endpoint, "group") != 0) {
        s_group_free (self);
        return NULL;
    }
    self->control = rt_socket_new (ZMQ_PAIR);
    self->control_child = rt_socket_new (ZMQ_PAIR);
    if (!self->control || !self->control_child || zmq_bind (self->control, endpoint) != 0
        || zmq_connect (self->control_child, endpoint) != 0) {
        s_group_free (self);
        return NULL;
    }
    /* The thread starts with every signal blocked: signals go to the main
     * thread. */
    sigset_t all, old;
    sigfillset (&all);
    pthread_sigmask (SIG_SETMASK, &all, &old);
    int prc = pthread_create (&self->thread, NULL, s_group_thread, self);
    pthread_sigmask (SIG_SETMASK, &old, NULL);
    if (prc != 0) {
        s_group_free (self);
        return NULL;
    }
    rt_msg_t msg;
    int rc = rt_msg_recv (&msg, self->control, 0);
    bool ready = rc == 0 && msg.env.type == s_TYPE_READY && msg.env.status == 0;
    if (rc == 0)
        rt_msg_close (&msg);
    if (!ready) {
        /* The thread ends by itself after a failed start; STOP covers the
         * unexpected cases, and is dropped unread otherwise. */
        rt_msg_signal (self->control, s_TYPE_STOP, 0, ZMQ_DONTWAIT);
        pthread_join (self->thread, NULL);
        s_group_free (self);
        return NULL;
    }
    return self;
}

/* Stops the hosting thread and joins it within the bound. */
int
rt_group_destroy (rt_group_t **self_p)
{
    if (!self_p || !*self_p)
        return 0;
    rt_group_t *self = *self_p;
    assert (!s_on_thread (self)); /* a group cannot join itself */
    *self_p = NULL;
    pthread_mutex_lock (&self->lock);
    rt_msg_signal (self->control, s_TYPE_STOP, 0, ZMQ_DONTWAIT);
    pthread_mutex_unlock (&self->lock);
    struct timespec deadline;
    clock_gettime (CLOCK_REALTIME, &deadline);
    deadline.tv_sec += RT_ACTOR_TERM_MS / 1000;
    deadline.tv_nsec += (long)(RT_ACTOR_TERM_MS % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    if (pthread_timedjoin_np (self->thread, NULL, &deadline) != 0)
        return UIS_ERR_AGAIN; /* abandoned: the thread may still use self */
    s_group_free (self);
    return 0;
}

/* Number of hosted bodies. */
size_t
rt_group_size (rt_group_t *self)
{
    return atomic_load (&self->nbodies);
}

/* Starts an actor on its own thread. */
rt_actor_t *
rt_actor_new (rt_actor_fn *fn, void *args)
{
    return rt_actor_spawn (NULL, fn, args, NULL);
}

/* Frees the parent side of an actor whose body is gone (or never was). */
static void
s_actor_free (rt_actor_t *self)
{
    rt_socket_destroy (&self->pipe);
    free (self);
}

/* Waits for READY on the parent's end; other messages cannot come first
 * (fn must not send), and are dropped if they do. */
static int
s_wait_ready (rt_actor_t *self)
{
    for (;;) {
        rt_msg_t msg;
        int rc = rt_msg_recv (&msg, self->pipe, 0);
        if (rc == UIS_ERR_MALFORMED || rc == UIS_ERR_TOO_LONG || rc == UIS_ERR_AGAIN)
            continue;
        if (rc < 0)
            return rc;
        uint16_t type = msg.env.type;
        int32_t status = msg.env.status;
        rt_msg_close (&msg);
        if (type == s_TYPE_READY)
            return status < 0 ? status : 0;
    }
}

/* Starts an actor in a group (or on its own thread) and waits for READY. */
rt_actor_t *
rt_actor_spawn (rt_group_t *group, rt_actor_fn *fn, void *args, int *err)
{
    int rc = 0;
    rt_group_t *own = NULL;
    rt_actor_t *self = NULL;
    if (!fn) {
        rc = UIS_ERR_INVALID_ARG;
        goto fail;
    }
    if (!group) {
        own = rt_group_new ("rt-actor");
        if (!own) {
            rc = UIS_ERR_NOMEM;
            goto fail;
        }
        group = own;
    }
    self = calloc (1, sizeof *self);
    if (!self) {
        rc = UIS_ERR_NOMEM;
        goto fail;
    }
    self->group = group;
    self->own_group = own;
    atomic_init (&self->terminating, false);
    atomic_init (&self->orphaned, false);
    atomic_init (&self->term_ms, RT_ACTOR_TERM_MS);

    char endpoint[64];
    rc = rt_ctx_endpoint (endpoint, sizeof endpoint, "actor");
    if (rc < 0)
        goto fail;
    self->pipe = rt_socket_new (ZMQ_PAIR);
    void *child = rt_socket_new (ZMQ_PAIR);
    if (!self->pipe || !child || zmq_bind (self->pipe, endpoint) != 0
        || zmq_connect (child, endpoint) != 0) {
        rc = rt_zmq_err (errno);
        rt_socket_destroy (&child);
        goto fail;
    }
    s_start_t req = {.fn = fn, .args = args, .actor = self, .pipe = child, .next = NULL};
    if (s_on_thread (group))
        s_body_start (group, &req); /* a body spawning a sibling: inline */
    else {
        pthread_mutex_lock (&group->lock);
        req.next = group->pending;
        group->pending = &req;
        rc = rt_msg_signal (group->control, s_TYPE_START, 0, 0);
        if (rc < 0)
            group->pending = req.next; /* the group never saw it */
        pthread_mutex_unlock (&group->lock);
        if (rc < 0) {
            rt_socket_destroy (&child);
            goto fail;
        }
    }
    /* From here the body's end belongs to the hosting thread. */
    rc = s_wait_ready (self);
    if (rc < 0)
        goto fail;
    return self;

fail:
    if (self)
        s_actor_free (self);
    if (own)
        rt_group_destroy (&own);
    if (err)
        *err = rc;
    return NULL;
}

/* Sends TERM and waits for BYE until the deadline, dropping whatever the
 * body sent meanwhile (which also frees a body blocked on a send to us). */
static int
s_term_and_wait (rt_actor_t *self, int64_t deadline)
{
    bool term_sent = false;
    for (;;) {
        if (atomic_load (&self->orphaned))
            return 0;
        if (!term_sent) {
            int rc = rt_msg_signal (self->pipe, s_TYPE_TERM, 0, ZMQ_DONTWAIT);
            if (rc == 0)
                term_sent = true;
            else if (rc != UIS_ERR_AGAIN)
                return rc;
        }
        for (size_t n = 0; n < s_DRAIN_MAX; n++) {
            rt_msg_t msg;
            int rc = rt_msg_recv (&msg, self->pipe, ZMQ_DONTWAIT);
            if (rc == UIS_ERR_AGAIN)
                break;
            if (rc == UIS_ERR_MALFORMED || rc == UIS_ERR_TOO_LONG)
                continue;
            if (rc < 0)
                return rc;
            bool bye = msg.env.type == s_TYPE_BYE;
            rt_msg_close (&msg);
            if (bye && term_sent)
                return 0;
        }
        int64_t left = deadline - s_now_ms ();
        if (left <= 0)
            return UIS_ERR_AGAIN;
        zmq_pollitem_t item = {self->pipe, 0, ZMQ_POLLIN, 0};
        if (!term_sent)
            item.events |= ZMQ_POLLOUT;
        if (zmq_poll (&item, 1, (long)left) < 0 && errno != EINTR)
            return rt_zmq_err (errno);
    }
}

/* Stops the actor within its bound and frees the parent side. */
int
rt_actor_destroy (rt_actor_t **self_p)
{
    if (!self_p || !*self_p)
        return 0;
    rt_actor_t *self = *self_p;
    *self_p = NULL;
    if (atomic_load (&self->orphaned)) {
        /* The group was stopped (and may be freed): the body is gone. */
        s_actor_free (self);
        return 0;
    }
    if (s_on_thread (self->group)) {
        /* The parent is a body of the same group: none of this body's
         * handlers is running, so tear it down right here. */
        if (self->body)
            s_body_term (self->body, false);
        s_actor_free (self);
        return 0;
    }
    atomic_store (&self->terminating, true);
    int rc = s_term_and_wait (self, s_now_ms () + atomic_load (&self->term_ms));
    if (rc < 0) {
        /* The body may still read self: leak it, free only the queue. */
        rt_socket_destroy (&self->pipe);
        return rc;
    }
    if (self->own_group) {
        rc = rt_group_destroy (&self->own_group);
        if (rc < 0) {
            rt_socket_destroy (&self->pipe);
            return rc;
        }
    }
    s_actor_free (self);
    return 0;
}

/* The parent's end of the pipe. */
void *
rt_actor_pipe (rt_actor_t *self)
{
    return self->pipe;
}

/* Sends a message to the body. */
int
rt_actor_send (rt_actor_t *self, rt_msg_t *msg, int flags)
{
    return rt_msg_send (msg, self->pipe, flags);
}

/* Sets the destroy bound. */
void
rt_actor_set_term_timeout (rt_actor_t *self, int timeout_ms)
{
    assert (timeout_ms > 0);
    atomic_store (&self->term_ms, timeout_ms);
}

/* The hosting thread's reactor. */
rt_reactor_t *
rt_body_reactor (rt_body_t *self)
{
    return self->group->reactor;
}

/* The body's end of the pipe. */
void *
rt_body_pipe (rt_body_t *self)
{
    return self->pipe;
}

/* The hosting group. */
rt_group_t *
rt_body_group (rt_body_t *self)
{
    return self->group;
}

/* Sets the body's handlers and state. */
void
rt_body_set (rt_body_t *self, rt_body_msg_fn *on_msg, rt_body_term_fn *on_term,
             void *state)
{
    self->on_msg = on_msg;
    self->on_term = on_term;
    self->state = state;
}

/* True once the parent began destroying the actor. */
bool
rt_body_terminating (rt_body_t *self)
{
    return atomic_load (&self->actor->terminating);
}

/* Count of malformed messages dropped from the pipe. */
size_t
rt_body_malformed (rt_body_t *self)
{
    return self->malformed;
}
