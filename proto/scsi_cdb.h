/* scsi_cdb.h: SCSI command descriptor block builders (SBC-3, SPC-4) for the
 * commands of the RPC API, plus a validator for raw CDBs.
 *
 * Every builder writes into a caller buffer cdb of cap bytes and returns the
 * CDB length (6, 10, 12 or 16), or a negative code:
 *   UIS_ERR_SCSI_CDB         an input that does not fit the CDB (an LBA
 *                            beyond 32 bits or more than 65535 blocks in a
 *                            10-byte CDB, a field wider than its bits, a zero
 *                            block count where SBC gives 0 another meaning)
 *   UIS_ERR_BUFFER_TOO_SMALL cap is smaller than the CDB
 * Unused bytes (reserved, group number, control) are zero. A transfer length
 * of 0 in READ/WRITE/VERIFY/COMPARE AND WRITE is legal (SBC: nothing is
 * transferred, not an error); in WRITE SAME it would mean "to the end of the
 * medium" and is refused; in SYNCHRONIZE CACHE it means "to the end of the
 * medium" and is the intended way to flush everything. */
#ifndef UISCSI_PROTO_SCSI_CDB_H
#define UISCSI_PROTO_SCSI_CDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Operation codes. */
#define SCSI_OP_TEST_UNIT_READY        0x00
#define SCSI_OP_REQUEST_SENSE          0x03
#define SCSI_OP_INQUIRY                0x12
#define SCSI_OP_MODE_SELECT_6          0x15
#define SCSI_OP_MODE_SENSE_6           0x1a
#define SCSI_OP_START_STOP_UNIT        0x1b
#define SCSI_OP_READ_CAPACITY_10       0x25
#define SCSI_OP_READ_10                0x28
#define SCSI_OP_WRITE_10               0x2a
#define SCSI_OP_VERIFY_10              0x2f
#define SCSI_OP_SYNCHRONIZE_CACHE_10   0x35
#define SCSI_OP_WRITE_SAME_10          0x41
#define SCSI_OP_UNMAP                  0x42
#define SCSI_OP_MODE_SELECT_10         0x55
#define SCSI_OP_MODE_SENSE_10          0x5a
#define SCSI_OP_PERSISTENT_RESERVE_IN  0x5e
#define SCSI_OP_PERSISTENT_RESERVE_OUT 0x5f
#define SCSI_OP_VARIABLE_LENGTH        0x7f
#define SCSI_OP_READ_16                0x88
#define SCSI_OP_COMPARE_AND_WRITE      0x89
#define SCSI_OP_WRITE_16               0x8a
#define SCSI_OP_VERIFY_16              0x8f
#define SCSI_OP_SYNCHRONIZE_CACHE_16   0x91
#define SCSI_OP_WRITE_SAME_16          0x93
#define SCSI_OP_SERVICE_ACTION_IN_16   0x9e
#define SCSI_OP_REPORT_LUNS            0xa0

/* SERVICE ACTION IN(16) service action of READ CAPACITY(16). */
#define SCSI_SA_READ_CAPACITY_16 0x10

/* PERSISTENT RESERVE IN service actions. */
#define SCSI_PR_IN_READ_KEYS           0x00
#define SCSI_PR_IN_READ_RESERVATION    0x01
#define SCSI_PR_IN_REPORT_CAPABILITIES 0x02
#define SCSI_PR_IN_READ_FULL_STATUS    0x03

/* PERSISTENT RESERVE OUT service actions. */
#define SCSI_PR_OUT_REGISTER            0x00
#define SCSI_PR_OUT_RESERVE             0x01
#define SCSI_PR_OUT_RELEASE             0x02
#define SCSI_PR_OUT_CLEAR               0x03
#define SCSI_PR_OUT_PREEMPT             0x04
#define SCSI_PR_OUT_PREEMPT_AND_ABORT   0x05
#define SCSI_PR_OUT_REGISTER_AND_IGNORE 0x06
#define SCSI_PR_OUT_REGISTER_AND_MOVE   0x07
#define SCSI_PR_OUT_REPLACE_LOST        0x08

/* PERSISTENT RESERVE OUT parameter list byte 20 flags accepted here. */
#define SCSI_PR_ALL_TG_PT 0x04
#define SCSI_PR_APTPL     0x01

