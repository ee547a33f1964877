/* scsi_cdb.c: CDB builders (SBC-3 / SPC-4 layouts) and raw CDB checks. Each
 * builder zeroes the CDB, then fills opcode and fields big-endian. */
#include "scsi_cdb.h"

#include <assert.h>
#include <string.h>

#include "bytes.h"
#include "errors.h"

/* Checks cap and zeroes len bytes of cdb; returns 0 or an error. */
static int
s_begin (uint8_t *cdb, size_t cap, size_t len, uint8_t opcode)
{
    assert (cdb || cap == 0);
    if (cap < len)
        return UIS_ERR_BUFFER_TOO_SMALL;
    memset (cdb, 0, len);
    cdb[0] = opcode;
    return 0;
}

/* true when the range [lba, lba + blocks) stays inside 64-bit LBAs. */
static bool
s_range_ok64 (uint64_t lba, uint64_t blocks)
{
    return blocks == 0 || lba <= UINT64_MAX - (blocks - 1);
}

bool
scsi_cdb_fits_10 (uint64_t lba, uint64_t blocks)
{
    if (lba > 0xffffffffu || blocks > 0xffff)
        return false;
    return blocks == 0 || lba + blocks - 1 <= 0xffffffffu;
}

/* The 10-byte LBA + 16-bit length layout shared by READ/WRITE/VERIFY/
 * SYNCHRONIZE CACHE/WRITE SAME(10): LBA in bytes 2-5, length in 7-8. */
static int
s_lba10 (uint8_t *cdb, size_t cap, uint8_t opcode, uint8_t byte1, uint64_t lba,
         uint32_t blocks)
{
    if (lba > 0xffffffffu || blocks > 0xffff)
        return UIS_ERR_SCSI_CDB;
    int rc = s_begin (cdb, cap, 10, opcode);
    if (rc)
        return rc;
    cdb[1] = byte1;
    be_put32 (cdb + 2, (uint32_t)lba);
    be_put16 (cdb + 7, blocks);
    return 10;
}

/* The 16-byte layout: LBA in bytes 2-9, 32-bit length in bytes 10-13. */
static int
s_lba16 (uint8_t *cdb, size_t cap, uint8_t opcode, uint8_t byte1, uint64_t lba,
         uint32_t blocks)
{
    if (!s_range_ok64 (lba, blocks))
        return UIS_ERR_SCSI_CDB;
    int rc = s_begin (cdb, cap, 16, opcode);
    if (rc)
        return rc;
    cdb[1] = byte1;
    be_put64 (cdb + 2, lba);
    be_put32 (cdb + 10, blocks);
    return 16;
}

/* FUA is byte 1 bit 3 in READ/WRITE/COMPARE AND WRITE. */
#define S_FUA 0x08

int
scsi_cdb_read10 (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks, bool fua)
{
    return s_lba10 (cdb, cap, SCSI_OP_READ_10, fua ? S_FUA : 0, lba, blocks);
}

int
scsi_cdb_read16 (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks, bool fua)
{
    return s_lba16 (cdb, cap, SCSI_OP_READ_16, fua ? S_FUA : 0, lba, blocks);
}

int
scsi_cdb_write10 (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks, bool fua)
{
    return s_lba10 (cdb, cap, SCSI_OP_WRITE_10, fua ? S_FUA : 0, lba, blocks);
}

int
scsi_cdb_write16 (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks, bool fua)
{
    return s_lba16 (cdb, cap, SCSI_OP_WRITE_16, fua ? S_FUA : 0, lba, blocks);
}

int
scsi_cdb_read (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks, bool fua)
{
    if (scsi_cdb_fits_10 (lba, blocks))
        return scsi_cdb_read10 (cdb, cap, lba, blocks, fua);
    return scsi_cdb_read16 (cdb, cap, lba, blocks, fua);
}

int
scsi_cdb_write (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks, bool fua)
{
    if (scsi_cdb_fits_10 (lba, blocks))
        return scsi_cdb_write10 (cdb, cap, lba, blocks, fua);
    return scsi_cdb_write16 (cdb, cap, lba, blocks, fua);
}

int
scsi_cdb_verify10 (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks)
{
    return s_lba10 (cdb, cap, SCSI_OP_VERIFY_10, 0, lba, blocks);
}

int
scsi_cdb_verify16 (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks)
{
    return s_lba16 (cdb, cap, SCSI_OP_VERIFY_16, 0, lba, blocks);
}

