/* test_rpc_front.c: the JSON-RPC front end (actors/rpc_front) driven over
 * inproc with its reactor pumped by the test: routing frames and the empty
 * delimiter (REQ, DEALER with and without), local methods, routing of
 * events.get to the metrics actor and of daemon.stats and session methods
 * to the dispatch actor (both faked by the test), the frame 0 limit before
 * parsing, the per-client in-flight limit, batches that mix local and
 * forwarded calls, rpc.echo sending the very attachment buffer back (zero
 * copy), cancellation at shutdown and late answers dropped, and a killed
 * client's calls cancelled and its handles released (client.gone).
 * (The Makefile links every unit test with rpc, actors and proto as a group.)
 * Conformance ids: none (daemon plumbing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <zmq.h>

#include <unistd.h>

#include "actors/bus.h"
#include "actors/engine.h"
#include "actors/rt/rt_actor.h"
#include "actors/rpc_front.h"
#include "actors/rt/rt_ctx.h"
#include "actors/rt/rt_msg.h"
#include "actors/rt/rt_reactor.h"
#include "proto/errors.h"
#include "rpc/methods.h"

/* Fresh endpoints per fixture: closing a socket unbinds it asynchronously,
 * so a name is not reused at once. */
static char s_ep_rpc[64], s_ep_metrics[64], s_ep_dispatch[64];
#define EP_RPC      s_ep_rpc
#define EP_METRICS  s_ep_metrics
#define EP_DISPATCH s_ep_dispatch

typedef struct {
    rpc_front_t *front;
    rt_reactor_t *reactor;
    void *metrics;  /* ROUTER playing the metrics actor */
    void *dispatch; /* ROUTER playing the dispatch actor */
} s_fix_t;

/* Starts a front end with in_flight limit and frame0 limit. */
static s_fix_t *
s_fix_new (uint32_t in_flight, uint32_t frame0)
{
    s_fix_t *f = calloc (1, sizeof *f);
    assert_non_null (f);
    assert_int_equal (rt_ctx_endpoint (s_ep_rpc, sizeof s_ep_rpc, "rpc"), 0);
    assert_int_equal (rt_ctx_endpoint (s_ep_metrics, sizeof s_ep_metrics, "metrics"), 0);
    assert_int_equal (rt_ctx_endpoint (s_ep_dispatch, sizeof s_ep_dispatch, "dispatch"),
                      0);
    f->metrics = rt_socket_new (ZMQ_ROUTER);
    f->dispatch = rt_socket_new (ZMQ_ROUTER);
    assert_int_equal (zmq_bind (f->metrics, EP_METRICS), 0);
    assert_int_equal (zmq_bind (f->dispatch, EP_DISPATCH), 0);
    rpc_front_config_t cfg = {EP_RPC,
                              "inproc://t-front-events",
                              EP_METRICS,
                              EP_DISPATCH,
                              {frame0, 64u << 20, in_flight, 1024},
                              0,
                              0,
                              0,
                              NULL};
    int err = 0;
    f->front = rpc_front_new (&cfg, &err);
    assert_non_null (f->front);
    f->reactor = rt_reactor_new ();
    assert_int_equal (rpc_front_attach (f->front, f->reactor), 0);
    return f;
}

static void
s_fix_destroy (s_fix_t **f_p)
{
    s_fix_t *f = *f_p;
    rpc_front_detach (f->front, f->reactor);
    rt_reactor_destroy (&f->reactor);
    rpc_front_destroy (&f->front);
    rt_socket_destroy (&f->metrics);
    rt_socket_destroy (&f->dispatch);
    free (f);
    *f_p = NULL;
    assert_int_equal (rt_ctx_sockets (), 0);
}

/* Pumps the front end until sock has a message (bounded). */
static void
s_pump (s_fix_t *f, void *sock)
{
    for (int i = 0; i < 2000; i++) {
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, 0) == 1)
            return;
        assert_true (rt_reactor_run_once (f->reactor, 2) >= 0);
    }
    fail_msg ("no message within the bound");
}

/* Pumps a few rounds and checks that sock has nothing. */
static void
s_pump_none (s_fix_t *f, void *sock)
{
    for (int i = 0; i < 20; i++)
        rt_reactor_run_once (f->reactor, 1);
    zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
    assert_int_equal (zmq_poll (&item, 1, 0), 0);
}

/* Receives all frames of one message (up to 8) into frames/sizes. */
static int
s_recv_all (void *sock, zmq_msg_t *frames, int max)
{
    int n = 0;
    bool more = true;
    while (more && n < max) {
        zmq_msg_init (&frames[n]);
        assert_true (zmq_msg_recv (&frames[n], sock, 0) >= 0);
        more = zmq_msg_more (&frames[n]);
        n++;
    }
    assert_false (more);
    return n;
}

/* Parses frame f as JSON. */
static json_t *
s_json (zmq_msg_t *f)
{
    json_t *v = json_loadb (zmq_msg_data (f), zmq_msg_size (f), 0, NULL);
    assert_non_null (v);
    return v;
}

