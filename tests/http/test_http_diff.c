/*
 * test_http_diff: one case set through both HTTP engines (libcurl and the
 * native one), compared field by field. Each task runs its case with
 * MP_HTTP_CURL and then MP_HTTP_NATIVE in the same worker (and, for a
 * case with a follow-up, that second request right after on the same
 * engine) and returns what each gave; times and messages aside,
 * everything must match: code, status, version, redirects, byte counts,
 * final URL, body, and the response head (without its Date line). These
 * are every field of mpfetch's record (workers/fetch.c writes it from
 * them), times and the message's words aside. /echo returns the request
 * as the server saw it, so the requests are compared too. Host names
 * resolve through mp-testdns (mp_http_set_dns_servers) on both.
 *
 * The cases are the table `cases` below, one line each: where the URL
 * points (the set's server, mp-badserver, Debian's python3-httpbin, a
 * host name), what to send, and
 * what the native engine must give (a status, or an MP_E* code), so that
 * agreeing on nonsense fails too. The set's server runs twice: plain
 * http://, and https:// through nginx's stream module ending TLS in front
 * of the same test server (no ALPN there, so both engines speak HTTP/1.1
 * over TLS and the bytes are the server's).
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

/* Where a case's URL points. */
enum {
    AT_SET,     /* the set's server: path after its base (http, https) */
    AT_NAME,    /* "host/path": http://host:PORT/path, PORT the test
                   server's (host names through mp-testdns); plain only */
    AT_REFUSED, /* a free port of 127.0.0.1, http or https (the path: a
                   name instead, plain only) */
    AT_BAD,     /* mp-badserver (tools/badserver): path after its base;
                   plain only */
    AT_BIN,     /* Debian's python3-httpbin, a server nobody here wrote:
                   path after its base; plain only (skipped without it) */
};

/* One case of the set. want: the native engine's status, or its MP_E*
   code (0: not checked). then: a path on the same server asked right
   after with GET on the same engine (a connection the case left behind
   must not harm it); it must give 200. */
typedef struct dcase {
    const char *path;
    int want;
    int at;
    const char *method, *header, *body, *then;
    unsigned timeout_ms;
    size_t max_body;
    int no_body;
    int follow; /* follow_redirects, at most max_redirects (0: 10) */
    unsigned max_redirects;
    int compressed; /* --compressed (issue #20) */
    int px;         /* through a proxy: PX_* */
    int set;        /* 0: both sets, 1: plain http:// only, 2: https only */
} dcase;

/* dcase.px: mp-testserver --proxy answers an absolute-form request with
   203 "proxied GET URL" itself; the one with --proxy-auth u:p wants the
   credentials (407 without them); or a refused port. */
enum { PX_NONE, PX_PLAIN, PX_AUTH, PX_NOAUTH, PX_REFUSED };

#define CASE(p, w, ...) {.path = (p), .want = (w), __VA_ARGS__}