/* Length of the basic PERSISTENT RESERVE OUT parameter list. */
#define SCSI_PR_OUT_PARAM_LEN 24

/* Longest CDB: SAM-5 allows 260 bytes; beyond 16 the iSCSI SCSI Command PDU
 * carries the rest in an extended-CDB AHS (RFC 7143 §11.2.2.3, §11.3.5). */
#define SCSI_CDB_MAX_LEN 260

/* UNMAP limits: the parameter list length is 16 bits, so at most
 * (65535 - 8) / 16 block descriptors fit in one command. */
#define SCSI_UNMAP_MAX_DESCRIPTORS 4095

/* One UNMAP range. */
typedef struct {
    uint64_t lba;
    uint32_t blocks;
} scsi_unmap_range_t;

/* true when lba/blocks can be expressed by a 10-byte READ/WRITE/VERIFY CDB:
 * the LBA and the last LBA of the range fit 32 bits, blocks <= 65535. */
bool scsi_cdb_fits_10 (uint64_t lba, uint64_t blocks);

/* READ(10) 0x28 / READ(16) 0x88; fua sets byte 1 bit 3. */
int scsi_cdb_read10 (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks, bool fua);
int scsi_cdb_read16 (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks, bool fua);

/* WRITE(10) 0x2a / WRITE(16) 0x8a. */
int scsi_cdb_write10 (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks, bool fua);
int scsi_cdb_write16 (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks, bool fua);

/* Choice helpers: the 10-byte form when scsi_cdb_fits_10, else the 16-byte
 * form. */
int scsi_cdb_read (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks, bool fua);
int scsi_cdb_write (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks, bool fua);
int scsi_cdb_verify (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks);
int scsi_cdb_synchronize_cache (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks,
                                bool immed);
int scsi_cdb_write_same (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks,
                         bool unmap);

/* VERIFY(10) 0x2f / VERIFY(16) 0x8f with BYTCHK 0 (medium verification, no
 * data-out). */
int scsi_cdb_verify10 (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks);
int scsi_cdb_verify16 (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks);

/* SYNCHRONIZE CACHE(10) 0x35 / (16) 0x91; blocks 0 = through the last LBA;
 * immed sets byte 1 bit 1. */
int scsi_cdb_synchronize_cache10 (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks,
                                  bool immed);
int scsi_cdb_synchronize_cache16 (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks,
                                  bool immed);

/* WRITE SAME(10) 0x41 / (16) 0x93; data-out is one block; unmap sets byte 1
 * bit 3. blocks must be > 0. */
int scsi_cdb_write_same10 (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks,
                           bool unmap);
int scsi_cdb_write_same16 (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks,
                           bool unmap);

/* UNMAP 0x42 announcing a parameter list of param_len bytes
 * (as returned by scsi_cdb_unmap_params). */
int scsi_cdb_unmap (uint8_t *cdb, size_t cap, uint32_t param_len);

/* Writes the UNMAP parameter list for count ranges into buf (8 + 16 * count
 * bytes) and returns its length. Limits: 1 <= count <= max_descriptors and
 * the sum of blocks <= max_lba_count, where a limit of 0 means "none besides
 * the wire's" (SCSI_UNMAP_MAX_DESCRIPTORS, 32-bit block counts). A range
 * whose end passes 2^64 is refused. Errors: UIS_ERR_SCSI_CDB,
 * UIS_ERR_BUFFER_TOO_SMALL. */
int scsi_cdb_unmap_params (uint8_t *buf, size_t cap, const scsi_unmap_range_t *ranges,
                           size_t count, uint32_t max_descriptors,
                           uint32_t max_lba_count);

/* COMPARE AND WRITE 0x89: 16 bytes, NUMBER OF LOGICAL BLOCKS is
 * one byte (blocks <= 255); the data-out is 2 * blocks blocks. */
int scsi_cdb_compare_and_write (uint8_t *cdb, size_t cap, uint64_t lba, uint32_t blocks,
                                bool fua);

/* MODE SENSE(6) 0x1a / (10) 0x5a: page <= 0x3f,
 * subpage <= 0xff, pc (page control: 0 current, 1 changeable, 2 default,
 * 3 saved) <= 3, alloc_len <= 255 (6) or 65535 (10). */
