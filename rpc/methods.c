/* methods.c: the method table of API.md and its compiled form. */
#include "rpc/methods.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/errors.h"
#include "rpc/errors.h"

/* ------------------------------------------------------- schema pieces
 * JSON text with ' for ". Descriptions contain neither ' nor ". Laid out by
 * hand: clang-format would cut the string literals apart. */

/* clang-format off */

#define OBJ(required, props) \
    "{'type': 'object', 'additionalProperties': false, " \
    "'required': [" required "], 'properties': {" props "}}"

#define P_TIMEOUT \
    "'timeout_ms': {'type': 'integer', 'minimum': 0, 'maximum': 86400000, " \
    "'default': 30000, 'description': 'deadline of the call in ms'}"
#define P_TAG \
    "'tag': {'type': 'string', 'minLength': 1, 'maxLength': 64, 'format': 'text', " \
    "'description': 'client-chosen name of this call, which tmf.abort_task can name'}"
/* Every command takes these (API.md "Conventions"). */
#define COMMON P_TIMEOUT ", " P_TAG

#define P_SESSION \
    "'session': {'type': 'string', 'minLength': 1, 'maxLength': 64, 'format': 'text', " \
    "'description': 'session id returned by session.open'}"
#define P_LUN \
    "'lun': {'type': ['integer', 'string'], 'minimum': 0, 'maximum': 16383, " \
    "'format': 'lun', " \
    "'description': 'flat LUN, or a 64-bit SAM LUN as 0x and 1 to 16 hex digits'}"
#define P_LBA \
    "'lba': {'type': 'integer', 'minimum': 0, " \
    "'description': 'first logical block address'}"
#define P_BLOCKS \
    "'blocks': {'type': 'integer', 'minimum': 0, 'maximum': 4294967295, " \
    "'description': 'number of logical blocks'}"
#define P_BLOCK_SIZE \
    "'block_size': {'type': 'integer', 'minimum': 1, 'maximum': 1048576, " \
    "'description': 'logical block size in bytes (default: the block size of the LUN)'}"
#define P_FUA \
    "'fua': {'type': 'boolean', 'default': false, 'description': 'force unit access'}"
#define P_DATA_ENCODING \
    "'data_encoding': {'type': 'string', 'enum': ['base64', 'attachment'], " \
    "'default': 'base64', 'description': 'how the result carries bulk data'}"
#define P_DATA(what) \
    "'data': {'type': ['string', 'object'], 'format': 'data', " \
    "'description': '" what "'}"
#define P_CDB_SIZE \
    "'cdb_size': {'type': 'integer', 'enum': [6, 10], 'default': 10, " \
    "'description': 'CDB variant, 6 or 10 bytes'}"
#define P_CDB \
    "'cdb': {'type': 'string', 'minLength': 2, 'maxLength': 520, 'format': 'hex', " \
    "'description': 'CDB in hex, up to 260 bytes (over 16: extended-CDB AHS)'}"
#define P_TASK_ATTRIBUTE \
    "'task_attribute': {'type': 'string', " \
    "'enum': ['simple', 'ordered', 'head_of_queue', 'aca'], 'default': 'simple', " \
    "'description': 'SCSI task attribute'}"

#define P_BOOL(key, def, what) \
    "'" key "': {'type': 'boolean', 'default': " #def ", 'description': '" what "'}"
#define P_INT(key, lo, hi, what) \
    "'" key "': {'type': 'integer', 'minimum': " #lo ", 'maximum': " #hi ", " \
    "'description': '" what "'}"
#define P_U64(key, what) \
    "'" key "': {'type': ['integer', 'string'], 'minimum': 0, 'format': 'u64', " \
    "'description': '" what " (an integer, or 0x and 1 to 16 hex digits)'}"

/* iSCSI names: at most 223 bytes (RFC 7143, iSCSI name properties). */
#define P_ISCSI_NAME(key, what) \
    "'" key "': {'type': 'string', 'minLength': 1, 'maxLength': 223, 'format': 'text', " \
    "'description': '" what "'}"
