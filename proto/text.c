/* text.c: iSCSI key=value text segments (RFC 7143 §6.1): parser, builder,
 * continuation reassembly and splitting. See text.h for the rules. */
#include "text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

/* One pair: offsets into the arena, where each key and each value is stored
 * NUL-terminated ("key\0value\0"). */
typedef struct {
    size_t key_off;
    size_t key_len;
    size_t val_off;
    size_t val_len;
} s_pair_t;

struct uis_text {
    char *arena; /* keys and values, NUL-terminated */
    size_t arena_len;
    size_t arena_cap;
    s_pair_t *pairs;
    size_t count;
    size_t pairs_cap;
    size_t encoded_len; /* sum of key_len + 1 + val_len + 1 */
    size_t max_bytes;   /* limit on encoded_len */
    uint8_t *enc;       /* encoding cache */
    size_t enc_cap;
};

struct uis_text_rx {
    uint8_t *buf;
    size_t len;
    size_t cap;
    size_t max_total;
    bool done;
};

struct uis_text_tx {
    uint8_t *buf;
    size_t len;
    size_t sent;
    bool loaded;
    bool done;
};

/* ---- key rules ---------------------------------------------------------- */

/* True for a byte allowed in a key: letters, digits, . - + @ _ (§6.1
 * standard-label) and '#' (the "X#" IANA extension prefix, §13.22). */
static bool
s_key_char (unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
           || c == '.' || c == '-' || c == '+' || c == '@' || c == '_' || c == '#';
}

/* True when the len bytes at key start with prefix. */
static bool
s_has_prefix (const char *key, size_t len, const char *prefix)
{
    size_t plen = strlen (prefix);
    return len >= plen && strncmp (key, prefix, plen) == 0;
}

/* True when the len bytes at key equal word. */
static bool
s_equals (const char *key, size_t len, const char *word)
{
    return strlen (word) == len && strncmp (key, word, len) == 0;
}

/* Value limit for a key given by pointer and length (see text.h). */
static size_t
s_value_max (const char *key, size_t len)
{
    /* §12.1.3: CHAP_C / CHAP_R are binary values up to 1024 bytes, encoded
     * as hex or base64; §12.1.1-12.1.2: SRP, KRB5 and SPKM exchanges carry
     * large binary values too; vendor keys (§13.22) have private formats. */
    if (s_equals (key, len, "CHAP_C") || s_equals (key, len, "CHAP_R")
        || s_has_prefix (key, len, "SRP_") || s_has_prefix (key, len, "KRB_")
        || s_has_prefix (key, len, "SPKM_") || s_has_prefix (key, len, "X-")
        || s_has_prefix (key, len, "X#") || s_has_prefix (key, len, "Y-")
        || s_has_prefix (key, len, "Y#") || s_has_prefix (key, len, "Z-")
        || s_has_prefix (key, len, "Z#"))
        return UIS_TEXT_LONG_VALUE_MAX;
    return UIS_TEXT_VALUE_MAX;
}

/* Checks a key given by pointer and length: 0, UIS_ERR_TEXT_SYNTAX or
 * UIS_ERR_TEXT_KEY_LEN. */
static int
s_check_key (const char *key, size_t len)
{
    if (len == 0)
        return UIS_ERR_TEXT_SYNTAX;
    if (len > UIS_TEXT_KEY_MAX)
        return UIS_ERR_TEXT_KEY_LEN;
    for (size_t i = 0; i < len; i++)
        if (!s_key_char ((unsigned char)key[i]))
            return UIS_ERR_TEXT_SYNTAX;
    return 0;
}

bool
uis_text_key_valid (const char *key)
{
    return key && s_check_key (key, strnlen (key, UIS_TEXT_KEY_MAX + 1)) == 0;
}

size_t
uis_text_value_max (const char *key)
{
    if (!key)
        return UIS_TEXT_VALUE_MAX;
    return s_value_max (key, strnlen (key, UIS_TEXT_KEY_MAX + 1));
}

/* TargetName and TargetAddress repeat in SendTargets responses (§13.3) and
 * TargetAddress in redirections with several portals. */
bool
uis_text_key_repeatable (const char *key)
{
    return key && (strcmp (key, "TargetName") == 0 || strcmp (key, "TargetAddress") == 0);
}

/* ---- the list ------------------------------------------------------------ */

