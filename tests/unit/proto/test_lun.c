/* test_lun.c: SAM LUN encoding and decoding (proto/lun.c). Conformance ids
 * covered: M6 (TMF LUN encoding of LUN 0, 1, 255, 256, 16383), R3 (LUN >
 * 0xFFFF or a multi-level LUN is an error, never a crash). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proto/errors.h"
#include "proto/lun.h"

/* M6: exact SAM bytes for the LUNs a TMF names. */
static void
test_lun_from_int_m6 (void **state)
{
    (void)state;
    static const struct {
        uint64_t n;
        uint8_t bytes[8];
    } cases[] = {
        {0, {0x00, 0x00, 0, 0, 0, 0, 0, 0}},     {1, {0x00, 0x01, 0, 0, 0, 0, 0, 0}},
        {255, {0x00, 0xff, 0, 0, 0, 0, 0, 0}},   {256, {0x41, 0x00, 0, 0, 0, 0, 0, 0}},
        {16383, {0x7f, 0xff, 0, 0, 0, 0, 0, 0}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t out[8];
        memset (out, 0xaa, sizeof out);
        assert_int_equal (lun_from_int (cases[i].n, out), 0);
        assert_memory_equal (out, cases[i].bytes, 8);
        /* And back. */
        uint64_t n = 12345;
        assert_int_equal (lun_to_int (out, &n), 0);
        assert_int_equal (n, cases[i].n);
    }
    uint8_t out[8];
    assert_int_equal (lun_from_int (300, out), 0);
    static const uint8_t l300[8] = {0x41, 0x2c, 0, 0, 0, 0, 0, 0};
    assert_memory_equal (out, l300, 8);
    assert_int_equal (lun_to_u64 (out), 0x412c000000000000ull);
}

/* R3: LUNs without a single-level encoding are refused, and out is zeroed. */
static void
test_lun_from_int_r3 (void **state)
{
    (void)state;
    static const uint64_t bad[] = {16384, 0xffff, 0x10000, 0x12345678, UINT64_MAX};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t out[8];
        memset (out, 0xaa, sizeof out);
        assert_int_equal (lun_from_int (bad[i], out), UIS_ERR_LUN_ENCODING);
        static const uint8_t zero[8] = {0};
        assert_memory_equal (out, zero, 8);
    }
}

/* R3: multi-level, logical unit, extended and W-LUN encodings do not decode
 * to an integer; the raw value stays available. */
