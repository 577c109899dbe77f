/*
 * mp_example_map: squares N numbers across all cores with mp_pool_map and
 * checks every result. Usage: mp_example_map [N] [concurrency]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mpool.h"

/* The task: reads a uint64, returns its square. */
static int square(mp_task *t, const void *in, size_t len)
{
    uint64_t v;
    if (len != sizeof(v))
        return mp_fail(t, MP_EINVAL, "expected %zu bytes, got %zu",
                       sizeof(v), len);
    __builtin_memcpy(&v, in, sizeof(v));
    v *= v;
    return mp_return(t, &v, sizeof(v));
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    int conc = argc > 2 ? atoi(argv[2]) : 256;
    mp_init();
    uint64_t *vals = malloc(n * sizeof(*vals));
    mp_buf *in = malloc(n * sizeof(*in));
    mp_result *out = calloc(n, sizeof(*out));
    if (!vals || !in || !out)
        return 1;
    for (size_t i = 0; i < n; i++) {
        vals[i] = i;
        in[i] = (mp_buf){&vals[i], sizeof(vals[i])};
    }
    mp_pool *p;
    mp_pool_options o = {.concurrency = conc};
    int rc = mp_pool_create(&p, &o);
    if (rc < 0) {
        fprintf(stderr, "mp_pool_create: %s\n", mp_strerror(rc));
        return 1;
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    rc = mp_pool_map(p, square, in, n, out);
    clock_gettime(CLOCK_MONOTONIC, &b);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t v = 0;
        if (out[i].status == 0 && out[i].len == sizeof(v))
            __builtin_memcpy(&v, out[i].data, sizeof(v));
        bad += v != (uint64_t)i * i;
        mp_result_clear(&out[i]);
    }
    double s = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    printf("mp_pool_map: %zu tasks on %d workers in %.3f s (%.0f tasks/s), "
           "%zu wrong, status %s\n", n, mp_pool_workers(p), s, n / s, bad,
           mp_err_name(rc));
    mp_pool_destroy(p);
    free(vals), free(in), free(out);
    return rc == 0 && bad == 0 ? 0 : 1;
}