/* The set. Add a case: one line. */
static const dcase cases[] = {
    CASE("/ok", 200),
    CASE("", 200),
    CASE("/bytes/1000", 200),
    CASE("/bytes/300000", 200),
    CASE("/status/404", 404),
    CASE("/status/503?retry_after=2", 503),
    CASE("/status/204", 204),
    CASE("/redirect/2", 302), /* not followed: the 302 itself */
    CASE("/chunked/5000", 200),
    CASE("/gzip", 200), /* not decoded: the bytes as sent */
    CASE("/cookies", 200), /* repeated fields, each line as sent */
    CASE("/echo", 200, .method = "POST", .body = "a=1&b=two"),
    CASE("/echo", 200, .method = "PUT", .header = "X-Test: yes",
         .body = "put body"),
    CASE("/echo", 200, .method = "DELETE"),
    CASE("/echo", 200, .method = "POST"), /* POST without a body */
    CASE("/bytes/100", 200, .method = "HEAD"),
    CASE("/bytes/5000", MP_EFBIG, .max_body = 1000),
    CASE("/chunked/5000", 200, .no_body = 1),
    CASE("/drop", MP_ECONNRESET), /* announces 1000, sends 500, closes */
    CASE("/delay/3000", MP_ETIMEDOUT, .timeout_ms = 200),
    CASE("", MP_ECONNREFUSED, .at = AT_REFUSED),
    CASE("www.test/ok", 200, .at = AT_NAME),
    CASE("www.test/echo", 200, .at = AT_NAME, .method = "POST",
         .body = "name=1"),
    CASE("localhost/chunked/5000", 200, .at = AT_NAME),
    CASE("nx.example/ok", MP_EDNS, .at = AT_NAME),
    CASE("www.test", MP_ECONNREFUSED, .at = AT_REFUSED),
    /* A refused head is no response: status 0, no version, no head. */
    CASE("/headers/1001", MP_EPROTO, .at = AT_BAD),
    CASE("/header-bytes/270000", MP_EPROTO, .at = AT_BAD),
    CASE("/cl-and-te", MP_EPROTO, .at = AT_BAD),
    CASE("/status/999", MP_EPROTO, .at = AT_BAD),
    /* A HEAD answered with a body anyway: the connection is not kept. */
    CASE("/ka/head-body-late", 200, .at = AT_BAD, .method = "HEAD",
         .then = "/ka/ok"),
    /* Redirects followed (-L): the native engine's hops against curl's
       (tests/http/test_http_redirect.c asserts what the server saw). */
    CASE("/redirect/3", 200, .follow = 1, .then = "/ok"),
    CASE("/redirect/3", 200, .follow = 1, .max_redirects = 3),
    CASE("/redirect/5", MP_EREDIRECT, .follow = 1, .max_redirects = 3),
    CASE("/redirect-loop", MP_EREDIRECT, .follow = 1),
    CASE("/to/301?loc=%2Fecho", 200, .follow = 1, .method = "POST",
         .body = "a=1"),
    CASE("/to/302?loc=%2Fecho", 200, .follow = 1, .method = "POST"),
    CASE("/to/303?loc=%2Fecho", 200, .follow = 1, .method = "PUT",
         .body = "p=2"),
    CASE("/to/307?loc=%2Fecho", 200, .follow = 1, .method = "POST",
         .body = "a=1", .header = "X-Test: yes"),
    CASE("/to/308?loc=%2Fecho", 200, .follow = 1, .method = "PUT",
         .body = "p=2"),
    CASE("/to/301?loc=%2Fecho", 200, .follow = 1, .method = "PUT",
         .body = "p=2"),
    CASE("/to/303?loc=%2Fecho", 200, .follow = 1, .method = "DELETE"),
    CASE("/to/303?loc=%2Fbytes%2F10", 200, .follow = 1, .method = "HEAD"),
    CASE("/to/304?loc=%2Fecho", 200, .follow = 1),
    CASE("/to/302?loc=", 302, .follow = 1), /* empty: not followed */
    CASE("/to/302?loc=ftp%3A%2F%2Fx.test%2Fy", MP_EURL, .follow = 1),
    CASE("/to/302?loc=javascript%3Ax", MP_EURL, .follow = 1),
    CASE("/to/301?loc=.%2F..%2Fecho%3Fa%3Db", 200, .follow = 1),
    CASE("/to/302?loc=..%2Fa%2F..%2F..%2Fecho%3Fz", 200, .follow = 1),
    CASE("/to/302?loc=%2Fa%20b%3Fc%20d", 404, .follow = 1),
    CASE("/to/302?loc=%2Fecho%23frag", 200, .follow = 1), /* curl's hop */
    CASE("/to/302?loc=%2Fecho", 200, .follow = 1,
         .header = "Authorization: Bearer s"),
    CASE("/to/302?loc=%2Fto%2F302%3Floc%3D%252Fecho", 200, .follow = 1,
         .header = "Cookie: c=1"),
    CASE("/to/302?loc=%2Fdrop", MP_ECONNRESET, .follow = 1),
    CASE("/to/302?loc=%2Fbytes%2F5000", MP_EFBIG, .follow = 1,
         .max_body = 1000),
    /* the timeout ends the second hop; the first must end before it on
       each engine even on a loaded machine (200 ms did not always) */
    CASE("/to/302?loc=%2Fdelay%2F3000", MP_ETIMEDOUT, .follow = 1,
         .timeout_ms = 1500),
    /* Coded bodies (README, "One record"): each coding, stacked,
       identity, unknown, not decoded without compressed, HEAD, the
       request (/echo), a bomb over max_body (8 KiB: read whole by both). */
    CASE("/encode/gzip", 200, .compressed = 1),
    CASE("/encode/deflate", 200, .compressed = 1),
    CASE("/encode/deflate-raw", 200, .compressed = 1),
    CASE("/encode/br", 200, .compressed = 1),
    CASE("/encode/zstd", 200, .compressed = 1),
    CASE("/encode/gzip,br", 200, .compressed = 1),
    CASE("/encode/zstd,identity,deflate", 200, .compressed = 1),
    CASE("/encode/compress", MP_EPROTO, .compressed = 1),
    CASE("/encode/gzip", 200),
    CASE("/encode/gzip", 200, .compressed = 1, .method = "HEAD"),
    CASE("/echo", 200, .compressed = 1),
    CASE("/gzip-bomb/8", MP_EFBIG, .compressed = 1, .max_body = 1 << 20),
    /* Transfer-Encoding codings go with or without compressed. */
    CASE("/coded/te-gzip-chunked", 200, .at = AT_BAD),
    CASE("/coded/te-gzip-chunked", 200, .at = AT_BAD, .compressed = 1),
    CASE("/coded/te-gzip", 200, .at = AT_BAD),
    CASE("/coded/gzip-trailing", MP_EPROTO, .at = AT_BAD, .compressed = 1),
    CASE("/coded/gzip-trailing", 200, .at = AT_BAD),
    CASE("/coded/too-many", MP_EPROTO, .at = AT_BAD, .compressed = 1),
    /* httpbin (python3-httpbin): methods, statuses, auth, codings,
       repeated headers, streams, ranges, redirects */
    CASE("/get", 200, .at = AT_BIN),
    CASE("/get", 200, .at = AT_BIN, .method = "HEAD"),
    CASE("/anything", 200, .at = AT_BIN, .method = "POST", .body = "a=1"),
    CASE("/anything", 200, .at = AT_BIN, .method = "PUT", .body = "p"),
    CASE("/anything", 200, .at = AT_BIN, .method = "PATCH", .body = "z"),
    CASE("/anything", 200, .at = AT_BIN, .method = "DELETE"),
    CASE("/status/418", 418, .at = AT_BIN),
    CASE("/status/204", 204, .at = AT_BIN),
    CASE("/status/500", 500, .at = AT_BIN, .method = "POST", .body = "x"),
    CASE("/basic-auth/u/p", 200, .at = AT_BIN,
         .header = "Authorization: Basic dTpw"),
    CASE("/basic-auth/u/p", 401, .at = AT_BIN),
    CASE("/hidden-basic-auth/u/p", 404, .at = AT_BIN),
    CASE("/bearer", 200, .at = AT_BIN, .header = "Authorization: Bearer t0k"),
    CASE("/bearer", 401, .at = AT_BIN),
    CASE("/gzip", 200, .at = AT_BIN, .compressed = 1),
    CASE("/deflate", 200, .at = AT_BIN, .compressed = 1),
    CASE("/brotli", 200, .at = AT_BIN, .compressed = 1),
    CASE("/gzip", 200, .at = AT_BIN), /* the bytes as sent */
    CASE("/response-headers?Set-Cookie=a%3D1&Set-Cookie=b%3D2&X-R=1&X-R=2",
         200, .at = AT_BIN),
    CASE("/cookies/set?c=1", 302, .at = AT_BIN),
    CASE("/cookies/set?c=1", 200, .at = AT_BIN, .follow = 1),
    CASE("/stream/5", 200, .at = AT_BIN), /* chunked */
    /* (not /bytes?seed=: httpbin seeds one random state for all threads) */
    CASE("/range/3000?chunk_size=100", 200, .at = AT_BIN),
    CASE("/range/100", 206, .at = AT_BIN, .header = "Range: bytes=10-19"),
    CASE("/redirect/3", 200, .at = AT_BIN, .follow = 1),
    CASE("/relative-redirect/2", 200, .at = AT_BIN, .follow = 1),
    CASE("/redirect/3", MP_EREDIRECT, .at = AT_BIN, .follow = 1,
         .max_redirects = 2),
    CASE("/encoding/utf8", 200, .at = AT_BIN),
    /* Through an HTTP proxy (-x): the absolute form, credentials. */
    CASE("/ok", 203, .px = PX_PLAIN, .set = 1),
    CASE("", 203, .px = PX_PLAIN, .set = 1),
    CASE("/bytes/10?q=1", 203, .px = PX_AUTH, .set = 1),
    CASE("www.test/ok", 203, .at = AT_NAME, .px = PX_PLAIN, .set = 1),
    CASE("/ok", 407, .px = PX_NOAUTH, .set = 1),
    CASE("/ok", MP_ECONNREFUSED, .px = PX_REFUSED, .set = 1),
    CASE("/ok", 203, .px = PX_PLAIN, .method = "HEAD", .set = 1),
    /* https:// through its CONNECT tunnel: TLS and HTTP through it; the
       proxy's 407, its 502 for a refused target, a refused proxy. */
    CASE("/ok", 200, .px = PX_PLAIN, .set = 2, .then = "/ok"),
    CASE("/echo", 200, .px = PX_AUTH, .set = 2, .method = "POST",
         .body = "a=1"),
    CASE("/bytes/300000", 200, .px = PX_PLAIN, .set = 2),
    CASE("/ok", MP_EPROXY, .px = PX_NOAUTH, .set = 2),
    CASE("", MP_EPROXY, .at = AT_REFUSED, .px = PX_PLAIN, .set = 2),
    CASE("/ok", MP_ECONNREFUSED, .px = PX_REFUSED, .set = 2),
};

