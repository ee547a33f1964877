/* chap.h: the initiator side of iSCSI CHAP (RFC 7143 §12.1.3 on top of
 * RFC 1994), one-way and mutual, with the IANA PPP CHAP algorithm numbers
 * 5 (MD5), 6 (SHA-1), 7 (SHA-256) and 8 (SHA3-256), hashed by libcrypto EVP.
 *
 * Flow (the login machine drives it, see login.h):
 *   1. chap_offer ()        -> the CHAP_A value we send ("5" or "8,7,6,5")
 *   2. chap_select ()       <- the target's CHAP_A (must be one we offered, C2)
 *   3. chap_respond ()      <- the target's CHAP_I and CHAP_C; computes our
 *                              CHAP_R (and our CHAP_I / CHAP_C for mutual CHAP)
 *   4. chap_verify_target() <- the target's CHAP_N / CHAP_R (mutual only, C6)
 *
 * Default algorithm list: MD5 only. tgt 1.0.85 computes CHAP_A=7 as SHA-1
 * instead of SHA-256, so offering 7 first breaks logins to tgt; callers that
 * want stronger hashes pass their own preference list, e.g. SHA3-256,
 * SHA-256, SHA-1, MD5. RFC 7143 §12.1.3 says initiators must always offer
 * MD5 (5) for interoperability; a list without it is accepted (a deliberate
 * local policy) but may fail against older targets.
 *
 * Challenges from the target (C3) are refused when shorter than
 * CHAP_CHALLENGE_MIN (16) bytes, longer than CHAP_BINARY_MAX (1024, the
 * RFC's limit for CHAP binary values), or all zero. RFC 7143 §12.1.3 asks
 * for challenges at least as long as the hash; we only require 16 bytes
 * because targets send 16-byte challenges with every algorithm.
 *
 * Secrets: chap_new copies them into memory owned by the chap_t and wipes
 * that memory (OPENSSL_cleanse) on destroy, as it does every buffer derived
 * from a secret. No error code or string ever contains a secret or a name. */
#ifndef UISCSI_PROTO_CHAP_H
#define UISCSI_PROTO_CHAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* IANA "PPP Authentication Algorithms" numbers used by CHAP_A. */
typedef enum chap_alg {
    CHAP_ALG_MD5 = 5,
    CHAP_ALG_SHA1 = 6,
    CHAP_ALG_SHA256 = 7,
    CHAP_ALG_SHA3_256 = 8,
} chap_alg_t;

#define CHAP_ALG_LIST_MAX  4    /* algorithms in a preference list */
#define CHAP_DIGEST_MAX    32   /* longest digest (SHA-256, SHA3-256) */
#define CHAP_CHALLENGE_MIN 16   /* shortest target challenge accepted (C3) */
#define CHAP_BINARY_MAX    1024 /* RFC 7143 §12.1.3: C and R at most 1024 bytes */
#define CHAP_SECRET_MAX    256  /* longest secret accepted in a config */
#define CHAP_NAME_MAX      255  /* longest CHAP_N (a text-value) */
/* Random bytes chap_respond needs for mutual CHAP: 1 for our CHAP_I and
 * up to CHAP_DIGEST_MAX for our CHAP_C. */
#define CHAP_RANDOM_LEN (1 + CHAP_DIGEST_MAX)
/* "0x" + 2 hex digits per byte + NUL, for a digest or our challenge. */
#define CHAP_HEX_MAX (2 + 2 * CHAP_DIGEST_MAX + 1)

typedef struct chap chap_t;

/* Configuration; chap_new copies everything it keeps. */
typedef struct chap_config {
    const char *user;      /* our CHAP_N (required, 1..CHAP_NAME_MAX bytes) */
    const uint8_t *secret; /* our secret (1..CHAP_SECRET_MAX bytes) */
    size_t secret_len;
    /* Mutual CHAP when target_user is not NULL: the CHAP_N the target must
     * send and the secret it must prove. RFC 7143 §12.1.3 forbids using
     * one secret for both directions; such a config is refused. */
    const char *target_user;
    const uint8_t *target_secret;
    size_t target_secret_len;
    /* Preference list, best first, no duplicates; alg_count 0 means the
     * default list {CHAP_ALG_MD5}. */
    const chap_alg_t *algs;
    size_t alg_count;
    /* Optional: a challenge this initiator sent to the target before (for
     * example in the previous login attempt). A target challenge equal to it
     * is refused as a reflection (C7). NULL/0 when there is none. */
    const uint8_t *prev_challenge;
    size_t prev_challenge_len;
} chap_config_t;

/* ---- pure helpers (no state) ---- */

/* Digest length in bytes of an algorithm, 0 for an unknown number. */
size_t chap_alg_digest_len (int alg);

/* Canonical name of an algorithm ("MD5", "SHA-1", "SHA-256", "SHA3-256"),
 * "unknown" for other numbers. */
const char *chap_alg_name (int alg);

/* Parses an algorithm name (the names above, case-insensitive, also
 * "SHA1", "SHA256", "SHA3_256") into *alg. UIS_ERR_INVALID_ARG if unknown. */
int chap_alg_from_name (const char *name, chap_alg_t *alg);

