/* login.h: the initiator login state machine (RFC 7143 §6.3, §11.12,
 * §11.13) for one connection, with AuthMethod None, CHAP and mutual CHAP
 * (chap.h) and operational negotiation (negotiate.h). No I/O: it hands out
 * Login Requests (a pdu_t plus its data segment, ready for pdu_encode) and
 * consumes decoded Login Responses (a pdu_t plus its data segment).
 *
 *   login_t *lg = login_new (&cfg, &neg);     // neg: ownership moves in
 *   login_start (lg);
 *   while (login_state (lg) == LOGIN_SEND || login_state (lg) == LOGIN_WAIT) {
 *       if (login_state (lg) == LOGIN_SEND) {
 *           login_next_request (lg, &pdu, &data, &len);  ... send ...
 *           continue;
 *       }
 *       ... receive one Login Response ...
 *       login_handle_response (lg, &rsp, data, len);
 *   }
 *   r = login_result (lg);   // success, redirect or error
 *
 * The machine is an explicit transition table (login.c): states
 * (security: AuthMethod, CHAP_A, CHAP_R, transit; operational; full
 * feature; redirect; failed), events (start, response T=0, response T=1,
 * partial response C=1, acknowledgement of our C=1 PDU, redirect, refusal,
 * invalid response), an action and a next state per row, and superstate
 * rows for the events valid in every waiting state.
 *
 * Wire behaviour:
 *   - B1: the first PDU is CSG=0 with InitiatorName, [InitiatorAlias,]
 *     SessionType, TargetName (normal sessions only), AuthMethod. With
 *     AuthMethod=None it has T=1 NSG=1; the operational PDU is CSG=1 NSG=3
 *     T=1 with the negotiation offer; the TSIH of the final response becomes
 *     the session's.
 *   - B2: a T=1 NSG=3 answer to a security PDU ends the login (defaults).
 *   - B3: a T=0 answer: the machine answers (negotiation replies, possibly
 *     none) with T=1 again until the target transits; at most max_rounds
 *     complete responses, then UIS_ERR_LOGIN_PROTOCOL.
 *   - B4: a response with C=1 is answered with an empty request (C=0, T=0,
 *     same CSG) until the last piece; our own text longer than the target's
 *     limit (8192 during login) goes out in PDUs with C=1 (T=0), each of
 *     which the target must answer with an empty response.
 *   - C1 (LIO-compatible CHAP): PDU 1 AuthMethod=CHAP (or CHAP,None when
 *     allowed), T=0; PDU 2 CHAP_A alone, T=0; the target answers CHAP_A,
 *     CHAP_I, CHAP_C; PDU 3 CHAP_N, CHAP_R (plus CHAP_I, CHAP_C for mutual
 *     CHAP) with T=1 NSG=1; for mutual CHAP the target's CHAP_N / CHAP_R
 *     must come in its answer and are verified (C6, C7: UIS_ERR_AUTH_TARGET,
 *     side "initiator").
 *   - NSG is 0 on every request with T=0 (§11.12.3: reserved unless T=1).
 *   - B13: ExpStatSN = StatSN of the previous response + 1 (the first
 *     request: cfg.exp_statsn); CmdSN is cfg.cmdsn on every request; the
 *     ITT is cfg.itt on every request.
 *
 * Response validation (violations are UIS_ERR_LOGIN_PROTOCOL with a static
 * detail string that never contains target data or secrets): opcode, ITT
 * echo, DataSegmentLength; for status class 0 also version-active 0, ISID
 * echo, CSG echo, T=1 only when our request had T=1 and never with C=1,
 * NSG 1 or 3, above CSG and not below our NSG, TSIH equal to ours (0 for a
 * new session) except in the final response of a new session, where it
 * must be non-zero; keys allowed in the stage: security keys only in the
 * security stage and only the ones the CHAP step expects, no operational
 * keys in the security stage, no initiator-only keys (InitiatorName,
 * SessionType, TargetName, ...) from the target. */
