/* test_scsi_resp.c: SCSI response parsers (proto/scsi_resp.c) on hand-written
 * and truncated inputs. Conformance ids covered: I2 (BUSY, RESERVATION
 * CONFLICT, TASK SET FULL, ACA ACTIVE get typed status names), A8 (VPD and
 * other response parsers never read out of bounds on short or lying data;
 * see also tests/fuzz/fuzz_scsi_resp.c), R3 (REPORT LUNS entries that are
 * multi-level keep their raw value and do not decode to an integer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto/errors.h"
#include "proto/scsi_resp.h"

/* Standard INQUIRY of an LIO block device, SPC-4, TPGS 3, 3PC, PROTECT,
 * MULTIP, CMDQUE, HISUP. */
static const uint8_t s_inquiry[36] = {
    0x00, 0x00, 0x06, 0x12, 0x1f, 0x39, 0x10, 0x02, 'L', 'I', 'O', '-',
    'O',  'R',  'G',  ' ',  'I',  'B',  'L',  'O',  'C', 'K', ' ', ' ',
    ' ',  ' ',  ' ',  ' ',  ' ',  ' ',  ' ',  ' ',  '4', '.', '0', ' ',
};

static void
test_inquiry_standard (void **state)
{
    (void)state;
    scsi_inquiry_t q;
    assert_int_equal (scsi_resp_inquiry (s_inquiry, sizeof s_inquiry, &q), 0);
    assert_int_equal (q.peripheral_qualifier, 0);
    assert_int_equal (q.device_type, SCSI_TYPE_DISK);
    assert_false (q.removable);
    assert_int_equal (q.version, 6);
    assert_true (q.hisup);
    assert_false (q.normaca);
    assert_int_equal (q.response_data_format, 2);
    assert_int_equal (q.additional_length, 31);
    assert_int_equal (q.tpgs, 3);
    assert_true (q.tpc);
    assert_true (q.protect);
    assert_false (q.sccs);
    assert_true (q.multip);
    assert_false (q.encserv);
    assert_true (q.cmdque);
    assert_false (q.sync);
    assert_true (q.has_flags);
    assert_true (q.has_vendor && q.has_product && q.has_revision);
    assert_string_equal (q.vendor, "LIO-ORG");
    assert_string_equal (q.product, "IBLOCK");
    assert_string_equal (q.revision, "4.0");
    assert_int_equal (q.length, 36);
    assert_string_equal (scsi_device_type_name (q.device_type),
                         "direct-access block device");
}

static void
test_inquiry_qualifier_removable_text (void **state)
{
    (void)state;
    uint8_t b[36];
    memcpy (b, s_inquiry, sizeof b);
    b[0] = 0x7f; /* qualifier 3, type 0x1f: no logical unit */
    b[1] = 0x80;
    /* A control byte inside, NUL padding at the end. */
    memcpy (b + 8,
            "AB\x01"
            "C\0\0\0\0",
            8);
    memcpy (b + 16, "  lead space\0\0\0\0", 16);
    scsi_inquiry_t q;
    assert_int_equal (scsi_resp_inquiry (b, sizeof b, &q), 0);
    assert_int_equal (q.peripheral_qualifier, 3);
    assert_int_equal (q.device_type, 0x1f);
    assert_true (q.removable);
    assert_string_equal (q.vendor, "AB?C");
    assert_string_equal (q.product, "  lead space");
}

/* Short data: fields appear only once covered; ADDITIONAL LENGTH limits. */
static void
test_inquiry_truncated (void **state)
{
    (void)state;
    scsi_inquiry_t q;
    assert_int_equal (scsi_resp_inquiry (s_inquiry, 0, &q), UIS_ERR_TRUNCATED);
    assert_int_equal (scsi_resp_inquiry (NULL, 0, &q), UIS_ERR_TRUNCATED);
    for (size_t len = 1; len <= sizeof s_inquiry; len++) {
        assert_int_equal (scsi_resp_inquiry (s_inquiry, len, &q), 0);
        assert_int_equal (q.length, len);
        assert_int_equal (q.has_flags, len >= 8);
        assert_int_equal (q.tpc, len >= 6);
        assert_int_equal (q.has_vendor, len >= 16);
        assert_int_equal (q.has_product, len >= 32);
        assert_int_equal (q.has_revision, len >= 36);
        if (len < 16)
            assert_string_equal (q.vendor, "");
    }
    /* ADDITIONAL LENGTH 3: only bytes 0..7 count, even with 36 present. */
    uint8_t b[36];
    memcpy (b, s_inquiry, sizeof b);
    b[4] = 3;
    assert_int_equal (scsi_resp_inquiry (b, sizeof b, &q), 0);
    assert_int_equal (q.length, 8);
    assert_true (q.has_flags);
    assert_false (q.has_vendor);
    assert_string_equal (q.vendor, "");
}

