/* test_metrics.c: the metrics actor's pieces (actors/metrics): the event
 * ring (wrap by count and by bytes, since_seq exclusive, max, the topic
 * spliced into each event), the subscription table (subscribe/unsubscribe
 * counting per prefix, matching, never below zero, hostile messages), and
 * the publisher over inproc: two frames with seq/epoch/ts, XPUB
 * subscription tracking, watch notices to a client, events.get through the
 * ROUTER API. No network, no sleeps: every wait is a bounded poll loop.
 * Conformance ids: none (daemon plumbing; the per-PDU and per-command
 * events of R7 will be gated on the subscription notices tested here). */
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
#include "actors/metrics.h"
#include "actors/rt/rt_ctx.h"
#include "actors/rt/rt_msg.h"
#include "actors/rt/rt_reactor.h"
#include "proto/errors.h"

/* Parses the events.get text of ring and returns it (new reference). */
static json_t *
s_get (const metrics_ring_t *ring, uint64_t since, size_t max, size_t max_bytes)
{
    size_t len = 0;
    char *text = metrics_ring_get (ring, since, max, max_bytes, &len);
    assert_non_null (text);
    assert_int_equal (strlen (text), len);
    json_error_t jerr;
    json_t *v = json_loads (text, 0, &jerr);
    assert_non_null (v);
    free (text);
    return v;
}

/* Pushes event seq with a small JSON body. */
static void
s_push (metrics_ring_t *ring, uint64_t seq, const char *topic)
{
    char json[64];
    int n =
        snprintf (json, sizeof json, "{\"seq\":%llu,\"x\":1}", (unsigned long long)seq);
    assert_int_equal (metrics_ring_push (ring, seq, topic, json, (size_t)n), 0);
}

/* The ring keeps the last N events and events.get is exclusive of
 * since_seq. */
static void
test_ring_wrap_and_since (void **state)
{
    (void)state;
    metrics_ring_t *ring = metrics_ring_new (4, 1 << 20);
    assert_non_null (ring);
    json_t *r = s_get (ring, 0, 10, 1 << 20);
    assert_int_equal (json_array_size (json_object_get (r, "events")), 0);
    assert_int_equal (json_integer_value (json_object_get (r, "last_seq")), 0);
    json_decref (r);
    for (uint64_t seq = 1; seq <= 6; seq++)
        s_push (ring, seq, "t.x");
    assert_int_equal (metrics_ring_count (ring), 4);
    assert_int_equal (metrics_ring_first_seq (ring), 3);
    assert_int_equal (metrics_ring_last_seq (ring), 6);
    /* since 0 (before the ring): everything held, oldest first */
    r = s_get (ring, 0, 10, 1 << 20);
    json_t *evs = json_object_get (r, "events");
    assert_int_equal (json_array_size (evs), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *e = json_array_get (evs, i);
        assert_int_equal (json_integer_value (json_object_get (e, "seq")), 3 + i);
        assert_string_equal (json_string_value (json_object_get (e, "topic")), "t.x");
        assert_int_equal (json_integer_value (json_object_get (e, "x")), 1);
    }
    assert_int_equal (json_integer_value (json_object_get (r, "last_seq")), 6);
    assert_int_equal (json_integer_value (json_object_get (r, "first_seq")), 3);
    json_decref (r);
    /* since_seq is exclusive; max bounds the answer */
    r = s_get (ring, 4, 1, 1 << 20);
    evs = json_object_get (r, "events");
    assert_int_equal (json_array_size (evs), 1);
    assert_int_equal (
        json_integer_value (json_object_get (json_array_get (evs, 0), "seq")), 5);
    json_decref (r);
    r = s_get (ring, 6, 10, 1 << 20);
    assert_int_equal (json_array_size (json_object_get (r, "events")), 0);
    json_decref (r);
    r = s_get (ring, 1000, 10, 1 << 20);
    assert_int_equal (json_array_size (json_object_get (r, "events")), 0);
    json_decref (r);
    /* a gap in seq is refused */
    assert_int_equal (metrics_ring_push (ring, 9, "t.x", "{}", 2), UIS_ERR_SEQUENCE);
    metrics_ring_destroy (&ring);
    assert_null (ring);
}

/* The byte bound evicts old events, and events.get stops past max_bytes
 * (one event at least). */
