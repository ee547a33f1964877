/* lun.h: SAM logical unit numbers (the 8-byte LUN field of iSCSI PDUs and of
 * REPORT LUNS data), SAM-5.
 *
 * A LUN is 8 bytes, big-endian, made of up to four 2-byte levels (or one
 * extended-addressing level of 2, 4, 6 or 8 bytes). Byte 0 bits 7-6 of a level
 * hold the address method:
 *   00b peripheral device: bus (6 bits), target or LUN (8 bits); a non-zero
 *       bus means the next level addresses a LUN behind that target
 *       (multi-level, "second-level addressing")
 *   01b flat space: 14-bit LUN
 *   10b logical unit: target (6 bits), bus (3 bits), LUN (5 bits)
 *   11b extended: length (2 bits: 2/4/6/8 bytes), extended address method
 *       (4 bits), value; well-known LUNs (W-LUN, method 1, 2 bytes),
 *       extended flat space (method 2, 4 bytes), long extended flat space
 *       (method 2, 6 bytes), "logical unit not specified" (all 0xff).
 *
 * The API speaks of LUNs as integers (flat numbers): 0..255 are encoded with
 * the peripheral method (bus 0), 256..16383 with the flat space method, as
 * SAM-4 §4.7.5 recommends; anything larger has no single-level encoding and
 * is an error. Any 8-byte encoding can also be given raw (lun_from_u64). */
#ifndef UISCSI_PROTO_LUN_H
#define UISCSI_PROTO_LUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Address methods (byte 0 bits 7-6 of a level). */
#define LUN_AM_PERIPHERAL   0
#define LUN_AM_FLAT         1
#define LUN_AM_LOGICAL_UNIT 2
#define LUN_AM_EXTENDED     3

/* Extended address methods (byte 0 bits 3-0 when the method is 11b). */
#define LUN_EAM_WLUN          0x1
#define LUN_EAM_EXTENDED_FLAT 0x2
#define LUN_EAM_NOT_SPECIFIED 0xf

/* Well-known logical units. */
#define LUN_WLUN_REPORT_LUNS         0x01
#define LUN_WLUN_ACCESS_CONTROLS     0x02
#define LUN_WLUN_TARGET_LOG_PAGES    0x03
#define LUN_WLUN_SECURITY_PROTOCOL   0x04
#define LUN_WLUN_MANAGEMENT_PROTOCOL 0x05
#define LUN_WLUN_TARGET_COMMANDS     0x06

/* Largest integer LUN lun_from_int accepts (14-bit flat space). */
#define LUN_INT_MAX 16383u

/* Longest text lun_format writes, with its NUL ("0x" + 16 digits + NUL). */
#define LUN_FORMAT_MAX 19

/* One decoded addressing level. */
typedef struct {
    uint8_t method;     /* LUN_AM_* */
    uint8_t size;       /* bytes this level uses: 2, or 2/4/6/8 if extended */
    uint8_t bus;        /* peripheral: bus identifier; logical unit: bus */
    uint8_t target;     /* peripheral: target or LUN; logical unit: target */
    uint8_t ext_method; /* extended: LUN_EAM_* */
    uint64_t value;     /* peripheral/flat/logical unit: the LUN;
                           extended: the bytes after byte 0 (up to 56 bits) */
} lun_level_t;

/* A whole 8-byte LUN, decoded. */
typedef struct {
    uint64_t raw;         /* the 8 bytes, big-endian */
    size_t levels;        /* levels decoded, 1..4 */
    lun_level_t level[4]; /* level[0] is the first level */
    bool trailing;        /* non-zero bytes after the last level */
    bool multi_level;     /* more than one level, or trailing bytes */
    bool well_known;      /* a W-LUN (extended method 1) */
    uint8_t wlun;         /* its number when well_known */
} lun_decoded_t;

/* Encodes integer LUN n into out: peripheral method for n < 256, flat space
 * for n < 16384. Larger n: UIS_ERR_LUN_ENCODING, and out is all zero. */
int lun_from_int (uint64_t n, uint8_t out[8]);

/* Stores the raw 64-bit SAM encoding raw into out (big-endian). */
void lun_from_u64 (uint64_t raw, uint8_t out[8]);

/* The 8 LUN bytes as a big-endian 64-bit value. */
uint64_t lun_to_u64 (const uint8_t lun[8]);

/* Decodes lun into an integer when it is a single-level peripheral (bus 0)
 * or flat space LUN with zero trailing bytes. Anything else (multi-level,
 * logical unit, extended, W-LUN): UIS_ERR_LUN_ENCODING, *n untouched; the
 * raw value stays available through lun_to_u64 and lun_decode. */
int lun_to_int (const uint8_t lun[8], uint64_t *n);

/* Decodes every level of lun into out. Returns 0, or UIS_ERR_LUN_ENCODING
 * when an extended level runs past byte 7 (out then holds the levels decoded
 * before it). Never reads beyond the 8 bytes. */
int lun_decode (const uint8_t lun[8], lun_decoded_t *out);

/* Encodes one 2-byte level with the peripheral method (bus <= 63). */
int lun_level_peripheral (unsigned bus, unsigned target_or_lun, uint16_t *level);

/* Encodes one 2-byte level with the flat space method (lun <= 16383). */
int lun_level_flat (unsigned lun, uint16_t *level);

/* Encodes one 2-byte level with the logical unit method (target <= 63,
 * bus <= 7, lun <= 31). */
int lun_level_logical_unit (unsigned target, unsigned bus, unsigned lun, uint16_t *level);

/* Builds a LUN of n (1..4) levels made by the lun_level_* helpers. Every
 * level but the last must be a peripheral level with a non-zero bus (that is
 * what makes the next level part of the address). Error: UIS_ERR_LUN_ENCODING. */
int lun_from_levels (const uint16_t *levels, size_t n, uint8_t out[8]);

/* Builds an extended-method LUN: length_code 0..3 (2, 4, 6 or 8 bytes),
 * ext_method 0..15, value fitting in the 1, 3, 5 or 7 bytes after byte 0. */
int lun_from_extended (unsigned length_code, unsigned ext_method, uint64_t value,
                       uint8_t out[8]);

/* Builds the well-known LUN number wlun (c1 wlun 00 ...). */
void lun_from_wlun (uint8_t wlun, uint8_t out[8]);

/* Writes lun as text into buf: the decimal integer when lun_to_int accepts
 * it, else "0x" and 16 hex digits. Returns the text length, or
 * UIS_ERR_BUFFER_TOO_SMALL when size < LUN_FORMAT_MAX and it does not fit. */
int lun_format (const uint8_t lun[8], char *buf, size_t size);

/* Parses the API's LUN text: a decimal integer (encoded with lun_from_int) or
 * "0x" followed by 1..16 hex digits (the raw encoding). Returns 0,
 * UIS_ERR_INVALID_ARG for bad syntax, UIS_ERR_LUN_ENCODING for an integer
 * without encoding. */
int lun_parse (const char *text, uint8_t out[8]);

#endif