static void
test_vpd_pages (void **state)
{
    (void)state;
    static const uint8_t b[] = {0x00, 0x00, 0x00, 0x05, 0x00, 0x80, 0x83, 0xb0, 0xb1};
    scsi_vpd_pages_t p;
    assert_int_equal (scsi_resp_vpd_pages (b, sizeof b, &p), 0);
    assert_int_equal (p.hdr.page_code, 0x00);
    assert_int_equal (p.hdr.page_length, 5);
    assert_int_equal (p.count, 5);
    static const uint8_t expect[5] = {0x00, 0x80, 0x83, 0xb0, 0xb1};
    assert_memory_equal (p.pages, expect, 5);
    assert_false (p.truncated);
    /* Cut by the allocation length. */
    assert_int_equal (scsi_resp_vpd_pages (b, 6, &p), 0);
    assert_int_equal (p.count, 2);
    assert_true (p.truncated);
    /* A lying page length of 0xffff with 9 bytes present. */
    uint8_t big[9];
    memcpy (big, b, sizeof big);
    big[2] = 0xff;
    big[3] = 0xff;
    assert_int_equal (scsi_resp_vpd_pages (big, sizeof big, &p), 0);
    assert_int_equal (p.count, 5);
    assert_true (p.truncated);
    /* Wrong page, short header. */
    static const uint8_t other[] = {0x00, 0x80, 0x00, 0x00};
    assert_int_equal (scsi_resp_vpd_pages (other, sizeof other, &p),
                      UIS_ERR_SCSI_RESPONSE);
    assert_int_equal (scsi_resp_vpd_pages (b, 3, &p), UIS_ERR_TRUNCATED);
    scsi_vpd_header_t h;
    assert_int_equal (scsi_resp_vpd_header (other, sizeof other, -1, &h), 0);
    assert_int_equal (h.page_code, 0x80);
    assert_int_equal (h.end, 4);
}

static void
test_vpd_serial (void **state)
{
    (void)state;
    static const uint8_t b[] = {0x00, 0x80, 0x00, 0x0c, ' ', ' ', 'S', 'N', '1',
                                '2',  '3',  '4',  '5',  ' ', ' ', ' ', 'x'};
    scsi_vpd_serial_t s;
    assert_int_equal (scsi_resp_vpd_serial (b, sizeof b, &s), 0);
    assert_string_equal (s.serial, "SN12345");
    assert_false (s.truncated);
    assert_int_equal (scsi_resp_vpd_serial (b, 8, &s), 0);
    assert_string_equal (s.serial, "SN");
    assert_true (s.truncated);
    /* A serial longer than kept: cut at SCSI_VPD_SERIAL_MAX. */
    uint8_t big[4 + 300];
    big[0] = 0;
    big[1] = 0x80;
    big[2] = 300 >> 8;
    big[3] = 300 & 0xff;
    memset (big + 4, 'A', 300);
    assert_int_equal (scsi_resp_vpd_serial (big, sizeof big, &s), 0);
    assert_int_equal (strlen (s.serial), SCSI_VPD_SERIAL_MAX);
    assert_true (s.truncated);
}

/* A device identification page as LIO sends it (NAA 6, T10 vendor ID, SCSI
 * name string of the target device, relative target port). */
static const uint8_t s_devid[] = {
    0x00,
    0x83,
    0x00,
    0x4c,
    /* NAA, binary, logical unit */
    0x01,
    0x03,
    0x00,
    0x10,
    0x60,
    0x01,
    0x40,
    0x5a,
    0xbc,
    0xde,
    0xf0,
    0x12,
    0x34,
    0x56,
    0x78,
    0x9a,
    0xbc,
    0xde,
    0xf0,
    0x12,
    /* T10 vendor ID, ASCII, logical unit */
    0x02,
    0x01,
    0x00,
    0x0c,
    'L',
    'I',
    'O',
    '-',
    'O',
    'R',
    'G',
    ' ',
    'd',
    'i',
    's',
    'k',
    /* SCSI name string, UTF-8, iSCSI, PIV, target device */
    0x53,
    0xa8,
    0x00,
    0x1c,
    'i',
    'q',
    'n',
    '.',
    '2',
    '0',
    '0',
    '3',
    '-',
    '0',
    '1',
    '.',
    'o',
    'r',
    'g',
    '.',
    'e',
    'x',
    'a',
    'm',
    'p',
    'l',
    'e',
    ':',
    't',
    '1',
    0,
    0,
    /* relative target port 1, PIV, target port */
    0x51,
    0x94,
    0x00,
    0x04,
    0x00,
    0x00,
    0x00,
    0x01,
};

