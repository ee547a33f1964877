/* test_io_tgt.c: a live io actor against the tgt lab (tests/targets/tgt-lab)
 * through its ROUTER, with ENG_OPEN / ENG_CMD / ENG_TMF / ENG_NOP /
 * ENG_GET / ENG_RECONNECT / ENG_CLOSE / ENG_DISCOVER. Needs TGT_PORTAL and
 * the TGT_* names of `tgt-lab env`; without them every test is skipped.
 * Data is random and compared byte-exact after a read back; one test moves
 * 64 MiB each way with 8 commands in flight and prints the MiB/s.
 * Conformance ids: B1, J1, N1 (the disk target end to end), C1, C6 (CHAP
 * and mutual CHAP on tgt), B6 and R8 (refusal and connect errors), O2 (ERL
 * 0 reinstatement with the same ISID), B17 (SendTargets). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/random.h>

#include "test_io_harness.h"

static const char *
s_env (const char *name)
{
    const char *v = getenv (name);
    return v && *v ? v : NULL;
}

#define NEED_LAB()                                                                       \
    do {                                                                                 \
        if (!s_env ("TGT_PORTAL") || !s_env ("TGT_IQN_DISK")) {                          \
            print_message ("TGT_PORTAL not set: start tests/targets/tgt-lab\n");         \
            skip ();                                                                     \
        }                                                                                \
    } while (0)

static h_io_t s_h;
static uint32_t s_next_session = 100;

static int
s_setup (void **state)
{
    (void)state;
    h_start (&s_h, 901);
    return 0;
}

static int
s_teardown (void **state)
{
    (void)state;
    h_stop (&s_h);
    return 0;
}

/* Opens a session to target with extra params (borrowed, may be NULL);
 * returns the session id, or 0 with the error in *error_p. */
static uint32_t
s_open (const char *target, json_t *extra, json_t **result_p)
{
    json_t *p = json_pack ("{s:s, s:s, s:s, s:i}", "portal", s_env ("TGT_PORTAL"),
                           "target", target, "session", "t", "timeout_ms", 10000);
    if (extra)
        json_object_update (p, extra);
    uint32_t id = s_next_session++;
    int32_t status;
    json_t *r = h_call (&s_h, ENG_OPEN, id, 0, p, NULL, 0, &status);
    json_decref (p);
    *result_p = r;
    return status == 0 ? id : 0;
}

static void
s_close (uint32_t id)
{
    int32_t status;
    json_t *r = h_call (&s_h, ENG_CLOSE, id, 0, NULL, NULL, 0, &status);
    assert_int_equal (status, 0);
    assert_true (json_is_true (json_object_get (r, "closed")));
    json_decref (r);
}

/* TEST UNIT READY until GOOD (absorbs UA 29/00 of a new nexus). */
static void
s_ready (uint32_t id, unsigned lun)
{
    uint8_t tur[6] = {0};
    eng_cmd_t c;
    h_cmd (&c, lun, tur, 6, 0, 0, 10000);
    for (int i = 0; i < 4; i++) {
        h_result_t r;
        h_exec (&s_h, id, &c, NULL, &r);
        assert_int_equal (r.status, 0);
        uint8_t st = r.done.status;
        h_result_free (&r);
        if (st == 0)
            return;
        assert_int_equal (st, 2); /* CHECK CONDITION (unit attention) */
    }
    fail_msg ("LUN %u never became ready", lun);
}

