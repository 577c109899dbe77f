/*
 * test_http: mp_http inside real pools, against the real test server
 * (mp-testserver) and a local TLS server. Tasks get a fixed-size request
 * description and return a fixed-size summary of the response, so each
 * assertion runs in the test process on what a worker saw.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mpool.h"
#include "seen.h"
#include "testutil.h"

/* What a task is asked to fetch. */
typedef struct spec {
    seen_req r;
    char marker[256];   /* kill test: SIGKILL the worker if this is new */
    char kill_url[256]; /* kill test: transfer in flight at the kill */
    unsigned repeat;
} spec;

static tu_ts g_ts;

/* ---- tasks (run in workers) ------------------------------------------- */

/* The task: performs s (s->repeat times, keeping the last) and returns a
   `seen`. */
static int http_task(mp_task *t, const void *in, size_t len)
{
    const spec *s = in;
    seen o;

    if (len != sizeof *s)
        return mp_fail(t, MP_EINVAL, "bad spec");
    for (unsigned i = 0; i < (s->repeat ? s->repeat : 1); i++) {
        seen_http(t, &s->r, &o);
        if (o.rc)
            break;
    }
    return mp_return(t, &o, sizeof o);
}

/* One child of kill_task: role 0 holds a transfer open (/hang on the
   first run, /ok on the re-run, told apart by the marker); role 1 makes one
   quick request, then on the first run creates the marker and SIGKILLs its
   own worker. Role 1 creates the marker only after its own mp_http
   suspended it, so role 0 has started its transfer by then, whichever child
   runs first. */
typedef struct role {
    const spec *s;
    int killer;
} role;

static int kill_child(mp_task *t, const void *in, size_t len)
{
    const role *ro = in;
    mp_http_request q = {.url = ro->s->r.url};
    mp_http_response r;
    int rc, fd;

    if (!ro->killer && access(ro->s->marker, F_OK) != 0)
        q.url = ro->s->kill_url;
    rc = mp_http(t, &q, &r);
    mp_http_response_clear(&r);
    if (ro->killer) {
        fd = open(ro->s->marker, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd >= 0) {
            close(fd);
            kill(getpid(), SIGKILL);
        }
    }
    return rc ? mp_fail(t, rc, "role %d: %s", ro->killer, mp_strerror(rc)) : 0;
}

/* Runs both roles at once; fails with the first child's failure. */
static int kill_task(mp_task *t, const void *in, size_t len)
{
    role ro[2] = {{in, 0}, {in, 1}};
    mp_buf b[2] = {{&ro[0], sizeof ro[0]}, {&ro[1], sizeof ro[1]}};
    mp_result r[2];
    int rc;

    if ((rc = mp_gather(t, kill_child, b, 2, r)) != 0)
        return rc;
    rc = r[0].status ? r[0].status : r[1].status;
    mp_result_clear(&r[0]);
    mp_result_clear(&r[1]);
    return rc;
}

/* For the cancel test: url "/hang" hangs; url "/stats" polls the server
   (bounded) until `repeat` connections are open there, then returns. */
static int cancel_task(mp_task *t, const void *in, size_t len)
{
    const spec *s = in;
    mp_http_request q = {.url = s->r.url};
    mp_http_response r;
    int rc;

    if (!strstr(s->r.url, "/stats"))
        return mp_http(t, &q, &r), mp_http_response_clear(&r), 0;
    for (int i = 0; i < 1000; i++) {
        rc = mp_http(t, &q, &r);
        const char *o = r.body ? strstr(r.body, "\"open\":") : NULL;
        long open = o ? strtol(o + 7, NULL, 10) : -1;
        mp_http_response_clear(&r);
        if (rc)
            return rc;
        if (open >= (long)s->repeat)
            return 0;
        mp_sleep(t, 10);
    }
    return mp_fail(t, MP_ETIMEDOUT, "the /hang requests never arrived");
}

typedef struct cancel_feed {
    spec hang, stats;
    int i, n, got_ok, got_canceled;
} cancel_feed;

static int cancel_next(void *ud, mp_buf *in)
{
    cancel_feed *f = ud;
    if (f->i > f->n)
        return 0;
    const spec *s = f->i++ < f->n ? &f->hang : &f->stats;
    *in = (mp_buf){s, sizeof *s};
    return 1;
}

