/*
 * test_http_h2: HTTP/2 inside the native engine (src/http/native/http_native_h2.c)
 * against nginx offering h2 (tools/nginx.sh --tls --log: the access log
 * names each request's connection, $connection).
 *  - many concurrent streams share one connection (50 at once on the
 *    worker's h2 connection: one $connection in the log), also when
 *    they are the worker's first requests to the host;
 *  - POST with a body and a header of ours (nginx's /echo says what it
 *    got), HEAD, a large body, 404, a body over max_body (MP_EFBIG, and
 *    the connection carries the next request), all on one connection;
 *  - a stream's whole-transfer timeout (MP_ETIMEDOUT) and a canceled
 *    stream (mp_join's timeout) while other streams on the same
 *    connection finish, which then carries the next request;
 *  - the same mixed set through libcurl's HTTP/2 and the native one,
 *    compared field by field (times, messages and the Date line aside;
 *    bytes_down of a body refused over max_body too: where it stopped
 *    depends on each engine's chunking);
 *  - the server ending connections: nginx with keepalive_requests 5
 *    sends GOAWAY after five streams, and 40 at once all end 200
 *    (refused streams started again on new connections); nginx stopped
 *    under a stream in flight: MP_ECONNRESET, no hang.
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
#include <sys/types.h>

#include "mpool.h"
#include "h2util.h"

static struct {
    tu_nginx n;
    char *dir;
} g;

/* A spec for nginx's h2 port (or port), path printf-style. */
#define mk(port, ...) h2u_mk(&g.n, port, __VA_ARGS__)

/* Counts the distinct connections of the access log's requests (in dir)
   whose URI starts with prefix, and the requests (*n). Returns the
   count of connections. */
static int log_conns(const char *dir, const char *prefix, int *n)
{
    char path[600], line[512];
    long ids[256];
    int k = 0;
    FILE *f;

    snprintf(path, sizeof path, "%s/access.log", dir);
    *n = 0;
    if (!(f = fopen(path, "r")))
        return 0;
    while (fgets(line, sizeof line, f)) {
        char p[16], r[8], u[256];
        long conn;
        int i;
        if (sscanf(line, "%15s %7s %255s %ld", p, r, u, &conn) != 4 ||
            strncmp(u, prefix, strlen(prefix)) != 0)
            continue;
        (*n)++;
        for (i = 0; i < k && ids[i] != conn; i++)
            ;
        if (i == k && k < 256)
            ids[k++] = conn;
    }
    fclose(f);
    return k;
}

/* Many streams at once on the worker's one h2 connection: beside a
   first request's connection, and as a burst of first requests (they
   wait for the first handshake's answer, then share its connection). */
static void test_streams_share(void **state)
{
    burst *b = calloc(1, sizeof *b);
    burst_out *o = calloc(1, sizeof *o);
    int n, conns;

    (void)state;
    assert_non_null(b);
    assert_non_null(o);
    for (int first = 1; first >= 0; first--) {
        const char *tag = first ? "share" : "burst";
        b->first = mk(0, "/1k?%s-first", tag);
        b->has_first = first;
        b->n = BURST;
        for (int i = 0; i < BURST; i++)
            b->s[i] = mk(0, "/1k?%s-%d", tag, i);
        h2u_run_burst(b, o);
        if (first)
            h2u_expect(&b->first, &o->first, 200);
        for (int i = 0; i < BURST; i++) {
            h2u_expect(&b->s[i], &o->o[i], 200);
            assert_int_equal(o->o[i].body_len, 1024);
        }
        char prefix[32];
        snprintf(prefix, sizeof prefix, "/1k?%s-", tag);
        conns = log_conns(g.dir, prefix, &n);
        print_message("%s: %d requests on %d connection(s)\n", tag, n,
                      conns);
        assert_int_equal(n, BURST + first);
        assert_int_equal(conns, 1);
    }
    free(b);
    free(o);
}

