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
 *  - proxy_insecure (curl's --proxy-insecure) or proxy_cafile
 *    with the certificate: through, and an https:// origin still needs its
 *    own -k / --cacert (the proxy's CAs are not the origin's);
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

#include "mpool.h"
#include "seen.h"
#include "testutil.h"

static tu_ts g_ts, g_px; /* the origin, the plain proxy behind TLS */
static tu_nginx g_ngx;   /* TLS in front of g_px; https:// origin too */
static int g_have_ngx;
static char g_dir[512], g_proxy[64];

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
    mp_pool_destroy(p);
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
    mp_pool_destroy(p);
}

/* ---- main ------------------------------------------------------------- */

static int setup(void **state)
{
    char opts[64];
    char *dir;

    (void)state;
    signal(SIGPIPE, SIG_IGN);
    tu_proxy_env_clear();
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
    return 0;
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
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
