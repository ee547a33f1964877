/* test_dispatch.c: the session registry of the dispatch actor
 * (actors/dispatch.c) driven over inproc with its reactor pumped by the
 * test, the front end played by a DEALER and two io actors by ROUTERs:
 * session.open placing sessions on the least loaded io actor, ENG_ROUTE
 * before the reply, sharing (refs, handles per client, attach needs the
 * same credentials), session.close releasing handles and logging out on
 * the last or with force, the sessions limit, failed logins, session.get /
 * session.list with exactly the keys of API.md and no secrets,
 * protocol.logout, discovery, daemon.stats summing counters, and
 * client.gone releasing a dead client's handles.
 * Conformance ids: C8 (secrets never in session.list/get). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdlib.h>
#include <zmq.h>

#include "actors/bus.h"
#include "actors/dispatch.h"
#include "actors/engine.h"
#include "actors/rt/rt_ctx.h"
#include "actors/rt/rt_msg.h"
#include "actors/rt/rt_reactor.h"
#include "proto/errors.h"
#include "rpc/errors.h"

typedef struct {
    dispatch_t *dispatch;
    rt_reactor_t *reactor;
    void *front; /* DEALER playing the front end */
    void *io[2]; /* ROUTERs playing io actors 0 and 1 */
    char ep_api[64];
    char ep_io[64];
    uint64_t corr;
} s_fix_t;

#define OPEN_A                                                                           \
    "{\"portal\":\"127.0.0.1:3260\",\"target\":\"iqn.t:a\",\"auth\":{\"method\":"        \
    "\"chap\",\"user\":\"u\",\"secret\":\"TOPSECRET1\"},\"share\":true,"                 \
    "\"timeout_ms\":30000}"

static s_fix_t *
s_fix_new (uint32_t sessions)
{
    s_fix_t *f = calloc (1, sizeof *f);
    assert_non_null (f);
    assert_int_equal (rt_ctx_endpoint (f->ep_api, sizeof f->ep_api, "dispatch"), 0);
    assert_int_equal (rt_ctx_endpoint (f->ep_io, sizeof f->ep_io, "io"), 0);
    for (int k = 0; k < 2; k++) {
        char ep[80];
        snprintf (ep, sizeof ep, "%s-%d", f->ep_io, k);
        f->io[k] = rt_socket_new (ZMQ_ROUTER);
        assert_int_equal (zmq_bind (f->io[k], ep), 0);
    }
    char prefix[80];
    snprintf (prefix, sizeof prefix, "%s-", f->ep_io);
    dispatch_config_t cfg = {f->ep_api, NULL, {1u << 20, 64u << 20, 256, sessions},
                             0,         2,    prefix};
    int err = 0;
    f->dispatch = dispatch_new (&cfg, &err);
    assert_non_null (f->dispatch);
    f->reactor = rt_reactor_new ();
    assert_int_equal (dispatch_attach (f->dispatch, f->reactor), 0);
    f->front = rt_socket_new (ZMQ_DEALER);
    assert_int_equal (zmq_connect (f->front, f->ep_api), 0);
    return f;
}

static void
s_fix_destroy (s_fix_t **f_p)
{
    s_fix_t *f = *f_p;
    dispatch_detach (f->dispatch, f->reactor);
    rt_reactor_destroy (&f->reactor);
    dispatch_destroy (&f->dispatch);
    rt_socket_destroy (&f->front);
    rt_socket_destroy (&f->io[0]);
    rt_socket_destroy (&f->io[1]);
    free (f);
    *f_p = NULL;
    assert_int_equal (rt_ctx_sockets (), 0);
}

/* Pumps the dispatcher until sock has a message (bounded). */
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

/* Sends a BUS_CALL as the front end would; returns its corr. */
static uint64_t
s_call (s_fix_t *f, const char *method, const char *params, const char *client)
{
    char body[2048];
    snprintf (body, sizeof body,
              "{\"method\":\"%s\",\"params\":%s,\"rpc\":{\"client\":\"%s\"}}", method,
              params, client);
    rt_msg_t msg;
    rt_msg_init (&msg, BUS_CALL);
    msg.env.corr = ++f->corr;
    assert_int_equal (rt_msg_set_body (&msg, body, strlen (body)), 0);
    assert_int_equal (rt_msg_send (&msg, f->front, 0), 0);
    rt_msg_close (&msg);
    return f->corr;
}

