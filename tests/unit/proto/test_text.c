/* test_text.c: iSCSI key=value text segments (RFC 7143 §6.1): parsing
 * limits and syntax, building, continuation reassembly and splitting.
 * Conformance: B4 (text split over PDUs with the C bit, both directions),
 * A8 (parser robustness on malformed input; fuzzed in fuzz_text). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto/errors.h"
#include "proto/text.h"

/* Parses a byte string given with its length. */
static int
s_parse (uis_text_t *t, const char *data, size_t len, unsigned flags)
{
    return uis_text_parse (t, (const uint8_t *)data, len, flags);
}

static void
test_parse_basic (void **state)
{
    (void)state;
    uis_text_t *t = uis_text_new ();
    assert_non_null (t);
    static const char seg[] = "HeaderDigest=None\0MaxRecvDataSegmentLength=8192\0"
                              "TargetAlias=disk=one\0InitiatorAlias=\0";
    assert_int_equal (s_parse (t, seg, sizeof seg - 1, 0), 0);
    assert_int_equal (uis_text_size (t), 4);
    assert_string_equal (uis_text_key (t, 0), "HeaderDigest");
    assert_string_equal (uis_text_value (t, 0), "None");
    assert_string_equal (uis_text_key (t, 1), "MaxRecvDataSegmentLength");
    assert_string_equal (uis_text_value (t, 1), "8192");
    /* The value is everything after the first '=' (§6.1). */
    assert_string_equal (uis_text_key (t, 2), "TargetAlias");
    assert_string_equal (uis_text_value (t, 2), "disk=one");
    assert_string_equal (uis_text_value (t, 3), "");
    assert_null (uis_text_key (t, 4));
    assert_null (uis_text_value (t, 4));
    assert_string_equal (uis_text_find (t, "MaxRecvDataSegmentLength"), "8192");
    assert_null (uis_text_find (t, "DataDigest"));
    assert_int_equal (uis_text_count (t, "HeaderDigest"), 1);
    /* Empty input: zero pairs. */
    assert_int_equal (s_parse (t, "", 0, 0), 0);
    assert_int_equal (uis_text_size (t), 0);
    uis_text_destroy (&t);
    assert_null (t);
    uis_text_destroy (&t);
}

static void
test_parse_syntax_errors (void **state)
{
    (void)state;
    uis_text_t *t = uis_text_new ();
    /* Missing '=' */
    assert_int_equal (s_parse (t, "HeaderDigest\0", 13, 0), UIS_ERR_TEXT_SYNTAX);
    /* Empty key */
    assert_int_equal (s_parse (t, "=None\0", 6, 0), UIS_ERR_TEXT_SYNTAX);
    /* Characters outside the key alphabet */
    assert_int_equal (s_parse (t, "Header Digest=None\0", 19, 0), UIS_ERR_TEXT_SYNTAX);
    assert_int_equal (s_parse (t, "Key/1=x\0", 8, 0), UIS_ERR_TEXT_SYNTAX);
    assert_int_equal (s_parse (t, "K\xc3\xa9y=x\0", 7, 0), UIS_ERR_TEXT_SYNTAX);
    /* An empty pair in the middle */
    assert_int_equal (s_parse (t, "A=1\0\0B=2\0", 9, 0), UIS_ERR_TEXT_SYNTAX);
    /* The failed parse leaves the list empty, even after good pairs. */
    assert_int_equal (uis_text_size (t), 0);
    /* Allowed key characters: letters digits . - + @ _ # */
    assert_int_equal (s_parse (t, "X#a.b-c+d@e_f9=v\0", 17, 0), 0);
    assert_string_equal (uis_text_key (t, 0), "X#a.b-c+d@e_f9");
    uis_text_destroy (&t);
}

/* Trailing NUL: tolerated when missing unless strict; zero padding ignored. */
static void
test_parse_trailing_nul (void **state)
{
    (void)state;
    uis_text_t *t = uis_text_new ();
    assert_int_equal (s_parse (t, "A=1\0B=2", 7, 0), 0);
    assert_int_equal (uis_text_size (t), 2);
    assert_string_equal (uis_text_value (t, 1), "2");
    assert_int_equal (s_parse (t, "A=1\0B=2", 7, UIS_TEXT_STRICT), UIS_ERR_TEXT_SYNTAX);
    assert_int_equal (s_parse (t, "A=1\0B=2\0", 8, UIS_TEXT_STRICT), 0);
    assert_int_equal (s_parse (t, "A=1\0\0\0\0", 7, UIS_TEXT_STRICT), 0);
    assert_int_equal (uis_text_size (t), 1);
    assert_int_equal (s_parse (t, "\0\0\0\0", 4, 0), 0);
    assert_int_equal (uis_text_size (t), 0);
    /* A lone key without '=' at the end is still an error. */
    assert_int_equal (s_parse (t, "A=1\0B", 5, 0), UIS_ERR_TEXT_SYNTAX);
    uis_text_destroy (&t);
}

