/* schema.c: the JSON Schema subset that validates RPC params. */
#include "rpc/schema.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/errors.h"
#include "proto/portal.h"
#include "rpc/bulk.h"
#include "rpc/errors.h"

#define S_PATH_MAX   256 /* longest parameter path in an error */
#define S_KEY_SHOW   48  /* bytes of a caller's key shown in a path */
#define S_REASON_MAX 200

static const char *const s_keywords[] = {
    "type",    "properties", "required",    "additionalProperties",
    "items",   "minItems",   "maxItems",    "uniqueItems",
    "minimum", "maximum",    "minLength",   "maxLength",
    "enum",    "default",    "description", "format",
    "x-limit"};

static const char *const s_types[] = {"object", "array",   "string", "integer",
                                      "number", "boolean", "null"};

static const char *const s_formats[] = {"text",   "path",        "hex",  "lun", "u64",
                                        "portal", "digest_list", "data", "auth"};

/* Whether name is one of the n strings of list. */
static bool
s_in (const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp (name, list[i]) == 0)
            return true;
    return false;
}

#define S_IN(name, list) s_in ((name), (list), sizeof (list) / sizeof ((list)[0]))

/* ------------------------------------------------------------ validation */

typedef struct {
    char path[S_PATH_MAX];
    size_t len;
    rpc_schema_ctx_t ctx;
} s_walk_t;

/* Appends raw text to the path when it fits; returns the previous length. */
static size_t
s_push_raw (s_walk_t *w, const char *text, size_t n, bool cut)
{
    size_t saved = w->len;
    if (w->len + n + 4 >= sizeof w->path)
        return saved;
    memcpy (w->path + w->len, text, n);
    w->len += n;
    if (cut) {
        memcpy (w->path + w->len, "...", 3);
        w->len += 3;
    }
    w->path[w->len] = '\0';
    return saved;
}

/* Appends ".key" (a caller's key is cut at S_KEY_SHOW bytes, on a UTF-8
 * character boundary); returns the length to restore. */
static size_t
s_push_key (s_walk_t *w, const char *key)
{
    size_t n = strlen (key);
    bool cut = n > S_KEY_SHOW;
    if (cut) {
        n = S_KEY_SHOW;
        while (n > 0 && ((unsigned char)key[n] & 0xc0) == 0x80)
            n--;
    }
    char buf[S_KEY_SHOW + 2];
    buf[0] = '.';
    memcpy (buf + 1, key, n);
    return s_push_raw (w, buf, n + 1, cut);
}

/* Appends "[i]"; returns the length to restore. */
static size_t
s_push_index (s_walk_t *w, size_t i)
{
    char buf[32];
    int n = snprintf (buf, sizeof buf, "[%zu]", i);
    return s_push_raw (w, buf, (size_t)n, false);
}

/* Restores the path to an earlier length. */
static void
s_pop (s_walk_t *w, size_t saved)
{
    w->len = saved;
    w->path[saved] = '\0';
}

/* An INVALID_PARAMS error naming the current path. */
static json_t *
s_fail (const s_walk_t *w, const char *reason)
{
    return rpc_error_invalid_params (w->path, reason);
}

/* s_fail with a printf-formatted reason. */
__attribute__ ((format (printf, 2, 3))) static json_t *
s_failf (const s_walk_t *w, const char *fmt, ...)
{
    char reason[S_REASON_MAX];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (reason, sizeof reason, fmt, ap);
    va_end (ap);
    return s_fail (w, reason);
}

/* s_fail naming a child key of the current path. */
static json_t *
s_fail_key (s_walk_t *w, const char *key, const char *reason)
{
    size_t saved = s_push_key (w, key);
    json_t *err = s_fail (w, reason);
    s_pop (w, saved);
    return err;
}

/* Whether value has JSON type name. */
static bool
s_type_is (const char *name, const json_t *value)
{
    if (strcmp (name, "object") == 0)
        return json_is_object (value);
    if (strcmp (name, "array") == 0)
        return json_is_array (value);
    if (strcmp (name, "string") == 0)
        return json_is_string (value);
    if (strcmp (name, "integer") == 0)
        return json_is_integer (value);
    if (strcmp (name, "number") == 0)
        return json_is_number (value);
    if (strcmp (name, "boolean") == 0)
        return json_is_boolean (value);
    if (strcmp (name, "null") == 0)
        return json_is_null (value);
    return false;
}