/* Receives what the front end gets next (pumping); asserts its type. */
static void
s_front_recv (s_fix_t *f, uint16_t type, rt_msg_t *msg)
{
    s_pump (f, f->front);
    assert_int_equal (rt_msg_recv (msg, f->front, 0), 0);
    assert_int_equal (msg->env.type, type);
}

/* Receives a BUS_REPLY for corr and compares its body (sorted, compact)
 * with text; returns its status. */
static int
s_front_reply (s_fix_t *f, uint64_t corr, const char *text)
{
    rt_msg_t msg;
    s_front_recv (f, BUS_REPLY, &msg);
    assert_int_equal (msg.env.corr, corr);
    json_t *v = bus_json_body (&msg);
    assert_non_null (v);
    char *t = json_dumps (v, JSON_SORT_KEYS | JSON_COMPACT);
    if (text)
        assert_string_equal (t, text);
    assert_null (strstr (t, "TOPSECRET")); /* C8 */
    free (t);
    json_decref (v);
    int status = msg.env.status;
    rt_msg_close (&msg);
    return status;
}

/* Receives a request at io actor k; asserts its type; returns its body
 * (may be NULL) and keeps the routing id in *id. */
static json_t *
s_io_recv (s_fix_t *f, int k, uint16_t type, zmq_msg_t *id, rt_msg_t *msg)
{
    s_pump (f, f->io[k]);
    zmq_msg_init (id);
    assert_int_equal (bus_router_recv (f->io[k], id, msg), 0);
    assert_int_equal (msg->env.type, type);
    return bus_json_body (msg);
}

/* Answers a request at io actor k with ENG_REPLY (JSON text). */
static void
s_io_reply (s_fix_t *f, int k, zmq_msg_t *id, const rt_msg_t *req, int32_t status,
            const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads (text, 0, &jerr);
    assert_non_null (v);
    rt_msg_t r;
    rt_msg_init (&r, ENG_REPLY);
    r.env.corr = req->env.corr;
    r.env.session = req->env.session;
    r.env.status = status;
    assert_int_equal (bus_set_json_body (&r, v), 0);
    assert_int_equal (
        bus_router_send (f->io[k], zmq_msg_data (id), zmq_msg_size (id), &r), 0);
    rt_msg_close (&r);
    json_decref (v);
    zmq_msg_close (id);
}

#define OPEN_REPLY                                                                       \
    "{\"isid\":\"400001370000\",\"tsih\":5,\"state\":\"full_feature\","                  \
    "\"negotiated\":{\"MaxRecvDataSegmentLength\":8192},"                                \
    "\"portal\":\"127.0.0.1:3260\",\"target\":\"iqn.t:a\"}"
#define OPEN_RESULT(attached)                                                            \
    "{\"attached\":" attached ",\"isid\":\"400001370000\",\"negotiated\":"               \
    "{\"MaxRecvDataSegmentLength\":8192},\"portal\":\"127.0.0.1:3260\",\"session\":"     \
    "\"s1\",\"state\":\"full_feature\",\"target\":\"iqn.t:a\",\"tsih\":5}"

/* Opens s1 for client "aa" on io actor 0 (checked step by step). */
static void
s_open_s1 (s_fix_t *f)
{
    uint64_t c = s_call (f, "session.open", OPEN_A, "aa");
    zmq_msg_t id;
    rt_msg_t req;
    json_t *body = s_io_recv (f, 0, ENG_OPEN, &id, &req);
    assert_int_equal (req.env.session, 1);
    assert_string_equal (json_string_value (json_object_get (body, "session")), "s1");
    assert_null (json_object_get (body, "share"));
    /* The io actor needs the secret to log in. */
    assert_string_equal (
        json_string_value (json_object_get (json_object_get (body, "auth"), "secret")),
        "TOPSECRET1");
    json_decref (body);
    s_io_reply (f, 0, &id, &req, 0, OPEN_REPLY);
    rt_msg_close (&req);
    /* ENG_ROUTE comes before the reply. */
    rt_msg_t route;
    s_front_recv (f, ENG_ROUTE, &route);
    assert_int_equal (route.env.session, 1);
    assert_int_equal (route.env.aux, 0);
    size_t len = 0;
    const char *sid = rt_msg_body (&route, &len);
    assert_int_equal (len, 2);
    assert_memory_equal (sid, "s1", 2);
    rt_msg_close (&route);
    assert_int_equal (s_front_reply (f, c, OPEN_RESULT ("false")), 0);
}

