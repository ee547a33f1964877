/* metrics.c: the event stream (XPUB), the event ring and subscription
 * counting, the metrics actor, and its client side. */
#include "actors/metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "actors/bus.h"
#include "actors/log.h"
#include "actors/rt/rt_ctx.h"
#include "proto/errors.h"

#define S_DRAIN_MAX      1000 /* messages per socket per round */
#define S_XPUB_LINGER_MS 200  /* time to flush the last events on close */
#define S_CLIENT_TOPICS  16

/* ===================================================== the event ring */

typedef struct {
    uint64_t seq;
    char *text; /* topic NUL json NUL, one allocation */
    size_t topic_len;
    size_t json_len;
} s_entry_t;

struct metrics_ring {
    s_entry_t *entries;
    size_t capacity;
    size_t head; /* index of the oldest */
    size_t count;
    size_t bytes;
    size_t max_bytes;
};

/* Creates an empty ring. */
metrics_ring_t *
metrics_ring_new (size_t capacity, size_t max_bytes)
{
    if (capacity == 0)
        return NULL;
    metrics_ring_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->entries = calloc (capacity, sizeof (s_entry_t));
    if (!self->entries) {
        free (self);
        return NULL;
    }
    self->capacity = capacity;
    self->max_bytes = max_bytes;
    return self;
}

/* Frees the ring. */
void
metrics_ring_destroy (metrics_ring_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    metrics_ring_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        free (self->entries[(self->head + i) % self->capacity].text);
    free (self->entries);
    free (self);
    *self_p = NULL;
}

/* Drops the oldest event. */
static void
s_ring_pop (metrics_ring_t *self)
{
    s_entry_t *e = &self->entries[self->head];
    self->bytes -= e->topic_len + e->json_len;
    free (e->text);
    memset (e, 0, sizeof *e);
    self->head = (self->head + 1) % self->capacity;
    self->count--;
}

/* Appends a copy of an event. */
int
metrics_ring_push (metrics_ring_t *self, uint64_t seq, const char *topic,
                   const char *json, size_t json_len)
{
    if (self->count > 0 && seq != metrics_ring_last_seq (self) + 1)
        return UIS_ERR_SEQUENCE;
    size_t topic_len = strlen (topic);
    if (topic_len + json_len > self->max_bytes)
        return UIS_ERR_TOO_LONG;
    char *text = malloc (topic_len + json_len + 2);
    if (!text)
        return UIS_ERR_NOMEM;
    memcpy (text, topic, topic_len + 1);
    memcpy (text + topic_len + 1, json, json_len);
    text[topic_len + 1 + json_len] = 0;
    while (self->count > 0
           && (self->count == self->capacity
               || self->bytes + topic_len + json_len > self->max_bytes))
        s_ring_pop (self);
    s_entry_t *e = &self->entries[(self->head + self->count) % self->capacity];
    *e = (s_entry_t){seq, text, topic_len, json_len};
    self->count++;
    self->bytes += topic_len + json_len;
    return 0;
}

/* Events held. */
size_t
metrics_ring_count (const metrics_ring_t *self)
{
    return self->count;
}

/* Oldest seq held. */
uint64_t
metrics_ring_first_seq (const metrics_ring_t *self)
{
    return self->count ? self->entries[self->head].seq : 0;
}

/* Newest seq held. */
uint64_t
metrics_ring_last_seq (const metrics_ring_t *self)
{
    return self->count
               ? self->entries[(self->head + self->count - 1) % self->capacity].seq
               : 0;
}

/* A growable text buffer; on failure it frees itself and stays NULL. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} s_buf_t;

/* Appends len bytes of text (keeps a NUL after them). */
static void
s_buf_add (s_buf_t *b, const char *text, size_t len)
{
    if (!b->data)
        return;
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap * 2 > b->len + len + 1 ? b->cap * 2 : b->len + len + 1;
        char *data = realloc (b->data, cap);
        if (!data) {
            free (b->data);
            b->data = NULL;
            return;
        }
        b->data = data;
        b->cap = cap;
    }
    memcpy (b->data + b->len, text, len);
    b->len += len;
    b->data[b->len] = 0;
}