#define N_CASES (sizeof cases / sizeof cases[0])

/* One case as a task gets it (flat: copied into the worker): its
   request, and the URL of its then (dcase.then). */
typedef struct dspec {
    seen_req r;
    char then[160];
} dspec;

/* A task's answer: per engine (curl, native), the case and its then. */
typedef struct dout {
    seen e[2][2];
} dout;

static tu_ts g_ts, g_dns, g_bad; /* test server, mp-testdns, mp-badserver */
static int g_bin_port;            /* httpbin's, 0 while it is not running */
static tu_ts g_px, g_pxa;         /* mp-testserver --proxy (--proxy-auth) */
static const char *g_base;   /* the set's base URL: http or https */
static const char *g_cafile; /* with https */

/* The task: the spec (and its then) through curl, then through the
   native engine. */
static int diff_task(mp_task *t, const void *in, size_t len)
{
    const dspec *s = in;
    seen_req q = s->r, then;
    dout out;

    (void)len;
    memset(&out, 0, sizeof out);
    memset(&then, 0, sizeof then);
    snprintf(then.url, sizeof then.url, "%s", s->then);
    then.want_headers = 1;
    snprintf(then.cafile, sizeof then.cafile, "%s", q.cafile);
    snprintf(then.proxy, sizeof then.proxy, "%s", q.proxy);
    then.proxy_set = q.proxy_set; /* a tunnel left idle: taken again */
    for (int i = 0; i < 2; i++) {
        q.engine = then.engine = i == 0 ? MP_HTTP_CURL : MP_HTTP_NATIVE;
        seen_http(t, &q, &out.e[i][0]);
        if (!s->then[0])
            continue;
        seen_http(t, &then, &out.e[i][1]);
    }
    return mp_return(t, &out, sizeof out);
}

