/* portal.h: iSCSI portal strings "host[:port]" (RFC 7143 §13.8 domainname
 * syntax, conformance B16), parsed from clients (the RPC `portal` param) and
 * from targets (TargetAddress), and formatted back.
 *
 * Accepted forms:
 *   "192.0.2.1", "192.0.2.1:3261"       IPv4 dotted quad (each part 0..255)
 *   "iscsi.example.com", "host:3261"    host names: letters, digits, '-',
 *                                       '_' and '.', no empty label
 *   "[2001:db8::1]", "[::1]:3261"       IPv6 literals, always in brackets,
 *   "[fe80::1%eth0]:3260"               optionally with a zone
 * A missing port is UIS_PORTAL_DEFAULT_PORT (3260, §13.8 "the default port
 * 3260 ... is used"). Rejected: an empty host, an empty port after ':',
 * port 0 or above 65535, anything but digits in the port, unbalanced or
 * misplaced brackets, a bare IPv6 address without brackets ("::1" or
 * "2001:db8::1:3260" is ambiguous, so any host with two or more ':' and no
 * brackets is refused), a bad IPv6 or IPv4 literal, other characters
 * (spaces, '/', ',', control bytes), a host longer than
 * UIS_PORTAL_HOST_MAX. Errors: UIS_ERR_MALFORMED for syntax,
 * UIS_ERR_OUT_OF_RANGE for the port, UIS_ERR_TOO_LONG for length. */
#ifndef UISCSI_PROTO_PORTAL_H
#define UISCSI_PROTO_PORTAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UIS_PORTAL_DEFAULT_PORT 3260
#define UIS_PORTAL_HOST_MAX     253 /* longest host (a DNS name) */
/* Longest formatted portal: "[" host "]:65535" plus NUL. */
#define UIS_PORTAL_STR_MAX (UIS_PORTAL_HOST_MAX + 9)

/* A parsed portal: a plain value. */
typedef struct uis_portal {
    char host[UIS_PORTAL_HOST_MAX + 1]; /* without brackets, NUL-terminated */
    uint16_t port;                      /* 1..65535 */
    bool ipv6;                          /* host is an IPv6 literal */
} uis_portal_t;

/* Parses the NUL-terminated text (untrusted) into *out. Returns 0 or an
 * error as listed above; *out is undefined on error. */
int uis_portal_parse (const char *text, uis_portal_t *out);

/* Same for len bytes at text (no NUL needed; a NUL inside is malformed). */
int uis_portal_parse_n (const char *text, size_t len, uis_portal_t *out);

/* Writes "host:port" or "[ipv6]:port" into buf (cap bytes, NUL included).
 * Returns 0, UIS_ERR_BUFFER_TOO_SMALL, or UIS_ERR_INVALID_ARG for a portal
 * with port 0 or an empty host. */
int uis_portal_format (const uis_portal_t *portal, char *buf, size_t cap);

#endif
