/* test_rt_reactor.c: the event loop (actors/rt/rt_reactor): sockets and
 * raw fds in one poll set, draining, a handler's -1 ending the loop, adding
 * and removing items from inside handlers, and timers delivered as loop
 * events (expiry order, one-shot and repeating, cancel, reset, also of an
 * expiry not yet dispatched, set_interval, stop keeping undispatched
 * expiries). Timers use intervals of a few ms; every wait is bounded (rounds
 * are counted, the loop ends when idle) and no test sleeps.
 * Conformance ids: none directly (timer events underlie the keepalive and
 * deadline scenarios, J and R2, tested with those actors). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "actors/rt/rt_ctx.h"
#include "actors/rt/rt_msg.h"
#include "actors/rt/rt_reactor.h"
#include "proto/errors.h"

#define MAX_ROUNDS 10000

typedef struct {
    void *a;
    void *b;
    rt_reactor_t *reactor;
} fixture_t;

static int
setup (void **state)
{
    static fixture_t fx;
    char ep[64];
    assert_int_equal (rt_ctx_endpoint (ep, sizeof ep, "test-reactor"), 0);
    fx.a = rt_socket_new (ZMQ_PAIR);
    fx.b = rt_socket_new (ZMQ_PAIR);
    assert_int_equal (zmq_bind (fx.a, ep), 0);
    assert_int_equal (zmq_connect (fx.b, ep), 0);
    fx.reactor = rt_reactor_new ();
    assert_non_null (fx.reactor);
    *state = &fx;
    return 0;
}

static int
teardown (void **state)
{
    fixture_t *fx = *state;
    rt_reactor_destroy (&fx->reactor);
    assert_null (fx->reactor);
    rt_socket_destroy (&fx->a);
    rt_socket_destroy (&fx->b);
    assert_int_equal (rt_ctx_sockets (), 0);
    return 0;
}

static int
group_teardown (void **state)
{
    (void)state;
    return rt_ctx_term ();
}

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
s_send (void *socket, uint64_t corr)
{
    rt_msg_t msg;
    rt_msg_init (&msg, 1);
    msg.env.corr = corr;
    assert_int_equal (rt_msg_send (&msg, socket, 0), 0);
}

/* ---- sockets ------------------------------------------------------------ */

typedef struct {
    int calls;
    int msgs;
    int stop_after;
    uint64_t last;
} sock_ctx_t;

static int
s_count_msg (rt_msg_t *msg, void *arg)
{
    sock_ctx_t *ctx = arg;
    ctx->msgs++;
    ctx->last = msg->env.corr;
    return 0;
}

/* Drains its socket with the helper; ends the loop after stop_after msgs. */
static int
s_on_socket (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg)
{
    (void)reactor;
    sock_ctx_t *ctx = arg;
    ctx->calls++;
    assert_true (item->revents & ZMQ_POLLIN);
    assert_int_equal (rt_msg_drain (item->socket, 1000, s_count_msg, ctx, NULL), 0);
    return ctx->msgs >= ctx->stop_after ? -1 : 0;
}

/* A handler drains all queued messages in one call; its -1 ends run. */
static void
test_socket_drain_and_stop (void **state)
{
    fixture_t *fx = *state;
    sock_ctx_t ctx = {.stop_after = 3};
    assert_int_equal (
        rt_reactor_add_socket (fx->reactor, fx->b, ZMQ_POLLIN, s_on_socket, &ctx), 0);
    assert_int_equal (
        rt_reactor_add_socket (fx->reactor, fx->b, ZMQ_POLLIN, s_on_socket, &ctx),
        UIS_ERR_INVALID_ARG); /* already there */
    assert_int_equal (rt_reactor_items (fx->reactor), 1);
    for (uint64_t i = 1; i <= 3; i++)
        s_send (fx->a, i);
    assert_int_equal (rt_reactor_run (fx->reactor), 0);
    assert_int_equal (ctx.calls, 1); /* one call drained all three */
    assert_int_equal (ctx.msgs, 3);
    assert_int_equal (ctx.last, 3);
    /* Nothing left: a round with a zero timeout calls nothing. */
    assert_int_equal (rt_reactor_run_once (fx->reactor, 0), 0);
    assert_int_equal (ctx.calls, 1);
    assert_int_equal (rt_reactor_remove_socket (fx->reactor, fx->b), 0);
    assert_int_equal (rt_reactor_remove_socket (fx->reactor, fx->b), UIS_ERR_INVALID_ARG);
    assert_int_equal (rt_reactor_items (fx->reactor), 0);
    /* Nothing to wait for: run returns at once. */
    assert_int_equal (rt_reactor_run (fx->reactor), 0);
    assert_int_equal (rt_reactor_run_once (fx->reactor, -1), 0);
}

