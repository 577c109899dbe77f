/*
 * test_http_idle: idle connections are bounded (mp_http_set_idle). One
 * worker fetches 3,000 distinct host names (--resolve entries h0.test ..
 * h2999.test, all on one mp-testserver), one request each, with the
 * default options: on old main every finished keep-alive connection
 * stayed open, so the worker's descriptors grew with the hosts. Now the
 * worker's open descriptors (counted in /proc/self/fd by each task) stay
 * within the idle count plus the requests in flight plus a few, on both
 * engines; every record is a 200. And a short idle age closes the native
 * engine's idle connections (the server sees them go) without changing
 * the next record: a reused connection, and a new one after the age,
 * give the same record as the first; over TLS, the age closes an HTTP/2
 * connection without a stream and an HTTP/1.1 one (nginx).
 *
 * What differs, on purpose (mpool.h, mp_http_set_idle): the libcurl
 * engine keeps 64 idle connections per curl multi handle of 32
 * transfers, whatever max_idle says, and closes an old one only when it
 * next looks for a connection, in whole seconds; so the age test runs on
 * the native engine only.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mpool.h"
#include "seen.h"
#include "testutil.h"

#define N_NAMES 3000
#define CONC 64         /* the default concurrency (MP_DEFAULT_CONCURRENCY) */
#define IDLE (2 * CONC) /* the default max_idle for it */
/* descriptors besides the connections, beyond the baseline: a DNS
   socket, a body file... */
#define SLACK 16

static tu_ts g_ts;

/* What each worker's init sets: the names, and mp_http_set_idle's. */
typedef struct idle_cfg {
    int port;
    unsigned max_idle, age_ms; /* 0: the defaults */
} idle_cfg;

static int init_idle(const void *arg, size_t len)
{
    const idle_cfg *c = arg;
    char (*e)[48] = malloc(N_NAMES * sizeof *e);
    const char **ep = malloc(N_NAMES * sizeof *ep);
    int rc = MP_ENOMEM;

    if (len != sizeof *c || !e || !ep)
        goto out;
    for (int i = 0; i < N_NAMES; i++) {
        snprintf(e[i], sizeof e[i], "h%d.test:%d:127.0.0.1", i, c->port);
        ep[i] = e[i];
    }
    if ((rc = mp_http_set_resolve(ep, N_NAMES)) == 0)
        rc = mp_http_set_idle(c->max_idle, c->age_ms);
out:
    free(e);
    free(ep);
    return rc;
}

/* A task's answer: the request's record (url "" : none) and the worker's
   open descriptors once it had it. */
typedef struct fd_seen {
    seen s;
    long fds;
} fd_seen;

/* Returns the calling process's open descriptors. */
static long count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    long n = 0;

    if (!d)
        return -1;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own */
}

static int fd_task(mp_task *t, const void *in, size_t len)
{
    const seen_req *r = in;
    fd_seen o;

    if (len != sizeof *r)
        return mp_fail(t, MP_EINVAL, "bad input");
    memset(&o, 0, sizeof o);
    if (r->url[0])
        seen_http(t, r, &o.s);
    o.fds = count_fds();
    return mp_return(t, &o, sizeof o);
}

static mp_pool *pool_new(int conc, const idle_cfg *c)
{
    mp_pool_options o = {.workers = 1,
                         .concurrency = conc,
                         .init = init_idle,
                         .init_arg = c,
                         .init_len = sizeof *c};
    mp_pool *p = NULL;

    assert_int_equal(mp_pool_create(&p, &o), 0);
    return p;
}

/* Runs r in p; returns its answer in *o. */
static void run_one(mp_pool *p, const seen_req *r, fd_seen *o)
{
    char why[200];

    tu_bound(60, "one request");
    if (tu_apply_copy(p, fd_task, r, sizeof *r, o, sizeof *o, why,
                      sizeof why) != 0)
        fail_msg("%s", why);
    tu_unbound();
}

/* Returns the server's open connections, its own /stats one left out. */
static long server_open(void)
{
    long open = -1;

    assert_int_equal(tu_ts_get_open(&g_ts, &open), 0);
    return open - 1;
}

/* Fetches h0..h2999 once each on engine in one worker of CONC tasks with
   the default idle options; asserts every record is a 200 from engine and
   the worker never held more than base + idle + CONC + SLACK
   descriptors, base its count before any request. */
static void run_hosts(int engine, long idle)
{
    idle_cfg c = {.port = g_ts.port};
    mp_pool *p = pool_new(0, &c);
    seen_req *jobs = calloc(N_NAMES, sizeof *jobs);
    mp_buf *in = calloc(N_NAMES, sizeof *in);
    mp_result *out = calloc(N_NAMES, sizeof *out);
    seen_req none;
    fd_seen base;
    long most = 0;
    uint64_t died;

    assert_true(jobs && in && out);
    memset(&none, 0, sizeof none);
    run_one(p, &none, &base);
    assert_true(base.fds > 0);
    for (int i = 0; i < N_NAMES; i++) {
        snprintf(jobs[i].url, sizeof jobs[i].url,
                 "http://h%d.test:%d/bytes/100", i, g_ts.port);
        jobs[i].engine = engine;
        in[i] = (mp_buf){&jobs[i], sizeof jobs[i]};
    }
    tu_bound(200, "3,000 hosts");
    assert_int_equal(mp_pool_map(p, fd_task, in, N_NAMES, out), 0);
    tu_unbound();
    for (int i = 0; i < N_NAMES; i++) {
        const fd_seen *o = out[i].data;
        if (out[i].status != 0)
            fail_msg("task %d: %s", i, mp_strerror(out[i].status));
        assert_int_equal(out[i].len, sizeof *o);
        if (o->s.rc != 0)
            fail_msg("request %d: %s", i, o->s.message);
        assert_int_equal(o->s.status, 200);
        assert_int_equal(o->s.engine, engine);
        if (o->fds > most)
            most = o->fds;
        mp_result_clear(&out[i]);
    }
    died = tu_pool_destroy_deaths(p); /* before the assertions: its
                                         connections go */
    assert_int_equal(died, 0);
    print_message("engine %d: %ld descriptors at most (%ld before)\n",
                  engine, most, base.fds);
    assert_true(most <= base.fds + idle + CONC + SLACK);
    free(jobs);
    free(in);
    free(out);
}

