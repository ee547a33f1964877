/* test_framer.c: the receive framing state machine (proto/framer.c).
 *
 * Conformance ids covered: A1 (1 byte per call vs 3 PDUs in one call,
 * push and pull), A2 (DSL 1/2/3/5 with data digest over data + pad), A3
 * (DSL 0 with DataDigest on: no digest expected), A4 (header digest over
 * BHS + AHS), A5 (unknown opcode 0x1c), A6 (DSL above MRDSL, no
 * allocation), A7 (stream cut inside a PDU), D4/D5 (header digest error is
 * fatal, data digest error is recoverable), B10 (MRDSL enforced per
 * direction on receive). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto/crc32c.h"
#include "proto/errors.h"
#include "proto/framer.h"
#include "proto/pdu.h"

#define MAX_PDUS 8

/* One received PDU, copied out of the framer for comparison. */
typedef struct {
    pdu_t hdr;
    size_t ahs_len;
    uint8_t ahs[64];
    size_t data_len;
    uint8_t data[512];
} rx_t;

/* A batch of received PDUs. */
typedef struct {
    rx_t pdu[MAX_PDUS];
    int count;
    int headers; /* FRAMER_HEADER events seen */
} rxset_t;

/* Copies the framer's current PDU into set. */
static void
s_record (framer_t *f, rxset_t *set)
{
    const framer_frame_t *fr = framer_frame (f);
    assert_non_null (fr);
    assert_true (set->count < MAX_PDUS);
    rx_t *r = &set->pdu[set->count++];
    memset (r, 0, sizeof *r);
    r->hdr = fr->hdr;
    assert_true (fr->ahs_len <= sizeof r->ahs);
    r->ahs_len = fr->ahs_len;
    if (fr->ahs_len)
        memcpy (r->ahs, fr->ahs, fr->ahs_len);
    assert_true (fr->data_len <= sizeof r->data);
    r->data_len = fr->data_len;
    if (fr->data_len) {
        assert_non_null (fr->data);
        memcpy (r->data, fr->data, fr->data_len);
    }
    else
        assert_null (fr->data);
}

/* Feeds len bytes in chunks of step bytes (push API); records PDUs.
 * Returns 0 or the first error. */
static int
s_push (framer_t *f, const uint8_t *buf, size_t len, size_t step, rxset_t *set)
{
    size_t off = 0;
    int guard = 0;
    while (off < len) {
        assert_true (++guard < 100000);
        size_t chunk = len - off < step ? len - off : step;
        size_t used = 0;
        int rc = framer_feed (f, buf + off, chunk, &used);
        assert_true (used <= chunk);
        off += used;
        if (rc < 0)
            return rc;
        if (rc == FRAMER_HEADER)
            set->headers++;
        if (rc == FRAMER_PDU)
            s_record (f, set);
        if (rc == FRAMER_MORE)
            assert_int_equal (used, chunk);
    }
    return 0;
}

/* Pulls len bytes through framer_want/framer_wrote, "reading" at most
 * step bytes at a time; when client is set, installs client as the data
 * destination at each FRAMER_HEADER. Returns 0 or the first error. */
static int
s_pull (framer_t *f, const uint8_t *buf, size_t len, size_t step, rxset_t *set,
        uint8_t *client, size_t client_cap)
{
    size_t off = 0;
    int guard = 0;
    while (off < len) {
        assert_true (++guard < 100000);
        uint8_t *p;
        size_t want;
        int rc = framer_want (f, &p, &want);
        if (rc < 0)
            return rc;
        assert_true (want > 0);
        size_t n = want;
        if (n > step)
            n = step;
        if (n > len - off)
            n = len - off;
        memcpy (p, buf + off, n); /* the read() */
        off += n;
        rc = framer_wrote (f, n);
        if (rc < 0)
            return rc;
        if (rc == FRAMER_HEADER) {
            set->headers++;
            if (client)
                assert_int_equal (framer_set_data_buf (f, client, client_cap), 0);
        }
        if (rc == FRAMER_PDU)
            s_record (f, set);
    }
    return 0;
}

