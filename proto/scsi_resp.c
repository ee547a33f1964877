/* scsi_resp.c: bounds-checked parsers of SCSI response data. Each parser
 * first works out `end`, the offset up to which both the buffer and the
 * length the data declares reach, then reads fixed offsets below it only. */
#include "scsi_resp.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "errors.h"
#include "lun.h"

static size_t
s_min (size_t a, size_t b)
{
    return a < b ? a : b;
}

/* Copies n bytes of an ASCII field into dst (n + 1 bytes): trailing spaces
 * and NULs dropped, leading spaces too when trim_left, any other byte
 * outside 0x20..0x7e replaced by '?'. */
static void
s_copy_text (char *dst, const uint8_t *src, size_t n, bool trim_left)
{
    size_t start = 0, end = n;
    while (end > 0 && (src[end - 1] == ' ' || src[end - 1] == 0))
        end--;
    while (trim_left && start < end && src[start] == ' ')
        start++;
    size_t j = 0;
    for (size_t i = start; i < end; i++)
        dst[j++] = (src[i] >= 0x20 && src[i] <= 0x7e) ? (char)src[i] : '?';
    dst[j] = '\0';
}

int
scsi_resp_inquiry (const uint8_t *buf, size_t len, scsi_inquiry_t *out)
{
    assert (out);
    memset (out, 0, sizeof *out);
    if (!buf || len < 1)
        return UIS_ERR_TRUNCATED;
    /* ADDITIONAL LENGTH (byte 4) counts the bytes after byte 4. */
    size_t n = len >= 5 ? s_min (len, 5 + (size_t)buf[4]) : len;
    out->length = n;
    out->peripheral_qualifier = buf[0] >> 5;
    out->device_type = buf[0] & 0x1f;
    if (n > 1) {
        out->removable = (buf[1] & 0x80) != 0;
        out->lu_cong = (buf[1] & 0x40) != 0;
    }
    if (n > 2)
        out->version = buf[2];
    if (n > 3) {
        out->normaca = (buf[3] & 0x20) != 0;
        out->hisup = (buf[3] & 0x10) != 0;
        out->response_data_format = buf[3] & 0x0f;
    }
    if (n > 4)
        out->additional_length = buf[4];
    if (n > 5) {
        out->sccs = (buf[5] & 0x80) != 0;
        out->acc = (buf[5] & 0x40) != 0;
        out->tpgs = (buf[5] >> 4) & 0x3;
        out->tpc = (buf[5] & 0x08) != 0;
        out->protect = (buf[5] & 0x01) != 0;
    }
    if (n > 6) {
        out->encserv = (buf[6] & 0x40) != 0;
        out->multip = (buf[6] & 0x10) != 0;
        out->addr16 = (buf[6] & 0x01) != 0;
    }
    if (n > 7) {
        out->wbus16 = (buf[7] & 0x20) != 0;
        out->sync = (buf[7] & 0x10) != 0;
        out->cmdque = (buf[7] & 0x02) != 0;
        out->has_flags = true;
    }
    if (n >= 16) {
        s_copy_text (out->vendor, buf + 8, 8, false);
        out->has_vendor = true;
    }
    if (n >= 32) {
        s_copy_text (out->product, buf + 16, 16, false);
        out->has_product = true;
    }
    if (n >= 36) {
        s_copy_text (out->revision, buf + 32, 4, false);
        out->has_revision = true;
    }
    return 0;
}

int
scsi_resp_vpd_header (const uint8_t *buf, size_t len, int expect_page,
                      scsi_vpd_header_t *out)
{
    assert (out);
    memset (out, 0, sizeof *out);
    if (!buf || len < 4)
        return UIS_ERR_TRUNCATED;
    out->peripheral_qualifier = buf[0] >> 5;
    out->device_type = buf[0] & 0x1f;
    out->page_code = buf[1];
    out->page_length = be_get16 (buf + 2);
    out->end = s_min (len, 4 + (size_t)out->page_length);
    if (expect_page >= 0 && out->page_code != expect_page)
        return UIS_ERR_SCSI_RESPONSE;
    return 0;
}

/* true when the page declared more bytes than the buffer held. */
static bool
s_vpd_cut (const scsi_vpd_header_t *h)
{
    return h->end < 4 + (size_t)h->page_length;
}

