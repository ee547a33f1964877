/* login.c: the initiator login state machine (RFC 7143 §6.3, §11.12,
 * §11.13, §12.1.3) as an explicit transition table. */
#include "login.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "errors.h"
#include "text.h"

/* ---- states, events, names ---------------------------------------------- */

typedef enum {
    S_IDLE,        /* nothing sent yet */
    S_SEC_AUTH,    /* identity + AuthMethod sent */
    S_SEC_CHAP_A,  /* CHAP_A sent, waiting for CHAP_A / CHAP_I / CHAP_C */
    S_SEC_CHAP_R,  /* CHAP_N / CHAP_R sent, waiting for the verdict */
    S_SEC_TRANSIT, /* authentication settled, asking to leave (T=1) */
    S_OPER,        /* operational stage */
    S_FFP,         /* full feature phase: success */
    S_REDIRECT,    /* redirected */
    S_FAILED,      /* failed */
    S__COUNT
} state_t;

typedef enum {
    EV_START,       /* login_start */
    EV_RSP_STAY,    /* complete response, status 0, T=0 */
    EV_RSP_TRANSIT, /* complete response, status 0, T=1 */
    EV_RSP_PARTIAL, /* response with C=1 */
    EV_RSP_ACK,     /* empty response to our C=1 request */
    EV_RSP_REDIRECT,
    EV_RSP_REFUSED, /* status class 2 or 3 */
    EV_RSP_INVALID, /* a rule of the protocol broken */
    EV__COUNT
} event_t;

static const char *s_state_names[S__COUNT] = {
    "idle",        "sec_auth",     "sec_chap_a", "sec_chap_r", "sec_transit",
    "operational", "full_feature", "redirect",   "failed"};

static const char *s_event_names[EV__COUNT] = {
    "start",   "rsp_stay",     "rsp_transit", "rsp_partial",
    "rsp_ack", "rsp_redirect", "rsp_refused", "rsp_invalid"};

/* ---- the machine ---------------------------------------------------------- */

struct login {
    login_config_t cfg; /* strings below replace the caller's pointers */
    char *initiator_name;
    char *initiator_alias;
    char *target_name;
    uint8_t random[CHAP_RANDOM_LEN];
    size_t random_len;
    chap_t *chap;
    bool target_verified; /* mutual CHAP: the target proved its secret */
    uis_negotiate_t *neg;
    uis_text_t *out;   /* keys of the request being built */
    uis_text_t *in;    /* keys of the last complete response */
    uis_text_t *reply; /* our answers to the target's keys */
    uis_text_tx_t *tx;
    uis_text_rx_t *rx;
    state_t state;
    state_t next; /* set by actions of rows with a dynamic next state */
    event_t last_event;
    /* the request loaded in tx */
    bool have_request;
    uint8_t req_csg, req_nsg;
    bool req_transit;
    bool req_is_ack; /* an empty request answering the target's C=1 */
    /* the last request PDU handed out; T and NSG are those of the last
     * request that was not an acknowledgement of a C=1 response, which is
     * what the target's (reassembled) answer refers to */
    bool sent_transit;
    bool sent_cont;
    uint8_t sent_csg, sent_nsg;
    uint32_t exp_statsn;
    unsigned rounds, pdus;
    /* the response being processed */
    const pdu_t *rsp;
    login_result_t result;
};

#define NEXT_DYNAMIC (-1) /* the action chooses self->next */
#define NEXT_SAME    (-2) /* stay in the current state */
#define ANY_STATE    (-1)

typedef int (*action_fn) (login_t *self);

typedef struct {
    int state; /* ANY_STATE: superstate row, valid in every waiting state */
    event_t event;
    action_fn action;
    int next; /* a state, NEXT_DYNAMIC or NEXT_SAME */
} transition_t;

/* ---- small helpers ------------------------------------------------------- */

/* Records an error in the result (static strings only). Returns code. */
static int
s_record (login_t *self, int code, const char *side, const char *detail)
{
    self->result.error = code;
    self->result.side = side ? side : "";
    self->result.detail = detail ? detail : "";
    return code;
}

/* Records a failure and moves to S_FAILED (used by actions). Returns code. */
static int
s_fail (login_t *self, int code, const char *side, const char *detail)
{
    s_record (self, code, side, detail);
    self->state = S_FAILED;
    self->next = S_FAILED;
    self->have_request = false;
    return code;
}

/* Copies a string, NULL stays NULL. */
static char *
s_strdup (const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen (s);
    char *p = malloc (n + 1);
    if (p)
        memcpy (p, s, n + 1);
    return p;
}

static bool
s_name_ok (const char *s)
{
    if (!s)
        return false;
    size_t n = strnlen (s, LOGIN_ISCSI_NAME_MAX + 1);
    return n >= 1 && n <= LOGIN_ISCSI_NAME_MAX;
}

/* true for NotUnderstood / Irrelevant / Reject (§6.2). */
static bool
s_reserved_value (const char *v)
{
    return strcmp (v, "NotUnderstood") == 0 || strcmp (v, "Irrelevant") == 0
           || strcmp (v, "Reject") == 0;
}

/* Loads self->out (own keys) followed by self->reply as the next request
 * with the given stage fields; clears both lists. */