/* Appends one encoded PDU to buf at *len. */
static void
s_add (uint8_t *buf, size_t cap, size_t *len, const pdu_t *p, const pdu_ahs_t *ahs,
       const void *data, size_t dlen, const pdu_digest_cfg_t *dig)
{
    size_t n = 0;
    assert_int_equal (pdu_encode (p, ahs, data, dlen, dig, buf + *len, cap - *len, &n),
                      0);
    *len += n;
}

/* Builds the three-PDU stream of A1: Data-In (5 bytes, S), NOP-In (no
 * data) and a SCSI Command with an extended CDB AHS and 18 bytes of data. */
static size_t
s_three_pdus (uint8_t *buf, size_t cap, const pdu_digest_cfg_t *dig)
{
    size_t len = 0;
    pdu_t p;
    memset (&p, 0, sizeof p);
    p.opcode = PDU_OP_DATA_IN;
    p.final = true;
    p.itt = 0x10;
    p.lun = 0x0001000000000000ull;
    p.u.data_in.status_present = true;
    p.u.data_in.ttt = PDU_RESERVED_TAG;
    p.u.data_in.statsn = 0x55;
    p.u.data_in.datasn = 0;
    s_add (buf, cap, &len, &p, NULL, "hello", 5, dig);

    memset (&p, 0, sizeof p);
    p.opcode = PDU_OP_NOP_IN;
    p.final = true;
    p.itt = PDU_RESERVED_TAG;
    p.u.nop_in.ttt = 0x1234;
    p.u.nop_in.statsn = 0x56;
    s_add (buf, cap, &len, &p, NULL, NULL, 0, dig);

    memset (&p, 0, sizeof p);
    p.opcode = PDU_OP_SCSI_CMD;
    p.final = true;
    p.itt = 0x11;
    p.u.scsi_cmd.write = true;
    pdu_ahs_t ahs;
    memset (&ahs, 0, sizeof ahs);
    uint8_t cdb[32];
    for (int i = 0; i < 32; i++)
        cdb[i] = (uint8_t)(0xa0 + i);
    assert_int_equal (pdu_cdb_set (&p, &ahs, cdb, 32), 0);
    s_add (buf, cap, &len, &p, &ahs, "0123456789abcdefgh", 18, dig);
    return len;
}

/* Checks the three PDUs of s_three_pdus were received intact. */
static void
s_check_three (const rxset_t *s)
{
    assert_int_equal (s->count, 3);
    assert_int_equal (s->headers, 2); /* PDUs with data only */
    assert_int_equal (s->pdu[0].hdr.opcode, PDU_OP_DATA_IN);
    assert_int_equal (s->pdu[0].hdr.itt, 0x10);
    assert_true (s->pdu[0].hdr.u.data_in.status_present);
    assert_int_equal (s->pdu[0].data_len, 5);
    assert_memory_equal (s->pdu[0].data, "hello", 5);
    assert_int_equal (s->pdu[1].hdr.opcode, PDU_OP_NOP_IN);
    assert_int_equal (s->pdu[1].hdr.u.nop_in.ttt, 0x1234);
    assert_int_equal (s->pdu[1].data_len, 0);
    assert_int_equal (s->pdu[2].hdr.opcode, PDU_OP_SCSI_CMD);
    assert_int_equal (s->pdu[2].hdr.total_ahs_length, 5);
    assert_int_equal (s->pdu[2].ahs_len, 20);
    assert_int_equal (s->pdu[2].ahs[3 + 1], 0xb0); /* first extended CDB byte */
    assert_int_equal (s->pdu[2].data_len, 18);
    assert_memory_equal (s->pdu[2].data, "0123456789abcdefgh", 18);
}

/* Asserts two received sets are identical. */
static void
s_same (const rxset_t *a, const rxset_t *b)
{
    assert_int_equal (a->count, b->count);
    for (int i = 0; i < a->count; i++) {
        assert_memory_equal (&a->pdu[i].hdr, &b->pdu[i].hdr, sizeof (pdu_t));
        assert_int_equal (a->pdu[i].ahs_len, b->pdu[i].ahs_len);
        assert_memory_equal (a->pdu[i].ahs, b->pdu[i].ahs, a->pdu[i].ahs_len);
        assert_int_equal (a->pdu[i].data_len, b->pdu[i].data_len);
        assert_memory_equal (a->pdu[i].data, b->pdu[i].data, a->pdu[i].data_len);
    }
}