int scsi_cdb_mode_sense6 (uint8_t *cdb, size_t cap, unsigned page, unsigned subpage,
                          unsigned pc, bool dbd, uint32_t alloc_len);
int scsi_cdb_mode_sense10 (uint8_t *cdb, size_t cap, unsigned page, unsigned subpage,
                           unsigned pc, bool dbd, uint32_t alloc_len);

/* MODE SELECT(6) 0x15 / (10) 0x55: pf (page format, byte 1 bit 4), sp (save
 * pages, bit 0), param_len <= 255 (6) or 65535 (10). */
int scsi_cdb_mode_select6 (uint8_t *cdb, size_t cap, bool pf, bool sp,
                           uint32_t param_len);
int scsi_cdb_mode_select10 (uint8_t *cdb, size_t cap, bool pf, bool sp,
                            uint32_t param_len);

/* PERSISTENT RESERVE IN 0x5e: service_action <= 0x1f, alloc_len <= 65535. */
int scsi_cdb_pr_in (uint8_t *cdb, size_t cap, unsigned service_action,
                    uint32_t alloc_len);

/* PERSISTENT RESERVE OUT 0x5f with the basic 24-byte parameter list:
 * service_action <= 0x1f but not REGISTER AND MOVE (its list has another
 * format: UIS_ERR_UNSUPPORTED), scope_type <= 0xff (scope in bits 7-4, type
 * in bits 3-0). */
int scsi_cdb_pr_out (uint8_t *cdb, size_t cap, unsigned service_action,
                     unsigned scope_type);

/* Writes the 24-byte PERSISTENT RESERVE OUT parameter list: reservation key,
 * service action reservation key, and flags (SCSI_PR_ALL_TG_PT,
 * SCSI_PR_APTPL; any other bit is refused). Returns 24. */
int scsi_cdb_pr_out_params (uint8_t *buf, size_t cap, uint64_t key, uint64_t sa_key,
                            unsigned flags);

/* START STOP UNIT 0x1b: power_condition <= 0xf (byte 4
 * bits 7-4), load_eject (LOEJ), start, immed. */
int scsi_cdb_start_stop_unit (uint8_t *cdb, size_t cap, bool start, bool load_eject,
                              unsigned power_condition, bool immed);

/* TEST UNIT READY 0x00. */
int scsi_cdb_test_unit_ready (uint8_t *cdb, size_t cap);

/* INQUIRY 0x12: evpd false needs page 0 (standard data);
 * page <= 0xff, alloc_len <= 65535. */
int scsi_cdb_inquiry (uint8_t *cdb, size_t cap, bool evpd, unsigned page,
                      uint32_t alloc_len);

/* READ CAPACITY(10) 0x25. */
int scsi_cdb_read_capacity10 (uint8_t *cdb, size_t cap);

/* READ CAPACITY(16): SERVICE ACTION IN(16) 0x9e, service action 0x10. */
int scsi_cdb_read_capacity16 (uint8_t *cdb, size_t cap, uint32_t alloc_len);

/* REPORT LUNS 0xa0: select_report <= 0xff, alloc_len >= 16
 * (SPC's minimum). */
int scsi_cdb_report_luns (uint8_t *cdb, size_t cap, unsigned select_report,
                          uint32_t alloc_len);

/* REQUEST SENSE 0x03: desc asks for descriptor format, alloc_len <= 255. */
int scsi_cdb_request_sense (uint8_t *cdb, size_t cap, bool desc, uint32_t alloc_len);

/* Validates a raw CDB: 1..SCSI_CDB_MAX_LEN bytes. Returns 0 or
 * UIS_ERR_SCSI_CDB. */
int scsi_cdb_validate (const uint8_t *cdb, size_t len);

/* The CDB length the group code of opcode implies: group 0
 * -> 6, 1 and 2 -> 10, 4 -> 16, 5 -> 12; 0 when the group has no fixed
 * length (3: reserved and variable length, 6 and 7: vendor specific). */
size_t scsi_cdb_group_len (uint8_t opcode);

/* Warn-level check of a raw CDB: 0 when len agrees with the opcode's group
 * (or the group has no fixed length; a variable-length CDB 0x7f must be
 * 8 + its ADDITIONAL CDB LENGTH byte), UIS_ERR_SCSI_CDB otherwise. Raw
 * execution does not enforce it. */
int scsi_cdb_check_group (const uint8_t *cdb, size_t len);

#endif
