/* test_io_harness.h: a live io actor (actors/io.h) on its own thread and a
 * DEALER that speaks actors/engine.h to it, for test_io.c and
 * test_io_tgt.c. Every wait is bounded. Include after cmocka.h. */
#ifndef UISCSI_TEST_IO_HARNESS_H
#define UISCSI_TEST_IO_HARNESS_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "actors/bus.h"
#include "actors/engine.h"
#include "actors/io.h"
#include "actors/rt/rt_actor.h"
#include "actors/rt/rt_ctx.h"
#include "actors/rt/rt_msg.h"
#include "proto/errors.h"

#define H_WAIT_MS 20000

typedef struct {
    rt_actor_t *actor;
    void *dealer;
    char endpoint[64];
    uint64_t corr;
} h_io_t;

/* Starts an io actor with index k (and no metrics) and connects a DEALER. */
static inline void
h_start (h_io_t *h, unsigned k)
{
    memset (h, 0, sizeof *h);
    assert_int_equal (io_endpoint (k, h->endpoint, sizeof h->endpoint), 0);
    io_config_t cfg = {k, NULL, NULL};
    int err = 0;
    h->actor = rt_actor_spawn (NULL, io_actor, &cfg, &err);
    assert_non_null (h->actor);
    h->dealer = rt_socket_new (ZMQ_DEALER);
    assert_non_null (h->dealer);
    assert_int_equal (zmq_connect (h->dealer, h->endpoint), 0);
}

/* Stops the actor (bounded) and closes the DEALER; no socket may leak. */
static inline void
h_stop (h_io_t *h)
{
    rt_socket_destroy (&h->dealer);
    assert_int_equal (rt_actor_destroy (&h->actor), 0);
    assert_int_equal (rt_ctx_sockets (), 0);
}

/* Sends a message with an optional JSON body (borrowed), raw body, data
 * frame (copied) or fd. Returns the correlation id used. */
static inline uint64_t
h_send (h_io_t *h, uint16_t type, uint32_t session, uint64_t aux, const json_t *json,
        const void *body, size_t body_len, const void *data, size_t data_len, int fd)
{
    rt_msg_t msg;
    rt_msg_init (&msg, type);
    msg.env.session = session;
    msg.env.corr = ++h->corr;
    msg.env.aux = aux;
    if (json)
        assert_int_equal (bus_set_json_body (&msg, json), 0);
    else if (body)
        assert_int_equal (rt_msg_set_body (&msg, body, body_len), 0);
    if (data) {
        zmq_msg_t f;
        assert_int_equal (zmq_msg_init_size (&f, data_len), 0);
        memcpy (zmq_msg_data (&f), data, data_len);
        assert_int_equal (rt_msg_add_frame (&msg, &f), 0);
        zmq_msg_close (&f);
    }
    if (fd >= 0)
        assert_int_equal (rt_msg_set_fd (&msg, fd), 0);
    assert_int_equal (rt_msg_send (&msg, h->dealer, 0), 0);
    rt_msg_close (&msg);
    return h->corr;
}

/* Receives the next message within timeout_ms into *msg; 0 or -1. */
static inline int
h_recv (h_io_t *h, rt_msg_t *msg, long timeout_ms)
{
    zmq_pollitem_t item = {h->dealer, 0, ZMQ_POLLIN, 0};
    if (zmq_poll (&item, 1, timeout_ms) <= 0)
        return -1;
    return rt_msg_recv (msg, h->dealer, ZMQ_DONTWAIT) == 0 ? 0 : -1;
}

/* Waits for the reply with corr (other messages are dropped, counted in
 * *others when not NULL). Fails the test on timeout. */
static inline void
h_wait (h_io_t *h, uint64_t corr, rt_msg_t *msg)
{
    for (int n = 0; n < 100000; n++) {
        assert_int_equal (h_recv (h, msg, H_WAIT_MS), 0);
        if (msg->env.corr == corr)
            return;
        rt_msg_close (msg);
    }
    fail_msg ("no reply for corr %llu", (unsigned long long)corr);
}

/* A call answered with ENG_REPLY: returns the JSON body (new reference)
 * and the status in *status_p. */
static inline json_t *
h_call (h_io_t *h, uint16_t type, uint32_t session, uint64_t aux, const json_t *json,
        const void *body, size_t body_len, int32_t *status_p)
{
    uint64_t corr = h_send (h, type, session, aux, json, body, body_len, NULL, 0, -1);
    rt_msg_t msg;
    h_wait (h, corr, &msg);
    assert_int_equal (msg.env.type, ENG_REPLY);
    *status_p = msg.env.status;
    json_t *v = bus_json_body (&msg);
    rt_msg_close (&msg);
    assert_non_null (v);
    return v;
}

/* The error name of an error object (data.name), "" when none. */
static inline const char *
h_err_name (const json_t *error)
{
    const char *n =
        json_string_value (json_object_get (json_object_get (error, "data"), "name"));
    return n ? n : "";
}

/* Fills an eng_cmd_t. */
static inline void
h_cmd (eng_cmd_t *c, uint64_t lun, const uint8_t *cdb, size_t cdb_len, uint32_t din,
       uint32_t dout, uint32_t timeout_ms)
{
    memset (c, 0, sizeof *c);
    if (lun < 256)
        c->lun[1] = (uint8_t)lun;
    else {
        c->lun[0] = (uint8_t)(0x40 | (lun >> 8));
        c->lun[1] = (uint8_t)lun;
    }
    memcpy (c->cdb, cdb, cdb_len);
    c->cdb_len = (uint16_t)cdb_len;
    c->attr = 1;
    c->data_in_length = din;
    c->data_out_length = dout;
    c->timeout_ms = timeout_ms;
}

/* Result of one command. */
typedef struct {
    int32_t status;  /* envelope status: 0 or an RPC error code */
    eng_done_t done; /* when status == 0 */
    json_t *error;   /* when status < 0 */
    uint8_t *data;   /* Data-In (malloc'd copy), done.bytes of it */
    size_t data_len;
} h_result_t;

/* Turns an ENG_CMD_DONE into *r (msg closed). */
static inline void
h_result (rt_msg_t *msg, h_result_t *r)
{
    memset (r, 0, sizeof *r);
    assert_int_equal (msg->env.type, ENG_CMD_DONE);
    r->status = msg->env.status;
    if (r->status == 0) {
        const eng_done_t *d = rt_msg_body_as (msg, sizeof (eng_done_t));
        assert_non_null (d);
        r->done = *d;
        if (msg->ndata > 0) {
            size_t n;
            void *p = rt_msg_data (msg, 0, &n);
            assert_true (n >= d->bytes);
            r->data = malloc (n ? n : 1);
            memcpy (r->data, p, n);
            r->data_len = d->bytes;
        }
    }
    else
        r->error = bus_json_body (msg);
    rt_msg_close (msg);
}

static inline void
h_result_free (h_result_t *r)
{
    free (r->data);
    json_decref (r->error);
    memset (r, 0, sizeof *r);
}

/* Runs one command and waits for its completion. */
static inline void
h_exec (h_io_t *h, uint32_t session, const eng_cmd_t *c, const void *dout, h_result_t *r)
{
    uint64_t corr =
        h_send (h, ENG_CMD, session, 0, NULL, c, sizeof *c, dout, c->data_out_length, -1);
    rt_msg_t msg;
    h_wait (h, corr, &msg);
    h_result (&msg, r);
}

static inline uint64_t
h_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

#endif
