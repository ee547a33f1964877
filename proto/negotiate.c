/* negotiate.c: the RFC 7143 key table and the initiator's negotiation
 * context (§6.2 text negotiation, §6.3 login stages, §13 keys). See
 * negotiate.h for the decisions. */
#include "negotiate.h"

#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include "errors.h"

/* Row indices, in table order. */
enum {
    K_AUTH_METHOD,
    K_CHAP_A,
    K_CHAP_I,
    K_CHAP_C,
    K_CHAP_N,
    K_CHAP_R,
    K_SRP,
    K_KRB,
    K_SPKM,
    K_HEADER_DIGEST,
    K_DATA_DIGEST,
    K_MAX_CONNECTIONS,
    K_SEND_TARGETS,
    K_TARGET_NAME,
    K_INITIATOR_NAME,
    K_TARGET_ALIAS,
    K_INITIATOR_ALIAS,
    K_TARGET_ADDRESS,
    K_TPGT,
    K_INITIAL_R2T,
    K_IMMEDIATE_DATA,
    K_MRDSL,
    K_MAX_BURST,
    K_FIRST_BURST,
    K_TIME2WAIT,
    K_TIME2RETAIN,
    K_MAX_OUTSTANDING_R2T,
    K_DATA_PDU_IN_ORDER,
    K_DATA_SEQ_IN_ORDER,
    K_ERL,
    K_SESSION_TYPE,
    K_TASK_REPORTING,
    K_PROTOCOL_LEVEL,
    K_NODE_ARCH,
    K_IFMARKER,
    K_OFMARKER,
    K_OFMARKINT,
    K_IFMARKINT,
    K_VENDOR,
    K_COUNT
};

#define MAX24 16777215u /* 2^24 - 1 */
#define I     UIS_NEG_BY_INITIATOR
#define T     UIS_NEG_BY_TARGET
#define IT    (UIS_NEG_BY_INITIATOR | UIS_NEG_BY_TARGET)
#define OP    UIS_NEG_F_OPERATIONAL
#define IRR   UIS_NEG_F_IRRELEVANT_DISCOVERY
#define SEC   UIS_NEG_F_SECURITY
#define INFO  UIS_NEG_F_INFORMATIONAL

/* The one key table. "Use", "Senders", "Scope", defaults, ranges and result
 * functions are those of each key's section in RFC 7143 (§12 for the
 * security keys, §13 for the others). The proposal column holds OUR default
 * offer: large PDUs and bursts as open-iscsi offers them, no digests,
 * InitialR2T=No and ImmediateData=Yes (the target may force both back with
 * the OR/AND functions), ERL 0. */
