/* test_chap.c: CHAP algorithms, binary encodings, challenge checks, one-way
 * and mutual responses (conformance C2, C3, C4, C6, C7, C8 for chap.c).
 * Expected digests were computed independently with
 *   { printf '\x2a'; printf 'uiscsi-secret1'; printf '\x01...\x10'; } |
 *   openssl dgst -md5 -binary | xxd -p
 * (and -sha1, -sha256, -sha3-256). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "proto/chap.h"
#include "proto/errors.h"

#define SECRET  "uiscsi-secret1"
#define TSECRET "uiscsi-tsecret1"

/* Challenge 01 02 .. 10 as hex and as base64. */
#define CHAL_HEX "0x0102030405060708090a0b0c0d0e0f10"
#define CHAL_B64 "0bAQIDBAUGBwgJCgsMDQ4PEA=="

/* id 0x2a (42), secret SECRET, challenge 01..10. */
static const char *s_expect_r[] = {
    "0x48ff3ebfd6b50ba0f7f3bbc3c29d3ef4",
    "0xba607cc60519e7792c13b5a1ec9ef32f619a00fa",
    "0x12409d06c920f9182b12dcb6dfc3c2f03f492171a66fd7105a66fa58c2896b02",
    "0x508c779a87bfb9c61d118ae38d417bfcef6ae1513961c1b2396725cc9510a4e7",
};
/* id 7, secret TSECRET, challenge a0 a1 .. (16 bytes for MD5, 20 for SHA-1,
 * 32 for the others), i.e. what the target must answer to our mutual
 * challenge. */
static const char *s_expect_target_r[] = {
    "0x72da1baac3f74296682d8d34aaf88e7a",
    "0x15ac6f990582d9d24a5127e3d1d0e97ad4d4202f",
    "0x4385c6579208a7e05ee3fad0fa7e3c92531146b27652306d0a5e8d6728ba7425",
    "0x57a87198878fc28d07ef294764ef6881017bbc6838e2ed6060aea4ff1ba26c06",
};

static const chap_alg_t s_all[] = {CHAP_ALG_MD5, CHAP_ALG_SHA1, CHAP_ALG_SHA256,
                                   CHAP_ALG_SHA3_256};

static void
s_fill_random (uint8_t *r)
{
    r[0] = 7;
    for (int i = 0; i < CHAP_DIGEST_MAX; i++)
        r[1 + i] = (uint8_t)(0xa0 + i);
}

static chap_config_t
s_config (bool mutual)
{
    chap_config_t c = {
        .user = "uiscsi-user",
        .secret = (const uint8_t *)SECRET,
        .secret_len = strlen (SECRET),
    };
    if (mutual) {
        c.target_user = "uiscsi-target";
        c.target_secret = (const uint8_t *)TSECRET;
        c.target_secret_len = strlen (TSECRET);
    }
    return c;
}

static void
test_alg_names (void **state)
{
    (void)state;
    chap_alg_t a;
    assert_int_equal (chap_alg_from_name ("SHA3-256", &a), 0);
    assert_int_equal (a, 8);
    assert_int_equal (chap_alg_from_name ("sha-256", &a), 0);
    assert_int_equal (a, 7);
    assert_int_equal (chap_alg_from_name ("SHA-1", &a), 0);
    assert_int_equal (a, 6);
    assert_int_equal (chap_alg_from_name ("md5", &a), 0);
    assert_int_equal (a, 5);
    assert_int_equal (chap_alg_from_name ("SHA-512", &a), UIS_ERR_INVALID_ARG);
    assert_string_equal (chap_alg_name (7), "SHA-256");
    assert_string_equal (chap_alg_name (9), "unknown");
    assert_int_equal (chap_alg_digest_len (5), 16);
    assert_int_equal (chap_alg_digest_len (6), 20);
    assert_int_equal (chap_alg_digest_len (7), 32);
    assert_int_equal (chap_alg_digest_len (8), 32);
    assert_int_equal (chap_alg_digest_len (4), 0);
}