/* Checks the "type" keyword. */
static json_t *
s_check_type (const s_walk_t *w, const json_t *schema, const json_t *value)
{
    json_t *t = json_object_get (schema, "type");
    if (!t)
        return NULL;
    if (json_is_string (t))
        return s_type_is (json_string_value (t), value)
                   ? NULL
                   : s_failf (w, "expected %s", json_string_value (t));
    char reason[S_REASON_MAX] = "expected ";
    size_t i;
    json_t *name;
    json_array_foreach (t, i, name)
    {
        if (s_type_is (json_string_value (name), value))
            return NULL;
        if (i > 0)
            strncat (reason, " or ", sizeof reason - strlen (reason) - 1);
        strncat (reason, json_string_value (name), sizeof reason - strlen (reason) - 1);
    }
    return s_fail (w, reason);
}

/* Checks the "enum" keyword; the reason lists the allowed values. */
static json_t *
s_check_enum (const s_walk_t *w, const json_t *schema, const json_t *value)
{
    json_t *e = json_object_get (schema, "enum");
    if (!e)
        return NULL;
    size_t i;
    json_t *option;
    json_array_foreach (e, i, option)
    {
        if (json_equal (option, (json_t *)value))
            return NULL;
    }
    char reason[S_REASON_MAX] = "expected one of: ";
    json_array_foreach (e, i, option)
    {
        char *text = json_dumps (option, JSON_ENCODE_ANY | JSON_COMPACT);
        if (i > 0)
            strncat (reason, ", ", sizeof reason - strlen (reason) - 1);
        if (text)
            strncat (reason, text, sizeof reason - strlen (reason) - 1);
        free (text);
    }
    return s_fail (w, reason);
}

/* Checks minimum, x-limit and maximum of a number. */
static json_t *
s_check_number (const s_walk_t *w, const json_t *schema, const json_t *value)
{
    json_t *min = json_object_get (schema, "minimum");
    json_t *max = json_object_get (schema, "maximum");
    const char *what = json_is_integer (value) ? "integer" : "number";
    double d = json_number_value (value);
    if (min) {
        json_int_t m = json_integer_value (min);
        if (json_is_integer (value) ? json_integer_value (value) < m : !(d >= (double)m))
            return s_failf (w, "expected %s >= %" JSON_INTEGER_FORMAT, what, m);
    }
    if (json_object_get (schema, "x-limit") && json_is_integer (value)
        && json_integer_value (value) >= 0
        && (uint64_t)json_integer_value (value) > w->ctx.data_max_bytes)
        return rpc_error_limit_exceeded ("data_bytes",
                                         (uint64_t)json_integer_value (value));
    if (max) {
        json_int_t m = json_integer_value (max);
        if (json_is_integer (value) ? json_integer_value (value) > m : !(d <= (double)m))
            return s_failf (w, "expected %s <= %" JSON_INTEGER_FORMAT, what, m);
    }
    return NULL;
}

/* Whether c is a hex digit. */
static bool
s_is_hex (char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Parses "0x" + 1..16 hex digits. */
static int
s_hex_u64 (const char *s, size_t n, uint64_t *v_p)
{
    if (n < 3 || n > 18 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return UIS_ERR_MALFORMED;
    uint64_t v = 0;
    for (size_t i = 2; i < n; i++) {
        char c = s[i];
        if (!s_is_hex (c))
            return UIS_ERR_MALFORMED;
        int d = c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
        v = v << 4 | (uint64_t)d;
    }
    *v_p = v;
    return 0;
}

/* Whether s[0..n) is CRC32C, None or both, comma-separated, no repeats. */
static bool
s_digest_list_ok (const char *s, size_t n)
{
    bool seen_crc = false, seen_none = false;
    size_t start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && s[i] != ',')
            continue;
        size_t len = i - start;
        if (len == 6 && memcmp (s + start, "CRC32C", 6) == 0 && !seen_crc)
            seen_crc = true;
        else if (len == 4 && memcmp (s + start, "None", 4) == 0 && !seen_none)
            seen_none = true;
        else
            return false;
        start = i + 1;
    }
    return true;
}

