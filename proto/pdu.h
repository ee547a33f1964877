/* pdu.h: iSCSI PDU codec (RFC 7143 §11), both directions.
 *
 * Every opcode of RFC 7143 can be encoded and decoded: the initiator sends
 * the initiator opcodes and decodes the target ones, and the project's
 * scripted fake target does the reverse.
 *
 * A PDU on the wire (RFC 7143 §11.1):
 *
 *   BHS (48 bytes) | AHS (4 * TotalAHSLength bytes) | HeaderDigest (0/4)
 *   | data segment (DataSegmentLength bytes) | padding (0-3 zero bytes)
 *   | DataDigest (0/4, only when DataSegmentLength > 0)
 *
 * pdu_t is the decoded form of a BHS: common fields plus a union of named
 * per-opcode fields (RFC 7143 names in lower case). pdu_ahs_t is the decoded
 * form of the two AHS types RFC 7143 defines (extended CDB, bidirectional
 * expected read-data length).
 *
 * Sending without copying data: pdu_header_build() writes BHS + AHS + header
 * digest into a caller buffer; pdu_data_trailer() computes the 0-3 zero pad
 * bytes and the data digest for a data segment given as (pointer, length)
 * pieces, so a connection can writev (header, piece..., trailer).
 *
 * Receiving: proto/framer.h splits a byte stream into PDUs and decodes the
 * BHS with pdu_bhs_decode().
 *
 * Nothing here allocates. All functions are pure and thread-safe.
 */
#ifndef UISCSI_PROTO_PDU_H
#define UISCSI_PROTO_PDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ constants */

#define PDU_BHS_LEN      48        /* basic header segment, bytes */
#define PDU_DIGEST_LEN   4         /* CRC32C digest, bytes */
#define PDU_DSL_MAX      0xFFFFFFu /* DataSegmentLength is 24 bits */
#define PDU_AHS_MAX      1020      /* TotalAHSLength is 8 bits of 4-byte words */
#define PDU_HEADER_MAX   (PDU_BHS_LEN + PDU_AHS_MAX + PDU_DIGEST_LEN)
#define PDU_TRAILER_MAX  8   /* up to 3 pad bytes + 4 digest bytes */
#define PDU_CDB_BHS_LEN  16  /* CDB bytes carried in the BHS */
#define PDU_CDB_MAX      260 /* longest CDB we encode (BHS + AHS) */
#define PDU_EXT_CDB_MAX  (PDU_CDB_MAX - PDU_CDB_BHS_LEN)
#define PDU_RESERVED_TAG 0xFFFFFFFFu /* "no ITT / no TTT" */
#define PDU_ISID_LEN     6

/* Opcodes (RFC 7143 §11.2.1.2). Initiator opcodes are 0x00-0x1f, target
 * opcodes 0x20-0x3f. */
typedef enum pdu_opcode {
    /* initiator -> target */
    PDU_OP_NOP_OUT = 0x00,
    PDU_OP_SCSI_CMD = 0x01,
    PDU_OP_TMF_REQ = 0x02,
    PDU_OP_LOGIN_REQ = 0x03,
    PDU_OP_TEXT_REQ = 0x04,
    PDU_OP_DATA_OUT = 0x05,
    PDU_OP_LOGOUT_REQ = 0x06,
    PDU_OP_SNACK = 0x10,
    /* target -> initiator */
    PDU_OP_NOP_IN = 0x20,
    PDU_OP_SCSI_RSP = 0x21,
    PDU_OP_TMF_RSP = 0x22,
    PDU_OP_LOGIN_RSP = 0x23,
    PDU_OP_TEXT_RSP = 0x24,
    PDU_OP_DATA_IN = 0x25,
    PDU_OP_LOGOUT_RSP = 0x26,
    PDU_OP_R2T = 0x31,
    PDU_OP_ASYNC = 0x32,
    PDU_OP_REJECT = 0x3f
} pdu_opcode_t;