static int
s_load_request (login_t *self, uint8_t csg, uint8_t nsg, bool transit)
{
    int rc = uis_text_append (self->out, self->reply);
    if (rc == 0)
        rc = uis_text_tx_load (self->tx, self->out);
    uis_text_clear (self->out);
    uis_text_clear (self->reply);
    if (rc != 0)
        return rc;
    self->req_csg = csg;
    self->req_nsg = transit ? nsg : 0; /* §11.12.3: NSG reserved when T=0 */
    self->req_transit = transit;
    self->req_is_ack = false;
    self->have_request = true;
    return 0;
}

/* Our AuthMethod offer. */
static const char *
s_auth_offer (const login_t *self)
{
    if (self->cfg.auth == LOGIN_AUTH_NONE)
        return "None";
    return self->cfg.auth_allow_none ? "CHAP,None" : "CHAP";
}

/* ---- actions --------------------------------------------------------------- */

/* B1 / C1: the first PDU: identity keys and AuthMethod. */
static int
s_act_start (login_t *self)
{
    int rc = uis_text_add (self->out, "InitiatorName", self->initiator_name);
    if (rc == 0 && self->initiator_alias)
        rc = uis_text_add (self->out, "InitiatorAlias", self->initiator_alias);
    if (rc == 0)
        rc = uis_text_add (self->out, "SessionType",
                           self->cfg.discovery ? "Discovery" : "Normal");
    if (rc == 0 && !self->cfg.discovery)
        rc = uis_text_add (self->out, "TargetName", self->target_name);
    if (rc == 0)
        rc = uis_text_add (self->out, "AuthMethod", s_auth_offer (self));
    if (rc != 0)
        return s_fail (self, rc, NULL, "cannot build the first login request");
    /* With None we are ready to leave the security stage at once; CHAP
     * needs more rounds (T=0). */
    bool none = self->cfg.auth == LOGIN_AUTH_NONE;
    rc = s_load_request (self, PDU_STAGE_SECURITY, PDU_STAGE_OPERATIONAL, none);
    if (rc != 0)
        return s_fail (self, rc, NULL, "cannot build the first login request");
    return 0;
}

/* Ends the login in full feature phase: result fields (B1, B12). */
static int
s_finish (login_t *self)
{
    const pdu_login_rsp_t *r = &self->rsp->u.login_rsp;
    int rc = uis_negotiate_result (self->neg, &self->result.params);
    if (rc != 0)
        return s_fail (self, rc, NULL, "negotiated parameters not acceptable");
    self->result.error = 0;
    self->result.detail = "";
    self->result.side = "";
    self->result.tsih = r->tsih;
    self->result.statsn = r->statsn;
    self->result.exp_statsn = r->statsn + 1;
    self->result.exp_cmdsn = r->exp_cmdsn;
    self->result.max_cmdsn = r->max_cmdsn;
    self->next = S_FFP;
    return 0;
}

/* Leaves the security stage for the target's NSG: operational offer (B1)
 * or straight to full feature phase (B2). */
static int
s_leave_security (login_t *self)
{
    /* C6: mutual CHAP must have been verified before anything else. */
    if (self->chap && chap_is_mutual (self->chap) && !self->target_verified)
        return s_fail (self, UIS_ERR_AUTH_TARGET, "initiator",
                       "target left the security stage without mutual CHAP");
    if (self->rsp->u.login_rsp.nsg == PDU_STAGE_FULL_FEATURE)
        return s_finish (self);
    int rc = uis_negotiate_offer (self->neg, UIS_NEG_STAGE_OPERATIONAL, self->out);
    if (rc == 0)
        rc = s_load_request (self, PDU_STAGE_OPERATIONAL, PDU_STAGE_FULL_FEATURE, true);
    if (rc != 0)
        return s_fail (self, rc, NULL, "cannot build the operational offer");
    self->next = S_OPER;
    return 0;
}

/* Checks the target's AuthMethod answer. Returns 1 for CHAP, 0 for None,
 * or a negative error (already recorded). */
static int
s_auth_answer (login_t *self)
{
    const char *v = uis_text_find (self->in, "AuthMethod");
    bool none_ok = self->cfg.auth == LOGIN_AUTH_NONE || self->cfg.auth_allow_none;
    bool chap_ok = self->cfg.auth == LOGIN_AUTH_CHAP;
    if (!v) {
        /* None is the default (§12): a silent answer is None. */
        if (self->cfg.auth == LOGIN_AUTH_NONE)
            return 0;
        return s_fail (self, UIS_ERR_LOGIN_PROTOCOL, NULL,
                       "target did not answer AuthMethod");
    }
    if (s_reserved_value (v)) {
        if (none_ok)
            return 0;
        return s_fail (self, UIS_ERR_NEGOTIATION_REJECT, "target",
                       "target refused the offered AuthMethod");
    }
    if (strcmp (v, "None") == 0 && none_ok)
        return 0;
    if (strcmp (v, "CHAP") == 0 && chap_ok)
        return 1;
    return s_fail (self, UIS_ERR_LOGIN_PROTOCOL, NULL,
                   "AuthMethod answer is not one we offered");
}

/* S_SEC_AUTH, T=0: CHAP goes on with CHAP_A in its own PDU (C1); None
 * asks to transit (B3). */