static void
test_vpd_devid (void **state)
{
    (void)state;
    scsi_vpd_devid_t *d = calloc (1, sizeof *d);
    assert_non_null (d);
    assert_int_equal (sizeof s_devid, 4 + 0x4c);
    assert_int_equal (scsi_resp_vpd_devid (s_devid, sizeof s_devid, d), 0);
    assert_int_equal (d->count, 4);
    assert_int_equal (d->total, 4);
    assert_false (d->truncated);

    const scsi_designator_t *g = &d->desig[0];
    assert_int_equal (g->code_set, SCSI_CODE_SET_BINARY);
    assert_int_equal (g->association, 0);
    assert_int_equal (g->type, SCSI_DESIG_NAA);
    assert_int_equal (g->naa, 6);
    assert_int_equal (g->length, 16);
    char text[SCSI_DESIG_FORMAT_MAX];
    assert_int_equal (scsi_designator_format (g, text, sizeof text), 36);
    assert_string_equal (text, "naa.6001405abcdef0123456789abcdef012");

    g = &d->desig[1];
    assert_int_equal (g->type, SCSI_DESIG_T10);
    assert_int_equal (g->code_set, SCSI_CODE_SET_ASCII);
    assert_true (scsi_designator_format (g, text, sizeof text) > 0);
    assert_string_equal (text, "t10.LIO-ORG disk");

    g = &d->desig[2];
    assert_int_equal (g->type, SCSI_DESIG_SCSI_NAME);
    assert_int_equal (g->protocol_id, 5);
    assert_true (g->piv);
    assert_int_equal (g->association, 2);
    assert_int_equal (g->code_set, SCSI_CODE_SET_UTF8);
    assert_true (scsi_designator_format (g, text, sizeof text) > 0);
    assert_string_equal (text, "iqn.2003-01.org.example:t1");

    g = &d->desig[3];
    assert_int_equal (g->type, SCSI_DESIG_REL_PORT);
    assert_int_equal (g->association, 1);
    assert_true (scsi_designator_format (g, text, sizeof text) > 0);
    assert_string_equal (text, "0x00000001");
    assert_string_equal (scsi_designator_type_name (g->type), "relative target port");
    assert_string_equal (scsi_designator_type_name (SCSI_DESIG_NAA), "NAA");
    assert_string_equal (scsi_designator_type_name (0xf), "reserved");

    /* Too small a buffer for the NAA text. */
    char small[10];
    assert_int_equal (scsi_designator_format (&d->desig[0], small, sizeof small),
                      UIS_ERR_BUFFER_TOO_SMALL);
    assert_string_equal (small, "naa.60014");

    /* Every cut of the page: whole descriptors only, never more. */
    for (size_t len = 4; len <= sizeof s_devid; len++) {
        assert_int_equal (scsi_resp_vpd_devid (s_devid, len, d), 0);
        size_t expect = len >= 80 ? 4 : len >= 72 ? 3 : len >= 40 ? 2 : len >= 24 ? 1 : 0;
        assert_int_equal (d->count, expect);
        assert_int_equal (d->truncated, len < sizeof s_devid);
    }
    free (d);
}

/* More descriptors than kept: count bounded, total counted. */
static void
test_vpd_devid_bounded (void **state)
{
    (void)state;
    uint8_t b[4 + 40 * 4];
    memset (b, 0, sizeof b);
    b[1] = 0x83;
    b[3] = 40 * 4;
    for (int i = 0; i < 40; i++) {
        b[4 + 4 * i] = 0x02;     /* ASCII */
        b[4 + 4 * i + 1] = 0x00; /* vendor specific, zero length */
    }
    scsi_vpd_devid_t *d = calloc (1, sizeof *d);
    assert_non_null (d);
    assert_int_equal (scsi_resp_vpd_devid (b, sizeof b, d), 0);
    assert_int_equal (d->count, SCSI_VPD_DESIG_MAX);
    assert_int_equal (d->total, 40);
    assert_true (d->truncated);
    char text[SCSI_DESIG_FORMAT_MAX];
    assert_int_equal (scsi_designator_format (&d->desig[0], text, sizeof text), 0);
    assert_string_equal (text, "");
    /* A UUID designator is formatted 8-4-4-4-12. */
    scsi_designator_t u;
    memset (&u, 0, sizeof u);
    u.type = SCSI_DESIG_UUID;
    u.code_set = SCSI_CODE_SET_BINARY;
    u.length = 18;
    u.data[0] = 0x10;
    for (int i = 0; i < 16; i++)
        u.data[2 + i] = (uint8_t)(0x11 * (i % 16));
    assert_true (scsi_designator_format (&u, text, sizeof text) > 0);
    assert_string_equal (text, "uuid.00112233-4455-6677-8899-aabbccddeeff");
    /* The longest designator fits SCSI_DESIG_FORMAT_MAX. */
    u.type = SCSI_DESIG_NAA;
    u.length = 255;
    memset (u.data, 0xab, sizeof u.data);
    assert_int_equal (scsi_designator_format (&u, text, sizeof text), 4 + 510);
    free (d);
}

