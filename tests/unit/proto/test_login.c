/* test_login.c: the initiator login state machine, driven by hand-built
 * Login Response PDUs; requests are checked as encoded BHS bytes and exact
 * data segments. Conformance ids: B1, B2, B3, B4, B5, B6, B12, B13, B14,
 * C1, C2, C3, C4, C5, C6, C7, C8 (machine part; chap.c has its own tests).
 * CHAP responses were computed independently with openssl dgst (see
 * test_chap.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "proto/chap.h"
#include "proto/errors.h"
#include "proto/login.h"
#include "proto/negotiate.h"
#include "proto/pdu.h"
#include "proto/text.h"

#define INAME   "iqn.2026-11.dev.uiscsi:init"
#define TNAME   "iqn.2026-11.dev.uiscsi:disk"
#define ITT     0x00001000u
#define CMDSN   5u
#define TSIH    0x2a
#define SECRET  "uiscsi-secret1"
#define TSECRET "uiscsi-tsecret1"
/* H(42 || SECRET || 01..10) with MD5 and SHA-256. */
#define R_MD5    "0x48ff3ebfd6b50ba0f7f3bbc3c29d3ef4"
#define R_SHA256 "0x12409d06c920f9182b12dcb6dfc3c2f03f492171a66fd7105a66fa58c2896b02"
/* H(7 || TSECRET || a0..af) with MD5: the target's proof for mutual CHAP. */
#define TR_MD5 "0x72da1baac3f74296682d8d34aaf88e7a"
#define CHAL   "0x0102030405060708090a0b0c0d0e0f10"

/* One request as handed out, with its encoded BHS. */
typedef struct {
    pdu_t pdu;
    uint8_t bhs[PDU_BHS_LEN];
    uint8_t data[LOGIN_DSL];
    size_t len;
} req_t;

/* A test fixture: config, machine, StatSN counter, captured wire bytes. */
typedef struct {
    login_config_t cfg;
    uint8_t random[CHAP_RANDOM_LEN];
    login_t *lg;
    uint32_t statsn;
    req_t last;
    unsigned sent;
    uint8_t wire[65536];
    size_t wire_len;
} fx_t;

static fx_t s_fx;

static uint32_t
s_be32 (const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t
s_be16 (const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* A fresh fixture with AuthMethod=None. */
static fx_t *
s_setup (void)
{
    fx_t *fx = &s_fx;
    memset (fx, 0, sizeof *fx);
    fx->cfg.initiator_name = INAME;
    fx->cfg.target_name = TNAME;
    static const uint8_t rnd[3] = {0x12, 0x34, 0x56};
    login_isid_random (fx->cfg.isid, rnd, 1);
    fx->cfg.cid = 1;
    fx->cfg.itt = ITT;
    fx->cfg.cmdsn = CMDSN;
    fx->cfg.exp_statsn = 0;
    fx->statsn = 0x100;
    fx->random[0] = 7;
    for (int i = 0; i < CHAP_DIGEST_MAX; i++)
        fx->random[1 + i] = (uint8_t)(0xa0 + i);
    return fx;
}

/* Turns fx into a CHAP config (mutual when asked). */
static void
s_chap (fx_t *fx, bool mutual)
{
    fx->cfg.auth = LOGIN_AUTH_CHAP;
    fx->cfg.chap.user = "uiscsi-user";
    fx->cfg.chap.secret = (const uint8_t *)SECRET;
    fx->cfg.chap.secret_len = strlen (SECRET);
    if (mutual) {
        fx->cfg.chap.target_user = "uiscsi-target";
        fx->cfg.chap.target_secret = (const uint8_t *)TSECRET;
        fx->cfg.chap.target_secret_len = strlen (TSECRET);
        fx->cfg.random = fx->random;
        fx->cfg.random_len = sizeof fx->random;
    }
}

static void
s_start (fx_t *fx)
{
    fx->lg = login_new (&fx->cfg, NULL);
    assert_non_null (fx->lg);
    assert_int_equal (login_state (fx->lg), LOGIN_IDLE);
    assert_int_equal (login_start (fx->lg), 0);
}

static void
s_teardown (fx_t *fx)
{
    login_destroy (&fx->lg);
    assert_null (fx->lg);
}

/* Takes the next request, encodes its BHS and records the wire bytes. */
static req_t *
s_send (fx_t *fx)
{
    req_t *r = &fx->last;
    const uint8_t *data = NULL;
    assert_int_equal (login_state (fx->lg), LOGIN_SEND);
    assert_int_equal (login_next_request (fx->lg, &r->pdu, &data, &r->len), 0);
    assert_true (r->len <= sizeof r->data);
    if (r->len)
        memcpy (r->data, data, r->len);
    assert_int_equal (r->pdu.data_segment_length, r->len);
    assert_int_equal (pdu_bhs_encode (&r->pdu, r->bhs), 0);
    assert_true (fx->wire_len + PDU_BHS_LEN + r->len <= sizeof fx->wire);
    memcpy (fx->wire + fx->wire_len, r->bhs, PDU_BHS_LEN);
    memcpy (fx->wire + fx->wire_len + PDU_BHS_LEN, r->data, r->len);
    fx->wire_len += PDU_BHS_LEN + r->len;
    fx->sent++;
    return r;
}

/* Asserts the request's data segment is exactly the '|'-separated pairs,
 * each NUL-terminated ("" for an empty segment). */
static void
s_expect_text (const req_t *r, const char *pairs)
{
    char buf[LOGIN_DSL];
    size_t n = strlen (pairs);
    assert_true (n + 1 < sizeof buf);
    memcpy (buf, pairs, n);
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '|')
            buf[i] = '\0';
    if (n)
        buf[n++] = '\0';
    if (r->len != n || memcmp (r->data, buf, n) != 0) {
        fprintf (stderr, "expected %zu bytes, got %zu: ", n, r->len);
        for (size_t i = 0; i < r->len; i++)
            fputc (r->data[i] ? r->data[i] : '|', stderr);
        fputc ('\n', stderr);
    }
    assert_int_equal (r->len, n);
    assert_memory_equal (r->data, buf, n);
}

/* Asserts the request's data segment equals the encoded list t. */
static void
s_expect_list (const req_t *r, uis_text_t *t)
{
    size_t n;
    const uint8_t *enc = uis_text_encode (t, &n);
    assert_int_equal (r->len, n);
    assert_memory_equal (r->data, enc, n);
}

/* A Login Response echoing our fields; tests adjust it. */
static pdu_t
s_rsp (fx_t *fx, bool t, uint8_t csg, uint8_t nsg)
{
    pdu_t p;
    memset (&p, 0, sizeof p);
    p.opcode = PDU_OP_LOGIN_RSP;
    p.final = t;
    p.itt = fx->cfg.itt;
    pdu_login_rsp_t *r = &p.u.login_rsp;
    r->transit = t;
    r->csg = csg;
    r->nsg = t ? nsg : 0;
    memcpy (r->isid, fx->cfg.isid, PDU_ISID_LEN);
    r->tsih = fx->cfg.tsih;
    if (t && nsg == PDU_STAGE_FULL_FEATURE && fx->cfg.tsih == 0)
        r->tsih = TSIH;
    r->statsn = fx->statsn;
    r->exp_cmdsn = fx->cfg.cmdsn;
    r->max_cmdsn = fx->cfg.cmdsn;
    return p;
}

/* Feeds p with the '|'-separated pairs as data. */
static int
s_feed (fx_t *fx, pdu_t *p, const char *pairs)
{
    static uint8_t buf[LOGIN_DSL * 2];
    size_t n = strlen (pairs);
    assert_true (n + 1 < sizeof buf);
    memcpy (buf, pairs, n);
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '|')
            buf[i] = '\0';
    if (n)
        buf[n++] = '\0';
    p->data_segment_length = (uint32_t)n;
    fx->statsn++;
    return login_handle_response (fx->lg, p, buf, n);
}

