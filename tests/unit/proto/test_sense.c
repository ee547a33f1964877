/* test_sense.c: sense data parsing, the iSCSI sense segment and the name
 * tables (proto/sense.c). Conformance ids covered: I1 (CHECK CONDITION with
 * fixed and descriptor sense behind the 2-byte SenseLength: key, ASC, ASCQ,
 * Information parsed), I4 (SenseLength larger than the segment, or a 1-byte
 * segment: no crash, sense absent), I5 (ABORTED COMMAND 47/05, 0C/0C,
 * 0C/0D, 0C/0E surfaced with their SPC texts), A8 (short and garbage sense
 * never crashes; see also tests/fuzz/fuzz_sense.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proto/errors.h"
#include "proto/sense.h"

/* ILLEGAL REQUEST, INVALID FIELD IN CDB, information 0x1234, field pointer
 * to CDB byte 2 (fixed format, current, VALID). */
static const uint8_t s_fixed[18] = {0xf0, 0x00, 0x05, 0x00, 0x00, 0x12, 0x34, 0x0a, 0xde,
                                    0xad, 0xbe, 0xef, 0x24, 0x00, 0x07, 0xc8, 0x00, 0x02};

/* MEDIUM ERROR, UNRECOVERED READ ERROR, descriptor format: information
 * descriptor (0x12345678), command-specific (0xabcd), sense key specific
 * (retry count 5), block commands (ILI). */
static const uint8_t s_desc[] = {
    0x72, 0x03, 0x11, 0x00, 0x00, 0x00, 0x00, 0x24,                         /* header */
    0x00, 0x0a, 0x80, 0x00, 0,    0,    0,    0,    0x12, 0x34, 0x56, 0x78, /* info */
    0x01, 0x0a, 0x00, 0x00, 0,    0,    0,    0,    0,    0,    0xab, 0xcd, /* cmd info */
    0x02, 0x06, 0x00, 0x00, 0x80, 0x00, 0x05, 0x00,                         /* sks */
    0x05, 0x02, 0x00, 0x20,                                                 /* block */
};

static void
test_sense_fixed (void **state)
{
    (void)state;
    sense_t s;
    assert_int_equal (sense_parse (s_fixed, sizeof s_fixed, &s), 0);
    assert_int_equal (s.response_code, 0x70);
    assert_false (s.descriptor);
    assert_false (s.deferred);
    assert_int_equal (s.sense_key, SENSE_KEY_ILLEGAL_REQUEST);
    assert_true (s.asc_valid);
    assert_int_equal (s.asc, 0x24);
    assert_int_equal (s.ascq, 0x00);
    assert_true (s.info_valid);
    assert_int_equal (s.information, 0x1234);
    assert_true (s.cmd_info_valid);
    assert_int_equal (s.cmd_info, 0xdeadbeef);
    assert_int_equal (s.fru, 0x07);
    assert_true (s.sks_valid);
    assert_true (s.field_pointer_valid);
    assert_true (s.field_in_cdb);
    assert_true (s.bit_pointer_valid);
    assert_int_equal (s.bit_pointer, 0);
    assert_int_equal (s.field_pointer, 2);
    assert_false (s.progress_valid);
    assert_false (s.filemark || s.eom || s.ili);
    assert_int_equal (s.length, 18);

    /* VALID clear: no information; deferred code; filemark/EOM/ILI bits. */
    uint8_t b[18];
    memcpy (b, s_fixed, sizeof b);
    b[0] = 0x71;
    b[2] = 0xe3;
    assert_int_equal (sense_parse (b, sizeof b, &s), 0);
    assert_true (s.deferred);
    assert_false (s.info_valid);
    assert_int_equal (s.information, 0);
    assert_true (s.filemark && s.eom && s.ili);
    assert_int_equal (s.sense_key, SENSE_KEY_MEDIUM_ERROR);
    assert_false (s.field_pointer_valid);
}

