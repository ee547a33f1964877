/* fuzz_negotiate.c: random target answers fed to a negotiation context
 * (A8, B7-B10). Input: byte 0 = options (session type, strict, expected
 * TPGT, digest overrides, when our offer is made), then up to 8 target
 * responses separated by 0xff bytes, each one LTDS processed in a stage
 * chosen by the options. Invariants (abort on violation): replies parse
 * back; a successful result has every value inside its RFC 7143 range and
 * FirstBurstLength <= MaxBurstLength, and renders. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/errors.h"
#include "proto/negotiate.h"

/* Aborts unless the reply list encodes to a valid strict LTDS. */
static void
s_check_reply (uis_text_t *reply)
{
    size_t len;
    const uint8_t *enc = uis_text_encode (reply, &len);
    if (!enc)
        abort ();
    uis_text_t *back = uis_text_new ();
    if (!back
        || uis_text_parse (back, enc, len, UIS_TEXT_STRICT | UIS_TEXT_ALLOW_DUP) != 0)
        abort ();
    if (uis_text_size (back) != uis_text_size (reply))
        abort ();
    uis_text_destroy (&back);
}

/* Aborts when a negotiated value leaves its range. */
static void
s_check_params (const uis_neg_params_t *p)
{
    if (p->first_burst > p->max_burst || p->max_burst < 512 || p->max_burst > 16777215
        || p->first_burst < 512 || p->max_recv_dsl_initiator < 512
        || p->max_recv_dsl_initiator > 16777215 || p->max_recv_dsl_target < 512
        || p->max_recv_dsl_target > 16777215 || p->erl > 2 || p->default_time2wait > 3600
        || p->default_time2retain > 3600 || p->max_outstanding_r2t < 1
        || p->max_outstanding_r2t > 65535 || p->max_connections < 1
        || p->max_connections > 65535 || p->protocol_level > 31 || p->task_reporting > 2)
        abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t opt = data[0];
    data++;
    size--;
    uis_negotiate_t *n = uis_negotiate_new ((opt & 1) ? UIS_NEG_SESSION_DISCOVERY
                                                      : UIS_NEG_SESSION_NORMAL);
    uis_text_t *in = uis_text_new ();
    uis_text_t *out = uis_text_new ();
    uis_text_t *reply = uis_text_new ();
    if (!n || !in || !out || !reply)
        abort ();
    uis_negotiate_set_strict (n, (opt & 2) != 0);
    if (opt & 4)
        uis_negotiate_expect_tpgt (n, 1);
    if (opt & 8) {
        if (uis_negotiate_set (n, "HeaderDigest", "CRC32C") != 0
            || uis_negotiate_set (n, "DataDigest", "CRC32C,None") != 0)
            abort ();
    }
    if ((opt & 0x10) && !(opt & 1)
        && (uis_negotiate_set (n, "TaskReporting", "FastAbort,RFC3720") != 0
            || uis_negotiate_require (n, "ErrorRecoveryLevel") != 0))
        abort ();
    bool offer_first = (opt & 0x20) == 0;
    uis_neg_stage_t stage = (opt & 0xc0) == 0xc0 ? UIS_NEG_STAGE_FFP
                            : (opt & 0x40)       ? UIS_NEG_STAGE_SECURITY
                                                 : UIS_NEG_STAGE_OPERATIONAL;
    if (offer_first && uis_negotiate_offer (n, UIS_NEG_STAGE_OPERATIONAL, out) != 0)
        abort ();
    int rc = 0;
    size_t off = 0;
    for (int msg = 0; msg < 8 && off <= size && rc == 0; msg++) {
        const uint8_t *sep = off < size ? memchr (data + off, 0xff, size - off) : NULL;
        size_t len = sep ? (size_t)(sep - (data + off)) : size - off;
        if (uis_text_parse (in, data + off, len, 0) == 0) {
            uis_text_clear (reply);
            rc = uis_negotiate_process (n, stage, in, reply);
            if (rc == 0)
                s_check_reply (reply);
            (void)uis_negotiate_pending (n);
        }
        if (msg == 0 && !offer_first) {
            uis_text_clear (out);
            if (uis_negotiate_offer (n, UIS_NEG_STAGE_OPERATIONAL, out) != 0)
                abort ();
        }
        off += len + 1;
        if (!sep)
            break;
    }
    if (rc == 0) {
        uis_neg_params_t p;
        if (uis_negotiate_result (n, &p) == 0) {
            s_check_params (&p);
            uis_text_clear (out);
            if (uis_neg_params_render (&p, out) != 0)
                abort ();
        }
    }
    if (uis_negotiate_peer_mrdsl (n) < 512 || uis_negotiate_peer_mrdsl (n) > 16777215)
        abort ();
    uis_text_destroy (&reply);
    uis_text_destroy (&out);
    uis_text_destroy (&in);
    uis_negotiate_destroy (&n);
    return 0;
}