/* Returns the base URL of case c's server, "" if it is not run in this
   set (plain-only cases over TLS). */
static const char *base_of(const dcase *c, char *buf, size_t len)
{
    if (c->at == AT_SET)
        return g_base ? g_base : g_ts.base;
    if (g_cafile && (c->at != AT_REFUSED || c->path[0]))
        return "";
    if (c->at == AT_BAD || c->at == AT_BIN) {
        if (c->at == AT_BIN && !g_bin_port)
            return "";
        snprintf(buf, len, "http://127.0.0.1:%d",
                 c->at == AT_BAD ? g_bad.port : g_bin_port);
        return buf;
    }
    return "-"; /* AT_NAME, AT_REFUSED: the URL is made whole */
}

/* Fills s from case c. Returns 0, or -1 if c is not in this set. */
static int spec_of(const dcase *c, dspec *s)
{
    char buf[64];
    const char *base = base_of(c, buf, sizeof buf);
    const char *slash = strchr(c->path, '/');
    int port = g_ts.port;

    memset(s, 0, sizeof *s);
    if (!*base || (c->set == 1 && g_cafile) || (c->set == 2 && !g_cafile))
        return -1;
    s->r.proxy_set = c->px != PX_NONE;
    if (c->px == PX_PLAIN)
        snprintf(s->r.proxy, sizeof s->r.proxy, "127.0.0.1:%d", g_px.port);
    else if (c->px == PX_AUTH)
        snprintf(s->r.proxy, sizeof s->r.proxy, "http://u:p@127.0.0.1:%d",
                 g_pxa.port);
    else if (c->px == PX_NOAUTH)
        snprintf(s->r.proxy, sizeof s->r.proxy, "127.0.0.1:%d", g_pxa.port);
    else if (c->px == PX_REFUSED)
        snprintf(s->r.proxy, sizeof s->r.proxy, "127.0.0.1:%d",
                 tu_free_port());
    if (c->at == AT_REFUSED && g_cafile)
        snprintf(s->r.url, sizeof s->r.url, "https://127.0.0.1:%d/x",
                 tu_free_port());
    else if (c->at == AT_REFUSED)
        snprintf(s->r.url, sizeof s->r.url, "http://%s:%d/x",
                 c->path[0] ? c->path : "127.0.0.1", tu_free_port());
    else if (c->at == AT_NAME)
        snprintf(s->r.url, sizeof s->r.url, "http://%.*s:%d%s",
                 slash ? (int)(slash - c->path) : (int)strlen(c->path),
                 c->path, port, slash ? slash : "");
    else
        snprintf(s->r.url, sizeof s->r.url, "%s%s", base, c->path);
    if (c->then)
        snprintf(s->then, sizeof s->then, "%s%s", base, c->then);
    snprintf(s->r.method, sizeof s->r.method, "%s",
             c->method ? c->method : "");
    snprintf(s->r.header[0], sizeof s->r.header[0], "%s",
             c->header ? c->header : "");
    snprintf(s->r.body, sizeof s->r.body, "%s", c->body ? c->body : "");
    if (g_cafile)
        snprintf(s->r.cafile, sizeof s->r.cafile, "%s", g_cafile);
    s->r.timeout_ms = c->timeout_ms;
    s->r.max_body = c->max_body;
    s->r.no_body = c->no_body;
    s->r.follow = c->follow;
    s->r.max_redirects = c->max_redirects;
    s->r.compressed = c->compressed;
    s->r.want_headers = 1;
    return 0;
}