/* ---- raw fds ------------------------------------------------------------ */

typedef struct {
    int calls;
    uint64_t events_sum;
    size_t bytes;
    short revents;
} fd_ctx_t;

/* eventfd handler: reads the counter until EAGAIN. */
static int
s_on_eventfd (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg)
{
    (void)reactor;
    fd_ctx_t *ctx = arg;
    ctx->calls++;
    assert_null (item->socket);
    for (int i = 0; i < 100; i++) {
        uint64_t v;
        if (read (item->fd, &v, sizeof v) != (ssize_t)sizeof v) {
            assert_int_equal (errno, EAGAIN);
            break;
        }
        ctx->events_sum += v;
    }
    return 0;
}

/* pipe handler: reads bytes until EAGAIN. */
static int
s_on_pipe (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg)
{
    (void)reactor;
    fd_ctx_t *ctx = arg;
    ctx->calls++;
    ctx->revents = item->revents;
    for (int i = 0; i < 1000; i++) {
        char buf[7];
        ssize_t n = read (item->fd, buf, sizeof buf);
        if (n <= 0)
            break;
        ctx->bytes += (size_t)n;
    }
    return 0;
}

/* An eventfd and a pipe in the same poll set as a ZeroMQ socket. */
static void
test_raw_fds (void **state)
{
    fixture_t *fx = *state;
    int efd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    assert_true (efd >= 0);
    int fds[2];
    assert_int_equal (pipe2 (fds, O_NONBLOCK | O_CLOEXEC), 0);
    fd_ctx_t ectx = {0}, pctx = {0};
    sock_ctx_t sctx = {.stop_after = 1000};
    assert_int_equal (
        rt_reactor_add_fd (fx->reactor, efd, ZMQ_POLLIN, s_on_eventfd, &ectx), 0);
    assert_int_equal (
        rt_reactor_add_fd (fx->reactor, fds[0], ZMQ_POLLIN, s_on_pipe, &pctx), 0);
    assert_int_equal (
        rt_reactor_add_socket (fx->reactor, fx->b, ZMQ_POLLIN, s_on_socket, &sctx), 0);
    assert_int_equal (
        rt_reactor_add_fd (fx->reactor, efd, ZMQ_POLLIN, s_on_eventfd, &ectx),
        UIS_ERR_INVALID_ARG);
    assert_int_equal (
        rt_reactor_add_fd (fx->reactor, -1, ZMQ_POLLIN, s_on_eventfd, &ectx),
        UIS_ERR_INVALID_ARG);

    uint64_t v = 5;
    assert_int_equal (write (efd, &v, sizeof v), (ssize_t)sizeof v);
    v = 2;
    assert_int_equal (write (efd, &v, sizeof v), (ssize_t)sizeof v);
    assert_int_equal (write (fds[1], "0123456789abcdefghij", 20), 20);
    s_send (fx->a, 77);
    for (int i = 0;
         i < MAX_ROUNDS && (ectx.calls == 0 || pctx.calls == 0 || sctx.msgs == 0); i++)
        assert_true (rt_reactor_run_once (fx->reactor, 1000) >= 0);
    assert_int_equal (ectx.calls, 1);
    assert_int_equal (ectx.events_sum, 7);
    assert_int_equal (pctx.calls, 1);
    assert_int_equal (pctx.bytes, 20); /* drained in one call */
    assert_int_equal (sctx.msgs, 1);
    assert_int_equal (sctx.last, 77);

    /* Drained: nothing fires now. */
    assert_int_equal (rt_reactor_run_once (fx->reactor, 0), 0);
    assert_int_equal (ectx.calls + pctx.calls + sctx.calls, 3);

    /* EOF on the pipe is reported (Linux says POLLHUP: ZMQ_POLLERR). */
    close (fds[1]);
    assert_int_equal (rt_reactor_run_once (fx->reactor, 1000), 0);
    assert_int_equal (pctx.calls, 2);
    assert_true (pctx.revents & (ZMQ_POLLIN | ZMQ_POLLERR));
    assert_int_equal (pctx.bytes, 20);
    assert_int_equal (rt_reactor_remove_fd (fx->reactor, fds[0]), 0);
    assert_int_equal (rt_reactor_remove_fd (fx->reactor, efd), 0);
    assert_int_equal (rt_reactor_remove_fd (fx->reactor, efd), UIS_ERR_INVALID_ARG);
    assert_int_equal (rt_reactor_items (fx->reactor), 1);
    close (fds[0]);
    close (efd);
}

