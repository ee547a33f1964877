/* conn.c: the TCP connection of a session: fd, framer, writev batch. */
#include "actors/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "proto/errors.h"

/* One PDU of the batch: its header and trailer live here. */
typedef struct {
    uint8_t header[PDU_HEADER_MAX];
    size_t header_len;
    uint8_t trailer[PDU_TRAILER_MAX];
    size_t trailer_len;
    const void *data;
    size_t data_len;
} s_tx_pdu_t;

struct conn {
    int fd;
    int err;
    const char *errop;
    framer_t *framer;
    pdu_digest_cfg_t dig;
    /* transmit batch */
    s_tx_pdu_t tx[CONN_TX_BATCH];
    size_t ntx;
    size_t tx_bytes;   /* total bytes of the batch */
    size_t tx_written; /* bytes of the batch already written */
    struct iovec iov[3 * CONN_TX_BATCH];
};

/* Creates an unconnected conn. */
conn_t *
conn_new (uint32_t max_recv_dsl)
{
    conn_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->fd = -1;
    self->errop = "";
    self->framer = framer_new (max_recv_dsl);
    if (!self->framer) {
        free (self);
        return NULL;
    }
    return self;
}

/* Frees the conn and closes its fd. */
void
conn_destroy (conn_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    conn_t *self = *self_p;
    conn_close (self);
    framer_destroy (&self->framer);
    free (self);
    *self_p = NULL;
}

/* Records a failed system call. */
static int
s_fail (conn_t *self, const char *op, int err)
{
    self->err = err;
    self->errop = op;
    return UIS_ERR_STATE;
}