static void
test_ring_bytes (void **state)
{
    (void)state;
    metrics_ring_t *ring = metrics_ring_new (100, 100);
    for (uint64_t seq = 1; seq <= 10; seq++)
        s_push (ring, seq, "ab"); /* 2 + 16 or 17 bytes each */
    assert_true (metrics_ring_count (ring) <= 5);
    assert_int_equal (metrics_ring_last_seq (ring), 10);
    assert_int_equal (
        metrics_ring_push (ring, 11, "t",
                           "{\"pad\":\""
                           "0123456789012345678901234567890123456789012345678901234567890"
                           "123456789012345678901234567890123456789"
                           "\"}",
                           110),
        UIS_ERR_TOO_LONG);
    json_t *r = s_get (ring, 0, 100, 1);
    assert_int_equal (json_array_size (json_object_get (r, "events")), 1);
    json_decref (r);
    /* an empty event object gets only the topic */
    metrics_ring_t *ring2 = metrics_ring_new (2, 1000);
    assert_int_equal (metrics_ring_push (ring2, 1, "e", "{ }", 3), 0);
    r = s_get (ring2, 0, 5, 1000);
    json_t *e = json_array_get (json_object_get (r, "events"), 0);
    assert_int_equal (json_object_size (e), 1);
    assert_string_equal (json_string_value (json_object_get (e, "topic")), "e");
    json_decref (r);
    metrics_ring_destroy (&ring2);
    metrics_ring_destroy (&ring);
}

/* Subscribe/unsubscribe messages counted per prefix. */
static void
test_subs_counting (void **state)
{
    (void)state;
    metrics_subs_t *subs = metrics_subs_new ();
    assert_int_equal (metrics_subs_update (subs, "\x01pdu", 4), 1);
    assert_int_equal (metrics_subs_update (subs, "\x01pdu", 4), 1);
    assert_int_equal (metrics_subs_update (subs, "\x01", 1), 1); /* everything */
    assert_int_equal (metrics_subs_update (subs, "\x01session.", 9), 1);
    assert_int_equal (metrics_subs_count (subs, "pdu"), 2);
    assert_int_equal (metrics_subs_count (subs, ""), 1);
    assert_int_equal (metrics_subs_matching (subs, "pdu"), 3);
    assert_int_equal (metrics_subs_matching (subs, "session.state"), 2);
    assert_int_equal (metrics_subs_matching (subs, "command.complete"), 1);
    json_t *j = metrics_subs_json (subs);
    assert_int_equal (json_integer_value (json_object_get (j, "pdu")), 2);
    assert_int_equal (json_integer_value (json_object_get (j, "")), 1);
    assert_int_equal (json_integer_value (json_object_get (j, "session.")), 1);
    json_decref (j);
    assert_int_equal (metrics_subs_update (subs, "\x00pdu", 4), 1);
    assert_int_equal (metrics_subs_update (subs, "\x00pdu", 4), 1);
    assert_int_equal (metrics_subs_count (subs, "pdu"), 0);
    /* never below zero; unknown prefixes and bad messages ignored */
    assert_int_equal (metrics_subs_update (subs, "\x00pdu", 4), 0);
    assert_int_equal (metrics_subs_count (subs, "pdu"), 0);
    assert_int_equal (metrics_subs_update (subs, "", 0), UIS_ERR_MALFORMED);
    assert_int_equal (metrics_subs_update (subs, "\x07x", 2), UIS_ERR_MALFORMED);
    j = metrics_subs_json (subs);
    assert_null (json_object_get (j, "pdu"));
    json_decref (j);
    /* an over-long prefix is not tracked; a non-UTF-8 one not reported */
    char big[METRICS_PREFIX_MAX + 2];
    memset (big, 'a', sizeof big);
    big[0] = 1;
    assert_int_equal (metrics_subs_update (subs, big, sizeof big), 0);
    assert_int_equal (metrics_subs_update (subs, "\x01\xff\xfe", 3), 1);
    j = metrics_subs_json (subs);
    assert_int_equal (json_object_size (j), 2);
    json_decref (j);
    metrics_subs_destroy (&subs);
    assert_null (subs);
}

/* Runs reactor rounds until sock has a message (bounded). */
static void
s_pump_until (rt_reactor_t *reactor, void *sock)
{
    for (int i = 0; i < 2000; i++) {
        zmq_pollitem_t item = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll (&item, 1, 0) == 1)
            return;
        assert_true (rt_reactor_run_once (reactor, 5) >= 0);
    }
    fail_msg ("no message within the bound");
}

/* Publisher end to end over inproc: XPUB events, subscription notices,
 * events.get through the API socket. */