static int
s_act_auth_stay (login_t *self)
{
    int m = s_auth_answer (self);
    if (m < 0)
        return m;
    int rc;
    if (m == 1) {
        rc = uis_text_add (self->out, "CHAP_A", chap_offer (self->chap));
        if (rc == 0)
            rc = s_load_request (self, PDU_STAGE_SECURITY, 0, false);
        self->next = S_SEC_CHAP_A;
    }
    else {
        if (self->chap && chap_is_mutual (self->chap))
            return s_fail (self, UIS_ERR_AUTH_TARGET, "initiator",
                           "target chose AuthMethod=None, mutual CHAP required");
        rc = s_load_request (self, PDU_STAGE_SECURITY, PDU_STAGE_OPERATIONAL, true);
        self->next = S_SEC_TRANSIT;
    }
    if (rc != 0)
        return s_fail (self, rc, NULL, "cannot build a login request");
    return 0;
}

/* S_SEC_AUTH, T=1 (only possible after our T=1, i.e. AuthMethod=None). */
static int
s_act_auth_transit (login_t *self)
{
    int m = s_auth_answer (self);
    if (m < 0)
        return m;
    if (m == 1)
        return s_fail (self, UIS_ERR_LOGIN_PROTOCOL, NULL,
                       "target chose CHAP and left the security stage");
    return s_leave_security (self);
}

/* Maps a chap.c error to the result (side "initiator": we refuse the
 * target's values). */
static int
s_chap_fail (login_t *self, int rc)
{
    const char *detail = "CHAP failed";
    switch (rc) {
    case UIS_ERR_CHAP_ALGORITHM:
        detail = "target chose a CHAP algorithm we did not offer";
        break;
    case UIS_ERR_CHAP_CHALLENGE:
        detail = "unacceptable CHAP challenge";
        break;
    case UIS_ERR_CHAP_ENCODING:
        detail = "malformed CHAP_I or CHAP_C";
        break;
    case UIS_ERR_AUTH_TARGET:
        detail = "target failed mutual CHAP";
        break;
    default:
        break;
    }
    return s_fail (self, rc, "initiator", detail);
}

/* S_SEC_CHAP_A, T=0: the target's CHAP_A / CHAP_I / CHAP_C (C2-C4); our
 * CHAP_N / CHAP_R (+ CHAP_I / CHAP_C for mutual) with T=1 NSG=1 (C1). */
static int
s_act_chap_challenge (login_t *self)
{
    const char *a = uis_text_find (self->in, "CHAP_A");
    const char *i = uis_text_find (self->in, "CHAP_I");
    const char *c = uis_text_find (self->in, "CHAP_C");
    if (!a)
        return s_fail (self, UIS_ERR_LOGIN_PROTOCOL, NULL, "CHAP_A not answered");
    int rc = chap_select (self->chap, a); /* C2, also for CHAP_A=Reject */
    if (rc != 0)
        return s_chap_fail (self, rc);
    if (!i || !c)
        return s_fail (self, UIS_ERR_LOGIN_PROTOCOL, NULL, "CHAP_I or CHAP_C missing");
    rc = chap_respond (self->chap, i, c, self->random_len ? self->random : NULL,
                       self->random_len);
    if (rc != 0)
        return s_chap_fail (self, rc);
    rc = uis_text_add (self->out, "CHAP_N", chap_user (self->chap));
    if (rc == 0)
        rc = uis_text_add (self->out, "CHAP_R", chap_response (self->chap));
    if (rc == 0 && chap_is_mutual (self->chap)) {
        rc = uis_text_add (self->out, "CHAP_I", chap_our_id (self->chap));
        if (rc == 0)
            rc = uis_text_add (self->out, "CHAP_C", chap_our_challenge (self->chap));
    }
    if (rc == 0)
        rc = s_load_request (self, PDU_STAGE_SECURITY, PDU_STAGE_OPERATIONAL, true);
    if (rc != 0)
        return s_fail (self, rc, NULL, "cannot build the CHAP response");
    return 0;
}

/* Mutual CHAP: verifies the target's CHAP_N / CHAP_R (C6, C7). */
static int
s_verify_target (login_t *self)
{
    if (!chap_is_mutual (self->chap))
        return 0;
    const char *n = uis_text_find (self->in, "CHAP_N");
    const char *r = uis_text_find (self->in, "CHAP_R");
    if (!n || !r)
        return s_fail (self, UIS_ERR_AUTH_TARGET, "initiator",
                       "target did not answer our CHAP challenge");
    int rc = chap_verify_target (self->chap, n, r);
    if (rc != 0)
        return s_chap_fail (self, rc);
    self->target_verified = true;
    return 0;
}

/* S_SEC_CHAP_R, T=0: verdict, then ask to transit. */
static int
s_act_chap_stay (login_t *self)
{
    int rc = s_verify_target (self);
    if (rc != 0)
        return rc;
    rc = s_load_request (self, PDU_STAGE_SECURITY, PDU_STAGE_OPERATIONAL, true);
    if (rc != 0)
        return s_fail (self, rc, NULL, "cannot build a login request");
    return 0;
}

/* S_SEC_CHAP_R, T=1: verdict, then the next stage. */
static int
s_act_chap_transit (login_t *self)
{
    int rc = s_verify_target (self);
    if (rc != 0)
        return rc;
    return s_leave_security (self);
}

/* S_SEC_TRANSIT, T=0 (B3): ask again with T=1 and our answers. */
static int
s_act_sec_again (login_t *self)
{
    int rc = s_load_request (self, PDU_STAGE_SECURITY, PDU_STAGE_OPERATIONAL, true);
    if (rc != 0)
        return s_fail (self, rc, NULL, "cannot build a login request");
    return 0;
}

