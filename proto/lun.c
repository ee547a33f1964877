/* lun.c: SAM LUN encoding and decoding (SAM-5). Pure functions over the
 * 8 LUN bytes; nothing here reads outside them. */
#include "lun.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "ascii.h"
#include "errors.h"

int
lun_from_int (uint64_t n, uint8_t out[8])
{
    assert (out);
    memset (out, 0, 8);
    if (n < 256) {
        /* Peripheral device method, bus 0. */
        out[1] = (uint8_t)n;
        return 0;
    }
    if (n <= LUN_INT_MAX) {
        /* Flat space method. */
        out[0] = (uint8_t)(0x40 | (n >> 8));
        out[1] = (uint8_t)n;
        return 0;
    }
    return UIS_ERR_LUN_ENCODING;
}

void
lun_from_u64 (uint64_t raw, uint8_t out[8])
{
    assert (out);
    for (int i = 7; i >= 0; i--) {
        out[i] = (uint8_t)raw;
        raw >>= 8;
    }
}

uint64_t
lun_to_u64 (const uint8_t lun[8])
{
    assert (lun);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | lun[i];
    return v;
}

/* Decodes the 2-byte level at p (method 00b, 01b or 10b) into lv. */
static void
s_decode_short (const uint8_t *p, lun_level_t *lv)
{
    lv->method = p[0] >> 6;
    lv->size = 2;
    switch (lv->method) {
    case LUN_AM_PERIPHERAL:
        lv->bus = p[0] & 0x3f;
        lv->target = p[1];
        lv->value = p[1];
        break;
    case LUN_AM_FLAT:
        lv->value = (uint64_t)(p[0] & 0x3f) << 8 | p[1];
        break;
    default: /* LUN_AM_LOGICAL_UNIT */
        lv->target = p[0] & 0x3f;
        lv->bus = p[1] >> 5;
        lv->value = p[1] & 0x1f;
        break;
    }
}

int
lun_decode (const uint8_t lun[8], lun_decoded_t *out)
{
    assert (lun);
    assert (out);
    memset (out, 0, sizeof *out);
    out->raw = lun_to_u64 (lun);
    size_t pos = 0;
    int rc = 0;
    while (pos < 8 && out->levels < 4) {
        lun_level_t *lv = &out->level[out->levels];
        uint8_t method = lun[pos] >> 6;
        if (method == LUN_AM_EXTENDED) {
            size_t size = 2 + 2 * (size_t)((lun[pos] >> 4) & 0x3);
            if (pos + size > 8) {
                rc = UIS_ERR_LUN_ENCODING;
                break;
            }
            lv->method = method;
            lv->size = (uint8_t)size;
            lv->ext_method = lun[pos] & 0x0f;
            for (size_t i = 1; i < size; i++)
                lv->value = lv->value << 8 | lun[pos + i];
            out->levels++;
            if (size == 2 && lv->ext_method == LUN_EAM_WLUN) {
                out->well_known = true;
                out->wlun = (uint8_t)lv->value;
            }
            pos += size;
            break; /* an extended level ends the address */
        }
        s_decode_short (lun + pos, lv);
        out->levels++;
        pos += 2;
        /* Only a peripheral level with a bus leads to a further level. */
        if (!(method == LUN_AM_PERIPHERAL && lv->bus != 0))
            break;
    }
    for (size_t i = pos; i < 8; i++)
        if (lun[i] != 0)
            out->trailing = true;
    out->multi_level = out->levels > 1 || out->trailing;
    return rc;
}

int
lun_to_int (const uint8_t lun[8], uint64_t *n)
{
    assert (n);
    lun_decoded_t d;
    if (lun_decode (lun, &d) != 0 || d.multi_level || d.levels != 1)
        return UIS_ERR_LUN_ENCODING;
    const lun_level_t *lv = &d.level[0];
    if (lv->method == LUN_AM_PERIPHERAL && lv->bus == 0) {
        *n = lv->value;
        return 0;
    }
    if (lv->method == LUN_AM_FLAT) {
        *n = lv->value;
        return 0;
    }
    return UIS_ERR_LUN_ENCODING;
}