/* Checks a string's length and format. */
static json_t *
s_check_string (const s_walk_t *w, const json_t *schema, const json_t *value,
                const char *format)
{
    const char *s = json_string_value (value);
    size_t n = json_string_length (value);
    if (strlen (s) != n)
        return s_fail (w, "NUL characters are not allowed");
    json_t *min = json_object_get (schema, "minLength");
    json_t *max = json_object_get (schema, "maxLength");
    if (min && n < (size_t)json_integer_value (min))
        return s_failf (w, "expected at least %" JSON_INTEGER_FORMAT " bytes",
                        json_integer_value (min));
    if (max && n > (size_t)json_integer_value (max))
        return s_failf (w, "expected at most %" JSON_INTEGER_FORMAT " bytes",
                        json_integer_value (max));
    if (!format)
        return NULL;
    if (strcmp (format, "text") == 0 || strcmp (format, "path") == 0) {
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
                return s_fail (w, "control characters are not allowed");
        if (format[0] == 'p' && s[0] != '/')
            return s_fail (w, "expected an absolute path");
    }
    else if (strcmp (format, "hex") == 0) {
        bool ok = n % 2 == 0;
        for (size_t i = 0; ok && i < n; i++)
            ok = s_is_hex (s[i]);
        if (!ok)
            return s_fail (w, "expected hex digits, an even number of them");
    }
    else if (strcmp (format, "lun") == 0 || strcmp (format, "u64") == 0) {
        uint64_t v;
        if (s_hex_u64 (s, n, &v) != 0)
            return s_fail (w, "expected an integer, or 0x and 1 to 16 hex digits");
    }
    else if (strcmp (format, "portal") == 0) {
        uis_portal_t portal;
        if (uis_portal_parse_n (s, n, &portal) != 0)
            return s_fail (w, "expected host[:port], IPv6 in brackets, port 1..65535");
    }
    else if (strcmp (format, "digest_list") == 0) {
        if (!s_digest_list_ok (s, n))
            return s_fail (w, "expected CRC32C, None, or both comma-separated");
    }
    return NULL;
}

static json_t *s_validate (s_walk_t *w, const json_t *schema, const json_t *value);

/* Checks an array's size, uniqueness and items. */
static json_t *
s_check_array (s_walk_t *w, const json_t *schema, const json_t *value)
{
    size_t n = json_array_size (value);
    json_t *min = json_object_get (schema, "minItems");
    json_t *max = json_object_get (schema, "maxItems");
    if (min && n < (size_t)json_integer_value (min))
        return s_failf (w, "expected at least %" JSON_INTEGER_FORMAT " items",
                        json_integer_value (min));
    if (max && n > (size_t)json_integer_value (max))
        return s_failf (w, "expected at most %" JSON_INTEGER_FORMAT " items",
                        json_integer_value (max));
    json_t *items = json_object_get (schema, "items");
    for (size_t i = 0; items && i < n; i++) {
        size_t saved = s_push_index (w, i);
        json_t *err = s_validate (w, items, json_array_get (value, i));
        s_pop (w, saved);
        if (err)
            return err;
    }
    /* Bounded by maxItems in every schema that sets uniqueItems. */
    if (json_is_true (json_object_get (schema, "uniqueItems")))
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (json_equal (json_array_get (value, i), json_array_get (value, j))) {
                    size_t saved = s_push_index (w, i);
                    json_t *err = s_fail (w, "duplicate item");
                    s_pop (w, saved);
                    return err;
                }
    return NULL;
}

/* Checks unknown keys, required keys and each property, in that order. */
static json_t *
s_check_object (s_walk_t *w, const json_t *schema, const json_t *value)
{
    json_t *props = json_object_get (schema, "properties");
    const char *key;
    json_t *v;
    if (json_is_false (json_object_get (schema, "additionalProperties"))) {
        json_object_foreach ((json_t *)value, key, v)
        {
            if (!json_object_get (props, key))
                return s_fail_key (w, key, "unknown param");
        }
    }
    json_t *required = json_object_get (schema, "required");
    size_t i;
    json_t *name;
    json_array_foreach (required, i, name)
    {
        if (!json_object_get (value, json_string_value (name)))
            return s_fail_key (w, json_string_value (name), "required param missing");
    }
    json_object_foreach ((json_t *)value, key, v)
    {
        json_t *sub = json_object_get (props, key);
        if (!sub)
            continue;
        size_t saved = s_push_key (w, key);
        json_t *err = s_validate (w, sub, v);
        s_pop (w, saved);
        if (err)
            return err;
    }
    return NULL;
}

/* The auth object's cross-field rules (API.md): {"method": "none"} alone,
 * or CHAP with user and exactly one of secret / secret_file; mutual CHAP
 * needs target_user and exactly one of target_secret / target_secret_file. */