/* S_SEC_TRANSIT, T=1. */
static int
s_act_sec_transit (login_t *self)
{
    return s_leave_security (self);
}

/* S_OPER, T=0 (B3): answer and ask again to transit. */
static int
s_act_oper_again (login_t *self)
{
    int rc = s_load_request (self, PDU_STAGE_OPERATIONAL, PDU_STAGE_FULL_FEATURE, true);
    if (rc != 0)
        return s_fail (self, rc, NULL, "cannot build a login request");
    return 0;
}

/* S_OPER, T=1 NSG=3: done. §11.13: a T=1 response must not need answers.
 * Answers that carry nothing the target must act on are dropped:
 * NotUnderstood / Irrelevant, and Reject of the obsolete marker keys
 * (§13.25; tgt declares IFMarker=No / OFMarker=No unasked). Any other answer
 * means the target offered a key in its final response: a protocol error. */
static int
s_act_oper_done (login_t *self)
{
    for (size_t k = 0; k < uis_text_size (self->reply); k++) {
        const char *v = uis_text_value (self->reply, k);
        const uis_neg_key_t *row = uis_neg_key_lookup (uis_text_key (self->reply, k));
        bool obsolete = row && (row->flags & UIS_NEG_F_OBSOLETE);
        if (strcmp (v, "NotUnderstood") == 0 || strcmp (v, "Irrelevant") == 0
            || (obsolete && strcmp (v, "Reject") == 0))
            continue;
        return s_fail (self, UIS_ERR_LOGIN_PROTOCOL, NULL,
                       "final login response offers keys that need an answer");
    }
    uis_text_clear (self->reply);
    return s_finish (self);
}

/* Superstate, C=1 from the target (B4): an empty request, same stage. */
static int
s_act_ack_partial (login_t *self)
{
    uis_text_clear (self->out);
    uis_text_clear (self->reply);
    int rc = s_load_request (self, self->sent_csg, 0, false);
    if (rc != 0)
        return s_fail (self, rc, NULL, "cannot build a login request");
    self->req_is_ack = true;
    return 0;
}

/* Superstate, the target acknowledged one of our C=1 PDUs (B4): the next
 * chunk is already loaded. */
static int
s_act_send_chunk (login_t *self)
{
    self->have_request = true;
    return 0;
}

/* Splits "host[:port][,tpgt]" (§13.8) into the result's redirect fields. */
static int
s_parse_target_address (login_t *self, const char *v)
{
    size_t n = strnlen (v, UIS_TEXT_VALUE_MAX + 1);
    if (n > UIS_TEXT_VALUE_MAX)
        return UIS_ERR_TOO_LONG;
    const char *comma = memchr (v, ',', n);
    size_t host_len = comma ? (size_t)(comma - v) : n;
    self->result.redirect_has_tpgt = false;
    if (comma) {
        uint64_t tpgt;
        if (uis_neg_parse_number (comma + 1, &tpgt) != 0 || tpgt > 65535)
            return UIS_ERR_MALFORMED;
        self->result.redirect_has_tpgt = true;
        self->result.redirect_tpgt = (uint16_t)tpgt;
    }
    return uis_portal_parse_n (v, host_len, &self->result.redirect);
}

/* Superstate, status class 1 (B5): the parsed TargetAddress. */
static int
s_act_redirect (login_t *self)
{
    const pdu_login_rsp_t *r = &self->rsp->u.login_rsp;
    login_status_info_t info = login_status_info (r->status_class, r->status_detail);
    if (info.error != UIS_ERR_LOGIN_REDIRECT)
        return s_fail (self, UIS_ERR_LOGIN_STATUS, "", "unknown redirection status");
    const char *addr = uis_text_find (self->in, "TargetAddress");
    if (!addr || s_parse_target_address (self, addr) != 0)
        return s_fail (self, UIS_ERR_LOGIN_PROTOCOL, NULL,
                       "redirection without a valid TargetAddress");
    self->result.error = UIS_ERR_LOGIN_REDIRECT;
    self->result.detail =
        info.status_detail == 2 ? "target moved permanently" : "target moved temporarily";
    self->result.side = "";
    self->result.redirect_permanent = info.status_detail == 2;
    self->have_request = false;
    return 0;
}

/* Superstate, status class 2 or 3 (B6, C5). */
static int
s_act_refused (login_t *self)
{
    const pdu_login_rsp_t *r = &self->rsp->u.login_rsp;
    login_status_info_t info = login_status_info (r->status_class, r->status_detail);
    int code = info.error ? info.error : UIS_ERR_LOGIN_STATUS;
    return s_fail (self, code, code == UIS_ERR_AUTH_FAILED ? "target" : "",
                   code == UIS_ERR_AUTH_FAILED ? "target rejected our credentials"
                                               : "target refused the login");
}

/* Superstate, a broken rule: the detail was recorded already. */
static int
s_act_invalid (login_t *self)
{
    self->have_request = false;
    return 0;
}

