/*
 * Child coroutines inside a task (src/worker/spawn.c), with real forked workers:
 * mp_spawn now and mp_join later, join with a timeout (the child is
 * canceled), a parent that returns before joining (its children are
 * canceled), the parent's deadline reaching its children, nesting, and
 * mp_gather on the same mechanism.
 *
 * What a canceled child saw is kept in the worker process (last_child) and
 * read back by a second task on the same one-worker, one-coroutine pool:
 * that task starts only after the first has finished and the children it
 * canceled have run to their end (they are ahead of it in the worker's
 * ready queue), so no test waits on time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mpool.h"
#include "testutil.h"

/* ---- tasks (they run in workers) ---- */

/* In the worker: what the last child that ended saw, and how many ended. */
static int last_child_rc = 1, children_ended;

typedef struct child_job {
    unsigned sleep_ms; /* 0: no await */
    int value;         /* returned as the result, or failed with */
} child_job;

/* Sleeps, records what the sleep returned, returns value (< 0: fails). */
static int child(mp_task *t, const void *in, size_t len)
{
    child_job j;
    memcpy(&j, in, sizeof(j));
    int rc = j.sleep_ms ? mp_sleep(t, j.sleep_ms) : 0;
    last_child_rc = rc;
    children_ended++;
    if (rc < 0)
        return rc;
    if (j.value < 0)
        return mp_fail(t, j.value, "child %d failed", j.value);
    return mp_return(t, &j.value, sizeof(j.value));
}

/* Reports {last_child_rc, children_ended} and resets them. */
static int report(mp_task *t, const void *in, size_t len)
{
    int r[2] = {last_child_rc, children_ended};
    last_child_rc = 1;
    children_ended = 0;
    return mp_return(t, r, sizeof(r));
}

static int result_int(const mp_result *r)
{
    int v = -1;
    if (r->status == 0 && r->len == sizeof(v))
        memcpy(&v, r->data, sizeof(v));
    return v;
}

/* Spawns three children that finish in the opposite order of their
   start, joins them in start order, and a failing one; returns the sum
   of 1000 * (index + 1) * joined value checks. */
static int spawn_then_join(mp_task *t, const void *in, size_t len)
{
    child_job jobs[4] = {{60, 1}, {30, 2}, {0, 3}, {10, MP_EIO}};
    mp_child *c[4];
    for (int i = 0; i < 4; i++) {
        int rc = mp_spawn(t, child, &jobs[i], sizeof(jobs[i]), &c[i]);
        if (rc < 0)
            return mp_fail(t, rc, "spawn %d: %s", i, mp_strerror(rc));
    }
    jobs[0].value = 99; /* the input was copied: the child never sees it */
    int got[8], n = 0;
    for (int i = 0; i < 4; i++) {
        mp_result r;
        int rc = mp_join(c[i], &r, 0);
        got[n++] = rc;
        got[n++] = i < 3 ? result_int(&r) : r.status;
        if (i == 3 && (!r.error || strcmp(r.error, "child -5 failed")))
            got[n - 1] = 0;
        mp_result_clear(&r);
    }
    return mp_return(t, got, sizeof(got));
}

/* Joins a child that sleeps 10 s with a 30 ms limit; returns what the join
   returned and out.status. */
static int join_times_out(mp_task *t, const void *in, size_t len)
{
    child_job j = {10000, 7};
    mp_child *c;
    mp_result r = {.status = 1};
    if (mp_spawn(t, child, &j, sizeof(j), &c) < 0)
        return MP_ENOMEM;
    int rc = mp_join(c, &r, 30);
    int got[3] = {rc, r.status, r.data == NULL};
    return mp_return(t, got, sizeof(got));
}

/* Spawns a child that sleeps 10 s and one that finishes at once, and
   returns without joining either. */
static int parent_returns(mp_task *t, const void *in, size_t len)
{
    child_job slow = {10000, 7}, quick = {0, 8};
    mp_child *c1, *c2;
    if (mp_spawn(t, child, &slow, sizeof(slow), &c1) < 0 ||
        mp_spawn(t, child, &quick, sizeof(quick), &c2) < 0)
        return MP_ENOMEM;
    return mp_sleep(t, 20); /* the quick one ends, the slow one sleeps */
}

/* Under a pool deadline of 100 ms: joins (no limit) a child sleeping 10 s.
   Returns the join's code and out.status. */