/* WRITE 16 then READ 16 of len random bytes at lba, compared byte-exact. */
static void
s_write_read (uint32_t id, unsigned lun, uint64_t lba, size_t len)
{
    uint8_t *buf = malloc (len);
    assert_non_null (buf);
    for (size_t off = 0; off < len; off += 256)
        assert_int_equal (getrandom (buf + off, len - off < 256 ? len - off : 256, 0),
                          (ssize_t)(len - off < 256 ? len - off : 256));
    uint32_t blocks = (uint32_t)(len / 512);
    uint8_t cdb[16] = {0x8a};
    for (int i = 0; i < 8; i++)
        cdb[2 + i] = (uint8_t)(lba >> (56 - 8 * i));
    cdb[10] = (uint8_t)(blocks >> 24);
    cdb[11] = (uint8_t)(blocks >> 16);
    cdb[12] = (uint8_t)(blocks >> 8);
    cdb[13] = (uint8_t)blocks;
    eng_cmd_t c;
    h_cmd (&c, lun, cdb, 16, 0, (uint32_t)len, 20000);
    h_result_t r;
    h_exec (&s_h, id, &c, buf, &r);
    assert_int_equal (r.status, 0);
    assert_int_equal (r.done.status, 0);
    h_result_free (&r);
    cdb[0] = 0x88;
    h_cmd (&c, lun, cdb, 16, (uint32_t)len, 0, 20000);
    h_exec (&s_h, id, &c, NULL, &r);
    assert_int_equal (r.status, 0);
    assert_int_equal (r.done.status, 0);
    assert_int_equal (r.done.bytes, len);
    assert_memory_equal (r.data, buf, len);
    h_result_free (&r);
    free (buf);
}

/* B1, J1, N1: the disk target end to end (tgt omits MRDSL 8192). */
static void
test_tgt_disk (void **state)
{
    (void)state;
    NEED_LAB ();
    json_t *res;
    uint32_t id = s_open (s_env ("TGT_IQN_DISK"), NULL, &res);
    assert_int_not_equal (id, 0);
    assert_string_equal (json_string_value (json_object_get (res, "state")),
                         "full_feature");
    assert_int_equal (strlen (json_string_value (json_object_get (res, "isid"))), 12);
    assert_true (json_integer_value (json_object_get (res, "tsih")) > 0);
    json_t *neg = json_object_get (res, "negotiated");
    /* B10: tgt omits its MRDSL when it is 8192 */
    assert_int_equal (
        json_integer_value (json_object_get (neg, "MaxXmitDataSegmentLength")), 8192);
    assert_string_equal (json_string_value (json_object_get (neg, "HeaderDigest")),
                         "None");
    json_decref (res);
    unsigned lun = (unsigned)atoi (s_env ("TGT_DISK_LUN") ? s_env ("TGT_DISK_LUN") : "1");
    s_ready (id, lun);
    /* INQUIRY */
    uint8_t inq[6] = {0x12, 0, 0, 0, 96, 0};
    eng_cmd_t c;
    h_cmd (&c, lun, inq, 6, 96, 0, 10000);
    h_result_t r;
    h_exec (&s_h, id, &c, NULL, &r);
    assert_int_equal (r.status, 0);
    assert_int_equal (r.done.status, 0);
    assert_true (r.done.bytes >= 36);
    assert_int_equal (r.data[0] & 0x1f, 0);
    assert_memory_equal (r.data + 8, "IET     ", 8);
    h_result_free (&r);
    /* READ CAPACITY 16 */
    uint8_t rc16[16] = {0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0, 0};
    h_cmd (&c, lun, rc16, 16, 32, 0, 10000);
    h_exec (&s_h, id, &c, NULL, &r);
    assert_int_equal (r.status, 0);
    assert_int_equal (r.done.status, 0);
    uint64_t last = 0;
    for (int i = 0; i < 8; i++)
        last = last << 8 | r.data[i];
    uint32_t bs = (uint32_t)r.data[8] << 24 | (uint32_t)r.data[9] << 16
                  | (uint32_t)r.data[10] << 8 | r.data[11];
    assert_int_equal (bs, 512);
    if (s_env ("TGT_DISK_BYTES"))
        assert_int_equal ((last + 1) * bs, strtoull (s_env ("TGT_DISK_BYTES"), NULL, 10));
    h_result_free (&r);
    /* 1 MiB across MRDSL (8192) and MaxBurstLength */
    s_write_read (id, lun, 2048, 1 << 20);
    s_write_read (id, lun, 7, 4096);
    /* J1: NOP */
    int32_t status;
    json_t *nop = h_call (&s_h, ENG_NOP, id, 0, NULL, NULL, 0, &status);
    assert_int_equal (status, 0);
    assert_true (json_integer_value (json_object_get (nop, "rtt_us")) > 0);
    json_decref (nop);
    /* M1: ABORT TASK of an unknown tag is answered locally */
    eng_tmf_t tmf = {0};
    tmf.function = 1;
    snprintf (tmf.tag, sizeof tmf.tag, "nope");
    json_t *t = h_call (&s_h, ENG_TMF, id, 0, NULL, &tmf, sizeof tmf, &status);
    assert_int_equal (status, 0);
    assert_int_equal (json_integer_value (json_object_get (t, "response")), 1);
    json_decref (t);
    /* LOGICAL UNIT RESET works on tgt */
    memset (&tmf, 0, sizeof tmf);
    tmf.function = 5;
    tmf.lun[1] = (uint8_t)lun;
    t = h_call (&s_h, ENG_TMF, id, 0, NULL, &tmf, sizeof tmf, &status);
    assert_int_equal (status, 0);
    assert_int_equal (json_integer_value (json_object_get (t, "response")), 0);
    json_decref (t);
    s_ready (id, lun); /* UA 29/00 after the reset */
    /* ENG_CONFIRM, ENG_GET */
    json_t *cf = h_call (&s_h, ENG_CONFIRM, id, 0, NULL, NULL, 0, &status);
    assert_int_equal (status, 0);
    json_decref (cf);
    json_t *info = h_call (&s_h, ENG_GET, id, 0, NULL, NULL, 0, &status);
    assert_int_equal (status, 0);
    assert_string_equal (json_string_value (json_object_get (info, "state")),
                         "full_feature");
    assert_true (json_integer_value (
                     json_object_get (json_object_get (info, "counters"), "commands"))
                 >= 7);
    assert_true (json_integer_value (json_object_get (info, "cmdsn_window")) >= 1);
    assert_int_equal (json_integer_value (json_object_get (info, "in_flight")), 0);
    json_decref (info);
    s_close (id);
}

