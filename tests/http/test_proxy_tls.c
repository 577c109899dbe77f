/*
 * test_proxy_tls: an https:// proxy's own certificate, as curl treats it.
 *
 * The proxy is nginx's TLS (tools/nginx.sh --tls-upstream, a self-signed
 * certificate for 127.0.0.1) in front of mp-testserver --proxy: a request
 * that went through it gets the proxy's 203 "proxied GET URL". The same
 * nginx serves https:// itself with that certificate, the origin behind
 * the proxy's CONNECT tunnel. What holds, on the library and in mpfetch:
 *  - nothing trusts the proxy: every request ends MP_ETLS, the message
 *    saying "(the proxy's TLS)"; insecure (-k) and cafile (--cacert) are
 *    the origin's and change nothing (curl's semantics);
 *  - proxy_insecure (--proxy-insecure) or proxy_cafile (--proxy-cacert)
 *    with the certificate: through, and an https:// origin still needs its
 *    own -k / --cacert (the proxy's CAs are not the origin's);
 *  - the environment's https:// proxy takes the same options;
 *  - https:// proxies run on libcurl: auto gives the record forced curl
 *    gives (the same fields), forced native refuses with MP_EINVAL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpfetch/mpfetch_e2e.h"
#include "mpool.h"
#include "seen.h"
#include "testutil.h"

static tu_ts g_ts, g_px; /* the origin, the plain proxy behind TLS */
static tu_nginx g_ngx;   /* TLS in front of g_px; https:// origin too */
static int g_have_ngx;
static char g_dir[512], g_proxy[64], g_in[600], g_out[600], g_err[600];

/* ---- the library ------------------------------------------------------- */

/* Runs q in p. Returns what the task saw. */
static seen run(mp_pool *p, const seen_req *q)
{
    char why[300];
    seen o;

    if (tu_apply_copy(p, seen_task, q, sizeof *q, &o, sizeof o, why,
                      sizeof why) != 0)
        fail_msg("%s", why);
    return o;
}

/* A request for url through the TLS proxy. */
static seen_req through(const char *url)
{
    seen_req q;

    memset(&q, 0, sizeof q);
    snprintf(q.url, sizeof q.url, "%s", url);
    snprintf(q.proxy, sizeof q.proxy, "%s", g_proxy);
    q.proxy_set = 1;
    q.timeout_ms = 20000;
    return q;
}

/* Asserts s came through the proxy (its 203 naming url) on libcurl. */
static void expect_proxied(seen s, const char *url)
{
    const seen *o = &s;
    char want[400];

    if (o->rc)
        fail_msg("%s: %s", mp_err_name(o->rc), o->message);
    assert_int_equal(o->status, 203);
    snprintf(want, sizeof want, "proxied GET %s\n", url);
    assert_string_equal(o->body, want);
    assert_int_equal(o->engine, MP_HTTP_CURL);
}

/* Asserts s failed in the proxy's TLS: MP_ETLS, said so, no response. */
static void expect_proxy_tls(seen s)
{
    const seen *o = &s;
    if (o->rc != MP_ETLS)
        fail_msg("want MP_ETLS, got %s (status %ld): %s", mp_err_name(o->rc),
                 o->status, o->message);
    assert_int_equal(o->error, MP_ETLS);
    if (!strstr(o->message, "(the proxy's TLS)"))
        fail_msg("the proxy is not named: %s", o->message);
    assert_int_equal(o->status, 0);
    assert_int_equal(o->http_version, 0);
    assert_int_equal(o->body_len, 0);
    assert_int_equal(o->engine, MP_HTTP_CURL);
}

/* Nothing for the proxy: MP_ETLS on auto and curl, whatever -k and
   --cacert say; auto's record is forced curl's; native refuses. */
