/* test_core.c: error table, CRC32C digests (RFC 3720 B.4 vectors, wire byte
 * order: conformance D2) and RFC 1982 serial arithmetic (E6, E7, F4 rely on
 * it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proto/crc32c.h"
#include "proto/errors.h"
#include "proto/serial.h"

static void
test_errors_table (void **state)
{
    (void)state;
    assert_string_equal (uis_err_name (0), "ok");
    assert_string_equal (uis_err_name (UIS_ERR_TRUNCATED), "truncated");
    assert_true (UIS_ERR_NOMEM < 0);
    assert_true (UIS_ERR_TRUNCATED != UIS_ERR_NOMEM);
    assert_string_equal (uis_err_name (1), "unknown");
    assert_string_equal (uis_err_name (-100000), "unknown");
    assert_string_equal (uis_err_message (-100000), "unknown error");
    /* Every code has a distinct, non-empty name. */
    for (int i = 1; i < UIS_ERR__COUNT; i++) {
        const char *n = uis_err_name (-i);
        assert_true (strlen (n) > 0);
        assert_true (strlen (uis_err_message (-i)) > 0);
        for (int j = 1; j < i; j++)
            assert_string_not_equal (n, uis_err_name (-j));
    }
}

/* RFC 3720 B.4 test vectors. */
static void
test_crc32c_vectors (void **state)
{
    (void)state;
    uint8_t buf[48];
    memset (buf, 0, 32);
    assert_int_equal (crc32c (buf, 32), 0x8A9136AA);
    memset (buf, 0xff, 32);
    assert_int_equal (crc32c (buf, 32), 0x62A8AB43);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    assert_int_equal (crc32c (buf, 32), 0x46DD794E);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    assert_int_equal (crc32c (buf, 32), 0x113FDB5C);
    assert_int_equal (crc32c ("123456789", 9), 0xE3069283);
    /* iSCSI read command PDU from B.4. */
    static const uint8_t read_pdu[48] = {
        0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18, 0x28, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal (crc32c (read_pdu, 48), 0xD9963A56);
}

/* Incremental digests equal one-shot ones, however the input is cut. */
static void
test_crc32c_incremental (void **state)
{
    (void)state;
    uint8_t buf[1000];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i * 7 + 3);
    uint32_t whole = crc32c (buf, sizeof buf);
    for (size_t cut = 0; cut <= sizeof buf; cut += 37) {
        uint32_t s = crc32c_begin ();
        s = crc32c_add (s, buf, cut);
        s = crc32c_add (s, buf + cut, sizeof buf - cut);
        assert_int_equal (crc32c_end (s), whole);
    }
}

/* D2: the digest of 32 zero bytes is sent as aa 36 91 8a (little-endian). */
static void
test_crc32c_wire_order (void **state)
{
    (void)state;
    uint8_t zero[32] = {0}, wire[4];
    crc32c_put (wire, crc32c (zero, 32), false);
    static const uint8_t expect_le[4] = {0xaa, 0x36, 0x91, 0x8a};
    assert_memory_equal (wire, expect_le, 4);
    assert_int_equal (crc32c_get (wire, false), 0x8A9136AA);
    crc32c_put (wire, 0x8A9136AA, true);
    static const uint8_t expect_be[4] = {0x8a, 0x91, 0x36, 0xaa};
    assert_memory_equal (wire, expect_be, 4);
    assert_int_equal (crc32c_get (wire, true), 0x8A9136AA);
}

static void
test_serial_basic (void **state)
{
    (void)state;
    assert_true (sn_lt (1, 2));
    assert_false (sn_lt (2, 1));
    assert_false (sn_lt (5, 5));
    assert_true (sn_le (5, 5));
    assert_true (sn_gt (2, 1));
    assert_true (sn_ge (2, 2));
    assert_int_equal (sn_diff (10, 15), 5);
    assert_int_equal (sn_diff (15, 10), -5);
}

/* E7: arithmetic across the wrap at 2^32. */
static void
test_serial_wrap (void **state)
{
    (void)state;
    assert_true (sn_lt (0xFFFFFFF0u, 0x10u));
    assert_true (sn_gt (0x10u, 0xFFFFFFF0u));
    assert_true (sn_lt (0xFFFFFFFFu, 0u));
    assert_int_equal (sn_diff (0xFFFFFFF0u, 0x30u), 0x40);
    assert_int_equal (sn_diff (0x30u, 0xFFFFFFF0u), -0x40);
    assert_true (sn_in_range (0u, 0xFFFFFFF0u, 0x2Fu));
    assert_true (sn_in_range (0x2Fu, 0xFFFFFFF0u, 0x2Fu));
    assert_false (sn_in_range (0x30u, 0xFFFFFFF0u, 0x2Fu));
    assert_false (sn_in_range (0xFFFFFFEFu, 0xFFFFFFF0u, 0x2Fu));
    /* 64 steps from 0xFFFFFFF0 are each after the previous one. */
    uint32_t sn = 0xFFFFFFF0u;
    for (int i = 0; i < 64; i++, sn++)
        assert_true (sn_lt (sn, sn + 1));
}

/* Numbers exactly 2^31 apart are unordered (RFC 1982 leaves them undefined). */
static void
test_serial_undefined_half (void **state)
{
    (void)state;
    assert_false (sn_lt (0u, 0x80000000u));
    assert_false (sn_gt (0u, 0x80000000u));
    assert_false (sn_lt (0x80000000u, 0u));
    assert_int_equal (sn_diff (0u, 0x80000000u), INT32_MIN);
    assert_true (sn_lt (0u, 0x7FFFFFFFu));
    assert_true (sn_gt (0u, 0x80000001u));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_errors_table),
        cmocka_unit_test (test_crc32c_vectors),
        cmocka_unit_test (test_crc32c_incremental),
        cmocka_unit_test (test_crc32c_wire_order),
        cmocka_unit_test (test_serial_basic),
        cmocka_unit_test (test_serial_wrap),
        cmocka_unit_test (test_serial_undefined_half),
    };
    return cmocka_run_group_tests_name ("proto core", tests, NULL, NULL);
}