/* Throughput: 64 MiB written then read back with 8 x 1 MiB in flight. */
static void
test_tgt_throughput (void **state)
{
    (void)state;
    NEED_LAB ();
    json_t *res;
    json_t *extra =
        json_pack ("{s:{s:i}}", "negotiate", "MaxRecvDataSegmentLength", 262144);
    uint32_t id = s_open (s_env ("TGT_IQN_DISK"), extra, &res);
    json_decref (extra);
    assert_int_not_equal (id, 0);
    json_decref (res);
    unsigned lun = 1;
    s_ready (id, lun);
    const size_t chunk = 1 << 20, total = 64u << 20, depth = 8;
    uint8_t *buf = malloc (total);
    assert_non_null (buf);
    for (size_t off = 0; off < total; off += 256)
        assert_int_equal (getrandom (buf + off, 256, 0), 256);
    for (int pass = 0; pass < 2; pass++) {
        bool write = pass == 0;
        uint64_t t0 = h_now_us ();
        size_t sent = 0, done = 0;
        uint64_t corr_base = s_h.corr;
        while (done < total / chunk) {
            while (sent < total / chunk && sent - done < depth) {
                uint64_t lba = 4096 + sent * (chunk / 512);
                uint8_t cdb[16] = {write ? 0x8a : 0x88};
                for (int i = 0; i < 8; i++)
                    cdb[2 + i] = (uint8_t)(lba >> (56 - 8 * i));
                uint32_t blocks = (uint32_t)(chunk / 512);
                cdb[12] = (uint8_t)(blocks >> 8);
                cdb[13] = (uint8_t)blocks;
                eng_cmd_t c;
                h_cmd (&c, lun, cdb, 16, write ? 0 : (uint32_t)chunk,
                       write ? (uint32_t)chunk : 0, 20000);
                h_send (&s_h, ENG_CMD, id, 0, NULL, &c, sizeof c,
                        write ? buf + sent * chunk : NULL, write ? chunk : 0, -1);
                sent++;
            }
            rt_msg_t msg;
            assert_int_equal (h_recv (&s_h, &msg, H_WAIT_MS), 0);
            size_t k = (size_t)(msg.env.corr - corr_base - 1);
            h_result_t r;
            h_result (&msg, &r);
            assert_int_equal (r.status, 0);
            assert_int_equal (r.done.status, 0);
            if (!write) {
                assert_int_equal (r.done.bytes, chunk);
                assert_memory_equal (r.data, buf + k * chunk, chunk);
            }
            h_result_free (&r);
            done++;
        }
        double s = (double)(h_now_us () - t0) / 1e6;
        print_message ("io-tgt: %s 64 MiB in %.3f s: %.1f MiB/s\n",
                       write ? "write" : "read", s, 64.0 / s);
    }
    free (buf);
    s_close (id);
}