/* Open, share, per-client handles, close releasing them, the last logs
 * out; route removal before ENG_CLOSE. */
static void
test_open_share_close (void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new (1024);
    s_open_s1 (f);
    /* Client bb attaches: no login. */
    uint64_t c = s_call (f, "session.open", OPEN_A, "bb");
    assert_int_equal (s_front_reply (f, c, OPEN_RESULT ("true")), 0);
    s_pump_none (f, f->io[0]);
    s_pump_none (f, f->io[1]);
    /* Another secret is another session (attach needs the credentials). */
    c = s_call (
        f, "session.open",
        "{\"portal\":\"127.0.0.1:3260\",\"target\":\"iqn.t:a\",\"auth\":{\"method\":"
        "\"chap\",\"user\":\"u\",\"secret\":\"TOPSECRET2\"}}",
        "bb");
    zmq_msg_t id;
    rt_msg_t req;
    json_t *body = s_io_recv (f, 1, ENG_OPEN, &id, &req); /* least loaded: io 1 */
    assert_int_equal (req.env.session, 2);
    json_decref (body);
    s_io_reply (f, 1, &id, &req, 0,
                "{\"isid\":\"1\",\"tsih\":6,\"state\":\"full_feature\"}");
    rt_msg_close (&req);
    rt_msg_t route;
    s_front_recv (f, ENG_ROUTE, &route);
    assert_int_equal (route.env.aux, 1);
    rt_msg_close (&route);
    assert_int_equal (s_front_reply (f, c, NULL), 0);

    /* aa releases its handle: s1 stays (refs 1). */
    c = s_call (f, "session.close", "{\"session\":\"s1\"}", "aa");
    assert_int_equal (s_front_reply (f, c, "{\"closed\":false,\"refs\":1}"), 0);
    /* aa again: holds nothing now, nothing changes. */
    c = s_call (f, "session.close", "{\"session\":\"s1\"}", "aa");
    assert_int_equal (s_front_reply (f, c, "{\"closed\":false,\"refs\":1}"), 0);
    s_pump_none (f, f->io[0]);
    /* bb releases the last: route removed, then ENG_CLOSE, then the reply. */
    c = s_call (f, "session.close", "{\"session\":\"s1\"}", "bb");
    s_front_recv (f, ENG_ROUTE, &route);
    assert_int_equal (route.env.aux, UINT64_MAX);
    assert_int_equal (route.env.session, 1);
    rt_msg_close (&route);
    body = s_io_recv (f, 0, ENG_CLOSE, &id, &req);
    assert_int_equal (req.env.aux, 0);
    assert_int_equal (req.env.session, 1);
    s_io_reply (f, 0, &id, &req, 0, "{\"closed\":true}");
    rt_msg_close (&req);
    assert_int_equal (s_front_reply (f, c, "{\"closed\":true,\"refs\":0}"), 0);
    /* Gone. */
    c = s_call (f, "session.get", "{\"session\":\"s1\"}", "bb");
    assert_int_equal (
        s_front_reply (f, c,
                       "{\"code\":-32001,\"data\":{\"name\":\"SESSION_NOT_FOUND\","
                       "\"session\":\"s1\"},\"message\":\"Session not found\"}"),
        UIS_ERR_STATE);
    /* force: at once, whatever the handles, from any client. */
    c = s_call (f, "session.close", "{\"session\":\"s2\",\"force\":true}", "cc");
    s_front_recv (f, ENG_ROUTE, &route);
    rt_msg_close (&route);
    body = s_io_recv (f, 1, ENG_CLOSE, &id, &req);
    assert_int_equal (req.env.aux, 1);
    s_io_reply (f, 1, &id, &req, 0, "{\"closed\":true}");
    rt_msg_close (&req);
    assert_int_equal (s_front_reply (f, c, "{\"closed\":true,\"refs\":0}"), 0);
    s_fix_destroy (&f);
}

