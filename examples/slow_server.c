/*
 * mp_example_slow_server: five requests to a server that takes MS
 * milliseconds to answer each finish in about MS, not 5 * MS: they wait
 * at the same time, as coroutines of one worker process.
 *
 * Python: asyncio.gather(*(session.get(url) for _ in range(5))) with
 * aiohttp, where requests.get in a loop would take five times as long.
 *
 * Usage: mp_example_slow_server BASE_URL [MS] [N]
 *   BASE_URL  a server with a /delay/MS endpoint (the bundled mp-testserver)
 * Prints the wall time and the serial sum (each request's own time,
 * added up) and exits 1 if the wall time is not under 60% of that sum
 * (ideal: 1/N of it) or a request failed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mpool.h"

/* The task: GET the URL it is given; returns the request's own time in
   microseconds, or fails with the transfer's error. */
static int fetch(mp_task *t, const void *in, size_t len)
{
    mp_http_request req = {.url = in, .timeout_ms = 30000};
    mp_http_response resp;
    int rc = mp_http(t, &req, &resp);
    uint64_t us = resp.t_total_us;
    long status = resp.status;
    if (rc == 0 && status != 200)
        rc = mp_fail(t, MP_EHTTP, "HTTP status %ld", status);
    else if (rc < 0)
        mp_fail(t, rc, "%s", resp.message ? resp.message : mp_strerror(rc));
    mp_http_response_clear(&resp);
    return rc < 0 ? rc : mp_return(t, &us, sizeof(us));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s BASE_URL [MS] [N]\n", argv[0]);
        return 2;
    }
    unsigned ms = argc > 2 ? (unsigned)atoi(argv[2]) : 1000;
    size_t n = argc > 3 ? (size_t)atoi(argv[3]) : 5;
    if (n < 2 || n > 1000 || ms < 1) {
        fprintf(stderr, "N must be 2-1000 and MS at least 1\n");
        return 2;
    }
    mp_init();
    /* One worker, and room for all N requests at once on it. */
    mp_pool_options o = {.workers = 1, .concurrency = (int)n};
    mp_pool *p;
    int rc = mp_pool_create(&p, &o);
    if (rc < 0) {
        fprintf(stderr, "mp_pool_create: %s\n", mp_strerror(rc));
        return 1;
    }
    char url[512];
    snprintf(url, sizeof(url), "%s/delay/%u", argv[1], ms);
    mp_buf *in = calloc(n, sizeof(*in));
    mp_result *out = calloc(n, sizeof(*out));
    if (!in || !out)
        return 1;
    for (size_t i = 0; i < n; i++)
        in[i] = (mp_buf){url, strlen(url) + 1};

    double t0 = now_s();
    rc = mp_pool_map(p, fetch, in, n, out);
    double wall = now_s() - t0, serial = 0;
    size_t failed = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t us = 0;
        if (out[i].status == 0 && out[i].len == sizeof(us))
            memcpy(&us, out[i].data, sizeof(us));
        else {
            failed++;
            fprintf(stderr, "request %zu: %s: %s\n", i,
                    mp_err_name(out[i].status),
                    out[i].error ? out[i].error : "");
        }
        serial += us / 1e6;
        mp_result_clear(&out[i]);
    }
    double ratio = serial > 0 ? wall / serial : 1;
    printf("slow_server: %zu requests of %u ms: %.3f s in all, %.3f s one "
           "after another, ratio %.2f (ideal %.2f), %zu failed\n",
           n, ms, wall, serial, ratio, 1.0 / (double)n, failed);
    mp_pool_destroy(p);
    free(in);
    free(out);
    return rc == 0 && failed == 0 && ratio < 0.6 ? 0 : 1;
}
