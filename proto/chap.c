/* chap.c: iSCSI CHAP for the initiator (RFC 7143 §12.1.3, RFC 1994). */
#include "chap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "ascii.h"
#include "errors.h"

struct chap {
    char *user;
    uint8_t *secret;
    size_t secret_len;
    char *target_user; /* NULL: one-way */
    uint8_t *target_secret;
    size_t target_secret_len;
    chap_alg_t algs[CHAP_ALG_LIST_MAX];
    size_t alg_count;
    char offer[CHAP_ALG_LIST_MAX * 4 + 1];
    uint8_t prev_challenge[CHAP_BINARY_MAX];
    size_t prev_challenge_len;
    int alg;        /* selected, 0 before chap_select */
    bool responded; /* chap_respond succeeded */
    char response[CHAP_HEX_MAX];
    uint8_t our_id;
    char our_id_str[4];
    uint8_t our_challenge[CHAP_DIGEST_MAX];
    size_t our_challenge_len;
    char our_challenge_hex[CHAP_HEX_MAX];
};

/* The EVP digest of an algorithm number, NULL when unknown. */
static const EVP_MD *
s_md (int alg)
{
    switch (alg) {
    case CHAP_ALG_MD5:
        return EVP_md5 ();
    case CHAP_ALG_SHA1:
        return EVP_sha1 ();
    case CHAP_ALG_SHA256:
        return EVP_sha256 ();
    case CHAP_ALG_SHA3_256:
        return EVP_sha3_256 ();
    default:
        return NULL;
    }
}

size_t
chap_alg_digest_len (int alg)
{
    switch (alg) {
    case CHAP_ALG_MD5:
        return 16;
    case CHAP_ALG_SHA1:
        return 20;
    case CHAP_ALG_SHA256:
    case CHAP_ALG_SHA3_256:
        return 32;
    default:
        return 0;
    }
}

const char *
chap_alg_name (int alg)
{
    switch (alg) {
    case CHAP_ALG_MD5:
        return "MD5";
    case CHAP_ALG_SHA1:
        return "SHA-1";
    case CHAP_ALG_SHA256:
        return "SHA-256";
    case CHAP_ALG_SHA3_256:
        return "SHA3-256";
    default:
        return "unknown";
    }
}

int
chap_alg_from_name (const char *name, chap_alg_t *alg)
{
    static const struct {
        const char *name;
        chap_alg_t alg;
    } names[] = {
        {"MD5", CHAP_ALG_MD5},           {"SHA-1", CHAP_ALG_SHA1},
        {"SHA1", CHAP_ALG_SHA1},         {"SHA-256", CHAP_ALG_SHA256},
        {"SHA256", CHAP_ALG_SHA256},     {"SHA3-256", CHAP_ALG_SHA3_256},
        {"SHA3_256", CHAP_ALG_SHA3_256},
    };
    if (!name || !alg)
        return UIS_ERR_INVALID_ARG;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcasecmp (name, names[i].name) == 0) {
            *alg = names[i].alg;
            return 0;
        }
    return UIS_ERR_INVALID_ARG;
}

int
chap_parse_number (const char *value, uint32_t max, uint32_t *out)
{
    if (!value || !out)
        return UIS_ERR_CHAP_ENCODING;
    uint64_t v = 0;
    const char *p = value;
    bool hex = p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
    if (hex)
        p += 2;
    if (*p == '\0')
        return UIS_ERR_CHAP_ENCODING;
    bool big = false;
    for (; *p; p++) {
        int d = hex ? hex_digit_value (*p) : (*p >= '0' && *p <= '9' ? *p - '0' : -1);
        if (d < 0)
            return UIS_ERR_CHAP_ENCODING;
        if (!big) {
            v = v * (hex ? 16 : 10) + (uint64_t)d;
            if (v > 0xffffffffu)
                big = true;
        }
    }
    if (big || v > max)
        return UIS_ERR_OUT_OF_RANGE;
    *out = (uint32_t)v;
    return 0;
}

