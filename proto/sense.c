/* sense.c: sense data parsing (SPC-4 "Sense data": fixed and descriptor
 * formats), the iSCSI sense data segment (RFC 7143 §11.4.7) and the name
 * tables. Texts of the ASC/ASCQ table follow T10's asc-num list (SPC-4 table
 * "ASC and ASCQ assignments"), in lower case with acronyms kept. */
#include "sense.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "bytes.h"
#include "errors.h"

/* Bytes of sense data that count: what both the buffer and the ADDITIONAL
 * SENSE LENGTH (byte 7, bytes after byte 7) cover. */
static size_t
s_effective_len (const uint8_t *buf, size_t len)
{
    if (len < 8)
        return len;
    size_t declared = 8 + (size_t)buf[7];
    return declared < len ? declared : len;
}

/* Fixed format (0x70/0x71): fields at fixed offsets, each present only
 * when the effective length covers it. */
static void
s_parse_fixed (const uint8_t *buf, size_t len, sense_t *s)
{
    size_t n = s_effective_len (buf, len);
    s->length = n;
    s->sense_key = buf[2] & 0x0f;
    s->filemark = (buf[2] & 0x80) != 0;
    s->eom = (buf[2] & 0x40) != 0;
    s->ili = (buf[2] & 0x20) != 0;
    s->sdat_ovfl = (buf[2] & 0x10) != 0;
    if (n >= 7 && (buf[0] & 0x80)) {
        s->info_valid = true;
        s->information = be_get32 (buf + 3);
    }
    if (n >= 12) {
        s->cmd_info_valid = true;
        s->cmd_info = be_get32 (buf + 8);
    }
    if (n >= 13) {
        s->asc_valid = true;
        s->asc = buf[12];
    }
    if (n >= 14)
        s->ascq = buf[13];
    if (n >= 15)
        s->fru = buf[14];
    if (n >= 18) {
        memcpy (s->sks, buf + 15, 3);
        s->sks_valid = (buf[15] & 0x80) != 0;
    }
}

/* Descriptor format (0x72/0x73): a header, then descriptors of
 * (type, additional length, body). A descriptor that runs past the
 * effective length is ignored, and so is the rest. */
static void
s_parse_descriptor (const uint8_t *buf, size_t len, sense_t *s)
{
    size_t n = s_effective_len (buf, len);
    s->length = n;
    s->sense_key = buf[1] & 0x0f;
    if (n >= 3) {
        s->asc_valid = true;
        s->asc = buf[2];
    }
    if (n >= 4)
        s->ascq = buf[3];
    if (n >= 5)
        s->sdat_ovfl = (buf[4] & 0x80) != 0;
    bool have_sks = false;
    size_t pos = 8;
    /* Each pass consumes at least 2 bytes, so this ends within n / 2 passes. */
    while (pos + 2 <= n) {
        const uint8_t *d = buf + pos;
        size_t dlen = 2 + (size_t)d[1];
        if (pos + dlen > n)
            break;
        switch (d[0]) {
        case 0x00: /* information */
            if (dlen >= 12 && (d[2] & 0x80) && !s->info_valid) {
                s->info_valid = true;
                s->information = be_get64 (d + 4);
            }
            break;
        case 0x01: /* command-specific information */
            if (dlen >= 12 && !s->cmd_info_valid) {
                s->cmd_info_valid = true;
                s->cmd_info = be_get64 (d + 4);
            }
            break;
        case 0x02: /* sense key specific */
            if (dlen >= 7 && !have_sks) {
                have_sks = true;
                memcpy (s->sks, d + 4, 3);
                s->sks_valid = (d[4] & 0x80) != 0;
            }
            break;
        case 0x03: /* field replaceable unit */
            if (dlen >= 4)
                s->fru = d[3];
            break;
        case 0x04: /* stream commands */
            if (dlen >= 4) {
                s->filemark = (d[3] & 0x80) != 0;
                s->eom = (d[3] & 0x40) != 0;
                s->ili = (d[3] & 0x20) != 0;
            }
            break;
        case 0x05: /* block commands */
            if (dlen >= 4)
                s->ili = (d[3] & 0x20) != 0;
            break;
        default:
            break;
        }
        pos += dlen;
    }
}

/* Decodes the sense-key-specific bytes where their meaning depends only on
 * the sense key: the field pointer of ILLEGAL REQUEST, the progress
 * indication of NOT READY and NO SENSE. */
static void
s_decode_sks (sense_t *s)
{
    if (!s->sks_valid)
        return;
    if (s->sense_key == SENSE_KEY_ILLEGAL_REQUEST) {
        s->field_pointer_valid = true;
        s->field_in_cdb = (s->sks[0] & 0x40) != 0;
        s->bit_pointer_valid = (s->sks[0] & 0x08) != 0;
        s->bit_pointer = s->sks[0] & 0x07;
        s->field_pointer = be_get16 (s->sks + 1);
    }
    else if (s->sense_key == SENSE_KEY_NOT_READY || s->sense_key == SENSE_KEY_NO_SENSE) {
        s->progress_valid = true;
        s->progress = be_get16 (s->sks + 1);
    }
}

int
sense_parse (const uint8_t *buf, size_t len, sense_t *out)
{
    assert (out);
    memset (out, 0, sizeof *out);
    if (!buf || len < 1)
        return UIS_ERR_TRUNCATED;
    sense_t s;
    memset (&s, 0, sizeof s);
    s.response_code = buf[0] & 0x7f;
    switch (s.response_code) {
    case 0x70:
    case 0x71:
        if (len < 3)
            return UIS_ERR_TRUNCATED;
        s_parse_fixed (buf, len, &s);
        break;
    case 0x72:
    case 0x73:
        if (len < 2)
            return UIS_ERR_TRUNCATED;
        s.descriptor = true;
        s_parse_descriptor (buf, len, &s);
        break;
    default:
        return UIS_ERR_SCSI_SENSE;
    }
    s.deferred = s.response_code == 0x71 || s.response_code == 0x73;
    s_decode_sks (&s);
    *out = s;
    return 0;
}

