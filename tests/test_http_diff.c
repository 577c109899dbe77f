/*
 * test_http_diff: the same mixed request set through both HTTP engines
 * (libcurl and the native one), compared field by field. Each task runs
 * its request with MP_HTTP_CURL and then MP_HTTP_NATIVE in the same worker
 * and returns both summaries; timings and messages aside, everything must
 * match: code, status, version, redirects, byte counts, final URL, body,
 * and the response head (without its Date line). /echo returns the
 * request as the server saw it, so the requests are compared too. Host
 * names resolve through mp-testdns (mp_http_set_dns_servers) on both.
 *
 * The set runs twice: plain http://, and https:// through nginx's stream
 * module ending TLS in front of the same test server (no ALPN there, so
 * both engines speak HTTP/1.1 over TLS and the bytes are the server's).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mpool.h"
#include "testutil.h"

/* One request of the set. */
typedef struct dspec {
    char url[160];
    char method[12];
    char header[64];
    char body[64];
    char cafile[600];
    unsigned timeout_ms;
    size_t max_body;
    int want_headers, no_body;
} dspec;

/* What one engine gave. */
typedef struct dseen {
    int rc, error;
    long status, http_version;
    unsigned redirects;
    uint64_t body_len, bytes_down;
    int body_null;
    char final_url[160];
    char headers[512];
    char body[1024];
    char message[200];
} dseen;

static tu_ts g_ts, g_dns; /* the HTTP server, mp-testdns */
static const char *g_base;   /* the set's base URL: http or https */
static const char *g_cafile; /* with https */

/* Copies r into o; drops the Date line of the head (it moves). */
static void summarize(int rc, const mp_http_response *r, dseen *o)
{
    memset(o, 0, sizeof *o);
    o->rc = rc;
    o->error = r->error;
    o->status = r->status;
    o->http_version = r->http_version;
    o->redirects = r->redirects;
    o->body_len = r->body_len;
    o->bytes_down = r->bytes_down;
    o->body_null = r->body == NULL;
    if (r->final_url)
        snprintf(o->final_url, sizeof o->final_url, "%s", r->final_url);
    if (r->message)
        snprintf(o->message, sizeof o->message, "%s", r->message);
    if (r->body)
        memcpy(o->body, r->body,
               r->body_len < sizeof o->body - 1 ? r->body_len
                                                : sizeof o->body - 1);
    for (const char *p = r->headers; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p + 1) : strlen(p);
        size_t have = strlen(o->headers);
        if (strncasecmp(p, "Date:", 5) != 0 &&
            have + n < sizeof o->headers)
            memcpy(o->headers + have, p, n);
        p += n;
    }
}

/* The task: the spec through curl, then through the native engine. */
static int diff_task(mp_task *t, const void *in, size_t len)
{
    const dspec *s = in;
    const char *hdr[1] = {s->header};
    mp_http_request q;
    mp_http_response r;
    dseen out[2];

    (void)len;
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
    q.timeout_ms = s->timeout_ms;
    q.max_body = s->max_body;
    q.want_headers = s->want_headers;
    q.no_body = s->no_body;
    q.cafile = s->cafile[0] ? s->cafile : NULL;
    for (int i = 0; i < 2; i++) {
        q.engine = i == 0 ? MP_HTTP_CURL : MP_HTTP_NATIVE;
        int rc = mp_http(t, &q, &r);
        summarize(rc, &r, &out[i]);
        mp_http_response_clear(&r);
    }
    return mp_return(t, out, sizeof out);
}

/* Returns a spec for the test server's path. */
static dspec mk(const char *path)
{
    dspec s;

    memset(&s, 0, sizeof s);
    snprintf(s.url, sizeof s.url, "%s%s", g_base ? g_base : g_ts.base, path);
    if (g_cafile)
        snprintf(s.cafile, sizeof s.cafile, "%s", g_cafile);
    s.want_headers = 1;
    return s;
}