static int join_past_deadline(mp_task *t, const void *in, size_t len)
{
    child_job j = {10000, 7};
    mp_child *c;
    mp_result r;
    if (mp_spawn(t, child, &j, sizeof(j), &c) < 0)
        return MP_ENOMEM;
    int rc = mp_join(c, &r, 0);
    int got[2] = {rc, r.status};
    return mp_return(t, got, sizeof(got));
}

/* A child that spawns a grandchild and joins it: returns its value + 1. */
static int middle(mp_task *t, const void *in, size_t len)
{
    mp_child *g;
    mp_result r;
    int rc = mp_spawn(t, child, in, len, &g);
    if (rc < 0 || (rc = mp_join(g, &r, 5000)) < 0)
        return rc;
    int v = result_int(&r) + 1;
    mp_result_clear(&r);
    return mp_return(t, &v, sizeof(v));
}

static int nested(mp_task *t, const void *in, size_t len)
{
    child_job j = {5, 41};
    mp_child *c;
    mp_result r;
    int rc = mp_spawn(t, middle, &j, sizeof(j), &c);
    if (rc < 0 || (rc = mp_join(c, &r, 5000)) < 0)
        return rc;
    int v = result_int(&r);
    mp_result_clear(&r);
    return mp_return(t, &v, sizeof(v));
}

/* Misuse: a join by a task that is not the parent, bad arguments. */
static int misuse_child(mp_task *t, const void *in, size_t len)
{
    mp_child *sibling;
    memcpy(&sibling, in, sizeof(sibling));
    mp_result r;
    return mp_join(sibling, &r, 0) == MP_EINVAL ? 0 : MP_EPROTO;
}

static int misuse(mp_task *t, const void *in, size_t len)
{
    child_job j = {10, 5};
    mp_child *a, *b;
    mp_result r;
    int bad = 0;
    bad += mp_spawn(t, NULL, &j, sizeof(j), &a) != MP_EINVAL;
    bad += mp_spawn(t, child, NULL, 4, &a) != MP_EINVAL;
    bad += mp_spawn(t, child, &j, sizeof(j), NULL) != MP_EINVAL;
    bad += mp_spawn(t, child, &j, MP_MAX_PAYLOAD + 1, &a) != MP_E2BIG;
    bad += mp_join(NULL, &r, 0) != MP_EINVAL;
    if (mp_spawn(t, child, &j, sizeof(j), &a) < 0 ||
        mp_spawn(t, misuse_child, &a, sizeof(a), &b) < 0)
        return MP_ENOMEM;
    bad += mp_join(a, NULL, 0) != MP_EINVAL; /* a is still valid */
    bad += mp_join(b, &r, 5000) != 0 || r.status != 0;
    mp_result_clear(&r);
    bad += mp_join(a, &r, 5000) != 0 || result_int(&r) != 5;
    mp_result_clear(&r);
    return mp_return(t, &bad, sizeof(bad));
}

/* gather of three children; with the pool's deadline at 100 ms, the
   second one sleeps 10 s. Returns gather's code and the three statuses and
   values. */
static int gather3(mp_task *t, const void *in, size_t len)
{
    unsigned long_ms = *(const unsigned *)in;
    child_job jobs[3] = {{5, 10}, {long_ms, 20}, {0, 30}};
    mp_buf b[3];
    mp_result r[3];
    for (int i = 0; i < 3; i++)
        b[i] = (mp_buf){&jobs[i], sizeof(jobs[i])};
    int got[7] = {mp_gather(t, child, b, 3, r)};
    for (int i = 0; i < 3; i++) {
        got[1 + 2 * i] = r[i].status;
        got[2 + 2 * i] = result_int(&r[i]);
        mp_result_clear(&r[i]);
    }
    return mp_return(t, got, sizeof(got));
}

/* ---- tests ---- */

static mp_pool *make_pool(unsigned timeout_ms)
{
    mp_pool *p = NULL;
    mp_pool_options o = {.workers = 1, .concurrency = 1,
                         .task_timeout_ms = timeout_ms};
    assert_int_equal(mp_pool_create(&p, &o), 0);
    return p;
}

/* Runs fn once; returns its result (the caller clears it). */
static mp_result run(mp_pool *p, mp_task_fn fn, const void *in, size_t len)
{
    mp_result r;
    assert_int_equal(mp_pool_apply(p, fn, in, len, &r), 0);
    return r;
}