/* POST, HEAD, a large body, 404, max_body: one connection throughout. */
static void test_methods(void **state)
{
    burst *b = calloc(1, sizeof *b);
    burst_out *o = calloc(1, sizeof *o);
    int n, conns;
    seen_req *s = b->s;

    (void)state;
    b->first = mk(0, "/1k?m-first");
    b->has_first = 1;
    s[0] = mk(0, "/echo?m-post");
    strcpy(s[0].method, "POST");
    strcpy(s[0].header[0], "X-Test: yes");
    strcpy(s[0].body, "a=1&b=two");
    s[1] = mk(0, "/1k?m-head");
    strcpy(s[1].method, "HEAD");
    s[2] = mk(0, "/256k?m-large");
    s[3] = mk(0, "/nope?m-404");
    s[4] = mk(0, "/256k?m-limit");
    s[4].max_body = 1000;
    b->n = 5;
    b->after = mk(0, "/1k?m-after");
    b->has_after = 1;
    h2u_run_burst(b, o);
    h2u_expect(&s[0], &o->o[0], 200);
    assert_string_equal(o->o[0].body,
                        "POST yes application/x-www-form-urlencoded 9\n"
                        "a=1&b=two");
    h2u_expect(&s[1], &o->o[1], 200);
    assert_int_equal(o->o[1].body_len, 0);
    assert_non_null(strstr(o->o[1].headers, "content-length: 1024\r\n"));
    h2u_expect(&s[2], &o->o[2], 200);
    assert_int_equal(o->o[2].body_len, 262144);
    assert_int_equal(o->o[2].bytes_down, 262144);
    assert_int_equal(strncmp(o->o[2].body, "abcdefghijklmnopqrstuvwxyz", 26),
                     0);
    h2u_expect(&s[3], &o->o[3], 404);
    assert_int_equal(strncmp(o->o[3].headers, "HTTP/2 404 \r\n", 13), 0);
    if (o->o[4].error != MP_EFBIG)
        fail_msg("max_body: %s (%s)", mp_err_name(o->o[4].error),
                 o->o[4].message);
    h2u_expect(&b->after, &o->after, 200);
    conns = log_conns(g.dir, "/1k?m-", &n);
    assert_int_equal(n, 3);
    assert_int_equal(conns, 1);
    conns = log_conns(g.dir, "/echo?m-", &n);
    assert_int_equal(n, 1);
    free(b);
    free(o);
}

/* A stream's timeout and a stream canceled while others on the same
   connection run; the connection carries the next request. */
static void test_timeout_cancel(void **state)
{
    burst *b = calloc(1, sizeof *b);
    burst_out *o = calloc(1, sizeof *o);
    int n, conns;

    (void)state;
    if (!g.n.has_echo)
        skip();
    b->first = mk(0, "/1k?tc-first");
    b->has_first = 1;
    b->s[0] = mk(0, "/delay/10000");
    b->s[0].timeout_ms = 300;   /* its own timeout */
    b->s[1] = mk(0, "/delay/10000");
    b->join_ms[1] = 100;        /* canceled by mp_join */
    for (int i = 2; i < 6; i++) /* others on the connection meanwhile */
        b->s[i] = mk(0, "/delay/100?tc-%d", i);
    b->n = 6;
    b->after = mk(0, "/1k?tc-after");
    b->has_after = 1;
    h2u_run_burst(b, o);
    h2u_expect(&b->first, &o->first, 200);
    if (o->o[0].error != MP_ETIMEDOUT)
        fail_msg("timeout: %s (%s)", mp_err_name(o->o[0].error),
                 o->o[0].message);
    assert_int_equal(o->join_rc[1], MP_ETIMEDOUT);
    for (int i = 2; i < 6; i++) {
        h2u_expect(&b->s[i], &o->o[i], 200);
        assert_string_equal(o->o[i].body, "ok\n");
    }
    h2u_expect(&b->after, &o->after, 200);
    conns = log_conns(g.dir, "/1k?tc-", &n);
    assert_int_equal(n, 2);
    assert_int_equal(conns, 1);
    conns = log_conns(g.dir, "/delay/100?tc-", &n);
    assert_int_equal(n, 4);
    assert_int_equal(conns, 1);
    free(b);
    free(o);
}

