/* scsi.c: SCSI methods of the RPC API as engine commands, and back. */
#include "rpc/scsi.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/errors.h"
#include "proto/lun.h"
#include "proto/pdu.h"
#include "proto/scsi_cdb.h"
#include "proto/scsi_resp.h"
#include "proto/sense.h"
#include "rpc/bulk.h"
#include "rpc/errors.h"

#define S_GROW_MAX 2 /* allocation length growths per op */
#define S_UA_MAX   1 /* resends after a UNIT ATTENTION, per command */

typedef enum {
    K_TUR,
    K_INQUIRY,
    K_READ_CAPACITY,
    K_REPORT_LUNS,
    K_REQUEST_SENSE,
    K_READ,
    K_WRITE,
    K_VERIFY,
    K_SYNC,
    K_WRITE_SAME,
    K_UNMAP,
    K_CAW,
    K_MODE_SENSE,
    K_MODE_SELECT,
    K_PR_IN,
    K_PR_OUT,
    K_START_STOP,
    K_RAW,
} s_kind_t;

/* Phases: the block size probe (or scsi.read_capacity itself), then the
 * main command. */
typedef enum { PH_CAP16, PH_CAP10, PH_MAIN } s_phase_t;

static const struct {
    const char *name;
    s_kind_t kind;
} s_methods[] = {
    {"scsi.test_unit_ready", K_TUR},
    {"scsi.inquiry", K_INQUIRY},
    {"scsi.read_capacity", K_READ_CAPACITY},
    {"scsi.report_luns", K_REPORT_LUNS},
    {"scsi.request_sense", K_REQUEST_SENSE},
    {"scsi.read", K_READ},
    {"scsi.write", K_WRITE},
    {"scsi.verify", K_VERIFY},
    {"scsi.synchronize_cache", K_SYNC},
    {"scsi.write_same", K_WRITE_SAME},
    {"scsi.unmap", K_UNMAP},
    {"scsi.compare_and_write", K_CAW},
    {"scsi.mode_sense", K_MODE_SENSE},
    {"scsi.mode_select", K_MODE_SELECT},
    {"scsi.persistent_reserve_in", K_PR_IN},
    {"scsi.persistent_reserve_out", K_PR_OUT},
    {"scsi.start_stop_unit", K_START_STOP},
    {"raw.execute", K_RAW},
    {"raw.stream", K_RAW}, /* with ENG_CMD_F_STREAM: the data goes as notifications */
};

struct rpc_scsi_op {
    s_kind_t kind;
    s_phase_t phase;
    eng_cmd_t base; /* lun, attr, timeout, tag, flags of every command */
    eng_cmd_t cmd;  /* the current command */
    rpc_scsi_out_t out;
    int ua_left;
    int grow_left;
    uint32_t data_max;
    bool attach;
    bool stream; /* raw.stream */
    /* params */
    uint64_t lba;
    uint32_t blocks;
    uint32_t block_size; /* 0 until known */
    bool fua, evpd, dbd, save, unmap, start, load_eject;
    unsigned page, subpage, cdb_size, service_action, scope_type, power_condition;
    uint64_t key, sa_key;
    uint32_t alloc;
    size_t data_len;
    uint8_t *built;
    size_t built_len;
    /* outcome */
    int64_t cache_note;
    json_t *result; /* with "data" still to set when has_data */
    json_t *error;
    bool has_data;
    uint8_t *data; /* copy of the Data-In for a base64 result */
    size_t data_size;
};

/* ------------------------------------------------------- conversions */

bool
rpc_scsi_is_method (const char *method)
{
    for (size_t i = 0; i < sizeof s_methods / sizeof s_methods[0]; i++)
        if (strcmp (method, s_methods[i].name) == 0)
            return true;
    return false;
}

/* Parses the LUN param. */
int
rpc_scsi_lun (const json_t *value, uint8_t out[8])
{
    if (json_is_integer (value)) {
        json_int_t n = json_integer_value (value);
        return n < 0 ? UIS_ERR_LUN_ENCODING : lun_from_int ((uint64_t)n, out);
    }
    if (json_is_string (value))
        return lun_parse (json_string_value (value), out);
    return UIS_ERR_INVALID_ARG;
}

/* A 64-bit value: integer up to INT64_MAX, else "0x" + 16 digits. */
json_t *
rpc_scsi_u64_json (uint64_t value)
{
    if (value <= INT64_MAX)
        return json_integer ((json_int_t)value);
    char hex[24];
    snprintf (hex, sizeof hex, "0x%016" PRIx64, value);
    return json_string (hex);
}

/* A LUN: its integer, else "0x" + 16 digits of the raw encoding. */
json_t *
rpc_scsi_lun_json (const uint8_t lun[8])
{
    uint64_t n = 0;
    if (lun_to_int (lun, &n) == 0)
        return json_integer ((json_int_t)n);
    char hex[24];
    snprintf (hex, sizeof hex, "0x%016" PRIx64, lun_to_u64 (lun));
    return json_string (hex);
}

/* The sense info object. */
json_t *
rpc_scsi_sense_info (const uint8_t *sense, size_t len)
{
    sense_t s;
    if (len == 0 || sense_parse (sense, len, &s) != 0)
        return NULL;
    char desc[SENSE_DESCRIBE_MAX];
    sense_describe (s.asc, s.ascq, desc, sizeof desc);
    json_t *o = json_object ();
    o = rpc_json_add (o, "response_code", json_integer (s.response_code));
    o = rpc_json_add (o, "descriptor", json_boolean (s.descriptor));
    o = rpc_json_add (o, "deferred", json_boolean (s.deferred));
    o = rpc_json_add (o, "sense_key", json_integer (s.sense_key));
    o = rpc_json_add (o, "sense_key_name", json_string (sense_key_name (s.sense_key)));
    o = rpc_json_add (o, "asc", json_integer (s.asc));
    o = rpc_json_add (o, "ascq", json_integer (s.ascq));
    o = rpc_json_add (o, "description", json_string (desc));
    o = rpc_json_add (o, "information",
                      s.info_valid ? rpc_scsi_u64_json (s.information) : json_null ());
    o = rpc_json_add (o, "sense", rpc_hex_json (sense, len));
    return o;
}