/* SCSI Command task attributes (RFC 7143 §11.3.1, ATTR). */
enum {
    PDU_ATTR_UNTAGGED = 0,
    PDU_ATTR_SIMPLE = 1,
    PDU_ATTR_ORDERED = 2,
    PDU_ATTR_HEAD_OF_QUEUE = 3,
    PDU_ATTR_ACA = 4
};

/* Task management functions (RFC 7143 §11.5.1). */
enum {
    PDU_TMF_ABORT_TASK = 1,
    PDU_TMF_ABORT_TASK_SET = 2,
    PDU_TMF_CLEAR_ACA = 3,
    PDU_TMF_CLEAR_TASK_SET = 4,
    PDU_TMF_LOGICAL_UNIT_RESET = 5,
    PDU_TMF_TARGET_WARM_RESET = 6,
    PDU_TMF_TARGET_COLD_RESET = 7,
    PDU_TMF_TASK_REASSIGN = 8
};

/* Task management responses (RFC 7143 §11.6.1). */
enum {
    PDU_TMF_RSP_COMPLETE = 0,
    PDU_TMF_RSP_NO_TASK = 1,
    PDU_TMF_RSP_NO_LUN = 2,
    PDU_TMF_RSP_TASK_ALLEGIANT = 3,
    PDU_TMF_RSP_NO_REASSIGN = 4,
    PDU_TMF_RSP_NOT_SUPPORTED = 5,
    PDU_TMF_RSP_AUTH_FAILED = 6,
    PDU_TMF_RSP_REJECTED = 255
};

/* Login stages (RFC 7143 §11.12.3, CSG / NSG). */
enum { PDU_STAGE_SECURITY = 0, PDU_STAGE_OPERATIONAL = 1, PDU_STAGE_FULL_FEATURE = 3 };

/* Login response status classes (RFC 7143 §11.13.5). */
enum {
    PDU_LOGIN_CLASS_SUCCESS = 0,
    PDU_LOGIN_CLASS_REDIRECT = 1,
    PDU_LOGIN_CLASS_INITIATOR_ERR = 2,
    PDU_LOGIN_CLASS_TARGET_ERR = 3
};

/* Logout request reason codes (RFC 7143 §11.14.1). */
enum {
    PDU_LOGOUT_CLOSE_SESSION = 0,
    PDU_LOGOUT_CLOSE_CONNECTION = 1,
    PDU_LOGOUT_REMOVE_FOR_RECOVERY = 2
};

/* Logout response codes (RFC 7143 §11.15.1). */
enum {
    PDU_LOGOUT_RSP_OK = 0,
    PDU_LOGOUT_RSP_CID_NOT_FOUND = 1,
    PDU_LOGOUT_RSP_RECOVERY_UNSUPPORTED = 2,
    PDU_LOGOUT_RSP_CLEANUP_FAILED = 3
};

/* SNACK types (RFC 7143 §11.16.1). */
enum {
    PDU_SNACK_DATA_R2T = 0,
    PDU_SNACK_STATUS = 1,
    PDU_SNACK_DATA_ACK = 2,
    PDU_SNACK_RDATA = 3
};

/* Asynchronous events (RFC 7143 §11.9.1). */
enum {
    PDU_ASYNC_SCSI_EVENT = 0,
    PDU_ASYNC_LOGOUT_REQUEST = 1,
    PDU_ASYNC_DROP_CONNECTION = 2,
    PDU_ASYNC_DROP_ALL_CONNECTIONS = 3,
    PDU_ASYNC_NEGOTIATION_REQUEST = 4,
    PDU_ASYNC_TASK_TERMINATION = 5,
    PDU_ASYNC_VENDOR = 255
};

