/*
 * test_proxy: proxies like curl's, the settings resolved once.
 *
 * Real pools, a real origin (mp-testserver) and real forward proxies
 * (mp-testserver --proxy, one of them with --proxy-auth u:p): a request
 * that went through the proxy gets the proxy's own 203 "proxied GET URL",
 * one that did not gets the origin's answer. The native engine's part is
 * shown by forcing it: it runs an http:// URL through an http:// proxy
 * (credentials too) and refuses with MP_EINVAL what it does not speak
 * (a socks proxy, an https:// URL's CONNECT tunnel). The environment is set in
 * each worker by the pool's init function, as a user's shell would have
 * set it, and changed by a task between two requests to show that it is
 * read once. mpfetch runs at the end: -x, --noproxy, the environment,
 * --proxy "" and the codes in its records.
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
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>

#include "http/shared/http_int.h"
#include "mpfetch/mpfetch_e2e.h"
#include "mpool.h"
#include "seen.h"
#include "testutil.h"

/* What a task is asked to do: two requests of r (the second one only
   with twice), between them http_proxy becomes env_after. r's engine is
   the first request's, engine2 the second's. */
typedef struct spec {
    seen_req r;
    int engine2;
    int twice;
    char env_after[128]; /* http_proxy after the first request ("": unset) */
} spec;

typedef struct seen2 {
    seen r[2];
} seen2;

static tu_ts g_ts, g_px, g_pxa; /* origin, proxy, proxy with auth */

/* ---- in the workers --------------------------------------------------- */

/* Pool init: the worker's environment, as the user would have it: arg is
   "NAME=value\n..." (an empty value unsets). */
static int env_init(const void *arg, size_t len)
{
    char buf[512], *save = NULL;

    tu_proxy_env_clear();
    if (len >= sizeof buf)
        return MP_EINVAL;
    memcpy(buf, arg, len);
    buf[len] = '\0';
    for (char *l = strtok_r(buf, "\n", &save); l;
         l = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(l, '=');
        if (!eq)
            return MP_EINVAL;
        *eq = '\0';
        if (setenv(l, eq + 1, 1) != 0)
            return MP_EINVAL;
    }
    return 0;
}

/* Runs one request of s with engine eng into o. */
static void one(mp_task *t, const spec *s, int eng, seen *o)
{
    seen_req q = s->r;

    q.engine = eng;
    q.timeout_ms = 20000;
    seen_http(t, &q, o);
}

static int proxy_task(mp_task *t, const void *in, size_t len)
{
    const spec *s = in;
    seen2 o;

    if (len != sizeof *s)
        return mp_fail(t, MP_EINVAL, "bad spec");
    memset(&o, 0, sizeof o);
    one(t, s, s->r.engine, &o.r[0]);
    if (s->twice) {
        if (s->env_after[0])
            setenv("http_proxy", s->env_after, 1);
        else
            unsetenv("http_proxy");
        one(t, s, s->engine2, &o.r[1]);
    }
    return mp_return(t, &o, sizeof o);
}

/* ---- in the test process ---------------------------------------------- */

/* A pool of one worker whose environment is env (see env_init). */
static mp_pool *pool_env(const char *env)
{
    mp_pool_options o = {.workers = 1,
                         .concurrency = 4,
                         .init = env_init,
                         .init_arg = env,
                         .init_len = strlen(env)};
    mp_pool *p = NULL;

    assert_int_equal(mp_pool_create(&p, &o), 0);
    return p;
}

/* A spec for the origin's path. */
static spec mkspec(const char *path)
{
    spec s;

    memset(&s, 0, sizeof s);
    snprintf(s.r.url, sizeof s.r.url, "%s%s", g_ts.base, path);
    return s;
}

static void set_proxy(spec *s, const char *proxy)
{
    snprintf(s->r.proxy, sizeof s->r.proxy, "%s", proxy);
    s->r.proxy_set = 1;
}

