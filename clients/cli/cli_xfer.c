/*  cli_xfer.c - uiscsictl read and write: large transfers cut into chunks
    of --chunk bytes, --depth of them in flight at once through libuiscsi's
    uiscsi_submit / uiscsi_poll, with a progress bar (bytes, rate, ETA) on
    stderr when it is a terminal.

    Reads complete in any order; a reorder window of depth slots puts the
    chunks back in order so the output can be a pipe. Writes read the input
    into depth buffers of one chunk each; a buffer is refilled only after the
    completion of its write came back (libuiscsi sends it without a copy).
*/

#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define XFER_DEFAULT_CHUNK (1u << 20)
#define XFER_DEFAULT_DEPTH 8
#define XFER_MAX_DEPTH     256

/* ------------------------------------------------------------------ progress */

typedef struct {
    bool on;
    const char *verb; /* "read" or "write" */
    uint64_t total;   /* 0: unknown */
    uint64_t done;
    int64_t start_ms;
    int64_t drawn_ms;
} s_progress_t;

/* Terminal width of stderr (80 when unknown). */
static int
s_term_width (void)
{
    struct winsize ws;
    if (ioctl (STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 40)
        return ws.ws_col;
    return 80;
}

/* Draws the bar on stderr (at most every 100 ms unless final). */
static void
s_progress_draw (s_progress_t *self, bool final)
{
    if (!self->on)
        return;
    int64_t now = cli_now_ms ();
    if (!final && now - self->drawn_ms < 100)
        return;
    self->drawn_ms = now;
    double secs = (double)(now - self->start_ms) / 1000.0;
    double rate = secs > 0.001 ? (double)self->done / secs : 0.0;
    char done[32], total[32], rate_s[32], eta[32] = "";
    cli_human_bytes (self->done, done, sizeof done);
    cli_human_bytes (self->total, total, sizeof total);
    cli_human_bytes ((uint64_t)rate, rate_s, sizeof rate_s);
    char left[160];
    if (self->total) {
        int pct = (int)(self->done * 100 / self->total);
        if (!final && rate > 0) {
            uint64_t s = (uint64_t)((double)(self->total - self->done) / rate);
            snprintf (eta, sizeof eta, "ETA %llu:%02llu", (unsigned long long)s / 60,
                      (unsigned long long)s % 60);
        }
        else if (final)
            snprintf (eta, sizeof eta, "in %.1f s", secs);
        snprintf (left, sizeof left, "%s %s / %s %3d%%", self->verb, done, total, pct);
        char right[96];
        snprintf (right, sizeof right, "%s/s %s", rate_s, eta);
        int width = s_term_width () - 1;
        int barw = width - (int)strlen (left) - (int)strlen (right) - 6;
        char bar[256] = "";
        if (barw > 10) {
            if (barw > 200)
                barw = 200;
            int fill = (int)((uint64_t)barw * self->done / self->total);
            for (int i = 0; i < barw; i++)
                bar[i] = i < fill ? '#' : '.';
            bar[barw] = '\0';
        }
        fprintf (stderr, "\r%s %s%s%s %s\033[K", left, bar[0] ? "[" : "", bar,
                 bar[0] ? "]" : "", right);
    }
    else
        fprintf (stderr, "\r%s %s  %s/s  %.1f s\033[K", self->verb, done, rate_s, secs);
    if (final)
        fputc ('\n', stderr);
    fflush (stderr);
}

/* ------------------------------------------------------------------ common */

typedef struct {
    const char *session;
    json_t *lun;       /* the "lun" param value (owned) */
    uint64_t lba;      /* first LBA */
    uint32_t bs;       /* block size */
    uint64_t capacity; /* blocks of the LUN */
    uint32_t chunk_blocks;
    int depth;
    bool fua;
    s_progress_t progress;
} s_xfer_t;

/* Reads the transfer options, connects and reads the LUN's capacity.
   Returns -1 to go on, else an exit status. */
static int
s_xfer_setup (cli_t *cli, s_xfer_t *x, const char *verb)
{
    memset (x, 0, sizeof *x);
    x->session = cli->argv[0];
    x->progress.verb = verb;
    uint64_t chunk = XFER_DEFAULT_CHUNK, depth = XFER_DEFAULT_DEPTH;
    const char *c = cli_opt (cli, "chunk");
    const char *d = cli_opt (cli, "depth");
    if (c && (cli_parse_size (c, 1u << 30, &chunk) || chunk == 0))
        return cli_usage_error (cli, "bad --chunk '%s'", c);
    if (d && (cli_parse_u64 (d, XFER_MAX_DEPTH, &depth) || depth == 0))
        return cli_usage_error (cli, "bad --depth '%s' (1..%d)", d, XFER_MAX_DEPTH);
    if (cli_parse_u64 (cli->argv[2], INT64_MAX, &x->lba))
        return cli_usage_error (cli, "bad LBA '%s'", cli->argv[2]);
    json_t *p = json_object ();
    if (cli_put_lun (cli, p, cli->argv[1])) {
        json_decref (p);
        return CLI_EXIT_USAGE;
    }
    x->lun = json_incref (json_object_get (p, "lun"));
    json_object_set_new (p, "session", json_string (x->session));
    x->fua = cli_opt (cli, "fua") != NULL;
    uiscsi_result_t *r;
    if (cli_call (cli, "scsi.read_capacity", p, NULL, 0, &r))
        return cli_report_error (cli);
    x->bs = (uint32_t)uiscsi_result_int (r, "block_size", 0);
    x->capacity = (uint64_t)uiscsi_result_int (r, "blocks", 0);
    uiscsi_result_destroy (&r);
    if (x->bs == 0)
        return cli_fail_with (CLI_EXIT_FAILURE, "the LUN reports a block size of 0");
    /* chunk: whole blocks, at most the daemon's data limit */
    json_t *info = uiscsi_daemon_info_cached (cli->client);
    json_int_t limit = json_integer_value (
        json_object_get (json_object_get (info, "limits"), "data_bytes"));
    if (limit > 0 && chunk > (uint64_t)limit)
        chunk = (uint64_t)limit;
    if (chunk < x->bs)
        chunk = x->bs;
    x->chunk_blocks = (uint32_t)(chunk / x->bs);
    int max = uiscsi_max_in_flight (cli->client);
    x->depth = (int)depth < max ? (int)depth : max;
    if (x->depth < 1)
        x->depth = 1;
    const char *prog = cli_opt (cli, "progress");
    x->progress.on = !cli_opt (cli, "no-progress") && (prog || isatty (STDERR_FILENO));
    return -1;
}

/* Params of one chunk (new). */
static json_t *
s_chunk_params (const cli_t *cli, const s_xfer_t *x, uint64_t lba, uint32_t blocks)
{
    json_t *p = json_pack ("{s:s, s:O, s:I, s:I}", "session", x->session, "lun", x->lun,
                           "lba", (json_int_t)lba, "blocks", (json_int_t)blocks);
    if (x->fua)
        json_object_set_new (p, "fua", json_true ());
    cli_add_timeout (cli, p);
    return p;
}

/* Writes all of data to fd. Returns 0 or -1 (errno). */
static int
s_write_all (int fd, const uint8_t *data, size_t size)
{
    while (size > 0) {
        ssize_t n = write (fd, data, size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        size -= (size_t)n;
    }
    return 0;
}

/* Prints the JSON summary of a transfer. */
static void
s_summary_json (const s_xfer_t *x, uint64_t bytes, uint64_t chunks)
{
    int64_t ms = cli_now_ms () - x->progress.start_ms;
    json_t *j = json_pack ("{s:I, s:I, s:I, s:i, s:I, s:I}", "lba", (json_int_t)x->lba,
                           "blocks", (json_int_t)(bytes / x->bs), "bytes",
                           (json_int_t)bytes, "block_size", (int)x->bs, "chunks",
                           (json_int_t)chunks, "elapsed_ms", (json_int_t)ms);
    cli_print_json (j);
    json_decref (j);
}

/* ------------------------------------------------------------------ read */

typedef struct {
    bool busy;
    bool done;
    uiscsi_result_t *result;
} s_rslot_t;

/* read SESSION LUN LBA BLOCKS [-o FILE|-]. */
int
cli_cmd_read (cli_t *cli)
{
    s_xfer_t x;
    uint64_t blocks;
    if (cli_parse_u64 (cli->argv[3], INT64_MAX, &blocks))
        return cli_usage_error (cli, "bad BLOCKS '%s'", cli->argv[3]);
    int status = s_xfer_setup (cli, &x, "read");
    if (status >= 0) {
        json_decref (x.lun);
        return status;
    }
    if (x.lba > x.capacity || blocks > x.capacity - x.lba) {
        json_decref (x.lun);
        return cli_fail_with (CLI_EXIT_USAGE,
                              "LBA %llu + %llu blocks is beyond the end of the LUN (%llu "
                              "blocks)",
                              (unsigned long long)x.lba, (unsigned long long)blocks,
                              (unsigned long long)x.capacity);
    }
    const char *out = cli_opt (cli, "output");
    bool to_stdout = !out || strcmp (out, "-") == 0;
    bool hexdump = !out && isatty (STDOUT_FILENO);
    int fd = STDOUT_FILENO;
    if (!to_stdout) {
        fd = open (out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            json_decref (x.lun);
            return cli_fail_with (CLI_EXIT_FILE, "FILE_ERROR: %s: %s", out,
                                  strerror (errno));
        }
    }
    else
        fflush (stdout);
    cli_catch_signals ();
    s_rslot_t *slots = calloc ((size_t)x.depth, sizeof *slots);
    uint64_t nchunks = (blocks + x.chunk_blocks - 1) / x.chunk_blocks;
    uint64_t next_submit = 0, next_write = 0, written = 0;
    int in_flight = 0;
    status = slots ? 0 : CLI_EXIT_FAILURE;
    x.progress.total = blocks * x.bs;
    x.progress.start_ms = cli_now_ms ();
    s_progress_draw (&x.progress, false);
    while (status == 0 && next_write < nchunks) {
        if (cli_interrupted) {
            status = CLI_EXIT_INTERRUPT;
            break;
        }
        while (next_submit < nchunks && next_submit < next_write + (uint64_t)x.depth) {
            uint64_t off = next_submit * x.chunk_blocks;
            uint32_t n =
                (uint32_t)(blocks - off < x.chunk_blocks ? blocks - off : x.chunk_blocks);
            json_t *p = s_chunk_params (cli, &x, x.lba + off, n);
            json_object_set_new (p, "data_encoding", json_string ("attachment"));
            if (uiscsi_submit (cli->client, "scsi.read", p, NULL, 0,
                               (void *)(uintptr_t)next_submit, &cli->err)
                < 0) {
                status = cli_report_error (cli);
                break;
            }
            slots[next_submit % (uint64_t)x.depth] = (s_rslot_t){true, false, NULL};
            next_submit++;
            in_flight++;
        }
        if (status)
            break;
        uiscsi_completion_t done;
        int got = uiscsi_poll (cli->client, 200, &done, &cli->err);
        if (got < 0) {
            status = cli_report_error (cli);
            break;
        }
        if (got == 0)
            continue;
        in_flight--;
        uint64_t idx = (uint64_t)(uintptr_t)done.user;
        if (done.status != 0) {
            uiscsi_error_clear (&cli->err);
            cli->err = done.error;
            status = cli_report_error (cli);
            break;
        }
        slots[idx % (uint64_t)x.depth].done = true;
        slots[idx % (uint64_t)x.depth].result = done.result;
        while (next_write < next_submit && slots[next_write % (uint64_t)x.depth].done) {
            s_rslot_t *s = &slots[next_write % (uint64_t)x.depth];
            const void *d;
            size_t n;
            if (uiscsi_result_data (s->result, &d, &n)) {
                status = cli_fail_with (CLI_EXIT_FAILURE, "CLIENT_BAD_REPLY: no data");
                break;
            }
            if (hexdump)
                cli_hexdump (stdout, written, d, n);
            else if (s_write_all (fd, d, n)) {
                status = cli_fail_with (CLI_EXIT_FILE, "FILE_ERROR: %s: %s",
                                        to_stdout ? "stdout" : out, strerror (errno));
                break;
            }
            written += n;
            x.progress.done = written;
            uiscsi_result_destroy (&s->result);
            *s = (s_rslot_t){false, false, NULL};
            next_write++;
        }
        s_progress_draw (&x.progress, false);
    }
    /* drain what is still in flight (each has a client-side deadline) */
    for (int i = 0; i < 100000 && in_flight > 0; i++) {
        uiscsi_completion_t done;
        int got = uiscsi_poll (cli->client, 1000, &done, &cli->err);
        if (got < 0) {
            uiscsi_error_clear (&cli->err);
            break;
        }
        if (got == 0)
            continue;
        in_flight--;
        if (done.status == 0)
            uiscsi_result_destroy (&done.result);
        else
            uiscsi_error_clear (&done.error);
    }
    for (int i = 0; slots && i < x.depth; i++)
        uiscsi_result_destroy (&slots[i].result);
    free (slots);
    if (x.progress.on) {
        x.progress.done = written;
        s_progress_draw (&x.progress, true);
    }
    if (status == CLI_EXIT_INTERRUPT)
        fprintf (stderr, "uiscsictl: INTERRUPTED after %llu bytes\n",
                 (unsigned long long)written);
    if (!to_stdout && close (fd) != 0 && status == 0)
        status =
            cli_fail_with (CLI_EXIT_FILE, "FILE_ERROR: %s: %s", out, strerror (errno));
    if (status == 0 && cli->json && !to_stdout)
        s_summary_json (&x, written, nchunks);
    json_decref (x.lun);
    return status;
}

/* ------------------------------------------------------------------ write */

typedef struct {
    bool busy;
    uint8_t *buf;
} s_wslot_t;

/* Reads up to size bytes (less only at end of input). Returns the count, or
   -1 (errno). */
static ssize_t
s_read_full (int fd, uint8_t *buf, size_t size)
{
    size_t got = 0;
    while (got < size) {
        ssize_t n = read (fd, buf + got, size - got);
        if (n < 0 && errno == EINTR) {
            if (cli_interrupted)
                return -1;
            continue;
        }
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

/* write SESSION LUN LBA [-i FILE|-] [-n BLOCKS]. */
int
cli_cmd_write (cli_t *cli)
{
    s_xfer_t x;
    uint64_t max_blocks = UINT64_MAX;
    const char *nb = cli_opt (cli, "blocks");
    if (nb && cli_parse_u64 (nb, INT64_MAX, &max_blocks))
        return cli_usage_error (cli, "bad --blocks '%s'", nb);
    int status = s_xfer_setup (cli, &x, "write");
    if (status >= 0) {
        json_decref (x.lun);
        return status;
    }
    const char *in = cli_opt (cli, "input");
    bool from_stdin = !in || strcmp (in, "-") == 0;
    int fd = STDIN_FILENO;
    if (!from_stdin) {
        fd = open (in, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            json_decref (x.lun);
            return cli_fail_with (CLI_EXIT_FILE, "FILE_ERROR: %s: %s", in,
                                  strerror (errno));
        }
    }
    struct stat st;
    uint64_t total = 0;
    if (fstat (fd, &st) == 0 && S_ISREG (st.st_mode)) {
        total = (uint64_t)st.st_size;
        total = (total + x.bs - 1) / x.bs * x.bs;
        if (max_blocks != UINT64_MAX && total > max_blocks * x.bs)
            total = max_blocks * x.bs;
        if (x.lba > x.capacity || total / x.bs > x.capacity - x.lba) {
            if (!from_stdin)
                close (fd);
            json_decref (x.lun);
            return cli_fail_with (CLI_EXIT_USAGE,
                                  "%llu bytes from LBA %llu go beyond the end of the LUN "
                                  "(%llu blocks of %u bytes)",
                                  (unsigned long long)total, (unsigned long long)x.lba,
                                  (unsigned long long)x.capacity, x.bs);
        }
    }
    else if (max_blocks != UINT64_MAX)
        total = max_blocks * x.bs;
    cli_catch_signals ();
    size_t chunk = (size_t)x.chunk_blocks * x.bs;
    s_wslot_t *slots = calloc ((size_t)x.depth, sizeof *slots);
    status = slots ? 0 : CLI_EXIT_FAILURE;
    uint64_t off_blocks = 0, written = 0, chunks = 0, padded = 0;
    int in_flight = 0;
    bool eof = false;
    x.progress.total = total;
    x.progress.start_ms = cli_now_ms ();
    s_progress_draw (&x.progress, false);
    while (status == 0 && (!eof || in_flight > 0)) {
        if (cli_interrupted) {
            status = CLI_EXIT_INTERRUPT;
            break;
        }
        for (int k = 0; !eof && k < x.depth && status == 0; k++) {
            if (slots[k].busy)
                continue;
            if (!slots[k].buf && !(slots[k].buf = malloc (chunk))) {
                status = cli_fail_with (CLI_EXIT_FAILURE, "CLIENT_NOMEM: out of memory");
                break;
            }
            size_t want = chunk;
            if (max_blocks != UINT64_MAX && (max_blocks - off_blocks) * x.bs < want)
                want = (size_t)((max_blocks - off_blocks) * x.bs);
            ssize_t got = want ? s_read_full (fd, slots[k].buf, want) : 0;
            if (got < 0) {
                status =
                    cli_interrupted
                        ? CLI_EXIT_INTERRUPT
                        : cli_fail_with (CLI_EXIT_FILE, "FILE_ERROR: %s: %s",
                                         from_stdin ? "stdin" : in, strerror (errno));
                break;
            }
            if ((size_t)got < want || want == 0)
                eof = true;
            if (got == 0)
                break;
            size_t n = (size_t)got;
            if (n % x.bs) {
                size_t pad = x.bs - n % x.bs;
                memset (slots[k].buf + n, 0, pad);
                padded = pad;
                n += pad;
            }
            uint32_t blocks = (uint32_t)(n / x.bs);
            json_t *p = s_chunk_params (cli, &x, x.lba + off_blocks, blocks);
            json_object_set_new (p, "data", uiscsi_attachment_ref (1));
            uiscsi_buf_t b = {slots[k].buf, n, NULL, NULL};
            if (uiscsi_submit (cli->client, "scsi.write", p, &b, 1, (void *)(intptr_t)k,
                               &cli->err)
                < 0) {
                status = cli_report_error (cli);
                break;
            }
            slots[k].busy = true;
            off_blocks += blocks;
            chunks++;
            in_flight++;
        }
        if (status || in_flight == 0)
            continue;
        uiscsi_completion_t done;
        int got = uiscsi_poll (cli->client, 200, &done, &cli->err);
        if (got < 0) {
            status = cli_report_error (cli);
            break;
        }
        if (got == 0)
            continue;
        in_flight--;
        int k = (int)(intptr_t)done.user;
        slots[k].busy = false;
        if (done.status != 0) {
            uiscsi_error_clear (&cli->err);
            cli->err = done.error;
            status = cli_report_error (cli);
            break;
        }
        written += (uint64_t)uiscsi_result_int (done.result, "bytes", 0);
        uiscsi_result_destroy (&done.result);
        x.progress.done = written;
        s_progress_draw (&x.progress, false);
    }
    /* drain: buffers stay allocated until their completion is back */
    for (int i = 0; i < 100000 && in_flight > 0; i++) {
        uiscsi_completion_t done;
        int got = uiscsi_poll (cli->client, 1000, &done, &cli->err);
        if (got < 0) {
            uiscsi_error_clear (&cli->err);
            break;
        }
        if (got == 0)
            continue;
        in_flight--;
        slots[(int)(intptr_t)done.user].busy = false;
        if (done.status == 0)
            uiscsi_result_destroy (&done.result);
        else
            uiscsi_error_clear (&done.error);
    }
    /* a buffer still busy here was abandoned (CLIENT_TIMEOUT): ZeroMQ may
       hold it until uiscsi_close, so it is leaked on purpose */
    for (int i = 0; slots && i < x.depth; i++)
        if (!slots[i].busy)
            free (slots[i].buf);
    free (slots);
    if (!from_stdin)
        close (fd);
    if (x.progress.on) {
        if (!x.progress.total)
            x.progress.total = written;
        s_progress_draw (&x.progress, true);
    }
    if (status == CLI_EXIT_INTERRUPT)
        fprintf (stderr, "uiscsictl: INTERRUPTED after %llu bytes\n",
                 (unsigned long long)written);
    if (padded)
        fprintf (stderr,
                 "uiscsictl: note: the input ended inside a block; %llu zero bytes "
                 "were added to the last block\n",
                 (unsigned long long)padded);
    if (status == 0 && cli->json)
        s_summary_json (&x, written, chunks);
    json_decref (x.lun);
    return status;
}
