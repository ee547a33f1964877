/* test_portal.c: "host[:port]" portal strings.
 * Conformance: B16 (default port 3260, IPv6 literal in brackets), B17
 * (IPv6 portals in SendTargets, the portal part), A8 (junk rejected;
 * fuzzed in fuzz_sendtargets). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "proto/errors.h"
#include "proto/portal.h"

/* B16: accepted forms with their exact host, port and family. */
static void
test_parse_valid (void **state)
{
    (void)state;
    static const struct {
        const char *text;
        const char *host;
        unsigned port;
        bool ipv6;
    } cases[] = {
        {"192.0.2.1", "192.0.2.1", 3260, false},
        {"192.0.2.1:3261", "192.0.2.1", 3261, false},
        {"0.0.0.0:1", "0.0.0.0", 1, false},
        {"255.255.255.255:65535", "255.255.255.255", 65535, false},
        {"localhost", "localhost", 3260, false},
        {"iscsi-01.example.com:860", "iscsi-01.example.com", 860, false},
        {"host_1.example.com.", "host_1.example.com.", 3260, false},
        {"[::1]", "::1", 3260, true},
        {"[::1]:3261", "::1", 3261, true},
        {"[::]:3260", "::", 3260, true},
        {"[2001:db8::1]:3260", "2001:db8::1", 3260, true},
        {"[2001:db8:0:0:0:0:0:1]", "2001:db8:0:0:0:0:0:1", 3260, true},
        {"[2001:DB8::abcd:1]:9", "2001:DB8::abcd:1", 9, true},
        {"[::ffff:192.0.2.1]:3260", "::ffff:192.0.2.1", 3260, true},
        {"[1::]", "1::", 3260, true},
        {"[fe80::1%eth0]:3260", "fe80::1%eth0", 3260, true},
        {"[1:2:3:4:5:6:7::]", "1:2:3:4:5:6:7::", 3260, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uis_portal_t p;
        memset (&p, 0xaa, sizeof p);
        int rc = uis_portal_parse (cases[i].text, &p);
        if (rc)
            print_message ("%s -> %s\n", cases[i].text, uis_err_name (rc));
        assert_int_equal (rc, 0);
        assert_string_equal (p.host, cases[i].host);
        assert_int_equal (p.port, cases[i].port);
        assert_int_equal (p.ipv6, cases[i].ipv6);
    }
}

/* Junk is rejected with the documented code. */
static void
test_parse_invalid (void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc;
    } cases[] = {
        {"", UIS_ERR_MALFORMED},
        {":3260", UIS_ERR_MALFORMED},
        {"host:", UIS_ERR_MALFORMED},
        {"host:0", UIS_ERR_OUT_OF_RANGE},
        {"host:65536", UIS_ERR_OUT_OF_RANGE},
        {"host:99999999999999999999", UIS_ERR_OUT_OF_RANGE},
        {"host:12a", UIS_ERR_MALFORMED},
        {"host:-1", UIS_ERR_MALFORMED},
        {"host: 1", UIS_ERR_MALFORMED},
        {"[::1", UIS_ERR_MALFORMED},
        {"::1]", UIS_ERR_MALFORMED},
        {"::1", UIS_ERR_MALFORMED},
        {"2001:db8::1:3260", UIS_ERR_MALFORMED},
        {"[]", UIS_ERR_MALFORMED},
        {"[]:3260", UIS_ERR_MALFORMED},
        {"[::1]x", UIS_ERR_MALFORMED},
        {"[::1]:", UIS_ERR_MALFORMED},
        {"[::1]]:1", UIS_ERR_MALFORMED},
        {"[[::1]]", UIS_ERR_MALFORMED},
        {"[192.0.2.1]", UIS_ERR_MALFORMED},
        {"[hostname]", UIS_ERR_MALFORMED},
        {"[1:2:3:4:5:6:7:8:9]", UIS_ERR_MALFORMED},
        {"[1:2:3:4:5:6:7]", UIS_ERR_MALFORMED},
        {"[1::2::3]", UIS_ERR_MALFORMED},
        {"[12345::1]", UIS_ERR_MALFORMED},
        {"[:1]", UIS_ERR_MALFORMED},
        {"[1:]", UIS_ERR_MALFORMED},
        {"[::1%]", UIS_ERR_MALFORMED},
        {"[g::1]", UIS_ERR_MALFORMED},
        {"ho st", UIS_ERR_MALFORMED},
        {"host/path", UIS_ERR_MALFORMED},
        {"host,1", UIS_ERR_MALFORMED},
        {"a..b", UIS_ERR_MALFORMED},
        {".host", UIS_ERR_MALFORMED},
        {"256.0.0.1", UIS_ERR_MALFORMED},
        {"1.2.3", UIS_ERR_MALFORMED},
        {"1.2.3.4.5", UIS_ERR_MALFORMED},
        {"1.2.3.0004", UIS_ERR_MALFORMED},
        {"12345", UIS_ERR_MALFORMED},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uis_portal_t p;
        int rc = uis_portal_parse (cases[i].text, &p);
        if (rc != cases[i].rc)
            print_message ("'%s' -> %s\n", cases[i].text, uis_err_name (rc));
        assert_int_equal (rc, cases[i].rc);
    }
    uis_portal_t p;
    assert_int_equal (uis_portal_parse (NULL, &p), UIS_ERR_MALFORMED);
    /* a NUL inside a counted string */
    assert_int_equal (uis_portal_parse_n ("ab\0c", 4, &p), UIS_ERR_MALFORMED);
    assert_int_equal (uis_portal_parse_n ("abc:3261xyz", 8, &p), 0);
    assert_int_equal (p.port, 3261);
    /* length limits: a 253-byte host is fine, 254 is too long */
    char buf[600];
    for (int i = 0; i < 253; i++)
        buf[i] = (i % 4 == 3) ? '.' : 'a';
    buf[253] = '\0';
    assert_int_equal (uis_portal_parse (buf, &p), 0);
    assert_int_equal (strlen (p.host), 253);
    buf[253] = 'a';
    buf[254] = '\0';
    assert_int_equal (uis_portal_parse (buf, &p), UIS_ERR_TOO_LONG);
    memset (buf, 'a', 599);
    buf[599] = '\0';
    assert_int_equal (uis_portal_parse (buf, &p), UIS_ERR_TOO_LONG);
    /* a label of 64 characters */
    memset (buf, 'a', 64);
    buf[64] = '\0';
    assert_int_equal (uis_portal_parse (buf, &p), UIS_ERR_MALFORMED);
}