#define P_PORTAL \
    "'portal': {'type': 'string', 'minLength': 1, 'maxLength': 261, 'format': 'portal', " \
    "'description': 'host[:port], IPv6 in brackets, default port 3260'}"
#define P_INITIATOR \
    P_ISCSI_NAME ("initiator_name", "InitiatorName (default: the name of the daemon)")

#define P_CHAP_NAME(key, what) \
    "'" key "': {'type': 'string', 'minLength': 1, 'maxLength': 255, 'format': 'text', " \
    "'description': '" what "'}"
#define P_SECRET(key, what) \
    "'" key "': {'type': 'string', 'minLength': 1, 'maxLength': 255, " \
    "'description': '" what "'}"
#define P_SECRET_FILE(key, what) \
    "'" key "': {'type': 'string', 'minLength': 2, 'maxLength': 4096, 'format': 'path', " \
    "'description': '" what "'}"
#define P_AUTH \
    "'auth': {'type': 'object', 'additionalProperties': false, 'format': 'auth', " \
    "'required': ['method'], 'description': 'authentication', 'properties': {" \
        "'method': {'type': 'string', 'enum': ['none', 'chap'], " \
        "'description': 'none, or CHAP (mutual when a target secret is given)'}, " \
        P_CHAP_NAME ("user", "CHAP name we send (CHAP_N)") ", " \
        P_SECRET ("secret", "our CHAP secret") ", " \
        P_SECRET_FILE ("secret_file", "file holding our CHAP secret") ", " \
        P_CHAP_NAME ("target_user", "CHAP name the target must send (mutual CHAP)") ", " \
        P_SECRET ("target_secret", "secret the target must prove (mutual CHAP)") ", " \
        P_SECRET_FILE ("target_secret_file", "file holding the target secret") ", " \
        "'algorithms': {'type': 'array', 'minItems': 1, 'maxItems': 4, " \
        "'uniqueItems': true, 'items': {'type': 'string', " \
        "'enum': ['SHA3-256', 'SHA-256', 'SHA-1', 'MD5']}, " \
        "'description': 'CHAP_A algorithms to offer, in order of preference'}}}"

/* RFC 7143 section 13 operational keys, with the RFC value ranges. */
#define K_INT(key, lo, hi) \
    "'" key "': {'type': 'integer', 'minimum': " #lo ", 'maximum': " #hi "}"
#define K_BOOL(key) \
    "'" key "': {'type': ['string', 'boolean'], 'enum': ['Yes', 'No', true, false]}"
#define K_DIGEST(key) \
    "'" key "': {'type': 'string', 'maxLength': 11, 'format': 'digest_list'}"
#define P_NEGOTIATE \
    "'negotiate': {'type': 'object', 'additionalProperties': false, " \
    "'description': 'RFC 7143 keys to proposed values', 'properties': {" \
        K_DIGEST ("HeaderDigest") ", " \
        K_DIGEST ("DataDigest") ", " \
        K_INT ("MaxConnections", 1, 65535) ", " \
        K_BOOL ("InitialR2T") ", " \
        K_BOOL ("ImmediateData") ", " \
        K_INT ("MaxRecvDataSegmentLength", 512, 16777215) ", " \
        K_INT ("MaxBurstLength", 512, 16777215) ", " \
        K_INT ("FirstBurstLength", 512, 16777215) ", " \
        K_INT ("DefaultTime2Wait", 0, 3600) ", " \
        K_INT ("DefaultTime2Retain", 0, 3600) ", " \
        K_INT ("MaxOutstandingR2T", 1, 65535) ", " \
        K_BOOL ("DataPDUInOrder") ", " \
        K_BOOL ("DataSequenceInOrder") ", " \
        K_INT ("ErrorRecoveryLevel", 0, 2) "}}"