uis_text_t *
uis_text_new (void)
{
    uis_text_t *self = calloc (1, sizeof *self);
    if (self)
        self->max_bytes = UIS_TEXT_MAX_DEFAULT;
    return self;
}

void
uis_text_destroy (uis_text_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    uis_text_t *self = *self_p;
    free (self->arena);
    free (self->pairs);
    free (self->enc);
    free (self);
    *self_p = NULL;
}

void
uis_text_clear (uis_text_t *self)
{
    self->arena_len = 0;
    self->count = 0;
    self->encoded_len = 0;
}

void
uis_text_set_max (uis_text_t *self, size_t max_bytes)
{
    self->max_bytes = max_bytes ? max_bytes : UIS_TEXT_MAX_DEFAULT;
}

/* Grows a byte buffer to hold at least need bytes (doubling). 0 or
 * UIS_ERR_NOMEM; *buf_p and *cap_p updated. */
static int
s_grow (void **buf_p, size_t *cap_p, size_t need, size_t elem)
{
    if (need <= *cap_p)
        return 0;
    size_t cap = *cap_p ? *cap_p : 16;
    while (cap < need)
        cap *= 2;
    if (cap > SIZE_MAX / elem)
        return UIS_ERR_NOMEM;
    void *p = realloc (*buf_p, cap * elem);
    if (!p)
        return UIS_ERR_NOMEM;
    *buf_p = p;
    *cap_p = cap;
    return 0;
}

/* Appends a pair whose key and value were already checked. */
static int
s_push (uis_text_t *self, const char *key, size_t klen, const char *val, size_t vlen)
{
    if (self->count >= UIS_TEXT_PAIRS_MAX)
        return UIS_ERR_TOO_LONG;
    size_t enc = klen + vlen + 2;
    if (self->encoded_len + enc > self->max_bytes)
        return UIS_ERR_TOO_LONG;
    void *arena = self->arena;
    int rc = s_grow (&arena, &self->arena_cap, self->arena_len + enc, 1);
    self->arena = arena;
    if (rc)
        return rc;
    void *pairs = self->pairs;
    rc = s_grow (&pairs, &self->pairs_cap, self->count + 1, sizeof (s_pair_t));
    self->pairs = pairs;
    if (rc)
        return rc;
    s_pair_t *p = &self->pairs[self->count++];
    p->key_off = self->arena_len;
    p->key_len = klen;
    memcpy (self->arena + self->arena_len, key, klen);
    self->arena[self->arena_len + klen] = '\0';
    self->arena_len += klen + 1;
    p->val_off = self->arena_len;
    p->val_len = vlen;
    if (vlen)
        memcpy (self->arena + self->arena_len, val, vlen);
    self->arena[self->arena_len + vlen] = '\0';
    self->arena_len += vlen + 1;
    self->encoded_len += enc;
    return 0;
}

/* Checks and appends one pair given by pointers and lengths. */
static int
s_add (uis_text_t *self, const char *key, size_t klen, const char *val, size_t vlen)
{
    int rc = s_check_key (key, klen);
    if (rc)
        return rc;
    if (vlen > s_value_max (key, klen))
        return UIS_ERR_TEXT_VALUE_LEN;
    if (memchr (val, '\0', vlen))
        return UIS_ERR_TEXT_SYNTAX;
    return s_push (self, key, klen, val, vlen);
}

/* qsort context is not portable; sort indices through a small struct that
 * carries the key pointer. */
typedef struct {
    const char *key;
    size_t index;
} s_sortkey_t;