/* Runs fn once, checks that it returned n ints and stores them in got.
   Returns the task's status. */
static int run_ints(mp_pool *p, mp_task_fn fn, const void *in, size_t len,
                    int *got, size_t n)
{
    mp_result r = run(p, fn, in, len);
    assert_int_equal(r.len, n * sizeof(int));
    memcpy(got, r.data, n * sizeof(int));
    int status = r.status;
    mp_result_clear(&r);
    return status;
}

/* Checks what the last child that ended in the worker saw, and how many
   children ended since the last report. */
static void expect_report(mp_pool *p, int rc, int ended)
{
    int got[2];
    assert_int_equal(run_ints(p, report, NULL, 0, got, 2), 0);
    assert_int_equal(got[0], rc);
    assert_int_equal(got[1], ended);
}

static void join_returns_each_result(void **state)
{
    mp_pool *p = make_pool(0);
    int want[8] = {0, 1, 0, 2, 0, 3, 0, MP_EIO}, got[8];
    assert_int_equal(run_ints(p, spawn_then_join, NULL, 0, got, 8), 0);
    assert_memory_equal(got, want, sizeof(want));
    expect_report(p, 0, 4);
    mp_pool_destroy(p);
}

static void join_timeout_cancels_the_child(void **state)
{
    mp_pool *p = make_pool(0);
    int got[3], want[3] = {MP_ETIMEDOUT, MP_ETIMEDOUT, 1};
    assert_int_equal(run_ints(p, join_times_out, NULL, 0, got, 3), 0);
    assert_memory_equal(got, want, sizeof(want));
    expect_report(p, MP_ECANCELED, 1); /* its 10 s sleep was cut short */
    mp_pool_destroy(p);
}

static void parent_returning_first_cancels_children(void **state)
{
    mp_pool *p = make_pool(0);
    mp_result r = run(p, parent_returns, NULL, 0);
    assert_int_equal(r.status, 0);
    mp_result_clear(&r);
    /* both ended: the quick one on its own, the slow one canceled */
    expect_report(p, MP_ECANCELED, 2);
    mp_pool_destroy(p);
}

static void parent_deadline_reaches_children(void **state)
{
    mp_pool *p = make_pool(100);
    int got[2];
    assert_int_equal(run_ints(p, join_past_deadline, NULL, 0, got, 2),
                     MP_ETIMEDOUT); /* the parent's deadline */
    /* the child, timed out with its parent, may end before the parent
       runs again: then the join returns its result */
    assert_true(got[0] == MP_ETIMEDOUT || got[0] == 0);
    assert_int_equal(got[1], MP_ETIMEDOUT);
    expect_report(p, MP_ETIMEDOUT, 1);
    mp_pool_destroy(p);
}

static void children_nest(void **state)
{
    mp_pool *p = make_pool(0);
    mp_result r = run(p, nested, NULL, 0);
    assert_int_equal(r.status, 0);
    assert_int_equal(result_int(&r), 42);
    mp_result_clear(&r);
    r = run(p, misuse, NULL, 0);
    assert_int_equal(r.status, 0);
    assert_int_equal(result_int(&r), 0); /* no check failed */
    mp_result_clear(&r);
    mp_pool_destroy(p);
}

static void gather_still_works(void **state)
{
    mp_pool *p = make_pool(100);
    unsigned ms = 10;
    int got[7], want[7] = {0, 0, 10, 0, 20, 0, 30};
    assert_int_equal(run_ints(p, gather3, &ms, sizeof(ms), got, 7), 0);
    assert_memory_equal(got, want, sizeof(want));
    /* the deadline passes while the second child sleeps */
    ms = 10000;
    int want2[7] = {0, 0, 10, MP_ETIMEDOUT, -1, 0, 30};
    assert_int_equal(run_ints(p, gather3, &ms, sizeof(ms), got, 7),
                     MP_ETIMEDOUT);
    assert_memory_equal(got, want2, sizeof(want2));
    mp_pool_destroy(p);
}

int main(void)
{
    mp_init();
    const struct CMUnitTest tests[] = {
        TU_BOUNDED(join_returns_each_result, 30),
        TU_BOUNDED(join_timeout_cancels_the_child, 30),
        TU_BOUNDED(parent_returning_first_cancels_children, 30),
        TU_BOUNDED(parent_deadline_reaches_children, 30),
        TU_BOUNDED(children_nest, 30),
        TU_BOUNDED(gather_still_works, 30),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