static void
s_close_all (zmq_msg_t *frames, int n)
{
    for (int i = 0; i < n; i++)
        zmq_msg_close (&frames[i]);
}

/* Receives one reply on a DEALER and returns its last frame as JSON;
 * *nframes_p gets the frame count. */
static json_t *
s_reply (s_fix_t *f, void *sock, int *nframes_p)
{
    s_pump (f, sock);
    zmq_msg_t frames[8];
    int n = s_recv_all (sock, frames, 8);
    if (nframes_p)
        *nframes_p = n;
    json_t *v = s_json (&frames[n - 1]);
    s_close_all (frames, n);
    return v;
}

/* A request the fake actor ROUTER received: routing id and message. */
typedef struct {
    zmq_msg_t id;
    rt_msg_t msg;
} s_fwd_t;

static void
s_fwd_recv (s_fix_t *f, void *router, s_fwd_t *fwd)
{
    s_pump (f, router);
    zmq_msg_init (&fwd->id);
    assert_int_equal (bus_router_recv (router, &fwd->id, &fwd->msg), 0);
}

/* Answers a forwarded call with result (stolen) and status. */
static void
s_fwd_answer (void *router, s_fwd_t *fwd, int32_t status, json_t *value)
{
    rt_msg_t reply;
    assert_int_equal (bus_reply_init (&reply, fwd->msg.env.corr, status, value), 0);
    json_decref (value);
    assert_int_equal (bus_router_send (router, zmq_msg_data (&fwd->id),
                                       zmq_msg_size (&fwd->id), &reply),
                      0);
    zmq_msg_close (&fwd->id);
    rt_msg_close (&fwd->msg);
}

static void
s_send_str (void *sock, const char *text, int flags)
{
    assert_int_equal (zmq_send (sock, text, strlen (text), flags), (int)strlen (text));
}

/* DEALER without a delimiter gets none; with one it is echoed; REQ sees
 * exactly one frame. */
static void
test_delimiter_echo (void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new (256, 1 << 20);
    void *dealer = rt_socket_new (ZMQ_DEALER);
    assert_int_equal (zmq_connect (dealer, EP_RPC), 0);
    s_send_str (dealer, "{\"jsonrpc\":\"2.0\",\"method\":\"daemon.info\",\"id\":\"a\"}",
                0);
    s_pump (f, dealer);
    zmq_msg_t frames[8];
    int n = s_recv_all (dealer, frames, 8);
    assert_int_equal (n, 1);
    json_t *r = s_json (&frames[0]);
    assert_string_equal (json_string_value (json_object_get (r, "id")), "a");
    json_t *lim = json_object_get (json_object_get (r, "result"), "limits");
    assert_int_equal (json_integer_value (json_object_get (lim, "frame0_bytes")),
                      1 << 20);
    assert_int_equal (json_integer_value (json_object_get (lim, "in_flight_per_client")),
                      256);
    json_decref (r);
    s_close_all (frames, n);

    s_send_str (dealer, "", ZMQ_SNDMORE);
    s_send_str (dealer, "{\"jsonrpc\":\"2.0\",\"method\":\"rpc.discover\",\"id\":2}", 0);
    s_pump (f, dealer);
    n = s_recv_all (dealer, frames, 8);
    assert_int_equal (n, 2);
    assert_int_equal (zmq_msg_size (&frames[0]), 0);
    r = s_json (&frames[1]);
    assert_int_equal (json_integer_value (json_object_get (r, "id")), 2);
    json_decref (r);
    s_close_all (frames, n);

    /* an empty frame alone is frame 0 (a parse error), not a delimiter */
    s_send_str (dealer, "", 0);
    s_pump (f, dealer);
    n = s_recv_all (dealer, frames, 8);
    assert_int_equal (n, 1);
    r = s_json (&frames[0]);
    assert_int_equal (
        json_integer_value (json_object_get (json_object_get (r, "error"), "code")),
        -32700);
    json_decref (r);
    s_close_all (frames, n);

    void *req = rt_socket_new (ZMQ_REQ);
    assert_int_equal (zmq_connect (req, EP_RPC), 0);
    s_send_str (req, "{\"jsonrpc\":\"2.0\",\"method\":\"daemon.info\",\"id\":3}", 0);
    s_pump (f, req);
    n = s_recv_all (req, frames, 8);
    assert_int_equal (n, 1);
    s_close_all (frames, n);
    rt_socket_destroy (&req);
    rt_socket_destroy (&dealer);
    s_fix_destroy (&f);
}

/* events.get goes to the metrics actor, daemon.stats and session methods
 * to the dispatch actor; their answers reach the client. */