/* Reject reasons (RFC 7143 §11.17.1). */
enum {
    PDU_REJECT_DATA_DIGEST = 0x02,
    PDU_REJECT_SNACK = 0x03,
    PDU_REJECT_PROTOCOL_ERROR = 0x04,
    PDU_REJECT_CMD_NOT_SUPPORTED = 0x05,
    PDU_REJECT_IMMEDIATE_CMD = 0x06,
    PDU_REJECT_TASK_IN_PROGRESS = 0x07,
    PDU_REJECT_INVALID_DATA_ACK = 0x08,
    PDU_REJECT_INVALID_PDU_FIELD = 0x09,
    PDU_REJECT_OUT_OF_RESOURCES = 0x0a,
    PDU_REJECT_NEGOTIATION_RESET = 0x0b,
    PDU_REJECT_WAITING_FOR_LOGOUT = 0x0c
};

/* AHS types (RFC 7143 §11.2.2.1). */
enum { PDU_AHS_EXT_CDB = 1, PDU_AHS_BIDI_READ_LEN = 2 };

/* ------------------------------------------------------ per-opcode fields */

/* NOP-Out 0x00 (§11.18). */
typedef struct pdu_nop_out {
    uint32_t ttt; /* 0xffffffff for a ping, the NOP-In's TTT for a reply */
    uint32_t cmdsn;
    uint32_t exp_statsn;
} pdu_nop_out_t;

/* SCSI Command 0x01 (§11.3). The F bit is pdu_t.final. The first 16 CDB
 * bytes live here; longer CDBs continue in the extended-CDB AHS (see
 * pdu_cdb_set / pdu_cdb_get). */
typedef struct pdu_scsi_cmd {
    bool read;    /* R */
    bool write;   /* W */
    uint8_t attr; /* PDU_ATTR_*, 3 bits */
    uint32_t expected_data_transfer_length;
    uint32_t cmdsn;
    uint32_t exp_statsn;
    uint8_t cdb[PDU_CDB_BHS_LEN];
} pdu_scsi_cmd_t;

/* Task Management Function Request 0x02 (§11.5). */
typedef struct pdu_tmf_req {
    uint8_t function; /* PDU_TMF_*, 7 bits */
    uint32_t referenced_task_tag;
    uint32_t cmdsn;
    uint32_t exp_statsn;
    uint32_t ref_cmdsn;
    uint32_t exp_datasn;
} pdu_tmf_req_t;

/* Login Request 0x03 (§11.12). Login requests are always immediate (I=1):
 * the encoder sets the bit whatever pdu_t.immediate says. */
typedef struct pdu_login_req {
    bool transit; /* T */
    bool cont;    /* C (continue) */
    uint8_t csg;  /* PDU_STAGE_*, 2 bits */
    uint8_t nsg;  /* 2 bits */
    uint8_t version_max;
    uint8_t version_min;
    uint8_t isid[PDU_ISID_LEN];
    uint16_t tsih;
    uint16_t cid;
    uint32_t cmdsn;
    uint32_t exp_statsn;
} pdu_login_req_t;

/* Text Request 0x04 (§11.10). F is pdu_t.final. */
typedef struct pdu_text_req {
    bool cont; /* C */
    uint32_t ttt;
    uint32_t cmdsn;
    uint32_t exp_statsn;
} pdu_text_req_t;

/* SCSI Data-Out 0x05 (§11.7.1). F is pdu_t.final. */
typedef struct pdu_data_out {
    uint32_t ttt;
    uint32_t exp_statsn;
    uint32_t datasn;
    uint32_t buffer_offset;
} pdu_data_out_t;

/* Logout Request 0x06 (§11.14). */
typedef struct pdu_logout_req {
    uint8_t reason_code; /* PDU_LOGOUT_*, 7 bits */
    uint16_t cid;
    uint32_t cmdsn;
    uint32_t exp_statsn;
} pdu_logout_req_t;