/* The error of a completion that is not a success. */
json_t *
rpc_scsi_done_error (const eng_done_t *done)
{
    if (done->response != 0) {
        const char *name = done->response == 0x01   ? "TARGET_FAILURE"
                           : done->response >= 0x80 ? "VENDOR_SPECIFIC"
                                                    : "ISCSI_RESPONSE";
        json_t *e = rpc_error_scsi_status (done->status, name);
        json_t *d = json_object_get (e, "data");
        if (d
            && json_object_set_new (d, "response", json_integer (done->response)) != 0) {
            json_decref (e);
            return NULL;
        }
        return e;
    }
    if (done->status == SCSI_STATUS_GOOD || done->status == SCSI_STATUS_CONDITION_MET)
        return NULL;
    if (done->status != SCSI_STATUS_CHECK_CONDITION)
        return rpc_error_scsi_status (done->status, scsi_status_name (done->status));
    size_t len = done->sense_len < ENG_SENSE_MAX ? done->sense_len : ENG_SENSE_MAX;
    sense_t s;
    char desc[SENSE_DESCRIBE_MAX] = "no sense data";
    bool ok = len > 0 && sense_parse (done->sense, len, &s) == 0;
    if (ok)
        sense_describe (s.asc, s.ascq, desc, sizeof desc);
    rpc_sense_fields_t f = {
        .status = done->status,
        .sense_key = ok ? s.sense_key : 0,
        .sense_key_name = ok ? sense_key_name (s.sense_key) : NULL,
        .asc = ok ? s.asc : 0,
        .ascq = ok ? s.ascq : 0,
        .description = desc,
        .information_valid = ok && s.info_valid,
        .information = ok ? s.information : 0,
        .sense = done->sense,
        .sense_len = len,
    };
    return rpc_error_check_condition (&f);
}

/* Whether done is a CHECK CONDITION with the given sense key. */
static bool
s_is_sense_key (const eng_done_t *done, uint8_t key)
{
    if (done->response != 0 || done->status != SCSI_STATUS_CHECK_CONDITION)
        return false;
    size_t len = done->sense_len < ENG_SENSE_MAX ? done->sense_len : ENG_SENSE_MAX;
    sense_t s;
    return len > 0 && sense_parse (done->sense, len, &s) == 0 && s.sense_key == key;
}

/* ------------------------------------------------------------ params */

static json_int_t
s_int (const json_t *params, const char *key, json_int_t def)
{
    const json_t *v = json_object_get (params, key);
    return json_is_integer (v) ? json_integer_value (v) : def;
}

static bool
s_bool (const json_t *params, const char *key, bool def)
{
    const json_t *v = json_object_get (params, key);
    return json_is_boolean (v) ? json_is_true (v) : def;
}

/* A u64 param: an integer >= 0 or "0x" and 1..16 hex digits. */
static int
s_u64 (const json_t *params, const char *key, uint64_t *out)
{
    const json_t *v = json_object_get (params, key);
    if (json_is_integer (v) && json_integer_value (v) >= 0) {
        *out = (uint64_t)json_integer_value (v);
        return 0;
    }
    const char *t = json_string_value (v);
    if (!t || (t[0] != '0') || (t[1] != 'x' && t[1] != 'X'))
        return UIS_ERR_INVALID_ARG;
    size_t n = strlen (t + 2);
    if (n < 1 || n > 16)
        return UIS_ERR_INVALID_ARG;
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        char c = t[2 + i];
        unsigned d = c >= '0' && c <= '9'   ? (unsigned)(c - '0')
                     : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10)
                     : c >= 'A' && c <= 'F' ? (unsigned)(c - 'A' + 10)
                                            : 16;
        if (d > 15)
            return UIS_ERR_INVALID_ARG;
        x = x << 4 | d;
    }
    *out = x;
    return 0;
}

/* ----------------------------------------------------------- commands */

/* Starts the current command from the base with a CDB of len bytes. */
static void
s_cmd (rpc_scsi_op_t *self, const uint8_t *cdb, int len, uint32_t in, uint32_t out_len,
       rpc_scsi_out_t out)
{
    self->cmd = self->base;
    memcpy (self->cmd.cdb, cdb, (size_t)len);
    self->cmd.cdb_len = (uint16_t)len;
    self->cmd.data_in_length = in;
    self->cmd.data_out_length = out_len;
    self->out = out;
    self->ua_left = self->kind == K_RAW ? 0 : S_UA_MAX;
}

/* The READ CAPACITY command of the current phase. */
static void
s_cmd_capacity (rpc_scsi_op_t *self)
{
    uint8_t cdb[16];
    int n = self->phase == PH_CAP16
                ? scsi_cdb_read_capacity16 (cdb, sizeof cdb, RPC_SCSI_ALLOC_CAPACITY16)
                : scsi_cdb_read_capacity10 (cdb, sizeof cdb);
    s_cmd (self, cdb, n, self->phase == PH_CAP16 ? RPC_SCSI_ALLOC_CAPACITY16 : 8, 0,
           RPC_SCSI_OUT_NONE);
}

