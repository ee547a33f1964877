/* pdu.c: iSCSI PDU codec (RFC 7143 §11). See pdu.h for the contract.
 *
 * Byte layouts (offsets into the 48-byte BHS) follow the figures of RFC 7143
 * §11.3-§11.19; each per-opcode encoder/decoder pair below names its
 * section. Decode normalizes bits that carry no information (the always-1
 * "F" bit of NOP/TMF/Logout/SNACK/responses, reserved I bits, reserved
 * fields), so decode -> encode -> decode is exactly stable. */
#include "proto/pdu.h"

#include <string.h>

#include "proto/crc32c.h"
#include "proto/bytes.h"
#include "proto/errors.h"

/* ------------------------------------------------------ opcode table */

/* Name of an opcode, or NULL when RFC 7143 does not define it. */
static const char *
s_name (uint8_t opcode)
{
    switch (opcode) {
    case PDU_OP_NOP_OUT:
        return "nop_out";
    case PDU_OP_SCSI_CMD:
        return "scsi_cmd";
    case PDU_OP_TMF_REQ:
        return "tmf_req";
    case PDU_OP_LOGIN_REQ:
        return "login_req";
    case PDU_OP_TEXT_REQ:
        return "text_req";
    case PDU_OP_DATA_OUT:
        return "data_out";
    case PDU_OP_LOGOUT_REQ:
        return "logout_req";
    case PDU_OP_SNACK:
        return "snack";
    case PDU_OP_NOP_IN:
        return "nop_in";
    case PDU_OP_SCSI_RSP:
        return "scsi_rsp";
    case PDU_OP_TMF_RSP:
        return "tmf_rsp";
    case PDU_OP_LOGIN_RSP:
        return "login_rsp";
    case PDU_OP_TEXT_RSP:
        return "text_rsp";
    case PDU_OP_DATA_IN:
        return "data_in";
    case PDU_OP_LOGOUT_RSP:
        return "logout_rsp";
    case PDU_OP_R2T:
        return "r2t";
    case PDU_OP_ASYNC:
        return "async";
    case PDU_OP_REJECT:
        return "reject";
    default:
        return NULL;
    }
}

/* Zeroes a PDU and sets its opcode (see pdu.h). */
void
pdu_init (pdu_t *pdu, uint8_t opcode)
{
    if (!pdu)
        return;
    memset (pdu, 0, sizeof *pdu);
    pdu->opcode = opcode;
    pdu->final = true;
    pdu->immediate = opcode == PDU_OP_LOGIN_REQ;
}

/* Name of an opcode for traces; static string, never NULL. */
const char *
pdu_opcode_name (uint8_t opcode)
{
    const char *n = s_name (opcode);
    return n ? n : "unknown";
}

/* true for the 18 opcodes of RFC 7143. */
bool
pdu_opcode_known (uint8_t opcode)
{
    return s_name (opcode) != NULL;
}

/* true for target opcodes (RFC 7143 §11.2.1.2: 0x20-0x3f). */
bool
pdu_opcode_is_target (uint8_t opcode)
{
    return (opcode & 0x3f) >= 0x20;
}

/* true when bytes 8-15 of the opcode's BHS are a LUN. */
static bool
s_has_lun (uint8_t opcode)
{
    switch (opcode) {
    case PDU_OP_NOP_OUT:
    case PDU_OP_SCSI_CMD:
    case PDU_OP_TMF_REQ:
    case PDU_OP_TEXT_REQ:
    case PDU_OP_DATA_OUT:
    case PDU_OP_SNACK:
    case PDU_OP_NOP_IN:
    case PDU_OP_TEXT_RSP:
    case PDU_OP_DATA_IN:
    case PDU_OP_R2T:
    case PDU_OP_ASYNC:
        return true;
    default:
        return false;
    }
}

/* true when the I bit (byte 0, 0x40) is defined for the opcode: the
 * initiator request opcodes except Data-Out and SNACK (§11.2.1.1). */
static bool
s_has_immediate (uint8_t opcode)
{
    switch (opcode) {
    case PDU_OP_NOP_OUT:
    case PDU_OP_SCSI_CMD:
    case PDU_OP_TMF_REQ:
    case PDU_OP_LOGIN_REQ:
    case PDU_OP_TEXT_REQ:
    case PDU_OP_LOGOUT_REQ:
        return true;
    default:
        return false;
    }
}

/* true when bit 7 of byte 1 is a real F bit (else it is always 1, or T). */
static bool
s_has_final (uint8_t opcode)
{
    switch (opcode) {
    case PDU_OP_SCSI_CMD:
    case PDU_OP_TEXT_REQ:
    case PDU_OP_DATA_OUT:
    case PDU_OP_TEXT_RSP:
    case PDU_OP_DATA_IN:
        return true;
    default:
        return false;
    }
}

