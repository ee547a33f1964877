/* sendtargets.c: SendTargets response parsing. See sendtargets.h. */
#include "sendtargets.h"

#include <stdlib.h>
#include <string.h>

#include "errors.h"

typedef struct {
    char *name;
    uis_st_portal_t *portals;
    size_t portal_count;
    size_t portal_cap;
} s_target_t;

struct uis_sendtargets {
    s_target_t *targets;
    size_t count;
    size_t cap;
    size_t skipped;
};

uis_sendtargets_t *
uis_sendtargets_new (void)
{
    return calloc (1, sizeof (uis_sendtargets_t));
}

/* Frees every target, keeps the array. */
static void
s_clear (uis_sendtargets_t *self)
{
    for (size_t i = 0; i < self->count; i++) {
        free (self->targets[i].name);
        free (self->targets[i].portals);
    }
    self->count = 0;
    self->skipped = 0;
}

void
uis_sendtargets_destroy (uis_sendtargets_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    s_clear (*self_p);
    free ((*self_p)->targets);
    free (*self_p);
    *self_p = NULL;
}

int
uis_sendtargets_parse_address (const char *value, uis_st_portal_t *out)
{
    if (!value || !out)
        return UIS_ERR_MALFORMED;
    /* §13.8: domainname[:port][,portal-group-tag]. The tag follows the
     * first ',' (neither host names nor IPv6 literals contain one; a second
     * ',' makes the tag malformed). */
    size_t len = strnlen (value, UIS_PORTAL_STR_MAX + 7);
    if (len > UIS_PORTAL_STR_MAX + 6)
        return UIS_ERR_TOO_LONG;
    const char *comma = memchr (value, ',', len);
    size_t addr_len = comma ? (size_t)(comma - value) : len;
    out->has_tpgt = false;
    out->tpgt = 0;
    if (comma) {
        const char *t = comma + 1;
        size_t tlen = len - addr_len - 1;
        if (tlen == 0 || tlen > 5)
            return UIS_ERR_MALFORMED;
        unsigned long v = 0;
        for (size_t i = 0; i < tlen; i++) {
            if (t[i] < '0' || t[i] > '9')
                return UIS_ERR_MALFORMED;
            v = v * 10 + (unsigned long)(t[i] - '0');
        }
        if (v > 65535)
            return UIS_ERR_OUT_OF_RANGE;
        out->has_tpgt = true;
        out->tpgt = (uint16_t)v;
    }
    return uis_portal_parse_n (value, addr_len, &out->portal);
}

/* Index of the target with this name, or count when absent. */
static size_t
s_find (const uis_sendtargets_t *self, const char *name)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp (self->targets[i].name, name) == 0)
            return i;
    return self->count;
}

/* Appends a new target named name; index via *index_p. */
static int
s_add_target (uis_sendtargets_t *self, const char *name, size_t *index_p)
{
    if (self->count >= UIS_ST_TARGETS_MAX)
        return UIS_ERR_TOO_LONG;
    if (self->count == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 8;
        s_target_t *t = realloc (self->targets, cap * sizeof *t);
        if (!t)
            return UIS_ERR_NOMEM;
        self->targets = t;
        self->cap = cap;
    }
    size_t n = strlen (name);
    char *copy = malloc (n + 1);
    if (!copy)
        return UIS_ERR_NOMEM;
    memcpy (copy, name, n + 1);
    s_target_t *t = &self->targets[self->count];
    memset (t, 0, sizeof *t);
    t->name = copy;
    *index_p = self->count++;
    return 0;
}

/* True when two portals are the same entry. */
static bool
s_same (const uis_st_portal_t *a, const uis_st_portal_t *b)
{
    return a->portal.port == b->portal.port && a->portal.ipv6 == b->portal.ipv6
           && a->has_tpgt == b->has_tpgt && a->tpgt == b->tpgt
           && strcmp (a->portal.host, b->portal.host) == 0;
}

/* Appends a portal to target t unless it is already there. */
static int
s_add_portal (s_target_t *t, const uis_st_portal_t *p)
{
    for (size_t i = 0; i < t->portal_count; i++)
        if (s_same (&t->portals[i], p))
            return 0;
    if (t->portal_count >= UIS_ST_PORTALS_MAX)
        return UIS_ERR_TOO_LONG;
    if (t->portal_count == t->portal_cap) {
        size_t cap = t->portal_cap ? t->portal_cap * 2 : 4;
        uis_st_portal_t *ps = realloc (t->portals, cap * sizeof *ps);
        if (!ps)
            return UIS_ERR_NOMEM;
        t->portals = ps;
        t->portal_cap = cap;
    }
    t->portals[t->portal_count++] = *p;
    return 0;
}

int
uis_sendtargets_parse (uis_sendtargets_t *self, const uis_text_t *text)
{
    s_clear (self);
    size_t skipped = 0;
    bool have_current = false;
    size_t current = 0;
    int rc = 0;
    for (size_t i = 0; i < uis_text_size (text) && rc == 0; i++) {
        const char *key = uis_text_key (text, i);
        const char *value = uis_text_value (text, i);
        if (strcmp (key, "TargetName") == 0) {
            have_current = false;
            if (!value[0]) {
                skipped++;
                continue;
            }
            current = s_find (self, value);
            if (current == self->count)
                rc = s_add_target (self, value, &current);
            have_current = rc == 0;
        }
        else if (strcmp (key, "TargetAddress") == 0) {
            uis_st_portal_t p;
            if (!have_current || uis_sendtargets_parse_address (value, &p) != 0) {
                skipped++;
                continue;
            }
            rc = s_add_portal (&self->targets[current], &p);
        }
    }
    if (rc) {
        s_clear (self);
        return rc;
    }
    self->skipped = skipped;
    return 0;
}

int
uis_sendtargets_parse_raw (uis_sendtargets_t *self, const uint8_t *data, size_t len)
{
    uis_text_t *text = uis_text_new ();
    if (!text)
        return UIS_ERR_NOMEM;
    uis_text_set_max (text, len > UIS_TEXT_MAX_DEFAULT ? len : UIS_TEXT_MAX_DEFAULT);
    int rc = uis_text_parse (text, data, len, UIS_TEXT_ALLOW_DUP);
    if (rc == 0)
        rc = uis_sendtargets_parse (self, text);
    else
        s_clear (self);
    uis_text_destroy (&text);
    return rc;
}

size_t
uis_sendtargets_count (const uis_sendtargets_t *self)
{
    return self->count;
}

const char *
uis_sendtargets_name (const uis_sendtargets_t *self, size_t i)
{
    return i < self->count ? self->targets[i].name : NULL;
}

size_t
uis_sendtargets_portal_count (const uis_sendtargets_t *self, size_t i)
{
    return i < self->count ? self->targets[i].portal_count : 0;
}

const uis_st_portal_t *
uis_sendtargets_portal (const uis_sendtargets_t *self, size_t i, size_t j)
{
    if (i >= self->count || j >= self->targets[i].portal_count)
        return NULL;
    return &self->targets[i].portals[j];
}

size_t
uis_sendtargets_skipped (const uis_sendtargets_t *self)
{
    return self->skipped;
}