/* A1: 1 byte per call and 3 PDUs in one call parse identically, with and
 * without digests, through push and pull, with odd split sizes too. */
static void
test_a1_splits (void **state)
{
    (void)state;
    static const pdu_digest_cfg_t digs[3] = {
        {false, false, false}, {true, true, false}, {true, true, true}};
    for (int d = 0; d < 3; d++) {
        uint8_t buf[1024];
        size_t len = s_three_pdus (buf, sizeof buf, &digs[d]);
        rxset_t whole, bytes, pulled, odd;
        memset (&whole, 0, sizeof whole);
        memset (&bytes, 0, sizeof bytes);
        memset (&pulled, 0, sizeof pulled);
        memset (&odd, 0, sizeof odd);

        framer_t *f = framer_new (8192);
        assert_non_null (f);
        framer_set_digests (f, &digs[d]);
        assert_int_equal (s_push (f, buf, len, len, &whole), 0);
        assert_int_equal (framer_eof (f), 0);
        s_check_three (&whole);

        framer_reset (f);
        assert_int_equal (s_push (f, buf, len, 1, &bytes), 0);
        s_check_three (&bytes);
        s_same (&whole, &bytes);

        framer_reset (f);
        assert_int_equal (s_pull (f, buf, len, 1, &pulled, NULL, 0), 0);
        s_check_three (&pulled);
        s_same (&whole, &pulled);

        for (size_t step = 2; step < 60; step += 7) {
            memset (&odd, 0, sizeof odd);
            framer_reset (f);
            assert_int_equal (s_push (f, buf, len, step, &odd), 0);
            s_same (&whole, &odd);
            memset (&odd, 0, sizeof odd);
            assert_int_equal (s_pull (f, buf, len, step, &odd, NULL, 0), 0);
            s_same (&whole, &odd);
        }
        framer_destroy (&f);
        assert_null (f);
    }
}

/* A2: DSL 1, 2, 3, 5 with data digest: pad skipped, digest over data +
 * pad verified; pad content is not checked but is covered by the digest;
 * a bad digest is UIS_ERR_DATA_DIGEST and recoverable (D5). */
static void
test_a2_padding_digest (void **state)
{
    (void)state;
    static const size_t lens[4] = {1, 2, 3, 5};
    pdu_digest_cfg_t dig = {.header = false, .data = true};
    framer_t *f = framer_new (8192);
    framer_set_digests (f, &dig);
    for (int i = 0; i < 4; i++) {
        uint8_t buf[128];
        size_t len = 0;
        pdu_t p;
        memset (&p, 0, sizeof p);
        p.opcode = PDU_OP_DATA_IN;
        p.itt = (uint32_t)i;
        s_add (buf, sizeof buf, &len, &p, NULL, "ABCDE", lens[i], &dig);
        size_t pad = pdu_pad_len (lens[i]);
        assert_int_equal (len, 48 + lens[i] + pad + 4);
        for (size_t k = 0; k < pad; k++) /* zero pad on the wire */
            assert_int_equal (buf[48 + lens[i] + k], 0);
        rxset_t s;
        memset (&s, 0, sizeof s);
        assert_int_equal (s_push (f, buf, len, 1, &s), 0);
        assert_int_equal (s.count, 1);
        assert_int_equal (s.pdu[0].data_len, lens[i]);
        assert_memory_equal (s.pdu[0].data, "ABCDE", lens[i]);

        /* Non-zero pad with a digest computed over it: accepted. */
        buf[48 + lens[i]] = 0x5a;
        uint8_t *dg = buf + 48 + lens[i] + pad;
        crc32c_put (dg, crc32c (buf + 48, lens[i] + pad), false);
        memset (&s, 0, sizeof s);
        assert_int_equal (s_push (f, buf, len, len, &s), 0);
        assert_int_equal (s.count, 1);

        /* Corrupt digest: recoverable error, header still visible, and the
         * next PDU parses. */
        dg[0] ^= 1;
        size_t used = 0;
        assert_int_equal (framer_feed (f, buf, len, &used), FRAMER_HEADER);
        assert_int_equal (used, 48);
        assert_int_equal (framer_feed (f, buf + 48, len - 48, &used),
                          UIS_ERR_DATA_DIGEST);
        assert_int_equal (used, len - 48);
        const framer_frame_t *fr = framer_frame (f);
        assert_non_null (fr);
        assert_int_equal (fr->hdr.itt, (uint32_t)i);
        assert_true (framer_at_boundary (f));
        dg[0] ^= 1;
        memset (&s, 0, sizeof s);
        assert_int_equal (s_push (f, buf, len, 3, &s), 0);
        assert_int_equal (s.count, 1);
    }
    framer_destroy (&f);
}

