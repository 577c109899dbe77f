/*
 * test_testserver: every endpoint of mp-testserver, checked with libcurl,
 * and the nginx helper of testutil.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <curl/curl.h>

#include "testutil.h"

static tu_ts ts; /* one server for the suite */

struct resp {
    CURLcode rc;
    long code;
    char *body;
    size_t len;
    char *hdrs;
    size_t hlen;
};

/* Appends n bytes to a growing NUL-terminated buffer. */
static size_t append(char **buf, size_t *len, const char *p, size_t n)
{
    char *b = realloc(*buf, *len + n + 1);

    if (b == NULL)
        return 0;
    memcpy(b + *len, p, n);
    *len += n;
    b[*len] = '\0';
    *buf = b;
    return n;
}

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    struct resp *r = arg;
    return append(&r->body, &r->len, p, sz * n);
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
    struct resp *r = arg;
    return append(&r->hdrs, &r->hlen, p, sz * n);
}

static void resp_clear(struct resp *r)
{
    free(r->body);
    free(r->hdrs);
    memset(r, 0, sizeof(*r));
}

/* Makes an easy handle for path on the suite's server writing into r. */
static CURL *handle(const char *path, struct resp *r)
{
    char url[256];
    CURL *h = curl_easy_init();

    assert_non_null(h);
    memset(r, 0, sizeof(*r));
    snprintf(url, sizeof(url), "%s%s", ts.base, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 20000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    return h;
}

/* Runs h into r (fresh). The function returns r->rc. */
static CURLcode perform(CURL *h, struct resp *r)
{
    resp_clear(r);
    r->rc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->code);
    return r->rc;
}

/* GETs path with a one-shot handle. */
static void get(const char *path, struct resp *r)
{
    CURL *h = handle(path, r);

    perform(h, r);
    curl_easy_cleanup(h);
}

static int has_header(const struct resp *r, const char *line)
{
    return r->hdrs != NULL && strcasestr(r->hdrs, line) != NULL;
}

static long long now_ms(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Checks that body[0..n) is the pattern 'a'+i%26. */
static void assert_pattern(const char *body, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (body[i] != 'a' + (int)(i % 26))
            fail_msg("pattern byte %zu is %d", i, body[i]);
}

/* Polls /stats (bounded, 5 s) until no connection is open. */
static void wait_no_open(void)
{
    long long deadline = now_ms() + 5000;
    long open = -1;

    while (now_ms() < deadline) {
        assert_int_equal(tu_ts_get_open(&ts, &open), 0);
        if (open == 0)
            return;
    }
    fail_msg("%ld connections still open after 5 s", open);
}

static void test_ok(void **state)
{
    struct resp r;

    get("/", &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.body, "ok\n");
    resp_clear(&r);
    get("/ok", &r);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.body, "ok\n");
    resp_clear(&r);
}

static void test_not_found(void **state)
{
    struct resp r;

    get("/nope", &r);
    assert_int_equal(r.code, 404);
    resp_clear(&r);
    get("/okay", &r);
    assert_int_equal(r.code, 404);
    resp_clear(&r);
}

static void test_bytes(void **state)
{
    struct resp r;

    get("/bytes/0", &r);
    assert_int_equal(r.code, 200);
    assert_int_equal(r.len, 0);
    resp_clear(&r);
    get("/bytes/1024", &r);
    assert_int_equal(r.code, 200);
    assert_int_equal(r.len, 1024);
    assert_pattern(r.body, r.len);
    assert_true(has_header(&r, "Content-Type: application/octet-stream"));
    resp_clear(&r);
    get("/bytes/3000000", &r);
    assert_int_equal(r.len, 3000000);
    assert_pattern(r.body, r.len);
    resp_clear(&r);
    get("/bytes/104857601", &r);
    assert_int_equal(r.code, 400);
    resp_clear(&r);
    get("/bytes/12x", &r);
    assert_int_equal(r.code, 400);
    resp_clear(&r);
}

static void test_head(void **state)
{
    struct resp r;
    CURL *h = handle("/bytes/100", &r);

    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    assert_int_equal(perform(h, &r), CURLE_OK);
    assert_int_equal(r.code, 200);
    assert_int_equal(r.len, 0);
    assert_true(has_header(&r, "Content-Length: 100"));
    /* The connection is still in step: a GET on it works. */
    curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    assert_int_equal(perform(h, &r), CURLE_OK);
    assert_int_equal(r.len, 100);
    resp_clear(&r);
    curl_easy_cleanup(h);
}