static void
test_routing (void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new (256, 1 << 20);
    void *c = rt_socket_new (ZMQ_DEALER);
    assert_int_equal (zmq_connect (c, EP_RPC), 0);

    s_send_str (
        c,
        "{\"jsonrpc\":\"2.0\",\"method\":\"events.get\",\"params\":{\"since_seq\":5},"
        "\"id\":1}",
        0);
    s_fwd_t fwd;
    s_fwd_recv (f, f->metrics, &fwd);
    assert_int_equal (fwd.msg.env.type, BUS_EVENTS_GET);
    const bus_events_get_t *q = rt_msg_body_as (&fwd.msg, sizeof (bus_events_get_t));
    assert_non_null (q);
    assert_int_equal (q->since_seq, 5);
    assert_int_equal (q->max, 1000); /* the schema default */
    assert_int_equal (rpc_front_in_flight (f->front), 1);
    s_fwd_answer (f->metrics, &fwd, 0,
                  json_pack ("{s:[], s:i}", "events", "last_seq", 9));
    json_t *r = s_reply (f, c, NULL);
    assert_int_equal (
        json_integer_value (json_object_get (json_object_get (r, "result"), "last_seq")),
        9);
    json_decref (r);
    assert_int_equal (rpc_front_in_flight (f->front), 0);

    s_send_str (c, "{\"jsonrpc\":\"2.0\",\"method\":\"daemon.stats\",\"id\":2}", 0);
    s_fwd_recv (f, f->dispatch, &fwd);
    assert_int_equal (fwd.msg.env.type, BUS_CALL);
    json_t *call = bus_json_body (&fwd.msg);
    assert_string_equal (json_string_value (json_object_get (call, "method")),
                         "daemon.stats");
    /* the front end's counters ride along: 2 requests so far */
    assert_int_equal (
        json_integer_value (json_object_get (json_object_get (call, "rpc"), "requests")),
        2);
    json_decref (call);
    s_fwd_answer (f->dispatch, &fwd, 0, json_pack ("{s:i}", "commands", 0));
    r = s_reply (f, c, NULL);
    assert_non_null (json_object_get (r, "result"));
    json_decref (r);

    /* an error answer is passed through */
    s_send_str (c,
                "{\"jsonrpc\":\"2.0\",\"method\":\"session.get\",\"params\":{\"session\":"
                "\"s1\"},\"id\":3}",
                0);
    s_fwd_recv (f, f->dispatch, &fwd);
    s_fwd_answer (f->dispatch, &fwd, UIS_ERR_STATE,
                  json_pack ("{s:i, s:s, s:{s:s}}", "code", -32001, "message",
                             "Session not found", "data", "name", "SESSION_NOT_FOUND"));
    r = s_reply (f, c, NULL);
    assert_int_equal (
        json_integer_value (json_object_get (json_object_get (r, "error"), "code")),
        -32001);
    assert_int_equal (json_integer_value (json_object_get (r, "id")), 3);
    json_decref (r);
    rt_socket_destroy (&c);
    s_fix_destroy (&f);
}

/* Frame 0 above the limit is refused before parsing; too many frames too. */
static void
test_frame_limits (void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new (256, 1024);
    void *c = rt_socket_new (ZMQ_DEALER);
    assert_int_equal (zmq_connect (c, EP_RPC), 0);
    char big[2000];
    memset (big, '[', sizeof big); /* would also be too deep */
    assert_int_equal (zmq_send (c, big, sizeof big, 0), (int)sizeof big);
    json_t *r = s_reply (f, c, NULL);
    json_t *e = json_object_get (r, "error");
    assert_int_equal (json_integer_value (json_object_get (e, "code")), -32011);
    json_t *data = json_object_get (e, "data");
    assert_string_equal (json_string_value (json_object_get (data, "name")),
                         "LIMIT_EXCEEDED");
    assert_string_equal (json_string_value (json_object_get (data, "limit")),
                         "frame0_bytes");
    assert_int_equal (json_integer_value (json_object_get (data, "value")), 2000);
    assert_true (json_is_null (json_object_get (r, "id")));
    json_decref (r);

    for (int i = 0; i < RPC_FRONT_FRAMES_MAX; i++)
        s_send_str (c, "{}", ZMQ_SNDMORE);
    s_send_str (c, "x", 0);
    r = s_reply (f, c, NULL);
    data = json_object_get (json_object_get (r, "error"), "data");
    assert_string_equal (json_string_value (json_object_get (data, "limit")), "frames");
    json_decref (r);
    /* the client is still served */
    s_send_str (c, "{\"jsonrpc\":\"2.0\",\"method\":\"daemon.info\",\"id\":1}", 0);
    r = s_reply (f, c, NULL);
    assert_non_null (json_object_get (r, "result"));
    json_decref (r);
    rt_socket_destroy (&c);
    s_fix_destroy (&f);
}

/* A client with limit messages waiting gets LIMIT_EXCEEDED with its ids;
 * another client is not affected; an answer frees a place. */