/* A3: DSL 0 with DataDigest on: no data digest expected; the next PDU's
 * first byte follows the header directly. */
static void
test_a3_no_digest_for_empty (void **state)
{
    (void)state;
    pdu_digest_cfg_t dig = {.header = true, .data = true};
    uint8_t buf[256];
    size_t len = 0;
    pdu_t p;
    memset (&p, 0, sizeof p);
    p.opcode = PDU_OP_NOP_IN;
    p.itt = 1;
    s_add (buf, sizeof buf, &len, &p, NULL, NULL, 0, &dig);
    assert_int_equal (len, 52);
    p.itt = 2;
    s_add (buf, sizeof buf, &len, &p, NULL, NULL, 0, &dig);
    framer_t *f = framer_new (8192);
    framer_set_digests (f, &dig);
    size_t used = 0;
    assert_int_equal (framer_feed (f, buf, len, &used), FRAMER_PDU);
    assert_int_equal (used, 52);
    assert_int_equal (framer_frame (f)->hdr.itt, 1);
    assert_int_equal (framer_feed (f, buf + 52, len - 52, &used), FRAMER_PDU);
    assert_int_equal (used, 52);
    assert_int_equal (framer_frame (f)->hdr.itt, 2);
    assert_int_equal (framer_eof (f), 0);
    framer_destroy (&f);
}

/* A4 / D4: the header digest covers BHS + AHS; a flipped AHS byte is a
 * fatal UIS_ERR_HEADER_DIGEST until framer_reset. */
static void
test_a4_header_digest_covers_ahs (void **state)
{
    (void)state;
    pdu_digest_cfg_t dig = {.header = true, .data = false};
    uint8_t buf[1024];
    size_t len = s_three_pdus (buf, sizeof buf, &dig);
    framer_t *f = framer_new (8192);
    framer_set_digests (f, &dig);
    rxset_t s;
    memset (&s, 0, sizeof s);
    assert_int_equal (s_push (f, buf, len, 13, &s), 0);
    s_check_three (&s);
    /* Third PDU starts after 48+4+5+3 and 48+4. Flip a byte of its AHS. */
    size_t third = 60 + 52;
    assert_int_equal (buf[third], PDU_OP_SCSI_CMD);
    buf[third + 48 + 6] ^= 0x01;
    memset (&s, 0, sizeof s);
    assert_int_equal (s_push (f, buf, len, len, &s), UIS_ERR_HEADER_DIGEST);
    assert_int_equal (s.count, 2);
    /* Sticky until reset. */
    size_t used = 0;
    assert_int_equal (framer_feed (f, buf, 10, &used), UIS_ERR_HEADER_DIGEST);
    assert_int_equal (used, 0);
    uint8_t *p;
    size_t w;
    assert_int_equal (framer_want (f, &p, &w), UIS_ERR_HEADER_DIGEST);
    assert_int_equal (framer_eof (f), UIS_ERR_HEADER_DIGEST);
    framer_reset (f);
    buf[third + 48 + 6] ^= 0x01;
    memset (&s, 0, sizeof s);
    assert_int_equal (s_push (f, buf, len, len, &s), 0);
    s_check_three (&s);
    /* A flipped BHS byte also fails, with the big-endian digest setting. */
    dig.big_endian = true;
    len = s_three_pdus (buf, sizeof buf, &dig);
    framer_set_digests (f, &dig);
    memset (&s, 0, sizeof s);
    assert_int_equal (s_push (f, buf, len, len, &s), 0);
    assert_int_equal (s.count, 3);
    buf[20] ^= 0x80;
    memset (&s, 0, sizeof s);
    assert_int_equal (s_push (f, buf, len, 7, &s), UIS_ERR_HEADER_DIGEST);
    assert_int_equal (s.count, 0);
    framer_destroy (&f);
}

