/* test_negotiate.c: the RFC 7143 §13 key table and the initiator's
 * operational parameter negotiation.
 * Conformance: B2 (no operational stage: defaults), B3 (target keys over
 * several rounds), B7 (NotUnderstood / Irrelevant / Reject), B8 (keys we
 * never proposed), B9 (numerical results, FirstBurst <= MaxBurst,
 * out-of-range answers), B10 (MRDSL per direction), B11 (several overrides
 * all reach the offer), K5 (FFP renegotiation offers only MRDSL), B17
 * (discovery session keys). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "proto/errors.h"
#include "proto/negotiate.h"

/* Builds a text list from a NUL-separated literal. */
static uis_text_t *
s_text (const char *seg, size_t len)
{
    uis_text_t *t = uis_text_new ();
    assert_non_null (t);
    assert_int_equal (uis_text_parse (t, (const uint8_t *)seg, len, 0), 0);
    return t;
}
#define TEXT(lit) s_text (lit, sizeof lit - 1)

/* Asserts that the encoded list equals the NUL-separated literal. */
static void
s_assert_encoded (uis_text_t *t, const char *expect, size_t len)
{
    size_t got;
    const uint8_t *enc = uis_text_encode (t, &got);
    if (got != len || memcmp (enc, expect, len) != 0) {
        for (size_t i = 0; i < uis_text_size (t); i++)
            print_message ("  %s=%s\n", uis_text_key (t, i), uis_text_value (t, i));
    }
    assert_int_equal (got, len);
    assert_memory_equal (enc, expect, len);
}
#define ASSERT_ENCODED(t, lit) s_assert_encoded (t, lit, sizeof lit - 1)

/* Runs one target response through process and returns rc; reply kept. */
static int
s_process (uis_negotiate_t *n, uis_neg_stage_t stage, const char *seg, size_t len,
           uis_text_t *reply)
{
    uis_text_t *in = s_text (seg, len);
    int rc = uis_negotiate_process (n, stage, in, reply);
    uis_text_destroy (&in);
    return rc;
}
#define PROCESS_IN(n, stage, lit, reply) s_process (n, stage, lit, sizeof lit - 1, reply)
#define PROCESS(n, lit, reply)                                                           \
    s_process (n, UIS_NEG_STAGE_OPERATIONAL, lit, sizeof lit - 1, reply)

/* Every §13 key is in the table with the RFC's properties. */
static void
test_table (void **state)
{
    (void)state;
    static const char *const names[] = {"HeaderDigest",
                                        "DataDigest",
                                        "MaxConnections",
                                        "SendTargets",
                                        "TargetName",
                                        "InitiatorName",
                                        "TargetAlias",
                                        "InitiatorAlias",
                                        "TargetAddress",
                                        "TargetPortalGroupTag",
                                        "InitialR2T",
                                        "ImmediateData",
                                        "MaxRecvDataSegmentLength",
                                        "MaxBurstLength",
                                        "FirstBurstLength",
                                        "DefaultTime2Wait",
                                        "DefaultTime2Retain",
                                        "MaxOutstandingR2T",
                                        "DataPDUInOrder",
                                        "DataSequenceInOrder",
                                        "ErrorRecoveryLevel",
                                        "SessionType",
                                        "AuthMethod",
                                        "TaskReporting",
                                        "iSCSIProtocolLevel",
                                        "IFMarker",
                                        "OFMarker",
                                        "OFMarkInt",
                                        "IFMarkInt",
                                        "X#NodeArchitecture"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const uis_neg_key_t *k = uis_neg_key_lookup (names[i]);
        assert_non_null (k);
        assert_string_equal (k->name, names[i]);
        assert_non_null (k->section);
    }
    const uis_neg_key_t *k = uis_neg_key_lookup ("MaxBurstLength");
    assert_int_equal (k->kind, UIS_NEG_KIND_MIN);
    assert_int_equal (k->use, UIS_NEG_USE_LO);
    assert_int_equal (k->scope, UIS_NEG_SCOPE_SW);
    assert_string_equal (k->rfc_default, "262144");
    assert_int_equal (k->min, 512);
    assert_int_equal (k->max, 16777215);
    assert_true (k->flags & UIS_NEG_F_IRRELEVANT_DISCOVERY);
    k = uis_neg_key_lookup ("HeaderDigest");
    assert_int_equal (k->kind, UIS_NEG_KIND_LIST);
    assert_int_equal (k->use, UIS_NEG_USE_IO);
    assert_int_equal (k->scope, UIS_NEG_SCOPE_CO);
    assert_string_equal (k->rfc_default, "None");
    k = uis_neg_key_lookup ("MaxRecvDataSegmentLength");
    assert_int_equal (k->kind, UIS_NEG_KIND_DECLARATIVE);
    assert_int_equal (k->use, UIS_NEG_USE_ALL);
    assert_int_equal (k->scope, UIS_NEG_SCOPE_CO);
    assert_string_equal (k->rfc_default, "8192");
    assert_int_equal (uis_neg_key_lookup ("InitialR2T")->kind, UIS_NEG_KIND_OR);
    assert_string_equal (uis_neg_key_lookup ("InitialR2T")->rfc_default, "Yes");
    assert_int_equal (uis_neg_key_lookup ("ImmediateData")->kind, UIS_NEG_KIND_AND);
    assert_int_equal (uis_neg_key_lookup ("DataPDUInOrder")->kind, UIS_NEG_KIND_OR);
    assert_int_equal (uis_neg_key_lookup ("DataSequenceInOrder")->kind, UIS_NEG_KIND_OR);
    k = uis_neg_key_lookup ("DefaultTime2Wait");
    assert_int_equal (k->kind, UIS_NEG_KIND_MAX);
    assert_int_equal (k->max, 3600);
    assert_string_equal (k->rfc_default, "2");
    k = uis_neg_key_lookup ("DefaultTime2Retain");
    assert_int_equal (k->kind, UIS_NEG_KIND_MIN);
    assert_string_equal (k->rfc_default, "20");
    k = uis_neg_key_lookup ("ErrorRecoveryLevel");
    assert_int_equal (k->max, 2);
    assert_string_equal (k->rfc_default, "0");
    k = uis_neg_key_lookup ("FirstBurstLength");
    assert_string_equal (k->rfc_default, "65536");
    k = uis_neg_key_lookup ("MaxOutstandingR2T");
    assert_int_equal (k->min, 1);
    assert_int_equal (k->max, 65535);
    k = uis_neg_key_lookup ("MaxConnections");
    assert_int_equal (k->min, 1);
    assert_int_equal (k->max, 65535);
    k = uis_neg_key_lookup ("SendTargets");
    assert_int_equal (k->use, UIS_NEG_USE_FFPO);
    assert_int_equal (k->senders, UIS_NEG_BY_INITIATOR);
    k = uis_neg_key_lookup ("SessionType");
    assert_int_equal (k->use, UIS_NEG_USE_LO);
    assert_int_equal (k->kind, UIS_NEG_KIND_DECLARATIVE);
    k = uis_neg_key_lookup ("TaskReporting");
    assert_string_equal (k->values, "RFC3720,ResponseFence,FastAbort");
    assert_string_equal (uis_neg_key_lookup ("iSCSIProtocolLevel")->rfc_default, "1");
    assert_true (uis_neg_key_lookup ("IFMarkInt")->flags & UIS_NEG_F_OBSOLETE);
    assert_true (uis_neg_key_lookup ("TargetAddress")->flags & UIS_NEG_F_REPEATABLE);
    /* Vendor keys map to the X- row; unknown keys to nothing. */
    assert_string_equal (uis_neg_key_lookup ("X-com.example.foo")->name, "X-");
    assert_string_equal (uis_neg_key_lookup ("X#org.example")->name, "X-");
    assert_string_equal (uis_neg_key_lookup ("SRP_A")->name, "SRP_");
    assert_string_equal (uis_neg_key_lookup ("Y#org.example.k")->name, "X-");
    assert_string_equal (uis_neg_key_lookup ("Z-k")->name, "X-");
    assert_true (uis_neg_key_lookup ("Z-k")->flags & UIS_NEG_F_VENDOR);
    assert_null (uis_neg_key_lookup ("Xfoo"));
    assert_null (uis_neg_key_lookup ("NoSuchKey"));
    assert_null (uis_neg_key_at (uis_neg_key_count ()));
    for (size_t i = 0; i < uis_neg_key_count (); i++)
        assert_non_null (uis_neg_key_at (i)->name);
}

