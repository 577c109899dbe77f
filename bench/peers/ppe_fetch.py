#!/usr/bin/python3
"""Peer for bench/run: the pattern mpfetch replaces. A ProcessPoolExecutor
of PROCS processes; each runs its own asyncio loop and aiohttp session
(aiohttp_fetch.fetch_all) over one contiguous chunk of the URLs, with
LIMIT/PROCS connections. Prints "ok N total M statuses {...}".

Usage: ppe_fetch.py URLFILE [LIMIT] [PROCS]  (defaults: 100, 2)
"""
import asyncio
import collections
import os
import sys
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from aiohttp_fetch import fetch_all, read_urls, report  # noqa: E402


def chunk_worker(urls, limit):
    """Runs in a pool process: a fresh event loop for this chunk."""
    return asyncio.run(fetch_all(urls, limit))


if __name__ == "__main__":
    urls = read_urls(sys.argv[1])
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    procs = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    step = (len(urls) + procs - 1) // procs
    chunks = [urls[i:i + step] for i in range(0, len(urls), step)]
    total = collections.Counter()
    with ProcessPoolExecutor(procs) as ex:
        for c in ex.map(chunk_worker, chunks, [limit // procs] * len(chunks)):
            total.update(c)
    report(total, len(urls))