/* POLLOUT on a pipe's write end, switched off with set_fd_events. */
static void
test_fd_events_toggle (void **state)
{
    fixture_t *fx = *state;
    int fds[2];
    assert_int_equal (pipe2 (fds, O_NONBLOCK | O_CLOEXEC), 0);
    fd_ctx_t ctx = {0};
    assert_int_equal (
        rt_reactor_add_fd (fx->reactor, fds[1], ZMQ_POLLOUT, s_on_pipe, &ctx), 0);
    assert_int_equal (rt_reactor_run_once (fx->reactor, 1000), 0);
    assert_int_equal (ctx.calls, 1);
    assert_int_equal (ctx.revents, ZMQ_POLLOUT);
    /* Only POLLIN now: a write end never becomes readable. */
    assert_int_equal (rt_reactor_set_fd_events (fx->reactor, fds[1], ZMQ_POLLIN), 0);
    assert_int_equal (rt_reactor_run_once (fx->reactor, 0), 0);
    assert_int_equal (ctx.calls, 1);
    assert_int_equal (rt_reactor_set_fd_events (fx->reactor, fds[1], 0),
                      UIS_ERR_INVALID_ARG);
    assert_int_equal (rt_reactor_set_fd_events (fx->reactor, fds[0], ZMQ_POLLIN),
                      UIS_ERR_INVALID_ARG);
    assert_int_equal (rt_reactor_set_socket_events (fx->reactor, fx->a, ZMQ_POLLIN),
                      UIS_ERR_INVALID_ARG);
    assert_int_equal (rt_reactor_remove_fd (fx->reactor, fds[1]), 0);
    close (fds[0]);
    close (fds[1]);
}

/* ---- changes from inside handlers -------------------------------------- */

typedef struct {
    fixture_t *fx;
    int efd;
    int a_calls;
    int b_calls;
    int c_calls;
} mutate_ctx_t;

static int
s_on_c (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg)
{
    (void)reactor;
    (void)item;
    mutate_ctx_t *ctx = arg;
    ctx->c_calls++;
    return 0;
}

/* A: removes B (ready in the same round) and itself, adds C. */
static int
s_on_a (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg)
{
    (void)item;
    mutate_ctx_t *ctx = arg;
    ctx->a_calls++;
    assert_int_equal (rt_reactor_remove_socket (reactor, ctx->fx->b), 0);
    assert_int_equal (rt_reactor_remove_fd (reactor, ctx->efd), 0);
    /* Enough additions to force the arrays to grow (realloc) mid-round. */
    for (int i = 0; i < 20; i++)
        assert_int_equal (
            rt_reactor_add_socket (reactor, ctx->fx->a, ZMQ_POLLOUT, s_on_c, ctx),
            i == 0 ? 0 : UIS_ERR_INVALID_ARG);
    for (int fd = 100; fd < 120; fd++)
        assert_int_equal (rt_reactor_add_fd (reactor, 1000 + fd, ZMQ_POLLIN, s_on_c, ctx),
                          0);
    for (int fd = 100; fd < 120; fd++)
        assert_int_equal (rt_reactor_remove_fd (reactor, 1000 + fd), 0);
    return 0;
}