/* Appends an event with "topic" spliced in front of its fields. */
static void
s_buf_add_event (s_buf_t *b, const s_entry_t *e)
{
    const char *json = e->text + e->topic_len + 1;
    size_t i = 1; /* past '{' */
    while (i < e->json_len && (json[i] == ' ' || json[i] == '\n' || json[i] == '\t'))
        i++;
    bool empty = i >= e->json_len || json[i] == '}';
    s_buf_add (b, "{\"topic\":\"", 10);
    s_buf_add (b, e->text, e->topic_len);
    if (empty)
        s_buf_add (b, "\"}", 2);
    else {
        s_buf_add (b, "\",", 2);
        s_buf_add (b, json + 1, e->json_len - 1);
    }
}

/* Builds the events.get result text. */
char *
metrics_ring_get (const metrics_ring_t *self, uint64_t since_seq, size_t max,
                  size_t max_bytes, size_t *len_p)
{
    s_buf_t b = {malloc (256), 0, 256};
    s_buf_add (&b, "{\"events\":[", 11);
    size_t start = self->count;
    uint64_t first = metrics_ring_first_seq (self);
    if (self->count > 0) {
        if (since_seq < first)
            start = 0;
        else if (since_seq - first + 1 < self->count)
            start = (size_t)(since_seq - first + 1);
    }
    for (size_t i = start, n = 0; i < self->count && n < max && b.data; i++, n++) {
        if (n > 0 && b.len > max_bytes)
            break;
        if (n > 0)
            s_buf_add (&b, ",", 1);
        s_buf_add_event (&b, &self->entries[(self->head + i) % self->capacity]);
    }
    char tail[96];
    int n = snprintf (tail, sizeof tail, "],\"last_seq\":%llu,\"first_seq\":%llu}",
                      (unsigned long long)metrics_ring_last_seq (self),
                      (unsigned long long)first);
    s_buf_add (&b, tail, (size_t)n);
    if (b.data && len_p)
        *len_p = b.len;
    return b.data;
}

/* ================================================ subscription counts */

typedef struct {
    char *prefix;
    size_t len;
    size_t count;
} s_prefix_t;

struct metrics_subs {
    s_prefix_t *items;
    size_t n;
    size_t cap;
};

/* Creates an empty table. */
metrics_subs_t *
metrics_subs_new (void)
{
    return calloc (1, sizeof (metrics_subs_t));
}

/* Frees the table. */
void
metrics_subs_destroy (metrics_subs_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    metrics_subs_t *self = *self_p;
    for (size_t i = 0; i < self->n; i++)
        free (self->items[i].prefix);
    free (self->items);
    free (self);
    *self_p = NULL;
}

/* Index of an exact prefix, or -1. */
static long
s_subs_find (const metrics_subs_t *self, const void *prefix, size_t len)
{
    for (size_t i = 0; i < self->n; i++)
        if (self->items[i].len == len && memcmp (self->items[i].prefix, prefix, len) == 0)
            return (long)i;
    return -1;
}