/* Number of zero pad bytes after a data segment of len bytes (§11.1). */
size_t
pdu_pad_len (size_t len)
{
    return (4 - (len & 3)) & 3;
}

/* ------------------------------------------------------------ encode */

/* Writes the per-opcode bytes of pdu into b (already zeroed, byte 0 and
 * the common fields written). Returns 0 or UIS_ERR_OUT_OF_RANGE. */
static int
s_encode_body (const pdu_t *pdu, uint8_t *b)
{
    switch (pdu->opcode) {
    case PDU_OP_NOP_OUT: { /* §11.18 */
        const pdu_nop_out_t *x = &pdu->u.nop_out;
        b[1] = 0x80;
        be_put32 (b + 20, x->ttt);
        be_put32 (b + 24, x->cmdsn);
        be_put32 (b + 28, x->exp_statsn);
        break;
    }
    case PDU_OP_SCSI_CMD: { /* §11.3 */
        const pdu_scsi_cmd_t *x = &pdu->u.scsi_cmd;
        if (x->attr > 7)
            return UIS_ERR_OUT_OF_RANGE;
        b[1] = (uint8_t)((pdu->final ? 0x80 : 0) | (x->read ? 0x40 : 0)
                         | (x->write ? 0x20 : 0) | x->attr);
        be_put32 (b + 20, x->expected_data_transfer_length);
        be_put32 (b + 24, x->cmdsn);
        be_put32 (b + 28, x->exp_statsn);
        memcpy (b + 32, x->cdb, PDU_CDB_BHS_LEN);
        break;
    }
    case PDU_OP_TMF_REQ: { /* §11.5 */
        const pdu_tmf_req_t *x = &pdu->u.tmf_req;
        if (x->function > 0x7f)
            return UIS_ERR_OUT_OF_RANGE;
        b[1] = (uint8_t)(0x80 | x->function);
        be_put32 (b + 20, x->referenced_task_tag);
        be_put32 (b + 24, x->cmdsn);
        be_put32 (b + 28, x->exp_statsn);
        be_put32 (b + 32, x->ref_cmdsn);
        be_put32 (b + 36, x->exp_datasn);
        break;
    }
    case PDU_OP_LOGIN_REQ: { /* §11.12 */
        const pdu_login_req_t *x = &pdu->u.login_req;
        if (x->csg > 3 || x->nsg > 3)
            return UIS_ERR_OUT_OF_RANGE;
        b[0] |= 0x40; /* always immediate (§11.12) */
        b[1] = (uint8_t)((x->transit ? 0x80 : 0) | (x->cont ? 0x40 : 0) | (x->csg << 2)
                         | x->nsg);
        b[2] = x->version_max;
        b[3] = x->version_min;
        memcpy (b + 8, x->isid, PDU_ISID_LEN);
        be_put16 (b + 14, x->tsih);
        be_put16 (b + 20, x->cid);
        be_put32 (b + 24, x->cmdsn);
        be_put32 (b + 28, x->exp_statsn);
        break;
    }
    case PDU_OP_TEXT_REQ: { /* §11.10 */
        const pdu_text_req_t *x = &pdu->u.text_req;
        b[1] = (uint8_t)((pdu->final ? 0x80 : 0) | (x->cont ? 0x40 : 0));
        be_put32 (b + 20, x->ttt);
        be_put32 (b + 24, x->cmdsn);
        be_put32 (b + 28, x->exp_statsn);
        break;
    }
    case PDU_OP_DATA_OUT: { /* §11.7 */
        const pdu_data_out_t *x = &pdu->u.data_out;
        b[1] = pdu->final ? 0x80 : 0;
        be_put32 (b + 20, x->ttt);
        be_put32 (b + 28, x->exp_statsn);
        be_put32 (b + 36, x->datasn);
        be_put32 (b + 40, x->buffer_offset);
        break;
    }
    case PDU_OP_LOGOUT_REQ: { /* §11.14 */
        const pdu_logout_req_t *x = &pdu->u.logout_req;
        if (x->reason_code > 0x7f)
            return UIS_ERR_OUT_OF_RANGE;
        b[1] = (uint8_t)(0x80 | x->reason_code);
        be_put16 (b + 20, x->cid);
        be_put32 (b + 24, x->cmdsn);
        be_put32 (b + 28, x->exp_statsn);
        break;
    }
    case PDU_OP_SNACK: { /* §11.16 */
        const pdu_snack_t *x = &pdu->u.snack;
        if (x->type > 0x0f)
            return UIS_ERR_OUT_OF_RANGE;
        b[1] = (uint8_t)(0x80 | x->type);
        be_put32 (b + 20, x->ttt);
        be_put32 (b + 28, x->exp_statsn);
        be_put32 (b + 40, x->begrun);
        be_put32 (b + 44, x->runlength);
        break;
    }
    case PDU_OP_NOP_IN: { /* §11.19 */
        const pdu_nop_in_t *x = &pdu->u.nop_in;
        b[1] = 0x80;
        be_put32 (b + 20, x->ttt);
        be_put32 (b + 24, x->statsn);
        be_put32 (b + 28, x->exp_cmdsn);
        be_put32 (b + 32, x->max_cmdsn);
        break;
    }
    case PDU_OP_SCSI_RSP: { /* §11.4 */
        const pdu_scsi_rsp_t *x = &pdu->u.scsi_rsp;
        b[1] = (uint8_t)(0x80 | (x->bidi_overflow ? 0x10 : 0)
                         | (x->bidi_underflow ? 0x08 : 0) | (x->overflow ? 0x04 : 0)
                         | (x->underflow ? 0x02 : 0));
        b[2] = x->response;
        b[3] = x->status;
        be_put32 (b + 20, x->snack_tag);
        be_put32 (b + 24, x->statsn);
        be_put32 (b + 28, x->exp_cmdsn);
        be_put32 (b + 32, x->max_cmdsn);
        be_put32 (b + 36, x->exp_datasn);
        be_put32 (b + 40, x->bidi_read_residual_count);
        be_put32 (b + 44, x->residual_count);
        break;
    }
    case PDU_OP_TMF_RSP: { /* §11.6 */
        const pdu_tmf_rsp_t *x = &pdu->u.tmf_rsp;
        b[1] = 0x80;
        b[2] = x->response;
        be_put32 (b + 24, x->statsn);
        be_put32 (b + 28, x->exp_cmdsn);
        be_put32 (b + 32, x->max_cmdsn);
        break;
    }
    case PDU_OP_LOGIN_RSP: { /* §11.13 */
        const pdu_login_rsp_t *x = &pdu->u.login_rsp;
        if (x->csg > 3 || x->nsg > 3)
            return UIS_ERR_OUT_OF_RANGE;
        b[1] = (uint8_t)((x->transit ? 0x80 : 0) | (x->cont ? 0x40 : 0) | (x->csg << 2)
                         | x->nsg);
        b[2] = x->version_max;
        b[3] = x->version_active;
        memcpy (b + 8, x->isid, PDU_ISID_LEN);
        be_put16 (b + 14, x->tsih);
        be_put32 (b + 24, x->statsn);
        be_put32 (b + 28, x->exp_cmdsn);
        be_put32 (b + 32, x->max_cmdsn);
        b[36] = x->status_class;
        b[37] = x->status_detail;
        break;
    }
    case PDU_OP_TEXT_RSP: { /* §11.11 */
        const pdu_text_rsp_t *x = &pdu->u.text_rsp;
        b[1] = (uint8_t)((pdu->final ? 0x80 : 0) | (x->cont ? 0x40 : 0));
        be_put32 (b + 20, x->ttt);
        be_put32 (b + 24, x->statsn);
        be_put32 (b + 28, x->exp_cmdsn);
        be_put32 (b + 32, x->max_cmdsn);
        break;
    }
    case PDU_OP_DATA_IN: { /* §11.7 */
        const pdu_data_in_t *x = &pdu->u.data_in;
        b[1] = (uint8_t)((pdu->final ? 0x80 : 0) | (x->ack ? 0x40 : 0)
                         | (x->overflow ? 0x04 : 0) | (x->underflow ? 0x02 : 0)
                         | (x->status_present ? 0x01 : 0));
        b[3] = x->status;
        be_put32 (b + 20, x->ttt);
        be_put32 (b + 24, x->statsn);
        be_put32 (b + 28, x->exp_cmdsn);
        be_put32 (b + 32, x->max_cmdsn);
        be_put32 (b + 36, x->datasn);
        be_put32 (b + 40, x->buffer_offset);
        be_put32 (b + 44, x->residual_count);
        break;
    }
    case PDU_OP_LOGOUT_RSP: { /* §11.15 */
        const pdu_logout_rsp_t *x = &pdu->u.logout_rsp;
        b[1] = 0x80;
        b[2] = x->response;
        be_put32 (b + 24, x->statsn);
        be_put32 (b + 28, x->exp_cmdsn);
        be_put32 (b + 32, x->max_cmdsn);
        be_put16 (b + 40, x->time2wait);
        be_put16 (b + 42, x->time2retain);
        break;
    }
    case PDU_OP_R2T: { /* §11.8 */
        const pdu_r2t_t *x = &pdu->u.r2t;
        b[1] = 0x80;
        be_put32 (b + 20, x->ttt);
        be_put32 (b + 24, x->statsn);
        be_put32 (b + 28, x->exp_cmdsn);
        be_put32 (b + 32, x->max_cmdsn);
        be_put32 (b + 36, x->r2tsn);
        be_put32 (b + 40, x->buffer_offset);
        be_put32 (b + 44, x->desired_data_transfer_length);
        break;
    }
    case PDU_OP_ASYNC: { /* §11.9 */
        const pdu_async_t *x = &pdu->u.async;
        b[1] = 0x80;
        be_put32 (b + 24, x->statsn);
        be_put32 (b + 28, x->exp_cmdsn);
        be_put32 (b + 32, x->max_cmdsn);
        b[36] = x->async_event;
        b[37] = x->async_vcode;
        be_put16 (b + 38, x->parameter1);
        be_put16 (b + 40, x->parameter2);
        be_put16 (b + 42, x->parameter3);
        break;
    }
    case PDU_OP_REJECT: { /* §11.17 */
        const pdu_reject_t *x = &pdu->u.reject;
        b[1] = 0x80;
        b[2] = x->reason;
        be_put32 (b + 24, x->statsn);
        be_put32 (b + 28, x->exp_cmdsn);
        be_put32 (b + 32, x->max_cmdsn);
        be_put32 (b + 36, x->datasn);
        break;
    }
    default:
        return UIS_ERR_PDU_OPCODE;
    }
    return 0;
}

