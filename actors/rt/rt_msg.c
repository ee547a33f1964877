/* rt_msg.c: the envelope + body + data frames message between actors. */
#include "actors/rt/rt_msg.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "actors/rt/rt_ctx.h"
#include "proto/errors.h"

/* The envelope goes on the wire as the struct's bytes (inproc, same process):
 * the layout must have no padding. */
_Static_assert(sizeof (rt_env_t) == RT_ENV_SIZE, "envelope must be 32 bytes");
_Static_assert(offsetof (rt_env_t, corr) == 8, "envelope layout");
_Static_assert(offsetof (rt_env_t, itt) == 16, "envelope layout");
_Static_assert(offsetof (rt_env_t, aux) == 24, "envelope layout");

/* Makes self an empty message of the given type. */
void
rt_msg_init (rt_msg_t *self, uint16_t type)
{
    memset (&self->env, 0, sizeof self->env);
    self->env.type = type;
    self->has_body = false;
    self->ndata = 0;
}

/* Frees the frames and an owned fd; keeps the envelope minus runtime flags. */
void
rt_msg_close (rt_msg_t *self)
{
    if (self->has_body)
        zmq_msg_close (&self->body);
    self->has_body = false;
    for (size_t i = 0; i < self->ndata; i++)
        zmq_msg_close (&self->data[i]);
    self->ndata = 0;
    if ((self->env.flags & RT_MSG_F_FD) && self->env.aux <= INT_MAX)
        close ((int)self->env.aux);
    self->env.flags &= (uint16_t)~RT_MSG_F_RT_MASK;
}

/* Replaces the body with a copy of the given bytes. */
int
rt_msg_set_body (rt_msg_t *self, const void *body, size_t size)
{
    zmq_msg_t frame;
    if (zmq_msg_init_size (&frame, size) != 0)
        return UIS_ERR_NOMEM;
    if (size > 0)
        memcpy (zmq_msg_data (&frame), body, size);
    if (self->has_body)
        zmq_msg_close (&self->body);
    zmq_msg_init (&self->body);
    zmq_msg_move (&self->body, &frame);
    zmq_msg_close (&frame);
    self->has_body = true;
    return 0;
}

/* Returns the body bytes (borrowed) or NULL. */
const void *
rt_msg_body (const rt_msg_t *self, size_t *size_p)
{
    if (!self->has_body) {
        if (size_p)
            *size_p = 0;
        return NULL;
    }
    /* zmq_msg_data/size take a non-const pointer but do not modify. */
    zmq_msg_t *body = (zmq_msg_t *)&self->body;
    if (size_p)
        *size_p = zmq_msg_size (body);
    return zmq_msg_data (body);
}

/* Returns the body only if it has exactly the expected size. */
const void *
rt_msg_body_as (const rt_msg_t *self, size_t size)
{
    size_t have;
    const void *body = rt_msg_body (self, &have);
    return body && have == size ? body : NULL;
}

/* Moves a frame into the next data slot. */
int
rt_msg_add_frame (rt_msg_t *self, zmq_msg_t *frame)
{
    if (self->ndata >= RT_MSG_MAX_DATA)
        return UIS_ERR_TOO_LONG;
    zmq_msg_t *slot = &self->data[self->ndata];
    zmq_msg_init (slot);
    zmq_msg_move (slot, frame);
    self->ndata++;
    return 0;
}

/* Wraps a caller buffer as the next data frame (ownership moves on success). */
int
rt_msg_add_buffer (rt_msg_t *self, void *buf, size_t size, zmq_free_fn *ffn, void *hint)
{
    if (self->ndata >= RT_MSG_MAX_DATA)
        return UIS_ERR_TOO_LONG;
    int rc = rt_frame_wrap (&self->data[self->ndata], buf, size, ffn, hint);
    if (rc == 0)
        self->ndata++;
    return rc;
}

/* Returns a data frame's bytes (borrowed) or NULL. */
void *
rt_msg_data (rt_msg_t *self, size_t index, size_t *size_p)
{
    if (index >= self->ndata) {
        if (size_p)
            *size_p = 0;
        return NULL;
    }
    if (size_p)
        *size_p = zmq_msg_size (&self->data[index]);
    return zmq_msg_data (&self->data[index]);
}

/* Moves a data frame out to the caller; the slot becomes an empty frame. */
int
rt_msg_take_frame (rt_msg_t *self, size_t index, zmq_msg_t *dest)
{
    if (index >= self->ndata || !dest)
        return UIS_ERR_INVALID_ARG;
    return zmq_msg_move (dest, &self->data[index]) == 0 ? 0 : UIS_ERR_INVALID_ARG;
}

/* Gives the message ownership of an fd. */
int
rt_msg_set_fd (rt_msg_t *self, int fd)
{
    if (fd < 0 || (self->env.flags & RT_MSG_F_FD))
        return UIS_ERR_INVALID_ARG;
    self->env.aux = (uint64_t)fd;
    self->env.flags |= RT_MSG_F_FD;
    return 0;
}

/* Takes the fd out of the message; the caller owns it. */
int
rt_msg_take_fd (rt_msg_t *self)
{
    if (!(self->env.flags & RT_MSG_F_FD) || self->env.aux > INT_MAX)
        return -1;
    self->env.flags &= (uint16_t)~RT_MSG_F_FD;
    return (int)self->env.aux;
}

