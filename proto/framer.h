/* framer.h: iSCSI receive framing state machine (RFC 7143 §11.1, §13.1).
 *
 * Turns a byte stream, cut anywhere, into whole PDUs: decoded BHS, AHS and
 * data segment, with padding skipped and digests verified. Sans-I/O: it
 * never reads a socket; the caller moves the bytes.
 *
 * Per PDU the framer goes through: BHS (48 bytes) -> AHS + header digest
 * -> [header checks] -> data segment -> pad + data digest -> ready.
 * Header checks, in order: header digest over BHS + AHS (conformance A4),
 * opcode (unknown -> UIS_ERR_PDU_OPCODE, A5), AHS structure
 * (UIS_ERR_PDU_AHS), DataSegmentLength against MaxRecvDataSegmentLength
 * (UIS_ERR_PDU_DSL_LIMIT, A6: checked BEFORE any buffer is allocated).
 * A PDU with DataSegmentLength 0 has no pad and no data digest (A3). The
 * data digest covers data + padding (A2); pad byte values are not checked
 * (RFC 7143 §11.1 only requires senders to send zeros).
 *
 * Two ways to feed it, which may be mixed between PDUs:
 *
 * Push (simple, one copy):
 *
 *     size_t off = 0;
 *     while (off < n) {
 *         size_t used;
 *         int rc = framer_feed (f, buf + off, n - off, &used);
 *         off += used;
 *         if (rc < 0) -> drop the connection (or see UIS_ERR_DATA_DIGEST)
 *         if (rc == FRAMER_PDU) -> handle framer_frame (f)
 *     }
 *
 * Pull (zero copy: read() straight into the framer's or the caller's
 * buffer):
 *
 *     uint8_t *p; size_t want;
 *     framer_want (f, &p, &want);      // where and how much at most
 *     ssize_t got = read (fd, p, want);
 *     int rc = framer_wrote (f, got);  // got == 0 at EOF: call framer_eof
 *     if (rc == FRAMER_HEADER)         // header done, data segment next:
 *         framer_set_data_buf (f, client_slice, cap);   // optional
 *     if (rc == FRAMER_PDU) -> handle framer_frame (f)
 *
 * Events: both framer_feed and framer_wrote return FRAMER_HEADER when a
 * header has been verified and a data segment follows (DSL > 0), and
 * FRAMER_PDU when a whole PDU is ready. At most one event per call; the
 * caller handles it before passing more bytes (this is what lets settings
 * change exactly between PDUs).
 *
 * Ownership:
 * - The header buffer (BHS + AHS + digest) and the pad/digest scratch are
 *   inside the framer. framer_want may point into them.
 * - The data segment goes into a framer-owned buffer unless the caller
 *   installs its own with framer_set_data_buf right after FRAMER_HEADER.
 *   The framer-owned buffer grows to the largest DSL seen (never beyond
 *   the MRDSL in force) and is reused: no per-PDU allocation in steady
 *   state. A caller buffer is borrowed: the framer writes exactly DSL
 *   bytes at its start (pad and digest go to the framer's scratch) and
 *   forgets it when the PDU is ready, on error, or on framer_reset.
 * - framer_frame() returns a view into the framer (and the caller's
 *   buffer). It stays valid until the next framer_feed, framer_want,
 *   framer_wrote, framer_reset or framer_destroy call; copy what must live
 *   longer, or install a caller buffer to keep the data.
 *
 * Errors: UIS_ERR_DATA_DIGEST is recoverable (ERL >= 1, conformance D5):
 * the framer stays at a PDU boundary, framer_frame() still shows the PDU
 * (header valid, data not trustworthy), and feeding may continue. Every
 * other error is fatal: the framer stops and returns the same error until
 * framer_reset (the caller drops the connection).
 *
 * Settings (digests, MRDSL) may be changed at any time; a change applies
 * from the next PDU whose first byte has not been received yet (login
 * negotiates digests and MRDSL mid-stream).
 */
#ifndef UISCSI_PROTO_FRAMER_H
#define UISCSI_PROTO_FRAMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/pdu.h"

typedef struct framer framer_t;

/* Events returned by framer_feed / framer_wrote (errors are negative). */
enum {
    FRAMER_MORE = 0,   /* need more bytes */
    FRAMER_HEADER = 1, /* header verified, DSL > 0 bytes of data follow */
    FRAMER_PDU = 2     /* a whole PDU is ready: framer_frame() */
};