int
sense_from_iscsi_segment (const uint8_t *seg, size_t seg_len, const uint8_t **sense,
                          size_t *sense_len)
{
    assert (sense && sense_len);
    *sense = NULL;
    *sense_len = 0;
    if (seg_len == 0)
        return 0;
    /* RFC 7143 §11.4.7.1: SenseLength is the first 2 bytes. */
    if (!seg || seg_len < 2)
        return UIS_ERR_TRUNCATED;
    size_t declared = be_get16 (seg);
    if (declared == 0)
        return 0;
    if (declared > seg_len - 2)
        return UIS_ERR_TRUNCATED;
    *sense = seg + 2;
    *sense_len = declared;
    return 0;
}

int
sense_parse_iscsi (const uint8_t *seg, size_t seg_len, sense_t *out)
{
    assert (out);
    memset (out, 0, sizeof *out);
    const uint8_t *s;
    size_t n;
    int rc = sense_from_iscsi_segment (seg, seg_len, &s, &n);
    if (rc)
        return rc;
    if (n == 0)
        return UIS_ERR_SCSI_SENSE;
    return sense_parse (s, n, out);
}

static const char *s_key_names[16] = {
    "NO SENSE",       "RECOVERED ERROR", "NOT READY",      "MEDIUM ERROR",
    "HARDWARE ERROR", "ILLEGAL REQUEST", "UNIT ATTENTION", "DATA PROTECT",
    "BLANK CHECK",    "VENDOR SPECIFIC", "COPY ABORTED",   "ABORTED COMMAND",
    "RESERVED",       "VOLUME OVERFLOW", "MISCOMPARE",     "COMPLETED",
};

const char *
sense_key_name (uint8_t key)
{
    return key < 16 ? s_key_names[key] : "UNKNOWN";
}

/* One exact ASC/ASCQ entry. */
typedef struct {
    uint8_t asc;
    uint8_t ascq;
    const char *text;
} s_asc_entry_t;

