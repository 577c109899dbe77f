/*
 * The pool with real forked workers and real nanomsg pipes: ordering,
 * streaming in bounded memory, concurrency inside workers, init, several
 * pools, the awaits, and argument errors.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "mpool.h"
#include "testutil.h"

/* ---- tasks (they run in workers) ---- */

static int triple(mp_task *t, const void *in, size_t len)
{
    uint64_t v;
    memcpy(&v, in, sizeof(v));
    v *= 3;
    return mp_return(t, &v, sizeof(v));
}

static int noop(mp_task *t, const void *in, size_t len)
{
    return 0;
}

static int running_now, running_max; /* per worker process */

static int sleepy(mp_task *t, const void *in, size_t len)
{
    if (++running_now > running_max)
        running_max = running_now;
    int rc = mp_sleep(t, 200);
    running_now--;
    int out[2] = {running_max, rc};
    return mp_return(t, out, sizeof(out));
}

static char init_seen[64];

static int init_ok(const void *arg, size_t len)
{
    if (len >= sizeof(init_seen))
        return -1;
    memcpy(init_seen, arg, len);
    return 0;
}

static int init_fails(const void *arg, size_t len)
{
    return -1;
}

static int init_fails_saying(const void *arg, size_t len)
{
    return mp_init_fail(MP_EINVAL, "no %.*s here", (int)len,
                        (const char *)arg);
}

static int report_init(mp_task *t, const void *in, size_t len)
{
    return mp_return(t, init_seen, strlen(init_seen) + 1);
}

static int failing(mp_task *t, const void *in, size_t len)
{
    int kind = *(const int *)in;
    if (kind == 1)
        return mp_fail(t, MP_EIO, "disk %d is on fire", 7);
    if (kind == 2)
        return MP_ECONNRESET; /* a bare code: mp_strerror's message */
    return 0;                 /* empty success */
}

/* A child for gather: kind 0 writes to the fd after a short sleep, kind 1
   waits for the fd to be readable. */
typedef struct pipe_job {
    int kind, fd;
} pipe_job;

static int pipe_child(mp_task *t, const void *in, size_t len)
{
    const pipe_job *j = in;
    if (j->kind == 0) {
        mp_sleep(t, 20);
        return write(j->fd, "x", 1) == 1 ? 0 : MP_EIO;
    }
    int rc = mp_wait_fd(t, j->fd, MP_READ, 5000);
    if (rc < 0)
        return rc;
    char c;
    if (read(j->fd, &c, 1) != 1)
        return MP_EIO;
    return mp_return(t, &c, 1);
}

static int gather_pipe(mp_task *t, const void *in, size_t len)
{
    int fds[2];
    if (pipe(fds) < 0)
        return MP_ESYS;
    pipe_job jobs[2] = {{1, fds[0]}, {0, fds[1]}};
    mp_buf bufs[2] = {{&jobs[0], sizeof(jobs[0])}, {&jobs[1], sizeof(jobs[1])}};
    mp_result res[2];
    int rc = mp_gather(t, pipe_child, bufs, 2, res);
    /* and a wait that times out: nothing will ever be written */
    int rc2 = mp_wait_fd(t, fds[0], MP_READ, 30);
    close(fds[0]);
    close(fds[1]);
    char out[4] = {(char)(rc == 0), (char)(res[0].status == 0),
                   res[0].len == 1 ? ((char *)res[0].data)[0] : '?',
                   (char)(rc2 == MP_ETIMEDOUT)};
    mp_result_clear(&res[0]);
    mp_result_clear(&res[1]);
    return mp_return(t, out, sizeof(out));
}

/* Burns 30 ms of this process's CPU (measured, not timed). */
static int burn(mp_task *t, const void *in, size_t len)
{
    struct timespec a, b;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    do
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) <
           30000000L);
    return 0;
}

