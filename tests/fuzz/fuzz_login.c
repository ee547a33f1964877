/* fuzz_login.c: the login state machine against a hostile target (A8, B*,
 * C*), and the Text exchange machine (textx.h, B17, B18) on the same input
 * format. Input: byte 0 picks the configuration (bits 0-1: 0
 * AuthMethod=None, 1 CHAP, 2 mutual CHAP, 3 discovery; bit 2: our text
 * split at 16 bytes; bit 3: fix ITT, ISID and DataSegmentLength up so that
 * deeper states are reached; bit 4: CHAP,None allowed; bit 5: drive a
 * SendTargets Text exchange instead of a login). The rest is a sequence of
 * responses,
 * each a 48-byte BHS followed by DataSegmentLength bytes of data (cut at
 * the end of the input). Every request the machine hands out is encoded
 * too. Each response consumes at least 48 bytes, so the run terminates;
 * the machine's own limits bound its memory. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/chap.h"
#include "proto/errors.h"
#include "proto/login.h"
#include "proto/pdu.h"
#include "proto/text.h"
#include "proto/textx.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Hands out every pending request and encodes it (as a sender would). */
static void
s_drain (login_t *lg)
{
    static uint8_t wire[PDU_HEADER_MAX + LOGIN_DSL + PDU_TRAILER_MAX];
    for (int i = 0; i < 4 && login_state (lg) == LOGIN_SEND; i++) {
        pdu_t pdu;
        const uint8_t *d;
        size_t n, out;
        if (login_next_request (lg, &pdu, &d, &n) != 0)
            abort (); /* LOGIN_SEND promises a request */
        if (n > LOGIN_DSL || pdu.data_segment_length != n)
            abort ();
        if (pdu_encode (&pdu, NULL, d, n, NULL, wire, sizeof wire, &out) != 0)
            abort ();
    }
}

/* Takes the next response from the input: decodes its BHS into *pdu and
 * points *seg / *seg_len at its data. false when the input is exhausted or
 * the BHS does not decode (the bytes are consumed either way). */
static bool
s_next_response (const uint8_t *data, size_t size, size_t *off, bool fixup, pdu_t *pdu,
                 const uint8_t **seg, size_t *seg_len, bool *ok)
{
    if (size - *off < PDU_BHS_LEN)
        return false;
    const uint8_t *bhs = data + *off;
    *off += PDU_BHS_LEN;
    size_t dsl = (size_t)bhs[5] << 16 | (size_t)bhs[6] << 8 | bhs[7];
    size_t take = dsl < size - *off ? dsl : size - *off;
    *seg = take ? data + *off : NULL;
    *seg_len = take;
    *off += take;
    *ok = pdu_bhs_decode (bhs, pdu) == 0;
    if (*ok && fixup) {
        pdu->itt = 0x1000;
        pdu->data_segment_length = (uint32_t)take;
    }
    return true;
}

