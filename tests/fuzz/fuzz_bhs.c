/* fuzz_bhs.c: BHS decode, AHS parse and re-encode (proto/pdu.c) on random
 * bytes (conformance A8).
 *
 * Input: 48 bytes of BHS, then AHS bytes (any length; those beyond 1020
 * are ignored); the AHS is parsed whatever the BHS says. Properties:
 * - decode never reads past 48 bytes (ASan) and fails only with
 *   UIS_ERR_PDU_OPCODE;
 * - decode -> encode -> decode is stable (same struct, same bytes);
 * - an AHS that parses re-encodes to bytes that parse to the same AHS;
 * - the CDB split between BHS and AHS survives get -> set -> get;
 * - pdu_header_build with that AHS and a header digest yields a header
 *   whose TotalAHSLength, AHS and digest are consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/crc32c.h"
#include "proto/errors.h"
#include "proto/pdu.h"

#define CHECK(x)                                                                         \
    do {                                                                                 \
        if (!(x))                                                                        \
            abort ();                                                                    \
    } while (0)

/* Two parsed AHS sets are the same (only the meaningful bytes). */
static bool
s_ahs_equal (const pdu_ahs_t *a, const pdu_ahs_t *b)
{
    return a->ext_cdb_len == b->ext_cdb_len
           && memcmp (a->ext_cdb, b->ext_cdb, a->ext_cdb_len) == 0
           && a->has_bidi_read_len == b->has_bidi_read_len
           && a->bidi_read_len == b->bidi_read_len;
}

/* AHS parse -> encode -> parse. Returns true when buf parsed. */
static bool
s_ahs_round_trip (const uint8_t *buf, size_t len, pdu_ahs_t *ahs)
{
    int rc = pdu_ahs_parse (buf, len, ahs);
    if (rc) {
        CHECK (rc == UIS_ERR_PDU_AHS);
        return false;
    }
    uint8_t out[PDU_AHS_MAX];
    size_t n = 0;
    CHECK (pdu_ahs_encode (ahs, out, sizeof out, &n) == 0);
    CHECK (n == pdu_ahs_len (ahs));
    CHECK (n == len);
    pdu_ahs_t again;
    CHECK (pdu_ahs_parse (out, n, &again) == 0);
    CHECK (s_ahs_equal (ahs, &again));
    uint8_t out2[PDU_AHS_MAX];
    size_t n2 = 0;
    CHECK (pdu_ahs_encode (&again, out2, sizeof out2, &n2) == 0);
    CHECK (n2 == n && memcmp (out, out2, n) == 0);
    return true;
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < PDU_BHS_LEN) {
        pdu_ahs_t a;
        (void)s_ahs_round_trip (data, size, &a);
        return 0;
    }
    /* Copy to an exact-size heap buffer so ASan catches any over-read. */
    uint8_t *bhs = malloc (PDU_BHS_LEN);
    CHECK (bhs != NULL);
    memcpy (bhs, data, PDU_BHS_LEN);
    const uint8_t *rest = data + PDU_BHS_LEN;
    size_t rest_len = size - PDU_BHS_LEN;
    if (rest_len > PDU_AHS_MAX)
        rest_len = PDU_AHS_MAX;

    pdu_t p;
    int rc = pdu_bhs_decode (bhs, &p);
    CHECK (pdu_opcode_name (bhs[0] & 0x3f) != NULL);
    if (rc) {
        CHECK (rc == UIS_ERR_PDU_OPCODE);
        CHECK (!pdu_opcode_known (bhs[0] & 0x3f));
        free (bhs);
        pdu_ahs_t a;
        (void)s_ahs_round_trip (rest, rest_len, &a);
        return 0;
    }
    CHECK (pdu_opcode_known (p.opcode));
    CHECK (p.data_segment_length <= PDU_DSL_MAX);

    uint8_t enc[PDU_BHS_LEN], enc2[PDU_BHS_LEN];
    CHECK (pdu_bhs_encode (&p, enc) == 0);
    pdu_t q;
    CHECK (pdu_bhs_decode (enc, &q) == 0);
    CHECK (memcmp (&p, &q, sizeof p) == 0);
    CHECK (pdu_bhs_encode (&q, enc2) == 0);
    CHECK (memcmp (enc, enc2, PDU_BHS_LEN) == 0);
    /* Common fields are kept as on the wire. */
    CHECK (enc[4] == bhs[4] && memcmp (enc + 5, bhs + 5, 3) == 0);
    CHECK (memcmp (enc + 16, bhs + 16, 4) == 0);
    free (bhs);

    pdu_ahs_t ahs;
    bool have_ahs = s_ahs_round_trip (rest, rest_len, &ahs);
    if (!have_ahs)
        memset (&ahs, 0, sizeof ahs);

    /* CDB get -> set -> get (for any opcode: the union bytes are just
     * reinterpreted, which is fine for this property). */
    if (p.opcode == PDU_OP_SCSI_CMD) {
        uint8_t cdb[PDU_CDB_MAX];
        size_t clen = 0;
        CHECK (pdu_cdb_get (&p, &ahs, cdb, sizeof cdb, &clen) == 0);
        CHECK (clen >= PDU_CDB_BHS_LEN && clen <= PDU_CDB_MAX);
        pdu_t p2 = p;
        pdu_ahs_t a2 = ahs;
        CHECK (pdu_cdb_set (&p2, &a2, cdb, clen) == 0);
        CHECK (memcmp (&p2, &p, sizeof p) == 0);
        CHECK (s_ahs_equal (&a2, &ahs));
    }

    /* Whole header with AHS and digests. */
    pdu_digest_cfg_t dig = {
        .header = (p.itt & 1) != 0, .data = true, .big_endian = (p.itt & 2) != 0};
    uint8_t hdr[PDU_HEADER_MAX];
    size_t hlen = 0;
    CHECK (pdu_header_build (&p, &ahs, &dig, hdr, sizeof hdr, &hlen) == 0);
    size_t alen = pdu_ahs_len (&ahs);
    CHECK (hlen == PDU_BHS_LEN + alen + (dig.header ? PDU_DIGEST_LEN : 0));
    CHECK (hdr[4] * 4u == alen);
    if (dig.header)
        CHECK (crc32c_get (hdr + PDU_BHS_LEN + alen, dig.big_endian)
               == crc32c (hdr, PDU_BHS_LEN + alen));
    pdu_t r;
    CHECK (pdu_bhs_decode (hdr, &r) == 0);
    pdu_ahs_t ra;
    CHECK (pdu_ahs_parse (hdr + PDU_BHS_LEN, alen, &ra) == 0);
    CHECK (s_ahs_equal (&ra, &ahs));
    r.total_ahs_length = p.total_ahs_length;
    CHECK (memcmp (&r, &p, sizeof p) == 0);

    /* The data trailer for a data segment of the decoded length would be
     * pad + digest; use a small stand-in of DSL mod 8 bytes. */
    uint8_t tr[PDU_TRAILER_MAX];
    size_t tl = 0;
    pdu_iov_t piece = {hdr, p.data_segment_length % 8};
    CHECK (pdu_data_trailer (&piece, 1, &dig, tr, &tl) == 0);
    CHECK (tl == (piece.len ? pdu_pad_len (piece.len) + 4 : 0));
    return 0;
}