/* Socket options of every iSCSI connection. */
static void
s_tune (int fd)
{
    int one = 1;
    setsockopt (fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Starts a non-blocking connect. */
int
conn_connect (conn_t *self, const uis_portal_t *portal)
{
    if (self->fd >= 0)
        return UIS_ERR_STATE;
    char port[8];
    snprintf (port, sizeof port, "%u", (unsigned)portal->port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | (portal->ipv6 ? AI_NUMERICHOST : 0);
    hints.ai_family = portal->ipv6 ? AF_INET6 : AF_UNSPEC;
    int gai = getaddrinfo (portal->host, port, &hints, &res);
    if (gai != 0 || !res)
        return s_fail (self, "connect", gai == EAI_SYSTEM ? errno : EHOSTUNREACH);
    int fd = socket (res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        freeaddrinfo (res);
        return s_fail (self, "connect", e);
    }
    s_tune (fd);
    int rc = connect (fd, res->ai_addr, res->ai_addrlen);
    int e = errno;
    freeaddrinfo (res);
    if (rc != 0 && e != EINPROGRESS) {
        close (fd);
        return s_fail (self, "connect", e);
    }
    self->fd = fd;
    return 0;
}

/* Adopts a connected socket. */
int
conn_adopt (conn_t *self, int fd)
{
    if (self->fd >= 0 || fd < 0)
        return UIS_ERR_STATE;
    int flags = fcntl (fd, F_GETFL);
    if (flags < 0 || fcntl (fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return s_fail (self, "connect", errno);
    s_tune (fd);
    self->fd = fd;
    return 0;
}

/* Reads SO_ERROR after the connect finished. */
int
conn_connect_check (conn_t *self)
{
    if (self->fd < 0)
        return s_fail (self, "connect", EBADF);
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (getsockopt (self->fd, SOL_SOCKET, SO_ERROR, &soerr, &len) != 0)
        return s_fail (self, "connect", errno);
    if (soerr != 0)
        return s_fail (self, "connect", soerr);
    return 0;
}

int
conn_fd (const conn_t *self)
{
    return self->fd;
}

int
conn_errno (const conn_t *self)
{
    return self->err;
}

const char *
conn_errop (const conn_t *self)
{
    return self->errop;
}

/* Closes the socket, drops the batch, resets the framer. */
void
conn_close (conn_t *self)
{
    if (self->fd >= 0)
        close (self->fd);
    self->fd = -1;
    self->ntx = self->tx_bytes = self->tx_written = 0;
    framer_reset (self->framer);
}

/* Digests for both directions. */
void
conn_set_digests (conn_t *self, const pdu_digest_cfg_t *dig)
{
    self->dig = dig ? *dig : (pdu_digest_cfg_t){0};
    framer_set_digests (self->framer, dig);
}

void
conn_set_max_recv_dsl (conn_t *self, uint32_t max_recv_dsl)
{
    framer_set_max_recv_dsl (self->framer, max_recv_dsl);
}

framer_t *
conn_framer (conn_t *self)
{
    return self->framer;
}

/* ------------------------------------------------------------- transmit */

bool
conn_tx_pending (const conn_t *self)
{
    return self->ntx > 0;
}

bool
conn_tx_room (const conn_t *self)
{
    return self->tx_written == 0 && self->ntx < CONN_TX_BATCH
           && self->tx_bytes < CONN_TX_BYTES;
}

/* Adds one PDU to the batch. */
int
conn_tx_add (conn_t *self, const pdu_t *pdu, const pdu_ahs_t *ahs, const void *data,
             size_t len, const uint8_t **bhs_p)
{
    if (!conn_tx_room (self) || pdu->data_segment_length != len)
        return UIS_ERR_STATE;
    s_tx_pdu_t *t = &self->tx[self->ntx];
    int rc = pdu_header_build (pdu, ahs, &self->dig, t->header, sizeof t->header,
                               &t->header_len);
    if (rc)
        return rc;
    pdu_iov_t piece = {data, len};
    rc = pdu_data_trailer (&piece, len ? 1 : 0, &self->dig, t->trailer, &t->trailer_len);
    if (rc)
        return rc;
    t->data = data;
    t->data_len = len;
    self->ntx++;
    self->tx_bytes += t->header_len + len + t->trailer_len;
    if (bhs_p)
        *bhs_p = t->header;
    return 0;
}

/* Fills iov with the unwritten part of the batch; returns the count. */
static int
s_iov (conn_t *self)
{
    int n = 0;
    size_t skip = self->tx_written;
    for (size_t i = 0; i < self->ntx; i++) {
        s_tx_pdu_t *t = &self->tx[i];
        const void *base[3] = {t->header, t->data, t->trailer};
        size_t len[3] = {t->header_len, t->data_len, t->trailer_len};
        for (int k = 0; k < 3; k++) {
            if (len[k] <= skip) {
                skip -= len[k];
                continue;
            }
            self->iov[n].iov_base = (uint8_t *)base[k] + skip;
            self->iov[n].iov_len = len[k] - skip;
            skip = 0;
            n++;
        }
    }
    return n;
}

/* Writes the batch. */
int
conn_tx_flush (conn_t *self, uint64_t *bytes_p)
{
    if (self->fd < 0)
        return s_fail (self, "write", EBADF);
    for (int rounds = 0; self->tx_written < self->tx_bytes && rounds < 64; rounds++) {
        int n = s_iov (self);
        ssize_t got = writev (self->fd, self->iov, n);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return s_fail (self, "write", errno);
        }
        self->tx_written += (size_t)got;
        if (bytes_p)
            *bytes_p += (uint64_t)got;
    }
    if (self->tx_written < self->tx_bytes)
        return 0;
    self->ntx = self->tx_bytes = self->tx_written = 0;
    return 1;
}

/* -------------------------------------------------------------- receive */

/* Reads until EAGAIN, EOF, an error or the budget. */
int
conn_rx (conn_t *self, const conn_rx_ops_t *ops, void *arg, size_t max_bytes,
         uint64_t *bytes_p)
{
    if (self->fd < 0)
        return s_fail (self, "read", EBADF);
    size_t total = 0;
    while (total < max_bytes) {
        uint8_t *p;
        size_t want;
        int rc = framer_want (self->framer, &p, &want);
        if (rc < 0)
            return rc;
        ssize_t got = read (self->fd, p, want);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            return s_fail (self, "read", errno);
        }
        if (got == 0) {
            rc = framer_eof (self->framer);
            return rc == 0 ? CONN_EOF : rc;
        }
        total += (size_t)got;
        if (bytes_p)
            *bytes_p += (uint64_t)got;
        rc = framer_wrote (self->framer, (size_t)got);
        if (rc == FRAMER_HEADER) {
            uint8_t *buf = NULL;
            size_t cap = 0;
            if (ops->on_header)
                ops->on_header (arg, framer_frame (self->framer), &buf, &cap);
            if (buf)
                rc = framer_set_data_buf (self->framer, buf, cap);
            if (rc < 0)
                return rc;
        }
        else if (rc == FRAMER_PDU) {
            rc = ops->on_pdu (arg, framer_frame (self->framer));
            if (rc < 0)
                return rc;
            if (self->fd < 0)
                return 0; /* the owner closed the connection in the hook */
        }
        else if (rc < 0)
            return rc;
    }
    return 0;
}
