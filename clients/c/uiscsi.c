/*  uiscsi.c - core of the uiscsid C client: connection, requests, replies,
    results, errors. The typed calls are in uiscsi_api.c.

    One DEALER socket; a request is one message (frame 0 the JSON-RPC
    request, frames 1..n attachments). Pending requests live in a small hash
    keyed by id; completed ones queue for uiscsi_poll, except the one a
    synchronous call waits for.
*/

#include "uiscsi.h"

#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#define S_COPY_BELOW      8192  /* buffers below this are copied */
#define S_DEFAULT_CONNECT 5000  /* ms */
#define S_DEFAULT_TIMEOUT 35000 /* ms: daemon default 30000 + slack */
#define S_TIMEOUT_SLACK   5000  /* ms added to an explicit timeout_ms */
#define S_IN_FLIGHT       256   /* API.md default */
#define S_FRAME0_MAX      (1u << 20)
#define S_BUCKETS         1024 /* pending hash buckets (power of 2) */
#define S_RECV_BATCH      1024 /* most messages taken per pump */
#define S_MAX_FRAMES      4096 /* most frames accepted in one reply */
#define S_RELEASE_WAIT_MS 2000 /* bound on waiting for ZeroMQ to release */

/* --- small helpers ------------------------------------------------------ */

/* Monotonic clock in milliseconds. */
static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Copies src into a fixed buffer, truncating. */
static void
s_strlcpy (char *dst, const char *src, size_t size)
{
    size_t n = strlen (src);
    if (n >= size)
        n = size - 1;
    memcpy (dst, src, n);
    dst[n] = 0;
}

/* --- errors ------------------------------------------------------------- */

typedef struct {
    int code;
    const char *name;
    const char *message;
} s_code_t;

static const s_code_t s_codes[] = {
    {UISCSI_PARSE_ERROR, "PARSE_ERROR", "Parse error"},
    {UISCSI_INVALID_REQUEST, "INVALID_REQUEST", "Invalid Request"},
    {UISCSI_METHOD_NOT_FOUND, "METHOD_NOT_FOUND", "Method not found"},
    {UISCSI_INVALID_PARAMS, "INVALID_PARAMS", "Invalid params"},
    {UISCSI_INTERNAL_ERROR, "INTERNAL_ERROR", "Internal error"},
    {UISCSI_SESSION_NOT_FOUND, "SESSION_NOT_FOUND", "Session not found"},
    {UISCSI_TRANSPORT_ERROR, "TRANSPORT_ERROR", "Transport error"},
    {UISCSI_LOGIN_FAILED, "LOGIN_FAILED", "Login failed"},
    {UISCSI_AUTH_FAILED, "AUTH_FAILED", "Authentication failed"},
    {UISCSI_SCSI_CHECK_CONDITION, "SCSI_CHECK_CONDITION", "SCSI check condition"},
    {UISCSI_SCSI_STATUS, "SCSI_STATUS", "SCSI status"},
    {UISCSI_TIMEOUT, "TIMEOUT", "Timeout"},
    {UISCSI_TMF_FAILED, "TMF_FAILED", "Task management function failed"},
    {UISCSI_SESSION_RECOVERING, "SESSION_RECOVERING", "Session recovering"},
    {UISCSI_SESSION_FAILED, "SESSION_FAILED", "Session failed"},
    {UISCSI_LIMIT_EXCEEDED, "LIMIT_EXCEEDED", "Limit exceeded"},
    {UISCSI_CANCELLED, "CANCELLED", "Cancelled"},
    {UISCSI_NOT_RETRIABLE, "NOT_RETRIABLE", "Not retriable"},
    {UISCSI_PROTOCOL_ERROR, "PROTOCOL_ERROR", "Protocol error"},
    {UISCSI_CLIENT_TIMEOUT, "CLIENT_TIMEOUT", "No reply in time"},
    {UISCSI_CLIENT_FULL, "CLIENT_FULL", "Too many requests in flight"},
    {UISCSI_CLIENT_IO, "CLIENT_IO", "ZeroMQ I/O error"},
    {UISCSI_CLIENT_BAD_REPLY, "CLIENT_BAD_REPLY", "Malformed reply"},
    {UISCSI_CLIENT_INVALID, "CLIENT_INVALID", "Invalid argument"},
    {UISCSI_CLIENT_NOMEM, "CLIENT_NOMEM", "Out of memory"},
    {UISCSI_CLIENT_NO_DAEMON, "CLIENT_NO_DAEMON", "No daemon at the endpoint"},
    {UISCSI_CLIENT_BUFFER, "CLIENT_BUFFER", "Buffer too small"},
};

/* Table entry of a code, or NULL. */
static const s_code_t *
s_code_find (int code)
{
    for (size_t i = 0; i < sizeof s_codes / sizeof s_codes[0]; i++)
        if (s_codes[i].code == code)
            return &s_codes[i];
    return NULL;
}

/* Stable name of a code (static). */
const char *
uiscsi_error_name (int code)
{
    const s_code_t *c = s_code_find (code);
    return c ? c->name : "UNKNOWN";
}

/* Message of a code (static). */
const char *
uiscsi_strerror (int code)
{
    const s_code_t *c = s_code_find (code);
    return c ? c->message : "Unknown error";
}

/* Resets err, dropping its data. */
void
uiscsi_error_clear (uiscsi_error_t *err)
{
    if (!err)
        return;
    json_decref (err->data);
    memset (err, 0, sizeof *err);
    err->status = err->sense_key = err->asc = err->ascq = -1;
    err->status_class = err->status_detail = -1;
}