static int
s_on_b (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg)
{
    (void)reactor;
    (void)item;
    mutate_ctx_t *ctx = arg;
    ctx->b_calls++;
    return 0;
}

/* Removal inside a handler stops a ready item from being called later in
 * the same round; an addition takes part from the next round. */
static void
test_mutate_in_handler (void **state)
{
    fixture_t *fx = *state;
    int efd = eventfd (1, EFD_NONBLOCK | EFD_CLOEXEC); /* readable now */
    assert_true (efd >= 0);
    mutate_ctx_t ctx = {.fx = fx, .efd = efd};
    assert_int_equal (rt_reactor_add_fd (fx->reactor, efd, ZMQ_POLLIN, s_on_a, &ctx), 0);
    assert_int_equal (
        rt_reactor_add_socket (fx->reactor, fx->b, ZMQ_POLLIN, s_on_b, &ctx), 0);
    s_send (fx->a, 1); /* B is ready too */
    assert_int_equal (rt_reactor_run_once (fx->reactor, 1000), 0);
    assert_int_equal (ctx.a_calls, 1);
    assert_int_equal (ctx.b_calls, 0); /* removed before its turn */
    assert_int_equal (ctx.c_calls, 0); /* added: not polled this round */
    assert_int_equal (rt_reactor_items (fx->reactor), 1);
    assert_int_equal (rt_reactor_run_once (fx->reactor, 1000), 0);
    assert_int_equal (ctx.c_calls, 1); /* A (POLLOUT on a PAIR with a peer) */
    assert_int_equal (ctx.a_calls, 1);
    assert_int_equal (rt_reactor_remove_socket (fx->reactor, fx->a), 0);
    close (efd);
    /* The message for B is still queued: drain it so teardown is clean. */
    rt_msg_t msg;
    assert_int_equal (rt_msg_recv (&msg, fx->b, ZMQ_DONTWAIT), 0);
    rt_msg_close (&msg);
}

/* ---- timers ------------------------------------------------------------- */

typedef struct {
    int ids[32];
    int n;
    int fired_a;
    int fired_b;
    int fired_c;
    int stop_at;
    int other;     /* a timer id to act on */
    int64_t t_set; /* when a reset happened */
    int64_t t_fire;
} timer_ctx_t;

/* Records the firing order; ends the loop when stop_at timers fired. */
static int
s_on_timer_record (rt_reactor_t *reactor, int timer_id, void *arg)
{
    (void)reactor;
    timer_ctx_t *ctx = arg;
    if (ctx->n < 32)
        ctx->ids[ctx->n] = timer_id;
    ctx->n++;
    return ctx->n == ctx->stop_at ? -1 : 0;
}

/* Timers fire in expiry order, not in the order they were added. */
static void
test_timer_order (void **state)
{
    fixture_t *fx = *state;
    timer_ctx_t ctx = {.stop_at = 3};
    int t3 = rt_reactor_timer_add (fx->reactor, 9, 1, s_on_timer_record, &ctx);
    int t1 = rt_reactor_timer_add (fx->reactor, 1, 1, s_on_timer_record, &ctx);
    int t2 = rt_reactor_timer_add (fx->reactor, 5, 1, s_on_timer_record, &ctx);
    assert_true (t1 > 0 && t2 > 0 && t3 > 0);
    assert_true (t1 != t2 && t2 != t3 && t1 != t3);
    assert_int_equal (rt_reactor_timers (fx->reactor), 3);
    /* run ends on the third expiry's -1, or when idle: bounded either way. */
    assert_int_equal (rt_reactor_run (fx->reactor), 0);
    assert_int_equal (ctx.n, 3);
    assert_int_equal (ctx.ids[0], t1);
    assert_int_equal (ctx.ids[1], t2);
    assert_int_equal (ctx.ids[2], t3);
    assert_int_equal (rt_reactor_timers (fx->reactor), 0); /* one-shots are done */
    assert_int_equal (rt_reactor_timer_cancel (fx->reactor, t1), UIS_ERR_INVALID_ARG);
    assert_int_equal (rt_reactor_timer_reset (fx->reactor, t1), UIS_ERR_INVALID_ARG);
    assert_int_equal (rt_reactor_timer_add (fx->reactor, 1, 1, NULL, NULL),
                      UIS_ERR_INVALID_ARG);
}