/* Sorted by (asc, ascq); sense_asc_text searches it by bisection. */
static const s_asc_entry_t s_asc_table[] = {
    {0x00, 0x00, "no additional sense information"},
    {0x00, 0x01, "filemark detected"},
    {0x00, 0x02, "end-of-partition/medium detected"},
    {0x00, 0x03, "setmark detected"},
    {0x00, 0x04, "beginning-of-partition/medium detected"},
    {0x00, 0x05, "end-of-data detected"},
    {0x00, 0x06, "I/O process terminated"},
    {0x00, 0x07, "programmable early warning detected"},
    {0x00, 0x11, "audio play operation in progress"},
    {0x00, 0x12, "audio play operation paused"},
    {0x00, 0x13, "audio play operation successfully completed"},
    {0x00, 0x14, "audio play operation stopped due to error"},
    {0x00, 0x15, "no current audio status to return"},
    {0x00, 0x16, "operation in progress"},
    {0x00, 0x17, "cleaning requested"},
    {0x00, 0x18, "erase operation in progress"},
    {0x00, 0x19, "locate operation in progress"},
    {0x00, 0x1a, "rewind operation in progress"},
    {0x00, 0x1b, "set capacity operation in progress"},
    {0x00, 0x1c, "verify operation in progress"},
    {0x00, 0x1d, "ATA pass through information available"},
    {0x00, 0x1e, "conflicting SA creation request"},
    {0x00, 0x1f, "logical unit transitioning to another power condition"},
    {0x00, 0x20, "extended copy information available"},
    {0x00, 0x21, "atomic command aborted due to ACA"},
    {0x00, 0x22, "deferred microcode is pending"},
    {0x01, 0x00, "no index/sector signal"},
    {0x02, 0x00, "no seek complete"},
    {0x03, 0x00, "peripheral device write fault"},
    {0x03, 0x01, "no write current"},
    {0x03, 0x02, "excessive write errors"},
    {0x04, 0x00, "logical unit not ready, cause not reportable"},
    {0x04, 0x01, "logical unit is in process of becoming ready"},
    {0x04, 0x02, "logical unit not ready, initializing command required"},
    {0x04, 0x03, "logical unit not ready, manual intervention required"},
    {0x04, 0x04, "logical unit not ready, format in progress"},
    {0x04, 0x05, "logical unit not ready, rebuild in progress"},
    {0x04, 0x06, "logical unit not ready, recalculation in progress"},
    {0x04, 0x07, "logical unit not ready, operation in progress"},
    {0x04, 0x08, "logical unit not ready, long write in progress"},
    {0x04, 0x09, "logical unit not ready, self-test in progress"},
    {0x04, 0x0a, "logical unit not accessible, asymmetric access state transition"},
    {0x04, 0x0b, "logical unit not accessible, target port in standby state"},
    {0x04, 0x0c, "logical unit not accessible, target port in unavailable state"},
    {0x04, 0x0d, "logical unit not ready, structure check required"},
    {0x04, 0x0e, "logical unit not ready, security session in progress"},
    {0x04, 0x10, "logical unit not ready, auxiliary memory not accessible"},
    {0x04, 0x11, "logical unit not ready, notify (enable spinup) required"},
    {0x04, 0x12, "logical unit not ready, offline"},
    {0x04, 0x13, "logical unit not ready, SA creation in progress"},
    {0x04, 0x14, "logical unit not ready, space allocation in progress"},
    {0x04, 0x15, "logical unit not ready, robotics disabled"},
    {0x04, 0x16, "logical unit not ready, configuration required"},
    {0x04, 0x17, "logical unit not ready, calibration required"},
    {0x04, 0x18, "logical unit not ready, a door is open"},
    {0x04, 0x19, "logical unit not ready, operating in sequential mode"},
    {0x04, 0x1a, "logical unit not ready, start stop unit command in progress"},
    {0x04, 0x1b, "logical unit not ready, sanitize in progress"},
    {0x04, 0x1c, "logical unit not ready, additional power use not yet granted"},
    {0x04, 0x1d, "logical unit not ready, configuration in progress"},
    {0x04, 0x1e, "logical unit not ready, microcode activation required"},
    {0x04, 0x1f, "logical unit not ready, microcode download required"},
    {0x04, 0x20, "logical unit not ready, logical unit reset required"},
    {0x04, 0x21, "logical unit not ready, hard reset required"},
    {0x04, 0x22, "logical unit not ready, power cycle required"},
    {0x04, 0x23, "logical unit not ready, affiliation required"},
    {0x04, 0x24, "depopulation in progress"},
    {0x04, 0x25, "depopulation restoration in progress"},
    {0x05, 0x00, "logical unit does not respond to selection"},
    {0x06, 0x00, "no reference position found"},
    {0x07, 0x00, "multiple peripheral devices selected"},
    {0x08, 0x00, "logical unit communication failure"},
    {0x08, 0x01, "logical unit communication time-out"},
    {0x08, 0x02, "logical unit communication parity error"},
    {0x08, 0x03, "logical unit communication CRC error (Ultra-DMA/32)"},
    {0x08, 0x04, "unreachable copy target"},
    {0x09, 0x00, "track following error"},
    {0x09, 0x01, "tracking servo failure"},
    {0x09, 0x02, "focus servo failure"},
    {0x09, 0x03, "spindle servo failure"},
    {0x09, 0x04, "head select fault"},
    {0x09, 0x05, "vibration induced tracking error"},
    {0x0a, 0x00, "error log overflow"},
    {0x0b, 0x00, "warning"},
    {0x0b, 0x01, "warning - specified temperature exceeded"},
    {0x0b, 0x02, "warning - enclosure degraded"},
    {0x0b, 0x03, "warning - background self-test failed"},
    {0x0b, 0x04, "warning - background pre-scan detected medium error"},
    {0x0b, 0x05, "warning - background medium scan detected medium error"},
    {0x0b, 0x06, "warning - non-volatile cache now volatile"},
    {0x0b, 0x07, "warning - degraded power to non-volatile cache"},
    {0x0b, 0x08, "warning - power loss expected"},
    {0x0b, 0x09, "warning - device statistics notification active"},
    {0x0b, 0x0a, "warning - high critical temperature limit exceeded"},
    {0x0b, 0x0b, "warning - low critical temperature limit exceeded"},
    {0x0b, 0x0c, "warning - high operating temperature limit exceeded"},
    {0x0b, 0x0d, "warning - low operating temperature limit exceeded"},
    {0x0b, 0x0e, "warning - high critical humidity limit exceeded"},
    {0x0b, 0x0f, "warning - low critical humidity limit exceeded"},
    {0x0b, 0x10, "warning - high operating humidity limit exceeded"},
    {0x0b, 0x11, "warning - low operating humidity limit exceeded"},
    {0x0b, 0x12, "warning - microcode security at risk"},
    {0x0b, 0x13, "warning - microcode digital signature validation failure"},
    {0x0b, 0x14, "warning - physical element status change"},
    {0x0c, 0x00, "write error"},
    {0x0c, 0x01, "write error - recovered with auto reallocation"},
    {0x0c, 0x02, "write error - auto reallocation failed"},
    {0x0c, 0x03, "write error - recommend reassignment"},
    {0x0c, 0x04, "compression check miscompare error"},
    {0x0c, 0x05, "data expansion occurred during compression"},
    {0x0c, 0x06, "block not compressible"},
    {0x0c, 0x07, "write error - recovery needed"},
    {0x0c, 0x08, "write error - recovery failed"},
    {0x0c, 0x09, "write error - loss of streaming"},
    {0x0c, 0x0a, "write error - padding blocks added"},
    {0x0c, 0x0b, "auxiliary memory write error"},
    {0x0c, 0x0c, "write error - unexpected unsolicited data"},
    {0x0c, 0x0d, "write error - not enough unsolicited data"},
    {0x0c, 0x0e, "multiple write errors"},
    {0x0c, 0x0f, "defects in error window"},
    {0x0c, 0x10, "incomplete multiple atomic write operations"},
    {0x0c, 0x11, "write error - recovery scan needed"},
    {0x0c, 0x12, "write error - insufficient zone resources"},
    {0x0d, 0x00, "error detected by third party temporary initiator"},
    {0x0d, 0x01, "third party device failure"},
    {0x0d, 0x02, "copy target device not reachable"},
    {0x0d, 0x03, "incorrect copy target device type"},
    {0x0d, 0x04, "copy target device data underrun"},
    {0x0d, 0x05, "copy target device data overrun"},
    {0x0e, 0x00, "invalid information unit"},
    {0x0e, 0x01, "information unit too short"},
    {0x0e, 0x02, "information unit too long"},
    {0x0e, 0x03, "invalid field in command information unit"},
    {0x10, 0x00, "ID CRC or ECC error"},
    {0x10, 0x01, "logical block guard check failed"},
    {0x10, 0x02, "logical block application tag check failed"},
    {0x10, 0x03, "logical block reference tag check failed"},
    {0x10, 0x04, "logical block protection error on recover buffered data"},
    {0x10, 0x05, "logical block protection method error"},
    {0x11, 0x00, "unrecovered read error"},
    {0x11, 0x01, "read retries exhausted"},
    {0x11, 0x02, "error too long to correct"},
    {0x11, 0x03, "multiple read errors"},
    {0x11, 0x04, "unrecovered read error - auto reallocate failed"},
    {0x11, 0x05, "L-EC uncorrectable error"},
    {0x11, 0x06, "CIRC unrecovered error"},
    {0x11, 0x07, "data re-synchronization error"},
    {0x11, 0x08, "incomplete block read"},
    {0x11, 0x09, "no gap found"},
    {0x11, 0x0a, "miscorrected error"},
    {0x11, 0x0b, "unrecovered read error - recommend reassignment"},
    {0x11, 0x0c, "unrecovered read error - recommend rewrite the data"},
    {0x11, 0x0d, "de-compression CRC error"},
    {0x11, 0x0e, "cannot decompress using declared algorithm"},
    {0x11, 0x0f, "error reading UPC/EAN number"},
    {0x11, 0x10, "error reading ISRC number"},
    {0x11, 0x11, "read error - loss of streaming"},
    {0x11, 0x12, "auxiliary memory read error"},
    {0x11, 0x13, "read error - failed retransmission request"},
    {0x11, 0x14, "read error - LBA marked bad by application client"},
    {0x11, 0x15, "write after sanitize required"},
    {0x12, 0x00, "address mark not found for ID field"},
    {0x13, 0x00, "address mark not found for data field"},
    {0x14, 0x00, "recorded entity not found"},
    {0x14, 0x01, "record not found"},
    {0x14, 0x02, "filemark or setmark not found"},
    {0x14, 0x03, "end-of-data not found"},
    {0x14, 0x04, "block sequence error"},
    {0x14, 0x05, "record not found - recommend reassignment"},
    {0x14, 0x06, "record not found - data auto-reallocated"},
    {0x14, 0x07, "locate operation failure"},
    {0x15, 0x00, "random positioning error"},
    {0x15, 0x01, "mechanical positioning error"},
    {0x15, 0x02, "positioning error detected by read of medium"},
    {0x16, 0x00, "data synchronization mark error"},
    {0x16, 0x01, "data sync error - data rewritten"},
    {0x16, 0x02, "data sync error - recommend rewrite"},
    {0x16, 0x03, "data sync error - data auto-reallocated"},
    {0x16, 0x04, "data sync error - recommend reassignment"},
    {0x17, 0x00, "recovered data with no error correction applied"},
    {0x17, 0x01, "recovered data with retries"},
    {0x17, 0x02, "recovered data with positive head offset"},
    {0x17, 0x03, "recovered data with negative head offset"},
    {0x17, 0x04, "recovered data with retries and/or CIRC applied"},
    {0x17, 0x05, "recovered data using previous sector ID"},
    {0x17, 0x06, "recovered data without ECC - data auto-reallocated"},
    {0x17, 0x07, "recovered data without ECC - recommend reassignment"},
    {0x17, 0x08, "recovered data without ECC - recommend rewrite"},
    {0x17, 0x09, "recovered data without ECC - data rewritten"},
    {0x18, 0x00, "recovered data with error correction applied"},
    {0x18, 0x01, "recovered data with error corr. & retries applied"},
    {0x18, 0x02, "recovered data - data auto-reallocated"},
    {0x18, 0x03, "recovered data with CIRC"},
    {0x18, 0x04, "recovered data with L-EC"},
    {0x18, 0x05, "recovered data - recommend reassignment"},
    {0x18, 0x06, "recovered data - recommend rewrite"},
    {0x18, 0x07, "recovered data with ECC - data rewritten"},
    {0x18, 0x08, "recovered data with linking"},
    {0x19, 0x00, "defect list error"},
    {0x19, 0x01, "defect list not available"},
    {0x19, 0x02, "defect list error in primary list"},
    {0x19, 0x03, "defect list error in grown list"},
    {0x1a, 0x00, "parameter list length error"},
    {0x1b, 0x00, "synchronous data transfer error"},
    {0x1c, 0x00, "defect list not found"},
    {0x1c, 0x01, "primary defect list not found"},
    {0x1c, 0x02, "grown defect list not found"},
    {0x1d, 0x00, "miscompare during verify operation"},
    {0x1d, 0x01, "miscompare verify of unmapped LBA"},
    {0x1e, 0x00, "recovered ID with ECC correction"},
    {0x1f, 0x00, "partial defect list transfer"},
    {0x20, 0x00, "invalid command operation code"},
    {0x20, 0x01, "access denied - initiator pending-enrolled"},
    {0x20, 0x02, "access denied - no access rights"},
    {0x20, 0x03, "access denied - invalid mgmt ID key"},
    {0x20, 0x04, "illegal command while in write capable state"},
    {0x20, 0x06, "illegal command while in explicit address mode"},
    {0x20, 0x07, "illegal command while in implicit address mode"},
    {0x20, 0x08, "access denied - enrollment conflict"},
    {0x20, 0x09, "access denied - invalid LU identifier"},
    {0x20, 0x0a, "access denied - invalid proxy token"},
    {0x20, 0x0b, "access denied - ACL LUN conflict"},
    {0x20, 0x0c, "illegal command when not in append-only mode"},
    {0x20, 0x0d, "not an administrative logical unit"},
    {0x20, 0x0e, "not a subsidiary logical unit"},
    {0x20, 0x0f, "not a conglomerate logical unit"},
    {0x21, 0x00, "logical block address out of range"},
    {0x21, 0x01, "invalid element address"},
    {0x21, 0x02, "invalid address for write"},
    {0x21, 0x03, "invalid write crossing layer jump"},
    {0x21, 0x04, "unaligned write command"},
    {0x21, 0x05, "write boundary violation"},
    {0x21, 0x06, "attempt to read invalid data"},
    {0x21, 0x07, "read boundary violation"},
    {0x21, 0x08, "misaligned write command"},
    {0x22, 0x00, "illegal function (use 20 00, 24 00, or 26 00)"},
    {0x23, 0x00, "invalid token operation, cause not reportable"},
    {0x23, 0x01, "invalid token operation, unsupported token type"},
    {0x23, 0x02, "invalid token operation, remote token usage not supported"},
    {0x23, 0x03, "invalid token operation, remote ROD token creation not supported"},
    {0x23, 0x04, "invalid token operation, token unknown"},
    {0x23, 0x05, "invalid token operation, token corrupt"},
    {0x23, 0x06, "invalid token operation, token revoked"},
    {0x23, 0x07, "invalid token operation, token expired"},
    {0x23, 0x08, "invalid token operation, token cancelled"},
    {0x23, 0x09, "invalid token operation, token deleted"},
    {0x23, 0x0a, "invalid token operation, invalid token length"},
    {0x24, 0x00, "invalid field in CDB"},
    {0x24, 0x01, "CDB decryption error"},
    {0x24, 0x04, "security audit value frozen"},
    {0x24, 0x05, "security working key frozen"},
    {0x24, 0x06, "nonce not unique"},
    {0x24, 0x07, "nonce timestamp out of range"},
    {0x24, 0x08, "invalid XCDB"},
    {0x24, 0x09, "invalid fast format"},
    {0x25, 0x00, "logical unit not supported"},
    {0x26, 0x00, "invalid field in parameter list"},
    {0x26, 0x01, "parameter not supported"},
    {0x26, 0x02, "parameter value invalid"},
    {0x26, 0x03, "threshold parameters not supported"},
    {0x26, 0x04, "invalid release of persistent reservation"},
    {0x26, 0x05, "data decryption error"},
    {0x26, 0x06, "too many target descriptors"},
    {0x26, 0x07, "unsupported target descriptor type code"},
    {0x26, 0x08, "too many segment descriptors"},
    {0x26, 0x09, "unsupported segment descriptor type code"},
    {0x26, 0x0a, "unexpected inexact segment"},
    {0x26, 0x0b, "inline data length exceeded"},
    {0x26, 0x0c, "invalid operation for copy source or destination"},
    {0x26, 0x0d, "copy segment granularity violation"},
    {0x26, 0x0e, "invalid parameter while port is enabled"},
    {0x26, 0x0f, "invalid data-out buffer integrity check value"},
    {0x26, 0x10, "data decryption key fail limit reached"},
    {0x26, 0x11, "incomplete key-associated data set"},
    {0x26, 0x12, "vendor specific key reference not found"},
    {0x26, 0x13, "application tag mode page is invalid"},
    {0x26, 0x14, "tape stream mirroring prevented"},
    {0x26, 0x15, "copy source or copy destination not authorized"},
    {0x26, 0x16, "fast copy not possible"},
    {0x27, 0x00, "write protected"},
    {0x27, 0x01, "hardware write protected"},
    {0x27, 0x02, "logical unit software write protected"},
    {0x27, 0x03, "associated write protect"},
    {0x27, 0x04, "persistent write protect"},
    {0x27, 0x05, "permanent write protect"},
    {0x27, 0x06, "conditional write protect"},
    {0x27, 0x07, "space allocation failed write protect"},
    {0x27, 0x08, "zone is read only"},
    {0x28, 0x00, "not ready to ready change, medium may have changed"},
    {0x28, 0x01, "import or export element accessed"},
    {0x28, 0x02, "format-layer may have changed"},
    {0x28, 0x03, "import/export element accessed, medium changed"},
    {0x29, 0x00, "power on, reset, or bus device reset occurred"},
    {0x29, 0x01, "power on occurred"},
    {0x29, 0x02, "SCSI bus reset occurred"},
    {0x29, 0x03, "bus device reset function occurred"},
    {0x29, 0x04, "device internal reset"},
    {0x29, 0x05, "transceiver mode changed to single-ended"},
    {0x29, 0x06, "transceiver mode changed to LVD"},
    {0x29, 0x07, "I_T nexus loss occurred"},
    {0x2a, 0x00, "parameters changed"},
    {0x2a, 0x01, "mode parameters changed"},
    {0x2a, 0x02, "log parameters changed"},
    {0x2a, 0x03, "reservations preempted"},
    {0x2a, 0x04, "reservations released"},
    {0x2a, 0x05, "registrations preempted"},
    {0x2a, 0x06, "asymmetric access state changed"},
    {0x2a, 0x07, "implicit asymmetric access state transition failed"},
    {0x2a, 0x08, "priority changed"},
    {0x2a, 0x09, "capacity data has changed"},
    {0x2a, 0x0a, "error history I_T nexus cleared"},
    {0x2a, 0x0b, "error history snapshot released"},
    {0x2a, 0x0c, "error recovery attributes have changed"},
    {0x2a, 0x0d, "data encryption capabilities changed"},
    {0x2a, 0x10, "timestamp changed"},
    {0x2a, 0x11, "data encryption parameters changed by another I_T nexus"},
    {0x2a, 0x12, "data encryption parameters changed by vendor specific event"},
    {0x2a, 0x13, "data encryption key instance counter has changed"},
    {0x2a, 0x14, "SA creation capabilities data has changed"},
    {0x2a, 0x15, "medium removal prevention preempted"},
    {0x2a, 0x16, "zone reset write pointer recommended"},
    {0x2b, 0x00, "copy cannot execute since host cannot disconnect"},
    {0x2c, 0x00, "command sequence error"},
    {0x2c, 0x01, "too many windows specified"},
    {0x2c, 0x02, "invalid combination of windows specified"},
    {0x2c, 0x03, "current program area is not empty"},
    {0x2c, 0x04, "current program area is empty"},
    {0x2c, 0x05, "illegal power condition request"},
    {0x2c, 0x06, "persistent prevent conflict"},
    {0x2c, 0x07, "previous busy status"},
    {0x2c, 0x08, "previous task set full status"},
    {0x2c, 0x09, "previous reservation conflict status"},
    {0x2c, 0x0a, "partition or collection contains user objects"},
    {0x2c, 0x0b, "not reserved"},
    {0x2c, 0x0c, "ORWRITE generation does not match"},
    {0x2c, 0x0d, "reset write pointer not allowed"},
    {0x2c, 0x0e, "zone is offline"},
    {0x2c, 0x0f, "stream not open"},
    {0x2c, 0x10, "unwritten data in zone"},
    {0x2c, 0x11, "descriptor format sense data required"},
    {0x2c, 0x12, "zone is inactive"},
    {0x2c, 0x13, "well known logical unit access required"},
    {0x2d, 0x00, "overwrite error on update in place"},
    {0x2e, 0x00, "insufficient time for operation"},
    {0x2e, 0x01, "command timeout before processing"},
    {0x2e, 0x02, "command timeout during processing"},
    {0x2e, 0x03, "command timeout during processing due to error recovery"},
    {0x2f, 0x00, "commands cleared by another initiator"},
    {0x2f, 0x01, "commands cleared by power loss notification"},
    {0x2f, 0x02, "commands cleared by device server"},
    {0x2f, 0x03, "some commands cleared by queuing layer event"},
    {0x30, 0x00, "incompatible medium installed"},
    {0x30, 0x01, "cannot read medium - unknown format"},
    {0x30, 0x02, "cannot read medium - incompatible format"},
    {0x30, 0x03, "cleaning cartridge installed"},
    {0x30, 0x04, "cannot write medium - unknown format"},
    {0x30, 0x05, "cannot write medium - incompatible format"},
    {0x30, 0x06, "cannot format medium - incompatible medium"},
    {0x30, 0x07, "cleaning failure"},
    {0x30, 0x08, "cannot write - application code mismatch"},
    {0x30, 0x09, "current session not fixated for append"},
    {0x30, 0x0a, "cleaning request rejected"},
    {0x30, 0x0c, "WORM medium - overwrite attempted"},
    {0x30, 0x0d, "WORM medium - integrity check"},
    {0x30, 0x10, "medium not formatted"},
    {0x30, 0x11, "incompatible volume type"},
    {0x30, 0x12, "incompatible volume qualifier"},
    {0x30, 0x13, "cleaning volume expired"},
    {0x31, 0x00, "medium format corrupted"},
    {0x31, 0x01, "format command failed"},
    {0x31, 0x02, "zoned formatting failed due to spare linking"},
    {0x31, 0x03, "sanitize command failed"},
    {0x31, 0x04, "depopulation failed"},
    {0x31, 0x05, "depopulation restoration failed"},
    {0x32, 0x00, "no defect spare location available"},
    {0x32, 0x01, "defect list update failure"},
    {0x33, 0x00, "tape length error"},
    {0x34, 0x00, "enclosure failure"},
    {0x35, 0x00, "enclosure services failure"},
    {0x35, 0x01, "unsupported enclosure function"},
    {0x35, 0x02, "enclosure services unavailable"},
    {0x35, 0x03, "enclosure services transfer failure"},
    {0x35, 0x04, "enclosure services transfer refused"},
    {0x35, 0x05, "enclosure services checksum error"},
    {0x36, 0x00, "ribbon, ink, or toner failure"},
    {0x37, 0x00, "rounded parameter"},
    {0x38, 0x00, "event status notification"},
    {0x38, 0x02, "ESN - power management class event"},
    {0x38, 0x04, "ESN - media class event"},
    {0x38, 0x06, "ESN - device busy class event"},
    {0x38, 0x07, "thin provisioning soft threshold reached"},
    {0x38, 0x08, "depopulation interrupted"},
    {0x39, 0x00, "saving parameters not supported"},
    {0x3a, 0x00, "medium not present"},
    {0x3a, 0x01, "medium not present - tray closed"},
    {0x3a, 0x02, "medium not present - tray open"},
    {0x3a, 0x03, "medium not present - loadable"},
    {0x3a, 0x04, "medium not present - medium auxiliary memory accessible"},
    {0x3b, 0x00, "sequential positioning error"},
    {0x3b, 0x01, "tape position error at beginning-of-medium"},
    {0x3b, 0x02, "tape position error at end-of-medium"},
    {0x3b, 0x03, "tape or electronic vertical forms unit not ready"},
    {0x3b, 0x04, "slew failure"},
    {0x3b, 0x05, "paper jam"},
    {0x3b, 0x06, "failed to sense top-of-form"},
    {0x3b, 0x07, "failed to sense bottom-of-form"},
    {0x3b, 0x08, "reposition error"},
    {0x3b, 0x09, "read past end of medium"},
    {0x3b, 0x0a, "read past beginning of medium"},
    {0x3b, 0x0b, "position past end of medium"},
    {0x3b, 0x0c, "position past beginning of medium"},
    {0x3b, 0x0d, "medium destination element full"},
    {0x3b, 0x0e, "medium source element empty"},
    {0x3b, 0x0f, "end of medium reached"},
    {0x3b, 0x11, "medium magazine not accessible"},
    {0x3b, 0x12, "medium magazine removed"},
    {0x3b, 0x13, "medium magazine inserted"},
    {0x3b, 0x14, "medium magazine locked"},
    {0x3b, 0x15, "medium magazine unlocked"},
    {0x3b, 0x16, "mechanical positioning or changer error"},
    {0x3b, 0x17, "read past end of user object"},
    {0x3b, 0x18, "element disabled"},
    {0x3b, 0x19, "element enabled"},
    {0x3b, 0x1a, "data transfer device removed"},
    {0x3b, 0x1b, "data transfer device inserted"},
    {0x3b, 0x1c, "too many logical objects on partition to support operation"},
    {0x3b, 0x20, "element static information changed"},
    {0x3d, 0x00, "invalid bits in identify message"},
    {0x3e, 0x00, "logical unit has not self-configured yet"},
    {0x3e, 0x01, "logical unit failure"},
    {0x3e, 0x02, "timeout on logical unit"},
    {0x3e, 0x03, "logical unit failed self-test"},
    {0x3e, 0x04, "logical unit unable to update self-test log"},
    {0x3f, 0x00, "target operating conditions have changed"},
    {0x3f, 0x01, "microcode has been changed"},
    {0x3f, 0x02, "changed operating definition"},
    {0x3f, 0x03, "inquiry data has changed"},
    {0x3f, 0x04, "component device attached"},
    {0x3f, 0x05, "device identifier changed"},
    {0x3f, 0x06, "redundancy group created or modified"},
    {0x3f, 0x07, "redundancy group deleted"},
    {0x3f, 0x08, "spare created or modified"},
    {0x3f, 0x09, "spare deleted"},
    {0x3f, 0x0a, "volume set created or modified"},
    {0x3f, 0x0b, "volume set deleted"},
    {0x3f, 0x0c, "volume set deassigned"},
    {0x3f, 0x0d, "volume set reassigned"},
    {0x3f, 0x0e, "reported luns data has changed"},
    {0x3f, 0x0f, "echo buffer overwritten"},
    {0x3f, 0x10, "medium loadable"},
    {0x3f, 0x11, "medium auxiliary memory accessible"},
    {0x3f, 0x12, "iSCSI IP address added"},
    {0x3f, 0x13, "iSCSI IP address removed"},
    {0x3f, 0x14, "iSCSI IP address changed"},
    {0x3f, 0x15, "inspect referrals sense descriptors"},
    {0x3f, 0x16, "microcode has been changed without reset"},
    {0x3f, 0x17, "zone transition to full"},
    {0x3f, 0x18, "bind completed"},
    {0x3f, 0x19, "bind redirected"},
    {0x3f, 0x1a, "subsidiary binding changed"},
    {0x40, 0x00, "RAM failure (should use 40 NN)"},
    {0x41, 0x00, "data path failure (should use 40 NN)"},
    {0x42, 0x00, "power-on or self-test failure (should use 40 NN)"},
    {0x43, 0x00, "message error"},
    {0x44, 0x00, "internal target failure"},
    {0x44, 0x01, "persistent reservation information lost"},
    {0x44, 0x71, "ATA device failed set features"},
    {0x45, 0x00, "select or reselect failure"},
    {0x46, 0x00, "unsuccessful soft reset"},
    {0x47, 0x00, "SCSI parity error"},
    {0x47, 0x01, "data phase CRC error detected"},
    {0x47, 0x02, "SCSI parity error detected during ST data phase"},
    {0x47, 0x03, "information unit iuCRC error detected"},
    {0x47, 0x04, "asynchronous information protection error detected"},
    {0x47, 0x05, "protocol service CRC error"},
    {0x47, 0x06, "PHY test function in progress"},
    {0x47, 0x7f, "some commands cleared by iSCSI protocol event"},
    {0x48, 0x00, "initiator detected error message received"},
    {0x49, 0x00, "invalid message error"},
    {0x4a, 0x00, "command phase error"},
    {0x4b, 0x00, "data phase error"},
    {0x4b, 0x01, "invalid target port transfer tag received"},
    {0x4b, 0x02, "too much write data"},
    {0x4b, 0x03, "ACK/NAK timeout"},
    {0x4b, 0x04, "NAK received"},
    {0x4b, 0x05, "data offset error"},
    {0x4b, 0x06, "initiator response timeout"},
    {0x4b, 0x07, "connection lost"},
    {0x4b, 0x08, "data-in buffer overflow - data buffer size"},
    {0x4b, 0x09, "data-in buffer overflow - data buffer descriptor area"},
    {0x4b, 0x0a, "data-in buffer error"},
    {0x4b, 0x0b, "data-out buffer overflow - data buffer size"},
    {0x4b, 0x0c, "data-out buffer overflow - data buffer descriptor area"},
    {0x4b, 0x0d, "data-out buffer error"},
    {0x4b, 0x0e, "PCIe fabric error"},
    {0x4b, 0x0f, "PCIe completion timeout"},
    {0x4b, 0x10, "PCIe completer abort"},
    {0x4b, 0x11, "PCIe poisoned TLP received"},
    {0x4b, 0x12, "PCIe ECRC check failed"},
    {0x4b, 0x13, "PCIe unsupported request"},
    {0x4b, 0x14, "PCIe ACS violation"},
    {0x4b, 0x15, "PCIe TLP prefix blocked"},
    {0x4c, 0x00, "logical unit failed self-configuration"},
    {0x4e, 0x00, "overlapped commands attempted"},
    {0x50, 0x00, "write append error"},
    {0x50, 0x01, "write append position error"},
    {0x50, 0x02, "position error related to timing"},
    {0x51, 0x00, "erase failure"},
    {0x51, 0x01, "erase failure - incomplete erase operation detected"},
    {0x52, 0x00, "cartridge fault"},
    {0x53, 0x00, "media load or eject failed"},
    {0x53, 0x01, "unload tape failure"},
    {0x53, 0x02, "medium removal prevented"},
    {0x53, 0x03, "medium removal prevented by data transfer element"},
    {0x53, 0x04, "medium thread or unthread failure"},
    {0x53, 0x05, "volume identifier invalid"},
    {0x53, 0x06, "volume identifier missing"},
    {0x53, 0x07, "duplicate volume identifier"},
    {0x53, 0x08, "element status unknown"},
    {0x54, 0x00, "SCSI to host system interface failure"},
    {0x55, 0x00, "system resource failure"},
    {0x55, 0x01, "system buffer full"},
    {0x55, 0x02, "insufficient reservation resources"},
    {0x55, 0x03, "insufficient resources"},
    {0x55, 0x04, "insufficient registration resources"},
    {0x55, 0x05, "insufficient access control resources"},
    {0x55, 0x06, "auxiliary memory out of space"},
    {0x55, 0x07, "quota error"},
    {0x55, 0x08, "maximum number of supplemental decryption keys exceeded"},
    {0x55, 0x09, "medium auxiliary memory not accessible"},
    {0x55, 0x0a, "data currently unavailable"},
    {0x55, 0x0b, "insufficient power for operation"},
    {0x55, 0x0c, "insufficient resources to create ROD"},
    {0x55, 0x0d, "insufficient resources to create ROD token"},
    {0x55, 0x0e, "insufficient zone resources"},
    {0x55, 0x0f, "insufficient zone resources to complete write"},
    {0x55, 0x10, "maximum number of streams open"},
    {0x55, 0x11, "insufficient resources to bind"},
    {0x57, 0x00, "unable to recover table-of-contents"},
    {0x58, 0x00, "generation does not exist"},
    {0x59, 0x00, "updated block read"},
    {0x5a, 0x00, "operator request or state change input"},
    {0x5a, 0x01, "operator medium removal request"},
    {0x5a, 0x02, "operator selected write protect"},
    {0x5a, 0x03, "operator selected write permit"},
    {0x5b, 0x00, "log exception"},
    {0x5b, 0x01, "threshold condition met"},
    {0x5b, 0x02, "log counter at maximum"},
    {0x5b, 0x03, "log list codes exhausted"},
    {0x5c, 0x00, "RPL status change"},
    {0x5c, 0x01, "spindles synchronized"},
    {0x5c, 0x02, "spindles not synchronized"},
    {0x5d, 0x00, "failure prediction threshold exceeded"},
    {0x5d, 0x01, "media failure prediction threshold exceeded"},
    {0x5d, 0x02, "logical unit failure prediction threshold exceeded"},
    {0x5d, 0x03, "spare area exhaustion prediction threshold exceeded"},
    {0x5d, 0x73, "media impending failure endurance limit met"},
    {0x5d, 0xff, "failure prediction threshold exceeded (false)"},
    {0x5e, 0x00, "low power condition on"},
    {0x5e, 0x01, "idle condition activated by timer"},
    {0x5e, 0x02, "standby condition activated by timer"},
    {0x5e, 0x03, "idle condition activated by command"},
    {0x5e, 0x04, "standby condition activated by command"},
    {0x5e, 0x05, "idle_b condition activated by timer"},
    {0x5e, 0x06, "idle_b condition activated by command"},
    {0x5e, 0x07, "idle_c condition activated by timer"},
    {0x5e, 0x08, "idle_c condition activated by command"},
    {0x5e, 0x09, "standby_y condition activated by timer"},
    {0x5e, 0x0a, "standby_y condition activated by command"},
    {0x5e, 0x41, "power state change to active"},
    {0x5e, 0x42, "power state change to idle"},
    {0x5e, 0x43, "power state change to standby"},
    {0x5e, 0x45, "power state change to sleep"},
    {0x5e, 0x47, "power state change to device control"},
    {0x60, 0x00, "lamp failure"},
    {0x61, 0x00, "video acquisition error"},
    {0x61, 0x01, "unable to acquire video"},
    {0x61, 0x02, "out of focus"},
    {0x62, 0x00, "scan head positioning error"},
    {0x63, 0x00, "end of user area encountered on this track"},
    {0x63, 0x01, "packet does not fit in available space"},
    {0x64, 0x00, "illegal mode for this track"},
    {0x64, 0x01, "invalid packet size"},
    {0x65, 0x00, "voltage fault"},
    {0x67, 0x00, "configuration failure"},
    {0x67, 0x01, "configuration of incapable logical units failed"},
    {0x67, 0x02, "add logical unit failed"},
    {0x67, 0x03, "modification of logical unit failed"},
    {0x67, 0x04, "exchange of logical unit failed"},
    {0x67, 0x05, "remove of logical unit failed"},
    {0x67, 0x06, "attachment of logical unit failed"},
    {0x67, 0x07, "creation of logical unit failed"},
    {0x67, 0x08, "assign failure occurred"},
    {0x67, 0x09, "multiply assigned logical unit"},
    {0x67, 0x0a, "set target port groups command failed"},
    {0x67, 0x0b, "ATA device feature not enabled"},
    {0x67, 0x0c, "command rejected"},
    {0x67, 0x0d, "explicit bind not allowed"},
    {0x68, 0x00, "logical unit not configured"},
    {0x68, 0x01, "subsidiary logical unit not configured"},
    {0x69, 0x00, "data loss on logical unit"},
    {0x69, 0x01, "multiple logical unit failures"},
    {0x69, 0x02, "parity/data mismatch"},
    {0x6a, 0x00, "informational, refer to log"},
    {0x6b, 0x00, "state change has occurred"},
    {0x6b, 0x01, "redundancy level got better"},
    {0x6b, 0x02, "redundancy level got worse"},
    {0x6c, 0x00, "rebuild failure occurred"},
    {0x6d, 0x00, "recalculate failure occurred"},
    {0x6e, 0x00, "command to logical unit failed"},
    {0x71, 0x00, "decompression exception long algorithm ID"},
    {0x74, 0x00, "security error"},
    {0x74, 0x01, "unable to decrypt data"},
    {0x74, 0x02, "unencrypted data encountered while decrypting"},
    {0x74, 0x03, "incorrect data encryption key"},
    {0x74, 0x04, "cryptographic integrity validation failed"},
    {0x74, 0x05, "error decrypting data"},
    {0x74, 0x06, "unknown signature verification key"},
    {0x74, 0x07, "encryption parameters not useable"},
    {0x74, 0x08, "digital signature validation failure"},
    {0x74, 0x09, "encryption mode mismatch on read"},
    {0x74, 0x0a, "encrypted block not raw read enabled"},
    {0x74, 0x0b, "incorrect encryption parameters"},
    {0x74, 0x0c, "unable to decrypt parameter list"},
    {0x74, 0x0d, "encryption algorithm disabled"},
    {0x74, 0x10, "SA creation parameter value invalid"},
    {0x74, 0x11, "SA creation parameter value rejected"},
    {0x74, 0x12, "invalid SA usage"},
    {0x74, 0x21, "data encryption configuration prevented"},
    {0x74, 0x30, "SA creation parameter not supported"},
    {0x74, 0x40, "authentication failed"},
    {0x74, 0x61, "external data encryption key manager access error"},
    {0x74, 0x62, "external data encryption key manager error"},
    {0x74, 0x63, "external data encryption key not found"},
    {0x74, 0x64, "external data encryption request not authorized"},
    {0x74, 0x6e, "external data encryption control timeout"},
    {0x74, 0x6f, "external data encryption control error"},
    {0x74, 0x71, "logical unit access not authorized"},
    {0x74, 0x79, "security conflict in translated device"},
};