static json_t *
s_check_auth (s_walk_t *w, const json_t *value)
{
    const char *method = json_string_value (json_object_get (value, "method"));
    const char *key;
    json_t *v;
    if (method && strcmp (method, "none") == 0) {
        json_object_foreach ((json_t *)value, key, v)
        {
            if (strcmp (key, "method") != 0)
                return s_fail_key (w, key, "not allowed with method none");
        }
        return NULL;
    }
    bool secret = json_object_get (value, "secret") != NULL;
    bool secret_file = json_object_get (value, "secret_file") != NULL;
    bool t_user = json_object_get (value, "target_user") != NULL;
    bool t_secret = json_object_get (value, "target_secret") != NULL;
    bool t_secret_file = json_object_get (value, "target_secret_file") != NULL;
    if (!json_object_get (value, "user"))
        return s_fail_key (w, "user", "required with method chap");
    if (secret && secret_file)
        return s_fail_key (w, "secret_file", "give secret or secret_file, not both");
    if (!secret && !secret_file)
        return s_fail_key (w, "secret", "required with method chap (or secret_file)");
    if (t_secret && t_secret_file)
        return s_fail_key (w, "target_secret_file",
                           "give target_secret or target_secret_file, not both");
    if (t_user && !t_secret && !t_secret_file)
        return s_fail_key (w, "target_secret",
                           "required with target_user (or target_secret_file)");
    if (!t_user && (t_secret || t_secret_file))
        return s_fail_key (w, "target_user", "required with a target secret");
    return NULL;
}

/* Validates value against schema at the current path. */
static json_t *
s_validate (s_walk_t *w, const json_t *schema, const json_t *value)
{
    json_t *err = s_check_type (w, schema, value);
    if (!err)
        err = s_check_enum (w, schema, value);
    if (err)
        return err;
    const char *format = json_string_value (json_object_get (schema, "format"));
    if (format && strcmp (format, "data") == 0)
        return rpc_bulk_check (value, w->path, w->ctx.nframes, w->ctx.data_max_bytes);
    if (json_is_number (value))
        return s_check_number (w, schema, value);
    if (json_is_string (value))
        return s_check_string (w, schema, value, format);
    if (json_is_array (value))
        return s_check_array (w, schema, value);
    if (json_is_object (value)) {
        err = s_check_object (w, schema, value);
        if (!err && format && strcmp (format, "auth") == 0)
            err = s_check_auth (w, value);
        return err;
    }
    return NULL;
}

json_t *
rpc_schema_validate (const json_t *schema, const json_t *value, const char *root,
                     const rpc_schema_ctx_t *ctx)
{
    s_walk_t w;
    w.len = 0;
    w.path[0] = '\0';
    s_push_raw (&w, root, strnlen (root, S_PATH_MAX / 2), false);
    if (ctx)
        w.ctx = *ctx;
    else {
        w.ctx.nframes = 1;
        w.ctx.data_max_bytes = 64u << 20;
    }
    return s_validate (&w, schema, value);
}

