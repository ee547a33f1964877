/* fuzz_text.c: the key=value parser on random bytes, plus continuation
 * reassembly with random split points and the split/reassemble round trip
 * (A8, B4). Input: byte 0 = parse flags and split seed, the rest = one
 * LTDS. Invariants checked (abort on violation): reassembly in pieces
 * parses exactly like the whole; a parsed list encodes, splits, reassembles
 * and parses back to the same pairs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/errors.h"
#include "proto/text.h"

/* Aborts unless two lists hold the same pairs in the same order. */
static void
s_same (const uis_text_t *a, const uis_text_t *b)
{
    if (uis_text_size (a) != uis_text_size (b))
        abort ();
    for (size_t i = 0; i < uis_text_size (a); i++)
        if (strcmp (uis_text_key (a, i), uis_text_key (b, i)) != 0
            || strcmp (uis_text_value (a, i), uis_text_value (b, i)) != 0)
            abort ();
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned flags = data[0] & (UIS_TEXT_STRICT | UIS_TEXT_ALLOW_DUP);
    uint32_t seed = data[0] >> 2;
    data++;
    size--;
    uis_text_t *whole = uis_text_new ();
    uis_text_t *pieces = uis_text_new ();
    uis_text_rx_t *rx = uis_text_rx_new (0);
    uis_text_tx_t *tx = uis_text_tx_new ();
    if (!whole || !pieces || !rx || !tx)
        abort ();
    int rc_whole = uis_text_parse (whole, data, size, flags);

    /* Reassemble in pieces chosen by a small LCG. */
    size_t off = 0;
    int rc_feed = 0;
    for (int n = 0; n < 64 && rc_feed == 0; n++) {
        seed = seed * 1103515245u + 12345u;
        size_t left = size - off;
        size_t cut = left ? (seed >> 8) % (left + 1) : 0;
        bool last = n == 63 || cut == left;
        if (last)
            cut = left;
        rc_feed = uis_text_rx_feed (rx, data + off, cut, !last);
        off += cut;
        if (last)
            break;
    }
    if (rc_feed == 0) {
        int rc_pieces = uis_text_rx_parse (rx, pieces, flags);
        if (rc_pieces != rc_whole)
            abort ();
        if (rc_whole == 0)
            s_same (whole, pieces);
    }
    else if (rc_feed != UIS_ERR_TOO_LONG || size <= UIS_TEXT_MAX_DEFAULT)
        abort ();

    if (rc_whole == 0) {
        /* Encode, split at a random MRDSL, reassemble, parse back. */
        if (uis_text_tx_load (tx, whole) != 0)
            abort ();
        size_t max_dsl = 1 + (seed % 700);
        uis_text_rx_reset (rx);
        for (int n = 0; !uis_text_tx_done (tx) && n < 100000; n++) {
            const uint8_t *chunk;
            size_t len;
            bool cont;
            if (uis_text_tx_next (tx, max_dsl, &chunk, &len, &cont) != 0 || len > max_dsl)
                abort ();
            if (uis_text_rx_feed (rx, chunk, len, cont) != 0)
                abort ();
        }
        if (!uis_text_rx_done (rx))
            abort ();
        if (uis_text_rx_parse (rx, pieces, flags | UIS_TEXT_STRICT) != 0)
            abort ();
        s_same (whole, pieces);
    }
    uis_text_tx_destroy (&tx);
    uis_text_rx_destroy (&rx);
    uis_text_destroy (&pieces);
    uis_text_destroy (&whole);
    return 0;
}