/* Fails unless d (of url) gave want: a status, or an MP_E* code. */
static void expect(const char *url, const char *engine, const seen *d,
                   int want)
{
    int got = d->error ? d->error : (int)d->status;

    if (want && got != want)
        fail_msg("%s (%s): %s %d, not %d (%s)", url, engine,
                 d->error ? mp_err_name(d->error) : "status", got, want,
                 d->message);
}

/* The pool's init: mp-testdns answers the names (both engines ask it). */
static int init_dns(const void *arg, size_t len)
{
    (void)len;
    return mp_http_set_dns_servers(arg) == 0 ? 0 : -1;
}

/* Runs the set through both engines three times (fresh, then kept
   alive) and compares. */
static void same_records(void)
{
    dspec s[N_CASES];
    int idx[N_CASES], n = 0;
    char servers[64];
    mp_pool_options o = {.workers = 2, .concurrency = 8, .init = init_dns,
                         .init_arg = servers};
    mp_pool *p = NULL;
    mp_buf in[N_CASES];
    mp_result out[N_CASES];

    for (size_t i = 0; i < N_CASES; i++)
        if (spec_of(&cases[i], &s[n]) == 0) {
            in[n] = (mp_buf){&s[n], sizeof s[n]};
            idx[n++] = (int)i;
        }
    snprintf(servers, sizeof servers, "127.0.0.1:%d", g_dns.port);
    o.init_len = strlen(servers) + 1;
    assert_int_equal(mp_pool_create(&p, &o), 0);
    for (int round = 0; round < 3; round++) {
        assert_int_equal(mp_pool_map(p, diff_task, in, (size_t)n, out), 0);
        for (int i = 0; i < n; i++) {
            dout d;
            if (out[i].status != 0)
                fail_msg("%s: task failed: %s", s[i].r.url,
                         mp_err_name(out[i].status));
            assert_int_equal(out[i].len, sizeof d);
            memcpy(&d, out[i].data, sizeof d);
            seen_compare(s[i].r.url, &d.e[0][0], &d.e[1][0], 1);
            expect(s[i].r.url, "native", &d.e[1][0], cases[idx[i]].want);
            if (s[i].then[0]) {
                seen_compare(s[i].then, &d.e[0][1], &d.e[1][1], 1);
                expect(s[i].then, "curl", &d.e[0][1], 200);
                expect(s[i].then, "native", &d.e[1][1], 200);
            }
            mp_result_clear(&out[i]);
        }
    }
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}
static void test_same_records(void **state)
{
    pid_t bin = tu_httpbin_start(&g_bin_port);

    if (bin < 0) {
        print_message("python3-httpbin did not start: its cases skipped\n");
        g_bin_port = 0;
    }
    g_base = NULL;
    g_cafile = NULL;
    same_records();
    tu_httpbin_stop(bin);
    g_bin_port = 0;
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
        char url[sizeof s->r.url + 32];
        memset(&q, 0, sizeof q);
        snprintf(url, sizeof url, "%s", s->r.url);
        q.url = url;
        if (c == 0)
            q.speed_time_s = 30; /* speed limits */
        else if (c == 1)
            q.speed_limit = 1;
        else if (c == 2) { /* a name in upper case: curl's to print */
            char *colon = strrchr(s->r.url, ':');
            snprintf(url, sizeof url, "http://LOCALHOST%s", colon);
        } else if (c == 3) {
            q.headers = host;
            q.n_headers = 1;
        } else {
            snprintf(url, sizeof url, "http://127.0.0.01%s",
                     strrchr(s->r.url, ':'));
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
        if (c != 2 && c != 4 && (rc != 0 || r.status != 302))
            return mp_fail(t, MP_ETASK, "case %d: auto gave %s %ld (%s)", c,
                           mp_err_name(rc), r.status,
                           r.message ? r.message : "");
        mp_http_response_clear(&r);
    }
    return mp_return(t, "", 0);
}