int
scsi_cdb_verify (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks)
{
    if (scsi_cdb_fits_10 (lba, blocks))
        return scsi_cdb_verify10 (cdb, cap, lba, blocks);
    return scsi_cdb_verify16 (cdb, cap, lba, blocks);
}

/* IMMED is byte 1 bit 1 in SYNCHRONIZE CACHE. */
int
scsi_cdb_synchronize_cache10 (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks,
                              bool immed)
{
    return s_lba10 (cdb, cap, SCSI_OP_SYNCHRONIZE_CACHE_10, immed ? 0x02 : 0, lba,
                    blocks);
}

int
scsi_cdb_synchronize_cache16 (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks,
                              bool immed)
{
    return s_lba16 (cdb, cap, SCSI_OP_SYNCHRONIZE_CACHE_16, immed ? 0x02 : 0, lba,
                    blocks);
}

int
scsi_cdb_synchronize_cache (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks,
                            bool immed)
{
    if (scsi_cdb_fits_10 (lba, blocks))
        return scsi_cdb_synchronize_cache10 (cdb, cap, lba, blocks, immed);
    return scsi_cdb_synchronize_cache16 (cdb, cap, lba, blocks, immed);
}

/* UNMAP is byte 1 bit 3 in WRITE SAME. A block count of 0
 * would mean "through the last LBA" and is refused. */
int
scsi_cdb_write_same10 (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks,
                       bool unmap)
{
    if (blocks == 0)
        return UIS_ERR_SCSI_CDB;
    return s_lba10 (cdb, cap, SCSI_OP_WRITE_SAME_10, unmap ? 0x08 : 0, lba, blocks);
}

int
scsi_cdb_write_same16 (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks,
                       bool unmap)
{
    if (blocks == 0)
        return UIS_ERR_SCSI_CDB;
    return s_lba16 (cdb, cap, SCSI_OP_WRITE_SAME_16, unmap ? 0x08 : 0, lba, blocks);
}

int
scsi_cdb_write_same (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks, bool unmap)
{
    if (scsi_cdb_fits_10 (lba, blocks))
        return scsi_cdb_write_same10 (cdb, cap, lba, blocks, unmap);
    return scsi_cdb_write_same16 (cdb, cap, lba, blocks, unmap);
}

int
scsi_cdb_unmap (uint8_t *cdb, size_t cap, uint32_t param_len)
{
    if (param_len > 0xffff)
        return UIS_ERR_SCSI_CDB;
    int rc = s_begin (cdb, cap, 10, SCSI_OP_UNMAP);
    if (rc)
        return rc;
    be_put16 (cdb + 7, param_len);
    return 10;
}

int
scsi_cdb_unmap_params (uint8_t *buf, size_t cap, const scsi_unmap_range_t *ranges,
                       size_t count, uint32_t max_descriptors, uint32_t max_lba_count)
{
    assert (ranges || count == 0);
    size_t limit = SCSI_UNMAP_MAX_DESCRIPTORS;
    if (max_descriptors != 0 && max_descriptors < limit)
        limit = max_descriptors;
    if (count == 0 || count > limit)
        return UIS_ERR_SCSI_CDB;
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        if (!s_range_ok64 (ranges[i].lba, ranges[i].blocks))
            return UIS_ERR_SCSI_CDB;
        total += ranges[i].blocks; /* <= 4095 * 2^32: no overflow */
    }
    if (max_lba_count != 0 && total > max_lba_count)
        return UIS_ERR_SCSI_CDB;
    size_t len = 8 + 16 * count;
    assert (buf || cap == 0);
    if (cap < len)
        return UIS_ERR_BUFFER_TOO_SMALL;
    /* SBC-3: UNMAP DATA LENGTH (n - 1), BLOCK DESCRIPTOR DATA LENGTH. */
    memset (buf, 0, len);
    be_put16 (buf, (uint32_t)(len - 2));
    be_put16 (buf + 2, (uint32_t)(16 * count));
    for (size_t i = 0; i < count; i++) {
        uint8_t *d = buf + 8 + 16 * i;
        be_put64 (d, ranges[i].lba);
        be_put32 (d + 8, ranges[i].blocks);
    }
    return (int)len;
}

int
scsi_cdb_compare_and_write (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks,
                            bool fua)
{
    if (blocks > 0xff || !s_range_ok64 (lba, blocks))
        return UIS_ERR_SCSI_CDB;
    int rc = s_begin (cdb, cap, 16, SCSI_OP_COMPARE_AND_WRITE);
    if (rc)
        return rc;
    cdb[1] = fua ? S_FUA : 0;
    be_put64 (cdb + 2, lba);
    cdb[13] = (uint8_t)blocks;
    return 16;
}