/* A response with the usual fields. */
static int
s_recv (fx_t *fx, bool t, uint8_t csg, uint8_t nsg, const char *pairs)
{
    pdu_t p = s_rsp (fx, t, csg, nsg);
    return s_feed (fx, &p, pairs);
}

/* Our operational offer as negotiate.c builds it (independent of its
 * defaults), encoded. */
static uis_text_t *
s_offer (bool discovery)
{
    uis_negotiate_t *n = uis_negotiate_new (discovery ? UIS_NEG_SESSION_DISCOVERY
                                                      : UIS_NEG_SESSION_NORMAL);
    uis_text_t *t = uis_text_new ();
    assert_int_equal (uis_negotiate_offer (n, UIS_NEG_STAGE_OPERATIONAL, t), 0);
    uis_negotiate_destroy (&n);
    return t;
}

/* The offer echoed as '|'-separated pairs: an admissible answer. */
static void
s_echo (uis_text_t *t, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < uis_text_size (t); i++) {
        int w = snprintf (buf + o, cap - o, "%s%s=%s", i ? "|" : "", uis_text_key (t, i),
                          uis_text_value (t, i));
        assert_true (w > 0 && (size_t)w < cap - o);
        o += (size_t)w;
    }
}

/* Drives the operational stage to the end: checks our offer PDU and
 * answers it with the echo, T=1 NSG=3. */
static void
s_operational (fx_t *fx)
{
    req_t *r = s_send (fx);
    assert_int_equal (r->bhs[1], 0x87); /* T=1, CSG=1, NSG=3 */
    uis_text_t *offer = s_offer (fx->cfg.discovery);
    s_expect_list (r, offer);
    char echo[4096];
    s_echo (offer, echo, sizeof echo);
    uis_text_destroy (&offer);
    assert_int_equal (s_recv (fx, true, 1, 3, echo), 0);
    assert_int_equal (login_state (fx->lg), LOGIN_DONE);
}

/* The identity keys of the first PDU. */
#define IDENT "InitiatorName=" INAME "|SessionType=Normal|TargetName=" TNAME

/* ---------------------------------------------------------------- tests */

/* B1: AuthMethod=None: first PDU CSG=0 NSG=1 T=1 with the identity keys
 * and AuthMethod; operational PDU CSG=1 NSG=3 T=1 with the offer; the final
 * response's TSIH becomes the session's. */
static void
test_b1_auth_none (void **state)
{
    (void)state;
    fx_t *fx = s_setup ();
    s_start (fx);
    req_t *r = s_send (fx);
    assert_int_equal (r->bhs[0], 0x43); /* I=1, opcode 0x03 */
    assert_int_equal (r->bhs[1], 0x81); /* T=1, C=0, CSG=0, NSG=1 */
    assert_int_equal (r->bhs[2], 0);    /* Version-max */
    assert_int_equal (r->bhs[3], 0);    /* Version-min */
    static const uint8_t isid[6] = {0x80, 0x12, 0x34, 0x56, 0x00, 0x01};
    assert_memory_equal (r->bhs + 8, isid, 6);
    assert_int_equal (s_be16 (r->bhs + 14), 0); /* TSIH */
    assert_int_equal (s_be32 (r->bhs + 16), ITT);
    assert_int_equal (s_be16 (r->bhs + 20), 1); /* CID */
    assert_int_equal (s_be32 (r->bhs + 24), CMDSN);
    assert_int_equal (s_be32 (r->bhs + 28), 0);
    s_expect_text (r, IDENT "|AuthMethod=None");
    assert_int_equal (login_state (fx->lg), LOGIN_WAIT);
    assert_string_equal (login_phase_name (fx->lg), "sec_auth");

    assert_int_equal (s_recv (fx, true, 0, 1,
                              "AuthMethod=None|TargetPortalGroupTag=1|TargetAlias=disk"),
                      0);
    assert_string_equal (login_phase_name (fx->lg), "operational");
    req_t *o = &fx->last;
    s_operational (fx);
    assert_int_equal (s_be32 (o->bhs + 28), 0x101); /* ExpStatSN = 0x100 + 1 */
    assert_int_equal (s_be16 (o->bhs + 14), 0);
    const login_result_t *res = login_result (fx->lg);
    assert_int_equal (res->error, 0);
    assert_int_equal (res->tsih, TSIH);
    assert_int_equal (res->statsn, 0x101);
    assert_int_equal (res->exp_statsn, 0x102);
    assert_string_equal (res->status_name, "SUCCESS");
    assert_true (res->params.has_tpgt);
    assert_int_equal (res->params.tpgt, 1);
    assert_string_equal (res->params.target_alias, "disk");
    assert_string_equal (login_phase_name (fx->lg), "full_feature");
    assert_string_equal (login_last_event_name (fx->lg), "rsp_transit");
    /* the context can be taken back once */
    uis_negotiate_t *neg = login_take_negotiate (fx->lg);
    assert_non_null (neg);
    assert_null (login_take_negotiate (fx->lg));
    uis_negotiate_destroy (&neg);
    s_teardown (fx);
}

/* B2: T=1 NSG=3 in answer to the security PDU: defaults, full feature. */
static void
test_b2_skip_operational (void **state)
{
    (void)state;
    fx_t *fx = s_setup ();
    s_start (fx);
    s_send (fx);
    assert_int_equal (s_recv (fx, true, 0, 3, "AuthMethod=None"), 0);
    assert_int_equal (login_state (fx->lg), LOGIN_DONE);
    const login_result_t *res = login_result (fx->lg);
    assert_int_equal (res->tsih, TSIH);
    uis_neg_params_t def;
    uis_neg_params_defaults (&def, false);
    assert_int_equal (res->params.max_recv_dsl_target, 8192);
    assert_int_equal (res->params.max_burst, def.max_burst);
    assert_int_equal (res->params.first_burst, def.first_burst);
    assert_true (res->params.initial_r2t);
    assert_false (res->params.header_digest);
    assert_int_equal (res->params.erl, 0);
    assert_int_equal (fx->sent, 1);
    s_teardown (fx);
}

/* B7: the final response declares keys we never offered and would answer
 * with Reject, Irrelevant or NotUnderstood (tgt sends the obsolete
 * IFMarker=No / OFMarker=No unasked): the login completes; a key needing a
 * real answer still fails it. */
static void
test_b7_final_response_unasked_keys (void **state)
{
    (void)state;
    fx_t *fx = s_setup ();
    s_start (fx);
    s_send (fx);
    assert_int_equal (s_recv (fx, true, 0, 1, "AuthMethod=None"), 0);
    s_send (fx);
    assert_int_equal (s_recv (fx, true, 1, 3, "IFMarker=No|OFMarker=No|X-vendor.k=1"), 0);
    assert_int_equal (login_state (fx->lg), LOGIN_DONE);
    s_teardown (fx);

    fx = s_setup ();
    s_start (fx);
    s_send (fx);
    assert_int_equal (s_recv (fx, true, 0, 1, "AuthMethod=None"), 0);
    s_send (fx);
    assert_int_equal (s_recv (fx, true, 1, 3, "TaskReporting=FastAbort"),
                      UIS_ERR_LOGIN_PROTOCOL);
    assert_int_equal (login_state (fx->lg), LOGIN_FAILED);
    s_teardown (fx);
}