static void
test_parse_number (void **state)
{
    (void)state;
    uint64_t v;
    assert_int_equal (uis_neg_parse_number ("262144", &v), 0);
    assert_int_equal (v, 262144);
    assert_int_equal (uis_neg_parse_number ("0x40000", &v), 0);
    assert_int_equal (v, 0x40000);
    assert_int_equal (uis_neg_parse_number ("18446744073709551615", &v), 0);
    assert_true (v == UINT64_MAX);
    assert_int_equal (uis_neg_parse_number ("18446744073709551616", &v),
                      UIS_ERR_INVALID_ARG);
    assert_int_equal (uis_neg_parse_number ("0x10000000000000000", &v),
                      UIS_ERR_INVALID_ARG);
    assert_int_equal (uis_neg_parse_number ("", &v), UIS_ERR_INVALID_ARG);
    assert_int_equal (uis_neg_parse_number ("0x", &v), UIS_ERR_INVALID_ARG);
    assert_int_equal (uis_neg_parse_number ("-1", &v), UIS_ERR_INVALID_ARG);
    assert_int_equal (uis_neg_parse_number ("12a", &v), UIS_ERR_INVALID_ARG);
    assert_int_equal (uis_neg_parse_number (" 1", &v), UIS_ERR_INVALID_ARG);
}

/* Our default operational offer, in table order. */
static void
test_default_offer (void **state)
{
    (void)state;
    uis_negotiate_t *n = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
    uis_text_t *out = uis_text_new ();
    assert_int_equal (uis_negotiate_offer (n, UIS_NEG_STAGE_SECURITY, out), 0);
    assert_int_equal (uis_text_size (out), 0);
    assert_int_equal (uis_negotiate_offer (n, UIS_NEG_STAGE_OPERATIONAL, out), 0);
    ASSERT_ENCODED (out, "HeaderDigest=None\0DataDigest=None\0MaxConnections=1\0"
                         "InitialR2T=No\0ImmediateData=Yes\0"
                         "MaxRecvDataSegmentLength=262144\0MaxBurstLength=16776192\0"
                         "FirstBurstLength=262144\0DefaultTime2Wait=2\0"
                         "DefaultTime2Retain=20\0MaxOutstandingR2T=1\0"
                         "DataPDUInOrder=Yes\0DataSequenceInOrder=Yes\0"
                         "ErrorRecoveryLevel=0\0");
    assert_true (uis_negotiate_pending (n));
    /* A second offer in the same login repeats nothing. */
    uis_text_clear (out);
    assert_int_equal (uis_negotiate_offer (n, UIS_NEG_STAGE_OPERATIONAL, out), 0);
    assert_int_equal (uis_text_size (out), 0);
    uis_text_destroy (&out);
    uis_negotiate_destroy (&n);
    assert_null (n);
    uis_negotiate_destroy (&n);
}