static json_t *
s_bad (const char *param, const char *reason)
{
    return rpc_error_invalid_params (param, reason);
}

/* Builds the main command from the params; NULL or an error object. */
static json_t *
s_cmd_main (rpc_scsi_op_t *self)
{
    uint8_t cdb[SCSI_CDB_MAX_LEN];
    int n = UIS_ERR_SCSI_CDB;
    uint32_t in = 0, out_len = 0;
    rpc_scsi_out_t out = RPC_SCSI_OUT_NONE;
    uint64_t bytes = (uint64_t)self->blocks * self->block_size;
    switch (self->kind) {
    case K_TUR:
        n = scsi_cdb_test_unit_ready (cdb, sizeof cdb);
        break;
    case K_INQUIRY:
        if (!self->evpd && self->page != 0)
            return s_bad ("params.page", "a page needs evpd");
        n = scsi_cdb_inquiry (cdb, sizeof cdb, self->evpd, self->page, self->alloc);
        in = self->alloc;
        break;
    case K_REPORT_LUNS:
        n = scsi_cdb_report_luns (cdb, sizeof cdb, 0, self->alloc);
        in = self->alloc;
        break;
    case K_REQUEST_SENSE:
        n = scsi_cdb_request_sense (cdb, sizeof cdb, false, RPC_SCSI_ALLOC_SENSE);
        in = RPC_SCSI_ALLOC_SENSE;
        break;
    case K_READ:
        if (bytes > self->data_max)
            return rpc_error_limit_exceeded ("data_bytes", bytes);
        n = scsi_cdb_read (cdb, sizeof cdb, self->lba, self->blocks, self->fua);
        in = (uint32_t)bytes;
        break;
    case K_WRITE:
        if (bytes != self->data_len)
            return s_bad ("params.data", "length is not blocks times block_size");
        n = scsi_cdb_write (cdb, sizeof cdb, self->lba, self->blocks, self->fua);
        out_len = (uint32_t)bytes;
        out = RPC_SCSI_OUT_PARAM;
        break;
    case K_VERIFY:
        n = scsi_cdb_verify (cdb, sizeof cdb, self->lba, self->blocks);
        break;
    case K_SYNC:
        n = scsi_cdb_synchronize_cache (cdb, sizeof cdb, self->lba, self->blocks, false);
        break;
    case K_WRITE_SAME:
        if (self->data_len == 0)
            return s_bad ("params.data", "one block is needed");
        n = scsi_cdb_write_same (cdb, sizeof cdb, self->lba, self->blocks, self->unmap);
        out_len = (uint32_t)self->data_len;
        out = RPC_SCSI_OUT_PARAM;
        break;
    case K_UNMAP:
        n = scsi_cdb_unmap (cdb, sizeof cdb, (uint32_t)self->built_len);
        out_len = (uint32_t)self->built_len;
        out = RPC_SCSI_OUT_BUILT;
        break;
    case K_CAW:
        if (self->blocks == 0 || self->data_len == 0
            || self->data_len % (2u * self->blocks) != 0)
            return s_bad ("params.data", "length is not 2 times blocks blocks");
        n = scsi_cdb_compare_and_write (cdb, sizeof cdb, self->lba, self->blocks, false);
        out_len = (uint32_t)self->data_len;
        out = RPC_SCSI_OUT_PARAM;
        break;
    case K_MODE_SENSE:
        n = self->cdb_size == 6
                ? scsi_cdb_mode_sense6 (cdb, sizeof cdb, self->page, self->subpage, 0,
                                        self->dbd, self->alloc)
                : scsi_cdb_mode_sense10 (cdb, sizeof cdb, self->page, self->subpage, 0,
                                         self->dbd, self->alloc);
        in = self->alloc;
        break;
    case K_MODE_SELECT:
        if (self->data_len > (self->cdb_size == 6 ? 255u : 65535u))
            return s_bad ("params.data", "too long for the CDB");
        n = self->cdb_size == 6
                ? scsi_cdb_mode_select6 (cdb, sizeof cdb, true, self->save,
                                         (uint32_t)self->data_len)
                : scsi_cdb_mode_select10 (cdb, sizeof cdb, true, self->save,
                                          (uint32_t)self->data_len);
        out_len = (uint32_t)self->data_len;
        out = out_len ? RPC_SCSI_OUT_PARAM : RPC_SCSI_OUT_NONE;
        break;
    case K_PR_IN:
        n = scsi_cdb_pr_in (cdb, sizeof cdb, self->service_action, self->alloc);
        in = self->alloc;
        break;
    case K_PR_OUT:
        n = scsi_cdb_pr_out (cdb, sizeof cdb, self->service_action, self->scope_type);
        if (n == UIS_ERR_UNSUPPORTED)
            return s_bad ("params.service_action", "REGISTER AND MOVE is not supported");
        out_len = (uint32_t)self->built_len;
        out = RPC_SCSI_OUT_BUILT;
        break;
    case K_START_STOP:
        n = scsi_cdb_start_stop_unit (cdb, sizeof cdb, self->start, self->load_eject,
                                      self->power_condition, false);
        break;
    default:
        return rpc_error_internal ("not a typed method");
    }
    if (n < 0)
        return s_bad ("params", "does not fit the CDB");
    s_cmd (self, cdb, n, in, out_len, out);
    return NULL;
}

/* ----------------------------------------------------------------- op */

