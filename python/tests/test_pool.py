"""mpool.Pool: reused across calls; the fetch task's map / imap / submit,
and Python functions run in the forked workers."""
import asyncio
import concurrent.futures
import threading

import pytest

import mpool
import tasks
from conftest import wait_gone


def no_time(recs):
    return [{k: v for k, v in r.items() if k != "time"} for r in recs]


def test_map_submit_and_fetch_share_one_pool(server):
    urls = [server.url(f"/bytes/{i}") for i in range(100)]
    with mpool.Pool(workers=2, concurrency=10) as pool:
        pids = pool.pids()
        assert pool.workers == 2 and len(pids) >= 3
        a = pool.map(urls)
        b = list(pool.imap(urls))
        c = sorted(pool.fetch(urls), key=lambda r: r["line"])
        futs = [pool.submit(u) for u in urls]
        d = [f.result(timeout=60) for f in futs]
        assert no_time(a) == no_time(b) == no_time(c)
        assert [r["bytes"] for r in d] == list(range(100))
        assert [r["line"] for r in d] == list(range(1, 101))
        assert pool.stats()["workers_started"] == 2  # the same workers
    assert wait_gone(pids) == set()
    # closed: the counts it had at the close
    assert pool.stats()["tasks_done"] == 400
    assert pool.stats()["workers_started"] == 2


def test_futures_callbacks_and_wrap_future(server):
    with mpool.Pool(workers=1, concurrency=4) as pool:
        done = threading.Event()
        seen = []

        def cb(f):
            seen.append(f.result()["status"])
            done.set()

        pool.submit(server.url("/status/201")).add_done_callback(cb)
        assert done.wait(60) and seen == [201]

        async def main():
            fs = [asyncio.wrap_future(pool.submit(server.url("/ok")))
                  for _ in range(20)]
            return await asyncio.gather(*fs)

        assert [r["status"] for r in asyncio.run(main())] == [200] * 20
        f = pool.submit({"url": server.url("/echo"), "id": 3})
        assert f.result(60)["id"] == 3
        done, _ = concurrent.futures.wait(
            [pool.submit(tasks.square, i) for i in range(10)], timeout=60)
        assert sorted(f.result() for f in done) == [i * i for i in range(10)]


def test_python_functions_run_in_workers():
    import os
    with mpool.Pool(workers=2) as pool:
        assert pool.map(tasks.square, range(50)) == [i * i for i in
                                                      range(50)]
        assert sorted(pool.imap_unordered(tasks.square, range(20))) == \
            [i * i for i in range(20)]
        pids = set(pool.map(tasks.pid, range(20)))
        assert os.getpid() not in pids and pids <= pool.pids()
        assert pool.submit(tasks.add, 1, 2, c=3).result(60) == 6
        # a lambda of a test module: pickled by reference, refused
        with pytest.raises(Exception):
            pool.submit(lambda: 1).result(60)


@pytest.mark.workers_die  # tasks.crash
def test_python_exceptions_come_back():
    with mpool.Pool(workers=1) as pool:
        with pytest.raises(ValueError, match="boom"):
            pool.submit(tasks.fail, "boom").result(60)
        it = pool.imap(tasks.fail, ["a"])
        with pytest.raises(ValueError, match="a"):
            next(it)
        # a task that kills its worker: MP_EWORKER after max_attempts
        with pytest.raises(mpool.WorkerError, match="MP_EWORKER"):
            pool.submit(tasks.crash).result(120)
        assert pool.map(tasks.square, [3]) == [9]  # the pool goes on
    # with a deadline too, the message says how the worker died, not
    # that the deadline passed (the pool tells a crash from a spin)
    with mpool.Pool(workers=1, task_timeout=30) as pool:
        with pytest.raises(mpool.WorkerError) as e:
            pool.submit(tasks.crash).result(120)
    assert str(e.value) == ("MP_EWORKER: worker died 3 times running this "
                            "task (last one exited with status 3)")


def test_closed_pool_refuses(server):
    pool = mpool.Pool(workers=1)
    pool.close()
    with pytest.raises(ValueError, match="closed"):
        pool.map([server.url("/ok")])


def test_bad_pool_options():
    with pytest.raises(ValueError, match="concurrency"):
        mpool.Pool(concurrency=-3)
    with pytest.raises(TypeError, match="task_timeout"):
        mpool.Pool(task_timeout="1s")
    with pytest.raises(TypeError, match="bogus"):
        mpool.Pool(bogus=True)
    with pytest.raises(TypeError, match="callable"):
        mpool.Pool(workers=1).imap(3, [1])


def test_future_cancel_cancels_its_task(server):
    """cancel() on a submit()'s future cancels the task itself: with one
    worker running one request at a time, two canceled requests of ten
    minutes free the worker for the next one."""
    with mpool.Pool(workers=1, concurrency=1) as pool:
        slow = [pool.submit(server.url("/delay/600000")) for _ in range(2)]
        assert all(f.cancel() for f in slow)
        assert all(f.cancelled() for f in slow)
        with pytest.raises(concurrent.futures.CancelledError):
            slow[0].result(timeout=0)
        f = pool.submit(server.url("/ok"))
        assert f.result(timeout=60)["status"] == 200
        assert not f.cancel()  # done: nothing to cancel
        g = pool.submit(tasks.square, 7)
        assert g.result(timeout=60) == 49 and not g.cancel()