static void
test_in_flight_limit (void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new (3, 1 << 20);
    void *c = rt_socket_new (ZMQ_DEALER);
    void *other = rt_socket_new (ZMQ_DEALER);
    assert_int_equal (zmq_connect (c, EP_RPC), 0);
    assert_int_equal (zmq_connect (other, EP_RPC), 0);
    char req[128];
    for (int i = 0; i < 4; i++) {
        snprintf (
            req, sizeof req,
            "{\"jsonrpc\":\"2.0\",\"method\":\"events.get\",\"params\":{\"since_seq\":0},"
            "\"id\":%d}",
            i);
        s_send_str (c, req, 0);
    }
    json_t *r = s_reply (f, c, NULL);
    assert_int_equal (json_integer_value (json_object_get (r, "id")), 3);
    json_t *data = json_object_get (json_object_get (r, "error"), "data");
    assert_string_equal (json_string_value (json_object_get (data, "limit")),
                         "in_flight_per_client");
    assert_int_equal (json_integer_value (json_object_get (data, "value")), 3);
    json_decref (r);
    assert_int_equal (rpc_front_in_flight (f->front), 3);
    /* local methods are answered at once even now */
    s_send_str (c, "{\"jsonrpc\":\"2.0\",\"method\":\"daemon.info\",\"id\":\"l\"}", 0);
    r = s_reply (f, c, NULL);
    assert_int_equal (
        json_integer_value (json_object_get (json_object_get (r, "error"), "code")),
        -32011);
    json_decref (r);
    /* another client is served */
    s_send_str (
        other,
        "{\"jsonrpc\":\"2.0\",\"method\":\"events.get\",\"params\":{\"since_seq\":0},"
        "\"id\":\"o\"}",
        0);
    s_fwd_t fwd[4];
    for (int i = 0; i < 4; i++)
        s_fwd_recv (f, f->metrics, &fwd[i]);
    assert_int_equal (rpc_front_in_flight (f->front), 4);
    /* answering one of c's frees a place */
    s_fwd_answer (f->metrics, &fwd[0], 0, json_object ());
    r = s_reply (f, c, NULL);
    assert_int_equal (json_integer_value (json_object_get (r, "id")), 0);
    json_decref (r);
    s_send_str (
        c,
        "{\"jsonrpc\":\"2.0\",\"method\":\"events.get\",\"params\":{\"since_seq\":0},"
        "\"id\":9}",
        0);
    s_fwd_t more;
    s_fwd_recv (f, f->metrics, &more);
    /* cancel everything: CANCELLED for each waiting message */
    assert_int_equal (rpc_front_cancel_all (f->front), 4);
    assert_int_equal (rpc_front_in_flight (f->front), 0);
    int ids = 0;
    for (int i = 0; i < 3; i++) {
        r = s_reply (f, c, NULL);
        assert_int_equal (
            json_integer_value (json_object_get (json_object_get (r, "error"), "code")),
            -32012);
        ids += (int)json_integer_value (json_object_get (r, "id"));
        json_decref (r);
    }
    assert_int_equal (ids, 1 + 2 + 9);
    r = s_reply (f, other, NULL);
    assert_string_equal (json_string_value (json_object_get (r, "id")), "o");
    json_decref (r);
    /* late answers for cancelled calls are dropped */
    for (int i = 1; i < 4; i++)
        s_fwd_answer (f->metrics, &fwd[i], 0, json_object ());
    s_fwd_answer (f->metrics, &more, 0, json_object ());
    s_pump_none (f, c);
    rt_socket_destroy (&c);
    rt_socket_destroy (&other);
    s_fix_destroy (&f);
}

/* A batch mixing local and forwarded calls is answered once, as one array;
 * notifications are never answered. */
static void
test_batch_and_notifications (void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new (256, 1 << 20);
    void *c = rt_socket_new (ZMQ_DEALER);
    assert_int_equal (zmq_connect (c, EP_RPC), 0);
    s_send_str (c,
                "[{\"jsonrpc\":\"2.0\",\"method\":\"daemon.info\",\"id\":1},"
                "{\"jsonrpc\":\"2.0\",\"method\":\"daemon.stats\",\"id\":2},"
                "{\"jsonrpc\":\"2.0\",\"method\":\"daemon.stats\"},"
                "{\"jsonrpc\":\"2.0\",\"method\":\"nope\",\"id\":3}]",
                0);
    s_fwd_t a, b;
    s_fwd_recv (f, f->dispatch, &a);
    s_fwd_recv (f, f->dispatch, &b);
    s_pump_none (f, c);
    s_fwd_answer (f->dispatch, &b, 0, json_object ());
    s_pump_none (f, c);
    s_fwd_answer (f->dispatch, &a, 0, json_object ());
    json_t *r = s_reply (f, c, NULL);
    assert_true (json_is_array (r));
    assert_int_equal (json_array_size (r), 3);
    json_decref (r);

    s_send_str (c, "{\"jsonrpc\":\"2.0\",\"method\":\"daemon.info\"}", 0);
    s_send_str (c, "{\"jsonrpc\":\"2.0\",\"method\":\"nope\"}", 0);
    s_pump_none (f, c);
    rt_socket_destroy (&c);
    s_fix_destroy (&f);
}