static void
test_vpd_block_limits (void **state)
{
    (void)state;
    static const uint8_t b[64] = {
        0x00, 0xb0, 0x00, 0x3c, 0x01, 0x01, 0x00, 0x08, 0x00, 0x00, 0x20,
        0x00, 0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40,
        0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x08, 0x80,
        0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
    };
    scsi_vpd_block_limits_t l;
    assert_int_equal (scsi_resp_vpd_block_limits (b, sizeof b, &l), 0);
    assert_true (l.has_basic && l.has_prefetch && l.has_unmap && l.has_write_same);
    assert_true (l.wsnz);
    assert_int_equal (l.max_compare_write_len, 1);
    assert_int_equal (l.opt_transfer_len_granularity, 8);
    assert_int_equal (l.max_transfer_len, 0x2000);
    assert_int_equal (l.opt_transfer_len, 0x80);
    assert_int_equal (l.max_prefetch_len, 0);
    assert_int_equal (l.max_unmap_lba_count, 0x400000);
    assert_int_equal (l.max_unmap_descriptor_count, 0x100);
    assert_int_equal (l.opt_unmap_granularity, 8);
    assert_true (l.ugavalid);
    assert_int_equal (l.unmap_granularity_alignment, 4);
    assert_int_equal (l.max_write_same_len, 0x10000);

    /* An old 0x0c-long page: only the first fields. */
    uint8_t old[64];
    memcpy (old, b, sizeof old);
    old[3] = 0x0c;
    assert_int_equal (scsi_resp_vpd_block_limits (old, sizeof old, &l), 0);
    assert_true (l.has_basic);
    assert_false (l.has_prefetch || l.has_unmap || l.has_write_same);
    assert_int_equal (l.max_transfer_len, 0x2000);
    assert_int_equal (l.max_unmap_lba_count, 0);
    /* Cut by the buffer in the middle of the unmap fields. */
    assert_int_equal (scsi_resp_vpd_block_limits (b, 30, &l), 0);
    assert_true (l.has_prefetch);
    assert_false (l.has_unmap);
    assert_int_equal (scsi_resp_vpd_block_limits (b, 10, &l), 0);
    assert_false (l.has_basic);
    assert_int_equal (l.max_transfer_len, 0);
}

static void
test_read_capacity10 (void **state)
{
    (void)state;
    static const uint8_t b[8] = {0x00, 0x00, 0xff, 0xff, 0x00, 0x00, 0x02, 0x00};
    scsi_capacity_t c;
    assert_int_equal (scsi_resp_capacity10 (b, sizeof b, &c), 0);
    assert_false (c.rc16);
    assert_false (c.need_rc16);
    assert_int_equal (c.blocks, 0x10000);
    assert_int_equal (c.block_size, 512);
    assert_int_equal (c.bytes, 0x10000 * 512);
    static const uint8_t full[8] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x10, 0x00};
    assert_int_equal (scsi_resp_capacity10 (full, sizeof full, &c), 0);
    assert_true (c.need_rc16);
    assert_int_equal (c.blocks, 0x100000000ull);
    assert_int_equal (scsi_resp_capacity10 (b, 7, &c), UIS_ERR_TRUNCATED);
    assert_int_equal (c.blocks, 0);
}

static void
test_read_capacity16 (void **state)
{
    (void)state;
    static const uint8_t b[32] = {0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
                                  0x00, 0x00, 0x10, 0x00, 0x05, 0x13, 0xc0, 0x08};
    scsi_capacity_t c;
    assert_int_equal (scsi_resp_capacity16 (b, sizeof b, &c), 0);
    assert_true (c.rc16);
    assert_int_equal (c.blocks, 0x100000000ull);
    assert_int_equal (c.block_size, 4096);
    assert_int_equal (c.bytes, 0x100000000000ull);
    assert_true (c.prot_en);
    assert_int_equal (c.p_type, 2);
    assert_int_equal (c.p_i_exponent, 1);
    assert_int_equal (c.lbppbe, 3);
    assert_true (c.has_lbp);
    assert_true (c.lbpme);
    assert_true (c.lbprz);
    assert_int_equal (c.lowest_aligned_lba, 8);
    /* 12 bytes: size only; 15 bytes: no LBP bits yet. */
    assert_int_equal (scsi_resp_capacity16 (b, 12, &c), 0);
    assert_int_equal (c.block_size, 4096);
    assert_false (c.prot_en);
    assert_int_equal (c.lbppbe, 0);
    assert_false (c.has_lbp);
    assert_int_equal (scsi_resp_capacity16 (b, 15, &c), 0);
    assert_int_equal (c.lbppbe, 3);
    assert_false (c.lbpme);
    assert_int_equal (scsi_resp_capacity16 (b, 11, &c), UIS_ERR_TRUNCATED);
    /* Impossible sizes. */
    uint8_t bad[32];
    memset (bad, 0xff, sizeof bad);
    assert_int_equal (scsi_resp_capacity16 (bad, sizeof bad, &c), UIS_ERR_SCSI_RESPONSE);
    memcpy (bad, b, sizeof bad);
    memcpy (bad, "\x00\xff\xff\xff\xff\xff\xff\xff\x00\x01\x00\x00", 12);
    assert_int_equal (scsi_resp_capacity16 (bad, sizeof bad, &c), UIS_ERR_SCSI_RESPONSE);
    assert_int_equal (c.blocks, 0);
}