/* Integer field of err->data, or dflt. */
int64_t
uiscsi_error_get_int (const uiscsi_error_t *err, const char *key, int64_t dflt)
{
    json_t *v = err && err->data ? json_object_get (err->data, key) : NULL;
    return json_is_integer (v) ? (int64_t)json_integer_value (v) : dflt;
}

/* String field of err->data (borrowed), or NULL. */
const char *
uiscsi_error_get_str (const uiscsi_error_t *err, const char *key)
{
    json_t *v = err && err->data ? json_object_get (err->data, key) : NULL;
    return json_is_string (v) ? json_string_value (v) : NULL;
}

/* Fills err with a client-side error; data (stolen, may be NULL). */
static void
s_fail (uiscsi_error_t *err, int code, const char *message, json_t *data)
{
    if (!err) {
        json_decref (data);
        return;
    }
    uiscsi_error_clear (err);
    err->code = code;
    s_strlcpy (err->name, uiscsi_error_name (code), sizeof err->name);
    s_strlcpy (err->message, message ? message : uiscsi_strerror (code),
               sizeof err->message);
    err->data = data;
}

/* Fills err with CLIENT_IO and the current errno. */
static void
s_fail_zmq (uiscsi_error_t *err, const char *op)
{
    int e = zmq_errno ();
    char msg[160];
    snprintf (msg, sizeof msg, "%s: %s", op, zmq_strerror (e));
    s_fail (err, UISCSI_CLIENT_IO, msg, json_pack ("{s:s, s:i}", "op", op, "errno", e));
}

/* Fills the parsed fields of err from err->data. */
static void
s_error_parse_data (uiscsi_error_t *err)
{
    err->param = uiscsi_error_get_str (err, "param");
    err->reason = uiscsi_error_get_str (err, "reason");
    err->limit = uiscsi_error_get_str (err, "limit");
    err->status = (int)uiscsi_error_get_int (err, "status", -1);
    err->sense_key = (int)uiscsi_error_get_int (err, "sense_key", -1);
    err->asc = (int)uiscsi_error_get_int (err, "asc", -1);
    err->ascq = (int)uiscsi_error_get_int (err, "ascq", -1);
    err->sense_key_name = uiscsi_error_get_str (err, "sense_key_name");
    err->description = uiscsi_error_get_str (err, "description");
    err->status_name = uiscsi_error_get_str (err, "status_name");
    err->status_class = (int)uiscsi_error_get_int (err, "status_class", -1);
    err->status_detail = (int)uiscsi_error_get_int (err, "status_detail", -1);
    err->side = uiscsi_error_get_str (err, "side");
    err->session = uiscsi_error_get_str (err, "session");
}

/* Fills err from a reply's error object (borrowed). */
static void
s_error_from_reply (uiscsi_error_t *err, json_t *error)
{
    if (!err)
        return;
    uiscsi_error_clear (err);
    json_t *code = json_object_get (error, "code");
    json_t *message = json_object_get (error, "message");
    json_t *data = json_object_get (error, "data");
    err->code =
        json_is_integer (code) ? (int)json_integer_value (code) : UISCSI_CLIENT_BAD_REPLY;
    const char *name = NULL;
    if (json_is_object (data)) {
        err->data = json_incref (data);
        name = uiscsi_error_get_str (err, "name");
    }
    s_strlcpy (err->name, name ? name : uiscsi_error_name (err->code), sizeof err->name);
    s_strlcpy (err->message,
               json_is_string (message) ? json_string_value (message)
                                        : uiscsi_strerror (err->code),
               sizeof err->message);
    s_error_parse_data (err);
}

/* Moves src into dst (dst's previous data released). */
static void
s_error_move (uiscsi_error_t *dst, uiscsi_error_t *src)
{
    if (dst) {
        uiscsi_error_clear (dst);
        *dst = *src;
        s_error_parse_data (dst);
    }
    else
        json_decref (src->data);
    memset (src, 0, sizeof *src);
}

/* --- frames and results ------------------------------------------------- */

/* The frames of one received message, shared by the results of a batch. */
typedef struct {
    int refs;
    size_t n;
    zmq_msg_t msgs[];
} s_frames_t;

/* Drops a reference; closes the messages at the last one. */
static void
s_frames_unref (s_frames_t *frames)
{
    if (frames && --frames->refs == 0) {
        for (size_t i = 0; i < frames->n; i++)
            zmq_msg_close (&frames->msgs[i]);
        free (frames);
    }
}

typedef struct s_decoded {
    struct s_decoded *next;
    size_t size;
    unsigned char data[];
} s_decoded_t;

struct _uiscsi_result_t {
    json_t *json;         /* the result value */
    s_frames_t *frames;   /* frames of the reply (0 is the JSON) */
    s_decoded_t *decoded; /* base64 values decoded on demand */
};

/* Destroys a result. */
void
uiscsi_result_destroy (uiscsi_result_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    uiscsi_result_t *self = *self_p;
    json_decref (self->json);
    s_frames_unref (self->frames);
    while (self->decoded) {
        s_decoded_t *next = self->decoded->next;
        free (self->decoded);
        self->decoded = next;
    }
    free (self);
    *self_p = NULL;
}

/* The result value (borrowed). */
json_t *
uiscsi_result_json (const uiscsi_result_t *self)
{
    return self ? self->json : NULL;
}