/* NOT READY, becoming ready, with a progress indication in the SKS. */
static void
test_sense_fixed_progress (void **state)
{
    (void)state;
    static const uint8_t b[18] = {0x70, 0, 0x02, 0,    0,    0, 0,    0x0a, 0,
                                  0,    0, 0,    0x04, 0x01, 0, 0x80, 0x40, 0x00};
    sense_t s;
    assert_int_equal (sense_parse (b, sizeof b, &s), 0);
    assert_int_equal (s.sense_key, SENSE_KEY_NOT_READY);
    assert_int_equal (s.asc, 0x04);
    assert_int_equal (s.ascq, 0x01);
    assert_true (s.progress_valid);
    assert_int_equal (s.progress, 0x4000);
}

/* ADDITIONAL SENSE LENGTH limits what is read, even if more bytes follow. */
static void
test_sense_fixed_additional_length (void **state)
{
    (void)state;
    uint8_t b[18];
    memcpy (b, s_fixed, sizeof b);
    b[7] = 4; /* 12 bytes: no ASC/ASCQ, no SKS */
    sense_t s;
    assert_int_equal (sense_parse (b, sizeof b, &s), 0);
    assert_int_equal (s.length, 12);
    assert_true (s.cmd_info_valid);
    assert_false (s.asc_valid);
    assert_int_equal (s.asc, 0);
    assert_false (s.sks_valid);
    assert_int_equal (s.fru, 0);
    b[7] = 0; /* 8 bytes: key and information only */
    assert_int_equal (sense_parse (b, sizeof b, &s), 0);
    assert_int_equal (s.sense_key, SENSE_KEY_ILLEGAL_REQUEST);
    assert_true (s.info_valid);
    assert_false (s.cmd_info_valid);
    assert_false (s.asc_valid);
}

/* Every prefix of a fixed sense parses or fails cleanly; fields appear only
 * once covered. */
static void
test_sense_fixed_truncated (void **state)
{
    (void)state;
    for (size_t len = 0; len <= sizeof s_fixed; len++) {
        sense_t s;
        int rc = sense_parse (s_fixed, len, &s);
        if (len < 3) {
            assert_int_equal (rc, UIS_ERR_TRUNCATED);
            assert_int_equal (s.sense_key, 0);
            continue;
        }
        assert_int_equal (rc, 0);
        assert_int_equal (s.sense_key, SENSE_KEY_ILLEGAL_REQUEST);
        assert_int_equal (s.length, len);
        assert_int_equal (s.info_valid, len >= 7);
        assert_int_equal (s.cmd_info_valid, len >= 12);
        assert_int_equal (s.asc_valid, len >= 13);
        assert_int_equal (s.asc, len >= 13 ? 0x24 : 0);
        assert_int_equal (s.fru, len >= 15 ? 0x07 : 0);
        assert_int_equal (s.sks_valid, len >= 18);
    }
}

static void
test_sense_descriptor (void **state)
{
    (void)state;
    sense_t s;
    assert_int_equal (sense_parse (s_desc, sizeof s_desc, &s), 0);
    assert_int_equal (s.response_code, 0x72);
    assert_true (s.descriptor);
    assert_false (s.deferred);
    assert_int_equal (s.sense_key, SENSE_KEY_MEDIUM_ERROR);
    assert_int_equal (s.asc, 0x11);
    assert_int_equal (s.ascq, 0x00);
    assert_true (s.info_valid);
    assert_int_equal (s.information, 0x12345678);
    assert_true (s.cmd_info_valid);
    assert_int_equal (s.cmd_info, 0xabcd);
    assert_true (s.sks_valid);
    assert_int_equal (s.sks[2], 0x05);
    assert_true (s.ili);
    assert_int_equal (s.length, sizeof s_desc);

    /* Every prefix is safe; the information descriptor counts only whole. */
    for (size_t len = 0; len <= sizeof s_desc; len++) {
        int rc = sense_parse (s_desc, len, &s);
        if (len < 2) {
            assert_int_equal (rc, UIS_ERR_TRUNCATED);
            continue;
        }
        assert_int_equal (rc, 0);
        assert_int_equal (s.sense_key, SENSE_KEY_MEDIUM_ERROR);
        assert_int_equal (s.info_valid, len >= 20);
        assert_int_equal (s.cmd_info_valid, len >= 32);
        assert_int_equal (s.ili, len >= 44);
    }
}