static const uis_neg_key_t s_keys[K_COUNT] = {
    [K_AUTH_METHOD] = {"AuthMethod", "12", UIS_NEG_KIND_LIST, UIS_NEG_TYPE_LIST,
                       UIS_NEG_USE_SECURITY, UIS_NEG_SCOPE_CO, IT, SEC, "None", 0, 0,
                       "None,CHAP,SRP,KRB5,SPKM1,SPKM2", NULL},
    [K_CHAP_A] = {"CHAP_A", "12.1.3", UIS_NEG_KIND_LIST, UIS_NEG_TYPE_TEXT,
                  UIS_NEG_USE_SECURITY, UIS_NEG_SCOPE_CO, IT, SEC, NULL, 0, 0, NULL,
                  NULL},
    [K_CHAP_I] = {"CHAP_I", "12.1.3", UIS_NEG_KIND_DECLARATIVE, UIS_NEG_TYPE_NUMBER,
                  UIS_NEG_USE_SECURITY, UIS_NEG_SCOPE_CO, IT, SEC, NULL, 0, 255, NULL,
                  NULL},
    [K_CHAP_C] = {"CHAP_C", "12.1.3", UIS_NEG_KIND_DECLARATIVE, UIS_NEG_TYPE_TEXT,
                  UIS_NEG_USE_SECURITY, UIS_NEG_SCOPE_CO, IT, SEC, NULL, 0, 0, NULL,
                  NULL},
    [K_CHAP_N] = {"CHAP_N", "12.1.3", UIS_NEG_KIND_DECLARATIVE, UIS_NEG_TYPE_TEXT,
                  UIS_NEG_USE_SECURITY, UIS_NEG_SCOPE_CO, IT, SEC, NULL, 0, 0, NULL,
                  NULL},
    [K_CHAP_R] = {"CHAP_R", "12.1.3", UIS_NEG_KIND_DECLARATIVE, UIS_NEG_TYPE_TEXT,
                  UIS_NEG_USE_SECURITY, UIS_NEG_SCOPE_CO, IT, SEC, NULL, 0, 0, NULL,
                  NULL},
    [K_SRP] = {"SRP_", "12.1.2", UIS_NEG_KIND_DECLARATIVE, UIS_NEG_TYPE_TEXT,
               UIS_NEG_USE_SECURITY, UIS_NEG_SCOPE_CO, IT, SEC | UIS_NEG_F_PREFIX, NULL,
               0, 0, NULL, NULL},
    [K_KRB] = {"KRB_", "12.1.1", UIS_NEG_KIND_DECLARATIVE, UIS_NEG_TYPE_TEXT,
               UIS_NEG_USE_SECURITY, UIS_NEG_SCOPE_CO, IT, SEC | UIS_NEG_F_PREFIX, NULL,
               0, 0, NULL, NULL},
    [K_SPKM] = {"SPKM_", "12.1.1", UIS_NEG_KIND_DECLARATIVE, UIS_NEG_TYPE_TEXT,
                UIS_NEG_USE_SECURITY, UIS_NEG_SCOPE_CO, IT, SEC | UIS_NEG_F_PREFIX, NULL,
                0, 0, NULL, NULL},
    [K_HEADER_DIGEST] = {"HeaderDigest", "13.1", UIS_NEG_KIND_LIST, UIS_NEG_TYPE_LIST,
                         UIS_NEG_USE_IO, UIS_NEG_SCOPE_CO, IT, OP, "None", 0, 0,
                         "CRC32C,None", "None"},
    [K_DATA_DIGEST] = {"DataDigest", "13.1", UIS_NEG_KIND_LIST, UIS_NEG_TYPE_LIST,
                       UIS_NEG_USE_IO, UIS_NEG_SCOPE_CO, IT, OP, "None", 0, 0,
                       "CRC32C,None", "None"},
    [K_MAX_CONNECTIONS] = {"MaxConnections", "13.2", UIS_NEG_KIND_MIN,
                           UIS_NEG_TYPE_NUMBER, UIS_NEG_USE_LO, UIS_NEG_SCOPE_SW, IT,
                           OP | IRR, "1", 1, 65535, NULL, "1"},
    [K_SEND_TARGETS] = {"SendTargets", "13.3", UIS_NEG_KIND_DECLARATIVE,
                        UIS_NEG_TYPE_TEXT, UIS_NEG_USE_FFPO, UIS_NEG_SCOPE_SW, I, 0, NULL,
                        0, 0, NULL, NULL},
    [K_TARGET_NAME] = {"TargetName", "13.4", UIS_NEG_KIND_DECLARATIVE, UIS_NEG_TYPE_TEXT,
                       UIS_NEG_USE_IO | UIS_NEG_USE_FFPO, UIS_NEG_SCOPE_SW, IT,
                       UIS_NEG_F_REPEATABLE, NULL, 0, 0, NULL, NULL},
    [K_INITIATOR_NAME] = {"InitiatorName", "13.5", UIS_NEG_KIND_DECLARATIVE,
                          UIS_NEG_TYPE_TEXT, UIS_NEG_USE_IO, UIS_NEG_SCOPE_SW, I, 0, NULL,
                          0, 0, NULL, NULL},
    [K_TARGET_ALIAS] = {"TargetAlias", "13.6", UIS_NEG_KIND_DECLARATIVE,
                        UIS_NEG_TYPE_TEXT, UIS_NEG_USE_ALL, UIS_NEG_SCOPE_SW, T, INFO,
                        NULL, 0, 0, NULL, NULL},
    [K_INITIATOR_ALIAS] = {"InitiatorAlias", "13.7", UIS_NEG_KIND_DECLARATIVE,
                           UIS_NEG_TYPE_TEXT, UIS_NEG_USE_ALL, UIS_NEG_SCOPE_SW, I, 0,
                           NULL, 0, 0, NULL, NULL},
    [K_TARGET_ADDRESS] = {"TargetAddress", "13.8", UIS_NEG_KIND_DECLARATIVE,
                          UIS_NEG_TYPE_TEXT, UIS_NEG_USE_ALL, UIS_NEG_SCOPE_SW, T,
                          INFO | UIS_NEG_F_REPEATABLE, NULL, 0, 0, NULL, NULL},
    [K_TPGT] = {"TargetPortalGroupTag", "13.9", UIS_NEG_KIND_DECLARATIVE,
                UIS_NEG_TYPE_NUMBER, UIS_NEG_USE_IO, UIS_NEG_SCOPE_SW, T, INFO, NULL, 0,
                65535, NULL, NULL},
    [K_INITIAL_R2T] = {"InitialR2T", "13.10", UIS_NEG_KIND_OR, UIS_NEG_TYPE_BOOL,
                       UIS_NEG_USE_LO, UIS_NEG_SCOPE_SW, IT, OP | IRR, "Yes", 0, 1, NULL,
                       "No"},
    [K_IMMEDIATE_DATA] = {"ImmediateData", "13.11", UIS_NEG_KIND_AND, UIS_NEG_TYPE_BOOL,
                          UIS_NEG_USE_LO, UIS_NEG_SCOPE_SW, IT, OP | IRR, "Yes", 0, 1,
                          NULL, "Yes"},
    [K_MRDSL] = {"MaxRecvDataSegmentLength", "13.12", UIS_NEG_KIND_DECLARATIVE,
                 UIS_NEG_TYPE_NUMBER, UIS_NEG_USE_ALL, UIS_NEG_SCOPE_CO, IT, OP, "8192",
                 512, MAX24, NULL, "262144"},
    [K_MAX_BURST] = {"MaxBurstLength", "13.13", UIS_NEG_KIND_MIN, UIS_NEG_TYPE_NUMBER,
                     UIS_NEG_USE_LO, UIS_NEG_SCOPE_SW, IT, OP | IRR, "262144", 512, MAX24,
                     NULL, "16776192"},
    [K_FIRST_BURST] = {"FirstBurstLength", "13.14", UIS_NEG_KIND_MIN, UIS_NEG_TYPE_NUMBER,
                       UIS_NEG_USE_LO, UIS_NEG_SCOPE_SW, IT, OP | IRR, "65536", 512,
                       MAX24, NULL, "262144"},
    [K_TIME2WAIT] = {"DefaultTime2Wait", "13.15", UIS_NEG_KIND_MAX, UIS_NEG_TYPE_NUMBER,
                     UIS_NEG_USE_LO, UIS_NEG_SCOPE_SW, IT, OP, "2", 0, 3600, NULL, "2"},
    [K_TIME2RETAIN] = {"DefaultTime2Retain", "13.16", UIS_NEG_KIND_MIN,
                       UIS_NEG_TYPE_NUMBER, UIS_NEG_USE_LO, UIS_NEG_SCOPE_SW, IT, OP,
                       "20", 0, 3600, NULL, "20"},
    [K_MAX_OUTSTANDING_R2T] = {"MaxOutstandingR2T", "13.17", UIS_NEG_KIND_MIN,
                               UIS_NEG_TYPE_NUMBER, UIS_NEG_USE_LO, UIS_NEG_SCOPE_SW, IT,
                               OP | IRR, "1", 1, 65535, NULL, "1"},
    [K_DATA_PDU_IN_ORDER] = {"DataPDUInOrder", "13.18", UIS_NEG_KIND_OR,
                             UIS_NEG_TYPE_BOOL, UIS_NEG_USE_LO, UIS_NEG_SCOPE_SW, IT,
                             OP | IRR, "Yes", 0, 1, NULL, "Yes"},
    [K_DATA_SEQ_IN_ORDER] = {"DataSequenceInOrder", "13.19", UIS_NEG_KIND_OR,
                             UIS_NEG_TYPE_BOOL, UIS_NEG_USE_LO, UIS_NEG_SCOPE_SW, IT,
                             OP | IRR, "Yes", 0, 1, NULL, "Yes"},
    [K_ERL] = {"ErrorRecoveryLevel", "13.20", UIS_NEG_KIND_MIN, UIS_NEG_TYPE_NUMBER,
               UIS_NEG_USE_LO, UIS_NEG_SCOPE_SW, IT, OP, "0", 0, 2, NULL, "0"},
    [K_SESSION_TYPE] = {"SessionType", "13.21", UIS_NEG_KIND_DECLARATIVE,
                        UIS_NEG_TYPE_LIST, UIS_NEG_USE_LO, UIS_NEG_SCOPE_SW, I, 0,
                        "Normal", 0, 0, "Discovery,Normal", NULL},
    [K_TASK_REPORTING] = {"TaskReporting", "13.23", UIS_NEG_KIND_LIST, UIS_NEG_TYPE_LIST,
                          UIS_NEG_USE_LO, UIS_NEG_SCOPE_SW, IT, OP | IRR, "RFC3720", 0, 0,
                          "RFC3720,ResponseFence,FastAbort", NULL},
    [K_PROTOCOL_LEVEL] = {"iSCSIProtocolLevel", "13.24", UIS_NEG_KIND_MIN,
                          UIS_NEG_TYPE_NUMBER, UIS_NEG_USE_LO, UIS_NEG_SCOPE_SW, IT,
                          OP | IRR, "1", 0, 31, NULL, NULL},
    [K_NODE_ARCH] = {"X#NodeArchitecture", "13.26", UIS_NEG_KIND_DECLARATIVE,
                     UIS_NEG_TYPE_TEXT, UIS_NEG_USE_LO, UIS_NEG_SCOPE_SW, IT, INFO, NULL,
                     0, 0, NULL, NULL},
    [K_IFMARKER] = {"IFMarker", "13.25", UIS_NEG_KIND_AND, UIS_NEG_TYPE_BOOL,
                    UIS_NEG_USE_IO, UIS_NEG_SCOPE_CO, IT, UIS_NEG_F_OBSOLETE, "No", 0, 1,
                    NULL, NULL},
    [K_OFMARKER] = {"OFMarker", "13.25", UIS_NEG_KIND_AND, UIS_NEG_TYPE_BOOL,
                    UIS_NEG_USE_IO, UIS_NEG_SCOPE_CO, IT, UIS_NEG_F_OBSOLETE, "No", 0, 1,
                    NULL, NULL},
    [K_OFMARKINT] = {"OFMarkInt", "13.25", UIS_NEG_KIND_LIST, UIS_NEG_TYPE_TEXT,
                     UIS_NEG_USE_IO, UIS_NEG_SCOPE_CO, IT, UIS_NEG_F_OBSOLETE,
                     "2048~2048", 0, 0, NULL, NULL},
    [K_IFMARKINT] = {"IFMarkInt", "13.25", UIS_NEG_KIND_LIST, UIS_NEG_TYPE_TEXT,
                     UIS_NEG_USE_IO, UIS_NEG_SCOPE_CO, IT, UIS_NEG_F_OBSOLETE,
                     "2048~2048", 0, 0, NULL, NULL},
    [K_VENDOR] = {"X-", "13.22", UIS_NEG_KIND_DECLARATIVE, UIS_NEG_TYPE_TEXT,
                  UIS_NEG_USE_ALL, UIS_NEG_SCOPE_SW, IT,
                  UIS_NEG_F_VENDOR | UIS_NEG_F_PREFIX, NULL, 0, 0, NULL, NULL},
};