/* The r2t target: InitialR2T, small bursts and PDUs. */
static void
test_tgt_r2t (void **state)
{
    (void)state;
    NEED_LAB ();
    if (!s_env ("TGT_IQN_R2T"))
        skip ();
    json_t *res;
    uint32_t id = s_open (s_env ("TGT_IQN_R2T"), NULL, &res);
    assert_int_not_equal (id, 0);
    json_decref (res);
    s_ready (id, 1);
    s_write_read (id, 1, 100, 1 << 20);
    s_write_read (id, 1, 0, 512);
    s_close (id);
}

/* Both digests on the digest target (tgt's DataDigest, which libiscsi
 * never exercises). */
static void
test_tgt_digest (void **state)
{
    (void)state;
    NEED_LAB ();
    if (!s_env ("TGT_IQN_DIGEST"))
        skip ();
    json_t *res;
    json_t *extra = json_pack ("{s:{s:s, s:s}}", "negotiate", "HeaderDigest", "CRC32C",
                               "DataDigest", "CRC32C");
    uint32_t id = s_open (s_env ("TGT_IQN_DIGEST"), extra, &res);
    json_decref (extra);
    assert_int_not_equal (id, 0);
    json_t *neg = json_object_get (res, "negotiated");
    assert_string_equal (json_string_value (json_object_get (neg, "HeaderDigest")),
                         "CRC32C");
    assert_string_equal (json_string_value (json_object_get (neg, "DataDigest")),
                         "CRC32C");
    json_decref (res);
    s_ready (id, 1);
    s_write_read (id, 1, 10, 1 << 20);
    int32_t status;
    json_t *nop = h_call (&s_h, ENG_NOP, id, 0, NULL, NULL, 0, &status);
    assert_int_equal (status, 0);
    json_decref (nop);
    s_close (id);
}

