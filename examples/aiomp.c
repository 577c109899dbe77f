/*
 * mp_example_aiomp: aiomultiprocess's three shapes, in C.
 *
 * Python (aiomultiprocess):
 *     async def get(url):
 *         async with aiohttp.request("GET", url) as r:
 *             return await r.text()
 *     p = Process(target=get, args=(url,)); p.start(); await p.join()
 *     text = await Worker(target=get, args=(url,))
 *     async with Pool(processes=2, childconcurrency=8) as pool:
 *         texts = await pool.map(get, urls)
 *
 * Process: one coroutine in its own process, no result back (a pool of one
 * worker, one task). Worker: the same with its result back. Pool: N
 * processes times M coroutines each, map over a list, results in order.
 *
 * Usage: mp_example_aiomp BASE_URL [N_URLS]
 * The URLs are BASE_URL/bytes/K (K = 1 + i % 50), so every result's size
 * is known: exits 1 unless each shape got exactly what it asked for.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpool.h"

/* The coroutine: GETs the URL and returns the body (the text). */
static int get(mp_task *t, const void *in, size_t len)
{
    mp_http_request req = {.url = in, .timeout_ms = 30000};
    mp_http_response resp;
    int rc = mp_http(t, &req, &resp);
    if (rc == 0 && resp.status != 200)
        rc = mp_fail(t, MP_EHTTP, "%s: HTTP status %ld", (const char *)in,
                     resp.status);
    else if (rc == 0)
        rc = mp_return(t, resp.body, resp.body_len);
    else
        mp_fail(t, rc, "%s", resp.message);
    mp_http_response_clear(&resp);
    return rc;
}

/* Runs fn(in) in a process of its own and returns its result
   (aiomultiprocess.Worker; Process is the same, result ignored). */
static int run_in_process(mp_task_fn fn, const char *in, mp_result *out)
{
    mp_pool_options o = {.workers = 1, .concurrency = 1};
    mp_pool *p;
    int rc = mp_pool_create(&p, &o);
    if (rc < 0)
        return rc;
    rc = mp_pool_apply(p, fn, in, strlen(in) + 1, out);
    mp_pool_destroy(p);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s BASE_URL [N_URLS]\n", argv[0]);
        return 2;
    }
    size_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 200;
    mp_init();
    int bad = 0;
    char url[512];

    /* Process: runs, we only learn that it finished */
    snprintf(url, sizeof(url), "%s/ok", argv[1]);
    mp_result r;
    int rc = run_in_process(get, url, &r);
    printf("Process: %s\n", rc == 0 ? mp_err_name(r.status) : mp_err_name(rc));
    bad += rc != 0 || r.status != 0;
    mp_result_clear(&r);

    /* Worker: the same, with the result back */
    snprintf(url, sizeof(url), "%s/bytes/10", argv[1]);
    rc = run_in_process(get, url, &r);
    printf("Worker: %s, %zu bytes back\n",
           rc == 0 ? mp_err_name(r.status) : mp_err_name(rc), r.len);
    bad += rc != 0 || r.status != 0 || r.len != 10;
    mp_result_clear(&r);

    /* Pool(processes=2, childconcurrency=8).map */
    mp_pool_options o = {.workers = 2, .concurrency = 8};
    mp_pool *p;
    if ((rc = mp_pool_create(&p, &o)) < 0) {
        fprintf(stderr, "mp_pool_create: %s\n", mp_strerror(rc));
        return 1;
    }
    char (*urls)[512] = calloc(n ? n : 1, sizeof(*urls));
    mp_buf *in = calloc(n ? n : 1, sizeof(*in));
    mp_result *out = calloc(n ? n : 1, sizeof(*out));
    if (!urls || !in || !out)
        return 1;
    for (size_t i = 0; i < n; i++) {
        snprintf(urls[i], sizeof(urls[i]), "%s/bytes/%zu", argv[1],
                 1 + i % 50);
        in[i] = (mp_buf){urls[i], strlen(urls[i]) + 1};
    }
    rc = mp_pool_map(p, get, in, n, out);
    size_t right = 0;
    for (size_t i = 0; i < n; i++) { /* in order: result i is URL i's */
        right += out[i].status == 0 && out[i].len == 1 + i % 50;
        mp_result_clear(&out[i]);
    }
    printf("Pool(processes=%d, childconcurrency=%d).map: %zu of %zu "
           "results right, in order\n", o.workers, o.concurrency, right, n);
    bad += rc != 0 || right != n;
    mp_pool_destroy(p);
    free(urls);
    free(in);
    free(out);
    printf("aiomp: %s\n", bad ? "FAILED" : "all three shapes ok");
    return bad ? 1 : 0;
}
