/* test_config.c: the daemon's settings (actors/config): defaults, the
 * command line (every flag kind, --help, --version, unknown flags, missing
 * values), the JSON config file (keys = flag names with '_', "limits",
 * errors that name the key, flags overriding the file) and the resolution
 * of the runtime dir and endpoints. No files but one temporary config.
 * Conformance ids: none (daemon plumbing). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "actors/config.h"
#include "proto/errors.h"

#define ARGC(a) ((int)(sizeof (a) / sizeof (a)[0]))

/* Defaults are API.md's. */
static void
test_defaults (void **state)
{
    (void)state;
    uis_config_t c;
    uis_config_init (&c);
    assert_int_equal (c.limits.frame0_bytes, 1 << 20);
    assert_int_equal (c.limits.data_bytes, 64 << 20);
    assert_int_equal (c.limits.in_flight_per_client, 256);
    assert_int_equal (c.limits.sessions, 1024);
    assert_int_equal (c.log_level, UIS_LOG_INFO);
    assert_int_equal (c.metrics_interval_ms, 1000);
    assert_int_equal (c.event_ring, 10000);
    assert_int_equal (c.shutdown_timeout_ms, 5000);
    assert_false (c.foreground);
    assert_null (c.rpc);
    uis_config_fini (&c);
}

/* Every flag kind on the command line. */
static void
test_args (void **state)
{
    (void)state;
    uis_config_t c;
    uis_config_init (&c);
    char *argv[] = {"uiscsid",       "--foreground",
                    "--rpc",         "ipc:///tmp/x/r.sock",
                    "--log-level",   "debug",
                    "--group",       "disk",
                    "--syslog",      "--metrics-interval-ms=250",
                    "--runtime-dir", "/tmp/x"};
    uis_config_action_t action = UIS_CONFIG_HELP;
    char err[256] = "";
    assert_int_equal (
        uis_config_from_args (&c, ARGC (argv), argv, &action, err, sizeof err), 0);
    assert_int_equal (action, UIS_CONFIG_RUN);
    assert_true (c.foreground);
    assert_true (c.syslog);
    assert_string_equal (c.rpc, "ipc:///tmp/x/r.sock");
    assert_string_equal (c.group, "disk");
    assert_string_equal (c.runtime_dir, "/tmp/x");
    assert_int_equal (c.log_level, UIS_LOG_DEBUG);
    assert_int_equal (c.metrics_interval_ms, 250);
    /* resolve fills the events endpoint from the runtime dir */
    assert_int_equal (uis_config_resolve (&c, 1000, NULL, err, sizeof err), 0);
    assert_string_equal (c.events, "ipc:///tmp/x/events.sock");
    assert_string_equal (c.rpc, "ipc:///tmp/x/r.sock");
    uis_config_fini (&c);
    assert_null (c.rpc);
}

