/* test_scsi_cdb.c: CDB builders and raw CDB checks (proto/scsi_cdb.c). Every
 * builder is checked against a hand-written CDB. Conformance ids covered:
 * R4 (CDBs of 1..260 bytes are valid, a 32-byte CDB included; longer ones
 * are an error). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proto/errors.h"
#include "proto/scsi_cdb.h"

/* Asserts that a builder returned len and wrote exactly expect. */
#define EXPECT_CDB(call, expect)                                                         \
    do {                                                                                 \
        memset (cdb, 0xee, sizeof cdb);                                                  \
        int n_ = (call);                                                                 \
        assert_int_equal (n_, (int)sizeof (expect));                                     \
        assert_memory_equal (cdb, expect, sizeof (expect));                              \
    } while (0)

static void
test_cdb_read_write (void **state)
{
    (void)state;
    uint8_t cdb[16];
    static const uint8_t r10[10] = {0x28, 0, 0x12, 0x34, 0x56, 0x78, 0, 0x01, 0x00, 0};
    EXPECT_CDB (scsi_cdb_read10 (cdb, sizeof cdb, 0x12345678, 256, false), r10);
    static const uint8_t r10f[10] = {0x28, 0x08, 0, 0, 0, 0x01, 0, 0xff, 0xff, 0};
    EXPECT_CDB (scsi_cdb_read10 (cdb, sizeof cdb, 1, 0xffff, true), r10f);
    static const uint8_t r16[16] = {0x88, 0,    0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
                                    0x07, 0x08, 0x00, 0x01, 0x00, 0x00, 0,    0};
    EXPECT_CDB (scsi_cdb_read16 (cdb, sizeof cdb, 0x0102030405060708ull, 0x10000, false),
                r16);
    static const uint8_t w10[10] = {0x2a, 0x08, 0, 0, 0x10, 0x00, 0, 0x00, 0x08, 0};
    EXPECT_CDB (scsi_cdb_write10 (cdb, sizeof cdb, 0x1000, 8, true), w10);
    static const uint8_t w16[16] = {0x8a, 0x08, 0, 0, 0, 0x01, 0, 0,
                                    0,    0,    0, 0, 0, 0x20, 0, 0};
    EXPECT_CDB (scsi_cdb_write16 (cdb, sizeof cdb, 0x100000000ull, 32, true), w16);
    /* Zero blocks is legal in READ/WRITE (SBC: nothing transferred). */
    static const uint8_t r10z[10] = {0x28, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_CDB (scsi_cdb_read10 (cdb, sizeof cdb, 0, 0, false), r10z);
}

static void
test_cdb_read_write_limits (void **state)
{
    (void)state;
    uint8_t cdb[16];
    /* LBA beyond 32 bits or more than 65535 blocks do not fit a 10-byte CDB. */
    assert_int_equal (scsi_cdb_read10 (cdb, sizeof cdb, 0x100000000ull, 1, false),
                      UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_read10 (cdb, sizeof cdb, 0, 65536, false),
                      UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_write10 (cdb, sizeof cdb, 0x100000000ull, 1, false),
                      UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_write10 (cdb, sizeof cdb, 0, 65536, false),
                      UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_verify10 (cdb, sizeof cdb, 0, 65536), UIS_ERR_SCSI_CDB);
    assert_int_equal (
        scsi_cdb_synchronize_cache10 (cdb, sizeof cdb, 1ull << 32, 0, false),
        UIS_ERR_SCSI_CDB);
    /* A 16-byte range may not run past 2^64. */
    assert_int_equal (scsi_cdb_read16 (cdb, sizeof cdb, UINT64_MAX, 2, false),
                      UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_read16 (cdb, sizeof cdb, UINT64_MAX, 1, false), 16);
    assert_int_equal (scsi_cdb_write16 (cdb, sizeof cdb, UINT64_MAX - 9, 11, false),
                      UIS_ERR_SCSI_CDB);
    /* A buffer too small. */
    assert_int_equal (scsi_cdb_read10 (cdb, 9, 0, 1, false), UIS_ERR_BUFFER_TOO_SMALL);
    assert_int_equal (scsi_cdb_read16 (cdb, 15, 0, 1, false), UIS_ERR_BUFFER_TOO_SMALL);
    assert_int_equal (scsi_cdb_test_unit_ready (NULL, 0), UIS_ERR_BUFFER_TOO_SMALL);
}

/* The choice helpers pick 10 while everything fits, 16 otherwise. */
static void
test_cdb_choice (void **state)
{
    (void)state;
    uint8_t cdb[16];
    assert_true (scsi_cdb_fits_10 (0, 0));
    assert_true (scsi_cdb_fits_10 (0xffffffffu, 1));
    assert_false (scsi_cdb_fits_10 (0xffffffffu, 2));
    assert_false (scsi_cdb_fits_10 (0x100000000ull, 1));
    assert_true (scsi_cdb_fits_10 (0xffff0000u, 0xffff));
    assert_false (scsi_cdb_fits_10 (0, 0x10000));

    assert_int_equal (scsi_cdb_read (cdb, sizeof cdb, 100, 8, false), 10);
    assert_int_equal (cdb[0], SCSI_OP_READ_10);
    assert_int_equal (scsi_cdb_read (cdb, sizeof cdb, 100, 0x10000, false), 16);
    assert_int_equal (cdb[0], SCSI_OP_READ_16);
    assert_int_equal (scsi_cdb_read (cdb, sizeof cdb, 0xffffffffu, 2, true), 16);
    static const uint8_t r16[16] = {0x88, 0x08, 0, 0, 0, 0, 0xff, 0xff,
                                    0xff, 0xff, 0, 0, 0, 2, 0,    0};
    assert_memory_equal (cdb, r16, 16);
    assert_int_equal (scsi_cdb_write (cdb, sizeof cdb, 1ull << 40, 1, false), 16);
    assert_int_equal (cdb[0], SCSI_OP_WRITE_16);
    assert_int_equal (scsi_cdb_write (cdb, sizeof cdb, 5, 1, true), 10);
    assert_int_equal (cdb[0], SCSI_OP_WRITE_10);
    assert_int_equal (cdb[1], 0x08);
    assert_int_equal (scsi_cdb_verify (cdb, sizeof cdb, 5, 1), 10);
    assert_int_equal (cdb[0], SCSI_OP_VERIFY_10);
    assert_int_equal (scsi_cdb_verify (cdb, sizeof cdb, 1ull << 33, 1), 16);
    assert_int_equal (cdb[0], SCSI_OP_VERIFY_16);
    assert_int_equal (scsi_cdb_synchronize_cache (cdb, sizeof cdb, 0, 0, false), 10);
    assert_int_equal (cdb[0], SCSI_OP_SYNCHRONIZE_CACHE_10);
    assert_int_equal (scsi_cdb_synchronize_cache (cdb, sizeof cdb, 1ull << 33, 0, false),
                      16);
    assert_int_equal (cdb[0], SCSI_OP_SYNCHRONIZE_CACHE_16);
    assert_int_equal (scsi_cdb_write_same (cdb, sizeof cdb, 0, 0x10000, true), 16);
    assert_int_equal (cdb[0], SCSI_OP_WRITE_SAME_16);
    assert_int_equal (scsi_cdb_write_same (cdb, sizeof cdb, 0, 8, false), 10);
    assert_int_equal (cdb[0], SCSI_OP_WRITE_SAME_10);
    assert_int_equal (scsi_cdb_write_same (cdb, sizeof cdb, 0, 0, false),
                      UIS_ERR_SCSI_CDB);
}

static void
test_cdb_verify_sync (void **state)
{
    (void)state;
    uint8_t cdb[16];
    static const uint8_t v10[10] = {0x2f, 0, 0, 0, 0x04, 0x00, 0, 0, 0x10, 0};
    EXPECT_CDB (scsi_cdb_verify10 (cdb, sizeof cdb, 0x400, 16), v10);
    static const uint8_t v16[16] = {0x8f, 0, 0, 0, 0, 0x02, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
    EXPECT_CDB (scsi_cdb_verify16 (cdb, sizeof cdb, 0x200000000ull, 0x10000), v16);
    static const uint8_t s10[10] = {0x35, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_CDB (scsi_cdb_synchronize_cache10 (cdb, sizeof cdb, 0, 0, false), s10);
    static const uint8_t s10i[10] = {0x35, 0x02, 0, 0, 0, 0x10, 0, 0, 0x20, 0};
    EXPECT_CDB (scsi_cdb_synchronize_cache10 (cdb, sizeof cdb, 0x10, 0x20, true), s10i);
    static const uint8_t s16[16] = {0x91, 0x02, 0, 0, 0, 0, 0, 0,
                                    0,    0x05, 0, 0, 0, 7, 0, 0};
    EXPECT_CDB (scsi_cdb_synchronize_cache16 (cdb, sizeof cdb, 5, 7, true), s16);
}

static void
test_cdb_write_same (void **state)
{
    (void)state;
    uint8_t cdb[16];
    static const uint8_t ws10[10] = {0x41, 0, 0, 0, 0, 0x64, 0, 0x01, 0x00, 0};
    EXPECT_CDB (scsi_cdb_write_same10 (cdb, sizeof cdb, 100, 256, false), ws10);
    static const uint8_t ws10u[10] = {0x41, 0x08, 0, 0, 0, 0x64, 0, 0x01, 0x00, 0};
    EXPECT_CDB (scsi_cdb_write_same10 (cdb, sizeof cdb, 100, 256, true), ws10u);
    static const uint8_t ws16u[16] = {0x93, 0x08, 0, 0,    0, 0, 0, 0,
                                      0,    0x64, 0, 0x01, 0, 0, 0, 0};
    EXPECT_CDB (scsi_cdb_write_same16 (cdb, sizeof cdb, 100, 0x10000, true), ws16u);
    /* 0 blocks means "through the last LBA" in WRITE SAME: refused. */
    assert_int_equal (scsi_cdb_write_same10 (cdb, sizeof cdb, 0, 0, false),
                      UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_write_same16 (cdb, sizeof cdb, 0, 0, true),
                      UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_write_same10 (cdb, sizeof cdb, 0, 65536, false),
                      UIS_ERR_SCSI_CDB);
}

static void
test_cdb_unmap (void **state)
{
    (void)state;
    uint8_t cdb[16];
    static const uint8_t um[10] = {0x42, 0, 0, 0, 0, 0, 0, 0x00, 0x28, 0};
    EXPECT_CDB (scsi_cdb_unmap (cdb, sizeof cdb, 40), um);
    assert_int_equal (scsi_cdb_unmap (cdb, sizeof cdb, 0x10000), UIS_ERR_SCSI_CDB);

    scsi_unmap_range_t ranges[2] = {{0x1000, 8}, {0x0102030405060708ull, 0x11223344}};
    uint8_t buf[64];
    memset (buf, 0xee, sizeof buf);
    assert_int_equal (scsi_cdb_unmap_params (buf, sizeof buf, ranges, 2, 0, 0), 40);
    static const uint8_t expect[40] = {
        0x00, 0x26, 0x00, 0x20, 0,    0,    0,    0,    /* header */
        0,    0,    0,    0,    0,    0,    0x10, 0x00, /* LBA 0x1000 */
        0,    0,    0,    8,    0,    0,    0,    0,    /* 8 blocks */
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* LBA */
        0x11, 0x22, 0x33, 0x44, 0,    0,    0,    0,
    };
    assert_memory_equal (buf, expect, sizeof expect);

    /* Limits: descriptor count, LBA count, empty list, wrap, buffer. */
    assert_int_equal (scsi_cdb_unmap_params (buf, sizeof buf, ranges, 2, 1, 0),
                      UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_unmap_params (buf, sizeof buf, ranges, 2, 2, 0x11223344),
                      UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_unmap_params (buf, sizeof buf, ranges, 2, 2, 0x1122334c),
                      40);
    assert_int_equal (scsi_cdb_unmap_params (buf, sizeof buf, ranges, 0, 0, 0),
                      UIS_ERR_SCSI_CDB);
    scsi_unmap_range_t wrap = {UINT64_MAX, 2};
    assert_int_equal (scsi_cdb_unmap_params (buf, sizeof buf, &wrap, 1, 0, 0),
                      UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_unmap_params (buf, 39, ranges, 2, 0, 0),
                      UIS_ERR_BUFFER_TOO_SMALL);
    /* The wire limit: 4095 descriptors fit the 16-bit length, 4096 do not. */
    static scsi_unmap_range_t many[SCSI_UNMAP_MAX_DESCRIPTORS + 1];
    static uint8_t big[8 + 16 * (SCSI_UNMAP_MAX_DESCRIPTORS + 1)];
    for (size_t i = 0; i < SCSI_UNMAP_MAX_DESCRIPTORS + 1; i++) {
        many[i].lba = i * 16;
        many[i].blocks = 16;
    }
    int n =
        scsi_cdb_unmap_params (big, sizeof big, many, SCSI_UNMAP_MAX_DESCRIPTORS, 0, 0);
    assert_int_equal (n, 8 + 16 * 4095);
    assert_int_equal (big[0], 0xff);
    assert_int_equal (big[1], 0xf6);
    assert_int_equal (scsi_cdb_unmap (cdb, sizeof cdb, (uint32_t)n), 10);
    assert_int_equal (scsi_cdb_unmap_params (big, sizeof big, many,
                                             SCSI_UNMAP_MAX_DESCRIPTORS + 1, 0, 0),
                      UIS_ERR_SCSI_CDB);
}

static void
test_cdb_compare_and_write (void **state)
{
    (void)state;
    uint8_t cdb[16];
    static const uint8_t caw[16] = {0x89, 0,    0, 0, 0, 0, 0, 0,
                                    0x12, 0x34, 0, 0, 0, 1, 0, 0};
    EXPECT_CDB (scsi_cdb_compare_and_write (cdb, sizeof cdb, 0x1234, 1, false), caw);
    static const uint8_t cawf[16] = {0x89, 0x08, 0, 0, 0, 0,    0, 0,
                                     0,    0,    0, 0, 0, 0xff, 0, 0};
    EXPECT_CDB (scsi_cdb_compare_and_write (cdb, sizeof cdb, 0, 255, true), cawf);
    assert_int_equal (scsi_cdb_compare_and_write (cdb, sizeof cdb, 0, 256, false),
                      UIS_ERR_SCSI_CDB);
}

static void
test_cdb_mode (void **state)
{
    (void)state;
    uint8_t cdb[16];
    static const uint8_t ms6[6] = {0x1a, 0x08, 0x08, 0x00, 0xff, 0};
    EXPECT_CDB (scsi_cdb_mode_sense6 (cdb, sizeof cdb, 0x08, 0, 0, true, 255), ms6);
    static const uint8_t ms6all[6] = {0x1a, 0, 0xbf, 0xff, 0xc0, 0};
    EXPECT_CDB (scsi_cdb_mode_sense6 (cdb, sizeof cdb, 0x3f, 0xff, 2, false, 0xc0),
                ms6all);
    static const uint8_t ms10[10] = {0x5a, 0, 0x4a, 0x01, 0, 0, 0, 0x10, 0x00, 0};
    EXPECT_CDB (scsi_cdb_mode_sense10 (cdb, sizeof cdb, 0x0a, 1, 1, false, 4096), ms10);
    assert_int_equal (scsi_cdb_mode_sense6 (cdb, sizeof cdb, 0x40, 0, 0, false, 4),
                      UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_mode_sense6 (cdb, sizeof cdb, 0, 256, 0, false, 4),
                      UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_mode_sense6 (cdb, sizeof cdb, 0, 0, 4, false, 4),
                      UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_mode_sense6 (cdb, sizeof cdb, 0, 0, 0, false, 256),
                      UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_mode_sense10 (cdb, sizeof cdb, 0, 0, 0, false, 65536),
                      UIS_ERR_SCSI_CDB);

    static const uint8_t sel6[6] = {0x15, 0x11, 0, 0, 0x18, 0};
    EXPECT_CDB (scsi_cdb_mode_select6 (cdb, sizeof cdb, true, true, 24), sel6);
    static const uint8_t sel10[10] = {0x55, 0x10, 0, 0, 0, 0, 0, 0x01, 0x00, 0};
    EXPECT_CDB (scsi_cdb_mode_select10 (cdb, sizeof cdb, true, false, 256), sel10);
    static const uint8_t sel6sp[6] = {0x15, 0x01, 0, 0, 0, 0};
    EXPECT_CDB (scsi_cdb_mode_select6 (cdb, sizeof cdb, false, true, 0), sel6sp);
    assert_int_equal (scsi_cdb_mode_select6 (cdb, sizeof cdb, true, false, 256),
                      UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_mode_select10 (cdb, sizeof cdb, true, false, 65536),
                      UIS_ERR_SCSI_CDB);
}

static void
test_cdb_persistent_reserve (void **state)
{
    (void)state;
    uint8_t cdb[16];
    static const uint8_t pri[10] = {0x5e, 0x01, 0, 0, 0, 0, 0, 0x20, 0x00, 0};
    EXPECT_CDB (scsi_cdb_pr_in (cdb, sizeof cdb, SCSI_PR_IN_READ_RESERVATION, 8192), pri);
    assert_int_equal (scsi_cdb_pr_in (cdb, sizeof cdb, 0x20, 8), UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_pr_in (cdb, sizeof cdb, 0, 65536), UIS_ERR_SCSI_CDB);

    static const uint8_t pro[10] = {0x5f, 0x01, 0x03, 0, 0, 0, 0, 0, 24, 0};
    EXPECT_CDB (scsi_cdb_pr_out (cdb, sizeof cdb, SCSI_PR_OUT_RESERVE, 0x03), pro);
    static const uint8_t proreg[10] = {0x5f, 0x06, 0x00, 0, 0, 0, 0, 0, 24, 0};
    EXPECT_CDB (scsi_cdb_pr_out (cdb, sizeof cdb, SCSI_PR_OUT_REGISTER_AND_IGNORE, 0),
                proreg);
    assert_int_equal (scsi_cdb_pr_out (cdb, sizeof cdb, SCSI_PR_OUT_REGISTER_AND_MOVE, 0),
                      UIS_ERR_UNSUPPORTED);
    assert_int_equal (scsi_cdb_pr_out (cdb, sizeof cdb, 0x20, 0), UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_pr_out (cdb, sizeof cdb, 0, 0x100), UIS_ERR_SCSI_CDB);

    uint8_t params[32];
    memset (params, 0xee, sizeof params);
    assert_int_equal (scsi_cdb_pr_out_params (params, sizeof params,
                                              0x0102030405060708ull,
                                              0xa1a2a3a4a5a6a7a8ull, SCSI_PR_APTPL),
                      24);
    static const uint8_t expect[24] = {
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0xa1, 0xa2, 0xa3, 0xa4,
        0xa5, 0xa6, 0xa7, 0xa8, 0,    0,    0,    0,    0x01, 0,    0,    0,
    };
    assert_memory_equal (params, expect, 24);
    assert_int_equal (scsi_cdb_pr_out_params (params, sizeof params, 1, 2,
                                              SCSI_PR_ALL_TG_PT | SCSI_PR_APTPL),
                      24);
    assert_int_equal (params[20], 0x05);
    /* SPEC_I_PT (0x08) needs a longer list: refused. */
    assert_int_equal (scsi_cdb_pr_out_params (params, sizeof params, 1, 2, 0x08),
                      UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_pr_out_params (params, 23, 1, 2, 0),
                      UIS_ERR_BUFFER_TOO_SMALL);
}

static void
test_cdb_misc (void **state)
{
    (void)state;
    uint8_t cdb[16];
    static const uint8_t tur[6] = {0, 0, 0, 0, 0, 0};
    EXPECT_CDB (scsi_cdb_test_unit_ready (cdb, sizeof cdb), tur);

    static const uint8_t ssu[6] = {0x1b, 0, 0, 0, 0x01, 0};
    EXPECT_CDB (scsi_cdb_start_stop_unit (cdb, sizeof cdb, true, false, 0, false), ssu);
    static const uint8_t ssu2[6] = {0x1b, 0x01, 0, 0, 0x32, 0};
    EXPECT_CDB (scsi_cdb_start_stop_unit (cdb, sizeof cdb, false, true, 3, true), ssu2);
    assert_int_equal (scsi_cdb_start_stop_unit (cdb, sizeof cdb, true, false, 16, false),
                      UIS_ERR_SCSI_CDB);

    static const uint8_t inq[6] = {0x12, 0, 0, 0, 0x60, 0};
    EXPECT_CDB (scsi_cdb_inquiry (cdb, sizeof cdb, false, 0, 96), inq);
    static const uint8_t vpd[6] = {0x12, 0x01, 0x83, 0x10, 0x00, 0};
    EXPECT_CDB (scsi_cdb_inquiry (cdb, sizeof cdb, true, 0x83, 4096), vpd);
    assert_int_equal (scsi_cdb_inquiry (cdb, sizeof cdb, false, 0x80, 96),
                      UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_inquiry (cdb, sizeof cdb, true, 0x100, 96),
                      UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_inquiry (cdb, sizeof cdb, true, 0, 65536),
                      UIS_ERR_SCSI_CDB);

    static const uint8_t rc10[10] = {0x25, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_CDB (scsi_cdb_read_capacity10 (cdb, sizeof cdb), rc10);
    static const uint8_t rc16[16] = {0x9e, 0x10, 0, 0, 0, 0,  0, 0,
                                     0,    0,    0, 0, 0, 32, 0, 0};
    EXPECT_CDB (scsi_cdb_read_capacity16 (cdb, sizeof cdb, 32), rc16);

    static const uint8_t rl[12] = {0xa0, 0, 0x02, 0, 0, 0, 0, 0, 0x10, 0x00, 0, 0};
    EXPECT_CDB (scsi_cdb_report_luns (cdb, sizeof cdb, 2, 4096), rl);
    assert_int_equal (scsi_cdb_report_luns (cdb, sizeof cdb, 0, 15), UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_report_luns (cdb, sizeof cdb, 0x100, 16),
                      UIS_ERR_SCSI_CDB);

    static const uint8_t rs[6] = {0x03, 0x01, 0, 0, 252, 0};
    EXPECT_CDB (scsi_cdb_request_sense (cdb, sizeof cdb, true, 252), rs);
    static const uint8_t rs0[6] = {0x03, 0, 0, 0, 18, 0};
    EXPECT_CDB (scsi_cdb_request_sense (cdb, sizeof cdb, false, 18), rs0);
    assert_int_equal (scsi_cdb_request_sense (cdb, sizeof cdb, false, 256),
                      UIS_ERR_SCSI_CDB);
}

/* R4: raw CDBs of 1..260 bytes are valid (a 32-byte one included), 0 and
 * 261 are not. */
static void
test_cdb_validate_r4 (void **state)
{
    (void)state;
    static uint8_t raw[SCSI_CDB_MAX_LEN + 1];
    memset (raw, 0, sizeof raw);
    assert_int_equal (scsi_cdb_validate (raw, 0), UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_validate (NULL, 6), UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_validate (raw, 1), 0);
    assert_int_equal (scsi_cdb_validate (raw, 16), 0);
    assert_int_equal (scsi_cdb_validate (raw, 17), 0);
    assert_int_equal (scsi_cdb_validate (raw, 32), 0);
    assert_int_equal (scsi_cdb_validate (raw, 260), 0);
    assert_int_equal (scsi_cdb_validate (raw, 261), UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_validate (raw, SIZE_MAX), UIS_ERR_SCSI_CDB);

    /* A 32-byte variable-length CDB (0x7f, ADDITIONAL CDB LENGTH 24) agrees
     * with its group; a 16-byte opcode sent as 32 bytes does not, but is
     * still a valid raw CDB. */
    raw[0] = SCSI_OP_VARIABLE_LENGTH;
    raw[7] = 24;
    assert_int_equal (scsi_cdb_check_group (raw, 32), 0);
    assert_int_equal (scsi_cdb_check_group (raw, 31), UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_check_group (raw, 7), UIS_ERR_SCSI_CDB);
    raw[0] = SCSI_OP_READ_16;
    assert_int_equal (scsi_cdb_check_group (raw, 32), UIS_ERR_SCSI_CDB);
    assert_int_equal (scsi_cdb_validate (raw, 32), 0);
}

static void
test_cdb_groups (void **state)
{
    (void)state;
    assert_int_equal (scsi_cdb_group_len (0x00), 6);
    assert_int_equal (scsi_cdb_group_len (0x1f), 6);
    assert_int_equal (scsi_cdb_group_len (0x28), 10);
    assert_int_equal (scsi_cdb_group_len (0x5e), 10);
    assert_int_equal (scsi_cdb_group_len (0x7e), 0);
    assert_int_equal (scsi_cdb_group_len (0x88), 16);
    assert_int_equal (scsi_cdb_group_len (0xa0), 12);
    assert_int_equal (scsi_cdb_group_len (0xc0), 0);
    assert_int_equal (scsi_cdb_group_len (0xff), 0);
    uint8_t cdb[16] = {SCSI_OP_READ_10};
    assert_int_equal (scsi_cdb_check_group (cdb, 10), 0);
    assert_int_equal (scsi_cdb_check_group (cdb, 6), UIS_ERR_SCSI_CDB);
    cdb[0] = SCSI_OP_REPORT_LUNS;
    assert_int_equal (scsi_cdb_check_group (cdb, 12), 0);
    cdb[0] = 0xc5; /* vendor specific: any length */
    assert_int_equal (scsi_cdb_check_group (cdb, 7), 0);
    /* Every builder's output agrees with its opcode group. */
    uint8_t b[16];
    int n;
    n = scsi_cdb_read (b, sizeof b, 0, 1, false);
    assert_int_equal (scsi_cdb_check_group (b, (size_t)n), 0);
    n = scsi_cdb_compare_and_write (b, sizeof b, 0, 1, false);
    assert_int_equal (scsi_cdb_check_group (b, (size_t)n), 0);
    n = scsi_cdb_read_capacity16 (b, sizeof b, 32);
    assert_int_equal (scsi_cdb_check_group (b, (size_t)n), 0);
    n = scsi_cdb_report_luns (b, sizeof b, 0, 16);
    assert_int_equal (scsi_cdb_check_group (b, (size_t)n), 0);
    n = scsi_cdb_mode_sense6 (b, sizeof b, 0, 0, 0, false, 4);
    assert_int_equal (scsi_cdb_check_group (b, (size_t)n), 0);
    n = scsi_cdb_unmap (b, sizeof b, 24);
    assert_int_equal (scsi_cdb_check_group (b, (size_t)n), 0);
    n = scsi_cdb_pr_out (b, sizeof b, 0, 0);
    assert_int_equal (scsi_cdb_check_group (b, (size_t)n), 0);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_cdb_read_write),
        cmocka_unit_test (test_cdb_read_write_limits),
        cmocka_unit_test (test_cdb_choice),
        cmocka_unit_test (test_cdb_verify_sync),
        cmocka_unit_test (test_cdb_write_same),
        cmocka_unit_test (test_cdb_unmap),
        cmocka_unit_test (test_cdb_compare_and_write),
        cmocka_unit_test (test_cdb_mode),
        cmocka_unit_test (test_cdb_persistent_reserve),
        cmocka_unit_test (test_cdb_misc),
        cmocka_unit_test (test_cdb_validate_r4),
        cmocka_unit_test (test_cdb_groups),
    };
    return cmocka_run_group_tests_name ("proto scsi_cdb", tests, NULL, NULL);
}