static int
s_on_count_a (rt_reactor_t *reactor, int timer_id, void *arg)
{
    (void)reactor;
    (void)timer_id;
    timer_ctx_t *ctx = arg;
    ctx->fired_a++;
    return 0;
}

static int
s_on_count_b (rt_reactor_t *reactor, int timer_id, void *arg)
{
    (void)reactor;
    (void)timer_id;
    timer_ctx_t *ctx = arg;
    ctx->fired_b++;
    return 0;
}

/* Repeats until cancelled; ends the loop at its 10th expiry. */
static int
s_on_count_c (rt_reactor_t *reactor, int timer_id, void *arg)
{
    timer_ctx_t *ctx = arg;
    ctx->fired_c++;
    if (ctx->fired_c == 10) {
        assert_int_equal (rt_reactor_timer_cancel (reactor, timer_id), 0);
        return -1;
    }
    return 0;
}

/* One-shot fires once, times = 3 fires three times, times = 0 repeats. */
static void
test_timer_once_and_repeat (void **state)
{
    fixture_t *fx = *state;
    timer_ctx_t ctx = {0};
    int once = rt_reactor_timer_add (fx->reactor, 1, 1, s_on_count_a, &ctx);
    int thrice =
        rt_reactor_timer_add (fx->reactor, 0, 3, s_on_count_b, &ctx); /* 0 -> 1 ms */
    int forever = rt_reactor_timer_add (fx->reactor, 2, 0, s_on_count_c, &ctx);
    assert_true (once > 0 && thrice > 0 && forever > 0);
    assert_int_equal (rt_reactor_run (fx->reactor), 0);
    assert_int_equal (ctx.fired_c, 10);
    assert_int_equal (ctx.fired_a, 1);
    assert_int_equal (ctx.fired_b, 3);
    assert_int_equal (rt_reactor_timers (fx->reactor), 0);
}

/* Cancels ctx->other the first time it runs. */
static int
s_on_cancel_other (rt_reactor_t *reactor, int timer_id, void *arg)
{
    (void)timer_id;
    timer_ctx_t *ctx = arg;
    ctx->fired_a++;
    if (ctx->fired_a == 1)
        assert_int_equal (rt_reactor_timer_cancel (reactor, ctx->other), 0);
    return ctx->fired_a == 5 ? -1 : 0;
}

/* Cancel before the loop runs, and from another timer's handler in the
 * round where both expired: a cancelled timer never runs again. */
static void
test_timer_cancel (void **state)
{
    fixture_t *fx = *state;
    timer_ctx_t ctx = {0};
    int early = rt_reactor_timer_add (fx->reactor, 1, 1, s_on_count_c, &ctx);
    assert_int_equal (rt_reactor_timer_cancel (fx->reactor, early), 0);
    assert_int_equal (rt_reactor_timer_cancel (fx->reactor, early), UIS_ERR_INVALID_ARG);
    assert_int_equal (rt_reactor_timer_cancel (fx->reactor, 123456), UIS_ERR_INVALID_ARG);
    /* Same interval, added in this order: the canceller's expiry is always
     * dispatched first, so "victim" is cancelled before it can ever run. */
    int canceller = rt_reactor_timer_add (fx->reactor, 2, 0, s_on_cancel_other, &ctx);
    ctx.other = rt_reactor_timer_add (fx->reactor, 2, 0, s_on_count_b, &ctx);
    assert_true (canceller > 0 && ctx.other > 0);
    assert_int_equal (rt_reactor_timers (fx->reactor), 2);
    assert_int_equal (rt_reactor_run (fx->reactor), 0);
    assert_int_equal (ctx.fired_a, 5);
    assert_int_equal (ctx.fired_b, 0);
    assert_int_equal (ctx.fired_c, 0);
    assert_int_equal (rt_reactor_timers (fx->reactor), 1);
    assert_int_equal (rt_reactor_timer_cancel (fx->reactor, canceller), 0);
    assert_int_equal (rt_reactor_timers (fx->reactor), 0);
}

