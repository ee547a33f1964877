/* ascii.h: values of hexadecimal and base64 (RFC 4648 §4) digits, shared
 * by the text-key codecs (CHAP binary values) and the RPC layer. */
#ifndef UISCSI_PROTO_ASCII_H
#define UISCSI_PROTO_ASCII_H

/* Value 0..15 of a hex digit, or -1 for any other character. */
static inline int
hex_digit_value (int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Value 0..63 of a base64 digit, or -1 for any other character ('=' too). */
static inline int
b64_digit_value (int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

#endif
