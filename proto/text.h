/* text.h: iSCSI text keys (RFC 7143 §6.1): parsing and building the
 * "key=value\0key=value\0" data segment of Login and Text PDUs, and the
 * continuation (C bit) machinery in both directions (§6.1, §11.10, §11.12).
 *
 * Rules applied to untrusted input (uis_text_parse):
 *   - a key is 1..63 bytes (§6.1 "standard-label ... must not exceed 63
 *     characters") of letters, digits and . - + @ _ plus '#' for the
 *     IANA-registered "X#" extension keys (§13.22); anything else, an empty
 *     key or a pair without '=' is UIS_ERR_TEXT_SYNTAX; 64 bytes or more is
 *     UIS_ERR_TEXT_KEY_LEN.
 *   - a value is at most UIS_TEXT_VALUE_MAX (255) bytes (§6.1: "If not
 *     otherwise specified, the maximum length of a simple-value (not its
 *     encoded representation) is 255 bytes"), except for the keys whose
 *     values are large binary values or may be long by definition: the
 *     authentication keys CHAP_C, CHAP_R (§12.1.3), SRP_*, KRB_AP_REQ,
 *     KRB_AP_REP, SPKM_* (§12.1, carrying encoded binaries that can exceed
 *     255 bytes) and extension keys X-, X#, Y-, Y#, Z-, Z# (private
 *     formats), which may carry up to UIS_TEXT_LONG_VALUE_MAX (8192) bytes
 *     (§6.1: every implementation MUST accept 8192 bytes of key=value data
 *     in a negotiation sequence, so no single value can usefully be
 *     longer). Longer is UIS_ERR_TEXT_VALUE_LEN. A value holds any bytes
 *     except NUL (UTF-8 is allowed for aliases, §6.1
 *     iSCSI-local-name-value).
 *   - §6.1 says every pair, the last one included, MUST be followed by a NUL.
 *     Decision: a missing NUL after the LAST pair is tolerated (some targets
 *     omit it and it is unambiguous once the segment is complete) unless
 *     UIS_TEXT_STRICT is given; trailing NUL bytes after the last pair (zero
 *     padding counted in DataSegmentLength) are ignored; an empty pair in the
 *     middle ("a=b\0\0c=d") is UIS_ERR_TEXT_SYNTAX.
 *   - a key that appears twice is UIS_ERR_TEXT_DUP_KEY (§6.2: a parameter is
 *     not negotiated or declared more than once) except TargetName and
 *     TargetAddress, which repeat in SendTargets responses (§13.3) and
 *     redirections; UIS_TEXT_ALLOW_DUP lifts the check entirely.
 *   - the whole list is limited to its max size (default
 *     UIS_TEXT_MAX_DEFAULT = 64 KiB of encoded bytes) and UIS_TEXT_PAIRS_MAX
 *     pairs; beyond is UIS_ERR_TOO_LONG.
 *
 * The same limits apply when building (uis_text_add): we never send what we
 * would refuse to receive.
 *
 * Continuation (§6.1, conformance B4): a logical text data segment (LTDS) may
 * be split over several PDUs with C=1, the last one with C=0; a key=value may
 * be cut anywhere, even inside the key. uis_text_rx_t concatenates the data
 * segments with a total-size limit and parses once complete; uis_text_tx_t
 * hands out chunks of at most the peer's MaxRecvDataSegmentLength with the C
 * bit to set on each. */
#ifndef UISCSI_PROTO_TEXT_H
#define UISCSI_PROTO_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UIS_TEXT_KEY_MAX        63    /* bytes in a key (§6.1) */
#define UIS_TEXT_VALUE_MAX      255   /* bytes in an ordinary value (§6.1) */
#define UIS_TEXT_LONG_VALUE_MAX 8192  /* bytes in a long value (see above) */
#define UIS_TEXT_MAX_DEFAULT    65536 /* default limit of one LTDS, bytes */
#define UIS_TEXT_PAIRS_MAX      16384 /* pairs in one list */

/* Flags of uis_text_parse and uis_text_rx_parse. */
#define UIS_TEXT_STRICT    0x1u /* the last pair must end with NUL */
#define UIS_TEXT_ALLOW_DUP 0x2u /* keep repeated keys, no dup check */

/* An ordered list of key=value pairs (keys may repeat, see above). */
typedef struct uis_text uis_text_t;

/* Creates an empty list with the default size limit. Caller owns it. */
uis_text_t *uis_text_new (void);

/* Frees the list and NULLs *self_p; NULL-safe. */
void uis_text_destroy (uis_text_t **self_p);

/* Removes every pair (the size limit stays). */
void uis_text_clear (uis_text_t *self);

/* Sets the limit on the encoded size of the list (bytes, NULs included);
 * 0 restores UIS_TEXT_MAX_DEFAULT. Does not shrink existing content. */
void uis_text_set_max (uis_text_t *self, size_t max_bytes);

/* Parses one complete LTDS (len bytes at data, untrusted) into self,
 * replacing its content. flags: UIS_TEXT_STRICT, UIS_TEXT_ALLOW_DUP. Returns 0
 * or UIS_ERR_TEXT_SYNTAX / _TEXT_KEY_LEN / _TEXT_VALUE_LEN / _TEXT_DUP_KEY /
 * _TOO_LONG / _NOMEM; on error self is left empty. */
int uis_text_parse (uis_text_t *self, const uint8_t *data, size_t len, unsigned flags);

/* Number of pairs. */
size_t uis_text_size (const uis_text_t *self);

/* Key / value of pair i (i < uis_text_size), NUL-terminated, owned by self,
 * valid until the list changes. NULL when i is out of range. */