/* Key 63 bytes ok, 64 rejected; value 255 ok, 256 rejected for ordinary
 * keys; 8192 / 8193 for long-value keys. */
static void
test_parse_limits (void **state)
{
    (void)state;
    uis_text_t *t = uis_text_new ();
    char buf[9000];
    /* key of 63 */
    memset (buf, 'K', 63);
    memcpy (buf + 63, "=v", 3);
    assert_int_equal (s_parse (t, buf, 66, 0), 0);
    assert_int_equal (strlen (uis_text_key (t, 0)), 63);
    /* key of 64 */
    memset (buf, 'K', 64);
    memcpy (buf + 64, "=v", 3);
    assert_int_equal (s_parse (t, buf, 67, 0), UIS_ERR_TEXT_KEY_LEN);
    /* value of 255 / 256 */
    memcpy (buf, "TargetAlias=", 12);
    memset (buf + 12, 'a', 255);
    buf[12 + 255] = '\0';
    assert_int_equal (s_parse (t, buf, 12 + 256, 0), 0);
    assert_int_equal (strlen (uis_text_value (t, 0)), 255);
    memset (buf + 12, 'a', 256);
    buf[12 + 256] = '\0';
    assert_int_equal (s_parse (t, buf, 12 + 257, 0), UIS_ERR_TEXT_VALUE_LEN);
    /* long values: CHAP_C up to 8192 */
    memcpy (buf, "CHAP_C=", 7);
    memset (buf + 7, 'f', 8192);
    buf[7 + 8192] = '\0';
    assert_int_equal (s_parse (t, buf, 7 + 8193, 0), 0);
    assert_int_equal (strlen (uis_text_value (t, 0)), 8192);
    memset (buf + 7, 'f', 8193);
    buf[7 + 8193] = '\0';
    assert_int_equal (s_parse (t, buf, 7 + 8194, 0), UIS_ERR_TEXT_VALUE_LEN);
    assert_int_equal (uis_text_value_max ("CHAP_R"), 8192);
    assert_int_equal (uis_text_value_max ("SRP_A"), 8192);
    assert_int_equal (uis_text_value_max ("X-com.example.blob"), 8192);
    assert_int_equal (uis_text_value_max ("CHAP_N"), 255);
    assert_int_equal (uis_text_value_max ("Z#org.example.k"), 8192);
    assert_int_equal (uis_text_value_max ("TargetAddress"), 255);
    assert_true (uis_text_key_valid ("MaxBurstLength"));
    assert_false (uis_text_key_valid (""));
    assert_false (uis_text_key_valid ("a b"));
    uis_text_destroy (&t);
}

/* Total size and pair count limits. */
static void
test_parse_total_limit (void **state)
{
    (void)state;
    uis_text_t *t = uis_text_new ();
    uis_text_set_max (t, 16);
    assert_int_equal (s_parse (t, "AAAAAA=BBBBBBBB\0", 16, 0), 0);
    assert_int_equal (s_parse (t, "AAAAAA=BBBBBBBBB\0", 17, 0), UIS_ERR_TOO_LONG);
    uis_text_set_max (t, 0); /* back to 64 KiB */
    /* UIS_TEXT_PAIRS_MAX + 1 pairs "A=\0" */
    size_t n = UIS_TEXT_PAIRS_MAX + 1;
    char *big = malloc (n * 3);
    assert_non_null (big);
    for (size_t i = 0; i < n; i++)
        memcpy (big + 3 * i, "A=\0", 3);
    assert_int_equal (s_parse (t, big, n * 3, UIS_TEXT_ALLOW_DUP), UIS_ERR_TOO_LONG);
    assert_int_equal (s_parse (t, big, (n - 1) * 3, UIS_TEXT_ALLOW_DUP), 0);
    assert_int_equal (uis_text_size (t), UIS_TEXT_PAIRS_MAX);
    free (big);
    uis_text_destroy (&t);
}

