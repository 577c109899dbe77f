/*
 * Futures (src/pool/future.c on the ledger of src/pool/pool.c), with real forked
 * workers: futures beside a map on one pool, a worker SIGKILLed while
 * futures are pending, cancel of a queued and of a running future, wait
 * with a timeout, wait_any, a pool attached to the caller's event_base,
 * and a million futures in bounded coordinator memory.
 *
 * What a task saw in its worker is kept there (the `seen` log) and read
 * back by a later task on the same one-worker pool: no test waits on time.
 */
#include <event2/event.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mpool.h"

#define BOUND_MS 60000 /* every wait's own limit */

/* ---- tasks (they run in workers) ---- */

typedef struct job {
    uint64_t value;
    unsigned sleep_ms;
    char tag;          /* logged in `seen` when the task starts */
    int kill;          /* 1: SIGKILL the worker the first time (marker);
                          2: every time */
    char marker[96];
} job;

/* In the worker: the tags of the tasks that started, and what the last
   sleep returned. */
static char seen[64];
static int last_sleep_rc = 1;

static int work(mp_task *t, const void *in, size_t len)
{
    job j;
    memcpy(&j, in, sizeof(j));
    if (j.tag && strlen(seen) + 1 < sizeof(seen))
        strncat(seen, &j.tag, 1);
    if (j.kill == 2)
        kill(getpid(), SIGKILL);
    if (j.kill == 1) {
        int fd = open(j.marker, O_WRONLY | O_CREAT | O_EXCL, 0600);
        if (fd >= 0) {
            close(fd);
            kill(getpid(), SIGKILL);
        }
    }
    if (j.sleep_ms) {
        int rc = mp_sleep(t, j.sleep_ms);
        last_sleep_rc = rc;
        if (rc < 0)
            return rc;
    }
    uint64_t v = j.value * 3;
    return mp_return(t, &v, sizeof(v));
}

/* Another function, so that one pool runs two at once. */
static int square(mp_task *t, const void *in, size_t len)
{
    uint64_t v;
    memcpy(&v, in, sizeof(v));
    v *= v;
    return mp_return(t, &v, sizeof(v));
}

/* Returns `seen` and last_sleep_rc, and resets them. */
static int report(mp_task *t, const void *in, size_t len)
{
    char out[sizeof(seen) + sizeof(int)];
    memcpy(out, &last_sleep_rc, sizeof(int));
    memcpy(out + sizeof(int), seen, sizeof(seen));
    seen[0] = '\0';
    last_sleep_rc = 1;
    return mp_return(t, out, sizeof(out));
}

static int noop(mp_task *t, const void *in, size_t len)
{
    return 0;
}

/* ---- helpers ---- */

static mp_pool *make_pool(int workers, int conc, int prefetch)
{
    mp_pool *p = NULL;
    mp_pool_options o = {.workers = workers, .concurrency = conc,
                         .prefetch = prefetch};
    assert_int_equal(mp_pool_create(&p, &o), 0);
    return p;
}

static mp_future *submit(mp_pool *p, job j)
{
    mp_future *f = NULL;
    assert_int_equal(mp_pool_submit(p, work, &j, sizeof(j), &f), 0);
    assert_non_null(f);
    return f;
}

/* Waits (bounded) for f and returns its value (status must be 0). */
static uint64_t value_of(mp_future *f)
{
    assert_int_equal(mp_future_wait(f, BOUND_MS), 0);
    const mp_result *r = mp_future_result(f);
    assert_non_null(r);
    assert_int_equal(r->status, 0);
    assert_int_equal(r->len, sizeof(uint64_t));
    uint64_t v;
    memcpy(&v, r->data, sizeof(v));
    return v;
}

/* Counts callbacks per future: ud points at its counter. */
static void count_cb(mp_future *f, void *ud)
{
    (*(int *)ud)++;
}

/* Reads the worker's log with a report future. */
static void expect_seen(mp_pool *p, const char *tags, int sleep_rc)
{
    mp_future *f;
    assert_int_equal(mp_pool_submit(p, report, NULL, 0, &f), 0);
    assert_int_equal(mp_future_wait(f, BOUND_MS), 0);
    const mp_result *r = mp_future_result(f);
    assert_int_equal(r->status, 0);
    int rc;
    memcpy(&rc, r->data, sizeof(rc));
    assert_string_equal((const char *)r->data + sizeof(int), tags);
    assert_int_equal(rc, sleep_rc);
    mp_future_free(f);
}