static void test_status(void **state)
{
    struct resp r;

    get("/status/418", &r);
    assert_int_equal(r.code, 418);
    assert_string_equal(r.body, "status 418\n");
    resp_clear(&r);
    get("/status/204", &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.code, 204);
    assert_int_equal(r.len, 0);
    resp_clear(&r);
    get("/status/503?retry_after=7", &r);
    assert_int_equal(r.code, 503);
    assert_true(has_header(&r, "Retry-After: 7\r\n"));
    resp_clear(&r);
    get("/status/99", &r);
    assert_int_equal(r.code, 400);
    resp_clear(&r);
    get("/status/600", &r);
    assert_int_equal(r.code, 400);
    resp_clear(&r);
}

static void test_delay(void **state)
{
    enum { N = 20 };
    CURLM *m = curl_multi_init();
    CURL *h[N];
    struct resp r[N];
    long open = -1;
    int i, running = 1;

    get("/delay/50", &r[0]);
    assert_int_equal(r[0].code, 200);
    assert_string_equal(r[0].body, "ok\n");
    resp_clear(&r[0]);
    /* N long delays are held at once (the server does not block on one):
       the server itself reports N open connections. No clock involved. */
    for (i = 0; i < N; i++) {
        h[i] = handle("/delay/60000", &r[i]);
        curl_multi_add_handle(m, h[i]);
    }
    long long deadline = now_ms() + 10000; /* a bound, not a measurement */
    while (open != N && now_ms() < deadline) {
        assert_int_equal(curl_multi_perform(m, &running), CURLM_OK);
        curl_multi_poll(m, NULL, 0, 50, NULL);
        assert_int_equal(tu_ts_get_open(&ts, &open), 0);
    }
    assert_int_equal(open, N);
    for (i = 0; i < N; i++) { /* the client leaves: all are freed */
        curl_multi_remove_handle(m, h[i]);
        curl_easy_cleanup(h[i]);
        resp_clear(&r[i]);
    }
    curl_multi_cleanup(m);
    wait_no_open();
    get("/delay/600001", &r[0]);
    assert_int_equal(r[0].code, 400);
    resp_clear(&r[0]);
}

static void test_redirect(void **state)
{
    struct resp r;
    long n = 0;
    CURL *h = handle("/redirect/3", &r);

    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    assert_int_equal(perform(h, &r), CURLE_OK);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.body, "ok\n");
    curl_easy_getinfo(h, CURLINFO_REDIRECT_COUNT, &n);
    assert_int_equal(n, 3);
    curl_easy_cleanup(h);
    resp_clear(&r);

    get("/redirect/2", &r);
    assert_int_equal(r.code, 302);
    assert_true(has_header(&r, "Location: /redirect/1\r\n"));
    resp_clear(&r);

    h = handle("/redirect-loop", &r);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    assert_int_equal(perform(h, &r), CURLE_TOO_MANY_REDIRECTS);
    curl_easy_cleanup(h);
    resp_clear(&r);
}

static void test_chunked(void **state)
{
    struct resp r;

    get("/chunked/100000", &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.code, 200);
    assert_true(has_header(&r, "Transfer-Encoding: chunked"));
    assert_int_equal(r.len, 100000);
    assert_pattern(r.body, r.len);
    resp_clear(&r);
    get("/chunked/1", &r);
    assert_int_equal(r.len, 1);
    resp_clear(&r);
    get("/chunked/0", &r);
    assert_int_equal(r.rc, CURLE_OK);
    assert_int_equal(r.len, 0);
    resp_clear(&r);
}

static void test_gzip(void **state)
{
    struct resp r;
    CURL *h = handle("/gzip", &r);
    size_t i;

    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    assert_int_equal(perform(h, &r), CURLE_OK);
    assert_int_equal(r.code, 200);
    assert_true(has_header(&r, "Content-Encoding: gzip"));
    assert_int_equal(r.len, 200 * strlen("hello gzip\n"));
    for (i = 0; i < 200; i++)
        assert_memory_equal(r.body + i * 11, "hello gzip\n", 11);
    curl_easy_cleanup(h);
    resp_clear(&r);
    get("/gzip", &r); /* not decoded: the compressed bytes */
    assert_true(r.len > 10 && r.len < 200);
    assert_int_equal((unsigned char)r.body[0], 0x1f);
    assert_int_equal((unsigned char)r.body[1], 0x8b);
    resp_clear(&r);
}

