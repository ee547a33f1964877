/*  uiscsi_api.c - typed calls of the uiscsid C client, each a thin layer
    over uiscsi_call / uiscsi_submit (uiscsi.c). Bulk results are always
    requested as attachments; bulk params always travel as attachments.
*/

#include "uiscsi.h"

#include <stdio.h>
#include <string.h>

/* Fills err with a client-side error (code from uiscsi.h). */
static void
s_fail (uiscsi_error_t *err, int code, const char *message)
{
    if (!err)
        return;
    uiscsi_error_clear (err);
    err->code = code;
    snprintf (err->name, sizeof err->name, "%s", uiscsi_error_name (code));
    snprintf (err->message, sizeof err->message, "%s", message);
}

/* Merges options (stolen, may be NULL) into params (a new object, or NULL on
   allocation failure: then both are released). */
static json_t *
s_merge (json_t *params, json_t *options)
{
    if (params && options && json_is_object (options))
        json_object_update (params, options);
    json_decref (options);
    return params;
}

/* Runs a call whose params are a new object (NULL means out of memory). */
static int
s_call (uiscsi_t *self, const char *method, json_t *params, const uiscsi_buf_t *att,
        size_t n, uiscsi_result_t **result, uiscsi_error_t *err)
{
    if (!params) {
        if (result)
            *result = NULL;
        s_fail (err, UISCSI_CLIENT_INVALID, "bad argument (or out of memory)");
        return -1;
    }
    return uiscsi_call (self, method, params, att, n, result, err);
}

/* Params {"session": s} (new), or NULL. */
static json_t *
s_session (const char *session)
{
    return session ? json_pack ("{s:s}", "session", session) : NULL;
}

/* Params {"session": s, "lun": lun} (new), or NULL. */
static json_t *
s_session_lun (const char *session, int lun)
{
    return session ? json_pack ("{s:s, s:i}", "session", session, "lun", lun) : NULL;
}

/* rpc.discover. */
int
uiscsi_rpc_discover (uiscsi_t *self, uiscsi_result_t **result, uiscsi_error_t *err)
{
    return uiscsi_call (self, "rpc.discover", NULL, NULL, 0, result, err);
}

/* rpc.echo of data, sent and returned as attachments. */
int
uiscsi_rpc_echo (uiscsi_t *self, const uiscsi_buf_t *data, uiscsi_result_t **result,
                 uiscsi_error_t *err)
{
    json_t *p = data ? json_pack ("{s:o, s:s}", "data", uiscsi_attachment_ref (1),
                                  "data_encoding", "attachment")
                     : NULL;
    return s_call (self, "rpc.echo", p, data, 1, result, err);
}

/* daemon.info (the client notes the limits). */
int
uiscsi_daemon_info (uiscsi_t *self, uiscsi_result_t **result, uiscsi_error_t *err)
{
    return uiscsi_call (self, "daemon.info", NULL, NULL, 0, result, err);
}

/* daemon.stats. */
int
uiscsi_daemon_stats (uiscsi_t *self, uiscsi_result_t **result, uiscsi_error_t *err)
{
    return uiscsi_call (self, "daemon.stats", NULL, NULL, 0, result, err);
}

/* events.get; max <= 0 uses the daemon's default. */
int
uiscsi_events_get (uiscsi_t *self, int64_t since_seq, int max, uiscsi_result_t **result,
                   uiscsi_error_t *err)
{
    json_t *p = json_pack ("{s:I}", "since_seq", (json_int_t)since_seq);
    if (p && max > 0)
        json_object_set_new (p, "max", json_integer (max));
    return s_call (self, "events.get", p, NULL, 0, result, err);
}

/* discovery.send_targets. */
int
uiscsi_discovery_send_targets (uiscsi_t *self, const char *portal, json_t *options,
                               uiscsi_result_t **result, uiscsi_error_t *err)
{
    json_t *p = portal ? json_pack ("{s:s}", "portal", portal) : NULL;
    if (!p)
        json_decref (options);
    return s_call (self, "discovery.send_targets", s_merge (p, options), NULL, 0, result,
                   err);
}

