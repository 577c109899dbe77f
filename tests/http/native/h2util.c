/*
 * Helpers of the HTTP/2 suites (h2util.h says what each does).
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

seen_req h2u_mk(const tu_nginx *n, int port, const char *fmt, ...)
{
    seen_req s;
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

void h2u_expect(const seen_req *s, const seen *o, long status)
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
        seen_http(t, &b->first, &out->first);
    for (int i = 0; i < b->n; i++)
        if (mp_spawn(t, seen_task, &b->s[i], sizeof b->s[i], &c[i]) != 0) {
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
        seen_http(t, &b->after, &out->after);
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
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

int h2u_diff_task(mp_task *t, const void *in, size_t len)
{
    seen_req s = *(const seen_req *)in;
    dpair d;

    (void)len;
    s.engine = MP_HTTP_CURL;
    seen_http(t, &s, &d.c);
    s.engine = MP_HTTP_NATIVE;
    seen_http(t, &s, &d.n);
    return mp_return(t, &d, sizeof d);
}

void h2u_compare(const seen_req *s, const seen *c, const seen *n)
{
    char what[400];

    snprintf(what, sizeof what, "%s %s", s->method, s->url);
    /* bytes_down not for a refused body: where it stopped is each
       engine's chunking (curl hands on 16 KB reads, nghttp2 each DATA
       frame) */
    seen_compare(what, c, n, c->error != MP_EFBIG);
    if (c->engine != MP_HTTP_CURL || n->engine != MP_HTTP_NATIVE)
        fail_msg("%s: engines %d and %d", s->url, c->engine, n->engine);
}