/* B11: several overrides at once all reach the offer. */
static void
test_overrides_b11 (void **state)
{
    (void)state;
    uis_negotiate_t *n = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
    uis_text_t *ov = TEXT ("MaxRecvDataSegmentLength=65536\0MaxBurstLength=131072\0"
                           "FirstBurstLength=32768\0ImmediateData=No\0"
                           "HeaderDigest=CRC32C,None\0TaskReporting=FastAbort,RFC3720\0");
    assert_int_equal (uis_negotiate_set_all (n, ov), 0);
    assert_int_equal (uis_negotiate_set_u64 (n, "MaxOutstandingR2T", 4), 0);
    assert_int_equal (uis_negotiate_set (n, "DataDigest", "CRC32C"), 0);
    assert_int_equal (uis_negotiate_set (n, "ErrorRecoveryLevel", "0x1"), 0);
    assert_string_equal (uis_negotiate_proposal (n, "ErrorRecoveryLevel"), "1");
    uis_text_t *out = uis_text_new ();
    assert_int_equal (uis_negotiate_offer (n, UIS_NEG_STAGE_OPERATIONAL, out), 0);
    ASSERT_ENCODED (out, "HeaderDigest=CRC32C,None\0DataDigest=CRC32C\0MaxConnections=1\0"
                         "InitialR2T=No\0ImmediateData=No\0"
                         "MaxRecvDataSegmentLength=65536\0MaxBurstLength=131072\0"
                         "FirstBurstLength=32768\0DefaultTime2Wait=2\0"
                         "DefaultTime2Retain=20\0MaxOutstandingR2T=4\0"
                         "DataPDUInOrder=Yes\0DataSequenceInOrder=Yes\0"
                         "ErrorRecoveryLevel=1\0TaskReporting=FastAbort,RFC3720\0");
    uis_text_destroy (&out);
    uis_text_destroy (&ov);
    uis_negotiate_destroy (&n);
}

/* Overrides: clear errors naming the key; set_all is all or nothing; a
 * FirstBurstLength above MaxBurstLength is offered clamped. */
static void
test_override_errors (void **state)
{
    (void)state;
    uis_negotiate_t *n = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
    assert_string_equal (uis_negotiate_error_key (n), "");
    assert_int_equal (uis_negotiate_set (n, "MaxBurstLenght", "1024"),
                      UIS_ERR_NEG_UNKNOWN_KEY);
    assert_string_equal (uis_negotiate_error_key (n), "MaxBurstLenght");
    assert_int_equal (uis_negotiate_set (n, "MaxRecvDataSegmentLength", "511"),
                      UIS_ERR_OUT_OF_RANGE);
    assert_string_equal (uis_negotiate_error_key (n), "MaxRecvDataSegmentLength");
    assert_int_equal (uis_negotiate_set (n, "MaxRecvDataSegmentLength", "16777216"),
                      UIS_ERR_OUT_OF_RANGE);
    assert_int_equal (uis_negotiate_set (n, "ErrorRecoveryLevel", "3"),
                      UIS_ERR_OUT_OF_RANGE);
    assert_int_equal (uis_negotiate_set (n, "ImmediateData", "yes"), UIS_ERR_INVALID_ARG);
    assert_string_equal (uis_negotiate_error_key (n), "ImmediateData");
    assert_int_equal (uis_negotiate_set (n, "HeaderDigest", "CRC32C,MD5"),
                      UIS_ERR_INVALID_ARG);
    assert_int_equal (uis_negotiate_set (n, "HeaderDigest", "CRC32C,CRC32C"),
                      UIS_ERR_INVALID_ARG);
    assert_int_equal (uis_negotiate_set (n, "HeaderDigest", ""), UIS_ERR_INVALID_ARG);
    assert_int_equal (uis_negotiate_set (n, "HeaderDigest", "CRC32C,"),
                      UIS_ERR_INVALID_ARG);
    assert_int_equal (uis_negotiate_set (n, "MaxBurstLength", "12k"),
                      UIS_ERR_INVALID_ARG);
    assert_int_equal (uis_negotiate_set (n, "MaxBurstLength", NULL), UIS_ERR_INVALID_ARG);
    /* Not operator-negotiable keys */
    assert_int_equal (uis_negotiate_set (n, "InitiatorName", "iqn.x"),
                      UIS_ERR_NEG_KEY_NOT_ALLOWED);
    assert_int_equal (uis_negotiate_set (n, "SessionType", "Discovery"),
                      UIS_ERR_NEG_KEY_NOT_ALLOWED);
    assert_int_equal (uis_negotiate_set (n, "SendTargets", "All"),
                      UIS_ERR_NEG_KEY_NOT_ALLOWED);
    assert_int_equal (uis_negotiate_set (n, "IFMarker", "No"),
                      UIS_ERR_NEG_KEY_NOT_ALLOWED);
    assert_int_equal (uis_negotiate_set (n, "X-com.example", "1"),
                      UIS_ERR_NEG_KEY_NOT_ALLOWED);
    assert_string_equal (uis_negotiate_error_key (n), "X-com.example");
    /* set_all: the third pair is bad, so none takes effect. */
    uis_text_t *ov = TEXT ("MaxBurstLength=65536\0ImmediateData=No\0"
                           "MaxOutstandingR2T=0\0DataDigest=CRC32C\0");
    assert_int_equal (uis_negotiate_set_all (n, ov), UIS_ERR_OUT_OF_RANGE);
    assert_string_equal (uis_negotiate_error_key (n), "MaxOutstandingR2T");
    assert_string_equal (uis_negotiate_proposal (n, "MaxBurstLength"), "16776192");
    assert_string_equal (uis_negotiate_proposal (n, "ImmediateData"), "Yes");
    assert_null (uis_negotiate_proposal (n, "TaskReporting"));
    /* FirstBurstLength is offered at most MaxBurstLength (§13.14). */
    assert_int_equal (uis_negotiate_set (n, "MaxBurstLength", "65536"), 0);
    assert_int_equal (uis_negotiate_set (n, "FirstBurstLength", "262144"), 0);
    uis_text_t *out = uis_text_new ();
    assert_int_equal (uis_negotiate_offer (n, UIS_NEG_STAGE_OPERATIONAL, out), 0);
    assert_string_equal (uis_text_find (out, "FirstBurstLength"), "65536");
    uis_text_destroy (&out);
    uis_text_destroy (&ov);
    uis_negotiate_destroy (&n);
}

