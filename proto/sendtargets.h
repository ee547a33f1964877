/* sendtargets.h: the answer to SendTargets=All (RFC 7143 §13.3, Appendix
 * D), parsed from one complete (reassembled, text.h) Text Response LTDS
 * into targets, each with its portals (conformance B17, parser part).
 *
 * The response is a sequence of
 *   TargetName=<iSCSI name>
 *   TargetAddress=<host>[:<port>][,<tpgt>]   (zero or more, §13.8)
 * where each TargetAddress belongs to the TargetName before it.
 *
 * Decisions:
 *   - An empty response means zero targets, not an error.
 *   - A target with no TargetAddress is kept with zero portals (§13.3: it is
 *     reachable through the portal the discovery session used; the caller
 *     substitutes that portal).
 *   - A TargetName that appears twice is MERGED: one target, whose portals
 *     are those of every occurrence in order, exact duplicates (same host,
 *     port and tag) dropped. A target reports one name per node, so two
 *     entries with one name are the same node.
 *   - A TargetAddress before any TargetName, or one whose value does not
 *     parse (portal.h rules plus ",tpgt" with 0..65535), or an empty
 *     TargetName (and the TargetAddress keys after it), is SKIPPED and
 *     counted (uis_sendtargets_skipped): one bad entry does not hide the
 *     good ones. IPv6 portals are "[addr]:port,tpgt"; a missing port is 3260.
 *   - Other keys (e.g. TargetAlias from some targets) are ignored.
 *   - Limits: UIS_ST_TARGETS_MAX targets and UIS_ST_PORTALS_MAX portals per
 *     target; beyond either the parse fails with UIS_ERR_TOO_LONG. */
#ifndef UISCSI_PROTO_SENDTARGETS_H
#define UISCSI_PROTO_SENDTARGETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "portal.h"
#include "text.h"

#define UIS_ST_TARGETS_MAX 4096 /* targets in one response */
#define UIS_ST_PORTALS_MAX 256  /* portals of one target */

/* One portal of a target. */
typedef struct uis_st_portal {
    uis_portal_t portal; /* host, port (3260 when absent), ipv6 */
    bool has_tpgt;       /* ",tpgt" was present */
    uint16_t tpgt;       /* TargetPortalGroupTag when has_tpgt */
} uis_st_portal_t;

/* A parsed SendTargets response. */
typedef struct uis_sendtargets uis_sendtargets_t;

/* Creates an empty result. Caller owns it. NULL on no memory. */
uis_sendtargets_t *uis_sendtargets_new (void);

/* Frees it and NULLs *self_p; NULL-safe. */
void uis_sendtargets_destroy (uis_sendtargets_t **self_p);

/* Parses the pairs of a complete response (untrusted values) into self,
 * replacing its content. Returns 0, UIS_ERR_TOO_LONG (limits above) or
 * UIS_ERR_NOMEM; self is empty on error. */
int uis_sendtargets_parse (uis_sendtargets_t *self, const uis_text_t *text);

/* Parses a raw LTDS (len bytes at data): uis_text_parse with
 * UIS_TEXT_ALLOW_DUP and a size limit of max(len, 64 KiB), then
 * uis_sendtargets_parse. Text errors are returned as they are. */
int uis_sendtargets_parse_raw (uis_sendtargets_t *self, const uint8_t *data, size_t len);

/* Number of targets. */
size_t uis_sendtargets_count (const uis_sendtargets_t *self);

/* Name of target i (owned by self), NULL when out of range. */
const char *uis_sendtargets_name (const uis_sendtargets_t *self, size_t i);

/* Number of portals of target i (0 when out of range). */
size_t uis_sendtargets_portal_count (const uis_sendtargets_t *self, size_t i);

/* Portal j of target i (owned by self), NULL when out of range. */
const uis_st_portal_t *uis_sendtargets_portal (const uis_sendtargets_t *self, size_t i,
                                               size_t j);

/* Number of entries skipped as malformed by the last parse. */
size_t uis_sendtargets_skipped (const uis_sendtargets_t *self);

/* Parses one TargetAddress value "host[:port][,tpgt]" into *out. Returns 0,
 * a portal.h error, or UIS_ERR_MALFORMED / UIS_ERR_OUT_OF_RANGE for the
 * tag. */
int uis_sendtargets_parse_address (const char *value, uis_st_portal_t *out);

#endif