/* session.open; copies the session id out. */
int
uiscsi_session_open (uiscsi_t *self, const char *portal, const char *target,
                     json_t *options, char session[UISCSI_SESSION_MAX],
                     uiscsi_result_t **result, uiscsi_error_t *err)
{
    json_t *p = portal && target && session
                    ? json_pack ("{s:s, s:s}", "portal", portal, "target", target)
                    : NULL;
    if (!p)
        json_decref (options);
    uiscsi_result_t *r = NULL;
    if (result)
        *result = NULL;
    if (s_call (self, "session.open", s_merge (p, options), NULL, 0, &r, err) != 0)
        return -1;
    const char *id = uiscsi_result_str (r, "session");
    if (!id || strlen (id) >= UISCSI_SESSION_MAX) {
        uiscsi_result_destroy (&r);
        s_fail (err, UISCSI_CLIENT_BAD_REPLY, "session.open without a valid session id");
        return -1;
    }
    snprintf (session, UISCSI_SESSION_MAX, "%s", id);
    if (result)
        *result = r;
    else
        uiscsi_result_destroy (&r);
    return 0;
}

/* session.close. */
int
uiscsi_session_close (uiscsi_t *self, const char *session, bool force,
                      uiscsi_error_t *err)
{
    json_t *p = s_session (session);
    if (p && force)
        json_object_set_new (p, "force", json_true ());
    return s_call (self, "session.close", p, NULL, 0, NULL, err);
}

/* session.list. */
int
uiscsi_session_list (uiscsi_t *self, uiscsi_result_t **result, uiscsi_error_t *err)
{
    return uiscsi_call (self, "session.list", NULL, NULL, 0, result, err);
}

/* session.get. */
int
uiscsi_session_get (uiscsi_t *self, const char *session, uiscsi_result_t **result,
                    uiscsi_error_t *err)
{
    return s_call (self, "session.get", s_session (session), NULL, 0, result, err);
}

/* session.reconnect. */
int
uiscsi_session_reconnect (uiscsi_t *self, const char *session, uiscsi_error_t *err)
{
    return s_call (self, "session.reconnect", s_session (session), NULL, 0, NULL, err);
}

/* scsi.test_unit_ready. */
int
uiscsi_scsi_test_unit_ready (uiscsi_t *self, const char *session, int lun,
                             uiscsi_error_t *err)
{
    return s_call (self, "scsi.test_unit_ready", s_session_lun (session, lun), NULL, 0,
                   NULL, err);
}

/* scsi.inquiry: standard (page < 0) or VPD. */
int
uiscsi_scsi_inquiry (uiscsi_t *self, const char *session, int lun, int page,
                     uiscsi_result_t **result, uiscsi_error_t *err)
{
    json_t *p = s_session_lun (session, lun);
    if (p && page >= 0) {
        json_object_set_new (p, "evpd", json_true ());
        json_object_set_new (p, "page", json_integer (page));
    }
    if (p)
        json_object_set_new (p, "data_encoding", json_string ("attachment"));
    return s_call (self, "scsi.inquiry", p, NULL, 0, result, err);
}

/* scsi.read_capacity; blocks / block_size may be NULL. */
int
uiscsi_scsi_read_capacity (uiscsi_t *self, const char *session, int lun, uint64_t *blocks,
                           uint32_t *block_size, uiscsi_result_t **result,
                           uiscsi_error_t *err)
{
    uiscsi_result_t *r = NULL;
    if (result)
        *result = NULL;
    if (s_call (self, "scsi.read_capacity", s_session_lun (session, lun), NULL, 0, &r,
                err)
        != 0)
        return -1;
    if (blocks)
        *blocks = (uint64_t)uiscsi_result_int (r, "blocks", 0);
    if (block_size)
        *block_size = (uint32_t)uiscsi_result_int (r, "block_size", 0);
    if (result)
        *result = r;
    else
        uiscsi_result_destroy (&r);
    return 0;
}

/* scsi.report_luns. */
int
uiscsi_scsi_report_luns (uiscsi_t *self, const char *session, uiscsi_result_t **result,
                         uiscsi_error_t *err)
{
    return s_call (self, "scsi.report_luns", s_session (session), NULL, 0, result, err);
}

/* scsi.request_sense. */
int
uiscsi_scsi_request_sense (uiscsi_t *self, const char *session, int lun,
                           uiscsi_result_t **result, uiscsi_error_t *err)
{
    return s_call (self, "scsi.request_sense", s_session_lun (session, lun), NULL, 0,
                   result, err);
}

