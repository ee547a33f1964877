/* fuzz_framer.c: the receive framer (proto/framer.c) on random streams
 * (conformance A8).
 *
 * Input: byte 0 selects the settings, the rest is the stream.
 *   bit 0: header digest        bit 1: data digest
 *   bit 2: big-endian digests   bits 3-4: MRDSL (8192, 512, 65536, 0)
 *   bit 5: flip the header digest setting after every PDU
 *   bits 6-7: seed of the split sizes
 * The stream goes through the push API (framer_feed) with varying splits
 * and through the pull API (framer_want / framer_wrote) with other splits,
 * installing a caller data buffer on every other FRAMER_HEADER. Both must
 * produce the same transcript (PDU headers, AHS, data, errors), and
 * nothing may crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/crc32c.h"
#include "proto/errors.h"
#include "proto/framer.h"
#include "proto/pdu.h"

#define CHECK(x)                                                                         \
    do {                                                                                 \
        if (!(x))                                                                        \
            abort ();                                                                    \
    } while (0)

static const uint32_t s_mrdsl[4] = {8192, 512, 65536, 0};

/* Caller-owned destination for the pull path (zero-copy mode). */
static uint8_t s_client[65536];

/* Running summary of everything a path saw. */
typedef struct {
    uint32_t crc;
    int pdus;
    int headers;
    int last_err;
} transcript_t;

/* Next split size from a tiny PRNG: mostly small, sometimes large. */
static size_t
s_split (uint32_t *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    uint32_t r = (*seed >> 16) & 0x7fff;
    switch (r & 3) {
    case 0:
        return 1;
    case 1:
        return 1 + (r >> 2) % 7;
    case 2:
        return 1 + (r >> 2) % 300;
    default:
        return 100000;
    }
}

/* Checks the frame's invariants and adds it to the transcript. */
static void
s_note_pdu (framer_t *f, transcript_t *t, uint32_t mrdsl)
{
    const framer_frame_t *fr = framer_frame (f);
    CHECK (fr != NULL);
    CHECK (pdu_opcode_known (fr->hdr.opcode));
    CHECK (fr->data_len == fr->hdr.data_segment_length);
    CHECK (fr->data_len <= mrdsl);
    CHECK (fr->ahs_len == (size_t)fr->hdr.total_ahs_length * 4);
    CHECK ((fr->data_len == 0) == (fr->data == NULL));
    CHECK (fr->ahs_fields != NULL);
    t->crc = crc32c_add (t->crc, &fr->hdr, sizeof fr->hdr);
    if (fr->ahs_len)
        t->crc = crc32c_add (t->crc, fr->ahs, fr->ahs_len);
    if (fr->data_len)
        t->crc = crc32c_add (t->crc, fr->data, fr->data_len);
    t->pdus++;
}

/* After a PDU, optionally flip the header digest setting (both paths do
 * it at the same point of the stream). */
static void
s_after_pdu (framer_t *f, pdu_digest_cfg_t *dig, bool flip)
{
    if (!flip)
        return;
    dig->header = !dig->header;
    framer_set_digests (f, dig);
}