/* The native engine keeps IDLE idle connections at most. */
static void test_many_hosts_native(void **state)
{
    (void)state;
    run_hosts(MP_HTTP_NATIVE, IDLE);
}

/* The libcurl engine: 64 per multi handle of 32 transfers, CONC / 32 of
   them (http_curl.c): the same bound. */
static void test_many_hosts_curl(void **state)
{
    (void)state;
    run_hosts(MP_HTTP_CURL, 64 * (CONC / 32));
}

/* A 100 ms idle age: 20 hosts fetched, their connections idle; the
   server sees every one of them closed (polled, under the test's bound:
   on old main they stayed open). A request reused on a connection, and
   one on a new connection after the age, give the first one's record. */
static void test_idle_age(void **state)
{
    idle_cfg c = {.port = g_ts.port, .age_ms = 100};
    mp_pool *p = pool_new(4, &c);
    seen_req r;
    fd_seen first, again, later;

    (void)state;
    memset(&r, 0, sizeof r);
    r.engine = MP_HTTP_NATIVE;
    r.want_headers = 1;
    for (int i = 0; i < 20; i++) {
        snprintf(r.url, sizeof r.url, "http://h%d.test:%d/bytes/100", i,
                 g_ts.port);
        run_one(p, &r, &first);
        if (first.s.rc != 0)
            fail_msg("request %d: %s", i, first.s.message);
    }
    run_one(p, &r, &again); /* h19 at once: reused (or new, if aged) */
    seen_compare("reused", &first.s, &again.s, 1);
    tu_bound(60, "the idle connections to close");
    while (server_open() > 0) {
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    tu_unbound();
    run_one(p, &r, &later); /* a new connection */
    seen_compare("after the age", &first.s, &later.s, 1);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* An HTTPS request r on the native engine, then its worker's
   descriptors polled until they are back to what they were before it
   (the connection aged out), under the task's deadline. */
static int age_task(mp_task *t, const void *in, size_t len)
{
    const seen_req *r = in;
    long base = count_fds();
    seen o;
    int rc;

    if (len != sizeof *r)
        return mp_fail(t, MP_EINVAL, "bad input");
    seen_http(t, r, &o);
    if (o.rc != 0 || o.status != 200)
        return mp_fail(t, MP_EHTTP, "%s: %ld %s", r->url, o.status,
                       o.message);
    while (count_fds() > base)
        if ((rc = mp_sleep(t, 10)) != 0)
            return mp_fail(t, rc, "%ld descriptors, %ld before", count_fds(),
                           base);
    return mp_return(t, &o.http_version, sizeof o.http_version);
}

/* The idle age closes TLS connections too: an HTTP/2 one without a
   stream (closed through the HTTP/2 side) and an HTTP/1.1 one, on
   nginx; the worker's descriptors come back down under a 30 s task
   deadline. */
static void test_idle_age_tls(void **state)
{
    idle_cfg c = {.port = g_ts.port, .age_ms = 100};
    char *dir = tu_tmpdir();
    tu_nginx n;
    mp_pool_options o = {.workers = 1,
                         .concurrency = 4,
                         .task_timeout_ms = 30000,
                         .init = init_idle,
                         .init_arg = &c,
                         .init_len = sizeof c};
    mp_pool *p = NULL;
    seen_req r;
    long version;
    char why[300];

    (void)state;
    assert_non_null(dir);
    if (tu_nginx_start(&n, dir, 1) != 0) {
        tu_rm_rf(dir);
        free(dir);
        skip();
    }
    assert_int_equal(mp_pool_create(&p, &o), 0);
    for (int h2 = 1; h2 >= 0; h2--) {
        memset(&r, 0, sizeof r);
        r.engine = MP_HTTP_NATIVE;
        snprintf(r.url, sizeof r.url, "https://127.0.0.1:%d/1k",
                 h2 ? n.tls_port : n.tls1_port);
        snprintf(r.cafile, sizeof r.cafile, "%s", n.cafile);
        tu_bound(60, "a TLS connection to age out");
        if (tu_apply_copy(p, age_task, &r, sizeof r, &version,
                          sizeof version, why, sizeof why) != 0)
            fail_msg("%s", why);
        tu_unbound();
        assert_int_equal(version, h2 ? 20 : 11); /* as curl says */
    }
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
    tu_nginx_stop(&n);
    tu_rm_rf(dir);
    free(dir);
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN);
    if (mp_init() != 0) /* the forkserver before nginx's watchdog */
        return -1;
    return tu_ts_start(&g_ts, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    tu_ts_stop(&g_ts);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_hosts_native),
        cmocka_unit_test(test_many_hosts_curl),
        cmocka_unit_test(test_idle_age),
        cmocka_unit_test(test_idle_age_tls),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
