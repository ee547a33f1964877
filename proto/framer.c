/* framer.c: iSCSI receive framing state machine. See framer.h.
 *
 * The pull API (framer_want / framer_wrote) is the core; the push API
 * (framer_feed) is a loop over it that copies from the caller's bytes. */
#include "proto/framer.h"

#include <stdlib.h>
#include <string.h>

#include "proto/crc32c.h"
#include "proto/errors.h"

/* Stages of one PDU. */
typedef enum {
    S_BHS,      /* receiving the 48-byte BHS */
    S_HDR_REST, /* receiving AHS + header digest */
    S_DATA,     /* receiving the data segment */
    S_TRAIL,    /* receiving pad + data digest */
    S_READY,    /* a PDU (or a data digest failure) is on show */
    S_FAILED    /* fatal error; only framer_reset leaves this */
} s_state_t;

struct framer {
    /* settings for the next PDU, and those latched for the current one */
    pdu_digest_cfg_t dig_next;
    uint32_t mrdsl_next;
    pdu_digest_cfg_t dig;
    uint32_t mrdsl;

    s_state_t state;
    int fatal;       /* the error of S_FAILED */
    size_t want_len; /* len of the last framer_want, 0 when none pending */

    /* header: BHS + AHS + header digest */
    uint8_t hdr[PDU_HEADER_MAX];
    size_t hdr_have;
    size_t hdr_need;

    /* data segment */
    uint8_t *own; /* framer-owned data buffer, reused */
    size_t own_cap;
    uint8_t *dst; /* current destination: own or the caller's */
    bool dst_external;
    size_t data_have;
    uint32_t crc; /* running data digest state */

    /* pad + data digest */
    uint8_t trail[PDU_TRAILER_MAX];
    size_t trail_have;
    size_t trail_need;

    pdu_ahs_t ahs;
    framer_frame_t frame;
    bool frame_valid;
};

static void s_start_pdu (framer_t *self);

/* Clamps a MaxRecvDataSegmentLength to what a BHS can express. */
static uint32_t
s_clamp_mrdsl (uint32_t v)
{
    return v > PDU_DSL_MAX ? PDU_DSL_MAX : v;
}

/* Creates a framer; the caller owns it. */
framer_t *
framer_new (uint32_t max_recv_dsl)
{
    framer_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->mrdsl_next = s_clamp_mrdsl (max_recv_dsl);
    self->mrdsl = self->mrdsl_next;
    s_start_pdu (self);
    return self;
}

/* Frees the framer and its own buffer; NULLs *self_p. */
void
framer_destroy (framer_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    framer_t *self = *self_p;
    free (self->own);
    free (self);
    *self_p = NULL;
}

/* Stores digest settings for the next PDU. */
void
framer_set_digests (framer_t *self, const pdu_digest_cfg_t *dig)
{
    if (!self)
        return;
    if (dig)
        self->dig_next = *dig;
    else
        memset (&self->dig_next, 0, sizeof self->dig_next);
}

/* Stores the MRDSL for the next PDU. */
void
framer_set_max_recv_dsl (framer_t *self, uint32_t max_recv_dsl)
{
    if (self)
        self->mrdsl_next = s_clamp_mrdsl (max_recv_dsl);
}

/* Begins a new PDU: forgets the previous one (and any caller buffer). */
static void
s_start_pdu (framer_t *self)
{
    self->state = S_BHS;
    self->hdr_have = 0;
    self->hdr_need = PDU_BHS_LEN;
    self->dst = NULL;
    self->dst_external = false;
    self->data_have = 0;
    self->trail_have = 0;
    self->trail_need = 0;
    self->frame_valid = false;
    memset (&self->frame, 0, sizeof self->frame);
}

/* Enters the fatal state with rc and returns rc. */
static int
s_fail (framer_t *self, int rc)
{
    self->state = S_FAILED;
    self->fatal = rc;
    self->dst = NULL;
    self->dst_external = false;
    return rc;
}