/* B3: T=0 answers in both stages: we keep asking with T=1 (answering the
 * target's own keys) until it transits; the rounds are bounded. */
static void
test_b3_t0_rounds (void **state)
{
    (void)state;
    fx_t *fx = s_setup ();
    s_start (fx);
    s_send (fx);
    assert_int_equal (s_recv (fx, false, 0, 0, "AuthMethod=None"), 0);
    req_t *r = s_send (fx);
    assert_int_equal (r->bhs[1], 0x81);
    s_expect_text (r, "");
    assert_int_equal (s_recv (fx, false, 0, 0, "X-com.example.sec=1"), 0);
    r = s_send (fx);
    assert_int_equal (r->bhs[1], 0x81);
    s_expect_text (r, "X-com.example.sec=NotUnderstood");
    assert_int_equal (s_recv (fx, true, 0, 1, ""), 0);
    r = s_send (fx);
    assert_int_equal (r->bhs[1], 0x87);
    /* operational T=0 with an unknown key of its own */
    assert_int_equal (s_recv (fx, false, 1, 0, "X-com.example.op=yes"), 0);
    r = s_send (fx);
    assert_int_equal (r->bhs[1], 0x87);
    s_expect_text (r, "X-com.example.op=NotUnderstood");
    uis_text_t *offer = s_offer (false);
    char echo[4096];
    s_echo (offer, echo, sizeof echo);
    uis_text_destroy (&offer);
    assert_int_equal (s_recv (fx, true, 1, 3, echo), 0);
    assert_int_equal (login_state (fx->lg), LOGIN_DONE);
    s_teardown (fx);

    /* A target that never transits: stopped after max_rounds. */
    fx = s_setup ();
    s_start (fx);
    int rc = 0;
    unsigned i;
    for (i = 0; i < 100 && rc == 0; i++) {
        s_send (fx);
        rc = s_recv (fx, false, 0, 0, "");
    }
    assert_int_equal (rc, UIS_ERR_LOGIN_PROTOCOL);
    assert_int_equal (i, LOGIN_MAX_ROUNDS_DEFAULT + 1);
    assert_int_equal (login_state (fx->lg), LOGIN_FAILED);
    assert_string_equal (login_result (fx->lg)->detail, "too many login rounds");
    s_teardown (fx);
}

/* B4: the target's text over 2 PDUs with C=1: we answer the first with an
 * empty request (C=0, T=0, same CSG, NSG 0); a key cut in the middle is
 * reassembled. */
static void
test_b4_response_continuation (void **state)
{
    (void)state;
    fx_t *fx = s_setup ();
    s_start (fx);
    s_send (fx);
    assert_int_equal (s_recv (fx, true, 0, 1, "AuthMethod=None"), 0);
    s_send (fx);
    pdu_t p = s_rsp (fx, false, 1, 0);
    p.u.login_rsp.cont = true;
    static const char part1[] = "HeaderDigest=None\0DataDig";
    p.data_segment_length = sizeof part1 - 1;
    fx->statsn++;
    assert_int_equal (
        login_handle_response (fx->lg, &p, (const uint8_t *)part1, sizeof part1 - 1), 0);
    req_t *r = s_send (fx);
    assert_int_equal (r->bhs[0], 0x43);
    assert_int_equal (r->bhs[1], 0x04); /* T=0, C=0, CSG=1, NSG=0 */
    assert_int_equal (r->len, 0);
    assert_int_equal (s_be32 (r->bhs + 28), 0x102);
    /* second piece, final */
    uis_text_t *offer = s_offer (false);
    char echo[4096];
    s_echo (offer, echo, sizeof echo);
    uis_text_destroy (&offer);
    const char *rest = strstr (echo, "DataDigest=");
    assert_non_null (rest);
    assert_int_equal (s_recv (fx, true, 1, 3, rest + 7), 0);
    assert_int_equal (login_state (fx->lg), LOGIN_DONE);
    assert_false (login_result (fx->lg)->params.header_digest);
    s_teardown (fx);

    /* C=1 with T=1 is illegal; C=1 with no data too. */
    fx = s_setup ();
    s_start (fx);
    s_send (fx);
    p = s_rsp (fx, true, 0, 1);
    p.u.login_rsp.cont = true;
    assert_int_equal (s_feed (fx, &p, "AuthMethod=None"), UIS_ERR_LOGIN_PROTOCOL);
    assert_string_equal (login_result (fx->lg)->detail,
                         "login response with C=1 and T=1");
    s_teardown (fx);
    fx = s_setup ();
    s_start (fx);
    s_send (fx);
    p = s_rsp (fx, false, 0, 0);
    p.u.login_rsp.cont = true;
    assert_int_equal (s_feed (fx, &p, ""), UIS_ERR_LOGIN_PROTOCOL);
    s_teardown (fx);
}

/* B4: our own text longer than the limit goes out in PDUs with C=1 (T=0),
 * the target acknowledging each with an empty response. */
static void
test_b4_request_split (void **state)
{
    (void)state;
    fx_t *fx = s_setup ();
    fx->cfg.max_send_dsl = 32;
    s_start (fx);
    uint8_t all[512];
    size_t off = 0;
    req_t *r;
    unsigned chunks = 0;
    for (;;) {
        r = s_send (fx);
        assert_true (r->len <= 32);
        assert_true (off + r->len <= sizeof all);
        memcpy (all + off, r->data, r->len);
        off += r->len;
        chunks++;
        assert_true (chunks < 20);
        if (!(r->bhs[1] & 0x40))
            break;
        assert_int_equal (r->bhs[1], 0x40); /* C=1, T=0, CSG=0, NSG=0 */
        assert_int_equal (r->len, 32);
        assert_int_equal (s_recv (fx, false, 0, 0, ""), 0);
    }
    assert_int_equal (r->bhs[1], 0x81); /* the last chunk carries T / NSG */
    static const char full[] =
        "InitiatorName=" INAME "\0SessionType=Normal\0TargetName=" TNAME
        "\0AuthMethod=None";
    assert_int_equal (off, sizeof full);
    assert_memory_equal (all, full, sizeof full);
    assert_int_equal (chunks, (sizeof full + 31) / 32);
    assert_int_equal (s_recv (fx, true, 0, 3, "AuthMethod=None"), 0);
    assert_int_equal (login_state (fx->lg), LOGIN_DONE);
    s_teardown (fx);

    /* A non-empty answer to a C=1 PDU is a violation. */
    fx = s_setup ();
    fx->cfg.max_send_dsl = 32;
    s_start (fx);
    s_send (fx);
    assert_int_equal (s_recv (fx, false, 0, 0, "AuthMethod=None"),
                      UIS_ERR_LOGIN_PROTOCOL);
    assert_string_equal (login_result (fx->lg)->detail,
                         "non-empty answer to a C=1 login request");
    s_teardown (fx);
}

/* C1: one-way CHAP as LIO wants it: AuthMethod=CHAP (T=0), CHAP_A in its
 * own PDU (T=0), then CHAP_N / CHAP_R with T=1 NSG=1. */
