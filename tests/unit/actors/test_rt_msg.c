/* test_rt_msg.c: the message envelope between actors (actors/rt/rt_msg):
 * envelope bytes, typed bodies, zero-copy data frames, fd ownership, the
 * drain helper, and malformed input (wrong envelope size, body flag without a
 * body, too many frames) reported without a crash or a leak.
 * Conformance ids: none directly; the leak checks support R10. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <zmq.h>

#include "actors/rt/rt_ctx.h"
#include "actors/rt/rt_msg.h"
#include "proto/errors.h"

typedef struct {
    void *a; /* bound end */
    void *b; /* connected end */
} pair_t;

static int s_frees;

/* Free function for wrapped test buffers: counts and frees. */
static void
s_count_free (void *data, void *hint)
{
    (void)hint;
    s_frees++;
    free (data);
}

static int
setup (void **state)
{
    static pair_t pair;
    char ep[64];
    assert_int_equal (rt_ctx_endpoint (ep, sizeof ep, "test-msg"), 0);
    pair.a = rt_socket_new (ZMQ_PAIR);
    pair.b = rt_socket_new (ZMQ_PAIR);
    assert_non_null (pair.a);
    assert_non_null (pair.b);
    assert_int_equal (zmq_bind (pair.a, ep), 0);
    assert_int_equal (zmq_connect (pair.b, ep), 0);
    s_frees = 0;
    *state = &pair;
    return 0;
}

static int
teardown (void **state)
{
    pair_t *pair = *state;
    rt_socket_destroy (&pair->a);
    rt_socket_destroy (&pair->b);
    assert_null (pair->a);
    assert_int_equal (rt_ctx_sockets (), 0);
    return 0;
}

static int
group_teardown (void **state)
{
    (void)state;
    return rt_ctx_term ();
}

/* Sends one raw frame (copied) with the given more flag. */
static void
s_send_raw (void *socket, const void *data, size_t size, bool more)
{
    assert_int_equal (zmq_send (socket, data, size, more ? ZMQ_SNDMORE : 0), (int)size);
}

/* Sends a wrapped (counted) buffer as one raw frame. */
static void
s_send_counted (void *socket, size_t size, bool more)
{
    zmq_msg_t frame;
    void *buf = malloc (size);
    assert_non_null (buf);
    memset (buf, 0x5a, size);
    assert_int_equal (rt_frame_wrap (&frame, buf, size, s_count_free, NULL), 0);
    assert_int_equal (zmq_msg_send (&frame, socket, more ? ZMQ_SNDMORE : 0), (int)size);
}

/* Receives with a bounded wait (1 s). */
static int
s_recv (void *socket, rt_msg_t *msg)
{
    zmq_pollitem_t item = {socket, 0, ZMQ_POLLIN, 0};
    assert_true (zmq_poll (&item, 1, 1000) >= 0);
    return rt_msg_recv (msg, socket, ZMQ_DONTWAIT);
}

