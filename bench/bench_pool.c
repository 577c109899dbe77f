/*
 * bench_pool: no-op tasks per second through mp_pool_map with 1 and 2
 * workers and several batch sizes (credit per worker), and the cost of one
 * coroutine switch. Prints one Markdown row per configuration; bench/pool
 * adds Python's ProcessPoolExecutor to the same table.
 * Usage: bench_pool [tasks]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "coro.h"
#include "mpool.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int noop(mp_task *t, const void *in, size_t len)
{
    return 0;
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

/* Runs n no-op tasks; returns the best tasks/s of three runs. */
static double run(int workers, int conc, int prefetch, size_t n,
                  mp_buf *in, mp_result *out)
{
    mp_pool *p;
    mp_pool_options o = {.workers = workers, .concurrency = conc,
                         .prefetch = prefetch};
    if (mp_pool_create(&p, &o) < 0)
        return 0;
    double best = 0;
    for (int r = 0; r < 3; r++) {
        double t0 = now();
        if (mp_pool_map(p, noop, in, n, out) < 0)
            break;
        double rate = n / (now() - t0);
        best = rate > best ? rate : best;
    }
    mp_pool_destroy(p);
    return best;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 2000000;
    mp_init();
    mp_buf *in = calloc(n, sizeof(*in));
    mp_result *out = calloc(n, sizeof(*out));
    if (!in || !out)
        return 1;
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
    free(in);
    free(out);
    return 0;
}