#undef I
#undef T
#undef IT
#undef OP
#undef IRR
#undef SEC
#undef INFO

/* Per-key state of a context. Kept pointer-free so that the whole context
 * can be snapshotted with a struct copy (uis_negotiate_set_all). */
typedef struct {
    char proposal[UIS_TEXT_VALUE_MAX + 1]; /* effective offer, "" = none */
    bool required;                         /* operator insists on the proposal */
    bool offered;     /* we sent our proposal in this login/exchange */
    bool answered;    /* the target answered our offer */
    bool target_sent; /* the target sent this key (re-declaration check) */
    bool settled;     /* value holds the negotiated result */
    bool defaulted;   /* answered NotUnderstood / Irrelevant / Reject */
    uint64_t value;   /* result: number, 0/1, or list index */
} s_state_t;

struct uis_negotiate {
    uis_neg_session_t session;
    bool strict;
    bool expect_tpgt_set;
    uint16_t expect_tpgt;
    bool has_tpgt;
    uint16_t tpgt;
    bool peer_mrdsl_declared;
    uint32_t peer_mrdsl;
    uint32_t corrected;
    char alias[UIS_TEXT_VALUE_MAX + 1];
    char error_key[UIS_TEXT_KEY_MAX + 1];
    s_state_t st[K_COUNT];
};

/* ---- table access --------------------------------------------------------- */

size_t
uis_neg_key_count (void)
{
    return K_COUNT;
}

const uis_neg_key_t *
uis_neg_key_at (size_t i)
{
    return i < K_COUNT ? &s_keys[i] : NULL;
}

/* Row index of a key name, or -1. */
static int
s_lookup (const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < K_COUNT; i++)
        if (!(s_keys[i].flags & UIS_NEG_F_PREFIX) && strcmp (s_keys[i].name, name) == 0)
            return i;
    if (strncmp (name, "SRP_", 4) == 0)
        return K_SRP;
    if (strncmp (name, "KRB_", 4) == 0)
        return K_KRB;
    if (strncmp (name, "SPKM_", 5) == 0)
        return K_SPKM;
    /* Extension keys: private (X-), IANA-registered (X#) and the other
     * reserved extension prefixes (Y-, Y#, Z-, Z#) of RFC 7143. None is
     * understood here (answered NotUnderstood) except X#NodeArchitecture,
     * which has its own row. */
    if ((name[0] == 'X' || name[0] == 'Y' || name[0] == 'Z')
        && (name[1] == '-' || name[1] == '#'))
        return K_VENDOR;
    return -1;
}