int
chap_parse_id (const char *value, uint8_t *id)
{
    uint32_t v;
    if (!id || chap_parse_number (value, 255, &v) != 0)
        return UIS_ERR_CHAP_ENCODING;
    *id = (uint8_t)v;
    return 0;
}

/* Decodes hex digits (after the prefix); see chap_decode_binary. */
static int
s_decode_hex (const char *p, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t len = (n + 1) / 2;
    for (size_t i = 0; i < n; i++)
        if (hex_digit_value (p[i]) < 0)
            return UIS_ERR_CHAP_ENCODING;
    if (len > cap)
        return UIS_ERR_TOO_LONG;
    size_t o = 0, i = 0;
    if (n % 2) /* odd count: implied leading zero nibble (RFC 7143 §6.1) */
        out[o++] = (uint8_t)hex_digit_value (p[i++]);
    for (; i < n; i += 2)
        out[o++] = (uint8_t)(hex_digit_value (p[i]) << 4 | hex_digit_value (p[i + 1]));
    *out_len = len;
    return 0;
}

/* Decodes base64 digits (after the prefix); see chap_decode_binary. */
static int
s_decode_b64 (const char *p, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
    size_t digits = n;
    while (digits > 0 && p[digits - 1] == '=')
        digits--;
    size_t pads = n - digits;
    if (digits == 0 || pads > 2 || digits % 4 == 1 || (pads && n % 4 != 0))
        return UIS_ERR_CHAP_ENCODING;
    for (size_t i = 0; i < digits; i++)
        if (b64_digit_value (p[i]) < 0)
            return UIS_ERR_CHAP_ENCODING;
    /* Padding, when present, must be exactly what the digit count implies. */
    if (pads && pads != (4 - digits % 4) % 4)
        return UIS_ERR_CHAP_ENCODING;
    size_t len = digits * 3 / 4;
    if (len > cap)
        return UIS_ERR_TOO_LONG;
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < digits; i++) {
        acc = (acc << 6) | (uint32_t)b64_digit_value (p[i]);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* non-canonical: leftover bits must be zero */
        return UIS_ERR_CHAP_ENCODING;
    *out_len = len;
    return 0;
}

int
chap_decode_binary (const char *value, uint8_t *out, size_t cap, size_t *out_len)
{
    if (!value || !out || !out_len)
        return UIS_ERR_CHAP_ENCODING;
    if (value[0] != '0')
        return UIS_ERR_CHAP_ENCODING;
    /* Bound the scan: a longer string cannot decode to <= CHAP_BINARY_MAX. */
    size_t n = strnlen (value, 2 + 2 * CHAP_BINARY_MAX + 2);
    if (n > 2 + 2 * CHAP_BINARY_MAX)
        return UIS_ERR_TOO_LONG;
    if (n < 3)
        return UIS_ERR_CHAP_ENCODING;
    if (value[1] == 'x' || value[1] == 'X')
        return s_decode_hex (value + 2, n - 2, out, cap, out_len);
    if (value[1] == 'b' || value[1] == 'B')
        return s_decode_b64 (value + 2, n - 2, out, cap, out_len);
    return UIS_ERR_CHAP_ENCODING;
}

int
chap_encode_hex (const uint8_t *bin, size_t len, char *buf, size_t cap)
{
    static const char digits[] = "0123456789abcdef";
    if (!buf || (!bin && len))
        return UIS_ERR_INVALID_ARG;
    if (cap < 3 || len > (cap - 3) / 2)
        return UIS_ERR_BUFFER_TOO_SMALL;
    buf[0] = '0';
    buf[1] = 'x';
    for (size_t i = 0; i < len; i++) {
        buf[2 + 2 * i] = digits[bin[i] >> 4];
        buf[3 + 2 * i] = digits[bin[i] & 15];
    }
    buf[2 + 2 * len] = '\0';
    return 0;
}

