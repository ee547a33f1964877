/* bench_util.h: shared helpers of the bench/ load generators (uiscsi_load.c,
 * libiscsi_load.c): a monotonic clock, a small PRNG, CPU time of this process
 * and of another process, and a latency recorder giving percentiles.
 *
 * Both load generators print one result line through bench_print, so
 * bench/run.py parses them the same way:
 *   tool=T op=O bytes=B qd=Q secs=S ios=N errors=E iops=I mibs=M
 *   p50_us=P p99_us=P cpu_client_s=C cpu_daemon_s=D */
#ifndef UISCSI_BENCH_UTIL_H
#define UISCSI_BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t bench_now_ns (void);

/* xorshift64* step: returns the next pseudo-random number; *state != 0. */
uint64_t bench_rand (uint64_t *state);

/* CPU time (user + system, every thread) of this process, in seconds. */
double bench_cpu_self_s (void);

/* CPU time (utime + stime from /proc/PID/stat) of process pid, in seconds;
 * -1 when it cannot be read. */
double bench_cpu_pid_s (pid_t pid);

/* Latency samples (nanoseconds). Keeps at most the capacity given at
 * creation; samples beyond it are counted but not kept. */
typedef struct _bench_lat_t bench_lat_t;

/* Creates a recorder for up to cap samples; NULL when out of memory. */
bench_lat_t *bench_lat_new (size_t cap);

/* Frees the recorder and NULLs the pointer. */
void bench_lat_destroy (bench_lat_t **self_p);

/* Records one latency in nanoseconds (clamped to 0..2^32-1). */
void bench_lat_add (bench_lat_t *self, int64_t ns);

/* The q-th quantile (0 < q < 1) of the kept samples in microseconds, 0 when
 * there are none. Sorts the samples the first time. */
double bench_lat_quantile_us (bench_lat_t *self, double q);

/* Result of one timed run, printed by bench_print. */
typedef struct {
    const char *tool;
    const char *op;
    long bytes;
    long qd;
    double secs;
    uint64_t ios;
    uint64_t errors;
    double p50_us;
    double p99_us;
    double cpu_client_s;
    double cpu_daemon_s;
} bench_result_t;

/* Prints the one-line result on stdout (format at the top of this file). */
void bench_print (const bench_result_t *r);

#endif