/* Encodes pdu into the 48 bytes at bhs; bhs is untouched on error. */
int
pdu_bhs_encode (const pdu_t *pdu, uint8_t bhs[PDU_BHS_LEN])
{
    if (!pdu || !bhs)
        return UIS_ERR_INVALID_ARG;
    if (!pdu_opcode_known (pdu->opcode))
        return UIS_ERR_PDU_OPCODE;
    if (pdu->data_segment_length > PDU_DSL_MAX)
        return UIS_ERR_OUT_OF_RANGE;
    uint8_t b[PDU_BHS_LEN];
    memset (b, 0, sizeof b);
    b[0] = pdu->opcode;
    if (pdu->immediate && s_has_immediate (pdu->opcode))
        b[0] |= 0x40;
    b[4] = pdu->total_ahs_length;
    be_put24 (b + 5, pdu->data_segment_length);
    if (s_has_lun (pdu->opcode))
        be_put64 (b + 8, pdu->lun);
    be_put32 (b + 16, pdu->itt);
    int rc = s_encode_body (pdu, b);
    if (rc)
        return rc;
    memcpy (bhs, b, PDU_BHS_LEN);
    return 0;
}

/* ------------------------------------------------------------ decode */

/* Fills the per-opcode fields of pdu from b (48 bytes). */
static void
s_decode_body (const uint8_t *b, pdu_t *pdu)
{
    uint8_t f = b[1];
    switch (pdu->opcode) {
    case PDU_OP_NOP_OUT: {
        pdu_nop_out_t *x = &pdu->u.nop_out;
        x->ttt = be_get32 (b + 20);
        x->cmdsn = be_get32 (b + 24);
        x->exp_statsn = be_get32 (b + 28);
        break;
    }
    case PDU_OP_SCSI_CMD: {
        pdu_scsi_cmd_t *x = &pdu->u.scsi_cmd;
        x->read = (f & 0x40) != 0;
        x->write = (f & 0x20) != 0;
        x->attr = f & 0x07;
        x->expected_data_transfer_length = be_get32 (b + 20);
        x->cmdsn = be_get32 (b + 24);
        x->exp_statsn = be_get32 (b + 28);
        memcpy (x->cdb, b + 32, PDU_CDB_BHS_LEN);
        break;
    }
    case PDU_OP_TMF_REQ: {
        pdu_tmf_req_t *x = &pdu->u.tmf_req;
        x->function = f & 0x7f;
        x->referenced_task_tag = be_get32 (b + 20);
        x->cmdsn = be_get32 (b + 24);
        x->exp_statsn = be_get32 (b + 28);
        x->ref_cmdsn = be_get32 (b + 32);
        x->exp_datasn = be_get32 (b + 36);
        break;
    }
    case PDU_OP_LOGIN_REQ: {
        pdu_login_req_t *x = &pdu->u.login_req;
        x->transit = (f & 0x80) != 0;
        x->cont = (f & 0x40) != 0;
        x->csg = (f >> 2) & 3;
        x->nsg = f & 3;
        x->version_max = b[2];
        x->version_min = b[3];
        memcpy (x->isid, b + 8, PDU_ISID_LEN);
        x->tsih = be_get16 (b + 14);
        x->cid = be_get16 (b + 20);
        x->cmdsn = be_get32 (b + 24);
        x->exp_statsn = be_get32 (b + 28);
        break;
    }
    case PDU_OP_TEXT_REQ: {
        pdu_text_req_t *x = &pdu->u.text_req;
        x->cont = (f & 0x40) != 0;
        x->ttt = be_get32 (b + 20);
        x->cmdsn = be_get32 (b + 24);
        x->exp_statsn = be_get32 (b + 28);
        break;
    }
    case PDU_OP_DATA_OUT: {
        pdu_data_out_t *x = &pdu->u.data_out;
        x->ttt = be_get32 (b + 20);
        x->exp_statsn = be_get32 (b + 28);
        x->datasn = be_get32 (b + 36);
        x->buffer_offset = be_get32 (b + 40);
        break;
    }
    case PDU_OP_LOGOUT_REQ: {
        pdu_logout_req_t *x = &pdu->u.logout_req;
        x->reason_code = f & 0x7f;
        x->cid = be_get16 (b + 20);
        x->cmdsn = be_get32 (b + 24);
        x->exp_statsn = be_get32 (b + 28);
        break;
    }
    case PDU_OP_SNACK: {
        pdu_snack_t *x = &pdu->u.snack;
        x->type = f & 0x0f;
        x->ttt = be_get32 (b + 20);
        x->exp_statsn = be_get32 (b + 28);
        x->begrun = be_get32 (b + 40);
        x->runlength = be_get32 (b + 44);
        break;
    }
    case PDU_OP_NOP_IN: {
        pdu_nop_in_t *x = &pdu->u.nop_in;
        x->ttt = be_get32 (b + 20);
        x->statsn = be_get32 (b + 24);
        x->exp_cmdsn = be_get32 (b + 28);
        x->max_cmdsn = be_get32 (b + 32);
        break;
    }
    case PDU_OP_SCSI_RSP: {
        pdu_scsi_rsp_t *x = &pdu->u.scsi_rsp;
        x->bidi_overflow = (f & 0x10) != 0;
        x->bidi_underflow = (f & 0x08) != 0;
        x->overflow = (f & 0x04) != 0;
        x->underflow = (f & 0x02) != 0;
        x->response = b[2];
        x->status = b[3];
        x->snack_tag = be_get32 (b + 20);
        x->statsn = be_get32 (b + 24);
        x->exp_cmdsn = be_get32 (b + 28);
        x->max_cmdsn = be_get32 (b + 32);
        x->exp_datasn = be_get32 (b + 36);
        x->bidi_read_residual_count = be_get32 (b + 40);
        x->residual_count = be_get32 (b + 44);
        break;
    }
    case PDU_OP_TMF_RSP: {
        pdu_tmf_rsp_t *x = &pdu->u.tmf_rsp;
        x->response = b[2];
        x->statsn = be_get32 (b + 24);
        x->exp_cmdsn = be_get32 (b + 28);
        x->max_cmdsn = be_get32 (b + 32);
        break;
    }
    case PDU_OP_LOGIN_RSP: {
        pdu_login_rsp_t *x = &pdu->u.login_rsp;
        x->transit = (f & 0x80) != 0;
        x->cont = (f & 0x40) != 0;
        x->csg = (f >> 2) & 3;
        x->nsg = f & 3;
        x->version_max = b[2];
        x->version_active = b[3];
        memcpy (x->isid, b + 8, PDU_ISID_LEN);
        x->tsih = be_get16 (b + 14);
        x->statsn = be_get32 (b + 24);
        x->exp_cmdsn = be_get32 (b + 28);
        x->max_cmdsn = be_get32 (b + 32);
        x->status_class = b[36];
        x->status_detail = b[37];
        break;
    }
    case PDU_OP_TEXT_RSP: {
        pdu_text_rsp_t *x = &pdu->u.text_rsp;
        x->cont = (f & 0x40) != 0;
        x->ttt = be_get32 (b + 20);
        x->statsn = be_get32 (b + 24);
        x->exp_cmdsn = be_get32 (b + 28);
        x->max_cmdsn = be_get32 (b + 32);
        break;
    }
    case PDU_OP_DATA_IN: {
        pdu_data_in_t *x = &pdu->u.data_in;
        x->ack = (f & 0x40) != 0;
        x->overflow = (f & 0x04) != 0;
        x->underflow = (f & 0x02) != 0;
        x->status_present = (f & 0x01) != 0;
        x->status = b[3];
        x->ttt = be_get32 (b + 20);
        x->statsn = be_get32 (b + 24);
        x->exp_cmdsn = be_get32 (b + 28);
        x->max_cmdsn = be_get32 (b + 32);
        x->datasn = be_get32 (b + 36);
        x->buffer_offset = be_get32 (b + 40);
        x->residual_count = be_get32 (b + 44);
        break;
    }
    case PDU_OP_LOGOUT_RSP: {
        pdu_logout_rsp_t *x = &pdu->u.logout_rsp;
        x->response = b[2];
        x->statsn = be_get32 (b + 24);
        x->exp_cmdsn = be_get32 (b + 28);
        x->max_cmdsn = be_get32 (b + 32);
        x->time2wait = be_get16 (b + 40);
        x->time2retain = be_get16 (b + 42);
        break;
    }
    case PDU_OP_R2T: {
        pdu_r2t_t *x = &pdu->u.r2t;
        x->ttt = be_get32 (b + 20);
        x->statsn = be_get32 (b + 24);
        x->exp_cmdsn = be_get32 (b + 28);
        x->max_cmdsn = be_get32 (b + 32);
        x->r2tsn = be_get32 (b + 36);
        x->buffer_offset = be_get32 (b + 40);
        x->desired_data_transfer_length = be_get32 (b + 44);
        break;
    }
    case PDU_OP_ASYNC: {
        pdu_async_t *x = &pdu->u.async;
        x->statsn = be_get32 (b + 24);
        x->exp_cmdsn = be_get32 (b + 28);
        x->max_cmdsn = be_get32 (b + 32);
        x->async_event = b[36];
        x->async_vcode = b[37];
        x->parameter1 = be_get16 (b + 38);
        x->parameter2 = be_get16 (b + 40);
        x->parameter3 = be_get16 (b + 42);
        break;
    }
    case PDU_OP_REJECT: {
        pdu_reject_t *x = &pdu->u.reject;
        x->reason = b[2];
        x->statsn = be_get32 (b + 24);
        x->exp_cmdsn = be_get32 (b + 28);
        x->max_cmdsn = be_get32 (b + 32);
        x->datasn = be_get32 (b + 36);
        break;
    }
    default:
        break;
    }
}

