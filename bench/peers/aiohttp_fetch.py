#!/usr/bin/python3
"""Peer for bench/run: one asyncio loop, one aiohttp ClientSession with
TCPConnector(limit=LIMIT), gather over every URL behind a semaphore. Reads
each body in full. Prints "ok N total M statuses {...}" on stdout.

Usage: aiohttp_fetch.py URLFILE [LIMIT]      (LIMIT: default 100)
"""
import asyncio
import collections
import sys

import aiohttp


async def fetch_all(urls, limit):
    """Fetches urls with at most limit at once. Returns a Counter of
    statuses (0 for a request that failed without one)."""
    statuses = collections.Counter()
    sem = asyncio.Semaphore(limit)
    timeout = aiohttp.ClientTimeout(total=60)
    conn = aiohttp.TCPConnector(limit=limit)
    async with aiohttp.ClientSession(connector=conn, timeout=timeout) as s:

        async def one(url):
            async with sem:
                try:
                    async with s.get(url) as r:
                        await r.read()
                        statuses[r.status] += 1
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    statuses[0] += 1

        await asyncio.gather(*(one(u) for u in urls))
    return statuses


def read_urls(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def report(statuses, total):
    print(f"ok {statuses.get(200, 0)} total {total} "
          f"statuses {dict(sorted(statuses.items()))}")


if __name__ == "__main__":
    urls = read_urls(sys.argv[1])
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    report(asyncio.run(fetch_all(urls, limit)), len(urls))