int
scsi_resp_vpd_pages (const uint8_t *buf, size_t len, scsi_vpd_pages_t *out)
{
    assert (out);
    memset (out, 0, sizeof *out);
    int rc = scsi_resp_vpd_header (buf, len, SCSI_VPD_SUPPORTED_PAGES, &out->hdr);
    if (rc)
        return rc;
    size_t n = out->hdr.end - 4;
    out->truncated = s_vpd_cut (&out->hdr) || n > sizeof out->pages;
    n = s_min (n, sizeof out->pages);
    memcpy (out->pages, buf + 4, n);
    out->count = n;
    return 0;
}

int
scsi_resp_vpd_serial (const uint8_t *buf, size_t len, scsi_vpd_serial_t *out)
{
    assert (out);
    memset (out, 0, sizeof *out);
    int rc = scsi_resp_vpd_header (buf, len, SCSI_VPD_UNIT_SERIAL, &out->hdr);
    if (rc)
        return rc;
    size_t n = out->hdr.end - 4;
    out->truncated = s_vpd_cut (&out->hdr) || n > SCSI_VPD_SERIAL_MAX;
    s_copy_text (out->serial, buf + 4, s_min (n, SCSI_VPD_SERIAL_MAX), true);
    return 0;
}

int
scsi_resp_vpd_devid (const uint8_t *buf, size_t len, scsi_vpd_devid_t *out)
{
    assert (out);
    memset (out, 0, sizeof *out);
    int rc = scsi_resp_vpd_header (buf, len, SCSI_VPD_DEVICE_ID, &out->hdr);
    if (rc)
        return rc;
    size_t end = out->hdr.end;
    size_t pos = 4;
    /* Each descriptor is 4 header bytes + DESIGNATOR LENGTH; pos grows by
     * at least 4 per pass. */
    while (pos + 4 <= end) {
        const uint8_t *d = buf + pos;
        size_t dlen = d[3];
        if (pos + 4 + dlen > end) {
            out->truncated = true;
            break;
        }
        out->total++;
        if (out->count < SCSI_VPD_DESIG_MAX) {
            scsi_designator_t *g = &out->desig[out->count++];
            g->protocol_id = d[0] >> 4;
            g->code_set = d[0] & 0x0f;
            g->piv = (d[1] & 0x80) != 0;
            g->association = (d[1] >> 4) & 0x3;
            g->type = d[1] & 0x0f;
            g->length = (uint8_t)dlen;
            memcpy (g->data, d + 4, dlen);
            if (g->type == SCSI_DESIG_NAA && dlen > 0)
                g->naa = d[4] >> 4;
        }
        else
            out->truncated = true;
        pos += 4 + dlen;
    }
    if (pos < end || s_vpd_cut (&out->hdr))
        out->truncated = true;
    return 0;
}

int
scsi_resp_vpd_block_limits (const uint8_t *buf, size_t len, scsi_vpd_block_limits_t *out)
{
    assert (out);
    memset (out, 0, sizeof *out);
    int rc = scsi_resp_vpd_header (buf, len, SCSI_VPD_BLOCK_LIMITS, &out->hdr);
    if (rc)
        return rc;
    size_t end = out->hdr.end;
    /* SBC-3 Block Limits VPD page offsets. */
    if (end >= 16) {
        out->has_basic = true;
        out->wsnz = (buf[4] & 0x01) != 0;
        out->max_compare_write_len = buf[5];
        out->opt_transfer_len_granularity = be_get16 (buf + 6);
        out->max_transfer_len = be_get32 (buf + 8);
        out->opt_transfer_len = be_get32 (buf + 12);
    }
    if (end >= 20) {
        out->has_prefetch = true;
        out->max_prefetch_len = be_get32 (buf + 16);
    }
    if (end >= 36) {
        out->has_unmap = true;
        out->max_unmap_lba_count = be_get32 (buf + 20);
        out->max_unmap_descriptor_count = be_get32 (buf + 24);
        out->opt_unmap_granularity = be_get32 (buf + 28);
        out->ugavalid = (buf[32] & 0x80) != 0;
        out->unmap_granularity_alignment = be_get32 (buf + 32) & 0x7fffffffu;
    }
    if (end >= 44) {
        out->has_write_same = true;
        out->max_write_same_len = be_get64 (buf + 36);
    }
    return 0;
}

/* Appends text to a bounded buffer; the caller sized it for the worst case. */
typedef struct {
    char *buf;
    size_t size;
    size_t len;
} s_text_t;

static void
s_text_char (s_text_t *t, char c)
{
    if (t->len + 1 < t->size)
        t->buf[t->len] = c;
    t->len++;
}

