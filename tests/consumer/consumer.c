/*
 * A program outside the project that uses an installed libmpool: squares
 * 1..N on a real pool (2 workers) with mp_pool_map and checks the sum of
 * the squares. scripts/install-check.sh and scripts/package-check.sh build
 * it with pkg-config (shared and --static) and with CMake's
 * find_package(mpool). Prints "consumer: ok ..." and exits 0, or says what
 * is wrong and exits 1.
 */
#include <mpool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The task: returns the square of its uint64 input and the worker's pid. */
static int square(mp_task *t, const void *in, size_t len)
{
    uint64_t v[2];
    if (len != sizeof(v[0]))
        return mp_fail(t, MP_EINVAL, "expected 8 bytes, got %zu", len);
    memcpy(&v[0], in, sizeof(v[0]));
    v[0] *= v[0];
    v[1] = (uint64_t)getpid();
    return mp_return(t, v, sizeof(v));
}

int main(void)
{
    enum { N = 1000 };
    static uint64_t vals[N];
    static mp_buf in[N];
    static mp_result out[N];
    mp_pool *p = NULL;
    mp_pool_options o = {.workers = 2, .concurrency = 16};
    int rc = mp_init();
    if (rc == 0)
        rc = mp_pool_create(&p, &o);
    if (rc != 0) {
        fprintf(stderr, "consumer: no pool: %s\n", mp_strerror(rc));
        return 1;
    }
    for (size_t i = 0; i < N; i++) {
        vals[i] = i + 1;
        in[i] = (mp_buf){&vals[i], sizeof(vals[i])};
    }
    rc = mp_pool_map(p, square, in, N, out);
    uint64_t sum = 0, me = (uint64_t)getpid(), bad = 0;
    for (size_t i = 0; i < N; i++) {
        uint64_t v[2] = {0, me};
        if (out[i].status == 0 && out[i].len == sizeof(v))
            memcpy(v, out[i].data, sizeof(v));
        bad += v[1] == me; /* a result must come from a worker process */
        sum += v[0];
        mp_result_clear(&out[i]);
    }
    mp_pool_destroy(p);
    const uint64_t want = (uint64_t)N * (N + 1) * (2 * N + 1) / 6;
    if (rc != 0 || bad || sum != want) {
        fprintf(stderr, "consumer: map returned %s, sum %llu (want %llu), "
                        "%llu results not from a worker\n", mp_err_name(rc),
                (unsigned long long)sum, (unsigned long long)want,
                (unsigned long long)bad);
        return 1;
    }
    printf("consumer: ok, sum of squares 1..%d = %llu, libmpool %s\n", N,
           (unsigned long long)sum, MP_VERSION_STRING);
    return 0;
}
