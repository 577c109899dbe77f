#!/usr/bin/python3
"""bench/run's row for the Python module: the same job as mpfetch's row
through mpool.fetch (PYTHONPATH=BUILD/python), the URL file read lazily,
every record turned into a dict and looked at. Prints "ok N total M" on
stdout, as the other peers do, then "script_s S": the seconds from this
script's first line (before `import mpool`) to its last record, i.e. the
run less the interpreter's own start and exit.

Usage: mpool_fetch.py URLFILE WORKERS CONCURRENCY
"""
import time

T0 = time.perf_counter()

import sys  # noqa: E402

import mpool  # noqa: E402


def main(path, workers, concurrency):
    ok = total = 0
    with open(path) as f:
        urls = (line.rstrip("\n") for line in f)
        for rec in mpool.fetch(urls, workers=workers,
                               concurrency=concurrency):
            total += 1
            ok += rec["ok"]
    print(f"ok {ok} total {total}")
    print(f"script_s {time.perf_counter() - T0:.4f}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