/* Applies one XPUB subscription message. */
int
metrics_subs_update (metrics_subs_t *self, const void *msg, size_t size)
{
    const uint8_t *p = msg;
    if (size < 1 || (p[0] != 0 && p[0] != 1))
        return UIS_ERR_MALFORMED;
    size_t len = size - 1;
    if (len > METRICS_PREFIX_MAX)
        return 0;
    long i = s_subs_find (self, p + 1, len);
    if (p[0] == 0) {
        if (i < 0)
            return 0;
        if (--self->items[i].count == 0) {
            free (self->items[i].prefix);
            self->items[i] = self->items[--self->n];
        }
        return 1;
    }
    if (i >= 0) {
        self->items[i].count++;
        return 1;
    }
    if (self->n >= METRICS_PREFIXES_MAX)
        return 0;
    if (self->n == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 8;
        s_prefix_t *items = realloc (self->items, cap * sizeof *items);
        if (!items)
            return 0;
        self->items = items;
        self->cap = cap;
    }
    char *copy = malloc (len + 1);
    if (!copy)
        return 0;
    memcpy (copy, p + 1, len);
    copy[len] = 0;
    self->items[self->n++] = (s_prefix_t){copy, len, 1};
    return 1;
}

/* Subscriptions to exactly prefix. */
size_t
metrics_subs_count (const metrics_subs_t *self, const char *prefix)
{
    long i = s_subs_find (self, prefix, strlen (prefix));
    return i < 0 ? 0 : self->items[i].count;
}

/* Subscriptions whose prefix starts topic. */
size_t
metrics_subs_matching (const metrics_subs_t *self, const char *topic)
{
    size_t len = strlen (topic), total = 0;
    for (size_t i = 0; i < self->n; i++)
        if (self->items[i].len <= len
            && memcmp (self->items[i].prefix, topic, self->items[i].len) == 0)
            total += self->items[i].count;
    return total;
}

/* {prefix: count}. */
json_t *
metrics_subs_json (const metrics_subs_t *self)
{
    json_t *obj = json_object ();
    for (size_t i = 0; obj && i < self->n; i++) {
        json_t *v = json_integer ((json_int_t)self->items[i].count);
        /* fails (and frees v) for a prefix that is not UTF-8: left out */
        json_object_setn_new (obj, self->items[i].prefix, self->items[i].len, v);
    }
    return obj;
}

/* ========================================================== the actor */

typedef struct {
    uint8_t id[BUS_ROUTING_ID_MAX];
    size_t id_len;
    bool table;
    char topic[METRICS_TOPIC_MAX + 1];
    bool sent;
    size_t last;
} s_watcher_t;

struct metrics {
    void *xpub;
    void *router;
    metrics_ring_t *ring;
    metrics_subs_t *subs;
    char epoch[17];
    uint64_t seq; /* of the last event published */
    uint64_t published;
    uint64_t dropped;
    s_watcher_t *watchers;
    size_t nwatchers;
    rt_body_t *body; /* when running as an actor */
};