/* The same set through libcurl's HTTP/2 and the native one. */
static void test_same_records(void **state)
{
    enum { N = 14 };
    seen_req s[N];
    mp_buf in[N];
    mp_result out[N];
    mp_pool_options opt = {.workers = 2, .concurrency = 8};
    mp_pool *p = NULL;
    int k = 0;

    (void)state;
    s[k++] = mk(0, "/1k");
    s[k++] = mk(0, "/256k");
    s[k++] = mk(0, "/text");
    s[k++] = mk(0, "/nope");
    s[k] = mk(0, "/1k");
    strcpy(s[k++].method, "HEAD");
    s[k] = mk(0, "/echo");
    strcpy(s[k].method, "POST");
    strcpy(s[k].header[0], "X-Test: yes");
    strcpy(s[k++].body, "a=1&b=two");
    s[k] = mk(0, "/echo");
    strcpy(s[k].method, "PUT");
    strcpy(s[k++].body, "put body");
    s[k] = mk(0, "/echo");
    strcpy(s[k++].method, "POST"); /* POST without a body */
    s[k] = mk(0, "/echo");
    strcpy(s[k++].method, "DELETE");
    s[k] = mk(0, "/256k");
    s[k++].max_body = 1000; /* MP_EFBIG */
    s[k] = mk(0, "/1k");
    s[k++].no_body = 1;
    s[k] = mk(0, "/delay/10000");
    s[k++].timeout_ms = 300; /* MP_ETIMEDOUT */
    s[k++] = mk(tu_free_port(), "/1k"); /* MP_ECONNREFUSED */
    s[k] = mk(0, "/1k");
    snprintf(s[k++].url, sizeof s[0].url, "https://localhost:%d/1k",
             g.n.tls_port);
    assert_int_equal(k, N);
    static const int want[N] = {200, 200, 200, 404, 200, 200, 200, 200,
                                200, MP_EFBIG, 200, MP_ETIMEDOUT,
                                MP_ECONNREFUSED, 200};
    assert_int_equal(mp_pool_create(&p, &opt), 0);
    for (int i = 0; i < N; i++)
        in[i] = (mp_buf){&s[i], sizeof s[i]};
    for (int round = 0; round < 2; round++) { /* fresh, then kept alive */
        assert_int_equal(mp_pool_map(p, h2u_diff_task, in, N, out), 0);
        for (int i = 0; i < N; i++) {
            dpair d;
            if (out[i].status != 0 || out[i].len != sizeof d)
                fail_msg("%s: task failed: %s", s[i].url,
                         mp_err_name(out[i].status));
            memcpy(&d, out[i].data, sizeof d);
            mp_result_clear(&out[i]);
            if (!g.n.has_echo && (strstr(s[i].url, "/echo") ||
                                  strstr(s[i].url, "/delay")))
                continue;
            h2u_compare(&s[i], &d.c, &d.n);
            if ((d.n.error ? d.n.error : (int)d.n.status) != want[i])
                fail_msg("%s: %d, not %d (%s)", s[i].url,
                         d.n.error ? d.n.error : (int)d.n.status, want[i],
                         d.n.message);
            if (!d.n.error && d.n.http_version != 20)
                fail_msg("%s: version %ld", s[i].url, d.n.http_version);
        }
    }
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* nginx ends each connection after five requests (GOAWAY): a burst of 40
   on one connection all end 200, the refused ones started again. */
static void test_goaway(void **state)
{
    burst *b = calloc(1, sizeof *b);
    burst_out *o = calloc(1, sizeof *o);
    char *dir = tu_tmpdir();
    tu_nginx ka;
    int n, conns;

    (void)state;
    assert_non_null(dir);
    if (tu_nginx_start_opts(&ka, dir, "--tls --log --keepalive-requests 5")
        != 0) {
        tu_nginx_stop(&ka);
        tu_rm_rf(dir);
        free(dir);
        skip();
    }
    b->first = mk(ka.tls_port, "/1k?ga-first");
    snprintf(b->first.cafile, sizeof b->first.cafile, "%s", ka.cafile);
    b->has_first = 1;
    b->n = 40;
    for (int i = 0; i < b->n; i++) {
        b->s[i] = mk(ka.tls_port, "/1k?ga-%d", i);
        snprintf(b->s[i].cafile, sizeof b->s[i].cafile, "%s", ka.cafile);
    }
    h2u_run_burst(b, o);
    h2u_expect(&b->first, &o->first, 200);
    for (int i = 0; i < b->n; i++)
        h2u_expect(&b->s[i], &o->o[i], 200);
    conns = log_conns(dir, "/1k?ga-", &n);
    print_message("GOAWAY: %d requests on %d connections\n", n, conns);
    assert_int_equal(n, 41);
    assert_true(conns >= 9); /* five requests at most on each */
    tu_nginx_stop(&ka);
    tu_rm_rf(dir);
    free(dir);
    free(b);
    free(o);
}

/* nginx stops while a stream waits for its answer: the stream ends with
   MP_ECONNRESET (its connection closed under it; not started again: the
   server may have acted on it), never a hang; the stream beside it on
   the connection had its answer. */
static int drop_task(mp_task *t, const void *in, size_t len)
{
    const burst *b = in; /* first, s[0] the slow one, after: a fast one */
    burst_out *out = calloc(1, sizeof *out);
    mp_child *c;
    mp_result r;
    int rc;

    (void)len;
    if (!out)
        return mp_fail(t, MP_ENOMEM, "calloc");
    seen_http(t, &b->first, &out->first);
    if (mp_spawn(t, seen_task, &b->s[0], sizeof b->s[0], &c) != 0) {
        free(out);
        return mp_fail(t, MP_ETASK, "mp_spawn failed");
    }
    /* sent after the slow one on the same connection: once it is
       answered, nginx has the slow one too */
    seen_http(t, &b->after, &out->after);
    kill((pid_t)b->join_ms[0], SIGTERM);
    out->join_rc[0] = mp_join(c, &r, 0);
    if (r.status == 0 && r.len == sizeof out->o[0])
        memcpy(&out->o[0], r.data, sizeof out->o[0]);
    mp_result_clear(&r);
    rc = mp_return(t, out, sizeof *out);
    free(out);
    return rc;
}

static void test_server_stops(void **state)
{
    burst *b = calloc(1, sizeof *b);
    burst_out *o = calloc(1, sizeof *o);
    char *dir = tu_tmpdir(), why[300];
    mp_pool_options opt = {.workers = 1, .concurrency = 2};
    mp_pool *p = NULL;
    tu_nginx st;

    (void)state;
    assert_non_null(dir);
    if (tu_nginx_start_opts(&st, dir, "--tls") != 0 || !st.has_echo) {
        tu_nginx_stop(&st);
        tu_rm_rf(dir);
        free(dir);
        skip();
    }
    b->first = mk(st.tls_port, "/1k");
    b->s[0] = mk(st.tls_port, "/delay/10000");
    b->after = mk(st.tls_port, "/1k");
    b->join_ms[0] = (unsigned)st.pid;
    snprintf(b->first.cafile, sizeof b->first.cafile, "%s", st.cafile);
    snprintf(b->s[0].cafile, sizeof b->s[0].cafile, "%s", st.cafile);
    snprintf(b->after.cafile, sizeof b->after.cafile, "%s", st.cafile);
    assert_int_equal(mp_pool_create(&p, &opt), 0);
    if (tu_apply_copy(p, drop_task, b, sizeof *b, o, sizeof *o, why,
                      sizeof why) != 0)
        fail_msg("drop: %s", why);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
    h2u_expect(&b->first, &o->first, 200);
    h2u_expect(&b->after, &o->after, 200);
    print_message("server stopped: %s (%s)\n", mp_err_name(o->o[0].error),
                  o->o[0].message);
    if (o->o[0].error != MP_ECONNRESET)
        fail_msg("slow stream: %s (%s)", mp_err_name(o->o[0].error),
                 o->o[0].message);
    tu_nginx_stop(&st);
    tu_rm_rf(dir);
    free(dir);
    free(b);
    free(o);
}

/* Pool init: one connection in all, one per host. */
static int limits_1(const void *arg, size_t len)
{
    (void)arg;
    (void)len;
    return mp_http_set_limits(1, 1);
}

/* Connection limits count an h2 connection once, however many streams
   it carries: with mp_http_set_limits(1, 1), 300 requests, 64 at once,
   all go natively over HTTP/2 on one connection (libcurl took them
   before: the native engine did not honour limits). */
static void test_limits_one_h2_connection(void **state)
{
    enum { N = 300 };
    mp_pool_options opt = {.workers = 1, .concurrency = 64,
                           .init = limits_1};
    seen_req *s = calloc(N, sizeof *s);
    mp_buf *in = calloc(N, sizeof *in);
    mp_result *out = calloc(N, sizeof *out);
    mp_pool *p = NULL;
    int n, conns;

    (void)state;
    assert_non_null(s);
    assert_non_null(in);
    assert_non_null(out);
    for (int i = 0; i < N; i++) {
        s[i] = mk(0, "/1k?lim-%d", i);
        in[i] = (mp_buf){&s[i], sizeof s[i]};
    }
    assert_int_equal(mp_pool_create(&p, &opt), 0);
    assert_int_equal(mp_pool_map(p, seen_task, in, N, out), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(out[i].status, 0);
        assert_int_equal(out[i].len, sizeof(seen));
        h2u_expect(&s[i], (const seen *)out[i].data, 200);
        mp_result_clear(&out[i]);
    }
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
    conns = log_conns(g.dir, "/1k?lim-", &n);
    print_message("limits 1/1: %d requests on %d connection(s)\n", n, conns);
    assert_int_equal(n, N);
    assert_int_equal(conns, 1);
    free(s);
    free(in);
    free(out);
}

static int setup(void **state)
{
    (void)state;
    return h2u_nginx_up(&g.n, &g.dir, "--tls --log");
}

static int teardown(void **state)
{
    (void)state;
    h2u_nginx_down(&g.n, &g.dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_BOUNDED(test_streams_share, 60),
        TU_BOUNDED(test_methods, 60),
        TU_BOUNDED(test_timeout_cancel, 60),
        TU_BOUNDED(test_same_records, 90),
        TU_BOUNDED(test_goaway, 60),
        TU_BOUNDED(test_server_stops, 60),
        TU_BOUNDED(test_limits_one_h2_connection, 60),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
