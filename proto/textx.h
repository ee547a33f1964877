/* textx.h: one Text Request / Text Response exchange of the initiator
 * (RFC 7143 §11.10, §11.11), with continuation in both directions, for
 * SendTargets discovery (B17) and full feature phase text negotiation.
 * No I/O: it builds Text Request PDUs and consumes decoded Text Responses.
 *
 *   tx = textx_new (NULL);
 *   textx_start (tx, keys, itt);                  // fresh ITT per exchange
 *   while (textx_state (tx) != TEXTX_DONE) {
 *       if (textx_state (tx) == TEXTX_SEND) {
 *           textx_next_request (tx, cmdsn++, exp_statsn, &pdu, &data, &len);
 *           ... encode and send ...
 *       }
 *       ... receive a Text Response ...
 *       if (textx_handle_response (tx, &rsp, data, len) != 0) fail;
 *   }
 *   textx_response (tx, &len)  -> the reassembled text, for a parser such
 *                                 as sendtargets.h
 *
 * Rules (B18 and §11.10-11.11):
 *   - Every Text Request is non-immediate (I=0) and takes a CmdSN: the
 *     caller passes the CmdSN and ExpStatSN of each PDU when it is sent
 *     (so it can wait for the command window) and advances its CmdSN by
 *     one per PDU, continuation requests included.
 *   - The first request has TTT 0xffffffff and F=1 (F=0, C=1 on all but the
 *     last PDU when our own text is split at the target's
 *     MaxRecvDataSegmentLength; the target answers each with an empty
 *     response whose TTT the next chunk echoes).
 *   - A response with C=1 or F=0 must carry a TTT other than 0xffffffff;
 *     the machine answers it with an empty continuation request (F=1, C=0)
 *     that echoes the TTT and keeps the ITT of the first request.
 *   - The final response has F=1, C=0 and TTT 0xffffffff; anything else
 *     (C=1 with F=1, a final TTT, a wrong opcode or ITT) is
 *     UIS_ERR_PROTOCOL. The response text of the whole exchange (all data
 *     segments, in order) is limited to max_total bytes and max_pdus
 *     responses: beyond, UIS_ERR_TOO_LONG.
 *   - textx_start resets everything from the previous exchange (negotiation
 *     state, TTT, buffers) and refuses the reserved ITT 0xffffffff and the
 *     ITT of the previous exchange. */
#ifndef UISCSI_PROTO_TEXTX_H
#define UISCSI_PROTO_TEXTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pdu.h"
#include "text.h"

#define TEXTX_MAX_PDUS_DEFAULT 1024 /* responses per exchange */
#define TEXTX_SEND_DSL_DEFAULT 8192 /* target MRDSL when not given */

typedef struct textx textx_t;

typedef enum textx_state {
    TEXTX_IDLE,   /* no exchange started */
    TEXTX_SEND,   /* a request is ready: call textx_next_request */
    TEXTX_WAIT,   /* waiting for a Text Response */
    TEXTX_DONE,   /* the final response arrived; textx_response is valid */
    TEXTX_FAILED, /* the exchange failed; textx_error says why */
} textx_state_t;

typedef struct textx_config {
    size_t max_total;      /* response text limit, 0: UIS_TEXT_MAX_DEFAULT */
    uint32_t max_send_dsl; /* target's MaxRecvDataSegmentLength, 0: 8192 */
    unsigned max_pdus;     /* 0: TEXTX_MAX_PDUS_DEFAULT */
} textx_config_t;

/* Creates an idle exchange machine; cfg may be NULL (defaults), it is
 * copied. NULL on no memory. */
textx_t *textx_new (const textx_config_t *cfg);

/* Frees the machine and NULLs *self_p; NULL-safe. */
void textx_destroy (textx_t **self_p);

/* Updates the target's MaxRecvDataSegmentLength (after a renegotiation);
 * applies to the next request. 0 restores the default. */
void textx_set_send_dsl (textx_t *self, uint32_t max_send_dsl);

/* Starts a new exchange sending the keys of request (encoded and copied;
 * may be empty) with ITT itt. Allowed in any state but TEXTX_SEND and
 * TEXTX_WAIT (UIS_ERR_STATE). UIS_ERR_INVALID_ARG for itt 0xffffffff or
 * the ITT of the previous exchange; UIS_ERR_NOMEM. */
int textx_start (textx_t *self, uis_text_t *request, uint32_t itt);

/* Same with a single key=value (e.g. "SendTargets", "All"). */
int textx_start_key (textx_t *self, const char *key, const char *value, uint32_t itt);

/* In TEXTX_SEND: fills *pdu with the next Text Request (CmdSN cmdsn,
 * ExpStatSN exp_statsn, DataSegmentLength set) and *data / *len with its
 * data segment (owned by self, valid until the next call on self).
 * Moves to TEXTX_WAIT. UIS_ERR_STATE in another state. */
int textx_next_request (textx_t *self, uint32_t cmdsn, uint32_t exp_statsn, pdu_t *pdu,
                        const uint8_t **data, size_t *len);

/* In TEXTX_WAIT: consumes one decoded Text Response (untrusted) and its
 * data segment. Returns 0 (the state is then TEXTX_SEND or TEXTX_DONE) or
 * an error (the state is then TEXTX_FAILED): UIS_ERR_STATE when no
 * response is expected, UIS_ERR_PROTOCOL for a rule violation (see above),
 * UIS_ERR_TOO_LONG for a limit, UIS_ERR_NOMEM. */
int textx_handle_response (textx_t *self, const pdu_t *pdu, const uint8_t *data,
                           size_t len);

/* Current state. */
textx_state_t textx_state (const textx_t *self);

/* Name of a state for tracing ("idle", "send", ...). */
const char *textx_state_name (textx_state_t state);

/* Name of the last event fed to the transition table ("start", "sent",
 * "rsp_ack", "rsp_more", "final", "rsp_bad"), for tracing. */
const char *textx_last_event_name (const textx_t *self);

/* The error that failed the exchange (0 when none) and a short static
 * description of the violated rule ("" when none; never target data). */
int textx_error (const textx_t *self);
const char *textx_error_detail (const textx_t *self);

/* In TEXTX_DONE: the reassembled response text and its length (owned by
 * self, valid until the next textx_start); NULL in other states. */
const uint8_t *textx_response (const textx_t *self, size_t *len);

/* In TEXTX_DONE: parses the response into out (uis_text_parse flags);
 * UIS_ERR_STATE in other states. */
int textx_response_parse (const textx_t *self, uis_text_t *out, unsigned flags);

/* ITT of the current (or last) exchange, and the number of Text Request
 * PDUs handed out in it. */
uint32_t textx_itt (const textx_t *self);
unsigned textx_requests (const textx_t *self);

#endif