#define S_ASC_COUNT (sizeof s_asc_table / sizeof s_asc_table[0])

/* ASC values where SPC assigns a range of ASCQs with one text that names
 * the ASCQ: "<prefix>0xNN<suffix>". */
typedef struct {
    uint8_t asc;
    uint8_t ascq_lo;
    uint8_t ascq_hi;
    const char *prefix;
    const char *suffix;
} s_asc_range_t;

static const s_asc_range_t s_asc_ranges[] = {
    {0x40, 0x80, 0xff, "diagnostic failure on component ", ""},
    {0x4d, 0x00, 0xff, "tagged overlapped commands (task tag ", ")"},
    {0x70, 0x00, 0xff, "decompression exception short algorithm ID of ", ""},
};

const char *
sense_asc_text (uint8_t asc, uint8_t ascq)
{
    unsigned key = (unsigned)asc << 8 | ascq;
    size_t lo = 0, hi = S_ASC_COUNT;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        unsigned k = (unsigned)s_asc_table[mid].asc << 8 | s_asc_table[mid].ascq;
        if (k == key)
            return s_asc_table[mid].text;
        if (k < key)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int
sense_describe (uint8_t asc, uint8_t ascq, char *buf, size_t size)
{
    assert (buf || size == 0);
    int len = -1;
    const char *text = sense_asc_text (asc, ascq);
    if (text)
        len = snprintf (buf, size, "%s", text);
    for (size_t i = 0; len < 0 && i < sizeof s_asc_ranges / sizeof s_asc_ranges[0]; i++) {
        const s_asc_range_t *r = &s_asc_ranges[i];
        if (asc == r->asc && ascq >= r->ascq_lo && ascq <= r->ascq_hi)
            len = snprintf (buf, size, "%s0x%02x%s", r->prefix, ascq, r->suffix);
    }
    if (len < 0)
        len = snprintf (buf, size, "ASC 0x%02x ASCQ 0x%02x", asc, ascq);
    if (len < 0 || (size_t)len >= size)
        return UIS_ERR_BUFFER_TOO_SMALL;
    return len;
}

size_t
sense_asc_count (void)
{
    return S_ASC_COUNT;
}

int
sense_asc_entry (size_t i, uint8_t *asc, uint8_t *ascq, const char **text)
{
    if (i >= S_ASC_COUNT)
        return UIS_ERR_OUT_OF_RANGE;
    if (asc)
        *asc = s_asc_table[i].asc;
    if (ascq)
        *ascq = s_asc_table[i].ascq;
    if (text)
        *text = s_asc_table[i].text;
    return 0;
}