/* Known-answer vectors for each algorithm (computed with openssl dgst). */
static void
test_digest_vectors (void **state)
{
    (void)state;
    uint8_t ch[16], out[CHAP_DIGEST_MAX];
    char hex[CHAP_HEX_MAX];
    for (int i = 0; i < 16; i++)
        ch[i] = (uint8_t)(i + 1);
    for (int k = 0; k < 4; k++) {
        int alg = 5 + k;
        assert_int_equal (chap_digest (alg, 0x2a, (const uint8_t *)SECRET,
                                       strlen (SECRET), ch, 16, out),
                          0);
        assert_int_equal (
            chap_encode_hex (out, chap_alg_digest_len (alg), hex, sizeof hex), 0);
        assert_string_equal (hex, s_expect_r[k]);
    }
    assert_int_equal (chap_digest (4, 1, (const uint8_t *)"x", 1, ch, 16, out),
                      UIS_ERR_CHAP_ALGORITHM);
}

/* C4: CHAP_I must be 0..255. */
static void
test_parse_id (void **state)
{
    (void)state;
    uint8_t id = 99;
    assert_int_equal (chap_parse_id ("0", &id), 0);
    assert_int_equal (id, 0);
    assert_int_equal (chap_parse_id ("255", &id), 0);
    assert_int_equal (id, 255);
    assert_int_equal (chap_parse_id ("0x1f", &id), 0);
    assert_int_equal (id, 31);
    const char *bad[] = {"256",     "-1",     "",   "+1",    " 1",
                         "1 ",      "1a",     "0x", "0x100", "99999999999999999999",
                         "0b AA==", "Reject", "1,2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        id = 77;
        assert_int_equal (chap_parse_id (bad[i], &id), UIS_ERR_CHAP_ENCODING);
        assert_int_equal (id, 77);
    }
    assert_int_equal (chap_parse_id (NULL, &id), UIS_ERR_CHAP_ENCODING);
    uint32_t v;
    assert_int_equal (chap_parse_number ("4294967296", 0xffffffffu, &v),
                      UIS_ERR_OUT_OF_RANGE);
    assert_int_equal (chap_parse_number ("4294967295", 0xffffffffu, &v), 0);
    assert_int_equal (v, 0xffffffffu);
}

/* C4: hex (0x / 0X) and base64 (0b / 0B) binary values, decoded strictly. */
static void
test_decode_binary (void **state)
{
    (void)state;
    uint8_t out[64];
    size_t n = 0;
    uint8_t want[16];
    for (int i = 0; i < 16; i++)
        want[i] = (uint8_t)(i + 1);
    assert_int_equal (chap_decode_binary (CHAL_HEX, out, sizeof out, &n), 0);
    assert_int_equal (n, 16);
    assert_memory_equal (out, want, 16);
    assert_int_equal (
        chap_decode_binary ("0X0102030405060708090A0B0C0D0E0F10", out, sizeof out, &n),
        0);
    assert_int_equal (n, 16);
    assert_memory_equal (out, want, 16);
    assert_int_equal (chap_decode_binary (CHAL_B64, out, sizeof out, &n), 0);
    assert_int_equal (n, 16);
    assert_memory_equal (out, want, 16);
    assert_int_equal (
        chap_decode_binary ("0BAQIDBAUGBwgJCgsMDQ4PEA", out, sizeof out, &n), 0);
    assert_int_equal (n, 16);
    assert_memory_equal (out, want, 16);
    /* Odd hex digit count: implied leading zero nibble (RFC 7143 §6.1). */
    assert_int_equal (chap_decode_binary ("0xabc", out, sizeof out, &n), 0);
    assert_int_equal (n, 2);
    assert_int_equal (out[0], 0x0a);
    assert_int_equal (out[1], 0xbc);
    /* base64 lengths 1, 2 and 3 bytes. */
    assert_int_equal (chap_decode_binary ("0b/w==", out, sizeof out, &n), 0);
    assert_int_equal (n, 1);
    assert_int_equal (out[0], 0xff);
    assert_int_equal (chap_decode_binary ("0b//8=", out, sizeof out, &n), 0);
    assert_int_equal (n, 2);
    assert_int_equal (chap_decode_binary ("0b+/+/", out, sizeof out, &n), 0);
    assert_int_equal (n, 3);
    assert_int_equal (out[0], 0xfb);
    assert_int_equal (out[1], 0xff);
    assert_int_equal (out[2], 0xbf);
    const char *bad[] = {"",       "0",      "0x",     "0b",     "0xg1",    "x01",
                         "1x01",   "0b====", "0bA",    "0bAB=",  "0bAB===", "0bA=B=",
                         "0b/x==", "0b*AAA", "0x 01",  "0c0101", "0b//8==", "0bAQ=a",
                         "0X-1",   "00x01",  "0xzz00", "0b//9="};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = 12345;
        assert_int_equal (chap_decode_binary (bad[i], out, sizeof out, &n),
                          UIS_ERR_CHAP_ENCODING);
        assert_int_equal (n, 12345);
    }
    /* Size limit: cap respected, and strings beyond the RFC limit rejected
     * without scanning them whole. */
    assert_int_equal (chap_decode_binary (CHAL_HEX, out, 15, &n), UIS_ERR_TOO_LONG);
    assert_int_equal (chap_decode_binary (CHAL_B64, out, 15, &n), UIS_ERR_TOO_LONG);
    static char big[2 + 2 * CHAP_BINARY_MAX + 3];
    memset (big, 'a', sizeof big - 1);
    big[0] = '0';
    big[1] = 'x';
    big[sizeof big - 1] = '\0';
    assert_int_equal (chap_decode_binary (big, out, sizeof out, &n), UIS_ERR_TOO_LONG);
}