/* Sends the message as one multipart zmq message; frames move on success. */
int
rt_msg_send (rt_msg_t *self, void *socket, int flags)
{
    flags &= ZMQ_DONTWAIT;
    rt_env_t env = self->env;
    if (self->has_body)
        env.flags |= RT_MSG_F_BODY;
    else
        env.flags &= (uint16_t)~RT_MSG_F_BODY;

    zmq_msg_t frame;
    if (zmq_msg_init_size (&frame, RT_ENV_SIZE) != 0)
        return UIS_ERR_NOMEM;
    memcpy (zmq_msg_data (&frame), &env, RT_ENV_SIZE);
    bool more = self->has_body || self->ndata > 0;
    if (zmq_msg_send (&frame, socket, flags | (more ? ZMQ_SNDMORE : 0)) < 0) {
        int e = errno;
        zmq_msg_close (&frame);
        return rt_zmq_err (e);
    }
    /* The first frame is queued; libzmq accepts the rest of a message
     * unless the peer has gone away. */
    int rc = 0;
    if (self->has_body) {
        int more_flag = self->ndata > 0 ? ZMQ_SNDMORE : 0;
        if (zmq_msg_send (&self->body, socket, flags | more_flag) < 0)
            rc = rt_zmq_err (errno);
    }
    for (size_t i = 0; rc == 0 && i < self->ndata; i++) {
        int more_flag = i + 1 < self->ndata ? ZMQ_SNDMORE : 0;
        if (zmq_msg_send (&self->data[i], socket, flags | more_flag) < 0)
            rc = rt_zmq_err (errno);
    }
    if (rc == 0)
        self->env.flags &= (uint16_t)~RT_MSG_F_FD; /* the receiver owns it */
    /* Sent frames are empty now; unsent ones (after a failure) are dropped. */
    rt_msg_close (self);
    return rc;
}

/* Receives and frees the remaining parts of a multipart message. libzmq
 * delivers a multipart message whole, so the parts are already queued. */
static void
s_drop_rest (void *socket)
{
    bool more = true;
    while (more) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, socket, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&frame);
            return;
        }
        more = zmq_msg_more (&frame);
        zmq_msg_close (&frame);
    }
}

/* Receives one message; malformed ones are consumed whole and reported. */
int
rt_msg_recv (rt_msg_t *self, void *socket, int flags)
{
    rt_msg_init (self, 0);
    zmq_msg_t frame;
    zmq_msg_init (&frame);
    if (zmq_msg_recv (&frame, socket, flags & ZMQ_DONTWAIT) < 0) {
        int e = errno;
        zmq_msg_close (&frame);
        return rt_zmq_err (e);
    }
    bool more = zmq_msg_more (&frame);
    if (zmq_msg_size (&frame) != RT_ENV_SIZE) {
        zmq_msg_close (&frame);
        if (more)
            s_drop_rest (socket);
        return UIS_ERR_MALFORMED;
    }
    memcpy (&self->env, zmq_msg_data (&frame), RT_ENV_SIZE);
    zmq_msg_close (&frame);

    int rc = 0;
    if (self->env.flags & RT_MSG_F_BODY) {
        if (!more)
            rc = UIS_ERR_MALFORMED;
        else {
            zmq_msg_init (&self->body);
            self->has_body = true;
            if (zmq_msg_recv (&self->body, socket, ZMQ_DONTWAIT) < 0) {
                rc = rt_zmq_err (errno);
                more = false;
            }
            else
                more = zmq_msg_more (&self->body);
        }
    }
    while (rc == 0 && more) {
        if (self->ndata >= RT_MSG_MAX_DATA) {
            rc = UIS_ERR_TOO_LONG;
            break;
        }
        zmq_msg_t *slot = &self->data[self->ndata];
        zmq_msg_init (slot);
        self->ndata++;
        if (zmq_msg_recv (slot, socket, ZMQ_DONTWAIT) < 0) {
            rc = rt_zmq_err (errno);
            more = false;
        }
        else
            more = zmq_msg_more (slot);
    }
    if (rc != 0) {
        if (more)
            s_drop_rest (socket);
        self->env.flags &= (uint16_t)~RT_MSG_F_FD; /* aux not trusted */
        rt_msg_close (self);
    }
    return rc;
}

/* Sends an envelope-only message. */
int
rt_msg_signal (void *socket, uint16_t type, int32_t status, int flags)
{
    rt_msg_t msg;
    rt_msg_init (&msg, type);
    msg.env.status = status;
    return rt_msg_send (&msg, socket, flags);
}

/* Receives and handles messages without blocking, up to max. */
int
rt_msg_drain (void *socket, size_t max, rt_msg_fn *fn, void *arg, size_t *malformed)
{
    for (size_t n = 0; n < max; n++) {
        rt_msg_t msg;
        int rc = rt_msg_recv (&msg, socket, ZMQ_DONTWAIT);
        if (rc == UIS_ERR_AGAIN)
            return 0;
        if (rc == UIS_ERR_MALFORMED || rc == UIS_ERR_TOO_LONG) {
            if (malformed)
                (*malformed)++;
            continue;
        }
        if (rc < 0)
            return rc;
        rc = fn (&msg, arg);
        rt_msg_close (&msg);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Hands buf to libzmq as a frame without copying. */
int
rt_frame_wrap (zmq_msg_t *frame, void *buf, size_t size, zmq_free_fn *ffn, void *hint)
{
    if (!frame || !ffn || (!buf && size > 0))
        return UIS_ERR_INVALID_ARG;
    if (zmq_msg_init_data (frame, buf, size, ffn, hint) != 0)
        return UIS_ERR_NOMEM;
    return 0;
}