static void
test_publisher (void **state)
{
    (void)state;
    metrics_config_t cfg = {"inproc://t-metrics-events", "inproc://t-metrics-api", 8, 0};
    int err = 0;
    metrics_t *m = metrics_new (&cfg, &err);
    assert_non_null (m);
    assert_int_equal (strlen (metrics_epoch (m)), 16);
    rt_reactor_t *reactor = rt_reactor_new ();
    assert_int_equal (metrics_attach (m, reactor), 0);

    /* a watcher of "pdu" learns 0 at once */
    metrics_client_t *client = metrics_client_new ("inproc://t-metrics-api");
    assert_non_null (client);
    assert_int_equal (metrics_client_watch (client, "pdu"), 0);
    s_pump_until (reactor, metrics_client_socket (client));
    rt_msg_t msg;
    assert_int_equal (rt_msg_recv (&msg, metrics_client_socket (client), ZMQ_DONTWAIT),
                      0);
    assert_true (metrics_client_on_msg (client, &msg));
    assert_int_equal (msg.env.aux, 0);
    rt_msg_close (&msg);
    assert_false (metrics_client_interested (client, "pdu"));

    /* a subscriber to "pdu": the watcher is told 1 */
    void *sub = rt_socket_new (ZMQ_SUB);
    assert_int_equal (zmq_connect (sub, "inproc://t-metrics-events"), 0);
    assert_int_equal (zmq_setsockopt (sub, ZMQ_SUBSCRIBE, "pdu", 3), 0);
    s_pump_until (reactor, metrics_client_socket (client));
    assert_int_equal (rt_msg_recv (&msg, metrics_client_socket (client), ZMQ_DONTWAIT),
                      0);
    assert_true (metrics_client_on_msg (client, &msg));
    rt_msg_close (&msg);
    assert_true (metrics_client_interested (client, "pdu"));
    assert_int_equal (metrics_subs_count (metrics_subs (m), "pdu"), 1);

    /* publish: two frames, seq from 1, epoch, ts in RFC 3339 UTC */
    assert_int_equal (metrics_publish (m, "pdu", "{\"opcode\":1}", 12), 0);
    assert_int_equal (metrics_publish (m, "daemon.state", "{\"state\":\"running\"}", 19),
                      0);
    assert_int_equal (metrics_publish (m, "bad topic", "{}", 2), UIS_ERR_INVALID_ARG);
    assert_int_equal (metrics_publish (m, "pdu", "[1]", 3), UIS_ERR_INVALID_ARG);
    char topic[32], body[512];
    int n = zmq_recv (sub, topic, sizeof topic, 0);
    assert_int_equal (n, 3);
    assert_memory_equal (topic, "pdu", 3);
    n = zmq_recv (sub, body, sizeof body - 1, 0);
    assert_true (n > 0);
    body[n] = 0;
    json_t *ev = json_loads (body, 0, NULL);
    assert_non_null (ev);
    assert_int_equal (json_integer_value (json_object_get (ev, "seq")), 1);
    assert_string_equal (json_string_value (json_object_get (ev, "epoch")),
                         metrics_epoch (m));
    const char *ts = json_string_value (json_object_get (ev, "ts"));
    assert_int_equal (strlen (ts), 24);
    assert_int_equal (ts[10], 'T');
    assert_int_equal (ts[23], 'Z');
    assert_int_equal (json_integer_value (json_object_get (ev, "opcode")), 1);
    json_decref (ev);
    /* daemon.state was filtered out for this subscriber */
    zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
    assert_int_equal (zmq_poll (&item, 1, 0), 0);
    assert_int_equal (metrics_published (m), 2);

    /* events.get through the API */
    void *api = rt_socket_new (ZMQ_DEALER);
    assert_int_equal (zmq_connect (api, "inproc://t-metrics-api"), 0);
    rt_msg_init (&msg, BUS_EVENTS_GET);
    msg.env.corr = 77;
    bus_events_get_t q = {1, 10, 0};
    assert_int_equal (rt_msg_set_body (&msg, &q, sizeof q), 0);
    assert_int_equal (rt_msg_send (&msg, api, 0), 0);
    s_pump_until (reactor, api);
    assert_int_equal (rt_msg_recv (&msg, api, ZMQ_DONTWAIT), 0);
    assert_int_equal (msg.env.type, BUS_REPLY);
    assert_int_equal (msg.env.corr, 77);
    assert_int_equal (msg.env.status, 0);
    json_t *res = bus_json_body (&msg);
    rt_msg_close (&msg);
    json_t *evs = json_object_get (res, "events");
    assert_int_equal (json_array_size (evs), 1);
    assert_string_equal (
        json_string_value (json_object_get (json_array_get (evs, 0), "topic")),
        "daemon.state");
    assert_int_equal (json_integer_value (json_object_get (res, "last_seq")), 2);
    json_decref (res);

    /* a publish through the client API lands in the ring as seq 3 */
    json_t *fields = json_pack ("{s:i}", "n", 5);
    assert_int_equal (metrics_client_publish (client, "command.complete", fields), 0);
    assert_int_equal (metrics_client_publish (client, "no spaces", fields),
                      UIS_ERR_INVALID_ARG);
    json_decref (fields);
    for (int i = 0; i < 100 && metrics_ring_last_seq (metrics_ring (m)) < 3; i++)
        rt_reactor_run_once (reactor, 5);
    assert_int_equal (metrics_ring_last_seq (metrics_ring (m)), 3);

    /* a table watcher gets {"subscribers": {prefix: count}} */
    rt_msg_init (&msg, BUS_EVENTS_WATCH);
    msg.env.flags = BUS_F_TABLE;
    assert_int_equal (rt_msg_send (&msg, api, 0), 0);
    s_pump_until (reactor, api);
    assert_int_equal (rt_msg_recv (&msg, api, ZMQ_DONTWAIT), 0);
    assert_int_equal (msg.env.type, BUS_EVENTS_TABLE);
    json_t *table = bus_json_body (&msg);
    rt_msg_close (&msg);
    assert_int_equal (json_integer_value (json_object_get (
                          json_object_get (table, "subscribers"), "pdu")),
                      1);
    json_decref (table);

    /* the subscriber leaves: the watcher is told 0 */
    rt_socket_destroy (&sub);
    s_pump_until (reactor, metrics_client_socket (client));
    assert_int_equal (rt_msg_recv (&msg, metrics_client_socket (client), ZMQ_DONTWAIT),
                      0);
    assert_true (metrics_client_on_msg (client, &msg));
    rt_msg_close (&msg);
    assert_false (metrics_client_interested (client, "pdu"));
    assert_int_equal (metrics_subs_count (metrics_subs (m), "pdu"), 0);
    s_pump_until (reactor, api);
    assert_int_equal (rt_msg_recv (&msg, api, ZMQ_DONTWAIT), 0);
    table = bus_json_body (&msg);
    rt_msg_close (&msg);
    assert_int_equal (json_object_size (json_object_get (table, "subscribers")), 0);
    json_decref (table);

    rt_socket_destroy (&api);
    metrics_client_destroy (&client);
    metrics_detach (m, reactor);
    rt_reactor_destroy (&reactor);
    metrics_destroy (&m);
    assert_null (m);
    assert_int_equal (rt_ctx_sockets (), 0);
}

