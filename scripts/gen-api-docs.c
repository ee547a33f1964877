/* gen-api-docs.c: writes docs/api.md from the method table (rpc/docs.c).
 * Usage: gen-api-docs [OUTPUT]   (stdout without OUTPUT). Build and run:
 * see RPC_DOCS_REGENERATE in rpc/docs.h. */
#include <stdio.h>

#include "rpc/docs.h"

int
main (int argc, char **argv)
{
    FILE *out = argc > 1 ? fopen (argv[1], "w") : stdout;
    if (!out) {
        perror (argv[1]);
        return 1;
    }
    int rc = rpc_docs_write_markdown (out);
    if (out != stdout && fclose (out) != 0)
        rc = -1;
    if (rc != 0) {
        fprintf (stderr, "gen-api-docs: failed (%d)\n", rc);
        return 1;
    }
    return 0;
}