/* --help, --version, and command line faults. */
static void
test_args_actions_and_faults (void **state)
{
    (void)state;
    uis_config_t c;
    uis_config_action_t action;
    char err[256];
    char *help[] = {"uiscsid", "--rpc", "ipc:///a", "--help"};
    uis_config_init (&c);
    assert_int_equal (
        uis_config_from_args (&c, ARGC (help), help, &action, err, sizeof err), 0);
    assert_int_equal (action, UIS_CONFIG_HELP);
    uis_config_fini (&c);
    char *version[] = {"uiscsid", "--version"};
    assert_int_equal (
        uis_config_from_args (&c, ARGC (version), version, &action, err, sizeof err), 0);
    assert_int_equal (action, UIS_CONFIG_VERSION);
    uis_config_fini (&c);

    char *unknown[] = {"uiscsid", "--no-such-flag"};
    assert_int_equal (
        uis_config_from_args (&c, ARGC (unknown), unknown, &action, err, sizeof err),
        UIS_ERR_INVALID_ARG);
    assert_non_null (strstr (err, "unknown option"));
    uis_config_fini (&c);
    char *missing[] = {"uiscsid", "--rpc"};
    assert_int_equal (
        uis_config_from_args (&c, ARGC (missing), missing, &action, err, sizeof err),
        UIS_ERR_INVALID_ARG);
    assert_non_null (strstr (err, "missing value"));
    uis_config_fini (&c);
    char *level[] = {"uiscsid", "--log-level", "loud"};
    assert_int_equal (
        uis_config_from_args (&c, ARGC (level), level, &action, err, sizeof err),
        UIS_ERR_INVALID_ARG);
    assert_non_null (strstr (err, "--log-level"));
    uis_config_fini (&c);
    char *range[] = {"uiscsid", "--event-ring", "3"};
    assert_int_equal (
        uis_config_from_args (&c, ARGC (range), range, &action, err, sizeof err),
        UIS_ERR_INVALID_ARG);
    assert_non_null (strstr (err, "--event-ring"));
    uis_config_fini (&c);
    char *extra[] = {"uiscsid", "stray"};
    assert_int_equal (
        uis_config_from_args (&c, ARGC (extra), extra, &action, err, sizeof err),
        UIS_ERR_INVALID_ARG);
    uis_config_fini (&c);
}

