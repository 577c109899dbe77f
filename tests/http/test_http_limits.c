/*
 * test_http_limits: mp_http_set_limits on the native engine (issue #20).
 * Requests wait for a connection the limits allow and never leave the
 * native engine for it: the server (mp-testserver's max_open, the most
 * connections open at once at a request) never sees more than the limit,
 * every request succeeds, and each response says MP_HTTP_NATIVE. A
 * waiting request whose task deadline passes, or that is canceled, ends
 * (MP_ETIMEDOUT) and takes nothing with it, on both engines, under the
 * per-host limit, the total, and both: no worker dies, the requests that
 * waited behind it still start, the next request gets the connection.
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

#define N_NAMES 4 /* host names of the total test, all on the server */

static tu_ts g_ts;

/* The limits each worker sets (init_arg), and the names it resolves to
   the server (curl's --resolve). */
typedef struct limits {
    unsigned total, per_host;
    int port;
} limits;

static int init_limits(const void *arg, size_t len)
{
    const limits *l = arg;
    char e[N_NAMES][64];
    const char *ep[N_NAMES];
    int rc;

    if (len != sizeof *l)
        return MP_EINVAL;
    for (int i = 0; i < N_NAMES; i++) {
        snprintf(e[i], sizeof e[i], "h%d.test:%d:127.0.0.1", i, l->port);
        ep[i] = e[i];
    }
    if ((rc = mp_http_set_resolve(ep, N_NAMES)) != 0)
        return rc;
    return mp_http_set_limits(l->total, l->per_host);
}

/* Creates a pool of workers x conc tasks whose workers set l. */
static mp_pool *pool_new(int workers, int conc, unsigned task_timeout_ms,
                         const limits *l)
{
    mp_pool_options o = {.workers = workers,
                         .concurrency = conc,
                         .task_timeout_ms = task_timeout_ms,
                         .init = init_limits,
                         .init_arg = l,
                         .init_len = sizeof *l};
    mp_pool *p = NULL;

    assert_int_equal(mp_pool_create(&p, &o), 0);
    return p;
}

/* Runs jobs[0..n) in p into out (each a `seen`, or the task's status). */
static void run_all(mp_pool *p, const seen_req *jobs, size_t n, mp_result *out)
{
    mp_buf *in = calloc(n, sizeof *in);

    assert_non_null(in);
    for (size_t i = 0; i < n; i++)
        in[i] = (mp_buf){&jobs[i], sizeof jobs[i]};
    tu_bound(120, "the limited requests");
    assert_int_equal(mp_pool_map(p, seen_task, in, n, out), 0);
    tu_unbound();
    free(in);
}

/* Asserts every result of out[0..n) is a 200 from the native engine,
   and clears them. */
static void all_native_ok(mp_result *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const seen *o = (const seen *)out[i].data;
        if (out[i].status != 0)
            fail_msg("task %zu: %s", i, mp_strerror(out[i].status));
        assert_int_equal(out[i].len, sizeof *o);
        if (o->rc != 0)
            fail_msg("request %zu: %s", i, o->message);
        assert_int_equal(o->status, 200);
        assert_int_equal(o->engine, MP_HTTP_NATIVE);
        mp_result_clear(&out[i]);
    }
}

/* Asserts that r is a 200 from engine, and clears it. */
static void ok_from(mp_result *r, int engine)
{
    const seen *o = (const seen *)r->data;

    if (r->status != 0)
        fail_msg("task: %s", mp_strerror(r->status));
    assert_int_equal(r->len, sizeof *o);
    if (o->rc != 0)
        fail_msg("request: %s", o->message);
    assert_int_equal(o->status, 200);
    assert_int_equal(o->engine, engine);
    mp_result_clear(r);
}

/* Returns the server's peak of open connections since the last call. */
static long peak(void)
{
    long m = -1;

    assert_int_equal(tu_ts_get_max_open(&g_ts, &m), 0);
    return m;
}

/* Runs N requests in a pool of workers x conc tasks under l, request i
   to host name (i / run) % N_NAMES of the server ("127.0.0.1" when run
   is 0), every slow-th one held ms by the server (so transfers pile up),
   the others 100 bytes. Asserts each is a native 200 and returns the
   most connections the server saw open at once. */
static long run_limited(const limits *l, int workers, int conc, int run,
                        int slow, int ms)
{
    enum { N = 2000 };
    mp_pool *p = pool_new(workers, conc, 0, l);
    seen_req *jobs = calloc(N, sizeof *jobs);
    mp_result *out = calloc(N, sizeof *out);
    char host[32];
    long m;

    assert_non_null(jobs);
    assert_non_null(out);
    for (int i = 0; i < N; i++) {
        snprintf(host, sizeof host, run ? "h%d.test" : "127.0.0.1",
                 run ? (i / run) % N_NAMES : 0);
        if (i % slow)
            snprintf(jobs[i].url, sizeof jobs[i].url,
                     "http://%s:%d/bytes/100", host, g_ts.port);
        else
            snprintf(jobs[i].url, sizeof jobs[i].url,
                     "http://%s:%d/delay/%d", host, g_ts.port, ms);
    }
    peak();
    run_all(p, jobs, N, out);
    m = peak();
    all_native_ok(out, N);
    print_message("total %u, per host %u, %d worker(s): the server saw at "
                  "most %ld at once\n", l->total, l->per_host, workers, m);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
    free(jobs);
    free(out);
    return m;
}

