#!/bin/sh
# check-purity.sh OBJ...: proto/ must stay free of I/O, threads, ZeroMQ and
# JSON (DESIGN.md). Fails when a proto/ file includes a forbidden header or
# when a proto/ object needs a symbol outside the allow-list below.
set -eu
rc=0
bad=$(grep -nE '#[[:space:]]*include[[:space:]]*[<"](zmq|czmq|jansson|pthread|sys/socket|netinet/[a-z_]+|arpa/inet|poll|sys/epoll|unistd|fcntl|time|sys/time)\.h[>"]' proto/*.c proto/*.h || true)
if [ -n "$bad" ]; then
    echo "check-purity: forbidden include in proto/:" >&2
    echo "$bad" >&2
    rc=1
fi

# Symbols proto/ may take from outside itself: memory and string helpers,
# formatted printing into buffers, ISA-L's CRC and libcrypto's digests.
allow='^(memcpy|memmove|memset|memcmp|memchr|strlen|strnlen|strcmp|strncmp|strchr|strrchr|strstr|strtoul|strtoull|strtol|strtoll|strcasecmp|strncasecmp|snprintf|vsnprintf|malloc|calloc|realloc|free|abort|__assert_fail|__stack_chk_fail|__errno_location|__ctype_b_loc|__ctype_tolower_loc|__ctype_toupper_loc|__isoc99_sscanf|__isoc23_strtoul|__isoc23_strtoull|__isoc23_strtol|__isoc23_strtoll|__memcpy_chk|__memset_chk|__snprintf_chk|__vsnprintf_chk|__strcpy_chk|qsort|bsearch|crc32_iscsi|EVP_[A-Za-z0-9_]+|CRYPTO_memcmp|OPENSSL_cleanse|_GLOBAL_OFFSET_TABLE_|__(a|ub)san_[A-Za-z0-9_]+|__sanitizer_[A-Za-z0-9_]+)$'
defined=$(nm --defined-only "$@" 2>/dev/null | awk 'NF==3 {print $3}' | sort -u)
undef=$(nm -u "$@" | awk 'NF==2 {print $2}' | sort -u)
for s in $undef; do
    if echo "$defined" | grep -qx "$s"; then continue; fi
    if echo "$s" | grep -Eq "$allow"; then continue; fi
    echo "check-purity: proto/ uses '$s', which is not on the allow-list" >&2
    rc=1
done
[ $rc = 0 ] && echo "check-purity: ok ($# objects)"
exit $rc