/* Number of attachments. */
size_t
uiscsi_result_attachments (const uiscsi_result_t *self)
{
    return self && self->frames && self->frames->n ? self->frames->n - 1 : 0;
}

/* Attachment k (1-based), no copy. */
int
uiscsi_result_attachment (const uiscsi_result_t *self, size_t k, const void **data,
                          size_t *size)
{
    if (!self || k < 1 || k > uiscsi_result_attachments (self))
        return -1;
    zmq_msg_t *m = &self->frames->msgs[k];
    *data = zmq_msg_data (m);
    *size = zmq_msg_size (m);
    return 0;
}

/* Value of one base64 character, or -1. */
static int
s_b64_value (int c)
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

/* Decodes padded base64 (RFC 4648) into out (at least len / 4 * 3 bytes);
   returns the decoded size or -1. */
static long
s_b64_decode (const char *in, size_t len, unsigned char *out)
{
    if (len % 4)
        return -1;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4];
        int pad = 0;
        for (int j = 0; j < 4; j++) {
            if (in[i + j] == '=' && i + 4 == len && j >= 2) {
                v[j] = 0;
                pad++;
            }
            else if (pad || (v[j] = s_b64_value ((unsigned char)in[i + j])) < 0)
                return -1;
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6
                     | (uint32_t)v[3];
        out[o++] = (unsigned char)(w >> 16);
        if (pad < 2)
            out[o++] = (unsigned char)(w >> 8);
        if (pad < 1)
            out[o++] = (unsigned char)w;
    }
    return (long)o;
}

/* Resolves an attachment reference or a base64 string. */
int
uiscsi_result_resolve (uiscsi_result_t *self, json_t *value, const void **data,
                       size_t *size)
{
    if (!self || !value || !data || !size)
        return -1;
    if (json_is_object (value) && json_object_size (value) == 1) {
        json_t *k = json_object_get (value, "$attachment");
        if (!json_is_integer (k) || json_integer_value (k) < 1)
            return -1;
        return uiscsi_result_attachment (self, (size_t)json_integer_value (k), data,
                                         size);
    }
    if (!json_is_string (value))
        return -1;
    size_t len = json_string_length (value);
    s_decoded_t *d = malloc (sizeof *d + len / 4 * 3 + 1);
    if (!d)
        return -1;
    long n = s_b64_decode (json_string_value (value), len, d->data);
    if (n < 0) {
        free (d);
        return -1;
    }
    d->size = (size_t)n;
    d->next = self->decoded;
    self->decoded = d;
    *data = d->data;
    *size = d->size;
    return 0;
}

/* Resolves result["data"]. */
int
uiscsi_result_data (uiscsi_result_t *self, const void **data, size_t *size)
{
    return uiscsi_result_resolve (
        self, json_object_get (uiscsi_result_json (self), "data"), data, size);
}

/* Integer field of the result. */
int64_t
uiscsi_result_int (const uiscsi_result_t *self, const char *key, int64_t dflt)
{
    json_t *v = json_object_get (uiscsi_result_json (self), key);
    return json_is_integer (v) ? (int64_t)json_integer_value (v) : dflt;
}

/* String field of the result (borrowed). */
const char *
uiscsi_result_str (const uiscsi_result_t *self, const char *key)
{
    json_t *v = json_object_get (uiscsi_result_json (self), key);
    return json_is_string (v) ? json_string_value (v) : NULL;
}

/* Boolean field of the result. */
bool
uiscsi_result_bool (const uiscsi_result_t *self, const char *key, bool dflt)
{
    json_t *v = json_object_get (uiscsi_result_json (self), key);
    return json_is_boolean (v) ? json_is_true (v) : dflt;
}

/* A new {"$attachment": k}. */
json_t *
uiscsi_attachment_ref (size_t k)
{
    return json_pack ("{s:I}", "$attachment", (json_int_t)k);
}

/* --- request buffers ---------------------------------------------------- */

/* Tracks the zero-copy frames of one request: refs = frames ZeroMQ still
   holds + 1 for the request. The last release frees it. */
typedef struct s_tracker s_tracker_t;

typedef struct {
    s_tracker_t *tracker;
    void (*free_fn) (void *data, void *hint);
    void *hint;
} s_frame_ref_t;

struct s_tracker {
    atomic_int refs;
    atomic_bool committed; /* the request was accepted by ZeroMQ */
    size_t n;
    s_frame_ref_t frames[];
};

/* Drops one reference of a tracker. */
static void
s_tracker_unref (s_tracker_t *t)
{
    if (t && atomic_fetch_sub (&t->refs, 1) == 1)
        free (t);
}

/* ZeroMQ's free callback of a zero-copy frame (any thread): calls the
   caller's free_fn once the request was committed, then drops the ref. */
static void
s_frame_release (void *data, void *hint)
{
    s_frame_ref_t *ref = hint;
    s_tracker_t *t = ref->tracker;
    if (ref->free_fn && atomic_load (&t->committed))
        ref->free_fn (data, ref->hint);
    s_tracker_unref (t);
}

/* Waits (bounded) until ZeroMQ released every frame of the tracker. */
static void
s_tracker_wait (s_tracker_t *t)
{
    if (!t || atomic_load (&t->refs) <= 1)
        return;
    int64_t end = s_now_ms () + S_RELEASE_WAIT_MS;
    for (int i = 0; atomic_load (&t->refs) > 1 && i < 1000000; i++) {
        if (i < 64)
            sched_yield ();
        else {
            struct timespec ts = {0, 100000};
            nanosleep (&ts, NULL);
            if (s_now_ms () > end)
                break;
        }
    }
}

