/* test_sendtargets.c: parsing SendTargets=All responses into targets and
 * portals.
 * Conformance: B17 (parser part: response over 3 Text PDUs with C=1,
 * IPv6 `[addr]:port,tpgt`, a target without portal, an empty response,
 * TargetName appearing twice), B16 (default port 3260), A8 (malformed
 * entries; fuzzed in fuzz_sendtargets). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "proto/errors.h"
#include "proto/sendtargets.h"

#define PARSE_RAW(st, lit)                                                               \
    uis_sendtargets_parse_raw (st, (const uint8_t *)lit, sizeof lit - 1)

/* Asserts portal j of target i. */
static void
s_assert_portal (const uis_sendtargets_t *st, size_t i, size_t j, const char *host,
                 unsigned port, bool ipv6, bool has_tpgt, unsigned tpgt)
{
    const uis_st_portal_t *p = uis_sendtargets_portal (st, i, j);
    assert_non_null (p);
    assert_string_equal (p->portal.host, host);
    assert_int_equal (p->portal.port, port);
    assert_int_equal (p->portal.ipv6, ipv6);
    assert_int_equal (p->has_tpgt, has_tpgt);
    assert_int_equal (p->tpgt, tpgt);
}

/* B17: a response in 3 Text PDUs (C=1, C=1, C=0) cut inside pairs, with
 * IPv6, a target without portal and a default port. */
static void
test_b17_full_response (void **state)
{
    (void)state;
    static const char resp[] = "TargetName=iqn.2003-01.org.example:disk1\0"
                               "TargetAddress=192.0.2.10:3260,1\0"
                               "TargetAddress=[2001:db8::10]:3261,2\0"
                               "TargetName=iqn.2003-01.org.example:noportal\0"
                               "TargetName=iqn.2003-01.org.example:disk2\0"
                               "TargetAddress=storage.example.com,3\0";
    const size_t len = sizeof resp - 1;
    uis_text_rx_t *rx = uis_text_rx_new (0);
    /* Cut in the middle of "TargetAddress" and of an IPv6 literal. */
    const size_t cut1 = 50, cut2 = 95;
    assert_int_equal (uis_text_rx_feed (rx, (const uint8_t *)resp, cut1, true), 0);
    assert_int_equal (
        uis_text_rx_feed (rx, (const uint8_t *)resp + cut1, cut2 - cut1, true), 0);
    assert_int_equal (
        uis_text_rx_feed (rx, (const uint8_t *)resp + cut2, len - cut2, false), 0);
    uis_text_t *t = uis_text_new ();
    assert_int_equal (uis_text_rx_parse (rx, t, 0), 0);
    uis_sendtargets_t *st = uis_sendtargets_new ();
    assert_int_equal (uis_sendtargets_parse (st, t), 0);
    assert_int_equal (uis_sendtargets_count (st), 3);
    assert_int_equal (uis_sendtargets_skipped (st), 0);
    assert_string_equal (uis_sendtargets_name (st, 0), "iqn.2003-01.org.example:disk1");
    assert_int_equal (uis_sendtargets_portal_count (st, 0), 2);
    s_assert_portal (st, 0, 0, "192.0.2.10", 3260, false, true, 1);
    s_assert_portal (st, 0, 1, "2001:db8::10", 3261, true, true, 2);
    assert_string_equal (uis_sendtargets_name (st, 1),
                         "iqn.2003-01.org.example:noportal");
    assert_int_equal (uis_sendtargets_portal_count (st, 1), 0);
    assert_null (uis_sendtargets_portal (st, 1, 0));
    assert_string_equal (uis_sendtargets_name (st, 2), "iqn.2003-01.org.example:disk2");
    assert_int_equal (uis_sendtargets_portal_count (st, 2), 1);
    s_assert_portal (st, 2, 0, "storage.example.com", 3260, false, true, 3);
    assert_null (uis_sendtargets_name (st, 3));
    assert_int_equal (uis_sendtargets_portal_count (st, 3), 0);
    uis_sendtargets_destroy (&st);
    assert_null (st);
    uis_text_destroy (&t);
    uis_text_rx_destroy (&rx);
}

/* B17: an empty response is zero targets, not an error. */
static void
test_b17_empty (void **state)
{
    (void)state;
    uis_sendtargets_t *st = uis_sendtargets_new ();
    assert_int_equal (uis_sendtargets_parse_raw (st, NULL, 0), 0);
    assert_int_equal (uis_sendtargets_count (st), 0);
    assert_int_equal (PARSE_RAW (st, "\0\0\0"), 0);
    assert_int_equal (uis_sendtargets_count (st), 0);
    uis_sendtargets_destroy (&st);
}

/* B17: TargetName twice is merged; exact duplicate portals dropped. */
static void
test_b17_name_twice (void **state)
{
    (void)state;
    uis_sendtargets_t *st = uis_sendtargets_new ();
    assert_int_equal (PARSE_RAW (st, "TargetName=iqn.a\0TargetAddress=10.0.0.1:3260,1\0"
                                     "TargetName=iqn.b\0TargetAddress=10.0.0.2,1\0"
                                     "TargetName=iqn.a\0TargetAddress=10.0.0.3:3260,2\0"
                                     "TargetAddress=10.0.0.1:3260,1\0"),
                      0);
    assert_int_equal (uis_sendtargets_count (st), 2);
    assert_string_equal (uis_sendtargets_name (st, 0), "iqn.a");
    assert_int_equal (uis_sendtargets_portal_count (st, 0), 2);
    s_assert_portal (st, 0, 0, "10.0.0.1", 3260, false, true, 1);
    s_assert_portal (st, 0, 1, "10.0.0.3", 3260, false, true, 2);
    assert_string_equal (uis_sendtargets_name (st, 1), "iqn.b");
    s_assert_portal (st, 1, 0, "10.0.0.2", 3260, false, true, 1);
    uis_sendtargets_destroy (&st);
}

