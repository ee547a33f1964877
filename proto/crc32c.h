/* crc32c.h: CRC32C (Castagnoli) as iSCSI uses it for header and data
 * digests (RFC 7143 §13.1, test vectors RFC 3720 B.4), computed by ISA-L.
 *
 * The digest of a byte run is crc32c(). For a run in pieces (data segment
 * then padding) use crc32c_begin / crc32c_add / crc32c_end. On the wire the
 * 32-bit digest is stored little-endian (the RFC's byte order); some targets
 * need big-endian, hence the 'big' flag of the put/get helpers. */
#ifndef UISCSI_PROTO_CRC32C_H
#define UISCSI_PROTO_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Digest of len bytes at buf. */
uint32_t crc32c (const void *buf, size_t len);

/* Incremental form: state = crc32c_begin (); state = crc32c_add (state, ...);
 * digest = crc32c_end (state). */
uint32_t crc32c_begin (void);
uint32_t crc32c_add (uint32_t state, const void *buf, size_t len);
uint32_t crc32c_end (uint32_t state);

/* Store / load a digest at p (4 bytes) in wire order: little-endian unless
 * big is true. */
void crc32c_put (uint8_t *p, uint32_t digest, bool big);
uint32_t crc32c_get (const uint8_t *p, bool big);

#endif