#define P_KEEPALIVE \
    "'keepalive': {'type': 'object', 'additionalProperties': false, " \
    "'description': 'NOP-Out pings on an idle connection', 'properties': {" \
        P_INT ("interval_ms", 0, 3600000, "idle time before a ping, 0 disables") ", " \
        P_INT ("timeout_ms", 1, 3600000, "time to wait for the NOP-In") "}}"
#define P_RECOVERY \
    "'recovery': {'type': 'object', 'additionalProperties': false, " \
    "'description': 'reconnection policy', 'properties': {" \
        P_INT ("max_attempts", 0, 1000000, "reconnect attempts before the session fails") ", " \
        P_INT ("backoff_ms", 0, 3600000, "first backoff, doubled per attempt") ", " \
        P_INT ("replacement_timeout_ms", 0, 86400000, \
               "how long commands wait for a reconnection") ", " \
        P_INT ("snack_timeout_ms", 0, 3600000, "wait before a SNACK for missing data") "}}"

/* Params shapes shared by several methods. */
#define S_NONE OBJ ("", COMMON)
#define S_SESSION OBJ ("'session'", P_SESSION ", " COMMON)
#define S_SESSION_LUN OBJ ("'session', 'lun'", P_SESSION ", " P_LUN ", " COMMON)
#define REQ_LBA "'session', 'lun', 'lba', 'blocks'"
#define P_SESSION_LUN_LBA P_SESSION ", " P_LUN ", " P_LBA ", " P_BLOCKS

#define R_TMF "`{\"response\", \"response_name\"}`"