static void
s_text_str (s_text_t *t, const char *s)
{
    while (*s)
        s_text_char (t, *s++);
}

static void
s_text_hex (s_text_t *t, const uint8_t *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        s_text_char (t, digits[p[i] >> 4]);
        s_text_char (t, digits[p[i] & 0xf]);
    }
}

/* Printable ASCII up to the first NUL; other bytes become '?'. */
static void
s_text_ascii (s_text_t *t, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n && p[i] != 0; i++)
        s_text_char (t, (p[i] >= 0x20 && p[i] <= 0x7e) ? (char)p[i] : '?');
}

int
scsi_designator_format (const scsi_designator_t *d, char *buf, size_t size)
{
    assert (d);
    assert (buf || size == 0);
    s_text_t t = {buf, size, 0};
    const uint8_t *p = d->data;
    size_t n = d->length;
    bool text = d->code_set == SCSI_CODE_SET_ASCII || d->code_set == SCSI_CODE_SET_UTF8;
    switch (d->type) {
    case SCSI_DESIG_NAA:
        s_text_str (&t, "naa.");
        s_text_hex (&t, p, n);
        break;
    case SCSI_DESIG_EUI64:
        s_text_str (&t, "eui.");
        s_text_hex (&t, p, n);
        break;
    case SCSI_DESIG_T10:
        s_text_str (&t, "t10.");
        s_text_ascii (&t, p, n);
        break;
    case SCSI_DESIG_SCSI_NAME:
        s_text_ascii (&t, p, n);
        break;
    case SCSI_DESIG_UUID:
        s_text_str (&t, "uuid.");
        if (n >= 18) {
            /* Bytes 2..17 hold the RFC 4122 UUID. */
            static const size_t groups[] = {4, 2, 2, 2, 6};
            size_t at = 2;
            for (size_t g = 0; g < 5; g++) {
                if (g)
                    s_text_char (&t, '-');
                s_text_hex (&t, p + at, groups[g]);
                at += groups[g];
            }
        }
        else
            s_text_hex (&t, p, n);
        break;
    default:
        if (text)
            s_text_ascii (&t, p, n);
        else {
            s_text_str (&t, "0x");
            s_text_hex (&t, p, n);
        }
        break;
    }
    if (size > 0)
        buf[t.len < size ? t.len : size - 1] = '\0';
    if (t.len >= size)
        return UIS_ERR_BUFFER_TOO_SMALL;
    return (int)t.len;
}

const char *
scsi_designator_type_name (uint8_t type)
{
    static const char *names[] = {
        "vendor specific",
        "T10 vendor ID",
        "EUI-64",
        "NAA",
        "relative target port",
        "target port group",
        "logical unit group",
        "MD5 logical unit identifier",
        "SCSI name string",
        "protocol specific port identifier",
        "UUID",
    };
    return type < sizeof names / sizeof names[0] ? names[type] : "reserved";
}

int
scsi_resp_capacity10 (const uint8_t *buf, size_t len, scsi_capacity_t *out)
{
    assert (out);
    memset (out, 0, sizeof *out);
    if (!buf || len < 8)
        return UIS_ERR_TRUNCATED;
    uint32_t last = be_get32 (buf);
    out->need_rc16 = last == 0xffffffffu;
    out->blocks = (uint64_t)last + 1;
    out->block_size = be_get32 (buf + 4);
    /* At most 2^32 * (2^32 - 1): no overflow. */
    out->bytes = out->blocks * out->block_size;
    return 0;
}

int
scsi_resp_capacity16 (const uint8_t *buf, size_t len, scsi_capacity_t *out)
{
    assert (out);
    memset (out, 0, sizeof *out);
    if (!buf || len < 12)
        return UIS_ERR_TRUNCATED;
    uint64_t last = be_get64 (buf);
    uint32_t block_size = be_get32 (buf + 8);
    if (last == UINT64_MAX)
        return UIS_ERR_SCSI_RESPONSE;
    uint64_t blocks = last + 1;
    if (block_size != 0 && blocks > UINT64_MAX / block_size)
        return UIS_ERR_SCSI_RESPONSE;
    out->rc16 = true;
    out->blocks = blocks;
    out->block_size = block_size;
    out->bytes = blocks * block_size;
    if (len > 12) {
        out->p_type = (buf[12] >> 1) & 0x7;
        out->prot_en = (buf[12] & 0x01) != 0;
    }
    if (len > 13) {
        out->p_i_exponent = buf[13] >> 4;
        out->lbppbe = buf[13] & 0x0f;
    }
    if (len > 15) {
        out->has_lbp = true;
        out->lbpme = (buf[14] & 0x80) != 0;
        out->lbprz = (buf[14] & 0x40) != 0;
        out->lowest_aligned_lba = (uint16_t)((buf[14] & 0x3f) << 8 | buf[15]);
    }
    return 0;
}