static void test_untrusted(void **state)
{
    char url[300];
    mp_pool *p = NULL;
    mp_pool_options po = {.workers = 1, .concurrency = 4};

    (void)state;
    if (!g_have_ngx)
        skip();
    assert_int_equal(mp_pool_create(&p, &po), 0);
    snprintf(url, sizeof url, "%s/ok", g_ts.base);
    seen_req q = through(url);
    seen a = run(p, &q);
    expect_proxy_tls(a);
    q.engine = MP_HTTP_CURL;
    seen c = run(p, &q);
    expect_proxy_tls(c);
    seen_compare("an untrusted proxy, auto and curl", &c, &a, 1);
    q.insecure = 1; /* -k: the origin's */
    expect_proxy_tls(run(p, &q));
    q.insecure = 0;
    snprintf(q.cafile, sizeof q.cafile, "%s", g_ngx.cafile); /* --cacert */
    expect_proxy_tls(run(p, &q));
    /* an https:// URL: the tunnel never opens */
    snprintf(q.url, sizeof q.url, "https://127.0.0.1:%d/1k", g_ngx.tls_port);
    q.insecure = 1;
    expect_proxy_tls(run(p, &q));
    q.engine = MP_HTTP_NATIVE; /* the native engine runs no https:// proxy */
    q.proxy_insecure = 1;
    seen n = run(p, &q);
    assert_int_equal(n.rc, MP_EINVAL);
    if (!strstr(n.message, "a proxy other than http://"))
        fail_msg("%s", n.message);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* proxy_insecure or proxy_cafile: through the proxy; an https:// origin
   behind it still takes its own trust (cafile), not the proxy's. */
static void test_trusted(void **state)
{
    char url[300];
    mp_pool *p = NULL;
    mp_pool_options po = {.workers = 1, .concurrency = 4};
    seen o;

    (void)state;
    if (!g_have_ngx)
        skip();
    assert_int_equal(mp_pool_create(&p, &po), 0);
    snprintf(url, sizeof url, "%s/ok", g_ts.base);
    for (int eng = MP_HTTP_AUTO; eng <= MP_HTTP_CURL; eng++) {
        seen_req q = through(url);
        q.engine = eng;
        q.proxy_insecure = 1;
        expect_proxied(run(p, &q), url);
        q.proxy_insecure = 0;
        snprintf(q.proxy_cafile, sizeof q.proxy_cafile, "%s", g_ngx.cafile);
        expect_proxied(run(p, &q), url);
    }
    seen_req q = through("");
    snprintf(q.url, sizeof q.url, "https://127.0.0.1:%d/1k", g_ngx.tls_port);
    snprintf(q.proxy_cafile, sizeof q.proxy_cafile, "%s", g_ngx.cafile);
    o = run(p, &q); /* the origin's certificate is not trusted */
    assert_int_equal(o.rc, MP_ETLS);
    if (strstr(o.message, "the proxy"))
        fail_msg("the origin's failure named the proxy: %s", o.message);
    snprintf(q.cafile, sizeof q.cafile, "%s", g_ngx.cafile);
    o = run(p, &q);
    if (o.rc)
        fail_msg("%s: %s", mp_err_name(o.rc), o.message);
    assert_int_equal(o.status, 200);
    assert_int_equal(o.body_len, 1024);
    assert_int_equal(o.engine, MP_HTTP_CURL);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* ---- mpfetch ------------------------------------------------------------ */

/* Runs mpfetch on the input (an http:// URL through the proxy, and an
   https:// one of nginx's) with -x PROXY (unless env), the options in
   args (NULL-ended). Returns its records (the caller json_decref's). */
static json_t *mpfetch_run(int env, const char *const *args)
{
    const char *const x[] = {"-x", g_proxy, NULL};
    json_t *recs = e2e_fetch_records(env ? NULL : x, args, g_in, g_out, g_err);

    assert_int_equal(json_array_size(recs), 2);
    return recs;
}

/* Asserts every record of recs failed with code (the message holding
   text, if not NULL); consumes recs. */
static void expect_all_failed(json_t *recs, const char *code,
                              const char *text)
{
    size_t i;
    json_t *rec;

    json_array_foreach (recs, i, rec) {
        const char *msg = json_string_value(
            json_object_get(json_object_get(rec, "error"), "message"));
        if (strcmp(e2e_error_code(rec), code) != 0)
            fail_msg("line %lld: want %s, got \"%s\": %s", e2e_line_of(rec),
                     code, e2e_error_code(rec), msg ? msg : "");
        if (text && (!msg || !strstr(msg, text)))
            fail_msg("\"%s\" not in \"%s\"", text, msg ? msg : "");
        assert_int_equal(json_integer_value(json_object_get(rec, "status")),
                         0);
    }
    json_decref(recs);
}

/* Asserts line 1 is the proxy's 203 and line 2 nginx's 1k; consumes. */
static void expect_all_ok(json_t *recs)
{
    json_t *r1 = e2e_by_line(recs, 1), *r2 = e2e_by_line(recs, 2);

    assert_non_null(r1);
    assert_non_null(r2);
    if (strcmp(e2e_error_code(r1), "") || strcmp(e2e_error_code(r2), ""))
        fail_msg("errors \"%s\", \"%s\"", e2e_error_code(r1),
                 e2e_error_code(r2));
    assert_int_equal(json_integer_value(json_object_get(r1, "status")), 203);
    assert_int_equal(json_integer_value(json_object_get(r2, "status")), 200);
    assert_int_equal(json_integer_value(json_object_get(r2, "bytes")), 1024);
    json_decref(recs);
}

static void test_mpfetch(void **state)
{
    const char *ca = g_ngx.cafile;

    (void)state;
    if (!g_have_ngx || !e2e_mpfetch())
        skip();
    expect_all_failed(mpfetch_run(0, (const char *[]){NULL}), "MP_ETLS",
                      "(the proxy's TLS)");
    expect_all_failed(mpfetch_run(0, (const char *[]){"-k", NULL}),
                      "MP_ETLS", "(the proxy's TLS)");
    expect_all_failed(mpfetch_run(0, (const char *[]){"-k", "--cacert", ca,
                                                      NULL}),
                      "MP_ETLS", "(the proxy's TLS)");
    expect_all_ok(mpfetch_run(0, (const char *[]){"--proxy-insecure", "-k",
                                                  NULL}));
    expect_all_ok(mpfetch_run(0, (const char *[]){"--proxy-cacert", ca,
                                                  "--cacert", ca, NULL}));
    expect_all_ok(mpfetch_run(0, (const char *[]){"--proxy-insecure",
                                                  "--engine", "curl",
                                                  "--cacert", ca, NULL}));
    /* forced native: refused, not run on libcurl */
    expect_all_failed(mpfetch_run(0, (const char *[]){"--proxy-insecure",
                                                      "--engine", "native",
                                                      NULL}),
                      "MP_EINVAL", "a proxy other than http://");
}

/* The environment's https:// proxy (http_proxy, https_proxy) takes the
   same options. */
static void test_mpfetch_env(void **state)
{
    const char *ca = g_ngx.cafile;

    (void)state;
    if (!g_have_ngx || !e2e_mpfetch())
        skip();
    setenv("http_proxy", g_proxy, 1);
    setenv("https_proxy", g_proxy, 1);
    json_t *none = mpfetch_run(1, (const char *[]){"-k", NULL});
    json_t *pca = mpfetch_run(1, (const char *[]){"--proxy-cacert", ca,
                                                  "--cacert", ca, NULL});
    unsetenv("http_proxy");
    unsetenv("https_proxy");
    expect_all_failed(none, "MP_ETLS", "(the proxy's TLS)");
    expect_all_ok(pca);
}

/* ---- main ------------------------------------------------------------- */

static int setup(void **state)
{
    char opts[64], line[800];
    char *dir;

    (void)state;
    signal(SIGPIPE, SIG_IGN);
    tu_proxy_env_clear(); /* the suite decides what mpfetch sees */
    if (tu_ts_start(&g_ts, NULL) != 0 || tu_ts_start(&g_px, "--proxy") != 0)
        return -1;
    if (!(dir = tu_tmpdir()))
        return -1;
    snprintf(g_dir, sizeof g_dir, "%s", dir);
    free(dir);
    snprintf(opts, sizeof opts, "--tls-upstream %d", g_px.port);
    g_have_ngx = tu_nginx_start_opts(&g_ngx, g_dir, opts) == 0 &&
                 g_ngx.tlsup_port > 0;
    if (g_have_ngx)
        snprintf(g_proxy, sizeof g_proxy, "https://127.0.0.1:%d",
                 g_ngx.tlsup_port);
    e2e_path(g_in, sizeof g_in, g_dir, "in.txt");
    e2e_path(g_out, sizeof g_out, g_dir, "out.jsonl");
    e2e_path(g_err, sizeof g_err, g_dir, "err.txt");
    snprintf(line, sizeof line, "%s/ok\nhttps://127.0.0.1:%d/1k\n", g_ts.base,
             g_ngx.tls_port);
    return e2e_write_file(g_in, line, strlen(line));
}

static int teardown(void **state)
{
    (void)state;
    if (g_have_ngx)
        tu_nginx_stop(&g_ngx);
    tu_ts_stop(&g_ts);
    tu_ts_stop(&g_px);
    if (g_dir[0])
        tu_rm_rf(g_dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_BOUNDED(test_untrusted, 60),
        TU_BOUNDED(test_trusted, 60),
        TU_BOUNDED(test_mpfetch, 120),
        TU_BOUNDED(test_mpfetch_env, 60),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