static int cancel_result(void *ud, size_t index, mp_result *r)
{
    cancel_feed *f = ud;
    f->got_ok += r->status == 0;
    f->got_canceled += r->status == MP_ECANCELED;
    return r->status == 0; /* the /stats task is done: cancel the rest */
}

/* Pool init: 8 connections per host per worker. */
static int limits_8(const void *arg, size_t len)
{
    return mp_http_set_limits(0, 8);
}

/* ---- helpers (test process) ------------------------------------------- */

/* Returns a spec for base + path. */
static spec mkspec(const char *path)
{
    spec s;

    memset(&s, 0, sizeof s);
    snprintf(s.r.url, sizeof s.r.url, "%s%s", g_ts.base, path);
    return s;
}

/* Creates a pool. */
static mp_pool *pool_new(int workers, int conc, unsigned task_timeout,
                         int (*init)(const void *, size_t))
{
    mp_pool_options o = {.workers = workers,
                         .concurrency = conc,
                         .task_timeout_ms = task_timeout,
                         .init = init};
    mp_pool *p = NULL;

    assert_int_equal(mp_pool_create(&p, &o), 0);
    return p;
}

/* Runs one spec in p; asserts the task ran, returns what it saw. */
static seen run(mp_pool *p, const spec *s)
{
    char why[300];
    seen o;

    memset(&o, 0, sizeof o);
    if (tu_apply_copy(p, http_task, s, sizeof *s, &o, sizeof o, why,
                      sizeof why) != 0)
        fail_msg("%s", why);
    return o;
}

/* Asserts that o is a 200 whose body starts with text. */
static void expect_ok(const seen *o, const char *text)
{
    if (o->error)
        fail_msg("%s: %s", mp_err_name(o->error), o->message);
    assert_int_equal(o->status, 200);
    assert_non_null(strstr(o->body, text));
}

/* Returns a loopback TCP port with nothing listening on it. */
static int free_port(void)
{
    int port = tu_free_port();

    assert_true(port > 0);
    return port;
}

/* ---- tests ------------------------------------------------------------ */

static void test_outside_worker(void **state)
{
    mp_http_request q = {.url = "http://127.0.0.1/"};
    mp_http_response r;

    assert_int_equal(mp_http((mp_task *)&q, &q, &r), MP_EINVAL);
    assert_int_equal(r.error, MP_EINVAL);
    assert_non_null(r.message);
    mp_http_response_clear(&r);
    assert_int_equal(mp_http(NULL, &q, &r), MP_EINVAL);
    mp_http_response_clear(&r);
    assert_int_equal(mp_http_set_limits(0, 0), 0);
}