static void
s_free_blob (void *data, void *hint)
{
    (void)hint;
    free (data);
}

/* rpc.echo with attachments returns the very buffer the client sent; with
 * base64 out the data is encoded. */
static void
test_echo_zero_copy (void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new (256, 1 << 20);
    void *c = rt_socket_new (ZMQ_DEALER);
    assert_int_equal (zmq_connect (c, EP_RPC), 0);
    size_t size = 100000;
    uint8_t *blob = malloc (size);
    for (size_t i = 0; i < size; i++)
        blob[i] = (uint8_t)(i * 7);
    s_send_str (
        c,
        "{\"jsonrpc\":\"2.0\",\"method\":\"rpc.echo\",\"id\":1,\"params\":{\"data\":"
        "{\"$attachment\":1},\"data_encoding\":\"attachment\"}}",
        ZMQ_SNDMORE);
    zmq_msg_t frame;
    assert_int_equal (zmq_msg_init_data (&frame, blob, size, s_free_blob, NULL), 0);
    assert_true (zmq_msg_send (&frame, c, 0) >= 0);
    s_pump (f, c);
    zmq_msg_t frames[8];
    int n = s_recv_all (c, frames, 8);
    assert_int_equal (n, 2);
    json_t *r = s_json (&frames[0]);
    json_t *res = json_object_get (r, "result");
    assert_int_equal (json_integer_value (json_object_get (res, "bytes")),
                      (json_int_t)size);
    assert_int_equal (json_integer_value (
                          json_object_get (json_object_get (res, "data"), "$attachment")),
                      1);
    assert_int_equal (zmq_msg_size (&frames[1]), size);
    /* inproc moves frames by reference: the same buffer came back */
    assert_ptr_equal (zmq_msg_data (&frames[1]), blob);
    json_decref (r);
    s_close_all (frames, n);

    s_send_str (
        c,
        "{\"jsonrpc\":\"2.0\",\"method\":\"rpc.echo\",\"id\":2,\"params\":{\"data\":"
        "{\"$attachment\":1}}}",
        ZMQ_SNDMORE);
    s_send_str (c, "hello", 0);
    int nf = 0;
    r = s_reply (f, c, &nf);
    assert_int_equal (nf, 1);
    assert_string_equal (
        json_string_value (json_object_get (json_object_get (r, "result"), "data")),
        "aGVsbG8=");
    json_decref (r);
    /* base64 in, attachment out */
    s_send_str (
        c,
        "{\"jsonrpc\":\"2.0\",\"method\":\"rpc.echo\",\"id\":3,\"params\":{\"data\":"
        "\"aGk=\",\"data_encoding\":\"attachment\"}}",
        0);
    s_pump (f, c);
    n = s_recv_all (c, frames, 8);
    assert_int_equal (n, 2);
    assert_int_equal (zmq_msg_size (&frames[1]), 2);
    assert_memory_equal (zmq_msg_data (&frames[1]), "hi", 2);
    s_close_all (frames, n);
    /* an attachment index beyond the frames */
    s_send_str (
        c,
        "{\"jsonrpc\":\"2.0\",\"method\":\"rpc.echo\",\"id\":4,\"params\":{\"data\":"
        "{\"$attachment\":2}}}",
        ZMQ_SNDMORE);
    s_send_str (c, "x", 0);
    r = s_reply (f, c, NULL);
    assert_int_equal (
        json_integer_value (json_object_get (json_object_get (r, "error"), "code")),
        -32602);
    json_decref (r);
    rt_socket_destroy (&c);
    s_fix_destroy (&f);
}

/* rpc.discover lists the API's table plus rpc.echo. */
static void
test_discover (void **state)
{
    (void)state;
    rpc_methods_t *api = rpc_methods_new_api ();
    assert_non_null (api);
    size_t n_api = rpc_methods_count (api);
    bool api_has_echo = rpc_methods_find (api, "rpc.echo") >= 0;
    rpc_methods_destroy (&api);
    s_fix_t *f = s_fix_new (256, 1 << 20);
    void *c = rt_socket_new (ZMQ_DEALER);
    assert_int_equal (zmq_connect (c, EP_RPC), 0);
    s_send_str (c, "{\"jsonrpc\":\"2.0\",\"method\":\"rpc.discover\",\"id\":1}", 0);
    json_t *r = s_reply (f, c, NULL);
    json_t *methods = json_object_get (json_object_get (r, "result"), "methods");
    assert_int_equal (json_array_size (methods), n_api + (api_has_echo ? 0 : 1));
    bool echo = false;
    size_t i;
    json_t *m;
    json_array_foreach (methods, i, m) echo =
        echo || strcmp (json_string_value (json_object_get (m, "name")), "rpc.echo") == 0;
    assert_true (echo);
    json_decref (r);
    rt_socket_destroy (&c);
    s_fix_destroy (&f);
}

