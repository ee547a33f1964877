/* errors.c: name and message lookup over the table in errors.def. */
#include "errors.h"

static const char *s_names[] = {
    "ok",
#define X(name, str, msg) str,
#include "errors.def"
#undef X
};

static const char *s_messages[] = {
    "success",
#define X(name, str, msg) msg,
#include "errors.def"
#undef X
};

/* Index into the tables for a code, or -1 when the code is unknown. */
static int
s_index (int code)
{
    if (code > 0 || code <= -UIS_ERR__COUNT)
        return -1;
    return -code;
}

const char *
uis_err_name (int code)
{
    int i = s_index (code);
    return i < 0 ? "unknown" : s_names[i];
}

const char *
uis_err_message (int code)
{
    int i = s_index (code);
    return i < 0 ? "unknown error" : s_messages[i];
}