static int
s_sortkey_cmp (const void *a, const void *b)
{
    const s_sortkey_t *x = a, *y = b;
    int c = strcmp (x->key, y->key);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

/* Finds a key that appears twice and is not repeatable: 0 or
 * UIS_ERR_TEXT_DUP_KEY (UIS_ERR_NOMEM when the check cannot run). */
static int
s_check_dups (const uis_text_t *self)
{
    if (self->count < 2)
        return 0;
    s_sortkey_t *keys = malloc (self->count * sizeof *keys);
    if (!keys)
        return UIS_ERR_NOMEM;
    for (size_t i = 0; i < self->count; i++) {
        keys[i].key = self->arena + self->pairs[i].key_off;
        keys[i].index = i;
    }
    qsort (keys, self->count, sizeof *keys, s_sortkey_cmp);
    int rc = 0;
    for (size_t i = 1; i < self->count && rc == 0; i++)
        if (strcmp (keys[i - 1].key, keys[i].key) == 0
            && !uis_text_key_repeatable (keys[i].key))
            rc = UIS_ERR_TEXT_DUP_KEY;
    free (keys);
    return rc;
}

int
uis_text_parse (uis_text_t *self, const uint8_t *data, size_t len, unsigned flags)
{
    uis_text_clear (self);
    if (len > self->max_bytes)
        return UIS_ERR_TOO_LONG;
    if (len == 0)
        return 0;
    if (!data)
        return UIS_ERR_INVALID_ARG;
    const char *p = (const char *)data;
    const char *end = p + len;
    int rc = 0;
    while (p < end) {
        if (*p == '\0') {
            /* An empty pair: only zero padding at the very end is fine. */
            for (const char *q = p; q < end; q++)
                if (*q != '\0') {
                    rc = UIS_ERR_TEXT_SYNTAX;
                    goto fail;
                }
            break;
        }
        const char *nul = memchr (p, '\0', (size_t)(end - p));
        if (!nul && (flags & UIS_TEXT_STRICT)) {
            rc = UIS_ERR_TEXT_SYNTAX; /* §6.1: the last pair needs its NUL */
            goto fail;
        }
        const char *pair_end = nul ? nul : end;
        const char *eq = memchr (p, '=', (size_t)(pair_end - p));
        if (!eq) {
            rc = UIS_ERR_TEXT_SYNTAX;
            goto fail;
        }
        rc = s_add (self, p, (size_t)(eq - p), eq + 1, (size_t)(pair_end - eq - 1));
        if (rc)
            goto fail;
        p = nul ? nul + 1 : end;
    }
    if (!(flags & UIS_TEXT_ALLOW_DUP)) {
        rc = s_check_dups (self);
        if (rc)
            goto fail;
    }
    return 0;
fail:
    uis_text_clear (self);
    return rc;
}

size_t
uis_text_size (const uis_text_t *self)
{
    return self->count;
}

const char *
uis_text_key (const uis_text_t *self, size_t i)
{
    return i < self->count ? self->arena + self->pairs[i].key_off : NULL;
}

const char *
uis_text_value (const uis_text_t *self, size_t i)
{
    return i < self->count ? self->arena + self->pairs[i].val_off : NULL;
}

const char *
uis_text_find (const uis_text_t *self, const char *key)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp (self->arena + self->pairs[i].key_off, key) == 0)
            return self->arena + self->pairs[i].val_off;
    return NULL;
}

size_t
uis_text_count (const uis_text_t *self, const char *key)
{
    size_t n = 0;
    for (size_t i = 0; i < self->count; i++)
        if (strcmp (self->arena + self->pairs[i].key_off, key) == 0)
            n++;
    return n;
}

int
uis_text_add (uis_text_t *self, const char *key, const char *value)
{
    if (!key || !value)
        return UIS_ERR_INVALID_ARG;
    size_t klen = strnlen (key, UIS_TEXT_KEY_MAX + 1);
    size_t vlen = strnlen (value, UIS_TEXT_LONG_VALUE_MAX + 1);
    return s_add (self, key, klen, value, vlen);
}

int
uis_text_add_u64 (uis_text_t *self, const char *key, uint64_t value)
{
    char buf[24];
    snprintf (buf, sizeof buf, "%llu", (unsigned long long)value);
    return uis_text_add (self, key, buf);
}

int
uis_text_append (uis_text_t *self, const uis_text_t *src)
{
    for (size_t i = 0; i < src->count; i++) {
        const s_pair_t *p = &src->pairs[i];
        int rc = s_push (self, src->arena + p->key_off, p->key_len,
                         src->arena + p->val_off, p->val_len);
        if (rc)
            return rc;
    }
    return 0;
}

const uint8_t *
uis_text_encode (uis_text_t *self, size_t *len_p)
{
    void *enc = self->enc;
    if (s_grow (&enc, &self->enc_cap, self->encoded_len + 1, 1))
        return NULL;
    self->enc = enc;
    size_t off = 0;
    for (size_t i = 0; i < self->count; i++) {
        const s_pair_t *p = &self->pairs[i];
        memcpy (self->enc + off, self->arena + p->key_off, p->key_len);
        off += p->key_len;
        self->enc[off++] = '=';
        memcpy (self->enc + off, self->arena + p->val_off, p->val_len);
        off += p->val_len;
        self->enc[off++] = '\0';
    }
    *len_p = off;
    return self->enc;
}

