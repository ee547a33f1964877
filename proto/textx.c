/* textx.c: Text Request / Response exchange (RFC 7143 §11.10, §11.11) as an
 * explicit transition table. */
#include "textx.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"

/* Events fed to the table. */
typedef enum {
    EV_START,     /* textx_start */
    EV_SENT,      /* textx_next_request handed out a PDU */
    EV_RSP_ACK,   /* empty response to one of our C=1 chunks */
    EV_RSP_MORE,  /* response with C=1 or F=0: send a continuation */
    EV_RSP_FINAL, /* final response (F=1, TTT 0xffffffff) */
    EV_RSP_BAD,   /* a response that breaks a rule (superstate event) */
    EV__COUNT
} event_t;

static const char *s_event_names[EV__COUNT] = {"start",    "sent",  "rsp_ack",
                                               "rsp_more", "final", "rsp_bad"};

static const char *s_state_names[] = {"idle", "send", "wait", "done", "failed"};

struct textx {
    textx_config_t cfg;
    textx_state_t state;
    uis_text_tx_t *tx;  /* our request text, chunked */
    uis_text_rx_t *rx;  /* the response text, reassembled */
    uis_text_t *parsed; /* scratch for textx_start_key */
    uint32_t itt;
    uint32_t prev_itt;
    bool have_prev;
    uint32_t ttt;  /* TTT the next request carries */
    unsigned pdus; /* responses in this exchange */
    unsigned requests;
    event_t last_event;
    int error;
    const char *detail;
    /* the response being dispatched */
    const uint8_t *rsp_data;
    size_t rsp_len;
    bool rsp_cont;
    /* the request handed out */
    const uint8_t *chunk;
    size_t chunk_len;
    bool chunk_cont;
};

typedef int (*action_fn) (textx_t *self);

/* One row: in state, on event, run action, then go to next (or to
 * TEXTX_FAILED when the action fails). */
typedef struct {
    int state; /* -1: any state (superstate row) */
    event_t event;
    action_fn action;
    textx_state_t next;
} transition_t;

/* Resets the per-exchange state and loads the request; see textx_start. */
static int
s_act_start (textx_t *self)
{
    (void)self;
    return 0; /* the loading is done by textx_start before dispatch */
}

static int
s_act_none (textx_t *self)
{
    (void)self;
    return 0;
}

/* Reassembles a continued response: the next request is an empty
 * continuation echoing the TTT. */
static int
s_act_more (textx_t *self)
{
    int rc = uis_text_rx_feed (self->rx, self->rsp_data, self->rsp_len, true);
    /* F=0, C=0 ends one LTDS: keep the pairs apart when the target left out
     * the final NUL (tolerated by text.h for the last pair). */
    if (rc == 0 && !self->rsp_cont && self->rsp_len > 0
        && self->rsp_data[self->rsp_len - 1] != '\0')
        rc = uis_text_rx_feed (self->rx, (const uint8_t *)"", 1, true);
    if (rc == UIS_ERR_TOO_LONG)
        self->detail = "response text exceeds the limit";
    return rc;
}

/* The last response: completes the text. */
static int
s_act_final (textx_t *self)
{
    int rc = uis_text_rx_feed (self->rx, self->rsp_data, self->rsp_len, false);
    if (rc == UIS_ERR_TOO_LONG)
        self->detail = "response text exceeds the limit";
    return rc;
}

static int
s_act_fail (textx_t *self)
{
    (void)self;
    return 0;
}

static const transition_t s_table[] = {
    {TEXTX_IDLE, EV_START, s_act_start, TEXTX_SEND},
    {TEXTX_DONE, EV_START, s_act_start, TEXTX_SEND},
    {TEXTX_FAILED, EV_START, s_act_start, TEXTX_SEND},
    {TEXTX_SEND, EV_SENT, s_act_none, TEXTX_WAIT},
    {TEXTX_WAIT, EV_RSP_ACK, s_act_none, TEXTX_SEND},
    {TEXTX_WAIT, EV_RSP_MORE, s_act_more, TEXTX_SEND},
    {TEXTX_WAIT, EV_RSP_FINAL, s_act_final, TEXTX_DONE},
    {-1, EV_RSP_BAD, s_act_fail, TEXTX_FAILED},
};