/* Formatting back, and the round trip. */
static void
test_format (void **state)
{
    (void)state;
    static const char *const texts[] = {"192.0.2.1:3260", "[::1]:3261",
                                        "iscsi.example.com:860", "[fe80::1%eth0]:3260"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        uis_portal_t p;
        char out[UIS_PORTAL_STR_MAX];
        assert_int_equal (uis_portal_parse (texts[i], &p), 0);
        assert_int_equal (uis_portal_format (&p, out, sizeof out), 0);
        assert_string_equal (out, texts[i]);
    }
    uis_portal_t p;
    assert_int_equal (uis_portal_parse ("[2001:db8::1]", &p), 0);
    char out[32];
    assert_int_equal (uis_portal_format (&p, out, sizeof out), 0);
    assert_string_equal (out, "[2001:db8::1]:3260");
    assert_int_equal (uis_portal_format (&p, out, 18), UIS_ERR_BUFFER_TOO_SMALL);
    assert_int_equal (uis_portal_format (&p, out, 19), 0);
    p.port = 0;
    assert_int_equal (uis_portal_format (&p, out, sizeof out), UIS_ERR_INVALID_ARG);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_parse_valid),
        cmocka_unit_test (test_parse_invalid),
        cmocka_unit_test (test_format),
    };
    return cmocka_run_group_tests_name ("portal", tests, NULL, NULL);
}