static void
test_lun_to_int_r3 (void **state)
{
    (void)state;
    static const uint8_t bad[][8] = {
        {0x01, 0x02, 0x00, 0x05, 0, 0, 0, 0},             /* bus 1 target 2 -> LUN 5 */
        {0x00, 0x05, 0x00, 0x03, 0, 0, 0, 0},             /* trailing second level */
        {0x00, 0x05, 0, 0, 0, 0, 0, 0x01},                /* trailing byte */
        {0x81, 0x23, 0, 0, 0, 0, 0, 0},                   /* logical unit method */
        {0xd2, 0x01, 0x23, 0x45, 0, 0, 0, 0},             /* extended flat space */
        {0xc1, 0x01, 0, 0, 0, 0, 0, 0},                   /* W-LUN REPORT LUNS */
        {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, /* not specified */
        {0xf2, 0, 0, 0, 0, 0, 0, 0},                      /* 8-byte extended */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t n = 777;
        assert_int_equal (lun_to_int (bad[i], &n), UIS_ERR_LUN_ENCODING);
        assert_int_equal (n, 777);
    }
    assert_int_equal (lun_to_u64 (bad[0]), 0x0102000500000000ull);
}

static void
test_lun_u64_roundtrip (void **state)
{
    (void)state;
    uint8_t out[8];
    lun_from_u64 (0x0102030405060708ull, out);
    static const uint8_t expect[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    assert_memory_equal (out, expect, 8);
    assert_int_equal (lun_to_u64 (out), 0x0102030405060708ull);
}

/* Decoding every address method and the multi-level structure. */
static void
test_lun_decode_methods (void **state)
{
    (void)state;
    lun_decoded_t d;

    static const uint8_t periph[8] = {0x00, 0x2a, 0, 0, 0, 0, 0, 0};
    assert_int_equal (lun_decode (periph, &d), 0);
    assert_int_equal (d.levels, 1);
    assert_int_equal (d.level[0].method, LUN_AM_PERIPHERAL);
    assert_int_equal (d.level[0].bus, 0);
    assert_int_equal (d.level[0].value, 42);
    assert_false (d.multi_level);

    static const uint8_t flat[8] = {0x40 | 0x12, 0x34, 0, 0, 0, 0, 0, 0};
    assert_int_equal (lun_decode (flat, &d), 0);
    assert_int_equal (d.level[0].method, LUN_AM_FLAT);
    assert_int_equal (d.level[0].value, 0x1234);

    static const uint8_t lu[8] = {0x80 | 0x05, (3 << 5) | 0x11, 0, 0, 0, 0, 0, 0};
    assert_int_equal (lun_decode (lu, &d), 0);
    assert_int_equal (d.level[0].method, LUN_AM_LOGICAL_UNIT);
    assert_int_equal (d.level[0].target, 5);
    assert_int_equal (d.level[0].bus, 3);
    assert_int_equal (d.level[0].value, 0x11);

    static const uint8_t multi[8] = {0x01, 0x02, 0x03, 0x04, 0x00, 0x07, 0, 0};
    assert_int_equal (lun_decode (multi, &d), 0);
    assert_int_equal (d.levels, 3);
    assert_int_equal (d.level[0].bus, 1);
    assert_int_equal (d.level[0].target, 2);
    assert_int_equal (d.level[1].bus, 3);
    assert_int_equal (d.level[1].target, 4);
    assert_int_equal (d.level[2].bus, 0);
    assert_int_equal (d.level[2].value, 7);
    assert_true (d.multi_level);
    assert_false (d.trailing);

    /* Four levels of buses: the walk stops at 4 levels / 8 bytes. */
    static const uint8_t four[8] = {1, 1, 2, 2, 3, 3, 4, 4};
    assert_int_equal (lun_decode (four, &d), 0);
    assert_int_equal (d.levels, 4);
    assert_int_equal (d.level[3].bus, 4);

    static const uint8_t ext[8] = {0xd2, 0x01, 0x23, 0x45, 0, 0, 0, 0};
    assert_int_equal (lun_decode (ext, &d), 0);
    assert_int_equal (d.level[0].method, LUN_AM_EXTENDED);
    assert_int_equal (d.level[0].size, 4);
    assert_int_equal (d.level[0].ext_method, LUN_EAM_EXTENDED_FLAT);
    assert_int_equal (d.level[0].value, 0x012345);
    assert_false (d.multi_level);

    static const uint8_t lext[8] = {0xe2, 0x01, 0x02, 0x03, 0x04, 0x05, 0, 0};
    assert_int_equal (lun_decode (lext, &d), 0);
    assert_int_equal (d.level[0].size, 6);
    assert_int_equal (d.level[0].value, 0x0102030405ull);

    static const uint8_t wlun[8] = {0xc1, 0x01, 0, 0, 0, 0, 0, 0};
    assert_int_equal (lun_decode (wlun, &d), 0);
    assert_true (d.well_known);
    assert_int_equal (d.wlun, LUN_WLUN_REPORT_LUNS);

    static const uint8_t none[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_int_equal (lun_decode (none, &d), 0);
    assert_int_equal (d.level[0].size, 8);
    assert_int_equal (d.level[0].ext_method, LUN_EAM_NOT_SPECIFIED);
    assert_int_equal (d.level[0].value, 0x00ffffffffffffffull);

    /* An extended level after two bytes that would run past byte 7. */
    static const uint8_t cut[8] = {0x01, 0x00, 0xf2, 0, 0, 0, 0, 0};
    assert_int_equal (lun_decode (cut, &d), UIS_ERR_LUN_ENCODING);
    assert_int_equal (d.levels, 1);
    assert_int_equal (d.raw, 0x0100f20000000000ull);
}

/* Every 8-byte pattern of a few shapes decodes without error or overread. */
static void
test_lun_decode_exhaustive_first_bytes (void **state)
{
    (void)state;
    for (unsigned b0 = 0; b0 < 256; b0++) {
        for (unsigned b2 = 0; b2 < 256; b2 += 17) {
            uint8_t lun[8] = {(uint8_t)b0, 0x5a, (uint8_t)b2, 0xc3, 0xf0, 0x0f, 0x11, 0};
            lun_decoded_t d;
            int rc = lun_decode (lun, &d);
            assert_true (rc == 0 || rc == UIS_ERR_LUN_ENCODING);
            assert_true (d.levels <= 4);
            uint64_t n;
            (void)lun_to_int (lun, &n);
            char text[LUN_FORMAT_MAX];
            assert_true (lun_format (lun, text, sizeof text) > 0);
        }
    }
}

static void
test_lun_levels (void **state)
{
    (void)state;
    uint16_t lv[4];
    assert_int_equal (lun_level_peripheral (1, 2, &lv[0]), 0);
    assert_int_equal (lv[0], 0x0102);
    assert_int_equal (lun_level_peripheral (64, 0, &lv[0]), UIS_ERR_LUN_ENCODING);
    assert_int_equal (lun_level_peripheral (0, 256, &lv[0]), UIS_ERR_LUN_ENCODING);
    assert_int_equal (lun_level_flat (16383, &lv[1]), 0);
    assert_int_equal (lv[1], 0x7fff);
    assert_int_equal (lun_level_flat (16384, &lv[1]), UIS_ERR_LUN_ENCODING);
    assert_int_equal (lun_level_logical_unit (5, 3, 17, &lv[2]), 0);
    assert_int_equal (lv[2], 0x8571);
    assert_int_equal (lun_level_logical_unit (64, 0, 0, &lv[2]), UIS_ERR_LUN_ENCODING);
    assert_int_equal (lun_level_logical_unit (0, 8, 0, &lv[2]), UIS_ERR_LUN_ENCODING);
    assert_int_equal (lun_level_logical_unit (0, 0, 32, &lv[2]), UIS_ERR_LUN_ENCODING);

    /* Second-level addressing: bus 1 target 2, then LUN 5. */
    uint16_t two[2];
    assert_int_equal (lun_level_peripheral (1, 2, &two[0]), 0);
    assert_int_equal (lun_level_peripheral (0, 5, &two[1]), 0);
    uint8_t out[8];
    assert_int_equal (lun_from_levels (two, 2, out), 0);
    static const uint8_t expect[8] = {0x01, 0x02, 0x00, 0x05, 0, 0, 0, 0};
    assert_memory_equal (out, expect, 8);
    lun_decoded_t d;
    assert_int_equal (lun_decode (out, &d), 0);
    assert_int_equal (d.levels, 2);
    assert_int_equal (d.level[1].value, 5);

    /* A non-final level that does not lead on is refused. */
    uint16_t bad[2] = {0x0005, 0x0005};
    assert_int_equal (lun_from_levels (bad, 2, out), UIS_ERR_LUN_ENCODING);
    uint16_t bad2[2] = {0x4005, 0x0005};
    assert_int_equal (lun_from_levels (bad2, 2, out), UIS_ERR_LUN_ENCODING);
    uint16_t ext[1] = {0xc101};
    assert_int_equal (lun_from_levels (ext, 1, out), UIS_ERR_LUN_ENCODING);
    assert_int_equal (lun_from_levels (two, 0, out), UIS_ERR_LUN_ENCODING);
    assert_int_equal (lun_from_levels (two, 5, out), UIS_ERR_LUN_ENCODING);

    /* One level is a plain single-level LUN. */
    assert_int_equal (lun_from_levels (&lv[1], 1, out), 0);
    static const uint8_t one[8] = {0x7f, 0xff, 0, 0, 0, 0, 0, 0};
    assert_memory_equal (out, one, 8);
}

static void
test_lun_extended (void **state)
{
    (void)state;
    uint8_t out[8];
    assert_int_equal (lun_from_extended (1, LUN_EAM_EXTENDED_FLAT, 0x123456, out), 0);
    static const uint8_t efs[8] = {0xd2, 0x12, 0x34, 0x56, 0, 0, 0, 0};
    assert_memory_equal (out, efs, 8);
    assert_int_equal (lun_from_extended (2, LUN_EAM_EXTENDED_FLAT, 0x0102030405ull, out),
                      0);
    static const uint8_t lefs[8] = {0xe2, 0x01, 0x02, 0x03, 0x04, 0x05, 0, 0};
    assert_memory_equal (out, lefs, 8);
    assert_int_equal (
        lun_from_extended (3, LUN_EAM_NOT_SPECIFIED, 0x00ffffffffffffffull, out), 0);
    static const uint8_t ff[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    assert_memory_equal (out, ff, 8);
    assert_int_equal (lun_from_extended (1, 2, 0x1000000, out), UIS_ERR_LUN_ENCODING);
    assert_int_equal (lun_from_extended (4, 2, 0, out), UIS_ERR_LUN_ENCODING);
    assert_int_equal (lun_from_extended (0, 16, 0, out), UIS_ERR_LUN_ENCODING);

    lun_from_wlun (LUN_WLUN_REPORT_LUNS, out);
    static const uint8_t wl[8] = {0xc1, 0x01, 0, 0, 0, 0, 0, 0};
    assert_memory_equal (out, wl, 8);
}

static void
test_lun_format (void **state)
{
    (void)state;
    uint8_t lun[8];
    char text[LUN_FORMAT_MAX];
    assert_int_equal (lun_from_int (300, lun), 0);
    assert_int_equal (lun_format (lun, text, sizeof text), 3);
    assert_string_equal (text, "300");
    lun_from_wlun (LUN_WLUN_REPORT_LUNS, lun);
    assert_int_equal (lun_format (lun, text, sizeof text), 18);
    assert_string_equal (text, "0xc101000000000000");
    /* Too small a buffer: error, still NUL terminated. */
    char small[4];
    assert_int_equal (lun_format (lun, small, sizeof small), UIS_ERR_BUFFER_TOO_SMALL);
    assert_int_equal (strlen (small), 3);
}

static void
test_lun_parse (void **state)
{
    (void)state;
    uint8_t lun[8];
    assert_int_equal (lun_parse ("256", lun), 0);
    static const uint8_t l256[8] = {0x41, 0x00, 0, 0, 0, 0, 0, 0};
    assert_memory_equal (lun, l256, 8);
    assert_int_equal (lun_parse ("0", lun), 0);
    static const uint8_t zero[8] = {0};
    assert_memory_equal (lun, zero, 8);
    assert_int_equal (lun_parse ("0x0102000500000000", lun), 0);
    static const uint8_t ml[8] = {0x01, 0x02, 0x00, 0x05, 0, 0, 0, 0};
    assert_memory_equal (lun, ml, 8);
    assert_int_equal (lun_parse ("0XC101000000000000", lun), 0);
    assert_int_equal (lun[0], 0xc1);
    assert_int_equal (lun_parse ("0x1", lun), 0);
    assert_int_equal (lun[7], 1);
    /* R3 via text: integers beyond the flat space. */
    assert_int_equal (lun_parse ("16384", lun), UIS_ERR_LUN_ENCODING);
    assert_int_equal (lun_parse ("65536", lun), UIS_ERR_LUN_ENCODING);
    assert_int_equal (lun_parse ("99999999999999999999999999", lun),
                      UIS_ERR_LUN_ENCODING);
    assert_int_equal (lun_parse ("", lun), UIS_ERR_INVALID_ARG);
    assert_int_equal (lun_parse (NULL, lun), UIS_ERR_INVALID_ARG);
    assert_int_equal (lun_parse ("-1", lun), UIS_ERR_INVALID_ARG);
    assert_int_equal (lun_parse ("1a", lun), UIS_ERR_INVALID_ARG);
    assert_int_equal (lun_parse ("0x", lun), UIS_ERR_INVALID_ARG);
    assert_int_equal (lun_parse ("0x12345678901234567", lun), UIS_ERR_INVALID_ARG);
    assert_int_equal (lun_parse ("0xg", lun), UIS_ERR_INVALID_ARG);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_lun_from_int_m6),
        cmocka_unit_test (test_lun_from_int_r3),
        cmocka_unit_test (test_lun_to_int_r3),
        cmocka_unit_test (test_lun_u64_roundtrip),
        cmocka_unit_test (test_lun_decode_methods),
        cmocka_unit_test (test_lun_decode_exhaustive_first_bytes),
        cmocka_unit_test (test_lun_levels),
        cmocka_unit_test (test_lun_extended),
        cmocka_unit_test (test_lun_format),
        cmocka_unit_test (test_lun_parse),
    };
    return cmocka_run_group_tests_name ("proto lun", tests, NULL, NULL);
}