/* Push path. */
static void
s_run_push (const uint8_t *buf, size_t len, uint8_t cfg, transcript_t *t)
{
    pdu_digest_cfg_t dig = {
        .header = cfg & 1, .data = (cfg >> 1) & 1, .big_endian = (cfg >> 2) & 1};
    uint32_t mrdsl = s_mrdsl[(cfg >> 3) & 3];
    bool flip = (cfg >> 5) & 1;
    uint32_t seed = (uint32_t)(cfg >> 6) + 1;
    framer_t *f = framer_new (mrdsl);
    CHECK (f != NULL);
    framer_set_digests (f, &dig);
    t->crc = crc32c_begin ();
    size_t off = 0;
    while (off < len) {
        size_t n = s_split (&seed);
        if (n > len - off)
            n = len - off;
        size_t used = 0;
        int rc = framer_feed (f, buf + off, n, &used);
        CHECK (used <= n);
        off += used;
        if (rc == FRAMER_MORE)
            CHECK (used == n);
        else if (rc == FRAMER_HEADER)
            t->headers++;
        else if (rc == FRAMER_PDU) {
            s_note_pdu (f, t, mrdsl);
            s_after_pdu (f, &dig, flip);
        }
        else if (rc == UIS_ERR_DATA_DIGEST) {
            t->crc = crc32c_add (t->crc, &rc, sizeof rc);
            CHECK (framer_at_boundary (f));
            s_after_pdu (f, &dig, flip);
        }
        else {
            CHECK (rc < 0);
            t->last_err = rc;
            /* Fatal errors are sticky. */
            size_t u2 = 0;
            CHECK (framer_feed (f, buf, len, &u2) == rc && u2 == 0);
            break;
        }
    }
    int eof = framer_eof (f);
    if (t->last_err)
        CHECK (eof == t->last_err);
    else
        t->crc = crc32c_add (t->crc, &eof, sizeof eof);
    CHECK (framer_mem (f) <= (mrdsl ? mrdsl : 1));
    framer_destroy (&f);
    CHECK (f == NULL);
}

/* Pull path. */
static void
s_run_pull (const uint8_t *buf, size_t len, uint8_t cfg, transcript_t *t)
{
    pdu_digest_cfg_t dig = {
        .header = cfg & 1, .data = (cfg >> 1) & 1, .big_endian = (cfg >> 2) & 1};
    uint32_t mrdsl = s_mrdsl[(cfg >> 3) & 3];
    bool flip = (cfg >> 5) & 1;
    uint32_t seed = (uint32_t)(cfg >> 6) + 77;
    framer_t *f = framer_new (mrdsl);
    CHECK (f != NULL);
    framer_set_digests (f, &dig);
    t->crc = crc32c_begin ();
    size_t off = 0;
    while (off < len) {
        uint8_t *p = NULL;
        size_t want = 0;
        int rc = framer_want (f, &p, &want);
        if (rc < 0) {
            t->last_err = rc;
            break;
        }
        CHECK (p != NULL && want > 0);
        size_t n = s_split (&seed);
        if (n > want)
            n = want;
        if (n > len - off)
            n = len - off;
        memcpy (p, buf + off, n);
        off += n;
        rc = framer_wrote (f, n);
        if (rc == FRAMER_HEADER) {
            t->headers++;
            const framer_frame_t *fr = framer_frame (f);
            CHECK (fr != NULL && fr->data_len > 0 && fr->data_len <= mrdsl);
            if (t->headers % 2 == 0)
                CHECK (framer_set_data_buf (f, s_client, sizeof s_client) == 0);
        }
        else if (rc == FRAMER_PDU) {
            s_note_pdu (f, t, mrdsl);
            s_after_pdu (f, &dig, flip);
        }
        else if (rc == UIS_ERR_DATA_DIGEST) {
            t->crc = crc32c_add (t->crc, &rc, sizeof rc);
            s_after_pdu (f, &dig, flip);
        }
        else if (rc < 0) {
            t->last_err = rc;
            break;
        }
    }
    int eof = framer_eof (f);
    if (t->last_err)
        CHECK (eof == t->last_err);
    else
        t->crc = crc32c_add (t->crc, &eof, sizeof eof);
    framer_destroy (&f);
}

/* libFuzzer entry point. */
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t cfg = data[0];
    transcript_t a, b;
    memset (&a, 0, sizeof a);
    memset (&b, 0, sizeof b);
    s_run_push (data + 1, size - 1, cfg, &a);
    s_run_pull (data + 1, size - 1, cfg, &b);
    CHECK (a.pdus == b.pdus);
    CHECK (a.headers == b.headers);
    CHECK (a.last_err == b.last_err);
    CHECK (a.crc == b.crc);
    return 0;
}
