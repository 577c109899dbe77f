/*
 * test_http_redirect: follow_redirects on each engine, and the native
 * engine running it under AUTO (src/http/native/http_native_redir.c): the method
 * rules of 301/302/303 and 307/308 as libcurl 7.88 has them, the limit,
 * other schemes, the credentials kept from other hosts, ports and
 * schemes (https -> http too, through nginx ending TLS), hops sharing one
 * connection (HTTP/1.1 on mp-testserver, HTTP/2 on nginx), a redirect's
 * body neither kept nor counted against max_body; httpbin's redirect,
 * auth and method endpoints (python3-httpbin). Each case asserts what
 * the server saw (/echo), on both engines, so both are held to it;
 * test_http_diff compares their whole records on the same chains.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mpool.h"
#include "seen.h"
#include "testutil.h"

static tu_ts g_ts, g_ts2; /* two test servers: two ports */

/* The task: the request, followed, into a seen. */
static int one_task(mp_task *t, const void *in, size_t len)
{
    seen_req s = *(const seen_req *)in;
    seen o;

    (void)len;
    s.follow = 1;
    seen_http(t, &s, &o);
    return mp_return(t, &o, sizeof o);
}

/* Runs s on each engine (curl, native) and AUTO in a fresh one-worker
   pool; o[0..2]. */
static void run3(seen_req *s, seen o[3])
{
    mp_pool_options opt = {.workers = 1, .concurrency = 4};
    mp_pool *p = NULL;
    const int eng[3] = {MP_HTTP_CURL, MP_HTTP_NATIVE, MP_HTTP_AUTO};

    assert_int_equal(mp_pool_create(&p, &opt), 0);
    for (int i = 0; i < 3; i++) {
        mp_result r;
        s->engine = eng[i];
        assert_int_equal(mp_pool_apply(p, one_task, s, sizeof *s, &r), 0);
        if (r.status != 0)
            fail_msg("%s: task failed: %s", s->url, mp_err_name(r.status));
        memcpy(&o[i], r.data, sizeof o[i]);
        mp_result_clear(&r);
    }
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* Returns a spec for url (printf-style). */
static seen_req mk(const char *fmt, ...) MP_PRINTF(1, 2);
static seen_req mk(const char *fmt, ...)
{
    seen_req s;
    va_list ap;

    memset(&s, 0, sizeof s);
    va_start(ap, fmt);
    vsnprintf(s.url, sizeof s.url, fmt, ap);
    va_end(ap);
    return s;
}

/* Fails unless each engine gave want (a status or an MP_E* code), a body
   with has and without lacks (NULL: not checked), AUTO on the native
   engine, and both engines the same status, redirects and final URL. */
static void expect3(const seen_req *s, const seen o[3], int want,
                    const char *has, const char *lacks)
{
    static const char *const name[3] = {"curl", "native", "auto"};

    for (int i = 0; i < 3; i++) {
        int got = o[i].rc ? o[i].rc : (int)o[i].status;
        if (got != want)
            fail_msg("%s (%s): %d, not %d (%s)", s->url, name[i], got, want,
                     o[i].message);
        if (has && !strstr(o[i].body, has))
            fail_msg("%s (%s): the body lacks %s: %s", s->url, name[i], has,
                     o[i].body);
        if (lacks && strstr(o[i].body, lacks))
            fail_msg("%s (%s): the body has %s: %s", s->url, name[i], lacks,
                     o[i].body);
        if (o[i].status != o[0].status || o[i].redirects != o[0].redirects ||
            strcmp(o[i].final_url, o[0].final_url) != 0)
            fail_msg("%s (%s): %ld %u %s, curl %ld %u %s", s->url, name[i],
                     o[i].status, o[i].redirects, o[i].final_url,
                     o[0].status, o[0].redirects, o[0].final_url);
    }
    if (o[2].engine != MP_HTTP_NATIVE)
        fail_msg("%s: AUTO ran on engine %d, not the native one", s->url,
                 o[2].engine);
}

/* 301/302/303 make a POST a GET without its body; a method curl sends
   by name keeps it (its body dropped); HEAD stays; 307/308 keep all. */
static void test_methods(void **state)
{
    static const struct {
        int code;
        const char *method, *body, *has, *lacks;
    } t[] = {
        {301, "POST", "a=1", "\"method\":\"GET\"", "a=1"},
        {302, "POST", "a=1", "\"method\":\"GET\"", "Content-Length"},
        {303, "POST", "a=1", "\"method\":\"GET\"", "a=1"},
        {303, "POST", NULL, "\"method\":\"GET\"", "Content-Length"},
        {307, "POST", "a=1", "\"method\":\"POST\"", NULL},
        {308, "POST", "a=1", "\"body\":\"a=1\"", NULL},
        {307, "PUT", "p=2", "\"body\":\"p=2\"", NULL},
        {301, "PUT", "p=2", "\"method\":\"PUT\"", "p=2"},
        {303, "PUT", "p=2", "\"method\":\"PUT\"", "Content-Length"},
        {303, "DELETE", NULL, "\"method\":\"DELETE\"", NULL},
        {302, "PATCH", "x", "\"method\":\"PATCH\"", "\"body\":\"x\""},
        {302, NULL, NULL, "\"method\":\"GET\"", NULL},
    };

    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        seen_req s = mk("%s/to/%d?loc=%%2Fecho", g_ts.base, t[i].code);
        seen o[3];
        snprintf(s.method, sizeof s.method, "%s", t[i].method ? t[i].method
                                                              : "");
        snprintf(s.body, sizeof s.body, "%s", t[i].body ? t[i].body : "");
        run3(&s, o);
        expect3(&s, o, 200, t[i].has, t[i].lacks);
        if (!strstr(o[1].final_url, "/echo") || o[1].redirects != 1)
            fail_msg("%s: %s after %u", s.url, o[1].final_url,
                     o[1].redirects);
    }
    /* HEAD stays HEAD on a 303 (no body: nothing to look at but that) */
    seen_req s = mk("%s/to/303?loc=%%2Fbytes%%2F10", g_ts.base);
    seen o[3];
    strcpy(s.method, "HEAD");
    run3(&s, o);
    expect3(&s, o, 200, NULL, NULL);
    assert_string_equal(o[1].body, "");
}