/* C1, C6: CHAP and mutual CHAP; a wrong secret is AUTH_FAILED side target. */
static void
test_tgt_chap (void **state)
{
    (void)state;
    NEED_LAB ();
    if (!s_env ("TGT_IQN_CHAP") || !s_env ("TGT_CHAP_USER"))
        skip ();
    json_t *res;
    json_t *extra =
        json_pack ("{s:{s:s, s:s, s:s}}", "auth", "method", "chap", "user",
                   s_env ("TGT_CHAP_USER"), "secret", s_env ("TGT_CHAP_SECRET"));
    uint32_t id = s_open (s_env ("TGT_IQN_CHAP"), extra, &res);
    json_decref (extra);
    assert_int_not_equal (id, 0);
    json_decref (res);
    s_ready (id, 1);
    s_close (id);
    /* secret from a file with a trailing newline */
    char path[] = "/tmp/uis-io-secret-XXXXXX";
    int fd = mkstemp (path);
    assert_true (fd >= 0);
    const char *sec = s_env ("TGT_CHAP_SECRET");
    assert_int_equal (write (fd, sec, strlen (sec)), (ssize_t)strlen (sec));
    assert_int_equal (write (fd, "\n", 1), 1);
    close (fd);
    extra = json_pack ("{s:{s:s, s:s, s:s}}", "auth", "method", "chap", "user",
                       s_env ("TGT_CHAP_USER"), "secret_file", path);
    id = s_open (s_env ("TGT_IQN_CHAP"), extra, &res);
    json_decref (extra);
    unlink (path);
    assert_int_not_equal (id, 0);
    json_decref (res);
    s_close (id);
    /* wrong secret */
    extra = json_pack ("{s:{s:s, s:s, s:s}}", "auth", "method", "chap", "user",
                       s_env ("TGT_CHAP_USER"), "secret", "wrong-secret-1");
    id = s_open (s_env ("TGT_IQN_CHAP"), extra, &res);
    json_decref (extra);
    assert_int_equal (id, 0);
    assert_string_equal (h_err_name (res), "AUTH_FAILED");
    json_t *data = json_object_get (res, "data");
    assert_string_equal (json_string_value (json_object_get (data, "side")), "target");
    assert_int_equal (json_integer_value (json_object_get (data, "status_class")), 2);
    assert_int_equal (json_integer_value (json_object_get (data, "status_detail")), 1);
    json_decref (res);
    if (!s_env ("TGT_IQN_MUTUAL") || !s_env ("TGT_MUTUAL_TARGET_USER"))
        return;
    extra = json_pack ("{s:{s:s, s:s, s:s, s:s, s:s}}", "auth", "method", "chap", "user",
                       s_env ("TGT_MUTUAL_USER"), "secret", s_env ("TGT_MUTUAL_SECRET"),
                       "target_user", s_env ("TGT_MUTUAL_TARGET_USER"), "target_secret",
                       s_env ("TGT_MUTUAL_TARGET_SECRET"));
    id = s_open (s_env ("TGT_IQN_MUTUAL"), extra, &res);
    json_decref (extra);
    assert_int_not_equal (id, 0);
    json_decref (res);
    s_close (id);
    /* the target proves a secret we do not expect: we reject it */
    extra = json_pack ("{s:{s:s, s:s, s:s, s:s, s:s}}", "auth", "method", "chap", "user",
                       s_env ("TGT_MUTUAL_USER"), "secret", s_env ("TGT_MUTUAL_SECRET"),
                       "target_user", s_env ("TGT_MUTUAL_TARGET_USER"), "target_secret",
                       "not-the-target-secret");
    id = s_open (s_env ("TGT_IQN_MUTUAL"), extra, &res);
    json_decref (extra);
    assert_int_equal (id, 0);
    assert_string_equal (h_err_name (res), "AUTH_FAILED");
    assert_string_equal (
        json_string_value (json_object_get (json_object_get (res, "data"), "side")),
        "initiator");
    json_decref (res);
}

/* B6, R8: an unknown target is LOGIN_FAILED TARGET_NOT_FOUND; a closed port is
 * TRANSPORT_ERROR connect. */