/* Whether topic is 1..METRICS_TOPIC_MAX bytes of [A-Za-z0-9._-]. */
static bool
s_topic_ok (const char *topic, size_t len)
{
    if (len == 0 || len > METRICS_TOPIC_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = topic[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Draws the run's epoch: 64 random bits in hex. */
static void
s_draw_epoch (char *out)
{
    uint64_t r = 0;
    if (getrandom (&r, sizeof r, 0) != (ssize_t)sizeof r) {
        struct timespec ts;
        clock_gettime (CLOCK_REALTIME, &ts);
        r = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^ (uint64_t)getpid ();
    }
    snprintf (out, 17, "%016llx", (unsigned long long)r);
}

/* Creates the publisher and binds its sockets. */
metrics_t *
metrics_new (const metrics_config_t *config, int *err)
{
    int rc = UIS_ERR_NOMEM;
    metrics_t *self = calloc (1, sizeof *self);
    if (!self)
        goto fail;
    size_t capacity = config->ring_capacity ? config->ring_capacity : 10000;
    size_t bytes = config->ring_bytes ? config->ring_bytes : (32u << 20);
    self->ring = metrics_ring_new (capacity, bytes);
    self->subs = metrics_subs_new ();
    if (!self->ring || !self->subs)
        goto fail;
    s_draw_epoch (self->epoch);
    rc = UIS_ERR_STATE;
    self->xpub = rt_socket_new (ZMQ_XPUB);
    self->router = rt_socket_new (ZMQ_ROUTER);
    if (!self->xpub || !self->router)
        goto fail;
    int one = 1;
    zmq_setsockopt (self->xpub, ZMQ_XPUB_VERBOSER, &one, sizeof one);
    if (zmq_bind (self->xpub, config->events_endpoint) != 0) {
        uis_error ("metrics", "cannot bind the events endpoint: %s",
                   zmq_strerror (errno));
        goto fail;
    }
    if (zmq_bind (self->router, config->api_endpoint) != 0) {
        uis_error ("metrics", "cannot bind %s: %s", config->api_endpoint,
                   zmq_strerror (errno));
        goto fail;
    }
    return self;
fail:
    if (err)
        *err = rc;
    metrics_destroy (&self);
    return NULL;
}

/* Closes the sockets and frees everything. */
void
metrics_destroy (metrics_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    metrics_t *self = *self_p;
    if (self->xpub) {
        int linger = S_XPUB_LINGER_MS;
        zmq_setsockopt (self->xpub, ZMQ_LINGER, &linger, sizeof linger);
    }
    rt_socket_destroy (&self->xpub);
    rt_socket_destroy (&self->router);
    metrics_ring_destroy (&self->ring);
    metrics_subs_destroy (&self->subs);
    free (self->watchers);
    free (self);
    *self_p = NULL;
}

/* Publishes one event. */
int
metrics_publish (metrics_t *self, const char *topic, const char *fields_json, size_t len)
{
    if (!s_topic_ok (topic, strlen (topic)) || len < 2 || fields_json[0] != '{'
        || fields_json[len - 1] != '}') {
        self->dropped++;
        return UIS_ERR_INVALID_ARG;
    }
    size_t i = 1;
    while (i < len && (fields_json[i] == ' ' || fields_json[i] == '\n'))
        i++;
    bool empty = fields_json[i] == '}';
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    char when[32];
    uis_log_time ((long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, when, sizeof when);
    char head[128];
    int n = snprintf (head, sizeof head, "{\"seq\":%llu,\"epoch\":\"%s\",\"ts\":\"%s\"%s",
                      (unsigned long long)(self->seq + 1), self->epoch, when,
                      empty ? "}" : ",");
    size_t total = (size_t)n + (empty ? 0 : len - 1);
    if (total > METRICS_EVENT_MAX) {
        self->dropped++;
        return UIS_ERR_TOO_LONG;
    }
    char *text = malloc (total + 1);
    if (!text) {
        self->dropped++;
        return UIS_ERR_NOMEM;
    }
    memcpy (text, head, (size_t)n);
    if (!empty)
        memcpy (text + n, fields_json + 1, len - 1);
    text[total] = 0;
    int rc = metrics_ring_push (self->ring, self->seq + 1, topic, text, total);
    if (rc != 0) {
        free (text);
        self->dropped++;
        return rc;
    }
    self->seq++;
    self->published++;
    /* A slow subscriber past its HWM misses events; events.get fills gaps. */
    if (zmq_send (self->xpub, topic, strlen (topic), ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0)
        zmq_send (self->xpub, text, total, ZMQ_DONTWAIT);
    free (text);
    return 0;
}

/* The ring (owned by self). */
const metrics_ring_t *
metrics_ring (const metrics_t *self)
{
    return self->ring;
}

/* The subscription table (owned by self). */
const metrics_subs_t *
metrics_subs (const metrics_t *self)
{
    return self->subs;
}

/* The epoch string of this run (owned by self). */
const char *
metrics_epoch (const metrics_t *self)
{
    return self->epoch;
}

/* Events published so far. */
uint64_t
metrics_published (const metrics_t *self)
{
    return self->published;
}

/* Sends watcher w what it watches, if it changed (or always for tables). */
static void
s_notify (metrics_t *self, s_watcher_t *w)
{
    rt_msg_t msg;
    if (w->table) {
        json_t *table =
            json_pack ("{s:o}", "subscribers", metrics_subs_json (self->subs));
        rt_msg_init (&msg, BUS_EVENTS_TABLE);
        int rc = table ? bus_set_json_body (&msg, table) : UIS_ERR_NOMEM;
        json_decref (table);
        if (rc == 0)
            bus_router_send (self->router, w->id, w->id_len, &msg);
        rt_msg_close (&msg);
        return;
    }
    size_t count = metrics_subs_matching (self->subs, w->topic);
    if (w->sent && count == w->last)
        return;
    rt_msg_init (&msg, BUS_EVENTS_INTEREST);
    msg.env.aux = count;
    if (rt_msg_set_body (&msg, w->topic, strlen (w->topic)) == 0
        && bus_router_send (self->router, w->id, w->id_len, &msg) == 0) {
        w->sent = true;
        w->last = count;
    }
    rt_msg_close (&msg);
}

/* XPUB ready: subscription messages. */
static int
s_on_xpub (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg)
{
    (void)reactor;
    (void)item;
    metrics_t *self = arg;
    bool changed = false;
    for (int n = 0; n < S_DRAIN_MAX; n++) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, self->xpub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&frame);
            break;
        }
        if (metrics_subs_update (self->subs, zmq_msg_data (&frame), zmq_msg_size (&frame))
            == 1)
            changed = true;
        zmq_msg_close (&frame);
    }
    for (size_t i = 0; changed && i < self->nwatchers; i++)
        s_notify (self, &self->watchers[i]);
    return 0;
}

/* BUS_EVENTS_WATCH / _UNWATCH from the client with routing id. */
static void
s_watch (metrics_t *self, const zmq_msg_t *id, const rt_msg_t *msg, bool add)
{
    size_t len = 0;
    const char *topic = rt_msg_body (msg, &len);
    bool table = (msg->env.flags & BUS_F_TABLE) != 0;
    if (!table && (!topic || !s_topic_ok (topic, len)))
        return;
    size_t id_len = zmq_msg_size (id);
    const void *id_data = zmq_msg_data ((zmq_msg_t *)id);
    for (size_t i = 0; i < self->nwatchers; i++) {
        s_watcher_t *w = &self->watchers[i];
        if (w->id_len == id_len && memcmp (w->id, id_data, id_len) == 0
            && w->table == table
            && (table
                || (strlen (w->topic) == len && memcmp (w->topic, topic, len) == 0))) {
            if (add)
                s_notify (self, w);
            else
                self->watchers[i] = self->watchers[--self->nwatchers];
            return;
        }
    }
    if (!add || self->nwatchers >= METRICS_WATCHERS_MAX || id_len > BUS_ROUTING_ID_MAX)
        return;
    s_watcher_t *w = realloc (self->watchers, (self->nwatchers + 1) * sizeof *w);
    if (!w)
        return;
    self->watchers = w;
    w = &self->watchers[self->nwatchers++];
    memset (w, 0, sizeof *w);
    memcpy (w->id, id_data, id_len);
    w->id_len = id_len;
    w->table = table;
    if (!table)
        memcpy (w->topic, topic, len);
    s_notify (self, w);
}

/* One message from another actor. */
static void
s_on_api_msg (metrics_t *self, const zmq_msg_t *id, rt_msg_t *msg)
{
    size_t size = 0;
    const char *body = rt_msg_body (msg, &size);
    switch (msg->env.type) {
    case BUS_EVENT_PUBLISH: {
        const char *nul = body ? memchr (body, 0, size) : NULL;
        if (nul)
            metrics_publish (self, body, nul + 1, size - (size_t)(nul + 1 - body));
        break;
    }
    case BUS_EVENTS_GET: {
        const bus_events_get_t *q = rt_msg_body_as (msg, sizeof (bus_events_get_t));
        if (!q)
            break;
        size_t len = 0;
        char *text = metrics_ring_get (self->ring, q->since_seq, q->max,
                                       METRICS_GET_REPLY_MAX, &len);
        rt_msg_t reply;
        rt_msg_init (&reply, BUS_REPLY);
        reply.env.corr = msg->env.corr;
        int rc = text ? rt_msg_set_body (&reply, text, len) : UIS_ERR_NOMEM;
        free (text);
        if (rc != 0) {
            json_t *e =
                json_pack ("{s:i, s:s}", "code", -32603, "message", "Internal error");
            bus_reply_init (&reply, msg->env.corr, UIS_ERR_NOMEM, e);
            json_decref (e);
        }
        bus_router_send (self->router, zmq_msg_data ((zmq_msg_t *)id), zmq_msg_size (id),
                         &reply);
        break;
    }
    case BUS_EVENTS_WATCH:
    case BUS_EVENTS_UNWATCH:
        s_watch (self, id, msg, msg->env.type == BUS_EVENTS_WATCH);
        break;
    default:
        break;
    }
}

/* ROUTER ready: requests from other actors. */
static int
s_on_router (rt_reactor_t *reactor, const zmq_pollitem_t *item, void *arg)
{
    (void)reactor;
    (void)item;
    metrics_t *self = arg;
    for (int n = 0; n < S_DRAIN_MAX; n++) {
        zmq_msg_t id;
        zmq_msg_init (&id);
        rt_msg_t msg;
        int rc = bus_router_recv (self->router, &id, &msg);
        if (rc == 0)
            s_on_api_msg (self, &id, &msg);
        rt_msg_close (&msg);
        zmq_msg_close (&id);
        if (rc != 0 && rc != UIS_ERR_MALFORMED && rc != UIS_ERR_TOO_LONG)
            break;
    }
    return 0;
}

/* Registers the sockets. */
int
metrics_attach (metrics_t *self, rt_reactor_t *reactor)
{
    int rc = rt_reactor_add_socket (reactor, self->xpub, ZMQ_POLLIN, s_on_xpub, self);
    if (rc == 0)
        rc = rt_reactor_add_socket (reactor, self->router, ZMQ_POLLIN, s_on_router, self);
    return rc;
}

/* Unregisters the sockets. */
void
metrics_detach (metrics_t *self, rt_reactor_t *reactor)
{
    rt_reactor_remove_socket (reactor, self->xpub);
    rt_reactor_remove_socket (reactor, self->router);
}

/* A message from the parent: BUS_STATE. */
static void
s_actor_on_msg (rt_body_t *body, rt_msg_t *msg, void *state)
{
    metrics_t *self = state;
    if (msg->env.type != BUS_STATE)
        return;
    size_t len = 0;
    const char *name = rt_msg_body (msg, &len);
    json_t *fields = json_pack ("{s:s%}", "state", name ? name : "", name ? len : 0);
    char *text = fields ? json_dumps (fields, JSON_COMPACT) : NULL;
    json_decref (fields);
    int rc = text ? metrics_publish (self, "daemon.state", text, strlen (text))
                  : UIS_ERR_NOMEM;
    free (text);
    rt_msg_signal (rt_body_pipe (body), BUS_STATE_DONE, rc, ZMQ_DONTWAIT);
}

/* TERM: unregister and free. */
static void
s_actor_on_term (rt_body_t *body, void *state)
{
    metrics_t *self = state;
    metrics_detach (self, rt_body_reactor (body));
    metrics_destroy (&self);
}

/* Actor body. */
int
metrics_actor (rt_body_t *body, void *args)
{
    int rc = UIS_ERR_NOMEM;
    metrics_t *self = metrics_new (args, &rc);
    if (!self)
        return rc;
    self->body = body;
    rc = metrics_attach (self, rt_body_reactor (body));
    if (rc != 0) {
        metrics_detach (self, rt_body_reactor (body));
        metrics_destroy (&self);
        return rc;
    }
    rt_body_set (body, s_actor_on_msg, s_actor_on_term, self);
    return 0;
}

/* ===================================================== the client side */

struct metrics_client {
    void *dealer;
    size_t ntopics;
    char topics[S_CLIENT_TOPICS][METRICS_TOPIC_MAX + 1];
    size_t counts[S_CLIENT_TOPICS];
};

/* Connects a DEALER to the metrics actor. */
metrics_client_t *
metrics_client_new (const char *api_endpoint)
{
    metrics_client_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->dealer = rt_socket_new (ZMQ_DEALER);
    if (!self->dealer || zmq_connect (self->dealer, api_endpoint) != 0) {
        metrics_client_destroy (&self);
        return NULL;
    }
    return self;
}

/* Closes the client. */
void
metrics_client_destroy (metrics_client_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    rt_socket_destroy (&(*self_p)->dealer);
    free (*self_p);
    *self_p = NULL;
}

/* The DEALER. */
void *
metrics_client_socket (metrics_client_t *self)
{
    return self->dealer;
}

/* Publishes an event. */
int
metrics_client_publish (metrics_client_t *self, const char *topic, const json_t *fields)
{
    size_t tlen = strlen (topic);
    if (!s_topic_ok (topic, tlen) || !json_is_object (fields))
        return UIS_ERR_INVALID_ARG;
    char *text = json_dumps (fields, JSON_COMPACT);
    if (!text)
        return UIS_ERR_NOMEM;
    size_t len = strlen (text);
    char *body = malloc (tlen + 1 + len);
    int rc = UIS_ERR_NOMEM;
    if (body) {
        memcpy (body, topic, tlen + 1);
        memcpy (body + tlen + 1, text, len);
        rt_msg_t msg;
        rt_msg_init (&msg, BUS_EVENT_PUBLISH);
        rc = rt_msg_set_body (&msg, body, tlen + 1 + len);
        if (rc == 0)
            rc = rt_msg_send (&msg, self->dealer, ZMQ_DONTWAIT);
        rt_msg_close (&msg);
    }
    free (body);
    free (text);
    return rc;
}

/* Starts watching a topic. */
int
metrics_client_watch (metrics_client_t *self, const char *topic)
{
    size_t len = strlen (topic);
    if (!s_topic_ok (topic, len))
        return UIS_ERR_INVALID_ARG;
    if (self->ntopics >= S_CLIENT_TOPICS)
        return UIS_ERR_TOO_LONG;
    rt_msg_t msg;
    rt_msg_init (&msg, BUS_EVENTS_WATCH);
    int rc = rt_msg_set_body (&msg, topic, len);
    if (rc == 0)
        rc = rt_msg_send (&msg, self->dealer, ZMQ_DONTWAIT);
    rt_msg_close (&msg);
    if (rc == 0) {
        memcpy (self->topics[self->ntopics], topic, len + 1);
        self->counts[self->ntopics++] = 0;
    }
    return rc;
}

/* Whether a watched topic has subscribers. */
bool
metrics_client_interested (const metrics_client_t *self, const char *topic)
{
    for (size_t i = 0; i < self->ntopics; i++)
        if (strcmp (self->topics[i], topic) == 0)
            return self->counts[i] > 0;
    return false;
}

/* Consumes an interest notice. */
bool
metrics_client_on_msg (metrics_client_t *self, const rt_msg_t *msg)
{
    if (msg->env.type != BUS_EVENTS_INTEREST)
        return false;
    size_t len = 0;
    const char *topic = rt_msg_body (msg, &len);
    for (size_t i = 0; topic && i < self->ntopics; i++)
        if (strlen (self->topics[i]) == len && memcmp (self->topics[i], topic, len) == 0)
            self->counts[i] = (size_t)msg->env.aux;
    return true;
}