/* The limit (max_redirects, 0 = 10, MP_HTTP_NO_REDIRECTS none) and the record it leaves; other
   schemes; an empty Location is no redirect. */
static void test_limits_and_schemes(void **state)
{
    seen_req s = mk("%s/redirect/3", g_ts.base);
    seen o[3];

    s.max_redirects = 3;
    run3(&s, o);
    expect3(&s, o, 200, "ok", NULL);
    s.max_redirects = 2;
    run3(&s, o);
    expect3(&s, o, MP_EREDIRECT, NULL, NULL);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(o[i].status, 302);
        assert_int_equal(o[i].redirects, 2);
        assert_true(o[i].body_null);
        assert_non_null(strstr(o[i].message, "Maximum (2) redirects followed"));
        assert_non_null(strstr(o[i].final_url, "/redirect/1"));
    }
    /* none allowed (curl's --max-redirs 0): the first 3xx ends it */
    s.max_redirects = MP_HTTP_NO_REDIRECTS;
    run3(&s, o);
    expect3(&s, o, MP_EREDIRECT, NULL, NULL);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(o[i].status, 302);
        assert_int_equal(o[i].redirects, 0);
        assert_non_null(strstr(o[i].message, "Maximum (0) redirects followed"));
        assert_non_null(strstr(o[i].final_url, "/redirect/3"));
    }
    /* the limit reached on a hop the native form hands to libcurl (a
       fragment): the chain's limit, not a fresh one, nor a 3xx record */
    s = mk("%s/to/302?loc=%%2Fredirect%%2F1%%23f", g_ts.base);
    s.max_redirects = 1;
    run3(&s, o);
    for (int i = 0; i < 3; i++) { /* (not expect3: AUTO ends on libcurl) */
        assert_int_equal(o[i].rc, MP_EREDIRECT);
        assert_int_equal(o[i].status, 302);
        assert_int_equal(o[i].redirects, 1);
        assert_non_null(strstr(o[i].message, "Maximum (1) redirects followed"));
    }
    s = mk("%s/redirect-loop", g_ts.base);
    run3(&s, o);
    expect3(&s, o, MP_EREDIRECT, NULL, NULL);
    assert_int_equal(o[1].redirects, 10);
    s = mk("%s/to/302?loc=ftp%%3A%%2F%%2Fx.test%%2Fy", g_ts.base);
    run3(&s, o);
    expect3(&s, o, MP_EURL, NULL, NULL);
    assert_string_equal(o[1].final_url, "ftp://x.test/y");
    assert_non_null(strstr(o[1].message, "Protocol \"ftp\" not supported"));
    s = mk("%s/to/301?loc=javascript%%3Ax", g_ts.base);
    run3(&s, o);
    expect3(&s, o, MP_EURL, NULL, NULL);
    assert_non_null(strstr(o[1].message, "Unsupported URL scheme"));
    s = mk("%s/to/302?loc=", g_ts.base);
    run3(&s, o);
    expect3(&s, o, 302, "redirect", NULL);
    assert_int_equal(o[1].redirects, 0);
}

