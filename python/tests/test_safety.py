"""Ctrl-C leaves no process behind; the GIL is released while waiting; a
parent with threads is safe."""
import logging
import os
import signal
import subprocess
import sys
import threading

import mpool
import tasks
from conftest import HERE, descendants, wait_gone

CHILD = r"""
import os, sys
sys.path.insert(0, {here!r})
import mpool
from conftest import descendants
from watch import deaths, watch_pools
base = descendants()          # the forkserver started at import
pools = watch_pools()
got = 0
try:
    urls = ["{ok}"] * 3 + ["{hang}"] * 1000
    for rec in mpool.fetch(urls, workers=2, concurrency=100):
        got += 1
        if got == 3:
            pids = descendants() - base
            print("PIDS", *sorted(pids), flush=True)
except KeyboardInterrupt:
    print("INTERRUPTED", got, *deaths(pools), flush=True)
    sys.exit(0)
print("NOT INTERRUPTED", got, flush=True)
sys.exit(1)
"""


def test_ctrl_c_stops_every_worker(server):
    """SIGINT (what a terminal's Ctrl-C sends) during fetch: the iterator
    raises KeyboardInterrupt at once, the records already yielded are all
    there is, and no process of the pool is left."""
    code = CHILD.format(here=HERE, ok=server.url("/ok"),
                        hang=server.url("/hang"))
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                         text=True)
    line = p.stdout.readline().split()
    assert line and line[0] == "PIDS", line
    pids = set(map(int, line[1:]))
    assert len(pids) >= 3  # the pool's forkserver and its 2 workers
    os.kill(p.pid, signal.SIGINT)
    out = p.stdout.read()
    assert p.wait(timeout=60) == 0, out
    # workers ignore SIGINT: none died (0 died, 0 tasks run again)
    assert out.split() == ["INTERRUPTED", "3", "0", "0"]
    assert wait_gone(pids) == set()


def test_keyboard_interrupt_in_a_pool_run(server):
    before = descendants()
    with mpool.Pool(workers=2, concurrency=20) as pool:
        pids = descendants() - before
        t = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
        t.start()
        try:
            for _ in pool.fetch([server.url("/hang")] * 100):
                pass
        except KeyboardInterrupt:
            pass
        else:
            raise AssertionError("no KeyboardInterrupt")
        t.join()
        # the pool is still good after the interrupted run
        assert [r["status"] for r in pool.map([server.url("/ok")] * 5)] == \
            [200] * 5
    assert len(pids) >= 3 and wait_gone(pids) == set()


def test_gil_is_released_while_waiting(server):
    """Another thread runs its Python code while fetch waits for a slow
    answer: it finishes before the answer comes."""
    returned = threading.Event()
    go = threading.Event()
    finished_first = []

    def other():
        go.wait()
        x = 0
        for i in range(200000):
            x += i
        finished_first.append(not returned.is_set())

    t = threading.Thread(target=other)
    t.start()
    it = mpool.fetch([server.url("/delay/3000")], workers=1)
    go.set()
    rec = next(it)
    returned.set()
    t.join()
    assert rec["ok"] and finished_first == [True]


def test_parent_with_threads_is_safe(server):
    """Threads that hold locks, log, allocate and do I/O while pools are
    made, used and closed: every run completes, Python tasks too (their
    workers are forks of the interpreter at import, before these threads;
    Python's fork hooks reinitialize its locks there)."""
    stop = threading.Event()
    lock = threading.Lock()
    log = logging.getLogger("mpool-test")
    log.addHandler(logging.NullHandler())

    def busy(k):
        while not stop.is_set():
            with lock:
                log.warning("thread %d holds the lock", k)
                _ = [bytearray(1000) for _ in range(50)]
            os.stat("/")

    threads = [threading.Thread(target=busy, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    results = {}

    def fetcher(k):
        recs = list(mpool.fetch([server.url(f"/bytes/{k}")] * 200,
                                workers=1, concurrency=20))
        results[k] = sorted({r["bytes"] for r in recs}), len(recs)

    try:
        fs = [threading.Thread(target=fetcher, args=(k,)) for k in range(3)]
        for f in fs:
            f.start()
        with mpool.Pool(workers=2) as pool:
            assert pool.map(tasks.square, range(100)) == \
                [i * i for i in range(100)]
            assert pool.submit(tasks.add, 2, 3).result(60) == 5
        for f in fs:
            f.join(120)
        assert results == {k: ([k], 200) for k in range(3)}
    finally:
        stop.set()
        for t in threads:
            t.join()


PRE_IMPORT_THREADS = r"""
import io, logging, os, sys, threading
sys.path.insert(0, {here!r})
log = logging.getLogger("mpool-test")
# a handler whose lock the threads hold on and off; its stream is a
# StringIO, which has no lock of its own (a buffered file's lock held by a
# thread at the fork stays held in the child: CPython reinitializes only
# what its fork hooks know, as after os.fork)
log.addHandler(logging.StreamHandler(io.StringIO()))
log.propagate = False
stop = threading.Event()
def spam():
    while not stop.is_set():
        log.warning("from a thread")
threads = [threading.Thread(target=spam) for _ in range(4)]
for t in threads:
    t.start()
import mpool, tasks     # the forkserver starts while they log
from watch import deaths, watch_pools
pools = watch_pools()
try:
    with mpool.Pool(workers=2) as pool:
        got = pool.map(tasks.log_line, range(300))
        recs = list(mpool.fetch(["{ok}"] * 100, workers=1))
finally:
    stop.set()
    for t in threads:
        t.join()
print(got == list(range(300)), sum(r["ok"] for r in recs), *deaths(pools))
"""


def test_threads_running_at_import(server):
    """Threads that log while `import mpool` starts the forkserver: the
    fork runs Python's fork hooks (os.register_at_fork: logging holds its
    lock across it and gives its handlers new locks in the child), so
    Python tasks that log in the workers do not deadlock on a handler's
    lock that a thread held at the fork; the fetch task never runs Python
    at all. (Locks no hook knows, a buffered file's for one, can still be
    held in the child: import mpool before starting threads, as one calls
    mp_init() at the top of main().)"""
    code = PRE_IMPORT_THREADS.format(here=HERE, ok=server.url("/ok"))
    p = subprocess.run([sys.executable, "-c", code], capture_output=True,
                       text=True, timeout=180)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["True", "100", "0", "0"]  # and no death