static const transition_t s_table[] = {
    {S_IDLE, EV_START, s_act_start, S_SEC_AUTH},
    {S_SEC_AUTH, EV_RSP_STAY, s_act_auth_stay, NEXT_DYNAMIC},
    {S_SEC_AUTH, EV_RSP_TRANSIT, s_act_auth_transit, NEXT_DYNAMIC},
    {S_SEC_CHAP_A, EV_RSP_STAY, s_act_chap_challenge, S_SEC_CHAP_R},
    {S_SEC_CHAP_R, EV_RSP_STAY, s_act_chap_stay, S_SEC_TRANSIT},
    {S_SEC_CHAP_R, EV_RSP_TRANSIT, s_act_chap_transit, NEXT_DYNAMIC},
    {S_SEC_TRANSIT, EV_RSP_STAY, s_act_sec_again, S_SEC_TRANSIT},
    {S_SEC_TRANSIT, EV_RSP_TRANSIT, s_act_sec_transit, NEXT_DYNAMIC},
    {S_OPER, EV_RSP_STAY, s_act_oper_again, S_OPER},
    {S_OPER, EV_RSP_TRANSIT, s_act_oper_done, S_FFP},
    /* superstate rows: every waiting state */
    {ANY_STATE, EV_RSP_PARTIAL, s_act_ack_partial, NEXT_SAME},
    {ANY_STATE, EV_RSP_ACK, s_act_send_chunk, NEXT_SAME},
    {ANY_STATE, EV_RSP_REDIRECT, s_act_redirect, S_REDIRECT},
    {ANY_STATE, EV_RSP_REFUSED, s_act_refused, S_FAILED},
    {ANY_STATE, EV_RSP_INVALID, s_act_invalid, S_FAILED},
};

/* true for the states that wait for a response. */
static bool
s_waiting (state_t s)
{
    return s >= S_SEC_AUTH && s <= S_OPER;
}

/* Runs the row for (state, event). An action that fails has moved to
 * S_FAILED itself; a missing row is a protocol violation. */
static int
s_dispatch (login_t *self, event_t ev)
{
    self->last_event = ev;
    for (size_t i = 0; i < sizeof s_table / sizeof s_table[0]; i++) {
        const transition_t *t = &s_table[i];
        if (t->event != ev)
            continue;
        if (t->state == ANY_STATE ? !s_waiting (self->state)
                                  : t->state != (int)self->state)
            continue;
        self->next = t->next >= 0 ? (state_t)t->next : self->state;
        int rc = t->action (self);
        if (rc != 0 || self->state == S_FAILED)
            return rc ? rc : self->result.error;
        self->state = self->next;
        if (self->state == S_FAILED || self->state == S_REDIRECT)
            return self->result.error;
        return 0;
    }
    return s_fail (self, UIS_ERR_LOGIN_PROTOCOL, NULL, "response not expected now");
}

/* ---- response validation ------------------------------------------------ */

/* Invalid response: records the detail and runs the superstate row. */
static int
s_invalid (login_t *self, int code, const char *detail)
{
    s_record (self, code, NULL, detail);
    s_dispatch (self, EV_RSP_INVALID);
    return code;
}

/* Classification of a key in a login response. */
static int
s_check_keys (login_t *self, uint8_t csg)
{
    for (size_t k = 0; k < uis_text_size (self->in); k++) {
        const char *key = uis_text_key (self->in, k);
        if (strcmp (key, "TargetName") == 0)
            return s_invalid (self, UIS_ERR_LOGIN_PROTOCOL,
                              "initiator-only key in a login response");
        const uis_neg_key_t *row = uis_neg_key_lookup (key);
        if (!row || (row->flags & UIS_NEG_F_VENDOR))
            continue; /* unknown: answered NotUnderstood by negotiate.c */
        if (!(row->senders & UIS_NEG_BY_TARGET))
            return s_invalid (self, UIS_ERR_LOGIN_PROTOCOL,
                              "initiator-only key in a login response");
        if (row->flags & UIS_NEG_F_INFORMATIONAL)
            continue;
        bool security = (row->flags & UIS_NEG_F_SECURITY) != 0;
        if (csg != PDU_STAGE_SECURITY) {
            if (security)
                return s_invalid (self, UIS_ERR_LOGIN_PROTOCOL,
                                  "security key in the operational stage");
            continue;
        }
        if (!security)
            return s_invalid (self, UIS_ERR_LOGIN_PROTOCOL,
                              "operational key in the security stage");
        /* Only the keys the current CHAP step expects. */
        bool ok = false;
        switch (self->state) {
        case S_SEC_AUTH:
            ok = strcmp (key, "AuthMethod") == 0;
            break;
        case S_SEC_CHAP_A:
            ok = strcmp (key, "CHAP_A") == 0 || strcmp (key, "CHAP_I") == 0
                 || strcmp (key, "CHAP_C") == 0;
            break;
        case S_SEC_CHAP_R:
            ok = (strcmp (key, "CHAP_N") == 0 || strcmp (key, "CHAP_R") == 0)
                 && chap_is_mutual (self->chap);
            break;
        default:
            break;
        }
        if (!ok)
            return s_invalid (self, UIS_ERR_LOGIN_PROTOCOL,
                              "security key not expected at this step");
    }
    return 0;
}

