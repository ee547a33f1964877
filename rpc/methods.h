/* methods.h: THE method table of the uiscsid RPC API (API.md "Methods").
 *
 * One row per method: name, summary, params schema (JSON text, see
 * rpc/schema.h; ' stands for "), result description, flags and a handler
 * slot. rpc.discover, the docs (docs/api.md, rpc/docs.c) and params
 * validation all come from this table, so a method exists once.
 *
 * rpc_methods_t is the compiled form: schemas parsed once, names indexed,
 * handlers settable. It is read-only after setup and may be shared by
 * threads that do not set handlers. */
#ifndef UISCSI_RPC_METHODS_H
#define UISCSI_RPC_METHODS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "rpc/jsonrpc.h"
#include "rpc/schema.h"

/* API version reported by rpc.discover and daemon.info. */
#define RPC_API_VERSION 1

/* Method flags. */
enum {
    RPC_M_SESSION = 1u << 0,        /* takes `session`: routed to that session */
    RPC_M_SCSI = 1u << 1,           /* a SCSI command on a LUN (a task) */
    RPC_M_LONG = 1u << 2,           /* may take seconds: login, logout, TMF, streams */
    RPC_M_DATA_IN = 1u << 3,        /* returns bulk data: takes data_encoding */
    RPC_M_DATA_OUT = 1u << 4,       /* takes a `data` param */
    RPC_M_NOTIFICATION = 1u << 5,   /* meant to be sent as a notification */
    RPC_M_NON_IDEMPOTENT = 1u << 6, /* not replayed after a connection loss */
    RPC_M_STREAM = 1u << 7,         /* replies with a series of notifications */
};

/* Handler of a validated call i of msg; ctx is the dispatcher's. The
 * handler answers the call (now or later) with rpc_msg_answer/_fail. */
typedef int (rpc_handler_fn) (void *ctx, rpc_msg_t *msg, size_t i);

typedef struct rpc_method_def {
    const char *name;
    const char *summary;
    const char *params; /* JSON schema text with ' for " */
    const char *result; /* what the result holds (Markdown) */
    unsigned flags;
    rpc_handler_fn *handler; /* NULL in the table; set on rpc_methods_t */
} rpc_method_def_t;

/* The API's table (every method of API.md) and its row count. */
const rpc_method_def_t *rpc_method_table (size_t *count_p);

typedef struct rpc_methods rpc_methods_t;

/* Compiles a table (borrowed: it must outlive the object): parses every
 * schema. Returns NULL when a schema is invalid or a name repeats (where,
 * when where_size > 0, says which), or when out of memory. */
rpc_methods_t *rpc_methods_new (const rpc_method_def_t *defs, size_t count, char *where,
                                size_t where_size);

/* rpc_methods_new over rpc_method_table. */
rpc_methods_t *rpc_methods_new_api (void);

/* Frees the object and NULLs the pointer. */
void rpc_methods_destroy (rpc_methods_t **self_p);

/* Number of methods. */
size_t rpc_methods_count (const rpc_methods_t *self);

/* Row i (table order), or NULL. */
const rpc_method_def_t *rpc_methods_at (const rpc_methods_t *self, size_t i);

/* Parsed params schema of row i (borrowed), or NULL. */
const json_t *rpc_methods_schema (const rpc_methods_t *self, size_t i);

/* Index of a method by name, or -1. */
int rpc_methods_find (const rpc_methods_t *self, const char *name);

/* Sets the handler of a method; returns 0 or UIS_ERR_INVALID_ARG (no such
 * method). */
int rpc_methods_set_handler (rpc_methods_t *self, const char *name,
                             rpc_handler_fn *handler);

/* Handler of row i, or NULL. */
rpc_handler_fn *rpc_methods_handler (const rpc_methods_t *self, size_t i);

/* The rpc.discover result {"api_version", "methods": [{"name", "summary",
 * "params", "result"}]}; new reference. */
json_t *rpc_methods_discover (const rpc_methods_t *self);

/* Looks up method and validates params against its schema (ctx as in
 * rpc_schema_validate), then adds the schema defaults to params. Returns
 * NULL with *index_p set on success, else a new error object (-32601,
 * -32602 or LIMIT_EXCEEDED). */
json_t *rpc_methods_check (const rpc_methods_t *self, const char *method, json_t *params,
                           const rpc_schema_ctx_t *ctx, size_t *index_p);

/* rpc_methods_check for every pending call of msg: a faulty call is
 * answered with its error; a valid one stays pending with its row
 * (const rpc_method_def_t *) as rpc_msg_user. Returns the number of calls
 * left pending. */
size_t rpc_methods_check_msg (const rpc_methods_t *self, rpc_msg_t *msg,
                              const rpc_schema_ctx_t *ctx);

#endif