static void set_noproxy(spec *s, const char *noproxy)
{
    snprintf(s->r.noproxy, sizeof s->r.noproxy, "%s", noproxy);
    s->r.noproxy_set = 1;
}

/* Runs s in p. Returns what the task saw. */
static seen2 run(mp_pool *p, const spec *s)
{
    char why[300];
    seen2 o;

    if (tu_apply_copy(p, proxy_task, s, sizeof *s, &o, sizeof o, why,
                      sizeof why) != 0)
        fail_msg("%s", why);
    return o;
}

/* Asserts that o came through the proxy: its 203 naming url. */
static void expect_proxied(const seen *o, const char *url)
{
    char want[300];

    if (o->rc)
        fail_msg("%s: %s", mp_err_name(o->rc), o->message);
    assert_int_equal(o->status, 203);
    snprintf(want, sizeof want, "proxied GET %s\n", url);
    assert_string_equal(o->body, want);
}

/* Asserts that o is the origin's own "/ok" answer. */
static void expect_direct(const seen *o)
{
    if (o->rc)
        fail_msg("%s: %s", mp_err_name(o->rc), o->message);
    assert_int_equal(o->status, 200);
    assert_string_equal(o->body, "ok\n");
}

/* Asserts that o failed with code and its message holds text. */
static void expect_error(const seen *o, int code, const char *text)
{
    if (o->rc != code)
        fail_msg("want %s, got %s (status %ld): %s", mp_err_name(code),
                 mp_err_name(o->rc), o->status, o->message);
    if (text && !strstr(o->message, text))
        fail_msg("\"%s\" not in \"%s\"", text, o->message);
}

static void proxy_addr(char *buf, size_t n, const tu_ts *px)
{
    snprintf(buf, n, "127.0.0.1:%d", px->port);
}

/* ---- the no-proxy list, curl's syntax ---------------------------------- */

/* NO_PROXY rows: list, host, host is an IPv6 literal, curl bypasses. */
static const struct {
    const char *list, *host;
    int v6, want;
} t_noproxy[] = {
    {"*", "example.com", 0, 1},
    {"*,other", "example.com", 0, 0}, /* "*" only alone */
    {"", "example.com", 0, 0},
    {"example.com", "example.com", 0, 1},
    {"example.com", "www.example.com", 0, 1},
    {"example.com", "notexample.com", 0, 0},
    {".example.com", "www.example.com", 0, 1},
    {".example.com", "example.com", 0, 1},
    {"example.com.", "EXAMPLE.COM", 0, 1},
    {"example.com", "example.com.", 0, 1}, /* host's trailing dot */
    {"a.com, b.com", "x.b.com", 0, 1},
    {"a.com b.com", "b.com", 0, 1}, /* blanks separate too */
    {"a.com,,b.com", "b.com", 0, 1},
    {"www.example.com", "example.com", 0, 0},
    {"127.0.0.1", "127.0.0.1", 0, 1},
    {"127.0.0.1", "127.0.0.2", 0, 0},
    {"127.0.0.0/8", "127.1.2.3", 0, 1},
    {"10.0.0.0/8", "127.1.2.3", 0, 0},
    {"127.0.0.1/33", "127.0.0.1", 0, 0},
    {"0.0.1", "127.0.0.1", 0, 0}, /* addresses match whole */
    {"::1", "::1", 1, 1},
    {"::/0", "::1", 1, 0}, /* /0 is the whole address in curl */
    {"fe80::/10", "fe80::1", 1, 1},
    {"127.0.0.1", "::1", 1, 0},
    {"localhost", "localhost", 0, 1},
};

/* Our matcher (the dispatcher's) gives the table's answers. */
static void test_noproxy_match(void **state)
{
    for (size_t i = 0; i < sizeof t_noproxy / sizeof t_noproxy[0]; i++) {
        const char *l = t_noproxy[i].list, *h = t_noproxy[i].host;
        int got = mp__http_noproxy_match(l, h, strlen(h), t_noproxy[i].v6);

        if (got != t_noproxy[i].want)
            fail_msg("noproxy \"%s\" host \"%s\": %d, want %d", l, h, got,
                     t_noproxy[i].want);
    }
}