const uis_neg_key_t *
uis_neg_key_lookup (const char *name)
{
    int k = s_lookup (name);
    return k < 0 ? NULL : &s_keys[k];
}

/* ---- value helpers ------------------------------------------------------- */

int
uis_neg_parse_number (const char *text, uint64_t *value_p)
{
    if (!text || !*text)
        return UIS_ERR_INVALID_ARG;
    uint64_t v = 0;
    const char *p = text;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        /* §6.1 hex-constant */
        p += 2;
        if (!*p)
            return UIS_ERR_INVALID_ARG;
        for (; *p; p++) {
            unsigned d;
            if (*p >= '0' && *p <= '9')
                d = (unsigned)(*p - '0');
            else if (*p >= 'a' && *p <= 'f')
                d = (unsigned)(*p - 'a' + 10);
            else if (*p >= 'A' && *p <= 'F')
                d = (unsigned)(*p - 'A' + 10);
            else
                return UIS_ERR_INVALID_ARG;
            if (v > (UINT64_MAX >> 4))
                return UIS_ERR_INVALID_ARG;
            v = (v << 4) | d;
        }
    }
    else {
        /* §6.1 decimal-constant */
        for (; *p; p++) {
            if (*p < '0' || *p > '9')
                return UIS_ERR_INVALID_ARG;
            unsigned d = (unsigned)(*p - '0');
            if (v > (UINT64_MAX - d) / 10)
                return UIS_ERR_INVALID_ARG;
            v = v * 10 + d;
        }
    }
    *value_p = v;
    return 0;
}

/* Parses "Yes"/"No" (§6.1 boolean-value). */
static int
s_parse_bool (const char *text, bool *value_p)
{
    if (strcmp (text, "Yes") == 0)
        *value_p = true;
    else if (strcmp (text, "No") == 0)
        *value_p = false;
    else
        return UIS_ERR_INVALID_ARG;
    return 0;
}

