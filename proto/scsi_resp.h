/* scsi_resp.h: parsers for the data-in of SCSI commands (SPC-4, SBC-3):
 * standard INQUIRY, VPD pages 0x00, 0x80, 0x83 and 0xB0, READ CAPACITY
 * (10) and (16), REPORT LUNS, MODE SENSE (6) and (10) headers and pages,
 * PERSISTENT RESERVE IN READ KEYS and READ RESERVATION; plus the names of
 * peripheral device types and SCSI status codes.
 *
 * The data comes from the target and is untrusted. Every parser takes
 * (buf, len), reads nothing outside it, and accepts responses cut short by
 * the allocation length the way SPC allows: a field is filled (and its
 * has_* flag set) only when the data covers it, and the length a response
 * declares is honoured only as far as the buffer reaches. Counts of repeated
 * items are bounded by the caller's array or a fixed maximum; what does not
 * fit is counted in `total` and flagged `truncated`. Errors:
 *   UIS_ERR_TRUNCATED      too short for the mandatory part
 *   UIS_ERR_SCSI_RESPONSE  inconsistent (wrong VPD page code, impossible
 *                          values)
 * Output structs are plain values (no pointers into buf unless stated). */
#ifndef UISCSI_PROTO_SCSI_RESP_H
#define UISCSI_PROTO_SCSI_RESP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SCSI status codes (SAM-5). */
#define SCSI_STATUS_GOOD                 0x00
#define SCSI_STATUS_CHECK_CONDITION      0x02
#define SCSI_STATUS_CONDITION_MET        0x04
#define SCSI_STATUS_BUSY                 0x08
#define SCSI_STATUS_RESERVATION_CONFLICT 0x18
#define SCSI_STATUS_TASK_SET_FULL        0x28
#define SCSI_STATUS_ACA_ACTIVE           0x30
#define SCSI_STATUS_TASK_ABORTED         0x40

/* Peripheral device types used by callers. */
#define SCSI_TYPE_DISK   0x00
#define SCSI_TYPE_RAID   0x0c
#define SCSI_TYPE_WLUN   0x1e
#define SCSI_TYPE_NO_LUN 0x1f

/* VPD page codes parsed here. */
#define SCSI_VPD_SUPPORTED_PAGES 0x00
#define SCSI_VPD_UNIT_SERIAL     0x80
#define SCSI_VPD_DEVICE_ID       0x83
#define SCSI_VPD_BLOCK_LIMITS    0xb0

/* Designator types of VPD page 0x83. */
#define SCSI_DESIG_VENDOR     0x0
#define SCSI_DESIG_T10        0x1
#define SCSI_DESIG_EUI64      0x2
#define SCSI_DESIG_NAA        0x3
#define SCSI_DESIG_REL_PORT   0x4
#define SCSI_DESIG_PORT_GROUP 0x5
#define SCSI_DESIG_LU_GROUP   0x6
#define SCSI_DESIG_MD5        0x7
#define SCSI_DESIG_SCSI_NAME  0x8
#define SCSI_DESIG_PROTO_PORT 0x9
#define SCSI_DESIG_UUID       0xa

/* Code sets of a designator. */
#define SCSI_CODE_SET_BINARY 0x1
#define SCSI_CODE_SET_ASCII  0x2
#define SCSI_CODE_SET_UTF8   0x3

/* Bounds of the fixed-size outputs. */
#define SCSI_VPD_SERIAL_MAX   255 /* serial characters kept (longer: truncated) */
#define SCSI_VPD_DESIG_MAX    32  /* designation descriptors kept */
#define SCSI_DESIG_FORMAT_MAX 520 /* scsi_designator_format output, with NUL */

/* Standard INQUIRY data (SPC-4 "Standard INQUIRY data"). Strings are NUL
 * terminated, non-printable bytes replaced by '?', trailing spaces (and
 * NULs) removed; a string is empty when its field was not covered. */