static void
test_c1_chap_lio (void **state)
{
    (void)state;
    fx_t *fx = s_setup ();
    s_chap (fx, false);
    s_start (fx);
    req_t *r = s_send (fx);
    assert_int_equal (r->bhs[1], 0x00); /* T=0, CSG=0, NSG=0 */
    s_expect_text (r, IDENT "|AuthMethod=CHAP");
    assert_int_equal (s_recv (fx, false, 0, 0, "AuthMethod=CHAP|TargetPortalGroupTag=1"),
                      0);
    r = s_send (fx);
    assert_int_equal (r->bhs[1], 0x00);
    s_expect_text (r, "CHAP_A=5");
    assert_string_equal (login_phase_name (fx->lg), "sec_chap_a");
    assert_int_equal (s_recv (fx, false, 0, 0, "CHAP_A=5|CHAP_I=42|CHAP_C=" CHAL), 0);
    r = s_send (fx);
    assert_int_equal (r->bhs[1], 0x81); /* T=1, CSG=0, NSG=1 */
    s_expect_text (r, "CHAP_N=uiscsi-user|CHAP_R=" R_MD5);
    assert_int_equal (s_recv (fx, true, 0, 1, ""), 0);
    s_operational (fx);
    assert_int_equal (login_result (fx->lg)->tsih, TSIH);
    s_teardown (fx);

    /* CHAP,None offered when allowed; the target picks None. */
    fx = s_setup ();
    s_chap (fx, false);
    fx->cfg.auth_allow_none = true;
    s_start (fx);
    r = s_send (fx);
    s_expect_text (r, IDENT "|AuthMethod=CHAP,None");
    assert_int_equal (s_recv (fx, false, 0, 0, "AuthMethod=None"), 0);
    r = s_send (fx);
    assert_int_equal (r->bhs[1], 0x81);
    s_expect_text (r, "");
    assert_int_equal (s_recv (fx, true, 0, 3, ""), 0);
    assert_int_equal (login_state (fx->lg), LOGIN_DONE);
    s_teardown (fx);

    /* CHAP required: the target picking None fails. */
    fx = s_setup ();
    s_chap (fx, false);
    s_start (fx);
    s_send (fx);
    assert_int_equal (s_recv (fx, false, 0, 0, "AuthMethod=None"),
                      UIS_ERR_LOGIN_PROTOCOL);
    s_teardown (fx);
    fx = s_setup ();
    s_chap (fx, false);
    s_start (fx);
    s_send (fx);
    assert_int_equal (s_recv (fx, false, 0, 0, "AuthMethod=Reject"),
                      UIS_ERR_NEGOTIATION_REJECT);
    s_teardown (fx);
}

/* Drives a CHAP login up to the target's challenge answer. */
static int
s_chap_until_challenge (fx_t *fx, const char *challenge_pairs)
{
    s_start (fx);
    s_send (fx);
    assert_int_equal (s_recv (fx, false, 0, 0, "AuthMethod=CHAP"), 0);
    s_send (fx);
    return s_recv (fx, false, 0, 0, challenge_pairs);
}

/* C2: the target's algorithm must be one we offered; a preference list is
 * offered in order and honoured. */
static void
test_c2_algorithm (void **state)
{
    (void)state;
    fx_t *fx = s_setup ();
    s_chap (fx, false);
    assert_int_equal (s_chap_until_challenge (fx, "CHAP_A=7|CHAP_I=42|CHAP_C=" CHAL),
                      UIS_ERR_CHAP_ALGORITHM);
    const login_result_t *res = login_result (fx->lg);
    assert_int_equal (login_state (fx->lg), LOGIN_FAILED);
    assert_string_equal (res->side, "initiator");
    assert_string_equal (uis_err_name (res->error), "chap_algorithm");
    s_teardown (fx);

    fx = s_setup ();
    s_chap (fx, false);
    static const chap_alg_t pref[] = {CHAP_ALG_SHA3_256, CHAP_ALG_SHA256, CHAP_ALG_SHA1,
                                      CHAP_ALG_MD5};
    fx->cfg.chap.algs = pref;
    fx->cfg.chap.alg_count = 4;
    s_start (fx);
    s_send (fx);
    assert_int_equal (s_recv (fx, false, 0, 0, "AuthMethod=CHAP"), 0);
    req_t *r = s_send (fx);
    s_expect_text (r, "CHAP_A=8,7,6,5");
    assert_int_equal (s_recv (fx, false, 0, 0, "CHAP_A=7|CHAP_I=42|CHAP_C=" CHAL), 0);
    r = s_send (fx);
    s_expect_text (r, "CHAP_N=uiscsi-user|CHAP_R=" R_SHA256);
    s_teardown (fx);

    /* a list as the answer is refused */
    fx = s_setup ();
    s_chap (fx, false);
    assert_int_equal (s_chap_until_challenge (fx, "CHAP_A=5,7|CHAP_I=42|CHAP_C=" CHAL),
                      UIS_ERR_CHAP_ALGORITHM);
    s_teardown (fx);

    /* the target refuses every algorithm we offered */
    fx = s_setup ();
    s_chap (fx, false);
    assert_int_equal (s_chap_until_challenge (fx, "CHAP_A=Reject"),
                      UIS_ERR_CHAP_ALGORITHM);
    assert_string_equal (login_result (fx->lg)->detail,
                         "target chose a CHAP algorithm we did not offer");
    s_teardown (fx);
}

/* C3: a short or all-zero challenge is refused. */
static void
test_c3_challenge (void **state)
{
    (void)state;
    static const char *bad[] = {
        "CHAP_A=5|CHAP_I=1|CHAP_C=0x0102030405060708090a0b0c0d0e0f",
        "CHAP_A=5|CHAP_I=1|CHAP_C=0x00000000000000000000000000000000",
    };
    for (size_t i = 0; i < 2; i++) {
        fx_t *fx = s_setup ();
        s_chap (fx, false);
        assert_int_equal (s_chap_until_challenge (fx, bad[i]), UIS_ERR_CHAP_CHALLENGE);
        assert_string_equal (login_result (fx->lg)->detail,
                             "unacceptable CHAP challenge");
        assert_string_equal (login_result (fx->lg)->side, "initiator");
        s_teardown (fx);
    }
}

/* C4: CHAP_C as base64 works; CHAP_I 256 or -1 fails. */
static void
test_c4_encoding (void **state)
{
    (void)state;
    fx_t *fx = s_setup ();
    s_chap (fx, false);
    assert_int_equal (s_chap_until_challenge (
                          fx, "CHAP_A=5|CHAP_I=42|CHAP_C=0bAQIDBAUGBwgJCgsMDQ4PEA=="),
                      0);
    req_t *r = s_send (fx);
    s_expect_text (r, "CHAP_N=uiscsi-user|CHAP_R=" R_MD5);
    s_teardown (fx);
    static const char *bad[] = {
        ("CHAP_A=5|CHAP_I=256|CHAP_C=" CHAL), ("CHAP_A=5|CHAP_I=-1|CHAP_C=" CHAL),
        "CHAP_A=5|CHAP_I=1|CHAP_C=0x01020304050607080g0a0b0c0d0e0f10"};
    for (size_t i = 0; i < 3; i++) {
        fx = s_setup ();
        s_chap (fx, false);
        assert_int_equal (s_chap_until_challenge (fx, bad[i]), UIS_ERR_CHAP_ENCODING);
        s_teardown (fx);
    }
    /* a missing key is a protocol error */
    fx = s_setup ();
    s_chap (fx, false);
    assert_int_equal (s_chap_until_challenge (fx, "CHAP_A=5|CHAP_I=1"),
                      UIS_ERR_LOGIN_PROTOCOL);
    assert_string_equal (login_result (fx->lg)->detail, "CHAP_I or CHAP_C missing");
    s_teardown (fx);
}