int
chap_check_challenge (const uint8_t *challenge, size_t len)
{
    if (!challenge || len < CHAP_CHALLENGE_MIN || len > CHAP_BINARY_MAX)
        return UIS_ERR_CHAP_CHALLENGE;
    uint8_t any = 0;
    for (size_t i = 0; i < len; i++)
        any |= challenge[i];
    return any ? 0 : UIS_ERR_CHAP_CHALLENGE;
}

int
chap_digest (int alg, uint8_t id, const uint8_t *secret, size_t secret_len,
             const uint8_t *challenge, size_t challenge_len, uint8_t *out)
{
    const EVP_MD *md = s_md (alg);
    if (!md)
        return UIS_ERR_CHAP_ALGORITHM;
    if (!out || (!secret && secret_len) || (!challenge && challenge_len))
        return UIS_ERR_INVALID_ARG;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
    if (!ctx)
        return UIS_ERR_NOMEM;
    unsigned int len = 0;
    int ok = EVP_DigestInit_ex (ctx, md, NULL) == 1 && EVP_DigestUpdate (ctx, &id, 1) == 1
             && EVP_DigestUpdate (ctx, secret, secret_len) == 1
             && EVP_DigestUpdate (ctx, challenge, challenge_len) == 1
             && EVP_DigestFinal_ex (ctx, out, &len) == 1
             && len == chap_alg_digest_len (alg);
    /* EVP_MD_CTX_free cleanses the context, which held secret-derived state. */
    EVP_MD_CTX_free (ctx);
    return ok ? 0 : UIS_ERR_UNSUPPORTED;
}

/* true when a NUL-terminated name has 1..CHAP_NAME_MAX bytes. */
static bool
s_name_ok (const char *name)
{
    if (!name)
        return false;
    size_t n = strnlen (name, CHAP_NAME_MAX + 1);
    return n >= 1 && n <= CHAP_NAME_MAX;
}

int
chap_config_check (const chap_config_t *cfg)
{
    if (!cfg || !s_name_ok (cfg->user))
        return UIS_ERR_INVALID_ARG;
    if (!cfg->secret || cfg->secret_len == 0 || cfg->secret_len > CHAP_SECRET_MAX)
        return UIS_ERR_INVALID_ARG;
    if (cfg->target_user) {
        if (!s_name_ok (cfg->target_user) || !cfg->target_secret
            || cfg->target_secret_len == 0 || cfg->target_secret_len > CHAP_SECRET_MAX)
            return UIS_ERR_INVALID_ARG;
        /* RFC 7143 §12.1.3: a secret for initiator authentication must not
         * be used for target authentication (reflection defence, C7). */
        if (cfg->target_secret_len == cfg->secret_len
            && CRYPTO_memcmp (cfg->target_secret, cfg->secret, cfg->secret_len) == 0)
            return UIS_ERR_INVALID_ARG;
    }
    if (cfg->alg_count > CHAP_ALG_LIST_MAX || (cfg->alg_count && !cfg->algs))
        return UIS_ERR_INVALID_ARG;
    for (size_t i = 0; i < cfg->alg_count; i++) {
        if (!s_md ((int)cfg->algs[i]))
            return UIS_ERR_INVALID_ARG;
        for (size_t j = 0; j < i; j++)
            if (cfg->algs[j] == cfg->algs[i])
                return UIS_ERR_INVALID_ARG;
    }
    if (cfg->prev_challenge_len > CHAP_BINARY_MAX
        || (cfg->prev_challenge_len && !cfg->prev_challenge))
        return UIS_ERR_INVALID_ARG;
    return 0;
}

/* Copies n bytes into a fresh buffer (NUL-terminated for convenience). */
static void *
s_dup (const void *src, size_t n)
{
    char *p = malloc (n + 1);
    if (p) {
        memcpy (p, src, n);
        p[n] = '\0';
    }
    return p;
}