static void
test_tgt_errors (void **state)
{
    (void)state;
    NEED_LAB ();
    json_t *res;
    uint32_t id = s_open ("iqn.2026-11.dev.uiscsi:no-such-target", NULL, &res);
    assert_int_equal (id, 0);
    assert_string_equal (h_err_name (res), "LOGIN_FAILED");
    json_t *data = json_object_get (res, "data");
    assert_int_equal (json_integer_value (json_object_get (data, "status_class")), 2);
    assert_int_equal (json_integer_value (json_object_get (data, "status_detail")), 3);
    assert_string_equal (json_string_value (json_object_get (data, "status_name")),
                         "TARGET_NOT_FOUND");
    json_decref (res);
    json_t *p = json_pack ("{s:s, s:s}", "portal", "127.0.0.1:1", "target", "iqn.x:y");
    int32_t status;
    res = h_call (&s_h, ENG_OPEN, s_next_session++, 0, p, NULL, 0, &status);
    json_decref (p);
    assert_true (status < 0);
    assert_string_equal (h_err_name (res), "TRANSPORT_ERROR");
    data = json_object_get (res, "data");
    assert_string_equal (json_string_value (json_object_get (data, "op")), "connect");
    assert_int_equal (json_integer_value (json_object_get (data, "errno")), ECONNREFUSED);
    json_decref (res);
}

/* O2: ENG_RECONNECT logs in again with the same ISID (TSIH 0). */
static void
test_tgt_reconnect (void **state)
{
    (void)state;
    NEED_LAB ();
    json_t *res;
    uint32_t id = s_open (s_env ("TGT_IQN_DISK"), NULL, &res);
    assert_int_not_equal (id, 0);
    char isid[16];
    snprintf (isid, sizeof isid, "%s", json_string_value (json_object_get (res, "isid")));
    json_decref (res);
    s_ready (id, 1);
    int32_t status;
    json_t *r = h_call (&s_h, ENG_RECONNECT, id, 0, NULL, NULL, 0, &status);
    assert_int_equal (status, 0);
    json_decref (r);
    json_t *info = h_call (&s_h, ENG_GET, id, 0, NULL, NULL, 0, &status);
    assert_string_equal (json_string_value (json_object_get (info, "state")),
                         "full_feature");
    assert_string_equal (json_string_value (json_object_get (info, "isid")), isid);
    assert_int_equal (json_integer_value (json_object_get (info, "reconnects")), 1);
    json_decref (info);
    s_ready (id, 1);
    s_write_read (id, 1, 64, 65536);
    s_close (id);
}

/* B17: SendTargets through ENG_DISCOVER lists the lab's targets. */
static void
test_tgt_discover (void **state)
{
    (void)state;
    NEED_LAB ();
    json_t *p = json_pack ("{s:s}", "portal", s_env ("TGT_PORTAL"));
    int32_t status;
    json_t *res = h_call (&s_h, ENG_DISCOVER, 0, 0, p, NULL, 0, &status);
    json_decref (p);
    assert_int_equal (status, 0);
    json_t *targets = json_object_get (res, "targets");
    assert_true (json_array_size (targets) >= 3);
    bool found = false;
    for (size_t i = 0; i < json_array_size (targets); i++) {
        json_t *t = json_array_get (targets, i);
        if (strcmp (json_string_value (json_object_get (t, "name")),
                    s_env ("TGT_IQN_DISK"))
            == 0) {
            found = true;
            json_t *portal = json_array_get (json_object_get (t, "portals"), 0);
            assert_string_equal (json_string_value (json_object_get (portal, "address")),
                                 "127.0.0.1");
            assert_int_equal (json_integer_value (json_object_get (portal, "port")),
                              atoi (s_env ("TGT_PORT") ? s_env ("TGT_PORT") : "3261"));
            assert_int_equal (json_integer_value (json_object_get (portal, "tpgt")), 1);
        }
    }
    assert_true (found);
    json_decref (res);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_tgt_disk),      cmocka_unit_test (test_tgt_throughput),
        cmocka_unit_test (test_tgt_r2t),       cmocka_unit_test (test_tgt_digest),
        cmocka_unit_test (test_tgt_chap),      cmocka_unit_test (test_tgt_errors),
        cmocka_unit_test (test_tgt_reconnect), cmocka_unit_test (test_tgt_discover),
    };
    return cmocka_run_group_tests_name ("io_tgt", tests, s_setup, s_teardown);
}