static void
test_encode_hex (void **state)
{
    (void)state;
    const uint8_t b[3] = {0x00, 0xab, 0x7f};
    char buf[9];
    assert_int_equal (chap_encode_hex (b, 3, buf, sizeof buf), 0);
    assert_string_equal (buf, "0x00ab7f");
    assert_int_equal (chap_encode_hex (b, 3, buf, 8), UIS_ERR_BUFFER_TOO_SMALL);
    assert_int_equal (chap_encode_hex (b, 0, buf, 3), 0);
    assert_string_equal (buf, "0x");
    assert_int_equal (chap_encode_hex (b, 0, buf, 2), UIS_ERR_BUFFER_TOO_SMALL);
}

/* C3: short, all-zero and over-long challenges are refused. */
static void
test_check_challenge (void **state)
{
    (void)state;
    static uint8_t c[CHAP_BINARY_MAX + 1];
    memset (c, 0, sizeof c);
    assert_int_equal (chap_check_challenge (c, 16), UIS_ERR_CHAP_CHALLENGE);
    c[15] = 1;
    assert_int_equal (chap_check_challenge (c, 16), 0);
    assert_int_equal (chap_check_challenge (c + 1, 15), UIS_ERR_CHAP_CHALLENGE);
    memset (c, 0x55, sizeof c);
    assert_int_equal (chap_check_challenge (c, CHAP_BINARY_MAX), 0);
    assert_int_equal (chap_check_challenge (c, CHAP_BINARY_MAX + 1),
                      UIS_ERR_CHAP_CHALLENGE);
    assert_int_equal (chap_check_challenge (NULL, 16), UIS_ERR_CHAP_CHALLENGE);
}

/* C3 through chap_respond: the machine refuses bad target challenges. */
static void
test_respond_refuses_bad_challenge (void **state)
{
    (void)state;
    chap_config_t cfg = s_config (false);
    chap_t *c = chap_new (&cfg);
    assert_non_null (c);
    assert_int_equal (chap_select (c, "5"), 0);
    /* 15 bytes */
    assert_int_equal (chap_respond (c, "1", "0x0102030405060708090a0b0c0d0e0f", NULL, 0),
                      UIS_ERR_CHAP_CHALLENGE);
    /* all zero, 16 bytes */
    assert_int_equal (
        chap_respond (c, "1", "0x00000000000000000000000000000000", NULL, 0),
        UIS_ERR_CHAP_CHALLENGE);
    /* all zero as base64 */
    assert_int_equal (chap_respond (c, "1", "0bAAAAAAAAAAAAAAAAAAAAAA==", NULL, 0),
                      UIS_ERR_CHAP_CHALLENGE);
    /* 1025 bytes */
    static char big[2 + 2 * 1025 + 1];
    memset (big, '1', sizeof big - 1);
    big[0] = '0';
    big[1] = 'x';
    big[sizeof big - 1] = '\0';
    assert_int_equal (chap_respond (c, "1", big, NULL, 0), UIS_ERR_CHAP_CHALLENGE);
    /* 1024 bytes is accepted */
    big[2 + 2 * 1024] = '\0';
    assert_int_equal (chap_respond (c, "1", big, NULL, 0), 0);
    chap_destroy (&c);
    assert_null (c);
}