/* Checks the class-0 header fields against the request we sent. */
static int
s_check_header (login_t *self, const pdu_login_rsp_t *r, size_t len)
{
    if (r->version_active != 0)
        return s_invalid (self, UIS_ERR_LOGIN_PROTOCOL, "version-active is not 0");
    if (memcmp (r->isid, self->cfg.isid, PDU_ISID_LEN) != 0)
        return s_invalid (self, UIS_ERR_LOGIN_PROTOCOL, "ISID not echoed");
    if (r->csg != self->sent_csg)
        return s_invalid (self, UIS_ERR_LOGIN_PROTOCOL, "CSG not echoed");
    if (r->cont && r->transit)
        return s_invalid (self, UIS_ERR_LOGIN_PROTOCOL,
                          "login response with C=1 and T=1");
    /* B4: each of our C=1 PDUs is answered by an empty response. */
    if (self->sent_cont && (len != 0 || r->cont || r->transit))
        return s_invalid (self, UIS_ERR_LOGIN_PROTOCOL,
                          "non-empty answer to a C=1 login request");
    bool final = false;
    if (r->transit) {
        /* §11.13.3: T=1 only in answer to T=1. */
        if (!self->sent_transit)
            return s_invalid (self, UIS_ERR_LOGIN_PROTOCOL,
                              "T=1 answer to a T=0 request");
        if ((r->nsg != PDU_STAGE_OPERATIONAL && r->nsg != PDU_STAGE_FULL_FEATURE)
            || r->nsg <= r->csg || r->nsg < self->sent_nsg)
            return s_invalid (self, UIS_ERR_LOGIN_PROTOCOL, "illegal NSG");
        final = r->nsg == PDU_STAGE_FULL_FEATURE;
    }
    /* §11.13: TSIH echoes ours except in the final response of a new
     * session, which assigns it. */
    if (final && self->cfg.tsih == 0) {
        if (r->tsih == 0)
            return s_invalid (self, UIS_ERR_LOGIN_PROTOCOL,
                              "final response without TSIH");
    }
    else if (r->tsih != self->cfg.tsih)
        return s_invalid (self, UIS_ERR_LOGIN_PROTOCOL,
                          "TSIH set before the final response");
    return 0;
}

int
login_handle_response (login_t *self, const pdu_t *pdu, const uint8_t *data, size_t len)
{
    if (!self)
        return UIS_ERR_INVALID_ARG;
    if (!s_waiting (self->state) || self->have_request)
        return UIS_ERR_STATE;
    self->rsp = pdu;
    if (++self->pdus > self->cfg.max_pdus)
        return s_invalid (self, UIS_ERR_LOGIN_PROTOCOL, "too many login responses");
    if (!pdu || (len && !data) || pdu->data_segment_length != len)
        return s_invalid (self, UIS_ERR_LOGIN_PROTOCOL, "data segment length mismatch");
    if (pdu->opcode != PDU_OP_LOGIN_RSP)
        return s_invalid (self, UIS_ERR_LOGIN_PROTOCOL, "not a login response");
    if (pdu->itt != self->cfg.itt)
        return s_invalid (self, UIS_ERR_LOGIN_PROTOCOL,
                          "login response ITT does not match");
    const pdu_login_rsp_t *r = &pdu->u.login_rsp;
    self->exp_statsn = r->statsn + 1; /* B13 */
    login_status_info_t info = login_status_info (r->status_class, r->status_detail);
    self->result.status_class = r->status_class;
    self->result.status_detail = r->status_detail;
    self->result.status_name = info.name;
    self->result.retriable = info.retriable;

    if (r->status_class != PDU_LOGIN_CLASS_SUCCESS) {
        uis_text_clear (self->in);
        if (r->status_class == PDU_LOGIN_CLASS_REDIRECT) {
            if (len && uis_text_parse (self->in, data, len, 0) != 0)
                return s_invalid (self, UIS_ERR_LOGIN_PROTOCOL,
                                  "malformed redirection text");
            return s_dispatch (self, EV_RSP_REDIRECT);
        }
        return s_dispatch (self, EV_RSP_REFUSED);
    }
    if (r->status_detail != 0)
        return s_invalid (self, UIS_ERR_LOGIN_PROTOCOL, "unknown success status detail");
    int rc = s_check_header (self, r, len);
    if (rc != 0)
        return rc;
    if (self->sent_cont)
        return s_dispatch (self, EV_RSP_ACK);

    rc = uis_text_rx_feed (self->rx, data, len, r->cont);
    if (rc == UIS_ERR_TOO_LONG)
        return s_invalid (self, UIS_ERR_LOGIN_PROTOCOL, "login text exceeds the limit");
    if (rc != 0)
        return s_invalid (self, rc, "cannot store the login text");
    if (r->cont) {
        if (len == 0)
            return s_invalid (self, UIS_ERR_LOGIN_PROTOCOL,
                              "C=1 login response without data");
        return s_dispatch (self, EV_RSP_PARTIAL);
    }
    if (++self->rounds > self->cfg.max_rounds)
        return s_invalid (self, UIS_ERR_LOGIN_PROTOCOL, "too many login rounds");
    rc = uis_text_rx_parse (self->rx, self->in, 0);
    uis_text_rx_reset (self->rx);
    if (rc != 0)
        return s_invalid (self, UIS_ERR_LOGIN_PROTOCOL, "malformed login text");
    rc = s_check_keys (self, r->csg);
    if (rc != 0)
        return rc;
    uis_text_clear (self->reply);
    rc =
        uis_negotiate_process (self->neg, (uis_neg_stage_t)r->csg, self->in, self->reply);
    if (rc != 0)
        return s_invalid (self, rc, "negotiation failed");
    return s_dispatch (self, r->transit ? EV_RSP_TRANSIT : EV_RSP_STAY);
}

/* ---- public API ------------------------------------------------------------ */

