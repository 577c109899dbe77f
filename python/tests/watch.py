"""Every pool mpool makes, and how many of their workers died: a worker
that crashes is replaced and its tasks run again, so the records and
values come out right and only the pool's counts show the crash. fetch,
afetch and Pool all make their C pool with _Options.make_pool. Used by
conftest's check after each test and by the programs the tests run in a
fresh interpreter (no pytest here: test_fetch measures such a program's
memory)."""


def watch_pools(patch=None):
    """Records every pool mpool makes from now on; returns the list they go
    in. patch(obj, name, value) replaces make_pool (monkeypatch.setattr,
    undone after the test); by default it is replaced for good, as a
    program of its own wants."""
    import mpool
    pools = []
    make = mpool._Options.make_pool

    def recording(self, *args, **kw):
        c = make(self, *args, **kw)
        pools.append(c)
        return c

    (patch or setattr)(mpool._Options, "make_pool", recording)
    return pools


def deaths(pools):
    """(workers_died, tasks_retried) over pools (a closed one's: its counts
    at the close)."""
    st = [c.stats() for c in pools]
    return (sum(s["workers_died"] for s in st),
            sum(s["tasks_retried"] for s in st))