/* C5: a wrong secret: the target answers 0x0201: auth error, side target. */
static void
test_c5_auth_failure (void **state)
{
    (void)state;
    fx_t *fx = s_setup ();
    s_chap (fx, false);
    assert_int_equal (s_chap_until_challenge (fx, "CHAP_A=5|CHAP_I=42|CHAP_C=" CHAL), 0);
    s_send (fx);
    pdu_t p = s_rsp (fx, false, 0, 0);
    p.u.login_rsp.status_class = 2;
    p.u.login_rsp.status_detail = 1;
    assert_int_equal (s_feed (fx, &p, ""), UIS_ERR_AUTH_FAILED);
    const login_result_t *res = login_result (fx->lg);
    assert_int_equal (login_state (fx->lg), LOGIN_FAILED);
    assert_int_equal (res->status_class, 2);
    assert_int_equal (res->status_detail, 1);
    assert_string_equal (res->status_name, "AUTHENTICATION_FAILURE");
    assert_string_equal (res->side, "target");
    assert_false (res->retriable);
    assert_string_equal (login_last_event_name (fx->lg), "rsp_refused");
    /* nothing more is accepted */
    assert_int_equal (s_feed (fx, &p, ""), UIS_ERR_STATE);
    s_teardown (fx);
}

/* C6: mutual CHAP: our CHAP_I / CHAP_C go out with CHAP_N / CHAP_R; the
 * target's proof is verified; a wrong one, a wrong name or a missing one
 * fails with AUTH_TARGET, side initiator. */
static void
test_c6_mutual (void **state)
{
    (void)state;
    fx_t *fx = s_setup ();
    s_chap (fx, true);
    assert_int_equal (s_chap_until_challenge (fx, "CHAP_A=5|CHAP_I=42|CHAP_C=" CHAL), 0);
    req_t *r = s_send (fx);
    assert_int_equal (r->bhs[1], 0x81);
    s_expect_text (r, "CHAP_N=uiscsi-user|CHAP_R=" R_MD5
                      "|CHAP_I=7|CHAP_C=0xa0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
    assert_int_equal (s_recv (fx, true, 0, 1, "CHAP_N=uiscsi-target|CHAP_R=" TR_MD5), 0);
    s_operational (fx);
    size_t n;
    const uint8_t *c = login_chap_challenge (fx->lg, &n);
    assert_int_equal (n, 16);
    assert_memory_equal (c, fx->random + 1, 16);
    s_teardown (fx);

    /* the proof in a T=0 answer, then transit */
    fx = s_setup ();
    s_chap (fx, true);
    assert_int_equal (s_chap_until_challenge (fx, "CHAP_A=5|CHAP_I=42|CHAP_C=" CHAL), 0);
    s_send (fx);
    assert_int_equal (s_recv (fx, false, 0, 0, "CHAP_N=uiscsi-target|CHAP_R=" TR_MD5), 0);
    r = s_send (fx);
    assert_int_equal (r->bhs[1], 0x81);
    s_expect_text (r, "");
    assert_int_equal (s_recv (fx, true, 0, 3, ""), 0);
    assert_int_equal (login_state (fx->lg), LOGIN_DONE);
    s_teardown (fx);

    static const char *bad[] = {
        "CHAP_N=uiscsi-target|CHAP_R=0x72da1baac3f74296682d8d34aaf88e7b", /* wrong secret
                                                                           */
        "CHAP_N=someone-else|CHAP_R=" TR_MD5,                             /* wrong name */
        "CHAP_N=uiscsi-target",                                           /* no proof */
        "",                                                               /* nothing */
        "CHAP_N=uiscsi-target|CHAP_R=" R_MD5, /* our own response reflected */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fx = s_setup ();
        s_chap (fx, true);
        assert_int_equal (s_chap_until_challenge (fx, "CHAP_A=5|CHAP_I=42|CHAP_C=" CHAL),
                          0);
        s_send (fx);
        assert_int_equal (s_recv (fx, true, 0, 1, bad[i]), UIS_ERR_AUTH_TARGET);
        const login_result_t *res = login_result (fx->lg);
        assert_string_equal (res->side, "initiator");
        assert_int_equal (login_state (fx->lg), LOGIN_FAILED);
        s_teardown (fx);
    }

    /* mutual CHAP required: AuthMethod=None from the target fails */
    fx = s_setup ();
    s_chap (fx, true);
    fx->cfg.auth_allow_none = true;
    s_start (fx);
    s_send (fx);
    assert_int_equal (s_recv (fx, false, 0, 0, "AuthMethod=None"), UIS_ERR_AUTH_TARGET);
    s_teardown (fx);

    /* one-way CHAP: CHAP_N / CHAP_R from the target are not expected */
    fx = s_setup ();
    s_chap (fx, false);
    assert_int_equal (s_chap_until_challenge (fx, "CHAP_A=5|CHAP_I=42|CHAP_C=" CHAL), 0);
    s_send (fx);
    assert_int_equal (s_recv (fx, true, 0, 1, "CHAP_N=x|CHAP_R=" TR_MD5),
                      UIS_ERR_LOGIN_PROTOCOL);
    s_teardown (fx);
}

/* C7: reflection: the target sends our own challenge back (equal to the
 * random challenge we would send, or to the one of a previous login). */
static void
test_c7_reflection (void **state)
{
    (void)state;
    fx_t *fx = s_setup ();
    s_chap (fx, true);
    assert_int_equal (
        s_chap_until_challenge (
            fx, "CHAP_A=5|CHAP_I=42|CHAP_C=0xa0a1a2a3a4a5a6a7a8a9aaabacadaeaf"),
        UIS_ERR_CHAP_CHALLENGE);
    assert_string_equal (login_result (fx->lg)->side, "initiator");
    s_teardown (fx);

    static const uint8_t prev[16] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                     0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};
    fx = s_setup ();
    s_chap (fx, true);
    fx->cfg.chap.prev_challenge = prev;
    fx->cfg.chap.prev_challenge_len = sizeof prev;
    assert_int_equal (s_chap_until_challenge (fx, "CHAP_A=5|CHAP_I=42|CHAP_C=" CHAL),
                      UIS_ERR_CHAP_CHALLENGE);
    s_teardown (fx);
}

/* Runs one failing login scenario with the recognizable secrets and checks
 * every string the machine produced, and the wire. */
static void
s_check_no_secret (fx_t *fx)
{
    static const char *secrets[] = {SECRET, TSECRET};
    const login_result_t *res = login_result (fx->lg);
    assert_int_not_equal (res->error, 0);
    const char *strings[] = {res->detail,
                             res->side,
                             res->status_name,
                             uis_err_name (res->error),
                             uis_err_message (res->error),
                             login_phase_name (fx->lg),
                             login_last_event_name (fx->lg)};
    for (size_t s = 0; s < 2; s++) {
        for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
            assert_non_null (strings[i]);
            assert_null (strstr (strings[i], secrets[s]));
            assert_null (strstr (strings[i], "secret"));
        }
        assert_null (memmem (fx->wire, fx->wire_len, secrets[s], strlen (secrets[s])));
    }
}

/* C8: secrets never appear in errors, details or on the wire, whatever
 * fails. */