static void test_echo(void **state)
{
    static const char body[] = "hi \"there\"\\\x01\n";
    struct curl_slist *hl = curl_slist_append(NULL, "X-Test: yes");
    struct resp r;
    CURL *h = handle("/echo?x=1", &r);

    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
    assert_int_equal(perform(h, &r), CURLE_OK);
    assert_int_equal(r.code, 200);
    assert_true(has_header(&r, "Content-Type: application/json"));
    assert_non_null(strstr(r.body, "{\"method\":\"POST\",\"uri\":\"/echo?x=1\""));
    assert_non_null(strstr(r.body, "\"X-Test\":\"yes\""));
    assert_non_null(
        strstr(r.body, "\"body\":\"hi \\\"there\\\"\\\\\\u0001\\n\"}"));
    /* Other methods reach /echo too. */
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "PATCH");
    assert_int_equal(perform(h, &r), CURLE_OK);
    assert_non_null(strstr(r.body, "\"method\":\"PATCH\""));
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    assert_int_equal(perform(h, &r), CURLE_OK);
    assert_non_null(strstr(r.body, "\"method\":\"DELETE\""));
    curl_easy_cleanup(h);
    curl_slist_free_all(hl);
    resp_clear(&r);
}

static void test_drop(void **state)
{
    struct resp r;
    int i;

    for (i = 0; i < 3; i++) {
        get("/drop", &r);
        assert_int_equal(r.rc, CURLE_PARTIAL_FILE);
        assert_int_equal(r.code, 200);
        assert_int_equal(r.len, 500);
        resp_clear(&r);
    }
    wait_no_open();
}

static void test_hang(void **state)
{
    struct resp r;
    CURL *h = handle("/hang", &r);

    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 300L);
    assert_int_equal(perform(h, &r), CURLE_OPERATION_TIMEDOUT);
    curl_easy_cleanup(h);
    /* A client that leaves a long /delay is noticed as well. */
    h = handle("/delay/60000", &r);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 200L);
    assert_int_equal(perform(h, &r), CURLE_OPERATION_TIMEDOUT);
    curl_easy_cleanup(h);
    resp_clear(&r);
    /* The server freed both connections (and, under ASan, leaks nothing). */
    wait_no_open();
    get("/ok", &r);
    assert_int_equal(r.code, 200);
    resp_clear(&r);
}

static void test_flaky(void **state)
{
    struct resp r;

    get("/flaky/k/2", &r);
    assert_int_equal(r.code, 503);
    assert_true(has_header(&r, "Retry-After: 0\r\n"));
    resp_clear(&r);
    get("/flaky/k/2", &r);
    assert_int_equal(r.code, 503);
    resp_clear(&r);
    get("/flaky/k/2", &r);
    assert_int_equal(r.code, 200);
    assert_string_equal(r.body, "ok\n");
    resp_clear(&r);
    get("/flaky/other/1", &r); /* keys are separate */
    assert_int_equal(r.code, 503);
    resp_clear(&r);
    get("/flaky/k", &r);
    assert_int_equal(r.code, 400);
    resp_clear(&r);
}

/* Returns CLOCK_REALTIME's seconds: the server's clock. time() reads the
   coarse clock, up to a tick behind, so across a second boundary it can
   put the server's date a whole second in the future. */
static time_t realtime_s(void)
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    return now.tv_sec;
}

/* /retry-after answers 503 once with Retry-After (seconds or an HTTP-date
   at least S s ahead), then 200; /arrivals lists when requests came. */