/* Pushes the deadline timer (ctx->other) back, five times. */
static int
s_on_pusher (rt_reactor_t *reactor, int timer_id, void *arg)
{
    (void)timer_id;
    timer_ctx_t *ctx = arg;
    ctx->fired_a++;
    assert_int_equal (rt_reactor_timer_reset (reactor, ctx->other), 0);
    ctx->t_set = s_now_ms ();
    return 0;
}

/* The deadline: records when it fired and ends the loop. */
static int
s_on_deadline (rt_reactor_t *reactor, int timer_id, void *arg)
{
    (void)reactor;
    (void)timer_id;
    timer_ctx_t *ctx = arg;
    ctx->fired_b++;
    ctx->t_fire = s_now_ms ();
    return -1;
}

/* Reset restarts the countdown: a 60 ms deadline pushed back by activity
 * fires only after all pushes, at least 60 ms after the last one. */
static void
test_timer_reset (void **state)
{
    fixture_t *fx = *state;
    timer_ctx_t ctx = {0};
    ctx.other = rt_reactor_timer_add (fx->reactor, 60, 1, s_on_deadline, &ctx);
    int pusher = rt_reactor_timer_add (fx->reactor, 2, 5, s_on_pusher, &ctx);
    assert_true (ctx.other > 0 && pusher > 0);
    assert_int_equal (rt_reactor_run (fx->reactor), 0);
    assert_int_equal (ctx.fired_a, 5);
    assert_int_equal (ctx.fired_b, 1);
    /* libzmq's ms clock may be up to 1 ms stale: allow 2 ms of slack. */
    assert_true (ctx.t_fire - ctx.t_set >= 58);
    assert_int_equal (rt_reactor_timers (fx->reactor), 0);

    /* set_interval: a 1 h timer shortened to 1 ms fires now. */
    ctx = (timer_ctx_t){0};
    int slow = rt_reactor_timer_add (fx->reactor, 3600 * 1000, 1, s_on_deadline, &ctx);
    assert_true (slow > 0);
    assert_int_equal (rt_reactor_timer_set_interval (fx->reactor, slow, 1), 0);
    assert_int_equal (rt_reactor_run (fx->reactor), 0);
    assert_int_equal (ctx.fired_b, 1);
    assert_int_equal (rt_reactor_timer_set_interval (fx->reactor, slow, 1),
                      UIS_ERR_INVALID_ARG);
}

/* Resets ctx->other once. */
static int
s_on_reset_other (rt_reactor_t *reactor, int timer_id, void *arg)
{
    (void)timer_id;
    timer_ctx_t *ctx = arg;
    ctx->fired_a++;
    assert_int_equal (rt_reactor_timer_reset (reactor, ctx->other), 0);
    return 0;
}

/* A reset withdraws an expiry of the same round not yet dispatched: two
 * timers due at the same moment, the first resets the second, which then
 * fires only a full interval later. */