static const rpc_method_def_t s_table[] = {
    {"rpc.discover", "Lists every method with its params schema.",
     S_NONE,
     "`{\"api_version\": 1, \"methods\": [{\"name\", \"summary\", \"params\", \"result\"}]}`; "
     "params is a JSON schema",
     0, NULL},
    {"daemon.info", "Version, endpoints, limits and features of the daemon.",
     S_NONE,
     "`{\"version\", \"api_version\", \"pid\", \"uptime_ms\", \"endpoints\": {\"rpc\", "
     "\"events\"}, \"limits\": {...}, \"features\": [...]}`",
     0, NULL},
    {"daemon.stats", "Counters across all sessions.",
     S_NONE,
     "counters: commands, bytes in/out, PDUs by opcode, errors by kind, reconnects",
     0, NULL},
    {"discovery.send_targets", "Discovery session with SendTargets=All.",
     OBJ ("'portal'", P_PORTAL ", " P_INITIATOR ", " P_AUTH ", " COMMON),
     "`{\"targets\": [{\"name\", \"portals\": [{\"address\", \"port\", \"tpgt\"}]}]}`",
     RPC_M_LONG, NULL},
    {"session.open", "Logs in to a target, or attaches to a shared session.",
     OBJ ("'portal', 'target'",
          P_PORTAL ", "
          P_ISCSI_NAME ("target", "TargetName") ", "
          P_INITIATOR ", "
          P_AUTH ", "
          P_NEGOTIATE ", "
          P_KEEPALIVE ", "
          P_RECOVERY ", "
          "'digest_byte_order': {'type': 'string', 'enum': ['little', 'big'], "
          "'default': 'little', 'description': 'CRC32C byte order on the wire: "
          "little (RFC) or big (for targets that need it)'}, "
          P_BOOL ("share", true, "attach to an open session to the same target and portal") ", "
          P_BOOL ("persist", false, "the handle outlives the connection of this client; "
                  "session.close from any client releases it (a CLI login)") ", "
          COMMON),
     "`{\"session\", \"attached\": bool, \"target\", \"portal\", \"isid\", \"tsih\", "
     "\"state\", \"negotiated\": {RFC key: value}}`",
     RPC_M_LONG, NULL},
    {"session.close", "Releases a handle; the last release logs out.",
     OBJ ("'session'",
          P_SESSION ", "
          P_BOOL ("force", false, "log out now, whatever the handle count") ", "
          COMMON),
     "`{\"closed\": bool, \"refs\": n}`",
     RPC_M_SESSION | RPC_M_LONG, NULL},
    {"session.list", "Lists the sessions.",
     S_NONE,
     "`{\"sessions\": [<session info>]}`",
     0, NULL},
    {"session.get", "Describes one session.",
     S_SESSION,
     "session info: `session`, `target`, `portal`, `state`, `refs`, `isid`, `tsih`, "
     "`negotiated`, `counters`, `in_flight`, `cmdsn_window`, `reconnects`, `last_error` "
     "(null or an error object)",
     RPC_M_SESSION, NULL},
    {"session.reconnect", "Drops and re-establishes the connection now.",
     S_SESSION,
     "`{}`",
     RPC_M_SESSION | RPC_M_LONG, NULL},
    {"scsi.test_unit_ready", "TEST UNIT READY.",
     S_SESSION_LUN,
     "`{}`",
     RPC_M_SESSION | RPC_M_SCSI, NULL},
    {"scsi.inquiry", "INQUIRY: standard data or a VPD page.",
     OBJ ("'session', 'lun'",
          P_SESSION ", " P_LUN ", "
          P_BOOL ("evpd", false, "return a VPD page") ", "
          P_INT ("page", 0, 255, "VPD page code (with evpd)") ", "
          P_DATA_ENCODING ", " COMMON),
     "standard: `{\"peripheral_qualifier\", \"device_type\", \"device_type_name\", "
     "\"removable\", \"version\", \"vendor\", \"product\", \"revision\", ...}`; VPD: "
     "`{\"page\", \"data\"}` plus parsed fields for pages 0x00, 0x80, 0x83, 0xB0",
     RPC_M_SESSION | RPC_M_SCSI | RPC_M_DATA_IN, NULL},
    {"scsi.read_capacity", "READ CAPACITY (16, falling back to 10).",
     S_SESSION_LUN,
     "`{\"blocks\", \"block_size\", \"bytes\", \"lbppbe\", \"lbpme\", \"lbprz\"}`",
     RPC_M_SESSION | RPC_M_SCSI, NULL},
    {"scsi.report_luns", "REPORT LUNS.",
     S_SESSION,
     "`{\"luns\": [int]}`",
     RPC_M_SESSION | RPC_M_SCSI, NULL},
    {"scsi.request_sense", "REQUEST SENSE.",
     S_SESSION_LUN,
     "sense info",
     RPC_M_SESSION | RPC_M_SCSI, NULL},
    {"scsi.read", "Reads blocks.",
     OBJ (REQ_LBA,
          P_SESSION_LUN_LBA ", " P_BLOCK_SIZE ", " P_FUA ", " P_DATA_ENCODING ", " COMMON),
     "`{\"data\", \"bytes\"}`",
     RPC_M_SESSION | RPC_M_SCSI | RPC_M_DATA_IN, NULL},
    {"scsi.write", "Writes blocks.",
     OBJ (REQ_LBA ", 'data'",
          P_SESSION_LUN_LBA ", "
          P_DATA ("blocks times block_size bytes") ", "
          P_BLOCK_SIZE ", " P_FUA ", " COMMON),
     "`{\"bytes\"}`",
     RPC_M_SESSION | RPC_M_SCSI | RPC_M_DATA_OUT, NULL},
    {"scsi.verify", "VERIFY (medium check, no data).",
     OBJ (REQ_LBA, P_SESSION_LUN_LBA ", " COMMON),
     "`{}`",
     RPC_M_SESSION | RPC_M_SCSI, NULL},
    {"scsi.synchronize_cache", "SYNCHRONIZE CACHE of a range or of the whole LUN.",
     OBJ ("'session', 'lun'", P_SESSION_LUN_LBA ", " COMMON),
     "`{}`",
     RPC_M_SESSION | RPC_M_SCSI, NULL},
    {"scsi.write_same", "WRITE SAME: one block repeated over a range.",
     OBJ (REQ_LBA ", 'data'",
          P_SESSION_LUN_LBA ", "
          P_DATA ("one block") ", "
          P_BOOL ("unmap", false, "unmap the range if possible") ", " COMMON),
     "`{}`",
     RPC_M_SESSION | RPC_M_SCSI | RPC_M_DATA_OUT, NULL},
    {"scsi.unmap", "UNMAP ranges.",
     OBJ ("'session', 'lun', 'ranges'",
          P_SESSION ", " P_LUN ", "
          "'ranges': {'type': 'array', 'minItems': 1, 'maxItems': 4095, "
          "'description': 'block ranges to unmap', "
          "'items': " OBJ ("'lba', 'blocks'", P_LBA ", " P_BLOCKS) "}, "
          COMMON),
     "`{}`",
     RPC_M_SESSION | RPC_M_SCSI, NULL},
    {"scsi.compare_and_write", "COMPARE AND WRITE (atomic test and set).",
     OBJ (REQ_LBA ", 'data'",
          P_SESSION ", " P_LUN ", " P_LBA ", "
          P_INT ("blocks", 1, 255, "number of logical blocks") ", "
          P_DATA ("the compare blocks, then the write blocks") ", " COMMON),
     "`{}`; a miscompare is error SCSI_CHECK_CONDITION with sense key MISCOMPARE",
     RPC_M_SESSION | RPC_M_SCSI | RPC_M_DATA_OUT | RPC_M_NON_IDEMPOTENT, NULL},
    {"scsi.mode_sense", "MODE SENSE (6 or 10).",
     OBJ ("'session', 'lun', 'page'",
          P_SESSION ", " P_LUN ", "
          P_INT ("page", 0, 63, "page code") ", "
          "'subpage': {'type': 'integer', 'minimum': 0, 'maximum': 255, 'default': 0, "
          "'description': 'subpage code'}, "
          P_CDB_SIZE ", "
          P_BOOL ("dbd", false, "disable block descriptors") ", "
          P_DATA_ENCODING ", " COMMON),
     "`{\"data\"}`",
     RPC_M_SESSION | RPC_M_SCSI | RPC_M_DATA_IN, NULL},
    {"scsi.mode_select", "MODE SELECT (6 or 10).",
     OBJ ("'session', 'lun', 'data'",
          P_SESSION ", " P_LUN ", "
          P_DATA ("mode parameter list") ", "
          P_CDB_SIZE ", "
          P_BOOL ("save", false, "save the pages (SP)") ", " COMMON),
     "`{}`",
     RPC_M_SESSION | RPC_M_SCSI | RPC_M_DATA_OUT, NULL},
    {"scsi.persistent_reserve_in", "PERSISTENT RESERVE IN.",
     OBJ ("'session', 'lun', 'service_action'",
          P_SESSION ", " P_LUN ", "
          P_INT ("service_action", 0, 31, "0 read keys, 1 read reservation, "
                 "2 report capabilities, 3 read full status") ", "
          P_DATA_ENCODING ", " COMMON),
     "`{\"data\"}` plus parsed keys / reservation",
     RPC_M_SESSION | RPC_M_SCSI | RPC_M_DATA_IN, NULL},
    {"scsi.persistent_reserve_out", "PERSISTENT RESERVE OUT.",
     OBJ ("'session', 'lun', 'service_action', 'scope_type', 'key', 'sa_key'",
          P_SESSION ", " P_LUN ", "
          P_INT ("service_action", 0, 31, "service action") ", "
          P_INT ("scope_type", 0, 255, "scope (high nibble) and type (low nibble)") ", "
          P_U64 ("key", "reservation key") ", "
          P_U64 ("sa_key", "service action reservation key") ", " COMMON),
     "`{}`",
     RPC_M_SESSION | RPC_M_SCSI | RPC_M_NON_IDEMPOTENT, NULL},
    {"scsi.start_stop_unit", "START STOP UNIT.",
     OBJ ("'session', 'lun', 'start'",
          P_SESSION ", " P_LUN ", "
          "'start': {'type': 'boolean', 'description': 'start (true) or stop'}, "
          P_BOOL ("load_eject", false, "load or eject the medium") ", "
          P_INT ("power_condition", 0, 15, "POWER CONDITION field") ", " COMMON),
     "`{}`",
     RPC_M_SESSION | RPC_M_SCSI, NULL},
    {"raw.execute", "Runs any CDB; the SCSI status is returned, not raised.",
     OBJ ("'session', 'lun', 'cdb'",
          P_SESSION ", " P_LUN ", " P_CDB ", "
          "'data_in_length': {'type': 'integer', 'minimum': 0, 'maximum': 4294967295, "
          "'x-limit': 'data_bytes', 'default': 0, "
          "'description': 'bytes of Data-In to accept'}, "
          P_DATA ("Data-Out") ", "
          P_TASK_ATTRIBUTE ", " P_DATA_ENCODING ", " COMMON),
     "`{\"status\", \"status_name\", \"sense\" (hex), \"sense_info\", \"data\", \"bytes\", "
     "\"residual\", \"overflow\", \"underflow\"}`",
     RPC_M_SESSION | RPC_M_SCSI | RPC_M_DATA_IN | RPC_M_DATA_OUT | RPC_M_NON_IDEMPOTENT,
     NULL},
    {"raw.stream", "Runs a CDB and streams its Data-In as notifications.",
     OBJ ("'session', 'lun', 'cdb', 'data_in_length'",
          P_SESSION ", " P_LUN ", " P_CDB ", "
          "'data_in_length': {'type': 'integer', 'minimum': 0, 'maximum': 4294967295, "
          "'description': 'bytes of Data-In to stream'}, "
          P_DATA ("Data-Out") ", "
          P_TASK_ATTRIBUTE ", "
          "'window_bytes': {'type': 'integer', 'minimum': 1, 'maximum': 4294967295, "
          "'x-limit': 'data_bytes', 'default': 4194304, "
          "'description': 'most bytes sent and not yet acknowledged'}, "
          COMMON),
     "notifications `{\"method\": \"raw.stream.data\", \"params\": {\"id\": <request id>, "
     "\"offset\", \"bytes\"}}` each with one attachment, then the reply of raw.execute "
     "without `data`",
     RPC_M_SESSION | RPC_M_SCSI | RPC_M_DATA_OUT | RPC_M_LONG | RPC_M_STREAM
         | RPC_M_NON_IDEMPOTENT,
     NULL},
    {"raw.stream.ack", "Acknowledges streamed bytes of a raw.stream (a notification).",
     OBJ ("'id', 'bytes'",
          "'id': {'type': ['string', 'integer', 'number', 'null'], "
          "'description': 'id of the raw.stream request'}, "
          "'bytes': {'type': 'integer', 'minimum': 0, "
          "'description': 'bytes consumed since the previous ack'}"),
     "none (a notification); `{}` when sent with an id",
     RPC_M_NOTIFICATION, NULL},
    {"tmf.abort_task", "ABORT TASK of the command with a given tag.",
     OBJ ("'session', 'tag'",
          P_SESSION ", "
          "'tag': {'type': 'string', 'minLength': 1, 'maxLength': 64, 'format': 'text', "
          "'description': 'tag of the command to abort'}, "
          P_TIMEOUT),
     R_TMF,
     RPC_M_SESSION | RPC_M_LONG, NULL},
    {"tmf.abort_task_set", "ABORT TASK SET on a LUN.",
     S_SESSION_LUN, R_TMF, RPC_M_SESSION | RPC_M_LONG, NULL},
    {"tmf.clear_task_set", "CLEAR TASK SET on a LUN.",
     S_SESSION_LUN, R_TMF, RPC_M_SESSION | RPC_M_LONG, NULL},
    {"tmf.lun_reset", "LOGICAL UNIT RESET.",
     S_SESSION_LUN, R_TMF, RPC_M_SESSION | RPC_M_LONG, NULL},
    {"tmf.target_warm_reset", "TARGET WARM RESET.",
     S_SESSION, R_TMF, RPC_M_SESSION | RPC_M_LONG, NULL},
    {"tmf.target_cold_reset", "TARGET COLD RESET.",
     S_SESSION, R_TMF, RPC_M_SESSION | RPC_M_LONG, NULL},
    {"protocol.nop", "NOP-Out ping.",
     S_SESSION, "`{\"rtt_us\"}`", RPC_M_SESSION, NULL},
    {"protocol.logout", "Graceful logout now, whatever the handle count.",
     S_SESSION, "`{}`", RPC_M_SESSION | RPC_M_LONG, NULL},
    {"protocol.confirm_exp_stat_sn", "Confirms ExpStatSN to the target (a NOP-Out).",
     S_SESSION, "`{}`", RPC_M_SESSION, NULL},
    {"events.get", "Recent events from the ring, to fill gaps after a PUB drop.",
     OBJ ("'since_seq'",
          "'since_seq': {'type': 'integer', 'minimum': 0, "
          "'description': 'return events with a larger seq'}, "
          "'max': {'type': 'integer', 'minimum': 1, 'maximum': 10000, 'default': 1000, "
          "'description': 'most events returned'}, "
          COMMON),
     "`{\"events\": [...], \"last_seq\"}`",
     0, NULL},
    /* Additions to API.md (allowed: "you may add"). */
    {"rpc.echo", "Echoes data back: the round trip of the RPC layer alone.",
     OBJ ("'data'",
          "'data': {'type': ['string', 'object'], 'format': 'data', "
          "'description': 'bytes to echo: base64 or an attachment'}, "
          "'data_encoding': {'type': 'string', 'enum': ['base64', 'attachment'], "
          "'default': 'base64', 'description': 'how the result carries bulk data'}, "
          COMMON),
     "`{\"data\", \"bytes\"}`",
     RPC_M_DATA_IN | RPC_M_DATA_OUT, NULL},
};

