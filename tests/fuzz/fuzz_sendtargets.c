/* fuzz_sendtargets.c: the SendTargets response parser and the portal
 * string parser on random bytes (A8, B16, B17). The whole input is parsed
 * as a response; it is also taken as a portal string and as a
 * TargetAddress value. Invariants (abort on violation): counts within the
 * limits; every accepted portal formats and parses back to itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/errors.h"
#include "proto/portal.h"
#include "proto/sendtargets.h"

/* Aborts unless portal p survives format + parse unchanged. */
static void
s_roundtrip (const uis_portal_t *p)
{
    char buf[UIS_PORTAL_STR_MAX];
    uis_portal_t back;
    if (uis_portal_format (p, buf, sizeof buf) != 0)
        abort ();
    if (uis_portal_parse (buf, &back) != 0)
        abort ();
    if (strcmp (back.host, p->host) != 0 || back.port != p->port || back.ipv6 != p->ipv6)
        abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    uis_sendtargets_t *st = uis_sendtargets_new ();
    if (!st)
        abort ();
    if (uis_sendtargets_parse_raw (st, data, size) == 0) {
        size_t n = uis_sendtargets_count (st);
        if (n > UIS_ST_TARGETS_MAX)
            abort ();
        for (size_t i = 0; i < n; i++) {
            if (!uis_sendtargets_name (st, i) || !uis_sendtargets_name (st, i)[0])
                abort ();
            size_t m = uis_sendtargets_portal_count (st, i);
            if (m > UIS_ST_PORTALS_MAX)
                abort ();
            for (size_t j = 0; j < m; j++)
                s_roundtrip (&uis_sendtargets_portal (st, i, j)->portal);
        }
    }
    else if (uis_sendtargets_count (st) != 0)
        abort ();
    uis_sendtargets_destroy (&st);

    uis_portal_t p;
    if (uis_portal_parse_n ((const char *)data, size, &p) == 0) {
        if (p.port == 0)
            abort ();
        s_roundtrip (&p);
    }
    if (size < 1024) {
        char value[1024];
        memcpy (value, data, size);
        value[size] = '\0';
        uis_st_portal_t sp;
        if (uis_sendtargets_parse_address (value, &sp) == 0)
            s_roundtrip (&sp.portal);
        if (uis_portal_parse (value, &p) == 0)
            s_roundtrip (&p);
    }
    return 0;
}