/* The sessions limit; a failed login leaves nothing behind. */
static void
test_limit_and_failed_login (void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new (1);
    uint64_t c =
        s_call (f, "session.open",
                "{\"portal\":\"p\",\"target\":\"iqn.t:b\",\"share\":false}", "aa");
    zmq_msg_t id;
    rt_msg_t req;
    json_t *body = s_io_recv (f, 0, ENG_OPEN, &id, &req);
    json_decref (body);
    /* While the login runs, the slot is taken. */
    uint64_t c2 =
        s_call (f, "session.open",
                "{\"portal\":\"p\",\"target\":\"iqn.t:c\",\"share\":false}", "aa");
    assert_int_equal (s_front_reply (f, c2,
                                     "{\"code\":-32011,\"data\":{\"limit\":\"sessions\","
                                     "\"name\":\"LIMIT_EXCEEDED\",\"value\":1},"
                                     "\"message\":\"Limit exceeded\"}"),
                      UIS_ERR_STATE);
    s_io_reply (f, 0, &id, &req, UIS_ERR_STATE,
                "{\"code\":-32003,\"message\":\"Login failed\",\"data\":{\"name\":"
                "\"LOGIN_FAILED\",\"status_class\":2,\"status_detail\":3,\"status_name\":"
                "\"TARGET_NOT_FOUND\"}}");
    rt_msg_close (&req);
    /* No route: the error comes straight. */
    assert_int_equal (
        s_front_reply (f, c,
                       "{\"code\":-32003,\"data\":{\"name\":\"LOGIN_FAILED\","
                       "\"status_class\":2,\"status_detail\":3,"
                       "\"status_name\":\"TARGET_NOT_FOUND\"},"
                       "\"message\":\"Login failed\"}"),
        UIS_ERR_STATE);
    c = s_call (f, "session.list", "{}", "aa");
    assert_int_equal (s_front_reply (f, c, "{\"sessions\":[]}"), 0);
    /* The slot is free again. */
    c = s_call (f, "session.open", "{\"portal\":\"p\",\"target\":\"iqn.t:c\"}", "aa");
    body = s_io_recv (f, 0, ENG_OPEN, &id, &req);
    assert_int_equal (req.env.session, 2); /* ids are not reused */
    assert_string_equal (json_string_value (json_object_get (body, "session")), "s2");
    json_decref (body);
    zmq_msg_close (&id);
    rt_msg_close (&req);
    s_fix_destroy (&f);
}

/* C8: session.get and session.list have exactly the keys of API.md, the
 * registry's refs, and no secret; daemon.stats sums the counters. */