/* Descriptors: a 64-bit information value, VALID clear, a descriptor whose
 * length runs past the data, a deferred code, stream commands bits. */
static void
test_sense_descriptor_edges (void **state)
{
    (void)state;
    sense_t s;
    static const uint8_t big[] = {0x73, 0x0b, 0x47, 0x05, 0,    0,    0,    0x10,
                                  0x00, 0x0a, 0x80, 0,    0x01, 0x02, 0x03, 0x04,
                                  0x05, 0x06, 0x07, 0x08, 0x04, 0x02, 0,    0xc0};
    assert_int_equal (sense_parse (big, sizeof big, &s), 0);
    assert_true (s.deferred);
    assert_int_equal (s.sense_key, SENSE_KEY_ABORTED_COMMAND);
    assert_int_equal (s.information, 0x0102030405060708ull);
    assert_true (s.filemark);
    assert_true (s.eom);
    assert_false (s.ili);

    static const uint8_t novalid[] = {0x72, 0x05, 0x24, 0x00, 0, 0, 0, 0x0c, 0x00, 0x0a,
                                      0x00, 0,    0,    0,    0, 0, 0, 0,    0,    9};
    assert_int_equal (sense_parse (novalid, sizeof novalid, &s), 0);
    assert_false (s.info_valid);

    /* The descriptor claims 0xff bytes: ignored, no overread. */
    static const uint8_t over[] = {0x72, 0x06, 0x29, 0x00, 0, 0, 0,
                                   0x06, 0x00, 0xff, 0x80, 0, 1, 2};
    assert_int_equal (sense_parse (over, sizeof over, &s), 0);
    assert_int_equal (s.sense_key, SENSE_KEY_UNIT_ATTENTION);
    assert_int_equal (s.asc, 0x29);
    assert_false (s.info_valid);

    /* A header cut after the key: ASC absent. */
    assert_int_equal (sense_parse (s_desc, 2, &s), 0);
    assert_false (s.asc_valid);
}

static void
test_sense_bad_codes (void **state)
{
    (void)state;
    sense_t s;
    static const uint8_t vendor[18] = {0x7f, 0, 5};
    assert_int_equal (sense_parse (vendor, sizeof vendor, &s), UIS_ERR_SCSI_SENSE);
    static const uint8_t old[4] = {0x00, 0x12, 0x34, 0x56};
    assert_int_equal (sense_parse (old, sizeof old, &s), UIS_ERR_SCSI_SENSE);
    assert_int_equal (s.sense_key, 0);
    assert_int_equal (sense_parse (NULL, 0, &s), UIS_ERR_TRUNCATED);
    /* Every first byte and a few lengths: never a crash. */
    uint8_t b[32];
    for (unsigned first = 0; first < 256; first++) {
        for (size_t len = 0; len <= sizeof b; len += 3) {
            memset (b, 0xff, sizeof b);
            b[0] = (uint8_t)first;
            int rc = sense_parse (b, len, &s);
            assert_true (rc == 0 || rc == UIS_ERR_TRUNCATED || rc == UIS_ERR_SCSI_SENSE);
            assert_true (s.length <= len);
        }
    }
}