/* Params of scsi.read (new), or NULL. */
static json_t *
s_read_params (const char *session, int lun, uint64_t lba, uint32_t blocks)
{
    return session ? json_pack ("{s:s, s:i, s:I, s:I, s:s}", "session", session, "lun",
                                lun, "lba", (json_int_t)lba, "blocks", (json_int_t)blocks,
                                "data_encoding", "attachment")
                   : NULL;
}

/* Params of scsi.write with data as attachment 1 (new), or NULL. */
static json_t *
s_write_params (const char *session, int lun, uint64_t lba, uint32_t blocks,
                const uiscsi_buf_t *data)
{
    return session && data
               ? json_pack ("{s:s, s:i, s:I, s:I, s:o}", "session", session, "lun", lun,
                            "lba", (json_int_t)lba, "blocks", (json_int_t)blocks, "data",
                            uiscsi_attachment_ref (1))
               : NULL;
}

/* scsi.read returning the result. */
int
uiscsi_scsi_read_result (uiscsi_t *self, const char *session, int lun, uint64_t lba,
                         uint32_t blocks, uiscsi_result_t **result, uiscsi_error_t *err)
{
    return s_call (self, "scsi.read", s_read_params (session, lun, lba, blocks), NULL, 0,
                   result, err);
}

/* scsi.read into buf. */
int
uiscsi_scsi_read (uiscsi_t *self, const char *session, int lun, uint64_t lba,
                  uint32_t blocks, void *buf, size_t size, size_t *bytes,
                  uiscsi_error_t *err)
{
    uiscsi_result_t *r = NULL;
    if (bytes)
        *bytes = 0;
    if (uiscsi_scsi_read_result (self, session, lun, lba, blocks, &r, err) != 0)
        return -1;
    const void *data;
    size_t n;
    int rc = 0;
    if (uiscsi_result_data (r, &data, &n) != 0) {
        s_fail (err, UISCSI_CLIENT_BAD_REPLY, "scsi.read result without data");
        rc = -1;
    }
    else if (n > size) {
        s_fail (err, UISCSI_CLIENT_BUFFER, "read data larger than the buffer");
        rc = -1;
    }
    else {
        if (n)
            memcpy (buf, data, n);
        if (bytes)
            *bytes = n;
    }
    uiscsi_result_destroy (&r);
    return rc;
}

/* scsi.write from data (zero copy). */
int
uiscsi_scsi_write (uiscsi_t *self, const char *session, int lun, uint64_t lba,
                   uint32_t blocks, const uiscsi_buf_t *data, uiscsi_error_t *err)
{
    return s_call (self, "scsi.write", s_write_params (session, lun, lba, blocks, data),
                   data, 1, NULL, err);
}

/* scsi.synchronize_cache of the whole LUN. */
int
uiscsi_scsi_synchronize_cache (uiscsi_t *self, const char *session, int lun,
                               uiscsi_error_t *err)
{
    return s_call (self, "scsi.synchronize_cache", s_session_lun (session, lun), NULL, 0,
                   NULL, err);
}

/* raw.execute of a CDB (sent as hex). */
int
uiscsi_raw_execute (uiscsi_t *self, const char *session, int lun, const uint8_t *cdb,
                    size_t cdb_len, const uiscsi_buf_t *data_out, uint32_t data_in_length,
                    uiscsi_result_t **result, uiscsi_error_t *err)
{
    char hex[2 * 260 + 1];
    json_t *p = NULL;
    if (cdb && cdb_len >= 1 && cdb_len <= 260) {
        for (size_t i = 0; i < cdb_len; i++)
            snprintf (hex + 2 * i, 3, "%02x", cdb[i]);
        p = s_session_lun (session, lun);
    }
    if (p) {
        json_object_set_new (p, "cdb", json_string (hex));
        json_object_set_new (p, "data_in_length", json_integer (data_in_length));
        json_object_set_new (p, "data_encoding", json_string ("attachment"));
        if (data_out)
            json_object_set_new (p, "data", uiscsi_attachment_ref (1));
    }
    return s_call (self, "raw.execute", p, data_out, data_out ? 1 : 0, result, err);
}