size_t
uis_text_encoded_len (const uis_text_t *self)
{
    return self->encoded_len;
}

/* ---- reassembly ---------------------------------------------------------- */

uis_text_rx_t *
uis_text_rx_new (size_t max_total)
{
    uis_text_rx_t *self = calloc (1, sizeof *self);
    if (self)
        self->max_total = max_total ? max_total : UIS_TEXT_MAX_DEFAULT;
    return self;
}

void
uis_text_rx_destroy (uis_text_rx_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->buf);
    free (*self_p);
    *self_p = NULL;
}

void
uis_text_rx_reset (uis_text_rx_t *self)
{
    self->len = 0;
    self->done = false;
}

int
uis_text_rx_feed (uis_text_rx_t *self, const uint8_t *data, size_t len, bool cont)
{
    if (self->done)
        return UIS_ERR_STATE;
    if (len > 0 && !data)
        return UIS_ERR_INVALID_ARG;
    if (len > self->max_total - self->len) {
        uis_text_rx_reset (self);
        return UIS_ERR_TOO_LONG;
    }
    if (self->len + len > self->cap) {
        size_t cap = self->cap ? self->cap : 1024;
        while (cap < self->len + len)
            cap *= 2;
        if (cap > self->max_total)
            cap = self->max_total;
        uint8_t *b = realloc (self->buf, cap);
        if (!b)
            return UIS_ERR_NOMEM;
        self->buf = b;
        self->cap = cap;
    }
    if (len)
        memcpy (self->buf + self->len, data, len);
    self->len += len;
    self->done = !cont;
    return 0;
}

bool
uis_text_rx_done (const uis_text_rx_t *self)
{
    return self->done;
}

const uint8_t *
uis_text_rx_data (const uis_text_rx_t *self, size_t *len_p)
{
    *len_p = self->len;
    return self->buf;
}

int
uis_text_rx_parse (const uis_text_rx_t *self, uis_text_t *out, unsigned flags)
{
    if (!self->done)
        return UIS_ERR_STATE;
    if (out->max_bytes < self->max_total)
        out->max_bytes = self->max_total;
    return uis_text_parse (out, self->buf, self->len, flags);
}

/* ---- splitting --------------------------------------------------------- */

int
uis_text_chunk (size_t total, size_t sent, size_t max_dsl, size_t *len_p, bool *cont_p)
{
    if (max_dsl == 0 || sent > total)
        return UIS_ERR_INVALID_ARG;
    size_t left = total - sent;
    *len_p = left > max_dsl ? max_dsl : left;
    *cont_p = left > max_dsl;
    return 0;
}

uis_text_tx_t *
uis_text_tx_new (void)
{
    return calloc (1, sizeof (uis_text_tx_t));
}

void
uis_text_tx_destroy (uis_text_tx_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->buf);
    free (*self_p);
    *self_p = NULL;
}

int
uis_text_tx_load_raw (uis_text_tx_t *self, const uint8_t *data, size_t len)
{
    if (len > 0 && !data)
        return UIS_ERR_INVALID_ARG;
    uint8_t *b = malloc (len ? len : 1);
    if (!b)
        return UIS_ERR_NOMEM;
    if (len)
        memcpy (b, data, len);
    free (self->buf);
    self->buf = b;
    self->len = len;
    self->sent = 0;
    self->loaded = true;
    self->done = false;
    return 0;
}

int
uis_text_tx_load (uis_text_tx_t *self, uis_text_t *text)
{
    size_t len;
    const uint8_t *data = uis_text_encode (text, &len);
    if (!data)
        return UIS_ERR_NOMEM;
    return uis_text_tx_load_raw (self, data, len);
}

int
uis_text_tx_next (uis_text_tx_t *self, size_t max_dsl, const uint8_t **chunk_p,
                  size_t *len_p, bool *cont_p)
{
    if (max_dsl == 0)
        return UIS_ERR_INVALID_ARG;
    if (!self->loaded || self->done)
        return UIS_ERR_STATE;
    int rc = uis_text_chunk (self->len, self->sent, max_dsl, len_p, cont_p);
    if (rc)
        return rc;
    *chunk_p = self->buf + self->sent;
    self->sent += *len_p;
    self->done = !*cont_p;
    return 0;
}

bool
uis_text_tx_done (const uis_text_tx_t *self)
{
    return self->done;
}