/* A malformed API message (no envelope) is dropped, the next one served. */
static void
test_api_malformed (void **state)
{
    (void)state;
    metrics_config_t cfg = {"inproc://t-metrics-ev2", "inproc://t-metrics-api2", 0, 0};
    metrics_t *m = metrics_new (&cfg, NULL);
    assert_non_null (m);
    rt_reactor_t *reactor = rt_reactor_new ();
    assert_int_equal (metrics_attach (m, reactor), 0);
    void *api = rt_socket_new (ZMQ_DEALER);
    assert_int_equal (zmq_connect (api, "inproc://t-metrics-api2"), 0);
    assert_int_equal (zmq_send (api, "junk", 4, 0), 4);
    rt_msg_t msg;
    rt_msg_init (&msg, BUS_EVENT_PUBLISH);
    assert_int_equal (rt_msg_set_body (&msg, "no-nul-here", 11), 0);
    assert_int_equal (rt_msg_send (&msg, api, 0), 0);
    rt_msg_init (&msg, BUS_EVENT_PUBLISH);
    assert_int_equal (rt_msg_set_body (&msg, "ok\0{\"a\":1}", 10), 0);
    assert_int_equal (rt_msg_send (&msg, api, 0), 0);
    for (int i = 0; i < 200 && metrics_published (m) < 1; i++)
        rt_reactor_run_once (reactor, 5);
    assert_int_equal (metrics_published (m), 1);
    rt_socket_destroy (&api);
    metrics_detach (m, reactor);
    rt_reactor_destroy (&reactor);
    metrics_destroy (&m);
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
        cmocka_unit_test (test_ring_wrap_and_since), cmocka_unit_test (test_ring_bytes),
        cmocka_unit_test (test_subs_counting),       cmocka_unit_test (test_publisher),
        cmocka_unit_test (test_api_malformed),
    };
    return cmocka_run_group_tests_name ("metrics", tests, NULL, s_teardown);
}