/* Returns in[0] % 1500 bytes, each the low byte of in[0] plus its
   position: results from empty to past a result block's piece size. */
static int sized(mp_task *t, const void *in, size_t len)
{
    uint32_t v;
    memcpy(&v, in, sizeof(v));
    unsigned char buf[1500];
    size_t n = v % sizeof(buf);
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(v + i);
    return mp_return(t, buf, n);
}

/* One step of a chain through one coroutine: kind 0 returns its number,
   1 sleeps past the pool's task deadline, 2 fails with a message, 3
   sleeps 1 ms and returns its number. */
typedef struct step {
    int kind, num;
} step;

static int stepper(mp_task *t, const void *in, size_t len)
{
    const step *s = in;
    if (s->kind == 1)
        return mp_sleep(t, 5000);
    if (s->kind == 2)
        return mp_fail(t, MP_EIO, "step %d failed", s->num);
    if (s->kind == 3 && mp_sleep(t, 1) < 0)
        return MP_EIO;
    return mp_return(t, &s->num, sizeof(s->num));
}

/* ---- tests ---- */

static mp_pool *make_pool(int workers, int concurrency)
{
    mp_pool *p = NULL;
    mp_pool_options o = {.workers = workers, .concurrency = concurrency};
    assert_int_equal(mp_pool_create(&p, &o), 0);
    assert_non_null(p);
    return p;
}

static void map_keeps_order_of_100k(void **state)
{
    enum { N = 100000 };
    uint64_t *v = malloc(N * sizeof(*v));
    mp_buf *in = malloc(N * sizeof(*in));
    mp_result *out = calloc(N, sizeof(*out));
    for (size_t i = 0; i < N; i++) {
        v[i] = i;
        in[i] = (mp_buf){&v[i], sizeof(v[i])};
    }
    mp_pool *p = make_pool(2, 64);
    assert_int_equal(mp_pool_map(p, triple, in, N, out), 0);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(out[i].status, 0);
        assert_int_equal(out[i].len, 8);
        uint64_t r;
        memcpy(&r, out[i].data, 8);
        assert_int_equal(r, 3 * i);
        mp_result_clear(&out[i]);
    }
    mp_pool_stats st;
    mp_pool_get_stats(p, &st);
    assert_int_equal(st.tasks_done, N);
    assert_int_equal(st.workers_died, 0);
    mp_pool_destroy(p);
    free(v), free(in), free(out);
}

typedef struct stream {
    uint64_t next, n, seen, sum, bad;
    uint64_t cur;
    unsigned char *got;
} stream;

static int gen_next(void *ud, mp_buf *in)
{
    stream *s = ud;
    if (s->next == s->n)
        return 0;
    s->cur = s->next++;
    in->data = &s->cur;
    in->len = sizeof(s->cur);
    return 1;
}

static int gen_result(void *ud, size_t index, mp_result *r)
{
    stream *s = ud;
    uint64_t v = 0;
    if (r->status == 0 && r->len == 8)
        memcpy(&v, r->data, 8);
    s->bad += v != 3 * (uint64_t)index || s->got[index];
    s->got[index] = 1;
    s->seen++;
    s->sum += v;
    return 0;
}

static void imap_million_in_bounded_memory(void **state)
{
    stream s = {.n = 1000000};
    s.got = calloc(s.n, 1);
    mp_pool_options o = {.workers = 2, .concurrency = 64, .prefetch = 64};
    mp_pool *p;
    assert_int_equal(mp_pool_create(&p, &o), 0);
    assert_int_equal(mp_pool_imap(p, triple, gen_next, gen_result, &s), 0);
    assert_int_equal(s.seen, s.n);
    assert_int_equal(s.bad, 0);
    assert_true(s.sum == 3 * (s.n * (s.n - 1) / 2));
    mp_pool_stats st;
    mp_pool_get_stats(p, &st);
    /* held at most what the workers have credit for, whatever the input */
    assert_true(st.max_buffered <= 2 * (64 + 64));
    assert_true(st.max_buffered > 0);
    mp_pool_destroy(p);
    free(s.got);
}

