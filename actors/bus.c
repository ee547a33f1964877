/* bus.c: rt_msg_t through ROUTER sockets, and JSON bodies. */
#include "actors/bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "actors/rt/rt_ctx.h"
#include "proto/errors.h"

/* Receives routing id then the message. */
int
bus_router_recv (void *router, zmq_msg_t *id, rt_msg_t *msg)
{
    rt_msg_init (msg, 0);
    if (zmq_msg_recv (id, router, ZMQ_DONTWAIT) < 0)
        return rt_zmq_err (errno);
    if (!zmq_msg_more (id))
        return UIS_ERR_MALFORMED; /* a routing id with nothing after it */
    return rt_msg_recv (msg, router, ZMQ_DONTWAIT);
}

/* Sends routing id then the message. */
int
bus_router_send (void *router, const void *id, size_t id_size, rt_msg_t *msg)
{
    if (zmq_send (router, id, id_size, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
        int rc = rt_zmq_err (errno);
        rt_msg_close (msg);
        return rc;
    }
    return rt_msg_send (msg, router, ZMQ_DONTWAIT);
}

/* Sets a JSON text body. */
int
bus_set_json_body (rt_msg_t *msg, const json_t *value)
{
    char *text = json_dumps (value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text)
        return UIS_ERR_NOMEM;
    int rc = rt_msg_set_body (msg, text, strlen (text));
    free (text);
    return rc;
}

/* Builds a BUS_REPLY. */
int
bus_reply_init (rt_msg_t *msg, uint64_t corr, int32_t status, const json_t *value)
{
    rt_msg_init (msg, BUS_REPLY);
    msg->env.corr = corr;
    msg->env.status = status;
    return value ? bus_set_json_body (msg, value) : 0;
}

/* Parses a JSON body. */
json_t *
bus_json_body (const rt_msg_t *msg)
{
    size_t size;
    const void *body = rt_msg_body (msg, &size);
    if (!body)
        return NULL;
    return json_loadb (body, size, JSON_DECODE_ANY, NULL);
}