/* --- the client --------------------------------------------------------- */

typedef struct s_pending {
    int64_t id;
    struct s_pending *next;
    int64_t deadline;
    void *user;
    s_tracker_t *tracker;
    bool abandoned; /* the caller got CLIENT_TIMEOUT; drop the reply */
    bool is_sync;
    bool is_info; /* daemon.info: note the limits */
} s_pending_t;

typedef struct s_done {
    struct s_done *next;
    uiscsi_completion_t c;
} s_done_t;

struct _uiscsi_t {
    void *ctx;
    void *sock;
    char endpoint[UISCSI_ENDPOINT_MAX];
    uiscsi_options_t opts;
    int daemon_in_flight;
    size_t frame0_max;
    json_t *info;
    int64_t next_id;
    int in_flight;
    int abandoned; /* pending entries whose reply is dropped */
    s_pending_t *buckets[S_BUCKETS];
    s_done_t *done_head, *done_tail;
    size_t done_count;
    /* the request a synchronous call waits for */
    int64_t sync_id;
    bool sync_done;
    uiscsi_completion_t sync_c;
};

/* Default endpoint as API.md. */
int
uiscsi_default_endpoint (char *buf, size_t size)
{
    const char *env = getenv ("UISCSI_RPC");
    const char *system = "/run/uiscsi/rpc.sock";
    int n;
    if (env && *env)
        n = snprintf (buf, size, "%s", env);
    else if (geteuid () == 0)
        n = snprintf (buf, size, "ipc://%s", system);
    else {
        const char *xdg = getenv ("XDG_RUNTIME_DIR");
        struct stat st;
        char user[4096];
        bool use_user = false;
        if (xdg && xdg[0] == '/'
            && snprintf (user, sizeof user, "%s/uiscsi/rpc.sock", xdg) < (int)sizeof user)
            use_user = stat (user, &st) == 0 || stat (system, &st) != 0;
        n = use_user ? snprintf (buf, size, "ipc://%s", user)
                     : snprintf (buf, size, "ipc://%s", system);
    }
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

/* Finds a pending request by id. */
static s_pending_t *
s_pending_find (uiscsi_t *self, int64_t id)
{
    s_pending_t *p = self->buckets[id & (S_BUCKETS - 1)];
    while (p && p->id != id)
        p = p->next;
    return p;
}

/* Unlinks a pending request (not freed). */
static void
s_pending_unlink (uiscsi_t *self, s_pending_t *p)
{
    s_pending_t **pp = &self->buckets[p->id & (S_BUCKETS - 1)];
    while (*pp && *pp != p)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = p->next;
        self->in_flight--;
    }
}

/* Frees a pending request (its tracker ref dropped). */
static void
s_pending_free (s_pending_t *p)
{
    s_tracker_unref (p->tracker);
    free (p);
}

/* Destroys what a completion holds. */
static void
s_completion_clear (uiscsi_completion_t *c)
{
    uiscsi_result_destroy (&c->result);
    json_decref (c->error.data);
    memset (c, 0, sizeof *c);
}

/* Notes daemon.info's limits. */
static void
s_note_info (uiscsi_t *self, json_t *info)
{
    json_t *lim = json_object_get (info, "limits");
    json_t *n = json_object_get (lim, "in_flight_per_client");
    if (json_is_integer (n) && json_integer_value (n) > 0)
        self->daemon_in_flight = (int)json_integer_value (n);
    json_t *f0 = json_object_get (lim, "frame0_bytes");
    if (json_is_integer (f0) && json_integer_value (f0) > 0)
        self->frame0_max = (size_t)json_integer_value (f0);
    json_decref (self->info);
    self->info = json_incref (info);
}

/* Hands a finished request (removed from the hash) to its waiter: the
   synchronous call or the poll queue. Takes c's contents. */
static void
s_complete (uiscsi_t *self, s_pending_t *p, uiscsi_completion_t *c)
{
    s_tracker_wait (p->tracker);
    c->id = p->id;
    c->user = p->user;
    if (p->is_sync && p->id == self->sync_id) {
        self->sync_c = *c;
        self->sync_done = true;
    }
    else {
        s_done_t *d = malloc (sizeof *d);
        if (!d) {
            s_completion_clear (c);
            s_pending_free (p);
            return;
        }
        d->next = NULL;
        d->c = *c;
        if (self->done_tail)
            self->done_tail->next = d;
        else
            self->done_head = d;
        self->done_tail = d;
        self->done_count++;
    }
    memset (c, 0, sizeof *c);
    s_pending_free (p);
}

/* Handles one reply object (borrowed) of a message with frames. */
static void
s_on_reply (uiscsi_t *self, json_t *msg, s_frames_t *frames)
{
    json_t *jid = json_object_get (msg, "id");
    if (!json_is_integer (jid))
        return; /* not ours: we only send integer ids */
    s_pending_t *p = s_pending_find (self, (int64_t)json_integer_value (jid));
    if (!p)
        return;
    s_pending_unlink (self, p);
    if (p->abandoned) {
        self->abandoned--;
        s_pending_free (p);
        return;
    }
    uiscsi_completion_t c;
    memset (&c, 0, sizeof c);
    json_t *error = json_object_get (msg, "error");
    json_t *result = json_object_get (msg, "result");
    if (error) {
        c.status = -1;
        s_error_from_reply (&c.error, error);
    }
    else if (!result)
        c.status = -1,
        s_fail (&c.error, UISCSI_CLIENT_BAD_REPLY, "reply without result or error", NULL);
    else {
        c.result = calloc (1, sizeof *c.result);
        if (!c.result) {
            c.status = -1;
            s_fail (&c.error, UISCSI_CLIENT_NOMEM, NULL, NULL);
        }
        else {
            c.result->json = json_incref (result);
            c.result->frames = frames;
            frames->refs++;
            if (p->is_info)
                s_note_info (self, result);
        }
    }
    s_complete (self, p, &c);
}

