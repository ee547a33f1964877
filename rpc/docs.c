/* docs.c: the Markdown API reference, generated from the tables. */
#include "rpc/docs.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "proto/errors.h"
#include "rpc/errors.h"
#include "rpc/jsonrpc.h"
#include "rpc/methods.h"

/* Writes text with '|' escaped, for a table cell. */
static void
s_cell (FILE *out, const char *text)
{
    for (; *text; text++) {
        if (*text == '|')
            fputc ('\\', out);
        fputc (*text == '\n' ? ' ' : *text, out);
    }
}

/* Compact JSON of a value (caller frees), or NULL. */
static char *
s_dump (const json_t *v)
{
    return json_dumps (v, JSON_ENCODE_ANY | JSON_COMPACT);
}

/* The type column: names joined with " or ", plus the format. */
static void
s_type (FILE *out, const json_t *schema)
{
    json_t *t = json_object_get (schema, "type");
    if (json_is_string (t))
        fputs (json_string_value (t), out);
    else {
        size_t i;
        json_t *name;
        json_array_foreach (t, i, name)
        {
            fprintf (out, "%s%s", i ? " or " : "", json_string_value (name));
        }
    }
    const char *format = json_string_value (json_object_get (schema, "format"));
    if (format && strcmp (format, "text") != 0)
        fprintf (out, " (%s)", format);
}

/* Writes "lo..hi", ">= lo" or "<= hi" for a pair of bounds, with a unit. */
static void
s_range (FILE *out, const json_t *lo, const json_t *hi, const char *unit, bool *first)
{
    if (!lo && !hi)
        return;
    fputs (*first ? "" : "; ", out);
    *first = false;
    if (lo && hi)
        fprintf (out, "%" JSON_INTEGER_FORMAT "..%" JSON_INTEGER_FORMAT,
                 json_integer_value (lo), json_integer_value (hi));
    else if (lo)
        fprintf (out, ">= %" JSON_INTEGER_FORMAT, json_integer_value (lo));
    else
        fprintf (out, "<= %" JSON_INTEGER_FORMAT, json_integer_value (hi));
    fputs (unit, out);
}

/* The constraints column. */
static void
s_limits (FILE *out, const json_t *schema)
{
    bool first = true;
    s_range (out, json_object_get (schema, "minimum"),
             json_object_get (schema, "maximum"), "", &first);
    s_range (out, json_object_get (schema, "minLength"),
             json_object_get (schema, "maxLength"), " bytes", &first);
    s_range (out, json_object_get (schema, "minItems"),
             json_object_get (schema, "maxItems"), " items", &first);
    if (json_is_true (json_object_get (schema, "uniqueItems")))
        fputs ("; unique", out);
    if (json_object_get (schema, "x-limit")) {
        fputs (first ? "" : "; ", out);
        first = false;
        fputs ("over `data_max_bytes`: LIMIT_EXCEEDED", out);
    }
    json_t *e = json_object_get (schema, "enum");
    if (e) {
        fputs (first ? "one of " : "; one of ", out);
        first = false;
        size_t i;
        json_t *v;
        json_array_foreach (e, i, v)
        {
            char *text = s_dump (v);
            fprintf (out, "%s`%s`", i ? ", " : "", text ? text : "?");
            free (text);
        }
    }
}

/* One table row per property of an object schema, recursing into nested
 * objects and object items with a dotted prefix. */
static void
s_rows (FILE *out, const json_t *schema, const char *prefix)
{
    json_t *required = json_object_get (schema, "required");
    const char *key;
    json_t *sub;
    json_object_foreach (json_object_get (schema, "properties"), key, sub)
    {
        bool req = false;
        size_t i;
        json_t *r;
        json_array_foreach (required, i, r)
        {
            req = req || strcmp (json_string_value (r), key) == 0;
        }
        fprintf (out, "| `%s%s` | ", prefix, key);
        s_type (out, sub);
        fprintf (out, " | %s | ", req ? "yes" : "no");
        json_t *def = json_object_get (sub, "default");
        if (def) {
            char *text = s_dump (def);
            fprintf (out, "`%s`", text ? text : "?");
            free (text);
        }
        fputs (" | ", out);
        s_limits (out, sub);
        fputs (" | ", out);
        const char *desc = json_string_value (json_object_get (sub, "description"));
        s_cell (out, desc ? desc : "");
        fputs (" |\n", out);
        char path[256];
        if (json_object_get (sub, "properties")) {
            snprintf (path, sizeof path, "%s%s.", prefix, key);
            s_rows (out, sub, path);
        }
        json_t *items = json_object_get (sub, "items");
        if (json_object_get (items, "properties")) {
            snprintf (path, sizeof path, "%s%s[].", prefix, key);
            s_rows (out, items, path);
        }
    }
}

