#!/usr/bin/python3
"""ProcessPoolExecutor handing pages of 1,000 URLs to processes that each
run an event loop, with mpool.fetch: one call, the pages and the loops
are libmpool's (worker processes x coroutines).

The original (asyncio + ProcessPoolExecutor, the usual recipe):

    def fetch_page(urls):                  # runs in a worker process
        async def run():
            async with aiohttp.ClientSession() as s:
                sem = asyncio.Semaphore(50)
                return await asyncio.gather(*(get(s, sem, u) for u in urls))
        return asyncio.run(run())

    pages = [urls[i:i + 1000] for i in range(0, len(urls), 1000)]
    with ProcessPoolExecutor() as ex:
        for summary in ex.map(fetch_page, pages):
            merge(summary)

With mpool (records stream in as they finish; memory bounded):

    for rec in mpool.fetch(urls, concurrency=50):
        merge(rec)

Usage: page_batches.py BASE_URL [N]   (BASE_URL/bytes/K, K = i % 100: the
byte total is known; exits 1 unless it adds up)
"""
import sys

import mpool

if __name__ == "__main__":
    base, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    urls = (f"{base}/bytes/{i % 100}" for i in range(n))  # never a list
    ok = failed = nbytes = 0
    for rec in mpool.fetch(urls, concurrency=50):
        if rec["ok"]:
            ok += 1
            nbytes += rec["bytes"]
        else:
            failed += 1
    want = sum(i % 100 for i in range(n))
    print(f"page_batches: {ok} ok, {failed} failed, {nbytes} bytes "
          f"(expected {want})")
    sys.exit(0 if ok == n and nbytes == want else 1)
