/* negotiate.h: the RFC 7143 §13 key table and the initiator side of
 * operational parameter negotiation (§6.2, §6.3).
 *
 * The table (uis_neg_key_lookup) lists every §12/§13 key with its kind
 * (list, boolean AND/OR, numerical min/max, declarative), where it may be
 * used (leading only, initialize only, full feature only, all), its scope
 * (session-wide or connection-only), the RFC default, the valid range and
 * our default proposal.
 *
 * A negotiation context (uis_negotiate_t) lives for one login (and later
 * Text renegotiations of the same connection):
 *
 *   neg = uis_negotiate_new (UIS_NEG_SESSION_NORMAL);
 *   uis_negotiate_set (neg, "MaxRecvDataSegmentLength", "262144");  // B11
 *   uis_negotiate_offer (neg, UIS_NEG_STAGE_OPERATIONAL, req_keys);  // send
 *   for each (reassembled) Login Response text `rsp`:
 *       uis_negotiate_process (neg, stage, rsp, reply_keys);  // send reply
 *   uis_negotiate_result (neg, &params);   // on the final response (T=1)
 *
 * Decisions (RFC sections in the .c file next to each rule):
 *   - Answers NotUnderstood / Irrelevant / Reject (B7): the key takes its
 *     RFC default; when that default is not acceptable to us (a list we
 *     offered without it, e.g. HeaderDigest=CRC32C only, or a key marked
 *     with uis_negotiate_require) the result is UIS_ERR_NEGOTIATION_REJECT.
 *   - A list answer must be one of the values we offered, else
 *     UIS_ERR_NEGOTIATION_REJECT. "None" for digests when we offered only
 *     CRC32C is such a case.
 *   - Numerical answers outside the key's valid range (§13) are
 *     UIS_ERR_NEGOTIATION. Answers inside the range but not admissible for
 *     the function (MaxBurstLength above our offer for a Minimum key,
 *     ImmediateData=Yes when we offered No for AND, ...) are clamped to the
 *     admissible result (function(offer, answer)) and counted in
 *     params.corrected; with uis_negotiate_set_strict they are
 *     UIS_ERR_NEGOTIATION instead (§6.2.2 calls them protocol errors).
 *   - FirstBurstLength is clamped to <= MaxBurstLength (§13.14, B9).
 *   - A key we offered and the target never answered takes
 *     function(our offer, RFC default) (its RFC default when no function
 *     applies); a key never offered takes the RFC default (B2). The
 *     target's MaxRecvDataSegmentLength is 8192 when it never declares one
 *     (B10); ours is what we declared, or 8192 when we never declared it.
 *   - Keys the target offers on its own (B8): informational TargetAlias,
 *     TargetPortalGroupTag, TargetAddress are recorded; MaxRecvDataSegmentLength
 *     is recorded as the target's; negotiable keys get a computed answer
 *     appended to `reply` (the login machine sends it back); unknown and
 *     extension (X-, X#, Y-, Y#, Z-, Z#) keys are answered NotUnderstood;
 *     the obsolete IFMarker/OFMarker/IFMarkInt/OFMarkInt are answered
 *     Reject (§13.25);
 *     leading-only or login-only keys offered in full feature phase and keys
 *     irrelevant to a discovery session are answered Reject / Irrelevant;
 *     declarative keys only the initiator may send (InitiatorName,
 *     SessionType, ...) are ignored. Security keys (AuthMethod, CHAP_*,
 *     SRP_*, KRB_*, SPKM_*) and TargetName are left to the login machine and
 *     not touched.
 *   - A key the target sends twice during login (other than TargetAddress) is
 *     UIS_ERR_TEXT_DUP_KEY (§6.2: re-declaration is a protocol error the
 *     initiator must detect).
 *   - Discovery sessions (SessionType=Discovery) offer and accept only
 *     HeaderDigest, DataDigest, MaxRecvDataSegmentLength, DefaultTime2Wait,
 *     DefaultTime2Retain, ErrorRecoveryLevel (and the declarative
 *     identity keys); overriding any other operational key is
 *     UIS_ERR_NEG_KEY_NOT_ALLOWED.
 *
 * Operator overrides (uis_negotiate_set) are validated at once: an unknown
 * key is UIS_ERR_NEG_UNKNOWN_KEY, a key that is not an operational
 * negotiable/declarable key of this session type (InitiatorName,
 * SessionType, SendTargets, TargetAlias, ...) is UIS_ERR_NEG_KEY_NOT_ALLOWED,
 * a malformed value is UIS_ERR_INVALID_ARG, a number outside the valid range
 * is UIS_ERR_OUT_OF_RANGE. In each case uis_negotiate_error_key names the
 * offending key (errors never carry caller data themselves). */