/* The envelope is one 32-byte frame with every field at its offset. */
static void
test_envelope_roundtrip (void **state)
{
    pair_t *pair = *state;
    rt_msg_t msg;
    rt_msg_init (&msg, 0x0102);
    msg.env.flags = 0x0003;
    msg.env.session = 0xa1b2c3d4u;
    msg.env.corr = 0x1122334455667788ull;
    msg.env.itt = 0xffffffffu;
    msg.env.status = UIS_ERR_TRUNCATED;
    msg.env.aux = 0x0123456789abcdefull;
    assert_int_equal (rt_msg_send (&msg, pair->a, 0), 0);

    /* On the wire: exactly one frame of RT_ENV_SIZE bytes. */
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    assert_int_equal (zmq_msg_recv (&frame, pair->b, 0), RT_ENV_SIZE);
    assert_false (zmq_msg_more (&frame));
    const uint8_t *p = zmq_msg_data (&frame);
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    int32_t i32;
    memcpy (&u16, p + 0, 2);
    assert_int_equal (u16, 0x0102);
    memcpy (&u16, p + 2, 2);
    assert_int_equal (u16, 0x0003); /* no runtime flag: no body, no fd */
    memcpy (&u32, p + 4, 4);
    assert_int_equal (u32, 0xa1b2c3d4u);
    memcpy (&u64, p + 8, 8);
    assert_true (u64 == 0x1122334455667788ull);
    memcpy (&u32, p + 16, 4);
    assert_int_equal (u32, 0xffffffffu);
    memcpy (&i32, p + 20, 4);
    assert_int_equal (i32, UIS_ERR_TRUNCATED);
    memcpy (&u64, p + 24, 8);
    assert_true (u64 == 0x0123456789abcdefull);
    zmq_msg_close (&frame);

    /* And back through rt_msg_recv. */
    rt_msg_init (&msg, 7);
    msg.env.session = 9;
    msg.env.corr = UINT64_MAX;
    msg.env.status = -5;
    assert_int_equal (rt_msg_send (&msg, pair->a, ZMQ_DONTWAIT), 0);
    rt_msg_t in;
    assert_int_equal (s_recv (pair->b, &in), 0);
    assert_int_equal (in.env.type, 7);
    assert_int_equal (in.env.flags, 0);
    assert_int_equal (in.env.session, 9);
    assert_true (in.env.corr == UINT64_MAX);
    assert_int_equal (in.env.status, -5);
    assert_false (in.has_body);
    assert_int_equal (in.ndata, 0);
    assert_null (rt_msg_body (&in, NULL));
    rt_msg_close (&in);
    rt_msg_close (&in); /* twice is harmless */
}

typedef struct {
    uint32_t lun;
    uint32_t blocks;
    uint64_t lba;
} test_body_t;

/* Typed body plus data frames: 1 + 1 + 3 frames, contents exact. */
static void
test_body_and_data (void **state)
{
    pair_t *pair = *state;
    rt_msg_t msg;
    rt_msg_init (&msg, 3);
    test_body_t body = {.lun = 2, .blocks = 8, .lba = 0x100000000ull};
    assert_int_equal (rt_msg_set_body (&msg, "junk", 4), 0);
    assert_int_equal (rt_msg_set_body (&msg, &body, sizeof body), 0); /* replaces */
    for (int i = 0; i < 3; i++) {
        zmq_msg_t frame;
        assert_int_equal (zmq_msg_init_size (&frame, (size_t)(10 + i)), 0);
        memset (zmq_msg_data (&frame), 'a' + i, (size_t)(10 + i));
        assert_int_equal (rt_msg_add_frame (&msg, &frame), 0);
        assert_int_equal (zmq_msg_size (&frame), 0); /* moved out */
        zmq_msg_close (&frame);
    }
    assert_int_equal (rt_msg_send (&msg, pair->a, 0), 0);
    assert_false (msg.has_body); /* everything moved */
    assert_int_equal (msg.ndata, 0);

    rt_msg_t in;
    assert_int_equal (s_recv (pair->b, &in), 0);
    assert_int_equal (in.env.type, 3);
    assert_int_equal (in.env.flags, RT_MSG_F_BODY);
    assert_true (in.has_body);
    assert_null (rt_msg_body_as (&in, sizeof body - 1));
    assert_null (rt_msg_body_as (&in, sizeof body + 1));
    const test_body_t *got = rt_msg_body_as (&in, sizeof body);
    assert_non_null (got);
    assert_int_equal (got->lun, 2);
    assert_int_equal (got->blocks, 8);
    assert_true (got->lba == 0x100000000ull);
    assert_int_equal (in.ndata, 3);
    for (size_t i = 0; i < 3; i++) {
        size_t size;
        const uint8_t *d = rt_msg_data (&in, i, &size);
        assert_int_equal (size, 10 + i);
        for (size_t j = 0; j < size; j++)
            assert_int_equal (d[j], 'a' + i);
    }
    assert_null (rt_msg_data (&in, 3, NULL));

    /* Take a frame out: the slot stays, empty. */
    zmq_msg_t out;
    zmq_msg_init (&out);
    assert_int_equal (rt_msg_take_frame (&in, 1, &out), 0);
    assert_int_equal (zmq_msg_size (&out), 11);
    assert_int_equal (((uint8_t *)zmq_msg_data (&out))[0], 'b');
    size_t size = 99;
    (void)rt_msg_data (&in, 1, &size);
    assert_int_equal (size, 0);
    assert_int_equal (rt_msg_take_frame (&in, 3, &out), UIS_ERR_INVALID_ARG);
    zmq_msg_close (&out);
    rt_msg_close (&in);
}

