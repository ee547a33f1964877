/* test_docs.c: docs/api.md is generated from the method table (rpc/docs.c);
 * this test fails when the checked-in file is out of date or misses a
 * method, and prints the command that regenerates it.
 * Conformance ids: none. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rpc/docs.h"
#include "rpc/methods.h"

/* Reads a whole file (NUL-terminated, caller frees), or NULL. */
static char *
s_read (const char *path)
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc (cap + 1);
    if (buf)
        n = fread (buf, 1, cap, f);
    fclose (f);
    if (buf)
        buf[n] = '\0';
    return buf;
}

/* docs/api.md from the source tree: $UISCSI_SRCDIR, the working directory,
 * or the tree this file was compiled from. */
static char *
s_read_docs (void)
{
    char path[4096];
    const char *top = getenv ("UISCSI_SRCDIR");
    if (top) {
        snprintf (path, sizeof path, "%s/docs/api.md", top);
        return s_read (path);
    }
    char *text = s_read ("docs/api.md");
    if (text)
        return text;
    const char *me = __FILE__;
    const char *cut = strstr (me, "tests/unit/rpc/");
    if (!cut)
        return NULL;
    snprintf (path, sizeof path, "%.*sdocs/api.md", (int)(cut - me), me);
    return s_read (path);
}

/* The checked-in reference equals the generated one. */
static void
test_docs_up_to_date (void **state)
{
    (void)state;
    char *want = rpc_docs_markdown ();
    assert_non_null (want);
    char *have = s_read_docs ();
    if (!have) {
        free (want);
        fail_msg (
            "docs/api.md not found; generate it from the repository root with:\n  %s",
            RPC_DOCS_REGENERATE);
    }
    if (strcmp (want, have) != 0) {
        int line = 1;
        size_t i = 0;
        for (; want[i] && want[i] == have[i]; i++)
            line += want[i] == '\n';
        free (want);
        free (have);
        fail_msg ("docs/api.md is out of date (first difference on line %d); regenerate "
                  "it from the repository root with:\n  %s",
                  line, RPC_DOCS_REGENERATE);
    }
    free (want);
    free (have);
}

/* Every method of the table has its section (a clearer message than the
 * comparison when a method is missing). */
static void
test_docs_every_method (void **state)
{
    (void)state;
    char *have = s_read_docs ();
    assert_non_null (have);
    size_t count;
    const rpc_method_def_t *defs = rpc_method_table (&count);
    for (size_t i = 0; i < count; i++) {
        char heading[128];
        snprintf (heading, sizeof heading, "\n### `%s`\n", defs[i].name);
        if (!strstr (have, heading))
            fail_msg ("docs/api.md has no section for %s; regenerate it with:\n  %s",
                      defs[i].name, RPC_DOCS_REGENERATE);
    }
    free (have);
}

/* The generator's own content: every error name and limit is listed. */
static void
test_docs_content (void **state)
{
    (void)state;
    char *text = rpc_docs_markdown ();
    assert_non_null (text);
    assert_non_null (strstr (text,
                             "| -32011 | `LIMIT_EXCEEDED` | Limit exceeded | limit, "
                             "value |"));
    assert_non_null (strstr (text, "| `frame0_bytes` | 1048576 |"));
    assert_non_null (
        strstr (text, "| `recovery.backoff_ms` | integer | no |  | 0..3600000 |"));
    assert_non_null (strstr (text, "| `ranges[].lba` | integer | yes |"));
    free (text);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_docs_up_to_date),
        cmocka_unit_test (test_docs_every_method),
        cmocka_unit_test (test_docs_content),
    };
    return cmocka_run_group_tests_name ("rpc_docs", tests, NULL, NULL);
}