/* A SendTargets exchange fed with the responses of the input. */
static void
s_fuzz_textx (const uint8_t *data, size_t size, uint8_t mode)
{
    textx_config_t cfg = {.max_send_dsl = (mode & 4) ? 16 : 0, .max_total = 16384};
    textx_t *tx = textx_new (&cfg);
    if (!tx)
        abort ();
    uis_text_t *req = uis_text_new ();
    if (!req || uis_text_add (req, "SendTargets", "All") != 0
        || uis_text_add (req, "X-com.example.fuzz", "abcdefghijklmnop") != 0
        || textx_start (tx, req, 0x1000) != 0)
        abort ();
    size_t off = 0;
    uint32_t cmdsn = 1;
    for (;;) {
        static uint8_t wire[PDU_HEADER_MAX + 64 + PDU_TRAILER_MAX];
        if (textx_state (tx) == TEXTX_SEND) {
            pdu_t q;
            const uint8_t *d;
            size_t n, out;
            if (textx_next_request (tx, cmdsn++, 1, &q, &d, &n) != 0 || n > 64
                || pdu_encode (&q, NULL, d, n, NULL, wire, sizeof wire, &out) != 0)
                abort ();
        }
        if (textx_state (tx) != TEXTX_WAIT)
            break;
        pdu_t pdu;
        const uint8_t *seg;
        size_t seg_len;
        bool ok;
        if (!s_next_response (data, size, &off, (mode & 8) != 0, &pdu, &seg, &seg_len,
                              &ok))
            break;
        if (ok && textx_handle_response (tx, &pdu, seg, seg_len) != 0
            && textx_state (tx) != TEXTX_FAILED)
            abort ();
    }
    if (textx_state (tx) == TEXTX_DONE) {
        size_t n;
        if (!textx_response (tx, &n) || n > 16384)
            abort ();
        uis_text_t *out = uis_text_new ();
        if (out)
            (void)textx_response_parse (tx, out, 0);
        uis_text_destroy (&out);
    }
    uis_text_destroy (&req);
    textx_destroy (&tx);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    data++;
    size--;
    if (mode & 0x20) {
        s_fuzz_textx (data, size, mode);
        return 0;
    }

    static const uint8_t random[CHAP_RANDOM_LEN] = {
        7,    0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9,
        0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf, 0xb0, 0xb1, 0xb2, 0xb3, 0xb4,
        0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf};
    static const chap_alg_t algs[] = {CHAP_ALG_SHA3_256, CHAP_ALG_SHA256, CHAP_ALG_SHA1,
                                      CHAP_ALG_MD5};
    login_config_t cfg = {
        .initiator_name = "iqn.2026-11.dev.uiscsi:fuzz",
        .target_name = "iqn.2026-11.dev.uiscsi:disk",
        .isid = {0x80, 0x12, 0x34, 0x56, 0x00, 0x01},
        .cid = 1,
        .itt = 0x1000,
        .cmdsn = 5,
        .max_send_dsl = (mode & 4) ? 16 : 0,
        .auth_allow_none = (mode & 16) != 0,
    };
    switch (mode & 3) {
    case 2:
        cfg.chap.target_user = "iqn.fuzz:target";
        cfg.chap.target_secret = (const uint8_t *)"fuzz-tsecret";
        cfg.chap.target_secret_len = 12;
        cfg.random = random;
        cfg.random_len = sizeof random;
        /* fall through */
    case 1:
        cfg.auth = LOGIN_AUTH_CHAP;
        cfg.chap.user = "iqn.fuzz:user";
        cfg.chap.secret = (const uint8_t *)"fuzz-secret1";
        cfg.chap.secret_len = 12;
        cfg.chap.algs = algs;
        cfg.chap.alg_count = 4;
        break;
    case 3:
        cfg.discovery = true;
        cfg.target_name = NULL;
        break;
    default:
        break;
    }
    login_t *lg = login_new (&cfg, NULL);
    if (!lg)
        abort ();
    if (login_start (lg) != 0)
        abort ();
    size_t off = 0;
    while (size - off >= PDU_BHS_LEN) {
        s_drain (lg);
        if (login_state (lg) != LOGIN_WAIT)
            break;
        uint8_t bhs[PDU_BHS_LEN];
        memcpy (bhs, data + off, PDU_BHS_LEN);
        off += PDU_BHS_LEN;
        size_t dsl = (size_t)bhs[5] << 16 | (size_t)bhs[6] << 8 | bhs[7];
        size_t take = dsl < size - off ? dsl : size - off;
        pdu_t pdu;
        if (pdu_bhs_decode (bhs, &pdu) != 0) {
            off += take;
            continue;
        }
        if (mode & 8) {
            pdu.itt = cfg.itt;
            pdu.data_segment_length = (uint32_t)take;
            if (pdu.opcode == PDU_OP_LOGIN_RSP)
                memcpy (pdu.u.login_rsp.isid, cfg.isid, PDU_ISID_LEN);
        }
        int rc = login_handle_response (lg, &pdu, take ? data + off : NULL, take);
        off += take;
        const login_result_t *res = login_result (lg);
        if (rc != 0 && res->error == 0)
            abort (); /* a failure always leaves its code in the result */
        if (!res->detail || !res->side || !res->status_name)
            abort ();
    }
    login_state_t st = login_state (lg);
    if (st == LOGIN_DONE && login_result (lg)->error != 0)
        abort ();
    login_destroy (&lg);
    return 0;
}