/* A wrapped buffer crosses inproc at the same address; freed exactly once. */
static void
test_zero_copy (void **state)
{
    pair_t *pair = *state;
    uint8_t *buf = malloc (65536);
    assert_non_null (buf);
    memset (buf, 0xab, 65536);
    rt_msg_t msg;
    rt_msg_init (&msg, 1);
    assert_int_equal (rt_msg_add_buffer (&msg, buf, 65536, s_count_free, NULL), 0);
    assert_int_equal (rt_msg_send (&msg, pair->a, 0), 0);
    assert_int_equal (s_frees, 0);
    rt_msg_t in;
    assert_int_equal (s_recv (pair->b, &in), 0);
    size_t size;
    assert_ptr_equal (rt_msg_data (&in, 0, &size), buf);
    assert_int_equal (size, 65536);
    assert_int_equal (s_frees, 0);
    rt_msg_close (&in);
    assert_int_equal (s_frees, 1);
}

/* Wrong envelope sizes and a body flag without a body are reported; the
 * socket stays in step (the next message is read whole) and the frames of
 * the rejected message are freed. */
static void
test_malformed_envelope (void **state)
{
    pair_t *pair = *state;
    uint8_t raw[RT_ENV_SIZE + 1];
    memset (raw, 0xee, sizeof raw);
    static const size_t sizes[] = {0, 1, RT_ENV_SIZE - 1, RT_ENV_SIZE + 1};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        /* alone, then followed by two counted data frames */
        s_send_raw (pair->a, raw, sizes[i], false);
        s_send_raw (pair->a, raw, sizes[i], true);
        s_send_counted (pair->a, 100, true);
        s_send_counted (pair->a, 100, false);
        rt_msg_t in;
        assert_int_equal (s_recv (pair->b, &in), UIS_ERR_MALFORMED);
        assert_int_equal (in.ndata, 0);
        assert_false (in.has_body);
        assert_int_equal (s_recv (pair->b, &in), UIS_ERR_MALFORMED);
        assert_int_equal (s_frees, (int)(2 * (i + 1)));
    }
    /* Body flag set, but no frame follows. */
    rt_env_t env = {.type = 4, .flags = RT_MSG_F_BODY};
    s_send_raw (pair->a, &env, sizeof env, false);
    rt_msg_t in;
    assert_int_equal (s_recv (pair->b, &in), UIS_ERR_MALFORMED);
    /* A malformed message's claimed fd is never closed. */
    int fds[2];
    assert_int_equal (pipe2 (fds, O_CLOEXEC), 0);
    env = (rt_env_t){
        .type = 4, .flags = RT_MSG_F_FD | RT_MSG_F_BODY, .aux = (uint64_t)fds[0]};
    s_send_raw (pair->a, &env, sizeof env, false);
    assert_int_equal (s_recv (pair->b, &in), UIS_ERR_MALFORMED);
    assert_int_equal (fcntl (fds[0], F_GETFD), FD_CLOEXEC);
    close (fds[0]);
    close (fds[1]);

    /* The stream is in step: a good message comes through whole. */
    rt_msg_t msg;
    rt_msg_init (&msg, 42);
    assert_int_equal (rt_msg_set_body (&msg, "ok", 2), 0);
    assert_int_equal (rt_msg_send (&msg, pair->a, 0), 0);
    assert_int_equal (s_recv (pair->b, &in), 0);
    assert_int_equal (in.env.type, 42);
    size_t size;
    assert_memory_equal (rt_msg_body (&in, &size), "ok", 2);
    assert_int_equal (size, 2);
    rt_msg_close (&in);
}