/* Receives one message (non-blocking) and dispatches it. Returns 1 when one
   was handled, 0 when none was there, -1 on failure. */
static int
s_recv_one (uiscsi_t *self, uiscsi_error_t *err)
{
    zmq_msg_t first;
    zmq_msg_init (&first);
    if (zmq_msg_recv (&first, self->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&first);
        if (zmq_errno () == EAGAIN || zmq_errno () == EINTR)
            return 0;
        s_fail_zmq (err, "recv");
        return -1;
    }
    /* Gather the frames; count first with a small array that grows. */
    size_t cap = 4, n = 1;
    s_frames_t *frames = malloc (sizeof *frames + cap * sizeof (zmq_msg_t));
    if (!frames) {
        zmq_msg_close (&first);
        s_fail (err, UISCSI_CLIENT_NOMEM, NULL, NULL);
        return -1;
    }
    frames->refs = 1;
    frames->msgs[0] = first;
    bool too_many = false;
    while (zmq_msg_more (&frames->msgs[n - 1])) {
        zmq_msg_t m;
        zmq_msg_init (&m);
        if (zmq_msg_recv (&m, self->sock, 0) < 0) {
            zmq_msg_close (&m);
            break;
        }
        if (too_many || n >= S_MAX_FRAMES) {
            too_many = true; /* drain and drop */
            zmq_msg_close (&m);
            continue;
        }
        if (n == cap) {
            s_frames_t *bigger =
                realloc (frames, sizeof *frames + cap * 2 * sizeof (zmq_msg_t));
            if (!bigger) {
                too_many = true;
                zmq_msg_close (&m);
                continue;
            }
            frames = bigger;
            cap *= 2;
        }
        frames->msgs[n++] = m;
    }
    frames->n = n;
    /* An empty delimiter (never sent to a DEALER, but harmless). */
    size_t skip = zmq_msg_size (&frames->msgs[0]) == 0 && n > 1 ? 1 : 0;
    if (skip) {
        zmq_msg_close (&frames->msgs[0]);
        memmove (&frames->msgs[0], &frames->msgs[1], (n - 1) * sizeof (zmq_msg_t));
        frames->n = --n;
    }
    json_t *msg = too_many ? NULL
                           : json_loadb (zmq_msg_data (&frames->msgs[0]),
                                         zmq_msg_size (&frames->msgs[0]),
                                         JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (json_is_object (msg)) {
        if (!json_object_get (msg, "method"))
            s_on_reply (self, msg, frames);
        /* notifications (raw.stream.data) are not used by this client */
    }
    else if (json_is_array (msg)) {
        size_t i;
        json_t *item;
        json_array_foreach (msg, i, item)
        {
            if (json_is_object (item))
                s_on_reply (self, item, frames);
        }
    }
    json_decref (msg);
    s_frames_unref (frames);
    return 1;
}

/* Fails expired requests with CLIENT_TIMEOUT (their slots stay taken until
   the late reply). Returns the earliest deadline still ahead (INT64_MAX when
   none). */
static int64_t
s_expire (uiscsi_t *self, int64_t now)
{
    int64_t next = INT64_MAX;
    if (self->in_flight == 0)
        return next;
    for (size_t b = 0; b < S_BUCKETS; b++)
        for (s_pending_t *p = self->buckets[b]; p; p = p->next) {
            if (p->abandoned)
                continue;
            if (p->deadline > now) {
                if (p->deadline < next)
                    next = p->deadline;
                continue;
            }
            /* A synchronous call times out on its own; queue async ones. */
            if (p->is_sync)
                continue;
            p->abandoned = true;
            self->abandoned++;
            s_done_t *d = calloc (1, sizeof *d);
            if (!d)
                continue;
            d->c.id = p->id;
            d->c.user = p->user;
            d->c.status = -1;
            s_fail (&d->c.error, UISCSI_CLIENT_TIMEOUT, "no reply in time", NULL);
            if (self->done_tail)
                self->done_tail->next = d;
            else
                self->done_head = d;
            self->done_tail = d;
            self->done_count++;
        }
    return next;
}

/* Receives what is there, waiting up to wait_ms (>= 0) for the first
   message. Returns the number handled or -1. */
static int
s_pump (uiscsi_t *self, int wait_ms, uiscsi_error_t *err)
{
    int got = 0;
    for (int i = 0; i < S_RECV_BATCH; i++) {
        int rc = s_recv_one (self, err);
        if (rc < 0)
            return -1;
        if (rc == 0)
            break;
        got++;
    }
    if (got || wait_ms <= 0)
        return got;
    zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLIN, 0};
    int rc = zmq_poll (&item, 1, wait_ms);
    if (rc < 0) {
        if (zmq_errno () == EINTR)
            return 0;
        s_fail_zmq (err, "poll");
        return -1;
    }
    for (int i = 0; rc > 0 && i < S_RECV_BATCH; i++) {
        int r = s_recv_one (self, err);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got++;
    }
    return got;
}