int
scsi_resp_report_luns (const uint8_t *buf, size_t len, scsi_report_luns_t *out,
                       scsi_lun_entry_t *luns, size_t max)
{
    assert (out);
    assert (luns || max == 0);
    memset (out, 0, sizeof *out);
    if (!buf || len < 8)
        return UIS_ERR_TRUNCATED;
    out->list_length = be_get32 (buf);
    out->total = out->list_length / 8;
    size_t n = s_min (s_min (out->total, (len - 8) / 8), max);
    for (size_t i = 0; i < n; i++) {
        scsi_lun_entry_t *e = &luns[i];
        memset (e, 0, sizeof *e);
        memcpy (e->raw, buf + 8 + 8 * i, 8);
        e->value = lun_to_u64 (e->raw);
        e->has_int = lun_to_int (e->raw, &e->lun) == 0;
    }
    out->count = n;
    out->truncated = n < out->total;
    return 0;
}

int
scsi_resp_mode_header (const uint8_t *buf, size_t len, bool ten, scsi_mode_header_t *out)
{
    assert (out);
    memset (out, 0, sizeof *out);
    size_t hlen = ten ? 8 : 4;
    if (!buf || len < hlen)
        return UIS_ERR_TRUNCATED;
    out->ten = ten;
    if (ten) {
        /* MODE DATA LENGTH counts the bytes after itself (2 bytes). */
        out->mode_data_length = be_get16 (buf);
        out->medium_type = buf[2];
        out->device_specific = buf[3];
        out->longlba = (buf[4] & 0x01) != 0;
        out->block_descriptor_length = be_get16 (buf + 6);
        out->end = s_min (len, (size_t)out->mode_data_length + 2);
    }
    else {
        out->mode_data_length = buf[0];
        out->medium_type = buf[1];
        out->device_specific = buf[2];
        out->block_descriptor_length = buf[3];
        out->end = s_min (len, (size_t)out->mode_data_length + 1);
    }
    /* A header is there even when MODE DATA LENGTH claims less. */
    if (out->end < hlen)
        out->end = hlen;
    out->wp = (out->device_specific & 0x80) != 0;
    out->dpofua = (out->device_specific & 0x10) != 0;
    out->pages_offset = s_min (out->end, hlen + (size_t)out->block_descriptor_length);
    /* First block descriptor (SBC): short is blocks(4) rsvd(1) length(3);
     * long (LONGLBA) is blocks(8) rsvd(4) length(4). */
    const uint8_t *bd = buf + hlen;
    if (out->longlba) {
        if (out->block_descriptor_length >= 16 && hlen + 16 <= out->end) {
            out->has_block_descriptor = true;
            out->bd_blocks = be_get64 (bd);
            out->bd_block_length = be_get32 (bd + 12);
        }
    }
    else if (out->block_descriptor_length >= 8 && hlen + 8 <= out->end) {
        out->has_block_descriptor = true;
        out->bd_blocks = be_get32 (bd);
        out->bd_block_length = (uint32_t)bd[5] << 16 | (uint32_t)bd[6] << 8 | bd[7];
    }
    return 0;
}

int
scsi_resp_mode_page_next (const uint8_t *buf, size_t len, const scsi_mode_header_t *hdr,
                          size_t *pos, scsi_mode_page_t *page)
{
    assert (hdr && pos && page);
    memset (page, 0, sizeof *page);
    size_t end = s_min (hdr->end, len);
    size_t p = *pos;
    if (!buf || p >= end)
        return 0;
    if (p + 2 > end) {
        *pos = end;
        return UIS_ERR_TRUNCATED;
    }
    page->offset = p;
    page->ps = (buf[p] & 0x80) != 0;
    page->spf = (buf[p] & 0x40) != 0;
    page->page_code = buf[p] & 0x3f;
    if (page->spf) {
        if (p + 4 > end) {
            *pos = end;
            return UIS_ERR_TRUNCATED;
        }
        page->subpage_code = buf[p + 1];
        page->page_length = be_get16 (buf + p + 2);
        page->header_len = 4;
    }
    else {
        page->page_length = buf[p + 1];
        page->header_len = 2;
    }
    size_t avail = end - p - page->header_len;
    page->data = buf + p + page->header_len;
    page->data_len = s_min (avail, page->page_length);
    page->truncated = page->page_length > avail;
    *pos = page->truncated ? end : p + page->header_len + page->page_length;
    return 1;
}

