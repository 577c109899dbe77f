/*
 * test_http_dns: host names on both HTTP engines, through the resolver of
 * src/dns/http_dns.c (evdns on the worker's loop) and mp-testdns (a DNS server
 * on 127.0.0.1 that logs every question): names resolve on both engines;
 * NXDOMAIN and a server that never answers end in MP_EDNS on both, in
 * bounded time; --resolve entries send no query; the cache and the
 * coalescing of concurrent lookups are counted in questions asked; mpfetch
 * --dns-servers and --resolve end to end.
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
#include <unistd.h>

#include "mpfetch/mpfetch_e2e.h"
#include "mpool.h"
#include "testutil.h"

static tu_ts g_ts, g_dns;
static char *g_dir;
static char g_log[512];

/* What the pool's init function sets in each worker. */
typedef struct dconf {
    char servers[64];
    char resolve[2][96];
    int n_resolve;
} dconf;

/* One request: url through engine; what came back. */
typedef struct dreq {
    char url[200];
    int engine;
    unsigned ct_ms; /* connect timeout; 0: 20 s */
    int rc;
    long status;
    char body[256];
} dreq;

static int init_fn(const void *arg, size_t len)
{
    const dconf *c = arg;
    const char *res[2] = {c->resolve[0], c->resolve[1]};

    (void)len;
    if (c->servers[0] && mp_http_set_dns_servers(c->servers) != 0)
        return -1;
    return mp_http_set_resolve(res, (size_t)c->n_resolve) == 0 ? 0 : -1;
}

/* The task: one request, its outcome in the returned dreq. */
static int req_task(mp_task *t, const void *in, size_t len)
{
    dreq d = *(const dreq *)in;
    mp_http_request q = {.url = d.url, .engine = d.engine,
                         .connect_timeout_ms = d.ct_ms ? d.ct_ms : 20000};
    mp_http_response r;

    (void)len;
    d.rc = mp_http(t, &q, &r);
    d.status = r.status;
    snprintf(d.body, sizeof d.body, "%s",
             r.body ? r.body : r.message ? r.message : "");
    mp_http_response_clear(&r);
    return mp_return(t, &d, sizeof d);
}

/* A task that starts n copies of req_task at once (mp_gather: they all
   run before the loop looks at any socket) and returns how many got 200. */
static int gather_task(mp_task *t, const void *in, size_t len)
{
    enum { N = 100 };
    mp_buf b[N];
    mp_result out[N];
    int ok = 0;

    for (int i = 0; i < N; i++)
        b[i] = (mp_buf){in, len};
    if (mp_gather(t, req_task, b, N, out) != 0)
        return mp_fail(t, MP_ETASK, "mp_gather failed");
    for (int i = 0; i < N; i++) {
        if (out[i].status == 0 && out[i].len == sizeof(dreq) &&
            ((const dreq *)out[i].data)->status == 200)
            ok++;
        mp_result_clear(&out[i]);
    }
    return mp_return(t, &ok, sizeof ok);
}

/* Starts a pool of one worker (concurrency 128) with conf. */
static mp_pool *pool_with(const dconf *c)
{
    mp_pool_options o = {.workers = 1, .concurrency = 128,
                         .init = init_fn, .init_arg = c,
                         .init_len = sizeof *c};
    mp_pool *p = NULL;

    assert_int_equal(mp_pool_create(&p, &o), 0);
    return p;
}

/* The default conf: mp-testdns as the only server. */
static dconf conf(void)
{
    dconf c;

    memset(&c, 0, sizeof c);
    snprintf(c.servers, sizeof c.servers, "127.0.0.1:%d", g_dns.port);
    return c;
}

/* Runs the n requests d[] (in place) on p. */
static void run(mp_pool *p, dreq *d, size_t n)
{
    mp_buf in[16];
    mp_result out[16];

    assert_true(n <= 16);
    for (size_t i = 0; i < n; i++)
        in[i] = (mp_buf){&d[i], sizeof d[i]};
    assert_int_equal(mp_pool_map(p, req_task, in, n, out), 0);
    for (size_t i = 0; i < n; i++) {
        if (out[i].status != 0)
            fail_msg("%s: task: %s", d[i].url, mp_err_name(out[i].status));
        assert_int_equal(out[i].len, sizeof d[i]);
        memcpy(&d[i], out[i].data, sizeof d[i]);
        mp_result_clear(&out[i]);
    }
}

static dreq mk(const char *host, int port, const char *path, int engine)
{
    dreq d;

    memset(&d, 0, sizeof d);
    snprintf(d.url, sizeof d.url, "http://%s:%d%s", host, port, path);
    d.engine = engine;
    return d;
}