/* ---- tests ---- */

static void futures_beside_a_map(void **state)
{
    mp_pool *p = make_pool(2, 8, 0);
    enum { NF = 200, NM = 2000 };
    mp_future *fs[NF];
    int calls[NF] = {0};
    for (int i = 0; i < NF; i++) {
        fs[i] = submit(p, (job){.value = (uint64_t)i, .sleep_ms = i % 3});
        assert_int_equal(mp_future_on_done(fs[i], count_cb, &calls[i]), 0);
    }
    uint64_t *vals = malloc(NM * sizeof(*vals));
    mp_buf *in = malloc(NM * sizeof(*in));
    mp_result *out = calloc(NM, sizeof(*out));
    assert_true(vals && in && out);
    for (int i = 0; i < NM; i++) {
        vals[i] = (uint64_t)i;
        in[i] = (mp_buf){&vals[i], sizeof(vals[i])};
    }
    /* the map runs the loop: the futures finish meanwhile */
    assert_int_equal(mp_pool_map(p, square, in, NM, out), 0);
    for (int i = 0; i < NM; i++) {
        uint64_t v = 0;
        assert_int_equal(out[i].status, 0);
        memcpy(&v, out[i].data, sizeof(v));
        assert_int_equal(v, (uint64_t)i * i);
        mp_result_clear(&out[i]);
    }
    for (int i = 0; i < NF; i++) {
        assert_int_equal(value_of(fs[i]), 3 * (uint64_t)i);
        assert_int_equal(calls[i], 1);
        mp_future_free(fs[i]);
    }
    mp_pool_stats st;
    mp_pool_get_stats(p, &st);
    assert_int_equal(st.futures_waiting, 0);
    assert_true(st.tasks_done >= NF + NM);
    free(vals), free(in), free(out);
    mp_pool_destroy(p);
}

static void worker_killed_with_futures_pending(void **state)
{
    char dir[] = "/tmp/mp-future-XXXXXX";
    assert_non_null(mkdtemp(dir));
    mp_pool_options o = {.workers = 2, .concurrency = 4, .max_attempts = 2};
    mp_pool *p;
    assert_int_equal(mp_pool_create(&p, &o), 0);
    enum { N = 60 };
    mp_future *fs[N];
    int calls[N] = {0};
    for (int i = 0; i < N; i++) {
        job j = {.value = (uint64_t)i, .sleep_ms = 20};
        if (i == 7) { /* kills its worker once: re-run, then fine */
            j.kill = 1;
            snprintf(j.marker, sizeof(j.marker), "%s/once", dir);
        }
        if (i == 11) /* kills every worker it runs on: MP_EWORKER */
            j.kill = 2;
        fs[i] = submit(p, j);
        mp_future_on_done(fs[i], count_cb, &calls[i]);
    }
    for (int i = 0; i < N; i++) {
        assert_int_equal(mp_future_wait(fs[i], BOUND_MS), 0);
        const mp_result *r = mp_future_result(fs[i]);
        if (i == 11) {
            assert_int_equal(r->status, MP_EWORKER);
        } else {
            assert_int_equal(r->status, 0);
            assert_int_equal(*(uint64_t *)r->data, 3 * (uint64_t)i);
        }
        assert_int_equal(calls[i], 1); /* each completes once */
    }
    mp_pool_stats st;
    mp_pool_get_stats(p, &st);
    assert_true(st.workers_died >= 2);
    assert_true(st.tasks_retried >= 1);
    for (int i = 0; i < N; i++)
        mp_future_free(fs[i]);
    mp_pool_destroy(p);
    char path[128];
    snprintf(path, sizeof(path), "%s/once", dir);
    unlink(path);
    rmdir(dir);
}

