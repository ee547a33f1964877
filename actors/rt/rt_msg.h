/* rt_msg.h: the message between actors (DESIGN.md "Messages between actors").
 *
 * On the wire (inproc only, so native byte order):
 *   frame 1      the envelope, exactly RT_ENV_SIZE (32) bytes; libzmq stores a
 *                frame this small inline, so it costs no malloc;
 *   frame 2      optional typed body (present iff RT_MSG_F_BODY is set);
 *   frames 3..n  0..RT_MSG_MAX_DATA data frames, moved, never copied.
 *
 * An rt_msg_t is a value (usually on the stack) that owns its body and data
 * frames until they are sent, taken out, or closed with rt_msg_close. Data
 * frames are zmq_msg_t: wrap a malloc'd buffer with rt_frame_wrap and libzmq
 * carries the same pointer through inproc, freeing it exactly once (on
 * whichever thread drops the last reference: the free function must be
 * thread-safe). No raw pointers travel in messages; an fd may, with
 * rt_msg_set_fd: the message then owns it and closes it if dropped. */
#ifndef UISCSI_ACTORS_RT_MSG_H
#define UISCSI_ACTORS_RT_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#define RT_ENV_SIZE     32
#define RT_MSG_MAX_DATA 16 /* hard bound on data frames per message */

/* Envelope flag bits owned by the runtime; bits 0..13 are free for actors. */
#define RT_MSG_F_BODY    0x8000u /* a body frame follows the envelope */
#define RT_MSG_F_FD      0x4000u /* aux holds an fd owned by the message */
#define RT_MSG_F_RT_MASK 0xc000u

/* Message types from here up are reserved for the runtime (TERM, handshakes). */
#define RT_MSG_TYPE_RESERVED 0xff00u

/* The fixed envelope: every field is free for the actors' protocol except
 * the runtime flag bits and, with RT_MSG_F_FD, aux. */
typedef struct {
    uint16_t type;    /* message type, < RT_MSG_TYPE_RESERVED for actors */
    uint16_t flags;   /* actor flags in bits 0..13, runtime flags above */
    uint32_t session; /* session id */
    uint64_t corr;    /* correlation id (RPC request, task handle) */
    uint32_t itt;     /* initiator task tag */
    int32_t status;   /* 0 or a negative UIS_ERR_* code, or a SCSI status */
    uint64_t aux;     /* free: a length, an offset, an LUN; or the fd */
} rt_env_t;

/* A received or outgoing message. Fields are public for reading; change the
 * frames only through the functions below. */
typedef struct {
    rt_env_t env;
    bool has_body;
    size_t ndata;
    zmq_msg_t body;
    zmq_msg_t data[RT_MSG_MAX_DATA];
} rt_msg_t;

/* Called by rt_msg_drain for each message; msg stays owned by the caller of
 * fn (fn may move frames out). Return 0 to go on, < 0 to stop draining. */
typedef int (rt_msg_fn) (rt_msg_t *msg, void *arg);

/* Makes self an empty message of the given type (all other envelope fields 0,
 * no body, no data). Call before any other use. */
void rt_msg_init (rt_msg_t *self, uint16_t type);

/* Frees the body and data frames (a wrapped buffer's free function runs when
 * its last reference goes), closes an fd the message owns, and leaves self
 * empty with the envelope kept. Safe to call twice. */
void rt_msg_close (rt_msg_t *self);

/* Sets the body to a copy of size bytes at body (control messages are small).
 * Replaces an earlier body. Returns 0 or UIS_ERR_NOMEM. */
int rt_msg_set_body (rt_msg_t *self, const void *body, size_t size);

/* Returns the body and its size in *size_p (may be NULL); NULL if none. The
 * pointer is valid while self holds the body. */
const void *rt_msg_body (const rt_msg_t *self, size_t *size_p);

/* Returns the body if it is exactly size bytes (a typed body), else NULL: the
 * check to make before reading a struct out of it. */
const void *rt_msg_body_as (const rt_msg_t *self, size_t size);

/* Moves *frame into the message as the next data frame; *frame is left empty
 * (initialised, size 0). Returns 0 or UIS_ERR_TOO_LONG when
 * RT_MSG_MAX_DATA frames are held (then *frame is untouched). */