/* Shared checks of MODE SENSE inputs. */
static bool
s_mode_sense_ok (unsigned page, unsigned subpage, unsigned pc)
{
    return page <= 0x3f && subpage <= 0xff && pc <= 3;
}

int
scsi_cdb_mode_sense6 (uint8_t *cdb, size_t cap, unsigned page, unsigned subpage,
                      unsigned pc, bool dbd, uint32_t alloc_len)
{
    if (!s_mode_sense_ok (page, subpage, pc) || alloc_len > 0xff)
        return UIS_ERR_SCSI_CDB;
    int rc = s_begin (cdb, cap, 6, SCSI_OP_MODE_SENSE_6);
    if (rc)
        return rc;
    cdb[1] = dbd ? 0x08 : 0;
    cdb[2] = (uint8_t)(pc << 6 | page);
    cdb[3] = (uint8_t)subpage;
    cdb[4] = (uint8_t)alloc_len;
    return 6;
}

int
scsi_cdb_mode_sense10 (uint8_t *cdb, size_t cap, unsigned page, unsigned subpage,
                       unsigned pc, bool dbd, uint32_t alloc_len)
{
    if (!s_mode_sense_ok (page, subpage, pc) || alloc_len > 0xffff)
        return UIS_ERR_SCSI_CDB;
    int rc = s_begin (cdb, cap, 10, SCSI_OP_MODE_SENSE_10);
    if (rc)
        return rc;
    cdb[1] = dbd ? 0x08 : 0;
    cdb[2] = (uint8_t)(pc << 6 | page);
    cdb[3] = (uint8_t)subpage;
    be_put16 (cdb + 7, alloc_len);
    return 10;
}

/* PF is byte 1 bit 4, SP bit 0 in MODE SELECT. */
static uint8_t
s_mode_select_flags (bool pf, bool sp)
{
    return (uint8_t)((pf ? 0x10 : 0) | (sp ? 0x01 : 0));
}

int
scsi_cdb_mode_select6 (uint8_t *cdb, size_t cap, bool pf, bool sp, uint32_t param_len)
{
    if (param_len > 0xff)
        return UIS_ERR_SCSI_CDB;
    int rc = s_begin (cdb, cap, 6, SCSI_OP_MODE_SELECT_6);
    if (rc)
        return rc;
    cdb[1] = s_mode_select_flags (pf, sp);
    cdb[4] = (uint8_t)param_len;
    return 6;
}

int
scsi_cdb_mode_select10 (uint8_t *cdb, size_t cap, bool pf, bool sp, uint32_t param_len)
{
    if (param_len > 0xffff)
        return UIS_ERR_SCSI_CDB;
    int rc = s_begin (cdb, cap, 10, SCSI_OP_MODE_SELECT_10);
    if (rc)
        return rc;
    cdb[1] = s_mode_select_flags (pf, sp);
    be_put16 (cdb + 7, param_len);
    return 10;
}

int
scsi_cdb_pr_in (uint8_t *cdb, size_t cap, unsigned service_action, uint32_t alloc_len)
{
    if (service_action > 0x1f || alloc_len > 0xffff)
        return UIS_ERR_SCSI_CDB;
    int rc = s_begin (cdb, cap, 10, SCSI_OP_PERSISTENT_RESERVE_IN);
    if (rc)
        return rc;
    cdb[1] = (uint8_t)service_action;
    be_put16 (cdb + 7, alloc_len);
    return 10;
}

int
scsi_cdb_pr_out (uint8_t *cdb, size_t cap, unsigned service_action, unsigned scope_type)
{
    if (service_action > 0x1f || scope_type > 0xff)
        return UIS_ERR_SCSI_CDB;
    if (service_action == SCSI_PR_OUT_REGISTER_AND_MOVE)
        return UIS_ERR_UNSUPPORTED;
    int rc = s_begin (cdb, cap, 10, SCSI_OP_PERSISTENT_RESERVE_OUT);
    if (rc)
        return rc;
    cdb[1] = (uint8_t)service_action;
    cdb[2] = (uint8_t)scope_type;
    be_put32 (cdb + 5, SCSI_PR_OUT_PARAM_LEN);
    return 10;
}

int
scsi_cdb_pr_out_params (uint8_t *buf, size_t cap, uint64_t key, uint64_t sa_key,
                        unsigned flags)
{
    if (flags & ~(unsigned)(SCSI_PR_ALL_TG_PT | SCSI_PR_APTPL))
        return UIS_ERR_SCSI_CDB;
    assert (buf || cap == 0);
    if (cap < SCSI_PR_OUT_PARAM_LEN)
        return UIS_ERR_BUFFER_TOO_SMALL;
    memset (buf, 0, SCSI_PR_OUT_PARAM_LEN);
    be_put64 (buf, key);
    be_put64 (buf + 8, sa_key);
    buf[20] = (uint8_t)flags;
    return SCSI_PR_OUT_PARAM_LEN;
}