/* Asserts the two engines agree on everything but times and messages. */
static void compare(const dspec *s, const dseen *c, const dseen *n)
{
#define SAME(f, fmt)                                                        \
    if (c->f != n->f)                                                       \
        fail_msg("%s %s: " #f " curl " fmt " native " fmt " (%s | %s)",     \
                 s->method, s->url, c->f, n->f, c->message, n->message)
    SAME(rc, "%d");
    SAME(error, "%d");
    SAME(status, "%ld");
    SAME(http_version, "%ld");
    SAME(redirects, "%u");
    SAME(body_len, "%" PRIu64);
    SAME(bytes_down, "%" PRIu64);
    SAME(body_null, "%d");
#undef SAME
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

/* A spec for url (printf-style). */
static dspec mkf(const char *fmt, ...) MP_PRINTF(1, 2);
static dspec mkf(const char *fmt, ...)
{
    dspec s = mk("");
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(s.url, sizeof s.url, fmt, ap);
    va_end(ap);
    return s;
}

/* The pool's init: mp-testdns answers the names (both engines ask it). */
static int init_dns(const void *arg, size_t len)
{
    (void)len;
    return mp_http_set_dns_servers(arg) == 0 ? 0 : -1;
}

/* Runs the set through both engines three times and compares (over plain
   http, host names too). */
static void same_records(void)
{
    enum { N = 25 };
    dspec s[N];
    int k = 0;
    char refused[80];

    s[k++] = mk("/ok");
    s[k++] = mk("");
    s[k++] = mk("/bytes/1000");
    s[k++] = mk("/bytes/300000");
    s[k++] = mk("/status/404");
    s[k++] = mk("/status/503?retry_after=2");
    s[k++] = mk("/status/204");
    s[k++] = mk("/redirect/2"); /* not followed: the 302 itself */
    s[k++] = mk("/chunked/5000");
    s[k++] = mk("/gzip"); /* not decoded: the bytes as sent */
    s[k] = mk("/echo");
    strcpy(s[k].method, "POST");
    strcpy(s[k++].body, "a=1&b=two");
    s[k] = mk("/echo");
    strcpy(s[k].method, "PUT");
    strcpy(s[k].header, "X-Test: yes");
    strcpy(s[k++].body, "put body");
    s[k] = mk("/echo");
    strcpy(s[k++].method, "DELETE");
    s[k] = mk("/echo");
    strcpy(s[k++].method, "POST"); /* POST without a body */
    s[k] = mk("/bytes/100");
    strcpy(s[k++].method, "HEAD");
    s[k] = mk("/bytes/5000");
    s[k++].max_body = 1000; /* MP_EFBIG */
    s[k] = mk("/chunked/5000");
    s[k++].no_body = 1;
    s[k++] = mk("/drop"); /* announces 1000, sends 500, closes */
    s[k] = mk("/delay/3000");
    s[k++].timeout_ms = 200; /* MP_ETIMEDOUT */
    snprintf(refused, sizeof refused, "%s://127.0.0.1:%d/x",
             g_cafile ? "https" : "http", tu_free_port());
    s[k] = mk("");
    snprintf(s[k++].url, sizeof s[0].url, "%s", refused);
    if (!g_cafile) { /* host names: mp-testdns (*.test), localhost, NX */
        s[k++] = mkf("http://www.test:%d/ok", g_ts.port);
        s[k] = mkf("http://www.test:%d/echo", g_ts.port);
        strcpy(s[k].method, "POST");
        strcpy(s[k++].body, "name=1");
        s[k++] = mkf("http://localhost:%d/chunked/5000", g_ts.port);
        s[k++] = mkf("http://nx.example:%d/ok", g_ts.port);
        s[k++] = mkf("http://www.test%s", strrchr(refused, ':'));
    }
    const int n = k;
    assert_int_equal(n, g_cafile ? 20 : N);

    /* expected status or code, so that agreeing on nonsense fails too */
    static const int want[N] = {200, 200, 200, 200, 404, 503, 204, 302,
                                200, 200, 200, 200, 200, 200, 200,
                                MP_EFBIG, 200, MP_ECONNRESET, MP_ETIMEDOUT,
                                MP_ECONNREFUSED, 200, 200, 200, MP_EDNS,
                                MP_ECONNREFUSED};
    char servers[64];
    mp_pool_options o = {.workers = 2, .concurrency = 8, .init = init_dns,
                         .init_arg = servers};
    mp_pool *p = NULL;
    mp_buf in[N];
    mp_result out[N];
    snprintf(servers, sizeof servers, "127.0.0.1:%d", g_dns.port);
    o.init_len = strlen(servers) + 1;
    assert_int_equal(mp_pool_create(&p, &o), 0);
    for (int i = 0; i < n; i++)
        in[i] = (mp_buf){&s[i], sizeof s[i]};
    for (int round = 0; round < 3; round++) { /* fresh, then kept alive */
        assert_int_equal(mp_pool_map(p, diff_task, in, (size_t)n, out), 0);
        for (int i = 0; i < n; i++) {
            dseen d[2];
            if (out[i].status != 0)
                fail_msg("%s: task failed: %s", s[i].url,
                         mp_err_name(out[i].status));
            assert_int_equal(out[i].len, sizeof d);
            memcpy(d, out[i].data, sizeof d);
            compare(&s[i], &d[0], &d[1]);
            if (i < (int)(sizeof want / sizeof want[0]) && want[i] &&
                (d[1].error ? d[1].error : d[1].status) != want[i])
                fail_msg("%s: %d, not %d", s[i].url,
                         d[1].error ? d[1].error : (int)d[1].status,
                         want[i]);
            mp_result_clear(&out[i]);
        }
    }
    mp_pool_destroy(p);
}

static void test_same_records(void **state)
{
    g_base = NULL;
    g_cafile = NULL;
    same_records();
}

/* The same set over TLS (HTTP/1.1: no ALPN behind the stream module). */
static void test_same_records_tls(void **state)
{
    char *dir = tu_tmpdir(), opts[64], base[64];
    tu_nginx n;

    assert_non_null(dir);
    snprintf(opts, sizeof opts, "--tls-upstream %d", g_ts.port);
    if (tu_nginx_start_opts(&n, dir, opts) != 0 || n.tlsup_port <= 0) {
        tu_nginx_stop(&n);
        tu_rm_rf(dir);
        free(dir);
        skip();
    }
    snprintf(base, sizeof base, "https://127.0.0.1:%d", n.tlsup_port);
    g_base = base;
    g_cafile = n.cafile;
    same_records();
    g_base = g_cafile = NULL;
    tu_nginx_stop(&n);
    tu_rm_rf(dir);
    free(dir);
}

/* In a worker: requests the native engine cannot run are refused with
   MP_EINVAL when it is asked for by name, and run by curl under AUTO. */
static int refuse_task(mp_task *t, const void *in, size_t len)
{
    const dspec *s = in;
    const char *host[1] = {"Host: example.test"};
    mp_http_request q;
    mp_http_response r;
    int rc;

    (void)len;
    for (int c = 0; c < 5; c++) {
        char url[200];
        memset(&q, 0, sizeof q);
        snprintf(url, sizeof url, "%s", s->url);
        q.url = url;
        if (c == 0)
            q.follow_redirects = 1;
        else if (c == 1)
            q.compressed = 1;
        else if (c == 2) { /* a name in upper case: curl's to print */
            char *colon = strrchr(s->url, ':');
            snprintf(url, sizeof url, "http://LOCALHOST%s", colon);
        } else if (c == 3) {
            q.headers = host;
            q.n_headers = 1;
        } else {
            snprintf(url, sizeof url, "http://127.0.0.01%s",
                     strrchr(s->url, ':'));
        }
        q.engine = MP_HTTP_NATIVE;
        rc = mp_http(t, &q, &r);
        if (rc != MP_EINVAL || !r.message ||
            !strstr(r.message, "native engine cannot"))
            return mp_fail(t, MP_ETASK, "case %d: native gave %s (%s)", c,
                           mp_err_name(rc), r.message ? r.message : "");
        mp_http_response_clear(&r);
        q.engine = MP_HTTP_AUTO;
        rc = mp_http(t, &q, &r);
        if (c != 2 && c != 4 && (rc != 0 || r.status != (c ? 302 : 200)))
            return mp_fail(t, MP_ETASK, "case %d: auto gave %s %ld (%s)", c,
                           mp_err_name(rc), r.status,
                           r.message ? r.message : "");
        if (c == 0 && r.redirects != 1)
            return mp_fail(t, MP_ETASK, "auto did not follow");
        mp_http_response_clear(&r);
    }
    return mp_return(t, "", 0);
}

/* What the native engine does not do, it refuses when asked by name; AUTO
   then takes curl. */
static void test_native_refuses(void **state)
{
    dspec s = mk("/redirect/1");
    mp_pool_options o = {.workers = 1, .concurrency = 2};
    mp_pool *p = NULL;
    mp_result r;

    assert_int_equal(mp_pool_create(&p, &o), 0);
    assert_int_equal(mp_pool_apply(p, refuse_task, &s, sizeof s, &r), 0);
    if (r.status != 0)
        fail_msg("%s", r.error ? r.error : mp_err_name(r.status));
    mp_result_clear(&r);
    mp_pool_destroy(p);
}

static int setup(void **state)
{
    signal(SIGPIPE, SIG_IGN);
    if (tu_dns_start(&g_dns, NULL) != 0)
        return -1;
    return tu_ts_start(&g_ts, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    tu_ts_stop(&g_ts);
    tu_ts_stop(&g_dns);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_BOUNDED(test_same_records, 90),
        TU_BOUNDED(test_same_records_tls, 90),
        TU_BOUNDED(test_native_refuses, 90),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