/* The in-flight bound in force. */
int
uiscsi_max_in_flight (const uiscsi_t *self)
{
    int n = self->daemon_in_flight;
    if (self->opts.max_in_flight > 0 && self->opts.max_in_flight < n)
        n = self->opts.max_in_flight;
    return n;
}

/* Requests in flight. */
int
uiscsi_in_flight (const uiscsi_t *self)
{
    return self->in_flight;
}

/* Endpoint (borrowed). */
const char *
uiscsi_endpoint (const uiscsi_t *self)
{
    return self->endpoint;
}

/* daemon.info of the handshake (borrowed). */
json_t *
uiscsi_daemon_info_cached (const uiscsi_t *self)
{
    return self->info;
}

/* Completions queued. */
size_t
uiscsi_pending_completions (const uiscsi_t *self)
{
    return self->done_count;
}

/* ZMQ_FD of the socket. */
int
uiscsi_fd (uiscsi_t *self)
{
    int fd = -1;
    size_t len = sizeof fd;
    if (zmq_getsockopt (self->sock, ZMQ_FD, &fd, &len) != 0)
        return -1;
    return fd;
}

/* Free callback of frame 0 (a json_dumps string). */
static void
s_free_string (void *data, void *hint)
{
    (void)hint;
    free (data);
}

/* Builds and sends one request. params stolen. Returns the id or -1. */
static int64_t
s_send (uiscsi_t *self, const char *method, json_t *params,
        const uiscsi_buf_t *attachments, size_t n, void *user, bool is_sync,
        uiscsi_error_t *err)
{
    if (!self || !method || (n && !attachments) || (params && !json_is_object (params))
        || n >= S_MAX_FRAMES) {
        json_decref (params);
        s_fail (err, UISCSI_CLIENT_INVALID, "bad method, params or attachments", NULL);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!attachments[i].data && attachments[i].size) {
            json_decref (params);
            s_fail (err, UISCSI_CLIENT_INVALID, "attachment without data", NULL);
            return -1;
        }
    int64_t now = s_now_ms ();
    int64_t deadline =
        now + (self->opts.timeout_ms > 0 ? self->opts.timeout_ms : S_DEFAULT_TIMEOUT);
    json_t *tm = params ? json_object_get (params, "timeout_ms") : NULL;
    if (json_is_integer (tm) && json_integer_value (tm) >= 0)
        deadline = now + (int64_t)json_integer_value (tm) + S_TIMEOUT_SLACK;

    /* The in-flight bound: fail, or wait collecting replies. */
    if (self->in_flight >= uiscsi_max_in_flight (self)) {
        int64_t end = now + (is_sync ? deadline - now : self->opts.submit_wait_ms);
        for (int i = 0; self->in_flight >= uiscsi_max_in_flight (self); i++) {
            int64_t t = s_now_ms ();
            s_expire (self, t);
            if (t >= end || i > 10000000) {
                json_decref (params);
                s_fail (err, is_sync ? UISCSI_CLIENT_TIMEOUT : UISCSI_CLIENT_FULL,
                        "in-flight limit reached", NULL);
                return -1;
            }
            int64_t w = end - t;
            if (s_pump (self, (int)(w > 100 ? 100 : w), err) < 0) {
                json_decref (params);
                return -1;
            }
        }
    }

    int64_t id = self->next_id;
    json_t *req = json_pack ("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id", (json_int_t)id,
                             "method", method);
    if (!req || (params && json_object_set (req, "params", params) != 0)) {
        json_decref (req);
        json_decref (params);
        s_fail (err, UISCSI_CLIENT_NOMEM, NULL, NULL);
        return -1;
    }
    json_decref (params);
    char *text = json_dumps (req, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref (req);
    if (!text) {
        s_fail (err, UISCSI_CLIENT_NOMEM, NULL, NULL);
        return -1;
    }
    size_t len = strlen (text);
    if (len > self->frame0_max) {
        free (text);
        s_fail (err, UISCSI_LIMIT_EXCEEDED, "frame 0 over the daemon's limit",
                json_pack ("{s:s, s:s, s:I}", "name", "LIMIT_EXCEEDED", "limit",
                           "frame0_bytes", "value", (json_int_t)len));
        if (err)
            s_error_parse_data (err);
        return -1;
    }

    s_pending_t *p = calloc (1, sizeof *p);
    s_tracker_t *t = calloc (1, sizeof *t + n * sizeof (s_frame_ref_t));
    zmq_msg_t *msgs = calloc (n + 1, sizeof (zmq_msg_t));
    if (!p || !t || !msgs) {
        free (p);
        free (t);
        free (msgs);
        free (text);
        s_fail (err, UISCSI_CLIENT_NOMEM, NULL, NULL);
        return -1;
    }
    atomic_init (&t->refs, 1);
    atomic_init (&t->committed, false);
    t->n = n;
    int rc = zmq_msg_init_data (&msgs[0], text, len, s_free_string, NULL);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const uiscsi_buf_t *b = &attachments[i];
        if (!b->free_fn && b->size < S_COPY_BELOW) {
            rc = zmq_msg_init_size (&msgs[i + 1], b->size);
            if (rc == 0 && b->size)
                memcpy (zmq_msg_data (&msgs[i + 1]), b->data, b->size);
        }
        else {
            t->frames[i].tracker = t;
            t->frames[i].free_fn = b->free_fn;
            t->frames[i].hint = b->hint;
            atomic_fetch_add (&t->refs, 1);
            rc = zmq_msg_init_data (&msgs[i + 1], (void *)b->data, b->size,
                                    s_frame_release, &t->frames[i]);
            if (rc != 0)
                atomic_fetch_sub (&t->refs, 1);
        }
        if (rc != 0) {
            for (size_t j = 0; j <= i; j++)
                zmq_msg_close (&msgs[j]);
            free (msgs);
            free (p);
            s_tracker_unref (t);
            s_fail (err, UISCSI_CLIENT_NOMEM, NULL, NULL);
            return -1;
        }
    }
    if (rc != 0) { /* frame 0 failed */
        free (text);
        free (msgs);
        free (p);
        s_tracker_unref (t);
        s_fail (err, UISCSI_CLIENT_NOMEM, NULL, NULL);
        return -1;
    }

    /* Send: wait for the socket to accept the first frame, within the
       deadline; the other frames of a message then always go. */
    size_t sent = 0;
    for (int i = 0; sent == 0; i++) {
        atomic_store (&t->committed, true);
        if (zmq_msg_send (&msgs[0], self->sock, ZMQ_DONTWAIT | (n ? ZMQ_SNDMORE : 0))
            >= 0) {
            sent = 1;
            break;
        }
        atomic_store (&t->committed, false);
        int e = zmq_errno ();
        int64_t tnow = s_now_ms ();
        if ((e != EAGAIN && e != EINTR) || tnow >= deadline || i > 1000000) {
            for (size_t j = 0; j <= n; j++)
                zmq_msg_close (&msgs[j]);
            free (msgs);
            free (p);
            s_tracker_unref (t);
            if (e == EAGAIN)
                s_fail (err, UISCSI_CLIENT_TIMEOUT, "cannot send in time", NULL);
            else {
                errno = e;
                s_fail_zmq (err, "send");
            }
            return -1;
        }
        zmq_pollitem_t item = {self->sock, 0, ZMQ_POLLOUT, 0};
        int64_t w = deadline - tnow;
        zmq_poll (&item, 1, (long)(w > 100 ? 100 : w));
        if (s_pump (self, 0, NULL) < 0) { /* keep replies flowing */
        }
    }
    for (size_t i = 1; i <= n; i++) {
        if (zmq_msg_send (&msgs[i], self->sock, i < n ? ZMQ_SNDMORE : 0) < 0)
            zmq_msg_close (&msgs[i]); /* cannot happen once frame 0 went */
    }
    free (msgs);

    self->next_id++;
    p->id = id;
    p->deadline = deadline;
    p->user = user;
    p->tracker = t;
    p->is_sync = is_sync;
    p->is_info = strcmp (method, "daemon.info") == 0;
    size_t b = (size_t)(id & (S_BUCKETS - 1));
    p->next = self->buckets[b];
    self->buckets[b] = p;
    self->in_flight++;
    return id;
}