/* Index of the item (len bytes at item) in the comma-separated list, or -1. */
static int
s_list_index (const char *list, const char *item, size_t len)
{
    int idx = 0;
    const char *p = list;
    while (p && *p) {
        const char *comma = strchr (p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen (p);
        if (n == len && strncmp (p, item, len) == 0)
            return idx;
        idx++;
        p = comma ? comma + 1 : NULL;
    }
    return -1;
}

/* Copies item idx of the comma-separated list into buf (size cap); "" when
 * absent. */
static void
s_list_item (const char *list, int idx, char *buf, size_t cap)
{
    buf[0] = '\0';
    const char *p = list;
    for (int i = 0; p && *p; i++) {
        const char *comma = strchr (p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen (p);
        if (i == idx) {
            if (n >= cap)
                n = cap - 1;
            memcpy (buf, p, n);
            buf[n] = '\0';
            return;
        }
        p = comma ? comma + 1 : NULL;
    }
}

/* True for the reserved answers of §6.2 that carry no value. */
static bool
s_is_reserved (const char *v)
{
    return strcmp (v, "NotUnderstood") == 0 || strcmp (v, "Irrelevant") == 0
           || strcmp (v, "Reject") == 0;
}

/* Validates a proposal for row k and writes its normalized form to out
 * (UIS_TEXT_VALUE_MAX + 1 bytes). 0, UIS_ERR_INVALID_ARG or
 * UIS_ERR_OUT_OF_RANGE. */
static int
s_check_proposal (int k, const char *value, char *out)
{
    const uis_neg_key_t *row = &s_keys[k];
    if (!value || strnlen (value, UIS_TEXT_VALUE_MAX + 1) > UIS_TEXT_VALUE_MAX)
        return UIS_ERR_INVALID_ARG;
    if (row->type == UIS_NEG_TYPE_BOOL) {
        bool b;
        if (s_parse_bool (value, &b))
            return UIS_ERR_INVALID_ARG;
        snprintf (out, UIS_TEXT_VALUE_MAX + 1, "%s", b ? "Yes" : "No");
        return 0;
    }
    if (row->type == UIS_NEG_TYPE_NUMBER) {
        uint64_t v;
        if (uis_neg_parse_number (value, &v))
            return UIS_ERR_INVALID_ARG;
        if (v < row->min || v > row->max)
            return UIS_ERR_OUT_OF_RANGE;
        snprintf (out, UIS_TEXT_VALUE_MAX + 1, "%llu", (unsigned long long)v);
        return 0;
    }
    if (row->type == UIS_NEG_TYPE_LIST) {
        /* A non-empty list of distinct allowed values (§6.2.1). */
        const char *p = value;
        unsigned seen = 0;
        if (!*p)
            return UIS_ERR_INVALID_ARG;
        while (p) {
            const char *comma = strchr (p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen (p);
            int idx = s_list_index (row->values, p, n);
            if (n == 0 || idx < 0 || idx >= 32 || (seen & (1u << idx)))
                return UIS_ERR_INVALID_ARG;
            seen |= 1u << idx;
            p = comma ? comma + 1 : NULL;
        }
        snprintf (out, UIS_TEXT_VALUE_MAX + 1, "%s", value);
        return 0;
    }
    return UIS_ERR_INVALID_ARG;
}

/* Records the key named by a failing call (a bounded copy). */
static void
s_set_error_key (uis_negotiate_t *self, const char *key)
{
    size_t n = key ? strnlen (key, UIS_TEXT_KEY_MAX) : 0;
    if (n)
        memcpy (self->error_key, key, n);
    self->error_key[n] = '\0';
}

/* True when row k may be negotiated in this context's session type. */
static bool
s_allowed (const uis_negotiate_t *self, int k)
{
    return !(self->session == UIS_NEG_SESSION_DISCOVERY
             && (s_keys[k].flags & UIS_NEG_F_IRRELEVANT_DISCOVERY));
}

/* Our value for row k as used in the result functions: the proposal when
 * there is one, else the RFC default. For lists, the acceptable set. */
static const char *
s_ours (const uis_negotiate_t *self, int k)
{
    if (self->st[k].proposal[0])
        return self->st[k].proposal;
    return s_keys[k].rfc_default ? s_keys[k].rfc_default : "";
}

/* Converts a validated scalar proposal / default to a number (bools 0/1). */
static uint64_t
s_scalar (int k, const char *text)
{
    if (s_keys[k].type == UIS_NEG_TYPE_BOOL)
        return strcmp (text, "Yes") == 0;
    uint64_t v = 0;
    if (uis_neg_parse_number (text, &v))
        return 0;
    return v;
}

/* The result function of row k applied to a and b (§6.2.2, §13). */
static uint64_t
s_apply (int k, uint64_t a, uint64_t b)
{
    switch (s_keys[k].kind) {
    case UIS_NEG_KIND_AND:
        return a && b;
    case UIS_NEG_KIND_OR:
        return a || b;
    case UIS_NEG_KIND_MIN:
        return a < b ? a : b;
    case UIS_NEG_KIND_MAX:
        return a > b ? a : b;
    default:
        return b;
    }
}

/* Checks a required key against its settled result. */
static int
s_check_required (const uis_negotiate_t *self, int k, uint64_t result)
{
    if (!self->st[k].required)
        return 0;
    const char *ours = s_ours (self, k);
    if (s_keys[k].type == UIS_NEG_TYPE_LIST) {
        /* For lists the result must be our first choice. */
        const char *comma = strchr (ours, ',');
        size_t n = comma ? (size_t)(comma - ours) : strlen (ours);
        return (int)result == s_list_index (s_keys[k].values, ours, n)
                   ? 0
                   : UIS_ERR_NEGOTIATION_REJECT;
    }
    return result == s_scalar (k, ours) ? 0 : UIS_ERR_NEGOTIATION_REJECT;
}

/* Settles row k at the RFC default (key not negotiated: §6.2 "the default
 * applies"). UIS_ERR_NEGOTIATION_REJECT when we cannot live with it. */
static int
s_settle_default (uis_negotiate_t *self, int k)
{
    const uis_neg_key_t *row = &s_keys[k];
    s_state_t *st = &self->st[k];
    uint64_t v;
    if (row->type == UIS_NEG_TYPE_LIST) {
        const char *d = row->rfc_default;
        int idx = s_list_index (row->values, d, strlen (d));
        /* The default must be among the values we accept. */
        if (s_list_index (s_ours (self, k), d, strlen (d)) < 0)
            return UIS_ERR_NEGOTIATION_REJECT;
        v = (uint64_t)idx;
    }
    else
        v = s_scalar (k, row->rfc_default);
    int rc = s_check_required (self, k, v);
    if (rc)
        return rc;
    st->value = v;
    st->settled = true;
    st->defaulted = true;
    return 0;
}

/* ---- context ------------------------------------------------------------ */

uis_negotiate_t *
uis_negotiate_new (uis_neg_session_t session)
{
    uis_negotiate_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->session = session;
    self->peer_mrdsl = UIS_NEG_LOGIN_DSL;
    for (int k = 0; k < K_COUNT; k++)
        if ((s_keys[k].flags & UIS_NEG_F_OPERATIONAL) && s_keys[k].proposal
            && s_allowed (self, k))
            snprintf (self->st[k].proposal, sizeof self->st[k].proposal, "%s",
                      s_keys[k].proposal);
    return self;
}

void
uis_negotiate_destroy (uis_negotiate_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free (*self_p);
    *self_p = NULL;
}

/* Finds an overridable row for key: index or a negative error (and the
 * error key recorded). */
static int
s_operational_row (uis_negotiate_t *self, const char *key)
{
    int k = s_lookup (key);
    if (k < 0) {
        s_set_error_key (self, key);
        return UIS_ERR_NEG_UNKNOWN_KEY;
    }
    if (!(s_keys[k].flags & UIS_NEG_F_OPERATIONAL) || !s_allowed (self, k)) {
        s_set_error_key (self, key);
        return UIS_ERR_NEG_KEY_NOT_ALLOWED;
    }
    return k;
}

int
uis_negotiate_set (uis_negotiate_t *self, const char *key, const char *value)
{
    int k = s_operational_row (self, key);
    if (k < 0)
        return k;
    char norm[UIS_TEXT_VALUE_MAX + 1];
    int rc = s_check_proposal (k, value, norm);
    if (rc) {
        s_set_error_key (self, key);
        return rc;
    }
    memcpy (self->st[k].proposal, norm, sizeof norm);
    return 0;
}

int
uis_negotiate_set_u64 (uis_negotiate_t *self, const char *key, uint64_t value)
{
    char buf[24];
    snprintf (buf, sizeof buf, "%llu", (unsigned long long)value);
    return uis_negotiate_set (self, key, buf);
}

int
uis_negotiate_set_all (uis_negotiate_t *self, const uis_text_t *overrides)
{
    uis_negotiate_t *saved = malloc (sizeof *saved);
    if (!saved)
        return UIS_ERR_NOMEM;
    *saved = *self;
    int rc = 0;
    for (size_t i = 0; i < uis_text_size (overrides) && rc == 0; i++)
        rc = uis_negotiate_set (self, uis_text_key (overrides, i),
                                uis_text_value (overrides, i));
    if (rc) {
        char key[UIS_TEXT_KEY_MAX + 1];
        memcpy (key, self->error_key, sizeof key);
        *self = *saved;
        memcpy (self->error_key, key, sizeof key);
    }
    free (saved);
    return rc;
}

int
uis_negotiate_require (uis_negotiate_t *self, const char *key)
{
    int k = s_operational_row (self, key);
    if (k < 0)
        return k;
    self->st[k].required = true;
    return 0;
}

void
uis_negotiate_set_strict (uis_negotiate_t *self, bool strict)
{
    self->strict = strict;
}

void
uis_negotiate_expect_tpgt (uis_negotiate_t *self, uint16_t tpgt)
{
    self->expect_tpgt_set = true;
    self->expect_tpgt = tpgt;
}

const char *
uis_negotiate_error_key (const uis_negotiate_t *self)
{
    return self->error_key;
}

const char *
uis_negotiate_proposal (const uis_negotiate_t *self, const char *key)
{
    int k = s_lookup (key);
    if (k < 0 || !self->st[k].proposal[0])
        return NULL;
    return self->st[k].proposal;
}

int
uis_negotiate_offer (uis_negotiate_t *self, uis_neg_stage_t stage, uis_text_t *out)
{
    if (stage == UIS_NEG_STAGE_SECURITY)
        return 0;
    if (stage == UIS_NEG_STAGE_FFP) {
        /* A new Text exchange (K5): only keys usable in full feature phase
         * (Use: ALL, §13.12) may be offered; re-declaration tracking starts
         * over for the exchange. */
        for (int k = 0; k < K_COUNT; k++)
            self->st[k].target_sent = false;
        s_state_t *st = &self->st[K_MRDSL];
        if (!st->proposal[0])
            return 0;
        int rc = uis_text_add (out, s_keys[K_MRDSL].name, st->proposal);
        if (rc)
            return rc;
        st->offered = true;
        return 0;
    }
    if (stage != UIS_NEG_STAGE_OPERATIONAL)
        return UIS_ERR_INVALID_ARG;
    for (int k = 0; k < K_COUNT; k++) {
        s_state_t *st = &self->st[k];
        if (!(s_keys[k].flags & UIS_NEG_F_OPERATIONAL) || !s_allowed (self, k)
            || !st->proposal[0] || st->offered || st->settled)
            continue;
        const char *value = st->proposal;
        char clamped[24];
        if (k == K_FIRST_BURST && self->st[K_MAX_BURST].proposal[0]) {
            /* §13.14: FirstBurstLength MUST NOT exceed MaxBurstLength. */
            uint64_t fb = s_scalar (k, value);
            uint64_t mb = s_scalar (K_MAX_BURST, self->st[K_MAX_BURST].proposal);
            if (fb > mb) {
                snprintf (clamped, sizeof clamped, "%llu", (unsigned long long)mb);
                value = clamped;
            }
        }
        int rc = uis_text_add (out, s_keys[k].name, value);
        if (rc)
            return rc;
        st->offered = true;
    }
    return 0;
}

/* Handles the target's answer to a key we offered (value not reserved). */
static int
s_take_answer (uis_negotiate_t *self, int k, const char *value)
{
    const uis_neg_key_t *row = &s_keys[k];
    s_state_t *st = &self->st[k];
    st->answered = true;
    uint64_t result;
    if (row->type == UIS_NEG_TYPE_LIST) {
        /* §6.2.1: the acceptor picks ONE of the offered values. */
        int in_offer = s_list_index (st->proposal, value, strlen (value));
        if (in_offer < 0)
            return UIS_ERR_NEGOTIATION_REJECT;
        result = (uint64_t)s_list_index (row->values, value, strlen (value));
    }
    else {
        uint64_t theirs;
        if (row->type == UIS_NEG_TYPE_BOOL) {
            bool b;
            if (s_parse_bool (value, &b))
                return UIS_ERR_NEGOTIATION;
            theirs = b;
        }
        else {
            if (uis_neg_parse_number (value, &theirs))
                return UIS_ERR_NEGOTIATION;
            if (theirs < row->min || theirs > row->max)
                return UIS_ERR_NEGOTIATION; /* outside the §13 range */
        }
        result = s_apply (k, s_scalar (k, st->proposal), theirs);
        if (result != theirs) {
            /* §6.2.2: not admissible under the result function. */
            if (self->strict)
                return UIS_ERR_NEGOTIATION;
            self->corrected++;
        }
    }
    int rc = s_check_required (self, k, result);
    if (rc)
        return rc;
    st->value = result;
    st->settled = true;
    st->defaulted = false;
    return 0;
}

/* Computes our answer to a key the target offered on its own (B8) and
 * appends it to reply. */
static int
s_answer_offer (uis_negotiate_t *self, int k, const char *value, uis_text_t *reply)
{
    const uis_neg_key_t *row = &s_keys[k];
    s_state_t *st = &self->st[k];
    const char *ours = s_ours (self, k);
    char answer[UIS_TEXT_VALUE_MAX + 1];
    uint64_t result = 0;
    bool reject = false;
    if (row->type == UIS_NEG_TYPE_LIST) {
        /* §6.2.1: pick the first value of the offer that we support. */
        int choice = -1;
        const char *p = value;
        while (p && choice < 0) {
            const char *comma = strchr (p, ',');
            size_t n = comma ? (size_t)(comma - p) : strlen (p);
            if (n > 0 && s_list_index (ours, p, n) >= 0)
                choice = s_list_index (row->values, p, n);
            p = comma ? comma + 1 : NULL;
        }
        if (choice < 0)
            reject = true;
        else {
            result = (uint64_t)choice;
            s_list_item (row->values, choice, answer, sizeof answer);
        }
    }
    else {
        uint64_t theirs = 0;
        if (row->type == UIS_NEG_TYPE_BOOL) {
            bool b;
            reject = s_parse_bool (value, &b) != 0;
            theirs = b;
        }
        else
            reject = uis_neg_parse_number (value, &theirs) != 0 || theirs < row->min
                     || theirs > row->max;
        if (!reject) {
            result = s_apply (k, s_scalar (k, ours), theirs);
            if (row->type == UIS_NEG_TYPE_BOOL)
                snprintf (answer, sizeof answer, "%s", result ? "Yes" : "No");
            else
                snprintf (answer, sizeof answer, "%llu", (unsigned long long)result);
        }
    }
    if (reject) {
        /* §6.2: "Reject" leaves the key at its default. */
        int rc = uis_text_add (reply, row->name, "Reject");
        if (rc)
            return rc;
        return s_settle_default (self, k);
    }
    int rc = s_check_required (self, k, result);
    if (rc)
        return rc;
    rc = uis_text_add (reply, row->name, answer);
    if (rc)
        return rc;
    st->value = result;
    st->settled = true;
    st->defaulted = false;
    return 0;
}

/* Records an informational key from the target. */
static int
s_informational (uis_negotiate_t *self, int k, const char *value)
{
    if (k == K_TARGET_ALIAS) {
        snprintf (self->alias, sizeof self->alias, "%s", value);
        return 0;
    }
    if (k == K_TPGT) {
        /* §13.9: a 16-bit binary-value. */
        uint64_t v;
        if (uis_neg_parse_number (value, &v) || v > 65535)
            return UIS_ERR_NEGOTIATION;
        if (self->expect_tpgt_set && v != self->expect_tpgt)
            return UIS_ERR_NEGOTIATION;
        self->has_tpgt = true;
        self->tpgt = (uint16_t)v;
        return 0;
    }
    return 0; /* TargetAddress (login machine), X#NodeArchitecture */
}

/* Processes one key=value from the target. */
static int
s_process_one (uis_negotiate_t *self, uis_neg_stage_t stage, const char *key,
               const char *value, uis_text_t *reply)
{
    int k = s_lookup (key);
    bool reserved = s_is_reserved (value);
    if (k < 0 || k == K_VENDOR) {
        /* §6.2: a key not understood is answered NotUnderstood (B8). */
        return reserved ? 0 : uis_text_add (reply, key, "NotUnderstood");
    }
    const uis_neg_key_t *row = &s_keys[k];
    s_state_t *st = &self->st[k];
    if ((row->flags & UIS_NEG_F_SECURITY) || k == K_TARGET_NAME)
        return 0; /* the login machine's business */
    if (row->flags & UIS_NEG_F_OBSOLETE) {
        /* §13.25: IFMarker/OFMarker SHOULD and IFMarkInt/OFMarkInt MUST be
         * answered Reject. */
        return reserved ? 0 : uis_text_add (reply, key, "Reject");
    }
    /* §6.2: a key is negotiated or declared once; the initiator must detect
     * re-declaration and drop the connection. */
    if (st->target_sent && !(row->flags & UIS_NEG_F_REPEATABLE))
        return UIS_ERR_TEXT_DUP_KEY;
    st->target_sent = true;
    if (!(row->senders & UIS_NEG_BY_TARGET))
        return 0; /* InitiatorName, SessionType, ...: not the target's to say */
    if (row->flags & UIS_NEG_F_INFORMATIONAL)
        return s_informational (self, k, value);
    if (k == K_MRDSL) {
        /* §13.12: declarative, per direction (B10): the target's own limit. */
        if (reserved) {
            /* An answer to our declaration: ours stands. */
            st->answered = true;
            return 0;
        }
        uint64_t v;
        if (uis_neg_parse_number (value, &v) || v < row->min || v > row->max)
            return UIS_ERR_NEGOTIATION;
        self->peer_mrdsl = (uint32_t)v;
        self->peer_mrdsl_declared = true;
        return 0;
    }
    bool ours_pending = st->offered && !st->answered;
    if (!s_allowed (self, k)) {
        /* §13: "Irrelevant when: SessionType=Discovery". */
        if (ours_pending || reserved) {
            st->answered = true;
            return 0;
        }
        return uis_text_add (reply, key, "Irrelevant");
    }
    if (stage == UIS_NEG_STAGE_FFP
        && !(row->use & (UIS_NEG_USE_ALL | UIS_NEG_USE_FFPO))) {
        /* Leading/initialize-only keys cannot be renegotiated in FFP. */
        return reserved ? 0 : uis_text_add (reply, key, "Reject");
    }
    if (ours_pending) {
        if (reserved) {
            /* B7: NotUnderstood / Irrelevant / Reject: the default applies. */
            st->answered = true;
            return s_settle_default (self, k);
        }
        return s_take_answer (self, k, value);
    }
    if (reserved)
        return 0; /* nothing to answer */
    return s_answer_offer (self, k, value, reply);
}

int
uis_negotiate_process (uis_negotiate_t *self, uis_neg_stage_t stage, const uis_text_t *in,
                       uis_text_t *reply)
{
    for (size_t i = 0; i < uis_text_size (in); i++) {
        const char *key = uis_text_key (in, i);
        int rc = s_process_one (self, stage, key, uis_text_value (in, i), reply);
        if (rc) {
            s_set_error_key (self, key);
            return rc;
        }
    }
    return 0;
}

bool
uis_negotiate_pending (const uis_negotiate_t *self)
{
    for (int k = 0; k < K_COUNT; k++)
        if (self->st[k].offered && !self->st[k].answered
            && s_keys[k].kind != UIS_NEG_KIND_DECLARATIVE)
            return true;
    return false;
}

uint32_t
uis_negotiate_peer_mrdsl (const uis_negotiate_t *self)
{
    return self->peer_mrdsl;
}

/* Final value of row k (number, 0/1 or list index) following the rules of
 * negotiate.h; UIS_ERR_NEGOTIATION_REJECT when unacceptable. */
static int
s_final (uis_negotiate_t *self, int k, uint64_t *value_p)
{
    const uis_neg_key_t *row = &s_keys[k];
    s_state_t *st = &self->st[k];
    if (st->settled) {
        *value_p = st->value;
        return 0;
    }
    if (!s_allowed (self, k) || !st->offered) {
        /* Never negotiated: the RFC default (B2). */
        if (row->type == UIS_NEG_TYPE_LIST)
            *value_p = (uint64_t)s_list_index (row->values, row->rfc_default,
                                               strlen (row->rfc_default));
        else
            *value_p = s_scalar (k, row->rfc_default);
        return s_check_required (self, k, *value_p);
    }
    /* Offered but never answered: function (our offer, RFC default). */
    if (row->type == UIS_NEG_TYPE_LIST) {
        int rc = s_settle_default (self, k);
        if (rc)
            return rc;
        *value_p = st->value;
        return 0;
    }
    *value_p = s_apply (k, s_scalar (k, st->proposal), s_scalar (k, row->rfc_default));
    return s_check_required (self, k, *value_p);
}

void
uis_neg_params_defaults (uis_neg_params_t *p, bool discovery)
{
    memset (p, 0, sizeof *p);
    p->discovery = discovery;
    p->max_recv_dsl_initiator = 8192;
    p->max_recv_dsl_target = 8192;
    p->max_burst = 262144;
    p->first_burst = 65536;
    p->initial_r2t = true;
    p->immediate_data = true;
    p->max_outstanding_r2t = 1;
    p->erl = 0;
    p->default_time2wait = 2;
    p->default_time2retain = 20;
    p->data_pdu_in_order = true;
    p->data_sequence_in_order = true;
    p->max_connections = 1;
    p->task_reporting = UIS_NEG_TASKREP_RFC3720;
    p->protocol_level = 1;
}

int
uis_negotiate_result (uis_negotiate_t *self, uis_neg_params_t *out)
{
    uis_neg_params_t p;
    uis_neg_params_defaults (&p, self->session == UIS_NEG_SESSION_DISCOVERY);
    uint64_t v[K_COUNT] = {0};
    static const int keys[] = {K_HEADER_DIGEST,
                               K_DATA_DIGEST,
                               K_MAX_CONNECTIONS,
                               K_INITIAL_R2T,
                               K_IMMEDIATE_DATA,
                               K_MAX_BURST,
                               K_FIRST_BURST,
                               K_TIME2WAIT,
                               K_TIME2RETAIN,
                               K_MAX_OUTSTANDING_R2T,
                               K_DATA_PDU_IN_ORDER,
                               K_DATA_SEQ_IN_ORDER,
                               K_ERL,
                               K_TASK_REPORTING,
                               K_PROTOCOL_LEVEL};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        int rc = s_final (self, keys[i], &v[keys[i]]);
        if (rc) {
            s_set_error_key (self, s_keys[keys[i]].name);
            return rc;
        }
    }
    /* List indices follow the table's value lists: "CRC32C,None". */
    p.header_digest = v[K_HEADER_DIGEST] == 0;
    p.data_digest = v[K_DATA_DIGEST] == 0;
    p.max_connections = (uint32_t)v[K_MAX_CONNECTIONS];
    p.initial_r2t = v[K_INITIAL_R2T] != 0;
    p.immediate_data = v[K_IMMEDIATE_DATA] != 0;
    p.max_burst = (uint32_t)v[K_MAX_BURST];
    p.first_burst = (uint32_t)v[K_FIRST_BURST];
    p.default_time2wait = (uint32_t)v[K_TIME2WAIT];
    p.default_time2retain = (uint32_t)v[K_TIME2RETAIN];
    p.max_outstanding_r2t = (uint32_t)v[K_MAX_OUTSTANDING_R2T];
    p.data_pdu_in_order = v[K_DATA_PDU_IN_ORDER] != 0;
    p.data_sequence_in_order = v[K_DATA_SEQ_IN_ORDER] != 0;
    p.erl = (uint32_t)v[K_ERL];
    p.task_reporting = (uis_neg_task_reporting_t)v[K_TASK_REPORTING];
    p.protocol_level = (uint32_t)v[K_PROTOCOL_LEVEL];
    /* §13.14: FirstBurstLength MUST NOT exceed MaxBurstLength (B9). */
    if (p.first_burst > p.max_burst)
        p.first_burst = p.max_burst;
    /* B10: ours is what we declared (8192 when we never did); the target's
     * is what it declared (8192 when it never did). */
    if (self->st[K_MRDSL].offered)
        p.max_recv_dsl_initiator =
            (uint32_t)s_scalar (K_MRDSL, self->st[K_MRDSL].proposal);
    p.max_recv_dsl_target = self->peer_mrdsl;
    p.has_tpgt = self->has_tpgt;
    p.tpgt = self->tpgt;
    snprintf (p.target_alias, sizeof p.target_alias, "%s", self->alias);
    p.corrected = self->corrected;
    *out = p;
    return 0;
}

/* Appends key=Yes/No. */
static int
s_add_bool (uis_text_t *out, const char *key, bool b)
{
    return uis_text_add (out, key, b ? "Yes" : "No");
}

int
uis_neg_params_render (const uis_neg_params_t *p, uis_text_t *out)
{
    static const char *const taskrep[] = {"RFC3720", "ResponseFence", "FastAbort"};
    int rc = 0;
    rc = rc ? rc
            : uis_text_add (out, "HeaderDigest", p->header_digest ? "CRC32C" : "None");
    rc = rc ? rc : uis_text_add (out, "DataDigest", p->data_digest ? "CRC32C" : "None");
    rc = rc ? rc
            : uis_text_add_u64 (out, "MaxRecvDataSegmentLength",
                                p->max_recv_dsl_initiator);
    rc = rc ? rc
            : uis_text_add_u64 (out, "MaxXmitDataSegmentLength", p->max_recv_dsl_target);
    if (!p->discovery) {
        rc = rc ? rc : uis_text_add_u64 (out, "MaxBurstLength", p->max_burst);
        rc = rc ? rc : uis_text_add_u64 (out, "FirstBurstLength", p->first_burst);
        rc = rc ? rc : s_add_bool (out, "InitialR2T", p->initial_r2t);
        rc = rc ? rc : s_add_bool (out, "ImmediateData", p->immediate_data);
        rc =
            rc ? rc : uis_text_add_u64 (out, "MaxOutstandingR2T", p->max_outstanding_r2t);
        rc = rc ? rc : s_add_bool (out, "DataPDUInOrder", p->data_pdu_in_order);
        rc = rc ? rc : s_add_bool (out, "DataSequenceInOrder", p->data_sequence_in_order);
        rc = rc ? rc : uis_text_add_u64 (out, "MaxConnections", p->max_connections);
        rc = rc ? rc
                : uis_text_add (
                    out, "TaskReporting",
                    taskrep[(unsigned)p->task_reporting < 3 ? (unsigned)p->task_reporting
                                                            : 0]);
        rc = rc ? rc : uis_text_add_u64 (out, "iSCSIProtocolLevel", p->protocol_level);
    }
    rc = rc ? rc : uis_text_add_u64 (out, "ErrorRecoveryLevel", p->erl);
    rc = rc ? rc : uis_text_add_u64 (out, "DefaultTime2Wait", p->default_time2wait);
    rc = rc ? rc : uis_text_add_u64 (out, "DefaultTime2Retain", p->default_time2retain);
    rc = rc ? rc
            : uis_text_add (out, "SessionType", p->discovery ? "Discovery" : "Normal");
    if (p->target_alias[0])
        rc = rc ? rc : uis_text_add (out, "TargetAlias", p->target_alias);
    if (p->has_tpgt)
        rc = rc ? rc : uis_text_add_u64 (out, "TargetPortalGroupTag", p->tpgt);
    return rc;
}