chap_t *
chap_new (const chap_config_t *cfg)
{
    if (chap_config_check (cfg) != 0)
        return NULL;
    chap_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->user = s_dup (cfg->user, strlen (cfg->user));
    self->secret = s_dup (cfg->secret, cfg->secret_len);
    self->secret_len = cfg->secret_len;
    bool ok = self->user && self->secret;
    if (cfg->target_user) {
        self->target_user = s_dup (cfg->target_user, strlen (cfg->target_user));
        self->target_secret = s_dup (cfg->target_secret, cfg->target_secret_len);
        self->target_secret_len = cfg->target_secret_len;
        ok = ok && self->target_user && self->target_secret;
    }
    if (!ok) {
        chap_destroy (&self);
        return NULL;
    }
    if (cfg->alg_count == 0) {
        self->algs[0] = CHAP_ALG_MD5;
        self->alg_count = 1;
    }
    else {
        memcpy (self->algs, cfg->algs, cfg->alg_count * sizeof cfg->algs[0]);
        self->alg_count = cfg->alg_count;
    }
    size_t o = 0;
    for (size_t i = 0; i < self->alg_count; i++) {
        if (i)
            self->offer[o++] = ',';
        self->offer[o++] = (char)('0' + (int)self->algs[i]); /* all are 5..8 */
    }
    self->offer[o] = '\0';
    if (cfg->prev_challenge_len) {
        memcpy (self->prev_challenge, cfg->prev_challenge, cfg->prev_challenge_len);
        self->prev_challenge_len = cfg->prev_challenge_len;
    }
    return self;
}

void
chap_destroy (chap_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    chap_t *self = *self_p;
    if (self->secret)
        OPENSSL_cleanse (self->secret, self->secret_len);
    if (self->target_secret)
        OPENSSL_cleanse (self->target_secret, self->target_secret_len);
    free (self->user);
    free (self->secret);
    free (self->target_user);
    free (self->target_secret);
    OPENSSL_cleanse (self, sizeof *self);
    free (self);
    *self_p = NULL;
}

bool
chap_is_mutual (const chap_t *self)
{
    return self && self->target_user != NULL;
}

const char *
chap_offer (const chap_t *self)
{
    return self ? self->offer : NULL;
}

int
chap_select (chap_t *self, const char *chap_a)
{
    if (!self)
        return UIS_ERR_INVALID_ARG;
    uint32_t v;
    if (chap_parse_number (chap_a, 255, &v) != 0)
        return UIS_ERR_CHAP_ALGORITHM;
    for (size_t i = 0; i < self->alg_count; i++)
        if ((uint32_t)self->algs[i] == v) {
            self->alg = (int)v;
            return 0;
        }
    return UIS_ERR_CHAP_ALGORITHM;
}

int
chap_algorithm (const chap_t *self)
{
    return self ? self->alg : 0;
}