/* Runs the row for (state, event). UIS_ERR_STATE when there is none. */
static int
s_dispatch (textx_t *self, event_t ev)
{
    self->last_event = ev;
    for (size_t i = 0; i < sizeof s_table / sizeof s_table[0]; i++) {
        const transition_t *t = &s_table[i];
        if (t->event != ev || (t->state != -1 && t->state != (int)self->state))
            continue;
        int rc = t->action (self);
        if (rc != 0) {
            self->state = TEXTX_FAILED;
            self->error = rc;
            if (!self->detail)
                self->detail = "action failed";
            return rc;
        }
        self->state = t->next;
        return 0;
    }
    return UIS_ERR_STATE;
}

textx_t *
textx_new (const textx_config_t *cfg)
{
    textx_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    if (cfg)
        self->cfg = *cfg;
    if (self->cfg.max_send_dsl == 0)
        self->cfg.max_send_dsl = TEXTX_SEND_DSL_DEFAULT;
    if (self->cfg.max_pdus == 0)
        self->cfg.max_pdus = TEXTX_MAX_PDUS_DEFAULT;
    self->tx = uis_text_tx_new ();
    self->rx = uis_text_rx_new (self->cfg.max_total);
    self->parsed = uis_text_new ();
    if (!self->tx || !self->rx || !self->parsed) {
        textx_destroy (&self);
        return NULL;
    }
    self->state = TEXTX_IDLE;
    self->ttt = PDU_RESERVED_TAG;
    self->itt = PDU_RESERVED_TAG;
    return self;
}

void
textx_destroy (textx_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    textx_t *self = *self_p;
    uis_text_tx_destroy (&self->tx);
    uis_text_rx_destroy (&self->rx);
    uis_text_destroy (&self->parsed);
    free (self);
    *self_p = NULL;
}

void
textx_set_send_dsl (textx_t *self, uint32_t max_send_dsl)
{
    if (self)
        self->cfg.max_send_dsl = max_send_dsl ? max_send_dsl : TEXTX_SEND_DSL_DEFAULT;
}

int
textx_start (textx_t *self, uis_text_t *request, uint32_t itt)
{
    if (!self || !request)
        return UIS_ERR_INVALID_ARG;
    if (self->state == TEXTX_SEND || self->state == TEXTX_WAIT)
        return UIS_ERR_STATE;
    /* B18: a fresh ITT per exchange, never the reserved tag. */
    if (itt == PDU_RESERVED_TAG || (self->have_prev && itt == self->prev_itt))
        return UIS_ERR_INVALID_ARG;
    int rc = uis_text_tx_load (self->tx, request);
    if (rc != 0)
        return rc;
    /* B18: nothing of the previous exchange survives. */
    uis_text_rx_reset (self->rx);
    self->itt = itt;
    self->prev_itt = itt;
    self->have_prev = true;
    self->ttt = PDU_RESERVED_TAG;
    self->pdus = 0;
    self->requests = 0;
    self->error = 0;
    self->detail = NULL;
    self->chunk = NULL;
    self->chunk_len = 0;
    return s_dispatch (self, EV_START);
}

int
textx_start_key (textx_t *self, const char *key, const char *value, uint32_t itt)
{
    if (!self || !key || !value)
        return UIS_ERR_INVALID_ARG;
    uis_text_clear (self->parsed);
    int rc = uis_text_add (self->parsed, key, value);
    if (rc != 0)
        return rc;
    return textx_start (self, self->parsed, itt);
}

int
textx_next_request (textx_t *self, uint32_t cmdsn, uint32_t exp_statsn, pdu_t *pdu,
                    const uint8_t **data, size_t *len)
{
    if (!self || !pdu || !data || !len)
        return UIS_ERR_INVALID_ARG;
    if (self->state != TEXTX_SEND)
        return UIS_ERR_STATE;
    if (!uis_text_tx_done (self->tx)) {
        /* Our own text, possibly split at the target's MRDSL. */
        int rc = uis_text_tx_next (self->tx, self->cfg.max_send_dsl, &self->chunk,
                                   &self->chunk_len, &self->chunk_cont);
        if (rc != 0)
            return rc;
    }
    else {
        /* A continuation request: empty, F=1, TTT echoed. */
        self->chunk = (const uint8_t *)"";
        self->chunk_len = 0;
        self->chunk_cont = false;
    }
    memset (pdu, 0, sizeof *pdu);
    pdu->opcode = PDU_OP_TEXT_REQ;
    pdu->immediate = false;
    pdu->final = !self->chunk_cont; /* C=1 requires F=0 (§11.10.2) */
    pdu->data_segment_length = (uint32_t)self->chunk_len;
    pdu->lun = 0;
    pdu->itt = self->itt;
    pdu->u.text_req.cont = self->chunk_cont;
    pdu->u.text_req.ttt = self->ttt;
    pdu->u.text_req.cmdsn = cmdsn;
    pdu->u.text_req.exp_statsn = exp_statsn;
    *data = self->chunk;
    *len = self->chunk_len;
    self->requests++;
    return s_dispatch (self, EV_SENT);
}