/* The config file: keys, limits, and errors that name the key. */
static void
test_json (void **state)
{
    (void)state;
    uis_config_t c;
    uis_config_init (&c);
    char err[256] = "";
    const char *good = "{\"log_level\": \"debug\", \"limits\": {\"sessions\": 7, "
                       "\"in_flight_per_client\": 16}, \"foreground\": true, "
                       "\"runtime_dir\": \"/tmp/q\", \"event_ring\": 100}";
    assert_int_equal (uis_config_load_json (&c, good, strlen (good), err, sizeof err), 0);
    assert_int_equal (c.log_level, UIS_LOG_DEBUG);
    assert_int_equal (c.limits.sessions, 7);
    assert_int_equal (c.limits.in_flight_per_client, 16);
    assert_int_equal (c.limits.frame0_bytes, 1 << 20);
    assert_true (c.foreground);
    assert_string_equal (c.runtime_dir, "/tmp/q");
    assert_int_equal (c.event_ring, 100);

    static const struct {
        const char *text;
        const char *named;
    } bad[] = {
        {"{\"log_level\": \"loud\"}", "log_level"},
        {"{\"log_level\": 3}", "log_level"},
        {"{\"limits\": {\"sessions\": 0}}", "limits.sessions"},
        {"{\"limits\": {\"sessions\": \"7\"}}", "limits.sessions"},
        {"{\"limits\": {\"bogus\": 1}}", "bogus"},
        {"{\"limits\": 5}", "limits"},
        {"{\"colour\": \"red\"}", "colour"},
        {"{\"foreground\": 1}", "foreground"},
        {"{\"rpc\": \"\"}", "rpc"},
        {"{\"config\": \"/x\"}", "config"},
        {"{\"metrics_interval_ms\": -1}", "metrics_interval_ms"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = 0;
        assert_int_equal (
            uis_config_load_json (&c, bad[i].text, strlen (bad[i].text), err, sizeof err),
            UIS_ERR_INVALID_ARG);
        assert_non_null (strstr (err, bad[i].named));
    }
    assert_int_equal (uis_config_load_json (&c, "[1]", 3, err, sizeof err),
                      UIS_ERR_MALFORMED);
    assert_int_equal (uis_config_load_json (&c, "{", 1, err, sizeof err),
                      UIS_ERR_MALFORMED);
    assert_int_equal (uis_config_load_json (&c, "{\"a\":1,\"a\":2}", 13, err, sizeof err),
                      UIS_ERR_MALFORMED);
    uis_config_fini (&c);
}

/* --config is read first; flags override it wherever they stand. */
static void
test_file_then_flags (void **state)
{
    (void)state;
    char path[] = "/tmp/uiscsid-test-config-XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    const char *text = "{\"log_level\": \"trace\", \"limits\": {\"sessions\": 9}, "
                       "\"rpc\": \"ipc:///tmp/from-file.sock\"}";
    assert_int_equal (write (fd, text, strlen (text)), (ssize_t)strlen (text));
    close (fd);
    uis_config_t c;
    uis_config_init (&c);
    char *argv[] = {"uiscsid", "--log-level", "warn", "--config", path};
    uis_config_action_t action;
    char err[256] = "";
    assert_int_equal (
        uis_config_from_args (&c, ARGC (argv), argv, &action, err, sizeof err), 0);
    assert_int_equal (c.log_level, UIS_LOG_WARN);
    assert_int_equal (c.limits.sessions, 9);
    assert_string_equal (c.rpc, "ipc:///tmp/from-file.sock");
    assert_string_equal (c.config, path);
    uis_config_fini (&c);
    unlink (path);
    char *gone[] = {"uiscsid", "--config", path};
    assert_int_equal (
        uis_config_from_args (&c, ARGC (gone), gone, &action, err, sizeof err),
        UIS_ERR_INVALID_ARG);
    assert_non_null (strstr (err, "config"));
    uis_config_fini (&c);
}

/* Runtime dir and endpoint defaults and checks. */
static void
test_resolve (void **state)
{
    (void)state;
    uis_config_t c;
    char err[256];
    uis_config_init (&c);
    assert_int_equal (uis_config_resolve (&c, 1000, "/run/user/1000", err, sizeof err),
                      0);
    assert_string_equal (c.runtime_dir, "/run/user/1000/uiscsi");
    assert_string_equal (c.rpc, "ipc:///run/user/1000/uiscsi/rpc.sock");
    assert_string_equal (c.events, "ipc:///run/user/1000/uiscsi/events.sock");
    uis_config_fini (&c);
    assert_int_equal (uis_config_resolve (&c, 0, NULL, err, sizeof err), 0);
    assert_string_equal (c.runtime_dir, "/run/uiscsi");
    uis_config_fini (&c);
    assert_int_equal (uis_config_resolve (&c, 1000, NULL, err, sizeof err),
                      UIS_ERR_INVALID_ARG);
    assert_non_null (strstr (err, "runtime"));
    uis_config_fini (&c);
    c.rpc = strdup ("tcp://127.0.0.1:5555");
    assert_int_equal (uis_config_resolve (&c, 0, NULL, err, sizeof err),
                      UIS_ERR_UNSUPPORTED);
    assert_non_null (strstr (err, "CURVE"));
    uis_config_fini (&c);
    c.events = strdup ("ipc:///run/uiscsi/rpc.sock");
    assert_int_equal (uis_config_resolve (&c, 0, NULL, err, sizeof err),
                      UIS_ERR_INVALID_ARG);
    uis_config_fini (&c);
    c.runtime_dir = strdup ("relative/dir");
    assert_int_equal (uis_config_resolve (&c, 0, NULL, err, sizeof err),
                      UIS_ERR_INVALID_ARG);
    uis_config_fini (&c);
}

/* Usage names every flag. */
static void
test_usage (void **state)
{
    (void)state;
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream (&buf, &size);
    assert_non_null (f);
    uis_config_usage (f, "uiscsid");
    fclose (f);
    static const char *flags[] = {
        "--rpc",    "--events", "--foreground", "--log-level", "--runtime-dir", "--group",
        "--config", "--syslog", "--version",    "--help",      "--log-file"};
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        assert_non_null (strstr (buf, flags[i]));
    free (buf);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_defaults),
        cmocka_unit_test (test_args),
        cmocka_unit_test (test_args_actions_and_faults),
        cmocka_unit_test (test_json),
        cmocka_unit_test (test_file_then_flags),
        cmocka_unit_test (test_resolve),
        cmocka_unit_test (test_usage),
    };
    return cmocka_run_group_tests_name ("config", tests, NULL, NULL);
}
