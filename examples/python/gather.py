#!/usr/bin/python3
"""asyncio.gather over aiohttp, with mpool.afetch: the records arrive on
the program's own event loop, which stays free for its other tasks.

The original (asyncio + aiohttp, one process, one core):

    async def get(session, sem, url):
        async with sem:
            async with session.get(url) as r:
                return r.status, len(await r.read())

    async def main(urls):
        conn = aiohttp.TCPConnector(limit=100)
        async with aiohttp.ClientSession(connector=conn) as session:
            sem = asyncio.Semaphore(100)
            return await asyncio.gather(*(get(session, sem, u) for u in urls))

With mpool (every core, the loop never blocked):

    async def main(urls):
        return [(r["status"], r["bytes"])
                async for r in mpool.afetch(urls, concurrency=50,
                                            ordered=True)]

Usage: gather.py BASE_URL [N]   (fetches BASE_URL/bytes/K, K = i % 100;
exits 1 unless every answer is 200 with K bytes)
"""
import asyncio
import sys

import mpool


async def main(urls):
    return [(r["status"], r["bytes"])
            async for r in mpool.afetch(urls, concurrency=50, ordered=True)]


if __name__ == "__main__":
    base, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    urls = [f"{base}/bytes/{i % 100}" for i in range(n)]
    got = asyncio.run(main(urls))
    ok = got == [(200, i % 100) for i in range(n)]
    print(f"gather: {len(got)} records, {'all' if ok else 'NOT all'} as "
          f"expected")
    sys.exit(0 if ok else 1)
