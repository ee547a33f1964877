/* sense.h: SCSI sense data (SPC-4 "Sense data"): fixed format (response
 * codes 0x70 current, 0x71 deferred) and descriptor format (0x72, 0x73), the
 * iSCSI sense data segment that carries it (RFC 7143 §11.4.7), and the name
 * tables for sense keys and additional sense codes.
 *
 * Sense data comes from the target and is untrusted: parsers read only what
 * both the buffer and the ADDITIONAL SENSE LENGTH cover, leave absent fields
 * zero with their *_valid flag false, and never fail on short data that
 * still holds a response code and a sense key. */
#ifndef UISCSI_PROTO_SENSE_H
#define UISCSI_PROTO_SENSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Sense keys. */
#define SENSE_KEY_NO_SENSE        0x0
#define SENSE_KEY_RECOVERED_ERROR 0x1
#define SENSE_KEY_NOT_READY       0x2
#define SENSE_KEY_MEDIUM_ERROR    0x3
#define SENSE_KEY_HARDWARE_ERROR  0x4
#define SENSE_KEY_ILLEGAL_REQUEST 0x5
#define SENSE_KEY_UNIT_ATTENTION  0x6
#define SENSE_KEY_DATA_PROTECT    0x7
#define SENSE_KEY_BLANK_CHECK     0x8
#define SENSE_KEY_VENDOR_SPECIFIC 0x9
#define SENSE_KEY_COPY_ABORTED    0xa
#define SENSE_KEY_ABORTED_COMMAND 0xb
#define SENSE_KEY_VOLUME_OVERFLOW 0xd
#define SENSE_KEY_MISCOMPARE      0xe
#define SENSE_KEY_COMPLETED       0xf

/* Largest sense data SPC allows (REQUEST SENSE allocation length). */
#define SENSE_MAX_LEN 252

/* Longest text sense_describe writes, with its NUL. */
#define SENSE_DESCRIBE_MAX 96

/* Parsed sense data. A plain value; no pointers into the input. */
typedef struct {
    uint8_t response_code; /* 0x70..0x73 */
    bool descriptor;       /* descriptor format (0x72/0x73) */
    bool deferred;         /* deferred error (0x71/0x73); else current */
    uint8_t sense_key;
    uint8_t asc;
    uint8_t ascq;
    bool asc_valid;  /* ASC/ASCQ were within the data */
    bool info_valid; /* INFORMATION given (fixed: VALID bit) */
    uint64_t information;
    bool cmd_info_valid; /* COMMAND-SPECIFIC INFORMATION given */
    uint64_t cmd_info;
    bool sks_valid;           /* SKSV set in the sense-key-specific bytes */
    uint8_t sks[3];           /* the raw sense-key-specific bytes */
    bool field_pointer_valid; /* ILLEGAL REQUEST field pointer (from sks) */
    bool field_in_cdb;        /* C/D: the field is in the CDB, not data */
    bool bit_pointer_valid;   /* BPV */
    uint8_t bit_pointer;
    uint16_t field_pointer;
    bool progress_valid; /* NOT READY / NO SENSE progress (from sks) */
    uint16_t progress;   /* in 1/65536 units */
    uint8_t fru;         /* FIELD REPLACEABLE UNIT CODE, 0 if none */
    bool filemark;
    bool eom;
    bool ili;
    bool sdat_ovfl;
    size_t length; /* bytes parsed: min (len, 8 + addl length) */
} sense_t;

/* Parses len bytes of sense data at buf into out (out is zeroed first).
 * Returns 0; UIS_ERR_TRUNCATED when len cannot hold the response code and
 * the sense key (fixed < 3 bytes, descriptor < 2 bytes; len 0 included);
 * UIS_ERR_SCSI_SENSE when the response code is not 0x70..0x73. */
int sense_parse (const uint8_t *buf, size_t len, sense_t *out);

/* Finds the sense bytes in the data segment of a SCSI Response PDU
 * (RFC 7143 §11.4.7: a 2-byte SenseLength, the sense data, then response
 * data). On return *sense points into seg and *sense_len is its length.
 * Returns 0 with *sense_len 0 when there is no sense (empty segment or
 * SenseLength 0). Returns UIS_ERR_TRUNCATED with *sense_len 0 when the
 * segment is malformed: 1 byte long, or SenseLength larger than what follows
 * it (conformance I4): the sense is then treated as absent. */
int sense_from_iscsi_segment (const uint8_t *seg, size_t seg_len, const uint8_t **sense,
                              size_t *sense_len);

/* Both steps: finds and parses the sense of a SCSI Response data segment.
 * Returns 0 when sense was found and parsed; otherwise an error code from
 * either step, or UIS_ERR_SCSI_SENSE when the segment held no sense; out is
 * then all zero. */
int sense_parse_iscsi (const uint8_t *seg, size_t seg_len, sense_t *out);

/* Name of a sense key ("ILLEGAL REQUEST"); "UNKNOWN" above 0xf. Static. */
const char *sense_key_name (uint8_t key);

/* SPC text of an exact ASC/ASCQ pair from the table ("invalid field in
 * CDB"), or NULL when the pair is not in it (ranges are not looked up
 * here). Static. */
const char *sense_asc_text (uint8_t asc, uint8_t ascq);

/* Writes the description of an ASC/ASCQ pair into buf: the table text, a
 * range entry with its number ("diagnostic failure on component 0x85"), or
 * "ASC 0xXX ASCQ 0xYY" for an unknown pair. Returns the text length, or
 * UIS_ERR_BUFFER_TOO_SMALL (buf then holds a truncated text when size > 0).
 * SENSE_DESCRIBE_MAX bytes always suffice. */
int sense_describe (uint8_t asc, uint8_t ascq, char *buf, size_t size);

/* Number of exact entries in the ASC/ASCQ table, and entry i of it (sorted
 * by asc, then ascq). Returns 0, or UIS_ERR_OUT_OF_RANGE past the end. */
size_t sense_asc_count (void);
int sense_asc_entry (size_t i, uint8_t *asc, uint8_t *ascq, const char **text);

#endif
