"""mpool.afetch on an asyncio loop: records arrive on the loop, which keeps
running meanwhile; CancelledError stops every worker."""
import asyncio

import pytest

import mpool
from conftest import descendants, wait_gone


def test_afetch_gives_the_records_of_fetch(server):
    urls = [server.url(f"/bytes/{i}") for i in range(300)]

    async def main():
        return [r async for r in mpool.afetch(urls, workers=2,
                                              concurrency=16, ordered=True)]

    got = asyncio.run(main())
    want = list(mpool.fetch(urls, workers=2, concurrency=16, ordered=True))
    strip = [{k: v for k, v in r.items() if k != "time"} for r in got]
    assert strip == [{k: v for k, v in r.items() if k != "time"}
                     for r in want]


def test_loop_keeps_running_while_records_come(server):
    """A ticker task on the same loop runs between the records of slow
    requests: the pool never blocks the loop."""
    urls = [server.url("/delay/200") for _ in range(8)]

    async def main():
        ticks = 0
        stop = asyncio.Event()

        async def ticker():
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        t = asyncio.create_task(ticker())
        recs = [r async for r in mpool.afetch(urls, workers=1,
                                              concurrency=2)]
        stop.set()
        await t
        return recs, ticks

    recs, ticks = asyncio.run(main())
    assert len(recs) == 8 and all(r["ok"] for r in recs)
    assert ticks > 4  # 4 rounds of 200 ms of waiting, ticking throughout


def test_cancelled_error_stops_every_worker(server):
    before = descendants()
    urls = [server.url("/ok")] * 4 + [server.url("/hang")] * 400

    async def main():
        got = []
        pids = set()
        first = asyncio.Event()

        async def consume():
            async for r in mpool.afetch(urls, workers=2, concurrency=50):
                got.append(r)
                if not pids:
                    pids.update(descendants() - before)
                first.set()

        t = asyncio.create_task(consume())
        await asyncio.wait_for(first.wait(), 60)
        t.cancel()
        try:
            await t
        except asyncio.CancelledError:
            pass
        else:
            raise AssertionError("the task was not canceled")
        return got, pids

    got, pids = asyncio.run(main())
    assert len(got) <= 4 and all(r["ok"] for r in got)
    assert len(pids) >= 3  # the pool's forkserver and 2 workers
    assert wait_gone(pids) == set()


def test_gather_of_afetch_batches(server):
    async def batch(k):
        return [r["status"] async for r in mpool.afetch(
            [server.url(f"/status/{200 + k}")] * 50, workers=1,
            concurrency=10)]

    async def main():
        return await asyncio.gather(*(batch(k) for k in range(3)))

    out = asyncio.run(main())
    assert out == [[200 + k] * 50 for k in range(3)]


def test_afetch_takes_an_async_iterable(server):
    """An async generator as the input: pulled on the loop, a window ahead
    of the records; its pauses (nothing to hand yet) stall nothing."""
    pulled = []

    async def urls():
        for i in range(300):
            if i % 40 == 0:
                await asyncio.sleep(0.01)  # the input waits for its own I/O
            pulled.append(i)
            yield server.url(f"/bytes/{i}")

    async def main():
        return [r async for r in mpool.afetch(urls(), workers=2,
                                              concurrency=8, ordered=True)]

    recs = asyncio.run(main())
    assert [r["bytes"] for r in recs] == list(range(300))
    assert [r["line"] for r in recs] == list(range(1, 301))
    assert len(pulled) == 300


def test_async_input_is_pulled_lazily(server):
    pulled = []

    async def urls():
        for i in range(100000):
            pulled.append(i)
            yield server.url("/ok")

    async def main():
        n = 0
        async for r in mpool.afetch(urls(), workers=1, concurrency=4):
            assert r["status"] == 200
            n += 1
            if n == 10:
                break
        return n

    assert asyncio.run(main()) == 10
    assert len(pulled) < 1000  # the window and as much again, buffered


def test_async_input_error_propagates(server):
    async def urls():
        yield server.url("/ok")
        raise RuntimeError("the input broke")

    async def main():
        return [r async for r in mpool.afetch(urls(), workers=1)]

    with pytest.raises(RuntimeError, match="the input broke"):
        asyncio.run(main())