/* SNACK Request 0x10 (§11.16). The LUN (DataACK) is pdu_t.lun. */
typedef struct pdu_snack {
    uint8_t type; /* PDU_SNACK_*, 4 bits */
    uint32_t ttt; /* TTT (DataACK) or SNACK Tag (R-Data), else 0xffffffff */
    uint32_t exp_statsn;
    uint32_t begrun;
    uint32_t runlength;
} pdu_snack_t;

/* NOP-In 0x20 (§11.19). */
typedef struct pdu_nop_in {
    uint32_t ttt;
    uint32_t statsn;
    uint32_t exp_cmdsn;
    uint32_t max_cmdsn;
} pdu_nop_in_t;

/* SCSI Response 0x21 (§11.4). */
typedef struct pdu_scsi_rsp {
    bool bidi_overflow;  /* o */
    bool bidi_underflow; /* u */
    bool overflow;       /* O */
    bool underflow;      /* U */
    uint8_t response;    /* iSCSI response: 0 completed, 1 target failure */
    uint8_t status;      /* SCSI status */
    uint32_t snack_tag;
    uint32_t statsn;
    uint32_t exp_cmdsn;
    uint32_t max_cmdsn;
    uint32_t exp_datasn;
    uint32_t bidi_read_residual_count;
    uint32_t residual_count;
} pdu_scsi_rsp_t;

/* Task Management Function Response 0x22 (§11.6). */
typedef struct pdu_tmf_rsp {
    uint8_t response; /* PDU_TMF_RSP_* */
    uint32_t statsn;
    uint32_t exp_cmdsn;
    uint32_t max_cmdsn;
} pdu_tmf_rsp_t;

/* Login Response 0x23 (§11.13). */
typedef struct pdu_login_rsp {
    bool transit; /* T */
    bool cont;    /* C */
    uint8_t csg;
    uint8_t nsg;
    uint8_t version_max;
    uint8_t version_active;
    uint8_t isid[PDU_ISID_LEN];
    uint16_t tsih;
    uint32_t statsn;
    uint32_t exp_cmdsn;
    uint32_t max_cmdsn;
    uint8_t status_class; /* PDU_LOGIN_CLASS_* */
    uint8_t status_detail;
} pdu_login_rsp_t;

/* Text Response 0x24 (§11.11). F is pdu_t.final. */
typedef struct pdu_text_rsp {
    bool cont; /* C */
    uint32_t ttt;
    uint32_t statsn;
    uint32_t exp_cmdsn;
    uint32_t max_cmdsn;
} pdu_text_rsp_t;

/* SCSI Data-In 0x25 (§11.7.1). F is pdu_t.final. statsn and status are
 * meaningful only when status_present (S) is set. */
typedef struct pdu_data_in {
    bool ack;            /* A */
    bool overflow;       /* O */
    bool underflow;      /* U */
    bool status_present; /* S */
    uint8_t status;
    uint32_t ttt;
    uint32_t statsn;
    uint32_t exp_cmdsn;
    uint32_t max_cmdsn;
    uint32_t datasn;
    uint32_t buffer_offset;
    uint32_t residual_count;
} pdu_data_in_t;

/* Logout Response 0x26 (§11.15). */
typedef struct pdu_logout_rsp {
    uint8_t response; /* PDU_LOGOUT_RSP_* */
    uint32_t statsn;
    uint32_t exp_cmdsn;
    uint32_t max_cmdsn;
    uint16_t time2wait;
    uint16_t time2retain;
} pdu_logout_rsp_t;

/* Ready To Transfer 0x31 (§11.8). */
typedef struct pdu_r2t {
    uint32_t ttt;
    uint32_t statsn; /* the next StatSN; not a received status (F2) */
    uint32_t exp_cmdsn;
    uint32_t max_cmdsn;
    uint32_t r2tsn;
    uint32_t buffer_offset;
    uint32_t desired_data_transfer_length;
} pdu_r2t_t;