static void
test_c8_no_secret_in_strings (void **state)
{
    (void)state;
    /* wrong secret (0x0201) */
    fx_t *fx = s_setup ();
    s_chap (fx, true);
    assert_int_equal (s_chap_until_challenge (fx, "CHAP_A=5|CHAP_I=42|CHAP_C=" CHAL), 0);
    s_send (fx);
    pdu_t p = s_rsp (fx, false, 0, 0);
    p.u.login_rsp.status_class = 2;
    p.u.login_rsp.status_detail = 1;
    s_feed (fx, &p, "");
    s_check_no_secret (fx);
    s_teardown (fx);
    /* wrong target secret */
    fx = s_setup ();
    s_chap (fx, true);
    s_chap_until_challenge (fx, "CHAP_A=5|CHAP_I=42|CHAP_C=" CHAL);
    s_send (fx);
    s_recv (fx, true, 0, 1,
            "CHAP_N=uiscsi-target|CHAP_R=0x00000000000000000000000000000001");
    s_check_no_secret (fx);
    s_teardown (fx);
    /* bad algorithm, bad challenge, protocol violation */
    static const char *answers[] = {("CHAP_A=7|CHAP_I=42|CHAP_C=" CHAL),
                                    "CHAP_A=5|CHAP_I=42|CHAP_C=0x00",
                                    "HeaderDigest=None"};
    for (size_t i = 0; i < 3; i++) {
        fx = s_setup ();
        s_chap (fx, true);
        s_chap_until_challenge (fx, answers[i]);
        s_check_no_secret (fx);
        s_teardown (fx);
    }
    /* the secret as a "target name" in a redirect does not leak either */
    fx = s_setup ();
    s_chap (fx, false);
    s_start (fx);
    s_send (fx);
    p = s_rsp (fx, false, 0, 0);
    p.u.login_rsp.status_class = 1;
    p.u.login_rsp.status_detail = 1;
    s_feed (fx, &p, "TargetAddress=" SECRET);
    s_check_no_secret (fx);
    s_teardown (fx);
}

/* B5: redirection with TargetAddress: a distinct result with the parsed
 * address, temporary or permanent. */
static void
test_b5_redirect (void **state)
{
    (void)state;
    fx_t *fx = s_setup ();
    s_start (fx);
    s_send (fx);
    pdu_t p = s_rsp (fx, false, 0, 0);
    p.u.login_rsp.status_class = 1;
    p.u.login_rsp.status_detail = 1;
    assert_int_equal (s_feed (fx, &p, "TargetAddress=192.0.2.7:3261,2"),
                      UIS_ERR_LOGIN_REDIRECT);
    assert_int_equal (login_state (fx->lg), LOGIN_REDIRECT);
    const login_result_t *res = login_result (fx->lg);
    assert_int_equal (res->error, UIS_ERR_LOGIN_REDIRECT);
    assert_false (res->redirect_permanent);
    assert_string_equal (res->redirect.host, "192.0.2.7");
    assert_int_equal (res->redirect.port, 3261);
    assert_true (res->redirect_has_tpgt);
    assert_int_equal (res->redirect_tpgt, 2);
    assert_string_equal (res->status_name, "TARGET_MOVED_TEMPORARILY");
    s_teardown (fx);

    /* permanent, IPv6, default port, during the operational stage */
    fx = s_setup ();
    s_start (fx);
    s_send (fx);
    assert_int_equal (s_recv (fx, true, 0, 1, "AuthMethod=None"), 0);
    s_send (fx);
    p = s_rsp (fx, false, 1, 0);
    p.u.login_rsp.status_class = 1;
    p.u.login_rsp.status_detail = 2;
    assert_int_equal (s_feed (fx, &p, "TargetAddress=[2001:db8::1]"),
                      UIS_ERR_LOGIN_REDIRECT);
    res = login_result (fx->lg);
    assert_true (res->redirect_permanent);
    assert_true (res->redirect.ipv6);
    assert_string_equal (res->redirect.host, "2001:db8::1");
    assert_int_equal (res->redirect.port, 3260);
    assert_false (res->redirect_has_tpgt);
    assert_string_equal (res->status_name, "TARGET_MOVED_PERMANENTLY");
    s_teardown (fx);

    /* no or a bad address: protocol error */
    static const char *bad[] = {"", "TargetAddress=", "TargetAddress=host:0",
                                "TargetAddress=h:1,99999", "TargetAddress=::1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fx = s_setup ();
        s_start (fx);
        s_send (fx);
        p = s_rsp (fx, false, 0, 0);
        p.u.login_rsp.status_class = 1;
        p.u.login_rsp.status_detail = 2;
        assert_int_equal (s_feed (fx, &p, bad[i]), UIS_ERR_LOGIN_PROTOCOL);
        assert_int_equal (login_state (fx->lg), LOGIN_FAILED);
        s_teardown (fx);
    }
}