void
login_isid_random (uint8_t isid[PDU_ISID_LEN], const uint8_t random[3],
                   uint16_t qualifier)
{
    isid[0] = 0x80; /* T = 10b (random), A = 0 (reserved for this format) */
    isid[1] = random[0];
    isid[2] = random[1];
    isid[3] = random[2];
    isid[4] = (uint8_t)(qualifier >> 8);
    isid[5] = (uint8_t)qualifier;
}

login_status_info_t
login_status_info (uint8_t status_class, uint8_t status_detail)
{
    /* RFC 7143 §11.13.5. */
    static const login_status_info_t table[] = {
        {0, 0x00, "SUCCESS", 0, false},
        {1, 0x01, "TARGET_MOVED_TEMPORARILY", UIS_ERR_LOGIN_REDIRECT, false},
        {1, 0x02, "TARGET_MOVED_PERMANENTLY", UIS_ERR_LOGIN_REDIRECT, false},
        {2, 0x00, "INITIATOR_ERROR", UIS_ERR_LOGIN_STATUS, false},
        {2, 0x01, "AUTHENTICATION_FAILURE", UIS_ERR_AUTH_FAILED, false},
        {2, 0x02, "AUTHORIZATION_FAILURE", UIS_ERR_AUTH_FAILED, false},
        {2, 0x03, "TARGET_NOT_FOUND", UIS_ERR_LOGIN_STATUS, false},
        {2, 0x04, "TARGET_REMOVED", UIS_ERR_LOGIN_STATUS, false},
        {2, 0x05, "UNSUPPORTED_VERSION", UIS_ERR_LOGIN_STATUS, false},
        {2, 0x06, "TOO_MANY_CONNECTIONS", UIS_ERR_LOGIN_STATUS, false},
        {2, 0x07, "MISSING_PARAMETER", UIS_ERR_LOGIN_STATUS, false},
        {2, 0x08, "CANT_INCLUDE_IN_SESSION", UIS_ERR_LOGIN_STATUS, false},
        {2, 0x09, "SESSION_TYPE_NOT_SUPPORTED", UIS_ERR_LOGIN_STATUS, false},
        {2, 0x0a, "SESSION_DOES_NOT_EXIST", UIS_ERR_LOGIN_STATUS, false},
        {2, 0x0b, "INVALID_DURING_LOGIN", UIS_ERR_LOGIN_STATUS, false},
        {3, 0x00, "TARGET_ERROR", UIS_ERR_LOGIN_STATUS, true},
        {3, 0x01, "SERVICE_UNAVAILABLE", UIS_ERR_LOGIN_STATUS, true},
        {3, 0x02, "OUT_OF_RESOURCES", UIS_ERR_LOGIN_STATUS, true},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].status_class == status_class
            && table[i].status_detail == status_detail)
            return table[i];
    login_status_info_t u = {status_class, status_detail, "UNKNOWN_STATUS",
                             UIS_ERR_LOGIN_STATUS, false};
    switch (status_class) {
    case 0:
        u.name = "UNKNOWN_SUCCESS";
        break;
    case 1:
        u.name = "UNKNOWN_REDIRECTION";
        break;
    case 2:
        u.name = "UNKNOWN_INITIATOR_ERROR";
        break;
    case 3:
        u.name = "UNKNOWN_TARGET_ERROR";
        u.retriable = true;
        break;
    default:
        break;
    }
    return u;
}

int
login_config_check (const login_config_t *cfg)
{
    if (!cfg || !s_name_ok (cfg->initiator_name))
        return UIS_ERR_INVALID_ARG;
    if (cfg->initiator_alias
        && strnlen (cfg->initiator_alias, UIS_TEXT_VALUE_MAX + 1) > UIS_TEXT_VALUE_MAX)
        return UIS_ERR_INVALID_ARG;
    if (cfg->discovery ? cfg->target_name != NULL : !s_name_ok (cfg->target_name))
        return UIS_ERR_INVALID_ARG;
    if (cfg->auth == LOGIN_AUTH_NONE)
        return 0;
    if (cfg->auth != LOGIN_AUTH_CHAP)
        return UIS_ERR_INVALID_ARG;
    int rc = chap_config_check (&cfg->chap);
    if (rc != 0)
        return rc;
    if (cfg->chap.target_user && (!cfg->random || cfg->random_len < CHAP_RANDOM_LEN))
        return UIS_ERR_INVALID_ARG;
    return 0;
}