/* Asynchronous Message 0x32 (§11.9). The ITT is 0xffffffff. */
typedef struct pdu_async {
    uint32_t statsn;
    uint32_t exp_cmdsn;
    uint32_t max_cmdsn;
    uint8_t async_event; /* PDU_ASYNC_* */
    uint8_t async_vcode;
    uint16_t parameter1;
    uint16_t parameter2;
    uint16_t parameter3;
} pdu_async_t;

/* Reject 0x3f (§11.17). The rejected BHS is the data segment. */
typedef struct pdu_reject {
    uint8_t reason; /* PDU_REJECT_* */
    uint32_t statsn;
    uint32_t exp_cmdsn;
    uint32_t max_cmdsn;
    uint32_t datasn; /* DataSN/R2TSN for a rejected SNACK, else 0 */
} pdu_reject_t;

/* ----------------------------------------------------------- decoded PDU */

/* The decoded form of one BHS. Plain value: copy freely, no ownership.
 *
 * - opcode: 6 bits (PDU_OP_*).
 * - immediate: the I bit (byte 0, 0x40), defined for NOP-Out, SCSI
 *   Command, TMF Request, Login Request, Text Request, Logout Request. The
 *   encoder ignores it for the other opcodes (reserved bit, written 0) and
 *   always sets it for Login Request; decode reports the wire bit for the
 *   six opcodes (true for Login Request whatever the wire says) and false
 *   for the others.
 * - final: bit 7 of byte 1. It is the F bit of SCSI Command, Data-Out,
 *   Data-In, Text Request/Response. For opcodes where that bit is always 1
 *   (NOP, TMF, Logout, SNACK, SCSI/TMF/Logout Response, R2T, Async, Reject)
 *   the encoder writes 1 whatever this says and decode sets true. For
 *   Login Request/Response bit 7 is T: decode sets final = transit, and
 *   the encoder uses login_req/login_rsp.transit.
 *   These normalizations make decode -> encode -> decode exactly stable.
 * - total_ahs_length: TotalAHSLength in 4-byte WORDS, as on the wire
 *   (§11.2.1.4); the AHS is 4 * total_ahs_length bytes.
 * - data_segment_length: 24 bits; the encoder rejects larger values.
 * - lun: bytes 8-15 as a big-endian uint64 for opcodes that carry a LUN
 *   (NOP-Out/In, SCSI Command, TMF Request, Text Request/Response,
 *   Data-Out/In, SNACK, R2T, Async). 0 after decode for the others, and
 *   ignored by the encoder for them (Login carries ISID + TSIH there).
 * - itt: Initiator Task Tag (bytes 16-19).
 * - u: the per-opcode fields; only the member for opcode is meaningful. */
typedef struct pdu {
    uint8_t opcode;
    bool immediate;
    bool final;
    uint8_t total_ahs_length;
    uint32_t data_segment_length;
    uint64_t lun;
    uint32_t itt;
    union {
        pdu_nop_out_t nop_out;
        pdu_scsi_cmd_t scsi_cmd;
        pdu_tmf_req_t tmf_req;
        pdu_login_req_t login_req;
        pdu_text_req_t text_req;
        pdu_data_out_t data_out;
        pdu_logout_req_t logout_req;
        pdu_snack_t snack;
        pdu_nop_in_t nop_in;
        pdu_scsi_rsp_t scsi_rsp;
        pdu_tmf_rsp_t tmf_rsp;
        pdu_login_rsp_t login_rsp;
        pdu_text_rsp_t text_rsp;
        pdu_data_in_t data_in;
        pdu_logout_rsp_t logout_rsp;
        pdu_r2t_t r2t;
        pdu_async_t async;
        pdu_reject_t reject;
    } u;
} pdu_t;

/* The two AHS types of RFC 7143 §11.2.2, decoded. Plain value.
 * - ext_cdb_len: number of CDB bytes beyond the first 16 (0 = no
 *   extended-CDB AHS), at most PDU_EXT_CDB_MAX.
 * - has_bidi_read_len / bidi_read_len: the Bidirectional Expected Read-Data
 *   Length AHS. */