int
lun_level_peripheral (unsigned bus, unsigned target_or_lun, uint16_t *level)
{
    assert (level);
    if (bus > 0x3f || target_or_lun > 0xff)
        return UIS_ERR_LUN_ENCODING;
    *level = (uint16_t)(bus << 8 | target_or_lun);
    return 0;
}

int
lun_level_flat (unsigned lun, uint16_t *level)
{
    assert (level);
    if (lun > LUN_INT_MAX)
        return UIS_ERR_LUN_ENCODING;
    *level = (uint16_t)(0x4000 | lun);
    return 0;
}

int
lun_level_logical_unit (unsigned target, unsigned bus, unsigned lun, uint16_t *level)
{
    assert (level);
    if (target > 0x3f || bus > 0x7 || lun > 0x1f)
        return UIS_ERR_LUN_ENCODING;
    *level = (uint16_t)(0x8000 | target << 8 | bus << 5 | lun);
    return 0;
}

int
lun_from_levels (const uint16_t *levels, size_t n, uint8_t out[8])
{
    assert (out);
    memset (out, 0, 8);
    if (!levels || n < 1 || n > 4)
        return UIS_ERR_LUN_ENCODING;
    for (size_t i = 0; i < n; i++) {
        uint16_t lv = levels[i];
        if ((lv >> 14) == LUN_AM_EXTENDED)
            return UIS_ERR_LUN_ENCODING;
        /* Every level but the last must point on to the next one. */
        if (i + 1 < n && !((lv >> 14) == LUN_AM_PERIPHERAL && (lv >> 8 & 0x3f) != 0))
            return UIS_ERR_LUN_ENCODING;
    }
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = (uint8_t)(levels[i] >> 8);
        out[2 * i + 1] = (uint8_t)levels[i];
    }
    return 0;
}

int
lun_from_extended (unsigned length_code, unsigned ext_method, uint64_t value,
                   uint8_t out[8])
{
    assert (out);
    memset (out, 0, 8);
    if (length_code > 3 || ext_method > 0xf)
        return UIS_ERR_LUN_ENCODING;
    size_t value_bytes = 1 + 2 * (size_t)length_code; /* 1, 3, 5, 7 */
    if (value >> (8 * value_bytes) != 0)
        return UIS_ERR_LUN_ENCODING;
    out[0] = (uint8_t)(0xc0 | length_code << 4 | ext_method);
    for (size_t i = value_bytes; i >= 1; i--) {
        out[i] = (uint8_t)value;
        value >>= 8;
    }
    return 0;
}

void
lun_from_wlun (uint8_t wlun, uint8_t out[8])
{
    int rc = lun_from_extended (0, LUN_EAM_WLUN, wlun, out);
    assert (rc == 0);
    (void)rc;
}

int
lun_format (const uint8_t lun[8], char *buf, size_t size)
{
    assert (buf);
    uint64_t n;
    int len;
    if (lun_to_int (lun, &n) == 0)
        len = snprintf (buf, size, "%llu", (unsigned long long)n);
    else
        len = snprintf (buf, size, "0x%016llx", (unsigned long long)lun_to_u64 (lun));
    if (len < 0 || (size_t)len >= size)
        return UIS_ERR_BUFFER_TOO_SMALL;
    return len;
}

int
lun_parse (const char *text, uint8_t out[8])
{
    assert (out);
    memset (out, 0, 8);
    if (!text || !*text)
        return UIS_ERR_INVALID_ARG;
    if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
        const char *p = text + 2;
        size_t digits = strlen (p);
        if (digits < 1 || digits > 16)
            return UIS_ERR_INVALID_ARG;
        uint64_t raw = 0;
        for (size_t i = 0; i < digits; i++) {
            int d = hex_digit_value (p[i]);
            if (d < 0)
                return UIS_ERR_INVALID_ARG;
            raw = raw << 4 | (uint64_t)d;
        }
        lun_from_u64 (raw, out);
        return 0;
    }
    uint64_t n = 0;
    for (const char *p = text; *p; p++) {
        if (*p < '0' || *p > '9')
            return UIS_ERR_INVALID_ARG;
        if (n > LUN_INT_MAX)
            return UIS_ERR_LUN_ENCODING; /* stop before any overflow */
        n = n * 10 + (uint64_t)(*p - '0');
    }
    return lun_from_int (n, out);
}