/* Marks the response as bad with a static detail and fails the exchange. */
static int
s_bad (textx_t *self, int code, const char *detail)
{
    self->detail = detail;
    s_dispatch (self, EV_RSP_BAD);
    self->error = code;
    return code;
}

int
textx_handle_response (textx_t *self, const pdu_t *pdu, const uint8_t *data, size_t len)
{
    if (!self)
        return UIS_ERR_INVALID_ARG;
    if (self->state != TEXTX_WAIT)
        return UIS_ERR_STATE;
    if (!pdu || (len && !data) || pdu->data_segment_length != len)
        return s_bad (self, UIS_ERR_PROTOCOL, "data segment length mismatch");
    if (pdu->opcode != PDU_OP_TEXT_RSP)
        return s_bad (self, UIS_ERR_PROTOCOL, "not a text response");
    if (pdu->itt != self->itt)
        return s_bad (self, UIS_ERR_PROTOCOL, "text response ITT does not match");
    if (++self->pdus > self->cfg.max_pdus)
        return s_bad (self, UIS_ERR_TOO_LONG, "too many text responses");
    const pdu_text_rsp_t *r = &pdu->u.text_rsp;
    if (r->cont && pdu->final)
        return s_bad (self, UIS_ERR_PROTOCOL, "text response with C=1 and F=1");
    self->rsp_data = data;
    self->rsp_len = len;
    self->rsp_cont = r->cont;
    if (!uis_text_tx_done (self->tx)) {
        /* The target acknowledges one of our C=1 chunks. */
        if (len != 0 || r->cont || pdu->final)
            return s_bad (self, UIS_ERR_PROTOCOL, "non-empty answer to a C=1 request");
        self->ttt = r->ttt;
        return s_dispatch (self, EV_RSP_ACK);
    }
    if (pdu->final) {
        if (r->ttt != PDU_RESERVED_TAG)
            return s_bad (self, UIS_ERR_PROTOCOL, "final text response with a TTT");
        int rc = s_dispatch (self, EV_RSP_FINAL);
        if (rc != 0)
            self->error = rc;
        return rc;
    }
    /* F=0: the target has more and needs a TTT for us to ask for it. */
    if (r->ttt == PDU_RESERVED_TAG)
        return s_bad (self, UIS_ERR_PROTOCOL, "continued text response without a TTT");
    if (r->cont && len == 0)
        return s_bad (self, UIS_ERR_PROTOCOL, "text response with C=1 and no data");
    self->ttt = r->ttt;
    return s_dispatch (self, EV_RSP_MORE);
}

textx_state_t
textx_state (const textx_t *self)
{
    return self ? self->state : TEXTX_FAILED;
}

const char *
textx_state_name (textx_state_t state)
{
    if ((unsigned)state >= sizeof s_state_names / sizeof s_state_names[0])
        return "unknown";
    return s_state_names[state];
}

int
textx_error (const textx_t *self)
{
    return self ? self->error : UIS_ERR_INVALID_ARG;
}

const char *
textx_error_detail (const textx_t *self)
{
    return self && self->detail ? self->detail : "";
}

const uint8_t *
textx_response (const textx_t *self, size_t *len)
{
    if (!self || self->state != TEXTX_DONE) {
        if (len)
            *len = 0;
        return NULL;
    }
    size_t n = 0;
    const uint8_t *p = uis_text_rx_data (self->rx, &n);
    if (len)
        *len = n;
    return p ? p : (const uint8_t *)"";
}

int
textx_response_parse (const textx_t *self, uis_text_t *out, unsigned flags)
{
    if (!self || !out)
        return UIS_ERR_INVALID_ARG;
    if (self->state != TEXTX_DONE)
        return UIS_ERR_STATE;
    return uis_text_rx_parse (self->rx, out, flags);
}

const char *
textx_last_event_name (const textx_t *self)
{
    return self ? s_event_names[self->last_event] : "unknown";
}

uint32_t
textx_itt (const textx_t *self)
{
    return self ? self->itt : PDU_RESERVED_TAG;
}

unsigned
textx_requests (const textx_t *self)
{
    return self ? self->requests : 0;
}