/* Answers that simply agree: the exact result struct. */
static void
test_plain_answers (void **state)
{
    (void)state;
    uis_negotiate_t *n = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
    assert_int_equal (uis_negotiate_set (n, "HeaderDigest", "CRC32C,None"), 0);
    assert_int_equal (uis_negotiate_set (n, "DataDigest", "CRC32C,None"), 0);
    uis_text_t *out = uis_text_new ();
    assert_int_equal (uis_negotiate_offer (n, UIS_NEG_STAGE_OPERATIONAL, out), 0);
    uis_text_t *reply = uis_text_new ();
    assert_int_equal (
        PROCESS (n,
                 "HeaderDigest=CRC32C\0DataDigest=None\0MaxConnections=1\0"
                 "InitialR2T=Yes\0ImmediateData=Yes\0MaxRecvDataSegmentLength=65536\0"
                 "MaxBurstLength=1048576\0FirstBurstLength=65536\0DefaultTime2Wait=2\0"
                 "DefaultTime2Retain=0\0MaxOutstandingR2T=1\0DataPDUInOrder=Yes\0"
                 "DataSequenceInOrder=Yes\0ErrorRecoveryLevel=0\0",
                 reply),
        0);
    assert_int_equal (uis_text_size (reply), 0);
    assert_false (uis_negotiate_pending (n));
    uis_neg_params_t p;
    assert_int_equal (uis_negotiate_result (n, &p), 0);
    assert_false (p.discovery);
    assert_true (p.header_digest);
    assert_false (p.data_digest);
    assert_int_equal (p.max_connections, 1);
    assert_true (p.initial_r2t);
    assert_true (p.immediate_data);
    assert_int_equal (p.max_recv_dsl_initiator, 262144);
    assert_int_equal (p.max_recv_dsl_target, 65536);
    assert_int_equal (p.max_burst, 1048576);
    assert_int_equal (p.first_burst, 65536);
    assert_int_equal (p.default_time2wait, 2);
    assert_int_equal (p.default_time2retain, 0);
    assert_int_equal (p.max_outstanding_r2t, 1);
    assert_true (p.data_pdu_in_order);
    assert_true (p.data_sequence_in_order);
    assert_int_equal (p.erl, 0);
    assert_int_equal (p.task_reporting, UIS_NEG_TASKREP_RFC3720);
    assert_int_equal (p.protocol_level, 1);
    assert_false (p.has_tpgt);
    assert_string_equal (p.target_alias, "");
    assert_int_equal (p.corrected, 0);
    uis_text_destroy (&reply);
    uis_text_destroy (&out);
    uis_negotiate_destroy (&n);
}

/* B7: NotUnderstood / Irrelevant / Reject: continue with the default. */
static void
test_b7_default_on_refusal (void **state)
{
    (void)state;
    uis_negotiate_t *n = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
    assert_int_equal (uis_negotiate_set (n, "DataDigest", "CRC32C,None"), 0);
    assert_int_equal (uis_negotiate_set (n, "ErrorRecoveryLevel", "2"), 0);
    uis_text_t *out = uis_text_new ();
    assert_int_equal (uis_negotiate_offer (n, UIS_NEG_STAGE_OPERATIONAL, out), 0);
    uis_text_t *reply = uis_text_new ();
    assert_int_equal (PROCESS (n,
                               "DataDigest=NotUnderstood\0MaxBurstLength=Reject\0"
                               "ErrorRecoveryLevel=Irrelevant\0ImmediateData=Reject\0"
                               "InitialR2T=NotUnderstood\0",
                               reply),
                      0);
    assert_int_equal (uis_text_size (reply), 0); /* never answer an answer */
    uis_neg_params_t p;
    assert_int_equal (uis_negotiate_result (n, &p), 0);
    assert_false (p.data_digest);            /* default None */
    assert_int_equal (p.max_burst, 262144);  /* default */
    assert_int_equal (p.first_burst, 65536); /* unanswered: min (262144, 65536) */
    assert_int_equal (p.erl, 0);             /* default */
    assert_true (p.immediate_data);          /* default Yes */
    assert_true (p.initial_r2t);             /* default Yes */
    uis_text_destroy (&reply);
    uis_text_destroy (&out);
    uis_negotiate_destroy (&n);
}

/* B7: a key we required fails with NEGOTIATION_REJECT: CRC32C only, and
 * the target answers Reject, None, or nothing at all. */