int
scsi_cdb_start_stop_unit (uint8_t *cdb, size_t cap, bool start, bool load_eject,
                          unsigned power_condition, bool immed)
{
    if (power_condition > 0xf)
        return UIS_ERR_SCSI_CDB;
    int rc = s_begin (cdb, cap, 6, SCSI_OP_START_STOP_UNIT);
    if (rc)
        return rc;
    cdb[1] = immed ? 0x01 : 0;
    cdb[4] =
        (uint8_t)(power_condition << 4 | (load_eject ? 0x02 : 0) | (start ? 0x01 : 0));
    return 6;
}

int
scsi_cdb_test_unit_ready (uint8_t *cdb, size_t cap)
{
    int rc = s_begin (cdb, cap, 6, SCSI_OP_TEST_UNIT_READY);
    return rc ? rc : 6;
}

int
scsi_cdb_inquiry (uint8_t *cdb, size_t cap, bool evpd, unsigned page, uint32_t alloc_len)
{
    if (page > 0xff || alloc_len > 0xffff || (!evpd && page != 0))
        return UIS_ERR_SCSI_CDB;
    int rc = s_begin (cdb, cap, 6, SCSI_OP_INQUIRY);
    if (rc)
        return rc;
    cdb[1] = evpd ? 0x01 : 0;
    cdb[2] = (uint8_t)page;
    be_put16 (cdb + 3, alloc_len);
    return 6;
}

int
scsi_cdb_read_capacity10 (uint8_t *cdb, size_t cap)
{
    int rc = s_begin (cdb, cap, 10, SCSI_OP_READ_CAPACITY_10);
    return rc ? rc : 10;
}

int
scsi_cdb_read_capacity16 (uint8_t *cdb, size_t cap, uint32_t alloc_len)
{
    int rc = s_begin (cdb, cap, 16, SCSI_OP_SERVICE_ACTION_IN_16);
    if (rc)
        return rc;
    cdb[1] = SCSI_SA_READ_CAPACITY_16;
    be_put32 (cdb + 10, alloc_len);
    return 16;
}

int
scsi_cdb_report_luns (uint8_t *cdb, size_t cap, unsigned select_report,
                      uint32_t alloc_len)
{
    if (select_report > 0xff || alloc_len < 16)
        return UIS_ERR_SCSI_CDB;
    int rc = s_begin (cdb, cap, 12, SCSI_OP_REPORT_LUNS);
    if (rc)
        return rc;
    cdb[2] = (uint8_t)select_report;
    be_put32 (cdb + 6, alloc_len);
    return 12;
}

int
scsi_cdb_request_sense (uint8_t *cdb, size_t cap, bool desc, uint32_t alloc_len)
{
    if (alloc_len > 0xff)
        return UIS_ERR_SCSI_CDB;
    int rc = s_begin (cdb, cap, 6, SCSI_OP_REQUEST_SENSE);
    if (rc)
        return rc;
    cdb[1] = desc ? 0x01 : 0;
    cdb[4] = (uint8_t)alloc_len;
    return 6;
}

int
scsi_cdb_validate (const uint8_t *cdb, size_t len)
{
    if (!cdb || len < 1 || len > SCSI_CDB_MAX_LEN)
        return UIS_ERR_SCSI_CDB;
    return 0;
}

size_t
scsi_cdb_group_len (uint8_t opcode)
{
    switch (opcode >> 5) {
    case 0:
        return 6;
    case 1:
    case 2:
        return 10;
    case 4:
        return 16;
    case 5:
        return 12;
    default:
        return 0;
    }
}

int
scsi_cdb_check_group (const uint8_t *cdb, size_t len)
{
    int rc = scsi_cdb_validate (cdb, len);
    if (rc)
        return rc;
    if (cdb[0] == SCSI_OP_VARIABLE_LENGTH) {
        /* SPC-4: ADDITIONAL CDB LENGTH (byte 7) counts bytes after 8. */
        if (len < 8 || len != 8 + (size_t)cdb[7])
            return UIS_ERR_SCSI_CDB;
        return 0;
    }
    size_t expect = scsi_cdb_group_len (cdb[0]);
    if (expect != 0 && expect != len)
        return UIS_ERR_SCSI_CDB;
    return 0;
}