/* clang-format on */

const rpc_method_def_t *
rpc_method_table (size_t *count_p)
{
    *count_p = sizeof s_table / sizeof s_table[0];
    return s_table;
}

/* ------------------------------------------------------- compiled form */

typedef struct {
    const rpc_method_def_t *def;
    json_t *schema;
    rpc_handler_fn *handler;
} s_entry_t;

struct rpc_methods {
    size_t count;
    s_entry_t *entries;
    size_t *by_name; /* indexes sorted by name */
};

/* Sorts the name index (insertion sort: tables are small, setup only). */
static void
s_sort_by_name (rpc_methods_t *self)
{
    for (size_t i = 1; i < self->count; i++) {
        size_t v = self->by_name[i], j = i;
        while (j > 0
               && strcmp (self->entries[self->by_name[j - 1]].def->name,
                          self->entries[v].def->name)
                      > 0) {
            self->by_name[j] = self->by_name[j - 1];
            j--;
        }
        self->by_name[j] = v;
    }
}

rpc_methods_t *
rpc_methods_new (const rpc_method_def_t *defs, size_t count, char *where,
                 size_t where_size)
{
    rpc_methods_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->entries = calloc (count ? count : 1, sizeof *self->entries);
    self->by_name = calloc (count ? count : 1, sizeof *self->by_name);
    if (!self->entries || !self->by_name) {
        rpc_methods_destroy (&self);
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        char why[160] = "";
        self->entries[i].def = &defs[i];
        self->entries[i].handler = defs[i].handler;
        self->entries[i].schema = rpc_schema_parse (defs[i].params, why, sizeof why);
        self->count = i + 1;
        self->by_name[i] = i;
        if (!self->entries[i].schema) {
            if (where_size > 0)
                snprintf (where, where_size, "%s: %s", defs[i].name, why);
            rpc_methods_destroy (&self);
            return NULL;
        }
    }
    s_sort_by_name (self);
    for (size_t i = 1; i < count; i++)
        if (strcmp (self->entries[self->by_name[i]].def->name,
                    self->entries[self->by_name[i - 1]].def->name)
            == 0) {
            if (where_size > 0)
                snprintf (where, where_size, "%s: name repeats",
                          self->entries[self->by_name[i]].def->name);
            rpc_methods_destroy (&self);
            return NULL;
        }
    return self;
}