/* Sends a request without waiting. */
int64_t
uiscsi_submit (uiscsi_t *self, const char *method, json_t *params,
               const uiscsi_buf_t *attachments, size_t n, void *user, uiscsi_error_t *err)
{
    return s_send (self, method, params, attachments, n, user, false, err);
}

/* Collects one completion. */
int
uiscsi_poll (uiscsi_t *self, int timeout_ms, uiscsi_completion_t *out,
             uiscsi_error_t *err)
{
    if (!self || !out) {
        s_fail (err, UISCSI_CLIENT_INVALID, NULL, NULL);
        return -1;
    }
    int64_t start = s_now_ms ();
    for (int i = 0; i < 100000000; i++) {
        if (self->done_head) {
            s_done_t *d = self->done_head;
            self->done_head = d->next;
            if (!self->done_head)
                self->done_tail = NULL;
            self->done_count--;
            *out = d->c;
            s_error_parse_data (&out->error);
            free (d);
            return 1;
        }
        int got = s_pump (self, 0, err);
        if (got < 0)
            return -1;
        if (got > 0)
            continue;
        int64_t now = s_now_ms ();
        int64_t next = s_expire (self, now);
        if (self->done_head)
            continue;
        if (self->in_flight - self->abandoned == 0)
            return 0; /* nothing can complete */
        int64_t wait = timeout_ms < 0 ? next - now : start + timeout_ms - now;
        if (next - now < wait)
            wait = next - now;
        if (wait <= 0) {
            if (timeout_ms >= 0 && now >= start + timeout_ms)
                return 0;
            continue; /* a deadline is due: s_expire fails it */
        }
        if (s_pump (self, (int)(wait > 1000 ? 1000 : wait), err) < 0)
            return -1;
    }
    return 0;
}