/* Decodes the 48 bytes at bhs into *pdu (fully overwritten). */
int
pdu_bhs_decode (const uint8_t bhs[PDU_BHS_LEN], pdu_t *pdu)
{
    if (!bhs || !pdu)
        return UIS_ERR_INVALID_ARG;
    uint8_t opcode = bhs[0] & 0x3f;
    if (!pdu_opcode_known (opcode))
        return UIS_ERR_PDU_OPCODE;
    memset (pdu, 0, sizeof *pdu);
    pdu->opcode = opcode;
    if (opcode == PDU_OP_LOGIN_REQ)
        pdu->immediate = true; /* always immediate, §11.12 */
    else if (s_has_immediate (opcode))
        pdu->immediate = (bhs[0] & 0x40) != 0;
    if (s_has_final (opcode))
        pdu->final = (bhs[1] & 0x80) != 0;
    else if (opcode == PDU_OP_LOGIN_REQ || opcode == PDU_OP_LOGIN_RSP)
        pdu->final = (bhs[1] & 0x80) != 0; /* T */
    else
        pdu->final = true; /* always 1 for the other opcodes */
    pdu->total_ahs_length = bhs[4];
    pdu->data_segment_length = be_get24 (bhs + 5);
    if (s_has_lun (opcode))
        pdu->lun = be_get64 (bhs + 8);
    pdu->itt = be_get32 (bhs + 16);
    s_decode_body (bhs, pdu);
    return 0;
}