rpc_methods_t *
rpc_methods_new_api (void)
{
    size_t count;
    const rpc_method_def_t *defs = rpc_method_table (&count);
    return rpc_methods_new (defs, count, NULL, 0);
}

void
rpc_methods_destroy (rpc_methods_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rpc_methods_t *self = *self_p;
    for (size_t i = 0; self->entries && i < self->count; i++)
        json_decref (self->entries[i].schema);
    free (self->entries);
    free (self->by_name);
    free (self);
    *self_p = NULL;
}

size_t
rpc_methods_count (const rpc_methods_t *self)
{
    return self->count;
}

const rpc_method_def_t *
rpc_methods_at (const rpc_methods_t *self, size_t i)
{
    return i < self->count ? self->entries[i].def : NULL;
}

const json_t *
rpc_methods_schema (const rpc_methods_t *self, size_t i)
{
    return i < self->count ? self->entries[i].schema : NULL;
}

int
rpc_methods_find (const rpc_methods_t *self, const char *name)
{
    size_t lo = 0, hi = self->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        size_t idx = self->by_name[mid];
        int c = strcmp (name, self->entries[idx].def->name);
        if (c == 0)
            return (int)idx;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return -1;
}

int
rpc_methods_set_handler (rpc_methods_t *self, const char *name, rpc_handler_fn *handler)
{
    int i = rpc_methods_find (self, name);
    if (i < 0)
        return UIS_ERR_INVALID_ARG;
    self->entries[i].handler = handler;
    return 0;
}