#ifndef UISCSI_PROTO_LOGIN_H
#define UISCSI_PROTO_LOGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chap.h"
#include "negotiate.h"
#include "pdu.h"
#include "portal.h"

#define LOGIN_ISCSI_NAME_MAX     223  /* iSCSI name, bytes (§4.2.7.1) */
#define LOGIN_MAX_ROUNDS_DEFAULT 16   /* complete responses per login */
#define LOGIN_MAX_PDUS_DEFAULT   256  /* response PDUs per login */
#define LOGIN_DSL                8192 /* data segment limit during login */

typedef enum login_auth {
    LOGIN_AUTH_NONE = 0, /* AuthMethod=None */
    LOGIN_AUTH_CHAP = 1, /* AuthMethod=CHAP (mutual when chap.target_user) */
} login_auth_t;

/* Configuration; login_new copies everything it keeps. */
typedef struct login_config {
    const char *initiator_name;  /* required, 1..LOGIN_ISCSI_NAME_MAX bytes */
    const char *initiator_alias; /* optional (NULL) */
    const char *target_name;     /* required for a normal session, NULL for
                                    a discovery session */
    bool discovery;              /* SessionType=Discovery */
    uint8_t isid[PDU_ISID_LEN];  /* see login_isid_random (B14) */
    uint16_t tsih;               /* 0: new session (also ERL 0 reinstatement, same ISID);
                                    else the session a connection is added to */
    uint16_t cid;
    uint32_t itt;        /* ITT of every Login Request */
    uint32_t cmdsn;      /* initial CmdSN, constant during login (B13) */
    uint32_t exp_statsn; /* ExpStatSN of the first request (B13) */
    login_auth_t auth;
    bool auth_allow_none; /* CHAP: offer "CHAP,None" instead of "CHAP" */
    chap_config_t chap;   /* for LOGIN_AUTH_CHAP (secrets are copied) */
    /* Random bytes for the mutual CHAP challenge and identifier
     * (CHAP_RANDOM_LEN needed for mutual CHAP; copied, wiped on destroy). */
    const uint8_t *random;
    size_t random_len;
    size_t max_text;       /* reassembled response text, 0: 64 KiB */
    uint32_t max_send_dsl; /* our PDUs' data limit, 0 or above: LOGIN_DSL */
    unsigned max_rounds;   /* 0: LOGIN_MAX_ROUNDS_DEFAULT */
    unsigned max_pdus;     /* 0: LOGIN_MAX_PDUS_DEFAULT */
} login_config_t;

/* Public state: what the caller has to do next. */
typedef enum login_state {
    LOGIN_IDLE,     /* login_start not called yet */
    LOGIN_SEND,     /* a request is ready: login_next_request */
    LOGIN_WAIT,     /* waiting for a Login Response */
    LOGIN_DONE,     /* full feature phase reached: login_result */
    LOGIN_REDIRECT, /* redirected (B5): login_result has the address */
    LOGIN_FAILED,   /* failed: login_result has the error */
} login_state_t;

/* Meaning of one Login Response status (RFC 7143 §11.13.5). */
typedef struct login_status_info {
    uint8_t status_class;
    uint8_t status_detail;
    const char *name; /* "TARGET_NOT_FOUND", static */
    int error;        /* 0, UIS_ERR_LOGIN_REDIRECT, UIS_ERR_AUTH_FAILED
                         (0x0201, 0x0202) or UIS_ERR_LOGIN_STATUS */
    bool retriable;   /* class 3: the same login may succeed later */
} login_status_info_t;

/* The outcome of a login. Strings are static; none carries target data or
 * secrets. */