/* --------------------------------------------------------------- AHS */

/* Bytes one AHS occupies on the wire given its AHSLength: 3 header bytes
 * (AHSLength, AHSType) + AHSLength, padded to 4 (§11.2.2). */
static size_t
s_ahs_wire_len (size_t ahs_length)
{
    size_t n = 3 + ahs_length;
    return n + pdu_pad_len (n);
}

/* Parses len AHS bytes at buf into *ahs; never reads past len. */
int
pdu_ahs_parse (const uint8_t *buf, size_t len, pdu_ahs_t *ahs)
{
    if (!ahs || (!buf && len))
        return UIS_ERR_INVALID_ARG;
    memset (ahs, 0, sizeof *ahs);
    if (len % 4 != 0 || len > PDU_AHS_MAX)
        return UIS_ERR_PDU_AHS;
    size_t pos = 0;
    while (pos < len) {
        /* len - pos >= 4 here because both are multiples of 4. */
        size_t ahs_length = be_get16 (buf + pos);
        uint8_t type = buf[pos + 2];
        size_t wire = s_ahs_wire_len (ahs_length);
        if (wire > len - pos)
            return UIS_ERR_PDU_AHS;
        const uint8_t *body = buf + pos + 4; /* after the reserved byte */
        if (type == PDU_AHS_EXT_CDB) {
            /* AHSLength = CDB length - 15: reserved byte + extra CDB bytes
             * (§11.2.2.3). */
            if (ahs->ext_cdb_len || ahs_length < 2 || ahs_length > PDU_EXT_CDB_MAX + 1)
                return UIS_ERR_PDU_AHS;
            ahs->ext_cdb_len = (uint16_t)(ahs_length - 1);
            memcpy (ahs->ext_cdb, body, ahs->ext_cdb_len);
        }
        else if (type == PDU_AHS_BIDI_READ_LEN) {
            /* AHSLength is 0x0005 (§11.2.2.4). */
            if (ahs->has_bidi_read_len || ahs_length != 5)
                return UIS_ERR_PDU_AHS;
            ahs->has_bidi_read_len = true;
            ahs->bidi_read_len = be_get32 (body);
        }
        else
            return UIS_ERR_PDU_AHS;
        pos += wire;
    }
    return 0;
}