/* A received PDU (a view; see "Ownership" above).
 * - hdr: the decoded BHS.
 * - ahs / ahs_len: the raw AHS bytes (4 * TotalAHSLength), NULL / 0 when
 *   there is none; ahs_fields: the parsed AHS, never NULL (empty when
 *   there is no AHS).
 * - data / data_len: the data segment without pad or digest; data is NULL
 *   when data_len is 0 or before the data has arrived (after
 *   FRAMER_HEADER, data_len is already DSL). data_external is true when
 *   data points into the caller's buffer. */
typedef struct framer_frame {
    pdu_t hdr;
    const uint8_t *ahs;
    size_t ahs_len;
    const pdu_ahs_t *ahs_fields;
    uint8_t *data;
    size_t data_len;
    bool data_external;
} framer_frame_t;

/* Creates a framer with no digests and the given MaxRecvDataSegmentLength
 * (a DSL above it is UIS_ERR_PDU_DSL_LIMIT; values above PDU_DSL_MAX are
 * clamped). Allocates no data buffer yet. Returns NULL when out of memory.
 * The caller owns the framer and frees it with framer_destroy. */
framer_t *framer_new (uint32_t max_recv_dsl);

/* Frees the framer and its buffers and sets *self_p to NULL. A caller
 * buffer installed with framer_set_data_buf is not freed. NULL-safe. */
void framer_destroy (framer_t **self_p);

/* Sets the digest settings for the next PDU (see "Settings"). dig is
 * copied; NULL means no digests. */
void framer_set_digests (framer_t *self, const pdu_digest_cfg_t *dig);

/* Sets MaxRecvDataSegmentLength for the next PDU (clamped to
 * PDU_DSL_MAX). Does not allocate. */
void framer_set_max_recv_dsl (framer_t *self, uint32_t max_recv_dsl);

/* Push API: consumes bytes from buf (len bytes, borrowed, only read
 * during the call), copying them into the framer's buffers (or the
 * caller's installed data buffer). Stops right after an event. Sets
 * *consumed to the number of bytes used (all of len when it returns
 * FRAMER_MORE; on an error, the bytes taken before it was found). Returns
 * FRAMER_MORE, FRAMER_HEADER, FRAMER_PDU or a negative UIS_ERR_*. */
int framer_feed (framer_t *self, const void *buf, size_t len, size_t *consumed);

/* Pull API, step 1: sets *ptr / *len to where the next bytes must be
 * written and how many at most (never 0, never beyond the current part
 * of the PDU, so one read() never crosses a PDU boundary). *ptr points
 * into the framer's buffers or the caller's installed data buffer.
 * Starts a new PDU when the previous one was ready (ending the validity
 * of framer_frame). Allocates the framer-owned data buffer when the data
 * stage starts without a caller buffer. Returns 0, UIS_ERR_NOMEM, or the
 * fatal error the framer stopped on. */
int framer_want (framer_t *self, uint8_t **ptr, size_t *len);

/* Pull API, step 2: tells the framer n bytes were written at the pointer
 * of the last framer_want (n <= its len; more is API misuse and returns
 * UIS_ERR_INVALID_ARG). n == 0 is allowed and changes nothing. Returns
 * FRAMER_MORE, FRAMER_HEADER, FRAMER_PDU or a negative UIS_ERR_*. */
int framer_wrote (framer_t *self, size_t n);

/* Installs the caller's buffer (buf, cap bytes, borrowed) as the
 * destination of the current PDU's data segment. Valid only right after
 * FRAMER_HEADER, before any data byte has been received; returns
 * UIS_ERR_STATE otherwise, UIS_ERR_BUFFER_TOO_SMALL when cap < DSL,
 * UIS_ERR_INVALID_ARG for a NULL buf. */
int framer_set_data_buf (framer_t *self, void *buf, size_t cap);

/* The current PDU (after FRAMER_HEADER: header only; after FRAMER_PDU or
 * UIS_ERR_DATA_DIGEST: complete) or NULL when there is none. Borrowed,
 * valid as documented under "Ownership". */
const framer_frame_t *framer_frame (const framer_t *self);

/* Reports the end of the stream: 0 when the framer is at a PDU boundary
 * (no partial PDU), UIS_ERR_TRUNCATED when a PDU was cut (conformance
 * A7), or the fatal error the framer stopped on. Does not change state. */
int framer_eof (const framer_t *self);

/* true when no byte of an unfinished PDU is buffered. */
bool framer_at_boundary (const framer_t *self);

/* Bytes of data buffer the framer holds (its own buffer only; a caller
 * buffer does not count). For metrics and tests of A6 / steady state. */
size_t framer_mem (const framer_t *self);

/* Drops any partial PDU, the installed caller buffer and a fatal error;
 * keeps the settings and the framer-owned buffer (for a new connection). */
void framer_reset (framer_t *self);

#endif