static void cancel_queued_and_running(void **state)
{
    /* one coroutine, one task of prefetch: S and A go out at once, S ends
       and A starts before S's result is sent; then B goes to the worker's
       queue and C waits in the coordinator's */
    mp_pool *p = make_pool(1, 1, 1);
    mp_future *s = submit(p, (job){.tag = 'S'});
    mp_future *a = submit(p, (job){.tag = 'A', .sleep_ms = 30000});
    mp_future *b = submit(p, (job){.tag = 'B'});
    mp_future *c = submit(p, (job){.tag = 'C'});
    int calls[3] = {0};
    mp_future_on_done(a, count_cb, &calls[0]);
    mp_future_on_done(b, count_cb, &calls[1]);
    mp_future_on_done(c, count_cb, &calls[2]);
    assert_int_equal(value_of(s), 0);
    mp_pool_stats st;
    mp_pool_get_stats(p, &st);
    assert_int_equal(st.futures_waiting, 1); /* C */
    assert_int_equal(mp_future_cancel(c), 0);  /* in the coordinator */
    assert_int_equal(mp_future_cancel(b), 0);  /* queued at the worker */
    assert_int_equal(mp_future_cancel(a), 0);  /* running */
    assert_int_equal(mp_future_cancel(a), MP_EINVAL); /* done already */
    for (int i = 0; i < 3; i++)
        assert_int_equal(calls[i], 1);
    mp_future *abc[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        assert_true(mp_future_done(abc[i]));
        assert_int_equal(mp_future_result(abc[i])->status, MP_ECANCELED);
        mp_future_free(abc[i]);
    }
    mp_pool_get_stats(p, &st);
    assert_int_equal(st.futures_waiting, 0);
    /* B and C never ran; A's 30 s sleep was woken with MP_ECANCELED */
    expect_seen(p, "SA", MP_ECANCELED);
    mp_future_free(s);
    mp_pool_destroy(p);
}

static void wait_times_out_and_wait_any(void **state)
{
    mp_pool *p = make_pool(1, 4, 0);
    mp_future *fs[3] = {
        submit(p, (job){.value = 1, .sleep_ms = 30000}),
        submit(p, (job){.value = 2, .sleep_ms = 20}),
        submit(p, (job){.value = 3, .sleep_ms = 30000}),
    };
    assert_int_equal(mp_future_wait(fs[0], 30), MP_ETIMEDOUT);
    assert_false(mp_future_done(fs[0]));
    assert_null(mp_future_result(fs[0]));
    assert_int_equal(mp_future_wait_any(fs, 3, BOUND_MS), 1);
    assert_int_equal(value_of(fs[1]), 6);
    assert_int_equal(mp_future_wait_any(fs, 3, BOUND_MS), 1); /* at once */
    mp_future *slow[2] = {fs[0], fs[2]};
    assert_int_equal(mp_future_wait_any(slow, 2, 30), MP_ETIMEDOUT);
    /* bad arguments */
    assert_int_equal(mp_future_wait_any(NULL, 1, 0), MP_EINVAL);
    assert_int_equal(mp_future_wait_any(slow, 0, 0), MP_EINVAL);
    assert_int_equal(mp_future_wait(NULL, 0), MP_EINVAL);
    assert_int_equal(mp_pool_submit(p, NULL, NULL, 0, &fs[1]), MP_EINVAL);
    assert_int_equal(mp_future_cancel(NULL), MP_EINVAL);
    assert_false(mp_future_done(NULL));
    for (int i = 0; i < 3; i++)
        mp_future_free(fs[i]); /* two of them pending: canceled */
    mp_pool_destroy(p);
}

/* ---- attached to the caller's event_base ---- */

typedef struct attach_state {
    struct event_base *base;
    int done, on_base, bad;
    mp_future *fs[50];
} attach_state;

static void attached_cb(mp_future *f, void *ud)
{
    attach_state *s = ud;
    /* running inside the caller's event_base_dispatch */
    s->on_base += event_base_get_running_event(s->base) != NULL;
    const mp_result *r = mp_future_result(f);
    s->bad += !r || r->status != 0;
    if (++s->done == 50)
        event_base_loopbreak(s->base);
}

static void on_bound(evutil_socket_t fd, short what, void *arg)
{
    fail_msg("the attached pool's futures did not finish within %d ms",
             BOUND_MS);
}