/* What the native engine does not do, it refuses when asked by name; AUTO
   then takes curl. */
static void test_native_refuses(void **state)
{
    dspec s;
    mp_pool_options o = {.workers = 1, .concurrency = 2};
    mp_pool *p = NULL;
    mp_result r;

    memset(&s, 0, sizeof s);
    snprintf(s.r.url, sizeof s.r.url, "%s/redirect/1", g_ts.base);
    assert_int_equal(mp_pool_create(&p, &o), 0);
    assert_int_equal(mp_pool_apply(p, refuse_task, &s, sizeof s, &r), 0);
    if (r.status != 0)
        fail_msg("%s", r.error ? r.error : mp_err_name(r.status));
    mp_result_clear(&r);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

static int setup(void **state)
{
    signal(SIGPIPE, SIG_IGN);
    if (tu_dns_start(&g_dns, NULL) != 0 || tu_bs_start(&g_bad, NULL) != 0 ||
        tu_ts_start(&g_px, "--proxy") != 0 ||
        tu_ts_start(&g_pxa, "--proxy --proxy-auth u:p") != 0)
        return -1;
    return tu_ts_start(&g_ts, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    tu_ts_stop(&g_ts);
    tu_ts_stop(&g_dns);
    tu_ts_stop(&g_bad);
    tu_ts_stop(&g_px);
    tu_ts_stop(&g_pxa);
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