/* I1: a CHECK CONDITION's data segment with fixed sense behind SenseLength. */
static void
test_sense_iscsi_fixed_i1 (void **state)
{
    (void)state;
    uint8_t seg[2 + sizeof s_fixed + 3];
    seg[0] = 0;
    seg[1] = sizeof s_fixed;
    memcpy (seg + 2, s_fixed, sizeof s_fixed);
    memset (seg + 2 + sizeof s_fixed, 0xee, 3); /* response data after it */
    sense_t s;
    assert_int_equal (sense_parse_iscsi (seg, sizeof seg, &s), 0);
    assert_int_equal (s.sense_key, SENSE_KEY_ILLEGAL_REQUEST);
    assert_int_equal (s.asc, 0x24);
    assert_int_equal (s.ascq, 0x00);
    assert_true (s.info_valid);
    assert_int_equal (s.information, 0x1234);
    assert_int_equal (s.length, 18);

    const uint8_t *p;
    size_t n;
    assert_int_equal (sense_from_iscsi_segment (seg, sizeof seg, &p, &n), 0);
    assert_ptr_equal (p, seg + 2);
    assert_int_equal (n, 18);
}

/* I1: the same with descriptor sense. */
static void
test_sense_iscsi_descriptor_i1 (void **state)
{
    (void)state;
    uint8_t seg[2 + sizeof s_desc];
    seg[0] = 0;
    seg[1] = sizeof s_desc;
    memcpy (seg + 2, s_desc, sizeof s_desc);
    sense_t s;
    assert_int_equal (sense_parse_iscsi (seg, sizeof seg, &s), 0);
    assert_int_equal (s.sense_key, SENSE_KEY_MEDIUM_ERROR);
    assert_int_equal (s.asc, 0x11);
    assert_int_equal (s.ascq, 0x00);
    assert_true (s.info_valid);
    assert_int_equal (s.information, 0x12345678);
}

/* I4: SenseLength beyond the segment, a 1-byte segment, an empty one, and
 * SenseLength 0: never a crash, sense absent. */
static void
test_sense_iscsi_malformed_i4 (void **state)
{
    (void)state;
    const uint8_t *p = (const uint8_t *)"x";
    size_t n = 99;
    sense_t s;

    uint8_t one[1] = {0x00};
    assert_int_equal (sense_from_iscsi_segment (one, 1, &p, &n), UIS_ERR_TRUNCATED);
    assert_null (p);
    assert_int_equal (n, 0);
    assert_int_equal (sense_parse_iscsi (one, 1, &s), UIS_ERR_TRUNCATED);
    assert_int_equal (s.sense_key, 0);

    uint8_t longer[2 + sizeof s_fixed];
    longer[0] = 0;
    longer[1] = sizeof s_fixed + 1; /* one byte more than follows */
    memcpy (longer + 2, s_fixed, sizeof s_fixed);
    assert_int_equal (sense_from_iscsi_segment (longer, sizeof longer, &p, &n),
                      UIS_ERR_TRUNCATED);
    assert_null (p);
    assert_int_equal (n, 0);
    assert_int_equal (sense_parse_iscsi (longer, sizeof longer, &s), UIS_ERR_TRUNCATED);
    assert_false (s.asc_valid);
    longer[0] = 0xff;
    longer[1] = 0xff;
    assert_int_equal (sense_parse_iscsi (longer, sizeof longer, &s), UIS_ERR_TRUNCATED);

    assert_int_equal (sense_from_iscsi_segment (NULL, 0, &p, &n), 0);
    assert_int_equal (n, 0);
    assert_int_equal (sense_parse_iscsi (NULL, 0, &s), UIS_ERR_SCSI_SENSE);

    uint8_t zero[6] = {0, 0, 1, 2, 3, 4};
    assert_int_equal (sense_from_iscsi_segment (zero, sizeof zero, &p, &n), 0);
    assert_int_equal (n, 0);
    assert_int_equal (sense_parse_iscsi (zero, sizeof zero, &s), UIS_ERR_SCSI_SENSE);

    /* SenseLength 1: present but too short to hold a sense key. */
    uint8_t tiny[3] = {0, 1, 0x70};
    assert_int_equal (sense_parse_iscsi (tiny, sizeof tiny, &s), UIS_ERR_TRUNCATED);
}