/* Malformed entries are skipped and counted; other keys ignored. */
static void
test_malformed_entries (void **state)
{
    (void)state;
    uis_sendtargets_t *st = uis_sendtargets_new ();
    assert_int_equal (PARSE_RAW (st, "TargetAddress=10.0.0.9,1\0" /* before a name */
                                     "TargetName=iqn.a\0"
                                     "TargetAddress=10.0.0.1:0,1\0"   /* port 0 */
                                     "TargetAddress=::1,1\0"          /* bare IPv6 */
                                     "TargetAddress=10.0.0.1,65536\0" /* tpgt range */
                                     "TargetAddress=10.0.0.1,x\0"     /* tpgt syntax */
                                     "TargetAddress=10.0.0.1,\0"      /* empty tpgt */
                                     "TargetAddress=\0"               /* empty */
                                     "TargetAlias=ignored\0"
                                     "TargetAddress=10.0.0.1\0" /* no tpgt: fine */
                                     "TargetName=\0"            /* empty name */
                                     "TargetAddress=10.0.0.2,1\0"),
                      0);
    assert_int_equal (uis_sendtargets_count (st), 1);
    assert_int_equal (uis_sendtargets_skipped (st), 9);
    assert_int_equal (uis_sendtargets_portal_count (st, 0), 1);
    s_assert_portal (st, 0, 0, "10.0.0.1", 3260, false, false, 0);
    /* Text errors come back as they are; the result is then empty. */
    assert_int_equal (PARSE_RAW (st, "TargetName\0"), UIS_ERR_TEXT_SYNTAX);
    assert_int_equal (uis_sendtargets_count (st), 0);
    uis_sendtargets_destroy (&st);
}

static void
test_parse_address (void **state)
{
    (void)state;
    uis_st_portal_t p;
    assert_int_equal (uis_sendtargets_parse_address ("[::1]:3261,7", &p), 0);
    assert_string_equal (p.portal.host, "::1");
    assert_int_equal (p.portal.port, 3261);
    assert_true (p.portal.ipv6);
    assert_true (p.has_tpgt);
    assert_int_equal (p.tpgt, 7);
    assert_int_equal (uis_sendtargets_parse_address ("[::1],65535", &p), 0);
    assert_int_equal (p.portal.port, 3260);
    assert_int_equal (p.tpgt, 65535);
    assert_int_equal (uis_sendtargets_parse_address ("h:1,1,2", &p), UIS_ERR_MALFORMED);
    assert_int_equal (uis_sendtargets_parse_address ("h:1,999999", &p),
                      UIS_ERR_MALFORMED);
    assert_int_equal (uis_sendtargets_parse_address ("h:1,99999", &p),
                      UIS_ERR_OUT_OF_RANGE);
    assert_int_equal (uis_sendtargets_parse_address (",1", &p), UIS_ERR_MALFORMED);
    char big[400];
    memset (big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal (uis_sendtargets_parse_address (big, &p), UIS_ERR_TOO_LONG);
}

/* Count limits: targets and portals per target. */
static void
test_limits (void **state)
{
    (void)state;
    uis_sendtargets_t *st = uis_sendtargets_new ();
    size_t cap = (UIS_ST_TARGETS_MAX + 1) * 24;
    char *buf = malloc (cap);
    size_t len = 0;
    for (int i = 0; i <= UIS_ST_TARGETS_MAX; i++)
        len += (size_t)snprintf (buf + len, cap - len, "TargetName=iqn.t%d", i) + 1;
    assert_int_equal (uis_sendtargets_parse_raw (st, (uint8_t *)buf, len),
                      UIS_ERR_TOO_LONG);
    assert_int_equal (uis_sendtargets_count (st), 0);
    /* exactly the limit is fine */
    len = 0;
    for (int i = 0; i < UIS_ST_TARGETS_MAX; i++)
        len += (size_t)snprintf (buf + len, cap - len, "TargetName=iqn.t%d", i) + 1;
    assert_int_equal (uis_sendtargets_parse_raw (st, (uint8_t *)buf, len), 0);
    assert_int_equal (uis_sendtargets_count (st), UIS_ST_TARGETS_MAX);
    /* portals */
    len = (size_t)snprintf (buf, cap, "TargetName=iqn.x") + 1;
    for (int i = 0; i <= UIS_ST_PORTALS_MAX; i++)
        len += (size_t)snprintf (buf + len, cap - len, "TargetAddress=h%d,1", i) + 1;
    assert_int_equal (uis_sendtargets_parse_raw (st, (uint8_t *)buf, len),
                      UIS_ERR_TOO_LONG);
    free (buf);
    uis_sendtargets_destroy (&st);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_b17_full_response),
        cmocka_unit_test (test_b17_empty),
        cmocka_unit_test (test_b17_name_twice),
        cmocka_unit_test (test_malformed_entries),
        cmocka_unit_test (test_parse_address),
        cmocka_unit_test (test_limits),
    };
    return cmocka_run_group_tests_name ("sendtargets", tests, NULL, NULL);
}
