/* login_flow.c: login parameters of a session and one login machine per
 * attempt; login outcomes as JSON-RPC errors. */
#include "actors/login_flow.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "proto/chap.h"
#include "proto/errors.h"
#include "proto/negotiate.h"
#include "proto/text.h"
#include "rpc/errors.h"

struct login_flow {
    bool discovery;
    uis_portal_t portal;  /* original */
    uis_portal_t current; /* after redirects */
    unsigned hops;
    char target[LOGIN_ISCSI_NAME_MAX + 1];
    char initiator[LOGIN_ISCSI_NAME_MAX + 1];
    uint8_t isid[PDU_ISID_LEN];
    login_flow_opts_t opts;
    uis_text_t *overrides; /* negotiate: key=value */
    login_auth_t auth;
    char user[CHAP_NAME_MAX + 1];
    uint8_t secret[CHAP_SECRET_MAX];
    size_t secret_len;
    bool mutual;
    char target_user[CHAP_NAME_MAX + 1];
    uint8_t target_secret[CHAP_SECRET_MAX];
    size_t target_secret_len;
    chap_alg_t algs[CHAP_ALG_LIST_MAX];
    size_t nalgs;
    uint8_t prev_challenge[CHAP_BINARY_MAX];
    size_t prev_challenge_len;
};

/* Sets *error_p to INVALID_PARAMS naming param; returns NULL. */
static void *
s_bad (json_t **error_p, const char *param, const char *reason)
{
    /* The same path form as the method table's validation: "params.x.y". */
    char path[128]; /* "params." + the longest param path used here (< 104) */
    snprintf (path, sizeof path, "params.%s", param);
    if (error_p)
        *error_p = rpc_error_invalid_params (path, reason);
    return NULL;
}

/* Copies a JSON string into buf (cap bytes with NUL); false when it is not
 * a string, empty, has a NUL inside or does not fit. */
static bool
s_copy_str (const json_t *v, char *buf, size_t cap)
{
    if (!json_is_string (v))
        return false;
    size_t len = json_string_length (v);
    const char *s = json_string_value (v);
    if (len == 0 || len >= cap || strlen (s) != len)
        return false;
    memcpy (buf, s, len + 1);
    return true;
}

/* Reads a secret file into out (cap bytes); strips one trailing newline;
 * wipes the read buffer. Returns 0 or -1. Like ssh with its keys, only a
 * regular file that group and others cannot access is taken (mode 0600 or
 * 0400): the daemon may run with more privileges than the client that
 * names the file, and must not turn a readable-by-root file into a CHAP
 * response for a target of the client's choosing. */