int rt_msg_add_frame (rt_msg_t *self, zmq_msg_t *frame);

/* Wraps buf (size bytes) as the next data frame without copying: libzmq owns
 * buf from then on and calls ffn (buf, hint) once when done. On failure the
 * caller still owns buf. Returns 0, UIS_ERR_TOO_LONG or UIS_ERR_NOMEM. */
int rt_msg_add_buffer (rt_msg_t *self, void *buf, size_t size, zmq_free_fn *ffn,
                       void *hint);

/* Returns data frame index's bytes and size (size_p may be NULL); NULL if
 * index >= ndata. Valid while self holds the frame. */
void *rt_msg_data (rt_msg_t *self, size_t index, size_t *size_p);

/* Moves data frame index out into *dest (which must be initialised, e.g. by
 * zmq_msg_init, and is overwritten); the slot in self is left as an empty
 * frame, so indexes do not shift. Returns 0 or UIS_ERR_INVALID_ARG. */
int rt_msg_take_frame (rt_msg_t *self, size_t index, zmq_msg_t *dest);

/* Moves ownership of fd into the message: it travels in env.aux with
 * RT_MSG_F_FD, and is closed if the message is dropped. Returns 0, or
 * UIS_ERR_INVALID_ARG for fd < 0 or a message that already holds one. */
int rt_msg_set_fd (rt_msg_t *self, int fd);

/* Takes the fd out of the message (the caller owns it); -1 if none. */
int rt_msg_take_fd (rt_msg_t *self);

/* Sends envelope, body and data frames as one multipart message (ZMQ_SNDMORE
 * chained; flags is 0 or ZMQ_DONTWAIT). On success the frames and the fd
 * have moved to the receiver and self is left empty (envelope kept). If the
 * first frame cannot be sent, nothing was sent and self is unchanged (the
 * caller still owns everything): UIS_ERR_AGAIN when the peer's queue is full
 * with ZMQ_DONTWAIT, another UIS_ERR_* code otherwise. If a later frame fails
 * (the peer went away mid-message) the rest are dropped and an error is
 * returned. */
int rt_msg_send (rt_msg_t *self, void *socket, int flags);

/* Receives one message into self (overwritten: close it first if it held
 * frames). flags is 0 or ZMQ_DONTWAIT. Returns 0; UIS_ERR_AGAIN if none is
 * ready with ZMQ_DONTWAIT; UIS_ERR_MALFORMED if the envelope is not
 * RT_ENV_SIZE bytes or the body flag disagrees with the frames;
 * UIS_ERR_TOO_LONG for more than RT_MSG_MAX_DATA data frames. A malformed
 * message is consumed whole, its frames freed and self left empty; an fd it
 * claims is not closed (a malformed message's aux is not trusted). */
int rt_msg_recv (rt_msg_t *self, void *socket, int flags);

/* Sends an envelope-only message of the given type and status. */
int rt_msg_signal (void *socket, uint16_t type, int32_t status, int flags);

/* The drain helper every socket handler should use: receives without blocking
 * and calls fn for each message until the socket has none left, max messages
 * were handled (a bound so one busy peer cannot starve the others; zmq_poll
 * is level-triggered, so the rest come next round), or fn returns < 0. The
 * message is closed after fn returns. Malformed messages are dropped and
 * counted in *malformed (may be NULL). Returns 0, fn's negative value, or a
 * UIS_ERR_* code from the socket (never UIS_ERR_AGAIN). */
int rt_msg_drain (void *socket, size_t max, rt_msg_fn *fn, void *arg, size_t *malformed);

/* Initialises frame to carry buf (size bytes) without a copy: ownership of
 * buf moves to libzmq, which calls ffn (buf, hint) exactly once when the last
 * reference is closed. On failure (UIS_ERR_NOMEM, or UIS_ERR_INVALID_ARG for
 * a NULL ffn or a NULL buf with size > 0) the caller keeps buf and frame is
 * not initialised. */
int rt_frame_wrap (zmq_msg_t *frame, void *buf, size_t size, zmq_free_fn *ffn,
                   void *hint);

#endif