/* B6: each status maps to a distinct named error; class 3 is retriable. */
static void
test_b6_status (void **state)
{
    (void)state;
    static const struct {
        uint8_t cls, det;
        int error;
        const char *name;
        bool retriable;
    } cases[] = {
        {2, 0x00, UIS_ERR_LOGIN_STATUS, "INITIATOR_ERROR", false},
        {2, 0x01, UIS_ERR_AUTH_FAILED, "AUTHENTICATION_FAILURE", false},
        {2, 0x02, UIS_ERR_AUTH_FAILED, "AUTHORIZATION_FAILURE", false},
        {2, 0x03, UIS_ERR_LOGIN_STATUS, "TARGET_NOT_FOUND", false},
        {2, 0x04, UIS_ERR_LOGIN_STATUS, "TARGET_REMOVED", false},
        {2, 0x05, UIS_ERR_LOGIN_STATUS, "UNSUPPORTED_VERSION", false},
        {2, 0x06, UIS_ERR_LOGIN_STATUS, "TOO_MANY_CONNECTIONS", false},
        {2, 0x07, UIS_ERR_LOGIN_STATUS, "MISSING_PARAMETER", false},
        {2, 0x08, UIS_ERR_LOGIN_STATUS, "CANT_INCLUDE_IN_SESSION", false},
        {2, 0x09, UIS_ERR_LOGIN_STATUS, "SESSION_TYPE_NOT_SUPPORTED", false},
        {2, 0x0a, UIS_ERR_LOGIN_STATUS, "SESSION_DOES_NOT_EXIST", false},
        {2, 0x0b, UIS_ERR_LOGIN_STATUS, "INVALID_DURING_LOGIN", false},
        {2, 0x0c, UIS_ERR_LOGIN_STATUS, "UNKNOWN_INITIATOR_ERROR", false},
        {3, 0x00, UIS_ERR_LOGIN_STATUS, "TARGET_ERROR", true},
        {3, 0x01, UIS_ERR_LOGIN_STATUS, "SERVICE_UNAVAILABLE", true},
        {3, 0x02, UIS_ERR_LOGIN_STATUS, "OUT_OF_RESOURCES", true},
        {3, 0x07, UIS_ERR_LOGIN_STATUS, "UNKNOWN_TARGET_ERROR", true},
        {4, 0x00, UIS_ERR_LOGIN_STATUS, "UNKNOWN_STATUS", false},
        {1, 0x03, UIS_ERR_LOGIN_STATUS, "UNKNOWN_REDIRECTION", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fx_t *fx = s_setup ();
        s_start (fx);
        s_send (fx);
        pdu_t p = s_rsp (fx, false, 0, 0);
        p.u.login_rsp.status_class = cases[i].cls;
        p.u.login_rsp.status_detail = cases[i].det;
        assert_int_equal (s_feed (fx, &p, ""), cases[i].error);
        const login_result_t *res = login_result (fx->lg);
        assert_int_equal (login_state (fx->lg), LOGIN_FAILED);
        assert_int_equal (res->error, cases[i].error);
        assert_string_equal (res->status_name, cases[i].name);
        assert_int_equal (res->retriable, cases[i].retriable);
        assert_int_equal (res->status_class, cases[i].cls);
        assert_int_equal (res->status_detail, cases[i].det);
        assert_string_equal (res->side,
                             cases[i].error == UIS_ERR_AUTH_FAILED ? "target" : "");
        login_status_info_t info = login_status_info (cases[i].cls, cases[i].det);
        assert_string_equal (info.name, cases[i].name);
        s_teardown (fx);
    }
    /* names are distinct */
    for (unsigned a = 0; a < 0x400; a++)
        for (unsigned b = a + 1; b < 0x400; b++) {
            login_status_info_t x = login_status_info ((uint8_t)(a >> 8), (uint8_t)a);
            login_status_info_t y = login_status_info ((uint8_t)(b >> 8), (uint8_t)b);
            if (strncmp (x.name, "UNKNOWN", 7) != 0
                && strncmp (y.name, "UNKNOWN", 7) != 0)
                assert_string_not_equal (x.name, y.name);
        }
    assert_string_equal (login_status_info (0, 0).name, "SUCCESS");
    assert_int_equal (login_status_info (0, 0).error, 0);
}

/* B12: the window comes from the FINAL response, not from earlier ones. */
static void
test_b12_window (void **state)
{
    (void)state;
    fx_t *fx = s_setup ();
    fx->cfg.cmdsn = 0xfffffff0u;
    s_start (fx);
    s_send (fx);
    pdu_t p = s_rsp (fx, true, 0, 1);
    p.u.login_rsp.exp_cmdsn = 1;
    p.u.login_rsp.max_cmdsn = 1;
    assert_int_equal (s_feed (fx, &p, "AuthMethod=None"), 0);
    req_t *r = s_send (fx);
    assert_int_equal (s_be32 (r->bhs + 24), 0xfffffff0u);
    uis_text_t *offer = s_offer (false);
    char echo[4096];
    s_echo (offer, echo, sizeof echo);
    uis_text_destroy (&offer);
    p = s_rsp (fx, true, 1, 3);
    p.u.login_rsp.exp_cmdsn = 0xfffffff0u;
    p.u.login_rsp.max_cmdsn = 0xfffffff0u + 63;
    assert_int_equal (s_feed (fx, &p, echo), 0);
    const login_result_t *res = login_result (fx->lg);
    assert_int_equal (res->exp_cmdsn, 0xfffffff0u);
    assert_int_equal (res->max_cmdsn, 0x2fu);
    assert_int_equal ((uint32_t)(res->max_cmdsn - res->exp_cmdsn + 1), 64);
    s_teardown (fx);
}

/* B13: ExpStatSN = previous StatSN + 1 on every request (the first one as
 * configured); CmdSN constant; ITT constant. */
static void
test_b13_sequence_numbers (void **state)
{
    (void)state;
    fx_t *fx = s_setup ();
    s_chap (fx, false);
    fx->cfg.exp_statsn = 0x77;
    fx->statsn = 0x5000;
    s_start (fx);
    req_t *r = s_send (fx);
    assert_int_equal (s_be32 (r->bhs + 28), 0x77);
    uint32_t expect = 0x5001;
    static const char *answers[] = {"AuthMethod=CHAP",
                                    ("CHAP_A=5|CHAP_I=42|CHAP_C=" CHAL)};
    for (int i = 0; i < 2; i++) {
        assert_int_equal (s_recv (fx, false, 0, 0, answers[i]), 0);
        r = s_send (fx);
        assert_int_equal (s_be32 (r->bhs + 28), expect);
        assert_int_equal (s_be32 (r->bhs + 24), CMDSN);
        assert_int_equal (s_be32 (r->bhs + 16), ITT);
        expect++;
    }
    assert_int_equal (s_recv (fx, true, 0, 1, ""), 0);
    r = s_send (fx);
    assert_int_equal (s_be32 (r->bhs + 28), expect);
    assert_int_equal (s_be32 (r->bhs + 24), CMDSN);
    s_teardown (fx);
}

/* B14: the random ISID format, reuse for reinstatement, distinct ISIDs;
 * adding a connection to a session carries and expects its TSIH. */
static void
test_b14_isid (void **state)
{
    (void)state;
    uint8_t a[6], b[6];
    static const uint8_t r1[3] = {1, 2, 3}, r2[3] = {1, 2, 4};
    login_isid_random (a, r1, 0x0a0b);
    static const uint8_t want[6] = {0x80, 0x01, 0x02, 0x03, 0x0a, 0x0b};
    assert_memory_equal (a, want, 6);
    assert_int_equal (a[0] >> 6, 2); /* T = 10b */
    login_isid_random (b, r2, 0x0a0b);
    assert_memory_not_equal (a, b, 6);

    /* ERL 0 reinstatement: same ISID, TSIH 0 */
    fx_t *fx = s_setup ();
    memcpy (fx->cfg.isid, a, 6);
    s_start (fx);
    req_t *r = s_send (fx);
    assert_memory_equal (r->bhs + 8, a, 6);
    assert_int_equal (s_be16 (r->bhs + 14), 0);
    s_teardown (fx);

    /* a connection added to session 0x55 */
    fx = s_setup ();
    fx->cfg.tsih = 0x55;
    fx->cfg.cid = 2;
    s_start (fx);
    r = s_send (fx);
    assert_int_equal (s_be16 (r->bhs + 14), 0x55);
    assert_int_equal (s_be16 (r->bhs + 20), 2);
    assert_int_equal (s_recv (fx, true, 0, 1, "AuthMethod=None"), 0);
    s_operational (fx);
    assert_int_equal (s_be16 (fx->last.bhs + 14), 0x55);
    assert_int_equal (login_result (fx->lg)->tsih, 0x55);
    s_teardown (fx);
}

/* Discovery sessions: SessionType=Discovery, no TargetName. */
static void
test_discovery (void **state)
{
    (void)state;
    fx_t *fx = s_setup ();
    fx->cfg.discovery = true;
    assert_null (login_new (&fx->cfg, NULL)); /* TargetName given */
    fx->cfg.target_name = NULL;
    s_start (fx);
    req_t *r = s_send (fx);
    s_expect_text (r, "InitiatorName=" INAME "|SessionType=Discovery|AuthMethod=None");
    assert_int_equal (s_recv (fx, true, 0, 1, "AuthMethod=None"), 0);
    s_operational (fx);
    assert_true (login_result (fx->lg)->params.discovery);
    s_teardown (fx);

    /* an alias goes after the name; a given negotiation context is used */
    fx = s_setup ();
    fx->cfg.initiator_alias = "host1";
    uis_negotiate_t *neg = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
    assert_int_equal (uis_negotiate_set (neg, "MaxRecvDataSegmentLength", "65536"), 0);
    fx->lg = login_new (&fx->cfg, &neg);
    assert_null (neg);
    assert_int_equal (login_start (fx->lg), 0);
    r = s_send (fx);
    s_expect_text (r, "InitiatorName=" INAME "|InitiatorAlias=host1|SessionType=Normal"
                      "|TargetName=" TNAME "|AuthMethod=None");
    assert_int_equal (s_recv (fx, true, 0, 1, ""), 0);
    r = s_send (fx);
    assert_non_null (memmem (r->data, r->len, "MaxRecvDataSegmentLength=65536", 31));
    s_teardown (fx);
}

/* Response validation: each broken rule fails with LOGIN_PROTOCOL and a
 * detail string. */
static void
test_validation (void **state)
{
    (void)state;
    static const struct {
        int field;
        uint32_t value;
        const char *pairs;
        const char *detail;
    } cases[] = {
        {1, PDU_OP_TEXT_RSP, "", "not a login response"},
        {2, ITT + 1, "", "login response ITT does not match"},
        {3, 1, "", "version-active is not 0"},
        {4, 0, "", "ISID not echoed"},
        {5, 1, "", "CSG not echoed"},
        {6, 2, "", "illegal NSG"},
        {6, 0, "", "illegal NSG"},
        {7, 9, "", "TSIH set before the final response"},
        {0, 0, "HeaderDigest=None", "operational key in the security stage"},
        {0, 0, "CHAP_A=5", "security key not expected at this step"},
        {0, 0, "TargetName=iqn.x", "initiator-only key in a login response"},
        {0, 0, "InitiatorName=iqn.x", "initiator-only key in a login response"},
        {0, 0, "AuthMethod=None|AuthMethod=None", "malformed login text"},
        {0, 0, "no-equals-sign", "malformed login text"},
        {8, 0, "", "data segment length mismatch"},
        {9, 3, "", "unknown success status detail"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        fx_t *fx = s_setup ();
        s_start (fx);
        s_send (fx);
        pdu_t p = s_rsp (fx, true, 0, 1);
        switch (cases[i].field) {
        case 1:
            p.opcode = (uint8_t)cases[i].value;
            break;
        case 2:
            p.itt = cases[i].value;
            break;
        case 3:
            p.u.login_rsp.version_active = (uint8_t)cases[i].value;
            break;
        case 4:
            p.u.login_rsp.isid[5] ^= 1;
            break;
        case 5:
            p.u.login_rsp.csg = (uint8_t)cases[i].value;
            break;
        case 6:
            p.u.login_rsp.nsg = (uint8_t)cases[i].value;
            break;
        case 7:
            p.u.login_rsp.tsih = (uint16_t)cases[i].value;
            break;
        case 9:
            p.u.login_rsp.status_detail = (uint8_t)cases[i].value;
            break;
        default:
            break;
        }
        int rc;
        if (cases[i].field == 8) {
            p.data_segment_length = 4;
            rc = login_handle_response (fx->lg, &p, (const uint8_t *)"A=1\0", 3);
        }
        else
            rc = s_feed (fx, &p, cases[i].pairs);
        assert_int_equal (rc, UIS_ERR_LOGIN_PROTOCOL);
        assert_int_equal (login_state (fx->lg), LOGIN_FAILED);
        assert_string_equal (login_result (fx->lg)->detail, cases[i].detail);
        assert_string_equal (login_last_event_name (fx->lg), "rsp_invalid");
        s_teardown (fx);
    }

    /* T=1 in answer to a T=0 request (CHAP step 1) */
    fx_t *fx = s_setup ();
    s_chap (fx, false);
    s_start (fx);
    s_send (fx);
    assert_int_equal (s_recv (fx, true, 0, 1, "AuthMethod=CHAP"), UIS_ERR_LOGIN_PROTOCOL);
    assert_string_equal (login_result (fx->lg)->detail, "T=1 answer to a T=0 request");
    s_teardown (fx);

    /* operational stage: NSG below ours, no TSIH in the final response,
     * a security key, keys needing answers in the final response */
    static const struct {
        uint8_t nsg;
        uint16_t tsih;
        const char *pairs;
        const char *detail;
    } oper[] = {
        {1, 0, "", "illegal NSG"},
        {3, 0, "", "final response without TSIH"},
        {3, TSIH, "AuthMethod=None", "security key in the operational stage"},
        {3, TSIH, "TaskReporting=FastAbort",
         "final login response offers keys that need an answer"},
    };
    for (size_t i = 0; i < sizeof oper / sizeof oper[0]; i++) {
        fx = s_setup ();
        s_start (fx);
        s_send (fx);
        assert_int_equal (s_recv (fx, true, 0, 1, ""), 0);
        s_send (fx);
        pdu_t p = s_rsp (fx, true, 1, oper[i].nsg);
        p.u.login_rsp.tsih = oper[i].tsih;
        assert_int_equal (s_feed (fx, &p, oper[i].pairs), UIS_ERR_LOGIN_PROTOCOL);
        assert_string_equal (login_result (fx->lg)->detail, oper[i].detail);
        s_teardown (fx);
    }

    /* an endless stream of C=1 pieces stops at the PDU or size limit */
    fx = s_setup ();
    fx->cfg.max_text = 100;
    s_start (fx);
    int rc = 0;
    unsigned n;
    for (n = 0; n < 1000 && rc == 0; n++) {
        s_send (fx);
        pdu_t p = s_rsp (fx, false, 0, 0);
        p.u.login_rsp.cont = true;
        rc = s_feed (fx, &p, "X-a=bbbbbbbb");
    }
    assert_int_equal (rc, UIS_ERR_LOGIN_PROTOCOL);
    assert_true (n < 20);
    assert_string_equal (login_result (fx->lg)->detail, "login text exceeds the limit");
    s_teardown (fx);
}

/* API misuse and tracing names. */
static void
test_api (void **state)
{
    (void)state;
    fx_t *fx = s_setup ();
    login_config_t bad = fx->cfg;
    bad.initiator_name = "";
    assert_int_equal (login_config_check (&bad), UIS_ERR_INVALID_ARG);
    bad = fx->cfg;
    bad.target_name = NULL;
    assert_int_equal (login_config_check (&bad), UIS_ERR_INVALID_ARG);
    bad.auth = (login_auth_t)7;
    bad.target_name = TNAME;
    assert_int_equal (login_config_check (&bad), UIS_ERR_INVALID_ARG);
    s_chap (fx, true);
    bad = fx->cfg;
    bad.random = NULL;
    assert_int_equal (login_config_check (&bad), UIS_ERR_INVALID_ARG);
    assert_null (login_new (&bad, NULL));
    assert_int_equal (login_config_check (&fx->cfg), 0);

    fx->lg = login_new (&fx->cfg, NULL);
    pdu_t p;
    const uint8_t *d;
    size_t n;
    assert_int_equal (login_next_request (fx->lg, &p, &d, &n), UIS_ERR_STATE);
    p = s_rsp (fx, false, 0, 0);
    assert_int_equal (login_handle_response (fx->lg, &p, NULL, 0), UIS_ERR_STATE);
    assert_int_equal (login_start (fx->lg), 0);
    assert_int_equal (login_start (fx->lg), UIS_ERR_STATE);
    assert_int_equal (login_handle_response (fx->lg, &p, NULL, 0), UIS_ERR_STATE);
    s_send (fx);
    assert_int_equal (login_next_request (fx->lg, &p, &d, &n), UIS_ERR_STATE);
    assert_null (login_take_negotiate (fx->lg));
    assert_null (login_chap_challenge (fx->lg, &n));
    assert_int_equal (n, 0);
    assert_string_equal (login_last_event_name (fx->lg), "start");
    s_teardown (fx);
    login_destroy (NULL);
    assert_int_equal (login_state (NULL), LOGIN_FAILED);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_b1_auth_none),
        cmocka_unit_test (test_b2_skip_operational),
        cmocka_unit_test (test_b7_final_response_unasked_keys),
        cmocka_unit_test (test_b3_t0_rounds),
        cmocka_unit_test (test_b4_response_continuation),
        cmocka_unit_test (test_b4_request_split),
        cmocka_unit_test (test_c1_chap_lio),
        cmocka_unit_test (test_c2_algorithm),
        cmocka_unit_test (test_c3_challenge),
        cmocka_unit_test (test_c4_encoding),
        cmocka_unit_test (test_c5_auth_failure),
        cmocka_unit_test (test_c6_mutual),
        cmocka_unit_test (test_c7_reflection),
        cmocka_unit_test (test_c8_no_secret_in_strings),
        cmocka_unit_test (test_b5_redirect),
        cmocka_unit_test (test_b6_status),
        cmocka_unit_test (test_b12_window),
        cmocka_unit_test (test_b13_sequence_numbers),
        cmocka_unit_test (test_b14_isid),
        cmocka_unit_test (test_discovery),
        cmocka_unit_test (test_validation),
        cmocka_unit_test (test_api),
    };
    return cmocka_run_group_tests_name ("login", tests, NULL, NULL);
}
