/* bulk.c: attachments, strict base64 (RFC 4648 section 4) and hex. */
#include "rpc/bulk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/ascii.h"
#include "proto/errors.h"
#include "rpc/errors.h"

#define S_ATTACHMENT_KEY "$attachment"

static const char s_b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
rpc_attachment_index (const json_t *value, size_t *k_p)
{
    if (!json_is_object (value) || json_object_size (value) != 1)
        return UIS_ERR_MALFORMED;
    json_t *k = json_object_get (value, S_ATTACHMENT_KEY);
    if (!json_is_integer (k))
        return UIS_ERR_MALFORMED;
    if (json_integer_value (k) < 1)
        return UIS_ERR_OUT_OF_RANGE;
    *k_p = (size_t)json_integer_value (k);
    return 0;
}

json_t *
rpc_bulk_check (const json_t *value, const char *param, size_t nframes, size_t max_bytes)
{
    if (json_is_string (value)) {
        size_t n;
        if (rpc_base64_decoded_len (json_string_value (value), json_string_length (value),
                                    &n)
            != 0)
            return rpc_error_invalid_params (
                param, "expected strict base64 (RFC 4648, padded, no whitespace)");
        if (n > max_bytes)
            return rpc_error_limit_exceeded ("data_bytes", n);
        return NULL;
    }
    if (json_is_object (value)) {
        size_t k = 0;
        int rc = rpc_attachment_index (value, &k);
        if (rc == UIS_ERR_OUT_OF_RANGE)
            return rpc_error_invalid_params (param, "attachment index must be >= 1");
        if (rc != 0)
            return rpc_error_invalid_params (
                param, "expected {\"$attachment\": k}: exactly that key, k an integer");
        if (k >= nframes) {
            char reason[96];
            snprintf (reason, sizeof reason,
                      "attachment %zu is not in the message (%zu frames)", k, nframes);
            return rpc_error_invalid_params (param, reason);
        }
        return NULL;
    }
    return rpc_error_invalid_params (param,
                                     "expected base64 string or {\"$attachment\": k}");
}

json_t *
rpc_bulk_resolve (const json_t *value, const char *param, const rpc_frame_t *frames,
                  size_t nframes, size_t max_bytes, rpc_bulk_t *out)
{
    memset (out, 0, sizeof *out);
    json_t *err = rpc_bulk_check (value, param, nframes, max_bytes);
    if (err)
        return err;
    if (json_is_object (value)) {
        size_t k = 0;
        rpc_attachment_index (value, &k);
        if (frames[k].size > max_bytes)
            return rpc_error_limit_exceeded ("data_bytes", frames[k].size);
        out->data = frames[k].data;
        out->size = frames[k].size;
        out->frame = k;
        return NULL;
    }
    const char *text = json_string_value (value);
    size_t len = json_string_length (value), n = 0;
    rpc_base64_decoded_len (text, len, &n);
    out->owned = malloc (n ? n : 1);
    if (!out->owned)
        return rpc_error_internal ("out of memory");
    rpc_base64_decode (text, len, out->owned, n, &out->size);
    out->data = out->owned;
    return NULL;
}

void
rpc_bulk_release (rpc_bulk_t *self)
{
    if (!self)
        return;
    free (self->owned);
    memset (self, 0, sizeof *self);
}

rpc_bulk_encoding_t
rpc_bulk_encoding (const json_t *params)
{
    const char *e = json_string_value (json_object_get (params, "data_encoding"));
    return e && strcmp (e, "attachment") == 0 ? RPC_BULK_ATTACHMENT : RPC_BULK_BASE64;
}

json_t *
rpc_bulk_result (const json_t *params, const void *data, size_t size, size_t frame)
{
    if (rpc_bulk_encoding (params) == RPC_BULK_ATTACHMENT)
        return rpc_attachment_new (frame);
    return rpc_base64_json (data, size);
}

json_t *
rpc_attachment_new (size_t k)
{
    return json_pack ("{s:I}", S_ATTACHMENT_KEY, (json_int_t)k);
}

size_t
rpc_base64_encoded_len (size_t n)
{
    if (n / 3 >= SIZE_MAX / 4 - 1)
        return SIZE_MAX;
    return (n + 2) / 3 * 4;
}

