/* fuzz_chap.c: CHAP key values from a hostile target (A8, C2-C4, C6, C7).
 * Input: byte 0 picks the preference list and one-way or mutual CHAP; the
 * rest is split at NUL bytes into CHAP_A, CHAP_I, CHAP_C, CHAP_N, CHAP_R
 * (missing fields are NULL). Every value also goes through the pure
 * decoders, and a decoded binary must survive a hex round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/chap.h"
#include "proto/errors.h"

#define FIELDS 5

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Checks the decoder on one value: decode, re-encode as hex, decode again
 * and compare. Aborts on a mismatch (a real bug). */
static void
s_roundtrip (const char *value)
{
    static uint8_t bin[CHAP_BINARY_MAX], again[CHAP_BINARY_MAX];
    static char hex[2 + 2 * CHAP_BINARY_MAX + 1];
    size_t n = 0, m = 0;
    if (chap_decode_binary (value, bin, sizeof bin, &n) != 0)
        return;
    if (n > sizeof bin || chap_encode_hex (bin, n, hex, sizeof hex) != 0)
        abort ();
    if (chap_decode_binary (hex, again, sizeof again, &m) != 0 || m != n
        || memcmp (bin, again, n) != 0)
        abort ();
    (void)chap_check_challenge (bin, n);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1 || size > 16384)
        return 0;
    uint8_t mode = data[0];
    /* Copy the rest with a terminating NUL, then split at NULs. */
    char *buf = malloc (size);
    if (!buf)
        return 0;
    memcpy (buf, data + 1, size - 1);
    buf[size - 1] = '\0';
    const char *field[FIELDS] = {NULL};
    size_t f = 0, start = 0;
    for (size_t i = 0; i < size && f < FIELDS; i++)
        if (buf[i] == '\0') {
            field[f++] = buf + start;
            start = i + 1;
            if (start >= size)
                break;
        }

    for (size_t i = 0; i < FIELDS; i++) {
        if (!field[i])
            continue;
        uint8_t id;
        uint32_t num;
        (void)chap_parse_id (field[i], &id);
        (void)chap_parse_number (field[i], 0xffffffffu, &num);
        s_roundtrip (field[i]);
    }

    static const chap_alg_t all[] = {CHAP_ALG_SHA3_256, CHAP_ALG_SHA256, CHAP_ALG_SHA1,
                                     CHAP_ALG_MD5};
    chap_config_t cfg = {
        .user = "iqn.fuzz:user",
        .secret = (const uint8_t *)"fuzz-secret-1",
        .secret_len = 13,
        .algs = (mode & 1) ? all : NULL,
        .alg_count = (mode & 1) ? 4 : 0,
    };
    if (mode & 2) {
        cfg.target_user = "iqn.fuzz:target";
        cfg.target_secret = (const uint8_t *)"fuzz-secret-2";
        cfg.target_secret_len = 13;
    }
    uint8_t rnd[CHAP_RANDOM_LEN];
    for (size_t i = 0; i < sizeof rnd; i++)
        rnd[i] = (uint8_t)(mode + 17 * i + 1);
    chap_t *c = chap_new (&cfg);
    if (c) {
        if (chap_select (c, field[0]) == 0
            && chap_respond (c, field[1], field[2], rnd, sizeof rnd) == 0) {
            const char *r = chap_response (c);
            if (!r || strlen (r) != 2 + 2 * chap_alg_digest_len (chap_algorithm (c)))
                abort ();
            if (chap_is_mutual (c)) {
                int rc = chap_verify_target (c, field[3], field[4]);
                if (rc != 0 && rc != UIS_ERR_AUTH_TARGET)
                    abort ();
            }
        }
        chap_destroy (&c);
    }
    free (buf);
    return 0;
}