/* Bytes pdu_ahs_encode writes for ahs. */
size_t
pdu_ahs_len (const pdu_ahs_t *ahs)
{
    if (!ahs)
        return 0;
    size_t n = 0;
    if (ahs->ext_cdb_len)
        n += s_ahs_wire_len ((size_t)ahs->ext_cdb_len + 1);
    if (ahs->has_bidi_read_len)
        n += s_ahs_wire_len (5);
    return n;
}

/* Encodes ahs into out (cap bytes), zero padding each AHS. */
int
pdu_ahs_encode (const pdu_ahs_t *ahs, uint8_t *out, size_t cap, size_t *out_len)
{
    if (!out_len || (!out && cap))
        return UIS_ERR_INVALID_ARG;
    *out_len = 0;
    if (!ahs)
        return 0;
    if (ahs->ext_cdb_len > PDU_EXT_CDB_MAX)
        return UIS_ERR_OUT_OF_RANGE;
    size_t need = pdu_ahs_len (ahs);
    if (need > cap)
        return UIS_ERR_BUFFER_TOO_SMALL;
    if (need == 0)
        return 0;
    memset (out, 0, need);
    size_t pos = 0;
    if (ahs->ext_cdb_len) {
        be_put16 (out, (uint16_t)(ahs->ext_cdb_len + 1));
        out[2] = PDU_AHS_EXT_CDB;
        memcpy (out + 4, ahs->ext_cdb, ahs->ext_cdb_len);
        pos += s_ahs_wire_len ((size_t)ahs->ext_cdb_len + 1);
    }
    if (ahs->has_bidi_read_len) {
        be_put16 (out + pos, 5);
        out[pos + 2] = PDU_AHS_BIDI_READ_LEN;
        be_put32 (out + pos + 4, ahs->bidi_read_len);
        pos += 8;
    }
    *out_len = pos;
    return 0;
}