/* The flags of a method as words. */
static void
s_flags (FILE *out, unsigned flags)
{
    static const struct {
        unsigned bit;
        const char *word;
    } names[] = {
        {RPC_M_SESSION, "needs a session"},
        {RPC_M_SCSI, "SCSI command"},
        {RPC_M_LONG, "long-running"},
        {RPC_M_DATA_IN, "returns data"},
        {RPC_M_DATA_OUT, "takes data"},
        {RPC_M_NOTIFICATION, "sent as a notification"},
        {RPC_M_NON_IDEMPOTENT, "not replayed after a connection loss"},
        {RPC_M_STREAM, "streams notifications"},
    };
    bool first = true;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (flags & names[i].bit) {
            fprintf (out, "%s%s", first ? "Flags: " : ", ", names[i].word);
            first = false;
        }
    if (!first)
        fputs (".\n\n", out);
}

int
rpc_docs_write_markdown (FILE *out)
{
    rpc_methods_t *methods = rpc_methods_new_api ();
    if (!methods)
        return UIS_ERR_INVALID_ARG;
    size_t n = rpc_methods_count (methods);
    fputs ("# uiscsid RPC API reference\n\n"
           "<!-- Generated from rpc/methods.c, rpc/errors.h and rpc/jsonrpc.c by "
           "rpc/docs.c; do not edit.\n"
           "     Regenerate: " RPC_DOCS_REGENERATE " -->\n\n",
           out);
    fprintf (out,
             "API version %d. Requests are JSON-RPC 2.0 over ZeroMQ (frame 0: the JSON "
             "request or batch; frames 1..n: binary attachments).\n\n",
             RPC_API_VERSION);
    fputs ("- `params` is always a named object; unknown params are rejected with "
           "INVALID_PARAMS, whose `data` names the param (`param`) and the `reason`.\n"
           "- String lengths are in UTF-8 bytes; strings never contain NUL. Integers "
           "are JSON integers (`1.0` is not one).\n"
           "- Bulk `data` is a base64 string (RFC 4648, padded, no whitespace) or "
           "`{\"$attachment\": k}` for frame k >= 1. A result carries data as an "
           "attachment when the request had `\"data_encoding\": \"attachment\"`.\n"
           "- Notifications (no `id`) are executed and never answered.\n"
           "- Defaults below are filled in before the handler runs.\n\n",
           out);
    fputs ("## Contents\n\n| method | summary |\n| --- | --- |\n", out);
    for (size_t i = 0; i < n; i++) {
        const rpc_method_def_t *d = rpc_methods_at (methods, i);
        fprintf (out, "| `%s` | ", d->name);
        s_cell (out, d->summary);
        fputs (" |\n", out);
    }
    fputs ("\n## Methods\n", out);
    for (size_t i = 0; i < n; i++) {
        const rpc_method_def_t *d = rpc_methods_at (methods, i);
        const json_t *schema = rpc_methods_schema (methods, i);
        fprintf (out, "\n### `%s`\n\n%s\n\n", d->name, d->summary);
        s_flags (out, d->flags);
        if (json_object_size (json_object_get (schema, "properties")) > 0) {
            fputs ("| param | type | required | default | limits | description |\n"
                   "| --- | --- | --- | --- | --- | --- |\n",
                   out);
            s_rows (out, schema, "");
            fputs ("\n", out);
        }
        fprintf (out, "Result: %s\n", d->result);
    }
    fputs ("\n## Errors\n\nEvery error has `data.name`, the stable name below.\n\n"
           "| code | name | message | data |\n| --- | --- | --- | --- |\n",
           out);
    for (size_t i = 0; i < rpc_error_count (); i++) {
        int code = rpc_error_code_at (i);
        fprintf (out, "| %d | `%s` | %s | %s |\n", code, rpc_error_name (code),
                 rpc_error_message (code), rpc_error_fields (code));
    }
    rpc_limits_t limits;
    rpc_limits_default (&limits);
    json_t *lj = rpc_limits_json (&limits);
    fputs ("\n## Limits\n\nDefaults; `daemon.info` reports the values in force. "
           "Beyond a limit: LIMIT_EXCEEDED with `data.limit` (the name below) and "
           "`data.value`.\n\n| limit | default |\n| --- | --- |\n",
           out);
    const char *key;
    json_t *v;
    json_object_foreach (lj, key, v)
    {
        fprintf (out, "| `%s` | %" JSON_INTEGER_FORMAT " |\n", key,
                 json_integer_value (v));
    }
    json_decref (lj);
    rpc_methods_destroy (&methods);
    return ferror (out) ? UIS_ERR_INVALID_ARG : 0;
}

char *
rpc_docs_markdown (void)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    if (!out)
        return NULL;
    int rc = rpc_docs_write_markdown (out);
    if (fclose (out) != 0 || rc != 0) {
        free (text);
        return NULL;
    }
    return text;
}