/* R3: a multi-level LUN in REPORT LUNS keeps its raw value. */
static void
test_report_luns (void **state)
{
    (void)state;
    static const uint8_t b[] = {
        0x00, 0x00, 0x00, 0x28, 0, 0, 0, 0, /* 5 LUNs */
        0x00, 0x00, 0,    0,    0, 0, 0, 0, /* 0 */
        0x00, 0x01, 0,    0,    0, 0, 0, 0, /* 1 */
        0x41, 0x00, 0,    0,    0, 0, 0, 0, /* 256 */
        0x01, 0x02, 0x00, 0x05, 0, 0, 0, 0, /* multi-level */
        0xc1, 0x01, 0,    0,    0, 0, 0, 0, /* W-LUN */
    };
    scsi_lun_entry_t luns[8];
    scsi_report_luns_t r;
    assert_int_equal (scsi_resp_report_luns (b, sizeof b, &r, luns, 8), 0);
    assert_int_equal (r.list_length, 40);
    assert_int_equal (r.total, 5);
    assert_int_equal (r.count, 5);
    assert_false (r.truncated);
    assert_true (luns[0].has_int);
    assert_int_equal (luns[0].lun, 0);
    assert_int_equal (luns[1].lun, 1);
    assert_int_equal (luns[2].lun, 256);
    assert_false (luns[3].has_int);
    assert_int_equal (luns[3].value, 0x0102000500000000ull);
    assert_false (luns[4].has_int);
    assert_int_equal (luns[4].value, 0xc101000000000000ull);
    static const uint8_t raw3[8] = {0x01, 0x02, 0x00, 0x05, 0, 0, 0, 0};
    assert_memory_equal (luns[3].raw, raw3, 8);

    /* Bounded by the caller's array. */
    assert_int_equal (scsi_resp_report_luns (b, sizeof b, &r, luns, 2), 0);
    assert_int_equal (r.count, 2);
    assert_int_equal (r.total, 5);
    assert_true (r.truncated);
    /* Cut by the allocation length (a partial entry is dropped). */
    assert_int_equal (scsi_resp_report_luns (b, 8 + 8 * 3 + 5, &r, luns, 8), 0);
    assert_int_equal (r.count, 3);
    assert_true (r.truncated);
    /* Header only (allocation length 8 to learn the size), or too short. */
    assert_int_equal (scsi_resp_report_luns (b, 8, &r, NULL, 0), 0);
    assert_int_equal (r.total, 5);
    assert_int_equal (r.count, 0);
    assert_int_equal (scsi_resp_report_luns (b, 7, &r, luns, 8), UIS_ERR_TRUNCATED);
    /* A lying list length of 4 GiB. */
    uint8_t lie[16];
    memcpy (lie, b, sizeof lie);
    memset (lie, 0xff, 4);
    assert_int_equal (scsi_resp_report_luns (lie, sizeof lie, &r, luns, 8), 0);
    assert_int_equal (r.count, 1);
    assert_int_equal (r.total, 0xffffffffu / 8);
}

/* MODE SENSE(6): WP, a block descriptor, the caching and control pages. */
static const uint8_t s_ms6[] = {
    0x23, 0x00, 0x90, 0x08,                         /* header: 36 bytes follow */
    0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, /* 65536 blocks of 512 */
    0x88, 0x12, 0x04, 0,    0,    0,    0,    0,    0, 0, 0, 0,
    0,    0,    0,    0,    0,    0,    0,    0,                /* caching */
    0x0a, 0x0a, 0x02, 0,    0,    0,    0,    0,    0, 0, 0, 0, /* control (cut) */
};