static void
test_sense_key_names (void **state)
{
    (void)state;
    assert_string_equal (sense_key_name (0x0), "NO SENSE");
    assert_string_equal (sense_key_name (0x1), "RECOVERED ERROR");
    assert_string_equal (sense_key_name (0x2), "NOT READY");
    assert_string_equal (sense_key_name (0x3), "MEDIUM ERROR");
    assert_string_equal (sense_key_name (0x4), "HARDWARE ERROR");
    assert_string_equal (sense_key_name (0x5), "ILLEGAL REQUEST");
    assert_string_equal (sense_key_name (0x6), "UNIT ATTENTION");
    assert_string_equal (sense_key_name (0x7), "DATA PROTECT");
    assert_string_equal (sense_key_name (0x8), "BLANK CHECK");
    assert_string_equal (sense_key_name (0x9), "VENDOR SPECIFIC");
    assert_string_equal (sense_key_name (0xa), "COPY ABORTED");
    assert_string_equal (sense_key_name (0xb), "ABORTED COMMAND");
    assert_string_equal (sense_key_name (0xc), "RESERVED");
    assert_string_equal (sense_key_name (0xd), "VOLUME OVERFLOW");
    assert_string_equal (sense_key_name (0xe), "MISCOMPARE");
    assert_string_equal (sense_key_name (0xf), "COMPLETED");
    assert_string_equal (sense_key_name (0x10), "UNKNOWN");
    assert_string_equal (sense_key_name (0xff), "UNKNOWN");
}