/* Reads the params of a typed method. NULL or an error object. */
static json_t *
s_params (rpc_scsi_op_t *self, const json_t *params)
{
    self->lba = (uint64_t)s_int (params, "lba", 0);
    json_int_t blocks = s_int (params, "blocks", 0);
    if (blocks < 0 || blocks > UINT32_MAX)
        return s_bad ("params.blocks", "out of range");
    self->blocks = (uint32_t)blocks;
    json_int_t bs = s_int (params, "block_size", 0);
    if (bs < 0 || bs > UINT32_MAX)
        return s_bad ("params.block_size", "out of range");
    if (bs > 0)
        self->block_size = (uint32_t)bs;
    self->fua = s_bool (params, "fua", false);
    self->evpd = s_bool (params, "evpd", false);
    self->dbd = s_bool (params, "dbd", false);
    self->save = s_bool (params, "save", false);
    self->unmap = s_bool (params, "unmap", false);
    self->start = s_bool (params, "start", false);
    self->load_eject = s_bool (params, "load_eject", false);
    self->page = (unsigned)s_int (params, "page", 0) & 0xffu;
    self->subpage = (unsigned)s_int (params, "subpage", 0) & 0xffu;
    self->cdb_size = s_int (params, "cdb_size", 10) == 6 ? 6 : 10;
    self->service_action = (unsigned)s_int (params, "service_action", 0) & 0x1fu;
    self->scope_type = (unsigned)s_int (params, "scope_type", 0) & 0xffu;
    self->power_condition = (unsigned)s_int (params, "power_condition", 0) & 0xfu;
    switch (self->kind) {
    case K_INQUIRY:
        self->alloc = self->evpd ? RPC_SCSI_ALLOC_VPD : RPC_SCSI_ALLOC_STD_INQUIRY;
        break;
    case K_REPORT_LUNS:
        self->alloc = RPC_SCSI_ALLOC_REPORT_LUNS;
        break;
    case K_MODE_SENSE:
        self->alloc =
            self->cdb_size == 6 ? RPC_SCSI_ALLOC_MODE_SENSE6 : RPC_SCSI_ALLOC_MODE_SENSE;
        break;
    case K_PR_IN:
        self->alloc = RPC_SCSI_ALLOC_PR_IN;
        break;
    case K_PR_OUT: {
        if (s_u64 (params, "key", &self->key) != 0)
            return s_bad ("params.key", "not a 64-bit value");
        if (s_u64 (params, "sa_key", &self->sa_key) != 0)
            return s_bad ("params.sa_key", "not a 64-bit value");
        self->built = calloc (1, SCSI_PR_OUT_PARAM_LEN);
        if (!self->built)
            return rpc_error_internal ("out of memory");
        int n = scsi_cdb_pr_out_params (self->built, SCSI_PR_OUT_PARAM_LEN, self->key,
                                        self->sa_key, 0);
        if (n < 0)
            return s_bad ("params", "does not fit the parameter list");
        self->built_len = (size_t)n;
        break;
    }
    case K_UNMAP: {
        const json_t *ranges = json_object_get (params, "ranges");
        size_t count = json_array_size (ranges);
        if (count < 1 || count > SCSI_UNMAP_MAX_DESCRIPTORS)
            return s_bad ("params.ranges", "1 to 4095 ranges");
        scsi_unmap_range_t *r = calloc (count, sizeof *r);
        self->built_len = 8 + 16 * count;
        self->built = calloc (1, self->built_len);
        if (!r || !self->built) {
            free (r);
            return rpc_error_internal ("out of memory");
        }
        for (size_t i = 0; i < count; i++) {
            const json_t *item = json_array_get (ranges, i);
            json_int_t lba = s_int (item, "lba", -1), nb = s_int (item, "blocks", -1);
            if (lba < 0 || nb < 0 || nb > UINT32_MAX) {
                free (r);
                return s_bad ("params.ranges", "lba and blocks out of range");
            }
            r[i].lba = (uint64_t)lba;
            r[i].blocks = (uint32_t)nb;
        }
        int n = scsi_cdb_unmap_params (self->built, self->built_len, r, count, 0, 0);
        free (r);
        if (n < 0)
            return s_bad ("params.ranges", "does not fit an UNMAP parameter list");
        self->built_len = (size_t)n;
        break;
    }
    default:
        break;
    }
    return NULL;
}

/* raw.execute: the CDB and lengths. NULL or an error object. */
static json_t *
s_params_raw (rpc_scsi_op_t *self, const json_t *params)
{
    const char *hex = json_string_value (json_object_get (params, "cdb"));
    uint8_t cdb[SCSI_CDB_MAX_LEN];
    size_t n = 0;
    if (!hex || rpc_hex_decode (hex, strlen (hex), cdb, sizeof cdb, &n) != 0
        || scsi_cdb_validate (cdb, n) != 0)
        return s_bad ("params.cdb", "not a CDB of 1 to 260 bytes in hex");
    json_int_t in = s_int (params, "data_in_length", 0);
    /* raw.stream holds at most window_bytes, whatever the length */
    uint64_t in_max = self->stream ? UINT32_MAX : self->data_max;
    if (in < 0 || (uint64_t)in > in_max)
        return rpc_error_limit_exceeded ("data_bytes", (uint64_t)(in < 0 ? 0 : in));
    if (self->stream) {
        json_int_t w = s_int (params, "window_bytes", 4 << 20);
        if (w < 1 || (uint64_t)w > self->data_max)
            return rpc_error_limit_exceeded ("data_bytes", (uint64_t)(w < 0 ? 0 : w));
        self->base.window_bytes = (uint32_t)w;
        self->base.flags |= ENG_CMD_F_STREAM;
    }
    if (self->data_len > UINT32_MAX)
        return rpc_error_limit_exceeded ("data_bytes", self->data_len);
    s_cmd (self, cdb, (int)n, (uint32_t)in, (uint32_t)self->data_len,
           self->data_len ? RPC_SCSI_OUT_PARAM : RPC_SCSI_OUT_NONE);
    return NULL;
}