static void
test_mode_sense6 (void **state)
{
    (void)state;
    assert_int_equal (sizeof s_ms6, 44);
    scsi_mode_header_t h;
    assert_int_equal (scsi_resp_mode_header (s_ms6, sizeof s_ms6, false, &h), 0);
    assert_false (h.ten);
    assert_int_equal (h.mode_data_length, 0x23);
    assert_int_equal (h.end, 36);
    assert_int_equal (h.medium_type, 0);
    assert_true (h.wp);
    assert_true (h.dpofua);
    assert_int_equal (h.block_descriptor_length, 8);
    assert_true (h.has_block_descriptor);
    assert_int_equal (h.bd_blocks, 65536);
    assert_int_equal (h.bd_block_length, 512);
    assert_int_equal (h.pages_offset, 12);

    size_t pos = h.pages_offset;
    scsi_mode_page_t p;
    assert_int_equal (scsi_resp_mode_page_next (s_ms6, sizeof s_ms6, &h, &pos, &p), 1);
    assert_int_equal (p.page_code, 0x08);
    assert_true (p.ps);
    assert_false (p.spf);
    assert_int_equal (p.page_length, 0x12);
    assert_int_equal (p.data_len, 0x12);
    assert_ptr_equal (p.data, s_ms6 + 14);
    assert_int_equal (p.data[0], 0x04); /* WCE */
    assert_false (p.truncated);
    /* MODE DATA LENGTH ends the data at 36: the control page is cut. */
    assert_int_equal (scsi_resp_mode_page_next (s_ms6, sizeof s_ms6, &h, &pos, &p), 1);
    assert_int_equal (p.page_code, 0x0a);
    assert_int_equal (p.page_length, 10);
    assert_int_equal (p.data_len, 2);
    assert_true (p.truncated);
    assert_int_equal (scsi_resp_mode_page_next (s_ms6, sizeof s_ms6, &h, &pos, &p), 0);
    assert_int_equal (scsi_resp_mode_page_next (s_ms6, sizeof s_ms6, &h, &pos, &p), 0);

    /* The whole control page when MODE DATA LENGTH covers it. */
    uint8_t full[sizeof s_ms6];
    memcpy (full, s_ms6, sizeof full);
    full[0] = sizeof full - 1;
    assert_int_equal (scsi_resp_mode_header (full, sizeof full, false, &h), 0);
    pos = h.pages_offset;
    int pages = 0;
    for (int i = 0; i < 10; i++) {
        int rc = scsi_resp_mode_page_next (full, sizeof full, &h, &pos, &p);
        if (rc == 0)
            break;
        assert_int_equal (rc, 1);
        assert_false (p.truncated);
        pages++;
    }
    assert_int_equal (pages, 2);

    /* A page header cut after its first byte. */
    assert_int_equal (scsi_resp_mode_header (s_ms6, 33, false, &h), 0);
    pos = 32;
    assert_int_equal (scsi_resp_mode_page_next (s_ms6, 33, &h, &pos, &p),
                      UIS_ERR_TRUNCATED);
    assert_int_equal (pos, 33);
    assert_int_equal (scsi_resp_mode_page_next (s_ms6, 33, &h, &pos, &p), 0);
    assert_int_equal (scsi_resp_mode_header (s_ms6, 3, false, &h), UIS_ERR_TRUNCATED);
}

/* MODE SENSE(10) with a long LBA descriptor and a sub-page. */
static void
test_mode_sense10 (void **state)
{
    (void)state;
    static const uint8_t b[] = {
        0x00, 0x2a, 0x00, 0x00, 0x01, 0x00, 0x00, 0x10,             /* header */
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0, 0, 0, 0, /* long LBA */
        0x00, 0x00, 0x10, 0x00,                                     /* 4096 */
        0x4a, 0x01, 0x00, 0x04, 0x01, 0x02, 0x03, 0x04,             /* 0x0a/0x01 */
        0x1c, 0x0a, 0,    0,    0,    0,    0,    0,    0, 0, 0, 0, /* IEC */
    };
    scsi_mode_header_t h;
    assert_int_equal (scsi_resp_mode_header (b, sizeof b, true, &h), 0);
    assert_true (h.ten);
    assert_int_equal (h.mode_data_length, 0x2a);
    assert_int_equal (h.end, sizeof b);
    assert_false (h.wp);
    assert_true (h.longlba);
    assert_int_equal (h.block_descriptor_length, 16);
    assert_true (h.has_block_descriptor);
    assert_int_equal (h.bd_blocks, 0x100000000ull);
    assert_int_equal (h.bd_block_length, 4096);
    assert_int_equal (h.pages_offset, 24);
    size_t pos = h.pages_offset;
    scsi_mode_page_t p;
    assert_int_equal (scsi_resp_mode_page_next (b, sizeof b, &h, &pos, &p), 1);
    assert_true (p.spf);
    assert_int_equal (p.page_code, 0x0a);
    assert_int_equal (p.subpage_code, 0x01);
    assert_int_equal (p.header_len, 4);
    assert_int_equal (p.data_len, 4);
    assert_int_equal (p.data[3], 0x04);
    assert_int_equal (scsi_resp_mode_page_next (b, sizeof b, &h, &pos, &p), 1);
    assert_int_equal (p.page_code, 0x1c);
    assert_int_equal (p.offset, 32);
    assert_int_equal (scsi_resp_mode_page_next (b, sizeof b, &h, &pos, &p), 0);

    /* A block descriptor length beyond the data: no pages; the first
     * descriptor is still whole and reported. */
    uint8_t lie[sizeof b];
    memcpy (lie, b, sizeof lie);
    lie[6] = 0xff;
    assert_int_equal (scsi_resp_mode_header (lie, sizeof lie, true, &h), 0);
    assert_true (h.has_block_descriptor);
    assert_int_equal (h.block_descriptor_length, 0xff10);
    assert_int_equal (h.pages_offset, h.end);
    pos = h.pages_offset;
    assert_int_equal (scsi_resp_mode_page_next (lie, sizeof lie, &h, &pos, &p), 0);
    /* MODE DATA LENGTH 0: the header still counts. */
    lie[0] = 0;
    lie[1] = 0;
    assert_int_equal (scsi_resp_mode_header (lie, sizeof lie, true, &h), 0);
    assert_int_equal (h.end, 8);
    /* A sub-page header cut. */
    assert_int_equal (scsi_resp_mode_header (b, 26, true, &h), 0);
    pos = h.pages_offset;
    assert_int_equal (scsi_resp_mode_page_next (b, 26, &h, &pos, &p), UIS_ERR_TRUNCATED);
    assert_int_equal (scsi_resp_mode_header (b, 7, true, &h), UIS_ERR_TRUNCATED);
}