static void test_retry_after_route(void **state)
{
    struct resp r;
    char *body = NULL, *hdr;
    time_t t0 = realtime_s(), when;
    long long a0, a1;
    long seen;

    get("/retry-after/ts-k/3", &r);
    assert_int_equal(r.code, 503);
    assert_true(has_header(&r, "Retry-After: 3\r\n"));
    resp_clear(&r);
    get("/retry-after/ts-k/3", &r);
    assert_int_equal(r.code, 200);
    resp_clear(&r);
    get("/retry-after/ts-d/date+2", &r);
    assert_int_equal(r.code, 503);
    assert_non_null(hdr = strcasestr(r.hdrs, "Retry-After: "));
    hdr += 13;
    hdr[strcspn(hdr, "\r\n")] = '\0';
    when = curl_getdate(hdr, NULL);
    if (when < t0 + 2 || when > realtime_s() + 3)
        fail_msg("Retry-After \"%s\" is not 2-3 s ahead", hdr);
    resp_clear(&r);
    assert_int_equal(tu_ts_http_get(&ts, "/arrivals/ts-k", &body), 200);
    if (sscanf(body, "{\"seen\":%ld,\"us\":[%lld,%lld]}", &seen, &a0,
               &a1) != 3)
        fail_msg("/arrivals: %s", body);
    assert_int_equal(seen, 2);
    assert_true(a0 > 0 && a1 >= a0);
    free(body);
    get("/retry-after/ts-k/x", &r);
    assert_int_equal(r.code, 400);
    resp_clear(&r);
}

static void test_stats(void **state)
{
    long c0, r0, c1, r1, c2, r2;
    struct resp r;
    CURL *h;
    int i;

    assert_int_equal(tu_ts_get_stats(&ts, &c0, &r0), 0);
    h = handle("/ok", &r);
    for (i = 0; i < 50; i++) {
        assert_int_equal(perform(h, &r), CURLE_OK);
        assert_int_equal(r.code, 200);
    }
    assert_int_equal(tu_ts_get_stats(&ts, &c1, &r1), 0);
    assert_int_equal(c1 - c0, 1);
    assert_int_equal(r1 - r0, 50);
    curl_easy_cleanup(h);
    resp_clear(&r);
    for (i = 0; i < 5; i++) {
        h = handle("/ok", &r);
        curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
        assert_int_equal(perform(h, &r), CURLE_OK);
        curl_easy_cleanup(h);
        resp_clear(&r);
    }
    assert_int_equal(tu_ts_get_stats(&ts, &c2, &r2), 0);
    assert_int_equal(c2 - c1, 5);
    assert_int_equal(r2 - r1, 5);
    wait_no_open();
}

/* The function returns 1 if 127.0.0.1:port accepts a connection. */
static int accepts(int port)
{
    char url[64];
    CURL *h = curl_easy_init();
    CURLcode rc;

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/ok", port);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    rc = curl_easy_perform(h);
    curl_easy_cleanup(h);
    return rc != CURLE_COULDNT_CONNECT;
}

static void test_procs(void **state)
{
    tu_ts s2;
    struct resp r;
    char url[128];
    CURL *h;
    int i;

    assert_int_equal(tu_ts_start(&s2, "--procs 3"), 0);
    snprintf(url, sizeof(url), "%s/bytes/10", s2.base);
    for (i = 0; i < 30; i++) {
        h = handle("/", &r);
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
        assert_int_equal(perform(h, &r), CURLE_OK);
        assert_int_equal(r.len, 10);
        curl_easy_cleanup(h);
        resp_clear(&r);
    }
    tu_ts_stop(&s2);
    assert_true(WIFEXITED(s2.exit_status));
    assert_int_equal(WEXITSTATUS(s2.exit_status), 0);
    /* The helper processes went with the parent: nobody listens now. */
    assert_false(accepts(s2.port));
}

static void test_stdin_eof(void **state)
{
    tu_ts s2;
    int st = 0;

    assert_int_equal(tu_ts_start(&s2, "--procs 2"), 0);
    close(s2.stdin_fd);
    s2.stdin_fd = -1;
    while (waitpid(s2.pid, &st, 0) < 0 && errno == EINTR)
        ;
    s2.pid = 0;
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_false(accepts(s2.port));
}