/* The task attribute param. */
static uint8_t
s_attr (const json_t *params)
{
    const char *a = json_string_value (json_object_get (params, "task_attribute"));
    if (!a)
        return PDU_ATTR_SIMPLE;
    if (strcmp (a, "ordered") == 0)
        return PDU_ATTR_ORDERED;
    if (strcmp (a, "head_of_queue") == 0)
        return PDU_ATTR_HEAD_OF_QUEUE;
    if (strcmp (a, "aca") == 0)
        return PDU_ATTR_ACA;
    return PDU_ATTR_SIMPLE;
}

rpc_scsi_op_t *
rpc_scsi_op_new (const char *method, const json_t *params, size_t data_len,
                 uint32_t block_size, uint32_t data_max, json_t **error)
{
    *error = NULL;
    size_t m = 0;
    while (m < sizeof s_methods / sizeof s_methods[0]
           && strcmp (method, s_methods[m].name) != 0)
        m++;
    if (m == sizeof s_methods / sizeof s_methods[0]) {
        *error = rpc_error_internal ("not implemented");
        return NULL;
    }
    rpc_scsi_op_t *self = calloc (1, sizeof *self);
    if (!self) {
        *error = rpc_error_internal ("out of memory");
        return NULL;
    }
    self->kind = s_methods[m].kind;
    self->stream = strcmp (method, "raw.stream") == 0;
    self->data_max = data_max;
    self->data_len = data_len;
    self->block_size = block_size;
    self->grow_left = S_GROW_MAX;
    self->attach = rpc_bulk_encoding (params) == RPC_BULK_ATTACHMENT;
    self->base.attr = s_attr (params);
    json_int_t t = s_int (params, "timeout_ms", 30000);
    self->base.timeout_ms = t < 0 ? 0 : t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
    const char *tag = json_string_value (json_object_get (params, "tag"));
    if (tag)
        snprintf (self->base.tag, sizeof self->base.tag, "%s", tag);
    if (self->kind == K_CAW || self->kind == K_PR_OUT || self->kind == K_RAW)
        self->base.flags |= ENG_CMD_F_NON_IDEMPOTENT;
    const json_t *lun = json_object_get (params, "lun");
    if (lun && rpc_scsi_lun (lun, self->base.lun) != 0)
        *error = s_bad ("params.lun", "not a LUN");
    if (!*error)
        *error =
            self->kind == K_RAW ? s_params_raw (self, params) : s_params (self, params);
    if (!*error) {
        bool probe = self->kind == K_READ_CAPACITY
                     || ((self->kind == K_READ || self->kind == K_WRITE)
                         && self->block_size == 0 && self->blocks > 0);
        if (probe) {
            self->phase = PH_CAP16;
            s_cmd_capacity (self);
        }
        else if (self->kind != K_RAW) {
            self->phase = PH_MAIN;
            *error = s_cmd_main (self);
        }
        else
            self->phase = PH_MAIN;
    }
    if (*error) {
        rpc_scsi_op_destroy (&self);
        return NULL;
    }
    return self;
}

void
rpc_scsi_op_destroy (rpc_scsi_op_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rpc_scsi_op_t *self = *self_p;
    free (self->built);
    free (self->data);
    json_decref (self->result);
    json_decref (self->error);
    free (self);
    *self_p = NULL;
}

const eng_cmd_t *
rpc_scsi_op_cmd (const rpc_scsi_op_t *self)
{
    return &self->cmd;
}

rpc_scsi_out_t
rpc_scsi_op_out (const rpc_scsi_op_t *self, const uint8_t **buf_p, size_t *len_p)
{
    if (buf_p)
        *buf_p = self->out == RPC_SCSI_OUT_BUILT ? self->built : NULL;
    if (len_p)
        *len_p = self->out == RPC_SCSI_OUT_BUILT ? self->built_len : 0;
    return self->out;
}

/* Ends the op with an error (stolen; NULL: out of memory). */
static rpc_scsi_step_t
s_done_error (rpc_scsi_op_t *self, json_t *error)
{
    json_decref (self->error);
    self->error = error ? error : rpc_error_internal ("out of memory");
    self->cache_note = -1;
    return RPC_SCSI_DONE;
}

/* Ends the op with a result (stolen); data (len bytes) is its "data" when
 * with_data. */
static rpc_scsi_step_t
s_done_result (rpc_scsi_op_t *self, json_t *result, bool with_data, const uint8_t *data,
               size_t len)
{
    if (!result)
        return s_done_error (self, NULL);
    if (with_data) {
        self->has_data = true;
        if (!self->attach && len > 0) {
            self->data = malloc (len);
            if (!self->data) {
                json_decref (result);
                return s_done_error (self, NULL);
            }
            memcpy (self->data, data, len);
        }
        self->data_size = len;
    }
    self->result = result;
    return RPC_SCSI_DONE;
}

/* A PROTOCOL_ERROR for data the target sent that does not parse. */
static rpc_scsi_step_t
s_done_malformed (rpc_scsi_op_t *self, const char *what)
{
    return s_done_error (self, rpc_error_protocol (what));
}

/* Asks again with a larger allocation length when the data declares
 * need bytes and more than were allocated. Returns true when resent. */
static bool
s_grow (rpc_scsi_op_t *self, uint64_t need, uint32_t max)
{
    if (need <= self->alloc || self->grow_left <= 0 || self->alloc >= max)
        return false;
    if (need > max)
        need = max;
    if (need > self->data_max)
        need = self->data_max;
    if (need <= self->alloc)
        return false;
    self->grow_left--;
    self->alloc = (uint32_t)need;
    json_t *error = s_cmd_main (self); /* the same CDB with another length */
    json_decref (error);
    return error == NULL;
}