/* Per host: 1 worker x 64 tasks, 2,000 requests to one host (a third of
   them held 20 ms), at most 3 connections to it. */
static void test_per_host_limit(void **state)
{
    limits l = {.total = 0, .per_host = 3, .port = g_ts.port};
    long m = run_limited(&l, 1, 64, 0, 3, 20);

    assert_true(m >= 1 && m <= 3);
}

/* Total: 1 worker x 64 tasks, 2,000 requests over four host names of the
   server, at most 2 connections in all: a host's idle connection is
   closed to make room for another's (else nothing would move). */
static void test_total_limit(void **state)
{
    limits l = {.total = 2, .per_host = 0, .port = g_ts.port};
    long m = run_limited(&l, 1, 64, 1, 5, 5);

    assert_true(m >= 1 && m <= 2);
}

/* Both at once on 2 workers (each worker its own limits, as documented):
   per host 2, total 3, over the four names in runs of 7: the server sees
   at most 6. */
static void test_both_limits(void **state)
{
    limits l = {.total = 3, .per_host = 2, .port = g_ts.port};
    long m = run_limited(&l, 2, 32, 7, 4, 5);

    assert_true(m >= 1 && m <= 3 * 2);
}

/* A total of 1 and a task deadline of 400 ms: two requests to /hang, one
   on the connection and one waiting for it, both tasks end MP_ETIMEDOUT
   at the deadline (as on libcurl); then a request to another host gets the connection (the
   waiting one left the queue, the hung one's connection closed). */
static void test_deadline_while_waiting(void **state)
{
    limits l = {.total = 1, .per_host = 0, .port = g_ts.port};
    mp_pool *p = pool_new(1, 4, 400, &l);
    seen_req jobs[2];
    mp_result out[2];

    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < 2; i++)
        snprintf(jobs[i].url, sizeof jobs[i].url, "http://h%d.test:%d/hang",
                 i, g_ts.port);
    run_all(p, jobs, 2, out);
    for (int i = 0; i < 2; i++) {
        if (out[i].status != MP_ETIMEDOUT)
            fail_msg("task %d: %s, not MP_ETIMEDOUT", i,
                     mp_err_name(out[i].status));
        mp_result_clear(&out[i]);
    }
    snprintf(jobs[0].url, sizeof jobs[0].url, "http://h2.test:%d/ok",
             g_ts.port);
    run_all(p, jobs, 1, out);
    all_native_ok(out, 1);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* Fills s with a GET of path on host name h<i> of the server through
   engine. */
static void req_at(seen_req *s, int i, const char *path, int engine)
{
    memset(s, 0, sizeof *s);
    snprintf(s->url, sizeof s->url, "http://h%d.test:%d%s", i, g_ts.port,
             path);
    s->engine = engine;
}

/* One case of waiting under the limits: requests to /hang on host names
   h<host[i]> (in this order: the first ones take the connections the
   limits allow, the others wait), then one to /ok on h<after> that waits
   behind them. */
typedef struct wait_case {
    unsigned total, per_host;
    int n;
    int host[4];
    int after;
} wait_case;

/* (a) per host 1: the second request to h0 waits in its host's queue. */
static const wait_case k_per_host = {0, 1, 2, {0, 0}, 0};
/* (b) total 1: h1's request waits in its host's queue and the total's. */
static const wait_case k_total = {1, 0, 2, {0, 1}, 1};
/* (c) total 2, per host 1: h0's second request waits for its host's
   room, h2's for the total's (h1's took the second connection). */
static const wait_case k_both = {2, 1, 4, {0, 0, 1, 2}, 2};

/* A case of the list in main: k through engine. */
typedef struct engine_case {
    const wait_case *k;
    int engine;
} engine_case;

/* Creates a pool of 1 worker x conc tasks under k's limits. */
static mp_pool *case_pool(const wait_case *k, int conc, unsigned timeout_ms)
{
    limits l = {.total = k->total, .per_host = k->per_host,
                .port = g_ts.port};

    return pool_new(1, conc, timeout_ms, &l); /* l is copied */
}

/* Deadline: every request of the case (those on a connection and those
   waiting) in its own task, under a task deadline of 400 ms: each ends
   MP_ETIMEDOUT, then the request after them gets a connection; no
   worker died. */