static void tasks_run_concurrently_inside_workers(void **state)
{
    enum { N = 1000 };
    mp_buf in[N];
    mp_result out[N];
    for (int i = 0; i < N; i++)
        in[i] = (mp_buf){NULL, 0};
    mp_pool *p = make_pool(2, 500);
    assert_int_equal(mp_pool_map(p, sleepy, in, N, out), 0);
    int max = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(out[i].status, 0);
        int r[2];
        memcpy(r, out[i].data, sizeof(r));
        assert_int_equal(r[1], 0);
        assert_true(r[0] <= 500); /* never above the concurrency limit */
        if (r[0] > max)
            max = r[0];
        mp_result_clear(&out[i]);
    }
    /* 1000 sleeps of 200 ms ran 500 at a time, not one by one */
    assert_int_equal(max, 500);
    mp_pool_destroy(p);
}

static void init_runs_in_every_worker(void **state)
{
    const char arg[] = "hello workers";
    mp_pool_options o = {.workers = 2, .init = init_ok, .init_arg = arg,
                         .init_len = sizeof(arg)};
    mp_pool *p;
    assert_int_equal(mp_pool_create(&p, &o), 0);
    mp_buf in[50] = {{0}};
    mp_result out[50];
    assert_int_equal(mp_pool_map(p, report_init, in, 50, out), 0);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(out[i].status, 0);
        assert_string_equal(out[i].data, "hello workers");
        mp_result_clear(&out[i]);
    }
    mp_pool_destroy(p);
}

static void init_failure_is_reported(void **state)
{
    mp_pool_options o = {.workers = 2, .init = init_fails};
    mp_pool *p = (mp_pool *)1;
    assert_int_equal(mp_pool_create(&p, &o), MP_EINIT);
    assert_null(p);
    /* no message of its own: the code it returned, in words */
    assert_non_null(mp_last_error());
    assert_non_null(strstr(mp_last_error(), "init failed"));
    assert_non_null(strstr(mp_last_error(), "returned -1"));
}

/* The init function's own text reaches mp_pool_create's caller; a success
   clears it. */
static void init_failure_carries_its_message(void **state)
{
    mp_pool_options o = {.workers = 2, .init = init_fails_saying,
                         .init_arg = "frobnicator", .init_len = 11};
    mp_pool *p = (mp_pool *)1;
    assert_int_equal(mp_pool_create(&p, &o), MP_EINIT);
    assert_null(p);
    const char *e = mp_last_error();
    assert_non_null(e);
    assert_non_null(strstr(e, "init failed: no frobnicator here"));
    assert_non_null(strstr(e, "worker "));
    o.init = NULL;
    assert_int_equal(mp_pool_create(&p, &o), 0);
    assert_null(mp_last_error());
    mp_pool_destroy(p);
}

/* A pool whose creation fails before it has workers (no endpoint
   directory: TMPDIR does not exist) ends with MP_ESYS and a message, and
   the half-built pool's end closes nothing it did not open: fd 0 stays
   open, its flags as they were (the slots were never set up, so their
   forkserver channel is no fd). */
static void create_fails_before_workers(void **state)
{
    if (fcntl(0, F_GETFD) < 0)
        assert_int_equal(open("/dev/null", O_RDONLY), 0);
    int fl = fcntl(0, F_GETFL);
    assert_int_equal(fcntl(0, F_SETFL, fl | O_NONBLOCK), 0);
    const char *old = getenv("TMPDIR");
    char *saved = old ? strdup(old) : NULL;
    setenv("TMPDIR", "/nonexistent-mpool-test-dir", 1);
    mp_pool_options o = {.workers = 2};
    mp_pool *p = (mp_pool *)1;
    int rc = mp_pool_create(&p, &o);
    if (saved)
        setenv("TMPDIR", saved, 1);
    else
        unsetenv("TMPDIR");
    free(saved);
    assert_int_equal(rc, MP_ESYS);
    assert_null(p);
    assert_non_null(mp_last_error());
    assert_int_equal(fcntl(0, F_GETFL), fl | O_NONBLOCK);
    fcntl(0, F_SETFL, fl);
}

