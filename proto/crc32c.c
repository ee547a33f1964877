/* crc32c.c: CRC32C digests through ISA-L's crc32_iscsi.
 * ISA-L applies no final inversion: the digest is
 * crc32_iscsi (buf, len, 0xffffffff) ^ 0xffffffff, and the running state
 * between pieces is the raw crc32_iscsi result. */
#include "crc32c.h"

#include <isa-l/crc.h>

uint32_t
crc32c_begin (void)
{
    return 0xffffffffu;
}

uint32_t
crc32c_add (uint32_t state, const void *buf, size_t len)
{
    /* crc32_iscsi takes an int length; feed large runs in slices. */
    const unsigned char *p = buf;
    while (len > 0) {
        size_t n = len > 0x40000000u ? 0x40000000u : len;
        state = crc32_iscsi ((unsigned char *)p, (int)n, state);
        p += n;
        len -= n;
    }
    return state;
}

uint32_t
crc32c_end (uint32_t state)
{
    return state ^ 0xffffffffu;
}

uint32_t
crc32c (const void *buf, size_t len)
{
    return crc32c_end (crc32c_add (crc32c_begin (), buf, len));
}

void
crc32c_put (uint8_t *p, uint32_t digest, bool big)
{
    if (big) {
        p[0] = (uint8_t)(digest >> 24);
        p[1] = (uint8_t)(digest >> 16);
        p[2] = (uint8_t)(digest >> 8);
        p[3] = (uint8_t)digest;
    }
    else {
        p[0] = (uint8_t)digest;
        p[1] = (uint8_t)(digest >> 8);
        p[2] = (uint8_t)(digest >> 16);
        p[3] = (uint8_t)(digest >> 24);
    }
}

uint32_t
crc32c_get (const uint8_t *p, bool big)
{
    if (big)
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}
