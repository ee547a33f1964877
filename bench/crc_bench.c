/* crc_bench.c: CRC32C throughput of proto/crc32c.c (ISA-L crc32_iscsi), the
 * digest of every iSCSI PDU when HeaderDigest/DataDigest=CRC32C.
 *
 * Digests a BYTES buffer (default 1 MiB) repeatedly for about SECS seconds
 * (default 1) and prints "crc32c bytes=B secs=S gbps=G" (GB/s, 10^9 bytes
 * per second). Bounded by the iteration count derived from a calibration.
 *
 * Build: cc -O2 -I. -o crc_bench bench/crc_bench.c bench/bench_util.c \
 *          proto/crc32c.c -lisal
 * Usage: crc_bench [BYTES [SECS]] */
#include "bench_util.h"
#include "proto/crc32c.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Digests buf n times; returns the xor of the digests (kept live). */
static uint32_t
s_digest_n (const unsigned char *buf, size_t size, long n)
{
    uint32_t acc = 0;
    for (long i = 0; i < n; i++)
        acc ^= crc32c (buf, size);
    return acc;
}

/* Calibrates, times, prints. */
int
main (int argc, char **argv)
{
    long bytes = argc > 1 ? strtol (argv[1], NULL, 0) : 1 << 20;
    double secs = argc > 2 ? strtod (argv[2], NULL) : 1.0;
    if (bytes <= 0 || bytes > (256l << 20) || secs <= 0 || secs > 60) {
        fprintf (stderr, "usage: crc_bench [BYTES [SECS]]\n");
        return 2;
    }
    unsigned char *buf = malloc ((size_t)bytes);
    if (!buf)
        return 1;
    for (long i = 0; i < bytes; i++)
        buf[i] = (unsigned char)(i * 131 + 7);
    /* calibrate on ~32 MiB, then run about secs seconds */
    long n = (32l << 20) / bytes + 1;
    int64_t t0 = bench_now_ns ();
    uint32_t acc = s_digest_n (buf, (size_t)bytes, n);
    int64_t dt = bench_now_ns () - t0;
    double per = (double)(dt > 0 ? dt : 1) / (double)n;
    long iters = (long)(secs * 1e9 / per) + 1;
    if (iters > 1000000000l)
        iters = 1000000000l;
    t0 = bench_now_ns ();
    acc ^= s_digest_n (buf, (size_t)bytes, iters);
    dt = bench_now_ns () - t0;
    double el = (double)dt / 1e9;
    printf ("crc32c bytes=%ld secs=%.3f iters=%ld gbps=%.2f check=%08x\n", bytes, el,
            iters, (double)bytes * (double)iters / el / 1e9, acc);
    free (buf);
    return 0;
}
