/* fuzz_scsi_resp.c: libFuzzer target for the SCSI response parsers
 * (proto/scsi_resp.c). The first input byte picks the parser (standard
 * INQUIRY, VPD 0x00 / 0x80 / 0x83 / 0xB0, READ CAPACITY 10 / 16, REPORT
 * LUNS, MODE SENSE 6 / 10 with page iteration, PR IN READ KEYS / READ
 * RESERVATION); the rest is the response data. Invariants that must hold
 * for any input abort the run when broken (conformance A8). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/errors.h"
#include "proto/lun.h"
#include "proto/scsi_resp.h"

#define S_PARSERS 12

static void
s_require (int cond)
{
    if (!cond)
        abort ();
}

/* Walks every mode page of a parsed header; pages must stay inside buf. */
static void
s_mode_pages (const uint8_t *buf, size_t len, const scsi_mode_header_t *h)
{
    s_require (h->end <= len && h->pages_offset <= h->end);
    size_t pos = h->pages_offset;
    scsi_mode_page_t p;
    size_t guard = 0;
    int rc;
    while ((rc = scsi_resp_mode_page_next (buf, len, h, &pos, &p)) == 1) {
        s_require (p.data >= buf && p.data + p.data_len <= buf + h->end);
        s_require (p.data_len <= p.page_length);
        s_require (++guard <= len / 2 + 1);
    }
    s_require (rc == 0 || rc == UIS_ERR_TRUNCATED);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *buf = data + 1;
    size_t len = size - 1;
    static scsi_vpd_devid_t devid; /* 8 KiB: kept off the stack */
    char text[SCSI_DESIG_FORMAT_MAX];
    switch (data[0] % S_PARSERS) {
    case 0: {
        scsi_inquiry_t q;
        if (scsi_resp_inquiry (buf, len, &q) == 0) {
            s_require (q.length <= len);
            s_require (strlen (q.vendor) <= 8 && strlen (q.product) <= 16);
            s_require (strlen (q.revision) <= 4);
            s_require (strlen (scsi_device_type_name (q.device_type)) > 0);
        }
        break;
    }
    case 1: {
        scsi_vpd_pages_t v;
        if (scsi_resp_vpd_pages (buf, len, &v) == 0)
            s_require (v.count <= 256 && v.count + 4 <= len);
        break;
    }
    case 2: {
        scsi_vpd_serial_t v;
        if (scsi_resp_vpd_serial (buf, len, &v) == 0)
            s_require (strlen (v.serial) <= SCSI_VPD_SERIAL_MAX);
        break;
    }
    case 3:
        if (scsi_resp_vpd_devid (buf, len, &devid) == 0) {
            s_require (devid.count <= SCSI_VPD_DESIG_MAX && devid.count <= devid.total);
            for (size_t i = 0; i < devid.count; i++) {
                int n = scsi_designator_format (&devid.desig[i], text, sizeof text);
                s_require (n >= 0 && (size_t)n == strlen (text));
                (void)scsi_designator_type_name (devid.desig[i].type);
            }
        }
        break;
    case 4: {
        scsi_vpd_block_limits_t v;
        (void)scsi_resp_vpd_block_limits (buf, len, &v);
        break;
    }
    case 5: {
        scsi_capacity_t c;
        if (scsi_resp_capacity10 (buf, len, &c) == 0)
            s_require (c.blocks >= 1 && c.bytes == c.blocks * c.block_size);
        break;
    }
    case 6: {
        scsi_capacity_t c;
        if (scsi_resp_capacity16 (buf, len, &c) == 0)
            s_require (c.blocks >= 1 && c.bytes == c.blocks * c.block_size);
        break;
    }
    case 7: {
        scsi_report_luns_t r;
        scsi_lun_entry_t luns[16];
        if (scsi_resp_report_luns (buf, len, &r, luns, 16) == 0) {
            s_require (r.count <= 16 && r.count <= r.total);
            for (size_t i = 0; i < r.count; i++) {
                lun_decoded_t d;
                (void)lun_decode (luns[i].raw, &d);
                s_require (d.levels <= 4);
                char t[LUN_FORMAT_MAX];
                s_require (lun_format (luns[i].raw, t, sizeof t) > 0);
                s_require (!luns[i].has_int || luns[i].lun <= LUN_INT_MAX);
            }
        }
        break;
    }
    case 8:
    case 9: {
        scsi_mode_header_t h;
        if (scsi_resp_mode_header (buf, len, data[0] % S_PARSERS == 9, &h) == 0)
            s_mode_pages (buf, len, &h);
        break;
    }
    case 10: {
        scsi_pr_keys_t k;
        uint64_t keys[16];
        if (scsi_resp_pr_keys (buf, len, &k, keys, 16) == 0)
            s_require (k.count <= 16 && k.count <= k.total);
        break;
    }
    default: {
        scsi_pr_reservation_t v;
        (void)scsi_resp_pr_reservation (buf, len, &v);
        break;
    }
    }
    return 0;
}