static void
test_b7_required_digest (void **state)
{
    (void)state;
    static const struct {
        const char *seg;
        size_t len;
        int expect_process;
        int expect_result;
    } cases[] = {
        {"HeaderDigest=Reject\0", 20, UIS_ERR_NEGOTIATION_REJECT, 0},
        {"HeaderDigest=NotUnderstood\0", 27, UIS_ERR_NEGOTIATION_REJECT, 0},
        {"HeaderDigest=None\0", 18, UIS_ERR_NEGOTIATION_REJECT, 0},
        {"HeaderDigest=MD5\0", 17, UIS_ERR_NEGOTIATION_REJECT, 0},
        {"HeaderDigest=CRC32C,None\0", 25, UIS_ERR_NEGOTIATION_REJECT, 0},
        {"", 0, 0, UIS_ERR_NEGOTIATION_REJECT},
        {"HeaderDigest=CRC32C\0", 20, 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uis_negotiate_t *n = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
        assert_int_equal (uis_negotiate_set (n, "HeaderDigest", "CRC32C"), 0);
        uis_text_t *out = uis_text_new ();
        assert_int_equal (uis_negotiate_offer (n, UIS_NEG_STAGE_OPERATIONAL, out), 0);
        uis_text_t *reply = uis_text_new ();
        assert_int_equal (
            s_process (n, UIS_NEG_STAGE_OPERATIONAL, cases[i].seg, cases[i].len, reply),
            cases[i].expect_process);
        if (cases[i].expect_process) {
            assert_string_equal (uis_negotiate_error_key (n), "HeaderDigest");
        }
        else {
            uis_neg_params_t p;
            assert_int_equal (uis_negotiate_result (n, &p), cases[i].expect_result);
            if (cases[i].expect_result == 0)
                assert_true (p.header_digest);
            else
                assert_string_equal (uis_negotiate_error_key (n), "HeaderDigest");
        }
        uis_text_destroy (&reply);
        uis_text_destroy (&out);
        uis_negotiate_destroy (&n);
    }
}

/* B8: keys we never proposed: informational ones recorded, negotiable ones
 * answered with a computed value, unknown and vendor keys NotUnderstood,
 * obsolete marker keys Reject, initiator-only and security keys left. */
static void
test_b8_unsolicited_keys (void **state)
{
    (void)state;
    uis_negotiate_t *n = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
    uis_negotiate_expect_tpgt (n, 7);
    uis_text_t *reply = uis_text_new ();
    /* Security stage response (before our operational offer). */
    assert_int_equal (PROCESS_IN (n, UIS_NEG_STAGE_SECURITY,
                                  "TargetPortalGroupTag=7\0TargetAlias=Store One\0"
                                  "AuthMethod=None\0",
                                  reply),
                      0);
    assert_int_equal (uis_text_size (reply), 0);
    uis_text_t *out = uis_text_new ();
    assert_int_equal (uis_negotiate_offer (n, UIS_NEG_STAGE_OPERATIONAL, out), 0);
    assert_int_equal (PROCESS (n,
                               "X-com.example.feature=on\0iSCSIProtocolLevel=2\0"
                               "TaskReporting=FastAbort,RFC3720\0IFMarker=No\0"
                               "OFMarkInt=2048~8192\0FooBar=1\0InitiatorName=iqn.x\0"
                               "CHAP_A=5\0X#NodeArchitecture=tgt\0"
                               "TargetAddress=10.0.0.1:3260,7\0ErrorRecoveryLevel=1\0"
                               "Z#org.example.k=1\0",
                               reply),
                      0);
    ASSERT_ENCODED (reply, "X-com.example.feature=NotUnderstood\0iSCSIProtocolLevel=1\0"
                           "TaskReporting=RFC3720\0IFMarker=Reject\0OFMarkInt=Reject\0"
                           "FooBar=NotUnderstood\0Z#org.example.k=NotUnderstood\0");
    uis_neg_params_t p;
    assert_int_equal (uis_negotiate_result (n, &p), 0);
    assert_true (p.has_tpgt);
    assert_int_equal (p.tpgt, 7);
    assert_string_equal (p.target_alias, "Store One");
    assert_int_equal (p.protocol_level, 1);
    assert_int_equal (p.task_reporting, UIS_NEG_TASKREP_RFC3720);
    assert_int_equal (p.erl, 0); /* answer to our ErrorRecoveryLevel=0 */
    /* B3: more target keys in a later round are answered too. */
    uis_text_clear (reply);
    assert_int_equal (PROCESS (n, "MaxConnections=4\0", reply), 0);
    assert_int_equal (uis_text_size (reply), 0); /* we offered 1: an answer */
    uis_text_destroy (&out);
    uis_text_destroy (&reply);
    uis_negotiate_destroy (&n);
}

/* B8: target offers of negotiable keys we did not offer; TPGT mismatch. */
static void
test_b8_target_offers (void **state)
{
    (void)state;
    uis_negotiate_t *n = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
    assert_int_equal (uis_negotiate_set (n, "DataDigest", "CRC32C,None"), 0);
    uis_text_t *reply = uis_text_new ();
    /* The target offers first (nothing offered by us yet). */
    assert_int_equal (PROCESS (n,
                               "DataDigest=None,CRC32C\0HeaderDigest=CRC32C\0"
                               "MaxBurstLength=65536\0DefaultTime2Wait=10\0"
                               "ImmediateData=No\0InitialR2T=No\0ErrorRecoveryLevel=2\0"
                               "MaxOutstandingR2T=99999\0",
                               reply),
                      0);
    /* DataDigest: the first of the target's list that we accept; HeaderDigest:
     * we accept only None (our proposal): Reject, default None. */
    ASSERT_ENCODED (reply, "DataDigest=None\0HeaderDigest=Reject\0MaxBurstLength=65536\0"
                           "DefaultTime2Wait=10\0ImmediateData=No\0InitialR2T=No\0"
                           "ErrorRecoveryLevel=0\0MaxOutstandingR2T=Reject\0");
    /* Our offer now skips the keys already settled. */
    uis_text_t *out = uis_text_new ();
    assert_int_equal (uis_negotiate_offer (n, UIS_NEG_STAGE_OPERATIONAL, out), 0);
    assert_null (uis_text_find (out, "DataDigest"));
    assert_null (uis_text_find (out, "MaxBurstLength"));
    assert_string_equal (uis_text_find (out, "MaxRecvDataSegmentLength"), "262144");
    uis_neg_params_t p;
    assert_int_equal (uis_negotiate_result (n, &p), 0);
    assert_false (p.data_digest);
    assert_false (p.header_digest);
    assert_int_equal (p.max_burst, 65536);
    assert_int_equal (p.first_burst, 65536); /* FirstBurst clamped (unanswered) */
    assert_int_equal (p.default_time2wait, 10);
    assert_false (p.immediate_data);
    assert_false (p.initial_r2t);
    assert_int_equal (p.erl, 0);
    assert_int_equal (p.max_outstanding_r2t, 1);
    uis_text_destroy (&out);
    uis_negotiate_destroy (&n);

    /* TPGT checked against discovery. */
    n = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
    uis_negotiate_expect_tpgt (n, 1);
    uis_text_clear (reply);
    assert_int_equal (PROCESS (n, "TargetPortalGroupTag=2\0", reply),
                      UIS_ERR_NEGOTIATION);
    assert_string_equal (uis_negotiate_error_key (n), "TargetPortalGroupTag");
    uis_negotiate_destroy (&n);
    n = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
    assert_int_equal (PROCESS (n, "TargetPortalGroupTag=65536\0", reply),
                      UIS_ERR_NEGOTIATION);
    uis_negotiate_destroy (&n);
    uis_text_destroy (&reply);
}

/* B9: numerical results. */
static void
test_b9_numbers (void **state)
{
    (void)state;
    uis_negotiate_t *n = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
    uis_text_t *out = uis_text_new ();
    uis_text_t *reply = uis_text_new ();
    assert_int_equal (uis_negotiate_offer (n, UIS_NEG_STAGE_OPERATIONAL, out), 0);
    /* The target lowers MaxBurstLength below our FirstBurstLength. */
    assert_int_equal (
        PROCESS (n, "MaxBurstLength=65536\0FirstBurstLength=262144\0", reply), 0);
    uis_neg_params_t p;
    assert_int_equal (uis_negotiate_result (n, &p), 0);
    assert_int_equal (p.max_burst, 65536);
    assert_int_equal (p.first_burst, 65536);
    uis_negotiate_destroy (&n);

    /* Out of the §13 range: rejected. */
    static const char *const bad[] = {"MaxBurstLength=100",
                                      "MaxBurstLength=16777216",
                                      "MaxBurstLength=0x1000000000000000000",
                                      "ErrorRecoveryLevel=3",
                                      "DefaultTime2Wait=3601",
                                      "MaxOutstandingR2T=0",
                                      "ImmediateData=Maybe",
                                      "MaxRecvDataSegmentLength=511"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        n = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
        uis_text_clear (out);
        assert_int_equal (uis_negotiate_offer (n, UIS_NEG_STAGE_OPERATIONAL, out), 0);
        assert_int_equal (
            s_process (n, UIS_NEG_STAGE_OPERATIONAL, bad[i], strlen (bad[i]) + 1, reply),
            UIS_ERR_NEGOTIATION);
        uis_negotiate_destroy (&n);
    }

    /* Inside the range but not admissible for the function: clamped and
     * counted, or an error in strict mode. */
    n = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
    assert_int_equal (uis_negotiate_set (n, "MaxBurstLength", "131072"), 0);
    assert_int_equal (uis_negotiate_set (n, "ImmediateData", "No"), 0);
    assert_int_equal (uis_negotiate_set (n, "DefaultTime2Wait", "5"), 0);
    uis_text_clear (out);
    assert_int_equal (uis_negotiate_offer (n, UIS_NEG_STAGE_OPERATIONAL, out), 0);
    assert_int_equal (PROCESS (n,
                               "MaxBurstLength=262144\0ImmediateData=Yes\0"
                               "DefaultTime2Wait=1\0InitialR2T=Yes\0DataPDUInOrder=No\0",
                               reply),
                      0);
    assert_int_equal (uis_negotiate_result (n, &p), 0);
    assert_int_equal (p.max_burst, 131072);    /* min (131072, 262144) */
    assert_false (p.immediate_data);           /* No AND Yes */
    assert_int_equal (p.default_time2wait, 5); /* max (5, 1) */
    assert_true (p.initial_r2t);               /* No OR Yes = Yes: admissible */
    assert_true (p.data_pdu_in_order);         /* Yes OR No = Yes: corrected */
    assert_int_equal (p.corrected, 4);
    uis_negotiate_destroy (&n);

    n = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
    uis_negotiate_set_strict (n, true);
    assert_int_equal (uis_negotiate_set (n, "MaxBurstLength", "131072"), 0);
    uis_text_clear (out);
    assert_int_equal (uis_negotiate_offer (n, UIS_NEG_STAGE_OPERATIONAL, out), 0);
    assert_int_equal (PROCESS (n, "MaxBurstLength=262144\0", reply), UIS_ERR_NEGOTIATION);
    uis_negotiate_destroy (&n);

    /* A required numerical key whose result differs fails. */
    n = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
    assert_int_equal (uis_negotiate_set (n, "ErrorRecoveryLevel", "1"), 0);
    assert_int_equal (uis_negotiate_require (n, "ErrorRecoveryLevel"), 0);
    assert_int_equal (uis_negotiate_require (n, "Bogus"), UIS_ERR_NEG_UNKNOWN_KEY);
    uis_text_clear (out);
    assert_int_equal (uis_negotiate_offer (n, UIS_NEG_STAGE_OPERATIONAL, out), 0);
    assert_int_equal (PROCESS (n, "ErrorRecoveryLevel=0\0", reply),
                      UIS_ERR_NEGOTIATION_REJECT);
    uis_negotiate_destroy (&n);
    uis_text_destroy (&reply);
    uis_text_destroy (&out);
}

/* Lists: the answer must be one value we offered. */
static void
test_list_answers (void **state)
{
    (void)state;
    static const struct {
        const char *answer;
        int rc;
        bool crc;
    } cases[] = {
        {"DataDigest=CRC32C", 0, true},
        {"DataDigest=None", 0, false},
        {"DataDigest=MD5", UIS_ERR_NEGOTIATION_REJECT, false},
        {"DataDigest=CRC32C,None", UIS_ERR_NEGOTIATION_REJECT, false},
        {"DataDigest=", UIS_ERR_NEGOTIATION_REJECT, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uis_negotiate_t *n = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
        assert_int_equal (uis_negotiate_set (n, "DataDigest", "CRC32C,None"), 0);
        uis_text_t *out = uis_text_new ();
        uis_text_t *reply = uis_text_new ();
        assert_int_equal (uis_negotiate_offer (n, UIS_NEG_STAGE_OPERATIONAL, out), 0);
        assert_int_equal (s_process (n, UIS_NEG_STAGE_OPERATIONAL, cases[i].answer,
                                     strlen (cases[i].answer) + 1, reply),
                          cases[i].rc);
        if (cases[i].rc == 0) {
            uis_neg_params_t p;
            assert_int_equal (uis_negotiate_result (n, &p), 0);
            assert_int_equal (p.data_digest, cases[i].crc);
        }
        uis_text_destroy (&reply);
        uis_text_destroy (&out);
        uis_negotiate_destroy (&n);
    }
}

/* B10: MaxRecvDataSegmentLength per direction. */
static void
test_b10_mrdsl_directions (void **state)
{
    (void)state;
    uis_negotiate_t *n = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
    uis_text_t *out = uis_text_new ();
    uis_text_t *reply = uis_text_new ();
    assert_int_equal (uis_negotiate_peer_mrdsl (n), 8192);
    assert_int_equal (uis_negotiate_offer (n, UIS_NEG_STAGE_OPERATIONAL, out), 0);
    assert_string_equal (uis_text_find (out, "MaxRecvDataSegmentLength"), "262144");
    assert_int_equal (PROCESS (n, "MaxRecvDataSegmentLength=8192\0", reply), 0);
    assert_int_equal (uis_text_size (reply), 0);
    assert_int_equal (uis_negotiate_peer_mrdsl (n), 8192);
    uis_neg_params_t p;
    assert_int_equal (uis_negotiate_result (n, &p), 0);
    assert_int_equal (p.max_recv_dsl_initiator, 262144);
    assert_int_equal (p.max_recv_dsl_target, 8192);
    uis_negotiate_destroy (&n);

    /* The target declares a larger value than ours: each side keeps its own. */
    n = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
    assert_int_equal (uis_negotiate_set (n, "MaxRecvDataSegmentLength", "8192"), 0);
    uis_text_clear (out);
    assert_int_equal (uis_negotiate_offer (n, UIS_NEG_STAGE_OPERATIONAL, out), 0);
    assert_int_equal (PROCESS (n, "MaxRecvDataSegmentLength=1048576\0", reply), 0);
    assert_int_equal (uis_negotiate_result (n, &p), 0);
    assert_int_equal (p.max_recv_dsl_initiator, 8192);
    assert_int_equal (p.max_recv_dsl_target, 1048576);
    uis_negotiate_destroy (&n);

    /* The target omits it (tgt): 8192 for the target's direction. */
    n = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
    uis_text_clear (out);
    assert_int_equal (uis_negotiate_offer (n, UIS_NEG_STAGE_OPERATIONAL, out), 0);
    assert_int_equal (PROCESS (n, "HeaderDigest=None\0", reply), 0);
    assert_int_equal (uis_negotiate_result (n, &p), 0);
    assert_int_equal (p.max_recv_dsl_initiator, 262144);
    assert_int_equal (p.max_recv_dsl_target, 8192);
    /* Declared twice in one login: re-declaration. */
    assert_int_equal (PROCESS (n, "MaxRecvDataSegmentLength=4096\0", reply), 0);
    assert_int_equal (PROCESS (n, "MaxRecvDataSegmentLength=4096\0", reply),
                      UIS_ERR_TEXT_DUP_KEY);
    uis_negotiate_destroy (&n);
    uis_text_destroy (&reply);
    uis_text_destroy (&out);
}

/* B2: no operational stage at all: RFC defaults in both directions. */
static void
test_b2_defaults (void **state)
{
    (void)state;
    uis_negotiate_t *n = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
    uis_neg_params_t p, d;
    assert_int_equal (uis_negotiate_result (n, &p), 0);
    uis_neg_params_defaults (&d, false);
    assert_memory_equal (&p, &d, sizeof p);
    assert_int_equal (p.max_recv_dsl_initiator, 8192);
    assert_int_equal (p.max_recv_dsl_target, 8192);
    assert_int_equal (p.max_burst, 262144);
    assert_int_equal (p.first_burst, 65536);
    assert_true (p.initial_r2t);
    assert_true (p.immediate_data);
    assert_false (p.header_digest);
    assert_int_equal (p.default_time2retain, 20);
    uis_negotiate_destroy (&n);
}

/* Offered keys the target never answered: function (offer, RFC default). */
static void
test_unanswered_keys (void **state)
{
    (void)state;
    uis_negotiate_t *n = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
    assert_int_equal (uis_negotiate_set (n, "ImmediateData", "No"), 0);
    assert_int_equal (uis_negotiate_set (n, "DefaultTime2Wait", "7"), 0);
    assert_int_equal (uis_negotiate_set (n, "DefaultTime2Retain", "5"), 0);
    uis_text_t *out = uis_text_new ();
    assert_int_equal (uis_negotiate_offer (n, UIS_NEG_STAGE_OPERATIONAL, out), 0);
    assert_true (uis_negotiate_pending (n));
    uis_neg_params_t p;
    assert_int_equal (uis_negotiate_result (n, &p), 0);
    assert_false (p.immediate_data);             /* AND (No, default Yes) */
    assert_true (p.initial_r2t);                 /* OR (No, default Yes) */
    assert_int_equal (p.default_time2wait, 7);   /* MAX (7, 2) */
    assert_int_equal (p.default_time2retain, 5); /* MIN (5, 20) */
    assert_int_equal (p.max_burst, 262144);      /* MIN (16776192, 262144) */
    assert_int_equal (p.first_burst, 65536);     /* MIN (262144, 65536) */
    assert_int_equal (p.max_recv_dsl_target, 8192);
    uis_negotiate_destroy (&n);
    uis_text_destroy (&out);
}

/* Discovery sessions: only the keys allowed there (B17). */
static void
test_discovery (void **state)
{
    (void)state;
    uis_negotiate_t *n = uis_negotiate_new (UIS_NEG_SESSION_DISCOVERY);
    assert_int_equal (uis_negotiate_set (n, "MaxBurstLength", "65536"),
                      UIS_ERR_NEG_KEY_NOT_ALLOWED);
    assert_int_equal (uis_negotiate_set (n, "MaxConnections", "2"),
                      UIS_ERR_NEG_KEY_NOT_ALLOWED);
    assert_int_equal (uis_negotiate_set (n, "MaxRecvDataSegmentLength", "32768"), 0);
    uis_text_t *out = uis_text_new ();
    assert_int_equal (uis_negotiate_offer (n, UIS_NEG_STAGE_OPERATIONAL, out), 0);
    ASSERT_ENCODED (out, "HeaderDigest=None\0DataDigest=None\0"
                         "MaxRecvDataSegmentLength=32768\0DefaultTime2Wait=2\0"
                         "DefaultTime2Retain=20\0ErrorRecoveryLevel=0\0");
    uis_text_t *reply = uis_text_new ();
    assert_int_equal (PROCESS (n,
                               "HeaderDigest=None\0MaxBurstLength=262144\0"
                               "InitialR2T=Irrelevant\0DefaultTime2Retain=0\0",
                               reply),
                      0);
    ASSERT_ENCODED (reply, "MaxBurstLength=Irrelevant\0");
    uis_neg_params_t p;
    assert_int_equal (uis_negotiate_result (n, &p), 0);
    assert_true (p.discovery);
    assert_int_equal (p.default_time2retain, 0);
    assert_int_equal (p.max_recv_dsl_initiator, 32768);
    uis_text_t *r = uis_text_new ();
    assert_int_equal (uis_neg_params_render (&p, r), 0);
    ASSERT_ENCODED (r, "HeaderDigest=None\0DataDigest=None\0"
                       "MaxRecvDataSegmentLength=32768\0MaxXmitDataSegmentLength=8192\0"
                       "ErrorRecoveryLevel=0\0DefaultTime2Wait=2\0DefaultTime2Retain=0\0"
                       "SessionType=Discovery\0");
    uis_text_destroy (&r);
    uis_text_destroy (&reply);
    uis_text_destroy (&out);
    uis_negotiate_destroy (&n);
}

/* K5: full feature phase renegotiation offers only MRDSL; LO keys from the
 * target are rejected there. */
static void
test_ffp_renegotiation (void **state)
{
    (void)state;
    uis_negotiate_t *n = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
    uis_text_t *out = uis_text_new ();
    uis_text_t *reply = uis_text_new ();
    assert_int_equal (uis_negotiate_offer (n, UIS_NEG_STAGE_OPERATIONAL, out), 0);
    assert_int_equal (PROCESS (n, "MaxRecvDataSegmentLength=8192\0", reply), 0);
    assert_int_equal (uis_negotiate_set (n, "MaxRecvDataSegmentLength", "131072"), 0);
    uis_text_clear (out);
    assert_int_equal (uis_negotiate_offer (n, UIS_NEG_STAGE_FFP, out), 0);
    ASSERT_ENCODED (out, "MaxRecvDataSegmentLength=131072\0");
    assert_int_equal (PROCESS_IN (n, UIS_NEG_STAGE_FFP,
                                  "MaxRecvDataSegmentLength=16384\0InitialR2T=No\0",
                                  reply),
                      0);
    ASSERT_ENCODED (reply, "InitialR2T=Reject\0");
    uis_neg_params_t p;
    assert_int_equal (uis_negotiate_result (n, &p), 0);
    assert_int_equal (p.max_recv_dsl_initiator, 131072);
    assert_int_equal (p.max_recv_dsl_target, 16384);
    uis_text_destroy (&reply);
    uis_text_destroy (&out);
    uis_negotiate_destroy (&n);
}

/* Re-declaration of a key during login is detected (§6.2). */
static void
test_redeclaration (void **state)
{
    (void)state;
    uis_negotiate_t *n = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
    uis_text_t *reply = uis_text_new ();
    assert_int_equal (PROCESS (n, "TargetAlias=a\0TargetAddress=h:1,1\0", reply), 0);
    assert_int_equal (PROCESS (n, "TargetAddress=h:2,1\0", reply), 0);
    assert_int_equal (PROCESS (n, "TargetAlias=b\0", reply), UIS_ERR_TEXT_DUP_KEY);
    assert_string_equal (uis_negotiate_error_key (n), "TargetAlias");
    uis_negotiate_destroy (&n);
    n = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
    assert_int_equal (PROCESS (n, "ErrorRecoveryLevel=0\0", reply), 0);
    assert_int_equal (PROCESS (n, "ErrorRecoveryLevel=0\0", reply), UIS_ERR_TEXT_DUP_KEY);
    uis_negotiate_destroy (&n);
    uis_text_destroy (&reply);
}

/* The result rendered as RFC key/value pairs for the RPC. */
static void
test_render (void **state)
{
    (void)state;
    uis_neg_params_t p;
    uis_neg_params_defaults (&p, false);
    p.header_digest = true;
    p.max_recv_dsl_initiator = 262144;
    p.max_burst = 1048576;
    p.immediate_data = false;
    p.task_reporting = UIS_NEG_TASKREP_FAST_ABORT;
    p.has_tpgt = true;
    p.tpgt = 1;
    snprintf (p.target_alias, sizeof p.target_alias, "%s", "disk1");
    uis_text_t *r = uis_text_new ();
    assert_int_equal (uis_neg_params_render (&p, r), 0);
    ASSERT_ENCODED (r,
                    "HeaderDigest=CRC32C\0DataDigest=None\0"
                    "MaxRecvDataSegmentLength=262144\0MaxXmitDataSegmentLength=8192\0"
                    "MaxBurstLength=1048576\0FirstBurstLength=65536\0InitialR2T=Yes\0"
                    "ImmediateData=No\0MaxOutstandingR2T=1\0DataPDUInOrder=Yes\0"
                    "DataSequenceInOrder=Yes\0MaxConnections=1\0TaskReporting=FastAbort\0"
                    "iSCSIProtocolLevel=1\0ErrorRecoveryLevel=0\0DefaultTime2Wait=2\0"
                    "DefaultTime2Retain=20\0SessionType=Normal\0TargetAlias=disk1\0"
                    "TargetPortalGroupTag=1\0");
    uis_text_destroy (&r);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_table),
        cmocka_unit_test (test_parse_number),
        cmocka_unit_test (test_default_offer),
        cmocka_unit_test (test_overrides_b11),
        cmocka_unit_test (test_override_errors),
        cmocka_unit_test (test_plain_answers),
        cmocka_unit_test (test_b7_default_on_refusal),
        cmocka_unit_test (test_b7_required_digest),
        cmocka_unit_test (test_b8_unsolicited_keys),
        cmocka_unit_test (test_b8_target_offers),
        cmocka_unit_test (test_b9_numbers),
        cmocka_unit_test (test_list_answers),
        cmocka_unit_test (test_b10_mrdsl_directions),
        cmocka_unit_test (test_b2_defaults),
        cmocka_unit_test (test_unanswered_keys),
        cmocka_unit_test (test_discovery),
        cmocka_unit_test (test_ffp_renegotiation),
        cmocka_unit_test (test_redeclaration),
        cmocka_unit_test (test_render),
    };
    return cmocka_run_group_tests_name ("negotiate", tests, NULL, NULL);
}