/* The whole header (BHS + AHS + digest) is in: verify and decode it. */
static int
s_header_done (framer_t *self)
{
    size_t ahs_len = (size_t)self->hdr[4] * 4;
    size_t covered = PDU_BHS_LEN + ahs_len;
    if (self->dig.header) {
        /* The header digest covers BHS + AHS (§13.1, conformance A4). */
        uint32_t want = crc32c_get (self->hdr + covered, self->dig.big_endian);
        if (crc32c (self->hdr, covered) != want)
            return s_fail (self, UIS_ERR_HEADER_DIGEST);
    }
    pdu_t *h = &self->frame.hdr;
    int rc = pdu_bhs_decode (self->hdr, h);
    if (rc)
        return s_fail (self, rc); /* unknown opcode: A5 */
    rc = pdu_ahs_parse (self->hdr + PDU_BHS_LEN, ahs_len, &self->ahs);
    if (rc)
        return s_fail (self, rc);
    self->frame.ahs = ahs_len ? self->hdr + PDU_BHS_LEN : NULL;
    self->frame.ahs_len = ahs_len;
    self->frame.ahs_fields = &self->ahs;
    self->frame.data = NULL;
    self->frame.data_len = h->data_segment_length;
    self->frame.data_external = false;
    self->frame_valid = true;
    /* A6: the limit is checked before any buffer for the data exists. */
    if (h->data_segment_length > self->mrdsl)
        return s_fail (self, UIS_ERR_PDU_DSL_LIMIT);
    if (h->data_segment_length == 0) {
        /* No pad and no data digest (conformance A3). */
        self->state = S_READY;
        return FRAMER_PDU;
    }
    self->state = S_DATA;
    self->data_have = 0;
    self->dst = NULL;
    self->dst_external = false;
    self->crc = crc32c_begin ();
    return FRAMER_HEADER;
}

/* The data segment is in: expect pad + digest, or finish. */
static int
s_data_done (framer_t *self)
{
    size_t dsl = self->frame.data_len;
    self->frame.data = self->dst;
    self->frame.data_external = self->dst_external;
    self->trail_have = 0;
    self->trail_need = pdu_pad_len (dsl) + (self->dig.data ? PDU_DIGEST_LEN : 0);
    if (self->trail_need == 0) {
        self->state = S_READY;
        return FRAMER_PDU;
    }
    self->state = S_TRAIL;
    return FRAMER_MORE;
}

/* Pad + digest are in: verify the data digest (over data + pad, A2). */
static int
s_trail_done (framer_t *self)
{
    self->state = S_READY;
    if (!self->dig.data)
        return FRAMER_PDU;
    size_t pad = pdu_pad_len (self->frame.data_len);
    uint32_t s = self->crc;
    if (pad)
        s = crc32c_add (s, self->trail, pad);
    uint32_t want = crc32c_get (self->trail + pad, self->dig.big_endian);
    if (crc32c_end (s) != want)
        return UIS_ERR_DATA_DIGEST; /* recoverable: stays at a boundary */
    return FRAMER_PDU;
}

/* Makes sure the framer-owned buffer holds dsl bytes; grows geometrically
 * up to the MRDSL in force (which bounds dsl). */
static int
s_reserve (framer_t *self, size_t dsl)
{
    if (self->own_cap >= dsl)
        return 0;
    size_t cap = self->own_cap * 2;
    if (cap < dsl)
        cap = dsl;
    if (cap > self->mrdsl)
        cap = self->mrdsl > dsl ? self->mrdsl : dsl;
    uint8_t *p = realloc (self->own, cap);
    if (!p)
        return UIS_ERR_NOMEM;
    self->own = p;
    self->own_cap = cap;
    return 0;
}

/* Pull step 1: where to write next and how much at most. */
int
framer_want (framer_t *self, uint8_t **ptr, size_t *len)
{
    if (!self || !ptr || !len)
        return UIS_ERR_INVALID_ARG;
    *ptr = NULL;
    *len = 0;
    self->want_len = 0;
    if (self->state == S_FAILED)
        return self->fatal;
    if (self->state == S_READY)
        s_start_pdu (self);
    switch (self->state) {
    case S_BHS:
    case S_HDR_REST:
        *ptr = self->hdr + self->hdr_have;
        *len = self->hdr_need - self->hdr_have;
        break;
    case S_DATA:
        if (!self->dst) {
            int rc = s_reserve (self, self->frame.data_len);
            if (rc)
                return rc;
            self->dst = self->own;
            self->dst_external = false;
        }
        *ptr = self->dst + self->data_have;
        *len = self->frame.data_len - self->data_have;
        break;
    case S_TRAIL:
        *ptr = self->trail + self->trail_have;
        *len = self->trail_need - self->trail_have;
        break;
    default:
        return UIS_ERR_STATE;
    }
    self->want_len = *len;
    return 0;
}