#ifndef UISCSI_PROTO_NEGOTIATE_H
#define UISCSI_PROTO_NEGOTIATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "text.h"

/* Login stages as in the CSG/NSG fields (§11.12.3), plus full feature
 * phase for Text renegotiation. */
typedef enum uis_neg_stage {
    UIS_NEG_STAGE_SECURITY = 0,
    UIS_NEG_STAGE_OPERATIONAL = 1,
    UIS_NEG_STAGE_FFP = 3,
} uis_neg_stage_t;

typedef enum uis_neg_session {
    UIS_NEG_SESSION_NORMAL = 0,
    UIS_NEG_SESSION_DISCOVERY = 1,
} uis_neg_session_t;

/* Result function of a key (§6.2.2, §13). */
typedef enum uis_neg_kind {
    UIS_NEG_KIND_LIST,        /* list-of-values: the acceptor picks one */
    UIS_NEG_KIND_AND,         /* boolean, result = AND */
    UIS_NEG_KIND_OR,          /* boolean, result = OR */
    UIS_NEG_KIND_MIN,         /* numerical, result = Minimum */
    UIS_NEG_KIND_MAX,         /* numerical, result = Maximum */
    UIS_NEG_KIND_DECLARATIVE, /* declared, no answer expected */
} uis_neg_kind_t;

/* Value syntax of a key. */
typedef enum uis_neg_type {
    UIS_NEG_TYPE_BOOL,   /* Yes | No */
    UIS_NEG_TYPE_NUMBER, /* numerical-value (decimal or 0x hex) */
    UIS_NEG_TYPE_LIST,   /* list-of-values from a closed set */
    UIS_NEG_TYPE_TEXT,   /* text / iSCSI-name / local-name / address */
} uis_neg_type_t;

/* Where a key may be used ("Use:" in §13), one of: */
#define UIS_NEG_USE_LO       0x01u /* leading only: first login of a session */
#define UIS_NEG_USE_IO       0x02u /* initialize only: login phase */
#define UIS_NEG_USE_FFPO     0x04u /* full feature phase only */
#define UIS_NEG_USE_ALL      0x08u /* login and full feature phase */
#define UIS_NEG_USE_SECURITY 0x10u /* security negotiation stage (§12) */

/* Scope ("Scope:" in §13). */
typedef enum uis_neg_scope {
    UIS_NEG_SCOPE_SW, /* session-wide */
    UIS_NEG_SCOPE_CO, /* connection-only */
} uis_neg_scope_t;

/* Who may send it ("Senders:" in §13). */
#define UIS_NEG_BY_INITIATOR 0x1u
#define UIS_NEG_BY_TARGET    0x2u

/* Key flags. */
#define UIS_NEG_F_IRRELEVANT_DISCOVERY 0x01u /* Irrelevant when Discovery */
#define UIS_NEG_F_OBSOLETE             0x02u /* §13.25: answer Reject */
#define UIS_NEG_F_VENDOR               0x04u /* X-, X#, Y-, Y#, Z-, Z# */
#define UIS_NEG_F_REPEATABLE           0x08u /* may appear several times */
#define UIS_NEG_F_SECURITY             0x10u /* authentication key (§12) */
#define UIS_NEG_F_INFORMATIONAL        0x20u /* recorded, never answered */
#define UIS_NEG_F_OPERATIONAL          0x40u /* operator may override it */
/* The row stands for every key with its name as prefix (X-, SRP_). */
#define UIS_NEG_F_PREFIX 0x80u

/* One row of the key table (all strings static). */
typedef struct uis_neg_key {
    const char *name;        /* RFC spelling; "X-" stands for vendor keys */
    const char *section;     /* RFC 7143 section, e.g. "13.13" */
    uis_neg_kind_t kind;     /* result function */
    uis_neg_type_t type;     /* value syntax */
    unsigned use;            /* UIS_NEG_USE_* */
    uis_neg_scope_t scope;   /* session-wide or connection-only */
    unsigned senders;        /* UIS_NEG_BY_* */
    unsigned flags;          /* UIS_NEG_F_* */
    const char *rfc_default; /* RFC default value, NULL when none */
    uint64_t min, max;       /* valid range of a number */
    const char *values;      /* allowed list values, comma separated */
    const char *proposal;    /* our default proposal, NULL: not offered
                                unless the operator sets it */
} uis_neg_key_t;