static void
test_parse_duplicates (void **state)
{
    (void)state;
    uis_text_t *t = uis_text_new ();
    static const char dup[] = "MaxBurstLength=1\0ImmediateData=Yes\0MaxBurstLength=2\0";
    assert_int_equal (s_parse (t, dup, sizeof dup - 1, 0), UIS_ERR_TEXT_DUP_KEY);
    assert_int_equal (uis_text_size (t), 0);
    assert_int_equal (s_parse (t, dup, sizeof dup - 1, UIS_TEXT_ALLOW_DUP), 0);
    assert_int_equal (uis_text_count (t, "MaxBurstLength"), 2);
    assert_string_equal (uis_text_find (t, "MaxBurstLength"), "1");
    /* TargetName / TargetAddress repeat legitimately (SendTargets). */
    static const char st[] = "TargetName=iqn.a\0TargetAddress=10.0.0.1,1\0"
                             "TargetAddress=10.0.0.2,1\0TargetName=iqn.b\0";
    assert_int_equal (s_parse (t, st, sizeof st - 1, 0), 0);
    assert_int_equal (uis_text_size (t), 4);
    assert_true (uis_text_key_repeatable ("TargetAddress"));
    assert_false (uis_text_key_repeatable ("TargetAlias"));
    uis_text_destroy (&t);
}

static void
test_build_encode (void **state)
{
    (void)state;
    uis_text_t *t = uis_text_new ();
    size_t len = 99;
    const uint8_t *enc = uis_text_encode (t, &len);
    assert_non_null (enc);
    assert_int_equal (len, 0);
    assert_int_equal (uis_text_add (t, "InitiatorName", "iqn.2024-01.org.example:host"),
                      0);
    assert_int_equal (uis_text_add_u64 (t, "MaxRecvDataSegmentLength", 262144), 0);
    assert_int_equal (uis_text_add (t, "InitiatorAlias", ""), 0);
    static const char expect[] = "InitiatorName=iqn.2024-01.org.example:host\0"
                                 "MaxRecvDataSegmentLength=262144\0InitiatorAlias=\0";
    enc = uis_text_encode (t, &len);
    assert_int_equal (len, sizeof expect - 1);
    assert_memory_equal (enc, expect, len);
    assert_int_equal (uis_text_encoded_len (t), sizeof expect - 1);
    /* Building applies the parse limits. */
    assert_int_equal (uis_text_add (t, "", "x"), UIS_ERR_TEXT_SYNTAX);
    assert_int_equal (uis_text_add (t, "Bad Key", "x"), UIS_ERR_TEXT_SYNTAX);
    char key[65];
    memset (key, 'K', 64);
    key[64] = '\0';
    assert_int_equal (uis_text_add (t, key, "x"), UIS_ERR_TEXT_KEY_LEN);
    key[63] = '\0';
    assert_int_equal (uis_text_add (t, key, "x"), 0);
    char val[257];
    memset (val, 'v', 256);
    val[256] = '\0';
    assert_int_equal (uis_text_add (t, "TargetAlias", val), UIS_ERR_TEXT_VALUE_LEN);
    val[255] = '\0';
    assert_int_equal (uis_text_add (t, "TargetAlias", val), 0);
    assert_int_equal (uis_text_add (t, NULL, "x"), UIS_ERR_INVALID_ARG);
    assert_int_equal (uis_text_size (t), 5);
    /* Round trip: parse what we built. */
    uis_text_t *back = uis_text_new ();
    enc = uis_text_encode (t, &len);
    assert_int_equal (uis_text_parse (back, enc, len, UIS_TEXT_STRICT), 0);
    assert_int_equal (uis_text_size (back), 5);
    assert_string_equal (uis_text_value (back, 1), "262144");
    /* append */
    uis_text_t *sum = uis_text_new ();
    assert_int_equal (uis_text_add (sum, "A", "1"), 0);
    assert_int_equal (uis_text_append (sum, back), 0);
    assert_int_equal (uis_text_size (sum), 6);
    assert_string_equal (uis_text_key (sum, 1), "InitiatorName");
    /* size limit while building */
    uis_text_clear (sum);
    uis_text_set_max (sum, 8);
    assert_int_equal (uis_text_add (sum, "AB", "1234"), 0); /* 8 bytes */
    assert_int_equal (uis_text_add (sum, "C", ""), UIS_ERR_TOO_LONG);
    uis_text_destroy (&sum);
    uis_text_destroy (&back);
    uis_text_destroy (&t);
}

static const char s_ltds[] = "HeaderDigest=None\0DataDigest=None\0"
                             "MaxRecvDataSegmentLength=262144\0TargetAlias=store\0";

/* B4: a key=value split over two PDUs at every possible byte, and over
 * three PDUs at many pairs of positions, reassembles to the same list. */