/* Pull step 2: n bytes were written at the last framer_want pointer. */
int
framer_wrote (framer_t *self, size_t n)
{
    if (!self)
        return UIS_ERR_INVALID_ARG;
    if (self->state == S_FAILED)
        return self->fatal;
    if (n == 0)
        return FRAMER_MORE;
    if (n > self->want_len)
        return UIS_ERR_INVALID_ARG;
    self->want_len -= n;
    switch (self->state) {
    case S_BHS:
        if (self->hdr_have == 0) {
            /* First byte of a new PDU: latch the settings (framer.h). */
            self->dig = self->dig_next;
            self->mrdsl = self->mrdsl_next;
        }
        self->hdr_have += n;
        if (self->hdr_have < PDU_BHS_LEN)
            return FRAMER_MORE;
        self->hdr_need = PDU_BHS_LEN + (size_t)self->hdr[4] * 4
                         + (self->dig.header ? PDU_DIGEST_LEN : 0);
        if (self->hdr_need == PDU_BHS_LEN)
            return s_header_done (self);
        self->state = S_HDR_REST;
        return FRAMER_MORE;
    case S_HDR_REST:
        self->hdr_have += n;
        if (self->hdr_have < self->hdr_need)
            return FRAMER_MORE;
        return s_header_done (self);
    case S_DATA:
        if (self->dig.data)
            self->crc = crc32c_add (self->crc, self->dst + self->data_have, n);
        self->data_have += n;
        if (self->data_have < self->frame.data_len)
            return FRAMER_MORE;
        return s_data_done (self);
    case S_TRAIL:
        self->trail_have += n;
        if (self->trail_have < self->trail_need)
            return FRAMER_MORE;
        return s_trail_done (self);
    default:
        return UIS_ERR_STATE;
    }
}

/* Push API: copies bytes in until an event or the end of buf. */
int
framer_feed (framer_t *self, const void *buf, size_t len, size_t *consumed)
{
    if (!self || !consumed || (!buf && len))
        return UIS_ERR_INVALID_ARG;
    *consumed = 0;
    if (self->state == S_FAILED)
        return self->fatal;
    const uint8_t *src = buf;
    size_t off = 0;
    while (off < len) {
        uint8_t *p;
        size_t w;
        int rc = framer_want (self, &p, &w);
        if (rc < 0) {
            *consumed = off;
            return rc;
        }
        size_t k = w < len - off ? w : len - off;
        memcpy (p, src + off, k);
        off += k;
        rc = framer_wrote (self, k);
        if (rc != FRAMER_MORE) {
            *consumed = off;
            return rc;
        }
    }
    *consumed = off;
    return FRAMER_MORE;
}

/* Installs the caller's buffer for the current data segment (borrowed). */
int
framer_set_data_buf (framer_t *self, void *buf, size_t cap)
{
    if (!self || !buf)
        return UIS_ERR_INVALID_ARG;
    if (self->state != S_DATA || self->data_have != 0)
        return UIS_ERR_STATE;
    if (cap < self->frame.data_len)
        return UIS_ERR_BUFFER_TOO_SMALL;
    self->dst = buf;
    self->dst_external = true;
    self->want_len = 0; /* a pointer from an earlier framer_want is stale */
    return 0;
}

/* The current PDU view, or NULL. */
const framer_frame_t *
framer_frame (const framer_t *self)
{
    if (!self || !self->frame_valid)
        return NULL;
    return &self->frame;
}

/* true when no byte of an unfinished PDU is held. */
bool
framer_at_boundary (const framer_t *self)
{
    if (!self)
        return true;
    return self->state == S_READY || (self->state == S_BHS && self->hdr_have == 0);
}

/* End of stream: 0 at a boundary, UIS_ERR_TRUNCATED mid-PDU (A7). */
int
framer_eof (const framer_t *self)
{
    if (!self)
        return UIS_ERR_INVALID_ARG;
    if (self->state == S_FAILED)
        return self->fatal;
    return framer_at_boundary (self) ? 0 : UIS_ERR_TRUNCATED;
}

/* Bytes held in the framer-owned data buffer. */
size_t
framer_mem (const framer_t *self)
{
    return self ? self->own_cap : 0;
}

/* Back to a PDU boundary with no error; settings and own buffer kept. */
void
framer_reset (framer_t *self)
{
    if (!self)
        return;
    self->fatal = 0;
    self->want_len = 0;
    s_start_pdu (self);
}