/* More than RT_MSG_MAX_DATA data frames: rejected, every frame freed. */
static void
test_too_many_frames (void **state)
{
    pair_t *pair = *state;
    rt_env_t env = {.type = 5};
    s_send_raw (pair->a, &env, sizeof env, true);
    for (int i = 0; i < RT_MSG_MAX_DATA + 1; i++)
        s_send_counted (pair->a, 64, i < RT_MSG_MAX_DATA);
    rt_msg_t in;
    assert_int_equal (s_recv (pair->b, &in), UIS_ERR_TOO_LONG);
    assert_int_equal (in.ndata, 0);
    assert_int_equal (s_frees, RT_MSG_MAX_DATA + 1);

    /* Exactly RT_MSG_MAX_DATA is fine. */
    s_send_raw (pair->a, &env, sizeof env, true);
    for (int i = 0; i < RT_MSG_MAX_DATA; i++)
        s_send_counted (pair->a, 64, i < RT_MSG_MAX_DATA - 1);
    assert_int_equal (s_recv (pair->b, &in), 0);
    assert_int_equal (in.ndata, RT_MSG_MAX_DATA);
    rt_msg_close (&in);
    assert_int_equal (s_frees, 2 * RT_MSG_MAX_DATA + 1);
}

/* The sender's limits: frame count bound, ownership kept on failure. */
static void
test_add_limits (void **state)
{
    (void)state;
    rt_msg_t msg;
    rt_msg_init (&msg, 1);
    for (int i = 0; i < RT_MSG_MAX_DATA; i++) {
        zmq_msg_t frame;
        zmq_msg_init_size (&frame, 4);
        assert_int_equal (rt_msg_add_frame (&msg, &frame), 0);
        zmq_msg_close (&frame);
    }
    zmq_msg_t extra;
    zmq_msg_init_size (&extra, 4);
    assert_int_equal (rt_msg_add_frame (&msg, &extra), UIS_ERR_TOO_LONG);
    assert_int_equal (zmq_msg_size (&extra), 4); /* untouched */
    zmq_msg_close (&extra);
    void *buf = malloc (8);
    assert_non_null (buf);
    assert_int_equal (rt_msg_add_buffer (&msg, buf, 8, s_count_free, NULL),
                      UIS_ERR_TOO_LONG);
    assert_int_equal (s_frees, 0); /* still ours */
    free (buf);
    rt_msg_close (&msg);
    assert_int_equal (msg.ndata, 0);

    zmq_msg_t frame;
    assert_int_equal (rt_frame_wrap (&frame, NULL, 5, s_count_free, NULL),
                      UIS_ERR_INVALID_ARG);
    assert_int_equal (rt_frame_wrap (&frame, &frame, 5, NULL, NULL), UIS_ERR_INVALID_ARG);
}

/* DONTWAIT: nothing to read is AGAIN; a send that cannot be queued leaves
 * the message (and its buffer) with the caller. */