static void test_deadline(void **state)
{
    const engine_case *e = *state;
    const wait_case *k = e->k;
    int engine = e->engine;
    mp_pool *p = case_pool(k, 8, 400);
    seen_req jobs[4];
    mp_result out[4];

    for (int i = 0; i < k->n; i++)
        req_at(&jobs[i], k->host[i], "/hang", engine);
    run_all(p, jobs, (size_t)k->n, out);
    for (int i = 0; i < k->n; i++) {
        if (out[i].status != MP_ETIMEDOUT)
            fail_msg("task %d: %s, not MP_ETIMEDOUT", i,
                     mp_err_name(out[i].status));
        mp_result_clear(&out[i]);
    }
    req_at(&jobs[0], k->after, "/ok", engine);
    run_all(p, jobs, 1, out);
    ok_from(&out[0], engine);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* What cancel_task does: k's /hang requests and the one after them. */
typedef struct cancel_in {
    int n;
    seen_req hang[4], after;
} cancel_in;

/* What it gives: each /hang child's join code (and its status), and the
   request after them. */
typedef struct cancel_out {
    int join_rc[4], join_status[4];
    seen after;
} cancel_out;

/*
 * An mp_task_fn: runs each of in's /hang requests as a child, then the
 * request after them as one; cancels the /hang children last first (a
 * join with a short timeout: they never answer), so that the waiting
 * ones are canceled while they wait and the ones on a connection last;
 * then joins the last child, which must get a connection now. Returns a
 * cancel_out.
 */
static int cancel_task(mp_task *t, const void *in, size_t len)
{
    const cancel_in *c = in;
    cancel_out o;
    mp_child *ch[5];
    mp_result r;
    int rc;

    if (len != sizeof *c)
        return mp_fail(t, MP_EINVAL, "cancel_task: %zu bytes", len);
    memset(&o, 0, sizeof o);
    for (int i = 0; i <= c->n; i++)
        if ((rc = mp_spawn(t, seen_task, i < c->n ? &c->hang[i] : &c->after,
                           sizeof(seen_req), &ch[i])) != 0)
            return mp_fail(t, rc, "mp_spawn: %s", mp_strerror(rc));
    for (int i = c->n - 1; i >= 0; i--) {
        o.join_rc[i] = mp_join(ch[i], &r, 20);
        o.join_status[i] = r.status;
        mp_result_clear(&r);
    }
    if ((rc = mp_join(ch[c->n], &r, 0)) != 0 || r.len != sizeof o.after)
        return mp_fail(t, rc ? rc : MP_EPROTO, "mp_join: %s, %zu bytes",
                       mp_strerror(rc ? rc : r.status), r.len);
    memcpy(&o.after, r.data, sizeof o.after);
    mp_result_clear(&r);
    return mp_return(t, &o, sizeof o);
}

/* Cancel: the case's requests as children of one task (a task deadline
   of 10 s, never reached when all goes well): each /hang child canceled
   while it waits or holds its connection, its join MP_ETIMEDOUT; the
   request that waited behind them then ends 200 (it did not stay behind
   a canceled one); no worker died. */
static void test_cancel(void **state)
{
    const engine_case *e = *state;
    const wait_case *k = e->k;
    int engine = e->engine;
    mp_pool *p = case_pool(k, 1, 10000);
    cancel_in c;
    cancel_out o;
    char why[200];

    memset(&c, 0, sizeof c);
    c.n = k->n;
    for (int i = 0; i < k->n; i++)
        req_at(&c.hang[i], k->host[i], "/hang", engine);
    req_at(&c.after, k->after, "/ok", engine);
    tu_bound(60, "the canceled requests");
    if (tu_apply_copy(p, cancel_task, &c, sizeof c, &o, sizeof o, why,
                      sizeof why) != 0)
        fail_msg("cancel_task: %s", why);
    tu_unbound();
    for (int i = 0; i < k->n; i++)
        if (o.join_rc[i] != MP_ETIMEDOUT || o.join_status[i] != MP_ETIMEDOUT)
            fail_msg("child %d: join %s, status %s", i,
                     mp_err_name(o.join_rc[i]), mp_err_name(o.join_status[i]));
    if (o.after.rc != 0)
        fail_msg("the request after them: %s", o.after.message);
    assert_int_equal(o.after.status, 200);
    assert_int_equal(o.after.engine, engine);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* test_deadline and test_cancel under each limit, on each engine. */
#define ENGINE_CASE(fn, kind, engine)                                       \
    {#fn " " #kind " " #engine, fn, NULL, NULL,                             \
     (void *)&(const engine_case){&k_##kind, MP_HTTP_##engine}}
#define ENGINE_CASES(fn, kind)                                              \
    ENGINE_CASE(fn, kind, NATIVE), ENGINE_CASE(fn, kind, CURL)

static int setup(void **state)
{
    signal(SIGPIPE, SIG_IGN);
    return tu_ts_start(&g_ts, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    tu_ts_stop(&g_ts);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_host_limit),
        cmocka_unit_test(test_total_limit),
        cmocka_unit_test(test_both_limits),
        cmocka_unit_test(test_deadline_while_waiting),
        ENGINE_CASES(test_deadline, per_host),
        ENGINE_CASES(test_deadline, total),
        ENGINE_CASES(test_deadline, both),
        ENGINE_CASES(test_cancel, per_host),
        ENGINE_CASES(test_cancel, total),
        ENGINE_CASES(test_cancel, both),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