int
rpc_schema_apply_defaults (const json_t *schema, json_t *value)
{
    if (!json_is_object (value))
        return 0;
    const char *key;
    json_t *sub;
    json_object_foreach (json_object_get (schema, "properties"), key, sub)
    {
        json_t *v = json_object_get (value, key);
        json_t *def = json_object_get (sub, "default");
        if (!v && def) {
            if (json_object_set_new (value, key, json_deep_copy (def)) != 0)
                return UIS_ERR_NOMEM;
        }
        else if (json_is_object (v)) {
            int rc = rpc_schema_apply_defaults (sub, v);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

/* ------------------------------------------------------ schema checking */

/* Writes "path: reason" to where and returns UIS_ERR_MALFORMED. */
static int
s_bad (char *where, size_t where_size, const char *path, const char *reason)
{
    if (where_size > 0)
        snprintf (where, where_size, "%s: %s", path, reason);
    return UIS_ERR_MALFORMED;
}

/* Whether v is an integer >= 0. */
static bool
s_is_count (const json_t *v)
{
    return json_is_integer (v) && json_integer_value (v) >= 0;
}

/* Checks one schema object; path is its location ("#/properties/lun"). */
static int
s_check_schema (const json_t *schema, const char *path, char *where, size_t where_size)
{
    if (!json_is_object (schema))
        return s_bad (where, where_size, path, "schema must be an object");
    const char *key;
    json_t *v;
    json_object_foreach ((json_t *)schema, key, v)
    {
        if (!S_IN (key, s_keywords))
            return s_bad (where, where_size, path, "unsupported keyword");
    }
    json_t *type = json_object_get (schema, "type");
    if (json_is_string (type)) {
        if (!S_IN (json_string_value (type), s_types))
            return s_bad (where, where_size, path, "unknown type");
    }
    else if (json_is_array (type) && json_array_size (type) > 0) {
        size_t i;
        json_array_foreach (type, i, v)
        {
            if (!json_is_string (v) || !S_IN (json_string_value (v), s_types))
                return s_bad (where, where_size, path, "unknown type");
        }
    }
    else if (type)
        return s_bad (where, where_size, path, "type must be a name or names");
    static const char *const counts[] = {"minItems", "maxItems", "minLength",
                                         "maxLength"};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        v = json_object_get (schema, counts[i]);
        if (v && !s_is_count (v))
            return s_bad (where, where_size, path,
                          "a length bound must be an integer >= 0");
    }
    json_t *min = json_object_get (schema, "minimum");
    json_t *max = json_object_get (schema, "maximum");
    if ((min && !json_is_integer (min)) || (max && !json_is_integer (max)))
        return s_bad (where, where_size, path, "minimum/maximum must be integers");
    v = json_object_get (schema, "additionalProperties");
    if (v && !json_is_boolean (v))
        return s_bad (where, where_size, path, "additionalProperties must be a boolean");
    v = json_object_get (schema, "uniqueItems");
    if (v && !json_is_boolean (v))
        return s_bad (where, where_size, path, "uniqueItems must be a boolean");
    if (json_is_true (v) && !json_object_get (schema, "maxItems"))
        return s_bad (where, where_size, path, "uniqueItems needs maxItems");
    v = json_object_get (schema, "enum");
    if (v && (!json_is_array (v) || json_array_size (v) == 0))
        return s_bad (where, where_size, path, "enum must be a non-empty array");
    v = json_object_get (schema, "format");
    if (v && (!json_is_string (v) || !S_IN (json_string_value (v), s_formats)))
        return s_bad (where, where_size, path, "unknown format");
    v = json_object_get (schema, "description");
    if (v && !json_is_string (v))
        return s_bad (where, where_size, path, "description must be a string");
    v = json_object_get (schema, "x-limit");
    if (v && !(json_is_string (v) && strcmp (json_string_value (v), "data_bytes") == 0))
        return s_bad (where, where_size, path, "unknown x-limit");

    char sub[S_PATH_MAX];
    json_t *props = json_object_get (schema, "properties");
    if (props && !json_is_object (props))
        return s_bad (where, where_size, path, "properties must be an object");
    json_object_foreach (props, key, v)
    {
        snprintf (sub, sizeof sub, "%s/properties/%s", path, key);
        int rc = s_check_schema (v, sub, where, where_size);
        if (rc != 0)
            return rc;
    }
    json_t *required = json_object_get (schema, "required");
    if (required && !json_is_array (required))
        return s_bad (where, where_size, path, "required must be an array");
    size_t i;
    json_array_foreach (required, i, v)
    {
        if (!json_is_string (v) || !json_object_get (props, json_string_value (v)))
            return s_bad (where, where_size, path, "required names a missing property");
    }
    json_t *items = json_object_get (schema, "items");
    if (items) {
        snprintf (sub, sizeof sub, "%s/items", path);
        int rc = s_check_schema (items, sub, where, where_size);
        if (rc != 0)
            return rc;
    }
    json_t *def = json_object_get (schema, "default");
    if (def) {
        json_t *err = rpc_schema_validate (schema, def, "default", NULL);
        if (err) {
            json_decref (err);
            return s_bad (where, where_size, path, "default does not validate");
        }
    }
    return 0;
}

int
rpc_schema_check (const json_t *schema, char *where, size_t where_size)
{
    return s_check_schema (schema, "#", where, where_size);
}

json_t *
rpc_schema_parse (const char *text, char *where, size_t where_size)
{
    size_t n = strlen (text);
    char *copy = malloc (n + 1);
    if (!copy) {
        s_bad (where, where_size, "#", "out of memory");
        return NULL;
    }
    for (size_t i = 0; i <= n; i++)
        copy[i] = text[i] == '\'' ? '"' : text[i];
    json_error_t jerr;
    json_t *schema = json_loads (copy, JSON_REJECT_DUPLICATES, &jerr);
    free (copy);
    if (!schema) {
        if (where_size > 0)
            snprintf (where, where_size, "column %d: %s", jerr.column, jerr.text);
        return NULL;
    }
    if (rpc_schema_check (schema, where, where_size) != 0)
        json_decref (schema);
    else
        return schema;
    return NULL;
}

/* ------------------------------------------------------------- helpers */

int
rpc_param_u64 (const json_t *value, uint64_t *v_p)
{
    if (json_is_integer (value) && json_integer_value (value) >= 0) {
        *v_p = (uint64_t)json_integer_value (value);
        return 0;
    }
    if (json_is_string (value))
        return s_hex_u64 (json_string_value (value), json_string_length (value), v_p);
    return UIS_ERR_MALFORMED;
}