/* tmf.abort_task of the command tagged tag. */
int
uiscsi_tmf_abort_task (uiscsi_t *self, const char *session, const char *tag,
                       uiscsi_result_t **result, uiscsi_error_t *err)
{
    json_t *p =
        session && tag ? json_pack ("{s:s, s:s}", "session", session, "tag", tag) : NULL;
    return s_call (self, "tmf.abort_task", p, NULL, 0, result, err);
}

/* tmf.abort_task_set. */
int
uiscsi_tmf_abort_task_set (uiscsi_t *self, const char *session, int lun,
                           uiscsi_result_t **result, uiscsi_error_t *err)
{
    return s_call (self, "tmf.abort_task_set", s_session_lun (session, lun), NULL, 0,
                   result, err);
}

/* tmf.clear_task_set. */
int
uiscsi_tmf_clear_task_set (uiscsi_t *self, const char *session, int lun,
                           uiscsi_result_t **result, uiscsi_error_t *err)
{
    return s_call (self, "tmf.clear_task_set", s_session_lun (session, lun), NULL, 0,
                   result, err);
}

/* tmf.lun_reset. */
int
uiscsi_tmf_lun_reset (uiscsi_t *self, const char *session, int lun,
                      uiscsi_result_t **result, uiscsi_error_t *err)
{
    return s_call (self, "tmf.lun_reset", s_session_lun (session, lun), NULL, 0, result,
                   err);
}

/* tmf.target_warm_reset. */
int
uiscsi_tmf_target_warm_reset (uiscsi_t *self, const char *session,
                              uiscsi_result_t **result, uiscsi_error_t *err)
{
    return s_call (self, "tmf.target_warm_reset", s_session (session), NULL, 0, result,
                   err);
}

/* tmf.target_cold_reset. */
int
uiscsi_tmf_target_cold_reset (uiscsi_t *self, const char *session,
                              uiscsi_result_t **result, uiscsi_error_t *err)
{
    return s_call (self, "tmf.target_cold_reset", s_session (session), NULL, 0, result,
                   err);
}

/* protocol.nop; rtt_us may be NULL. */
int
uiscsi_protocol_nop (uiscsi_t *self, const char *session, uint64_t *rtt_us,
                     uiscsi_error_t *err)
{
    uiscsi_result_t *r = NULL;
    if (s_call (self, "protocol.nop", s_session (session), NULL, 0, &r, err) != 0)
        return -1;
    if (rtt_us)
        *rtt_us = (uint64_t)uiscsi_result_int (r, "rtt_us", 0);
    uiscsi_result_destroy (&r);
    return 0;
}

/* protocol.logout. */
int
uiscsi_protocol_logout (uiscsi_t *self, const char *session, uiscsi_error_t *err)
{
    return s_call (self, "protocol.logout", s_session (session), NULL, 0, NULL, err);
}

/* Submits with params that are a new object (NULL: out of memory). */
static int64_t
s_submit (uiscsi_t *self, const char *method, json_t *params, const uiscsi_buf_t *att,
          size_t n, void *user, uiscsi_error_t *err)
{
    if (!params) {
        s_fail (err, UISCSI_CLIENT_INVALID, "bad argument (or out of memory)");
        return -1;
    }
    return uiscsi_submit (self, method, params, att, n, user, err);
}

/* Submits rpc.echo of data. */
int64_t
uiscsi_submit_rpc_echo (uiscsi_t *self, const uiscsi_buf_t *data, void *user,
                        uiscsi_error_t *err)
{
    json_t *p = data ? json_pack ("{s:o, s:s}", "data", uiscsi_attachment_ref (1),
                                  "data_encoding", "attachment")
                     : NULL;
    return s_submit (self, "rpc.echo", p, data, 1, user, err);
}

/* Submits scsi.read. */
int64_t
uiscsi_submit_scsi_read (uiscsi_t *self, const char *session, int lun, uint64_t lba,
                         uint32_t blocks, void *user, uiscsi_error_t *err)
{
    return s_submit (self, "scsi.read", s_read_params (session, lun, lba, blocks), NULL,
                     0, user, err);
}

/* Submits scsi.write of data (zero copy). */
int64_t
uiscsi_submit_scsi_write (uiscsi_t *self, const char *session, int lun, uint64_t lba,
                          uint32_t blocks, const uiscsi_buf_t *data, void *user,
                          uiscsi_error_t *err)
{
    return s_submit (self, "scsi.write", s_write_params (session, lun, lba, blocks, data),
                     data, 1, user, err);
}
