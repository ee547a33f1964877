/* fuzz_sense.c: libFuzzer target for sense data (proto/sense.c): the input
 * is parsed both as raw sense data and as the data segment of a SCSI
 * Response (2-byte SenseLength prefix, RFC 7143 §11.4.7). Invariants that
 * must hold for any input abort the run when broken (conformance A8, I4). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/errors.h"
#include "proto/sense.h"

/* Checks what every successful parse must satisfy and exercises the name
 * tables with the parsed codes. */
static void
s_check (const sense_t *s, size_t len)
{
    if (s->length > len || s->sense_key > 0xf)
        abort ();
    if (s->response_code < 0x70 || s->response_code > 0x73)
        abort ();
    char buf[SENSE_DESCRIBE_MAX];
    int n = sense_describe (s->asc, s->ascq, buf, sizeof buf);
    if (n <= 0 || (size_t)n != strlen (buf))
        abort ();
    if (strlen (sense_key_name (s->sense_key)) == 0)
        abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    sense_t s;
    int rc = sense_parse (data, size, &s);
    if (rc == 0)
        s_check (&s, size);
    else if (rc != UIS_ERR_TRUNCATED && rc != UIS_ERR_SCSI_SENSE)
        abort ();

    const uint8_t *p;
    size_t n;
    rc = sense_from_iscsi_segment (data, size, &p, &n);
    if (rc == 0 && n > 0 && (p != data + 2 || n > size - 2))
        abort ();
    if (rc != 0 && n != 0)
        abort ();
    rc = sense_parse_iscsi (data, size, &s);
    if (rc == 0)
        s_check (&s, size >= 2 ? size - 2 : 0);
    return 0;
}