/* C4 through chap_respond: bad CHAP_I or CHAP_C encodings. */
static void
test_respond_refuses_bad_encoding (void **state)
{
    (void)state;
    chap_config_t cfg = s_config (false);
    chap_t *c = chap_new (&cfg);
    assert_int_equal (chap_respond (c, "1", CHAL_HEX, NULL, 0), UIS_ERR_STATE);
    assert_int_equal (chap_select (c, "5"), 0);
    assert_int_equal (chap_respond (c, "256", CHAL_HEX, NULL, 0), UIS_ERR_CHAP_ENCODING);
    assert_int_equal (chap_respond (c, "-1", CHAL_HEX, NULL, 0), UIS_ERR_CHAP_ENCODING);
    assert_int_equal (chap_respond (c, "42", "0102030405060708090a0b0c0d0e0f10", NULL, 0),
                      UIS_ERR_CHAP_ENCODING);
    assert_int_equal (chap_respond (c, "42", "0bAQIDBAUGBwgJCgsMDQ4PEA=", NULL, 0),
                      UIS_ERR_CHAP_ENCODING);
    assert_null (chap_response (c));
    assert_int_equal (chap_respond (c, "42", CHAL_B64, NULL, 0), 0);
    assert_string_equal (chap_response (c), s_expect_r[0]);
    /* only one response per login */
    assert_int_equal (chap_respond (c, "42", CHAL_B64, NULL, 0), UIS_ERR_STATE);
    chap_destroy (&c);
}

/* C2: the offer follows the preference list (default MD5 only); the
 * target's choice must be one single value we offered. */
static void
test_offer_and_select (void **state)
{
    (void)state;
    chap_config_t cfg = s_config (false);
    chap_t *c = chap_new (&cfg);
    assert_string_equal (chap_offer (c), "5");
    assert_int_equal (chap_algorithm (c), 0);
    assert_int_equal (chap_select (c, "7"), UIS_ERR_CHAP_ALGORITHM);
    assert_int_equal (chap_select (c, "5,7"), UIS_ERR_CHAP_ALGORITHM);
    assert_int_equal (chap_select (c, "Reject"), UIS_ERR_CHAP_ALGORITHM);
    assert_int_equal (chap_select (c, ""), UIS_ERR_CHAP_ALGORITHM);
    assert_int_equal (chap_select (c, NULL), UIS_ERR_CHAP_ALGORITHM);
    assert_int_equal (chap_algorithm (c), 0);
    assert_int_equal (chap_select (c, "5"), 0);
    assert_int_equal (chap_algorithm (c), CHAP_ALG_MD5);
    chap_destroy (&c);

    const chap_alg_t pref[] = {CHAP_ALG_SHA3_256, CHAP_ALG_SHA256, CHAP_ALG_SHA1,
                               CHAP_ALG_MD5};
    cfg.algs = pref;
    cfg.alg_count = 4;
    c = chap_new (&cfg);
    assert_string_equal (chap_offer (c), "8,7,6,5");
    assert_int_equal (chap_select (c, "9"), UIS_ERR_CHAP_ALGORITHM);
    assert_int_equal (chap_select (c, "7"), 0);
    assert_int_equal (chap_algorithm (c), CHAP_ALG_SHA256);
    chap_destroy (&c);

    const chap_alg_t sha[] = {CHAP_ALG_SHA256};
    cfg.algs = sha;
    cfg.alg_count = 1;
    c = chap_new (&cfg);
    assert_string_equal (chap_offer (c), "7");
    assert_int_equal (chap_select (c, "5"), UIS_ERR_CHAP_ALGORITHM);
    chap_destroy (&c);
}

static void
test_config_check (void **state)
{
    (void)state;
    chap_config_t cfg = s_config (true);
    assert_int_equal (chap_config_check (&cfg), 0);
    cfg.user = "";
    assert_int_equal (chap_config_check (&cfg), UIS_ERR_INVALID_ARG);
    cfg = s_config (false);
    cfg.secret_len = 0;
    assert_int_equal (chap_config_check (&cfg), UIS_ERR_INVALID_ARG);
    cfg.secret_len = CHAP_SECRET_MAX + 1;
    assert_int_equal (chap_config_check (&cfg), UIS_ERR_INVALID_ARG);
    assert_null (chap_new (&cfg));
    /* same secret both ways (RFC 7143 §12.1.3) */
    cfg = s_config (true);
    cfg.target_secret = (const uint8_t *)SECRET;
    cfg.target_secret_len = strlen (SECRET);
    assert_int_equal (chap_config_check (&cfg), UIS_ERR_INVALID_ARG);
    cfg = s_config (false);
    const chap_alg_t dup[] = {CHAP_ALG_MD5, CHAP_ALG_MD5};
    cfg.algs = dup;
    cfg.alg_count = 2;
    assert_int_equal (chap_config_check (&cfg), UIS_ERR_INVALID_ARG);
    const chap_alg_t unknown[] = {(chap_alg_t)4};
    cfg.algs = unknown;
    cfg.alg_count = 1;
    assert_int_equal (chap_config_check (&cfg), UIS_ERR_INVALID_ARG);
    cfg.alg_count = 5;
    cfg.algs = s_all;
    assert_int_equal (chap_config_check (&cfg), UIS_ERR_INVALID_ARG);
    assert_int_equal (chap_config_check (NULL), UIS_ERR_INVALID_ARG);
}