static void
test_rx_split_everywhere (void **state)
{
    (void)state;
    const size_t len = sizeof s_ltds - 1;
    uis_text_rx_t *rx = uis_text_rx_new (0);
    uis_text_t *t = uis_text_new ();
    for (size_t cut = 0; cut <= len; cut++) {
        uis_text_rx_reset (rx);
        assert_int_equal (uis_text_rx_feed (rx, (const uint8_t *)s_ltds, cut, true), 0);
        assert_false (uis_text_rx_done (rx));
        assert_int_equal (uis_text_rx_parse (rx, t, 0), UIS_ERR_STATE);
        assert_int_equal (
            uis_text_rx_feed (rx, (const uint8_t *)s_ltds + cut, len - cut, false), 0);
        assert_true (uis_text_rx_done (rx));
        assert_int_equal (uis_text_rx_parse (rx, t, UIS_TEXT_STRICT), 0);
        assert_int_equal (uis_text_size (t), 4);
        assert_string_equal (uis_text_value (t, 2), "262144");
        assert_string_equal (uis_text_key (t, 3), "TargetAlias");
    }
    for (size_t a = 0; a <= len; a += 3)
        for (size_t b = a; b <= len; b += 5) {
            uis_text_rx_reset (rx);
            assert_int_equal (uis_text_rx_feed (rx, (const uint8_t *)s_ltds, a, true), 0);
            assert_int_equal (
                uis_text_rx_feed (rx, (const uint8_t *)s_ltds + a, b - a, true), 0);
            assert_int_equal (
                uis_text_rx_feed (rx, (const uint8_t *)s_ltds + b, len - b, false), 0);
            size_t got;
            const uint8_t *data = uis_text_rx_data (rx, &got);
            assert_int_equal (got, len);
            assert_memory_equal (data, s_ltds, len);
            assert_int_equal (uis_text_rx_parse (rx, t, 0), 0);
            assert_string_equal (uis_text_value (t, 0), "None");
        }
    uis_text_destroy (&t);
    uis_text_rx_destroy (&rx);
    assert_null (rx);
}

/* B4: total-size limit and state errors of the reassembler. */
static void
test_rx_limits (void **state)
{
    (void)state;
    uis_text_rx_t *rx = uis_text_rx_new (100);
    uint8_t chunk[60];
    memset (chunk, 'a', sizeof chunk);
    assert_int_equal (uis_text_rx_feed (rx, chunk, 60, true), 0);
    assert_int_equal (uis_text_rx_feed (rx, chunk, 40, true), 0); /* exactly 100 */
    assert_int_equal (uis_text_rx_feed (rx, chunk, 1, true), UIS_ERR_TOO_LONG);
    /* reset after the overflow: a fresh LTDS can start */
    size_t got = 1;
    uis_text_rx_data (rx, &got);
    assert_int_equal (got, 0);
    assert_int_equal (uis_text_rx_feed (rx, (const uint8_t *)"A=1\0", 4, false), 0);
    assert_int_equal (uis_text_rx_feed (rx, (const uint8_t *)"B=2\0", 4, false),
                      UIS_ERR_STATE);
    uis_text_t *t = uis_text_new ();
    assert_int_equal (uis_text_rx_parse (rx, t, 0), 0);
    assert_string_equal (uis_text_value (t, 0), "1");
    /* empty continuation PDUs are fine */
    uis_text_rx_reset (rx);
    assert_int_equal (uis_text_rx_feed (rx, NULL, 0, true), 0);
    assert_int_equal (uis_text_rx_feed (rx, NULL, 0, false), 0);
    assert_int_equal (uis_text_rx_parse (rx, t, 0), 0);
    assert_int_equal (uis_text_size (t), 0);
    uis_text_destroy (&t);
    uis_text_rx_destroy (&rx);
    /* default limit is 64 KiB */
    rx = uis_text_rx_new (0);
    uint8_t *big = calloc (1, 65537);
    assert_int_equal (uis_text_rx_feed (rx, big, 65536, true), 0);
    assert_int_equal (uis_text_rx_feed (rx, big, 1, false), UIS_ERR_TOO_LONG);
    free (big);
    uis_text_rx_destroy (&rx);
}

/* B4 sending side: chunks of at most the peer's MRDSL, C=1 on all but the
 * last. */
