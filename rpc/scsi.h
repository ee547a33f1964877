/* scsi.h: the SCSI methods of the RPC API (API.md scsi.*, raw.execute,
 * raw.stream)
 * turned into engine commands (actors/engine.h eng_cmd_t) and engine
 * completions (eng_done_t + Data-In) turned into API results or errors.
 *
 * Transport-free (jansson and proto/ only): the RPC front end drives one
 * rpc_scsi_op_t per call. An op is a little state machine, because some
 * methods take more than one command:
 *   - scsi.read_capacity sends READ CAPACITY(16) and falls back to
 *     READ CAPACITY(10) when (16) ends in CHECK CONDITION / ILLEGAL REQUEST;
 *   - scsi.read and scsi.write without block_size first learn the LUN's
 *     block size the same way, unless the caller's cache knows it
 *     (rpc_scsi_op_new's block_size; rpc_scsi_op_cache_note says what to
 *     store or forget);
 *   - scsi.report_luns, scsi.inquiry (VPD), scsi.mode_sense(10) and
 *     scsi.persistent_reserve_in grow the allocation length and ask again
 *     when the data declares more than was allocated (at most twice);
 *   - every typed method resends its command once after a CHECK CONDITION
 *     with sense key UNIT ATTENTION (tgt reports 29/00 on the first command
 *     of a nexus to each LUN, and after resets): a UNIT ATTENTION means the
 *     command was not executed (SAM-5 "unit attention condition"), so the
 *     resend is safe even for non-idempotent commands. raw.execute never
 *     retries: it returns what the target said.
 * Each command of an op gets the call's whole timeout_ms.
 *
 * Mapping of outcomes (typed methods):
 *   GOOD (or CONDITION MET)   the method's result (API.md)
 *   CHECK CONDITION           SCSI_CHECK_CONDITION -32005 with the parsed
 *                             sense (proto/sense.h) and the sense in hex
 *   any other SCSI status     SCSI_STATUS -32006 {status, status_name}
 *   iSCSI response != 0       SCSI_STATUS -32006 {status, status_name,
 *                             response}: status_name "TARGET_FAILURE" for
 *                             0x01, "VENDOR_SPECIFIC" for 0x80..0xff, else
 *                             "ISCSI_RESPONSE". The status byte is not valid
 *                             then, so even a status of GOOD is a failure
 *                             (conformance I3); raw.execute fails the same
 *                             way, since there is no status to return.
 *   engine error (status < 0) the engine's error object as is
 * Data the target sends that cannot be parsed (a short INQUIRY, ...) is
 * PROTOCOL_ERROR with a fixed detail.
 *
 * eng_done_t.sense holds the sense data itself (the SenseLength prefix of
 * the iSCSI data segment already removed by the io actor). */
#ifndef UISCSI_RPC_SCSI_H
#define UISCSI_RPC_SCSI_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "actors/engine.h"

/* Allocation lengths of the first try. */
#define RPC_SCSI_ALLOC_STD_INQUIRY 255
#define RPC_SCSI_ALLOC_VPD         4096
#define RPC_SCSI_ALLOC_REPORT_LUNS 4096
#define RPC_SCSI_ALLOC_MODE_SENSE6 255
#define RPC_SCSI_ALLOC_MODE_SENSE  4096
#define RPC_SCSI_ALLOC_PR_IN       8192
#define RPC_SCSI_ALLOC_CAPACITY16  32
#define RPC_SCSI_ALLOC_SENSE       252

/* Where the Data-Out of the current command comes from. */
typedef enum {
    RPC_SCSI_OUT_NONE = 0,  /* no Data-Out */
    RPC_SCSI_OUT_PARAM = 1, /* the call's "data" param, all of it */
    RPC_SCSI_OUT_BUILT = 2, /* a parameter list the op built (UNMAP, PR OUT) */
} rpc_scsi_out_t;

/* What the driver does next. */
typedef enum {
    RPC_SCSI_SEND = 1, /* send rpc_scsi_op_cmd (a new or repeated command) */
    RPC_SCSI_DONE = 2, /* the result or the error is ready */
} rpc_scsi_step_t;

typedef struct rpc_scsi_op rpc_scsi_op_t;

/* True when method is one this module runs (scsi.*, raw.execute and
 * raw.stream). raw.stream is raw.execute with ENG_CMD_F_STREAM and
 * cmd.window_bytes (window_bytes param, default 4 MiB, at most data_max;
 * data_in_length is not limited by data_max): its result has no "data"
 * and its "bytes" is done->bytes (what was streamed). */
