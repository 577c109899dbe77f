#!/usr/bin/python3
"""aiomultiprocess's Pool (processes x childconcurrency) with mpool.Pool:
one pool kept across calls, its results awaited on asyncio.

The original (aiomultiprocess):

    async def get(url):
        async with aiohttp.request("GET", url) as r:
            return await r.text()

    async with Pool(processes=2, childconcurrency=8) as pool:
        texts = await pool.map(get, urls)
        text = await pool.apply(get, (url,))

With mpool (the fetch task for the HTTP part; a Python function for the
CPU part, run in the same forked workers):

    with mpool.Pool(workers=2, concurrency=8, body="inline") as pool:
        recs = await asyncio.gather(*(asyncio.wrap_future(pool.submit(u))
                                      for u in urls))
        words = pool.map(count_words, [r["body"] for r in recs])

Usage: aiomp.py BASE_URL [N]   (BASE_URL/bytes/K, K = 1 + i % 50; exits 1
unless every body has its size)
"""
import asyncio
import sys

import mpool


def body_size(text):
    """A Python task: runs in a worker process of the pool."""
    return len(text)


async def main(pool, urls):
    futs = [asyncio.wrap_future(pool.submit(u)) for u in urls]
    return await asyncio.gather(*futs)


if __name__ == "__main__":  # the workers import this file as __mp_main__
    base, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 500
    urls = [f"{base}/bytes/{1 + i % 50}" for i in range(n)]
    with mpool.Pool(workers=2, concurrency=8, body="inline") as pool:
        recs = asyncio.run(main(pool, urls))
        sizes = pool.map(body_size, [r["body"] for r in recs])
        one = pool.submit(urls[0]).result()  # aiomultiprocess's apply
    ok = sizes == [1 + i % 50 for i in range(n)] and one["bytes"] == 1
    print(f"aiomp: {len(sizes)} bodies, {'all' if ok else 'NOT all'} of "
          f"the right size")
    sys.exit(0 if ok else 1)