int
rpc_base64_encode (const void *data, size_t size, char *out, size_t out_size)
{
    size_t need = rpc_base64_encoded_len (size);
    if (need == SIZE_MAX || out_size <= need)
        return UIS_ERR_BUFFER_TOO_SMALL;
    const uint8_t *p = data;
    char *o = out;
    size_t i = 0;
    for (; i + 3 <= size; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = s_b64[v >> 18];
        *o++ = s_b64[(v >> 12) & 63];
        *o++ = s_b64[(v >> 6) & 63];
        *o++ = s_b64[v & 63];
    }
    if (size - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = s_b64[v >> 18];
        *o++ = s_b64[(v >> 12) & 63];
        *o++ = '=';
        *o++ = '=';
    }
    else if (size - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = s_b64[v >> 18];
        *o++ = s_b64[(v >> 12) & 63];
        *o++ = s_b64[(v >> 6) & 63];
        *o++ = '=';
    }
    *o = '\0';
    return 0;
}

/* Validates strict base64 and, when out is not NULL, decodes it. */
static int
s_base64_run (const char *text, size_t len, uint8_t *out, size_t *n_p)
{
    if (len % 4 != 0)
        return UIS_ERR_MALFORMED;
    size_t pad = 0;
    if (len >= 4 && text[len - 1] == '=')
        pad = text[len - 2] == '=' ? 2 : 1;
    size_t n = len / 4 * 3 - pad, o = 0;
    for (size_t i = 0; i < len; i += 4) {
        bool last = i + 4 == len;
        int v[4];
        for (int j = 0; j < 4; j++) {
            bool is_pad = last && j >= 4 - (int)pad;
            v[j] = is_pad ? 0 : b64_digit_value ((unsigned char)text[i + (size_t)j]);
            if (v[j] < 0)
                return UIS_ERR_MALFORMED;
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6
                     | (uint32_t)v[3];
        /* Canonical encoding: the bits under the padding are zero. */
        if (last && pad == 2 && (w & 0xffff) != 0)
            return UIS_ERR_MALFORMED;
        if (last && pad == 1 && (w & 0xff) != 0)
            return UIS_ERR_MALFORMED;
        size_t take = last ? 3 - pad : 3;
        if (out) {
            uint8_t b[3] = {(uint8_t)(w >> 16), (uint8_t)(w >> 8), (uint8_t)w};
            memcpy (out + o, b, take);
        }
        o += take;
    }
    *n_p = n;
    return 0;
}

int
rpc_base64_decoded_len (const char *text, size_t len, size_t *n_p)
{
    return s_base64_run (text, len, NULL, n_p);
}

int
rpc_base64_decode (const char *text, size_t len, uint8_t *out, size_t out_size,
                   size_t *n_p)
{
    size_t n;
    int rc = s_base64_run (text, len, NULL, &n);
    if (rc != 0)
        return rc;
    if (n > out_size)
        return UIS_ERR_BUFFER_TOO_SMALL;
    return s_base64_run (text, len, out, n_p);
}

json_t *
rpc_base64_json (const void *data, size_t size)
{
    size_t n = rpc_base64_encoded_len (size);
    if (n == SIZE_MAX)
        return NULL;
    char *text = malloc (n + 1);
    if (!text)
        return NULL;
    rpc_base64_encode (data, size, text, n + 1);
    json_t *s = json_stringn_nocheck (text, n);
    free (text);
    return s;
}

json_t *
rpc_hex_json (const void *data, size_t size)
{
    static const char digits[] = "0123456789abcdef";
    if (size > (SIZE_MAX - 1) / 2)
        return NULL;
    char *text = malloc (size * 2 + 1);
    if (!text)
        return NULL;
    const uint8_t *p = data;
    for (size_t i = 0; i < size; i++) {
        text[2 * i] = digits[p[i] >> 4];
        text[2 * i + 1] = digits[p[i] & 15];
    }
    json_t *s = json_stringn_nocheck (text, size * 2);
    free (text);
    return s;
}

int
rpc_hex_decode (const char *text, size_t len, uint8_t *out, size_t out_size, size_t *n_p)
{
    if (len % 2 != 0)
        return UIS_ERR_MALFORMED;
    for (size_t i = 0; i < len; i++)
        if (hex_digit_value ((unsigned char)text[i]) < 0)
            return UIS_ERR_MALFORMED;
    if (len / 2 > out_size)
        return UIS_ERR_BUFFER_TOO_SMALL;
    for (size_t i = 0; i < len; i += 2)
        out[i / 2] = (uint8_t)(hex_digit_value ((unsigned char)text[i]) << 4
                               | hex_digit_value ((unsigned char)text[i + 1]));
    *n_p = len / 2;
    return 0;
}
