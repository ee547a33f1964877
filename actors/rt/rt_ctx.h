/* rt_ctx.h: the one ZeroMQ context of the process, and the sockets made in it.
 *
 * inproc:// endpoints only connect sockets of the same context, so every actor,
 * the RPC front end and the metrics publisher take their sockets from here.
 * The context is created on first use (thread-safe). Sockets made with
 * rt_socket_new have ZMQ_LINGER 0 and are counted, so rt_ctx_term can refuse
 * to block on a socket someone forgot to close, and tests can check that no
 * socket leaked. */
#ifndef UISCSI_ACTORS_RT_CTX_H
#define UISCSI_ACTORS_RT_CTX_H

#include <stddef.h>

/* Sets ZMQ_MAX_SOCKETS for the context to be created (default: libzmq's
 * 1023; each socket also costs one fd). Returns 0, UIS_ERR_INVALID_ARG for
 * max < 1, or UIS_ERR_STATE if the context already exists. */
int rt_ctx_set_max_sockets (int max);

/* Returns the shared context, creating it on first call; NULL if libzmq
 * cannot create it. The context stays owned by this module. */
void *rt_ctx (void);

/* Creates a socket of the given ZMQ type in the shared context with
 * ZMQ_LINGER 0. The caller owns it and closes it with rt_socket_destroy (never
 * zmq_close). Returns NULL on failure (errno from libzmq). */
void *rt_socket_new (int type);

/* Closes a socket made by rt_socket_new and sets *socket_p to NULL. Messages
 * still queued on it are dropped and their frames freed by libzmq. A NULL
 * *socket_p is a no-op. */
void rt_socket_destroy (void **socket_p);

/* Number of sockets made by rt_socket_new and not yet destroyed. */
size_t rt_ctx_sockets (void);

/* Terminates the shared context. Returns 0 (also when none exists) or
 * UIS_ERR_STATE, doing nothing, while rt_ctx_sockets () > 0 (zmq_ctx_term
 * would block). A later rt_ctx () creates a new context. */
int rt_ctx_term (void);

/* Writes a process-unique inproc endpoint "inproc://rt-<prefix>-<n>" to buf.
 * Returns 0 or UIS_ERR_BUFFER_TOO_SMALL. prefix is program text, not input. */
int rt_ctx_endpoint (char *buf, size_t size, const char *prefix);

/* Maps a libzmq errno to a UIS_ERR_* code: EAGAIN/EINTR -> AGAIN,
 * ENOMEM -> NOMEM, ETERM/EFSM -> STATE, EINVAL/EFAULT/ENOTSOCK ->
 * INVALID_ARG, anything else -> STATE. */
int rt_zmq_err (int errnum);

#endif
