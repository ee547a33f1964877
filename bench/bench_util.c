/* bench_util.c: shared helpers of the bench/ load generators (see
 * bench_util.h). */
#include "bench_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct _bench_lat_t {
    uint32_t *ns;  /* kept samples */
    size_t cap;    /* capacity of ns */
    size_t n;      /* samples kept */
    uint64_t seen; /* samples recorded, kept or not */
    int sorted;
};

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t
bench_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* xorshift64*: the next pseudo-random number of *state. */
uint64_t
bench_rand (uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ull;
}

/* User + system time of every thread of this process, in seconds. */
double
bench_cpu_self_s (void)
{
    struct rusage ru;
    if (getrusage (RUSAGE_SELF, &ru))
        return 0;
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6
           + (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* utime + stime of pid from /proc/PID/stat (fields 14 and 15, counted after
 * the ")" that ends the command name), in seconds; -1 on failure. */
double
bench_cpu_pid_s (pid_t pid)
{
    char path[64], buf[1024];
    snprintf (path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen (path, "r");
    if (!f)
        return -1;
    size_t n = fread (buf, 1, sizeof buf - 1, f);
    fclose (f);
    buf[n] = '\0';
    char *p = strrchr (buf, ')');
    if (!p)
        return -1;
    unsigned long long ut = 0, st = 0;
    /* after ")": state(3) ppid pgrp session tty tpgid flags minflt cminflt
       majflt cmajflt utime(14) stime(15) */
    if (sscanf (p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st)
        != 2)
        return -1;
    long hz = sysconf (_SC_CLK_TCK);
    return (double)(ut + st) / (double)(hz > 0 ? hz : 100);
}

/* Creates a latency recorder for up to cap samples. */
bench_lat_t *
bench_lat_new (size_t cap)
{
    bench_lat_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->ns = malloc ((cap ? cap : 1) * sizeof *self->ns);
    if (!self->ns) {
        free (self);
        return NULL;
    }
    self->cap = cap ? cap : 1;
    return self;
}

/* Frees the recorder and NULLs the pointer. */
void
bench_lat_destroy (bench_lat_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->ns);
    free (*self_p);
    *self_p = NULL;
}

/* Records one latency (ns), clamped to 32 bits. */
void
bench_lat_add (bench_lat_t *self, int64_t ns)
{
    self->seen++;
    if (self->n >= self->cap)
        return;
    if (ns < 0)
        ns = 0;
    if (ns > (int64_t)UINT32_MAX)
        ns = UINT32_MAX;
    self->ns[self->n++] = (uint32_t)ns;
    self->sorted = 0;
}

/* qsort comparator of uint32_t. */
static int
s_cmp_u32 (const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The q-th quantile of the kept samples, in microseconds (nearest rank). */
double
bench_lat_quantile_us (bench_lat_t *self, double q)
{
    if (self->n == 0)
        return 0;
    if (!self->sorted) {
        qsort (self->ns, self->n, sizeof *self->ns, s_cmp_u32);
        self->sorted = 1;
    }
    size_t k = (size_t)(q * (double)self->n);
    if (k >= self->n)
        k = self->n - 1;
    return self->ns[k] / 1000.0;
}

/* Prints the one-line result (see bench_util.h). */
void
bench_print (const bench_result_t *r)
{
    double secs = r->secs > 0 ? r->secs : 1e-9;
    printf ("tool=%s op=%s bytes=%ld qd=%ld secs=%.3f ios=%" PRIu64 " errors=%" PRIu64
            " iops=%.0f mibs=%.1f p50_us=%.1f p99_us=%.1f cpu_client_s=%.3f "
            "cpu_daemon_s=%.3f\n",
            r->tool, r->op, r->bytes, r->qd, r->secs, r->ios, r->errors,
            (double)r->ios / secs, (double)r->ios * (double)r->bytes / secs / 1048576.0,
            r->p50_us, r->p99_us, r->cpu_client_s, r->cpu_daemon_s);
    fflush (stdout);
}