int
scsi_resp_pr_keys (const uint8_t *buf, size_t len, scsi_pr_keys_t *out, uint64_t *keys,
                   size_t max)
{
    assert (out);
    assert (keys || max == 0);
    memset (out, 0, sizeof *out);
    if (!buf || len < 8)
        return UIS_ERR_TRUNCATED;
    out->generation = be_get32 (buf);
    out->additional_length = be_get32 (buf + 4);
    out->total = out->additional_length / 8;
    size_t n = s_min (s_min (out->total, (len - 8) / 8), max);
    for (size_t i = 0; i < n; i++)
        keys[i] = be_get64 (buf + 8 + 8 * i);
    out->count = n;
    out->truncated = n < out->total;
    return 0;
}

int
scsi_resp_pr_reservation (const uint8_t *buf, size_t len, scsi_pr_reservation_t *out)
{
    assert (out);
    memset (out, 0, sizeof *out);
    if (!buf || len < 8)
        return UIS_ERR_TRUNCATED;
    out->generation = be_get32 (buf);
    out->additional_length = be_get32 (buf + 4);
    if (out->additional_length < 16)
        return 0; /* no reservation held */
    if (len < 24)
        return UIS_ERR_TRUNCATED;
    out->reserved = true;
    out->key = be_get64 (buf + 8);
    out->scope = buf[21] >> 4;
    out->type = buf[21] & 0x0f;
    return 0;
}

const char *
scsi_device_type_name (uint8_t type)
{
    static const char *names[32] = {
        "direct-access block device",        /* 0x00 */
        "sequential-access device",          /* 0x01 */
        "printer device",                    /* 0x02 */
        "processor device",                  /* 0x03 */
        "write-once device",                 /* 0x04 */
        "CD/DVD device",                     /* 0x05 */
        "scanner device",                    /* 0x06, obsolete */
        "optical memory device",             /* 0x07 */
        "media changer device",              /* 0x08 */
        "communications device",             /* 0x09, obsolete */
        "graphic arts pre-press device",     /* 0x0a, obsolete */
        "graphic arts pre-press device",     /* 0x0b, obsolete */
        "storage array controller",          /* 0x0c */
        "enclosure services device",         /* 0x0d */
        "simplified direct-access device",   /* 0x0e */
        "optical card reader/writer device", /* 0x0f */
        "bridge controller",                 /* 0x10 */
        "object-based storage device",       /* 0x11 */
        "automation/drive interface",        /* 0x12 */
        "security manager device",           /* 0x13 */
        "host managed zoned block device",   /* 0x14 */
        "reserved",                          /* 0x15 */
        "reserved",                          /* 0x16 */
        "reserved",                          /* 0x17 */
        "reserved",                          /* 0x18 */
        "reserved",                          /* 0x19 */
        "reserved",                          /* 0x1a */
        "reserved",                          /* 0x1b */
        "reserved",                          /* 0x1c */
        "reserved",                          /* 0x1d */
        "well known logical unit",           /* 0x1e */
        "unknown or no device type",         /* 0x1f */
    };
    return type < 32 ? names[type] : "unknown";
}

const char *
scsi_status_name (uint8_t status)
{
    switch (status) {
    case SCSI_STATUS_GOOD:
        return "GOOD";
    case SCSI_STATUS_CHECK_CONDITION:
        return "CHECK_CONDITION";
    case SCSI_STATUS_CONDITION_MET:
        return "CONDITION_MET";
    case SCSI_STATUS_BUSY:
        return "BUSY";
    case 0x10:
        return "INTERMEDIATE";
    case 0x14:
        return "INTERMEDIATE_CONDITION_MET";
    case SCSI_STATUS_RESERVATION_CONFLICT:
        return "RESERVATION_CONFLICT";
    case 0x22:
        return "COMMAND_TERMINATED";
    case SCSI_STATUS_TASK_SET_FULL:
        return "TASK_SET_FULL";
    case SCSI_STATUS_ACA_ACTIVE:
        return "ACA_ACTIVE";
    case SCSI_STATUS_TASK_ABORTED:
        return "TASK_ABORTED";
    default:
        return "UNKNOWN";
    }
}
