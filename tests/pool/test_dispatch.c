/*
 * Dispatch, asserted from counters rather than wall time, with real
 * workers: credit (no worker ever holds more than concurrency + prefetch
 * tasks, by the workers' own count), a small batch spread over every
 * worker, and the tasks of a crashed worker going back as batches, not
 * one at a time.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "bound.h"
#include "mpool.h"

#define BOUND_S 60 /* per call: far above what any case needs */

/* Runs mp_pool_map on p, canceled if it takes more than BOUND_S. */
static int bounded_map(mp_pool *p, mp_task_fn fn, const mp_buf *in,
                       size_t n, mp_result *out)
{
    tu_bound_start(p, BOUND_S);
    int rc = mp_pool_map(p, fn, in, n, out);
    if (tu_bound_end())
        fail_msg("mp_pool_map did not end within %d s (canceled)", BOUND_S);
    return rc;
}

/* ---- tasks (they run in workers) ---- */

/* Returns the slot of the worker it ran on, after a short sleep (so a
   worker's credit fills up). */
static int where(mp_task *t, const void *in, size_t len)
{
    int rc = mp_sleep(t, 2);
    if (rc < 0)
        return rc;
    int slot = mp_worker_slot();
    return mp_return(t, &slot, sizeof(slot));
}

/* Waits until the file named by its input exists (the test creates it
   when every task is placed), then returns its worker's slot. */
static int where_held(mp_task *t, const void *in, size_t len)
{
    while (access((const char *)in, F_OK) != 0) {
        int rc = mp_sleep(t, 1);
        if (rc < 0)
            return rc;
    }
    int slot = mp_worker_slot();
    return mp_return(t, &slot, sizeof(slot));
}

/* Sleeps 1, 2, ... 30 ms in turn (with other tasks' timers around it) and
   returns the least time it slept beyond what it asked for, in µs
   (negative: a sleep ended early). */
static int sleep_overshoot(mp_task *t, const void *in, size_t len)
{
    struct timespec a, b;
    long long least = INT32_MAX;

    for (unsigned ms = 1; ms <= 30; ms++) {
        clock_gettime(CLOCK_MONOTONIC, &a);
        int rc = mp_sleep(t, ms);
        if (rc < 0)
            return rc;
        clock_gettime(CLOCK_MONOTONIC, &b);
        long long us = (b.tv_sec - a.tv_sec) * 1000000LL +
                       (b.tv_nsec - a.tv_nsec) / 1000 - ms * 1000LL;
        if (us < least)
            least = us;
    }
    int r = (int)least;
    return mp_return(t, &r, sizeof r);
}

typedef struct crash_in {
    uint32_t v;
    char mark[60]; /* input 0: a file it creates before it kills */
} crash_in;

/* Input 0 kills its worker the first time it runs (when it can create its
   marker file); the others sleep a little longer, so the worker holds all
   of them when it dies. */
static int crash_once(mp_task *t, const void *in, size_t len)
{
    crash_in c;
    memcpy(&c, in, sizeof(c));
    int rc = mp_sleep(t, c.v == 0 ? 20 : 100);
    if (rc < 0)
        return rc;
    if (c.v == 0 && open(c.mark, O_WRONLY | O_CREAT | O_EXCL, 0600) >= 0)
        raise(SIGKILL);
    return mp_return(t, &c.v, sizeof(c.v));
}

/* ---- helpers ---- */

static mp_pool *make_pool(int workers, int conc, int prefetch)
{
    mp_pool *p;
    mp_pool_options o = {.workers = workers, .concurrency = conc,
                         .prefetch = prefetch};
    assert_int_equal(mp_pool_create(&p, &o), 0);
    return p;
}

