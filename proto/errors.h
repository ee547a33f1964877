/* errors.h: the error codes of uiscsid, generated from errors.def.
 * Every code is negative; 0 is success. uis_err_name/uis_err_message never
 * return NULL. */
#ifndef UISCSI_PROTO_ERRORS_H
#define UISCSI_PROTO_ERRORS_H

enum uis_err_index {
    UIS_ERR__FIRST = 0,
#define X(name, str, msg) UIS_ERR__IDX_##name,
#include "errors.def"
#undef X
    UIS_ERR__COUNT
};

typedef enum uis_err {
    UIS_OK = 0,
#define X(name, str, msg) UIS_ERR_##name = -UIS_ERR__IDX_##name,
#include "errors.def"
#undef X
} uis_err_t;

/* Short stable name of an error code ("truncated"); "ok" for 0,
 * "unknown" for a code not in the table. */
const char *uis_err_name (int code);

/* Human message of an error code; never contains caller data. */
const char *uis_err_message (int code);

#endif