static void
test_get_list_stats (void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new (1024);
    s_open_s1 (f);
    static const char *io_part =
        "{\"state\":\"full_feature\",\"isid\":\"400001370000\",\"tsih\":5,"
        "\"negotiated\":{},\"counters\":{\"commands\":3,\"bytes_in\":100},"
        "\"in_flight\":1,\"cmdsn_window\":128,\"reconnects\":0,\"last_error\":null,"
        "\"extra\":1}";
    static const char *info =
        "{\"cmdsn_window\":128,\"counters\":{\"bytes_in\":100,\"commands\":3},"
        "\"in_flight\":1,\"isid\":\"400001370000\",\"last_error\":null,\"negotiated\":{},"
        "\"portal\":\"127.0.0.1:3260\",\"reconnects\":0,\"refs\":1,\"session\":\"s1\","
        "\"state\":\"full_feature\",\"target\":\"iqn.t:a\",\"tsih\":5}";
    uint64_t c = s_call (f, "session.get", "{\"session\":\"s1\"}", "zz");
    zmq_msg_t id;
    rt_msg_t req;
    json_t *body = s_io_recv (f, 0, ENG_GET, &id, &req);
    json_decref (body);
    s_io_reply (f, 0, &id, &req, 0, io_part);
    rt_msg_close (&req);
    assert_int_equal (s_front_reply (f, c, info), 0);

    c = s_call (f, "session.list", "{}", "zz");
    body = s_io_recv (f, 0, ENG_GET, &id, &req);
    json_decref (body);
    s_io_reply (f, 0, &id, &req, 0, io_part);
    rt_msg_close (&req);
    char want[2048];
    snprintf (want, sizeof want, "{\"sessions\":[%s]}", info);
    assert_int_equal (s_front_reply (f, c, want), 0);

    c = s_call (f, "daemon.stats", "{}", "zz");
    body = s_io_recv (f, 0, ENG_GET, &id, &req);
    json_decref (body);
    s_io_reply (f, 0, &id, &req, 0, io_part);
    rt_msg_close (&req);
    rt_msg_t msg;
    s_front_recv (f, BUS_REPLY, &msg);
    json_t *stats = bus_json_body (&msg);
    assert_int_equal (json_integer_value (json_object_get (stats, "commands")), 3);
    assert_int_equal (json_integer_value (json_object_get (stats, "bytes_in")), 100);
    assert_int_equal (json_integer_value (json_object_get (stats, "sessions")), 1);
    json_decref (stats);
    rt_msg_close (&msg);

    /* protocol.logout: route removed, ENG_LOGOUT, then "closed" from the
     * registry without asking the io actor. */
    c = s_call (f, "protocol.logout", "{\"session\":\"s1\"}", "zz");
    rt_msg_t route;
    s_front_recv (f, ENG_ROUTE, &route);
    assert_int_equal (route.env.aux, UINT64_MAX);
    rt_msg_close (&route);
    body = s_io_recv (f, 0, ENG_LOGOUT, &id, &req);
    s_io_reply (f, 0, &id, &req, 0, "{}");
    rt_msg_close (&req);
    assert_int_equal (s_front_reply (f, c, "{}"), 0);
    c = s_call (f, "session.get", "{\"session\":\"s1\"}", "zz");
    rt_msg_t r2;
    s_front_recv (f, BUS_REPLY, &r2);
    json_t *g = bus_json_body (&r2);
    assert_string_equal (json_string_value (json_object_get (g, "state")), "closed");
    assert_int_equal (json_object_size (g), 13);
    json_decref (g);
    rt_msg_close (&r2);
    s_pump_none (f, f->io[0]);
    s_fix_destroy (&f);
}

/* discovery.send_targets and session.reconnect pass through an io actor;
 * an unknown session is SESSION_NOT_FOUND. */
static void
test_discovery_reconnect (void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new (1024);
    uint64_t c =
        s_call (f, "discovery.send_targets",
                "{\"portal\":\"127.0.0.1\",\"timeout_ms\":5000,\"tag\":\"t\"}", "aa");
    zmq_msg_t id;
    rt_msg_t req;
    json_t *body = s_io_recv (f, 0, ENG_DISCOVER, &id, &req);
    assert_int_equal (req.env.session, 0);
    assert_string_equal (json_string_value (json_object_get (body, "portal")),
                         "127.0.0.1");
    assert_null (json_object_get (body, "tag"));
    json_decref (body);
    s_io_reply (f, 0, &id, &req, 0, "{\"targets\":[]}");
    rt_msg_close (&req);
    assert_int_equal (s_front_reply (f, c, "{\"targets\":[]}"), 0);

    c = s_call (f, "session.reconnect", "{\"session\":\"s9\"}", "aa");
    assert_int_equal (
        s_front_reply (f, c,
                       "{\"code\":-32001,\"data\":{\"name\":\"SESSION_NOT_FOUND\","
                       "\"session\":\"s9\"},\"message\":\"Session not found\"}"),
        UIS_ERR_STATE);
    s_open_s1 (f);
    c = s_call (f, "session.reconnect", "{\"session\":\"s1\"}", "aa");
    body = s_io_recv (f, 0, ENG_RECONNECT, &id, &req);
    assert_int_equal (req.env.session, 1);
    s_io_reply (f, 0, &id, &req, 0, "{}");
    rt_msg_close (&req);
    assert_int_equal (s_front_reply (f, c, "{}"), 0);
    s_fix_destroy (&f);
}

/* client.gone (the front end saw the client's connection close): every
 * handle it held is released; a session others hold stays with fewer
 * refs, one it held alone logs out (route removed, ENG_CLOSE) with no
 * reply to anyone; a login still running for it ends in a logout; the
 * call itself is never answered. */