static void
test_timer_reset_withdraws (void **state)
{
    fixture_t *fx = *state;
    timer_ctx_t ctx = {0};
    int resetter = rt_reactor_timer_add (fx->reactor, 5, 1, s_on_reset_other, &ctx);
    ctx.other = rt_reactor_timer_add (fx->reactor, 5, 1, s_on_count_b, &ctx);
    assert_true (resetter > 0 && ctx.other > 0);
    for (int i = 0; i < MAX_ROUNDS && ctx.fired_a == 0; i++)
        assert_int_equal (rt_reactor_run_once (fx->reactor, 1000), 0);
    assert_int_equal (ctx.fired_a, 1);
    assert_int_equal (ctx.fired_b, 0);
    assert_int_equal (rt_reactor_timers (fx->reactor), 1);
    assert_int_equal (rt_reactor_run (fx->reactor), 0); /* ends when idle */
    assert_int_equal (ctx.fired_b, 1);
}

/* Ends the loop at once. */
static int
s_on_stop (rt_reactor_t *reactor, int timer_id, void *arg)
{
    (void)timer_id;
    timer_ctx_t *ctx = arg;
    ctx->fired_a++;
    rt_reactor_stop (reactor);
    return 0;
}

/* A stop leaves the rest of the round for later: an expiry not dispatched
 * yet is kept, not lost. */
static void
test_timer_stop_keeps_expiry (void **state)
{
    fixture_t *fx = *state;
    timer_ctx_t ctx = {0};
    int first = rt_reactor_timer_add (fx->reactor, 1, 1, s_on_stop, &ctx);
    int second = rt_reactor_timer_add (fx->reactor, 1, 1, s_on_count_b, &ctx);
    assert_true (first > 0 && second > 0);
    int rc = 0;
    for (int i = 0; i < MAX_ROUNDS && rc == 0; i++)
        rc = rt_reactor_run_once (fx->reactor, 1000);
    assert_int_equal (rc, 1);
    assert_int_equal (ctx.fired_a, 1);
    assert_int_equal (ctx.fired_b, 0);
    for (int i = 0; i < MAX_ROUNDS && ctx.fired_b == 0; i++)
        assert_int_equal (rt_reactor_run_once (fx->reactor, 1000), 0);
    assert_int_equal (ctx.fired_b, 1);
    assert_int_equal (rt_reactor_timers (fx->reactor), 0);
}

/* Adds a new one-shot timer from inside a timer handler, 3 times. */
static int
s_on_chain (rt_reactor_t *reactor, int timer_id, void *arg)
{
    timer_ctx_t *ctx = arg;
    if (ctx->n < 32)
        ctx->ids[ctx->n] = timer_id;
    ctx->n++;
    if (ctx->n < 3)
        assert_true (rt_reactor_timer_add (reactor, 1, 1, s_on_chain, ctx) > timer_id);
    return 0;
}

/* Timers added from handlers run; the loop ends by itself when idle. */
static void
test_timer_add_in_handler (void **state)
{
    fixture_t *fx = *state;
    timer_ctx_t ctx = {0};
    assert_true (rt_reactor_timer_add (fx->reactor, 1, 1, s_on_chain, &ctx) > 0);
    assert_int_equal (rt_reactor_run (fx->reactor), 0);
    assert_int_equal (ctx.n, 3);
    assert_true (ctx.ids[0] < ctx.ids[1] && ctx.ids[1] < ctx.ids[2]);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_socket_drain_and_stop, setup, teardown),
        cmocka_unit_test_setup_teardown (test_raw_fds, setup, teardown),
        cmocka_unit_test_setup_teardown (test_fd_events_toggle, setup, teardown),
        cmocka_unit_test_setup_teardown (test_mutate_in_handler, setup, teardown),
        cmocka_unit_test_setup_teardown (test_timer_order, setup, teardown),
        cmocka_unit_test_setup_teardown (test_timer_once_and_repeat, setup, teardown),
        cmocka_unit_test_setup_teardown (test_timer_cancel, setup, teardown),
        cmocka_unit_test_setup_teardown (test_timer_reset, setup, teardown),
        cmocka_unit_test_setup_teardown (test_timer_reset_withdraws, setup, teardown),
        cmocka_unit_test_setup_teardown (test_timer_stop_keeps_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown (test_timer_add_in_handler, setup, teardown),
    };
    return cmocka_run_group_tests_name ("rt_reactor", tests, NULL, group_teardown);
}