typedef struct {
    uint8_t peripheral_qualifier; /* byte 0 bits 7-5 */
    uint8_t device_type;          /* byte 0 bits 4-0 */
    bool removable;               /* RMB */
    bool lu_cong;                 /* LU_CONG */
    uint8_t version;
    bool normaca; /* NORMACA */
    bool hisup;   /* HISUP */
    uint8_t response_data_format;
    uint8_t additional_length;
    bool sccs, acc;
    uint8_t tpgs; /* target port group support, 0..3 */
    bool tpc;     /* 3PC: third-party copy */
    bool protect;
    bool encserv, multip, addr16;
    bool wbus16, sync, cmdque;
    bool has_flags; /* bytes 1..7 were present */
    bool has_vendor, has_product, has_revision;
    char vendor[9];   /* T10 vendor identification, bytes 8-15 */
    char product[17]; /* bytes 16-31 */
    char revision[5]; /* bytes 32-35 */
    size_t length;    /* bytes parsed */
} scsi_inquiry_t;

/* The 4-byte header of every VPD page. */
typedef struct {
    uint8_t peripheral_qualifier;
    uint8_t device_type;
    uint8_t page_code;
    uint16_t page_length; /* as declared */
    size_t end;           /* offset just past the usable page bytes */
} scsi_vpd_header_t;

/* VPD 0x00: supported VPD pages. */
typedef struct {
    scsi_vpd_header_t hdr;
    size_t count;
    uint8_t pages[256];
    bool truncated; /* the page declared more than the buffer held */
} scsi_vpd_pages_t;

/* VPD 0x80: unit serial number (leading and trailing spaces removed). */
typedef struct {
    scsi_vpd_header_t hdr;
    char serial[SCSI_VPD_SERIAL_MAX + 1];
    bool truncated;
} scsi_vpd_serial_t;

/* One designation descriptor of VPD 0x83. */
typedef struct {
    uint8_t protocol_id; /* valid when piv */
    uint8_t code_set;    /* SCSI_CODE_SET_* */
    bool piv;
    uint8_t association; /* 0 logical unit, 1 target port, 2 target device */
    uint8_t type;        /* SCSI_DESIG_* */
    uint8_t naa;         /* NAA field (designator byte 0 bits 7-4) for NAA */
    uint8_t length;      /* designator bytes */
    uint8_t data[255];   /* the designator */
} scsi_designator_t;

/* VPD 0x83: device identification. */
typedef struct {
    scsi_vpd_header_t hdr;
    size_t count;   /* descriptors stored, <= SCSI_VPD_DESIG_MAX */
    size_t total;   /* complete descriptors found */
    bool truncated; /* total > count, or the last one was cut */
    scsi_designator_t desig[SCSI_VPD_DESIG_MAX];
} scsi_vpd_devid_t;

/* VPD 0xB0: block limits (SBC-3). Fields of older, shorter pages that the
 * page does not reach stay 0 with their has_* flag false. */
typedef struct {
    scsi_vpd_header_t hdr;
    bool has_basic; /* bytes 4..15 */
    bool wsnz;
    uint8_t max_compare_write_len; /* blocks */
    uint16_t opt_transfer_len_granularity;
    uint32_t max_transfer_len; /* blocks, 0 = not reported */
    uint32_t opt_transfer_len;
    bool has_prefetch; /* bytes 16..19 */
    uint32_t max_prefetch_len;
    bool has_unmap; /* bytes 20..35 */
    uint32_t max_unmap_lba_count;
    uint32_t max_unmap_descriptor_count;
    uint32_t opt_unmap_granularity;
    bool ugavalid;
    uint32_t unmap_granularity_alignment;
    bool has_write_same; /* bytes 36..43 */
    uint64_t max_write_same_len;
} scsi_vpd_block_limits_t;