static void test_ipv6(void **state)
{
    tu_ts s2;
    struct resp r;
    char url[128];
    CURL *h;

    if (tu_ts_start(&s2, "--host ::1") != 0)
        skip(); /* no IPv6 loopback here */
    assert_non_null(strstr(s2.base, "://[::1]:"));
    snprintf(url, sizeof(url), "%s/ok", s2.base);
    h = handle("/", &r);
    curl_easy_setopt(h, CURLOPT_URL, url);
    assert_int_equal(perform(h, &r), CURLE_OK);
    assert_string_equal(r.body, "ok\n");
    curl_easy_cleanup(h);
    resp_clear(&r);
    assert_int_equal(tu_ts_get_stats(&s2, NULL, NULL), 0);
    tu_ts_stop(&s2);
}

static void test_bad_args(void **state)
{
    tu_ts s2;

    assert_int_equal(tu_ts_start(&s2, "--host 10.0.0.1"), -1);
    assert_int_equal(tu_ts_start(&s2, "--procs 0"), -1);
}

/* GETs url (CA file ca if not NULL) and checks the body size. The
 * function returns the HTTP version curl used. */
static long nginx_get(const char *url, const char *ca, size_t want)
{
    struct resp r;
    long ver = 0;
    CURL *h = handle("/", &r);

    curl_easy_setopt(h, CURLOPT_URL, url);
    if (ca != NULL)
        curl_easy_setopt(h, CURLOPT_CAINFO, ca);
    curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
    assert_int_equal(perform(h, &r), CURLE_OK);
    assert_int_equal(r.code, 200);
    assert_int_equal(r.len, want);
    curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &ver);
    curl_easy_cleanup(h);
    resp_clear(&r);
    return ver;
}

static void test_nginx(void **state)
{
    char *dir = tu_tmpdir(), url[128];
    tu_nginx n;

    assert_non_null(dir);
    if (access("/usr/sbin/nginx", X_OK) != 0) {
        tu_rm_rf(dir);
        free(dir);
        skip();
    }
    assert_int_equal(tu_nginx_start(&n, dir, 1), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/1k", n.port);
    nginx_get(url, NULL, 1024);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/256k", n.port);
    nginx_get(url, NULL, 256 * 1024);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/text", n.port);
    nginx_get(url, NULL, 70 * 56);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/1k", n.tls_port);
    if (curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_HTTP2)
        assert_int_equal(nginx_get(url, n.cafile, 1024), CURL_HTTP_VERSION_2_0);
    else
        nginx_get(url, n.cafile, 1024);
    if (n.has_echo) {
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/delay/100", n.port);
        nginx_get(url, NULL, 3);
    }
    tu_nginx_stop(&n);
    assert_int_equal(tu_rm_rf(dir), 0);
    assert_int_equal(access(dir, F_OK), -1);
    free(dir);
}

static void test_free_port(void **state)
{
    int p = tu_free_port();

    assert_true(p > 0 && p < 65536);
}

/* Last: the suite's server exits cleanly (under ASan: without leaks). */
static void test_shutdown(void **state)
{
    tu_ts_stop(&ts);
    assert_true(WIFEXITED(ts.exit_status));
    assert_int_equal(WEXITSTATUS(ts.exit_status), 0);
}

static int setup(void **state)
{
    curl_global_init(CURL_GLOBAL_ALL);
    return tu_ts_start(&ts, NULL);
}

static int teardown(void **state)
{
    tu_ts_stop(&ts);
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_BOUNDED(test_ok, 40),        TU_BOUNDED(test_not_found, 40),
        TU_BOUNDED(test_bytes, 40),     TU_BOUNDED(test_head, 40),
        TU_BOUNDED(test_status, 40),    TU_BOUNDED(test_delay, 40),
        TU_BOUNDED(test_redirect, 40),  TU_BOUNDED(test_chunked, 40),
        TU_BOUNDED(test_gzip, 40),      TU_BOUNDED(test_echo, 40),
        TU_BOUNDED(test_drop, 40),      TU_BOUNDED(test_hang, 40),
        TU_BOUNDED(test_flaky, 40),
        TU_BOUNDED(test_retry_after_route, 40),     TU_BOUNDED(test_stats, 40),
        TU_BOUNDED(test_procs, 40),     TU_BOUNDED(test_stdin_eof, 40),
        TU_BOUNDED(test_ipv6, 40),      TU_BOUNDED(test_bad_args, 40),
        TU_BOUNDED(test_nginx, 40),     TU_BOUNDED(test_free_port, 40),
        TU_BOUNDED(test_shutdown, 40),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, setup, teardown);
}