static int
s_read_secret_file (const char *path, uint8_t *out, size_t cap, size_t *len_p)
{
    uint8_t buf[CHAP_SECRET_MAX + 2];
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat (fd, &st) != 0 || !S_ISREG (st.st_mode) || (st.st_mode & 0077) != 0) {
        close (fd);
        return -1;
    }
    size_t n = 0;
    while (n < sizeof buf) {
        ssize_t got = read (fd, buf + n, sizeof buf - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    uint8_t extra;
    bool more = n == sizeof buf && read (fd, &extra, 1) > 0;
    close (fd);
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    int rc = -1;
    if (!more && n > 0 && n <= cap) {
        memcpy (out, buf, n);
        *len_p = n;
        rc = 0;
    }
    OPENSSL_cleanse (buf, sizeof buf);
    return rc;
}

/* Takes a secret from "<key>" (string) or "<key>_file" (path). */
static bool
s_secret (const json_t *auth, const char *key, uint8_t *out, size_t *len_p)
{
    char file_key[32];
    snprintf (file_key, sizeof file_key, "%s_file", key);
    const json_t *v = json_object_get (auth, key);
    const json_t *f = json_object_get (auth, file_key);
    if (json_is_string (v) && !f) {
        size_t len = json_string_length (v);
        if (len == 0 || len > CHAP_SECRET_MAX)
            return false;
        memcpy (out, json_string_value (v), len);
        *len_p = len;
        return true;
    }
    if (json_is_string (f) && !v)
        return s_read_secret_file (json_string_value (f), out, CHAP_SECRET_MAX, len_p)
               == 0;
    return false;
}

/* Parses "auth". Returns true or sets *error_p. */
static bool
s_parse_auth (login_flow_t *self, const json_t *auth, json_t **error_p)
{
    if (!auth || json_is_null (auth)) {
        self->auth = LOGIN_AUTH_NONE;
        return true;
    }
    const char *method = json_string_value (json_object_get (auth, "method"));
    if (!json_is_object (auth) || !method)
        return s_bad (error_p, "auth.method", "expected \"none\" or \"chap\""), false;
    if (strcmp (method, "none") == 0) {
        self->auth = LOGIN_AUTH_NONE;
        return true;
    }
    if (strcmp (method, "chap") != 0)
        return s_bad (error_p, "auth.method", "expected \"none\" or \"chap\""), false;
    self->auth = LOGIN_AUTH_CHAP;
    if (!s_copy_str (json_object_get (auth, "user"), self->user, sizeof self->user))
        return s_bad (error_p, "auth.user", "expected a name"), false;
    if (!s_secret (auth, "secret", self->secret, &self->secret_len))
        return s_bad (error_p, "auth.secret",
                      "missing, too long, or its file unreadable, not a regular file or "
                      "open to group/others (use mode 0600)"),
               false;
    const json_t *tu = json_object_get (auth, "target_user");
    if (tu && !json_is_null (tu)) {
        self->mutual = true;
        if (!s_copy_str (tu, self->target_user, sizeof self->target_user))
            return s_bad (error_p, "auth.target_user", "expected a name"), false;
        if (!s_secret (auth, "target_secret", self->target_secret,
                       &self->target_secret_len))
            return s_bad (error_p, "auth.target_secret",
                          "missing, too long, or its file unreadable, not a regular file "
                          "or open to group/others (use mode 0600)"),
                   false;
    }
    const json_t *algs = json_object_get (auth, "algorithms");
    if (algs && !json_is_null (algs)) {
        if (!json_is_array (algs) || json_array_size (algs) == 0
            || json_array_size (algs) > CHAP_ALG_LIST_MAX)
            return s_bad (error_p, "auth.algorithms", "expected 1 to 4 names"), false;
        for (size_t i = 0; i < json_array_size (algs); i++) {
            const char *name = json_string_value (json_array_get (algs, i));
            if (!name || chap_alg_from_name (name, &self->algs[i]) != 0)
                return s_bad (error_p, "auth.algorithms", "unknown algorithm"), false;
        }
        self->nalgs = json_array_size (algs);
    }
    return true;
}

/* Parses "negotiate" into overrides (values: strings, integers, booleans). */
static bool
s_parse_negotiate (login_flow_t *self, const json_t *neg, json_t **error_p)
{
    self->overrides = uis_text_new ();
    if (!self->overrides)
        return *error_p = rpc_error_internal ("nomem"), false;
    if (!neg || json_is_null (neg))
        return true;
    if (!json_is_object (neg))
        return s_bad (error_p, "negotiate", "expected an object"), false;
    const char *key;
    json_t *v;
    json_object_foreach ((json_t *)neg, key, v)
    {
        char text[64];
        const char *value = text;
        if (json_is_string (v))
            value = json_string_value (v);
        else if (json_is_integer (v) && json_integer_value (v) >= 0)
            snprintf (text, sizeof text, "%lld", (long long)json_integer_value (v));
        else if (json_is_boolean (v))
            snprintf (text, sizeof text, "%s", json_is_true (v) ? "Yes" : "No");
        else
            return s_bad (error_p, "negotiate",
                          "values are strings, integers or booleans"),
                   false;
        if (uis_text_add (self->overrides, key, value) != 0)
            return s_bad (error_p, "negotiate", "invalid key or value"), false;
    }
    /* Check them once now, so session.open fails early on a bad key. */
    uis_negotiate_t *probe = uis_negotiate_new (
        self->discovery ? UIS_NEG_SESSION_DISCOVERY : UIS_NEG_SESSION_NORMAL);
    int rc = probe ? uis_negotiate_set_all (probe, self->overrides) : UIS_ERR_NOMEM;
    if (rc) {
        char param[96];
        snprintf (param, sizeof param, "negotiate.%s",
                  probe ? uis_negotiate_error_key (probe) : "");
        uis_negotiate_destroy (&probe);
        return s_bad (error_p, param, uis_err_name (rc)), false;
    }
    uis_negotiate_destroy (&probe);
    return true;
}

/* Parses an unsigned integer member within [min, max], or keeps *out. */
static bool
s_u32 (const json_t *obj, const char *key, uint32_t min, uint32_t max, uint32_t *out)
{
    const json_t *v = json_object_get (obj, key);
    if (!v || json_is_null (v))
        return true;
    if (!json_is_integer (v) || json_integer_value (v) < min
        || json_integer_value (v) > max)
        return false;
    *out = (uint32_t)json_integer_value (v);
    return true;
}

/* Parses 12 hex digits into an ISID. */
static bool
s_parse_isid (const char *hex, uint8_t isid[PDU_ISID_LEN])
{
    static const char digits[] = "0123456789abcdef0123456789ABCDEF";
    if (!hex || strlen (hex) != 2 * PDU_ISID_LEN)
        return false;
    for (size_t i = 0; i < 2 * PDU_ISID_LEN; i++) {
        const char *d = strchr (digits, hex[i]);
        if (!d || !*d)
            return false;
        unsigned v = (unsigned)((d - digits) & 15);
        isid[i / 2] = (uint8_t)(i % 2 ? (isid[i / 2] | v) : v << 4);
    }
    return true;
}

/* Parses the params of ENG_OPEN / ENG_DISCOVER. */
login_flow_t *
login_flow_new (const json_t *params, bool discovery, json_t **error_p)
{
    *error_p = NULL;
    if (!json_is_object (params))
        return s_bad (error_p, "params", "expected an object");
    login_flow_t *self = calloc (1, sizeof *self);
    if (!self) {
        *error_p = rpc_error_internal ("nomem");
        return NULL;
    }
    self->discovery = discovery;
    self->opts = (login_flow_opts_t){LOGIN_FLOW_KA_INTERVAL_MS, LOGIN_FLOW_KA_TIMEOUT_MS,
                                     false, LOGIN_FLOW_TIMEOUT_MS};
    const char *portal = json_string_value (json_object_get (params, "portal"));
    if (!portal || uis_portal_parse (portal, &self->portal) != 0) {
        s_bad (error_p, "portal", "expected host[:port]");
        goto fail;
    }
    self->current = self->portal;
    if (!discovery
        && !s_copy_str (json_object_get (params, "target"), self->target,
                        sizeof self->target)) {
        s_bad (error_p, "target", "expected an iSCSI name");
        goto fail;
    }
    const json_t *in = json_object_get (params, "initiator_name");
    if (in && !json_is_null (in)) {
        if (!s_copy_str (in, self->initiator, sizeof self->initiator)) {
            s_bad (error_p, "initiator_name", "expected an iSCSI name");
            goto fail;
        }
    }
    else
        snprintf (self->initiator, sizeof self->initiator, "%s", LOGIN_FLOW_DEFAULT_NAME);
    if (!s_parse_auth (self, json_object_get (params, "auth"), error_p)
        || !s_parse_negotiate (self, json_object_get (params, "negotiate"), error_p))
        goto fail;
    const json_t *ka = json_object_get (params, "keepalive");
    if (ka && !json_is_null (ka)
        && (!json_is_object (ka)
            || !s_u32 (ka, "interval_ms", 0, 3600000, &self->opts.ka_interval_ms)
            || !s_u32 (ka, "timeout_ms", 1, 3600000, &self->opts.ka_timeout_ms))) {
        s_bad (error_p, "keepalive", "expected {interval_ms, timeout_ms}");
        goto fail;
    }
    if (!s_u32 (params, "timeout_ms", 1, 3600000, &self->opts.timeout_ms)) {
        s_bad (error_p, "timeout_ms", "expected a positive integer");
        goto fail;
    }
    const json_t *order = json_object_get (params, "digest_byte_order");
    if (order && !json_is_null (order)) {
        const char *o = json_string_value (order);
        if (!o || (strcmp (o, "little") != 0 && strcmp (o, "big") != 0)) {
            s_bad (error_p, "digest_byte_order", "expected \"little\" or \"big\"");
            goto fail;
        }
        self->opts.digest_big_endian = strcmp (o, "big") == 0;
    }
    const json_t *isid = json_object_get (params, "isid");
    if (isid && !json_is_null (isid)) {
        if (!s_parse_isid (json_string_value (isid), self->isid)) {
            s_bad (error_p, "isid", "expected 12 hex digits");
            goto fail;
        }
    }
    else {
        uint8_t rnd[5];
        if (getrandom (rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
            *error_p = rpc_error_internal ("getrandom");
            goto fail;
        }
        login_isid_random (self->isid, rnd, (uint16_t)(rnd[3] << 8 | rnd[4]));
    }
    return self;
fail:
    login_flow_destroy (&self);
    return NULL;
}

/* Wipes and frees. */
void
login_flow_destroy (login_flow_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    login_flow_t *self = *self_p;
    uis_text_destroy (&self->overrides);
    OPENSSL_cleanse (self, sizeof *self);
    free (self);
    *self_p = NULL;
}

const uis_portal_t *
login_flow_portal (const login_flow_t *self)
{
    return &self->current;
}

/* Follows one redirect hop. */
int
login_flow_redirect (login_flow_t *self, const uis_portal_t *portal)
{
    if (self->hops >= LOGIN_FLOW_HOPS_MAX)
        return UIS_ERR_TOO_LONG;
    self->hops++;
    self->current = *portal;
    return 0;
}

/* Back to the original portal. */
void
login_flow_reset_portal (login_flow_t *self)
{
    self->current = self->portal;
    self->hops = 0;
}

const char *
login_flow_target (const login_flow_t *self)
{
    return self->target;
}

const char *
login_flow_initiator (const login_flow_t *self)
{
    return self->initiator;
}

const uint8_t *
login_flow_isid (const login_flow_t *self)
{
    return self->isid;
}

const login_flow_opts_t *
login_flow_opts (const login_flow_t *self)
{
    return &self->opts;
}

/* ISID as hex. */
void
login_flow_isid_hex (const login_flow_t *self, char *buf)
{
    for (size_t i = 0; i < PDU_ISID_LEN; i++)
        snprintf (buf + 2 * i, 3, "%02x", self->isid[i]);
}

/* A login machine for one attempt. */
login_t *
login_flow_start (login_flow_t *self, uint32_t itt, uint32_t cmdsn, json_t **error_p)
{
    *error_p = NULL;
    uint8_t random[CHAP_RANDOM_LEN];
    if (self->mutual && getrandom (random, sizeof random, 0) != (ssize_t)sizeof random) {
        *error_p = rpc_error_internal ("getrandom");
        return NULL;
    }
    login_config_t cfg = {0};
    cfg.initiator_name = self->initiator;
    cfg.target_name = self->discovery ? NULL : self->target;
    cfg.discovery = self->discovery;
    memcpy (cfg.isid, self->isid, PDU_ISID_LEN);
    cfg.tsih = 0;
    cfg.itt = itt;
    cfg.cmdsn = cmdsn;
    cfg.auth = self->auth;
    if (self->auth == LOGIN_AUTH_CHAP) {
        cfg.chap.user = self->user;
        cfg.chap.secret = self->secret;
        cfg.chap.secret_len = self->secret_len;
        if (self->mutual) {
            cfg.chap.target_user = self->target_user;
            cfg.chap.target_secret = self->target_secret;
            cfg.chap.target_secret_len = self->target_secret_len;
            cfg.random = random;
            cfg.random_len = sizeof random;
        }
        cfg.chap.algs = self->nalgs ? self->algs : NULL;
        cfg.chap.alg_count = self->nalgs;
        if (self->prev_challenge_len) {
            cfg.chap.prev_challenge = self->prev_challenge;
            cfg.chap.prev_challenge_len = self->prev_challenge_len;
        }
    }
    uis_negotiate_t *neg = uis_negotiate_new (self->discovery ? UIS_NEG_SESSION_DISCOVERY
                                                              : UIS_NEG_SESSION_NORMAL);
    int rc = neg ? uis_negotiate_set_all (neg, self->overrides) : UIS_ERR_NOMEM;
    login_t *lg = NULL;
    if (rc == 0) {
        lg = login_new (&cfg, &neg);
        rc = lg ? login_start (lg) : UIS_ERR_INVALID_ARG;
    }
    OPENSSL_cleanse (random, sizeof random);
    uis_negotiate_destroy (&neg);
    if (rc != 0) {
        login_destroy (&lg);
        *error_p = rc == UIS_ERR_NOMEM
                       ? rpc_error_internal ("nomem")
                       : rpc_error_invalid_params ("auth", uis_err_name (rc));
        return NULL;
    }
    return lg;
}

/* Maps a failed login outcome to an RPC error. */
json_t *
login_flow_error (const login_result_t *r)
{
    if (r->error == UIS_ERR_AUTH_TARGET)
        return rpc_error_auth_failed (r->status_class, r->status_detail, "initiator");
    if (r->status_class == PDU_LOGIN_CLASS_INITIATOR_ERR && r->status_detail == 0x01)
        return rpc_error_auth_failed (r->status_class, r->status_detail, "target");
    if (r->status_class != PDU_LOGIN_CLASS_SUCCESS
        && (r->error == UIS_ERR_LOGIN_STATUS || r->error == UIS_ERR_AUTH_FAILED
            || r->error == UIS_ERR_LOGIN_REDIRECT))
        return rpc_error_login_failed (r->status_class, r->status_detail,
                                       r->status_name ? r->status_name : "");
    char detail[160];
    snprintf (detail, sizeof detail, "%s%s%s", uis_err_name (r->error),
              r->detail && *r->detail ? ": " : "", r->detail ? r->detail : "");
    return rpc_error_protocol (detail);
}

/* Negotiated parameters as a JSON object. */
json_t *
login_flow_negotiated_json (const uis_neg_params_t *params)
{
    json_t *out = json_object ();
    uis_text_t *t = uis_text_new ();
    if (!out || !t || uis_neg_params_render (params, t) != 0) {
        uis_text_destroy (&t);
        return out;
    }
    for (size_t i = 0; i < uis_text_size (t); i++) {
        const char *v = uis_text_value (t, i);
        char *end;
        unsigned long long n = strtoull (v, &end, 10);
        bool number = *v >= '0' && *v <= '9' && *end == 0;
        json_object_set_new (out, uis_text_key (t, i),
                             number ? json_integer ((json_int_t)n) : json_string (v));
    }
    uis_text_destroy (&t);
    return out;
}