typedef struct pdu_ahs {
    uint16_t ext_cdb_len;
    uint8_t ext_cdb[PDU_EXT_CDB_MAX];
    bool has_bidi_read_len;
    uint32_t bidi_read_len;
} pdu_ahs_t;

/* Digest settings of one connection (negotiated at login, §13.1).
 * big_endian selects the digest byte order on the wire: false is the RFC's
 * order (little-endian, see crc32c.h), true for quirky targets. */
typedef struct pdu_digest_cfg {
    bool header; /* HeaderDigest=CRC32C */
    bool data;   /* DataDigest=CRC32C */
    bool big_endian;
} pdu_digest_cfg_t;

/* One piece of a data segment (like struct iovec, kept here so proto/ needs
 * no system headers). The pointer is borrowed. */
typedef struct pdu_iov {
    const void *base;
    size_t len;
} pdu_iov_t;

/* ------------------------------------------------------------- functions */

/* Zeroes *pdu and sets opcode, with final = true (the usual value) and
 * immediate = true for Login Request; every other field 0. Callers then
 * set the fields they need (TTT/ITT 0xffffffff where the RFC wants it). */
void pdu_init (pdu_t *pdu, uint8_t opcode);

/* Name of an opcode for tracing and events ("scsi_cmd", "data_in", ...);
 * "unknown" for an opcode RFC 7143 does not define. Never NULL; static. */
const char *pdu_opcode_name (uint8_t opcode);

/* true when opcode is one of the 18 opcodes of RFC 7143. */
bool pdu_opcode_known (uint8_t opcode);

/* true for target -> initiator opcodes (0x20-0x3f). */
bool pdu_opcode_is_target (uint8_t opcode);

/* Number of zero pad bytes (0-3) after a data segment of len bytes. */
size_t pdu_pad_len (size_t len);

/* Encodes pdu into the 48-byte BHS bhs (every byte written; reserved fields
 * 0). Writes pdu->total_ahs_length as is. Returns 0, UIS_ERR_INVALID_ARG
 * for NULL arguments, UIS_ERR_PDU_OPCODE for
 * an unknown opcode, UIS_ERR_OUT_OF_RANGE when data_segment_length exceeds
 * 24 bits or a small field (attr, csg, nsg, function, reason, type)
 * exceeds its width. bhs is untouched on error. */
int pdu_bhs_encode (const pdu_t *pdu, uint8_t bhs[PDU_BHS_LEN]);

/* Decodes exactly 48 bytes at bhs into *pdu (fully overwritten, unused
 * union bytes zero). Reads nothing beyond bhs[47]. Returns 0 or
 * UIS_ERR_PDU_OPCODE for an opcode RFC 7143 does not define. Reserved
 * fields are ignored. Either direction's opcodes are accepted; the caller
 * decides which ones it expects. */
int pdu_bhs_decode (const uint8_t bhs[PDU_BHS_LEN], pdu_t *pdu);

/* Parses len bytes of AHS at buf (the 4*TotalAHSLength bytes after the
 * BHS) into *ahs (fully overwritten). Returns 0; UIS_ERR_PDU_AHS when an
 * AHS header or its padded length runs past len, an AHS type appears twice,
 * an AHSLength is inconsistent with its type (bidi length != 5, ext CDB
 * length 0 or > PDU_EXT_CDB_MAX + 1), or len is not a multiple of 4.
 * Unknown AHS types (0 and 3-63 are reserved, and the top 2 bits of
 * AHSType are reserved, §11.2.2.1) are UIS_ERR_PDU_AHS too. len 0 gives an empty ahs.
 * Never reads past len. */
int pdu_ahs_parse (const uint8_t *buf, size_t len, pdu_ahs_t *ahs);

