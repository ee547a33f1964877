/* conn.h: one iSCSI TCP connection of the io actor (DESIGN.md "conn"): the
 * non-blocking fd, the receive framer (proto/framer.h, pull API, zero copy
 * into caller buffers) and a small transmit batch written with writev.
 *
 * Transmit: the owner adds whole PDUs (header built here with
 * pdu_header_build, the data segment borrowed as a slice, pad and data
 * digest from pdu_data_trailer) up to CONN_TX_BATCH PDUs or CONN_TX_BYTES
 * bytes, then flushes. Nothing is queued beyond the batch: the owner pulls
 * the next PDU from its engine only when the batch is empty, so a priority
 * PDU never waits behind more than one batch of bulk Data-Out. Data slices
 * are borrowed until the batch is fully written (conn_tx_flush returns 1) or
 * the connection is closed.
 *
 * Receive: conn_rx reads straight into the framer's buffers, or into the
 * buffer the owner's header hook returns (the Data-In destination), until
 * EAGAIN or a byte budget, and calls the owner for each whole PDU.
 *
 * Nothing here allocates per PDU: the header buffers and the iovec array
 * are part of the conn, the framer reuses its buffer. */
#ifndef UISCSI_ACTORS_CONN_H
#define UISCSI_ACTORS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/framer.h"
#include "proto/pdu.h"
#include "proto/portal.h"

#define CONN_TX_BATCH 8          /* PDUs in one writev batch */
#define CONN_TX_BYTES (1u << 20) /* a batch closes once it holds this much */

/* conn_rx result beyond 0 and the UIS_ERR_* codes: the peer closed the
 * stream at a PDU boundary. */
#define CONN_EOF 1

typedef struct conn conn_t;

/* Receive hooks. on_header runs at FRAMER_HEADER and may set *buf / *cap
 * to where the data segment must go (zero copy), or leave them NULL / 0.
 * on_pdu runs for each whole PDU (frame valid during the call only); a
 * negative return stops conn_rx with that value. */
typedef struct conn_rx_ops {
    void (*on_header) (void *arg, const framer_frame_t *frame, uint8_t **buf,
                       size_t *cap);
    int (*on_pdu) (void *arg, const framer_frame_t *frame);
} conn_rx_ops_t;

/* Creates an unconnected conn whose framer accepts data segments up to
 * max_recv_dsl bytes. NULL when out of memory. The caller owns it. */
conn_t *conn_new (uint32_t max_recv_dsl);

/* Closes the fd, frees the framer and the conn, NULLs *self_p. NULL-safe. */
void conn_destroy (conn_t **self_p);

/* Starts a non-blocking TCP connect (IPv4 or IPv6, TCP_NODELAY) to portal.
 * The host is resolved with getaddrinfo (an IP literal costs no lookup; a
 * name may block on DNS). Returns 0 when the connect is under way or done
 * (poll the fd for POLLOUT, then conn_connect_check), or a negative code
 * with conn_errno set (UIS_ERR_STATE when a socket is already open). */
int conn_connect (conn_t *self, const uis_portal_t *portal);

/* Adopts an already connected stream socket (ownership moves in; made
 * non-blocking). For tests and for fds passed in messages. */
int conn_adopt (conn_t *self, int fd);

/* After POLLOUT on a connecting fd: 0 when connected, else UIS_ERR_STATE
 * with conn_errno set from SO_ERROR. */
int conn_connect_check (conn_t *self);

/* The fd, or -1 when closed. */
int conn_fd (const conn_t *self);

/* errno of the last failed system call and its name ("connect", "read",
 * "write"). */
int conn_errno (const conn_t *self);
const char *conn_errop (const conn_t *self);

/* Closes the fd, drops the transmit batch (borrowed slices are released)
 * and resets the framer (settings kept: set them again for a new login). */
void conn_close (conn_t *self);

/* Digest settings for both directions (NULL: none). Applies to PDUs added
 * from now on and to received PDUs not yet begun. */
void conn_set_digests (conn_t *self, const pdu_digest_cfg_t *dig);

/* Our MaxRecvDataSegmentLength for received PDUs. */
void conn_set_max_recv_dsl (conn_t *self, uint32_t max_recv_dsl);

/* The framer (for tests and metrics). */
framer_t *conn_framer (conn_t *self);

/* ---- transmit ------------------------------------------------------------ */

/* true when a batch is waiting to be (fully) written. */
bool conn_tx_pending (const conn_t *self);

/* true when one more PDU may join the batch (not started writing, below
 * CONN_TX_BATCH and CONN_TX_BYTES). */
bool conn_tx_room (const conn_t *self);

/* Adds a PDU to the batch: the header (BHS + AHS + header digest) is built
 * now into the conn; data (len bytes, borrowed) must stay valid until the
 * batch is written or dropped; pdu->data_segment_length must equal len.
 * Returns 0, UIS_ERR_STATE when there is no room, or a pdu_header_build
 * error. *bhs_p (may be NULL) gets the built 48-byte BHS (valid until the
 * batch is written). */
int conn_tx_add (conn_t *self, const pdu_t *pdu, const pdu_ahs_t *ahs, const void *data,
                 size_t len, const uint8_t **bhs_p);

/* Writes the batch with writev until done or EAGAIN. Returns 1 when the
 * batch is fully written (the batch is then empty and slices released), 0
 * when some is left (poll for POLLOUT), or UIS_ERR_STATE on a write error
 * (conn_errno set). Bytes written are added to *bytes_p (may be NULL). */
int conn_tx_flush (conn_t *self, uint64_t *bytes_p);

/* ---- receive ------------------------------------------------------------- */

/* Reads until EAGAIN or about max_bytes, feeding the framer and calling
 * ops. Returns 0 (would block or budget used: poll again), CONN_EOF (clean
 * end of stream), UIS_ERR_TRUNCATED (stream cut inside a PDU), a framer
 * error (UIS_ERR_HEADER_DIGEST, UIS_ERR_DATA_DIGEST, UIS_ERR_PDU_*), an
 * on_pdu value, or UIS_ERR_STATE for a read error (conn_errno set). Bytes
 * read are added to *bytes_p (may be NULL). */
int conn_rx (conn_t *self, const conn_rx_ops_t *ops, void *arg, size_t max_bytes,
             uint64_t *bytes_p);

#endif