/* A5: opcode 0x1c from the target is UIS_ERR_PDU_OPCODE (the caller drops
 * the connection); no crash, fatal until reset. */
static void
test_a5_unknown_opcode (void **state)
{
    (void)state;
    uint8_t buf[48 + 16];
    memset (buf, 0, sizeof buf);
    buf[0] = 0x1c;
    buf[1] = 0x80;
    buf[7] = 16; /* DSL 16 */
    framer_t *f = framer_new (8192);
    rxset_t s;
    memset (&s, 0, sizeof s);
    assert_int_equal (s_push (f, buf, sizeof buf, 1, &s), UIS_ERR_PDU_OPCODE);
    assert_int_equal (s.count, 0);
    assert_null (framer_frame (f));
    assert_int_equal (framer_eof (f), UIS_ERR_PDU_OPCODE);
    assert_int_equal (framer_mem (f), 0);
    framer_reset (f);
    assert_int_equal (framer_eof (f), 0);
    /* Via pull as well. */
    memset (&s, 0, sizeof s);
    assert_int_equal (s_pull (f, buf, sizeof buf, 64, &s, NULL, 0), UIS_ERR_PDU_OPCODE);
    framer_destroy (&f);
}

/* A6 / B10: DSL above MRDSL (here 0xFFFFFF, the 24-bit maximum, ~16 MiB,
 * against MRDSL 262144) is refused once the header is in, before any data
 * buffer exists. DSL = MRDSL exactly is accepted. */
static void
test_a6_dsl_limit (void **state)
{
    (void)state;
    pdu_t p;
    memset (&p, 0, sizeof p);
    p.opcode = PDU_OP_DATA_IN;
    p.data_segment_length = 0xFFFFFF;
    uint8_t bhs[PDU_BHS_LEN];
    assert_int_equal (pdu_bhs_encode (&p, bhs), 0);
    framer_t *f = framer_new (262144);
    size_t used = 0;
    assert_int_equal (framer_feed (f, bhs, sizeof bhs, &used), UIS_ERR_PDU_DSL_LIMIT);
    assert_int_equal (used, 48);
    assert_int_equal (framer_mem (f), 0); /* nothing allocated */
    /* The header is still visible for logging. */
    assert_non_null (framer_frame (f));
    assert_int_equal (framer_frame (f)->hdr.data_segment_length, 0xFFFFFF);
    framer_reset (f);
    /* Exactly MRDSL: fine (header event, then data). */
    p.data_segment_length = 262144;
    assert_int_equal (pdu_bhs_encode (&p, bhs), 0);
    assert_int_equal (framer_feed (f, bhs, sizeof bhs, &used), FRAMER_HEADER);
    assert_int_equal (framer_mem (f), 0); /* not until data is wanted */
    assert_int_equal (framer_eof (f), UIS_ERR_TRUNCATED);
    /* The limit can change between PDUs; it applies from the next one. */
    framer_reset (f);
    framer_set_max_recv_dsl (f, 1000);
    assert_int_equal (framer_feed (f, bhs, sizeof bhs, &used), UIS_ERR_PDU_DSL_LIMIT);
    framer_destroy (&f);
}

/* A7: EOF with the BHS complete and the data cut, or mid-BHS, or mid
 * digest, is UIS_ERR_TRUNCATED; at a boundary it is 0. */
static void
test_a7_truncated (void **state)
{
    (void)state;
    pdu_digest_cfg_t dig = {.header = true, .data = true};
    uint8_t buf[1024];
    size_t len = s_three_pdus (buf, sizeof buf, &dig);
    framer_t *f = framer_new (8192);
    framer_set_digests (f, &dig);
    assert_int_equal (framer_eof (f), 0);
    /* Every proper prefix that does not end on a PDU boundary. */
    size_t bounds[4] = {0, 64, 116, len};
    for (size_t cut = 0; cut <= len; cut++) {
        framer_reset (f);
        rxset_t s;
        memset (&s, 0, sizeof s);
        assert_int_equal (s_push (f, buf, cut, 5, &s), 0);
        bool boundary = false;
        for (int b = 0; b < 4; b++)
            if (cut == bounds[b])
                boundary = true;
        assert_int_equal (framer_eof (f), boundary ? 0 : UIS_ERR_TRUNCATED);
        assert_int_equal (framer_at_boundary (f), boundary);
    }
    framer_destroy (&f);
}