static void test_endpoints(void **state)
{
    mp_pool *p = pool_new(1, 8, 0, NULL);
    spec s;
    seen o;

    o = run(p, (s = mkspec("/ok"), &s));
    expect_ok(&o, "ok\n");
    assert_int_equal(o.body_len, 3);
    assert_int_equal(o.http_version, 11);
    assert_string_equal(o.final_url, s.r.url);
    assert_true(o.t_total_us >= o.t_first_byte_us && o.t_total_us > 0);

    o = run(p, (s = mkspec("/bytes/1000"), &s));
    expect_ok(&o, "abcdefghijklmnopqrstuvwxyzabc");
    assert_int_equal(o.body_len, 1000);
    assert_int_equal(o.bytes_down, 1000);

    o = run(p, (s = mkspec("/status/404"), &s));
    assert_int_equal(o.error, 0);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.status, 404);

    s = mkspec("/status/503?retry_after=7");
    s.r.want_headers = 1;
    o = run(p, &s);
    assert_int_equal(o.status, 503);
    assert_non_null(strstr(o.headers, "Retry-After: 7\r\n"));
    assert_memory_equal(o.headers, "HTTP/1.1 503", 12);

    s = mkspec("/delay/100");
    o = run(p, &s);
    expect_ok(&o, "ok");
    assert_true(o.t_total_us >= 100000);

    s = mkspec("/redirect/3");
    s.r.follow = 1;
    s.r.want_headers = 1;
    o = run(p, &s);
    expect_ok(&o, "ok");
    assert_int_equal(o.redirects, 3);
    assert_non_null(strstr(o.final_url, "/redirect/0"));
    /* only the final response's header block */
    assert_memory_equal(o.headers, "HTTP/1.1 200", 12);
    assert_null(strstr(o.headers, "Location"));

    o = run(p, (s = mkspec("/redirect/3"), &s));
    assert_int_equal(o.error, 0);
    assert_int_equal(o.status, 302);
    assert_int_equal(o.redirects, 0);

    o = run(p, (s = mkspec("/chunked/100000"), &s));
    expect_ok(&o, "abcdef");
    assert_int_equal(o.body_len, 100000);

    s = mkspec("/gzip");
    s.r.compressed = 1;
    o = run(p, &s);
    expect_ok(&o, "hello gzip\nhello gzip\n");
    assert_int_equal(o.body_len, 11 * 200);
    assert_true(o.bytes_down < o.body_len);

    s = mkspec("/echo");
    snprintf(s.r.method, sizeof s.r.method, "PUT");
    snprintf(s.r.header[0], sizeof s.r.header[0], "X-Test: yes");
    snprintf(s.r.body, sizeof s.r.body, "hello body");
    o = run(p, &s);
    expect_ok(&o, "\"method\":\"PUT\"");
    assert_non_null(strstr(o.body, "\"X-Test\":\"yes\""));
    assert_non_null(strstr(o.body, "\"body\":\"hello body\""));
    assert_null(strstr(o.body, "Expect"));

    s = mkspec("/echo");
    snprintf(s.r.body, sizeof s.r.body, "a=1");
    o = run(p, &s);
    expect_ok(&o, "\"method\":\"POST\"");
    assert_non_null(strstr(o.body, "\"body\":\"a=1\""));

    s = mkspec("/ok");
    snprintf(s.r.method, sizeof s.r.method, "HEAD");
    o = run(p, &s);
    assert_int_equal(o.status, 200);
    assert_int_equal(o.body_len, 0);

    s = mkspec("/bytes/5000");
    s.r.no_body = 1;
    o = run(p, &s);
    assert_int_equal(o.status, 200);
    assert_true(o.body_null);
    assert_int_equal(o.body_len, 5000);

    s = mkspec("");
    snprintf(s.r.url, sizeof s.r.url, "%s/flaky/http-%d/1", g_ts.base,
             (int)getpid());
    o = run(p, &s);
    assert_int_equal(o.status, 503);
    o = run(p, &s);
    expect_ok(&o, "ok");

    o = run(p, (s = mkspec("/stats"), &s));
    expect_ok(&o, "\"connections\":");

    /* many transfers in a row from one task: the drain loop re-adds */
    s = mkspec("/bytes/10");
    s.repeat = 50;
    o = run(p, &s);
    expect_ok(&o, "abcdefghij");
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

