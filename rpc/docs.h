/* docs.h: generates the API reference (docs/api.md) from the method table,
 * the error table and the default limits, so the docs cannot drift from the
 * code. tests/unit/rpc/test_docs.c fails when the checked-in file differs
 * from what this generates. */
#ifndef UISCSI_RPC_DOCS_H
#define UISCSI_RPC_DOCS_H

#include <stdio.h>

/* The command that regenerates docs/api.md (printed by the docs test). */
#define RPC_DOCS_REGENERATE                                                              \
    "gcc -std=c11 -D_GNU_SOURCE -I. -o /tmp/gen-api-docs scripts/gen-api-docs.c "        \
    "rpc/docs.c rpc/methods.c rpc/schema.c rpc/jsonrpc.c rpc/bulk.c rpc/errors.c "       \
    "proto/errors.c proto/portal.c $(pkg-config --cflags --libs jansson) && "            \
    "/tmp/gen-api-docs "                                                                 \
    "docs/api.md"

/* Writes the Markdown reference to out. Returns 0, or UIS_ERR_NOMEM /
 * UIS_ERR_INVALID_ARG (the method table does not compile). */
int rpc_docs_write_markdown (FILE *out);

/* The Markdown reference as a malloc'd string (the caller frees it), or
 * NULL on failure. */
char *rpc_docs_markdown (void);

#endif
