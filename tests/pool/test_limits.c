/*
 * The documented limits of mp_pool_options: each one refused past it, with
 * a sentence naming it; and each one reachable: MP_MAX_CONCURRENCY
 * coroutines at once in one worker under the default vm.max_map_count, a
 * pool of MP_MAX_WORKERS workers. Every blocking call has a bound of its
 * own that fails with a message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>
#include <cmocka.h>

#include "mpool.h"
#include "testutil.h"

#define DEFAULT_MAX_MAP_COUNT 65530 /* Linux's default vm.max_map_count */

/* Expects opts refused with err by both mp_pool_options_check and
   mp_pool_create, each naming `names` in its message. */
static void refused(const mp_pool_options *o, int err, const char *names)
{
    char msg[256];
    assert_int_equal(mp_pool_options_check(o, msg, sizeof(msg)), err);
    if (!strstr(msg, names))
        fail_msg("\"%s\" does not name %s", msg, names);
    mp_pool *p = NULL;
    assert_int_equal(mp_pool_create(&p, o), err);
    assert_null(p);
    assert_non_null(mp_last_error());
    if (!strstr(mp_last_error(), names))
        fail_msg("mp_last_error \"%s\" does not name %s", mp_last_error(),
                 names);
}

static void each_limit_is_refused_by_name(void **state)
{
    char msg[256] = "x";
    assert_int_equal(mp_pool_options_check(NULL, msg, sizeof(msg)), 0);
    assert_string_equal(msg, "");
    mp_pool_options ok = {.workers = MP_MAX_WORKERS,
                          .concurrency = MP_MAX_CONCURRENCY / 100,
                          .prefetch = 1};
    assert_int_equal(mp_pool_options_check(&ok, NULL, 0), 0);
    refused(&(mp_pool_options){.workers = MP_MAX_WORKERS + 1}, MP_EINVAL,
            "MP_MAX_WORKERS");
    refused(&(mp_pool_options){.workers = -1}, MP_EINVAL, "MP_MAX_WORKERS");
    refused(&(mp_pool_options){.concurrency = MP_MAX_CONCURRENCY + 1},
            MP_EINVAL, "MP_MAX_CONCURRENCY");
    refused(&(mp_pool_options){.concurrency = 100000}, MP_EINVAL,
            "got 100000");
    refused(&(mp_pool_options){.prefetch = MP_MAX_PREFETCH + 1}, MP_EINVAL,
            "MP_MAX_PREFETCH");
    refused(&(mp_pool_options){.workers = MP_MAX_WORKERS,
                               .concurrency = MP_MAX_CONCURRENCY},
            MP_EINVAL, "MP_MAX_POOL_TASKS");
    refused(&(mp_pool_options){.stack_size = SIZE_MAX}, MP_EINVAL,
            "MP_MAX_STACK_SIZE"); /* was rounded to 16 KiB, wrapping */
    refused(&(mp_pool_options){.stack_size = MP_MAX_STACK_SIZE + 1},
            MP_EINVAL, "MP_MAX_STACK_SIZE");
    refused(&(mp_pool_options){.rate = -1}, MP_EINVAL, "rate");
    refused(&(mp_pool_options){.init_len = 3}, MP_EINVAL, "init_arg");
    refused(&(mp_pool_options){.init_arg = "x",
                               .init_len = MP_MAX_PAYLOAD + 1},
            MP_E2BIG, "MP_MAX_PAYLOAD");
}

/* ---- a frame bigger than the stack ------------------------------------ */

/* A frame far bigger than its 16 KiB stack, written at its far end. Built
   with -fstack-clash-protection, the frame is probed page by page and the
   first probe past the stack hits the guard page: the worker crashes
   instead of writing into whatever lies below (another coroutine's
   stack). */
static int huge_frame(mp_task *t, const void *in, size_t len)
{
    size_t n;
    memcpy(&n, in, sizeof(n));
    volatile char buf[n];
    buf[0] = 1;
    return mp_return(t, (const char *)&buf[0], 1);
}

static void a_frame_cannot_jump_the_guard_page(void **state)
{
    mp_pool *p = NULL;
    mp_pool_options o = {.workers = 1, .concurrency = 4, .stack_size = 16384,
                         .max_attempts = 2};
    assert_int_equal(mp_pool_create(&p, &o), 0);
    size_t big = 256 << 10, small = 1024;
    mp_buf in[2] = {{&big, sizeof(big)}, {&small, sizeof(small)}};
    mp_result out[2];
    tu_bound(30, "a map with a frame larger than its stack");
    assert_int_equal(mp_pool_map(p, huge_frame, in, 2, out), 0);
    tu_unbound();
    assert_int_equal(out[0].status, MP_EWORKER); /* it hit the guard */
    assert_int_equal(out[1].status, 0);          /* a small frame is fine */
    mp_result_clear(&out[0]);
    mp_result_clear(&out[1]);
    mp_pool_destroy(p);
}

/* ---- MP_MAX_CONCURRENCY coroutines in one worker ---------------------- */

static int gate = -1;    /* per worker: an eventfd, set by the last task */
static int running;      /* per worker: tasks started and not done */
static int max_running;  /* per worker */
static int maps_at_peak; /* per worker: /proc/self/maps lines then */