bool rpc_scsi_is_method (const char *method);

/* Creates the op of a call whose params were validated by the method table
 * (defaults applied). params is read during the call only. data_len is the
 * byte length of the resolved "data" param (0 when absent); block_size is
 * the cached block size of the LUN, 0 when unknown; data_max is the
 * data_bytes limit. Returns the op, ready to send its first command, or
 * NULL with *error set (new reference): INVALID_PARAMS when the params do
 * not make a command (an LBA beyond what the CDB holds, a data length that
 * does not match), LIMIT_EXCEEDED, or INTERNAL_ERROR (out of memory, an
 * unknown method). */
rpc_scsi_op_t *rpc_scsi_op_new (const char *method, const json_t *params, size_t data_len,
                                uint32_t block_size, uint32_t data_max, json_t **error);

/* Frees the op and NULLs *self_p. */
void rpc_scsi_op_destroy (rpc_scsi_op_t **self_p);

/* The command to send now (borrowed, valid until the next feed). */
const eng_cmd_t *rpc_scsi_op_cmd (const rpc_scsi_op_t *self);

/* Where the current command's Data-Out comes from; for RPC_SCSI_OUT_BUILT
 * *buf_p and *len_p (may be NULL) get the op's buffer (borrowed, valid until
 * the next feed). */
rpc_scsi_out_t rpc_scsi_op_out (const rpc_scsi_op_t *self, const uint8_t **buf_p,
                                size_t *len_p);

/* Feeds the completion of the current command (ENG_CMD_DONE status 0):
 * done and its Data-In (data_len bytes, the smaller of done->bytes and the
 * data frame; borrowed). Returns RPC_SCSI_SEND when another command is to
 * be sent, else RPC_SCSI_DONE. */
rpc_scsi_step_t rpc_scsi_op_feed (rpc_scsi_op_t *self, const eng_done_t *done,
                                  const uint8_t *data, size_t data_len);

/* Feeds an engine failure (ENG_CMD_DONE status < 0, or a send that could
 * not be made): error is stolen (NULL: INTERNAL_ERROR). Returns
 * RPC_SCSI_DONE. */
rpc_scsi_step_t rpc_scsi_op_fail (rpc_scsi_op_t *self, json_t *error);

/* After the last feed: > 0 is the block size the op learned for its LUN
 * (store it), < 0 means forget the LUN's block size (an error or a UNIT
 * ATTENTION happened), 0 changes nothing. */
int64_t rpc_scsi_op_cache_note (const rpc_scsi_op_t *self);

/* Whether the result carries the Data-In of the last command as "data". */
bool rpc_scsi_op_has_data (const rpc_scsi_op_t *self);

/* Whether the call asked for bulk results as attachments. */
bool rpc_scsi_op_wants_attachment (const rpc_scsi_op_t *self);

/* After RPC_SCSI_DONE: takes the result (status 0) or the error object
 * (*status_p < 0); new reference, NULL when out of memory or taken before.
 * When the result carries data and attach_k > 0, "data" is
 * {"$attachment": attach_k} (the caller sends the Data-In as that frame);
 * otherwise it is base64. */
json_t *rpc_scsi_op_take (rpc_scsi_op_t *self, size_t attach_k, int *status_p);

/* Conversions used by the ops, public for tests and other callers. */

/* LUN param (integer or "0x..." string) into its 8 bytes. Returns 0 or
 * UIS_ERR_INVALID_ARG / UIS_ERR_LUN_ENCODING. */
int rpc_scsi_lun (const json_t *value, uint8_t out[8]);

/* A REPORT LUNS entry / a 64-bit value as the API shows it: an integer, or
 * a "0x" + 16 hex digits string (a LUN without an integer form; a value
 * above INT64_MAX). New reference. */
json_t *rpc_scsi_lun_json (const uint8_t lun[8]);
json_t *rpc_scsi_u64_json (uint64_t value);

/* <sense info>: {"response_code", "descriptor", "deferred", "sense_key",
 * "sense_key_name", "asc", "ascq", "description", "information" (null when
 * not valid), "sense" (hex)}. NULL when len is 0 or the bytes are not
 * sense data. New reference. */
json_t *rpc_scsi_sense_info (const uint8_t *sense, size_t len);

/* The error of a completion that is not a success: CHECK CONDITION,
 * another status, or an iSCSI response != 0 (see the table above). NULL
 * for GOOD / CONDITION MET with response 0. New reference. */
json_t *rpc_scsi_done_error (const eng_done_t *done);

#endif