/* Zero copy: with the pull API the caller installs its own buffer at
 * FRAMER_HEADER; the data lands there, the framer allocates nothing, and
 * pad/digest never touch the caller buffer beyond DSL. */
static void
test_pull_zero_copy (void **state)
{
    (void)state;
    pdu_digest_cfg_t dig = {.header = true, .data = true};
    uint8_t buf[1024];
    size_t len = s_three_pdus (buf, sizeof buf, &dig);
    framer_t *f = framer_new (8192);
    framer_set_digests (f, &dig);
    uint8_t client[32];
    memset (client, 0xcc, sizeof client);
    rxset_t s;
    memset (&s, 0, sizeof s);
    /* Install for each data PDU; data PDUs are 5 and 18 bytes. */
    assert_int_equal (s_pull (f, buf, len, 1000, &s, client, 18), 0);
    s_check_three (&s);
    assert_int_equal (framer_mem (f), 0);
    assert_memory_equal (client, "0123456789abcdefgh", 18);
    assert_int_equal (client[18], 0xcc); /* nothing past DSL */
    const framer_frame_t *fr = framer_frame (f);
    assert_true (fr->data_external);
    assert_ptr_equal (fr->data, client);

    /* Misuse: install outside the header window, or too small. */
    framer_reset (f);
    assert_int_equal (framer_set_data_buf (f, client, 32), UIS_ERR_STATE);
    size_t used;
    assert_int_equal (framer_feed (f, buf, 52, &used), FRAMER_HEADER);
    assert_int_equal (framer_set_data_buf (f, client, 4), UIS_ERR_BUFFER_TOO_SMALL);
    assert_int_equal (framer_set_data_buf (f, NULL, 32), UIS_ERR_INVALID_ARG);
    assert_int_equal (framer_set_data_buf (f, client, 5), 0);
    assert_int_equal (framer_feed (f, buf + 52, 2, &used), FRAMER_MORE);
    assert_int_equal (framer_set_data_buf (f, client, 32), UIS_ERR_STATE);
    /* wrote beyond want is refused without harm. */
    uint8_t *p;
    size_t w;
    assert_int_equal (framer_want (f, &p, &w), 0);
    assert_int_equal (w, 3);
    assert_ptr_equal (p, client + 2);
    assert_int_equal (framer_wrote (f, 4), UIS_ERR_INVALID_ARG);
    memcpy (p, buf + 54, 3);
    assert_int_equal (framer_wrote (f, 3), FRAMER_MORE);
    assert_int_equal (framer_wrote (f, 1), UIS_ERR_INVALID_ARG); /* no want */
    assert_int_equal (framer_wrote (f, 0), FRAMER_MORE);
    assert_int_equal (framer_feed (f, buf + 57, 7, &used), FRAMER_PDU);
    assert_memory_equal (client, "hello", 5);
    framer_destroy (&f);
}

/* Steady state: the framer-owned buffer is reused; no growth after the
 * largest PDU has been seen. */
static void
test_buffer_reuse (void **state)
{
    (void)state;
    framer_t *f = framer_new (65536);
    static uint8_t data[4096];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)i;
    static uint8_t buf[8192];
    size_t mem_after_first = 0;
    for (int i = 0; i < 100; i++) {
        size_t len = 0;
        pdu_t p;
        memset (&p, 0, sizeof p);
        p.opcode = PDU_OP_DATA_IN;
        p.u.data_in.datasn = (uint32_t)i;
        size_t dl = (size_t)(i % 2 ? 4096 : 100 + i);
        s_add (buf, sizeof buf, &len, &p, NULL, data, dl, NULL);
        size_t used = 0, off = 0;
        int rc = FRAMER_MORE;
        for (int k = 0; k < 4 && rc != FRAMER_PDU; k++) {
            rc = framer_feed (f, buf + off, len - off, &used);
            off += used;
        }
        assert_int_equal (rc, FRAMER_PDU);
        assert_int_equal (off, len);
        const framer_frame_t *fr = framer_frame (f);
        assert_int_equal (fr->hdr.u.data_in.datasn, (uint32_t)i);
        assert_memory_equal (fr->data, data, dl);
        assert_false (fr->data_external);
        if (i == 1)
            mem_after_first = framer_mem (f);
        if (i > 1)
            assert_int_equal (framer_mem (f), mem_after_first);
    }
    assert_true (mem_after_first >= 4096);
    assert_true (mem_after_first <= 65536);
    framer_destroy (&f);
}