/* Table row of a key, or NULL for an unknown key. Extension keys starting
 * with "X-", "X#", "Y-", "Y#", "Z-" or "Z#" (other than X#NodeArchitecture)
 * map to the "X-" row;
 * SRP_*, KRB_* and SPKM_* keys to the "SRP_", "KRB_", "SPKM_" rows. */
const uis_neg_key_t *uis_neg_key_lookup (const char *name);

/* Number of rows and row i (NULL when out of range), for listings. */
size_t uis_neg_key_count (void);
const uis_neg_key_t *uis_neg_key_at (size_t i);

/* Parses a numerical-value (decimal, or 0x/0X hex, at most 2^64-1) into
 * *value_p. Returns 0 or UIS_ERR_INVALID_ARG. */
int uis_neg_parse_number (const char *text, uint64_t *value_p);

/* TaskReporting (§13.23). */
typedef enum uis_neg_task_reporting {
    UIS_NEG_TASKREP_RFC3720 = 0,
    UIS_NEG_TASKREP_RESPONSE_FENCE = 1,
    UIS_NEG_TASKREP_FAST_ABORT = 2,
} uis_neg_task_reporting_t;

/* The negotiated operational parameters: a plain value struct. */
typedef struct uis_neg_params {
    bool discovery;                  /* SessionType=Discovery */
    bool header_digest;              /* HeaderDigest=CRC32C */
    bool data_digest;                /* DataDigest=CRC32C */
    uint32_t max_recv_dsl_initiator; /* ours: limits Data-In we accept */
    uint32_t max_recv_dsl_target;    /* target's: limits our Data-Out,
                                        immediate data and Text/NOP data */
    uint32_t max_burst;              /* MaxBurstLength */
    uint32_t first_burst;            /* FirstBurstLength (<= max_burst) */
    bool initial_r2t;                /* InitialR2T */
    bool immediate_data;             /* ImmediateData */
    uint32_t max_outstanding_r2t;    /* MaxOutstandingR2T */
    uint32_t erl;                    /* ErrorRecoveryLevel */
    uint32_t default_time2wait;      /* seconds */
    uint32_t default_time2retain;    /* seconds */
    bool data_pdu_in_order;          /* DataPDUInOrder */
    bool data_sequence_in_order;     /* DataSequenceInOrder */
    uint32_t max_connections;        /* MaxConnections */
    uis_neg_task_reporting_t task_reporting;
    uint32_t protocol_level;                   /* iSCSIProtocolLevel */
    bool has_tpgt;                             /* TargetPortalGroupTag received */
    uint16_t tpgt;                             /* its value when has_tpgt */
    char target_alias[UIS_TEXT_VALUE_MAX + 1]; /* "" when none */
    uint32_t corrected; /* non-admissible answers that were clamped */
} uis_neg_params_t;

/* Fills p with the RFC defaults (what applies when nothing is negotiated),
 * for a discovery session when discovery is true. */
void uis_neg_params_defaults (uis_neg_params_t *p, bool discovery);

/* Appends the parameters to out as key/value pairs in RFC spelling (for the
 * RPC `negotiated` object): HeaderDigest, DataDigest,
 * MaxRecvDataSegmentLength (ours), MaxXmitDataSegmentLength (the target's
 * MaxRecvDataSegmentLength, open-iscsi's name for it), then for normal
 * sessions MaxBurstLength, FirstBurstLength, InitialR2T, ImmediateData,
 * MaxOutstandingR2T, DataPDUInOrder, DataSequenceInOrder, MaxConnections,
 * TaskReporting, iSCSIProtocolLevel, and always ErrorRecoveryLevel,
 * DefaultTime2Wait, DefaultTime2Retain, SessionType, plus TargetAlias and
 * TargetPortalGroupTag when known. Returns 0 or a uis_text_add error. */
int uis_neg_params_render (const uis_neg_params_t *p, uis_text_t *out);

/* ---- negotiation context ------------------------------------------------- */