static void
test_client_gone (void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new (1024);
    s_open_s1 (f); /* aa: 1 handle */
    uint64_t c = s_call (f, "session.open", OPEN_A, "bb");
    assert_int_equal (s_front_reply (f, c, OPEN_RESULT ("true")), 0);
    c = s_call (f, "session.open", OPEN_A, "bb"); /* bb: 2 handles */
    assert_int_equal (s_front_reply (f, c, OPEN_RESULT ("true")), 0);
    c = s_call (f, "session.get", "{\"session\":\"s1\"}", "aa");
    zmq_msg_t id;
    rt_msg_t req;
    json_t *body = s_io_recv (f, 0, ENG_GET, &id, &req);
    json_decref (body);
    s_io_reply (f, 0, &id, &req, 0, "{\"in_flight\":0}");
    rt_msg_close (&req);
    rt_msg_t reply;
    s_front_recv (f, BUS_REPLY, &reply);
    json_t *info = bus_json_body (&reply);
    assert_int_equal (json_integer_value (json_object_get (info, "refs")), 3);
    json_decref (info);
    rt_msg_close (&reply);

    /* bb is gone: its 2 handles go, s1 stays for aa; nothing is sent. */
    s_call (f, "client.gone", "{}", "bb");
    s_pump_none (f, f->front);
    s_pump_none (f, f->io[0]);
    c = s_call (f, "session.close", "{\"session\":\"s1\"}", "bb");
    assert_int_equal (s_front_reply (f, c, "{\"closed\":false,\"refs\":1}"), 0);

    /* A login for cc is running when cc goes: it is logged out at once. */
    c = s_call (f, "session.open",
                "{\"portal\":\"p\",\"target\":\"iqn.t:z\",\"share\":false}", "cc");
    body = s_io_recv (f, 1, ENG_OPEN, &id, &req);
    json_decref (body);
    s_call (f, "client.gone", "{}", "cc");
    s_pump_none (f, f->front);
    s_io_reply (f, 1, &id, &req, 0,
                "{\"isid\":\"2\",\"tsih\":7,\"state\":\"full_feature\"}");
    rt_msg_close (&req);
    rt_msg_t route;
    s_front_recv (f, ENG_ROUTE, &route); /* removal only: it never got one */
    assert_int_equal (route.env.aux, UINT64_MAX);
    assert_int_equal (route.env.session, 2);
    rt_msg_close (&route);
    body = s_io_recv (f, 1, ENG_CLOSE, &id, &req);
    assert_int_equal (req.env.session, 2);
    json_decref (body);
    s_io_reply (f, 1, &id, &req, 0, "{\"closed\":true}");
    rt_msg_close (&req);
    s_pump_none (f, f->front); /* no reply to the gone client's open */

    /* aa, the last holder of s1, goes: route removed, ENG_CLOSE, no reply. */
    s_call (f, "client.gone", "{}", "aa");
    s_front_recv (f, ENG_ROUTE, &route);
    assert_int_equal (route.env.aux, UINT64_MAX);
    assert_int_equal (route.env.session, 1);
    rt_msg_close (&route);
    body = s_io_recv (f, 0, ENG_CLOSE, &id, &req);
    assert_int_equal (req.env.aux, 0);
    json_decref (body);
    s_io_reply (f, 0, &id, &req, 0, "{\"closed\":true}");
    rt_msg_close (&req);
    s_pump_none (f, f->front);
    c = s_call (f, "session.list", "{}", "dd");
    assert_int_equal (s_front_reply (f, c, "{\"sessions\":[]}"), 0);
    /* A client that held nothing: nothing happens. */
    s_call (f, "client.gone", "{}", "ee");
    s_pump_none (f, f->front);
    s_fix_destroy (&f);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_open_share_close),
        cmocka_unit_test (test_limit_and_failed_login),
        cmocka_unit_test (test_get_list_stats),
        cmocka_unit_test (test_discovery_reconnect),
        cmocka_unit_test (test_client_gone),
    };
    int rc = cmocka_run_group_tests_name ("dispatch", tests, NULL, NULL);
    rt_ctx_term ();
    return rc;
}