/* Names resolve on both engines: *.test through mp-testdns, localhost and
   *.localhost without a query; the Host header is the name. */
static void test_names_resolve(void **state)
{
    dconf c = conf();
    mp_pool *p = pool_with(&c);
    dreq d[6];
    char host[64];

    (void)state;
    for (int e = 0; e < 2; e++) {
        int eng = e ? MP_HTTP_NATIVE : MP_HTTP_CURL;
        d[3 * e] = mk("www.test", g_ts.port, "/echo", eng);
        d[3 * e + 1] = mk("localhost", g_ts.port, "/ok", eng);
        d[3 * e + 2] = mk("a.b.localhost", g_ts.port, "/ok", eng);
    }
    run(p, d, 6);
    for (int i = 0; i < 6; i++)
        if (d[i].rc != 0 || d[i].status != 200)
            fail_msg("%s (engine %d): %s %ld %s", d[i].url, d[i].engine,
                     mp_err_name(d[i].rc), d[i].status, d[i].body);
    snprintf(host, sizeof host, "\"Host\":\"www.test:%d\"", g_ts.port);
    for (int e = 0; e < 2; e++)
        if (!strstr(d[3 * e].body, host))
            fail_msg("engine %d sent no \"%s\": %s", d[3 * e].engine, host,
                     d[3 * e].body);
    assert_int_equal(tu_dns_queries(g_log, "A", "localhost"), 0);
    assert_int_equal(tu_dns_queries(g_log, "A", "a.b.localhost"), 0);
    assert_true(tu_dns_queries(g_log, "A", "www.test") >= 1);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* NXDOMAIN and a server that never answers: MP_EDNS on both engines, the
   silent one within the resolver's bound (2 tries of 2 s); with a connect
   timeout shorter than that, MP_ETIMEDOUT as curl says it (the connect
   timeout covers resolving). */
static void test_failures(void **state)
{
    dconf c = conf();
    mp_pool *p = pool_with(&c);
    dreq d[6];

    (void)state;
    d[0] = mk("nx.example", g_ts.port, "/ok", MP_HTTP_CURL);
    d[1] = mk("nx.example", g_ts.port, "/ok", MP_HTTP_NATIVE);
    d[2] = mk("q.silent.test", g_ts.port, "/ok", MP_HTTP_CURL);
    d[3] = mk("r.silent.test", g_ts.port, "/ok", MP_HTTP_NATIVE);
    d[4] = mk("s.silent.test", g_ts.port, "/ok", MP_HTTP_CURL);
    d[5] = mk("t.silent.test", g_ts.port, "/ok", MP_HTTP_NATIVE);
    d[4].ct_ms = d[5].ct_ms = 300;
    tu_bound(30, "lookups that fail to end");
    run(p, d, 6);
    tu_unbound();
    for (int i = 4; i < 6; i++)
        if (d[i].rc != MP_ETIMEDOUT ||
            !strstr(d[i].body, "Resolving timed out after 300 milliseconds"))
            fail_msg("%s (engine %d): %s (%s)", d[i].url, d[i].engine,
                     mp_err_name(d[i].rc), d[i].body);
    for (int i = 0; i < 4; i++) {
        if (d[i].rc != MP_EDNS)
            fail_msg("%s (engine %d): %s, not MP_EDNS (%s)", d[i].url,
                     d[i].engine, mp_err_name(d[i].rc), d[i].body);
        if (!strstr(d[i].body, "Could not resolve host"))
            fail_msg("%s: message \"%s\"", d[i].url, d[i].body);
    }
    assert_true(tu_dns_queries(g_log, "A", "r.silent.test") >= 1);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* --resolve: no query leaves, the Host header stays the name, both
   engines; a name with no entry for that port is still asked. */
static void test_resolve_entries(void **state)
{
    dconf c = conf();
    dreq d[4];
    mp_pool *p;

    (void)state;
    snprintf(c.resolve[0], sizeof c.resolve[0],
             "pinned.test:%d:127.0.0.1", g_ts.port);
    snprintf(c.resolve[1], sizeof c.resolve[1],
             "other.example:%d:[::1],127.0.0.1", g_ts.port);
    c.n_resolve = 2;
    p = pool_with(&c);
    d[0] = mk("pinned.test", g_ts.port, "/echo", MP_HTTP_CURL);
    d[1] = mk("pinned.test", g_ts.port, "/echo", MP_HTTP_NATIVE);
    d[2] = mk("other.example", g_ts.port, "/ok", MP_HTTP_CURL);
    d[3] = mk("other.example", g_ts.port, "/ok", MP_HTTP_NATIVE);
    run(p, d, 4);
    for (int i = 0; i < 4; i++)
        if (d[i].rc != 0 || d[i].status != 200)
            fail_msg("%s (engine %d): %s %ld %s", d[i].url, d[i].engine,
                     mp_err_name(d[i].rc), d[i].status, d[i].body);
    assert_non_null(strstr(d[0].body, "\"Host\":\"pinned.test:"));
    assert_non_null(strstr(d[1].body, "\"Host\":\"pinned.test:"));
    assert_int_equal(tu_dns_queries(g_log, "A", "pinned.test"), 0);
    assert_int_equal(tu_dns_queries(g_log, "AAAA", "pinned.test"), 0);
    assert_int_equal(tu_dns_queries(g_log, "A", "other.example"), 0);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
    assert_int_equal(mp_http_resolve_check("h:80:1.2.3.4,[::1]"), 0);
    assert_int_equal(mp_http_resolve_check("h:80:"), MP_EINVAL);
    assert_int_equal(mp_http_resolve_check("h:0:1.2.3.4"), MP_EINVAL);
    assert_int_equal(mp_http_resolve_check("h:80:nothere"), MP_EINVAL);
    assert_int_equal(mp_http_resolve_check(":80:1.2.3.4"), MP_EINVAL);
    assert_int_equal(mp_http_dns_servers_check("127.0.0.1:53,[::1]:53"), 0);
    assert_int_equal(mp_http_dns_servers_check("127.0.0.1:x"), MP_EINVAL);
    assert_int_equal(mp_http_dns_servers_check(""), MP_EINVAL);
}

/* The cache: 12 requests to one name, each needing a new connection or a
   pre-resolved address (a refused port, the curl engine), ask once. */
static void test_cache(void **state)
{
    dconf c = conf();
    mp_pool *p = pool_with(&c);
    int refused = tu_free_port();
    dreq d[12];

    (void)state;
    for (int i = 0; i < 12; i++)
        d[i] = i % 3 == 0 ? mk("cached.test", refused, "/", MP_HTTP_NATIVE)
               : i % 3 == 1
                   ? mk("cached.test", g_ts.port, "/ok", MP_HTTP_CURL)
                   : mk("cached.test", g_ts.port, "/ok", MP_HTTP_NATIVE);
    run(p, d, 1); /* the first alone: the rest must find it cached */
    run(p, d + 1, 11);
    for (int i = 0; i < 12; i++)
        if (d[i].rc != (i % 3 == 0 ? MP_ECONNREFUSED : 0))
            fail_msg("%s (engine %d): %s %s", d[i].url, d[i].engine,
                     mp_err_name(d[i].rc), d[i].body);
    assert_int_equal(tu_dns_queries(g_log, "A", "cached.test"), 1);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* 100 concurrent first requests to one name, on each engine: one query. */
static void test_coalesced(void **state)
{
    dconf c = conf();
    mp_pool *p = pool_with(&c);
    static const char *names[2] = {"many.test", "many2.test"};

    (void)state;
    for (int e = 0; e < 2; e++) {
        dreq d = mk(names[e], g_ts.port, "/ok",
                    e ? MP_HTTP_NATIVE : MP_HTTP_CURL);
        mp_result r;
        assert_int_equal(mp_pool_apply(p, gather_task, &d, sizeof d, &r), 0);
        if (r.status != 0)
            fail_msg("%s", r.error ? r.error : mp_err_name(r.status));
        assert_int_equal(*(const int *)r.data, 100);
        mp_result_clear(&r);
        assert_int_equal(tu_dns_queries(g_log, "A", names[e]), 1);
    }
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* IPv6: a server on ::1 only. An [::1] literal, and a name whose answer
   is A 127.0.0.1 then AAAA ::1 (the engine tries the addresses in order:
   127.0.0.1 is refused, ::1 answers), on both engines. */
static void test_ipv6(void **state)
{
    dconf c = conf();
    mp_pool *p = pool_with(&c);
    tu_ts ts6;
    dreq d[4];

    (void)state;
    assert_int_equal(tu_ts_start(&ts6, "--host ::1"), 0);
    for (int e = 0; e < 2; e++) {
        int eng = e ? MP_HTTP_NATIVE : MP_HTTP_CURL;
        d[2 * e] = mk("[::1]", ts6.port, "/ok", eng);
        d[2 * e + 1] = mk("dual.test", ts6.port, "/echo", eng);
    }
    run(p, d, 4);
    tu_ts_stop(&ts6);
    for (int i = 0; i < 4; i++)
        if (d[i].rc != 0 || d[i].status != 200)
            fail_msg("%s (engine %d): %s %ld %s", d[i].url, d[i].engine,
                     mp_err_name(d[i].rc), d[i].status, d[i].body);
    assert_non_null(strstr(d[3].body, "\"Host\":\"dual.test:"));
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* mpfetch end to end, on each engine: --dns-servers (given as curl's
   abbreviation --dns-server) answers www.test, --resolve pins pinned.test
   with no query, a name nobody knows is MP_EDNS in its record. */
static void test_mpfetch_names(void **state)
{
    static const char *const engines[3] = {"auto", "native", "curl"};
    const char *bin = e2e_mpfetch();
    char in[600], out[600], err[600], servers[64], pin[96];
    FILE *f;

    (void)state;
    if (!bin)
        skip();
    snprintf(in, sizeof in, "%s/in.txt", g_dir);
    snprintf(out, sizeof out, "%s/out.jsonl", g_dir);
    snprintf(err, sizeof err, "%s/err.txt", g_dir);
    snprintf(servers, sizeof servers, "127.0.0.1:%d", g_dns.port);
    snprintf(pin, sizeof pin, "pinned2.test:%d:127.0.0.1", g_ts.port);
    assert_non_null(f = fopen(in, "w"));
    fprintf(f, "http://www.test:%d/ok\nhttp://pinned2.test:%d/echo\n"
               "http://nx.example:%d/ok\n",
            g_ts.port, g_ts.port, g_ts.port);
    fclose(f);
    for (int e = 0; e < 3; e++) {
        char *argv[] = {(char *)bin, "-w", "2", "-c", "4", "--engine",
                        (char *)engines[e], "--dns-server", servers,
                        "--resolve", pin, "--body", "inline", in, NULL};
        assert_int_equal(e2e_run(argv, NULL, out, err), 0);
        json_t *recs = e2e_records(out);
        assert_non_null(recs);
        const long long want[] = {1, 2, 3};
        e2e_assert_exactly(recs, want, 3, 3);
        json_t *r1 = e2e_by_line(recs, 1), *r2 = e2e_by_line(recs, 2);
        json_t *r3 = e2e_by_line(recs, 3);
        assert_int_equal(json_integer_value(json_object_get(r1, "status")),
                         200);
        assert_int_equal(json_integer_value(json_object_get(r2, "status")),
                         200);
        assert_non_null(strstr(e2e_str(r2, "body"),
                               "\"Host\":\"pinned2.test:"));
        assert_string_equal(e2e_error_code(r3), "MP_EDNS");
        json_decref(recs);
    }
    assert_int_equal(tu_dns_queries(g_log, "A", "pinned2.test"), 0);
    assert_true(tu_dns_queries(g_log, "A", "www.test") >= 1);
    assert_true(tu_dns_queries(g_log, "A", "nx.example") >= 1);

    /* the options' own checks */
    char *bad1[] = {(char *)bin, "--resolve", "x.test:80", in, NULL};
    char *bad2[] = {(char *)bin, "--dns-servers", "127.0.0.1:x", in, NULL};
    assert_int_equal(e2e_run(bad1, NULL, out, err), 2);
    char *msg = e2e_slurp(err, NULL);
    assert_non_null(strstr(msg, "--resolve wants HOST:PORT:ADDR"));
    free(msg);
    assert_int_equal(e2e_run(bad2, NULL, out, err), 2);
    msg = e2e_slurp(err, NULL);
    assert_non_null(strstr(msg, "--dns-servers wants"));
    free(msg);
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    if (!(g_dir = tu_tmpdir()))
        return -1;
    snprintf(g_log, sizeof g_log, "%s/dns.log", g_dir);
    char args[600];
    snprintf(args, sizeof args, "--log %s", g_log);
    if (tu_ts_start(&g_ts, NULL) != 0)
        return -1;
    return tu_dns_start(&g_dns, args) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tu_ts_stop(&g_ts);
    tu_ts_stop(&g_dns);
    tu_rm_rf(g_dir);
    free(g_dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        TU_BOUNDED(test_names_resolve, 60),
        TU_BOUNDED(test_failures, 60),
        TU_BOUNDED(test_resolve_entries, 60),
        TU_BOUNDED(test_cache, 60),
        TU_BOUNDED(test_coalesced, 90),
        TU_BOUNDED(test_ipv6, 60),
        TU_BOUNDED(test_mpfetch_names, 200),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
