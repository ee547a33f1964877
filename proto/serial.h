/* serial.h: RFC 1982 serial number arithmetic with SERIAL_BITS = 32, as
 * RFC 7143 §4.2.2.1 requires for CmdSN, StatSN, DataSN and R2TSN.
 *
 * For two numbers exactly 2^31 apart the comparison is undefined by
 * RFC 1982; these functions then answer false for lt and gt (neither is
 * "before" the other), which callers treat as "not newer". */
#ifndef UISCSI_PROTO_SERIAL_H
#define UISCSI_PROTO_SERIAL_H

#include <stdbool.h>
#include <stdint.h>

/* true when a comes before b in serial order. */
static inline bool
sn_lt (uint32_t a, uint32_t b)
{
    uint32_t d = b - a;
    return d != 0 && d < 0x80000000u;
}

/* true when a comes after b in serial order. */
static inline bool
sn_gt (uint32_t a, uint32_t b)
{
    return sn_lt (b, a);
}

static inline bool
sn_le (uint32_t a, uint32_t b)
{
    return a == b || sn_lt (a, b);
}

static inline bool
sn_ge (uint32_t a, uint32_t b)
{
    return a == b || sn_gt (a, b);
}

/* Signed distance from a to b (b - a), in [-2^31, 2^31). */
static inline int32_t
sn_diff (uint32_t a, uint32_t b)
{
    uint32_t d = b - a;
    if (d < 0x80000000u)
        return (int32_t)d;
    return (int32_t)(d - 0x80000000u) - INT32_MAX - 1;
}

/* true when sn lies in the closed serial range [lo, hi]. */
static inline bool
sn_in_range (uint32_t sn, uint32_t lo, uint32_t hi)
{
    return sn_le (lo, sn) && sn_le (sn, hi);
}

#endif