static void two_pools_at_once_and_in_turn(void **state)
{
    mp_pool *a = make_pool(1, 8), *b = make_pool(2, 8);
    uint64_t v = 14;
    mp_result r;
    for (int round = 0; round < 3; round++) {
        assert_int_equal(mp_pool_apply(a, triple, &v, sizeof(v), &r), 0);
        assert_int_equal(*(uint64_t *)r.data, 42);
        mp_result_clear(&r);
        assert_int_equal(mp_pool_apply(b, triple, &v, sizeof(v), &r), 0);
        assert_int_equal(*(uint64_t *)r.data, 42);
        mp_result_clear(&r);
    }
    mp_pool_destroy(a);
    assert_int_equal(mp_pool_apply(b, triple, &v, sizeof(v), &r), 0);
    mp_result_clear(&r);
    mp_pool_destroy(b);
    for (int i = 0; i < 3; i++) { /* one after another */
        mp_pool *c = make_pool(2, 4);
        assert_int_equal(mp_pool_apply(c, triple, &v, sizeof(v), &r), 0);
        assert_int_equal(*(uint64_t *)r.data, 42);
        mp_result_clear(&r);
        mp_pool_destroy(c);
    }
}

static void failures_are_per_task(void **state)
{
    int kinds[3] = {1, 2, 0};
    mp_buf in[3];
    mp_result out[3];
    for (int i = 0; i < 3; i++)
        in[i] = (mp_buf){&kinds[i], sizeof(int)};
    mp_pool *p = make_pool(2, 4);
    assert_int_equal(mp_pool_map(p, failing, in, 3, out), 0);
    assert_int_equal(out[0].status, MP_EIO);
    assert_string_equal(out[0].error, "disk 7 is on fire");
    assert_int_equal(out[1].status, MP_ECONNRESET);
    assert_string_equal(out[1].error, mp_strerror(MP_ECONNRESET));
    assert_int_equal(out[2].status, 0);
    assert_null(out[2].data);
    assert_int_equal(out[2].len, 0);
    for (int i = 0; i < 3; i++)
        mp_result_clear(&out[i]);
    mp_pool_destroy(p);
}

static void gather_and_wait_fd(void **state)
{
    mp_pool *p = make_pool(1, 4);
    mp_result r;
    assert_int_equal(mp_pool_apply(p, gather_pipe, NULL, 0, &r), 0);
    assert_int_equal(r.status, 0);
    assert_int_equal(r.len, 4);
    assert_memory_equal(r.data, "\1\1x\1", 4);
    mp_result_clear(&r);
    mp_pool_destroy(p);
}

static void worker_cpu_is_accounted(void **state)
{
    mp_buf in[8] = {{0}};
    mp_result out[8];
    /* running workers (read from /proc) ... */
    mp_pool *p = make_pool(2, 4);
    assert_int_equal(mp_pool_map(p, burn, in, 8, out), 0);
    mp_pool_stats st;
    mp_pool_get_stats(p, &st);
    assert_true(st.worker_cpu_us >= 8 * 30000 - 2 * 10000); /* 10 ms ticks */
    mp_pool_destroy(p);
    /* ... and workers that exited (recycled after every task: wait4) */
    mp_pool_options o = {.workers = 2, .concurrency = 1,
                         .max_tasks_per_worker = 1};
    assert_int_equal(mp_pool_create(&p, &o), 0);
    assert_int_equal(mp_pool_map(p, burn, in, 8, out), 0);
    mp_pool_get_stats(p, &st);
    assert_true(st.workers_recycled >= 6);
    assert_true(st.worker_cpu_us >= 6 * 30000);
    mp_pool_destroy(p);
}