static void
test_dontwait (void **state)
{
    pair_t *pair = *state;
    rt_msg_t in;
    assert_int_equal (rt_msg_recv (&in, pair->b, ZMQ_DONTWAIT), UIS_ERR_AGAIN);

    void *lonely = rt_socket_new (ZMQ_PAIR); /* no peer: nowhere to queue */
    assert_non_null (lonely);
    rt_msg_t msg;
    rt_msg_init (&msg, 1);
    assert_int_equal (rt_msg_set_body (&msg, "b", 1), 0);
    void *buf = malloc (100);
    assert_non_null (buf);
    assert_int_equal (rt_msg_add_buffer (&msg, buf, 100, s_count_free, NULL), 0);
    assert_int_equal (rt_msg_send (&msg, lonely, ZMQ_DONTWAIT), UIS_ERR_AGAIN);
    assert_true (msg.has_body);
    assert_int_equal (msg.ndata, 1);
    assert_ptr_equal (rt_msg_data (&msg, 0, NULL), buf);
    assert_int_equal (s_frees, 0);
    /* Retry elsewhere: it still goes through whole. */
    assert_int_equal (rt_msg_send (&msg, pair->a, ZMQ_DONTWAIT), 0);
    assert_int_equal (s_recv (pair->b, &in), 0);
    assert_ptr_equal (rt_msg_data (&in, 0, NULL), buf);
    rt_msg_close (&in);
    assert_int_equal (s_frees, 1);
    rt_socket_destroy (&lonely);
}

/* An fd moves with the message; a dropped message closes it. */
static void
test_fd_ownership (void **state)
{
    pair_t *pair = *state;
    int fds[2];
    assert_int_equal (pipe2 (fds, O_CLOEXEC), 0);
    rt_msg_t msg;
    rt_msg_init (&msg, 6);
    assert_int_equal (rt_msg_take_fd (&msg), -1);
    assert_int_equal (rt_msg_set_fd (&msg, -1), UIS_ERR_INVALID_ARG);
    assert_int_equal (rt_msg_set_fd (&msg, fds[0]), 0);
    assert_int_equal (rt_msg_set_fd (&msg, fds[1]), UIS_ERR_INVALID_ARG);
    assert_int_equal (rt_msg_send (&msg, pair->a, 0), 0);
    assert_int_equal (msg.env.flags & RT_MSG_F_FD, 0); /* moved */
    rt_msg_close (&msg);
    assert_int_equal (fcntl (fds[0], F_GETFD), FD_CLOEXEC); /* still open */

    rt_msg_t in;
    assert_int_equal (s_recv (pair->b, &in), 0);
    assert_int_equal (in.env.flags, RT_MSG_F_FD);
    assert_int_equal (rt_msg_take_fd (&in), fds[0]);
    assert_int_equal (rt_msg_take_fd (&in), -1);
    rt_msg_close (&in);
    assert_int_equal (fcntl (fds[0], F_GETFD), FD_CLOEXEC); /* taken: still open */

    /* Received but not taken: closing the message closes the fd. */
    rt_msg_init (&msg, 6);
    assert_int_equal (rt_msg_set_fd (&msg, fds[0]), 0);
    assert_int_equal (rt_msg_send (&msg, pair->a, 0), 0);
    assert_int_equal (s_recv (pair->b, &in), 0);
    rt_msg_close (&in);
    errno = 0;
    assert_int_equal (fcntl (fds[0], F_GETFD), -1);
    assert_int_equal (errno, EBADF);
    close (fds[1]);
}

typedef struct {
    int seen;
    uint64_t corr[16];
    int stop_at;
} drain_ctx_t;

static int
s_drain_fn (rt_msg_t *msg, void *arg)
{
    drain_ctx_t *ctx = arg;
    ctx->corr[ctx->seen++] = msg->env.corr;
    return ctx->seen == ctx->stop_at ? -1 : 0;
}

/* The drain helper: bounded, skips and counts malformed messages, stops on
 * the handler's -1, ends at EAGAIN. */