/* READ CAPACITY (10) or (16) data. */
typedef struct {
    bool rc16;       /* parsed from READ CAPACITY(16) data */
    bool need_rc16;  /* RC10 said 0xffffffff: ask READ CAPACITY(16) */
    uint64_t blocks; /* last LBA + 1 */
    uint32_t block_size;
    uint64_t bytes; /* blocks * block_size */
    bool has_lbp;   /* bytes 12..15 of RC16 present */
    bool prot_en;
    uint8_t p_type;
    uint8_t p_i_exponent;
    uint8_t lbppbe; /* logical blocks per physical block exponent */
    bool lbpme;
    bool lbprz;
    uint16_t lowest_aligned_lba;
} scsi_capacity_t;

/* One REPORT LUNS entry. */
typedef struct {
    uint8_t raw[8];
    uint64_t value; /* raw, big-endian */
    bool has_int;   /* lun_to_int accepted it */
    uint64_t lun;   /* the integer LUN when has_int */
} scsi_lun_entry_t;

/* REPORT LUNS header and counts. */
typedef struct {
    uint32_t list_length; /* LUN LIST LENGTH as declared (bytes) */
    size_t total;         /* entries the list declares */
    size_t count;         /* entries stored */
    bool truncated;       /* count < total */
} scsi_report_luns_t;

/* MODE SENSE (6) or (10) parameter header, and where the pages are. */
typedef struct {
    bool ten;                  /* MODE SENSE(10) layout */
    uint32_t mode_data_length; /* as declared */
    uint8_t medium_type;
    uint8_t device_specific;
    bool wp;      /* device-specific bit 7 (SBC: write protect) */
    bool dpofua;  /* device-specific bit 4 (SBC) */
    bool longlba; /* (10) only */
    uint16_t block_descriptor_length;
    bool has_block_descriptor; /* the first descriptor is complete */
    uint64_t bd_blocks;        /* from the first block descriptor */
    uint32_t bd_block_length;
    size_t pages_offset; /* first mode page */
    size_t end;          /* offset just past the usable data */
} scsi_mode_header_t;

/* One mode page found by scsi_resp_mode_page_next. */
typedef struct {
    uint8_t page_code;
    uint8_t subpage_code; /* 0 unless spf */
    bool spf;             /* sub-page format */
    bool ps;              /* parameters saveable */
    size_t offset;        /* of the page header in buf */
    size_t header_len;    /* 2, or 4 with spf */
    uint16_t page_length; /* as declared */
    const uint8_t *data;  /* page parameters (after the header), in buf */
    size_t data_len;      /* bytes of them present */
    bool truncated;       /* fewer than page_length present */
} scsi_mode_page_t;

/* PERSISTENT RESERVE IN, READ KEYS. */
typedef struct {
    uint32_t generation;        /* PRGENERATION */
    uint32_t additional_length; /* as declared (bytes) */
    size_t total;               /* keys declared */
    size_t count;               /* keys stored */
    bool truncated;
} scsi_pr_keys_t;

/* PERSISTENT RESERVE IN, READ RESERVATION. */
typedef struct {
    uint32_t generation;
    uint32_t additional_length;
    bool reserved; /* a reservation is held */
    uint64_t key;
    uint8_t scope;
    uint8_t type;
} scsi_pr_reservation_t;

/* Standard INQUIRY. Needs 1 byte; UIS_ERR_TRUNCATED for 0. */
int scsi_resp_inquiry (const uint8_t *buf, size_t len, scsi_inquiry_t *out);

/* VPD header; expect_page is the page asked for (UIS_ERR_SCSI_RESPONSE when
 * the data is another page), or -1 for any. Needs 4 bytes. */
int scsi_resp_vpd_header (const uint8_t *buf, size_t len, int expect_page,
                          scsi_vpd_header_t *out);

/* VPD 0x00, 0x80, 0x83, 0xB0. */
int scsi_resp_vpd_pages (const uint8_t *buf, size_t len, scsi_vpd_pages_t *out);
int scsi_resp_vpd_serial (const uint8_t *buf, size_t len, scsi_vpd_serial_t *out);
int scsi_resp_vpd_devid (const uint8_t *buf, size_t len, scsi_vpd_devid_t *out);
int scsi_resp_vpd_block_limits (const uint8_t *buf, size_t len,
                                scsi_vpd_block_limits_t *out);