/* Splits a CDB between the BHS and the extended-CDB AHS (conformance R4). */
int
pdu_cdb_set (pdu_t *pdu, pdu_ahs_t *ahs, const uint8_t *cdb, size_t len)
{
    if (!pdu || !cdb)
        return UIS_ERR_INVALID_ARG;
    if (len == 0 || len > PDU_CDB_MAX || (len > PDU_CDB_BHS_LEN && !ahs))
        return UIS_ERR_SCSI_CDB;
    size_t head = len < PDU_CDB_BHS_LEN ? len : PDU_CDB_BHS_LEN;
    memset (pdu->u.scsi_cmd.cdb, 0, PDU_CDB_BHS_LEN);
    memcpy (pdu->u.scsi_cmd.cdb, cdb, head);
    if (ahs) {
        ahs->ext_cdb_len = (uint16_t)(len - head);
        memset (ahs->ext_cdb, 0, sizeof ahs->ext_cdb);
        memcpy (ahs->ext_cdb, cdb + head, len - head);
    }
    return 0;
}

/* Reassembles a CDB from the BHS and the extended-CDB AHS. */
int
pdu_cdb_get (const pdu_t *pdu, const pdu_ahs_t *ahs, uint8_t *out, size_t cap,
             size_t *len)
{
    if (!pdu || !len || (!out && cap))
        return UIS_ERR_INVALID_ARG;
    size_t ext = ahs ? ahs->ext_cdb_len : 0;
    if (ext > PDU_EXT_CDB_MAX)
        return UIS_ERR_OUT_OF_RANGE;
    size_t total = PDU_CDB_BHS_LEN + ext;
    if (total > cap)
        return UIS_ERR_BUFFER_TOO_SMALL;
    memcpy (out, pdu->u.scsi_cmd.cdb, PDU_CDB_BHS_LEN);
    if (ext)
        memcpy (out + PDU_CDB_BHS_LEN, ahs->ext_cdb, ext);
    *len = total;
    return 0;
}