/* Number of bytes pdu_ahs_encode writes for ahs (0..PDU_AHS_MAX, always a
 * multiple of 4); ahs may be NULL (0). */
size_t pdu_ahs_len (const pdu_ahs_t *ahs);

/* Encodes ahs (extended CDB first, then bidi read length) into out, padding
 * each AHS to 4 bytes with zeros. Sets *out_len. Returns 0,
 * UIS_ERR_OUT_OF_RANGE when ext_cdb_len > PDU_EXT_CDB_MAX, or
 * UIS_ERR_BUFFER_TOO_SMALL. ahs may be NULL (writes nothing). */
int pdu_ahs_encode (const pdu_ahs_t *ahs, uint8_t *out, size_t cap, size_t *out_len);

/* Splits a CDB of len bytes (1..PDU_CDB_MAX) between pdu->u.scsi_cmd.cdb
 * (first 16 bytes, zero-filled when shorter) and ahs->ext_cdb (the rest,
 * conformance R4: a CDB of 17..260 bytes needs the extended-CDB AHS).
 * ahs->ext_cdb_len is set (0 for len <= 16); the bidi fields of ahs are not
 * touched. Returns 0 or UIS_ERR_SCSI_CDB when len is 0 or > PDU_CDB_MAX,
 * or when len > 16 and ahs is NULL. */
int pdu_cdb_set (pdu_t *pdu, pdu_ahs_t *ahs, const uint8_t *cdb, size_t len);

/* Reassembles the CDB of a SCSI Command (16 BHS bytes + extended bytes of
 * ahs, which may be NULL) into out (cap bytes); sets *len. Returns 0 or
 * UIS_ERR_BUFFER_TOO_SMALL. */
int pdu_cdb_get (const pdu_t *pdu, const pdu_ahs_t *ahs, uint8_t *out, size_t cap,
                 size_t *len);

/* Builds the whole header for sending: BHS + AHS (from ahs, may be NULL) +
 * header digest over BHS+AHS when dig->header (§13.1, A4). The
 * TotalAHSLength written is computed from ahs (pdu->total_ahs_length is
 * ignored); data_segment_length comes from pdu. out must hold cap bytes
 * (PDU_HEADER_MAX always suffices). dig may be NULL (no digests). Sets
 * *out_len. Returns 0 or a code of pdu_bhs_encode / pdu_ahs_encode /
 * UIS_ERR_BUFFER_TOO_SMALL. */
int pdu_header_build (const pdu_t *pdu, const pdu_ahs_t *ahs, const pdu_digest_cfg_t *dig,
                      uint8_t *out, size_t cap, size_t *out_len);

/* Builds what follows a data segment given as n pieces (total length =
 * sum of pieces; must equal the PDU's data_segment_length, which the caller
 * ensures): 0-3 zero pad bytes, then, when dig->data and the total length
 * is > 0, the data digest over data + padding (§13.1, A2, A3). Writes
 * into trailer (PDU_TRAILER_MAX bytes) and sets *trailer_len (0 when the
 * segment is empty). The pieces are only read. dig may be NULL. Returns 0
 * or UIS_ERR_OUT_OF_RANGE when the total exceeds PDU_DSL_MAX. */
int pdu_data_trailer (const pdu_iov_t *pieces, size_t n, const pdu_digest_cfg_t *dig,
                      uint8_t trailer[PDU_TRAILER_MAX], size_t *trailer_len);

/* Encodes a whole PDU into one buffer (for tests and the fake target):
 * header as pdu_header_build, with data_segment_length set to data_len,
 * then data, pad and data digest. data may be NULL when data_len is 0.
 * Sets *out_len. Returns 0 or an error as above. */
int pdu_encode (const pdu_t *pdu, const pdu_ahs_t *ahs, const void *data, size_t data_len,
                const pdu_digest_cfg_t *dig, uint8_t *out, size_t cap, size_t *out_len);

#endif