typedef struct uis_negotiate uis_negotiate_t;

/* Creates a context whose proposals are our defaults (the `proposal` column
 * of the table) for that session type. Caller owns it. NULL on no memory. */
uis_negotiate_t *uis_negotiate_new (uis_neg_session_t session);

/* Frees the context and NULLs *self_p; NULL-safe. */
void uis_negotiate_destroy (uis_negotiate_t **self_p);

/* Operator override: proposes value for key (copied) instead of our default.
 * Lists are given as the list to offer ("CRC32C,None"); booleans as Yes/No;
 * numbers in decimal or 0x hex. Several overrides accumulate (B11). Errors:
 * see the header comment; self is unchanged on error. */
int uis_negotiate_set (uis_negotiate_t *self, const char *key, const char *value);

/* Same for a number. */
int uis_negotiate_set_u64 (uis_negotiate_t *self, const char *key, uint64_t value);

/* Applies every pair of overrides, all or nothing: on the first error none
 * of them takes effect and uis_negotiate_error_key names the key. */
int uis_negotiate_set_all (uis_negotiate_t *self, const uis_text_t *overrides);

/* Marks key as required: negotiation fails with UIS_ERR_NEGOTIATION_REJECT
 * when its result differs from our proposal (for lists: when the result
 * is not in our offer, which is always checked). Same errors as set. */
int uis_negotiate_require (uis_negotiate_t *self, const char *key);

/* Strict mode: non-admissible answers are errors instead of being clamped. */
void uis_negotiate_set_strict (uis_negotiate_t *self, bool strict);

/* Expected TargetPortalGroupTag (from discovery, B8): a different tag from
 * the target makes process fail with UIS_ERR_NEGOTIATION. */
void uis_negotiate_expect_tpgt (uis_negotiate_t *self, uint16_t tpgt);

/* The key named by the last failed call of this context (a copy of at most
 * 63 bytes, owned by self), or "" when none. */
const char *uis_negotiate_error_key (const uis_negotiate_t *self);

/* Our current proposal for key (owned by self), or NULL when we do not
 * offer it. */
const char *uis_negotiate_proposal (const uis_negotiate_t *self, const char *key);

/* Appends our offer for the stage to out and remembers what was offered:
 * OPERATIONAL: every key with a proposal allowed in this session type (in
 * table order); FFP (Text renegotiation, K5): only MaxRecvDataSegmentLength;
 * SECURITY: nothing (the login machine sends the identity and AuthMethod
 * keys). A key already offered in this login is not offered again. Returns 0
 * or a uis_text_add error. */
int uis_negotiate_offer (uis_negotiate_t *self, uis_neg_stage_t stage, uis_text_t *out);

/* Processes the keys of one complete (reassembled) Login or Text response
 * received in stage (untrusted); appends to reply the answers we owe the
 * target (may stay empty). Returns 0, UIS_ERR_NEGOTIATION (invalid or
 * inadmissible value, TPGT mismatch), UIS_ERR_NEGOTIATION_REJECT (a
 * required key refused or answered with a value we did not offer),
 * UIS_ERR_TEXT_DUP_KEY (re-declaration), or a uis_text_add error. After an
 * error the context must not be used for this login any more. */
int uis_negotiate_process (uis_negotiate_t *self, uis_neg_stage_t stage,
                           const uis_text_t *in, uis_text_t *reply);

/* True while some key we offered has not been answered yet (the login
 * machine may keep the exchange going with T=0, B3). Declarative keys never
 * wait for an answer. */
bool uis_negotiate_pending (const uis_negotiate_t *self);

/* The target's MaxRecvDataSegmentLength as declared so far (8192 until it
 * declares one). During login, login PDUs stay within 8192 bytes anyway
 * (UIS_NEG_LOGIN_DSL). */
uint32_t uis_negotiate_peer_mrdsl (const uis_negotiate_t *self);

/* Largest data segment of a Login PDU before anything is declared (§13.12
 * default). */
#define UIS_NEG_LOGIN_DSL 8192u

/* Computes the negotiated parameters (see the decisions above) into *out.
 * Returns 0, or UIS_ERR_NEGOTIATION_REJECT when a required key ends up with
 * an unacceptable value (e.g. an unanswered CRC32C-only digest). */
int uis_negotiate_result (uis_negotiate_t *self, uis_neg_params_t *out);

#endif
