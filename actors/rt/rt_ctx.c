/* rt_ctx.c: the process-wide ZeroMQ context and counted sockets. */
#include "actors/rt/rt_ctx.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <zmq.h>

#include "proto/errors.h"

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static void *s_ctx;       /* guarded by s_lock */
static int s_max_sockets; /* guarded by s_lock; 0 = libzmq default */
static atomic_size_t s_nsockets;
static atomic_uint_fast64_t s_endpoint_seq;

/* Sets ZMQ_MAX_SOCKETS for the context that the next rt_ctx () creates. */
int
rt_ctx_set_max_sockets (int max)
{
    if (max < 1)
        return UIS_ERR_INVALID_ARG;
    int rc = 0;
    pthread_mutex_lock (&s_lock);
    if (s_ctx)
        rc = UIS_ERR_STATE;
    else
        s_max_sockets = max;
    pthread_mutex_unlock (&s_lock);
    return rc;
}

/* Returns the shared context, creating it under the lock on first use. */
void *
rt_ctx (void)
{
    pthread_mutex_lock (&s_lock);
    if (!s_ctx) {
        s_ctx = zmq_ctx_new ();
        if (s_ctx && s_max_sockets > 0
            && zmq_ctx_set (s_ctx, ZMQ_MAX_SOCKETS, s_max_sockets) != 0) {
            zmq_ctx_term (s_ctx);
            s_ctx = NULL;
        }
    }
    void *ctx = s_ctx;
    pthread_mutex_unlock (&s_lock);
    return ctx;
}

/* Creates a counted socket with linger 0; the caller owns it. */
void *
rt_socket_new (int type)
{
    void *ctx = rt_ctx ();
    if (!ctx)
        return NULL;
    void *socket = zmq_socket (ctx, type);
    if (!socket)
        return NULL;
    int linger = 0;
    if (zmq_setsockopt (socket, ZMQ_LINGER, &linger, sizeof linger) != 0) {
        int e = errno;
        zmq_close (socket);
        errno = e;
        return NULL;
    }
    atomic_fetch_add (&s_nsockets, 1);
    return socket;
}

/* Closes a counted socket and NULLs the caller's pointer. */
void
rt_socket_destroy (void **socket_p)
{
    if (!socket_p || !*socket_p)
        return;
    zmq_close (*socket_p);
    *socket_p = NULL;
    atomic_fetch_sub (&s_nsockets, 1);
}

/* Number of live counted sockets. */
size_t
rt_ctx_sockets (void)
{
    return atomic_load (&s_nsockets);
}

/* Terminates the context unless counted sockets are still open. */
int
rt_ctx_term (void)
{
    int rc = 0;
    pthread_mutex_lock (&s_lock);
    if (s_ctx) {
        if (atomic_load (&s_nsockets) > 0)
            rc = UIS_ERR_STATE;
        else {
            while (zmq_ctx_term (s_ctx) != 0 && errno == EINTR)
                ;
            s_ctx = NULL;
        }
    }
    pthread_mutex_unlock (&s_lock);
    return rc;
}

/* Formats a unique inproc endpoint name into buf. */
int
rt_ctx_endpoint (char *buf, size_t size, const char *prefix)
{
    if (!buf || !prefix)
        return UIS_ERR_INVALID_ARG;
    unsigned long long n = (unsigned long long)atomic_fetch_add (&s_endpoint_seq, 1);
    int len = snprintf (buf, size, "inproc://rt-%s-%llu", prefix, n);
    if (len < 0 || (size_t)len >= size)
        return UIS_ERR_BUFFER_TOO_SMALL;
    return 0;
}

/* Maps a libzmq errno value to a UIS_ERR_* code. */
int
rt_zmq_err (int errnum)
{
    switch (errnum) {
    case EAGAIN:
    case EINTR:
        return UIS_ERR_AGAIN;
    case ENOMEM:
        return UIS_ERR_NOMEM;
    case EINVAL:
    case EFAULT:
    case ENOTSOCK:
        return UIS_ERR_INVALID_ARG;
    default:
        return UIS_ERR_STATE;
    }
}