typedef struct half {
    mp_result *out;
    size_t from, n;
} half;

/* Clears every other result of out[from..from+n) (a thread). */
static void *clear_half(void *arg)
{
    half *h = arg;
    for (size_t i = h->from; i < h->from + h->n; i += 2)
        mp_result_clear(&h->out[i]);
    return NULL;
}

/* Checks out[i] against what sized() returns for input i. Returns 1. */
static int sized_ok(const mp_result *r, uint32_t v)
{
    size_t n = v % 1500;
    const unsigned char *d = r->data;
    if (r->status != 0 || r->len != n || (n == 0) != (d == NULL))
        return 0;
    /* aligned as malloc's, or to 8 for 8 bytes or less */
    if (n && (uintptr_t)d % (n <= 8 ? 8 : 16) != 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (d[i] != (unsigned char)(v + i))
            return 0;
    return 1;
}

/* A map's small results share blocks (rblock.c): each one keeps its bytes
   whatever the others do, outlives the pool, and is released by
   mp_result_clear from any thread; the pool goes on with new blocks. ASan
   (test.sh --asan) says nothing is freed twice or leaked. */
static void map_results_share_blocks_and_outlive_the_pool(void **state)
{
    enum { N = 20000 };
    uint32_t *v = malloc(N * sizeof(*v));
    mp_buf *in = malloc(N * sizeof(*in));
    mp_result *out = calloc(N, sizeof(*out));
    for (size_t i = 0; i < N; i++) {
        v[i] = (uint32_t)(i * 7919u % 3000u); /* 0 .. 1499, twice */
        in[i] = (mp_buf){&v[i], sizeof(v[i])};
    }
    mp_pool *p = make_pool(2, 16);
    for (int round = 0; round < 2; round++) {
        assert_int_equal(mp_pool_map(p, sized, in, N, out), 0);
        size_t bad = 0;
        for (size_t i = 0; i < N; i++)
            bad += !sized_ok(&out[i], v[i]);
        assert_int_equal(bad, 0);
        if (round == 0) { /* cleared here, half of them by another thread */
            half h = {out, 0, N};
            pthread_t th;
            assert_int_equal(pthread_create(&th, NULL, clear_half, &h), 0);
            for (size_t i = 1; i < N; i += 2)
                mp_result_clear(&out[i]);
            assert_int_equal(pthread_join(th, NULL), 0);
            for (size_t i = 0; i < N; i++)
                assert_null(out[i].data);
        }
    }
    mp_pool_destroy(p); /* the second round's results outlive it */
    size_t bad = 0;
    for (size_t i = 0; i < N; i++) {
        bad += !sized_ok(&out[i], v[i]);
        mp_result_clear(&out[i]);
    }
    assert_int_equal(bad, 0);
    free(v), free(in), free(out);
}

/* On one coroutine, a task that succeeds hands it to the next queued task
   (worker.c's task_chain): every one still gets its own result, its own
   deadline and its own message, whether it is chained, suspends, fails or
   times out. */
static void one_coroutine_runs_a_chain_of_tasks(void **state)
{
    enum { N = 3000 };
    step *s = malloc(N * sizeof(*s));
    mp_buf *in = malloc(N * sizeof(*in));
    mp_result *out = calloc(N, sizeof(*out));
    for (int i = 0; i < N; i++) {
        int kind = i % 1000 == 500 ? 1 : i % 97 == 3 ? 2 : i % 89 == 5 ? 3 : 0;
        s[i] = (step){kind, i};
        in[i] = (mp_buf){&s[i], sizeof(s[i])};
    }
    mp_pool_options o = {.workers = 1, .concurrency = 1,
                         .task_timeout_ms = 300};
    mp_pool *p;
    assert_int_equal(mp_pool_create(&p, &o), 0);
    assert_int_equal(mp_pool_map(p, stepper, in, N, out), 0);
    for (int i = 0; i < N; i++) {
        if (s[i].kind == 1) {
            assert_int_equal(out[i].status, MP_ETIMEDOUT);
        } else if (s[i].kind == 2) {
            char want[32];
            snprintf(want, sizeof(want), "step %d failed", i);
            assert_int_equal(out[i].status, MP_EIO);
            assert_string_equal(out[i].error, want);
        } else {
            assert_int_equal(out[i].status, 0);
            assert_null(out[i].error);
            assert_int_equal(out[i].len, sizeof(int));
            assert_memory_equal(out[i].data, &i, sizeof(int));
        }
        mp_result_clear(&out[i]);
    }
    mp_pool_destroy(p);
    free(s), free(in), free(out);
}

static void bad_arguments(void **state)
{
    mp_pool *p = NULL;
    mp_pool_options o = {.workers = -1};
    assert_int_equal(mp_pool_create(NULL, NULL), MP_EINVAL);
    assert_int_equal(mp_pool_create(&p, &o), MP_EINVAL);
    o = (mp_pool_options){.concurrency = -3};
    assert_int_equal(mp_pool_create(&p, &o), MP_EINVAL);
    o = (mp_pool_options){.init_len = 10};
    assert_int_equal(mp_pool_create(&p, &o), MP_EINVAL);
    p = make_pool(1, 2);
    mp_result out[2];
    mp_buf in[2] = {{"a", 1}, {"b", MP_MAX_PAYLOAD + 1}};
    assert_int_equal(mp_pool_map(p, noop, in, 2, out), MP_E2BIG);
    assert_int_equal(mp_pool_map(p, NULL, in, 1, out), MP_EINVAL);
    assert_int_equal(mp_pool_map(p, noop, NULL, 1, out), MP_EINVAL);
    assert_int_equal(mp_pool_map(p, noop, in, 1, NULL), MP_EINVAL);
    assert_int_equal(mp_pool_map(NULL, noop, in, 1, out), MP_EINVAL);
    assert_int_equal(mp_pool_map(p, noop, NULL, 0, NULL), 0); /* n = 0 */
    assert_int_equal(mp_pool_imap(p, noop, NULL, NULL, NULL), MP_EINVAL);
    assert_int_equal(mp_pool_apply(p, noop, "x", 1, NULL), MP_EINVAL);
    /* and the pool still works */
    assert_int_equal(mp_pool_map(p, noop, in, 1, out), 0);
    assert_int_equal(out[0].status, 0);
    mp_pool_destroy(p);
    mp_pool_destroy(NULL);
    mp_result_clear(NULL);
}

int main(void)
{
    mp_init();
    const struct CMUnitTest tests[] = {
        TU_BOUNDED(map_keeps_order_of_100k, 120),
        TU_BOUNDED(imap_million_in_bounded_memory, 120),
        TU_BOUNDED(tasks_run_concurrently_inside_workers, 120),
        TU_BOUNDED(init_runs_in_every_worker, 120),
        TU_BOUNDED(init_failure_is_reported, 120),
        TU_BOUNDED(init_failure_carries_its_message, 120),
        TU_BOUNDED(create_fails_before_workers, 120),
        TU_BOUNDED(two_pools_at_once_and_in_turn, 120),
        TU_BOUNDED(failures_are_per_task, 120),
        TU_BOUNDED(gather_and_wait_fd, 120),
        TU_BOUNDED(worker_cpu_is_accounted, 120),
        TU_BOUNDED(map_results_share_blocks_and_outlive_the_pool, 120),
        TU_BOUNDED(one_coroutine_runs_a_chain_of_tasks, 120),
        TU_BOUNDED(bad_arguments, 120),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