/* Runs one call synchronously. */
int
uiscsi_call (uiscsi_t *self, const char *method, json_t *params,
             const uiscsi_buf_t *attachments, size_t n, uiscsi_result_t **result,
             uiscsi_error_t *err)
{
    if (result)
        *result = NULL;
    if (self && self->sync_id) {
        json_decref (params);
        s_fail (err, UISCSI_CLIENT_INVALID, "a call is already running", NULL);
        return -1;
    }
    int64_t id = s_send (self, method, params, attachments, n, NULL, true, err);
    if (id < 0)
        return -1;
    s_pending_t *p = s_pending_find (self, id);
    int64_t deadline = p->deadline;
    self->sync_id = id;
    self->sync_done = false;
    memset (&self->sync_c, 0, sizeof self->sync_c);
    for (int i = 0; !self->sync_done; i++) {
        int64_t now = s_now_ms ();
        if (now >= deadline || i > 100000000) {
            p = s_pending_find (self, id);
            if (p) {
                p->abandoned = true;
                p->is_sync = false;
                self->abandoned++;
            }
            self->sync_id = 0;
            s_fail (err, UISCSI_CLIENT_TIMEOUT, "no reply in time", NULL);
            return -1;
        }
        int64_t w = deadline - now;
        if (s_pump (self, (int)(w > 1000 ? 1000 : w), err) < 0) {
            p = s_pending_find (self, id);
            if (p) {
                p->abandoned = true;
                p->is_sync = false;
                self->abandoned++;
            }
            self->sync_id = 0;
            return -1;
        }
    }
    self->sync_id = 0;
    uiscsi_completion_t c = self->sync_c;
    memset (&self->sync_c, 0, sizeof self->sync_c);
    if (c.status != 0) {
        s_error_move (err, &c.error);
        uiscsi_result_destroy (&c.result);
        return -1;
    }
    if (result)
        *result = c.result;
    else
        uiscsi_result_destroy (&c.result);
    return 0;
}

/* Connects with options. */
uiscsi_t *
uiscsi_connect_opts (const char *endpoint, const uiscsi_options_t *opts,
                     uiscsi_error_t *err)
{
    uiscsi_t *self = calloc (1, sizeof *self);
    if (!self) {
        s_fail (err, UISCSI_CLIENT_NOMEM, NULL, NULL);
        return NULL;
    }
    if (opts)
        self->opts = *opts;
    self->daemon_in_flight = S_IN_FLIGHT;
    self->frame0_max = S_FRAME0_MAX;
    self->next_id = 1;
    if (endpoint) {
        if (strlen (endpoint) >= sizeof self->endpoint) {
            free (self);
            s_fail (err, UISCSI_CLIENT_INVALID, "endpoint too long", NULL);
            return NULL;
        }
        s_strlcpy (self->endpoint, endpoint, sizeof self->endpoint);
    }
    else if (uiscsi_default_endpoint (self->endpoint, sizeof self->endpoint) != 0) {
        free (self);
        s_fail (err, UISCSI_CLIENT_INVALID, "default endpoint too long", NULL);
        return NULL;
    }
    /* An ipc endpoint whose socket file is missing: no daemon, fail fast. */
    struct stat st;
    if (strncmp (self->endpoint, "ipc://", 6) == 0 && !(opts && opts->no_handshake)
        && stat (self->endpoint + 6, &st) != 0) {
        free (self);
        s_fail (err, UISCSI_CLIENT_NO_DAEMON, "no daemon socket at the endpoint", NULL);
        return NULL;
    }
    int linger = 0;
    self->ctx = zmq_ctx_new ();
    self->sock = self->ctx ? zmq_socket (self->ctx, ZMQ_DEALER) : NULL;
    if (!self->sock || zmq_setsockopt (self->sock, ZMQ_LINGER, &linger, sizeof linger)
        || zmq_connect (self->sock, self->endpoint) != 0) {
        s_fail_zmq (err, "connect");
        uiscsi_close (&self);
        return NULL;
    }
    if (!(opts && opts->no_handshake)) {
        int ms = opts && opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms
                                                      : S_DEFAULT_CONNECT;
        uiscsi_error_t e = UISCSI_ERROR_INIT;
        int saved = self->opts.timeout_ms;
        self->opts.timeout_ms = ms; /* the client-side wait of the handshake */
        int rc = uiscsi_call (self, "daemon.info", NULL, NULL, 0, NULL, &e);
        self->opts.timeout_ms = saved;
        if (rc != 0) {
            if (e.code == UISCSI_CLIENT_TIMEOUT) {
                uiscsi_error_clear (&e);
                s_fail (&e, UISCSI_CLIENT_NO_DAEMON, "no reply from the daemon", NULL);
            }
            s_error_move (err, &e);
            uiscsi_close (&self);
            return NULL;
        }
        json_t *v = json_object_get (self->info, "api_version");
        if (!json_is_integer (v) || json_integer_value (v) != UISCSI_API_VERSION) {
            s_fail (err, UISCSI_CLIENT_BAD_REPLY, "daemon speaks another API version",
                    NULL);
            uiscsi_close (&self);
            return NULL;
        }
    }
    return self;
}

/* Connects with the default options. */
uiscsi_t *
uiscsi_connect (const char *endpoint, uiscsi_error_t *err)
{
    return uiscsi_connect_opts (endpoint, NULL, err);
}

/* Closes everything and frees the client. */
void
uiscsi_close (uiscsi_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    uiscsi_t *self = *self_p;
    if (self->sock)
        zmq_close (self->sock);
    if (self->ctx)
        zmq_ctx_term (self->ctx); /* every message released when this returns */
    for (size_t b = 0; b < S_BUCKETS; b++)
        while (self->buckets[b]) {
            s_pending_t *p = self->buckets[b];
            self->buckets[b] = p->next;
            s_pending_free (p);
        }
    while (self->done_head) {
        s_done_t *d = self->done_head;
        self->done_head = d->next;
        s_completion_clear (&d->c);
        free (d);
    }
    s_completion_clear (&self->sync_c);
    json_decref (self->info);
    free (self);
    *self_p = NULL;
}