/* Standard INQUIRY result. */
static json_t *
s_inquiry_json (const scsi_inquiry_t *q)
{
    json_t *o = json_object ();
    o = rpc_json_add (o, "peripheral_qualifier", json_integer (q->peripheral_qualifier));
    o = rpc_json_add (o, "device_type", json_integer (q->device_type));
    o = rpc_json_add (o, "device_type_name",
                      json_string (scsi_device_type_name (q->device_type)));
    o = rpc_json_add (o, "removable", json_boolean (q->removable));
    o = rpc_json_add (o, "version", json_integer (q->version));
    o = rpc_json_add (o, "vendor", json_string (q->vendor));
    o = rpc_json_add (o, "product", json_string (q->product));
    o = rpc_json_add (o, "revision", json_string (q->revision));
    if (q->has_flags) {
        o = rpc_json_add (o, "response_data_format",
                          json_integer (q->response_data_format));
        o = rpc_json_add (o, "hisup", json_boolean (q->hisup));
        o = rpc_json_add (o, "normaca", json_boolean (q->normaca));
        o = rpc_json_add (o, "tpgs", json_integer (q->tpgs));
        o = rpc_json_add (o, "tpc", json_boolean (q->tpc));
        o = rpc_json_add (o, "protect", json_boolean (q->protect));
        o = rpc_json_add (o, "multip", json_boolean (q->multip));
        o = rpc_json_add (o, "cmdque", json_boolean (q->cmdque));
    }
    return o;
}

/* VPD page result (without data); NULL with *malformed when it does not
 * parse. */
static json_t *
s_vpd_json (unsigned page, const uint8_t *buf, size_t len, bool *malformed)
{
    *malformed = false;
    scsi_vpd_header_t h;
    if (scsi_resp_vpd_header (buf, len, (int)page, &h) != 0) {
        *malformed = true;
        return NULL;
    }
    json_t *o = json_pack ("{s:i}", "page", (int)page);
    if (page == SCSI_VPD_SUPPORTED_PAGES) {
        scsi_vpd_pages_t p;
        if (scsi_resp_vpd_pages (buf, len, &p) != 0)
            goto bad;
        json_t *a = json_array ();
        for (size_t i = 0; a && i < p.count; i++)
            if (json_array_append_new (a, json_integer (p.pages[i])) != 0) {
                json_decref (a);
                a = NULL;
            }
        o = rpc_json_add (o, "pages", a);
    }
    else if (page == SCSI_VPD_UNIT_SERIAL) {
        scsi_vpd_serial_t *s = malloc (sizeof *s);
        if (!s || scsi_resp_vpd_serial (buf, len, s) != 0) {
            free (s);
            goto bad;
        }
        o = rpc_json_add (o, "serial", json_string (s->serial));
        free (s);
    }
    else if (page == SCSI_VPD_DEVICE_ID) {
        scsi_vpd_devid_t *d = malloc (sizeof *d);
        if (!d || scsi_resp_vpd_devid (buf, len, d) != 0) {
            free (d);
            goto bad;
        }
        json_t *a = json_array ();
        for (size_t i = 0; a && i < d->count; i++) {
            const scsi_designator_t *g = &d->desig[i];
            char text[SCSI_DESIG_FORMAT_MAX];
            if (scsi_designator_format (g, text, sizeof text) < 0)
                text[0] = '\0';
            json_t *e = json_object ();
            e = rpc_json_add (e, "association", json_integer (g->association));
            e = rpc_json_add (e, "type", json_integer (g->type));
            e = rpc_json_add (e, "type_name",
                              json_string (scsi_designator_type_name (g->type)));
            e = rpc_json_add (e, "code_set", json_integer (g->code_set));
            e = rpc_json_add (e, "protocol_identifier",
                              g->piv ? json_integer (g->protocol_id) : json_null ());
            e = rpc_json_add (e, "designator", json_string (text));
            if (!e || json_array_append_new (a, e) != 0) {
                json_decref (a);
                a = NULL;
            }
        }
        free (d);
        o = rpc_json_add (o, "designators", a);
    }
    else if (page == SCSI_VPD_BLOCK_LIMITS) {
        scsi_vpd_block_limits_t b;
        if (scsi_resp_vpd_block_limits (buf, len, &b) != 0)
            goto bad;
        if (b.has_basic) {
            o = rpc_json_add (o, "wsnz", json_boolean (b.wsnz));
            o = rpc_json_add (o, "max_compare_write_len",
                              json_integer (b.max_compare_write_len));
            o = rpc_json_add (o, "opt_transfer_len_granularity",
                              json_integer (b.opt_transfer_len_granularity));
            o = rpc_json_add (o, "max_transfer_len", json_integer (b.max_transfer_len));
            o = rpc_json_add (o, "opt_transfer_len", json_integer (b.opt_transfer_len));
        }
        if (b.has_prefetch)
            o = rpc_json_add (o, "max_prefetch_len", json_integer (b.max_prefetch_len));
        if (b.has_unmap) {
            o = rpc_json_add (o, "max_unmap_lba_count",
                              json_integer (b.max_unmap_lba_count));
            o = rpc_json_add (o, "max_unmap_descriptor_count",
                              json_integer (b.max_unmap_descriptor_count));
            o = rpc_json_add (o, "opt_unmap_granularity",
                              json_integer (b.opt_unmap_granularity));
            o = rpc_json_add (o, "ugavalid", json_boolean (b.ugavalid));
            o = rpc_json_add (o, "unmap_granularity_alignment",
                              json_integer (b.unmap_granularity_alignment));
        }
        if (b.has_write_same)
            o = rpc_json_add (o, "max_write_same_len",
                              rpc_scsi_u64_json (b.max_write_same_len));
    }
    return o;
bad:
    json_decref (o);
    *malformed = true;
    return NULL;
}