/* ------------------------------------------------------ send helpers */

/* Builds BHS + AHS + optional header digest into out. */
int
pdu_header_build (const pdu_t *pdu, const pdu_ahs_t *ahs, const pdu_digest_cfg_t *dig,
                  uint8_t *out, size_t cap, size_t *out_len)
{
    if (!pdu || !out || !out_len)
        return UIS_ERR_INVALID_ARG;
    *out_len = 0;
    if (ahs && ahs->ext_cdb_len > PDU_EXT_CDB_MAX)
        return UIS_ERR_OUT_OF_RANGE;
    size_t ahs_len = pdu_ahs_len (ahs);
    bool hd = dig && dig->header;
    size_t need = PDU_BHS_LEN + ahs_len + (hd ? PDU_DIGEST_LEN : 0);
    if (need > cap)
        return UIS_ERR_BUFFER_TOO_SMALL;
    pdu_t copy = *pdu;
    copy.total_ahs_length = (uint8_t)(ahs_len / 4);
    int rc = pdu_bhs_encode (&copy, out);
    if (rc)
        return rc;
    size_t written = 0;
    rc = pdu_ahs_encode (ahs, out + PDU_BHS_LEN, ahs_len, &written);
    if (rc)
        return rc;
    if (hd) /* covers BHS + AHS (§13.1, conformance A4) */
        crc32c_put (out + PDU_BHS_LEN + ahs_len, crc32c (out, PDU_BHS_LEN + ahs_len),
                    dig->big_endian);
    *out_len = need;
    return 0;
}

/* Builds pad + optional data digest for a data segment in pieces. */
int
pdu_data_trailer (const pdu_iov_t *pieces, size_t n, const pdu_digest_cfg_t *dig,
                  uint8_t trailer[PDU_TRAILER_MAX], size_t *trailer_len)
{
    if (!trailer || !trailer_len || (!pieces && n))
        return UIS_ERR_INVALID_ARG;
    *trailer_len = 0;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (pieces[i].len > PDU_DSL_MAX - total)
            return UIS_ERR_OUT_OF_RANGE;
        if (pieces[i].len && !pieces[i].base)
            return UIS_ERR_INVALID_ARG;
        total += pieces[i].len;
    }
    if (total == 0)
        return 0; /* no pad, no data digest (conformance A3) */
    size_t pad = pdu_pad_len (total);
    memset (trailer, 0, PDU_TRAILER_MAX);
    size_t tl = pad;
    if (dig && dig->data) {
        /* Covers the data and its zero padding (§13.1, conformance A2). */
        uint32_t s = crc32c_begin ();
        for (size_t i = 0; i < n; i++)
            if (pieces[i].len)
                s = crc32c_add (s, pieces[i].base, pieces[i].len);
        if (pad)
            s = crc32c_add (s, trailer, pad);
        crc32c_put (trailer + pad, crc32c_end (s), dig->big_endian);
        tl += PDU_DIGEST_LEN;
    }
    *trailer_len = tl;
    return 0;
}

/* Encodes a whole PDU (header, data, pad, data digest) into out. */
int
pdu_encode (const pdu_t *pdu, const pdu_ahs_t *ahs, const void *data, size_t data_len,
            const pdu_digest_cfg_t *dig, uint8_t *out, size_t cap, size_t *out_len)
{
    if (!pdu || !out || !out_len || (!data && data_len))
        return UIS_ERR_INVALID_ARG;
    *out_len = 0;
    if (data_len > PDU_DSL_MAX)
        return UIS_ERR_OUT_OF_RANGE;
    pdu_t copy = *pdu;
    copy.data_segment_length = (uint32_t)data_len;
    size_t hlen = 0;
    int rc = pdu_header_build (&copy, ahs, dig, out, cap, &hlen);
    if (rc)
        return rc;
    pdu_iov_t piece = {data, data_len};
    uint8_t trailer[PDU_TRAILER_MAX];
    size_t tlen = 0;
    rc = pdu_data_trailer (&piece, data_len ? 1 : 0, dig, trailer, &tlen);
    if (rc)
        return rc;
    if (data_len + tlen > cap - hlen)
        return UIS_ERR_BUFFER_TOO_SMALL;
    if (data_len)
        memcpy (out + hlen, data, data_len);
    memcpy (out + hlen + data_len, trailer, tlen);
    *out_len = hlen + data_len + tlen;
    return 0;
}