/* The actor: BUS_DRAIN stops reading, fails what is still waiting with
 * CANCELLED after the drain time, then answers BUS_DRAINED. */
static void
test_actor_drain (void **state)
{
    (void)state;
    assert_int_equal (rt_ctx_endpoint (s_ep_rpc, sizeof s_ep_rpc, "rpc"), 0);
    assert_int_equal (rt_ctx_endpoint (s_ep_metrics, sizeof s_ep_metrics, "metrics"), 0);
    void *metrics = rt_socket_new (ZMQ_ROUTER);
    assert_int_equal (zmq_bind (metrics, EP_METRICS), 0);
    rpc_front_config_t cfg = {
        EP_RPC, "inproc://x", EP_METRICS, NULL, {1 << 20, 64u << 20, 256, 1024}, 0, 0,
        0,      NULL};
    rt_actor_t *actor = rt_actor_new (rpc_front_actor, &cfg);
    assert_non_null (actor);
    void *c = rt_socket_new (ZMQ_DEALER);
    assert_int_equal (zmq_connect (c, EP_RPC), 0);
    s_send_str (
        c,
        "{\"jsonrpc\":\"2.0\",\"method\":\"events.get\",\"params\":{\"since_seq\":0},"
        "\"id\":7}",
        0);
    zmq_pollitem_t item = {metrics, 0, ZMQ_POLLIN, 0};
    assert_int_equal (zmq_poll (&item, 1, 5000), 1);
    /* without a dispatcher, daemon.stats fails at once */
    s_send_str (c, "{\"jsonrpc\":\"2.0\",\"method\":\"daemon.stats\",\"id\":8}", 0);
    zmq_pollitem_t citem = {c, 0, ZMQ_POLLIN, 0};
    assert_int_equal (zmq_poll (&citem, 1, 5000), 1);
    char buf[512];
    int n = zmq_recv (c, buf, sizeof buf - 1, 0);
    assert_true (n > 0);
    buf[n] = 0;
    assert_non_null (strstr (buf, "-32603"));
    rt_msg_t msg;
    rt_msg_init (&msg, BUS_DRAIN);
    msg.env.aux = 50;
    assert_int_equal (rt_actor_send (actor, &msg, 0), 0);
    zmq_pollitem_t pitem = {rt_actor_pipe (actor), 0, ZMQ_POLLIN, 0};
    assert_int_equal (zmq_poll (&pitem, 1, 5000), 1);
    assert_int_equal (rt_msg_recv (&msg, rt_actor_pipe (actor), 0), 0);
    assert_int_equal (msg.env.type, BUS_DRAINED);
    rt_msg_close (&msg);
    assert_int_equal (zmq_poll (&citem, 1, 5000), 1);
    n = zmq_recv (c, buf, sizeof buf - 1, 0);
    assert_true (n > 0);
    buf[n] = 0;
    json_t *r = json_loads (buf, 0, NULL);
    assert_int_equal (json_integer_value (json_object_get (r, "id")), 7);
    assert_int_equal (
        json_integer_value (json_object_get (json_object_get (r, "error"), "code")),
        -32012);
    json_decref (r);
    /* no longer accepting: a new request stays unanswered */
    s_send_str (c, "{\"jsonrpc\":\"2.0\",\"method\":\"daemon.info\",\"id\":9}", 0);
    assert_int_equal (zmq_poll (&citem, 1, 100), 0);
    assert_int_equal (rt_actor_destroy (&actor), 0);
    rt_socket_destroy (&c);
    rt_socket_destroy (&metrics);
    assert_int_equal (rt_ctx_sockets (), 0);
}

/* Pumps the front end until fake actor router gets a message of type
 * (others are dropped); bounded. */
static void
s_fwd_recv_type (s_fix_t *f, void *router, uint16_t type, s_fwd_t *fwd)
{
    for (int k = 0; k < 16; k++) {
        s_fwd_recv (f, router, fwd);
        if (fwd->msg.env.type == type)
            return;
        zmq_msg_close (&fwd->id);
        rt_msg_close (&fwd->msg);
    }
    fail_msg ("no message of type %u", type);
}

/* A client whose connection closes (a killed process) is seen through the
 * ROUTER's monitor and the fd of its messages: its command at an io actor
 * gets ENG_CANCEL (same session, same corr), its call at dispatch is
 * dropped, dispatch gets client.gone with its routing id, late answers go
 * nowhere, nothing stays in flight; other clients, and a new client on
 * the reused fd, are served. */