/* One-way response with each algorithm, both challenge encodings. */
static void
test_respond_one_way (void **state)
{
    (void)state;
    chap_config_t cfg = s_config (false);
    cfg.algs = s_all;
    cfg.alg_count = 4;
    for (int k = 0; k < 4; k++) {
        chap_t *c = chap_new (&cfg);
        char a[12];
        snprintf (a, sizeof a, "%d", 5 + k);
        assert_int_equal (chap_select (c, a), 0);
        assert_int_equal (chap_respond (c, "42", k % 2 ? CHAL_B64 : CHAL_HEX, NULL, 0),
                          0);
        assert_string_equal (chap_user (c), "uiscsi-user");
        assert_string_equal (chap_response (c), s_expect_r[k]);
        assert_null (chap_our_id (c));
        assert_null (chap_our_challenge (c));
        assert_int_equal (chap_verify_target (c, "x", "0x00"), UIS_ERR_STATE);
        chap_destroy (&c);
    }
}

/* C6: mutual CHAP: our CHAP_I / CHAP_C come from the random input, the
 * target's CHAP_R is verified, a wrong one (wrong target secret) fails. */
static void
test_mutual (void **state)
{
    (void)state;
    chap_config_t cfg = s_config (true);
    cfg.algs = s_all;
    cfg.alg_count = 4;
    uint8_t rnd[CHAP_RANDOM_LEN];
    s_fill_random (rnd);
    for (int k = 0; k < 4; k++) {
        chap_t *c = chap_new (&cfg);
        assert_true (chap_is_mutual (c));
        char a[12];
        snprintf (a, sizeof a, "%d", 5 + k);
        assert_int_equal (chap_select (c, a), 0);
        /* random missing or too short */
        assert_int_equal (chap_respond (c, "42", CHAL_HEX, NULL, 0), UIS_ERR_INVALID_ARG);
        assert_int_equal (chap_respond (c, "42", CHAL_HEX, rnd, 16), UIS_ERR_INVALID_ARG);
        assert_int_equal (chap_respond (c, "42", CHAL_HEX, rnd, sizeof rnd), 0);
        assert_string_equal (chap_response (c), s_expect_r[k]);
        assert_string_equal (chap_our_id (c), "7");
        size_t clen = k < 2 ? (k == 0 ? 16 : 20) : 32;
        size_t blen = 0;
        const uint8_t *cb = chap_our_challenge_bytes (c, &blen);
        assert_int_equal (blen, clen);
        assert_memory_equal (cb, rnd + 1, clen);
        const char *hex = chap_our_challenge (c);
        assert_int_equal (strlen (hex), 2 + 2 * clen);
        assert_memory_equal (hex, "0xa0a1a2a3a4a5a6a7a8a9aaabacadaeaf", 34);

        /* wrong name, wrong length, malformed, wrong value */
        assert_int_equal (chap_verify_target (c, "uiscsi-targetX", s_expect_target_r[k]),
                          UIS_ERR_AUTH_TARGET);
        assert_int_equal (chap_verify_target (c, NULL, s_expect_target_r[k]),
                          UIS_ERR_AUTH_TARGET);
        assert_int_equal (chap_verify_target (c, "uiscsi-target", "0x00"),
                          UIS_ERR_AUTH_TARGET);
        assert_int_equal (chap_verify_target (c, "uiscsi-target", "zz"),
                          UIS_ERR_AUTH_TARGET);
        assert_int_equal (chap_verify_target (c, "uiscsi-target", NULL),
                          UIS_ERR_AUTH_TARGET);
        char wrong[CHAP_HEX_MAX];
        strcpy (wrong, s_expect_target_r[k]);
        wrong[5] = wrong[5] == '0' ? '1' : '0';
        assert_int_equal (chap_verify_target (c, "uiscsi-target", wrong),
                          UIS_ERR_AUTH_TARGET);
        /* our own response reflected is not a valid proof */
        assert_int_equal (chap_verify_target (c, "uiscsi-target", s_expect_r[k]),
                          UIS_ERR_AUTH_TARGET);
        assert_int_equal (chap_verify_target (c, "uiscsi-target", s_expect_target_r[k]),
                          0);
        chap_destroy (&c);
    }
    /* A wrong target secret configured: the genuine target's answer fails. */
    cfg.target_secret = (const uint8_t *)"uiscsi-tsecret2";
    chap_t *c = chap_new (&cfg);
    assert_int_equal (chap_select (c, "5"), 0);
    assert_int_equal (chap_respond (c, "42", CHAL_HEX, rnd, sizeof rnd), 0);
    assert_int_equal (chap_verify_target (c, "uiscsi-target", s_expect_target_r[0]),
                      UIS_ERR_AUTH_TARGET);
    chap_destroy (&c);
}