static int count_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    int n = 0, c;
    if (!f)
        return -1;
    while ((c = getc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

/* Waits (mp_wait_fd, no polling) until MP_MAX_CONCURRENCY tasks are
   running at once in this worker; the last to arrive opens the gate. */
static int crowd(mp_task *t, const void *in, size_t len)
{
    if (gate < 0 && (gate = eventfd(0, EFD_CLOEXEC)) < 0)
        return mp_fail(t, MP_ESYS, "eventfd");
    if (++running > max_running)
        max_running = running;
    if (running == MP_MAX_CONCURRENCY) {
        maps_at_peak = count_maps();
        uint64_t one = 1;
        if (write(gate, &one, sizeof(one)) < 0)
            return mp_fail(t, MP_ESYS, "write");
    }
    int rc = mp_wait_fd(t, gate, MP_READ, 0);
    running--;
    if (rc < 0)
        return rc;
    int out[2] = {max_running, maps_at_peak};
    return mp_return(t, out, sizeof(out));
}

static void max_concurrency_in_one_worker(void **state)
{
    enum { N = MP_MAX_CONCURRENCY };
    mp_pool *p = NULL;
    mp_pool_options o = {.workers = 1, .concurrency = N, .prefetch = 1};
    assert_int_equal(mp_pool_create(&p, &o), 0);
    mp_buf *in = calloc(N, sizeof(*in));
    mp_result *out = calloc(N, sizeof(*out));
    tu_bound(100, "20000 tasks waiting together in one worker");
    assert_int_equal(mp_pool_map(p, crowd, in, N, out), 0);
    tu_unbound();
    int peak = 0, maps = 0;
    for (int i = 0; i < N; i++) {
        if (out[i].status != 0)
            fail_msg("task %d: %s %s", i, mp_err_name(out[i].status),
                     out[i].error ? out[i].error : "");
        int v[2];
        memcpy(v, out[i].data, sizeof(v));
        if (v[0] > peak)
            peak = v[0];
        if (v[1] > maps)
            maps = v[1];
        mp_result_clear(&out[i]);
    }
    print_message("%d coroutines at once; %d mappings in the worker\n", peak,
                  maps);
    assert_int_equal(peak, N);
    assert_true(maps > 0 && maps < DEFAULT_MAX_MAP_COUNT);
    mp_pool_stats st;
    mp_pool_get_stats(p, &st);
    assert_int_equal(st.workers_died, 0);
    mp_pool_destroy(p);
    free(in), free(out);
}

/* ---- MP_MAX_WORKERS workers ------------------------------------------- */

static int whoami(mp_task *t, const void *in, size_t len)
{
    int slot = mp_worker_slot();
    return mp_return(t, &slot, sizeof(slot));
}

static void max_workers_in_one_pool(void **state)
{
    enum { N = 2 * MP_MAX_WORKERS };
    struct rlimit rl; /* about 5 files per worker in the coordinator */
    getrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (rl.rlim_cur < 8 * MP_MAX_WORKERS) {
        print_message("skipped: RLIMIT_NOFILE %llu is too low\n",
                      (unsigned long long)rl.rlim_cur);
        skip();
    }
    mp_pool *p = NULL;
    mp_pool_options o = {.workers = MP_MAX_WORKERS, .concurrency = 1,
                         .prefetch = 1, .stack_size = 16384};
    tu_bound(100, "a pool of MP_MAX_WORKERS workers to start");
    int rc = mp_pool_create(&p, &o);
    if (rc < 0)
        fail_msg("mp_pool_create: %s (%s)", mp_err_name(rc),
                 mp_last_error() ? mp_last_error() : "");
    /* the pools of a process share the limit: one more is refused */
    mp_pool *q = NULL;
    assert_int_equal(mp_pool_create(&q, &(mp_pool_options){.workers = 1}),
                     MP_EINVAL);
    assert_non_null(strstr(mp_last_error(), "MP_MAX_WORKERS"));
    mp_buf *in = calloc(N, sizeof(*in));
    mp_result *out = calloc(N, sizeof(*out));
    tu_bound(100, "a map over MP_MAX_WORKERS workers");
    assert_int_equal(mp_pool_map(p, whoami, in, N, out), 0);
    tu_unbound();
    static char used[MP_MAX_WORKERS];
    for (int i = 0; i < N; i++) {
        assert_int_equal(out[i].status, 0);
        int slot;
        memcpy(&slot, out[i].data, sizeof(slot));
        assert_true(slot >= 0 && slot < MP_MAX_WORKERS);
        used[slot] = 1;
        mp_result_clear(&out[i]);
    }
    int n = 0;
    for (int i = 0; i < MP_MAX_WORKERS; i++)
        n += used[i];
    assert_int_equal(n, MP_MAX_WORKERS); /* a small batch reached all */
    mp_pool_destroy(p);
    free(in), free(out);
}

int main(void)
{
    mp_init();
    const struct CMUnitTest tests[] = {
        TU_BOUNDED(each_limit_is_refused_by_name, 200),
        TU_BOUNDED(a_frame_cannot_jump_the_guard_page, 60),
        TU_BOUNDED(max_concurrency_in_one_worker, 200),
        TU_BOUNDED(max_workers_in_one_pool, 200),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