/* Authorization and Cookie go to the first URL's host, port and scheme
   only (checked against the first URL on every hop); other headers
   everywhere. */
static void test_credentials(void **state)
{
    seen_req s;
    seen o[3];

    /* the same host: kept, two hops */
    s = mk("%s/to/302?loc=%%2Fto%%2F307%%3Floc%%3D%%252Fecho", g_ts.base);
    strcpy(s.header[0], "Authorization: Bearer s");
    strcpy(s.header[1], "Cookie: c=1");
    run3(&s, o);
    expect3(&s, o, 200, "\"Authorization\":\"Bearer s\",\"Cookie\":\"c=1\"",
            NULL);
    /* another host */
    s = mk("%s/to/302?loc=http%%3A%%2F%%2Flocalhost%%3A%d%%2Fecho",
           g_ts.base, g_ts.port);
    strcpy(s.header[0], "Authorization: Bearer s");
    strcpy(s.header[1], "X-Other: yes");
    run3(&s, o);
    expect3(&s, o, 200, "\"X-Other\":\"yes\"", "Authorization");
    /* another port */
    s = mk("%s/to/302?loc=http%%3A%%2F%%2F127.0.0.1%%3A%d%%2Fecho",
           g_ts.base, g_ts2.port);
    strcpy(s.header[0], "cookie: c=1");
    run3(&s, o);
    expect3(&s, o, 200, NULL, "c=1");
    /* away and back to the first: sent again, as curl compares with the
       first URL */
    s = mk("%s/to/302?loc=http%%3A%%2F%%2F127.0.0.1%%3A%d%%2Fto%%2F302%%3F"
           "loc%%3Dhttp%%253A%%252F%%252F127.0.0.1%%253A%d%%252Fecho",
           g_ts.base, g_ts2.port, g_ts.port);
    strcpy(s.header[0], "Cookie: c=1");
    run3(&s, o);
    expect3(&s, o, 200, "\"Cookie\":\"c=1\"", NULL);
    assert_int_equal(o[1].redirects, 2);
}

/* https -> http is followed (curl's "http,https"), Authorization not
   sent to the other scheme; TLS ended by nginx in front of the test
   server. */
static void test_downgrade(void **state)
{
    char *dir = tu_tmpdir(), opts[64];
    tu_nginx n;
    seen_req s;
    seen o[3];

    assert_non_null(dir);
    snprintf(opts, sizeof opts, "--tls-upstream %d", g_ts.port);
    if (tu_nginx_start_opts(&n, dir, opts) != 0 || n.tlsup_port <= 0) {
        tu_nginx_stop(&n);
        tu_rm_rf(dir);
        free(dir);
        skip();
    }
    s = mk("https://127.0.0.1:%d/to/302?loc=http%%3A%%2F%%2F127.0.0.1%%3A%d"
           "%%2Fecho",
           n.tlsup_port, g_ts.port);
    snprintf(s.cafile, sizeof s.cafile, "%s", n.cafile);
    strcpy(s.header[0], "Authorization: Bearer s");
    run3(&s, o);
    expect3(&s, o, 200, "\"method\":\"GET\"", "Authorization");
    /* and https -> https on the same origin keeps it */
    s = mk("https://127.0.0.1:%d/to/302?loc=%%2Fecho", n.tlsup_port);
    snprintf(s.cafile, sizeof s.cafile, "%s", n.cafile);
    strcpy(s.header[0], "Authorization: Bearer s");
    run3(&s, o);
    expect3(&s, o, 200, "\"Authorization\":\"Bearer s\"", NULL);
    tu_nginx_stop(&n);
    tu_rm_rf(dir);
    free(dir);
}

