/*
 * mp_example_page_batches: a big URL list cut into pages of 1,000; each
 * page is one task, which fetches its URLs concurrently with mp_http
 * inside its worker; the pages' summaries are merged in the caller.
 *
 * Python (asyncio + ProcessPoolExecutor, the usual recipe):
 *     def fetch_page(urls):                  # runs in a worker process
 *         async def run():
 *             async with aiohttp.ClientSession() as s:
 *                 sem = asyncio.Semaphore(50)
 *                 return await asyncio.gather(*(get(s, sem, u) for u in urls))
 *         return asyncio.run(run())
 *     pages = [urls[i:i + 1000] for i in range(0, len(urls), 1000)]
 *     with ProcessPoolExecutor() as ex:
 *         for summary in ex.map(fetch_page, pages): merge(summary)
 *
 * Here a page task starts LANES child coroutines (mp_spawn), each taking
 * every LANES-th URL of the page (the semaphore), and joins them.
 *
 * Usage: mp_example_page_batches BASE_URL [N_URLS]
 * The URLs are BASE_URL/bytes/K for K = i % 100, so the merged byte count
 * is known in advance: exits 1 unless every URL was fetched with status
 * 200 and the bytes add up.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mpool.h"

#define PAGE 1000 /* URLs per task */
#define LANES 50  /* concurrent requests inside one task */

/* What a page task returns. */
typedef struct summary {
    uint64_t urls, ok, failed, bytes;
} summary;

/* One lane: the URLs of its page it handles, and where it adds up. */
typedef struct lane {
    const char *page; /* NUL-separated URLs */
    size_t len;
    unsigned first, step;
    summary *sum; /* the page task's, on its stack (same process) */
} lane;

static int run_lane(mp_task *t, const void *in, size_t len)
{
    const lane *l = in;
    const char *u = l->page, *end = l->page + l->len;
    for (unsigned i = 0; u < end; i++, u += strlen(u) + 1) {
        if (i < l->first || (i - l->first) % l->step)
            continue;
        mp_http_request req = {.url = u, .timeout_ms = 30000, .no_body = 1};
        mp_http_response resp;
        int rc = mp_http(t, &req, &resp);
        long status = resp.status;
        size_t got = resp.body_len;
        mp_http_response_clear(&resp);
        if (rc == MP_ECANCELED || rc == MP_ETIMEDOUT)
            return rc; /* the page's task is ending: touch nothing more */
        l->sum->urls++;
        if (rc == 0 && status == 200) {
            l->sum->ok++;
            l->sum->bytes += got;
        } else {
            l->sum->failed++;
        }
    }
    return 0;
}

/* The page task: its input is the page's URLs, NUL-separated. */
static int fetch_page(mp_task *t, const void *in, size_t len)
{
    summary sum = {0};
    lane lanes[LANES];
    mp_child *c[LANES];
    int started = 0, rc = 0;
    for (unsigned i = 0; i < LANES && rc == 0; i++) {
        lanes[i] = (lane){in, len, i, LANES, &sum};
        if ((rc = mp_spawn(t, run_lane, &lanes[i], sizeof(lanes[i]),
                           &c[i])) == 0)
            started++;
    }
    for (int i = 0; i < started; i++) { /* every lane is joined: none
                                           outlives `sum` */
        mp_result r;
        mp_join(c[i], &r, 0);
        mp_result_clear(&r);
    }
    if (rc < 0)
        return mp_fail(t, rc, "mp_spawn: %s", mp_strerror(rc));
    return mp_return(t, &sum, sizeof(sum));
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s BASE_URL [N_URLS]\n", argv[0]);
        return 2;
    }
    size_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : 10000;
    mp_init();
    /* The URL list, and the pages cut from it. */
    size_t npages = (n + PAGE - 1) / PAGE, urlmax = strlen(argv[1]) + 16;
    char *urls = malloc(n * urlmax + 1);
    mp_buf *pages = calloc(npages ? npages : 1, sizeof(*pages));
    mp_result *out = calloc(npages ? npages : 1, sizeof(*out));
    if (!urls || !pages || !out)
        return 1;
    size_t off = 0;
    uint64_t want_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (i % PAGE == 0)
            pages[i / PAGE].data = urls + off;
        off += (size_t)sprintf(urls + off, "%s/bytes/%zu", argv[1],
                               i % 100) + 1;
        pages[i / PAGE].len = (size_t)(urls + off -
                                       (char *)pages[i / PAGE].data);
        want_bytes += i % 100;
    }

    mp_pool *p;
    int rc = mp_pool_create(&p, NULL); /* one worker per core */
    if (rc < 0) {
        fprintf(stderr, "mp_pool_create: %s\n", mp_strerror(rc));
        return 1;
    }
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    rc = mp_pool_map(p, fetch_page, pages, npages, out);
    clock_gettime(CLOCK_MONOTONIC, &b);
    summary all = {0};
    size_t bad_pages = 0;
    for (size_t i = 0; i < npages; i++) { /* merge */
        summary s;
        if (out[i].status == 0 && out[i].len == sizeof(s)) {
            memcpy(&s, out[i].data, sizeof(s));
            all.urls += s.urls, all.ok += s.ok;
            all.failed += s.failed, all.bytes += s.bytes;
        } else {
            bad_pages++;
            fprintf(stderr, "page %zu: %s %s\n", i,
                    mp_err_name(out[i].status),
                    out[i].error ? out[i].error : "");
        }
        mp_result_clear(&out[i]);
    }
    double s = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    printf("page_batches: %zu URLs in %zu pages on %d workers: %" PRIu64
           " ok, %" PRIu64 " failed, %" PRIu64 " bytes (expected %" PRIu64
           "), %.2f s, %.0f req/s\n", n, npages, mp_pool_workers(p), all.ok,
           all.failed, all.bytes, want_bytes, s, s > 0 ? n / s : 0.0);
    mp_pool_destroy(p);
    free(urls);
    free(pages);
    free(out);
    return rc == 0 && bad_pages == 0 && all.ok == n &&
                   all.bytes == want_bytes ? 0 : 1;
}