const char *uis_text_key (const uis_text_t *self, size_t i);
const char *uis_text_value (const uis_text_t *self, size_t i);

/* Value of the first pair with this key, or NULL. Owned by self. */
const char *uis_text_find (const uis_text_t *self, const char *key);

/* Number of pairs with this key. */
size_t uis_text_count (const uis_text_t *self, const char *key);

/* Appends key=value (both copied). Checks the key syntax and length, the
 * value length for that key and the list size limit; does NOT check for
 * duplicates (the caller builds what it means). Returns 0 or
 * UIS_ERR_TEXT_SYNTAX / _TEXT_KEY_LEN / _TEXT_VALUE_LEN / _TOO_LONG / _NOMEM. */
int uis_text_add (uis_text_t *self, const char *key, const char *value);

/* Appends key=<decimal value>. Same returns as uis_text_add. */
int uis_text_add_u64 (uis_text_t *self, const char *key, uint64_t value);

/* Appends every pair of src to self, in order. Same returns as uis_text_add;
 * on error self keeps the pairs appended so far. */
int uis_text_append (uis_text_t *self, const uis_text_t *src);

/* Encodes the list as "key=value\0..." into a buffer owned by self (grown as
 * needed) and returns it with its length in *len_p. Valid until the list
 * changes or is destroyed. An empty list gives length 0 and a non-NULL
 * pointer. NULL only when out of memory. */
const uint8_t *uis_text_encode (uis_text_t *self, size_t *len_p);

/* Length in bytes of the encoded list. */
size_t uis_text_encoded_len (const uis_text_t *self);

/* True when key is a syntactically valid key (1..63 allowed characters). */
bool uis_text_key_valid (const char *key);

/* Maximum value length accepted for this key (255 or 8192, see above). */
size_t uis_text_value_max (const char *key);

/* True when the key may appear several times in one LTDS (TargetName,
 * TargetAddress). */
bool uis_text_key_repeatable (const char *key);

/* ---- Receiving side of the C bit: reassembly ----------------------------- */

typedef struct uis_text_rx uis_text_rx_t;

/* Creates a reassembler whose LTDS may total at most max_total bytes
 * (0: UIS_TEXT_MAX_DEFAULT). Caller owns it. */
uis_text_rx_t *uis_text_rx_new (size_t max_total);

/* Frees the reassembler and NULLs *self_p; NULL-safe. */
void uis_text_rx_destroy (uis_text_rx_t **self_p);

/* Forgets everything received; ready for a new LTDS. */
void uis_text_rx_reset (uis_text_rx_t *self);

/* Feeds the data segment of one Login or Text response (len bytes, copied)
 * and its C bit. cont=true: more follows; cont=false: this PDU ends the LTDS
 * and uis_text_rx_done becomes true. Returns 0, UIS_ERR_TOO_LONG when the
 * total would exceed the limit (the reassembler is then reset),
 * UIS_ERR_STATE when fed after completion without a reset, UIS_ERR_NOMEM. */
int uis_text_rx_feed (uis_text_rx_t *self, const uint8_t *data, size_t len, bool cont);

/* True when the final (C=0) segment was fed. */
bool uis_text_rx_done (const uis_text_rx_t *self);

/* The bytes received so far and their count; owned by self. */
const uint8_t *uis_text_rx_data (const uis_text_rx_t *self, size_t *len_p);

/* Parses the complete LTDS into out (see uis_text_parse; out's own size
 * limit is raised to the reassembler's when smaller). UIS_ERR_STATE when
 * the LTDS is not complete yet. */
int uis_text_rx_parse (const uis_text_rx_t *self, uis_text_t *out, unsigned flags);

/* ---- Sending side of the C bit: splitting ------------------------------ */

/* Stateless split: for an LTDS of total bytes of which sent were already
 * sent, gives the length of the next chunk (at most max_dsl, the peer's
 * MaxRecvDataSegmentLength) in *len_p and whether C must be set on it in
 * *cont_p. Returns UIS_ERR_INVALID_ARG when max_dsl is 0 or sent > total. */
int uis_text_chunk (size_t total, size_t sent, size_t max_dsl, size_t *len_p,
                    bool *cont_p);

typedef struct uis_text_tx uis_text_tx_t;

/* Creates an empty sender. Caller owns it. */
uis_text_tx_t *uis_text_tx_new (void);

/* Frees the sender and NULLs *self_p; NULL-safe. */
void uis_text_tx_destroy (uis_text_tx_t **self_p);

/* Loads the encoded form of text (copied) as the LTDS to send, replacing any
 * previous one. Returns 0 or UIS_ERR_NOMEM. */
int uis_text_tx_load (uis_text_tx_t *self, uis_text_t *text);

/* Loads len raw bytes (copied) as the LTDS to send. */
int uis_text_tx_load_raw (uis_text_tx_t *self, const uint8_t *data, size_t len);

/* Hands out the next chunk: *chunk_p (owned by self, valid until the next
 * load or destroy), *len_p <= max_dsl, *cont_p = C bit for that PDU. An
 * empty LTDS gives one chunk of length 0 with C=0. Returns UIS_ERR_STATE
 * when everything was handed out already, UIS_ERR_INVALID_ARG when max_dsl
 * is 0. */
int uis_text_tx_next (uis_text_tx_t *self, size_t max_dsl, const uint8_t **chunk_p,
                      size_t *len_p, bool *cont_p);

/* True once the last chunk (C=0) was handed out. */
bool uis_text_tx_done (const uis_text_tx_t *self);

#endif