/* Maps n `where` tasks; counts the results per slot into per[]. */
static void map_where(mp_pool *p, size_t n, int *per, int nslots)
{
    mp_buf *in = calloc(n, sizeof(*in));
    mp_result *out = calloc(n, sizeof(*out));
    assert_int_equal(bounded_map(p, where, in, n, out), 0);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(out[i].status, 0);
        int slot;
        memcpy(&slot, out[i].data, sizeof(slot));
        assert_true(slot >= 0 && slot < nslots);
        per[slot]++;
        mp_result_clear(&out[i]);
    }
    free(in);
    free(out);
}

/* ---- cases ---- */

/* Many small tasks through workers of credit 4 + 4: by the workers' own
   count, none ever held more than 8 at once, and each did hold more than
   its 4 coroutines (the counter moves; prefetch is used). */
static void no_worker_holds_more_than_its_credit(void **state)
{
    const int conc = 4, prefetch = 4;
    mp_pool *p = make_pool(2, conc, prefetch);
    int per[2] = {0};
    map_where(p, 600, per, 2);
    mp_pool_stats st;
    mp_pool_get_stats(p, &st);
    assert_true(st.worker_max_held <= (uint64_t)(conc + prefetch));
    assert_true(st.worker_max_held > (uint64_t)conc);
    assert_true(per[0] > 0 && per[1] > 0);
    mp_pool_destroy(p);
}

/* As many tasks as the workers have coroutines, fewer than one worker's
   credit: each worker gets exactly its concurrency's worth. */
static void a_small_batch_is_spread_over_all_workers(void **state)
{
    const int workers = 3, conc = 4;
    mp_pool *p = make_pool(workers, conc, 16);
    int per[3] = {0};
    map_where(p, (size_t)workers * conc, per, workers);
    for (int i = 0; i < workers; i++)
        assert_int_equal(per[i], conc);
    mp_pool_destroy(p);
}

/* Placement is least-loaded at every dispatch: a map of 10 tasks on 2
   workers of the default options goes 5 / 5 (it went 10 / 0: the first
   worker's coroutines were filled first). */
static void a_ten_task_map_goes_five_and_five(void **state)
{
    mp_pool *p;
    mp_pool_options o = {.workers = 2};
    assert_int_equal(mp_pool_create(&p, &o), 0);
    for (int round = 0; round < 3; round++) {
        int per[2] = {0};
        map_where(p, 10, per, 2);
        assert_int_equal(per[0], 5);
        assert_int_equal(per[1], 5);
    }
    mp_pool_destroy(p);
}

typedef struct imap_where {
    size_t n, pulled;
    int per[2];
} imap_where;

static int iw_next(void *ud, mp_buf *in)
{
    imap_where *w = ud;
    if (w->pulled == w->n)
        return 0;
    w->pulled++;
    *in = (mp_buf){NULL, 0};
    return 1;
}

static int iw_result(void *ud, size_t index, mp_result *r)
{
    imap_where *w = ud;
    int slot;
    assert_int_equal(r->status, 0);
    memcpy(&slot, r->data, sizeof(slot));
    w->per[slot]++;
    return 0;
}

/* The same for a stream that is short: imap's 10 inputs go 5 / 5. */
static void a_short_imap_is_spread_too(void **state)
{
    mp_pool *p = make_pool(2, 0, 0);
    imap_where w = {.n = 10};
    tu_bound_start(p, BOUND_S);
    assert_int_equal(mp_pool_imap(p, where, iw_next, iw_result, &w), 0);
    assert_false(tu_bound_end());
    assert_int_equal(w.per[0], 5);
    assert_int_equal(w.per[1], 5);
    mp_pool_destroy(p);
}

/* 20 futures submitted at once, and then 20 submitted one by one as an
   attached server would (each dispatched before the next comes), go
   10 / 10. */