/* Returns how many lines of nginx's access log (--log) name uri, and in
   *conns how many connection numbers they have between them. */
static int log_count(const char *dir, const char *uri, int *conns)
{
    char path[600], line[512], ids[64][32];
    int n = 0, k = 0;
    FILE *f;

    snprintf(path, sizeof path, "%s/access.log", dir);
    *conns = 0;
    if (!(f = fopen(path, "r")))
        return -1;
    while (fgets(line, sizeof line, f)) {
        char port[16], reused[8], u[256], conn[32];
        if (sscanf(line, "%15s %7s %255s %31s", port, reused, u, conn) != 4 ||
            strcmp(u, uri) != 0)
            continue;
        n++;
        int dup = 0;
        for (int i = 0; i < k; i++)
            dup |= strcmp(ids[i], conn) == 0;
        if (!dup && k < 64)
            snprintf(ids[k++], sizeof ids[0], "%s", conn);
    }
    fclose(f);
    *conns = k;
    return n;
}

/* HTTP/2 hops: a chain on nginx's h2 port runs as streams of one
   connection on the native engine, and ends as curl's. */
static void test_h2_hops(void **state)
{
    char *dir = tu_tmpdir();
    tu_nginx n;
    seen_req s;
    seen o[3];
    int conns;

    assert_non_null(dir);
    if (tu_nginx_start_opts(&n, dir, "--tls --log") != 0 || n.tls_port <= 0) {
        tu_nginx_stop(&n);
        tu_rm_rf(dir);
        free(dir);
        skip();
    }
    s = mk("https://127.0.0.1:%d/redir/chain", n.tls_port);
    snprintf(s.cafile, sizeof s.cafile, "%s", n.cafile);
    run3(&s, o);
    expect3(&s, o, 200, "The quick brown fox", NULL);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(o[i].http_version, 20);
        assert_int_equal(o[i].redirects, 2);
    }
    if (!strstr(o[1].final_url, "/text"))
        fail_msg("final_url %s", o[1].final_url);
    /* each engine asked once per hop; the native run and the AUTO run
       each kept their three streams on one connection: three runs, at
       most three connections (curl's included) */
    assert_int_equal(log_count(dir, "/redir/chain", &conns), 3);
    assert_int_equal(log_count(dir, "/text", &conns), 3);
    assert_true(conns <= 3);
    /* 303 to /echo (a POST becomes a GET), 307 keeps it, over h2 */
    s = mk("https://127.0.0.1:%d/redir/see-other", n.tls_port);
    snprintf(s.cafile, sizeof s.cafile, "%s", n.cafile);
    strcpy(s.body, "a=1");
    run3(&s, o);
    expect3(&s, o, 200, "GET", "a=1");
    s = mk("https://127.0.0.1:%d/redir/keep", n.tls_port);
    snprintf(s.cafile, sizeof s.cafile, "%s", n.cafile);
    strcpy(s.body, "a=1");
    run3(&s, o);
    expect3(&s, o, 200, "POST", NULL);
    assert_non_null(strstr(o[1].body, "a=1"));
    tu_nginx_stop(&n);
    tu_rm_rf(dir);
    free(dir);
}