login_t *
login_new (const login_config_t *cfg, uis_negotiate_t **neg_p)
{
    if (login_config_check (cfg) != 0)
        return NULL;
    login_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    /* Never keep the caller's pointers: the copies below replace them. */
    memset (&self->cfg.chap, 0, sizeof self->cfg.chap);
    self->cfg.random = NULL;
    self->cfg.initiator_name = self->cfg.initiator_alias = self->cfg.target_name = NULL;
    if (self->cfg.max_send_dsl == 0 || self->cfg.max_send_dsl > LOGIN_DSL)
        self->cfg.max_send_dsl = LOGIN_DSL;
    if (self->cfg.max_rounds == 0)
        self->cfg.max_rounds = LOGIN_MAX_ROUNDS_DEFAULT;
    if (self->cfg.max_pdus == 0)
        self->cfg.max_pdus = LOGIN_MAX_PDUS_DEFAULT;
    self->initiator_name = s_strdup (cfg->initiator_name);
    self->initiator_alias = s_strdup (cfg->initiator_alias);
    self->target_name = s_strdup (cfg->target_name);
    bool ok = self->initiator_name && (self->initiator_alias || !cfg->initiator_alias)
              && (self->target_name || !cfg->target_name);
    if (cfg->auth == LOGIN_AUTH_CHAP) {
        self->chap = chap_new (&cfg->chap);
        ok = ok && self->chap;
        if (cfg->chap.target_user) {
            memcpy (self->random, cfg->random, CHAP_RANDOM_LEN);
            self->random_len = CHAP_RANDOM_LEN;
        }
    }
    self->out = uis_text_new ();
    self->in = uis_text_new ();
    self->reply = uis_text_new ();
    self->tx = uis_text_tx_new ();
    self->rx = uis_text_rx_new (cfg->max_text);
    ok = ok && self->out && self->in && self->reply && self->tx && self->rx;
    if (ok && (!neg_p || !*neg_p)) {
        self->neg = uis_negotiate_new (cfg->discovery ? UIS_NEG_SESSION_DISCOVERY
                                                      : UIS_NEG_SESSION_NORMAL);
        ok = self->neg != NULL;
    }
    if (!ok) {
        login_destroy (&self);
        return NULL;
    }
    if (neg_p && *neg_p) {
        self->neg = *neg_p;
        *neg_p = NULL;
    }
    self->state = S_IDLE;
    self->exp_statsn = cfg->exp_statsn;
    self->result.detail = "";
    self->result.side = "";
    self->result.status_name = "";
    return self;
}

void
login_destroy (login_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    login_t *self = *self_p;
    chap_destroy (&self->chap);
    uis_negotiate_destroy (&self->neg);
    uis_text_destroy (&self->out);
    uis_text_destroy (&self->in);
    uis_text_destroy (&self->reply);
    uis_text_tx_destroy (&self->tx);
    uis_text_rx_destroy (&self->rx);
    free (self->initiator_name);
    free (self->initiator_alias);
    free (self->target_name);
    OPENSSL_cleanse (self, sizeof *self);
    free (self);
    *self_p = NULL;
}

int
login_start (login_t *self)
{
    if (!self)
        return UIS_ERR_INVALID_ARG;
    if (self->state != S_IDLE)
        return UIS_ERR_STATE;
    return s_dispatch (self, EV_START);
}

int
login_next_request (login_t *self, pdu_t *pdu, const uint8_t **data, size_t *len)
{
    if (!self || !pdu || !data || !len)
        return UIS_ERR_INVALID_ARG;
    if (!s_waiting (self->state) || !self->have_request)
        return UIS_ERR_STATE;
    const uint8_t *chunk;
    size_t n;
    bool cont;
    int rc = uis_text_tx_next (self->tx, self->cfg.max_send_dsl, &chunk, &n, &cont);
    if (rc != 0)
        return s_fail (self, rc, NULL, "cannot split the login text");
    /* §11.12.2: a PDU with C=1 has T=0; the last one carries T / NSG. */
    bool transit = !cont && self->req_transit;
    memset (pdu, 0, sizeof *pdu);
    pdu->opcode = PDU_OP_LOGIN_REQ;
    pdu->immediate = true;
    pdu->final = transit;
    pdu->data_segment_length = (uint32_t)n;
    pdu->itt = self->cfg.itt;
    pdu_login_req_t *q = &pdu->u.login_req;
    q->transit = transit;
    q->cont = cont;
    q->csg = self->req_csg;
    q->nsg = transit ? self->req_nsg : 0;
    q->version_max = 0;
    q->version_min = 0;
    memcpy (q->isid, self->cfg.isid, PDU_ISID_LEN);
    q->tsih = self->cfg.tsih;
    q->cid = self->cfg.cid;
    q->cmdsn = self->cfg.cmdsn;
    q->exp_statsn = self->exp_statsn;
    *data = chunk;
    *len = n;
    self->sent_cont = cont;
    self->sent_csg = q->csg;
    if (!self->req_is_ack) {
        self->sent_transit = self->req_transit;
        self->sent_nsg = self->req_nsg;
    }
    /* The next chunk of a split request waits for the target's ack. */
    self->have_request = false;
    return 0;
}

login_state_t
login_state (const login_t *self)
{
    if (!self)
        return LOGIN_FAILED;
    switch (self->state) {
    case S_IDLE:
        return LOGIN_IDLE;
    case S_FFP:
        return LOGIN_DONE;
    case S_REDIRECT:
        return LOGIN_REDIRECT;
    case S_FAILED:
        return LOGIN_FAILED;
    default:
        return self->have_request ? LOGIN_SEND : LOGIN_WAIT;
    }
}

const login_result_t *
login_result (const login_t *self)
{
    return self ? &self->result : NULL;
}

const char *
login_phase_name (const login_t *self)
{
    return self ? s_state_names[self->state] : "unknown";
}

const char *
login_last_event_name (const login_t *self)
{
    return self ? s_event_names[self->last_event] : "unknown";
}

const uint8_t *
login_chap_challenge (const login_t *self, size_t *len)
{
    if (!self || !self->chap) {
        if (len)
            *len = 0;
        return NULL;
    }
    return chap_our_challenge_bytes (self->chap, len);
}

uis_negotiate_t *
login_take_negotiate (login_t *self)
{
    if (!self || self->state != S_FFP)
        return NULL;
    uis_negotiate_t *neg = self->neg;
    self->neg = NULL;
    return neg;
}
