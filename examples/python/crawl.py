#!/usr/bin/python3
"""A streaming crawl: a frontier that grows from what the records say,
fed to mpool.fetch as a generator, results written as JSON lines as they
come (the gevent-pool-over-requests crawler, or an asyncio queue of
workers, without either).

The original (gevent + requests):

    pool = gevent.pool.Pool(100)
    def visit(url):
        r = requests.get(url, allow_redirects=False)
        out.write(json.dumps({"url": url, "status": r.status_code}) + "\n")
        if "location" in r.headers:
            pool.spawn(visit, urljoin(url, r.headers["location"]))
    for u in seeds:
        pool.spawn(visit, u)
    pool.join()

With mpool (level by level: each level's URLs stream through one fetch;
the next level is what its records point to):

    frontier = seeds
    while frontier:
        nxt = []
        for rec in mpool.fetch(iter(frontier), include=True):
            out.write(json.dumps(rec) + "\\n")
            if "location" in rec["headers"]:
                nxt.append(urljoin(rec["url"], rec["headers"]["location"]))
        frontier = nxt

Usage: crawl.py BASE_URL [SEEDS] [DEPTH]   (seeds BASE_URL/redirect/DEPTH?s=I:
each leads to /redirect/DEPTH-1, where the chains meet, and on down to
/redirect/0; exits 1 unless each of the SEEDS + DEPTH pages was visited
once)
"""
import io
import json
import sys
from urllib.parse import urljoin

import mpool


def crawl(seeds, out):
    seen = set(seeds)
    frontier = list(seeds)
    visited = 0
    pool = mpool.Pool(concurrency=20, include=True)
    with pool:
        while frontier:
            nxt = []
            for rec in pool.fetch(iter(frontier)):
                visited += 1
                out.write(json.dumps(rec) + "\n")
                loc = (rec.get("headers") or {}).get("location")
                if loc:
                    u = urljoin(rec["url"], loc)
                    if u not in seen:
                        seen.add(u)
                        nxt.append(u)
            frontier = nxt
    return visited, seen


if __name__ == "__main__":
    base = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    depth = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    seeds = [f"{base}/redirect/{depth}?s={i}" for i in range(n)]
    out = io.StringIO()
    visited, seen = crawl(seeds, out)
    lines = out.getvalue().splitlines()
    ok = visited == len(lines) == len(seen) == n + depth
    print(f"crawl: {visited} pages from {n} seeds, depth {depth}: "
          f"{'each once' if ok else 'NOT each once'}")
    sys.exit(0 if ok else 1)