/* REPORT LUNS result. */
static json_t *
s_luns_json (const uint8_t *buf, size_t len)
{
    scsi_report_luns_t r;
    if (scsi_resp_report_luns (buf, len, &r, NULL, 0) != 0)
        return NULL;
    size_t n = r.total;
    scsi_lun_entry_t *e = calloc (n ? n : 1, sizeof *e);
    if (!e || scsi_resp_report_luns (buf, len, &r, e, n) != 0) {
        free (e);
        return NULL;
    }
    json_t *a = json_array ();
    for (size_t i = 0; a && i < r.count; i++)
        if (json_array_append_new (a, rpc_scsi_lun_json (e[i].raw)) != 0) {
            json_decref (a);
            a = NULL;
        }
    free (e);
    return a ? json_pack ("{s:o}", "luns", a) : NULL;
}

/* PERSISTENT RESERVE IN result (without data). */
static json_t *
s_pr_in_json (unsigned sa, const uint8_t *buf, size_t len, bool *malformed)
{
    *malformed = false;
    json_t *o = json_object ();
    if (sa == SCSI_PR_IN_READ_KEYS) {
        scsi_pr_keys_t k;
        if (scsi_resp_pr_keys (buf, len, &k, NULL, 0) != 0)
            goto bad;
        uint64_t *keys = calloc (k.total ? k.total : 1, sizeof *keys);
        if (!keys || scsi_resp_pr_keys (buf, len, &k, keys, k.total) != 0) {
            free (keys);
            goto bad;
        }
        json_t *a = json_array ();
        for (size_t i = 0; a && i < k.count; i++)
            if (json_array_append_new (a, rpc_scsi_u64_json (keys[i])) != 0) {
                json_decref (a);
                a = NULL;
            }
        free (keys);
        o = rpc_json_add (o, "generation", json_integer (k.generation));
        o = rpc_json_add (o, "keys", a);
    }
    else if (sa == SCSI_PR_IN_READ_RESERVATION) {
        scsi_pr_reservation_t r;
        if (scsi_resp_pr_reservation (buf, len, &r) != 0)
            goto bad;
        o = rpc_json_add (o, "generation", json_integer (r.generation));
        o = rpc_json_add (o, "reservation",
                          r.reserved ? json_pack ("{s:o, s:i, s:i}", "key",
                                                  rpc_scsi_u64_json (r.key), "scope",
                                                  r.scope, "type", r.type)
                                     : json_null ());
    }
    return o;
bad:
    json_decref (o);
    *malformed = true;
    return NULL;
}

/* The main command reached GOOD: the method's result, or a resend. */
static rpc_scsi_step_t
s_main_good (rpc_scsi_op_t *self, const eng_done_t *done, const uint8_t *data, size_t len)
{
    bool bad = false;
    switch (self->kind) {
    case K_INQUIRY: {
        if (self->evpd) {
            if (len >= 4 && s_grow (self, 4 + ((uint32_t)data[2] << 8 | data[3]), 65535))
                return RPC_SCSI_SEND;
            json_t *o = s_vpd_json (self->page, data, len, &bad);
            return bad ? s_done_malformed (self, "malformed VPD page")
                       : s_done_result (self, o, true, data, len);
        }
        scsi_inquiry_t q;
        if (scsi_resp_inquiry (data, len, &q) != 0)
            return s_done_malformed (self, "malformed INQUIRY data");
        return s_done_result (self, s_inquiry_json (&q), true, data, len);
    }
    case K_REPORT_LUNS: {
        if (len >= 4) {
            uint64_t need = 8
                            + ((uint64_t)data[0] << 24 | (uint64_t)data[1] << 16
                               | (uint64_t)data[2] << 8 | data[3]);
            if (s_grow (self, need, UINT32_MAX))
                return RPC_SCSI_SEND;
        }
        json_t *o = s_luns_json (data, len);
        return o ? s_done_result (self, o, false, NULL, 0)
                 : s_done_malformed (self, "malformed REPORT LUNS data");
    }
    case K_REQUEST_SENSE: {
        json_t *o = rpc_scsi_sense_info (data, len);
        if (!o && len == 0)
            o = json_pack ("{s:i, s:s, s:i, s:i, s:s, s:n, s:s}", "sense_key", 0,
                           "sense_key_name", sense_key_name (0), "asc", 0, "ascq", 0,
                           "description", "no sense data", "information", "sense", "");
        return o ? s_done_result (self, o, false, NULL, 0)
                 : s_done_malformed (self, "malformed sense data");
    }
    case K_READ:
        return s_done_result (self, json_pack ("{s:I}", "bytes", (json_int_t)len), true,
                              data, len);
    case K_WRITE: {
        uint64_t bytes = self->cmd.data_out_length;
        if (done->underflow && done->residual <= bytes)
            bytes -= done->residual;
        return s_done_result (self, json_pack ("{s:I}", "bytes", (json_int_t)bytes),
                              false, NULL, 0);
    }
    case K_MODE_SENSE: {
        if (self->cdb_size == 10 && len >= 2
            && s_grow (self, 2 + ((uint32_t)data[0] << 8 | data[1]), 65535))
            return RPC_SCSI_SEND;
        return s_done_result (self, json_object (), true, data, len);
    }
    case K_PR_IN: {
        if (len >= 8) {
            uint64_t need = 8
                            + ((uint64_t)data[4] << 24 | (uint64_t)data[5] << 16
                               | (uint64_t)data[6] << 8 | data[7]);
            if (self->service_action <= SCSI_PR_IN_READ_RESERVATION
                && s_grow (self, need, 65535))
                return RPC_SCSI_SEND;
        }
        json_t *o = s_pr_in_json (self->service_action, data, len, &bad);
        return bad ? s_done_malformed (self, "malformed PERSISTENT RESERVE IN data")
                   : s_done_result (self, o, true, data, len);
    }
    default:
        return s_done_result (self, json_object (), false, NULL, 0);
    }
}