/* Settings change exactly between PDUs: a final login response without
 * digests, then in the same segment a PDU with both digests. */
static void
test_settings_between_pdus (void **state)
{
    (void)state;
    pdu_digest_cfg_t none = {0};
    pdu_digest_cfg_t both = {.header = true, .data = true};
    uint8_t buf[512];
    size_t len = 0;
    pdu_t p;
    memset (&p, 0, sizeof p);
    p.opcode = PDU_OP_LOGIN_RSP;
    p.u.login_rsp.transit = true;
    p.u.login_rsp.csg = 1;
    p.u.login_rsp.nsg = 3;
    s_add (buf, sizeof buf, &len, &p, NULL, "HeaderDigest=CRC32C", 20, &none);
    size_t first = len;
    memset (&p, 0, sizeof p);
    p.opcode = PDU_OP_NOP_IN;
    p.itt = 9;
    s_add (buf, sizeof buf, &len, &p, NULL, "ping", 4, &both);

    framer_t *f = framer_new (8192);
    size_t off = 0, used = 0;
    int rc = framer_feed (f, buf, len, &used);
    assert_int_equal (rc, FRAMER_HEADER);
    off += used;
    rc = framer_feed (f, buf + off, len - off, &used);
    assert_int_equal (rc, FRAMER_PDU);
    off += used;
    assert_int_equal (off, first); /* stopped exactly at the boundary */
    assert_int_equal (framer_frame (f)->hdr.opcode, PDU_OP_LOGIN_RSP);
    framer_set_digests (f, &both);
    rxset_t s;
    memset (&s, 0, sizeof s);
    assert_int_equal (s_push (f, buf + off, len - off, 1000, &s), 0);
    assert_int_equal (s.count, 1);
    assert_int_equal (s.pdu[0].hdr.itt, 9);
    assert_memory_equal (s.pdu[0].data, "ping", 4);
    assert_int_equal (framer_eof (f), 0);
    /* A change in the middle of a PDU applies to the next one only. */
    assert_int_equal (framer_feed (f, buf + first, 10, &used), FRAMER_MORE);
    framer_set_digests (f, NULL);
    memset (&s, 0, sizeof s);
    assert_int_equal (s_push (f, buf + first + 10, len - first - 10, 1000, &s), 0);
    assert_int_equal (s.count, 1);
    framer_destroy (&f);
}

/* Malformed AHS in a received header is UIS_ERR_PDU_AHS. */
static void
test_bad_ahs (void **state)
{
    (void)state;
    uint8_t buf[48 + 8];
    memset (buf, 0, sizeof buf);
    buf[0] = PDU_OP_SCSI_CMD;
    buf[4] = 2;  /* 8 bytes of AHS */
    buf[48] = 0; /* AHSLength 9: runs past TotalAHSLength */
    buf[49] = 9;
    buf[50] = 1;
    framer_t *f = framer_new (8192);
    size_t used;
    assert_int_equal (framer_feed (f, buf, sizeof buf, &used), UIS_ERR_PDU_AHS);
    framer_destroy (&f);
    framer_destroy (&f); /* NULL-safe */
    assert_int_equal (framer_eof (NULL), UIS_ERR_INVALID_ARG);
    assert_int_equal (framer_feed (NULL, buf, 1, &used), UIS_ERR_INVALID_ARG);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_a1_splits),
        cmocka_unit_test (test_a2_padding_digest),
        cmocka_unit_test (test_a3_no_digest_for_empty),
        cmocka_unit_test (test_a4_header_digest_covers_ahs),
        cmocka_unit_test (test_a5_unknown_opcode),
        cmocka_unit_test (test_a6_dsl_limit),
        cmocka_unit_test (test_a7_truncated),
        cmocka_unit_test (test_pull_zero_copy),
        cmocka_unit_test (test_buffer_reuse),
        cmocka_unit_test (test_settings_between_pdus),
        cmocka_unit_test (test_bad_ahs),
    };
    return cmocka_run_group_tests_name ("proto framer", tests, NULL, NULL);
}