static void
test_tx_split (void **state)
{
    (void)state;
    size_t len;
    bool cont;
    assert_int_equal (uis_text_chunk (20000, 0, 8192, &len, &cont), 0);
    assert_int_equal (len, 8192);
    assert_true (cont);
    assert_int_equal (uis_text_chunk (20000, 16384, 8192, &len, &cont), 0);
    assert_int_equal (len, 3616);
    assert_false (cont);
    assert_int_equal (uis_text_chunk (8192, 0, 8192, &len, &cont), 0);
    assert_int_equal (len, 8192);
    assert_false (cont);
    assert_int_equal (uis_text_chunk (10, 11, 8192, &len, &cont), UIS_ERR_INVALID_ARG);
    assert_int_equal (uis_text_chunk (10, 0, 0, &len, &cont), UIS_ERR_INVALID_ARG);

    uint8_t *seg = malloc (20000);
    for (size_t i = 0; i < 20000; i++)
        seg[i] = (uint8_t)(i * 13);
    uis_text_tx_t *tx = uis_text_tx_new ();
    const uint8_t *chunk;
    assert_int_equal (uis_text_tx_next (tx, 8192, &chunk, &len, &cont), UIS_ERR_STATE);
    assert_int_equal (uis_text_tx_load_raw (tx, seg, 20000), 0);
    static const size_t expect_len[] = {8192, 8192, 3616};
    static const bool expect_cont[] = {true, true, false};
    size_t off = 0;
    for (int i = 0; i < 3; i++) {
        assert_false (uis_text_tx_done (tx));
        assert_int_equal (uis_text_tx_next (tx, 8192, &chunk, &len, &cont), 0);
        assert_int_equal (len, expect_len[i]);
        assert_int_equal (cont, expect_cont[i]);
        assert_memory_equal (chunk, seg + off, len);
        off += len;
    }
    assert_true (uis_text_tx_done (tx));
    assert_int_equal (uis_text_tx_next (tx, 8192, &chunk, &len, &cont), UIS_ERR_STATE);
    assert_int_equal (uis_text_tx_next (tx, 0, &chunk, &len, &cont), UIS_ERR_INVALID_ARG);
    /* an empty LTDS is one PDU with no data and C=0 */
    assert_int_equal (uis_text_tx_load_raw (tx, NULL, 0), 0);
    assert_int_equal (uis_text_tx_next (tx, 512, &chunk, &len, &cont), 0);
    assert_int_equal (len, 0);
    assert_false (cont);
    assert_true (uis_text_tx_done (tx));
    free (seg);
    uis_text_tx_destroy (&tx);
    assert_null (tx);
}

/* B4 both ways: a list split for a peer MRDSL of 16 bytes is reassembled
 * into the same list (a pair is cut in the middle of its key). */
static void
test_tx_rx_roundtrip (void **state)
{
    (void)state;
    uis_text_t *t = uis_text_new ();
    assert_int_equal (uis_text_add (t, "InitiatorName", "iqn.2024-01.org.example:h"), 0);
    assert_int_equal (uis_text_add (t, "SessionType", "Normal"), 0);
    assert_int_equal (uis_text_add (t, "TargetName", "iqn.2024-01.org.example:t"), 0);
    uis_text_tx_t *tx = uis_text_tx_new ();
    assert_int_equal (uis_text_tx_load (tx, t), 0);
    uis_text_rx_t *rx = uis_text_rx_new (0);
    int pdus = 0;
    while (!uis_text_tx_done (tx) && pdus < 100) {
        const uint8_t *chunk;
        size_t len;
        bool cont;
        assert_int_equal (uis_text_tx_next (tx, 16, &chunk, &len, &cont), 0);
        assert_true (len <= 16);
        assert_int_equal (uis_text_rx_feed (rx, chunk, len, cont), 0);
        pdus++;
    }
    /* 40 + 19 + 37 = 96 bytes -> 6 PDUs */
    assert_int_equal (pdus, 6);
    uis_text_t *back = uis_text_new ();
    assert_int_equal (uis_text_rx_parse (rx, back, UIS_TEXT_STRICT), 0);
    assert_int_equal (uis_text_size (back), 3);
    assert_string_equal (uis_text_value (back, 1), "Normal");
    assert_string_equal (uis_text_value (back, 2), "iqn.2024-01.org.example:t");
    uis_text_destroy (&back);
    uis_text_rx_destroy (&rx);
    uis_text_tx_destroy (&tx);
    uis_text_destroy (&t);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_parse_basic),
        cmocka_unit_test (test_parse_syntax_errors),
        cmocka_unit_test (test_parse_trailing_nul),
        cmocka_unit_test (test_parse_limits),
        cmocka_unit_test (test_parse_total_limit),
        cmocka_unit_test (test_parse_duplicates),
        cmocka_unit_test (test_build_encode),
        cmocka_unit_test (test_rx_split_everywhere),
        cmocka_unit_test (test_rx_limits),
        cmocka_unit_test (test_tx_split),
        cmocka_unit_test (test_tx_rx_roundtrip),
    };
    return cmocka_run_group_tests_name ("text", tests, NULL, NULL);
}