static void attach_runs_callbacks_on_the_callers_base(void **state)
{
    attach_state s = {.base = event_base_new()};
    assert_non_null(s.base);
    mp_pool *p = make_pool(2, 8, 0);
    assert_int_equal(mp_pool_attach(p, s.base), 0);
    assert_int_equal(mp_pool_attach(p, s.base), MP_EINVAL); /* once */
    for (int i = 0; i < 50; i++) {
        s.fs[i] = submit(p, (job){.value = (uint64_t)i, .sleep_ms = 5});
        mp_future_on_done(s.fs[i], attached_cb, &s);
    }
    /* blocking calls are refused on an attached pool */
    mp_result r;
    assert_int_equal(mp_pool_apply(p, noop, NULL, 0, &r), MP_EATTACHED);
    assert_int_equal(mp_future_wait(s.fs[0], 10), MP_EATTACHED);
    struct event *bound = evtimer_new(s.base, on_bound, NULL);
    struct timeval tv = {BOUND_MS / 1000, 0};
    evtimer_add(bound, &tv);
    assert_int_equal(event_base_dispatch(s.base), 0);
    assert_int_equal(s.done, 50);
    assert_int_equal(s.on_base, 50);
    assert_int_equal(s.bad, 0);
    for (int i = 0; i < 50; i++) {
        assert_int_equal(mp_future_wait(s.fs[i], 0), 0); /* done: fine */
        assert_int_equal(*(uint64_t *)mp_future_result(s.fs[i])->data,
                         3 * (uint64_t)i);
        mp_future_free(s.fs[i]);
    }
    event_free(bound);
    mp_pool_destroy(p);
    event_base_free(s.base);
}

/* ---- a million futures ---- */

typedef struct million {
    uint8_t *seen; /* one bit per future */
    size_t done, twice;
} million;

static void million_cb(mp_future *f, void *ud)
{
    million *m = ud;
    const mp_result *r = mp_future_result(f);
    uint64_t v = 0;
    if (r->status == 0 && r->len == sizeof(v))
        memcpy(&v, r->data, sizeof(v));
    v /= 3; /* work() returns value * 3: the index */
    if (m->seen[v / 8] & (1u << (v % 8)))
        m->twice++;
    m->seen[v / 8] |= (uint8_t)(1u << (v % 8));
    m->done++;
    mp_future_free(f); /* a callback may free its own future */
}

static void million_futures_bounded(void **state)
{
    enum { N = 1000000, WORKERS = 2, CONC = 256 };
    million m = {.seen = calloc(N / 8 + 1, 1)};
    assert_non_null(m.seen);
    mp_pool *p = make_pool(WORKERS, CONC, 0);
    mp_future *f;
    for (uint64_t i = 0; i < N; i++) { /* no waits in between */
        job j = {.value = i};
        assert_int_equal(mp_pool_submit(p, work, &j, sizeof(j), &f), 0);
        assert_int_equal(mp_future_on_done(f, million_cb, &m), 0);
    }
    mp_pool_stats st;
    mp_pool_get_stats(p, &st);
    assert_int_equal(st.futures_waiting, N); /* submit never dispatches */
    /* drive the loop in slices until every callback ran */
    mp_future *idle = submit(p, (job){.sleep_ms = 600000});
    for (int slice = 0; m.done < N && slice < BOUND_MS / 100; slice++)
        assert_int_equal(mp_future_wait(idle, 100), MP_ETIMEDOUT);
    mp_future_free(idle);
    assert_int_equal(m.done, N);
    assert_int_equal(m.twice, 0);
    for (size_t i = 0; i < N; i++)
        assert_true(m.seen[i / 8] & (1u << (i % 8)));
    mp_pool_get_stats(p, &st);
    /* the coordinator held at most its credit in the ledger (prefetch 0:
       the adaptive window, at most MP_MAX_WINDOW a worker); the rest
       waited as futures in its queue */
    assert_true(st.max_buffered <= (size_t)WORKERS * MP_MAX_WINDOW);
    assert_int_equal(st.max_futures_waiting, N + 1); /* and idle */
    assert_int_equal(st.futures_waiting, 0);
    assert_true(st.tasks_done >= N);
    mp_pool_destroy(p);
    free(m.seen);
}

int main(void)
{
    mp_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(futures_beside_a_map),
        cmocka_unit_test(worker_killed_with_futures_pending),
        cmocka_unit_test(cancel_queued_and_running),
        cmocka_unit_test(wait_times_out_and_wait_any),
        cmocka_unit_test(attach_runs_callbacks_on_the_callers_base),
        cmocka_unit_test(million_futures_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