typedef struct login_result {
    int error;          /* 0 on success, else a UIS_ERR_* code */
    const char *detail; /* what went wrong, "" when nothing */
    const char *side;   /* auth errors: "target" (it rejected us) or
                           "initiator" (we rejected it); else "" */
    /* status of the last response (B6) */
    uint8_t status_class;
    uint8_t status_detail;
    const char *status_name;
    bool retriable;
    /* redirect (B5) */
    bool redirect_permanent; /* 0x0102; else 0x0101 temporary */
    uis_portal_t redirect;   /* the parsed TargetAddress */
    bool redirect_has_tpgt;
    uint16_t redirect_tpgt;
    /* success (B1, B12) */
    uint16_t tsih;
    uint32_t statsn;     /* StatSN of the final response */
    uint32_t exp_statsn; /* statsn + 1: ExpStatSN of the next PDU */
    uint32_t exp_cmdsn;  /* initial window from the final response */
    uint32_t max_cmdsn;
    uis_neg_params_t params; /* negotiated parameters, TargetAlias, TPGT */
} login_result_t;

typedef struct login login_t;

/* B14: an ISID of the random format (§11.12.5): T = 10b and A = 0 in byte 0,
 * B and C = the 3 random bytes, D = qualifier. */
void login_isid_random (uint8_t isid[PDU_ISID_LEN], const uint8_t random[3],
                        uint16_t qualifier);

/* The meaning of a status class / detail pair; unknown details get a
 * "UNKNOWN_..." name of their class. */
login_status_info_t login_status_info (uint8_t status_class, uint8_t status_detail);

/* Checks a configuration: UIS_ERR_INVALID_ARG for a missing or too long
 * name, a target name given for discovery or missing otherwise, a bad auth
 * setting, or random bytes missing for mutual CHAP; chap_config_check
 * errors for CHAP. */
int login_config_check (const login_config_t *cfg);

/* Creates a login machine. *neg_p (may be NULL or point to NULL: a default
 * context of the right session type is created) carries the proposals and
 * overrides; its ownership moves to the machine (*neg_p is NULLed). NULL on
 * a bad config (see login_config_check) or no memory; *neg_p is then
 * untouched. */
login_t *login_new (const login_config_t *cfg, uis_negotiate_t **neg_p);

/* Wipes secrets, frees the machine (and its negotiation context) and NULLs
 * *self_p; NULL-safe. */
void login_destroy (login_t **self_p);

/* Builds the first request: LOGIN_IDLE -> LOGIN_SEND. UIS_ERR_STATE in
 * another state. */
int login_start (login_t *self);

/* In LOGIN_SEND: fills *pdu with the next Login Request (DataSegmentLength
 * set) and *data / *len with its data segment (owned by self, valid until
 * the next call on self). Moves to LOGIN_WAIT. UIS_ERR_STATE otherwise. */
int login_next_request (login_t *self, pdu_t *pdu, const uint8_t **data, size_t *len);

/* In LOGIN_WAIT: consumes one decoded Login Response (untrusted) and its
 * data segment. Returns 0 while the login goes on or has succeeded
 * (LOGIN_SEND or LOGIN_DONE); otherwise the result's error (the state is
 * then LOGIN_REDIRECT with UIS_ERR_LOGIN_REDIRECT, or LOGIN_FAILED).
 * UIS_ERR_STATE when no response is expected (nothing changes then). */
int login_handle_response (login_t *self, const pdu_t *pdu, const uint8_t *data,
                           size_t len);

/* Current public state. */
login_state_t login_state (const login_t *self);

/* The result; meaningful in LOGIN_DONE, LOGIN_REDIRECT and LOGIN_FAILED. */
const login_result_t *login_result (const login_t *self);

/* Tracing: name of the internal state ("sec_auth", "sec_chap_a",
 * "operational", ...) and of the last event fed to the table. */
const char *login_phase_name (const login_t *self);
const char *login_last_event_name (const login_t *self);

/* Mutual CHAP: the challenge we sent (for chap_config_t.prev_challenge of a
 * later login, C7); NULL when none. */
const uint8_t *login_chap_challenge (const login_t *self, size_t *len);

/* After LOGIN_DONE: takes the negotiation context back (for Text
 * renegotiation later); the caller owns it. NULL when already taken. */
uis_negotiate_t *login_take_negotiate (login_t *self);

#endif