static void
test_client_gone (void **state)
{
    (void)state;
    char ep_io[64], prefix[80], ep_io0[96], ipc[96];
    assert_int_equal (rt_ctx_endpoint (ep_io, sizeof ep_io, "io"), 0);
    snprintf (prefix, sizeof prefix, "%s-", ep_io);
    snprintf (ep_io0, sizeof ep_io0, "%s0", prefix);
    snprintf (ipc, sizeof ipc, "ipc:///tmp/uis-test-front-%d.sock", (int)getpid ());
    void *io = rt_socket_new (ZMQ_ROUTER);
    assert_int_equal (zmq_bind (io, ep_io0), 0);
    s_fix_t *f = calloc (1, sizeof *f);
    assert_non_null (f);
    assert_int_equal (rt_ctx_endpoint (s_ep_dispatch, sizeof s_ep_dispatch, "dispatch"),
                      0);
    f->dispatch = rt_socket_new (ZMQ_ROUTER);
    assert_int_equal (zmq_bind (f->dispatch, EP_DISPATCH), 0);
    rpc_front_config_t cfg = {
        ipc, "inproc://x", NULL, EP_DISPATCH, {1 << 20, 64u << 20, 256, 1024}, 0, 0,
        1,   prefix};
    f->front = rpc_front_new (&cfg, NULL);
    assert_non_null (f->front);
    f->reactor = rt_reactor_new ();
    assert_int_equal (rpc_front_attach (f->front, f->reactor), 0);

    void *a = rt_socket_new (ZMQ_DEALER);
    void *b = rt_socket_new (ZMQ_DEALER);
    assert_int_equal (zmq_connect (a, ipc), 0);
    assert_int_equal (zmq_connect (b, ipc), 0);
    /* a's first call tells the fake dispatcher who a is and where the front
     * end is; it places s1 on io actor 0. */
    s_send_str (a, "{\"jsonrpc\":\"2.0\",\"method\":\"session.list\",\"id\":1}", 0);
    s_fwd_t fwd;
    s_fwd_recv (f, f->dispatch, &fwd);
    json_t *call = bus_json_body (&fwd.msg);
    char *client_a = strdup (
        json_string_value (json_object_get (json_object_get (call, "rpc"), "client")));
    json_decref (call);
    rt_msg_t route;
    rt_msg_init (&route, ENG_ROUTE);
    route.env.session = 1;
    route.env.aux = 0;
    assert_int_equal (rt_msg_set_body (&route, "s1", 2), 0);
    assert_int_equal (bus_router_send (f->dispatch, zmq_msg_data (&fwd.id),
                                       zmq_msg_size (&fwd.id), &route),
                      0);
    rt_msg_close (&route);
    s_fwd_answer (f->dispatch, &fwd, 0, json_pack ("{s:[]}", "sessions"));
    json_t *r = s_reply (f, a, NULL);
    json_decref (r);

    /* a: a command at the io actor and a call at dispatch, both pending. */
    s_send_str (a,
                "{\"jsonrpc\":\"2.0\",\"method\":\"scsi.test_unit_ready\",\"params\":{"
                "\"session\":\"s1\",\"lun\":0},\"id\":2}",
                0);
    s_fwd_t cmd;
    s_fwd_recv (f, io, &cmd);
    assert_int_equal (cmd.msg.env.type, ENG_CMD);
    assert_int_equal (cmd.msg.env.session, 1);
    s_send_str (a,
                "{\"jsonrpc\":\"2.0\",\"method\":\"session.get\",\"params\":{"
                "\"session\":\"s1\"},\"id\":3}",
                0);
    s_fwd_t get;
    s_fwd_recv (f, f->dispatch, &get);
    assert_int_equal (rpc_front_in_flight (f->front), 2);
    /* b is served. */
    s_send_str (b, "{\"jsonrpc\":\"2.0\",\"method\":\"daemon.info\",\"id\":1}", 0);
    r = s_reply (f, b, NULL);
    assert_non_null (json_object_get (r, "result"));
    json_decref (r);

    /* a dies. */
    rt_socket_destroy (&a);
    s_fwd_t cancel;
    s_fwd_recv (f, io, &cancel);
    assert_int_equal (cancel.msg.env.type, ENG_CANCEL);
    assert_int_equal (cancel.msg.env.session, 1);
    assert_true (cancel.msg.env.corr == cmd.msg.env.corr);
    zmq_msg_close (&cancel.id);
    rt_msg_close (&cancel.msg);
    s_fwd_t gone;
    s_fwd_recv_type (f, f->dispatch, BUS_CALL, &gone);
    call = bus_json_body (&gone.msg);
    assert_string_equal (json_string_value (json_object_get (call, "method")),
                         "client.gone");
    assert_string_equal (
        json_string_value (json_object_get (json_object_get (call, "rpc"), "client")),
        client_a);
    json_decref (call);
    zmq_msg_close (&gone.id);
    rt_msg_close (&gone.msg);
    assert_int_equal (rpc_front_in_flight (f->front), 0);
    json_t *c = rpc_front_counters (f->front);
    assert_int_equal (json_integer_value (json_object_get (c, "clients_gone")), 1);
    assert_int_equal (json_integer_value (json_object_get (c, "jobs_reaped")), 2);
    assert_int_equal (json_integer_value (json_object_get (c, "in_flight")), 0);
    json_decref (c);

    /* Late answers find no job: nothing reaches b. */
    rt_msg_t done;
    rt_msg_init (&done, ENG_CMD_DONE);
    done.env.corr = cmd.msg.env.corr;
    done.env.session = 1;
    assert_int_equal (
        bus_router_send (io, zmq_msg_data (&cmd.id), zmq_msg_size (&cmd.id), &done), 0);
    rt_msg_close (&done);
    zmq_msg_close (&cmd.id);
    rt_msg_close (&cmd.msg);
    s_fwd_answer (f->dispatch, &get, 0, json_object ());
    s_pump_none (f, b);

    /* A new client (likely on a's fd, reused) is served; b too; closing
     * b (that held nothing at the io actor) reports it gone once. */
    void *n = rt_socket_new (ZMQ_DEALER);
    assert_int_equal (zmq_connect (n, ipc), 0);
    s_send_str (n, "{\"jsonrpc\":\"2.0\",\"method\":\"daemon.info\",\"id\":5}", 0);
    r = s_reply (f, n, NULL);
    assert_int_equal (json_integer_value (json_object_get (r, "id")), 5);
    json_decref (r);
    s_send_str (b, "{\"jsonrpc\":\"2.0\",\"method\":\"daemon.info\",\"id\":6}", 0);
    r = s_reply (f, b, NULL);
    assert_int_equal (json_integer_value (json_object_get (r, "id")), 6);
    json_decref (r);
    rt_socket_destroy (&b);
    s_fwd_recv_type (f, f->dispatch, BUS_CALL, &gone);
    zmq_msg_close (&gone.id);
    rt_msg_close (&gone.msg);
    c = rpc_front_counters (f->front);
    assert_int_equal (json_integer_value (json_object_get (c, "clients_gone")), 2);
    assert_int_equal (json_integer_value (json_object_get (c, "stale_dropped")), 0);
    json_decref (c);
    s_send_str (n, "{\"jsonrpc\":\"2.0\",\"method\":\"daemon.info\",\"id\":7}", 0);
    r = s_reply (f, n, NULL);
    assert_int_equal (json_integer_value (json_object_get (r, "id")), 7);
    json_decref (r);
    /* fd reuse race: a2 sends and dies before the front end reads
     * anything, then n2 connects (likely on a2's fd) and sends: n2 is
     * answered and stays served; nothing of a2 stays in flight. */
    for (int round = 0; round < 8; round++) {
        void *a2 = rt_socket_new (ZMQ_DEALER);
        assert_int_equal (zmq_connect (a2, ipc), 0);
        s_send_str (a2, "{\"jsonrpc\":\"2.0\",\"method\":\"session.list\",\"id\":1}", 0);
        zmq_pollitem_t none = {a2, 0, ZMQ_POLLIN, 0};
        zmq_poll (&none, 1, 20); /* let it reach the daemon's socket */
        rt_socket_destroy (&a2);
        void *n2 = rt_socket_new (ZMQ_DEALER);
        assert_int_equal (zmq_connect (n2, ipc), 0);
        for (int k = 0; k < 2; k++) {
            s_send_str (n2, "{\"jsonrpc\":\"2.0\",\"method\":\"daemon.info\",\"id\":9}",
                        0);
            r = s_reply (f, n2, NULL);
            assert_int_equal (json_integer_value (json_object_get (r, "id")), 9);
            json_decref (r);
        }
        /* a2's call reached the fake dispatcher (then is reaped) or was
         * dropped as stale; either way nothing waits. */
        for (int k = 0; k < 50 && rpc_front_in_flight (f->front) > 0; k++)
            rt_reactor_run_once (f->reactor, 2);
        assert_int_equal (rpc_front_in_flight (f->front), 0);
        rt_socket_destroy (&n2);
        for (int k = 0; k < 20; k++)
            rt_reactor_run_once (f->reactor, 1);
        zmq_pollitem_t d = {f->dispatch, 0, ZMQ_POLLIN, 0};
        for (int k = 0; k < 16 && zmq_poll (&d, 1, 0) == 1; k++) {
            s_fwd_t x;
            s_fwd_recv (f, f->dispatch, &x);
            zmq_msg_close (&x.id);
            rt_msg_close (&x.msg);
        }
    }
    rt_socket_destroy (&n);
    free (client_a);
    rt_socket_destroy (&io);
    s_fix_destroy (&f);
    unlink (ipc + strlen ("ipc://")); /* libzmq may leave the socket file */
}

static int
s_teardown (void **state)
{
    (void)state;
    return rt_ctx_term ();
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_delimiter_echo),
        cmocka_unit_test (test_routing),
        cmocka_unit_test (test_frame_limits),
        cmocka_unit_test (test_in_flight_limit),
        cmocka_unit_test (test_batch_and_notifications),
        cmocka_unit_test (test_echo_zero_copy),
        cmocka_unit_test (test_discover),
        cmocka_unit_test (test_actor_drain),
        cmocka_unit_test (test_client_gone),
    };
    return cmocka_run_group_tests_name ("rpc_front", tests, NULL, s_teardown);
}
