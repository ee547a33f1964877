/* fuzz_rpc.c: the JSON-RPC core on untrusted bytes: parse frame 0, check
 * every call against the API method table, resolve `data` params against
 * fake attachment frames, answer, build and serialize the reply.
 * Input: byte 0 picks options (bits 0-1: attachment frames 0..3, bit 2:
 * positional params, bit 3: a small data limit); the rest is frame 0. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rpc/bulk.h"
#include "rpc/errors.h"
#include "rpc/jsonrpc.h"
#include "rpc/methods.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* Answers pending call i: resolves its data param, echoes a bulk result. */
static void
s_answer (rpc_msg_t *msg, size_t i, const rpc_frame_t *frames, size_t nframes,
          size_t data_max)
{
    json_t *params = rpc_msg_params (msg, i);
    json_t *data = json_object_get (params, "data");
    rpc_bulk_t bulk = {0};
    if (data) {
        json_t *err =
            rpc_bulk_resolve (data, "params.data", frames, nframes, data_max, &bulk);
        if (err) {
            rpc_msg_fail (msg, i, err);
            return;
        }
    }
    json_t *result = json_object ();
    json_object_set_new (result, "data",
                         rpc_bulk_result (params, bulk.data, bulk.size, 1));
    json_object_set_new (result, "bytes", json_integer ((json_int_t)bulk.size));
    rpc_bulk_release (&bulk);
    rpc_msg_answer (msg, i, result);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    static rpc_methods_t *methods;
    if (!methods)
        methods = rpc_methods_new_api ();
    if (!methods)
        abort ();
    uint8_t opt = size > 0 ? data[0] : 0;
    const uint8_t *frame0 = size > 0 ? data + 1 : data;
    size_t len = size > 0 ? size - 1 : 0;

    static const uint8_t payload[] = "attachment-bytes";
    rpc_frame_t frames[4] = {
        {frame0, len}, {payload, 16}, {payload, 0}, {payload, sizeof payload}};
    size_t nframes = 1 + (opt & 3);
    rpc_limits_t limits;
    rpc_limits_default (&limits);
    limits.positional_params = (opt & 4) != 0;
    if (opt & 8)
        limits.data_max_bytes = 8;

    json_t *reply = NULL;
    rpc_msg_t *msg = rpc_msg_parse (frame0, len, &limits, &reply);
    if (msg) {
        rpc_schema_ctx_t ctx = {.nframes = nframes,
                                .data_max_bytes = limits.data_max_bytes};
        rpc_methods_check_msg (methods, msg, &ctx);
        for (size_t i = 0; i < rpc_msg_count (msg); i++)
            if (rpc_msg_is_pending (msg, i))
                s_answer (msg, i, frames, nframes, limits.data_max_bytes);
        if (rpc_msg_pending_count (msg) != 0 || rpc_msg_reply (msg, &reply) != 0)
            abort ();
        rpc_msg_destroy (&msg);
    }
    if (reply) {
        char *text = json_dumps (reply, JSON_COMPACT);
        if (!text)
            abort ();
        free (text);
        json_decref (reply);
    }
    return 0;
}