static void futures_are_spread_one_by_one_and_at_once(void **state)
{
    mp_pool *p = make_pool(2, 0, 0);
    char mark[64];
    snprintf(mark, sizeof(mark), "/tmp/mp-place-%d", (int)getpid());
    for (int oneby = 0; oneby < 2; oneby++) {
        mp_future *f[20];
        int per[2] = {0};
        unlink(mark);
        for (int i = 0; i < 20; i++) {
            assert_int_equal(mp_pool_submit(p, where_held, mark,
                                            strlen(mark) + 1, &f[i]),
                             0);
            if (oneby) /* a turn of the loop: it is dispatched */
                assert_int_equal(mp_future_wait(f[i], 5), MP_ETIMEDOUT);
        }
        int fd = open(mark, O_WRONLY | O_CREAT, 0600);
        assert_true(fd >= 0);
        close(fd);
        for (int i = 0; i < 20; i++) {
            assert_int_equal(mp_future_wait(f[i], BOUND_S * 1000), 0);
            const mp_result *r = mp_future_result(f[i]);
            assert_int_equal(r->status, 0);
            int slot;
            memcpy(&slot, r->data, sizeof(slot));
            per[slot]++;
            mp_future_free(f[i]);
        }
        assert_int_equal(per[0], 10);
        assert_int_equal(per[1], 10);
    }
    unlink(mark);
    mp_pool_destroy(p);
}

/* A worker dies holding 64 tasks (one of them killed it, once): all 64
   go back to the queue, and none runs alone; suspects are the tasks of a
   second death, not of the first. */
static void a_crashed_workers_tasks_go_back_as_a_batch(void **state)
{
    enum { N = 128 };
    static crash_in v[N];
    mp_buf in[N];
    mp_result out[N];
    memset(out, 0, sizeof(out));
    for (uint32_t i = 0; i < N; i++) {
        v[i].v = i;
        in[i] = (mp_buf){&v[i], sizeof(v[i])};
    }
    snprintf(v[0].mark, sizeof(v[0].mark), "/tmp/mp-crash-%d",
             (int)getpid());
    unlink(v[0].mark);
    mp_pool *p = make_pool(2, 64, 64);
    int rc = bounded_map(p, crash_once, in, N, out);
    unlink(v[0].mark);
    assert_int_equal(rc, 0);
    for (uint32_t i = 0; i < N; i++) {
        assert_int_equal(out[i].status, 0);
        assert_memory_equal(out[i].data, &i, sizeof(i));
        mp_result_clear(&out[i]);
    }
    mp_pool_stats st;
    mp_pool_get_stats(p, &st);
    assert_int_equal(st.workers_died, 1);
    assert_int_equal(st.tasks_retried, 64); /* slot 0 held inputs 0-63 */
    assert_int_equal(st.tasks_alone, 0);
    mp_pool_destroy(p);
}

/* mp_sleep sleeps at least what it was asked for, never less (libevent's
   cached, coarse clock would end some sleeps up to a tick early). */
static void sleep_never_ends_early(void **state)
{
    (void)state;
    mp_pool *p = make_pool(1, 16, 16);
    mp_buf in[8] = {{0}};
    mp_result out[8];

    assert_int_equal(mp_pool_map(p, sleep_overshoot, in, 8, out), 0);
    for (int i = 0; i < 8; i++) {
        int least;
        assert_int_equal(out[i].status, 0);
        assert_int_equal(out[i].len, sizeof least);
        memcpy(&least, out[i].data, sizeof least);
        if (least < 0)
            fail_msg("task %d: a sleep ended %d us early", i, -least);
        mp_result_clear(&out[i]);
    }
    mp_pool_destroy(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(no_worker_holds_more_than_its_credit),
        cmocka_unit_test(a_small_batch_is_spread_over_all_workers),
        cmocka_unit_test(a_crashed_workers_tasks_go_back_as_a_batch),
        cmocka_unit_test(a_ten_task_map_goes_five_and_five),
        cmocka_unit_test(a_short_imap_is_spread_too),
        cmocka_unit_test(futures_are_spread_one_by_one_and_at_once),
        cmocka_unit_test(sleep_never_ends_early),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
