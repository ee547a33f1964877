/* test_rt_actor.c: actors, bodies and groups (actors/rt/rt_actor): start
 * and stop 200 times with no thread, socket or memory leak; start failure
 * propagated; 10000 messages in order both ways; zero-copy hand-off through
 * inproc; shutdown with 1000 messages in flight (bounded, nothing leaked,
 * queued fds closed); two actors on one thread; a body spawning and
 * destroying a sibling on its own thread; a raw fd moved into an actor and
 * polled there; malformed envelopes on the pipe dropped and counted; a group
 * stopped under a live actor. Every wait is bounded.
 * Conformance ids: R10 (the runtime's share: no thread or memory leak across
 * start/stop cycles). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>
#include <zmq.h>

#include "actors/rt/rt_actor.h"
#include "actors/rt/rt_ctx.h"
#include "actors/rt/rt_msg.h"
#include "actors/rt/rt_reactor.h"
#include "proto/errors.h"

#define WAIT_MS 5000

enum {
    T_PING = 1,
    T_QUERY,
    T_SEQ,
    T_REPORT,
    T_BURST,
    T_ENTERED,
    T_DATA,
    T_SPAWN,
    T_KILL,
    T_CHILD,
    T_FD,
    T_FDDATA,
};

static atomic_int s_inits;
static atomic_int s_terms;

static int
group_teardown (void **state)
{
    (void)state;
    assert_int_equal (rt_ctx_sockets (), 0);
    return rt_ctx_term ();
}

/* Threads of this process, from /proc/self/task. */
static int
s_threads_now (void)
{
    DIR *dir = opendir ("/proc/self/task");
    assert_non_null (dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir (dir)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir (dir);
    return n;
}

/* Thread count once it settles at want: a joined thread may linger in /proc
 * for a moment after pthread_join returns. Bounded by a count, no sleep. */
static int
s_threads_settle (int want)
{
    int n = s_threads_now ();
    for (int i = 0; i < 100000 && n != want; i++) {
        sched_yield ();
        n = s_threads_now ();
    }
    return n;
}

/* Receives one message, waiting at most ms. */
static int
s_recv_wait (void *socket, rt_msg_t *msg, long ms)
{
    zmq_pollitem_t item = {socket, 0, ZMQ_POLLIN, 0};
    if (zmq_poll (&item, 1, ms) < 0)
        return rt_zmq_err (errno);
    return rt_msg_recv (msg, socket, ZMQ_DONTWAIT);
}

static void
s_send_type (void *socket, uint16_t type, uint64_t corr, uint64_t aux)
{
    rt_msg_t msg;
    rt_msg_init (&msg, type);
    msg.env.corr = corr;
    msg.env.aux = aux;
    assert_int_equal (rt_msg_send (&msg, socket, 0), 0);
}

/* Free function counting into an atomic passed as hint. */
static void
s_atomic_free (void *data, void *hint)
{
    atomic_fetch_add ((atomic_int *)hint, 1);
    free (data);
}

/* ---- the echo body ------------------------------------------------------ */

typedef struct {
    uint64_t next;   /* T_SEQ: next expected corr */
    uint64_t bad_at; /* first corr out of order, or UINT64_MAX */
    uint64_t count;
} echo_t;

/* Echo: T_SEQ is checked for order, T_REPORT answers the check, T_BURST
 * sends aux T_SEQ messages, T_QUERY answers the malformed count; anything
 * else comes back as it is, frames moved, with the first frame's address in
 * aux (to check zero-copy). */
static void
s_echo_msg (rt_body_t *body, rt_msg_t *msg, void *state)
{
    echo_t *self = state;
    void *pipe = rt_body_pipe (body);
    switch (msg->env.type) {
    case T_SEQ:
        if (msg->env.corr != self->next && self->bad_at == UINT64_MAX)
            self->bad_at = msg->env.corr;
        self->next = msg->env.corr + 1;
        self->count++;
        return;
    case T_REPORT: {
        rt_msg_t reply;
        rt_msg_init (&reply, T_REPORT);
        reply.env.corr = self->bad_at;
        reply.env.aux = self->count;
        rt_msg_send (&reply, pipe, ZMQ_DONTWAIT);
        return;
    }
    case T_BURST:
        /* Blocking sends on purpose: the parent reads while we send. */
        for (uint64_t i = 0; i < msg->env.aux; i++) {
            rt_msg_t seq;
            rt_msg_init (&seq, T_SEQ);
            seq.env.corr = i;
            if (rt_msg_send (&seq, pipe, 0) != 0)
                return;
        }
        return;
    case T_QUERY:
        msg->env.aux = rt_body_malformed (body);
        break;
    default:
        msg->env.aux = (uint64_t)(uintptr_t)rt_msg_data (msg, 0, NULL);
        break;
    }
    rt_msg_send (msg, pipe, ZMQ_DONTWAIT);
}

static void
s_echo_term (rt_body_t *body, void *state)
{
    (void)body;
    free (state);
    atomic_fetch_add (&s_terms, 1);
}

static int
s_echo_start (rt_body_t *body, void *args)
{
    (void)args;
    echo_t *self = calloc (1, sizeof *self);
    if (!self)
        return UIS_ERR_NOMEM;
    self->bad_at = UINT64_MAX;
    rt_body_set (body, s_echo_msg, s_echo_term, self);
    atomic_fetch_add (&s_inits, 1);
    return 0;
}

/* R10 (runtime share): 200 start/stop cycles, each answering a ping; after
 * them, as many threads and sockets as before, every on_term ran (ASan and
 * valgrind check memory). */
static void
test_start_stop_200 (void **state)
{
    (void)state;
    rt_actor_t *actor = rt_actor_new (s_echo_start, NULL); /* warm up libzmq */
    assert_non_null (actor);
    assert_int_equal (rt_actor_destroy (&actor), 0);
    int threads = s_threads_settle (s_threads_now ());
    size_t sockets = rt_ctx_sockets ();
    atomic_store (&s_inits, 0);
    atomic_store (&s_terms, 0);
    for (uint64_t i = 0; i < 200; i++) {
        actor = rt_actor_new (s_echo_start, NULL);
        assert_non_null (actor);
        assert_int_equal (s_threads_now (), threads + 1);
        assert_int_equal (rt_ctx_sockets (), sockets + 4); /* 2 pipe + 2 control */
        s_send_type (rt_actor_pipe (actor), T_PING, i, 0);
        rt_msg_t reply;
        assert_int_equal (s_recv_wait (rt_actor_pipe (actor), &reply, WAIT_MS), 0);
        assert_int_equal (reply.env.type, T_PING);
        assert_int_equal (reply.env.corr, i);
        rt_msg_close (&reply);
        assert_int_equal (rt_actor_destroy (&actor), 0);
        assert_null (actor);
    }
    assert_int_equal (atomic_load (&s_inits), 200);
    assert_int_equal (atomic_load (&s_terms), 200);
    assert_int_equal (s_threads_settle (threads), threads);
    assert_int_equal (rt_ctx_sockets (), sockets);
    assert_int_equal (rt_actor_destroy (&actor), 0); /* NULL: no-op */
}

/* Fails after making and undoing some state. */
static int
s_fail_start (rt_body_t *body, void *args)
{
    (void)body;
    void *scratch = malloc (100);
    free (scratch);
    atomic_fetch_add (&s_inits, 1);
    return *(int *)args;
}

/* A failing start returns NULL with fn's own code, on a thread of its own
 * and in a group, and leaves no thread or socket behind. */
static void
test_start_failure (void **state)
{
    (void)state;
    int threads = s_threads_now ();
    size_t sockets = rt_ctx_sockets ();
    atomic_store (&s_inits, 0);
    int code = UIS_ERR_NEGOTIATION;
    int err = 0;
    assert_null (rt_actor_spawn (NULL, s_fail_start, &code, &err));
    assert_int_equal (err, UIS_ERR_NEGOTIATION);
    code = UIS_ERR_NOMEM;
    assert_null (rt_actor_new (s_fail_start, &code));
    assert_int_equal (atomic_load (&s_inits), 2);
    assert_null (rt_actor_spawn (NULL, NULL, NULL, &err));
    assert_int_equal (err, UIS_ERR_INVALID_ARG);
    assert_int_equal (s_threads_settle (threads), threads);
    assert_int_equal (rt_ctx_sockets (), sockets);

    rt_group_t *group = rt_group_new ("t-fail");
    assert_non_null (group);
    code = UIS_ERR_AUTH_FAILED;
    err = 0;
    assert_null (rt_actor_spawn (group, s_fail_start, &code, &err));
    assert_int_equal (err, UIS_ERR_AUTH_FAILED);
    assert_int_equal (rt_group_size (group), 0);
    /* The group still works after a failed start. */
    rt_actor_t *actor = rt_actor_spawn (group, s_echo_start, NULL, &err);
    assert_non_null (actor);
    assert_int_equal (rt_group_size (group), 1);
    assert_int_equal (rt_actor_destroy (&actor), 0);
    assert_int_equal (rt_group_size (group), 0);
    assert_int_equal (rt_group_destroy (&group), 0);
    assert_null (group);
    assert_int_equal (s_threads_settle (threads), threads);
    assert_int_equal (rt_ctx_sockets (), sockets);
}

/* 10000 messages arrive in order, parent to body and body to parent. */
static void
test_ordering_10000 (void **state)
{
    (void)state;
    rt_actor_t *actor = rt_actor_new (s_echo_start, NULL);
    assert_non_null (actor);
    void *pipe = rt_actor_pipe (actor);
    for (uint64_t i = 0; i < 10000; i++) {
        rt_msg_t msg;
        rt_msg_init (&msg, T_SEQ);
        msg.env.corr = i;
        assert_int_equal (rt_msg_set_body (&msg, &i, sizeof i), 0);
        assert_int_equal (rt_actor_send (actor, &msg, 0), 0);
    }
    s_send_type (pipe, T_REPORT, 0, 0);
    rt_msg_t reply;
    assert_int_equal (s_recv_wait (pipe, &reply, WAIT_MS), 0);
    assert_int_equal (reply.env.type, T_REPORT);
    assert_int_equal (reply.env.aux, 10000);
    assert_true (reply.env.corr == UINT64_MAX); /* nothing out of order */
    rt_msg_close (&reply);

    s_send_type (pipe, T_BURST, 0, 10000);
    for (uint64_t i = 0; i < 10000; i++) {
        assert_int_equal (s_recv_wait (pipe, &reply, WAIT_MS), 0);
        assert_int_equal (reply.env.type, T_SEQ);
        assert_int_equal (reply.env.corr, i);
        rt_msg_close (&reply);
    }
    assert_int_equal (rt_msg_recv (&reply, pipe, ZMQ_DONTWAIT), UIS_ERR_AGAIN);
    assert_int_equal (rt_actor_destroy (&actor), 0);
}

/* A wrapped buffer goes to another thread and back at the same address,
 * never copied, and its free function runs exactly once. */
static void
test_zero_copy_handoff (void **state)
{
    (void)state;
    atomic_int frees = 0;
    rt_actor_t *actor = rt_actor_new (s_echo_start, NULL);
    assert_non_null (actor);
    uint8_t *buf = malloc (256 * 1024);
    assert_non_null (buf);
    for (size_t i = 0; i < 256 * 1024; i++)
        buf[i] = (uint8_t)(i * 31);
    rt_msg_t msg;
    rt_msg_init (&msg, T_PING);
    assert_int_equal (rt_msg_add_buffer (&msg, buf, 256 * 1024, s_atomic_free, &frees),
                      0);
    assert_int_equal (rt_actor_send (actor, &msg, 0), 0);
    rt_msg_t reply;
    assert_int_equal (s_recv_wait (rt_actor_pipe (actor), &reply, WAIT_MS), 0);
    assert_true (reply.env.aux == (uint64_t)(uintptr_t)buf); /* seen by the body */
    size_t size;
    const uint8_t *data = rt_msg_data (&reply, 0, &size);
    assert_ptr_equal (data, buf); /* and back here */
    assert_int_equal (size, 256 * 1024);
    assert_int_equal (data[12345], (uint8_t)(12345 * 31));
    assert_int_equal (atomic_load (&frees), 0);
    rt_msg_close (&reply);
    assert_int_equal (atomic_load (&frees), 1);
    assert_int_equal (rt_actor_destroy (&actor), 0);
    assert_int_equal (atomic_load (&frees), 1);
}

/* ---- shutdown with messages in flight ---------------------------------- */

typedef struct {
    atomic_int delivered;
    atomic_int body_frees; /* buffers the body sent to the parent */
} gate_t;

/* The first message: announce, queue 300 messages with data for the parent
 * (never read), then hold the thread until the parent starts destroying. */
static void
s_gate_msg (rt_body_t *body, rt_msg_t *msg, void *state)
{
    (void)msg;
    gate_t *gate = state;
    if (atomic_fetch_add (&gate->delivered, 1) != 0)
        return;
    void *pipe = rt_body_pipe (body);
    rt_msg_t out;
    rt_msg_init (&out, T_ENTERED);
    rt_msg_send (&out, pipe, 0);
    for (int i = 0; i < 300; i++) {
        rt_msg_init (&out, T_DATA);
        void *buf = malloc (512);
        if (!buf
            || rt_msg_add_buffer (&out, buf, 512, s_atomic_free, &gate->body_frees) != 0
            || rt_msg_send (&out, pipe, ZMQ_DONTWAIT) != 0)
            abort (); /* the test would be meaningless */
    }
    for (long i = 0; i < 100000000L && !rt_body_terminating (body); i++)
        sched_yield ();
}

static int
s_gate_start (rt_body_t *body, void *args)
{
    rt_body_set (body, s_gate_msg, NULL, args);
    return 0;
}

/* Destroy with 1000 messages with data frames queued for the body (one
 * carrying an fd) and 300 queued for the parent: TERM is answered at once
 * (destroy returns 0, inside its bound), the queued messages are never
 * delivered, every buffer is freed exactly once and the fd is closed. */
static void
test_shutdown_in_flight (void **state)
{
    (void)state;
    gate_t gate = {0};
    atomic_int parent_frees = 0;
    int fds[2];
    assert_int_equal (pipe2 (fds, O_CLOEXEC), 0);
    rt_actor_t *actor = rt_actor_new (s_gate_start, &gate);
    assert_non_null (actor);
    for (int i = 0; i < 1000; i++) {
        rt_msg_t msg;
        rt_msg_init (&msg, T_DATA);
        msg.env.corr = (uint64_t)i;
        void *buf = malloc (1000);
        assert_non_null (buf);
        assert_int_equal (
            rt_msg_add_buffer (&msg, buf, 1000, s_atomic_free, &parent_frees), 0);
        if (i == 500)
            assert_int_equal (rt_msg_set_fd (&msg, fds[0]), 0);
        assert_int_equal (rt_actor_send (actor, &msg, ZMQ_DONTWAIT), 0);
    }
    rt_msg_t entered;
    assert_int_equal (s_recv_wait (rt_actor_pipe (actor), &entered, WAIT_MS), 0);
    assert_int_equal (entered.env.type, T_ENTERED);
    rt_msg_close (&entered);

    assert_int_equal (rt_actor_destroy (&actor), 0);
    assert_null (actor);
    assert_int_equal (atomic_load (&gate.delivered), 1);
    assert_int_equal (atomic_load (&parent_frees), 1000);
    assert_int_equal (atomic_load (&gate.body_frees), 300);
    errno = 0;
    assert_int_equal (fcntl (fds[0], F_GETFD), -1);
    assert_int_equal (errno, EBADF);
    close (fds[1]);
}

/* ---- two actors on one thread ------------------------------------------ */

typedef struct {
    const char *endpoint;
    bool bind;
    pthread_t thread; /* written by the body at start */
} peer_args_t;

typedef struct {
    rt_body_t *body;
    void *peer;
} peer_t;

/* From the peer: a ping is answered with a pong; a pong goes to the parent. */
static int
s_peer_msg (rt_msg_t *msg, void *arg)
{
    peer_t *self = arg;
    if (msg->env.type == T_PING) {
        msg->env.type = T_REPORT;
        rt_msg_send (msg, self->peer, ZMQ_DONTWAIT);
        return 0;
    }
    rt_msg_send (msg, rt_body_pipe (self->body), ZMQ_DONTWAIT);
    return 0;
}

static int
s_on_peer (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg)
{
    (void)reactor;
    (void)item;
    peer_t *self = arg;
    rt_msg_drain (self->peer, 256, s_peer_msg, self, NULL);
    return 0;
}

/* From the parent: forward to the peer. */
static void
s_peer_parent_msg (rt_body_t *body, rt_msg_t *msg, void *state)
{
    (void)body;
    peer_t *self = state;
    rt_msg_send (msg, self->peer, ZMQ_DONTWAIT);
}

static void
s_peer_term (rt_body_t *body, void *state)
{
    peer_t *self = state;
    rt_reactor_remove_socket (rt_body_reactor (body), self->peer);
    rt_socket_destroy (&self->peer);
    free (self);
}

static int
s_peer_start (rt_body_t *body, void *args)
{
    peer_args_t *pa = args;
    peer_t *self = calloc (1, sizeof *self);
    if (!self)
        return UIS_ERR_NOMEM;
    self->body = body;
    self->peer = rt_socket_new (ZMQ_PAIR);
    int rc = self->peer ? 0 : UIS_ERR_NOMEM;
    if (rc == 0
        && (pa->bind ? zmq_bind (self->peer, pa->endpoint)
                     : zmq_connect (self->peer, pa->endpoint))
               != 0)
        rc = UIS_ERR_STATE;
    if (rc == 0)
        rc = rt_reactor_add_socket (rt_body_reactor (body), self->peer, ZMQ_POLLIN,
                                    s_on_peer, self);
    if (rc < 0) {
        rt_socket_destroy (&self->peer);
        free (self);
        return rc;
    }
    pa->thread = pthread_self ();
    rt_body_set (body, s_peer_parent_msg, s_peer_term, self);
    return 0;
}

/* Two bodies in one group run on the same thread and talk over their own
 * PAIR: 100 ping/pong round trips come back in order. */
static void
test_two_actors_one_thread (void **state)
{
    (void)state;
    char endpoint[64];
    assert_int_equal (rt_ctx_endpoint (endpoint, sizeof endpoint, "test-peer"), 0);
    peer_args_t pa = {.endpoint = endpoint, .bind = true};
    peer_args_t pb = {.endpoint = endpoint, .bind = false};
    rt_group_t *group = rt_group_new ("t-pair");
    assert_non_null (group);
    int err = 0;
    rt_actor_t *a = rt_actor_spawn (group, s_peer_start, &pa, &err);
    assert_non_null (a);
    rt_actor_t *b = rt_actor_spawn (group, s_peer_start, &pb, &err);
    assert_non_null (b);
    assert_int_equal (rt_group_size (group), 2);
    assert_true (pthread_equal (pa.thread, pb.thread));
    assert_false (pthread_equal (pa.thread, pthread_self ()));

    for (uint64_t i = 0; i < 100; i++)
        s_send_type (rt_actor_pipe (a), T_PING, i, 0);
    for (uint64_t i = 0; i < 100; i++) {
        rt_msg_t reply;
        assert_int_equal (s_recv_wait (rt_actor_pipe (a), &reply, WAIT_MS), 0);
        assert_int_equal (reply.env.type, T_REPORT);
        assert_int_equal (reply.env.corr, i);
        rt_msg_close (&reply);
    }
    assert_int_equal (rt_actor_destroy (&a), 0);
    assert_int_equal (rt_group_size (group), 1);
    assert_int_equal (rt_actor_destroy (&b), 0);
    assert_int_equal (rt_group_size (group), 0);
    assert_int_equal (rt_group_destroy (&group), 0);
    assert_int_equal (rt_ctx_sockets (), 0);
}

/* ---- a body that spawns and destroys a sibling on its own thread ------- */

typedef struct {
    rt_body_t *body;
    rt_actor_t *child;
} spawner_t;

/* The child's replies reach the spawner on the child's parent-side pipe;
 * they go on to the test as T_CHILD. */
static int
s_spawner_child_msg (rt_msg_t *msg, void *arg)
{
    spawner_t *self = arg;
    msg->env.type = T_CHILD;
    rt_msg_send (msg, rt_body_pipe (self->body), ZMQ_DONTWAIT);
    return 0;
}

static int
s_on_child (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg)
{
    (void)reactor;
    (void)item;
    spawner_t *self = arg;
    rt_msg_drain (rt_actor_pipe (self->child), 256, s_spawner_child_msg, self, NULL);
    return 0;
}

/* Removes the child's pipe from the reactor and destroys the child. */
static int
s_spawner_kill (spawner_t *self)
{
    if (!self->child)
        return UIS_ERR_STATE;
    rt_reactor_remove_socket (rt_body_reactor (self->body), rt_actor_pipe (self->child));
    return rt_actor_destroy (&self->child);
}

static void
s_spawner_msg (rt_body_t *body, rt_msg_t *msg, void *state)
{
    spawner_t *self = state;
    rt_msg_t report;
    rt_msg_init (&report, T_REPORT);
    if (msg->env.type == T_SPAWN) {
        int err = 0;
        self->child = rt_actor_spawn (rt_body_group (body), s_echo_start, NULL, &err);
        if (self->child) {
            err = rt_reactor_add_socket (rt_body_reactor (body),
                                         rt_actor_pipe (self->child), ZMQ_POLLIN,
                                         s_on_child, self);
            rt_msg_t ping; /* no cmocka asserts off the test's thread */
            rt_msg_init (&ping, T_PING);
            ping.env.corr = 42;
            if (err == 0)
                err = rt_actor_send (self->child, &ping, ZMQ_DONTWAIT);
        }
        report.env.status = err;
    }
    else if (msg->env.type == T_KILL)
        report.env.status = s_spawner_kill (self);
    report.env.aux = rt_group_size (rt_body_group (body));
    rt_msg_send (&report, rt_body_pipe (body), ZMQ_DONTWAIT);
}

static void
s_spawner_term (rt_body_t *body, void *state)
{
    (void)body;
    spawner_t *self = state;
    s_spawner_kill (self);
    free (self);
}

static int
s_spawner_start (rt_body_t *body, void *args)
{
    (void)args;
    spawner_t *self = calloc (1, sizeof *self);
    if (!self)
        return UIS_ERR_NOMEM;
    self->body = body;
    rt_body_set (body, s_spawner_msg, s_spawner_term, self);
    return 0;
}

/* A body spawns a sibling into its own group and destroys it, inline on
 * the group's thread (a round trip there would deadlock); the sibling
 * works in between. */
static void
test_spawn_inside_group (void **state)
{
    (void)state;
    atomic_store (&s_terms, 0);
    rt_group_t *group = rt_group_new ("t-spawn");
    assert_non_null (group);
    rt_actor_t *parent = rt_actor_spawn (group, s_spawner_start, NULL, NULL);
    assert_non_null (parent);
    void *pipe = rt_actor_pipe (parent);

    s_send_type (pipe, T_SPAWN, 0, 0);
    rt_msg_t msg;
    bool got_report = false, got_child = false;
    for (int i = 0; i < 2; i++) {
        assert_int_equal (s_recv_wait (pipe, &msg, WAIT_MS), 0);
        if (msg.env.type == T_REPORT) {
            assert_int_equal (msg.env.status, 0);
            assert_int_equal (msg.env.aux, 2); /* spawner + child */
            got_report = true;
        }
        else {
            assert_int_equal (msg.env.type, T_CHILD);
            assert_int_equal (msg.env.corr, 42);
            got_child = true;
        }
        rt_msg_close (&msg);
    }
    assert_true (got_report && got_child);

    s_send_type (pipe, T_KILL, 0, 0);
    assert_int_equal (s_recv_wait (pipe, &msg, WAIT_MS), 0);
    assert_int_equal (msg.env.type, T_REPORT);
    assert_int_equal (msg.env.status, 0);
    assert_int_equal (msg.env.aux, 1);
    rt_msg_close (&msg);
    assert_int_equal (atomic_load (&s_terms), 1);

    /* Destroying the spawner with a live child takes the child too. */
    s_send_type (pipe, T_SPAWN, 0, 0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal (s_recv_wait (pipe, &msg, WAIT_MS), 0);
        rt_msg_close (&msg);
    }
    assert_int_equal (rt_group_size (group), 2);
    assert_int_equal (rt_actor_destroy (&parent), 0);
    assert_int_equal (rt_group_size (group), 0);
    assert_int_equal (atomic_load (&s_terms), 2);
    assert_int_equal (rt_group_destroy (&group), 0);
    assert_int_equal (rt_ctx_sockets (), 0);
}

/* ---- a raw fd moved into an actor --------------------------------------- */

typedef struct {
    rt_body_t *body;
    int fd;
    uint64_t bytes;
} fdbody_t;

/* Reads the fd until EAGAIN and reports the running total. */
static int
s_on_fdbody_fd (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg)
{
    (void)reactor;
    fdbody_t *self = arg;
    for (int i = 0; i < 1000; i++) {
        char buf[4];
        ssize_t n = read (item->fd, buf, sizeof buf);
        if (n <= 0)
            break;
        self->bytes += (uint64_t)n;
    }
    rt_msg_t report;
    rt_msg_init (&report, T_FDDATA);
    report.env.aux = self->bytes;
    rt_msg_send (&report, rt_body_pipe (self->body), ZMQ_DONTWAIT);
    return 0;
}

/* T_FD carries an fd: the body takes it and polls it. */
static void
s_fdbody_msg (rt_body_t *body, rt_msg_t *msg, void *state)
{
    fdbody_t *self = state;
    if (msg->env.type != T_FD || self->fd >= 0)
        return;
    self->fd = rt_msg_take_fd (msg);
    rt_msg_t report;
    rt_msg_init (&report, T_FD);
    report.env.status = rt_reactor_add_fd (rt_body_reactor (body), self->fd, ZMQ_POLLIN,
                                           s_on_fdbody_fd, self);
    rt_msg_send (&report, rt_body_pipe (body), ZMQ_DONTWAIT);
}

static void
s_fdbody_term (rt_body_t *body, void *state)
{
    fdbody_t *self = state;
    if (self->fd >= 0) {
        rt_reactor_remove_fd (rt_body_reactor (body), self->fd);
        close (self->fd);
    }
    free (self);
}

static int
s_fdbody_start (rt_body_t *body, void *args)
{
    (void)args;
    fdbody_t *self = calloc (1, sizeof *self);
    if (!self)
        return UIS_ERR_NOMEM;
    self->body = body;
    self->fd = -1;
    rt_body_set (body, s_fdbody_msg, s_fdbody_term, self);
    return 0;
}

/* A pipe's read end moves into the actor inside a message; the actor polls
 * it next to its ZeroMQ pipe, reads what the test writes, and closes it at
 * TERM. */
static void
test_raw_fd_in_actor (void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal (pipe2 (fds, O_NONBLOCK | O_CLOEXEC), 0);
    rt_actor_t *actor = rt_actor_new (s_fdbody_start, NULL);
    assert_non_null (actor);
    void *pipe = rt_actor_pipe (actor);
    rt_msg_t msg;
    rt_msg_init (&msg, T_FD);
    assert_int_equal (rt_msg_set_fd (&msg, fds[0]), 0);
    assert_int_equal (rt_actor_send (actor, &msg, 0), 0);
    assert_int_equal (s_recv_wait (pipe, &msg, WAIT_MS), 0);
    assert_int_equal (msg.env.type, T_FD);
    assert_int_equal (msg.env.status, 0);
    rt_msg_close (&msg);

    assert_int_equal (write (fds[1], "0123456789", 10), 10);
    uint64_t seen = 0;
    for (int i = 0; i < 10 && seen < 10; i++) {
        assert_int_equal (s_recv_wait (pipe, &msg, WAIT_MS), 0);
        assert_int_equal (msg.env.type, T_FDDATA);
        seen = msg.env.aux;
        rt_msg_close (&msg);
    }
    assert_int_equal (seen, 10);
    assert_int_equal (write (fds[1], "abc", 3), 3);
    for (int i = 0; i < 10 && seen < 13; i++) {
        assert_int_equal (s_recv_wait (pipe, &msg, WAIT_MS), 0);
        seen = msg.env.aux;
        rt_msg_close (&msg);
    }
    assert_int_equal (seen, 13);
    assert_int_equal (rt_actor_destroy (&actor), 0);
    errno = 0;
    assert_int_equal (fcntl (fds[0], F_GETFD), -1); /* the body closed it */
    assert_int_equal (errno, EBADF);
    close (fds[1]);
}

/* Malformed envelopes on the pipe are dropped and counted; the actor keeps
 * working. */
static void
test_malformed_on_pipe (void **state)
{
    (void)state;
    rt_actor_t *actor = rt_actor_new (s_echo_start, NULL);
    assert_non_null (actor);
    void *pipe = rt_actor_pipe (actor);
    assert_int_equal (zmq_send (pipe, "xyz", 3, 0), 3);
    rt_env_t env = {.type = T_PING, .flags = RT_MSG_F_BODY}; /* no body follows */
    assert_int_equal (zmq_send (pipe, &env, sizeof env, 0), (int)sizeof env);
    uint8_t big[RT_ENV_SIZE * 2] = {0};
    assert_int_equal (zmq_send (pipe, big, sizeof big, ZMQ_SNDMORE), (int)sizeof big);
    assert_int_equal (zmq_send (pipe, "tail", 4, 0), 4);
    s_send_type (pipe, T_QUERY, 7, 0);
    rt_msg_t reply;
    assert_int_equal (s_recv_wait (pipe, &reply, WAIT_MS), 0);
    assert_int_equal (reply.env.type, T_QUERY);
    assert_int_equal (reply.env.corr, 7);
    assert_int_equal (reply.env.aux, 3);
    rt_msg_close (&reply);
    assert_int_equal (rt_actor_destroy (&actor), 0);
}

/* A group destroyed under a live actor tears the body down (on_term runs);
 * the parent's destroy then only frees its side, at once. */
static void
test_group_stopped_first (void **state)
{
    (void)state;
    atomic_store (&s_terms, 0);
    rt_group_t *group = rt_group_new ("t-orphan");
    assert_non_null (group);
    rt_actor_t *actor = rt_actor_spawn (group, s_echo_start, NULL, NULL);
    assert_non_null (actor);
    assert_int_equal (rt_group_destroy (&group), 0);
    assert_int_equal (atomic_load (&s_terms), 1);
    assert_int_equal (rt_actor_destroy (&actor), 0);
    assert_null (actor);
    assert_int_equal (rt_ctx_sockets (), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_start_stop_200),
        cmocka_unit_test (test_start_failure),
        cmocka_unit_test (test_ordering_10000),
        cmocka_unit_test (test_zero_copy_handoff),
        cmocka_unit_test (test_shutdown_in_flight),
        cmocka_unit_test (test_two_actors_one_thread),
        cmocka_unit_test (test_spawn_inside_group),
        cmocka_unit_test (test_raw_fd_in_actor),
        cmocka_unit_test (test_malformed_on_pipe),
        cmocka_unit_test (test_group_stopped_first),
    };
    return cmocka_run_group_tests_name ("rt_actor", tests, NULL, group_teardown);
}