/* C7: reflection: a target challenge equal to a challenge we sent is
 * refused; our challenge never equals the target's. */
static void
test_reflection (void **state)
{
    (void)state;
    uint8_t rnd[CHAP_RANDOM_LEN];
    s_fill_random (rnd);
    chap_config_t cfg = s_config (true);
    /* The previous login's challenge comes back as the target's. */
    chap_t *c = chap_new (&cfg);
    assert_int_equal (chap_select (c, "5"), 0);
    assert_int_equal (chap_respond (c, "42", CHAL_HEX, rnd, sizeof rnd), 0);
    size_t plen;
    const uint8_t *prev = chap_our_challenge_bytes (c, &plen);
    uint8_t saved[CHAP_DIGEST_MAX];
    memcpy (saved, prev, plen);
    char prev_hex[CHAP_HEX_MAX];
    assert_int_equal (chap_encode_hex (saved, plen, prev_hex, sizeof prev_hex), 0);
    chap_destroy (&c);

    cfg.prev_challenge = saved;
    cfg.prev_challenge_len = plen;
    c = chap_new (&cfg);
    assert_int_equal (chap_select (c, "5"), 0);
    uint8_t rnd2[CHAP_RANDOM_LEN];
    memset (rnd2, 0x33, sizeof rnd2);
    assert_int_equal (chap_respond (c, "42", prev_hex, rnd2, sizeof rnd2),
                      UIS_ERR_CHAP_CHALLENGE);
    assert_null (chap_response (c));
    chap_destroy (&c);

    /* The random challenge happens to equal the target's: refused. */
    cfg.prev_challenge = NULL;
    cfg.prev_challenge_len = 0;
    c = chap_new (&cfg);
    assert_int_equal (chap_select (c, "5"), 0);
    assert_int_equal (chap_respond (c, "42", prev_hex, rnd, sizeof rnd),
                      UIS_ERR_CHAP_CHALLENGE);
    /* An all-zero random input is refused rather than sent. */
    memset (rnd2, 0, sizeof rnd2);
    assert_int_equal (chap_respond (c, "42", CHAL_HEX, rnd2, sizeof rnd2),
                      UIS_ERR_INVALID_ARG);
    chap_destroy (&c);
}

/* C8: no error name or message contains the secret, whatever fails. */
static void
test_no_secret_in_errors (void **state)
{
    (void)state;
    for (int code = 0; code > -UIS_ERR__COUNT; code--) {
        assert_null (strstr (uis_err_name (code), "secret"));
        assert_null (strstr (uis_err_message (code), SECRET));
        assert_null (strstr (uis_err_message (code), TSECRET));
    }
    chap_destroy (NULL);
    chap_t *none = NULL;
    chap_destroy (&none);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_alg_names),
        cmocka_unit_test (test_digest_vectors),
        cmocka_unit_test (test_parse_id),
        cmocka_unit_test (test_decode_binary),
        cmocka_unit_test (test_encode_hex),
        cmocka_unit_test (test_check_challenge),
        cmocka_unit_test (test_respond_refuses_bad_challenge),
        cmocka_unit_test (test_respond_refuses_bad_encoding),
        cmocka_unit_test (test_offer_and_select),
        cmocka_unit_test (test_config_check),
        cmocka_unit_test (test_respond_one_way),
        cmocka_unit_test (test_mutual),
        cmocka_unit_test (test_reflection),
        cmocka_unit_test (test_no_secret_in_errors),
    };
    return cmocka_run_group_tests_name ("chap", tests, NULL, NULL);
}