/* Parses a CHAP numerical value (RFC 7143 §6.1 numerical-value: decimal or
 * 0x hex, no sign, no spaces) no larger than max. UIS_ERR_CHAP_ENCODING on
 * junk, UIS_ERR_OUT_OF_RANGE when above max. */
int chap_parse_number (const char *value, uint32_t max, uint32_t *out);

/* Parses CHAP_I: a number 0..255 ("256", "-1", "" and junk fail with
 * UIS_ERR_CHAP_ENCODING). */
int chap_parse_id (const char *value, uint8_t *id);

/* Decodes a CHAP binary value (RFC 7143 §6.1): "0x"/"0X" hex (an odd digit
 * count has an implied leading zero nibble) or "0b"/"0B" base64 (RFC 4648,
 * padding optional, non-zero trailing bits refused). Writes at most cap
 * bytes into out and the length into *out_len. UIS_ERR_CHAP_ENCODING on a
 * malformed value, UIS_ERR_TOO_LONG when the decoded value exceeds cap. */
int chap_decode_binary (const char *value, uint8_t *out, size_t cap, size_t *out_len);

/* Encodes len bytes as "0x" + lowercase hex into buf (NUL-terminated).
 * UIS_ERR_BUFFER_TOO_SMALL when buf cannot hold 2 + 2*len + 1 bytes. */
int chap_encode_hex (const uint8_t *bin, size_t len, char *buf, size_t cap);

/* C3: checks a target challenge: CHAP_CHALLENGE_MIN..CHAP_BINARY_MAX bytes
 * and not all zero. UIS_ERR_CHAP_CHALLENGE otherwise. */
int chap_check_challenge (const uint8_t *challenge, size_t len);

/* Computes the RFC 1994 response H(id || secret || challenge) with alg into
 * out (at least chap_alg_digest_len (alg) bytes). UIS_ERR_CHAP_ALGORITHM for
 * an unknown algorithm, UIS_ERR_UNSUPPORTED when libcrypto refuses it (for
 * example MD5 under a FIPS provider). */
int chap_digest (int alg, uint8_t id, const uint8_t *secret, size_t secret_len,
                 const uint8_t *challenge, size_t challenge_len, uint8_t *out);

/* ---- the per-login CHAP state ---- */

/* Checks a configuration: UIS_ERR_INVALID_ARG for a missing or too long
 * name or secret, an unknown or duplicated algorithm, or mutual CHAP with
 * the same secret in both directions. */
int chap_config_check (const chap_config_t *cfg);

/* Creates the CHAP state from cfg (copied). NULL when the config fails
 * chap_config_check or memory runs out. */
chap_t *chap_new (const chap_config_t *cfg);

/* Wipes and frees the state, sets *self_p to NULL. NULL-safe. */
void chap_destroy (chap_t **self_p);

/* true when the config asks for mutual CHAP. */
bool chap_is_mutual (const chap_t *self);

/* Our CHAP_A offer ("5", "8,7,6,5"); owned by self. */
const char *chap_offer (const chap_t *self);

/* C2: takes the target's CHAP_A answer. It must be a single number that we
 * offered; otherwise (a list, another number, Reject, junk)
 * UIS_ERR_CHAP_ALGORITHM. */
int chap_select (chap_t *self, const char *chap_a);

/* The selected algorithm, 0 before chap_select succeeded. */
int chap_algorithm (const chap_t *self);

/* Takes the target's CHAP_I and CHAP_C and computes our answer. For mutual
 * CHAP random must hold CHAP_RANDOM_LEN random bytes (byte 0 becomes our
 * CHAP_I, the next max(16, digest length) bytes our CHAP_C); otherwise it
 * may be NULL. Errors: UIS_ERR_STATE (no algorithm selected yet),
 * UIS_ERR_CHAP_ENCODING (bad CHAP_I or CHAP_C), UIS_ERR_CHAP_CHALLENGE (C3,
 * or C7: the target's challenge equals prev_challenge, or our random
 * challenge equals the target's), UIS_ERR_INVALID_ARG (random missing). */
int chap_respond (chap_t *self, const char *chap_i, const char *chap_c,
                  const uint8_t *random, size_t random_len);

/* Our CHAP_N (the configured user); owned by self. */
const char *chap_user (const chap_t *self);

/* Our CHAP_R as "0x..." hex after chap_respond, else NULL; owned by self. */
const char *chap_response (const chap_t *self);

/* Mutual CHAP: our CHAP_I (decimal) and CHAP_C ("0x..." hex) after
 * chap_respond, else NULL; owned by self. */
const char *chap_our_id (const chap_t *self);
const char *chap_our_challenge (const chap_t *self);

/* Mutual CHAP: the raw bytes of the challenge we sent (for a later
 * prev_challenge), length in *len; NULL before chap_respond. */
const uint8_t *chap_our_challenge_bytes (const chap_t *self, size_t *len);

/* C6/C7: checks the target's CHAP_N against the configured target user and
 * its CHAP_R against H(our id || target secret || our challenge), compared
 * in constant time. 0 on success, UIS_ERR_AUTH_TARGET when either is wrong
 * or malformed, UIS_ERR_STATE when not in mutual mode or before
 * chap_respond. */
int chap_verify_target (chap_t *self, const char *chap_n, const char *chap_r);

#endif