static void
test_pr_in (void **state)
{
    (void)state;
    static const uint8_t keys[] = {
        0x00, 0x00, 0x00, 0x11, 0x00, 0x00, 0x00, 0x10, /* generation, 16 bytes */
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* key 1 */
        0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, /* key 2 */
    };
    uint64_t k[4];
    scsi_pr_keys_t r;
    assert_int_equal (scsi_resp_pr_keys (keys, sizeof keys, &r, k, 4), 0);
    assert_int_equal (r.generation, 0x11);
    assert_int_equal (r.additional_length, 16);
    assert_int_equal (r.total, 2);
    assert_int_equal (r.count, 2);
    assert_false (r.truncated);
    assert_int_equal (k[0], 0x0102030405060708ull);
    assert_int_equal (k[1], 0xa1a2a3a4a5a6a7a8ull);
    assert_int_equal (scsi_resp_pr_keys (keys, sizeof keys, &r, k, 1), 0);
    assert_int_equal (r.count, 1);
    assert_true (r.truncated);
    assert_int_equal (scsi_resp_pr_keys (keys, 20, &r, k, 4), 0);
    assert_int_equal (r.count, 1);
    assert_true (r.truncated);
    assert_int_equal (scsi_resp_pr_keys (keys, 7, &r, k, 4), UIS_ERR_TRUNCATED);

    static const uint8_t resv[24] = {
        0x00, 0x00, 0x00, 0x12, 0x00, 0x00, 0x00, 0x10, 0x01, 0x02, 0x03, 0x04,
        0x05, 0x06, 0x07, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00,
    };
    scsi_pr_reservation_t v;
    assert_int_equal (scsi_resp_pr_reservation (resv, sizeof resv, &v), 0);
    assert_int_equal (v.generation, 0x12);
    assert_true (v.reserved);
    assert_int_equal (v.key, 0x0102030405060708ull);
    assert_int_equal (v.scope, 0);
    assert_int_equal (v.type, 3);
    static const uint8_t none[8] = {0, 0, 0, 0x13, 0, 0, 0, 0};
    assert_int_equal (scsi_resp_pr_reservation (none, sizeof none, &v), 0);
    assert_false (v.reserved);
    assert_int_equal (v.generation, 0x13);
    assert_int_equal (scsi_resp_pr_reservation (resv, 20, &v), UIS_ERR_TRUNCATED);
    assert_int_equal (scsi_resp_pr_reservation (resv, 7, &v), UIS_ERR_TRUNCATED);
}

static void
test_device_type_names (void **state)
{
    (void)state;
    assert_string_equal (scsi_device_type_name (0x00), "direct-access block device");
    assert_string_equal (scsi_device_type_name (0x01), "sequential-access device");
    assert_string_equal (scsi_device_type_name (0x05), "CD/DVD device");
    assert_string_equal (scsi_device_type_name (0x08), "media changer device");
    assert_string_equal (scsi_device_type_name (0x0c), "storage array controller");
    assert_string_equal (scsi_device_type_name (0x0d), "enclosure services device");
    assert_string_equal (scsi_device_type_name (0x14), "host managed zoned block device");
    assert_string_equal (scsi_device_type_name (0x1e), "well known logical unit");
    assert_string_equal (scsi_device_type_name (0x1f), "unknown or no device type");
    assert_string_equal (scsi_device_type_name (0x20), "unknown");
    for (unsigned t = 0; t < 256; t++)
        assert_true (strlen (scsi_device_type_name ((uint8_t)t)) > 0);
}