/* Writes designator d as text: NAA "naa.<hex>", EUI-64 "eui.<hex>", T10
 * vendor ID "t10.<text>", SCSI name string as is, UUID "uuid.<hex>", other
 * ASCII/UTF-8 designators as text, other binary ones "0x<hex>". Bytes that
 * are not printable ASCII become '?'. Returns the length, or
 * UIS_ERR_BUFFER_TOO_SMALL (SCSI_DESIG_FORMAT_MAX always suffices). */
int scsi_designator_format (const scsi_designator_t *d, char *buf, size_t size);

/* Name of a designator type ("NAA", "EUI-64", ...); "reserved" if unknown. */
const char *scsi_designator_type_name (uint8_t type);

/* READ CAPACITY(10): needs 8 bytes. READ CAPACITY(16): needs 12 bytes;
 * bytes 12..15 are optional. A last LBA of 2^64 - 1, or a size in bytes
 * beyond 2^64, is UIS_ERR_SCSI_RESPONSE. */
int scsi_resp_capacity10 (const uint8_t *buf, size_t len, scsi_capacity_t *out);
int scsi_resp_capacity16 (const uint8_t *buf, size_t len, scsi_capacity_t *out);

/* REPORT LUNS: needs the 8-byte header. Stores up to max entries in luns
 * (which may be NULL when max is 0). */
int scsi_resp_report_luns (const uint8_t *buf, size_t len, scsi_report_luns_t *out,
                           scsi_lun_entry_t *luns, size_t max);

/* MODE SENSE header: ten selects the (10) layout. Needs the 4- or 8-byte
 * header. */
int scsi_resp_mode_header (const uint8_t *buf, size_t len, bool ten,
                           scsi_mode_header_t *out);

/* Mode page iteration. Set *pos = hdr->pages_offset, then call until it
 * returns 0. Returns 1 and fills page when a page starts at *pos (a page cut
 * short by the data is returned with truncated set, and ends the walk);
 * 0 at the end of the data; UIS_ERR_TRUNCATED when a page header itself is
 * cut. *pos only grows, so the walk ends within (end - pages_offset) / 2
 * calls. page->data points into buf. */
int scsi_resp_mode_page_next (const uint8_t *buf, size_t len,
                              const scsi_mode_header_t *hdr, size_t *pos,
                              scsi_mode_page_t *page);

/* PERSISTENT RESERVE IN READ KEYS: needs 8 bytes; stores up to max keys. */
int scsi_resp_pr_keys (const uint8_t *buf, size_t len, scsi_pr_keys_t *out,
                       uint64_t *keys, size_t max);

/* PERSISTENT RESERVE IN READ RESERVATION: needs 8 bytes; the reservation
 * is reported when ADDITIONAL LENGTH >= 16 and the data covers it. */
int scsi_resp_pr_reservation (const uint8_t *buf, size_t len, scsi_pr_reservation_t *out);

/* Name of a peripheral device type 0x00..0x1f (SPC-4 "PERIPHERAL DEVICE
 * TYPE"), e.g. 0x00 "direct-access block device"; "unknown" above 0x1f. */
const char *scsi_device_type_name (uint8_t type);

/* Name of a SCSI status as the API spells it: "GOOD", "CHECK_CONDITION",
 * "CONDITION_MET", "BUSY", "RESERVATION_CONFLICT", "TASK_SET_FULL",
 * "ACA_ACTIVE", "TASK_ABORTED" (and the obsolete "INTERMEDIATE",
 * "INTERMEDIATE_CONDITION_MET", "COMMAND_TERMINATED"); "UNKNOWN" else. */
const char *scsi_status_name (uint8_t status);

#endif