rpc_handler_fn *
rpc_methods_handler (const rpc_methods_t *self, size_t i)
{
    return i < self->count ? self->entries[i].handler : NULL;
}

json_t *
rpc_methods_discover (const rpc_methods_t *self)
{
    json_t *list = json_array ();
    for (size_t i = 0; list && i < self->count; i++) {
        const rpc_method_def_t *d = self->entries[i].def;
        json_t *m = json_pack (
            "{s:s, s:s, s:o, s:s}", "name", d->name, "summary", d->summary, "params",
            json_deep_copy (self->entries[i].schema), "result", d->result);
        if (!m || json_array_append_new (list, m) != 0) {
            json_decref (list);
            return NULL;
        }
    }
    if (!list)
        return NULL;
    return json_pack ("{s:i, s:o}", "api_version", RPC_API_VERSION, "methods", list);
}

json_t *
rpc_methods_check (const rpc_methods_t *self, const char *method, json_t *params,
                   const rpc_schema_ctx_t *ctx, size_t *index_p)
{
    int i = rpc_methods_find (self, method);
    if (i < 0)
        return rpc_error_method_not_found ();
    json_t *err = rpc_schema_validate (self->entries[i].schema, params, "params", ctx);
    if (err)
        return err;
    if (rpc_schema_apply_defaults (self->entries[i].schema, params) != 0)
        return rpc_error_internal ("out of memory");
    *index_p = (size_t)i;
    return NULL;
}

size_t
rpc_methods_check_msg (const rpc_methods_t *self, rpc_msg_t *msg,
                       const rpc_schema_ctx_t *ctx)
{
    for (size_t i = 0; i < rpc_msg_count (msg); i++) {
        if (!rpc_msg_is_pending (msg, i))
            continue;
        size_t idx = 0;
        json_t *err = rpc_methods_check (self, rpc_msg_method (msg, i),
                                         rpc_msg_params (msg, i), ctx, &idx);
        if (err)
            rpc_msg_fail (msg, i, err);
        else
            rpc_msg_set_user (msg, i, self->entries[idx].def);
    }
    return rpc_msg_pending_count (msg);
}