static void test_body_path(void **state)
{
    mp_pool *p = pool_new(1, 4, 0, NULL);
    char dir[] = "/tmp/mp_http_XXXXXX", buf[4096];
    spec s;
    seen o;
    FILE *f;
    size_t n;

    assert_non_null(mkdtemp(dir));
    s = mkspec("/bytes/3000");
    snprintf(s.r.body_path, sizeof s.r.body_path, "%s/b", dir);
    o = run(p, &s);
    assert_int_equal(o.error, 0);
    assert_true(o.body_null);
    assert_int_equal(o.body_len, 3000);
    assert_non_null(f = fopen(s.r.body_path, "rb"));
    n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    assert_int_equal(n, 3000);
    assert_memory_equal(buf, "abcdefghijklmnopqrstuvwxyzab", 28);
    unlink(s.r.body_path);

    snprintf(s.r.body_path, sizeof s.r.body_path, "%s/no/such/dir/b", dir);
    o = run(p, &s);
    assert_int_equal(o.error, MP_EIO);
    assert_non_null(strstr(o.message, "create"));
    rmdir(dir);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* Runs n × /bytes/100 in p; asserts every one is a 200 with its 100
   bytes and that the server saw n requests. Returns the connections the
   server saw opened meanwhile. */
static long map_bytes100(mp_pool *p, size_t n)
{
    spec s = mkspec("/bytes/100");
    mp_buf *in = calloc(n, sizeof *in);
    mp_result *out = calloc(n, sizeof *out);
    long c0, r0, c1, r1;

    assert_non_null(in);
    assert_non_null(out);
    for (size_t i = 0; i < n; i++)
        in[i] = (mp_buf){&s, sizeof s};
    assert_int_equal(tu_ts_get_stats(&g_ts, &c0, &r0), 0);
    assert_int_equal(mp_pool_map(p, http_task, in, n, out), 0);
    for (size_t i = 0; i < n; i++) {
        seen o;
        assert_int_equal(out[i].status, 0);
        assert_int_equal(out[i].len, sizeof o);
        memcpy(&o, out[i].data, sizeof o);
        if (o.error)
            fail_msg("request %zu: %s (%s)", i, mp_err_name(o.error),
                     o.message);
        assert_int_equal(o.status, 200);
        assert_int_equal(o.body_len, 100);
        mp_result_clear(&out[i]);
    }
    assert_int_equal(tu_ts_get_stats(&g_ts, &c1, &r1), 0);
    assert_int_equal(r1 - r0, (long)n);
    print_message("keep-alive: %ld connections for %ld requests\n", c1 - c0,
                  r1 - r0);
    free(in);
    free(out);
    return c1 - c0;
}

/* Waits (10 s at most) until the server has no connection open. */
static void wait_none_open(void)
{
    long open = -1;
    struct timespec t0, now;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        assert_int_equal(tu_ts_get_open(&g_ts, &open), 0);
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (open != 0 && now.tv_sec - t0.tv_sec < 10);
    if (open != 0)
        fail_msg("%ld connections still open after 10 s", open);
}

/* 10,000 keep-alive requests, 2 workers x 64 tasks, at most 8 connections
   per host per worker. */
static void test_keepalive_limits(void **state)
{
    mp_pool *p = pool_new(2, 64, 0, limits_8);
    long c = map_bytes100(p, 10000);

    assert_true(c >= 1);
    assert_true(c <= 8 * 2);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* 4,000 keep-alive requests, 1 worker x 200 tasks, no connection limits:
   the transfers spread over several curl multi handles (32 each), every
   request succeeds, and connections are reused: a multi handle keeps the
   connections of its busiest moment, at most its 32 transfers, and a
   200-task burst fills 7 of them. */
static void test_keepalive_many(void **state)
{
    mp_pool *p = pool_new(1, 200, 0, NULL);
    long c = map_bytes100(p, 4000);

    assert_true(c >= 1);
    assert_true(c <= 7 * 32);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
    wait_none_open();
}

/* Each failure has its own code; the pool is fine afterwards. */
static void test_errors(void **state)
{
    mp_pool *p = pool_new(1, 16, 0, NULL);
    enum { N = 9 };
    spec s[N];
    mp_buf in[N];
    mp_result out[N];
    static const int want[N] = {MP_ECONNREFUSED, MP_ETIMEDOUT, MP_ECONNRESET,
                                MP_EDNS,         MP_EREDIRECT, MP_EFBIG,
                                MP_EURL,         MP_EURL,      MP_ETIMEDOUT};
    seen o;

    s[0] = mkspec("");
    snprintf(s[0].r.url, sizeof s[0].r.url, "http://127.0.0.1:%d/",
             free_port());
    s[1] = mkspec("/hang");
    s[1].r.timeout_ms = 300;
    s[2] = mkspec("/drop");
    s[3] = mkspec("");
    snprintf(s[3].r.url, sizeof s[3].r.url, "http://" TU_BAD_NAME "/");
    s[4] = mkspec("/redirect-loop");
    s[4].r.follow = 1;
    s[4].r.max_redirects = 5;
    s[5] = mkspec("/bytes/2000000");
    s[5].r.max_body = 1000000;
    s[6] = mkspec("");
    snprintf(s[6].r.url, sizeof s[6].r.url, "ftp://127.0.0.1/x");
    s[7] = mkspec("");
    snprintf(s[7].r.url, sizeof s[7].r.url, "http://[::1/");
    s[8] = mkspec("/delay/5000");
    s[8].r.timeout_ms = 200;
    for (int i = 0; i < N; i++)
        in[i] = (mp_buf){&s[i], sizeof s[i]};
    assert_int_equal(mp_pool_map(p, http_task, in, N, out), 0);
    for (int i = 0; i < N; i++) {
        assert_int_equal(out[i].status, 0);
        memcpy(&o, out[i].data, sizeof o);
        if (o.error != want[i])
            fail_msg("%s: got %s (%s), want %s", s[i].r.url,
                     mp_err_name(o.error), o.message, mp_err_name(want[i]));
        assert_int_equal(o.rc, o.error);
        assert_true(o.message[0] != '\0');
        mp_result_clear(&out[i]);
    }
    /* the worker and its curl state are fine */
    for (int i = 0; i < 3; i++) {
        o = run(p, (s[0] = mkspec("/ok"), &s[0]));
        expect_ok(&o, "ok");
    }
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* The pool's task deadline wakes a task blocked in mp_http. */
static void test_task_timeout(void **state)
{
    mp_pool *p = pool_new(1, 4, 400, NULL);
    spec s = mkspec("/hang");
    mp_result r;
    seen o;

    tu_bound(10, "the 400 ms task deadline to end a transfer to /hang");
    assert_int_equal(mp_pool_apply(p, http_task, &s, sizeof s, &r), 0);
    tu_unbound();
    assert_int_equal(r.status, MP_ETIMEDOUT);
    if (r.len == sizeof o) {
        memcpy(&o, r.data, sizeof o);
        assert_int_equal(o.error, MP_ETIMEDOUT);
    }
    mp_result_clear(&r);
    o = run(p, (s = mkspec("/ok"), &s));
    expect_ok(&o, "ok");
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* mp_pool_cancel's path while tasks sit in mp_http: the worker removes
   their transfers (the server sees the connections close) and the pool
   goes on. */
static void test_cancel_in_transfer(void **state)
{
    mp_pool *p = pool_new(1, 32, 0, NULL);
    cancel_feed f = {.hang = mkspec("/hang"), .stats = mkspec("/stats"),
                     .n = 10};

    f.stats.repeat = 10;
    assert_int_equal(mp_pool_imap(p, cancel_task, cancel_next, cancel_result,
                                  &f),
                     MP_ECANCELED);
    assert_int_equal(f.got_ok, 1);
    assert_int_equal(f.got_canceled, 10);
    wait_none_open(); /* the worker dropped the transfers */
    spec ok = mkspec("/ok");
    seen o = run(p, &ok);
    expect_ok(&o, "ok");
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
}

/* A worker killed while a transfer runs: the pool re-runs the task. */
static void test_worker_killed(void **state)
{
    mp_pool *p = pool_new(1, 4, 0, NULL);
    char dir[] = "/tmp/mp_http_XXXXXX";
    spec s = mkspec("/ok");
    mp_pool_stats st;
    mp_result r;

    assert_non_null(mkdtemp(dir));
    snprintf(s.marker, sizeof s.marker, "%s/marker", dir);
    snprintf(s.kill_url, sizeof s.kill_url, "%s/hang", g_ts.base);
    tu_bound(20, "the re-run of a task whose worker was killed mid-transfer");
    assert_int_equal(mp_pool_apply(p, kill_task, &s, sizeof s, &r), 0);
    tu_unbound();
    if (r.status != 0)
        fail_msg("%s: %s", mp_err_name(r.status), r.error ? r.error : "");
    mp_result_clear(&r);
    mp_pool_get_stats(p, &st);
    assert_true(st.workers_died >= 1);
    assert_true(st.tasks_retried >= 1);
    assert_int_equal(access(s.marker, F_OK), 0);
    unlink(s.marker);
    rmdir(dir);
    mp_pool_destroy(p); /* a worker died: the point of this test */
}

/* ---- HTTPS ----------------------------------------------------------- */

/* A local TLS server: nginx (HTTP/2 over ALPN) when installed, else
   `openssl s_server -www` with a CA made at test time. */
typedef struct tls_server {
    tu_nginx nginx;
    pid_t pid; /* s_server */
    FILE *out; /* s_server's stdout, open until it stops */
    int port;
    char *dir;
    char cafile[600];
    char path[8]; /* what to GET */
} tls_server;

/* Runs a shell command made from fmt; returns its exit status. */
static int shell(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    int st;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    st = system(cmd);
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Starts `openssl s_server -www` on a CA-signed certificate for 127.0.0.1
   and waits for its "ACCEPT" line. Returns 0 or -1. */
static int sserver_start(tls_server *ts)
{
    static const char *mk =
        "cd %s && openssl req -x509 -newkey rsa:2048 -nodes -days 2 "
        "-keyout ca.key -out ca.pem -subj /CN=mp-test-ca && "
        "openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr "
        "-subj /CN=127.0.0.1 && printf 'subjectAltName=IP:127.0.0.1\\n' "
        "> ext && openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key "
        "-CAcreateserial -days 2 -extfile ext -out srv.pem";
    char acc[16], cert[600], key[600], line[256];
    char *argv[] = {"openssl", "s_server", "-www", "-accept", acc,
                    "-cert",   cert,       "-key", key,       NULL};
    posix_spawn_file_actions_t fa;
    extern char **environ;
    int pfd[2], rc;

    if (shell(mk, ts->dir) != 0 || pipe(pfd) != 0)
        return -1;
    ts->port = free_port();
    snprintf(acc, sizeof acc, "%d", ts->port);
    snprintf(cert, sizeof cert, "%s/srv.pem", ts->dir);
    snprintf(key, sizeof key, "%s/srv.key", ts->dir);
    snprintf(ts->cafile, sizeof ts->cafile, "%s/ca.pem", ts->dir);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
    posix_spawn_file_actions_addclose(&fa, pfd[0]);
    posix_spawn_file_actions_addclose(&fa, pfd[1]);
    rc = posix_spawnp(&ts->pid, "openssl", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(pfd[1]);
    ts->out = fdopen(pfd[0], "r");
    if (rc != 0 || !ts->out)
        return -1;
    while (fgets(line, sizeof line, ts->out))
        if (strncmp(line, "ACCEPT", 6) == 0)
            return 0;
    return -1;
}

/* Starts nginx with TLS, or s_server. Returns 0 or -1 (neither works). */
static int tls_start(tls_server *ts)
{
    if (!(ts->dir = tu_tmpdir()))
        return -1;
    if (tu_nginx_start(&ts->nginx, ts->dir, 1) == 0 && ts->nginx.tls_port) {
        ts->port = ts->nginx.tls_port;
        snprintf(ts->cafile, sizeof ts->cafile, "%s", ts->nginx.cafile);
        snprintf(ts->path, sizeof ts->path, "/1k");
        return 0;
    }
    tu_nginx_stop(&ts->nginx);
    snprintf(ts->path, sizeof ts->path, "/");
    return sserver_start(ts);
}

static void tls_stop(tls_server *ts)
{
    tu_nginx_stop(&ts->nginx);
    if (ts->pid > 0) {
        kill(ts->pid, SIGTERM);
        waitpid(ts->pid, NULL, 0);
    }
    if (ts->out)
        fclose(ts->out);
    if (ts->dir)
        tu_rm_rf(ts->dir);
    free(ts->dir);
}

/* Verification fails without the CA (MP_ETLS) and succeeds with it. */
static void test_https(void **state)
{
    tls_server ts;
    mp_pool *p;
    spec s;
    seen o;

    memset(&ts, 0, sizeof ts);
    if (tls_start(&ts) != 0) {
        tls_stop(&ts);
        skip();
    }
    print_message("TLS server: %s\n", ts.nginx.pid ? "nginx" : "s_server");
    p = pool_new(1, 4, 0, NULL);
    s = mkspec("");
    snprintf(s.r.url, sizeof s.r.url, "https://127.0.0.1:%d%s", ts.port,
             ts.path);
    o = run(p, &s);
    if (o.error != MP_ETLS)
        fail_msg("without the CA: %s (%s)", mp_err_name(o.error), o.message);
    assert_true(o.message[0] != '\0');

    snprintf(s.r.cafile, sizeof s.r.cafile, "%s", ts.cafile);
    s.repeat = 3; /* TLS sessions and connections are reused */
    o = run(p, &s);
    if (o.error)
        fail_msg("%s: %s", mp_err_name(o.error), o.message);
    assert_int_equal(o.status, 200);
    assert_true(o.body_len > 0);
    if (ts.nginx.pid)
        assert_int_equal(o.http_version, 20);
    assert_int_equal(tu_pool_destroy_deaths(p), 0);
    tls_stop(&ts);
}

/* ---- main ------------------------------------------------------------- */

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
        TU_BOUNDED(test_outside_worker, 60),
        TU_BOUNDED(test_endpoints, 60),
        TU_BOUNDED(test_body_path, 60),
        TU_BOUNDED(test_errors, 60),
        TU_BOUNDED(test_task_timeout, 60),
        TU_BOUNDED(test_keepalive_limits, 60),
        TU_BOUNDED(test_keepalive_many, 60),
        TU_BOUNDED(test_cancel_in_transfer, 60),
        TU_BOUNDED(test_worker_killed, 60),
        TU_BOUNDED(test_https, 60),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
