/*
 * mp_example_callbacks: tasks submitted one at a time as futures.
 *
 * 1. Ten futures with a done-callback each (the callback runs in this
 *    process when the result is back), then a wait for all of them.
 * 2. wait_for: a wait with a timeout, then a cancel (the task's sleep in
 *    its worker returns MP_ECANCELED; its late result is dropped).
 * 3. First completed: three futures, wait for whichever ends first,
 *    cancel the others.
 *
 * Python:
 *     f = loop.run_in_executor(pool, slow_square, i)
 *     f.add_done_callback(lambda f: print(f.result()))
 *     await asyncio.wait_for(f, timeout=0.1)          # TimeoutError
 *     done, pending = await asyncio.wait(fs, return_when=FIRST_COMPLETED)
 *     for f in pending: f.cancel()
 *
 * Usage: mp_example_callbacks
 * Exits 1 unless every step saw what it expects.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mpool.h"

typedef struct job {
    uint64_t n;
    unsigned sleep_ms;
} job;

/* The task, in a worker: sleeps, then returns n * n. */
static int slow_square(mp_task *t, const void *in, size_t len)
{
    job j;
    memcpy(&j, in, sizeof(j));
    int rc = mp_sleep(t, j.sleep_ms);
    if (rc < 0)
        return rc; /* MP_ECANCELED when its future was canceled */
    uint64_t sq = j.n * j.n;
    return mp_return(t, &sq, sizeof(sq));
}

static uint64_t value(const mp_future *f)
{
    const mp_result *r = mp_future_result(f);
    uint64_t v = 0;
    if (r && r->status == 0 && r->len == sizeof(v))
        memcpy(&v, r->data, sizeof(v));
    return v;
}

/* The done-callback: runs in this process, inside mp_future_wait (or a
   blocking call) that drives the pool. */
static void on_done(mp_future *f, void *ud)
{
    int *calls = ud;
    (*calls)++;
    printf("  callback: %llu\n", (unsigned long long)value(f));
}

static mp_future *submit(mp_pool *p, uint64_t n, unsigned sleep_ms)
{
    job j = {n, sleep_ms};
    mp_future *f = NULL;
    int rc = mp_pool_submit(p, slow_square, &j, sizeof(j), &f);
    if (rc < 0)
        fprintf(stderr, "mp_pool_submit: %s\n", mp_strerror(rc));
    return f;
}

int main(void)
{
    mp_init();
    mp_pool_options o = {.workers = 2};
    mp_pool *p;
    int rc = mp_pool_create(&p, &o);
    if (rc < 0) {
        fprintf(stderr, "mp_pool_create: %s\n", mp_strerror(rc));
        return 1;
    }
    int bad = 0;

    /* 1. futures with callbacks */
    printf("1. ten futures, a callback each\n");
    mp_future *fs[10];
    int calls = 0;
    uint64_t sum = 0;
    for (int i = 0; i < 10; i++) {
        if (!(fs[i] = submit(p, (uint64_t)i, 10)))
            return 1;
        mp_future_on_done(fs[i], on_done, &calls);
    }
    for (int i = 0; i < 10; i++) {
        bad += mp_future_wait(fs[i], 30000) != 0;
        sum += value(fs[i]);
        mp_future_free(fs[i]);
    }
    printf("  %d callbacks, sum of squares %llu\n", calls,
           (unsigned long long)sum);
    bad += calls != 10 || sum != 285;

    /* 2. wait_for: a timeout, then a cancel */
    printf("2. wait_for\n");
    mp_future *slow = submit(p, 7, 10000);
    rc = mp_future_wait(slow, 100);
    printf("  wait 100 ms: %s\n", mp_err_name(rc));
    mp_future_cancel(slow);
    printf("  after cancel: %s\n",
           mp_err_name(mp_future_result(slow)->status));
    bad += rc != MP_ETIMEDOUT ||
           mp_future_result(slow)->status != MP_ECANCELED;
    mp_future_free(slow);

    /* 3. first completed */
    printf("3. first completed\n");
    mp_future *race[3] = {submit(p, 1, 3000), submit(p, 2, 50),
                          submit(p, 3, 2000)};
    int first = mp_future_wait_any(race, 3, 30000);
    printf("  first: #%d (%llu)\n", first,
           first >= 0 ? (unsigned long long)value(race[first]) : 0ull);
    int canceled = 0;
    for (int i = 0; i < 3; i++) {
        canceled += mp_future_cancel(race[i]) == 0; /* pending ones */
        mp_future_free(race[i]);
    }
    printf("  %d canceled\n", canceled);
    bad += first != 1 || canceled != 2;

    mp_pool_destroy(p);
    printf("callbacks: %s\n", bad ? "FAILED" : "every step as expected");
    return bad ? 1 : 0;
}