/* I2: the non-GOOD statuses get the API's names. */
static void
test_status_names_i2 (void **state)
{
    (void)state;
    assert_string_equal (scsi_status_name (0x00), "GOOD");
    assert_string_equal (scsi_status_name (0x02), "CHECK_CONDITION");
    assert_string_equal (scsi_status_name (0x04), "CONDITION_MET");
    assert_string_equal (scsi_status_name (0x08), "BUSY");
    assert_string_equal (scsi_status_name (0x18), "RESERVATION_CONFLICT");
    assert_string_equal (scsi_status_name (0x28), "TASK_SET_FULL");
    assert_string_equal (scsi_status_name (0x30), "ACA_ACTIVE");
    assert_string_equal (scsi_status_name (0x40), "TASK_ABORTED");
    assert_string_equal (scsi_status_name (0x10), "INTERMEDIATE");
    assert_string_equal (scsi_status_name (0x14), "INTERMEDIATE_CONDITION_MET");
    assert_string_equal (scsi_status_name (0x22), "COMMAND_TERMINATED");
    assert_string_equal (scsi_status_name (0x01), "UNKNOWN");
    assert_string_equal (scsi_status_name (0xff), "UNKNOWN");
}

/* A8: every parser over all-0xff and all-zero buffers of every small length. */
static void
test_parsers_garbage (void **state)
{
    (void)state;
    scsi_vpd_devid_t *d = calloc (1, sizeof *d);
    assert_non_null (d);
    uint8_t b[96];
    for (int fill = 0; fill < 2; fill++) {
        memset (b, fill ? 0xff : 0x00, sizeof b);
        for (size_t len = 0; len <= sizeof b; len++) {
            scsi_inquiry_t q;
            scsi_vpd_pages_t vp;
            scsi_vpd_serial_t vs;
            scsi_vpd_block_limits_t bl;
            scsi_capacity_t c;
            scsi_report_luns_t r;
            scsi_lun_entry_t luns[4];
            scsi_pr_keys_t pk;
            uint64_t keys[4];
            scsi_pr_reservation_t pr;
            (void)scsi_resp_inquiry (b, len, &q);
            (void)scsi_resp_vpd_pages (b, len, &vp);
            (void)scsi_resp_vpd_serial (b, len, &vs);
            (void)scsi_resp_vpd_devid (b, len, d);
            (void)scsi_resp_vpd_block_limits (b, len, &bl);
            (void)scsi_resp_capacity10 (b, len, &c);
            (void)scsi_resp_capacity16 (b, len, &c);
            (void)scsi_resp_report_luns (b, len, &r, luns, 4);
            assert_true (r.count <= 4);
            (void)scsi_resp_pr_keys (b, len, &pk, keys, 4);
            assert_true (pk.count <= 4);
            (void)scsi_resp_pr_reservation (b, len, &pr);
            for (int ten = 0; ten < 2; ten++) {
                scsi_mode_header_t h;
                if (scsi_resp_mode_header (b, len, ten, &h) != 0)
                    continue;
                assert_true (h.end <= len);
                size_t pos = h.pages_offset;
                scsi_mode_page_t p;
                int guard = 0;
                while (scsi_resp_mode_page_next (b, len, &h, &pos, &p) == 1) {
                    assert_true (p.data + p.data_len <= b + len);
                    assert_true (++guard <= 64);
                }
            }
        }
    }
    free (d);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_inquiry_standard),
        cmocka_unit_test (test_inquiry_qualifier_removable_text),
        cmocka_unit_test (test_inquiry_truncated),
        cmocka_unit_test (test_vpd_pages),
        cmocka_unit_test (test_vpd_serial),
        cmocka_unit_test (test_vpd_devid),
        cmocka_unit_test (test_vpd_devid_bounded),
        cmocka_unit_test (test_vpd_block_limits),
        cmocka_unit_test (test_read_capacity10),
        cmocka_unit_test (test_read_capacity16),
        cmocka_unit_test (test_report_luns),
        cmocka_unit_test (test_mode_sense6),
        cmocka_unit_test (test_mode_sense10),
        cmocka_unit_test (test_pr_in),
        cmocka_unit_test (test_device_type_names),
        cmocka_unit_test (test_status_names_i2),
        cmocka_unit_test (test_parsers_garbage),
    };
    return cmocka_run_group_tests_name ("proto scsi_resp", tests, NULL, NULL);
}
