/* login_flow.h: what a session needs to log in, again and again: the
 * ENG_OPEN / ENG_DISCOVER parameters (portal, target, initiator name, auth
 * with CHAP secrets from the call or a secret_file, negotiation overrides,
 * keepalive, digest byte order, ISID), turned into a fresh proto/login.h
 * machine for each attempt (first login, redirect hop, reinstatement), and
 * the mapping of a login outcome to a JSON-RPC error object (API.md).
 *
 * Secrets are copied into memory owned by the flow, wiped (OPENSSL_cleanse)
 * on destroy; a secret_file is read (at most CHAP_SECRET_MAX bytes plus a
 * newline), one trailing newline is stripped and the read buffer wiped.
 * Secrets, file paths and other caller values never appear in errors or
 * logs: errors name the parameter only. */
#ifndef UISCSI_ACTORS_LOGIN_FLOW_H
#define UISCSI_ACTORS_LOGIN_FLOW_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "proto/login.h"
#include "proto/pdu.h"
#include "proto/portal.h"

#define LOGIN_FLOW_KA_INTERVAL_MS 5000  /* keepalive default interval */
#define LOGIN_FLOW_KA_TIMEOUT_MS  10000 /* keepalive default reply timeout */
#define LOGIN_FLOW_TIMEOUT_MS     30000 /* default login / discovery timeout */
#define LOGIN_FLOW_DEFAULT_NAME   "iqn.2024-01.dev.uiscsi:initiator"

typedef struct login_flow login_flow_t;

/* Plain settings parsed from the params. */
typedef struct login_flow_opts {
    uint32_t ka_interval_ms; /* 0: no keepalive */
    uint32_t ka_timeout_ms;
    bool digest_big_endian; /* digest_byte_order "big" */
    uint32_t timeout_ms;    /* login (or discovery) deadline */
} login_flow_opts_t;

/* Parses params (borrowed JSON object: "portal", "target" (normal only),
 * "initiator_name", "auth", "negotiate", "keepalive", "digest_byte_order",
 * "isid", "timeout_ms"; other keys are ignored: dispatch validated them).
 * A fresh random ISID (getrandom) is drawn unless "isid" (12 hex digits)
 * is given. Returns the flow, or NULL with *error_p set to a JSON-RPC
 * error object (INVALID_PARAMS naming the param, or INTERNAL_ERROR). */
login_flow_t *login_flow_new (const json_t *params, bool discovery, json_t **error_p);

/* Wipes the secrets, frees the flow and NULLs *self_p. NULL-safe. */
void login_flow_destroy (login_flow_t **self_p);

/* The portal to connect to: the original one, or the redirect target set
 * by login_flow_redirect. */
const uis_portal_t *login_flow_portal (const login_flow_t *self);

/* Follows a redirect (B5): the next attempt goes to portal. Returns 0, or
 * UIS_ERR_TOO_LONG after LOGIN_FLOW_HOPS_MAX hops. */
#define LOGIN_FLOW_HOPS_MAX 4
int login_flow_redirect (login_flow_t *self, const uis_portal_t *portal);

/* Forgets redirects: the next attempt goes to the original portal. */
void login_flow_reset_portal (login_flow_t *self);

/* The target name ("" for discovery), initiator name, ISID, options. */
const char *login_flow_target (const login_flow_t *self);
const char *login_flow_initiator (const login_flow_t *self);
const uint8_t *login_flow_isid (const login_flow_t *self);
const login_flow_opts_t *login_flow_opts (const login_flow_t *self);

/* Writes the ISID as 12 lower-case hex digits into buf (>= 13 bytes). */
void login_flow_isid_hex (const login_flow_t *self, char *buf);

/* Builds a login machine for one attempt with TSIH 0 (new session or ERL 0
 * reinstatement with the same ISID), ITT itt and CmdSN cmdsn, already
 * started (state LOGIN_SEND). Returns NULL with *error_p set when the
 * overrides or the config are refused. The caller owns the machine. */
login_t *login_flow_start (login_flow_t *self, uint32_t itt, uint32_t cmdsn,
                           json_t **error_p);

/* The JSON-RPC error for a failed login outcome r (error != 0):
 * LOGIN_FAILED {status_class, status_detail, status_name} for a status
 * class 1..3 refusal, AUTH_FAILED side "target" for 0x0201 and side
 * "initiator" when mutual CHAP verification of the target failed, and
 * PROTOCOL_ERROR {detail} for protocol and negotiation violations. New
 * reference, NULL when out of memory. */
json_t *login_flow_error (const login_result_t *r);

/* Renders negotiated parameters as an object of RFC keys (numbers as
 * integers, the rest as strings). New reference. */
json_t *login_flow_negotiated_json (const uis_neg_params_t *params);

#endif