static void
test_sense_asc_texts (void **state)
{
    (void)state;
    static const struct {
        uint8_t asc, ascq;
        const char *text;
    } cases[] = {
        {0x00, 0x00, "no additional sense information"},
        {0x04, 0x01, "logical unit is in process of becoming ready"},
        {0x04, 0x02, "logical unit not ready, initializing command required"},
        {0x11, 0x13, "read error - failed retransmission request"},
        {0x1d, 0x00, "miscompare during verify operation"},
        {0x20, 0x00, "invalid command operation code"},
        {0x21, 0x00, "logical block address out of range"},
        {0x24, 0x00, "invalid field in CDB"},
        {0x25, 0x00, "logical unit not supported"},
        {0x26, 0x00, "invalid field in parameter list"},
        {0x27, 0x00, "write protected"},
        {0x29, 0x00, "power on, reset, or bus device reset occurred"},
        {0x2a, 0x01, "mode parameters changed"},
        {0x2a, 0x09, "capacity data has changed"},
        {0x3a, 0x00, "medium not present"},
        {0x3f, 0x0e, "reported luns data has changed"},
        {0x44, 0x00, "internal target failure"},
        {0x74, 0x79, "security conflict in translated device"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *t = sense_asc_text (cases[i].asc, cases[i].ascq);
        assert_non_null (t);
        assert_string_equal (t, cases[i].text);
        char buf[SENSE_DESCRIBE_MAX];
        assert_int_equal (sense_describe (cases[i].asc, cases[i].ascq, buf, sizeof buf),
                          (int)strlen (cases[i].text));
        assert_string_equal (buf, cases[i].text);
    }
    assert_null (sense_asc_text (0x24, 0x77));
    assert_null (sense_asc_text (0xff, 0xff));
}

/* I5: the iSCSI-specific ABORTED COMMAND codes have SPC's texts (RFC 7143
 * §11.4.7.2 names 0C/0C unexpected unsolicited data, 0C/0D incorrect amount
 * of data, 47/05 protocol service CRC error). */
static void
test_sense_asc_iscsi_i5 (void **state)
{
    (void)state;
    char buf[SENSE_DESCRIBE_MAX];
    assert_true (sense_describe (0x47, 0x05, buf, sizeof buf) > 0);
    assert_string_equal (buf, "protocol service CRC error");
    assert_true (sense_describe (0x0c, 0x0c, buf, sizeof buf) > 0);
    assert_string_equal (buf, "write error - unexpected unsolicited data");
    assert_true (sense_describe (0x0c, 0x0d, buf, sizeof buf) > 0);
    assert_string_equal (buf, "write error - not enough unsolicited data");
    assert_true (sense_describe (0x0c, 0x0e, buf, sizeof buf) > 0);
    assert_string_equal (buf, "multiple write errors");
    assert_string_equal (sense_key_name (SENSE_KEY_ABORTED_COMMAND), "ABORTED COMMAND");
}

static void
test_sense_describe_ranges_unknown (void **state)
{
    (void)state;
    char buf[SENSE_DESCRIBE_MAX];
    assert_int_equal (sense_describe (0x40, 0x85, buf, sizeof buf), 36);
    assert_string_equal (buf, "diagnostic failure on component 0x85");
    assert_true (sense_describe (0x40, 0x00, buf, sizeof buf) > 0);
    assert_string_equal (buf, "RAM failure (should use 40 NN)");
    assert_true (sense_describe (0x4d, 0x2a, buf, sizeof buf) > 0);
    assert_string_equal (buf, "tagged overlapped commands (task tag 0x2a)");
    assert_true (sense_describe (0x70, 0x03, buf, sizeof buf) > 0);
    assert_string_equal (buf, "decompression exception short algorithm ID of 0x03");
    /* 40/01..7F are not assigned: formatted as unknown. */
    assert_true (sense_describe (0x40, 0x01, buf, sizeof buf) > 0);
    assert_string_equal (buf, "ASC 0x40 ASCQ 0x01");
    assert_int_equal (sense_describe (0x80, 0xfe, buf, sizeof buf), 18);
    assert_string_equal (buf, "ASC 0x80 ASCQ 0xfe");
    /* Too small: error, truncated text. */
    char small[8];
    assert_int_equal (sense_describe (0x24, 0x00, small, sizeof small),
                      UIS_ERR_BUFFER_TOO_SMALL);
    assert_string_equal (small, "invalid");
    assert_int_equal (sense_describe (0x24, 0x00, NULL, 0), UIS_ERR_BUFFER_TOO_SMALL);
    /* Every pair fits SENSE_DESCRIBE_MAX. */
    for (unsigned a = 0; a < 256; a++)
        for (unsigned q = 0; q < 256; q++)
            assert_true (sense_describe ((uint8_t)a, (uint8_t)q, buf, sizeof buf) > 0);
}

/* The table is sorted, unique, non-empty, and every entry is found. */
static void
test_sense_asc_table (void **state)
{
    (void)state;
    size_t count = sense_asc_count ();
    assert_true (count >= 150);
    unsigned prev = 0;
    for (size_t i = 0; i < count; i++) {
        uint8_t asc, ascq;
        const char *text;
        assert_int_equal (sense_asc_entry (i, &asc, &ascq, &text), 0);
        unsigned key = (unsigned)asc << 8 | ascq;
        if (i > 0)
            assert_true (key > prev);
        prev = key;
        assert_non_null (text);
        assert_true (strlen (text) > 0);
        assert_true (strlen (text) < SENSE_DESCRIBE_MAX);
        assert_ptr_equal (sense_asc_text (asc, ascq), text);
    }
    assert_int_equal (sense_asc_entry (count, NULL, NULL, NULL), UIS_ERR_OUT_OF_RANGE);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_sense_fixed),
        cmocka_unit_test (test_sense_fixed_progress),
        cmocka_unit_test (test_sense_fixed_additional_length),
        cmocka_unit_test (test_sense_fixed_truncated),
        cmocka_unit_test (test_sense_descriptor),
        cmocka_unit_test (test_sense_descriptor_edges),
        cmocka_unit_test (test_sense_bad_codes),
        cmocka_unit_test (test_sense_iscsi_fixed_i1),
        cmocka_unit_test (test_sense_iscsi_descriptor_i1),
        cmocka_unit_test (test_sense_iscsi_malformed_i4),
        cmocka_unit_test (test_sense_key_names),
        cmocka_unit_test (test_sense_asc_texts),
        cmocka_unit_test (test_sense_asc_iscsi_i5),
        cmocka_unit_test (test_sense_describe_ranges_unknown),
        cmocka_unit_test (test_sense_asc_table),
    };
    return cmocka_run_group_tests_name ("proto sense", tests, NULL, NULL);
}