/* In a worker: /redirect/3 twice in a row on the native engine. */
static int reuse_task(mp_task *t, const void *in, size_t len)
{
    const seen_req *s = in;

    for (int i = 0; i < 2; i++) {
        mp_http_request q;
        mp_http_response r;
        memset(&q, 0, sizeof q);
        q.url = s->url;
        q.follow_redirects = 1;
        int rc = mp_http(t, &q, &r);
        int bad = rc != 0 || r.status != 200 || r.redirects != 3 ||
                  r.engine != MP_HTTP_NATIVE;
        mp_http_response_clear(&r);
        if (bad)
            return mp_fail(t, MP_ETASK, "run %d: %s", i, mp_err_name(rc));
    }
    return mp_return(t, "", 0);
}

/* HTTP/1.1 hops to one host share the pool's connection: 8 requests
   (two chains of 4) on one connection. */
static void test_h1_reuse(void **state)
{
    seen_req s = mk("%s/redirect/3", g_ts2.base);
    mp_pool_options opt = {.workers = 1, .concurrency = 1};
    mp_pool *p = NULL;
    mp_result r;
    long c0, c1, q0, q1;

    assert_int_equal(mp_pool_create(&p, &opt), 0);
    assert_int_equal(tu_ts_get_stats(&g_ts2, &c0, &q0), 0);
    assert_int_equal(mp_pool_apply(p, reuse_task, &s, sizeof s, &r), 0);
    if (r.status != 0)
        fail_msg("%s", r.error ? r.error : mp_err_name(r.status));
    mp_result_clear(&r);
    assert_int_equal(tu_ts_get_stats(&g_ts2, &c1, &q1), 0);
    assert_int_equal(q1 - q0, 8);
    assert_int_equal(c1 - c0, 1);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* A redirect's body is read and dropped: not in body_path, not counted
   against max_body; the final body is. */
static void test_redirect_body(void **state)
{
    char *dir = tu_tmpdir();
    seen_req s;
    seen o[3];

    assert_non_null(dir);
    s = mk("%s/to/302?loc=%%2Fbytes%%2F20&body=%s", g_ts.base,
           "a-redirect-body-longer-than-max-body");
    s.max_body = 20;
    snprintf(s.body_path, sizeof s.body_path, "%s/out", dir);
    run3(&s, o);
    expect3(&s, o, 200, NULL, NULL);
    {
        char buf[64] = {0};
        FILE *f = fopen(s.body_path, "r");
        assert_non_null(f);
        size_t got = fread(buf, 1, sizeof buf, f);
        fclose(f);
        assert_int_equal(got, 20); /* the last engine's: the final body */
        assert_null(strstr(buf, "redirect"));
    }
    s = mk("%s/to/302?loc=%%2Fbytes%%2F30", g_ts.base);
    s.max_body = 20; /* the final body is over it */
    run3(&s, o);
    expect3(&s, o, MP_EFBIG, NULL, NULL);
    s = mk("%s/to/302?loc=%%2Fdelay%%2F3000", g_ts.base);
    s.timeout_ms = 300; /* the whole chain's */
    run3(&s, o);
    expect3(&s, o, MP_ETIMEDOUT, NULL, NULL);
    tu_rm_rf(dir);
    free(dir);
}

/* httpbin's redirect, auth and method endpoints (Debian's
   python3-httpbin): each engine and AUTO give one record, the bodies
   (httpbin's echo of the request) the same. */
static void test_httpbin(void **state)
{
    static const struct {
        const char *path, *method, *body, *header;
        int want;
        unsigned max;
    } t[] = {
        {"/redirect/3", NULL, NULL, NULL, 200, 0},
        {"/relative-redirect/3", NULL, NULL, NULL, 200, 0},
        {"/absolute-redirect/3", NULL, NULL, NULL, 200, 0},
        {"/redirect/11", NULL, NULL, NULL, MP_EREDIRECT, 0},
        {"/redirect/4", NULL, NULL, NULL, MP_EREDIRECT, 3},
        {"/redirect-to?url=/get", NULL, NULL, NULL, 200, 0},
        {"/redirect-to?url=/anything&status_code=307", "POST", "a=1", NULL,
         200, 0},
        {"/redirect-to?url=/anything&status_code=308", "PUT", "a=1", NULL,
         200, 0},
        {"/redirect-to?url=/anything&status_code=301", "POST", "a=1", NULL,
         200, 0},
        {"/redirect-to?url=/anything&status_code=303", "PUT", "a=1", NULL,
         200, 0},
        {"/redirect-to?url=/anything&status_code=302", "DELETE", NULL, NULL,
         200, 0},
        {"/redirect-to?url=%2Fheaders", NULL, NULL, "Authorization: Basic dTpw",
         200, 0},
        {"/redirect-to?url=ftp%3A%2F%2Fexample.com%2F", NULL, NULL, NULL,
         MP_EURL, 0},
        {"/status/302", NULL, NULL, NULL, 200, 0},
        {"/basic-auth/u/p", NULL, NULL, "Authorization: Basic dTpw", 200, 0},
        {"/basic-auth/u/p", NULL, NULL, NULL, 401, 0},
        {"/anything", "PATCH", "z", NULL, 200, 0},
        {"/redirect/2", "HEAD", NULL, NULL, 200, 0},
    };
    int port = 0;
    pid_t pid = tu_httpbin_start(&port);

    if (pid < 0)
        skip();
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        seen_req s = mk("http://127.0.0.1:%d%s", port, t[i].path);
        seen o[3];
        snprintf(s.method, sizeof s.method, "%s", t[i].method ? t[i].method
                                                              : "");
        snprintf(s.body, sizeof s.body, "%s", t[i].body ? t[i].body : "");
        snprintf(s.header[0], sizeof s.header[0], "%s",
                 t[i].header ? t[i].header : "");
        s.max_redirects = t[i].max;
        run3(&s, o);
        expect3(&s, o, t[i].want, NULL, NULL);
        if (strcmp(o[0].body, o[1].body) != 0)
            fail_msg("%s: bodies differ:\ncurl:   %s\nnative: %s", s.url,
                     o[0].body, o[1].body);
    }
    /* httpbin's encoding endpoints with compressed (issue #20): each
       engine decodes, and httpbin's echo of the request (Accept-Encoding
       included) is the same; a redirect to one is followed and decoded */
    static const struct {
        const char *path, *has;
    } enc[] = {{"/gzip", "\"gzipped\":true"},
               {"/deflate", "\"deflated\":true"},
               {"/brotli", "\"brotli\":true"},
               {"/redirect-to?url=%2Fgzip", "\"gzipped\":true"}};
    for (size_t i = 0; i < sizeof enc / sizeof enc[0]; i++) {
        seen_req e = mk("http://127.0.0.1:%d%s", port, enc[i].path);
        seen eo[3];
        e.compressed = 1;
        run3(&e, eo);
        expect3(&e, eo, 200, enc[i].has, NULL);
        if (strcmp(eo[0].body, eo[1].body) != 0)
            fail_msg("%s: bodies differ:\ncurl:   %s\nnative: %s", e.url,
                     eo[0].body, eo[1].body);
    }
    /* to another host: Authorization and Cookie not sent there */
    seen_req s = mk("http://127.0.0.1:%d/redirect-to?url=http%%3A%%2F%%2F"
                    "localhost%%3A%d%%2Fheaders",
                    port, port);
    seen o[3];
    strcpy(s.header[0], "Authorization: Basic dTpw");
    strcpy(s.header[1], "Cookie: a=b");
    run3(&s, o);
    expect3(&s, o, 200, "localhost:", "Authorization");
    assert_null(strstr(o[1].body, "Cookie"));
    tu_httpbin_stop(pid);
}

static int setup(void **state)
{
    signal(SIGPIPE, SIG_IGN);
    if (tu_ts_start(&g_ts2, NULL) != 0)
        return -1;
    return tu_ts_start(&g_ts, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    tu_ts_stop(&g_ts);
    tu_ts_stop(&g_ts2);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_BOUNDED(test_methods, 120),
        TU_BOUNDED(test_limits_and_schemes, 60),
        TU_BOUNDED(test_credentials, 60),
        TU_BOUNDED(test_downgrade, 60),
        TU_BOUNDED(test_h2_hops, 60),
        TU_BOUNDED(test_h1_reuse, 60),
        TU_BOUNDED(test_redirect_body, 60),
        TU_BOUNDED(test_httpbin, 120),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