static void
test_drain (void **state)
{
    pair_t *pair = *state;
    for (uint64_t i = 0; i < 8; i++) {
        rt_msg_t msg;
        rt_msg_init (&msg, 1);
        msg.env.corr = i;
        assert_int_equal (rt_msg_send (&msg, pair->a, 0), 0);
        if (i == 2 || i == 5)
            s_send_raw (pair->a, "bad", 3, false);
    }
    zmq_pollitem_t item = {pair->b, 0, ZMQ_POLLIN, 0};
    assert_int_equal (zmq_poll (&item, 1, 1000), 1);
    drain_ctx_t ctx = {.stop_at = -1};
    size_t malformed = 0;
    assert_int_equal (rt_msg_drain (pair->b, 4, s_drain_fn, &ctx, &malformed), 0);
    assert_int_equal (ctx.seen, 3); /* 0, 1, 2, then the bad one */
    assert_int_equal (malformed, 1);
    ctx.stop_at = 5;
    assert_int_equal (rt_msg_drain (pair->b, 100, s_drain_fn, &ctx, &malformed), -1);
    assert_int_equal (ctx.seen, 5); /* 3, 4 */
    assert_int_equal (malformed, 1);
    ctx.stop_at = -1;
    assert_int_equal (rt_msg_drain (pair->b, 100, s_drain_fn, &ctx, &malformed), 0);
    assert_int_equal (ctx.seen, 8); /* 5, bad, 6, 7 */
    assert_int_equal (malformed, 2);
    for (int i = 0; i < 8; i++)
        assert_int_equal (ctx.corr[i], i);
    assert_int_equal (rt_msg_drain (pair->b, 100, s_drain_fn, &ctx, NULL), 0);
    assert_int_equal (ctx.seen, 8);
}

/* Signals, endpoints and the error mapping. */
static void
test_helpers (void **state)
{
    pair_t *pair = *state;
    assert_int_equal (rt_msg_signal (pair->a, 9, -3, 0), 0);
    rt_msg_t in;
    assert_int_equal (s_recv (pair->b, &in), 0);
    assert_int_equal (in.env.type, 9);
    assert_int_equal (in.env.status, -3);
    rt_msg_close (&in);

    char a[64], b[64], small[8];
    assert_int_equal (rt_ctx_endpoint (a, sizeof a, "x"), 0);
    assert_int_equal (rt_ctx_endpoint (b, sizeof b, "x"), 0);
    assert_int_equal (strncmp (a, "inproc://rt-x-", 14), 0);
    assert_string_not_equal (a, b);
    assert_int_equal (rt_ctx_endpoint (small, sizeof small, "x"),
                      UIS_ERR_BUFFER_TOO_SMALL);
    assert_int_equal (rt_zmq_err (EAGAIN), UIS_ERR_AGAIN);
    assert_int_equal (rt_zmq_err (ENOMEM), UIS_ERR_NOMEM);
    assert_int_equal (rt_zmq_err (ETERM), UIS_ERR_STATE);
    assert_int_equal (rt_zmq_err (ENOTSOCK), UIS_ERR_INVALID_ARG);
    assert_int_equal (rt_ctx_set_max_sockets (0), UIS_ERR_INVALID_ARG);
    assert_int_equal (rt_ctx_set_max_sockets (2048), UIS_ERR_STATE); /* ctx exists */
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown (test_envelope_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown (test_body_and_data, setup, teardown),
        cmocka_unit_test_setup_teardown (test_zero_copy, setup, teardown),
        cmocka_unit_test_setup_teardown (test_malformed_envelope, setup, teardown),
        cmocka_unit_test_setup_teardown (test_too_many_frames, setup, teardown),
        cmocka_unit_test_setup_teardown (test_add_limits, setup, teardown),
        cmocka_unit_test_setup_teardown (test_dontwait, setup, teardown),
        cmocka_unit_test_setup_teardown (test_fd_ownership, setup, teardown),
        cmocka_unit_test_setup_teardown (test_drain, setup, teardown),
        cmocka_unit_test_setup_teardown (test_helpers, setup, teardown),
    };
    return cmocka_run_group_tests_name ("rt_msg", tests, NULL, group_teardown);
}