/* READ CAPACITY reached GOOD: the result, or the block size for the main
 * command. */
static rpc_scsi_step_t
s_capacity_good (rpc_scsi_op_t *self, const uint8_t *data, size_t len)
{
    scsi_capacity_t c;
    int rc = self->phase == PH_CAP16 ? scsi_resp_capacity16 (data, len, &c)
                                     : scsi_resp_capacity10 (data, len, &c);
    if (rc != 0 || c.block_size == 0)
        return s_done_malformed (self, "malformed READ CAPACITY data");
    self->block_size = c.block_size;
    self->cache_note = c.block_size;
    if (self->kind == K_READ_CAPACITY) {
        json_t *o = json_pack (
            "{s:o, s:I, s:o, s:i, s:b, s:b}", "blocks", rpc_scsi_u64_json (c.blocks),
            "block_size", (json_int_t)c.block_size, "bytes", rpc_scsi_u64_json (c.bytes),
            "lbppbe", c.lbppbe, "lbpme", c.lbpme, "lbprz", c.lbprz);
        return s_done_result (self, o, false, NULL, 0);
    }
    self->phase = PH_MAIN;
    json_t *error = s_cmd_main (self);
    if (error) {
        s_done_error (self, error);
        self->cache_note = self->block_size; /* what was learned still holds */
        return RPC_SCSI_DONE;
    }
    return RPC_SCSI_SEND;
}

/* raw.execute: the status is the result. */
static rpc_scsi_step_t
s_raw_result (rpc_scsi_op_t *self, const eng_done_t *done, const uint8_t *data,
              size_t len)
{
    size_t slen = done->sense_len < ENG_SENSE_MAX ? done->sense_len : ENG_SENSE_MAX;
    json_t *info = rpc_scsi_sense_info (done->sense, slen);
    json_t *o = json_pack ("{s:i, s:s, s:o, s:o, s:I, s:I, s:b, s:b}", "status",
                           done->status, "status_name", scsi_status_name (done->status),
                           "sense", rpc_hex_json (done->sense, slen), "sense_info",
                           info ? info : json_null (), "bytes", (json_int_t)len,
                           "residual", (json_int_t)done->residual, "overflow",
                           done->overflow != 0, "underflow", done->underflow != 0);
    if (done->status != SCSI_STATUS_GOOD)
        self->cache_note = -1;
    return s_done_result (self, o, !self->stream, data, len);
}

rpc_scsi_step_t
rpc_scsi_op_feed (rpc_scsi_op_t *self, const eng_done_t *done, const uint8_t *data,
                  size_t data_len)
{
    if (self->result || self->error)
        return RPC_SCSI_DONE;
    if (!data)
        data_len = 0;
    if (done->response != 0)
        return s_done_error (self, rpc_scsi_done_error (done));
    if (self->kind == K_RAW && self->stream) /* the data went as notifications */
        return s_raw_result (self, done, NULL, done->bytes);
    if (self->kind == K_RAW)
        return s_raw_result (self, done, data, data_len);
    if (s_is_sense_key (done, SENSE_KEY_UNIT_ATTENTION) && self->ua_left > 0) {
        self->ua_left--;
        self->cache_note = -1;
        return RPC_SCSI_SEND; /* the same command again */
    }
    json_t *error = rpc_scsi_done_error (done);
    if (error && self->phase == PH_CAP16
        && s_is_sense_key (done, SENSE_KEY_ILLEGAL_REQUEST)) {
        json_decref (error);
        self->phase = PH_CAP10;
        s_cmd_capacity (self);
        return RPC_SCSI_SEND;
    }
    if (error)
        return s_done_error (self, error);
    if (self->phase != PH_MAIN)
        return s_capacity_good (self, data, data_len);
    return s_main_good (self, done, data, data_len);
}

rpc_scsi_step_t
rpc_scsi_op_fail (rpc_scsi_op_t *self, json_t *error)
{
    if (self->result || self->error) {
        json_decref (error);
        return RPC_SCSI_DONE;
    }
    return s_done_error (self, error);
}

int64_t
rpc_scsi_op_cache_note (const rpc_scsi_op_t *self)
{
    return self->cache_note;
}

bool
rpc_scsi_op_has_data (const rpc_scsi_op_t *self)
{
    return self->has_data && self->result;
}

bool
rpc_scsi_op_wants_attachment (const rpc_scsi_op_t *self)
{
    return self->attach;
}

json_t *
rpc_scsi_op_take (rpc_scsi_op_t *self, size_t attach_k, int *status_p)
{
    if (self->error) {
        *status_p = UIS_ERR_STATE;
        json_t *e = self->error;
        self->error = NULL;
        return e;
    }
    *status_p = 0;
    json_t *r = self->result;
    self->result = NULL;
    if (r && self->has_data) {
        json_t *d = attach_k > 0 ? rpc_attachment_new (attach_k)
                                 : rpc_base64_json (self->data, self->data_size);
        if (!d || json_object_set_new (r, "data", d) != 0) {
            json_decref (r);
            r = NULL;
        }
    }
    return r;
}