int
chap_respond (chap_t *self, const char *chap_i, const char *chap_c, const uint8_t *random,
              size_t random_len)
{
    if (!self)
        return UIS_ERR_INVALID_ARG;
    if (!self->alg || self->responded)
        return UIS_ERR_STATE;
    uint8_t id;
    if (chap_parse_id (chap_i, &id) != 0)
        return UIS_ERR_CHAP_ENCODING;
    uint8_t *challenge = malloc (CHAP_BINARY_MAX);
    if (!challenge)
        return UIS_ERR_NOMEM;
    size_t clen = 0;
    int rc = chap_decode_binary (chap_c, challenge, CHAP_BINARY_MAX, &clen);
    if (rc == UIS_ERR_TOO_LONG)
        rc = UIS_ERR_CHAP_CHALLENGE; /* C3: longer than the RFC's limit */
    else if (rc != 0)
        rc = UIS_ERR_CHAP_ENCODING;
    if (rc == 0)
        rc = chap_check_challenge (challenge, clen);
    /* C7: a challenge we sent before, reflected back at us. */
    if (rc == 0 && self->prev_challenge_len == clen
        && memcmp (self->prev_challenge, challenge, clen) == 0)
        rc = UIS_ERR_CHAP_CHALLENGE;
    size_t dlen = chap_alg_digest_len (self->alg);
    size_t our_len = dlen > CHAP_CHALLENGE_MIN ? dlen : CHAP_CHALLENGE_MIN;
    if (rc == 0 && self->target_user) {
        if (!random || random_len < 1 + our_len)
            rc = UIS_ERR_INVALID_ARG;
        /* RFC 7143 §12.1.3: never send the target's own challenge back. */
        else if (our_len == clen && memcmp (random + 1, challenge, clen) == 0)
            rc = UIS_ERR_CHAP_CHALLENGE;
        else if (chap_check_challenge (random + 1, our_len) != 0)
            rc = UIS_ERR_INVALID_ARG; /* an all-zero "random" input */
    }
    uint8_t digest[CHAP_DIGEST_MAX];
    if (rc == 0)
        rc = chap_digest (self->alg, id, self->secret, self->secret_len, challenge, clen,
                          digest);
    if (rc == 0)
        rc = chap_encode_hex (digest, dlen, self->response, sizeof self->response);
    OPENSSL_cleanse (digest, sizeof digest);
    OPENSSL_cleanse (challenge, CHAP_BINARY_MAX);
    free (challenge);
    if (rc != 0)
        return rc;
    if (self->target_user) {
        self->our_id = random[0];
        snprintf (self->our_id_str, sizeof self->our_id_str, "%u",
                  (unsigned)self->our_id);
        memcpy (self->our_challenge, random + 1, our_len);
        self->our_challenge_len = our_len;
        rc = chap_encode_hex (self->our_challenge, our_len, self->our_challenge_hex,
                              sizeof self->our_challenge_hex);
        if (rc != 0)
            return rc;
    }
    self->responded = true;
    return 0;
}

const char *
chap_user (const chap_t *self)
{
    return self ? self->user : NULL;
}

const char *
chap_response (const chap_t *self)
{
    return self && self->responded ? self->response : NULL;
}

const char *
chap_our_id (const chap_t *self)
{
    return self && self->responded && self->target_user ? self->our_id_str : NULL;
}

const char *
chap_our_challenge (const chap_t *self)
{
    return self && self->responded && self->target_user ? self->our_challenge_hex : NULL;
}

const uint8_t *
chap_our_challenge_bytes (const chap_t *self, size_t *len)
{
    if (!self || !self->responded || !self->target_user) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = self->our_challenge_len;
    return self->our_challenge;
}

int
chap_verify_target (chap_t *self, const char *chap_n, const char *chap_r)
{
    if (!self)
        return UIS_ERR_INVALID_ARG;
    if (!self->target_user || !self->responded)
        return UIS_ERR_STATE;
    /* C7: the target must name itself as configured. */
    if (!chap_n || strnlen (chap_n, CHAP_NAME_MAX + 1) > CHAP_NAME_MAX
        || strcmp (chap_n, self->target_user) != 0)
        return UIS_ERR_AUTH_TARGET;
    size_t dlen = chap_alg_digest_len (self->alg);
    uint8_t got[CHAP_DIGEST_MAX], want[CHAP_DIGEST_MAX];
    size_t got_len = 0;
    int rc = chap_decode_binary (chap_r, got, sizeof got, &got_len);
    if (rc != 0 || got_len != dlen)
        rc = UIS_ERR_AUTH_TARGET;
    if (rc == 0)
        rc = chap_digest (self->alg, self->our_id, self->target_secret,
                          self->target_secret_len, self->our_challenge,
                          self->our_challenge_len, want);
    /* C6: constant-time comparison of the target's proof. */
    if (rc == 0 && CRYPTO_memcmp (got, want, dlen) != 0)
        rc = UIS_ERR_AUTH_TARGET;
    OPENSSL_cleanse (want, sizeof want);
    OPENSSL_cleanse (got, sizeof got);
    return rc;
}
