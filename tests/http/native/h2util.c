/*
 * Helpers of the HTTP/2 suites (h2util.h says what each does).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "h2util.h"

int h2u_nginx_up(tu_nginx *n, char **dir, const char *opts)
{
    signal(SIGPIPE, SIG_IGN);
    if (mp_init() != 0 || !(*dir = tu_tmpdir()))
        return -1;
    if (tu_nginx_start_opts(n, *dir, opts) != 0) {
        h2u_nginx_down(n, dir);
        return -1;
    }
    return 0;
}

void h2u_nginx_down(tu_nginx *n, char **dir)
{
    tu_nginx_stop(n);
    if (*dir)
        tu_rm_rf(*dir);
    free(*dir);
    *dir = NULL;
}

void h2u_one(mp_task *t, const hspec *s, hseen *o)
{
    const char *hdr[1] = {s->header};
    mp_http_request q;
    mp_http_response r;
    char *big = NULL;

    memset(&q, 0, sizeof q);
    q.url = s->url;
    q.method = s->method[0] ? s->method : NULL;
    if (s->header[0]) {
        q.headers = hdr;
        q.n_headers = 1;
    }
    if (s->body[0]) {
        q.body = s->body;
        q.body_len = strlen(s->body);
    }
    if (s->big_body && (big = malloc(s->big_body)) != NULL) {
        memset(big, 'b', s->big_body);
        q.body = big;
        q.body_len = s->big_body;
    }
    q.timeout_ms = s->timeout_ms;
    q.connect_timeout_ms = s->connect_timeout_ms;
    q.max_body = s->max_body;
    q.want_headers = s->want_headers;
    q.no_body = s->no_body;
    q.http1 = s->http1;
    q.compressed = s->compressed;
    q.body_path = s->body_path[0] ? s->body_path : NULL;
    q.cafile = s->cafile[0] ? s->cafile : NULL;
    q.engine = s->engine;
    memset(o, 0, sizeof *o);
    o->rc = mp_http(t, &q, &r);
    o->error = r.error;
    o->engine = r.engine;
    o->status = r.status;
    o->http_version = r.http_version;
    o->body_len = r.body_len;
    o->bytes_down = r.bytes_down;
    o->body_null = r.body == NULL;
    if (r.final_url)
        snprintf(o->final_url, sizeof o->final_url, "%s", r.final_url);
    if (r.message)
        snprintf(o->message, sizeof o->message, "%s", r.message);
    if (r.body)
        memcpy(o->body, r.body, r.body_len < sizeof o->body - 1
                                    ? r.body_len
                                    : sizeof o->body - 1);
    for (const char *p = r.headers; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p + 1) : strlen(p);
        size_t have = strlen(o->headers);
        if (strncasecmp(p, "date:", 5) != 0 && have + n < sizeof o->headers)
            memcpy(o->headers + have, p, n);
        p += n;
    }
    mp_http_response_clear(&r);
    free(big);
}

int h2u_one_task(mp_task *t, const void *in, size_t len)
{
    hseen o;

    (void)len;
    h2u_one(t, in, &o);
    return mp_return(t, &o, sizeof o);
}

hspec h2u_mk(const tu_nginx *n, int port, const char *fmt, ...)
{
    hspec s;
    char path[120];
    va_list ap;

    memset(&s, 0, sizeof s);
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    snprintf(s.url, sizeof s.url, "https://127.0.0.1:%d%s",
             port ? port : n->tls_port, path);
    snprintf(s.cafile, sizeof s.cafile, "%s", n->cafile);
    s.engine = MP_HTTP_NATIVE;
    s.want_headers = 1;
    return s;
}

void h2u_expect(const hspec *s, const hseen *o, long status)
{
    if (o->rc != 0 || o->status != status || o->http_version != 20 ||
        o->engine != MP_HTTP_NATIVE)
        fail_msg("%s: %s status %ld version %ld engine %d (%s)", s->url,
                 mp_err_name(o->rc), o->status, o->http_version, o->engine,
                 o->message);
}

int h2u_burst_task(mp_task *t, const void *in, size_t len)
{
    const burst *b = in;
    burst_out *out = calloc(1, sizeof *out);
    mp_child *c[BURST];
    int rc;

    (void)len;
    if (!out)
        return mp_fail(t, MP_ENOMEM, "calloc");
    if (b->has_first)
        h2u_one(t, &b->first, &out->first);
    for (int i = 0; i < b->n; i++)
        if (mp_spawn(t, h2u_one_task, &b->s[i], sizeof b->s[i], &c[i]) !=
            0) {
            free(out);
            return mp_fail(t, MP_ETASK, "mp_spawn failed");
        }
    for (int i = 0; i < b->n; i++) {
        mp_result r;
        out->join_rc[i] = mp_join(c[i], &r, b->join_ms[i]);
        if (r.status == 0 && r.len == sizeof out->o[i])
            memcpy(&out->o[i], r.data, sizeof out->o[i]);
        else
            out->o[i].rc = r.status ? r.status : MP_ETASK;
        mp_result_clear(&r);
    }
    if (b->has_after)
        h2u_one(t, &b->after, &out->after);
    rc = mp_return(t, out, sizeof *out);
    free(out);
    return rc;
}

void h2u_run_burst(const burst *b, burst_out *out)
{
    mp_pool_options opt = {.workers = 1, .concurrency = 4};
    mp_pool *p = NULL;
    char why[300];

    assert_int_equal(mp_pool_create(&p, &opt), 0);
    if (tu_apply_copy(p, h2u_burst_task, b, sizeof *b, out, sizeof *out,
                      why, sizeof why) != 0)
        fail_msg("burst: %s", why);
    mp_pool_destroy(p);
}

int h2u_diff_task(mp_task *t, const void *in, size_t len)
{
    hspec s = *(const hspec *)in;
    dpair d;

    (void)len;
    s.engine = MP_HTTP_CURL;
    h2u_one(t, &s, &d.c);
    s.engine = MP_HTTP_NATIVE;
    h2u_one(t, &s, &d.n);
    return mp_return(t, &d, sizeof d);
}

void h2u_compare(const hspec *s, const hseen *c, const hseen *n)
{
#define SAME(f, fmt)                                                        \
    if (c->f != n->f)                                                       \
        fail_msg("%s %s: " #f " curl " fmt " native " fmt " (%s | %s)",     \
                 s->method, s->url, c->f, n->f, c->message, n->message)
    SAME(rc, "%d");
    SAME(error, "%d");
    SAME(status, "%ld");
    SAME(http_version, "%ld");
    SAME(body_len, "%" PRIu64);
    if (c->error != MP_EFBIG) /* where a refused body stopped: each
                                 engine's chunking (curl hands on 16 KB
                                 reads, nghttp2 each DATA frame) */
        SAME(bytes_down, "%" PRIu64);
    SAME(body_null, "%d");
#undef SAME
    if (c->engine != MP_HTTP_CURL || n->engine != MP_HTTP_NATIVE)
        fail_msg("%s: engines %d and %d", s->url, c->engine, n->engine);
    if (strcmp(c->final_url, n->final_url) != 0)
        fail_msg("%s: final_url curl %s native %s", s->url, c->final_url,
                 n->final_url);
    if (strcmp(c->headers, n->headers) != 0)
        fail_msg("%s: head differs:\ncurl:\n%s\nnative:\n%s", s->url,
                 c->headers, n->headers);
    if (strcmp(c->body, n->body) != 0)
        fail_msg("%s: body differs:\ncurl:   %s\nnative: %s", s->url,
                 c->body, n->body);
}
