/*
 * bench_pool: no-op tasks per second through mp_pool_map with 1 and 2
 * workers, at the default options (the adaptive credit window) and at
 * several fixed windows (credit per worker); identity tasks at the
 * defaults; the cost of one coroutine switch; placement: 20 tasks of
 * 50 ms CPU on 2 workers (a map and futures, wall time) and a 10-task
 * map's tasks per worker. Prints Markdown; bench/pool adds Python's
 * ProcessPoolExecutor to the same run.
 * Usage: bench_pool [tasks]      the tables
 *        bench_pool tasks ident  one map of identity tasks at the
 *                                default options: prints tasks/s, and
 *                                on stderr the coordinator thread's
 *                                CPU per task (its serial part)
 *        bench_pool tasks setup  the same but the map (its inputs
 *                                and the pool)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "worker/coro.h"
#include "mpool.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Returns the CPU seconds of the calling thread. */
static double thread_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int noop(mp_task *t, const void *in, size_t len)
{
    return 0;
}

/* Returns its input. */
static int ident(mp_task *t, const void *in, size_t len)
{
    return mp_return(t, in, len);
}

/* 50 ms of CPU, then its worker's slot. */
static int cpu50(mp_task *t, const void *in, size_t len)
{
    struct timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    do
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) <
           50000000L);
    int slot = mp_worker_slot();
    return mp_return(t, &slot, sizeof(slot));
}

static mp__coro *co;
static void pingpong(void *arg)
{
    for (;;)
        mp__coro_yield(co);
}

/* Returns ns per switch (a resume and a yield are two switches). */
static double switch_ns(void)
{
    enum { N = 10000000 };
    co = mp__coro_create(64 << 10, pingpong, NULL);
    double t0 = now();
    for (int i = 0; i < N; i++)
        mp__coro_resume(co);
    double t1 = now();
    mp__coro_destroy(co);
    return (t1 - t0) / (2.0 * N) * 1e9;
}

/* Runs n tasks of fn; returns the best tasks/s of three runs. */
static double run_fn(mp_task_fn fn, int workers, int conc, int prefetch,
                     size_t n, mp_buf *in, mp_result *out)
{
    mp_pool *p;
    mp_pool_options o = {.workers = workers, .concurrency = conc,
                         .prefetch = prefetch};
    if (mp_pool_create(&p, &o) < 0)
        return 0;
    double best = 0;
    for (int r = 0; r < 3; r++) {
        double t0 = now();
        if (mp_pool_map(p, fn, in, n, out) < 0)
            break;
        double rate = n / (now() - t0);
        for (size_t i = 0; fn != noop && i < n; i++)
            mp_result_clear(&out[i]);
        best = rate > best ? rate : best;
    }
    mp_pool_destroy(p);
    return best;
}

static double run(int workers, int conc, int prefetch, size_t n,
                  mp_buf *in, mp_result *out)
{
    return run_fn(noop, workers, conc, prefetch, n, in, out);
}

/* Placement on 2 workers at the default options: 20 tasks of 50 ms CPU as
   a map and as futures (wall seconds, tasks per worker), and a map of 10
   (tasks per worker). */
static void placement(void)
{
    mp_pool *p;
    mp_pool_options o = {.workers = 2};
    if (mp_pool_create(&p, &o) < 0)
        return;
    mp_buf in[20] = {{0}};
    mp_result out[20];
    printf("\n| placement (2 workers, default options) | wall s | tasks on "
           "worker 0 / 1 |\n|---|---|---|\n");
    for (int kind = 0; kind < 3; kind++) {
        int per[2] = {0}, n = kind == 2 ? 10 : 20;
        mp_future *f[20];
        double t0 = now();
        if (kind == 1) {
            for (int i = 0; i < n; i++)
                mp_pool_submit(p, cpu50, NULL, 0, &f[i]);
            mp_future_wait_all(f, (size_t)n, 0);
            for (int i = 0; i < n; i++)
                mp_future_take(f[i], &out[i]), mp_future_free(f[i]);
        } else {
            mp_pool_map(p, cpu50, in, (size_t)n, out);
        }
        double dt = now() - t0;
        for (int i = 0; i < n; i++) {
            int s = -1;
            if (out[i].status == 0 && out[i].len == sizeof(s))
                memcpy(&s, out[i].data, sizeof(s));
            if (s == 0 || s == 1)
                per[s]++;
            mp_result_clear(&out[i]);
        }
        static const char *what[] = {"map of 20 x 50 ms CPU",
                                     "20 futures of 50 ms CPU",
                                     "map of 10 x 50 ms CPU"};
        printf("| %s | %.3f | %d / %d |\n", what[kind], dt, per[0], per[1]);
    }
    mp_pool_destroy(p);
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000;
    mp_init();
    mp_buf *in = calloc(n ? n : 1, sizeof(*in));
    mp_result *out = calloc(n ? n : 1, sizeof(*out));
    if (!in || !out)
        return 1;
    int setup = argc > 2 && !strcmp(argv[2], "setup");
    if (setup || (argc > 2 && !strcmp(argv[2], "ident"))) {
        /* One map of n identity tasks at the default options, for
           bench/pool's CPU count (perf stat of this process tree);
           setup: the same without the map, what bench/pool takes off. */
        uint64_t *v = calloc(n ? n : 1, sizeof(*v));
        mp_pool *p;
        mp_pool_options o = {.workers = 2};
        if (!v || mp_pool_create(&p, &o) < 0)
            return 1;
        for (size_t i = 0; i < n; i++)
            in[i] = (mp_buf){&v[i], sizeof(v[i])};
        double t0 = now(), c0 = thread_cpu();
        int rc = n && !setup ? mp_pool_map(p, ident, in, n, out) : 0;
        printf("%.0f\n", n && !setup ? n / (now() - t0) : 0.0);
        if (n && !setup) /* the coordinator's own share, its serial part */
            fprintf(stderr, "coordinator thread: %.0f ns CPU per task\n",
                    (thread_cpu() - c0) * 1e9 / (double)n);
        mp_pool_destroy(p);
        return rc < 0;
    }
    printf("coroutine switch (%s): %.1f ns\n\n", mp__coro_backend(),
           switch_ns());
    printf("| workers | concurrency | credit (batch) | tasks | tasks/s |\n");
    printf("|---|---|---|---|---|\n");
    int confs[][2] = {{0, 0}, {64, 64}, {256, 1024}, {1024, 4096}};
    for (int w = 1; w <= 2; w++)
        for (size_t c = 0; c < sizeof(confs) / sizeof(confs[0]); c++) {
            double r = run(w, confs[c][0], confs[c][1], n, in, out);
            if (confs[c][0] == 0)
                printf("| %d | default (64) | adaptive | %zu | %.0f |\n", w,
                       n, r);
            else
                printf("| %d | %d | %d | %zu | %.0f |\n", w, confs[c][0],
                       confs[c][0] + confs[c][1], n, r);
            fflush(stdout);
        }
    uint64_t *v = calloc(n, sizeof(*v));
    for (size_t i = 0; v && i < n; i++)
        in[i] = (mp_buf){&v[i], sizeof(v[i])};
    printf("| 2 | default (64), identity (8 bytes each way) | adaptive | "
           "%zu | %.0f |\n", n, run_fn(ident, 2, 0, 0, n, in, out));
    fflush(stdout);
    free(v);
    placement();
    free(in);
    free(out);
    return 0;
}
