/* portal.c: "host[:port]" parsing and formatting. See portal.h. */
#include "portal.h"

#include <stdio.h>
#include <string.h>

#include "errors.h"

/* True for a hex digit. */
static bool
s_hex (char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* True for a decimal digit. */
static bool
s_digit (char c)
{
    return c >= '0' && c <= '9';
}

/* Validates a dotted-quad IPv4 address of len bytes: four parts of 1..3
 * digits, each 0..255. */
static bool
s_ipv4_ok (const char *s, size_t len)
{
    int parts = 0;
    size_t i = 0;
    while (i <= len) {
        unsigned v = 0;
        size_t digits = 0;
        while (i < len && s_digit (s[i])) {
            v = v * 10 + (unsigned)(s[i] - '0');
            if (++digits > 3)
                return false;
            i++;
        }
        if (digits == 0 || v > 255)
            return false;
        parts++;
        if (i == len)
            break;
        if (s[i] != '.' || parts == 4)
            return false;
        i++;
    }
    return parts == 4;
}

/* Validates an IPv6 literal of len bytes (RFC 4291 §2.2 text forms: up to
 * eight groups of 1..4 hex digits, at most one "::", an optional trailing
 * dotted quad counting as two groups), optionally followed by "%zone"
 * (RFC 6874 zone ids: letters, digits, '-', '.', '_', '~'). */
static bool
s_ipv6_ok (const char *s, size_t len)
{
    const char *pct = memchr (s, '%', len);
    if (pct) {
        size_t zlen = len - (size_t)(pct - s) - 1;
        if (zlen == 0)
            return false;
        for (size_t i = 0; i < zlen; i++) {
            char c = pct[1 + i];
            if (!(s_digit (c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                  || c == '-' || c == '.' || c == '_' || c == '~'))
                return false;
        }
        len = (size_t)(pct - s);
    }
    if (len < 2)
        return false;
    int groups = 0;
    bool gap = false;
    size_t i = 0;
    if (s[0] == ':') {
        if (s[1] != ':')
            return false;
        gap = true;
        i = 2;
        if (i == len)
            return true; /* "::" */
    }
    while (i < len) {
        size_t start = i;
        while (i < len && s_hex (s[i]) && i - start < 5)
            i++;
        size_t n = i - start;
        if (i < len && s[i] == '.') {
            /* Trailing IPv4: must be the rest of the string. */
            if (!s_ipv4_ok (s + start, len - start))
                return false;
            groups += 2;
            i = len;
            break;
        }
        if (n == 0 || n > 4)
            return false;
        groups++;
        if (i == len)
            break;
        if (s[i] != ':')
            return false;
        i++;
        if (i < len && s[i] == ':') {
            if (gap)
                return false; /* a second "::" */
            gap = true;
            i++;
            if (i == len)
                break;
        }
        else if (i == len)
            return false; /* trailing single ':' */
    }
    return gap ? groups <= 7 : groups == 8;
}

/* Validates a host name or IPv4 literal of len bytes. */
static bool
s_hostname_ok (const char *s, size_t len)
{
    bool all_numeric = true;
    size_t label = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0)
                return false; /* leading dot or ".." */
            label = 0;
            continue;
        }
        if (!(s_digit (c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-'
              || c == '_'))
            return false;
        if (!s_digit (c))
            all_numeric = false;
        if (++label > 63)
            return false;
    }
    if (all_numeric)
        return s_ipv4_ok (s, len);
    return true; /* a trailing dot (absolute name) is fine */
}

int
uis_portal_parse_n (const char *text, size_t len, uis_portal_t *out)
{
    if (!text || !out || len == 0)
        return UIS_ERR_MALFORMED;
    if (memchr (text, '\0', len))
        return UIS_ERR_MALFORMED;
    const char *host;
    size_t host_len;
    const char *rest; /* ":port" or "" */
    bool ipv6 = false;
    if (text[0] == '[') {
        const char *close = memchr (text, ']', len);
        if (!close)
            return UIS_ERR_MALFORMED;
        host = text + 1;
        host_len = (size_t)(close - host);
        rest = close + 1;
        if (host_len == 0 || memchr (host, '[', host_len))
            return UIS_ERR_MALFORMED;
        if (host_len > UIS_PORTAL_HOST_MAX)
            return UIS_ERR_TOO_LONG;
        if (!s_ipv6_ok (host, host_len) || !memchr (host, ':', host_len))
            return UIS_ERR_MALFORMED;
        ipv6 = true;
    }
    else {
        const char *colon = memchr (text, ':', len);
        if (colon && memchr (colon + 1, ':', len - (size_t)(colon - text) - 1))
            return UIS_ERR_MALFORMED; /* bare IPv6: ambiguous without brackets */
        host = text;
        host_len = colon ? (size_t)(colon - text) : len;
        rest = text + host_len;
        if (host_len == 0)
            return UIS_ERR_MALFORMED;
        if (host_len > UIS_PORTAL_HOST_MAX)
            return UIS_ERR_TOO_LONG;
        if (!s_hostname_ok (host, host_len))
            return UIS_ERR_MALFORMED;
    }
    size_t rest_len = len - (size_t)(rest - text);
    unsigned long port = UIS_PORTAL_DEFAULT_PORT;
    if (rest_len > 0) {
        if (rest[0] != ':' || rest_len == 1)
            return UIS_ERR_MALFORMED;
        port = 0;
        for (size_t i = 1; i < rest_len; i++) {
            if (!s_digit (rest[i]))
                return UIS_ERR_MALFORMED;
            port = port * 10 + (unsigned long)(rest[i] - '0');
            if (port > 65535)
                return UIS_ERR_OUT_OF_RANGE;
        }
        if (port == 0)
            return UIS_ERR_OUT_OF_RANGE;
    }
    memcpy (out->host, host, host_len);
    out->host[host_len] = '\0';
    out->port = (uint16_t)port;
    out->ipv6 = ipv6;
    return 0;
}

int
uis_portal_parse (const char *text, uis_portal_t *out)
{
    if (!text)
        return UIS_ERR_MALFORMED;
    /* Bounded: anything longer than the longest portal is too long. */
    size_t len = strnlen (text, UIS_PORTAL_STR_MAX + 1);
    if (len > UIS_PORTAL_STR_MAX)
        return UIS_ERR_TOO_LONG;
    return uis_portal_parse_n (text, len, out);
}

int
uis_portal_format (const uis_portal_t *portal, char *buf, size_t cap)
{
    if (!portal || !buf || portal->port == 0 || !portal->host[0])
        return UIS_ERR_INVALID_ARG;
    int n = portal->ipv6 ? snprintf (buf, cap, "[%s]:%u", portal->host, portal->port)
                         : snprintf (buf, cap, "%s:%u", portal->host, portal->port);
    if (n < 0 || (size_t)n >= cap)
        return UIS_ERR_BUFFER_TOO_SMALL;
    return 0;
}