/* CURLOPT_WRITEFUNCTION that keeps nothing. Returns n. */
static size_t discard(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

/* The same rows through libcurl itself, with the host names mapped to
   127.0.0.1 (CURLOPT_RESOLVE: no lookup leaves the machine): a request
   curl sends to the proxy gets its 203, one it sends directly reaches the
   origin (or, for another 127.x address, is refused). Rows whose host curl
   cannot be pointed at here (IPv6, a trailing dot) are left out. */
static void test_noproxy_like_curl(void **state)
{
    char px[64], url[300], map[300];
    size_t checked = 0;

    proxy_addr(px, sizeof px, &g_px);
    for (size_t i = 0; i < sizeof t_noproxy / sizeof t_noproxy[0]; i++) {
        const char *h = t_noproxy[i].host;
        struct curl_slist *resolve = NULL;
        long status = 0;
        CURL *e;

        if (t_noproxy[i].v6 || h[strlen(h) - 1] == '.')
            continue;
        snprintf(url, sizeof url, "http://%s:%d/ok", h, g_ts.port);
        snprintf(map, sizeof map, "%s:%d:127.0.0.1", h, g_ts.port);
        assert_non_null(e = curl_easy_init());
        assert_non_null(resolve = curl_slist_append(NULL, map));
        curl_easy_setopt(e, CURLOPT_URL, url);
        curl_easy_setopt(e, CURLOPT_PROXY, px);
        curl_easy_setopt(e, CURLOPT_NOPROXY, t_noproxy[i].list);
        curl_easy_setopt(e, CURLOPT_RESOLVE, resolve);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_perform(e);
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_cleanup(e);
        curl_slist_free_all(resolve);
        if ((status != 203) != t_noproxy[i].want)
            fail_msg("curl with noproxy \"%s\" for %s: status %ld, the "
                     "table says %s", t_noproxy[i].list, h, status,
                     t_noproxy[i].want ? "direct" : "proxied");
        checked++;
    }
    assert_true(checked >= 15);
}

/* ---- mp_http_request.proxy and .noproxy -------------------------------- */

/* -x: through the proxy on both engines, with a scheme or without, with
   credentials; a socks proxy the native engine refuses. */
static void test_explicit(void **state)
{
    mp_pool *p = pool_env("");
    spec s = mkspec("/ok");
    char px[64];
    seen2 o;

    proxy_addr(px, sizeof px, &g_px);
    set_proxy(&s, px);
    o = run(p, &s);
    expect_proxied(&o.r[0], s.r.url);
    s.r.engine = MP_HTTP_CURL;
    expect_proxied(&run(p, &s).r[0], s.r.url);
    snprintf(s.r.proxy, sizeof s.r.proxy, "http://%s", px); /* with a scheme */
    expect_proxied(&run(p, &s).r[0], s.r.url);
    s.r.engine = MP_HTTP_NATIVE;
    expect_proxied(&run(p, &s).r[0], s.r.url);
    snprintf(s.r.proxy, sizeof s.r.proxy, "u:p@127.0.0.1:%d", g_pxa.port);
    expect_proxied(&run(p, &s).r[0], s.r.url);
    snprintf(s.r.proxy, sizeof s.r.proxy, "http://%%75:%%70@127.0.0.1:%d/",
             g_pxa.port); /* %-encoded, as curl decodes them */
    expect_proxied(&run(p, &s).r[0], s.r.url);
    snprintf(s.r.proxy, sizeof s.r.proxy, "127.0.0.1:%d", g_pxa.port);
    seen o407 = run(p, &s).r[0]; /* no credentials: the proxy's answer */
    assert_int_equal(o407.rc, 0);
    assert_int_equal(o407.status, 407);
    set_proxy(&s, "socks5://127.0.0.1:1");
    expect_error(&run(p, &s).r[0], MP_EINVAL, "a proxy");
    set_proxy(&s, px); /* CONNECT to a plain server: TLS fails, as curl's */
    snprintf(s.r.url, sizeof s.r.url, "https://127.0.0.1:%d/", g_ts.port);
    expect_error(&run(p, &s).r[0], MP_ETLS, NULL);
    s = mkspec("/ok");
    /* "" is no proxy: the native engine runs it */
    set_proxy(&s, "");
    expect_direct(&run(p, &s).r[0]);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* Accepts one connection on lfd, reads a request head into buf (len),
   answers 200 "ok" and closes. */
static void serve_one(int lfd, char *buf, size_t len)
{
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    size_t n = 0;
    int c;

    tu_bound(20, "the request to the capturing proxy");
    assert_true((c = accept(lfd, NULL, NULL)) >= 0);
    while (n + 1 < len) {
        ssize_t k = recv(c, buf + n, len - 1 - n, 0);
        assert_true(k > 0);
        n += (size_t)k;
        buf[n] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
    assert_int_equal(send(c, ok, sizeof ok - 1, MSG_NOSIGNAL),
                     (ssize_t)(sizeof ok - 1));
    close(c);
    tu_unbound();
}

/* The bytes each engine sends the proxy are the same: curl 7.88's
   absolute form, then Host, Proxy-Authorization (Basic, the %-decoded
   credentials), User-Agent, Accept, Proxy-Connection. */
static void test_request_bytes(void **state)
{
    int port = 0, lfd = tu_listen(&port, 8);
    mp_pool *p = pool_env("");
    char got[2][1024];

    assert_true(lfd >= 0);
    for (int i = 0; i < 2; i++) {
        spec s = mkspec("/x?y");
        mp_future *f = NULL;
        snprintf(s.r.proxy, sizeof s.r.proxy,
                 "http://us%%65r:p%%40ss@127.0.0.1:%d", port);
        s.r.proxy_set = 1;
        s.r.engine = i ? MP_HTTP_NATIVE : MP_HTTP_CURL;
        assert_int_equal(mp_pool_submit(p, proxy_task, &s, sizeof s, &f), 0);
        assert_int_equal(mp_future_wait(f, 50), MP_ETIMEDOUT); /* sent */
        serve_one(lfd, got[i], sizeof got[i]);
        assert_int_equal(mp_future_wait(f, 20000), 0);
        const mp_result *r = mp_future_result(f);
        assert_int_equal(r->status, 0);
        assert_int_equal(((const seen2 *)r->data)->r[0].status, 200);
        mp_future_free(f);
    }
    assert_string_equal(got[1], got[0]);
    char want[200];
    snprintf(want, sizeof want, "GET %s/x?y HTTP/1.1\r\nHost: 127.0.0.1:%d"
             "\r\nProxy-Authorization: Basic dXNlcjpwQHNz\r\n",
             g_ts.base, g_ts.port);
    if (strncmp(got[1], want, strlen(want)) != 0)
        fail_msg("the request begins \"%s\"", got[1]);
    assert_non_null(strstr(got[1], "\r\nProxy-Connection: Keep-Alive\r\n"));
    close(lfd);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* --noproxy: a listed host bypasses the proxy and stays native; an
   unlisted one goes through. */
static void test_noproxy(void **state)
{
    static const char *const bypass[] = {"127.0.0.1", "*", "127.0.0.0/8",
                                         "example.com, 127.0.0.1"};
    static const char *const through[] = {"example.com", "127.0.0.2", "0.0.1",
                                          ""};
    mp_pool *p = pool_env("no_proxy=127.0.0.1\n");
    spec s = mkspec("/ok");
    char px[64];

    proxy_addr(px, sizeof px, &g_px);
    set_proxy(&s, px);
    for (size_t i = 0; i < sizeof bypass / sizeof bypass[0]; i++) {
        set_noproxy(&s, bypass[i]);
        s.r.engine = MP_HTTP_NATIVE;
        expect_direct(&run(p, &s).r[0]);
        s.r.engine = MP_HTTP_CURL;
        expect_direct(&run(p, &s).r[0]);
    }
    for (size_t i = 0; i < sizeof through / sizeof through[0]; i++) {
        set_noproxy(&s, through[i]); /* replaces the environment's */
        s.r.engine = MP_HTTP_AUTO;
        expect_proxied(&run(p, &s).r[0], s.r.url);
        s.r.engine = MP_HTTP_NATIVE;
        expect_proxied(&run(p, &s).r[0], s.r.url);
    }
    /* NULL: the environment's no_proxy (127.0.0.1) */
    s.r.noproxy_set = 0;
    s.r.engine = MP_HTTP_NATIVE;
    expect_direct(&run(p, &s).r[0]);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* The environment as curl reads it: http_proxy (never HTTP_PROXY), then
   all_proxy; proxy "" turns it off. */
static void test_environment(void **state)
{
    char env[256];
    spec s = mkspec("/ok");
    mp_pool *p;

    snprintf(env, sizeof env, "http_proxy=http://127.0.0.1:%d\n", g_px.port);
    p = pool_env(env);
    expect_proxied(&run(p, &s).r[0], s.r.url);
    s.r.engine = MP_HTTP_NATIVE;
    expect_proxied(&run(p, &s).r[0], s.r.url);
    set_proxy(&s, "");
    expect_direct(&run(p, &s).r[0]);
    s.r.engine = MP_HTTP_CURL; /* libcurl does not read it either */
    expect_direct(&run(p, &s).r[0]);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);

    s = mkspec("/ok");
    snprintf(env, sizeof env, "HTTP_PROXY=127.0.0.1:%d\n", g_px.port);
    p = pool_env(env);
    s.r.engine = MP_HTTP_CURL;
    expect_direct(&run(p, &s).r[0]);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);

    snprintf(env, sizeof env, "ALL_PROXY=127.0.0.1:%d\n", g_px.port);
    p = pool_env(env);
    expect_proxied(&run(p, &s).r[0], s.r.url);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);

    /* https:// takes HTTPS_PROXY (the proxy with auth answers CONNECT
       with 407), never http_proxy (then TLS meets the plain origin) */
    snprintf(s.r.url, sizeof s.r.url, "https://127.0.0.1:%d/", g_ts.port);
    snprintf(env, sizeof env, "HTTPS_PROXY=127.0.0.1:%d\n", g_pxa.port);
    p = pool_env(env);
    expect_error(&run(p, &s).r[0], MP_EPROXY, "407");
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
    snprintf(env, sizeof env, "http_proxy=127.0.0.1:%d\n", g_pxa.port);
    p = pool_env(env);
    expect_error(&run(p, &s).r[0], MP_ETLS, NULL);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* Read once: a task that changes http_proxy after its first request does
   not change where the next one goes, on either engine. */
static void test_env_read_once(void **state)
{
    char env[256], px[64];
    spec s = mkspec("/ok");
    mp_pool *p;
    seen2 o;

    proxy_addr(px, sizeof px, &g_px);
    snprintf(env, sizeof env, "http_proxy=%s\n", px);
    p = pool_env(env);
    s.twice = 1;
    s.engine2 = MP_HTTP_CURL;
    s.env_after[0] = '\0'; /* unset */
    o = run(p, &s);
    expect_proxied(&o.r[0], s.r.url);
    expect_proxied(&o.r[1], s.r.url);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);

    p = pool_env("");
    snprintf(s.env_after, sizeof s.env_after, "%s", px);
    for (int eng = MP_HTTP_AUTO; eng <= MP_HTTP_NATIVE; eng++) {
        s.r.engine = s.engine2 = eng;
        o = run(p, &s);
        expect_direct(&o.r[0]);
        expect_direct(&o.r[1]);
    }
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* A wrong proxy gives the honest code. */
static void test_errors(void **state)
{
    mp_pool *p = pool_env("");
    spec s = mkspec("/ok");
    char px[300];
    int port = tu_free_port();

    assert_true(port > 0);
    snprintf(px, sizeof px, "127.0.0.1:%d", port);
    set_proxy(&s, px);
    expect_error(&run(p, &s).r[0], MP_ECONNREFUSED, "through the proxy");
    set_proxy(&s, TU_BAD_NAME ":1");
    expect_error(&run(p, &s).r[0], MP_EDNS, "proxy");
    /* both engines in curl's words for a proxy name that does not resolve */
    for (int eng = MP_HTTP_CURL; eng <= MP_HTTP_NATIVE; eng++) {
        s.r.engine = eng;
        expect_error(&run(p, &s).r[0], MP_EDNS,
                     "Could not resolve proxy: " TU_BAD_NAME);
    }
    s.r.engine = MP_HTTP_AUTO;

    /* CONNECT answered 407 (no credentials), then 502 (target refuses),
       on each engine: no status, no version, as libcurl's record */
    for (int eng = MP_HTTP_CURL; eng <= MP_HTTP_NATIVE; eng++) {
        s.r.engine = eng;
        proxy_addr(px, sizeof px, &g_pxa);
        set_proxy(&s, px);
        snprintf(s.r.url, sizeof s.r.url, "https://127.0.0.1:%d/", g_ts.port);
        seen o1 = run(p, &s).r[0];
        expect_error(&o1, MP_EPROXY, "407");
        assert_int_equal(o1.status, 0);
        assert_int_equal(o1.http_version, 0);
        proxy_addr(px, sizeof px, &g_px);
        set_proxy(&s, px);
        snprintf(s.r.url, sizeof s.r.url, "https://127.0.0.1:%d/", port);
        expect_error(&run(p, &s).r[0], MP_EPROXY, "502");
        snprintf(px, sizeof px, "127.0.0.1:%d", port);
        set_proxy(&s, px);
        expect_error(&run(p, &s).r[0], MP_ECONNREFUSED, "through the proxy");
    }
    s.r.engine = 0;

    /* a plain http:// request: the proxy's 407 is a response */
    s = mkspec("/ok");
    proxy_addr(px, sizeof px, &g_pxa);
    set_proxy(&s, px);
    seen2 o = run(p, &s);
    assert_int_equal(o.r[0].rc, 0);
    assert_int_equal(o.r[0].status, 407);
    snprintf(px, sizeof px, "u:p@127.0.0.1:%d", g_pxa.port);
    set_proxy(&s, px);
    expect_proxied(&run(p, &s).r[0], s.r.url);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* An https:// URL through the proxy's CONNECT tunnel reaches nginx: TLS
   (verified) and HTTP/2 end to end. */
static void test_connect_tls(void **state)
{
    tu_nginx n;
    char *dir = tu_tmpdir(), px[64];
    mp_pool *p;
    spec s;
    seen2 o;

    assert_non_null(dir);
    memset(&n, 0, sizeof n);
    if (tu_nginx_start(&n, dir, 1) != 0) {
        tu_rm_rf(dir);
        free(dir);
        skip();
    }
    p = pool_env("");
    memset(&s, 0, sizeof s);
    snprintf(s.r.url, sizeof s.r.url, "https://127.0.0.1:%d/1k", n.tls_port);
    snprintf(s.r.cafile, sizeof s.r.cafile, "%s", n.cafile);
    proxy_addr(px, sizeof px, &g_px);
    set_proxy(&s, px);
    for (int eng = MP_HTTP_AUTO; eng <= MP_HTTP_NATIVE; eng++) {
        s.r.engine = eng; /* auto: native, as forcing it */
        o = run(p, &s);
        if (o.r[0].rc)
            fail_msg("%s: %s", mp_err_name(o.r[0].rc), o.r[0].message);
        assert_int_equal(o.r[0].status, 200);
        assert_int_equal(o.r[0].body_len, 1024);
        assert_int_equal(o.r[0].http_version, 20);
    }
    s.r.engine = MP_HTTP_NATIVE; /* with credentials too */
    proxy_addr(px, sizeof px, &g_pxa);
    snprintf(s.r.proxy, sizeof s.r.proxy, "u:p@%s", px);
    o = run(p, &s);
    if (o.r[0].rc)
        fail_msg("%s: %s", mp_err_name(o.r[0].rc), o.r[0].message);
    assert_int_equal(o.r[0].http_version, 20);
    proxy_addr(px, sizeof px, &g_px);
    /* the proxy was used: with a refusing one the same request fails */
    snprintf(px, sizeof px, "127.0.0.1:%d", tu_free_port());
    set_proxy(&s, px);
    expect_error(&run(p, &s).r[0], MP_ECONNREFUSED, "through the proxy");
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
    tu_nginx_stop(&n);
    tu_rm_rf(dir);
    free(dir);
}

/* ---- mpfetch ------------------------------------------------------------ */

static char g_dir[512], g_in[600], g_out[600], g_err[600];

/* Runs mpfetch on the one line url with the options in args (NULL-ended)
   and returns its single record (the caller json_decref's it). */
static json_t *mpfetch1(const char *url, const char *const *args)
{
    char line[300];
    json_t *recs, *rec;

    if (!e2e_mpfetch())
        return NULL;
    snprintf(line, sizeof line, "%s\n", url);
    assert_int_equal(e2e_write_file(g_in, line, strlen(line)), 0);
    recs = e2e_fetch_records(NULL, args, g_in, g_out, g_err);
    assert_int_equal(json_array_size(recs), 1);
    rec = json_incref(json_array_get(recs, 0));
    json_decref(recs);
    return rec;
}

/* Asserts rec's status and error code ("" for none). */
static void expect_rec(json_t *rec, long status, const char *code)
{
    const char *got = e2e_error_code(rec);
    json_t *st = json_object_get(rec, "status");

    if (strcmp(got, code) != 0)
        fail_msg("want error \"%s\", got \"%s\"", code, got);
    assert_int_equal(json_integer_value(st), status);
    json_decref(rec);
}

static void test_mpfetch(void **state)
{
    char url[256], px[64], bad[64], https[256], pxa[64];
    int port = tu_free_port();

    if (!e2e_mpfetch())
        skip();
    assert_true(port > 0);
    snprintf(url, sizeof url, "%s/ok", g_ts.base);
    proxy_addr(px, sizeof px, &g_px);
    proxy_addr(pxa, sizeof pxa, &g_pxa);
    snprintf(bad, sizeof bad, "127.0.0.1:%d", port);
    snprintf(https, sizeof https, "https://127.0.0.1:%d/", g_ts.port);

    expect_rec(mpfetch1(url, (const char *[]){"-x", px, NULL}), 203, "");
    expect_rec(mpfetch1(url, (const char *[]){"--proxy", px, "--engine",
                                              "native", NULL}),
               203, "");
    expect_rec(
        mpfetch1(url, (const char *[]){"-x", px, "--noproxy", "127.0.0.1",
                                       "--engine", "native", NULL}),
        200, "");
    expect_rec(mpfetch1(url, (const char *[]){"-x", bad, NULL}), 0,
               "MP_ECONNREFUSED");
    expect_rec(mpfetch1(url, (const char *[]){"-x", TU_BAD_NAME ":1", NULL}), 0,
               "MP_EDNS");
    expect_rec(mpfetch1(https, (const char *[]){"-x", pxa, NULL}), 0,
               "MP_EPROXY");
    snprintf(https, sizeof https, "https://127.0.0.1:%d/", port);
    expect_rec(mpfetch1(https, (const char *[]){"-x", px, NULL}), 0,
               "MP_EPROXY"); /* 502: the target refuses */

    /* the environment: honoured, and off with --proxy "" */
    setenv("http_proxy", px, 1);
    json_t *env_rec = mpfetch1(url, (const char *[]){NULL});
    json_t *off_rec = mpfetch1(
        url, (const char *[]){"--proxy", "", "--engine", "native", NULL});
    unsetenv("http_proxy");
    expect_rec(env_rec, 203, "");
    expect_rec(off_rec, 200, "");
}

/* mp_http_proxy_check: curl 7.88's proxy schemes (any case, socks is
   socks4, none is http), a host, or "" for none. */
static void test_proxy_check(void **state)
{
    static const char *const good[] = {
        "", "127.0.0.1:3128", "http://p:1", "HTTPS://p", "socks://p:1080",
        "socks4://p", "socks4a://p", "socks5://u:pw@p:1", "SOCKS5H://[::1]:1",
        "p"};
    static const char *const bad[] = {"bogus://x:1", "ftp://p:21", "http://",
                                      "socks6://p", "://p", "http://:80",
                                      "http://u@"};
    (void)state;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (mp_http_proxy_check(good[i]) != 0)
            fail_msg("refused \"%s\"", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (mp_http_proxy_check(bad[i]) != MP_EINVAL)
            fail_msg("took \"%s\"", bad[i]);
    assert_int_equal(mp_http_proxy_check(NULL), MP_EINVAL);
}

/* -x with a scheme libcurl does not run is a usage error (it gave every
   record MP_ECONNREFUSED and exit 0): exit 2, the schemes named, no
   request made, the output file as it was. */
static void test_mpfetch_bad_scheme(void **state)
{
    static const char *const bad[] = {"bogus://x:1", "ftp://127.0.0.1:21",
                                      "http://"};
    const char *bin = e2e_mpfetch();
    char url[256];
    (void)state;
    if (!bin)
        skip();
    snprintf(url, sizeof url, "%s/ok\n", g_ts.base);
    assert_int_equal(e2e_write_file(g_in, url, strlen(url)), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(e2e_write_file(g_out, "before\n", 7), 0);
        char *argv[] = {(char *)bin, "-q", "-w", "1", "-x", (char *)bad[i],
                        "-o", g_out, g_in, NULL};
        assert_int_equal(e2e_run(argv, NULL, NULL, g_err), 2);
        char *err = e2e_slurp(g_err, NULL), *out = e2e_slurp(g_out, NULL);
        assert_non_null(err);
        if (!strstr(err, "socks5h") || !strstr(err, bad[i]))
            fail_msg("stderr: %s", err);
        assert_string_equal(out, "before\n");
        free(err);
        free(out);
    }
}

/* ---- main ------------------------------------------------------------- */

static int setup(void **state)
{
    char *dir;

    signal(SIGPIPE, SIG_IGN);
    tu_proxy_env_clear(); /* the suite decides what the workers see */
    if (tu_ts_start(&g_ts, NULL) != 0 || tu_ts_start(&g_px, "--proxy") != 0 ||
        tu_ts_start(&g_pxa, "--proxy --proxy-auth u:p") != 0)
        return -1;
    if (!(dir = tu_tmpdir()))
        return -1;
    snprintf(g_dir, sizeof g_dir, "%s", dir);
    free(dir);
    e2e_path(g_in, sizeof g_in, g_dir, "in.txt");
    e2e_path(g_out, sizeof g_out, g_dir, "out.jsonl");
    e2e_path(g_err, sizeof g_err, g_dir, "err.txt");
    return 0;
}

static int teardown(void **state)
{
    tu_ts_stop(&g_ts);
    tu_ts_stop(&g_px);
    tu_ts_stop(&g_pxa);
    if (g_dir[0])
        tu_rm_rf(g_dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_BOUNDED(test_noproxy_match, 30),
        TU_BOUNDED(test_noproxy_like_curl, 60),
        TU_BOUNDED(test_explicit, 60),
        TU_BOUNDED(test_request_bytes, 60),
        TU_BOUNDED(test_noproxy, 60),
        TU_BOUNDED(test_environment, 60),
        TU_BOUNDED(test_env_read_once, 60),
        TU_BOUNDED(test_errors, 60),
        TU_BOUNDED(test_connect_tls, 90),
        TU_BOUNDED(test_mpfetch, 120),
        TU_BOUNDED(test_proxy_check, 10),
        TU_BOUNDED(test_mpfetch_bad_scheme, 60),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
